// RUN: autopar-opt %s --split-input-file --autopar-packed-wrappers --verify-diagnostics | FileCheck %s

// Every defined C interface gets the wrapper ExecutionEngine::invokePacked
// calls: args[i] points to argument i, args[n] to where the result goes.
// CHECK-LABEL: llvm.func @_mlir_ciface_step(
// CHECK-LABEL: llvm.func @_mlir__mlir_ciface_step(
// CHECK-SAME: %[[ARGS:.*]]: !llvm.ptr) {
// CHECK: %[[P0:.*]] = llvm.getelementptr %[[ARGS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[S0:.*]] = llvm.load %[[P0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[A0:.*]] = llvm.load %[[S0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[P1:.*]] = llvm.getelementptr %[[ARGS]][1]
// CHECK: %[[S1:.*]] = llvm.load %[[P1]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[A1:.*]] = llvm.load %[[S1]] : !llvm.ptr -> i64
// CHECK: %[[R:.*]] = llvm.call @_mlir_ciface_step(%[[A0]], %[[A1]]) : (!llvm.ptr, i64) -> f32
// CHECK: %[[P2:.*]] = llvm.getelementptr %[[ARGS]][2]
// CHECK: %[[S2:.*]] = llvm.load %[[P2]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.store %[[R]], %[[S2]] : f32, !llvm.ptr
// CHECK: llvm.return
// A declaration gets none.
// CHECK-NOT: @_mlir__mlir_ciface_external
llvm.func @_mlir_ciface_step(%d: !llvm.ptr, %n: i64) -> f32 {
  %0 = llvm.mlir.constant(1.0 : f32) : f32
  llvm.return %0 : f32
}
llvm.func @_mlir_ciface_external(!llvm.ptr)

// -----

// expected-error @+1 {{'llvm.func' op has a packed wrapper's name taken: @_mlir__mlir_ciface_f}}
llvm.func @_mlir_ciface_f() {
  llvm.return
}
llvm.func @_mlir__mlir_ciface_f(%a: !llvm.ptr) {
  llvm.return
}
