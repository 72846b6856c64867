// RUN: autopar-opt %s -split-input-file --autopar-mixed-precision -verify-diagnostics | FileCheck %s
// RUN: autopar-opt %s -split-input-file --autopar-mixed-precision=type=f16 -verify-diagnostics | FileCheck %s --check-prefix=F16
// RUN: autopar-opt %s -split-input-file --autopar-mixed-precision --autopar-autodiff="entry=loss name=fb" -verify-diagnostics | FileCheck %s --check-prefix=GRAD

// A linear layer's matrix product runs in bf16 on bf16 copies of the f32
// input and weight; the bias add, the activation and the loss stay f32, as
// does every parameter.
// CHECK-LABEL: func @loss(
// CHECK-SAME: %[[X:.*]]: tensor<4x8xf32>, %[[W:.*]]: tensor<8x3xf32> {autopar.role = "param"}, %[[B:.*]]: tensor<3xf32> {autopar.role = "param"})
// CHECK-DAG: %[[WH:.*]] = autopar.convert %[[W]] : tensor<8x3xf32> -> tensor<8x3xbf16>
// CHECK-DAG: %[[XH:.*]] = autopar.convert %[[X]] : tensor<4x8xf32> -> tensor<4x8xbf16>
// CHECK: %[[YH:.*]] = autopar.dot %[[XH]], %[[WH]], {{.*}} : tensor<4x8xbf16>, tensor<8x3xbf16> -> tensor<4x3xbf16>
// CHECK: %[[Y:.*]] = autopar.convert %[[YH]] : tensor<4x3xbf16> -> tensor<4x3xf32>
// CHECK: autopar.broadcast %[[B]]
// CHECK: autopar.add %[[Y]], {{.*}} : tensor<4x3xf32>
// CHECK: autopar.tanh {{.*}} : tensor<4x3xf32>
// CHECK-NOT: bf16
// CHECK: return
// F16-LABEL: func @loss(
// F16: autopar.dot {{.*}} : tensor<4x8xf16>, tensor<8x3xf16> -> tensor<4x3xf16>

// The gradients of the f32 master weights are f32; the backward pass's
// matrix product (the weight's gradient) runs in bf16 as well.
// GRAD-LABEL: func @fb(
// GRAD-SAME: -> (tensor<f32>, tensor<8x3xf32>, tensor<3xf32>)
// GRAD: %[[C:.*]] = autopar.convert %{{.*}} : tensor<4x3xf32> -> tensor<4x3xbf16>
// GRAD: %[[G:.*]] = autopar.dot %{{.*}}, %[[C]], {{.*}} : tensor<4x8xbf16>, tensor<4x3xbf16> -> tensor<8x3xbf16>
// GRAD: autopar.convert %{{.*}} : tensor<8x3xbf16> -> tensor<8x3xf32>
func.func @loss(%x: tensor<4x8xf32>, %w: tensor<8x3xf32> {autopar.role = "param"},
                %b: tensor<3xf32> {autopar.role = "param"}) -> tensor<f32> {
  %y = autopar.linear %x, %w, %b : tensor<4x8xf32>, tensor<8x3xf32>, tensor<3xf32> -> tensor<4x3xf32>
  %t = autopar.tanh %y : tensor<4x3xf32>
  %s = autopar.reduce sum %t, dims = [0, 1] : tensor<4x3xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

// Attention is decomposed so that its two matrix products run in bf16 while
// the softmax between them stays f32.
// CHECK-LABEL: func @loss(
// CHECK: autopar.dot {{.*}} : tensor<2x4x8xbf16>, tensor<2x4x8xbf16> -> tensor<2x4x4xbf16>
// CHECK: autopar.convert {{.*}} : tensor<2x4x4xbf16> -> tensor<2x4x4xf32>
// CHECK: autopar.softmax {{.*}} : tensor<2x4x4xf32>
// CHECK: autopar.convert {{.*}} : tensor<2x4x4xf32> -> tensor<2x4x4xbf16>
// CHECK: autopar.dot {{.*}} : tensor<2x4x4xbf16>, tensor<2x4x8xbf16> -> tensor<2x4x8xbf16>
func.func @loss(%q: tensor<2x4x8xf32> {autopar.role = "param"}) -> tensor<f32> {
  %a = autopar.attention %q, %q, %q {causal} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  %s = autopar.reduce sum %a, dims = [0, 1, 2] : tensor<2x4x8xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

// Contractions already narrow (or integer) stay as they are.
// CHECK-LABEL: func @loss(
// CHECK: autopar.dot %arg0, %arg1, {{.*}} : tensor<2x2xbf16>, tensor<2x2xbf16> -> tensor<2x2xbf16>
// CHECK: autopar.dot %arg2, %arg2, {{.*}} : tensor<2x2xi64>, tensor<2x2xi64> -> tensor<2x2xi64>
// CHECK-NOT: autopar.convert %arg
func.func @loss(%a: tensor<2x2xbf16>, %b: tensor<2x2xbf16>, %i: tensor<2x2xi64>) -> tensor<f32> {
  %c = autopar.dot %a, %b, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<2x2xbf16>, tensor<2x2xbf16> -> tensor<2x2xbf16>
  %d = autopar.dot %i, %i, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<2x2xi64>, tensor<2x2xi64> -> tensor<2x2xi64>
  %e = autopar.convert %c : tensor<2x2xbf16> -> tensor<2x2xf32>
  %f = autopar.convert %d : tensor<2x2xi64> -> tensor<2x2xf32>
  %g = autopar.add %e, %f : tensor<2x2xf32>
  %s = autopar.reduce sum %g, dims = [0, 1] : tensor<2x2xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

// expected-error @+1 {{autopar-mixed-precision: no function @loss}}
module {
  func.func @forward(%a: tensor<2xf32>) -> tensor<2xf32> {
    return %a : tensor<2xf32>
  }
}
