//===- Passes.h - autopar dialect transformations ---------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_DIALECT_AUTOPAR_TRANSFORMS_PASSES_H
#define AUTOPAR_DIALECT_AUTOPAR_TRANSFORMS_PASSES_H

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace autopar {

#define GEN_PASS_DECL
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"

/// The `shard.grid` the partitioning passes create and the collectives and
/// the runtime name (axis 0 data-parallel, axis 1 tensor-parallel).
inline constexpr llvm::StringLiteral kGridName = "autopar_grid";

/// The function a pass transforms: @`entry`, with a body. Emits
/// "`pass`: no function @`entry`" on `module` and returns null otherwise.
func::FuncOp lookupEntryFunction(ModuleOp module, llvm::StringRef entry,
                                 llvm::StringRef pass);

/// Patterns that rewrite composite ops (softmax, layer_norm, attention, ...)
/// into autopar primitives. Shared by the decomposition pass and by the
/// conversion to linalg. With `keepSoftmax`, softmax and log_softmax (also
/// those that attention and cross_entropy decompose into) stay: autodiff
/// differentiates them with their own rules, y (g - sum(g y)) and
/// g - exp(y) sum(g), instead of through the max, exp, sum and divide. With
/// `keepAttention`, attentions without a mask operand stay (autodiff gives
/// them one attention_grad; a fused kernel may run both).
void populateDecomposeCompositesPatterns(RewritePatternSet &patterns,
                                         bool keepSoftmax = false,
                                         bool keepAttention = false);

/// Only the composites that hold matrix products: attention (unless
/// `keepAttention` and it has no mask) and linear.
void populateDecomposeContractionCompositesPatterns(RewritePatternSet &patterns,
                                                    bool keepAttention = false);

/// Patterns that recognize exporter-written primitive chains (layer norm,
/// GELU, attention) and replace them by composites.
void populateRaiseCompositesPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"

} // namespace autopar
} // namespace mlir

#endif // AUTOPAR_DIALECT_AUTOPAR_TRANSFORMS_PASSES_H
