// RUN: autopar-opt %s --split-input-file --autopar-fuse-launches --canonicalize | FileCheck %s
// RUN: autopar-opt %s --split-input-file --autopar-fuse-launches="hoist=false" --canonicalize | FileCheck %s --check-prefix=NOHOIST
// RUN: autopar-opt %s --split-input-file --autopar-fuse-launches="param-bytes=200" --canonicalize | FileCheck %s --check-prefix=BYTES

// Three independent kernels of 256 threads (blocks of 256 x 1 and of
// 1 x 256) become one launch of 3 + 8 + 3 blocks; each body runs where the
// block index falls in its range, with its own block and thread indices.
// CHECK-LABEL: func.func @three
// CHECK-DAG:   %[[C3:.*]] = arith.constant 3 : index
// CHECK-DAG:   %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG:   %[[C11:.*]] = arith.constant 11 : index
// CHECK-DAG:   %[[C14:.*]] = arith.constant 14 : index
// CHECK-DAG:   %[[C256:.*]] = arith.constant 256 : index
// CHECK:       gpu.launch blocks(%[[B:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C14]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]],
// CHECK:         %[[FIRST:.*]] = arith.cmpi ult, %[[B]], %[[C3]]
// CHECK:         scf.if %[[FIRST]] {
// CHECK:           %[[I:.*]] = arith.muli %[[B]], %[[C256]]
// CHECK:           %[[J:.*]] = arith.addi %[[I]], %[[T]]
// CHECK:           memref.load %arg0[%[[J]]]
// CHECK:           arith.addf
// CHECK:           memref.store %{{.*}}, %arg2[%[[J]]]
// CHECK:         } else {
// CHECK:           %[[SECOND:.*]] = arith.cmpi ult, %[[B]], %[[C11]]
// CHECK:           scf.if %[[SECOND]] {
// CHECK:             %[[L:.*]] = arith.subi %[[B]], %[[C3]]
// CHECK:             %[[ROW:.*]] = arith.remui %[[L]], %[[C4]]
// CHECK:             %[[COLBLOCK:.*]] = arith.divui %[[L]], %[[C4]]
// CHECK:             %[[COL0:.*]] = arith.muli %[[COLBLOCK]], %[[C256]]
// CHECK:             %[[COL:.*]] = arith.addi %[[COL0]], %[[T]]
// CHECK:             memref.load %arg1[%[[ROW]], %[[COL]]]
// CHECK:             arith.mulf
// CHECK:             memref.store %{{.*}}, %arg3[%[[ROW]], %[[COL]]]
// CHECK:           } else {
// CHECK:             %[[L3:.*]] = arith.subi %[[B]], %[[C11]]
// CHECK:             arith.muli %[[L3]], %[[C256]]
// CHECK:             arith.truncf
// CHECK:             memref.store %{{.*}}, %arg4
// CHECK:           }
// CHECK:         }
// CHECK:         gpu.terminator
// CHECK-NOT:   gpu.launch
// BYTES-LABEL: func.func @three
// BYTES-COUNT-2: gpu.launch
// BYTES-NOT:   gpu.launch
func.func @three(%a: memref<768xf32>, %b: memref<4x512xf32>,
                 %o1: memref<768xf32> {bufferize.result},
                 %o2: memref<4x512xf32> {bufferize.result},
                 %o3: memref<768xbf16> {bufferize.result}) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c4 = arith.constant 4 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c3, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %0 = arith.muli %bx, %sx : index
    %i = arith.addi %0, %tx : index
    %v = memref.load %a[%i] : memref<768xf32>
    %w = arith.addf %v, %v : f32
    memref.store %w, %o1[%i] : memref<768xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c2, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c256, %sz = %c1) {
    %0 = arith.muli %by, %sy : index
    %j = arith.addi %0, %ty : index
    %v = memref.load %b[%bx, %j] : memref<4x512xf32>
    %w = arith.mulf %v, %v : f32
    memref.store %w, %o2[%bx, %j] : memref<4x512xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c3, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %0 = arith.muli %bx, %sx : index
    %i = arith.addi %0, %tx : index
    %v = memref.load %a[%i] : memref<768xf32>
    %w = arith.truncf %v : f32 to bf16
    memref.store %w, %o3[%i] : memref<768xbf16>
    gpu.terminator
  }
  return
}

// -----

// A weight rounded between two products moves up, with the allocation it
// writes, to the first weight's rounding: the product between reads and
// writes other buffers (a product only reads A and B: its last operand is a
// constant loop description). The merged launch stays before the
// deallocation of what the first one reads. With hoist=false the two stay
// apart.
// CHECK-LABEL: func.func @hoisted
// CHECK:       %[[S:.*]] = memref.alloc()
// CHECK:       memref.copy
// CHECK:       %[[R0:.*]] = memref.alloc()
// CHECK:       %[[R1:.*]] = memref.alloc()
// CHECK:       gpu.launch
// CHECK:         scf.if
// CHECK:           memref.store %{{.*}}, %[[R0]]
// CHECK:         } else {
// CHECK:           memref.store %{{.*}}, %[[R1]]
// CHECK:       memref.dealloc %[[S]] :
// CHECK:       call @gemm
// CHECK-NOT:   gpu.launch
// CHECK:       call @gemm
// NOHOIST-LABEL: func.func @hoisted
// BYTES-LABEL: func.func @hoisted
// NOHOIST-COUNT-2: gpu.launch
memref.global "private" constant @desc : memref<3xi64> = dense<[0, 1, 1]>
func.func private @gemm(memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<?xi64>)
func.func @hoisted(%w0: memref<16x16xf32>, %w1: memref<16x16xf32>,
                   %x: memref<16x16xf32>,
                   %y: memref<16x16xf32> {bufferize.result},
                   %z: memref<16x16xf32> {bufferize.result}) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %s = memref.alloc() : memref<16x16xf32>
  memref.copy %w0, %s : memref<16x16xf32> to memref<16x16xf32>
  %r0 = memref.alloc() : memref<16x16xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c16, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %s[%bx, %tx] : memref<16x16xf32>
    memref.store %v, %r0[%bx, %tx] : memref<16x16xf32>
    gpu.terminator
  }
  memref.dealloc %s : memref<16x16xf32>
  %d = memref.get_global @desc : memref<3xi64>
  %ud = memref.cast %d : memref<3xi64> to memref<?xi64>
  %u0 = memref.cast %r0 : memref<16x16xf32> to memref<*xf32>
  %ux = memref.cast %x : memref<16x16xf32> to memref<*xf32>
  %uw1 = memref.cast %w1 : memref<16x16xf32> to memref<*xf32>
  %uy = memref.cast %y : memref<16x16xf32> to memref<*xf32>
  call @gemm(%u0, %uw1, %uy, %ud) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<?xi64>) -> ()
  %r1 = memref.alloc() : memref<16x16xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c16, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %w1[%bx, %tx] : memref<16x16xf32>
    memref.store %v, %r1[%bx, %tx] : memref<16x16xf32>
    gpu.terminator
  }
  %u1 = memref.cast %r1 : memref<16x16xf32> to memref<*xf32>
  %uz = memref.cast %z : memref<16x16xf32> to memref<*xf32>
  call @gemm(%u1, %ux, %uz, %ud) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<?xi64>) -> ()
  memref.dealloc %r0 : memref<16x16xf32>
  memref.dealloc %r1 : memref<16x16xf32>
  return
}

// -----

// What stays apart: a kernel that reads what an earlier one writes; one
// that reads its thread index through gpu.thread_id (not its region's
// argument, which the merged launch maps); one of another block size; one reading
// a buffer that a call in between may write (a call that is not a product
// writes every buffer it is passed); one writing a plain argument, which
// may be the buffer an earlier one reads. A result passed out is a buffer
// of its own.
// CHECK-LABEL: func.func @dependent
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT:   gpu.launch
// CHECK-LABEL: func.func @thread_id
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT:   gpu.launch
// CHECK-LABEL: func.func @threads
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT:   gpu.launch
// CHECK-LABEL: func.func @call_between
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT:   gpu.launch
// CHECK-LABEL: func.func @plain_argument
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT:   gpu.launch
// CHECK-LABEL: func.func @result_argument
// CHECK-COUNT-1: gpu.launch
// CHECK-NOT:   gpu.launch
func.func private @touch(memref<16xf32>)
func.func @dependent(%a: memref<16xf32>, %o: memref<16xf32> {bufferize.result}) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %t = memref.alloc() : memref<16xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %t[%tx] : memref<16xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %t[%tx] : memref<16xf32>
    memref.store %v, %o[%tx] : memref<16xf32>
    gpu.terminator
  }
  memref.dealloc %t : memref<16xf32>
  return
}
func.func @thread_id(%a: memref<16xf32>, %o: memref<16xf32> {bufferize.result},
                   %p: memref<16xf32> {bufferize.result}) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %o[%tx] : memref<16xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %t = gpu.thread_id x
    %v = memref.load %a[%t] : memref<16xf32>
    memref.store %v, %p[%t] : memref<16xf32>
    gpu.terminator
  }
  return
}
func.func @threads(%a: memref<16xf32>, %o: memref<16xf32> {bufferize.result},
                   %p: memref<16xf32> {bufferize.result}) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c8 = arith.constant 8 : index
  %c16 = arith.constant 16 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %o[%tx] : memref<16xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c8, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %p[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}
func.func @call_between(%a: memref<16xf32>, %b: memref<16xf32>,
                        %o: memref<16xf32> {bufferize.result},
                        %p: memref<16xf32> {bufferize.result}) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %o[%tx] : memref<16xf32>
    gpu.terminator
  }
  call @touch(%b) : (memref<16xf32>) -> ()
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %b[%tx] : memref<16xf32>
    memref.store %v, %p[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}
func.func @plain_argument(%a: memref<16xf32>, %b: memref<16xf32>,
                          %o: memref<16xf32> {bufferize.result}) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %o[%tx] : memref<16xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    memref.store %f, %b[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}
func.func @result_argument(%a: memref<16xf32>,
                           %o: memref<16xf32> {bufferize.result},
                           %p: memref<16xf32> {bufferize.result}) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %o[%tx] : memref<16xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    memref.store %f, %p[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}

// -----

// Kernels whose threads cooperate only within a block (a barrier, a
// shuffle, workgroup memory) merge too: every thread of a merged block
// runs the same kernel's body, so they all reach its barrier. Each keeps
// its own workgroup memory in the merged launch; its threads' indices
// come from the linear index as CUDA numbers them (x fastest), so a
// warp's lanes stay a warp's. Two kernels with 16 KB of workgroup memory
// each stay apart: a merged block would hold both (more than 24 KB).
// CHECK-LABEL: func.func @within_blocks
// CHECK: gpu.launch blocks(%[[B:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c3{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[T:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c16{{.*}}, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) workgroup(%[[W1:.*]] : memref<16xf32, #gpu.address_space<workgroup>>, %[[W2:.*]] : memref<16xf32, #gpu.address_space<workgroup>>)
// CHECK: scf.if
// CHECK: memref.store %{{.*}}, %[[W1]][%[[T]]]
// CHECK: gpu.barrier
// CHECK: } else {
// CHECK: %[[X:.*]] = arith.remui %[[T]], %c8
// CHECK: %[[Y:.*]] = arith.divui %[[T]], %c8
// CHECK: memref.store %{{.*}}, %[[W2]][
// CHECK: gpu.barrier
// CHECK: gpu.shuffle xor
// CHECK-NOT: gpu.launch
// CHECK-LABEL: func.func @workgroup_budget
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: gpu.launch
func.func @within_blocks(%a: memref<16xf32>, %o: memref<16xf32> {bufferize.result},
                         %p: memref<2x16xf32> {bufferize.result}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c8 = arith.constant 8 : index
  %c15 = arith.constant 15 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1)
             workgroup(%w : memref<16xf32, #gpu.address_space<workgroup>>) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %w[%tx] : memref<16xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %r = arith.subi %c15, %tx : index
    %u = memref.load %w[%r] : memref<16xf32, #gpu.address_space<workgroup>>
    memref.store %u, %o[%tx] : memref<16xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c8, %sy = %c2, %sz = %c1)
             workgroup(%w : memref<16xf32, #gpu.address_space<workgroup>>) {
    %i = arith.muli %ty, %c8 : index
    %j = arith.addi %i, %tx : index
    %v = memref.load %a[%j] : memref<16xf32>
    memref.store %v, %w[%j] : memref<16xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %u = memref.load %w[%j] : memref<16xf32, #gpu.address_space<workgroup>>
    %one = arith.constant 1 : i32
    %width = arith.constant 32 : i32
    %s, %ok = gpu.shuffle xor %u, %one, %width : f32
    memref.store %s, %p[%bx, %j] : memref<2x16xf32>
    gpu.terminator
  }
  return
}
func.func @workgroup_budget(%a: memref<16xf32>, %o: memref<16xf32> {bufferize.result},
                            %p: memref<16xf32> {bufferize.result}) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1)
             workgroup(%w : memref<4096xf32, #gpu.address_space<workgroup>>) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %w[%tx] : memref<4096xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %u = memref.load %w[%tx] : memref<4096xf32, #gpu.address_space<workgroup>>
    memref.store %u, %o[%tx] : memref<16xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1)
             workgroup(%w : memref<4096xf32, #gpu.address_space<workgroup>>) {
    %v = memref.load %a[%tx] : memref<16xf32>
    memref.store %v, %w[%tx] : memref<4096xf32, #gpu.address_space<workgroup>>
    gpu.barrier
    %u = memref.load %w[%tx] : memref<4096xf32, #gpu.address_space<workgroup>>
    memref.store %u, %p[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}
