//===- ONNXImporter.h - ONNX models into the autopar dialect ----*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_IMPORT_ONNX_ONNXIMPORTER_H
#define AUTOPAR_IMPORT_ONNX_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::autopar {

/// A parameter's initial value as the model stores it (little-endian bytes).
struct ImportedWeight {
  std::string name;
  /// "F32", "F64", "I64", "I32" or "BOOL" (safetensors names).
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<char> data;
};

struct ONNXImportOptions {
  /// Name of the weights file recorded in the module's `autopar.weights`
  /// attribute (relative to the module file). Empty: no attribute.
  std::string weightsFileName;
  /// Name of the generated function.
  std::string functionName = "forward";
};

struct ImportedModel {
  OwningOpRef<ModuleOp> module;
  /// Parameters in function-argument order.
  std::vector<ImportedWeight> weights;
};

/// Reads the ONNX model at `path` and builds `func @forward` in the autopar
/// dialect. Graph inputs become arguments with `{autopar.role = "input"}`,
/// floating-point initializers become trailing arguments with
/// `{autopar.role = "param", autopar.name = "<initializer name>"}` in the
/// model's initializer order, integer initializers become constants. Every
/// problem is reported through the context's diagnostic handler (all
/// unsupported ops at once, with their node names) and yields failure.
FailureOr<ImportedModel> importONNXFile(MLIRContext *context,
                                        llvm::StringRef path,
                                        const ONNXImportOptions &options);

/// The same from bytes already in memory; `modelDir` resolves external data.
FailureOr<ImportedModel> importONNXBytes(MLIRContext *context,
                                         llvm::StringRef bytes,
                                         llvm::StringRef sourceName,
                                         llvm::StringRef modelDir,
                                         const ONNXImportOptions &options);

/// The ONNX op types (default domain) the importer converts, sorted.
std::vector<std::string> supportedONNXOps();

} // namespace mlir::autopar

#endif // AUTOPAR_IMPORT_ONNX_ONNXIMPORTER_H
