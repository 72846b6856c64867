//===- Pipelines.h - autopar pass pipelines ---------------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PIPELINES_PIPELINES_H
#define AUTOPAR_PIPELINES_PIPELINES_H

#include "mlir/IR/BuiltinOps.h"
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
  PassOptions::Option<bool> fuseRows{
      *this, "fuse-rows",
      llvm::cl::desc("Fuse runs of row reductions and the elementwise ops "
                     "around them into one loop nest per row "
                     "(autopar-fuse-rows{gpu=false min-size=1}): what the "
                     "CUDA pipeline does, run on the CPU so that tests can "
                     "check it against numpy"),
      llvm::cl::init(false)};
  PassOptions::Option<int64_t> fuseRowsUnroll{
      *this, "fuse-rows-unroll",
      llvm::cl::desc("With fuse-rows: unroll its loops over a row by this "
                     "many iterations (autopar-fuse-rows unroll), as the "
                     "CUDA pipeline does, so that tests can check the "
                     "unrolled loops against numpy"),
      llvm::cl::init(1)};
  PassOptions::Option<int64_t> fuseRowsVectorBytes{
      *this, "fuse-rows-vector-bytes",
      llvm::cl::desc("With fuse-rows: read and write the rows in vectors of "
                     "up to this many bytes (autopar-fuse-rows "
                     "vector-bytes), as the CUDA pipeline does, so that "
                     "tests can check the vector loops against numpy"),
      llvm::cl::init(0)};
  PassOptions::Option<bool> recomputeProducers{
      *this, "recompute-producers",
      llvm::cl::desc("Recompute cheap elementwise producers in each "
                     "consumer (autopar-fuse-elementwise recompute), as the "
                     "CUDA pipeline does, so that tests can check it"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> padProducts{
      *this, "pad-products",
      llvm::cl::desc("Run the products on buffers padded to multiples of 8 "
                     "(autopar-pad-products{half-only=false}, before the "
                     "loop nests are outlined), as the CUDA pipeline does "
                     "for bf16/f16 products, so that tests can check it"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> transposeResults{
      *this, "transpose-results",
      llvm::cl::desc("Store a product's result transposed where its one "
                     "reader walks it down the columns "
                     "(autopar-transpose-product-results, before the loop "
                     "nests are outlined), as the CUDA pipeline does, so "
                     "that tests can check it"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> attentionCalls{
      *this, "attention-calls",
      llvm::cl::desc("Turn bf16/f16 attentions into calls to the CUDA "
                     "runtime's fused attention entry points first "
                     "(autopar-attention-to-calls), as the CUDA pipeline "
                     "does; the caller provides them (a test double on the "
                     "host), so that tests can check the rewrite on a CPU"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> gpuKernels{
      *this, "gpu-kernels",
      llvm::cl::desc("Lower as autopar-lower-to-cuda does up to its kernels "
                     "(gpu.launch: row kernels, merged launches, vectors), "
                     "then run them on the CPU (autopar-launches-to-loops), "
                     "the products through the CPU runtime's entry points "
                     "computing what the CUDA runtime's do: the GPU kernels "
                     "checked without a GPU; the other options but "
                     "attention-calls do not apply"),
      llvm::cl::init(false)};
  PassOptions::Option<std::string> gpuKernelOptions{
      *this, "gpu-kernel-options",
      llvm::cl::desc("With gpu-kernels: autopar-lower-to-cuda's options for "
                     "the kernels, as that pipeline takes them (such as "
                     "\"warp-row-length=0 vector-bytes=0\"): the device "
                     "check's variants run on the CPU")};
};

/// Options of the training-step pipeline (`autopar-make-train-step`): the
/// loss (autopar-build-loss) and the optimizer (autopar-make-optimizer-step,
/// whose options and defaults these are).
struct TrainStepOptions : public PassPipelineOptions<TrainStepOptions> {
  PassOptions::Option<std::string> entry{
      *this, "entry", llvm::cl::desc("The model's forward function"),
      llvm::cl::init("forward")};
  PassOptions::Option<std::string> loss{
      *this, "loss", llvm::cl::desc("cross_entropy, mse or graph"),
      llvm::cl::init("cross_entropy")};
  PassOptions::Option<std::string> freeze{
      *this, "freeze",
      llvm::cl::desc("Regular expression on parameter names to keep fixed")};
  PassOptions::Option<std::string> optimizer{
      *this, "optimizer",
      llvm::cl::desc("sgd, adam, adamw, rmsprop or adagrad"),
      llvm::cl::init("sgd")};
  PassOptions::Option<double> momentum{
      *this, "momentum", llvm::cl::desc("sgd, rmsprop"), llvm::cl::init(0.0)};
  PassOptions::Option<double> dampening{
      *this, "dampening", llvm::cl::desc("sgd"), llvm::cl::init(0.0)};
  PassOptions::Option<bool> nesterov{*this, "nesterov", llvm::cl::desc("sgd"),
                                     llvm::cl::init(false)};
  PassOptions::Option<double> weightDecay{
      *this, "weight-decay",
      llvm::cl::desc("L2 penalty (adamw: decoupled); default 0, adamw 0.01"),
      llvm::cl::init(-1.0)};
  PassOptions::Option<double> beta1{
      *this, "beta1", llvm::cl::desc("adam, adamw"), llvm::cl::init(0.9)};
  PassOptions::Option<double> beta2{
      *this, "beta2", llvm::cl::desc("adam, adamw"), llvm::cl::init(0.999)};
  PassOptions::Option<double> eps{
      *this, "eps",
      llvm::cl::desc("default 1e-8 (adam, adamw, rmsprop), 1e-10 (adagrad)"),
      llvm::cl::init(-1.0)};
  PassOptions::Option<double> alpha{*this, "alpha", llvm::cl::desc("rmsprop"),
                                    llvm::cl::init(0.99)};
  PassOptions::Option<bool> centered{
      *this, "centered", llvm::cl::desc("rmsprop"), llvm::cl::init(false)};
  PassOptions::Option<double> lrDecay{
      *this, "lr-decay", llvm::cl::desc("adagrad"), llvm::cl::init(0.0)};
  PassOptions::Option<double> clipGradNorm{
      *this, "clip-grad-norm",
      llvm::cl::desc("Clip the global gradient norm to this (0: off)"),
      llvm::cl::init(0.0)};
  PassOptions::Option<int64_t> dp{
      *this, "dp",
      llvm::cl::desc("With tp > 1 or zero > 0: processes along the "
                     "data-parallel axis"),
      llvm::cl::init(1)};
  PassOptions::Option<int64_t> tp{
      *this, "tp",
      llvm::cl::desc("Tensor-parallel processes (autopar-partition-tensor-"
                     "parallel before autodiff when > 1)"),
      llvm::cl::init(1)};
  PassOptions::Option<bool> sp{
      *this, "sp", llvm::cl::desc("With tp > 1: Megatron sequence parallelism"),
      llvm::cl::init(false)};
  PassOptions::Option<int64_t> zero{
      *this, "zero",
      llvm::cl::desc("ZeRO stage along the data-parallel axis (0-3); "
                     "1-3 shard the optimizer update over dp"),
      llvm::cl::init(0)};
  PassOptions::ListOption<int64_t> keepWhole{
      *this, "keep-whole",
      llvm::cl::desc("With tp > 1: column layers to leave whole (positions "
                     "among the linear layers)")};
  PassOptions::Option<bool> overlap{
      *this, "overlap",
      llvm::cl::desc("Sum the gradients over the data-parallel axis inside "
                     "the backward pass, each as soon as it is complete "
                     "(ZeRO 0 and 1)"),
      llvm::cl::init(false)};
  PassOptions::Option<std::string> precision{
      *this, "precision",
      llvm::cl::desc("f32, or bf16 / f16: the matrix products of the "
                     "forward and backward passes run in that type "
                     "(autopar-mixed-precision), weights and optimizer "
                     "state stay f32"),
      llvm::cl::init("f32")};
  PassOptions::Option<bool> lossScaleArg{
      *this, "loss-scale-arg",
      llvm::cl::desc("@forward_backward takes a trailing loss scale "
                     "(autopar-autodiff loss-scale-arg)"),
      llvm::cl::init(false)};
  PassOptions::Option<bool> keepAttention{
      *this, "keep-attention",
      llvm::cl::desc("Attentions without a mask stay whole through "
                     "mixed precision and autodiff (autopar.attention_grad: "
                     "the CUDA backend's fused kernels run them)"),
      llvm::cl::init(false)};
};

/// Builds the training step from a model's forward function: @loss
/// (autopar-build-loss), its gradient function @forward_backward
/// (autopar-autodiff) and @optimizer_step (autopar-make-optimizer-step), the
/// functions DESIGN.md section 2 names. With tp > 1, @loss is first split
/// for one process of a dp x tp grid (autopar-partition-tensor-parallel).
void buildTrainStepPipeline(OpPassManager &pm, const TrainStepOptions &options);

/// Options of the CUDA pipeline (`autopar-lower-to-cuda`).
struct CUDALoweringOptions : public PassPipelineOptions<CUDALoweringOptions> {
  PassOptions::Option<std::string> chip{
      *this, "chip", llvm::cl::desc("GPU architecture (sm_90: H100)"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features", llvm::cl::desc("PTX features (sm_90 needs PTX 8.0)"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<int64_t> threads{
      *this, "threads",
      llvm::cl::desc("Threads per block along a loop nest's innermost "
                     "dimension"),
      llvm::cl::init(256)};
  PassOptions::Option<int64_t> rowsPerThread{
      *this, "rows-per-thread",
      llvm::cl::desc("Outer iterations each thread of a large elementwise "
                     "nest computes, their loads issued together "
                     "(autopar-tile-loops-for-gpu rows-per-thread; 1: one "
                     "point per thread)"),
      llvm::cl::init(4)};
  PassOptions::Option<int64_t> rowUnroll{
      *this, "row-unroll",
      llvm::cl::desc("Iterations of the row kernels' loops unrolled "
                     "together (autopar-fuse-rows and "
                     "autopar-row-reductions-to-gpu unroll; 1: none)"),
      llvm::cl::init(8)};
  PassOptions::Option<int64_t> rowLoadsFirstBytes{
      *this, "row-loads-first-bytes",
      llvm::cl::desc("Bytes of an unrolled row loop's loads each thread "
                     "issues before the loop's other operations "
                     "(autopar-fuse-rows and autopar-row-reductions-to-gpu "
                     "loads-first-bytes; 0: none moved)"),
      llvm::cl::init(128)};
  PassOptions::Option<int64_t> warpRowLength{
      *this, "warp-row-length",
      llvm::cl::desc("Row kernels whose rows have at most this many "
                     "elements give each row a warp instead of a block "
                     "(autopar-fuse-rows and autopar-row-reductions-to-gpu "
                     "warp-row-length; 0: a block per row)"),
      llvm::cl::init(1024)};
  PassOptions::Option<int64_t> longRowThreads{
      *this, "long-row-threads",
      llvm::cl::desc("Threads of a row kernel's block whose row has at "
                     "least 16 elements for each (autopar-fuse-rows and "
                     "autopar-row-reductions-to-gpu long-row-threads; 0: "
                     "threads)"),
      llvm::cl::init(1024)};
  PassOptions::Option<bool> transposeResults{
      *this, "transpose-results",
      llvm::cl::desc("A product whose one reader walks its result down the "
                     "columns stores it transposed "
                     "(autopar-transpose-product-results)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> padProducts{
      *this, "pad-products",
      llvm::cl::desc("Half-precision products whose sizes are not multiples "
                     "of 8 run on buffers padded to them, where the "
                     "compiler allocates those (autopar-pad-products); "
                     "false: the runtime copies them into padded scratch"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> columnSiblings{
      *this, "column-siblings",
      llvm::cl::desc("Elementwise ops right after a column sum that read "
                     "what it reads run in its kernel "
                     "(autopar-row-reductions-to-gpu siblings)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> columnBlockSums{
      *this, "column-block-sums",
      llvm::cl::desc("A column sum's block adds its partial sums in "
                     "workgroup memory before one atomic add a column "
                     "(autopar-row-reductions-to-gpu block-sums)"),
      llvm::cl::init(true)};
  PassOptions::Option<int64_t> vectorBytes{
      *this, "vector-bytes",
      llvm::cl::desc("Bytes of the widest vector an elementwise kernel's "
                     "thread reads or writes at once "
                     "(autopar-tile-loops-for-gpu; 0: one element at a "
                     "time)"),
      llvm::cl::init(16)};
  PassOptions::Option<bool> fuseLaunches{
      *this, "fuse-launches",
      llvm::cl::desc("Independent elementwise kernels (an optimizer update "
                     "per parameter, a rounding per weight) as one launch "
                     "(autopar-fuse-launches)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> hoistLaunches{
      *this, "hoist-launches",
      llvm::cl::desc("With fuse-launches: a kernel moves up past "
                     "independent ops to join an earlier launch "
                     "(false: only kernels next to each other merge)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> approximateErf{
      *this, "approximate-erf",
      llvm::cl::desc("math.erf as two branch-free polynomial pieces "
                     "(autopar-approximate-math erf-only) instead of "
                     "libdevice's, whose branches let the backend sink an "
                     "unrolled walk's loads"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fastExp{
      *this, "fast-exp",
      llvm::cl::desc("f32 math.exp as ex2.approx of x log2 e "
                     "(autopar-approximate-math fast-exp: CUDA's __expf) "
                     "instead of libdevice's range reduction"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fastDiv{
      *this, "fast-div",
      llvm::cl::desc("f32 division and square root as div.approx and "
                     "sqrt.approx (autopar-approximate-math fast-div) "
                     "instead of the correctly rounded div.rn and sqrt.rn "
                     "with their slow paths"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> flushDenormals{
      *this, "flush-denormals",
      llvm::cl::desc("libdevice's flush-to-zero paths (nvcc's "
                     "-ftz=true) and fast-div's divisions as "
                     "div.approx.ftz in the generated kernels "
                     "(autopar-flush-denormals): exp, rsqrt, sqrt, "
                     "division without their denormal range checks"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> asyncGemm{
      *this, "async-gemm",
      llvm::cl::desc("With host: queue the runtime's contractions without "
                     "waiting for the kernels before them "
                     "(autopar-async-gemm-calls)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fuseRows{
      *this, "fuse-rows",
      llvm::cl::desc("One kernel per run of row reductions and the "
                     "elementwise ops around them: a softmax, a layer "
                     "norm's statistics (autopar-fuse-rows); needs "
                     "row-reductions"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> rowReductions{
      *this, "row-reductions",
      llvm::cl::desc("A block of threads per row of an innermost-dimension "
                     "reduction (autopar-row-reductions-to-gpu); false: "
                     "one thread per row"),
      llvm::cl::init(true)};
  PassOptions::Option<std::string> format{
      *this, "format",
      llvm::cl::desc("What the kernels become: isa (PTX, compiled by the "
                     "driver when loaded) or bin (a cubin, compiled here by "
                     "the CUDA toolkit's ptxas)"),
      llvm::cl::init("isa")};
  PassOptions::Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("The CUDA toolkit whose libdevice the kernels link "
                     "(their exp, log, erf, pow, sqrt, ...) and whose ptxas "
                     "makes cubins; default: $CUDA_HOME, $CUDA_PATH, "
                     "$CUDA_ROOT or /usr/local/cuda, the first holding "
                     "nvvm/libdevice/libdevice.10.bc")};
  PassOptions::Option<bool> narrowResults{
      *this, "narrow-results",
      llvm::cl::desc("Half-precision products whose results are only read "
                     "rounded to bf16/f16 write bf16/f16 results "
                     "(autopar-contractions-to-calls narrow-results)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> recomputeProducers{
      *this, "recompute-producers",
      llvm::cl::desc("Recompute cheap elementwise producers (a bias added "
                     "to a bf16 product) in each consumer instead of "
                     "writing their results (autopar-fuse-elementwise "
                     "recompute)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> fusedAttention{
      *this, "fused-attention",
      llvm::cl::desc("bf16/f16 attentions without a mask, and their "
                     "gradients, as calls to the runtime's fused kernels "
                     "(autopar-attention-to-calls)"),
      llvm::cl::init(true)};
  PassOptions::Option<bool> host{
      *this, "host",
      llvm::cl::desc("Lower the host functions to the LLVM dialect (calls "
                     "into the mgpu* runtime, runtime/cuda)"),
      llvm::cl::init(true)};
};

/// The CUDA path: autopar -> fused linalg on tensors -> buffers (results
/// as out-parameters, deallocation inserted) -> f32 contractions as calls
/// into the runtime's cuBLAS GEMM -> the other loops as parallel loops in
/// thread blocks (autopar-tile-loops-for-gpu) mapped to the GPU -> buffers in
/// device memory (autopar-device-buffers) -> outlined kernels launched on a
/// stream (gpu-async-region) -> NVVM -> PTX in a `gpu.binary`
/// (gpu-module-to-binary, format isa) -> with `host`, the host functions in
/// the LLVM dialect calling mgpuModuleLoadJIT / mgpuLaunchKernel /
/// mgpuMemAlloc ... (runtime/cuda).
void buildCUDALoweringPipeline(OpPassManager &pm,
                               const CUDALoweringOptions &options);

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

/// Prepares `module` for lowering to native code called from C: drops the
/// `autopar.*` attributes (of the module and of function arguments; LLVM's
/// translation would warn about them) and gives every public function with
/// a body a C interface (`llvm.emit_c_interface`).
void prepareForNativeCode(ModuleOp module);

/// The CUDA toolkit the GPU lowering links libdevice from: $CUDA_HOME,
/// $CUDA_PATH, $CUDA_ROOT or /usr/local/cuda, the first holding
/// nvvm/libdevice/libdevice.10.bc; empty when none does.
std::string findCUDAToolkit();

} // namespace autopar
} // namespace mlir

#endif // AUTOPAR_PIPELINES_PIPELINES_H
