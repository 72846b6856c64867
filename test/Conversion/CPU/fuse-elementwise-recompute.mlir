// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-elementwise{recompute}))' --split-input-file | FileCheck %s
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-elementwise))' --split-input-file | FileCheck %s --check-prefix=OFF

#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>

// A bias added to a bf16-rounded product (2 bytes read per element, an f32
// written) that a GELU, a gradient and a column sum (a bias gradient) all
// read: each adds the bias again to the product, and the f32 sum is gone.
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
