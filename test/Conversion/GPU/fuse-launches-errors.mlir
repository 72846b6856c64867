// RUN: autopar-opt %s --autopar-fuse-launches="param-bytes=10" --verify-diagnostics

// A budget that no kernel's parameters fit: an error, not a silent no-op.
// expected-error @+1 {{autopar-fuse-launches: param-bytes must be at least 64, not 10}}
func.func @budget(%a: memref<16xf32>) {
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c16, %sy = %c1, %sz = %c1) {
    memref.store %f, %a[%tx] : memref<16xf32>
    gpu.terminator
  }
  return
}
