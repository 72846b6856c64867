//===- CudaRuntimeTest.cpp - the mgpu* runtime on the CUDA driver ---------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Without a GPU (CI, the development machine) these check that the runtime
// loads, says why it cannot run, and declares the driver's constants as
// cuda.h does; the kernel tests skip with that reason. With a GPU they run
// a PTX kernel through the entry points the lowering calls.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if __has_include(<cuda.h>)
#include <cuda.h>
// The runtime declares the driver's types and constants itself (it opens
// the driver with dlopen); they must be cuda.h's.
static_assert(autopar::cuda::abi::CUDA_SUCCESS == CUDA_SUCCESS);
static_assert(autopar::cuda::abi::CUDA_ERROR_DEINITIALIZED ==
              CUDA_ERROR_DEINITIALIZED);
static_assert(autopar::cuda::abi::CUDA_ERROR_NOT_READY == CUDA_ERROR_NOT_READY);
static_assert(autopar::cuda::abi::CU_MEMPOOL_ATTR_RELEASE_THRESHOLD ==
              CU_MEMPOOL_ATTR_RELEASE_THRESHOLD);
static_assert(autopar::cuda::abi::CU_JIT_INFO_LOG_BUFFER ==
              CU_JIT_INFO_LOG_BUFFER);
static_assert(autopar::cuda::abi::CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES ==
              CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES);
static_assert(autopar::cuda::abi::CU_JIT_ERROR_LOG_BUFFER ==
              CU_JIT_ERROR_LOG_BUFFER);
static_assert(autopar::cuda::abi::CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES ==
              CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES);
static_assert(autopar::cuda::abi::CU_JIT_OPTIMIZATION_LEVEL ==
              CU_JIT_OPTIMIZATION_LEVEL);
static_assert(autopar::cuda::abi::CU_EVENT_DISABLE_TIMING ==
              CU_EVENT_DISABLE_TIMING);
static_assert(autopar::cuda::abi::CU_MEM_ATTACH_GLOBAL == CU_MEM_ATTACH_GLOBAL);
static_assert(autopar::cuda::abi::CU_STREAM_NON_BLOCKING ==
              CU_STREAM_NON_BLOCKING);
static_assert(
    autopar::cuda::abi::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ==
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
static_assert(
    autopar::cuda::abi::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ==
    CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
static_assert(sizeof(CUdeviceptr) == sizeof(unsigned long long));
#endif
#if __has_include(<cublas_api.h>)
#include <cublas_api.h>
static_assert(autopar::cuda::abi::CUBLAS_STATUS_SUCCESS ==
              CUBLAS_STATUS_SUCCESS);
static_assert(autopar::cuda::abi::CUBLAS_OP_N == CUBLAS_OP_N);
static_assert(autopar::cuda::abi::CUBLAS_OP_T == CUBLAS_OP_T);
static_assert(autopar::cuda::abi::CUBLAS_DEFAULT_MATH == CUBLAS_DEFAULT_MATH);
static_assert(autopar::cuda::abi::CUBLAS_TF32_TENSOR_OP_MATH ==
              CUBLAS_TF32_TENSOR_OP_MATH);
static_assert(autopar::cuda::abi::CUBLAS_COMPUTE_32F == CUBLAS_COMPUTE_32F);
static_assert(autopar::cuda::abi::CUBLAS_COMPUTE_32F_FAST_TF32 ==
              CUBLAS_COMPUTE_32F_FAST_TF32);
static_assert(autopar::cuda::abi::CUBLAS_GEMM_DEFAULT == CUBLAS_GEMM_DEFAULT);
static_assert(autopar::cuda::abi::CUDA_R_32F == CUDA_R_32F);
static_assert(autopar::cuda::abi::CUDA_R_16F == CUDA_R_16F);
static_assert(autopar::cuda::abi::CUDA_R_16BF == CUDA_R_16BF);
#endif
#if __has_include(<cublasLt.h>)
#include <cstddef>
#include <cublasLt.h>
namespace ltabi = autopar::cuda::abi;
static_assert(ltabi::CUBLASLT_MATMUL_DESC_TRANSA ==
              CUBLASLT_MATMUL_DESC_TRANSA);
static_assert(ltabi::CUBLASLT_MATMUL_DESC_TRANSB ==
              CUBLASLT_MATMUL_DESC_TRANSB);
static_assert(ltabi::CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT ==
              CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT);
static_assert(ltabi::CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET ==
              CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET);
static_assert(ltabi::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES ==
              CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES);
static_assert(ltabi::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES ==
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES);
static_assert(ltabi::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES ==
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES);
static_assert(ltabi::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES ==
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES);
static_assert(ltabi::CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES ==
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES);
// The heuristic's result, which the runtime reads and passes back.
static_assert(sizeof(ltabi::CublasLtHeuristicResult) ==
              sizeof(cublasLtMatmulHeuristicResult_t));
static_assert(sizeof(cublasLtMatmulAlgo_t) == 8 * sizeof(uint64_t));
static_assert(offsetof(ltabi::CublasLtHeuristicResult, workspaceSize) ==
              offsetof(cublasLtMatmulHeuristicResult_t, workspaceSize));
static_assert(offsetof(ltabi::CublasLtHeuristicResult, state) ==
              offsetof(cublasLtMatmulHeuristicResult_t, state));
static_assert(offsetof(ltabi::CublasLtHeuristicResult, wavesCount) ==
              offsetof(cublasLtMatmulHeuristicResult_t, wavesCount));
#endif

namespace {

#define SKIP_WITHOUT_GPU()                                                     \
  do {                                                                         \
    std::string why;                                                           \
    if (!autopar::cuda::available(why))                                        \
      GTEST_SKIP() << "no CUDA GPU here: " << why;                             \
  } while (false)

// The kernel test also checks the profiler (AUTOPAR_CUDA_PROFILE=1), which
// the runtime reads when it first opens the driver: set before main.
const bool kProfiling = (setenv("AUTOPAR_CUDA_PROFILE", "1", 1), true);

// The GEMM test pads every unaligned half-precision GEMM, small ones too
// (runtime/common/GemmPadding.h; read once, at the first GEMM).
const bool kPadding = (setenv("AUTOPAR_CUDA_GEMM_PAD", "1", 1), true);

// Which GPUs a library compiled for an architecture runs on: PTX on that
// one and newer (the driver compiles it), a cubin on its major version.
TEST(CudaRuntime, ArchitectureMismatches) {
  using autopar::cuda::archMismatch;
  EXPECT_EQ(archMismatch("sm_90", "ptx", 90), "");
  EXPECT_EQ(archMismatch("sm_80", "ptx", 90), "");
  EXPECT_EQ(archMismatch("sm_90", "ptx", 100), "");
  EXPECT_EQ(archMismatch("sm_90a", "cubin", 90), "");
  EXPECT_EQ(archMismatch("sm_80", "cubin", 86), "");
  EXPECT_EQ(archMismatch("sm_90", "ptx", 80),
            "it was compiled for sm_90 (ptx: for GPUs of compute capability "
            "9.0 and newer) and this GPU is sm_80 (8.0): compile it again "
            "with --gpu-arch=sm_80");
  EXPECT_EQ(archMismatch("sm_80", "cubin", 90),
            "it was compiled for sm_80 (cubin: for GPUs of compute "
            "capability 8.x from 8.0) and this GPU is sm_90 (9.0): compile "
            "it again with --gpu-arch=sm_90");
  EXPECT_EQ(archMismatch("sm_86", "cubin", 80).substr(0, 30),
            "it was compiled for sm_86 (cub");
  EXPECT_EQ(archMismatch("compute_90", "ptx", 90),
            "the library's architecture 'compute_90' is not sm_XY");
}

TEST(CudaRuntime, ComputeCapabilityOnTheGPU) {
  SKIP_WITHOUT_GPU();
  int capability = autopar::cuda::computeCapability();
  EXPECT_GE(capability, 50);
  std::string name = autopar::cuda::deviceName();
  EXPECT_FALSE(name.empty());
  std::printf("%s, compute capability %d.%d\n", name.c_str(), capability / 10,
              capability % 10);
}

// A destroyed stream is handed out again by the next create, and work
// queued on it before and after stays in order.
TEST(CudaRuntime, ReusesStreams) {
  SKIP_WITHOUT_GPU();
  void *first = mgpuStreamCreate();
  std::vector<float> ones(1 << 20, 1.0f), back(ones.size());
  size_t bytes = ones.size() * sizeof(float);
  void *buffer = mgpuMemAlloc(bytes, first, false);
  mgpuMemset32(buffer, 0x3f800000u, ones.size(), first); // 1.0f
  mgpuStreamDestroy(first); // its work may still be queued
  void *second = mgpuStreamCreate();
  EXPECT_EQ(second, first);
  mgpuMemset32(buffer, 0x40000000u, ones.size() / 2, second); // 2.0f
  mgpuStreamSynchronize(second);
  autopar::cuda::copyToHost(back.data(), buffer, bytes);
  EXPECT_EQ(back.front(), 2.0f);
  EXPECT_EQ(back[ones.size() / 2 - 1], 2.0f);
  EXPECT_EQ(back[ones.size() / 2], 1.0f);
  EXPECT_EQ(back.back(), 1.0f);
  mgpuMemFree(buffer, second);
  mgpuStreamDestroy(second);
}

TEST(CudaRuntime, SaysWhyWithoutAGPU) {
  std::string why;
  if (autopar::cuda::available(why))
    GTEST_SKIP() << "a CUDA GPU is present";
  EXPECT_FALSE(why.empty());
  std::printf("runtime unavailable, as expected here: %s\n", why.c_str());
}

// c = a + b for n floats, one thread per element (sm_52 PTX, which the
// driver compiles for any newer GPU).
const char *kAddPTX = R"(.version 7.0
.target sm_52
.address_size 64
.visible .entry add_f32(.param .u64 a, .param .u64 b, .param .u64 c,
                        .param .u32 n)
{
  .reg .pred %p;
  .reg .b32 %r<6>;
  .reg .f32 %f<4>;
  .reg .b64 %rd<9>;
  ld.param.u64 %rd1, [a];
  ld.param.u64 %rd2, [b];
  ld.param.u64 %rd3, [c];
  ld.param.u32 %r1, [n];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.ge.u32 %p, %r5, %r1;
  @%p bra DONE;
  cvta.to.global.u64 %rd4, %rd1;
  cvta.to.global.u64 %rd5, %rd2;
  cvta.to.global.u64 %rd6, %rd3;
  mul.wide.u32 %rd7, %r5, 4;
  add.s64 %rd8, %rd4, %rd7;
  ld.global.f32 %f1, [%rd8];
  add.s64 %rd8, %rd5, %rd7;
  ld.global.f32 %f2, [%rd8];
  add.f32 %f3, %f1, %f2;
  add.s64 %rd8, %rd6, %rd7;
  st.global.f32 [%rd8], %f3;
DONE:
  ret;
}
)";

TEST(CudaRuntime, RunsAKernelThroughTheLoweringsEntryPoints) {
  SKIP_WITHOUT_GPU();
  const unsigned n = 1000;
  std::vector<float> a(n), b(n), c(n, -1.0f);
  for (unsigned i = 0; i < n; ++i) {
    a[i] = float(i) * 0.5f;
    b[i] = 3.0f - float(i);
  }
  void *stream = mgpuStreamCreate();
  void *da = mgpuMemAlloc(n * 4, stream, false);
  void *db = mgpuMemAlloc(n * 4, stream, false);
  void *dc = mgpuMemAlloc(n * 4, stream, false);
  autopar::cuda::copyToDevice(da, a.data(), n * 4);
  autopar::cuda::copyToDevice(db, b.data(), n * 4);
  mgpuMemset32(dc, 0, n, stream);
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kAddPTX), 2);
  void *function = mgpuModuleGetFunction(module, "add_f32");
  unsigned count = n;
  void *params[] = {&da, &db, &dc, &count};
  mgpuLaunchKernel(function, (n + 255) / 256, 1, 1, 256, 1, 1, 0, stream,
                   params, nullptr, 4);
  void *event = mgpuEventCreate();
  mgpuEventRecord(event, stream);
  mgpuEventSynchronize(event);
  mgpuStreamSynchronize(stream);
  autopar::cuda::copyToHost(c.data(), dc, n * 4);
  for (unsigned i = 0; i < n; ++i)
    ASSERT_EQ(c[i], a[i] + b[i]) << "element " << i;
  // A device-to-device copy.
  mgpuMemcpy(da, dc, n * 4, stream);
  mgpuStreamSynchronize(stream);
  std::vector<float> back(n);
  autopar::cuda::copyToHost(back.data(), da, n * 4);
  EXPECT_EQ(std::memcmp(back.data(), c.data(), n * 4), 0);
  // The profiler timed the launch, named by module ordinal and kernel.
  ASSERT_TRUE(kProfiling && autopar::cuda::profiling());
  char *text = nullptr;
  size_t size = 0;
  FILE *report = open_memstream(&text, &size);
  autopar::cuda::profileReport(report);
  std::fclose(report);
  std::string reported(text, size);
  std::free(text);
  std::printf("%s", reported.c_str());
  EXPECT_NE(reported.find("in 1 launches of 1 kinds"), std::string::npos);
  EXPECT_NE(reported.find("1 x  #0 add_f32 grid 4x1x1 block 256x1x1"),
            std::string::npos);
  mgpuEventDestroy(event);
  mgpuModuleUnload(module);
  mgpuMemFree(da, stream);
  mgpuMemFree(db, stream);
  mgpuMemFree(dc, stream);
  mgpuStreamDestroy(stream);
}

/// A rank-2 memref descriptor, as the lowering passes them.
struct Memref2 {
  void *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};

// gpt2-small's three vocabulary products in small (C = x w^T, dx = dC w,
// dw = x^T dC with 1001 for the vocabulary): bf16 operands holding small
// integers, so the f32 products are exact, through the entry point the
// lowering calls, padded to multiples of 8 on the device, against the host;
// overwriting C, also into a bf16 C (autopar_cuda_gemm_bf16_c16).
TEST(CudaRuntime, PadsOddBf16Gemms) {
  SKIP_WITHOUT_GPU();
  ASSERT_TRUE(kPadding);
  const int64_t rows = 64, vocab = 1001, width = 72;
  struct Case {
    const char *what;
    // Sizes of A, B, C; per loop (m, n, k) the dimension of A, B, C it
    // indexes (-1: none).
    int64_t a[2], b[2], c[2];
    int64_t spec[9];
  } cases[] = {
      {"x w^T",
       {rows, width},
       {vocab, width},
       {rows, vocab},
       {0, -1, 0, -1, 0, 1, 1, 1, -1}},
      {"dC w",
       {rows, vocab},
       {vocab, width},
       {rows, width},
       {0, -1, 0, -1, 1, 1, 1, 0, -1}},
      {"x^T dC",
       {rows, width},
       {rows, vocab},
       {width, vocab},
       {1, -1, 0, -1, 1, 1, 0, 0, -1}},
  };
  for (const Case &t : cases)
    for (bool overwrite : {false, true}) {
      auto count = [](const int64_t *s) { return size_t(s[0] * s[1]); };
      std::vector<uint16_t> a(count(t.a)), b(count(t.b));
      std::vector<float> c(count(t.c));
      unsigned seed = 1;
      auto next = [&] { return (seed = seed * 1103515245u + 12345u) >> 16; };
      // Small integers in bf16: the upper half of the f32's bits.
      auto bf16 = [](float v) {
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        return uint16_t(bits >> 16);
      };
      std::vector<float> af(a.size()), bf(b.size());
      for (size_t i = 0; i < a.size(); ++i)
        a[i] = bf16(af[i] = float(next() % 4));
      for (size_t i = 0; i < b.size(); ++i)
        b[i] = bf16(bf[i] = float(next() % 4));
      for (auto &x : c)
        x = float(next() % 4);
      // The host's product, loop by loop.
      std::vector<float> expected = c;
      // dims[o][l]: the dimension of operand o that loop l indexes.
      int64_t trips[3] = {0, 0, 0}, dims[3][3];
      const int64_t *sizes[3] = {t.a, t.b, t.c};
      for (int l = 0; l < 3; ++l)
        for (int o = 0; o < 3; ++o)
          if ((dims[o][l] = t.spec[l * 3 + o]) >= 0)
            trips[l] = sizes[o][dims[o][l]];
      auto at = [&](int o, int64_t i, int64_t j, int64_t l) {
        int64_t index[3] = {i, j, l}, position[2] = {0, 0};
        for (int loop = 0; loop < 3; ++loop)
          if (dims[o][loop] >= 0)
            position[dims[o][loop]] = index[loop];
        return position[0] * sizes[o][1] + position[1];
      };
      for (int64_t i = 0; i < trips[0]; ++i)
        for (int64_t j = 0; j < trips[1]; ++j) {
          double sum = overwrite ? 0.0 : expected[at(2, i, j, 0)];
          for (int64_t l = 0; l < trips[2]; ++l)
            sum += double(af[at(0, i, j, l)]) * double(bf[at(1, i, j, l)]);
          expected[at(2, i, j, 0)] = float(sum);
        }
      void *da = mgpuMemAlloc(a.size() * 2, nullptr, false);
      void *db = mgpuMemAlloc(b.size() * 2, nullptr, false);
      void *dc = mgpuMemAlloc(c.size() * 4, nullptr, false);
      autopar::cuda::copyToDevice(da, a.data(), a.size() * 2);
      autopar::cuda::copyToDevice(db, b.data(), b.size() * 2);
      autopar::cuda::copyToDevice(dc, c.data(), c.size() * 4);
      Memref2 ma = {da, da, 0, {t.a[0], t.a[1]}, {t.a[1], 1}};
      Memref2 mb = {db, db, 0, {t.b[0], t.b[1]}, {t.b[1], 1}};
      Memref2 mc = {dc, dc, 0, {t.c[0], t.c[1]}, {t.c[1], 1}};
      AutoParUnrankedF32 ua = {2, &ma}, ub = {2, &mb}, uc = {2, &mc};
      std::vector<int64_t> spec(t.spec, t.spec + 9);
      if (overwrite)
        spec.push_back(1);
      AutoParSpec s = {
          spec.data(), spec.data(), 0, {int64_t(spec.size())}, {1}};
      _mlir_ciface_autopar_cuda_gemm_bf16(&ua, &ub, &uc, &s);
      mgpuStreamSynchronize(nullptr);
      std::vector<float> got(c.size());
      autopar::cuda::copyToHost(got.data(), dc, c.size() * 4);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_EQ(got[i], expected[i])
            << t.what << (overwrite ? " (overwriting C)" : "") << ", element "
            << i;
      if (overwrite) {
        // The same product into a bf16 C: each f32 sum rounded to nearest
        // even, once.
        void *dh = mgpuMemAlloc(c.size() * 2, nullptr, false);
        Memref2 mh = {dh, dh, 0, {t.c[0], t.c[1]}, {t.c[1], 1}};
        AutoParUnrankedF32 uh = {2, &mh};
        _mlir_ciface_autopar_cuda_gemm_bf16_c16(&ua, &ub, &uh, &s);
        mgpuStreamSynchronize(nullptr);
        std::vector<uint16_t> half(c.size());
        autopar::cuda::copyToHost(half.data(), dh, c.size() * 2);
        for (size_t i = 0; i < half.size(); ++i) {
          uint32_t bits;
          std::memcpy(&bits, &expected[i], 4);
          auto rounded = uint16_t((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
          ASSERT_EQ(half[i], rounded) << t.what << " into bf16, element " << i
                                      << " (" << expected[i] << ")";
        }
        mgpuMemFree(dh, nullptr);
      }
      mgpuMemFree(da, nullptr);
      mgpuMemFree(db, nullptr);
      mgpuMemFree(dc, nullptr);
    }
}

} // namespace
