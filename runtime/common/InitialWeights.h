//===- InitialWeights.h - a zoo model's random initial weights --*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// GPT-2's initialization, as autopar-compile gives a zoo model it trains:
// normal with standard deviation 0.02 for matrices and embeddings, ones for
// norm scales, zeros for biases, drawn from one std::mt19937_64 seeded by
// --seed, parameter after parameter in the model's order. Header-only and
// free of LLVM, so that a driver on a machine without LLVM (the GPU device
// check) draws the same weights without carrying them.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_COMMON_INITIALWEIGHTS_H
#define AUTOPAR_RUNTIME_COMMON_INITIALWEIGHTS_H

#include <cstddef>
#include <cstdint>
#include <random>
#include <string_view>

namespace autopar {

class InitialWeights {
public:
  explicit InitialWeights(uint64_t seed) : rng(seed), normal(0.0f, 0.02f) {}

  /// Fills the `count` values of the next parameter, `name`; call it for
  /// every parameter in order.
  void fill(std::string_view name, float *values, size_t count) {
    bool isBias = name.size() >= 5 && name.substr(name.size() - 5) == ".bias";
    bool isNorm = name.find("norm") != std::string_view::npos;
    for (size_t i = 0; i < count; ++i)
      values[i] = isBias ? 0.0f : isNorm ? 1.0f : normal(rng);
  }

private:
  std::mt19937_64 rng;
  std::normal_distribution<float> normal;
};

} // namespace autopar

#endif // AUTOPAR_RUNTIME_COMMON_INITIALWEIGHTS_H
