//===- blas-compare.cpp - sgemm rate of the BLAS libraries on this machine ===//
//
// Part of the autopar project.
//
// Loads each candidate library with dlopen (so that none has to be installed
// as the system's libblas.so.3), checks its sgemm against a float64 reference
// and prints GFLOP/s for the matrix shapes a small GPT's training step uses.
//
//   blas-compare THREADS NAME=PATH...
//
// NAME is `fortran` (sgemm_), `dnnl` (dnnl_sgemm), prefixed by a label:
//   blas-compare 2 openblas:fortran=/path/libopenblas.so.0 dnnl:dnnl=...
//
//===----------------------------------------------------------------------===//

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <random>
#include <string>
#include <vector>

namespace {
using FortranSgemm = void (*)(const char *, const char *, const int *,
                              const int *, const int *, const float *,
                              const float *, const int *, const float *,
                              const int *, const float *, float *, const int *);
using DnnlSgemm = int (*)(char, char, long, long, long, float, const float *,
                          long, const float *, long, float, float *, long);

struct Library {
  std::string label;
  FortranSgemm fortran = nullptr;
  DnnlSgemm dnnl = nullptr;

  /// Row-major C[M,N] = A[M,K] * B[K,N] (beta 0).
  void gemm(int m, int n, int k, const float *a, const float *b,
            float *c) const {
    if (dnnl) {
      dnnl('N', 'N', m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
      return;
    }
    // Column-major view: C^T[N,M] = B^T[N,K] * A^T[K,M].
    float one = 1.0f, zero = 0.0f;
    fortran("N", "N", &n, &m, &k, &one, b, &n, a, &k, &zero, c, &n);
  }
};
} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: blas-compare THREADS LABEL:KIND=PATH...\n"
                         "  KIND is fortran (sgemm_) or dnnl (dnnl_sgemm)\n");
    return 1;
  }
  const char *threads = argv[1];
  for (const char *var : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                          "BLIS_NUM_THREADS", "MKL_NUM_THREADS"})
    setenv(var, threads, 1);

  std::vector<Library> libs;
  for (int i = 2; i < argc; ++i) {
    std::string spec = argv[i];
    size_t colon = spec.find(':'), eq = spec.find('=');
    if (colon == std::string::npos || eq == std::string::npos || eq < colon) {
      std::fprintf(stderr, "blas-compare: bad library spec '%s'\n", argv[i]);
      return 1;
    }
    Library lib;
    lib.label = spec.substr(0, colon);
    std::string kind = spec.substr(colon + 1, eq - colon - 1);
    std::string path = spec.substr(eq + 1);
    void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      std::fprintf(stderr, "blas-compare: %s: %s (skipped)\n",
                   lib.label.c_str(), dlerror());
      continue;
    }
    if (kind == "dnnl")
      lib.dnnl = reinterpret_cast<DnnlSgemm>(dlsym(handle, "dnnl_sgemm"));
    else
      lib.fortran = reinterpret_cast<FortranSgemm>(dlsym(handle, "sgemm_"));
    if (!lib.dnnl && !lib.fortran) {
      std::fprintf(stderr, "blas-compare: %s has no sgemm (skipped)\n",
                   lib.label.c_str());
      continue;
    }
    libs.push_back(lib);
  }

  // Shapes of a GPT training step with hidden 256/512, 2048 tokens per step:
  // QKV / projection / MLP forward, and the weight gradient (K = tokens).
  struct Shape {
    int m, n, k;
  };
  const Shape shapes[] = {{2048, 768, 256},  {2048, 256, 1024},
                          {256, 1024, 2048}, {2048, 1536, 512},
                          {512, 2048, 2048}, {128, 128, 64}};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::printf("threads %s\n%-10s", threads, "library");
  for (const Shape &s : shapes)
    std::printf(" %5dx%-4dx%-5d", s.m, s.n, s.k);
  std::printf("   (GFLOP/s, M x N x K)\n");
  for (const Library &lib : libs) {
    std::printf("%-10s", lib.label.c_str());
    for (const Shape &s : shapes) {
      std::vector<float> a(size_t(s.m) * s.k), b(size_t(s.k) * s.n),
          c(size_t(s.m) * s.n);
      for (float &v : a)
        v = dist(rng);
      for (float &v : b)
        v = dist(rng);
      lib.gemm(s.m, s.n, s.k, a.data(), b.data(), c.data());
      // Correctness on a sample of entries, against float64.
      double worst = 0;
      for (int t = 0; t < 64; ++t) {
        int i = (t * 7919) % s.m, j = (t * 104729) % s.n;
        double ref = 0, mag = 0;
        for (int p = 0; p < s.k; ++p) {
          ref += double(a[size_t(i) * s.k + p]) * b[size_t(p) * s.n + j];
          mag += std::fabs(double(a[size_t(i) * s.k + p]) *
                           b[size_t(p) * s.n + j]);
        }
        worst = std::max(worst, std::fabs(c[size_t(i) * s.n + j] - ref) / mag);
      }
      if (worst > 1e-5) {
        std::printf(" %16s", "WRONG");
        continue;
      }
      auto start = std::chrono::steady_clock::now();
      int reps = 0;
      double elapsed = 0;
      do {
        lib.gemm(s.m, s.n, s.k, a.data(), b.data(), c.data());
        ++reps;
        elapsed = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      } while (elapsed < 0.3);
      double gflops = 2.0 * s.m * s.n * s.k * reps / elapsed / 1e9;
      std::printf(" %16.1f", gflops);
    }
    std::printf("\n");
  }
  return 0;
}
