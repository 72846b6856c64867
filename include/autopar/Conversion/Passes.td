//===- Passes.td - autopar conversion passes ---------------*- tablegen -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_CONVERSION_PASSES_TD
#define AUTOPAR_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertAutoParToLinalgPass
    : Pass<"convert-autopar-to-linalg", "func::FuncOp"> {
  let summary = "Lower the autopar dialect to linalg, tensor, arith and math";
  let description = [{
    Lowers every `autopar` op to destination-passing `linalg` ops on tensors
    (`linalg.generic` for elementwise math, contractions and reductions,
    `linalg.transpose`), `scf.for` loops for `scatter_add` (whose repeated
    indices accumulate), `tensor` ops for shape manipulation
    (`collapse_shape`/`expand_shape`, `extract_slice`, `insert_slice`), and
    `arith`/`math` in the bodies. Composite ops are first decomposed into
    primitives with the patterns of `autopar-decompose-composites`. The
    result is ready for one-shot bufferization. Fails, naming the op, if any
    `autopar` op is left.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::autopar::AutoParDialect"
  ];
}

#endif // AUTOPAR_CONVERSION_PASSES_TD
