//===- ModelIR.h - zoo transformers in the autopar dialect ------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The zoo's transformers (Plan.h's TransformerModel) built as a forward
// function in the autopar dialect, with no weights (parameters are function
// arguments), and a grid plan written onto it as upstream `shard` dialect
// annotations: `autopar-compile zoo:... --plan-only`.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PLANNER_MODELIR_H
#define AUTOPAR_PLANNER_MODELIR_H

#include "autopar/Planner/Plan.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mlir::autopar::planner {

/// How Megatron-style tensor parallelism splits a parameter.
enum class ParamKind {
  Replicated,     ///< norms, row-parallel biases, positions
  ColumnParallel, ///< [in, out] weights split along out (and their biases)
  RowParallel,    ///< [in, out] weights split along in
  VocabParallel,  ///< the embedding table split along the vocabulary
};

/// The part of the model a parameter or op belongs to: a plan may keep a
/// layer's attention or MLP block, or the head, whole.
enum class BlockKind { Embedding, Attention, Mlp, Head, Other };

struct ParamInfo {
  std::string name;
  ParamKind kind;
  int64_t layer; ///< -1 for the embeddings; the head and final norm: the last
  BlockKind block = BlockKind::Other;
};

struct ModelIR {
  OwningOpRef<ModuleOp> module;
  std::vector<ParamInfo> params; ///< in argument order, after %ids
  /// The block of each op of @forward, in order.
  std::vector<BlockKind> opBlocks;
};

/// `@forward(%ids: tensor<BxSxi64>, params...) -> logits [B, S, V]`: token
/// (and for GPT position) embeddings, per layer a pre-norm causal attention
/// block (fused QKV projection, grouped-query heads repeated) and an MLP
/// (GELU, or SwiGLU for gated models, with RMSNorm), a final norm and the
/// vocabulary head. Ops of layer l carry `autopar.layer = l`.
llvm::Expected<ModelIR> buildTransformerIR(MLIRContext *context,
                                           const TransformerModel &model,
                                           int64_t batch, int64_t seq);

/// Writes `plan` onto `ir`: `shard.grid @grid(shape = PPxDPxTP[xCP])` (axis 0
/// pipeline, 1 data, 2 tensor, 3 context when cp > 1, splitting sequences),
/// a `shard.shard` for every parameter
/// (column / row / vocabulary splits on the tensor axis) and every op
/// result (batch on the data axis; heads, column-parallel outputs and, with
/// sequence parallelism, the sequence of the residual stream on the tensor
/// axis), `autopar.stage` on every op and parameter (layers split evenly
/// over the pipeline stages), and the plan's other choices as module
/// attributes. Blocks the plan keeps whole are replicated on the tensor
/// axis (parameters and results).
void annotatePlan(ModelIR &ir, const TransformerModel &model, const Plan &plan);

} // namespace mlir::autopar::planner

#endif // AUTOPAR_PLANNER_MODELIR_H
