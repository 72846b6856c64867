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
static_assert(autopar::cuda::abi::CUBLAS_GEMM_DEFAULT == CUBLAS_GEMM_DEFAULT);
static_assert(autopar::cuda::abi::CUDA_R_32F == CUDA_R_32F);
static_assert(autopar::cuda::abi::CUDA_R_16F == CUDA_R_16F);
static_assert(autopar::cuda::abi::CUDA_R_16BF == CUDA_R_16BF);
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

} // namespace
