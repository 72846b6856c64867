// Elementwise kernels whose threads read and write 4 floats at once
// (autopar-tile-loops-for-gpu's vectors) compute what the one-element
// kernels compute: both are tiled and mapped to launches as in the CUDA
// pipeline, then run on the CPU (autopar-launches-to-loops) and print the
// same buffers. The first and last elements checked are the formulas'
// (a[i, j] = 64 i + j - 500, bias[j] = j, stat[i] = i + 1).
//
// DEFINE: %{map} = gpu-map-parallel-loops,convert-parallel-loops-to-gpu,canonicalize,autopar-launches-to-loops
// DEFINE: %{lower} = --lower-affine --convert-vector-to-llvm --convert-scf-to-cf \
// DEFINE:   --expand-strided-metadata --finalize-memref-to-llvm \
// DEFINE:   --convert-arith-to-llvm --convert-index-to-llvm --convert-cf-to-llvm \
// DEFINE:   --convert-func-to-llvm --reconcile-unrealized-casts
// DEFINE: %{run} = mlir-runner -e main -entry-point-result=void \
// DEFINE:   -shared-libs=%llvm_lib/libmlir_runner_utils.so,%llvm_lib/libmlir_c_runner_utils.so
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu{vector-bytes=16}))' \
// RUN:   | FileCheck %s --check-prefix=IR
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu{vector-bytes=0},%{map}))' \
// RUN:     | autopar-opt %{lower} | %{run} | sed 's/base@ = [0-9a-fx]*//' > %t.scalar
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu{vector-bytes=16},%{map}))' \
// RUN:     | autopar-opt %{lower} | %{run} | sed 's/base@ = [0-9a-fx]*//' > %t.vector
// RUN: diff %t.scalar %t.vector
// RUN: FileCheck %s < %t.vector

// IR-LABEL: func.func @kernels
// IR-COUNT-2: vector.load {{.*}} {alignment = 16 : i64}
// IR:         memref.load %arg2
// IR-COUNT-4: memref.load %arg3
// IR-COUNT-2: vector.store {{.*}} {alignment = 16 : i64}
// IR:         vector.load {{.*}} {alignment = 8 : i64} : memref<16x64xf32, strided<[66, 1], offset: 2>>, vector<2xf32>
// IR:         vector.store {{.*}} {alignment = 8 : i64}

// CHECK:      {{\[\[}}-500,{{ +}}-498,{{ +}}-496,{{ +}}-494,
// CHECK:      584,{{ +}}586]]
// CHECK:      {{\[\[}}-1000,{{ +}}-997,{{ +}}-994,{{ +}}-991,
// CHECK:      9899]]
// CHECK:      {{\[\[}}-500,{{ +}}-499,{{ +}}-498,{{ +}}-497,
// CHECK:      522,{{ +}}523]]

func.func private @printMemrefF32(memref<*xf32>)

// o1 = a + bias (a vector per 4 columns); o2 = (a + bias) * stat[row] +
// a transposed (the statistic once, the transposed reads one per lane);
// o3 = a shifted by two columns (8-byte vectors).
func.func @kernels(%a: memref<16x64xf32>, %bias: memref<64xf32>,
                   %stat: memref<16xf32>, %at: memref<64x16xf32>,
                   %wide: memref<16x66xf32>, %o1: memref<16x64xf32>,
                   %o2: memref<16x64xf32>, %o3: memref<16x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c64) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<16x64xf32>
    %y = memref.load %bias[%j] : memref<64xf32>
    %z = memref.load %stat[%i] : memref<16xf32>
    %u = memref.load %at[%j, %i] : memref<64x16xf32>
    %p = arith.addf %x, %y : f32
    %q = arith.mulf %p, %z : f32
    %r = arith.addf %q, %u : f32
    memref.store %p, %o1[%i, %j] : memref<16x64xf32>
    memref.store %r, %o2[%i, %j] : memref<16x64xf32>
    scf.reduce
  }
  %v = memref.subview %wide[0, 2] [16, 64] [1, 1]
      : memref<16x66xf32> to memref<16x64xf32, strided<[66, 1], offset: 2>>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c64) step (%c1, %c1) {
    %x = memref.load %v[%i, %j] : memref<16x64xf32, strided<[66, 1], offset: 2>>
    memref.store %x, %o3[%i, %j] : memref<16x64xf32>
    scf.reduce
  }
  return
}

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  %c66 = arith.constant 66 : index
  %c500 = arith.constant 500 : index
  %a = memref.alloc() {alignment = 64 : i64} : memref<16x64xf32>
  %bias = memref.alloc() {alignment = 64 : i64} : memref<64xf32>
  %stat = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
  %at = memref.alloc() {alignment = 64 : i64} : memref<64x16xf32>
  %wide = memref.alloc() {alignment = 64 : i64} : memref<16x66xf32>
  %o1 = memref.alloc() {alignment = 64 : i64} : memref<16x64xf32>
  %o2 = memref.alloc() {alignment = 64 : i64} : memref<16x64xf32>
  %o3 = memref.alloc() {alignment = 64 : i64} : memref<16x64xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%c16, %c64) step (%c1, %c1) {
    %k0 = arith.muli %i, %c64 : index
    %k1 = arith.addi %k0, %j : index
    %k = arith.subi %k1, %c500 : index
    %ki = arith.index_cast %k : index to i32
    %f = arith.sitofp %ki : i32 to f32
    memref.store %f, %a[%i, %j] : memref<16x64xf32>
    memref.store %f, %at[%j, %i] : memref<64x16xf32>
    %j2 = arith.addi %j, %c2 : index
    memref.store %f, %wide[%i, %j2] : memref<16x66xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c16) step (%c1) {
    %i1 = arith.addi %i, %c1 : index
    %si = arith.index_cast %i1 : index to i32
    %fs = arith.sitofp %si : i32 to f32
    memref.store %fs, %stat[%i] : memref<16xf32>
    scf.reduce
  }
  scf.parallel (%j) = (%c0) to (%c64) step (%c1) {
    %ji = arith.index_cast %j : index to i32
    %f = arith.sitofp %ji : i32 to f32
    memref.store %f, %bias[%j] : memref<64xf32>
    scf.reduce
  }
  call @kernels(%a, %bias, %stat, %at, %wide, %o1, %o2, %o3)
      : (memref<16x64xf32>, memref<64xf32>, memref<16xf32>, memref<64x16xf32>,
         memref<16x66xf32>, memref<16x64xf32>, memref<16x64xf32>,
         memref<16x64xf32>) -> ()
  %u1 = memref.cast %o1 : memref<16x64xf32> to memref<*xf32>
  %u2 = memref.cast %o2 : memref<16x64xf32> to memref<*xf32>
  %u3 = memref.cast %o3 : memref<16x64xf32> to memref<*xf32>
  call @printMemrefF32(%u1) : (memref<*xf32>) -> ()
  call @printMemrefF32(%u2) : (memref<*xf32>) -> ()
  call @printMemrefF32(%u3) : (memref<*xf32>) -> ()
  memref.dealloc %a : memref<16x64xf32>
  memref.dealloc %bias : memref<64xf32>
  memref.dealloc %stat : memref<16xf32>
  memref.dealloc %at : memref<64x16xf32>
  memref.dealloc %wide : memref<16x66xf32>
  memref.dealloc %o1 : memref<16x64xf32>
  memref.dealloc %o2 : memref<16x64xf32>
  memref.dealloc %o3 : memref<16x64xf32>
  return
}
