// RUN: autopar-opt %s --autopar-collectives-to-calls -split-input-file -verify-diagnostics | FileCheck %s

// all_reduce becomes a runtime call from the operand's buffer (read only)
// into a fresh one; the mask holds the grid axes (axis 1: 0b10);
// grad_all_reduce goes; the grid, no longer used, goes too.
// CHECK-NOT: shard.grid
// CHECK: func.func private @autopar_all_reduce_f32(i64, memref<*xf32>, memref<*xf32>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[X:.*]]: tensor<4x8xf32>)
// CHECK-NOT: grad_all_reduce
// CHECK: %[[IN:.*]] = bufferization.to_buffer %[[X]] read_only : tensor<4x8xf32> to memref<4x8xf32>
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<4x8xf32>
// CHECK: %[[MASK:.*]] = arith.constant 2 : i64
// CHECK: %[[I:.*]] = memref.cast %[[IN]] : memref<4x8xf32> to memref<*xf32>
// CHECK: %[[O:.*]] = memref.cast %[[OUT]] : memref<4x8xf32> to memref<*xf32>
// CHECK: call @autopar_all_reduce_f32(%[[MASK]], %[[I]], %[[O]])
// CHECK: %[[R:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: return %[[R]]
shard.grid @autopar_grid(shape = 2x2)
func.func @f(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = autopar.grad_all_reduce %x on @autopar_grid grid_axes = [1] : tensor<4x8xf32>
  %1 = autopar.all_reduce %0 on @autopar_grid grid_axes = [1] : tensor<4x8xf32>
  return %1 : tensor<4x8xf32>
}

// -----

// f64 has its own entry point; both axes: mask 0b11.
// CHECK: func.func private @autopar_all_reduce_f64
// CHECK: arith.constant 3 : i64
// CHECK: call @autopar_all_reduce_f64
shard.grid @autopar_grid(shape = 2x2)
func.func @g(%x: tensor<3xf64>) -> tensor<3xf64> {
  %0 = autopar.all_reduce %x on @autopar_grid grid_axes = [0, 1] : tensor<3xf64>
  return %0 : tensor<3xf64>
}

// -----

shard.grid @autopar_grid(shape = 2)
func.func @h(%x: tensor<3xf16>) -> tensor<3xf16> {
  // expected-error @+1 {{runs on the CPU runtime for f32 and f64 only, not 'f16'}}
  %0 = autopar.all_reduce %x on @autopar_grid grid_axes = [0] : tensor<3xf16>
  return %0 : tensor<3xf16>
}
