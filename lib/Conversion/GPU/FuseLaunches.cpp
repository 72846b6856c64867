//===- FuseLaunches.cpp - independent kernels as one launch ---------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// autopar-fuse-launches: gpu.launch ops that do not depend on each other
// become one launch whose grid is theirs one after the other (horizontal
// fusion). A training step has many small independent kernels: an
// optimizer update per parameter, a rounding to bf16 per weight. Each
// launch costs a gap of a few microseconds on the stream and ends in a
// partly empty wave; one launch over all of them pays that once.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "Buffers.h"
#include "Launches.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"

#include <limits>
#include <memory>

namespace mlir::autopar {
#define GEN_PASS_DEF_FUSELAUNCHESPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

Operation *mlir::autopar::cooperation(gpu::LaunchOp launch, bool withinBlocks) {
  if ((launch.getNumWorkgroupAttributions() && !withinBlocks) ||
      launch.getNumPrivateAttributions() ||
      launch.getDynamicSharedMemorySize() || launch.hasClusterSize() ||
      launch.getAsyncToken() || !launch.getAsyncDependencies().empty() ||
      !launch.getBody().hasOneBlock())
    return launch;
  Operation *found = nullptr;
  launch.getBody().walk([&](Operation *op) {
    StringRef dialect =
        op->getDialect() ? op->getDialect()->getNamespace() : StringRef();
    bool block =
        isa<gpu::BarrierOp, gpu::ShuffleOp, gpu::AllReduceOp, gpu::YieldOp>(op);
    if ((dialect == "gpu" && !isa<gpu::TerminatorOp>(op) &&
         !(withinBlocks && block)) ||
        dialect == "nvvm" || dialect == "llvm") {
      found = op;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return found;
}

std::array<Value, 12> mlir::autopar::regionArguments(gpu::LaunchOp launch) {
  gpu::KernelDim3 bid = launch.getBlockIds(), tid = launch.getThreadIds(),
                  gsz = launch.getGridSize(), bsz = launch.getBlockSize();
  return {bid.x, bid.y, bid.z, tid.x, tid.y, tid.z,
          gsz.x, gsz.y, gsz.z, bsz.x, bsz.y, bsz.z};
}

using mlir::autopar::cooperation;
using mlir::autopar::regionArguments;

namespace {

std::optional<std::array<int64_t, 3>> constantSizes(gpu::KernelDim3 sizes) {
  std::array<int64_t, 3> out;
  Value values[] = {sizes.x, sizes.y, sizes.z};
  for (auto [i, v] : llvm::enumerate(values)) {
    std::optional<int64_t> c = getConstantIntValue(v);
    if (!c || *c < 1)
      return std::nullopt;
    out[i] = *c;
  }
  return out;
}

/// What an op reads and writes: the buffers (their roots, views looked
/// through), or `unknown` where it may touch memory it does not name.
struct Accesses {
  SmallVector<std::pair<Value, bool>> buffers; ///< (root, written)
  bool unknown = false;
};

Accesses accessesOf(Operation *op) {
  Accesses a;
  if (isa<CallOpInterface>(op)) {
    // A call into the runtime reads and writes the buffers it is passed,
    // but for constant globals; a product's (its last operand a constant
    // loop description, ProductCalls.h) only writes its result, C in
    // (A, B, C, ...).
    auto constantGlobal = [&](Value root) {
      auto get = root.getDefiningOp<memref::GetGlobalOp>();
      if (!get)
        return false;
      auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
          op, get.getNameAttr());
      return global && global.getConstant();
    };
    unsigned n = op->getNumOperands();
    bool product =
        n >= 4 && constantGlobal(autopar::rootBuffer(op->getOperand(n - 1)));
    for (auto [i, v] : llvm::enumerate(op->getOperands())) {
      if (!isa<BaseMemRefType>(v.getType()))
        continue;
      Value root = autopar::rootBuffer(v);
      bool written = !constantGlobal(root) && !(product && i < 2);
      a.buffers.push_back({root, written});
    }
    return a;
  }
  std::optional<SmallVector<MemoryEffects::EffectInstance>> effects;
  if (auto launch = dyn_cast<gpu::LaunchOp>(op)) {
    // A launch's body op by op: a barrier (which declares no effects)
    // orders the block's own memory, no one else's.
    effects.emplace();
    for (Operation &inner : launch.getBody().front()) {
      if (isa<gpu::BarrierOp, gpu::TerminatorOp>(inner))
        continue;
      bool barrier = false;
      inner.walk([&](gpu::BarrierOp) { barrier = true; });
      std::optional<SmallVector<MemoryEffects::EffectInstance>> own =
          barrier ? std::nullopt : getEffectsRecursively(&inner);
      if (!own) {
        effects.reset();
        break;
      }
      effects->append(own->begin(), own->end());
    }
  } else {
    effects = getEffectsRecursively(op);
  }
  if (!effects) {
    a.unknown = true;
    return a;
  }
  for (const MemoryEffects::EffectInstance &e : *effects) {
    if (isa<MemoryEffects::Allocate>(e.getEffect()))
      continue;
    Value v = e.getValue();
    if (!v) {
      a.unknown = true;
      continue;
    }
    Value root = autopar::rootBuffer(v);
    // Memory of the op's own (an alloca in a kernel) is no one else's.
    Operation *owner = root.getParentRegion()->getParentOp();
    if (owner == op || op->isProperAncestor(owner))
      continue;
    bool written = !isa<MemoryEffects::Read>(e.getEffect());
    a.buffers.push_back({root, written});
  }
  return a;
}

/// Whether the roots `a` and `b` are known to be different buffers; the
/// common cases (two allocations, an allocation and an argument) without
/// LocalAliasAnalysis, which a long walk would ask millions of times.
bool rootsApart(Value a, Value b, LocalAliasAnalysis &aliases) {
  if (a == b)
    return false;
  auto fresh = [](Value v) {
    return v.getDefiningOp<memref::AllocOp>() ||
           v.getDefiningOp<memref::AllocaOp>() ||
           v.getDefiningOp<gpu::AllocOp>();
  };
  if (fresh(a) || fresh(b))
    return true;
  return autopar::apart(a, b, aliases);
}

/// Whether running `a` and `b` in either order (or at once) gives the same
/// memory: neither writes what the other reads or writes.
bool conflict(const Accesses &a, const Accesses &b,
              LocalAliasAnalysis &aliases) {
  if (a.unknown || b.unknown)
    return true;
  for (auto [x, xw] : a.buffers)
    for (auto [y, yw] : b.buffers)
      if ((xw || yw) && !rootsApart(x, y, aliases))
        return true;
  return false;
}

/// Kernel parameter bytes of `v` once outlined: a memref's descriptor
/// (two pointers, the offset, sizes and strides), a word otherwise.
int64_t paramBytes(Value v) {
  if (auto m = dyn_cast<MemRefType>(v.getType()))
    return (3 + 2 * m.getRank()) * 8;
  if (isa<UnrankedMemRefType>(v.getType()))
    return 16;
  return 8;
}

/// What outlining passes into a kernel for the launches `launches`: the
/// values their bodies use from above that are not constants (those are
/// sunk into the kernel).
llvm::SetVector<Value> kernelArguments(ArrayRef<gpu::LaunchOp> launches) {
  llvm::SetVector<Value> used;
  for (gpu::LaunchOp l : launches)
    getUsedValuesDefinedAbove(l.getBody(), used);
  llvm::SetVector<Value> out;
  for (Value v : used)
    if (!matchPattern(v, m_Constant()))
      out.insert(v);
  return out;
}

struct Member {
  gpu::LaunchOp launch;
  std::array<int64_t, 3> grid, block;
  Accesses accesses;
  int64_t blocks() const { return grid[0] * grid[1] * grid[2]; }
  /// Bytes of its workgroup memory.
  int64_t workgroupBytes() const {
    int64_t bytes = 0;
    for (BlockArgument a :
         const_cast<gpu::LaunchOp &>(launch).getWorkgroupAttributions()) {
      auto type = cast<MemRefType>(a.getType());
      bytes += type.getNumElements() *
               int64_t(llvm::divideCeil(type.getElementTypeBitWidth(), 8));
    }
    return bytes;
  }
};

/// The most workgroup memory a merged launch's members have together: a
/// block holds them all (24 KB: 9 blocks of any size still fit an SM's
/// 228 KB, and the static limit, 48 KB, leaves room for what the lowering
/// of reductions across a block adds).
constexpr int64_t kWorkgroupBytes = 24 * 1024;

struct Group {
  SmallVector<Member> members;
  int64_t threads = 0;
  int64_t blocks = 0;
  llvm::SetVector<Value> arguments;
  int64_t bytes = 0;
  int64_t workgroupBytes = 0;
};

/// `linear` as indices of a row-major box of `sizes` with the first size
/// varying fastest (how CUDA numbers blocks and threads).
std::array<Value, 3> split(OpBuilder &b, Location loc, Value linear,
                           const std::array<int64_t, 3> &sizes) {
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  std::array<Value, 3> out;
  Value rest = linear;
  for (int d = 0; d < 3; ++d) {
    if (llvm::all_of(ArrayRef<int64_t>(sizes).drop_front(d + 1),
                     [](int64_t s) { return s == 1; })) {
      // Every dimension after this one has size 1.
      out[d] = rest;
      for (int e = d + 1; e < 3; ++e)
        out[e] = c(0);
      break;
    }
    out[d] = arith::RemUIOp::create(b, loc, rest, c(sizes[d]));
    rest = arith::DivUIOp::create(b, loc, rest, c(sizes[d]));
  }
  return out;
}

/// Clones `launch`'s body at `b`'s insertion point, its block indices
/// `blockIds`, its thread indices `threadIds`, its sizes constants, its
/// workgroup memory `workgroup`.
void inlineBody(OpBuilder &b, Location loc, const Member &m,
                const std::array<Value, 3> &blockIds,
                const std::array<Value, 3> &threadIds,
                ArrayRef<BlockArgument> workgroup) {
  gpu::LaunchOp launch = m.launch;
  IRMapping map;
  for (auto [from, to] :
       llvm::zip(launch.getWorkgroupAttributions(), workgroup))
    map.map(from, to);
  std::array<Value, 12> from = regionArguments(launch);
  for (int d = 0; d < 3; ++d) {
    map.map(from[d], blockIds[d]);
    map.map(from[3 + d], threadIds[d]);
  }
  // The sizes as constants, where the body reads them.
  for (int d = 0; d < 3; ++d)
    for (auto [at, size] : {std::pair{6 + d, m.grid[d]}, {9 + d, m.block[d]}})
      if (!from[at].use_empty())
        map.map(from[at],
                arith::ConstantIndexOp::create(b, loc, size).getResult());
  for (Operation &op : launch.getBody().front().without_terminator())
    b.clone(op, map);
}

/// Members [lo, hi) of `g` at `b`'s insertion point: the one whose blocks
/// hold `blockId`, through a balanced tree of scf.if.
void emitTree(OpBuilder &b, Location loc, const Group &g,
              ArrayRef<int64_t> offsets, unsigned lo, unsigned hi,
              Value blockId, Value thread,
              ArrayRef<SmallVector<BlockArgument>> workgroup) {
  if (hi - lo == 1) {
    const Member &m = g.members[lo];
    Value local = blockId;
    if (offsets[lo])
      local = arith::SubIOp::create(
          b, loc, blockId, arith::ConstantIndexOp::create(b, loc, offsets[lo]));
    inlineBody(b, loc, m, split(b, loc, local, m.grid),
               split(b, loc, thread, m.block), workgroup[lo]);
    return;
  }
  unsigned mid = (lo + hi) / 2;
  Value below = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ult, blockId,
      arith::ConstantIndexOp::create(b, loc, offsets[mid]));
  auto branch = scf::IfOp::create(b, loc, below, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(branch.thenBlock());
  emitTree(b, loc, g, offsets, lo, mid, blockId, thread, workgroup);
  b.setInsertionPointToStart(branch.elseBlock());
  emitTree(b, loc, g, offsets, mid, hi, blockId, thread, workgroup);
}

/// The group's members (next to each other in their block) as one launch.
void fuse(Group &g) {
  gpu::LaunchOp last = g.members.back().launch;
  OpBuilder b(last);
  SmallVector<Location> locs;
  SmallVector<int64_t> offsets;
  int64_t total = 0;
  for (Member &m : g.members) {
    locs.push_back(m.launch.getLoc());
    offsets.push_back(total);
    total += m.blocks();
  }
  Location loc = b.getFusedLoc(locs);
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  Value one = c(1);
  auto launch =
      gpu::LaunchOp::create(b, loc, c(total), one, one, c(g.threads), one, one);
  // Each member's workgroup memory, its own in the merged launch (a block
  // runs one member: the others' is unused there).
  SmallVector<SmallVector<BlockArgument>> workgroup;
  for (Member &m : g.members) {
    workgroup.emplace_back();
    for (BlockArgument a : m.launch.getWorkgroupAttributions())
      workgroup.back().push_back(
          launch.addWorkgroupAttribution(a.getType(), a.getLoc()));
  }
  b.setInsertionPointToStart(&launch.getBody().front());
  emitTree(b, loc, g, offsets, 0, g.members.size(), launch.getBlockIds().x,
           launch.getThreadIds().x, workgroup);
  gpu::TerminatorOp::create(b, loc);
  for (Member &m : g.members)
    m.launch.erase();
}

struct FuseLaunchesPass
    : public mlir::autopar::impl::FuseLaunchesPassBase<FuseLaunchesPass> {
  using FuseLaunchesPassBase::FuseLaunchesPassBase;

  void runOnOperation() override {
    if (paramBytes < 64) {
      getOperation().emitError()
          << "autopar-fuse-launches: param-bytes must be at least 64, not "
          << static_cast<int64_t>(paramBytes);
      return signalPassFailure();
    }
    llvm::SetVector<Block *> blocks;
    getOperation().walk([&](gpu::LaunchOp l) { blocks.insert(l->getBlock()); });
    LocalAliasAnalysis aliases;
    for (Block *block : blocks)
      runOnBlock(*block, aliases);
  }

  void runOnBlock(Block &block, LocalAliasAnalysis &aliases) {
    SmallVector<gpu::LaunchOp> launches(block.getOps<gpu::LaunchOp>());
    std::vector<std::unique_ptr<Group>> groups;
    DenseMap<Operation *, Group *> lastOf;
    DenseMap<Operation *, Accesses> cache;
    auto accessesAt = [&](Operation *op) -> const Accesses & {
      auto it = cache.find(op);
      if (it == cache.end())
        it = cache.try_emplace(op, accessesOf(op)).first;
      return it->second;
    };
    for (gpu::LaunchOp launch : launches) {
      if (cooperation(launch, /*withinBlocks=*/true))
        continue;
      auto grid = constantSizes(launch.getGridSizeOperandValues());
      auto blockSizes = constantSizes(launch.getBlockSizeOperandValues());
      if (!grid || !blockSizes)
        continue;
      Member m{launch, *grid, *blockSizes, accessesAt(launch)};
      if (m.accesses.unknown || m.workgroupBytes() > kWorkgroupBytes)
        continue;
      if (join(m, lastOf, accessesAt, aliases))
        continue;
      auto g = std::make_unique<Group>();
      g->threads = m.block[0] * m.block[1] * m.block[2];
      g->blocks = m.blocks();
      g->workgroupBytes = m.workgroupBytes();
      g->arguments = kernelArguments({launch});
      for (Value v : g->arguments)
        g->bytes += ::paramBytes(v);
      g->members.push_back(m);
      lastOf[launch] = g.get();
      groups.push_back(std::move(g));
    }
    for (auto &g : groups)
      if (g->members.size() > 1)
        fuse(*g);
  }

  /// Adds `m` to the nearest earlier group it may join, moving it (and the
  /// allocations, views and constants it uses) up to that group's last member.
  template <typename AccessesAt>
  bool join(Member &m, DenseMap<Operation *, Group *> &lastOf,
            AccessesAt &accessesAt, LocalAliasAnalysis &aliases) {
    gpu::LaunchOp launch = m.launch;
    llvm::SetVector<Value> used;
    getUsedValuesDefinedAbove(launch.getBody(), used);
    for (Value v : launch->getOperands())
      used.insert(v);
    llvm::SmallPtrSet<Operation *, 8> definers;
    for (Value v : used)
      if (Operation *d = v.getDefiningOp();
          d && d->getBlock() == launch->getBlock())
        definers.insert(d);
    int64_t threads = m.block[0] * m.block[1] * m.block[2];
    SmallVector<Operation *> moved; // what moves with it, last first
    for (Operation *x = launch->getPrevNode(); x; x = x->getPrevNode()) {
      if (Group *g = lastOf.lookup(x)) {
        if (Group *chosen = tryGroup(*g, m, threads, aliases)) {
          Operation *first = chosen->members.front().launch;
          for (Operation *op : llvm::reverse(moved))
            op->moveBefore(first);
          launch->moveAfter(x);
          lastOf.erase(x);
          lastOf[launch] = chosen;
          return true;
        }
      }
      if (definers.contains(x)) {
        // Moves up with the launch: a static allocation, or a pure op (a
        // view, a constant) whose operands' definers move too.
        bool movable = (isa<memref::AllocOp>(x) && x->getNumOperands() == 0) ||
                       (isPure(x) && x->getNumRegions() == 0);
        if (!movable)
          return false;
        moved.push_back(x);
        for (Value v : x->getOperands())
          if (Operation *d = v.getDefiningOp();
              d && d->getBlock() == launch->getBlock())
            definers.insert(d);
        continue;
      }
      if (!hoist && !isa<memref::AllocOp>(x) && !matchPattern(x, m_Constant()))
        return false;
      if (conflict(accessesAt(x), m.accesses, aliases))
        return false;
    }
    return false;
  }

  /// `g` with `m` added, if `m` may join it.
  Group *tryGroup(Group &g, Member &m, int64_t threads,
                  LocalAliasAnalysis &aliases) {
    if (g.threads != threads ||
        g.blocks + m.blocks() > std::numeric_limits<int32_t>::max() ||
        g.workgroupBytes + m.workgroupBytes() > kWorkgroupBytes)
      return nullptr;
    llvm::SetVector<Value> arguments = g.arguments;
    int64_t bytes = g.bytes;
    for (Value v : kernelArguments({m.launch}))
      if (arguments.insert(v))
        bytes += ::paramBytes(v);
    if (bytes > paramBytes)
      return nullptr;
    for (const Member &other : g.members)
      if (conflict(other.accesses, m.accesses, aliases))
        return nullptr;
    g.arguments = std::move(arguments);
    g.bytes = bytes;
    g.blocks += m.blocks();
    g.workgroupBytes += m.workgroupBytes();
    g.members.push_back(m);
    return &g;
  }
};

} // namespace
