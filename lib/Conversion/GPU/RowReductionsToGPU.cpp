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
// pass gives each row a block instead (a warp where rows are short): its
// threads stride over the row together (neighbours read neighbouring
// elements), each keeps a partial result, `gpu.all_reduce` (warp shuffles
// and shared memory, lowered with the kernel) or a warp's shuffles combine
// them, and the row's first thread combines that with the output's value,
// as the linalg op would.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "Buffers.h"
#include "RowKernels.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <algorithm>

namespace mlir::autopar {
#define GEN_PASS_DEF_ROWREDUCTIONSTOGPUPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar::rows;

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

/// The parts both forms share: parallel loops then reductions, static
/// sizes, the output indexed by the parallel loops in order, one float
/// combiner of the output with a value computed from the inputs.
std::optional<RowReduction> analyze(linalg::GenericOp op) {
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
  OpOperand *init = op.getDpsInitOperand(0);
  AffineMap outMap = op.getMatchingIndexingMap(init);
  if (outMap.getNumResults() != r.parallel)
    return std::nullopt;
  for (auto [i, e] : llvm::enumerate(outMap.getResults()))
    if (e != getAffineDimExpr(unsigned(i), op.getContext()))
      return std::nullopt;
  if (!isa<FloatType>(getElementTypeOrSelf(init->get().getType())))
    return std::nullopt;
  for (OpOperand *input : op.getDpsInputOperands())
    if (!isa<MemRefType>(input->get().getType()) ||
        !op.getMatchingIndexingMap(input).isProjectedPermutation())
      return std::nullopt;
  BlockArgument out = op.getRegionOutputArgs()[0];
  SmallVector<Operation *> combiners;
  r.reduced = matchReduction(op.getRegionOutputArgs(), 0, combiners);
  if (!r.reduced || combiners.size() != 1 || !out.hasOneUse())
    return std::nullopt;
  r.combiner = combiners.front();
  auto kind = reductionKind(r.combiner);
  if (!kind)
    return std::nullopt;
  r.kind = kind->first;
  r.identity = kind->second;
  return r;
}

/// Whether every input that loop `loop` indexes has it as its last,
/// unit-stride dimension.
bool contiguousAlong(linalg::GenericOp op, unsigned loop) {
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    std::optional<unsigned> at =
        map.getResultPosition(getAffineDimExpr(loop, op.getContext()));
    if (at && (*at + 1 != map.getNumResults() ||
               !innermostContiguous(cast<MemRefType>(input->get().getType()))))
      return false;
  }
  return true;
}

int64_t product(ArrayRef<int64_t> sizes) {
  int64_t p = 1;
  for (int64_t s : sizes)
    p *= s;
  return p;
}

/// A row reduction: the innermost (reduced) loop runs along the inputs'
/// contiguous dimension, at least `minSize` elements per output.
std::optional<RowReduction> matchRows(linalg::GenericOp op, int64_t minSize) {
  std::optional<RowReduction> r = analyze(op);
  if (!r || product(ArrayRef(r->sizes).drop_front(r->parallel)) < minSize ||
      !contiguousAlong(op, op.getNumLoops() - 1))
    return std::nullopt;
  return r;
}

/// A column sum: the innermost parallel loop runs along the inputs'
/// contiguous dimension and the reduced ones across it (a bias gradient's
/// sum over the batch and positions), at least `minSize` rows.
std::optional<RowReduction> matchColumns(linalg::GenericOp op,
                                         int64_t minSize) {
  std::optional<RowReduction> r = analyze(op);
  if (!r || r->parallel == 0 || r->kind != gpu::AllReduceOperation::ADD ||
      product(ArrayRef(r->sizes).drop_front(r->parallel)) < minSize ||
      !contiguousAlong(op, r->parallel - 1))
    return std::nullopt;
  return r;
}

/// Folds the element at `indices` (every loop's index) into `partial` with
/// the op's body: its inputs loaded, the combiner applied last. `mapping`
/// takes the body's values to the ones built here.
Value foldElement(OpBuilder &b, Location loc, const RowReduction &r,
                  ArrayRef<Value> indices, Value partial, IRMapping &mapping) {
  linalg::GenericOp op = r.op;
  for (OpOperand *input : op.getDpsInputOperands()) {
    SmallVector<Value> at;
    for (AffineExpr e : op.getMatchingIndexingMap(input).getResults())
      at.push_back(indices[cast<AffineDimExpr>(e).getPosition()]);
    mapping.map(op.getMatchingBlockArgument(input),
                memref::LoadOp::create(b, loc, input->get(), at));
  }
  mapping.map(op.getRegionOutputArgs()[0], partial);
  for (Operation &inner : op.getRegion().front().without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      mapping.map(index.getResult(), indices[index.getDim()]);
      continue;
    }
    b.clone(inner, mapping);
  }
  return mapping.lookup(r.combiner->getResult(0));
}

/// An elementwise op that a column sum's kernel computes too (a sibling):
/// it follows the sum with nothing in between but allocations and ops
/// without memory effects, reads only buffers the sum reads, each through
/// the same indexing (its loops matched to the sum's by `dims`), and writes
/// only fresh allocations, every element once. In a bf16 step the GELU's
/// derivative is such a sum's (the bias gradient's) and its rounding for
/// the next products such a sibling: both recompute the derivative from the
/// same two buffers; in one kernel they load them once and the backend's
/// common-subexpression elimination computes it once.
struct Sibling {
  linalg::GenericOp op;
  SmallVector<unsigned> dims;       ///< the sum's loop for each loop
  SmallVector<unsigned> inputs;     ///< the sum's input for each input
  SmallVector<Operation *> hoisted; ///< ops in between, moved first
  /// Another column sum over the same loops (a layer norm's two gradient
  /// sums), folded in the same walk into its own partial sum.
  std::optional<RowReduction> sum;
};

/// `op` as a sibling of the column sum `r`, if it is one; `between` are the
/// ops from `r` to `op`.
std::optional<Sibling> matchSibling(const RowReduction &r, linalg::GenericOp op,
                                    ArrayRef<Operation *> between,
                                    LocalAliasAnalysis &aliases) {
  linalg::GenericOp sum = r.op;
  unsigned n = sum.getNumLoops();
  if (!op.hasPureBufferSemantics() || op.getNumResults() != 0 ||
      op.getNumLoops() != n || op.getNumReductionLoops() != 0)
    return std::nullopt;
  SmallVector<int64_t> sizes = op.getStaticLoopRanges();
  Sibling s;
  s.op = op;
  s.dims.assign(n, n);
  // Each input: one of the sum's, read at the same elements; the loops'
  // correspondence follows from the indexing maps.
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    std::optional<unsigned> found;
    for (OpOperand *candidate : sum.getDpsInputOperands()) {
      if (candidate->get() != input->get())
        continue;
      AffineMap theirs = sum.getMatchingIndexingMap(candidate);
      if (theirs.getNumResults() != map.getNumResults())
        continue;
      SmallVector<unsigned> dims(s.dims);
      bool consistent = true;
      for (auto [mine, other] :
           llvm::zip(map.getResults(), theirs.getResults())) {
        auto a = dyn_cast<AffineDimExpr>(mine);
        auto b = dyn_cast<AffineDimExpr>(other);
        if (!a || !b ||
            (dims[a.getPosition()] != n &&
             dims[a.getPosition()] != b.getPosition())) {
          consistent = false;
          break;
        }
        dims[a.getPosition()] = b.getPosition();
      }
      if (consistent) {
        s.dims = dims;
        found = candidate->getOperandNumber();
        break;
      }
    }
    if (!found)
      return std::nullopt;
    s.inputs.push_back(*found);
  }
  // Every loop matched to one of the sum's, of the same trip count, one to
  // one.
  llvm::SmallBitVector used(n);
  for (unsigned d = 0; d < n; ++d) {
    if (s.dims[d] == n || used.test(s.dims[d]) ||
        ShapedType::isDynamic(sizes[d]) || sizes[d] != r.sizes[s.dims[d]])
      return std::nullopt;
    used.set(s.dims[d]);
  }
  // Outputs: fresh allocations, written once per element, not read, apart
  // from everything the sum reads or writes.
  for (OpOperand &init : op.getDpsInitsMutable()) {
    AffineMap map = op.getMatchingIndexingMap(&init);
    if (!init.get().getDefiningOp<memref::AllocOp>() || !map.isPermutation() ||
        !op.getMatchingBlockArgument(&init).use_empty())
      return std::nullopt;
    for (OpOperand &other : sum->getOpOperands())
      if (!autopar::apart(init.get(), other.get(), aliases))
        return std::nullopt;
  }
  // A body of arithmetic only: it is cloned into the sum's loop.
  for (Operation &inner : op.getRegion().front().without_terminator())
    if (inner.getNumRegions() != 0 || !isMemoryEffectFree(&inner))
      return std::nullopt;
  s.hoisted.assign(between.begin(), between.end());
  return s;
}

/// `c` (a column sum) as a sum sibling of the column sum `r`: loops of the
/// same trip counts, its buffers apart from the ones `r` and the siblings
/// found so far write, its output apart from everything they read. The ops
/// in between may include fills of its output (its zeros, moved ahead of
/// the kernel with the rest).
std::optional<Sibling> matchSumSibling(const RowReduction &r,
                                       const RowReduction &c,
                                       ArrayRef<Sibling> found,
                                       ArrayRef<Operation *> between,
                                       LocalAliasAnalysis &aliases) {
  if (c.sizes != r.sizes || c.parallel != r.parallel)
    return std::nullopt;
  linalg::GenericOp sum = r.op, other = c.op;
  Value out = other.getDpsInitOperand(0)->get();
  for (Operation *op : between)
    if (auto fill = dyn_cast<linalg::FillOp>(op);
        fill && fill.getOutputs()[0] != out)
      return std::nullopt;
  // What the fused kernel reads and writes besides this sum.
  SmallVector<Value> written{sum.getDpsInitOperand(0)->get()};
  SmallVector<Value> read;
  for (OpOperand *o : sum.getDpsInputOperands())
    read.push_back(o->get());
  for (const Sibling &s : found) {
    linalg::GenericOp op = s.op;
    for (OpOperand &o : op->getOpOperands())
      (op.isDpsInit(&o) ? written : read).push_back(o.get());
  }
  for (OpOperand &mine : other->getOpOperands()) {
    for (Value w : written)
      if (!autopar::apart(mine.get(), w, aliases))
        return std::nullopt;
    if (other.isDpsInit(&mine))
      for (Value value : read)
        if (!autopar::apart(mine.get(), value, aliases))
          return std::nullopt;
  }
  Sibling s;
  s.op = c.op;
  s.sum = c;
  s.hoisted.assign(between.begin(), between.end());
  return s;
}

/// The siblings of the column sum `r`: the elementwise ops and column sums
/// right after it that qualify (matchSibling, matchSumSibling), up to the
/// first op that is none of them, an allocation, an op without memory
/// effects or a fill of a sum sibling's output.
SmallVector<Sibling, 2> findSiblings(const RowReduction &r,
                                     LocalAliasAnalysis &aliases,
                                     int64_t minSize) {
  SmallVector<Sibling, 2> siblings;
  SmallVector<Operation *> between;
  for (Operation *next = r.op->getNextNode(); next;
       next = next->getNextNode()) {
    if (auto generic = dyn_cast<linalg::GenericOp>(next)) {
      std::optional<Sibling> s;
      if (std::optional<RowReduction> c = matchColumns(generic, minSize))
        s = matchSumSibling(r, *c, siblings, between, aliases);
      else if (!llvm::any_of(between, llvm::IsaPred<linalg::FillOp>))
        s = matchSibling(r, generic, between, aliases);
      // An elementwise sibling must also write nothing a sum sibling
      // reads or writes.
      if (s && !s->sum)
        for (const Sibling &other : siblings)
          for (OpOperand &init : s->op.getDpsInitsMutable())
            for (OpOperand &o : other.op->getOpOperands())
              if (s && !autopar::apart(init.get(), o.get(), aliases))
                s.reset();
      if (!s)
        break;
      siblings.push_back(std::move(*s));
      between.clear();
      continue;
    }
    bool allocation = isa<memref::AllocOp>(next) && next->getNumOperands() == 0;
    if (!allocation && !isa<linalg::FillOp>(next) &&
        (next->hasTrait<OpTrait::IsTerminator>() ||
         next->getNumRegions() != 0 || !isMemoryEffectFree(next)))
      break;
    between.push_back(next);
  }
  return siblings;
}

/// Computes sibling `s` at the column sum's loop indices `indices` from the
/// values the sum's body loaded (`mapping`), storing each result.
void computeSibling(OpBuilder &b, Location loc, const RowReduction &r,
                    const Sibling &s, ArrayRef<Value> indices,
                    const IRMapping &sumMapping) {
  linalg::GenericOp op = s.op, sum = r.op;
  IRMapping mapping;
  for (auto [i, input] : llvm::enumerate(op.getDpsInputOperands()))
    mapping.map(op.getMatchingBlockArgument(input),
                sumMapping.lookup(sum.getMatchingBlockArgument(
                    &sum->getOpOperand(s.inputs[i]))));
  SmallVector<Value> mine;
  for (unsigned d : s.dims)
    mine.push_back(indices[d]);
  Block &body = op.getRegion().front();
  for (Operation &inner : body.without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(inner)) {
      mapping.map(index.getResult(), mine[index.getDim()]);
      continue;
    }
    b.clone(inner, mapping);
  }
  for (auto [init, yielded] : llvm::zip(op.getDpsInitsMutable(),
                                        body.getTerminator()->getOperands())) {
    SmallVector<Value> at;
    for (AffineExpr e : op.getMatchingIndexingMap(&init).getResults())
      at.push_back(mine[cast<AffineDimExpr>(e).getPosition()]);
    memref::StoreOp::create(b, loc, mapping.lookupOrDefault(yielded),
                            init.get(), at);
  }
}

/// A row reduction: one block (or warp) per output element, threads striding
/// over its row, their partial results combined, the row's first thread
/// folding the total into the output.
void rewriteRows(const RowReduction &r, int64_t threads, Unrolling unroll,
                 int64_t warpRowLength, int64_t longRowThreads,
                 int64_t vectorBytes) {
  linalg::GenericOp op = r.op;
  Location loc = op.getLoc();
  OpBuilder b(op);
  ArrayRef<int64_t> sizes = r.sizes;
  int64_t rows = product(sizes.take_front(r.parallel));
  int64_t length = product(sizes.drop_front(r.parallel));
  BlockArgument out = op.getRegionOutputArgs()[0];
  Type element = out.getType();
  RowLaunch launch = createRowLaunch(
      b, loc, rows, length, rowBlockThreads(length, threads, longRowThreads),
      warpRows(length, warpRowLength, TypeRange{element}));
  Value row = launch.row, thread = launch.thread;
  int64_t block = launch.step;
  SmallVector<Value> rowIndices =
      delinearize(b, loc, row, sizes.take_front(r.parallel));
  Value identity = arith::ConstantOp::create(
      b, loc, element, b.getFloatAttr(element, r.identity));
  // Each thread folds the elements thread, thread + block, ... of its row.
  auto loop = scf::ForOp::create(
      b, loc, thread, indexConstant(b, loc, length),
      indexConstant(b, loc, block), ValueRange{identity},
      [&](OpBuilder &lb, Location l, Value j, ValueRange partial) {
        SmallVector<Value> indices(rowIndices);
        indices.append(delinearize(lb, l, j, sizes.drop_front(r.parallel)));
        IRMapping mapping;
        scf::YieldOp::create(
            lb, l, foldElement(lb, l, r, indices, partial[0], mapping));
      });
  Value total = combineRow(b, loc, launch, loop.getResult(0), r.kind);
  // The row's first thread folds its total into the output.
  Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, thread,
                                      indexConstant(b, loc, 0));
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
  int64_t step = block;
  loop = vectorizeRowLoop(loop, length, step, vectorBytes);
  unrollRowLoop(loop, length, step, unroll);
  op.erase();
}

/// A column sum: blocks of 32 columns (threads along x, reading
/// neighbouring elements) by 8 row groups (y), with enough blocks along y
/// that each thread sums about 32 rows. With `blockSums`, the block's 8
/// partial sums of a column meet in workgroup memory after a barrier and
/// the first row group adds their total into the output atomically: 8
/// times fewer atomic adds on each output element than one a thread
/// (gpt2-small's 768 bias gradients took 256 each, serialized at the L2);
/// without, each thread adds its own.
void rewriteColumns(const RowReduction &r, ArrayRef<Sibling> siblings,
                    Unrolling unroll, bool blockSums) {
  linalg::GenericOp op = r.op;
  Location loc = op.getLoc();
  // What the siblings need (their outputs' allocations) goes first.
  for (const Sibling &s : siblings)
    for (Operation *before : s.hoisted)
      before->moveBefore(op);
  OpBuilder b(op);
  ArrayRef<int64_t> sizes = r.sizes;
  int64_t columns = product(sizes.take_front(r.parallel));
  int64_t rows = product(sizes.drop_front(r.parallel));
  constexpr int64_t width = 32, height = 8, rowsPerThread = 32;
  int64_t groups = std::clamp<int64_t>(
      (rows + height * rowsPerThread - 1) / (height * rowsPerThread), 1, 65535);
  Value one = indexConstant(b, loc, 1);
  auto launch = gpu::LaunchOp::create(
      b, loc, indexConstant(b, loc, (columns + width - 1) / width),
      indexConstant(b, loc, groups), one, indexConstant(b, loc, width),
      indexConstant(b, loc, height), one);
  // The outputs: the sum's and each sum sibling's, with their zeros.
  SmallVector<Value> outputs{op.getDpsInitOperand(0)->get()};
  SmallVector<Type> types{op.getRegionOutputArgs()[0].getType()};
  for (const Sibling &s : siblings)
    if (s.sum) {
      linalg::GenericOp other = s.op;
      outputs.push_back(other.getDpsInitOperand(0)->get());
      types.push_back(other.getRegionOutputArgs()[0].getType());
    }
  // A block's partial sums of each output: [row group][column].
  SmallVector<Value> partials;
  auto workgroup =
      gpu::AddressSpaceAttr::get(b.getContext(), gpu::AddressSpace::Workgroup);
  for (Type type : blockSums ? ArrayRef<Type>(types) : ArrayRef<Type>())
    partials.push_back(launch.addWorkgroupAttribution(
        MemRefType::get({height * width}, type, MemRefLayoutAttrInterface(),
                        workgroup),
        loc));
  b.setInsertionPointToStart(&launch.getBody().front());
  Value tx = launch.getThreadIds().x, ty = launch.getThreadIds().y;
  Value column = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, launch.getBlockIds().x,
                            indexConstant(b, loc, width)),
      tx);
  Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                       column, indexConstant(b, loc, columns));
  auto zerosOf = [&](OpBuilder &zb, Location l) {
    return llvm::map_to_vector(types, [&](Type type) -> Value {
      return arith::ConstantOp::create(zb, l, type, zb.getFloatAttr(type, 0.0));
    });
  };
  scf::ForOp loop;
  auto sums = scf::IfOp::create(
      b, loc, inside,
      [&](OpBuilder &ib, Location l) {
        SmallVector<Value> columnIndices =
            delinearize(ib, l, column, sizes.take_front(r.parallel));
        Value firstRow = arith::AddIOp::create(
            ib, l,
            arith::MulIOp::create(ib, l, launch.getBlockIds().y,
                                  indexConstant(ib, l, height)),
            ty);
        // A partial sum for the sum and one for each sum sibling.
        loop = scf::ForOp::create(
            ib, l, firstRow, indexConstant(ib, l, rows),
            indexConstant(ib, l, height * groups), zerosOf(ib, l),
            [&](OpBuilder &lb, Location ll, Value row, ValueRange partial) {
              SmallVector<Value> indices(columnIndices);
              indices.append(
                  delinearize(lb, ll, row, sizes.drop_front(r.parallel)));
              IRMapping mapping;
              SmallVector<Value> folded{
                  foldElement(lb, ll, r, indices, partial[0], mapping)};
              // The sums first, then the elementwise siblings' stores.
              for (const Sibling &s : siblings)
                if (s.sum) {
                  IRMapping own;
                  folded.push_back(foldElement(lb, ll, *s.sum, indices,
                                               partial[folded.size()], own));
                }
              for (const Sibling &s : siblings)
                if (!s.sum)
                  computeSibling(lb, ll, r, s, indices, mapping);
              scf::YieldOp::create(lb, ll, folded);
            });
        scf::YieldOp::create(ib, l, loop.getResults());
      },
      [&](OpBuilder &eb, Location l) {
        scf::YieldOp::create(eb, l, zerosOf(eb, l));
      });
  if (!blockSums) {
    scf::IfOp::create(b, loc, inside, [&](OpBuilder &ib, Location l) {
      SmallVector<Value> columnIndices =
          delinearize(ib, l, column, sizes.take_front(r.parallel));
      for (auto [sum, out] : llvm::zip(sums.getResults(), outputs))
        memref::AtomicRMWOp::create(ib, l, arith::AtomicRMWKind::addf, sum, out,
                                    columnIndices);
      scf::YieldOp::create(ib, l);
    });
  } else {
    // Every thread's partial sums (zero past the last column) into the
    // block's, then the first row group adds each column's eight.
    Value slot = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, ty, indexConstant(b, loc, width)),
        tx);
    for (auto [sum, partial] : llvm::zip(sums.getResults(), partials))
      memref::StoreOp::create(b, loc, sum, partial, slot);
    gpu::BarrierOp::create(b, loc);
    Value adds = arith::AndIOp::create(
        b, loc, inside,
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, ty,
                              indexConstant(b, loc, 0)));
    scf::IfOp::create(b, loc, adds, [&](OpBuilder &ib, Location l) {
      SmallVector<Value> columnIndices =
          delinearize(ib, l, column, sizes.take_front(r.parallel));
      for (auto [partial, out] : llvm::zip(partials, outputs)) {
        Value total;
        for (int64_t y = 0; y < height; ++y) {
          Value v = memref::LoadOp::create(
              ib, l, partial,
              ValueRange{arith::AddIOp::create(
                  ib, l, tx, indexConstant(ib, l, y * width))});
          total = total ? Value(arith::AddFOp::create(ib, l, total, v)) : v;
        }
        memref::AtomicRMWOp::create(ib, l, arith::AtomicRMWKind::addf, total,
                                    out, columnIndices);
      }
      scf::YieldOp::create(ib, l);
    });
  }
  // Each thread's rows: from its first, by height * groups.
  unrollRowLoop(loop, rows, height * groups, unroll);
  gpu::TerminatorOp::create(b, loc);
  op.erase();
  for (const Sibling &s : siblings) {
    linalg::GenericOp sibling = s.op;
    sibling.erase();
  }
}

struct RowReductionsToGPUPass
    : public mlir::autopar::impl::RowReductionsToGPUPassBase<
          RowReductionsToGPUPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(checkRowOptions(getOperation(), "autopar-row-reductions-to-gpu",
                               threads, unroll, warpRowLength, longRowThreads,
                               vectorBytes, loadsFirstBytes)))
      return signalPassFailure();
    SmallVector<RowReduction> rows, columns;
    getOperation().walk([&](linalg::GenericOp op) {
      if (op->getParentOfType<gpu::LaunchOp>())
        return;
      if (std::optional<RowReduction> r = matchRows(op, minSize))
        rows.push_back(*r);
      else if (std::optional<RowReduction> c = matchColumns(op, minSize))
        columns.push_back(*c);
    });
    for (const RowReduction &r : rows)
      rewriteRows(r, threads, Unrolling{unroll, loadsFirstBytes}, warpRowLength,
                  longRowThreads, vectorBytes);
    LocalAliasAnalysis aliases;
    llvm::SmallPtrSet<Operation *, 16> fused;
    for (const RowReduction &c : columns) {
      if (fused.contains(c.op))
        continue; // a sibling of an earlier sum, computed in its kernel
      SmallVector<Sibling, 2> found;
      if (siblings)
        found = findSiblings(c, aliases, minSize);
      for (const Sibling &s : found)
        fused.insert(s.op);
      rewriteColumns(c, found, Unrolling{unroll, loadsFirstBytes}, blockSums);
    }
  }
};

} // namespace
