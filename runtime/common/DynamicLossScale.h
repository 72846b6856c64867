//===- DynamicLossScale.h - the dynamic loss scale's rule -------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// torch.cuda.amp.GradScaler's rule for a dynamic loss scale, without LLVM:
// autopar-run's LossScaler (runtime/driver) and the GPU training driver
// (bench/gpu/aot_train.cpp, built where there is no LLVM) both follow it.
// A step whose gradients are not finite is skipped and the scale halved;
// after `interval` finite steps in a row the scale doubles.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_COMMON_DYNAMICLOSSSCALE_H
#define AUTOPAR_RUNTIME_COMMON_DYNAMICLOSSSCALE_H

#include <cstdint>

namespace autopar {

struct DynamicLossScale {
  /// The smallest scale: below it, halving cannot help (the forward pass
  /// itself overflows).
  static constexpr double kMinScale = 0x1p-24;

  double scale = 1;
  int64_t interval = 0; ///< finite steps in a row before the scale doubles
  int64_t good = 0;     ///< finite steps in a row since it last changed

  enum class Step { Apply, Skip, TooSmall };

  /// After a step's gradients: apply the step (finite), or skip it and halve
  /// the scale; TooSmall (the scale unchanged) where halving would go below
  /// kMinScale.
  Step update(bool finite) {
    if (!finite) {
      good = 0;
      if (scale * 0.5 < kMinScale)
        return Step::TooSmall;
      scale *= 0.5;
      return Step::Skip;
    }
    if (++good == interval) {
      scale *= 2;
      good = 0;
    }
    return Step::Apply;
  }
};

} // namespace autopar

#endif // AUTOPAR_RUNTIME_COMMON_DYNAMICLOSSSCALE_H
