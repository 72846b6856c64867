// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(autopar-decompose-composites))' | FileCheck %s

// CHECK-LABEL: func @softmax
// CHECK-SAME: (%[[X:.*]]: tensor<2x5xf32>)
// CHECK: %[[MAX:.*]] = autopar.reduce max %[[X]], dims = [1] : tensor<2x5xf32> -> tensor<2xf32>
// CHECK: %[[MAXB:.*]] = autopar.broadcast %[[MAX]], dims = [0] : tensor<2xf32> -> tensor<2x5xf32>
// CHECK: %[[SH:.*]] = autopar.sub %[[X]], %[[MAXB]]
// CHECK: %[[E:.*]] = autopar.exp %[[SH]]
// CHECK: %[[S:.*]] = autopar.reduce sum %[[E]], dims = [1]
// CHECK: %[[SB:.*]] = autopar.broadcast %[[S]], dims = [0]
// CHECK: %[[R:.*]] = autopar.div %[[E]], %[[SB]]
// CHECK: return %[[R]]
func.func @softmax(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %0 = autopar.softmax %x, axis = 1 : tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

// CHECK-LABEL: func @log_softmax
// CHECK: autopar.reduce max
// CHECK: %[[SH:.*]] = autopar.sub
// CHECK: autopar.exp
// CHECK: %[[S:.*]] = autopar.reduce sum
// CHECK: %[[L:.*]] = autopar.log %[[S]]
// CHECK: %[[LB:.*]] = autopar.broadcast %[[L]]
// CHECK: autopar.sub %[[SH]], %[[LB]]
func.func @log_softmax(%x: tensor<2x5xf32>) -> tensor<2x5xf32> {
  %0 = autopar.log_softmax %x, axis = 0 : tensor<2x5xf32>
  return %0 : tensor<2x5xf32>
}

// -----

// CHECK-LABEL: func @layer_norm
// CHECK-DAG: autopar.constant dense<9.99999974E-6> : tensor<2xf32>
// CHECK: autopar.reduce mean %{{.*}}, dims = [1, 2] : tensor<2x3x4xf32> -> tensor<2xf32>
// CHECK: autopar.sub
// CHECK: autopar.mul
// CHECK: autopar.reduce mean %{{.*}}, dims = [1, 2]
// CHECK: autopar.rsqrt
// CHECK: autopar.broadcast %{{.*}}, dims = [1, 2] : tensor<3x4xf32> -> tensor<2x3x4xf32>
// CHECK: autopar.add
func.func @layer_norm(%x: tensor<2x3x4xf32>, %g: tensor<3x4xf32>, %b: tensor<3x4xf32>) -> tensor<2x3x4xf32> {
  %0 = autopar.layer_norm %x, %g, %b, axis = 1, epsilon = 1.0e-5
      : tensor<2x3x4xf32>, tensor<3x4xf32> -> tensor<2x3x4xf32>
  return %0 : tensor<2x3x4xf32>
}

// -----

// CHECK-LABEL: func @rms_norm
// CHECK-NOT: autopar.rms_norm
// CHECK: autopar.reduce mean
// CHECK: autopar.rsqrt
func.func @rms_norm(%x: tensor<2x4xf32>, %g: tensor<4xf32>) -> tensor<2x4xf32> {
  %0 = autopar.rms_norm %x, %g, axis = 1, epsilon = 1.0e-6 : tensor<2x4xf32>, tensor<4xf32> -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// CHECK-LABEL: func @attention
// CHECK-DAG: autopar.constant dense<0.353553385> : tensor<2x4x6xf32>
// CHECK-DAG: autopar.constant dense<{{\[\[}}0.000000e+00, 0xFF800000, 0xFF800000
// CHECK: %[[S:.*]] = autopar.dot %{{.*}}, %{{.*}}, batch_dims = [0] x [0], contracting_dims = [2] x [2] : tensor<2x4x8xf32>, tensor<2x6x8xf32> -> tensor<2x4x6xf32>
// CHECK: autopar.mul
// CHECK: autopar.reduce max
// CHECK: autopar.dot %{{.*}}, %{{.*}}, batch_dims = [0] x [0], contracting_dims = [2] x [1] : tensor<2x4x6xf32>, tensor<2x6x8xf32> -> tensor<2x4x8xf32>
func.func @attention(%q: tensor<2x4x8xf32>, %k: tensor<2x6x8xf32>) -> tensor<2x4x8xf32> {
  %0 = autopar.attention %q, %k, %k {causal} : tensor<2x4x8xf32>, tensor<2x6x8xf32>, tensor<2x6x8xf32> -> tensor<2x4x8xf32>
  return %0 : tensor<2x4x8xf32>
}

// -----

// CHECK-LABEL: func @embedding
// CHECK: autopar.gather %{{.*}}, %{{.*}}, axis = 0 : tensor<10x4xf32>, tensor<3xi32> -> tensor<3x4xf32>
func.func @embedding(%t: tensor<10x4xf32>, %i: tensor<3xi32>) -> tensor<3x4xf32> {
  %0 = autopar.embedding %t, %i : tensor<10x4xf32>, tensor<3xi32> -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// The labels are clamped to the class ids, then compared with them in 32
// bits (the ids fit).
// CHECK-LABEL: func @cross_entropy
// CHECK-DAG: autopar.constant dense<[0, 1, 2, 3, 4]> : tensor<5xi32>
// CHECK-DAG: autopar.constant dense<3.000000e+00> : tensor<f32>
// CHECK: autopar.max
// CHECK: %[[CLAMPED:.*]] = autopar.min
// CHECK: autopar.convert %[[CLAMPED]] : tensor<3xi64> -> tensor<3xi32>
// CHECK: autopar.compare eq, {{.*}} : tensor<3x5xi32>
// CHECK: autopar.select
// Over the classes, then over the positions (each stage has parallel work).
// CHECK: autopar.reduce sum %{{.*}}, dims = [1] : tensor<3x5xf32> -> tensor<3xf32>
// CHECK: autopar.reduce sum %{{.*}}, dims = [0] : tensor<3xf32> -> tensor<f32>
// CHECK: autopar.div
// CHECK: autopar.neg
func.func @cross_entropy(%l: tensor<3x5xf32>, %y: tensor<3xi64>) -> tensor<f32> {
  %0 = autopar.cross_entropy %l, %y : tensor<3x5xf32>, tensor<3xi64> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// Labels of 32 bits or fewer are compared as they are.
// CHECK-LABEL: func @cross_entropy_i32
// CHECK: autopar.constant dense<[0, 1, 2, 3, 4]> : tensor<5xi32>
// CHECK-NOT: autopar.convert
// CHECK: autopar.compare eq, {{.*}} : tensor<3x5xi32>
func.func @cross_entropy_i32(%l: tensor<3x5xf32>, %y: tensor<3xi32>) -> tensor<f32> {
  %0 = autopar.cross_entropy %l, %y : tensor<3x5xf32>, tensor<3xi32> -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// CHECK-LABEL: func @linear
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x8xf32>, %[[W:.*]]: tensor<16x8xf32>, %[[B:.*]]: tensor<16xf32>)
// CHECK: %[[D:.*]] = autopar.dot %[[X]], %[[W]], batch_dims = [] x [], contracting_dims = [2] x [1] : tensor<2x3x8xf32>, tensor<16x8xf32> -> tensor<2x3x16xf32>
// CHECK: %[[BB:.*]] = autopar.broadcast %[[B]], dims = [2] : tensor<16xf32> -> tensor<2x3x16xf32>
// CHECK: autopar.add %[[D]], %[[BB]]
func.func @linear(%x: tensor<2x3x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>) -> tensor<2x3x16xf32> {
  %0 = autopar.linear %x, %w, %b {weight_transposed} : tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<16xf32> -> tensor<2x3x16xf32>
  return %0 : tensor<2x3x16xf32>
}

// -----

// attention_grad in bf16: P recomputed in f32 from the rounded scores,
// rounded to bf16 where it enters dV = P^T dO; dS = P (dP - rowsum(dP P))
// scale in f32, rounded once for dQ = dS K and dK = dS^T Q.
// CHECK-LABEL: func @attention_grad_bf16
// CHECK-SAME: (%[[Q:.*]]: tensor<2x4x8xbf16>, %[[DO:.*]]: tensor<2x4x8xbf16>)
// CHECK: %[[S:.*]] = autopar.dot %[[Q]], %[[Q]], batch_dims = [0] x [0], contracting_dims = [2] x [2] : {{.*}} -> tensor<2x4x4xbf16>
// CHECK: autopar.convert %[[S]] : tensor<2x4x4xbf16> -> tensor<2x4x4xf32>
// CHECK: %[[P:.*]] = autopar.div
// CHECK: %[[PN:.*]] = autopar.convert %[[P]] : tensor<2x4x4xf32> -> tensor<2x4x4xbf16>
// CHECK: %[[DV:.*]] = autopar.dot %[[PN]], %[[DO]], batch_dims = [0] x [0], contracting_dims = [1] x [1]
// CHECK: %[[DP:.*]] = autopar.dot %[[DO]], %[[Q]], batch_dims = [0] x [0], contracting_dims = [2] x [2]
// CHECK: %[[DPW:.*]] = autopar.convert %[[DP]]
// CHECK: %[[DPP:.*]] = autopar.mul %[[DPW]], %[[P]]
// CHECK: autopar.reduce sum %[[DPP]], dims = [2]
// CHECK: %[[DS:.*]] = autopar.convert %{{.*}} : tensor<2x4x4xf32> -> tensor<2x4x4xbf16>
// CHECK: %[[DQ:.*]] = autopar.dot %[[DS]], %[[Q]], batch_dims = [0] x [0], contracting_dims = [2] x [1]
// CHECK: %[[DK:.*]] = autopar.dot %[[DS]], %[[Q]], batch_dims = [0] x [0], contracting_dims = [1] x [1]
// CHECK: return %[[DQ]], %[[DK]], %[[DV]]
func.func @attention_grad_bf16(%q: tensor<2x4x8xbf16>, %do: tensor<2x4x8xbf16>) -> (tensor<2x4x8xbf16>, tensor<2x4x8xbf16>, tensor<2x4x8xbf16>) {
  %0:3 = autopar.attention_grad %q, %q, %q, %do, %do {causal} : tensor<2x4x8xbf16>, tensor<2x4x8xbf16>, tensor<2x4x8xbf16>, tensor<2x4x8xbf16>, tensor<2x4x8xbf16>
  return %0#0, %0#1, %0#2 : tensor<2x4x8xbf16>, tensor<2x4x8xbf16>, tensor<2x4x8xbf16>
}
