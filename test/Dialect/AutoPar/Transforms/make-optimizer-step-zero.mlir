// RUN: autopar-opt %s -split-input-file --autopar-make-optimizer-step="optimizer=sgd clip-grad-norm=1.0 zero-shards=2" -verify-diagnostics | FileCheck %s

// ZeRO-1/2 (zero-shards=2): the update takes flat padded shards (3x3 = 9
// values: 5 each; the split 2-element bias: 1 each). Clipping sums the
// split parameter's squared norm over its tensor axis, then everything over
// the data-parallel axis 0.
// CHECK-LABEL: func.func @optimizer_step
// CHECK-SAME: tensor<5xf32> {autopar.name = "w"}, %{{.*}}: tensor<1xf32> {autopar.name = "b"}
// CHECK: autopar.all_reduce %{{.*}} on @autopar_grid grid_axes = [1] : tensor<f32>
// CHECK: autopar.all_reduce %{{.*}} on @autopar_grid grid_axes = [0] : tensor<f32>
// CHECK: autopar.sqrt
shard.grid @autopar_grid(shape = 2x2)
func.func @loss(%w: tensor<3x3xf32> {autopar.role = "param", autopar.name = "w"},
                %b: tensor<2xf32> {autopar.role = "param", autopar.name = "b", autopar.split = array<i64: 0, 1>}) -> tensor<f32> {
  %l = autopar.reduce sum %b, dims = [0] : tensor<2xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Summing over a grid axis needs the grid.
// expected-error @+1 {{clipping sums squared norms over @autopar_grid, which this module lacks}}
module {
  func.func @loss(%w: tensor<4xf32> {autopar.role = "param", autopar.name = "w"}) -> tensor<f32> {
    %l = autopar.reduce sum %w, dims = [0] : tensor<4xf32> -> tensor<f32>
    return %l : tensor<f32>
  }
}
