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

// f64 has its own entry point; both axes: mask 0b11. The maximum has its
// own call.
// CHECK-DAG: func.func private @autopar_all_reduce_f64
// CHECK-DAG: func.func private @autopar_all_reduce_max_f64
// CHECK: arith.constant 3 : i64
// CHECK: call @autopar_all_reduce_f64
// CHECK: call @autopar_all_reduce_max_f64
shard.grid @autopar_grid(shape = 2x2)
func.func @g(%x: tensor<3xf64>) -> tensor<3xf64> {
  %0 = autopar.all_reduce %x on @autopar_grid grid_axes = [0, 1] : tensor<3xf64>
  %1 = autopar.all_reduce_max %0 on @autopar_grid grid_axes = [1] : tensor<3xf64>
  return %1 : tensor<3xf64>
}

// -----

// Sequence-parallel collectives pass their dimension too.
// CHECK-DAG: func.func private @autopar_local_slice_f32(i64, i64, memref<*xf32>, memref<*xf32>)
// CHECK-DAG: func.func private @autopar_all_gather_f32(i64, i64, memref<*xf32>, memref<*xf32>)
// CHECK-DAG: func.func private @autopar_reduce_scatter_f32(i64, i64, memref<*xf32>, memref<*xf32>)
// CHECK-LABEL: func.func @s
// CHECK: %[[A:.*]] = memref.alloc() : memref<2x4xf32>
// CHECK: %[[M:.*]] = arith.constant 2 : i64
// CHECK: %[[D:.*]] = arith.constant 1 : i64
// CHECK: call @autopar_local_slice_f32(%[[M]], %[[D]], %{{.*}}, %{{.*}})
// CHECK: memref.alloc() : memref<2x8xf32>
// CHECK: call @autopar_all_gather_f32
// CHECK: memref.alloc() : memref<2x4xf32>
// CHECK: call @autopar_reduce_scatter_f32
shard.grid @autopar_grid(shape = 1x2)
func.func @s(%x: tensor<2x8xf32>) -> tensor<2x4xf32> {
  %0 = autopar.local_slice %x on @autopar_grid grid_axes = [1] dim = 1 : tensor<2x8xf32> -> tensor<2x4xf32>
  %1 = autopar.all_gather %0 on @autopar_grid grid_axes = [1] dim = 1 {partial_grad} : tensor<2x4xf32> -> tensor<2x8xf32>
  %2 = autopar.reduce_scatter %1 on @autopar_grid grid_axes = [1] dim = 1 : tensor<2x8xf32> -> tensor<2x4xf32>
  return %2 : tensor<2x4xf32>
}

// -----

shard.grid @autopar_grid(shape = 2)
func.func @h(%x: tensor<3xf16>) -> tensor<3xf16> {
  // expected-error @+1 {{runs on the CPU runtime for f32 and f64 only, not 'f16'}}
  %0 = autopar.all_reduce %x on @autopar_grid grid_axes = [0] : tensor<3xf16>
  return %0 : tensor<3xf16>
}

// -----

// A started sum: the start call copies the operand (read only) and returns
// a request; the wait fills a fresh buffer. Data-parallel axis 0: mask 1.
// CHECK-DAG: func.func private @autopar_all_reduce_start_f32(i64, memref<*xf32>) -> i64 attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @autopar_all_reduce_wait_f32(i64, memref<*xf32>) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @started
// CHECK: %[[IN:.*]] = bufferization.to_buffer %{{.*}} read_only : tensor<4xf32> to memref<4xf32>
// CHECK: %[[MASK:.*]] = arith.constant 1 : i64
// CHECK: %[[I:.*]] = memref.cast %[[IN]]
// CHECK: %[[REQ:.*]] = call @autopar_all_reduce_start_f32(%[[MASK]], %[[I]]) : (i64, memref<*xf32>) -> i64
// CHECK: autopar.exp
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<4xf32>
// CHECK: %[[O:.*]] = memref.cast %[[OUT]]
// CHECK: call @autopar_all_reduce_wait_f32(%[[REQ]], %[[O]])
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
shard.grid @autopar_grid(shape = ?x1)
func.func @started(%g: tensor<4xf32>, %h: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %r = autopar.all_reduce_start %g on @autopar_grid grid_axes = [0] : tensor<4xf32> -> tensor<i64>
  %e = autopar.exp %h : tensor<4xf32>
  %s = autopar.all_reduce_wait %r : tensor<i64> -> tensor<4xf32>
  return %s, %e : tensor<4xf32>, tensor<4xf32>
}
