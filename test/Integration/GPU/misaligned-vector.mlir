// A kernel's 16-byte vector access must start a multiple of 16 bytes into
// its buffer: the GPU faults otherwise (a misaligned address), while a CPU
// reads it anyway. autopar-launches-to-loops asserts it before each
// vector load and store (check-alignment, the default), so a rewrite that
// picks vectors where the layout does not allow them fails on the CPU.
//
// DEFINE: %{lower} = --convert-scf-to-cf --expand-strided-metadata \
// DEFINE:   --convert-vector-to-llvm --finalize-memref-to-llvm \
// DEFINE:   --convert-arith-to-llvm --convert-index-to-llvm \
// DEFINE:   --convert-cf-to-llvm --convert-func-to-llvm \
// DEFINE:   --reconcile-unrealized-casts
// DEFINE: %{run} = mlir-runner -e main -entry-point-result=void \
// DEFINE:   -shared-libs=%llvm_lib/libmlir_runner_utils.so,%llvm_lib/libmlir_c_runner_utils.so
//
// Element 4 of a buffer of floats (16 bytes in): aligned, the sum of the
// four elements read (4+5+6+7).
// RUN: sed 's/START/4/' %s | autopar-opt --autopar-launches-to-loops %{lower} | %{run} | FileCheck %s --check-prefix=OK
// OK: 22
// Element 1 (4 bytes in): the assertion stops the run, naming the access
// (cf.assert's message goes to stdout before the abort: line-buffered
// here so that the abort does not drop it).
// RUN: sed 's/START/1/' %s | autopar-opt --autopar-launches-to-loops %{lower} | not --crash stdbuf -oL %{run} | FileCheck %s --check-prefix=BAD
// BAD: autopar-launches-to-loops: a vector vector.load of 16 bytes at a byte offset into its buffer that is not a multiple of 16 (on the GPU: a misaligned address)
// Without the check the CPU reads it (1+2+3+4).
// RUN: sed 's/START/1/' %s | autopar-opt --autopar-launches-to-loops=check-alignment=false %{lower} | %{run} | FileCheck %s --check-prefix=UNCHECKED
// UNCHECKED: 10

func.func private @printF32(f32)
func.func private @printNewline()

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %start = arith.constant START : index
  %zero = arith.constant 0.0 : f32
  %a = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
  %sum = memref.alloc() : memref<1xf32>
  scf.for %i = %c0 to %c16 step %c1 {
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    memref.store %f, %a[%i] : memref<16xf32>
  }
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %v = vector.load %a[%start] {alignment = 16 : i64} : memref<16xf32>, vector<4xf32>
    %s = vector.reduction <add>, %v : vector<4xf32> into f32
    memref.store %s, %sum[%tx] : memref<1xf32>
    gpu.terminator
  }
  %r = memref.load %sum[%c0] : memref<1xf32>
  call @printF32(%r) : (f32) -> ()
  call @printNewline() : () -> ()
  return
}
