//===- CollectivesToCalls.cpp - grid collectives to runtime calls ---------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Upstream's convert-shard-to-mpi lowers a collective to MPI calls that
// split MPI_COMM_WORLD anew at every execution (a collective of its own, and
// a communicator never freed: a training loop runs out of them), and an MPI
// wait nobody can bound. The runtime keeps one communicator per axis set and
// polls each collective against its timeout, so the program calls it.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_COLLECTIVESTOCALLSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
struct CollectivesToCallsPass
    : public autopar::impl::CollectivesToCallsPassBase<CollectivesToCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<AllReduceOp> work;
    WalkResult walk = module.walk([&](Operation *op) {
      if (auto identity = dyn_cast<GradAllReduceOp>(op)) {
        identity.getResult().replaceAllUsesWith(identity.getOperand());
        identity.erase();
        return WalkResult::advance();
      }
      if (auto reduce = dyn_cast<AllReduceOp>(op)) {
        Type element = reduce.getType().getElementType();
        if (!element.isF32() && !element.isF64()) {
          reduce.emitOpError("runs on the CPU runtime for f32 and f64 only, "
                             "not ")
              << element;
          return WalkResult::interrupt();
        }
        work.push_back(reduce);
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();

    SymbolTable symbols(module);
    OpBuilder b(ctx);
    Type i64 = IntegerType::get(ctx, 64);
    for (AllReduceOp op : work) {
      RankedTensorType type = op.getType();
      Type element = type.getElementType();
      std::string name = std::string("autopar_all_reduce_") +
                         (element.isF32() ? "f32" : "f64");
      auto unranked = UnrankedMemRefType::get(element, nullptr);
      auto callee = symbols.lookup<func::FuncOp>(name);
      if (!callee) {
        b.setInsertionPointToStart(module.getBody());
        callee = func::FuncOp::create(
            b, module.getLoc(), name,
            b.getFunctionType({i64, unranked, unranked}, {}));
        callee.setPrivate();
        callee->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
        symbols.insert(callee);
      }
      Location loc = op.getLoc();
      b.setInsertionPoint(op);
      auto bufferType = MemRefType::get(type.getShape(), element);
      Value in =
          bufferization::ToBufferOp::create(b, loc, bufferType, op.getOperand(),
                                            /*read_only=*/true);
      Value out = memref::AllocOp::create(b, loc, bufferType);
      int64_t mask = 0;
      for (int64_t axis : op.getGridAxes())
        mask |= int64_t(1) << axis;
      Value axes = arith::ConstantIntOp::create(b, loc, mask, 64);
      func::CallOp::create(
          b, loc, callee,
          ValueRange{axes, memref::CastOp::create(b, loc, unranked, in),
                     memref::CastOp::create(b, loc, unranked, out)});
      Value result = bufferization::ToTensorOp::create(
          b, loc, type, out, /*restrict=*/true, /*writable=*/true);
      op.getResult().replaceAllUsesWith(result);
      op.erase();
    }
    // The grids have served; nothing below the CPU lowering knows them.
    for (auto grid : llvm::make_early_inc_range(module.getOps<shard::GridOp>()))
      if (SymbolTable::symbolKnownUseEmpty(grid, module))
        grid.erase();
  }
};
} // namespace
