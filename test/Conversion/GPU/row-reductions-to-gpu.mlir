// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-row-reductions-to-gpu{warp-row-length=0 long-row-threads=0}))' -verify-diagnostics | FileCheck %s
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-row-reductions-to-gpu))' | FileCheck %s --check-prefix=WARP
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-row-reductions-to-gpu{siblings=false}))' | FileCheck %s --check-prefix=SEPARATE
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-row-reductions-to-gpu{vector-bytes=16 unroll=1}))' | FileCheck %s --check-prefix=VEC
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-row-reductions-to-gpu{block-sums=false}))' | FileCheck %s --check-prefix=THREADSUMS

// CHECK lines: a block per row (warp-row-length=0). WARP lines: the
// default, where rows of at most 1024 f32 elements take a warp each.

// A row maximum (a softmax's first step): one block of 256 threads per row,
// each thread striding over the row from the identity, the partials
// combined by gpu.all_reduce, thread 0 folding the result into the output.
// Every thread makes at least 3 of the 1000 / 256 trips: the loop is
// unrolled by 3 (three independent loads an iteration, all issued before
// the first is folded, folded in the same order), a remainder loop from
// where it stops taking the fourth.
// With vector-bytes=16 a lane reads 4 consecutive floats of its row a
// trip (a warp 128 a trip; 1000 = 7 * 128 + 104 elements).
// VEC-LABEL: func.func @row_max
// VEC:       gpu.launch {{.*}} threads(%[[LANE:[^,]*]],
// VEC:       %[[FIRST:.*]] = arith.muli %[[LANE]], %c4
// VEC:       scf.for %[[J:.*]] = %[[FIRST]] to %c1000{{.*}} step %c128{{.*}} iter_args
// VEC:         vector.load %arg0[%{{.*}}, %[[J]]] {alignment = 16 : i64} : memref<8x1000xf32>, vector<4xf32>
// VEC-COUNT-4: arith.maximumf
// VEC-NOT:   scf.for
// VEC:       gpu.shuffle
// CHECK-LABEL: func.func @row_max
// CHECK-DAG: %[[ROWS:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[BLOCK:.*]] = arith.constant 256 : index
// CHECK: gpu.launch blocks(%[[ROW:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ROWS]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCK]],
// CHECK-DAG: %[[NEG:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: %[[LEN:.*]] = arith.constant 1000 : index
// CHECK: %[[LEFT:.*]] = arith.subi %[[LEN]], %[[T]]
// CHECK: %[[TRIPS:.*]] = arith.divui
// CHECK: %[[ODD:.*]] = arith.remsi %[[TRIPS]], %c3
// CHECK: %[[EVEN:.*]] = arith.subi %[[TRIPS]], %[[ODD]]
// CHECK: %[[SPAN:.*]] = arith.muli %[[EVEN]], %[[BLOCK2:.*]] : index
// CHECK: %[[END:.*]] = arith.addi %[[T]], %[[SPAN]]
// CHECK: %[[STEP3:.*]] = arith.muli %[[BLOCK2]], %c3
// CHECK: %[[P3:.*]] = scf.for %[[J:.*]] = %[[T]] to %[[END]] step %[[STEP3]] iter_args(%[[ACC:.*]] = %[[NEG]]) -> (f32)
// CHECK: %[[X:.*]] = memref.load %arg0[%[[ROW]], %[[J]]] : memref<8x1000xf32>
// CHECK: %[[J1:.*]] = arith.addi %[[J]],
// CHECK: %[[X1:.*]] = memref.load %arg0[%[[ROW]], %[[J1]]]
// CHECK: %[[J2:.*]] = arith.addi %[[J]],
// CHECK: %[[X2:.*]] = memref.load %arg0[%[[ROW]], %[[J2]]]
// CHECK: %[[M:.*]] = arith.maximumf %[[ACC]], %[[X]] : f32
// CHECK: %[[M1:.*]] = arith.maximumf %[[M]], %[[X1]] : f32
// CHECK: %[[M2:.*]] = arith.maximumf %[[M1]], %[[X2]] : f32
// CHECK: scf.yield %[[M2]]
// CHECK: %[[P:.*]] = scf.for %[[K:.*]] = %[[END]] to %[[LEN]] step %[[BLOCK2]] iter_args(%[[ACC2:.*]] = %[[P3]]) -> (f32)
// CHECK: %[[Y:.*]] = memref.load %arg0[%[[ROW]], %[[K]]]
// CHECK: arith.maximumf %[[ACC2]], %[[Y]] : f32
// CHECK: %[[ALL:.*]] = gpu.all_reduce maximumf %[[P]] uniform
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[T]], %c0
// CHECK: scf.if %[[FIRST]]
// CHECK: %[[OLD:.*]] = memref.load %arg1[%[[ROW]]]
// CHECK: %[[NEW:.*]] = arith.maximumf %[[OLD]], %[[ALL]]
// CHECK: memref.store %[[NEW]], %arg1[%[[ROW]]]
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// With a warp per row, the 8 rows of 1000 are one block of 8 warps: a
// row's lanes stride over it by 32 (31 trips each at least: unrolled by
// 8), five xor shuffles combine them (every lane gets the row's maximum),
// no gpu.all_reduce and no barrier; lane 0 folds it into the output.
// WARP-LABEL: func.func @row_max
// WARP-DAG: %[[ONE:.*]] = arith.constant 1 : index
// WARP-DAG: %[[W:.*]] = arith.constant 8 : index
// WARP-DAG: %[[LANES:.*]] = arith.constant 32 : index
// WARP: gpu.launch blocks(%[[B:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ONE]]{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[LANE:.*]], %[[Y:.*]], %{{.*}}) in (%{{.*}} = %[[LANES]], %{{.*}} = %[[W]], %{{.*}} = %c1{{.*}})
// WARP: %[[FIRSTROW:.*]] = arith.muli %[[B]], %c8
// WARP: %[[ROW:.*]] = arith.addi %[[FIRSTROW]], %[[Y]]
// WARP: %[[STEP8:.*]] = arith.muli %c32{{.*}}, %c8
// WARP: scf.for %[[J:.*]] = %[[LANE]] to %{{.*}} step %[[STEP8]] iter_args
// WARP: memref.load %arg0[%[[ROW]], %[[J]]]
// WARP: %[[P:.*]] = scf.for %{{.*}} step %c32{{.*}} iter_args
// WARP-NOT: gpu.all_reduce
// WARP-NOT: gpu.barrier
// WARP: %[[S16:.*]], %{{.*}} = gpu.shuffle  xor %[[P]], %c16_i32, %c32_i32 : f32
// WARP: %[[M16:.*]] = arith.maximumf %[[P]], %[[S16]] : f32
// WARP: gpu.shuffle  xor %[[M16]], %c8_i32
// WARP: arith.maximumf
// WARP: gpu.shuffle  xor %{{.*}}, %c4_i32
// WARP: arith.maximumf
// WARP: gpu.shuffle  xor %{{.*}}, %c2_i32
// WARP: arith.maximumf
// WARP: %[[S1:.*]], %{{.*}} = gpu.shuffle  xor %[[M2:.*]], %c1_i32
// WARP: %[[ALL:.*]] = arith.maximumf %[[M2]], %[[S1]] : f32
// WARP: %[[FIRST:.*]] = arith.cmpi eq, %[[LANE]], %c0
// WARP: scf.if %[[FIRST]]
// WARP: %[[OLD:.*]] = memref.load %arg1[%[[ROW]]]
// WARP: %[[NEW:.*]] = arith.maximumf %[[OLD]], %[[ALL]]
// WARP: memref.store %[[NEW]], %arg1[%[[ROW]]]
// WARP: gpu.terminator
func.func @row_max(%x: memref<8x1000xf32>, %out: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<8x1000xf32>) outs(%out : memref<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  return
}

// -----

// Two parallel dimensions (batch, position) on the blocks, delinearized; a
// broadcast input (the row's mean) and the body's own math: a layer norm's
// variance. 64 elements per row: a block of 64 threads.
// CHECK-LABEL: func.func @variance
// CHECK-DAG: %[[ROWS:.*]] = arith.constant 6 : index
// CHECK-DAG: %[[BLOCK:.*]] = arith.constant 64 : index
// CHECK: gpu.launch blocks(%[[ROW:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ROWS]], {{.*}} threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCK]],
// CHECK: %[[S:.*]] = arith.remui %[[ROW]], %c3
// CHECK: %[[B:.*]] = arith.divui %[[ROW]], %c3
// CHECK: scf.for %[[J:.*]] = %[[T]] to %c64{{.*}} step %c64
// CHECK: memref.load %arg0[%[[B]], %[[S]], %[[J]]]
// CHECK: memref.load %arg1[%[[B]], %[[S]]]
// CHECK: arith.subf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: gpu.all_reduce add
// CHECK: memref.store %{{.*}}, %arg2[%[[B]], %[[S]]]
// A warp per row: 6 rows, so a block of 6 warps (the most up to 8 that
// divides the rows: every thread has a row).
// WARP-LABEL: func.func @variance
// WARP: gpu.launch {{.*}} in (%{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads({{.*}}) in (%{{.*}} = %c32, %{{.*}} = %c6, %{{.*}} = %c1)
// WARP: arith.divui
// WARP-COUNT-5: gpu.shuffle  xor
func.func @variance(%x: memref<2x3x64xf32>, %mean: memref<2x3xf32>, %out: memref<2x3xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, s, d) -> (b, s, d)>, affine_map<(b, s, d) -> (b, s)>, affine_map<(b, s, d) -> (b, s)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %mean : memref<2x3x64xf32>, memref<2x3xf32>) outs(%out : memref<2x3xf32>) {
  ^bb0(%a: f32, %m: f32, %acc: f32):
    %d = arith.subf %a, %m : f32
    %sq = arith.mulf %d, %d : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A sum to a scalar over two dimensions (the loss's sum over positions):
// one block, the index split over both reduced dimensions.
// CHECK-LABEL: func.func @total
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c1{{.*}}, {{.*}} threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256
// 32 trips a thread: unrolled by 8.
// CHECK: %[[STEP8:.*]] = arith.muli %c256{{.*}}, %c8
// CHECK: scf.for %[[J:.*]] = %[[T]] to %{{.*}} step %[[STEP8]]
// CHECK-DAG: %[[COL:.*]] = arith.remui %[[J]], %c1024
// CHECK-DAG: %[[ROW:.*]] = arith.divui %[[J]], %c1024
// CHECK: memref.load %arg0[%[[ROW]], %[[COL]]]
// CHECK: gpu.all_reduce add
// CHECK: memref.load %arg1[] : memref<f32>
// 8192 elements a row: more than a warp's 1024, a block as before.
// WARP-LABEL: func.func @total
// WARP: threads(%{{.*}}) in (%{{.*}} = %c256
// WARP: gpu.all_reduce add
func.func @total(%x: memref<8x1024xf32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> ()>],
                  iterator_types = ["reduction", "reduction"]}
      ins(%x : memref<8x1024xf32>) outs(%out : memref<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A column sum (a bias gradient: the reduced loop runs across the rows):
// blocks of 32 columns by 8 row groups, 4 blocks along y so that each
// thread sums about 32 of the 1000 rows (rows y, y + 32, ...). The block's
// 8 partial sums of a column meet in workgroup memory (zero from threads
// past the last column) and, after a barrier, the first row group adds
// their total atomically: one atomic add a column and block.
// CHECK-LABEL: func.func @column_sum
// CHECK: gpu.launch blocks(%[[BX:.*]], %[[BY:.*]], %{{.*}}) in (%{{.*}} = %c1{{.*}}, %{{.*}} = %c4{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TX:.*]], %[[TY:.*]], %{{.*}}) in (%{{.*}} = %c32{{.*}}, %{{.*}} = %c8{{.*}}, %{{.*}} = %c1{{.*}}) workgroup(%[[W:.*]] : memref<256xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[C0:.*]] = arith.muli %[[BX]], %c32
// CHECK: %[[C:.*]] = arith.addi %[[C0]], %[[TX]]
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[C]], %c8
// CHECK: %[[S:.*]] = scf.if %[[IN]] -> (f32)
// CHECK: %[[R0:.*]] = arith.muli %[[BY]], %c8
// CHECK: %[[R:.*]] = arith.addi %[[R0]], %[[TY]]
// Unrolled by 8 (31 or 32 trips a thread), a remainder loop after it.
// CHECK: %[[STEP8:.*]] = arith.muli %c32{{.*}}, %c8
// CHECK: %[[P8:.*]] = scf.for %[[J:.*]] = %[[R]] to %[[END:.*]] step %[[STEP8]]
// CHECK: memref.load %arg0[%[[J]], %[[C]]] : memref<1000x8xf32>
// CHECK-COUNT-7: memref.load %arg0
// CHECK: scf.yield
// CHECK: %[[P:.*]] = scf.for %[[K:.*]] = %[[END]] to %c1000{{.*}} step %c32{{.*}} iter_args(%{{.*}} = %[[P8]])
// CHECK: scf.yield %[[P]] : f32
// CHECK: } else {
// CHECK: scf.yield %{{.*}} : f32
// CHECK-NOT: memref.atomic_rmw
// CHECK: %[[ROW:.*]] = arith.muli %[[TY]], %c32
// CHECK: %[[SLOT:.*]] = arith.addi %[[ROW]], %[[TX]]
// CHECK: memref.store %[[S]], %[[W]][%[[SLOT]]]
// CHECK: gpu.barrier
// CHECK: %[[FIRST:.*]] = arith.cmpi eq, %[[TY]], %c0
// CHECK: %[[ADDS:.*]] = arith.andi %[[IN]], %[[FIRST]]
// CHECK: scf.if %[[ADDS]]
// CHECK-COUNT-8: memref.load %[[W]]
// CHECK: %[[TOTAL:.*]] = arith.addf
// CHECK: memref.atomic_rmw addf %[[TOTAL]], %arg1[%[[C]]]
// CHECK-NOT: memref.atomic_rmw
// CHECK: gpu.terminator
// With block-sums=false each thread adds its partial sum atomically: no
// workgroup memory, no barrier (the kernel can merge with others).
// THREADSUMS-LABEL: func.func @column_sum
// THREADSUMS-NOT: workgroup
// THREADSUMS: %[[S:.*]] = scf.if %{{.*}} -> (f32)
// THREADSUMS-NOT: gpu.barrier
// THREADSUMS: memref.atomic_rmw addf %[[S]], %arg1
// THREADSUMS-NOT: gpu.barrier
// THREADSUMS: gpu.terminator
func.func @column_sum(%x: memref<1000x8xf32>, %cols: memref<8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<1000x8xf32>) outs(%cols : memref<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left as they are: a row or column shorter than min-size, a body that
// reads the output twice, a column maximum (no atomic for it), and a
// combiner gpu.all_reduce has no kind for.
// CHECK-LABEL: func.func @kept
// CHECK-NOT: gpu.launch
// CHECK-COUNT-5: linalg.generic
func.func @kept(%x: memref<1000x8xf32>, %cols: memref<8xf32>, %short: memref<8x16xf32>,
                %rows: memref<8xf32>, %y: memref<8x1000xf32>, %ints: memref<8x1000xi32>, %irows: memref<8xi32>,
                %few: memref<16x8xf32>) {
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%few : memref<16x8xf32>) outs(%cols : memref<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%short : memref<8x16xf32>) outs(%rows : memref<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%y : memref<8x1000xf32>) outs(%rows : memref<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %t = arith.mulf %acc, %a : f32
    %s = arith.addf %acc, %t : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<1000x8xf32>) outs(%cols : memref<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.maximumf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%ints : memref<8x1000xi32>) outs(%irows : memref<8xi32>) {
  ^bb0(%a: i32, %acc: i32):
    %s = arith.addi %acc, %a : i32
    linalg.yield %s : i32
  }
  return
}

// -----

// An f64 sum: the shuffles move 32 bits, so rows of f64 keep a block even
// where they are short.
// CHECK-LABEL: func.func @wide
// CHECK: gpu.all_reduce add
// WARP-LABEL: func.func @wide
// WARP: threads(%{{.*}}) in (%{{.*}} = %c64, %{{.*}} = %c1
// WARP-NOT: gpu.shuffle
// WARP: gpu.all_reduce add
func.func @wide(%x: memref<4x64xf64>, %out: memref<4xf64>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x64xf64>) outs(%out : memref<4xf64>) {
  ^bb0(%a: f64, %acc: f64):
    %s = arith.addf %acc, %a : f64
    linalg.yield %s : f64
  }
  return
}

// -----

// Rows of at least 16 elements for each of 1024 threads (long-row-threads)
// take blocks of 1024: fewer rows in flight, so that a row walked again is
// still in the L2 cache (gpt2-small's 50257 logits a row); with
// long-row-threads=0 (the CHECK lines' run) `threads` as before.
// CHECK-LABEL: func.func @long_rows
// CHECK: threads(%{{.*}}) in (%{{.*}} = %c256
// WARP-LABEL: func.func @long_rows
// WARP: threads(%{{.*}}) in (%{{.*}} = %c1024
// WARP: gpu.all_reduce add
func.func @long_rows(%x: memref<4x20000xf32>, %out: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x20000xf32>) outs(%out : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Siblings: the GELU derivative's bias gradient (a column sum of g * d(x),
// x read [rows, columns]) and its rounding for the next products (the same
// g * d(x), stored as bf16) read the same buffers; the rounding runs in the
// sum's kernel, storing each element as the sum loads it (its allocation
// moves ahead of the kernel). With siblings=false (SEPARATE) it stays a
// linalg.generic of its own.
// CHECK-LABEL: func.func @sibling
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<64x32xbf16>
// CHECK: gpu.launch
// CHECK: scf.for %[[J:.*]] = {{.*}} iter_args
// CHECK: %[[G:.*]] = memref.load %arg0[%[[J]], %[[C:.*]]] : memref<64x32xbf16>
// CHECK: %[[X:.*]] = memref.load %arg1[%[[J]], %[[C]]] : memref<64x32xf32>
// CHECK: %[[GF:.*]] = arith.extf %[[G]]
// CHECK: math.erf %[[X]]
// CHECK: %[[D:.*]] = arith.mulf %[[GF]]
// CHECK: arith.addf %{{.*}}, %[[D]]
// CHECK: %[[GF2:.*]] = arith.extf %[[G]]
// CHECK: math.erf %[[X]]
// CHECK: %[[D2:.*]] = arith.mulf %[[GF2]]
// CHECK: %[[H:.*]] = arith.truncf %[[D2]] : f32 to bf16
// CHECK: memref.store %[[H]], %[[OUT]][%[[J]], %[[C]]] : memref<64x32xbf16>
// CHECK: memref.atomic_rmw addf
// CHECK-NOT: linalg.generic
// CHECK: return %[[OUT]]
// SEPARATE-LABEL: func.func @sibling
// SEPARATE: gpu.launch
// SEPARATE-NOT: memref.store {{.*}}memref<64x32
// SEPARATE: memref.atomic_rmw addf
// SEPARATE: memref.alloc() : memref<64x32xbf16>
// SEPARATE: linalg.generic
func.func @sibling(%g: memref<64x32xbf16>, %x: memref<64x32xf32>, %db: memref<32xf32>) -> memref<64x32xbf16> {
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%g, %x : memref<64x32xbf16>, memref<64x32xf32>) outs(%db : memref<32xf32>) {
  ^bb0(%a: bf16, %b: f32, %acc: f32):
    %af = arith.extf %a : bf16 to f32
    %e = math.erf %b : f32
    %d = arith.mulf %af, %e : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  }
  %out = memref.alloc() : memref<64x32xbf16>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%g, %x : memref<64x32xbf16>, memref<64x32xf32>) outs(%out : memref<64x32xbf16>) {
  ^bb0(%a: bf16, %b: f32, %o: bf16):
    %af = arith.extf %a : bf16 to f32
    %e = math.erf %b : f32
    %d = arith.mulf %af, %e : f32
    %h = arith.truncf %d : f32 to bf16
    linalg.yield %h : bf16
  }
  return %out : memref<64x32xbf16>
}

// -----

// Not siblings, each left a linalg.generic after the sum's kernel: one
// reading a buffer the sum does not read, one reading the sum's buffer at
// other elements, one writing a function argument, one writing an
// allocation the sum reads through a view, one after an op that writes
// memory.
// CHECK-LABEL: func.func @reads_other
// CHECK: gpu.launch
// CHECK-NOT: memref.store {{.*}}memref<64x32
// CHECK: memref.atomic_rmw addf
// CHECK: linalg.generic
// CHECK-SAME: ["parallel", "parallel"]
func.func @reads_other(%g: memref<64x32xf32>, %x: memref<64x32xf32>, %y: memref<64x32xf32>, %db: memref<32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%g, %x : memref<64x32xf32>, memref<64x32xf32>) outs(%db : memref<32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  }
  %o1 = memref.alloc() : memref<64x32xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%g, %y : memref<64x32xf32>, memref<64x32xf32>) outs(%o1 : memref<64x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.mulf %a, %b : f32
    linalg.yield %d : f32
  }
  return
}

// -----

// CHECK-LABEL: func.func @reads_transposed
// CHECK: gpu.launch
// CHECK-NOT: memref.store {{.*}}memref<64x32
// CHECK: memref.atomic_rmw addf
// CHECK: linalg.generic
// CHECK-SAME: ["parallel", "parallel"]
func.func @reads_transposed(%g: memref<32x32xf32>, %x: memref<32x32xf32>, %db: memref<32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%g, %x : memref<32x32xf32>, memref<32x32xf32>) outs(%db : memref<32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  }
  %o1 = memref.alloc() : memref<32x32xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%g, %x : memref<32x32xf32>, memref<32x32xf32>) outs(%o1 : memref<32x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.mulf %a, %b : f32
    linalg.yield %d : f32
  }
  return
}

// -----

// CHECK-LABEL: func.func @writes_argument
// CHECK: gpu.launch
// CHECK-NOT: memref.store {{.*}}memref<64x32
// CHECK: memref.atomic_rmw addf
// CHECK: linalg.generic
// CHECK-SAME: ["parallel", "parallel"]
func.func @writes_argument(%g: memref<64x32xf32>, %x: memref<64x32xf32>, %db: memref<32xf32>, %o1: memref<64x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%g, %x : memref<64x32xf32>, memref<64x32xf32>) outs(%db : memref<32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%g, %x : memref<64x32xf32>, memref<64x32xf32>) outs(%o1 : memref<64x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.mulf %a, %b : f32
    linalg.yield %d : f32
  }
  return
}

// -----

// CHECK-LABEL: func.func @writes_what_sum_reads
// CHECK: gpu.launch
// CHECK-NOT: memref.store {{.*}}memref<64x32
// CHECK: memref.atomic_rmw addf
// CHECK: linalg.generic
// CHECK-SAME: ["parallel", "parallel"]
func.func @writes_what_sum_reads(%g: memref<64x32xf32>, %db: memref<32xf32>) {
  %t = memref.alloc() : memref<64x32xf32>
  %v = memref.subview %t[0, 0] [64, 32] [1, 1] : memref<64x32xf32> to memref<64x32xf32, strided<[32, 1]>>
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%g, %v : memref<64x32xf32>, memref<64x32xf32, strided<[32, 1]>>) outs(%db : memref<32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%g, %g : memref<64x32xf32>, memref<64x32xf32>) outs(%t : memref<64x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.mulf %a, %b : f32
    linalg.yield %d : f32
  }
  return
}

// -----

// CHECK-LABEL: func.func @after_a_write
// CHECK: gpu.launch
// CHECK-NOT: memref.store {{.*}}memref<64x32
// CHECK: memref.atomic_rmw addf
// CHECK: linalg.generic
// CHECK-SAME: ["parallel", "parallel"]
func.func @after_a_write(%g: memref<64x32xf32>, %x: memref<64x32xf32>, %db: memref<32xf32>, %z: memref<32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%g, %x : memref<64x32xf32>, memref<64x32xf32>) outs(%db : memref<32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %d = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %d : f32
    linalg.yield %s : f32
  }
  %c0 = arith.constant 0.0 : f32
  linalg.fill ins(%c0 : f32) outs(%z : memref<32xf32>)
  %o1 = memref.alloc() : memref<64x32xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%g, %x : memref<64x32xf32>, memref<64x32xf32>) outs(%o1 : memref<64x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %d = arith.mulf %a, %b : f32
    linalg.yield %d : f32
  }
  return
}

// -----

// A sum sibling: a layer norm's two gradient sums, over the same loops,
// reading fresh buffers, into two results of the function
// (bufferize.result, as buffer-results-to-out-params{add-result-attr}
// marks them: distinct buffers). One kernel folds both in the same walk, each into its own
// partial sum, and adds each atomically into its output; the second
// output's zero fill moves ahead of the kernel.
// CHECK-LABEL: func.func @sum_sibling
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%arg2 : memref<32xf32>)
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%arg3 : memref<32xf32>)
// CHECK: gpu.launch {{.*}} workgroup(%{{.*}} : memref<256xf32, #gpu.address_space<workgroup>>, %{{.*}} : memref<256xf32, #gpu.address_space<workgroup>>)
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32)
// CHECK-DAG: memref.atomic_rmw addf %{{.*}}, %arg2[%[[C:.*]]]
// CHECK-DAG: memref.atomic_rmw addf %{{.*}}, %arg3[%[[C]]]
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: return
// SEPARATE-LABEL: func.func @sum_sibling
// SEPARATE-COUNT-2: gpu.launch
func.func @sum_sibling(%dy0: memref<64x32xf32>, %x0: memref<64x32xf32>,
                       %db: memref<32xf32> {bufferize.result}, %dg: memref<32xf32> {bufferize.result}) {
  %zero = arith.constant 0.0 : f32
  %dy = memref.alloc() : memref<64x32xf32>
  memref.copy %dy0, %dy : memref<64x32xf32> to memref<64x32xf32>
  %x = memref.alloc() : memref<64x32xf32>
  memref.copy %x0, %x : memref<64x32xf32> to memref<64x32xf32>
  linalg.fill ins(%zero : f32) outs(%db : memref<32xf32>)
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%dy : memref<64x32xf32>) outs(%db : memref<32xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%dg : memref<32xf32>)
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%dy, %x : memref<64x32xf32>, memref<64x32xf32>) outs(%dg : memref<32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Not sum siblings: two sums of fresh buffers into function arguments
// that may be the same buffer (no bufferize.result), and a sum over other
// loops.
// CHECK-LABEL: func.func @sums_apart
// CHECK-COUNT-3: gpu.launch
func.func @sums_apart(%dy0: memref<64x32xf32>, %x0: memref<64x32xf32>,
                      %db: memref<32xf32>, %dg: memref<32xf32>,
                      %t: memref<32x64xf32>, %dt: memref<64xf32> {bufferize.result}) {
  %zero = arith.constant 0.0 : f32
  %dy = memref.alloc() : memref<64x32xf32>
  memref.copy %dy0, %dy : memref<64x32xf32> to memref<64x32xf32>
  %x = memref.alloc() : memref<64x32xf32>
  memref.copy %x0, %x : memref<64x32xf32> to memref<64x32xf32>
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%dy : memref<64x32xf32>) outs(%db : memref<32xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.fill ins(%zero : f32) outs(%dg : memref<32xf32>)
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%dy, %x : memref<64x32xf32>, memref<64x32xf32>) outs(%dg : memref<32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%t : memref<32x64xf32>) outs(%dt : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  return
}
