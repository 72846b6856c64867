//===- TileLoopsForGPU.cpp - thread blocks for parallel loop nests --------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_TILELOOPSFORGPUPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
/// Whether `op` (or an op inside it) reads or writes a buffer outside every
/// parallel loop.
bool touchesBuffersSerially(Operation *op) {
  bool touches = false;
  op->walk([&](Operation *inner) {
    if (isa<memref::LoadOp, memref::StoreOp>(inner) &&
        !inner->getParentOfType<scf::ParallelOp>())
      touches = true;
  });
  return touches;
}

/// The constant trip count of dimension `dim` of `loop`, if known.
std::optional<int64_t> tripCount(scf::ParallelOp loop, unsigned dim) {
  std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()[dim]);
  std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound()[dim]);
  std::optional<int64_t> step = getConstantIntValue(loop.getStep()[dim]);
  if (!lb || !ub || !step || *step <= 0)
    return std::nullopt;
  return std::max<int64_t>(0, (*ub - *lb + *step - 1) / *step);
}

struct TileLoopsForGPUPass
    : public mlir::autopar::impl::TileLoopsForGPUPassBase<TileLoopsForGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (threads < 1 || threads > 1024) {
      fn.emitError("autopar-tile-loops-for-gpu: threads must be in 1..1024, "
                   "not ")
          << int64_t(threads);
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());

    // Serial host code on buffers runs as a one-point parallel loop.
    for (Block &block : fn.getBody()) {
      for (Operation &op : llvm::make_early_inc_range(block)) {
        if (isa<scf::ParallelOp>(op) || op.hasTrait<OpTrait::IsTerminator>() ||
            !touchesBuffersSerially(&op))
          continue;
        if (!op.use_empty()) {
          op.emitOpError("computes a value on the host from a buffer in "
                         "device memory; only loop nests that write their "
                         "results to buffers can run on the GPU");
          return signalPassFailure();
        }
        rewriter.setInsertionPoint(&op);
        Location loc = op.getLoc();
        Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
        Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
        auto wrapper = scf::ParallelOp::create(
            rewriter, loc, ValueRange{zero}, ValueRange{one}, ValueRange{one});
        op.moveBefore(wrapper.getBody()->getTerminator());
      }
    }

    SmallVector<scf::ParallelOp> outermost;
    fn.walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost) {
      unsigned rank = loop.getNumLoops();
      std::optional<int64_t> inner = tripCount(loop, rank - 1);
      // At most two dimensions: the outer ones collapsed into one (blocks
      // along x), the innermost split into blocks (y) of threads.
      if (rank > 2) {
        std::vector<unsigned> outer;
        for (unsigned d = 0; d + 1 < rank; ++d)
          outer.push_back(d);
        Operation *next = loop->getNextNode();
        rewriter.setInsertionPoint(loop);
        collapseParallelLoops(rewriter, loop, {outer, {rank - 1}});
        loop = cast<scf::ParallelOp>(next->getPrevNode());
        rank = 2;
      }
      int64_t block = threads;
      if (inner && *inner < block)
        block = *inner <= 1
                    ? 1
                    : std::min<int64_t>(threads, (*inner + 31) / 32 * 32);
      if (block == 1)
        continue; // one thread per block: nothing to tile
      SmallVector<int64_t> sizes(rank, 1);
      sizes.back() = block;
      scf::tileParallelLoop(loop, sizes, /*noMinMaxBounds=*/true);
    }
  }
};
} // namespace
