//===- ShardParameters.cpp - ZeRO-3 parameter shards and their gathers ----===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// ZeRO stage 3 in the program itself: a trained parameter arrives as this
// process's flat shard and is all-gathered where it is used. Written before
// autodiff, the gather's vector-Jacobian product (a reduce-scatter) hands
// each process the shard of the gradient it updates; moved after autodiff,
// one gather per use keeps the whole parameter alive only while that use
// runs.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_SHARDPARAMETERSPASS
#define GEN_PASS_DEF_GATHERATUSEPASS
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
constexpr StringLiteral kZeroShape = "autopar.zero_shape";
constexpr int64_t kDataAxis = 0;

struct ShardParametersPass
    : public autopar::impl::ShardParametersPassBase<ShardParametersPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    func::FuncOp fn =
        lookupEntryFunction(module, entry, "autopar-shard-parameters");
    if (!fn)
      return signalPassFailure();
    if (dp < 2) {
      module.emitError("autopar-shard-parameters: dp must be at least 2, "
                       "got ")
          << int64_t(dp);
      return signalPassFailure();
    }
    if (auto grid = module.lookupSymbol<shard::GridOp>(kGridName)) {
      if (grid.getShape().empty() || grid.getShape()[0] != dp) {
        grid.emitOpError("has axis 0 of size ")
            << (grid.getShape().empty() ? 0 : grid.getShape()[0])
            << "; autopar-shard-parameters needs the data-parallel axis 0 "
               "of size "
            << int64_t(dp);
        return signalPassFailure();
      }
    } else {
      OpBuilder b(module.getBodyRegion());
      shard::GridOp::create(b, module.getLoc(), kGridName,
                            ArrayRef<int64_t>{dp, 1});
    }
    auto grid = FlatSymbolRefAttr::get(ctx, kGridName);
    auto axes = DenseI64ArrayAttr::get(ctx, {kDataAxis});
    Block &body = fn.front();
    OpBuilder b = OpBuilder::atBlockBegin(&body);
    SmallVector<Type> inputs(fn.getArgumentTypes());
    bool any = false;
    for (BlockArgument arg : body.getArguments()) {
      unsigned i = arg.getArgNumber();
      auto role = fn.getArgAttrOfType<StringAttr>(i, "autopar.role");
      if (!role || role.getValue() != "param")
        continue;
      if (fn.getArgAttr(i, kZeroShape)) {
        fn.emitOpError("parameter ")
            << i << " is sharded already (it has " << kZeroShape << ")";
        return signalPassFailure();
      }
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      if (!type || !isa<FloatType>(type.getElementType())) {
        fn.emitOpError("parameter ")
            << i << " must be a ranked floating-point tensor to be sharded, "
            << "got " << arg.getType();
        return signalPassFailure();
      }
      int64_t n = type.getNumElements(), k = (n + dp - 1) / dp;
      auto shardType = RankedTensorType::get({k}, type.getElementType());
      auto paddedType = RankedTensorType::get({k * dp}, type.getElementType());
      auto flatType = RankedTensorType::get({n}, type.getElementType());
      Location loc = arg.getLoc();
      SmallVector<OpOperand *> uses;
      for (OpOperand &use : arg.getUses())
        uses.push_back(&use);
      arg.setType(shardType);
      inputs[i] = shardType;
      fn.setArgAttr(i, kZeroShape, b.getDenseI64ArrayAttr(type.getShape()));
      Value whole =
          AllGatherOp::create(b, loc, paddedType, arg, grid, axes,
                              b.getI64IntegerAttr(0), b.getUnitAttr());
      if (k * dp != n)
        whole = SliceOp::create(b, loc, flatType, whole, ArrayRef<int64_t>{0},
                                ArrayRef<int64_t>{n}, ArrayRef<int64_t>{1});
      if (type != whole.getType())
        whole = ReshapeOp::create(b, loc, type, whole);
      for (OpOperand *use : uses)
        use->set(whole);
      any = true;
    }
    if (!any) {
      fn.emitOpError("has no trained parameter ({autopar.role = \"param\"}) "
                     "to shard");
      return signalPassFailure();
    }
    fn.setType(
        FunctionType::get(ctx, inputs, fn.getFunctionType().getResults()));
  }
};

/// The ops from the gather of a ZeRO-3 shard to the whole parameter (the
/// gather, then a slice and a reshape each used only by the next), or an
/// empty list.
SmallVector<Operation *> gatherChain(AllGatherOp gather, func::FuncOp fn) {
  auto arg = dyn_cast<BlockArgument>(gather.getOperand());
  if (!arg || arg.getOwner() != &fn.front() ||
      !fn.getArgAttr(arg.getArgNumber(), kZeroShape))
    return {};
  SmallVector<Operation *> chain = {gather};
  Value v = gather.getResult();
  while (v.hasOneUse() && isa<SliceOp, ReshapeOp>(*v.getUsers().begin())) {
    chain.push_back(*v.getUsers().begin());
    v = chain.back()->getResult(0);
  }
  return chain;
}

struct GatherAtUsePass
    : public autopar::impl::GatherAtUsePassBase<GatherAtUsePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp fn =
        lookupEntryFunction(module, entry, "autopar-gather-at-use");
    if (!fn)
      return signalPassFailure();
    SmallVector<SmallVector<Operation *>> chains;
    fn.walk([&](AllGatherOp gather) {
      SmallVector<Operation *> chain = gatherChain(gather, fn);
      if (!chain.empty())
        chains.push_back(std::move(chain));
    });
    for (ArrayRef<Operation *> chain : chains) {
      Value whole = chain.back()->getResult(0);
      // The ops of the function's body that use the whole parameter, in
      // program order, each getting its own gather.
      llvm::SetVector<Operation *> users;
      for (OpOperand &use : whole.getUses())
        users.insert(fn.front().findAncestorOpInBlock(*use.getOwner()));
      SmallVector<Operation *> ordered(users.begin(), users.end());
      llvm::sort(ordered, [](Operation *a, Operation *b) {
        return a->isBeforeInBlock(b);
      });
      for (Operation *user : ordered) {
        OpBuilder b(user);
        IRMapping map;
        for (Operation *op : chain)
          b.clone(*op, map);
        Value copy = map.lookup(whole);
        whole.replaceUsesWithIf(copy, [&](OpOperand &use) {
          return user->isAncestor(use.getOwner());
        });
      }
      for (Operation *op : llvm::reverse(chain))
        op->erase();
    }
  }
};
} // namespace
