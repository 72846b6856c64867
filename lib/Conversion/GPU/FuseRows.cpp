//===- FuseRows.cpp - one pass over each row for reductions and their ops -===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// A softmax reaches the GPU as five ops over its scores (the mask and scale,
// a max, exp(x - max), a sum, the division), each its own kernel and each
// a full pass over memory: about ten passes over gpt2-small's 96 x 1024 x
// 1024 scores per layer, where one read and one write would do. This pass
// finds runs of linalg.generic ops on buffers that share a row space (P x L
// elementwise ops, P x L -> P reductions over the innermost loop, P
// elementwise "row scalars") and emits one op for the run: per row, a loop
// for each reduction (or for consecutive reductions that need none of each
// other's values together) and for each result that must be stored, every
// other member recomputed where it is read (the row stays in the caches
// between the loops). See the pass's description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "Buffers.h"
#include "RowKernels.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/SmallSet.h"

#include <vector>

namespace mlir::autopar {
#define GEN_PASS_DEF_FUSEROWSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar::rows;

namespace {

enum class Kind { Elementwise, Reduction, Scalar };

/// One op of a run. `writers[i]` is the member (an index into the run)
/// that last wrote operand i's buffer before this op, or -1 where the
/// operand is read from memory.
struct Member {
  mutable linalg::GenericOp op; ///< (its accessors are not const)
  Kind kind;
  Operation *combiner = nullptr; ///< reductions: folds `reduced` in
  Value reduced;
  gpu::AllReduceOperation reduce = gpu::AllReduceOperation::ADD;
  double identity = 0;
  SmallVector<int> writers;
  bool stored = true;
  /// Reductions: the value a `linalg.fill` between the run's members gave
  /// the output (read instead of the buffer), and that fill.
  Value initValue;
  linalg::FillOp initFill;
};

/// The loops every member shares: P (the rows) and L (a row's length).
struct Space {
  SmallVector<int64_t> rows;
  int64_t length = 0;
};

bool isIdentityOver(AffineMap map, unsigned dims) {
  return map.getNumDims() == dims && map.isIdentity();
}

/// (d0, ..., d{n-1}) of a map over n + 1 loops: a per-row value.
bool isRowMap(AffineMap map, unsigned rows) {
  if (map.getNumDims() != rows + 1 || map.getNumResults() != rows)
    return false;
  for (auto [i, e] : llvm::enumerate(map.getResults()))
    if (e != getAffineDimExpr(unsigned(i), map.getContext()))
      return false;
  return true;
}

/// What `op` would be in a run of `space` (which it defines when empty):
/// its kind and, for a reduction, its combiner. Operand checks against the
/// run's other members come later.
std::optional<Member> classify(linalg::GenericOp op, Space &space,
                               int64_t minSize) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumResults() != 0 || !op.getRegion().hasOneBlock())
    return std::nullopt;
  for (AffineMap map : op.getIndexingMapsArray())
    if (!map.isProjectedPermutation())
      return std::nullopt;
  SmallVector<int64_t> sizes = op.getStaticLoopRanges();
  // Static and not empty (a grid or block of 0 is an error); a run's rows
  // at least min-size long.
  if (sizes.empty() || llvm::any_of(sizes, [](int64_t s) { return s <= 0; }) ||
      (space.length == 0 && sizes.back() < minSize))
    return std::nullopt;
  Member m;
  m.op = op;
  OpOperand *init = op.getDpsInitOperand(0);
  AffineMap outMap = op.getMatchingIndexingMap(init);
  unsigned n = op.getNumLoops();
  if (op.getNumParallelLoops() == n) {
    if (!isIdentityOver(outMap, n))
      return std::nullopt;
    if (space.length == 0) {
      space.length = sizes.back();
      space.rows.assign(sizes.begin(), sizes.end() - 1);
    }
    ArrayRef<int64_t> all(sizes);
    if (all.drop_back() == ArrayRef(space.rows) && all.back() == space.length)
      m.kind = Kind::Elementwise;
    else if (all == ArrayRef(space.rows))
      m.kind = Kind::Scalar;
    else
      return std::nullopt;
    return m;
  }
  // A reduction: parallel loops, then one reduction loop.
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  if (op.getNumReductionLoops() != 1 ||
      iterators.back() != utils::IteratorType::reduction ||
      !isRowMap(outMap, n - 1) ||
      !isa<FloatType>(getElementTypeOrSelf(init->get().getType())))
    return std::nullopt;
  if (space.length == 0) {
    space.length = sizes.back();
    space.rows.assign(sizes.begin(), sizes.end() - 1);
  }
  if (ArrayRef(sizes).drop_back() != ArrayRef(space.rows) ||
      sizes.back() != space.length)
    return std::nullopt;
  // A matrix product (one input without some of the rows' loops, another
  // without others) is the GEMM's, not a row's.
  std::optional<llvm::SmallBitVector> missing;
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (!isa<MemRefType>(input->get().getType()))
      continue;
    llvm::SmallBitVector lacks(n - 1, true);
    for (AffineExpr e : op.getMatchingIndexingMap(input).getResults())
      if (unsigned d = cast<AffineDimExpr>(e).getPosition(); d < n - 1)
        lacks.reset(d);
    if (lacks.none())
      continue;
    if (missing && *missing != lacks)
      return std::nullopt;
    missing = lacks;
  }
  SmallVector<Operation *> combiners;
  m.reduced = matchReduction(op.getRegionOutputArgs(), 0, combiners);
  if (!m.reduced || combiners.size() != 1 ||
      !op.getRegionOutputArgs()[0].hasOneUse())
    return std::nullopt;
  auto kind = reductionKind(combiners.front());
  if (!kind)
    return std::nullopt;
  m.kind = Kind::Reduction;
  m.combiner = combiners.front();
  m.reduce = kind->first;
  m.identity = kind->second;
  return m;
}

/// A run being built: its members, the ops between them, and which buffers
/// (as roots) it reads from memory and writes.
struct Run {
  Space space;
  SmallVector<Member> members;
  SmallVector<Operation *> between;
  llvm::SmallPtrSet<Value, 8> readRoots, writtenRoots;
  DenseMap<Value, int> lastWriter; ///< buffer -> member
  /// Ops between members that read what the run writes (or depend on such
  /// an op), moved after the fused op: the buffers they read and write.
  llvm::SmallPtrSet<Operation *, 4> sunk;
  llvm::SmallPtrSet<Value, 8> sunkReads, sunkWrites;

  bool hasReduction() const {
    return llvm::any_of(
        members, [](const Member &m) { return m.kind == Kind::Reduction; });
  }

  /// Adds `m` if its operands fit: a member's result read with the
  /// member's own indexing, nothing the run writes read from memory.
  bool add(Member m) {
    linalg::GenericOp op = m.op;
    unsigned rows = space.rows.size();
    llvm::SmallPtrSet<Value, 4> reads;
    for (OpOperand &operand : op->getOpOperands()) {
      Value v = operand.get();
      bool isInit = op.isDpsInit(&operand);
      // An init is read only when the body uses its value.
      bool read = !isInit || m.kind == Kind::Reduction ||
                  !op.getMatchingBlockArgument(&operand).use_empty();
      if (!isa<MemRefType>(v.getType())) {
        m.writers.push_back(-1);
        continue;
      }
      auto it = lastWriter.find(v);
      if (!read) {
        m.writers.push_back(-1);
        continue;
      }
      if (it != lastWriter.end()) {
        const Member &w = members[it->second];
        AffineMap map = op.getMatchingIndexingMap(&operand);
        bool fits = false;
        if (w.kind == Kind::Elementwise)
          fits = m.kind != Kind::Scalar && isIdentityOver(map, rows + 1);
        else if (m.kind == Kind::Scalar)
          fits = isIdentityOver(map, rows);
        else
          fits = isRowMap(map, rows);
        if (!fits)
          return false;
        m.writers.push_back(it->second);
        continue;
      }
      Value root = autopar::rootBuffer(v);
      if (writtenRoots.contains(root) || sunkWrites.contains(root))
        return false;
      // The op reading its own output where it writes it is no hazard.
      if (!isInit)
        reads.insert(root);
      m.writers.push_back(-1);
    }
    Value init = op.getDpsInitOperand(0)->get();
    Value root = autopar::rootBuffer(init);
    if (readRoots.contains(root) || reads.contains(root) ||
        (writtenRoots.contains(root) && !lastWriter.count(init)) ||
        sunkReads.contains(root) || sunkWrites.contains(root))
      return false;
    readRoots.insert(reads.begin(), reads.end());
    if (m.kind == Kind::Reduction)
      readRoots.insert(root);
    writtenRoots.insert(root);
    lastWriter[init] = members.size();
    members.push_back(std::move(m));
    return true;
  }

  enum class Between { No, Stay, Sink };

  /// Whether `op` may stay between members (the fused op goes where the
  /// last member is; deallocations move after it): allocations, ops
  /// without memory effects, and ops whose effects on buffers are known and
  /// independent of the members so far and of the sunk ops (no read of what
  /// they write, no write of what they read or write). Or whether it may
  /// sink after the fused op: a linalg op over no more elements than the
  /// run has rows (the cross-entropy's sum of the rows' losses and the
  /// scalar ops after it, which would otherwise end the run between the
  /// loss's rows and their gradient) whose effects are known, where it
  /// reads what the run writes or must follow a sunk op; later members may
  /// then not touch what it writes nor write what it reads.
  Between place(Operation *op) const {
    if (isa<memref::AllocOp, memref::DeallocOp>(op))
      return Between::Stay;
    if (op->getNumRegions() != 0 && !isa<linalg::LinalgOp>(op))
      return Between::No;
    if (isMemoryEffectFree(op))
      return Between::Stay;
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (!effects)
      return Between::No;
    SmallVector<MemoryEffects::EffectInstance> instances;
    effects.getEffects(instances);
    bool stay = true, sinkable = true;
    for (const MemoryEffects::EffectInstance &e : instances) {
      Value v = e.getValue();
      if (!v)
        return Between::No;
      Value root = autopar::rootBuffer(v);
      if (isa<MemoryEffects::Read>(e.getEffect())) {
        if (writtenRoots.contains(root) || sunkWrites.contains(root))
          stay = false;
      } else if (isa<MemoryEffects::Write>(e.getEffect())) {
        if (readRoots.contains(root) || writtenRoots.contains(root))
          stay = sinkable = false;
        if (sunkReads.contains(root) || sunkWrites.contains(root))
          stay = false;
      } else {
        return Between::No;
      }
    }
    if (stay)
      return Between::Stay;
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    if (!sinkable || !linalgOp || !linalgOp.hasPureBufferSemantics())
      return Between::No;
    int64_t rows = 1, elements = 1;
    for (int64_t r : space.rows)
      rows *= r;
    for (int64_t n : linalgOp.getStaticLoopRanges()) {
      if (ShapedType::isDynamic(n))
        return Between::No;
      elements *= n;
    }
    return elements <= rows ? Between::Sink : Between::No;
  }

  /// Moves `op` (placed Sink) after the fused op when the run is rewritten.
  void sink(Operation *op) {
    between.push_back(op);
    sunk.insert(op);
    SmallVector<MemoryEffects::EffectInstance> instances;
    cast<MemoryEffectOpInterface>(op).getEffects(instances);
    for (const MemoryEffects::EffectInstance &e : instances)
      (isa<MemoryEffects::Read>(e.getEffect()) ? sunkReads : sunkWrites)
          .insert(autopar::rootBuffer(e.getValue()));
  }
};

/// Emits the fused op of a run.
class Emitter {
public:
  Emitter(const Run &run, bool gpu, int64_t threads, Unrolling unroll,
          int64_t warpRowLength, int64_t longRowThreads, int64_t vectorBytes)
      : run(run), gpu(gpu), threads(threads), unroll(unroll),
        warpRowLength(warpRowLength), longRowThreads(longRowThreads),
        vectorBytes(vectorBytes) {}

  /// The fused op, before the run's last member.
  Operation *emit() {
    linalg::GenericOp last = run.members.back().op;
    Location loc = last.getLoc();
    OpBuilder b(last);
    int64_t rows = 1;
    for (int64_t s : run.space.rows)
      rows *= s;
    Operation *fused;
    if (gpu) {
      SmallVector<Type> combined;
      for (const Member &m : run.members)
        if (m.kind == Kind::Reduction)
          combined.push_back(m.op.getRegionOutputArgs()[0].getType());
      launch = createRowLaunch(
          b, loc, rows, run.space.length,
          rowBlockThreads(run.space.length, threads, longRowThreads),
          warpRows(run.space.length, warpRowLength, combined));
      row = launch.row;
      thread = launch.thread;
      step = launch.step;
      fused = launch.launch;
    } else {
      step = 1;
      Value one = indexConstant(b, loc, 1);
      auto loop = scf::ParallelOp::create(b, loc, indexConstant(b, loc, 0),
                                          indexConstant(b, loc, rows), one);
      b.setInsertionPointToStart(loop.getBody());
      row = loop.getInductionVars()[0];
      thread = indexConstant(b, loc, 0);
      fused = loop;
    }
    rowIndices = delinearize(b, loc, row, run.space.rows);
    for (int i = 0, n = int(run.members.size()); i < n; ++i) {
      const Member &m = run.members[i];
      switch (m.kind) {
      case Kind::Reduction: {
        // A maximum and the sum of exp(x - maximum) after it are one pair
        // of a walk. Reductions that need none of each other's values
        // share the walk over the row (with what they read and
        // recompute); elementwise members that need not be stored emit
        // nothing between them.
        SmallVector<int> walk, together;
        std::optional<std::pair<int, int>> online;
        if (std::optional<int> sum = onlineSum(i)) {
          online = {i, *sum};
          together = {i, *sum};
          i = *sum;
        } else {
          walk = together = {i};
        }
        llvm::SmallSet<int, 8> needed;
        for (; i + 1 < n; ++i) {
          const Member &next = run.members[i + 1];
          if (next.kind == Kind::Elementwise && !next.stored)
            continue;
          needed.clear();
          rowValuesNeeded(i + 1, needed);
          if (next.kind != Kind::Reduction ||
              llvm::any_of(together,
                           [&](int r) { return needed.contains(r); }) ||
              onlineSum(i + 1))
            break;
          walk.push_back(i + 1);
          together.push_back(i + 1);
        }
        emitReductions(b, walk, online);
        break;
      }
      case Kind::Scalar:
        rowValues[i] = evaluate(b, i, rowIndices, nullptr);
        if (m.stored)
          storeRowValue(b, i);
        break;
      case Kind::Elementwise:
        if (m.stored)
          emitStore(b, i);
        break;
      }
    }
    if (gpu)
      gpu::TerminatorOp::create(b, loc);
    // After every use of the loops' results: unrolling one whose trip
    // count does not divide adds a remainder loop that takes them over.
    for (scf::ForOp loop : pendingUnroll) {
      int64_t length = run.space.length, loopStep = step;
      auto fold = laneFolds.find(loop);
      loop =
          vectorizeRowLoop(loop, length, loopStep, vectorBytes,
                           fold == laneFolds.end() ? nullptr : &fold->second);
      unrollRowLoop(loop, length, loopStep, unroll);
    }
    fused->setAttr("autopar.fused_rows",
                   b.getI64IntegerAttr(int64_t(run.members.size())));
    return fused;
  }

private:
  /// A loop over the row: j = thread, thread + step, ... with `init` as its
  /// iteration values; `body` gives the yielded ones.
  scf::ForOp rowLoop(
      OpBuilder &b, ValueRange init,
      function_ref<SmallVector<Value>(OpBuilder &, ArrayRef<Value>, ValueRange)>
          body) {
    Location loc = run.members.front().op.getLoc();
    auto loop = scf::ForOp::create(
        b, loc, thread, indexConstant(b, loc, run.space.length),
        indexConstant(b, loc, step), init,
        [&](OpBuilder &lb, Location l, Value j, ValueRange iters) {
          SmallVector<Value> indices(rowIndices);
          indices.push_back(j);
          scf::YieldOp::create(lb, l, body(lb, indices, iters));
        });
    pendingUnroll.push_back(loop);
    return loop;
  }

  /// The members member i reads, directly or through the elementwise
  /// members it recomputes (among them the reductions and row scalars whose
  /// per-row values it needs).
  void rowValuesNeeded(int i, llvm::SmallSet<int, 8> &needed) const {
    for (int writer : run.members[i].writers)
      if (writer >= 0 && needed.insert(writer).second &&
          run.members[writer].kind == Kind::Elementwise)
        rowValuesNeeded(writer, needed);
  }

  /// The reductions `walk` in one loop over the row, each with its own
  /// partial value, the members they read computed once an element.
  /// The reductions `walk` in one loop over the row, each with its own
  /// partial value, the members they read computed once an element; with
  /// `online`, a maximum and its sum of exp(x - maximum) in the same loop
  /// (onlineStep).
  void emitReductions(OpBuilder &b, ArrayRef<int> walk,
                      std::optional<std::pair<int, int>> online) {
    // Sums of a one-hot selection take their one element instead of a walk.
    SmallVector<int> walked;
    for (int i : walk) {
      if (std::optional<OneHot> hot = oneHot(i, run.members[i].reduced);
          hot && run.members[i].reduce == gpu::AllReduceOperation::ADD)
        finishReduction(b, i, gatherOneHot(b, i, *hot));
      else
        walked.push_back(i);
    }
    if (walked.empty() && !online)
      return;
    SmallVector<Value> identities;
    if (online) {
      identities.push_back(identityOf(b, online->first));
      identities.push_back(identityOf(b, online->second));
    }
    for (int i : walked)
      identities.push_back(identityOf(b, i));
    unsigned first = online ? 2 : 0;
    Value element;
    auto loop = rowLoop(
        b, identities,
        [&](OpBuilder &lb, ArrayRef<Value> indices,
            ValueRange partial) -> SmallVector<Value> {
          DenseMap<int, Value> cache;
          SmallVector<Value> next;
          if (online) {
            const Member &max = run.members[online->first];
            element = evaluateValue(lb, online->first, max.reduced, indices);
            next =
                onlineStep(lb, online->first, element, partial[0], partial[1]);
          }
          for (auto [k, i] : llvm::enumerate(walked))
            next.push_back(
                evaluate(lb, i, indices, &cache, partial[first + k]));
          return next;
        });
    if (online) {
      // A vector's elements update the maximum and sum together
      // (onlineVector), when the walk is vectorized.
      int i = online->first;
      LaneFold fold;
      fold.first = 0;
      fold.count = 2;
      fold.element = element;
      fold.fold = [this, i](OpBuilder &fb, Location l, ValueRange carried,
                            ArrayRef<Value> elements) {
        return onlineVector(fb, l, i, carried[0], carried[1], elements);
      };
      laneFolds[loop] = fold;
      finishOnline(b, online->first, online->second, loop.getResult(0),
                   loop.getResult(1));
    }
    for (auto [k, i] : llvm::enumerate(walked)) {
      Value total = loop.getResult(first + unsigned(k));
      if (gpu)
        total = combineRow(b, run.members[i].op.getLoc(), launch, total,
                           run.members[i].reduce);
      finishReduction(b, i, total);
    }
  }

  /// exp(x - top), exactly 1 where x is top (-inf included).
  static Value rescale(OpBuilder &b, Location loc, Value x, Value top) {
    Value same =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, top);
    Value e =
        math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, x, top));
    Value one = arith::ConstantOp::create(b, loc, x.getType(),
                                          b.getFloatAttr(x.getType(), 1.0));
    return arith::SelectOp::create(b, loc, same, one, e);
  }

  /// One element of member i's maximum and the sum of exp(x - maximum)
  /// after it in one walk (the online softmax of Milakov and Gimelshein):
  /// each thread keeps its maximum so far m and its sum s relative to it,
  /// an element x making them max(m, x) and s * exp(m - x) + 1 where
  /// x > m, s + exp(x - m) otherwise (one exp an element).
  SmallVector<Value> onlineStep(OpBuilder &b, int i, Value x, Value m,
                                Value s) {
    const Member &max = run.members[i];
    Location loc = max.op.getLoc();
    Value top = combine(b, loc, max.reduce, m, x);
    Value e = rescale(b, loc, arith::MinimumFOp::create(b, loc, m, x), top);
    Value grows =
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, m);
    Value one = arith::ConstantOp::create(b, loc, s.getType(),
                                          b.getFloatAttr(s.getType(), 1.0));
    Value rescaled =
        arith::AddFOp::create(b, loc, arith::MulFOp::create(b, loc, s, e), one);
    Value added = arith::AddFOp::create(b, loc, s, e);
    return {top, arith::SelectOp::create(b, loc, grows, rescaled, added)};
  }

  /// The online step over a vector's elements `xs` at once: the maximum M
  /// of m and every x first, then s exp(m - M) + the sum of exp(x - M) (one
  /// exponential an element and one a vector, where onlineStep rescales
  /// at every element that raises the maximum; each exp(x - M) is exact 1
  /// at the maximum). While M is -inf (every element so far is) s stays as
  /// it is: finishOnline rescales it by 0 unless the whole row is -inf,
  /// which makes the sum NaN anyway, as does an infinite M here.
  SmallVector<Value> onlineVector(OpBuilder &b, Location loc, int i, Value m,
                                  Value s, ArrayRef<Value> xs) {
    const Member &max = run.members[i];
    Value top = m;
    for (Value x : xs)
      top = combine(b, loc, max.reduce, top, x);
    auto expOf = [&](Value x) -> Value {
      return math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, x, top));
    };
    Value sum = arith::MulFOp::create(b, loc, s, expOf(m));
    for (Value x : xs)
      sum = arith::AddFOp::create(b, loc, sum, expOf(x));
    Type type = top.getType();
    Value none = arith::CmpFOp::create(
        b, loc, arith::CmpFPredicate::OEQ, top,
        arith::ConstantOp::create(
            b, loc, type,
            b.getFloatAttr(type, -std::numeric_limits<double>::infinity())));
    return {top, arith::SelectOp::create(b, loc, none, s, sum)};
  }

  /// The row's maximum (member i) and sum (member k) from each thread's m
  /// and s: the sums rescaled to the row's maximum before they are added.
  /// Only the rounding differs from two walks; where the row's maximum is
  /// infinite the sum is NaN, as two walks make it.
  void finishOnline(OpBuilder &b, int i, int k, Value m, Value s) {
    const Member &max = run.members[i];
    Location loc = max.op.getLoc();
    finishReduction(b, i, gpu ? combineRow(b, loc, launch, m, max.reduce) : m);
    Value top = rowValues[i];
    Value sum = arith::MulFOp::create(b, loc, s, rescale(b, loc, m, top));
    if (gpu)
      sum = combineRow(b, loc, launch, sum, gpu::AllReduceOperation::ADD);
    Type type = top.getType();
    Value infinite = arith::CmpFOp::create(
        b, loc, arith::CmpFPredicate::OEQ, math::AbsFOp::create(b, loc, top),
        arith::ConstantOp::create(
            b, loc, type,
            b.getFloatAttr(type, std::numeric_limits<double>::infinity())));
    sum = arith::SelectOp::create(
        b, loc, infinite,
        arith::ConstantOp::create(
            b, loc, type,
            b.getFloatAttr(type, std::numeric_limits<double>::quiet_NaN())),
        sum);
    finishReduction(b, k, sum);
  }

  Value identityOf(OpBuilder &b, int i) {
    const Member &m = run.members[i];
    Type element = m.op.getRegionOutputArgs()[0].getType();
    return arith::ConstantOp::create(b, m.op.getLoc(), element,
                                     b.getFloatAttr(element, m.identity));
  }

  /// Folds reduction i's total over the row into its output's value, as
  /// the op would, and stores it where something reads it.
  void finishReduction(OpBuilder &b, int i, Value total) {
    const Member &m = run.members[i];
    IRMapping mapping;
    OpOperand *init = m.op.getDpsInitOperand(0);
    mapping.map(m.op.getRegionOutputArgs()[0],
                m.initValue ? m.initValue
                            : read(b, i, *init, rowIndices, nullptr));
    mapping.map(m.reduced, total);
    rowValues[i] = b.clone(*m.combiner, mapping)->getResult(0);
    if (m.stored)
      storeRowValue(b, i);
  }

  /// A value that is 0 at every element of the row but the one where the
  /// row's index equals `key`, a value the same for the whole row held by
  /// member `member`'s body.
  struct OneHot {
    int member;
    Value key;
  };

  /// Whether `v`, a value of member i's body, is `select(j == k, e, 0)`
  /// (j the row's index as an integer, k the same for every element of
  /// the row), directly or as an elementwise member it reads: the
  /// cross-entropy's label log-probability and its gradient's one-hot
  /// selection.
  std::optional<OneHot> oneHot(int i, Value v) const {
    descend(i, v);
    linalg::GenericOp op = run.members[i].op;
    unsigned last = op.getNumLoops() - 1;
    auto select = v.getDefiningOp<arith::SelectOp>();
    if (!select || select->getBlock() != op.getBody() ||
        !matchPattern(select.getFalseValue(), m_AnyZeroFloat()))
      return std::nullopt;
    auto compare = select.getCondition().getDefiningOp<arith::CmpIOp>();
    if (!compare || compare.getPredicate() != arith::CmpIPredicate::eq)
      return std::nullopt;
    for (auto [index, key] : {std::pair(compare.getLhs(), compare.getRhs()),
                              std::pair(compare.getRhs(), compare.getLhs())})
      if (isRowIndex(index, last) && sameForTheRow(op, key, last))
        return OneHot{i, key};
    return std::nullopt;
  }

  /// Follows `v`, a value of member i's body, into the elementwise members
  /// it reads element for element: (i, v) become the member and the value
  /// its body yields.
  void descend(int &i, Value &v) const {
    while (auto arg = dyn_cast<BlockArgument>(v)) {
      const Member &m = run.members[i];
      if (arg.getOwner() != m.op.getBody())
        return;
      OpOperand *operand = m.op.getMatchingOpOperand(arg);
      int writer = m.writers[operand->getOperandNumber()];
      if (m.op.isDpsInit(operand) || writer < 0 ||
          run.members[writer].kind != Kind::Elementwise ||
          !m.op.getMatchingIndexingMap(operand).isIdentity())
        return;
      i = writer;
      v = run.members[writer].op.getBody()->getTerminator()->getOperand(0);
    }
  }

  /// Whether `a` of member ma's body and `b` of member mb's body compute
  /// the same value at the same element: the same ops on the same
  /// operands, read the same way.
  bool sameValue(int ma, Value a, int mb, Value b) const {
    descend(ma, a);
    descend(mb, b);
    if (ma == mb && a == b)
      return true;
    linalg::GenericOp opA = run.members[ma].op, opB = run.members[mb].op;
    auto argA = dyn_cast<BlockArgument>(a);
    auto argB = dyn_cast<BlockArgument>(b);
    bool ownA = argA && argA.getOwner() == opA.getBody();
    bool ownB = argB && argB.getOwner() == opB.getBody();
    if (ownA || ownB) {
      if (!ownA || !ownB)
        return false;
      OpOperand *oa = opA.getMatchingOpOperand(argA);
      OpOperand *ob = opB.getMatchingOpOperand(argB);
      if (opA.isDpsInit(oa) || opB.isDpsInit(ob))
        return false;
      int wa = run.members[ma].writers[oa->getOperandNumber()];
      int wb = run.members[mb].writers[ob->getOperandNumber()];
      return wa == wb && (wa >= 0 || oa->get() == ob->get()) &&
             opA.getMatchingIndexingMap(oa) == opB.getMatchingIndexingMap(ob);
    }
    Operation *da = a.getDefiningOp(), *db = b.getDefiningOp();
    bool inA = da && da->getBlock() == opA.getBody();
    bool inB = db && db->getBlock() == opB.getBody();
    if (!inA || !inB) {
      Attribute ca, cb;
      return !inA && !inB &&
             (a == b || (matchPattern(a, m_Constant(&ca)) &&
                         matchPattern(b, m_Constant(&cb)) && ca == cb &&
                         a.getType() == b.getType()));
    }
    if (cast<OpResult>(a).getResultNumber() !=
        cast<OpResult>(b).getResultNumber())
      return false;
    if (auto ia = dyn_cast<linalg::IndexOp>(da)) {
      auto ib = dyn_cast<linalg::IndexOp>(db);
      return ib && ia.getDim() == ib.getDim();
    }
    return da->getNumRegions() == 0 &&
           OperationEquivalence::isEquivalentTo(
               da, db,
               [&](Value x, Value y) {
                 return success(sameValue(ma, x, mb, y));
               },
               nullptr, OperationEquivalence::IgnoreLocations);
  }

  /// The sum after member i's maximum (the next member that is not an
  /// unstored elementwise one) when it adds exp(x - maximum) over the row,
  /// x the maximum's own element (a softmax's denominator, the
  /// cross-entropy's): one walk can compute both.
  std::optional<int> onlineSum(int i) const {
    const Member &max = run.members[i];
    using K = gpu::AllReduceOperation;
    Type type = max.op.getRegionOutputArgs()[0].getType();
    if (max.kind != Kind::Reduction ||
        (max.reduce != K::MAXIMUMF && max.reduce != K::MAXNUMF) ||
        !isa<FloatType>(type))
      return std::nullopt;
    int k = i + 1, n = int(run.members.size());
    while (k < n && run.members[k].kind == Kind::Elementwise &&
           !run.members[k].stored)
      ++k;
    if (k == n || run.members[k].kind != Kind::Reduction ||
        run.members[k].reduce != K::ADD ||
        run.members[k].op.getRegionOutputArgs()[0].getType() != type)
      return std::nullopt;
    int at = k;
    Value x = run.members[k].reduced;
    descend(at, x);
    auto exp = x.getDefiningOp<math::ExpOp>();
    if (!exp || exp->getBlock() != run.members[at].op.getBody())
      return std::nullopt;
    Value difference = exp.getOperand();
    descend(at, difference);
    auto sub = difference.getDefiningOp<arith::SubFOp>();
    if (!sub || sub->getBlock() != run.members[at].op.getBody())
      return std::nullopt;
    // The subtrahend is the maximum's row value, read as it is.
    auto top = dyn_cast<BlockArgument>(sub.getRhs());
    linalg::GenericOp reader = run.members[at].op;
    if (!top || top.getOwner() != reader.getBody())
      return std::nullopt;
    OpOperand *operand = reader.getMatchingOpOperand(top);
    if (reader.isDpsInit(operand) ||
        run.members[at].writers[operand->getOperandNumber()] != i ||
        !sameValue(at, sub.getLhs(), i, max.reduced))
      return std::nullopt;
    return k;
  }

  /// Whether `v` is the loop index `last` (as an index or cast to an
  /// integer).
  static bool isRowIndex(Value v, unsigned last) {
    if (auto cast = v.getDefiningOp<arith::IndexCastOp>())
      v = cast.getIn();
    auto index = v.getDefiningOp<linalg::IndexOp>();
    return index && index.getDim() == last;
  }

  /// Whether `v`, a value in `op`'s body, is the same for every element of
  /// a row: computed without the loop index `last` from operands that
  /// `op` does not index by it.
  static bool sameForTheRow(linalg::GenericOp op, Value v, unsigned last) {
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (arg.getOwner() != op.getBody())
        return true;
      OpOperand *operand = op.getMatchingOpOperand(arg);
      return !op.isDpsInit(operand) &&
             !op.getMatchingIndexingMap(operand).isFunctionOfDim(last);
    }
    Operation *def = v.getDefiningOp();
    if (def->getBlock() != op.getBody())
      return true;
    if (auto index = dyn_cast<linalg::IndexOp>(def))
      return index.getDim() != last;
    return isPure(def) && def->getNumRegions() == 0 &&
           llvm::all_of(def->getOperands(), [&](Value operand) {
             return sameForTheRow(op, operand, last);
           });
  }

  /// The total of reduction i, a sum of a one-hot selection: its value at
  /// the row's element `key` (0 where the key is outside the row), instead
  /// of a walk over the row adding zeros to it. Every thread computes it.
  Value gatherOneHot(OpBuilder &b, int i, const OneHot &hot) {
    Location loc = run.members[i].op.getLoc();
    // The key is the same at every element: take it at the row's first.
    SmallVector<Value> first(rowIndices);
    first.push_back(indexConstant(b, loc, 0));
    Value key = evaluateValue(b, hot.member, hot.key, first);
    if (!key.getType().isIndex())
      key = arith::IndexCastOp::create(b, loc, b.getIndexType(), key);
    Value inRow = arith::AndIOp::create(
        b, loc,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, key,
                              indexConstant(b, loc, 0)),
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, key,
                              indexConstant(b, loc, run.space.length)));
    Value identity = identityOf(b, i);
    auto choose = scf::IfOp::create(b, loc, TypeRange{identity.getType()},
                                    inRow, /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(choose.thenBlock());
      SmallVector<Value> at(rowIndices);
      at.push_back(key);
      scf::YieldOp::create(b, loc, evaluate(b, i, at, nullptr, identity));
      b.setInsertionPointToStart(choose.elseBlock());
      scf::YieldOp::create(b, loc, identity);
    }
    return choose.getResult(0);
  }

  /// `v`, a value of member i's body, at `indices`: the ops of the body
  /// it depends on, cloned.
  Value evaluateValue(OpBuilder &b, int i, Value v, ArrayRef<Value> indices) {
    linalg::GenericOp op = run.members[i].op;
    IRMapping mapping;
    std::function<Value(Value)> at = [&](Value x) -> Value {
      if (Value known = mapping.lookupOrNull(x))
        return known;
      if (auto arg = dyn_cast<BlockArgument>(x)) {
        if (arg.getOwner() != op.getBody())
          return x;
        Value r = read(b, i, *op.getMatchingOpOperand(arg), indices, nullptr);
        mapping.map(x, r);
        return r;
      }
      Operation *def = x.getDefiningOp();
      if (def->getBlock() != op.getBody())
        return x;
      if (auto index = dyn_cast<linalg::IndexOp>(def)) {
        mapping.map(x, indices[index.getDim()]);
        return indices[index.getDim()];
      }
      for (Value operand : def->getOperands())
        at(operand);
      b.clone(*def, mapping);
      return mapping.lookup(x);
    };
    return at(v);
  }

  /// The first thread of the row stores a per-row value, after every thread
  /// has read what it replaces (with a warp per row, the barrier waits for
  /// the block's other rows too: every thread of a block has a row).
  void storeRowValue(OpBuilder &b, int i) {
    const Member &m = run.members[i];
    Location loc = m.op.getLoc();
    Value output = m.op.getDpsInitOperand(0)->get();
    if (!gpu) {
      memref::StoreOp::create(b, loc, rowValues[i], output, rowIndices);
      return;
    }
    gpu::BarrierOp::create(b, loc);
    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                        thread, indexConstant(b, loc, 0));
    scf::IfOp::create(b, loc, first, [&](OpBuilder &ib, Location l) {
      memref::StoreOp::create(ib, l, rowValues[i], output, rowIndices);
      scf::YieldOp::create(ib, l);
    });
  }

  void emitStore(OpBuilder &b, int i) {
    const Member &m = run.members[i];
    Value output = m.op.getDpsInitOperand(0)->get();
    rowLoop(b, ValueRange(),
            [&](OpBuilder &lb, ArrayRef<Value> indices,
                ValueRange) -> SmallVector<Value> {
              DenseMap<int, Value> cache;
              Value v = evaluate(lb, i, indices, &cache);
              memref::StoreOp::create(lb, m.op.getLoc(), v, output, indices);
              return {};
            });
  }

  /// Operand `operand` of member i at `indices` (the member's loops): a
  /// member's value where one wrote the buffer, a load otherwise.
  Value read(OpBuilder &b, int i, OpOperand &operand, ArrayRef<Value> indices,
             DenseMap<int, Value> *cache) {
    const Member &m = run.members[i];
    Value v = operand.get();
    if (!isa<MemRefType>(v.getType()))
      return v;
    int writer = m.writers[operand.getOperandNumber()];
    if (writer >= 0) {
      if (run.members[writer].kind == Kind::Elementwise)
        return evaluate(b, writer, indices, cache);
      return rowValues.lookup(writer);
    }
    SmallVector<Value> at;
    for (AffineExpr e : m.op.getMatchingIndexingMap(&operand).getResults())
      at.push_back(indices[cast<AffineDimExpr>(e).getPosition()]);
    return memref::LoadOp::create(b, m.op.getLoc(), v, at);
  }

  /// Member i's body at `indices`; a reduction's output argument is
  /// `partial` and its value the combiner's.
  Value evaluate(OpBuilder &b, int i, ArrayRef<Value> indices,
                 DenseMap<int, Value> *cache, Value partial = nullptr) {
    if (cache && !partial)
      if (Value known = cache->lookup(i))
        return known;
    const Member &m = run.members[i];
    linalg::GenericOp op = m.op;
    IRMapping mapping;
    for (OpOperand &operand : op->getOpOperands()) {
      BlockArgument arg = op.getMatchingBlockArgument(&operand);
      if (op.isDpsInit(&operand) && m.kind == Kind::Reduction) {
        mapping.map(arg, partial);
        continue;
      }
      if (arg.use_empty())
        continue;
      mapping.map(arg, read(b, i, operand, indices, cache));
    }
    for (Operation &inner : op.getRegion().front().without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
        mapping.map(index.getResult(), indices[index.getDim()]);
        continue;
      }
      b.clone(inner, mapping);
    }
    Value result =
        m.kind == Kind::Reduction
            ? mapping.lookup(m.combiner->getResult(0))
            : mapping.lookupOrDefault(
                  op.getRegion().front().getTerminator()->getOperand(0));
    if (cache && !partial)
      (*cache)[i] = result;
    return result;
  }

  const Run &run;
  bool gpu;
  int64_t threads;
  Unrolling unroll;
  int64_t warpRowLength;
  int64_t longRowThreads;
  int64_t vectorBytes;
  RowLaunch launch;
  int64_t step = 1;
  Value row, thread;
  SmallVector<Value> rowIndices;
  DenseMap<int, Value> rowValues;
  /// The loops over the row, unrolled once the kernel is built.
  SmallVector<scf::ForOp> pendingUnroll;
  /// The online maximum and sum of the walks in pendingUnroll that have one.
  DenseMap<Operation *, LaneFold> laneFolds;
};

struct FuseRowsPass
    : public mlir::autopar::impl::FuseRowsPassBase<FuseRowsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(checkRowOptions(getOperation(), "autopar-fuse-rows", threads,
                               unroll, warpRowLength, longRowThreads,
                               vectorBytes, loadsFirstBytes)))
      return signalPassFailure();
    SmallVector<Block *> blocks;
    getOperation().walk([&](Block *block) {
      if (!block->getParentOp()->getParentOfType<gpu::LaunchOp>() &&
          !isa<gpu::LaunchOp>(block->getParentOp()))
        blocks.push_back(block);
    });
    for (Block *block : blocks)
      fuseBlock(*block);
  }

  void fuseBlock(Block &block) {
    SmallVector<Operation *> ops;
    for (Operation &op : block)
      ops.push_back(&op);
    std::vector<Run> runs;
    Run current;
    auto close = [&] {
      if (current.members.size() >= 2 && current.hasReduction())
        runs.push_back(std::move(current));
      current = Run();
    };
    for (Operation *op : ops) {
      if (auto generic = dyn_cast<linalg::GenericOp>(op)) {
        Space space = current.space;
        if (std::optional<Member> m = classify(generic, space, minSize)) {
          if (current.members.empty())
            current.space = space;
          if (current.add(std::move(*m)))
            continue;
        }
        // An op of another row space: a reduction starts a run of its own;
        // an elementwise op that is independent of the run stays between
        // its members; a small op that reads what the run writes sinks
        // after it.
        Space fresh;
        std::optional<Member> m = classify(generic, fresh, minSize);
        Run::Between place =
            current.members.empty() ? Run::Between::No : current.place(op);
        if (place == Run::Between::Sink) {
          current.sink(op);
          continue;
        }
        if ((!m || m->kind != Kind::Reduction) && place == Run::Between::Stay) {
          current.between.push_back(op);
          continue;
        }
        close();
        if (m) {
          current.space = fresh;
          current.add(std::move(*m));
        }
        continue;
      }
      if (!current.members.empty()) {
        Run::Between place = current.place(op);
        if (place == Run::Between::Sink) {
          current.sink(op);
          continue;
        }
        if (place == Run::Between::Stay) {
          current.between.push_back(op);
          continue;
        }
      }
      close();
    }
    close();
    llvm::SetVector<Value> dropped;
    for (Run &run : runs)
      rewrite(run, dropped);
    // Buffers nothing reads or writes any more.
    for (Value buffer : dropped) {
      auto alloc = buffer.getDefiningOp<memref::AllocOp>();
      if (!alloc ||
          !llvm::all_of(buffer.getUsers(), llvm::IsaPred<memref::DeallocOp>))
        continue;
      for (Operation *user : llvm::make_early_inc_range(buffer.getUsers()))
        user->erase();
      alloc.erase();
    }
  }

  /// The fill that last wrote a reduction's output, a fresh buffer that
  /// nothing else touches (directly, through a view, or inside a kernel an
  /// earlier run made) between the fill and the reduction.
  static linalg::FillOp initFill(const Member &m) {
    Value buffer = m.op.getDpsInitOperand(0)->get();
    Block *block = m.op->getBlock();
    if (!buffer.getDefiningOp<memref::AllocOp>())
      return nullptr;
    Operation *last = nullptr;
    for (Operation *user : buffer.getUsers()) {
      Operation *at = block->findAncestorOpInBlock(*user);
      if (!at || !at->isBeforeInBlock(m.op))
        continue;
      if (isa<ViewLikeOpInterface>(at))
        return nullptr;
      if (!last || last->isBeforeInBlock(at))
        last = at;
    }
    auto fill = dyn_cast_or_null<linalg::FillOp>(last);
    if (!fill || !fill.hasPureBufferSemantics() ||
        fill.getDpsInitOperand(0)->get() != buffer)
      return nullptr;
    return fill;
  }

  /// Fuses `run`; `dropped` collects the buffers its members no longer
  /// write (freed once every run is done: a later run may hold their
  /// deallocations).
  void rewrite(Run &run, llvm::SetVector<Value> &dropped) {
    llvm::SmallPtrSet<Operation *, 8> memberOps;
    for (const Member &m : run.members)
      memberOps.insert(m.op);
    // A reduction into a fresh buffer that a fill set starts from the
    // fill's value.
    for (Member &m : run.members)
      if (m.kind == Kind::Reduction &&
          m.writers[m.op.getDpsInitOperand(0)->getOperandNumber()] < 0)
        if (linalg::FillOp fill = initFill(m)) {
          m.initValue = fill.getDpsInputOperand(0)->get();
          m.initFill = fill;
        }
    // A result is stored unless only the run, its fill and deallocations
    // use it.
    for (Member &m : run.members) {
      Value init = m.op.getDpsInitOperand(0)->get();
      m.stored = !init.getDefiningOp<memref::AllocOp>() ||
                 llvm::any_of(init.getUsers(), [&](Operation *user) {
                   return !memberOps.contains(user) &&
                          !isa<memref::DeallocOp>(user) &&
                          user != m.initFill.getOperation();
                 });
    }
    Operation *last = run.members.back().op;
    Operation *fused =
        Emitter(run, gpu, threads, Unrolling{unroll, loadsFirstBytes},
                warpRowLength, longRowThreads, vectorBytes)
            .emit();
    // Deallocations and sunk ops between the members now come after the
    // fused op, in their order (ops after the last member stay where they
    // are).
    Operation *at = fused;
    for (Operation *op : run.between)
      if (op->isBeforeInBlock(last) &&
          (isa<memref::DeallocOp>(op) || run.sunk.contains(op))) {
        op->moveAfter(at);
        at = op;
      }
    // A reduction that starts from its fill's value writes every element
    // of its output: the fill, which nothing reads, goes whether or not
    // the result is stored (a layer norm's row sums, kept for the backward
    // pass, would otherwise cost a kernel each).
    for (Member &m : run.members) {
      if (!m.stored)
        dropped.insert(m.op.getDpsInitOperand(0)->get());
      if (m.initFill)
        m.initFill.erase();
    }
    for (Member &m : llvm::reverse(run.members))
      m.op.erase();
  }
};

} // namespace
