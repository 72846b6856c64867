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
/// Whether `op` is a linalg.generic whose loops are all parallel.
bool isParallelGeneric(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  return generic && generic.getNumReductionLoops() == 0;
}

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

/// An elementwise producer whose other uses are its block's terminator (a
/// value the function returns) fuses into its elementwise consumer as one
/// loop that also yields the producer's values (upstream fusion would keep
/// the producer and compute its values twice): Adam's new moments, returned
/// and read by the update, take one pass over a parameter's state instead
/// of three.
struct FuseMultiUseProducer : public OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::GenericOp consumer,
                                PatternRewriter &rewriter) const override {
    if (!isParallelGeneric(consumer))
      return failure();
    for (OpOperand *operand : consumer.getDpsInputOperands()) {
      Operation *producer = operand->get().getDefiningOp();
      if (!isParallelGeneric(producer) || producer->hasOneUse() ||
          !linalg::areElementwiseOpsFusable(operand))
        continue;
      // Only uses by the block's terminator (values the function returns
      // anyway): fusing a value that other loops read too would merge
      // loops that autopar-fuse-rows groups by rows (measured on
      // gpt2-small's step: 897 kernels instead of 678).
      bool othersReturned =
          llvm::all_of(producer->getUsers(), [&](Operation *u) {
            return u == consumer.getOperation() ||
                   (u->hasTrait<OpTrait::IsTerminator>() &&
                    u->getBlock() == consumer->getBlock());
          });
      if (!othersReturned)
        continue;
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, operand);
      if (failed(fused))
        continue;
      // The fused loop sits where the consumer was: it comes before every
      // use of the producer's and the consumer's values.
      for (auto [original, replacement] : fused->replacements)
        rewriter.replaceAllUsesWith(original, replacement);
      rewriter.eraseOp(consumer);
      if (producer->use_empty())
        rewriter.eraseOp(producer);
      return success();
    }
    return failure();
  }
};

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
        isParallelGeneric(input.getDefiningOp()) && input.hasOneUse();
    bool intoElementwise =
        result.hasOneUse() && isParallelGeneric(*result.getUsers().begin());
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
    patterns.add<FuseMultiUseProducer>(ctx);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    if (failed(applyPatternsGreedily(
            getOperation(), std::move(patterns),
            GreedyRewriteConfig().setUseTopDownTraversal(true))))
      signalPassFailure();
  }
};
} // namespace
