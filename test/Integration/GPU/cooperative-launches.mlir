// Kernels whose threads meet within their blocks run on the CPU through
// autopar-launches-to-loops as CUDA runs them: shuffles read the source
// lane's value (xor, down, up, idx, with shfl.sync's validity), threads
// are numbered x fastest in warps of 32, workgroup memory is each block's
// and a barrier orders its stores before the loads after it, a loop whose
// trip count differs between warps shuffles within each warp as long as
// that warp loops, a branch runs a shuffle for the warp that takes it, and
// gpu.all_reduce combines the whole block (named and region forms). The
// expected values are CUDA's semantics computed by hand (a Python model of
// each kernel, not this pass).
//
// RUN: autopar-opt %s --autopar-launches-to-loops --convert-scf-to-cf \
// RUN:     --expand-strided-metadata --finalize-memref-to-llvm \
// RUN:     --convert-arith-to-llvm --convert-index-to-llvm \
// RUN:     --convert-cf-to-llvm --convert-func-to-llvm \
// RUN:     --reconcile-unrealized-casts \
// RUN:   | mlir-runner -e main -entry-point-result=void \
// RUN:       -shared-libs=%llvm_lib/libmlir_runner_utils.so,%llvm_lib/libmlir_c_runner_utils.so \
// RUN:   | FileCheck %s

// Shuffles, blocks of 32 x 2 threads (warp = y), v = 1000 block + thread.
// CHECK-LABEL: xor 5
// CHECK: [5,  4,  7,  6,  1,  0,  3,  2,  13,  12,  15,  14,  9,  8,  11,  10,  21,  20,  23,  22,  17,  16,  19,  18,  29,  28,  31,  30,  25,  24,  27,  26,  37,  36,  39,  38,  33,  32,  35,  34,  45,  44,  47,  46,  41,  40,  43,  42,  53,  52,  55,  54,  49,  48,  51,  50,  61,  60,  63,  62,  57,  56,  59,  58,  1005,  1004,  1007,  1006,  1001,  1000,  1003,  1002,  1013,  1012,  1015,  1014,  1009,  1008,  1011,  1010,  1021,  1020,  1023,  1022,  1017,  1016,  1019,  1018,  1029,  1028,  1031,  1030,  1025,  1024,  1027,  1026,  1037,  1036,  1039,  1038,  1033,  1032,  1035,  1034,  1045,  1044,  1047,  1046,  1041,  1040,  1043,  1042,  1053,  1052,  1055,  1054,  1049,  1048,  1051,  1050,  1061,  1060,  1063,  1062,  1057,  1056,  1059,  1058]
// CHECK-LABEL: down 3
// CHECK: [3,  4,  5,  6,  7,  8,  9,  10,  11,  12,  13,  14,  15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,  31,  29,  30,  31,  35,  36,  37,  38,  39,  40,  41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51,  52,  53,  54,  55,  56,  57,  58,  59,  60,  61,  62,  63,  61,  62,  63,  1003,  1004,  1005,  1006,  1007,  1008,  1009,  1010,  1011,  1012,  1013,  1014,  1015,  1016,  1017,  1018,  1019,  1020,  1021,  1022,  1023,  1024,  1025,  1026,  1027,  1028,  1029,  1030,  1031,  1029,  1030,  1031,  1035,  1036,  1037,  1038,  1039,  1040,  1041,  1042,  1043,  1044,  1045,  1046,  1047,  1048,  1049,  1050,  1051,  1052,  1053,  1054,  1055,  1056,  1057,  1058,  1059,  1060,  1061,  1062,  1063,  1061,  1062,  1063]
// CHECK-LABEL: up 2
// CHECK: [0,  1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,  11,  12,  13,  14,  15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  32,  33,  32,  33,  34,  35,  36,  37,  38,  39,  40,  41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51,  52,  53,  54,  55,  56,  57,  58,  59,  60,  61,  1000,  1001,  1000,  1001,  1002,  1003,  1004,  1005,  1006,  1007,  1008,  1009,  1010,  1011,  1012,  1013,  1014,  1015,  1016,  1017,  1018,  1019,  1020,  1021,  1022,  1023,  1024,  1025,  1026,  1027,  1028,  1029,  1032,  1033,  1032,  1033,  1034,  1035,  1036,  1037,  1038,  1039,  1040,  1041,  1042,  1043,  1044,  1045,  1046,  1047,  1048,  1049,  1050,  1051,  1052,  1053,  1054,  1055,  1056,  1057,  1058,  1059,  1060,  1061]
// CHECK-LABEL: idx 7
// CHECK: [7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  39,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1007,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039,  1039]
// The valid flags: down's + 2 up's (down: lanes 29-31 invalid; up: 0-1).
// CHECK-LABEL: valid
// CHECK: [1,  1,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  2,  2,  2,  1,  1,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  2,  2,  2,  1,  1,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  2,  2,  2,  1,  1,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  2,  2,  2]

// Workgroup memory and barriers: each thread stores t * t + block, reads
// the element 63 - t after a barrier, stores it + 1 after another; thread 0
// sums the block's 64 after a third (sum t^2 for t < 64 = 85344, + 64
// blocks' worth of block and of 1).
// CHECK-LABEL: block sums
// CHECK: [85408,  85472]
// A loop from the warp's index to 3 (warp 0: 3 rounds, warp 1: 2), each
// round acc += shuffle xor 1 of acc + the round's index; acc starts at
// the lane.
// CHECK-LABEL: per-warp loops
// CHECK: [8,  8,  24,  24,  40,  40,  56,  56,  72,  72,  88,  88,  104,  104,  120,  120,  136,  136,  152,  152,  168,  168,  184,  184,  200,  200,  216,  216,  232,  232,  248,  248,  6,  6,  14,  14,  22,  22,  30,  30,  38,  38,  46,  46,  54,  54,  62,  62,  70,  70,  78,  78,  86,  86,  94,  94,  102,  102,  110,  110,  118,  118,  126,  126,  8,  8,  24,  24,  40,  40,  56,  56,  72,  72,  88,  88,  104,  104,  120,  120,  136,  136,  152,  152,  168,  168,  184,  184,  200,  200,  216,  216,  232,  232,  248,  248,  6,  6,  14,  14,  22,  22,  30,  30,  38,  38,  46,  46,  54,  54,  62,  62,  70,  70,  78,  78,  86,  86,  94,  94,  102,  102,  110,  110,  118,  118,  126,  126]
// Warp 1 takes the branch with the shuffle (idx 3: lane 3's acc, 13);
// warp 0 doubles its acc.
// CHECK-LABEL: branches
// CHECK: [16,  16,  48,  48,  80,  80,  112,  112,  144,  144,  176,  176,  208,  208,  240,  240,  272,  272,  304,  304,  336,  336,  368,  368,  400,  400,  432,  432,  464,  464,  496,  496,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  16,  16,  48,  48,  80,  80,  112,  112,  144,  144,  176,  176,  208,  208,  240,  240,  272,  272,  304,  304,  336,  336,  368,  368,  400,  400,  432,  432,  464,  464,  496,  496,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14,  14]

// gpu.all_reduce over blocks of 64, v = thread + 100 block: the sum
// (2016, 8416) and, by a region, the maximum (63, 163).
// CHECK-LABEL: all_reduce
// CHECK: [2016,  63,  8416,  163]

func.func private @printMemrefI64(memref<*xi64>)
func.func private @printString(!llvm.ptr)
func.func private @printNewline()

llvm.mlir.global internal constant @l_xor("xor 5\0A\00")
llvm.mlir.global internal constant @l_down("down 3\0A\00")
llvm.mlir.global internal constant @l_up("up 2\0A\00")
llvm.mlir.global internal constant @l_idx("idx 7\0A\00")
llvm.mlir.global internal constant @l_valid("valid\0A\00")
llvm.mlir.global internal constant @l_sums("block sums\0A\00")
llvm.mlir.global internal constant @l_loops("per-warp loops\0A\00")
llvm.mlir.global internal constant @l_branches("branches\0A\00")
llvm.mlir.global internal constant @l_reduce("all_reduce\0A\00")

func.func @show(%label: !llvm.ptr, %m: memref<?xi64>) {
  call @printString(%label) : (!llvm.ptr) -> ()
  %u = memref.cast %m : memref<?xi64> to memref<*xi64>
  call @printMemrefI64(%u) : (memref<*xi64>) -> ()
  return
}

func.func @main() {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %c128 = arith.constant 128 : index
  %i1 = arith.constant 1 : i32
  %i2 = arith.constant 2 : i32
  %i3 = arith.constant 3 : i32
  %i5 = arith.constant 5 : i32
  %i7 = arith.constant 7 : i32
  %i32 = arith.constant 32 : i32
  %xor = memref.alloc(%c128) : memref<?xi64>
  %down = memref.alloc(%c128) : memref<?xi64>
  %up = memref.alloc(%c128) : memref<?xi64>
  %idx = memref.alloc(%c128) : memref<?xi64>
  %valid = memref.alloc(%c128) : memref<?xi64>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c2, %sz = %c1) {
    %c1000 = arith.constant 1000 : index
    %row = arith.muli %ty, %sx : index
    %t = arith.addi %row, %tx : index
    %base = arith.muli %bx, %c1000 : index
    %vi = arith.addi %base, %t : index
    %v = arith.index_cast %vi : index to i32
    %at0 = arith.muli %bx, %c64 : index
    %at = arith.addi %at0, %t : index
    %r1, %ok1 = gpu.shuffle xor %v, %i5, %i32 : i32
    %r2, %ok2 = gpu.shuffle down %v, %i3, %i32 : i32
    %r3, %ok3 = gpu.shuffle up %v, %i2, %i32 : i32
    %r4, %ok4 = gpu.shuffle idx %v, %i7, %i32 : i32
    %w1 = arith.extsi %r1 : i32 to i64
    %w2 = arith.extsi %r2 : i32 to i64
    %w3 = arith.extsi %r3 : i32 to i64
    %w4 = arith.extsi %r4 : i32 to i64
    memref.store %w1, %xor[%at] : memref<?xi64>
    memref.store %w2, %down[%at] : memref<?xi64>
    memref.store %w3, %up[%at] : memref<?xi64>
    memref.store %w4, %idx[%at] : memref<?xi64>
    %f2 = arith.extui %ok2 : i1 to i64
    %f3 = arith.extui %ok3 : i1 to i64
    %f3x2 = arith.addi %f3, %f3 : i64
    %f = arith.addi %f2, %f3x2 : i64
    memref.store %f, %valid[%at] : memref<?xi64>
    gpu.terminator
  }
  %l0 = llvm.mlir.addressof @l_xor : !llvm.ptr
  call @show(%l0, %xor) : (!llvm.ptr, memref<?xi64>) -> ()
  %l1 = llvm.mlir.addressof @l_down : !llvm.ptr
  call @show(%l1, %down) : (!llvm.ptr, memref<?xi64>) -> ()
  %l2 = llvm.mlir.addressof @l_up : !llvm.ptr
  call @show(%l2, %up) : (!llvm.ptr, memref<?xi64>) -> ()
  %l3 = llvm.mlir.addressof @l_idx : !llvm.ptr
  call @show(%l3, %idx) : (!llvm.ptr, memref<?xi64>) -> ()
  %l4 = llvm.mlir.addressof @l_valid : !llvm.ptr
  call @show(%l4, %valid) : (!llvm.ptr, memref<?xi64>) -> ()

  %sums = memref.alloc(%c2) : memref<?xi64>
  %loops = memref.alloc(%c128) : memref<?xi64>
  %branches = memref.alloc(%c128) : memref<?xi64>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1)
             workgroup(%shared : memref<64xi64, #gpu.address_space<workgroup>>) {
    %c0 = arith.constant 0 : index
    %c3 = arith.constant 3 : index
    %c63 = arith.constant 63 : index
    %zero = arith.constant 0 : i64
    %one = arith.constant 1 : i64
    %two = arith.constant 2 : i64
    %sq = arith.muli %tx, %tx : index
    %xi = arith.addi %sq, %bx : index
    %x = arith.index_cast %xi : index to i64
    memref.store %x, %shared[%tx] : memref<64xi64, #gpu.address_space<workgroup>>
    gpu.barrier
    %mirror = arith.subi %c63, %tx : index
    %y = memref.load %shared[%mirror] : memref<64xi64, #gpu.address_space<workgroup>>
    gpu.barrier
    %y1 = arith.addi %y, %one : i64
    memref.store %y1, %shared[%tx] : memref<64xi64, #gpu.address_space<workgroup>>
    gpu.barrier
    %first = arith.cmpi eq, %tx, %c0 : index
    scf.if %first {
      %s = scf.for %i = %c0 to %c64 step %c1 iter_args(%acc = %zero) -> i64 {
        %e = memref.load %shared[%i] : memref<64xi64, #gpu.address_space<workgroup>>
        %n = arith.addi %acc, %e : i64
        scf.yield %n : i64
      }
      memref.store %s, %sums[%bx] : memref<?xi64>
    }
    %warp = arith.divui %tx, %c32 : index
    %lane = arith.remui %tx, %c32 : index
    %lane64 = arith.index_cast %lane : index to i64
    %acc = scf.for %i = %warp to %c3 step %c1 iter_args(%a = %lane64) -> i64 {
      %a32 = arith.trunci %a : i64 to i32
      %o, %ok = gpu.shuffle xor %a32, %i1, %i32 : i32
      %o64 = arith.extsi %o : i32 to i64
      %ii = arith.index_cast %i : index to i64
      %s0 = arith.addi %a, %o64 : i64
      %s1 = arith.addi %s0, %ii : i64
      scf.yield %s1 : i64
    }
    %at0 = arith.muli %bx, %c64 : index
    %at = arith.addi %at0, %tx : index
    memref.store %acc, %loops[%at] : memref<?xi64>
    %second = arith.cmpi eq, %warp, %c1 : index
    %r = scf.if %second -> i64 {
      %a32 = arith.trunci %acc : i64 to i32
      %o, %ok = gpu.shuffle idx %a32, %i3, %i32 : i32
      %o64 = arith.extsi %o : i32 to i64
      scf.yield %o64 : i64
    } else {
      %d = arith.muli %acc, %two : i64
      scf.yield %d : i64
    }
    memref.store %r, %branches[%at] : memref<?xi64>
    gpu.terminator
  }
  %l5 = llvm.mlir.addressof @l_sums : !llvm.ptr
  call @show(%l5, %sums) : (!llvm.ptr, memref<?xi64>) -> ()
  %l6 = llvm.mlir.addressof @l_loops : !llvm.ptr
  call @show(%l6, %loops) : (!llvm.ptr, memref<?xi64>) -> ()
  %l7 = llvm.mlir.addressof @l_branches : !llvm.ptr
  call @show(%l7, %branches) : (!llvm.ptr, memref<?xi64>) -> ()

  %reduced = memref.alloc(%c4) : memref<?xi64>
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1) {
    %c0 = arith.constant 0 : index
    %c100 = arith.constant 100 : index
    %b100 = arith.muli %bx, %c100 : index
    %vi = arith.addi %b100, %tx : index
    %v64 = arith.index_cast %vi : index to i64
    %v = arith.sitofp %v64 : i64 to f32
    %s = gpu.all_reduce add %v uniform {} : (f32) -> (f32)
    %m = gpu.all_reduce %v uniform {
    ^bb0(%lhs : f32, %rhs : f32):
      %mx = arith.maximumf %lhs, %rhs : f32
      gpu.yield %mx : f32
    } : (f32) -> (f32)
    %first = arith.cmpi eq, %tx, %c0 : index
    scf.if %first {
      %at = arith.muli %bx, %c2 : index
      %at1 = arith.addi %at, %c1 : index
      %si = arith.fptosi %s : f32 to i64
      %mi = arith.fptosi %m : f32 to i64
      memref.store %si, %reduced[%at] : memref<?xi64>
      memref.store %mi, %reduced[%at1] : memref<?xi64>
    }
    gpu.terminator
  }
  %l8 = llvm.mlir.addressof @l_reduce : !llvm.ptr
  call @show(%l8, %reduced) : (!llvm.ptr, memref<?xi64>) -> ()
  return
}
