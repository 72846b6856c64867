//===- CostModel.h - time and memory of a parallel training step -*- C++
//-*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The formulas the planner predicts with and explains with (docs/planner.md
// derives each one):
//   - model-state memory under ZeRO stages 0-3 (Rajbhandari et al. 2020),
//   - transformer activation memory under tensor and sequence parallelism
//     and recomputation (Korthikanti et al. 2022, table 2),
//   - alpha-beta costs of ring collectives over the link a group uses,
//   - roofline time of an op from its FLOPs and bytes.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PLANNER_COSTMODEL_H
#define AUTOPAR_PLANNER_COSTMODEL_H

#include "autopar/Planner/Cluster.h"

#include <cstdint>

namespace mlir::autopar::planner {

//===----------------------------------------------------------------------===//
// Memory
//===----------------------------------------------------------------------===//

enum class ZeroStage {
  None = 0,
  OptimizerStates = 1,
  Gradients = 2,
  Parameters = 3
};

/// Bytes per parameter of each kind of model state.
struct StateBytes {
  double parameter = 2; ///< working copy (fp16/bf16)
  double gradient = 2;
  /// Optimizer state: Adam with fp32 master weights, momentum and variance
  /// is 12 (the ZeRO paper's K).
  double optimizer = 12;

  static StateBytes mixedPrecisionAdam() { return {}; }
  static StateBytes fp32Adam() { return {4, 4, 8}; }
  static StateBytes fp32SGD() { return {4, 4, 0}; }
};

struct ModelStateMemory {
  double parameters = 0, gradients = 0, optimizer = 0;
  double total() const { return parameters + gradients + optimizer; }
};

/// Per-device memory of `numParams` parameters (already divided by tensor and
/// pipeline parallelism) replicated over `dataParallel` devices, of which
/// ZeRO partitions the listed states.
ModelStateMemory modelStateMemory(double numParams, int64_t dataParallel,
                                  ZeroStage stage,
                                  StateBytes bytes = StateBytes());

enum class Recompute { None, Selective, Full };

/// Shape of one transformer layer's activations for a microbatch.
struct TransformerShape {
  int64_t sequence = 0;   ///< s
  int64_t microbatch = 0; ///< b
  int64_t hidden = 0;     ///< h
  int64_t heads = 0;      ///< a
};

/// Bytes of activations one transformer layer keeps for its backward pass,
/// with 16-bit activations: Korthikanti et al.'s s*b*h*(34 + 5as/h) and its
/// tensor-parallel (t), sequence-parallel and recomputation forms.
double transformerLayerActivationBytes(const TransformerShape &shape,
                                       int64_t tensorParallel,
                                       bool sequenceParallel,
                                       Recompute recompute);
/// The same with the attention block split over `attentionParallel` devices
/// and the MLP block over `mlpParallel` (1: a block kept whole on every
/// tensor-parallel device), without sequence parallelism: Korthikanti et
/// al.'s attention 11 sbh + 5 as^2 b (3 sbh of it outside the split), MLP
/// 19 sbh (3 outside), layer norms 4 sbh.
double blockSplitActivationBytes(const TransformerShape &shape,
                                 int64_t attentionParallel, int64_t mlpParallel,
                                 Recompute recompute);

//===----------------------------------------------------------------------===//
// Time
//===----------------------------------------------------------------------===//

/// Alpha-beta costs of ring collectives among `group` devices over `link`.
/// Sizes are the bytes of the full (unsharded) buffer.
class CollectiveCostModel {
public:
  explicit CollectiveCostModel(LinkSpec link) : link(link) {}
  /// 2(p-1) messages; each device sends and receives 2(p-1)/p of the buffer.
  double allReduce(double bytes, int64_t group) const;
  /// (p-1) messages; each device receives (p-1)/p of the gathered buffer.
  double allGather(double bytes, int64_t group) const;
  double reduceScatter(double bytes, int64_t group) const;
  double allToAll(double bytes, int64_t group) const;
  double sendRecv(double bytes) const;

private:
  LinkSpec link;
};

/// Roofline time of work with `flops` operations touching `bytes` of device
/// memory, at the given fractions of peak (calibrated or assumed).
double rooflineTime(const DeviceSpec &device, ComputeType type, double flops,
                    double bytes, double computeEfficiency = 1.0,
                    double memoryEfficiency = 1.0);

} // namespace mlir::autopar::planner

#endif // AUTOPAR_PLANNER_COSTMODEL_H
