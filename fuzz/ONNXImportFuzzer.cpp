//===- ONNXImportFuzzer.cpp - fuzz target for the ONNX importer -----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// libFuzzer entry point: any bytes go to importONNXBytes, which must report
// problems as diagnostics and never crash. Built with -fsanitize=fuzzer when
// the compiler is clang (AUTOPAR_ENABLE_LIBFUZZER=ON); ReplayMain.cpp runs
// the same function over files with any compiler, which is how the test
// suite's mutation test (test/Import/ONNX/fuzz-import.test) drives it.
//
//===----------------------------------------------------------------------===//

#include "autopar/Import/ONNX/ONNXImporter.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext context;
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  mlir::autopar::ONNXImportOptions options;
  // External data resolves inside a folder that does not exist, so fuzz
  // inputs can exercise the checks but never read files.
  (void)mlir::autopar::importONNXBytes(
      &context, llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "fuzz.onnx", "/nonexistent-autopar-fuzz-dir", options);
  return 0;
}
