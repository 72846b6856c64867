// RUN: autopar-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(autopar-parallel-dims-first))' | FileCheck %s
// RUN: autopar-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(autopar-parallel-dims-first,convert-linalg-to-parallel-loops))' | FileCheck %s --check-prefix=LOOPS

// A bias gradient, sum over b and s of dy[b, s, d], written with the
// reductions outermost: interchanged so that d comes first; as loops, one
// parallel loop over d around the sequential sums (not host loops around a
// parallel loop over d).
// CHECK-LABEL: func.func @bias_grad
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction", "reduction"]
// LOOPS-LABEL: func.func @bias_grad
// LOOPS: scf.parallel (%[[D:.*]]) =
// LOOPS: scf.for
// LOOPS: scf.for
// LOOPS: memref.load %arg0[%{{.*}}, %{{.*}}, %[[D]]]
#in = affine_map<(b, s, d) -> (b, s, d)>
#out = affine_map<(b, s, d) -> (d)>
func.func @bias_grad(%dy: memref<2x3x4xf32>, %db: memref<4xf32>) {
  linalg.generic {indexing_maps = [#in, #out],
                  iterator_types = ["reduction", "reduction", "parallel"]}
      ins(%dy : memref<2x3x4xf32>) outs(%db : memref<4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %x, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Already in order: unchanged.
// CHECK-LABEL: func.func @row_sum
// CHECK: iterator_types = ["parallel", "reduction"]
#rin = affine_map<(i, j) -> (i, j)>
#rout = affine_map<(i, j) -> (i)>
func.func @row_sum(%x: memref<4x8xf32>, %r: memref<4xf32>) {
  linalg.generic {indexing_maps = [#rin, #rout],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x8xf32>) outs(%r : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  }
  return
}
