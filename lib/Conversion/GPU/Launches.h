//===- Launches.h - what a gpu.launch's threads share -----------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Whether a launch's threads cooperate, and its region's arguments: what
// autopar-fuse-launches (merging launches) and autopar-launches-to-loops
// (running them on the host) share.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_LIB_CONVERSION_GPU_LAUNCHES_H
#define AUTOPAR_LIB_CONVERSION_GPU_LAUNCHES_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"

#include <array>

namespace mlir::autopar {

/// The op in a launch's body that makes its threads cooperate or read
/// where they are other than through the region's arguments (a barrier, a
/// shuffle, a reduction across threads, gpu.thread_id, NVVM intrinsics),
/// or the launch itself where it has workgroup or private memory or dynamic
/// shared memory: the launch then cannot be cut into independent threads;
/// null where it can. With `withinBlocks`, what only makes a block's
/// threads cooperate is allowed (barriers, shuffles, reductions across the
/// block, workgroup memory): the launch can still be one of several a
/// merged launch's blocks run, every thread of a block running the same
/// launch's body.
Operation *cooperation(gpu::LaunchOp launch, bool withinBlocks = false);

/// A launch's region arguments: its block indices, thread indices, grid
/// sizes and block sizes, x, y and z each.
std::array<Value, 12> regionArguments(gpu::LaunchOp launch);

} // namespace mlir::autopar

#endif // AUTOPAR_LIB_CONVERSION_GPU_LAUNCHES_H
