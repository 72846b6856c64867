//===- attention_bench.cpp - the fused attention kernels, timed ----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Times the runtime's fused attention (forward with the saved log-sum-exp,
// then backward: what autopar-attention-to-calls makes of a training
// step's attention) on bf16 [batch, positions, heads, head size] buffers
// read and written through strides as the step does, causal, with each kernel
// set: the register-resident kernels on mma.sync (the default: 16 query rows a
// warp forward; AUTOPAR_CUDA_ATTENTION=mma2: 32) and the WMMA ones (=wmma), and
// the default set with its blocks in the grid's head-major order
// (AUTOPAR_CUDA_ATTENTION_ORDER=head) instead of tile-major. All
// run on the same inputs, and the mma sets' outputs and gradients must agree
// with the WMMA set's (relative to each tensor's norm, 2e-2: they round P at
// the same place but sum in other orders, and dq's atomics make it differ run
// to run). Prints each set's times and TFLOP/s (FlashAttention's count: 4 BH
// S^2 D for the forward pass, halved when causal, and 2.5 times that backward)
// and one JSON line; bench/gpu/attention_torch.py times PyTorch's
// scaled_dot_product_attention on the same shapes as the peer, and run.sh
// prints the ratios.
//
// usage: attention_bench BH S D [ITERATIONS]
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {
uint16_t toBf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
float fromBf16(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

double seconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// A device bf16 [batch, heads, s, d] tensor stored as [batch, s, heads,
/// d] (how the training step lays it out: the projection's heads, read and
/// written through strides), from host values or uninitialized.
struct Tensor {
  Tensor(int64_t batch, int64_t heads, int64_t s, int64_t d,
         const std::vector<uint16_t> *host)
      : bytes(size_t(batch * heads * s * d) * 2) {
    data = mgpuMemAlloc(bytes, nullptr, false);
    if (host)
      autopar::cuda::copyToDevice(data, host->data(), bytes);
    ref = {
        data, data, 0, {batch, heads, s, d}, {s * heads * d, d, heads * d, 1}};
  }
  ~Tensor() { mgpuMemFree(data, nullptr); }
  std::vector<uint16_t> read() const {
    std::vector<uint16_t> host(bytes / 2);
    autopar::cuda::copyToHost(host.data(), data, bytes);
    return host;
  }
  size_t bytes;
  void *data;
  AutoParMemRef4 ref;
};

/// ||a - b|| / ||b|| of two bf16 tensors.
double relativeDifference(const std::vector<uint16_t> &a,
                          const std::vector<uint16_t> &b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double x = fromBf16(a[i]), y = fromBf16(b[i]);
    diff += (x - y) * (x - y);
    norm += y * y;
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

struct Timing {
  double forwardMs, backwardMs;
  std::vector<uint16_t> out, dq, dk, dv;
};
} // namespace

int main(int argc, char **argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: attention_bench BH S D [ITERATIONS]\n");
    return 2;
  }
  const int64_t bh = std::atoll(argv[1]), s = std::atoll(argv[2]),
                d = std::atoll(argv[3]);
  const int iterations = argc > 4 ? std::atoi(argv[4]) : 20;
  std::string why;
  if (!autopar::cuda::available(why)) {
    std::printf("attention_bench: no CUDA GPU here: %s\n", why.c_str());
    return 1;
  }
  std::mt19937 rng(20261127);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto random = [&] {
    std::vector<uint16_t> host(size_t(bh * s * d));
    for (uint16_t &x : host)
      x = toBf16(normal(rng));
    return host;
  };
  std::vector<uint16_t> hq = random(), hk = random(), hv = random(),
                        hdo = random();
  // Batch 8 where it divides BH (gpt2-small's step: 8 x 12 heads).
  const int64_t batch = bh % 8 == 0 ? 8 : 1, heads = bh / batch;
  Tensor q(batch, heads, s, d, &hq), k(batch, heads, s, d, &hk),
      v(batch, heads, s, d, &hv), dOut(batch, heads, s, d, &hdo),
      out(batch, heads, s, d, nullptr), dq(batch, heads, s, d, nullptr),
      dk(batch, heads, s, d, nullptr), dv(batch, heads, s, d, nullptr);
  void *lse = mgpuMemAlloc(size_t(bh * s) * 4, nullptr, false);
  AutoParMemRef2 lseRef = {lse, lse, 0, {bh, s}, {s, 1}};
  const float scale = 1.0f / std::sqrt(float(d));
  const int causal = 1;

  auto forward = [&] {
    _mlir_ciface_autopar_cuda_attention_forward_lse_bf16(
        &q.ref, &k.ref, &v.ref, &out.ref, &lseRef, scale, causal);
  };
  auto backward = [&] {
    _mlir_ciface_autopar_cuda_attention_backward_lse_bf16(
        &q.ref, &k.ref, &v.ref, &out.ref, &dOut.ref, &lseRef, &dq.ref, &dk.ref,
        &dv.ref, scale, causal);
  };
  auto time = [&](auto &&fn) {
    fn(); // the module loaded, the caches warm
    mgpuStreamSynchronize(nullptr);
    double start = seconds();
    for (int i = 0; i < iterations; ++i)
      fn();
    mgpuStreamSynchronize(nullptr);
    return (seconds() - start) / iterations * 1e3;
  };
  auto run = [&](const char *kernels, const char *order = "tile") {
    setenv("AUTOPAR_CUDA_ATTENTION", kernels, 1);
    setenv("AUTOPAR_CUDA_ATTENTION_ORDER", order, 1);
    Timing t;
    t.forwardMs = time(forward);
    t.backwardMs = time(backward);
    t.out = out.read();
    t.dq = dq.read();
    t.dk = dk.read();
    t.dv = dv.read();
    return t;
  };
  Timing mma = run("mma"), mma2 = run("mma2"), wmma = run("wmma"),
         headMajor = run("mma", "head");
  mgpuMemFree(lse, nullptr);

  const double forwardFlop = 4.0 * double(bh) * double(s) * double(s) *
                             double(d) * (causal ? 0.5 : 1.0);
  auto tflops = [](double flop, double ms) {
    return flop / (ms * 1e-3) / 1e12;
  };
  for (auto [name, t] :
       {std::pair{"mma", &mma}, std::pair{"mma2", &mma2},
        std::pair{"wmma", &wmma}, std::pair{"mma, head-major", &headMajor}})
    std::printf("attention (%s kernels), bh=%lld s=%lld d=%lld causal bf16: "
                "forward %.3f ms (%.1f TFLOP/s), backward %.3f ms (%.1f "
                "TFLOP/s)\n",
                name, (long long)bh, (long long)s, (long long)d, t->forwardMs,
                tflops(forwardFlop, t->forwardMs), t->backwardMs,
                tflops(2.5 * forwardFlop, t->backwardMs));
  std::printf("time against wmma's: mma forward %.2f, backward %.2f; mma2 "
              "forward %.2f\n",
              mma.forwardMs / wmma.forwardMs, mma.backwardMs / wmma.backwardMs,
              mma2.forwardMs / wmma.forwardMs);
  std::printf("blocks head-major against tile-major (mma): forward %.2f, "
              "backward %.2f\n",
              headMajor.forwardMs / mma.forwardMs,
              headMajor.backwardMs / mma.backwardMs);
  bool ok = true;
  for (auto [name, t] : {std::pair{"mma", &mma}, std::pair{"mma2", &mma2},
                         std::pair{"mma, head-major", &headMajor}}) {
    const double differences[] = {relativeDifference(t->out, wmma.out),
                                  relativeDifference(t->dq, wmma.dq),
                                  relativeDifference(t->dk, wmma.dk),
                                  relativeDifference(t->dv, wmma.dv)};
    const char *names[] = {"out", "dq", "dk", "dv"};
    for (int i = 0; i < 4; ++i) {
      bool good = std::isfinite(differences[i]) && differences[i] <= 2e-2;
      ok &= good;
      std::printf("%s: %s of the %s kernels against the wmma kernels' %.2e "
                  "(tolerance 2e-2)\n",
                  good ? "PASS" : "FAIL", names[i], name, differences[i]);
    }
  }
  std::printf("{\"forward_ms\": %.4f, \"backward_ms\": %.4f, "
              "\"mma2_forward_ms\": %.4f, \"mma2_backward_ms\": %.4f, "
              "\"wmma_forward_ms\": %.4f, \"wmma_backward_ms\": %.4f, "
              "\"head_forward_ms\": %.4f, \"head_backward_ms\": %.4f, "
              "\"forward_flop\": %.6g}\n",
              mma.forwardMs, mma.backwardMs, mma2.forwardMs, mma2.backwardMs,
              wmma.forwardMs, wmma.backwardMs, headMajor.forwardMs,
              headMajor.backwardMs, forwardFlop);
  return ok ? 0 : 1;
}
