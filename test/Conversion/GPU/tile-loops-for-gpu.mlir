// RUN: autopar-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu{vector-bytes=0}))' | FileCheck %s
// RUN: autopar-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu{vector-bytes=0},gpu-map-parallel-loops,convert-parallel-loops-to-gpu,canonicalize))' | FileCheck %s --check-prefix=MAPPED
// RUN: autopar-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu{rows-per-thread=1},canonicalize))' | FileCheck %s --check-prefix=VEC

// A 1-D loop of 1000 points: tiles of 256 (blocks) of 256 points (threads),
// the remainder guarded; mapped, 4 blocks of 256 threads.
// CHECK-LABEL: func.func @vector
// CHECK: %[[S:.*]] = arith.muli %c1, %c256
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c1000) step (%[[S]])
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[S]]) step (%c1)
// CHECK: scf.if
// MAPPED-LABEL: func.func @vector
// MAPPED: gpu.launch blocks({{.*}}) in ({{.*}} = %c4, {{.*}} = %c1, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c256, {{.*}} = %c1, {{.*}} = %c1)
func.func @vector(%a: memref<1000xf32>, %b: memref<1000xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c1000 = arith.constant 1000 : index
  scf.parallel (%i) = (%c0) to (%c1000) step (%c1) {
    %x = memref.load %a[%i] : memref<1000xf32>
    %y = arith.mulf %x, %x : f32
    memref.store %y, %b[%i] : memref<1000xf32>
    scf.reduce
  }
  return
}

// -----

// Three dimensions: the outer two collapse into one (blocks along x), the
// innermost 48 points become blocks of 64 threads (48 rounded up to warps).
// MAPPED-LABEL: func.func @three
// MAPPED: gpu.launch blocks({{.*}}) in ({{.*}} = %c12, {{.*}} = %c1, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c1, {{.*}} = %c64, {{.*}} = %c1)
func.func @three(%a: memref<3x4x48xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c48 = arith.constant 48 : index
  %cst = arith.constant 1.0 : f32
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c3, %c4, %c48) step (%c1, %c1, %c1) {
    memref.store %cst, %a[%i, %j, %k] : memref<3x4x48xf32>
    scf.reduce
  }
  return
}

// -----

// A reduction to a scalar has no parallel dimension: it runs on the device
// as a one-point loop (one thread).
// CHECK-LABEL: func.func @total
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step
// CHECK-NEXT: scf.for
// MAPPED-LABEL: func.func @total
// MAPPED: gpu.launch blocks({{.*}}) in ({{.*}} = %c1, {{.*}} = %c1, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c1, {{.*}} = %c1, {{.*}} = %c1)
// MAPPED: scf.for
func.func @total(%a: memref<64xf32>, %out: memref<f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  scf.for %i = %c0 to %c64 step %c1 {
    %x = memref.load %a[%i] : memref<64xf32>
    %s = memref.load %out[] : memref<f32>
    %t = arith.addf %s, %x : f32
    memref.store %t, %out[] : memref<f32>
  }
  return
}

// -----

// Scalar host code: a value loaded, combined and stored back moves into
// one one-point loop with the ops that use it.
// CHECK-LABEL: func.func @scalar
// CHECK: scf.parallel
// CHECK-NEXT: memref.load
// CHECK-NEXT: arith.negf
// CHECK-NEXT: memref.store
// CHECK-NEXT: scf.reduce
// CHECK: return
func.func @scalar(%a: memref<f32>, %out: memref<f32>) {
  %x = memref.load %a[] : memref<f32>
  %y = arith.negf %x : f32
  memref.store %y, %out[] : memref<f32>
  return
}

// -----

// A copy into a strided buffer (a slice of a concatenation) becomes a
// parallel loop of loads and stores, tiled like the others (gpu.memcpy
// would move the bytes linearly); a contiguous copy stays a copy.
// MAPPED-LABEL: func.func @strided_copy
// MAPPED: gpu.launch
// MAPPED: memref.load %arg0
// MAPPED: memref.store %{{.*}}, %[[SUB:.*]][
// MAPPED: memref.copy %arg0, %arg2 : memref<4x8xf32> to memref<4x8xf32>
func.func @strided_copy(%src: memref<4x8xf32>, %dst: memref<4x24xf32>,
                        %whole: memref<4x8xf32>) {
  %slice = memref.subview %dst[0, 8] [4, 8] [1, 1]
      : memref<4x24xf32> to memref<4x8xf32, strided<[24, 1], offset: 8>>
  memref.copy %src, %slice
      : memref<4x8xf32> to memref<4x8xf32, strided<[24, 1], offset: 8>>
  memref.copy %src, %whole : memref<4x8xf32> to memref<4x8xf32>
  return
}

// -----

// A large elementwise nest (gpt2-small's GELU: 8192 x 3072): each thread
// computes 4 consecutive rows at one column, the outer step 4, every row's
// loads before any row's arithmetic and stores; mapped, 2048 x 12 blocks of
// 256 threads. Tiling and mapping as before otherwise.
// CHECK-LABEL: func.func @rows_per_thread
// CHECK: %[[STEP:.*]] = arith.muli %c4, %c1
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = (%c0{{.*}}, %c0{{.*}}) to (%c8192, %c3072) step (%[[STEP]], %{{.*}})
// CHECK: scf.parallel (%{{.*}}, %{{.*}}) = {{.*}} to (%[[STEP]], %{{.*}}) step (%c4, %c1
// CHECK: %[[X0:.*]] = memref.load %arg0[%[[R0:.*]], %[[J:.*]]] : memref<8192x3072xbf16>
// CHECK: %[[X1:.*]] = memref.load %arg0[%[[R1:.*]], %[[J]]]
// CHECK: %[[X2:.*]] = memref.load %arg0[%[[R2:.*]], %[[J]]]
// CHECK: %[[X3:.*]] = memref.load %arg0[%[[R3:.*]], %[[J]]]
// CHECK: arith.extf %[[X0]]
// CHECK: arith.extf %[[X1]]
// CHECK: arith.extf %[[X2]]
// CHECK: arith.extf %[[X3]]
// CHECK-COUNT-4: arith.mulf
// CHECK: memref.store %{{.*}}, %arg1[%[[R0]], %[[J]]]
// CHECK: memref.store %{{.*}}, %arg1[%[[R1]], %[[J]]]
// CHECK: memref.store %{{.*}}, %arg1[%[[R2]], %[[J]]]
// CHECK: memref.store %{{.*}}, %arg1[%[[R3]], %[[J]]]
// CHECK-NOT: memref.load
// CHECK: scf.reduce
// MAPPED-LABEL: func.func @rows_per_thread
// MAPPED: gpu.launch blocks({{.*}}) in ({{.*}} = %c2048, {{.*}} = %c12, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c1, {{.*}} = %c256, {{.*}} = %c1)
// MAPPED-COUNT-4: memref.load
// MAPPED-COUNT-4: memref.store
// MAPPED-NOT: memref.store
// MAPPED: gpu.terminator
func.func @rows_per_thread(%a: memref<8192x3072xbf16>, %b: memref<8192x3072xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8192 = arith.constant 8192 : index
  %c3072 = arith.constant 3072 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c8192, %c3072) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<8192x3072xbf16>
    %y = arith.extf %x : bf16 to f32
    %z = arith.mulf %y, %y : f32
    memref.store %z, %b[%i, %j] : memref<8192x3072xf32>
    scf.reduce
  }
  return
}

// -----

// The same after collapsing three dimensions (8 x 1024 x 768: the outer two
// are 8192 rows, whose bound the collapse computes as a product).
// MAPPED-LABEL: func.func @rows_per_thread_3d
// MAPPED: gpu.launch blocks({{.*}}) in ({{.*}} = %c2048, {{.*}} = %c3, {{.*}} = %c1) threads({{.*}}) in ({{.*}} = %c1, {{.*}} = %c256, {{.*}} = %c1)
// MAPPED-COUNT-4: memref.store
// MAPPED-NOT: memref.store
// MAPPED: gpu.terminator
func.func @rows_per_thread_3d(%a: memref<8x1024x768xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c1024 = arith.constant 1024 : index
  %c768 = arith.constant 768 : index
  %cst = arith.constant 1.0 : f32
  scf.parallel (%i, %j, %k) = (%c0, %c0, %c0) to (%c8, %c1024, %c768) step (%c1, %c1, %c1) {
    memref.store %cst, %a[%i, %j, %k] : memref<8x1024x768xf32>
    scf.reduce
  }
  return
}

// -----

// Left one row per thread: too few threads after coarsening (512 x 256 / 4
// < 2^18), an outer trip count that 4 does not divide, a body with a
// region (a loop).
// CHECK-LABEL: func.func @one_row_per_thread
// CHECK-NOT: arith.muli %c4
// MAPPED-LABEL: func.func @one_row_per_thread
// MAPPED: gpu.launch blocks({{.*}}) in ({{.*}} = %c512, {{.*}} = %c1, {{.*}} = %c1)
// MAPPED: gpu.launch blocks({{.*}}) in ({{.*}} = %c8191, {{.*}} = %c12, {{.*}} = %c1)
// MAPPED: gpu.launch blocks({{.*}}) in ({{.*}} = %c8192, {{.*}} = %c12, {{.*}} = %c1)
func.func @one_row_per_thread(%small: memref<512x256xf32>, %odd: memref<8191x3072xf32>, %big: memref<8192x3072xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c256 = arith.constant 256 : index
  %c512 = arith.constant 512 : index
  %c8191 = arith.constant 8191 : index
  %c8192 = arith.constant 8192 : index
  %c3072 = arith.constant 3072 : index
  %cst = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%c512, %c256) step (%c1, %c1) {
    memref.store %cst, %small[%i, %j] : memref<512x256xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%c8191, %c3072) step (%c1, %c1) {
    memref.store %cst, %odd[%i, %j] : memref<8191x3072xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%c8192, %c3072) step (%c1, %c1) {
    %s = scf.for %k = %c0 to %c2 step %c1 iter_args(%acc = %cst) -> (f32) {
      %t = arith.addf %acc, %cst : f32
      scf.yield %t : f32
    }
    memref.store %s, %big[%i, %j] : memref<8192x3072xf32>
    scf.reduce
  }
  return
}

// -----

// Vectors along the rows (the default vector-bytes=16): rounding f32 to
// bf16 reads 4 floats (16 bytes) and writes 4 bf16 (8 bytes) a thread; a
// bias read at the column index is a vector too, a row's statistic is
// loaded once for the 4 lanes, a transposed read stays one load per lane,
// and a buffer whose offset is 2 floats (a subview) halves the width for
// the whole nest.
// The vectors are numbered row after row, in blocks of 256 threads
// whatever the rows' length: 16 rows of 256 vectors, 4096 vectors.
// VEC-LABEL: func.func @round
// VEC:       scf.parallel (%[[B:.*]], %[[T:.*]]) = (%c0, %c0) to (%c4096, %c256) step (%c256, %c1) {
// VEC:         %[[N:.*]] = arith.addi %[[T]], %[[B]]
// VEC:         %[[V:.*]] = arith.remsi %[[N]], %c256
// VEC:         %[[I:.*]] = arith.divsi %[[N]], %c256
// VEC:         %[[J:.*]] = arith.muli %[[V]], %c4
// VEC:         %[[A:.*]] = vector.load %arg0[%[[I]], %[[J]]] {alignment = 16 : i64} : memref<16x1024xf32>, vector<4xf32>
// VEC-COUNT-4: vector.extract %[[A]]
// VEC:         vector.from_elements {{.*}} : vector<4xbf16>
// VEC:         vector.store %{{.*}}, %arg1[%[[I]], %[[J]]] {alignment = 8 : i64} : memref<16x1024xbf16>, vector<4xbf16>
// VEC-NOT:     memref.load
// VEC-NOT:     memref.store
func.func @round(%a: memref<16x1024xf32>, %o: memref<16x1024xbf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c1024 = arith.constant 1024 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c1024) step (%c1, %c1) {
    %v = memref.load %a[%i, %j] : memref<16x1024xf32>
    %w = arith.truncf %v : f32 to bf16
    memref.store %w, %o[%i, %j] : memref<16x1024xbf16>
    scf.reduce
  }
  return
}

// VEC-LABEL: func.func @bias_statistic_transposed
// VEC:         vector.load %arg0{{.*}} {alignment = 16 : i64} : memref<16x64xf32>, vector<4xf32>
// VEC:         vector.load %arg1{{.*}} {alignment = 16 : i64} : memref<64xf32>, vector<4xf32>
// VEC-COUNT-1: memref.load %arg2
// VEC-NOT:     memref.load %arg2
// VEC-COUNT-4: memref.load %arg3
// VEC:         vector.store {{.*}} {alignment = 16 : i64} : memref<16x64xf32>, vector<4xf32>
func.func @bias_statistic_transposed(%a: memref<16x64xf32>, %b: memref<64xf32>,
                                     %s: memref<16xf32>, %t: memref<64x16xf32>,
                                     %o: memref<16x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c64) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<16x64xf32>
    %y = memref.load %b[%j] : memref<64xf32>
    %z = memref.load %s[%i] : memref<16xf32>
    %u = memref.load %t[%j, %i] : memref<64x16xf32>
    %p = arith.addf %x, %y : f32
    %q = arith.mulf %p, %z : f32
    %r = arith.addf %q, %u : f32
    memref.store %r, %o[%i, %j] : memref<16x64xf32>
    scf.reduce
  }
  return
}

// VEC-LABEL: func.func @offset_by_two
// VEC:         vector.load {{.*}} {alignment = 8 : i64} : memref<16x64xf32, strided<[66, 1], offset: 2>>, vector<2xf32>
// VEC:         vector.store {{.*}} {alignment = 8 : i64} : memref<16x64xf32>, vector<2xf32>
func.func @offset_by_two(%a: memref<16x66xf32>, %o: memref<16x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %v = memref.subview %a[0, 2] [16, 64] [1, 1]
      : memref<16x66xf32> to memref<16x64xf32, strided<[66, 1], offset: 2>>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c64) step (%c1, %c1) {
    %x = memref.load %v[%i, %j] : memref<16x64xf32, strided<[66, 1], offset: 2>>
    memref.store %x, %o[%i, %j] : memref<16x64xf32>
    scf.reduce
  }
  return
}

// Rows of an odd length: one element at a time; a view offset by one
// element, or a buffer of unknown origin (a function's result): read one
// element at a time, while the result is written as vectors.
// VEC-LABEL: func.func @scalar
// VEC-NOT:     vector.
// VEC:         memref.store %{{.*}}, %arg1
// VEC-NOT:     vector.load
// VEC-COUNT-4: memref.load %subview
// VEC-NOT:     vector.load
// VEC:         vector.store %{{.*}}, %arg3{{.*}} {alignment = 16 : i64}
// VEC:         return
func.func private @make() -> memref<16x64xf32>
func.func @scalar(%a: memref<16x63xf32>, %o: memref<16x63xf32>,
                  %b: memref<16x65xf32>, %p: memref<16x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c63 = arith.constant 63 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c63) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<16x63xf32>
    memref.store %x, %o[%i, %j] : memref<16x63xf32>
    scf.reduce
  }
  %v = memref.subview %b[0, 1] [16, 64] [1, 1]
      : memref<16x65xf32> to memref<16x64xf32, strided<[65, 1], offset: 1>>
  %m = func.call @make() : () -> memref<16x64xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c64) step (%c1, %c1) {
    %x = memref.load %v[%i, %j] : memref<16x64xf32, strided<[65, 1], offset: 1>>
    %y = memref.load %m[%i, %j] : memref<16x64xf32>
    %z = arith.addf %x, %y : f32
    memref.store %z, %p[%i, %j] : memref<16x64xf32>
    scf.reduce
  }
  return
}
