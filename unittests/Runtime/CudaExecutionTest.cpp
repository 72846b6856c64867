//===- CudaExecutionTest.cpp - lowered GPU code run through the runtime ---===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The whole CUDA path on a model function: autopar-lower-to-cuda (kernels
// as PTX, host code calling the mgpu* runtime), JIT-compiled with MLIR's
// ExecutionEngine, run on device buffers and compared with the host. The
// lowering is checked everywhere; running it needs a GPU and skips, saying
// why, without one.
//
//===----------------------------------------------------------------------===//

#include "CudaRuntime.h"

#include "autopar/Pipelines/Pipelines.h"
#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/TargetSelect.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <vector>

using namespace mlir;

namespace {

constexpr int64_t kN = 1000;

const char *kModel = R"mlir(
func.func @gelu_mul(%a: tensor<1000xf32>, %b: tensor<1000xf32>) -> tensor<1000xf32>
    attributes {llvm.emit_c_interface} {
  %0 = autopar.mul %a, %b : tensor<1000xf32>
  %1 = autopar.gelu %0 : tensor<1000xf32>
  return %1 : tensor<1000xf32>
}
)mlir";

// A mixed-precision product: bf16 copies of f32 operands, multiplied by
// cuBLAS on the tensor cores with f32 accumulation, the sum rounded to bf16.
constexpr int64_t kM = 64, kK = 32, kNCols = 48;
const char *kBf16Model = R"mlir(
func.func @mm_bf16(%a: tensor<64x32xf32>, %b: tensor<32x48xf32>) -> tensor<64x48xf32>
    attributes {llvm.emit_c_interface} {
  %ah = autopar.convert %a : tensor<64x32xf32> -> tensor<64x32xbf16>
  %bh = autopar.convert %b : tensor<32x48xf32> -> tensor<32x48xbf16>
  %c = autopar.dot %ah, %bh, batch_dims = [] x [], contracting_dims = [1] x [0]
      : tensor<64x32xbf16>, tensor<32x48xbf16> -> tensor<64x48xbf16>
  %r = autopar.convert %c : tensor<64x48xbf16> -> tensor<64x48xf32>
  return %r : tensor<64x48xf32>
}
)mlir";

/// `x` rounded to bf16 (to nearest, ties to even) and widened back.
float roundToBF16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits += 0x7fff + ((bits >> 16) & 1);
  bits &= 0xffff0000u;
  float y;
  std::memcpy(&y, &bits, 4);
  return y;
}

struct Lowered {
  std::unique_ptr<MLIRContext> context;
  OwningOpRef<ModuleOp> module;
};

/// A model lowered by autopar-lower-to-cuda (sm_90, PTX 8.0).
Lowered lower(const char *model = kModel) {
  static bool registered = (mlir::autopar::registerAllAutoParPasses(), true);
  (void)registered;
  DialectRegistry registry;
  mlir::autopar::registerAutoParDialects(registry);
  Lowered l;
  l.context = std::make_unique<MLIRContext>(registry);
  l.context->loadAllAvailableDialects();
  l.module = parseSourceString<ModuleOp>(model, l.context.get());
  if (!l.module)
    return l;
  PassManager pm(l.context.get());
  mlir::autopar::CUDALoweringOptions options;
  mlir::autopar::buildCUDALoweringPipeline(pm, options);
  if (failed(pm.run(*l.module)))
    l.module = nullptr;
  return l;
}

TEST(CudaExecution, LowersWithoutAGPU) {
  Lowered l = lower();
  ASSERT_TRUE(l.module) << "autopar-lower-to-cuda failed";
  EXPECT_TRUE(l.module->lookupSymbol("_mlir_ciface_gelu_mul"));
  // What the JIT compiles: the host code with the PTX embedded, loaded by
  // a global constructor.
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> ir =
      translateModuleToLLVMIR(*l.module, llvmContext);
  ASSERT_TRUE(ir);
  EXPECT_TRUE(ir->getFunction("mgpuModuleLoadJIT"));
  EXPECT_TRUE(ir->getFunction("mgpuLaunchKernel"));
  EXPECT_TRUE(ir->getNamedGlobal("llvm.global_ctors"));
}

TEST(CudaExecution, GeluMulOnTheGPUMatchesTheHost) {
  std::string why;
  if (!::autopar::cuda::available(why))
    GTEST_SKIP() << "no CUDA GPU here: " << why;
  Lowered l = lower();
  ASSERT_TRUE(l.module);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  // The mgpu* functions come from this process (linked with the runtime).
  auto engine = ExecutionEngine::create(*l.module);
  ASSERT_TRUE(bool(engine)) << llvm::toString(engine.takeError());
  auto function = (*engine)->lookup("_mlir_ciface_gelu_mul");
  ASSERT_TRUE(bool(function)) << llvm::toString(function.takeError());

  std::vector<float> a(kN), b(kN), out(kN, 0.0f);
  for (int64_t i = 0; i < kN; ++i) {
    a[i] = float(i - kN / 2) / 100.0f;
    b[i] = 0.5f + float(i % 7) / 7.0f;
  }
  void *stream = mgpuStreamCreate();
  auto device = [&](const std::vector<float> *host) {
    void *p = mgpuMemAlloc(kN * 4, stream, false);
    if (host)
      ::autopar::cuda::copyToDevice(p, host->data(), kN * 4);
    return static_cast<float *>(p);
  };
  float *da = device(&a), *db = device(&b), *dout = device(nullptr);
  auto descriptor = [](float *p) {
    return StridedMemRefType<float, 1>{p, p, 0, {kN}, {1}};
  };
  StridedMemRefType<float, 1> ma = descriptor(da), mb = descriptor(db),
                              mout = descriptor(dout);
  using Fn =
      void (*)(StridedMemRefType<float, 1> *, StridedMemRefType<float, 1> *,
               StridedMemRefType<float, 1> *);
  reinterpret_cast<Fn> (*function)(&ma, &mb, &mout);
  ::autopar::cuda::copyToHost(out.data(), dout, kN * 4);
  for (int64_t i = 0; i < kN; ++i) {
    double x = double(a[i]) * double(b[i]);
    double expected = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    ASSERT_NEAR(out[i], expected, 1e-6 + 1e-5 * std::fabs(expected))
        << "element " << i;
  }
  mgpuMemFree(da, stream);
  mgpuMemFree(db, stream);
  mgpuMemFree(dout, stream);
  mgpuStreamDestroy(stream);
}

TEST(CudaExecution, Bf16ProductLowersToCublasWithoutAGPU) {
  Lowered l = lower(kBf16Model);
  ASSERT_TRUE(l.module) << "autopar-lower-to-cuda failed";
  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> ir =
      translateModuleToLLVMIR(*l.module, llvmContext);
  ASSERT_TRUE(ir);
  EXPECT_TRUE(ir->getFunction("_mlir_ciface_autopar_cuda_gemm_bf16"));
  EXPECT_FALSE(ir->getFunction("_mlir_ciface_autopar_cuda_gemm_f32"));
}

TEST(CudaExecution, Bf16ProductOnTheGPUMatchesTheHost) {
  std::string why;
  if (!::autopar::cuda::available(why))
    GTEST_SKIP() << "no CUDA GPU here: " << why;
  Lowered l = lower(kBf16Model);
  ASSERT_TRUE(l.module);
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto engine = ExecutionEngine::create(*l.module);
  ASSERT_TRUE(bool(engine)) << llvm::toString(engine.takeError());
  auto function = (*engine)->lookup("_mlir_ciface_mm_bf16");
  ASSERT_TRUE(bool(function)) << llvm::toString(function.takeError());

  std::vector<float> a(kM * kK), b(kK * kNCols), out(kM * kNCols, 0.0f);
  for (int64_t i = 0; i < kM * kK; ++i)
    a[i] = std::sin(0.37f * float(i)) * 3.0f;
  for (int64_t i = 0; i < kK * kNCols; ++i)
    b[i] = std::cos(0.11f * float(i)) + 0.01f * float(i % 13);
  void *stream = mgpuStreamCreate();
  auto device = [&](const std::vector<float> *host, size_t count) {
    void *p = mgpuMemAlloc(count * 4, stream, false);
    if (host)
      ::autopar::cuda::copyToDevice(p, host->data(), count * 4);
    return static_cast<float *>(p);
  };
  float *da = device(&a, a.size()), *db = device(&b, b.size()),
        *dout = device(nullptr, out.size());
  auto descriptor = [](float *p, int64_t rows, int64_t cols) {
    return StridedMemRefType<float, 2>{p, p, 0, {rows, cols}, {cols, 1}};
  };
  StridedMemRefType<float, 2> ma = descriptor(da, kM, kK),
                              mb = descriptor(db, kK, kNCols),
                              mout = descriptor(dout, kM, kNCols);
  using Fn =
      void (*)(StridedMemRefType<float, 2> *, StridedMemRefType<float, 2> *,
               StridedMemRefType<float, 2> *);
  reinterpret_cast<Fn> (*function)(&ma, &mb, &mout);
  ::autopar::cuda::copyToHost(out.data(), dout, out.size() * 4);
  // The host: the same bf16 operands, summed exactly, rounded once; the
  // GPU's f32 sum in another order may land one bf16 step away.
  for (int64_t i = 0; i < kM; ++i)
    for (int64_t j = 0; j < kNCols; ++j) {
      double sum = 0;
      for (int64_t k = 0; k < kK; ++k)
        sum += double(roundToBF16(a[i * kK + k])) *
               double(roundToBF16(b[k * kNCols + j]));
      float expected = roundToBF16(float(sum));
      double step = std::ldexp(1.0, std::ilogb(expected) - 7);
      ASSERT_NEAR(out[i * kNCols + j], expected, step + 1e-6)
          << "element " << i << ", " << j;
    }
  mgpuMemFree(da, stream);
  mgpuMemFree(db, stream);
  mgpuMemFree(dout, stream);
  mgpuStreamDestroy(stream);
}

} // namespace
