//===- autopar-lr.cpp - print a learning-rate schedule --------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
//   autopar-lr --lr=0.1 --schedule="cosine:t_max=100" [--warmup-steps=10
//              --warmup-start=0.01] --steps=120
//
// Prints "step lr" for steps 1..N: the values the training loop passes to
// @optimizer_step, so a schedule can be checked before a run.
//
//===----------------------------------------------------------------------===//

#include "LRSchedule.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;

static cl::OptionCategory category("autopar-lr options");
static cl::opt<double> lr("lr", cl::Required, cl::desc("Base learning rate"),
                          cl::cat(category));
static cl::opt<std::string> schedule("schedule", cl::init("constant"),
                                     cl::desc("Schedule (see LRSchedule.h)"),
                                     cl::cat(category));
static cl::opt<int64_t> warmupSteps("warmup-steps", cl::init(0),
                                    cl::desc("Linear warmup steps"),
                                    cl::cat(category));
static cl::opt<double> warmupStart("warmup-start", cl::init(0.0),
                                   cl::desc("Warmup start factor (default "
                                            "1/(warmup-steps+1))"),
                                   cl::cat(category));
static cl::opt<int64_t> steps("steps", cl::init(10), cl::desc("Steps to print"),
                              cl::cat(category));

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "autopar-lr: print a learning-rate schedule\n");
  llvm::Expected<autopar::LRSchedule> s =
      autopar::LRSchedule::parse(schedule, lr);
  if (!s) {
    llvm::WithColor::error(llvm::errs(), "autopar-lr")
        << llvm::toString(s.takeError()) << "\n";
    return 1;
  }
  if (warmupSteps > 0) {
    if (llvm::Error e = s->setWarmup(warmupSteps, warmupStart)) {
      llvm::WithColor::error(llvm::errs(), "autopar-lr")
          << llvm::toString(std::move(e)) << "\n";
      return 1;
    }
  }
  for (int64_t step = 1; step <= steps; ++step)
    llvm::outs() << step << " " << llvm::format("%.17g", s->at(step)) << "\n";
  return 0;
}
