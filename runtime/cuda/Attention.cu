//===- Attention.cu - fused attention kernels (flash attention) -----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Scaled dot-product attention on bf16 or f16 tensors [B, H, S, D] (D = 32,
// 64 or 128 and contiguous, the other dimensions at any strides that are
// multiples of 8: `Layouts`, AttentionLayout.h), forward and backward,
// without storing the S x S probabilities: the algorithm of
// FlashAttention-2 (Dao, 2023) on the tensor cores, in two kernel sets.
// The `_mma` kernels (the default) use mma.sync through MmaSync.h, whose
// documented register layout keeps the scores, probabilities and outputs
// in registers; the WMMA kernels (AUTOPAR_CUDA_ATTENTION=wmma), whose
// fragments are opaque, pass every product through shared memory. Both
// accumulate in f32. Compiled by nvcc at build time (sm_90 code and
// compute_80 PTX: A100, H100 and later) and embedded in
// libautopar_cuda_runtime; Attention.cpp loads it and launches the kernels
// on the legacy default stream, as the cuBLAS calls.
//
// Semantics, those of autopar.attention / autopar.attention_grad: with
// S = q k^T * scale (f32, from the narrow operands), keys after the query
// position masked out when `causal` (j > i), P = softmax(S) in f32,
// out = P v with P rounded to the operand type before the product (here
// unnormalized, the row sum divided out at the end), and backwards
// dv = P^T do, dp = do v^T, ds = P (dp - rowsum(do * out)) scale,
// dq = ds k (f32, summed over key tiles with atomics), dk = ds^T q.
//
// Every block has 4 warps (128 threads) and one tile of 64 query rows
// (forward, statistics; 128 for `_mma2`) or 64 key rows (backward); each
// warp owns 16 rows of the tile (32 in `_mma2`). Shared memory holds the
// tiles with rows padded by 8 16-bit elements (or 4 floats): WMMA needs
// 32-byte aligned fragments and a leading dimension that is a multiple of
// 16 bytes, ldmatrix 16-byte aligned rows, and the padding moves
// consecutive rows to different banks.
//
//===----------------------------------------------------------------------===//

#include "AttentionLayout.h"
#include "MmaSync.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

namespace {
using namespace nvcuda;
using autopar::attention::kThreads;
using autopar::attention::kTile;
using autopar::attention::Layouts;
using autopar::attention::Strides;

template <typename T> struct Narrow;
template <> struct Narrow<__nv_bfloat16> {
  static __device__ __nv_bfloat16 from(float x) { return __float2bfloat16(x); }
  static __device__ float to(__nv_bfloat16 x) { return __bfloat162float(x); }
};
template <> struct Narrow<__half> {
  static __device__ __half from(float x) { return __float2half(x); }
  static __device__ float to(__half x) { return __half2float(x); }
};

template <typename T>
using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major>;
template <typename T>
using FragACol = wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major>;
template <typename T>
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major>;
template <typename T>
using FragBCol = wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

/// Leading dimensions (elements) of the shared tiles (AttentionLayout.h).
template <int D> struct Layout {
  static constexpr int tile = autopar::attention::tileLd(D);
  static constexpr int scores = autopar::attention::scoresLd();
  static constexpr int probs = autopar::attention::probsLd();
  static constexpr int rows = autopar::attention::rowsLd(D);
};

/// The block's (batch, head) and the rank of its tile among that head's:
/// rank 0 starts first. Under a causal mask the tiles' costs differ by up
/// to the number of tiles (the last query tile meets every key tile, the
/// first one key tile), and the kernels give rank 0 to the costliest.
/// Head-major (the grid's own order), the last heads' costliest tiles
/// start last and the kernel ends on them while more and more SMs idle
/// (bench/gpu/block_order_model.py); tile-major (`Layouts::tileMajor`, what the
/// runtime launches under a causal mask) starts every head's costliest tile
/// first and ends on the cheapest, the longest-first order of list scheduling.
struct BlockTile {
  int rank, bh;
};
__device__ inline BlockTile blockTile(const Layouts &layouts) {
  if (!layouts.tileMajor)
    return {int(blockIdx.x), int(blockIdx.y)};
  const long long linear =
      (long long)blockIdx.y * gridDim.x + (long long)blockIdx.x;
  return {int(linear / gridDim.y), int(linear % gridDim.y)};
}

/// The rows of one (batch, head) of an operand: block row `bh` of the grid
/// is batch bh / heads, head bh % heads.
template <typename P>
__device__ P *atHead(P *p, const Strides &s, int bh, int heads) {
  return p + (bh / heads) * s.batch + (bh % heads) * s.head;
}

/// Copies rows [0, valid) of a matrix of D columns whose rows are `stride`
/// elements apart into a shared tile, zeros the rest (16-byte loads: D and
/// the stride are multiples of 8).
template <typename T, int D>
__device__ void loadTile(T *tile, const T *source, long long stride,
                         int valid) {
  constexpr int chunks = D / 8;
  for (int index = threadIdx.x; index < kTile * chunks; index += kThreads) {
    int row = index / chunks, chunk = index % chunks;
    uint4 value = make_uint4(0, 0, 0, 0);
    if (row < valid)
      value = reinterpret_cast<const uint4 *>(source + row * stride)[chunk];
    reinterpret_cast<uint4 *>(tile + row * Layout<D>::tile)[chunk] = value;
  }
}

/// out[16][64] (f32, leading dimension ld) = a[16][D] b[64][D]^T for the
/// warp's 16 rows of `a`: scores of 16 queries against a key tile.
template <typename T, int D>
__device__ void rowsTimesTileT(float *out, int ld, const T *a, const T *b) {
  constexpr int L = Layout<D>::tile;
  for (int n = 0; n < kTile / 16; ++n) {
    FragC acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int k = 0; k < D / 16; ++k) {
      FragA<T> fa;
      FragBCol<T> fb; // b^T: element (d, j) at b[j * L + d]
      wmma::load_matrix_sync(fa, a + k * 16, L);
      wmma::load_matrix_sync(fb, b + n * 16 * L + k * 16, L);
      wmma::mma_sync(acc, fa, fb, acc);
    }
    wmma::store_matrix_sync(out + n * 16, acc, ld, wmma::mem_row_major);
  }
}

/// acc[16][16] += a[16][64] b[64][16 columns from n * 16] for the warp's 16
/// rows of `a` (probabilities or their gradient, leading dimension
/// Layout::probs) and a key or value tile `b`.
template <typename T, int D>
__device__ void rowsTimesTile(FragC &acc, const T *a, const T *b, int n) {
  using L = Layout<D>;
  for (int kk = 0; kk < kTile / 16; ++kk) {
    FragA<T> fa;
    FragB<T> fb;
    wmma::load_matrix_sync(fa, a + kk * 16, L::probs);
    wmma::load_matrix_sync(fb, b + kk * 16 * L::tile + n * 16, L::tile);
    wmma::mma_sync(acc, fa, fb, acc);
  }
}

/// The sum over d of a[d] * b[d] for one row of D elements: rowsum(do *
/// out), which the backward pass needs for each query row.
template <typename T, int D> __device__ float dotOfRow(const T *a, const T *b) {
  float dot = 0.0f;
  for (int c = 0; c < D; ++c)
    dot += Narrow<T>::to(a[c]) * Narrow<T>::to(b[c]);
  return dot;
}

/// The forward pass over one tile of 64 query rows of one (batch, head).
/// With STATS, only the row statistics the backward pass needs: the
/// log-sum-exp of the scaled scores, and rowsum(do * out).
template <typename T, int D, bool STATS>
__device__ void forwardTile(const T *q, const T *k, const T *v, T *out,
                            float *lse, const T *dOut, float *rowDot,
                            const Layouts &layouts, int sq, int sk, float scale,
                            int causal) {
  using L = Layout<D>;
  extern __shared__ __align__(128) unsigned char shared[];
  T *qs = reinterpret_cast<T *>(shared);
  T *ks = qs + kTile * L::tile;
  T *vs = ks + kTile * L::tile;
  float *ss = reinterpret_cast<float *>(vs + kTile * L::tile);
  T *ps = reinterpret_cast<T *>(ss + kTile * L::scores);
  float *os = reinterpret_cast<float *>(ps + kTile * L::probs);
  float *rowMax = os + kTile * L::rows;
  float *rowSum = rowMax + kTile;

  // The costliest causal tiles (the last queries) start first.
  const BlockTile placed = blockTile(layouts);
  const int bh = placed.bh, q0 = (gridDim.x - 1 - placed.rank) * kTile;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int heads = layouts.heads;
  q = atHead(q, layouts.q, bh, heads);
  k = atHead(k, layouts.k, bh, heads);
  if (!STATS)
    v = atHead(v, layouts.v, bh, heads);
  const long long qRow = layouts.q.row, kRow = layouts.k.row,
                  vRow = layouts.v.row;
  const int rows = min(kTile, sq - q0);

  loadTile<T, D>(qs, q + q0 * qRow, qRow, rows);
  if (!STATS)
    for (int i = threadIdx.x; i < kTile * L::rows; i += kThreads)
      os[i] = 0.0f;
  for (int i = threadIdx.x; i < kTile; i += kThreads) {
    rowMax[i] = -INFINITY;
    rowSum[i] = 0.0f;
  }
  // Causal: no key after the tile's last query.
  const int keys = causal ? min(sk, q0 + rows) : sk;
  for (int k0 = 0; k0 < keys; k0 += kTile) {
    __syncthreads(); // the previous key tile is no longer read
    loadTile<T, D>(ks, k + k0 * kRow, kRow, min(kTile, sk - k0));
    if (!STATS)
      loadTile<T, D>(vs, v + k0 * vRow, vRow, min(kTile, sk - k0));
    __syncthreads();
    rowsTimesTileT<T, D>(ss + warp * 16 * L::scores, L::scores,
                         qs + warp * 16 * L::tile, ks);
    __syncwarp();
    // Online softmax: two lanes per row, 32 columns each.
    const int r = warp * 16 + lane / 2, half = lane % 2;
    const int i = q0 + r;
    float *srow = ss + r * L::scores + half * 32;
    float tileMax = -INFINITY;
    for (int c = 0; c < 32; ++c) {
      int j = k0 + half * 32 + c;
      bool masked = j >= sk || (causal && j > i);
      float s = masked ? -INFINITY : srow[c] * scale;
      srow[c] = s;
      tileMax = fmaxf(tileMax, s);
    }
    tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, 1));
    const float oldMax = rowMax[r];
    const float newMax = fmaxf(oldMax, tileMax);
    const float base = newMax == -INFINITY ? 0.0f : newMax;
    float sum = 0.0f;
    T *prow = ps + r * L::probs + half * 32;
    for (int c = 0; c < 32; ++c) {
      float p = __expf(srow[c] - base);
      sum += p;
      if (!STATS)
        prow[c] = Narrow<T>::from(p);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    const float correction = __expf(oldMax - base);
    if (!STATS) {
      float *orow = os + r * L::rows + half * (D / 2);
      for (int c = 0; c < D / 2; ++c)
        orow[c] *= correction;
    }
    __syncwarp(); // both lanes have read the old statistics
    if (half == 0) {
      rowMax[r] = newMax;
      rowSum[r] = rowSum[r] * correction + sum;
    }
    __syncwarp();
    if (!STATS) {
      // out[16 rows] += P[16][64] v[64][D]
      for (int n = 0; n < D / 16; ++n) {
        FragC acc;
        float *o = os + warp * 16 * L::rows + n * 16;
        wmma::load_matrix_sync(acc, o, L::rows, wmma::mem_row_major);
        rowsTimesTile<T, D>(acc, ps + warp * 16 * L::probs, vs, n);
        wmma::store_matrix_sync(o, acc, L::rows, wmma::mem_row_major);
      }
    }
  }
  __syncthreads();
  // Each row's log-sum-exp of the scaled scores, for the backward pass: the
  // statistics kernel's, or the forward pass's where it saves it.
  if (lse)
    for (int r = threadIdx.x; r < rows; r += kThreads)
      lse[size_t(bh) * sq + q0 + r] = rowMax[r] + __logf(rowSum[r]);
  const long long oRow = layouts.out.row;
  T *o = atHead(out, layouts.out, bh, heads) + q0 * oRow;
  if constexpr (STATS) {
    const T *g = atHead(dOut, layouts.dOut, bh, heads) + q0 * layouts.dOut.row;
    for (int r = threadIdx.x; r < rows; r += kThreads)
      rowDot[size_t(bh) * sq + q0 + r] =
          dotOfRow<T, D>(g + r * layouts.dOut.row, o + r * oRow);
  } else {
    for (int index = threadIdx.x; index < rows * D; index += kThreads) {
      int r = index / D, c = index % D;
      float l = rowSum[r];
      o[r * oRow + c] =
          Narrow<T>::from(l > 0.0f ? os[r * L::rows + c] / l : 0.0f);
    }
  }
}

/// Moves the backward pass's operands to head `bh` (dq's f32 sums and the
/// row statistics are contiguous [BH, S, D] and [BH, S]).
template <typename T, int D>
__device__ void toHead(int bh, int sq, const Layouts &layouts, const T *&q,
                       const T *&k, const T *&v, const T *&dOut,
                       const float *&lse, const float *&rowDot, float *&dq,
                       T *&dk, T *&dv) {
  const int heads = layouts.heads;
  q = atHead(q, layouts.q, bh, heads);
  k = atHead(k, layouts.k, bh, heads);
  v = atHead(v, layouts.v, bh, heads);
  dOut = atHead(dOut, layouts.dOut, bh, heads);
  dk = atHead(dk, layouts.dk, bh, heads);
  dv = atHead(dv, layouts.dv, bh, heads);
  lse += size_t(bh) * sq;
  rowDot += size_t(bh) * sq;
  dq += size_t(bh) * sq * D;
}

/// The backward pass over one tile of 64 key rows: dk and dv summed over
/// the query tiles in registers, dq added to an f32 buffer with atomics.
template <typename T, int D>
__device__ void backwardTile(const T *q, const T *k, const T *v, const T *dOut,
                             const float *lse, const float *rowDot, float *dq,
                             T *dk, T *dv, const Layouts &layouts, int sq,
                             int sk, float scale, int causal) {
  using L = Layout<D>;
  extern __shared__ __align__(128) unsigned char shared[];
  T *ks = reinterpret_cast<T *>(shared);
  T *vs = ks + kTile * L::tile;
  T *qs = vs + kTile * L::tile;
  T *dos = qs + kTile * L::tile;
  float *ss = reinterpret_cast<float *>(dos + kTile * L::tile);
  float *dps = ss + kTile * L::scores;
  T *ps = reinterpret_cast<T *>(dps + kTile * L::scores);
  T *dss = ps + kTile * L::probs;
  float *scratch = reinterpret_cast<float *>(dss + kTile * L::probs);
  float *lses = scratch + kTile * L::rows;
  float *dots = lses + kTile;

  // The costliest causal tiles (the first keys) start first.
  const BlockTile placed = blockTile(layouts);
  const int bh = placed.bh, k0 = placed.rank * kTile;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  toHead<T, D>(bh, sq, layouts, q, k, v, dOut, lse, rowDot, dq, dk, dv);
  const int keyRows = min(kTile, sk - k0);
  loadTile<T, D>(ks, k + k0 * layouts.k.row, layouts.k.row, keyRows);
  loadTile<T, D>(vs, v + k0 * layouts.v.row, layouts.v.row, keyRows);

  FragC dkAcc[D / 16], dvAcc[D / 16];
  for (int n = 0; n < D / 16; ++n) {
    wmma::fill_fragment(dkAcc[n], 0.0f);
    wmma::fill_fragment(dvAcc[n], 0.0f);
  }
  // Causal: no query before the tile's first key attends to it.
  const int first = causal ? (k0 / kTile) * kTile : 0;
  for (int q0 = first; q0 < sq; q0 += kTile) {
    __syncthreads(); // the previous query tile is no longer read
    const int rows = min(kTile, sq - q0);
    loadTile<T, D>(qs, q + q0 * layouts.q.row, layouts.q.row, rows);
    loadTile<T, D>(dos, dOut + q0 * layouts.dOut.row, layouts.dOut.row, rows);
    for (int r = threadIdx.x; r < kTile; r += kThreads) {
      lses[r] = r < rows ? lse[q0 + r] : 0.0f;
      dots[r] = r < rows ? rowDot[q0 + r] : 0.0f;
    }
    __syncthreads();
    // The warp's 16 query rows: s = q k^T, dp = do v^T.
    rowsTimesTileT<T, D>(ss + warp * 16 * L::scores, L::scores,
                         qs + warp * 16 * L::tile, ks);
    rowsTimesTileT<T, D>(dps + warp * 16 * L::scores, L::scores,
                         dos + warp * 16 * L::tile, vs);
    __syncwarp();
    {
      const int r = warp * 16 + lane / 2, half = lane % 2;
      const int i = q0 + r;
      for (int c = half * 32; c < half * 32 + 32; ++c) {
        int j = k0 + c;
        bool masked = r >= rows || j >= sk || (causal && j > i);
        float p =
            masked ? 0.0f : __expf(ss[r * L::scores + c] * scale - lses[r]);
        float ds = p * (dps[r * L::scores + c] - dots[r]) * scale;
        ps[r * L::probs + c] = Narrow<T>::from(p);
        dss[r * L::probs + c] = Narrow<T>::from(ds);
      }
    }
    __syncthreads(); // dk and dv read every row of P and dS
    // The warp's 16 key rows: dv += P^T do, dk += dS^T q.
    for (int kk = 0; kk < kTile / 16; ++kk) {
      FragACol<T> pt, dst; // element (j, i) at p[i * probs + j]
      wmma::load_matrix_sync(pt, ps + kk * 16 * L::probs + warp * 16, L::probs);
      wmma::load_matrix_sync(dst, dss + kk * 16 * L::probs + warp * 16,
                             L::probs);
      for (int n = 0; n < D / 16; ++n) {
        FragB<T> fdo, fq;
        wmma::load_matrix_sync(fdo, dos + kk * 16 * L::tile + n * 16, L::tile);
        wmma::load_matrix_sync(fq, qs + kk * 16 * L::tile + n * 16, L::tile);
        wmma::mma_sync(dvAcc[n], pt, fdo, dvAcc[n]);
        wmma::mma_sync(dkAcc[n], dst, fq, dkAcc[n]);
      }
    }
    // The warp's 16 query rows: dq += dS k.
    float *mine = scratch + warp * 16 * L::rows;
    for (int n = 0; n < D / 16; ++n) {
      FragC acc;
      wmma::fill_fragment(acc, 0.0f);
      rowsTimesTile<T, D>(acc, dss + warp * 16 * L::probs, ks, n);
      wmma::store_matrix_sync(mine + n * 16, acc, L::rows, wmma::mem_row_major);
    }
    __syncwarp();
    for (int index = lane; index < 16 * D; index += 32) {
      int r = index / D, c = index % D;
      int row = warp * 16 + r;
      if (row < rows)
        atomicAdd(dq + size_t(q0 + row) * D + c, mine[r * L::rows + c]);
    }
    __syncwarp();
  }
  // Write the warp's 16 rows of dk and dv.
  float *mine = scratch + warp * 16 * L::rows;
  for (int which = 0; which < 2; ++which) {
    for (int n = 0; n < D / 16; ++n)
      wmma::store_matrix_sync(mine + n * 16, which ? dvAcc[n] : dkAcc[n],
                              L::rows, wmma::mem_row_major);
    __syncwarp();
    const long long stride = which ? layouts.dv.row : layouts.dk.row;
    T *target = (which ? dv : dk) + k0 * stride;
    for (int index = lane; index < 16 * D; index += 32) {
      int r = index / D, c = index % D;
      int row = warp * 16 + r;
      if (row < keyRows)
        target[row * stride + c] = Narrow<T>::from(mine[r * L::rows + c]);
    }
    __syncwarp();
  }
}

/// Starts copying rows [0, valid) of a [ROWS][D] matrix into a shared tile
/// (cp.async, 16 bytes a thread at a time) and zeros the rest. Thread t
/// copies chunk t % (D / 8) of rows t / (D / 8) + i * kThreads / (D / 8):
/// the addresses are computed once and advanced by a constant, and a whole
/// tile (every tile but a last short one) copies without tests.
template <typename T, int D, int ROWS = kTile>
__device__ void loadTileAsync(T *tile, const T *source, long long stride,
                              int valid) {
  constexpr int chunks = D / 8, rowsPerPass = kThreads / chunks;
  constexpr int passes = ROWS / rowsPerPass, L = Layout<D>::tile;
  static_assert(kThreads % chunks == 0 && ROWS % rowsPerPass == 0,
                "a tile is whole passes of the block's threads");
  const int row = threadIdx.x / chunks, chunk = threadIdx.x % chunks;
  T *target = tile + row * L + chunk * 8;
  const T *from = source + row * stride + chunk * 8;
  const long long step = rowsPerPass * stride;
  if (valid >= ROWS) {
    AUTOPAR_UNROLL
    for (int pass = 0; pass < passes; ++pass, from += step)
      autopar::mma::copyAsync16(target + pass * rowsPerPass * L, from);
    return;
  }
  AUTOPAR_UNROLL
  for (int pass = 0; pass < passes; ++pass, from += step) {
    T *to = target + pass * rowsPerPass * L;
    if (row + pass * rowsPerPass < valid)
      autopar::mma::copyAsync16(to, from);
    else
      *reinterpret_cast<uint4 *>(to) = make_uint4(0, 0, 0, 0);
  }
}

/// target[0] += a and target[1] += b, atomically each (one vector atomic
/// on sm_90 and later; target 8-byte aligned).
__device__ inline void addPair(float *target, float a, float b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float2 *>(target), make_float2(a, b));
#else
  atomicAdd(target, a);
  atomicAdd(target + 1, b);
#endif
}

/// The B registers of two adjacent 8-column tiles, n and n + 1, of rows
/// [k, k + 16) of a shared tile, where B is the tile itself (k along its
/// rows): b[0], b[1] for columns 8n .. 8n + 7, b[2], b[3] for the next.
template <typename T, int D>
__device__ void loadColumnTiles(unsigned *b, const T *tile, int k, int n) {
  const int lane = threadIdx.x % 32;
  autopar::mma::loadMatrices<true>(b, tile + (k + lane % 16) * Layout<D>::tile +
                                          (n + lane / 16) * 8);
}

/// The B registers of k-steps kk and kk + 1 (columns 16kk .. 16kk + 31) of
/// the 8-row tile n of a shared tile, where B is the tile transposed (k
/// along its columns: scores against the tile's rows).
template <typename T, int D>
__device__ void loadRowTiles(unsigned *b, const T *tile, int n, int kk) {
  const int lane = threadIdx.x % 32;
  autopar::mma::loadMatrices<false>(
      b, tile + (n * 8 + lane % 8) * Layout<D>::tile + kk * 16 + lane / 8 * 8);
}

/// Sets to -inf the scores of a warp's MT x 16 x 64 accumulators (MmaSync.h
/// layout) whose key is past `sk` or, when `causal`, after the query: `key`
/// is this lane's first key (of accumulator n = 0, element 0), `query` its
/// first query (m-tile 0, element 0). Out of line from the scores' loop
/// (__noinline__ would move the registers through memory): a separate
/// pass that only the last tiles take.
template <int MT>
__device__ inline void maskScores(float (&s)[MT][kTile / 8][4], int key,
                                  int query, int sk, int causal) {
  AUTOPAR_UNROLL
  for (int m = 0; m < MT; ++m)
    AUTOPAR_UNROLL
  for (int n = 0; n < kTile / 8; ++n)
    AUTOPAR_UNROLL
  for (int e = 0; e < 4; ++e) {
    const int j = key + n * 8 + e % 2, i = query + 16 * m + 8 * (e / 2);
    if (j >= sk || (causal && j > i))
      s[m][n][e] = -INFINITY;
  }
}

/// The forward pass over one tile of 64 MT query rows with the scores, the
/// probabilities and the output in registers (FlashAttention-2's scheme on
/// mma.sync, MmaSync.h): each warp owns MT m-tiles of 16 query rows; per
/// key tile of 64 it computes each m-tile's 16 x 64 scores as 8
/// accumulators of 16 x 8 (each k operand loaded once for the MT tiles),
/// takes the rows' maxima across the 4 lanes that share a row, rescales
/// its output accumulators, and feeds the exponentials, rounded to T, back
/// as the A operand of P v (an accumulator pair is an A register's
/// layout). The next k and v tiles load (cp.async) while the current ones
/// are used. Same results as forwardTile up to the order of the sums: the
/// scores f32 from the T operands, P rounded to T before the product, the
/// row sums of the unrounded exponentials; exponentials in base 2 with the
/// scale folded in.
template <typename T, int D, int MT>
__device__ void forwardTileMma(const T *q, const T *k, const T *v, T *out,
                               float *lse, const Layouts &layouts, int sq,
                               int sk, float scale, int causal) {
  using autopar::mma::mma16816;
  using autopar::mma::pack;
  using autopar::mma::pairAt;
  constexpr int L = Layout<D>::tile, kSteps = D / 16, dTiles = D / 8;
  constexpr int keyTiles = kTile / 8; // 16 x 8 score accumulators a row tile
  constexpr int queryRows = kTile * MT;
  extern __shared__ __align__(128) unsigned char shared[];
  T *qs = reinterpret_cast<T *>(shared);
  T *ks = qs + queryRows * L; // stages 0 and 1
  T *vs = ks + 2 * kTile * L;

  // The costliest causal tiles (the last queries) start first.
  const BlockTile placed = blockTile(layouts);
  const int bh = placed.bh, q0 = (gridDim.x - 1 - placed.rank) * queryRows;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int group = lane / 4, thread = lane % 4;
  q = atHead(q, layouts.q, bh, layouts.heads);
  k = atHead(k, layouts.k, bh, layouts.heads);
  v = atHead(v, layouts.v, bh, layouts.heads);
  const long long qRow = layouts.q.row, kRow = layouts.k.row,
                  vRow = layouts.v.row;
  const int rows = min(queryRows, sq - q0);
  // Causal: no key after the tile's last query.
  const int keys = causal ? min(sk, q0 + rows) : sk;
  const int tiles = (keys + kTile - 1) / kTile;
  // The warp's first row in the tile; m-tile m's rows for this lane are
  // first + 16 m + group and 8 below.
  const int first = warp * 16 * MT;

  loadTileAsync<T, D, queryRows>(qs, q + q0 * qRow, qRow, rows);
  if (tiles > 0) {
    loadTileAsync<T, D>(ks, k, kRow, min(kTile, sk));
    loadTileAsync<T, D>(vs, v, vRow, min(kTile, sk));
  }
  autopar::mma::commitAsync();

  unsigned qa[MT][kSteps][4];
  float o[MT][dTiles][4];
  AUTOPAR_UNROLL
  for (int m = 0; m < MT; ++m)
    AUTOPAR_UNROLL
  for (int n = 0; n < dTiles; ++n)
    AUTOPAR_UNROLL
  for (int e = 0; e < 4; ++e)
    o[m][n][e] = 0.0f;
  // Per m-tile and row (h = 0: group, 1: group + 8): the running maximum
  // of the scores in base 2, and this lane's part of the sum of
  // exponentials.
  float rowMax[MT][2], rowSum[MT][2];
  AUTOPAR_UNROLL
  for (int m = 0; m < MT; ++m)
    AUTOPAR_UNROLL
  for (int h = 0; h < 2; ++h) {
    rowMax[m][h] = -INFINITY;
    rowSum[m][h] = 0.0f;
  }
  const float scale2 = scale * 1.44269504088896341f; // log2(e)
  for (int tile = 0; tile < tiles; ++tile) {
    const int k0 = tile * kTile, stage = tile & 1;
    if (tile + 1 < tiles) {
      const int next = k0 + kTile, valid = min(kTile, sk - next);
      loadTileAsync<T, D>(ks + (stage ^ 1) * kTile * L, k + next * kRow, kRow,
                          valid);
      loadTileAsync<T, D>(vs + (stage ^ 1) * kTile * L, v + next * vRow, vRow,
                          valid);
      autopar::mma::commitAsync();
      autopar::mma::waitAsync<1>();
    } else {
      autopar::mma::waitAsync<0>();
    }
    __syncthreads(); // this stage's tiles (and q) are in shared memory
    if (tile == 0)
      AUTOPAR_UNROLL
    for (int m = 0; m < MT; ++m)
      AUTOPAR_UNROLL
    for (int kk = 0; kk < kSteps; ++kk) {
      const T *a = qs + (first + 16 * m + group) * L + kk * 16 + 2 * thread;
      qa[m][kk][0] = pairAt(a);
      qa[m][kk][1] = pairAt(a + 8 * L);
      qa[m][kk][2] = pairAt(a + 8);
      qa[m][kk][3] = pairAt(a + 8 * L + 8);
    }
    const T *kt = ks + stage * kTile * L, *vt = vs + stage * kTile * L;

    // s = q k^T: s[m][n] holds keys k0 + 8n .. k0 + 8n + 7.
    float s[MT][keyTiles][4];
    AUTOPAR_UNROLL
    for (int n = 0; n < keyTiles; ++n) {
      AUTOPAR_UNROLL
      for (int m = 0; m < MT; ++m)
        AUTOPAR_UNROLL
      for (int e = 0; e < 4; ++e)
        s[m][n][e] = 0.0f;
      AUTOPAR_UNROLL
      for (int kk = 0; kk < kSteps; kk += 2) {
        unsigned kb[4];
        loadRowTiles<T, D>(kb, kt, n, kk);
        AUTOPAR_UNROLL
        for (int m = 0; m < MT; ++m) {
          mma16816<T>(s[m][n], qa[m][kk], kb);
          mma16816<T>(s[m][n], qa[m][kk + 1], kb + 2);
        }
      }
    }
    // Masked where a key is missing or in the future: only in the last
    // tiles, which take a branch of their own (tested in every tile, the
    // mask cost as much as the products).
    if (k0 + kTile > sk || (causal && k0 + kTile - 1 > q0 + first))
      maskScores<MT>(s, k0 + 2 * thread, q0 + first + group, sk, causal);
    AUTOPAR_UNROLL
    for (int m = 0; m < MT; ++m) {
      // The maxima of the unscaled scores: the scale is positive (the
      // launcher runs other kernels otherwise), so scaling the maximum
      // gives the scaled scores' maximum, and each exponential's argument
      // is one fused multiply-add.
      float tileMax[2] = {-INFINITY, -INFINITY};
      AUTOPAR_UNROLL
      for (int n = 0; n < keyTiles; ++n)
        AUTOPAR_UNROLL
      for (int e = 0; e < 4; ++e)
        tileMax[e / 2] = fmaxf(tileMax[e / 2], s[m][n][e]);
      float base[2];
      AUTOPAR_UNROLL
      for (int h = 0; h < 2; ++h) {
        float x = tileMax[h];
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
        const float newMax = fmaxf(rowMax[m][h], x * scale2);
        base[h] = newMax == -INFINITY ? 0.0f : newMax;
        const float correction = autopar::mma::exp2Fast(rowMax[m][h] - base[h]);
        rowMax[m][h] = newMax;
        rowSum[m][h] *= correction;
        AUTOPAR_UNROLL
        for (int n = 0; n < dTiles; ++n) {
          o[m][n][2 * h] *= correction;
          o[m][n][2 * h + 1] *= correction;
        }
      }
      AUTOPAR_UNROLL
      for (int n = 0; n < keyTiles; ++n)
        AUTOPAR_UNROLL
      for (int e = 0; e < 4; ++e) {
        float p =
            autopar::mma::exp2Fast(fmaf(s[m][n][e], scale2, -base[e / 2]));
        rowSum[m][e / 2] += p;
        s[m][n][e] = p;
      }
    }
    // o += P v, 16 keys at a time: P's A registers are the accumulators of
    // score tiles 2kk and 2kk + 1, rounded; each v operand serves the MT
    // m-tiles.
    AUTOPAR_UNROLL
    for (int kk = 0; kk < kTile / 16; ++kk) {
      unsigned pa[MT][4];
      AUTOPAR_UNROLL
      for (int m = 0; m < MT; ++m) {
        const float *lo = s[m][2 * kk], *hi = s[m][2 * kk + 1];
        pa[m][0] = pack(Narrow<T>::from(lo[0]), Narrow<T>::from(lo[1]));
        pa[m][1] = pack(Narrow<T>::from(lo[2]), Narrow<T>::from(lo[3]));
        pa[m][2] = pack(Narrow<T>::from(hi[0]), Narrow<T>::from(hi[1]));
        pa[m][3] = pack(Narrow<T>::from(hi[2]), Narrow<T>::from(hi[3]));
      }
      AUTOPAR_UNROLL
      for (int n = 0; n < dTiles; n += 2) {
        unsigned vb[4];
        loadColumnTiles<T, D>(vb, vt, kk * 16, n);
        AUTOPAR_UNROLL
        for (int m = 0; m < MT; ++m) {
          mma16816<T>(o[m][n], pa[m], vb);
          mma16816<T>(o[m][n + 1], pa[m], vb + 2);
        }
      }
    }
    __syncthreads(); // the next iteration's loads overwrite this stage
  }
  autopar::mma::waitAsync<0>(); // nothing in flight at exit (no key tile)

  AUTOPAR_UNROLL
  for (int m = 0; m < MT; ++m)
    AUTOPAR_UNROLL
  for (int h = 0; h < 2; ++h) {
    float l = rowSum[m][h];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int r = first + 16 * m + group + 8 * h;
    if (r >= rows)
      continue;
    const size_t row = size_t(bh) * sq + q0 + r;
    const float inverse = l > 0.0f ? 1.0f / l : 0.0f;
    unsigned *target = reinterpret_cast<unsigned *>(
        atHead(out, layouts.out, bh, layouts.heads) +
        (q0 + r) * layouts.out.row);
    AUTOPAR_UNROLL
    for (int n = 0; n < dTiles; ++n)
      target[n * 4 + thread] =
          pack(Narrow<T>::from(o[m][n][2 * h] * inverse),
               Narrow<T>::from(o[m][n][2 * h + 1] * inverse));
    // The natural log-sum-exp of the scaled scores, as forwardTile saves.
    if (lse && thread == 0)
      lse[row] = (rowMax[m][h] + __log2f(l)) * 0.693147180559945309f;
  }
}

/// Sets to 0 the probabilities of a warp's transposed 16 x 64 accumulators
/// (keys by queries, MmaSync.h layout) whose query is not below `sq`, whose
/// key is past `sk` or, when `causal`, after the query: `query` is this
/// lane's first query (accumulator n = 0, element 0), `key` its first key.
/// A pass of its own that only the tiles at the edges take (maskScores).
__device__ inline void maskProbabilities(float (&pt)[kTile / 8][4], int query,
                                         int key, int sq, int sk, int causal) {
  AUTOPAR_UNROLL
  for (int n = 0; n < kTile / 8; ++n)
    AUTOPAR_UNROLL
  for (int e = 0; e < 4; ++e) {
    const int i = query + n * 8 + e % 2, j = key + 8 * (e / 2);
    if (i >= sq || j >= sk || (causal && j > i))
      pt[n][e] = 0.0f;
  }
}

/// The backward pass over one tile of 64 key rows with the products in
/// registers (mma.sync, as forwardTileMma): each warp owns 16 key rows and,
/// per query tile of 64, computes its transposed scores s^T = k q^T and
/// dp^T = v do^T as accumulators, P^T and dS^T from them with the rows'
/// saved statistics, then dv += P^T do and dk += dS^T q with P^T and dS^T
/// as A operands straight from the accumulators. dq = dS k needs every
/// warp's keys: dS^T goes through shared memory, each warp computes 16
/// query rows of it and adds them to the f32 dq with atomics. The next q
/// and do tiles load (cp.async) while the current ones are used. Same
/// arithmetic as backwardTile up to the order of the sums: P and dS f32,
/// rounded to T as the products' operands.
template <typename T, int D>
__device__ void backwardTileMma(const T *q, const T *k, const T *v,
                                const T *dOut, const float *lse,
                                const float *rowDot, float *dq, T *dk, T *dv,
                                const Layouts &layouts, int sq, int sk,
                                float scale, int causal) {
  using autopar::mma::mma16816;
  using autopar::mma::pack;
  using autopar::mma::pairAt;
  constexpr int L = Layout<D>::tile, P = Layout<D>::probs;
  constexpr int kSteps = D / 16, dTiles = D / 8, queryTiles = kTile / 8;
  extern __shared__ __align__(128) unsigned char shared[];
  T *ks = reinterpret_cast<T *>(shared);
  T *vs = ks + kTile * L;
  T *qs = vs + kTile * L;       // stages 0 and 1
  T *dos = qs + 2 * kTile * L;  // stages 0 and 1
  T *dst = dos + 2 * kTile * L; // dS^T: [key][query], leading dimension P
  float *lses = reinterpret_cast<float *>(dst + kTile * P); // 2 stages
  float *dots = lses + 2 * kTile;                           // 2 stages

  // The costliest causal tiles (the first keys) start first.
  const BlockTile placed = blockTile(layouts);
  const int bh = placed.bh, k0 = placed.rank * kTile;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int group = lane / 4, thread = lane % 4;
  toHead<T, D>(bh, sq, layouts, q, k, v, dOut, lse, rowDot, dq, dk, dv);
  const int keyRows = min(kTile, sk - k0);
  const float log2e = 1.44269504088896341f, scale2 = scale * log2e;
  // The warp's key rows in the tile: `first` and `first + 8` for this lane.
  const int first = warp * 16 + group;

  // Causal: no query before the tile's first key attends to it.
  const int start = causal ? k0 : 0;
  const int tiles = sq > start ? (sq - start + kTile - 1) / kTile : 0;
  // Starts loading query tile `tile` into `stage`: q and do by cp.async,
  // the statistics (log-sum-exp in base 2) by plain loads.
  auto load = [&](int tile, int stage) {
    const int q0 = start + tile * kTile, rows = min(kTile, sq - q0);
    loadTileAsync<T, D>(qs + stage * kTile * L, q + q0 * layouts.q.row,
                        layouts.q.row, rows);
    loadTileAsync<T, D>(dos + stage * kTile * L, dOut + q0 * layouts.dOut.row,
                        layouts.dOut.row, rows);
    // Threads 0 .. 63 copy the log-sum-exp, 64 .. 127 rowsum(do * out):
    // asynchronously too (a plain load would stall the warp until the
    // data came, before the current tile's work).
    static_assert(kThreads == 2 * kTile, "a thread per statistic");
    const int r = threadIdx.x % kTile;
    float *to = (threadIdx.x < kTile ? lses : dots) + stage * kTile + r;
    if (r < rows)
      autopar::mma::copyAsync4(to,
                               (threadIdx.x < kTile ? lse : rowDot) + q0 + r);
    else
      *to = 0.0f;
  };
  loadTileAsync<T, D>(ks, k + k0 * layouts.k.row, layouts.k.row, keyRows);
  loadTileAsync<T, D>(vs, v + k0 * layouts.v.row, layouts.v.row, keyRows);
  if (tiles > 0)
    load(0, 0);
  autopar::mma::commitAsync();

  float dkAcc[dTiles][4], dvAcc[dTiles][4];
  AUTOPAR_UNROLL
  for (int n = 0; n < dTiles; ++n)
    AUTOPAR_UNROLL
  for (int e = 0; e < 4; ++e)
    dkAcc[n][e] = dvAcc[n][e] = 0.0f;
  for (int tile = 0; tile < tiles; ++tile) {
    const int q0 = start + tile * kTile, stage = tile & 1;
    const int rows = min(kTile, sq - q0);
    if (tile + 1 < tiles) {
      load(tile + 1, stage ^ 1);
      autopar::mma::commitAsync();
      autopar::mma::waitAsync<1>();
    } else {
      autopar::mma::waitAsync<0>();
    }
    __syncthreads(); // this stage's tiles (and k, v) are in shared memory
    const T *qt = qs + stage * kTile * L, *dot = dos + stage * kTile * L;
    const float *lt = lses + stage * kTile, *rt = dots + stage * kTile;

    // a x^T for the warp's 16 rows of `a` (k or v) and the 64 rows of `x`
    // (q or do): 8 accumulators of 16 keys x 8 queries.
    auto rowsTimesT = [&](const T *a, const T *x, float(&acc)[queryTiles][4]) {
      unsigned fa[kSteps][4];
      AUTOPAR_UNROLL
      for (int kk = 0; kk < kSteps; ++kk) {
        const T *p = a + first * L + kk * 16 + 2 * thread;
        fa[kk][0] = pairAt(p);
        fa[kk][1] = pairAt(p + 8 * L);
        fa[kk][2] = pairAt(p + 8);
        fa[kk][3] = pairAt(p + 8 * L + 8);
      }
      AUTOPAR_UNROLL
      for (int n = 0; n < queryTiles; ++n) {
        AUTOPAR_UNROLL
        for (int e = 0; e < 4; ++e)
          acc[n][e] = 0.0f;
        AUTOPAR_UNROLL
        for (int kk = 0; kk < kSteps; kk += 2) {
          unsigned fb[4];
          loadRowTiles<T, D>(fb, x, n, kk);
          mma16816<T>(acc[n], fa[kk], fb);
          mma16816<T>(acc[n], fa[kk + 1], fb + 2);
        }
      }
    };
    // P^T = exp(s^T scale - lse) (the log-sum-exp saved in base e), 0
    // where masked: only in the tiles at the edges, which take a branch of
    // their own.
    float pt[queryTiles][4];
    rowsTimesT(ks, qt, pt);
    AUTOPAR_UNROLL
    for (int n = 0; n < queryTiles; ++n) {
      const int c = n * 8 + 2 * thread; // the lane's queries c, c + 1
      const float2 l = *reinterpret_cast<const float2 *>(lt + c);
      const float base[2] = {l.x * log2e, l.y * log2e};
      AUTOPAR_UNROLL
      for (int e = 0; e < 4; ++e)
        pt[n][e] = autopar::mma::exp2Fast(fmaf(pt[n][e], scale2, -base[e % 2]));
    }
    if (q0 + kTile > sq || k0 + kTile > sk || (causal && q0 < k0 + kTile))
      maskProbabilities(pt, q0 + 2 * thread, k0 + first, q0 + rows, sk, causal);
    // dS^T = P^T (dp^T - rowsum(do * out)), the scale left to dk's store
    // and dq's rounding (narrowRows): one multiplication a block or an
    // element of dq instead of one a score.
    float dsT[queryTiles][4];
    rowsTimesT(vs, dot, dsT);
    AUTOPAR_UNROLL
    for (int n = 0; n < queryTiles; ++n)
      AUTOPAR_UNROLL
    for (int e = 0; e < 4; ++e) {
      const int c = n * 8 + 2 * thread + e % 2;
      dsT[n][e] = pt[n][e] * (dsT[n][e] - rt[c]);
    }
    // dv += P^T do and dk += dS^T q, 16 queries at a time; dS^T to shared
    // memory for dq.
    AUTOPAR_UNROLL
    for (int kk = 0; kk < kTile / 16; ++kk) {
      const float *plo = pt[2 * kk], *phi = pt[2 * kk + 1];
      const float *dlo = dsT[2 * kk], *dhi = dsT[2 * kk + 1];
      unsigned pa[4] = {pack(Narrow<T>::from(plo[0]), Narrow<T>::from(plo[1])),
                        pack(Narrow<T>::from(plo[2]), Narrow<T>::from(plo[3])),
                        pack(Narrow<T>::from(phi[0]), Narrow<T>::from(phi[1])),
                        pack(Narrow<T>::from(phi[2]), Narrow<T>::from(phi[3]))};
      unsigned da[4] = {pack(Narrow<T>::from(dlo[0]), Narrow<T>::from(dlo[1])),
                        pack(Narrow<T>::from(dlo[2]), Narrow<T>::from(dlo[3])),
                        pack(Narrow<T>::from(dhi[0]), Narrow<T>::from(dhi[1])),
                        pack(Narrow<T>::from(dhi[2]), Narrow<T>::from(dhi[3]))};
      unsigned *row = reinterpret_cast<unsigned *>(dst + first * P);
      const int word = kk * 8 + thread; // queries kk * 16 + 2 * thread, + 1
      row[word] = da[0];
      row[word + 4 * P] = da[1]; // 8 rows down: P / 2 words a row
      row[word + 4] = da[2];
      row[word + 4 * P + 4] = da[3];
      AUTOPAR_UNROLL
      for (int n = 0; n < dTiles; n += 2) {
        unsigned fdo[4], fq[4];
        loadColumnTiles<T, D>(fdo, dot, kk * 16, n);
        loadColumnTiles<T, D>(fq, qt, kk * 16, n);
        mma16816<T>(dvAcc[n], pa, fdo);
        mma16816<T>(dvAcc[n + 1], pa, fdo + 2);
        mma16816<T>(dkAcc[n], da, fq);
        mma16816<T>(dkAcc[n + 1], da, fq + 2);
      }
    }
    __syncthreads(); // every warp's dS^T is in shared memory
    // dq[16 query rows of this warp] += dS k: A[query][key] = dS^T[key][query].
    float dqAcc[dTiles][4];
    AUTOPAR_UNROLL
    for (int n = 0; n < dTiles; ++n)
      AUTOPAR_UNROLL
    for (int e = 0; e < 4; ++e)
      dqAcc[n][e] = 0.0f;
    AUTOPAR_UNROLL
    for (int kk = 0; kk < kTile / 16; ++kk) {
      // Matrix i of the A operand: keys 16kk + 8 (i / 2) on, the warp's
      // queries 8 (i % 2) on, transposed.
      unsigned fa[4];
      const int matrix = lane / 8;
      autopar::mma::loadMatrices<true>(
          fa, dst + (kk * 16 + lane % 8 + matrix / 2 * 8) * P + warp * 16 +
                  matrix % 2 * 8);
      AUTOPAR_UNROLL
      for (int n = 0; n < dTiles; n += 2) {
        unsigned fk[4];
        loadColumnTiles<T, D>(fk, ks, kk * 16, n);
        mma16816<T>(dqAcc[n], fa, fk);
        mma16816<T>(dqAcc[n + 1], fa, fk + 2);
      }
    }
    const int queryRow = warp * 16 + group;
    AUTOPAR_UNROLL
    for (int h = 0; h < 2; ++h) {
      const int r = queryRow + 8 * h;
      if (r >= rows)
        continue;
      float *target = dq + size_t(q0 + r) * D + 2 * thread;
      AUTOPAR_UNROLL
      for (int n = 0; n < dTiles; ++n)
        addPair(target + n * 8, dqAcc[n][2 * h], dqAcc[n][2 * h + 1]);
    }
    __syncthreads(); // the next iteration's loads overwrite this stage
  }
  autopar::mma::waitAsync<0>(); // nothing in flight at exit (no query tile)

  AUTOPAR_UNROLL
  for (int h = 0; h < 2; ++h) {
    const int r = first + 8 * h;
    if (r >= keyRows)
      continue;
    unsigned *dkRow =
        reinterpret_cast<unsigned *>(dk + (k0 + r) * layouts.dk.row);
    unsigned *dvRow =
        reinterpret_cast<unsigned *>(dv + (k0 + r) * layouts.dv.row);
    AUTOPAR_UNROLL
    for (int n = 0; n < dTiles; ++n) {
      dkRow[n * 4 + thread] =
          pack(Narrow<T>::from(dkAcc[n][2 * h] * scale),
               Narrow<T>::from(dkAcc[n][2 * h + 1] * scale));
      dvRow[n * 4 + thread] = pack(Narrow<T>::from(dvAcc[n][2 * h]),
                                   Narrow<T>::from(dvAcc[n][2 * h + 1]));
    }
  }
}

/// dq (laid out as `layouts.dq`) = the contiguous f32 sums [BH, sq, D]
/// rounded, times `factor` (the scale the mma backward kernel leaves out of
/// dS; 1 after the WMMA one). Block row y of the grid is (batch, head) y;
/// each thread rounds four neighbours of a row (one 16-byte load): no
/// division by sq.
template <typename T, int D>
__device__ void narrowRows(const float *in, T *out, Layouts layouts, int sq,
                           float factor) {
  static_assert(D % 4 == 0, "rows of whole float4s");
  const int bh = int(blockIdx.y);
  const float4 *source =
      reinterpret_cast<const float4 *>(in + size_t(bh) * size_t(sq) * D);
  T *target = atHead(out, layouts.dq, bh, layouts.heads);
  const size_t quads = size_t(sq) * (D / 4);
  for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < quads;
       i += size_t(gridDim.x) * blockDim.x) {
    const float4 x = source[i];
    const int position = int(i / (D / 4)), c = int(i % (D / 4)) * 4;
    T *row = target + position * layouts.dq.row + c;
    row[0] = Narrow<T>::from(x.x * factor);
    row[1] = Narrow<T>::from(x.y * factor);
    row[2] = Narrow<T>::from(x.z * factor);
    row[3] = Narrow<T>::from(x.w * factor);
  }
}
/// rowDot[bh sq + p] = sum over d of dOut[p, d] * out[p, d] for (batch,
/// head) bh = block row y of the grid: the part of the statistics kernel
/// the backward pass still needs when the forward pass saved the
/// log-sum-exp. Each lane reads 8 neighbouring columns of both rows (one
/// 16-byte load each: rows start 16-byte aligned, AttentionLayout.h), so
/// D / 8 lanes share a row and a warp takes 256 / D rows at once, summed
/// by log2(D / 8) shuffles within each lane group (a warp per row with
/// 2-byte loads, as before, issued 4 loads and 5 shuffles a lane for a
/// row of 64).
template <typename T, int D>
__device__ void rowDots(const T *out, const T *dOut, float *rowDot,
                        Layouts layouts, int sq) {
  static_assert(D % 8 == 0 && 32 % (D / 8) == 0,
                "a row is a whole number of 16-byte loads, a warp whole rows");
  constexpr int lanesPerRow = D / 8, rowsPerWarp = 32 / lanesPerRow;
  const int bh = int(blockIdx.y), lane = int(threadIdx.x % 32);
  const int warps = int(blockDim.x / 32), part = lane % lanesPerRow;
  const T *o = atHead(out, layouts.out, bh, layouts.heads);
  const T *g = atHead(dOut, layouts.dOut, bh, layouts.heads);
  // The loop's bounds are the warp's (every lane shuffles); a lane whose
  // row is past the end adds zeros.
  for (int first =
           (int(blockIdx.x) * warps + int(threadIdx.x / 32)) * rowsPerWarp;
       first < sq; first += int(gridDim.x) * warps * rowsPerWarp) {
    const int p = first + lane / lanesPerRow;
    float dot = 0.0f;
    if (p < sq) {
      const uint4 a =
          *reinterpret_cast<const uint4 *>(g + p * layouts.dOut.row + 8 * part);
      const uint4 b =
          *reinterpret_cast<const uint4 *>(o + p * layouts.out.row + 8 * part);
      const T *x = reinterpret_cast<const T *>(&a);
      const T *y = reinterpret_cast<const T *>(&b);
      AUTOPAR_UNROLL
      for (int c = 0; c < 8; ++c)
        dot += Narrow<T>::to(x[c]) * Narrow<T>::to(y[c]);
    }
    AUTOPAR_UNROLL
    for (int offset = lanesPerRow / 2; offset > 0; offset /= 2)
      dot += __shfl_xor_sync(0xffffffffu, dot, offset);
    if (part == 0 && p < sq)
      rowDot[size_t(bh) * size_t(sq) + size_t(p)] = dot;
  }
}
} // namespace

// The entry points, one per element type and head size, with C names that
// Attention.cpp looks up in the module. Every operand is a [B, H, S, D]
// tensor laid out as `layouts` says; block row y of the grid is batch
// y / layouts.heads, head y % layouts.heads.
#define AUTOPAR_ATTENTION_KERNELS(T, NAME, D)                                  \
  extern "C" __global__ void __launch_bounds__(kThreads)                       \
      autopar_attention_forward_##NAME##_d##D(                                 \
          const T *q, const T *k, const T *v, T *out, float *lse,              \
          Layouts layouts, int sq, int sk, float scale, int causal) {          \
    forwardTile<T, D, false>(q, k, v, out, lse, nullptr, nullptr, layouts, sq, \
                             sk, scale, causal);                               \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(kThreads)                       \
      autopar_attention_forward_mma_##NAME##_d##D(                             \
          const T *q, const T *k, const T *v, T *out, float *lse,              \
          Layouts layouts, int sq, int sk, float scale, int causal) {          \
    forwardTileMma<T, D, 1>(q, k, v, out, lse, layouts, sq, sk, scale,         \
                            causal);                                           \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(kThreads)                       \
      autopar_attention_forward_mma2_##NAME##_d##D(                            \
          const T *q, const T *k, const T *v, T *out, float *lse,              \
          Layouts layouts, int sq, int sk, float scale, int causal) {          \
    forwardTileMma<T, D, 2>(q, k, v, out, lse, layouts, sq, sk, scale,         \
                            causal);                                           \
  }                                                                            \
  extern "C" __global__ void autopar_attention_rowdot_##NAME##_d##D(           \
      const T *out, const T *dOut, float *rowDot, Layouts layouts, int sq) {   \
    rowDots<T, D>(out, dOut, rowDot, layouts, sq);                             \
  }                                                                            \
  extern "C" __global__ void autopar_attention_narrow_##NAME##_d##D(           \
      const float *in, T *out, Layouts layouts, int sq, float factor) {        \
    narrowRows<T, D>(in, out, layouts, sq, factor);                            \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(kThreads)                       \
      autopar_attention_stats_##NAME##_d##D(                                   \
          const T *q, const T *k, const T *out, const T *dOut, float *lse,     \
          float *rowDot, Layouts layouts, int sq, int sk, float scale,         \
          int causal) {                                                        \
    forwardTile<T, D, true>(q, k, nullptr, const_cast<T *>(out), lse, dOut,    \
                            rowDot, layouts, sq, sk, scale, causal);           \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(kThreads)                       \
      autopar_attention_backward_##NAME##_d##D(                                \
          const T *q, const T *k, const T *v, const T *dOut, const float *lse, \
          const float *rowDot, float *dq, T *dk, T *dv, Layouts layouts,       \
          int sq, int sk, float scale, int causal) {                           \
    backwardTile<T, D>(q, k, v, dOut, lse, rowDot, dq, dk, dv, layouts, sq,    \
                       sk, scale, causal);                                     \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(kThreads, D <= 64 ? 3 : 1)      \
      autopar_attention_backward_mma_##NAME##_d##D(                            \
          const T *q, const T *k, const T *v, const T *dOut, const float *lse, \
          const float *rowDot, float *dq, T *dk, T *dv, Layouts layouts,       \
          int sq, int sk, float scale, int causal) {                           \
    backwardTileMma<T, D>(q, k, v, dOut, lse, rowDot, dq, dk, dv, layouts, sq, \
                          sk, scale, causal);                                  \
  }

AUTOPAR_ATTENTION_KERNELS(__nv_bfloat16, bf16, 32)
AUTOPAR_ATTENTION_KERNELS(__nv_bfloat16, bf16, 64)
AUTOPAR_ATTENTION_KERNELS(__nv_bfloat16, bf16, 128)
AUTOPAR_ATTENTION_KERNELS(__half, f16, 32)
AUTOPAR_ATTENTION_KERNELS(__half, f16, 64)
AUTOPAR_ATTENTION_KERNELS(__half, f16, 128)
#undef AUTOPAR_ATTENTION_KERNELS
