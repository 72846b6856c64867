//===- InputGuardTest.cpp - nesting-depth guard ---------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Support/InputGuard.h"

#include "gtest/gtest.h"

using mlir::autopar::checkIRNestingDepth;

namespace {

std::string nested(unsigned depth) {
  return std::string(depth, '{') + std::string(depth, '}');
}

TEST(InputGuard, AcceptsOrdinaryIR) {
  EXPECT_FALSE(checkIRNestingDepth(
      "func.func @f(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {\n"
      "  %0 = autopar.add %x, %x : tensor<2x4xf32>\n"
      "  return %0 : tensor<2x4xf32>\n}\n"));
}

TEST(InputGuard, CountsUpToTheLimit) {
  EXPECT_FALSE(checkIRNestingDepth(nested(10), 10));
  std::optional<std::string> error = checkIRNestingDepth(nested(11), 10);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("more than 10 levels"), std::string::npos);
}

TEST(InputGuard, ArrowsDoNotClose) {
  // "->" must not count as a closing '>', or a deep input could hide
  // behind arrows.
  std::string text = std::string(5, '(');
  for (int i = 0; i < 20; ++i)
    text += "->";
  text += "(";
  EXPECT_TRUE(checkIRNestingDepth(text, 5));
}

TEST(InputGuard, IgnoresStringsAndComments) {
  std::string deep = nested(50);
  EXPECT_FALSE(checkIRNestingDepth("\"" + deep + "\"", 10));
  EXPECT_FALSE(checkIRNestingDepth("// " + deep + "\nfoo", 10));
  EXPECT_FALSE(checkIRNestingDepth("\"a\\\"" + deep + "\"", 10));
}

TEST(InputGuard, ReportsTheLine) {
  std::optional<std::string> error =
      checkIRNestingDepth("a\nb\n" + nested(4), 3);
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("line 3"), std::string::npos);
}

TEST(InputGuard, SkipsBytecode) {
  EXPECT_FALSE(checkIRNestingDepth("ML\xef\x52" + nested(1000), 10));
}

} // namespace
