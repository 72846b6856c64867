//===- AutoParOpDefs0.cpp - generated op definitions, shard 0 -------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The ODS-generated op definitions are split over two translation units
// (-op-shard-count=2) so that editing the hand-written AutoParOps.cpp, or
// rebuilding from clean on two cores, does not wait for one large file.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::autopar;

#define GET_OP_DEFS_0
#include "autopar/Dialect/AutoPar/IR/AutoParOps.cpp.inc"
