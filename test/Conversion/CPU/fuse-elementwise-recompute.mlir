// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-elementwise{recompute}))' --split-input-file | FileCheck %s
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-elementwise))' --split-input-file | FileCheck %s --check-prefix=OFF

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>

// A bias added to a bf16-rounded value (here an argument: 4 bytes read per
// element for the 4 written; a product would count 2, @rounded_twice) that
// a GELU, a gradient and a column sum (a bias gradient) all read: each adds
// the bias again, and the f32 sum is gone.
// CHECK-LABEL: func.func @bias_three_consumers
// CHECK-NOT: linalg.generic
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<8x16xf32>, tensor<16xf32>) outs(%{{.*}} : tensor<8x16xbf16>)
// CHECK: arith.truncf
// CHECK: arith.extf
// CHECK: arith.addf
// CHECK: math.erf
// CHECK: %[[D:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1, %arg2 : tensor<8x16xf32>, tensor<16xf32>, tensor<8x16xf32>)
// CHECK: arith.truncf
// CHECK: arith.addf
// CHECK: arith.mulf
// CHECK: %[[S:.*]] = linalg.generic {{.*}} iterator_types = ["reduction", "parallel"]} ins(%arg0, %arg1 : tensor<8x16xf32>, tensor<16xf32>) outs(%{{.*}} : tensor<16xf32>)
// CHECK: arith.truncf
// CHECK: arith.addf
// CHECK: arith.addf
// CHECK: return %[[Y]], %[[D]], %[[S]]
// Without the option the sum is written once and read three times.
// OFF-LABEL: func.func @bias_three_consumers
// OFF-COUNT-4: linalg.generic
// OFF-NOT: linalg.generic
func.func @bias_three_consumers(%p: tensor<8x16xf32>, %b: tensor<16xf32>, %g: tensor<8x16xf32>, %z: tensor<16xf32>) -> (tensor<8x16xbf16>, tensor<8x16xf32>, tensor<16xf32>) {
  %e = tensor.empty() : tensor<8x16xf32>
  %h = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]} ins(%p, %b : tensor<8x16xf32>, tensor<16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %t = arith.truncf %in : f32 to bf16
    %x = arith.extf %t : bf16 to f32
    %s = arith.addf %x, %bias : f32
    linalg.yield %s : f32
  } -> tensor<8x16xf32>
  %e2 = tensor.empty() : tensor<8x16xbf16>
  %y = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%h : tensor<8x16xf32>) outs(%e2 : tensor<8x16xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %m = math.erf %in : f32
    %t = arith.truncf %m : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x16xbf16>
  %d = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%h, %g : tensor<8x16xf32>, tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %gr: f32, %out: f32):
    %m = arith.mulf %in, %gr : f32
    linalg.yield %m : f32
  } -> tensor<8x16xf32>
  %s = linalg.generic {indexing_maps = [#id, #col], iterator_types = ["reduction", "parallel"]} ins(%h : tensor<8x16xf32>) outs(%z : tensor<16xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %a = arith.addf %acc, %in : f32
    linalg.yield %a : f32
  } -> tensor<16xf32>
  return %y, %d, %s : tensor<8x16xbf16>, tensor<8x16xf32>, tensor<16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// A row's statistic broadcast over the row (nothing read per element) is
// recomputed too; a chain of recomputed producers ends up in each consumer.
// CHECK-LABEL: func.func @broadcast_chain
// OFF-LABEL: func.func @broadcast_chain
// CHECK-COUNT-2: linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<8xf32>, tensor<8x16xf32>)
// CHECK-NOT: linalg.generic
func.func @broadcast_chain(%r: tensor<8xf32>, %x: tensor<8x16xf32>) -> (tensor<8x16xf32>, tensor<8x16xf32>) {
  %e = tensor.empty() : tensor<8x16xf32>
  %b = linalg.generic {indexing_maps = [#row, #id], iterator_types = ["parallel", "parallel"]} ins(%r : tensor<8xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %s = math.rsqrt %in : f32
    linalg.yield %s : f32
  } -> tensor<8x16xf32>
  %u = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  } -> tensor<8x16xf32>
  %v = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%u, %x : tensor<8x16xf32>, tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %xi: f32, %out: f32):
    %m = arith.mulf %in, %xi : f32
    linalg.yield %m : f32
  } -> tensor<8x16xf32>
  %w = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%u, %x : tensor<8x16xf32>, tensor<8x16xf32>) outs(%e : tensor<8x16xf32>) {
  ^bb0(%in: f32, %xi: f32, %out: f32):
    %m = arith.addf %in, %xi : f32
    linalg.yield %m : f32
  } -> tensor<8x16xf32>
  return %v, %w : tensor<8x16xf32>, tensor<8x16xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#t = affine_map<(d0, d1) -> (d1, d0)>

// Left alone: a residual sum (an f32 and a bf16 element read, 6 bytes, for
// the 4 it writes), a transposing producer (its consumers would read
// across the layout), a producer the function returns and one a
// contraction reads.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-11: linalg.generic
// CHECK-NOT: linalg.generic
func.func @kept(%x: tensor<8x8xf32>, %p: tensor<8x8xbf16>, %m: tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) {
  %e = tensor.empty() : tensor<8x8xf32>
  %res = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel"]} ins(%x, %p : tensor<8x8xf32>, tensor<8x8xbf16>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %b: bf16, %out: f32):
    %w = arith.extf %b : bf16 to f32
    %s = arith.addf %a, %w : f32
    linalg.yield %s : f32
  } -> tensor<8x8xf32>
  %r1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%res : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %r2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%res : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = math.exp %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %tr = linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %t1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%tr : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = math.exp %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %t2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%tr : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = math.sin %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %ret = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%m : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = math.absf %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %u1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%ret : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = math.exp %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %u2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%ret : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = math.sin %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %c = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%m : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = math.sqrt %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  %mm = linalg.matmul ins(%c, %c : tensor<8x8xf32>, tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) -> tensor<8x8xf32>
  %c2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%c : tensor<8x8xf32>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%a: f32, %out: f32):
    %n = math.exp %a : f32
    linalg.yield %n : f32
  } -> tensor<8x8xf32>
  return %r1, %r2, %t1, %t2, %ret, %u1, %u2, %mm, %c2 : tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>
}

// -----

#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#tr4 = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#col3 = affine_map<(d0, d1, d2) -> (d2)>

// Attention's backward pass in bf16: two bf16 gradients, each transposed
// and widened to f32, concatenated into the gradient of the key-value
// product, which a bias gradient sums and a product reads rounded to bf16.
// The concatenation holds only bf16 values: it is built in bf16 (each
// piece written in its collapsed shape), the sum widens as it reads, and
// the rounding for the product is gone (the product reads the bf16
// concatenation).
// CHECK-LABEL: func.func @widened_concat
// CHECK-COUNT-2: linalg.generic {{.*}} outs(%{{.*}} : tensor<2x4x16xbf16>)
// CHECK: %[[E:.*]] = tensor.empty() : tensor<2x4x32xbf16>
// CHECK: %[[C0:.*]] = tensor.insert_slice %{{.*}} into %[[E]][0, 0, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xbf16> into tensor<2x4x32xbf16>
// CHECK: %[[C1:.*]] = tensor.insert_slice %{{.*}} into %[[C0]][0, 0, 16] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xbf16> into tensor<2x4x32xbf16>
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[C1]] : tensor<2x4x32xbf16>)
// CHECK: arith.extf
// CHECK: arith.addf
// CHECK: %[[P:.*]] = linalg.batch_matmul ins(%[[C1]], %{{.*}} : tensor<2x4x32xbf16>, tensor<2x32x4xbf16>)
// CHECK-NOT: linalg.generic
// CHECK: return %[[SUM]], %[[P]]
// OFF-LABEL: func.func @widened_concat
// OFF: tensor.insert_slice {{.*}} : tensor<2x4x16xf32> into tensor<2x4x32xf32>
func.func @widened_concat(%dq: tensor<2x2x4x8xbf16>, %dk: tensor<2x2x4x8xbf16>, %w: tensor<2x32x4xbf16>) -> (tensor<32xf32>, tensor<2x4x4xf32>) {
  %e4 = tensor.empty() : tensor<2x4x2x8xf32>
  %q = linalg.generic {indexing_maps = [#tr4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%dq : tensor<2x2x4x8xbf16>) outs(%e4 : tensor<2x4x2x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %x = arith.extf %in : bf16 to f32
    linalg.yield %x : f32
  } -> tensor<2x4x2x8xf32>
  %k = linalg.generic {indexing_maps = [#tr4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%dk : tensor<2x2x4x8xbf16>) outs(%e4 : tensor<2x4x2x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %x = arith.extf %in : bf16 to f32
    linalg.yield %x : f32
  } -> tensor<2x4x2x8xf32>
  %q3 = tensor.collapse_shape %q [[0], [1], [2, 3]] : tensor<2x4x2x8xf32> into tensor<2x4x16xf32>
  %k3 = tensor.collapse_shape %k [[0], [1], [2, 3]] : tensor<2x4x2x8xf32> into tensor<2x4x16xf32>
  %e = tensor.empty() : tensor<2x4x32xf32>
  %c0 = tensor.insert_slice %q3 into %e[0, 0, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x4x32xf32>
  %c1 = tensor.insert_slice %k3 into %c0[0, 0, 16] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xf32> into tensor<2x4x32xf32>
  %zero = arith.constant 0.0 : f32
  %z = tensor.empty() : tensor<32xf32>
  %zf = linalg.fill ins(%zero : f32) outs(%z : tensor<32xf32>) -> tensor<32xf32>
  %sum = linalg.generic {indexing_maps = [#id3, #col3], iterator_types = ["reduction", "reduction", "parallel"]} ins(%c1 : tensor<2x4x32xf32>) outs(%zf : tensor<32xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %a = arith.addf %acc, %in : f32
    linalg.yield %a : f32
  } -> tensor<32xf32>
  %eb = tensor.empty() : tensor<2x4x32xbf16>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%c1 : tensor<2x4x32xf32>) outs(%eb : tensor<2x4x32xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<2x4x32xbf16>
  %pe = tensor.empty() : tensor<2x4x4xf32>
  %p = linalg.batch_matmul ins(%r, %w : tensor<2x4x32xbf16>, tensor<2x32x4xbf16>) outs(%pe : tensor<2x4x4xf32>) -> tensor<2x4x4xf32>
  return %sum, %p : tensor<32xf32>, tensor<2x4x4xf32>
}

// -----

#id2 = affine_map<(d0, d1) -> (d0, d1)>

// Left alone: a piece that is not only widened (its exponential is no bf16
// value).
// CHECK-LABEL: func.func @wide_piece
// CHECK: tensor.insert_slice {{.*}} : tensor<4x8xf32> into tensor<4x16xf32>
// CHECK: tensor.insert_slice {{.*}} : tensor<4x8xf32> into tensor<4x16xf32>
func.func @wide_piece(%a: tensor<4x8xbf16>, %b: tensor<4x8xbf16>) -> tensor<4x16xf32> {
  %e = tensor.empty() : tensor<4x8xf32>
  %x = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<4x8xbf16>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %w = arith.extf %in : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<4x8xf32>
  %y = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%b : tensor<4x8xbf16>) outs(%e : tensor<4x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %w = arith.extf %in : bf16 to f32
    %v = math.exp %w : f32
    linalg.yield %v : f32
  } -> tensor<4x8xf32>
  %c = tensor.empty() : tensor<4x16xf32>
  %c0 = tensor.insert_slice %x into %c[0, 0] [4, 8] [1, 1] : tensor<4x8xf32> into tensor<4x16xf32>
  %c1 = tensor.insert_slice %y into %c0[0, 8] [4, 8] [1, 1] : tensor<4x8xf32> into tensor<4x16xf32>
  return %c1 : tensor<4x16xf32>
}

// -----

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#col3 = affine_map<(d0, d1, d2) -> (d2)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
#tr4 = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>

// The bias added to a query-key-value product (rounded to bf16), cut into
// query and key and split into 2 heads of 8 through a flat view, each
// transposed and rounded: the views fold into the readers' indexing maps
// (the key's columns start at 16), and the bias is added by each of them,
// which read the product itself.
// CHECK-DAG: #[[$Q:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1 * 8 + d3)>
// CHECK-DAG: #[[$K:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1 * 8 + d3 + 16)>
// CHECK-DAG: #[[$BQ:.*]] = affine_map<(d0, d1, d2, d3) -> (d1 * 8 + d3)>
// CHECK-DAG: #[[$BK:.*]] = affine_map<(d0, d1, d2, d3) -> (d1 * 8 + d3 + 16)>
// CHECK-LABEL: func.func @sliced_bias
// CHECK-NOT: tensor.extract_slice
// CHECK: linalg.generic {indexing_maps = [#[[$Q]], #[[$BQ]], #{{.*}}]{{.*}} ins(%arg0, %arg1 : tensor<2x4x32xf32>, tensor<32xf32>)
// CHECK: arith.truncf
// CHECK: arith.addf
// CHECK: linalg.generic {indexing_maps = [#[[$K]], #[[$BK]], #{{.*}}]{{.*}} ins(%arg0, %arg1 : tensor<2x4x32xf32>, tensor<32xf32>)
// CHECK-NOT: linalg.generic
// OFF-LABEL: func.func @sliced_bias
// OFF-COUNT-2: tensor.extract_slice
func.func @sliced_bias(%p: tensor<2x4x32xf32>, %b: tensor<32xf32>) -> (tensor<2x2x4x8xbf16>, tensor<2x2x4x8xbf16>) {
  %e = tensor.empty() : tensor<2x4x32xf32>
  %h = linalg.generic {indexing_maps = [#id3, #col3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%p, %b : tensor<2x4x32xf32>, tensor<32xf32>) outs(%e : tensor<2x4x32xf32>) {
  ^bb0(%in: f32, %bias: f32, %out: f32):
    %t = arith.truncf %in : f32 to bf16
    %x = arith.extf %t : bf16 to f32
    %s = arith.addf %x, %bias : f32
    linalg.yield %s : f32
  } -> tensor<2x4x32xf32>
  %q = tensor.extract_slice %h[0, 0, 0] [2, 4, 16] [1, 1, 1] : tensor<2x4x32xf32> to tensor<2x4x16xf32>
  %qf = tensor.collapse_shape %q [[0, 1, 2]] : tensor<2x4x16xf32> into tensor<128xf32>
  %qh = tensor.expand_shape %qf [[0, 1, 2, 3]] output_shape [2, 4, 2, 8] : tensor<128xf32> into tensor<2x4x2x8xf32>
  %k = tensor.extract_slice %h[0, 0, 16] [2, 4, 16] [1, 1, 1] : tensor<2x4x32xf32> to tensor<2x4x16xf32>
  %kf = tensor.collapse_shape %k [[0, 1, 2]] : tensor<2x4x16xf32> into tensor<128xf32>
  %kh = tensor.expand_shape %kf [[0, 1, 2, 3]] output_shape [2, 4, 2, 8] : tensor<128xf32> into tensor<2x4x2x8xf32>
  %e4 = tensor.empty() : tensor<2x2x4x8xbf16>
  %qt = linalg.generic {indexing_maps = [#tr4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%qh : tensor<2x4x2x8xf32>) outs(%e4 : tensor<2x2x4x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<2x2x4x8xbf16>
  %kt = linalg.generic {indexing_maps = [#tr4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%kh : tensor<2x4x2x8xf32>) outs(%e4 : tensor<2x2x4x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<2x2x4x8xbf16>
  return %qt, %kt : tensor<2x2x4x8xbf16>, tensor<2x2x4x8xbf16>
}

// -----

#tr4 = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
#id4 = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>

// A transposed head's values, collapsed and inserted into a larger tensor:
// the loop computes the collapsed shape itself (the heads' loop and the
// head dimension's recovered by division and remainder), so that nothing
// stands between it and the insert (which eliminate-empty-tensors then
// lets bufferization write in place).
// CHECK: #[[$HEAD:.*]] = affine_map<(d0, d1, d2) -> (d0, d2 floordiv 8, d1, d2 mod 8)>
// CHECK-LABEL: func.func @collapsed_piece
// CHECK-NOT: tensor.collapse_shape
// CHECK: %[[P:.*]] = linalg.generic {indexing_maps = [#[[$HEAD]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg0 : tensor<2x2x4x8xf32>) outs(%{{.*}} : tensor<2x4x16xbf16>)
// CHECK: tensor.insert_slice %[[P]] into %{{.*}}[0, 0, 16] [2, 4, 16] [1, 1, 1]
// OFF-LABEL: func.func @collapsed_piece
// OFF: tensor.collapse_shape
func.func @collapsed_piece(%x: tensor<2x2x4x8xf32>, %into: tensor<2x4x32xbf16>) -> tensor<2x4x32xbf16> {
  %e = tensor.empty() : tensor<2x4x2x8xbf16>
  %t = linalg.generic {indexing_maps = [#tr4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]} ins(%x : tensor<2x2x4x8xf32>) outs(%e : tensor<2x4x2x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %r = arith.truncf %in : f32 to bf16
    linalg.yield %r : bf16
  } -> tensor<2x4x2x8xbf16>
  %c = tensor.collapse_shape %t [[0], [1], [2, 3]] : tensor<2x4x2x8xbf16> into tensor<2x4x16xbf16>
  %i = tensor.insert_slice %c into %into[0, 0, 16] [2, 4, 16] [1, 1, 1] : tensor<2x4x16xbf16> into tensor<2x4x32xbf16>
  return %i : tensor<2x4x32xbf16>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>

// Rounding to bf16 twice read: a product's rounding (the product will be
// stored in bf16: 2 bytes read for the 2 written) is recomputed by its
// readers; an argument's rounding (4 bytes read for 2) stays.
// CHECK-LABEL: func.func @rounded_twice
// CHECK: %[[P:.*]] = linalg.matmul
// CHECK: %[[RA:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<8x8xf32>) outs(%{{.*}} : tensor<8x8xbf16>)
// CHECK-COUNT-2: linalg.generic {{.*}} ins(%[[P]] : tensor<8x8xf32>) outs(%{{.*}} : tensor<8x8xf32>)
// CHECK-COUNT-2: linalg.generic {{.*}} ins(%[[RA]] : tensor<8x8xbf16>) outs(%{{.*}} : tensor<8x8xf32>)
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @rounded_twice(%a: tensor<8x8xf32>, %b: tensor<8x8xf32>) -> (tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x8xf32>
  %zero = linalg.fill ins(%z : f32) outs(%e : tensor<8x8xf32>) -> tensor<8x8xf32>
  %p = linalg.matmul ins(%a, %b : tensor<8x8xf32>, tensor<8x8xf32>) outs(%zero : tensor<8x8xf32>) -> tensor<8x8xf32>
  %eb = tensor.empty() : tensor<8x8xbf16>
  %rp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%p : tensor<8x8xf32>) outs(%eb : tensor<8x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x8xbf16>
  %ra = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%a : tensor<8x8xf32>) outs(%eb : tensor<8x8xbf16>) {
  ^bb0(%in: f32, %out: bf16):
    %t = arith.truncf %in : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<8x8xbf16>
  %p1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%rp : tensor<8x8xbf16>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %w = arith.extf %in : bf16 to f32
    %x = math.exp %w : f32
    linalg.yield %x : f32
  } -> tensor<8x8xf32>
  %p2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%rp : tensor<8x8xbf16>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %w = arith.extf %in : bf16 to f32
    %x = math.sin %w : f32
    linalg.yield %x : f32
  } -> tensor<8x8xf32>
  %a1 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%ra : tensor<8x8xbf16>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %w = arith.extf %in : bf16 to f32
    %x = math.exp %w : f32
    linalg.yield %x : f32
  } -> tensor<8x8xf32>
  %a2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%ra : tensor<8x8xbf16>) outs(%e : tensor<8x8xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %w = arith.extf %in : bf16 to f32
    %x = math.sin %w : f32
    linalg.yield %x : f32
  } -> tensor<8x8xf32>
  return %p1, %p2, %a1, %a2 : tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#col = affine_map<(d0, d1) -> (d1)>

// An iota (the cross-entropy's class ids) that two loops read broadcast
// along their rows: it reads nothing, so each computes the class id from
// its own loop index (no table written and loaded once per element). A
// producer that reads something is still not recomputed in a consumer that
// broadcasts it (it would compute each value once per element).
// CHECK-LABEL: func.func @iota_read_broadcast
// CHECK-NOT: linalg.index 0
// CHECK: linalg.generic {{.*}} ins(%arg0 : tensor<4xi64>)
// CHECK: %[[C1:.*]] = linalg.index 1 : index
// CHECK: %[[I1:.*]] = arith.index_cast %[[C1]] : index to i64
// CHECK: arith.cmpi eq, %[[I1]], %in
// CHECK: linalg.generic {{.*}} ins(%arg0 : tensor<4xi64>)
// CHECK: %[[C2:.*]] = linalg.index 1 : index
// CHECK: %[[I2:.*]] = arith.index_cast %[[C2]] : index to i64
// CHECK: arith.cmpi ne, %[[I2]], %in
// CHECK-NOT: linalg.generic
// CHECK: return
// Without `recompute` too: reading nothing, it costs its readers nothing.
// OFF-LABEL: func.func @iota_read_broadcast
// OFF-NOT: linalg.index 0
// OFF-COUNT-2: linalg.index 1
// OFF-NOT: linalg.generic
// OFF: return
func.func @iota_read_broadcast(%label: tensor<4xi64>) -> (tensor<4x6xf32>, tensor<4x6xi1>) {
  %e = tensor.empty() : tensor<6xi64>
  %iota = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>], iterator_types = ["parallel"]} outs(%e : tensor<6xi64>) {
  ^bb0(%out: i64):
    %i = linalg.index 0 : index
    %v = arith.index_cast %i : index to i64
    linalg.yield %v : i64
  } -> tensor<6xi64>
  %ef = tensor.empty() : tensor<4x6xf32>
  %onehot = linalg.generic {indexing_maps = [#col, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%iota, %label : tensor<6xi64>, tensor<4xi64>) outs(%ef : tensor<4x6xf32>) {
  ^bb0(%c: i64, %l: i64, %out: f32):
    %eq = arith.cmpi eq, %c, %l : i64
    %one = arith.constant 1.0 : f32
    %zero = arith.constant 0.0 : f32
    %s = arith.select %eq, %one, %zero : f32
    linalg.yield %s : f32
  } -> tensor<4x6xf32>
  %eb = tensor.empty() : tensor<4x6xi1>
  %mask = linalg.generic {indexing_maps = [#col, #row, #id], iterator_types = ["parallel", "parallel"]} ins(%iota, %label : tensor<6xi64>, tensor<4xi64>) outs(%eb : tensor<4x6xi1>) {
  ^bb0(%c: i64, %l: i64, %out: i1):
    %ne = arith.cmpi ne, %c, %l : i64
    linalg.yield %ne : i1
  } -> tensor<4x6xi1>
  return %onehot, %mask : tensor<4x6xf32>, tensor<4x6xi1>
}
