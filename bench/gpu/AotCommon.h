//===- AotCommon.h - what the device check's drivers share ------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_BENCH_GPU_AOTCOMMON_H
#define AUTOPAR_BENCH_GPU_AOTCOMMON_H

#include "CudaRuntime.h"

#include <cstdio>
#include <dlfcn.h>
#include <string>

namespace aot {

/// Whether a GPU can be used; prints "SKIP: ..." with the reason when not.
inline bool gpuPresent() {
  std::string why;
  if (autopar::cuda::available(why))
    return true;
  std::printf("SKIP: no CUDA GPU: %s\n", why.c_str());
  return false;
}

/// The C interface `_mlir_ciface_NAME` of an ahead-of-time compiled
/// library (or the symbol `prefix`NAME: `_mlir__mlir_ciface_` for its packed
/// wrapper), or null after printing "FAIL: ..." with why.
inline void *function(const char *library, const std::string &name,
                      const std::string &prefix = "_mlir_ciface_") {
  void *handle = dlopen(library, RTLD_NOW);
  if (!handle) {
    std::fprintf(stderr, "FAIL: %s\n", dlerror());
    return nullptr;
  }
  std::string symbol = prefix + name;
  void *f = dlsym(handle, symbol.c_str());
  if (!f)
    std::fprintf(stderr, "FAIL: no %s in %s\n", symbol.c_str(), library);
  return f;
}

} // namespace aot

#endif // AUTOPAR_BENCH_GPU_AOTCOMMON_H
