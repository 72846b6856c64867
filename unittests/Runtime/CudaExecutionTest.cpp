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

struct Lowered {
  std::unique_ptr<MLIRContext> context;
  OwningOpRef<ModuleOp> module;
};

/// The model lowered by autopar-lower-to-cuda (sm_90, PTX 8.0).
Lowered lower() {
  static bool registered = (mlir::autopar::registerAllAutoParPasses(), true);
  (void)registered;
  DialectRegistry registry;
  mlir::autopar::registerAutoParDialects(registry);
  Lowered l;
  l.context = std::make_unique<MLIRContext>(registry);
  l.context->loadAllAvailableDialects();
  l.module = parseSourceString<ModuleOp>(kModel, l.context.get());
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

} // namespace
