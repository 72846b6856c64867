//===- LossScaler.h - loss scaling for half-precision training --*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// With f16 matrix products, small gradients underflow to zero unless the
// loss (and with it every gradient) is scaled up before the backward pass;
// @forward_backward then divides the gradients by the same scale. A dynamic
// scale follows torch.cuda.amp.GradScaler: a step whose gradients are not
// finite is skipped and the scale halved; after `growth_interval` steps in a
// row with finite gradients it doubles.
//
// The manifest's "loss_scale" is null (no scaling), {"mode": "fixed",
// "value": S} or {"mode": "dynamic", "initial": S, "growth_interval": N}.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_DRIVER_LOSSSCALER_H
#define AUTOPAR_RUNTIME_DRIVER_LOSSSCALER_H

#include "DynamicLossScale.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <cstdint>

namespace autopar {

class LossScaler {
public:
  enum class Mode { None, Fixed, Dynamic };

  /// The smallest dynamic scale: below it, halving cannot help (the forward
  /// pass itself overflows) and update() reports an error.
  static constexpr double kMinScale = DynamicLossScale::kMinScale;

  /// From a manifest's "loss_scale" value (null or absent: no scaling).
  static llvm::Expected<LossScaler> fromJSON(const llvm::json::Value *value);
  static LossScaler fixed(double scale);
  static LossScaler dynamic(double initial, int64_t growthInterval);
  LossScaler() = default;

  Mode mode() const { return mode_; }
  /// Whether @forward_backward takes a scale (fixed or dynamic).
  bool enabled() const { return mode_ != Mode::None; }
  bool isDynamic() const { return mode_ == Mode::Dynamic; }
  /// The scale of the next step (1 without scaling).
  double scale() const { return rule_.scale; }
  /// Finite steps in a row since the scale last changed.
  int64_t goodSteps() const { return rule_.good; }
  int64_t growthInterval() const { return rule_.interval; }

  /// After a step's gradients: whether to apply it. A dynamic scaler
  /// halves its scale on a non-finite step (and returns false) and doubles
  /// it after `growthInterval` finite ones; a fixed or absent one applies
  /// finite steps only. An error when a dynamic scale falls below
  /// kMinScale.
  llvm::Expected<bool> update(bool finite);

  /// A resumed run's scale and count (from a checkpoint).
  llvm::Error restore(double scale, int64_t goodSteps);

private:
  Mode mode_ = Mode::None;
  DynamicLossScale rule_; ///< the scale (fixed or dynamic) and its counts
};

} // namespace autopar

#endif // AUTOPAR_RUNTIME_DRIVER_LOSSSCALER_H
