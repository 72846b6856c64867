//===- autopar-run.cpp - run an autopar function on the CPU ---------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
//   autopar-run FILE.mlir [--entry=NAME] [--input=a.npy ...]
//               [--output-dir=DIR] [--print]
//
// Parses the module, checks every input against the entry's signature,
// lowers it with the CPU pipeline, JIT-compiles it through MLIR's
// ExecutionEngine, calls it with the inputs and writes each result as
// DIR/resultN.npy (and/or prints it). Every problem with the input is a
// diagnostic and a non-zero exit code.
//
//===----------------------------------------------------------------------===//

#include "Collectives.h"
#include "Contraction.h"
#include "CudaRuntime.h"

#include "LRSchedule.h"
#include "LossScaler.h"
#include "Npy.h"
#include "Safetensors.h"
#include "StepLibrary.h"
#include <mpi.h>

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"
#include "autopar/Pipelines/Pipelines.h"
#include "autopar/Support/InputGuard.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/WithColor.h"

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <limits>
#include <malloc.h>
#include <numeric>
#include <random>
#include <thread>

using namespace mlir;
namespace npy = ::autopar;
namespace cl = llvm::cl;

static cl::OptionCategory runCategory("autopar-run options");
static cl::opt<std::string> inputFile(cl::Positional, cl::Required,
                                      cl::desc("<module.mlir>"),
                                      cl::cat(runCategory));
static cl::opt<std::string>
    entryName("entry",
              cl::desc("Function to run (default: the module's only public "
                       "function)"),
              cl::cat(runCategory));
static cl::list<std::string>
    inputPaths("input", cl::desc("A .npy file per argument, in order"),
               cl::cat(runCategory));
static cl::opt<std::string>
    outputDir("output-dir",
              cl::desc("Write result N to DIR/resultN.npy (created if "
                       "missing)"),
              cl::cat(runCategory));
static cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("Safetensors file with the parameters (default: the file the "
             "module's autopar.weights attribute names, next to the module)"),
    cl::cat(runCategory));
static cl::opt<bool> printResults(
    "print",
    cl::desc("Print results to stdout (the default without --output-dir)"),
    cl::cat(runCategory));
static cl::opt<std::string>
    dataPath("data", cl::desc("Training: inputs, one sample per row (.npy)"),
             cl::cat(runCategory));
static cl::opt<std::string>
    labelsPath("labels", cl::desc("Training: labels, one per row (.npy)"),
               cl::cat(runCategory));
static cl::opt<int64_t> batchSize(
    "batch-size",
    cl::desc("Training: rows per step (default: all of --data, one batch)"),
    cl::init(0), cl::cat(runCategory));
static cl::opt<int64_t> trainSteps(
    "steps",
    cl::desc("Training: the last step to run (default: one pass over "
             "--data); batches are taken in order and repeat after the last "
             "whole one"),
    cl::init(0), cl::cat(runCategory));
static cl::opt<int64_t> printEvery(
    "print-every",
    cl::desc("Training: print every Nth step (default: about 16 lines; "
             "the first and last step always print)"),
    cl::init(0), cl::cat(runCategory));
static cl::opt<bool> shuffle(
    "shuffle",
    cl::desc("Training: visit the rows of --data in a new random order each "
             "pass (from --seed and the pass number, so a resumed run sees "
             "the same order)"),
    cl::cat(runCategory));
static cl::opt<uint64_t>
    shuffleSeed("seed", cl::desc("Training: the seed of --shuffle"),
                cl::init(0), cl::cat(runCategory));
static cl::opt<double> collectiveTimeout(
    "collective-timeout",
    cl::desc("Under mpirun: seconds a rank waits for the others in a "
             "collective before it stops the job, naming the ranks that did "
             "not arrive"),
    cl::init(60.0), cl::cat(runCategory));
static cl::opt<bool> skipNonfinite(
    "skip-nonfinite",
    cl::desc("Training: skip (do not apply) a step whose loss or gradients "
             "are not finite, instead of stopping"),
    cl::cat(runCategory));
static cl::opt<bool> fuseRows(
    "fuse-rows",
    cl::desc("Lower with autopar-fuse-rows (the CUDA pipeline's fusion of "
             "row reductions with their elementwise ops), for tests"),
    cl::Hidden, cl::cat(runCategory));
static cl::opt<int64_t> fuseRowsUnroll(
    "fuse-rows-unroll",
    cl::desc("With --fuse-rows: unroll its loops over a row by this many "
             "iterations, as the CUDA pipeline does, for tests"),
    cl::init(1), cl::Hidden, cl::cat(runCategory));
static cl::opt<int64_t> fuseRowsVectorBytes(
    "fuse-rows-vector-bytes",
    cl::desc("With --fuse-rows: read and write the rows in vectors of up to "
             "this many bytes, as the CUDA pipeline does, for tests"),
    cl::init(0), cl::Hidden, cl::cat(runCategory));
static cl::opt<bool> recomputeProducers(
    "recompute-producers",
    cl::desc("Lower with autopar-fuse-elementwise recompute (the CUDA "
             "pipeline's recomputation of cheap producers), for tests"),
    cl::Hidden, cl::cat(runCategory));
static cl::opt<bool> padProducts(
    "pad-products",
    cl::desc("Lower with autopar-pad-products (the CUDA pipeline's padding "
             "of products to multiples of 8), on f32 products, for tests"),
    cl::Hidden, cl::cat(runCategory));
static cl::opt<bool> transposeResults(
    "transpose-results",
    cl::desc("Lower with autopar-transpose-product-results (the CUDA "
             "pipeline's transposed product results), for tests"),
    cl::Hidden, cl::cat(runCategory));
static cl::opt<bool> gpuKernels(
    "gpu-kernels",
    cl::desc("Lower as the CUDA pipeline does up to its kernels and run "
             "those on the CPU a block at a time (autopar-launches-to-loops): "
             "the GPU kernels checked without a GPU, for tests; the other "
             "lowering flags but --attention-calls do not apply"),
    cl::Hidden, cl::cat(runCategory));
static cl::opt<std::string> gpuKernelOptions(
    "gpu-kernel-options",
    cl::desc("With --gpu-kernels: autopar-lower-to-cuda's options for the "
             "kernels (\"warp-row-length=0 vector-bytes=0\"), for tests"),
    cl::Hidden, cl::cat(runCategory));
static cl::opt<bool> attentionCalls(
    "attention-calls",
    cl::desc("Lower bf16/f16 attentions to the CUDA runtime's fused "
             "attention calls (autopar-attention-to-calls), provided by a "
             "preloaded host implementation, for tests"),
    cl::Hidden, cl::cat(runCategory));
static cl::opt<std::string> stepLibraryPath(
    "step-library",
    cl::desc("Training: call this shared library's @forward_backward and "
             "@optimizer_step (their packed wrappers) instead of compiling "
             "the artifact's module (default for a --target=cuda artifact: "
             "its train-cuda.so)"),
    cl::Hidden, cl::cat(runCategory));
static cl::opt<std::string> stepMemory(
    "step-memory",
    cl::desc("With --step-library: where its buffers live, device (the GPU; "
             "the default for a --target=cuda artifact) or host (a library "
             "lowered for the CPU, for tests)"),
    cl::Hidden, cl::cat(runCategory));
static cl::opt<std::string> checkpointDir(
    "checkpoint-dir",
    cl::desc("Training: write checkpoints (parameters, optimizer state, "
             "step) to this folder"),
    cl::cat(runCategory));
static cl::opt<int64_t> checkpointEvery(
    "checkpoint-every",
    cl::desc("Training: checkpoint every K steps and after the last one "
             "(default: only after the last one)"),
    cl::init(0), cl::cat(runCategory));
static cl::opt<std::string>
    resumeDir("resume",
              cl::desc("Training: continue from the checkpoint in this folder "
                       "up to --steps"),
              cl::cat(runCategory));
static cl::opt<std::string>
    logPath("log", cl::desc("Training: one JSON object per step to FILE"),
            cl::cat(runCategory));
static cl::opt<std::string>
    exportPath("export",
               cl::desc("Training: write the trained weights (safetensors)"),
               cl::cat(runCategory));
static cl::opt<uint64_t>
    bucketMB("bucket-mb",
             cl::desc("Under mpirun: megabytes of gradients per data-parallel "
                      "all-reduce (default 25)"),
             cl::init(25), cl::cat(runCategory));
static cl::opt<uint64_t> maxTensorBytes(
    "max-tensor-bytes",
    cl::desc("Refuse modules with a tensor larger than this (default 16 GiB)"),
    cl::init(uint64_t(16) << 30), cl::cat(runCategory));

namespace {

void scaleBy(npy::NpyArray &a, double factor);

/// The processes of an `mpirun` launch: a dp x tp grid (data-parallel
/// groups take their own rows; gradients and losses are averaged over the
/// data-parallel axis; the compiled program's collectives run on the
/// tensor-parallel one).
struct World {
  int rank = 0, size = 1;
  bool active = false;
  /// The artifact's grid (`shard.grid @autopar_grid`, dp x tp): this
  /// process's coordinates and the communicators of its axes. Without a
  /// grid every process is its own data-parallel group member.
  int dp = 1, tp = 1, dpIndex = 0, tpIndex = 0;
  MPI_Comm dpComm = MPI_COMM_WORLD, tpComm = MPI_COMM_SELF;
  /// The step the collectives belong to (their timeout messages name it).
  int64_t step = 0;
};
World world;

/// Joins the MPI job when started by mpirun with more than one process.
void joinWorld() {
  const char *size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (!size)
    size = std::getenv("PMI_SIZE");
  if (!size || std::atoi(size) < 2)
    return;
  MPI_Init(nullptr, nullptr);
  MPI_Comm_rank(MPI_COMM_WORLD, &world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world.size);
  world.active = true;
  // One process speaks: the others' standard output goes nowhere.
  if (world.rank != 0)
    if (std::FILE *null = std::freopen("/dev/null", "w", stdout))
      (void)null;
}

int fail(const llvm::Twine &message) {
  // One write: under mpirun, stderr is shared with the other ranks and with
  // mpirun's own abort notice, and an unbuffered stream written piece by
  // piece interleaves with them.
  std::string line;
  llvm::raw_string_ostream os(line);
  llvm::WithColor::error(os, "autopar-run")
      << (world.active ? "rank " + std::to_string(world.rank) + ": " : "")
      << message << "\n";
  llvm::errs() << line;
  llvm::errs().flush();
  // Every rank sees the same data and checks: the others stop too, and an
  // abort guarantees that none waits for the failed one.
  if (world.active)
    MPI_Abort(MPI_COMM_WORLD, 1);
  return 1;
}

/// At the start of step `step` every rank tells every other one that it got
/// there, so that a rank that times out in one of the step's collectives
/// can name who did not.
void announceStep(int64_t step) {
  // Fault injection for the tests: AUTOPAR_FAULT_HANG=RANK:STEP makes that
  // rank stop answering at that step, as a hung process would.
  if (const char *fault = std::getenv("AUTOPAR_FAULT_HANG")) {
    auto [r, st] = StringRef(fault).split(':');
    int hangRank = -1;
    int64_t hangStep = -1;
    if (!r.getAsInteger(10, hangRank) && !st.getAsInteger(10, hangStep) &&
        hangRank == world.rank && hangStep == step)
      for (;;)
        std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  static int64_t note;
  note = step;
  for (int r = 0; r < world.size; ++r)
    if (r != world.rank) {
      MPI_Request request;
      MPI_Isend(&note, 1, MPI_INT64_T, r, int(step % 30000), MPI_COMM_WORLD,
                &request);
      MPI_Request_free(&request);
    }
}

/// Completes `request` (a collective of step `step`) within
/// --collective-timeout seconds, or stops the job naming the ranks that did
/// not announce the step.
void finishOrAbort(MPI_Request &request, StringRef what, int64_t step) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration<double>(collectiveTimeout);
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done)
      return;
    if (std::chrono::steady_clock::now() > deadline)
      break;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  std::string missing;
  for (int r = 0; r < world.size; ++r) {
    if (r == world.rank)
      continue;
    int arrived = 0;
    MPI_Iprobe(r, int(step % 30000), MPI_COMM_WORLD, &arrived,
               MPI_STATUS_IGNORE);
    if (!arrived)
      missing += (missing.empty() ? "" : ", ") + std::to_string(r);
  }
  fail(llvm::formatv("the {0} of step {1} did not complete within {2} s: "
                     "{3} did not reach it",
                     what, step, collectiveTimeout.getValue(),
                     missing.empty() ? std::string("a rank")
                                     : "rank " + missing));
}

/// Receives the step notes of the other ranks (all sent: the collective
/// that follows the notes has completed).
void collectStepNotes(int64_t step) {
  int64_t note;
  for (int r = 0; r < world.size; ++r)
    if (r != world.rank)
      MPI_Recv(&note, 1, MPI_INT64_T, r, int(step % 30000), MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
}

/// Sums `count` values at `data` over the ranks, in place, within the
/// timeout.
void allReduceSum(void *data, int count, MPI_Datatype type, StringRef what,
                  int64_t step) {
  MPI_Request request;
  MPI_Iallreduce(MPI_IN_PLACE, data, count, type, MPI_SUM, world.dpComm,
                 &request);
  finishOrAbort(request, what, step);
}

/// Sums over a group of processes that are started one array at a time
/// and waited for later: the data-parallel gradient sums, which the
/// compiled backward pass starts as each gradient is complete
/// (autopar.all_reduce_start / all_reduce_wait) or the driver after it.
/// Consecutive arrays of one type and group share a bucket of up to
/// --bucket-mb; a bucket's MPI_Iallreduce starts when it fills, the rest at
/// the first wait for one of them. Every process starts the same arrays in
/// the same order, so the buckets match.
class StartedSums {
public:
  /// Copies `bytes` at `data` into a bucket; the request for wait().
  int64_t start(const void *data, size_t bytes, MPI_Datatype type,
                MPI_Comm comm, int groupSize) {
    if (waited == parts.size()) {
      buckets.clear();
      parts.clear();
      waited = 0;
    }
    size_t limit = size_t(std::max<uint64_t>(1, bucketMB)) << 20;
    if (buckets.empty() || buckets.back().started ||
        buckets.back().type != type || buckets.back().comm != comm ||
        buckets.back().data.size() + bytes > limit)
      buckets.push_back({{}, type, comm, groupSize});
    Bucket &b = buckets.back();
    parts.push_back({buckets.size() - 1, b.data.size(), bytes});
    const char *from = static_cast<const char *>(data);
    b.data.insert(b.data.end(), from, from + bytes);
    if (b.data.size() >= limit)
      launch(b);
    // Nonblocking collectives move on only inside MPI calls.
    for (Bucket &other : buckets)
      if (other.started && !other.done)
        MPI_Test(&other.request, &other.done, MPI_STATUS_IGNORE);
    return int64_t(parts.size()) - 1;
  }

  /// Copies the sum of the array of `request` (`bytes`) to `out`.
  void wait(int64_t request, void *out, size_t bytes) {
    if (request < 0 || size_t(request) >= parts.size() ||
        parts[size_t(request)].bytes != bytes) {
      fail("internal error: a gradient sum waited for a request it did not "
           "start");
      std::exit(1);
    }
    Part &p = parts[size_t(request)];
    Bucket &b = buckets[p.bucket];
    if (!b.started)
      for (Bucket &other : buckets)
        if (!other.started)
          launch(other);
    if (!b.done)
      finishOrAbort(b.request, "data-parallel gradient all-reduce", world.step);
    b.done = 1;
    std::memcpy(out, b.data.data() + p.offset, bytes);
    ++waited;
  }

private:
  struct Bucket {
    std::vector<char> data;
    MPI_Datatype type;
    MPI_Comm comm;
    int groupSize;
    MPI_Request request = MPI_REQUEST_NULL;
    bool started = false;
    int done = 0;
  };
  struct Part {
    size_t bucket, offset, bytes;
  };
  void launch(Bucket &b) {
    b.started = true;
    if (!world.active || b.groupSize == 1) {
      b.done = 1;
      return;
    }
    int size = 0;
    MPI_Type_size(b.type, &size);
    MPI_Iallreduce(MPI_IN_PLACE, b.data.data(), int(b.data.size() / size),
                   b.type, MPI_SUM, b.comm, &b.request);
  }
  std::vector<Bucket> buckets;
  std::vector<Part> parts;
  size_t waited = 0;
};
StartedSums startedSums;

/// Averages `arrays` (float32 or float64) over the data-parallel group, in
/// place (StartedSums' buckets; timeouts name `world.step`).
void averageOverRanks(MutableArrayRef<npy::NpyArray> arrays) {
  if (!world.active || world.dp == 1)
    return;
  std::vector<int64_t> requests;
  for (npy::NpyArray &a : arrays)
    requests.push_back(
        startedSums.start(a.data.data(), a.data.size(),
                          a.dtype == npy::DType::F64 ? MPI_DOUBLE : MPI_FLOAT,
                          world.dpComm, world.dp));
  for (auto [a, request] : llvm::zip(arrays, requests)) {
    startedSums.wait(request, a.data.data(), a.data.size());
    scaleBy(a, 1.0 / world.dp);
  }
}

/// How a timeout names a collective of the program over the grid axes in
/// the bit mask `axes`.
std::string collectiveName(int64_t axes, StringRef what) {
  return (axes == 1   ? "data-parallel "
          : axes == 2 ? "tensor-parallel "
                      : "grid ") +
         what.str();
}

/// `autopar_all_reduce_f32/f64(axes, in, out)`, which the program calls for
/// `autopar.all_reduce` (autopar-collectives-to-calls): `out` = the sum of
/// `in` over the processes that differ only along the grid axes in the bit
/// mask `axes`.
template <typename T, bool Max = false>
void gridAllReduce(int64_t axes, ::UnrankedMemRefType<T> *in,
                   ::UnrankedMemRefType<T> *out) {
  DynamicMemRefType<T> a(*in), r(*out);
  int64_t count = 1;
  bool contiguous = true;
  for (int64_t d = a.rank - 1; d >= 0; --d) {
    contiguous &= a.strides[d] == count && r.strides[d] == count;
    count *= a.sizes[d];
  }
  if (!contiguous) {
    fail("internal error: a tensor-parallel all-reduce got a strided buffer");
    std::exit(1);
  }
  const T *src = a.data + a.offset;
  T *dst = r.data + r.offset;
  MPI_Comm comm = axes == 1   ? world.dpComm
                  : axes == 2 ? world.tpComm
                              : MPI_COMM_WORLD;
  if (!world.active || axes == 0) {
    std::memcpy(dst, src, size_t(count) * sizeof(T));
    return;
  }
  MPI_Request request;
  MPI_Iallreduce(src, dst, int(count),
                 std::is_same_v<T, double> ? MPI_DOUBLE : MPI_FLOAT,
                 Max ? MPI_MAX : MPI_SUM, comm, &request);
  finishOrAbort(request, collectiveName(axes, "all-reduce"), world.step);
}

/// The processes that differ only along the grid axes in the bit mask
/// `axes`: their communicator, count and this process's index among them.
struct Group {
  MPI_Comm comm;
  int size, index;
};
Group groupOf(int64_t axes) {
  if (axes == 1)
    return {world.dpComm, world.dp, world.dpIndex};
  if (axes == 2)
    return {world.tpComm, world.tp, world.tpIndex};
  return {MPI_COMM_WORLD, world.size, world.rank};
}

/// `autopar_grid_index(axis)`: this process's coordinate along the axis.
int64_t gridIndex(int64_t axis) {
  return axis == 0 ? world.dpIndex : axis == 1 ? world.tpIndex : 0;
}

/// A contiguous buffer's data and its element counts before, along and
/// after dimension `dim`.
template <typename T> struct Blocks {
  T *data;
  int64_t outer = 1, along = 1, inner = 1;
  Blocks(::UnrankedMemRefType<T> *m, int64_t dim) {
    DynamicMemRefType<T> d(*m);
    int64_t stride = 1;
    for (int64_t i = d.rank - 1; i >= 0; --i) {
      if (d.strides[i] != stride) {
        fail("internal error: a collective got a strided buffer");
        std::exit(1);
      }
      stride *= d.sizes[i];
      if (i < dim)
        outer *= d.sizes[i];
      else if (i == dim)
        along = d.sizes[i];
      else
        inner *= d.sizes[i];
    }
    data = d.data + d.offset;
  }
  int64_t count() const { return outer * along * inner; }
};

/// Copies block `r` (of `parts`) along the middle dimension of `whole`
/// into or out of `part`, a [outer, along / parts, inner] buffer.
template <typename T>
void copyBlock(T *whole, T *part, int64_t outer, int64_t along, int64_t inner,
               int parts, int r, bool intoPart) {
  int64_t run = along / parts * inner;
  for (int64_t o = 0; o < outer; ++o) {
    T *w = whole + o * along * inner + r * run;
    T *p = part + o * run;
    if (intoPart)
      std::memcpy(p, w, size_t(run) * sizeof(T));
    else
      std::memcpy(w, p, size_t(run) * sizeof(T));
  }
}

template <typename T> MPI_Datatype mpiType() {
  return std::is_same_v<T, double> ? MPI_DOUBLE : MPI_FLOAT;
}

/// `autopar_all_gather_*(axes, dim, in, out)`: `out` = the group's
/// operands concatenated along `dim`.
template <typename T>
void gridAllGather(int64_t axes, int64_t dim, ::UnrankedMemRefType<T> *in,
                   ::UnrankedMemRefType<T> *out) {
  Blocks<T> a(in, dim), r(out, dim);
  Group g = groupOf(axes);
  // Gathered along the outermost dimension, the blocks land in place.
  bool direct = r.outer == 1;
  std::vector<T> all(direct ? 0 : size_t(a.count()) * size_t(g.size));
  T *into = direct ? r.data : all.data();
  if (world.active && g.size > 1) {
    MPI_Request request;
    MPI_Iallgather(a.data, int(a.count()), mpiType<T>(), into, int(a.count()),
                   mpiType<T>(), g.comm, &request);
    finishOrAbort(request, collectiveName(axes, "all-gather"), world.step);
  } else {
    std::memcpy(into, a.data, size_t(a.count()) * sizeof(T));
  }
  if (direct)
    return;
  for (int p = 0; p < g.size; ++p)
    copyBlock(r.data, all.data() + size_t(p) * size_t(a.count()), r.outer,
              r.along, r.inner, g.size, p, /*intoPart=*/false);
}

/// `autopar_reduce_scatter_*(axes, dim, in, out)`: `out` = block `index`
/// along `dim` of the group's sum.
template <typename T>
void gridReduceScatter(int64_t axes, int64_t dim, ::UnrankedMemRefType<T> *in,
                       ::UnrankedMemRefType<T> *out) {
  Blocks<T> a(in, dim), r(out, dim);
  Group g = groupOf(axes);
  // Block p of every outer index, contiguous, for process p (as they are
  // when scattering along the outermost dimension).
  std::vector<T> packed(a.outer == 1 ? 0 : size_t(a.count()));
  for (int p = 0; a.outer != 1 && p < g.size; ++p)
    copyBlock(a.data, packed.data() + size_t(p) * size_t(r.count()), a.outer,
              a.along, a.inner, g.size, p, /*intoPart=*/true);
  const T *from = a.outer == 1 ? a.data : packed.data();
  if (world.active && g.size > 1) {
    MPI_Request request;
    MPI_Ireduce_scatter_block(from, r.data, int(r.count()), mpiType<T>(),
                              MPI_SUM, g.comm, &request);
    finishOrAbort(request, collectiveName(axes, "reduce-scatter"), world.step);
  } else {
    std::memcpy(r.data, from, size_t(r.count()) * sizeof(T));
  }
}

/// `autopar_local_slice_*(axes, dim, in, out)`: `out` = block `index`
/// along `dim` of `in`.
template <typename T>
void gridLocalSlice(int64_t axes, int64_t dim, ::UnrankedMemRefType<T> *in,
                    ::UnrankedMemRefType<T> *out) {
  Blocks<T> a(in, dim);
  Group g = groupOf(axes);
  copyBlock(a.data, Blocks<T>(out, dim).data, a.outer, a.along, a.inner, g.size,
            g.index, /*intoPart=*/true);
}

/// `autopar_all_reduce_start_*(axes, in) -> request` and
/// `autopar_all_reduce_wait_*(request, out)`: a sum over the group that
/// the program starts and collects later (StartedSums).
template <typename T>
int64_t gridSumStart(int64_t axes, ::UnrankedMemRefType<T> *in) {
  Blocks<T> a(in, 0);
  Group g = groupOf(axes);
  return startedSums.start(a.data, size_t(a.count()) * sizeof(T), mpiType<T>(),
                           g.comm, g.size);
}
template <typename T>
void gridSumWait(int64_t request, ::UnrankedMemRefType<T> *out) {
  Blocks<T> r(out, 0);
  startedSums.wait(request, r.data, size_t(r.count()) * sizeof(T));
}

std::string typeString(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

/// The .npy dtype that carries `type`, if any.
std::optional<npy::DType> dtypeFor(Type type) {
  if (type.isF32())
    return npy::DType::F32;
  if (type.isF64())
    return npy::DType::F64;
  if (type.isInteger(64))
    return npy::DType::I64;
  if (type.isInteger(32))
    return npy::DType::I32;
  if (type.isInteger(1))
    return npy::DType::Bool;
  if (type.isF16())
    return npy::DType::F16;
  return std::nullopt;
}

/// Checks that a function's argument or result type can cross the .npy
/// boundary; returns the message for `what` otherwise.
std::optional<std::string> checkBoundaryType(Type type,
                                             const llvm::Twine &what) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || !tensor.hasStaticShape())
    return (what + " has type " + typeString(type) +
            "; autopar-run passes statically shaped tensors only")
        .str();
  if (!dtypeFor(tensor.getElementType()))
    return (what + " has element type " + typeString(tensor.getElementType()) +
            ", which .npy files cannot carry (use f32, f64, f16, i64, i32 or "
            "i1 at the boundary and autopar.convert inside)")
        .str();
  return std::nullopt;
}

/// Rejects any tensor type whose size overflows or exceeds the limit, before
/// lowering turns it into an allocation that cannot succeed.
LogicalResult checkTensorSizes(ModuleOp module) {
  LogicalResult result = success();
  auto check = [&](Type type, Operation *op) {
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor || !tensor.hasStaticShape() || failed(result))
      return;
    unsigned bits = tensor.getElementType().isIntOrFloat()
                        ? tensor.getElementType().getIntOrFloatBitWidth()
                        : 64;
    std::optional<int64_t> count = npy::checkedNumElements(
        tensor.getShape(), std::max<unsigned>(1, bits / 8));
    if (!count ||
        uint64_t(*count) * std::max<unsigned>(1, bits / 8) > maxTensorBytes) {
      op->emitError() << "tensor type " << type
                      << " is larger than --max-tensor-bytes="
                      << maxTensorBytes.getValue();
      result = failure();
    }
  };
  module.walk([&](Operation *op) {
    for (Type t : op->getResultTypes())
      check(t, op);
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          check(arg.getType(), op);
  });
  return result;
}

/// A memref descriptor as the C interface lays it out: allocated and aligned
/// pointers, offset, sizes[rank], strides[rank]; all fields are 8 bytes.
struct MemRefDescriptor {
  explicit MemRefDescriptor(void *data, ArrayRef<int64_t> shape)
      : words(3 + 2 * shape.size()) {
    words[0] = reinterpret_cast<intptr_t>(data);
    words[1] = reinterpret_cast<intptr_t>(data);
    words[2] = 0;
    int64_t stride = 1;
    for (int64_t i = shape.size() - 1; i >= 0; --i) {
      words[3 + i] = shape[i];
      words[3 + shape.size() + i] = stride;
      stride *= shape[i];
    }
  }
  std::vector<int64_t> words;
};

/// Heap buffer aligned for vector loads.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t bytes)
      : ptr(std::aligned_alloc(64,
                               llvm::alignTo(std::max<size_t>(bytes, 1), 64))) {
  }
  ~AlignedBuffer() { std::free(ptr); }
  AlignedBuffer(const AlignedBuffer &) = delete;
  AlignedBuffer &operator=(const AlignedBuffer &) = delete;
  void *ptr;
};

/// Allocation entry point handed to the JIT in place of malloc: generated
/// code does not check for null, so an allocation that fails ends the run
/// with a message instead of a segmentation fault.
extern "C" void *autoparCheckedMalloc(size_t bytes) {
  void *p = std::malloc(bytes);
  if (!p && bytes) {
    llvm::errs() << "autopar-run: error: out of memory allocating " << bytes
                 << " bytes\n";
    std::_Exit(1);
  }
  return p;
}

template <typename T>
void printElements(llvm::raw_ostream &os, const npy::NpyArray &array) {
  const T *data = reinterpret_cast<const T *>(array.data.data());
  int64_t n = array.numElements();
  int64_t rowLength = array.shape.empty() ? 1 : array.shape.back();
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_floating_point_v<T>)
      os << llvm::format("%.8g", double(data[i]));
    else
      os << int64_t(data[i]);
    os << ((rowLength && (i + 1) % rowLength == 0) ? "\n" : " ");
  }
}

void printArray(llvm::raw_ostream &os, unsigned index,
                const npy::NpyArray &array) {
  os << "result" << index << ": " << npy::dtypeName(array.dtype) << " shape "
     << array.shapeString() << "\n";
  switch (array.dtype) {
  case npy::DType::F32:
    return printElements<float>(os, array);
  case npy::DType::F64:
    return printElements<double>(os, array);
  case npy::DType::I64:
    return printElements<int64_t>(os, array);
  case npy::DType::I32:
    return printElements<int32_t>(os, array);
  case npy::DType::Bool:
    return printElements<uint8_t>(os, array);
  case npy::DType::F16: {
    // Widen to float32 for printing.
    npy::NpyArray wide{npy::DType::F32, array.shape, {}};
    wide.data.resize(array.numElements() * 4);
    for (int64_t i = 0; i < array.numElements(); ++i) {
      uint16_t bits;
      std::memcpy(&bits, array.data.data() + 2 * i, 2);
      float f = llvm::APFloat(llvm::APFloat::IEEEhalf(), llvm::APInt(16, bits))
                    .convertToFloat();
      std::memcpy(wide.data.data() + 4 * i, &f, 4);
    }
    return printElements<float>(os, wide);
  }
  }
}

/// Lowers `module` for the CPU and JIT-compiles it; every public function
/// gets a C interface. The autopar.* argument attributes must have been read
/// before: they are dropped (the LLVM translation would warn about them).
llvm::Expected<std::unique_ptr<ExecutionEngine>>
compileModule(ModuleOp module, StringRef inputName) {
  MLIRContext *context = module.getContext();
  mlir::autopar::prepareForNativeCode(module);
  // callFunction passes the caller's arrays themselves.
  for (auto fn : module.getOps<func::FuncOp>())
    if (fn.isPublic() && !fn.isExternal())
      for (unsigned i = 0; i < fn.getNumArguments(); ++i)
        fn.setArgAttr(i, "bufferization.writable",
                      BoolAttr::get(context, false));
  if (fuseRowsUnroll < 1)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "--fuse-rows-unroll must be at least 1, not " +
            std::to_string(int64_t(fuseRowsUnroll)));
  PassManager pm(context);
  mlir::autopar::CPULoweringOptions options;
  options.fuseRows = fuseRows;
  options.fuseRowsUnroll = fuseRowsUnroll;
  options.fuseRowsVectorBytes = fuseRowsVectorBytes;
  options.recomputeProducers = recomputeProducers;
  options.attentionCalls = attentionCalls;
  options.padProducts = padProducts;
  options.transposeResults = transposeResults;
  options.gpuKernels = gpuKernels;
  if (!gpuKernelOptions.empty()) {
    if (!gpuKernels)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "--gpu-kernel-options needs --gpu-kernels");
    std::string problems;
    llvm::raw_string_ostream os(problems);
    mlir::autopar::CUDALoweringOptions cuda;
    if (failed(cuda.parseFromString(gpuKernelOptions, os))) {
      // A bad value is reported by llvm::cl itself, above.
      std::string why = StringRef(problems).trim().str();
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "--gpu-kernel-options: cannot parse '" + gpuKernelOptions +
              "' as autopar-lower-to-cuda's options" +
              (why.empty() ? std::string() : ": " + why));
    }
    options.gpuKernelOptions = gpuKernelOptions;
  }
  mlir::autopar::buildCPULoweringPipeline(pm, options);
  if (failed(pm.run(module)))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "lowering " + inputName +
                                       " for the CPU failed");
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  // Optimize for this processor (its vector width and instructions): the
  // target machine the JIT will generate code for.
  static std::unique_ptr<llvm::TargetMachine> hostMachine = [] {
    auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
    if (!builder) {
      llvm::consumeError(builder.takeError());
      return std::unique_ptr<llvm::TargetMachine>();
    }
    auto machine = builder->createTargetMachine();
    if (!machine) {
      llvm::consumeError(machine.takeError());
      return std::unique_ptr<llvm::TargetMachine>();
    }
    return std::move(*machine);
  }();
  // The argument-unpacking wrappers MLIR adds (`_mlir_ciface_*`, and the
  // ExecutionEngine's `_mlir_*`) are one straight-line block of a load or
  // store per descriptor field: over a thousand for a training step, where
  // instruction selection's store merging goes quadratic. They do nothing
  // worth optimizing: compile them at -O0. (Static: the engine keeps only a
  // reference to the transformer, and may compile after this returns.)
  static std::function<llvm::Error(llvm::Module *)> transformer =
      [optimize = makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0,
                                            hostMachine.get())](
          llvm::Module *m) -> llvm::Error {
    for (llvm::Function &f : *m)
      if (!f.isDeclaration() && f.getName().starts_with("_mlir_")) {
        f.addFnAttr(llvm::Attribute::OptimizeNone);
        f.addFnAttr(llvm::Attribute::NoInline);
      }
    return optimize(m);
  };
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = transformer;
  engineOptions.enableGDBNotificationListener = false;
  engineOptions.enablePerfNotificationListener = false;
  SmallVector<StringRef> libs;
#ifdef AUTOPAR_C_RUNNER_UTILS
  libs.push_back(AUTOPAR_C_RUNNER_UTILS);
#endif
  engineOptions.sharedLibPaths = libs;
  auto engine = ExecutionEngine::create(module, engineOptions);
  if (!engine)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "JIT compilation failed: " +
                                       llvm::toString(engine.takeError()));
  (*engine)->registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap map;
    map[interner("malloc")] = {
        llvm::orc::ExecutorAddr::fromPtr(&autoparCheckedMalloc),
        llvm::JITSymbolFlags::Exported};
    map[interner("_mlir_ciface_autopar_gemm_f32")] = {
        llvm::orc::ExecutorAddr::fromPtr(&_mlir_ciface_autopar_gemm_f32),
        llvm::JITSymbolFlags::Exported};
    for (auto [name, fn] :
         {std::pair<const char *, void *>{
              "_mlir_ciface_autopar_gemm_bf16",
              reinterpret_cast<void *>(&_mlir_ciface_autopar_gemm_bf16)},
          {"_mlir_ciface_autopar_gemm_f16",
           reinterpret_cast<void *>(&_mlir_ciface_autopar_gemm_f16)},
          {"_mlir_ciface_autopar_gemm_bf16_c16",
           reinterpret_cast<void *>(&_mlir_ciface_autopar_gemm_bf16_c16)},
          {"_mlir_ciface_autopar_gemm_f16_c16",
           reinterpret_cast<void *>(&_mlir_ciface_autopar_gemm_f16_c16)}})
      map[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(fn),
                             llvm::JITSymbolFlags::Exported};
    map[interner("_mlir_ciface_autopar_all_reduce_f32")] = {
        llvm::orc::ExecutorAddr::fromPtr(&gridAllReduce<float>),
        llvm::JITSymbolFlags::Exported};
    map[interner("_mlir_ciface_autopar_all_reduce_f64")] = {
        llvm::orc::ExecutorAddr::fromPtr(&gridAllReduce<double>),
        llvm::JITSymbolFlags::Exported};
    auto add = [&](StringRef name, void *fn) {
      map[interner(("_mlir_ciface_autopar_" + name).str())] = {
          llvm::orc::ExecutorAddr::fromPtr(fn), llvm::JITSymbolFlags::Exported};
    };
    map[interner("autopar_grid_index")] = {
        llvm::orc::ExecutorAddr::fromPtr(&gridIndex),
        llvm::JITSymbolFlags::Exported};
    add("all_reduce_max_f32",
        reinterpret_cast<void *>(&gridAllReduce<float, true>));
    add("all_reduce_max_f64",
        reinterpret_cast<void *>(&gridAllReduce<double, true>));
    add("all_gather_f32", reinterpret_cast<void *>(&gridAllGather<float>));
    add("all_gather_f64", reinterpret_cast<void *>(&gridAllGather<double>));
    add("reduce_scatter_f32",
        reinterpret_cast<void *>(&gridReduceScatter<float>));
    add("reduce_scatter_f64",
        reinterpret_cast<void *>(&gridReduceScatter<double>));
    add("local_slice_f32", reinterpret_cast<void *>(&gridLocalSlice<float>));
    add("local_slice_f64", reinterpret_cast<void *>(&gridLocalSlice<double>));
    add("all_reduce_start_f32", reinterpret_cast<void *>(&gridSumStart<float>));
    add("all_reduce_start_f64",
        reinterpret_cast<void *>(&gridSumStart<double>));
    add("all_reduce_wait_f32", reinterpret_cast<void *>(&gridSumWait<float>));
    add("all_reduce_wait_f64", reinterpret_cast<void *>(&gridSumWait<double>));
    return map;
  });
  return std::move(*engine);
}

/// Calls `name` (of type `fnType`, tensors of .npy dtypes only) with
/// `inputs`, which the caller has checked against the signature.
llvm::Expected<std::vector<npy::NpyArray>>
callFunction(ExecutionEngine &engine, StringRef name, FunctionType fnType,
             ArrayRef<npy::NpyArray> inputs) {
  // Arguments: the inputs' descriptors, then one output buffer per result.
  std::vector<std::unique_ptr<AlignedBuffer>> buffers;
  std::vector<MemRefDescriptor> descriptors;
  descriptors.reserve(inputs.size() + fnType.getNumResults());
  // Inputs are read in place: compileModule marked every argument of a
  // public function read-only for bufferization, so no kernel writes them.
  for (auto [array, type] : llvm::zip(inputs, fnType.getInputs()))
    descriptors.emplace_back(const_cast<char *>(array.data.data()),
                             cast<RankedTensorType>(type).getShape());
  buffers.resize(inputs.size());
  std::vector<npy::NpyArray> results;
  for (Type type : fnType.getResults()) {
    auto tensor = cast<RankedTensorType>(type);
    npy::NpyArray array;
    array.dtype = *dtypeFor(tensor.getElementType());
    array.shape.assign(tensor.getShape().begin(), tensor.getShape().end());
    array.data.resize(array.numElements() * npy::dtypeSize(array.dtype));
    auto &buffer = buffers.emplace_back(
        std::make_unique<AlignedBuffer>(array.data.size()));
    descriptors.emplace_back(buffer->ptr, tensor.getShape());
    results.push_back(std::move(array));
  }
  std::vector<void *> descriptorPtrs;
  for (MemRefDescriptor &d : descriptors)
    descriptorPtrs.push_back(d.words.data());
  std::vector<void *> packedArgs;
  for (void *&p : descriptorPtrs)
    packedArgs.push_back(&p);
  if (llvm::Error error =
          engine.invokePacked(("_mlir_ciface_" + name).str(), packedArgs))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "calling @" + name + " failed: " + llvm::toString(std::move(error)));
  size_t firstResult = inputs.size();
  for (auto [i, array] : llvm::enumerate(results))
    std::memcpy(array.data.data(), buffers[firstResult + i]->ptr,
                array.data.size());
  return results;
}

/// The rows [begin, begin + count) of `array` (a copy).
npy::NpyArray rows(const npy::NpyArray &array, int64_t begin, int64_t count) {
  npy::NpyArray out = array;
  out.shape[0] = count;
  size_t rowBytes = array.data.size() / std::max<int64_t>(1, array.shape[0]);
  out.data.assign(array.data.begin() + begin * rowBytes,
                  array.data.begin() + (begin + count) * rowBytes);
  return out;
}

/// The rows `picked` of `array`, in that order (a copy).
npy::NpyArray gatherRows(const npy::NpyArray &array, ArrayRef<int64_t> picked) {
  npy::NpyArray out = array;
  out.shape[0] = int64_t(picked.size());
  size_t rowBytes = array.data.size() / std::max<int64_t>(1, array.shape[0]);
  out.data.resize(picked.size() * rowBytes);
  for (auto [i, r] : llvm::enumerate(picked))
    std::memcpy(out.data.data() + i * rowBytes,
                array.data.data() + r * rowBytes, rowBytes);
  return out;
}

npy::NpyArray scalarLike(npy::DType dtype, double v) {
  npy::NpyArray a;
  a.dtype = dtype;
  if (dtype == npy::DType::F64) {
    a.data.resize(8);
    std::memcpy(a.data.data(), &v, 8);
  } else {
    float f = float(v);
    a.data.resize(4);
    std::memcpy(a.data.data(), &f, 4);
  }
  return a;
}

/// `acc += x` elementwise for float arrays of one shape, or for a scalar
/// `x` with `broadcast`.
void addInto(npy::NpyArray &acc, const npy::NpyArray &x,
             bool broadcast = false) {
  auto add = [&](auto *a, const auto *b) {
    for (int64_t i = 0, e = acc.numElements(); i < e; ++i)
      a[i] += b[broadcast ? 0 : i];
  };
  if (acc.dtype == npy::DType::F64)
    add(reinterpret_cast<double *>(acc.data.data()),
        reinterpret_cast<const double *>(x.data.data()));
  else
    add(reinterpret_cast<float *>(acc.data.data()),
        reinterpret_cast<const float *>(x.data.data()));
}

/// `acc *= factor` elementwise for a float array.
void scaleBy(npy::NpyArray &acc, double factor) {
  auto scale = [&](auto *a) {
    for (int64_t i = 0, e = acc.numElements(); i < e; ++i)
      a[i] *= factor;
  };
  if (acc.dtype == npy::DType::F64)
    scale(reinterpret_cast<double *>(acc.data.data()));
  else
    scale(reinterpret_cast<float *>(acc.data.data()));
}

std::string nonFiniteName(const npy::NpyArray &a, int64_t i) {
  double v = a.dtype == npy::DType::F64
                 ? reinterpret_cast<const double *>(a.data.data())[i]
                 : reinterpret_cast<const float *>(a.data.data())[i];
  return std::isnan(v) ? "nan" : "inf";
}

double scalarValue(const npy::NpyArray &a) {
  if (a.dtype == npy::DType::F64) {
    double v;
    std::memcpy(&v, a.data.data(), 8);
    return v;
  }
  float f;
  std::memcpy(&f, a.data.data(), 4);
  return f;
}

/// The tensors of the checkpoint in `dir` whose manifest is `c`, each as
/// `keep` makes it of the whole tensor: one file (`firstPath`), or one per
/// process of the grid that wrote it, reassembled by the manifest's layout
/// (tensor-parallel parts concatenated along their dimension, ZeRO shards
/// joined and unpadded) one tensor at a time, its parts dropped as it is
/// done: no more than one whole tensor beyond the files' parts is in
/// memory.
llvm::Expected<npy::TensorMap>
readCheckpointTensors(StringRef dir, const llvm::json::Object &c,
                      StringRef firstPath, const npy::TensorFilter &keep) {
  const llvm::json::Array *files = c.getArray("files");
  const llvm::json::Object *plan = c.getObject("plan");
  const llvm::json::Object *layout = c.getObject("layout");
  if (!files || files->size() <= 1 || !plan || !layout)
    return npy::readSafetensors(firstPath, keep);
  int64_t dp = plan->getInteger("dp").value_or(0);
  int64_t tp = plan->getInteger("tp").value_or(0);
  auto bad = [&](const llvm::Twine &why) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   (dir + "/checkpoint.json: " + why).str());
  };
  if (dp < 1 || tp < 1 || int64_t(files->size()) != dp * tp)
    return bad("its plan and its list of files disagree");
  std::vector<npy::TensorMap> parts;
  for (const llvm::json::Value &f : *files) {
    std::optional<StringRef> name = f.getAsString();
    if (!name || name->contains('/'))
      return bad("a file name is not a plain name");
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, *name);
    llvm::Expected<npy::TensorMap> part = npy::readSafetensors(path);
    if (!part)
      return part.takeError();
    parts.push_back(std::move(*part));
  }
  npy::TensorMap whole;
  for (const auto &[key, value] : *layout) {
    std::string name = key.str();
    const llvm::json::Object *entry = value.getAsObject();
    const llvm::json::Array *shapeJson =
        entry ? entry->getArray("shape") : nullptr;
    if (!shapeJson)
      return bad("tensor '" + name + "' has no shape");
    SmallVector<int64_t> shape;
    for (const llvm::json::Value &d : *shapeJson)
      shape.push_back(d.getAsInteger().value_or(-1));
    int64_t dim = -1, groups = 1;
    if (const llvm::json::Array *split = entry->getArray("split")) {
      if (split->size() != 2)
        return bad("tensor '" + name + "' has a malformed split");
      dim = (*split)[0].getAsInteger().value_or(-1);
      groups = (*split)[1].getAsInteger().value_or(0);
      if (dim < 0 || dim >= int64_t(shape.size()) || groups < 1 ||
          shape[size_t(dim)] % (groups * tp))
        return bad("tensor '" + name + "' has a malformed split");
    }
    bool sharded = entry->getBoolean("zero_shard").value_or(false);
    SmallVector<int64_t> local = shape;
    if (dim >= 0)
      local[size_t(dim)] /= tp;
    auto find = [&](int64_t rank) -> const npy::NpyArray * {
      auto it = parts[size_t(rank)].find(name);
      return it == parts[size_t(rank)].end() ? nullptr : &it->second;
    };
    std::vector<npy::NpyArray> pieces;
    for (int64_t t = 0; t < tp; ++t) {
      npy::NpyArray piece;
      if (sharded) {
        // ZeRO shards of ranks (0..dp-1, t), flattened and padded.
        for (int64_t d = 0; d < dp; ++d) {
          const npy::NpyArray *shard = find(d * tp + t);
          if (!shard)
            return bad("tensor '" + name + "' is missing from " +
                       (*files)[size_t(d * tp + t)].getAsString().value_or(""));
          piece.dtype = shard->dtype;
          piece.data.insert(piece.data.end(), shard->data.begin(),
                            shard->data.end());
        }
        piece.shape = local;
        size_t bytes =
            size_t(piece.numElements()) * npy::dtypeSize(piece.dtype);
        if (piece.data.size() < bytes)
          return bad("tensor '" + name +
                     "' has shards too small for its shape");
        piece.data.resize(bytes);
      } else {
        const npy::NpyArray *part = find(t);
        if (!part)
          return bad("tensor '" + name + "' is missing from " +
                     (*files)[size_t(t)].getAsString().value_or(""));
        piece = *part;
      }
      if (ArrayRef<int64_t>(piece.shape) != ArrayRef<int64_t>(local))
        return bad("tensor '" + name + "' has parts of shape " +
                   piece.shapeString() + " for a whole of " +
                   npy::NpyArray{piece.dtype, shape, {}}.shapeString());
      pieces.push_back(std::move(piece));
    }
    for (npy::TensorMap &part : parts)
      part.erase(name);
    npy::NpyArray assembled = dim >= 0 && tp > 1
                                  ? npy::concatAlong(pieces, dim, groups)
                                  : std::move(pieces.front());
    pieces.clear();
    whole.emplace(name, keep(name, std::move(assembled)));
  }
  return whole;
}

/// `autopar-run ARTIFACT --data=x.npy --labels=y.npy [--batch-size=B]
/// --steps=N [--log=F.jsonl] [--export=W.safetensors]`: trains on the CPU.
int runTraining(MLIRContext &context, StringRef dir) {
  // Training flushes denormals to zero (FTZ) and reads them as zero (DAZ):
  // tiny gradients and optimizer moments otherwise slow float math down by
  // up to 8x here. Set before any thread starts, so the runtime's GEMM
  // threads inherit it.
#if defined(__x86_64__)
  _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
  // Every step allocates and frees the same large buffers. Keep them on the
  // heap (up to glibc's 32 MiB limit for this threshold) and never give the
  // memory back, so that later steps reuse pages instead of faulting in
  // fresh zeroed ones (about 6% of a small GPT's step before).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  auto file = [&](StringRef name) {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  auto manifestText = llvm::MemoryBuffer::getFile(file("manifest.json"));
  if (!manifestText)
    return fail(file("manifest.json") + ": " +
                manifestText.getError().message() +
                " (is this a folder written by autopar-compile --train?)");
  llvm::Expected<llvm::json::Value> manifest =
      llvm::json::parse((*manifestText)->getBuffer());
  if (!manifest)
    return fail(file("manifest.json") + ": " +
                llvm::toString(manifest.takeError()));
  const llvm::json::Object *m = manifest->getAsObject();
  if (!m || m->getString("format") != StringRef("autopar-training-artifact"))
    return fail(file("manifest.json") + " is not an autopar training "
                                        "artifact manifest");
  auto str = [&](StringRef key) {
    return m->getString(key).value_or("").str();
  };
  // A step compiled ahead of time (--target=cuda: train-cuda.so on the
  // GPU) instead of the module compiled here.
  std::string libraryPath = stepLibraryPath;
  bool cudaTarget = str("target") == "cuda";
  if (cudaTarget && libraryPath.empty())
    libraryPath = file(str("library"));
  if (!stepMemory.empty() && stepMemory != "host" && stepMemory != "device")
    return fail("--step-memory must be host or device, not '" + stepMemory +
                "'");
  if (!stepMemory.empty() && libraryPath.empty())
    return fail("--step-memory needs --step-library");
  if (cudaTarget && stepLibraryPath.empty() && stepMemory == "host")
    return fail(dir + "'s " + str("library") +
                " runs on the GPU; --step-memory=host is for a library "
                "lowered for the CPU (--step-library)");
  bool onDevice = stepMemory.empty() ? cudaTarget : stepMemory == "device";
  if (!libraryPath.empty() && onDevice) {
    // Under mpirun each process of a machine takes its own GPU (its rank
    // among the machine's processes) unless AUTOPAR_CUDA_DEVICE says.
    std::string picked;
    if (world.active && !std::getenv("AUTOPAR_CUDA_DEVICE")) {
      MPI_Comm local;
      int localRank = 0, localSize = 1;
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, world.rank,
                          MPI_INFO_NULL, &local);
      MPI_Comm_rank(local, &localRank);
      MPI_Comm_size(local, &localSize);
      MPI_Comm_free(&local);
      setenv("AUTOPAR_CUDA_DEVICE", std::to_string(localRank).c_str(), 1);
      picked = llvm::formatv(" (this is process {0} of {1} on this "
                             "machine, so it takes GPU {0}: start one "
                             "process per GPU)",
                             localRank, localSize);
    }
    std::string why;
    if (!::autopar::cuda::available(why))
      return fail(llvm::formatv(
          "{0} {1}; training it needs an NVIDIA GPU: {2}{3}", dir,
          cudaTarget ? "was compiled with --target=cuda (" + str("library") +
                           " for " + str("gpu_arch") + ")"
                     : "runs " + libraryPath + " on the device",
          why,
          why.find("AUTOPAR_CUDA_DEVICE") != std::string::npos ? picked : ""));
    if (cudaTarget) {
      std::string format = str("gpu_format");
      if (std::string e = ::autopar::cuda::archMismatch(
              str("gpu_arch"), format.empty() ? "ptx" : format,
              ::autopar::cuda::computeCapability());
          !e.empty())
        return fail(dir + " cannot run on this GPU: " + e);
    }
  }
  std::vector<std::string> paramNames;
  if (const llvm::json::Array *params = m->getArray("params"))
    for (const llvm::json::Value &v : *params)
      paramNames.push_back(v.getAsString().value_or("").str());
  int64_t slots = m->getInteger("state_slots_per_param").value_or(-1);
  if (paramNames.empty() || slots < 0)
    return fail(file("manifest.json") + " lacks params or state slots");
  // Loss scaling (fp16 mixed precision): @forward_backward takes the scale
  // after the parameters.
  llvm::Expected<::autopar::LossScaler> scaler =
      ::autopar::LossScaler::fromJSON(m->get("loss_scale"));
  if (!scaler)
    return fail(file("manifest.json") + ": " +
                llvm::toString(scaler.takeError()));
  size_t scaleArgs = scaler->enabled() ? 1 : 0;
  // Frozen parameters are inputs of the gradient function only; the
  // optimizer sees the trainable ones, in order.
  llvm::StringSet<> frozen;
  if (const llvm::json::Array *names = m->getArray("frozen"))
    for (const llvm::json::Value &v : *names)
      frozen.insert(v.getAsString().value_or(""));
  std::vector<size_t> trainable;
  for (auto [i, name] : llvm::enumerate(paramNames))
    if (!frozen.contains(name))
      trainable.push_back(i);

  llvm::Expected<npy::LRSchedule> schedule = npy::LRSchedule::parse(
      str("lr_schedule"), m->getNumber("lr").value_or(0));
  if (!schedule)
    return fail(llvm::toString(schedule.takeError()));
  int64_t warmup = m->getInteger("warmup_steps").value_or(0);
  if (warmup > 0)
    if (llvm::Error e = schedule->setWarmup(
            warmup, m->getNumber("warmup_start").value_or(0)))
      return fail(llvm::toString(std::move(e)));

  std::string moduleName = file(str("module"));
  std::string errorMessage;
  auto buffer = openInputFile(moduleName, &errorMessage);
  if (!buffer)
    return fail(errorMessage);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module || failed(verify(*module)))
    return 1;
  auto gradFn = module->lookupSymbol<func::FuncOp>(str("gradient_function"));
  auto stepFn = module->lookupSymbol<func::FuncOp>(str("optimizer_function"));
  if (!gradFn || !stepFn)
    return fail(moduleName + " lacks the functions the manifest names");
  // Gradients the compiled backward pass sums over the data-parallel axis
  // itself, as each is complete (autopar-overlap-gradient-sums).
  bool programSums = false;
  gradFn.walk([&](mlir::autopar::AllReduceStartOp) { programSums = true; });
  // A partitioned artifact runs on the grid it was compiled for: one
  // process per grid point, rank = dp index * tp + tp index.
  // A grid of ? x tp (autopar-overlap-gradient-sums on a data-parallel
  // artifact) runs on any multiple of tp.
  if (auto grid = module->lookupSymbol<shard::GridOp>("autopar_grid")) {
    SmallVector<int64_t> shape(grid.getShape());
    if (shape.size() != 2 || ShapedType::isDynamic(shape[1]))
      return fail(moduleName + ": @autopar_grid must be a dp x tp grid with "
                               "a static tp");
    if (ShapedType::isDynamic(shape[0]))
      shape[0] = std::max<int64_t>(1, world.size / shape[1]);
    int64_t procs = shape[0] * shape[1];
    if (procs != world.size)
      return fail(llvm::formatv(
          "{0} was compiled for {1} processes (dp={2} x tp={3}); start it "
          "with mpirun -np {1}{4}",
          dir, procs, shape[0], shape[1],
          world.active ? ", not " + std::to_string(world.size) : ""));
    world.dp = int(shape[0]);
    world.tp = int(shape[1]);
    world.dpIndex = world.rank / world.tp;
    world.tpIndex = world.rank % world.tp;
    if (world.active) {
      MPI_Comm_split(MPI_COMM_WORLD, world.tpIndex, world.dpIndex,
                     &world.dpComm);
      MPI_Comm_split(MPI_COMM_WORLD, world.dpIndex, world.tpIndex,
                     &world.tpComm);
    }
  } else {
    world.dp = world.size;
    world.dpIndex = world.rank;
  }
  // Lowering replaces the func ops: keep their names and types.
  std::string gradName = gradFn.getSymName().str();
  std::string stepName = stepFn.getSymName().str();
  // Optimizer state names (w.exp_avg, ...) key the checkpoints; the number
  // of classes bounds cross-entropy labels.
  std::vector<std::string> stateNames;
  for (unsigned i = 2 * trainable.size(), e = stepFn.getNumArguments() - 2;
       i < e; ++i) {
    auto name = stepFn.getArgAttrOfType<StringAttr>(i, "autopar.name");
    stateNames.push_back(name ? name.str() : "state" + std::to_string(i));
  }
  int64_t numClasses = 0;
  if (auto forward = module->lookupSymbol<func::FuncOp>("forward"))
    if (str("loss") == "cross_entropy" &&
        forward.getFunctionType().getNumResults() == 1)
      if (auto t = dyn_cast<RankedTensorType>(
              forward.getFunctionType().getResult(0));
          t && t.getRank() > 0)
        numClasses = t.getShape().back();
  FunctionType gradType = gradFn.getFunctionType();
  FunctionType stepType = stepFn.getFunctionType();
  size_t n = paramNames.size(), nt = trainable.size();
  // Parameters split across the tensor-parallel axis: this process holds
  // part tpIndex of tp along `dim` (autopar-partition-tensor-parallel).
  std::vector<int64_t> splitDim(n, -1), splitGroups(n, 1);
  // ZeRO-3 (autopar-shard-parameters): @forward_backward takes this
  // process's flat shard of a trained parameter, whose process-local shape
  // is its `autopar.zero_shape`.
  std::vector<RankedTensorType> localTypes(n);
  std::vector<bool> gathered(n, false);
  for (size_t i = 0; i < n && 2 + i < gradFn.getNumArguments(); ++i) {
    auto t = dyn_cast<RankedTensorType>(gradType.getInput(2 + i));
    if (auto shape = gradFn.getArgAttrOfType<DenseI64ArrayAttr>(
            unsigned(2 + i), "autopar.zero_shape")) {
      if (!t || t.getRank() != 1 ||
          llvm::any_of(shape.asArrayRef(), [](int64_t d) { return d < 0; }))
        return fail(moduleName + ": parameter '" + paramNames[i] +
                    "' has a malformed autopar.zero_shape");
      t = RankedTensorType::get(shape.asArrayRef(), t.getElementType());
      gathered[i] = true;
    }
    localTypes[i] = t;
  }
  for (size_t i = 0; i < n && 2 + i < gradFn.getNumArguments(); ++i)
    if (auto split = gradFn.getArgAttrOfType<DenseI64ArrayAttr>(
            unsigned(2 + i), "autopar.split")) {
      auto t = localTypes[i];
      if (split.size() < 2 || split.size() > 3 || split[1] != 1 || !t ||
          split[0] < 0 || split[0] >= t.getRank() ||
          (split.size() == 3 &&
           (split[2] < 1 || t.getDimSize(split[0]) % split[2])))
        return fail(moduleName + ": parameter '" + paramNames[i] +
                    "' has a malformed autopar.split (want [dim, 1] or "
                    "[dim, 1, groups])");
      splitDim[i] = split[0];
      if (split.size() == 3)
        splitGroups[i] = split[2];
    }
  // The whole shape of a parameter, of which this process holds a part.
  auto wholeShape = [&](size_t i, ArrayRef<int64_t> local) {
    SmallVector<int64_t> shape(local);
    if (splitDim[i] >= 0)
      shape[size_t(splitDim[i])] *= world.tp;
    return shape;
  };
  if (gradType.getNumInputs() != n + 2 + scaleArgs ||
      gradType.getNumResults() != nt + 1 ||
      stepType.getNumInputs() != nt * (2 + slots) + 2)
    return fail("@" + gradName + " and @" + stepName +
                " do not match the manifest: @" + gradName +
                " must take one data input, the labels and the parameters" +
                (scaleArgs ? " (then the loss scale)" : "") +
                " and return the loss and the trainable ones' gradients");
  if (scaleArgs) {
    auto role =
        gradFn.getArgAttrOfType<StringAttr>(unsigned(n + 2), "autopar.role");
    if (!role || role.getValue() != "loss_scale")
      return fail("@" + gradName +
                  " does not take the loss scale the manifest names (its "
                  "last argument is not {autopar.role = \"loss_scale\"})");
  }
  for (Type t :
       llvm::concat<const Type>(gradType.getInputs(), stepType.getInputs()))
    if (auto message = checkBoundaryType(t, "an argument of the training "
                                            "functions"))
      return fail(*message);

  // Data and labels, cut into the compiled batch size.
  auto xType = cast<RankedTensorType>(gradType.getInput(0));
  auto yType = cast<RankedTensorType>(gradType.getInput(1));
  int64_t microBatch = xType.getRank() ? xType.getDimSize(0) : 1;
  // With gradient accumulation a step takes `accum` microbatches.
  int64_t accum = m->getInteger("grad_accum").value_or(1);
  if (accum < 1)
    return fail(file("manifest.json") + ": grad_accum must be at least 1");
  int64_t compiledBatch = microBatch * accum;
  if (dataPath.empty() || labelsPath.empty())
    return fail("training needs --data and --labels");
  llvm::Expected<npy::NpyArray> data = npy::readNpy(dataPath);
  if (!data)
    return fail(llvm::toString(data.takeError()));
  llvm::Expected<npy::NpyArray> labels = npy::readNpy(labelsPath);
  if (!labels)
    return fail(llvm::toString(labels.takeError()));
  int64_t batch = batchSize             ? int64_t(batchSize)
                  : data->shape.empty() ? 0
                                        : data->shape[0];
  if (batch != compiledBatch)
    return fail(llvm::formatv(
        "the model was compiled for batches of {0} rows ({1}{5}) but {2} "
        "{3}; export the model with that batch size{4}",
        compiledBatch, typeString(xType),
        batchSize ? "--batch-size is" : dataPath + " (one batch) has", batch,
        batchSize ? ""
                  : ", or pass --batch-size=" + std::to_string(compiledBatch) +
                        " to take batches of its rows in order",
        accum > 1 ? llvm::formatv(" times --grad-accum={0}", accum).str()
                  : ""));
  auto checkRows = [&](const npy::NpyArray &a, RankedTensorType t,
                       StringRef what) -> std::optional<std::string> {
    npy::DType want = *dtypeFor(t.getElementType());
    if (a.dtype != want || a.shape.empty() ||
        ArrayRef<int64_t>(a.shape).drop_front() != t.getShape().drop_front() ||
        a.shape[0] < batch) {
      std::string shape = "(N";
      for (int64_t d : t.getShape().drop_front())
        shape += ", " + std::to_string(d);
      shape += t.getRank() == 1 ? ",)" : ")";
      return llvm::formatv("{0} holds dtype {1}, shape {2}; the model needs "
                           "dtype {3}, shape {4} with N >= {5}",
                           what, npy::dtypeName(a.dtype), a.shapeString(),
                           npy::dtypeName(want), shape, batch)
          .str();
    }
    return std::nullopt;
  };
  if (auto e = checkRows(*data, xType, dataPath))
    return fail(*e);
  if (auto e = checkRows(*labels, yType, labelsPath))
    return fail(*e);
  if (labels->shape[0] != data->shape[0])
    return fail(llvm::formatv("{0} has {1} rows but {2} has {3}", dataPath,
                              data->shape[0], labelsPath, labels->shape[0]));
  for (auto [array, path] : {std::pair(&*data, dataPath.getValue()),
                             std::pair(&*labels, labelsPath.getValue())})
    if (auto i = npy::firstNonFinite(*array)) {
      int64_t rowSize = array->numElements() / array->shape[0];
      return fail(llvm::formatv("{0} holds {1} in row {2} (element {3})", path,
                                nonFiniteName(*array, *i), *i / rowSize, *i));
    }
  if (numClasses > 0 && labels->dtype == npy::DType::I64) {
    const int64_t *y = reinterpret_cast<const int64_t *>(labels->data.data());
    for (int64_t i = 0, e = labels->numElements(); i < e; ++i)
      if (y[i] < 0 || y[i] >= numClasses)
        return fail(llvm::formatv(
            "{0}: label {1} at element {2} is out of range; the model has "
            "{3} classes (0 to {4})",
            labelsPath, y[i], i, numClasses, numClasses - 1));
  }
  // Under mpirun each step takes one batch per data-parallel group (the
  // processes of a tensor-parallel group share theirs).
  int64_t stride = batch * world.dp;
  int64_t batches = data->shape[0] / stride;
  if (batches == 0)
    return fail(llvm::formatv(
        "{0} has {1} rows; {2} processes{5} need at least {3} ({4} batches "
        "of {6})",
        dataPath, data->shape[0], world.size, stride, world.dp,
        world.tp > 1
            ? " in " + std::to_string(world.dp) + " data-parallel groups"
            : std::string(),
        batch));
  int64_t steps = trainSteps ? int64_t(trainSteps) : batches;
  // Row order: as stored, or for --shuffle a permutation per pass over the
  // data (a Fisher-Yates shuffle driven by a 64-bit generator seeded with
  // --seed and the pass number, the same on every platform).
  std::string order =
      shuffle
          ? ("shuffled with seed " + llvm::Twine(shuffleSeed.getValue())).str()
          : "in order";
  std::vector<int64_t> permutation;
  int64_t permutedPass = -1;
  auto rowOf = [&](int64_t pass, int64_t i) -> int64_t {
    if (!shuffle)
      return i;
    if (pass != permutedPass) {
      permutation.resize(size_t(data->shape[0]));
      std::iota(permutation.begin(), permutation.end(), 0);
      std::mt19937_64 rng(shuffleSeed * 0x9E3779B97F4A7C15ull + uint64_t(pass));
      for (size_t k = permutation.size(); k > 1; --k)
        std::swap(permutation[k - 1], permutation[rng() % k]);
      permutedPass = pass;
    }
    return permutation[size_t(i)];
  };
  if (steps < 0)
    return fail(llvm::formatv("--steps must be positive, got {0}", steps));
  if (data->shape[0] % stride && world.rank == 0)
    llvm::errs() << llvm::formatv(
        "autopar-run: warning: {0} has {1} rows; the last {2} do not fill a "
        "batch of {3} and are not used\n",
        dataPath, data->shape[0], data->shape[0] % stride, stride);

  // Parameters, then zero optimizer state.
  std::string weightsName = file(str("weights"));
  // Each process keeps only its part of a split parameter as it reads.
  llvm::StringMap<size_t> paramIndex;
  std::vector<bool> cut(n, false);
  for (auto [i, name] : llvm::enumerate(paramNames))
    paramIndex[name] = i;
  llvm::Expected<npy::TensorMap> weights = npy::readSafetensors(
      weightsName, [&](const std::string &name, npy::NpyArray whole) {
        auto it = paramIndex.find(name);
        if (it == paramIndex.end() || splitDim[it->second] < 0)
          return whole;
        size_t i = it->second;
        RankedTensorType t = localTypes[i];
        if (ArrayRef<int64_t>(whole.shape) !=
            ArrayRef<int64_t>(wholeShape(i, t.getShape())))
          return whole; // reported below
        cut[i] = true;
        return npy::sliceAlong(whole, splitDim[i], world.tp, world.tpIndex,
                               splitGroups[i]);
      });
  if (!weights)
    return fail(llvm::toString(weights.takeError()));
  std::vector<npy::NpyArray> params, state;
  for (auto [i, name] : llvm::enumerate(paramNames)) {
    auto it = weights->find(name);
    RankedTensorType t = localTypes[i];
    // (Split parameters were cut to this process's part as they were read.)
    if (it == weights->end() ||
        it->second.dtype != *dtypeFor(t.getElementType()) ||
        ArrayRef<int64_t>(it->second.shape) != t.getShape() ||
        (splitDim[i] >= 0 && !cut[i]))
      return fail("parameter '" + name + "' is missing from " + weightsName +
                  " or does not match " +
                  typeString(t.clone(wholeShape(i, t.getShape()))));
    params.push_back(std::move(it->second));
  }
  // ZeRO along the data-parallel axis: the update runs on this process's
  // shard of every trained parameter (flattened, zero-padded to a multiple
  // of dp, cut in dp), with the same shard of the gradients and the
  // optimizer state; stage 2 gets the gradient shards by reduce-scatter.
  // Stage 3 keeps only its parameter shards: the compiled step gathers
  // each parameter where it is used and returns the gradient's shard.
  int64_t zeroStage = 0;
  if (const llvm::json::Object *plan = m->getObject("plan"))
    zeroStage = plan->getInteger("zero").value_or(0);
  if (zeroStage < 0 || zeroStage > 3)
    return fail(file("manifest.json") + ": plan.zero must be 0 to 3");
  if (zeroStage > 0 && stepType.getNumInputs() > 0)
    for (auto [k, i] : llvm::enumerate(trainable)) {
      int64_t shard = (params[i].numElements() + world.dp - 1) / world.dp;
      auto t = cast<RankedTensorType>(stepType.getInput(unsigned(k)));
      if (t.getRank() != 1 || t.getDimSize(0) != shard ||
          (zeroStage == 3) != gathered[i])
        return fail(moduleName + ": @" +
                    (zeroStage == 3 ? gradName : stepName) + " does not take " +
                    std::to_string(world.dp) + " ZeRO shards of '" +
                    paramNames[i] +
                    "' (compiled by another version of autopar-compile?)");
    }
  auto shardOf = [&](const npy::NpyArray &whole) {
    npy::NpyArray shard;
    shard.dtype = whole.dtype;
    int64_t k = (whole.numElements() + world.dp - 1) / world.dp;
    shard.shape = {k};
    size_t size = npy::dtypeSize(whole.dtype);
    shard.data.assign(size_t(k) * size, 0);
    int64_t begin = world.dpIndex * k;
    int64_t count =
        std::max<int64_t>(0, std::min(k, whole.numElements() - begin));
    if (count > 0)
      std::memcpy(shard.data.data(), whole.data.data() + begin * size,
                  size_t(count) * size);
    return shard;
  };
  // The whole (process-local) tensor of `shape` from every process's
  // shard: an all-gather over the data-parallel axis.
  auto gatherShards = [&](const npy::NpyArray &shard, ArrayRef<int64_t> shape,
                          StringRef what, int64_t step) {
    npy::NpyArray whole;
    whole.dtype = shard.dtype;
    whole.shape.assign(shape.begin(), shape.end());
    std::vector<char> all(shard.data.size() * size_t(world.dp));
    if (world.active) {
      MPI_Request request;
      MPI_Iallgather(shard.data.data(), int(shard.data.size()), MPI_BYTE,
                     all.data(), int(shard.data.size()), MPI_BYTE, world.dpComm,
                     &request);
      finishOrAbort(request, what, step);
    } else {
      all = shard.data;
    }
    all.resize(size_t(whole.numElements()) * npy::dtypeSize(whole.dtype));
    whole.data = std::move(all);
    return whole;
  };
  // This process's shard of the mean of `grad` over the data-parallel
  // axis: a reduce-scatter.
  auto reduceScatter = [&](const npy::NpyArray &grad, int64_t step) {
    npy::NpyArray padded = grad;
    int64_t k = (grad.numElements() + world.dp - 1) / world.dp;
    padded.shape = {k * world.dp};
    padded.data.resize(size_t(k * world.dp) * npy::dtypeSize(grad.dtype), 0);
    npy::NpyArray shard = shardOf(padded);
    bool f64 = grad.dtype == npy::DType::F64;
    MPI_Request request;
    MPI_Ireduce_scatter_block(padded.data.data(), shard.data.data(), int(k),
                              f64 ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM,
                              world.dpComm, &request);
    finishOrAbort(request, "gradient reduce-scatter", step);
    scaleBy(shard, 1.0 / world.dp);
    return shard;
  };

  // Optimizer state starts at zero, or at the manifest's state_init value
  // for its slot (adagrad's initial_accumulator_value for `w.sum`).
  const llvm::json::Object *stateInit = m->getObject("state_init");
  for (size_t i : trainable)
    for (int64_t k = 0; k < slots; ++k) {
      npy::NpyArray init = zeroStage ? shardOf(params[i]) : params[i];
      std::fill(init.data.begin(), init.data.end(), 0);
      StringRef slot = StringRef(stateNames[state.size()]).rsplit('.').second;
      if (double v = stateInit ? stateInit->getNumber(slot).value_or(0) : 0)
        addInto(init, scalarLike(init.dtype, v), /*broadcast=*/true);
      state.push_back(std::move(init));
    }

  // A checkpoint replaces the initial parameters and the zero state.
  int64_t firstStep = 1, updates = 0;
  if (!resumeDir.empty()) {
    llvm::SmallString<256> jsonPath(resumeDir.getValue());
    llvm::sys::path::append(jsonPath, "checkpoint.json");
    auto text = llvm::MemoryBuffer::getFile(jsonPath);
    if (!text)
      return fail(jsonPath + ": " + text.getError().message() +
                  " (no checkpoint to resume from)");
    llvm::Expected<llvm::json::Value> json =
        llvm::json::parse((*text)->getBuffer());
    if (!json)
      return fail(jsonPath + ": " + llvm::toString(json.takeError()));
    const llvm::json::Object *c = json->getAsObject();
    std::optional<int64_t> at = c ? c->getInteger("step") : std::nullopt;
    std::optional<int64_t> applied =
        c ? c->getInteger("updates") : std::nullopt;
    std::optional<StringRef> tensorsFile =
        c ? c->getString("tensors") : std::nullopt;
    if (!c || c->getString("format") != StringRef("autopar-checkpoint") ||
        !at || *at < 1 || !applied || !tensorsFile ||
        tensorsFile->contains('/'))
      return fail(jsonPath + " is not an autopar checkpoint manifest");
    // Same shapes are not enough: state from another optimizer (or other
    // hyperparameters) would resume a different run.
    if (std::optional<StringRef> opt = c->getString("optimizer");
        opt && *opt != str("optimizer"))
      return fail(jsonPath + " was written with '" + *opt +
                  "' but this artifact uses '" + str("optimizer") + "'");
    // The batches a resumed run sees must be those the first run would
    // have seen next.
    if (std::optional<StringRef> was = c->getString("order");
        was.value_or("in order") != order)
      return fail(jsonPath + " was written by a run taking rows " +
                  was.value_or("in order") + ", not " + order +
                  "; pass the same --shuffle and --seed");
    llvm::SmallString<256> tensorsPath(resumeDir.getValue());
    llvm::sys::path::append(tensorsPath, *tensorsFile);
    // Checkpoints hold whole tensors: this process keeps its part of each
    // as it is read (its tensor-parallel part; of optimizer state under
    // ZeRO, its shard of that). A tensor that does not match is kept whole
    // for the error below.
    struct Wanted {
      size_t owner;
      npy::DType dtype;
      bool state;
    };
    llvm::StringMap<Wanted> wanted;
    for (auto [k, name] : llvm::enumerate(paramNames))
      wanted[name] = {k, params[k].dtype, false};
    for (auto [k, name] : llvm::enumerate(stateNames)) {
      size_t owner = trainable[k / size_t(slots)];
      wanted[name] = {owner, params[owner].dtype, true};
    }
    llvm::StringSet<> cutOnRead;
    auto keepPart = [&](const std::string &name,
                        npy::NpyArray whole) -> npy::NpyArray {
      auto it = wanted.find(name);
      if (it == wanted.end())
        return npy::NpyArray{}; // not this model's: ignored
      size_t owner = it->second.owner;
      if (whole.dtype != it->second.dtype ||
          ArrayRef<int64_t>(whole.shape) !=
              ArrayRef<int64_t>(wholeShape(owner, params[owner].shape)))
        return whole;
      cutOnRead.insert(name);
      npy::NpyArray part =
          splitDim[owner] < 0
              ? std::move(whole)
              : npy::sliceAlong(whole, splitDim[owner], world.tp, world.tpIndex,
                                splitGroups[owner]);
      return zeroStage > 0 && it->second.state ? shardOf(part) : part;
    };
    llvm::Expected<npy::TensorMap> saved =
        readCheckpointTensors(resumeDir, *c, tensorsPath, keepPart);
    if (!saved)
      return fail(llvm::toString(saved.takeError()));
    auto restore = [&](ArrayRef<std::string> names,
                       std::vector<npy::NpyArray> &into, auto ownerOf) -> bool {
      for (auto [k, name, array] : llvm::enumerate(names, into)) {
        auto it = saved->find(name);
        size_t owner = ownerOf(k);
        SmallVector<int64_t> whole = wholeShape(owner, params[owner].shape);
        if (it == saved->end() || !cutOnRead.contains(name)) {
          fail(tensorsPath + ": tensor '" + name + "' is " +
               (it == saved->end()
                    ? std::string("missing")
                    : "of dtype " + npy::dtypeName(it->second.dtype) +
                          ", shape " + it->second.shapeString()) +
               "; this model needs " + npy::dtypeName(array.dtype) + ", " +
               npy::NpyArray{array.dtype, whole, {}}.shapeString());
          return false;
        }
        array = std::move(it->second);
      }
      return true;
    };
    if (!restore(paramNames, params, [](size_t k) { return k; }) ||
        !restore(stateNames, state,
                 [&](size_t k) { return trainable[k / size_t(slots)]; }))
      return 1;
    firstStep = *at + 1;
    updates = *applied;
    if (std::optional<double> scale = c->getNumber("loss_scale"))
      if (llvm::Error e = scaler->restore(
              *scale, c->getInteger("loss_scale_good_steps").value_or(0)))
        return fail(jsonPath + ": " + llvm::toString(std::move(e)));
    if (firstStep > steps)
      return fail(llvm::formatv("the checkpoint in {0} is at step {1}; "
                                "--steps={2} leaves nothing to do",
                                resumeDir, *at, steps));
  }
  // ZeRO-3 keeps only its parameter shards and drops the whole parameters
  // (keeping their shapes): the step gathers them itself. (Stages 1 and 2
  // cut the update's shards from the whole parameters at each update.)
  std::vector<npy::NpyArray> shards;
  if (zeroStage == 3)
    for (size_t i : trainable) {
      shards.push_back(shardOf(params[i]));
      params[i].data = std::vector<char>();
    }
  // The whole (process-local) trained parameters, wherever ZeRO-3 sharded
  // them: a collective over the data-parallel axis, so every process calls
  // it.
  auto wholeParams = [&](int64_t step) {
    std::vector<npy::NpyArray> whole = params;
    if (zeroStage == 3)
      for (auto [k, i] : llvm::enumerate(trainable))
        whole[i] = gatherShards(shards[k], params[i].shape,
                                "parameter all-gather", step);
    return whole;
  };
  if (checkpointEvery < 0)
    return fail("--checkpoint-every must be positive");
  if (checkpointEvery > 0 && checkpointDir.empty())
    return fail("--checkpoint-every needs --checkpoint-dir");
  // The whole tensor of a split one, on tensor-parallel rank 0 (the other
  // ranks of the group get an empty array); called by the whole group.
  auto gatherWhole = [&](const npy::NpyArray &local,
                         size_t param) -> npy::NpyArray {
    int64_t dim = splitDim[param];
    if (dim < 0 || world.tp == 1)
      return local;
    std::vector<char> all(world.tpIndex == 0 ? local.data.size() * world.tp
                                             : 0);
    MPI_Gather(local.data.data(), int(local.data.size()), MPI_BYTE, all.data(),
               int(local.data.size()), MPI_BYTE, 0, world.tpComm);
    if (world.tpIndex != 0)
      return npy::NpyArray{};
    std::vector<npy::NpyArray> parts(size_t(world.tp));
    for (auto [r, part] : llvm::enumerate(parts)) {
      part.dtype = local.dtype;
      part.shape = local.shape;
      auto begin = all.begin() + std::ptrdiff_t(r * local.data.size());
      part.data.assign(begin, begin + std::ptrdiff_t(local.data.size()));
    }
    return npy::concatAlong(parts, dim, splitGroups[param]);
  };
  std::string lastCheckpoint;
  // Tensors first (written to a temporary name and renamed), then the small
  // manifest that names them, the same way: a run killed at any point
  // leaves the previous checkpoint whole.
  // Every process writes its own tensors (its tensor-parallel part, its
  // ZeRO shards) to checkpoint-STEP[-rank-R].safetensors; once all have,
  // rank 0 writes checkpoint.json naming the files, the grid and how each
  // tensor is cut, from which any grid reassembles them. Files are written
  // to a temporary name and renamed, the manifest last: a run killed at any
  // point leaves the previous checkpoint whole.
  auto agree = [&](bool ok, StringRef what, int64_t step) {
    if (!world.active)
      return ok;
    int flag = ok ? 0 : 1;
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD,
                   &request);
    finishOrAbort(request, what, step);
    return flag == 0;
  };
  auto writeCheckpoint = [&](int64_t step) -> llvm::Error {
    std::error_code dirError = llvm::sys::fs::create_directories(checkpointDir);
    npy::TensorMap tensors;
    llvm::json::Object layout;
    auto describe = [&](size_t owner, bool sharded) {
      llvm::json::Array shape;
      for (int64_t d : wholeShape(owner, params[owner].shape))
        shape.push_back(d);
      llvm::json::Object entry{{"shape", std::move(shape)},
                               {"zero_shard", sharded}};
      if (splitDim[owner] >= 0)
        entry["split"] = llvm::json::Array{splitDim[owner], splitGroups[owner]};
      return entry;
    };
    for (auto [i, name] : llvm::enumerate(paramNames)) {
      auto k = llvm::find(trainable, i) - trainable.begin();
      bool sharded = zeroStage == 3 && size_t(k) < trainable.size();
      tensors.emplace(name, sharded ? shards[size_t(k)] : params[i]);
      layout[name] = describe(i, sharded);
    }
    for (auto [k, name, t] : llvm::enumerate(stateNames, state)) {
      tensors.emplace(name, t);
      layout[name] = describe(trainable[k / size_t(slots)], zeroStage > 0);
    }
    auto fileOf = [&](int r) {
      return "checkpoint-" + std::to_string(step) +
             (world.size > 1 ? "-rank-" + std::to_string(r) : "") +
             ".safetensors";
    };
    llvm::SmallString<256> tensorsPath(checkpointDir.getValue());
    llvm::sys::path::append(tensorsPath, fileOf(world.rank));
    llvm::Error written =
        dirError ? llvm::createStringError(dirError, checkpointDir + ": " +
                                                         dirError.message())
                 : npy::writeSafetensors(tensorsPath, tensors);
    std::string message = written ? llvm::toString(std::move(written)) : "";
    if (!agree(message.empty(), "checkpoint write", step))
      return llvm::createStringError(
          message.empty() ? "another process could not write its part"
                          : message);
    if (world.rank == 0) {
      llvm::json::Array files;
      for (int r = 0; r < world.size; ++r)
        files.push_back(fileOf(r));
      llvm::SmallString<256> jsonPath(checkpointDir.getValue());
      llvm::sys::path::append(jsonPath, "checkpoint.json");
      std::string tmp = (jsonPath + ".tmp").str();
      std::error_code ec;
      {
        llvm::raw_fd_ostream os(tmp, ec, llvm::sys::fs::OF_Text);
        if (!ec) {
          os << llvm::formatv(
                    "{0:2}",
                    llvm::json::Value(llvm::json::Object{
                        {"format", "autopar-checkpoint"},
                        {"version", 2},
                        {"step", step},
                        {"updates", updates},
                        {"loss_scale", scaleArgs
                                           ? llvm::json::Value(scaler->scale())
                                           : llvm::json::Value(nullptr)},
                        {"loss_scale_good_steps", scaler->goodSteps()},
                        {"tensors", fileOf(0)},
                        // One file per process of this grid, in rank order.
                        {"files", std::move(files)},
                        {"plan", llvm::json::Object{{"dp", world.dp},
                                                    {"tp", world.tp},
                                                    {"zero", zeroStage}}},
                        {"layout", std::move(layout)},
                        {"optimizer", str("optimizer")},
                        {"order", order},
                        {"artifact", dir.str()}}))
             << "\n";
          os.close();
          if (os.has_error())
            ec = os.error();
        }
      }
      if (!ec)
        ec = llvm::sys::fs::rename(tmp, jsonPath);
      message = ec ? (jsonPath + ": " + ec.message()).str() : "";
    }
    if (!agree(message.empty(), "checkpoint manifest", step))
      return llvm::createStringError(
          message.empty() ? "rank 0 could not write checkpoint.json" : message);
    if (!lastCheckpoint.empty() && lastCheckpoint != tensorsPath)
      llvm::sys::fs::remove(lastCheckpoint);
    lastCheckpoint = std::string(tensorsPath);
    return llvm::Error::success();
  };

  // Compile only what training calls: @loss and @forward are for
  // inference and would add a third to the JIT's time.
  for (bool erased = true; erased;) {
    erased = false;
    for (auto fn : llvm::make_early_inc_range(module->getOps<func::FuncOp>()))
      if (fn.getSymName() != gradName && fn.getSymName() != stepName &&
          SymbolTable::symbolKnownUseEmpty(fn, *module)) {
        fn.erase();
        erased = true;
      }
  }
  npy::DType scalarType = params.front().dtype;
  npy::DType scaleType =
      scaleArgs && cast<RankedTensorType>(gradType.getInput(n + 2))
                       .getElementType()
                       .isF64()
          ? npy::DType::F64
          : npy::DType::F32;
  std::unique_ptr<::autopar::StepLibrary> library;
  std::unique_ptr<::autopar::cuda::Communicator> gpuComm;
  // Gradient k of the library, copied to the host.
  auto libraryGradient = [&](size_t k) {
    auto t = cast<RankedTensorType>(gradType.getResult(unsigned(1 + k)));
    npy::NpyArray g;
    g.dtype = *dtypeFor(t.getElementType());
    g.shape.assign(t.getShape().begin(), t.getShape().end());
    g.data.resize(size_t(g.numElements()) * npy::dtypeSize(g.dtype));
    library->readGradient(k, g.data.data());
    return g;
  };
  std::unique_ptr<ExecutionEngine> engine;
  if (!libraryPath.empty()) {
    // The library keeps the parameters and the state between steps; what
    // needs them on the host each step is not supported there yet.
    if (world.tp > 1 || zeroStage > 0 || programSums)
      return fail(llvm::formatv(
          "{0}: a step library trains data-parallel only, without ZeRO so "
          "far ({1}); compile without --target=cuda to train so on the CPU",
          libraryPath,
          world.tp > 1
              ? llvm::formatv("tensor-parallel over {0} processes", world.tp)
                    .str()
          : zeroStage > 0 ? llvm::formatv("ZeRO stage {0}", zeroStage).str()
                          : std::string("gradient sums in the step")));
    using ::autopar::StepLibrary;
    auto tensorOf = [](Type type) {
      auto t = cast<RankedTensorType>(type);
      StepLibrary::Tensor tensor;
      tensor.shape.assign(t.getShape().begin(), t.getShape().end());
      tensor.elementBytes = npy::dtypeSize(*dtypeFor(t.getElementType()));
      return tensor;
    };
    auto tensorLike = [](const npy::NpyArray &a) {
      StepLibrary::Tensor tensor;
      tensor.shape.assign(a.shape.begin(), a.shape.end());
      tensor.elementBytes = npy::dtypeSize(a.dtype);
      return tensor;
    };
    StepLibrary::Signature signature;
    signature.forwardBackward = gradName;
    signature.optimizerStep = stepName;
    signature.x = tensorOf(xType);
    signature.y = tensorOf(yType);
    for (auto [i, p] : llvm::enumerate(params)) {
      signature.params.push_back(tensorLike(p));
      signature.frozen.push_back(!llvm::is_contained(trainable, i));
    }
    for (const npy::NpyArray &s : state)
      signature.state.push_back(tensorLike(s));
    signature.lossBytes = tensorOf(gradType.getResult(0)).elementBytes;
    if (nt > 0)
      signature.gradientBytes = tensorOf(gradType.getResult(1)).elementBytes;
    signature.scalarBytes = npy::dtypeSize(scalarType);
    if (scaleArgs)
      signature.scaleBytes = npy::dtypeSize(scaleType);
    std::string error;
    library = StepLibrary::open(libraryPath,
                                onDevice ? StepLibrary::Memory::Device
                                         : StepLibrary::Memory::Host,
                                signature, error);
    if (!library)
      return fail(error);
    for (auto [i, p] : llvm::enumerate(params))
      library->setParameter(i, p.data.data());
    for (auto [k, s] : llvm::enumerate(state))
      library->setState(k, s.data.data());
    // Data parallelism on GPUs: NCCL averages the gradients in device
    // memory (its unique id broadcast over MPI).
    if (onDevice && world.active && world.dp > 1) {
      gpuComm = ::autopar::cuda::Communicator::create(
          world.rank, world.size,
          [](void *bytes, size_t size) {
            MPI_Bcast(bytes, int(size), MPI_BYTE, 0, MPI_COMM_WORLD);
            return std::string();
          },
          collectiveTimeout, error);
      if (!gpuComm)
        return fail("rank " + std::to_string(world.rank) + ": " + error);
    }
    std::string where = "host memory";
    if (onDevice) {
      const char *device = std::getenv("AUTOPAR_CUDA_DEVICE");
      int capability = ::autopar::cuda::computeCapability();
      where =
          llvm::formatv("on the GPU: device {0}, {1}, compute capability "
                        "{2}.{3}",
                        device ? device : "0", ::autopar::cuda::deviceName(),
                        capability / 10, capability % 10);
    }
    llvm::outs() << llvm::formatv(
        "training with {0} ({1}); the parameters and the optimizer state "
        "stay there between steps\n",
        libraryPath, where);
  } else {
    llvm::Expected<std::unique_ptr<ExecutionEngine>> compiled =
        compileModule(*module, moduleName);
    if (!compiled)
      return fail(llvm::toString(compiled.takeError()));
    engine = std::move(*compiled);
    // Materialize both functions now, so that step 1's time is a step's.
    for (StringRef name : {StringRef(gradName), StringRef(stepName)})
      if (auto fn = engine->lookupPacked(name); !fn)
        return fail(llvm::toString(fn.takeError()));
  }

  // The library's current parameters and state, to the host.
  auto readBack = [&] {
    for (auto [i, p] : llvm::enumerate(params))
      library->readParameter(i, p.data.data());
    for (auto [k, s] : llvm::enumerate(state))
      library->readState(k, s.data.data());
  };
  std::unique_ptr<llvm::raw_fd_ostream> log;
  if (!logPath.empty() && world.rank == 0) {
    std::error_code ec;
    // A resumed run appends to the log of the run it continues.
    log = std::make_unique<llvm::raw_fd_ostream>(
        logPath, ec,
        resumeDir.empty() ? llvm::sys::fs::OF_Text
                          : llvm::sys::fs::OF_Text | llvm::sys::fs::OF_Append);
    if (ec)
      return fail(logPath + ": " + ec.message());
  }
  if (printEvery < 0)
    return fail("--print-every must be positive");
  int64_t every = printEvery ? int64_t(printEvery)
                             : std::max<int64_t>(1, (steps + 15) / 16);
  std::vector<double> losses;
  int64_t skipped = 0;
  // (mpirun hands its ranks a pseudo-terminal even when piped: no bar.)
  bool terminal = llvm::sys::Process::StandardOutIsDisplayed() && !world.active;
  auto lastDraw = std::chrono::steady_clock::time_point();
  auto runStart = std::chrono::steady_clock::now();
  // The data and labels rows of microbatch j of `step`.
  auto batchOf = [&](int64_t step, int64_t j) {
    int64_t begin =
        (step - 1) % batches * stride + world.dpIndex * batch + j * microBatch;
    int64_t pass = (step - 1) / batches;
    if (!shuffle)
      return std::vector<npy::NpyArray>{rows(*data, begin, microBatch),
                                        rows(*labels, begin, microBatch)};
    std::vector<int64_t> picked;
    for (int64_t r = begin; r < begin + microBatch; ++r)
      picked.push_back(rowOf(pass, r));
    return std::vector<npy::NpyArray>{gatherRows(*data, picked),
                                      gatherRows(*labels, picked)};
  };
  // With a step library the CPU prepares the next microbatch's rows while
  // the device computes: a thread one microbatch ahead (the only caller of
  // batchOf, and so of rowOf's permutation, once it has started).
  std::future<std::vector<npy::NpyArray>> prefetched;
  auto nextBatch = [&](int64_t step, int64_t j) {
    std::vector<npy::NpyArray> inputs =
        prefetched.valid() ? prefetched.get() : batchOf(step, j);
    int64_t nextStep = j + 1 < accum ? step : step + 1;
    if (library && nextStep <= steps)
      prefetched = std::async(std::launch::async, batchOf, nextStep,
                              j + 1 < accum ? j + 1 : 0);
    return inputs;
  };
  for (int64_t step = firstStep; step <= steps; ++step) {
    auto start = std::chrono::steady_clock::now();
    world.step = step;
    if (world.active)
      announceStep(step);
    // The mean of the microbatches' losses and gradients: the gradient of
    // the mean loss over the whole batch.
    llvm::Expected<std::vector<npy::NpyArray>> lossAndGrads =
        std::vector<npy::NpyArray>();
    double loss = 0;
    for (int64_t j = 0; j < accum; ++j) {
      std::vector<npy::NpyArray> inputs = nextBatch(step, j);
      if (library) {
        // (The gradients stay in the library, which sums microbatches'.)
        loss += library->forwardBackward(
                    inputs[0].data.data(), inputs[1].data.data(),
                    scaleArgs ? std::optional<double>(scaler->scale())
                              : std::nullopt) /
                double(accum);
        if (accum > 1)
          library->keepGradients(j == 0);
        continue;
      }
      inputs.insert(inputs.end(), params.begin(), params.end());
      if (zeroStage == 3)
        for (auto [k, i] : llvm::enumerate(trainable))
          inputs[2 + i] = shards[k];
      if (scaleArgs)
        inputs.push_back(scalarLike(scaleType, scaler->scale()));
      llvm::Expected<std::vector<npy::NpyArray>> micro =
          callFunction(*engine, gradName, gradType, inputs);
      if (!micro)
        return fail(llvm::toString(micro.takeError()));
      loss += scalarValue((*micro)[0]) / double(accum);
      if (j == 0)
        *lossAndGrads = std::move(*micro);
      else
        for (size_t i = 1; i < micro->size(); ++i)
          addInto((*lossAndGrads)[i], (*micro)[i]);
    }
    if (accum > 1 && library)
      library->takeKeptGradients(1.0 / double(accum));
    else if (accum > 1)
      for (size_t i = 1; i < lossAndGrads->size(); ++i)
        scaleBy((*lossAndGrads)[i], 1.0 / double(accum));
    // Data parallelism over the ranks: the mean over all their rows (ZeRO
    // 2 and 3: each process gets only its shard of the gradients' mean;
    // stage 3's step reduce-scattered the sum already, and an overlapping
    // step all-reduced it).
    if (world.active && world.dp > 1) {
      allReduceSum(&loss, 1, MPI_DOUBLE, "loss all-reduce", step);
      loss /= world.dp;
      if (gpuComm) {
        if (std::string e = library->averageGradients(
                *gpuComm, collectiveTimeout,
                "the gradient all-reduce of step " + std::to_string(step));
            !e.empty())
          return fail(llvm::formatv("rank {0}: {1}", world.rank, e));
      } else if (library) {
        // (A library in host memory: the JIT's average.)
        std::vector<npy::NpyArray> grads;
        for (size_t k = 0; k < nt; ++k)
          grads.push_back(libraryGradient(k));
        averageOverRanks(grads);
        for (auto [k, g] : llvm::enumerate(grads))
          library->setGradient(k, g.data.data());
      } else if (zeroStage == 3 || programSums)
        for (size_t i = 1; i < lossAndGrads->size(); ++i)
          scaleBy((*lossAndGrads)[i], 1.0 / world.dp);
      else if (zeroStage == 2)
        for (size_t i = 1; i < lossAndGrads->size(); ++i)
          (*lossAndGrads)[i] = reduceScatter((*lossAndGrads)[i], step);
      else
        averageOverRanks(
            MutableArrayRef<npy::NpyArray>(*lossAndGrads).drop_front());
    }
    if (zeroStage == 1)
      for (size_t i = 1; i < lossAndGrads->size(); ++i)
        (*lossAndGrads)[i] = shardOf((*lossAndGrads)[i]);
    double lrValue = schedule->at(step);
    // The first tensor that is not finite: the loss or a gradient.
    std::string bad;
    if (!std::isfinite(loss))
      bad = std::string("the loss is ") + (std::isnan(loss) ? "nan" : "inf");
    auto badGradient = [&](size_t k, const npy::NpyArray &g) {
      if (auto at = npy::firstNonFinite(g))
        bad = "the gradient of " + paramNames[trainable[k]] + " holds " +
              nonFiniteName(g, *at) + " (element " + std::to_string(*at) + ")";
    };
    if (library) {
      if (bad.empty())
        if (std::optional<size_t> k = library->firstNonFiniteGradient())
          badGradient(*k, libraryGradient(*k));
    } else {
      for (size_t i = 0; bad.empty() && i < nt; ++i)
        badGradient(i, (*lossAndGrads)[i + 1]);
    }
    if (world.active) {
      // The processes of a tensor-parallel group, and with ZeRO those of a
      // data-parallel one, hold different parts of the gradients: all of
      // them skip (or stop) if any one must.
      if (world.tp > 1 || zeroStage > 0) {
        int flag = bad.empty() ? 0 : 1;
        MPI_Request request;
        MPI_Iallreduce(MPI_IN_PLACE, &flag, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD,
                       &request);
        finishOrAbort(request, "non-finite check", step);
        if (flag && bad.empty())
          bad = "a gradient part on another process is not finite";
      }
    }
    // A dynamic loss scale: an overflow halves it and skips the step.
    double scaleUsed = scaler->scale();
    if (scaler->isDynamic()) {
      llvm::Expected<bool> apply = scaler->update(bad.empty());
      if (!apply)
        return fail(llvm::formatv("{0} at step {1}; {2}", bad, step,
                                  llvm::toString(apply.takeError())));
      if (!*apply) {
        // Every process decides alike (the gradients, or the flag above,
        // are the same on all); rank 0 says so.
        if (world.rank == 0)
          llvm::errs() << llvm::formatv(
              "autopar-run: note: step {0}: {1} at loss scale {2}; the step "
              "is skipped and the scale halved to {3}\n",
              step, bad, llvm::format("%g", scaleUsed),
              llvm::format("%g", scaler->scale()));
        if (log)
          *log << llvm::json::Value(
                      llvm::json::Object{{"step", step},
                                         {"skipped", bad},
                                         {"lr", lrValue},
                                         {"loss_scale", scaleUsed}})
               << "\n";
        ++skipped;
        if (world.active)
          collectStepNotes(step);
        continue;
      }
    }
    if (!bad.empty()) {
      if (!skipNonfinite)
        return fail(llvm::formatv(
            "{0} at step {1}; stopping without --export (try a lower --lr, "
            "--clip-grad-norm, or --skip-nonfinite)",
            bad, step));
      llvm::errs() << llvm::formatv(
          "autopar-run: warning: {0} at step {1}; the step is skipped\n", bad,
          step);
      if (log)
        *log << llvm::json::Value(llvm::json::Object{
                    {"step", step}, {"skipped", bad}, {"lr", lrValue}})
             << "\n";
      ++skipped;
      if (world.active)
        collectStepNotes(step);
      continue;
    }
    ++updates;
    // The optimizer's own count (Adam's bias correction) counts applied
    // updates; the schedule follows the step number.
    if (library) {
      // (The library's parameters and state: the host's are read back for
      // a checkpoint and the export.)
      library->optimizerStep(lrValue, double(updates));
    } else {
      std::vector<npy::NpyArray> stepInputs;
      if (zeroStage == 3)
        stepInputs = shards;
      else
        for (size_t i : trainable)
          stepInputs.push_back(zeroStage ? shardOf(params[i]) : params[i]);
      stepInputs.insert(stepInputs.end(), lossAndGrads->begin() + 1,
                        lossAndGrads->end());
      stepInputs.insert(stepInputs.end(), state.begin(), state.end());
      stepInputs.push_back(scalarLike(scalarType, lrValue));
      stepInputs.push_back(scalarLike(scalarType, double(updates)));
      llvm::Expected<std::vector<npy::NpyArray>> updated =
          callFunction(*engine, stepName, stepType, stepInputs);
      if (!updated)
        return fail(llvm::toString(updated.takeError()));
      // ZeRO 1 and 2: every process gets the whole updated parameters back.
      for (auto [k, i] : llvm::enumerate(trainable))
        if (zeroStage == 3)
          shards[k] = std::move((*updated)[k]);
        else if (zeroStage > 0)
          params[i] = gatherShards((*updated)[k], params[i].shape,
                                   "parameter all-gather", step);
        else
          params[i] = std::move((*updated)[k]);
      state.assign(updated->begin() + nt, updated->end());
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    double samples = double(batch) / seconds;
    losses.push_back(loss);
    if (step == firstStep || step == steps || step % every == 0) {
      if (terminal)
        llvm::outs() << "\r\x1b[K";
      llvm::outs() << llvm::format("step %lld/%lld  loss %.7g  lr %.6g  %.1f "
                                   "samples/s",
                                   (long long)step, (long long)steps, loss,
                                   lrValue, samples);
      if (scaleArgs)
        llvm::outs() << llvm::format("  loss scale %g", scaleUsed);
      llvm::outs() << "\n";
    } else if (terminal && std::chrono::steady_clock::now() - lastDraw >
                               std::chrono::milliseconds(100)) {
      lastDraw = std::chrono::steady_clock::now();
      // On a terminal, a progress bar between the printed lines.
      constexpr int width = 30;
      int done = int(width * (step - firstStep + 1) /
                     std::max<int64_t>(1, steps - firstStep + 1));
      llvm::outs() << "\r\x1b[K[" << std::string(done, '=')
                   << std::string(width - done, ' ')
                   << llvm::format("] step %lld/%lld  loss %.5g",
                                   (long long)step, (long long)steps, loss);
      llvm::outs().flush();
    }
    if (log) {
      llvm::json::Object line{{"step", step},
                              {"loss", loss},
                              {"lr", lrValue},
                              {"samples_per_s", samples}};
      if (scaleArgs)
        line["loss_scale"] = scaleUsed;
      *log << llvm::json::Value(std::move(line)) << "\n";
    }
    if (!checkpointDir.empty() &&
        ((checkpointEvery > 0 && step % checkpointEvery == 0) ||
         step == steps)) {
      if (log)
        log->flush();
      if (library)
        readBack();
      if (llvm::Error e = writeCheckpoint(step))
        return fail("writing a checkpoint at step " + std::to_string(step) +
                    ": " + llvm::toString(std::move(e)));
    }
    // The checkpoint's collectives belong to the step too.
    if (world.active)
      collectStepNotes(step);
  }
  // What each process held, against the compiler's prediction.
  if (world.active) {
    auto held = [](const std::vector<npy::NpyArray> &arrays) {
      int64_t total = 0;
      for (const npy::NpyArray &a : arrays)
        total += int64_t(a.data.size());
      return total;
    };
    int64_t mine[2] = {held(params) + held(shards), held(state)};
    std::vector<int64_t> all(2 * size_t(world.size));
    MPI_Gather(mine, 2, MPI_INT64_T, all.data(), 2, MPI_INT64_T, 0,
               MPI_COMM_WORLD);
    const llvm::json::Object *predicted = m->getObject("bytes_per_process");
    for (int r = 0; r < world.size; ++r)
      llvm::outs() << llvm::formatv(
          "rank {0} holds {1} bytes of parameters and {2} of optimizer "
          "state{3}\n",
          r, all[2 * r], all[2 * r + 1],
          predicted ? llvm::formatv(
                          " (predicted {0} and {1})",
                          predicted->getInteger("parameters").value_or(0),
                          predicted->getInteger("optimizer_state").value_or(0))
                          .str()
                    : std::string());
  }
  // Summary: the mean loss over the first and the last pass over the data.
  if (!losses.empty()) {
    size_t window = std::min<size_t>(batches, losses.size());
    auto mean = [&](auto begin) {
      return std::accumulate(begin, begin + window, 0.0) / double(window);
    };
    double total = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - runStart)
                       .count();
    llvm::outs() << llvm::formatv(
        "trained {0} steps of {1} rows in {2:f2} s{6}; mean loss over {3} "
        "batches: first {4:f6}, last {5:f6}\n",
        losses.size(),
        world.tp > 1 ? llvm::formatv("{0} ({1} processes: dp={2} x tp={3})",
                                     stride, world.size, world.dp, world.tp)
                           .str()
        : world.active
            ? std::to_string(stride) + " (" + std::to_string(world.size) +
                  " processes of " + std::to_string(batch) + ")"
            : std::to_string(batch),
        total, window, mean(losses.begin()), mean(losses.end() - window),
        skipped ? " (" + std::to_string(skipped) + " skipped)" : "");
  } else if (skipped) {
    llvm::outs() << llvm::formatv(
        "trained 0 steps: all {0} were skipped{1}; the weights are unchanged\n",
        skipped,
        scaler->isDynamic() ? llvm::formatv(" (the loss scale is now {0})",
                                            llvm::format("%g", scaler->scale()))
                                  .str()
                            : std::string());
  }
  if (!exportPath.empty()) {
    if (library)
      readBack();
    std::vector<npy::NpyArray> allParams = wholeParams(steps + 1);
    if (world.dpIndex != 0)
      return 0;
    npy::TensorMap trained;
    for (auto [i, name, p] : llvm::enumerate(paramNames, allParams))
      trained.emplace(name, gatherWhole(p, i));
    if (world.rank != 0)
      return 0;
    if (llvm::Error e = npy::writeSafetensors(exportPath, trained))
      return fail(llvm::toString(std::move(e)));
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  // A failed check in the compiled code (cf.assert, e.g. the --gpu-kernels
  // alignment check) puts its message on stdout and aborts: line-buffered,
  // the message is out before the abort even when stdout is a pipe.
  std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
  cl::HideUnrelatedOptions(runCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "autopar-run: execute a function of an autopar module on the CPU\n");

  mlir::autopar::registerAllAutoParPasses();
  DialectRegistry registry;
  mlir::autopar::registerAutoParDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  if (llvm::sys::fs::is_directory(inputFile)) {
    joinWorld();
    int rc = runTraining(context, inputFile);
    if (world.active)
      MPI_Finalize();
    return rc;
  }

  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> file =
      openInputFile(inputFile, &errorMessage);
  if (!file)
    return fail(errorMessage);
  if (auto error = mlir::autopar::checkIRNestingDepth(file->getBuffer()))
    return fail(inputFile + ": " + *error);

  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1; // the parser has reported why
  if (failed(verify(*module)))
    return 1;

  // Find the entry function.
  func::FuncOp entry;
  if (!entryName.empty()) {
    entry = module->lookupSymbol<func::FuncOp>(entryName);
    if (!entry || entry.isExternal())
      return fail("no function named '" + entryName + "' with a body in " +
                  inputFile);
  } else {
    SmallVector<func::FuncOp> candidates;
    for (auto func : module->getOps<func::FuncOp>())
      if (func.isPublic() && !func.isExternal())
        candidates.push_back(func);
    if (candidates.size() != 1)
      return fail(llvm::Twine(candidates.size()) + " public functions in " +
                  inputFile + "; name one with --entry");
    entry = candidates.front();
  }
  std::string name = entry.getSymName().str();
  FunctionType fnType = entry.getFunctionType();

  // Check the signature and the inputs before spending time compiling.
  for (auto [i, type] : llvm::enumerate(fnType.getInputs()))
    if (auto message = checkBoundaryType(type, "argument " + llvm::Twine(i) +
                                                   " of @" + name))
      return fail(*message);
  for (auto [i, type] : llvm::enumerate(fnType.getResults()))
    if (auto message = checkBoundaryType(type, "result " + llvm::Twine(i) +
                                                   " of @" + name))
      return fail(*message);
  // Parameters come from the module's weights file, the other arguments
  // from --input files in order.
  SmallVector<unsigned> dataArgs, paramArgs;
  for (unsigned i = 0; i < fnType.getNumInputs(); ++i) {
    auto role = entry.getArgAttrOfType<StringAttr>(i, "autopar.role");
    (role && role.getValue() == "param" ? paramArgs : dataArgs).push_back(i);
  }
  if (inputPaths.size() != dataArgs.size())
    return fail("@" + name + " takes " + llvm::Twine(dataArgs.size()) +
                " input argument(s)" +
                (paramArgs.empty() ? llvm::Twine("")
                                   : " (and " + llvm::Twine(paramArgs.size()) +
                                         " parameters from its weights file)") +
                " but " + llvm::Twine(inputPaths.size()) +
                " --input file(s) were given");
  npy::TensorMap weights;
  std::string weightsName;
  if (!paramArgs.empty()) {
    weightsName = weightsPath;
    if (weightsName.empty()) {
      auto attr = (*module)->getAttrOfType<StringAttr>("autopar.weights");
      if (!attr)
        return fail("@" + name +
                    " has parameters but the module names no "
                    "weights file (autopar.weights) and --weights is not "
                    "given");
      llvm::SmallString<256> path(llvm::sys::path::parent_path(inputFile));
      llvm::sys::path::append(path, attr.getValue());
      weightsName = std::string(path);
    }
    llvm::Expected<npy::TensorMap> loaded = npy::readSafetensors(weightsName);
    if (!loaded)
      return fail(llvm::toString(loaded.takeError()));
    weights = std::move(*loaded);
  }
  std::vector<npy::NpyArray> inputs(fnType.getNumInputs());
  auto checkArray = [&](unsigned i, const npy::NpyArray &array,
                        StringRef source) -> std::optional<std::string> {
    Type type = fnType.getInput(i);
    auto tensor = cast<RankedTensorType>(type);
    npy::DType want = *dtypeFor(tensor.getElementType());
    if (array.dtype == want &&
        ArrayRef<int64_t>(array.shape) == tensor.getShape())
      return std::nullopt;
    return llvm::formatv(
        "argument {0} of @{1} expects {2} (dtype {3}, shape {4}) but {5} "
        "holds dtype {6}, shape {7}",
        i, name, typeString(type), npy::dtypeName(want),
        npy::NpyArray{want, SmallVector<int64_t>(tensor.getShape()), {}}
            .shapeString(),
        source, npy::dtypeName(array.dtype), array.shapeString());
  };
  for (auto [k, i] : llvm::enumerate(dataArgs)) {
    llvm::Expected<npy::NpyArray> array = npy::readNpy(inputPaths[k]);
    if (!array)
      return fail("argument " + llvm::Twine(i) + " of @" + name + ": " +
                  llvm::toString(array.takeError()));
    if (auto message = checkArray(i, *array, inputPaths[k]))
      return fail(*message);
    inputs[i] = std::move(*array);
  }
  for (unsigned i : paramArgs) {
    auto paramName = entry.getArgAttrOfType<StringAttr>(i, "autopar.name");
    if (!paramName)
      return fail("parameter argument " + llvm::Twine(i) + " of @" + name +
                  " has no autopar.name");
    auto it = weights.find(paramName.getValue().str());
    if (it == weights.end())
      return fail("parameter '" + paramName.getValue() + "' (argument " +
                  llvm::Twine(i) + " of @" + name + ") is not in " +
                  weightsName);
    if (auto message = checkArray(i, it->second,
                                  weightsName + " tensor '" +
                                      paramName.getValue().str() + "'"))
      return fail(*message);
    inputs[i] = std::move(it->second);
  }
  if (failed(checkTensorSizes(*module)))
    return 1;

  llvm::Expected<std::unique_ptr<ExecutionEngine>> engine =
      compileModule(*module, inputFile);
  if (!engine)
    return fail(llvm::toString(engine.takeError()));
  llvm::Expected<std::vector<npy::NpyArray>> called =
      callFunction(**engine, name, fnType, inputs);
  if (!called)
    return fail(llvm::toString(called.takeError()));
  std::vector<npy::NpyArray> results = std::move(*called);

  if (!outputDir.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(outputDir))
      return fail("cannot create " + outputDir + ": " + ec.message());
    for (auto [i, array] : llvm::enumerate(results)) {
      llvm::SmallString<128> path(outputDir);
      llvm::sys::path::append(path, "result" + std::to_string(i) + ".npy");
      if (llvm::Error error = npy::writeNpy(path, array))
        return fail(llvm::toString(std::move(error)));
    }
  }
  if (printResults || outputDir.empty())
    for (auto [i, array] : llvm::enumerate(results))
      printArray(llvm::outs(), i, array);
  return 0;
}
