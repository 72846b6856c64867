//===- Contraction.cpp - strided tensor contractions through a GEMM -------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "Contraction.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include <oneapi/dnnl/dnnl.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>

using namespace autopar::cpu;

namespace {
/// Calls `f(n, offset)` for the n-th element of a strided box in row-major
/// order, `offset` its distance in elements from the first.
template <typename F>
void forEachElement(int64_t rank, const int64_t *sizes, const int64_t *strides,
                    F f) {
  int64_t total = 1;
  for (int64_t d = 0; d < rank; ++d)
    total *= sizes[d];
  std::vector<int64_t> index(size_t(rank), 0);
  int64_t offset = 0;
  for (int64_t n = 0; n < total; ++n) {
    f(n, offset);
    for (int64_t d = rank; d-- > 0;) {
      offset += strides[d];
      if (++index[size_t(d)] < sizes[d])
        break;
      offset -= strides[d] * sizes[d];
      index[size_t(d)] = 0;
    }
  }
}

/// Copies the elements an operand's loops `order` address between `strided`
/// (its own strides) and `packed` (row-major in that order).
template <bool ToPacked>
void copyPacked(float *strided, float *packed, int operand,
                const std::vector<const ContractionLoop *> &order) {
  std::vector<int64_t> sizes, strides;
  for (const ContractionLoop *l : order) {
    sizes.push_back(l->size);
    strides.push_back(l->stride[operand]);
  }
  forEachElement(int64_t(order.size()), sizes.data(), strides.data(),
                 [&](int64_t n, int64_t offset) {
                   if (ToPacked)
                     packed[n] = strided[offset];
                   else
                     strided[offset] = packed[n];
                 });
}

void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
           const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
           int64_t ldc) {
  dnnl_status_t status = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', m,
                                    n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
  if (status != dnnl_success) {
    std::fprintf(stderr,
                 "autopar runtime: dnnl_sgemm failed (status %d) for "
                 "%ldx%ldx%ld\n",
                 int(status), long(m), long(n), long(k));
    std::abort();
  }
}
} // namespace

namespace {
/// oneDNN's sgemm, packing into host buffers.
struct CPUBackend {
  std::vector<std::unique_ptr<float[]>> buffers;
  void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
            const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
            int64_t ldc) {
    sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
  }
  const float *pack(int operand, const float *base,
                    const std::vector<const ContractionLoop *> &order) {
    int64_t total = 1;
    for (const ContractionLoop *l : order)
      total *= l->size;
    buffers.emplace_back(new float[size_t(total)]);
    copyPacked<true>(const_cast<float *>(base), buffers.back().get(), operand,
                     order);
    return buffers.back().get();
  }
  void unpack(float *c, const float *packed,
              const std::vector<const ContractionLoop *> &order) {
    copyPacked<false>(c, const_cast<float *>(packed), 2, order);
  }
};
} // namespace

std::string autopar::cpu::contract(const float *a, const float *b, float *c,
                                   const std::vector<ContractionLoop> &loops) {
  CPUBackend backend;
  return autopar::runtime::contractWith(backend, a, b, c, loops);
}

namespace {
/// An operand as describeLoops reads it.
struct Shape {
  int64_t rank;
  const int64_t *sizes;
  const int64_t *strides;
};

/// Row-major strides of `sizes`, and the number of elements.
std::vector<int64_t> denseStrides(int64_t rank, const int64_t *sizes,
                                  int64_t &total) {
  std::vector<int64_t> strides(static_cast<size_t>(rank));
  total = 1;
  for (int64_t d = rank; d-- > 0;) {
    strides[size_t(d)] = total;
    total *= sizes[d];
  }
  return strides;
}

float widen(uint16_t h, bool bf16) {
  uint32_t bits;
  if (bf16) {
    bits = uint32_t(h) << 16;
  } else {
    uint32_t sign = uint32_t(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f,
             mantissa = h & 0x3ff;
    if (exponent == 0x1f) { // inf, NaN
      bits = sign | 0x7f800000 | (mantissa << 13);
    } else if (exponent != 0) {
      bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
      bits = sign;
    } else { // subnormal: normalize
      int shift = 0;
      while (!(mantissa & 0x400)) {
        mantissa <<= 1;
        ++shift;
      }
      bits = sign | (uint32_t(113 - shift) << 23) | ((mantissa & 0x3ff) << 13);
    }
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// `f` rounded to the nearest bf16 or f16, ties to even.
uint16_t narrow(float f, bool bf16) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (bf16) {
    if ((bits & 0x7fffffff) > 0x7f800000)
      return uint16_t((bits >> 16) | 0x40);
    return uint16_t((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
  }
  uint16_t sign = uint16_t((bits >> 16) & 0x8000);
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000)
    return uint16_t(sign | 0x7e00);
  if (magnitude >= 0x477ff000) // rounds past 65504
    return uint16_t(sign | 0x7c00);
  if (magnitude >= 0x38800000) { // normal in f16
    uint32_t r = magnitude - 0x38000000;
    r += 0xfff + ((r >> 13) & 1);
    return uint16_t(sign | (r >> 13));
  }
  // Subnormal (or zero) in f16: in units of 2^-24, ties to even.
  float scaled;
  std::memcpy(&scaled, &magnitude, 4);
  scaled *= 16777216.0f; // 2^24
  float whole = std::nearbyint(scaled);
  return uint16_t(sign | uint16_t(whole));
}

void failGemm(const char *name, const std::string &error) {
  // Only a compiler bug can get here: the pass checked the shapes.
  std::fprintf(stderr, "autopar runtime: %s: %s\n", name, error.c_str());
  std::abort();
}

/// C = A B where the loop description says so (overwrite: its last entry
/// 1, what the CUDA pipeline's calls pass), else C += A B, with A and B of
/// 16-bit floats (bf16 or f16) widened to f32 and C of f32 or, `NarrowC`,
/// of the same 16-bit type (only ever overwritten, rounded once): what the
/// CUDA runtime's cuBLAS calls compute, for the CUDA pipeline's kernels
/// run on the CPU (autopar-run --gpu-kernels).
template <bool NarrowC>
void halfGemm(const char *name, bool bf16, UnrankedMemRefType<uint16_t> *a,
              UnrankedMemRefType<uint16_t> *b, void *c,
              StridedMemRefType<int64_t, 1> *spec) {
  DynamicMemRefType<uint16_t> A(*a), B(*b);
  int64_t totalA, totalB, totalC;
  std::vector<int64_t> stridesA = denseStrides(A.rank, A.sizes, totalA),
                       stridesB = denseStrides(B.rank, B.sizes, totalB);
  std::vector<float> denseA(static_cast<size_t>(totalA)),
      denseB(static_cast<size_t>(totalB));
  forEachElement(A.rank, A.sizes, A.strides, [&](int64_t n, int64_t at) {
    denseA[size_t(n)] = widen(A.data[A.offset + at], bf16);
  });
  forEachElement(B.rank, B.sizes, B.strides, [&](int64_t n, int64_t at) {
    denseB[size_t(n)] = widen(B.data[B.offset + at], bf16);
  });
  using CType = std::conditional_t<NarrowC, uint16_t, float>;
  DynamicMemRefType<CType> C(*static_cast<UnrankedMemRefType<CType> *>(c));
  std::vector<int64_t> stridesC = denseStrides(C.rank, C.sizes, totalC);
  std::vector<float> denseC(NarrowC ? size_t(totalC) : 0, 0.0f);
  Shape shapes[3] = {{A.rank, A.sizes, stridesA.data()},
                     {B.rank, B.sizes, stridesB.data()},
                     {C.rank, C.sizes, NarrowC ? stridesC.data() : C.strides}};
  std::vector<ContractionLoop> loops;
  bool overwrite = false;
  std::string error =
      autopar::runtime::describeLoops(shapes, *spec, loops, &overwrite);
  if (error.empty() && NarrowC && !overwrite)
    error = "a half-precision C must be overwritten (the loop description "
            "ends in 1)";
  if (!error.empty())
    return failGemm(name, error);
  float *out;
  if constexpr (NarrowC) {
    out = denseC.data();
  } else {
    out = C.data + C.offset;
    if (overwrite)
      forEachElement(C.rank, C.sizes, C.strides,
                     [&](int64_t, int64_t at) { out[at] = 0.0f; });
  }
  error = contract(denseA.data(), denseB.data(), out, loops);
  if (!error.empty())
    return failGemm(name, error);
  if constexpr (NarrowC)
    forEachElement(C.rank, C.sizes, C.strides, [&](int64_t n, int64_t at) {
      C.data[C.offset + at] = narrow(denseC[size_t(n)], bf16);
    });
}
} // namespace

/// The entry point compiled code calls (see the pass
/// `autopar-contractions-to-calls`): the three buffers of `C += A * B` and,
/// for each loop, the dimension of A, B and C it indexes (-1: none); a last
/// entry 1 asks for `C = A * B` (the CUDA pipeline's calls, run on the CPU
/// by autopar-run --gpu-kernels).
extern "C" void _mlir_ciface_autopar_gemm_f32(
    UnrankedMemRefType<float> *a, UnrankedMemRefType<float> *b,
    UnrankedMemRefType<float> *c, StridedMemRefType<int64_t, 1> *spec) {
  DynamicMemRefType<float> operands[3] = {DynamicMemRefType<float>(*a),
                                          DynamicMemRefType<float>(*b),
                                          DynamicMemRefType<float>(*c)};
  std::vector<ContractionLoop> loops;
  bool overwrite = false;
  std::string error =
      autopar::runtime::describeLoops(operands, *spec, loops, &overwrite);
  if (error.empty() && overwrite) {
    DynamicMemRefType<float> &C = operands[2];
    forEachElement(C.rank, C.sizes, C.strides,
                   [&](int64_t, int64_t at) { C.data[C.offset + at] = 0.0f; });
  }
  if (error.empty())
    error = contract(operands[0].data + operands[0].offset,
                     operands[1].data + operands[1].offset,
                     operands[2].data + operands[2].offset, loops);
  if (!error.empty())
    failGemm("autopar_gemm_f32", error);
}

extern "C" void _mlir_ciface_autopar_gemm_bf16(
    UnrankedMemRefType<uint16_t> *a, UnrankedMemRefType<uint16_t> *b,
    UnrankedMemRefType<float> *c, StridedMemRefType<int64_t, 1> *spec) {
  halfGemm<false>("autopar_gemm_bf16", true, a, b, c, spec);
}

extern "C" void _mlir_ciface_autopar_gemm_f16(
    UnrankedMemRefType<uint16_t> *a, UnrankedMemRefType<uint16_t> *b,
    UnrankedMemRefType<float> *c, StridedMemRefType<int64_t, 1> *spec) {
  halfGemm<false>("autopar_gemm_f16", false, a, b, c, spec);
}

extern "C" void _mlir_ciface_autopar_gemm_bf16_c16(
    UnrankedMemRefType<uint16_t> *a, UnrankedMemRefType<uint16_t> *b,
    UnrankedMemRefType<uint16_t> *c, StridedMemRefType<int64_t, 1> *spec) {
  halfGemm<true>("autopar_gemm_bf16_c16", true, a, b, c, spec);
}

extern "C" void _mlir_ciface_autopar_gemm_f16_c16(
    UnrankedMemRefType<uint16_t> *a, UnrankedMemRefType<uint16_t> *b,
    UnrankedMemRefType<uint16_t> *c, StridedMemRefType<int64_t, 1> *spec) {
  halfGemm<true>("autopar_gemm_f16_c16", false, a, b, c, spec);
}
