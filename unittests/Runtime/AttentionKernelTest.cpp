//===- AttentionKernelTest.cpp - the fused attention kernels, emulated ----===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// runtime/cuda/Attention.cu compiled for the CPU against CudaEmulation.h
// (blocks of 128 threads with real barriers, WMMA fragments as float
// matrices, mma.sync and ldmatrix from their register layouts) and
// compared with attention and its gradients in double on the same bf16/f16
// inputs, for each kernel set (mma, mma2, wmma): causal and not, tiles cut
// short (positions not a multiple of 64) or whole, more keys than queries
// and fewer, head sizes 32, 64 and 128, operands stored [B, H, S, D] or
// with the heads interleaved ([B, S, H, D], read through strides). The
// backward pass runs as Attention.cpp launches it: the statistics kernel
// or the saved log-sum-exp, the key-tile kernel adding dq into f32, the
// rounding.
// Where a GPU is present, the OnTheGPU tests run the compiled kernels
// through the runtime's entry points on the same inputs and reference.
//
//===----------------------------------------------------------------------===//

#include "CudaEmulation.h"
#include "CudaRuntime.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>

#include <gtest/gtest.h>

namespace {
// Attention.cu's dynamic shared memory (blocks run one at a time).
alignas(128) unsigned char shared[256 * 1024];
} // namespace

#include "Attention.cu"

namespace {
using autopar::attention::backwardSharedBytes;
using autopar::attention::forwardSharedBytes;
using autopar::attention::kThreads;
using autopar::attention::kTile;
using autopar::attention::Layouts;
using autopar::attention::Strides;
using cuda_emulation::launch;

struct Case {
  const char *type; // bf16 or f16
  int d, bh, sq, sk;
  bool causal;
  /// bh = batch x heads; interleaved: each operand stored as [batch,
  /// positions, heads, d] (the kernels read and write it through strides),
  /// else as [batch, heads, positions, d].
  int heads = 1;
  bool interleaved = false;
  /// The scale: 1 / sqrt(d), negated with `negativeScale` (which the mma
  /// forward kernels cannot take: the runtime runs the WMMA one then).
  bool negativeScale = false;
  /// The blocks in the grid's head-major order under a causal mask too
  /// (AUTOPAR_CUDA_ATTENTION_ORDER=head), not tile-major.
  bool headMajor = false;
};

/// Where the rows of an operand with `s` positions are, in its storage.
Strides stridesOf(const Case &c, int s) {
  long long h = c.heads, d = c.d;
  if (c.interleaved)
    return {s * h * d, d, h * d};
  return {h * s * d, s * d, d};
}

/// The kernels' layouts of a case's operands.
Layouts layoutsOf(const Case &c) {
  Layouts l{};
  l.heads = c.heads;
  l.tileMajor = c.causal && !c.headMajor; // as Attention.cpp launches them
  l.q = l.out = l.dOut = l.dq = stridesOf(c, c.sq);
  l.k = l.v = l.dk = l.dv = stridesOf(c, c.sk);
  return l;
}

/// A [bh, s, d] tensor (logical order) in its storage order, and back.
template <typename T>
std::vector<T> stored(const std::vector<T> &logical, const Case &c, int s,
                      bool back = false) {
  std::vector<T> result(logical.size());
  Strides t = stridesOf(c, s);
  for (int bh = 0; bh < c.bh; ++bh)
    for (int i = 0; i < s; ++i)
      for (int e = 0; e < c.d; ++e) {
        size_t from = (size_t(bh) * s + i) * c.d + e;
        size_t to = size_t((bh / c.heads) * t.batch + (bh % c.heads) * t.head +
                           i * t.row + e);
        if (back)
          result[from] = logical[to];
        else
          result[to] = logical[from];
      }
  return result;
}

/// The eight kernels of one element type and head size.
template <typename T> struct Kernels {
  using Forward = void (*)(const T *, const T *, const T *, T *, float *,
                           Layouts, int, int, float, int);
  using Backward = void (*)(const T *, const T *, const T *, const T *,
                            const float *, const float *, float *, T *, T *,
                            Layouts, int, int, float, int);
  Forward forward, forwardMma, forwardMma2;
  void (*stats)(const T *, const T *, const T *, const T *, float *, float *,
                Layouts, int, int, float, int);
  Backward backward, backwardMma;
  void (*toNarrow)(const float *, T *, Layouts, int, float);
  void (*rowDot)(const T *, const T *, float *, Layouts, int);
};

/// How the backward pass gets each query row's log-sum-exp: recomputed by
/// the statistics kernel, or saved by the forward pass (the `_lse` entry
/// points).
enum class Lse { Recomputed, Saved };

/// Which forward and backward kernels: the register-resident ones on
/// mma.sync with 16 query rows a warp (the runtime's default) or 32
/// (AUTOPAR_CUDA_ATTENTION=mma2), or the WMMA ones (=wmma).
enum class Forward { Mma, Mma2, Wmma };

template <typename T> T narrow(float x);
template <> __nv_bfloat16 narrow(float x) { return __float2bfloat16(x); }
template <> __half narrow(float x) { return __float2half(x); }

/// Attention and its gradients in double: out = softmax(q k^T s) v, and
/// for the cotangent dOut, dq, dk, dv.
void reference(const std::vector<float> &q, const std::vector<float> &k,
               const std::vector<float> &v, const std::vector<float> &dOut,
               const Case &c, float scale, std::vector<double> &out,
               std::vector<double> &dq, std::vector<double> &dk,
               std::vector<double> &dv) {
  int d = c.d, sq = c.sq, sk = c.sk;
  out.assign(size_t(c.bh) * sq * d, 0);
  dq.assign(out.size(), 0);
  dk.assign(size_t(c.bh) * sk * d, 0);
  dv.assign(dk.size(), 0);
  std::vector<double> p(sk), dp(sk);
  for (int b = 0; b < c.bh; ++b)
    for (int i = 0; i < sq; ++i) {
      const float *qi = &q[(size_t(b) * sq + i) * d];
      double max = -INFINITY;
      for (int j = 0; j < sk; ++j) {
        double s = 0;
        for (int e = 0; e < d; ++e)
          s += double(qi[e]) * k[(size_t(b) * sk + j) * d + e];
        p[j] = c.causal && j > i ? -INFINITY : s * scale;
        max = std::max(max, p[j]);
      }
      double sum = 0;
      for (int j = 0; j < sk; ++j)
        sum += (p[j] = std::exp(p[j] - max));
      for (int j = 0; j < sk; ++j)
        p[j] /= sum;
      double *oi = &out[(size_t(b) * sq + i) * d];
      const float *gi = &dOut[(size_t(b) * sq + i) * d];
      double rowDot = 0;
      for (int j = 0; j < sk; ++j) {
        dp[j] = 0;
        for (int e = 0; e < d; ++e) {
          oi[e] += p[j] * v[(size_t(b) * sk + j) * d + e];
          dp[j] += double(gi[e]) * v[(size_t(b) * sk + j) * d + e];
          dv[(size_t(b) * sk + j) * d + e] += p[j] * gi[e];
        }
        rowDot += p[j] * dp[j];
      }
      for (int j = 0; j < sk; ++j) {
        double ds = p[j] * (dp[j] - rowDot) * scale;
        for (int e = 0; e < d; ++e) {
          dq[(size_t(b) * sq + i) * d + e] +=
              ds * k[(size_t(b) * sk + j) * d + e];
          dk[(size_t(b) * sk + j) * d + e] += ds * qi[e];
        }
      }
    }
}

/// ||got - want|| / ||want||.
template <typename T>
double relativeError(const std::vector<T> &got,
                     const std::vector<double> &want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    double g = nvcuda::wmma::widen(got[i]);
    diff += (g - want[i]) * (g - want[i]);
    norm += want[i] * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

/// The kernels on the emulation, launched as Attention.cpp launches them.
/// With the log-sum-exp saved by the forward pass, it must equal what the
/// statistics kernel recomputes, and rowDot what that kernel sums.
template <typename T>
void emulate(const Case &c, const std::vector<T> &q, const std::vector<T> &k,
             const std::vector<T> &v, const std::vector<T> &dOut, float scale,
             std::vector<T> &out, std::vector<T> &dq, std::vector<T> &dk,
             std::vector<T> &dv, const Kernels<T> &kernels, Lse mode,
             Forward forward) {
  ASSERT_LE(forwardSharedBytes(c.d), sizeof(shared));
  ASSERT_LE(autopar::attention::forwardMmaSharedBytes(c.d, 2), sizeof(shared));
  ASSERT_LE(autopar::attention::backwardMmaSharedBytes(c.d), sizeof(shared));
  ASSERT_LE(backwardSharedBytes(c.d), sizeof(shared));
  unsigned qTiles = unsigned((c.sq + kTile - 1) / kTile);
  unsigned kTiles = unsigned((c.sk + kTile - 1) / kTile);
  int causal = c.causal;
  Layouts layouts = layoutsOf(c);
  size_t qn = q.size(), rows = size_t(c.bh) * c.sq;
  std::vector<float> lse(rows, NAN), rowDot(rows, NAN), dqWide(qn, 0.0f);
  unsigned q128 = unsigned((c.sq + 2 * kTile - 1) / (2 * kTile));
  // The mma forward kernels need a positive scale (Attention.cpp).
  Forward forwardKernel = scale > 0.0f ? forward : Forward::Wmma;
  launch(
      forwardKernel == Forward::Mma    ? kernels.forwardMma
      : forwardKernel == Forward::Mma2 ? kernels.forwardMma2
                                       : kernels.forward,
      Dim3{forwardKernel == Forward::Mma2 ? q128 : qTiles, unsigned(c.bh), 1},
      kThreads, q.data(), k.data(), v.data(), out.data(),
      mode == Lse::Saved ? lse.data() : nullptr, layouts, c.sq, c.sk, scale,
      causal);

  std::vector<float> statsLse(rows, NAN), statsRowDot(rows, NAN);
  launch(kernels.stats, Dim3{qTiles, unsigned(c.bh), 1}, kThreads, q.data(),
         k.data(), out.data(), dOut.data(), statsLse.data(), statsRowDot.data(),
         layouts, c.sq, c.sk, scale, causal);
  if (mode == Lse::Recomputed) {
    lse = statsLse;
    rowDot = statsRowDot;
  } else {
    // Fewer warps than rows: each warp takes several (the grid-stride loop).
    launch(kernels.rowDot, Dim3{2, unsigned(c.bh), 1}, 64, out.data(),
           dOut.data(), rowDot.data(), layouts, c.sq);
    for (size_t r = 0; r < rows; ++r) {
      ASSERT_NEAR(lse[r], statsLse[r], 1e-6f * std::fabs(statsLse[r]))
          << "row " << r;
      ASSERT_NEAR(rowDot[r], statsRowDot[r],
                  1e-5f * (1.0f + std::fabs(statsRowDot[r])))
          << "row " << r;
    }
  }
  launch(forward == Forward::Wmma ? kernels.backward : kernels.backwardMma,
         Dim3{kTiles, unsigned(c.bh), 1}, kThreads, q.data(), k.data(),
         v.data(), dOut.data(), lse.data(), rowDot.data(), dqWide.data(),
         dk.data(), dv.data(), layouts, c.sq, c.sk, scale, causal);
  // The mma backward kernel leaves dS's scale to dq's rounding.
  float factor = forward == Forward::Wmma ? 1.0f : scale;
  launch(kernels.toNarrow, Dim3{2, unsigned(c.bh), 1}, 64, dqWide.data(),
         dq.data(), layouts, c.sq, factor);
}

/// The runtime's view of a host vector's device copy: [batch, heads, s, d]
/// in the case's storage order.
template <typename T> struct DeviceTensor {
  DeviceTensor(const std::vector<T> &host, const Case &c, int s)
      : bytes(host.size() * sizeof(T)) {
    data = mgpuMemAlloc(bytes, nullptr, false);
    autopar::cuda::copyToDevice(data, host.data(), bytes);
    Strides t = stridesOf(c, s);
    ref = {data,
           data,
           0,
           {c.bh / c.heads, c.heads, s, c.d},
           {t.batch, t.head, t.row, 1}};
  }
  ~DeviceTensor() { mgpuMemFree(data, nullptr); }
  std::vector<T> read() const {
    std::vector<T> host(bytes / sizeof(T));
    autopar::cuda::copyToHost(host.data(), data, bytes);
    return host;
  }
  size_t bytes;
  void *data;
  AutoParMemRef4 ref;
};

template <typename T>
void runCase(bool onGpu, const Case &c, const Kernels<T> &kernels,
             double tolerance, Lse mode = Lse::Recomputed,
             Forward forward = Forward::Mma) {
  std::mt19937 rng(20261127);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  size_t qn = size_t(c.bh) * c.sq * c.d, kn = size_t(c.bh) * c.sk * c.d;
  // Inputs rounded to T; the reference reads the rounded values.
  auto make = [&](size_t n, std::vector<T> &narrowed,
                  std::vector<float> &wide) {
    narrowed.resize(n);
    wide.resize(n);
    for (size_t i = 0; i < n; ++i) {
      narrowed[i] = narrow<T>(uniform(rng));
      wide[i] = nvcuda::wmma::widen(narrowed[i]);
    }
  };
  std::vector<T> q, k, v, dOut;
  std::vector<float> qf, kf, vf, dOutf;
  make(qn, q, qf);
  make(kn, k, kf);
  make(kn, v, vf);
  make(qn, dOut, dOutf);
  float scale = (c.negativeScale ? -1.0f : 1.0f) / std::sqrt(float(c.d));
  std::vector<double> outRef, dqRef, dkRef, dvRef;
  reference(qf, kf, vf, dOutf, c, scale, outRef, dqRef, dkRef, dvRef);

  std::vector<T> out(qn), dq(qn), dk(kn), dv(kn);
  // The kernels see every operand in the case's storage order.
  q = stored(q, c, c.sq);
  k = stored(k, c, c.sk);
  v = stored(v, c, c.sk);
  dOut = stored(dOut, c, c.sq);
  if (onGpu) {
    std::string why;
    if (!autopar::cuda::available(why))
      GTEST_SKIP() << "no CUDA GPU here: " << why;
    DeviceTensor<T> dQ(q, c, c.sq), dK(k, c, c.sk), dV(v, c, c.sk),
        dO(out, c, c.sq), dDo(dOut, c, c.sq), dDq(dq, c, c.sq),
        dDk(dk, c, c.sk), dDv(dv, c, c.sk);
    bool bf16 = std::is_same<T, __nv_bfloat16>::value;
    setenv("AUTOPAR_CUDA_ATTENTION",
           forward == Forward::Mma    ? "mma"
           : forward == Forward::Mma2 ? "mma2"
                                      : "wmma",
           1);
    if (mode == Lse::Saved) {
      size_t rows = size_t(c.bh) * c.sq;
      void *lse = mgpuMemAlloc(rows * 4, nullptr, false);
      AutoParMemRef2 lseRef = {lse, lse, 0, {c.bh, c.sq}, {c.sq, 1}};
      (bf16 ? _mlir_ciface_autopar_cuda_attention_forward_lse_bf16
            : _mlir_ciface_autopar_cuda_attention_forward_lse_f16)(
          &dQ.ref, &dK.ref, &dV.ref, &dO.ref, &lseRef, scale, c.causal);
      (bf16 ? _mlir_ciface_autopar_cuda_attention_backward_lse_bf16
            : _mlir_ciface_autopar_cuda_attention_backward_lse_f16)(
          &dQ.ref, &dK.ref, &dV.ref, &dO.ref, &dDo.ref, &lseRef, &dDq.ref,
          &dDk.ref, &dDv.ref, scale, c.causal);
      mgpuMemFree(lse, nullptr);
    } else {
      (bf16 ? _mlir_ciface_autopar_cuda_attention_forward_bf16
            : _mlir_ciface_autopar_cuda_attention_forward_f16)(
          &dQ.ref, &dK.ref, &dV.ref, &dO.ref, scale, c.causal);
      (bf16 ? _mlir_ciface_autopar_cuda_attention_backward_bf16
            : _mlir_ciface_autopar_cuda_attention_backward_f16)(
          &dQ.ref, &dK.ref, &dV.ref, &dO.ref, &dDo.ref, &dDq.ref, &dDk.ref,
          &dDv.ref, scale, c.causal);
    }
    out = dO.read();
    dq = dDq.read();
    dk = dDk.read();
    dv = dDv.read();
  } else {
    emulate(c, q, k, v, dOut, scale, out, dq, dk, dv, kernels, mode, forward);
  }
  out = stored(out, c, c.sq, /*back=*/true);
  dq = stored(dq, c, c.sq, /*back=*/true);
  dk = stored(dk, c, c.sk, /*back=*/true);
  dv = stored(dv, c, c.sk, /*back=*/true);
  double errors[] = {relativeError(out, outRef), relativeError(dq, dqRef),
                     relativeError(dk, dkRef), relativeError(dv, dvRef)};
  std::printf("%s%s d=%d bh=%d sq=%d sk=%d%s%s%s%s%s: relative errors out "
              "%.2e, dq %.2e, dk %.2e, dv %.2e (tolerance %.0e)\n",
              onGpu ? "GPU " : "", c.type, c.d, c.bh, c.sq, c.sk,
              c.causal ? " causal" : "", mode == Lse::Saved ? " saved lse" : "",
              c.interleaved ? " interleaved heads" : "",
              c.negativeScale ? " negative scale" : "",
              forward == Forward::Wmma   ? " wmma"
              : forward == Forward::Mma2 ? " mma2"
                                         : "",
              errors[0], errors[1], errors[2], errors[3], tolerance);
  const char *names[] = {"out", "dq", "dk", "dv"};
  for (int i = 0; i < 4; ++i)
    EXPECT_LE(errors[i], tolerance) << names[i];
}

// bf16 keeps 8 bits: inputs, P and the outputs each round by up to 2^-9
// relative; 2e-2 of the norm leaves room for that and nothing more (a
// wrong mask, scale or tile edge moves the results by tens of percent).
constexpr double kBf16Tolerance = 1e-2, kF16Tolerance = 2e-3;

#define BF16_KERNELS(D)                                                        \
  Kernels<__nv_bfloat16> {                                                     \
    autopar_attention_forward_bf16_d##D,                                       \
        autopar_attention_forward_mma_bf16_d##D,                               \
        autopar_attention_forward_mma2_bf16_d##D,                              \
        autopar_attention_stats_bf16_d##D,                                     \
        autopar_attention_backward_bf16_d##D,                                  \
        autopar_attention_backward_mma_bf16_d##D,                              \
        autopar_attention_narrow_bf16_d##D, autopar_attention_rowdot_bf16_d##D \
  }

#define F16_KERNELS(D)                                                         \
  Kernels<__half> {                                                            \
    autopar_attention_forward_f16_d##D,                                        \
        autopar_attention_forward_mma_f16_d##D,                                \
        autopar_attention_forward_mma2_f16_d##D,                               \
        autopar_attention_stats_f16_d##D, autopar_attention_backward_f16_d##D, \
        autopar_attention_backward_mma_f16_d##D,                               \
        autopar_attention_narrow_f16_d##D, autopar_attention_rowdot_f16_d##D   \
  }

TEST(AttentionKernel, CausalWithAShortLastTile) {
  runCase<__nv_bfloat16>(false, {"bf16", 64, 3, 70, 70, true}, BF16_KERNELS(64),
                         kBf16Tolerance);
}

TEST(AttentionKernel, MoreKeysThanQueriesHeadSize32) {
  runCase<__nv_bfloat16>(false, {"bf16", 32, 2, 40, 100, false},
                         BF16_KERNELS(32), kBf16Tolerance);
}

TEST(AttentionKernel, CausalFewerKeysThanQueries) {
  runCase<__nv_bfloat16>(false, {"bf16", 64, 2, 100, 30, true},
                         BF16_KERNELS(64), kBf16Tolerance);
}

TEST(AttentionKernel, HeadSize128) {
  runCase<__nv_bfloat16>(false, {"bf16", 128, 2, 64, 64, true},
                         BF16_KERNELS(128), kBf16Tolerance);
}

TEST(AttentionKernel, HalfPrecisionThreeTiles) {
  runCase<__half>(false, {"f16", 64, 2, 130, 130, true}, F16_KERNELS(64),
                  kF16Tolerance);
}
// The backward pass with the log-sum-exp the forward pass saved: equal to
// the statistics kernel's (checked row by row in emulate), the same errors.
TEST(AttentionKernel, SavedLseCausalWithAShortLastTile) {
  runCase<__nv_bfloat16>(false, {"bf16", 64, 3, 70, 70, true}, BF16_KERNELS(64),
                         kBf16Tolerance, Lse::Saved);
}

TEST(AttentionKernel, SavedLseMoreKeysThanQueriesHalfPrecision) {
  runCase<__half>(false, {"f16", 128, 2, 40, 100, false}, F16_KERNELS(128),
                  kF16Tolerance, Lse::Saved);
}

// The WMMA kernels (AUTOPAR_CUDA_ATTENTION=wmma) on the same cases.
TEST(AttentionKernel, WmmaCausalThreeTilesHalfPrecision) {
  runCase<__half>(false, {"f16", 64, 2, 130, 130, true}, F16_KERNELS(64),
                  kF16Tolerance, Lse::Saved, Forward::Wmma);
}

TEST(AttentionKernel, WmmaMoreKeysThanQueriesHeadSize32) {
  runCase<__nv_bfloat16>(false, {"bf16", 32, 2, 40, 100, false},
                         BF16_KERNELS(32), kBf16Tolerance, Lse::Recomputed,
                         Forward::Wmma);
}

// Whole tiles only (no tile needs a mask but the causal diagonal's), with
// the next tiles loading while three are used.
TEST(AttentionKernel, CausalWholeTiles) {
  runCase<__nv_bfloat16>(false, {"bf16", 64, 2, 192, 192, true},
                         BF16_KERNELS(64), kBf16Tolerance, Lse::Saved);
}

// Operands stored as [batch, positions, heads, d] (how a model's projections
// lay them out), read and written through their strides: 2 x 2 heads.
TEST(AttentionKernel, InterleavedHeads) {
  Case c{"bf16", 64, 4, 100, 100, true};
  c.heads = 2;
  c.interleaved = true;
  runCase<__nv_bfloat16>(false, c, BF16_KERNELS(64), kBf16Tolerance,
                         Lse::Saved);
}

TEST(AttentionKernel, InterleavedHeadsWmmaRecomputed) {
  Case c{"f16", 32, 4, 70, 130, false};
  c.heads = 2;
  c.interleaved = true;
  runCase<__half>(false, c, F16_KERNELS(32), kF16Tolerance, Lse::Recomputed,
                  Forward::Wmma);
}

TEST(AttentionKernel, InterleavedHeadsMma2) {
  Case c{"bf16", 64, 4, 70, 70, true};
  c.heads = 2;
  c.interleaved = true;
  runCase<__nv_bfloat16>(false, c, BF16_KERNELS(64), kBf16Tolerance, Lse::Saved,
                         Forward::Mma2);
}

// The forward kernel with 32 query rows a warp (AUTOPAR_CUDA_ATTENTION=mma2):
// blocks of 128 rows, the second warp pair's rows past the end, three key
// tiles, and fewer queries than a block.
TEST(AttentionKernel, Mma2CausalThreeTilesHalfPrecision) {
  runCase<__half>(false, {"f16", 64, 2, 130, 130, true}, F16_KERNELS(64),
                  kF16Tolerance, Lse::Saved, Forward::Mma2);
}

TEST(AttentionKernel, Mma2MoreKeysThanQueriesHeadSize32) {
  runCase<__nv_bfloat16>(false, {"bf16", 32, 2, 40, 100, false},
                         BF16_KERNELS(32), kBf16Tolerance, Lse::Saved,
                         Forward::Mma2);
}

TEST(AttentionKernel, Mma2CausalWholeTiles) {
  runCase<__nv_bfloat16>(false, {"bf16", 64, 1, 256, 256, true},
                         BF16_KERNELS(64), kBf16Tolerance, Lse::Saved,
                         Forward::Mma2);
}

TEST(AttentionKernel, Mma2CausalFewerKeysThanQueries) {
  runCase<__nv_bfloat16>(false, {"bf16", 64, 2, 200, 30, true},
                         BF16_KERNELS(64), kBf16Tolerance, Lse::Recomputed,
                         Forward::Mma2);
}

// Causal, with the blocks in the grid's head-major order
// (AUTOPAR_CUDA_ATTENTION_ORDER=head): the same results.
TEST(AttentionKernel, HeadMajorCausalThreeTiles) {
  Case c{"bf16", 64, 2, 130, 130, true};
  c.headMajor = true;
  runCase<__nv_bfloat16>(false, c, BF16_KERNELS(64), kBf16Tolerance,
                         Lse::Saved);
}

TEST(AttentionKernel, HeadMajorCausalWmma) {
  Case c{"f16", 64, 2, 130, 130, true};
  c.headMajor = true;
  runCase<__half>(false, c, F16_KERNELS(64), kF16Tolerance, Lse::Recomputed,
                  Forward::Wmma);
}

// Which tile each block takes. Tile-major: the blocks in launch order (x
// fastest) take rank 0 (the costliest causal tile) of every (batch, head),
// then rank 1, and so on, each (rank, head) once; head-major: block (x, y)
// takes rank x of head y.
TEST(AttentionKernel, TileMajorBlocksStartEveryHeadsCostliestTile) {
  const unsigned ranks = 5, heads = 3;
  gridDim = {ranks, heads, 1};
  Layouts tileMajor{}, headMajor{};
  tileMajor.tileMajor = 1;
  int launched = 0;
  for (unsigned y = 0; y < heads; ++y)
    for (unsigned x = 0; x < ranks; ++x, ++launched) {
      blockIdx = {x, y, 0};
      BlockTile t = blockTile(tileMajor), h = blockTile(headMajor);
      EXPECT_EQ(t.rank, launched / int(heads)) << "block " << x << ", " << y;
      EXPECT_EQ(t.bh, launched % int(heads)) << "block " << x << ", " << y;
      EXPECT_EQ(h.rank, int(x));
      EXPECT_EQ(h.bh, int(y));
    }
}

// A negative scale: the forward pass on the WMMA kernel (the mma ones take
// the unscaled scores' maxima), the backward pass on the mma kernel.
TEST(AttentionKernel, NegativeScaleCausalWithAShortLastTile) {
  Case c{"bf16", 64, 2, 70, 70, true};
  c.negativeScale = true;
  runCase<__nv_bfloat16>(false, c, BF16_KERNELS(64), kBf16Tolerance,
                         Lse::Saved);
}

// The same through the runtime on a GPU (skipped without one): the kernels
// nvcc compiled, loaded from the runtime's fatbin.
TEST(AttentionKernel, OnTheGPUCausalWithAShortLastTile) {
  runCase<__nv_bfloat16>(true, {"bf16", 64, 3, 70, 70, true}, BF16_KERNELS(64),
                         kBf16Tolerance);
}

TEST(AttentionKernel, OnTheGPUMoreKeysThanQueriesHalfPrecision) {
  runCase<__half>(true, {"f16", 128, 2, 40, 100, false}, F16_KERNELS(128),
                  kF16Tolerance);
}
TEST(AttentionKernel, OnTheGPUSavedLseCausalWithAShortLastTile) {
  runCase<__nv_bfloat16>(true, {"bf16", 64, 3, 70, 70, true}, BF16_KERNELS(64),
                         kBf16Tolerance, Lse::Saved);
}
TEST(AttentionKernel, OnTheGPUHeadSize32ThreeTiles) {
  runCase<__nv_bfloat16>(true, {"bf16", 32, 4, 150, 150, true},
                         BF16_KERNELS(32), kBf16Tolerance, Lse::Saved);
}
TEST(AttentionKernel, OnTheGPUInterleavedHeads) {
  Case c{"bf16", 64, 6, 200, 200, true};
  c.heads = 3;
  c.interleaved = true;
  runCase<__nv_bfloat16>(true, c, BF16_KERNELS(64), kBf16Tolerance, Lse::Saved);
}
TEST(AttentionKernel, OnTheGPUMma2CausalThreeTiles) {
  runCase<__nv_bfloat16>(true, {"bf16", 64, 3, 300, 300, true},
                         BF16_KERNELS(64), kBf16Tolerance, Lse::Saved,
                         Forward::Mma2);
}
TEST(AttentionKernel, OnTheGPUNegativeScale) {
  Case c{"bf16", 64, 2, 130, 130, true};
  c.negativeScale = true;
  runCase<__nv_bfloat16>(true, c, BF16_KERNELS(64), kBf16Tolerance, Lse::Saved);
}
TEST(AttentionKernel, OnTheGPUWmmaCausalThreeTilesHalfPrecision) {
  runCase<__half>(true, {"f16", 64, 2, 130, 130, true}, F16_KERNELS(64),
                  kF16Tolerance, Lse::Saved, Forward::Wmma);
}
} // namespace

// Operands the kernels cannot take end the process with what is wrong,
// before any GPU is needed (a compiler bug or a hand-written call, never
// silently wrong results).
TEST(AttentionEntryPoints, BadOperandsAreErrorsThatSayWhy) {
  alignas(16) static uint16_t storage[2 * 2 * 8 * 128];
  auto memref = [](int64_t b, int64_t h, int64_t s, int64_t d,
                   std::array<int64_t, 4> strides) {
    return AutoParMemRef4{storage,
                          storage,
                          0,
                          {b, h, s, d},
                          {strides[0], strides[1], strides[2], strides[3]}};
  };
  AutoParMemRef4 q = memref(2, 2, 8, 64, {1024, 512, 64, 1});
  AutoParMemRef4 k = q, v = q, out = q;
  AutoParMemRef4 fewerHeads = memref(2, 1, 8, 64, {512, 512, 64, 1});
  EXPECT_EXIT(_mlir_ciface_autopar_cuda_attention_forward_bf16(
                  &q, &fewerHeads, &v, &out, 0.125f, 1),
              testing::ExitedWithCode(1), "key is 2x1x8x64, not 2x2x8x64");
  AutoParMemRef4 oddRows = memref(2, 2, 8, 64, {1024, 512, 68, 1});
  EXPECT_EXIT(_mlir_ciface_autopar_cuda_attention_forward_bf16(&q, &k, &oddRows,
                                                               &out, 0.125f, 1),
              testing::ExitedWithCode(1),
              "value has strides 1024x512x68x1.*multiples of 8 elements");
  AutoParMemRef4 columns = memref(2, 2, 8, 64, {1024, 512, 1, 8});
  EXPECT_EXIT(_mlir_ciface_autopar_cuda_attention_forward_bf16(
                  &q, &k, &v, &columns, 0.125f, 1),
              testing::ExitedWithCode(1), "output has strides");
  AutoParMemRef4 wide = memref(2, 2, 8, 48, {768, 384, 48, 1});
  EXPECT_EXIT(_mlir_ciface_autopar_cuda_attention_forward_bf16(
                  &wide, &wide, &wide, &wide, 0.125f, 1),
              testing::ExitedWithCode(1), "head size 48 has no kernel");
  EXPECT_EXIT(
      {
        setenv("AUTOPAR_CUDA_ATTENTION_ORDER", "rows", 1);
        _mlir_ciface_autopar_cuda_attention_forward_bf16(&q, &k, &v, &out,
                                                         0.125f, 1);
      },
      testing::ExitedWithCode(1),
      "AUTOPAR_CUDA_ATTENTION_ORDER is 'rows'; it takes tile \\(the "
      "default\\) or head");
}
