//===- autopar-opt.cpp - the autopar pass driver --------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// mlir-opt with the autopar dialect, passes and pipelines registered next to
// every upstream dialect, pass and extension autopar builds on.
//
//===----------------------------------------------------------------------===//

#include "autopar/Pipelines/Pipelines.h"
#include "autopar/Support/InputGuard.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

int main(int argc, char **argv) {
  mlir::autopar::registerAllAutoParPasses();

  mlir::DialectRegistry registry;
  mlir::autopar::registerAutoParDialects(registry);

  auto [inputFilename, outputFilename] = mlir::registerAndParseCLIOptions(
      argc, argv, "autopar optimizer driver\n", registry);

  auto config = mlir::MlirOptMainConfig::createFromCLOptions();
  std::string errorMessage;
  std::unique_ptr<llvm::MemoryBuffer> input =
      mlir::openInputFile(inputFilename, &errorMessage);
  if (!input) {
    llvm::WithColor::error(llvm::errs(), "autopar-opt") << errorMessage << "\n";
    return 1;
  }
  // Refuse input whose nesting would overflow the recursive parser's stack.
  if (auto error = mlir::autopar::checkIRNestingDepth(input->getBuffer())) {
    llvm::WithColor::error(llvm::errs(), "autopar-opt")
        << inputFilename << ": " << *error << "\n";
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output =
      mlir::openOutputFile(outputFilename, &errorMessage);
  if (!output) {
    llvm::WithColor::error(llvm::errs(), "autopar-opt") << errorMessage << "\n";
    return 1;
  }
  if (mlir::failed(
          mlir::MlirOptMain(output->os(), std::move(input), registry, config)))
    return 1;
  output->keep();
  return 0;
}
