//===- MmaSync.h - warp-level tensor-core products and async copies ------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The PTX instructions the register-resident attention kernels of
// Attention.cu use, as device functions: `mma.sync.m16n8k16` on bf16 or
// f16 operands with f32 accumulators, `cp.async` (global to shared memory
// without staging in registers, 16 or 4 bytes) and `ex2.approx`. Unlike WMMA's
// opaque fragments, the registers of mma.sync have a documented layout (PTX
// ISA, "Matrix Fragments for mma.m16n8k16 with floating point type"), so a
// product's f32 accumulators can be rescaled row by row and reused as the
// next product's operand without a trip through shared memory. With
// lane = 4 * group + thread (group 0..7, thread 0..3):
//
//   A (16 x 16, row-major), 4 registers of two 16-bit elements each:
//     a[0] = A[group][2t, 2t+1]        a[1] = A[group + 8][2t, 2t+1]
//     a[2] = A[group][2t+8, 2t+9]      a[3] = A[group + 8][2t+8, 2t+9]
//   B (16 x 8, "col": element (k, n)), 2 registers:
//     b[0] = B[2t, 2t+1][group]        b[1] = B[2t+8, 2t+9][group]
//   C, D (16 x 8, f32), 4 registers:
//     c[0], c[1] = C[group][2t, 2t+1]  c[2], c[3] = C[group + 8][2t, 2t+1]
//
// The element with the lower index sits in a register's lower 16 bits.
// unittests/Runtime/CudaEmulation/CudaEmulation.h implements the same
// functions on the CPU from this layout (AUTOPAR_CUDA_EMULATION), so the
// kernels' use of it is tested without a GPU.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CUDA_MMASYNC_H
#define AUTOPAR_RUNTIME_CUDA_MMASYNC_H

#include <cuda_bf16.h>
#include <cuda_fp16.h>

/// Fully unrolls the loop that follows under nvcc: the kernels index their
/// register arrays (accumulators, fragments) by loop counters, which must
/// be constants for the arrays to live in registers.
#ifdef __CUDACC__
#define AUTOPAR_UNROLL _Pragma("unroll")
#else
#define AUTOPAR_UNROLL
#endif

namespace autopar::mma {
#ifdef AUTOPAR_CUDA_EMULATION
using cuda_emulation::commitAsync;
using cuda_emulation::copyAsync16;
using cuda_emulation::copyAsync4;
using cuda_emulation::exp2Fast;
using cuda_emulation::loadMatrices;
using cuda_emulation::mma16816;
using cuda_emulation::waitAsync;
#else
/// d += a b for one warp (16 x 8 x 16), f32 accumulation.
template <typename T>
__device__ inline void mma16816(float *d, const unsigned *a, const unsigned *b);
template <>
__device__ inline void mma16816<__nv_bfloat16>(float *d, const unsigned *a,
                                               const unsigned *b) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ inline void mma16816<__half>(float *d, const unsigned *a,
                                        const unsigned *b) {
  asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/// ldmatrix.x4: lanes 8i .. 8i + 7 give the addresses of rows 0 .. 7 of
/// the 8 x 8 matrix i (16-bit elements, a row's 16 bytes contiguous and
/// aligned in shared memory); lane 4g + t receives in r[i] the elements
/// (g, 2t) and (g, 2t + 1) of matrix i, or with TRANS (2t, g) and
/// (2t + 1, g): one instruction for four registers of an A or B operand.
template <bool TRANS>
__device__ inline void loadMatrices(unsigned *r, const void *row) {
  unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(row));
  if constexpr (TRANS)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 "
                 "{%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 "
                 "{%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
}

/// Starts copying 16 bytes from global to shared memory (both aligned).
__device__ inline void copyAsync16(void *shared, const void *global) {
  unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(address),
               "l"(global)
               : "memory");
}
/// Starts copying 4 bytes from global to shared memory (both aligned).
__device__ inline void copyAsync4(void *shared, const void *global) {
  unsigned address = static_cast<unsigned>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(address),
               "l"(global)
               : "memory");
}
/// Closes the group of copies started since the last commit.
__device__ inline void commitAsync() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
/// Waits until at most N committed groups are still in flight.
template <int N> __device__ inline void waitAsync() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

/// 2^x, approximately (the special function unit; 2^-inf = 0).
__device__ inline float exp2Fast(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}
#endif

/// The 16 bits of a bf16 or f16 value.
template <typename T> __device__ inline unsigned bitsOf(T x) {
  return *reinterpret_cast<const unsigned short *>(&x);
}
/// Two 16-bit values as one register, `low` in the lower half.
template <typename T> __device__ inline unsigned pack(T low, T high) {
  return bitsOf(low) | bitsOf(high) << 16;
}
/// Two adjacent 16-bit elements (the first at an even index) as a register.
template <typename T> __device__ inline unsigned pairAt(const T *p) {
  return *reinterpret_cast<const unsigned *>(p);
}
} // namespace autopar::mma

#endif // AUTOPAR_RUNTIME_CUDA_MMASYNC_H
