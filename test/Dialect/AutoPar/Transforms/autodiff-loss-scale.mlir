// RUN: autopar-opt %s -split-input-file --autopar-autodiff="loss-scale-arg=true" -verify-diagnostics | FileCheck %s

// Loss scaling: the gradient function takes the scale last, starts the
// reverse sweep from it instead of 1, and divides each gradient by it.
// CHECK-LABEL: func @loss_grad(
// CHECK-SAME: %[[X:[^:]*]]: tensor<4x3xf32>, %[[W:[^:]*]]: tensor<3x2xf32> {autopar.role = "param"}, %[[S:[^:]*]]: tensor<f32> {autopar.role = "loss_scale"})
// CHECK-SAME: -> (tensor<f32>, tensor<3x2xf32>)
// CHECK-NOT: autopar.constant dense<1.000000e+00> : tensor<f32>
// CHECK: %[[SEED:.*]] = autopar.broadcast %[[S]], dims = [] : tensor<f32> -> tensor<4x2xf32>
// CHECK: %[[G:.*]] = autopar.dot %[[X]], %[[SEED]]
// CHECK: %[[T:.*]] = autopar.transpose %[[G]]
// CHECK: %[[SB:.*]] = autopar.broadcast %[[S]], dims = [] : tensor<f32> -> tensor<3x2xf32>
// CHECK: %[[U:.*]] = autopar.div %[[T]], %[[SB]] : tensor<3x2xf32>
// CHECK: return %{{.*}}, %[[U]] : tensor<f32>, tensor<3x2xf32>
func.func @loss(%x: tensor<4x3xf32>, %w: tensor<3x2xf32> {autopar.role = "param"}) -> tensor<f32> {
  %y = autopar.dot %x, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x3xf32>, tensor<3x2xf32> -> tensor<4x2xf32>
  %l = autopar.reduce sum %y, dims = [0, 1] : tensor<4x2xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Without marked parameters every float argument is differentiated, but
// never the scale itself.
// CHECK-LABEL: func @loss_grad(
// CHECK-SAME: %[[A:[^:]*]]: tensor<3xf32>, %[[S:[^:]*]]: tensor<f32> {autopar.role = "loss_scale"}) -> (tensor<f32>, tensor<3xf32>)
func.func @loss(%a: tensor<3xf32>) -> tensor<f32> {
  %l = autopar.reduce sum %a, dims = [0] : tensor<3xf32> -> tensor<f32>
  return %l : tensor<f32>
}
