//===- StepLibrary.h - a training step compiled ahead of time ---*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Calls a training artifact's step compiled into a shared library
// (autopar-compile --train --target=cuda: train-cuda.so): @forward_backward
// and @optimizer_step through their packed wrappers
// (_mlir__mlir_ciface_NAME, added by autopar-packed-wrappers), with the
// parameters, gradients and optimizer state kept in the library's memory
// between steps, in two sets of parameters and state (a step reads one and
// writes the other; no copies). On the GPU only the batch goes in and the
// loss comes out of a step; the parameters and the state come back to the
// host when asked (a checkpoint, the export).
//
// autopar-run trains a --target=cuda artifact with it, and the device
// check's driver (bench/gpu/aot_train.cpp) trains with it on machines
// without LLVM, which is why it uses nothing of LLVM. A library lowered for
// the CPU (autopar-lower-to-cpu + autopar-packed-wrappers) runs the same
// way in host memory, which tests both without a GPU
// (test/Pipelines/aot-train.test).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CUDA_STEPLIBRARY_H
#define AUTOPAR_RUNTIME_CUDA_STEPLIBRARY_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace autopar {
namespace cuda {
class Communicator;
} // namespace cuda

/// A ranked memref descriptor for the row-major buffer `data` of shape
/// `dims`: allocated, aligned, offset, sizes, strides, as int64 words.
std::vector<int64_t> rowMajorDescriptor(void *data,
                                        const std::vector<int64_t> &dims);

class StepLibrary {
public:
  /// Where the library's buffers live: device memory for a step lowered
  /// for CUDA, host memory for one lowered for the CPU.
  enum class Memory { Host, Device };

  /// A tensor the functions take or return: row-major, of `shape`, with
  /// elements of `elementBytes` bytes (floating-point ones 4: f32, or 8:
  /// f64; the batch's integers any).
  struct Tensor {
    std::vector<int64_t> shape;
    size_t elementBytes = 4;

    size_t count() const;
    size_t bytes() const { return count() * elementBytes; }
  };

  /// @forward_backward(x, y, params..., [scale]) -> (loss, gradients of
  /// the trained parameters...); @optimizer_step(trained params...,
  /// gradients..., state..., lr, count) -> (params..., state...).
  struct Signature {
    std::string forwardBackward = "forward_backward",
                optimizerStep = "optimizer_step";
    Tensor x, y;
    std::vector<Tensor> params;
    /// Parameters not trained: no gradient or state; one buffer in both
    /// sets.
    std::vector<bool> frozen;
    /// The optimizer state, `slots` tensors for each trained parameter as
    /// @optimizer_step takes them.
    std::vector<Tensor> state;
    /// The gradients' element size (their shapes are the parameters').
    size_t gradientBytes = 4;
    /// The loss, the learning rate and the count: scalars of these sizes
    /// (4: f32, 8: f64).
    size_t lossBytes = 4, scalarBytes = 4;
    /// The loss scale's size, if @forward_backward takes one.
    std::optional<size_t> scaleBytes;
  };

  /// Loads `path` and allocates the buffers (the parameters and state
  /// uninitialized: setParameter, setState); null with `error` set when
  /// the library or a function is missing or the signature is malformed.
  static std::unique_ptr<StepLibrary> open(const std::string &path,
                                           Memory memory,
                                           const Signature &signature,
                                           std::string &error);
  ~StepLibrary();
  StepLibrary(const StepLibrary &) = delete;
  StepLibrary &operator=(const StepLibrary &) = delete;

  /// Copies parameter `i` (of the signature's) or state tensor `k` in
  /// from the host, or out to it.
  void setParameter(size_t i, const void *host);
  void setState(size_t k, const void *host);
  void readParameter(size_t i, void *host) const;
  void readState(size_t k, void *host) const;
  /// The gradient of the `k`-th trained parameter, to the host or from it
  /// (a data-parallel average made on the host).
  void readGradient(size_t k, void *host) const;
  void setGradient(size_t k, const void *host);

  /// @forward_backward on a batch (host arrays of the signature's x and y);
  /// keeps the gradients and returns the loss.
  double forwardBackward(const void *x, const void *y,
                         std::optional<double> scale);
  /// The index among the trained parameters of the first gradient that
  /// holds a NaN or an infinity, or none. On the GPU a kernel tests f32
  /// gradients (autopar::cuda::allFinite) and nothing is copied unless one
  /// fails.
  std::optional<size_t> firstNonFiniteGradient() const;
  /// Gradient accumulation over microbatches: keeps the gradients of the
  /// first (`first`; by swapping buffers, no copy) or adds them to those
  /// kept (on the GPU autopar::cuda::addInto, f32 gradients only), and
  /// then replaces the gradients by the kept sum times `factor` (1 / the
  /// microbatches). autopar-run's arithmetic on the host, bit for bit.
  void keepGradients(bool first);
  void takeKeptGradients(double factor);
  /// Replaces the gradients by their mean over `comm`'s processes (NCCL in
  /// device memory, queued on the legacy default stream and waited for
  /// within `timeoutSeconds`): data parallelism. Returns an empty string,
  /// or what went wrong (naming `what`).
  std::string averageGradients(cuda::Communicator &comm, double timeoutSeconds,
                               const std::string &what);
  /// @optimizer_step with the kept gradients; the updated parameters and
  /// state become the current ones.
  void optimizerStep(double lr, double count);

  size_t trainedCount() const { return gradients.size(); }

private:
  struct Buffer;
  explicit StepLibrary(Memory memory);
  Buffer &allocate(const Tensor &like);
  void toBuffer(Buffer &b, const void *host) const;
  void fromBuffer(void *host, const Buffer &b) const;
  void setScalar(Buffer &b, double value) const;

  using Packed = void (*)(void **);
  Memory memory;
  Packed forwardBackwardFn = nullptr, optimizerStepFn = nullptr;
  std::vector<std::unique_ptr<Buffer>> owned;
  std::vector<Buffer *> params[2], state[2], gradients, kept;
  std::vector<size_t> trained;
  Buffer *x = nullptr, *y = nullptr, *loss = nullptr, *scale = nullptr,
         *lr = nullptr, *count = nullptr;
  int current = 0;
};

} // namespace autopar

#endif // AUTOPAR_RUNTIME_CUDA_STEPLIBRARY_H
