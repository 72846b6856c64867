//===- LRSchedule.h - learning-rate schedules on the host -------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The runtime computes the learning rate of each step on the host and passes
// it to @optimizer_step. Schedules follow torch.optim.lr_scheduler: the LR of
// step n (counting from 1) is the scheduler's value after n - 1 calls to
// scheduler.step(), which is what a PyTorch loop that steps the scheduler
// after the optimizer uses.
//
//   constant
//   step:step_size=S[,gamma=0.1]
//   multistep:milestones=A;B;C[,gamma=0.1]
//   exponential:gamma=G
//   cosine:t_max=T[,eta_min=0]
//   cosine_restarts:t_0=T[,t_mult=1,eta_min=0]
//   cyclic:base_lr=L,max_lr=M,step_size_up=U[,step_size_down=D,
//          mode=triangular|triangular2|exp_range,gamma=1]
//   onecycle:max_lr=M,total_steps=T[,pct_start=0.3,anneal=cos|linear,
//            div_factor=25,final_div_factor=1e4]
//
// Linear warmup (torch's LinearLR followed by the schedule in a
// SequentialLR) goes in front of any of them.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_DRIVER_LRSCHEDULE_H
#define AUTOPAR_RUNTIME_DRIVER_LRSCHEDULE_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace autopar {

class LRSchedule {
public:
  /// Parses `spec` (see the file comment) for base learning rate `lr`.
  static llvm::Expected<LRSchedule> parse(llvm::StringRef spec, double lr);

  /// Puts `steps` steps of linear warmup from `startFactor` x the schedule's
  /// first value in front; the schedule then starts over at its step 1.
  /// A `startFactor` of 0 means 1 / (steps + 1).
  llvm::Error setWarmup(int64_t steps, double startFactor = 0);

  /// The learning rate of step `step` (from 1).
  double at(int64_t step) const;

private:
  double schedule(int64_t epoch) const;

  enum class Kind {
    Constant,
    Step,
    MultiStep,
    Exponential,
    Cosine,
    CosineRestarts,
    Cyclic,
    OneCycle
  };
  Kind kind = Kind::Constant;
  double lr = 0;
  double gamma = 0.1, etaMin = 0;
  int64_t stepSize = 1, tMax = 1, t0 = 1, tMult = 1;
  llvm::SmallVector<int64_t> milestones;
  double baseLR = 0, maxLR = 0;
  double stepUp = 1, stepDown = 1;
  std::string cyclicMode = "triangular";
  int64_t totalSteps = 1;
  double pctStart = 0.3, divFactor = 25, finalDivFactor = 1e4;
  bool cosineAnneal = true;
  int64_t warmupSteps = 0;
  double warmupStart = 1;
};

} // namespace autopar

#endif // AUTOPAR_RUNTIME_DRIVER_LRSCHEDULE_H
