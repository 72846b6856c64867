//===- AutoParOps.td - autopar dialect operations ----------*- tablegen -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPAROPS_TD
#define AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPAROPS_TD

include "autopar/Dialect/AutoPar/IR/AutoParBase.td"
include "autopar/Dialect/AutoPar/IR/AutoParInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

class AutoPar_Op<string mnemonic, list<Trait> traits = []>
    : Op<AutoPar_Dialect, mnemonic, !listconcat(traits, [Pure])>;

//===----------------------------------------------------------------------===//
// Constant
//===----------------------------------------------------------------------===//

def AutoPar_ConstantOp : AutoPar_Op<"constant",
    [ConstantLike, AllTypesMatch<["value", "result"]>, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "tensor constant";
  let description = [{
    A tensor whose value is given by a dense elements attribute.

    ```mlir
    %c = autopar.constant dense<[1.0, 2.0]> : tensor<2xf32>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AutoPar_AnyTensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise unary
//===----------------------------------------------------------------------===//

class AutoPar_UnaryOp<string mnemonic, Type tensorType, string formula,
                      list<Trait> traits = []>
    : AutoPar_Op<mnemonic, !listconcat(traits,
                 [Elementwise, SameOperandsAndResultType,
                  DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>])> {
  let summary = "elementwise " # mnemonic;
  let description = [{
    Applies `}] # formula # [{` to every element. Operand and result have the
    same type.

    ```mlir
    %y = autopar.}] # mnemonic # [{ %x : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins tensorType:$operand);
  let results = (outs tensorType:$result);
  let assemblyFormat = "$operand attr-dict `:` type($result)";
}

def AutoPar_NegOp : AutoPar_UnaryOp<"neg", AutoPar_NumericTensor, "-x"> {
  let hasFolder = 1;
}
def AutoPar_AbsOp : AutoPar_UnaryOp<"abs", AutoPar_NumericTensor, "|x|">;
def AutoPar_ExpOp : AutoPar_UnaryOp<"exp", AutoPar_FloatTensor, "e^x">;
def AutoPar_LogOp : AutoPar_UnaryOp<"log", AutoPar_FloatTensor, "ln(x)">;
def AutoPar_TanhOp : AutoPar_UnaryOp<"tanh", AutoPar_FloatTensor, "tanh(x)">;
def AutoPar_SigmoidOp
    : AutoPar_UnaryOp<"sigmoid", AutoPar_FloatTensor, "1 / (1 + e^-x)">;
def AutoPar_ReluOp
    : AutoPar_UnaryOp<"relu", AutoPar_NumericTensor, "max(x, 0)">;
def AutoPar_SiluOp
    : AutoPar_UnaryOp<"silu", AutoPar_FloatTensor, "x * sigmoid(x)">;
def AutoPar_SqrtOp : AutoPar_UnaryOp<"sqrt", AutoPar_FloatTensor, "sqrt(x)">;
def AutoPar_RsqrtOp
    : AutoPar_UnaryOp<"rsqrt", AutoPar_FloatTensor, "1 / sqrt(x)">;
def AutoPar_ErfOp : AutoPar_UnaryOp<"erf", AutoPar_FloatTensor, "erf(x)">;

def AutoPar_GeluOp : AutoPar_Op<"gelu",
    [Elementwise, SameOperandsAndResultType, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "Gaussian error linear unit";
  let description = [{
    With `approximate none` (the default, omitted when printed):
    `0.5 * x * (1 + erf(x / sqrt(2)))`. With `approximate tanh`:
    `0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))`, as PyTorch's
    `gelu(approximate="tanh")`.

    ```mlir
    %y = autopar.gelu %x : tensor<4x8xf32>
    %z = autopar.gelu %x approximate = tanh : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$operand,
      DefaultValuedAttr<AutoPar_GeluApproximation,
                        "GeluApproximation::None">:$approximate);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $operand (`approximate` `=` $approximate^)? attr-dict `:` type($result)
  }];
}

//===----------------------------------------------------------------------===//
// Elementwise binary
//===----------------------------------------------------------------------===//

class AutoPar_BinaryOp<string mnemonic, Type tensorType, string formula,
                       list<Trait> traits = []>
    : AutoPar_Op<mnemonic, !listconcat(traits,
                 [Elementwise, SameOperandsAndResultType,
                  DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>])> {
  let summary = "elementwise " # mnemonic;
  let description = [{
    Computes `}] # formula # [{` element by element. Both operands and the
    result have the same type: broadcasting is explicit (`autopar.broadcast`).

    ```mlir
    %z = autopar.}] # mnemonic # [{ %x, %y : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins tensorType:$lhs, tensorType:$rhs);
  let results = (outs tensorType:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def AutoPar_AddOp
    : AutoPar_BinaryOp<"add", AutoPar_NumericTensor, "x + y", [Commutative]> {
  let hasFolder = 1;
}
def AutoPar_SubOp : AutoPar_BinaryOp<"sub", AutoPar_NumericTensor, "x - y"> {
  let hasFolder = 1;
}
def AutoPar_MulOp
    : AutoPar_BinaryOp<"mul", AutoPar_NumericTensor, "x * y", [Commutative]> {
  let hasFolder = 1;
}
def AutoPar_DivOp : AutoPar_BinaryOp<"div", AutoPar_NumericTensor,
    "x / y (integers: truncated toward zero)"> {
  let hasFolder = 1;
}
def AutoPar_MaxOp : AutoPar_BinaryOp<"max", AutoPar_NumericTensor,
    "max(x, y) (NaN propagates)", [Commutative]>;
def AutoPar_MinOp : AutoPar_BinaryOp<"min", AutoPar_NumericTensor,
    "min(x, y) (NaN propagates)", [Commutative]>;
def AutoPar_PowOp : AutoPar_BinaryOp<"pow", AutoPar_FloatTensor, "x ^ y">;

//===----------------------------------------------------------------------===//
// Compare, select, convert
//===----------------------------------------------------------------------===//

def AutoPar_CompareOp : AutoPar_Op<"compare",
    [Elementwise, AllTypesMatch<["lhs", "rhs"]>,
     InferTypeOpAdaptor, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "elementwise comparison";
  let description = [{
    Compares two tensors of the same type element by element and returns an
    `i1` tensor of the same shape. Floats compare as IEEE ordered predicates
    (`ne` is unordered, so `NaN != x` is true, as in numpy).

    ```mlir
    %m = autopar.compare lt, %x, %y : tensor<4xf32>
    ```
  }];
  let arguments = (ins AutoPar_CompareDirection:$direction,
      AutoPar_AnyTensor:$lhs, AutoPar_AnyTensor:$rhs);
  let results = (outs AutoPar_BoolTensor:$result);
  let assemblyFormat = [{
    $direction `,` $lhs `,` $rhs attr-dict `:` type($lhs)
  }];
  let hasVerifier = 1;
}

def AutoPar_SelectOp : AutoPar_Op<"select",
    [Elementwise, AllTypesMatch<["on_true", "on_false", "result"]>, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "elementwise choice";
  let description = [{
    `result[i] = pred[i] ? on_true[i] : on_false[i]`. The predicate is an
    `i1` tensor of the same shape as the other operands.

    ```mlir
    %r = autopar.select %m, %x, %y : tensor<4xi1>, tensor<4xf32>
    ```
  }];
  let arguments = (ins AutoPar_BoolTensor:$pred, AutoPar_AnyTensor:$on_true,
      AutoPar_AnyTensor:$on_false);
  let results = (outs AutoPar_AnyTensor:$result);
  let assemblyFormat = [{
    $pred `,` $on_true `,` $on_false attr-dict `:` type($pred) `,`
    type($result)
  }];
}

def AutoPar_ConvertOp : AutoPar_Op<"convert", [Elementwise, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "element type conversion";
  let description = [{
    Converts every element to the result's element type, as numpy's `astype`:
    float to integer truncates toward zero, anything to `i1` is `x != 0`,
    `i1` to a number gives 0 or 1, float narrowing rounds to nearest even.

    ```mlir
    %h = autopar.convert %x : tensor<4xf32> -> tensor<4xbf16>
    ```
  }];
  let arguments = (ins AutoPar_AnyTensor:$operand);
  let results = (outs AutoPar_AnyTensor:$result);
  let assemblyFormat = [{
    $operand attr-dict `:` type($operand) `->` type($result)
  }];
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Contraction and reduction
//===----------------------------------------------------------------------===//

def AutoPar_DotOp : AutoPar_Op<"dot",
    [InferTypeOpAdaptor, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "general tensor contraction (like StableHLO dot_general)";
  let description = [{
    Contracts `lhs` and `rhs` over the paired contracting dimensions, with the
    paired batch dimensions shared. The result's dimensions are, in order: the
    batch dimensions, the remaining `lhs` dimensions, the remaining `rhs`
    dimensions (each in operand order). Both operands have the same element
    type, which is the result's; a sharding rule can read every dimension's
    role from the attributes.

    ```mlir
    // Batched matmul: [b, m, k] x [b, k, n] -> [b, m, n]
    %c = autopar.dot %a, %b, batch_dims = [0] x [0],
           contracting_dims = [2] x [1]
         : tensor<2x3x4xf32>, tensor<2x4x5xf32> -> tensor<2x3x5xf32>
    ```
  }];
  let arguments = (ins AutoPar_NumericTensor:$lhs,
      AutoPar_NumericTensor:$rhs,
      DenseI64ArrayAttr:$lhs_batch_dims, DenseI64ArrayAttr:$rhs_batch_dims,
      DenseI64ArrayAttr:$lhs_contracting_dims,
      DenseI64ArrayAttr:$rhs_contracting_dims);
  let results = (outs AutoPar_NumericTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs `,` `batch_dims` `=` $lhs_batch_dims `x` $rhs_batch_dims `,`
    `contracting_dims` `=` $lhs_contracting_dims `x` $rhs_contracting_dims
    attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def AutoPar_ReduceOp : AutoPar_Op<"reduce",
    [InferTypeOpAdaptor, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "sum, mean, max or min over a list of dimensions";
  let description = [{
    Reduces the listed dimensions (distinct, in range, any order) and drops
    them from the shape. `mean` is defined for floats only; `max` and `min`
    propagate NaN.

    ```mlir
    %s = autopar.reduce sum %x, dims = [1] : tensor<4x8xf32> -> tensor<4xf32>
    ```
  }];
  let arguments = (ins AutoPar_ReduceKind:$kind,
      AutoPar_NumericTensor:$operand, DenseI64ArrayAttr:$dimensions);
  let results = (outs AutoPar_NumericTensor:$result);
  let assemblyFormat = [{
    $kind $operand `,` `dims` `=` $dimensions attr-dict `:` type($operand)
    `->` type($result)
  }];
  let hasFolder = 1;
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

def AutoPar_ReshapeOp : AutoPar_Op<"reshape", [DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "reshape to a type with the same number of elements";
  let description = [{
    Reinterprets the elements in row-major order under a new static shape.

    ```mlir
    %y = autopar.reshape %x : tensor<2x3x4xf32> -> tensor<6x4xf32>
    ```
  }];
  let arguments = (ins AutoPar_AnyTensor:$operand);
  let results = (outs AutoPar_AnyTensor:$result);
  let assemblyFormat = [{
    $operand attr-dict `:` type($operand) `->` type($result)
  }];
  let hasFolder = 1;
  let hasVerifier = 1;
}

def AutoPar_TransposeOp : AutoPar_Op<"transpose",
    [InferTypeOpAdaptor, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "permute dimensions";
  let description = [{
    `result.shape[i] = operand.shape[perm[i]]`, as numpy's
    `transpose(x, perm)`.

    ```mlir
    %y = autopar.transpose %x, perm = [1, 0] : tensor<2x3xf32> -> tensor<3x2xf32>
    ```
  }];
  let arguments = (ins AutoPar_AnyTensor:$operand,
      DenseI64ArrayAttr:$permutation);
  let results = (outs AutoPar_AnyTensor:$result);
  let assemblyFormat = [{
    $operand `,` `perm` `=` $permutation attr-dict `:` type($operand) `->`
    type($result)
  }];
  let hasFolder = 1;
  let hasVerifier = 1;
}

def AutoPar_BroadcastOp : AutoPar_Op<"broadcast", [DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "explicit broadcast (broadcast_in_dim)";
  let description = [{
    Operand dimension `i` becomes result dimension `dims[i]`; `dims` is
    strictly increasing, and each operand dimension is either 1 or equal to
    the result dimension it maps to. All other result dimensions are new.

    ```mlir
    // bias [8] to [4, 8]
    %b = autopar.broadcast %bias, dims = [1] : tensor<8xf32> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins AutoPar_AnyTensor:$operand,
      DenseI64ArrayAttr:$broadcast_dimensions);
  let results = (outs AutoPar_AnyTensor:$result);
  let assemblyFormat = [{
    $operand `,` `dims` `=` $broadcast_dimensions attr-dict `:`
    type($operand) `->` type($result)
  }];
  let hasFolder = 1;
  let hasVerifier = 1;
}

def AutoPar_SliceOp : AutoPar_Op<"slice",
    [InferTypeOpAdaptor, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "static strided slice";
  let description = [{
    Takes `operand[start:limit:stride]` in every dimension; `0 <= start <=
    limit <= size` and `stride >= 1`. The result size of a dimension is
    `ceil((limit - start) / stride)`.

    ```mlir
    %y = autopar.slice %x, start = [0, 2], limit = [4, 8], strides = [1, 2]
         : tensor<4x8xf32> -> tensor<4x3xf32>
    ```
  }];
  let arguments = (ins AutoPar_AnyTensor:$operand,
      DenseI64ArrayAttr:$start_indices, DenseI64ArrayAttr:$limit_indices,
      DenseI64ArrayAttr:$strides);
  let results = (outs AutoPar_AnyTensor:$result);
  let assemblyFormat = [{
    $operand `,` `start` `=` $start_indices `,` `limit` `=` $limit_indices `,`
    `strides` `=` $strides attr-dict `:` type($operand) `->` type($result)
  }];
  let hasFolder = 1;
  let hasVerifier = 1;
}

def AutoPar_ConcatOp : AutoPar_Op<"concat",
    [InferTypeOpAdaptor, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "concatenate along a dimension";
  let description = [{
    Joins one or more tensors of the same element type and rank along
    `dim`; all other dimensions agree.

    ```mlir
    %y = autopar.concat(%a, %b) dim = 1
         : tensor<2x3xf32>, tensor<2x5xf32> -> tensor<2x8xf32>
    ```
  }];
  let arguments = (ins Variadic<AutoPar_AnyTensor>:$inputs,
      ConfinedAttr<I64Attr, [IntNonNegative]>:$dim);
  let results = (outs AutoPar_AnyTensor:$result);
  let assemblyFormat = [{
    `(` $inputs `)` `dim` `=` $dim attr-dict `:` type($inputs) `->`
    type($result)
  }];
  let hasFolder = 1;
  let hasVerifier = 1;
}

def AutoPar_GatherOp : AutoPar_Op<"gather",
    [InferTypeOpAdaptor, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "take slices along one axis (ONNX Gather, numpy take)";
  let description = [{
    `result[p..., i..., q...] = operand[p..., indices[i...], q...]` where
    `p` ranges over the dimensions before `axis` and `q` over those after
    it. The result shape is `operand.shape[:axis] + indices.shape +
    operand.shape[axis+1:]`. A negative index counts from the end (as numpy
    and ONNX); an index still outside `[0, size)` is clamped into it (as XLA),
    so execution never reads out of bounds.

    ```mlir
    %y = autopar.gather %x, %idx, axis = 0
         : tensor<10x4xf32>, tensor<3xi64> -> tensor<3x4xf32>
    ```
  }];
  let arguments = (ins AutoPar_AnyTensor:$operand,
      AutoPar_IndexTensor:$indices,
      ConfinedAttr<I64Attr, [IntNonNegative]>:$axis);
  let results = (outs AutoPar_AnyTensor:$result);
  let assemblyFormat = [{
    $operand `,` $indices `,` `axis` `=` $axis attr-dict `:` type($operand)
    `,` type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

def AutoPar_ScatterAddOp : AutoPar_Op<"scatter_add",
    [InferTypeOpAdaptor,
     DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "add slices into a tensor at indices (the inverse of gather)";
  let description = [{
    `result = target` with, for every index position `i...`,
    `result[p..., indices[i...], q...] += updates[p..., i..., q...]`
    (repeated indices accumulate). `updates` has the shape gather would
    produce: `target.shape[:axis] + indices.shape + target.shape[axis+1:]`.
    Indices are wrapped and clamped exactly as `autopar.gather` does, so that
    it is gather's transpose (and its gradient).

    ```mlir
    %t = autopar.scatter_add %zeros, %ids, %grads, axis = 0
         : tensor<100x16xf32>, tensor<8xi64>, tensor<8x16xf32> -> tensor<100x16xf32>
    ```
  }];
  let arguments = (ins AutoPar_NumericTensor:$target,
      AutoPar_IndexTensor:$indices, AutoPar_NumericTensor:$updates,
      ConfinedAttr<I64Attr, [IntNonNegative]>:$axis);
  let results = (outs AutoPar_NumericTensor:$result);
  let assemblyFormat = [{
    $target `,` $indices `,` $updates `,` `axis` `=` $axis attr-dict `:`
    type($target) `,` type($indices) `,` type($updates) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Composites
//===----------------------------------------------------------------------===//

def AutoPar_EmbeddingOp : AutoPar_Op<"embedding",
    [InferTypeOpAdaptor]> {
  let summary = "embedding lookup";
  let description = [{
    Looks up rows of a `[vocab, dim]` table: `result[i..., :] =
    table[ids[i...], :]`. Index handling is that of `autopar.gather` with
    `axis = 0`. It is its own op because it has its own sharding rule
    (vocab-parallel) and backward (scatter-add).

    ```mlir
    %e = autopar.embedding %table, %ids
         : tensor<100x16xf32>, tensor<2x8xi64> -> tensor<2x8x16xf32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$table, AutoPar_IndexTensor:$ids);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $table `,` $ids attr-dict `:` type($table) `,` type($ids) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def AutoPar_LinearOp : AutoPar_Op<"linear", [InferTypeOpAdaptor]> {
  let summary = "fully connected layer: x @ w (+ bias)";
  let description = [{
    Contracts the last dimension of `input [..., K]` with the weight and
    adds the optional `bias [N]` to every row: the result is `[..., N]`. The
    weight is `[K, N]`, or `[N, K]` (PyTorch's layout) with
    `weight_transposed`. A composite of its own because tensor parallelism
    splits it by column or by row.

    ```mlir
    %y = autopar.linear %x, %w, %b {weight_transposed}
         : tensor<4x8xf32>, tensor<16x8xf32>, tensor<16xf32> -> tensor<4x16xf32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$input, AutoPar_FloatTensor:$weight,
      Optional<AutoPar_FloatTensor>:$bias, UnitAttr:$weight_transposed);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

class AutoPar_SoftmaxLikeOp<string mnemonic, string formula>
    : AutoPar_Op<mnemonic, [SameOperandsAndResultType,
                            DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = mnemonic # " along one axis";
  let description = [{
    Computes `}] # formula # [{` along `axis`, with the maximum
    subtracted first for stability.

    ```mlir
    %y = autopar.}] # mnemonic # [{ %x, axis = 1 : tensor<4x8xf32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$operand,
      ConfinedAttr<I64Attr, [IntNonNegative]>:$axis);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $operand `,` `axis` `=` $axis attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def AutoPar_SoftmaxOp
    : AutoPar_SoftmaxLikeOp<"softmax", "exp(x) / sum(exp(x))">;
def AutoPar_LogSoftmaxOp
    : AutoPar_SoftmaxLikeOp<"log_softmax", "x - log(sum(exp(x)))">;

def AutoPar_LayerNormOp : AutoPar_Op<"layer_norm",
    [AllTypesMatch<["operand", "result"]>,
     AllTypesMatch<["scale", "bias"]>]> {
  let summary = "layer normalization over the trailing dimensions";
  let description = [{
    Normalizes over dimensions `[axis, rank)`:
    `(x - mean) / sqrt(var + epsilon) * scale + bias`, with the biased
    variance (as PyTorch's `LayerNorm` and ONNX's `LayerNormalization`).
    `scale` and `bias` have shape `operand.shape[axis:]`.

    ```mlir
    %y = autopar.layer_norm %x, %gamma, %beta, axis = 1, epsilon = 1.0e-05
         : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$operand,
      AutoPar_FloatTensor:$scale, AutoPar_FloatTensor:$bias,
      ConfinedAttr<I64Attr, [IntNonNegative]>:$axis, F64Attr:$epsilon);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $operand `,` $scale `,` $bias `,` `axis` `=` $axis `,` `epsilon` `=`
    $epsilon attr-dict `:` type($operand) `,` type($scale) `->` type($result)
  }];
  let hasVerifier = 1;
}

def AutoPar_RmsNormOp : AutoPar_Op<"rms_norm",
    [AllTypesMatch<["operand", "result"]>]> {
  let summary = "RMS normalization over the trailing dimensions";
  let description = [{
    Normalizes over dimensions `[axis, rank)`:
    `x / sqrt(mean(x^2) + epsilon) * scale`, as PyTorch's `RMSNorm`.
    `scale` has shape `operand.shape[axis:]`.

    ```mlir
    %y = autopar.rms_norm %x, %gamma, axis = 1, epsilon = 1.0e-06
         : tensor<4x8xf32>, tensor<8xf32> -> tensor<4x8xf32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$operand,
      AutoPar_FloatTensor:$scale,
      ConfinedAttr<I64Attr, [IntNonNegative]>:$axis, F64Attr:$epsilon);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $operand `,` $scale `,` `axis` `=` $axis `,` `epsilon` `=` $epsilon
    attr-dict `:` type($operand) `,` type($scale) `->` type($result)
  }];
  let hasVerifier = 1;
}

def AutoPar_AttentionOp : AutoPar_Op<"attention",
    [InferTypeOpAdaptor, DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "scaled dot-product attention";
  let description = [{
    `softmax(q @ k^T * scale + mask) @ v` over the last two dimensions, with
    any leading (batch, head) dimensions shared by all operands:
    `query [..., Sq, D]`, `key [..., Sk, D]`, `value [..., Sk, Dv]`, result
    `[..., Sq, Dv]`. `scale` defaults to `1 / sqrt(D)`. `causal` masks out
    keys after the query position (`j > i`), as PyTorch's
    `scaled_dot_product_attention(is_causal=True)`. The optional additive
    `mask` has shape `[..., Sq, Sk]` (broadcasts are explicit).

    ```mlir
    %o = autopar.attention %q, %k, %v {causal}
         : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>
           -> tensor<2x4x8x16xf32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$query, AutoPar_FloatTensor:$key,
      AutoPar_FloatTensor:$value, Optional<AutoPar_FloatTensor>:$mask,
      UnitAttr:$causal, OptionalAttr<F64Attr>:$scale);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` $mask^)? attr-dict `:` type($query)
    `,` type($key) `,` type($value) (`,` type($mask)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def AutoPar_AttentionGradOp : AutoPar_Op<"attention_grad",
    [InferTypeOpAdaptor]> {
  let summary = "gradients of scaled dot-product attention (no mask)";
  let description = [{
    The vector-Jacobian product of `autopar.attention` without a `mask`
    operand: for `output = attention(query, key, value)` (same `causal` and
    `scale`) and the output's cotangent `output_grad`, returns the
    cotangents of `query`, `key` and `value`. With `P = softmax(S)`,
    `S = query @ key^T * scale` (causal: keys after the query position
    masked out):

    ```
    dV = P^T @ dO,  dP = dO @ V^T,  dS = P * (dP - rowsum(dP * P)) * scale,
    dQ = dS @ K,    dK = dS^T @ Q
    ```

    autopar-autodiff emits it for attentions it keeps whole
    (`keep-attention`); a fused kernel recomputes `P` from the operands
    instead of storing it between the passes (flash attention). Backends
    without such a kernel decompose it into the products above. In bf16 or
    f16 the products take narrow operands and accumulate in f32; `S`, `P`
    and `dS` are computed in f32 and rounded only where they enter a
    product.

    ```mlir
    %dq, %dk, %dv = autopar.attention_grad %q, %k, %v, %o, %do {causal}
         : tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>,
           tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$query, AutoPar_FloatTensor:$key,
      AutoPar_FloatTensor:$value, AutoPar_FloatTensor:$output,
      AutoPar_FloatTensor:$output_grad, UnitAttr:$causal,
      OptionalAttr<F64Attr>:$scale);
  let results = (outs AutoPar_FloatTensor:$query_grad,
      AutoPar_FloatTensor:$key_grad, AutoPar_FloatTensor:$value_grad);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $output `,` $output_grad attr-dict `:`
    type($query) `,` type($key) `,` type($value) `,` type($output) `,`
    type($output_grad)
  }];
  let hasVerifier = 1;
}

def AutoPar_CrossEntropyOp : AutoPar_Op<"cross_entropy",
    [InferTypeOpAdaptor]> {
  let summary = "softmax cross-entropy, mean over all label positions";
  let description = [{
    For logits `[..., C]` and integer labels `[...]`, returns the scalar
    `mean(-log_softmax(logits)[..., label])`, as PyTorch's
    `cross_entropy(reduction="mean")` on flattened positions. A label
    outside `[0, C)` is clamped into it.

    ```mlir
    %l = autopar.cross_entropy %logits, %labels
         : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$logits,
      AutoPar_IndexTensor:$labels);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` type($logits) `,` type($labels) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Collectives over the axes of a device grid
//===----------------------------------------------------------------------===//

class AutoPar_CollectiveOp<string mnemonic, list<Trait> traits = []>
    : AutoPar_Op<mnemonic, !listconcat(traits,
                 [SameOperandsAndResultType,
                  DeclareOpInterfaceMethods<SymbolUserOpInterface>,
                  DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>])> {
  let arguments = (ins AutoPar_FloatTensor:$operand,
      FlatSymbolRefAttr:$grid, DenseI64ArrayAttr:$grid_axes);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $operand `on` $grid `grid_axes` `=` $grid_axes attr-dict `:` type($result)
  }];
}

def AutoPar_AllReduceOp : AutoPar_CollectiveOp<"all_reduce"> {
  let summary = "sum over the processes of grid axes (Megatron's g)";
  let description = [{
    Every process of a group (the processes that differ only in their
    coordinates along `grid_axes` of the `shard.grid` named `grid`) gets the
    elementwise sum of the group's operands. Tensor parallelism puts it
    after a row-parallel layer, whose outputs are partial sums.

    The value it returns is the same on every process of the group and is
    used as such, so its vector-Jacobian product is the identity: each
    process's cotangent is already the whole one. Its transpose is
    `autopar.grad_all_reduce`.

    ```mlir
    %y = autopar.all_reduce %partial on @autopar_grid grid_axes = [1]
         : tensor<4x8xf32>
    ```
  }];
}

def AutoPar_AllReduceMaxOp : AutoPar_CollectiveOp<"all_reduce_max"> {
  let summary = "elementwise maximum over the processes of grid axes";
  let description = [{
    Every process of the group gets the elementwise maximum of the group's
    operands. It is not differentiated: its vector-Jacobian product passes
    no cotangent, which is exact where the result only shifts an expression
    that does not change under the shift (the maximum subtracted from
    logits before a softmax or cross-entropy split by vocabulary).

    ```mlir
    %m = autopar.all_reduce_max %local on @autopar_grid grid_axes = [1]
         : tensor<8xf32>
    ```
  }];
}

def AutoPar_GridIndexOp : AutoPar_Op<"grid_index",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>,
     DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>]> {
  let summary = "this process's coordinate along a grid axis";
  let description = [{
    The coordinate, from 0, of the running process along axis `axis` of the
    `shard.grid` named `grid`, as a 0-d `i64` tensor. A vocabulary-parallel
    embedding uses it to find the rows of the table its process holds.

    ```mlir
    %r = autopar.grid_index @autopar_grid axis = 1 : tensor<i64>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$grid,
      ConfinedAttr<I64Attr, [IntNonNegative]>:$axis);
  let results = (outs 0DTensorOf<[I64]>:$result);
  let assemblyFormat = "$grid `axis` `=` $axis attr-dict `:` type($result)";
}

def AutoPar_GradAllReduceOp : AutoPar_CollectiveOp<"grad_all_reduce"> {
  let summary = "identity whose gradient is summed over grid axes (Megatron's f)";
  let description = [{
    Returns its operand. It marks where a value that every process of the
    group holds whole enters work split across the group (the input of a
    column-parallel layer): each process then gets only its share of the
    value's cotangent, so the vector-Jacobian product sums the cotangent
    over the group with `autopar.all_reduce`. Lowering drops it.

    ```mlir
    %x1 = autopar.grad_all_reduce %x on @autopar_grid grid_axes = [1]
          : tensor<4x8xf32>
    ```
  }];
}


class AutoPar_DimCollectiveOp<string mnemonic, list<Trait> traits = []>
    : AutoPar_Op<mnemonic, !listconcat(traits,
                 [DeclareOpInterfaceMethods<SymbolUserOpInterface>,
                  DeclareOpInterfaceMethods<AutoPar_VJPOpInterface>])> {
  let arguments = (ins AutoPar_FloatTensor:$operand,
      FlatSymbolRefAttr:$grid, DenseI64ArrayAttr:$grid_axes,
      ConfinedAttr<I64Attr, [IntNonNegative]>:$dim);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $operand `on` $grid `grid_axes` `=` $grid_axes `dim` `=` $dim attr-dict
    `:` type($operand) `->` type($result)
  }];
}

def AutoPar_AllGatherOp : AutoPar_DimCollectiveOp<"all_gather"> {
  let summary = "concatenate the group's blocks along a dimension";
  let description = [{
    Every process of the group (see `autopar.all_reduce`) gets the
    concatenation along `dim` of the group's operands, in the order of
    their coordinates: the result's `dim` is the group size times the
    operand's. Sequence parallelism gathers the sequence before work that
    needs all of it.

    With `partial_grad`, what consumes the result is split across the group
    (a column-parallel layer), so each process's cotangent is partial and
    the vector-Jacobian product is `autopar.reduce_scatter` (Megatron's
    gather with `tensor_parallel_output_grad`); without it, the consumers
    compute the same on every process and the product is
    `autopar.local_slice`.

    ```mlir
    %x = autopar.all_gather %part on @autopar_grid grid_axes = [1] dim = 1
         {partial_grad} : tensor<2x4x16xf32> -> tensor<2x8x16xf32>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$operand,
      FlatSymbolRefAttr:$grid, DenseI64ArrayAttr:$grid_axes,
      ConfinedAttr<I64Attr, [IntNonNegative]>:$dim, UnitAttr:$partial_grad);
}

def AutoPar_ReduceScatterOp : AutoPar_DimCollectiveOp<"reduce_scatter"> {
  let summary = "sum over the group, each process keeping its block";
  let description = [{
    The elementwise sum of the group's operands, of which process `r` of
    the group keeps block `r` along `dim` (the result's `dim` is the
    operand's divided by the group size). Sequence parallelism puts it
    after a row-parallel layer in place of `autopar.all_reduce`. Its
    vector-Jacobian product is `autopar.all_gather`.

    ```mlir
    %y = autopar.reduce_scatter %partial on @autopar_grid grid_axes = [1]
         dim = 1 : tensor<2x8x16xf32> -> tensor<2x4x16xf32>
    ```
  }];
}

def AutoPar_LocalSliceOp : AutoPar_DimCollectiveOp<"local_slice"> {
  let summary = "this process's block of a value the group holds whole";
  let description = [{
    Block `r` along `dim` for process `r` of the group; no communication.
    Sequence parallelism cuts a whole value (the embeddings) into the
    sequence blocks the processes work on. Its vector-Jacobian product is
    `autopar.all_gather`.

    ```mlir
    %p = autopar.local_slice %x on @autopar_grid grid_axes = [1] dim = 1
         : tensor<2x8x16xf32> -> tensor<2x4x16xf32>
    ```
  }];
}

def AutoPar_AllReduceStartOp : Op<AutoPar_Dialect, "all_reduce_start",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>,
     MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "start summing a value over grid axes, without waiting";
  let description = [{
    Starts the sum of `operand` over the group of `grid_axes` (see
    `autopar.all_reduce`) and returns a request for
    `autopar.all_reduce_wait`, which gives the sum. The work between the two
    runs while the sum travels: the data-parallel gradient sums start as
    each gradient of the backward pass is complete
    (`autopar-overlap-gradient-sums`). Starts and waits have side effects,
    so they are neither merged nor moved; every process must start the same
    sums in the same order. No vector-Jacobian product: it goes after
    autodiff.

    ```mlir
    %r = autopar.all_reduce_start %g on @autopar_grid grid_axes = [0]
         : tensor<8x16xf32> -> tensor<i64>
    ```
  }];
  let arguments = (ins AutoPar_FloatTensor:$operand,
      FlatSymbolRefAttr:$grid, DenseI64ArrayAttr:$grid_axes);
  let results = (outs 0DTensorOf<[I64]>:$request);
  let assemblyFormat = [{
    $operand `on` $grid `grid_axes` `=` $grid_axes attr-dict `:`
    type($operand) `->` type($request)
  }];
}

def AutoPar_AllReduceWaitOp : Op<AutoPar_Dialect, "all_reduce_wait",
    [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "the sum an autopar.all_reduce_start started";
  let description = [{
    Waits for the sum that `request` (an `autopar.all_reduce_start`'s
    result) started and returns it; the result type is the started
    operand's. Each request is waited for exactly once.

    ```mlir
    %s = autopar.all_reduce_wait %r : tensor<i64> -> tensor<8x16xf32>
    ```
  }];
  let arguments = (ins 0DTensorOf<[I64]>:$request);
  let results = (outs AutoPar_FloatTensor:$result);
  let assemblyFormat = [{
    $request attr-dict `:` type($request) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPAROPS_TD
