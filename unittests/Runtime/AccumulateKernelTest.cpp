//===- AccumulateKernelTest.cpp - gradient sums, emulated and on a GPU ----===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// runtime/cuda/Accumulate.cu compiled for the CPU against CudaEmulation.h:
// every element is added and scaled exactly once (a count the grid does not
// divide, elements a thread reaches only by striding), with the host's
// arithmetic bit for bit (float sums; the product in double, rounded).
// Where a GPU is present, OnTheGPU runs the nvcc-compiled kernels through
// autopar::cuda::addInto and scaleBy on the same values.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulation.h"
#include "CudaRuntime.h"

#include <cmath>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "Accumulate.cu"

namespace {
using cuda_emulation::launch;

/// 1000 values that do not sum or scale exactly in float.
std::vector<float> values(float seed) {
  std::vector<float> v(1000);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = std::sin(seed + float(i)) * (1.0f + float(i) / 7.0f);
  return v;
}

/// What autopar-run does on the host: acc += x, then acc *= factor.
std::vector<float> onTheHost(std::vector<float> acc,
                             const std::vector<float> &x, double factor) {
  for (size_t i = 0; i < acc.size(); ++i)
    acc[i] += x[i];
  for (float &a : acc)
    a *= factor;
  return acc;
}

bool sameBits(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

TEST(AccumulateKernel, Emulated) {
  std::vector<float> acc = values(0.5f), x = values(2.0f);
  std::vector<float> expected = onTheHost(acc, x, 1.0 / 3.0);
  // A grid of 3 x 32 threads: 1000 is no multiple of 96.
  auto n = static_cast<unsigned long long>(acc.size());
  launch(autopar_add_f32, Dim3{3, 1, 1}, 32, acc.data(),
         static_cast<const float *>(x.data()), n);
  launch(autopar_scale_f32, Dim3{3, 1, 1}, 32, acc.data(), 1.0 / 3.0, n);
  EXPECT_TRUE(sameBits(acc, expected));
  // Not the same as scaling in float.
  std::vector<float> inFloat = values(0.5f);
  for (size_t i = 0; i < inFloat.size(); ++i)
    inFloat[i] = (inFloat[i] + x[i]) * float(1.0 / 3.0);
  EXPECT_FALSE(sameBits(acc, inFloat));
}

TEST(AccumulateKernel, OnTheGPU) {
  std::string why;
  if (!autopar::cuda::available(why))
    GTEST_SKIP() << "no CUDA GPU here: " << why;
  std::vector<float> acc = values(0.5f), x = values(2.0f);
  std::vector<float> expected = onTheHost(acc, x, 1.0 / 3.0);
  size_t bytes = acc.size() * 4;
  auto *a = static_cast<float *>(mgpuMemAlloc(bytes, nullptr, false));
  auto *b = static_cast<float *>(mgpuMemAlloc(bytes, nullptr, false));
  autopar::cuda::copyToDevice(a, acc.data(), bytes);
  autopar::cuda::copyToDevice(b, x.data(), bytes);
  autopar::cuda::addInto(a, b, acc.size());
  autopar::cuda::scaleBy(a, 1.0 / 3.0, acc.size());
  std::vector<float> back(acc.size());
  autopar::cuda::copyToHost(back.data(), a, bytes);
  EXPECT_TRUE(sameBits(back, expected));
  mgpuMemFree(a, nullptr);
  mgpuMemFree(b, nullptr);
}
} // namespace
