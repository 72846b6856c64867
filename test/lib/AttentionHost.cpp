//===- AttentionHost.cpp - the fused attention entry points, on the host --===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// A test double of the CUDA runtime's fused attention entry points
// (runtime/cuda/Attention.cpp: the same C interface, the same arithmetic
// as the kernels up to the order of the sums: scores in f32 from the
// narrow operands, P rounded to the operand type before P v, dS rounded
// before its products), computed on host memory through the memrefs'
// strides. Loaded into autopar-run (LD_PRELOAD) with its hidden
// --attention-calls, it lets a CPU test train a model through the calls
// that autopar-attention-to-calls makes (the transposes it replaces by
// strided views, the outputs written in place of a concatenation) and
// compare it with the CPU's decomposition of the same attention:
// test/Integration/Training/attention-calls.test.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {
struct Memref4 {
  void *allocated, *aligned;
  int64_t offset, sizes[4], strides[4];
};
struct Memref2 {
  void *allocated, *aligned;
  int64_t offset, sizes[2], strides[2];
};

/// bf16 or f16 bits to and from float (round to nearest even).
struct Bf16 {
  static float load(uint16_t b) {
    uint32_t u = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static uint16_t store(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    return uint16_t(u >> 16);
  }
};
struct F16 {
  static float load(uint16_t b) {
    _Float16 h;
    std::memcpy(&h, &b, 2);
    return float(h);
  }
  static uint16_t store(float x) {
    _Float16 h = static_cast<_Float16>(x);
    uint16_t b;
    std::memcpy(&b, &h, 2);
    return b;
  }
};

/// Element (b, h, s, e) of a [B, H, S, D] operand.
uint16_t &at(const Memref4 *m, int64_t b, int64_t h, int64_t s, int64_t e) {
  return static_cast<uint16_t *>(
      m->aligned)[m->offset + b * m->strides[0] + h * m->strides[1] +
                  s * m->strides[2] + e * m->strides[3]];
}

template <typename T> float rounded(float x) { return T::load(T::store(x)); }

/// The scaled, masked scores of query row i against every key, in f32.
template <typename T>
void scores(const Memref4 *q, const Memref4 *k, int64_t b, int64_t h, int64_t i,
            float scale, bool causal, std::vector<float> &s) {
  int64_t sk = k->sizes[2], d = q->sizes[3];
  s.assign(sk, -INFINITY);
  for (int64_t j = 0; j < sk; ++j) {
    if (causal && j > i)
      continue;
    float dot = 0;
    for (int64_t e = 0; e < d; ++e)
      dot += T::load(at(q, b, h, i, e)) * T::load(at(k, b, h, j, e));
    s[j] = dot * scale;
  }
}

template <typename T>
void forward(Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref2 *lse,
             float scale, int32_t causal) {
  int64_t batch = q->sizes[0], heads = q->sizes[1], sq = q->sizes[2],
          d = q->sizes[3];
  std::vector<float> s;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        scores<T>(q, k, b, h, i, scale, causal, s);
        float max = *std::max_element(s.begin(), s.end()), sum = 0;
        std::vector<float> o(d, 0.0f);
        for (size_t j = 0; j < s.size(); ++j) {
          float p = std::exp(s[j] - max);
          sum += p;
          for (int64_t e = 0; e < d; ++e)
            o[e] += rounded<T>(p) * T::load(at(v, b, h, j, e));
        }
        for (int64_t e = 0; e < d; ++e)
          at(out, b, h, i, e) = T::store(o[e] / sum);
        if (lse)
          static_cast<float *>(
              lse->aligned)[lse->offset + (b * heads + h) * lse->strides[0] +
                            i * lse->strides[1]] = max + std::log(sum);
      }
}

template <typename T>
void backward(Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref4 *dOut,
              Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale,
              int32_t causal) {
  int64_t batch = q->sizes[0], heads = q->sizes[1], sq = q->sizes[2],
          sk = k->sizes[2], d = q->sizes[3];
  std::vector<float> s, dqRow(d), dkAll(sk * d), dvAll(sk * d);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      std::fill(dkAll.begin(), dkAll.end(), 0.0f);
      std::fill(dvAll.begin(), dvAll.end(), 0.0f);
      for (int64_t i = 0; i < sq; ++i) {
        scores<T>(q, k, b, h, i, scale, causal, s);
        float max = *std::max_element(s.begin(), s.end()), sum = 0;
        for (float x : s)
          sum += std::exp(x - max);
        float lse = max + std::log(sum), rowDot = 0;
        for (int64_t e = 0; e < d; ++e)
          rowDot +=
              T::load(at(dOut, b, h, i, e)) * T::load(at(out, b, h, i, e));
        std::fill(dqRow.begin(), dqRow.end(), 0.0f);
        for (int64_t j = 0; j < sk; ++j) {
          float p = std::exp(s[j] - lse), dp = 0;
          for (int64_t e = 0; e < d; ++e)
            dp += T::load(at(dOut, b, h, i, e)) * T::load(at(v, b, h, j, e));
          float ds = rounded<T>(p * (dp - rowDot) * scale), pr = rounded<T>(p);
          for (int64_t e = 0; e < d; ++e) {
            dvAll[j * d + e] += pr * T::load(at(dOut, b, h, i, e));
            dkAll[j * d + e] += ds * T::load(at(q, b, h, i, e));
            dqRow[e] += ds * T::load(at(k, b, h, j, e));
          }
        }
        for (int64_t e = 0; e < d; ++e)
          at(dq, b, h, i, e) = T::store(dqRow[e]);
      }
      for (int64_t j = 0; j < sk; ++j)
        for (int64_t e = 0; e < d; ++e) {
          at(dk, b, h, j, e) = T::store(dkAll[j * d + e]);
          at(dv, b, h, j, e) = T::store(dvAll[j * d + e]);
        }
    }
}
} // namespace

extern "C" {
void _mlir_ciface_autopar_cuda_attention_forward_bf16(Memref4 *q, Memref4 *k,
                                                      Memref4 *v, Memref4 *out,
                                                      float scale,
                                                      int32_t causal) {
  forward<Bf16>(q, k, v, out, nullptr, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_forward_f16(Memref4 *q, Memref4 *k,
                                                     Memref4 *v, Memref4 *out,
                                                     float scale,
                                                     int32_t causal) {
  forward<F16>(q, k, v, out, nullptr, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_forward_lse_bf16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref2 *lse, float scale,
    int32_t causal) {
  forward<Bf16>(q, k, v, out, lse, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_forward_lse_f16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref2 *lse, float scale,
    int32_t causal) {
  forward<F16>(q, k, v, out, lse, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_backward_bf16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref4 *dOut,
    Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale, int32_t causal) {
  backward<Bf16>(q, k, v, out, dOut, dq, dk, dv, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_backward_f16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref4 *dOut,
    Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale, int32_t causal) {
  backward<F16>(q, k, v, out, dOut, dq, dk, dv, scale, causal);
}
// The saved log-sum-exp equals what backward recomputes (the forward's).
void _mlir_ciface_autopar_cuda_attention_backward_lse_bf16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref4 *dOut, Memref2 *,
    Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale, int32_t causal) {
  backward<Bf16>(q, k, v, out, dOut, dq, dk, dv, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_backward_lse_f16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref4 *dOut, Memref2 *,
    Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale, int32_t causal) {
  backward<F16>(q, k, v, out, dOut, dq, dk, dv, scale, causal);
}
}
