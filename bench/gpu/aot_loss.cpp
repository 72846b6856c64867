//===- aot_loss.cpp - a model's loss from an ahead-of-time compiled step --===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Runs `@loss` of a training artifact (autopar-compile --train), lowered
// and compiled ahead of time by bench/gpu/prepare.sh, on arguments stored
// as raw files, and compares the loss with the CPU backend's (autopar-run,
// computed there too). With --device the buffers are device memory and the
// library is the CUDA lowering; with --host they are host memory and the
// library the CPU lowering (which checks this driver without a GPU).
//
// usage: aot_loss --device|--host LIBRARY.so ARGS.txt EXPECTED_LOSS
// ARGS.txt: one line per argument of @loss, in order:
//   DTYPE RANK DIM... FILE        (DTYPE f32 or i64; FILE raw, row-major)
//
//===----------------------------------------------------------------------===//

#include "AotCommon.h"
#include "StepLibrary.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {
/// Calls `f`, a function of `n` pointer arguments (an MLIR C interface:
/// one descriptor pointer per memref), with `args`.
template <size_t... I>
void callWith(void *f, void **args, std::index_sequence<I...>) {
  using Fn = void (*)(decltype((void)I, (void *)nullptr)...);
  reinterpret_cast<Fn>(f)(args[I]...);
}
template <size_t... N>
bool call(void *f, std::vector<void *> &args, std::index_sequence<N...>) {
  bool done = false;
  ((args.size() == N
        ? (callWith(f, args.data(), std::make_index_sequence<N>()), done = true)
        : false),
   ...);
  return done;
}
} // namespace

int main(int argc, char **argv) {
  if (argc != 5 || (std::string(argv[1]) != "--device" &&
                    std::string(argv[1]) != "--host")) {
    std::fprintf(stderr, "usage: aot_loss --device|--host LIBRARY.so "
                         "ARGS.txt EXPECTED_LOSS\n");
    return 2;
  }
  bool device = std::string(argv[1]) == "--device";
  if (device && !aot::gpuPresent())
    return 0;
  void *loss = aot::function(argv[2], "loss");
  if (!loss)
    return 1;
  std::string dir(argv[3]);
  dir = dir.substr(0, dir.find_last_of('/') + 1);
  std::ifstream list(argv[3]);
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> buffers;
  void *stream = device ? mgpuStreamCreate() : nullptr;
  auto allocate = [&](size_t bytes) -> void * {
    return device ? mgpuMemAlloc(bytes, stream, false) : std::malloc(bytes);
  };
  std::string line;
  while (std::getline(list, line)) {
    std::istringstream in(line);
    std::string dtype, file;
    int64_t rank;
    in >> dtype >> rank;
    std::vector<int64_t> dims(rank);
    int64_t count = 1;
    for (int64_t &d : dims) {
      in >> d;
      count *= d;
    }
    in >> file;
    std::ifstream raw(dir + file, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(raw)),
                            std::istreambuf_iterator<char>());
    size_t expected = size_t(count) * (dtype == "i64" ? 8 : 4);
    if (!raw.good() && !raw.eof()) {
      std::fprintf(stderr, "FAIL: cannot read %s\n", file.c_str());
      return 1;
    }
    if (bytes.size() != expected) {
      std::fprintf(stderr, "FAIL: %s holds %zu bytes, expected %zu\n",
                   file.c_str(), bytes.size(), expected);
      return 1;
    }
    void *data = allocate(expected);
    if (device)
      autopar::cuda::copyToDevice(data, bytes.data(), expected);
    else
      std::memcpy(data, bytes.data(), expected);
    buffers.push_back(data);
    descriptors.push_back(autopar::rowMajorDescriptor(data, dims));
  }
  // The result, a rank-0 f32 out-parameter, comes last.
  void *out = allocate(4);
  buffers.push_back(out);
  descriptors.push_back(autopar::rowMajorDescriptor(out, {}));
  std::vector<void *> args;
  for (std::vector<int64_t> &d : descriptors)
    args.push_back(d.data());
  if (!call(loss, args, std::make_index_sequence<128>())) {
    std::fprintf(stderr, "FAIL: %zu arguments; this driver calls up to 127\n",
                 args.size());
    return 1;
  }
  float value = 0;
  if (device) {
    mgpuStreamSynchronize(stream);
    autopar::cuda::copyToHost(&value, out, 4);
  } else {
    std::memcpy(&value, out, 4);
  }
  double expected = std::atof(argv[4]);
  double relative = std::fabs(value - expected) / std::fabs(expected);
  bool ok = relative <= 1e-4;
  std::printf("%s: loss on the %s %.7f, CPU backend %.7f, relative "
              "difference %.2e (tolerance 1e-4), %zu arguments\n",
              ok ? "PASS" : "FAIL", device ? "GPU" : "host", value, expected,
              relative, args.size() - 1);
  for (void *b : buffers)
    device ? mgpuMemFree(b, stream) : std::free(b);
  if (device)
    mgpuStreamDestroy(stream);
  return ok ? 0 : 1;
}
