// RUN: autopar-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu))' | FileCheck %s
// RUN: autopar-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu,gpu-map-parallel-loops,convert-parallel-loops-to-gpu,canonicalize))' | FileCheck %s --check-prefix=MAPPED

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
