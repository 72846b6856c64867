// RUN: autopar-opt %s --autopar-mixed-precision=type=f8 -verify-diagnostics

// expected-error @+1 {{autopar-mixed-precision: type must be bf16 or f16, got 'f8'}}
module {
  func.func @loss(%a: tensor<f32>) -> tensor<f32> {
    return %a : tensor<f32>
  }
}
