// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(convert-autopar-to-linalg,autopar-fuse-elementwise))' --split-input-file | FileCheck %s

// gelu(x * w + b): three elementwise ops become one loop nest.
// CHECK-LABEL: func.func @chain
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel"]
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: math.erf
// CHECK: linalg.yield
// CHECK-NOT: linalg.generic
func.func @chain(%x: tensor<4x8xf32>, %w: tensor<4x8xf32>, %b: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = autopar.mul %x, %w : tensor<4x8xf32>
  %1 = autopar.add %0, %b : tensor<4x8xf32>
  %2 = autopar.gelu %1 : tensor<4x8xf32>
  return %2 : tensor<4x8xf32>
}

// -----

// The producer of a contraction is not fused into it (the contraction stays
// a multiply-add for the GEMM call), but the contraction's consumer chain is
// fused into one loop, and a value with two uses is computed once.
// CHECK-LABEL: func.func @around_dot
// CHECK: %[[T:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel"]
// CHECK: math.tanh
// CHECK: %[[D:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}}ins(%[[T]], %arg1
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.mulf
// CHECK-NEXT: arith.addf
// CHECK-NEXT: linalg.yield
// CHECK: linalg.generic {{.*}}ins(%[[D]], %[[T]]
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK-NOT: linalg.generic
func.func @around_dot(%x: tensor<4x4xf32>, %w: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %t = autopar.tanh %x : tensor<4x4xf32>
  %d = autopar.dot %t, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  %e = autopar.exp %d : tensor<4x4xf32>
  %r = autopar.mul %e, %t : tensor<4x4xf32>
  return %r : tensor<4x4xf32>
}

// -----

// A transpose next to an elementwise op fuses with it: the conversion
// before it (its operand's only use) and the conversion after it (its only
// user) each become one loop reading in one layout and writing the other.
// CHECK-DAG: #[[$PERM:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d2, d1, d3)>
// CHECK-DAG: #[[$ID:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func.func @heads
// CHECK: linalg.generic {indexing_maps = [#[[$PERM]], #[[$ID]]]
// CHECK: arith.truncf
// CHECK-NOT: linalg.transpose
// CHECK: linalg.generic {indexing_maps = [#[[$PERM]], #[[$ID]]]
// CHECK: arith.extf
// CHECK-NOT: linalg.transpose
func.func @heads(%x: tensor<2x8x4x16xf32>, %y: tensor<2x4x8x16xbf16>) -> (tensor<2x4x8x16xbf16>, tensor<2x8x4x16xf32>) {
  %c = autopar.convert %x : tensor<2x8x4x16xf32> -> tensor<2x8x4x16xbf16>
  %t = autopar.transpose %c, perm = [0, 2, 1, 3] : tensor<2x8x4x16xbf16> -> tensor<2x4x8x16xbf16>
  %u = autopar.transpose %y, perm = [0, 2, 1, 3] : tensor<2x4x8x16xbf16> -> tensor<2x8x4x16xbf16>
  %w = autopar.convert %u : tensor<2x8x4x16xbf16> -> tensor<2x8x4x16xf32>
  return %t, %w : tensor<2x4x8x16xbf16>, tensor<2x8x4x16xf32>
}

// -----

// A transpose with neither stays a linalg.transpose.
// CHECK-LABEL: func.func @alone
// CHECK: linalg.transpose
func.func @alone(%x: tensor<2x8xf32>) -> tensor<8x2xf32> {
  %t = autopar.transpose %x, perm = [1, 0] : tensor<2x8xf32> -> tensor<8x2xf32>
  return %t : tensor<8x2xf32>
}

// -----

// A value the function returns and an elementwise op reads (an optimizer's
// new moment): one loop yields both, nothing computed twice.
// CHECK-LABEL: func.func @returned_and_used
// CHECK: %[[F:.*]]:2 = linalg.generic
// CHECK: linalg.yield %{{.*}}, %{{.*}} : f32, f32
// CHECK-NOT: linalg.generic
// CHECK: return %[[F]]#1, %[[F]]#0
func.func @returned_and_used(%p: tensor<64xf32>, %g: tensor<64xf32>, %m: tensor<64xf32>) -> (tensor<64xf32>, tensor<64xf32>) {
  %c = autopar.constant dense<0.9> : tensor<64xf32>
  %a = autopar.mul %m, %c : tensor<64xf32>
  %mn = autopar.add %a, %g : tensor<64xf32>
  %u = autopar.mul %mn, %c : tensor<64xf32>
  %pn = autopar.sub %p, %u : tensor<64xf32>
  return %pn, %mn : tensor<64xf32>, tensor<64xf32>
}

// -----

// Read by two loops: left alone (each consumer is its own loop over rows
// that autopar-fuse-rows may group differently).
// CHECK-LABEL: func.func @two_readers
// CHECK-COUNT-3: linalg.generic
func.func @two_readers(%x: tensor<64xf32>) -> (tensor<64xf32>, tensor<64xf32>) {
  %e = autopar.exp %x : tensor<64xf32>
  %a = autopar.mul %e, %x : tensor<64xf32>
  %b = autopar.add %e, %x : tensor<64xf32>
  return %a, %b : tensor<64xf32>, tensor<64xf32>
}
