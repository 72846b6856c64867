//===- OverlapGradientSums.cpp - data-parallel sums during the backward ---===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Data parallelism averages every gradient over the processes. Summed after
// the gradient function returns, the communication waits for the whole
// backward pass; started where each gradient is complete, it overlaps the
// rest of it (the last layers' gradients are complete first).
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_OVERLAPGRADIENTSUMSPASS
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

struct OverlapGradientSumsPass
    : public autopar::impl::OverlapGradientSumsPassBase<
          OverlapGradientSumsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    func::FuncOp fn =
        lookupEntryFunction(module, entry, "autopar-overlap-gradient-sums");
    if (!fn)
      return signalPassFailure();
    // The trained parameters, whose gradients follow the loss.
    SmallVector<unsigned> params;
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      auto role = fn.getArgAttrOfType<StringAttr>(i, "autopar.role");
      if (role && role.getValue() == "param")
        params.push_back(i);
    }
    auto ret = cast<func::ReturnOp>(fn.front().getTerminator());
    if (params.empty() || ret.getNumOperands() != params.size() + 1) {
      fn.emitOpError("must return the loss and one gradient per trained "
                     "parameter ({autopar.role = \"param\"}): ")
          << params.size() << " parameters, " << ret.getNumOperands()
          << " results";
      return signalPassFailure();
    }
    auto grid = module.lookupSymbol<shard::GridOp>(kGridName);
    if (!grid) {
      OpBuilder b(module.getBodyRegion());
      grid = shard::GridOp::create(b, module.getLoc(), kGridName,
                                   ArrayRef<int64_t>{ShapedType::kDynamic, 1});
    }
    auto gridRef = FlatSymbolRefAttr::get(ctx, kGridName);
    auto axes = DenseI64ArrayAttr::get(ctx, {0});
    // One sum per distinct gradient value, started after its definition.
    llvm::MapVector<Value, Value> started;
    for (auto [k, i] : llvm::enumerate(params)) {
      Value g = ret.getOperand(unsigned(k + 1));
      if (fn.getArgAttr(i, "autopar.zero_shape") || started.count(g))
        continue;
      OpBuilder b(ctx);
      if (Operation *def = g.getDefiningOp())
        b.setInsertionPointAfter(def);
      else
        b.setInsertionPointToStart(&fn.front());
      started[g] = AllReduceStartOp::create(
          b, g.getLoc(), RankedTensorType::get({}, b.getI64Type()), g, gridRef,
          axes);
    }
    // Waited for in the order they started: the first is the first done.
    auto order = started.takeVector();
    llvm::sort(order, [](const auto &a, const auto &b) {
      Operation *x = a.second.getDefiningOp(), *y = b.second.getDefiningOp();
      return x->isBeforeInBlock(y);
    });
    OpBuilder b(ret);
    DenseMap<Value, Value> sums;
    for (auto [g, request] : order)
      sums[g] = AllReduceWaitOp::create(b, ret.getLoc(), g.getType(), request);
    for (OpOperand &use : ret->getOpOperands().drop_front())
      if (Value sum = sums.lookup(use.get()))
        use.set(sum);
  }
};
} // namespace
