// Kernels merged by autopar-fuse-launches compute what they computed apart:
// both forms run on the CPU (autopar-launches-to-loops: each launch an
// scf.parallel over its blocks and threads) and print the same buffers;
// the sums below are the formulas' (a[k] = k - 30 for k < 80).
//
// DEFINE: %{lower} = --convert-scf-to-cf --expand-strided-metadata \
// DEFINE:   --finalize-memref-to-llvm --convert-arith-to-llvm \
// DEFINE:   --convert-index-to-llvm --convert-cf-to-llvm --convert-func-to-llvm \
// DEFINE:   --reconcile-unrealized-casts
// RUN: autopar-opt %s --autopar-fuse-launches | FileCheck %s --check-prefix=IR
// RUN: autopar-opt %s --autopar-launches-to-loops %{lower} \
// RUN:   | mlir-runner -e main -entry-point-result=void \
// RUN:       -shared-libs=%llvm_lib/libmlir_runner_utils.so,%llvm_lib/libmlir_c_runner_utils.so \
// RUN:   > %t.apart
// RUN: autopar-opt %s --autopar-fuse-launches --autopar-launches-to-loops \
// RUN:     %{lower} \
// RUN:   | mlir-runner -e main -entry-point-result=void \
// RUN:       -shared-libs=%llvm_lib/libmlir_runner_utils.so,%llvm_lib/libmlir_c_runner_utils.so \
// RUN:   > %t.merged
// RUN: diff %t.apart %t.merged
// RUN: FileCheck %s < %t.merged

// The fill; the three kernels of 20 threads that read only `a`, merged
// (4 + 4 + 4 blocks); the one that reads what the first writes; the one
// of 8 threads.
// IR-LABEL: func.func @main
// IR:       gpu.launch blocks({{.*}}) in ({{.*}} = %c4{{.*}}) threads
// IR:       gpu.launch blocks({{.*}}) in ({{.*}} = %c12{{.*}}) threads({{.*}}) in ({{.*}} = %c20
// IR-COUNT-2: scf.if
// IR:       gpu.launch
// IR:       gpu.launch
// IR-NOT:   gpu.launch

// CHECK:      sum 760
// CHECK-NEXT: -59, -57, -55, -53,
// CHECK:      sum 1600
// CHECK-NEXT: 900, 841, 784, 729,
// CHECK:      sum 49880
// CHECK-NEXT: -37, -36, -35, -34,
// CHECK:      sum 200
// CHECK-NEXT: -58, -56, -54, -52,
// CHECK:      sum 1680
// CHECK-NEXT: -15, -14.5, -14, -13.5,
// CHECK:      sum 380

func.func private @printComma()
func.func private @printF32(f32)
func.func private @printNewline()
func.func private @printString(!llvm.ptr)

llvm.mlir.global internal constant @sum_label("sum \00")

func.func @print(%m: memref<4x20xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c20 = arith.constant 20 : index
  %zero = arith.constant 0.0 : f32
  %s = scf.for %r = %c0 to %c4 step %c1 iter_args(%acc = %zero) -> f32 {
    %t = scf.for %c = %c0 to %c20 step %c1 iter_args(%a2 = %acc) -> f32 {
      %v = memref.load %m[%r, %c] : memref<4x20xf32>
      func.call @printF32(%v) : (f32) -> ()
      func.call @printComma() : () -> ()
      %n = arith.addf %a2, %v : f32
      scf.yield %n : f32
    }
    func.call @printNewline() : () -> ()
    scf.yield %t : f32
  }
  %label = llvm.mlir.addressof @sum_label : !llvm.ptr
  call @printString(%label) : (!llvm.ptr) -> ()
  call @printF32(%s) : (f32) -> ()
  call @printNewline() : () -> ()
  return
}

func.func @main() {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c8 = arith.constant 8 : index
  %c10 = arith.constant 10 : index
  %c20 = arith.constant 20 : index
  %one = arith.constant 1.0 : f32
  %two = arith.constant 2.0 : f32
  %seven = arith.constant 7.0 : f32
  %half = arith.constant 0.5 : f32
  %thirty = arith.constant 30.0 : f32
  %a = memref.alloc() : memref<4x20xf32>
  %o1 = memref.alloc() : memref<4x20xf32>
  %o2 = memref.alloc() : memref<80xf32>
  %o3 = memref.alloc() : memref<4x20xf32>
  %o4 = memref.alloc() : memref<4x20xf32>
  %o5 = memref.alloc() : memref<4x20xf32>
  // a[r, c] = 20 r + c - 30
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c20, %sy = %c1, %sz = %c1) {
    %k = arith.muli %bx, %c20 : index
    %i = arith.addi %k, %tx : index
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    %v = arith.subf %f, %thirty : f32
    memref.store %v, %a[%bx, %tx] : memref<4x20xf32>
    gpu.terminator
  }
  // o1 = 2 a + 1: blocks of 10 x 2 threads, a 2 x 2 grid.
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c2, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c10, %sy = %c2, %sz = %c1) {
    %c0 = arith.muli %bx, %sx : index
    %c = arith.addi %c0, %tx : index
    %r0 = arith.muli %by, %sy : index
    %r = arith.addi %r0, %ty : index
    %v = memref.load %a[%r, %c] : memref<4x20xf32>
    %w = arith.mulf %v, %two : f32
    %x = arith.addf %w, %one : f32
    memref.store %x, %o1[%r, %c] : memref<4x20xf32>
    gpu.terminator
  }
  // o2 = a * a, flat: blocks of 10 x 1 x 2 threads, a 1 x 2 x 2 grid.
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c2, %gz = %c2)
             threads(%tx, %ty, %tz) in (%sx = %c10, %sy = %c1, %sz = %c2) {
    %b0 = arith.muli %bz, %gy : index
    %b = arith.addi %b0, %by : index
    %k0 = arith.muli %b, %c20 : index
    %t0 = arith.muli %tz, %sx : index
    %k1 = arith.addi %k0, %t0 : index
    %k = arith.addi %k1, %tx : index
    %r = arith.divui %k, %c20 : index
    %c = arith.remui %k, %c20 : index
    %v = memref.load %a[%r, %c] : memref<4x20xf32>
    %w = arith.mulf %v, %v : f32
    memref.store %w, %o2[%k] : memref<80xf32>
    gpu.terminator
  }
  // o3 = a - 7: blocks of 1 x 20 threads, a row each.
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c20, %sz = %c1) {
    %v = memref.load %a[%bx, %ty] : memref<4x20xf32>
    %w = arith.subf %v, %seven : f32
    memref.store %w, %o3[%bx, %ty] : memref<4x20xf32>
    gpu.terminator
  }
  // o4 = o1 + 1: reads what the first merged kernel writes.
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c4, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c20, %sy = %c1, %sz = %c1) {
    %v = memref.load %o1[%bx, %tx] : memref<4x20xf32>
    %w = arith.addf %v, %one : f32
    memref.store %w, %o4[%bx, %tx] : memref<4x20xf32>
    gpu.terminator
  }
  // o5 = a / 2: blocks of 8 threads.
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c10, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c8, %sy = %c1, %sz = %c1) {
    %k0 = arith.muli %bx, %sx : index
    %k = arith.addi %k0, %tx : index
    %r = arith.divui %k, %c20 : index
    %c = arith.remui %k, %c20 : index
    %v = memref.load %a[%r, %c] : memref<4x20xf32>
    %w = arith.mulf %v, %half : f32
    memref.store %w, %o5[%r, %c] : memref<4x20xf32>
    gpu.terminator
  }
  %o2v = memref.expand_shape %o2 [[0, 1]] output_shape [4, 20]
      : memref<80xf32> into memref<4x20xf32>
  call @print(%a) : (memref<4x20xf32>) -> ()
  call @print(%o1) : (memref<4x20xf32>) -> ()
  call @print(%o2v) : (memref<4x20xf32>) -> ()
  call @print(%o3) : (memref<4x20xf32>) -> ()
  call @print(%o4) : (memref<4x20xf32>) -> ()
  call @print(%o5) : (memref<4x20xf32>) -> ()
  memref.dealloc %a : memref<4x20xf32>
  memref.dealloc %o1 : memref<4x20xf32>
  memref.dealloc %o2 : memref<80xf32>
  memref.dealloc %o3 : memref<4x20xf32>
  memref.dealloc %o4 : memref<4x20xf32>
  memref.dealloc %o5 : memref<4x20xf32>
  return
}
