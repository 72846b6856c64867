//===- AutoParDialect.h - autopar dialect -----------------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPARDIALECT_H
#define AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPARDIALECT_H

#include "mlir/IR/Dialect.h"

#include "autopar/Dialect/AutoPar/IR/AutoParDialect.h.inc"

#endif // AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPARDIALECT_H
