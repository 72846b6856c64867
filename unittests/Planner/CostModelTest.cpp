//===- CostModelTest.cpp - planner formulas against published figures -----===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Planner/CostModel.h"

#include "gtest/gtest.h"

#include <cmath>

using namespace mlir::autopar::planner;

namespace {

double gb(double bytes) { return bytes / 1e9; }
double round1(double x) { return std::round(x * 10) / 10; }

// ZeRO paper (Rajbhandari et al., SC'20), figure 1: a 7.5B-parameter model
// on 64 devices with mixed-precision Adam (K = 12) needs 120 GB, 31.4 GB,
// 16.6 GB and 1.9 GB per device for the baseline and ZeRO 1/2/3.
TEST(ModelStateMemory, MatchesTheZeroPaper) {
  double psi = 7.5e9;
  EXPECT_EQ(round1(gb(modelStateMemory(psi, 64, ZeroStage::None).total())),
            120.0);
  EXPECT_EQ(
      round1(gb(modelStateMemory(psi, 64, ZeroStage::OptimizerStates).total())),
      31.4);
  EXPECT_EQ(round1(gb(modelStateMemory(psi, 64, ZeroStage::Gradients).total())),
            16.6);
  EXPECT_EQ(
      round1(gb(modelStateMemory(psi, 64, ZeroStage::Parameters).total())),
      1.9);
}

TEST(ModelStateMemory, BreaksDownByKind) {
  ModelStateMemory m = modelStateMemory(1e9, 8, ZeroStage::Gradients);
  EXPECT_DOUBLE_EQ(m.parameters, 2e9);     // not partitioned before stage 3
  EXPECT_DOUBLE_EQ(m.gradients, 2e9 / 8);  // reduce-scattered
  EXPECT_DOUBLE_EQ(m.optimizer, 12e9 / 8); // partitioned
  ModelStateMemory one = modelStateMemory(1e9, 1, ZeroStage::Parameters);
  EXPECT_DOUBLE_EQ(one.total(), 16e9) << "ZeRO on one device changes nothing";
  EXPECT_DOUBLE_EQ(
      modelStateMemory(1e9, 4, ZeroStage::None, StateBytes::fp32SGD()).total(),
      8e9);
}

// Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
// Transformer Models"), table 2, for a GPT-3 175B layer: s = 2048, b = 1,
// h = 12288, a = 96, t = 8. s*b*h = 25,165,824 and 5as/h = 80, so:
//   no parallelism:            sbh * (34 + 80)            = 2,868,903,936
//   tensor parallel:           sbh * (10 + 24/8 + 80/8)   =   578,813,952
//   tensor + sequence:         sbh * (34/8 + 80/8)        =   358,612,992
//   tensor + selective recompute:  sbh * (10 + 24/8)      =   327,155,712
//   tensor + sequence + selective: sbh * 34/8             =   106,954,752
//   full recompute:            2 * sbh                    =    50,331,648
TEST(ActivationMemory, MatchesKorthikantiTable2) {
  TransformerShape gpt3{2048, 1, 12288, 96};
  EXPECT_DOUBLE_EQ(
      transformerLayerActivationBytes(gpt3, 1, false, Recompute::None),
      2868903936.0);
  EXPECT_DOUBLE_EQ(
      transformerLayerActivationBytes(gpt3, 8, false, Recompute::None),
      578813952.0);
  EXPECT_DOUBLE_EQ(
      transformerLayerActivationBytes(gpt3, 8, true, Recompute::None),
      358612992.0);
  EXPECT_DOUBLE_EQ(
      transformerLayerActivationBytes(gpt3, 8, false, Recompute::Selective),
      327155712.0);
  EXPECT_DOUBLE_EQ(
      transformerLayerActivationBytes(gpt3, 8, true, Recompute::Selective),
      106954752.0);
  EXPECT_DOUBLE_EQ(
      transformerLayerActivationBytes(gpt3, 1, false, Recompute::Full),
      50331648.0);
  EXPECT_DOUBLE_EQ(
      transformerLayerActivationBytes(gpt3, 8, true, Recompute::Full),
      50331648.0 / 8);
}

// Blocks split separately: attention whole with the MLP split over 8 is
// sbh * (4 + 3 + 88 + 3 + 16/8) = sbh * 100; attention split with the MLP
// whole sbh * (4 + 3 + 88/8 + 3 + 16) = sbh * 37; both split is the
// tensor-parallel row above; full recomputation keeps the input, 2 sbh.
TEST(ActivationMemory, BlocksSplitSeparately) {
  TransformerShape gpt3{2048, 1, 12288, 96};
  EXPECT_DOUBLE_EQ(blockSplitActivationBytes(gpt3, 1, 8, Recompute::None),
                   2516582400.0);
  EXPECT_DOUBLE_EQ(blockSplitActivationBytes(gpt3, 8, 1, Recompute::None),
                   931135488.0);
  EXPECT_DOUBLE_EQ(blockSplitActivationBytes(gpt3, 8, 8, Recompute::None),
                   578813952.0);
  EXPECT_DOUBLE_EQ(blockSplitActivationBytes(gpt3, 1, 8, Recompute::Full),
                   50331648.0);
}

TEST(CollectiveCost, RingFormulas) {
  // 1 GB/s and 10 us: an all-reduce of 1 GB over 4 devices moves 2*3/4 GB
  // per device and pays 6 latencies.
  CollectiveCostModel model({1e9, 10e-6});
  EXPECT_DOUBLE_EQ(model.allReduce(1e9, 4), 6 * 10e-6 + 1.5);
  EXPECT_DOUBLE_EQ(model.allGather(1e9, 4), 3 * 10e-6 + 0.75);
  EXPECT_DOUBLE_EQ(model.reduceScatter(1e9, 4), model.allGather(1e9, 4));
  EXPECT_DOUBLE_EQ(model.sendRecv(2e6), 10e-6 + 2e-3);
  EXPECT_EQ(model.allReduce(1e9, 1), 0.0) << "no communication alone";
  // An all-reduce costs what a reduce-scatter plus an all-gather cost.
  EXPECT_DOUBLE_EQ(model.allReduce(4e8, 8),
                   model.reduceScatter(4e8, 8) + model.allGather(4e8, 8));
}

TEST(Roofline, ComputeOrMemoryBound) {
  DeviceSpec d;
  d.peakFlopsBF16 = 1e15;
  d.memoryBandwidth = 1e12;
  // A 4096^3 matmul is compute bound: 2*4096^3 / 1e15 s.
  double flops = 2.0 * 4096 * 4096 * 4096;
  double bytes = 3.0 * 4096 * 4096 * 2;
  EXPECT_DOUBLE_EQ(rooflineTime(d, ComputeType::BF16, flops, bytes),
                   flops / 1e15);
  // An elementwise add of 1e9 bf16 elements is memory bound.
  EXPECT_DOUBLE_EQ(rooflineTime(d, ComputeType::BF16, 1e9, 6e9), 6e-3);
  EXPECT_DOUBLE_EQ(rooflineTime(d, ComputeType::BF16, flops, bytes, 0.5),
                   2 * flops / 1e15);
}

} // namespace
