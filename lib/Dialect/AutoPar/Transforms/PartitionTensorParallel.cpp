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
  /// After splitting: the column's grad_all_reduce, the row's all_reduce,
  /// the row's bias and the ops adding it, and every op in between.
  GradAllReduceOp enter;
  AllReduceOp exit;
  /// Instead of a row layer: the cross-entropy the split logits feed
  /// (vocabulary-parallel loss).
  CrossEntropyOp loss;
  /// The token embedding that shares the vocabulary-parallel head's weight
  /// (tied embeddings): it looks up the same split rows.
  GatherOp tiedLookup;
  /// The column and row layers' positions among the function's linear
  /// layers (-1: no row layer).
  int64_t position = 0, rowPosition = -1;
  Value rowBias;
  Operation *biasWide = nullptr, *biasAdd = nullptr;
  llvm::DenseSet<Operation *> inside;
};

/// The split of a reshape's result, if one of its dimensions can hold the
/// operand's blocks whole (flattened, both are [P, tp, c]).
std::optional<Split> splitThroughReshape(ArrayRef<int64_t> in,
                                         ArrayRef<int64_t> out, Split s,
                                         int64_t tp) {
  int64_t p = 1, c = s.b;
  for (int64_t d = 0; d < s.dim; ++d)
    p *= in[d];
  p *= s.a;
  for (int64_t d = s.dim + 1; d < int64_t(in.size()); ++d)
    c *= in[d];
  for (int64_t j = 0; j < int64_t(out.size()); ++j) {
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < j; ++d)
      outer *= out[d];
    for (int64_t d = j + 1; d < int64_t(out.size()); ++d)
      inner *= out[d];
    if (p % outer || c % inner)
      continue;
    int64_t a = p / outer, b = c / inner;
    if (out[j] == a * tp * b)
      return Split{j, a, b};
  }
  return std::nullopt;
}

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

/// A constant of `type` holding `v` everywhere.
Value splatConstant(OpBuilder &b, Location loc, RankedTensorType type,
                    double v) {
  Attribute scalar =
      isa<FloatType>(type.getElementType())
          ? Attribute(FloatAttr::get(type.getElementType(), v))
          : Attribute(IntegerAttr::get(type.getElementType(), int64_t(v)));
  return ConstantOp::create(b, loc, type, SplatElementsAttr::get(type, scalar));
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
    func::FuncOp fn =
        lookupEntryFunction(module, entry, "autopar-partition-tensor-parallel");
    if (!fn)
      return signalPassFailure();
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
    // An embedding is a gather of the table's rows: as one, it can be
    // split by vocabulary.
    if (tp > 1)
      fn.walk([](EmbeddingOp op) {
        OpBuilder b(op);
        op.getResult().replaceAllUsesWith(
            GatherOp::create(b, op.getLoc(), op.getTable(), op.getIds(),
                             /*axis=*/0));
        op.erase();
      });
    FailureOr<SmallVector<Region>> regions = findRegions(fn);
    if (failed(regions))
      return signalPassFailure();
    if (tp == 1)
      return;
    llvm::DenseSet<Operation *> tied;
    SmallVector<int64_t> splitLayers;
    for (Region &region : *regions) {
      split(fn, region);
      if (region.tiedLookup)
        tied.insert(region.tiedLookup);
      splitLayers.append({region.position, region.rowPosition});
    }
    fn->setAttr("autopar.split_layers",
                DenseI64ArrayAttr::get(&getContext(), splitLayers));
    splitEmbeddings(fn, tied);
    if (sp && failed(sequenceParallel(fn, *regions)))
      return signalPassFailure();
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
    if (auto grid = module.lookupSymbol<shard::GridOp>(kGridName)) {
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
    shard::GridOp::create(b, module.getLoc(), kGridName, shape);
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
    for (auto [position, op] : llvm::enumerate(linears)) {
      if (!marked && llvm::is_contained(keepWhole, int64_t(position)))
        continue;
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
      if (region && region->row) {
        auto rowMode = region->row->getAttrOfType<StringAttr>(kParallelism);
        if (marked && (!rowMode || rowMode.getValue() != "row"))
          why = "is marked column-parallel but feeds a layer not marked "
                "row-parallel";
        else if (taken.contains(region->row))
          why = "feeds a layer that is already split";
        region->rowPosition =
            llvm::find(linears, region->row) - linears.begin();
        if (!marked && llvm::is_contained(keepWhole, region->rowPosition))
          why = "feeds a layer to keep whole";
      }
      if (!why.empty()) {
        if (marked)
          return op.emitOpError(why), failure();
        continue;
      }
      taken.insert(op);
      if (region->row)
        taken.insert(region->row);
      region->position = int64_t(position);
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
      if (std::optional<Split> out = splitThroughReshape(
              reshape.getOperand().getType().getShape(),
              reshape.getType().getShape(), *splitOf(reshape.getOperand()), tp))
        return out;
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
      // Logits split by vocabulary reaching the loss: the cross-entropy
      // is computed from the parts (unmarked regions only).
      if (auto ce = dyn_cast<CrossEntropyOp>(op);
          ce && !region.row && !region.loss && !column->hasAttr(kParallelism) &&
          region.splits.count(ce.getLogits()) &&
          !region.splits.count(ce.getLabels())) {
        Split s = region.splits.lookup(ce.getLogits());
        if (s.dim != ce.getLogits().getType().getRank() - 1 || s.a != 1) {
          why = "cannot be split: the loss gets its logits split otherwise "
                "than by contiguous blocks of the vocabulary";
          return std::nullopt;
        }
        region.loss = ce;
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
    if (region.row && region.loss) {
      why = "feeds both a row-parallel layer and the loss";
      return std::nullopt;
    }
    if (!region.row && !region.loss) {
      why = "is marked column-parallel but does not feed a row-parallel "
            "layer";
      if (!column->hasAttr(kParallelism))
        why = "feeds no linear layer to pair with";
      return std::nullopt;
    }
    // The split weights: parameters of this function used here alone.
    SmallVector<Value> owned = {column.getWeight()};
    if (region.row)
      owned.push_back(region.row.getWeight());
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
        // A head tied to the token embedding splits the table's rows (the
        // vocabulary) for both: Megatron's vocabulary-parallel pair.
        if (GatherOp lookup = tiedLookup(region, v)) {
          region.tiedLookup = lookup;
          continue;
        }
        why = "cannot be split: a parameter it uses is used elsewhere too "
              "(tied weights)";
        return std::nullopt;
      }
    }
    return region;
  }

  /// The embedding lookup sharing `weight` with the vocabulary-parallel
  /// head of `region`, when that is its only other use and both split the
  /// table's rows.
  static GatherOp tiedLookup(Region &region, Value weight) {
    if (!region.loss || weight != region.column.getWeight() ||
        featureDim(region.column, true) != 0 ||
        std::distance(weight.use_begin(), weight.use_end()) != 2)
      return nullptr;
    for (Operation *user : weight.getUsers())
      if (auto gather = dyn_cast<GatherOp>(user))
        if (gather.getAxis() == 0 && gather.getOperand() == weight)
          return gather;
    return nullptr;
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
    auto grid = FlatSymbolRefAttr::get(ctx, kGridName);
    auto axes = DenseI64ArrayAttr::get(ctx, {kTensorAxis});
    LinearOp column = region.column;
    Split first = region.splits.lookup(column.getResult());

    // Column: the whole input (its cotangent summed over the group), the
    // local share of the output features.
    shardArgument(fn, column.getWeight(), featureDim(column, true), first.a);
    if (Value bias = column.getBias())
      shardArgument(fn, bias, 0, first.a);
    OpBuilder b(column);
    region.enter = GradAllReduceOp::create(b, column.getLoc(),
                                           column.getInput(), grid, axes);
    column.getInputMutable().assign(region.enter.getResult());
    region.inside.insert(column);

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
      if (Operation *def = value.getDefiningOp())
        region.inside.insert(def);
    }
    for (auto [wide, s] : region.masks)
      region.inside.insert(wide);

    if (region.loss) {
      splitLoss(region);
      column->removeAttr(kParallelism);
      return;
    }

    // Row: a partial sum from the local features, completed by the
    // all-reduce; the bias (whole on every process) is added once after.
    LinearOp row = region.row;
    shardArgument(fn, row.getWeight(), featureDim(row, false), 1);
    b.setInsertionPoint(row);
    Value partial = LinearOp::create(b, row.getLoc(), row.getType(),
                                     row.getInput(), row.getWeight(), Value(),
                                     row.getWeightTransposedAttr());
    region.inside.insert(partial.getDefiningOp());
    region.exit = AllReduceOp::create(b, row.getLoc(), partial, grid, axes);
    Value sum = region.exit;
    if (Value bias = row.getBias()) {
      int64_t rank = row.getType().getRank();
      Value wide = BroadcastOp::create(b, row.getLoc(), row.getType(), bias,
                                       ArrayRef<int64_t>{rank - 1});
      sum = AddOp::create(b, row.getLoc(), sum, wide);
      region.rowBias = bias;
      region.biasWide = wide.getDefiningOp();
      region.biasAdd = sum.getDefiningOp();
    }
    row.getResult().replaceAllUsesWith(sum);
    row.erase();
    column->removeAttr(kParallelism);
  }

  /// Megatron's vocabulary-parallel embedding: a table (a parameter used
  /// by one gather along its rows) is split by rows; each process looks up
  /// the ids in its rows, zeroes the others, and an all-reduce adds the
  /// parts. The ids' offset comes from the process's coordinate
  /// (grid_index). `tied` lookups read a table the vocabulary-parallel head
  /// has split already.
  void splitEmbeddings(func::FuncOp fn,
                       const llvm::DenseSet<Operation *> &tied) {
    MLIRContext *ctx = &getContext();
    auto grid = FlatSymbolRefAttr::get(ctx, kGridName);
    auto axes = DenseI64ArrayAttr::get(ctx, {kTensorAxis});
    SmallVector<GatherOp> lookups;
    fn.walk([&](GatherOp op) {
      auto table = dyn_cast<BlockArgument>(op.getOperand());
      auto type = dyn_cast<RankedTensorType>(op.getOperand().getType());
      if (tied.contains(op) ||
          (op.getAxis() == 0 && table && table.getOwner() == &fn.front() &&
           table.hasOneUse() &&
           !fn.getArgAttr(table.getArgNumber(), "autopar.split") && type &&
           isa<FloatType>(type.getElementType()) &&
           type.getDimSize(0) % tp == 0))
        lookups.push_back(op);
    });
    for (GatherOp op : lookups) {
      Location loc = op.getLoc();
      OpBuilder b(op);
      if (!tied.contains(op))
        shardArgument(fn, op.getOperand(), 0, 1);
      int64_t rows = op.getOperand().getType().getDimSize(0);
      auto ids = cast<RankedTensorType>(op.getIndices().getType());
      auto splat = [&](RankedTensorType t, double v) {
        return splatConstant(b, loc, t, v);
      };
      // local = ids - index * rows, in range when 0 <= local < rows.
      Value index =
          GridIndexOp::create(b, loc, RankedTensorType::get({}, b.getI64Type()),
                              grid, b.getI64IntegerAttr(kTensorAxis));
      auto scalarIds = RankedTensorType::get({}, ids.getElementType());
      if (ids.getElementType() != scalarIds.getElementType())
        index = ConvertOp::create(b, loc, scalarIds, index);
      Value offset = BroadcastOp::create(
          b, loc, ids,
          MulOp::create(b, loc, index, splat(scalarIds, double(rows))),
          ArrayRef<int64_t>{});
      Value local = SubOp::create(b, loc, op.getIndices(), offset);
      Value inRange = SelectOp::create(
          b, loc,
          CompareOp::create(b, loc, CompareDirection::GE, local, splat(ids, 0)),
          CompareOp::create(b, loc, CompareDirection::LT, local,
                            splat(ids, double(rows))),
          CompareOp::create(b, loc, CompareDirection::NE, local, local));
      Value clamped = MaxOp::create(
          b, loc, MinOp::create(b, loc, local, splat(ids, double(rows - 1))),
          splat(ids, 0));
      Value part = GatherOp::create(b, loc, op.getOperand(), clamped,
                                    /*axis=*/0);
      auto type = cast<RankedTensorType>(part.getType());
      Value mask = BroadcastOp::create(
          b, loc, type.clone(b.getI1Type()), inRange,
          llvm::to_vector(llvm::seq<int64_t>(0, ids.getRank())));
      Value kept = SelectOp::create(b, loc, mask, part, splat(type, 0.0));
      op.getResult().replaceAllUsesWith(
          AllReduceOp::create(b, loc, kept, grid, axes));
      op.erase();
    }
  }

  /// Megatron's vocabulary-parallel cross-entropy from logits split along
  /// the classes: the maximum, the sum of exponentials and the label's
  /// logit are reduced locally and then over the group, so no process needs
  /// the whole logits.
  ///   m = max_group(max_local(x)),  s = sum_group(sum_local(exp(x - m))),
  ///   t = sum_group(sum_local(onehot_local * (x - m))),
  ///   loss = mean(log(s) - t)
  /// The one-hot of the labels is built whole and cut (local_slice).
  void splitLoss(Region &region) {
    MLIRContext *ctx = &getContext();
    auto grid = FlatSymbolRefAttr::get(ctx, kGridName);
    auto axes = DenseI64ArrayAttr::get(ctx, {kTensorAxis});
    CrossEntropyOp ce = region.loss;
    Location loc = ce.getLoc();
    OpBuilder b(ce);
    Value x = ce.getLogits();
    auto local = cast<RankedTensorType>(x.getType());
    auto labelsType = cast<RankedTensorType>(ce.getLabels().getType());
    int64_t rank = local.getRank(), last = rank - 1;
    int64_t classes = local.getDimSize(last) * tp;
    auto wholeType = local.clone([&] {
      SmallVector<int64_t> shape(local.getShape());
      shape[last] = classes;
      return shape;
    }());
    auto splat = [&](RankedTensorType t, double v) {
      return splatConstant(b, loc, t, v);
    };
    SmallVector<int64_t> lead = llvm::to_vector(llvm::seq<int64_t>(0, last));
    auto spread = [&](Value v) -> Value {
      return BroadcastOp::create(b, loc, local, v, lead);
    };
    // The shift: the largest logit of each position over all processes.
    Value m =
        ReduceOp::create(b, loc, ReduceKind::Max, x, ArrayRef<int64_t>{last});
    m = AllReduceMaxOp::create(b, loc, m, grid, axes);
    Value shifted = SubOp::create(b, loc, x, spread(m));
    Value sum = ReduceOp::create(b, loc, ReduceKind::Sum,
                                 ExpOp::create(b, loc, shifted),
                                 ArrayRef<int64_t>{last});
    sum = AllReduceOp::create(b, loc, sum, grid, axes);
    // The label's shifted logit, from the process holding it.
    Value labels = ce.getLabels();
    labels = MaxOp::create(b, loc, labels, splat(labelsType, 0));
    labels = MinOp::create(b, loc, labels, splat(labelsType, classes - 1));
    auto iotaType =
        RankedTensorType::get({classes}, labelsType.getElementType());
    SmallVector<APInt> iota;
    unsigned width = labelsType.getElementType().getIntOrFloatBitWidth();
    for (int64_t c = 0; c < classes; ++c)
      iota.push_back(APInt(width, uint64_t(c), /*isSigned=*/true));
    auto wideIds = wholeType.clone(labelsType.getElementType());
    Value classIds = BroadcastOp::create(
        b, loc, wideIds,
        ConstantOp::create(b, loc, iotaType,
                           DenseElementsAttr::get(iotaType, iota)),
        ArrayRef<int64_t>{last});
    Value labelIds = BroadcastOp::create(b, loc, wideIds, labels, lead);
    Value onehot = SelectOp::create(
        b, loc,
        CompareOp::create(b, loc, CompareDirection::EQ, classIds, labelIds),
        splat(wholeType, 1.0), splat(wholeType, 0.0));
    onehot = LocalSliceOp::create(b, loc, local, onehot, grid, axes,
                                  b.getI64IntegerAttr(last));
    Value picked = ReduceOp::create(b, loc, ReduceKind::Sum,
                                    MulOp::create(b, loc, onehot, shifted),
                                    ArrayRef<int64_t>{last});
    picked = AllReduceOp::create(b, loc, picked, grid, axes);
    Value perPosition =
        SubOp::create(b, loc, LogOp::create(b, loc, sum), picked);
    Value loss = ReduceOp::create(b, loc, ReduceKind::Mean, perPosition, lead);
    ce.getResult().replaceAllUsesWith(loss);
    ce.erase();
  }

  /// The split of `op`'s result outside the regions, for ops that work
  /// token by token on a sequence-split value; whole operands they combine
  /// with it are cut (local_slice) or, when parameters (a norm's scale),
  /// get their cotangent summed over the group (grad_all_reduce).
  std::optional<Split> tokenwiseSplit(Operation *op,
                                      DenseMap<Value, Split> &seq) {
    MLIRContext *ctx = &getContext();
    auto grid = FlatSymbolRefAttr::get(ctx, kGridName);
    auto axes = DenseI64ArrayAttr::get(ctx, {kTensorAxis});
    OpBuilder b(op);
    std::optional<Split> s;
    for (Value v : op->getOperands())
      if (auto it = seq.find(v); it != seq.end())
        if (!s)
          s = it->second;
    if (!s || s->a != 1)
      return std::nullopt;
    if (isa<AutoParDialect>(op->getDialect()) &&
        op->hasTrait<OpTrait::Elementwise>()) {
      for (Value v : op->getOperands())
        if (auto it = seq.find(v); it != seq.end() && !(it->second == *s))
          return std::nullopt;
      for (OpOperand &use : op->getOpOperands()) {
        if (seq.count(use.get()))
          continue;
        auto type = cast<RankedTensorType>(use.get().getType());
        use.set(LocalSliceOp::create(
            b, op->getLoc(), type.clone(localShape(type, *s)), use.get(), grid,
            axes, b.getI64IntegerAttr(s->dim)));
      }
      return s;
    }
    if (auto norm = dyn_cast<LayerNormOp>(op)) {
      if (!seq.count(norm.getOperand()) || s->dim >= int64_t(norm.getAxis()))
        return std::nullopt;
      for (OpOperand *use : {&norm.getScaleMutable(), &norm.getBiasMutable()})
        use->set(
            GradAllReduceOp::create(b, op->getLoc(), use->get(), grid, axes));
      return s;
    }
    if (auto reshape = dyn_cast<ReshapeOp>(op))
      return splitThroughReshape(reshape.getOperand().getType().getShape(),
                                 reshape.getType().getShape(), *s, tp);
    if (auto transpose = dyn_cast<TransposeOp>(op)) {
      ArrayRef<int64_t> perm = transpose.getPermutation();
      return Split{llvm::find(perm, s->dim) - perm.begin(), s->a, s->b};
    }
    return std::nullopt;
  }

  /// Megatron's sequence parallelism: between the regions, the activations
  /// (layer norms, residual adds, biases of row layers) are split along the
  /// sequence, dimension 1 of [batch, sequence, ...] (dimension 0 of 2-D
  /// [tokens, features] ones); a region's input is all-gathered instead of
  /// passing grad_all_reduce, its output reduce-scattered instead of
  /// all-reduced. What needs whole values (the loss, a layer that is not
  /// split) gathers them first.
  LogicalResult sequenceParallel(func::FuncOp fn,
                                 MutableArrayRef<Region> regions) {
    MLIRContext *ctx = &getContext();
    auto grid = FlatSymbolRefAttr::get(ctx, kGridName);
    auto axes = DenseI64ArrayAttr::get(ctx, {kTensorAxis});
    DenseMap<Operation *, Region *> byEnter, byExit;
    llvm::DenseSet<Operation *> inside, dead;
    for (Region &r : regions) {
      byEnter[r.enter] = &r;
      byExit[r.exit] = &r;
      inside.insert(r.inside.begin(), r.inside.end());
    }
    DenseMap<Value, Split> seq;
    OpBuilder b(ctx);
    for (Operation &op : fn.front()) {
      if (dead.contains(&op))
        continue;
      b.setInsertionPoint(&op);
      if (Region *r = byEnter.lookup(&op)) {
        auto it = seq.find(r->enter.getOperand());
        if (it != seq.end()) {
          Value whole = AllGatherOp::create(
              b, op.getLoc(), r->enter.getType(), r->enter.getOperand(), grid,
              axes, b.getI64IntegerAttr(it->second.dim), b.getUnitAttr());
          r->enter.getResult().replaceAllUsesWith(whole);
          dead.insert(&op);
        }
        continue;
      }
      if (Region *r = byExit.lookup(&op)) {
        RankedTensorType type = r->exit.getType();
        int64_t dim = type.getRank() >= 3 ? 1 : 0;
        if (type.getDimSize(dim) % tp)
          return emitError(op.getLoc(), "sequence parallelism splits the "
                                        "output of a row-parallel layer along "
                                        "dimension ")
                 << dim << " of size " << type.getDimSize(dim)
                 << ", which does not divide among " << int64_t(tp)
                 << " processes";
        Split s{dim, 1, type.getDimSize(dim) / tp};
        auto local = type.clone(localShape(type, s));
        Value part =
            ReduceScatterOp::create(b, op.getLoc(), local, r->exit.getOperand(),
                                    grid, axes, b.getI64IntegerAttr(dim));
        Value out = part;
        Operation *replaced = r->exit;
        if (r->biasAdd) {
          Value bias =
              GradAllReduceOp::create(b, op.getLoc(), r->rowBias, grid, axes);
          Value wide =
              BroadcastOp::create(b, op.getLoc(), local, bias,
                                  ArrayRef<int64_t>{type.getRank() - 1});
          out = AddOp::create(b, op.getLoc(), part, wide);
          replaced = r->biasAdd;
          dead.insert(r->biasWide);
          dead.insert(r->biasAdd);
        }
        replaced->getResult(0).replaceAllUsesWith(out);
        dead.insert(&op);
        seq[out] = s;
        continue;
      }
      bool split =
          llvm::any_of(op.getOperands(), [&](Value v) { return seq.count(v); });
      if (!split)
        continue;
      if (inside.contains(&op))
        return op.emitOpError("takes a sequence-split value inside a "
                              "tensor-parallel region");
      if (op.getNumResults() == 1)
        if (std::optional<Split> s = tokenwiseSplit(&op, seq)) {
          auto type = cast<RankedTensorType>(op.getResult(0).getType());
          op.getResult(0).setType(type.clone(localShape(type, *s)));
          seq[op.getResult(0)] = *s;
          continue;
        }
      // Work that needs the whole sequence gets it.
      for (OpOperand &use : op.getOpOperands()) {
        auto it = seq.find(use.get());
        if (it == seq.end())
          continue;
        auto type = cast<RankedTensorType>(use.get().getType());
        SmallVector<int64_t> shape(type.getShape());
        shape[it->second.dim] *= tp;
        use.set(AllGatherOp::create(
            b, op.getLoc(), type.clone(shape), use.get(), grid, axes,
            b.getI64IntegerAttr(it->second.dim), nullptr));
      }
    }
    // Dead ops go last first: each is used by none but later dead ones.
    SmallVector<Operation *> order;
    for (Operation &op : fn.front())
      if (dead.contains(&op))
        order.push_back(&op);
    for (Operation *op : llvm::reverse(order))
      op->erase();
    return success();
  }
};
} // namespace
