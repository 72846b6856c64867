// RUN: autopar-opt %s --autopar-contractions-to-calls --split-input-file | FileCheck %s
// RUN: autopar-opt %s --autopar-contractions-to-calls="function=autopar_cuda_gemm_f32 bf16-function=autopar_cuda_gemm_bf16 f16-function=autopar_cuda_gemm_f16" --split-input-file | FileCheck %s --check-prefix=NARROW
// The CUDA pipeline names its own runtime function; an empty name is an
// error.
// RUN: autopar-opt %s --autopar-contractions-to-calls="function=autopar_cuda_gemm_f32" --split-input-file | FileCheck %s --check-prefix=NAMED
// NAMED: func.func private @autopar_cuda_gemm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<?xi64>) attributes {llvm.emit_c_interface}
// NAMED: call @autopar_cuda_gemm_f32
// With dots=false (the CUDA pipeline), dot products per batch element stay
// linalg ops.
// RUN: autopar-opt %s --autopar-contractions-to-calls="function=autopar_cuda_gemm_f32 dots=false" --split-input-file | FileCheck %s --check-prefix=DOTS
// With overwrite-zero-init (the CUDA pipeline), a fresh buffer's zero fill
// goes and the loop description ends in 1: the runtime overwrites C.
// RUN: autopar-opt %s --autopar-contractions-to-calls="function=autopar_cuda_gemm_f32 overwrite-zero-init" --split-input-file | FileCheck %s --check-prefix=OVER
// With narrow-results too, a bf16 product whose f32 C is only read rounded
// to bf16 gets a bf16 C from the `_c16` function.
// RUN: autopar-opt %s --autopar-contractions-to-calls="function=autopar_cuda_gemm_f32 bf16-function=autopar_cuda_gemm_bf16 overwrite-zero-init narrow-results" --split-input-file | FileCheck %s --check-prefix=C16
// RUN: not autopar-opt %s --autopar-contractions-to-calls="function=" --split-input-file 2>&1 | FileCheck %s --check-prefix=EMPTY
// EMPTY: error: autopar-contractions-to-calls: the runtime function name is empty

// A linear layer's matmul on buffers becomes one runtime call; the loop
// description lists, per loop (m, n, k), the dimension of A, B and C.
// CHECK: memref.global "private" constant @__autopar_gemm_loops : memref<9xi64> = dense<[0, -1, 0, -1, 1, 1, 1, 0, -1]>
// CHECK: func.func private @autopar_gemm_f32(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<?xi64>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @matmul
// CHECK: %[[LOOPS:.*]] = memref.get_global @__autopar_gemm_loops : memref<9xi64>
// CHECK: %[[A:.*]] = memref.cast %arg0 : memref<4x8xf32> to memref<*xf32>
// CHECK: %[[B:.*]] = memref.cast %arg1 : memref<8x16xf32> to memref<*xf32>
// CHECK: %[[C:.*]] = memref.cast %arg2 : memref<4x16xf32> to memref<*xf32>
// CHECK: %[[L:.*]] = memref.cast %[[LOOPS]] : memref<9xi64> to memref<?xi64>
// CHECK: call @autopar_gemm_f32(%[[A]], %[[B]], %[[C]], %[[L]])
// CHECK-NOT: linalg
func.func @matmul(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}

// -----

// The generic autopar.dot lowers to, with a transposed operand and a strided
// view, batch loop first; two contractions with the same description share
// one global.
#lhs = affine_map<(b, m, n, k) -> (b, k, m)>
#rhs = affine_map<(b, m, n, k) -> (b, k, n)>
#out = affine_map<(b, m, n, k) -> (b, m, n)>
// CHECK: memref.global "private" constant @__autopar_gemm_loops : memref<12xi64> = dense<[0, 0, 0, 2, -1, 1, -1, 2, 2, 1, 1, -1]>
// CHECK-NOT: memref.global
// CHECK-LABEL: func.func @batched
// CHECK-COUNT-2: call @autopar_gemm_f32
func.func @batched(%a: memref<2x5x3xf32, strided<[?, ?, ?], offset: ?>>, %b: memref<2x5x4xf32>, %c: memref<2x3x4xf32>, %d: memref<2x3x4xf32>) {
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<2x5x3xf32, strided<[?, ?, ?], offset: ?>>, memref<2x5x4xf32>) outs(%c : memref<2x3x4xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<2x5x3xf32, strided<[?, ?, ?], offset: ?>>, memref<2x5x4xf32>) outs(%d : memref<2x3x4xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left as loops: f64 and integer contractions (no runtime GEMM for them),
// contractions still on tensors, and bodies that are not a multiply-add.
// CHECK-NOT: autopar_gemm
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-3: linalg.matmul
// CHECK: linalg.generic
// CHECK-NOT: call
func.func @kept(%a: memref<4x8xf64>, %b: memref<8x16xf64>, %c: memref<4x16xf64>,
                %ia: memref<4x8xi32>, %ib: memref<8x16xi32>, %ic: memref<4x16xi32>,
                %ta: tensor<4x8xf32>, %tb: tensor<8x16xf32>, %tc: tensor<4x16xf32>,
                %fa: memref<4x8xf32>, %fb: memref<8x16xf32>, %fc: memref<4x16xf32>) -> tensor<4x16xf32> {
  linalg.matmul ins(%a, %b : memref<4x8xf64>, memref<8x16xf64>) outs(%c : memref<4x16xf64>)
  linalg.matmul ins(%ia, %ib : memref<4x8xi32>, memref<8x16xi32>) outs(%ic : memref<4x16xi32>)
  %t = linalg.matmul ins(%ta, %tb : tensor<4x8xf32>, tensor<8x16xf32>) outs(%tc : tensor<4x16xf32>) -> tensor<4x16xf32>
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%fa, %fb : memref<4x8xf32>, memref<8x16xf32>) outs(%fc : memref<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.maximumf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return %t : tensor<4x16xf32>
}

// -----

// bf16 and f16 inputs with an f32 init (autopar-narrow-contractions' form):
// the CUDA pipeline calls cuBLAS's half-precision GEMM through the
// functions it names, A and B passed as narrow memrefs; without such a
// function (the CPU) they stay loops.
// NARROW-DAG: func.func private @autopar_cuda_gemm_bf16(memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<?xi64>) attributes {llvm.emit_c_interface}
// NARROW-DAG: func.func private @autopar_cuda_gemm_f16(memref<*xf16>, memref<*xf16>, memref<*xf32>, memref<?xi64>) attributes {llvm.emit_c_interface}
// NARROW-LABEL: func.func @narrow
// NARROW: call @autopar_cuda_gemm_bf16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<?xi64>) -> ()
// NARROW: call @autopar_cuda_gemm_f16(
// A bf16 result (accumulated in bf16) is no GEMM of theirs.
// NARROW: linalg.generic
// CHECK-LABEL: func.func @narrow
// CHECK-COUNT-3: linalg.generic
// CHECK-NOT: call
func.func @narrow(%a: memref<4x8xbf16>, %b: memref<8x16xbf16>, %c: memref<4x16xf32>,
                  %ha: memref<4x8xf16>, %hb: memref<8x16xf16>, %bc: memref<4x16xbf16>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<4x8xbf16>, memref<8x16xbf16>) outs(%c : memref<4x16xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xw = arith.extf %x : bf16 to f32
    %yw = arith.extf %y : bf16 to f32
    %m = arith.mulf %xw, %yw : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%ha, %hb : memref<4x8xf16>, memref<8x16xf16>) outs(%c : memref<4x16xf32>) {
  ^bb0(%x: f16, %y: f16, %acc: f32):
    %xw = arith.extf %x : f16 to f32
    %yw = arith.extf %y : f16 to f32
    %m = arith.mulf %xw, %yw : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<4x8xbf16>, memref<8x16xbf16>) outs(%bc : memref<4x16xbf16>) {
  ^bb0(%x: bf16, %y: bf16, %acc: bf16):
    %m = arith.mulf %x, %y : bf16
    %s = arith.addf %acc, %m : bf16
    linalg.yield %s : bf16
  }
  return
}

// -----

// Dot products per batch element: a layer norm backward's sum over the
// features of each row (b, s; d), and its weight gradient's sum over the
// rows of each feature (d; b, s). No loop indexes A and C alone or B and C
// alone, so a GEMM would be 1x1xK per batch element: with dots=false they
// stay linalg ops. A linear layer (M and N loops) is still a call.
// CHECK-LABEL: func.func @dots
// CHECK-COUNT-3: call @autopar_gemm_f32
// CHECK-NOT: linalg.generic
// DOTS-LABEL: func.func @dots
// DOTS: linalg.generic
// DOTS-SAME: ["parallel", "parallel", "reduction"]
// DOTS: linalg.generic
// DOTS-SAME: ["parallel", "reduction", "reduction"]
// DOTS: call @autopar_cuda_gemm_f32
// DOTS-NOT: call
// DOTS: return
func.func @dots(%dy: memref<2x3x8xf32>, %x: memref<2x3x8xf32>, %rows: memref<2x3xf32>, %cols: memref<8xf32>, %w: memref<8x4xf32>, %v: memref<2x3x4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, s, d) -> (b, s, d)>, affine_map<(b, s, d) -> (b, s, d)>, affine_map<(b, s, d) -> (b, s)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%dy, %x : memref<2x3x8xf32>, memref<2x3x8xf32>) outs(%rows : memref<2x3xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d, b, s) -> (b, s, d)>, affine_map<(d, b, s) -> (b, s, d)>, affine_map<(d, b, s) -> (d)>],
                  iterator_types = ["parallel", "reduction", "reduction"]}
      ins(%dy, %x : memref<2x3x8xf32>, memref<2x3x8xf32>) outs(%cols : memref<8xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(b, s, n, d) -> (b, s, d)>, affine_map<(b, s, n, d) -> (d, n)>, affine_map<(b, s, n, d) -> (b, s, n)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<2x3x8xf32>, memref<8x4xf32>) outs(%v : memref<2x3x4xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// The fill is the buffer's only use before the product: it goes, and the
// description (m, n, k; then the flag) ends in 1. Where the zeroed buffer is
// read in between, or C is an argument, the fill stays and C is added to.
// OVER-DAG: memref.global "private" constant @__autopar_gemm_loops{{.*}} : memref<10xi64> = dense<[0, -1, 0, -1, 1, 1, 1, 0, -1, 1]>
// OVER-DAG: memref.global "private" constant @__autopar_gemm_loops{{.*}} : memref<9xi64> = dense<[0, -1, 0, -1, 1, 1, 1, 0, -1]>
// OVER-LABEL: func.func @overwrite
// OVER: %[[C:.*]] = memref.alloc() : memref<4x16xf32>
// OVER-NEXT: memref.get_global @__autopar_gemm_loops{{.*}} : memref<10xi64>
// OVER: call @autopar_cuda_gemm_f32
// OVER-LABEL: func.func @read_between
// OVER: linalg.fill
// OVER: memref.copy
// OVER: memref.get_global @__autopar_gemm_loops{{.*}} : memref<9xi64>
// OVER-LABEL: func.func @argument
// OVER: linalg.fill
// OVER: memref.get_global @__autopar_gemm_loops{{.*}} : memref<9xi64>
// CHECK-LABEL: func.func @overwrite
// CHECK: linalg.fill
func.func @overwrite(%a: memref<4x8xf32>, %b: memref<8x16xf32>) -> memref<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return %c : memref<4x16xf32>
}
func.func @read_between(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %d: memref<4x16xf32>) -> memref<4x16xf32> {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  memref.copy %c, %d : memref<4x16xf32> to memref<4x16xf32>
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return %c : memref<4x16xf32>
}
func.func @argument(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>) outs(%c : memref<4x16xf32>)
  return
}

// -----

// C16-DAG: func.func private @autopar_cuda_gemm_bf16_c16(memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<?xi64>) attributes {llvm.emit_c_interface}
// C16-LABEL: func.func @rounded_reads
// C16: %[[C:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x16xbf16>
// C16-NOT: linalg.fill
// C16: %[[CAST:.*]] = memref.cast %[[C]] : memref<4x16xbf16> to memref<*xbf16>
// C16: call @autopar_cuda_gemm_bf16_c16(%{{.*}}, %{{.*}}, %[[CAST]], %{{.*}})
// C16: linalg.generic {{.*}} ins(%[[C]], %{{.*}} : memref<4x16xbf16>, memref<16xf32>)
// C16-NEXT: ^bb0(%[[X:.*]]: bf16, %{{.*}}: f32, %{{.*}}: f32):
// C16-NEXT: %[[W:.*]] = arith.extf %[[X]] : bf16 to f32
// C16-NEXT: arith.addf %[[W]]
// C16: linalg.generic {{.*}} ins(%[[C]] : memref<4x16xbf16>) outs(%{{.*}} : memref<4x16xbf16>)
// C16-NEXT: ^bb0(%[[Y:.*]]: bf16, %{{.*}}: bf16):
// C16-NEXT: linalg.yield %[[Y]] : bf16
// C16: memref.dealloc %[[C]] : memref<4x16xbf16>
// Not narrowed: a reader that uses the f32 value (the sum before rounding),
// and a C that a view reads.
// C16-LABEL: func.func @unrounded_read
// C16: memref.alloc() : memref<4x16xf32>
// C16: call @autopar_cuda_gemm_bf16(
// C16-LABEL: func.func @viewed
// C16: call @autopar_cuda_gemm_bf16(
#rm = affine_map<(i, j) -> (i, j)>
#rb = affine_map<(i, j) -> (j)>
func.func @rounded_reads(%a: memref<4x8xbf16>, %b: memref<8x16xbf16>,
                         %bias: memref<16xf32>, %out: memref<4x16xf32>,
                         %copy: memref<4x16xbf16>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() {alignment = 64 : i64} : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (k, j)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<4x8xbf16>, memref<8x16xbf16>)
      outs(%c : memref<4x16xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xw = arith.extf %x : bf16 to f32
    %yw = arith.extf %y : bf16 to f32
    %p = arith.mulf %xw, %yw : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#rm, #rb, #rm],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c, %bias : memref<4x16xf32>, memref<16xf32>)
      outs(%out : memref<4x16xf32>) {
  ^bb0(%v: f32, %w: f32, %o: f32):
    %r = arith.truncf %v : f32 to bf16
    %e = arith.extf %r : bf16 to f32
    %t = arith.addf %e, %w : f32
    linalg.yield %t : f32
  }
  linalg.generic {indexing_maps = [#rm, #rm],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<4x16xf32>) outs(%copy : memref<4x16xbf16>) {
  ^bb0(%v: f32, %o: bf16):
    %r = arith.truncf %v : f32 to bf16
    linalg.yield %r : bf16
  }
  memref.dealloc %c : memref<4x16xf32>
  return
}

func.func @unrounded_read(%a: memref<4x8xbf16>, %b: memref<8x16xbf16>,
                          %out: memref<4x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (k, j)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<4x8xbf16>, memref<8x16xbf16>)
      outs(%c : memref<4x16xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xw = arith.extf %x : bf16 to f32
    %yw = arith.extf %y : bf16 to f32
    %p = arith.mulf %xw, %yw : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#rm, #rm],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<4x16xf32>) outs(%out : memref<4x16xf32>) {
  ^bb0(%v: f32, %o: f32):
    %r = arith.truncf %v : f32 to bf16
    %e = arith.extf %r : bf16 to f32
    %t = arith.addf %e, %v : f32
    linalg.yield %t : f32
  }
  memref.dealloc %c : memref<4x16xf32>
  return
}
func.func @viewed(%a: memref<4x8xbf16>, %b: memref<8x16xbf16>,
                  %out: memref<4x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (k, j)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<4x8xbf16>, memref<8x16xbf16>)
      outs(%c : memref<4x16xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xw = arith.extf %x : bf16 to f32
    %yw = arith.extf %y : bf16 to f32
    %p = arith.mulf %xw, %yw : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %v = memref.subview %c[0, 0] [4, 8] [1, 1] : memref<4x16xf32> to memref<4x8xf32, strided<[16, 1]>>
  linalg.generic {indexing_maps = [#rm, #rm],
                  iterator_types = ["parallel", "parallel"]}
      ins(%v : memref<4x8xf32, strided<[16, 1]>>) outs(%out : memref<4x8xf32>) {
  ^bb0(%x: f32, %o: f32):
    %r = arith.truncf %x : f32 to bf16
    %e = arith.extf %r : bf16 to f32
    linalg.yield %e : f32
  }
  memref.dealloc %c : memref<4x16xf32>
  return
}

// -----

// A narrowed product whose one reader only rounds it into a fresh buffer
// (what is left of a bf16 product that a runtime call reads): the readers
// of that buffer read C itself, freed where the buffer was. Not where the
// buffer was written before the copy.
// C16-LABEL: func.func @rounding_copy
// C16: %[[C:.*]] = memref.alloc() {alignment = 64 : i64} : memref<4x16xbf16>
// C16: call @autopar_cuda_gemm_bf16_c16(
// C16-NOT: linalg.generic
// C16-NOT: memref.dealloc
// C16: call @use(%[[C]]) : (memref<4x16xbf16>) -> ()
// C16-NEXT: memref.dealloc %[[C]] : memref<4x16xbf16>
// C16-NEXT: return
// C16-LABEL: func.func @copy_into_written
// C16: call @autopar_cuda_gemm_bf16_c16(
// C16: linalg.generic
func.func private @use(memref<4x16xbf16>)
func.func @rounding_copy(%a: memref<4x8xbf16>, %b: memref<8x16xbf16>) {
  %zero = arith.constant 0.0 : f32
  %c = memref.alloc() {alignment = 64 : i64} : memref<4x16xf32>
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (k, j)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<4x8xbf16>, memref<8x16xbf16>)
      outs(%c : memref<4x16xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xw = arith.extf %x : bf16 to f32
    %yw = arith.extf %y : bf16 to f32
    %p = arith.mulf %xw, %yw : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  %r = memref.alloc() : memref<4x16xbf16>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<4x16xf32>) outs(%r : memref<4x16xbf16>) {
  ^bb0(%v: f32, %o: bf16):
    %t = arith.truncf %v : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %c : memref<4x16xf32>
  call @use(%r) : (memref<4x16xbf16>) -> ()
  memref.dealloc %r : memref<4x16xbf16>
  return
}
func.func @copy_into_written(%a: memref<4x8xbf16>, %b: memref<8x16xbf16>) {
  %zero = arith.constant 0.0 : f32
  %one = arith.constant 1.0 : bf16
  %c = memref.alloc() {alignment = 64 : i64} : memref<4x16xf32>
  %r = memref.alloc() : memref<4x16xbf16>
  linalg.fill ins(%one : bf16) outs(%r : memref<4x16xbf16>)
  call @use(%r) : (memref<4x16xbf16>) -> ()
  linalg.fill ins(%zero : f32) outs(%c : memref<4x16xf32>)
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (k, j)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<4x8xbf16>, memref<8x16xbf16>)
      outs(%c : memref<4x16xf32>) {
  ^bb0(%x: bf16, %y: bf16, %acc: f32):
    %xw = arith.extf %x : bf16 to f32
    %yw = arith.extf %y : bf16 to f32
    %p = arith.mulf %xw, %yw : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<4x16xf32>) outs(%r : memref<4x16xbf16>) {
  ^bb0(%v: f32, %o: bf16):
    %t = arith.truncf %v : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %c : memref<4x16xf32>
  call @use(%r) : (memref<4x16xbf16>) -> ()
  memref.dealloc %r : memref<4x16xbf16>
  return
}
