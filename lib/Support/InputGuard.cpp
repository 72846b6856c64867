//===- InputGuard.cpp - cheap checks before parsing user input ------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Support/InputGuard.h"

#include "llvm/ADT/Twine.h"

std::optional<std::string>
mlir::autopar::checkIRNestingDepth(llvm::StringRef text, unsigned maxDepth) {
  if (text.starts_with("ML\xef\x52"))
    return std::nullopt;
  unsigned depth = 0, line = 1;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    switch (c) {
    case '\n':
      ++line;
      break;
    case '"':
      // Skip a string literal, honouring backslash escapes.
      for (++i; i < e && text[i] != '"'; ++i) {
        if (text[i] == '\\')
          ++i;
        else if (text[i] == '\n')
          ++line;
      }
      break;
    case '/':
      if (i + 1 < e && text[i + 1] == '/')
        while (i + 1 < e && text[i + 1] != '\n')
          ++i;
      break;
    case '{':
    case '(':
    case '[':
    case '<':
      if (++depth > maxDepth)
        return ("input nests brackets more than " + llvm::Twine(maxDepth) +
                " levels deep (line " + llvm::Twine(line) +
                "); refusing to parse it")
            .str();
      break;
    case '>':
      if (i > 0 && text[i - 1] == '-')
        break; // an arrow, not a closing bracket
      [[fallthrough]];
    case '}':
    case ')':
    case ']':
      if (depth > 0)
        --depth;
      break;
    default:
      break;
    }
  }
  return std::nullopt;
}
