// autopar-autodiff / autopar-mixed-precision with keep-attention: an
// attention without a mask stays whole and its gradient is one
// autopar.attention_grad (the CUDA backend's fused kernels run both);
// a masked attention is decomposed as before.
// RUN: autopar-opt %s -split-input-file --autopar-autodiff="keep-attention=true" -verify-diagnostics | FileCheck %s
// RUN: autopar-opt %s -split-input-file --autopar-mixed-precision="keep-attention=true" --autopar-autodiff="entry=loss name=fb keep-attention=true" -verify-diagnostics | FileCheck %s --check-prefix=BF16
// RUN: autopar-opt %s -split-input-file --autopar-mixed-precision --autopar-autodiff="entry=loss name=fb" | FileCheck %s --check-prefix=DEFAULT

// CHECK-LABEL: func.func @loss_grad(
// CHECK-SAME: %[[Q:[^:]+]]: tensor<2x4x8xf32>
// CHECK: %[[O:.*]] = autopar.attention %[[Q]], %[[Q]], %[[Q]] {causal, scale = 5.000000e-01 : f64}
// CHECK-NOT: autopar.softmax
// CHECK: = autopar.attention_grad %[[Q]], %[[Q]], %[[Q]], %[[O]], %{{.*}} {causal, scale = 5.000000e-01 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32>
// CHECK-NOT: autopar.dot

// BF16-LABEL: func.func @fb(
// BF16: %[[Q:.*]] = autopar.convert %arg0 : tensor<2x4x8xf32> -> tensor<2x4x8xbf16>
// BF16: %[[O:.*]] = autopar.attention %[[Q]], %{{.*}}, %{{.*}} {causal, scale = 5.000000e-01 : f64} : tensor<2x4x8xbf16>, tensor<2x4x8xbf16>, tensor<2x4x8xbf16> -> tensor<2x4x8xbf16>
// BF16: autopar.convert %[[O]] : tensor<2x4x8xbf16> -> tensor<2x4x8xf32>
// BF16: %[[DQ:[^ ,]+]], %{{[^ ,]+}}, %{{[^ ,]+}} = autopar.attention_grad {{.*}}, %[[O]], %{{.*}} {causal, scale = 5.000000e-01 : f64} : tensor<2x4x8xbf16>
// BF16: autopar.convert %[[DQ]] : tensor<2x4x8xbf16> -> tensor<2x4x8xf32>

// Without the option, the attention is decomposed into bf16 products.
// DEFAULT-LABEL: func.func @fb(
// DEFAULT-NOT: autopar.attention
// DEFAULT: autopar.dot {{.*}} -> tensor<2x4x4xbf16>
func.func @loss(%q: tensor<2x4x8xf32> {autopar.role = "param"}) -> tensor<f32> {
  %a = autopar.attention %q, %q, %q {causal, scale = 0.5 : f64} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  %s = autopar.reduce sum %a, dims = [0, 1, 2] : tensor<2x4x8xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

// A mask operand: decomposed (attention_grad has none).
// CHECK-LABEL: func.func @loss_grad(
// CHECK-NOT: autopar.attention
// CHECK: autopar.softmax
// BF16-LABEL: func.func @fb(
// BF16-NOT: autopar.attention
// BF16: autopar.dot {{.*}} -> tensor<4x4xbf16>
func.func @loss(%q: tensor<4x8xf32> {autopar.role = "param"}, %m: tensor<4x4xf32>) -> tensor<f32> {
  %a = autopar.attention %q, %q, %q mask %m : tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x4xf32> -> tensor<4x8xf32>
  %s = autopar.reduce sum %a, dims = [0, 1] : tensor<4x8xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

// A reshape between a conversion and the op that consumes or makes its
// value moves to the conversion's other side, so that the conversion fuses
// with its neighbour when lowered: the attention's output widened to f32,
// transposed and narrowed again for the projection becomes one
// widen-transpose-narrow, its reshape after it; transposes stay in place.
// BF16-LABEL: func.func @fb(
// BF16: %[[QT:.*]] = autopar.transpose %arg0, perm = [1, 0, 2] : tensor<4x2x8xf32> -> tensor<2x4x8xf32>
// BF16: %[[QN:.*]] = autopar.convert %[[QT]] : tensor<2x4x8xf32> -> tensor<2x4x8xbf16>
// BF16: %[[O:.*]] = autopar.attention %[[QN]], %{{.*}}, %{{.*}} {causal}
// BF16: %[[W:.*]] = autopar.convert %[[O]] : tensor<2x4x8xbf16> -> tensor<2x4x8xf32>
// BF16: %[[OT:.*]] = autopar.transpose %[[W]], perm = [1, 0, 2] : tensor<2x4x8xf32> -> tensor<4x2x8xf32>
// BF16: %[[N:.*]] = autopar.convert %[[OT]] : tensor<4x2x8xf32> -> tensor<4x2x8xbf16>
// BF16: %[[OR:.*]] = autopar.reshape %[[N]] : tensor<4x2x8xbf16> -> tensor<4x16xbf16>
// BF16: autopar.dot %[[OR]], %{{.*}} : tensor<4x16xbf16>, tensor<16x4xbf16> -> tensor<4x4xbf16>
func.func @loss(%p: tensor<4x2x8xf32> {autopar.role = "param"}, %w: tensor<16x4xf32> {autopar.role = "param"}) -> tensor<f32> {
  %q = autopar.transpose %p, perm = [1, 0, 2] : tensor<4x2x8xf32> -> tensor<2x4x8xf32>
  %k = autopar.transpose %p, perm = [1, 0, 2] : tensor<4x2x8xf32> -> tensor<2x4x8xf32>
  %v = autopar.transpose %p, perm = [1, 0, 2] : tensor<4x2x8xf32> -> tensor<2x4x8xf32>
  %a = autopar.attention %q, %k, %v {causal} : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  %t = autopar.transpose %a, perm = [1, 0, 2] : tensor<2x4x8xf32> -> tensor<4x2x8xf32>
  %r = autopar.reshape %t : tensor<4x2x8xf32> -> tensor<4x16xf32>
  %y = autopar.dot %r, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x16xf32>, tensor<16x4xf32> -> tensor<4x4xf32>
  %s = autopar.reduce sum %y, dims = [0, 1] : tensor<4x4xf32> -> tensor<f32>
  return %s : tensor<f32>
}
