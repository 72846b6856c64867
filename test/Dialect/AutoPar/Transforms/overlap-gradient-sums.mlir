// RUN: autopar-opt %s -split-input-file --autopar-overlap-gradient-sums -verify-diagnostics | FileCheck %s

// Each gradient's data-parallel sum starts right after the op that
// completes it: the second layer's weight gradient is complete before the
// first layer's is computed, so its sum travels meanwhile. The sums are
// waited for before the return, in the order they started. Without a grid,
// one of any number of processes (? x 1) is made.
// CHECK: shard.grid @autopar_grid(shape = ?x1)
// CHECK-LABEL: func.func @forward_backward
// CHECK: %[[G2:.*]] = autopar.dot %{{.*}}, %{{.*}} {{.*}} -> tensor<5x3xf32>
// CHECK-NEXT: %[[R2:.*]] = autopar.all_reduce_start %[[G2]] on @autopar_grid grid_axes = [0] : tensor<5x3xf32> -> tensor<i64>
// CHECK: %[[G1:.*]] = autopar.dot %{{.*}}, %{{.*}} {{.*}} -> tensor<8x5xf32>
// CHECK-NEXT: %[[R1:.*]] = autopar.all_reduce_start %[[G1]] on @autopar_grid grid_axes = [0] : tensor<8x5xf32> -> tensor<i64>
// CHECK: %[[S2:.*]] = autopar.all_reduce_wait %[[R2]] : tensor<i64> -> tensor<5x3xf32>
// CHECK-NEXT: %[[S1:.*]] = autopar.all_reduce_wait %[[R1]] : tensor<i64> -> tensor<8x5xf32>
// CHECK-NEXT: return %{{.*}}, %[[S1]], %[[S2]]
func.func @forward_backward(%x: tensor<4x8xf32> {autopar.role = "input"}, %dy: tensor<4x3xf32> {autopar.role = "labels"},
    %w1: tensor<8x5xf32> {autopar.role = "param"}, %w2: tensor<5x3xf32> {autopar.role = "param"}) -> (tensor<f32>, tensor<8x5xf32>, tensor<5x3xf32>) {
  %h = autopar.dot %x, %w1, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x8xf32>, tensor<8x5xf32> -> tensor<4x5xf32>
  %g2 = autopar.dot %h, %dy, batch_dims = [] x [], contracting_dims = [0] x [0] : tensor<4x5xf32>, tensor<4x3xf32> -> tensor<5x3xf32>
  %dh = autopar.dot %dy, %w2, batch_dims = [] x [], contracting_dims = [1] x [1] : tensor<4x3xf32>, tensor<5x3xf32> -> tensor<4x5xf32>
  %g1 = autopar.dot %x, %dh, batch_dims = [] x [], contracting_dims = [0] x [0] : tensor<4x8xf32>, tensor<4x5xf32> -> tensor<8x5xf32>
  %l = autopar.reduce sum %dy, dims = [0, 1] : tensor<4x3xf32> -> tensor<f32>
  return %l, %g1, %g2 : tensor<f32>, tensor<8x5xf32>, tensor<5x3xf32>
}

// -----

// With a dp x tp grid the sums go over axis 0; a gradient returned twice
// (two parameters used alike) is summed once; ZeRO-3 shards' gradients,
// reduce-scattered already, and frozen parameters are left alone.
// CHECK: shard.grid @autopar_grid(shape = 2x2)
// CHECK-LABEL: func.func @forward_backward
// CHECK: %[[R:.*]] = autopar.all_reduce_start %arg0 on @autopar_grid grid_axes = [0]
// CHECK-NOT: all_reduce_start
// CHECK: %[[S:.*]] = autopar.all_reduce_wait %[[R]]
// CHECK-NEXT: return %{{.*}}, %[[S]], %[[S]], %arg1
shard.grid @autopar_grid(shape = 2x2)
func.func @forward_backward(%g: tensor<4xf32>, %z: tensor<2xf32>,
    %a: tensor<4xf32> {autopar.role = "param"}, %b: tensor<4xf32> {autopar.role = "param"},
    %f: tensor<4xf32> {autopar.role = "frozen"},
    %s: tensor<2xf32> {autopar.role = "param", autopar.zero_shape = array<i64: 4>}) -> (tensor<f32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>) {
  %l = autopar.reduce sum %g, dims = [0] : tensor<4xf32> -> tensor<f32>
  return %l, %g, %g, %z : tensor<f32>, tensor<4xf32>, tensor<4xf32>, tensor<2xf32>
}

// -----

// expected-error @+1 {{must return the loss and one gradient per trained parameter ({autopar.role = "param"}): 1 parameters, 1 results}}
func.func @forward_backward(%w: tensor<4xf32> {autopar.role = "param"}) -> tensor<f32> {
  %l = autopar.reduce sum %w, dims = [0] : tensor<4xf32> -> tensor<f32>
  return %l : tensor<f32>
}
