// RUN: autopar-opt %s -split-input-file --autopar-partition-tensor-parallel="tp=2 sp=true" -verify-diagnostics | FileCheck %s
// RUN: autopar-opt %s -split-input-file --autopar-partition-tensor-parallel="tp=2 sp=true" -verify-diagnostics | awk '/^\/\/ -----/{stop=1} !stop' | autopar-opt --autopar-autodiff="entry=loss name=grad" | FileCheck %s --check-prefix=GRAD

// Two pre-norm MLP blocks with residuals, under sequence parallelism. The
// first block reads whole inputs (they arrive whole), so it enters through
// grad_all_reduce; every block's output is reduce-scattered along the
// sequence (dimension 1) instead of all-reduced, and its bias added to the
// local tokens (the bias's cotangent summed over the group). Whole values
// meeting the split stream are cut (local_slice); the second layer norm
// runs on the local tokens (its parameters' cotangents summed), and the
// second block's input is all-gathered (partial_grad: its VJP
// reduce-scatters). The loss gathers the sequence back; no all-reduce is
// left in the forward pass.
// CHECK-LABEL: func.func @loss
// CHECK: %[[N:.*]] = autopar.layer_norm %arg0, %arg2, %arg3, {{.*}} -> tensor<2x8x16xf32>
// CHECK: autopar.grad_all_reduce %[[N]]
// CHECK: autopar.gelu
// CHECK: %[[P:.*]] = autopar.linear {{.*}} -> tensor<2x8x16xf32>
// CHECK: %[[RS:.*]] = autopar.reduce_scatter %[[P]] on @autopar_grid grid_axes = [1] dim = 1 : tensor<2x8x16xf32> -> tensor<2x4x16xf32>
// CHECK: %[[BB:.*]] = autopar.grad_all_reduce %arg7
// CHECK: %[[W:.*]] = autopar.broadcast %[[BB]], dims = [2] : tensor<16xf32> -> tensor<2x4x16xf32>
// CHECK: %[[O:.*]] = autopar.add %[[RS]], %[[W]] : tensor<2x4x16xf32>
// CHECK: %[[X:.*]] = autopar.local_slice %arg0 on @autopar_grid grid_axes = [1] dim = 1 : tensor<2x8x16xf32> -> tensor<2x4x16xf32>
// CHECK: %[[R:.*]] = autopar.add %[[X]], %[[O]] : tensor<2x4x16xf32>
// CHECK: %[[G2:.*]] = autopar.grad_all_reduce %arg8
// CHECK: %[[B2:.*]] = autopar.grad_all_reduce %arg9
// CHECK: %[[N2:.*]] = autopar.layer_norm %[[R]], %[[G2]], %[[B2]], {{.*}} : tensor<2x4x16xf32>, tensor<16xf32> -> tensor<2x4x16xf32>
// CHECK: %[[N3:.*]] = autopar.all_gather %[[N2]] on @autopar_grid grid_axes = [1] dim = 1 {partial_grad} : tensor<2x4x16xf32> -> tensor<2x8x16xf32>
// CHECK: autopar.linear %[[N3]]
// CHECK: autopar.gelu
// CHECK: %[[P2:.*]] = autopar.linear
// CHECK: autopar.reduce_scatter %[[P2]] on @autopar_grid grid_axes = [1] dim = 1
// CHECK: autopar.local_slice %arg1
// CHECK: %[[L:.*]] = autopar.all_gather %{{.*}} on @autopar_grid grid_axes = [1] dim = 1 : tensor<2x4x16xf32> -> tensor<2x8x16xf32>
// CHECK: autopar.reduce sum %[[L]]
// CHECK-NOT: autopar.all_reduce
// CHECK: return
//
// In the backward pass the transposes: the loss's gather becomes a
// local_slice, each block's reduce-scatter an all-gather, the second
// block's gather a reduce-scatter, the cut of the inputs an all-gather;
// the grad_all_reduces of the norm and bias parameters and of the first
// block's input become all-reduces.
// GRAD-LABEL: func.func @grad
// GRAD: autopar.all_gather %{{.*}} dim = 1 {partial_grad}
// GRAD: autopar.local_slice %{{.*}} dim = 1
// GRAD: autopar.all_gather %{{.*}} dim = 1 :
// GRAD: autopar.reduce_scatter %{{.*}} dim = 1
// GRAD: autopar.all_gather %{{.*}} dim = 1 :
// GRAD: return
func.func @loss(%x: tensor<2x8x16xf32> {autopar.role = "input"}, %y: tensor<2x8x16xf32> {autopar.role = "labels"},
    %g0: tensor<16xf32> {autopar.role = "param"}, %b0: tensor<16xf32> {autopar.role = "param"},
    %w1: tensor<16x32xf32> {autopar.role = "param"}, %b1: tensor<32xf32> {autopar.role = "param"},
    %w2: tensor<32x16xf32> {autopar.role = "param"}, %b2: tensor<16xf32> {autopar.role = "param"},
    %g1: tensor<16xf32> {autopar.role = "param"}, %bb1: tensor<16xf32> {autopar.role = "param"},
    %w3: tensor<16x32xf32> {autopar.role = "param"}, %b3: tensor<32xf32> {autopar.role = "param"},
    %w4: tensor<32x16xf32> {autopar.role = "param"}, %b4: tensor<16xf32> {autopar.role = "param"}) -> tensor<f32> {
  %n = autopar.layer_norm %x, %g0, %b0, axis = 2, epsilon = 1.0e-05 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<2x8x16xf32>
  %h = autopar.linear %n, %w1, %b1 : tensor<2x8x16xf32>, tensor<16x32xf32>, tensor<32xf32> -> tensor<2x8x32xf32>
  %a = autopar.gelu %h : tensor<2x8x32xf32>
  %o = autopar.linear %a, %w2, %b2 : tensor<2x8x32xf32>, tensor<32x16xf32>, tensor<16xf32> -> tensor<2x8x16xf32>
  %r = autopar.add %x, %o : tensor<2x8x16xf32>
  %n1 = autopar.layer_norm %r, %g1, %bb1, axis = 2, epsilon = 1.0e-05 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<2x8x16xf32>
  %h1 = autopar.linear %n1, %w3, %b3 : tensor<2x8x16xf32>, tensor<16x32xf32>, tensor<32xf32> -> tensor<2x8x32xf32>
  %a1 = autopar.gelu %h1 : tensor<2x8x32xf32>
  %o1 = autopar.linear %a1, %w4, %b4 : tensor<2x8x32xf32>, tensor<32x16xf32>, tensor<16xf32> -> tensor<2x8x16xf32>
  %r1 = autopar.add %r, %o1 : tensor<2x8x16xf32>
  %d = autopar.sub %r1, %y : tensor<2x8x16xf32>
  %s = autopar.mul %d, %d : tensor<2x8x16xf32>
  %l = autopar.reduce sum %s, dims = [0, 1, 2] : tensor<2x8x16xf32> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

func.func @loss(%x: tensor<3x8xf32> {autopar.role = "input"}, %w1: tensor<8x16xf32> {autopar.role = "param"},
    %w2: tensor<16x8xf32> {autopar.role = "param"}) -> tensor<3x8xf32> {
  %h = autopar.linear %x, %w1 : tensor<3x8xf32>, tensor<8x16xf32> -> tensor<3x16xf32>
  // expected-error @+1 {{sequence parallelism splits the output of a row-parallel layer along dimension 0 of size 3, which does not divide among 2 processes}}
  %o = autopar.linear %h, %w2 : tensor<3x16xf32>, tensor<16x8xf32> -> tensor<3x8xf32>
  return %o : tensor<3x8xf32>
}
