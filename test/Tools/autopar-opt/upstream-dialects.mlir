// autopar-opt knows the upstream dialects, passes and interface models autopar
// builds on: shard (with its sharding models for linalg), quant, gpu, nvvm,
// llvm, bufferization, scf, memref, math, tensor, linalg.
// RUN: autopar-opt %s | FileCheck %s
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(sharding-propagation))' | FileCheck %s --check-prefix=PROP

// CHECK: shard.grid @tp(shape = 2)
shard.grid @tp(shape = 2)

// CHECK-LABEL: func @sharded_matmul
// PROP-LABEL: func @sharded_matmul
// The column split of %w propagates to the matmul result.
// PROP: linalg.matmul
// PROP: shard.sharding @tp split_axes = {{\[\[}}], [0]]
func.func @sharded_matmul(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>) -> tensor<4x16xf32> {
  %s = shard.sharding @tp split_axes = [[], [0]] : !shard.sharding
  %ws = shard.shard %w to %s : tensor<8x16xf32>
  %z = tensor.empty() : tensor<4x16xf32>
  %r = linalg.matmul ins(%x, %ws : tensor<4x8xf32>, tensor<8x16xf32>)
                     outs(%z : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// CHECK-LABEL: func @quantized
// CHECK-SAME: !quant.uniform<i8:f32, 5.000000e-01:3>
func.func @quantized(%x: tensor<4x!quant.uniform<i8:f32, 0.5:3>>) -> tensor<4x!quant.uniform<i8:f32, 0.5:3>> {
  return %x : tensor<4x!quant.uniform<i8:f32, 0.5:3>>
}

// CHECK: gpu.module @kernels
gpu.module @kernels {
  // CHECK: gpu.func @scale
  gpu.func @scale(%buf: memref<16xf32>) kernel {
    %i = nvvm.read.ptx.sreg.tid.x : i32
    %c = arith.index_cast %i : i32 to index
    %v = memref.load %buf[%c] : memref<16xf32>
    %w = math.exp %v : f32
    memref.store %w, %buf[%c] : memref<16xf32>
    gpu.return
  }
}

// CHECK: llvm.func @external
llvm.func @external(i32) -> i32
