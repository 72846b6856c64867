//===- aot_train.cpp - training steps of a --target=cuda artifact ---------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Trains with a training artifact's step compiled for the GPU
// (autopar-compile --train --target=cuda: train-cuda.so) on a machine
// without LLVM or MLIR, as autopar-run does on a machine with them: the
// parameters, gradients and optimizer state live in device memory; each
// step calls @forward_backward and then @optimizer_step through their
// packed wrappers (_mlir__mlir_ciface_NAME), the updated parameters and
// state going to a second set of buffers that the next step reads (no
// copies): runtime/cuda/StepLibrary.h, which autopar-run uses for a
// --target=cuda artifact. The initial weights are drawn as
// autopar-compile draws a zoo model's (runtime/common/InitialWeights.h),
// so nothing but the batch travels. Compares the losses with the CPU
// backend's (autopar-run on the same artifact and batch) where given, and
// prints the throughput.
//
// usage: aot_train --device|--host LIBRARY.so SPEC.txt STEPS
//                  [EXPECTED_LOSSES.txt]
// With --host the buffers are host memory and the library the CPU lowering
// (autopar-lower-to-cpu + autopar-packed-wrappers), which checks this
// driver without a GPU (test/Pipelines/aot-train.test).
// SPEC.txt (bench/gpu/train_spec.py writes it), one item per line:
//   seed N | lr X | state SLOTS INITIAL | flops_per_token F
//   precision fp32|bf16|fp16          (the products' type, for the JSON)
//   loss_scale fixed S | loss_scale dynamic S N
//                                     (fp16: @forward_backward takes the
//                                     scale; a dynamic one skips a step
//                                     whose loss or gradients are not
//                                     finite and halves, and doubles after
//                                     N finite steps, as autopar-run does;
//                                     losses are those of applied steps; a
//                                     fixed one stops at such a step)
//   data FILE B S | labels FILE B S   (raw int64, row-major)
//   param NAME RANK DIM... [frozen] [file=FILE]
//                                     (f32; in the step's order; frozen:
//                                     not trained; FILE: raw values, else
//                                     drawn from the seed)
// Without expected losses the loss must fall over 10 steps or more (fewer
// are not checked). Prints one line per step and, last, a line of JSON
// (tokens_per_s, step_ms and optimizer_ms, the optimizer's part of it, over
// the steps after the second, mfu against 989.4 TFLOP/s: an H100 SXM's
// dense bf16 peak, the losses, the worst relative difference to the CPU
// backend's, the steps skipped).
//
//===----------------------------------------------------------------------===//

#include "AotCommon.h"
#include "Collectives.h"
#include "DynamicLossScale.h"
#include "InitialWeights.h"
#include "StepLibrary.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {
struct Spec {
  uint64_t seed = 0;
  double lr = 1e-3, stateInitial = 0, flopsPerToken = 0;
  int slots = 0;
  std::string dataFile, labelsFile, precision = "fp32";
  /// "", "fixed" or "dynamic": @forward_backward takes a loss scale.
  std::string lossScale;
  double scaleValue = 1;
  int64_t scaleInterval = 0;
  std::vector<int64_t> batchDims;
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<bool> frozen;       ///< not trained (no gradient, no state)
  std::vector<std::string> files; ///< raw values, or empty: drawn
};

bool readSpec(const std::string &path, Spec &spec) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "FAIL: cannot read %s\n", path.c_str());
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "seed") {
      words >> spec.seed;
    } else if (key == "lr") {
      words >> spec.lr;
    } else if (key == "state") {
      words >> spec.slots >> spec.stateInitial;
    } else if (key == "flops_per_token") {
      words >> spec.flopsPerToken;
    } else if (key == "precision") {
      words >> spec.precision;
    } else if (key == "loss_scale") {
      words >> spec.lossScale >> spec.scaleValue;
      if (spec.lossScale == "dynamic")
        words >> spec.scaleInterval;
      if ((spec.lossScale != "fixed" && spec.lossScale != "dynamic") ||
          !(spec.scaleValue > 0) ||
          (spec.lossScale == "dynamic" && spec.scaleInterval < 1))
        words.setstate(std::ios::failbit);
    } else if (key == "data" || key == "labels") {
      int64_t b, s;
      std::string file;
      words >> file >> b >> s;
      (key == "data" ? spec.dataFile : spec.labelsFile) = file;
      spec.batchDims = {b, s};
    } else if (key == "param") {
      std::string name;
      int rank = -1;
      words >> name >> rank;
      std::vector<int64_t> dims(rank >= 0 && rank <= 16 ? rank : 0);
      for (int64_t &d : dims)
        words >> d;
      bool ok = bool(words) && rank >= 0 && rank <= 16;
      spec.names.push_back(name);
      spec.shapes.push_back(dims);
      spec.frozen.push_back(false);
      spec.files.emplace_back();
      bool unknown = false;
      for (std::string flag; words >> flag;) {
        if (flag == "frozen")
          spec.frozen.back() = true;
        else if (flag.rfind("file=", 0) == 0)
          spec.files.back() = flag.substr(5);
        else
          unknown = true;
      }
      words.clear(); // the flags ran to the end of the line
      if (!ok || unknown)
        words.setstate(std::ios::failbit);
    } else if (!key.empty()) {
      std::fprintf(stderr, "FAIL: %s: unknown line '%s'\n", path.c_str(),
                   line.c_str());
      return false;
    }
    if (words.fail()) {
      std::fprintf(stderr, "FAIL: %s: malformed line '%s'\n", path.c_str(),
                   line.c_str());
      return false;
    }
  }
  if (spec.names.empty() || spec.dataFile.empty() || spec.labelsFile.empty()) {
    std::fprintf(stderr, "FAIL: %s names no parameters or no batch\n",
                 path.c_str());
    return false;
  }
  return true;
}

/// The raw contents of `file`, which must hold `bytes` bytes.
bool readRaw(const std::string &file, size_t bytes, std::vector<char> &out) {
  std::ifstream raw(file, std::ios::binary);
  out.assign(std::istreambuf_iterator<char>(raw),
             std::istreambuf_iterator<char>());
  if (out.size() != bytes) {
    std::fprintf(stderr, "FAIL: %s holds %zu bytes, expected %zu\n",
                 file.c_str(), out.size(), bytes);
    return false;
  }
  return true;
}

bool dumpGradients(const char *path, const autopar::StepLibrary &library,
                   const std::vector<size_t> &counts) {
  std::ofstream out(path, std::ios::binary);
  for (size_t k = 0; k < counts.size(); ++k) {
    std::vector<float> host(counts[k]);
    library.readGradient(k, host.data());
    out.write(reinterpret_cast<const char *>(host.data()),
              std::streamsize(host.size() * 4));
  }
  if (!out) {
    std::fprintf(stderr, "FAIL: cannot write %s\n", path);
    return false;
  }
  return true;
}
} // namespace

int main(int argc, char **argv) {
  if ((argc != 5 && argc != 6) || (std::string(argv[1]) != "--device" &&
                                   std::string(argv[1]) != "--host")) {
    std::fprintf(stderr, "usage: aot_train --device|--host LIBRARY.so "
                         "SPEC.txt STEPS [EXPECTED_LOSSES.txt]\n");
    return 2;
  }
  bool onDevice = std::string(argv[1]) == "--device";
  ++argv, --argc;
  if (onDevice && !aot::gpuPresent())
    return 0;
  std::string specPath = argv[2];
  std::string dir = specPath.substr(0, specPath.find_last_of('/') + 1);
  int steps = std::atoi(argv[3]);
  Spec spec;
  if (steps < 1 || !readSpec(specPath, spec))
    return 1;
  std::vector<double> expected;
  if (argc == 5) {
    std::ifstream in(argv[4]);
    for (double v; in >> v;)
      expected.push_back(v);
  }
  // Two sets of parameters and state in the library (StepLibrary): a step
  // reads one, writes the other (a frozen parameter is the same buffer in
  // both, and has no gradient or state).
  size_t n = spec.names.size();
  using autopar::StepLibrary;
  StepLibrary::Signature signature;
  signature.x.shape = signature.y.shape = spec.batchDims;
  signature.x.elementBytes = signature.y.elementBytes = 8;
  std::vector<size_t> gradientCounts;
  for (size_t i = 0; i < n; ++i) {
    StepLibrary::Tensor p;
    p.shape = spec.shapes[i];
    signature.params.push_back(p);
    signature.frozen.push_back(spec.frozen[i]);
    if (spec.frozen[i])
      continue;
    gradientCounts.push_back(p.count());
    for (int k = 0; k < spec.slots; ++k)
      signature.state.push_back(p);
  }
  if (!spec.lossScale.empty())
    signature.scaleBytes = 4;
  auto start = std::chrono::steady_clock::now();
  std::string error;
  std::unique_ptr<StepLibrary> library = StepLibrary::open(
      argv[1],
      onDevice ? StepLibrary::Memory::Device : StepLibrary::Memory::Host,
      signature, error);
  if (!library) {
    std::fprintf(stderr, "FAIL: %s\n", error.c_str());
    return 1;
  }
  double loadSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::vector<char> ids, labels;
  size_t batchBytes = signature.x.bytes();
  if (!readRaw(dir + spec.dataFile, batchBytes, ids) ||
      !readRaw(dir + spec.labelsFile, batchBytes, labels))
    return 1;
  // Weights come from their file, or are drawn as autopar-compile drew them
  // (every parameter draws, in order, so that the generator stays in
  // step).
  autopar::InitialWeights init(spec.seed);
  size_t paramCount = 0, stateIndex = 0;
  for (size_t i = 0; i < n; ++i) {
    std::vector<float> host(signature.params[i].count());
    init.fill(spec.names[i], host.data(), host.size());
    std::vector<char> raw;
    if (!spec.files[i].empty()) {
      if (!readRaw(dir + spec.files[i], host.size() * 4, raw))
        return 1;
      library->setParameter(i, raw.data());
    } else {
      library->setParameter(i, host.data());
    }
    paramCount += host.size();
    if (spec.frozen[i])
      continue;
    std::vector<float> initial(host.size(), float(spec.stateInitial));
    for (int k = 0; k < spec.slots; ++k)
      library->setState(stateIndex++, initial.data());
  }
  // A loss scale (fp16): @forward_backward's last input; a dynamic one
  // follows autopar-run's rule (runtime/common/DynamicLossScale.h).
  autopar::DynamicLossScale scaling;
  scaling.scale = spec.scaleValue;
  scaling.interval = spec.scaleInterval;
  int skipped = 0, applied = 0;

  // AOT_TRAIN_NCCL=1 (on the GPU): each step's gradients are averaged by a
  // one-process NCCL communicator, as autopar-run averages them over its
  // processes under mpirun (StepLibrary::averageGradients): the losses
  // must not change.
  std::unique_ptr<autopar::cuda::Communicator> comm;
  if (onDevice && std::getenv("AOT_TRAIN_NCCL")) {
    comm = autopar::cuda::Communicator::create(
        0, 1, [](void *, size_t) { return std::string(); }, 60, error);
    if (!comm) {
      std::fprintf(stderr, "FAIL: %s\n", error.c_str());
      return 1;
    }
    std::printf("the gradients averaged by a one-process NCCL communicator\n");
  }
  // AOT_TRAIN_ACCUM=N: each step runs @forward_backward N times on its
  // batch and takes the mean of the N gradients (gradient accumulation as
  // autopar-run does it with --grad-accum: StepLibrary::keepGradients on
  // the GPU's kernels); with N = 2 the mean equals one step's gradients
  // exactly, so the losses must not change.
  const char *accumText = std::getenv("AOT_TRAIN_ACCUM");
  int accum = accumText ? std::max(1, std::atoi(accumText)) : 1;
  if (accum > 1)
    std::printf("the gradients of %d microbatches accumulated\n", accum);
  // AOT_TRAIN_DUMP_GRADS=FILE: the first step's gradients, concatenated
  // in the trained parameters' order (float32), to compare a GPU run with
  // the host.
  const char *dumpPath = std::getenv("AOT_TRAIN_DUMP_GRADS");
  // AOT_TRAIN_PROFILE_SKIP (with AUTOPAR_CUDA_PROFILE; default 1): the
  // profile leaves out the first steps, whose cuBLAS calls load kernels
  // and choose algorithms (run 7 charged that to the first product of the
  // step, the qkv projection).
  const char *skipText = std::getenv("AOT_TRAIN_PROFILE_SKIP");
  int profileSkip = skipText ? std::atoi(skipText) : 1;
  // AOT_TRAIN_MAX_SECONDS: stop after the step that passes it (the device
  // check's time limits), reporting the steps done.
  const char *budgetText = std::getenv("AOT_TRAIN_MAX_SECONDS");
  double budget = budgetText ? std::atof(budgetText) : 0;
  auto trainStart = std::chrono::steady_clock::now();
  std::vector<double> losses;
  std::vector<double> stepSeconds;
  // Each step's optimizer part (the rest is forward_backward and, where
  // asked, the gradients' average and accumulation): on the GPU each
  // function ends with the host waiting for its kernels.
  std::vector<double> optimizerSeconds;
  for (int step = 1; step <= steps; ++step) {
    auto t0 = std::chrono::steady_clock::now();
    double scaleUsed = scaling.scale;
    double value = 0;
    for (int j = 0; j < accum; ++j) {
      value += library->forwardBackward(
                   ids.data(), labels.data(),
                   spec.lossScale.empty() ? std::nullopt
                                          : std::optional<double>(scaleUsed)) /
               accum;
      if (accum > 1)
        library->keepGradients(j == 0);
    }
    if (accum > 1)
      library->takeKeptGradients(1.0 / accum);
    if (comm)
      if (std::string e = library->averageGradients(*comm, 60, "the average");
          !e.empty()) {
        std::fprintf(stderr, "FAIL: step %d: %s\n", step, e.c_str());
        return 1;
      }
    if (step == 1 && dumpPath)
      if (!dumpGradients(dumpPath, *library, gradientCounts))
        return 1;
    if (!spec.lossScale.empty()) {
      // The step goes ahead only with a finite loss and finite gradients
      // (on the GPU a kernel a gradient sets one flag, which is read back:
      // autopar::cuda::allFinite; on the host a scan); with a fixed scale,
      // as autopar-run without --skip-nonfinite, a step that is not finite
      // ends the run.
      bool finite = std::isfinite(value) && !library->firstNonFiniteGradient();
      if (spec.lossScale == "fixed" && !finite) {
        std::fprintf(stderr,
                     "FAIL: the loss or a gradient is not finite at step %d "
                     "(fixed loss scale %g)\n",
                     step, scaleUsed);
        return 1;
      }
      autopar::DynamicLossScale::Step next =
          spec.lossScale == "dynamic" ? scaling.update(finite)
                                      : autopar::DynamicLossScale::Step::Apply;
      if (next == autopar::DynamicLossScale::Step::TooSmall) {
        std::fprintf(stderr,
                     "FAIL: the gradients are not finite at every loss "
                     "scale down to %g (step %d)\n",
                     scaleUsed, step);
        return 1;
      }
      if (next == autopar::DynamicLossScale::Step::Skip) {
        ++skipped;
        stepSeconds.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                .count());
        optimizerSeconds.push_back(0);
        std::printf("step %d/%d  skipped: not finite at loss scale %g; "
                    "the scale halved to %g\n",
                    step, steps, scaleUsed, scaling.scale);
        std::fflush(stdout);
        continue;
      }
    }
    // Adam's bias correction counts the updates applied.
    auto optimizerStart = std::chrono::steady_clock::now();
    library->optimizerStep(spec.lr, double(++applied));
    optimizerSeconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                      optimizerStart)
            .count());
    if (onDevice && step == profileSkip && step < steps)
      autopar::cuda::profileReset();
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    losses.push_back(value);
    stepSeconds.push_back(seconds);
    std::printf("step %d/%d  loss %.7f  %.1f ms", step, steps, value,
                1e3 * seconds);
    if (!spec.lossScale.empty())
      std::printf("  loss scale %g", scaleUsed);
    std::printf("\n");
    std::fflush(stdout);
    if (!std::isfinite(value)) {
      std::fprintf(stderr, "FAIL: the loss is not finite at step %d\n", step);
      return 1;
    }
    if (budget > 0 && step < steps &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                      trainStart)
                .count() > budget) {
      std::printf("stopping after step %d: AOT_TRAIN_MAX_SECONDS=%g passed\n",
                  step, budget);
      steps = step;
    }
  }
  if (onDevice) { // with AUTOPAR_CUDA_PROFILE=1; AOT_TRAIN_PROFILE_TOP rows
    if (autopar::cuda::profiling() && profileSkip > 0 && profileSkip < steps)
      std::printf("profile of steps %d to %d (AOT_TRAIN_PROFILE_SKIP=%d)\n",
                  profileSkip + 1, steps, profileSkip);
    const char *top = std::getenv("AOT_TRAIN_PROFILE_TOP");
    autopar::cuda::profileReport(stdout, top ? std::atoi(top) : 30);
  }
  // Throughput over the steps after the first two (module loading, the
  // memory pool's first allocations and cuBLAS's set-up happen in those).
  int skip = steps > 4 ? 2 : 0;
  double timed = 0, optimizerTimed = 0;
  for (int i = skip; i < steps; ++i) {
    timed += stepSeconds[size_t(i)];
    optimizerTimed += optimizerSeconds[size_t(i)];
  }
  double stepSecondsMean = timed / (steps - skip);
  double optimizerSecondsMean = optimizerTimed / (steps - skip);
  double tokens = double(spec.batchDims[0] * spec.batchDims[1]);
  double tokensPerSecond = tokens / stepSecondsMean;
  double mfu = tokensPerSecond * spec.flopsPerToken / 989.4e12;
  bool ok = true;
  double worst = 0;
  size_t compared = std::min(expected.size(), losses.size());
  for (size_t i = 0; i < compared; ++i)
    worst = std::max(worst, std::fabs(losses[i] - expected[i]) /
                                std::fabs(expected[i]));
  if (compared) {
    // fp32 steps agree to 1e-4; a bf16 step's roundings depend on the
    // order of its sums (AOT_TRAIN_TOLERANCE for those).
    const char *toleranceText = std::getenv("AOT_TRAIN_TOLERANCE");
    double tolerance = toleranceText ? std::atof(toleranceText) : 1e-4;
    ok = worst <= tolerance;
    // The expected losses are the CPU backend's, or PyTorch's
    // (expected-torch-gpt-bf16): named by their file.
    const char *slash = std::strrchr(argv[4], '/');
    std::printf("%s: %zu losses on the %s against %s's, worst relative "
                "difference %.2e (tolerance %s)\n",
                ok ? "PASS" : "FAIL", compared, onDevice ? "GPU" : "host",
                slash ? slash + 1 : argv[4], worst,
                toleranceText ? toleranceText : "1e-4");
  }
  // Without the CPU backend's losses to compare with, training must at
  // least lower the loss over 10 steps or more (a few steps of Adam on one
  // batch may raise it first, as they do on the CPU: gpt2-small's third
  // step; the profiles run 3).
  if (losses.empty()) {
    std::printf("FAIL: every one of the %d steps was skipped\n", steps);
    return 1;
  }
  bool falling = losses.back() < losses.front();
  if (!compared && losses.size() >= 10 && !falling) {
    std::printf("FAIL: the loss did not fall (%.5f -> %.5f)\n", losses.front(),
                losses.back());
    ok = false;
  }
  std::printf("{\"peer\": \"autopar (%s)\", \"dtype\": \"%s\", "
              "\"batch\": %lld, "
              "\"seq\": %lld, \"params\": %zu, \"steps_timed\": %d, "
              "\"step_ms\": %.3f, \"optimizer_ms\": %.3f, "
              "\"tokens_per_s\": %.1f, "
              "\"flops_per_token\": %.0f, \"mfu\": %.4f, \"load_s\": %.2f, "
              "\"compared\": %zu, \"worst_relative\": %.3g, "
              "\"skipped\": %d, \"losses\": [",
              onDevice ? "GPU" : "host", spec.precision.c_str(),
              (long long)spec.batchDims[0], (long long)spec.batchDims[1],
              paramCount, steps - skip, 1e3 * stepSecondsMean,
              1e3 * optimizerSecondsMean, tokensPerSecond, spec.flopsPerToken,
              mfu, loadSeconds, compared, worst, skipped);
  for (size_t i = 0; i < losses.size(); ++i)
    std::printf("%s%.6f", i ? ", " : "", losses[i]);
  std::printf("]}\n");
  return ok ? 0 : 1;
}
