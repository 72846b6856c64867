//===- Finite.cu - whether f32 buffers hold only finite values ------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The test a dynamic loss scale makes after each fp16 step: whether every
// gradient is finite. A grid-stride loop over one f32 buffer sets a flag in
// device memory when it meets a NaN or an infinity (any thread may: every
// writer writes 1), so the driver reads back 4 bytes a step instead of the
// gradients. Compiled by nvcc into a fatbin that Finite.cpp embeds, and
// for the CPU against unittests/Runtime/CudaEmulation (FiniteKernelTest).
//
//===----------------------------------------------------------------------===//

/// Sets `*flag` to 1 when one of the `count` floats at `data` is a NaN or
/// an infinity; leaves it alone otherwise.
extern "C" __global__ void autopar_nonfinite_f32(const float *data,
                                                 unsigned long long count,
                                                 unsigned *flag) {
  const unsigned long long stride =
      static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i =
           static_cast<unsigned long long>(blockIdx.x) * blockDim.x +
           threadIdx.x;
       i < count; i += stride) {
    // False for a NaN, and for an infinity: beyond the largest float.
    if (!(fabsf(data[i]) <= 3.40282347e+38f)) {
      *flag = 1;
      return;
    }
  }
}
