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
