//===- TileLoopsForGPU.cpp - thread blocks for parallel loop nests --------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "Buffers.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SmallPtrSet.h"

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
        !inner->getParentOfType<scf::ParallelOp>() &&
        !inner->getParentOfType<gpu::LaunchOp>())
      touches = true;
  });
  return touches;
}

/// `v`'s value where it is a constant or a product or sum of constants (the
/// bounds `scf::collapseParallelLoops` builds).
std::optional<int64_t> constantValue(Value v) {
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return c;
  Operation *def = v.getDefiningOp();
  if (!def || !isa<arith::MulIOp, arith::AddIOp>(def))
    return std::nullopt;
  std::optional<int64_t> a = constantValue(def->getOperand(0));
  std::optional<int64_t> b = constantValue(def->getOperand(1));
  if (!a || !b)
    return std::nullopt;
  return isa<arith::MulIOp>(def) ? *a * *b : *a + *b;
}

/// The constant trip count of dimension `dim` of `loop`, if known.
std::optional<int64_t> tripCount(scf::ParallelOp loop, unsigned dim) {
  std::optional<int64_t> lb = constantValue(loop.getLowerBound()[dim]);
  std::optional<int64_t> ub = constantValue(loop.getUpperBound()[dim]);
  std::optional<int64_t> step = constantValue(loop.getStep()[dim]);
  if (!lb || !ub || !step || *step <= 0)
    return std::nullopt;
  return std::max<int64_t>(0, (*ub - *lb + *step - 1) / *step);
}

/// Whether `op` can move into a one-thread kernel with its neighbours.
bool movable(Operation *op) {
  if (op->hasTrait<OpTrait::IsTerminator>() ||
      isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp,
          CallOpInterface>(op))
    return false;
  bool parallel = false;
  op->walk([&](scf::ParallelOp) { parallel = true; });
  return !parallel;
}

/// `first` and the ops after it up to the last one using a value the group
/// defines, so that no value computed from device memory is left on the
/// host. Fails, with an error on the op, when an op in between cannot move.
LogicalResult growGroup(Block &block, Operation *first,
                        SmallVectorImpl<Operation *> &group) {
  llvm::SmallPtrSet<Operation *, 8> members;
  group.push_back(first);
  members.insert(first);
  while (true) {
    Operation *furthest = nullptr;
    for (Operation *member : group)
      for (Value result : member->getResults())
        for (Operation *user : result.getUsers()) {
          Operation *ancestor = block.findAncestorOpInBlock(*user);
          if (ancestor && !members.contains(ancestor) &&
              (!furthest || furthest->isBeforeInBlock(ancestor)))
            furthest = ancestor;
        }
    if (!furthest)
      return success();
    for (Operation *op = group.back()->getNextNode();; op = op->getNextNode()) {
      if (!movable(op))
        return op->emitOpError("uses a value computed on the host from a "
                               "buffer in device memory; only loop nests "
                               "that write their results to buffers can run "
                               "on the GPU");
      group.push_back(op);
      members.insert(op);
      if (op == furthest)
        break;
    }
  }
}

/// A copy between buffers of which one is not contiguous (a subview: the
/// slice of a concatenation) as a parallel loop of loads and stores, which
/// is tiled and mapped like the others; `gpu.memcpy`, what a contiguous
/// copy becomes, moves bytes linearly and would scramble it.
void copyStridedInLoops(memref::CopyOp copy, IRRewriter &rewriter) {
  auto source = cast<MemRefType>(copy.getSource().getType());
  auto target = cast<MemRefType>(copy.getTarget().getType());
  if (memref::isStaticShapeAndContiguousRowMajor(source) &&
      memref::isStaticShapeAndContiguousRowMajor(target))
    return;
  Location loc = copy.getLoc();
  rewriter.setInsertionPoint(copy);
  if (source.getRank() == 0) {
    Value v = memref::LoadOp::create(rewriter, loc, copy.getSource());
    memref::StoreOp::create(rewriter, loc, v, copy.getTarget());
    rewriter.eraseOp(copy);
    return;
  }
  SmallVector<Value> lbs, ubs, steps;
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  for (int64_t d = 0; d < source.getRank(); ++d) {
    lbs.push_back(zero);
    steps.push_back(one);
    ubs.push_back(
        source.isDynamicDim(d)
            ? Value(memref::DimOp::create(rewriter, loc, copy.getSource(), d))
            : Value(arith::ConstantIndexOp::create(rewriter, loc,
                                                   source.getDimSize(d))));
  }
  scf::ParallelOp::create(
      rewriter, loc, lbs, ubs, steps,
      [&](OpBuilder &b, Location l, ValueRange ivs) {
        Value v = memref::LoadOp::create(b, l, copy.getSource(), ivs);
        memref::StoreOp::create(b, l, v, copy.getTarget(), ivs);
      });
  rewriter.eraseOp(copy);
}

/// Gives each thread of a large elementwise nest `rows` consecutive outer
/// iterations at one inner index (see the pass's description): the outer
/// step becomes `rows`, the body is cloned once per row, op by op, so that
/// every row's loads come before any row's arithmetic and stores. Returns
/// the new loop, or `loop` where that does not apply.
scf::ParallelOp coarsenRows(scf::ParallelOp loop, int64_t rows,
                            IRRewriter &rewriter) {
  constexpr int64_t minThreads = int64_t(1) << 18;
  if (rows < 2 || loop.getNumLoops() != 2 || loop.getNumResults() != 0 ||
      constantValue(loop.getLowerBound()[0]) != 0 ||
      constantValue(loop.getStep()[0]) != 1)
    return loop;
  std::optional<int64_t> outer = tripCount(loop, 0);
  std::optional<int64_t> inner = tripCount(loop, 1);
  if (!outer || !inner || *outer % rows != 0 ||
      *outer / rows * *inner < minThreads)
    return loop;
  Block *body = loop.getBody();
  for (Operation &op : body->without_terminator())
    if (op.getNumRegions() != 0)
      return loop;
  Location loc = loop.getLoc();
  rewriter.setInsertionPoint(loop);
  SmallVector<Value> steps(loop.getStep());
  steps[0] = arith::ConstantIndexOp::create(rewriter, loc, rows);
  auto coarse = scf::ParallelOp::create(
      rewriter, loc, loop.getLowerBound(), loop.getUpperBound(), steps,
      [&](OpBuilder &b, Location l, ValueRange ivs) {
        SmallVector<IRMapping> copies(rows);
        for (int64_t r = 0; r < rows; ++r) {
          copies[r].map(body->getArgument(0),
                        r == 0 ? ivs[0]
                               : Value(arith::AddIOp::create(
                                     b, l, ivs[0],
                                     arith::ConstantIndexOp::create(b, l, r))));
          copies[r].map(body->getArgument(1), ivs[1]);
        }
        for (Operation &op : body->without_terminator())
          for (IRMapping &copy : copies)
            b.clone(op, copy);
      });
  rewriter.eraseOp(loop);
  return coarse;
}

/// Gives each thread of an elementwise nest `width` consecutive elements
/// along the innermost dimension, read and written as vectors where the
/// buffers allow (see the pass's description): the innermost loop runs
/// over vectors of `width` elements, each vector load's lanes are extracted,
/// the body is cloned per lane (ops that do not depend on the innermost index
/// once), and the lanes' values stored as one vector. `width` is the most
/// elements of the widest vectorized access that fit in `maxBytes` and divide
/// the innermost trip count. Returns the new loop, or `loop` where no access
/// can be a vector.
scf::ParallelOp vectorizeColumns(scf::ParallelOp loop, int64_t maxBytes,
                                 IRRewriter &rewriter) {
  unsigned rank = loop.getNumLoops();
  if (rank > 2 || loop.getNumResults() != 0 ||
      constantValue(loop.getLowerBound()[rank - 1]) != 0 ||
      constantValue(loop.getStep()[rank - 1]) != 1)
    return loop;
  std::optional<int64_t> inner = tripCount(loop, rank - 1);
  if (!inner)
    return loop;
  Block *body = loop.getBody();
  Value iv = body->getArgument(rank - 1);
  llvm::SmallPtrSet<Value, 16> varying = {iv};
  auto varies = [&](Operation &op) {
    return llvm::any_of(op.getOperands(),
                        [&](Value v) { return varying.contains(v); });
  };
  // Loads and stores whose innermost index is the innermost loop's and
  // whose other indices do not vary with it.
  SmallVector<Operation *> columns;
  SmallVector<Value> buffers;
  for (Operation &op : body->without_terminator()) {
    if (op.getNumRegions() != 0)
      return loop;
    if (varies(op))
      for (Value r : op.getResults())
        varying.insert(r);
    Value memref;
    ValueRange indices;
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      memref = load.getMemRef();
      indices = load.getIndices();
    } else if (auto store = dyn_cast<memref::StoreOp>(op)) {
      memref = store.getMemRef();
      indices = store.getIndices();
    } else {
      continue;
    }
    if (indices.empty() || indices.back() != iv ||
        llvm::any_of(indices.drop_back(),
                     [&](Value v) { return varying.contains(v); }) ||
        !autopar::alignedColumns(memref, 2))
      continue;
    columns.push_back(&op);
    buffers.push_back(memref);
  }
  int64_t width = autopar::vectorWidth(
      buffers, maxBytes, [&](int64_t w) { return *inner % w == 0; });
  if (width < 2)
    return loop;
  llvm::SmallPtrSet<Operation *, 16> vectorized(columns.begin(), columns.end());
  Location loc = loop.getLoc();
  rewriter.setInsertionPoint(loop);
  // The innermost loop runs over the vectors (step 1: upstream tiling's
  // guard for a partial tile assumes unit steps), each starting at index
  // width * v.
  SmallVector<Value> upper(loop.getUpperBound());
  upper.back() = arith::ConstantIndexOp::create(rewriter, loc, *inner / width);
  auto wide = scf::ParallelOp::create(
      rewriter, loc, loop.getLowerBound(), upper, loop.getStep(),
      [&](OpBuilder &b, Location l, ValueRange ivs) {
        Value first = arith::MulIOp::create(
            b, l, ivs.back(), arith::ConstantIndexOp::create(b, l, width));
        SmallVector<IRMapping> lanes(width);
        for (int64_t k = 0; k < width; ++k) {
          for (unsigned d = 0; d + 1 < rank; ++d)
            lanes[k].map(body->getArgument(d), ivs[d]);
          lanes[k].map(iv, k == 0
                               ? first
                               : Value(arith::AddIOp::create(
                                     b, l, first,
                                     arith::ConstantIndexOp::create(b, l, k))));
        }
        auto mapped = [&](ValueRange values) {
          return llvm::map_to_vector(
              values, [&](Value v) { return lanes[0].lookupOrDefault(v); });
        };
        for (Operation &op : body->without_terminator()) {
          if (vectorized.contains(&op)) {
            if (auto load = dyn_cast<memref::LoadOp>(op)) {
              SmallVector<Value> values = autopar::loadLanes(
                  b, op.getLoc(), lanes[0].lookupOrDefault(load.getMemRef()),
                  mapped(load.getIndices()), width);
              for (int64_t k = 0; k < width; ++k)
                lanes[k].map(load.getResult(), values[k]);
              continue;
            }
            auto store = cast<memref::StoreOp>(op);
            SmallVector<Value> values;
            for (IRMapping &lane : lanes)
              values.push_back(lane.lookupOrDefault(store.getValueToStore()));
            autopar::storeLanes(b, op.getLoc(), values,
                                lanes[0].lookupOrDefault(store.getMemRef()),
                                mapped(store.getIndices()));
            continue;
          }
          // What does not vary along the row (a bias, a row's statistic)
          // once; what writes memory, or varies, once per lane.
          bool once = !varies(op) &&
                      (isMemoryEffectFree(&op) || isa<memref::LoadOp>(op));
          if (once) {
            Operation *copy = b.clone(op, lanes[0]);
            for (int64_t k = 1; k < width; ++k)
              lanes[k].map(op.getResults(), copy->getResults());
            continue;
          }
          for (IRMapping &lane : lanes)
            b.clone(op, lane);
        }
      });
  rewriter.eraseOp(loop);
  return wide;
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
    if (rowsPerThread < 1) {
      fn.emitError("autopar-tile-loops-for-gpu: rows-per-thread must be at "
                   "least 1, not ")
          << int64_t(rowsPerThread);
      return signalPassFailure();
    }
    if (vectorBytes != 0 &&
        (vectorBytes < 2 || vectorBytes > 64 ||
         !llvm::isPowerOf2_64(uint64_t(int64_t(vectorBytes))))) {
      fn.emitError("autopar-tile-loops-for-gpu: vector-bytes must be 0 or a "
                   "power of two in 2..64, not ")
          << int64_t(vectorBytes);
      return signalPassFailure();
    }
    IRRewriter rewriter(&getContext());
    SmallVector<memref::CopyOp> copies;
    fn.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies)
      copyStridedInLoops(copy, rewriter);

    // Serial host code on buffers runs as a one-point parallel loop: each
    // op that reads or writes a buffer, with the ops after it that use what
    // it computes (a scalar loaded, combined and stored back), as one group.
    for (Block &block : fn.getBody()) {
      for (auto it = block.begin(); it != block.end();) {
        Operation *first = &*it;
        if (isa<scf::ParallelOp, gpu::LaunchOp>(first) ||
            first->hasTrait<OpTrait::IsTerminator>() ||
            !touchesBuffersSerially(first)) {
          ++it;
          continue;
        }
        SmallVector<Operation *> group;
        if (failed(growGroup(block, first, group)))
          return signalPassFailure();
        Operation *last = group.back();
        rewriter.setInsertionPoint(first);
        Location loc = first->getLoc();
        Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
        Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
        auto wrapper = scf::ParallelOp::create(
            rewriter, loc, ValueRange{zero}, ValueRange{one}, ValueRange{one});
        it = std::next(Block::iterator(last));
        for (Operation *op : group)
          op->moveBefore(wrapper.getBody()->getTerminator());
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
      scf::ParallelOp scalar = loop;
      loop = vectorizeColumns(loop, vectorBytes, rewriter);
      bool vectorized = loop != scalar;
      loop = coarsenRows(loop, rowsPerThread, rewriter);
      // Vectors numbered row after row: blocks of `threads` threads over
      // all of them, whatever the row's length (a row of 768 bf16 is 96
      // vectors: a block of 96 threads alone, 2.7 rows of a block of 256).
      if (vectorized && rank == 2) {
        Operation *next = loop->getNextNode();
        rewriter.setInsertionPoint(loop);
        collapseParallelLoops(rewriter, loop, {{0, 1}});
        loop = cast<scf::ParallelOp>(next->getPrevNode());
        rank = 1;
      }
      inner = tripCount(loop, rank - 1);
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
