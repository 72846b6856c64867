//===- Passes.h - planner passes --------------------------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PLANNER_PASSES_H
#define AUTOPAR_PLANNER_PASSES_H

#include "mlir/Dialect/Shard/IR/ShardDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::autopar {

#define GEN_PASS_DECL
#include "autopar/Planner/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "autopar/Planner/Passes.h.inc"

} // namespace mlir::autopar

#endif // AUTOPAR_PLANNER_PASSES_H
