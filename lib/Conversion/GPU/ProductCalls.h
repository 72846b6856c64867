//===- ProductCalls.h - the runtime's product calls -------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// What autopar-pad-products and autopar-transpose-product-results read of a
// call autopar-contractions-to-calls made: the constant loop description it
// passes (per loop, the dimension of A, B and C it indexes, or -1; then 1
// where the product overwrites C).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_LIB_CONVERSION_GPU_PRODUCTCALLS_H
#define AUTOPAR_LIB_CONVERSION_GPU_PRODUCTCALLS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/SymbolTable.h"

#include <optional>

namespace mlir::autopar::products {

/// A product call's loop description: the constant global its last operand
/// (a cast of a `memref.get_global`) reads, the get_global, and the values.
struct LoopDescription {
  memref::GlobalOp global;
  memref::GetGlobalOp get;
  SmallVector<int64_t> values;
  /// The loops it describes (three entries each).
  unsigned numLoops() const { return unsigned(values.size() / 3); }
};

inline std::optional<LoopDescription> loopDescription(func::CallOp call,
                                                      SymbolTable &symbols) {
  auto cast = call.getOperands().back().getDefiningOp<memref::CastOp>();
  if (!cast)
    return std::nullopt;
  auto get = cast.getSource().getDefiningOp<memref::GetGlobalOp>();
  if (!get)
    return std::nullopt;
  auto global = symbols.lookup<memref::GlobalOp>(get.getName());
  if (!global || !global.getConstant())
    return std::nullopt;
  auto value =
      dyn_cast_or_null<DenseIntElementsAttr>(global.getInitialValueAttr());
  if (!value)
    return std::nullopt;
  LoopDescription d{global, get, {}};
  for (const APInt &v : value.getValues<APInt>())
    d.values.push_back(v.getSExtValue());
  return d;
}

} // namespace mlir::autopar::products

#endif // AUTOPAR_LIB_CONVERSION_GPU_PRODUCTCALLS_H
