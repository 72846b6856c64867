//===- ScatterToAtomics.cpp - scatter-add loops as parallel atomic adds ---===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// `scatter_add` (an embedding's gradient) lowers to a parallel loop over the
// dimensions it does not index, each point looping over the indices and
// adding into the row each one names: on the GPU, one thread per feature
// (gpt2-small: 768 threads, each adding 8192 rows in turn). The updates of
// different indices only meet in those adds, so with the add made atomic
// the index loop can be parallel too: this pass moves it into the parallel
// loop (one thread per index and feature) and turns the read-add-write of
// the target into `memref.atomic_rmw addf`.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "Buffers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_SCATTERTOATOMICSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {

/// The read-add-write of one buffer in `loop`'s body: `store(addf(load(B,
/// I), v), B, I)` with the same indices, nothing else touching B (or a view
/// of it) in the loop, and every other side effect a load.
struct ScatterAdd {
  memref::LoadOp load;
  arith::AddFOp add;
  memref::StoreOp store;
};

std::optional<ScatterAdd> match(scf::ForOp loop) {
  if (loop.getNumResults() != 0)
    return std::nullopt;
  ScatterAdd s{};
  for (Operation &op : loop.getBody()->without_terminator()) {
    if (auto store = dyn_cast<memref::StoreOp>(op)) {
      if (s.store)
        return std::nullopt;
      s.store = store;
      continue;
    }
    if (isa<memref::LoadOp>(op) || isPure(&op))
      continue;
    return std::nullopt; // a call, an allocation, a nested loop, ...
  }
  if (!s.store)
    return std::nullopt;
  s.add = s.store.getValue().getDefiningOp<arith::AddFOp>();
  if (!s.add || !s.add->hasOneUse())
    return std::nullopt;
  for (Value operand : s.add->getOperands())
    if (auto load = operand.getDefiningOp<memref::LoadOp>();
        load && load.getMemRef() == s.store.getMemRef() &&
        load.getIndices() == s.store.getIndices())
      s.load = load;
  if (!s.load || !s.load->hasOneUse())
    return std::nullopt;
  Value target = autopar::rootBuffer(s.store.getMemRef());
  for (Operation &op : loop.getBody()->without_terminator())
    if (auto load = dyn_cast<memref::LoadOp>(op);
        load && load != s.load &&
        autopar::rootBuffer(load.getMemRef()) == target)
      return std::nullopt;
  return s;
}

/// The innermost loop of a nest of `scf.for` loops (each body pure ops and
/// the next loop), with the nest from the outermost.
scf::ForOp innermost(scf::ForOp loop, SmallVectorImpl<scf::ForOp> &nest) {
  nest.push_back(loop);
  scf::ForOp inner;
  for (Operation &op : loop.getBody()->without_terminator()) {
    if (auto f = dyn_cast<scf::ForOp>(op)) {
      if (inner)
        return {};
      inner = f;
    } else if (!isPure(&op) && inner) {
      return {}; // effects after the inner loop: not a perfect nest
    }
  }
  if (!inner)
    return loop;
  // Only pure ops may sit beside the inner loop.
  for (Operation &op : loop.getBody()->without_terminator())
    if (&op != inner.getOperation() && !isPure(&op))
      return {};
  if (inner.getNumResults() != 0)
    return {};
  return innermost(inner, nest);
}

struct Match {
  scf::ParallelOp parallel;
  SmallVector<scf::ForOp> nest; ///< outermost first
  ScatterAdd scatter;
};

/// The parallel loop's body: views and pure index math, then one nest of
/// loops whose innermost body is such a read-add-write.
std::optional<Match> matchParallel(scf::ParallelOp parallel) {
  if (parallel.getNumReductions() != 0)
    return std::nullopt;
  scf::ForOp loop;
  for (Operation &op : parallel.getBody()->without_terminator()) {
    if (auto f = dyn_cast<scf::ForOp>(op)) {
      if (loop)
        return std::nullopt;
      loop = f;
      continue;
    }
    if (!isPure(&op))
      return std::nullopt;
  }
  if (!loop)
    return std::nullopt;
  Match m{parallel, {}, {}};
  scf::ForOp inner = innermost(loop, m.nest);
  if (!inner)
    return std::nullopt;
  std::optional<ScatterAdd> s = match(inner);
  if (!s)
    return std::nullopt;
  m.scatter = *s;
  return m;
}

void rewrite(Match &m) {
  scf::ParallelOp parallel = m.parallel;
  ScatterAdd &s = m.scatter;
  OpBuilder b(parallel);
  // The index loops outermost: the old innermost dimension (an embedding's
  // features, contiguous in the updates and the table) stays innermost,
  // where the GPU lowering puts neighbouring threads.
  SmallVector<Value> lbs, ubs, steps;
  for (scf::ForOp loop : m.nest) {
    lbs.push_back(loop.getLowerBound());
    ubs.push_back(loop.getUpperBound());
    steps.push_back(loop.getStep());
  }
  llvm::append_range(lbs, parallel.getLowerBound());
  llvm::append_range(ubs, parallel.getUpperBound());
  llvm::append_range(steps, parallel.getStep());
  scf::ParallelOp::create(
      b, parallel.getLoc(), lbs, ubs, steps,
      [&](OpBuilder &pb, Location loc, ValueRange ivs) {
        IRMapping mapping;
        for (auto [loop, iv] : llvm::zip(m.nest, ivs))
          mapping.map(loop.getInductionVar(), iv);
        for (auto [old, now] : llvm::zip(parallel.getInductionVars(),
                                         ivs.drop_front(m.nest.size())))
          mapping.map(old, now);
        // The pure ops of every level, outermost first (every index is
        // known here), then the innermost body with the atomic add.
        for (Operation &op : parallel.getBody()->without_terminator())
          if (&op != m.nest.front().getOperation())
            pb.clone(op, mapping);
        for (scf::ForOp loop : ArrayRef(m.nest).drop_back())
          for (Operation &op : loop.getBody()->without_terminator())
            if (!isa<scf::ForOp>(op))
              pb.clone(op, mapping);
        for (Operation &op : m.nest.back().getBody()->without_terminator()) {
          if (&op == s.load.getOperation() || &op == s.add.getOperation())
            continue;
          if (&op == s.store.getOperation()) {
            Value addend = s.add.getLhs() == s.load.getResult()
                               ? s.add.getRhs()
                               : s.add.getLhs();
            SmallVector<Value> indices;
            for (Value i : s.store.getIndices())
              indices.push_back(mapping.lookupOrDefault(i));
            memref::AtomicRMWOp::create(
                pb, loc, arith::AtomicRMWKind::addf,
                mapping.lookupOrDefault(addend),
                mapping.lookupOrDefault(s.store.getMemRef()), indices);
            continue;
          }
          pb.clone(op, mapping);
        }
      });
  parallel.erase();
}

struct ScatterToAtomicsPass
    : public mlir::autopar::impl::ScatterToAtomicsPassBase<
          ScatterToAtomicsPass> {
  void runOnOperation() override {
    SmallVector<Match> work;
    getOperation().walk([&](scf::ParallelOp parallel) {
      if (parallel->getParentOfType<scf::ParallelOp>())
        return;
      if (std::optional<Match> m = matchParallel(parallel))
        work.push_back(std::move(*m));
    });
    for (Match &m : work)
      rewrite(m);
  }
};

} // namespace
