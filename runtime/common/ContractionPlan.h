//===- ContractionPlan.h - strided contractions as batched GEMMs -*- C++
//-*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// What the CPU and the CUDA runtimes share for `C += A * B` described by its
// loops (autopar-contractions-to-calls): the loops fall into batch (in all
// three operands), M (A and C), N (B and C) and K (A and B); each group is
// collapsed into one dimension when the strides allow, an operand is read
// transposed when that makes it a row-major matrix, and handed to the
// backend to copy into a contiguous buffer only when neither works. The
// backend runs the GEMMs (oneDNN on the CPU, cuBLAS on the GPU).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_COMMON_CONTRACTIONPLAN_H
#define AUTOPAR_RUNTIME_COMMON_CONTRACTIONPLAN_H

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace autopar::runtime {

/// One loop of a contraction: its trip count and, per operand (A, B, C), the
/// stride in elements of the dimension it indexes, or `absent`.
struct ContractionLoop {
  static constexpr int64_t absent = INT64_MIN;
  int64_t size = 1;
  int64_t stride[3] = {absent, absent, absent};
};

namespace detail {
enum Group { Batch, M, N, K, NumGroups };

/// The loops of one group, in loop order, with size-1 loops dropped.
struct Dims {
  std::vector<const ContractionLoop *> loops;
  int64_t size() const {
    int64_t s = 1;
    for (const ContractionLoop *l : loops)
      s *= l->size;
    return s;
  }
  /// The stride of the whole group in `operand` if its loops address it as
  /// one dimension (row-major among themselves), else -1. 0 when empty.
  int64_t collapsed(int operand) const {
    if (loops.empty())
      return 0;
    for (size_t i = 0; i + 1 < loops.size(); ++i)
      if (loops[i]->stride[operand] !=
          loops[i + 1]->stride[operand] * loops[i + 1]->size)
        return -1;
    return loops.back()->stride[operand];
  }
};

/// A matrix view of one operand: rows x cols in memory with leading
/// dimension `ld`, read transposed when `trans`.
template <typename T> struct Matrix {
  const T *data;
  int64_t ld;
  bool trans;
};

/// Row-major `rows` x `cols` view of an operand from the collapsed strides
/// of its row and column groups, or nothing if it needs packing.
template <typename T>
bool view(const T *data, int64_t rows, int64_t cols, int64_t rowStride,
          int64_t colStride, Matrix<T> &out) {
  if (rowStride < 0 || colStride < 0)
    return false;
  if ((cols == 1 || colStride == 1) && (rows == 1 || rowStride >= cols)) {
    out = {data, rows == 1 ? std::max<int64_t>(cols, 1) : rowStride, false};
    return true;
  }
  if ((rows == 1 || rowStride == 1) && (cols == 1 || colStride >= rows)) {
    out = {data, cols == 1 ? std::max<int64_t>(rows, 1) : colStride, true};
    return true;
  }
  return false;
}
} // namespace detail

/// Whether `Backend` has `gemmBatched` (one call for GEMMs whose operands
/// lie at constant strides: cuBLAS's strided-batched GEMM).
template <typename Backend, typename = void>
struct HasBatchedGemm : std::false_type {};
template <typename Backend>
struct HasBatchedGemm<Backend, std::void_t<decltype(&Backend::gemmBatched)>>
    : std::true_type {};

/// C += A * B over `loops`, where A, B and C point at each operand's first
/// element, as row-major GEMMs on `backend`:
///   backend.gemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
///     adds op(A) op(B) to the row-major m x n matrix at c;
///   backend.gemmBatched(transA, transB, m, n, k, a, lda, strideA, b, ldb,
///     strideB, c, ldc, strideC, count), if the backend has it, does that
///     for `count` matrices at the given element strides: the innermost
///     batch loops that every operand addresses as one dimension (and whose
///     C matrices do not overlap) become one such call;
///   backend.pack(operand, base, order) returns a contiguous copy of the
///     elements the loops in `order` address (row-major in that order), or
///     nullptr when the backend does not copy;
///   backend.unpack(c, packed, order) writes a packed C back.
/// A and B hold `In` elements, C holds `Out` (the CUDA path's bf16 and f16
/// products accumulate into f32). Returns an empty string, or what is
/// wrong.
template <typename Backend, typename In, typename Out>
std::string contractWith(Backend &backend, const In *a, const In *b, Out *c,
                         const std::vector<ContractionLoop> &loops) {
  using namespace detail;
  Dims groups[NumGroups];
  for (const ContractionLoop &l : loops) {
    bool inA = l.stride[0] != ContractionLoop::absent;
    bool inB = l.stride[1] != ContractionLoop::absent;
    bool inC = l.stride[2] != ContractionLoop::absent;
    Group g;
    if (inA && inB && inC)
      g = Batch;
    else if (inA && inC && !inB)
      g = M;
    else if (inB && inC && !inA)
      g = N;
    else if (inA && inB && !inC)
      g = K;
    else
      return "a loop indexes only one operand";
    if (l.size < 0)
      return "a loop has a negative trip count";
    if (l.size == 0)
      return {}; // nothing to add
    if (l.size > 1)
      groups[g].loops.push_back(&l);
  }
  int64_t m = groups[M].size(), n = groups[N].size(), k = groups[K].size();

  // Operand views; operands that need it are packed once for all batches.
  int64_t packedBatchStride[3] = {0, 0, 0};
  auto order = [&](Group rows, Group cols) {
    std::vector<const ContractionLoop *> o = groups[Batch].loops;
    o.insert(o.end(), groups[rows].loops.begin(), groups[rows].loops.end());
    o.insert(o.end(), groups[cols].loops.begin(), groups[cols].loops.end());
    return o;
  };
  const char *unpackable = "an operand's layout needs a copy, which this "
                           "runtime does not make";
  Matrix<In> A, B;
  Matrix<Out> Cv;
  bool packedA =
      !view(a, m, k, groups[M].collapsed(0), groups[K].collapsed(0), A);
  if (packedA) {
    const In *p = backend.pack(0, a, order(M, K));
    if (!p)
      return unpackable;
    A = {p, std::max<int64_t>(k, 1), false};
    packedBatchStride[0] = m * k;
  }
  bool packedB =
      !view(b, k, n, groups[K].collapsed(1), groups[N].collapsed(1), B);
  if (packedB) {
    const In *p = backend.pack(1, b, order(K, N));
    if (!p)
      return unpackable;
    B = {p, std::max<int64_t>(n, 1), false};
    packedBatchStride[1] = k * n;
  }
  std::vector<const ContractionLoop *> cOrder;
  bool packedC =
      !view(c, m, n, groups[M].collapsed(2), groups[N].collapsed(2), Cv);
  if (packedC) {
    cOrder = order(M, N);
    const Out *p = backend.pack(2, c, cOrder);
    if (!p)
      return unpackable;
    Cv = {p, std::max<int64_t>(n, 1), false};
    packedBatchStride[2] = m * n;
  }

  // Batches: the innermost `inner` batch loops go to one batched call
  // where the backend has one and every operand addresses them as one
  // dimension (a packed operand does: its batches are contiguous); the
  // outer ones are looped over, with each operand's offset.
  const std::vector<const ContractionLoop *> &batch = groups[Batch].loops;
  bool packed[3] = {packedA, packedB, packedC};
  size_t inner = 0;
  int64_t innerCount = 1;
  if constexpr (HasBatchedGemm<Backend>::value) {
    // C's matrices must not overlap: its extent in memory.
    int64_t cRows = Cv.trans ? n : m, cCols = Cv.trans ? m : n;
    int64_t cExtent = (cRows - 1) * Cv.ld + cCols;
    for (size_t s = 1; s <= batch.size(); ++s) {
      const ContractionLoop *l = batch[batch.size() - s];
      bool ok = packedC || l->stride[2] >= cExtent;
      for (int o = 0; o < 3 && ok && s > 1; ++o) {
        const ContractionLoop *next = batch[batch.size() - s + 1];
        ok = packed[o] || l->stride[o] == next->stride[o] * next->size;
      }
      if (!ok)
        break;
      inner = s;
      innerCount *= l->size;
    }
  }
  int64_t innerStride[3] = {0, 0, 0};
  for (int o = 0; o < 3 && inner; ++o)
    innerStride[o] = packed[o] ? packedBatchStride[o] : batch.back()->stride[o];
  std::vector<int64_t> index(batch.size() - inner, 0);
  int64_t batches = groups[Batch].size() / innerCount;
  int64_t offset[3] = {0, 0, 0};
  for (int64_t i = 0; i < batches; ++i) {
    int64_t first = i * innerCount; // the first batch's linear index
    const In *pa =
        A.data + (packedA ? first * packedBatchStride[0] : offset[0]);
    const In *pb =
        B.data + (packedB ? first * packedBatchStride[1] : offset[1]);
    Out *pc = const_cast<Out *>(Cv.data) +
              (packedC ? first * packedBatchStride[2] : offset[2]);
    if constexpr (HasBatchedGemm<Backend>::value) {
      if (innerCount > 1) {
        if (!Cv.trans)
          backend.gemmBatched(A.trans, B.trans, m, n, k, pa, A.ld,
                              innerStride[0], pb, B.ld, innerStride[1], pc,
                              Cv.ld, innerStride[2], innerCount);
        else
          backend.gemmBatched(!B.trans, !A.trans, n, m, k, pb, B.ld,
                              innerStride[1], pa, A.ld, innerStride[0], pc,
                              Cv.ld, innerStride[2], innerCount);
      }
    }
    if (innerCount == 1) {
      if (!Cv.trans)
        backend.gemm(A.trans, B.trans, m, n, k, pa, A.ld, pb, B.ld, pc, Cv.ld);
      else // C^T = B^T A^T
        backend.gemm(!B.trans, !A.trans, n, m, k, pb, B.ld, pa, A.ld, pc,
                     Cv.ld);
    }
    for (size_t d = index.size(); d-- > 0;) {
      for (int o = 0; o < 3; ++o)
        offset[o] += batch[d]->stride[o];
      if (++index[d] < batch[d]->size)
        break;
      for (int o = 0; o < 3; ++o)
        offset[o] -= batch[d]->stride[o] * batch[d]->size;
      index[d] = 0;
    }
  }
  if (packedC)
    backend.unpack(c, Cv.data, cOrder);
  return {};
}

/// The loops of `C += A * B` from what compiled code passes: each operand's
/// rank, sizes and strides, and for each loop the dimension of A, B and C
/// it indexes (-1: none; `spec` holds 3 entries per loop). One more entry,
/// 1, asks for `C = A * B` (autopar-contractions-to-calls{overwrite-zero-
/// init}: C was only zeroed): `*overwrite` says so, where the runtime can
/// (a null `overwrite` makes that an error). Returns an empty string, or
/// what is wrong with the description.
template <typename Operand, typename Spec>
std::string describeLoops(const Operand (&operands)[3], const Spec &spec,
                          std::vector<ContractionLoop> &loops,
                          bool *overwrite = nullptr) {
  int64_t entries = spec.sizes[0];
  if (overwrite)
    *overwrite = false;
  if (entries % 3 == 1) {
    int64_t flag = spec.data[spec.offset + (entries - 1) * spec.strides[0]];
    if (flag != 1)
      return "the loop description ends in an entry other than 1";
    if (!overwrite)
      return "the loop description asks to overwrite C, which this runtime "
             "does not do";
    *overwrite = true;
    --entries;
  }
  if (entries % 3 != 0)
    return "the loop description has a length that is not a multiple of 3";
  loops.assign(size_t(entries / 3), ContractionLoop());
  for (size_t l = 0; l < loops.size(); ++l) {
    bool sized = false;
    for (int o = 0; o < 3; ++o) {
      int64_t dim =
          spec.data[spec.offset + (int64_t(l) * 3 + o) * spec.strides[0]];
      if (dim < 0)
        continue;
      if (dim >= operands[o].rank)
        return "a loop names a dimension past an operand's rank";
      if (sized && loops[l].size != operands[o].sizes[dim])
        return "operands disagree on a loop's trip count";
      loops[l].size = operands[o].sizes[dim];
      loops[l].stride[o] = operands[o].strides[dim];
      sized = true;
    }
  }
  return {};
}

} // namespace autopar::runtime

#endif // AUTOPAR_RUNTIME_COMMON_CONTRACTIONPLAN_H
