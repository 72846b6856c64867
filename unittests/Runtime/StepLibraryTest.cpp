//===- StepLibraryTest.cpp - autopar::StepLibrary -------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// The step library runner (runtime/cuda/StepLibrary.h) in host memory on
// FakeStep.cpp, whose functions are small enough to follow by hand: the
// arguments in the packed wrappers' order, the two sets of parameters and
// state swapped by each update, a frozen parameter shared by both, the
// scalars, gradient accumulation, the test for gradients that are not
// finite, and the errors. The same code on the GPU runs in the device check
// (bench/gpu/aot_train.cpp trains with it) and test/Pipelines/
// aot-train.test runs autopar-run's use of it on real steps.
//
//===----------------------------------------------------------------------===//

#include "StepLibrary.h"

#include "gtest/gtest.h"

#include <cmath>
#include <limits>

using autopar::StepLibrary;

namespace {
StepLibrary::Signature fakeSignature(bool scaled) {
  StepLibrary::Signature s;
  if (scaled)
    s.forwardBackward = "forward_backward_scaled";
  s.x.shape = {3};
  s.y.shape = {1};
  s.x.elementBytes = s.y.elementBytes = 8;
  StepLibrary::Tensor p, q;
  p.shape = {3};
  q.shape = {2};
  s.params = {p, q};
  s.frozen = {false, true};
  s.state = {p};
  if (scaled)
    s.scaleBytes = 4;
  return s;
}

std::unique_ptr<StepLibrary> openFake(bool scaled) {
  std::string error;
  auto lib = StepLibrary::open(AUTOPAR_FAKE_STEP, StepLibrary::Memory::Host,
                               fakeSignature(scaled), error);
  EXPECT_TRUE(lib) << error;
  if (!lib)
    return nullptr;
  float p[3] = {1, 2, 3}, q[2] = {10, 20}, s[3] = {0, 0, 0};
  lib->setParameter(0, p);
  lib->setParameter(1, q);
  lib->setState(0, s);
  return lib;
}
} // namespace

TEST(StepLibrary, StepsByHand) {
  auto lib = openFake(false);
  ASSERT_TRUE(lib);
  EXPECT_EQ(lib->trainedCount(), 1u);
  int64_t x[3] = {1, -1, 2}, y[1] = {5};
  // loss = 1 - 2 + 6 + 10 + 20 + 5; dp = x.
  EXPECT_EQ(lib->forwardBackward(x, y, std::nullopt), 40.0);
  float g[3];
  lib->readGradient(0, g);
  EXPECT_EQ(g[0], 1.0f);
  EXPECT_EQ(g[1], -1.0f);
  EXPECT_EQ(g[2], 2.0f);
  EXPECT_FALSE(lib->firstNonFiniteGradient());
  // s' = dp, p' = p - 0.5 * s' / 1.
  lib->optimizerStep(0.5, 1);
  float p[3], q[2], s[3];
  lib->readParameter(0, p);
  lib->readParameter(1, q);
  lib->readState(0, s);
  EXPECT_EQ(p[0], 0.5f);
  EXPECT_EQ(p[1], 2.5f);
  EXPECT_EQ(p[2], 2.0f);
  EXPECT_EQ(s[2], 2.0f);
  EXPECT_EQ(q[0], 10.0f);
  EXPECT_EQ(q[1], 20.0f);
  // The second step reads the updated parameters and state:
  // loss = 0.5 - 2.5 + 4 + 30 + 5; s'' = 2 dp; p'' = p' - 0.25 * s'' / 2.
  EXPECT_EQ(lib->forwardBackward(x, y, std::nullopt), 37.0);
  lib->optimizerStep(0.25, 2);
  lib->readParameter(0, p);
  lib->readState(0, s);
  EXPECT_EQ(s[0], 2.0f);
  EXPECT_EQ(p[0], 0.25f);
  EXPECT_EQ(p[1], 2.75f);
  EXPECT_EQ(p[2], 1.5f);
  // A frozen parameter set between steps is what the next step reads.
  float q2[2] = {0, 0};
  lib->setParameter(1, q2);
  EXPECT_EQ(lib->forwardBackward(x, y, std::nullopt), 0.25 - 2.75 + 3.0 + 5.0);
}

// Gradient accumulation: the first microbatch's gradients kept, the
// second's added, the sum scaled; then the update uses the mean.
TEST(StepLibrary, AccumulatesMicrobatches) {
  auto lib = openFake(false);
  ASSERT_TRUE(lib);
  int64_t x1[3] = {1, 2, 3}, x2[3] = {3, 0, -1}, y[1] = {0};
  lib->forwardBackward(x1, y, std::nullopt);
  lib->keepGradients(true);
  lib->forwardBackward(x2, y, std::nullopt);
  lib->keepGradients(false);
  lib->takeKeptGradients(0.5);
  float g[3];
  lib->readGradient(0, g);
  EXPECT_EQ(g[0], 2.0f);
  EXPECT_EQ(g[1], 1.0f);
  EXPECT_EQ(g[2], 1.0f);
  // s' = mean dp, p' = p - 1 * s'.
  lib->optimizerStep(1, 1);
  float p[3];
  lib->readParameter(0, p);
  EXPECT_EQ(p[0], -1.0f);
  EXPECT_EQ(p[1], 1.0f);
  EXPECT_EQ(p[2], 2.0f);
  // The next step accumulates afresh (the kept buffers are reused).
  lib->forwardBackward(x2, y, std::nullopt);
  lib->keepGradients(true);
  lib->forwardBackward(x2, y, std::nullopt);
  lib->keepGradients(false);
  lib->takeKeptGradients(0.5);
  lib->readGradient(0, g);
  EXPECT_EQ(g[0], 3.0f);
  EXPECT_EQ(g[1], 0.0f);
  EXPECT_EQ(g[2], -1.0f);
}

TEST(StepLibrary, LossScaleAndNonFiniteGradients) {
  auto lib = openFake(true);
  ASSERT_TRUE(lib);
  int64_t x[3] = {1, 0, 2}, y[1] = {0};
  lib->forwardBackward(x, y, 4.0);
  float g[3];
  lib->readGradient(0, g);
  EXPECT_EQ(g[2], 8.0f);
  EXPECT_FALSE(lib->firstNonFiniteGradient());
  // dp = x * inf: inf, nan (0 * inf), inf.
  lib->forwardBackward(x, y, std::numeric_limits<double>::infinity());
  std::optional<size_t> bad = lib->firstNonFiniteGradient();
  ASSERT_TRUE(bad);
  EXPECT_EQ(*bad, 0u);
}

TEST(StepLibrary, Errors) {
  std::string error;
  EXPECT_FALSE(StepLibrary::open("/nonexistent/libstep.so",
                                 StepLibrary::Memory::Host,
                                 fakeSignature(false), error));
  EXPECT_NE(error.find("cannot load the step library: /nonexistent/libstep.so"),
            std::string::npos)
      << error;
  StepLibrary::Signature other = fakeSignature(false);
  other.optimizerStep = "sgd_step";
  EXPECT_FALSE(StepLibrary::open(AUTOPAR_FAKE_STEP, StepLibrary::Memory::Host,
                                 other, error));
  EXPECT_NE(error.find("has no _mlir__mlir_ciface_sgd_step (the packed "
                       "wrapper of @sgd_step"),
            std::string::npos)
      << error;
  StepLibrary::Signature half = fakeSignature(false);
  half.lossBytes = 2;
  EXPECT_FALSE(StepLibrary::open(AUTOPAR_FAKE_STEP, StepLibrary::Memory::Host,
                                 half, error));
  EXPECT_EQ(error, "the step's loss, gradients and scalars must be float32 or "
                   "float64");
  StepLibrary::Signature unmarked = fakeSignature(false);
  unmarked.frozen.pop_back();
  EXPECT_FALSE(StepLibrary::open(AUTOPAR_FAKE_STEP, StepLibrary::Memory::Host,
                                 unmarked, error));
  EXPECT_EQ(error, "the signature marks 1 parameters frozen or not, not 2");
}
