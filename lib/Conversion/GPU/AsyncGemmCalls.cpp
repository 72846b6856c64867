//===- AsyncGemmCalls.cpp - no host wait before a cuBLAS call -------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// gpu-async-region makes the host wait for a function's queued kernels
// before any call it does not know (mgpuStreamSynchronize, then
// mgpuStreamDestroy): before each of the runtime's contractions, about 150
// times in a gpt2-small step, the device runs dry while the host wakes up
// and queues the product. The runtime's contractions only read host
// descriptors and queue cuBLAS on the legacy default stream, which starts
// after all earlier work on the (blocking) streams mgpuStreamCreate makes
// and before any later work on them: the order holds without the wait.
// This pass drops the synchronization and destroys the stream after the
// call instead of before it (still holding the work the product waits
// for when the product is queued).
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_ASYNCGEMMCALLSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {

bool calls(Operation *op, StringRef name, bool prefix = false) {
  auto call = dyn_cast_or_null<LLVM::CallOp>(op);
  if (!call || !call.getCallee())
    return false;
  return prefix ? call.getCallee()->starts_with(name)
                : *call.getCallee() == name;
}

struct AsyncGemmCallsPass
    : public mlir::autopar::impl::AsyncGemmCallsPassBase<AsyncGemmCallsPass> {
  using Base::Base;

  void runOnOperation() override {
    SmallVector<Operation *> syncs;
    getOperation().walk([&](LLVM::CallOp call) {
      if (calls(call, "mgpuStreamSynchronize"))
        syncs.push_back(call);
    });
    for (Operation *sync : syncs) {
      Operation *destroy = sync->getNextNode();
      if (!calls(destroy, "mgpuStreamDestroy") ||
          destroy->getOperand(0) != sync->getOperand(0))
        continue;
      // The call's operands may be unpacked between the two (a ranked
      // memref's descriptor passed field by field: llvm.extractvalue).
      Operation *product = destroy->getNextNode();
      while (product && !isa<LLVM::CallOp>(product) &&
             isMemoryEffectFree(product))
        product = product->getNextNode();
      if (!calls(product, prefix, /*prefix=*/true))
        continue;
      destroy->moveAfter(product);
      sync->erase();
    }
  }
};

} // namespace
