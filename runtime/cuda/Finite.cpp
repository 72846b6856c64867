//===- Finite.cpp - the finiteness test of a step's gradients -------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// autopar::cuda::allFinite: Finite.cu's kernel (compiled by nvcc into a
// fatbin embedded here) over all the buffers in one launch into one device
// flag, on the legacy default stream after the step's work, and the flag
// read back.
// Without nvcc at build time the kernel is missing and a call ends the
// process saying so.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"
#include "EmbeddedFatbin.h"
#include "FiniteSpan.h"

#include <algorithm>
#include <mutex>

#ifdef AUTOPAR_FINITE_FATBIN
// The fatbin (sm_90 code and compute_80 PTX) as read-only data.
AUTOPAR_EMBED_FATBIN(autopar_finite_fatbin, AUTOPAR_FINITE_FATBIN);
#endif

namespace {
/// The kernel, loaded once.
void *nonfiniteKernel() {
#ifdef AUTOPAR_FINITE_FATBIN
  static void *kernel = [] {
    autopar::cuda::requireDevice("autopar::cuda::allFinite");
    void *module = mgpuModuleLoad(const_cast<char *>(autopar_finite_fatbin), 0);
    return mgpuModuleGetFunction(module, "autopar_nonfinite_spans_f32");
  }();
  return kernel;
#else
  autopar::cuda::fail("autopar::cuda::allFinite: this runtime was built "
                      "without nvcc, so it has no finiteness kernel; "
                      "rebuild with the CUDA toolkit installed");
#endif
}
} // namespace

bool autopar::cuda::allFinite(
    const std::vector<std::pair<const float *, size_t>> &buffers) {
  void *kernel = nonfiniteKernel();
  // 16 elements a thread of 256: a step's 124M gradients (gpt2-small) in
  // some 30 000 blocks, one launch.
  constexpr unsigned long long chunk = 256 * 16;
  unsigned long long blocks = 0;
  std::vector<FiniteSpan> spans = finiteSpans(buffers, chunk, blocks);
  if (spans.empty())
    return true;
  // One flag and one list of spans for the process's tests, one at a time.
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  static void *flag = mgpuMemAlloc(4, nullptr, false);
  static void *list = nullptr;
  static size_t listBytes = 0;
  size_t bytes = spans.size() * sizeof(FiniteSpan);
  if (bytes > listBytes) {
    if (list)
      mgpuMemFree(list, nullptr);
    listBytes = std::max(bytes, size_t(4096));
    list = mgpuMemAlloc(listBytes, nullptr, false);
  }
  copyToDevice(list, spans.data(), bytes);
  mgpuMemset32(flag, 0, 1, nullptr);
  auto count = unsigned(spans.size());
  unsigned long long chunkSize = chunk;
  void *params[] = {&list, &count, &chunkSize, &flag};
  mgpuLaunchKernel(kernel, intptr_t(blocks), 1, 1, 256, 1, 1, 0, nullptr,
                   params, nullptr, 4);
  unsigned value = 0;
  copyToHost(&value, flag, 4);
  return value == 0;
}
