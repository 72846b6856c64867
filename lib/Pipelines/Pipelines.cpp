//===- Pipelines.cpp - autopar pass pipelines -----------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Pipelines/Pipelines.h"

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"
#include "autopar/Dialect/AutoPar/Transforms/Passes.h"
#include "autopar/Planner/Passes.h"

#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

/// The upstream part of the CPU pipeline, after autopar has become linalg on
/// tensors. Kept as one textual pipeline so that `autopar-opt` users can run
/// exactly the same steps by hand (docs/architecture.md lists them).
static constexpr const char *kBufferizeToLLVM =
    "%FUSE%"
    "canonicalize,"
    "one-shot-bufferize{bufferize-function-boundaries "
    "function-boundary-type-conversion=identity-layout-map},"
    "%OUT_PARAMS%"
    "buffer-deallocation-pipeline,"
    "autopar-outline-loop-nests,"
    "%GEMM%"
    "func.func(convert-linalg-to-loops),"
    "expand-strided-metadata,lower-affine,convert-scf-to-cf,"
    "%APPROX%"
    "math-extend-to-supported-types,"
    "convert-math-to-llvm,convert-math-to-libm,"
    "finalize-memref-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,"
    "convert-cf-to-llvm,convert-func-to-llvm,reconcile-unrealized-casts";

void autopar::buildCPULoweringPipeline(OpPassManager &pm,
                                       const CPULoweringOptions &options) {
  pm.addNestedPass<func::FuncOp>(createConvertAutoParToLinalgPass());
  std::string upstream = kBufferizeToLLVM;
  std::string outParams =
      options.outParams ? "buffer-results-to-out-params{hoist-static-allocs "
                          "modify-public-functions},"
                        : "";
  upstream.replace(upstream.find("%OUT_PARAMS%"), strlen("%OUT_PARAMS%"),
                   outParams);
  upstream.replace(upstream.find("%FUSE%"), strlen("%FUSE%"),
                   options.fuse ? "func.func(autopar-fuse-elementwise)," : "");
  upstream.replace(upstream.find("%APPROX%"), strlen("%APPROX%"),
                   "func.func(autopar-approximate-math),");
  upstream.replace(upstream.find("%GEMM%"), strlen("%GEMM%"),
                   options.runtimeGemm ? "autopar-contractions-to-calls," : "");
  // The string is a constant of this file; a parse failure is a bug here, and
  // the pass manager then reports it as an empty pipeline failing to run.
  if (failed(parsePassPipeline(upstream, pm, llvm::errs())))
    llvm::report_fatal_error("autopar: malformed built-in CPU pipeline");
}

void autopar::registerAllAutoParPasses() {
  registerAllPasses();
  registerAutoParTransformsPasses();
  registerAutoParConversionPasses();
  registerAutoParPlannerPasses();
  PassPipelineRegistration<CPULoweringOptions>(
      "autopar-lower-to-cpu",
      "Lower autopar to the LLVM dialect for CPU execution (linalg, one-shot "
      "bufferization, loops, LLVM)",
      buildCPULoweringPipeline);
}

void autopar::registerAutoParDialects(DialectRegistry &registry) {
  registry.insert<AutoParDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
}
