//===- FuseElementwise.cpp - fuse elementwise chains, keep contractions ---===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_FUSEELEMENTWISEPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
/// Fuses a producer into its consumer when the producer has no other use (no
/// work is duplicated) and the consumer is not a contraction: a contraction
/// with a fused producer is no longer a plain multiply-add, and the GEMM
/// call it would have become is worth far more than the saved loop.
bool shouldFuse(OpOperand *fusedOperand) {
  Operation *producer = fusedOperand->get().getDefiningOp();
  if (!producer || !producer->hasOneUse())
    return false;
  auto consumer = dyn_cast<linalg::LinalgOp>(fusedOperand->getOwner());
  return consumer && !linalg::isaContractionOpInterface(consumer);
}

/// Whether `op` is a linalg.generic whose loops are all parallel.
bool isElementwise(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  return generic && generic.getNumReductionLoops() == 0;
}

/// A transpose next to an elementwise op it can fuse with (its operand's
/// only use, or its result's only user) becomes the equivalent generic, so
/// that elementwise fusion (which takes generics) merges the two: one pass
/// that reads in one layout and writes in the other, instead of a pass and
/// a copy (the heads' transposes and conversions around attention).
void generalizeTransposesNextToElementwise(Operation *root) {
  SmallVector<linalg::TransposeOp> transposes;
  root->walk([&](linalg::TransposeOp op) {
    Value input = op.getInput();
    Value result = op->getResult(0);
    bool fromElementwise =
        isElementwise(input.getDefiningOp()) && input.hasOneUse();
    bool intoElementwise =
        result.hasOneUse() && isElementwise(*result.getUsers().begin());
    if (fromElementwise || intoElementwise)
      transposes.push_back(op);
  });
  IRRewriter rewriter(root->getContext());
  for (linalg::TransposeOp op : transposes) {
    rewriter.setInsertionPoint(op);
    (void)linalg::generalizeNamedOp(rewriter, op);
  }
}

struct FuseElementwisePass
    : public mlir::autopar::impl::FuseElementwisePassBase<FuseElementwisePass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    generalizeTransposesNextToElementwise(getOperation());
    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(patterns, shouldFuse);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsGreedily(
            getOperation(), std::move(patterns),
            GreedyRewriteConfig().setUseTopDownTraversal(true))))
      signalPassFailure();
  }
};
} // namespace
