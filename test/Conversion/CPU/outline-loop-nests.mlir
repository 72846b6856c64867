// RUN: autopar-opt %s --autopar-outline-loop-nests | FileCheck %s

// Each loop nest on buffers moves into a never-inlined function of its
// operands (constants are cloned in); identical nests share one function,
// and a function left with only calls is marked optnone.
// CHECK-LABEL: func.func private @step_loop0(%arg0: memref<16xf32>, %arg1: memref<16xf32>) attributes {no_inline}
// CHECK-NEXT: %[[C:.*]] = arith.constant 2.000000e+00 : f32
// CHECK-NEXT: linalg.generic
// CHECK: arith.mulf %{{.*}}, %[[C]]
// CHECK-LABEL: func.func private @step_loop1(%arg0: memref<16xf32>) attributes {no_inline}
// CHECK-NEXT: arith.constant 0.000000e+00 : f32
// CHECK-NEXT: linalg.fill
// CHECK-LABEL: func.func private @step_loop3(%arg0: memref<16xf32>, %arg1: memref<16xf32>) attributes {no_inline}
// CHECK: %[[C0:.*]] = arith.constant 0 : index
// CHECK: %[[N:.*]] = arith.constant 16 : index
// CHECK: %[[C1:.*]] = arith.constant 1 : index
// CHECK: scf.for %{{.*}} = %[[C0]] to %[[N]] step %[[C1]]
// CHECK-LABEL: func.func @step
// CHECK-SAME: passthrough = ["noinline", "optnone"]
// CHECK-NOT: linalg
// CHECK: call @step_loop0(%arg0, %arg1)
// CHECK-NEXT: call @step_loop1(%arg1)
// CHECK-NEXT: call @step_loop0(%arg1, %arg2)
// CHECK: call @step_loop3(%arg1, %arg2)
// CHECK-NEXT: return
#id = affine_map<(i) -> (i)>
func.func @step(%a: memref<16xf32>, %b: memref<16xf32>, %c: memref<16xf32>) {
  %two = arith.constant 2.0 : f32
  %zero = arith.constant 0.0 : f32
  %n = arith.constant 16 : index
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%a : memref<16xf32>) outs(%b : memref<16xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %two : f32
    linalg.yield %m : f32
  }
  linalg.fill ins(%zero : f32) outs(%b : memref<16xf32>)
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]}
      ins(%b : memref<16xf32>) outs(%c : memref<16xf32>) {
  ^bb0(%x: f32, %y: f32):
    %m = arith.mulf %x, %two : f32
    linalg.yield %m : f32
  }
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %b[%i] : memref<16xf32>
    memref.store %v, %c[%i] : memref<16xf32>
  }
  return
}
