//===- ContractionsToCalls.cpp - f32 contractions to runtime GEMM calls --===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_CONTRACTIONSTOCALLSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// For each loop of `op`, the dimension of each operand (inputs, then the
/// init) it indexes, or -1; empty if `op` is not a contraction the runtime
/// takes (two f32 inputs, one f32 init, all buffers, projected permutations,
/// every loop in at least two operands).
SmallVector<int64_t> loopDescription(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return {};
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type || !type.getElementType().isF32())
      return {};
  }
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!llvm::all_of(maps,
                    [](AffineMap m) { return m.isProjectedPermutation(); }))
    return {};
  unsigned numLoops = op.getNumLoops();
  SmallVector<int64_t> description(numLoops * 3, -1);
  for (auto [o, map] : llvm::enumerate(maps))
    for (auto [dim, expr] : llvm::enumerate(map.getResults()))
      description[cast<AffineDimExpr>(expr).getPosition() * 3 + o] =
          int64_t(dim);
  for (unsigned l = 0; l < numLoops; ++l)
    if (llvm::count(ArrayRef(description).slice(l * 3, 3), -1) > 1)
      return {};
  return description;
}

struct ContractionsToCallsPass
    : public autopar::impl::ContractionsToCallsPassBase<
          ContractionsToCallsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (function.empty()) {
      getOperation().emitError("autopar-contractions-to-calls: the runtime "
                               "function name is empty");
      return signalPassFailure();
    }
    ModuleOp module = getOperation();
    SmallVector<std::pair<linalg::LinalgOp, SmallVector<int64_t>>> work;
    module.walk([&](linalg::LinalgOp op) {
      SmallVector<int64_t> description = loopDescription(op);
      if (!description.empty())
        work.emplace_back(op, std::move(description));
    });
    if (work.empty())
      return;

    MLIRContext *ctx = &getContext();
    OpBuilder builder(ctx);
    SymbolTable symbols(module);
    Type f32 = Float32Type::get(ctx);
    auto unranked = UnrankedMemRefType::get(f32, /*memorySpace=*/nullptr);
    auto specType =
        MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 64));
    auto callee = symbols.lookup<func::FuncOp>(function);
    if (!callee) {
      builder.setInsertionPointToStart(module.getBody());
      callee = func::FuncOp::create(
          builder, module.getLoc(), function,
          builder.getFunctionType({unranked, unranked, unranked, specType},
                                  {}));
      callee.setPrivate();
      callee->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
      symbols.insert(callee);
    }

    // One constant global per distinct loop description.
    llvm::DenseMap<Attribute, memref::GlobalOp> globals;
    for (auto &[op, description] : work) {
      auto globalType = MemRefType::get({int64_t(description.size())},
                                        IntegerType::get(ctx, 64));
      auto value = DenseElementsAttr::get(
          RankedTensorType::get(globalType.getShape(),
                                globalType.getElementType()),
          ArrayRef<int64_t>(description));
      memref::GlobalOp &global = globals[value];
      if (!global) {
        builder.setInsertionPoint(callee);
        global = memref::GlobalOp::create(
            builder, module.getLoc(), "__autopar_gemm_loops",
            builder.getStringAttr("private"), globalType, value,
            /*constant=*/true, /*alignment=*/nullptr);
        global->setAttr(kHostGlobalAttr, builder.getUnitAttr());
        symbols.insert(global); // renames it if taken
      }
      Location loc = op.getLoc();
      builder.setInsertionPoint(op);
      Value spec = memref::GetGlobalOp::create(builder, loc, globalType,
                                               global.getSymName());
      SmallVector<Value> args;
      for (OpOperand &operand : op->getOpOperands())
        args.push_back(
            memref::CastOp::create(builder, loc, unranked, operand.get()));
      args.push_back(memref::CastOp::create(builder, loc, specType, spec));
      func::CallOp::create(builder, loc, callee, args);
      op->erase();
    }
  }
};
} // namespace
