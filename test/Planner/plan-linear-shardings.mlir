// RUN: autopar-opt %s -split-input-file --autopar-plan-linear-shardings=devices=4 -verify-diagnostics | FileCheck %s

// Small batch, large weights: moving activations is cheaper than reducing
// 64 MB of gradients, so the MLP gets Megatron's column-then-row split and
// exactly one all-reduce boundary (the row layer's output).
// CHECK: shard.grid @autopar_grid(shape = 4)
// CHECK-LABEL: func @wide_mlp
// CHECK: %[[S1:.*]] = shard.sharding @autopar_grid split_axes = {{\[\[}}], [0]] : !shard.sharding
// CHECK: %[[W1:.*]] = shard.shard %arg1 to %[[S1]] annotate_for_users : tensor<4096x4096xf32>
// CHECK: %[[H:.*]] = autopar.linear %arg0, %[[W1]] {autopar.chain_comm_seconds = {{.*}}, autopar.parallelism = "column"}
// CHECK: shard.sharding @autopar_grid split_axes = {{\[\[}}], [0]]
// CHECK: %[[S2:.*]] = shard.sharding @autopar_grid split_axes = {{\[\[}}0], []] : !shard.sharding
// CHECK: %[[W2:.*]] = shard.shard %arg2 to %[[S2]] annotate_for_users : tensor<4096x4096xf32>
// CHECK: autopar.linear %{{.*}}, %[[W2]] {autopar.chain_comm_seconds = {{.*}}, autopar.parallelism = "row"}
// CHECK: shard.sharding @autopar_grid split_axes = {{\[\[}}], []]
func.func @wide_mlp(%x: tensor<8x4096xf32>, %w1: tensor<4096x4096xf32>, %w2: tensor<4096x4096xf32>) -> tensor<8x4096xf32> {
  %h = autopar.linear %x, %w1 : tensor<8x4096xf32>, tensor<4096x4096xf32> -> tensor<8x4096xf32>
  %a = autopar.relu %h : tensor<8x4096xf32>
  %y = autopar.linear %a, %w2 : tensor<8x4096xf32>, tensor<4096x4096xf32> -> tensor<8x4096xf32>
  return %y : tensor<8x4096xf32>
}

// -----

// Large batch, small weights: pure data parallelism, batch split on dim 0.
// CHECK-LABEL: func @narrow_mlp
// CHECK: autopar.linear {{.*}} autopar.parallelism = "data"
// CHECK: shard.sharding @autopar_grid split_axes = {{\[\[}}0], []]
// CHECK: autopar.linear {{.*}} autopar.parallelism = "data"
func.func @narrow_mlp(%x: tensor<65536x64xf32>, %w1: tensor<64x64xf32>, %b1: tensor<64xf32>, %w2: tensor<64x8xf32>) -> tensor<65536x8xf32> {
  %h = autopar.linear %x, %w1, %b1 : tensor<65536x64xf32>, tensor<64x64xf32>, tensor<64xf32> -> tensor<65536x64xf32>
  %y = autopar.linear %h, %w2 : tensor<65536x64xf32>, tensor<64x8xf32> -> tensor<65536x8xf32>
  return %y : tensor<65536x8xf32>
}

// -----

// Torch's weight layout [out, in] splits the other dimension.
// CHECK-LABEL: func @transposed_weight
// CHECK: shard.sharding @autopar_grid split_axes = {{\[\[}}0], []]
// CHECK: autopar.linear {{.*}} {autopar.chain_comm_seconds = {{.*}}, autopar.parallelism = "column", weight_transposed}
func.func @transposed_weight(%x: tensor<2x4096xf32>, %w: tensor<8192x4096xf32>) -> tensor<2x8192xf32> {
  %y = autopar.linear %x, %w {weight_transposed} : tensor<2x4096xf32>, tensor<8192x4096xf32> -> tensor<2x8192xf32>
  return %y : tensor<2x8192xf32>
}

// -----

func.func @indivisible(%x: tensor<3x5xf32>, %w: tensor<5x7xf32>) -> tensor<3x7xf32> {
  // expected-error @+1 {{'autopar.linear' op cannot be split over 4 devices: neither its batch nor its features divide}}
  %y = autopar.linear %x, %w : tensor<3x5xf32>, tensor<5x7xf32> -> tensor<3x7xf32>
  return %y : tensor<3x7xf32>
}
