//===- AttentionLayout.h - shared memory of the attention kernels ---------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The tile sizes and shared-memory layout of runtime/cuda/Attention.cu,
// included by the kernels and by the host code that launches them (which
// asks the driver for that much dynamic shared memory).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CUDA_ATTENTIONLAYOUT_H
#define AUTOPAR_RUNTIME_CUDA_ATTENTIONLAYOUT_H

#include <cstddef>

namespace autopar::attention {
/// Where the rows of one (batch, head) of a [B, H, S, D] operand are (D
/// contiguous): element strides of the batch, the head and the position,
/// each a multiple of 8 (the kernels move rows 16 bytes at a time).
struct Strides {
  long long batch, head, row;
};
/// The strides of every operand of a kernel (those it does not take are
/// unused), the number of heads H (index y of a grid's block rows is
/// batch y / H, head y % H) and the order in which the blocks take the
/// tiles: `tileMajor` 0, block (x, y) takes its (batch, head) y's x-th
/// tile to start; 1, the blocks in launch order (x fastest) take every
/// (batch, head)'s first tile, then every one's second, and so on.
struct Layouts {
  Strides q, k, v, out, dOut, dq, dk, dv;
  int heads;
  int tileMajor;
};

/// Rows of a query or key tile; threads of a block (4 warps of 16 rows).
constexpr int kTile = 64, kThreads = 128;

/// Leading dimensions, in elements, of the shared tiles: rows padded by
/// 16 bytes (WMMA needs 32-byte aligned fragments and a leading dimension
/// that is a multiple of 16 bytes; the padding spreads rows over banks).
constexpr int tileLd(int d) { return d + 8; }  // 16-bit [64][d]
constexpr int scoresLd() { return kTile + 4; } // f32 [64][64]
constexpr int probsLd() { return kTile + 8; }  // 16-bit [64][64]
constexpr int rowsLd(int d) { return d + 4; }  // f32 [64][d]

/// Dynamic shared memory of the forward (and statistics) kernel: q, k, v
/// tiles, scores, probabilities, the output rows, row max and sum.
constexpr size_t forwardSharedBytes(int d) {
  return size_t(kTile) * (3 * tileLd(d) * 2 + scoresLd() * 4 + probsLd() * 2 +
                          rowsLd(d) * 4 + 2 * 4);
}
/// Of the backward kernel: k, v, q, do tiles, scores and dp, P and dS,
/// the warps' scratch rows, the rows' log-sum-exp and rowsum(do * out).
constexpr size_t backwardSharedBytes(int d) {
  return size_t(kTile) * (4 * tileLd(d) * 2 + 2 * scoresLd() * 4 +
                          2 * probsLd() * 2 + rowsLd(d) * 4 + 2 * 4);
}
/// Of the register-resident forward kernel with `mt` m-tiles of 16 rows a
/// warp: the q tile (64 mt rows), then two stages of the k and v tiles
/// (the next pair loads while the current is used).
constexpr size_t forwardMmaSharedBytes(int d, int mt) {
  return size_t(kTile) * tileLd(d) * 2 * (mt + 4);
}
/// Of the register-resident backward kernel: the k and v tiles, two
/// stages of the q and do tiles, dS^T (16-bit [64 keys][64 queries]), and
/// two stages of the rows' log-sum-exp and rowsum(do * out).
constexpr size_t backwardMmaSharedBytes(int d) {
  return size_t(kTile) * (6 * tileLd(d) * 2 + probsLd() * 2 + 4 * 4);
}
} // namespace autopar::attention

#endif // AUTOPAR_RUNTIME_CUDA_ATTENTIONLAYOUT_H
