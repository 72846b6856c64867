//===- CudaArtifact.h - a training step compiled for an NVIDIA GPU -*- C++
//-*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_TOOLS_COMPILE_CUDAARTIFACT_H
#define AUTOPAR_TOOLS_COMPILE_CUDAARTIFACT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/Error.h"

#include <string>

namespace autopar {

/// Writes `library` (a shared object) holding the training step of `module`
/// lowered by autopar-lower-to-cuda for `gpuArch` (kernels inside as PTX,
/// or with `cubin` as machine code from the CUDA toolkit's ptxas; libdevice
/// from `toolkit`, or where findCUDAToolkit finds one, and an error if the
/// kernels need it and there is none; host code
/// compiled for this machine, with packed wrappers), linked with the CUDA
/// runtime (runtime/cuda) in `runtimeDir`. Every public function gets its C
/// interface (`_mlir_ciface_NAME`, results as trailing out-parameters).
/// `module` is not changed. The object file is written next to the library
/// and removed; linking runs the system's C++ compiler driver.
/// `loweringOptions` (space-separated key=value, as autopar-lower-to-cuda
/// takes them: "fuse-rows=false") come after the ones above.
llvm::Error writeCudaLibrary(mlir::ModuleOp module, llvm::StringRef gpuArch,
                             bool cubin, llvm::StringRef toolkit,
                             llvm::StringRef library,
                             llvm::StringRef runtimeDir,
                             llvm::StringRef loweringOptions = "");

} // namespace autopar

#endif // AUTOPAR_TOOLS_COMPILE_CUDAARTIFACT_H
