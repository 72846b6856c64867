//===- CudaEmulation.h - the CUDA the attention kernels use, on threads ---===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Runs runtime/cuda/Attention.cu on the CPU so that its indexing, masking,
// tiling and online softmax are tested where there is no GPU (CI): each
// block runs as 128 std::threads with real barriers for __syncthreads and
// __syncwarp, shuffles through a per-warp exchange, a block's dynamic
// shared memory as one buffer (blocks run one after another), and WMMA
// fragments as whole 16 x 16 float matrices that lane 0 of a warp loads,
// multiplies and stores (the other lanes skip them: a fragment is
// warp-collective, and the kernels put a __syncwarp between a store and
// the lanes that read it, as the hardware needs too). bf16 and f16 round
// to nearest even as the device's conversions do; products accumulate in
// float, in another order than the tensor cores. mma.sync (MmaSync.h) is
// emulated from its documented register layout: every lane of a warp
// publishes its operand registers and computes its own accumulators; the
// asynchronous copies are plain copies.
//
// The fake <cuda_bf16.h>, <cuda_fp16.h> and <mma.h> next to this file
// include it; the test puts this directory first on its include path.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_UNITTESTS_CUDAEMULATION_H
#define AUTOPAR_UNITTESTS_CUDAEMULATION_H

#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#define AUTOPAR_CUDA_EMULATION 1
#define __global__
#define __device__
#define __shared__
#define __launch_bounds__(...)
#define __align__(n)

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline thread_local Dim3 blockIdx, threadIdx, gridDim, blockDim;

struct uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  return {x, y, z, w};
}
inline int min(int a, int b) { return a < b ? a : b; }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __log2f(float x) { return std::log2(x); }

struct __nv_bfloat16 {
  uint16_t bits;
};
inline __nv_bfloat16 __float2bfloat16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u += 0x7fffu + ((u >> 16) & 1u); // round to nearest even (finite x)
  return {uint16_t(u >> 16)};
}
inline float __bfloat162float(__nv_bfloat16 x) {
  uint32_t u = uint32_t(x.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
struct __half {
  _Float16 value;
};
inline __half __float2half(float x) { return {static_cast<_Float16>(x)}; }
inline float __half2float(__half x) { return static_cast<float>(x.value); }

namespace cuda_emulation {
/// A reusable barrier for `count` threads.
class Barrier {
public:
  explicit Barrier(int count) : count(count) {}
  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    int generation = this->generation;
    if (++arrived == count) {
      arrived = 0;
      ++this->generation;
      done.notify_all();
      return;
    }
    done.wait(lock, [&] { return this->generation != generation; });
  }

private:
  std::mutex mutex;
  std::condition_variable done;
  int count, arrived = 0, generation = 0;
};

/// The running block's barriers and shuffle slots.
struct Block {
  explicit Block(int threads) : all(threads) {
    for (int w = 0; w < threads / 32; ++w)
      warps.emplace_back(new Barrier(32));
    slots.resize(threads);
    words.resize(threads * 6);
    rows.resize(threads);
  }
  Barrier all;
  std::vector<std::unique_ptr<Barrier>> warps;
  std::vector<float> slots;
  std::vector<unsigned> words;    // mma16816's operands, 6 registers a lane
  std::vector<const void *> rows; // loadMatrices's row addresses
};
inline Block *block = nullptr;
inline std::mutex atomics;

inline unsigned lane() { return threadIdx.x % 32; }
inline Barrier &warpBarrier() { return *block->warps[threadIdx.x / 32]; }

/// Runs `kernel(args...)` over `grid` blocks of `threads` threads, one
/// block at a time.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), Dim3 grid, int threads, Args... args) {
  for (unsigned by = 0; by < grid.y; ++by)
    for (unsigned bx = 0; bx < grid.x; ++bx) {
      Block b(threads);
      block = &b;
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          blockIdx = {bx, by, 0};
          threadIdx = {unsigned(t), 0, 0};
          gridDim = grid;
          blockDim = {unsigned(threads), 1, 1};
          kernel(Params(args)...);
        });
      for (std::thread &thread : pool)
        thread.join();
      block = nullptr;
    }
}
} // namespace cuda_emulation

inline void __syncthreads() { cuda_emulation::block->all.wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) {
  cuda_emulation::warpBarrier().wait();
}
inline float __shfl_xor_sync(unsigned, float value, int laneMask) {
  float *slots = cuda_emulation::block->slots.data() + threadIdx.x / 32 * 32;
  unsigned lane = cuda_emulation::lane();
  slots[lane] = value;
  __syncwarp();
  float other = slots[lane ^ unsigned(laneMask)];
  __syncwarp();
  return other;
}

namespace cuda_emulation {
/// The float value of a bf16 or f16 element's bits.
template <typename T> float widenBits(unsigned bits) {
  uint16_t half = uint16_t(bits);
  if constexpr (std::is_same<T, __nv_bfloat16>::value) {
    return __bfloat162float(__nv_bfloat16{half});
  } else {
    __half h;
    std::memcpy(&h, &half, 2);
    return __half2float(h);
  }
}

/// mma.sync.m16n8k16 (runtime/cuda/MmaSync.h) for one warp: each lane
/// publishes its A and B registers, then computes its own four elements
/// of D from the whole matrices, read through the PTX fragment layout.
template <typename T>
void mma16816(float *d, const unsigned *a, const unsigned *b) {
  unsigned *words = block->words.data() + threadIdx.x / 32 * 32 * 6;
  unsigned l = lane();
  for (int r = 0; r < 4; ++r)
    words[l * 6 + r] = a[r];
  words[l * 6 + 4] = b[0];
  words[l * 6 + 5] = b[1];
  __syncwarp();
  auto element = [&](int owner, int reg, int k) {
    return widenBits<T>(words[owner * 6 + reg] >> (16 * (k % 2)));
  };
  int group = int(l / 4), thread = int(l % 4);
  for (int i = 0; i < 4; ++i) {
    int row = group + 8 * (i / 2), col = 2 * thread + i % 2;
    float sum = d[i];
    for (int k = 0; k < 16; ++k) {
      float x = element((row % 8) * 4 + (k % 8) / 2, row / 8 + 2 * (k / 8), k);
      float y = element(col * 4 + (k % 8) / 2, 4 + k / 8, k);
      sum += x * y;
    }
    d[i] = sum;
  }
  __syncwarp();
}
/// ldmatrix.x4 (MmaSync.h): each lane publishes its row's address, then
/// reads its four registers from the rows of the lanes that hold them.
template <bool TRANS> void loadMatrices(unsigned *r, const void *row) {
  const void **rows = block->rows.data() + threadIdx.x / 32 * 32;
  unsigned l = lane();
  rows[l] = row;
  __syncwarp();
  auto at = [&](int matrix, int i, int j) {
    uint16_t x;
    std::memcpy(&x, static_cast<const char *>(rows[matrix * 8 + i]) + 2 * j, 2);
    return unsigned(x);
  };
  int g = int(l / 4), t = int(l % 4);
  for (int m = 0; m < 4; ++m)
    r[m] = TRANS ? at(m, 2 * t, g) | at(m, 2 * t + 1, g) << 16
                 : at(m, g, 2 * t) | at(m, g, 2 * t + 1) << 16;
  __syncwarp();
}
/// cp.async as a plain copy: the data is there when the kernel waits.
inline void copyAsync16(void *shared, const void *global) {
  std::memcpy(shared, global, 16);
}
inline void copyAsync4(void *shared, const void *global) {
  std::memcpy(shared, global, 4);
}
inline void commitAsync() {}
template <int N> void waitAsync() {}
inline float exp2Fast(float x) { return std::exp2(x); }
} // namespace cuda_emulation

inline float atomicAdd(float *address, float value) {
  std::lock_guard<std::mutex> lock(cuda_emulation::atomics);
  float old = *address;
  *address = old + value;
  return old;
}

namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  static_assert(M == 16 && N == 16 && K == 16, "16 x 16 x 16 only");
  float v[16][16];
};

inline float widen(__nv_bfloat16 x) { return __bfloat162float(x); }
inline float widen(__half x) { return __half2float(x); }

template <typename Use, typename T, typename Layout>
void fill_fragment(fragment<Use, 16, 16, 16, T, Layout> &f, float x) {
  for (auto &row : f.v)
    for (float &e : row)
      e = x;
}
template <typename Use, typename T, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout> &f, const T *p,
                      unsigned ld) {
  if (cuda_emulation::lane() != 0)
    return;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      f.v[r][c] = widen(std::is_same<Layout, row_major>::value ? p[r * ld + c]
                                                               : p[c * ld + r]);
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f,
                             const float *p, unsigned ld, layout_t layout) {
  if (cuda_emulation::lane() != 0)
    return;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      f.v[r][c] = layout == mem_row_major ? p[r * ld + c] : p[c * ld + r];
}
template <typename TA, typename LA, typename TB, typename LB>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d,
              const fragment<matrix_a, 16, 16, 16, TA, LA> &a,
              const fragment<matrix_b, 16, 16, 16, TB, LB> &b,
              const fragment<accumulator, 16, 16, 16, float> &c) {
  if (cuda_emulation::lane() != 0)
    return;
  float out[16][16];
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 16; ++n) {
      float sum = c.v[r][n];
      for (int k = 0; k < 16; ++k)
        sum += a.v[r][k] * b.v[k][n];
      out[r][n] = sum;
    }
  std::memcpy(d.v, out, sizeof(out));
}
inline void store_matrix_sync(float *p,
                              const fragment<accumulator, 16, 16, 16, float> &f,
                              unsigned ld, layout_t layout) {
  if (cuda_emulation::lane() != 0)
    return;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c)
      (layout == mem_row_major ? p[r * ld + c] : p[c * ld + r]) = f.v[r][c];
}
} // namespace nvcuda::wmma

#endif // AUTOPAR_UNITTESTS_CUDAEMULATION_H
