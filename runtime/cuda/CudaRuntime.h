//===- CudaRuntime.h - the mgpu* entry points on the CUDA driver -*- C++
//-*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The functions MLIR's GPU-to-LLVM lowering calls (`mgpuModuleLoadJIT`,
// `mgpuLaunchKernel`, `mgpuMemAlloc`, streams and events, as
// `autopar-lower-to-cuda` emits them), implemented on the CUDA driver API.
// The driver (libcuda.so.1) is opened at the first call, not linked, so the
// library loads and reports why on machines without a GPU or driver; every
// CUDA error ends the process with the call and the driver's message (the
// mgpu* interface has no error results).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CUDA_CUDARUNTIME_H
#define AUTOPAR_RUNTIME_CUDA_CUDARUNTIME_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace autopar::cuda {

/// The driver constants the runtime uses, with cuda.h's values.
namespace abi {
constexpr int CUDA_SUCCESS = 0;
constexpr int CUDA_ERROR_DEINITIALIZED = 4, CUDA_ERROR_NOT_READY = 600;
constexpr int CU_JIT_INFO_LOG_BUFFER = 3, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
              CU_JIT_ERROR_LOG_BUFFER = 5,
              CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
              CU_JIT_OPTIMIZATION_LEVEL = 7;
constexpr unsigned CU_EVENT_DISABLE_TIMING = 0x2;
constexpr unsigned CU_MEM_ATTACH_GLOBAL = 0x1;
constexpr unsigned CU_STREAM_NON_BLOCKING = 0x1;
constexpr int CU_MEMPOOL_ATTR_RELEASE_THRESHOLD = 4;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
              CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CUBLAS_STATUS_SUCCESS = 0, CUBLAS_OP_N = 0, CUBLAS_OP_T = 1,
              CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3;
// cublasGemmEx's data and compute types (library_types.h, cublas_api.h).
constexpr int CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14,
              CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
              CUBLAS_GEMM_DEFAULT = -1;
// cuBLASLt's attributes (cublasLt.h).
constexpr int CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4,
              CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5,
              CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6,
              CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1,
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6,
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
              CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8;
/// cublasLtMatmulHeuristicResult_t.
struct CublasLtHeuristicResult {
  uint64_t algo[8]; // cublasLtMatmulAlgo_t
  size_t workspaceSize;
  int state;
  float wavesCount;
  int reserved[4];
};
constexpr int CU_MEMORYTYPE_DEVICE = 2;
/// cuMemcpy2DAsync's description of a pitched copy (CUDA_MEMCPY2D_v2).
struct CUDA_MEMCPY2D {
  size_t srcXInBytes, srcY;
  int srcMemoryType;
  const void *srcHost;
  unsigned long long srcDevice;
  void *srcArray;
  size_t srcPitch;
  size_t dstXInBytes, dstY;
  int dstMemoryType;
  void *dstHost;
  unsigned long long dstDevice;
  void *dstArray;
  size_t dstPitch;
  size_t WidthInBytes, Height;
};
} // namespace abi

/// Whether a CUDA device can be used here; when not, `why` says what is
/// missing (the driver library, a device, ...). Selects the device
/// `AUTOPAR_CUDA_DEVICE` names (default 0) and makes its primary context
/// current.
bool available(std::string &why);

/// The device's compute capability as major * 10 + minor (90 for an
/// H100); ends the process without a device.
int computeCapability();

/// The device's name ("NVIDIA H100 80GB HBM3"); ends the process without
/// a device.
std::string deviceName();

/// Why a library compiled for `gpuArch` ("sm_90") in `format` ("ptx" or
/// "cubin") cannot run on a device of compute capability `capability`
/// (major * 10 + minor), or an empty string when it can: PTX is compiled
/// by the driver for the device, so any device as new or newer runs it; a
/// cubin runs on its major version only, from its minor version up.
std::string archMismatch(const std::string &gpuArch, const std::string &format,
                         int capability);

/// Copies between host and device memory (synchronous).
void copyToDevice(void *device, const void *host, size_t bytes);
void copyToHost(void *host, const void *device, size_t bytes);

/// Whether every element of the f32 device buffers (pointer, count) is
/// finite: one kernel over all of them (Finite.cu) on the legacy default
/// stream, after the work queued before it, setting one device flag that
/// is read back (4 bytes, synchronous). The test of a step's gradients
/// (every step in autopar-run; a dynamic loss scale's) without copying
/// them to the host.
bool allFinite(const std::vector<std::pair<const float *, size_t>> &buffers);

/// Gradient accumulation (Accumulate.cu): `acc[i] += x[i]`, and
/// `acc[i] = float(double(acc[i]) * factor)`, over `count` f32 in device
/// memory, on the legacy default stream after the work queued before
/// (asynchronous). The host's arithmetic (autopar-run's addInto, scaleBy).
void addInto(float *acc, const float *x, size_t count);
void scaleBy(float *acc, double factor, size_t count);

/// Copies `rows` rows of `widthBytes` from `source` (a row every
/// `sourcePitch` bytes) to `destination` (every `destinationPitch`), device
/// to device, on the legacy default stream (ordered as the cuBLAS calls).
void copy2D(void *destination, size_t destinationPitch, const void *source,
            size_t sourcePitch, size_t widthBytes, size_t rows);
/// Zeros `rows` rows of `widthBytes` a `pitch` apart, likewise.
void zero2D(void *destination, size_t pitch, size_t widthBytes, size_t rows);

/// Whether all work queued on `stream` has finished (cuStreamQuery); ends
/// the process on an error.
bool streamDone(void *stream);

/// Ends the process, naming `caller`, when no device can be used; else makes
/// the device's context current on this thread.
void requireDevice(const char *caller);

/// The most dynamic shared memory a block may ask for on the device (the
/// opt-in limit: 227 KiB on an H100, 163 KiB on an A100).
int sharedMemoryLimit();
/// Lets `function` (from mgpuModuleGetFunction) launch with `bytes` of
/// dynamic shared memory, more than the default 48 KiB.
void allowSharedMemory(void *function, int bytes);

/// Ends the process with `message` (exit status 1).
[[noreturn]] void fail(const std::string &message);

/// Kernel profiling, on when AUTOPAR_CUDA_PROFILE=1: every launch (and
/// every span between profileBegin and profileEnd, such as a cuBLAS call)
/// is timed with a pair of CUDA events on its stream, and profileReport
/// prints the GPU time per kernel: the module's ordinal (the order of the
/// `gpu.binary` ops in the lowered module, which is the order they load),
/// the kernel's name, its launch shape, launches and milliseconds.
/// AUTOPAR_CUDA_PROFILE=sync also waits for the device to go idle before
/// each span starts, so a span's time is its own work alone.
bool profiling();
/// Starts a timed span on `stream` (null: the legacy default stream);
/// returns a token for profileEnd, or null when not profiling.
void *profileBegin(void *stream);
void profileEnd(void *token, void *stream, const std::string &label);
/// Prints the `top` costliest kernels and spans so far to `out` (a FILE*),
/// with the total; does nothing when not profiling.
void profileReport(void *out, int top = 30);
/// Forgets the spans so far (waiting for those still queued): a report
/// after it covers what came later, such as the steps after a first one
/// that loads modules and picks cuBLAS's kernels.
void profileReset();

} // namespace autopar::cuda

extern "C" {
// Types are opaque pointers to the driver's objects.
void *mgpuStreamCreate();
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void mgpuStreamWaitEvent(void *stream, void *event);
void *mgpuEventCreate();
void mgpuEventDestroy(void *event);
void mgpuEventSynchronize(void *event);
void mgpuEventRecord(void *event, void *stream);
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool hostShared);
void mgpuMemFree(void *pointer, void *stream);
void mgpuMemcpy(void *destination, void *source, size_t bytes, void *stream);
void mgpuMemset32(void *destination, unsigned int value, size_t count,
                  void *stream);
void mgpuMemset16(void *destination, unsigned short value, size_t count,
                  void *stream);
void *mgpuModuleLoad(void *data, size_t bytes);
void *mgpuModuleLoadJIT(void *ptx, int optLevel);
void mgpuModuleUnload(void *module);
void *mgpuModuleGetFunction(void *module, const char *name);
/// `C += A * B` on device buffers through cuBLAS (fp32; TF32 tensor cores
/// when AUTOPAR_CUDA_TF32=1), as autopar-contractions-to-calls describes it;
/// runs on the legacy default stream, ordered with every stream of
/// mgpuStreamCreate.
struct AutoParUnrankedF32 {
  int64_t rank;
  void *descriptor;
};
struct AutoParSpec { // a memref<?xi64>
  int64_t *basePtr, *data;
  int64_t offset, sizes[1], strides[1];
};
void _mlir_ciface_autopar_cuda_gemm_f32(AutoParUnrankedF32 *a,
                                        AutoParUnrankedF32 *b,
                                        AutoParUnrankedF32 *c,
                                        AutoParSpec *spec);
/// The same with bf16 (or f16) A and B and an f32 C: cublasGemmEx on the
/// tensor cores, accumulating in f32 (the descriptors' element type aside,
/// the ABI is the f32 one's).
void _mlir_ciface_autopar_cuda_gemm_bf16(AutoParUnrankedF32 *a,
                                         AutoParUnrankedF32 *b,
                                         AutoParUnrankedF32 *c,
                                         AutoParSpec *spec);
void _mlir_ciface_autopar_cuda_gemm_f16(AutoParUnrankedF32 *a,
                                        AutoParUnrankedF32 *b,
                                        AutoParUnrankedF32 *c,
                                        AutoParSpec *spec);
/// The same with C of the inputs' type (bf16 or f16): cuBLAS rounds each
/// f32 sum once, as a half-precision `autopar.dot` does; C must be
/// overwritten (autopar-narrow-gemm-outputs makes these calls).
void _mlir_ciface_autopar_cuda_gemm_bf16_c16(AutoParUnrankedF32 *a,
                                             AutoParUnrankedF32 *b,
                                             AutoParUnrankedF32 *c,
                                             AutoParSpec *spec);
void _mlir_ciface_autopar_cuda_gemm_f16_c16(AutoParUnrankedF32 *a,
                                            AutoParUnrankedF32 *b,
                                            AutoParUnrankedF32 *c,
                                            AutoParSpec *spec);
/// Fused attention (runtime/cuda/Attention.cu, autopar-attention-to-calls)
/// on [batch, heads, positions, head size] bf16 (or f16) buffers, head size
/// 32, 64 or 128 and contiguous, the other strides any multiples of 8 (a
/// [batch, positions, heads, head size] tensor viewed transposed, say), on
/// the legacy default stream like the cuBLAS calls: out = softmax(q k^T
/// scale [causal]) v, and its gradients dq, dk, dv for the output's
/// cotangent dout.
struct AutoParMemRef4 {
  void *allocated, *aligned;
  int64_t offset, sizes[4], strides[4];
};
void _mlir_ciface_autopar_cuda_attention_forward_bf16(
    AutoParMemRef4 *q, AutoParMemRef4 *k, AutoParMemRef4 *v,
    AutoParMemRef4 *out, float scale, int32_t causal);
void _mlir_ciface_autopar_cuda_attention_forward_f16(
    AutoParMemRef4 *q, AutoParMemRef4 *k, AutoParMemRef4 *v,
    AutoParMemRef4 *out, float scale, int32_t causal);
void _mlir_ciface_autopar_cuda_attention_backward_bf16(
    AutoParMemRef4 *q, AutoParMemRef4 *k, AutoParMemRef4 *v,
    AutoParMemRef4 *out, AutoParMemRef4 *dout, AutoParMemRef4 *dq,
    AutoParMemRef4 *dk, AutoParMemRef4 *dv, float scale, int32_t causal);
void _mlir_ciface_autopar_cuda_attention_backward_f16(
    AutoParMemRef4 *q, AutoParMemRef4 *k, AutoParMemRef4 *v,
    AutoParMemRef4 *out, AutoParMemRef4 *dout, AutoParMemRef4 *dq,
    AutoParMemRef4 *dk, AutoParMemRef4 *dv, float scale, int32_t causal);
/// The same where the forward pass saves each query row's log-sum-exp of
/// the scaled scores in `lse` (f32 [batch x heads, positions]) for the
/// backward pass, which then does not recompute it (autopar-attention-to-
/// calls pairs an attention with its gradient this way).
struct AutoParMemRef2 {
  void *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};
void _mlir_ciface_autopar_cuda_attention_forward_lse_bf16(
    AutoParMemRef4 *q, AutoParMemRef4 *k, AutoParMemRef4 *v,
    AutoParMemRef4 *out, AutoParMemRef2 *lse, float scale, int32_t causal);
void _mlir_ciface_autopar_cuda_attention_forward_lse_f16(
    AutoParMemRef4 *q, AutoParMemRef4 *k, AutoParMemRef4 *v,
    AutoParMemRef4 *out, AutoParMemRef2 *lse, float scale, int32_t causal);
void _mlir_ciface_autopar_cuda_attention_backward_lse_bf16(
    AutoParMemRef4 *q, AutoParMemRef4 *k, AutoParMemRef4 *v,
    AutoParMemRef4 *out, AutoParMemRef4 *dout, AutoParMemRef2 *lse,
    AutoParMemRef4 *dq, AutoParMemRef4 *dk, AutoParMemRef4 *dv, float scale,
    int32_t causal);
void _mlir_ciface_autopar_cuda_attention_backward_lse_f16(
    AutoParMemRef4 *q, AutoParMemRef4 *k, AutoParMemRef4 *v,
    AutoParMemRef4 *out, AutoParMemRef4 *dout, AutoParMemRef2 *lse,
    AutoParMemRef4 *dq, AutoParMemRef4 *dk, AutoParMemRef4 *dv, float scale,
    int32_t causal);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedMemoryBytes, void *stream,
                      void **params, void **extra, size_t paramCount);
}

#endif // AUTOPAR_RUNTIME_CUDA_CUDARUNTIME_H
