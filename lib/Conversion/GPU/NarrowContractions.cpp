//===- NarrowContractions.cpp - contractions read half-precision operands -===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// A bf16 or f16 `autopar.dot` lowers (convert-autopar-to-linalg) to f32
// copies of its operands, an f32 contraction and a rounding of the result:
// exact on any backend, and on the CPU a plain sgemm. On the GPU, cuBLAS
// multiplies half-precision operands on the tensor cores, accumulating in
// f32: this pass makes the contraction read the half-precision tensors
// itself (widening each element in its body), so that
// autopar-contractions-to-calls passes them to cublasGemmEx, and the f32
// copies disappear.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_NARROWCONTRACTIONSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {

/// The bf16 or f16 tensor that `value` widens to f32 elementwise (a
/// linalg.generic with identity maps whose body is one `arith.extf`), or
/// null.
Value widenedFrom(Value value) {
  auto generic = value.getDefiningOp<linalg::GenericOp>();
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 || generic.getNumReductionLoops() != 0 ||
      !llvm::all_of(generic.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return {};
  Block &body = generic.getRegion().front();
  auto extend = dyn_cast<arith::ExtFOp>(&body.front());
  auto yield = dyn_cast<linalg::YieldOp>(body.getTerminator());
  if (!extend || extend.getIn() != body.getArgument(0) || !yield ||
      yield.getNumOperands() != 1 || yield.getOperand(0) != extend.getResult())
    return {};
  Value narrow = generic.getDpsInputOperand(0)->get();
  Type element = getElementTypeOrSelf(narrow.getType());
  if (!(element.isBF16() || element.isF16()) ||
      !getElementTypeOrSelf(value.getType()).isF32())
    return {};
  return narrow;
}

struct NarrowContractionsPass
    : public mlir::autopar::impl::NarrowContractionsPassBase<
          NarrowContractionsPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> contractions;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op.getNumDpsInputs() == 2 && op.getNumDpsInits() == 1 &&
          op.getNumResults() == 1 && op.hasPureTensorSemantics() &&
          linalg::isaContractionOpInterface(op))
        contractions.push_back(op);
    });
    for (linalg::GenericOp op : contractions) {
      Value a = widenedFrom(op.getDpsInputOperand(0)->get());
      Value b = widenedFrom(op.getDpsInputOperand(1)->get());
      if (!a || !b ||
          getElementTypeOrSelf(a.getType()) !=
              getElementTypeOrSelf(b.getType()))
        continue;
      Operation *widenA = op.getDpsInputOperand(0)->get().getDefiningOp();
      Operation *widenB = op.getDpsInputOperand(1)->get().getDefiningOp();
      OpBuilder builder(op);
      Block &old = op.getRegion().front();
      auto narrowed = linalg::GenericOp::create(
          builder, op.getLoc(), op.getResultTypes(), ValueRange{a, b},
          op.getDpsInits(), op.getIndexingMapsArray(),
          op.getIteratorTypesArray(),
          [&](OpBuilder &b, Location loc, ValueRange args) {
            IRMapping mapping;
            for (int i = 0; i < 2; ++i)
              mapping.map(old.getArgument(i),
                          arith::ExtFOp::create(
                              b, loc, old.getArgument(i).getType(), args[i])
                              .getResult());
            mapping.map(old.getArgument(2), args[2]);
            for (Operation &inner : old)
              b.clone(inner, mapping);
          });
      op->replaceAllUsesWith(narrowed);
      op->erase();
      for (Operation *widen : {widenA, widenB})
        if (widen && widen->use_empty())
          widen->erase();
    }
  }
};

} // namespace
