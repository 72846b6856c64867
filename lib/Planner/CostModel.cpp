//===- CostModel.cpp - time and memory of a parallel training step --------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Planner/CostModel.h"

#include <algorithm>

using namespace mlir::autopar::planner;

ModelStateMemory mlir::autopar::planner::modelStateMemory(double numParams,
                                                          int64_t dataParallel,
                                                          ZeroStage stage,
                                                          StateBytes bytes) {
  double nd = double(std::max<int64_t>(1, dataParallel));
  ModelStateMemory m;
  m.parameters = bytes.parameter * numParams;
  m.gradients = bytes.gradient * numParams;
  m.optimizer = bytes.optimizer * numParams;
  if (stage >= ZeroStage::OptimizerStates)
    m.optimizer /= nd;
  if (stage >= ZeroStage::Gradients)
    m.gradients /= nd;
  if (stage >= ZeroStage::Parameters)
    m.parameters /= nd;
  return m;
}

double mlir::autopar::planner::transformerLayerActivationBytes(
    const TransformerShape &shape, int64_t tensorParallel,
    bool sequenceParallel, Recompute recompute) {
  double s = shape.sequence, b = shape.microbatch, h = shape.hidden,
         a = shape.heads, t = double(std::max<int64_t>(1, tensorParallel));
  double sbh = s * b * h;
  if (recompute == Recompute::Full)
    // Only the layer's input (2 bytes per element) is kept; sequence
    // parallelism splits it.
    return 2 * sbh / (sequenceParallel ? t : 1);
  // Attention's s x s terms (softmax, its dropout mask, the scores): 5as/h,
  // split by heads over t; dropped by selective recomputation.
  double attention =
      recompute == Recompute::Selective ? 0 : 5 * a * s / (h * t);
  // The other 34 bytes per s*b*h: 24 inside the tensor-parallel regions
  // (split by t), 10 in layer norms and dropouts (split by t only with
  // sequence parallelism).
  double rest = sequenceParallel ? 34 / t : 10 + 24 / t;
  return sbh * (rest + attention);
}

double mlir::autopar::planner::blockSplitActivationBytes(
    const TransformerShape &shape, int64_t attentionParallel,
    int64_t mlpParallel, Recompute recompute) {
  double s = shape.sequence, b = shape.microbatch, h = shape.hidden,
         a = shape.heads;
  double ta = double(std::max<int64_t>(1, attentionParallel)),
         tm = double(std::max<int64_t>(1, mlpParallel));
  double sbh = s * b * h;
  if (recompute == Recompute::Full)
    return 2 * sbh;
  double scores = recompute == Recompute::Selective ? 0 : 5 * a * s / h;
  // Norms 4, attention 3 + 8/ta (+ scores/ta), MLP 3 + 16/tm.
  return sbh * (4 + 3 + (8 + scores) / ta + 3 + 16 / tm);
}

double CollectiveCostModel::allReduce(double bytes, int64_t group) const {
  if (group <= 1)
    return 0;
  double p = double(group);
  return 2 * (p - 1) * link.latency + 2 * (p - 1) / p * bytes / link.bandwidth;
}

double CollectiveCostModel::allGather(double bytes, int64_t group) const {
  if (group <= 1)
    return 0;
  double p = double(group);
  return (p - 1) * link.latency + (p - 1) / p * bytes / link.bandwidth;
}

double CollectiveCostModel::reduceScatter(double bytes, int64_t group) const {
  return allGather(bytes, group);
}

double CollectiveCostModel::allToAll(double bytes, int64_t group) const {
  return allGather(bytes, group);
}

double CollectiveCostModel::sendRecv(double bytes) const {
  return link.latency + bytes / link.bandwidth;
}

double mlir::autopar::planner::rooflineTime(const DeviceSpec &device,
                                            ComputeType type, double flops,
                                            double bytes,
                                            double computeEfficiency,
                                            double memoryEfficiency) {
  double compute = flops / (device.peakFlops(type) * computeEfficiency);
  double memory = bytes / (device.memoryBandwidth * memoryEfficiency);
  return std::max(compute, memory);
}
