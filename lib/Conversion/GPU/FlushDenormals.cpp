//===- FlushDenormals.cpp - f32 denormals flushed in a GPU module ---------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// A gpu.module in the LLVM dialect gets the flag nvvm-reflect-ftz = 1:
// libdevice, linked at gpu-module-to-binary, asks __nvvm_reflect
// ("__CUDA_FTZ") which path to take, as under `nvcc -ftz=true`. Its
// exponentials (fast-exp's __nv_fast_expf, erf's exp2), rsqrt, sqrt, log
// and pow then lose their denormal range checks (on sm_90 ex2.approx.f32
// is four SASS instructions, ex2.approx.ftz.f32 one), and each f32
// division fast-div made approximate becomes div.approx.ftz (two instead
// of five). The functions' own f32 arithmetic keeps denormals: marking
// them denormal_fp_math_f32 = "preserve-sign" would also make each bf16
// widening (cvt.ftz.f32.bf16) an F2F instruction instead of a shift.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_FLUSHDENORMALSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
constexpr StringLiteral kReflectFtz = "nvvm-reflect-ftz";
constexpr StringLiteral kDivApproxFtz = "llvm.nvvm.div.approx.ftz.f";

/// Sets the module flag, or checks one already there.
LogicalResult setReflectFtz(gpu::GPUModuleOp module) {
  MLIRContext *context = module.getContext();
  auto flag = LLVM::ModuleFlagAttr::get(
      context, LLVM::ModFlagBehavior::Override,
      StringAttr::get(context, kReflectFtz),
      IntegerAttr::get(IntegerType::get(context, 32), 1));
  for (auto flags : module.getOps<LLVM::ModuleFlagsOp>()) {
    SmallVector<Attribute> entries(flags.getFlags().begin(),
                                   flags.getFlags().end());
    for (Attribute entry : entries) {
      auto existing = dyn_cast<LLVM::ModuleFlagAttr>(entry);
      if (!existing || existing.getKey() != kReflectFtz)
        continue;
      auto value = dyn_cast<IntegerAttr>(existing.getValue());
      if (value && value.getInt() == 1)
        return success(); // already flushing
      return flags.emitError()
             << "already sets " << kReflectFtz << " to " << existing.getValue()
             << "; cannot flush f32 denormals to zero (1)";
    }
    entries.push_back(flag);
    flags.setFlagsAttr(ArrayAttr::get(context, entries));
    return success();
  }
  OpBuilder builder = OpBuilder::atBlockBegin(module.getBody());
  LLVM::ModuleFlagsOp::create(builder, module.getLoc(),
                              builder.getArrayAttr({flag}));
  return success();
}

struct FlushDenormalsPass
    : public mlir::autopar::impl::FlushDenormalsPassBase<FlushDenormalsPass> {
  using Base::Base;

  void runOnOperation() override {
    gpu::GPUModuleOp module = getOperation();
    if (failed(setReflectFtz(module)))
      return signalPassFailure();
    // An f32 division marked approximate (fastmath<afn>: fast-div) as
    // div.approx.ftz: MUFU.RCP and a multiplication, without the scaling
    // of tiny divisors that div.approx.f32 adds. A vector of f32 (the
    // vectorized kernels' 16-byte accesses) a lane at a time, as the
    // backend would split it.
    Type f32 = Float32Type::get(module.getContext());
    SmallVector<LLVM::FDivOp> divisions;
    module.walk([&](LLVM::FDivOp div) {
      auto vector = dyn_cast<VectorType>(div.getType());
      bool f32Lanes = vector && vector.getRank() == 1 && !vector.isScalable() &&
                      vector.getElementType() == f32;
      if ((div.getType() == f32 || f32Lanes) &&
          bitEnumContainsAll(div.getFastmathFlags(), LLVM::FastmathFlags::afn))
        divisions.push_back(div);
    });
    for (LLVM::FDivOp div : divisions) {
      OpBuilder builder(div);
      Location loc = div.getLoc();
      StringAttr intrinsic = builder.getStringAttr(kDivApproxFtz);
      auto divide = [&](Value a, Value b) -> Value {
        return LLVM::CallIntrinsicOp::create(builder, loc, f32, intrinsic,
                                             ValueRange{a, b})
            .getResult(0);
      };
      Value result;
      if (div.getType() == f32) {
        result = divide(div.getLhs(), div.getRhs());
      } else {
        Type i32 = builder.getI32Type();
        result = LLVM::PoisonOp::create(builder, loc, div.getType());
        int64_t lanes = cast<VectorType>(div.getType()).getNumElements();
        for (int64_t lane = 0; lane < lanes; ++lane) {
          Value at = LLVM::ConstantOp::create(
              builder, loc, i32, builder.getI32IntegerAttr(int32_t(lane)));
          Value a =
              LLVM::ExtractElementOp::create(builder, loc, div.getLhs(), at);
          Value b =
              LLVM::ExtractElementOp::create(builder, loc, div.getRhs(), at);
          result = LLVM::InsertElementOp::create(builder, loc, result,
                                                 divide(a, b), at);
        }
      }
      div.replaceAllUsesWith(result);
      div.erase();
    }
  }
};
} // namespace
