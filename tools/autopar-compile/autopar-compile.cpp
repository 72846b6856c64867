//===- autopar-compile.cpp - model to a training artifact -----------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
//   autopar-compile MODEL.onnx --train [--loss=cross_entropy|mse]
//       [--optimizer=sgd|adam|adamw|rmsprop|adagrad --lr=0.001 and the
//        optimizer's options] [--lr-schedule=SPEC --warmup-steps=W
//        --warmup-start=F] -o OUT
//
// Writes the folder OUT: train.mlir (@forward, @loss, @forward_backward (the
// loss and its gradients) and @optimizer_step in the autopar dialect),
// weights.safetensors (the initial parameters under their ONNX names) and
// manifest.json (what autopar-run needs to train: the functions, the parameter
// order, the optimizer state slots, the learning rate and its schedule).
//
//===----------------------------------------------------------------------===//

#include "CudaArtifact.h"
#include "InitialWeights.h"
#include "LRSchedule.h"

#include "Npy.h"
#include "Safetensors.h"
#include <cmath>
#include <cstring>

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"
#include "autopar/Dialect/AutoPar/Transforms/Passes.h"
#include "autopar/Import/ONNX/ONNXImporter.h"
#include "autopar/Pipelines/Pipelines.h"
#include "autopar/Planner/Cluster.h"
#include "autopar/Planner/ModelIR.h"
#include "autopar/Planner/Plan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("autopar-compile options");
static cl::opt<std::string> modelFile(cl::Positional, cl::Required,
                                      cl::desc("<model.onnx>"),
                                      cl::cat(category));
static cl::opt<std::string> outDir("o", cl::Required, cl::desc("Output folder"),
                                   cl::cat(category));
static cl::opt<bool>
    planOnly("plan-only",
             cl::desc("Plan how to parallelize training MODEL on --cluster "
                      "and write OUT/model.mlir and OUT/plan.json: a zoo: "
                      "transformer's forward pass annotated with the "
                      "planner's plan (also OUT/plan.html), or an ONNX "
                      "model's partitioned training step for the fastest "
                      "dp/tp/sp/ZeRO plan that fits"),
             cl::cat(category));
static cl::opt<std::string>
    clusterSpec("cluster",
                cl::desc("A preset (h100-sxm-8xN, a100-80g-8xN, cpu-host) or "
                         "a JSON file: what --plan-only plans for, and what "
                         "--train --devices=N picks a grid for (default "
                         "cpu-host)"),
                cl::cat(category));
static cl::opt<int64_t>
    devices("devices", cl::init(1),
            cl::desc("Devices of cpu-host (--plan-only); with --train, the "
                     "processes the step runs on (mpirun -np N)"),
            cl::cat(category));
static cl::opt<int64_t> globalBatch("global-batch", cl::init(0),
                                    cl::desc("With --plan-only: sequences "
                                             "(rows of an ONNX model) per "
                                             "step"),
                                    cl::cat(category));
static cl::opt<int64_t>
    seqLength("seq", cl::init(0),
              cl::desc("With --plan-only: sequence length (default: the "
                       "model's)"),
              cl::cat(category));
static cl::opt<std::string>
    planSpec("plan",
             cl::desc("With --plan-only: evaluate this plan instead of "
                      "searching (\"dp=2,tp=4,pp=2,sp=on,zero=1,mb=8,"
                      "schedule=1f1b,recompute=selective[,attn-whole=K,"
                      "mlp-whole=K,head=whole]\"); with --train, "
                      "the processes' grid (\"dp=2,tp=2\"; for zoo: models "
                      "also attn-whole, mlp-whole, head)"),
             cl::cat(category));
static cl::opt<std::string> searchMode(
    "search", cl::init("default"), cl::cat(category),
    cl::desc("With --plan-only on a zoo: model: default or exhaustive (every "
             "plan, for checking)"));
static cl::opt<bool> explainPlan("explain",
                                 cl::desc("With --plan-only: print the plan "
                                          "for a person"),
                                 cl::cat(category));
static cl::opt<int64_t>
    trainBatch("batch", cl::init(8),
               cl::desc("With --train on a zoo: model: sequences per step"),
               cl::cat(category));
static cl::opt<uint64_t>
    initSeed("seed", cl::init(0),
             cl::desc("With --train on a zoo: model: seed of the random "
                      "initial weights"),
             cl::cat(category));
static cl::opt<bool> train("train", cl::desc("Build the training step"),
                           cl::cat(category));
static cl::opt<std::string>
    target("target", cl::init("cpu"),
           cl::desc("With --train: cpu (train.mlir, run by autopar-run) or "
                    "cuda (also train-cuda.so: the step compiled for an "
                    "NVIDIA GPU, kernels as PTX, docs/gpu.md)"),
           cl::cat(category));
static cl::opt<std::string>
    gpuArch("gpu-arch", cl::init("sm_90"),
            cl::desc("With --target=cuda: the GPU architecture (sm_90: H100)"),
            cl::cat(category));
static cl::opt<std::string> gpuFormat(
    "gpu-format", cl::init("ptx"),
    cl::desc("With --target=cuda: ptx (the driver compiles the kernels when "
             "the library loads) or cubin (compiled here by the CUDA "
             "toolkit's ptxas: no compilation at load time)"),
    cl::cat(category));
static cl::opt<std::string> cudaLoweringOptions(
    "cuda-lowering-options",
    cl::desc("With --target=cuda: more options of autopar-lower-to-cuda, "
             "space-separated key=value (e.g. \"fuse-rows=false\": the "
             "device check's comparison without autopar-fuse-rows)"),
    cl::Hidden, cl::cat(category));
static cl::opt<std::string> cudaToolkit(
    "cuda-toolkit",
    cl::desc("With --target=cuda: the CUDA toolkit whose libdevice the "
             "kernels link and whose ptxas makes cubins (default: "
             "$CUDA_HOME, $CUDA_PATH, $CUDA_ROOT or /usr/local/cuda)"),
    cl::cat(category));
static cl::opt<std::string>
    lossKind("loss", cl::init("cross_entropy"),
             cl::desc("cross_entropy, mse, or graph (the "
                      "model takes data and labels and "
                      "outputs its loss)"),
             cl::cat(category));
static cl::opt<std::string> optimizerName("optimizer", cl::init("adam"),
                                          cl::desc("sgd, adam, adamw, "
                                                   "rmsprop, adagrad"),
                                          cl::cat(category));
static cl::opt<double> lr("lr", cl::init(1e-3), cl::desc("Learning rate"),
                          cl::cat(category));
static cl::opt<std::string> betas("betas", cl::desc("adam: b1,b2"),
                                  cl::cat(category));
static cl::opt<double> eps("eps", cl::init(-1), cl::cat(category),
                           cl::desc("Epsilon (optimizer default)"));
static cl::opt<double> weightDecay("weight-decay", cl::init(-1),
                                   cl::cat(category),
                                   cl::desc("Weight decay (default 0, "
                                            "adamw 0.01)"));
static cl::opt<double> momentum("momentum", cl::init(0), cl::cat(category),
                                cl::desc("sgd, rmsprop"));
static cl::opt<double> dampening("dampening", cl::init(0), cl::cat(category),
                                 cl::desc("sgd"));
static cl::opt<bool> nesterov("nesterov", cl::cat(category), cl::desc("sgd"));
static cl::opt<double> alpha("alpha", cl::init(0.99), cl::cat(category),
                             cl::desc("rmsprop"));
static cl::opt<bool> centered("centered", cl::cat(category),
                              cl::desc("rmsprop"));
static cl::opt<double> lrDecay("lr-decay", cl::init(0), cl::cat(category),
                               cl::desc("adagrad"));
static cl::opt<double> clipGradNorm("clip-grad-norm", cl::init(0),
                                    cl::cat(category),
                                    cl::desc("Global gradient-norm clip"));
static cl::opt<std::string> lrSchedule("lr-schedule", cl::init("constant"),
                                       cl::cat(category),
                                       cl::desc("LR schedule (autopar-lr)"));
static cl::opt<int64_t> warmupSteps("warmup-steps", cl::init(0),
                                    cl::cat(category),
                                    cl::desc("Linear warmup steps"));
static cl::opt<double> warmupStart("warmup-start", cl::init(0),
                                   cl::cat(category),
                                   cl::desc("Warmup start factor"));

static cl::opt<int64_t> gradAccum(
    "grad-accum", cl::init(1), cl::cat(category),
    cl::desc("Average the gradients of K microbatches (each of the exported "
             "batch size) per optimizer step"));
static cl::opt<bool> overlapGradientSums(
    "overlap-gradient-sums", cl::init(true), cl::cat(category),
    cl::desc("With dp > 1 (ZeRO 0 or 1, no --grad-accum): start each "
             "gradient's data-parallel sum inside the backward pass as soon "
             "as it is complete (default on; =false sums them after it)"));

static cl::opt<std::string> precision(
    "precision", cl::init("fp32"), cl::cat(category),
    cl::desc("fp32, or bf16 / fp16: mixed precision, the matrix products of "
             "the forward and backward passes in that type (accumulated in "
             "fp32), weights, optimizer state and everything else in fp32"));
static cl::opt<std::string> fusedAttention(
    "fused-attention", cl::init("auto"), cl::cat(category),
    cl::desc("auto, on or off: keep each attention without a mask whole "
             "through mixed precision and autodiff (autopar.attention_grad), "
             "so that --target=cuda runs it as one fused kernel per "
             "direction that recomputes the probabilities instead of "
             "storing them (flash attention); the CPU decomposes it again. "
             "auto: on with --target=cuda and --precision=bf16 or fp16"));
static cl::opt<std::string> lossScale(
    "loss-scale", cl::cat(category),
    cl::desc("Scale the loss before the backward pass and the gradients "
             "back after it: dynamic (the default with --precision=fp16: "
             "halve on overflow and skip the step, double after "
             "--loss-scale-window good steps), none (the default otherwise), "
             "or a fixed number"));
static cl::opt<double>
    lossScaleInit("loss-scale-init", cl::init(65536), cl::cat(category),
                  cl::desc("With a dynamic loss scale: its starting value"));
static cl::opt<int64_t> lossScaleWindow(
    "loss-scale-window", cl::init(2000), cl::cat(category),
    cl::desc("With a dynamic loss scale: good steps before it doubles"));

static cl::opt<std::string> freezePattern(
    "freeze", cl::cat(category),
    cl::desc("Keep the parameters whose names match this regular expression "
             "(anywhere in the name; anchor with ^ and $) fixed"));

static cl::opt<double> initialAccumulator(
    "initial-accumulator-value", cl::init(0), cl::cat(category),
    cl::desc("adagrad: the starting value of the squared-gradient sum"));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "autopar-compile") << message << "\n";
  return 1;
}

/// @loss(inputs..., labels, params...) = loss(@forward(inputs, params),
/// labels), built by copying @forward's body.
/// A zoo model to train: its forward function for `--batch` sequences of
/// `--seq` tokens, with random initial weights as GPT-2 initializes them
/// (runtime/common/InitialWeights.h: normal with standard deviation 0.02
/// for matrices and embeddings, ones for norm scales, zeros for biases),
/// seeded by `--seed`.
static FailureOr<mlir::autopar::ImportedModel>
zooForTraining(MLIRContext *context) {
  using namespace mlir::autopar::planner;
  llvm::Expected<TransformerModel> zoo = zooModel(modelFile);
  if (!zoo) {
    fail(llvm::toString(zoo.takeError()));
    return failure();
  }
  if (trainBatch < 1) {
    fail("--batch must be positive");
    return failure();
  }
  int64_t seq = seqLength > 0 ? int64_t(seqLength) : zoo->seq;
  if (zoo->totalParams() > (int64_t(1) << 31)) {
    fail(zoo->name + " has " + llvm::Twine(zoo->totalParams()) +
         " parameters; training it on this machine's CPU is not supported "
         "(plan it with --plan-only)");
    return failure();
  }
  context->loadAllAvailableDialects();
  llvm::Expected<ModelIR> ir =
      buildTransformerIR(context, *zoo, trainBatch, seq);
  if (!ir) {
    fail(llvm::toString(ir.takeError()));
    return failure();
  }
  mlir::autopar::ImportedModel model;
  model.module = std::move(ir->module);
  model.module.get()->setAttr("autopar.weights",
                              StringAttr::get(context, "weights.safetensors"));
  auto forward = model.module->lookupSymbol<func::FuncOp>("forward");
  ::autopar::InitialWeights init(initSeed);
  for (auto [i, info] : llvm::enumerate(ir->params)) {
    auto type = cast<RankedTensorType>(forward.getArgumentTypes()[i + 1]);
    mlir::autopar::ImportedWeight w;
    w.name = info.name;
    w.dtype = "F32";
    w.shape.assign(type.getShape().begin(), type.getShape().end());
    std::vector<float> values(size_t(type.getNumElements()));
    init.fill(info.name, values.data(), values.size());
    w.data.resize(values.size() * sizeof(float));
    std::memcpy(w.data.data(), values.data(), w.data.size());
    model.weights.push_back(std::move(w));
  }
  return model;
}

/// Writes OUT/`name` with what `fn` prints, to a temporary name renamed
/// into place; the exit code of the failure, if any.
static std::optional<int>
writeOutput(StringRef name, llvm::function_ref<void(raw_ostream &)> fn) {
  llvm::SmallString<256> path(outDir);
  llvm::sys::path::append(path, name);
  std::string tmp = (path + ".tmp").str();
  std::error_code ec;
  {
    llvm::raw_fd_ostream os(tmp, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail(tmp + ": " + ec.message());
    fn(os);
  }
  if ((ec = llvm::sys::fs::rename(tmp, path)))
    return fail(path + ": " + ec.message());
  return std::nullopt;
}

/// `--plan-only`: plan a zoo model on a cluster and write the annotated IR
/// with plan.json and plan.html into OUT.
static int planModel() {
  using namespace mlir::autopar::planner;
  if (clusterSpec.empty())
    return fail("--plan-only needs --cluster");
  if (globalBatch < 1)
    return fail("--plan-only needs --global-batch, a positive number of "
                "sequences per step");
  if (seqLength < 0)
    return fail("--seq must be positive");
  llvm::Expected<TransformerModel> model = zooModel(modelFile);
  if (!model)
    return fail(llvm::toString(model.takeError()));
  llvm::Expected<ClusterSpec> cluster = loadCluster(clusterSpec, devices);
  if (!cluster)
    return fail(llvm::toString(cluster.takeError()));
  TrainingSetup setup;
  setup.globalBatch = globalBatch;
  setup.seq = seqLength;
  if (searchMode != "default" && searchMode != "exhaustive")
    return fail("--search must be default or exhaustive, not '" + searchMode +
                "'");
  setup.exhaustive = searchMode == "exhaustive";
  llvm::Expected<SearchResult> planned =
      choosePlan(*model, *cluster, setup, planSpec);
  if (!planned)
    return fail(llvm::toString(planned.takeError()));
  SearchResult &result = *planned;
  const Plan &plan = result.best.plan;
  int64_t seq = seqLength ? int64_t(seqLength) : model->seq;
  int64_t perReplica = globalBatch / plan.dp;
  int64_t microBatch = std::max<int64_t>(
      1, perReplica / std::max<int64_t>(1, plan.microbatches));

  DialectRegistry registry;
  mlir::autopar::registerAutoParDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  llvm::Expected<ModelIR> ir =
      buildTransformerIR(&context, *model, microBatch, seq);
  if (!ir)
    return fail(llvm::toString(ir.takeError()));
  annotatePlan(*ir, *model, plan);
  int64_t irParams = 0;
  auto forwardFn = ir->module->lookupSymbol<func::FuncOp>("forward");
  for (Type t : forwardFn.getArgumentTypes().drop_front())
    irParams += cast<RankedTensorType>(t).getNumElements();

  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return fail(outDir + ": " + ec.message());
  auto write = writeOutput;
  if (auto rc =
          write("model.mlir", [&](raw_ostream &os) { ir->module->print(os); }))
    return *rc;
  if (auto rc = write("plan.json", [&](raw_ostream &os) {
        os << llvm::formatv("{0:2}", toJSON(*model, *cluster, setup, result))
           << "\n";
      }))
    return *rc;
  if (auto rc = write("plan.html", [&](raw_ostream &os) {
        os << toHTML(*model, *cluster, setup, result);
      }))
    return *rc;
  if (explainPlan)
    llvm::outs() << explain(*model, *cluster, setup, result);
  llvm::outs() << "wrote " << outDir << ": model.mlir (" << model->name << ", "
               << ir->params.size() << " parameter tensors holding " << irParams
               << " values (the zoo counts " << model->totalParams()
               << "), micro-batch " << microBatch << " x " << seq
               << ", annotated with " << plan.str()
               << "), plan.json and plan.html\n";
  return 0;
}

static double tensorBytes(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t ? double(t.getNumElements()) * t.getElementTypeBitWidth() / 8 : 0;
}

/// Predicted seconds of one step of `stepModule` (a training step built
/// for one process of a dp x tp grid, ZeRO stage `zero`) on `cluster`: the
/// contractions of @forward_backward at the device's fp32 peak, every other
/// op at its memory bandwidth (operands read, result written), the
/// program's collectives over their grid axes (ring all-reduces: 2 (n-1)
/// messages of 1/n of the tensor; all-gathers and reduce-scatters: n-1
/// such messages; ZeRO-3's gathers and gradient reduce-scatters are among
/// them), and the runtime's data-parallel traffic: gradients averaged in
/// 25 MB buckets (stage 0, 1), reduce-scattered one tensor at a time
/// (stage 2), and the updated parameters all-gathered (stages 1, 2).
struct StepTime {
  /// Seconds of computation and of communication (not overlapped), and the
  /// contractions' floating-point operations, per process and step.
  double compute = 0, communication = 0, flops = 0;
  double total() const { return compute + communication; }
};
/// With `narrowProducts` (the GPU backend: cuBLAS's bf16/f16 GEMMs on the
/// tensor cores), a product of bf16 or f16 operands is timed at the
/// device's bf16 or fp16 peak; otherwise every product at the fp32 peak
/// (the CPU backend runs bf16 products as f32 GEMMs on widened operands).
static StepTime stepTime(ModuleOp stepModule, int64_t dp, int64_t tp,
                         int64_t zero,
                         const mlir::autopar::planner::ClusterSpec &cluster,
                         int64_t microbatches = 1,
                         bool narrowProducts = false) {
  // Ring collectives among n processes: `rounds` (n-1) steps, each one
  // message of 1/n of `whole`.
  auto ring = [&](int64_t n, double whole, double rounds = 1) {
    if (n == 1)
      return 0.0;
    const auto &link = cluster.linkFor(n, 1);
    return rounds * double(n - 1) *
           (link.latency + whole / double(n) / link.bandwidth);
  };
  auto groupSize = [&](ArrayRef<int64_t> axes) {
    int64_t n = 1;
    for (int64_t axis : axes)
      n *= axis == 0 ? dp : axis == 1 ? tp : 1;
    return n;
  };
  auto grad = stepModule.lookupSymbol<func::FuncOp>("forward_backward");
  using mlir::autopar::planner::ComputeType;
  StepTime t;
  double moved = 0;
  // Seconds of products at their type's peak.
  double productSeconds = 0;
  grad.walk([&](Operation *op) {
    if (auto dot = dyn_cast<mlir::autopar::DotOp>(op)) {
      double k = 1;
      for (int64_t d : dot.getLhsContractingDims())
        k *= double(dot.getLhs().getType().getDimSize(d));
      double flops = 2 * k * double(dot.getType().getNumElements());
      Type element = dot.getLhs().getType().getElementType();
      ComputeType type = !narrowProducts    ? ComputeType::FP32
                         : element.isBF16() ? ComputeType::BF16
                         : element.isF16()  ? ComputeType::FP16
                                            : ComputeType::FP32;
      t.flops += flops;
      productSeconds += flops / cluster.device.peakFlops(type);
    } else if (auto sum = dyn_cast<mlir::autopar::AllReduceOp>(op)) {
      t.communication +=
          ring(groupSize(sum.getGridAxes()), tensorBytes(sum.getType()), 2);
    } else if (auto gather = dyn_cast<mlir::autopar::AllGatherOp>(op)) {
      t.communication +=
          ring(groupSize(gather.getGridAxes()), tensorBytes(gather.getType()));
    } else if (auto scatter = dyn_cast<mlir::autopar::ReduceScatterOp>(op)) {
      t.communication += ring(groupSize(scatter.getGridAxes()),
                              tensorBytes(scatter.getOperand().getType()));
    } else if (isa<mlir::autopar::AutoParDialect>(op->getDialect()) &&
               !isa<mlir::autopar::ConstantOp, mlir::autopar::GradAllReduceOp,
                    mlir::autopar::LocalSliceOp>(op)) {
      for (Value v : llvm::concat<Value>(op->getOperands(), op->getResults()))
        if (isa<RankedTensorType>(v.getType()))
          moved += tensorBytes(v.getType());
    }
  });
  // Each microbatch runs the whole gradient function.
  double k = double(microbatches);
  t.flops *= k;
  t.communication *= k;
  t.compute = k * (moved / cluster.device.memoryBandwidth + productSeconds);
  // The data-parallel traffic over the gradients (whole, as the update's
  // parameters are), once per step.
  double gradBytes = 0, tensors = 0;
  for (Type type : grad.getFunctionType().getResults().drop_front()) {
    gradBytes += tensorBytes(type);
    ++tensors;
  }
  if (dp > 1 && zero != 3) {
    const auto &link = cluster.linkFor(dp, 1);
    double messages =
        zero == 2 ? tensors
                  : std::max(1.0, std::ceil(gradBytes / (25.0 * (1 << 20))));
    double rounds = zero == 2 ? 1 : 2;
    t.communication +=
        rounds * double(dp - 1) *
        (messages * link.latency + gradBytes / double(dp) / link.bandwidth);
    if (zero == 1 || zero == 2)
      t.communication +=
          double(dp - 1) *
          (tensors * link.latency + gradBytes / double(dp) / link.bandwidth);
  }
  return t;
}

/// --cluster (default cpu-host) for `devices` processes.
static llvm::Expected<mlir::autopar::planner::ClusterSpec>
trainCluster(int64_t devices) {
  llvm::Expected<mlir::autopar::planner::ClusterSpec> cluster =
      mlir::autopar::planner::loadCluster(
          clusterSpec.empty() ? StringRef("cpu-host") : StringRef(clusterSpec),
          devices);
  if (!cluster)
    return llvm::createStringError("--cluster: " +
                                   llvm::toString(cluster.takeError()));
  if (cluster->numDevices() < devices)
    return llvm::createStringError(
        llvm::formatv("--cluster {0} has {1} devices; the plan needs {2}",
                      cluster->name, cluster->numDevices(), devices)
            .str());
  return cluster;
}

/// What one process of a built training step holds: its part of every
/// parameter (@forward_backward's arguments after the data and labels:
/// whole, tensor-parallel parts or ZeRO-3 shards; ZeRO-1/2 cut the
/// update's shards from the whole parameters only for the update) and of
/// the optimizer state (@optimizer_step's state arguments), and the most
/// bytes the step's own values take at once (@forward_backward in program
/// order, each value live from its definition to its last use: activations
/// kept for the backward pass, gradients, temporaries).
struct ProcessMemory {
  double parameters = 0, optimizerState = 0, stepValues = 0;
  double total() const { return parameters + optimizerState + stepValues; }
};

/// What a plan may use of a device's memory: 90% (the planner's headroom).
static double memoryBudget(const mlir::autopar::planner::ClusterSpec &c) {
  return mlir::autopar::planner::TrainingSetup().memoryHeadroom *
         c.device.memoryBytes;
}

/// Bytes for a person: "512 B", "4.2 kB", "31.4 MB", "16.6 GB".
static std::string readableBytes(double bytes) {
  if (bytes < 1e3)
    return llvm::formatv("{0:f0} B", bytes).str();
  if (bytes < 1e6)
    return llvm::formatv("{0:f1} kB", bytes / 1e3).str();
  if (bytes < 1e9)
    return llvm::formatv("{0:f1} MB", bytes / 1e6).str();
  return llvm::formatv("{0:f1} GB", bytes / 1e9).str();
}

static ProcessMemory processMemory(ModuleOp stepModule) {
  ProcessMemory m;
  auto grad = stepModule.lookupSymbol<func::FuncOp>("forward_backward");
  auto step = stepModule.lookupSymbol<func::FuncOp>("optimizer_step");
  for (Type t : grad.getArgumentTypes().drop_front(2))
    m.parameters += tensorBytes(t);
  size_t trained = grad.getNumResults() - 1;
  for (Type t : step.getArgumentTypes().drop_front(2 * trained).drop_back(2))
    m.optimizerState += tensorBytes(t);
  Block &body = grad.front();
  DenseMap<Operation *, int64_t> position;
  for (auto [i, op] : llvm::enumerate(body))
    position[&op] = int64_t(i);
  // Live bytes after each op: its results join, values past their last use
  // leave.
  std::vector<double> freed(position.size() + 1, 0);
  double live = 0;
  for (auto [i, op] : llvm::enumerate(body)) {
    for (Value v : op.getResults()) {
      int64_t last = int64_t(i);
      for (Operation *user : v.getUsers())
        if (Operation *at = body.findAncestorOpInBlock(*user))
          last = std::max(last, position.lookup(at));
      live += tensorBytes(v.getType());
      freed[size_t(last)] += tensorBytes(v.getType());
    }
    m.stepValues = std::max(m.stepValues, live);
    live -= freed[i];
  }
  return m;
}

/// A plan the training step can run: a dp x tp grid, sequence
/// parallelism, a ZeRO stage.
struct TrainPlan {
  int64_t dp = 1, tp = 1, zero = 0;
  bool sp = false;
  /// Linear layers (positions among them, from 0) left whole by the
  /// per-layer refinement.
  std::vector<int64_t> keepWhole;
  std::string str() const {
    std::string whole;
    for (int64_t p : keepWhole)
      whole += (whole.empty() ? " (linear layers " : ", ") + std::to_string(p);
    return llvm::formatv("dp={0},tp={1}{2}{3}{4}", dp, tp, sp ? ",sp=on" : "",
                         zero ? llvm::formatv(",zero={0}", zero).str()
                              : std::string(),
                         whole.empty() ? whole : whole + " whole)")
        .str();
  }
};

/// Sets the training-step options that carry `plan`, run `microbatches`
/// times per step (the gradient sums start inside the backward pass when
/// each step has one microbatch and ZeRO leaves them to an all-reduce).
static void applyPlan(mlir::autopar::TrainStepOptions &options,
                      const TrainPlan &plan, int64_t microbatches) {
  options.dp = plan.dp;
  options.tp = plan.tp;
  options.sp = plan.sp;
  options.zero = plan.zero;
  options.keepWhole = plan.keepWhole;
  options.overlap =
      overlapGradientSums && plan.dp > 1 && plan.zero < 2 && microbatches == 1;
}

/// A plan as predicted: step time and memory per process, or why not.
struct Candidate {
  TrainPlan plan;
  int64_t microbatches = 1;
  double rows = 0; ///< per step, over all processes
  StepTime time;
  ProcessMemory memory;
  /// (column, row) positions of each region tensor parallelism split (row
  /// -1: a vocabulary-parallel head).
  std::vector<int64_t> splitLayers;
  std::string rejection;
  bool feasible() const { return rejection.empty(); }
  double rate() const { return rows / time.total(); }
};

/// `plan`'s training step built from `module` and predicted with
/// `microbatches` per process and step.
static Candidate
buildCandidate(ModuleOp module, mlir::autopar::TrainStepOptions &base,
               const TrainPlan &plan, int64_t microbatches,
               const mlir::autopar::planner::ClusterSpec &cluster) {
  Candidate c;
  c.plan = plan;
  c.microbatches = microbatches;
  if (c.microbatches < 1) {
    c.rejection =
        "the global batch does not divide among dp=" + std::to_string(plan.dp) +
        " batches of the model's size";
    return c;
  }
  OwningOpRef<ModuleOp> built = module.clone();
  applyPlan(base, plan, microbatches);
  PassManager pm(module.getContext());
  mlir::autopar::buildTrainStepPipeline(pm, base);
  // Why a plan does not build: the first error.
  std::string why;
  {
    ScopedDiagnosticHandler quiet(module.getContext(), [&](Diagnostic &d) {
      if (why.empty() && d.getSeverity() == DiagnosticSeverity::Error)
        why = d.str();
      return success();
    });
    if (failed(pm.run(*built))) {
      c.rejection = "does not build: " + (why.empty() ? "?" : why);
      return c;
    }
  }
  auto grad = built->lookupSymbol<func::FuncOp>("forward_backward");
  auto input = cast<RankedTensorType>(grad.getFunctionType().getInput(0));
  c.rows = double(plan.dp * c.microbatches *
                  (input.getRank() ? input.getDimSize(0) : 1));
  c.time =
      stepTime(*built, plan.dp, plan.tp, plan.zero, cluster, c.microbatches);
  c.memory = processMemory(*built);
  double budget = memoryBudget(cluster);
  if (c.memory.total() > budget)
    c.rejection = "needs " + readableBytes(c.memory.total()) +
                  " per device, over the " + readableBytes(budget) +
                  " it may use (90%)";
  if (auto split =
          grad->getAttrOfType<DenseI64ArrayAttr>("autopar.split_layers"))
    c.splitLayers.assign(split.asArrayRef().begin(), split.asArrayRef().end());
  return c;
}

/// Megatron's split of every column/row pair is not always best: a small
/// layer's all-reduces can cost more than its share of the work saves. The
/// time and memory of a plan are sums over the split layers, so the best
/// subset is found exactly one layer at a time: the plan built with each
/// split layer left whole in turn, and every layer whose whole form is
/// faster left whole together (if that still fits and is faster).
static Candidate
refineLayers(ModuleOp module, mlir::autopar::TrainStepOptions &base,
             const Candidate &best,
             const mlir::autopar::planner::ClusterSpec &cluster) {
  if (best.plan.tp == 1)
    return best;
  const std::vector<int64_t> &split = best.splitLayers;
  TrainPlan refined = best.plan;
  for (size_t k = 0; k + 1 < split.size(); k += 2) {
    TrainPlan without = best.plan;
    for (int64_t layer : {split[k], split[k + 1]})
      if (layer >= 0)
        without.keepWhole.push_back(layer);
    Candidate c =
        buildCandidate(module, base, without, best.microbatches, cluster);
    if (c.rows > 0 && c.time.total() < best.time.total())
      refined.keepWhole.insert(refined.keepWhole.end(),
                               without.keepWhole.begin(),
                               without.keepWhole.end());
  }
  if (refined.keepWhole.empty())
    return best;
  Candidate c =
      buildCandidate(module, base, refined, best.microbatches, cluster);
  return c.feasible() && c.rate() > best.rate() ? c : best;
}

/// Every plan of `devices` processes (`only`, when given): the data x
/// tensor parallel grids with tp at most `maxTp`, with and without sequence
/// parallelism, with each ZeRO stage. `microbatchesFor(dp)` is the
/// microbatches a process runs per step, 0 when the batch does not divide.
/// Each plan's step is built and predicted; one that does not build, or
/// needs more than 90% of the device's memory, is rejected with the reason.
static std::vector<Candidate>
evaluatePlans(ModuleOp module, mlir::autopar::TrainStepOptions &base,
              int64_t devices, int64_t maxTp,
              const mlir::autopar::planner::ClusterSpec &cluster,
              llvm::function_ref<int64_t(int64_t)> microbatchesFor,
              std::optional<TrainPlan> only) {
  std::vector<TrainPlan> plans;
  if (only)
    plans.push_back(*only);
  for (int64_t tp = 1; !only && tp <= std::min(devices, maxTp); ++tp)
    for (bool sp : {false, true})
      for (int64_t zero = 0; zero <= 3; ++zero)
        if (devices % tp == 0 && !(sp && tp == 1) &&
            !(zero > 0 && devices == tp))
          plans.push_back(TrainPlan{devices / tp, tp, zero, sp});
  std::vector<Candidate> out;
  for (const TrainPlan &plan : plans)
    out.push_back(
        buildCandidate(module, base, plan, microbatchesFor(plan.dp), cluster));
  return out;
}

/// The fastest feasible candidate (the first of equals).
static const Candidate *fastest(ArrayRef<Candidate> candidates) {
  const Candidate *best = nullptr;
  for (const Candidate &c : candidates)
    if (c.feasible() && (!best || c.rate() > best->rate()))
      best = &c;
  return best;
}

/// Why none of `candidates` is possible, for an error message.
static std::string noPlanReason(ArrayRef<Candidate> candidates,
                                const mlir::autopar::planner::ClusterSpec &c) {
  std::optional<double> least;
  for (const Candidate &k : candidates)
    if (k.memory.total() > 0)
      least = std::min(least.value_or(k.memory.total()), k.memory.total());
  if (!least)
    return candidates.empty() ? "no plan to try"
                              : candidates.front().plan.str() + " " +
                                    candidates.front().rejection;
  return llvm::formatv("none fits in {0}'s memory: the smallest needs {1} per "
                       "process, {2} may be used (90% of the device's)",
                       c.name, readableBytes(*least),
                       readableBytes(memoryBudget(c)))
      .str();
}

/// The plan for `devices` processes when --plan does not give one: the
/// fastest candidate that builds and fits; each is printed.
static FailureOr<TrainPlan>
choosePlan(ModuleOp module, mlir::autopar::TrainStepOptions &base,
           int64_t devices, const mlir::autopar::planner::ClusterSpec &cluster,
           StringRef modelName) {
  std::vector<Candidate> candidates = evaluatePlans(
      module, base, devices, devices, cluster,
      [](int64_t) { return int64_t(gradAccum); }, std::nullopt);
  bool built = false;
  for (const Candidate &c : candidates) {
    if (c.rows == 0)
      continue; // did not build
    built = true;
    const TrainPlan &p = c.plan;
    llvm::errs() << llvm::formatv(
        "autopar-compile: note: dp={0} x tp={1}{2}{3}: predicted {4:e} s "
        "per step of {5} rows, {6:f0} rows/s; {7} per process{8}\n",
        p.dp, p.tp, p.sp ? " sp" : "",
        p.zero ? llvm::formatv(" zero={0}", p.zero).str() : std::string(),
        c.time.total(), int64_t(c.rows), c.rate(),
        readableBytes(c.memory.total()),
        c.feasible() ? ""
                     : ", over the " + readableBytes(memoryBudget(cluster)) +
                           " a device may use");
  }
  if (!built) {
    fail(llvm::formatv("no plan of {0} processes builds for {1}", devices,
                       modelName));
    return failure();
  }
  const Candidate *best = fastest(candidates);
  if (!best) {
    fail(llvm::formatv("no plan of {0} processes fits: {1}", devices,
                       noPlanReason(candidates, cluster)));
    return failure();
  }
  Candidate refined = refineLayers(module, base, *best, cluster);
  if (!refined.plan.keepWhole.empty())
    llvm::errs() << llvm::formatv(
        "autopar-compile: note: {0}: predicted {1:e} s per step, {2:f0} "
        "rows/s (split layers that save less than their communication costs "
        "are left whole)\n",
        refined.plan.str(), refined.time.total(), refined.rate());
  return refined.plan;
}

/// `--plan-only` for a model given as a graph (ONNX): the plans its
/// training step can run (evaluatePlans) on --cluster's devices for
/// --global-batch rows per step, the fastest that fits written as OUT/
/// model.mlir (the chosen plan's partitioned training step) and
/// OUT/plan.json, with the best alternatives and why each lost.
static int planGraph(ModuleOp module, mlir::autopar::TrainStepOptions &base) {
  using namespace mlir::autopar::planner;
  if (clusterSpec.empty())
    return fail("--plan-only needs --cluster");
  llvm::Expected<ClusterSpec> cluster = loadCluster(clusterSpec, devices);
  if (!cluster)
    return fail(llvm::toString(cluster.takeError()));
  int64_t n = cluster->numDevices();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  auto input = cast<RankedTensorType>(forward.getArgumentTypes().front());
  int64_t micro = input.getRank() ? input.getDimSize(0) : 1;
  if (globalBatch < 1 || globalBatch % micro)
    return fail(llvm::formatv("--plan-only needs --global-batch, the rows per "
                              "step: a positive multiple of the model's "
                              "batch of {0}",
                              micro));
  std::optional<TrainPlan> only;
  if (!planSpec.empty()) {
    llvm::Expected<Plan> plan = parsePlan(planSpec);
    if (!plan)
      return fail("--plan: " + llvm::toString(plan.takeError()));
    if (plan->pp > 1 || plan->cp > 1 || plan->microbatches != 1)
      return fail("--plan: a graph model is planned over dp, tp, sp and zero "
                  "(pipeline stages, context parallelism and microbatches "
                  "are planned for zoo: transformers)");
    only = TrainPlan{plan->dp, plan->tp, int64_t(plan->zero),
                     plan->sequenceParallel};
    if (only->dp * only->tp != n)
      return fail(llvm::formatv("--plan={0} uses {1} devices but {2} has {3}",
                                planSpec, only->dp * only->tp, cluster->name,
                                n));
  }
  auto start = std::chrono::steady_clock::now();
  std::vector<Candidate> candidates = evaluatePlans(
      module, base, n, cluster->devicesPerNode, *cluster,
      [&](int64_t dp) -> int64_t {
        return globalBatch % (dp * micro) ? 0 : globalBatch / (dp * micro);
      },
      only);
  const Candidate *fastestOne = fastest(candidates);
  if (!fastestOne)
    return fail(
        llvm::formatv("no plan of {0} devices for {1}: {2}", n, modelFile,
                      only ? only->str() + " " + candidates.front().rejection
                           : noPlanReason(candidates, *cluster)));
  // A given plan is taken as it is; a searched one refined layer by layer.
  Candidate refined =
      only ? *fastestOne : refineLayers(module, base, *fastestOne, *cluster);
  const Candidate *best = &refined;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  // The chosen plan's step, built again (candidates are not kept).
  applyPlan(base, best->plan, best->microbatches);
  PassManager pm(module.getContext());
  mlir::autopar::buildTrainStepPipeline(pm, base);
  if (failed(pm.run(module)))
    return 1;

  double peak = cluster->device.peakFlops(ComputeType::FP32);
  auto describe = [&](const Candidate &c) {
    llvm::json::Object o{{"plan", c.plan.str()}};
    if (c.rows > 0) {
      o["step_time_s"] = c.time.total();
      o["memory_per_device_bytes"] = c.memory.total();
    }
    if (!c.feasible())
      o["rejection"] = c.rejection;
    return o;
  };
  // Alternatives: the fastest others that fit, then those rejected.
  std::vector<const Candidate *> others;
  for (const Candidate &c : candidates)
    if (&c != fastestOne || !best->plan.keepWhole.empty())
      others.push_back(&c);
  llvm::stable_sort(others, [](const Candidate *a, const Candidate *b) {
    if (a->feasible() != b->feasible())
      return a->feasible();
    return a->feasible() && a->rate() > b->rate();
  });
  llvm::json::Array alternatives;
  for (const Candidate *c : llvm::ArrayRef(others).take_front(8))
    alternatives.push_back(describe(*c));
  const TrainPlan &p = best->plan;
  llvm::json::Object chosen{
      {"plan", llvm::json::Object{{"spec", p.str()},
                                  {"dp", p.dp},
                                  {"tp", p.tp},
                                  {"sequence_parallel", p.sp},
                                  {"zero", p.zero},
                                  {"whole_linear_layers",
                                   llvm::json::Array(p.keepWhole)},
                                  {"microbatches", best->microbatches}}},
      {"step_time_s", best->time.total()},
      {"time_s",
       llvm::json::Object{{"compute", best->time.compute},
                          {"communication", best->time.communication}}},
      {"memory_per_device_bytes",
       llvm::json::Object{{"parameters", best->memory.parameters},
                          {"optimizer_state", best->memory.optimizerState},
                          {"step_values", best->memory.stepValues},
                          {"total", best->memory.total()}}},
      {"rows_per_s", best->rate()},
      {"tflops_per_device", best->time.flops / best->time.total() / 1e12},
      {"mfu", best->time.flops / best->time.total() / peak}};
  llvm::json::Object planJson{{"model", modelFile.getValue()},
                              {"cluster", cluster->name},
                              {"devices", n},
                              {"global_batch", globalBatch.getValue()},
                              {"micro_batch", micro},
                              {"evaluated", int64_t(candidates.size())},
                              {"planning_s", seconds},
                              {"chosen", std::move(chosen)},
                              {"alternatives", std::move(alternatives)}};
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return fail(outDir + ": " + ec.message());
  if (auto rc =
          writeOutput("model.mlir", [&](raw_ostream &os) { module.print(os); }))
    return *rc;
  if (auto rc = writeOutput("plan.json", [&](raw_ostream &os) {
        os << llvm::formatv("{0:2}\n", llvm::json::Value(std::move(planJson)));
      }))
    return *rc;
  if (explainPlan) {
    llvm::outs() << llvm::formatv(
        "plan: {0} ({1} microbatch{2} of {3} rows per process and step)\n"
        "step time {4:e} s = compute {5:e} + communication {6:e}\n"
        "memory per device {7} = parameters {8} + optimizer state {9} + "
        "step values {10} (device {11})\n"
        "throughput {12:f0} rows/s, {13:f3} TFLOP/s per device, MFU "
        "{14:f1}%\n",
        p.str(), best->microbatches, best->microbatches == 1 ? "" : "es", micro,
        best->time.total(), best->time.compute, best->time.communication,
        readableBytes(best->memory.total()),
        readableBytes(best->memory.parameters),
        readableBytes(best->memory.optimizerState),
        readableBytes(best->memory.stepValues),
        readableBytes(cluster->device.memoryBytes), best->rate(),
        best->time.flops / best->time.total() / 1e12,
        100 * best->time.flops / best->time.total() / peak);
    for (const Candidate *c : llvm::ArrayRef(others).take_front(8))
      llvm::outs() << "  instead of " << c->plan.str() << ": "
                   << (c->feasible() ? llvm::formatv("{0:f2}x slower",
                                                     best->rate() / c->rate())
                                           .str()
                                     : c->rejection)
                   << "\n";
  }
  llvm::outs() << llvm::formatv(
      "wrote {0}: model.mlir (the training step for {1} on {2} devices of "
      "{3}) and plan.json; {4} plans evaluated in {5:f2} s\n",
      outDir, p.str(), n, cluster->name, candidates.size(), seconds);
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "autopar-compile: a model to a training "
                              "artifact\n");
  if (planOnly && StringRef(modelFile).starts_with("zoo:"))
    return planModel();
  if (!train && !planOnly)
    return fail("give --train (build the training step) or --plan-only "
                "(plan its parallelization); run a model's forward pass with "
                "autopar-import and autopar-run");
  if (StringRef(modelFile).ends_with(".mlir"))
    return fail(modelFile +
                ": autopar-compile takes an ONNX model or a zoo: model; for "
                "a model in the autopar dialect, build its training step "
                "with autopar-opt --autopar-make-train-step (docs/"
                "autodiff.md) and lower it with --autopar-lower-to-cpu or "
                "--autopar-lower-to-cuda");
  if (target != "cpu" && target != "cuda")
    return fail("--target must be cpu or cuda, not '" + target + "'");
  if (target == "cuda" && !train)
    return fail("--target=cuda compiles the training step: give --train");
  if (target == "cuda" && !StringRef(gpuArch).starts_with("sm_"))
    return fail("--gpu-arch names an NVIDIA architecture such as sm_90 or "
                "sm_80, not '" +
                gpuArch + "'");
  if (gpuFormat != "ptx" && gpuFormat != "cubin")
    return fail("--gpu-format must be ptx or cubin, not '" + gpuFormat + "'");
  if (!cudaLoweringOptions.empty()) {
    // Checked before anything is written.
    mlir::autopar::CUDALoweringOptions options;
    std::string bad;
    llvm::raw_string_ostream errors(bad);
    if (target != "cuda")
      return fail("--cuda-lowering-options needs --target=cuda");
    if (failed(options.parseFromString(cudaLoweringOptions, errors)))
      return fail("--cuda-lowering-options '" + cudaLoweringOptions +
                  "': " + StringRef(bad).trim());
  }
  if (initialAccumulator < 0)
    return fail("--initial-accumulator-value must not be negative");
  if (initialAccumulator != 0 && optimizerName != "adagrad")
    return fail("--initial-accumulator-value applies to adagrad only");
  if (gradAccum < 1)
    return fail("--grad-accum must be at least 1, got " +
                llvm::Twine(gradAccum.getValue()));
  if (fusedAttention != "auto" && fusedAttention != "on" &&
      fusedAttention != "off")
    return fail("--fused-attention must be auto, on or off, not '" +
                fusedAttention + "'");
  if (precision != "fp32" && precision != "bf16" && precision != "fp16")
    return fail("--precision must be fp32, bf16 or fp16, not '" + precision +
                "'");
  // The loss scale: none, dynamic, or a fixed value.
  std::string scaleMode = lossScale.getNumOccurrences()
                              ? lossScale.getValue()
                              : (precision == "fp16" ? "dynamic" : "none");
  double fixedScale = 0;
  if (scaleMode != "none" && scaleMode != "dynamic") {
    if (StringRef(scaleMode).getAsDouble(fixedScale) ||
        !std::isfinite(fixedScale) || fixedScale <= 0)
      return fail("--loss-scale must be dynamic, none or a positive number, "
                  "not '" +
                  scaleMode + "'");
    scaleMode = "fixed";
  }
  if (scaleMode == "dynamic" &&
      (!std::isfinite(lossScaleInit) || lossScaleInit < 1))
    return fail("--loss-scale-init must be a number of at least 1");
  if (scaleMode == "dynamic" && lossScaleWindow < 1)
    return fail("--loss-scale-window must be at least 1");
  if ((lossScaleInit.getNumOccurrences() ||
       lossScaleWindow.getNumOccurrences()) &&
      scaleMode != "dynamic")
    return fail("--loss-scale-init and --loss-scale-window apply to a "
                "dynamic loss scale (--loss-scale=dynamic, the default with "
                "--precision=fp16)");
  // Validate the schedule now rather than at the first training step.
  llvm::Expected<::autopar::LRSchedule> schedule =
      ::autopar::LRSchedule::parse(lrSchedule, lr);
  if (!schedule)
    return fail(llvm::toString(schedule.takeError()));
  if (warmupSteps > 0)
    if (llvm::Error e = schedule->setWarmup(warmupSteps, warmupStart))
      return fail(llvm::toString(std::move(e)));

  mlir::autopar::registerAllAutoParPasses();
  DialectRegistry registry;
  mlir::autopar::registerAutoParDialects(registry);
  MLIRContext context(registry);
  // Errors name the model and the option; the IR dump helps nobody here.
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  mlir::autopar::ONNXImportOptions importOptions;
  importOptions.weightsFileName = "weights.safetensors";
  FailureOr<mlir::autopar::ImportedModel> model =
      StringRef(modelFile).starts_with("zoo:")
          ? zooForTraining(&context)
          : mlir::autopar::importONNXFile(&context, modelFile, importOptions);
  if (failed(model))
    return 1;
  ModuleOp module = *model->module;
  // Linear layers, attention and norms as composites: the units tensor
  // parallelism splits (autodiff decomposes them again).
  {
    PassManager raise(&context);
    raise.addNestedPass<func::FuncOp>(
        mlir::autopar::createRaiseCompositesPass());
    if (failed(raise.run(module)))
      return fail("raising composites in " + modelFile + " failed");
  }
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  // An initializer holding inf or nan (an additive attention mask exported
  // from a buffer) is a constant, not something to train: it is marked
  // frozen on @forward, which @loss inherits.
  ::autopar::TensorMap weights;
  llvm::json::Array params;
  llvm::StringSet<> nonFinite;
  for (mlir::autopar::ImportedWeight &w : model->weights) {
    ::autopar::NpyArray array;
    array.dtype =
        w.dtype == "F64" ? ::autopar::DType::F64 : ::autopar::DType::F32;
    array.shape.assign(w.shape.begin(), w.shape.end());
    array.data = std::move(w.data);
    if (::autopar::firstNonFinite(array))
      nonFinite.insert(w.name);
    params.push_back(w.name);
    weights.emplace(w.name, std::move(array));
  }
  unsigned trainableParams = 0;
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    auto role = forward.getArgAttrOfType<StringAttr>(i, "autopar.role");
    auto name = forward.getArgAttrOfType<StringAttr>(i, "autopar.name");
    if (!role || role.getValue() != "param" || !name)
      continue;
    if (nonFinite.contains(name.getValue())) {
      forward.setArgAttr(i, "autopar.role",
                         StringAttr::get(&context, "frozen"));
      llvm::errs() << "autopar-compile: note: '" << name.getValue()
                   << "' holds inf or nan (a mask?); it is kept fixed\n";
    } else {
      ++trainableParams;
    }
  }
  if (trainableParams == 0)
    return fail(modelFile + " has no trainable parameters (initializers "
                            "holding finite floating-point values)");

  std::string optimizerOptions = "optimizer=" + optimizerName.getValue();
  auto add = [&](StringRef key, const llvm::Twine &value) {
    optimizerOptions += (" " + key + "=" + value).str();
  };
  auto exact = [](double v) {
    std::string text;
    llvm::raw_string_ostream(text) << llvm::format("%.17g", v);
    return text;
  };
  if (!betas.empty()) {
    auto [b1, b2] = StringRef(betas).split(',');
    double v1, v2;
    if (b1.trim().getAsDouble(v1) || b2.trim().getAsDouble(v2) || v1 < 0 ||
        v1 >= 1 || v2 < 0 || v2 >= 1)
      return fail("--betas needs two numbers in [0, 1), got '" + betas + "'");
    add("beta1", exact(v1));
    add("beta2", exact(v2));
  }
  add("eps", exact(eps));
  add("weight-decay", exact(weightDecay));
  add("momentum", exact(momentum));
  add("dampening", exact(dampening));
  add("nesterov", nesterov ? "true" : "false");
  add("alpha", exact(alpha));
  add("centered", centered ? "true" : "false");
  add("lr-decay", exact(lrDecay));
  add("clip-grad-norm", exact(clipGradNorm));
  mlir::autopar::TrainStepOptions stepOptions;
  stepOptions.loss = lossKind.getValue();
  stepOptions.freeze = freezePattern.getValue();
  stepOptions.optimizer = optimizerName.getValue();
  stepOptions.momentum = momentum;
  stepOptions.dampening = dampening;
  stepOptions.nesterov = nesterov;
  stepOptions.weightDecay = weightDecay;
  stepOptions.eps = eps;
  stepOptions.alpha = alpha;
  stepOptions.centered = centered;
  stepOptions.lrDecay = lrDecay;
  stepOptions.clipGradNorm = clipGradNorm;
  stepOptions.precision = precision == "bf16"   ? "bf16"
                          : precision == "fp16" ? "f16"
                                                : "f32";
  stepOptions.lossScaleArg = scaleMode != "none";
  stepOptions.keepAttention =
      fusedAttention == "on" ||
      (fusedAttention == "auto" && target == "cuda" && precision != "fp32");
  if (!betas.empty()) {
    auto [b1, b2] = StringRef(betas).split(',');
    double v1 = 0, v2 = 0;
    (void)b1.trim().getAsDouble(v1);
    (void)b2.trim().getAsDouble(v2);
    stepOptions.beta1 = v1;
    stepOptions.beta2 = v2;
  }
  if (planOnly)
    return planGraph(module, stepOptions);
  // The processes' grid: --plan's, or the one communicating least.
  int64_t dpDegree = devices, tpDegree = 1, zeroStage = 0;
  bool sequenceParallel = false;
  std::vector<int64_t> keepWhole;
  if (!planSpec.empty()) {
    llvm::Expected<mlir::autopar::planner::Plan> plan =
        mlir::autopar::planner::parsePlan(planSpec);
    if (!plan)
      return fail("--plan: " + llvm::toString(plan.takeError()));
    std::string unsupported;
    if (plan->pp > 1)
      unsupported = "pipeline parallelism (pp=)";
    else if (plan->cp > 1)
      unsupported = "context parallelism (cp=)";
    else if (plan->microbatches != 1)
      unsupported = "pipeline microbatches (mb=; use --grad-accum)";
    if (!unsupported.empty())
      return fail("--plan: --train runs data, tensor and sequence "
                  "parallelism and ZeRO (dp=, tp=, sp=, zero=) so far; " +
                  unsupported +
                  " is planned by --plan-only but not executed yet");
    dpDegree = plan->dp;
    tpDegree = plan->tp;
    zeroStage = int64_t(plan->zero);
    sequenceParallel = plan->sequenceParallel;
    if (sequenceParallel && tpDegree == 1)
      return fail("--plan: sequence parallelism splits the work between "
                  "tensor-parallel layers; sp=on needs tp > 1");
    if (zeroStage > 0 && dpDegree == 1)
      return fail("--plan: ZeRO shards over the data-parallel processes; "
                  "zero= needs dp > 1");
    if (plan->wholeAttention || plan->wholeMlp || plan->wholeHead) {
      // Blocks of a zoo transformer kept whole: its linear layers are, per
      // layer, QKV, attention output, MLP up and down, then the head.
      llvm::Expected<mlir::autopar::planner::TransformerModel> zoo =
          mlir::autopar::planner::zooModel(modelFile);
      if (!zoo) {
        llvm::consumeError(zoo.takeError());
        return fail("--plan: attn-whole=, mlp-whole= and head= name blocks "
                    "of zoo: transformers; for other models --train "
                    "--devices=N chooses the layers to keep whole itself");
      }
      if (tpDegree == 1 || sequenceParallel)
        return fail("--plan: blocks kept whole need tp > 1 and sp=off");
      if (plan->wholeAttention > zoo->layers || plan->wholeMlp > zoo->layers)
        return fail(llvm::formatv("--plan: attn-whole and mlp-whole count "
                                  "layers, at most {0}",
                                  zoo->layers));
      for (int64_t l = 0; l < zoo->layers; ++l) {
        if (plan->attentionWhole(l, zoo->layers))
          keepWhole.insert(keepWhole.end(), {4 * l, 4 * l + 1});
        if (plan->mlpWhole(l, zoo->layers))
          keepWhole.insert(keepWhole.end(), {4 * l + 2, 4 * l + 3});
      }
      if (plan->wholeHead)
        keepWhole.push_back(4 * zoo->layers);
      llvm::errs() << "autopar-compile: note: linear layers "
                   << llvm::join(llvm::map_range(keepWhole,
                                                 [](int64_t p) {
                                                   return std::to_string(p);
                                                 }),
                                 ", ")
                   << " stay whole on every process\n";
    }
    if (devices.getNumOccurrences() && devices != dpDegree * tpDegree)
      return fail(llvm::formatv("--plan={0} runs on {1} processes but "
                                "--devices is {2}",
                                planSpec, dpDegree * tpDegree,
                                devices.getValue()));
  } else if (devices > 1) {
    llvm::Expected<mlir::autopar::planner::ClusterSpec> cluster =
        trainCluster(devices);
    if (!cluster)
      return fail(llvm::toString(cluster.takeError()));
    FailureOr<TrainPlan> chosen =
        choosePlan(module, stepOptions, devices, *cluster, modelFile);
    if (failed(chosen))
      return 1;
    dpDegree = chosen->dp;
    tpDegree = chosen->tp;
    zeroStage = chosen->zero;
    sequenceParallel = chosen->sp;
    keepWhole = chosen->keepWhole;
  }
  if (target == "cuda" && dpDegree * tpDegree > 1)
    return fail(llvm::formatv(
        "--target=cuda compiles one GPU's step so far: the collectives of a "
        "dp x tp grid are not in the compiled step yet; for data "
        "parallelism compile without --plan and start autopar-run under "
        "mpirun -np {0} (NCCL averages the gradients between steps: "
        "docs/gpu.md)",
        dpDegree * tpDegree));
  if (devices < 1)
    return fail("--devices must be at least 1");
  applyPlan(
      stepOptions,
      TrainPlan{dpDegree, tpDegree, zeroStage, sequenceParallel, keepWhole},
      gradAccum);
  PassManager pm(&context);
  // Anchored on the module already: the pipeline names only its passes.
  mlir::autopar::buildTrainStepPipeline(pm, stepOptions);
  if (failed(pm.run(module)))
    return 1;
  // What the loss keeps fixed: the non-finite initializers and --freeze's.
  auto lossFn = module.lookupSymbol<func::FuncOp>("loss");
  llvm::json::Array frozen;
  for (unsigned i = 0; i < lossFn.getNumArguments(); ++i) {
    auto role = lossFn.getArgAttrOfType<StringAttr>(i, "autopar.role");
    auto name = lossFn.getArgAttrOfType<StringAttr>(i, "autopar.name");
    if (role && role.getValue() == "frozen" && name)
      frozen.push_back(name.str());
  }

  // The artifact.
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return fail(outDir + ": " + ec.message());
  auto path = [&](StringRef name) {
    llvm::SmallString<256> p(outDir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  if (llvm::Error e =
          ::autopar::writeSafetensors(path("weights.safetensors"), weights))
    return fail(llvm::toString(std::move(e)));
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path("train.mlir"), ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail(path("train.mlir") + ": " + ec.message());
    module.print(os);
  }
  if (target == "cuda")
    if (llvm::Error e = ::autopar::writeCudaLibrary(
            module, gpuArch, gpuFormat == "cubin", cudaToolkit,
            path("train-cuda.so"), AUTOPAR_CUDA_RUNTIME_DIR,
            cudaLoweringOptions))
      return fail(llvm::toString(std::move(e)));
  auto step = module.lookupSymbol<func::FuncOp>("optimizer_step");
  // The step time the cost model predicts for this grid.
  std::optional<double> predicted;
  std::string predictedOn;
  if (dpDegree * tpDegree > 1 || !clusterSpec.empty()) {
    llvm::Expected<mlir::autopar::planner::ClusterSpec> cluster =
        trainCluster(dpDegree * tpDegree);
    if (!cluster)
      return fail(llvm::toString(cluster.takeError()));
    predicted =
        stepTime(module, dpDegree, tpDegree, zeroStage, *cluster, gradAccum,
                 /*narrowProducts=*/target == "cuda")
            .total();
    predictedOn = cluster->name;
  }
  int64_t tpAllReduces = 0;
  if (auto grad = module.lookupSymbol<func::FuncOp>("forward_backward"))
    grad.walk([&](mlir::autopar::AllReduceOp) { ++tpAllReduces; });
  // Over the tensor-parallel axis (sequence parallelism) and the
  // data-parallel one (ZeRO-3's parameter gathers and gradient scatters).
  int64_t spGathers = 0, spScatters = 0, zeroGathers = 0, zeroScatters = 0;
  if (auto grad = module.lookupSymbol<func::FuncOp>("forward_backward"))
    grad.walk([&](Operation *op) {
      auto axes = op->getAttrOfType<DenseI64ArrayAttr>("grid_axes");
      bool data = axes && llvm::is_contained(axes.asArrayRef(), 0);
      bool gather = isa<mlir::autopar::AllGatherOp>(op);
      bool scatter = isa<mlir::autopar::ReduceScatterOp>(op);
      (data ? zeroGathers : spGathers) += gather;
      (data ? zeroScatters : spScatters) += scatter;
    });
  if (!step || !module.lookupSymbol<func::FuncOp>("forward_backward"))
    return fail("internal error: the training functions were not built");

  // What each process holds (the partitioned functions' types).
  ProcessMemory memory = processMemory(module);
  size_t frozenCount = frozen.size();
  size_t trainable = params.size() - frozenCount;
  int64_t slots = (step.getNumArguments() - 2 - 2 * trainable) /
                  std::max<size_t>(1, trainable);
  llvm::json::Object manifest{
      {"format", "autopar-training-artifact"},
      {"version", 1},
      {"module", "train.mlir"},
      {"target", target.getValue()},
      {"library", target == "cuda" ? llvm::json::Value("train-cuda.so")
                                   : llvm::json::Value(nullptr)},
      {"gpu_arch", target == "cuda" ? llvm::json::Value(gpuArch.getValue())
                                    : llvm::json::Value(nullptr)},
      {"gpu_format", target == "cuda" ? llvm::json::Value(gpuFormat.getValue())
                                      : llvm::json::Value(nullptr)},
      {"weights", "weights.safetensors"},
      {"gradient_function", "forward_backward"},
      {"optimizer_function", "optimizer_step"},
      {"loss", lossKind.getValue()},
      {"optimizer", optimizerOptions},
      {"params", std::move(params)},
      {"state_slots_per_param", slots},
      {"lr", lr.getValue()},
      {"lr_schedule", lrSchedule.getValue()},
      {"warmup_steps", warmupSteps.getValue()},
      {"warmup_start", warmupStart.getValue()},
      {"grad_accum", gradAccum.getValue()},
      {"precision", precision.getValue()},
      // autopar-run's loss scaling: @forward_backward takes the scale last.
      {"loss_scale",
       scaleMode == "none" ? llvm::json::Value(nullptr)
       : scaleMode == "fixed"
           ? llvm::json::Value(
                 llvm::json::Object{{"mode", "fixed"}, {"value", fixedScale}})
           : llvm::json::Value(llvm::json::Object{
                 {"mode", "dynamic"},
                 {"initial", lossScaleInit.getValue()},
                 {"growth_interval", lossScaleWindow.getValue()}})},
      // Processes: a data-parallel artifact (tp = 1) runs on any number;
      // a tensor-parallel one on exactly dp x tp (its @autopar_grid).
      {"plan", llvm::json::Object{{"dp", dpDegree},
                                  {"tp", tpDegree},
                                  {"sp", sequenceParallel},
                                  {"zero", zeroStage}}},
      {"predicted_step_s",
       predicted ? llvm::json::Value(*predicted) : llvm::json::Value(nullptr)},
      {"bytes_per_process",
       llvm::json::Object{{"parameters", int64_t(memory.parameters)},
                          {"optimizer_state", int64_t(memory.optimizerState)},
                          {"step_values", int64_t(memory.stepValues)}}},
      {"frozen", std::move(frozen)},
      // A zoo model's initial weights are drawn from this seed
      // (runtime/common/InitialWeights.h); an imported model's are its own.
      {"init_seed", StringRef(modelFile).starts_with("zoo:")
                        ? llvm::json::Value(int64_t(initSeed))
                        : llvm::json::Value(nullptr)},
      // Starting values of optimizer state slots,
      // by slot name (zero when absent).
      {"state_init",
       llvm::json::Object{{"sum", initialAccumulator.getValue()}}}};
  std::error_code ec;
  llvm::raw_fd_ostream os(path("manifest.json"), ec, llvm::sys::fs::OF_Text);
  if (ec)
    return fail(path("manifest.json") + ": " + ec.message());
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(manifest))) << "\n";
  int64_t elements = 0;
  for (const auto &entry : weights)
    elements += entry.second.numElements();
  // autopar-run trains a --target=cuda artifact on the GPU through its
  // library (docs/gpu.md).
  std::string howToTrain =
      target == "cuda"
          ? llvm::formatv("the step for the GPU is {0}/train-cuda.so ({1}); "
                          "train it on the GPU with autopar-run {0} "
                          "--data=X.npy --labels=Y.npy",
                          outDir, gpuArch.getValue())
                .str()
          : llvm::formatv(
                "train it with {0}autopar-run {1} --data=X.npy "
                "--labels=Y.npy",
                dpDegree * tpDegree > 1
                    ? llvm::formatv("mpirun -np {0} ", dpDegree * tpDegree)
                          .str()
                    : std::string(),
                outDir)
                .str();
  llvm::outs() << llvm::formatv(
      "wrote {0}: {1} parameter tensors ({2} values{6}), loss {3}, {4} with "
      "{5} state tensors per parameter{8}; {7}\n",
      outDir, weights.size(), elements, lossKind, optimizerName, slots,
      frozenCount ? llvm::formatv(", {0} frozen", frozenCount).str() : "",
      howToTrain,
      (precision == "fp32" ? std::string()
                           : ", " + precision +
                                 " matrix products (fp32 "
                                 "weights and state)") +
          (scaleMode == "dynamic"
               ? llvm::formatv(", dynamic loss scale from {0}",
                               llvm::format("%g", lossScaleInit.getValue()))
                     .str()
           : scaleMode == "fixed"
               ? llvm::formatv(", loss scale {0}",
                               llvm::format("%g", fixedScale))
                     .str()
               : std::string()));
  if (predicted)
    llvm::outs() << llvm::formatv("predicted step time on {0}: {1:e} s\n",
                                  predictedOn, *predicted);
  // A tensor-parallel grid over a model none of whose layers could be split
  // runs the whole model on every process: say so.
  if (tpDegree > 1 && tpAllReduces == 0)
    llvm::WithColor::warning(llvm::errs(), "autopar-compile")
        << "--plan asks for tp=" << tpDegree << " but no linear layer of "
        << modelFile
        << " could be split among that many processes (their features do "
           "not divide, or no column/row pair exists); every process "
           "computes the whole model\n";
  if (tpDegree > 1)
    llvm::outs() << llvm::formatv(
        "plan: dp={0} x tp={1}{3}: linear layers split in column/row pairs "
        "within each group of {1} processes, {2} tensor-parallel "
        "all-reduces per forward and backward pass{4}\n",
        dpDegree, tpDegree, tpAllReduces, sequenceParallel ? " sp" : "",
        sequenceParallel
            ? llvm::formatv(", {0} all-gathers and {1} reduce-scatters",
                            spGathers, spScatters)
                  .str()
            : std::string());
  int64_t startedSums = 0;
  if (auto grad = module.lookupSymbol<func::FuncOp>("forward_backward"))
    grad.walk([&](mlir::autopar::AllReduceStartOp) { ++startedSums; });
  if (startedSums)
    llvm::outs() << llvm::formatv(
        "plan: dp={0}: {1} gradient sums over the data-parallel axis start "
        "inside the backward pass as each gradient is complete\n",
        dpDegree, startedSums);
  if (zeroStage == 3)
    llvm::outs() << llvm::formatv(
        "plan: ZeRO-3 over dp={0}: each process holds 1/{0} of every trained "
        "parameter and gathers it where it is used: {1} all-gathers and {2} "
        "gradient reduce-scatters per forward and backward pass\n",
        dpDegree, zeroGathers, zeroScatters);
  return 0;
}
