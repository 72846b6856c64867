// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-raise-composites))' | FileCheck %s

// Layer norm as torch exports it (opset 14), with keepdims reshapes.
// CHECK-LABEL: func @layer_norm
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>, %[[G:.*]]: tensor<4xf32>, %[[B:.*]]: tensor<4xf32>)
// CHECK-NEXT: %[[R:.*]] = autopar.layer_norm %[[X]], %[[G]], %[[B]], axis = 1, epsilon = 9.9999997473787516E-6 : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
// CHECK-NEXT: return %[[R]]
func.func @layer_norm(%x: tensor<2x4xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %two = autopar.constant dense<2.0> : tensor<f32>
  %eps = autopar.constant dense<1.0e-5> : tensor<f32>
  %m = autopar.reduce mean %x, dims = [1] : tensor<2x4xf32> -> tensor<2xf32>
  %mk = autopar.reshape %m : tensor<2xf32> -> tensor<2x1xf32>
  %mb = autopar.broadcast %mk, dims = [0, 1] : tensor<2x1xf32> -> tensor<2x4xf32>
  %d = autopar.sub %x, %mb : tensor<2x4xf32>
  %twob = autopar.broadcast %two, dims = [] : tensor<f32> -> tensor<2x4xf32>
  %p = autopar.pow %d, %twob : tensor<2x4xf32>
  %v = autopar.reduce mean %p, dims = [1] : tensor<2x4xf32> -> tensor<2xf32>
  %vk = autopar.reshape %v : tensor<2xf32> -> tensor<2x1xf32>
  %epsb = autopar.broadcast %eps, dims = [] : tensor<f32> -> tensor<2x1xf32>
  %ve = autopar.add %vk, %epsb : tensor<2x1xf32>
  %s = autopar.sqrt %ve : tensor<2x1xf32>
  %sb = autopar.broadcast %s, dims = [0, 1] : tensor<2x1xf32> -> tensor<2x4xf32>
  %n = autopar.div %d, %sb : tensor<2x4xf32>
  %gb = autopar.broadcast %g, dims = [1] : tensor<4xf32> -> tensor<2x4xf32>
  %ng = autopar.mul %n, %gb : tensor<2x4xf32>
  %bb = autopar.broadcast %b, dims = [1] : tensor<4xf32> -> tensor<2x4xf32>
  %r = autopar.add %ng, %bb : tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}

// -----

// A cube instead of a square is not a layer norm.
// CHECK-LABEL: func @not_layer_norm
// CHECK-NOT: autopar.layer_norm
// CHECK: autopar.pow
func.func @not_layer_norm(%x: tensor<2x4xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %three = autopar.constant dense<3.0> : tensor<2x4xf32>
  %eps = autopar.constant dense<1.0e-5> : tensor<2xf32>
  %m = autopar.reduce mean %x, dims = [1] : tensor<2x4xf32> -> tensor<2xf32>
  %mb = autopar.broadcast %m, dims = [0] : tensor<2xf32> -> tensor<2x4xf32>
  %d = autopar.sub %x, %mb : tensor<2x4xf32>
  %p = autopar.pow %d, %three : tensor<2x4xf32>
  %v = autopar.reduce mean %p, dims = [1] : tensor<2x4xf32> -> tensor<2xf32>
  %ve = autopar.add %v, %eps : tensor<2xf32>
  %s = autopar.sqrt %ve : tensor<2xf32>
  %sb = autopar.broadcast %s, dims = [0] : tensor<2xf32> -> tensor<2x4xf32>
  %n = autopar.div %d, %sb : tensor<2x4xf32>
  %gb = autopar.broadcast %g, dims = [1] : tensor<4xf32> -> tensor<2x4xf32>
  %ng = autopar.mul %n, %gb : tensor<2x4xf32>
  %bb = autopar.broadcast %b, dims = [1] : tensor<4xf32> -> tensor<2x4xf32>
  %r = autopar.add %ng, %bb : tensor<2x4xf32>
  return %r : tensor<2x4xf32>
}

// -----

// GELU, erf form, in torch's operand order and in another one.
// CHECK-LABEL: func @gelu
// CHECK-SAME: (%[[X:.*]]: tensor<3xf32>)
// CHECK-NEXT: %[[A:.*]] = autopar.gelu %[[X]] : tensor<3xf32>
// CHECK-NEXT: %[[B:.*]] = autopar.gelu %[[X]] : tensor<3xf32>
// CHECK-NEXT: return %[[A]], %[[B]]
func.func @gelu(%x: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xf32>) {
  %sqrt2 = autopar.constant dense<1.41421354> : tensor<3xf32>
  %one = autopar.constant dense<1.0> : tensor<3xf32>
  %half = autopar.constant dense<0.5> : tensor<3xf32>
  %inv = autopar.constant dense<0.707106769> : tensor<3xf32>
  %d = autopar.div %x, %sqrt2 : tensor<3xf32>
  %e = autopar.erf %d : tensor<3xf32>
  %a = autopar.add %e, %one : tensor<3xf32>
  %m = autopar.mul %x, %a : tensor<3xf32>
  %r = autopar.mul %m, %half : tensor<3xf32>
  %d2 = autopar.mul %inv, %x : tensor<3xf32>
  %e2 = autopar.erf %d2 : tensor<3xf32>
  %a2 = autopar.add %one, %e2 : tensor<3xf32>
  %m2 = autopar.mul %a2, %x : tensor<3xf32>
  %r2 = autopar.mul %half, %m2 : tensor<3xf32>
  return %r, %r2 : tensor<3xf32>, tensor<3xf32>
}

// -----

// GELU, tanh form, as torch exports gelu(approximate="tanh").
// CHECK-LABEL: func @gelu_tanh
// CHECK-SAME: (%[[X:.*]]: tensor<3xf32>)
// CHECK-NEXT: %[[R:.*]] = autopar.gelu %[[X]] approximate = tanh : tensor<3xf32>
// CHECK-NEXT: return %[[R]]
func.func @gelu_tanh(%x: tensor<3xf32>) -> tensor<3xf32> {
  %half = autopar.constant dense<0.5> : tensor<3xf32>
  %one = autopar.constant dense<1.0> : tensor<3xf32>
  %k = autopar.constant dense<0.797884583> : tensor<3xf32>
  %c = autopar.constant dense<0.044715> : tensor<3xf32>
  %sq = autopar.mul %x, %x : tensor<3xf32>
  %cube = autopar.mul %x, %sq : tensor<3xf32>
  %t = autopar.mul %c, %cube : tensor<3xf32>
  %p = autopar.add %x, %t : tensor<3xf32>
  %s = autopar.mul %k, %p : tensor<3xf32>
  %th = autopar.tanh %s : tensor<3xf32>
  %a = autopar.add %one, %th : tensor<3xf32>
  %m = autopar.mul %x, %a : tensor<3xf32>
  %r = autopar.mul %half, %m : tensor<3xf32>
  return %r : tensor<3xf32>
}

// -----

// x * (1 + erf(x / 2)) * 0.5 has the wrong constant: left alone.
// CHECK-LABEL: func @not_gelu
// CHECK-NOT: autopar.gelu
// CHECK: autopar.erf
func.func @not_gelu(%x: tensor<3xf32>) -> tensor<3xf32> {
  %two = autopar.constant dense<2.0> : tensor<3xf32>
  %one = autopar.constant dense<1.0> : tensor<3xf32>
  %half = autopar.constant dense<0.5> : tensor<3xf32>
  %d = autopar.div %x, %two : tensor<3xf32>
  %e = autopar.erf %d : tensor<3xf32>
  %a = autopar.add %e, %one : tensor<3xf32>
  %m = autopar.mul %x, %a : tensor<3xf32>
  %r = autopar.mul %m, %half : tensor<3xf32>
  return %r : tensor<3xf32>
}

// -----

// Attention with the key given transposed, q pre-scaled and an additive mask.
// CHECK-LABEL: func @attention
// CHECK-SAME: (%[[Q:.*]]: tensor<2x5x4xf32>, %[[K:.*]]: tensor<2x6x4xf32>, %[[V:.*]]: tensor<2x6x3xf32>, %[[M:.*]]: tensor<2x5x6xf32>)
// CHECK-NEXT: %[[A:.*]] = autopar.attention %[[Q]], %[[K]], %[[V]] mask %[[M]] {scale = 5.000000e-01 : f64}
// CHECK-NEXT: return %[[A]]
func.func @attention(%q: tensor<2x5x4xf32>, %k: tensor<2x6x4xf32>, %v: tensor<2x6x3xf32>, %mask: tensor<2x5x6xf32>) -> tensor<2x5x3xf32> {
  %c = autopar.constant dense<2.0> : tensor<2x5x4xf32>
  %qs = autopar.div %q, %c : tensor<2x5x4xf32>
  %kt = autopar.transpose %k, perm = [0, 2, 1] : tensor<2x6x4xf32> -> tensor<2x4x6xf32>
  %s = autopar.dot %qs, %kt, batch_dims = [0] x [0], contracting_dims = [2] x [1] : tensor<2x5x4xf32>, tensor<2x4x6xf32> -> tensor<2x5x6xf32>
  %sm = autopar.add %s, %mask : tensor<2x5x6xf32>
  %p = autopar.softmax %sm, axis = 2 : tensor<2x5x6xf32>
  %o = autopar.dot %p, %v, batch_dims = [0] x [0], contracting_dims = [2] x [1] : tensor<2x5x6xf32>, tensor<2x6x3xf32> -> tensor<2x5x3xf32>
  return %o : tensor<2x5x3xf32>
}

// -----

// Softmax over the wrong axis is not attention.
// CHECK-LABEL: func @not_attention
// CHECK-NOT: autopar.attention
func.func @not_attention(%q: tensor<2x5x4xf32>, %kt: tensor<2x4x5xf32>, %v: tensor<2x5x3xf32>) -> tensor<2x5x3xf32> {
  %s = autopar.dot %q, %kt, batch_dims = [0] x [0], contracting_dims = [2] x [1] : tensor<2x5x4xf32>, tensor<2x4x5xf32> -> tensor<2x5x5xf32>
  %p = autopar.softmax %s, axis = 1 : tensor<2x5x5xf32>
  %o = autopar.dot %p, %v, batch_dims = [0] x [0], contracting_dims = [2] x [1] : tensor<2x5x5xf32>, tensor<2x5x3xf32> -> tensor<2x5x3xf32>
  return %o : tensor<2x5x3xf32>
}

// -----

// A matrix product plus a broadcast bias is a linear layer.
// CHECK-LABEL: func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x8xf32>, %[[W:.*]]: tensor<16x8xf32>, %[[B:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[R:.*]] = autopar.linear %[[X]], %[[W]], %[[B]] {weight_transposed}
// CHECK-NEXT: return %[[R]]
func.func @linear(%x: tensor<2x3x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<2x3x16xf32> {
  %d = autopar.dot %x, %w, batch_dims = [] x [], contracting_dims = [2] x [1] : tensor<2x3x8xf32>, tensor<16x8xf32> -> tensor<2x3x16xf32>
  %bb = autopar.broadcast %b, dims = [2] : tensor<16xf32> -> tensor<2x3x16xf32>
  %r = autopar.add %bb, %d : tensor<2x3x16xf32>
  return %r : tensor<2x3x16xf32>
}

// -----

// A bias broadcast along the wrong dimension is not a linear bias.
// CHECK-LABEL: func @not_linear
// CHECK-NOT: autopar.linear
func.func @not_linear(%x: tensor<4x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<4x4xf32> {
  %d = autopar.dot %x, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x8xf32>, tensor<8x4xf32> -> tensor<4x4xf32>
  %bb = autopar.broadcast %b, dims = [0] : tensor<4xf32> -> tensor<4x4xf32>
  %r = autopar.add %d, %bb : tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}
