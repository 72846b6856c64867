//===- FiniteSpan.h - the finiteness kernel's list of buffers ---*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// What Finite.cu's kernel reads for each buffer, and how the host lays the
// list out (shared by Finite.cpp, the kernel and FiniteKernelTest).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CUDA_FINITESPAN_H
#define AUTOPAR_RUNTIME_CUDA_FINITESPAN_H

#include <cstddef>
#include <utility>
#include <vector>

namespace autopar::cuda {

/// One buffer of `count` floats at `data`, whose chunks are the blocks from
/// `firstBlock` on.
struct FiniteSpan {
  const float *data;
  unsigned long long count;
  unsigned long long firstBlock;
};

/// The spans of the non-empty `buffers` for chunks of `chunk` elements, and
/// (in `blocks`) how many blocks they take in all.
inline std::vector<FiniteSpan>
finiteSpans(const std::vector<std::pair<const float *, size_t>> &buffers,
            unsigned long long chunk, unsigned long long &blocks) {
  std::vector<FiniteSpan> spans;
  blocks = 0;
  for (auto [data, count] : buffers) {
    if (!count)
      continue;
    spans.push_back({data, count, blocks});
    blocks += (count + chunk - 1) / chunk;
  }
  return spans;
}

} // namespace autopar::cuda

#endif // AUTOPAR_RUNTIME_CUDA_FINITESPAN_H
