// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(autopar-contractions-to-calls{function=autopar_cuda_gemm_f32 bf16-function=autopar_cuda_gemm_bf16},func.func(autopar-transpose-product-results))' | FileCheck %s

// The tied embedding's gradient: the product x^T dy (64 x 96) whose one
// reader copies it transposed into the [96, 64] gradient, its innermost
// loop running down the product's columns. The product now stores the
// transposed [96, 64] (the call's description of C's dimensions swapped:
// loop 0 indexes C's dimension 1, loop 1 its dimension 0) and the reader
// reads it along its rows.
// CHECK-DAG: memref.global "private" constant @[[$SWAPPED:__autopar_gemm_loops_0]] : memref<9xi64> = dense<[1, -1, 1, -1, 1, 0, 0, 0, -1]>
// CHECK-DAG: memref.global "private" constant @__autopar_gemm_loops : memref<9xi64> = dense<[1, -1, 0, -1, 1, 1, 0, 0, -1]>
// CHECK-LABEL: func.func @tied
// CHECK: %[[C:.*]] = memref.alloc() : memref<96x64xf32>
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[C]] : memref<96x64xf32>)
// CHECK-NOT: memref.get_global @__autopar_gemm_loops :
// CHECK: %[[CC:.*]] = memref.cast %[[C]] : memref<96x64xf32> to memref<*xf32>
// CHECK: %[[D:.*]] = memref.get_global @[[$SWAPPED]]
// CHECK: %[[DC:.*]] = memref.cast %[[D]]
// CHECK: call @autopar_cuda_gemm_bf16(%{{.*}}, %{{.*}}, %[[CC]], %[[DC]])
// CHECK: linalg.generic {indexing_maps = [#[[ID:.*]], #[[ID]]], iterator_types = ["parallel", "parallel"]} ins(%[[C]] : memref<96x64xf32>)
// CHECK: memref.dealloc %[[C]] : memref<96x64xf32>
func.func @tied(%x: memref<128x64xbf16>, %dy: memref<128x96xbf16>, %grad: memref<96x64xf32>) {
  %c = memref.alloc() : memref<64x96xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<64x96xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (k, i)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %dy : memref<128x64xbf16>, memref<128x96xbf16>) outs(%c : memref<64x96xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %ae = arith.extf %a : bf16 to f32
    %be = arith.extf %b : bf16 to f32
    %p = arith.mulf %ae, %be : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<64x96xf32>) outs(%grad : memref<96x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  memref.dealloc %c : memref<64x96xf32>
  return
}

// -----

// Left as they are: a reader walking the result along its rows already,
// and a result with two readers.
// CHECK-LABEL: func.func @kept
// CHECK: memref.alloc() : memref<64x96xf32>
// CHECK: memref.alloc() : memref<64x96xf32>
// CHECK-NOT: memref.alloc()
// CHECK: return
func.func @kept(%x: memref<128x64xbf16>, %dy: memref<128x96xbf16>, %out: memref<64x96xf32>, %grad: memref<96x64xf32>) {
  %c = memref.alloc() : memref<64x96xf32>
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<64x96xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (k, i)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %dy : memref<128x64xbf16>, memref<128x96xbf16>) outs(%c : memref<64x96xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %ae = arith.extf %a : bf16 to f32
    %be = arith.extf %b : bf16 to f32
    %p = arith.mulf %ae, %be : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<64x96xf32>) outs(%out : memref<64x96xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  %c2 = memref.alloc() : memref<64x96xf32>
  linalg.fill ins(%zero : f32) outs(%c2 : memref<64x96xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (k, i)>, affine_map<(i, j, k) -> (k, j)>, affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %dy : memref<128x64xbf16>, memref<128x96xbf16>) outs(%c2 : memref<64x96xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %ae = arith.extf %a : bf16 to f32
    %be = arith.extf %b : bf16 to f32
    %p = arith.mulf %ae, %be : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%c2 : memref<64x96xf32>) outs(%grad : memref<96x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%c2 : memref<64x96xf32>) outs(%grad : memref<96x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  return
}
