//===- PartitionTensorParallel.cpp - Megatron-style linear layer split ----===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// One process's program of a dp x tp grid. A column-parallel layer computes
// its share of the output features from the whole input; the ops after it
// (elementwise ops, slices of a fused projection, the reshapes and
// transposes around attention, attention itself) work on that share; the
// row-parallel layer they feed contracts it with its share of the weight's
// rows, giving partial sums that one all-reduce completes. The forward pass
// then has one all-reduce per region, and differentiating it
// (grad_all_reduce's VJP) one more in the backward pass.
//
// Which elements a process holds: a split dimension of global size
// a * tp * b is `a` groups of `tp` blocks of `b`; process r holds block r of
// every group (a = 3 for a fused query/key/value projection, whose slices
// then each hold one group). Flattened, a value is [P, tp, c]: reshapes keep
// that form and only need a dimension to express it in; transposes move the
// dimension.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_PARTITIONTENSORPARALLELPASS
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
constexpr StringLiteral kGrid = "autopar_grid";
constexpr StringLiteral kParallelism = "autopar.parallelism";
constexpr int64_t kTensorAxis = 1;

/// How a value is split: dimension `dim` of global size a * tp * b, each
/// process holding b elements of each of the a groups.
struct Split {
  int64_t dim, a, b;
  bool operator==(const Split &o) const {
    return dim == o.dim && a == o.a && b == o.b;
  }
};

/// A column-parallel layer, the ops after it and the row-parallel layer
/// they feed; `splits` holds every value in between, in program order.
struct Region {
  LinearOp column;
  LinearOp row;
  llvm::MapVector<Value, Split> splits;
  /// Attention masks made by broadcasting a whole tensor: the broadcast
  /// produces the local part directly.
  llvm::MapVector<BroadcastOp, Split> masks;
};

/// Dimension of the weight holding the output (column) or input (row)
/// features.
int64_t featureDim(LinearOp op, bool output) {
  return (op.getWeightTransposed() ? 0 : 1) == (output ? 1 : 0) ? 1 : 0;
}

/// A single-operand op that maps elements one to one (tanh, gelu, ...).
bool isUnaryElementwise(Operation *op) {
  return op->getNumOperands() == 1 && op->getNumResults() == 1 &&
         op->hasTrait<OpTrait::Elementwise>() &&
         op->getOperand(0).getType() == op->getResult(0).getType() &&
         isa<AutoParDialect>(op->getDialect());
}

int64_t product(ArrayRef<int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims)
    p *= d;
  return p;
}

/// The local shape of a value of global type `type` split as `s`.
SmallVector<int64_t> localShape(RankedTensorType type, Split s) {
  SmallVector<int64_t> shape(type.getShape());
  shape[s.dim] = s.a * s.b;
  return shape;
}

struct PartitionTensorParallelPass
    : public autopar::impl::PartitionTensorParallelPassBase<
          PartitionTensorParallelPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fn = module.lookupSymbol<func::FuncOp>(entry);
    if (!fn) {
      module.emitError("autopar-partition-tensor-parallel: no function @")
          << entry;
      return signalPassFailure();
    }
    if (dp < 1 || tp < 1) {
      module.emitError("autopar-partition-tensor-parallel: dp and tp must be "
                       "at least 1, got dp=")
          << int64_t(dp) << " tp=" << int64_t(tp);
      return signalPassFailure();
    }
    if (failed(makeGrid(module)))
      return signalPassFailure();
    // The planner's annotations are consumed: the program this pass writes
    // holds each process's local shapes.
    fn.walk([](shard::ShardOp op) {
      op.getResult().replaceAllUsesWith(op.getSrc());
      op.erase();
    });
    fn.walk([](shard::ShardingOp op) {
      if (op->use_empty())
        op.erase();
    });
    FailureOr<SmallVector<Region>> regions = findRegions(fn);
    if (failed(regions))
      return signalPassFailure();
    if (tp == 1)
      return;
    for (Region &region : *regions)
      split(fn, region);
    SmallVector<Type> inputs;
    for (BlockArgument arg : fn.getArguments())
      inputs.push_back(arg.getType());
    fn.setType(FunctionType::get(&getContext(), inputs,
                                 fn.getFunctionType().getResults()));
  }

  /// `shard.grid @autopar_grid(shape = dp x tp)`, or the one already there
  /// if it has that shape.
  LogicalResult makeGrid(ModuleOp module) {
    SmallVector<int64_t> shape = {dp, tp};
    if (auto grid = module.lookupSymbol<shard::GridOp>(kGrid)) {
      if (grid.getShape() != ArrayRef<int64_t>(shape))
        return grid.emitOpError("has shape ")
               << llvm::join(llvm::map_range(
                                 grid.getShape(),
                                 [](int64_t d) { return std::to_string(d); }),
                             "x")
               << "; autopar-partition-tensor-parallel needs " << int64_t(dp)
               << "x" << int64_t(tp);
      return success();
    }
    OpBuilder b(module.getBodyRegion());
    shard::GridOp::create(b, module.getLoc(), kGrid, shape);
    return success();
  }

  /// The layers to split: as the planner marked them, or else every
  /// column layer whose region reaches a row layer.
  FailureOr<SmallVector<Region>> findRegions(func::FuncOp fn) {
    SmallVector<LinearOp> linears;
    bool marked = false;
    fn.walk([&](LinearOp op) {
      linears.push_back(op);
      marked |= op->hasAttr(kParallelism);
    });
    SmallVector<Region> regions;
    llvm::DenseSet<Operation *> taken;
    for (LinearOp op : linears) {
      auto mode = op->getAttrOfType<StringAttr>(kParallelism);
      if (marked && mode && mode.getValue() == "row" && !taken.contains(op))
        return op.emitOpError("is marked row-parallel but no "
                              "column-parallel layer feeds it"),
               failure();
      if ((marked && (!mode || mode.getValue() != "column")) ||
          taken.contains(op))
        continue;
      // Without marks, a region that cannot be split stays whole; a marked
      // one is an error.
      std::string why;
      std::optional<Region> region = grow(fn, op, why);
      if (region) {
        auto rowMode = region->row->getAttrOfType<StringAttr>(kParallelism);
        if (marked && (!rowMode || rowMode.getValue() != "row"))
          why = "is marked column-parallel but feeds a layer not marked "
                "row-parallel";
        else if (taken.contains(region->row))
          why = "feeds a layer that is already split";
      }
      if (!why.empty()) {
        if (marked)
          return op.emitOpError(why), failure();
        continue;
      }
      taken.insert(op);
      taken.insert(region->row);
      regions.push_back(std::move(*region));
    }
    return regions;
  }

  /// The split of the column layer's output: groups of equal slices taken
  /// along the features (a fused projection) or one group.
  Split columnSplit(LinearOp column) {
    RankedTensorType type = column.getType();
    int64_t dim = type.getRank() - 1, n = type.getDimSize(dim);
    int64_t length = 0;
    bool slices = !column->use_empty();
    for (Operation *user : column->getUsers()) {
      auto slice = dyn_cast<SliceOp>(user);
      if (!slice) {
        slices = false;
        break;
      }
      int64_t start = slice.getStartIndices()[dim];
      int64_t l = slice.getLimitIndices()[dim] - start;
      if (slice.getStrides()[dim] != 1 || l <= 0 || (length && l != length) ||
          start % l) {
        slices = false;
        break;
      }
      length = l;
    }
    int64_t groups = slices && n % length == 0 ? n / length : 1;
    if (groups > 1 && (n / groups) % tp)
      groups = 1;
    return Split{dim, groups, n % (groups * tp) ? 0 : n / (groups * tp)};
  }

  /// The split of `op`'s result given its operands' (`why` says why there
  /// is none).
  std::optional<Split> resultSplit(Operation *op, Region &region,
                                   std::string &why) {
    auto splitOf = [&](Value v) -> std::optional<Split> {
      auto it = region.splits.find(v);
      if (it == region.splits.end())
        return std::nullopt;
      return it->second;
    };
    auto fail = [&](const Twine &message) -> std::optional<Split> {
      why =
          ("cannot be split: '" + op->getName().getStringRef() + "' " + message)
              .str();
      return std::nullopt;
    };
    if (isUnaryElementwise(op))
      return splitOf(op->getOperand(0));
    if (op->hasTrait<OpTrait::Elementwise>() &&
        isa<AutoParDialect>(op->getDialect())) {
      std::optional<Split> s;
      for (Value v : op->getOperands()) {
        std::optional<Split> o = splitOf(v);
        if (!o || (s && !(*s == *o)))
          return fail("combines a split value with another one split "
                      "differently or not at all");
        s = o;
      }
      return s;
    }
    if (auto slice = dyn_cast<SliceOp>(op)) {
      Split s = *splitOf(slice.getOperand());
      int64_t start = slice.getStartIndices()[s.dim];
      int64_t length = slice.getLimitIndices()[s.dim] - start;
      int64_t block = tp * s.b;
      if (slice.getStrides()[s.dim] != 1 || start % block || length % block)
        return fail("cuts the split dimension between processes' blocks");
      return Split{s.dim, length / block, s.b};
    }
    if (auto reshape = dyn_cast<ReshapeOp>(op)) {
      Split s = *splitOf(reshape.getOperand());
      ArrayRef<int64_t> in = reshape.getOperand().getType().getShape();
      ArrayRef<int64_t> out = reshape.getType().getShape();
      // Flattened [P, tp, c]; find the result dimension that holds tp.
      int64_t p = product(in.take_front(s.dim)) * s.a;
      int64_t c = s.b * product(in.drop_front(s.dim + 1));
      for (int64_t j = 0; j < int64_t(out.size()); ++j) {
        int64_t outer = product(out.take_front(j));
        int64_t inner = product(out.drop_front(j + 1));
        if (p % outer || c % inner)
          continue;
        int64_t a = p / outer, b = c / inner;
        if (out[j] == a * tp * b)
          return Split{j, a, b};
      }
      return fail("regroups the split dimension so that no dimension of "
                  "its result holds whole blocks");
    }
    if (auto transpose = dyn_cast<TransposeOp>(op)) {
      Split s = *splitOf(transpose.getOperand());
      ArrayRef<int64_t> perm = transpose.getPermutation();
      int64_t to = llvm::find(perm, s.dim) - perm.begin();
      return Split{to, s.a, s.b};
    }
    if (auto attention = dyn_cast<AttentionOp>(op)) {
      std::optional<Split> q = splitOf(attention.getQuery());
      std::optional<Split> k = splitOf(attention.getKey());
      std::optional<Split> v = splitOf(attention.getValue());
      int64_t rank = attention.getType().getRank();
      if (!q || !k || !v || !(*q == *k) || !(*q == *v) || q->dim >= rank - 2)
        return fail("needs query, key and value split alike along a batch "
                    "or head dimension");
      if (Value mask = attention.getMask()) {
        if (std::optional<Split> m = splitOf(mask)) {
          if (!(*m == *q))
            return fail("has a mask split unlike its query");
        } else {
          // A whole mask must come from a broadcast along that dimension.
          auto wide = mask.getDefiningOp<BroadcastOp>();
          if (!wide || !wide->hasOneUse())
            return fail("has a mask that is neither split nor a broadcast");
          ArrayRef<int64_t> dims = wide.getBroadcastDimensions();
          auto from = llvm::find(dims, q->dim);
          if (from != dims.end() &&
              wide.getOperand().getType().getDimSize(from - dims.begin()) != 1)
            return fail("has a mask that varies along the split dimension");
          region.masks.insert({wide, *q});
        }
      }
      return q;
    }
    return fail("has no rule for splitting");
  }

  /// The region that starts at `column`: every op using a value it makes,
  /// up to one row-parallel layer.
  std::optional<Region> grow(func::FuncOp fn, LinearOp column,
                             std::string &why) {
    Region region;
    region.column = column;
    Split first = columnSplit(column);
    if (first.b == 0) {
      why = "cannot be split over " + std::to_string(tp) + " processes: its " +
            std::to_string(column.getType().getShape().back()) +
            " output features do not divide";
      return std::nullopt;
    }
    region.splits.insert({column.getResult(), first});
    for (Operation *op = column->getNextNode(); op; op = op->getNextNode()) {
      bool inside = llvm::any_of(
          op->getOperands(), [&](Value v) { return region.splits.count(v); });
      if (!inside)
        continue;
      if (auto row = dyn_cast<LinearOp>(op);
          row && !region.row && region.splits.count(row.getInput()) &&
          !region.splits.count(row.getWeight()) &&
          !(row.getBias() && region.splits.count(row.getBias()))) {
        Split s = region.splits.lookup(row.getInput());
        int64_t k = row.getInput().getType().getShape().back();
        if (s.dim != row.getInput().getType().getRank() - 1 || s.a != 1 ||
            s.b * tp != k) {
          why = "cannot be split: the layer it feeds gets its input split "
                "otherwise than by contiguous blocks of features";
          return std::nullopt;
        }
        region.row = row;
        continue;
      }
      if (op->getNumResults() != 1 || isa<func::ReturnOp>(op)) {
        why = "cannot be split: its share reaches '" +
              op->getName().getStringRef().str() +
              "', which needs the whole value";
        return std::nullopt;
      }
      std::optional<Split> s = resultSplit(op, region, why);
      if (!s)
        return std::nullopt;
      region.splits.insert({op->getResult(0), *s});
    }
    if (!region.row) {
      why = "is marked column-parallel but does not feed a row-parallel "
            "layer";
      if (!column->hasAttr(kParallelism))
        why = "feeds no linear layer to pair with";
      return std::nullopt;
    }
    // The split weights: parameters of this function used here alone.
    SmallVector<Value> owned = {column.getWeight(), region.row.getWeight()};
    if (column.getBias())
      owned.push_back(column.getBias());
    for (Value v : owned) {
      auto arg = dyn_cast<BlockArgument>(v);
      if (!arg || arg.getOwner() != &fn.front()) {
        why = "cannot be split: its weight and bias must be arguments of @" +
              entry + " (parameters)";
        return std::nullopt;
      }
      if (!v.hasOneUse()) {
        why = "cannot be split: a parameter it uses is used elsewhere too "
              "(tied weights)";
        return std::nullopt;
      }
    }
    return region;
  }

  /// Gives argument `v` its shard's type: dimension `dim` of `groups`
  /// groups, each cut in tp blocks.
  void shardArgument(func::FuncOp fn, Value v, int64_t dim, int64_t groups) {
    auto arg = cast<BlockArgument>(v);
    auto type = cast<RankedTensorType>(arg.getType());
    SmallVector<int64_t> shape(type.getShape());
    shape[dim] /= tp;
    arg.setType(type.clone(shape));
    SmallVector<int64_t> split = {dim, kTensorAxis};
    if (groups > 1)
      split.push_back(groups);
    fn.setArgAttr(arg.getArgNumber(), "autopar.split",
                  DenseI64ArrayAttr::get(&getContext(), split));
  }

  void split(func::FuncOp fn, Region &region) {
    MLIRContext *ctx = &getContext();
    auto grid = FlatSymbolRefAttr::get(ctx, kGrid);
    auto axes = DenseI64ArrayAttr::get(ctx, {kTensorAxis});
    LinearOp column = region.column;
    Split first = region.splits.lookup(column.getResult());

    // Column: the whole input (its cotangent summed over the group), the
    // local share of the output features.
    shardArgument(fn, column.getWeight(), featureDim(column, true), first.a);
    if (Value bias = column.getBias())
      shardArgument(fn, bias, 0, first.a);
    OpBuilder b(column);
    Value input = GradAllReduceOp::create(b, column.getLoc(), column.getInput(),
                                          grid, axes);
    column.getInputMutable().assign(input);

    // Everything in between computes the local part: local result types,
    // and slices of the split dimension at local offsets.
    for (auto [wide, s] : region.masks)
      wide.getResult().setType(
          wide.getType().clone(localShape(wide.getType(), s)));
    for (auto [value, s] : region.splits) {
      auto type = cast<RankedTensorType>(value.getType());
      if (auto slice = value.getDefiningOp<SliceOp>()) {
        Split from = region.splits.lookup(slice.getOperand());
        SmallVector<int64_t> start(slice.getStartIndices());
        SmallVector<int64_t> limit(slice.getLimitIndices());
        if (start[s.dim] != 0 ||
            limit[s.dim] != from.a * tp * from.b) { // the split dimension
          start[s.dim] = start[s.dim] / (tp * s.b) * s.b;
          limit[s.dim] = start[s.dim] + s.a * s.b;
        } else {
          limit[s.dim] = s.a * s.b;
        }
        slice.setStartIndices(start);
        slice.setLimitIndices(limit);
      }
      value.setType(type.clone(localShape(type, s)));
    }

    // Row: a partial sum from the local features, completed by the
    // all-reduce; the bias (whole on every process) is added once after.
    LinearOp row = region.row;
    shardArgument(fn, row.getWeight(), featureDim(row, false), 1);
    b.setInsertionPoint(row);
    Value partial = LinearOp::create(b, row.getLoc(), row.getType(),
                                     row.getInput(), row.getWeight(), Value(),
                                     row.getWeightTransposedAttr());
    Value sum = AllReduceOp::create(b, row.getLoc(), partial, grid, axes);
    if (Value bias = row.getBias()) {
      int64_t rank = row.getType().getRank();
      Value wide = BroadcastOp::create(b, row.getLoc(), row.getType(), bias,
                                       ArrayRef<int64_t>{rank - 1});
      sum = AddOp::create(b, row.getLoc(), sum, wide);
    }
    row.getResult().replaceAllUsesWith(sum);
    row.erase();
    column->removeAttr(kParallelism);
  }
};
} // namespace
