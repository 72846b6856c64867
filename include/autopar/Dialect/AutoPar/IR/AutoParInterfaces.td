//===- AutoParInterfaces.td - autopar op interfaces --------*- tablegen -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPARINTERFACES_TD
#define AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPARINTERFACES_TD

include "mlir/IR/OpBase.td"

def AutoPar_VJPOpInterface : OpInterface<"VJPOpInterface"> {
  let description = [{
    Reverse-mode differentiation of one op: its vector-Jacobian product.
    `autopar-autodiff` walks a function backwards and asks each op for the
    cotangents of its operands given those of its results.
  }];
  let cppNamespace = "::mlir::autopar";
  let methods = [
    InterfaceMethod<[{
        Given the cotangent of each result (a null Value where a result does
        not reach the loss), appends exactly one cotangent per operand to
        `operandCotangents`, a null Value for operands that are not
        differentiable (integer indices, predicates). New ops are created
        with `builder` at its insertion point. Fails, with a diagnostic on
        the op, for a configuration it cannot differentiate.
      }],
      "::llvm::LogicalResult", "buildVJP",
      (ins "::mlir::OpBuilder &":$builder,
           "::mlir::ValueRange":$resultCotangents,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandCotangents)>
  ];
}

#endif // AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPARINTERFACES_TD
