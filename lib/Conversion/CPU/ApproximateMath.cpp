//===- ApproximateMath.cpp - vectorizable f32 math ------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/DenseSet.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_APPROXIMATEMATHPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
struct ApproximateMathPass
    : public mlir::autopar::impl::ApproximateMathPassBase<ApproximateMathPass> {
  using Base::Base;

  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (erfOnly)
      populatePolynomialApproximateErfPattern(patterns);
    else
      populateMathPolynomialApproximationPatterns(patterns);
    // The divisions that were there before keep their rounding.
    llvm::DenseSet<Operation *> before;
    if (erfOnly)
      getOperation()->walk([&](arith::DivFOp op) { before.insert(op); });
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    if (!erfOnly)
      return;
    // erf's rational approximation divides by polynomials bounded away
    // from 0 and from overflow: an approximate division (`afn`: PTX
    // div.approx.f32, 2 ulp) instead of IEEE division's instruction
    // sequence, which made GELU's kernels arithmetic-bound.
    getOperation()->walk([&](arith::DivFOp op) {
      if (!before.contains(op))
        op.setFastmath(op.getFastmath() | arith::FastMathFlags::afn);
    });
  }
};
} // namespace
