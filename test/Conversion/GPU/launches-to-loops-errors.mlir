// RUN: autopar-opt %s --autopar-launches-to-loops --verify-diagnostics

// Threads that meet at a barrier cannot run as the iterations of a loop.
func.func @barrier(%a: memref<16xf32>) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  // expected-error-re @+1 {{{{.*}}autopar-launches-to-loops: the launch's threads are not independent}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    memref.store %f, %a[%tx] : memref<16xf32>
    // expected-note @+1 {{here: gpu.barrier}}
    gpu.barrier
    gpu.terminator
  }
  return
}
