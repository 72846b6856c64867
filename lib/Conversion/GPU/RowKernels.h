//===- RowKernels.h - what the row-kernel passes share ----------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Helpers of autopar-row-reductions-to-gpu and autopar-fuse-rows, which both
// build kernels of a block per row around gpu.all_reduce.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_LIB_CONVERSION_GPU_ROWKERNELS_H
#define AUTOPAR_LIB_CONVERSION_GPU_ROWKERNELS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

namespace mlir::autopar::rows {

/// The gpu.all_reduce operation of a reduction's combiner (addf, mulf, a
/// float max or min) and its identity.
inline std::optional<std::pair<gpu::AllReduceOperation, double>>
reductionKind(Operation *combiner) {
  using K = gpu::AllReduceOperation;
  double inf = std::numeric_limits<double>::infinity();
  using Result = std::optional<std::pair<K, double>>;
  return llvm::TypeSwitch<Operation *, Result>(combiner)
      .Case([&](arith::AddFOp) {
        return Result({K::ADD, 0.0});
      })
      .Case([&](arith::MulFOp) {
        return Result({K::MUL, 1.0});
      })
      .Case([&](arith::MaximumFOp) {
        return Result({K::MAXIMUMF, -inf});
      })
      .Case([&](arith::MinimumFOp) {
        return Result({K::MINIMUMF, inf});
      })
      .Case([&](arith::MaxNumFOp) {
        return Result({K::MAXNUMF, -inf});
      })
      .Case([&](arith::MinNumFOp) {
        return Result({K::MINNUMF, inf});
      })
      .Default([](Operation *) { return Result(); });
}

inline Value indexConstant(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// `linear` split into indices of loops of `sizes` (row-major).
inline SmallVector<Value> delinearize(OpBuilder &b, Location loc, Value linear,
                                      ArrayRef<int64_t> sizes) {
  SmallVector<Value> indices(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    Value size = indexConstant(b, loc, sizes[d]);
    indices[d] = d == 0 ? linear : arith::RemUIOp::create(b, loc, linear, size);
    if (d > 0)
      linear = arith::DivUIOp::create(b, loc, linear, size);
  }
  return indices;
}

/// Unrolls `loop`, which runs from its thread's first element to `length`
/// by `step`, by `unroll`, or by the fewest iterations any thread makes
/// where those are fewer (a remainder loop takes the rest), so that a
/// thread has that many loads in flight instead of waiting for each before
/// it issues the next. Each thread still folds its elements in the same
/// order, so results do not change. Call it after the last use of the
/// loop's results is built: the remainder loop takes them over.
inline void unrollRowLoop(scf::ForOp loop, int64_t length, int64_t step,
                          int64_t unroll) {
  int64_t trips = step > 0 ? length / step : 0;
  int64_t factor = std::min(unroll, trips);
  if (factor >= 2)
    (void)loopUnrollByFactor(loop, uint64_t(factor));
}

} // namespace mlir::autopar::rows

#endif // AUTOPAR_LIB_CONVERSION_GPU_ROWKERNELS_H
