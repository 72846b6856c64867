//===- ContractionTest.cpp - the runtime's strided GEMM
//--------------------===//
//
// Part of the autopar project.
//
// autopar::cpu::contract against a float64 loop nest, for layouts the
// compiler produces: plain and transposed matrices, padded rows, several
// loops per group (which collapse or must be packed), batches in any
// position, size-1 and size-0 loops, and C transposed.
//
//===----------------------------------------------------------------------===//

#include "Contraction.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using autopar::cpu::contract;
using autopar::cpu::ContractionLoop;

namespace {
/// A test contraction: loop sizes, each loop's kind, and for each operand the
/// order in which its loops are laid out in memory (outermost first) plus
/// padding added to the outermost stride.
struct Case {
  std::vector<int64_t> sizes;
  // Per operand: loop indices from outermost to innermost.
  std::vector<int> order[3];
  int64_t pad[3] = {0, 0, 0};
  /// A loop whose stride in C is made 0 (every batch adds into one C), or -1.
  int zeroInC = -1;
};

/// A backend with `gemmBatched`, as the CUDA runtime's (cuBLAS's
/// strided-batched GEMM): plain loops on the host, recording each call's
/// batch count (1 for `gemm`).
struct BatchedBackend {
  std::vector<int64_t> calls;
  static void one(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
                  const float *a, int64_t lda, const float *b, int64_t ldb,
                  float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t l = 0; l < k; ++l)
          sum += double(transA ? a[l * lda + i] : a[i * lda + l]) *
                 (transB ? b[j * ldb + l] : b[l * ldb + j]);
        c[i * ldc + j] += float(sum);
      }
  }
  void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
            const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
            int64_t ldc) {
    calls.push_back(1);
    one(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
  }
  void gemmBatched(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
                   const float *a, int64_t lda, int64_t strideA, const float *b,
                   int64_t ldb, int64_t strideB, float *c, int64_t ldc,
                   int64_t strideC, int64_t count) {
    calls.push_back(count);
    for (int64_t i = 0; i < count; ++i)
      one(transA, transB, m, n, k, a + i * strideA, lda, b + i * strideB, ldb,
          c + i * strideC, ldc);
  }
  const float *pack(int, const float *,
                    const std::vector<const ContractionLoop *> &) {
    return nullptr;
  }
  void unpack(float *, const float *,
              const std::vector<const ContractionLoop *> &) {}
};

/// Checks `c` with seed `seed` through autopar::cpu::contract or, given
/// `batched`, through autopar::runtime::contractWith on that backend.
void check(const Case &c, uint32_t seed, BatchedBackend *batched = nullptr) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<ContractionLoop> loops(c.sizes.size());
  std::vector<float> buffers[3];
  for (size_t l = 0; l < loops.size(); ++l)
    loops[l].size = c.sizes[l];
  for (int o = 0; o < 3; ++o) {
    int64_t stride = 1;
    for (size_t i = c.order[o].size(); i-- > 0;) {
      int l = c.order[o][i];
      loops[l].stride[o] = stride;
      stride *= c.sizes[l] + (i == 0 ? c.pad[o] : 0);
    }
    if (c.order[o].empty())
      stride = 1;
    if (o == 2 && c.zeroInC >= 0)
      loops[size_t(c.zeroInC)].stride[2] = 0;
    buffers[o].resize(size_t(std::max<int64_t>(stride, 1)));
    for (float &v : buffers[o])
      v = dist(rng);
  }
  std::vector<float> expected = buffers[2];
  // Reference: every point of the iteration space, in float64.
  std::vector<double> acc(expected.begin(), expected.end());
  int64_t total = 1;
  for (int64_t s : c.sizes)
    total *= s;
  std::vector<int64_t> index(c.sizes.size(), 0);
  for (int64_t p = 0; p < total; ++p) {
    int64_t off[3] = {0, 0, 0};
    for (size_t l = 0; l < loops.size(); ++l)
      for (int o = 0; o < 3; ++o)
        if (loops[l].stride[o] != ContractionLoop::absent)
          off[o] += index[l] * loops[l].stride[o];
    acc[size_t(off[2])] +=
        double(buffers[0][size_t(off[0])]) * buffers[1][size_t(off[1])];
    for (size_t l = c.sizes.size(); l-- > 0;) {
      if (++index[l] < c.sizes[l])
        break;
      index[l] = 0;
    }
  }
  std::string error = batched ? autopar::runtime::contractWith(
                                    *batched, buffers[0].data(),
                                    buffers[1].data(), buffers[2].data(), loops)
                              : contract(buffers[0].data(), buffers[1].data(),
                                         buffers[2].data(), loops);
  ASSERT_EQ(error, "");
  for (size_t i = 0; i < acc.size(); ++i)
    EXPECT_NEAR(buffers[2][i], acc[i], 1e-4 * (1 + std::fabs(acc[i])))
        << "element " << i;
}

// Loop roles by index in each case below: see the comments.
TEST(Contraction, PlainMatmul) {
  // loops: 0 = m, 1 = n, 2 = k.  A[m,k] B[k,n] C[m,n]
  check({{7, 5, 9}, {{0, 2}, {2, 1}, {0, 1}}}, 1);
}

TEST(Contraction, TransposedOperands) {
  // A[k,m], B[n,k] (read transposed in place), C[m,n].
  check({{6, 8, 5}, {{2, 0}, {1, 2}, {0, 1}}}, 2);
}

TEST(Contraction, TransposedResult) {
  // C[n,m]: computed as C^T = B^T A^T.
  check({{6, 8, 5}, {{0, 2}, {2, 1}, {1, 0}}}, 3);
}

TEST(Contraction, PaddedRows) {
  check({{4, 3, 6}, {{0, 2}, {2, 1}, {0, 1}}, {3, 2, 5}}, 4);
}

TEST(Contraction, BatchedAttentionScores) {
  // loops: 0 = batch, 1 = head, 2 = query (m), 3 = key (n), 4 = d (k).
  // Q[b,q,h,d] (heads interleaved), K[b,k,h,d], S[b,h,q,k].
  check({{2, 3, 5, 4, 6}, {{0, 2, 1, 4}, {0, 3, 1, 4}, {0, 1, 2, 3}}}, 5);
}

// With a backend that has gemmBatched (cuBLAS's strided-batched GEMM), the
// innermost batch loops that every operand addresses as one dimension are
// one call.
TEST(Contraction, StridedBatches) {
  // Heads interleaved (Q[b,q,h,d]): b and h do not collapse in Q, so each
  // of the 2 batches is one call for its 3 heads.
  BatchedBackend interleaved;
  check({{2, 3, 5, 4, 6}, {{0, 2, 1, 4}, {0, 3, 1, 4}, {0, 1, 2, 3}}}, 14,
        &interleaved);
  EXPECT_EQ(interleaved.calls, (std::vector<int64_t>{3, 3}));
  // Q[b,h,q,d], K[b,h,k,d] read transposed, S[b,h,q,k]: one call for all 6.
  BatchedBackend contiguous;
  check({{2, 3, 5, 4, 6}, {{0, 1, 2, 4}, {0, 1, 3, 4}, {0, 1, 2, 3}}}, 15,
        &contiguous);
  EXPECT_EQ(contiguous.calls, (std::vector<int64_t>{6}));
  // C transposed (S[b,h,k,q]): computed as C^T = B^T A^T, still one call.
  BatchedBackend transposed;
  check({{2, 3, 5, 4, 6}, {{0, 1, 2, 4}, {0, 1, 3, 4}, {0, 1, 3, 2}}}, 16,
        &transposed);
  EXPECT_EQ(transposed.calls, (std::vector<int64_t>{6}));
  // Every batch adding into the same C (stride 0): batched calls would race,
  // so they are separate.
  Case shared{{3, 4, 5, 6}, {{0, 1, 3}, {0, 3, 2}, {0, 1, 2}}};
  shared.zeroInC = 0;
  BatchedBackend overlapping;
  check(shared, 17, &overlapping);
  EXPECT_EQ(overlapping.calls, (std::vector<int64_t>{1, 1, 1}));
  // No batch loop: one plain GEMM.
  BatchedBackend plain;
  check({{7, 5, 9}, {{0, 2}, {2, 1}, {0, 1}}}, 18, &plain);
  EXPECT_EQ(plain.calls, (std::vector<int64_t>{1}));
}

TEST(Contraction, CollapsibleGroups) {
  // Weight gradient of a linear layer over [batch, seq]: loops 0 = b, 1 = s
  // (both k), 2 = in (m), 3 = out (n). A = x[b,s,in] read as [in, b*s]^T.
  check({{3, 4, 5, 6}, {{0, 1, 2}, {0, 1, 3}, {2, 3}}}, 6);
}

TEST(Contraction, PackedWhenNotCollapsible) {
  // k loops 0 and 1 appear in A in the order (1, 0): no single stride.
  check({{3, 4, 5, 6}, {{1, 0, 2}, {0, 1, 3}, {2, 3}}}, 7);
}

TEST(Contraction, PackedResult) {
  // C's m loops 0 and 1 are split around n (loop 2): C must be packed.
  check({{2, 3, 4, 5}, {{0, 1, 3}, {3, 2}, {0, 2, 1}}}, 8);
}

TEST(Contraction, VectorAndScalarShapes) {
  // Matrix-vector (no n loop): loops 0 = m, 1 = k.
  check({{5, 7}, {{0, 1}, {1}, {0}}}, 9);
  // Dot product (no m, no n): one k loop, C a scalar.
  check({{11}, {{0}, {0}, {}}}, 10);
  // Outer product (no k): loops 0 = m, 1 = n.
  check({{4, 3}, {{0}, {1}, {0, 1}}}, 11);
}

TEST(Contraction, SizeOneAndEmptyLoops) {
  check({{1, 5, 1}, {{0, 2}, {2, 1}, {0, 1}}}, 12);
  // A zero-trip loop adds nothing: C keeps its values.
  check({{3, 4, 0}, {{0, 2}, {2, 1}, {0, 1}}}, 13);
}

// The loop description compiled code passes: 3 entries per loop, and a
// trailing 1 where C is to be overwritten (only a runtime that says it can).
TEST(Contraction, DescribeLoopsOverwriteFlag) {
  struct Operand {
    int64_t rank;
    const int64_t *sizes, *strides;
  };
  struct Spec {
    const int64_t *data;
    int64_t offset;
    int64_t sizes[1];
    int64_t strides[1];
  };
  // C[4,16] = A[4,8] B[8,16]: loops m, n, k.
  const int64_t aSizes[] = {4, 8}, aStrides[] = {8, 1};
  const int64_t bSizes[] = {8, 16}, bStrides[] = {16, 1};
  const int64_t cSizes[] = {4, 16}, cStrides[] = {16, 1};
  const Operand operands[3] = {
      {2, aSizes, aStrides}, {2, bSizes, bStrides}, {2, cSizes, cStrides}};
  const int64_t entries[] = {0, -1, 0, -1, 1, 1, 1, 0, -1, 1};
  std::vector<ContractionLoop> loops;
  bool overwrite = true;
  EXPECT_EQ(autopar::runtime::describeLoops(
                operands, Spec{entries, 0, {9}, {1}}, loops, &overwrite),
            "");
  EXPECT_FALSE(overwrite);
  EXPECT_EQ(loops.size(), 3u);
  EXPECT_EQ(autopar::runtime::describeLoops(
                operands, Spec{entries, 0, {10}, {1}}, loops, &overwrite),
            "");
  EXPECT_TRUE(overwrite);
  EXPECT_EQ(loops.size(), 3u);
  EXPECT_EQ(loops[2].size, 8);
  EXPECT_EQ(autopar::runtime::describeLoops(operands,
                                            Spec{entries, 0, {10}, {1}}, loops),
            "the loop description asks to overwrite C, which this runtime "
            "does not do");
  const int64_t bad[] = {0, -1, 0, -1, 1, 1, 1, 0, -1, 2};
  EXPECT_EQ(autopar::runtime::describeLoops(operands, Spec{bad, 0, {10}, {1}},
                                            loops, &overwrite),
            "the loop description ends in an entry other than 1");
}

TEST(Contraction, RejectsLoopInOneOperand) {
  std::vector<ContractionLoop> loops(1);
  loops[0].size = 2;
  loops[0].stride[0] = 1;
  float a[2] = {1, 2}, b[1] = {1}, c[1] = {0};
  EXPECT_EQ(contract(a, b, c, loops), "a loop indexes only one operand");
}
} // namespace

namespace {
/// A rank-2 buffer of `T` as compiled code passes it (an unranked memref).
template <typename T> struct Buffer2D {
  std::vector<T> data;
  StridedMemRefType<T, 2> descriptor;
  UnrankedMemRefType<T> unranked;
  Buffer2D(int64_t rows, int64_t cols, int64_t rowStride, int64_t colStride,
           T fill)
      : data(size_t(rows * cols), fill) {
    descriptor = {
        data.data(), data.data(), 0, {rows, cols}, {rowStride, colStride}};
    unranked = {2, &descriptor};
  }
  T &at(int64_t i, int64_t j) {
    return data[size_t(i * descriptor.strides[0] + j * descriptor.strides[1])];
  }
};

uint16_t bf16Bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return uint16_t(bits >> 16); // exact for the small integers used here
}

uint16_t f16Bits(int v) { // integers exact in f16
  if (v == 0)
    return 0;
  int exponent = 0;
  while ((v >> exponent) > 1)
    ++exponent;
  uint16_t mantissa = uint16_t(
      (exponent <= 10 ? v << (10 - exponent) : v >> (exponent - 10)) & 0x3ff);
  return uint16_t(((exponent + 15) << 10) | mantissa);
}

/// The loops of C[2,2] = A[2,3] B[3,2] (m, n, k), overwriting C.
const int64_t kOverwrite[] = {0, -1, 0, -1, 1, 1, 1, 0, -1, 1};
StridedMemRefType<int64_t, 1> overwriteSpec() {
  return {const_cast<int64_t *>(kOverwrite),
          const_cast<int64_t *>(kOverwrite),
          0,
          {10},
          {1}};
}
} // namespace

// The CUDA runtime's half-precision products computed on the CPU (for
// autopar-run --gpu-kernels): A (stored transposed) and B widened from bf16
// or f16, C overwritten in f32 or rounded once to 16 bits, ties to even.
TEST(Contraction, HalfPrecisionEntryPoints) {
  // A = [[1, 2, 3], [4, 5, 6]] stored column-major; B = [[1, 0], [0, 1],
  // [1, 40]]; A B = [[4, 122], [10, 245]]; with B[2][1] = 400: [[4, 1202],
  // [10, 2405]].
  const int a[2][3] = {{1, 2, 3}, {4, 5, 6}};
  const int b[3][2] = {{1, 0}, {0, 1}, {1, 400}};
  for (bool bf16 : {true, false}) {
    auto bits = [&](int v) { return bf16 ? bf16Bits(float(v)) : f16Bits(v); };
    Buffer2D<uint16_t> A(2, 3, 1, 2, 0), B(3, 2, 2, 1, 0);
    for (int i = 0; i < 2; ++i)
      for (int k = 0; k < 3; ++k)
        A.at(i, k) = bits(a[i][k]);
    for (int k = 0; k < 3; ++k)
      for (int j = 0; j < 2; ++j)
        B.at(k, j) = bits(b[k][j]);
    StridedMemRefType<int64_t, 1> spec = overwriteSpec();
    Buffer2D<float> C(2, 2, 2, 1, 99.0f); // overwritten, not added to
    (bf16 ? _mlir_ciface_autopar_gemm_bf16 : _mlir_ciface_autopar_gemm_f16)(
        &A.unranked, &B.unranked, &C.unranked, &spec);
    EXPECT_EQ(C.at(0, 0), 4.0f);
    EXPECT_EQ(C.at(0, 1), 1202.0f);
    EXPECT_EQ(C.at(1, 0), 10.0f);
    EXPECT_EQ(C.at(1, 1), 2405.0f);
    // Rounded once: 1202 and 2405 in bf16 (8 significant bits: steps of 8
    // from 1024, 16 from 2048) are 1200 and 2400; in f16 (11 bits: steps of
    // 1 to 2048, then 2) 1202 and 2404 (2405 is a tie: even).
    Buffer2D<uint16_t> C16(2, 2, 2, 1, 0x7777);
    (bf16 ? _mlir_ciface_autopar_gemm_bf16_c16
          : _mlir_ciface_autopar_gemm_f16_c16)(&A.unranked, &B.unranked,
                                               &C16.unranked, &spec);
    EXPECT_EQ(C16.at(0, 0), bits(4));
    EXPECT_EQ(C16.at(1, 0), bits(10));
    EXPECT_EQ(C16.at(0, 1), bf16 ? bf16Bits(1200.0f) : f16Bits(1202));
    EXPECT_EQ(C16.at(1, 1), bf16 ? bf16Bits(2400.0f) : f16Bits(2404));
  }
}

// f32 products told to overwrite C (the CUDA pipeline's calls) zero it
// first; without the flag they add into it, as the CPU pipeline's do.
TEST(Contraction, F32OverwriteFlag) {
  Buffer2D<float> A(2, 3, 3, 1, 1.0f), B(3, 2, 2, 1, 2.0f), C(2, 2, 2, 1, 5.0f);
  StridedMemRefType<int64_t, 1> spec = overwriteSpec();
  _mlir_ciface_autopar_gemm_f32(&A.unranked, &B.unranked, &C.unranked, &spec);
  EXPECT_EQ(C.at(1, 1), 6.0f);
  spec.sizes[0] = 9; // no flag: C += A B
  _mlir_ciface_autopar_gemm_f32(&A.unranked, &B.unranked, &C.unranked, &spec);
  EXPECT_EQ(C.at(1, 1), 12.0f);
}
