//===- Contraction.h - strided tensor contractions through a GEMM -*- C++
//-*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The CPU runtime's matrix multiply. The compiler rewrites every f32
// contraction (autopar.dot after lowering: a linalg.generic with a
// multiply-add body) on buffers into a call to `autopar_gemm_f32`, which
// lands here with the three buffers and, for each loop of the contraction,
// which dimension of each buffer it indexes; runtime/common/ContractionPlan.h
// turns them into row-major GEMMs (shared with the CUDA runtime), copying an
// operand into a contiguous buffer only when its strides allow no GEMM. The
// GEMM itself is oneDNN's
// sgemm, the fastest correct one of the BLAS libraries Debian ships on this
// machine (bench/blas/blas-compare.cpp, docs/cpu-performance.md).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CPU_CONTRACTION_H
#define AUTOPAR_RUNTIME_CPU_CONTRACTION_H

#include "ContractionPlan.h"
#include "mlir/ExecutionEngine/CRunnerUtils.h"

#include <cstdint>
#include <string>
#include <vector>

namespace autopar::cpu {

using autopar::runtime::ContractionLoop;

/// C += A * B over `loops`, where A, B and C point at each operand's first
/// element. Returns an empty string, or what is wrong with `loops` (a loop in
/// only one operand, or in A and B but not C with C also missing it, ...).
std::string contract(const float *a, const float *b, float *c,
                     const std::vector<ContractionLoop> &loops);

} // namespace autopar::cpu

/// What compiled code calls for `C += A * B`: the buffers and, for each loop,
/// the dimension of A, B and C it indexes (-1: none). Aborts with a message
/// on a description no contraction has (only a compiler bug gives one).
extern "C" void _mlir_ciface_autopar_gemm_f32(
    UnrankedMemRefType<float> *a, UnrankedMemRefType<float> *b,
    UnrankedMemRefType<float> *c, StridedMemRefType<int64_t, 1> *spec);

/// The CUDA runtime's half-precision products (A and B bf16 or f16 bits, C
/// f32 or, `_c16`, of A's type), computed on the CPU: what the CUDA
/// pipeline's calls do, for its kernels run on the CPU (autopar-run
/// --gpu-kernels).
extern "C" void _mlir_ciface_autopar_gemm_bf16(
    UnrankedMemRefType<uint16_t> *a, UnrankedMemRefType<uint16_t> *b,
    UnrankedMemRefType<float> *c, StridedMemRefType<int64_t, 1> *spec);
extern "C" void _mlir_ciface_autopar_gemm_f16(
    UnrankedMemRefType<uint16_t> *a, UnrankedMemRefType<uint16_t> *b,
    UnrankedMemRefType<float> *c, StridedMemRefType<int64_t, 1> *spec);
extern "C" void _mlir_ciface_autopar_gemm_bf16_c16(
    UnrankedMemRefType<uint16_t> *a, UnrankedMemRefType<uint16_t> *b,
    UnrankedMemRefType<uint16_t> *c, StridedMemRefType<int64_t, 1> *spec);
extern "C" void _mlir_ciface_autopar_gemm_f16_c16(
    UnrankedMemRefType<uint16_t> *a, UnrankedMemRefType<uint16_t> *b,
    UnrankedMemRefType<uint16_t> *c, StridedMemRefType<int64_t, 1> *spec);

#endif // AUTOPAR_RUNTIME_CPU_CONTRACTION_H
