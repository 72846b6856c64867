// RUN: autopar-opt %s -split-input-file --autopar-make-optimizer-step="optimizer=adam" -verify-diagnostics | FileCheck %s

// The step takes params, grads, per-parameter state, lr and step, and
// returns the new params and state; arguments carry their names.
// CHECK-LABEL: func.func @optimizer_step(
// CHECK-SAME: %{{.*}}: tensor<3x2xf32> {autopar.name = "w"}, %{{.*}}: tensor<2xf32> {autopar.name = "b"},
// CHECK-SAME: {autopar.name = "w.grad"}, {{.*}} {autopar.name = "b.grad"},
// CHECK-SAME: {autopar.name = "w.exp_avg"}, {{.*}} {autopar.name = "w.exp_avg_sq"},
// CHECK-SAME: {autopar.name = "b.exp_avg"}, {{.*}} {autopar.name = "b.exp_avg_sq"},
// CHECK-SAME: %{{.*}}: tensor<f32> {autopar.name = "lr"}, %{{.*}}: tensor<f32> {autopar.name = "step"})
// CHECK-SAME: -> (tensor<3x2xf32>, tensor<2xf32>, tensor<3x2xf32>, tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>)
// Bias corrections use beta^step.
// CHECK: autopar.pow %{{.*}}, %{{.*}} : tensor<f32>
// CHECK: autopar.sqrt
// CHECK: return
func.func @model(%x: tensor<4x3xf32>, %w: tensor<3x2xf32> {autopar.role = "param", autopar.name = "w"},
                 %b: tensor<2xf32> {autopar.role = "param", autopar.name = "b"}) -> tensor<f32> {
  %l = autopar.reduce sum %b, dims = [0] : tensor<2xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// expected-error @+1 {{'func.func' op has no arguments marked {autopar.role = "param"} to optimize}}
func.func @no_params(%x: tensor<3xf32>) -> tensor<f32> {
  %l = autopar.reduce sum %x, dims = [0] : tensor<3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// expected-error @+1 {{'func.func' op parameter 1 must be a floating-point tensor of the same element type as the others, got 'tensor<3xf64>'}}
func.func @mixed(%a: tensor<3xf32> {autopar.role = "param"}, %b: tensor<3xf64> {autopar.role = "param"}) -> tensor<f32> {
  %l = autopar.reduce sum %a, dims = [0] : tensor<3xf32> -> tensor<f32>
  return %l : tensor<f32>
}
