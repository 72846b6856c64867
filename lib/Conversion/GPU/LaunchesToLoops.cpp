//===- LaunchesToLoops.cpp - gpu.launch bodies as host loops --------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// autopar-launches-to-loops: each gpu.launch runs on the host, so that a
// module's kernels (merged or not, with their barriers and shuffles) can be
// checked on a CPU against the code they were made from.
//
// A launch whose threads never wait for each other becomes one scf.parallel
// over its blocks and threads. A launch whose threads cooperate within a
// block (barriers, warp shuffles, workgroup memory: the row kernels) runs
// its blocks one after the other, and each block's body in *steps*: the
// ops between two points where threads meet run for every thread in turn
// (a loop over the block's threads), and a value one step makes and a
// later one reads waits in an array with an element per thread. A shuffle
// is a step of its own that reads another thread's element; a barrier
// only ends a step. Control flow holding such points runs once for the
// whole block: an scf.if runs both branches, each thread in the branch its
// condition picks (a mask per thread); an scf.for runs until no thread's
// loop goes on, each thread while its own induction variable is below its
// bound. Threads run in the order CUDA numbers them (x fastest), warps of
// 32 consecutive threads.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "Launches.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_LAUNCHESTOLOOPSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using mlir::autopar::cooperation;
using mlir::autopar::regionArguments;

namespace {

constexpr int64_t kWarp = 32;

/// Whether `op` is, or holds, a point where a block's threads meet.
bool meets(Operation *op) {
  return op
      ->walk([](Operation *o) {
        return isa<gpu::BarrierOp, gpu::ShuffleOp, gpu::AllReduceOp,
                   gpu::SubgroupReduceOp>(o)
                   ? WalkResult::interrupt()
                   : WalkResult::advance();
      })
      .wasInterrupted();
}

/// A launch's blocks run one after the other, each in steps (above).
class BlockSteps {
public:
  BlockSteps(gpu::LaunchOp launch, OpBuilder &arrays, Value threads)
      : launch(launch), arrays(arrays), threads(threads) {}

  /// Values the same for all the block's threads (block indices, sizes,
  /// workgroup buffers).
  IRMapping uniform;
  /// The buffers made for the launch (freed after it).
  SmallVector<Value> allocated;

  /// Emits `block`'s ops (a region of the launch) at `b` for the threads
  /// whose element of `active` is set (all where null); the terminator's
  /// operands go to `results`' arrays.
  LogicalResult emitBlock(OpBuilder &b, Block &block, Value active,
                          ArrayRef<Value> results) {
    SmallVector<Operation *> step;
    for (Operation &op : block.without_terminator()) {
      if (!meets(&op)) {
        step.push_back(&op);
        continue;
      }
      if (failed(emitStep(b, step, active)))
        return failure();
      step.clear();
      if (failed(emitMeeting(b, &op, active)))
        return failure();
    }
    if (failed(emitStep(b, step, active)))
      return failure();
    if (results.empty())
      return success();
    Operation *terminator = block.getTerminator();
    return forEachThread(b, active, [&](OpBuilder &b, Value t, IRMapping &map) {
      for (auto [v, array] : llvm::zip(terminator->getOperands(), results)) {
        FailureOr<Value> got = lookup(b, map, v, t);
        if (failed(got))
          return failure();
        memref::StoreOp::create(b, v.getLoc(), *got, array, t);
      }
      return success();
    });
  }

private:
  gpu::LaunchOp launch;
  OpBuilder &arrays; ///< Where the per-thread arrays are allocated.
  Value threads;     ///< The block's number of threads.
  DenseMap<Value, Value> arrayOf;

  bool inLaunch(Value v) {
    return launch.getBody().isAncestor(v.getParentRegion());
  }

  Value newArray(Type type) {
    auto memref = MemRefType::get({ShapedType::kDynamic}, type);
    Value a = memref::AllocOp::create(arrays, launch.getLoc(), memref,
                                      ValueRange{threads});
    allocated.push_back(a);
    return a;
  }

  /// `v`'s array, made if needed; null if `v` cannot be an element.
  Value arrayFor(Value v) {
    if (Value a = arrayOf.lookup(v))
      return a;
    Type type = v.getType();
    if (!type.isIntOrIndexOrFloat() && !isa<VectorType>(type))
      return nullptr;
    return arrayOf[v] = newArray(type);
  }

  /// `v` as thread `t` sees it in the step being built (`map`): its own
  /// value outside the launch, the step's value, its array's element, or
  /// (a view or other op without effects) computed again.
  FailureOr<Value> lookup(OpBuilder &b, IRMapping &map, Value v, Value t) {
    if (!inLaunch(v))
      return v;
    if (Value m = map.lookupOrNull(v))
      return m;
    if (Value a = arrayOf.lookup(v)) {
      Value e = memref::LoadOp::create(b, v.getLoc(), a, t);
      map.map(v, e);
      return e;
    }
    Operation *def = v.getDefiningOp();
    if (!def || def->getNumRegions() || !isMemoryEffectFree(def))
      return emitError(v.getLoc())
             << "autopar-launches-to-loops: a value of type " << v.getType()
             << " crosses a point where the block's threads meet";
    if (failed(mapOperands(b, map, def, t)))
      return failure();
    b.clone(*def, map);
    return map.lookup(v);
  }

  /// Maps what `op` (and the regions in it) uses from above.
  LogicalResult mapOperands(OpBuilder &b, IRMapping &map, Operation *op,
                            Value t) {
    llvm::SetVector<Value> used(op->getOperands().begin(),
                                op->getOperands().end());
    for (Region &r : op->getRegions())
      getUsedValuesDefinedAbove(r, r, used);
    for (Value v : used)
      if (failed(lookup(b, map, v, t)))
        return failure();
    return success();
  }

  /// Emits a loop over the block's threads running `body` for each active
  /// one, with the thread indices mapped.
  LogicalResult forEachThread(
      OpBuilder &b, Value active,
      function_ref<LogicalResult(OpBuilder &, Value, IRMapping &)> body) {
    Location loc = launch.getLoc();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(b, loc, zero, threads, one);
    OpBuilder in = OpBuilder::atBlockTerminator(loop.getBody());
    Value t = loop.getInductionVar();
    if (active) {
      Value on = memref::LoadOp::create(in, loc, active, t);
      auto branch = scf::IfOp::create(in, loc, on, /*withElse=*/false);
      in.setInsertionPoint(branch.thenBlock()->getTerminator());
    }
    IRMapping map = threadMap(in, t);
    return body(in, t, map);
  }

  /// The uniform values and thread `t`'s indices (x fastest).
  IRMapping threadMap(OpBuilder &b, Value t) {
    Location loc = launch.getLoc();
    IRMapping map = uniform;
    std::array<Value, 12> args = regionArguments(launch);
    Value sx = map.lookup(args[9]), sy = map.lookup(args[10]);
    Value xy = arith::MulIOp::create(b, loc, sx, sy);
    map.map(args[3], arith::RemUIOp::create(b, loc, t, sx));
    map.map(args[4], arith::RemUIOp::create(
                         b, loc, arith::DivUIOp::create(b, loc, t, sx), sy));
    map.map(args[5], arith::DivUIOp::create(b, loc, t, xy));
    return map;
  }

  /// Ops no thread waits in the middle of, for every active thread.
  LogicalResult emitStep(OpBuilder &b, ArrayRef<Operation *> ops,
                         Value active) {
    if (ops.empty())
      return success();
    // The results a later step or the block's terminator reads wait in
    // arrays.
    llvm::SmallPtrSet<Operation *, 16> here(ops.begin(), ops.end());
    Block *block = ops.front()->getBlock();
    SmallVector<Value> kept;
    for (Operation *op : ops)
      for (Value r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *user) {
              return !here.contains(block->findAncestorOpInBlock(*user));
            })) {
          if (!arrayFor(r) && (op->getNumRegions() || !isMemoryEffectFree(op)))
            return op->emitError()
                   << "autopar-launches-to-loops: a value of type "
                   << r.getType()
                   << " crosses a point where the block's threads meet";
          if (arrayOf.lookup(r))
            kept.push_back(r);
        }
    return forEachThread(b, active, [&](OpBuilder &b, Value t, IRMapping &map) {
      for (Operation *op : ops) {
        if (failed(mapOperands(b, map, op, t)))
          return failure();
        b.clone(*op, map);
      }
      for (Value r : kept)
        memref::StoreOp::create(b, r.getLoc(), map.lookup(r), arrayOf[r], t);
      return success();
    });
  }

  /// An op where threads meet, or that holds one.
  LogicalResult emitMeeting(OpBuilder &b, Operation *op, Value active) {
    if (isa<gpu::BarrierOp>(op))
      return success();
    if (auto shuffle = dyn_cast<gpu::ShuffleOp>(op))
      return emitShuffle(b, shuffle, active);
    if (auto reduce = dyn_cast<gpu::AllReduceOp>(op))
      return emitAllReduce(b, reduce, active);
    if (auto branch = dyn_cast<scf::IfOp>(op))
      return emitIf(b, branch, active);
    if (auto loop = dyn_cast<scf::ForOp>(op))
      return emitFor(b, loop, active);
    return op->emitError() << "autopar-launches-to-loops: cannot run "
                           << op->getName() << " a thread at a time";
  }

  /// Each thread reads the shuffled value's element of its source lane, as
  /// NVVM's lowering of gpu.shuffle clamps it (shfl.sync: lanes at or past
  /// `width` are invalid; going up, lanes below 32 - `width`).
  LogicalResult emitShuffle(OpBuilder &b, gpu::ShuffleOp shuffle,
                            Value active) {
    Location loc = shuffle.getLoc();
    Value value = shuffle.getValue();
    Value values = inLaunch(value) ? arrayFor(value) : Value();
    Value out = arrayFor(shuffle.getShuffleResult());
    Value valid = arrayFor(shuffle.getValid());
    if ((inLaunch(value) && !values) || !out)
      return shuffle.emitError()
             << "autopar-launches-to-loops: cannot shuffle a "
             << value.getType();
    gpu::ShuffleMode mode = shuffle.getMode();
    return forEachThread(b, active, [&](OpBuilder &b, Value t, IRMapping &map) {
      FailureOr<Value> offset = lookup(b, map, shuffle.getOffset(), t);
      FailureOr<Value> width = lookup(b, map, shuffle.getWidth(), t);
      if (failed(offset) || failed(width))
        return failure();
      auto c = [&](int64_t v) {
        return arith::ConstantIndexOp::create(b, loc, v);
      };
      auto index = [&](Value v) {
        return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
      };
      Value off = index(*offset), w = index(*width);
      Value lane = arith::RemUIOp::create(b, loc, t, c(kWarp));
      Value base = arith::SubIOp::create(b, loc, t, lane);
      Value src;
      Value ok;
      switch (mode) {
      case gpu::ShuffleMode::XOR:
        src = arith::XOrIOp::create(b, loc, lane, off);
        break;
      case gpu::ShuffleMode::DOWN:
        src = arith::AddIOp::create(b, loc, lane, off);
        break;
      case gpu::ShuffleMode::IDX:
        src = off;
        break;
      case gpu::ShuffleMode::UP:
        src = arith::SubIOp::create(b, loc, lane, off);
        ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, src,
                                   arith::SubIOp::create(b, loc, c(kWarp), w));
        break;
      }
      if (!ok)
        ok = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, src, w);
      Value from = arith::AddIOp::create(b, loc, base, src);
      ok = arith::AndIOp::create(
          b, loc, ok,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, from,
                                threads));
      from = arith::SelectOp::create(b, loc, ok, from, t);
      Value got = values
                      ? memref::LoadOp::create(b, loc, values, from).getResult()
                      : value;
      memref::StoreOp::create(b, loc, got, out, t);
      if (valid)
        memref::StoreOp::create(b, loc, ok, valid, t);
      return success();
    });
  }

  /// The active threads' values combined in the threads' order, then given
  /// to each of them.
  LogicalResult emitAllReduce(OpBuilder &b, gpu::AllReduceOp reduce,
                              Value active) {
    Location loc = reduce.getLoc();
    Value value = reduce.getValue();
    Value out = arrayFor(reduce.getResult());
    Value values = inLaunch(value) ? arrayFor(value) : out;
    Block *body =
        reduce.getBody().empty() ? nullptr : &reduce.getBody().front();
    llvm::SetVector<Value> above;
    getUsedValuesDefinedAbove(reduce.getBody(), reduce.getBody(), above);
    if (!out || !values || (!reduce.getOp() && !body) ||
        llvm::any_of(above, [&](Value v) { return inLaunch(v); }))
      return reduce.emitError()
             << "autopar-launches-to-loops: cannot run this reduction";
    if (!inLaunch(value) &&
        failed(
            forEachThread(b, active, [&](OpBuilder &b, Value t, IRMapping &) {
              memref::StoreOp::create(b, loc, value, values, t);
              return success();
            })))
      return failure();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value first = memref::LoadOp::create(b, loc, values, zero);
    Value no = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
    auto loop =
        scf::ForOp::create(b, loc, zero, threads, one, ValueRange{first, no});
    OpBuilder in = OpBuilder::atBlockBegin(loop.getBody());
    Value t = loop.getInductionVar();
    Value acc = loop.getRegionIterArgs()[0], seen = loop.getRegionIterArgs()[1];
    Value v = memref::LoadOp::create(in, loc, values, t);
    Value both;
    if (std::optional<gpu::AllReduceOperation> kind = reduce.getOp()) {
      both = vector::makeArithReduction(
          in, loc, gpu::convertReductionKind(*kind), acc, v);
    } else {
      IRMapping map;
      map.map(body->getArgument(0), acc);
      map.map(body->getArgument(1), v);
      for (Operation &op : body->without_terminator())
        in.clone(op, map);
      both = map.lookup(body->getTerminator()->getOperand(0));
    }
    Value next = arith::SelectOp::create(in, loc, seen, both, v);
    Value on = active ? memref::LoadOp::create(in, loc, active, t).getResult()
                      : arith::ConstantIntOp::create(in, loc, in.getI1Type(), 1)
                            .getResult();
    scf::YieldOp::create(
        in, loc,
        ValueRange{arith::SelectOp::create(in, loc, on, next, acc),
                   arith::OrIOp::create(in, loc, seen, on)});
    Value total = loop.getResult(0);
    return forEachThread(b, active, [&](OpBuilder &b, Value t, IRMapping &) {
      memref::StoreOp::create(b, loc, total, out, t);
      return success();
    });
  }

  /// Both branches, each for the threads its condition picks.
  LogicalResult emitIf(OpBuilder &b, scf::IfOp branch, Value active) {
    Location loc = branch.getLoc();
    Type i1 = b.getI1Type();
    Value thenActive = newArray(i1), elseActive = newArray(i1);
    if (failed(forEachThread(
            b, active, [&](OpBuilder &b, Value t, IRMapping &map) {
              FailureOr<Value> cond = lookup(b, map, branch.getCondition(), t);
              if (failed(cond))
                return failure();
              Value yes = arith::ConstantIntOp::create(b, loc, i1, 1);
              memref::StoreOp::create(b, loc, *cond, thenActive, t);
              memref::StoreOp::create(b, loc,
                                      arith::XOrIOp::create(b, loc, *cond, yes),
                                      elseActive, t);
              return success();
            })))
      return failure();
    // Where a thread is inactive, the branch's loops leave its mask set:
    // clear them first.
    if (active && failed(clearInactive(b, active, {thenActive, elseActive})))
      return failure();
    SmallVector<Value> results;
    for (Value r : branch.getResults()) {
      Value a = arrayFor(r);
      if (!a)
        return branch.emitError()
               << "autopar-launches-to-loops: a result of type " << r.getType()
               << " crosses a point where threads meet";
      results.push_back(a);
    }
    if (failed(emitBlock(b, *branch.thenBlock(), thenActive, results)))
      return failure();
    if (branch.elseBlock() &&
        failed(emitBlock(b, *branch.elseBlock(), elseActive, results)))
      return failure();
    return success();
  }

  /// Sets `masks`' elements to false for the threads `active` leaves out.
  LogicalResult clearInactive(OpBuilder &b, Value active,
                              ArrayRef<Value> masks) {
    Location loc = launch.getLoc();
    return forEachThread(
        b, /*active=*/nullptr, [&](OpBuilder &b, Value t, IRMapping &) {
          Value on = memref::LoadOp::create(b, loc, active, t);
          Value no = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 0);
          for (Value m : masks) {
            Value old = memref::LoadOp::create(b, loc, m, t);
            memref::StoreOp::create(
                b, loc, arith::SelectOp::create(b, loc, on, old, no), m, t);
          }
          return success();
        });
  }

  /// Rounds of the loop until no active thread's continues.
  LogicalResult emitFor(OpBuilder &b, scf::ForOp loop, Value active) {
    Location loc = loop.getLoc();
    Value iv = arrayFor(loop.getInductionVar());
    SmallVector<Value> carried;
    for (auto [arg, result] :
         llvm::zip(loop.getRegionIterArgs(), loop.getResults())) {
      Value a = arrayFor(arg);
      if (!a)
        return loop.emitError()
               << "autopar-launches-to-loops: a value of type " << arg.getType()
               << " crosses a point where threads meet";
      arrayOf[result] = a;
      carried.push_back(a);
    }
    if (failed(forEachThread(
            b, active, [&](OpBuilder &b, Value t, IRMapping &map) {
              FailureOr<Value> lb = lookup(b, map, loop.getLowerBound(), t);
              if (failed(lb))
                return failure();
              memref::StoreOp::create(b, loc, *lb, iv, t);
              for (auto [init, a] : llvm::zip(loop.getInitArgs(), carried)) {
                FailureOr<Value> v = lookup(b, map, init, t);
                if (failed(v))
                  return failure();
                memref::StoreOp::create(b, loc, *v, a, t);
              }
              return success();
            })))
      return failure();
    Value going = newArray(b.getI1Type());
    auto rounds = scf::WhileOp::create(b, loc, TypeRange{}, ValueRange{});
    {
      // Before each round: which threads go on, and whether any does.
      Block *before = b.createBlock(&rounds.getBefore());
      OpBuilder in = OpBuilder::atBlockBegin(before);
      Value zero = arith::ConstantIndexOp::create(in, loc, 0);
      Value one = arith::ConstantIndexOp::create(in, loc, 1);
      Value no = arith::ConstantIntOp::create(in, loc, in.getI1Type(), 0);
      auto any =
          scf::ForOp::create(in, loc, zero, threads, one, ValueRange{no});
      OpBuilder body = OpBuilder::atBlockBegin(any.getBody());
      Value t = any.getInductionVar();
      IRMapping map = threadMap(body, t);
      FailureOr<Value> ub = lookup(body, map, loop.getUpperBound(), t);
      if (failed(ub))
        return failure();
      Value at = memref::LoadOp::create(body, loc, iv, t);
      Value on = arith::CmpIOp::create(body, loc,
                                       loop.getUnsignedCmp()
                                           ? arith::CmpIPredicate::ult
                                           : arith::CmpIPredicate::slt,
                                       at, *ub);
      if (active)
        on = arith::SelectOp::create(
            body, loc, memref::LoadOp::create(body, loc, active, t), on, no);
      memref::StoreOp::create(body, loc, on, going, t);
      scf::YieldOp::create(body, loc,
                           ValueRange{arith::OrIOp::create(
                               body, loc, any.getRegionIterArgs()[0], on)});
      scf::ConditionOp::create(in, loc, any.getResult(0), ValueRange{});
    }
    Block *after = b.createBlock(&rounds.getAfter());
    OpBuilder in = OpBuilder::atBlockBegin(after);
    if (failed(emitBlock(in, *loop.getBody(), going, carried)))
      return failure();
    if (failed(forEachThread(
            in, going, [&](OpBuilder &b, Value t, IRMapping &map) {
              FailureOr<Value> step = lookup(b, map, loop.getStep(), t);
              if (failed(step))
                return failure();
              Value at = memref::LoadOp::create(b, loc, iv, t);
              memref::StoreOp::create(
                  b, loc, arith::AddIOp::create(b, loc, at, *step), iv, t);
              return success();
            })))
      return failure();
    scf::YieldOp::create(in, loc);
    b.setInsertionPointAfter(rounds);
    return success();
  }
};

/// Before each vector load or store in `launch`'s body, an assertion that
/// its first element is a multiple of the vector's bytes from the start of
/// its buffer: the GPU's 8- and 16-byte accesses fault on other addresses
/// (CUDA_ERROR_MISALIGNED_ADDRESS; its buffers start 256-byte aligned, so
/// the offset into the buffer is what can be wrong), where a CPU reads them
/// anyway. Workgroup buffers are the block's own and left out.
void checkAlignment(gpu::LaunchOp launch) {
  launch.getBody().walk([](Operation *op) {
    Value memref;
    ValueRange indices;
    VectorType type;
    if (auto load = dyn_cast<vector::LoadOp>(op)) {
      memref = load.getBase();
      indices = load.getIndices();
      type = load.getVectorType();
    } else if (auto store = dyn_cast<vector::StoreOp>(op)) {
      memref = store.getBase();
      indices = store.getIndices();
      type = store.getVectorType();
    } else {
      return;
    }
    auto buffer = cast<MemRefType>(memref.getType());
    if (gpu::GPUDialect::isWorkgroupMemoryAddressSpace(
            buffer.getMemorySpace()) ||
        !type.getElementType().isIntOrFloat())
      return;
    int64_t element = type.getElementTypeBitWidth() / 8;
    int64_t bytes = type.getNumElements() * element;
    if (type.getRank() != 1 || element == 0 || bytes <= element ||
        !llvm::isPowerOf2_64(uint64_t(bytes)))
      return;
    OpBuilder b(op);
    Location loc = op->getLoc();
    auto metadata = memref::ExtractStridedMetadataOp::create(b, loc, memref);
    Value at = metadata.getOffset();
    for (auto [index, stride] : llvm::zip(indices, metadata.getStrides()))
      at = arith::AddIOp::create(b, loc, at,
                                 arith::MulIOp::create(b, loc, index, stride));
    Value offset = arith::MulIOp::create(
        b, loc, at, arith::ConstantIndexOp::create(b, loc, element));
    Value aligned = arith::CmpIOp::create(
        b, loc, arith::CmpIPredicate::eq,
        arith::RemUIOp::create(b, loc, offset,
                               arith::ConstantIndexOp::create(b, loc, bytes)),
        arith::ConstantIndexOp::create(b, loc, 0));
    std::string message =
        ("autopar-launches-to-loops: a vector " + op->getName().getStringRef() +
         " of " + Twine(bytes) +
         " bytes at a byte offset into its buffer that is not a multiple "
         "of " +
         Twine(bytes) + " (on the GPU: a misaligned address)")
            .str();
    cf::AssertOp::create(b, loc, aligned, message);
  });
}

/// A launch whose threads cooperate within blocks, its blocks one after
/// the other (they share the per-thread arrays).
LogicalResult runInSteps(gpu::LaunchOp launch) {
  Location loc = launch.getLoc();
  OpBuilder b(launch);
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues(),
                  sizes = launch.getBlockSizeOperandValues();
  Value threads = arith::MulIOp::create(
      b, loc, arith::MulIOp::create(b, loc, sizes.x, sizes.y), sizes.z);
  // The blocks, x fastest; the buffers allocated before them (heap: the
  // launch may be in a loop) and freed after.
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  OpBuilder arrays(b.getContext());
  BlockSteps steps(launch, arrays, threads);
  std::array<Value, 12> args = regionArguments(launch);
  Value bounds[] = {grid.z, grid.y, grid.x};
  scf::ForOp outer;
  for (int d = 0; d < 3; ++d) {
    auto loop = scf::ForOp::create(b, loc, zero, bounds[d], one);
    if (d == 0)
      outer = loop;
    steps.uniform.map(args[2 - d], loop.getInductionVar());
    b.setInsertionPoint(loop.getBody()->getTerminator());
  }
  arrays.setInsertionPoint(outer);
  Value operands[] = {grid.x, grid.y, grid.z, sizes.x, sizes.y, sizes.z};
  for (int i = 0; i < 6; ++i)
    steps.uniform.map(args[6 + i], operands[i]);
  for (BlockArgument buffer : launch.getWorkgroupAttributions()) {
    auto type = cast<MemRefType>(buffer.getType());
    for (Operation *user : buffer.getUsers())
      if (!isa<memref::LoadOp, memref::StoreOp, vector::LoadOp,
               vector::StoreOp>(user))
        return user->emitError()
               << "autopar-launches-to-loops: workgroup memory used by "
               << user->getName();
    if (!type.hasStaticShape())
      return launch.emitError()
             << "autopar-launches-to-loops: workgroup memory of type " << type;
    Value local = memref::AllocOp::create(
        arrays, loc, MemRefType::get(type.getShape(), type.getElementType()));
    steps.allocated.push_back(local);
    steps.uniform.map(buffer, local);
  }
  if (failed(steps.emitBlock(b, launch.getBody().front(), nullptr, {})))
    return failure();
  b.setInsertionPointAfter(outer);
  for (Value buffer : steps.allocated)
    memref::DeallocOp::create(b, loc, buffer);
  launch.erase();
  return success();
}

struct LaunchesToLoopsPass
    : public mlir::autopar::impl::LaunchesToLoopsPassBase<LaunchesToLoopsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp l) { launches.push_back(l); });
    for (gpu::LaunchOp launch : launches) {
      if (checkAlignment)
        ::checkAlignment(launch);
      if (Operation *op = cooperation(launch, /*withinBlocks=*/true)) {
        InFlightDiagnostic d =
            launch.emitError()
            << "autopar-launches-to-loops: cannot run the launch on the "
               "host: its threads meet other than within their block, or "
               "find where they are other than from its arguments";
        if (op != launch)
          d.attachNote(op->getLoc()) << "here: " << op->getName();
        return signalPassFailure();
      }
      if (cooperation(launch)) {
        if (failed(runInSteps(launch)))
          return signalPassFailure();
        continue;
      }
      OpBuilder b(launch);
      Location loc = launch.getLoc();
      Value zero = arith::ConstantIndexOp::create(b, loc, 0);
      Value one = arith::ConstantIndexOp::create(b, loc, 1);
      gpu::KernelDim3 grid = launch.getGridSizeOperandValues(),
                      block = launch.getBlockSizeOperandValues();
      SmallVector<Value> upper = {grid.x,  grid.y,  grid.z,
                                  block.x, block.y, block.z};
      auto loop = scf::ParallelOp::create(b, loc, SmallVector<Value>(6, zero),
                                          upper, SmallVector<Value>(6, one));
      b.setInsertionPointToStart(loop.getBody());
      IRMapping map;
      for (auto [i, f] : llvm::enumerate(regionArguments(launch)))
        map.map(f, i < 6 ? loop.getInductionVars()[i] : upper[i - 6]);
      for (Operation &op : launch.getBody().front().without_terminator())
        b.clone(op, map);
      launch.erase();
    }
  }
};

} // namespace
