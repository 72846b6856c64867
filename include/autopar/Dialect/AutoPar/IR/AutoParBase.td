//===- AutoParBase.td - autopar dialect, enums, attributes -*- tablegen -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPARBASE_TD
#define AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPARBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/CommonTypeConstraints.td"

def AutoPar_Dialect : Dialect {
  let name = "autopar";
  let cppNamespace = "::mlir::autopar";
  let summary = "Graph-level tensor operations for training compilation";
  let description = [{
    The `autopar` dialect holds a model at the graph level: value semantics on
    ranked, statically shaped tensors, explicit broadcasts (no implicit numpy
    broadcasting: binary operands must have identical types), and one op per
    mathematical operation that matters for sharding, fusion or kernels.

    Primitive ops (elementwise math, `dot`, `reduce`, shape ops) are lowered
    directly to `linalg`/`tensor`/`arith`/`math`. Composite ops (`softmax`,
    `layer_norm`, `attention`, `cross_entropy`, ...) keep their structure so
    that later passes can give them dedicated kernels and sharding rules; on
    the CPU path they are decomposed into primitives first.

    Element types: `f16`, `bf16`, `f32`, `f64`, `i64`, `i32`, `i1`. Integer
    tensors are signless and interpreted as signed.
  }];
  let dependentDialects = [];
  let hasConstantMaterializer = 1;
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def AutoPar_FloatElement : AnyTypeOf<[F16, BF16, F32, F64]>;
def AutoPar_IntElement : AnyTypeOf<[I32, I64]>;

def AutoPar_AnyTensor : StaticShapeTensorOf<[F16, BF16, F32, F64, I32, I64, I1]>;
def AutoPar_NumericTensor : StaticShapeTensorOf<[F16, BF16, F32, F64, I32, I64]>;
def AutoPar_FloatTensor : StaticShapeTensorOf<[F16, BF16, F32, F64]>;
def AutoPar_IndexTensor : StaticShapeTensorOf<[I32, I64]>;
def AutoPar_BoolTensor : StaticShapeTensorOf<[I1]>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def AutoPar_CompareDirection : I32EnumAttr<"CompareDirection",
    "direction of an elementwise comparison", [
  I32EnumAttrCase<"EQ", 0, "eq">,
  I32EnumAttrCase<"NE", 1, "ne">,
  I32EnumAttrCase<"LT", 2, "lt">,
  I32EnumAttrCase<"LE", 3, "le">,
  I32EnumAttrCase<"GT", 4, "gt">,
  I32EnumAttrCase<"GE", 5, "ge">
]> {
  let cppNamespace = "::mlir::autopar";
}

def AutoPar_ReduceKind : I32EnumAttr<"ReduceKind", "kind of a reduction", [
  I32EnumAttrCase<"Sum", 0, "sum">,
  I32EnumAttrCase<"Mean", 1, "mean">,
  I32EnumAttrCase<"Max", 2, "max">,
  I32EnumAttrCase<"Min", 3, "min">
]> {
  let cppNamespace = "::mlir::autopar";
}

def AutoPar_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "formula used by gelu", [
  I32EnumAttrCase<"None", 0, "none">,
  I32EnumAttrCase<"Tanh", 1, "tanh">
]> {
  let cppNamespace = "::mlir::autopar";
}

#endif // AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPARBASE_TD
