//===- FiniteKernelTest.cpp - the finiteness kernel, emulated and on a GPU ===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// runtime/cuda/Finite.cu compiled for the CPU against CudaEmulation.h: the
// flag is set exactly when a buffer holds a NaN or an infinity, wherever it
// sits (the first element, the last of a count that the chunks do not
// divide, one a thread reaches only by striding; in any of many buffers
// tested at once) and not for the largest finite floats or subnormals. Where a
// GPU is present, OnTheGPU runs the nvcc-compiled kernel through
// autopar::cuda::allFinite on the same cases.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulation.h"
#include "CudaRuntime.h"

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "Finite.cu"

namespace {
using cuda_emulation::launch;

/// Buffers of `count` ones with `bad` at each of `where`.
std::vector<float> buffer(size_t count, std::vector<size_t> where, float bad) {
  std::vector<float> v(count, 1.0f);
  for (size_t i : where)
    v[i] = bad;
  return v;
}

/// The emulated kernel over `buffers` in chunks of `chunk` elements, blocks
/// of `threads` (fewer threads than a chunk's elements: each strides).
bool emulatedFinite(const std::vector<const std::vector<float> *> &buffers,
                    unsigned long long chunk, int threads) {
  std::vector<std::pair<const float *, size_t>> list;
  for (const std::vector<float> *v : buffers)
    list.push_back({v->data(), v->size()});
  unsigned long long blocks = 0;
  std::vector<autopar::cuda::FiniteSpan> spans =
      autopar::cuda::finiteSpans(list, chunk, blocks);
  if (spans.empty())
    return true;
  unsigned flag = 0;
  launch(autopar_nonfinite_spans_f32, Dim3{unsigned(blocks), 1, 1}, threads,
         static_cast<const autopar::cuda::FiniteSpan *>(spans.data()),
         unsigned(spans.size()), chunk, &flag);
  return flag == 0;
}

struct Case {
  const char *name;
  std::vector<float> values;
  bool finite;
};

std::vector<Case> cases() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  // 1000 elements for a grid of 3 x 32 threads: 1000 is no multiple of 96.
  return {
      {"all finite", buffer(1000, {}, 0), true},
      {"the largest floats and subnormals",
       buffer(1000, {0, 500, 999}, FLT_MAX), true},
      {"subnormals", buffer(1000, {1, 998}, -FLT_MIN / 4), true},
      {"NaN first", buffer(1000, {0}, nan), false},
      {"NaN last", buffer(1000, {999}, nan), false},
      {"infinity reached by striding", buffer(1000, {96 * 7 + 5}, inf), false},
      {"minus infinity", buffer(1000, {313}, -inf), false},
      {"empty", {}, true},
  };
}

TEST(FiniteKernel, Emulated) {
  // Chunks of 96 (1000 is no multiple of them) for blocks of 32 threads.
  for (const Case &c : cases())
    EXPECT_EQ(emulatedFinite({&c.values}, 96, 32), c.finite) << c.name;
}

// Many buffers in one launch, as a step's gradients go: each block finds
// its own buffer (empty ones take no block), and a bad value anywhere in
// any of them, and only there, sets the flag.
TEST(FiniteKernel, EmulatedManyBuffers) {
  std::vector<Case> all = cases();
  std::vector<const std::vector<float> *> good;
  for (const Case &c : all)
    if (c.finite)
      good.push_back(&c.values);
  EXPECT_TRUE(emulatedFinite(good, 96, 32));
  for (const Case &c : all) {
    if (c.finite)
      continue;
    // The bad buffer between the good ones, and last.
    std::vector<const std::vector<float> *> middle = good, last = good;
    middle.insert(middle.begin() + 2, &c.values);
    last.push_back(&c.values);
    EXPECT_FALSE(emulatedFinite(middle, 96, 32)) << c.name;
    EXPECT_FALSE(emulatedFinite(last, 96, 32)) << c.name;
  }
  // The spans: one a non-empty buffer, their first blocks in order.
  std::vector<float> a(200), b(96), empty;
  unsigned long long blocks = 0;
  auto spans = autopar::cuda::finiteSpans(
      {{a.data(), a.size()}, {empty.data(), 0}, {b.data(), b.size()}}, 96,
      blocks);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].firstBlock, 0u);
  EXPECT_EQ(spans[1].firstBlock, 3u);
  EXPECT_EQ(blocks, 4u);
}

TEST(FiniteKernel, OnTheGPU) {
  std::string why;
  if (!autopar::cuda::available(why))
    GTEST_SKIP() << "no CUDA GPU here: " << why;
  // Every case in its own buffer, then all of them at once.
  std::vector<std::pair<const float *, size_t>> all;
  std::vector<void *> allocations;
  bool allGood = true;
  for (const Case &c : cases()) {
    size_t bytes = c.values.size() * 4;
    void *device = mgpuMemAlloc(bytes ? bytes : 4, nullptr, false);
    allocations.push_back(device);
    if (bytes)
      autopar::cuda::copyToDevice(device, c.values.data(), bytes);
    std::pair<const float *, size_t> one = {static_cast<float *>(device),
                                            c.values.size()};
    EXPECT_EQ(autopar::cuda::allFinite({one}), c.finite) << c.name;
    all.push_back(one);
    allGood = allGood && c.finite;
  }
  EXPECT_EQ(autopar::cuda::allFinite(all), allGood);
  for (void *device : allocations)
    mgpuMemFree(device, nullptr);
}
} // namespace
