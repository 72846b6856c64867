//===- CudaRuntime.cpp - the mgpu* entry points on the CUDA driver --------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The driver API is reached through dlopen/dlsym, so nothing here needs
// CUDA's headers or libraries to build and the library loads everywhere.
// The few driver types and constants used are declared below with the
// values of cuda.h (CudaRuntime.h's abi namespace; unittests/Runtime/
// CudaRuntimeTest.cpp checks them against cuda.h where it is installed).
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace {
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;
using CUjit_option = int;

using namespace autopar::cuda::abi;

/// The driver entry points, by their exported (versioned) names.
struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuGetErrorString)(CUresult, const char **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamQuery)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  // Profiling only (optional).
  CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemAllocManaged)(CUdeviceptr *, size_t, unsigned);
  CUresult (*cuMemFree)(CUdeviceptr);
  // Stream-ordered allocation (CUDA 11.2 and later; optional).
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream);
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream);
  CUresult (*cuDeviceGetDefaultMemPool)(void **, CUdevice);
  CUresult (*cuMemPoolSetAttribute)(void *, int, void *);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuMemcpy2DAsync)(const CUDA_MEMCPY2D *, CUstream);
  CUresult (*cuMemsetD2D8Async)(CUdeviceptr, size_t, unsigned char, size_t,
                                size_t, CUstream);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleLoadDataEx)(CUmodule *, const void *, unsigned,
                                 CUjit_option *, void **);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  // Kernels with more than 48 KiB of dynamic shared memory (optional).
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
  CUresult (*cuDeviceGetName)(char *, int, CUdevice); // (optional)
};

struct State {
  Driver driver{};
  bool ready = false;
  std::string why; ///< why not ready
  CUcontext context = nullptr;
  /// Buffers come from the device's memory pool in stream order (freed
  /// without a synchronization, kept by the pool for the next step).
  bool streamOrdered = false;
  /// AUTOPAR_CUDA_PROFILE=1 or sync (and the driver can time events).
  bool profile = false;
  /// AUTOPAR_CUDA_PROFILE=sync: every span starts on an idle device, so
  /// that it times its own work alone (nothing queued before it, nothing
  /// running beside it); slower, for finding where time goes.
  bool profileSync = false;
  /// mgpuStreamDestroy keeps the stream for the next mgpuStreamCreate
  /// (unset by AUTOPAR_CUDA_STREAM_POOL=0).
  bool streamPool = true;
  CUdevice device = 0;
};

/// The streams mgpuStreamDestroy gave back. gpu-async-region makes and
/// destroys a stream around every stretch of kernels between host calls
/// (about 150 of each in a gpt2-small step), each a driver call that
/// allocates; reused, a stream may still hold work when it is handed out
/// again, which only orders the new work after it (every such stream is a
/// blocking stream, ordered with the legacy default stream anyway).
struct StreamPool {
  std::mutex mutex;
  std::vector<CUstream> free;
};
StreamPool &streamPool() {
  static StreamPool *p = new StreamPool; // never destroyed: used at exit
  return *p;
}

/// What the profiler knows: module ordinals, kernels' names, spans not yet
/// read back and the totals.
struct Profile {
  struct Span {
    std::string label;
    CUevent start, end;
  };
  struct Total {
    int64_t launches = 0;
    double ms = 0;
  };
  std::mutex mutex;
  std::map<void *, int> moduleOrdinal;
  std::map<void *, std::string> functionName;
  std::vector<Span> pending;
  std::map<std::string, Total> totals;
};
Profile &profile() {
  static Profile *p = new Profile; // never destroyed: used at exit
  return *p;
}

template <typename F> bool resolve(void *library, const char *name, F &out) {
  out = reinterpret_cast<F>(dlsym(library, name));
  return out != nullptr;
}

/// Opens the driver and the device once.
State &state() {
  static State s;
  static std::once_flag once;
  std::call_once(once, [] {
    void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
      s.why = "the CUDA driver (libcuda.so.1) is not installed: ";
      s.why += dlerror();
      return;
    }
    Driver &d = s.driver;
    const char *missing = nullptr;
#define AUTOPAR_RESOLVE(field, name)                                           \
  if (!missing && !resolve(library, name, d.field))                            \
    missing = name;
    AUTOPAR_RESOLVE(cuInit, "cuInit")
    AUTOPAR_RESOLVE(cuDeviceGetCount, "cuDeviceGetCount")
    AUTOPAR_RESOLVE(cuDeviceGet, "cuDeviceGet")
    AUTOPAR_RESOLVE(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
    AUTOPAR_RESOLVE(cuCtxSetCurrent, "cuCtxSetCurrent")
    AUTOPAR_RESOLVE(cuGetErrorString, "cuGetErrorString")
    AUTOPAR_RESOLVE(cuStreamCreate, "cuStreamCreate")
    AUTOPAR_RESOLVE(cuStreamDestroy, "cuStreamDestroy_v2")
    AUTOPAR_RESOLVE(cuStreamSynchronize, "cuStreamSynchronize")
    AUTOPAR_RESOLVE(cuStreamQuery, "cuStreamQuery")
    AUTOPAR_RESOLVE(cuStreamWaitEvent, "cuStreamWaitEvent")
    AUTOPAR_RESOLVE(cuEventCreate, "cuEventCreate")
    AUTOPAR_RESOLVE(cuEventDestroy, "cuEventDestroy_v2")
    AUTOPAR_RESOLVE(cuEventSynchronize, "cuEventSynchronize")
    AUTOPAR_RESOLVE(cuEventRecord, "cuEventRecord")
    AUTOPAR_RESOLVE(cuMemAlloc, "cuMemAlloc_v2")
    AUTOPAR_RESOLVE(cuMemAllocManaged, "cuMemAllocManaged")
    AUTOPAR_RESOLVE(cuMemFree, "cuMemFree_v2")
    AUTOPAR_RESOLVE(cuMemcpyAsync, "cuMemcpyAsync")
    AUTOPAR_RESOLVE(cuMemcpyHtoD, "cuMemcpyHtoD_v2")
    AUTOPAR_RESOLVE(cuMemcpyDtoH, "cuMemcpyDtoH_v2")
    AUTOPAR_RESOLVE(cuMemsetD32Async, "cuMemsetD32Async")
    AUTOPAR_RESOLVE(cuMemsetD16Async, "cuMemsetD16Async")
    AUTOPAR_RESOLVE(cuMemcpy2DAsync, "cuMemcpy2DAsync_v2")
    AUTOPAR_RESOLVE(cuMemsetD2D8Async, "cuMemsetD2D8Async")
    AUTOPAR_RESOLVE(cuModuleLoadData, "cuModuleLoadData")
    AUTOPAR_RESOLVE(cuModuleLoadDataEx, "cuModuleLoadDataEx")
    AUTOPAR_RESOLVE(cuModuleUnload, "cuModuleUnload")
    AUTOPAR_RESOLVE(cuModuleGetFunction, "cuModuleGetFunction")
    AUTOPAR_RESOLVE(cuLaunchKernel, "cuLaunchKernel")
#undef AUTOPAR_RESOLVE
    if (missing) {
      s.why = std::string("the CUDA driver lacks ") + missing;
      return;
    }
    auto message = [&](CUresult r) {
      const char *text = nullptr;
      d.cuGetErrorString(r, &text);
      return std::string(text ? text : "unknown error") + " (" +
             std::to_string(r) + ")";
    };
    if (CUresult r = d.cuInit(0); r != CUDA_SUCCESS) {
      s.why = "cuInit failed: " + message(r);
      return;
    }
    int count = 0;
    if (CUresult r = d.cuDeviceGetCount(&count); r != CUDA_SUCCESS) {
      s.why = "cuDeviceGetCount failed: " + message(r);
      return;
    }
    int ordinal = 0;
    if (const char *env = std::getenv("AUTOPAR_CUDA_DEVICE"))
      ordinal = std::atoi(env);
    if (count == 0 || ordinal < 0 || ordinal >= count) {
      s.why = count == 0
                  ? "no CUDA device is present"
                  : "AUTOPAR_CUDA_DEVICE=" + std::to_string(ordinal) +
                        " but there are " + std::to_string(count) + " devices";
      return;
    }
    CUdevice device;
    if (CUresult r = d.cuDeviceGet(&device, ordinal); r != CUDA_SUCCESS) {
      s.why = "cuDeviceGet failed: " + message(r);
      return;
    }
    if (CUresult r = d.cuDevicePrimaryCtxRetain(&s.context, device);
        r != CUDA_SUCCESS) {
      s.why = "cuDevicePrimaryCtxRetain failed: " + message(r);
      return;
    }
    s.ready = true;
    s.device = device;
    resolve(library, "cuFuncSetAttribute", d.cuFuncSetAttribute);
    resolve(library, "cuDeviceGetAttribute", d.cuDeviceGetAttribute);
    resolve(library, "cuDeviceGetName", d.cuDeviceGetName);
    if (const char *p = std::getenv("AUTOPAR_CUDA_PROFILE");
        p && (std::string(p) == "1" || std::string(p) == "sync")) {
      s.profile = resolve(library, "cuEventElapsedTime", d.cuEventElapsedTime);
      s.profileSync = s.profile && std::string(p) == "sync" &&
                      resolve(library, "cuCtxSynchronize", d.cuCtxSynchronize);
    }
    if (const char *p = std::getenv("AUTOPAR_CUDA_STREAM_POOL"))
      s.streamPool = std::string(p) != "0";
    // The pool keeps what is freed (release threshold: all of it), so a
    // step's buffers are reused by the next without going to the driver.
    void *pool = nullptr;
    uint64_t keepAll = UINT64_MAX;
    s.streamOrdered =
        resolve(library, "cuMemAllocAsync", d.cuMemAllocAsync) &&
        resolve(library, "cuMemFreeAsync", d.cuMemFreeAsync) &&
        resolve(library, "cuDeviceGetDefaultMemPool",
                d.cuDeviceGetDefaultMemPool) &&
        resolve(library, "cuMemPoolSetAttribute", d.cuMemPoolSetAttribute) &&
        !std::getenv("AUTOPAR_CUDA_SYNC_ALLOC") &&
        d.cuCtxSetCurrent(s.context) == CUDA_SUCCESS &&
        d.cuDeviceGetDefaultMemPool(&pool, device) == CUDA_SUCCESS &&
        d.cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD,
                                &keepAll) == CUDA_SUCCESS;
  });
  return s;
}

[[noreturn]] void die(const std::string &message) {
  autopar::cuda::fail(message);
}

/// The driver, with the context current on this thread; ends the process
/// saying why when there is none.
const Driver &driver(const char *caller) {
  State &s = state();
  if (!s.ready)
    die(std::string(caller) + ": no CUDA device: " + s.why);
  thread_local bool current = false;
  if (!current) {
    if (s.driver.cuCtxSetCurrent(s.context) != CUDA_SUCCESS)
      die(std::string(caller) + ": cuCtxSetCurrent failed");
    current = true;
  }
  return s.driver;
}

void check(CUresult result, const char *call, const char *caller) {
  if (result == CUDA_SUCCESS)
    return;
  const char *text = nullptr;
  state().driver.cuGetErrorString(result, &text);
  die(std::string(caller) + ": " + call + " failed: " +
      (text ? text : "unknown error") + " (" + std::to_string(result) + ")");
}

#define AUTOPAR_CU(call) check(d.call, #call, __func__)

CUdeviceptr devicePointer(const void *p) {
  return reinterpret_cast<CUdeviceptr>(p);
}

/// With stream-ordered allocation, the managed buffers allocated and not
/// yet freed: `add` records `pointer`, else it is looked up and forgotten
/// (whether it was one).
bool managedBuffers(void *pointer, bool add) {
  static std::mutex mutex;
  static std::set<void *> *live = new std::set<void *>;
  std::lock_guard<std::mutex> lock(mutex);
  if (add)
    return live->insert(pointer).second;
  return live->erase(pointer) != 0;
}

/// Numbers modules in the order they load (the profiler's ordinals).
void noteModule(CUmodule module) {
  if (!state().profile)
    return;
  Profile &p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  int ordinal = int(p.moduleOrdinal.size());
  p.moduleOrdinal[module] = ordinal;
}

/// Adds the finished spans' times to the totals (with the lock held).
void collectSpans(Profile &p, const Driver &d) {
  for (Profile::Span &span : p.pending) {
    d.cuEventSynchronize(span.end);
    float ms = 0;
    if (d.cuEventElapsedTime(&ms, span.start, span.end) == CUDA_SUCCESS) {
      Profile::Total &t = p.totals[span.label];
      ++t.launches;
      t.ms += ms;
    }
    d.cuEventDestroy(span.start);
    d.cuEventDestroy(span.end);
  }
  p.pending.clear();
}
} // namespace

bool autopar::cuda::profiling() { return state().profile; }

void *autopar::cuda::profileBegin(void *stream) {
  if (!state().profile)
    return nullptr;
  const Driver &d = driver(__func__);
  if (state().profileSync)
    AUTOPAR_CU(cuCtxSynchronize());
  CUevent start = nullptr;
  AUTOPAR_CU(cuEventCreate(&start, 0));
  AUTOPAR_CU(cuEventRecord(start, stream));
  return start;
}

void autopar::cuda::profileEnd(void *token, void *stream,
                               const std::string &label) {
  if (!token)
    return;
  const Driver &d = driver(__func__);
  CUevent end = nullptr;
  AUTOPAR_CU(cuEventCreate(&end, 0));
  AUTOPAR_CU(cuEventRecord(end, stream));
  Profile &p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.pending.push_back({label, static_cast<CUevent>(token), end});
  // Bounded: read back every few thousand spans.
  if (p.pending.size() >= 4096)
    collectSpans(p, d);
}

void autopar::cuda::profileReport(void *out, int top) {
  if (!state().profile)
    return;
  const Driver &d = driver(__func__);
  Profile &p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  collectSpans(p, d);
  std::vector<std::pair<std::string, Profile::Total>> rows(p.totals.begin(),
                                                           p.totals.end());
  std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) {
    return a.second.ms > b.second.ms;
  });
  double total = 0;
  int64_t launches = 0;
  for (const auto &r : rows) {
    total += r.second.ms;
    launches += r.second.launches;
  }
  auto *f = static_cast<FILE *>(out);
  std::fprintf(f,
               "GPU time by kernel (AUTOPAR_CUDA_PROFILE=1): %.1f ms in %lld "
               "launches of %zu kinds; #N is the N-th gpu.binary of the "
               "lowered module\n",
               total, (long long)launches, rows.size());
  for (int i = 0; i < top && i < int(rows.size()); ++i)
    std::fprintf(f, "  %8.2f ms %5.1f%% %7lld x  %s\n", rows[i].second.ms,
                 total > 0 ? 100 * rows[i].second.ms / total : 0.0,
                 (long long)rows[i].second.launches, rows[i].first.c_str());
}

void autopar::cuda::profileReset() {
  if (!state().profile)
    return;
  const Driver &d = driver(__func__);
  Profile &p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  collectSpans(p, d);
  p.totals.clear();
}

void autopar::cuda::fail(const std::string &message) {
  std::fprintf(stderr, "autopar CUDA runtime: %s\n", message.c_str());
  std::fflush(stderr);
  std::exit(1);
}

void autopar::cuda::requireDevice(const char *caller) { driver(caller); }

int autopar::cuda::sharedMemoryLimit() {
  const Driver &d = driver(__func__);
  constexpr int kOptin =
      97; // CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN
  int bytes = 48 * 1024;
  if (d.cuDeviceGetAttribute)
    AUTOPAR_CU(cuDeviceGetAttribute(&bytes, kOptin, state().device));
  return bytes;
}

int autopar::cuda::computeCapability() {
  const Driver &d = driver(__func__);
  int major = 0, minor = 0;
  if (d.cuDeviceGetAttribute) {
    AUTOPAR_CU(cuDeviceGetAttribute(
        &major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, state().device));
    AUTOPAR_CU(cuDeviceGetAttribute(
        &minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, state().device));
  }
  return major * 10 + minor;
}

std::string autopar::cuda::deviceName() {
  const Driver &d = driver(__func__);
  char name[256] = {};
  if (!d.cuDeviceGetName || d.cuDeviceGetName(name, int(sizeof(name)) - 1,
                                              state().device) != CUDA_SUCCESS)
    return "an unnamed CUDA device";
  return name;
}

std::string autopar::cuda::archMismatch(const std::string &gpuArch,
                                        const std::string &format,
                                        int capability) {
  // sm_XY, sm_XYZ: the digits after "sm_" (a suffix such as "a" ignored).
  int arch = 0;
  size_t i = 3;
  if (gpuArch.rfind("sm_", 0) != 0)
    return "the library's architecture '" + gpuArch + "' is not sm_XY";
  for (; i < gpuArch.size() && std::isdigit((unsigned char)gpuArch[i]); ++i)
    arch = arch * 10 + (gpuArch[i] - '0');
  if (i == 3)
    return "the library's architecture '" + gpuArch + "' is not sm_XY";
  auto version = [](int c) {
    return std::to_string(c / 10) + "." + std::to_string(c % 10);
  };
  bool cubin = format == "cubin";
  if (cubin ? capability / 10 == arch / 10 && capability >= arch
            : capability >= arch)
    return "";
  std::string sm = "sm_" + std::to_string(capability);
  return "it was compiled for " + gpuArch + " (" + format + ": for GPUs of " +
         "compute capability " +
         (cubin ? std::to_string(arch / 10) + ".x from " + version(arch)
                : version(arch) + " and newer") +
         ") and this GPU is " + sm + " (" + version(capability) +
         "): compile it again with --gpu-arch=" + sm;
}

void autopar::cuda::allowSharedMemory(void *function, int bytes) {
  const Driver &d = driver(__func__);
  constexpr int kMaxDynamic =
      8; // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
  if (!d.cuFuncSetAttribute)
    die("allowSharedMemory: the CUDA driver lacks cuFuncSetAttribute");
  AUTOPAR_CU(cuFuncSetAttribute(static_cast<CUfunction>(function), kMaxDynamic,
                                bytes));
}

bool autopar::cuda::available(std::string &why) {
  State &s = state();
  why = s.why;
  return s.ready;
}

void autopar::cuda::copyToDevice(void *device, const void *host, size_t bytes) {
  const Driver &d = driver(__func__);
  if (bytes)
    AUTOPAR_CU(cuMemcpyHtoD(devicePointer(device), host, bytes));
}

void autopar::cuda::copy2D(void *destination, size_t destinationPitch,
                           const void *source, size_t sourcePitch,
                           size_t widthBytes, size_t rows) {
  const Driver &d = driver(__func__);
  if (!widthBytes || !rows)
    return;
  CUDA_MEMCPY2D copy = {};
  copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.srcDevice = devicePointer(source);
  copy.srcPitch = sourcePitch;
  copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.dstDevice = devicePointer(destination);
  copy.dstPitch = destinationPitch;
  copy.WidthInBytes = widthBytes;
  copy.Height = rows;
  AUTOPAR_CU(cuMemcpy2DAsync(&copy, nullptr));
}

void autopar::cuda::zero2D(void *destination, size_t pitch, size_t widthBytes,
                           size_t rows) {
  const Driver &d = driver(__func__);
  if (widthBytes && rows)
    AUTOPAR_CU(cuMemsetD2D8Async(devicePointer(destination), pitch, 0,
                                 widthBytes, rows, nullptr));
}

bool autopar::cuda::streamDone(void *stream) {
  const Driver &d = driver("streamDone");
  CUresult result = d.cuStreamQuery(static_cast<CUstream>(stream));
  if (result == CUDA_ERROR_NOT_READY)
    return false;
  check(result, "cuStreamQuery", "streamDone");
  return true;
}

void autopar::cuda::copyToHost(void *host, const void *device, size_t bytes) {
  const Driver &d = driver(__func__);
  if (bytes)
    AUTOPAR_CU(cuMemcpyDtoH(host, devicePointer(device), bytes));
}

extern "C" {

void *mgpuStreamCreate() {
  const Driver &d = driver(__func__);
  if (state().streamPool) {
    StreamPool &pool = streamPool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    if (!pool.free.empty()) {
      CUstream stream = pool.free.back();
      pool.free.pop_back();
      return stream;
    }
  }
  CUstream stream = nullptr;
  // A blocking stream: work on the legacy default stream (the cuBLAS calls)
  // waits for it and it for that work.
  AUTOPAR_CU(cuStreamCreate(&stream, 0));
  return stream;
}

void mgpuStreamDestroy(void *stream) {
  const Driver &d = driver(__func__);
  if (state().streamPool) {
    StreamPool &pool = streamPool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.free.push_back(static_cast<CUstream>(stream));
    return;
  }
  AUTOPAR_CU(cuStreamDestroy(stream));
}

void mgpuStreamSynchronize(void *stream) {
  const Driver &d = driver(__func__);
  AUTOPAR_CU(cuStreamSynchronize(stream));
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  const Driver &d = driver(__func__);
  AUTOPAR_CU(cuStreamWaitEvent(stream, event, 0));
}

void *mgpuEventCreate() {
  const Driver &d = driver(__func__);
  CUevent event = nullptr;
  AUTOPAR_CU(cuEventCreate(&event, CU_EVENT_DISABLE_TIMING));
  return event;
}

void mgpuEventDestroy(void *event) {
  const Driver &d = driver(__func__);
  AUTOPAR_CU(cuEventDestroy(event));
}

void mgpuEventSynchronize(void *event) {
  const Driver &d = driver(__func__);
  AUTOPAR_CU(cuEventSynchronize(event));
}

void mgpuEventRecord(void *event, void *stream) {
  const Driver &d = driver(__func__);
  AUTOPAR_CU(cuEventRecord(event, stream));
}

void *mgpuMemAlloc(uint64_t bytes, void *stream, bool hostShared) {
  const Driver &d = driver(__func__);
  if (bytes == 0)
    return nullptr;
  CUdeviceptr p = 0;
  if (hostShared) {
    AUTOPAR_CU(cuMemAllocManaged(&p, bytes, CU_MEM_ATTACH_GLOBAL));
    if (state().streamOrdered)
      managedBuffers(reinterpret_cast<void *>(p), true);
  } else if (state().streamOrdered)
    AUTOPAR_CU(cuMemAllocAsync(&p, bytes, stream));
  else
    AUTOPAR_CU(cuMemAlloc(&p, bytes));
  return reinterpret_cast<void *>(p);
}

void mgpuMemFree(void *pointer, void *stream) {
  const Driver &d = driver(__func__);
  if (!pointer)
    return;
  // Managed buffers are not the pool's: they go back with cuMemFree.
  if (state().streamOrdered && !managedBuffers(pointer, false)) {
    AUTOPAR_CU(cuMemFreeAsync(devicePointer(pointer), stream));
    return;
  }
  // Kernels still queued on the stream may use the buffer.
  if (stream)
    AUTOPAR_CU(cuStreamSynchronize(stream));
  AUTOPAR_CU(cuMemFree(devicePointer(pointer)));
}

void mgpuMemcpy(void *destination, void *source, size_t bytes, void *stream) {
  const Driver &d = driver(__func__);
  if (bytes)
    AUTOPAR_CU(cuMemcpyAsync(devicePointer(destination), devicePointer(source),
                             bytes, stream));
}

void mgpuMemset32(void *destination, unsigned int value, size_t count,
                  void *stream) {
  const Driver &d = driver(__func__);
  AUTOPAR_CU(
      cuMemsetD32Async(devicePointer(destination), value, count, stream));
}

void mgpuMemset16(void *destination, unsigned short value, size_t count,
                  void *stream) {
  const Driver &d = driver(__func__);
  AUTOPAR_CU(
      cuMemsetD16Async(devicePointer(destination), value, count, stream));
}

void *mgpuModuleLoad(void *data, size_t bytes) {
  const Driver &d = driver(__func__);
  (void)bytes; // cubins and fatbins carry their size
  CUmodule module = nullptr;
  AUTOPAR_CU(cuModuleLoadData(&module, data));
  noteModule(module);
  return module;
}

void *mgpuModuleLoadJIT(void *ptx, int optLevel) {
  const Driver &d = driver(__func__);
  char info[8192] = {0}, error[8192] = {0};
  CUjit_option options[] = {CU_JIT_OPTIMIZATION_LEVEL, CU_JIT_INFO_LOG_BUFFER,
                            CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *values[] = {reinterpret_cast<void *>(intptr_t(optLevel)), info,
                    reinterpret_cast<void *>(sizeof(info)), error,
                    reinterpret_cast<void *>(sizeof(error))};
  CUmodule module = nullptr;
  CUresult r = d.cuModuleLoadDataEx(&module, ptx, 5, options, values);
  if (r != CUDA_SUCCESS)
    die(std::string("mgpuModuleLoadJIT: the driver could not compile the "
                    "PTX: ") +
        (error[0] ? error : "no log") + " (CUresult " + std::to_string(r) +
        ")");
  noteModule(module);
  return module;
}

void mgpuModuleUnload(void *module) {
  const Driver &d = driver(__func__);
  // The lowering unloads its modules in a global destructor, which can run
  // after the driver has shut down at exit; nothing is left to free then.
  CUresult result = d.cuModuleUnload(module);
  if (result != CUDA_ERROR_DEINITIALIZED)
    check(result, "cuModuleUnload(module)", __func__);
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  const Driver &d = driver(__func__);
  CUfunction function = nullptr;
  AUTOPAR_CU(cuModuleGetFunction(&function, module, name));
  if (state().profile) {
    Profile &p = profile();
    std::lock_guard<std::mutex> lock(p.mutex);
    auto ordinal = p.moduleOrdinal.find(module);
    p.functionName[function] =
        "#" +
        (ordinal == p.moduleOrdinal.end() ? std::string("?")
                                          : std::to_string(ordinal->second)) +
        " " + name;
  }
  return function;
}

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t sharedMemoryBytes, void *stream,
                      void **params, void **extra, size_t paramCount) {
  const Driver &d = driver(__func__);
  (void)paramCount;
  if (gridX <= 0 || gridY <= 0 || gridZ <= 0)
    return; // an empty loop nest
  void *token = autopar::cuda::profileBegin(stream);
  AUTOPAR_CU(cuLaunchKernel(function, unsigned(gridX), unsigned(gridY),
                            unsigned(gridZ), unsigned(blockX), unsigned(blockY),
                            unsigned(blockZ), unsigned(sharedMemoryBytes),
                            stream, params, extra));
  if (token) {
    std::string name;
    {
      Profile &p = profile();
      std::lock_guard<std::mutex> lock(p.mutex);
      name = p.functionName[function];
    }
    autopar::cuda::profileEnd(
        token, stream,
        name + " grid " + std::to_string(gridX) + "x" + std::to_string(gridY) +
            "x" + std::to_string(gridZ) + " block " + std::to_string(blockX) +
            "x" + std::to_string(blockY) + "x" + std::to_string(blockZ));
  }
}

} // extern "C"
