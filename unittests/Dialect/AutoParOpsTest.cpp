//===- AutoParOpsTest.cpp - building autopar ops from C++ -----------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Builders infer result types, so passes can create ops without computing
// shapes by hand; inference rejects bad attributes without a location (no
// diagnostic) so that a pass can probe whether an op would be valid.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"
#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::autopar;

namespace {

class AutoParOpsTest : public ::testing::Test {
protected:
  AutoParOpsTest() : builder(&context), loc(builder.getUnknownLoc()) {
    context.loadDialect<AutoParDialect, func::FuncDialect>();
    module = ModuleOp::create(loc);
    builder.setInsertionPointToEnd(module->getBody());
  }

  /// A function with arguments of `types` whose body the test fills.
  Block *function(TypeRange types) {
    auto fn = func::FuncOp::create(builder, loc, "f",
                                   builder.getFunctionType(types, {}));
    Block *body = fn.addEntryBlock();
    builder.setInsertionPointToEnd(body);
    return body;
  }

  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, builder.getF32Type());
  }

  MLIRContext context;
  OpBuilder builder;
  Location loc;
  OwningOpRef<ModuleOp> module;
};

TEST_F(AutoParOpsTest, DotInfersBatchThenFreeDims) {
  Block *body = function({f32({5, 2, 3}), f32({3, 2, 7})});
  auto dot =
      DotOp::create(builder, loc, body->getArgument(0), body->getArgument(1),
                    ArrayRef<int64_t>{1}, ArrayRef<int64_t>{1},
                    ArrayRef<int64_t>{2}, ArrayRef<int64_t>{0});
  EXPECT_EQ(dot.getType(), f32({2, 5, 7}));
  func::ReturnOp::create(builder, loc);
  EXPECT_TRUE(succeeded(verify(*module)));
}

TEST_F(AutoParOpsTest, ReduceAndTransposeInferShapes) {
  Block *body = function({f32({2, 3, 4})});
  Value x = body->getArgument(0);
  auto sum = ReduceOp::create(builder, loc, ReduceKind::Sum, x,
                              ArrayRef<int64_t>{2, 0});
  EXPECT_EQ(sum.getType(), f32({3}));
  auto t = TransposeOp::create(builder, loc, x, ArrayRef<int64_t>{2, 0, 1});
  EXPECT_EQ(t.getType(), f32({4, 2, 3}));
  auto s =
      SliceOp::create(builder, loc, x, ArrayRef<int64_t>{0, 1, 0},
                      ArrayRef<int64_t>{2, 3, 4}, ArrayRef<int64_t>{1, 1, 3});
  EXPECT_EQ(s.getType(), f32({2, 2, 2}));
}

TEST_F(AutoParOpsTest, InferenceWithoutLocationFailsQuietly) {
  Block *body = function({f32({2, 3}), f32({4, 5})});
  SmallVector<Type> inferred;
  bool diagnosed = false;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &) {
    diagnosed = true;
    return success();
  });
  // Contracting 3 with 4: invalid.
  OperationState state(loc, DotOp::getOperationName());
  DotOp::build(builder, state, body->getArgument(0).getType(),
               body->getArgument(0), body->getArgument(1), {}, {}, {1}, {0});
  DotOp::Adaptor adaptor(ValueRange{body->getArgument(0), body->getArgument(1)},
                         state.attributes.getDictionary(&context),
                         state.getRawProperties());
  EXPECT_TRUE(failed(
      DotOp::inferReturnTypes(&context, std::nullopt, adaptor, inferred)));
  EXPECT_FALSE(diagnosed);
  EXPECT_TRUE(
      failed(DotOp::inferReturnTypes(&context, loc, adaptor, inferred)));
  EXPECT_TRUE(diagnosed);
}

TEST_F(AutoParOpsTest, FoldersSimplify) {
  Block *body = function({f32({2, 3})});
  Value x = body->getArgument(0);
  auto t1 = TransposeOp::create(builder, loc, x, ArrayRef<int64_t>{1, 0});
  auto t2 = TransposeOp::create(builder, loc, t1, ArrayRef<int64_t>{1, 0});
  SmallVector<OpFoldResult> results;
  ASSERT_TRUE(succeeded(t2->fold(results)));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(dyn_cast<Value>(results[0]), x);
}

} // namespace
