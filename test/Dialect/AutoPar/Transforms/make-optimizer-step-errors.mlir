// RUN: not autopar-opt %s --autopar-make-optimizer-step="optimizer=lamb" 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not autopar-opt %s --autopar-make-optimizer-step="optimizer=sgd nesterov=true" 2>&1 | FileCheck %s --check-prefix=NESTEROV
// UNKNOWN: error: autopar-make-optimizer-step: unknown optimizer 'lamb' (sgd, adam, adamw, rmsprop, adagrad)
// NESTEROV: error: autopar-make-optimizer-step: nesterov needs a momentum and zero dampening (as PyTorch)
func.func @model(%w: tensor<3xf32> {autopar.role = "param"}) -> tensor<f32> {
  %l = autopar.reduce sum %w, dims = [0] : tensor<3xf32> -> tensor<f32>
  return %l : tensor<f32>
}
