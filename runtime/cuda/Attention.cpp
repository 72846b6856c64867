//===- Attention.cpp - the fused attention kernels' entry points ----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// `autopar_cuda_attention_forward_{bf16,f16}` and `..._backward_...`, which
// autopar-attention-to-calls makes of autopar.attention and
// autopar.attention_grad on the CUDA path: they check the operands
// ([batch, heads, positions, head size] memrefs, any strides the kernels
// can move 16 bytes at a time) and launch the kernels of Attention.cu
// (compiled by nvcc into a fatbin that the build embeds here; the mma.sync
// set, or another one that AUTOPAR_CUDA_ATTENTION names) on the legacy
// default stream, ordered after the lowered code's kernels and before its
// later ones, like the cuBLAS calls. Under a causal mask the blocks take
// the tiles tile-major, every head's costliest first (AUTOPAR_CUDA_
// ATTENTION_ORDER=head keeps the grid's head-major order).
// The backward pass first recomputes each query row's log-sum-exp and
// rowsum(do * out) (the statistics kernel; with the `_lse` entry points the
// forward pass saved the log-sum-exp and a light kernel computes only the
// row sums), then runs one block per key
// tile, adding dq into an f32 buffer with atomics (so dq's last bits depend
// on the order the blocks finish), and rounds dq into its operand.
// Without nvcc at build time the kernels are missing and a call ends the
// process saying so (autopar-compile --fused-attention=off avoids them).
//
//===----------------------------------------------------------------------===//

#include "AttentionLayout.h"
#include "CudaRuntime.h"
#include "EmbeddedFatbin.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>

#ifdef AUTOPAR_ATTENTION_FATBIN
// The fatbin (sm_90 code and compute_80 PTX) as read-only data.
AUTOPAR_EMBED_FATBIN(autopar_attention_fatbin, AUTOPAR_ATTENTION_FATBIN);
#endif

using namespace autopar::attention;

namespace {
using Memref4 = AutoParMemRef4;

struct Kernels {
  void *forward = nullptr, *forwardMma = nullptr, *forwardMma2 = nullptr,
       *stats = nullptr, *backward = nullptr, *backwardMma = nullptr,
       *narrow = nullptr, *rowDot = nullptr;
};

/// Which kernels run (AUTOPAR_CUDA_ATTENTION): the register-resident ones
/// on mma.sync, each warp of the forward kernel on 16 query rows (`mma`,
/// the default) or on 32 (`mma2`: 128 rows a block, each k and v operand
/// used twice; head sizes up to 64, beyond which its registers spill and
/// `mma` runs), or the first ones (`wmma`: scores, probabilities and
/// outputs in shared memory), kept to compare against. Read at each call,
/// so a test or benchmark can run them all in one process.
enum class Choice { Mma, Mma2, Wmma };
Choice kernelChoice(const char *caller, int64_t d) {
  const char *choice = std::getenv("AUTOPAR_CUDA_ATTENTION");
  std::string name = choice ? choice : "";
  if (name.empty() || name == "mma")
    return Choice::Mma;
  if (name == "mma2")
    return d <= 64 ? Choice::Mma2 : Choice::Mma;
  if (name == "wmma")
    return Choice::Wmma;
  autopar::cuda::fail(std::string(caller) + ": AUTOPAR_CUDA_ATTENTION is '" +
                      name + "'; it takes mma (the default), mma2 or wmma");
}

/// The order in which the kernels' blocks take the tiles
/// (AUTOPAR_CUDA_ATTENTION_ORDER, read at each call): under a causal mask,
/// tile-major (`tile`, the default: every head's costliest tile starts
/// first, the cheapest end the kernel) or head-major (`head`, the grid's
/// own order, kept to compare against). Without a mask every tile costs
/// the same, and the blocks go head-major: a head's blocks run together
/// and share its keys and values in the L2 cache.
int tileMajor(const char *caller, int32_t causal) {
  const char *order = std::getenv("AUTOPAR_CUDA_ATTENTION_ORDER");
  std::string name = order ? order : "";
  if (!name.empty() && name != "tile" && name != "head")
    autopar::cuda::fail(std::string(caller) +
                        ": AUTOPAR_CUDA_ATTENTION_ORDER is '" + name +
                        "'; it takes tile (the default) or head");
  return causal && name != "head";
}

void *attentionModule(const char *caller) {
#ifdef AUTOPAR_ATTENTION_FATBIN
  static void *module = [&] {
    autopar::cuda::requireDevice(caller);
    return mgpuModuleLoad(const_cast<char *>(autopar_attention_fatbin), 0);
  }();
  return module;
#else
  autopar::cuda::fail(std::string(caller) +
                      ": this runtime was built without nvcc, so it has no "
                      "fused attention kernels; compile the model with "
                      "autopar-compile --fused-attention=off, or rebuild "
                      "with the CUDA toolkit installed");
#endif
}

/// The kernels for one element type and head size, looked up once.
const Kernels &kernels(const char *caller, const char *type, int64_t d) {
  static std::mutex mutex;
  static Kernels cache[2][3];
  std::lock_guard<std::mutex> lock(mutex);
  Kernels &k = cache[std::string(type) == "bf16" ? 0 : 1][d == 32   ? 0
                                                          : d == 64 ? 1
                                                                    : 2];
  if (k.forward)
    return k;
  void *module = attentionModule(caller);
  std::string tail = std::string(type) + "_d" + std::to_string(d);
  auto get = [&](const std::string &name) {
    return mgpuModuleGetFunction(module, name.c_str());
  };
  int limit = autopar::cuda::sharedMemoryLimit();
  size_t needed = std::max(
      {forwardSharedBytes(int(d)), backwardSharedBytes(int(d)),
       forwardMmaSharedBytes(int(d), 2), backwardMmaSharedBytes(int(d))});
  if (needed > size_t(limit))
    autopar::cuda::fail(std::string(caller) + ": head size " +
                        std::to_string(d) + " needs " + std::to_string(needed) +
                        " bytes of shared memory a block, the device allows " +
                        std::to_string(limit));
  k.stats = get("autopar_attention_stats_" + tail);
  k.backward = get("autopar_attention_backward_" + tail);
  k.narrow = get("autopar_attention_narrow_" + tail);
  k.rowDot = get("autopar_attention_rowdot_" + tail);
  void *forward = get("autopar_attention_forward_" + tail);
  k.forwardMma = get("autopar_attention_forward_mma_" + tail);
  k.backwardMma = get("autopar_attention_backward_mma_" + tail);
  autopar::cuda::allowSharedMemory(k.backwardMma,
                                   int(backwardMmaSharedBytes(int(d))));
  autopar::cuda::allowSharedMemory(k.forwardMma,
                                   int(forwardMmaSharedBytes(int(d), 1)));
  k.forwardMma2 = get("autopar_attention_forward_mma2_" + tail);
  autopar::cuda::allowSharedMemory(k.forwardMma2,
                                   int(forwardMmaSharedBytes(int(d), 2)));
  autopar::cuda::allowSharedMemory(forward, int(forwardSharedBytes(int(d))));
  autopar::cuda::allowSharedMemory(k.stats, int(forwardSharedBytes(int(d))));
  autopar::cuda::allowSharedMemory(k.backward,
                                   int(backwardSharedBytes(int(d))));
  k.forward = forward;
  return k;
}

/// The shape of every operand: [B, H, S, D] (S the query's or the key's).
struct Shape {
  int64_t batch, heads, d;
};

/// The strides of an operand of `shape` with `positions` rows a head; ends
/// the process naming the operand when its sizes differ or its rows cannot
/// be moved 16 bytes at a time (D contiguous, every stride a multiple of 8
/// elements, the data on a 16-byte boundary).
Strides checkOperand(const char *caller, const char *name, const Memref4 *m,
                     const Shape &shape, int64_t positions) {
  const int64_t *s = m->sizes, *t = m->strides;
  auto list = [](const int64_t *v) {
    return std::to_string(v[0]) + "x" + std::to_string(v[1]) + "x" +
           std::to_string(v[2]) + "x" + std::to_string(v[3]);
  };
  if (s[0] != shape.batch || s[1] != shape.heads || s[2] != positions ||
      s[3] != shape.d)
    autopar::cuda::fail(
        std::string(caller) + ": " + name + " is " + list(s) + ", not " +
        std::to_string(shape.batch) + "x" + std::to_string(shape.heads) + "x" +
        std::to_string(positions) + "x" + std::to_string(shape.d));
  if (t[3] != 1 || t[0] % 8 || t[1] % 8 || t[2] % 8 ||
      (reinterpret_cast<uintptr_t>(m->aligned) + m->offset * 2) % 16 != 0)
    autopar::cuda::fail(std::string(caller) + ": " + name + " has strides " +
                        list(t) +
                        " (or is not on a 16-byte boundary); the kernels "
                        "need the head size contiguous and the other "
                        "strides multiples of 8 elements");
  return {t[0], t[1], t[2]};
}

void *data(const Memref4 *m) {
  return static_cast<char *>(m->aligned) + m->offset * 2;
}

/// The f32 [B x H, S] log-sum-exp buffer's data, or null without one; ends
/// the process when it is not a contiguous buffer of that shape.
float *lseData(const char *caller, const AutoParMemRef2 *m, int64_t bh,
               int64_t s) {
  if (!m)
    return nullptr;
  if (m->sizes[0] != bh || m->sizes[1] != s || m->strides[1] != 1 ||
      m->strides[0] != s)
    autopar::cuda::fail(
        std::string(caller) + ": the log-sum-exp buffer is not a contiguous [" +
        std::to_string(bh) + ", " + std::to_string(s) + "] f32 tensor");
  return static_cast<float *>(m->aligned) + m->offset;
}

/// The query's shape; ends the process where no kernel takes it.
Shape shapeOf(const char *caller, const Memref4 *q) {
  Shape shape{q->sizes[0], q->sizes[1], q->sizes[3]};
  if (shape.d != 32 && shape.d != 64 && shape.d != 128)
    autopar::cuda::fail(std::string(caller) + ": head size " +
                        std::to_string(shape.d) +
                        " has no kernel (32, 64, 128)");
  if (shape.batch * shape.heads > 65535 || q->sizes[2] > int64_t(INT32_MAX) / 2)
    autopar::cuda::fail(std::string(caller) + ": " +
                        std::to_string(shape.batch * shape.heads) +
                        " heads x " + std::to_string(q->sizes[2]) +
                        " positions exceed the kernels' grid");
  return shape;
}

unsigned tiles(int64_t rows) { return unsigned((rows + kTile - 1) / kTile); }

/// What every call checks: the query's shape, the positions of queries and
/// keys, and the layouts of query, key, value and output; and the order of
/// the blocks (tileMajor).
struct Call {
  Shape shape;
  int sq, sk;
  Layouts layouts{};
};
Call checkCall(const char *caller, const Memref4 *q, const Memref4 *k,
               const Memref4 *v, const Memref4 *out, int32_t causal) {
  Call call{shapeOf(caller, q), int(q->sizes[2]), int(k->sizes[2])};
  call.layouts.heads = int(call.shape.heads);
  call.layouts.tileMajor = tileMajor(caller, causal);
  call.layouts.q = checkOperand(caller, "query", q, call.shape, call.sq);
  call.layouts.k = checkOperand(caller, "key", k, call.shape, call.sk);
  call.layouts.v = checkOperand(caller, "value", v, call.shape, call.sk);
  call.layouts.out = checkOperand(caller, "output", out, call.shape, call.sq);
  return call;
}

void forward(const char *caller, const char *type, Memref4 *q, Memref4 *k,
             Memref4 *v, Memref4 *out, AutoParMemRef2 *lseRef, float scale,
             int32_t causal) {
  Call call = checkCall(caller, q, k, v, out, causal);
  const Shape &shape = call.shape;
  int64_t d = shape.d, bh = shape.batch * shape.heads;
  int sq = call.sq, sk = call.sk;
  Layouts &layouts = call.layouts;
  const Kernels &kk = kernels(caller, type, d);
  void *qp = data(q), *kp = data(k), *vp = data(v), *op = data(out);
  float *lse = lseData(caller, lseRef, bh, sq);
  void *params[] = {&qp,      &kp, &vp, &op,    &lse,
                    &layouts, &sq, &sk, &scale, &causal};
  // The mma kernels fold the scale into the exponentials' arguments after
  // taking the unscaled scores' maxima, which needs a positive scale: any
  // other (zero, negative, not a number) runs the WMMA kernel.
  Choice choice = kernelChoice(caller, d);
  if (!(scale > 0.0f) || std::isinf(scale))
    choice = Choice::Wmma;
  switch (choice) {
  case Choice::Mma:
    mgpuLaunchKernel(kk.forwardMma, tiles(sq), bh, 1, kThreads, 1, 1,
                     int32_t(forwardMmaSharedBytes(int(d), 1)), nullptr, params,
                     nullptr, 10);
    break;
  case Choice::Mma2:
    mgpuLaunchKernel(kk.forwardMma2,
                     unsigned((sq + 2 * kTile - 1) / (2 * kTile)), bh, 1,
                     kThreads, 1, 1, int32_t(forwardMmaSharedBytes(int(d), 2)),
                     nullptr, params, nullptr, 10);
    break;
  case Choice::Wmma:
    mgpuLaunchKernel(kk.forward, tiles(sq), bh, 1, kThreads, 1, 1,
                     int32_t(forwardSharedBytes(int(d))), nullptr, params,
                     nullptr, 10);
    break;
  }
}

void backward(const char *caller, const char *type, Memref4 *q, Memref4 *k,
              Memref4 *v, Memref4 *out, Memref4 *dOut, AutoParMemRef2 *lseRef,
              Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale,
              int32_t causal) {
  Call call = checkCall(caller, q, k, v, out, causal);
  const Shape &shape = call.shape;
  int64_t d = shape.d, bh = shape.batch * shape.heads;
  int sq = call.sq, sk = call.sk;
  Layouts &layouts = call.layouts;
  layouts.dOut = checkOperand(caller, "output_grad", dOut, shape, sq);
  layouts.dq = checkOperand(caller, "query_grad", dq, shape, sq);
  layouts.dk = checkOperand(caller, "key_grad", dk, shape, sk);
  layouts.dv = checkOperand(caller, "value_grad", dv, shape, sk);
  const Kernels &kk = kernels(caller, type, d);
  size_t rows = size_t(bh) * size_t(sq), count = rows * size_t(d);
  // Scratch in stream order on the legacy stream: freed after the kernels.
  void *saved = lseData(caller, lseRef, bh, sq);
  void *lse = saved ? saved : mgpuMemAlloc(rows * 4, nullptr, false);
  void *rowDot = mgpuMemAlloc(rows * 4, nullptr, false);
  void *dqWide = mgpuMemAlloc(count * 4, nullptr, false);
  mgpuMemset32(dqWide, 0, count, nullptr);
  void *qp = data(q), *kp = data(k), *vp = data(v), *op = data(out),
       *dop = data(dOut), *dqp = data(dq), *dkp = data(dk), *dvp = data(dv);
  if (saved) {
    // D / 8 lanes a row (16 bytes each), 8 warps to a block: 2048 / D
    // rows a block; a block row per (batch, head).
    void *rowDotParams[] = {&op, &dop, &rowDot, &layouts, &sq};
    int64_t blockRows = 2048 / d;
    mgpuLaunchKernel(kk.rowDot, unsigned((sq + blockRows - 1) / blockRows),
                     bh, 1, 256, 1, 1, 0, nullptr, rowDotParams, nullptr, 5);
  } else {
    void *statsParams[] = {&qp,      &kp, &op, &dop,   &lse,   &rowDot,
                           &layouts, &sq, &sk, &scale, &causal};
    mgpuLaunchKernel(kk.stats, tiles(sq), bh, 1, kThreads, 1, 1,
                     int32_t(forwardSharedBytes(int(d))), nullptr, statsParams,
                     nullptr, 11);
  }
  void *backwardParams[] = {&qp,  &kp,  &vp,      &dop, &lse, &rowDot, &dqWide,
                            &dkp, &dvp, &layouts, &sq,  &sk,  &scale,  &causal};
  bool wmma = kernelChoice(caller, d) == Choice::Wmma;
  mgpuLaunchKernel(wmma ? kk.backward : kk.backwardMma, tiles(sk), bh, 1,
                   kThreads, 1, 1,
                   int32_t(wmma ? backwardSharedBytes(int(d))
                                : backwardMmaSharedBytes(int(d))),
                   nullptr, backwardParams, nullptr, 14);
  // Four elements a thread; a block row per (batch, head).
  // The mma backward kernel leaves dS's scale to dq's rounding.
  float factor = wmma ? 1.0f : scale;
  void *narrowParams[] = {&dqWide, &dqp, &layouts, &sq, &factor};
  int64_t quads = int64_t(sq) * d / 4;
  mgpuLaunchKernel(kk.narrow, std::min<int64_t>((quads + 255) / 256, 65535), bh,
                   1, 256, 1, 1, 0, nullptr, narrowParams, nullptr, 5);
  if (!saved)
    mgpuMemFree(lse, nullptr);
  mgpuMemFree(rowDot, nullptr);
  mgpuMemFree(dqWide, nullptr);
}
} // namespace

extern "C" {
void _mlir_ciface_autopar_cuda_attention_forward_bf16(Memref4 *q, Memref4 *k,
                                                      Memref4 *v, Memref4 *out,
                                                      float scale,
                                                      int32_t causal) {
  forward(__func__, "bf16", q, k, v, out, nullptr, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_forward_f16(Memref4 *q, Memref4 *k,
                                                     Memref4 *v, Memref4 *out,
                                                     float scale,
                                                     int32_t causal) {
  forward(__func__, "f16", q, k, v, out, nullptr, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_backward_bf16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref4 *dOut,
    Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale, int32_t causal) {
  backward(__func__, "bf16", q, k, v, out, dOut, nullptr, dq, dk, dv, scale,
           causal);
}
void _mlir_ciface_autopar_cuda_attention_backward_f16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref4 *dOut,
    Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale, int32_t causal) {
  backward(__func__, "f16", q, k, v, out, dOut, nullptr, dq, dk, dv, scale,
           causal);
}
void _mlir_ciface_autopar_cuda_attention_forward_lse_bf16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, AutoParMemRef2 *lse,
    float scale, int32_t causal) {
  forward(__func__, "bf16", q, k, v, out, lse, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_forward_lse_f16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, AutoParMemRef2 *lse,
    float scale, int32_t causal) {
  forward(__func__, "f16", q, k, v, out, lse, scale, causal);
}
void _mlir_ciface_autopar_cuda_attention_backward_lse_bf16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref4 *dOut,
    AutoParMemRef2 *lse, Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale,
    int32_t causal) {
  backward(__func__, "bf16", q, k, v, out, dOut, lse, dq, dk, dv, scale,
           causal);
}
void _mlir_ciface_autopar_cuda_attention_backward_lse_f16(
    Memref4 *q, Memref4 *k, Memref4 *v, Memref4 *out, Memref4 *dOut,
    AutoParMemRef2 *lse, Memref4 *dq, Memref4 *dk, Memref4 *dv, float scale,
    int32_t causal) {
  backward(__func__, "f16", q, k, v, out, dOut, lse, dq, dk, dv, scale, causal);
}
}
