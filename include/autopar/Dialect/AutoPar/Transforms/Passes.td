//===- Passes.td - autopar dialect transformations ---------*- tablegen -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_DIALECT_AUTOPAR_TRANSFORMS_PASSES_TD
#define AUTOPAR_DIALECT_AUTOPAR_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def DecomposeCompositesPass
    : Pass<"autopar-decompose-composites", "func::FuncOp"> {
  let summary = "Rewrite composite ops into autopar primitives";
  let description = [{
    Replaces `softmax`, `log_softmax`, `layer_norm`, `rms_norm`,
    `attention`, `embedding`, `linear` and `cross_entropy` by `autopar` primitives
    (elementwise math, `reduce`, `broadcast`, `dot`, `gather`, `compare`,
    `select`), each with the numerically stable formulation (max subtracted
    before `exp`). `cross_entropy` picks each label's log-probability by
    comparing the labels, clamped to the classes, with the class ids, in 32
    bits where the ids fit (wider labels are converted). Elementwise
    composites such as `gelu` stay: they lower to a single loop body.
    Backends without a dedicated kernel for a composite run
    this first; the conversion to linalg includes the same patterns.
  }];
  let dependentDialects = ["::mlir::autopar::AutoParDialect"];
}

def RaiseCompositesPass : Pass<"autopar-raise-composites", "func::FuncOp"> {
  let summary = "Recognize primitive chains that exporters emit as composites";
  let description = [{
    The inverse of `autopar-decompose-composites` for the forms that ONNX
    exporters write: layer norm as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div
    followed by the affine scale and shift, GELU as `x * (1 + erf(x /
    sqrt(2))) * 0.5` or its tanh form, attention as `softmax(q k^T * scale
    [+ mask]) v` over batched matrix products, and linear layers as a matrix
    product plus a broadcast bias. Constants and dimensions are checked; a
    chain that differs in any of them is left as it is. The autopar
    canonicalization patterns run alongside (transposes introduced for the
    key fold away).
  }];
  let dependentDialects = ["::mlir::autopar::AutoParDialect"];
}

def AutodiffPass : Pass<"autopar-autodiff", "ModuleOp"> {
  let summary = "Build the gradient function of a scalar loss function";
  let description = [{
    For the function `entry` (by default the module's only public function),
    whose single result is a scalar floating-point loss, adds
    `@<entry>_grad` returning the loss followed by its gradient with respect
    to each argument marked `{autopar.role = "param"}` (or, when none is
    marked, each floating-point argument), in argument order. The new
    function computes the forward pass with composites decomposed, then the
    reverse sweep built from each op's `VJPOpInterface` rule, accumulating
    cotangents of values used more than once. An op without a rule (or a
    configuration its rule does not cover) is an error naming the op.
  }];
  let dependentDialects = ["::mlir::autopar::AutoParDialect"];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"\"",
           "Function to differentiate (default: the only public one)">,
    Option<"gradName", "name", "std::string", /*default=*/"\"\"",
           "Name of the gradient function (default: <entry>_grad)">,
    Option<"scaleArg", "loss-scale-arg", "bool", /*default=*/"false",
           "The gradient function takes a trailing scalar `loss_scale` "
           "(loss scaling for f16): the reverse sweep starts from it instead "
           "of 1, and each gradient is divided by it at the end">,
    Option<"keepAttention", "keep-attention", "bool", /*default=*/"false",
           "Keep attentions without a mask operand whole: the gradient "
           "function computes each with one autopar.attention_grad, which a "
           "fused (flash-attention) kernel runs without storing the "
           "probabilities; other backends decompose it">
  ];
}

def MixedPrecisionPass : Pass<"autopar-mixed-precision", "ModuleOp"> {
  let summary = "Run contractions in bf16 or f16, keeping f32 weights";
  let description = [{
    Mixed precision for training, the policy of PyTorch's autocast for
    matrix products: in the function `entry` (default `loss`), every
    f32 (or f64) `dot` -- with `linear` and `attention` decomposed first, so
    that their matrix products are dots and the attention's softmax stays in
    f32 -- takes its operands converted to `type` and its result converted
    back. With `keep-attention`, an attention without a mask stays whole
    on converted operands (its softmax runs in f32 all the same). Last, a
    reshape between a conversion and its operand's producer or its
    result's user moves to the conversion's other side (exact: neither
    computes), so that the conversion fuses with its neighbour when
    lowered, and a value widened and narrowed back folds away. Backends accumulate a half-precision contraction in f32 and round
    the sum once. Everything else (elementwise math, normalizations,
    softmax, the loss, every reduction) stays in f32, as do the parameters:
    the conversions sit at their uses, so autodiff (run after this pass)
    returns f32 gradients of the f32 master weights, and the optimizer's
    state stays f32. The backward pass's matrix products run in `type` too
    (the VJP of a dot in `type` is a dot in `type`). With `type=f16`, small
    gradients underflow unless the loss is scaled: see autopar-autodiff's
    `loss-scale-arg` and autopar-run's dynamic loss scaling.
  }];
  let dependentDialects = ["::mlir::autopar::AutoParDialect"];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"loss\"",
           "The function whose contractions change precision">,
    Option<"type", "type", "std::string", /*default=*/"\"bf16\"",
           "bf16 or f16">,
    Option<"keepAttention", "keep-attention", "bool", /*default=*/"false",
           "Keep attentions without a mask operand whole, on query, key and "
           "value converted to `type` (their softmax still runs in f32), as "
           "autocast runs scaled_dot_product_attention">
  ];
}

def BuildLossPass : Pass<"autopar-build-loss", "ModuleOp"> {
  let summary = "Add @loss, the training loss of a model's forward function";
  let description = [{
    From the function `entry` (default `forward`), whose arguments are the
    graph inputs followed by parameters marked `{autopar.role = "param"}`,
    adds the public `@loss(inputs..., labels, params...) -> tensor<f..>`:
    - `cross_entropy`: mean cross-entropy of the single output (logits
      [..., C]) against int64 labels [...];
    - `mse`: mean squared error against targets of the output's shape;
    - `graph`: the model computes its loss itself; it takes two graph
      inputs, the data and then the labels, and outputs one value.
    `entry` becomes private. Parameters whose `autopar.name` matches the
    regular expression `freeze` are marked `{autopar.role = "frozen"}` in
    `@loss` (as are those already frozen in `entry`): autodiff and the
    optimizer leave them alone. A pattern that is not a regular expression,
    matches no parameter or matches all of them is an error.
  }];
  let dependentDialects = ["::mlir::autopar::AutoParDialect"];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"forward\"",
           "The model's forward function">,
    Option<"loss", "loss", "std::string", /*default=*/"\"cross_entropy\"",
           "cross_entropy, mse or graph">,
    Option<"freeze", "freeze", "std::string", /*default=*/"\"\"",
           "Regular expression on parameter names to keep fixed">
  ];
}

def MakeOptimizerStepPass
    : Pass<"autopar-make-optimizer-step", "ModuleOp"> {
  let summary = "Build the optimizer update of a model's parameters";
  let description = [{
    For the function `entry` (default: the only public one), adds
    `@optimizer_step(params..., grads..., state..., lr, step) ->
    (params..., state...)`, where params are the arguments marked
    `{autopar.role = "param"}` (in order), `lr` and `step` are scalars of the
    parameters' element type (`step` counts from 1, as PyTorch's state
    does), and the state holds, per parameter and in this order:
    sgd: the momentum buffer (when momentum > 0); adam, adamw: exp_avg,
    exp_avg_sq; rmsprop: square_avg, then grad_avg when centered, then the
    momentum buffer when momentum > 0; adagrad: sum. The updates are
    PyTorch's (torch.optim, maximize=False, foreach/fused irrelevant), with
    optional global gradient-norm clipping first (clip_grad_norm_'s
    max_norm / (norm + 1e-6), at most 1). The caller creates the initial
    state: zeros, or `initial_accumulator_value` for adagrad's sum.

    With `zero-shards=N` > 1 (ZeRO along the data-parallel axis 0 of
    `@autopar_grid`), every parameter, gradient and state tensor of the
    update is a process's shard: the flattened tensor zero-padded to a
    multiple of N, cut in N, as a 1-D tensor. The updates are elementwise,
    so a shard updates alone; clipping all-reduces the squared norm over
    axis 0 (and split parameters' over their axis first).
  }];
  let dependentDialects = ["::mlir::autopar::AutoParDialect"];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"\"",
           "Function whose parameters are updated">,
    Option<"optimizer", "optimizer", "std::string", /*default=*/"\"sgd\"",
           "sgd, adam, adamw, rmsprop or adagrad">,
    Option<"momentum", "momentum", "double", "0.0", "sgd, rmsprop">,
    Option<"dampening", "dampening", "double", "0.0", "sgd">,
    Option<"nesterov", "nesterov", "bool", "false", "sgd">,
    Option<"weightDecay", "weight-decay", "double", "-1.0",
           "L2 penalty (adamw: decoupled); default 0, adamw 0.01">,
    Option<"beta1", "beta1", "double", "0.9", "adam, adamw">,
    Option<"beta2", "beta2", "double", "0.999", "adam, adamw">,
    Option<"eps", "eps", "double", "-1.0",
           "default 1e-8 (adam, adamw), 1e-8 (rmsprop), 1e-10 (adagrad)">,
    Option<"alpha", "alpha", "double", "0.99", "rmsprop">,
    Option<"centered", "centered", "bool", "false", "rmsprop">,
    Option<"lrDecay", "lr-decay", "double", "0.0", "adagrad">,
    Option<"clipGradNorm", "clip-grad-norm", "double", "0.0",
           "Clip the global gradient norm to this (0: off)">,
    Option<"zeroShards", "zero-shards", "int64_t", "1",
           "ZeRO: the update takes each process's 1/N of every parameter, "
           "flattened and zero-padded to a multiple of N (1: whole)">
  ];
}


def PartitionTensorParallelPass
    : Pass<"autopar-partition-tensor-parallel", "ModuleOp"> {
  let summary = "Split linear layers across the tensor-parallel grid axis";
  let description = [{
    Rewrites the function `entry` (default `loss`) into the program one
    process of a `dp` x `tp` grid runs (`shard.grid @autopar_grid`, axis 0
    data-parallel, axis 1 tensor-parallel), in Megatron-LM's form: a
    column-parallel `autopar.linear` (each process holds `1/tp` of the
    weight's output features and of the bias) feeds a row-parallel one
    (`1/tp` of the input features), whose partial sums an
    `autopar.all_reduce` adds before the bias. The column layer's input
    passes through `autopar.grad_all_reduce`, so that differentiating the
    result gives the backward all-reduce. Data parallelism needs nothing
    here: the runtime averages gradients over axis 0.

    Between the two layers every op works on the local part: elementwise
    ops, slices of a fused projection (a column layer whose output is cut
    into equal slices splits each slice: query, key and value of
    `nn.MultiheadAttention`), reshapes and transposes that keep each
    process's blocks whole (heads folded into the batch), and attention
    over a split batch or head dimension, with a whole additive mask
    broadcast to the local heads. A column layer whose local logits reach a
    cross-entropy instead of a row layer (the LM head) is split by
    vocabulary and the loss computed from the parts (Megatron's
    vocabulary-parallel cross-entropy). Anything else that uses the local
    part (a softmax over it, the function's result) keeps the layer whole.
    A token embedding (a parameter table gathered by rows and used nowhere
    else) is split by rows, each process looking up the ids in its rows
    (`autopar.grid_index` gives the offset) and an all-reduce adding the
    parts.

    Layers marked `autopar.parallelism = "column"` / `"row"` (the planner's
    choice) are split as marked, and a mark that cannot be honoured is an
    error; without marks, each linear layer whose local part reaches exactly
    one other linear layer pairs with it. Split weights and biases must be
    parameters used by that layer alone; their arguments get local types
    and `autopar.split = array<i64: dim, grid_axis[, groups]>`, from which
    the runtime cuts each process's shard of the whole tensor (with
    `groups`, block r of each of the groups).

    With `sp`, Megatron's sequence parallelism: between the split layers
    the activations (layer norms, residual adds, the row layers' biases) are
    split along the sequence, dimension 1 of `[batch, sequence, ...]`
    (dimension 0 of 2-D `[tokens, features]`): a split layer's input is
    `autopar.all_gather`ed (its VJP a `reduce_scatter`) instead of passing
    `grad_all_reduce`, its output `autopar.reduce_scatter`ed instead of
    all-reduced; whole values meeting split ones are cut
    (`autopar.local_slice`), norm parameters get their cotangents summed
    (`grad_all_reduce`), and work that needs the whole sequence (the loss,
    a layer that is not split) gathers it first.

    The function gets `autopar.split_layers`: for each region it split, the
    positions (among its linear layers, from 0) of the column layer and of
    the row layer (-1 for a vocabulary-parallel head). `keep-whole` names
    layers that stay whole, neither column nor row (autopar-compile's
    per-layer refinement of a plan leaves regions whole this way).
  }];
  let dependentDialects = ["::mlir::autopar::AutoParDialect",
                           "::mlir::shard::ShardDialect"];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"loss\"",
           "The function to partition">,
    Option<"dp", "dp", "int64_t", /*default=*/"1",
           "Processes along the data-parallel axis">,
    Option<"tp", "tp", "int64_t", /*default=*/"2",
           "Processes along the tensor-parallel axis">,
    Option<"sp", "sp", "bool", /*default=*/"false",
           "Megatron sequence parallelism between the split layers">,
    ListOption<"keepWhole", "keep-whole", "int64_t",
               "Linear layers to leave whole (without marks), by their "
               "position among the function's linear layers (from 0)">
  ];
}

def ShardParametersPass : Pass<"autopar-shard-parameters", "ModuleOp"> {
  let summary = "ZeRO-3: each process holds 1/dp of every trained parameter";
  let description = [{
    Rewrites the function `entry` (default `loss`) so that every trained
    parameter (`{autopar.role = "param"}`) arrives as this process's shard
    along the data-parallel axis 0 of `shard.grid @autopar_grid` (created
    as `dp x 1` when absent): the parameter flattened, zero-padded to a
    multiple of `dp` and cut in `dp`, as a 1-D tensor. The argument records
    the shape it stands for in `autopar.zero_shape`, and the body starts
    from the whole parameter gathered back: `autopar.all_gather {
    partial_grad}` over axis 0, a slice dropping the padding, a reshape.
    Differentiating that gives the gradient's shard by `reduce_scatter`
    (ZeRO's gradient partitioning). Frozen parameters stay whole.

    ```mlir
    func.func @loss(%w: tensor<3xf32> {autopar.role = "param",
                                        autopar.zero_shape = array<i64: 2, 3>})
      %g = autopar.all_gather %w on @autopar_grid grid_axes = [0] dim = 0
           {partial_grad} : tensor<3xf32> -> tensor<6xf32>
      %p = autopar.reshape %g : tensor<6xf32> -> tensor<2x3xf32>
    ```

    `autopar-gather-at-use` then gives each use its own gather.
  }];
  let dependentDialects = ["::mlir::autopar::AutoParDialect",
                           "::mlir::shard::ShardDialect"];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"loss\"",
           "The function whose parameters are sharded">,
    Option<"dp", "dp", "int64_t", /*default=*/"2",
           "Processes along the data-parallel axis">
  ];
}

def GatherAtUsePass : Pass<"autopar-gather-at-use", "ModuleOp"> {
  let summary = "ZeRO-3: gather a sharded parameter just before each use";
  let description = [{
    In the function `entry` (default `forward_backward`), every gather of a
    ZeRO-3 shard (`autopar-shard-parameters`: an `autopar.all_gather` of
    an argument with `autopar.zero_shape`, with the slice and reshape after
    it) is repeated right before each op that uses the whole parameter, the
    forward layer and each backward rule that needs it, instead of once at
    the start. The whole parameter then lives only while one op uses it and
    is released after (DeepSpeed's ZeRO-3 fetch and release), at the price
    of one all-gather per use. Run it after `autopar-autodiff`; a later CSE
    would merge the gathers back.
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"forward_backward\"",
           "The function whose gathers are moved">
  ];
}

def OverlapGradientSumsPass
    : Pass<"autopar-overlap-gradient-sums", "ModuleOp"> {
  let summary = "Start each data-parallel gradient sum as soon as it is ready";
  let description = [{
    In the gradient function `entry` (default `forward_backward`: the loss,
    then one gradient per `{autopar.role = "param"}` argument, in order),
    starts the sum of every gradient over the data-parallel axis 0 of
    `shard.grid @autopar_grid` (created as `?x1`, any number of processes,
    when absent) right after the op that completes it
    (`autopar.all_reduce_start`), and returns the sums, waited for just
    before the return (`autopar.all_reduce_wait`). The backward pass emits
    the last layers' gradients first, so their sums travel while the
    earlier layers' gradients are computed. The runtime packs the started
    gradients into buckets and sends each when it fills. Gradients of ZeRO-3
    shards (`autopar.zero_shape`), summed by their reduce-scatter already,
    are left alone. Run it after `autopar-autodiff`.
  }];
  let dependentDialects = ["::mlir::autopar::AutoParDialect",
                           "::mlir::shard::ShardDialect"];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"forward_backward\"",
           "The gradient function">
  ];
}

#endif // AUTOPAR_DIALECT_AUTOPAR_TRANSFORMS_PASSES_TD
