//===- Passes.td - planner passes ------------------------*- tablegen -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PLANNER_PASSES_TD
#define AUTOPAR_PLANNER_PASSES_TD

include "mlir/Pass/PassBase.td"

def PlanLinearShardingsPass
    : Pass<"autopar-plan-linear-shardings", "ModuleOp"> {
  let summary = "Choose data or Megatron tensor parallelism per linear layer";
  let description = [{
    For every function, treats its `autopar.linear` ops in program order as
    a chain and chooses for each one, by dynamic programming over the chain,
    data parallelism (weights replicated, batch split, gradients
    all-reduced), column parallelism (weight split on its output features)
    or row parallelism (weight split on its input features, output
    all-reduced) on a one-dimensional grid of `devices`. The cost of a
    choice is the communication it causes, priced with the planner's
    alpha-beta model on the cluster's link: gradient all-reduces for data
    parallelism, the output all-reduce of row parallelism (forward and
    backward), and the layout changes between consecutive layers (all-gather
    or all-to-all of the activation); each collective also pays one link
    latency of fixed overhead. The chain receives its input and hands on its
    output split along the batch, as the data loader and the loss use them.
    Compute is the same for every choice (split `devices` ways) and is left
    out.

    The result is written as `shard.grid @autopar_grid`, `shard.shard`
    annotations on each weight, bias and layer output, and an
    `autopar.parallelism = "data" | "column" | "row"` attribute on each
    linear op. A batch the devices do not divide rules data parallelism
    out, feature counts they do not divide rule the tensor-parallel forms
    out; if nothing is possible the pass fails naming the layer.
  }];
  let dependentDialects = ["::mlir::shard::ShardDialect"];
  let options = [
    Option<"devices", "devices", "int64_t", /*default=*/"2",
           "Devices on the grid">,
    Option<"cluster", "cluster", "std::string", /*default=*/"\"cpu-host\"",
           "Cluster preset or JSON file whose link prices communication">
  ];
}

#endif // AUTOPAR_PLANNER_PASSES_TD
