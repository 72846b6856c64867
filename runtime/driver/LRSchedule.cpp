//===- LRSchedule.cpp - learning-rate schedules on the host ---------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "LRSchedule.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <cmath>

using namespace autopar;
using llvm::StringRef;

static llvm::Error scheduleError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "--lr-schedule: " + message);
}

llvm::Expected<LRSchedule> LRSchedule::parse(StringRef spec, double lr) {
  LRSchedule s;
  s.lr = lr;
  if (!(lr > 0))
    return scheduleError("the learning rate must be positive");
  auto [name, rest] = spec.split(':');
  llvm::StringMap<std::string> args;
  llvm::SmallVector<StringRef> parts;
  rest.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts) {
    auto [key, value] = part.split('=');
    if (value.empty())
      return scheduleError("'" + part + "' needs key=value");
    args[key.trim()] = value.trim().str();
  }
  llvm::StringMap<bool> used;
  auto number = [&](StringRef key, double &out, bool required,
                    bool positive = true) -> llvm::Error {
    auto it = args.find(key);
    if (it == args.end())
      return required ? scheduleError(name + " needs " + key + "=")
                      : llvm::Error::success();
    used[key] = true;
    double v;
    if (StringRef(it->second).getAsDouble(v) || (positive && !(v > 0)) ||
        (!positive && v < 0))
      return scheduleError(key + "=" + it->second + " is not a " +
                           (positive ? "positive" : "non-negative") +
                           " number");
    out = v;
    return llvm::Error::success();
  };
  auto integer = [&](StringRef key, int64_t &out,
                     bool required) -> llvm::Error {
    double v = double(out);
    if (llvm::Error e = number(key, v, required))
      return e;
    if (v != std::floor(v))
      return scheduleError(key + " must be a whole number");
    out = int64_t(v);
    return llvm::Error::success();
  };
#define CHECK_ERR(X)                                                           \
  if (llvm::Error e = (X))                                                     \
    return std::move(e);

  if (name == "constant") {
    s.kind = Kind::Constant;
  } else if (name == "step") {
    s.kind = Kind::Step;
    CHECK_ERR(integer("step_size", s.stepSize, true));
    CHECK_ERR(number("gamma", s.gamma, false));
  } else if (name == "multistep") {
    s.kind = Kind::MultiStep;
    auto it = args.find("milestones");
    if (it == args.end())
      return scheduleError("multistep needs milestones=A;B;...");
    used["milestones"] = true;
    llvm::SmallVector<StringRef> ms;
    StringRef(it->second).split(ms, ';', -1, false);
    for (StringRef m : ms) {
      int64_t v;
      if (m.getAsInteger(10, v) || v < 0)
        return scheduleError("milestone '" + m + "' is not a step number");
      s.milestones.push_back(v);
    }
    llvm::sort(s.milestones);
    CHECK_ERR(number("gamma", s.gamma, false));
  } else if (name == "exponential") {
    s.kind = Kind::Exponential;
    CHECK_ERR(number("gamma", s.gamma, true));
  } else if (name == "cosine") {
    s.kind = Kind::Cosine;
    CHECK_ERR(integer("t_max", s.tMax, true));
    CHECK_ERR(number("eta_min", s.etaMin, false, false));
  } else if (name == "cosine_restarts") {
    s.kind = Kind::CosineRestarts;
    CHECK_ERR(integer("t_0", s.t0, true));
    CHECK_ERR(integer("t_mult", s.tMult, false));
    CHECK_ERR(number("eta_min", s.etaMin, false, false));
  } else if (name == "cyclic") {
    s.kind = Kind::Cyclic;
    CHECK_ERR(number("base_lr", s.baseLR, true));
    CHECK_ERR(number("max_lr", s.maxLR, true));
    CHECK_ERR(number("step_size_up", s.stepUp, true));
    s.stepDown = s.stepUp;
    CHECK_ERR(number("step_size_down", s.stepDown, false));
    s.gamma = 1.0;
    CHECK_ERR(number("gamma", s.gamma, false));
    if (auto it = args.find("mode"); it != args.end()) {
      used["mode"] = true;
      s.cyclicMode = it->second;
      if (s.cyclicMode != "triangular" && s.cyclicMode != "triangular2" &&
          s.cyclicMode != "exp_range")
        return scheduleError("mode=" + s.cyclicMode +
                             " (triangular, triangular2, exp_range)");
    }
  } else if (name == "onecycle") {
    s.kind = Kind::OneCycle;
    CHECK_ERR(number("max_lr", s.maxLR, true));
    CHECK_ERR(integer("total_steps", s.totalSteps, true));
    CHECK_ERR(number("pct_start", s.pctStart, false));
    CHECK_ERR(number("div_factor", s.divFactor, false));
    CHECK_ERR(number("final_div_factor", s.finalDivFactor, false));
    if (auto it = args.find("anneal"); it != args.end()) {
      used["anneal"] = true;
      if (it->second != "cos" && it->second != "linear")
        return scheduleError("anneal=" + it->second + " (cos, linear)");
      s.cosineAnneal = it->second == "cos";
    }
    if (s.pctStart >= 1)
      return scheduleError("pct_start must be below 1");
  } else {
    return scheduleError("unknown schedule '" + name +
                         "' (constant, step, multistep, exponential, cosine, "
                         "cosine_restarts, cyclic, onecycle)");
  }
#undef CHECK_ERR
  for (const auto &kv : args)
    if (!used.count(kv.getKey()))
      return scheduleError(name + " has no parameter '" + kv.getKey() + "'");
  return s;
}

llvm::Error LRSchedule::setWarmup(int64_t steps, double startFactor) {
  if (startFactor == 0)
    startFactor = 1.0 / double(steps + 1);
  if (steps < 0 || !(startFactor > 0) || startFactor > 1)
    return scheduleError("warmup needs steps >= 0 and 0 < start factor <= 1");
  warmupSteps = steps;
  warmupStart = startFactor;
  return llvm::Error::success();
}

double LRSchedule::at(int64_t step) const {
  int64_t epoch = std::max<int64_t>(0, step - 1);
  if (epoch < warmupSteps) {
    // LinearLR(start_factor, end_factor = 1, total_iters = warmup).
    double factor =
        warmupStart + (1 - warmupStart) * double(epoch) / double(warmupSteps);
    return schedule(0) * factor;
  }
  return schedule(epoch - warmupSteps);
}

double LRSchedule::schedule(int64_t t) const {
  switch (kind) {
  case Kind::Constant:
    return lr;
  case Kind::Step:
    return lr * std::pow(gamma, double(t / stepSize));
  case Kind::MultiStep: {
    auto passed = std::upper_bound(milestones.begin(), milestones.end(), t) -
                  milestones.begin();
    return lr * std::pow(gamma, double(passed));
  }
  case Kind::Exponential:
    return lr * std::pow(gamma, double(t));
  case Kind::Cosine:
    return etaMin +
           (lr - etaMin) * (1 + std::cos(M_PI * double(t) / double(tMax))) / 2;
  case Kind::CosineRestarts: {
    double tCur, tI;
    if (tMult == 1) {
      tCur = double(t % t0);
      tI = double(t0);
    } else {
      // The restart period grows by t_mult; find the current period.
      int64_t start = 0, period = t0;
      while (t >= start + period) {
        start += period;
        period *= tMult;
      }
      tCur = double(t - start);
      tI = double(period);
    }
    return etaMin + (lr - etaMin) * (1 + std::cos(M_PI * tCur / tI)) / 2;
  }
  case Kind::Cyclic: {
    double total = stepUp + stepDown, ratio = stepUp / total;
    double cycle = std::floor(1 + double(t) / total);
    double x = 1.0 + double(t) / total - cycle;
    double scale = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    double height = (maxLR - baseLR) * scale;
    if (cyclicMode == "triangular")
      return baseLR + height;
    if (cyclicMode == "triangular2")
      return baseLR + height / std::pow(2.0, cycle - 1);
    return baseLR + height * std::pow(gamma, double(t));
  }
  case Kind::OneCycle: {
    double initial = maxLR / divFactor, minimum = initial / finalDivFactor;
    double phaseEnds[2] = {pctStart * double(totalSteps) - 1,
                           double(totalSteps) - 1};
    double starts[2] = {initial, maxLR}, ends[2] = {maxLR, minimum};
    double phaseStart = 0;
    for (int i = 0; i < 2; ++i) {
      if (double(t) <= phaseEnds[i] || i == 1) {
        double pct = (double(t) - phaseStart) / (phaseEnds[i] - phaseStart);
        if (cosineAnneal)
          return ends[i] +
                 (starts[i] - ends[i]) / 2 * (std::cos(M_PI * pct) + 1);
        return (ends[i] - starts[i]) * pct + starts[i];
      }
      phaseStart = phaseEnds[i];
    }
    return minimum;
  }
  }
  return lr;
}
