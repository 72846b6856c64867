//===- aot_check.cpp - run an ahead-of-time compiled GPU function ---------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The device machines have no LLVM or MLIR: prepare.sh lowers a model
// function with autopar-lower-to-cuda here, compiles the host code with llc
// into a shared object (the kernels' PTX inside, loaded by its constructor
// through the runtime) and builds this driver, which needs only the runtime.
// It runs the function on device buffers, compares every element with the
// host, and times it against a device-to-device copy of the same bytes (the
// bandwidth peer of an elementwise kernel).
//
// usage: aot_check LIBRARY.so N
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <vector>

namespace {
struct Memref1D {
  float *allocated, *aligned;
  int64_t offset, size, stride;
};
using Fn = void (*)(Memref1D *, Memref1D *, Memref1D *);

double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: aot_check LIBRARY.so N\n");
    return 2;
  }
  std::string why;
  if (!autopar::cuda::available(why)) {
    std::printf("SKIP: no CUDA GPU: %s\n", why.c_str());
    return 0;
  }
  void *library = dlopen(argv[1], RTLD_NOW);
  if (!library) {
    std::fprintf(stderr, "FAIL: %s\n", dlerror());
    return 1;
  }
  auto fn = reinterpret_cast<Fn>(dlsym(library, "_mlir_ciface_gelu_mul"));
  if (!fn) {
    std::fprintf(stderr, "FAIL: no _mlir_ciface_gelu_mul in %s\n", argv[1]);
    return 1;
  }
  int64_t n = std::atoll(argv[2]);
  std::vector<float> a(n), b(n), out(n);
  for (int64_t i = 0; i < n; ++i) {
    a[i] = float(i % 2001 - 1000) / 100.0f;
    b[i] = 0.5f + float(i % 7) / 7.0f;
  }
  void *stream = mgpuStreamCreate();
  auto device = [&](const std::vector<float> *host) {
    auto *p = static_cast<float *>(mgpuMemAlloc(n * 4, stream, false));
    if (host)
      autopar::cuda::copyToDevice(p, host->data(), n * 4);
    return p;
  };
  float *da = device(&a), *db = device(&b), *dout = device(nullptr);
  Memref1D ma{da, da, 0, n, 1}, mb{db, db, 0, n, 1}, mout{dout, dout, 0, n, 1};
  fn(&ma, &mb, &mout); // also loads the module
  autopar::cuda::copyToHost(out.data(), dout, n * 4);
  int64_t bad = 0;
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double x = double(a[i]) * double(b[i]);
    double expected = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    double err =
        std::fabs(out[i] - expected) / (1e-6 + 1e-5 * std::fabs(expected));
    worst = std::max(worst, err);
    if (err > 1 && bad++ < 5)
      std::printf("element %lld: %g, expected %g\n", (long long)i, out[i],
                  expected);
  }
  std::printf("%s: gelu(a * b) on %lld floats, worst error %.3f of the "
              "tolerance (1e-6 + 1e-5 |expected|), %lld elements outside\n",
              bad ? "FAIL" : "PASS", (long long)n, worst, (long long)bad);
  // Timing: the generated kernel (reads 2n, writes n floats) against a
  // device-to-device copy of 2n floats (reads 2n, writes 2n).
  const int reps = 20;
  double t0 = seconds();
  for (int r = 0; r < reps; ++r)
    fn(&ma, &mb, &mout);
  double kernel = (seconds() - t0) / reps;
  void *big = mgpuMemAlloc(2 * n * 4, stream, false);
  void *big2 = mgpuMemAlloc(2 * n * 4, stream, false);
  mgpuMemcpy(big2, big, 2 * n * 4, stream);
  mgpuStreamSynchronize(stream);
  t0 = seconds();
  for (int r = 0; r < reps; ++r)
    mgpuMemcpy(big2, big, 2 * n * 4, stream);
  mgpuStreamSynchronize(stream);
  double copy = (seconds() - t0) / reps;
  double kernelGBs = 3.0 * n * 4 / kernel / 1e9,
         copyGBs = 4.0 * n * 4 / copy / 1e9;
  std::printf("gelu_mul: %.3f ms per call (host launch and stream sync "
              "included), %.0f GB/s; device copy %.0f GB/s; ratio %.2f\n",
              kernel * 1e3, kernelGBs, copyGBs, kernelGBs / copyGBs);
  return bad ? 1 : 0;
}
