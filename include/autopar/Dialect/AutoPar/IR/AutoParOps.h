//===- AutoParOps.h - autopar dialect operations ----------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPAROPS_H
#define AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPAROPS_H

#include "autopar/Dialect/AutoPar/IR/AutoParDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "autopar/Dialect/AutoPar/IR/AutoParEnums.h.inc"
#include "autopar/Dialect/AutoPar/IR/AutoParInterfaces.h.inc"

#define GET_OP_CLASSES
#include "autopar/Dialect/AutoPar/IR/AutoParOps.h.inc"

#endif // AUTOPAR_DIALECT_AUTOPAR_IR_AUTOPAROPS_H
