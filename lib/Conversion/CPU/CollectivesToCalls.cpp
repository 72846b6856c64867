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
/// The runtime entry point of a collective: its name stem, and its
/// dimension (-1: none, all_reduce).
std::optional<std::pair<StringRef, int64_t>> runtimeCall(Operation *op) {
  if (isa<AllReduceOp>(op))
    return std::pair<StringRef, int64_t>("all_reduce", -1);
  if (isa<AllReduceMaxOp>(op))
    return std::pair<StringRef, int64_t>("all_reduce_max", -1);
  if (auto g = dyn_cast<AllGatherOp>(op))
    return std::pair<StringRef, int64_t>("all_gather", g.getDim());
  if (auto r = dyn_cast<ReduceScatterOp>(op))
    return std::pair<StringRef, int64_t>("reduce_scatter", r.getDim());
  if (auto l = dyn_cast<LocalSliceOp>(op))
    return std::pair<StringRef, int64_t>("local_slice", l.getDim());
  return std::nullopt;
}

struct CollectivesToCallsPass
    : public autopar::impl::CollectivesToCallsPassBase<CollectivesToCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<Operation *> work;
    SmallVector<AllReduceStartOp> starts;
    WalkResult walk = module.walk([&](Operation *op) {
      if (auto identity = dyn_cast<GradAllReduceOp>(op)) {
        identity.getResult().replaceAllUsesWith(identity.getOperand());
        identity.erase();
        return WalkResult::advance();
      }
      auto start = dyn_cast<AllReduceStartOp>(op);
      if (!start && !runtimeCall(op))
        return WalkResult::advance();
      // The data's element type (the operand's; a start returns a request).
      Type element =
          cast<RankedTensorType>(op->getOperand(0).getType()).getElementType();
      if (!element.isF32() && !element.isF64()) {
        op->emitOpError("runs on the CPU runtime for f32 and f64 only, not ")
            << element;
        return WalkResult::interrupt();
      }
      if (start)
        starts.push_back(start);
      else
        work.push_back(op);
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return signalPassFailure();

    SymbolTable symbols(module);
    OpBuilder b(ctx);
    Type i64 = IntegerType::get(ctx, 64);
    // The runtime entry point `name`, declared once; those taking buffers
    // through MLIR's C interface (`_mlir_ciface_` + name).
    auto declare = [&](StringRef name, ArrayRef<Type> args,
                       ArrayRef<Type> results, bool cInterface = true) {
      auto callee = symbols.lookup<func::FuncOp>(name);
      if (!callee) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(module.getBody());
        callee = func::FuncOp::create(b, module.getLoc(), name,
                                      b.getFunctionType(args, results));
        callee.setPrivate();
        if (cInterface)
          callee->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
        symbols.insert(callee);
      }
      return callee;
    };
    // The bit mask of an op's grid axes, as the runtime takes it.
    auto axesMask = [&](Operation *op, Location loc) -> Value {
      int64_t mask = 0;
      for (int64_t axis :
           op->getAttrOfType<DenseI64ArrayAttr>("grid_axes").asArrayRef())
        mask |= int64_t(1) << axis;
      return arith::ConstantIntOp::create(b, loc, mask, 64);
    };
    auto suffix = [](Type element) {
      return element.isF32() ? "_f32" : "_f64";
    };
    // grid_index: `autopar_grid_index(axis) -> i64`, as a 0-d tensor.
    SmallVector<GridIndexOp> indices;
    module.walk([&](GridIndexOp op) { indices.push_back(op); });
    for (GridIndexOp op : indices) {
      auto callee = declare("autopar_grid_index", {i64}, {i64},
                            /*cInterface=*/false);
      b.setInsertionPoint(op);
      Value axis = arith::ConstantIntOp::create(b, op.getLoc(),
                                                int64_t(op.getAxis()), 64);
      Value index =
          func::CallOp::create(b, op.getLoc(), callee, ValueRange{axis})
              .getResult(0);
      op.getResult().replaceAllUsesWith(tensor::FromElementsOp::create(
          b, op.getLoc(), op.getType(), ValueRange{index}));
      op.erase();
    }
    // Started sums: `autopar_all_reduce_start_*(axes, in) -> i64` (the
    // runtime copies `in` before it returns) and
    // `autopar_all_reduce_wait_*(request, out)`.
    for (AllReduceStartOp op : starts) {
      auto type = cast<RankedTensorType>(op.getOperand().getType());
      Type element = type.getElementType();
      auto unranked = UnrankedMemRefType::get(element, nullptr);
      auto callee =
          declare(("autopar_all_reduce_start" + Twine(suffix(element))).str(),
                  {i64, unranked}, {i64});
      Location loc = op.getLoc();
      b.setInsertionPoint(op);
      Value in = bufferization::ToBufferOp::create(
          b, loc, MemRefType::get(type.getShape(), element), op.getOperand(),
          /*read_only=*/true);
      Value request =
          func::CallOp::create(
              b, loc, callee,
              ValueRange{axesMask(op, loc),
                         memref::CastOp::create(b, loc, unranked, in)})
              .getResult(0);
      for (OpOperand &use : llvm::make_early_inc_range(op->getUses())) {
        auto wait = cast<AllReduceWaitOp>(use.getOwner());
        auto outType = MemRefType::get(wait.getType().getShape(), element);
        auto waitCallee =
            declare(("autopar_all_reduce_wait" + Twine(suffix(element))).str(),
                    {i64, unranked}, {});
        b.setInsertionPoint(wait);
        Value out = memref::AllocOp::create(b, wait.getLoc(), outType);
        func::CallOp::create(
            b, wait.getLoc(), waitCallee,
            ValueRange{request, memref::CastOp::create(b, wait.getLoc(),
                                                       unranked, out)});
        wait.getResult().replaceAllUsesWith(bufferization::ToTensorOp::create(
            b, wait.getLoc(), wait.getType(), out, /*restrict=*/true,
            /*writable=*/true));
        wait.erase();
      }
      op.erase();
    }
    for (Operation *op : work) {
      auto [stem, dim] = *runtimeCall(op);
      auto type = cast<RankedTensorType>(op->getResult(0).getType());
      auto operandType = cast<RankedTensorType>(op->getOperand(0).getType());
      Type element = type.getElementType();
      auto unranked = UnrankedMemRefType::get(element, nullptr);
      SmallVector<Type> argTypes = {i64};
      if (dim >= 0)
        argTypes.push_back(i64);
      argTypes.append({unranked, unranked});
      auto callee =
          declare(("autopar_" + stem + suffix(element)).str(), argTypes, {});
      Location loc = op->getLoc();
      b.setInsertionPoint(op);
      Value in = bufferization::ToBufferOp::create(
          b, loc, MemRefType::get(operandType.getShape(), element),
          op->getOperand(0), /*read_only=*/true);
      Value out = memref::AllocOp::create(
          b, loc, MemRefType::get(type.getShape(), element));
      SmallVector<Value> args = {axesMask(op, loc)};
      if (dim >= 0)
        args.push_back(arith::ConstantIntOp::create(b, loc, dim, 64));
      args.push_back(memref::CastOp::create(b, loc, unranked, in));
      args.push_back(memref::CastOp::create(b, loc, unranked, out));
      func::CallOp::create(b, loc, callee, args);
      Value result = bufferization::ToTensorOp::create(
          b, loc, type, out, /*restrict=*/true, /*writable=*/true);
      op->getResult(0).replaceAllUsesWith(result);
      op->erase();
    }
    // The grids have served; nothing below the CPU lowering knows them.
    for (auto grid : llvm::make_early_inc_range(module.getOps<shard::GridOp>()))
      if (SymbolTable::symbolKnownUseEmpty(grid, module))
        grid.erase();
  }
};
} // namespace
