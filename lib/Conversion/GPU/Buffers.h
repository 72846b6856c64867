//===- Buffers.h - which buffers the GPU passes may tell apart --*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The buffer a view is of, and whether two buffers are known to differ:
// what the GPU passes that move or merge memory accesses ask.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_LIB_CONVERSION_GPU_BUFFERS_H
#define AUTOPAR_LIB_CONVERSION_GPU_BUFFERS_H

#include "mlir/Analysis/AliasAnalysis/LocalAliasAnalysis.h"
#include "mlir/IR/Block.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

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

} // namespace mlir::autopar

#endif // AUTOPAR_LIB_CONVERSION_GPU_BUFFERS_H
