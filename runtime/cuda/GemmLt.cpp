//===- GemmLt.cpp - half-precision products through cuBLASLt --------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// With AUTOPAR_CUDA_GEMM=lt the products of Gemm.cpp go through
// cublasLtMatmul instead of cuBLAS's GEMMs (cublasSgemm, cublasGemmEx and
// their strided-batched forms): the same column-major GEMM (f32
// accumulation and scale; TF32 where AUTOPAR_CUDA_TF32=1 asks), described
// by a matmul descriptor and three layouts (batched by the layouts'
// count and strides), with the first algorithm cuBLASLt's heuristic offers
// for the shape, the operands' alignments and a 32 MiB workspace. The
// descriptors and the algorithm are made once per shape and kept. cuBLASLt
// is opened with dlopen, like cuBLAS (which depends on it, so it is
// present wherever cuBLAS is).
//
//===----------------------------------------------------------------------===//

#include "GemmLt.h"

#include "CudaRuntime.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <tuple>
#include <type_traits>

using namespace autopar::cuda::abi;

namespace {
struct CublasLt {
  int (*create)(void **);
  int (*descCreate)(void **, int, int);
  int (*descSetAttribute)(void *, int, const void *, size_t);
  int (*layoutCreate)(void **, int, uint64_t, uint64_t, int64_t);
  int (*layoutSetAttribute)(void *, int, const void *, size_t);
  int (*preferenceCreate)(void **);
  int (*preferenceSetAttribute)(void *, int, const void *, size_t);
  int (*preferenceDestroy)(void *);
  int (*heuristic)(void *, void *, void *, void *, void *, void *, void *, int,
                   CublasLtHeuristicResult *, int *);
  int (*matmul)(void *, void *, const void *, const void *, void *,
                const void *, void *, const void *, const void *, void *,
                void *, void *, const void *, void *, size_t, void *);
  const char *(*statusString)(int);
  void *handle = nullptr;
  void *workspace = nullptr;
};

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

/// cuBLASLt, one handle and the workspace, opened at the first product.
CublasLt &cublasLt() {
  static CublasLt c;
  static std::once_flag once;
  std::call_once(once, [] {
    void *library = nullptr;
    for (const char *name :
         {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"})
      if ((library = dlopen(name, RTLD_NOW | RTLD_LOCAL)))
        break;
    if (!library)
      autopar::cuda::fail(
          std::string("autopar_cuda_gemm: cuBLASLt "
                      "(libcublasLt.so.13) is not installed: ") +
          dlerror());
    auto get = [&](auto &f, const char *name) {
      f = reinterpret_cast<std::remove_reference_t<decltype(f)>>(
          dlsym(library, name));
      if (!f)
        autopar::cuda::fail(std::string("autopar_cuda_gemm: cuBLASLt lacks ") +
                            name);
    };
    get(c.create, "cublasLtCreate");
    get(c.descCreate, "cublasLtMatmulDescCreate");
    get(c.descSetAttribute, "cublasLtMatmulDescSetAttribute");
    get(c.layoutCreate, "cublasLtMatrixLayoutCreate");
    get(c.layoutSetAttribute, "cublasLtMatrixLayoutSetAttribute");
    get(c.preferenceCreate, "cublasLtMatmulPreferenceCreate");
    get(c.preferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute");
    get(c.preferenceDestroy, "cublasLtMatmulPreferenceDestroy");
    get(c.heuristic, "cublasLtMatmulAlgoGetHeuristic");
    get(c.matmul, "cublasLtMatmul");
    get(c.statusString, "cublasLtGetStatusString");
    if (int s = c.create(&c.handle); s != CUBLAS_STATUS_SUCCESS)
      autopar::cuda::fail(std::string("autopar_cuda_gemm: cublasLtCreate "
                                      "failed: ") +
                          c.statusString(s));
    c.workspace = mgpuMemAlloc(kWorkspaceBytes, nullptr, false);
  });
  return c;
}

/// The largest power of two up to 256 that divides `address`: what the
/// heuristic must assume of an operand.
uint32_t alignmentOf(const void *address) {
  auto a = reinterpret_cast<uintptr_t>(address);
  uint32_t alignment = 256;
  while (alignment > 1 && a % alignment)
    alignment /= 2;
  return alignment;
}

/// What one kind of product needs made once: its descriptors and the
/// algorithm.
struct Plan {
  void *desc = nullptr, *layoutA = nullptr, *layoutB = nullptr,
       *layoutD = nullptr;
  CublasLtHeuristicResult result;
};
} // namespace

bool autopar::cuda::useCublasLt() {
  static const bool lt = [] {
    const char *text = std::getenv("AUTOPAR_CUDA_GEMM");
    return text && std::string(text) == "lt";
  }();
  return lt;
}

int autopar::cuda::ltMatmul(int opA, int opB, int m, int n, int k,
                            const void *a, int lda, long long strideA,
                            const void *b, int ldb, long long strideB,
                            float beta, void *d, int ldd, long long strideD,
                            int count, int abType, int dType, int computeType,
                            std::string &error) {
  CublasLt &lt = cublasLt();
  auto failed = [&](const char *call, int status) {
    error = std::string(call) + " failed: " + lt.statusString(status);
    return status;
  };
  // The heuristic's algorithm depends on the operands' alignments too.
  uint32_t alignA = alignmentOf(a), alignB = alignmentOf(b),
           alignD = alignmentOf(d);
  using Key =
      std::tuple<int, int, int, int, int, int, int, int, long long, long long,
                 long long, int, int, int, int, uint32_t, uint32_t, uint32_t>;
  Key key{opA,    opB,   m,           n,       k,       lda,
          ldb,    ldd,   strideA,     strideB, strideD, count,
          abType, dType, computeType, alignA,  alignB,  alignD};
  static std::mutex mutex;
  static std::map<Key, Plan> plans;
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, fresh] = plans.try_emplace(key);
  Plan &plan = it->second;
  // A plan that could not be made is not kept.
  auto abandon = [&, it = it](const char *call, int status) {
    plans.erase(it);
    return failed(call, status);
  };
  if (fresh) {
    // op(A) is m x k, op(B) k x n, D m x n, column-major, as stored.
    if (int s = lt.descCreate(&plan.desc, computeType, CUDA_R_32F))
      return abandon("cublasLtMatmulDescCreate", s);
    lt.descSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA,
                        sizeof(opA));
    lt.descSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB,
                        sizeof(opB));
    struct Shape {
      void **layout;
      int type;
      uint64_t rows, cols;
      int64_t ld, stride;
    } shapes[] = {
        {&plan.layoutA, abType, uint64_t(opA == CUBLAS_OP_N ? m : k),
         uint64_t(opA == CUBLAS_OP_N ? k : m), lda, strideA},
        {&plan.layoutB, abType, uint64_t(opB == CUBLAS_OP_N ? k : n),
         uint64_t(opB == CUBLAS_OP_N ? n : k), ldb, strideB},
        {&plan.layoutD, dType, uint64_t(m), uint64_t(n), ldd, strideD},
    };
    for (const Shape &shape : shapes) {
      if (int s = lt.layoutCreate(shape.layout, shape.type, shape.rows,
                                  shape.cols, shape.ld))
        return abandon("cublasLtMatrixLayoutCreate", s);
      if (count > 1) {
        lt.layoutSetAttribute(*shape.layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                              &count, sizeof(count));
        int64_t stride = shape.stride;
        lt.layoutSetAttribute(*shape.layout,
                              CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                              &stride, sizeof(stride));
      }
    }
    void *preference = nullptr;
    if (int s = lt.preferenceCreate(&preference))
      return abandon("cublasLtMatmulPreferenceCreate", s);
    uint64_t workspace = kWorkspaceBytes;
    lt.preferenceSetAttribute(preference,
                              CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                              &workspace, sizeof(workspace));
    uint32_t alignments[] = {alignA, alignB, alignD, alignD};
    int attributes[] = {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4; ++i)
      lt.preferenceSetAttribute(preference, attributes[i], &alignments[i],
                                sizeof(uint32_t));
    int found = 0;
    int s = lt.heuristic(lt.handle, plan.desc, plan.layoutA, plan.layoutB,
                         plan.layoutD, plan.layoutD, preference, 1,
                         &plan.result, &found);
    lt.preferenceDestroy(preference);
    if (s != CUBLAS_STATUS_SUCCESS)
      return abandon("cublasLtMatmulAlgoGetHeuristic", s);
    if (found == 0) {
      abandon("cublasLtMatmulAlgoGetHeuristic", s);
      error = "cublasLtMatmulAlgoGetHeuristic found no algorithm for this "
              "product";
      return -1;
    }
  }
  const float one = 1.0f;
  // D = alpha op(A) op(B) + beta C with C = D (in place).
  int s = lt.matmul(lt.handle, plan.desc, &one, a, plan.layoutA, b,
                    plan.layoutB, &beta, d, plan.layoutD, d, plan.layoutD,
                    plan.result.algo, lt.workspace, kWorkspaceBytes, nullptr);
  return s == CUBLAS_STATUS_SUCCESS ? s : failed("cublasLtMatmul", s);
}
