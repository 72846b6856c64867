//===- GemmPaddingTest.cpp - half-precision GEMMs on aligned copies -------===//
//
// Part of the autopar project.
//
// runtime/common/GemmPadding.h on the host: which GEMMs the CUDA runtime
// pads (gpt2-small's vocabulary products, not its aligned ones, not small
// ones), and that running one on padded copies gives exactly the unpadded
// product, with scratch that starts as garbage (all bits set: NaN in f32),
// in every transposition, overwriting or adding into C, and leaving C's
// elements between rows alone.
//
//===----------------------------------------------------------------------===//

#include "GemmPadding.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

using autopar::runtime::GemmPadding;
using autopar::runtime::GemmShape;
using autopar::runtime::planGemmPadding;
using autopar::runtime::runPaddedGemm;

namespace {

GemmShape shape(bool transA, bool transB, int64_t m, int64_t n, int64_t k) {
  GemmShape g;
  g.transA = transA;
  g.transB = transB;
  g.m = m;
  g.n = n;
  g.k = k;
  g.lda = transA ? m : k;
  g.ldb = transB ? k : n;
  g.ldc = n;
  g.a = g.b = g.c = 256;
  return g;
}

TEST(GemmPadding, PadsGpt2sVocabularyProducts) {
  // The logits (x wte^T), their gradient into x (dlogits wte) and into wte
  // (x^T dlogits): bf16, C overwritten.
  GemmPadding logits =
      planGemmPadding(shape(false, true, 8192, 50257, 768), 2, false);
  EXPECT_TRUE(logits.pad);
  EXPECT_EQ(logits.n, 50264);
  EXPECT_EQ(logits.m, 8192);
  EXPECT_EQ(logits.k, 768);
  EXPECT_FALSE(logits.copy[0]); // x: 8192 x 768, as it is
  EXPECT_TRUE(logits.copy[1]);  // wte: 50257 rows -> 50264
  EXPECT_TRUE(logits.copy[2]);  // logits: rows of 50257 -> 50264

  GemmPadding dx =
      planGemmPadding(shape(false, false, 8192, 768, 50257), 2, false);
  EXPECT_TRUE(dx.pad);
  EXPECT_EQ(dx.k, 50264);
  EXPECT_TRUE(dx.copy[0]);
  EXPECT_TRUE(dx.copy[1]);
  EXPECT_FALSE(dx.copy[2]);

  GemmPadding dw =
      planGemmPadding(shape(true, false, 768, 50257, 8192), 2, false);
  EXPECT_TRUE(dw.pad);
  EXPECT_FALSE(dw.copy[0]);
  EXPECT_TRUE(dw.copy[1]);
  EXPECT_TRUE(dw.copy[2]);
}

TEST(GemmPadding, LeavesAlignedSmallAndForbiddenGemmsAlone) {
  GemmPadding aligned =
      planGemmPadding(shape(false, false, 8192, 3072, 768), 2, true);
  EXPECT_FALSE(aligned.pad);
  EXPECT_EQ(aligned.copiedBytes, 0);
  // 64 x 1001 x 77: 9.9 MFLOP against 0.5 MB of C copied back.
  GemmPadding small = planGemmPadding(shape(false, false, 64, 1001, 77), 2,
                                      /*accumulate=*/false);
  EXPECT_FALSE(small.pad);
  EXPECT_TRUE(
      planGemmPadding(shape(false, false, 64, 1001, 77), 2, false, 1).pad);
  EXPECT_FALSE(
      planGemmPadding(shape(false, true, 8192, 50257, 768), 2, false, 0).pad);
  // Adding into the logits would copy C both ways: 6.8 GB moved for 632
  // GFLOP is not worth it.
  EXPECT_FALSE(
      planGemmPadding(shape(false, true, 8192, 50257, 768), 2, true).pad);
  // Aligned sizes, but A starts 8 bytes into a line, or B's rows are 4 apart.
  GemmShape offset = shape(false, false, 4096, 4096, 4096);
  offset.a += 8;
  GemmPadding moved = planGemmPadding(offset, 2, false);
  EXPECT_TRUE(moved.pad);
  EXPECT_TRUE(moved.copy[0]);
  EXPECT_FALSE(moved.copy[1]);
  EXPECT_FALSE(moved.copy[2]);
  GemmShape pitched = shape(false, false, 4096, 4096, 4096);
  pitched.ldb = 4100;
  EXPECT_TRUE(planGemmPadding(pitched, 2, false).copy[1]);
}

/// Host memory standing in for the device: scratch starts with every bit
/// set, so padding that is read without being zeroed shows.
struct HostDevice {
  int allocations = 0, frees = 0;
  void *alloc(size_t bytes) {
    ++allocations;
    void *p = std::malloc(bytes);
    std::memset(p, 0xff, bytes);
    return p;
  }
  void free(void *p) {
    ++frees;
    std::free(p);
  }
  void copy2D(void *dst, size_t dstPitch, const void *src, size_t srcPitch,
              size_t width, size_t rows) {
    ASSERT_LE(width, dstPitch);
    ASSERT_LE(width, srcPitch);
    for (size_t r = 0; r < rows; ++r)
      std::memcpy(static_cast<char *>(dst) + r * dstPitch,
                  static_cast<const char *>(src) + r * srcPitch, width);
  }
  void zero2D(void *dst, size_t pitch, size_t width, size_t rows) {
    ASSERT_LE(width, pitch);
    for (size_t r = 0; r < rows; ++r)
      std::memset(static_cast<char *>(dst) + r * pitch, 0, width);
  }
};

/// C (+)= op(A) op(B) on small integers held in 16 bits (exact in f32).
void reference(const GemmShape &g, const uint16_t *a, const uint16_t *b,
               float *c, bool accumulate) {
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      double sum = accumulate ? c[i * g.ldc + j] : 0.0;
      for (int64_t l = 0; l < g.k; ++l)
        sum += double(g.transA ? a[l * g.lda + i] : a[i * g.lda + l]) *
               double(g.transB ? b[j * g.ldb + l] : b[l * g.ldb + j]);
      c[i * g.ldc + j] = float(sum);
    }
}

TEST(GemmPadding, PaddedCopiesGiveTheSameProduct) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> value(0, 7);
  int cases = 0;
  for (bool transA : {false, true})
    for (bool transB : {false, true})
      for (bool accumulate : {false, true})
        for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{9, 13, 5},
                               {16, 11, 24},
                               {3, 8, 17},
                               {8, 16, 8}}) {
          GemmShape g = shape(transA, transB, m, n, k);
          g.ldc = n + 3; // C's rows apart, with elements in between
          std::vector<uint16_t> a(size_t(m * k)), b(size_t(k * n));
          for (auto &x : a)
            x = uint16_t(value(rng));
          for (auto &x : b)
            x = uint16_t(value(rng));
          std::vector<float> c(size_t(m * g.ldc));
          for (auto &x : c)
            x = float(value(rng));
          std::vector<float> expected = c;
          reference(g, a.data(), b.data(), expected.data(), accumulate);
          g.a = reinterpret_cast<uintptr_t>(a.data());
          g.b = reinterpret_cast<uintptr_t>(b.data());
          g.c = reinterpret_cast<uintptr_t>(c.data());
          GemmPadding p = planGemmPadding(g, 2, accumulate, /*force=*/1);
          ASSERT_TRUE(p.pad) << m << "x" << n << "x" << k;
          HostDevice device;
          int calls = 0;
          runPaddedGemm(device, g, p, a.data(), b.data(), c.data(), accumulate,
                        [&](bool ta, bool tb, int64_t pm, int64_t pn,
                            int64_t pk, const uint16_t *pa, int64_t lda,
                            const uint16_t *pb, int64_t ldb, float *pc,
                            int64_t ldc) {
                          ++calls;
                          EXPECT_EQ(pm % 8 + pn % 8 + pk % 8, 0);
                          GemmShape padded = shape(ta, tb, pm, pn, pk);
                          padded.lda = lda;
                          padded.ldb = ldb;
                          padded.ldc = ldc;
                          reference(padded, pa, pb, pc, accumulate);
                        });
          EXPECT_EQ(calls, 1);
          EXPECT_EQ(device.allocations, device.frees);
          for (size_t i = 0; i < c.size(); ++i)
            ASSERT_EQ(c[i], expected[i])
                << "element " << i << " of " << m << "x" << n << "x" << k
                << (transA ? " A^T" : "") << (transB ? " B^T" : "")
                << (accumulate ? " accumulating" : "");
          ++cases;
        }
  EXPECT_EQ(cases, 32);
}

} // namespace
