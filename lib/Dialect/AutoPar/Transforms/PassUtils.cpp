//===- PassUtils.cpp - what several autopar passes share ------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

using namespace mlir;

func::FuncOp mlir::autopar::lookupEntryFunction(ModuleOp module,
                                                llvm::StringRef entry,
                                                llvm::StringRef pass) {
  auto fn = module.lookupSymbol<func::FuncOp>(entry);
  if (!fn || fn.isExternal()) {
    module.emitError(pass) << ": no function @" << entry;
    return nullptr;
  }
  return fn;
}
