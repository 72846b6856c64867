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
// usage: aot_check gelu_mul LIBRARY.so N
//        aot_check linear_gelu LIBRARY.so M K N
//
//===----------------------------------------------------------------------===//

#include "AotCommon.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {
struct Memref1D {
  float *allocated, *aligned;
  int64_t offset, size, stride;
};
using Fn = void (*)(Memref1D *, Memref1D *, Memref1D *);
struct Memref2D {
  float *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};
using Fn2 = void (*)(Memref2D *, Memref2D *, Memref2D *);

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

/// gelu(a * b) on n floats: every element against the host, and the
/// bandwidth against a device copy.
int geluMul(Fn fn, int64_t n) {
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
    double expected = gelu(x);
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

/// gelu(x w) for x: m x k, w: k x n (the product through cuBLAS): every
/// element against the host in double precision, and the TFLOP/s.
int linearGelu(Fn2 fn, int64_t m, int64_t k, int64_t n) {
  std::vector<float> x(m * k), w(k * n), out(m * n);
  for (int64_t i = 0; i < m * k; ++i)
    x[i] = float((i * 37) % 101 - 50) / 50.0f;
  for (int64_t i = 0; i < k * n; ++i)
    w[i] = float((i * 53) % 97 - 48) / 480.0f;
  void *stream = mgpuStreamCreate();
  auto device = [&](const std::vector<float> *host, int64_t count) {
    auto *p = static_cast<float *>(mgpuMemAlloc(count * 4, stream, false));
    if (host)
      autopar::cuda::copyToDevice(p, host->data(), count * 4);
    return p;
  };
  float *dx = device(&x, m * k), *dw = device(&w, k * n),
        *dout = device(nullptr, m * n);
  Memref2D mx{dx, dx, 0, {m, k}, {k, 1}}, mw{dw, dw, 0, {k, n}, {n, 1}},
      mout{dout, dout, 0, {m, n}, {n, 1}};
  fn(&mx, &mw, &mout);
  mgpuStreamSynchronize(stream);
  autopar::cuda::copyToHost(out.data(), dout, m * n * 4);
  int64_t bad = 0, checked = 0;
  double worst = 0;
  // Every 16th row and the last against the host (all of 2048^3 in double
  // takes minutes on the device machine's CPU), w read transposed.
  std::vector<float> wt(k * n);
  for (int64_t l = 0; l < k; ++l)
    for (int64_t j = 0; j < n; ++j)
      wt[j * k + l] = w[l * n + j];
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < m; i += 16)
    rows.push_back(i);
  if (m > 0 && rows.back() != m - 1)
    rows.push_back(m - 1);
  for (int64_t i : rows)
    for (int64_t j = 0; j < n; ++j, ++checked) {
      double sum = 0, magnitude = 0;
      for (int64_t l = 0; l < k; ++l) {
        double p = double(x[i * k + l]) * double(wt[j * k + l]);
        sum += p;
        magnitude += std::fabs(p);
      }
      double expected = gelu(sum);
      double tolerance = 1e-6 + 1e-5 * std::fabs(expected) + 2e-6 * magnitude;
      double err = std::fabs(out[i * n + j] - expected) / tolerance;
      worst = std::max(worst, err);
      if (err > 1 && bad++ < 5)
        std::printf("element (%lld, %lld): %g, expected %g\n", (long long)i,
                    (long long)j, out[i * n + j], expected);
    }
  std::printf("%s: gelu(x w) for %lldx%lld times %lldx%lld, worst error "
              "%.3f of the tolerance (1e-6 + 1e-5 |expected| + 2e-6 sum |x "
              "w|) in %lld elements checked, %lld outside\n",
              bad ? "FAIL" : "PASS", (long long)m, (long long)k, (long long)k,
              (long long)n, worst, (long long)checked, (long long)bad);
  const int reps = 20;
  double t0 = seconds();
  for (int r = 0; r < reps; ++r)
    fn(&mx, &mw, &mout);
  mgpuStreamSynchronize(stream);
  double t = (seconds() - t0) / reps;
  std::printf("linear_gelu: %.3f ms per call, %.2f TFLOP/s (fp32%s)\n", t * 1e3,
              2.0 * m * n * k / t / 1e12,
              std::getenv("AUTOPAR_CUDA_TF32") ? ", TF32 if set to 1" : "");
  mgpuMemFree(dx, stream);
  mgpuMemFree(dw, stream);
  mgpuMemFree(dout, stream);
  mgpuStreamDestroy(stream);
  return bad ? 1 : 0;
}

int main(int argc, char **argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0); // lines survive a timeout
  std::string mode = argc > 1 ? argv[1] : "";
  if (!((mode == "gelu_mul" && argc == 4) ||
        (mode == "linear_gelu" && argc == 6))) {
    std::fprintf(stderr, "usage: aot_check gelu_mul LIBRARY.so N\n"
                         "       aot_check linear_gelu LIBRARY.so M K N\n");
    return 2;
  }
  if (!aot::gpuPresent())
    return 0;
  void *fn = aot::function(argv[2], mode);
  if (!fn)
    return 1;
  if (mode == "gelu_mul")
    return geluMul(reinterpret_cast<Fn>(fn), std::atoll(argv[3]));
  return linearGelu(reinterpret_cast<Fn2>(fn), std::atoll(argv[3]),
                    std::atoll(argv[4]), std::atoll(argv[5]));
}
