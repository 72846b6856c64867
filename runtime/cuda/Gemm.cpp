//===- Gemm.cpp - contractions on the GPU through cuBLAS ------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// `autopar_cuda_gemm_f32`: the contraction entry point of the CUDA path
// (autopar-contractions-to-calls{function=autopar_cuda_gemm_f32}), and its
// bf16 and f16 siblings `autopar_cuda_gemm_bf16` / `_f16` (half-precision
// A and B, f32 C, through cublasGemmEx with f32 accumulation; every kind
// through cuBLASLt with AUTOPAR_CUDA_GEMM=lt: GemmLt.h), planned
// as row-major GEMMs by runtime/common/ContractionPlan.h and run by cuBLAS,
// opened with dlopen like the driver. cuBLAS is column-major: a row-major
// C = op(A) op(B) is the column-major C^T = op(B)^T op(A)^T, so the operands
// swap. Layouts that need a copy are not handled on the GPU yet (an error
// that says so). A large half-precision GEMM with odd dimensions runs on
// padded copies (runtime/common/GemmPadding.h).
//
//===----------------------------------------------------------------------===//

#include "ContractionPlan.h"
#include "CudaRuntime.h"
#include "GemmLt.h"
#include "GemmPadding.h"

#include <climits>
#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <string>
#include <type_traits>

using namespace autopar::cuda::abi;

namespace {
struct Cublas {
  int (*create)(void **);
  int (*setMathMode)(void *, int);
  int (*sgemm)(void *, int, int, int, int, int, const float *, const float *,
               int, const float *, int, const float *, float *, int);
  int (*gemmEx)(void *, int, int, int, int, int, const void *, const void *,
                int, int, const void *, int, int, const void *, void *, int,
                int, int, int);
  int (*sgemmBatched)(void *, int, int, int, int, int, const float *,
                      const float *, int, long long, const float *, int,
                      long long, const float *, float *, int, long long, int);
  int (*gemmBatchedEx)(void *, int, int, int, int, int, const void *,
                       const void *, int, int, long long, const void *, int,
                       int, long long, const void *, void *, int, int,
                       long long, int, int, int);
  const char *(*statusString)(int);
  void *handle = nullptr;
};

/// AUTOPAR_CUDA_TF32=1: f32 products on the TF32 tensor cores (cuBLAS's
/// math mode, cuBLASLt's compute type).
bool useTF32() {
  static const bool tf32 = [] {
    const char *text = std::getenv("AUTOPAR_CUDA_TF32");
    return text && std::string(text) == "1";
  }();
  return tf32;
}

/// cuBLASLt's compute type for f32 products.
int f32Compute() {
  return useTF32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

/// cuBLAS and one handle, opened at the first contraction.
Cublas &cublas() {
  static Cublas c;
  static std::once_flag once;
  std::call_once(once, [] {
    void *library = nullptr;
    for (const char *name :
         {"libcublas.so.13", "libcublas.so.12", "libcublas.so"})
      if ((library = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        break;
    if (!library)
      autopar::cuda::fail(std::string("autopar_cuda_gemm: cuBLAS "
                                      "(libcublas.so.13) is not installed: ") +
                          dlerror());
    auto get = [&](const char *name) {
      void *f = dlsym(library, name);
      if (!f)
        autopar::cuda::fail(std::string("autopar_cuda_gemm: cuBLAS lacks ") +
                            name);
      return f;
    };
    c.create = reinterpret_cast<decltype(c.create)>(get("cublasCreate_v2"));
    c.setMathMode =
        reinterpret_cast<decltype(c.setMathMode)>(get("cublasSetMathMode"));
    c.sgemm = reinterpret_cast<decltype(c.sgemm)>(get("cublasSgemm_v2"));
    c.gemmEx = reinterpret_cast<decltype(c.gemmEx)>(get("cublasGemmEx"));
    c.sgemmBatched = reinterpret_cast<decltype(c.sgemmBatched)>(
        get("cublasSgemmStridedBatched"));
    c.gemmBatchedEx = reinterpret_cast<decltype(c.gemmBatchedEx)>(
        get("cublasGemmStridedBatchedEx"));
    c.statusString = reinterpret_cast<decltype(c.statusString)>(
        get("cublasGetStatusString"));
    if (int s = c.create(&c.handle); s != CUBLAS_STATUS_SUCCESS)
      autopar::cuda::fail(std::string("autopar_cuda_gemm: cublasCreate "
                                      "failed: ") +
                          c.statusString(s));
    c.setMathMode(c.handle,
                  useTF32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
  });
  return c;
}

/// AUTOPAR_CUDA_GEMM_PAD: 0 runs every half-precision GEMM as it is, 1
/// pads every unaligned one, unset (or anything else) pads those whose work
/// is large against the copies (runtime/common/GemmPadding.h).
int padding() {
  static const int force = [] {
    const char *text = std::getenv("AUTOPAR_CUDA_GEMM_PAD");
    std::string v = text ? text : "";
    return v == "0" ? 0 : v == "1" ? 1 : -1;
  }();
  return force;
}

/// The scratch and copies of a padded GEMM, in stream order on the legacy
/// default stream (cuBLAS's).
struct DevicePadding {
  void *alloc(size_t bytes) { return mgpuMemAlloc(bytes, nullptr, false); }
  void free(void *p) { mgpuMemFree(p, nullptr); }
  void copy2D(void *dst, size_t dstPitch, const void *src, size_t srcPitch,
              size_t width, size_t rows) {
    autopar::cuda::copy2D(dst, dstPitch, src, srcPitch, width, rows);
  }
  void zero2D(void *dst, size_t pitch, size_t width, size_t rows) {
    autopar::cuda::zero2D(dst, pitch, width, rows);
  }
};

/// Row-major GEMMs on cuBLAS, C (f32) += A B with A and B of `In`: f32
/// through cublasSgemm, bf16 or f16 (`In` = uint16_t, `inType` naming
/// which) through cublasGemmEx on the tensor cores, accumulating in f32.
/// No copies, but for a half-precision GEMM with dimensions that are not
/// multiples of 8 (GemmPadding.h).
template <typename In, typename Out = float> struct CublasBackend {
  int inType = CUDA_R_32F;
  /// C's type: f32, or (`Out` = uint16_t) the inputs' half-precision type,
  /// cuBLAS rounding the f32 sums once.
  static constexpr bool narrowC = !std::is_same_v<Out, float>;
  /// 0 to overwrite C: each element of C is in exactly one GEMM (the K
  /// loops are all inside one, C is never packed here).
  float beta = 1.0f;
  std::string error;
  void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
            const In *a, int64_t lda, const In *b, int64_t ldb, Out *c,
            int64_t ldc) {
    gemmBatched(transA, transB, m, n, k, a, lda, 0, b, ldb, 0, c, ldc, 0, 1);
  }
  /// `count` GEMMs, the i-th on a + i strideA, b + i strideB, c + i
  /// strideC (elements): one cuBLAS call (strided-batched when count > 1).
  void gemmBatched(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
                   const In *a, int64_t lda, int64_t strideA, const In *b,
                   int64_t ldb, int64_t strideB, Out *c, int64_t ldc,
                   int64_t strideC, int64_t count) {
    if (!error.empty())
      return;
    for (int64_t v : {m, n, k, lda, ldb, ldc, count})
      if (v > INT_MAX) {
        error = "a matrix dimension or batch count exceeds cuBLAS's 32-bit "
                "sizes";
        return;
      }
    if (m == 0 || n == 0 || count == 0)
      return;
    Cublas &cb = cublas();
    const float one = 1.0f;
    // Column-major C^T (n x m) = op(B)^T (n x k) op(A)^T (k x m) + beta C^T.
    int opB = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    int opA = transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    void *token = autopar::cuda::profileBegin(nullptr);
    constexpr bool f32 = std::is_same_v<In, float>;
    static_assert(!f32 || !narrowC, "f32 products have f32 results");
    const int cType = narrowC ? inType : CUDA_R_32F;
    int s = CUBLAS_STATUS_SUCCESS;
    std::string padded;
    // With AUTOPAR_CUDA_GEMM=lt every call below goes to cuBLASLt instead
    // (GemmLt.h: the same column-major GEMM).
    // One half-precision GEMM: cublasGemmEx, on aligned copies where
    // GemmPadding.h's plan says so.
    const bool lt = autopar::cuda::useCublasLt();
    std::string ltError;
    auto one16 = [&](bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                     const In *a, int64_t lda, const In *b, int64_t ldb, Out *c,
                     int64_t ldc) {
      if (lt)
        s = autopar::cuda::ltMatmul(
            tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
            int(n), int(m), int(k), b, int(ldb), 0, a, int(lda), 0, beta, c,
            int(ldc), 0, 1, inType, cType, CUBLAS_COMPUTE_32F, ltError);
      else
        s = cb.gemmEx(cb.handle, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                      ta ? CUBLAS_OP_T : CUBLAS_OP_N, int(n), int(m), int(k),
                      &one, b, inType, int(ldb), a, inType, int(lda), &beta, c,
                      cType, int(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    };
    if (count == 1) {
      if constexpr (f32) {
        if (lt)
          s = autopar::cuda::ltMatmul(opB, opA, int(n), int(m), int(k), b,
                                      int(ldb), 0, a, int(lda), 0, beta, c,
                                      int(ldc), 0, 1, CUDA_R_32F, CUDA_R_32F,
                                      f32Compute(), ltError);
        else
          s = cb.sgemm(cb.handle, opB, opA, int(n), int(m), int(k), &one, b,
                       int(ldb), a, int(lda), &beta, c, int(ldc));
      } else {
        autopar::runtime::GemmShape shape{transA,
                                          transB,
                                          m,
                                          n,
                                          k,
                                          lda,
                                          ldb,
                                          ldc,
                                          reinterpret_cast<uintptr_t>(a),
                                          reinterpret_cast<uintptr_t>(b),
                                          reinterpret_cast<uintptr_t>(c)};
        autopar::runtime::GemmPadding plan = autopar::runtime::planGemmPadding(
            shape, sizeof(In), beta != 0.0f, padding(), sizeof(Out));
        if (plan.pad) {
          DevicePadding device;
          autopar::runtime::runPaddedGemm(device, shape, plan, a, b, c,
                                          beta != 0.0f, one16);
          padded = " (padded to " + std::to_string(plan.m) + "x" +
                   std::to_string(plan.n) + "x" + std::to_string(plan.k) + ")";
        } else {
          one16(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
        }
      }
    } else if (lt) {
      s = autopar::cuda::ltMatmul(
          opB, opA, int(n), int(m), int(k), b, int(ldb), strideB, a, int(lda),
          strideA, beta, c, int(ldc), strideC, int(count), inType, cType,
          f32 ? f32Compute() : CUBLAS_COMPUTE_32F, ltError);
    } else if constexpr (f32) {
      s = cb.sgemmBatched(cb.handle, opB, opA, int(n), int(m), int(k), &one, b,
                          int(ldb), strideB, a, int(lda), strideA, &beta, c,
                          int(ldc), strideC, int(count));
    } else {
      s = cb.gemmBatchedEx(cb.handle, opB, opA, int(n), int(m), int(k), &one, b,
                           inType, int(ldb), strideB, a, inType, int(lda),
                           strideA, &beta, c, cType, int(ldc), strideC,
                           int(count), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    }
    std::string what = f32                     ? "sgemm"
                       : inType == CUDA_R_16BF ? "bf16 gemm"
                                               : "f16 gemm";
    if (narrowC)
      what +=
          " (" + std::string(inType == CUDA_R_16BF ? "bf16" : "f16") + " out)";
    if (token)
      autopar::cuda::profileEnd(
          token, nullptr,
          (lt ? "cuBLASLt " : "cuBLAS ") + what + " " +
              (count > 1 ? std::to_string(count) + " x " : std::string()) +
              std::to_string(m) + "x" + std::to_string(n) + "x" +
              std::to_string(k) + (transA ? " A^T" : "") +
              (transB ? " B^T" : "") + padded);
    if (s != CUBLAS_STATUS_SUCCESS)
      error = lt ? "cuBLASLt " + what + ": " + ltError
                 : "cuBLAS " + what + " failed: " + cb.statusString(s);
  }
  template <typename T>
  const T *
  pack(int, const T *,
       const std::vector<const autopar::runtime::ContractionLoop *> &) {
    return nullptr;
  }
  void unpack(Out *, const Out *,
              const std::vector<const autopar::runtime::ContractionLoop *> &) {}
};

/// A ranked descriptor seen through an unranked one: rank, sizes, strides
/// and the first element (`elementBytes` wide).
struct Operand {
  int64_t rank;
  char *data;
  const int64_t *sizes, *strides;
  Operand(const AutoParUnrankedF32 &u, size_t elementBytes) : rank(u.rank) {
    auto *fields = static_cast<char *>(u.descriptor);
    char *aligned = *reinterpret_cast<char **>(fields + sizeof(void *));
    int64_t offset = *reinterpret_cast<int64_t *>(fields + 2 * sizeof(void *));
    sizes = reinterpret_cast<const int64_t *>(fields + 2 * sizeof(void *) +
                                              sizeof(int64_t));
    strides = sizes + rank;
    data = aligned + offset * int64_t(elementBytes);
  }
};

/// C (f32, or `Out`) += A B, A and B holding `In`.
template <typename In, typename Out = float>
void gemm(const char *name, int inType, AutoParUnrankedF32 *a,
          AutoParUnrankedF32 *b, AutoParUnrankedF32 *c, AutoParSpec *spec) {
  autopar::cuda::requireDevice(name);
  Operand operands[3] = {Operand(*a, sizeof(In)), Operand(*b, sizeof(In)),
                         Operand(*c, sizeof(Out))};
  std::vector<autopar::runtime::ContractionLoop> loops;
  bool overwrite = false;
  std::string error =
      autopar::runtime::describeLoops(operands, *spec, loops, &overwrite);
  CublasBackend<In, Out> backend;
  backend.inType = inType;
  backend.beta = overwrite ? 0.0f : 1.0f;
  // A half-precision C is only ever written whole: adding into it would
  // round twice.
  if (error.empty() && CublasBackend<In, Out>::narrowC && !overwrite)
    error = "a half-precision C must be overwritten (the loop description "
            "ends in 1)";
  if (error.empty())
    error = autopar::runtime::contractWith(
        backend, reinterpret_cast<const In *>(operands[0].data),
        reinterpret_cast<const In *>(operands[1].data),
        reinterpret_cast<Out *>(operands[2].data), loops);
  if (error.empty())
    error = backend.error;
  if (!error.empty())
    autopar::cuda::fail(std::string(name) + ": " + error);
}
} // namespace

extern "C" void _mlir_ciface_autopar_cuda_gemm_f32(AutoParUnrankedF32 *a,
                                                   AutoParUnrankedF32 *b,
                                                   AutoParUnrankedF32 *c,
                                                   AutoParSpec *spec) {
  gemm<float>("autopar_cuda_gemm_f32", CUDA_R_32F, a, b, c, spec);
}

extern "C" void _mlir_ciface_autopar_cuda_gemm_bf16(AutoParUnrankedF32 *a,
                                                    AutoParUnrankedF32 *b,
                                                    AutoParUnrankedF32 *c,
                                                    AutoParSpec *spec) {
  gemm<uint16_t>("autopar_cuda_gemm_bf16", CUDA_R_16BF, a, b, c, spec);
}

extern "C" void _mlir_ciface_autopar_cuda_gemm_f16(AutoParUnrankedF32 *a,
                                                   AutoParUnrankedF32 *b,
                                                   AutoParUnrankedF32 *c,
                                                   AutoParSpec *spec) {
  gemm<uint16_t>("autopar_cuda_gemm_f16", CUDA_R_16F, a, b, c, spec);
}

extern "C" void _mlir_ciface_autopar_cuda_gemm_bf16_c16(AutoParUnrankedF32 *a,
                                                        AutoParUnrankedF32 *b,
                                                        AutoParUnrankedF32 *c,
                                                        AutoParSpec *spec) {
  gemm<uint16_t, uint16_t>("autopar_cuda_gemm_bf16_c16", CUDA_R_16BF, a, b, c,
                           spec);
}

extern "C" void _mlir_ciface_autopar_cuda_gemm_f16_c16(AutoParUnrankedF32 *a,
                                                       AutoParUnrankedF32 *b,
                                                       AutoParUnrankedF32 *c,
                                                       AutoParSpec *spec) {
  gemm<uint16_t, uint16_t>("autopar_cuda_gemm_f16_c16", CUDA_R_16F, a, b, c,
                           spec);
}
