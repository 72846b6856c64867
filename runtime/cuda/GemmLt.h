//===- GemmLt.h - half-precision products through cuBLASLt ------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CUDA_GEMMLT_H
#define AUTOPAR_RUNTIME_CUDA_GEMMLT_H

#include <string>

namespace autopar::cuda {

/// Whether the products go through cuBLASLt (AUTOPAR_CUDA_GEMM=lt) rather
/// than cuBLAS's GEMMs (the default). Read once.
bool useCublasLt();

/// Column-major D = op(A) op(B) + beta D for `count` matrices, the i-th at
/// a + i strideA, b + i strideB, d + i strideD (elements), as
/// cublasGemmStridedBatchedEx takes them: A and B of the cudaDataType
/// `abType`, D of `dType`, computed as `computeType` (CUBLAS_COMPUTE_32F,
/// or _32F_FAST_TF32 for f32 operands on TF32 tensor cores) with an f32
/// scale, on the legacy default stream. Returns CUBLAS_STATUS_SUCCESS (0),
/// or another status with `error` saying which call failed and why.
int ltMatmul(int opA, int opB, int m, int n, int k, const void *a, int lda,
             long long strideA, const void *b, int ldb, long long strideB,
             float beta, void *d, int ldd, long long strideD, int count,
             int abType, int dType, int computeType, std::string &error);

} // namespace autopar::cuda

#endif // AUTOPAR_RUNTIME_CUDA_GEMMLT_H
