// RUN: autopar-opt %s -split-input-file --autopar-shard-parameters="dp=2" -verify-diagnostics | FileCheck %s
// RUN: autopar-opt %s -split-input-file --autopar-shard-parameters="dp=2" -verify-diagnostics | awk '/^\/\/ -----/{stop=1} !stop' | autopar-opt --autopar-autodiff="entry=loss name=forward_backward" --autopar-gather-at-use | FileCheck %s --check-prefix=USE

// ZeRO-3: each trained parameter arrives as this process's flat shard
// (8x5 = 40 values: 20 each; 5x3 = 15: padded to 16, 8 each) and is
// gathered back whole at the start; the frozen bias stays whole.
// CHECK: shard.grid @autopar_grid(shape = 2x1)
// CHECK-LABEL: func.func @loss
// CHECK-SAME: %[[W1:[a-z0-9]+]]: tensor<20xf32> {autopar.name = "w1", autopar.role = "param", autopar.zero_shape = array<i64: 8, 5>}
// CHECK-SAME: %[[B1:[a-z0-9]+]]: tensor<5xf32> {autopar.name = "b1", autopar.role = "frozen"}
// CHECK-SAME: %[[W2:[a-z0-9]+]]: tensor<8xf32> {autopar.name = "w2", autopar.role = "param", autopar.zero_shape = array<i64: 5, 3>}
// CHECK: %[[G1:.*]] = autopar.all_gather %[[W1]] on @autopar_grid grid_axes = [0] dim = 0 {partial_grad} : tensor<20xf32> -> tensor<40xf32>
// CHECK: %[[P1:.*]] = autopar.reshape %[[G1]] : tensor<40xf32> -> tensor<8x5xf32>
// CHECK: %[[G2:.*]] = autopar.all_gather %[[W2]] on @autopar_grid grid_axes = [0] dim = 0 {partial_grad} : tensor<8xf32> -> tensor<16xf32>
// CHECK: %[[S2:.*]] = autopar.slice %[[G2]], start = [0], limit = [15], strides = [1] : tensor<16xf32> -> tensor<15xf32>
// CHECK: %[[P2:.*]] = autopar.reshape %[[S2]] : tensor<15xf32> -> tensor<5x3xf32>
// CHECK: autopar.linear %{{.*}}, %[[P1]], %[[B1]]
// CHECK: autopar.linear %{{.*}}, %[[P2]] :
//
// Differentiated and gathered at each use: w1 is used once (the first
// layer; its input is data, so the backward needs no w1), w2 twice (the
// second layer, and its input's cotangent in the backward), each right
// before its use; each gradient leaves as this process's shard of the sum
// (one reduce_scatter per parameter, the padding cut off first).
// USE-LABEL: func.func @forward_backward
// USE-SAME: -> (tensor<f32>, tensor<20xf32>, tensor<8xf32>)
// USE: autopar.all_gather %arg2
// USE-NEXT: autopar.reshape
// USE-NEXT: autopar.dot
// USE: autopar.tanh
// USE-NEXT: autopar.all_gather %arg4
// USE-NEXT: autopar.slice
// USE-NEXT: autopar.reshape
// USE-NEXT: autopar.dot
// USE: autopar.all_gather %arg4
// USE-NEXT: autopar.slice
// USE-NEXT: %[[W:.*]] = autopar.reshape
// USE-NEXT: autopar.dot %{{.*}}, %[[W]]
// USE-NOT: autopar.all_gather
// USE: %[[R2:.*]] = autopar.reduce_scatter %{{.*}} on @autopar_grid grid_axes = [0] dim = 0 : tensor<16xf32> -> tensor<8xf32>
// USE: %[[R1:.*]] = autopar.reduce_scatter %{{.*}} on @autopar_grid grid_axes = [0] dim = 0 : tensor<40xf32> -> tensor<20xf32>
// USE-NOT: autopar.all_gather
// USE: return %{{.*}}, %[[R1]], %[[R2]]
func.func @loss(%x: tensor<4x8xf32> {autopar.role = "input"}, %y: tensor<4xi64> {autopar.role = "labels"},
    %w1: tensor<8x5xf32> {autopar.role = "param", autopar.name = "w1"}, %b1: tensor<5xf32> {autopar.role = "frozen", autopar.name = "b1"},
    %w2: tensor<5x3xf32> {autopar.role = "param", autopar.name = "w2"}) -> tensor<f32> {
  %h = autopar.linear %x, %w1, %b1 : tensor<4x8xf32>, tensor<8x5xf32>, tensor<5xf32> -> tensor<4x5xf32>
  %a = autopar.tanh %h : tensor<4x5xf32>
  %o = autopar.linear %a, %w2 : tensor<4x5xf32>, tensor<5x3xf32> -> tensor<4x3xf32>
  %l = autopar.cross_entropy %o, %y : tensor<4x3xf32>, tensor<4xi64> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// After tensor parallelism: the grid is kept, the shard is of the local
// (split) part, and a 1-D parameter that divides needs no slice.
// CHECK-LABEL: func.func @loss
// CHECK-SAME: tensor<4xf32> {autopar.role = "param", autopar.split = array<i64: 0, 1>, autopar.zero_shape = array<i64: 8>}
// CHECK: autopar.all_gather
// CHECK-NOT: autopar.slice
// CHECK-NOT: autopar.reshape
// CHECK: autopar.mul
shard.grid @autopar_grid(shape = 2x2)
func.func @loss(%w: tensor<8xf32> {autopar.role = "param", autopar.split = array<i64: 0, 1>}) -> tensor<8xf32> {
  %m = autopar.mul %w, %w : tensor<8xf32>
  return %m : tensor<8xf32>
}

// -----

// expected-error @+1 {{has axis 0 of size 4; autopar-shard-parameters needs the data-parallel axis 0 of size 2}}
shard.grid @autopar_grid(shape = 4x1)
func.func @loss(%w: tensor<8xf32> {autopar.role = "param"}) -> tensor<8xf32> {
  return %w : tensor<8xf32>
}

// -----

// expected-error @+1 {{has no trained parameter ({autopar.role = "param"}) to shard}}
func.func @loss(%w: tensor<8xf32> {autopar.role = "frozen"}) -> tensor<8xf32> {
  return %w : tensor<8xf32>
}

// -----

// expected-error @+1 {{parameter 0 is sharded already (it has autopar.zero_shape)}}
func.func @loss(%w: tensor<4xf32> {autopar.role = "param", autopar.zero_shape = array<i64: 8>}) -> tensor<4xf32> {
  return %w : tensor<4xf32>
}

// -----

// expected-error @+1 {{parameter 0 must be a ranked floating-point tensor to be sharded, got 'tensor<8xi64>'}}
func.func @loss(%w: tensor<8xi64> {autopar.role = "param"}) -> tensor<8xi64> {
  return %w : tensor<8xi64>
}
