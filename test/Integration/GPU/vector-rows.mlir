// A fused row kernel's walks in vectors (autopar-fuse-rows vector-bytes,
// here on the CPU: gpu=false) compute what the one-element walks compute,
// including the loop over a row's tail: rows of 67 floats in a buffer of
// rows of 68 (a padded product's result) are 16 vectors of 4 and 3
// elements. Each row is divided by its sum (w[i, j] = 68 i + j + 1, so
// row 0's sum is 2278): both forms run (mlir-runner) and print the same.
//
// DEFINE: %{lower} = --convert-linalg-to-loops --lower-affine \
// DEFINE:   --convert-vector-to-llvm --convert-scf-to-cf \
// DEFINE:   --expand-strided-metadata --finalize-memref-to-llvm \
// DEFINE:   --convert-arith-to-llvm --convert-index-to-llvm --convert-cf-to-llvm \
// DEFINE:   --convert-func-to-llvm --reconcile-unrealized-casts
// DEFINE: %{run} = mlir-runner -e main -entry-point-result=void \
// DEFINE:   -shared-libs=%llvm_lib/libmlir_runner_utils.so,%llvm_lib/libmlir_c_runner_utils.so
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{gpu=false min-size=1 vector-bytes=16}))' \
// RUN:   | FileCheck %s --check-prefix=IR
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{gpu=false min-size=1 vector-bytes=0}))' \
// RUN:   | autopar-opt %{lower} | %{run} | sed 's/base@ = [0-9a-fx]*//' > %t.scalar
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{gpu=false min-size=1 vector-bytes=16}))' \
// RUN:   | autopar-opt %{lower} | %{run} | sed 's/base@ = [0-9a-fx]*//' > %t.vector
// RUN: diff %t.scalar %t.vector
// RUN: FileCheck %s < %t.vector

// IR-LABEL: func.func @padded_rows
// IR:       scf.for %{{.*}} = %{{.*}} to %c64{{.*}} step %c4{{.*}} iter_args
// IR:         vector.load {{.*}} : memref<4x67xf32, strided<[68, 1]>>, vector<4xf32>
// IR:       scf.for %{{.*}} = %{{.*}} to %c67{{.*}} step %c1{{.*}} iter_args

// CHECK: {{\[\[}}0.00043898{{[0-9]*}},{{ +}}0.00087796
// CHECK-SAME: 0.029411

#pr = affine_map<(i, j) -> (i, j)>
#prr = affine_map<(i, j) -> (i)>
func.func @padded_rows(%w: memref<4x68xf32>, %o: memref<4x67xf32>) {
  %zero = arith.constant 0.0 : f32
  %x = memref.subview %w[0, 0] [4, 67] [1, 1]
      : memref<4x68xf32> to memref<4x67xf32, strided<[68, 1]>>
  %sum = memref.alloc() {alignment = 64 : i64} : memref<4xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<4xf32>)
  linalg.generic {indexing_maps = [#pr, #prr], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<4x67xf32, strided<[68, 1]>>) outs(%sum : memref<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#pr, #prr, #pr], iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum : memref<4x67xf32, strided<[68, 1]>>, memref<4xf32>)
      outs(%o : memref<4x67xf32>) {
  ^bb0(%a: f32, %s: f32, %out: f32):
    %d = arith.divf %a, %s : f32
    linalg.yield %d : f32
  }
  memref.dealloc %sum : memref<4xf32>
  return
}

func.func private @printMemrefF32(memref<*xf32>)

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c68 = arith.constant 68 : index
  %w = memref.alloc() {alignment = 64 : i64} : memref<4x68xf32>
  %o = memref.alloc() {alignment = 64 : i64} : memref<4x67xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    scf.for %j = %c0 to %c68 step %c1 {
      %k0 = arith.muli %i, %c68 : index
      %k1 = arith.addi %k0, %j : index
      %k = arith.addi %k1, %c1 : index
      %ki = arith.index_cast %k : index to i32
      %f = arith.sitofp %ki : i32 to f32
      memref.store %f, %w[%i, %j] : memref<4x68xf32>
    }
  }
  call @padded_rows(%w, %o) : (memref<4x68xf32>, memref<4x67xf32>) -> ()
  %u = memref.cast %o : memref<4x67xf32> to memref<*xf32>
  call @printMemrefF32(%u) : (memref<*xf32>) -> ()
  memref.dealloc %w : memref<4x68xf32>
  memref.dealloc %o : memref<4x67xf32>
  return
}
