// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{threads=100}))' -verify-diagnostics
// RUN: not autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{unroll=0}))' 2>&1 | FileCheck %s --check-prefix=UNROLL
// UNROLL: error: autopar-fuse-rows: unroll must be at least 1, not 0
// RUN: not autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{warp-row-length=-1}))' 2>&1 | FileCheck %s --check-prefix=WARP
// WARP: error: autopar-fuse-rows: warp-row-length must be at least 0, not -1
// RUN: not autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{long-row-threads=100}))' 2>&1 | FileCheck %s --check-prefix=LONG
// LONG: error: autopar-fuse-rows: long-row-threads must be 0 or a multiple of 32 in 32..1024, not 100
// RUN: not autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-fuse-rows{loads-first-bytes=-8}))' 2>&1 | FileCheck %s --check-prefix=LOADS
// LOADS: error: autopar-fuse-rows: loads-first-bytes must not be negative, not -8

// expected-error @+1 {{autopar-fuse-rows: threads must be a multiple of 32 in 32..1024, not 100}}
func.func @bad(%x: memref<8x1000xf32>, %out: memref<8xf32>) {
  return
}
