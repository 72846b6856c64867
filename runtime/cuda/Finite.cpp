//===- Finite.cpp - the finiteness test of a step's gradients -------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// autopar::cuda::allFinite: Finite.cu's kernel (compiled by nvcc into a
// fatbin embedded here) over each buffer into one device flag, on the
// legacy default stream after the step's work, and the flag read back.
// Without nvcc at build time the kernel is missing and a call ends the
// process saying so.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"
#include "EmbeddedFatbin.h"

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
    return mgpuModuleGetFunction(module, "autopar_nonfinite_f32");
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
  // One flag for the process's tests, one at a time.
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  static void *flag = mgpuMemAlloc(4, nullptr, false);
  mgpuMemset32(flag, 0, 1, nullptr);
  for (auto [data, count] : buffers) {
    if (!count)
      continue;
    unsigned long long n = count;
    const float *pointer = data;
    void *params[] = {&pointer, &n, &flag};
    // Enough blocks of 256 threads to fill an H100 a few times over; each
    // thread strides over the rest.
    size_t blocks = std::min<size_t>((count + 255) / 256, 2048);
    mgpuLaunchKernel(kernel, intptr_t(blocks), 1, 1, 256, 1, 1, 0, nullptr,
                     params, nullptr, 3);
  }
  unsigned value = 0;
  copyToHost(&value, flag, 4);
  return value == 0;
}
