//===- autopar-import.cpp - ONNX model to autopar MLIR + weights ----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
//   autopar-import MODEL.onnx -o MODEL.mlir [--weights=FILE.safetensors]
//
// Writes the model's forward function in the autopar dialect and its
// parameters as safetensors next to it (MODEL.safetensors by default); the
// module's `autopar.weights` attribute names that file, so that
// `autopar-run MODEL.mlir --input=x.npy` finds the parameters.
//
//===----------------------------------------------------------------------===//

#include "Npy.h"
#include "Safetensors.h"

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"
#include "autopar/Dialect/AutoPar/Transforms/Passes.h"
#include "autopar/Import/ONNX/ONNXImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

namespace cl = llvm::cl;

static cl::OptionCategory category("autopar-import options");
static cl::opt<bool> listOps("list-ops",
                             cl::desc("Print the supported ONNX op types"),
                             cl::cat(category));
static cl::opt<std::string> inputFile(cl::Positional, cl::Optional,
                                      cl::desc("<model.onnx>"),
                                      cl::cat(category));
static cl::opt<std::string> outputFile("o", cl::desc("Output .mlir file"),
                                       cl::value_desc("file"),
                                       cl::cat(category));
static cl::opt<bool> noRaise(
    "no-raise",
    cl::desc("Keep the primitive chains exporters write (no layer_norm, gelu "
             "or attention composites)"),
    cl::cat(category));
static cl::opt<std::string>
    weightsFile("weights",
                cl::desc("Output safetensors file (default: the output file "
                         "with the extension .safetensors)"),
                cl::cat(category));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "autopar-import") << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "autopar-import: ONNX model to the autopar "
                              "dialect plus a safetensors weights file\n");

  if (listOps) {
    for (const std::string &op : mlir::autopar::supportedONNXOps())
      llvm::outs() << op << "\n";
    return 0;
  }
  if (inputFile.empty() || outputFile.empty())
    return fail("usage: autopar-import MODEL.onnx -o MODEL.mlir");

  std::string weights = weightsFile;
  if (weights.empty()) {
    llvm::SmallString<256> path(outputFile);
    llvm::sys::path::replace_extension(path, "safetensors");
    weights = std::string(path);
  }

  mlir::MLIRContext context;
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  mlir::autopar::ONNXImportOptions options;
  options.weightsFileName = llvm::sys::path::filename(weights).str();
  mlir::FailureOr<mlir::autopar::ImportedModel> model =
      mlir::autopar::importONNXFile(&context, inputFile, options);
  if (mlir::failed(model))
    return 1;
  if (!noRaise) {
    mlir::PassManager pm(&context);
    pm.addNestedPass<mlir::func::FuncOp>(
        mlir::autopar::createRaiseCompositesPass());
    if (mlir::failed(pm.run(*model->module)))
      return fail("raising composites failed");
  }

  autopar::TensorMap tensors;
  for (mlir::autopar::ImportedWeight &w : model->weights) {
    autopar::NpyArray array;
    array.dtype = w.dtype == "F64" ? autopar::DType::F64 : autopar::DType::F32;
    array.shape.assign(w.shape.begin(), w.shape.end());
    array.data = std::move(w.data);
    tensors.emplace(w.name, std::move(array));
  }
  if (llvm::Error error = autopar::writeSafetensors(weights, tensors))
    return fail(llvm::toString(std::move(error)));

  std::string errorMessage;
  auto output = mlir::openOutputFile(outputFile, &errorMessage);
  if (!output)
    return fail(errorMessage);
  model->module->print(output->os());
  output->keep();
  return 0;
}
