//===- LossScaler.cpp - loss scaling for half-precision training ---------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "LossScaler.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace autopar;

static llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

LossScaler LossScaler::fixed(double scale) {
  LossScaler s;
  s.mode_ = Mode::Fixed;
  s.rule_.scale = scale;
  return s;
}

LossScaler LossScaler::dynamic(double initial, int64_t growthInterval) {
  LossScaler s;
  s.mode_ = Mode::Dynamic;
  s.rule_.scale = initial;
  s.rule_.interval = growthInterval;
  return s;
}

llvm::Expected<LossScaler>
LossScaler::fromJSON(const llvm::json::Value *value) {
  if (!value || value->kind() == llvm::json::Value::Null)
    return LossScaler();
  const llvm::json::Object *o = value->getAsObject();
  std::optional<llvm::StringRef> mode = o ? o->getString("mode") : std::nullopt;
  auto positive = [](std::optional<double> v) {
    return v && std::isfinite(*v) && *v > 0;
  };
  if (mode == llvm::StringRef("fixed")) {
    std::optional<double> v = o->getNumber("value");
    if (!positive(v))
      return error("loss_scale: a fixed scale needs a positive 'value'");
    return fixed(*v);
  }
  if (mode == llvm::StringRef("dynamic")) {
    std::optional<double> initial = o->getNumber("initial");
    std::optional<int64_t> interval = o->getInteger("growth_interval");
    if (!positive(initial) || *initial < kMinScale || !interval ||
        *interval < 1)
      return error("loss_scale: a dynamic scale needs 'initial' (at least "
                   "2^-24) and 'growth_interval' (at least 1)");
    return dynamic(*initial, *interval);
  }
  return error("loss_scale: want null, {\"mode\": \"fixed\", \"value\": S} "
               "or {\"mode\": \"dynamic\", \"initial\": S, "
               "\"growth_interval\": N}");
}

llvm::Expected<bool> LossScaler::update(bool finite) {
  if (!isDynamic())
    return finite;
  switch (rule_.update(finite)) {
  case DynamicLossScale::Step::Apply:
    return true;
  case DynamicLossScale::Step::Skip:
    return false;
  case DynamicLossScale::Step::TooSmall:
    break;
  }
  return error(llvm::formatv(
      "the gradients are not finite at every loss scale down to {0:e}: "
      "the forward pass overflows (in fp16, values above 65504); try "
      "--precision=bf16",
      rule_.scale));
}

llvm::Error LossScaler::restore(double scale, int64_t goodSteps) {
  if (!enabled())
    return error("the checkpoint holds a loss scale but this artifact does "
                 "not scale its loss");
  if (!std::isfinite(scale) || scale <= 0 || goodSteps < 0 ||
      (isDynamic() && goodSteps >= rule_.interval))
    return error(llvm::formatv("a loss scale of {0} after {1} good steps "
                               "cannot be restored",
                               scale, goodSteps));
  if (!isDynamic() && scale != rule_.scale)
    return error(llvm::formatv("the checkpoint's loss scale {0} is not this "
                               "artifact's fixed {1}",
                               scale, rule_.scale));
  rule_.scale = scale;
  rule_.good = goodSteps;
  return llvm::Error::success();
}
