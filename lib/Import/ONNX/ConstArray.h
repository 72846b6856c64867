//===- ConstArray.h - import-time evaluation of small tensors ---*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Exporters compute shapes inside the graph (Shape -> Gather -> Unsqueeze ->
// Concat -> Reshape). With static input shapes every such value is known at
// import time; ConstArray evaluates them so that they fold away and the
// imported IR has static shapes. Values are held as long double, which on
// x86-64 has a 64-bit mantissa and so represents every int64 exactly (ONNX
// uses INT64_MAX as "to the end" in Slice).
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_LIB_IMPORT_ONNX_CONSTARRAY_H
#define AUTOPAR_LIB_IMPORT_ONNX_CONSTARRAY_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <vector>

namespace mlir::autopar::onnx_import {

struct ConstArray {
  Type elementType;
  SmallVector<int64_t> shape;
  std::vector<long double> values;

  int64_t size() const { return values.size(); }
  bool isFloat() const { return isa<FloatType>(elementType); }
  RankedTensorType type() const {
    return RankedTensorType::get(shape, elementType);
  }

  static ConstArray fromAttr(DenseElementsAttr attr);
  DenseElementsAttr toAttr() const;
  /// Values as int64, saturating at the int64 range.
  std::vector<int64_t> ints() const;

  static ConstArray scalarLike(Type elementType, long double v);
  static ConstArray vector(Type elementType, llvm::ArrayRef<int64_t> values);
};

/// Row-major strides of `shape`.
SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape);

/// numpy broadcasting of two shapes, or nullopt if they are incompatible.
std::optional<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> a,
                                                    ArrayRef<int64_t> b);

/// Elementwise over broadcast operands; the result has `resultType`.
ConstArray
mapElements(ArrayRef<const ConstArray *> operands, Type resultType,
            llvm::function_ref<long double(ArrayRef<long double>)> fn);

/// Rounds `v` as an element of `type` would hold it (integers truncate
/// toward zero and wrap to their width, i1 is v != 0, floats round to the
/// type's precision).
long double roundTo(Type type, long double v);

ConstArray transpose(const ConstArray &a, ArrayRef<int64_t> perm);
ConstArray gather(const ConstArray &data, const ConstArray &indices,
                  int64_t axis);
/// Strided slice with per-dimension start, size and (possibly negative) step.
ConstArray slice(const ConstArray &a, ArrayRef<int64_t> starts,
                 ArrayRef<int64_t> sizes, ArrayRef<int64_t> steps);
ConstArray concat(ArrayRef<const ConstArray *> parts, int64_t axis);

} // namespace mlir::autopar::onnx_import

#endif // AUTOPAR_LIB_IMPORT_ONNX_CONSTARRAY_H
