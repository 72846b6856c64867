// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{warp-row-length=0}))' -verify-diagnostics | FileCheck %s
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-fuse-rows))' | FileCheck %s --check-prefix=WARP
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{gpu=false unroll=1}))' | FileCheck %s --check-prefix=LOOPS
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{gpu=false unroll=3}))' | FileCheck %s --check-prefix=UNROLLED
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{vector-bytes=16 unroll=1}))' | FileCheck %s --check-prefix=VEC
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{vector-bytes=16}))' | FileCheck %s --check-prefix=VECFIRST
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{vector-bytes=16 loads-first-bytes=0}))' | FileCheck %s --check-prefix=INPLACE

// A masked, scaled softmax as it reaches the pass (one-shot bufferized):
// scale and mask, max, exp(x - max), sum, divide. One block of 256 threads
// per row (8 x 2 rows of 512); two loops over the row: the max and the sum
// of exp(x - max) together (the online softmax: a thread's sum is rescaled
// as its max grows, one exp an element), then the stored division. The
// max and sum start from the identities, are combined across the threads
// (each thread's sum rescaled to the row's max first), folded into their
// fills' values and live in registers: their buffers, the fills and the
// intermediate buffers are gone; the output is stored. Each thread makes 2
// trips of each loop: they are unrolled by 2 (a remainder loop after each,
// for rows whose length the block does not divide).
// CHECK lines: a block per row (warp-row-length=0). WARP lines: the
// default, a warp per row for rows of at most 1024 elements: the 16 rows
// of 512 are 2 blocks of 8 warps, each lane making 16 trips (unrolled by
// 8), each reduction five xor shuffles instead of a gpu.all_reduce.
// WARP-LABEL: func.func @masked_softmax
// WARP: gpu.launch blocks(%[[B:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c2, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[LANE:.*]], %[[Y:.*]], %{{.*}}) in (%{{.*}} = %c32, %{{.*}} = %c8, %{{.*}} = %c1{{.*}})
// WARP: %[[FIRSTROW:.*]] = arith.muli %[[B]], %c8
// WARP: %[[ROW:.*]] = arith.addi %[[FIRSTROW]], %[[Y]]
// WARP: arith.remui %[[ROW]], %c2
// WARP: %[[STEP8:.*]] = arith.muli %c32{{.*}}, %c8
// WARP: scf.for %{{.*}} = %[[LANE]] to %{{.*}} step %[[STEP8]] {{.*}} -> (f32, f32)
// WARP-NOT: gpu.all_reduce
// WARP-COUNT-5: gpu.shuffle  xor {{.*}} : f32
// WARP: math.exp
// WARP-COUNT-5: gpu.shuffle  xor {{.*}} : f32
// WARP: arith.divf
// WARP: memref.store
// WARP: gpu.terminator
// WARP-NEXT: } {autopar.fused_rows = 5 : i64}
// CHECK-LABEL: func.func @masked_softmax
// CHECK-NOT: memref.alloc
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch blocks(%[[ROW:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c16, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c256,
// CHECK: %[[I:.*]] = arith.remui %[[ROW]], %c2
// CHECK: %[[B:.*]] = arith.divui %[[ROW]], %c2
// CHECK: %[[STEP2:.*]] = arith.muli %c256{{.*}}, %c2
// CHECK: %[[P2:.*]]:2 = scf.for %[[J:.*]] = %[[T]] to %[[END:.*]] step %[[STEP2]] iter_args(%[[M:.*]] = %cst{{.*}}, %[[S:.*]] = %cst{{.*}}) -> (f32, f32)
// Both trips' loads first, then the arithmetic:
// CHECK: %[[X:.*]] = memref.load %arg0[%[[B]], %[[I]], %[[J]]]
// CHECK: %[[MASK:.*]] = memref.load %arg1[%[[I]], %[[J]]]
// CHECK: memref.load %arg0[%[[B]], %[[I]], %{{.*}}]
// CHECK: memref.load %arg1[%[[I]], %{{.*}}]
// CHECK-NOT: memref.load
// CHECK: arith.mulf %[[X]]
// CHECK: %[[Y:.*]] = arith.addf
// CHECK: %[[TOP:.*]] = arith.maximumf %[[M]], %[[Y]]
// CHECK: %[[LO:.*]] = arith.minimumf %[[M]], %[[Y]]
// CHECK: %[[SAME:.*]] = arith.cmpf oeq, %[[LO]], %[[TOP]]
// CHECK: %[[D:.*]] = arith.subf %[[LO]], %[[TOP]]
// CHECK: %[[EXP:.*]] = math.exp %[[D]]
// CHECK: %[[E:.*]] = arith.select %[[SAME]], %cst{{.*}}, %[[EXP]]
// CHECK: %[[GROWS:.*]] = arith.cmpf ogt, %[[Y]], %[[M]]
// CHECK: %[[SE:.*]] = arith.mulf %[[S]], %[[E]]
// CHECK: %[[RESCALED:.*]] = arith.addf %[[SE]], %cst{{.*}}
// CHECK: %[[ADDED:.*]] = arith.addf %[[S]], %[[E]]
// CHECK: %[[S1:.*]] = arith.select %[[GROWS]], %[[RESCALED]], %[[ADDED]]
// CHECK-NOT: memref.load
// CHECK: math.exp
// CHECK-NOT: math.exp
// CHECK: scf.yield
// CHECK: %[[P:.*]]:2 = scf.for %{{.*}} = %[[END]] to %c512{{.*}} step %c256{{.*}} iter_args(%{{.*}} = %[[P2]]#0, %{{.*}} = %[[P2]]#1)
// CHECK: %[[MAXALL:.*]] = gpu.all_reduce maximumf %[[P]]#0 uniform
// CHECK: %[[MAX:.*]] = arith.maximumf %{{.*}}, %[[MAXALL]]
// CHECK: arith.cmpf oeq, %[[P]]#0, %[[MAX]]
// CHECK: arith.subf %[[P]]#0, %[[MAX]]
// CHECK: math.exp
// CHECK: %[[MINE:.*]] = arith.mulf %[[P]]#1
// CHECK: %[[SUMALL:.*]] = gpu.all_reduce add %[[MINE]] uniform
// CHECK: %[[ABS:.*]] = math.absf %[[MAX]]
// CHECK: %[[INF:.*]] = arith.cmpf oeq, %[[ABS]], %cst{{.*}}
// CHECK: %[[TOTAL:.*]] = arith.select %[[INF]], %cst{{.*}}, %[[SUMALL]]
// CHECK: %[[SUM:.*]] = arith.addf %{{.*}}, %[[TOTAL]]
// CHECK-NOT: gpu.barrier
// CHECK: scf.for %[[K:.*]] = %[[T]] to
// CHECK: math.exp
// CHECK: %[[Q:.*]] = arith.divf %{{.*}}, %[[SUM]]
// CHECK: memref.store %[[Q]], %arg2[%[[B]], %[[I]], %[[K]]]
// CHECK: gpu.terminator
// CHECK-NEXT: } {autopar.fused_rows = 5 : i64}
// CHECK-NOT: linalg.generic
// CHECK-NOT: memref.dealloc
// CHECK: return
// The same run on the CPU: an scf.parallel over the 16 rows, each loop one
// element at a time, no all_reduce.
// Unrolled by 3 on the CPU (what test/Integration/Numerics/fuse-rows.test
// runs against numpy): 510 of the 512 elements three at a time, a
// remainder loop continuing from the partial values for the last two.
// With vector-bytes=16 each lane takes 4 consecutive floats a trip (a
// warp 128), read as 16-byte vectors; the final walk's stores stay per
// element (the output is a plain argument, which may be an input). The
// online maximum and sum take a vector at once: the maximum of the four
// first, the sum rescaled once, one exp an element (no compare or select
// an element), the sum kept while the maximum is -inf.
// VEC-LABEL: func.func @masked_softmax
// VEC:       gpu.launch {{.*}} threads(%[[LANE:[^,]*]],
// VEC:       %[[FIRST:.*]] = arith.muli %[[LANE]], %c4
// VEC:       scf.for %[[J:.*]] = %[[FIRST]] to %c512{{.*}} step %c128{{.*}} iter_args(%[[M:.*]] = %{{.*}}, %[[S:.*]] = %{{.*}})
// VEC:         vector.load %arg0[%{{.*}}, %{{.*}}, %[[J]]] {alignment = 16 : i64} : memref<8x2x512xf32>, vector<4xf32>
// VEC:         vector.load %arg1[%{{.*}}, %[[J]]] {alignment = 16 : i64} : memref<2x512xf32>, vector<4xf32>
// VEC-NOT:     math.exp
// VEC:         %[[T1:.*]] = arith.maximumf %[[M]], %[[X0:[^ ]*]] : f32
// VEC:         %[[T2:.*]] = arith.maximumf %[[T1]], %{{.*}} : f32
// VEC:         %[[T3:.*]] = arith.maximumf %[[T2]], %{{.*}} : f32
// VEC:         %[[TOP:.*]] = arith.maximumf %[[T3]], %{{.*}} : f32
// VEC:         %[[DM:.*]] = arith.subf %[[M]], %[[TOP]] : f32
// VEC:         %[[EM:.*]] = math.exp %[[DM]] : f32
// VEC:         %[[SM:.*]] = arith.mulf %[[S]], %[[EM]] : f32
// VEC:         %[[D0:.*]] = arith.subf %[[X0]], %[[TOP]] : f32
// VEC:         %[[E0:.*]] = math.exp %[[D0]] : f32
// VEC:         arith.addf %[[SM]], %[[E0]] : f32
// VEC-COUNT-3: math.exp
// VEC-NOT:     arith.cmpf
// VEC:         %[[NONE:.*]] = arith.cmpf oeq, %[[TOP]], %{{.*}} : f32
// VEC:         %[[NEXT:.*]] = arith.select %[[NONE]], %[[S]], %{{.*}} : f32
// VEC:         scf.yield %[[TOP]], %[[NEXT]] : f32, f32
// VEC:       scf.for
// VEC-COUNT-4: memref.store %{{.*}}, %arg2
// UNROLLED-LABEL: func.func @masked_softmax
// UNROLLED: %[[MAX3:.*]]:2 = scf.for %{{.*}} = %c0{{.*}} to %c510{{.*}} step %c3{{.*}} iter_args
// UNROLLED-COUNT-3: arith.maximumf
// UNROLLED: scf.for %{{.*}} = %c510{{.*}} to %c512{{.*}} step %c1{{.*}} iter_args(%{{.*}} = %[[MAX3]]#0, %{{.*}} = %[[MAX3]]#1)
// UNROLLED: scf.for %{{.*}} = %c0{{.*}} to %c510{{.*}} step %c3
// UNROLLED-COUNT-3: math.exp
// LOOPS-LABEL: func.func @masked_softmax
// LOOPS: scf.parallel (%[[ROW:.*]]) = (%c0{{.*}}) to (%c16) step (%c1{{.*}})
// LOOPS: scf.for %{{.*}} = %c0{{.*}} to %c512{{.*}} step %c1{{.*}} iter_args
// LOOPS-NOT: gpu.all_reduce
// LOOPS: memref.store
// LOOPS: } {autopar.fused_rows = 5 : i64}
// LOOPS-NOT: linalg.generic
// LOOPS: return
#x = affine_map<(b, i, j) -> (b, i, j)>
#mask = affine_map<(b, i, j) -> (i, j)>
#row = affine_map<(b, i, j) -> (b, i)>
func.func @masked_softmax(%x: memref<8x2x512xf32>, %mask: memref<2x512xf32>,
                          %out: memref<8x2x512xf32>) {
  %scale = arith.constant 0.125 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %y = memref.alloc() : memref<8x2x512xf32>
  linalg.generic {indexing_maps = [#x, #mask, #x],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x, %mask : memref<8x2x512xf32>, memref<2x512xf32>)
      outs(%y : memref<8x2x512xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %s = arith.mulf %a, %scale : f32
    %t = arith.addf %s, %m : f32
    linalg.yield %t : f32
  }
  %max = memref.alloc() : memref<8x2xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<8x2xf32>)
  linalg.generic {indexing_maps = [#x, #row],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%y : memref<8x2x512xf32>) outs(%max : memref<8x2xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  %e = memref.alloc() : memref<8x2x512xf32>
  linalg.generic {indexing_maps = [#x, #row, #x],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%y, %max : memref<8x2x512xf32>, memref<8x2xf32>)
      outs(%e : memref<8x2x512xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %d = arith.subf %a, %m : f32
    %x2 = math.exp %d : f32
    linalg.yield %x2 : f32
  }
  memref.dealloc %y : memref<8x2x512xf32>
  %sum = memref.alloc() : memref<8x2xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<8x2xf32>)
  linalg.generic {indexing_maps = [#x, #row],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%e : memref<8x2x512xf32>) outs(%sum : memref<8x2xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  memref.dealloc %max : memref<8x2xf32>
  linalg.generic {indexing_maps = [#x, #row, #x],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%e, %sum : memref<8x2x512xf32>, memref<8x2xf32>)
      outs(%out : memref<8x2x512xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %d = arith.divf %a, %s : f32
    linalg.yield %d : f32
  }
  memref.dealloc %e : memref<8x2x512xf32>
  memref.dealloc %sum : memref<8x2xf32>
  return
}

// -----

// A layer norm's statistics with a per-row scalar between them: the mean
// (a sum and a scale by 1/64), x - mean, its squares' sum, then
// rsqrt(var + eps) (a P-shaped op: once per row, in every thread). Results
// something else reads (x - mean, rstd, and the sum the caller passed in)
// are stored: x - mean in its own loop, rstd by thread 0 after a barrier
// (every thread has read what it replaces).
// With a warp per row: one block of 4 warps; each stored row value is
// stored by its row's lane 0 after a barrier, which every thread reaches
// (each has a row).
// WARP-LABEL: func.func @layer_norm_stats
// WARP: gpu.launch {{.*}} threads(%[[LANE:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c32, %{{.*}} = %c4, %{{.*}} = %c1
// WARP-NOT: gpu.all_reduce
// WARP-COUNT-5: gpu.shuffle  xor
// WARP: gpu.barrier
// WARP: %[[FIRST:.*]] = arith.cmpi eq, %[[LANE]], %c0
// WARP: scf.if %[[FIRST]]
// WARP: memref.store %{{.*}}, %arg1
// WARP-COUNT-5: gpu.shuffle  xor
// WARP: math.rsqrt
// WARP: gpu.barrier
// WARP: scf.if
// WARP: memref.store %{{.*}}, %arg3
// CHECK-LABEL: func.func @layer_norm_stats
// CHECK: gpu.launch blocks(%[[ROW:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c4,
// CHECK: %[[S:.*]] = scf.for
// CHECK: %[[ALLS:.*]] = gpu.all_reduce add %[[S]] uniform
// CHECK: %[[OLD:.*]] = memref.load %arg1[%[[ROW]]] : memref<4xf32>
// CHECK: %[[TOTAL:.*]] = arith.addf %[[OLD]], %[[ALLS]]
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: memref.store %[[TOTAL]], %arg1[%[[ROW]]]
// CHECK: scf.for
// CHECK: arith.mulf %[[TOTAL]]
// CHECK: memref.store %{{.*}}, %arg2[%[[ROW]], %{{.*}}] : memref<4x64xf32>
// CHECK: %[[Q:.*]] = scf.for
// CHECK: %[[ALLQ:.*]] = gpu.all_reduce add %[[Q]] uniform
// CHECK: %[[V:.*]] = arith.addf %{{.*}}, %[[ALLQ]]
// CHECK: %[[R:.*]] = math.rsqrt
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK: memref.store %[[R]], %arg3[%[[ROW]]] : memref<4xf32>
// CHECK: gpu.terminator
// CHECK-NEXT: } {autopar.fused_rows = 4 : i64}
// CHECK-NOT: linalg.generic
#x2 = affine_map<(i, j) -> (i, j)>
#r2 = affine_map<(i, j) -> (i)>
#s1 = affine_map<(i) -> (i)>
func.func @layer_norm_stats(%x: memref<4x64xf32>, %sum: memref<4xf32>,
                            %centered: memref<4x64xf32>,
                            %rstd: memref<4xf32>) {
  %inv = arith.constant 0.015625 : f32
  %eps = arith.constant 1.0e-5 : f32
  %zero = arith.constant 0.0 : f32
  linalg.generic {indexing_maps = [#x2, #r2],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x64xf32>) outs(%sum : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#x2, #r2, #x2],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum : memref<4x64xf32>, memref<4xf32>)
      outs(%centered : memref<4x64xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %mean = arith.mulf %s, %inv : f32
    %c = arith.subf %a, %mean : f32
    linalg.yield %c : f32
  }
  %sq = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%sq : memref<4xf32>)
  linalg.generic {indexing_maps = [#x2, #r2],
                  iterator_types = ["parallel", "reduction"]}
      ins(%centered : memref<4x64xf32>) outs(%sq : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %p = arith.mulf %a, %a : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#s1, #s1],
                  iterator_types = ["parallel"]}
      ins(%sq : memref<4xf32>) outs(%rstd : memref<4xf32>) {
  ^bb0(%q: f32, %o: f32):
    %v = arith.mulf %q, %inv : f32
    %w = arith.addf %v, %eps : f32
    %r = math.rsqrt %w : f32
    linalg.yield %r : f32
  }
  memref.dealloc %sq : memref<4xf32>
  return
}

// -----

// Not fused: a matrix product (the GEMM's, not a row's), rows shorter than
// min-size, a member that writes a buffer the run reads from memory, an
// elementwise op reading another's result transposed, and an op between
// the members that touches memory.
// CHECK-LABEL: func.func @matmul_then_bias
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
// CHECK: linalg.generic
func.func @matmul_then_bias(%a: memref<64x64xf32>, %b: memref<64x64xf32>,
                            %c: memref<64x64xf32>, %d: memref<64x64xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                   affine_map<(i, j, k) -> (k, j)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : memref<64x64xf32>, memref<64x64xf32>)
      outs(%c : memref<64x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                   affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%c : memref<64x64xf32>) outs(%d : memref<64x64xf32>) {
  ^bb0(%x: f32, %o: f32):
    %e = math.exp %x : f32
    linalg.yield %e : f32
  }
  return
}

// CHECK-LABEL: func.func @short_rows
// CHECK-NOT: gpu.launch
func.func @short_rows(%x: memref<4x16xf32>, %s: memref<4xf32>,
                      %y: memref<4x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                   affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x16xf32>) outs(%s : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                   affine_map<(i, j) -> (i)>,
                                   affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : memref<4x16xf32>, memref<4xf32>)
      outs(%y : memref<4x16xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.divf %a, %b : f32
    linalg.yield %r : f32
  }
  return
}

// The second op writes %x, which the first read from memory (x / sum(x) in
// place): not fused, whatever the indexing.
// CHECK-LABEL: func.func @writes_what_it_read
// CHECK-NOT: gpu.launch
func.func @writes_what_it_read(%x: memref<4x64xf32>, %s: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                   affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x64xf32>) outs(%s : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i)>,
                                   affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%s : memref<4xf32>) outs(%x : memref<4x64xf32>) {
  ^bb0(%b: f32, %o: f32):
    %r = arith.divf %o, %b : f32
    linalg.yield %r : f32
  }
  return
}

// CHECK-LABEL: func.func @transposed_read
// CHECK-NOT: gpu.launch
func.func @transposed_read(%x: memref<64x64xf32>, %t: memref<64x64xf32>,
                           %s: memref<64xf32>) {
  %e = memref.alloc() : memref<64x64xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                   affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<64x64xf32>) outs(%e : memref<64x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = math.exp %a : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (j, i)>,
                                   affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%e : memref<64x64xf32>) outs(%s : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  }
  memref.dealloc %e : memref<64x64xf32>
  return
}

// CHECK-LABEL: func.func @call_between
// CHECK-NOT: gpu.launch
func.func private @touch(memref<4xf32>)
func.func @call_between(%x: memref<4x64xf32>, %s: memref<4xf32>,
                        %y: memref<4x64xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                   affine_map<(i, j) -> (i)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x64xf32>) outs(%s : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %acc, %a : f32
    linalg.yield %r : f32
  }
  func.call @touch(%s) : (memref<4xf32>) -> ()
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                   affine_map<(i, j) -> (i)>,
                                   affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %s : memref<4x64xf32>, memref<4xf32>)
      outs(%y : memref<4x64xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.divf %a, %b : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Two runs (rows of 64, then of 128) add into one zeroed buffer: the first
// starts from the fill's zero, the second from what the first stored (a
// load: the first run's kernel wrote it). The fill goes: the first run
// writes every element before anything reads one.
// CHECK-LABEL: func.func @shared_accumulator
// CHECK: gpu.launch
// CHECK: gpu.launch
// CHECK: %[[OLD:.*]] = memref.load %{{.*}}[%{{.*}}] : memref<4xf32>
// CHECK: arith.addf %[[OLD]]
// LOOPS-LABEL: func.func @shared_accumulator
// LOOPS-NOT: linalg.fill
// LOOPS: scf.parallel
// LOOPS: memref.store %{{.*}}, %[[ACC:.*]][%{{.*}}] : memref<4xf32>
// LOOPS: } {autopar.fused_rows = 2 : i64}
// LOOPS: scf.parallel
// LOOPS: %[[FIRST:.*]] = memref.load %[[ACC]][%{{.*}}] : memref<4xf32>
// LOOPS: arith.addf %[[FIRST]]
// LOOPS: } {autopar.fused_rows = 2 : i64}
#a64 = affine_map<(i, j) -> (i, j)>
#r64 = affine_map<(i, j) -> (i)>
func.func @shared_accumulator(%x: memref<4x64xf32>, %y: memref<4x128xf32>,
                              %ex: memref<4x64xf32>, %ey: memref<4x128xf32>,
                              %out: memref<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %acc = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<4xf32>)
  linalg.generic {indexing_maps = [#a64, #r64],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x64xf32>) outs(%acc : memref<4xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %s, %a : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#a64, #r64, #a64],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %acc : memref<4x64xf32>, memref<4xf32>)
      outs(%ex : memref<4x64xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %r = arith.divf %a, %s : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#a64, #r64],
                  iterator_types = ["parallel", "reduction"]}
      ins(%y : memref<4x128xf32>) outs(%acc : memref<4xf32>) {
  ^bb0(%a: f32, %s: f32):
    %r = arith.addf %s, %a : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#a64, #r64, #a64],
                  iterator_types = ["parallel", "parallel"]}
      ins(%y, %acc : memref<4x128xf32>, memref<4xf32>)
      outs(%ey : memref<4x128xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %r = arith.divf %a, %s : f32
    linalg.yield %r : f32
  }
  memref.copy %acc, %out : memref<4xf32> to memref<4xf32>
  memref.dealloc %acc : memref<4xf32>
  return
}

// -----

// A cross-entropy's forward and backward: the rows' max, sum of exps and
// label logit, each row's loss, then (outside the row space) the sum of the
// rows' losses and its mean, then the gradient of the logits. The sum and
// the mean read what the run writes but are no bigger than its rows: they
// sink after the fused kernel, so the gradient joins the run (one kernel
// for both directions; the max and sum stay in registers).
// The max and the sum of exps (which needs the max: the online pair) and
// the label's logit (which needs neither; read from a table here, so not a
// gather) share one walk; the gradient's is the second.
// LOOPS-LABEL: func.func @cross_entropy
// LOOPS: scf.parallel
// LOOPS: scf.for {{.*}} -> (f32, f32, f32) {
// LOOPS-NEXT: memref.load
// LOOPS-NEXT: arith.maximumf
// LOOPS: math.exp
// LOOPS-NOT: math.exp
// LOOPS: arith.cmpi eq
// LOOPS: scf.yield {{.*}}, {{.*}}, {{.*}} : f32, f32, f32
// LOOPS: math.log
// LOOPS: memref.store {{.*}}, %arg3
// LOOPS: scf.for
// LOOPS: memref.store {{.*}}, %arg5
// LOOPS-NOT: scf.for
// LOOPS: scf.reduce
// CHECK-LABEL: func.func @cross_entropy
// CHECK: gpu.launch
// CHECK: memref.store %{{.*}}, %arg3[%{{.*}}] : memref<4xf32>
// CHECK: memref.store %{{.*}}, %arg5[%{{.*}}, %{{.*}}] : memref<4x64xf32>
// CHECK: } {autopar.fused_rows = 5 : i64}
// CHECK-NEXT: linalg.generic {{.*}}iterator_types = ["reduction"]
// CHECK: linalg.generic {{.*}}iterator_types = []
// CHECK: memref.dealloc
// CHECK-NOT: linalg.generic
// CHECK-NOT: gpu.launch
// CHECK: return
#ce2 = affine_map<(i, j) -> (i, j)>
#cer = affine_map<(i, j) -> (i)>
#cec = affine_map<(i, j) -> (j)>
#ce1 = affine_map<(i) -> (i)>
#cesum = affine_map<(i) -> ()>
#ce0 = affine_map<() -> ()>
func.func @cross_entropy(%x: memref<4x64xf32>, %labels: memref<4xi64>,
                         %iota: memref<64xi64>, %rowloss: memref<4xf32>,
                         %loss: memref<f32>, %grad: memref<4x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %low = arith.constant -3.4e38 : f32
  %quarter = arith.constant 0.25 : f32
  %max = memref.alloc() : memref<4xf32>
  linalg.fill ins(%low : f32) outs(%max : memref<4xf32>)
  linalg.generic {indexing_maps = [#ce2, #cer],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x64xf32>) outs(%max : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  %sum = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<4xf32>)
  linalg.generic {indexing_maps = [#ce2, #cer, #cer],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x, %max : memref<4x64xf32>, memref<4xf32>)
      outs(%sum : memref<4xf32>) {
  ^bb0(%a: f32, %m: f32, %acc: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    %s = arith.addf %acc, %e : f32
    linalg.yield %s : f32
  }
  %picked = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%picked : memref<4xf32>)
  linalg.generic {indexing_maps = [#ce2, #cer, #cec, #cer],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x, %labels, %iota : memref<4x64xf32>, memref<4xi64>, memref<64xi64>)
      outs(%picked : memref<4xf32>) {
  ^bb0(%a: f32, %l: i64, %c: i64, %acc: f32):
    %hit = arith.cmpi eq, %l, %c : i64
    %v = arith.select %hit, %a, %zero : f32
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#ce1, #ce1, #ce1, #ce1],
                  iterator_types = ["parallel"]}
      ins(%max, %sum, %picked : memref<4xf32>, memref<4xf32>, memref<4xf32>)
      outs(%rowloss : memref<4xf32>) {
  ^bb0(%m: f32, %s: f32, %p: f32, %o: f32):
    %lg = math.log %s : f32
    %lse = arith.addf %lg, %m : f32
    %r = arith.subf %lse, %p : f32
    linalg.yield %r : f32
  }
  %total = memref.alloc() : memref<f32>
  linalg.fill ins(%zero : f32) outs(%total : memref<f32>)
  linalg.generic {indexing_maps = [#ce1, #cesum],
                  iterator_types = ["reduction"]}
      ins(%rowloss : memref<4xf32>) outs(%total : memref<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#ce0, #ce0], iterator_types = []}
      ins(%total : memref<f32>) outs(%loss : memref<f32>) {
  ^bb0(%t: f32, %o: f32):
    %mean = arith.mulf %t, %quarter : f32
    linalg.yield %mean : f32
  }
  linalg.generic {indexing_maps = [#ce2, #cer, #cer, #cer, #cec, #ce2],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %max, %sum, %labels, %iota
          : memref<4x64xf32>, memref<4xf32>, memref<4xf32>, memref<4xi64>,
            memref<64xi64>)
      outs(%grad : memref<4x64xf32>) {
  ^bb0(%a: f32, %m: f32, %s: f32, %l: i64, %c: i64, %o: f32):
    %d = arith.subf %a, %m : f32
    %e = math.exp %d : f32
    %p = arith.divf %e, %s : f32
    %hit = arith.cmpi eq, %l, %c : i64
    %one = arith.select %hit, %quarter, %zero : f32
    %g = arith.subf %p, %one : f32
    linalg.yield %g : f32
  }
  memref.dealloc %total : memref<f32>
  memref.dealloc %picked : memref<4xf32>
  memref.dealloc %sum : memref<4xf32>
  memref.dealloc %max : memref<4xf32>
  return
}

// -----

// A sunk op (the sum of the rows' values) reads what a later reduction
// writes: that reduction may not join the run (it would then run before the
// sum); it starts a run of its own, after the sum.
// CHECK-LABEL: func.func @sunk_then_overwritten
// CHECK: gpu.launch
// CHECK: } {autopar.fused_rows = 2 : i64}
// CHECK-NEXT: linalg.generic {{.*}}iterator_types = ["reduction"]
// CHECK-SAME: ins(%arg1 : memref<4xf32>) outs(%arg2 : memref<f32>)
// CHECK: gpu.launch
// CHECK: } {autopar.fused_rows = 2 : i64}
// CHECK-NOT: linalg.generic
// CHECK: return
#so2 = affine_map<(i, j) -> (i, j)>
#sor = affine_map<(i, j) -> (i)>
#so1 = affine_map<(i) -> (i)>
#sosum = affine_map<(i) -> ()>
func.func @sunk_then_overwritten(%x: memref<4x64xf32>, %rows: memref<4xf32>,
                                 %total: memref<f32>,
                                 %y: memref<4x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %sum = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<4xf32>)
  linalg.generic {indexing_maps = [#so2, #sor],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x64xf32>) outs(%sum : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#so1, #so1], iterator_types = ["parallel"]}
      ins(%sum : memref<4xf32>) outs(%rows : memref<4xf32>) {
  ^bb0(%s: f32, %o: f32):
    %h = arith.mulf %s, %s : f32
    linalg.yield %h : f32
  }
  linalg.generic {indexing_maps = [#so1, #sosum],
                  iterator_types = ["reduction"]}
      ins(%rows : memref<4xf32>) outs(%total : memref<f32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  // Writes %rows's buffer again, through a row-space op.
  linalg.generic {indexing_maps = [#so2, #sor, #sor],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x, %sum : memref<4x64xf32>, memref<4xf32>)
      outs(%rows : memref<4xf32>) {
  ^bb0(%a: f32, %s: f32, %acc: f32):
    %d = arith.subf %a, %s : f32
    %t = arith.addf %acc, %d : f32
    linalg.yield %t : f32
  }
  linalg.generic {indexing_maps = [#so2, #sor, #so2],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum : memref<4x64xf32>, memref<4xf32>)
      outs(%y : memref<4x64xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %d = arith.subf %a, %s : f32
    linalg.yield %d : f32
  }
  memref.dealloc %sum : memref<4xf32>
  return
}

// -----

// Sums of a one-hot selection (a cross-entropy's label log-probability, and
// its gradient's one-hot sum, the selection an elementwise member): the
// element at the label, loaded once, instead of a walk over the row adding
// zeros to it (the same value: 0 + ... + x[label] + ... + 0). A label
// outside the row gives the sum's identity. A selection whose key changes
// along the row (@keyed_by_element) is walked as before.
// CHECK-LABEL: func.func @one_hot_sums
// CHECK: gpu.launch
// CHECK-NOT: scf.for
// CHECK: %[[L:.*]] = memref.load %arg1[%[[ROW:.*]]] : memref<4xi64>
// CHECK: %[[K:.*]] = arith.index_cast %[[L]] : i64 to index
// CHECK-DAG: %[[LOW:.*]] = arith.cmpi sge, %[[K]], %c0
// CHECK-DAG: %[[HIGH:.*]] = arith.cmpi slt, %[[K]], %c64
// CHECK: %[[IN:.*]] = arith.andi
// CHECK: %[[P:.*]] = scf.if %[[IN]] -> (f32) {
// CHECK: memref.load %arg0[%[[ROW]], %[[K]]] : memref<4x64xf32>
// CHECK: arith.select
// CHECK: scf.yield
// CHECK: } else {
// CHECK: scf.yield %cst
// CHECK: memref.store %{{.*}}, %arg2[%[[ROW]]]
// CHECK: scf.if %{{.*}} -> (f32) {
// CHECK: arith.select
// CHECK-NOT: scf.for
// CHECK: memref.store %{{.*}}, %arg3[%[[ROW]]]
// CHECK: } {autopar.fused_rows = 3 : i64}
// LOOPS-LABEL: func.func @one_hot_sums
// LOOPS: scf.parallel
// LOOPS-NOT: scf.for
// LOOPS: scf.if %{{.*}} -> (f32)
// LOOPS: scf.if %{{.*}} -> (f32)
// LOOPS-NOT: scf.for
// LOOPS: } {autopar.fused_rows = 3 : i64}
#oh2 = affine_map<(i, j) -> (i, j)>
#ohr = affine_map<(i, j) -> (i)>
func.func @one_hot_sums(%x: memref<4x64xf32>, %labels: memref<4xi64>,
                        %picked: memref<4xf32>, %hits: memref<4xf32>) {
  %zero = arith.constant 0.0 : f32
  %quarter = arith.constant 0.25 : f32
  linalg.fill ins(%zero : f32) outs(%picked : memref<4xf32>)
  linalg.generic {indexing_maps = [#oh2, #ohr, #ohr],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x, %labels : memref<4x64xf32>, memref<4xi64>)
      outs(%picked : memref<4xf32>) {
  ^bb0(%a: f32, %l: i64, %acc: f32):
    %j = linalg.index 1 : index
    %c = arith.index_cast %j : index to i64
    %hit = arith.cmpi eq, %c, %l : i64
    %v = arith.select %hit, %a, %zero : f32
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  }
  %onehot = memref.alloc() : memref<4x64xf32>
  linalg.generic {indexing_maps = [#ohr, #oh2],
                  iterator_types = ["parallel", "parallel"]}
      ins(%labels : memref<4xi64>) outs(%onehot : memref<4x64xf32>) {
  ^bb0(%l: i64, %o: f32):
    %j = linalg.index 1 : index
    %c = arith.index_cast %j : index to i64
    %hit = arith.cmpi eq, %l, %c : i64
    %v = arith.select %hit, %quarter, %zero : f32
    linalg.yield %v : f32
  }
  linalg.fill ins(%zero : f32) outs(%hits : memref<4xf32>)
  linalg.generic {indexing_maps = [#oh2, #ohr],
                  iterator_types = ["parallel", "reduction"]}
      ins(%onehot : memref<4x64xf32>) outs(%hits : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  memref.dealloc %onehot : memref<4x64xf32>
  return
}

// -----

// The key read per element (it may differ along the row): a walk.
// CHECK-LABEL: func.func @keyed_by_element
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK: arith.cmpi eq
// CHECK-NOT: scf.if {{.*}} -> (f32)
// LOOPS-LABEL: func.func @keyed_by_element
// LOOPS: scf.for
// LOOPS-NOT: scf.if {{.*}} -> (f32)
#kb2 = affine_map<(i, j) -> (i, j)>
#kbr = affine_map<(i, j) -> (i)>
func.func @keyed_by_element(%x: memref<4x64xf32>, %keys: memref<4x64xi64>,
                            %picked: memref<4xf32>, %y: memref<4x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%picked : memref<4xf32>)
  linalg.generic {indexing_maps = [#kb2, #kb2, #kbr],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x, %keys : memref<4x64xf32>, memref<4x64xi64>)
      outs(%picked : memref<4xf32>) {
  ^bb0(%a: f32, %l: i64, %acc: f32):
    %j = linalg.index 1 : index
    %c = arith.index_cast %j : index to i64
    %hit = arith.cmpi eq, %c, %l : i64
    %v = arith.select %hit, %a, %zero : f32
    %s = arith.addf %acc, %v : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#kb2, #kbr, #kb2],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %picked : memref<4x64xf32>, memref<4xf32>)
      outs(%y : memref<4x64xf32>) {
  ^bb0(%a: f32, %p: f32, %o: f32):
    %r = arith.subf %a, %p : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// The unrolled walks issue their loads first: the last walk's loads of x
// (an argument) go ahead of its stores into a buffer of the function's own
// (a fresh allocation cannot be x), so the lane has all 8 loads in flight
// before its first store (ptxas keeps a load after a store that may alias
// it). Into an argument, which may be x, each load stays after the
// previous element's store.
// In vectors (VECFIRST) the same: both of the lane's vector loads before
// the first vector store.
// WARP-LABEL: func.func @centred_into_buffer
// VECFIRST-LABEL: func.func @centred_into_buffer
// VECFIRST: %[[D:.*]] = memref.alloc() : memref<64x256xf32>
// VECFIRST: scf.for
// VECFIRST: scf.for
// VECFIRST: step %{{[a-z0-9_]+}} {{[{]}}
// VECFIRST-NEXT: vector.load %arg0
// VECFIRST-NOT: vector.store
// VECFIRST: vector.load %arg0
// VECFIRST-NOT: vector.load
// VECFIRST: vector.store %{{.*}}, %[[D]]
// VECFIRST-NOT: vector.load
// VECFIRST: vector.store %{{.*}}, %[[D]]
// WARP: %[[D:.*]] = memref.alloc() : memref<64x256xf32>
// WARP: step %{{[a-z0-9_]+}} {{[{]}}
// WARP-NEXT: memref.load %arg0
// WARP-NOT: memref.store
// WARP-COUNT-7: memref.load %arg0
// WARP-NOT: memref.load
// WARP: memref.store %{{.*}}, %[[D]]
#lf = affine_map<(i, j) -> (i, j)>
#lfr = affine_map<(i, j) -> (i)>
func.func @centred_into_buffer(%x: memref<64x256xf32>, %out: memref<64x256xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  %max = memref.alloc() : memref<64xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<64xf32>)
  linalg.generic {indexing_maps = [#lf, #lfr], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x256xf32>) outs(%max : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  %d = memref.alloc() : memref<64x256xf32>
  linalg.generic {indexing_maps = [#lf, #lfr, #lf], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : memref<64x256xf32>, memref<64xf32>) outs(%d : memref<64x256xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %s = arith.subf %a, %m : f32
    linalg.yield %s : f32
  }
  memref.dealloc %max : memref<64xf32>
  memref.copy %d, %out : memref<64x256xf32> to memref<64x256xf32>
  memref.dealloc %d : memref<64x256xf32>
  return
}

// -----

// At most 128 bytes of loads a thread go first (each holds its registers
// until its use): of the 16 vectors of x and b the lane's 8 trips read,
// the first 8 (4 trips), then each later trip's after the previous store.
// With loads-first-bytes=0 (INPLACE) each trip's loads stay after the
// previous trip's store.
// INPLACE-LABEL: func.func @biased_into_buffer
// INPLACE: scf.for
// INPLACE: scf.for
// INPLACE: step %{{[a-z0-9_]+}} {{[{]}}
// INPLACE-NOT: vector.store
// INPLACE: vector.load %arg0
// INPLACE-NOT: vector.store
// INPLACE: vector.load %arg1
// INPLACE-NOT: vector.load
// INPLACE: vector.store
// INPLACE-NOT: vector.store
// INPLACE: vector.load %arg0
// INPLACE-NOT: vector.store
// INPLACE: vector.load %arg1
// INPLACE-NOT: vector.load
// INPLACE: vector.store
// VECFIRST-LABEL: func.func @biased_into_buffer
// VECFIRST: %[[D:.*]] = memref.alloc() : memref<64x1024xf32>
// VECFIRST: scf.for
// VECFIRST: scf.for
// VECFIRST: step %{{[a-z0-9_]+}} {{[{]}}
// VECFIRST-NOT: vector.store
// VECFIRST-COUNT-8: vector.load
// VECFIRST-NOT: vector.load
// VECFIRST-COUNT-4: vector.store %{{.*}}, %[[D]]
// VECFIRST-NOT: vector.store
// VECFIRST: vector.load %arg0
// VECFIRST-NOT: vector.store
// VECFIRST: vector.load %arg1
// VECFIRST-NOT: vector.load
// VECFIRST: vector.store %{{.*}}, %[[D]]
#lf = affine_map<(i, j) -> (i, j)>
#lfr = affine_map<(i, j) -> (i)>
#lfc = affine_map<(i, j) -> (j)>
func.func @biased_into_buffer(%x: memref<64x1024xf32>, %b: memref<1024xf32>, %out: memref<64x1024xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  %max = memref.alloc() : memref<64xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<64xf32>)
  linalg.generic {indexing_maps = [#lf, #lfr], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x1024xf32>) outs(%max : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  %d = memref.alloc() : memref<64x1024xf32>
  linalg.generic {indexing_maps = [#lf, #lfc, #lfr, #lf], iterator_types = ["parallel", "parallel"]}
      ins(%x, %b, %max : memref<64x1024xf32>, memref<1024xf32>, memref<64xf32>) outs(%d : memref<64x1024xf32>) {
  ^bb0(%a: f32, %c: f32, %m: f32, %o: f32):
    %s = arith.subf %a, %m : f32
    %t = arith.addf %s, %c : f32
    linalg.yield %t : f32
  }
  memref.dealloc %max : memref<64xf32>
  memref.copy %d, %out : memref<64x1024xf32> to memref<64x1024xf32>
  memref.dealloc %d : memref<64x1024xf32>
  return
}

// -----

// A row's label, which each element's one-hot compare loads again, is
// loaded once among the loads that go first (the same load: no store
// between), not once an element against the 128 bytes.
// VECFIRST-LABEL: func.func @one_hot_into_buffer
// VECFIRST: scf.for
// VECFIRST: scf.for
// VECFIRST: step %{{[a-z0-9_]+}} {{[{]}}
// VECFIRST-NEXT: vector.load %arg0
// VECFIRST-NEXT: memref.load %arg1
// VECFIRST-NOT: memref.load
// VECFIRST: vector.load %arg0
// VECFIRST-NOT: memref.load
// VECFIRST-NOT: vector.load
// VECFIRST: vector.store
// VECFIRST-NOT: memref.load
// VECFIRST: vector.store
#lf = affine_map<(i, j) -> (i, j)>
#lfr = affine_map<(i, j) -> (i)>
func.func @one_hot_into_buffer(%x: memref<64x256xf32>, %label: memref<64xi64>, %out: memref<64x256xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  %one = arith.constant 1.0 : f32
  %zero = arith.constant 0.0 : f32
  %max = memref.alloc() : memref<64xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<64xf32>)
  linalg.generic {indexing_maps = [#lf, #lfr], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x256xf32>) outs(%max : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  %d = memref.alloc() : memref<64x256xf32>
  linalg.generic {indexing_maps = [#lf, #lfr, #lfr, #lf], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max, %label : memref<64x256xf32>, memref<64xf32>, memref<64xi64>) outs(%d : memref<64x256xf32>) {
  ^bb0(%a: f32, %m: f32, %l: i64, %o: f32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i64
    %hit = arith.cmpi eq, %ji, %l : i64
    %h = arith.select %hit, %one, %zero : f32
    %s = arith.subf %a, %m : f32
    %t = arith.subf %s, %h : f32
    linalg.yield %t : f32
  }
  memref.dealloc %max : memref<64xf32>
  memref.copy %d, %out : memref<64x256xf32> to memref<64x256xf32>
  memref.dealloc %d : memref<64x256xf32>
  return
}

// -----

// WARP-LABEL: func.func @centred_into_argument
// WARP: step %{{[a-z0-9_]+}} {{[{]}}
// WARP-NEXT: memref.load %arg0
// WARP-NEXT: arith.subf
// WARP-NEXT: memref.store %{{.*}}, %arg1
#lf = affine_map<(i, j) -> (i, j)>
#lfr = affine_map<(i, j) -> (i)>
func.func @centred_into_argument(%x: memref<64x256xf32>, %out: memref<64x256xf32>) {
  %ninf = arith.constant 0xFF800000 : f32
  %max = memref.alloc() : memref<64xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<64xf32>)
  linalg.generic {indexing_maps = [#lf, #lfr], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x256xf32>) outs(%max : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#lf, #lfr, #lf], iterator_types = ["parallel", "parallel"]}
      ins(%x, %max : memref<64x256xf32>, memref<64xf32>) outs(%out : memref<64x256xf32>) {
  ^bb0(%a: f32, %m: f32, %o: f32):
    %s = arith.subf %a, %m : f32
    linalg.yield %s : f32
  }
  memref.dealloc %max : memref<64xf32>
  return
}

// -----

// A gather in the last walk: the table (an allocation) is apart from the
// output, but its indices come from an argument that may be the output,
// so neither load of the second element passes the first element's store.
// WARP-LABEL: func.func @gathered_from_argument
// WARP: step %{{[a-z0-9_]+}} {{[{]}}
// WARP-NEXT: %[[K:.*]] = memref.load %arg1
// WARP-NEXT: memref.load %alloc[%[[K]]]
// WARP-NOT: memref.load %arg1
// WARP: memref.store %{{.*}}, %arg2
// WARP: memref.load %arg1
#lg = affine_map<(i, j) -> (i, j)>
#lgr = affine_map<(i, j) -> (i)>
func.func @gathered_from_argument(%x: memref<64x256xf32>, %ids: memref<64x256xindex>, %out: memref<64x256xindex>) {
  %ninf = arith.constant 0xFF800000 : f32
  %table = memref.alloc() : memref<256xf32>
  %max = memref.alloc() : memref<64xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<64xf32>)
  linalg.generic {indexing_maps = [#lg, #lgr], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<64x256xf32>) outs(%max : memref<64xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.maximumf %acc, %a : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#lg, #lgr, #lg], iterator_types = ["parallel", "parallel"]}
      ins(%ids, %max : memref<64x256xindex>, memref<64xf32>) outs(%out : memref<64x256xindex>) {
  ^bb0(%k: index, %m: f32, %o: index):
    %t = memref.load %table[%k] : memref<256xf32>
    %s = arith.subf %t, %m : f32
    %c = arith.fptosi %s : f32 to i64
    %r = arith.index_cast %c : i64 to index
    linalg.yield %r : index
  }
  memref.dealloc %max : memref<64xf32>
  memref.dealloc %table : memref<256xf32>
  return
}

// -----

// Rows of 67 floats in a buffer of rows of 68 (a padded product's result):
// vectors of 4 over the first 64, then a loop over the last 3 taking the
// vector loop's partial sums; the scaled copy's vector stores go to a
// fresh allocation.
// VEC-LABEL: func.func @padded_rows
// VEC:       %[[SUM:.*]] = scf.for %[[J:.*]] = %{{.*}} to %c64{{.*}} step %c128{{.*}} iter_args
// VEC:         vector.load %{{.*}}[%{{.*}}, %[[J]]] {alignment = 16 : i64} : memref<4x67xf32, strided<[68, 1]>>, vector<4xf32>
// VEC:       %[[TAIL:.*]] = arith.addi %c64{{.*}}, %{{.*}} : index
// VEC:       scf.for %{{.*}} = %[[TAIL]] to %c67{{.*}} step %c32{{.*}} iter_args(%{{.*}} = %[[SUM]])
// VEC:         memref.load
// VEC:       vector.store {{.*}} {alignment = 16 : i64} : memref<4x67xf32, strided<[68, 1]>>, vector<4xf32>
#pr = affine_map<(i, j) -> (i, j)>
#prr = affine_map<(i, j) -> (i)>
func.func @padded_rows(%w: memref<4x68xf32>, %o: memref<4x67xf32> {bufferize.result}) {
  %zero = arith.constant 0.0 : f32
  %x = memref.subview %w[0, 0] [4, 67] [1, 1]
      : memref<4x68xf32> to memref<4x67xf32, strided<[68, 1]>>
  %sum = memref.alloc() : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<4xf32>)
  linalg.generic {indexing_maps = [#pr, #prr], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x67xf32, strided<[68, 1]>>) outs(%sum : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc() : memref<4x68xf32>
  %yv = memref.subview %y[0, 0] [4, 67] [1, 1]
      : memref<4x68xf32> to memref<4x67xf32, strided<[68, 1]>>
  linalg.generic {indexing_maps = [#pr, #prr, #pr], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum : memref<4x67xf32, strided<[68, 1]>>, memref<4xf32>)
      outs(%yv : memref<4x67xf32, strided<[68, 1]>>) {
  ^bb0(%a: f32, %s: f32, %out: f32):
    %d = arith.divf %a, %s : f32
    linalg.yield %d : f32
  }
  memref.copy %yv, %o : memref<4x67xf32, strided<[68, 1]>> to memref<4x67xf32>
  memref.dealloc %sum : memref<4xf32>
  memref.dealloc %y : memref<4x68xf32>
  return
}
