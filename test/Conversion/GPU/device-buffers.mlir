// RUN: autopar-opt %s --split-input-file --autopar-device-buffers --verify-diagnostics | FileCheck %s

// Host functions' buffers go to device memory; copies become device copies;
// the kernels' own memory operations stay.
// CHECK-LABEL: func.func @host
// CHECK: %[[M:.*]] = gpu.alloc () : memref<16xf32>
// CHECK: gpu.launch
// CHECK: memref.store
// CHECK: gpu.memcpy %arg0, %[[M]] : memref<16xf32>, memref<16xf32>
// CHECK: gpu.dealloc %[[M]] : memref<16xf32>
func.func @host(%out: memref<16xf32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %cst = arith.constant 2.0 : f32
  %m = memref.alloc() : memref<16xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    memref.store %cst, %m[%c0] : memref<16xf32>
    gpu.terminator
  }
  memref.copy %m, %out : memref<16xf32> to memref<16xf32>
  memref.dealloc %m : memref<16xf32>
  return
}

// -----

func.func @host_store(%out: memref<16xf32>) {
  %c0 = arith.constant 0 : index
  %cst = arith.constant 2.0 : f32
  // expected-error @+1 {{'memref.store' op reads or writes device memory on the host}}
  memref.store %cst, %out[%c0] : memref<16xf32>
  return
}

// -----

// Constant globals a host function hands to kernels get a device copy: a
// 32-bit splat is filled by gpu.memset (and the global, read by nothing
// else, is erased), any other constant copied from the host; a global
// marked autopar.host (what a host runtime function reads) stays.
// CHECK-NOT: @zeros
// CHECK: memref.global "private" constant @mask
// CHECK: memref.global "private" constant @loops : memref<2xi64> = dense<[0, 1]> {autopar.host}
// CHECK-LABEL: func.func @constants
// CHECK: %[[MASK:.*]] = memref.get_global @mask : memref<4xf32>
// CHECK: %[[MD:.*]] = gpu.alloc () : memref<4xf32>
// CHECK: gpu.memcpy %[[MD]], %[[MASK]] : memref<4xf32>, memref<4xf32>
// CHECK: %[[ZD:.*]] = gpu.alloc () : memref<8xf32>
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: gpu.memset %[[ZD]], %[[ZERO]] : memref<8xf32>, f32
// CHECK: %[[LOOPS:.*]] = memref.get_global @loops : memref<2xi64>
// CHECK: gpu.launch
// CHECK: memref.load %[[MD]]
// CHECK: memref.load %[[ZD]]
// CHECK: call @runtime(%[[LOOPS]])
// CHECK: gpu.dealloc %[[MD]]
// CHECK: gpu.dealloc %[[ZD]]
// CHECK-NEXT: return
memref.global "private" constant @mask : memref<4xf32> = dense<[0.0, 1.0, 2.0, 3.0]>
memref.global "private" constant @zeros : memref<8xf32> = dense<0.0>
memref.global "private" constant @loops : memref<2xi64> = dense<[0, 1]> {autopar.host}
func.func private @runtime(memref<2xi64>)
func.func @constants(%out: memref<f32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %mask = memref.get_global @mask : memref<4xf32>
  %zeros = memref.get_global @zeros : memref<8xf32>
  %loops = memref.get_global @loops : memref<2xi64>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    %a = memref.load %mask[%c0] : memref<4xf32>
    %b = memref.load %zeros[%c0] : memref<8xf32>
    %s = arith.addf %a, %b : f32
    memref.store %s, %out[] : memref<f32>
    gpu.terminator
  }
  call @runtime(%loops) : (memref<2xi64>) -> ()
  return
}

// -----

memref.global "private" @counter : memref<1xf32> = dense<0.0>
func.func @mutable(%out: memref<f32>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{'memref.get_global' op reads a global that is not a constant with an initial value}}
  %g = memref.get_global @counter : memref<1xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    %a = memref.load %g[%c0] : memref<1xf32>
    memref.store %a, %out[] : memref<f32>
    gpu.terminator
  }
  return
}

// -----

func.func @strided_copy(%src: memref<4x8xf32>, %dst: memref<4x24xf32>) {
  %slice = memref.subview %dst[0, 8] [4, 8] [1, 1]
      : memref<4x24xf32> to memref<4x8xf32, strided<[24, 1], offset: 8>>
  // expected-error @+1 {{'memref.copy' op copies a buffer that is not contiguous; run autopar-tile-loops-for-gpu first}}
  memref.copy %src, %slice
      : memref<4x8xf32> to memref<4x8xf32, strided<[24, 1], offset: 8>>
  return
}

// -----

// A splat of a type gpu.memset cannot fill (index) is copied from the host.
// CHECK-LABEL: func.func @index_splat
// CHECK: %[[G:.*]] = memref.get_global @ones : memref<4xindex>
// CHECK: %[[D:.*]] = gpu.alloc () : memref<4xindex>
// CHECK: gpu.memcpy %[[D]], %[[G]]
memref.global "private" constant @ones : memref<4xindex> = dense<1>
func.func @index_splat(%out: memref<index>) {
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %g = memref.get_global @ones : memref<4xindex>
  gpu.launch blocks(%bx, %by, %bz) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%tx, %ty, %tz) in (%u = %c1, %v = %c1, %w = %c1) {
    %a = memref.load %g[%c0] : memref<4xindex>
    memref.store %a, %out[] : memref<index>
    gpu.terminator
  }
  return
}
