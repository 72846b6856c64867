// RUN: autopar-opt %s --split-input-file --autopar-build-loss | FileCheck %s --check-prefix=CE
// RUN: autopar-opt %s --split-input-file --autopar-build-loss="loss=mse freeze=^b$" | FileCheck %s --check-prefix=MSE
// RUN: autopar-opt %s --split-input-file --autopar-make-train-step="optimizer=adam freeze=^b$" | FileCheck %s --check-prefix=STEP

// @loss takes the inputs, then the labels, then the parameters; the forward
// function becomes private; frozen parameters are marked in @loss only.
// CE: func.func private @forward
// CE-LABEL: func.func @loss(
// CE-SAME: %arg0: tensor<2x3xf32> {autopar.name = "x", autopar.role = "input"}
// CE-SAME: %arg1: tensor<2xi64> {autopar.name = "labels", autopar.role = "label"}
// CE-SAME: %arg2: tensor<3x4xf32> {autopar.name = "w", autopar.role = "param"}
// CE-SAME: %arg3: tensor<4xf32> {autopar.name = "b", autopar.role = "param"}
// CE-SAME: -> tensor<f32>
// CE: %[[Y:.*]] = autopar.add
// CE: autopar.cross_entropy %[[Y]], %arg1
// MSE-LABEL: func.func @loss(
// MSE-SAME: %arg1: tensor<2x4xf32> {autopar.name = "labels", autopar.role = "label"}
// MSE-SAME: {autopar.name = "b", autopar.role = "frozen"}
// MSE: autopar.sub
// MSE: autopar.mul
// MSE: autopar.reduce mean
// The whole step: @forward_backward returns the loss and the gradient of
// the trainable parameter only; @optimizer_step updates that one.
// STEP: func.func @forward_backward({{.*}}) -> (tensor<f32>, tensor<3x4xf32>)
// STEP: func.func @optimizer_step(%arg0: tensor<3x4xf32> {autopar.name = "w"}, %arg1: tensor<3x4xf32>
func.func @forward(%x: tensor<2x3xf32> {autopar.name = "x", autopar.role = "input"},
                   %w: tensor<3x4xf32> {autopar.name = "w", autopar.role = "param"},
                   %b: tensor<4xf32> {autopar.name = "b", autopar.role = "param"}) -> tensor<2x4xf32> {
  %m = autopar.dot %x, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x4xf32>
  %bb = autopar.broadcast %b, dims = [1] : tensor<4xf32> -> tensor<2x4xf32>
  %y = autopar.add %m, %bb : tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
