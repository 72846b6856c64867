// RUN: autopar-opt %s -canonicalize -split-input-file | FileCheck %s

// CHECK-LABEL: func @add_zero
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-NEXT: return %[[X]], %[[X]]
func.func @add_zero(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %z = autopar.constant dense<0.0> : tensor<4xf32>
  %0 = autopar.add %x, %z : tensor<4xf32>
  %1 = autopar.add %z, %x : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// CHECK-LABEL: func @sub_zero_mul_one_div_one
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xi64>)
// CHECK-NEXT: return %[[X]], %[[X]], %[[X]]
func.func @sub_zero_mul_one_div_one(%x: tensor<2x3xi64>) -> (tensor<2x3xi64>, tensor<2x3xi64>, tensor<2x3xi64>) {
  %z = autopar.constant dense<0> : tensor<2x3xi64>
  %o = autopar.constant dense<1> : tensor<2x3xi64>
  %0 = autopar.sub %x, %z : tensor<2x3xi64>
  %1 = autopar.mul %o, %x : tensor<2x3xi64>
  %2 = autopar.div %x, %o : tensor<2x3xi64>
  return %0, %1, %2 : tensor<2x3xi64>, tensor<2x3xi64>, tensor<2x3xi64>
}

// -----

// x * 0 is not folded: it is NaN for x = NaN or inf.
// CHECK-LABEL: func @mul_zero_kept
// CHECK: autopar.mul
func.func @mul_zero_kept(%x: tensor<4xf32>) -> tensor<4xf32> {
  %z = autopar.constant dense<0.0> : tensor<4xf32>
  %0 = autopar.mul %x, %z : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// Division by a zero constant is left for run time, never folded.
// CHECK-LABEL: func @div_by_zero_kept
// CHECK: autopar.div
func.func @div_by_zero_kept() -> tensor<2xi32> {
  %a = autopar.constant dense<4> : tensor<2xi32>
  %z = autopar.constant dense<0> : tensor<2xi32>
  %0 = autopar.div %a, %z : tensor<2xi32>
  return %0 : tensor<2xi32>
}

// -----

// CHECK-LABEL: func @constant_fold
// CHECK-NEXT: %[[C:.*]] = autopar.constant dense<[4.000000e+00, 6.000000e+00]> : tensor<2xf32>
// CHECK-NEXT: return %[[C]]
func.func @constant_fold() -> tensor<2xf32> {
  %a = autopar.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %b = autopar.constant dense<[3.0, 4.0]> : tensor<2xf32>
  %s = autopar.add %a, %b : tensor<2xf32>
  %two = autopar.constant dense<2.0> : tensor<2xf32>
  %m = autopar.mul %s, %two : tensor<2xf32>
  %r = autopar.sub %m, %s : tensor<2xf32>
  return %r : tensor<2xf32>
}

// -----

// CHECK-LABEL: func @neg_neg
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-NEXT: return %[[X]]
func.func @neg_neg(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = autopar.neg %x : tensor<4xf32>
  %1 = autopar.neg %0 : tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

// CHECK-LABEL: func @transpose_transpose
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x4xf32>)
// CHECK-NEXT: %[[T:.*]] = autopar.transpose %[[X]], perm = [1, 2, 0] : tensor<2x3x4xf32> -> tensor<3x4x2xf32>
// CHECK-NEXT: return %[[T]], %[[X]]
func.func @transpose_transpose(%x: tensor<2x3x4xf32>) -> (tensor<3x4x2xf32>, tensor<2x3x4xf32>) {
  // [2,0,1] then [2,0,1] composes to [1,2,0].
  %0 = autopar.transpose %x, perm = [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
  %1 = autopar.transpose %0, perm = [2, 0, 1] : tensor<4x2x3xf32> -> tensor<3x4x2xf32>
  // [1,0,2] twice is the identity.
  %2 = autopar.transpose %x, perm = [1, 0, 2] : tensor<2x3x4xf32> -> tensor<3x2x4xf32>
  %3 = autopar.transpose %2, perm = [1, 0, 2] : tensor<3x2x4xf32> -> tensor<2x3x4xf32>
  return %1, %3 : tensor<3x4x2xf32>, tensor<2x3x4xf32>
}

// -----

// CHECK-LABEL: func @transpose_identity
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: return %[[X]]
func.func @transpose_identity(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = autopar.transpose %x, perm = [0, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func @reshape_reshape
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x4xf32>)
// CHECK-NEXT: %[[R:.*]] = autopar.reshape %[[X]] : tensor<2x3x4xf32> -> tensor<4x6xf32>
// CHECK-NEXT: return %[[R]], %[[X]]
func.func @reshape_reshape(%x: tensor<2x3x4xf32>) -> (tensor<4x6xf32>, tensor<2x3x4xf32>) {
  %0 = autopar.reshape %x : tensor<2x3x4xf32> -> tensor<24xf32>
  %1 = autopar.reshape %0 : tensor<24xf32> -> tensor<4x6xf32>
  %2 = autopar.reshape %1 : tensor<4x6xf32> -> tensor<2x3x4xf32>
  return %1, %2 : tensor<4x6xf32>, tensor<2x3x4xf32>
}

// -----

// CHECK-LABEL: func @reshape_constant
// CHECK-NEXT: autopar.constant dense<{{\[\[}}1, 2], [3, 4]]> : tensor<2x2xi32>
func.func @reshape_constant() -> tensor<2x2xi32> {
  %c = autopar.constant dense<[1, 2, 3, 4]> : tensor<4xi32>
  %0 = autopar.reshape %c : tensor<4xi32> -> tensor<2x2xi32>
  return %0 : tensor<2x2xi32>
}

// -----

// CHECK-LABEL: func @broadcast_same_shape
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: return %[[X]]
func.func @broadcast_same_shape(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = autopar.broadcast %x, dims = [0, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func @broadcast_splat
// CHECK-NEXT: %[[C:.*]] = autopar.constant dense<2.500000e+00> : tensor<4x3xf32>
// CHECK-NEXT: return %[[C]]
func.func @broadcast_splat() -> tensor<4x3xf32> {
  %c = autopar.constant dense<2.5> : tensor<3xf32>
  %0 = autopar.broadcast %c, dims = [1] : tensor<3xf32> -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

// CHECK-LABEL: func @identities
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: return %[[X]], %[[X]], %[[X]], %[[X]]
func.func @identities(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %0 = autopar.convert %x : tensor<2x3xf32> -> tensor<2x3xf32>
  %1 = autopar.slice %x, start = [0, 0], limit = [2, 3], strides = [1, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  %2 = autopar.concat(%x) dim = 0 : tensor<2x3xf32> -> tensor<2x3xf32>
  %3 = autopar.reduce sum %x, dims = [] : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0, %1, %2, %3 : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}

// -----

// A value widened to a float that holds it exactly and narrowed back is
// itself; not so through a narrower float (bf16 -> f16 loses range), or
// narrowed first (f32 -> bf16 -> f32 rounds).
// CHECK-LABEL: func @convert_round_trips
// CHECK-SAME: (%[[B:.*]]: tensor<4xbf16>, %[[F:.*]]: tensor<4xf32>)
// CHECK: %[[H:.*]] = autopar.convert %[[B]] : tensor<4xbf16> -> tensor<4xf16>
// CHECK: %[[HB:.*]] = autopar.convert %[[H]] : tensor<4xf16> -> tensor<4xbf16>
// CHECK: %[[N:.*]] = autopar.convert %[[F]] : tensor<4xf32> -> tensor<4xbf16>
// CHECK: %[[NF:.*]] = autopar.convert %[[N]] : tensor<4xbf16> -> tensor<4xf32>
// CHECK: return %[[B]], %[[HB]], %[[NF]]
func.func @convert_round_trips(%b: tensor<4xbf16>, %f: tensor<4xf32>) -> (tensor<4xbf16>, tensor<4xbf16>, tensor<4xf32>) {
  %0 = autopar.convert %b : tensor<4xbf16> -> tensor<4xf32>
  %1 = autopar.convert %0 : tensor<4xf32> -> tensor<4xbf16>
  %2 = autopar.convert %b : tensor<4xbf16> -> tensor<4xf16>
  %3 = autopar.convert %2 : tensor<4xf16> -> tensor<4xbf16>
  %4 = autopar.convert %f : tensor<4xf32> -> tensor<4xbf16>
  %5 = autopar.convert %4 : tensor<4xbf16> -> tensor<4xf32>
  return %1, %3, %5 : tensor<4xbf16>, tensor<4xbf16>, tensor<4xf32>
}
