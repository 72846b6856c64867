// RUN: autopar-opt %s --autopar-launches-to-loops | FileCheck %s

// Threads that never meet: one scf.parallel over blocks and threads.
// CHECK-LABEL: func.func @independent
// CHECK:       scf.parallel ({{.*}}) = ({{.*}}) to ({{.*}}%c2, %c1, %c1, %c16, %c1, %c1)
// CHECK-NOT:   gpu.launch
func.func @independent(%a: memref<32xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %k = arith.muli %bx, %c16 : index
    %i = arith.addi %k, %tx : index
    memref.store %f, %a[%i] : memref<32xf32>
    gpu.terminator
  }
  return
}

// A barrier between a store to workgroup memory and a load from it: the
// blocks in turn, each step a loop over the block's 64 threads; what the
// second step needs of the first (the thread's element index and its
// mirror's) waits in arrays of one element a thread; the buffers are
// freed after the blocks.
// CHECK-LABEL: func.func @barrier
// CHECK:       arith.muli
// CHECK-NEXT:  %[[N:.*]] = arith.muli
// CHECK:       %[[WG:.*]] = memref.alloc() : memref<64xf32>
// CHECK:       %[[I:.*]] = memref.alloc(%[[N]]) : memref<?xindex>
// CHECK:       %[[M:.*]] = memref.alloc(%[[N]]) : memref<?xindex>
// CHECK:       scf.for
// CHECK-NEXT:    scf.for
// CHECK-NEXT:      scf.for %{{.*}} = %{{.*}} to %c2
// CHECK:             scf.for %[[T:.*]] = %{{.*}} to %[[N]]
// CHECK:               memref.store %{{.*}}, %[[WG]]
// CHECK:               memref.store %{{.*}}, %[[I]][%[[T]]]
// CHECK:               memref.store %{{.*}}, %[[M]][%[[T]]]
// CHECK:             scf.for %[[T2:.*]] = %{{.*}} to %[[N]]
// CHECK:               %[[MT:.*]] = memref.load %[[M]][%[[T2]]]
// CHECK:               memref.load %[[WG]][%[[MT]]]
// CHECK:       memref.dealloc %[[WG]]
// CHECK:       memref.dealloc %[[I]]
// CHECK:       memref.dealloc %[[M]]
// CHECK-NOT:   gpu.
func.func @barrier(%a: memref<128xf32>) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c63 = arith.constant 63 : index
  %c64 = arith.constant 64 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1)
             workgroup(%w : memref<64xf32, #gpu.address_space<workgroup>>) {
    %k = arith.muli %bx, %c64 : index
    %i = arith.addi %k, %tx : index
    %m = arith.subi %c63, %tx : index
    %x = memref.load %a[%i] : memref<128xf32>
    memref.store %x, %w[%tx] : memref<64xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %y = memref.load %w[%m] : memref<64xf32, #gpu.address_space<workgroup>>
    memref.store %y, %a[%i] : memref<128xf32>
    gpu.terminator
  }
  return
}

// A shuffle in a loop whose bounds differ between threads: rounds while
// any thread's loop goes on (scf.while), each thread taking part while its
// own induction variable is below its bound; the shuffle reads the source
// lane's element of the shuffled value's array.
// CHECK-LABEL: func.func @shuffle_loop
// CHECK:       scf.while
// CHECK:         scf.for {{.*}} iter_args
// CHECK:           arith.cmpi slt
// CHECK:         scf.condition
// CHECK:       } do {
// CHECK:         scf.for
// CHECK:           arith.xori
// CHECK:           memref.load
// CHECK-NOT:   gpu.shuffle
func.func @shuffle_loop(%a: memref<64xf32>) {
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %i1 = arith.constant 1 : i32
  %i32 = arith.constant 32 : i32
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %warp = arith.divui %tx, %c32 : index
    %s = scf.for %j = %warp to %c3 step %c1 iter_args(%acc = %f) -> f32 {
      %o, %ok = gpu.shuffle xor %acc, %i1, %i32 : f32
      %n = arith.addf %acc, %o : f32
      scf.yield %n : f32
    }
    memref.store %s, %a[%tx] : memref<64xf32>
    gpu.terminator
  }
  return
}
