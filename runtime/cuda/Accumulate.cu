//===- Accumulate.cu - sums and scalings of f32 gradients ------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Gradient accumulation on the GPU: each microbatch's gradients added into
// the first's, then their sum scaled by 1 / microbatches, in device memory
// (autopar::cuda::addInto, scaleBy; StepLibrary). The arithmetic is
// autopar-run's on the host (addInto, scaleBy: float sums, the product
// taken in double and rounded to float), so a run accumulating on the GPU
// and one on the host agree bit for bit. Grid-stride loops; compiled by
// nvcc into a fatbin that Accumulate.cpp embeds, and for the CPU against
// unittests/Runtime/CudaEmulation (AccumulateKernelTest).
//
//===----------------------------------------------------------------------===//

/// Calls `f(i)` for this thread's indices below `count` in a grid-stride
/// loop.
template <typename F>
__device__ inline void forEachIndex(unsigned long long count, F f) {
  const unsigned long long stride =
      static_cast<unsigned long long>(gridDim.x) * blockDim.x;
  for (unsigned long long i =
           static_cast<unsigned long long>(blockIdx.x) * blockDim.x +
           threadIdx.x;
       i < count; i += stride)
    f(i);
}

/// `acc[i] += x[i]` for the `count` floats.
extern "C" __global__ void autopar_add_f32(float *acc, const float *x,
                                           unsigned long long count) {
  forEachIndex(count, [&](unsigned long long i) { acc[i] += x[i]; });
}

/// `acc[i] = float(double(acc[i]) * factor)` for the `count` floats.
extern "C" __global__ void autopar_scale_f32(float *acc, double factor,
                                             unsigned long long count) {
  forEachIndex(count, [&](unsigned long long i) {
    acc[i] = static_cast<float>(static_cast<double>(acc[i]) * factor);
  });
}
