// RUN: autopar-opt %s --split-input-file --autopar-launches-to-loops --verify-diagnostics

// A thread that asks where it is other than through the launch's
// arguments cannot be run from a loop's indices.
func.func @thread_id(%a: memref<16xf32>) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  // expected-error-re @+1 {{{{.*}}autopar-launches-to-loops: cannot run the launch on the host: its threads meet other than within their block, or find where they are other than from its arguments}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    // expected-note @+1 {{here: gpu.thread_id}}
    %t = gpu.thread_id x
    memref.store %f, %a[%t] : memref<16xf32>
    gpu.terminator
  }
  return
}

// -----

// Workgroup memory is each block's buffer, read and written element by
// element; a view of it is not.
func.func @workgroup_view(%a: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1)
             workgroup(%w : memref<32xf32, #gpu.address_space<workgroup>>) {
    // expected-error @+1 {{autopar-launches-to-loops: workgroup memory used by memref.subview}}
    %v = memref.subview %w[0] [16] [1] : memref<32xf32, #gpu.address_space<workgroup>> to memref<16xf32, strided<[1]>, #gpu.address_space<workgroup>>
    gpu.barrier
    %x = memref.load %v[%tx] : memref<16xf32, strided<[1]>, #gpu.address_space<workgroup>>
    memref.store %x, %a[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}

// -----

// A thread's own buffer made before a barrier and read after it: no array
// of per-thread values can hold it.
func.func @buffer_across_barrier(%a: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{autopar-launches-to-loops: a value of type 'memref<1xf32>' crosses a point where the block's threads meet}}
    %m = memref.alloca() : memref<1xf32>
    memref.store %f, %m[%c0] : memref<1xf32>
    gpu.barrier
    %x = memref.load %m[%c0] : memref<1xf32>
    memref.store %x, %a[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}

// -----

// Loops that hold a barrier run for the block in rounds: scf.for, not
// scf.while.
func.func @while_with_barrier(%a: memref<16xf32>, %n: index) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    // expected-error @+1 {{autopar-launches-to-loops: cannot run scf.while a thread at a time}}
    %r = scf.while (%i = %tx) : (index) -> index {
      %go = arith.cmpi ult, %i, %n : index
      scf.condition(%go) %i : index
    } do {
    ^bb0(%i: index):
      gpu.barrier
      %j = arith.addi %i, %c16 : index
      scf.yield %j : index
    }
    memref.store %f, %a[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}

// -----

// Dynamic shared memory has no size the host code could allocate.
func.func @dynamic_shared(%a: memref<16xf32>, %bytes: i32) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  // expected-error @+1 {{autopar-launches-to-loops: cannot run the launch on the host}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1)
             dynamic_shared_memory_size %bytes {
    memref.store %f, %a[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}
