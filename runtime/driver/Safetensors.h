//===- Safetensors.h - reading and writing .safetensors files ---*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The weights format: an 8-byte little-endian header length, a JSON header
// mapping each tensor name to {"dtype", "shape", "data_offsets": [begin,
// end]} (plus an optional "__metadata__" object of strings), then the
// tensors' bytes. Every offset, shape and dtype is validated against the
// file; a bad file is an error naming the tensor, never an out-of-bounds
// read.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_DRIVER_SAFETENSORS_H
#define AUTOPAR_RUNTIME_DRIVER_SAFETENSORS_H

#include "Npy.h"

#include <functional>
#include <map>
#include <string>

namespace autopar {

/// Tensors by name, in name order (safetensors files are written sorted).
using TensorMap = std::map<std::string, NpyArray>;

/// The safetensors dtype name ("F32", "F64", "F16", "I64", "I32", "BOOL").
llvm::StringRef safetensorsDType(DType dtype);

/// What to keep of each tensor as it is read (the tensor itself by
/// default): a process keeps its part of a split parameter, so that no
/// more than one whole tensor is in memory at a time.
using TensorFilter =
    std::function<NpyArray(const std::string &name, NpyArray whole)>;

llvm::Expected<TensorMap> parseSafetensors(llvm::StringRef bytes,
                                           llvm::StringRef name,
                                           const TensorFilter &filter = {});
llvm::Expected<TensorMap> readSafetensors(llvm::StringRef path,
                                          const TensorFilter &filter = {});
std::string serializeSafetensors(const TensorMap &tensors);
/// Writes to a temporary file next to `path` and renames it into place, so
/// a reader never sees a half-written file.
llvm::Error writeSafetensors(llvm::StringRef path, const TensorMap &tensors);

} // namespace autopar

#endif // AUTOPAR_RUNTIME_DRIVER_SAFETENSORS_H
