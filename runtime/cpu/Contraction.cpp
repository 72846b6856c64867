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
/// Copies the elements an operand's loops `order` address between `strided`
/// (its own strides) and `packed` (row-major in that order).
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

namespace {
/// oneDNN's sgemm, packing into host buffers.
struct CPUBackend {
  std::vector<std::unique_ptr<float[]>> buffers;
  void gemm(bool transA, bool transB, int64_t m, int64_t n, int64_t k,
            const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
            int64_t ldc) {
    sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
  }
  const float *pack(int operand, const float *base,
                    const std::vector<const ContractionLoop *> &order) {
    int64_t total = 1;
    for (const ContractionLoop *l : order)
      total *= l->size;
    buffers.emplace_back(new float[size_t(total)]);
    copyPacked<true>(const_cast<float *>(base), buffers.back().get(), operand,
                     order);
    return buffers.back().get();
  }
  void unpack(float *c, const float *packed,
              const std::vector<const ContractionLoop *> &order) {
    copyPacked<false>(c, const_cast<float *>(packed), 2, order);
  }
};
} // namespace

std::string autopar::cpu::contract(const float *a, const float *b, float *c,
                                   const std::vector<ContractionLoop> &loops) {
  CPUBackend backend;
  return autopar::runtime::contractWith(backend, a, b, c, loops);
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
  std::vector<ContractionLoop> loops;
  std::string error = autopar::runtime::describeLoops(operands, *spec, loops);
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
