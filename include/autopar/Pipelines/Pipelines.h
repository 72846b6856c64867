//===- Pipelines.h - autopar pass pipelines ---------------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PIPELINES_PIPELINES_H
#define AUTOPAR_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir {
class DialectRegistry;
namespace autopar {

/// Options of the CPU lowering pipeline (`autopar-lower-to-cpu`).
struct CPULoweringOptions : public PassPipelineOptions<CPULoweringOptions> {
  PassOptions::Option<bool> outParams{
      *this, "out-params",
      llvm::cl::desc("Turn function results into caller-allocated output "
                     "buffers (what autopar-run expects)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fuse{
      *this, "fuse",
      llvm::cl::desc("Fuse elementwise chains into single loops "
                     "(autopar-fuse-elementwise)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> runtimeGemm{
      *this, "runtime-gemm",
      llvm::cl::desc("Run f32 contractions through the runtime's GEMM "
                     "(autopar-contractions-to-calls; the caller must provide "
                     "autopar_gemm_f32) instead of generated loops"),
      llvm::cl::init(true)};
};

/// Builds the pipeline that takes a module in the autopar dialect down to the
/// LLVM dialect: autopar -> linalg on tensors -> one-shot bufferization ->
/// loops -> LLVM. Functions keep their names and gain C interfaces.
void buildCPULoweringPipeline(OpPassManager &pm,
                              const CPULoweringOptions &options);

/// Registers every pass and pipeline autopar tools can run: the upstream
/// passes, autopar's passes and its pipelines. The pipelines above are built
/// partly from textual pass names, so any tool that builds them calls this.
void registerAllAutoParPasses();

/// Registers the dialects and interface models everything in autopar may
/// create or parse (ours plus the upstream ones we build on).
void registerAutoParDialects(DialectRegistry &registry);

} // namespace autopar
} // namespace mlir

#endif // AUTOPAR_PIPELINES_PIPELINES_H
