// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(autopar-contractions-to-calls{function=autopar_cuda_gemm_f32 bf16-function=autopar_cuda_gemm_bf16},func.func(autopar-pad-products))' -verify-diagnostics | FileCheck %s

// The logits of a vocabulary of 131 (not a multiple of 8): the product's N
// loop grows to 136 in the two buffers it indexes, the transposed weights'
// rows and the logits' columns; the product runs on the grown buffers,
// the readers read the original extent through views. Nothing sums over
// the padding: no fill.
// CHECK-LABEL: func.func @logits
// CHECK: %[[W:.*]] = memref.alloc() {{.*}}: memref<136x64xbf16>
// CHECK: %[[WV:.*]] = memref.subview %[[W]][0, 0] [131, 64] [1, 1]
// CHECK: linalg.generic {{.*}} outs(%[[WV]] : memref<131x64xbf16, strided<[64, 1]>>)
// CHECK: %[[L:.*]] = memref.alloc() {{.*}}: memref<32x136xf32>
// CHECK: %[[LV:.*]] = memref.subview %[[L]][0, 0] [32, 131] [1, 1]
// CHECK-NOT: linalg.fill
// CHECK: %[[WC:.*]] = memref.cast %[[W]] : memref<136x64xbf16> to memref<*xbf16>
// CHECK: %[[LC:.*]] = memref.cast %[[L]] : memref<32x136xf32> to memref<*xf32>
// CHECK: call @autopar_cuda_gemm_bf16(%{{.*}}, %[[WC]], %[[LC]], %{{.*}})
// CHECK: linalg.generic {{.*}} ins(%[[LV]] : memref<32x131xf32, strided<[136, 1]>>)
// CHECK: memref.dealloc %[[W]] : memref<136x64xbf16>
// CHECK: memref.dealloc %[[L]] : memref<32x136xf32>
func.func @logits(%x: memref<32x64xbf16>, %w32: memref<131x64xf32>, %out: memref<32x131xf32>) {
  %w = memref.alloc() {alignment = 64 : i64} : memref<131x64xbf16>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%w32 : memref<131x64xf32>) outs(%w : memref<131x64xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  %l = memref.alloc() {alignment = 64 : i64} : memref<32x131xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>, affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x64xbf16>, memref<131x64xbf16>) outs(%l : memref<32x131xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %ae = arith.extf %a : bf16 to f32
    %be = arith.extf %b : bf16 to f32
    %p = arith.mulf %ae, %be : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%l : memref<32x131xf32>) outs(%out : memref<32x131xf32>) {
  ^bb0(%a: f32, %o: f32):
    linalg.yield %a : f32
  }
  memref.dealloc %w : memref<131x64xbf16>
  memref.dealloc %l : memref<32x131xf32>
  return
}

// -----

// The logits' gradient times the weights: the product sums over the
// vocabulary, so the padding of both operands is zeroed right before it.
// CHECK-LABEL: func.func @summed
// CHECK: %[[G:.*]] = memref.alloc() {{.*}}: memref<32x136xbf16>
// CHECK: %[[W:.*]] = memref.alloc() {{.*}}: memref<136x64xbf16>
// CHECK: %[[GP:.*]] = memref.subview %[[G]][0, 131] [32, 5] [1, 1]
// CHECK: linalg.fill ins(%{{.*}} : bf16) outs(%[[GP]] :
// CHECK: %[[WP:.*]] = memref.subview %[[W]][131, 0] [5, 64] [1, 1]
// CHECK: linalg.fill ins(%{{.*}} : bf16) outs(%[[WP]] :
// CHECK: call @autopar_cuda_gemm_bf16
func.func @summed(%g32: memref<32x131xf32>, %w32: memref<131x64xf32>, %dx: memref<32x64xf32>) {
  %g = memref.alloc() : memref<32x131xbf16>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%g32 : memref<32x131xf32>) outs(%g : memref<32x131xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  %w = memref.alloc() : memref<131x64xbf16>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]}
      ins(%w32 : memref<131x64xf32>) outs(%w : memref<131x64xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  linalg.matmul ins(%g, %w : memref<32x131xbf16>, memref<131x64xbf16>) outs(%dx : memref<32x64xf32>)
  memref.dealloc %g : memref<32x131xbf16>
  memref.dealloc %w : memref<131x64xbf16>
  return
}

// -----

// Left as they are (the runtime pads them): a loop one of whose buffers is
// a function argument, a loop shorter than min-size (64), an f32 product,
// and a buffer something else than an elementwise op, a product or a
// deallocation uses (a store).
// CHECK-LABEL: func.func @kept
// CHECK-NOT: x136x
// CHECK-NOT: 136x
// CHECK-NOT: x24x
// CHECK-NOT: 24x
// CHECK: return
func.func @kept(%x: memref<32x64xbf16>, %w: memref<131x64xbf16>, %l: memref<32x131xf32>,
                %short: memref<20x64xbf16>, %small: memref<32x20xf32>, %x32: memref<32x64xf32>,
                %w32: memref<131x64xf32>, %l32: memref<32x131xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>, affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<32x64xbf16>, memref<131x64xbf16>) outs(%l : memref<32x131xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %ae = arith.extf %a : bf16 to f32
    %be = arith.extf %b : bf16 to f32
    %p = arith.mulf %ae, %be : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %sb = memref.alloc() : memref<20x64xbf16>
  memref.copy %short, %sb : memref<20x64xbf16> to memref<20x64xbf16>
  %o = memref.alloc() : memref<32x20xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>, affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %sb : memref<32x64xbf16>, memref<20x64xbf16>) outs(%o : memref<32x20xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %ae = arith.extf %a : bf16 to f32
    %be = arith.extf %b : bf16 to f32
    %p = arith.mulf %ae, %be : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.copy %o, %small : memref<32x20xf32> to memref<32x20xf32>
  %o32 = memref.alloc() : memref<32x131xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>, affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x32, %w32 : memref<32x64xf32>, memref<131x64xf32>) outs(%o32 : memref<32x131xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.copy %o32, %l32 : memref<32x131xf32> to memref<32x131xf32>
  %st = memref.alloc() : memref<131x64xbf16>
  %c0 = arith.constant 0 : index
  %z = arith.constant 0.0 : bf16
  memref.store %z, %st[%c0, %c0] : memref<131x64xbf16>
  %o2 = memref.alloc() : memref<32x131xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>, affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %st : memref<32x64xbf16>, memref<131x64xbf16>) outs(%o2 : memref<32x131xf32>) {
  ^bb0(%a: bf16, %b: bf16, %acc: f32):
    %ae = arith.extf %a : bf16 to f32
    %be = arith.extf %b : bf16 to f32
    %p = arith.mulf %ae, %be : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  memref.copy %o2, %l32 : memref<32x131xf32> to memref<32x131xf32>
  return
}
