//===- PartitionTensorParallel.cpp - Megatron-style linear layer split ----===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// One process's program of a dp x tp grid. A column-parallel layer computes
// its share of the output features from the whole input; elementwise ops
// work on that share; the row-parallel layer that follows contracts it with
// its share of the weight's rows, giving partial sums that one all-reduce
// completes. The forward pass then has one all-reduce per pair, and
// differentiating it (grad_all_reduce's VJP) one more in the backward pass.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseSet.h"
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

/// A column-parallel layer, the elementwise ops after it and the
/// row-parallel layer they feed.
struct Pair {
  LinearOp column;
  SmallVector<Operation *> between;
  LinearOp row;
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
         op->getDialect() == op->getContext()->getLoadedDialect("autopar");
}

/// Follows `column`'s result through single-use elementwise ops to the
/// linear layer it feeds as input, if any.
std::optional<Pair> followToRow(LinearOp column) {
  Pair pair{column, {}, nullptr};
  Value v = column.getResult();
  while (v.hasOneUse()) {
    Operation *user = *v.getUsers().begin();
    if (auto row = dyn_cast<LinearOp>(user)) {
      if (row.getInput() != v)
        return std::nullopt;
      pair.row = row;
      return pair;
    }
    if (!isUnaryElementwise(user))
      return std::nullopt;
    pair.between.push_back(user);
    v = user->getResult(0);
  }
  return std::nullopt;
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
    FailureOr<SmallVector<Pair>> pairs = findPairs(fn);
    if (failed(pairs))
      return signalPassFailure();
    if (tp == 1)
      return;
    for (Pair &pair : *pairs)
      if (failed(split(fn, pair)))
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
  /// column/row pair the graph holds.
  FailureOr<SmallVector<Pair>> findPairs(func::FuncOp fn) {
    SmallVector<LinearOp> linears;
    bool marked = false;
    fn.walk([&](LinearOp op) {
      linears.push_back(op);
      marked |= op->hasAttr(kParallelism);
    });
    SmallVector<Pair> pairs;
    llvm::DenseSet<Operation *> paired;
    for (LinearOp op : linears) {
      auto mode = op->getAttrOfType<StringAttr>(kParallelism);
      if (marked && mode && mode.getValue() == "row" && !paired.contains(op))
        return op.emitOpError("is marked row-parallel but no "
                              "column-parallel layer feeds it through "
                              "elementwise ops"),
               failure();
      if (marked && (!mode || mode.getValue() != "column"))
        continue;
      if (paired.contains(op))
        continue;
      std::optional<Pair> pair = followToRow(op);
      if (marked) {
        auto rowMode = pair ? pair->row->getAttrOfType<StringAttr>(kParallelism)
                            : StringAttr();
        if (!rowMode || rowMode.getValue() != "row")
          return op.emitOpError("is marked column-parallel but does not "
                                "feed a row-parallel layer through "
                                "single-use elementwise ops"),
                 failure();
      }
      if (!pair || paired.contains(pair->row))
        continue;
      // Without marks, a pair that cannot be split stays whole; a marked
      // one is an error.
      std::string why = unsplittable(fn, *pair);
      if (!why.empty()) {
        if (marked)
          return op.emitOpError(why), failure();
        continue;
      }
      paired.insert(op);
      paired.insert(pair->row);
      pairs.push_back(std::move(*pair));
    }
    return pairs;
  }

  /// Why `pair` cannot be split over tp processes ("" if it can).
  std::string unsplittable(func::FuncOp fn, Pair pair) {
    for (LinearOp op : {pair.column, pair.row}) {
      SmallVector<Value> owned = {op.getWeight()};
      if (op == pair.column && op.getBias())
        owned.push_back(op.getBias());
      for (Value v : owned) {
        auto arg = dyn_cast<BlockArgument>(v);
        if (!arg || arg.getOwner() != &fn.front())
          return "cannot be split: its weight and bias must be arguments "
                 "of @" +
                 entry + " (parameters)";
        if (!v.hasOneUse())
          return "cannot be split: a parameter it uses is used elsewhere "
                 "too (tied weights)";
      }
    }
    int64_t features = pair.column.getWeight().getType().getDimSize(
        featureDim(pair.column, /*output=*/true));
    if (features % tp)
      return "cannot be split over " + std::to_string(tp) + " processes: its " +
             std::to_string(features) + " output features do not divide";
    return "";
  }

  /// Gives argument `v` its shard's type: dimension `dim` divided by tp.
  void shardArgument(func::FuncOp fn, Value v, int64_t dim) {
    auto arg = cast<BlockArgument>(v);
    auto type = cast<RankedTensorType>(arg.getType());
    SmallVector<int64_t> shape(type.getShape());
    shape[dim] /= tp;
    arg.setType(type.clone(shape));
    fn.setArgAttr(arg.getArgNumber(), "autopar.split",
                  DenseI64ArrayAttr::get(&getContext(), {dim, kTensorAxis}));
  }

  LogicalResult split(func::FuncOp fn, Pair &pair) {
    MLIRContext *ctx = &getContext();
    auto grid = FlatSymbolRefAttr::get(ctx, kGrid);
    auto axes = DenseI64ArrayAttr::get(ctx, {kTensorAxis});
    OpBuilder b(pair.column);

    // Column: the whole input (its cotangent summed over the group), the
    // local share of the output features.
    LinearOp column = pair.column;
    shardArgument(fn, column.getWeight(), featureDim(column, true));
    if (Value bias = column.getBias())
      shardArgument(fn, bias, 0);
    Value input = GradAllReduceOp::create(b, column.getLoc(), column.getInput(),
                                          grid, axes);
    column.getInputMutable().assign(input);
    RankedTensorType full = column.getType();
    SmallVector<int64_t> shape(full.getShape());
    shape.back() /= tp;
    auto local = full.clone(shape);
    column.getResult().setType(local);
    for (Operation *op : pair.between)
      op->getResult(0).setType(local);

    // Row: a partial sum from the local features, completed by the
    // all-reduce; the bias (whole on every process) is added once after.
    LinearOp row = pair.row;
    shardArgument(fn, row.getWeight(), featureDim(row, false));
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
    return success();
  }
};
} // namespace
