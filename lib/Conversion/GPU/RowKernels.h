//===- RowKernels.h - what the row-kernel passes share ----------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Helpers of autopar-row-reductions-to-gpu and autopar-fuse-rows, which both
// build kernels of a block or a warp per row.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_LIB_CONVERSION_GPU_ROWKERNELS_H
#define AUTOPAR_LIB_CONVERSION_GPU_ROWKERNELS_H

#include "Buffers.h"

#include "mlir/Analysis/AliasAnalysis/LocalAliasAnalysis.h"
#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <utility>

namespace mlir::autopar::rows {

/// The gpu.all_reduce operation of a reduction's combiner (addf, mulf, a
/// float max or min) and its identity.
inline std::optional<std::pair<gpu::AllReduceOperation, double>>
reductionKind(Operation *combiner) {
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

inline Value indexConstant(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// `linear` split into indices of loops of `sizes` (row-major).
inline SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear,
                                      ArrayRef<int64_t> sizes) {
  SmallVector<Value> indices(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    Value size = indexConstant(b, loc, sizes[d]);
    indices[d] = d == 0 ? linear : arith::RemUIOp::create(b, loc, linear, size);
    if (d > 0)
      linear = arith::DivUIOp::create(b, loc, linear, size);
  }
  return indices;
}

/// Where a row kernel's threads are. A row is either a block's (`step`
/// threads, the row's length rounded up to a warp, at most `threads`,
/// combining through gpu.all_reduce: shuffles, shared memory and barriers)
/// or a warp's (`step` 32, up to threads / 32 rows a block, combining with
/// five shuffles and no barrier): rows of at most `warpRowLength` elements
/// take a warp each where every value combined across the row is an f32
/// (the shuffles move 32 bits).
struct RowLaunch {
  gpu::LaunchOp launch;
  Value row;    ///< the row's linear index
  Value thread; ///< the thread's first element of the row
  int64_t step = 1;
  bool warp = false;
};

/// Whether rows of `length` elements whose combined values have `types`
/// take a warp each.
inline bool warpRows(int64_t length, int64_t warpRowLength, TypeRange types) {
  return length <= warpRowLength &&
         llvm::all_of(types, [](Type t) { return t.isF32(); });
}

/// Checks the options the row-kernel passes share, reporting the first bad
/// one on `op` as `pass: ...`.
inline LogicalResult
checkRowOptions(Operation *op, StringRef pass, int64_t threads, int64_t unroll,
                int64_t warpRowLength, int64_t longRowThreads,
                int64_t vectorBytes, int64_t loadsFirstBytes) {
  if (loadsFirstBytes < 0)
    return op->emitError() << pass
                           << ": loads-first-bytes must not be negative, not "
                           << loadsFirstBytes;
  if (vectorBytes != 0 && (vectorBytes < 2 || vectorBytes > 64 ||
                           !llvm::isPowerOf2_64(uint64_t(vectorBytes))))
    return op->emitError() << pass
                           << ": vector-bytes must be 0 or a power of two in "
                              "2..64, not "
                           << vectorBytes;
  auto warps = [](int64_t n) { return n >= 32 && n <= 1024 && n % 32 == 0; };
  if (!warps(threads))
    return op->emitError() << pass
                           << ": threads must be a multiple of 32 in "
                              "32..1024, not "
                           << threads;
  if (unroll < 1)
    return op->emitError() << pass << ": unroll must be at least 1, not "
                           << unroll;
  if (warpRowLength < 0)
    return op->emitError() << pass
                           << ": warp-row-length must be at least 0, not "
                           << warpRowLength;
  if (longRowThreads != 0 && !warps(longRowThreads))
    return op->emitError() << pass
                           << ": long-row-threads must be 0 or a multiple "
                              "of 32 in 32..1024, not "
                           << longRowThreads;
  return success();
}

/// Threads of a block that takes a row of `length` elements: `threads`, or
/// `longRowThreads` where the row has at least 16 elements for each of
/// them. A row walked more than once is read again from the L2 cache only
/// if it is still there: gpt2-small's cross-entropy rows (50257 bf16
/// logits, 100 KB) in blocks of 256 threads were about 1000 rows (100 MB)
/// in flight at a time on an H100, twice its L2; blocks of 1024 keep the
/// same threads busy on a quarter of the rows.
inline int64_t rowBlockThreads(int64_t length, int64_t threads,
                               int64_t longRowThreads) {
  if (longRowThreads > threads && length >= 16 * longRowThreads)
    return longRowThreads;
  return threads;
}

/// A gpu.launch over `rows` rows of `length` elements, a warp per row when
/// `warp`, and the builder inside it. A block takes the most rows up to
/// threads / 32 that divide `rows`, so that every thread of every block
/// has a row (barriers need no guard).
inline RowLaunch createRowLaunch(OpBuilder &b, Location loc, int64_t rows,
                                 int64_t length, int64_t threads, bool warp) {
  RowLaunch r;
  r.warp = warp;
  Value one = indexConstant(b, loc, 1);
  if (!warp) {
    r.step = std::min<int64_t>(threads, (length + 31) / 32 * 32);
    r.launch =
        gpu::LaunchOp::create(b, loc, indexConstant(b, loc, rows), one, one,
                              indexConstant(b, loc, r.step), one, one);
    b.setInsertionPointToStart(&r.launch.getBody().front());
    r.row = r.launch.getBlockIds().x;
    r.thread = r.launch.getThreadIds().x;
    return r;
  }
  r.step = 32;
  int64_t perBlock = std::max<int64_t>(threads / 32, 1);
  while (rows % perBlock)
    --perBlock;
  r.launch = gpu::LaunchOp::create(
      b, loc, indexConstant(b, loc, rows / perBlock), one, one,
      indexConstant(b, loc, 32), indexConstant(b, loc, perBlock), one);
  b.setInsertionPointToStart(&r.launch.getBody().front());
  r.row = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(b, loc, r.launch.getBlockIds().x,
                            indexConstant(b, loc, perBlock)),
      r.launch.getThreadIds().y);
  r.thread = r.launch.getThreadIds().x;
  return r;
}

/// `x` and `y` combined as `kind` does.
inline Value combine(OpBuilder &b, Location loc, gpu::AllReduceOperation kind,
                     Value x, Value y) {
  using K = gpu::AllReduceOperation;
  switch (kind) {
  case K::ADD:
    return arith::AddFOp::create(b, loc, x, y);
  case K::MUL:
    return arith::MulFOp::create(b, loc, x, y);
  case K::MAXIMUMF:
    return arith::MaximumFOp::create(b, loc, x, y);
  case K::MINIMUMF:
    return arith::MinimumFOp::create(b, loc, x, y);
  case K::MAXNUMF:
    return arith::MaxNumFOp::create(b, loc, x, y);
  case K::MINNUMF:
    return arith::MinNumFOp::create(b, loc, x, y);
  default:
    llvm_unreachable("autopar row kernels combine floats only");
  }
}

/// The threads' `partial` values of a row combined as `kind`, the same in
/// every thread of the row: gpu.all_reduce over the block, or a butterfly
/// of shuffles (xor 16, 8, 4, 2, 1) over the warp.
inline Value combineRow(OpBuilder &b, Location loc, const RowLaunch &r,
                        Value partial, gpu::AllReduceOperation kind) {
  if (!r.warp)
    return gpu::AllReduceOp::create(
        b, loc, partial, gpu::AllReduceOperationAttr::get(b.getContext(), kind),
        b.getUnitAttr());
  for (int32_t offset = 16; offset >= 1; offset /= 2) {
    auto shuffle = gpu::ShuffleOp::create(b, loc, partial, offset, 32,
                                          gpu::ShuffleMode::XOR);
    partial = combine(b, loc, kind, partial, shuffle.getShuffleResult());
  }
  return partial;
}

/// The buffer `op` reads, if it is a load (of an element or a vector).
inline Value loadedBuffer(Operation *op) {
  if (auto load = dyn_cast<memref::LoadOp>(op))
    return load.getMemRef();
  if (auto load = dyn_cast<vector::LoadOp>(op))
    return load.getBase();
  return nullptr;
}

/// The buffer `op` writes, if it is a store (of an element or a vector) or
/// an atomic update.
inline Value storedBuffer(Operation *op) {
  if (auto store = dyn_cast<memref::StoreOp>(op))
    return store.getMemRef();
  if (auto store = dyn_cast<vector::StoreOp>(op))
    return store.getBase();
  if (auto update = dyn_cast<memref::AtomicRMWOp>(op))
    return update.getMemref();
  return nullptr;
}

/// Moves the loads of `body` (elements and vectors, with the index
/// arithmetic they need) ahead of its other operations, in their order,
/// where that keeps every load's value: a load passes no store or atomic
/// update whose buffer may be the load's (`apart`: distinct allocations,
/// an allocation and a function argument, a result passed out and another
/// argument).
/// Unrolled, a walk then issues all its loads before it waits for the
/// first: neither a branch in the arithmetic (erf's) nor a store that
/// ptxas must assume aliases (the last walk of a row kernel writes as it
/// goes) holds the later loads back. Leaves a body with any other
/// operation with effects or regions as it is. The loads moved take at
/// most `maxBytes` a thread (the rest stay where they are): each moved
/// load holds its registers from the front of the body to its use, and
/// past about 32 registers a thread the SM runs fewer threads. 128 bytes
/// are 8 unrolled trips over 4 rows of floats, what runs 15-18 measured,
/// or 8 vectors of 16 bytes.
inline void loadsFirst(Block *body, int64_t maxBytes = 128) {
  SmallVector<Value> written;
  SmallVector<Operation *> loads;
  for (Operation &op : body->without_terminator()) {
    if (loadedBuffer(&op))
      loads.push_back(&op);
    else if (Value w = storedBuffer(&op))
      written.push_back(w);
    else if (op.getNumRegions() != 0 || !isMemoryEffectFree(&op))
      return;
  }
  LocalAliasAnalysis aliases;
  Operation *last = nullptr; // the last operation moved to the front
  DenseSet<Operation *> moved;
  auto moveToFront = [&](Operation *op) {
    if (!moved.insert(op).second)
      return;
    if (last)
      op->moveAfter(last);
    else
      op->moveBefore(&body->front());
    last = op;
  };
  // A load may move where no store or update in the body may write its
  // buffer and every load its indices come from (a gather's) may move too.
  auto movable = [&](Operation *load) {
    return llvm::none_of(written, [&](Value w) {
      return !apart(w, loadedBuffer(load), aliases);
    });
  };
  auto bytes = [](Operation *load) {
    Type t = load->getResult(0).getType();
    if (auto v = dyn_cast<VectorType>(t))
      return v.getNumElements() * v.getElementTypeBitWidth() / 8;
    return int64_t(t.isIntOrFloat() ? t.getIntOrFloatBitWidth() / 8 : 8);
  };
  int64_t inFlight = 0;
  for (Operation *load : loads) {
    if (!movable(load))
      continue;
    BackwardSliceOptions options;
    options.filter = [&](Operation *op) { return op->getBlock() == body; };
    SetVector<Operation *> slice;
    if (failed(getBackwardSlice(load, &slice, options)) ||
        llvm::any_of(slice, [&](Operation *op) {
          return loadedBuffer(op) ? !movable(op) : !isMemoryEffectFree(op);
        }))
      continue;
    // A load the front already has (a row's label, read by each
    // element's one-hot compare) is that load: no store comes between.
    auto same = [&](Operation *op) -> Operation * {
      for (Operation *earlier : moved)
        if (loadedBuffer(earlier) &&
            OperationEquivalence::isEquivalentTo(
                op, earlier, OperationEquivalence::exactValueMatch, nullptr,
                OperationEquivalence::IgnoreLocations))
          return earlier;
      return nullptr;
    };
    if (llvm::all_of(slice, [&](Operation *op) {
          return !loadedBuffer(op) || moved.contains(op);
        }))
      if (Operation *earlier = same(load)) {
        load->replaceAllUsesWith(earlier);
        load->erase();
        continue;
      }
    int64_t more = bytes(load);
    for (Operation *op : slice)
      if (loadedBuffer(op) && !moved.contains(op))
        more += bytes(op);
    if (inFlight + more > maxBytes)
      break;
    inFlight += more;
    for (Operation *op : slice) // producers first
      moveToFront(op);
    moveToFront(load);
  }
}

/// How a thread's loop over a row is unrolled: `factor` trips together,
/// and at most `loadsFirstBytes` of their loads first (loadsFirst).
struct Unrolling {
  int64_t factor = 8;
  int64_t loadsFirstBytes = 128;
};

/// Unrolls `loop`, which runs from its thread's first element to `length`
/// by `step`, by `unroll.factor`, or by the fewest iterations any thread makes
/// where those are fewer (a remainder loop takes the rest), so that a
/// thread has that many loads in flight instead of waiting for each before
/// it issues the next. Each thread still folds its elements in the same
/// order, so results do not change. Call it after the last use of the
/// loop's results is built: the remainder loop takes them over. The
/// unrolled body's loads go first (loadsFirst).
inline void unrollRowLoop(scf::ForOp loop, int64_t length, int64_t step,
                          const Unrolling &unroll) {
  int64_t trips = step > 0 ? length / step : 0;
  int64_t factor = std::min(unroll.factor, trips);
  if (factor < 2)
    return;
  // The main loop, unless unrolling left none (one trip: its body promoted
  // into the enclosing block).
  FailureOr<UnrolledLoopInfo> unrolled =
      loopUnrollByFactor(loop, uint64_t(factor));
  if (succeeded(unrolled) && unrolled->mainLoopOp)
    loadsFirst(unrolled->mainLoopOp->getBody(), unroll.loadsFirstBytes);
}

/// Iteration values of a row walk that a vector's elements update together
/// rather than one after another: `count` of them from `first`, each
/// element contributing `element` (a value of the loop's body that does not
/// depend on them), `fold` giving their new values from the old ones and
/// the vector's elements in order. The online softmax's maximum and sum
/// (autopar-fuse-rows): one maximum over the vector, one rescaling of the
/// sum, an exponential an element, where element after element each
/// rescales.
struct LaneFold {
  unsigned first = 0, count = 0;
  Value element;
  std::function<SmallVector<Value>(OpBuilder &, Location, ValueRange,
                                   ArrayRef<Value>)>
      fold;
};

/// Gives each thread of a row walk `for j = thread to length step step`
/// `width` consecutive elements a trip, read as one vector where the buffers
/// allow: `for j = thread * width to length' step step * width` (length'
/// the largest multiple of `width` up to `length`), the elements' vector
/// loads first, then the body once per element in order (each folding into
/// the previous one's iteration values), then the stores of buffers no load
/// may read as vectors; a loop of the original body over the rest of the
/// row (at most width - 1 elements) follows with the results. A load or
/// store qualifies as in autopar-tile-loops-for-gpu: its innermost index is
/// j, its buffer and other indices come from outside the loop, its
/// buffer's layout and origin keep `width` elements aligned
/// (alignedColumns). `width` is the most elements of the widest such access
/// in `maxBytes`. Each thread folds other elements than before (a block's
/// threads take consecutive vectors), so sums are reassociated
/// differently. Returns the loop to unroll and sets `step` and `length` to
/// its own, or returns `loop` as it is. The iteration values of `laneFold`
/// (where given and nothing but its own operations uses them) take the
/// vector's elements at once.
inline scf::ForOp vectorizeRowLoop(scf::ForOp loop, int64_t &length,
                                   int64_t &step, int64_t maxBytes,
                                   const LaneFold *laneFold = nullptr) {
  if (maxBytes < 4 || getConstantIntValue(loop.getStep()) != step ||
      getConstantIntValue(loop.getUpperBound()) != length)
    return loop;
  Block *body = loop.getBody();
  Value iv = loop.getInductionVar();
  SmallVector<memref::LoadOp> loads;
  SmallVector<memref::StoreOp> stores;
  SmallVector<Value> readBuffers;
  // The vectors are loaded ahead of the lanes: their buffers and other
  // indices come from outside the loop.
  auto qualifies = [&](Value memref, ValueRange indices) {
    return !indices.empty() && indices.back() == iv &&
           loop.isDefinedOutsideOfLoop(memref) &&
           llvm::all_of(
               indices.drop_back(),
               [&](Value v) { return loop.isDefinedOutsideOfLoop(v); }) &&
           alignedColumns(memref, 2);
  };
  for (Operation &op : body->without_terminator()) {
    op.walk([&](memref::LoadOp l) { readBuffers.push_back(l.getMemRef()); });
    if (auto load = dyn_cast<memref::LoadOp>(op)) {
      if (qualifies(load.getMemRef(), load.getIndices()))
        loads.push_back(load);
    } else if (auto store = dyn_cast<memref::StoreOp>(op)) {
      if (qualifies(store.getMemRef(), store.getIndices()))
        stores.push_back(store);
    }
  }
  // A store stays per element where a load of the body may read its
  // buffer (the element a later lane loads would not be written yet).
  LocalAliasAnalysis aliases;
  llvm::erase_if(stores, [&](memref::StoreOp store) {
    return llvm::any_of(readBuffers, [&](Value r) {
      return !apart(r, store.getMemRef(), aliases);
    });
  });
  SmallVector<Value> buffers;
  for (memref::LoadOp l : loads)
    buffers.push_back(l.getMemRef());
  for (memref::StoreOp st : stores)
    buffers.push_back(st.getMemRef());
  int64_t width =
      vectorWidth(buffers, maxBytes, [&](int64_t w) { return length >= w; });
  if (width < 2)
    return loop;
  llvm::SmallPtrSet<Operation *, 16> vectorized;
  for (memref::LoadOp l : loads)
    vectorized.insert(l);
  for (memref::StoreOp st : stores)
    vectorized.insert(st);
  // The operations that depend on the folded iteration values: left out of
  // the lanes, replaced by one fold a vector. Only where nothing else uses
  // them and the element does not depend on them.
  llvm::SmallPtrSet<Operation *, 16> folded;
  if (laneFold && laneFold->count > 0) {
    SetVector<Operation *> slice;
    for (unsigned i = 0; i < laneFold->count; ++i)
      getForwardSlice(loop.getRegionIterArgs()[laneFold->first + i], &slice);
    folded.insert(slice.begin(), slice.end());
    folded.erase(body->getTerminator());
    Operation *element = laneFold->element.getDefiningOp();
    bool own = !(element && folded.contains(element)) &&
               llvm::all_of(folded, [](Operation *op) {
                 return isMemoryEffectFree(op) && op->getNumRegions() == 0;
               });
    for (Operation *op : folded)
      for (OpOperand &use : op->getUses())
        if (use.getOwner() == body->getTerminator()
                ? use.getOperandNumber() < laneFold->first ||
                      use.getOperandNumber() >=
                          laneFold->first + laneFold->count
                : !folded.contains(use.getOwner()))
          own = false;
    if (!own)
      folded.clear();
  }
  int64_t whole = length / width * width;
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  auto c = [&](OpBuilder &bb, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(bb, loc, v);
  };
  Value first =
      arith::MulIOp::create(b, loc, loop.getLowerBound(), c(b, width));
  auto wide = scf::ForOp::create(
      b, loc, first, c(b, whole), c(b, step * width), loop.getInitArgs(),
      [&](OpBuilder &lb, Location l, Value j, ValueRange iters) {
        SmallVector<IRMapping> lanes(width);
        for (int64_t k = 0; k < width; ++k)
          lanes[k].map(
              iv,
              k == 0 ? j : Value(arith::AddIOp::create(lb, l, j, c(lb, k))));
        // j for the loop's index; the other indices come from outside.
        auto indicesOf = [&](ValueRange indices) {
          return llvm::map_to_vector(
              indices, [&](Value v) { return lanes[0].lookupOrDefault(v); });
        };
        // The vectors first, then each element's body in order.
        for (memref::LoadOp load : loads) {
          SmallVector<Value> values = loadLanes(
              lb, l, load.getMemRef(), indicesOf(load.getIndices()), width);
          for (int64_t k = 0; k < width; ++k)
            lanes[k].map(load.getResult(), values[k]);
        }
        SmallVector<Value> carried(iters.begin(), iters.end());
        for (int64_t k = 0; k < width; ++k) {
          lanes[k].map(loop.getRegionIterArgs(), carried);
          for (Operation &op : body->without_terminator())
            if (!vectorized.contains(&op) && !folded.contains(&op))
              lb.clone(op, lanes[k]);
          for (auto [i, v] :
               llvm::enumerate(body->getTerminator()->getOperands()))
            if (folded.empty() || i < laneFold->first ||
                i >= laneFold->first + laneFold->count)
              carried[i] = lanes[k].lookupOrDefault(v);
        }
        if (!folded.empty()) {
          SmallVector<Value> elements;
          for (IRMapping &lane : lanes)
            elements.push_back(lane.lookupOrDefault(laneFold->element));
          SmallVector<Value> next = laneFold->fold(
              lb, l,
              ValueRange(carried).slice(laneFold->first, laneFold->count),
              elements);
          for (unsigned i = 0; i < laneFold->count; ++i)
            carried[laneFold->first + i] = next[i];
        }
        for (memref::StoreOp store : stores) {
          SmallVector<Value> values;
          for (IRMapping &lane : lanes)
            values.push_back(lane.lookupOrDefault(store.getValueToStore()));
          storeLanes(lb, l, values, store.getMemRef(),
                     indicesOf(store.getIndices()));
        }
        scf::YieldOp::create(lb, l, carried);
      });
  SmallVector<Value> results(wide.getResults());
  if (whole < length) {
    // The rest of the row, an element a thread as before.
    Value start =
        arith::AddIOp::create(b, loc, c(b, whole), loop.getLowerBound());
    auto rest = scf::ForOp::create(
        b, loc, start, loop.getUpperBound(), loop.getStep(), results,
        [&](OpBuilder &lb, Location l, Value j, ValueRange iters) {
          IRMapping map;
          map.map(iv, j);
          map.map(loop.getRegionIterArgs(), iters);
          for (Operation &op : body->without_terminator())
            lb.clone(op, map);
          scf::YieldOp::create(
              lb, l,
              llvm::map_to_vector(
                  body->getTerminator()->getOperands(),
                  [&](Value v) { return map.lookupOrDefault(v); }));
        });
    results.assign(rest.getResults().begin(), rest.getResults().end());
  }
  loop->replaceAllUsesWith(results);
  loop.erase();
  length = whole;
  step *= width;
  return wide;
}

} // namespace mlir::autopar::rows

#endif // AUTOPAR_LIB_CONVERSION_GPU_ROWKERNELS_H
