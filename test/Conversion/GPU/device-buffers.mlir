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
