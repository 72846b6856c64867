// RUN: autopar-opt %s --autopar-make-optimizer-step="optimizer=sgd clip-grad-norm=1.0" | FileCheck %s
// RUN: not autopar-opt %s --autopar-make-optimizer-step="optimizer=sgd zero-shards=2" 2>&1 | FileCheck %s --check-prefix=TWICE

// ZeRO-3 shards (autopar-shard-parameters) are updated as they come, and
// clipping still sums the squared norm over the data-parallel axis 0.
// CHECK-LABEL: func.func @optimizer_step
// CHECK-SAME: tensor<5xf32> {autopar.name = "w"}, %{{.*}}: tensor<5xf32> {autopar.name = "w.grad"}
// CHECK: autopar.all_reduce %{{.*}} on @autopar_grid grid_axes = [0] : tensor<f32>
// CHECK: autopar.sqrt
// With zero-shards as well, the shard would be cut again.
// TWICE: error: 'func.func' op parameter 0 is a ZeRO-3 shard already; zero-shards must be 1
shard.grid @autopar_grid(shape = 2x1)
func.func @loss(%w: tensor<5xf32> {autopar.role = "param", autopar.name = "w", autopar.zero_shape = array<i64: 3, 3>}) -> tensor<f32> {
  %l = autopar.reduce sum %w, dims = [0] : tensor<5xf32> -> tensor<f32>
  return %l : tensor<f32>
}
