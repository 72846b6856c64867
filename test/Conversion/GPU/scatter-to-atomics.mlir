// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-scatter-to-atomics))' -verify-diagnostics | FileCheck %s

// scatter_add as the GPU pipeline gets it (a thread per feature, looping
// over the indices): one parallel loop over features and indices, the
// read-add-write an atomic add into the row the index names. The index
// loop goes outermost: the features, contiguous in the updates and the
// table, stay innermost (neighbouring GPU threads).
// CHECK-LABEL: func.func @embedding_grad
// CHECK: scf.parallel (%[[K:.*]], %[[F:.*]]) = (%c0, %c0) to (%c64, %c32) step (%c1, %c1)
// CHECK: %[[VIEW:.*]] = memref.subview %arg2[0, %[[F]]] [100, 1] [1, 1]
// CHECK: %[[I:.*]] = memref.load %arg1[%[[K]]] : memref<64xi64>
// CHECK: %[[ROW:.*]] = arith.minsi
// CHECK: %[[G:.*]] = memref.load %arg0[%[[K]], %[[F]]] : memref<64x32xf32>
// CHECK: memref.atomic_rmw addf %[[G]], %[[VIEW]][%[[ROW]]]
// CHECK-NOT: scf.for
// CHECK-NOT: memref.store
func.func @embedding_grad(%arg0: memref<64x32xf32>, %arg1: memref<64xi64>, %arg2: memref<100x32xf32>) {
  %c32 = arith.constant 32 : index
  %c99 = arith.constant 99 : index
  %c100 = arith.constant 100 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %c0 = arith.constant 0 : index
  scf.parallel (%f) = (%c0) to (%c32) step (%c1) {
    %view = memref.subview %arg2[0, %f] [100, 1] [1, 1] : memref<100x32xf32> to memref<100xf32, strided<[32], offset: ?>>
    scf.for %k = %c0 to %c64 step %c1 {
      %1 = memref.load %arg1[%k] : memref<64xi64>
      %2 = arith.index_cast %1 : i64 to index
      %3 = arith.cmpi slt, %2, %c0 : index
      %4 = arith.addi %2, %c100 : index
      %5 = arith.select %3, %4, %2 : index
      %6 = arith.maxsi %5, %c0 : index
      %7 = arith.minsi %6, %c99 : index
      %8 = memref.load %arg0[%k, %f] : memref<64x32xf32>
      %9 = memref.load %view[%7] : memref<100xf32, strided<[32], offset: ?>>
      %10 = arith.addf %9, %8 : f32
      memref.store %10, %view[%7] : memref<100xf32, strided<[32], offset: ?>>
    }
    scf.reduce
  }
  return
}

// -----

// Indices of a batch of sequences: the nest of index loops becomes two
// parallel dimensions in front of the features.
// CHECK-LABEL: func.func @batched
// CHECK: scf.parallel (%[[B:.*]], %[[S:.*]], %[[F:.*]]) = (%c0, %c0, %c0) to (%c2, %c32, %c64)
// CHECK: %[[VIEW:.*]] = memref.subview %arg2[0, %[[F]]]
// CHECK: memref.load %arg0[%[[B]], %[[S]]] : memref<2x32xi64>
// CHECK: %[[G:.*]] = memref.load %arg1[%[[B]], %[[S]], %[[F]]]
// CHECK: memref.atomic_rmw addf %[[G]], %[[VIEW]][%{{.*}}]
// CHECK-NOT: scf.for
func.func @batched(%ids: memref<2x32xi64>, %g: memref<2x32x64xf32>, %table: memref<128x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %c127 = arith.constant 127 : index
  scf.parallel (%f) = (%c0) to (%c64) step (%c1) {
    %view = memref.subview %table[0, %f] [128, 1] [1, 1] : memref<128x64xf32> to memref<128xf32, strided<[64], offset: ?>>
    scf.for %b = %c0 to %c2 step %c1 {
      scf.for %s = %c0 to %c32 step %c1 {
        %i = memref.load %ids[%b, %s] : memref<2x32xi64>
        %j = arith.index_cast %i : i64 to index
        %k = arith.minsi %j, %c127 : index
        %v = memref.load %g[%b, %s, %f] : memref<2x32x64xf32>
        %old = memref.load %view[%k] : memref<128xf32, strided<[64], offset: ?>>
        %new = arith.addf %old, %v : f32
        memref.store %new, %view[%k] : memref<128xf32, strided<[64], offset: ?>>
      }
    }
    scf.reduce
  }
  return
}

// -----

// Left alone: a loop that reads the target elsewhere (a prefix sum: the
// iterations depend on each other), one whose update is not an add, and one
// with two stores.
// CHECK-LABEL: func.func @kept
// CHECK-NOT: atomic_rmw
// CHECK-COUNT-3: scf.for
func.func @kept(%x: memref<64x32xf32>, %y: memref<64x32xf32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c63 = arith.constant 63 : index
  scf.parallel (%f) = (%c0) to (%c32) step (%c1) {
    scf.for %k = %c0 to %c63 step %c1 {
      %k1 = arith.addi %k, %c1 : index
      %a = memref.load %x[%k, %f] : memref<64x32xf32>
      %b = memref.load %x[%k1, %f] : memref<64x32xf32>
      %s = arith.addf %b, %a : f32
      memref.store %s, %x[%k1, %f] : memref<64x32xf32>
    }
    scf.reduce
  }
  scf.parallel (%f) = (%c0) to (%c32) step (%c1) {
    scf.for %k = %c0 to %c63 step %c1 {
      %a = memref.load %x[%k, %f] : memref<64x32xf32>
      %b = memref.load %y[%k, %f] : memref<64x32xf32>
      %m = arith.maximumf %a, %b : f32
      memref.store %m, %y[%k, %f] : memref<64x32xf32>
    }
    scf.reduce
  }
  scf.parallel (%f) = (%c0) to (%c32) step (%c1) {
    scf.for %k = %c0 to %c63 step %c1 {
      %a = memref.load %x[%k, %f] : memref<64x32xf32>
      %b = memref.load %y[%k, %f] : memref<64x32xf32>
      %s = arith.addf %a, %b : f32
      memref.store %s, %y[%k, %f] : memref<64x32xf32>
      memref.store %a, %x[%k, %f] : memref<64x32xf32>
    }
    scf.reduce
  }
  return
}
