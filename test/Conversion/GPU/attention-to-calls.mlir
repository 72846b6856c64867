// RUN: autopar-opt %s -split-input-file --autopar-attention-to-calls | FileCheck %s
// RUN: autopar-opt %s -split-input-file --autopar-lower-to-cuda="host=false" | FileCheck %s --check-prefix=CUDA
// RUN: autopar-opt %s -split-input-file --autopar-lower-to-cuda="host=false fused-attention=false" | FileCheck %s --check-prefix=OFF

// A bf16 causal attention and its gradient over [2, 4, 100, 64]: calls on
// the operands' buffers as [batch, heads, positions, head size] memrefs
// with any strides; each result a fresh [2, 100, 4, 64] buffer (positions
// before heads, as a model's projections read it) that the kernels write
// through a transposed view, its readers here a transpose back.
// The gradient's causality and scale differ from the attention's: it
// recomputes the statistics (no saved log-sum-exp).
// CHECK-DAG: func.func private @autopar_cuda_attention_forward_bf16(memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, f32, i32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @autopar_cuda_attention_backward_bf16(memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>, f32, i32) attributes {llvm.emit_c_interface}
// CHECK-LABEL: func.func @step(
// CHECK: %[[Q:.*]] = bufferization.to_buffer %arg0 read_only : tensor<2x4x100x64xbf16> to memref<2x4x100x64xbf16>
// CHECK: memref.cast %[[Q]] : memref<2x4x100x64xbf16> to memref<?x?x?x?xbf16, strided<[?, ?, ?, 1], offset: ?>>
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<2x100x4x64xbf16>
// CHECK: memref.transpose %[[OUT]] (d0, d1, d2, d3) -> (d0, d2, d1, d3) : memref<2x100x4x64xbf16> to memref<2x4x100x64xbf16, strided<[25600, 64, 256, 1]>>
// CHECK: %[[SCALE:.*]] = arith.constant 1.250000e-01 : f32
// CHECK: %[[CAUSAL:.*]] = arith.constant 1 : i32
// CHECK: call @autopar_cuda_attention_forward_bf16({{.*}}, %[[SCALE]], %[[CAUSAL]])
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[OUT]] restrict writable
// CHECK: %[[O:.*]] = autopar.transpose %[[T]], perm = [0, 2, 1, 3] : tensor<2x100x4x64xbf16> -> tensor<2x4x100x64xbf16>
// The gradient reads the output through the same view, not the transpose.
// CHECK: %[[TB:.*]] = bufferization.to_buffer %[[T]] read_only : tensor<2x100x4x64xbf16> to memref<2x100x4x64xbf16>
// CHECK: memref.transpose %[[TB]]
// CHECK: %[[S2:.*]] = arith.constant 5.000000e-01 : f32
// CHECK: %[[NC:.*]] = arith.constant 0 : i32
// CHECK: call @autopar_cuda_attention_backward_bf16({{.*}}, %[[S2]], %[[NC]])
// CHECK: return %[[O]],
// CHECK-NOT: autopar.attention

// Through the CUDA pipeline the calls take device buffers; without
// fused-attention the attention is decomposed into products and kernels.
// CUDA-LABEL: func.func @step(
// CUDA: gpu.alloc async {{.*}} : memref<2x100x4x64xbf16>
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
// CHECK-DAG: func.func private @autopar_cuda_attention_forward_lse_bf16({{.*}}, memref<?x?xf32>, f32, i32) attributes {llvm.emit_c_interface}
// CHECK-DAG: func.func private @autopar_cuda_attention_backward_lse_bf16({{.*}}, memref<?x?xf32>, {{.*}}, f32, i32) attributes {llvm.emit_c_interface}
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

// f16 and rank 3 ([BH, S, D]): viewed as [1, BH, S, D], the result a
// [1, 4, 16, 32] buffer reshaped back.
// CHECK-LABEL: func.func @half(
// CHECK: autopar.reshape %arg0 : tensor<4x16x32xf16> -> tensor<1x4x16x32xf16>
// CHECK: memref.alloc() : memref<1x4x16x32xf16>
// CHECK-NOT: memref.transpose
// CHECK: call @autopar_cuda_attention_forward_f16(
// CHECK: autopar.reshape %{{.*}} : tensor<1x4x16x32xf16> -> tensor<4x16x32xf16>
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

// -----

// A model's attention: query, key and value cut from one projection and
// split into heads ([2, 16, 2, 64] transposed to [2, 2, 16, 64], rounded to
// bf16), the output transposed back and flattened for the next product.
// The kernels read the projection's heads and write the output in place of
// every transpose: the projection is rounded once, whole, and viewed as
// [2, 16, 3, 2, 64], each operand a slice of it transposed; no transpose
// stays.
// CHECK-LABEL: func.func @interleaved(
// CHECK-NOT: autopar.transpose
// CHECK: %[[R:.*]] = autopar.convert %arg0 : tensor<2x16x384xf32> -> tensor<2x16x384xbf16>
// CHECK-NOT: autopar.convert
// CHECK: %[[B:.*]] = bufferization.to_buffer %[[R]] read_only
// CHECK: %[[E:.*]] = memref.expand_shape %[[B]] {{\[\[}}0], [1], [2, 3, 4]] output_shape [2, 16, 3, 2, 64]
// CHECK: memref.subview %[[E]][0, 0, 0, 0, 0] [2, 16, 1, 2, 64] [1, 1, 1, 1, 1]
// CHECK: memref.transpose %{{.*}} (d0, d1, d2, d3) -> (d0, d2, d1, d3) : memref<2x16x2x64xbf16, strided<[6144, 384, 64, 1]>> to memref<2x2x16x64xbf16, strided<[6144, 64, 384, 1]>>
// CHECK: memref.subview %{{.*}}[0, 0, 1, 0, 0]
// CHECK: memref.subview %{{.*}}[0, 0, 2, 0, 0]
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<2x16x2x64xbf16>
// CHECK: call @autopar_cuda_attention_forward_bf16(
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[OUT]] restrict writable : memref<2x16x2x64xbf16> to tensor<2x16x2x64xbf16>
// CHECK-NOT: autopar.transpose
// CHECK-NOT: autopar.convert
// CHECK: %[[FLAT:.*]] = autopar.reshape %[[T]] : tensor<2x16x2x64xbf16> -> tensor<2x16x128xbf16>
// CHECK: return %[[FLAT]]
func.func @interleaved(%qkv: tensor<2x16x384xf32>) -> tensor<2x16x128xbf16> {
  %qs = autopar.slice %qkv, start = [0, 0, 0], limit = [2, 16, 128], strides = [1, 1, 1] : tensor<2x16x384xf32> -> tensor<2x16x128xf32>
  %qr = autopar.reshape %qs : tensor<2x16x128xf32> -> tensor<2x16x2x64xf32>
  %qt = autopar.transpose %qr, perm = [0, 2, 1, 3] : tensor<2x16x2x64xf32> -> tensor<2x2x16x64xf32>
  %q = autopar.convert %qt : tensor<2x2x16x64xf32> -> tensor<2x2x16x64xbf16>
  %ks = autopar.slice %qkv, start = [0, 0, 128], limit = [2, 16, 256], strides = [1, 1, 1] : tensor<2x16x384xf32> -> tensor<2x16x128xf32>
  %kr = autopar.reshape %ks : tensor<2x16x128xf32> -> tensor<2x16x2x64xf32>
  %kt = autopar.transpose %kr, perm = [0, 2, 1, 3] : tensor<2x16x2x64xf32> -> tensor<2x2x16x64xf32>
  %k = autopar.convert %kt : tensor<2x2x16x64xf32> -> tensor<2x2x16x64xbf16>
  %vs = autopar.slice %qkv, start = [0, 0, 256], limit = [2, 16, 384], strides = [1, 1, 1] : tensor<2x16x384xf32> -> tensor<2x16x128xf32>
  %vr = autopar.reshape %vs : tensor<2x16x128xf32> -> tensor<2x16x2x64xf32>
  %vt = autopar.transpose %vr, perm = [0, 2, 1, 3] : tensor<2x16x2x64xf32> -> tensor<2x2x16x64xf32>
  %v = autopar.convert %vt : tensor<2x2x16x64xf32> -> tensor<2x2x16x64xbf16>
  %o = autopar.attention %q, %k, %v {causal} : tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16> -> tensor<2x2x16x64xbf16>
  %ow = autopar.convert %o : tensor<2x2x16x64xbf16> -> tensor<2x2x16x64xf32>
  %ot = autopar.transpose %ow, perm = [0, 2, 1, 3] : tensor<2x2x16x64xf32> -> tensor<2x16x2x64xf32>
  %on = autopar.convert %ot : tensor<2x16x2x64xf32> -> tensor<2x16x2x64xbf16>
  %of = autopar.reshape %on : tensor<2x16x2x64xbf16> -> tensor<2x16x128xbf16>
  return %of : tensor<2x16x128xbf16>
}

// -----

// The gradient's side: the output's gradient arrives as a bf16 product
// widened, split into heads and rounded again (read as it is), and dq, dk,
// dv go widened and transposed into one concatenation, the projection's
// gradient: the kernels write them into one [2, 16, 3, 2, 64] buffer that
// stands for the concatenation (widened for the bias gradient's sum; the
// product reads it as it is).
// CHECK-LABEL: func.func @concatenated(
// CHECK: %[[DO:.*]] = autopar.reshape %arg4 : tensor<2x16x128xbf16> -> tensor<2x16x2x64xbf16>
// CHECK: bufferization.to_buffer %[[DO]] read_only
// CHECK: %[[ALL:.*]] = memref.alloc() : memref<2x16x3x2x64xbf16>
// CHECK: memref.subview %[[ALL]][0, 0, 0, 0, 0] [2, 16, 1, 2, 64] [1, 1, 1, 1, 1]
// CHECK: memref.subview %[[ALL]][0, 0, 1, 0, 0] [2, 16, 1, 2, 64] [1, 1, 1, 1, 1]
// CHECK: memref.subview %[[ALL]][0, 0, 2, 0, 0] [2, 16, 1, 2, 64] [1, 1, 1, 1, 1]
// CHECK: call @autopar_cuda_attention_backward_bf16(
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[ALL]] restrict writable
// CHECK: %[[FLAT:.*]] = autopar.reshape %[[T]] : tensor<2x16x3x2x64xbf16> -> tensor<2x16x384xbf16>
// CHECK: %[[WIDE:.*]] = autopar.convert %[[FLAT]] : tensor<2x16x384xbf16> -> tensor<2x16x384xf32>
// CHECK-NOT: autopar.concat
// CHECK-NOT: autopar.transpose
// CHECK: %[[SUM:.*]] = autopar.reduce sum %[[WIDE]]
// CHECK: return %[[SUM]], %[[FLAT]]
func.func @concatenated(%q: tensor<2x2x16x64xbf16>, %k: tensor<2x2x16x64xbf16>, %v: tensor<2x2x16x64xbf16>,
                        %o: tensor<2x2x16x64xbf16>, %g: tensor<2x16x128xbf16>) -> (tensor<384xf32>, tensor<2x16x384xbf16>) {
  %gr = autopar.reshape %g : tensor<2x16x128xbf16> -> tensor<2x16x2x64xbf16>
  %gw = autopar.convert %gr : tensor<2x16x2x64xbf16> -> tensor<2x16x2x64xf32>
  %gt = autopar.transpose %gw, perm = [0, 2, 1, 3] : tensor<2x16x2x64xf32> -> tensor<2x2x16x64xf32>
  %dout = autopar.convert %gt : tensor<2x2x16x64xf32> -> tensor<2x2x16x64xbf16>
  %d:3 = autopar.attention_grad %q, %k, %v, %o, %dout {causal} : tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>
  %dvw = autopar.convert %d#2 : tensor<2x2x16x64xbf16> -> tensor<2x2x16x64xf32>
  %dkw = autopar.convert %d#1 : tensor<2x2x16x64xbf16> -> tensor<2x2x16x64xf32>
  %dqw = autopar.convert %d#0 : tensor<2x2x16x64xbf16> -> tensor<2x2x16x64xf32>
  %dvt = autopar.transpose %dvw, perm = [0, 2, 1, 3] : tensor<2x2x16x64xf32> -> tensor<2x16x2x64xf32>
  %dvf = autopar.reshape %dvt : tensor<2x16x2x64xf32> -> tensor<2x16x128xf32>
  %dkt = autopar.transpose %dkw, perm = [0, 2, 1, 3] : tensor<2x2x16x64xf32> -> tensor<2x16x2x64xf32>
  %dkf = autopar.reshape %dkt : tensor<2x16x2x64xf32> -> tensor<2x16x128xf32>
  %dqt = autopar.transpose %dqw, perm = [0, 2, 1, 3] : tensor<2x2x16x64xf32> -> tensor<2x16x2x64xf32>
  %dqf = autopar.reshape %dqt : tensor<2x16x2x64xf32> -> tensor<2x16x128xf32>
  %cat = autopar.concat(%dqf, %dkf, %dvf) dim = 2 : tensor<2x16x128xf32>, tensor<2x16x128xf32>, tensor<2x16x128xf32> -> tensor<2x16x384xf32>
  %sum = autopar.reduce sum %cat, dims = [0, 1] : tensor<2x16x384xf32> -> tensor<384xf32>
  %narrow = autopar.convert %cat : tensor<2x16x384xf32> -> tensor<2x16x384xbf16>
  return %sum, %narrow : tensor<384xf32>, tensor<2x16x384xbf16>
}

// -----

// An output read both transposed back and as it is: the transposing reader
// reads the [2, 16, 2, 64] buffer, the other a transpose of it. A gradient
// whose dq is read elsewhere too: no concatenation buffer, each result its
// own.
// CHECK-LABEL: func.func @mixed(
// CHECK: %[[OUT:.*]] = memref.alloc() : memref<2x16x2x64xbf16>
// CHECK: call @autopar_cuda_attention_forward_bf16(
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[OUT]]
// CHECK: %[[BACK:.*]] = autopar.transpose %[[T]], perm = [0, 2, 1, 3] : tensor<2x16x2x64xbf16> -> tensor<2x2x16x64xbf16>
// CHECK-NOT: memref.subview
// CHECK: call @autopar_cuda_attention_backward_bf16(
// CHECK: return %[[T]], %[[BACK]], %{{.*}}, %{{.*}}
func.func @mixed(%q: tensor<2x2x16x64xbf16>, %g: tensor<2x2x16x64xbf16>)
    -> (tensor<2x16x2x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x16x384xf32>, tensor<2x2x16x64xbf16>) {
  %o = autopar.attention %q, %q, %q {causal} : tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16> -> tensor<2x2x16x64xbf16>
  %ot = autopar.transpose %o, perm = [0, 2, 1, 3] : tensor<2x2x16x64xbf16> -> tensor<2x16x2x64xbf16>
  %d:3 = autopar.attention_grad %q, %q, %q, %o, %g : tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>
  %f = autopar.convert %d#0 : tensor<2x2x16x64xbf16> -> tensor<2x2x16x64xf32>
  %dvt = autopar.transpose %f, perm = [0, 2, 1, 3] : tensor<2x2x16x64xf32> -> tensor<2x16x2x64xf32>
  %dvf = autopar.reshape %dvt : tensor<2x16x2x64xf32> -> tensor<2x16x128xf32>
  %cat = autopar.concat(%dvf, %dvf, %dvf) dim = 2 : tensor<2x16x128xf32>, tensor<2x16x128xf32>, tensor<2x16x128xf32> -> tensor<2x16x384xf32>
  return %ot, %o, %cat, %d#0 : tensor<2x16x2x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x16x384xf32>, tensor<2x2x16x64xbf16>
}

// -----

// Heads transposed from a tensor that is not a slice of a projection: that
// tensor rounded and viewed transposed.
// CHECK-LABEL: func.func @split(
// CHECK: %[[R:.*]] = autopar.convert %arg0 : tensor<2x16x2x64xf32> -> tensor<2x16x2x64xbf16>
// CHECK: %[[B:.*]] = bufferization.to_buffer %[[R]] read_only : tensor<2x16x2x64xbf16> to memref<2x16x2x64xbf16>
// CHECK: memref.transpose %[[B]] (d0, d1, d2, d3) -> (d0, d2, d1, d3)
// CHECK: call @autopar_cuda_attention_forward_bf16(
// CHECK-NOT: autopar.transpose
func.func @split(%x: tensor<2x16x2x64xf32>) -> tensor<2x16x2x64xbf16> {
  %t = autopar.transpose %x, perm = [0, 2, 1, 3] : tensor<2x16x2x64xf32> -> tensor<2x2x16x64xf32>
  %q = autopar.convert %t : tensor<2x2x16x64xf32> -> tensor<2x2x16x64xbf16>
  %o = autopar.attention %q, %q, %q {causal} : tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16> -> tensor<2x2x16x64xbf16>
  %ot = autopar.transpose %o, perm = [0, 2, 1, 3] : tensor<2x2x16x64xbf16> -> tensor<2x16x2x64xbf16>
  return %ot : tensor<2x16x2x64xbf16>
}
