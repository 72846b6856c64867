//===- ParallelDimsFirst.cpp - parallel loops outside the reductions ------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_PARALLELDIMSFIRSTPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
struct ParallelDimsFirstPass
    : public mlir::autopar::impl::ParallelDimsFirstPassBase<
          ParallelDimsFirstPass> {
  void runOnOperation() override {
    SmallVector<linalg::GenericOp> ops;
    getOperation().walk([&](linalg::GenericOp op) { ops.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : ops) {
      // The new order: the parallel dimensions, then the others, each in
      // their order (interchangeVector[i] is the old dimension at i).
      SmallVector<unsigned> order, rest;
      for (auto [d, kind] : llvm::enumerate(op.getIteratorTypesArray()))
        (linalg::isParallelIterator(kind) ? order : rest)
            .push_back(unsigned(d));
      order.append(rest.begin(), rest.end());
      if (llvm::is_sorted(order))
        continue;
      rewriter.setInsertionPoint(op);
      if (failed(linalg::interchangeGenericOp(rewriter, op, order))) {
        op.emitOpError("could not put its parallel dimensions first");
        return signalPassFailure();
      }
    }
  }
};
} // namespace
