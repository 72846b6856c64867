//===- PackedWrappers.cpp - invokePacked wrappers for C interfaces --------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_PACKEDWRAPPERSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
struct PackedWrappersPass
    : public mlir::autopar::impl::PackedWrappersPassBase<PackedWrappersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    SmallVector<LLVM::LLVMFuncOp> interfaces;
    for (auto f : module.getOps<LLVM::LLVMFuncOp>())
      if (!f.isExternal() && f.getName().starts_with("_mlir_ciface_"))
        interfaces.push_back(f);
    OpBuilder b(ctx);
    for (LLVM::LLVMFuncOp f : interfaces) {
      std::string name = ("_mlir_" + f.getName()).str();
      if (SymbolTable::lookupSymbolIn(module, name)) {
        f.emitOpError() << "has a packed wrapper's name taken: @" << name;
        return signalPassFailure();
      }
      Location loc = f.getLoc();
      b.setInsertionPointAfter(f);
      auto type =
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptr});
      auto packed = LLVM::LLVMFuncOp::create(b, loc, name, type);
      Block *entry = packed.addEntryBlock(b);
      b.setInsertionPointToStart(entry);
      Value args = entry->getArgument(0);
      // The address args[i] holds.
      auto slot = [&](int64_t i) -> Value {
        Value at = LLVM::GEPOp::create(b, loc, ptr, ptr, args,
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
        return LLVM::LoadOp::create(b, loc, ptr, at);
      };
      LLVM::LLVMFunctionType signature = f.getFunctionType();
      SmallVector<Value> values;
      for (auto [i, t] : llvm::enumerate(signature.getParams()))
        values.push_back(LLVM::LoadOp::create(b, loc, t, slot(i)));
      auto call = LLVM::CallOp::create(b, loc, f, values);
      if (!isa<LLVM::LLVMVoidType>(signature.getReturnType()))
        LLVM::StoreOp::create(b, loc, call.getResult(),
                              slot(signature.getNumParams()));
      LLVM::ReturnOp::create(b, loc, ValueRange());
    }
  }
};
} // namespace
