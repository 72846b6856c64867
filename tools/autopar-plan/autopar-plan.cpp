//===- autopar-plan.cpp - choose a parallel plan for a model --------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
//   autopar-plan --model=zoo:gpt3-175b --cluster=a100-80g-8x128
//                --global-batch=1536 [--seq=2048] [--plan="dp=..,tp=.."]
//                [--explain] [-o plan.json]
//
// Searches data x tensor x pipeline parallelism, sequence parallelism, ZeRO,
// microbatches, pipeline schedule and recomputation with the cost model of
// docs/planner.md (or evaluates the plan given with --plan), then writes
// plan.json and, with --explain, a readable breakdown.
//
//===----------------------------------------------------------------------===//

#include "autopar/Planner/Plan.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

namespace cl = llvm::cl;
using namespace mlir::autopar::planner;

static cl::OptionCategory category("autopar-plan options");
static cl::opt<std::string> modelSpec("model", cl::Required,
                                      cl::desc("zoo:NAME or zoo:gpt:k=v,..."),
                                      cl::cat(category));
static cl::opt<std::string>
    clusterSpec("cluster", cl::Required,
                cl::desc("Preset (h100-sxm-8xN, a100-80g-8xN, cpu-host) or a "
                         "JSON file"),
                cl::cat(category));
static cl::opt<int64_t> devices("devices", cl::init(1),
                                cl::desc("Devices for cpu-host"),
                                cl::cat(category));
static cl::opt<int64_t> globalBatch("global-batch", cl::Required,
                                    cl::desc("Sequences per step"),
                                    cl::cat(category));
static cl::opt<int64_t> seqLength("seq", cl::init(0),
                                  cl::desc("Sequence length (default: the "
                                           "model's)"),
                                  cl::cat(category));
static cl::opt<std::string>
    planSpec("plan",
             cl::desc("Evaluate this plan instead of searching (dp, tp, pp, "
                      "sp=on|off, zero, mb, schedule, v, recompute, cp, "
                      "attn-whole, mlp-whole, head=split|whole)"),
             cl::cat(category));
static cl::opt<std::string>
    htmlFile("html",
             cl::desc("Also write the plan as an HTML page (device grid, "
                      "stages, time and memory bars) to this file"),
             cl::value_desc("FILE"), cl::cat(category));
static cl::opt<std::string> searchMode(
    "search", cl::init("default"), cl::cat(category),
    cl::desc("default (tensor parallelism within a node, pipeline "
             "microbatches of at most 16 sequences) or exhaustive (every "
             "plan, for checking)"));
static cl::opt<std::string> modelStates(
    "states", cl::init("mixed-adam"), cl::cat(category),
    cl::desc("Bytes of model state per parameter: mixed-adam (2+2+12, bf16 "
             "compute), fp32-adam (4+4+8), fp32-momentum (4+4+4), fp32-sgd "
             "(4+4)"));
static cl::opt<bool> doExplain("explain", cl::desc("Print the explanation"),
                               cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("Write plan.json here"),
                                       cl::value_desc("file"),
                                       cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "autopar-plan") << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "autopar-plan: choose how to parallelize "
                              "training a model on a cluster\n");
  llvm::Expected<TransformerModel> model = zooModel(modelSpec);
  if (!model)
    return fail(llvm::toString(model.takeError()));
  llvm::Expected<ClusterSpec> cluster = loadCluster(clusterSpec, devices);
  if (!cluster)
    return fail(llvm::toString(cluster.takeError()));
  if (globalBatch < 1)
    return fail("--global-batch must be positive");
  if (seqLength < 0)
    return fail("--seq must be positive");
  TrainingSetup setup;
  setup.globalBatch = globalBatch;
  setup.seq = seqLength;
  if (llvm::Error e = setModelStates(modelStates, setup))
    return fail("--states: " + llvm::toString(std::move(e)));
  if (searchMode != "default" && searchMode != "exhaustive")
    return fail("--search must be default or exhaustive, not '" + searchMode +
                "'");
  setup.exhaustive = searchMode == "exhaustive";

  auto start = std::chrono::steady_clock::now();
  llvm::Expected<SearchResult> planned =
      choosePlan(*model, *cluster, setup, planSpec);
  if (!planned)
    return fail(llvm::toString(planned.takeError()));
  SearchResult &result = *planned;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  if (!outputFile.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(outputFile, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail(outputFile + ": " + ec.message());
    os << llvm::formatv("{0:2}", toJSON(*model, *cluster, setup, result))
       << "\n";
  }
  if (!htmlFile.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(htmlFile, ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail(htmlFile + ": " + ec.message());
    os << toHTML(*model, *cluster, setup, result);
  }
  if (doExplain || outputFile.empty())
    llvm::outs() << explain(*model, *cluster, setup, result);
  llvm::outs() << llvm::format("planning took %.3f s\n", seconds);
  return 0;
}
