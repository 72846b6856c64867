//===- Plan.h - parallel plans for transformer training ---------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The first planner: transformer models described by their shape (the model
// zoo), plans over data x tensor x pipeline parallelism with sequence
// parallelism, ZeRO 0-3, microbatching, GPipe/1F1B/interleaved schedules and
// recomputation, each evaluated with the formulas of CostModel.h, and an
// exhaustive search that keeps the fastest plan that fits in memory and the
// best rejected alternatives with their reasons. Inside a stage each
// layer's attention block, MLP block and the vocabulary head are either
// split Megatron's way (column- then row-parallel) or kept whole, chosen
// exactly for the repeated layer (chooseWholeBlocks).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PLANNER_PLAN_H
#define AUTOPAR_PLANNER_PLAN_H

#include "autopar/Planner/CostModel.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"

#include <string>
#include <vector>

namespace mlir::autopar::planner {

/// A decoder-only transformer by its shape.
struct TransformerModel {
  std::string name;
  int64_t layers = 0, hidden = 0, heads = 0, kvHeads = 0, ffn = 0, vocab = 0,
          seq = 0;
  bool gatedMLP = false; ///< SwiGLU (three ffn matrices) instead of two
  bool tiedEmbedding = true;

  int64_t paramsPerLayer() const;
  /// A layer's attention block (QKV and output projections with their
  /// biases), MLP block (its matrices and biases) and norms; of the blocks,
  /// what Megatron's split keeps whole (the row-parallel layer's bias).
  int64_t attentionParams() const;
  int64_t mlpParams() const;
  int64_t normParamsPerLayer() const;
  int64_t attentionReplicated() const;
  int64_t mlpReplicated() const;
  int64_t embeddingParams() const;
  /// Of those, what Megatron's tensor parallelism keeps whole on every
  /// process: the norms and the row-parallel layers' biases of a layer; the
  /// learned positions and the final norm.
  int64_t replicatedPerLayer() const;
  int64_t replicatedEmbedding() const;
  int64_t totalParams() const;
  /// Forward FLOPs of one layer for `tokens` tokens of sequence `seq`: its
  /// attention block's and its MLP block's.
  double layerForwardFlops(double tokens) const;
  double attentionForwardFlops(double tokens) const;
  double mlpForwardFlops(double tokens) const;
  /// Forward FLOPs of the LM head (logits) for `tokens` tokens.
  double headForwardFlops(double tokens) const;
};

/// `zoo:gpt2-small` ... `zoo:gpt3-175b`, `zoo:llama3-8b`, `zoo:llama3-70b`,
/// Megatron's `megatron-1.7b` ... `megatron-1t`, or
/// `zoo:gpt:layers=L,hidden=H,heads=A[,ffn=F,vocab=V,seq=S]`.
llvm::Expected<TransformerModel> zooModel(llvm::StringRef spec);
/// The preset names zooModel accepts.
std::vector<std::string> zooPresets();

enum class Schedule { GPipe, OneFOneB, Interleaved };

struct Plan {
  int64_t dp = 1, tp = 1, pp = 1;
  bool sequenceParallel = false;
  ZeroStage zero = ZeroStage::None;
  int64_t microbatches = 1; ///< per data-parallel replica per step
  Schedule schedule = Schedule::OneFOneB;
  int64_t virtualStages = 1; ///< chunks per device with Interleaved
  Recompute recompute = Recompute::None;
  /// Context parallelism: each sequence split over `cp` devices, attention
  /// by a ring exchange of key/value blocks (1: off).
  int64_t cp = 1;
  /// Per-op choices inside the tensor-parallel group: how many layers keep
  /// their attention block / MLP block whole on every tensor-parallel
  /// device (the same number in every pipeline stage, so a multiple of pp;
  /// the first ones of each stage), and whether the vocabulary head (with a
  /// tied embedding, the table) stays whole. The rest is split Megatron's
  /// way. Whole blocks compute everything on each device and need no
  /// communication; they need sp=off.
  int64_t wholeAttention = 0, wholeMlp = 0;
  bool wholeHead = false;

  /// Whether layer `layer` of a `layers`-layer model keeps its attention
  /// (MLP) block whole.
  bool attentionWhole(int64_t layer, int64_t layers) const;
  bool mlpWhole(int64_t layer, int64_t layers) const;

  std::string str() const;
};

/// Parses "dp=2,tp=4,pp=2,sp=on,zero=1,mb=8,schedule=1f1b,recompute=selective"
/// (omitted keys keep Plan's defaults; `v=` sets the interleaving factor,
/// `cp=` the context-parallel degree, `attn-whole=K`, `mlp-whole=K` and
/// `head=split|whole` the blocks kept whole).
llvm::Expected<Plan> parsePlan(llvm::StringRef text);

struct TrainingSetup {
  int64_t globalBatch = 0; ///< sequences per step
  int64_t seq = 0;         ///< overrides the model's when nonzero
  ComputeType computeType = ComputeType::BF16;
  StateBytes stateBytes = StateBytes::mixedPrecisionAdam();
  /// Fractions of peak reached by large matrix products and by
  /// memory-bound work (until autopar-calibrate measures them).
  double computeEfficiency = 0.5, memoryEfficiency = 0.7;
  /// Fraction of device memory a plan may use.
  double memoryHeadroom = 0.9;
  /// Search every plan (for checking); by default the search skips tensor
  /// parallelism across nodes and microbatches of more than 16 sequences.
  bool exhaustive = false;
};

/// Sets `setup`'s bytes of model state per parameter and compute type from
/// a name: `mixed-adam` (the default: 2 + 2 + 12, bf16 compute, the ZeRO
/// paper's), `fp32-adam` (4 + 4 + 8), `fp32-momentum` (4 + 4 + 4: SGD with
/// momentum, RMSprop, Adagrad) or `fp32-sgd` (4 + 4), fp32 compute.
llvm::Error setModelStates(llvm::StringRef name, TrainingSetup &setup);

struct PlanEstimate {
  Plan plan;
  bool feasible = false;
  std::string rejection; ///< why not, when infeasible
  // Seconds per step.
  double compute = 0, exposedComm = 0, bubble = 0, optimizer = 0;
  double stepTime() const { return compute + exposedComm + bubble + optimizer; }
  // Bytes per device (the most loaded, first pipeline stage).
  double parameters = 0, gradients = 0, optimizerState = 0, activations = 0,
         workspace = 0;
  double memory() const {
    return parameters + gradients + optimizerState + activations + workspace;
  }
  double tokensPerSecond = 0, tflopsPerDevice = 0, mfu = 0;
  /// Data-parallel communication minus the last microbatch's backward pass
  /// it overlaps (exposed when positive).
  double dataParallelSlack = 0;
};

/// Predicts time and memory of `plan`; infeasible plans say why.
PlanEstimate evaluatePlan(const TransformerModel &model,
                          const ClusterSpec &cluster,
                          const TrainingSetup &setup, const Plan &plan);

struct SearchResult {
  PlanEstimate best;
  std::vector<PlanEstimate> alternatives; ///< best rejected/slower ones
  int64_t evaluated = 0, feasible = 0;
};

/// The fastest feasible plan that differs from `base` only in the blocks
/// kept whole (attention and MLP counts, head), or `base` itself: exact for
/// the cost model, in which step time is A + max(0, G) and memory M with
/// A, G, M affine in the two counts (taken from three evaluations per head
/// choice); for each attention count, the best MLP count is at an end of
/// its memory-feasible range or where G changes sign.
/// `evaluated`, when given, counts the plans evaluated.
PlanEstimate chooseWholeBlocks(const TransformerModel &model,
                               const ClusterSpec &cluster,
                               const TrainingSetup &setup,
                               const PlanEstimate &base,
                               int64_t *evaluated = nullptr);

/// Enumerates every valid plan and returns the fastest feasible one; fails
/// with the most common reason when nothing fits.
llvm::Expected<SearchResult> searchPlans(const TransformerModel &model,
                                         const ClusterSpec &cluster,
                                         const TrainingSetup &setup,
                                         size_t keepAlternatives = 5);

/// What the tools do: evaluate `planSpec` when given (an error saying why
/// when it is not possible), else search.
llvm::Expected<SearchResult> choosePlan(const TransformerModel &model,
                                        const ClusterSpec &cluster,
                                        const TrainingSetup &setup,
                                        llvm::StringRef planSpec);

llvm::json::Value toJSON(const TransformerModel &model,
                         const ClusterSpec &cluster, const TrainingSetup &setup,
                         const SearchResult &result);
/// A self-contained HTML page: the device grid by pipeline stage, data
/// replica and tensor group, the layers of each stage, the step time and the
/// per-device memory as stacked bars, the alternatives with why not.
std::string toHTML(const TransformerModel &model, const ClusterSpec &cluster,
                   const TrainingSetup &setup, const SearchResult &result);
/// The explanation `--explain` prints.
std::string explain(const TransformerModel &model, const ClusterSpec &cluster,
                    const TrainingSetup &setup, const SearchResult &result);

} // namespace mlir::autopar::planner

#endif // AUTOPAR_PLANNER_PLAN_H
