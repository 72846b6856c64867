// RUN: autopar-opt %s --split-input-file --autopar-build-loss="loss=graph" -verify-diagnostics
// RUN: not autopar-opt %s --split-input-file --autopar-build-loss="loss=hinge" 2>&1 | FileCheck %s --check-prefix=KIND
// RUN: not autopar-opt %s --split-input-file --autopar-build-loss="freeze=q" 2>&1 | FileCheck %s --check-prefix=NONE
// RUN: not autopar-opt %s --split-input-file --autopar-build-loss="freeze=." 2>&1 | FileCheck %s --check-prefix=ALL
// RUN: not autopar-opt %s --split-input-file --autopar-build-loss="freeze=(" 2>&1 | FileCheck %s --check-prefix=REGEX
// KIND: error: loss must be cross_entropy, mse or graph, got 'hinge'
// NONE: error: freeze='q' matches no parameter; the parameters are w
// ALL: error: freeze='.' matches every parameter; nothing would train
// REGEX: error: freeze='(' is not a regular expression
// RUN: not autopar-opt %s --split-input-file --autopar-build-loss="loss=graph" 2>/dev/null | FileCheck %s --check-prefix=GRAPH
// GRAPH-LABEL: func.func @loss(
// GRAPH-SAME: {autopar.name = "t", autopar.role = "label"}
// GRAPH-SAME: -> tensor<f32>
// GRAPH: %[[R:.*]] = autopar.reshape %{{.*}} : tensor<f32> -> tensor<1xf32>
// GRAPH-NEXT: %[[S:.*]] = autopar.reshape %[[R]] : tensor<1xf32> -> tensor<f32>
// GRAPH-NEXT: return %[[S]] : tensor<f32>

// loss=graph needs the labels as a second graph input.
// expected-error @+1 {{with loss=graph needs exactly two graph inputs, the data and then the labels, before the parameters; it has 1}}
func.func @forward(%x: tensor<2x3xf32> {autopar.name = "x", autopar.role = "input"},
                   %w: tensor<3xf32> {autopar.name = "w", autopar.role = "param"}) -> tensor<2xf32> {
  %m = autopar.dot %x, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<2x3xf32>, tensor<3xf32> -> tensor<2xf32>
  return %m : tensor<2xf32>
}

// -----

// loss=graph needs one value out.
// expected-error @+1 {{with loss=graph must output the loss, one floating-point value; it outputs 'tensor<2xf32>'}}
func.func @forward(%x: tensor<2x3xf32> {autopar.name = "x", autopar.role = "input"},
                   %t: tensor<2xf32> {autopar.name = "t", autopar.role = "input"},
                   %w: tensor<3xf32> {autopar.name = "w", autopar.role = "param"}) -> tensor<2xf32> {
  %m = autopar.dot %x, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<2x3xf32>, tensor<3xf32> -> tensor<2xf32>
  %d = autopar.sub %m, %t : tensor<2xf32>
  return %d : tensor<2xf32>
}

// -----

// A model already outputting its loss, as a [1] tensor: @loss returns it as
// a scalar (the GRAPH checks above).
func.func @forward(%x: tensor<2x3xf32> {autopar.name = "x", autopar.role = "input"},
                   %t: tensor<2xf32> {autopar.name = "t", autopar.role = "input"},
                   %w: tensor<3xf32> {autopar.name = "w", autopar.role = "param"}) -> tensor<1xf32> {
  %m = autopar.dot %x, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<2x3xf32>, tensor<3xf32> -> tensor<2xf32>
  %d = autopar.sub %m, %t : tensor<2xf32>
  %s = autopar.reduce sum %d, dims = [0] : tensor<2xf32> -> tensor<f32>
  %r = autopar.reshape %s : tensor<f32> -> tensor<1xf32>
  return %r : tensor<1xf32>
}
