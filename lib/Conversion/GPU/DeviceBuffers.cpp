//===- DeviceBuffers.cpp - host functions' buffers in GPU memory ----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/Utils/MemRefUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_DEVICEBUFFERSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
/// Gives the host function `func` a device copy of each constant global it
/// hands to device code: `gpu.alloc` at the `memref.get_global`, filled by
/// `gpu.memset` when the global is a 16- or 32-bit splat (no host memory is
/// read, however large), else by `gpu.memcpy` from the host global, and
/// freed before every return. A global marked `autopar.host` (what a host
/// runtime function reads, like the GEMM's loop description) stays.
LogicalResult copyGlobalsToDevice(func::FuncOp func, IRRewriter &rewriter) {
  SmallVector<memref::GetGlobalOp> reads;
  func.walk([&](memref::GetGlobalOp op) {
    if (!op->getParentOfType<gpu::LaunchOp>())
      reads.push_back(op);
  });
  SmallVector<Value> copies;
  for (memref::GetGlobalOp read : reads) {
    auto global = SymbolTable::lookupNearestSymbolFrom<memref::GlobalOp>(
        read, read.getNameAttr());
    if (!global || global->hasAttr(mlir::autopar::kHostGlobalAttr))
      continue;
    auto initial =
        dyn_cast_or_null<DenseElementsAttr>(global.getInitialValueAttr());
    if (!global.getConstant() || !initial)
      return read.emitOpError("reads a global that is not a constant with an "
                              "initial value; the GPU lowering copies only "
                              "constants to the device");
    Location loc = read.getLoc();
    rewriter.setInsertionPointAfter(read);
    MemRefType type = read.getType();
    Value copy = gpu::AllocOp::create(rewriter, loc, type, Type(), ValueRange(),
                                      ValueRange(), ValueRange(),
                                      /*hostShared=*/false)
                     .getMemref();
    read.getResult().replaceAllUsesWith(copy);
    Type element = type.getElementType();
    unsigned width =
        element.isIntOrFloat() ? element.getIntOrFloatBitWidth() : 0;
    if (initial.isSplat() && (width == 16 || width == 32)) {
      auto value = arith::ConstantOp::create(
          rewriter, loc, cast<TypedAttr>(initial.getSplatValue<Attribute>()));
      gpu::MemsetOp::create(rewriter, loc, Type(), ValueRange(), copy, value);
      rewriter.eraseOp(read);
    } else {
      gpu::MemcpyOp::create(rewriter, loc, Type(), ValueRange(), copy, read);
    }
    copies.push_back(copy);
  }
  if (copies.empty())
    return success();
  func.walk([&](func::ReturnOp ret) {
    rewriter.setInsertionPoint(ret);
    for (Value copy : copies)
      gpu::DeallocOp::create(rewriter, ret.getLoc(), Type(), ValueRange(),
                             copy);
  });
  return success();
}

struct DeviceBuffersPass
    : public mlir::autopar::impl::DeviceBuffersPassBase<DeviceBuffersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    IRRewriter rewriter(&getContext());
    bool failedAny = false;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal() && failed(copyGlobalsToDevice(func, rewriter)))
        failedAny = true;
    module.walk([&](Operation *op) {
      // Device code keeps its own memory operations.
      if (op->getParentOfType<gpu::GPUModuleOp>() ||
          op->getParentOfType<gpu::LaunchOp>())
        return;
      rewriter.setInsertionPoint(op);
      Location loc = op->getLoc();
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        auto device = gpu::AllocOp::create(
            rewriter, loc, alloc.getType(), /*asyncToken=*/Type(),
            /*asyncDependencies=*/ValueRange(), alloc.getDynamicSizes(),
            alloc.getSymbolOperands(), /*hostShared=*/false);
        rewriter.replaceOp(alloc, device.getMemref());
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        gpu::DeallocOp::create(rewriter, loc, /*asyncToken=*/Type(),
                               ValueRange(), dealloc.getMemref());
        rewriter.eraseOp(dealloc);
      } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
        // gpu.memcpy moves bytes linearly: a strided buffer would be
        // scrambled, silently.
        if (!memref::isStaticShapeAndContiguousRowMajor(
                cast<MemRefType>(copy.getSource().getType())) ||
            !memref::isStaticShapeAndContiguousRowMajor(
                cast<MemRefType>(copy.getTarget().getType()))) {
          op->emitOpError("copies a buffer that is not contiguous; run "
                          "autopar-tile-loops-for-gpu first (it makes such "
                          "copies parallel loops)");
          failedAny = true;
          return;
        }
        gpu::MemcpyOp::create(rewriter, loc, /*asyncToken=*/Type(),
                              ValueRange(), copy.getTarget(), copy.getSource());
        rewriter.eraseOp(copy);
      } else if (isa<memref::LoadOp, memref::StoreOp>(op)) {
        op->emitOpError("reads or writes device memory on the host; run "
                        "autopar-tile-loops-for-gpu and map the loops to "
                        "the GPU first");
        failedAny = true;
      }
    });
    // A splat global now filled by gpu.memset is read by nothing: erase it,
    // or the host library would carry it (a GPT's logits-sized zeros).
    for (auto global :
         llvm::make_early_inc_range(module.getOps<memref::GlobalOp>()))
      if (global.isPrivate() &&
          SymbolTable::symbolKnownUseEmpty(global, module))
        global.erase();
    if (failedAny)
      signalPassFailure();
  }
};
} // namespace
