//===- Npy.h - reading and writing numpy .npy files -------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The driver's tensor I/O. Reads format versions 1.0, 2.0 and 3.0 with
// little-endian float32, float64, float16, int64, int32 and bool data in C
// order;
// everything else (big-endian, Fortran order, object arrays, a truncated
// file, a shape whose size overflows) is an error naming the file and the
// reason, never a crash.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_DRIVER_NPY_H
#define AUTOPAR_RUNTIME_DRIVER_NPY_H

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace autopar {

/// The order matches the dtype table in Npy.cpp.
enum class DType { F32, F64, I64, I32, Bool, F16 };

/// Bytes per element of `dtype`.
size_t dtypeSize(DType dtype);
/// numpy's name for `dtype` ("float32", ...).
llvm::StringRef dtypeName(DType dtype);
/// The .npy descr string ("<f4", ...).
llvm::StringRef dtypeDescr(DType dtype);

/// A dense, C-ordered array.
struct NpyArray {
  DType dtype = DType::F32;
  llvm::SmallVector<int64_t> shape;
  std::vector<char> data;

  /// Number of elements (1 for a scalar).
  int64_t numElements() const;
  /// "(2, 3)" as numpy prints shapes.
  std::string shapeString() const;
};

/// Element count of `shape`, or std::nullopt if it or its byte size for
/// `elementSize`-byte elements overflows int64 or a dimension is negative.
std::optional<int64_t> checkedNumElements(llvm::ArrayRef<int64_t> shape,
                                          size_t elementSize);

/// The index of the first NaN or infinity in a float32/float64 array, if
/// any (other dtypes have none).
std::optional<int64_t> firstNonFinite(const NpyArray &array);

/// Part `index` of `parts` equal parts of `array` along dimension `dim`: a
/// process's shard of a split tensor. With `groups` > 1 the dimension is
/// `groups` consecutive groups (a fused projection's query, key and value)
/// and the part is block `index` of every group, in order. `groups * parts`
/// must divide the dimension.
NpyArray sliceAlong(const NpyArray &array, int64_t dim, int64_t parts,
                    int64_t index, int64_t groups = 1);
/// The inverse: the tensor whose parts along `dim` (of `groups` groups) are
/// `pieces` (same dtype and shape), in order.
NpyArray concatAlong(llvm::ArrayRef<NpyArray> pieces, int64_t dim,
                     int64_t groups = 1);

/// Parses .npy bytes; `name` is used in error messages.
llvm::Expected<NpyArray> parseNpy(llvm::StringRef bytes, llvm::StringRef name);
/// Reads and parses a .npy file.
llvm::Expected<NpyArray> readNpy(llvm::StringRef path);
/// Serializes to .npy bytes (format 1.0, or 2.0 for very long headers).
std::string serializeNpy(const NpyArray &array);
/// Writes a .npy file.
llvm::Error writeNpy(llvm::StringRef path, const NpyArray &array);

} // namespace autopar

#endif // AUTOPAR_RUNTIME_DRIVER_NPY_H
