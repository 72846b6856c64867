// RUN: autopar-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu))'
// RUN: not autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu{threads=2048}))' 2>&1 | FileCheck %s --check-prefix=THREADS
// THREADS: error: autopar-tile-loops-for-gpu: threads must be in 1..1024, not 2048
// RUN: not autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu{rows-per-thread=0}))' 2>&1 | FileCheck %s --check-prefix=ROWS
// ROWS: error: autopar-tile-loops-for-gpu: rows-per-thread must be at least 1, not 0
// RUN: not autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-tile-loops-for-gpu{vector-bytes=12}))' 2>&1 | FileCheck %s --check-prefix=VECTOR
// VECTOR: error: autopar-tile-loops-for-gpu: vector-bytes must be 0 or a power of two in 2..64, not 12

// A value read on the host from a buffer and returned cannot move to the
// device.
func.func @host_value(%a: memref<4xf32>, %b: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  %x = memref.load %a[%c0] : memref<4xf32>
  // expected-error @+1 {{'func.return' op uses a value computed on the host from a buffer in device memory}}
  return %x : f32
}

// -----

// A value from device memory feeding a call cannot move with it.
func.func private @consume(f32)
func.func @host_call(%a: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %x = memref.load %a[%c0] : memref<4xf32>
  // expected-error @+1 {{'func.call' op uses a value computed on the host from a buffer in device memory}}
  func.call @consume(%x) : (f32) -> ()
  return
}
