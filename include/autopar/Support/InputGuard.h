//===- InputGuard.h - cheap checks before parsing user input ----*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// MLIR's parser is recursive descent: every nested region, attribute list or
// type costs stack frames, so a file with tens of thousands of nested braces
// overflows the stack and crashes the tool. A linear scan that bounds the
// nesting depth first turns such input into a diagnostic.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_SUPPORT_INPUTGUARD_H
#define AUTOPAR_SUPPORT_INPUTGUARD_H

#include "llvm/ADT/StringRef.h"
#include <optional>
#include <string>

namespace mlir::autopar {

/// The default bound on bracket nesting in textual IR; real models stay far
/// below it (a 96-layer transformer nests fewer than 10 levels).
constexpr unsigned kMaxIRNestingDepth = 256;

/// Scans textual MLIR for `{`, `(`, `[`, `<` nesting (ignoring string
/// literals, comments and `->`). Returns an error message naming the line
/// when the depth exceeds `maxDepth`, or std::nullopt when the text is fine.
/// Bytecode input (which starts with "ML\xefR") is not scanned.
std::optional<std::string>
checkIRNestingDepth(llvm::StringRef text,
                    unsigned maxDepth = kMaxIRNestingDepth);

} // namespace mlir::autopar

#endif // AUTOPAR_SUPPORT_INPUTGUARD_H
