//===- PlanLinearShardings.cpp - data vs tensor parallelism per layer -----===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Dynamic programming over a chain of linear layers: each layer runs data
// parallel (D), column parallel (C) or row parallel (R). A layer's mode fixes
// the layout its input must have and the layout its output gets:
//
//   mode  input layout      output layout      communication of its own
//   D     batch-split       batch-split        all-reduce of weight grads
//   C     replicated        feature-split      -
//   R     feature-split     replicated         all-reduce of the output
//
// Between layers an activation changes layout: replicated -> anything is a
// local slice; split -> replicated is an all-gather; batch <-> feature split
// is an all-to-all. Activation traffic happens in forward and (transposed)
// in backward, so it counts twice.
//
//===----------------------------------------------------------------------===//

#include "autopar/Planner/CostModel.h"
#include "autopar/Planner/Passes.h"

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

#include <array>
#include <limits>

namespace mlir::autopar {
#define GEN_PASS_DEF_PLANLINEARSHARDINGSPASS
#include "autopar/Planner/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;
using namespace mlir::autopar::planner;

namespace {

enum Mode { Data = 0, Column = 1, Row = 2 };
enum Layout { BatchSplit, FeatureSplit, Replicated };
constexpr const char *kModeNames[] = {"data", "column", "row"};
constexpr Layout kInput[] = {BatchSplit, Replicated, FeatureSplit};
constexpr Layout kOutput[] = {BatchSplit, FeatureSplit, Replicated};
constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr StringLiteral kGridName = "autopar_grid";

double bytesOf(Type type) {
  auto t = cast<RankedTensorType>(type);
  return double(t.getNumElements()) *
         std::max<unsigned>(1, t.getElementTypeBitWidth() / 8);
}

/// Collective costs with a fixed per-call overhead (one link latency: the
/// launch and synchronization every collective pays), so that of two
/// patterns moving the same bytes the one with fewer collectives wins.
struct Comm {
  CollectiveCostModel model;
  double overhead;
  int64_t devices;
  double allReduce(double bytes) const {
    return model.allReduce(bytes, devices) + overhead;
  }
  double allGather(double bytes) const {
    return model.allGather(bytes, devices) + overhead;
  }
  double allToAll(double bytes) const {
    return model.allToAll(bytes, devices) + overhead;
  }
};

/// Forward plus backward cost of changing an activation's layout.
double relayout(Layout from, Layout to, double bytes, const Comm &comm) {
  if (from == to || from == Replicated)
    return 0;
  double once = to == Replicated ? comm.allGather(bytes) : comm.allToAll(bytes);
  return 2 * once;
}

struct PlanLinearShardingsPass
    : public mlir::autopar::impl::PlanLinearShardingsPassBase<
          PlanLinearShardingsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (devices < 1) {
      module.emitError("autopar-plan-linear-shardings: devices must be at "
                       "least 1, got ")
          << int64_t(devices);
      return signalPassFailure();
    }
    llvm::Expected<ClusterSpec> spec = loadCluster(cluster, devices);
    if (!spec) {
      module.emitError("autopar-plan-linear-shardings: ")
          << llvm::toString(spec.takeError());
      return signalPassFailure();
    }
    const LinkSpec &link = spec->linkFor(devices, 1);
    Comm comm{CollectiveCostModel(link), link.latency, devices};

    bool gridCreated = false;
    for (auto func : module.getOps<func::FuncOp>()) {
      SmallVector<LinearOp> chain;
      func.walk([&](LinearOp op) { chain.push_back(op); });
      if (chain.empty())
        continue;
      if (!gridCreated) {
        OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
        if (!SymbolTable::lookupSymbolIn(module, kGridName))
          shard::GridOp::create(b, module.getLoc(), kGridName,
                                ArrayRef<int64_t>{devices});
        gridCreated = true;
      }
      if (failed(planChain(chain, comm)))
        return signalPassFailure();
    }
  }

  /// Costs of layer `op` in each mode (infinite when it does not divide).
  std::array<double, 3> ownCosts(LinearOp op, const Comm &comm) {
    auto in = op.getInput().getType();
    auto w = cast<RankedTensorType>(op.getWeight().getType());
    int64_t batch = in.getRank() > 1 ? in.getDimSize(0) : 1;
    int64_t k = in.getShape().back();
    int64_t n = op.getType().getShape().back();
    double weightBytes =
        bytesOf(w) + (op.getBias() ? bytesOf(op.getBias().getType()) : 0);
    std::array<double, 3> c;
    c[Data] = batch % devices ? kInfinity : comm.allReduce(weightBytes);
    c[Column] = n % devices ? kInfinity : 0;
    c[Row] =
        k % devices ? kInfinity : 2 * comm.allReduce(bytesOf(op.getType()));
    return c;
  }

  LogicalResult planChain(MutableArrayRef<LinearOp> chain, const Comm &comm) {
    size_t n = chain.size();
    std::vector<std::array<double, 3>> best(n);
    std::vector<std::array<int, 3>> from(n);
    for (size_t i = 0; i < n; ++i) {
      std::array<double, 3> own = ownCosts(chain[i], comm);
      double inBytes = bytesOf(chain[i].getInput().getType());
      for (int m = 0; m < 3; ++m) {
        best[i][m] = kInfinity;
        if (i == 0) {
          // The data loader hands every device its slice of the batch.
          best[i][m] = own[m] + relayout(BatchSplit, kInput[m], inBytes, comm);
          continue;
        }
        for (int p = 0; p < 3; ++p) {
          double c = best[i - 1][p] +
                     relayout(kOutput[p], kInput[m], inBytes, comm) + own[m];
          if (c < best[i][m]) {
            best[i][m] = c;
            from[i][m] = p;
          }
        }
      }
    }
    // The chain hands its result on batch-split, as it received its input
    // (what the loss, or the next data-parallel part, expects).
    double outBytes = bytesOf(chain[n - 1].getType());
    std::array<double, 3> total;
    for (int m = 0; m < 3; ++m)
      total[m] =
          best[n - 1][m] + relayout(kOutput[m], BatchSplit, outBytes, comm);
    int mode =
        int(std::min_element(total.begin(), total.end()) - total.begin());
    if (total[mode] == kInfinity)
      return chain[n - 1].emitOpError()
             << "cannot be split over " << int64_t(devices)
             << " devices: neither its batch nor its features divide";
    SmallVector<int> modes(n);
    for (size_t i = n; i-- > 0;) {
      modes[i] = mode;
      mode = from[i][mode];
    }
    for (auto [op, m] : llvm::zip(chain, modes))
      annotate(op, Mode(m), total[modes.back()]);
    return success();
  }

  /// `split_axes` for a rank-`rank` tensor split along `dim` (or not, -1).
  SmallVector<shard::GridAxesAttr> splitAxes(int64_t rank, int64_t dim) {
    SmallVector<shard::GridAxesAttr> axes;
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(DenseI16ArrayAttr::get(&getContext(),
                                            d == dim ? ArrayRef<int16_t>{0}
                                                     : ArrayRef<int16_t>{}));
    return axes;
  }

  /// Replaces `op`'s operand `index` by `shard.shard operand to sharding`.
  void shardOperand(OpBuilder &b, LinearOp op, unsigned index, int64_t dim) {
    Value v = op->getOperand(index);
    auto type = cast<RankedTensorType>(v.getType());
    auto sharding = shard::ShardingOp::create(b, op.getLoc(), kGridName,
                                              splitAxes(type.getRank(), dim));
    auto annotated = shard::ShardOp::create(b, op.getLoc(), v, sharding,
                                            /*annotate_for_users=*/true);
    op->setOperand(index, annotated);
  }

  void annotate(LinearOp op, Mode mode, double chainCost) {
    OpBuilder b(op);
    bool transposed = op.getWeightTransposed();
    int64_t outDim = transposed ? 0 : 1, inDim = transposed ? 1 : 0;
    int64_t wDim = mode == Column ? outDim : mode == Row ? inDim : -1;
    shardOperand(b, op, 1, wDim);
    if (op.getBias())
      shardOperand(b, op, 2, mode == Column ? 0 : -1);
    // The layer's output layout.
    b.setInsertionPointAfter(op);
    auto type = op.getType();
    int64_t outSplit = mode == Data     ? (type.getRank() > 1 ? 0 : -1)
                       : mode == Column ? type.getRank() - 1
                                        : -1;
    auto sharding = shard::ShardingOp::create(
        b, op.getLoc(), kGridName, splitAxes(type.getRank(), outSplit));
    auto annotated =
        shard::ShardOp::create(b, op.getLoc(), op.getResult(), sharding);
    op.getResult().replaceAllUsesExcept(annotated, annotated.getOperation());
    op->setAttr("autopar.parallelism", b.getStringAttr(kModeNames[mode]));
    op->setAttr("autopar.chain_comm_seconds", b.getF64FloatAttr(chainCost));
  }
};

} // namespace
