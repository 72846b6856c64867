// RUN: autopar-opt %s -split-input-file --autopar-attention-to-calls | FileCheck %s
// RUN: autopar-opt %s -split-input-file --autopar-lower-to-cuda="host=false" | FileCheck %s --check-prefix=CUDA
// RUN: autopar-opt %s -split-input-file --autopar-lower-to-cuda="host=false fused-attention=false" | FileCheck %s --check-prefix=OFF

// A bf16 causal attention and its gradient over [2, 4, 100, 64]: calls on
// the operands' buffers viewed as [8, 100, 64], the results fresh buffers.
// The gradient's causality and scale differ from the attention's: it
// recomputes the statistics (no saved log-sum-exp).
// CHECK-DAG: func.func private @autopar_cuda_attention_forward_bf16(memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, f32, i32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @autopar_cuda_attention_backward_bf16(memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, f32, i32) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @step(
// CHECK: %[[Q:.*]] = autopar.reshape %arg0 : tensor<2x4x100x64xbf16> -> tensor<8x100x64xbf16>
// CHECK: bufferization.to_buffer %[[Q]] read_only : tensor<8x100x64xbf16> to memref<8x100x64xbf16>
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<8x100x64xbf16>
// CHECK: %[[SCALE:.*]] = arith.constant 1.250000e-01 : f32
// CHECK: %[[CAUSAL:.*]] = arith.constant 1 : i32
// CHECK: call @autopar_cuda_attention_forward_bf16({{.*}}, %[[SCALE]], %[[CAUSAL]])
// CHECK: bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: %[[S2:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: %[[NC:.*]] = arith.constant 0 : i32
// CHECK: call @autopar_cuda_attention_backward_bf16({{.*}}, %[[S2]], %[[NC]])
// CHECK-NOT: autopar.attention

// Through the CUDA pipeline the calls take device buffers; without
// fused-attention the attention is decomposed into products and kernels.
// CUDA-LABEL: func.func @step(
// CUDA: gpu.alloc async {{.*}} : memref<8x100x64xbf16>
// CUDA: call @autopar_cuda_attention_forward_bf16(
// CUDA: call @autopar_cuda_attention_backward_bf16(
// OFF-NOT: autopar_cuda_attention
// OFF: call @autopar_cuda_gemm_bf16
func.func @step(%q: tensor<2x4x100x64xbf16>, %k: tensor<2x4x100x64xbf16>, %g: tensor<2x4x100x64xbf16>)
    -> (tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>) {
  %o = autopar.attention %q, %k, %k {causal} : tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16> -> tensor<2x4x100x64xbf16>
  %d:3 = autopar.attention_grad %q, %k, %k, %o, %g {scale = 0.5 : f64} : tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>
  return %o, %d#0, %d#1, %d#2 : tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>
}

// -----

// The gradient of an attention converted too, with the same query, key,
// value, causality and scale (what autodiff makes): the forward call saves
// each row's log-sum-exp in an f32 [8, 100] buffer that the backward call
// reads instead of recomputing it. A second gradient of the same attention
// recomputes it (one saved buffer per forward call).
// CHECK-DAG: func.func private @autopar_cuda_attention_forward_lse_bf16(memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?xf32>, f32, i32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @autopar_cuda_attention_backward_lse_bf16(memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?xf32>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, memref<?x?x?xbf16>, f32, i32) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @paired(
// CHECK: %[[LSE:.*]] = memref.alloc() : memref<8x100xf32>
// CHECK: %[[LSEARG:.*]] = memref.cast %[[LSE]] : memref<8x100xf32> to memref<?x?xf32>
// CHECK: call @autopar_cuda_attention_forward_lse_bf16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[LSEARG]], %{{.*}}, %{{.*}})
// CHECK: %[[LSEARG2:.*]] = memref.cast %[[LSE]] : memref<8x100xf32> to memref<?x?xf32>
// CHECK: call @autopar_cuda_attention_backward_lse_bf16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[LSEARG2]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}})
// CHECK: call @autopar_cuda_attention_backward_bf16(
// CUDA-LABEL: func.func @paired(
// CUDA: %[[LSE:.*]] = gpu.alloc async {{.*}} : memref<8x100xf32>
// CUDA: call @autopar_cuda_attention_forward_lse_bf16(
// CUDA: call @autopar_cuda_attention_backward_lse_bf16(
func.func @paired(%q: tensor<2x4x100x64xbf16>, %k: tensor<2x4x100x64xbf16>, %v: tensor<2x4x100x64xbf16>, %g: tensor<2x4x100x64xbf16>)
    -> (tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>) {
  %o = autopar.attention %q, %k, %v {causal} : tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16> -> tensor<2x4x100x64xbf16>
  %d:3 = autopar.attention_grad %q, %k, %v, %o, %g {causal} : tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>
  %e:3 = autopar.attention_grad %q, %k, %v, %o, %d#0 {causal} : tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>
  return %o, %d#0, %d#1, %d#2, %e#0 : tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>, tensor<2x4x100x64xbf16>
}

// -----

// f16 and rank 3 (already [BH, S, D]): no reshape.
// CHECK-LABEL: func.func @half(
// CHECK-NOT: autopar.reshape
// CHECK: call @autopar_cuda_attention_forward_f16(
func.func @half(%q: tensor<4x16x32xf16>) -> tensor<4x16x32xf16> {
  %o = autopar.attention %q, %q, %q : tensor<4x16x32xf16>, tensor<4x16x32xf16>, tensor<4x16x32xf16> -> tensor<4x16x32xf16>
  return %o : tensor<4x16x32xf16>
}

// -----

// Left to the decomposition: f32, a mask, a head size without a kernel
// (16), and a value head size that differs from the query's.
// CHECK-LABEL: func.func @kept(
// CHECK-NOT: call
// CHECK-COUNT-4: autopar.attention
// CHECK-NOT: call
func.func @kept(%f: tensor<2x16x64xf32>, %b: tensor<2x16x64xbf16>, %m: tensor<2x16x16xbf16>,
                %h: tensor<2x16x16xbf16>, %v: tensor<2x16x32xbf16>)
    -> (tensor<2x16x64xf32>, tensor<2x16x64xbf16>, tensor<2x16x16xbf16>, tensor<2x16x32xbf16>) {
  %0 = autopar.attention %f, %f, %f : tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<2x16x64xf32> -> tensor<2x16x64xf32>
  %1 = autopar.attention %b, %b, %b mask %m : tensor<2x16x64xbf16>, tensor<2x16x64xbf16>, tensor<2x16x64xbf16>, tensor<2x16x16xbf16> -> tensor<2x16x64xbf16>
  %2 = autopar.attention %h, %h, %h : tensor<2x16x16xbf16>, tensor<2x16x16xbf16>, tensor<2x16x16xbf16> -> tensor<2x16x16xbf16>
  %3 = autopar.attention %b, %b, %v : tensor<2x16x64xbf16>, tensor<2x16x64xbf16>, tensor<2x16x32xbf16> -> tensor<2x16x32xbf16>
  return %0, %1, %2, %3 : tensor<2x16x64xf32>, tensor<2x16x64xbf16>, tensor<2x16x16xbf16>, tensor<2x16x32xbf16>
}
