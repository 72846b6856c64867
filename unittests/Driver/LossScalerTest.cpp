//===- LossScalerTest.cpp - dynamic loss scaling --------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "LossScaler.h"

#include "gtest/gtest.h"

using namespace autopar;

namespace {

LossScaler parse(llvm::StringRef text) {
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(text);
  EXPECT_TRUE(bool(json)) << text.str();
  if (!json) {
    llvm::consumeError(json.takeError());
    return LossScaler();
  }
  llvm::Expected<LossScaler> s = LossScaler::fromJSON(&*json);
  EXPECT_TRUE(bool(s)) << text.str();
  if (!s) {
    llvm::consumeError(s.takeError());
    return LossScaler();
  }
  return *s;
}

std::string parseError(llvm::StringRef text) {
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(text);
  if (!json) {
    llvm::consumeError(json.takeError());
    return "not json";
  }
  llvm::Expected<LossScaler> s = LossScaler::fromJSON(&*json);
  if (s)
    return "";
  return llvm::toString(s.takeError());
}

bool step(LossScaler &s, bool finite) {
  llvm::Expected<bool> apply = s.update(finite);
  EXPECT_TRUE(bool(apply));
  if (!apply) {
    llvm::consumeError(apply.takeError());
    return false;
  }
  return *apply;
}

// As torch.cuda.amp.GradScaler(init_scale, growth_factor=2,
// backoff_factor=0.5, growth_interval): halve and skip on overflow, double
// after `growth_interval` finite steps in a row.
TEST(LossScalerTest, DynamicHalvesOnOverflowAndGrowsAfterTheWindow) {
  LossScaler s =
      parse(R"({"mode": "dynamic", "initial": 65536, "growth_interval": 3})");
  EXPECT_TRUE(s.isDynamic());
  EXPECT_EQ(s.scale(), 65536);
  EXPECT_FALSE(step(s, false));
  EXPECT_EQ(s.scale(), 32768);
  EXPECT_TRUE(step(s, true));
  EXPECT_TRUE(step(s, true));
  EXPECT_EQ(s.scale(), 32768);
  EXPECT_EQ(s.goodSteps(), 2);
  // An overflow restarts the count.
  EXPECT_FALSE(step(s, false));
  EXPECT_EQ(s.scale(), 16384);
  EXPECT_EQ(s.goodSteps(), 0);
  EXPECT_TRUE(step(s, true));
  EXPECT_TRUE(step(s, true));
  EXPECT_TRUE(step(s, true));
  EXPECT_EQ(s.scale(), 32768);
  EXPECT_EQ(s.goodSteps(), 0);
}

TEST(LossScalerTest, DynamicStopsBelowTheSmallestScale) {
  LossScaler s = LossScaler::dynamic(1.0, 10);
  for (int i = 0; i < 24; ++i)
    EXPECT_FALSE(step(s, false));
  EXPECT_EQ(s.scale(), LossScaler::kMinScale);
  llvm::Expected<bool> apply = s.update(false);
  ASSERT_FALSE(bool(apply));
  EXPECT_NE(llvm::toString(apply.takeError()).find("forward pass overflows"),
            std::string::npos);
}

TEST(LossScalerTest, FixedAndNoneNeverChange) {
  LossScaler fixed = parse(R"({"mode": "fixed", "value": 128})");
  EXPECT_TRUE(fixed.enabled());
  EXPECT_FALSE(fixed.isDynamic());
  EXPECT_FALSE(step(fixed, false));
  EXPECT_TRUE(step(fixed, true));
  EXPECT_EQ(fixed.scale(), 128);
  LossScaler none = parse("null");
  EXPECT_FALSE(none.enabled());
  EXPECT_EQ(none.scale(), 1);
  LossScaler absent = *LossScaler::fromJSON(nullptr);
  EXPECT_FALSE(absent.enabled());
}

TEST(LossScalerTest, MalformedManifestsAreErrors) {
  EXPECT_NE(parseError(R"({"mode": "fixed"})").find("positive 'value'"),
            std::string::npos);
  EXPECT_NE(parseError(R"({"mode": "fixed", "value": -2})"), "");
  EXPECT_NE(
      parseError(R"({"mode": "dynamic", "initial": 1024})").find("growth"),
      std::string::npos);
  EXPECT_NE(
      parseError(
          R"({"mode": "dynamic", "initial": 1024, "growth_interval": 0})"),
      "");
  EXPECT_NE(parseError(R"({"mode": "static"})").find("want null"),
            std::string::npos);
  EXPECT_NE(parseError("3"), "");
}

TEST(LossScalerTest, RestoreChecksWhatItResumes) {
  LossScaler s = LossScaler::dynamic(65536, 4);
  llvm::Error ok = s.restore(1024, 3);
  EXPECT_FALSE(bool(ok)) << llvm::toString(std::move(ok));
  EXPECT_EQ(s.scale(), 1024);
  EXPECT_EQ(s.goodSteps(), 3);
  llvm::Error tooMany = s.restore(1024, 4);
  EXPECT_TRUE(bool(tooMany));
  llvm::consumeError(std::move(tooMany));
  LossScaler none;
  llvm::Error e = none.restore(2, 0);
  EXPECT_TRUE(bool(e));
  llvm::consumeError(std::move(e));
  LossScaler fixed = LossScaler::fixed(8);
  llvm::Error other = fixed.restore(16, 0);
  EXPECT_TRUE(bool(other));
  llvm::consumeError(std::move(other));
}

} // namespace
