// The whole CPU pipeline: nothing but the LLVM dialect is left, results
// become caller-provided out-parameters and the C interface is emitted.
// RUN: autopar-opt %s --autopar-lower-to-cpu | FileCheck %s
// RUN: autopar-opt %s --autopar-lower-to-cpu=out-params=false | FileCheck %s --check-prefix=RESULTS

// CHECK-LABEL: llvm.func @forward
// CHECK-NOT: -> !llvm.struct
// CHECK-SAME: {
// CHECK-NOT: autopar.
// CHECK-NOT: linalg.
// CHECK-NOT: memref.
// CHECK: llvm.return
// CHECK-LABEL: llvm.func @_mlir_ciface_forward
// RESULTS: llvm.func @forward({{.*}}) -> !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)>
func.func @forward(%x: tensor<2x4xf32>, %w: tensor<4x3xf32>) -> tensor<2x3xf32>
    attributes {llvm.emit_c_interface} {
  %0 = autopar.dot %x, %w, batch_dims = [] x [], contracting_dims = [1] x [0]
      : tensor<2x4xf32>, tensor<4x3xf32> -> tensor<2x3xf32>
  %1 = autopar.tanh %0 : tensor<2x3xf32>
  %2 = autopar.softmax %1, axis = 1 : tensor<2x3xf32>
  return %2 : tensor<2x3xf32>
}
