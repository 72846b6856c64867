// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(convert-autopar-to-linalg))' | FileCheck %s

// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func @elementwise
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x3xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]], #[[$ID]]], iterator_types = ["parallel", "parallel"]} ins(%{{.*}}, %{{.*}} : tensor<2x3xf32>, tensor<2x3xf32>) outs(%[[E]] : tensor<2x3xf32>)
// CHECK: arith.addf
// CHECK: linalg.generic
// CHECK: math.erf
// CHECK: linalg.generic
// CHECK: arith.cmpf olt
// CHECK: linalg.generic
// CHECK: arith.select
// CHECK-NOT: autopar.
func.func @elementwise(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = autopar.add %a, %b : tensor<2x3xf32>
  %1 = autopar.gelu %0 : tensor<2x3xf32>
  %m = autopar.compare lt, %1, %b : tensor<2x3xf32>
  %2 = autopar.select %m, %1, %b : tensor<2x3xi1>, tensor<2x3xf32>
  return %2 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func @integer_ops
// CHECK: arith.divsi
// CHECK: arith.maxsi
// CHECK: arith.cmpi slt
// CHECK: arith.sitofp
func.func @integer_ops(%a: tensor<4xi64>, %b: tensor<4xi64>) -> (tensor<4xi1>, tensor<4xf32>) {
  %0 = autopar.div %a, %b : tensor<4xi64>
  %1 = autopar.max %0, %b : tensor<4xi64>
  %2 = autopar.compare lt, %1, %a : tensor<4xi64>
  %3 = autopar.convert %1 : tensor<4xi64> -> tensor<4xf32>
  return %2, %3 : tensor<4xi1>, tensor<4xf32>
}

// -----

// The dot's iteration space is (batch, lhs free, rhs free, contracting).
// CHECK-DAG: #[[$LHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[$RHS:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d3, d2)>
// CHECK-DAG: #[[$OUT:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func @dot
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[INIT:.*]] = linalg.fill ins(%[[ZERO]] : f32)
// CHECK: linalg.generic {indexing_maps = [#[[$LHS]], #[[$RHS]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%[[INIT]] : tensor<2x3x5xf32>)
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @dot(%a: tensor<2x3x4xf32>, %b: tensor<2x4x5xf32>) -> tensor<2x3x5xf32> {
  %0 = autopar.dot %a, %b, batch_dims = [0] x [0], contracting_dims = [2] x [1]
      : tensor<2x3x4xf32>, tensor<2x4x5xf32> -> tensor<2x3x5xf32>
  return %0 : tensor<2x3x5xf32>
}

// -----

// A bf16 contraction widens its operands, accumulates in f32 and rounds the
// sum once.
// CHECK-LABEL: func @dot_bf16
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<3x4xbf16>) outs(%{{.*}} : tensor<3x4xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[B:.*]] = linalg.generic {{.*}} ins(%{{.*}} : tensor<4x5xbf16>) outs(%{{.*}} : tensor<4x5xf32>)
// CHECK: %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<3x5xf32>)
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[A]], %[[B]] : tensor<3x4xf32>, tensor<4x5xf32>) outs(%[[Z]] : tensor<3x5xf32>)
// CHECK: arith.mulf %{{.*}} : f32
// CHECK: arith.addf %{{.*}} : f32
// CHECK: linalg.generic {{.*}} ins(%[[C]] : tensor<3x5xf32>) outs(%{{.*}} : tensor<3x5xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @dot_bf16(%a: tensor<3x4xbf16>, %b: tensor<4x5xbf16>) -> tensor<3x5xbf16> {
  %0 = autopar.dot %a, %b, batch_dims = [] x [], contracting_dims = [1] x [0]
      : tensor<3x4xbf16>, tensor<4x5xbf16> -> tensor<3x5xbf16>
  return %0 : tensor<3x5xbf16>
}

// -----

// CHECK-DAG: #[[$IN:.*]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$RED:.*]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-LABEL: func @reduce_mean
// CHECK: arith.constant 0.000000e+00 : f32
// CHECK: linalg.generic {indexing_maps = [#[[$IN]], #[[$RED]]], iterator_types = ["reduction", "parallel", "reduction"]}
// CHECK: arith.addf
// CHECK: arith.constant 8.000000e+00 : f32
// CHECK: arith.divf
func.func @reduce_mean(%x: tensor<2x3x4xf32>) -> tensor<3xf32> {
  %0 = autopar.reduce mean %x, dims = [0, 2] : tensor<2x3x4xf32> -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// CHECK-LABEL: func @reduce_max
// CHECK: arith.constant 0xFF800000 : f32
// CHECK: arith.maximumf
func.func @reduce_max(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  %0 = autopar.reduce max %x, dims = [1] : tensor<2x3xf32> -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// CHECK-LABEL: func @shapes
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0, 1, 2]] : tensor<2x3x4xf32> into tensor<24xf32>
// CHECK: tensor.expand_shape %{{.*}} {{\[\[}}0, 1]] output_shape [6, 4] : tensor<24xf32> into tensor<6x4xf32>
// CHECK: linalg.transpose ins(%{{.*}} : tensor<2x3x4xf32>) outs(%{{.*}} : tensor<4x2x3xf32>) permutation = [2, 0, 1]
// CHECK: tensor.extract_slice %{{.*}}[0, 1, 0] [2, 2, 2] [1, 1, 2] : tensor<2x3x4xf32> to tensor<2x2x2xf32>
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x8x4xf32>
// CHECK: %[[C0:.*]] = tensor.insert_slice %{{.*}} into %[[E]][0, 0, 0] [2, 3, 4] [1, 1, 1]
// CHECK: tensor.insert_slice %{{.*}} into %[[C0]][0, 3, 0] [2, 5, 4] [1, 1, 1]
func.func @shapes(%x: tensor<2x3x4xf32>, %y: tensor<2x5x4xf32>)
    -> (tensor<6x4xf32>, tensor<4x2x3xf32>, tensor<2x2x2xf32>, tensor<2x8x4xf32>) {
  %0 = autopar.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
  %1 = autopar.transpose %x, perm = [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
  %2 = autopar.slice %x, start = [0, 1, 0], limit = [2, 3, 4], strides = [1, 1, 2]
      : tensor<2x3x4xf32> -> tensor<2x2x2xf32>
  %3 = autopar.concat(%x, %y) dim = 1 : tensor<2x3x4xf32>, tensor<2x5x4xf32> -> tensor<2x8x4xf32>
  return %0, %1, %2, %3 : tensor<6x4xf32>, tensor<4x2x3xf32>, tensor<2x2x2xf32>, tensor<2x8x4xf32>
}

// -----

// A size-1 dimension that broadcasts reads index 0.
// CHECK-DAG: #[[$BIN:.*]] = affine_map<(d0, d1, d2) -> (0, d2)>
// CHECK-LABEL: func @broadcast
// CHECK: linalg.generic {indexing_maps = [#[[$BIN]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel"]}
func.func @broadcast(%x: tensor<1x4xf32>) -> tensor<3x2x4xf32> {
  %0 = autopar.broadcast %x, dims = [1, 2] : tensor<1x4xf32> -> tensor<3x2x4xf32>
  return %0 : tensor<3x2x4xf32>
}

// -----

// CHECK-LABEL: func @gather
// CHECK: linalg.generic
// CHECK: arith.index_cast
// CHECK: arith.select
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: linalg.index 0
// CHECK: tensor.extract
func.func @gather(%t: tensor<4x10xf32>, %i: tensor<3xi64>) -> tensor<4x3xf32> {
  %0 = autopar.gather %t, %i, axis = 1 : tensor<4x10xf32>, tensor<3xi64> -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

// Composites are decomposed, then lowered: nothing of autopar is left.
// CHECK-LABEL: func @composites
// CHECK-NOT: autopar.
// CHECK: math.exp
// CHECK-NOT: autopar.
// CHECK: return
func.func @composites(%q: tensor<2x4x8xf32>, %g: tensor<8xf32>, %l: tensor<2x4xi64>)
    -> (tensor<2x4x8xf32>, tensor<f32>) {
  %0 = autopar.layer_norm %q, %g, %g, axis = 2, epsilon = 1.0e-5
      : tensor<2x4x8xf32>, tensor<8xf32> -> tensor<2x4x8xf32>
  %1 = autopar.attention %0, %0, %0 {causal}
      : tensor<2x4x8xf32>, tensor<2x4x8xf32>, tensor<2x4x8xf32> -> tensor<2x4x8xf32>
  %2 = autopar.cross_entropy %1, %l : tensor<2x4x8xf32>, tensor<2x4xi64> -> tensor<f32>
  return %1, %2 : tensor<2x4x8xf32>, tensor<f32>
}

// -----

// scatter_add: the dimensions that are not indexed are independent (an
// scf.forall, one column of the target each); the updates along the
// indices run sequentially so that repeated indices accumulate.
// CHECK-LABEL: func @scatter_add
// CHECK: scf.forall (%[[J:.*]]) in (4) shared_outs(%[[ACC:.*]] = %arg0) -> (tensor<10x4xf32>)
// CHECK: %[[COL:.*]] = tensor.extract_slice %[[ACC]][0, %[[J]]] [10, 1] [1, 1] : tensor<10x4xf32> to tensor<10xf32>
// CHECK: scf.for %[[P:.*]] = {{.*}} iter_args(%[[C:.*]] = %[[COL]])
// CHECK: tensor.extract %arg1[%[[P]]]
// CHECK: arith.maxsi
// CHECK: arith.minsi
// CHECK: %[[U:.*]] = tensor.extract %arg2[%[[P]], %[[J]]]
// CHECK: arith.addf
// CHECK: tensor.insert
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %{{.*}} into %[[ACC]][0, %[[J]]] [10, 1] [1, 1]
func.func @scatter_add(%t: tensor<10x4xf32>, %i: tensor<3xi64>, %u: tensor<3x4xf32>) -> tensor<10x4xf32> {
  %0 = autopar.scatter_add %t, %i, %u, axis = 0 : tensor<10x4xf32>, tensor<3xi64>, tensor<3x4xf32> -> tensor<10x4xf32>
  return %0 : tensor<10x4xf32>
}

// -----

// A constant 0, 1, 2, ... over its one dimension (the class ids a
// cross-entropy compares its labels with) becomes a loop yielding its
// index, which fusion moves into the loops that read it (no table to
// load); other integer constants stay constants.
// CHECK-LABEL: func @iota
// CHECK: %[[E:.*]] = tensor.empty() : tensor<5xi64>
// CHECK: %[[IOTA:.*]] = linalg.generic {{.*}} outs(%[[E]] : tensor<5xi64>)
// CHECK: %[[I:.*]] = linalg.index 0 : index
// CHECK: %[[V:.*]] = arith.index_cast %[[I]] : index to i64
// CHECK: linalg.yield %[[V]] : i64
// CHECK: %[[SHUFFLED:.*]] = arith.constant dense<[0, 2, 1, 3, 4]> : tensor<5xi64>
// CHECK: %[[FROM1:.*]] = arith.constant dense<[1, 2, 3, 4, 5]> : tensor<5xi64>
// CHECK: %[[ROWS:.*]] = arith.constant dense<{{\[}}[0, 1], [0, 1]]> : tensor<2x2xi32>
// CHECK: %[[ZEROS:.*]] = arith.constant dense<0> : tensor<5xi64>
// CHECK: return %[[IOTA]], %[[SHUFFLED]], %[[FROM1]], %[[ROWS]], %[[ZEROS]]
func.func @iota() -> (tensor<5xi64>, tensor<5xi64>, tensor<5xi64>, tensor<2x2xi32>, tensor<5xi64>) {
  %0 = autopar.constant dense<[0, 1, 2, 3, 4]> : tensor<5xi64>
  %1 = autopar.constant dense<[0, 2, 1, 3, 4]> : tensor<5xi64>
  %2 = autopar.constant dense<[1, 2, 3, 4, 5]> : tensor<5xi64>
  %3 = autopar.constant dense<[[0, 1], [0, 1]]> : tensor<2x2xi32>
  %4 = autopar.constant dense<0> : tensor<5xi64>
  return %0, %1, %2, %3, %4 : tensor<5xi64>, tensor<5xi64>, tensor<5xi64>, tensor<2x2xi32>, tensor<5xi64>
}
