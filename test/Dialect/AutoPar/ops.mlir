// Every autopar op parses, verifies, prints and parses again, in the custom
// and in the generic form.
// RUN: autopar-opt %s | autopar-opt | FileCheck %s
// RUN: autopar-opt %s --mlir-print-op-generic | autopar-opt | FileCheck %s
// RUN: autopar-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// CHECK-LABEL: func @constant
// GENERIC-LABEL: sym_name = "constant"
func.func @constant() -> (tensor<2xf32>, tensor<i64>, tensor<2x2xi1>) {
  // CHECK: autopar.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
  // GENERIC: "autopar.constant"() <{value = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>}>
  %0 = autopar.constant dense<[1.0, 2.0]> : tensor<2xf32>
  // CHECK: autopar.constant dense<7> : tensor<i64>
  %1 = autopar.constant dense<7> : tensor<i64>
  // CHECK: autopar.constant dense<{{\[\[}}true, false], [false, true]]> : tensor<2x2xi1>
  %2 = autopar.constant dense<[[true, false], [false, true]]> : tensor<2x2xi1>
  return %0, %1, %2 : tensor<2xf32>, tensor<i64>, tensor<2x2xi1>
}

// CHECK-LABEL: func @unary
func.func @unary(%x: tensor<4x8xf32>, %h: tensor<3xbf16>, %i: tensor<5xi32>)
    -> (tensor<4x8xf32>, tensor<3xbf16>, tensor<5xi32>) {
  // CHECK: autopar.neg %{{.*}} : tensor<4x8xf32>
  %0 = autopar.neg %x : tensor<4x8xf32>
  // CHECK: autopar.abs %{{.*}} : tensor<4x8xf32>
  %1 = autopar.abs %0 : tensor<4x8xf32>
  // CHECK: autopar.exp %{{.*}} : tensor<4x8xf32>
  %2 = autopar.exp %1 : tensor<4x8xf32>
  // CHECK: autopar.log %{{.*}} : tensor<4x8xf32>
  %3 = autopar.log %2 : tensor<4x8xf32>
  // CHECK: autopar.tanh %{{.*}} : tensor<4x8xf32>
  %4 = autopar.tanh %3 : tensor<4x8xf32>
  // CHECK: autopar.sigmoid %{{.*}} : tensor<4x8xf32>
  %5 = autopar.sigmoid %4 : tensor<4x8xf32>
  // CHECK: autopar.relu %{{.*}} : tensor<4x8xf32>
  %6 = autopar.relu %5 : tensor<4x8xf32>
  // CHECK: autopar.gelu %{{.*}} : tensor<4x8xf32>
  %7 = autopar.gelu %6 : tensor<4x8xf32>
  // CHECK: autopar.gelu %{{.*}} approximate = tanh : tensor<4x8xf32>
  %8 = autopar.gelu %7 approximate = tanh : tensor<4x8xf32>
  // CHECK: autopar.silu %{{.*}} : tensor<4x8xf32>
  %9 = autopar.silu %8 : tensor<4x8xf32>
  // CHECK: autopar.sqrt %{{.*}} : tensor<4x8xf32>
  %10 = autopar.sqrt %9 : tensor<4x8xf32>
  // CHECK: autopar.rsqrt %{{.*}} : tensor<4x8xf32>
  %11 = autopar.rsqrt %10 : tensor<4x8xf32>
  // CHECK: autopar.erf %{{.*}} : tensor<4x8xf32>
  %12 = autopar.erf %11 : tensor<4x8xf32>
  // CHECK: autopar.exp %{{.*}} : tensor<3xbf16>
  %13 = autopar.exp %h : tensor<3xbf16>
  // CHECK: autopar.relu %{{.*}} : tensor<5xi32>
  %14 = autopar.relu %i : tensor<5xi32>
  return %12, %13, %14 : tensor<4x8xf32>, tensor<3xbf16>, tensor<5xi32>
}

// CHECK-LABEL: func @binary
func.func @binary(%a: tensor<4xf16>, %b: tensor<4xf16>, %c: tensor<2x3xi64>)
    -> (tensor<4xf16>, tensor<2x3xi64>) {
  // CHECK: autopar.add %{{.*}}, %{{.*}} : tensor<4xf16>
  %0 = autopar.add %a, %b : tensor<4xf16>
  // CHECK: autopar.sub
  %1 = autopar.sub %0, %b : tensor<4xf16>
  // CHECK: autopar.mul
  %2 = autopar.mul %1, %b : tensor<4xf16>
  // CHECK: autopar.div
  %3 = autopar.div %2, %b : tensor<4xf16>
  // CHECK: autopar.max
  %4 = autopar.max %3, %b : tensor<4xf16>
  // CHECK: autopar.min
  %5 = autopar.min %4, %b : tensor<4xf16>
  // CHECK: autopar.pow %{{.*}}, %{{.*}} : tensor<4xf16>
  %6 = autopar.pow %5, %b : tensor<4xf16>
  // CHECK: autopar.add %{{.*}}, %{{.*}} : tensor<2x3xi64>
  %7 = autopar.add %c, %c : tensor<2x3xi64>
  // CHECK: autopar.div %{{.*}}, %{{.*}} : tensor<2x3xi64>
  %8 = autopar.div %7, %c : tensor<2x3xi64>
  return %6, %8 : tensor<4xf16>, tensor<2x3xi64>
}

// CHECK-LABEL: func @compare_select_convert
func.func @compare_select_convert(%a: tensor<4xf32>, %b: tensor<4xf32>)
    -> (tensor<4xf32>, tensor<4xbf16>, tensor<4xi1>) {
  // CHECK: %[[M:.*]] = autopar.compare lt, %{{.*}}, %{{.*}} : tensor<4xf32>
  %m = autopar.compare lt, %a, %b : tensor<4xf32>
  // CHECK: autopar.compare eq
  %e = autopar.compare eq, %a, %b : tensor<4xf32>
  // CHECK: autopar.compare ne
  %n = autopar.compare ne, %m, %e : tensor<4xi1>
  // CHECK: autopar.compare le
  %0 = autopar.compare le, %a, %b : tensor<4xf32>
  // CHECK: autopar.compare gt
  %1 = autopar.compare gt, %a, %b : tensor<4xf32>
  // CHECK: autopar.compare ge
  %2 = autopar.compare ge, %a, %b : tensor<4xf32>
  // CHECK: autopar.select %[[M]], %{{.*}}, %{{.*}} : tensor<4xi1>, tensor<4xf32>
  %s = autopar.select %m, %a, %b : tensor<4xi1>, tensor<4xf32>
  // CHECK: autopar.convert %{{.*}} : tensor<4xf32> -> tensor<4xbf16>
  %c = autopar.convert %s : tensor<4xf32> -> tensor<4xbf16>
  return %s, %c, %n : tensor<4xf32>, tensor<4xbf16>, tensor<4xi1>
}

// CHECK-LABEL: func @dot
func.func @dot(%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>, %v: tensor<4xf32>)
    -> (tensor<2x3x5xf32>, tensor<f32>) {
  // CHECK: autopar.dot %{{.*}}, %{{.*}}, batch_dims = [0] x [0], contracting_dims = [2] x [1] : tensor<2x3x4xf32>, tensor<2x4x5xf32> -> tensor<2x3x5xf32>
  %0 = autopar.dot %a, %b, batch_dims = [0] x [0], contracting_dims = [2] x [1]
      : tensor<2x3x4xf32>, tensor<2x4x5xf32> -> tensor<2x3x5xf32>
  // CHECK: autopar.dot %{{.*}}, %{{.*}}, batch_dims = [] x [], contracting_dims = [0] x [0] : tensor<4xf32>, tensor<4xf32> -> tensor<f32>
  %1 = autopar.dot %v, %v, batch_dims = [] x [], contracting_dims = [0] x [0]
      : tensor<4xf32>, tensor<4xf32> -> tensor<f32>
  return %0, %1 : tensor<2x3x5xf32>, tensor<f32>
}

// CHECK-LABEL: func @reduce
func.func @reduce(%x: tensor<2x3x4xf32>, %i: tensor<5xi32>)
    -> (tensor<3xf32>, tensor<2x4xf32>, tensor<f32>, tensor<2x3xf32>, tensor<i32>) {
  // CHECK: autopar.reduce sum %{{.*}}, dims = [0, 2] : tensor<2x3x4xf32> -> tensor<3xf32>
  %0 = autopar.reduce sum %x, dims = [0, 2] : tensor<2x3x4xf32> -> tensor<3xf32>
  // CHECK: autopar.reduce mean %{{.*}}, dims = [1]
  %1 = autopar.reduce mean %x, dims = [1] : tensor<2x3x4xf32> -> tensor<2x4xf32>
  // CHECK: autopar.reduce max %{{.*}}, dims = [2, 0, 1]
  %2 = autopar.reduce max %x, dims = [2, 0, 1] : tensor<2x3x4xf32> -> tensor<f32>
  // CHECK: autopar.reduce min %{{.*}}, dims = [2]
  %3 = autopar.reduce min %x, dims = [2] : tensor<2x3x4xf32> -> tensor<2x3xf32>
  // CHECK: autopar.reduce sum %{{.*}}, dims = [0] : tensor<5xi32> -> tensor<i32>
  %4 = autopar.reduce sum %i, dims = [0] : tensor<5xi32> -> tensor<i32>
  return %0, %1, %2, %3, %4 : tensor<3xf32>, tensor<2x4xf32>, tensor<f32>, tensor<2x3xf32>, tensor<i32>
}

// CHECK-LABEL: func @shapes
func.func @shapes(%x: tensor<2x3x4xf32>, %b: tensor<4xf32>, %y: tensor<2x5x4xf32>)
    -> (tensor<6x4xf32>, tensor<4x2x3xf32>, tensor<2x3x4xf32>, tensor<2x2x2xf32>, tensor<2x8x4xf32>) {
  // CHECK: autopar.reshape %{{.*}} : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %0 = autopar.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  // CHECK: autopar.transpose %{{.*}}, perm = [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
  %1 = autopar.transpose %x, perm = [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
  // CHECK: autopar.broadcast %{{.*}}, dims = [2] : tensor<4xf32> -> tensor<2x3x4xf32>
  %2 = autopar.broadcast %b, dims = [2] : tensor<4xf32> -> tensor<2x3x4xf32>
  // CHECK: autopar.slice %{{.*}}, start = [0, 1, 0], limit = [2, 3, 4], strides = [1, 1, 2] : tensor<2x3x4xf32> -> tensor<2x2x2xf32>
  %3 = autopar.slice %x, start = [0, 1, 0], limit = [2, 3, 4], strides = [1, 1, 2]
      : tensor<2x3x4xf32> -> tensor<2x2x2xf32>
  // CHECK: autopar.concat(%{{.*}}, %{{.*}}) dim = 1 : tensor<2x3x4xf32>, tensor<2x5x4xf32> -> tensor<2x8x4xf32>
  %4 = autopar.concat(%x, %y) dim = 1 : tensor<2x3x4xf32>, tensor<2x5x4xf32> -> tensor<2x8x4xf32>
  return %0, %1, %2, %3, %4 : tensor<6x4xf32>, tensor<4x2x3xf32>, tensor<2x3x4xf32>, tensor<2x2x2xf32>, tensor<2x8x4xf32>
}

// CHECK-LABEL: func @gather
func.func @gather(%t: tensor<10x4xf32>, %i: tensor<2x3xi64>, %j: tensor<i32>)
    -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<10xf32>) {
  // CHECK: autopar.gather %{{.*}}, %{{.*}}, axis = 0 : tensor<10x4xf32>, tensor<2x3xi64> -> tensor<2x3x4xf32>
  %0 = autopar.gather %t, %i, axis = 0 : tensor<10x4xf32>, tensor<2x3xi64> -> tensor<2x3x4xf32>
  // CHECK: autopar.embedding %{{.*}}, %{{.*}} : tensor<10x4xf32>, tensor<2x3xi64> -> tensor<2x3x4xf32>
  %1 = autopar.embedding %t, %i : tensor<10x4xf32>, tensor<2x3xi64> -> tensor<2x3x4xf32>
  // CHECK: autopar.gather %{{.*}}, %{{.*}}, axis = 1 : tensor<10x4xf32>, tensor<i32> -> tensor<10xf32>
  %2 = autopar.gather %t, %j, axis = 1 : tensor<10x4xf32>, tensor<i32> -> tensor<10xf32>
  return %0, %1, %2 : tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<10xf32>
}

// CHECK-LABEL: func @composites
func.func @composites(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>,
                      %g2: tensor<8x16xf32>, %l: tensor<2x8xi64>)
    -> (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<f32>) {
  // CHECK: autopar.softmax %{{.*}}, axis = 2 : tensor<2x8x16xf32>
  %0 = autopar.softmax %x, axis = 2 : tensor<2x8x16xf32>
  // CHECK: autopar.log_softmax %{{.*}}, axis = 0 : tensor<2x8x16xf32>
  %1 = autopar.log_softmax %x, axis = 0 : tensor<2x8x16xf32>
  // CHECK: autopar.layer_norm %{{.*}}, %{{.*}}, %{{.*}}, axis = 2, epsilon = 1.000000e-05 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<2x8x16xf32>
  %2 = autopar.layer_norm %x, %g, %b, axis = 2, epsilon = 1.0e-05
      : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<2x8x16xf32>
  // CHECK: autopar.rms_norm %{{.*}}, %{{.*}}, axis = 1, epsilon = 9.9999999999999995E-7 : tensor<2x8x16xf32>, tensor<8x16xf32> -> tensor<2x8x16xf32>
  %3 = autopar.rms_norm %x, %g2, axis = 1, epsilon = 1.0e-06
      : tensor<2x8x16xf32>, tensor<8x16xf32> -> tensor<2x8x16xf32>
  // CHECK: autopar.attention %{{.*}}, %{{.*}}, %{{.*}} {causal} : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32> -> tensor<2x8x16xf32>
  %4 = autopar.attention %x, %x, %x {causal}
      : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32> -> tensor<2x8x16xf32>
  // CHECK: autopar.cross_entropy %{{.*}}, %{{.*}} : tensor<2x8x16xf32>, tensor<2x8xi64> -> tensor<f32>
  %5 = autopar.cross_entropy %x, %l : tensor<2x8x16xf32>, tensor<2x8xi64> -> tensor<f32>
  return %0, %1, %2, %3, %4, %5 : tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<f32>
}

// CHECK-LABEL: func @attention_mask
func.func @attention_mask(%q: tensor<2x4x8x16xf32>, %k: tensor<2x4x6x16xf32>,
                          %v: tensor<2x4x6x32xf32>, %m: tensor<2x4x8x6xf32>)
    -> tensor<2x4x8x32xf32> {
  // CHECK: autopar.attention %{{.*}}, %{{.*}}, %{{.*}} mask %{{.*}} {scale = 5.000000e-01 : f64} : tensor<2x4x8x16xf32>, tensor<2x4x6x16xf32>, tensor<2x4x6x32xf32>, tensor<2x4x8x6xf32> -> tensor<2x4x8x32xf32>
  %0 = autopar.attention %q, %k, %v mask %m {scale = 0.5 : f64}
      : tensor<2x4x8x16xf32>, tensor<2x4x6x16xf32>, tensor<2x4x6x32xf32>, tensor<2x4x8x6xf32>
        -> tensor<2x4x8x32xf32>
  return %0 : tensor<2x4x8x32xf32>
}

// CHECK-LABEL: func @attention_grad
func.func @attention_grad(%q: tensor<2x4x8x16xbf16>, %k: tensor<2x4x6x16xbf16>,
                          %v: tensor<2x4x6x32xbf16>, %o: tensor<2x4x8x32xbf16>)
    -> (tensor<2x4x8x16xbf16>, tensor<2x4x6x16xbf16>, tensor<2x4x6x32xbf16>) {
  // CHECK: %{{.*}}, %{{.*}}, %{{.*}} = autopar.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {causal, scale = 2.500000e-01 : f64} : tensor<2x4x8x16xbf16>, tensor<2x4x6x16xbf16>, tensor<2x4x6x32xbf16>, tensor<2x4x8x32xbf16>, tensor<2x4x8x32xbf16>
  %0:3 = autopar.attention_grad %q, %k, %v, %o, %o {causal, scale = 0.25 : f64}
      : tensor<2x4x8x16xbf16>, tensor<2x4x6x16xbf16>, tensor<2x4x6x32xbf16>,
        tensor<2x4x8x32xbf16>, tensor<2x4x8x32xbf16>
  return %0#0, %0#1, %0#2 : tensor<2x4x8x16xbf16>, tensor<2x4x6x16xbf16>, tensor<2x4x6x32xbf16>
}

// CHECK-LABEL: func @linear
func.func @linear(%x: tensor<2x3x8xf32>, %w: tensor<8x16xf32>, %wt: tensor<16x8xf32>, %b: tensor<16xf32>)
    -> (tensor<2x3x16xf32>, tensor<2x3x16xf32>) {
  // CHECK: autopar.linear %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x3x8xf32>, tensor<8x16xf32>, tensor<16xf32> -> tensor<2x3x16xf32>
  %0 = autopar.linear %x, %w, %b : tensor<2x3x8xf32>, tensor<8x16xf32>, tensor<16xf32> -> tensor<2x3x16xf32>
  // CHECK: autopar.linear %{{.*}}, %{{.*}} {weight_transposed} : tensor<2x3x8xf32>, tensor<16x8xf32> -> tensor<2x3x16xf32>
  %1 = autopar.linear %x, %wt {weight_transposed} : tensor<2x3x8xf32>, tensor<16x8xf32> -> tensor<2x3x16xf32>
  return %0, %1 : tensor<2x3x16xf32>, tensor<2x3x16xf32>
}

// CHECK-LABEL: func @scatter_add
func.func @scatter_add(%t: tensor<10x4xf32>, %i: tensor<2x3xi64>, %u: tensor<2x3x4xf32>) -> tensor<10x4xf32> {
  // CHECK: autopar.scatter_add %{{.*}}, %{{.*}}, %{{.*}}, axis = 0 : tensor<10x4xf32>, tensor<2x3xi64>, tensor<2x3x4xf32> -> tensor<10x4xf32>
  %0 = autopar.scatter_add %t, %i, %u, axis = 0 : tensor<10x4xf32>, tensor<2x3xi64>, tensor<2x3x4xf32> -> tensor<10x4xf32>
  return %0 : tensor<10x4xf32>
}

// CHECK: shard.grid @grid(shape = 2x2)
shard.grid @grid(shape = 2x2)
// CHECK-LABEL: func @collectives
func.func @collectives(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // CHECK: autopar.grad_all_reduce %{{.*}} on @grid grid_axes = [1] : tensor<4x8xf32>
  %0 = autopar.grad_all_reduce %x on @grid grid_axes = [1] : tensor<4x8xf32>
  // CHECK: autopar.all_reduce %{{.*}} on @grid grid_axes = [0, 1] : tensor<4x8xf32>
  %1 = autopar.all_reduce %0 on @grid grid_axes = [0, 1] : tensor<4x8xf32>
  // CHECK: autopar.all_reduce_max %{{.*}} on @grid grid_axes = [1] : tensor<4x8xf32>
  %2 = autopar.all_reduce_max %1 on @grid grid_axes = [1] : tensor<4x8xf32>
  return %2 : tensor<4x8xf32>
}

// CHECK-LABEL: func @sequence_collectives
func.func @sequence_collectives(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  // CHECK: autopar.local_slice %{{.*}} on @grid grid_axes = [1] dim = 1 : tensor<4x8xf32> -> tensor<4x4xf32>
  %0 = autopar.local_slice %x on @grid grid_axes = [1] dim = 1 : tensor<4x8xf32> -> tensor<4x4xf32>
  // CHECK: autopar.all_gather %{{.*}} on @grid grid_axes = [1] dim = 1 {partial_grad} : tensor<4x4xf32> -> tensor<4x8xf32>
  %1 = autopar.all_gather %0 on @grid grid_axes = [1] dim = 1 {partial_grad} : tensor<4x4xf32> -> tensor<4x8xf32>
  // CHECK: autopar.reduce_scatter %{{.*}} on @grid grid_axes = [0, 1] dim = 0 : tensor<4x8xf32> -> tensor<1x8xf32>
  %2 = autopar.reduce_scatter %1 on @grid grid_axes = [0, 1] dim = 0 : tensor<4x8xf32> -> tensor<1x8xf32>
  // CHECK: autopar.all_gather %{{.*}} on @grid grid_axes = [0, 1] dim = 0 : tensor<1x8xf32> -> tensor<4x8xf32>
  %3 = autopar.all_gather %2 on @grid grid_axes = [0, 1] dim = 0 : tensor<1x8xf32> -> tensor<4x8xf32>
  return %3 : tensor<4x8xf32>
}

// CHECK-LABEL: func @grid_index
func.func @grid_index() -> tensor<i64> {
  // CHECK: autopar.grid_index @grid axis = 1 : tensor<i64>
  %0 = autopar.grid_index @grid axis = 1 : tensor<i64>
  return %0 : tensor<i64>
}
