// RUN: autopar-opt %s -split-input-file --autopar-partition-tensor-parallel="dp=2 tp=2" -verify-diagnostics | FileCheck %s
// RUN: autopar-opt %s -split-input-file --autopar-partition-tensor-parallel="dp=2 tp=2" -verify-diagnostics | awk '/^\/\/ -----/{stop=1} !stop' | autopar-opt --autopar-autodiff="entry=loss name=grad" | FileCheck %s --check-prefix=GRAD
// RUN: awk '/^\/\/ -----/{stop=1} !stop' %s | autopar-opt --autopar-partition-tensor-parallel="dp=2 tp=2" | FileCheck %s --check-prefix=LAYERS
// RUN: awk '/^\/\/ -----/{stop=1} !stop' %s | autopar-opt --autopar-partition-tensor-parallel="dp=2 tp=2 keep-whole=1" | FileCheck %s --check-prefix=KEEP

// A Megatron MLP block after a layer norm: the first linear layer is split
// by columns (output features and bias), the second by rows; the forward
// pass has exactly one all-reduce (after the row layer, before its bias),
// and the column layer's input passes through grad_all_reduce.
// CHECK: shard.grid @autopar_grid(shape = 2x2)
// CHECK-LABEL: func.func @loss
// CHECK-SAME: %[[W1:[a-z0-9]+]]: tensor<8x16xf32> {autopar.name = "w1", autopar.role = "param", autopar.split = array<i64: 1, 1>}
// CHECK-SAME: %[[B1:[a-z0-9]+]]: tensor<16xf32> {autopar.name = "b1", autopar.role = "param", autopar.split = array<i64: 0, 1>}
// CHECK-SAME: %[[W2:[a-z0-9]+]]: tensor<16x8xf32> {autopar.name = "w2", autopar.role = "param", autopar.split = array<i64: 0, 1>}
// CHECK-SAME: %[[B2:[a-z0-9]+]]: tensor<8xf32> {autopar.name = "b2", autopar.role = "param"}
// CHECK: %[[N:.*]] = autopar.layer_norm
// CHECK: %[[X:.*]] = autopar.grad_all_reduce %[[N]] on @autopar_grid grid_axes = [1] : tensor<4x8xf32>
// CHECK: %[[H:.*]] = autopar.linear %[[X]], %[[W1]], %[[B1]] : tensor<4x8xf32>, tensor<8x16xf32>, tensor<16xf32> -> tensor<4x16xf32>
// CHECK: %[[A:.*]] = autopar.gelu %[[H]] : tensor<4x16xf32>
// CHECK: %[[P:.*]] = autopar.linear %[[A]], %[[W2]] : tensor<4x16xf32>, tensor<16x8xf32> -> tensor<4x8xf32>
// CHECK: %[[S:.*]] = autopar.all_reduce %[[P]] on @autopar_grid grid_axes = [1] : tensor<4x8xf32>
// CHECK: %[[BB:.*]] = autopar.broadcast %[[B2]], dims = [1] : tensor<8xf32> -> tensor<4x8xf32>
// CHECK: autopar.add %[[S]], %[[BB]] : tensor<4x8xf32>
// CHECK-NOT: all_reduce
// CHECK: return
//
// The pass records the split region's layers (column 0, row 1); with the
// row layer kept whole (keep-whole=1) the pair is not split at all.
// LAYERS: func.func @loss{{.*}}autopar.split_layers = array<i64: 0, 1>
// KEEP-LABEL: func.func @loss
// KEEP-SAME: autopar.split_layers = array<i64>
// KEEP-NOT: autopar.split =
// KEEP-NOT: all_reduce
// KEEP: return
//
// Differentiated: one more all-reduce, of the layer norm's output
// cotangent (grad_all_reduce's transpose), in the backward pass.
// GRAD-LABEL: func.func @grad
// GRAD: autopar.grad_all_reduce
// GRAD: autopar.all_reduce
// GRAD: autopar.all_reduce
// GRAD-NOT: autopar.all_reduce
// GRAD: return
func.func @loss(%x: tensor<4x8xf32> {autopar.role = "input"}, %y: tensor<4xi64> {autopar.role = "labels"},
    %g: tensor<8xf32> {autopar.role = "param", autopar.name = "g"}, %b: tensor<8xf32> {autopar.role = "param", autopar.name = "b"},
    %w1: tensor<8x32xf32> {autopar.role = "param", autopar.name = "w1"}, %b1: tensor<32xf32> {autopar.role = "param", autopar.name = "b1"},
    %w2: tensor<32x8xf32> {autopar.role = "param", autopar.name = "w2"}, %b2: tensor<8xf32> {autopar.role = "param", autopar.name = "b2"}) -> tensor<f32> {
  %n = autopar.layer_norm %x, %g, %b, axis = 1, epsilon = 1.0e-05 : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %h = autopar.linear %n, %w1, %b1 : tensor<4x8xf32>, tensor<8x32xf32>, tensor<32xf32> -> tensor<4x32xf32>
  %a = autopar.gelu %h : tensor<4x32xf32>
  %o = autopar.linear %a, %w2, %b2 : tensor<4x32xf32>, tensor<32x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
  %l = autopar.cross_entropy %o, %y : tensor<4x8xf32>, tensor<4xi64> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// PyTorch's [out, in] weights split the other dimension; a layer feeding
// nothing split stays whole (here the last one: its output is the loss's
// input, not another linear layer's).
// CHECK-LABEL: func.func @loss
// CHECK-SAME: tensor<8x8xf32> {autopar.role = "param", autopar.split = array<i64: 0, 1>}
// CHECK-SAME: tensor<4x8xf32> {autopar.role = "param", autopar.split = array<i64: 1, 1>}
// CHECK-SAME: %[[W3:[a-z0-9]+]]: tensor<3x4xf32> {autopar.role = "param"}
// CHECK: autopar.linear {{.*}} {weight_transposed} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
// CHECK: autopar.linear {{.*}} {weight_transposed} : tensor<2x8xf32>, tensor<4x8xf32> -> tensor<2x4xf32>
// CHECK: autopar.linear %{{.*}}, %[[W3]] {weight_transposed} : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
func.func @loss(%x: tensor<2x8xf32> {autopar.role = "input"}, %w1: tensor<16x8xf32> {autopar.role = "param"},
    %w2: tensor<4x16xf32> {autopar.role = "param"}, %w3: tensor<3x4xf32> {autopar.role = "param"}) -> tensor<2x3xf32> {
  %h = autopar.linear %x, %w1 {weight_transposed} : tensor<2x8xf32>, tensor<16x8xf32> -> tensor<2x16xf32>
  %a = autopar.relu %h : tensor<2x16xf32>
  %o = autopar.linear %a, %w2 {weight_transposed} : tensor<2x16xf32>, tensor<4x16xf32> -> tensor<2x4xf32>
  %r = autopar.linear %o, %w3 {weight_transposed} : tensor<2x4xf32>, tensor<3x4xf32> -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}

// -----

// Unmarked pairs that cannot be split (odd features, a weight used twice)
// stay whole, with nothing to communicate.
// CHECK-LABEL: func.func @loss
// CHECK-NOT: all_reduce
// CHECK: return
func.func @loss(%x: tensor<2x8xf32> {autopar.role = "input"}, %w1: tensor<8x5xf32> {autopar.role = "param"},
    %w2: tensor<5x8xf32> {autopar.role = "param"}, %w3: tensor<8x8xf32> {autopar.role = "param"}) -> tensor<2x8xf32> {
  %h = autopar.linear %x, %w1 : tensor<2x8xf32>, tensor<8x5xf32> -> tensor<2x5xf32>
  %o = autopar.linear %h, %w2 : tensor<2x5xf32>, tensor<5x8xf32> -> tensor<2x8xf32>
  %p = autopar.linear %o, %w3 : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
  %q = autopar.linear %p, %w3 : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
  return %q : tensor<2x8xf32>
}

// -----

// The planner's marks are followed, and must be possible.
func.func @loss(%x: tensor<2x8xf32> {autopar.role = "input"}, %w1: tensor<8x5xf32> {autopar.role = "param"},
    %w2: tensor<5x8xf32> {autopar.role = "param"}) -> tensor<2x8xf32> {
  // expected-error @+1 {{cannot be split over 2 processes: its 5 output features do not divide}}
  %h = autopar.linear %x, %w1 {autopar.parallelism = "column"} : tensor<2x8xf32>, tensor<8x5xf32> -> tensor<2x5xf32>
  %o = autopar.linear %h, %w2 {autopar.parallelism = "row"} : tensor<2x5xf32>, tensor<5x8xf32> -> tensor<2x8xf32>
  return %o : tensor<2x8xf32>
}

// -----

func.func @loss(%x: tensor<2x8xf32> {autopar.role = "input"}, %w1: tensor<8x8xf32> {autopar.role = "param"},
    %w2: tensor<8x8xf32> {autopar.role = "param"}) -> tensor<2x8xf32> {
  // expected-error @+1 {{cannot be split: 'autopar.softmax' has no rule for splitting}}
  %h = autopar.linear %x, %w1 {autopar.parallelism = "column"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
  %s = autopar.softmax %h, axis = 1 : tensor<2x8xf32>
  %o = autopar.linear %s, %w2 {autopar.parallelism = "row"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
  return %o : tensor<2x8xf32>
}

// -----

func.func @loss(%x: tensor<2x8xf32> {autopar.role = "input"}, %w1: tensor<8x8xf32> {autopar.role = "param"}) -> tensor<2x8xf32> {
  // expected-error @+1 {{is marked row-parallel but no column-parallel layer feeds it}}
  %o = autopar.linear %x, %w1 {autopar.parallelism = "row"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
  return %o : tensor<2x8xf32>
}

// -----

func.func @loss(%x: tensor<2x8xf32> {autopar.role = "input"}, %w: tensor<8x8xf32> {autopar.role = "param"}) -> tensor<2x8xf32> {
  // expected-error @+1 {{cannot be split: a parameter it uses is used elsewhere too (tied weights)}}
  %h = autopar.linear %x, %w {autopar.parallelism = "column"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
  %o = autopar.linear %h, %w {autopar.parallelism = "row"} : tensor<2x8xf32>, tensor<8x8xf32> -> tensor<2x8xf32>
  return %o : tensor<2x8xf32>
}

// -----

// expected-error @+1 {{has shape 4; autopar-partition-tensor-parallel needs 2x2}}
shard.grid @autopar_grid(shape = 4)
func.func @loss(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  return %x : tensor<2x8xf32>
}

// -----

// Attention split by heads, as torch exports nn.MultiheadAttention: a fused
// query/key/value projection (its weight and bias cut as 3 groups, each
// process taking its heads' block of each), slices of it at local offsets,
// heads folded into the batch by a reshape, a whole mask broadcast to the
// local heads only, and the output projection split by rows.
// CHECK-LABEL: func.func @loss
// CHECK-SAME: tensor<8x12xf32> {autopar.role = "param", autopar.split = array<i64: 1, 1, 3>}
// CHECK-SAME: tensor<12xf32> {autopar.role = "param", autopar.split = array<i64: 0, 1, 3>}
// CHECK-SAME: tensor<8x4xf32> {autopar.role = "param", autopar.split = array<i64: 1, 1>}
// CHECK: autopar.grad_all_reduce
// CHECK: %[[QKV:.*]] = autopar.linear {{.*}} -> tensor<4x2x12xf32>
// CHECK: autopar.slice %[[QKV]], start = [0, 0, 0], limit = [4, 2, 4]
// CHECK: autopar.slice %[[QKV]], start = [0, 0, 4], limit = [4, 2, 8]
// CHECK: autopar.slice %[[QKV]], start = [0, 0, 8], limit = [4, 2, 12]
// CHECK: autopar.reshape %{{.*}} : tensor<4x2x4xf32> -> tensor<4x2x4xf32>
// CHECK: autopar.broadcast %{{.*}}, dims = [0, 1, 2] : tensor<1x4x4xf32> -> tensor<2x4x4xf32>
// CHECK: autopar.attention {{.*}} : tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<2x4x4xf32> -> tensor<2x4x4xf32>
// CHECK: autopar.reshape %{{.*}} : tensor<4x2x4xf32> -> tensor<8x4xf32>
// CHECK: autopar.linear {{.*}} : tensor<8x4xf32>, tensor<8x4xf32> -> tensor<8x8xf32>
// CHECK: autopar.all_reduce
func.func @loss(%x: tensor<4x2x8xf32> {autopar.role = "input"}, %w: tensor<8x24xf32> {autopar.role = "param"},
    %b: tensor<24xf32> {autopar.role = "param"}, %mask: tensor<1x4x4xf32> {autopar.role = "frozen"},
    %wo: tensor<8x8xf32> {autopar.role = "param"}, %bo: tensor<8xf32> {autopar.role = "param"}) -> tensor<8x8xf32> {
  %qkv = autopar.linear %x, %w, %b : tensor<4x2x8xf32>, tensor<8x24xf32>, tensor<24xf32> -> tensor<4x2x24xf32>
  %q0 = autopar.slice %qkv, start = [0, 0, 0], limit = [4, 2, 8], strides = [1, 1, 1] : tensor<4x2x24xf32> -> tensor<4x2x8xf32>
  %k0 = autopar.slice %qkv, start = [0, 0, 8], limit = [4, 2, 16], strides = [1, 1, 1] : tensor<4x2x24xf32> -> tensor<4x2x8xf32>
  %v0 = autopar.slice %qkv, start = [0, 0, 16], limit = [4, 2, 24], strides = [1, 1, 1] : tensor<4x2x24xf32> -> tensor<4x2x8xf32>
  %q1 = autopar.reshape %q0 : tensor<4x2x8xf32> -> tensor<4x4x4xf32>
  %k1 = autopar.reshape %k0 : tensor<4x2x8xf32> -> tensor<4x4x4xf32>
  %v1 = autopar.reshape %v0 : tensor<4x2x8xf32> -> tensor<4x4x4xf32>
  %q = autopar.transpose %q1, perm = [1, 0, 2] : tensor<4x4x4xf32> -> tensor<4x4x4xf32>
  %k = autopar.transpose %k1, perm = [1, 0, 2] : tensor<4x4x4xf32> -> tensor<4x4x4xf32>
  %v = autopar.transpose %v1, perm = [1, 0, 2] : tensor<4x4x4xf32> -> tensor<4x4x4xf32>
  %m = autopar.broadcast %mask, dims = [0, 1, 2] : tensor<1x4x4xf32> -> tensor<4x4x4xf32>
  %a = autopar.attention %q, %k, %v mask %m : tensor<4x4x4xf32>, tensor<4x4x4xf32>, tensor<4x4x4xf32>, tensor<4x4x4xf32> -> tensor<4x4x4xf32>
  %t = autopar.transpose %a, perm = [1, 0, 2] : tensor<4x4x4xf32> -> tensor<4x4x4xf32>
  %r = autopar.reshape %t : tensor<4x4x4xf32> -> tensor<8x8xf32>
  %o = autopar.linear %r, %wo, %bo {weight_transposed} : tensor<8x8xf32>, tensor<8x8xf32>, tensor<8xf32> -> tensor<8x8xf32>
  return %o : tensor<8x8xf32>
}

// -----

// Heads that do not divide among the processes: the reshape would cut a
// head in two, so the layer stays whole.
// CHECK-LABEL: func.func @loss
// CHECK-NOT: all_reduce
// CHECK: return
func.func @loss(%x: tensor<2x8xf32> {autopar.role = "input"}, %w: tensor<8x12xf32> {autopar.role = "param"},
    %wo: tensor<12x8xf32> {autopar.role = "param"}) -> tensor<2x8xf32> {
  %h = autopar.linear %x, %w : tensor<2x8xf32>, tensor<8x12xf32> -> tensor<2x12xf32>
  %s = autopar.reshape %h : tensor<2x12xf32> -> tensor<2x3x4xf32>
  %e = autopar.exp %s : tensor<2x3x4xf32>
  %r = autopar.reshape %e : tensor<2x3x4xf32> -> tensor<2x12xf32>
  %o = autopar.linear %r, %wo : tensor<2x12xf32>, tensor<12x8xf32> -> tensor<2x8xf32>
  return %o : tensor<2x8xf32>
}

// -----

// The LM head split by vocabulary feeds the loss: Megatron's
// vocabulary-parallel cross-entropy from the local logits (the maximum, the
// sum of exponentials and the label's logit reduced over the group; the
// one-hot of the labels built whole and cut), no process holding all
// logits.
// CHECK-LABEL: func.func @loss
// CHECK-SAME: tensor<16x16xf32> {autopar.role = "param", autopar.split = array<i64: 1, 1>}
// CHECK: %[[X:.*]] = autopar.linear {{.*}} -> tensor<4x16xf32>
// CHECK: %[[M:.*]] = autopar.reduce max %[[X]], dims = [1]
// CHECK: %[[MM:.*]] = autopar.all_reduce_max %[[M]] on @autopar_grid grid_axes = [1] : tensor<4xf32>
// CHECK: autopar.exp
// CHECK: autopar.reduce sum
// CHECK: autopar.all_reduce
// CHECK: autopar.local_slice %{{.*}} dim = 1 : tensor<4x32xf32> -> tensor<4x16xf32>
// CHECK: autopar.all_reduce
// CHECK: autopar.log
// CHECK: autopar.reduce mean
// CHECK-NOT: cross_entropy
func.func @loss(%x: tensor<4x16xf32> {autopar.role = "input"}, %y: tensor<4xi64> {autopar.role = "labels"},
    %w: tensor<16x32xf32> {autopar.role = "param"}) -> tensor<f32> {
  %logits = autopar.linear %x, %w : tensor<4x16xf32>, tensor<16x32xf32> -> tensor<4x32xf32>
  %l = autopar.cross_entropy %logits, %y : tensor<4x32xf32>, tensor<4xi64> -> tensor<f32>
  return %l : tensor<f32>
}

// -----

// A token embedding (a table gathered by row) is split by vocabulary: each
// process looks up the ids among its rows (offset by its coordinate),
// zeroes the others, and an all-reduce adds the parts.
// CHECK-LABEL: func.func @loss
// CHECK-SAME: %[[T:[a-z0-9]+]]: tensor<16x8xf32> {autopar.role = "param", autopar.split = array<i64: 0, 1>}
// CHECK: %[[R:.*]] = autopar.grid_index @autopar_grid axis = 1 : tensor<i64>
// CHECK: %[[O:.*]] = autopar.mul %[[R]]
// CHECK: %[[OB:.*]] = autopar.broadcast %[[O]], dims = [] : tensor<i64> -> tensor<2x4xi64>
// CHECK: %[[L:.*]] = autopar.sub %arg0, %[[OB]] : tensor<2x4xi64>
// CHECK-DAG: autopar.compare lt, %[[L]]
// CHECK-DAG: autopar.compare ge, %[[L]]
// CHECK: %[[G:.*]] = autopar.gather %[[T]], %{{.*}}, axis = 0 : tensor<16x8xf32>, tensor<2x4xi64> -> tensor<2x4x8xf32>
// CHECK: %[[K:.*]] = autopar.select %{{.*}}, %[[G]], %{{.*}} : tensor<2x4x8xi1>, tensor<2x4x8xf32>
// CHECK: autopar.all_reduce %[[K]] on @autopar_grid grid_axes = [1] : tensor<2x4x8xf32>
func.func @loss(%ids: tensor<2x4xi64> {autopar.role = "input"}, %table: tensor<32x8xf32> {autopar.role = "param"}) -> tensor<2x4x8xf32> {
  %e = autopar.gather %table, %ids, axis = 0 : tensor<32x8xf32>, tensor<2x4xi64> -> tensor<2x4x8xf32>
  return %e : tensor<2x4x8xf32>
}

// -----

// Tied embeddings (GPT-2's): the table the tokens are looked up in is also
// the LM head's weight. Both split its rows, the vocabulary: the lookup
// among the process's rows, the head computing the process's logits for
// the vocabulary-parallel loss. The table is split once.
// CHECK-LABEL: func.func @loss
// CHECK-SAME: %[[T:[a-z0-9]+]]: tensor<16x8xf32> {autopar.name = "wte", autopar.role = "param", autopar.split = array<i64: 0, 1>}
// CHECK: autopar.gather %[[T]], %{{.*}}, axis = 0 : tensor<16x8xf32>, tensor<2x4xi64> -> tensor<2x4x8xf32>
// CHECK: %[[E:.*]] = autopar.all_reduce %{{.*}} on @autopar_grid grid_axes = [1] : tensor<2x4x8xf32>
// CHECK: %[[X:.*]] = autopar.grad_all_reduce %{{.*}} on @autopar_grid grid_axes = [1] : tensor<2x4x8xf32>
// CHECK: autopar.linear %[[X]], %[[T]] {weight_transposed} : tensor<2x4x8xf32>, tensor<16x8xf32> -> tensor<2x4x16xf32>
// CHECK: autopar.all_reduce_max
// CHECK-NOT: autopar.cross_entropy
func.func @loss(%ids: tensor<2x4xi64> {autopar.role = "input"}, %y: tensor<2x4xi64> {autopar.role = "labels"},
    %wte: tensor<32x8xf32> {autopar.role = "param", autopar.name = "wte"}) -> tensor<f32> {
  %e = autopar.gather %wte, %ids, axis = 0 : tensor<32x8xf32>, tensor<2x4xi64> -> tensor<2x4x8xf32>
  %h = autopar.tanh %e : tensor<2x4x8xf32>
  %logits = autopar.linear %h, %wte {weight_transposed} : tensor<2x4x8xf32>, tensor<32x8xf32> -> tensor<2x4x32xf32>
  %l = autopar.cross_entropy %logits, %y : tensor<2x4x32xf32>, tensor<2x4xi64> -> tensor<f32>
  return %l : tensor<f32>
}
