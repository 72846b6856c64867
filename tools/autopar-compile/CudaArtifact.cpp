//===- CudaArtifact.cpp - a training step compiled for an NVIDIA GPU ------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Ahead of time, because the machines with GPUs need not have LLVM or MLIR
// (docs/gpu.md): the module is lowered by autopar-lower-to-cuda, translated
// to LLVM IR, compiled to an object for this machine with LLVM's code
// generator, and linked into a shared object with the CUDA runtime.
//
//===----------------------------------------------------------------------===//

#include "CudaArtifact.h"

#include "autopar/Conversion/Passes.h"
#include "autopar/Pipelines/Pipelines.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

static llvm::Error artifactError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

namespace autopar {
llvm::Error writeCudaLibrary(ModuleOp original, llvm::StringRef gpuArch,
                             bool cubin, llvm::StringRef toolkit,
                             llvm::StringRef library,
                             llvm::StringRef runtimeDir,
                             llvm::StringRef loweringOptions) {
  OwningOpRef<ModuleOp> module(cast<ModuleOp>(original->clone()));
  MLIRContext *context = module->getContext();
  mlir::autopar::prepareForNativeCode(*module);
  PassManager pm(context);
  mlir::autopar::CUDALoweringOptions options;
  options.chip = gpuArch.str();
  options.format = cubin ? "bin" : "isa";
  options.toolkit = toolkit.str();
  std::string bad;
  llvm::raw_string_ostream errors(bad);
  if (failed(options.parseFromString(loweringOptions, errors)))
    return artifactError("--cuda-lowering-options '" + loweringOptions +
                         "': " + llvm::StringRef(bad).trim());
  mlir::autopar::buildCUDALoweringPipeline(pm, options);
  // Drivers call the steps through their packed wrappers.
  pm.addPass(mlir::autopar::createPackedWrappersPass());
  if (failed(pm.run(*module)))
    return artifactError("lowering the training step for CUDA (" + gpuArch +
                         ") failed");
  // PTX that still declares libdevice's functions would fail to load on
  // the GPU ("unresolved extern function"): say so here instead.
  std::string missing;
  module->walk([&](gpu::BinaryOp binary) {
    for (Attribute a : binary.getObjects()) {
      SmallVector<StringRef> lines;
      cast<gpu::ObjectAttr>(a).getObject().getValue().split(lines, '\n');
      for (StringRef line : lines) {
        size_t name = line.find("__nv_");
        if (missing.empty() && line.starts_with(".extern .func") &&
            name != StringRef::npos)
          missing = line.substr(name).take_until(
              [](char c) { return !llvm::isAlnum(c) && c != '_'; });
      }
    }
  });
  if (!missing.empty())
    return artifactError(
        "the kernels call CUDA's libdevice (" + missing +
        ", ...), which was not found: install the CUDA toolkit or set "
        "CUDA_HOME to it (a folder holding nvvm/libdevice/libdevice.10.bc)");

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> ir =
      translateModuleToLLVMIR(*module, llvmContext, "autopar-train-step");
  if (!ir)
    return artifactError("translating the lowered step to LLVM IR failed");
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::Triple triple(llvm::sys::getDefaultTargetTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return artifactError("no code generator for " + triple.str() + ": " +
                         error);
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, "generic", "", llvm::TargetOptions(), llvm::Reloc::PIC_));
  ir->setTargetTriple(triple);
  ir->setDataLayout(machine->createDataLayout());

  std::string object = (library + ".o").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(object, ec, llvm::sys::fs::OF_None);
    if (ec)
      return artifactError(object + ": " + ec.message());
    llvm::legacy::PassManager codegen;
    if (machine->addPassesToEmitFile(codegen, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile))
      return artifactError("this LLVM cannot write object files for " +
                           triple.str());
    codegen.run(*ir);
  }
  llvm::ErrorOr<std::string> linker = llvm::sys::findProgramByName("c++");
  if (!linker)
    return artifactError("linking " + library +
                         " needs a C++ compiler driver (c++) on PATH");
  std::string out = library.str(), libDir = ("-L" + runtimeDir).str(),
              rpath = ("-Wl,-rpath," + runtimeDir).str();
  SmallVector<StringRef> args = {*linker,
                                 "-shared",
                                 "-o",
                                 out,
                                 object,
                                 libDir,
                                 "-lautopar_cuda_runtime",
                                 rpath,
                                 "-Wl,--no-undefined"};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(*linker, args, std::nullopt, {}, 0, 0,
                                         &message);
  llvm::sys::fs::remove(object);
  if (status != 0)
    return artifactError("linking " + library + " failed" +
                         (message.empty() ? "" : ": " + message));
  return llvm::Error::success();
}
} // namespace autopar
