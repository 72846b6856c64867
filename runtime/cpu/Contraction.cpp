//===- Contraction.cpp - strided tensor contractions through a GEMM -------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "Contraction.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include <oneapi/dnnl/dnnl.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace autopar::cpu;

namespace {
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
struct Matrix {
  const float *data;
  int64_t ld;
  bool trans;
};

/// Copies the elements an operand's `groups` address between `strided` (its
/// own strides) and `packed` (row-major in the order of `groups`).
template <bool ToPacked>
void copyPacked(float *strided, float *packed, int operand,
                const std::vector<const ContractionLoop *> &order) {
  size_t rank = order.size();
  std::vector<int64_t> index(rank, 0);
  int64_t total = 1;
  for (const ContractionLoop *l : order)
    total *= l->size;
  int64_t offset = 0;
  for (int64_t linear = 0; linear < total; ++linear) {
    if (ToPacked)
      packed[linear] = strided[offset];
    else
      strided[offset] = packed[linear];
    for (size_t d = rank; d-- > 0;) {
      offset += order[d]->stride[operand];
      if (++index[d] < order[d]->size)
        break;
      offset -= order[d]->stride[operand] * order[d]->size;
      index[d] = 0;
    }
  }
}

/// Row-major `rows` x `cols` view of an operand from the collapsed strides
/// of its row and column groups, or nothing if it needs packing.
bool view(const float *data, int64_t rows, int64_t cols, int64_t rowStride,
          int64_t colStride, Matrix &out) {
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

void sgemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
           const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
           int64_t ldc) {
  dnnl_status_t status = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', m,
                                    n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
  if (status != dnnl_success) {
    std::fprintf(stderr,
                 "autopar runtime: dnnl_sgemm failed (status %d) for "
                 "%ldx%ldx%ld\n",
                 int(status), long(m), long(n), long(k));
    std::abort();
  }
}
} // namespace

std::string autopar::cpu::contract(const float *a, const float *b, float *c,
                                   const std::vector<ContractionLoop> &loops) {
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
  std::unique_ptr<float[]> packed[3];
  int64_t packedBatchStride[3] = {0, 0, 0};
  auto pack = [&](int operand, Group rows, Group cols) {
    std::vector<const ContractionLoop *> order = groups[Batch].loops;
    order.insert(order.end(), groups[rows].loops.begin(),
                 groups[rows].loops.end());
    order.insert(order.end(), groups[cols].loops.begin(),
                 groups[cols].loops.end());
    int64_t rowsSize = groups[rows].size(), colsSize = groups[cols].size();
    packed[operand].reset(
        new float[size_t(groups[Batch].size() * rowsSize * colsSize)]);
    const float *base = operand == 0 ? a : operand == 1 ? b : c;
    copyPacked<true>(const_cast<float *>(base), packed[operand].get(), operand,
                     order);
    packedBatchStride[operand] = rowsSize * colsSize;
    return order;
  };

  Matrix A, B, Cv;
  bool packedA =
      !view(a, m, k, groups[M].collapsed(0), groups[K].collapsed(0), A);
  if (packedA) {
    pack(0, M, K);
    A = {packed[0].get(), std::max<int64_t>(k, 1), false};
  }
  bool packedB =
      !view(b, k, n, groups[K].collapsed(1), groups[N].collapsed(1), B);
  if (packedB) {
    pack(1, K, N);
    B = {packed[1].get(), std::max<int64_t>(n, 1), false};
  }
  std::vector<const ContractionLoop *> cOrder;
  bool packedC =
      !view(c, m, n, groups[M].collapsed(2), groups[N].collapsed(2), Cv);
  if (packedC) {
    cOrder = pack(2, M, N);
    Cv = {packed[2].get(), std::max<int64_t>(n, 1), false};
  }

  // Batches: every index of the batch loops, with each operand's offset.
  const std::vector<const ContractionLoop *> &batch = groups[Batch].loops;
  std::vector<int64_t> index(batch.size(), 0);
  int64_t batches = groups[Batch].size();
  int64_t offset[3] = {0, 0, 0};
  for (int64_t i = 0; i < batches; ++i) {
    const float *pa = A.data + (packedA ? i * packedBatchStride[0] : offset[0]);
    const float *pb = B.data + (packedB ? i * packedBatchStride[1] : offset[1]);
    float *pc = const_cast<float *>(Cv.data) +
                (packedC ? i * packedBatchStride[2] : offset[2]);
    if (!Cv.trans)
      sgemm(A.trans, B.trans, m, n, k, pa, A.ld, pb, B.ld, pc, Cv.ld);
    else // C^T = B^T A^T
      sgemm(!B.trans, !A.trans, n, m, k, pb, B.ld, pa, A.ld, pc, Cv.ld);
    for (size_t d = batch.size(); d-- > 0;) {
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
    copyPacked<false>(c, packed[2].get(), 2, cOrder);
  return {};
}

/// The entry point compiled code calls (see the pass
/// `autopar-contractions-to-calls`): the three buffers of `C += A * B` and,
/// for each loop, the dimension of A, B and C it indexes (-1: none).
extern "C" void _mlir_ciface_autopar_gemm_f32(
    UnrankedMemRefType<float> *a, UnrankedMemRefType<float> *b,
    UnrankedMemRefType<float> *c, StridedMemRefType<int64_t, 1> *spec) {
  DynamicMemRefType<float> operands[3] = {DynamicMemRefType<float>(*a),
                                          DynamicMemRefType<float>(*b),
                                          DynamicMemRefType<float>(*c)};
  int64_t entries = spec->sizes[0];
  std::vector<ContractionLoop> loops(size_t(entries / 3));
  std::string error;
  if (entries % 3 != 0)
    error = "the loop description has a length that is not a multiple of 3";
  for (size_t l = 0; l < loops.size() && error.empty(); ++l) {
    bool sized = false;
    for (int o = 0; o < 3; ++o) {
      int64_t dim =
          spec->data[spec->offset + (int64_t(l) * 3 + o) * spec->strides[0]];
      if (dim < 0)
        continue;
      if (dim >= operands[o].rank) {
        error = "a loop names a dimension past an operand's rank";
        break;
      }
      if (sized && loops[l].size != operands[o].sizes[dim]) {
        error = "operands disagree on a loop's trip count";
        break;
      }
      loops[l].size = operands[o].sizes[dim];
      loops[l].stride[o] = operands[o].strides[dim];
      sized = true;
    }
  }
  if (error.empty())
    error = contract(operands[0].data + operands[0].offset,
                     operands[1].data + operands[1].offset,
                     operands[2].data + operands[2].offset, loops);
  if (!error.empty()) {
    // Only a compiler bug can get here: the pass checked the shapes.
    std::fprintf(stderr, "autopar runtime: autopar_gemm_f32: %s\n",
                 error.c_str());
    std::abort();
  }
}
