//===- ConstArrayTest.cpp - import-time evaluation ------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "ConstArray.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/MLIRContext.h"
#include "gtest/gtest.h"

#include <limits>

using namespace mlir;
using namespace mlir::autopar::onnx_import;

namespace {

class ConstArrayTest : public ::testing::Test {
protected:
  ConstArray ints(ArrayRef<int64_t> shape, ArrayRef<int64_t> values) {
    ConstArray a;
    a.elementType = b.getI64Type();
    a.shape.assign(shape.begin(), shape.end());
    for (int64_t v : values)
      a.values.push_back(v);
    return a;
  }
  MLIRContext ctx;
  Builder b{&ctx};
};

TEST_F(ConstArrayTest, BroadcastsLikeNumpy) {
  EXPECT_EQ(*broadcastShapes({3, 1}, {1, 4}), (SmallVector<int64_t>{3, 4}));
  EXPECT_EQ(*broadcastShapes({}, {2, 2}), (SmallVector<int64_t>{2, 2}));
  EXPECT_FALSE(broadcastShapes({3}, {4}).has_value());
  ConstArray a = ints({2, 1}, {10, 20}), c = ints({3}, {1, 2, 3});
  ConstArray sum =
      mapElements({&a, &c}, b.getI64Type(),
                  [](ArrayRef<long double> v) { return v[0] + v[1]; });
  EXPECT_EQ(sum.shape, (SmallVector<int64_t>{2, 3}));
  EXPECT_EQ(sum.ints(), (std::vector<int64_t>{11, 12, 13, 21, 22, 23}));
}

TEST_F(ConstArrayTest, KeepsInt64Exact) {
  int64_t big = std::numeric_limits<int64_t>::max();
  ConstArray a = ints({2}, {big, big - 1});
  EXPECT_EQ(a.ints(), (std::vector<int64_t>{big, big - 1}));
  DenseElementsAttr attr = a.toAttr();
  EXPECT_EQ(ConstArray::fromAttr(attr).ints(), a.ints());
}

TEST_F(ConstArrayTest, RoundsToTheElementType) {
  EXPECT_EQ(roundTo(b.getI32Type(), -2.7L), -2);
  EXPECT_EQ(roundTo(b.getI1Type(), 0.5L), 1);
  EXPECT_EQ(roundTo(b.getF32Type(), 0.1L), (long double)0.1f);
  EXPECT_EQ(roundTo(b.getI32Type(), 1e20L),
            (long double)std::numeric_limits<int32_t>::max());
}

TEST_F(ConstArrayTest, ShapeOperations) {
  ConstArray a = ints({2, 3}, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(transpose(a, {1, 0}).ints(),
            (std::vector<int64_t>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(gather(a, ints({2}, {-1, 0}), 1).ints(),
            (std::vector<int64_t>{2, 0, 5, 3}));
  EXPECT_EQ(slice(a, {1, 2}, {1, 2}, {1, -2}).ints(),
            (std::vector<int64_t>{5, 3}));
  ConstArray c = ints({2, 1}, {9, 8});
  EXPECT_EQ(concat({&a, &c}, 1).ints(),
            (std::vector<int64_t>{0, 1, 2, 9, 3, 4, 5, 8}));
}

} // namespace
