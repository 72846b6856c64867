// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(convert-autopar-to-linalg,autopar-narrow-contractions))' -verify-diagnostics | FileCheck %s

// A bf16 product: the contraction reads the bf16 tensors and widens each
// element in its body; the f32 copies are gone, the rounding of the result
// stays.
// CHECK-LABEL: func.func @bf16
// CHECK: %[[A:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<4x8xf32>) outs(%{{.*}} : tensor<4x8xbf16>)
// CHECK: %[[B:.*]] = linalg.generic {{.*}} ins(%arg1 : tensor<8x3xf32>) outs(%{{.*}} : tensor<8x3xbf16>)
// CHECK-NOT: tensor<4x8xf32>)
// CHECK: %[[C:.*]] = linalg.generic {{.*}} ins(%[[A]], %[[B]] : tensor<4x8xbf16>, tensor<8x3xbf16>) outs(%{{.*}} : tensor<4x3xf32>)
// CHECK-NEXT: ^bb0(%[[X:.*]]: bf16, %[[Y:.*]]: bf16, %[[ACC:.*]]: f32):
// CHECK-NEXT: %[[XW:.*]] = arith.extf %[[X]] : bf16 to f32
// CHECK-NEXT: %[[YW:.*]] = arith.extf %[[Y]] : bf16 to f32
// CHECK-NEXT: %[[P:.*]] = arith.mulf %[[XW]], %[[YW]] : f32
// CHECK-NEXT: arith.addf %[[ACC]], %[[P]] : f32
// CHECK: linalg.generic {{.*}} ins(%[[C]] : tensor<4x3xf32>) outs(%{{.*}} : tensor<4x3xbf16>)
// CHECK: arith.truncf
func.func @bf16(%a: tensor<4x8xf32>, %b: tensor<8x3xf32>) -> tensor<4x3xbf16> {
  %ah = autopar.convert %a : tensor<4x8xf32> -> tensor<4x8xbf16>
  %bh = autopar.convert %b : tensor<8x3xf32> -> tensor<8x3xbf16>
  %c = autopar.dot %ah, %bh, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x8xbf16>, tensor<8x3xbf16> -> tensor<4x3xbf16>
  return %c : tensor<4x3xbf16>
}

// -----

// f16 the same; a widened copy that something else reads stays for it.
// CHECK-LABEL: func.func @f16_shared
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<4x4xf16>) outs(%{{.*}} : tensor<4x4xf32>)
// CHECK: linalg.generic {{.*}} ins(%arg0, %arg0 : tensor<4x4xf16>, tensor<4x4xf16>) outs(%{{.*}} : tensor<4x4xf32>)
// CHECK: return %{{.*}}, %[[W]]
func.func @f16_shared(%a: tensor<4x4xf16>) -> (tensor<4x4xf32>, tensor<4x4xf32>) {
  %w = autopar.convert %a : tensor<4x4xf16> -> tensor<4x4xf32>
  %c = autopar.dot %w, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  return %c, %w : tensor<4x4xf32>, tensor<4x4xf32>
}

// -----

// Left alone: one operand not a widened copy, or two of different narrow
// types, or a plain f32 product.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-3: ins(%{{.*}}, %{{.*}} : tensor<4x4xf32>, tensor<4x4xf32>)
func.func @kept(%a: tensor<4x4xbf16>, %b: tensor<4x4xf32>, %h: tensor<4x4xf16>) -> (tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>) {
  %aw = autopar.convert %a : tensor<4x4xbf16> -> tensor<4x4xf32>
  %hw = autopar.convert %h : tensor<4x4xf16> -> tensor<4x4xf32>
  %0 = autopar.dot %aw, %b, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  %1 = autopar.dot %aw, %hw, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  %2 = autopar.dot %b, %b, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x4xf32>
  return %0, %1, %2 : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32>
}
