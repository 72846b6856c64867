// RUN: autopar-opt %s -split-input-file --autopar-autodiff -verify-diagnostics --allow-unregistered-dialect | FileCheck %s

// The gradient function returns the loss, then d loss / d param for each
// argument marked as a parameter, in order; x is not a parameter.
// CHECK-LABEL: func @loss(
// CHECK-LABEL: func @loss_grad(
// CHECK-SAME: %[[X:.*]]: tensor<4x3xf32> {autopar.role = "input"}, %[[W:.*]]: tensor<3x2xf32> {autopar.role = "param"}, %[[B:.*]]: tensor<2xf32> {autopar.role = "param"})
// CHECK-SAME: -> (tensor<f32>, tensor<3x2xf32>, tensor<2xf32>)
// CHECK: %[[Y:.*]] = autopar.dot %[[X]], %[[W]]
// CHECK: %[[L:.*]] = autopar.reduce sum
// The seed, d loss / d loss = 1.
// CHECK: autopar.constant dense<1.000000e+00> : tensor<f32>
// d b: the broadcast's cotangent summed over the batch.
// CHECK: %[[DB:.*]] = autopar.reduce sum %{{.*}}, dims = [0] : tensor<4x2xf32> -> tensor<2xf32>
// x is not differentiated: no dot computes its cotangent (g w^T).
// CHECK-NOT: contracting_dims = [1] x [1]
// d w = x^T g: a dot contracting the batch dimension of x and g.
// CHECK: %[[DW:.*]] = autopar.dot %[[X]], %{{.*}}, batch_dims = [] x [], contracting_dims = [0] x [0] : tensor<4x3xf32>, tensor<4x2xf32> -> tensor<3x2xf32>
// CHECK: return %[[L]], %{{.*}}, %[[DB]] : tensor<f32>, tensor<3x2xf32>, tensor<2xf32>
func.func @loss(%x: tensor<4x3xf32> {autopar.role = "input"}, %w: tensor<3x2xf32> {autopar.role = "param"},
                %b: tensor<2xf32> {autopar.role = "param"}) -> tensor<f32> {
  %h = autopar.linear %x, %w, %b : tensor<4x3xf32>, tensor<3x2xf32>, tensor<2xf32> -> tensor<4x2xf32>
  %t = autopar.tanh %h : tensor<4x2xf32>
  %l = autopar.reduce sum %t, dims = [0, 1] : tensor<4x2xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A parameter the loss does not use gets a zero gradient.
// CHECK-LABEL: func @unused_grad(
// CHECK: %[[Z:.*]] = autopar.constant dense<0.000000e+00> : tensor<3xf32>
// CHECK: return %{{.*}}, %{{.*}}, %[[Z]]
func.func @unused(%x: tensor<3xf32> {autopar.role = "param"}, %u: tensor<3xf32> {autopar.role = "param"}) -> tensor<f32> {
  %l = autopar.reduce sum %x, dims = [0] : tensor<3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// expected-error @+1 {{'func.func' op autopar-autodiff needs exactly one result, a scalar floating-point loss (tensor<f32>), got 'tensor<3xf32>'}}
func.func @not_scalar(%x: tensor<3xf32>) -> tensor<3xf32> {
  return %x : tensor<3xf32>
}

// -----

// An embedding's gradient scatters the cotangent back into the table.
// CHECK-LABEL: func @embedding_grad(
// CHECK: autopar.scatter_add %{{.*}}, %{{.*}}, %{{.*}}, axis = 0 : tensor<10x4xf32>, tensor<3xi64>, tensor<3x4xf32> -> tensor<10x4xf32>
func.func @embedding(%t: tensor<10x4xf32>, %i: tensor<3xi64>) -> tensor<f32> {
  %e = autopar.embedding %t, %i : tensor<10x4xf32>, tensor<3xi64> -> tensor<3x4xf32>
  %l = autopar.reduce sum %e, dims = [0, 1] : tensor<3x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A table both looked up and used as a tied output head: its gradient is
// the lookup's rows scattered into the head's gradient, not into zeros
// added to it after.
// CHECK-LABEL: func @tied_grad(
// CHECK: %[[HEAD:.*]] = autopar.transpose %{{.*}}, perm = [1, 0] : tensor<4x10xf32> -> tensor<10x4xf32>
// CHECK: %[[G:.*]] = autopar.scatter_add %[[HEAD]], %arg1, %{{.*}}, axis = 0 : tensor<10x4xf32>, tensor<3xi64>, tensor<3x4xf32> -> tensor<10x4xf32>
// CHECK-NOT: autopar.add
// CHECK: return %{{.*}}, %[[G]]
func.func @tied(%t: tensor<10x4xf32>, %i: tensor<3xi64>) -> tensor<f32> {
  %e = autopar.embedding %t, %i : tensor<10x4xf32>, tensor<3xi64> -> tensor<3x4xf32>
  %h = autopar.dot %e, %t, batch_dims = [] x [], contracting_dims = [1] x [1] : tensor<3x4xf32>, tensor<10x4xf32> -> tensor<3x10xf32>
  %l = autopar.reduce sum %h, dims = [0, 1] : tensor<3x10xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// softmax and log_softmax keep their own VJPs (attention and cross_entropy
// decompose into them): dx = y (g - sum(g y)) and dx = g - exp(y) sum(g),
// nothing through the max, exp and divide of their decomposition.
// CHECK-LABEL: func @softmaxes_grad(
// CHECK: %[[Y:.*]] = autopar.softmax %{{.*}}, axis = 1 : tensor<4x8xf32>
// CHECK: %[[LY:.*]] = autopar.log_softmax %[[Y]], axis = 1 : tensor<4x8xf32>
// CHECK-NOT: reduce max
// CHECK: %[[S:.*]] = autopar.reduce sum %[[G:.*]], dims = [1] : tensor<4x8xf32> -> tensor<4xf32>
// CHECK: %[[SB:.*]] = autopar.broadcast %[[S]], dims = [0] : tensor<4xf32> -> tensor<4x8xf32>
// CHECK: %[[E:.*]] = autopar.exp %[[LY]]
// CHECK: %[[ES:.*]] = autopar.mul %[[E]], %[[SB]]
// CHECK: %[[DY:.*]] = autopar.sub %[[G]], %[[ES]]
// CHECK: %[[GY:.*]] = autopar.mul %[[DY]], %[[Y]]
// CHECK: %[[T:.*]] = autopar.reduce sum %[[GY]], dims = [1]
// CHECK: %[[TB:.*]] = autopar.broadcast %[[T]], dims = [0]
// CHECK: %[[GT:.*]] = autopar.sub %[[DY]], %[[TB]]
// CHECK: %[[DX:.*]] = autopar.mul %[[Y]], %[[GT]]
// CHECK-NOT: compare
// CHECK: return %{{.*}}, %[[DX]]
func.func @softmaxes(%x: tensor<4x8xf32> {autopar.role = "param"}) -> tensor<f32> {
  %y = autopar.softmax %x, axis = 1 : tensor<4x8xf32>
  %ly = autopar.log_softmax %y, axis = 1 : tensor<4x8xf32>
  %l = autopar.reduce sum %ly, dims = [0, 1] : tensor<4x8xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @no_rule(%x: tensor<3xf32>) -> tensor<f32> {
  %y = "test.unknown"(%x) : (tensor<3xf32>) -> tensor<3xf32>
  // expected-error @-1 {{'test.unknown' op has no VJP rule; autopar-autodiff cannot differentiate through it}}
  %l = autopar.reduce sum %y, dims = [0] : tensor<3xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @strided(%x: tensor<8xf32>) -> tensor<f32> {
  // expected-error @+1 {{'autopar.slice' op has no VJP for strides other than 1 yet (it needs a scatter op)}}
  %s = autopar.slice %x, start = [0], limit = [8], strides = [2] : tensor<8xf32> -> tensor<4xf32>
  %l = autopar.reduce sum %s, dims = [0] : tensor<4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A select's mask that compares broadcasts (the cross-entropy's one-hot of
// the labels) is computed again for the backward pass, not kept: each copy
// fuses into the loop that reads it. A mask computed otherwise is reused.
// CHECK-LABEL: func.func @loss_grad(
// CHECK: %[[M1:.*]] = autopar.compare eq
// CHECK: autopar.select %[[M1]]
// CHECK: %[[R:.*]] = autopar.compare gt, %arg0
// CHECK: autopar.select %[[R]]
// CHECK: autopar.select %[[R]]
// CHECK: %[[M2:.*]] = autopar.compare eq
// CHECK: autopar.select %[[M2]]
// CHECK-NOT: autopar.compare
func.func @loss(%x: tensor<2x5xf32> {autopar.role = "param"}, %l: tensor<2xi64>) -> tensor<f32> {
  %iota = autopar.constant dense<[0, 1, 2, 3, 4]> : tensor<5xi64>
  %c = autopar.broadcast %iota, dims = [1] : tensor<5xi64> -> tensor<2x5xi64>
  %b = autopar.broadcast %l, dims = [0] : tensor<2xi64> -> tensor<2x5xi64>
  %m = autopar.compare eq, %c, %b : tensor<2x5xi64>
  %z = autopar.constant dense<0.0> : tensor<2x5xf32>
  %p = autopar.select %m, %x, %z : tensor<2x5xi1>, tensor<2x5xf32>
  %r = autopar.compare gt, %x, %z : tensor<2x5xf32>
  %q = autopar.select %r, %p, %z : tensor<2x5xi1>, tensor<2x5xf32>
  %s = autopar.reduce sum %q, dims = [0, 1] : tensor<2x5xf32> -> tensor<f32>
  return %s : tensor<f32>
}

// -----

// The cotangents of slices that split a tensor (a fused qkv projection's q,
// k and v) add up to one concatenation of the three, not to a sum of
// zero-padded copies.
// CHECK-LABEL: func.func @loss_grad(
// CHECK: %[[Q:.*]] = autopar.mul %{{.*}}, %{{.*}} : tensor<2x4xf32>
// CHECK-NOT: autopar.add
// CHECK-NOT: autopar.constant dense<0.0
// CHECK: %[[G:.*]] = autopar.concat(%{{.*}}, %{{.*}}, %{{.*}}) dim = 1 : tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x4xf32> -> tensor<2x12xf32>
// CHECK-NEXT: return %{{.*}}, %[[G]]
func.func @loss(%x: tensor<2x12xf32> {autopar.role = "param"}) -> tensor<f32> {
  %q = autopar.slice %x, start = [0, 0], limit = [2, 4], strides = [1, 1] : tensor<2x12xf32> -> tensor<2x4xf32>
  %k = autopar.slice %x, start = [0, 4], limit = [2, 8], strides = [1, 1] : tensor<2x12xf32> -> tensor<2x4xf32>
  %v = autopar.slice %x, start = [0, 8], limit = [2, 12], strides = [1, 1] : tensor<2x12xf32> -> tensor<2x4xf32>
  %qk = autopar.mul %q, %k : tensor<2x4xf32>
  %s = autopar.mul %qk, %v : tensor<2x4xf32>
  %l = autopar.reduce sum %s, dims = [0, 1] : tensor<2x4xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// Overlapping slices: the padded cotangents are added (a piece would have
// to be cut to line them up). Two slices of the same range: their pieces
// line up, and the ones that are not zeros are added.
// CHECK-LABEL: func.func @loss_grad(
// CHECK: %[[S:.*]] = autopar.add %{{.*}}, %{{.*}} : tensor<2x4xf32>
// CHECK: %[[Y:.*]] = autopar.concat(%{{.*}}, %[[S]]) dim = 1 : tensor<2x8xf32>, tensor<2x4xf32> -> tensor<2x12xf32>
// CHECK: %[[A:.*]] = autopar.concat
// CHECK: %[[B:.*]] = autopar.concat
// CHECK: %[[X:.*]] = autopar.add %[[A]], %[[B]] : tensor<2x12xf32>
// CHECK: return %{{.*}}, %[[X]], %[[Y]]
func.func @loss(%x: tensor<2x12xf32> {autopar.role = "param"}, %y: tensor<2x12xf32> {autopar.role = "param"}) -> tensor<f32> {
  %a = autopar.slice %x, start = [0, 0], limit = [2, 6], strides = [1, 1] : tensor<2x12xf32> -> tensor<2x6xf32>
  %b = autopar.slice %x, start = [0, 4], limit = [2, 10], strides = [1, 1] : tensor<2x12xf32> -> tensor<2x6xf32>
  %ab = autopar.mul %a, %b : tensor<2x6xf32>
  %l1 = autopar.reduce sum %ab, dims = [0, 1] : tensor<2x6xf32> -> tensor<f32>
  %c = autopar.slice %y, start = [0, 8], limit = [2, 12], strides = [1, 1] : tensor<2x12xf32> -> tensor<2x4xf32>
  %d = autopar.slice %y, start = [0, 8], limit = [2, 12], strides = [1, 1] : tensor<2x12xf32> -> tensor<2x4xf32>
  %cd = autopar.mul %c, %d : tensor<2x4xf32>
  %l2 = autopar.reduce sum %cd, dims = [0, 1] : tensor<2x4xf32> -> tensor<f32>
  %l = autopar.add %l1, %l2 : tensor<f32>
  return %l : tensor<f32>
}
