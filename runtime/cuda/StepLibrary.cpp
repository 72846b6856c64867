//===- StepLibrary.cpp - a training step compiled ahead of time -----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "StepLibrary.h"

#include "Collectives.h"
#include "CudaRuntime.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <utility>

namespace autopar {

std::vector<int64_t> rowMajorDescriptor(void *data,
                                        const std::vector<int64_t> &dims) {
  auto address = int64_t(reinterpret_cast<intptr_t>(data));
  std::vector<int64_t> d = {address, address, 0};
  d.insert(d.end(), dims.begin(), dims.end());
  std::vector<int64_t> strides(dims.size(), 1);
  for (size_t i = dims.size(); i-- > 1;)
    strides[i - 1] = strides[i] * dims[i];
  d.insert(d.end(), strides.begin(), strides.end());
  return d;
}

size_t StepLibrary::Tensor::count() const {
  size_t n = 1;
  for (int64_t d : shape)
    n *= size_t(d);
  return n;
}

/// A buffer in the library's memory with its memref descriptor
/// (allocated, aligned, offset, sizes..., strides... as int64 words).
struct StepLibrary::Buffer {
  void *data = nullptr;
  Tensor like;
  std::vector<int64_t> descriptor;
  void *descriptorPointer = nullptr;
};

StepLibrary::StepLibrary(Memory memory) : memory(memory) {}

StepLibrary::~StepLibrary() {
  for (auto &b : owned)
    memory == Memory::Device ? mgpuMemFree(b->data, nullptr)
                             : std::free(b->data);
}

StepLibrary::Buffer &StepLibrary::allocate(const Tensor &like) {
  auto b = std::make_unique<Buffer>();
  b->like = like;
  // (A scalar or an empty tensor still gets an address of its own.)
  size_t bytes = like.bytes() ? like.bytes() : 1;
  b->data = memory == Memory::Device
                ? mgpuMemAlloc(bytes, nullptr, false)
                : std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  b->descriptor = rowMajorDescriptor(b->data, like.shape);
  b->descriptorPointer = b->descriptor.data();
  owned.push_back(std::move(b));
  return *owned.back();
}

void StepLibrary::toBuffer(Buffer &b, const void *host) const {
  if (memory == Memory::Device)
    cuda::copyToDevice(b.data, host, b.like.bytes());
  else
    std::memcpy(b.data, host, b.like.bytes());
}

void StepLibrary::fromBuffer(void *host, const Buffer &b) const {
  if (memory == Memory::Device)
    cuda::copyToHost(host, b.data, b.like.bytes());
  else
    std::memcpy(host, b.data, b.like.bytes());
}

void StepLibrary::setScalar(Buffer &b, double value) const {
  if (b.like.elementBytes == 8) {
    toBuffer(b, &value);
  } else {
    auto f = float(value);
    toBuffer(b, &f);
  }
}

std::unique_ptr<StepLibrary> StepLibrary::open(const std::string &path,
                                               Memory memory,
                                               const Signature &signature,
                                               std::string &error) {
  auto scalarSize = [](size_t bytes) { return bytes == 4 || bytes == 8; };
  if (!scalarSize(signature.lossBytes) || !scalarSize(signature.scalarBytes) ||
      !scalarSize(signature.gradientBytes) ||
      !scalarSize(signature.scaleBytes.value_or(4))) {
    error = "the step's loss, gradients and scalars must be float32 or "
            "float64";
    return nullptr;
  }
  if (signature.frozen.size() != signature.params.size()) {
    error = "the signature marks " + std::to_string(signature.frozen.size()) +
            " parameters frozen or not, not " +
            std::to_string(signature.params.size());
    return nullptr;
  }
  // The library stays loaded until the process ends: the CUDA lowering's
  // global destructors unload its kernels then.
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    error = std::string("cannot load the step library: ") + dlerror();
    return nullptr;
  }
  std::unique_ptr<StepLibrary> lib(new StepLibrary(memory));
  for (auto [name, fn] :
       {std::pair(&signature.forwardBackward, &lib->forwardBackwardFn),
        std::pair(&signature.optimizerStep, &lib->optimizerStepFn)}) {
    std::string symbol = "_mlir__mlir_ciface_" + *name;
    *fn = reinterpret_cast<Packed>(dlsym(handle, symbol.c_str()));
    if (!*fn) {
      error = path + " has no " + symbol + " (the packed wrapper of @" + *name +
              ": compiled by another version of autopar-compile?)";
      return nullptr;
    }
  }
  for (size_t i = 0; i < signature.params.size(); ++i) {
    const Tensor &p = signature.params[i];
    Buffer &first = lib->allocate(p);
    lib->params[0].push_back(&first);
    if (signature.frozen[i]) {
      lib->params[1].push_back(&first);
      continue;
    }
    lib->params[1].push_back(&lib->allocate(p));
    lib->trained.push_back(i);
    Tensor g = p;
    g.elementBytes = signature.gradientBytes;
    lib->gradients.push_back(&lib->allocate(g));
  }
  for (const Tensor &s : signature.state)
    for (auto &set : lib->state)
      set.push_back(&lib->allocate(s));
  auto scalar = [&](size_t bytes) {
    Tensor t;
    t.elementBytes = bytes;
    return &lib->allocate(t);
  };
  lib->x = &lib->allocate(signature.x);
  lib->y = &lib->allocate(signature.y);
  lib->loss = scalar(signature.lossBytes);
  if (signature.scaleBytes)
    lib->scale = scalar(*signature.scaleBytes);
  lib->lr = scalar(signature.scalarBytes);
  lib->count = scalar(signature.scalarBytes);
  return lib;
}

void StepLibrary::setParameter(size_t i, const void *host) {
  toBuffer(*params[current][i], host);
}
void StepLibrary::setState(size_t k, const void *host) {
  toBuffer(*state[current][k], host);
}
void StepLibrary::readParameter(size_t i, void *host) const {
  fromBuffer(host, *params[current][i]);
}
void StepLibrary::readState(size_t k, void *host) const {
  fromBuffer(host, *state[current][k]);
}
void StepLibrary::readGradient(size_t k, void *host) const {
  fromBuffer(host, *gradients[k]);
}
void StepLibrary::setGradient(size_t k, const void *host) {
  toBuffer(*gradients[k], host);
}

double StepLibrary::forwardBackward(const void *xs, const void *ys,
                                    std::optional<double> scaleValue) {
  toBuffer(*x, xs);
  toBuffer(*y, ys);
  std::vector<void *> args = {&x->descriptorPointer, &y->descriptorPointer};
  for (Buffer *p : params[current])
    args.push_back(&p->descriptorPointer);
  if (scale) {
    setScalar(*scale, scaleValue.value_or(1.0));
    args.push_back(&scale->descriptorPointer);
  }
  args.push_back(&loss->descriptorPointer);
  for (Buffer *g : gradients)
    args.push_back(&g->descriptorPointer);
  // (Every lowered function synchronizes its stream before it returns.)
  forwardBackwardFn(args.data());
  if (loss->like.elementBytes == 8) {
    double value = 0;
    fromBuffer(&value, *loss);
    return value;
  }
  float value = 0;
  fromBuffer(&value, *loss);
  return value;
}

std::optional<size_t> StepLibrary::firstNonFiniteGradient() const {
  if (memory == Memory::Device) {
    std::vector<std::pair<const float *, size_t>> f32;
    for (Buffer *g : gradients)
      if (g->like.elementBytes == 4)
        f32.push_back({static_cast<const float *>(g->data), g->like.count()});
    // Only where the kernel finds one (or cannot test them all) are the
    // gradients copied to the host, to name it.
    if (f32.size() == gradients.size() && cuda::allFinite(f32))
      return std::nullopt;
  }
  std::vector<char> host;
  for (size_t k = 0; k < gradients.size(); ++k) {
    const Tensor &t = gradients[k]->like;
    host.resize(t.bytes());
    fromBuffer(host.data(), *gradients[k]);
    for (size_t i = 0, n = t.count(); i < n; ++i) {
      double v = t.elementBytes == 8
                     ? reinterpret_cast<const double *>(host.data())[i]
                     : reinterpret_cast<const float *>(host.data())[i];
      if (!std::isfinite(v))
        return k;
    }
  }
  return std::nullopt;
}

void StepLibrary::keepGradients(bool first) {
  if (kept.empty())
    for (Buffer *g : gradients)
      kept.push_back(&allocate(g->like));
  if (first) {
    std::swap(gradients, kept);
    return;
  }
  for (size_t k = 0; k < gradients.size(); ++k) {
    Buffer &acc = *kept[k], &x = *gradients[k];
    size_t n = acc.like.count();
    if (memory == Memory::Device) {
      if (acc.like.elementBytes != 4)
        cuda::fail("StepLibrary::keepGradients: the GPU accumulates f32 "
                   "gradients only");
      cuda::addInto(static_cast<float *>(acc.data),
                    static_cast<const float *>(x.data), n);
    } else if (acc.like.elementBytes == 8) {
      for (size_t i = 0; i < n; ++i)
        static_cast<double *>(acc.data)[i] +=
            static_cast<const double *>(x.data)[i];
    } else {
      for (size_t i = 0; i < n; ++i)
        static_cast<float *>(acc.data)[i] +=
            static_cast<const float *>(x.data)[i];
    }
  }
}

void StepLibrary::takeKeptGradients(double factor) {
  for (Buffer *acc : kept) {
    size_t n = acc->like.count();
    if (memory == Memory::Device)
      cuda::scaleBy(static_cast<float *>(acc->data), factor, n);
    else if (acc->like.elementBytes == 8)
      for (size_t i = 0; i < n; ++i)
        static_cast<double *>(acc->data)[i] *= factor;
    else
      for (size_t i = 0; i < n; ++i)
        static_cast<float *>(acc->data)[i] *= factor;
  }
  std::swap(gradients, kept);
}

std::string StepLibrary::averageGradients(cuda::Communicator &comm,
                                          double timeoutSeconds,
                                          const std::string &what) {
  if (memory != Memory::Device)
    return "the gradients are in host memory: average them on the host";
  // One group: NCCL launches the gradients' means together.
  std::string e = comm.groupStart();
  for (size_t k = 0; e.empty() && k < gradients.size(); ++k)
    e = comm.allReduceMean(gradients[k]->data, gradients[k]->like.count(),
                           gradients[k]->like.elementBytes == 8 ? "f64" : "f32",
                           nullptr);
  if (std::string ended = comm.groupEnd(); e.empty())
    e = ended;
  if (!e.empty())
    return what + ": " + e;
  return comm.wait(nullptr, timeoutSeconds, what);
}

void StepLibrary::optimizerStep(double lrValue, double countValue) {
  setScalar(*lr, lrValue);
  setScalar(*count, countValue);
  std::vector<void *> args;
  for (size_t i : trained)
    args.push_back(&params[current][i]->descriptorPointer);
  for (Buffer *g : gradients)
    args.push_back(&g->descriptorPointer);
  for (Buffer *s : state[current])
    args.push_back(&s->descriptorPointer);
  args.push_back(&lr->descriptorPointer);
  args.push_back(&count->descriptorPointer);
  for (size_t i : trained)
    args.push_back(&params[1 - current][i]->descriptorPointer);
  for (Buffer *s : state[1 - current])
    args.push_back(&s->descriptorPointer);
  optimizerStepFn(args.data());
  current = 1 - current;
}

} // namespace autopar
