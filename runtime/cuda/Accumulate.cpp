//===- Accumulate.cpp - sums and scalings of f32 gradients ----------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// autopar::cuda::addInto and scaleBy: Accumulate.cu's kernels (compiled by
// nvcc into a fatbin embedded here) on the legacy default stream, after
// the work queued before them. Without nvcc at build time the kernels are
// missing and a call ends the process saying so.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"
#include "EmbeddedFatbin.h"

#include <algorithm>

#ifdef AUTOPAR_ACCUMULATE_FATBIN
// The fatbin (sm_90 code and compute_80 PTX) as read-only data.
AUTOPAR_EMBED_FATBIN(autopar_accumulate_fatbin, AUTOPAR_ACCUMULATE_FATBIN);
#endif

namespace {
/// Kernel `name` of the fatbin, which is loaded once.
void *accumulateKernel(const char *name) {
#ifdef AUTOPAR_ACCUMULATE_FATBIN
  static void *module = [] {
    autopar::cuda::requireDevice("autopar::cuda::addInto");
    return mgpuModuleLoad(const_cast<char *>(autopar_accumulate_fatbin), 0);
  }();
  return mgpuModuleGetFunction(module, name);
#else
  autopar::cuda::fail(std::string("autopar::cuda::addInto: this runtime was "
                                  "built without nvcc, so it has no ") +
                      name +
                      " kernel; rebuild with the CUDA toolkit "
                      "installed");
#endif
}

/// Launches `kernel` over `count` elements: enough blocks of 256 threads
/// to fill an H100 a few times over, each thread striding over the rest.
void launch(void *kernel, size_t count, void **params) {
  size_t blocks = std::min<size_t>((count + 255) / 256, 2048);
  mgpuLaunchKernel(kernel, intptr_t(blocks), 1, 1, 256, 1, 1, 0, nullptr,
                   params, nullptr, 3);
}
} // namespace

void autopar::cuda::addInto(float *acc, const float *x, size_t count) {
  static void *kernel = accumulateKernel("autopar_add_f32");
  if (!count)
    return;
  unsigned long long n = count;
  void *params[] = {&acc, &x, &n};
  launch(kernel, count, params);
}

void autopar::cuda::scaleBy(float *acc, double factor, size_t count) {
  static void *kernel = accumulateKernel("autopar_scale_f32");
  if (!count)
    return;
  unsigned long long n = count;
  void *params[] = {&acc, &factor, &n};
  launch(kernel, count, params);
}
