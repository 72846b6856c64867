//===- Finite.cu - whether f32 buffers hold only finite values ------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The test a training step's gradients get before the update (every step in
// autopar-run, which stops or skips on a NaN or an infinity; the dynamic
// loss scale's overflow test): whether every element of a list of f32
// buffers is finite, in one launch. Each buffer ("span") is cut into chunks
// of `chunk` elements, one block a chunk; a block finds its span by a binary
// search over the spans' first blocks and sets a flag in device memory when
// it meets a NaN or an infinity (any thread may: every writer writes 1), so
// the driver reads back 4 bytes a step instead of the gradients. Compiled
// by nvcc into a fatbin that Finite.cpp embeds, and for the CPU against
// unittests/Runtime/CudaEmulation (FiniteKernelTest).
//
//===----------------------------------------------------------------------===//

#include "FiniteSpan.h"

/// Sets `*flag` to 1 when one of the `count` spans' floats is a NaN or an
/// infinity; leaves it alone otherwise. Block b covers elements
/// [(b - firstBlock) chunk, + chunk) of the last span whose firstBlock is at
/// most b; the spans are in order of firstBlock, the first at 0.
extern "C" __global__ void
autopar_nonfinite_spans_f32(const autopar::cuda::FiniteSpan *spans,
                            unsigned count, unsigned long long chunk,
                            unsigned *flag) {
  const unsigned long long b = blockIdx.x;
  unsigned lo = 0, hi = count - 1;
  while (lo < hi) {
    unsigned mid = (lo + hi + 1) / 2;
    if (spans[mid].firstBlock <= b)
      lo = mid;
    else
      hi = mid - 1;
  }
  const float *data = spans[lo].data;
  const unsigned long long begin = (b - spans[lo].firstBlock) * chunk;
  unsigned long long end = begin + chunk;
  if (end > spans[lo].count)
    end = spans[lo].count;
  for (unsigned long long i = begin + threadIdx.x; i < end; i += blockDim.x) {
    // False for a NaN, and for an infinity: beyond the largest float.
    if (!(fabsf(data[i]) <= 3.40282347e+38f)) {
      *flag = 1;
      return;
    }
  }
}
