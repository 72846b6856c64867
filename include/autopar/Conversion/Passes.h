//===- Passes.h - autopar conversion passes ---------------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_CONVERSION_PASSES_H
#define AUTOPAR_CONVERSION_PASSES_H

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
class TypeConverter;
namespace autopar {

#define GEN_PASS_DECL
#include "autopar/Conversion/Passes.h.inc"

/// Marks a `memref.global` that a host runtime function reads (the GEMM's
/// loop description): the GPU lowering leaves it in host memory, and copies
/// every other constant global a host function uses to the device.
inline constexpr llvm::StringLiteral kHostGlobalAttr = "autopar.host";

/// Patterns lowering autopar primitives to linalg/tensor/arith/math.
void populateAutoParToLinalgPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "autopar/Conversion/Passes.h.inc"

} // namespace autopar
} // namespace mlir

#endif // AUTOPAR_CONVERSION_PASSES_H
