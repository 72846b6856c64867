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
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace mlir;

/// From loops on buffers to the LLVM dialect, for the CPU.
static std::string cpuLoopsToLLVM() {
  return "func.func(convert-linalg-to-loops),"
         "expand-strided-metadata,lower-affine,convert-scf-to-cf,"
         "func.func(autopar-approximate-math),"
         // Rounding to bf16 as integer operations: LLVM would otherwise call
         // __truncsfbf2 on CPUs without AVX512-BF16, which GCC 12's libgcc
         // lacks.
         "func.func(arith-expand{include-bf16=true}),"
         "math-extend-to-supported-types,"
         "convert-math-to-llvm,convert-math-to-libm,"
         // Vectors of the fused rows' walks (fuse-rows-vector-bytes).
         "convert-vector-to-llvm,"
         "finalize-memref-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,"
         "convert-cf-to-llvm,convert-func-to-llvm,reconcile-unrealized-casts";
}

/// Everything after autopar has become linalg on tensors, as one textual
/// pipeline so that `autopar-opt` users can run exactly the same steps by
/// hand (docs/architecture.md lists them).
static std::string
cpuPipelineAfterLinalg(const autopar::CPULoweringOptions &options) {
  std::string p;
  // With recompute, pieces written straight into a concatenation
  // (eliminate-empty-tensors: their empty outputs become its slices).
  if (options.fuse)
    p += options.recomputeProducers
             ? "func.func(autopar-fuse-elementwise{recompute}),"
             : "func.func(autopar-fuse-elementwise),";
  p += "canonicalize,";
  if (options.fuse && options.recomputeProducers)
    p += "eliminate-empty-tensors,";
  p += "one-shot-bufferize{bufferize-function-boundaries "
       "function-boundary-type-conversion=identity-layout-map},"
       "func.func(scf-forall-to-for),";
  if (options.outParams)
    p += "buffer-results-to-out-params{hoist-static-allocs "
         "modify-public-functions},";
  p += "buffer-deallocation-pipeline,";
  if (options.fuseRows)
    p += "func.func(autopar-fuse-rows{gpu=false min-size=1 unroll=" +
         std::to_string(options.fuseRowsUnroll) +
         " vector-bytes=" + std::to_string(options.fuseRowsVectorBytes) + "}),";
  // With pad-products or transpose-results the calls come first: those
  // passes need the elementwise ops that use the buffers, which outlining
  // hides.
  bool callsFirst =
      options.runtimeGemm && (options.padProducts || options.transposeResults);
  if (callsFirst) {
    std::string passes;
    if (options.transposeResults)
      passes += "autopar-transpose-product-results{prefix=autopar_gemm_}";
    if (options.padProducts)
      passes += std::string(passes.empty() ? "" : ",") +
                "autopar-pad-products{prefix=autopar_gemm_ half-only=false "
                "poison}";
    p += "autopar-contractions-to-calls,func.func(" + passes + "),";
  }
  p += "autopar-outline-loop-nests,";
  if (options.runtimeGemm && !callsFirst)
    p += "autopar-contractions-to-calls,";
  return p + cpuLoopsToLLVM();
}

static std::string
cudaKernelPipeline(const autopar::CUDALoweringOptions &options, bool onHost);

void autopar::buildCPULoweringPipeline(OpPassManager &pm,
                                       const CPULoweringOptions &options) {
  if (options.attentionCalls)
    pm.addPass(createAttentionToCallsPass());
  pm.addPass(createCollectivesToCallsPass());
  if (options.gpuKernels) {
    // The caller checked the options (autopar-run does, with a message).
    CUDALoweringOptions cuda;
    if (failed(cuda.parseFromString(options.gpuKernelOptions)))
      llvm::report_fatal_error("autopar: malformed gpu-kernel-options");
    if (failed(parsePassPipeline(cudaKernelPipeline(cuda, /*onHost=*/true) +
                                     ",func.func(autopar-launches-to-loops)," +
                                     cpuLoopsToLLVM(),
                                 pm, llvm::errs())))
      llvm::report_fatal_error("autopar: malformed built-in CPU pipeline");
    return;
  }
  pm.addNestedPass<func::FuncOp>(createConvertAutoParToLinalgPass());
  // The text is built in this file; a parse failure is a bug here, and the
  // pass manager then reports it as an empty pipeline failing to run.
  if (failed(
          parsePassPipeline(cpuPipelineAfterLinalg(options), pm, llvm::errs())))
    llvm::report_fatal_error("autopar: malformed built-in CPU pipeline");
}

void autopar::buildTrainStepPipeline(OpPassManager &pm,
                                     const TrainStepOptions &options) {
  auto exact = [](double v) {
    std::string text;
    llvm::raw_string_ostream(text) << llvm::format("%.17g", v);
    return text;
  };
  // The nested options are printed back as pass options; strings are
  // quoted so that a regular expression may hold spaces or braces.
  auto quoted = [](StringRef v) { return "\"" + v.str() + "\""; };
  std::string keepAttention =
      options.keepAttention ? " keep-attention=true" : "";
  std::string pipeline =
      "autopar-build-loss{entry=" + quoted(options.entry) +
      " loss=" + quoted(options.loss) + " freeze=" + quoted(options.freeze) +
      "}," +
      (options.tp > 1 || options.zero > 0
           ? "autopar-partition-tensor-parallel{entry=loss dp=" +
                 std::to_string(options.dp) + " tp=" +
                 std::to_string(options.tp) + (options.sp ? " sp=true" : "") +
                 (options.keepWhole.empty()
                      ? std::string()
                      : " keep-whole=" +
                            llvm::join(llvm::map_range(options.keepWhole,
                                                       [](int64_t v) {
                                                         return std::to_string(
                                                             v);
                                                       }),
                                       ",")) +
                 "},"
           : std::string()) +
      (options.zero == 3 ? "autopar-shard-parameters{entry=loss dp=" +
                               std::to_string(options.dp) + "},"
                         : std::string()) +
      (options.precision != "f32"
           ? "autopar-mixed-precision{entry=loss type=" +
                 quoted(options.precision) + keepAttention + "},"
           : std::string()) +
      "autopar-autodiff{entry=loss name=forward_backward loss-scale-arg=" +
      (options.lossScaleArg ? "true" : "false") + keepAttention + "}," +
      "autopar-make-optimizer-step{entry=loss optimizer=" +
      quoted(options.optimizer) + " momentum=" + exact(options.momentum) +
      " dampening=" + exact(options.dampening) +
      " nesterov=" + (options.nesterov ? "true" : "false") +
      " weight-decay=" + exact(options.weightDecay) +
      " beta1=" + exact(options.beta1) + " beta2=" + exact(options.beta2) +
      " eps=" + exact(options.eps) + " alpha=" + exact(options.alpha) +
      " centered=" + (options.centered ? "true" : "false") +
      " lr-decay=" + exact(options.lrDecay) +
      " clip-grad-norm=" + exact(options.clipGradNorm) + " zero-shards=" +
      std::to_string(
          options.zero == 1 || options.zero == 2 ? int64_t(options.dp) : 1) +
      "}" +
      // ZeRO-3: each use gathers its parameter (after autodiff, which
      // would otherwise keep the forward pass's gather for the backward).
      (options.zero == 3 ? ",autopar-gather-at-use{entry=forward_backward}"
                         : "") +
      (options.overlap && options.zero < 2
           ? ",autopar-overlap-gradient-sums{entry=forward_backward}"
           : "");
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    llvm::report_fatal_error("autopar: malformed training-step pipeline");
}

std::string autopar::findCUDAToolkit() {
  SmallVector<std::string> candidates;
  for (const char *name : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *value = std::getenv(name); value && *value)
      candidates.push_back(value);
  candidates.push_back("/usr/local/cuda");
  for (const std::string &dir : candidates) {
    SmallString<256> libdevice(dir);
    llvm::sys::path::append(libdevice, "nvvm", "libdevice", "libdevice.10.bc");
    if (llvm::sys::fs::exists(libdevice))
      return dir;
  }
  return "";
}

/// The CUDA pipeline from autopar to host functions launching kernels
/// (gpu.launch). `onHost`: for running those kernels on the CPU
/// (CPULoweringOptions::gpuKernels): no fused attention (the caller adds
/// it), the products through the CPU runtime's entry points that compute
/// what the CUDA runtime's do.
static std::string
cudaKernelPipeline(const autopar::CUDALoweringOptions &options, bool onHost) {
  // Threads per block of the row kernels: a whole number of warps.
  std::string blockThreads =
      std::to_string(std::clamp<int64_t>(options.threads / 32 * 32, 32, 1024));
  std::string unroll =
      " unroll=" + std::to_string(options.rowUnroll) +
      " loads-first-bytes=" + std::to_string(options.rowLoadsFirstBytes) +
      " vector-bytes=" + std::to_string(options.vectorBytes) +
      " warp-row-length=" + std::to_string(options.warpRowLength) +
      " long-row-threads=" + std::to_string(options.longRowThreads);
  std::string siblings =
      std::string(options.columnSiblings ? "" : " siblings=false") +
      (options.columnBlockSums ? "" : " block-sums=false");
  // The products' calls: the CUDA runtime's, or on the host the CPU
  // runtime's entry points computing the same (runtime/cpu/Contraction.h).
  std::string gemm = onHost ? "autopar_gemm_" : "autopar_cuda_gemm_";
  std::string products =
      "autopar-contractions-to-calls{function=" + gemm +
      "f32 bf16-function=" + gemm + "bf16 f16-function=" + gemm +
      "f16 dots=false overwrite-zero-init" +
      (options.narrowResults ? " narrow-results" : "") + "},func.func(" +
      (options.transposeResults
           ? "autopar-transpose-product-results{prefix=" + gemm + "},"
           : std::string()) +
      (options.padProducts ? "autopar-pad-products{prefix=" + gemm + "},"
                           : std::string());
  return std::string(options.fusedAttention && !onHost
                         ? "autopar-attention-to-calls,"
                         : "") +
         "func.func(convert-autopar-to-linalg,autopar-narrow-contractions,"
         "autopar-fuse-elementwise{recompute=" +
         (options.recomputeProducers ? "true" : "false") +
         "}),"
         "canonicalize," +
         (options.recomputeProducers ? "eliminate-empty-tensors," : "") +
         "one-shot-bufferize{bufferize-function-boundaries "
         "function-boundary-type-conversion=identity-layout-map},"
         "func.func(scf-forall-to-parallel),"
         "buffer-results-to-out-params{hoist-static-allocs "
         "modify-public-functions add-result-attr},"
         "buffer-deallocation-pipeline," +
         products + "autopar-scatter-to-atomics,autopar-parallel-dims-first," +
         (options.rowReductions
              ? (options.fuseRows ? "autopar-fuse-rows{threads=" +
                                        blockThreads + unroll + "},"
                                  : std::string()) +
                    "autopar-row-reductions-to-gpu{threads=" + blockThreads +
                    unroll + siblings + "},"
              : std::string()) +
         "convert-linalg-to-parallel-loops,"
         "autopar-tile-loops-for-gpu{threads=" +
         std::to_string(options.threads) +
         " rows-per-thread=" + std::to_string(options.rowsPerThread) +
         " vector-bytes=" + std::to_string(options.vectorBytes) +
         "},gpu-map-parallel-loops,convert-parallel-loops-to-gpu," +
         (options.approximateErf || options.fastExp || options.fastDiv
              ? std::string("autopar-approximate-math{erf-only=") +
                    (options.approximateErf ? "true" : "false") +
                    " fast-exp=" + (options.fastExp ? "true" : "false") +
                    " fast-div=" + (options.fastDiv ? "true" : "false") + "},"
              : std::string()) +
         (options.fuseLaunches
              ? std::string("autopar-fuse-launches{hoist=") +
                    (options.hoistLaunches ? "true" : "false") + "},"
              : std::string()) +
         "canonicalize)";
}

void autopar::buildCUDALoweringPipeline(OpPassManager &pm,
                                        const CUDALoweringOptions &options) {
  std::string toolkit = options.toolkit.getValue();
  if (toolkit.empty())
    toolkit = findCUDAToolkit();
  std::string pipeline =
      cudaKernelPipeline(options, /*onHost=*/false) +
      ",autopar-device-buffers,gpu-launch-sink-index-computations,"
      "gpu-kernel-outlining,"
      "func.func(gpu-async-region),"
      "expand-strided-metadata,lower-affine,convert-scf-to-cf,"
      "nvvm-attach-target{chip=" +
      options.chip.getValue() + " features=" + options.features.getValue() +
      "},"
      "gpu.module(convert-gpu-to-nvvm,convert-arith-to-llvm,"
      "convert-index-to-llvm,canonicalize,cse,reconcile-unrealized-casts" +
      std::string(options.flushDenormals ? ",autopar-flush-denormals" : "") +
      "),"
      "gpu-module-to-binary{format=" +
      options.format.getValue() +
      (toolkit.empty() ? std::string() : " toolkit=" + toolkit) + "}";
  if (options.host)
    pipeline +=
        ",expand-strided-metadata,lower-affine,convert-math-to-llvm,"
        "finalize-memref-to-llvm,convert-arith-to-llvm,"
        "convert-index-to-llvm,convert-cf-to-llvm,convert-func-to-llvm,"
        "gpu-to-llvm,reconcile-unrealized-casts" +
        std::string(options.asyncGemm ? ",autopar-async-gemm-calls" : "");
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    llvm::report_fatal_error("autopar: malformed CUDA pipeline");
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
  PassPipelineRegistration<CUDALoweringOptions>(
      "autopar-lower-to-cuda",
      "Lower autopar to GPU kernels compiled to PTX (gpu.binary) launched "
      "from the host functions",
      buildCUDALoweringPipeline);
  PassPipelineRegistration<TrainStepOptions>(
      "autopar-make-train-step",
      "Build the training step of a model's forward function: @loss, "
      "@forward_backward (its gradients) and @optimizer_step",
      buildTrainStepPipeline);
}

void autopar::prepareForNativeCode(ModuleOp module) {
  for (NamedAttribute a : llvm::to_vector(module->getAttrs()))
    if (a.getName().getValue().starts_with("autopar."))
      module->removeAttr(a.getName());
  for (auto fn : module.getOps<func::FuncOp>()) {
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      SmallVector<NamedAttribute> kept;
      if (DictionaryAttr attrs = fn.getArgAttrDict(i))
        for (NamedAttribute a : attrs)
          if (!a.getName().getValue().starts_with("autopar."))
            kept.push_back(a);
      fn.setArgAttrs(i, kept);
    }
    if (fn.isPublic() && !fn.isExternal())
      fn->setAttr("llvm.emit_c_interface", UnitAttr::get(module.getContext()));
  }
}

void autopar::registerAutoParDialects(DialectRegistry &registry) {
  registry.insert<AutoParDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
}
