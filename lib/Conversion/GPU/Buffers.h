//===- Buffers.h - which buffers the GPU passes may tell apart --*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The buffer a view is of, whether two buffers are known to differ, and
// whether accesses to one may be vectors (and those vectors' loads and
// stores): what the GPU passes that move, merge or widen memory accesses
// share.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_LIB_CONVERSION_GPU_BUFFERS_H
#define AUTOPAR_LIB_CONVERSION_GPU_BUFFERS_H

#include "mlir/Analysis/AliasAnalysis/LocalAliasAnalysis.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Block.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <algorithm>

namespace mlir::autopar {

/// The buffer a view (of a view...) is of.
inline Value rootBuffer(Value v) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  return v;
}

/// Whether `v` is an argument of its function marked `bufferize.result`
/// (what buffer-results-to-out-params{add-result-attr} marks): one of the
/// function's results passed out, which callers give distinct buffers.
inline bool isResultArgument(Value v) {
  auto arg = dyn_cast<BlockArgument>(v);
  if (!arg || !arg.getOwner()->isEntryBlock())
    return false;
  auto fn = dyn_cast<FunctionOpInterface>(arg.getOwner()->getParentOp());
  return fn && fn.getArgAttr(arg.getArgNumber(), "bufferize.result");
}

/// Whether `a` and `b` are known to be different buffers: LocalAliasAnalysis
/// says so, or they are two arguments of a function at least one of which
/// is a result passed out. The compiled steps' callers give each result a
/// buffer of its own (the step library keeps two sets of parameters and
/// state: a step reads one and writes the other); a function may read an
/// input after writing a result, so a result sharing an input's buffer
/// would be wrong already.
inline bool apart(Value a, Value b, LocalAliasAnalysis &aliases) {
  if (a != b && (isResultArgument(a) || isResultArgument(b)) &&
      isa<BlockArgument>(a) && isa<BlockArgument>(b) &&
      a.getParentBlock() == b.getParentBlock())
    return true;
  return aliases.alias(a, b).isNo();
}

/// Whether an access to `m` whose innermost index is a multiple of `width`
/// starts `width` elements' bytes into an aligned block: static strides
/// (the innermost 1, the others multiples of `width`), a static offset
/// that is one too, through views that keep the base's aligned pointer, of
/// a buffer the runtime allocates (an allocation or a global, which the
/// CUDA pipeline allocates in device memory, or an argument of the
/// function: cuMemAlloc's are 256-byte aligned, the host runtime's 64).
inline bool alignedColumns(Value m, int64_t width) {
  auto type = dyn_cast<MemRefType>(m.getType());
  if (!type || type.getRank() == 0 || !type.getElementType().isIntOrFloat())
    return false;
  unsigned bits = type.getElementTypeBitWidth();
  if (bits % 8 != 0 || !llvm::isPowerOf2_64(bits / 8))
    return false;
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      strides.back() != 1 || ShapedType::isDynamic(offset) || offset % width)
    return false;
  for (int64_t stride : ArrayRef<int64_t>(strides).drop_back())
    if (ShapedType::isDynamic(stride) || stride % width)
      return false;
  Value v = m;
  while (Operation *def = v.getDefiningOp()) {
    if (isa<memref::AllocOp, gpu::AllocOp, memref::GetGlobalOp>(def))
      return true;
    if (!isa<memref::SubViewOp, memref::CastOp, memref::ExpandShapeOp,
             memref::CollapseShapeOp, memref::ReinterpretCastOp>(def))
      return false;
    v = def->getOperand(0);
  }
  auto arg = cast<BlockArgument>(v);
  return arg.getOwner()->isEntryBlock() &&
         isa<FunctionOpInterface>(arg.getOwner()->getParentOp());
}

/// The most elements, `maxBytes` over the widest of `buffers`' element
/// types, halved until `allows` takes the width and every buffer is
/// aligned for it (alignedColumns); 1 where no width of 2 or more is.
inline int64_t vectorWidth(ArrayRef<Value> buffers, int64_t maxBytes,
                           function_ref<bool(int64_t)> allows) {
  int64_t widest = 0;
  for (Value m : buffers)
    widest = std::max<int64_t>(
        widest, cast<MemRefType>(m.getType()).getElementTypeBitWidth() / 8);
  if (widest == 0)
    return 1;
  int64_t width = maxBytes / widest;
  while (width >= 2 && !(allows(width) && llvm::all_of(buffers, [&](Value m) {
                           return alignedColumns(m, width);
                         })))
    width /= 2;
  return width < 2 ? 1 : width;
}

/// `width` consecutive elements of `memref` from `indices` (the innermost a
/// multiple of `width`, alignedColumns) as one aligned vector load, and
/// each element extracted.
inline SmallVector<Value> loadLanes(OpBuilder &b, Location loc, Value memref,
                                    ValueRange indices, int64_t width) {
  Type element = cast<MemRefType>(memref.getType()).getElementType();
  auto vector = vector::LoadOp::create(
      b, loc, VectorType::get({width}, element), memref, indices,
      /*nontemporal=*/false,
      llvm::MaybeAlign(width * element.getIntOrFloatBitWidth() / 8));
  SmallVector<Value> lanes;
  for (int64_t k = 0; k < width; ++k)
    lanes.push_back(vector::ExtractOp::create(b, loc, vector, k));
  return lanes;
}

/// `values`, consecutive elements of `memref` from `indices`, as one aligned
/// vector store.
inline void storeLanes(OpBuilder &b, Location loc, ValueRange values,
                       Value memref, ValueRange indices) {
  Type element = values.front().getType();
  int64_t width = int64_t(values.size());
  Value vector = vector::FromElementsOp::create(
      b, loc, VectorType::get({width}, element), values);
  vector::StoreOp::create(
      b, loc, vector, memref, indices, /*nontemporal=*/false,
      llvm::MaybeAlign(width * element.getIntOrFloatBitWidth() / 8));
}

} // namespace mlir::autopar

#endif // AUTOPAR_LIB_CONVERSION_GPU_BUFFERS_H
