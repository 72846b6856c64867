//===- RowReductionsToGPU.cpp - a block of threads per reduced row --------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// convert-linalg-to-parallel-loops gives a reduction over the innermost
// dimension (a softmax's max and sum, a layer norm's mean, the
// cross-entropy's log-sum-exp over the classes) one GPU thread per row, each
// looping over its row alone: neighbouring threads read addresses a row
// apart (nothing coalesces), and a few rows leave most of the GPU idle. This
// pass gives each row a block instead: its threads stride over the row
// together (neighbours read neighbouring elements), each keeps a partial
// result, `gpu.all_reduce` combines them (warp shuffles and shared memory,
// lowered with the kernel) and the first thread combines that with the
// output's value, as the linalg op would.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

namespace mlir::autopar {
#define GEN_PASS_DEF_ROWREDUCTIONSTOGPUPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {

/// A reduction this pass takes: parallel loops, then reduction loops (at
/// least one), the output indexed by the parallel loops in order; every
/// input that the innermost loop indexes has it as its last, unit-stride
/// dimension; one combiner of the output's value with a value computed
/// from the inputs.
struct RowReduction {
  linalg::GenericOp op;
  unsigned parallel = 0;      ///< leading parallel loops
  SmallVector<int64_t> sizes; ///< every loop's trip count
  Operation *combiner = nullptr;
  Value reduced; ///< what the combiner folds into the output
  gpu::AllReduceOperation kind;
  double identity = 0;
};

std::optional<std::pair<gpu::AllReduceOperation, double>>
kindOf(Operation *combiner) {
  using K = gpu::AllReduceOperation;
  double inf = std::numeric_limits<double>::infinity();
  using Result = std::optional<std::pair<K, double>>;
  return llvm::TypeSwitch<Operation *, Result>(combiner)
      .Case([&](arith::AddFOp) {
        return Result({K::ADD, 0.0});
      })
      .Case([&](arith::MulFOp) {
        return Result({K::MUL, 1.0});
      })
      .Case([&](arith::MaximumFOp) {
        return Result({K::MAXIMUMF, -inf});
      })
      .Case([&](arith::MinimumFOp) {
        return Result({K::MINIMUMF, inf});
      })
      .Case([&](arith::MaxNumFOp) {
        return Result({K::MAXNUMF, -inf});
      })
      .Case([&](arith::MinNumFOp) {
        return Result({K::MINNUMF, inf});
      })
      .Default([](Operation *) { return Result(); });
}

/// Whether `type`'s last dimension has unit stride.
bool innermostContiguous(MemRefType type) {
  if (type.getRank() == 0)
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.back() == 1;
}

std::optional<RowReduction> match(linalg::GenericOp op, int64_t minSize) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumResults() != 0)
    return std::nullopt;
  RowReduction r;
  r.op = op;
  unsigned n = op.getNumLoops();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  while (r.parallel < n &&
         iterators[r.parallel] == utils::IteratorType::parallel)
    ++r.parallel;
  if (r.parallel == n)
    return std::nullopt;
  for (unsigned d = r.parallel; d < n; ++d)
    if (iterators[d] != utils::IteratorType::reduction)
      return std::nullopt;
  r.sizes = op.getStaticLoopRanges();
  if (llvm::any_of(r.sizes, ShapedType::isDynamic))
    return std::nullopt;
  int64_t reduced = 1;
  for (unsigned d = r.parallel; d < n; ++d)
    reduced *= r.sizes[d];
  if (reduced < minSize)
    return std::nullopt;
  OpOperand *init = op.getDpsInitOperand(0);
  AffineMap outMap = op.getMatchingIndexingMap(init);
  if (outMap.getNumResults() != r.parallel)
    return std::nullopt;
  for (auto [i, e] : llvm::enumerate(outMap.getResults()))
    if (e != getAffineDimExpr(unsigned(i), op.getContext()))
      return std::nullopt;
  if (!isa<FloatType>(getElementTypeOrSelf(init->get().getType())))
    return std::nullopt;
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    auto type = dyn_cast<MemRefType>(input->get().getType());
    if (!type || !map.isProjectedPermutation())
      return std::nullopt;
    std::optional<unsigned> at =
        map.getResultPosition(getAffineDimExpr(n - 1, op.getContext()));
    if (at && (*at + 1 != map.getNumResults() || !innermostContiguous(type)))
      return std::nullopt;
  }
  BlockArgument out = op.getRegionOutputArgs()[0];
  SmallVector<Operation *> combiners;
  r.reduced = matchReduction(op.getRegionOutputArgs(), 0, combiners);
  if (!r.reduced || combiners.size() != 1 || !out.hasOneUse())
    return std::nullopt;
  r.combiner = combiners.front();
  auto kind = kindOf(r.combiner);
  if (!kind)
    return std::nullopt;
  r.kind = kind->first;
  r.identity = kind->second;
  return r;
}

/// `linear` split into the indices of loops [begin, end) (row-major).
SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear,
                               ArrayRef<int64_t> sizes) {
  SmallVector<Value> indices(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    Value size = arith::ConstantIndexOp::create(b, loc, sizes[d]);
    indices[d] = d == 0 ? linear : arith::RemUIOp::create(b, loc, linear, size);
    if (d > 0)
      linear = arith::DivUIOp::create(b, loc, linear, size);
  }
  return indices;
}

void rewrite(RowReduction &r, int64_t threads) {
  linalg::GenericOp op = r.op;
  Location loc = op.getLoc();
  OpBuilder b(op);
  ArrayRef<int64_t> sizes = r.sizes;
  int64_t rows = 1, length = 1;
  for (unsigned d = 0; d < r.parallel; ++d)
    rows *= sizes[d];
  for (unsigned d = r.parallel; d < sizes.size(); ++d)
    length *= sizes[d];
  int64_t block = std::min<int64_t>(threads, (length + 31) / 32 * 32);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto launch = gpu::LaunchOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, rows), one, one,
      arith::ConstantIndexOp::create(b, loc, block), one, one);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value row = launch.getBlockIds().x, thread = launch.getThreadIds().x;
  SmallVector<Value> rowIndices =
      delinearize(b, loc, row, sizes.take_front(r.parallel));
  Block &body = op.getRegion().front();
  BlockArgument out = op.getRegionOutputArgs()[0];
  Type element = out.getType();
  Value identity = arith::ConstantOp::create(
      b, loc, element, b.getFloatAttr(element, r.identity));
  // Each thread folds the elements thread, thread + block, ... of its row.
  auto loop = scf::ForOp::create(
      b, loc, thread, arith::ConstantIndexOp::create(b, loc, length),
      arith::ConstantIndexOp::create(b, loc, block), ValueRange{identity},
      [&](OpBuilder &lb, Location l, Value j, ValueRange partial) {
        SmallVector<Value> indices(rowIndices);
        indices.append(delinearize(lb, l, j, sizes.drop_front(r.parallel)));
        IRMapping mapping;
        for (OpOperand *input : op.getDpsInputOperands()) {
          SmallVector<Value> at;
          for (AffineExpr e : op.getMatchingIndexingMap(input).getResults())
            at.push_back(indices[cast<AffineDimExpr>(e).getPosition()]);
          mapping.map(op.getMatchingBlockArgument(input),
                      memref::LoadOp::create(lb, l, input->get(), at));
        }
        mapping.map(out, partial[0]);
        for (Operation &inner : body.without_terminator()) {
          if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
            mapping.map(index.getResult(), indices[index.getDim()]);
            continue;
          }
          lb.clone(inner, mapping);
        }
        scf::YieldOp::create(lb, l, mapping.lookup(r.combiner->getResult(0)));
      });
  Value total = gpu::AllReduceOp::create(
      b, loc, loop.getResult(0),
      gpu::AllReduceOperationAttr::get(b.getContext(), r.kind),
      b.getUnitAttr());
  // The first thread folds the block's result into the output.
  Value first =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, thread,
                            arith::ConstantIndexOp::create(b, loc, 0));
  Value output = op.getDpsInitOperand(0)->get();
  scf::IfOp::create(b, loc, first, [&](OpBuilder &ib, Location l) {
    IRMapping mapping;
    mapping.map(out, memref::LoadOp::create(ib, l, output, rowIndices));
    mapping.map(r.reduced, total);
    Operation *combined = ib.clone(*r.combiner, mapping);
    memref::StoreOp::create(ib, l, combined->getResult(0), output, rowIndices);
    scf::YieldOp::create(ib, l);
  });
  gpu::TerminatorOp::create(b, loc);
  op.erase();
}

struct RowReductionsToGPUPass
    : public mlir::autopar::impl::RowReductionsToGPUPassBase<
          RowReductionsToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    if (threads < 32 || threads > 1024 || threads % 32) {
      getOperation().emitError("autopar-row-reductions-to-gpu: threads must "
                               "be a multiple of 32 in 32..1024, not ")
          << int64_t(threads);
      return signalPassFailure();
    }
    SmallVector<RowReduction> work;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (std::optional<RowReduction> r = match(op, minSize))
        work.push_back(*r);
    });
    for (RowReduction &r : work)
      rewrite(r, threads);
  }
};

} // namespace
