//===- GemmPadding.h - half-precision GEMMs on aligned copies ---*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// cuBLAS runs a bf16 or f16 GEMM on its fast tensor-core kernels only when
// every dimension and leading dimension is a multiple of 8 elements and the
// matrices start on 16-byte boundaries; otherwise it falls back to kernels
// several times slower. gpt2-small's vocabulary (50257) makes its three
// largest products such GEMMs: on an H100 (run 8, bench/results/
// gpu-h100.md) 8192x50257x768 took 6.6 ms where a multiple of 8 takes
// about 1.1 ms. PyTorch's compiler pads such matrices; so does this: the
// GEMM runs on copies whose odd dimensions are rounded up to a multiple of 8
// (zeros where a dimension is summed over, so the sum is unchanged; the
// extra rows and columns of C are dropped), when the product's work is large
// against the bytes copied. The plan is pure and the execution goes through
// a small device interface, so both are tested on the host
// (unittests/Runtime/GemmPaddingTest.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_COMMON_GEMMPADDING_H
#define AUTOPAR_RUNTIME_COMMON_GEMMPADDING_H

#include <cstddef>
#include <cstdint>

namespace autopar::runtime {

/// Row-major C (m x n, ldc) = op(A) op(B) (+ C): op(A) is m x k, stored
/// k x m when transA; op(B) is k x n, stored n x k when transB.
struct GemmShape {
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  uintptr_t a = 0, b = 0, c = 0; ///< the first elements' addresses
};

/// What to run instead: the padded sizes and which operands are copied
/// (a copied operand's leading dimension is its padded row length).
struct GemmPadding {
  bool pad = false;
  int64_t m = 0, n = 0, k = 0;
  bool copy[3] = {false, false, false}; ///< A, B, C
  /// The bytes the copies move (read and written), for the choice.
  double copiedBytes = 0;
};

/// Decides whether a GEMM on `inBytes`-wide A and B and `outBytes`-wide C
/// (f32, or the inputs' type) runs on padded copies (`accumulate`: it adds
/// into C, which is then copied in too). `force`: 0 never, 1 whenever something
/// is unaligned, -1 (the default) only when the product's flops are at least
/// 100 times the bytes the copies move (a slow kernel at ~100 TFLOP/s against a
/// fast one at ~500 costs 8e-15 s a flop; a copy at ~2.5 TB/s 4e-13 s a byte
/// read and written).
inline GemmPadding planGemmPadding(const GemmShape &g, size_t inBytes,
                                   bool accumulate, int force = -1,
                                   size_t outBytes = 4) {
  constexpr int64_t multiple = 8;
  GemmPadding p;
  auto up = [](int64_t v) { return (v + multiple - 1) / multiple * multiple; };
  p.m = up(g.m);
  p.n = up(g.n);
  p.k = up(g.k);
  if (g.m == 0 || g.n == 0 || g.k == 0 || force == 0)
    return p;
  // Each operand's stored rows and row length, before and after.
  int64_t rows[3] = {g.transA ? g.k : g.m, g.transB ? g.n : g.k, g.m};
  int64_t cols[3] = {g.transA ? g.m : g.k, g.transB ? g.k : g.n, g.n};
  int64_t newRows[3] = {g.transA ? p.k : p.m, g.transB ? p.n : p.k, p.m};
  int64_t newCols[3] = {g.transA ? p.m : p.k, g.transB ? p.k : p.n, p.n};
  int64_t ld[3] = {g.lda, g.ldb, g.ldc};
  uintptr_t start[3] = {g.a, g.b, g.c};
  size_t bytes[3] = {inBytes, inBytes, outBytes};
  bool unaligned = false;
  for (int i = 0; i < 3; ++i) {
    bool aligned = rows[i] == newRows[i] && cols[i] == newCols[i] &&
                   ld[i] % multiple == 0 && start[i] % 16 == 0;
    p.copy[i] = !aligned;
    unaligned |= !aligned;
    if (!aligned)
      p.copiedBytes += (i == 2 && accumulate ? 4.0 : 2.0) * double(rows[i]) *
                       double(cols[i]) * double(bytes[i]);
  }
  if (!unaligned)
    return p;
  double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
  p.pad = force == 1 || flops >= 100.0 * p.copiedBytes;
  return p;
}

/// Runs `g` as planned by `p` (p.pad set): copies into scratch from
/// `device` (alloc, free, copy2D(dst, dstPitch, src, srcPitch, widthBytes,
/// rows), zero2D(dst, pitch, widthBytes, rows), all in bytes and ordered
/// with the GEMM), then `gemm(transA, transB, m, n, k, a, lda, b, ldb, c,
/// ldc)` on the padded operands, then C's rows back. `accumulate`: the GEMM
/// adds into C (its old values are copied in first).
template <typename In, typename Out, typename Device, typename Gemm>
void runPaddedGemm(Device &device, const GemmShape &g, const GemmPadding &p,
                   const In *a, const In *b, Out *c, bool accumulate,
                   Gemm &&gemm) {
  struct Matrix {
    const char *data;
    int64_t rows, cols, ld, newRows, newCols;
    size_t bytes;
    char *copy = nullptr;
  };
  Matrix ms[3] = {{reinterpret_cast<const char *>(a), g.transA ? g.k : g.m,
                   g.transA ? g.m : g.k, g.lda, g.transA ? p.k : p.m,
                   g.transA ? p.m : p.k, sizeof(In)},
                  {reinterpret_cast<const char *>(b), g.transB ? g.n : g.k,
                   g.transB ? g.k : g.n, g.ldb, g.transB ? p.n : p.k,
                   g.transB ? p.k : p.n, sizeof(In)},
                  {reinterpret_cast<const char *>(c), g.m, g.n, g.ldc, p.m, p.n,
                   sizeof(Out)}};
  for (int i = 0; i < 3; ++i) {
    Matrix &x = ms[i];
    if (!p.copy[i])
      continue;
    size_t pitch = size_t(x.newCols) * x.bytes;
    x.copy = static_cast<char *>(device.alloc(pitch * size_t(x.newRows)));
    if (i == 2 && !accumulate)
      continue; // C's old values are not read; its padding is dropped.
    device.copy2D(x.copy, pitch, x.data, size_t(x.ld) * x.bytes,
                  size_t(x.cols) * x.bytes, size_t(x.rows));
    // Zeros in A's and B's padding: a padded K adds 0 x 0 (any other
    // value there could be a NaN); padded M or N rows only reach C's
    // dropped padding, zeroed for determinism alike.
    if (x.newCols > x.cols)
      device.zero2D(x.copy + size_t(x.cols) * x.bytes, pitch,
                    size_t(x.newCols - x.cols) * x.bytes, size_t(x.rows));
    if (x.newRows > x.rows)
      device.zero2D(x.copy + size_t(x.rows) * pitch, pitch, pitch,
                    size_t(x.newRows - x.rows));
  }
  auto ld = [](const Matrix &x) { return x.copy ? x.newCols : x.ld; };
  gemm(g.transA, g.transB, p.m, p.n, p.k,
       reinterpret_cast<const In *>(ms[0].copy ? ms[0].copy : ms[0].data),
       ld(ms[0]),
       reinterpret_cast<const In *>(ms[1].copy ? ms[1].copy : ms[1].data),
       ld(ms[1]),
       reinterpret_cast<Out *>(ms[2].copy ? ms[2].copy
                                          : const_cast<char *>(ms[2].data)),
       ld(ms[2]));
  if (ms[2].copy)
    device.copy2D(const_cast<char *>(ms[2].data), size_t(g.ldc) * sizeof(Out),
                  ms[2].copy, size_t(p.n) * sizeof(Out),
                  size_t(g.n) * sizeof(Out), size_t(g.m));
  for (Matrix &x : ms)
    if (x.copy)
      device.free(x.copy);
}

} // namespace autopar::runtime

#endif // AUTOPAR_RUNTIME_COMMON_GEMMPADDING_H
