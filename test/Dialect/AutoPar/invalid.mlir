// One case per verifier message of the autopar dialect.
// RUN: autopar-opt %s -split-input-file -verify-diagnostics

func.func @constant_sparse() -> tensor<2xf32> {
  // expected-error @+1 {{value must be a dense or dense_resource elements attribute}}
  %0 = autopar.constant sparse<[[0]], [1.0]> : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @dynamic_shape(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{must be statically shaped tensor}}
  %0 = autopar.exp %x : tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

func.func @int_exp(%x: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @+1 {{must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %0 = autopar.exp %x : tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

func.func @binary_mismatch(%a: tensor<4xf32>, %b: tensor<3xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{all non-scalar operands/results must have the same shape and base type}}
  %0 = "autopar.add"(%a, %b) : (tensor<4xf32>, tensor<3xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @compare_unranked(%a: tensor<*xf32>) {
  // expected-error @+1 {{operand #0 must be statically shaped tensor}}
  %0 = "autopar.compare"(%a, %a) <{direction = 2 : i32}> : (tensor<*xf32>, tensor<*xf32>) -> tensor<*xi1>
  return
}

// -----

func.func @compare_result(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{result #0 must be statically shaped tensor of 1-bit signless integer values, but got 'tensor<4xf32>'}}
  %0 = "autopar.compare"(%a, %a) <{direction = 2 : i32}> : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @select_shape(%p: tensor<3xi1>, %a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{all non-scalar operands/results must have the same shape and base type}}
  %0 = autopar.select %p, %a, %a : tensor<3xi1>, tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @convert_shape(%a: tensor<4xf32>) -> tensor<2x2xf16> {
  // expected-error @+1 {{all non-scalar operands/results must have the same shape and base type}}
  %0 = autopar.convert %a : tensor<4xf32> -> tensor<2x2xf16>
  return %0 : tensor<2x2xf16>
}

// -----

func.func @dot_types(%a: tensor<2x3xf32>, %b: tensor<3x4xf64>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'autopar.dot' op operands have different element types}}
  %0 = autopar.dot %a, %b, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<2x3xf32>, tensor<3x4xf64> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @dot_batch_count(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'autopar.dot' op lhs has 1 batch dimensions but rhs has 0}}
  %0 = autopar.dot %a, %b, batch_dims = [0] x [], contracting_dims = [1] x [1] : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @dot_contract_count(%a: tensor<2x3xf32>, %b: tensor<3x2xf32>) -> tensor<f32> {
  // expected-error @+1 {{'autopar.dot' op lhs has 2 contracting dimensions but rhs has 1}}
  %0 = autopar.dot %a, %b, batch_dims = [] x [], contracting_dims = [0, 1] x [0] : tensor<2x3xf32>, tensor<3x2xf32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @dot_range(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'autopar.dot' op lhs contracting dimension 2 is out of range for rank 2}}
  %0 = autopar.dot %a, %b, batch_dims = [] x [], contracting_dims = [2] x [0] : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @dot_repeat(%a: tensor<3x3xf32>, %b: tensor<3x3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{'autopar.dot' op lhs contracting dimension 0 appears more than once}}
  %0 = autopar.dot %a, %b, batch_dims = [0] x [0], contracting_dims = [0] x [1] : tensor<3x3xf32>, tensor<3x3xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

func.func @dot_contract_size(%a: tensor<2x3xf32>, %b: tensor<4x5xf32>) -> tensor<2x5xf32> {
  // expected-error @+1 {{'autopar.dot' op contracting dimension sizes differ: lhs dimension 1 has 3, rhs dimension 0 has 4}}
  %0 = autopar.dot %a, %b, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<2x3xf32>, tensor<4x5xf32> -> tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

func.func @dot_batch_size(%a: tensor<2x3x4xf32>, %b: tensor<5x4x6xf32>) -> tensor<2x3x6xf32> {
  // expected-error @+1 {{'autopar.dot' op batch dimension sizes differ: lhs dimension 0 has 2, rhs dimension 0 has 5}}
  %0 = autopar.dot %a, %b, batch_dims = [0] x [0], contracting_dims = [2] x [1] : tensor<2x3x4xf32>, tensor<5x4x6xf32> -> tensor<2x3x6xf32>
  return %0 : tensor<2x3x6xf32>
}

// -----

func.func @dot_result(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>) -> tensor<4x2xf32> {
  // expected-error @+1 {{'autopar.dot' op result type 'tensor<4x2xf32>' does not match the inferred type 'tensor<2x4xf32>'}}
  %0 = autopar.dot %a, %b, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<2x3xf32>, tensor<3x4xf32> -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

func.func @reduce_range(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'autopar.reduce' op reduced dimension -1 is out of range for rank 2}}
  %0 = autopar.reduce sum %a, dims = [-1] : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @reduce_repeat(%a: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{'autopar.reduce' op reduced dimension 1 appears more than once}}
  %0 = autopar.reduce sum %a, dims = [1, 1] : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @reduce_mean_int(%a: tensor<2x3xi32>) -> tensor<2xi32> {
  // expected-error @+1 {{'autopar.reduce' op mean needs a floating-point operand, got i32}}
  %0 = autopar.reduce mean %a, dims = [1] : tensor<2x3xi32> -> tensor<2xi32>
  return %0 : tensor<2xi32>
}

// -----

func.func @reshape_count(%a: tensor<2x3xf32>) -> tensor<7xf32> {
  // expected-error @+1 {{cannot reshape 6 elements [2, 3] into 7 elements [7]}}
  %0 = autopar.reshape %a : tensor<2x3xf32> -> tensor<7xf32>
  return %0 : tensor<7xf32>
}

// -----

func.func @reshape_type(%a: tensor<2x3xf32>) -> tensor<6xf64> {
  // expected-error @+1 {{changes the element type from 'f32' to 'f64'}}
  %0 = autopar.reshape %a : tensor<2x3xf32> -> tensor<6xf64>
  return %0 : tensor<6xf64>
}

// -----

func.func @transpose_count(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{'autopar.transpose' op permutation has 3 entries but the operand has rank 2}}
  %0 = autopar.transpose %a, perm = [1, 0, 2] : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @transpose_repeat(%a: tensor<2x3xf32>) -> tensor<3x3xf32> {
  // expected-error @+1 {{'autopar.transpose' op permutation dimension 1 appears more than once}}
  %0 = autopar.transpose %a, perm = [1, 1] : tensor<2x3xf32> -> tensor<3x3xf32>
  return %0 : tensor<3x3xf32>
}

// -----

func.func @transpose_range(%a: tensor<2x3xf32>) -> tensor<3x2xf32> {
  // expected-error @+1 {{'autopar.transpose' op permutation dimension 5 is out of range for rank 2}}
  %0 = autopar.transpose %a, perm = [5, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

func.func @broadcast_type(%a: tensor<3xf32>) -> tensor<2x3xf16> {
  // expected-error @+1 {{changes the element type from 'f32' to 'f16'}}
  %0 = autopar.broadcast %a, dims = [1] : tensor<3xf32> -> tensor<2x3xf16>
  return %0 : tensor<2x3xf16>
}

// -----

func.func @broadcast_count(%a: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{has 2 broadcast dimensions but the operand has rank 1}}
  %0 = autopar.broadcast %a, dims = [0, 1] : tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @broadcast_range(%a: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{broadcast dimension 2 is out of range for result rank 2}}
  %0 = autopar.broadcast %a, dims = [2] : tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @broadcast_order(%a: tensor<3x3xf32>) -> tensor<3x3xf32> {
  // expected-error @+1 {{broadcast dimensions must be strictly increasing}}
  %0 = autopar.broadcast %a, dims = [1, 0] : tensor<3x3xf32> -> tensor<3x3xf32>
  return %0 : tensor<3x3xf32>
}

// -----

func.func @broadcast_size(%a: tensor<3xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{operand dimension 0 has size 3, which cannot broadcast to result dimension 1 of size 4}}
  %0 = autopar.broadcast %a, dims = [1] : tensor<3xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @slice_count(%a: tensor<4x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'autopar.slice' op start, limit and strides need 2 entries each (got 1, 2, 2)}}
  %0 = autopar.slice %a, start = [0], limit = [2, 4], strides = [1, 1] : tensor<4x4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @slice_stride(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'autopar.slice' op stride 0 of dimension 0 must be at least 1}}
  %0 = autopar.slice %a, start = [0], limit = [4], strides = [0] : tensor<4xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @slice_bounds(%a: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'autopar.slice' op dimension 0 needs 0 <= start <= limit <= 4, got start 1 and limit 5}}
  %0 = autopar.slice %a, start = [1], limit = [5], strides = [1] : tensor<4xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @concat_empty() -> tensor<2xf32> {
  // expected-error @+1 {{'autopar.concat' op needs at least one input}}
  %0 = "autopar.concat"() <{dim = 0 : i64}> : () -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @concat_dim(%a: tensor<2xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'autopar.concat' op dimension 1 is out of range for rank 1}}
  %0 = autopar.concat(%a, %a) dim = 1 : tensor<2xf32>, tensor<2xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @concat_type(%a: tensor<2xf32>, %b: tensor<2xf64>) -> tensor<4xf32> {
  // expected-error @+1 {{'autopar.concat' op input 1 has type tensor<2xf64>, which does not match input 0 tensor<2xf32>}}
  %0 = autopar.concat(%a, %b) dim = 0 : tensor<2xf32>, tensor<2xf64> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @concat_size(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{'autopar.concat' op input 1 has size 4 in dimension 1 but input 0 has 3}}
  %0 = autopar.concat(%a, %b) dim = 0 : tensor<2x3xf32>, tensor<2x4xf32> -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @concat_negative(%a: tensor<2xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{attribute 'dim' failed to satisfy constraint: 64-bit signless integer attribute whose value is non-negative}}
  %0 = autopar.concat(%a, %a) dim = -1 : tensor<2xf32>, tensor<2xf32> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

func.func @gather_axis(%a: tensor<2x3xf32>, %i: tensor<4xi64>) -> tensor<2x4xf32> {
  // expected-error @+1 {{'autopar.gather' op axis 2 is out of range for rank 2}}
  %0 = autopar.gather %a, %i, axis = 2 : tensor<2x3xf32>, tensor<4xi64> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

func.func @gather_float_indices(%a: tensor<2x3xf32>, %i: tensor<4xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{must be statically shaped tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = "autopar.gather"(%a, %i) <{axis = 0 : i64}> : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

func.func @embedding_rank(%t: tensor<2x3x4xf32>, %i: tensor<4xi64>) -> tensor<4x4xf32> {
  // expected-error @+1 {{'autopar.embedding' op table must have rank 2 [vocab, dim], got rank 3}}
  %0 = autopar.embedding %t, %i : tensor<2x3x4xf32>, tensor<4xi64> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

func.func @softmax_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'autopar.softmax' op axis 2 is out of range for rank 2}}
  %0 = autopar.softmax %a, axis = 2 : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @log_softmax_axis(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'autopar.log_softmax' op axis 7 is out of range for rank 2}}
  %0 = autopar.log_softmax %a, axis = 7 : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @layer_norm_axis(%a: tensor<2x3xf32>, %g: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'autopar.layer_norm' op axis 2 is out of range for rank 2}}
  %0 = autopar.layer_norm %a, %g, %g, axis = 2, epsilon = 1.0e-5 : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @layer_norm_scale(%a: tensor<2x3xf32>, %g: tensor<2xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'autopar.layer_norm' op scale has shape [2] but the normalized dimensions are [3]}}
  %0 = autopar.layer_norm %a, %g, %g, axis = 1, epsilon = 1.0e-5 : tensor<2x3xf32>, tensor<2xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @layer_norm_dtype(%a: tensor<2x3xf32>, %g: tensor<3xf16>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'autopar.layer_norm' op scale has element type 'f16' but the operand has 'f32'}}
  %0 = autopar.layer_norm %a, %g, %g, axis = 1, epsilon = 1.0e-5 : tensor<2x3xf32>, tensor<3xf16> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @layer_norm_bias(%a: tensor<2x3xf32>, %g: tensor<3xf32>, %b: tensor<2xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'autopar.layer_norm' op failed to verify that all of {scale, bias} have same type}}
  %0 = "autopar.layer_norm"(%a, %g, %b) <{axis = 1 : i64, epsilon = 1.0e-5 : f64}> : (tensor<2x3xf32>, tensor<3xf32>, tensor<2xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @layer_norm_epsilon(%a: tensor<2x3xf32>, %g: tensor<3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'autopar.layer_norm' op epsilon must not be negative}}
  %0 = autopar.layer_norm %a, %g, %g, axis = 1, epsilon = -1.0 : tensor<2x3xf32>, tensor<3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @rms_norm_scale(%a: tensor<2x3xf32>, %g: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{'autopar.rms_norm' op scale has shape [2, 3] but the normalized dimensions are [3]}}
  %0 = autopar.rms_norm %a, %g, axis = 1, epsilon = 1.0e-5 : tensor<2x3xf32>, tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

func.func @attention_rank(%q: tensor<8xf32>) -> tensor<8xf32> {
  // expected-error @+1 {{'autopar.attention' op query must have rank >= 2 [..., S, D], got rank 1}}
  %0 = autopar.attention %q, %q, %q : tensor<8xf32>, tensor<8xf32>, tensor<8xf32> -> tensor<8xf32>
  return %0 : tensor<8xf32>
}

// -----

func.func @attention_ranks(%q: tensor<8x4xf32>, %k: tensor<1x8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'autopar.attention' op query, key and value must have the same rank}}
  %0 = autopar.attention %q, %k, %k : tensor<8x4xf32>, tensor<1x8x4xf32>, tensor<1x8x4xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @attention_dtypes(%q: tensor<8x4xf32>, %k: tensor<8x4xf16>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'autopar.attention' op query, key and value must have the same element type}}
  %0 = autopar.attention %q, %k, %k : tensor<8x4xf32>, tensor<8x4xf16>, tensor<8x4xf16> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @attention_batch(%q: tensor<2x8x4xf32>, %k: tensor<3x8x4xf32>) -> tensor<2x8x4xf32> {
  // expected-error @+1 {{'autopar.attention' op leading dimensions differ: query [2, 8, 4], key [3, 8, 4], value [3, 8, 4]}}
  %0 = autopar.attention %q, %k, %k : tensor<2x8x4xf32>, tensor<3x8x4xf32>, tensor<3x8x4xf32> -> tensor<2x8x4xf32>
  return %0 : tensor<2x8x4xf32>
}

// -----

func.func @attention_head(%q: tensor<8x4xf32>, %k: tensor<8x5xf32>) -> tensor<8x5xf32> {
  // expected-error @+1 {{'autopar.attention' op key head size 5 differs from query head size 4}}
  %0 = autopar.attention %q, %k, %k : tensor<8x4xf32>, tensor<8x5xf32>, tensor<8x5xf32> -> tensor<8x5xf32>
  return %0 : tensor<8x5xf32>
}

// -----

func.func @attention_positions(%q: tensor<8x4xf32>, %k: tensor<6x4xf32>, %v: tensor<7x4xf32>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'autopar.attention' op value has 7 positions but key has 6}}
  %0 = autopar.attention %q, %k, %v : tensor<8x4xf32>, tensor<6x4xf32>, tensor<7x4xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @attention_mask_shape(%q: tensor<8x4xf32>, %m: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'autopar.attention' op mask has shape [8, 4], expected [8, 8]}}
  %0 = autopar.attention %q, %q, %q mask %m : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @attention_mask_type(%q: tensor<8x4xf32>, %m: tensor<8x8xf16>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'autopar.attention' op mask must have the element type of the query}}
  %0 = autopar.attention %q, %q, %q mask %m : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x8xf16> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @attention_scale(%q: tensor<8x4xf32>) -> tensor<8x4xf32> {
  // expected-error @+1 {{'autopar.attention' op scale must be positive}}
  %0 = autopar.attention %q, %q, %q {scale = 0.0 : f64} : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32> -> tensor<8x4xf32>
  return %0 : tensor<8x4xf32>
}

// -----

func.func @cross_entropy_rank(%l: tensor<f32>, %y: tensor<i64>) -> tensor<f32> {
  // expected-error @+1 {{'autopar.cross_entropy' op logits must have rank >= 1 [..., C]}}
  %0 = autopar.cross_entropy %l, %y : tensor<f32>, tensor<i64> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @cross_entropy_labels(%l: tensor<4x10xf32>, %y: tensor<5xi64>) -> tensor<f32> {
  // expected-error @+1 {{'autopar.cross_entropy' op labels have shape [5] but logits [4, 10] need labels of shape [4]}}
  %0 = autopar.cross_entropy %l, %y : tensor<4x10xf32>, tensor<5xi64> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

func.func @linear_rank(%x: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'autopar.linear' op needs an input of rank >= 1 and a weight of rank 2}}
  %0 = autopar.linear %x, %w : tensor<2x8xf32>, tensor<8xf32> -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @linear_features(%x: tensor<2x8xf32>, %w: tensor<8x16xf32>) -> tensor<2x8xf32> {
  // expected-error @+1 {{'autopar.linear' op weight tensor<8x16xf32> (transposed) contracts 16 features but the input has 8}}
  %0 = autopar.linear %x, %w {weight_transposed} : tensor<2x8xf32>, tensor<8x16xf32> -> tensor<2x8xf32>
  return %0 : tensor<2x8xf32>
}

// -----

func.func @linear_bias(%x: tensor<2x8xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>) -> tensor<2x16xf32> {
  // expected-error @+1 {{'autopar.linear' op bias must be tensor<16xf32>, got tensor<8xf32>}}
  %0 = autopar.linear %x, %w, %b : tensor<2x8xf32>, tensor<8x16xf32>, tensor<8xf32> -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

func.func @linear_dtype(%x: tensor<2x8xf32>, %w: tensor<8x16xf16>) -> tensor<2x16xf32> {
  // expected-error @+1 {{'autopar.linear' op weight element type differs from the input's}}
  %0 = autopar.linear %x, %w : tensor<2x8xf32>, tensor<8x16xf16> -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

func.func @scatter_shape(%t: tensor<10x4xf32>, %i: tensor<3xi64>, %u: tensor<3x5xf32>) -> tensor<10x4xf32> {
  // expected-error @+1 {{'autopar.scatter_add' op updates must be tensor<3x4xf32>, got tensor<3x5xf32>}}
  %0 = autopar.scatter_add %t, %i, %u, axis = 0 : tensor<10x4xf32>, tensor<3xi64>, tensor<3x5xf32> -> tensor<10x4xf32>
  return %0 : tensor<10x4xf32>
}

// -----

func.func @scatter_axis(%t: tensor<10x4xf32>, %i: tensor<3xi64>, %u: tensor<3x4xf32>) -> tensor<10x4xf32> {
  // expected-error @+1 {{'autopar.scatter_add' op axis 2 is out of range for rank 2}}
  %0 = autopar.scatter_add %t, %i, %u, axis = 2 : tensor<10x4xf32>, tensor<3xi64>, tensor<3x4xf32> -> tensor<10x4xf32>
  return %0 : tensor<10x4xf32>
}

// -----

func.func @all_reduce_no_grid(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{names @nowhere, which is not a shard.grid in scope}}
  %0 = autopar.all_reduce %x on @nowhere grid_axes = [0] : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

shard.grid @grid(shape = 2x2)
func.func @all_reduce_axis_range(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{grid axis 2 is out of range for @grid of rank 2}}
  %0 = autopar.all_reduce %x on @grid grid_axes = [2] : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

shard.grid @grid(shape = 2x2)
func.func @grad_all_reduce_axis_twice(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{grid axis 1 appears twice}}
  %0 = autopar.grad_all_reduce %x on @grid grid_axes = [1, 1] : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

shard.grid @grid(shape = 2x2)
func.func @all_reduce_no_axes(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{needs at least one grid axis}}
  %0 = autopar.all_reduce %x on @grid grid_axes = [] : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

shard.grid @grid(shape = 2)
func.func @all_reduce_int(%x: tensor<4xi64>) -> tensor<4xi64> {
  // expected-error @+1 {{operand #0 must be statically shaped tensor of 16-bit float or bfloat16 type or 32-bit float or 64-bit float values}}
  %0 = autopar.all_reduce %x on @grid grid_axes = [0] : tensor<4xi64>
  return %0 : tensor<4xi64>
}

// -----

shard.grid @grid(shape = 2x3)
func.func @all_gather_shape(%x: tensor<4x5xf32>) -> tensor<4x15xf32> {
  // expected-error @+1 {{result type 'tensor<4x15xf32>' does not match 'tensor<4x10xf32>'}}
  %0 = autopar.all_gather %x on @grid grid_axes = [0] dim = 1 : tensor<4x5xf32> -> tensor<4x15xf32>
  return %0 : tensor<4x15xf32>
}

// -----

shard.grid @grid(shape = 2x3)
func.func @reduce_scatter_divide(%x: tensor<4x5xf32>) -> tensor<4x1xf32> {
  // expected-error @+1 {{dimension 1 of size 5 does not divide among the group's 3 processes}}
  %0 = autopar.reduce_scatter %x on @grid grid_axes = [1] dim = 1 : tensor<4x5xf32> -> tensor<4x1xf32>
  return %0 : tensor<4x1xf32>
}

// -----

shard.grid @grid(shape = 2)
func.func @local_slice_dim(%x: tensor<4xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{dim 1 is out of range for rank 1}}
  %0 = autopar.local_slice %x on @grid grid_axes = [0] dim = 1 : tensor<4xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @all_reduce_start_grid(%x: tensor<4xf32>) -> tensor<i64> {
  // expected-error @+1 {{names @nowhere, which is not a shard.grid in scope}}
  %0 = autopar.all_reduce_start %x on @nowhere grid_axes = [0] : tensor<4xf32> -> tensor<i64>
  return %0 : tensor<i64>
}

// -----

func.func @all_reduce_wait_unstarted(%r: tensor<i64>) -> tensor<4xf32> {
  // expected-error @+1 {{waits for a request that no autopar.all_reduce_start made}}
  %0 = autopar.all_reduce_wait %r : tensor<i64> -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

shard.grid @grid(shape = 2)
func.func @all_reduce_wait_type(%x: tensor<4xf32>) -> tensor<2xf32> {
  %r = autopar.all_reduce_start %x on @grid grid_axes = [0] : tensor<4xf32> -> tensor<i64>
  // expected-error @+1 {{result type 'tensor<2xf32>' differs from the started operand's 'tensor<4xf32>'}}
  %0 = autopar.all_reduce_wait %r : tensor<i64> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

shard.grid @grid(shape = 2)
func.func @all_reduce_wait_twice(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = autopar.all_reduce_start %x on @grid grid_axes = [0] : tensor<4xf32> -> tensor<i64>
  // expected-error @+1 {{shares its request with another wait; each start is waited for once}}
  %0 = autopar.all_reduce_wait %r : tensor<i64> -> tensor<4xf32>
  %1 = autopar.all_reduce_wait %r : tensor<i64> -> tensor<4xf32>
  return %1 : tensor<4xf32>
}

// -----

func.func @attention_grad_output(%q: tensor<8x4xf32>, %o: tensor<8x5xf32>) {
  // expected-error @+1 {{'autopar.attention_grad' op output and output_grad must have the attention's result type tensor<8x4xf32>, got tensor<8x5xf32>}}
  %0:3 = autopar.attention_grad %q, %q, %q, %o, %o : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x5xf32>, tensor<8x5xf32>
  return
}

// -----

func.func @attention_grad_head(%q: tensor<8x4xf32>, %k: tensor<8x5xf32>) {
  // expected-error @+1 {{'autopar.attention_grad' op key head size 5 differs from query head size 4}}
  %0:3 = autopar.attention_grad %q, %k, %q, %q, %q : tensor<8x4xf32>, tensor<8x5xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
  return
}

// -----

func.func @attention_grad_scale(%q: tensor<8x4xf32>) {
  // expected-error @+1 {{'autopar.attention_grad' op scale must be positive}}
  %0:3 = autopar.attention_grad %q, %q, %q, %q, %q {scale = -1.0 : f64} : tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>
  return
}
