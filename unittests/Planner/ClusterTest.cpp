//===- ClusterTest.cpp - cluster presets and JSON -------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Planner/Cluster.h"

#include "gtest/gtest.h"

using namespace mlir::autopar::planner;

namespace {

std::string errorOf(llvm::Expected<ClusterSpec> c) {
  return c ? "" : llvm::toString(c.takeError());
}

const char *kGood = R"({
  "name": "lab",
  "nodes": 2,
  "devices_per_node": 4,
  "device": {"name": "gpu", "peak_flops": {"fp32": 2e13, "bf16": 3e14},
             "memory_bytes": 4e10, "memory_bandwidth": 2e12},
  "intra_node": {"bandwidth": 3e11, "latency": 2e-6},
  "inter_node": {"bandwidth": 2.5e10, "latency": 5e-6}
})";

TEST(Cluster, Presets) {
  llvm::Expected<ClusterSpec> h = clusterPreset("h100-sxm-8x64");
  ASSERT_TRUE(bool(h));
  EXPECT_EQ(h->numDevices(), 512);
  EXPECT_EQ(h->device.peakFlops(ComputeType::BF16), 989e12);
  llvm::Expected<ClusterSpec> a = clusterPreset("a100-80g-8x128");
  ASSERT_TRUE(bool(a));
  EXPECT_EQ(a->numDevices(), 1024);
  EXPECT_EQ(a->device.memoryBytes, 80e9);
  llvm::Expected<ClusterSpec> cpu = clusterPreset("cpu-host", 4);
  ASSERT_TRUE(bool(cpu));
  EXPECT_EQ(cpu->numDevices(), 4);
  EXPECT_NE(errorOf(clusterPreset("h100-sxm-8x0")).find("unknown cluster"),
            std::string::npos);
  EXPECT_NE(errorOf(clusterPreset("tpu-v9")).find("presets:"),
            std::string::npos);
}

TEST(Cluster, LinkForAGroup) {
  ClusterSpec c = *clusterPreset("a100-80g-8x4");
  EXPECT_EQ(&c.linkFor(8, 1), &c.intraNode) << "tensor parallel in a node";
  EXPECT_EQ(&c.linkFor(4, 8), &c.interNode) << "data parallel across nodes";
  EXPECT_EQ(&c.linkFor(2, 4), &c.intraNode);
}

TEST(Cluster, ParsesJSON) {
  llvm::Expected<ClusterSpec> c = parseClusterJSON(kGood, "lab.json");
  ASSERT_TRUE(bool(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->name, "lab");
  EXPECT_EQ(c->numDevices(), 8);
  EXPECT_EQ(c->device.peakFlops(ComputeType::BF16), 3e14);
  EXPECT_EQ(c->device.peakFlops(ComputeType::TF32), 2e13) << "defaults to fp32";
  EXPECT_EQ(c->device.peakFlops(ComputeType::FP16), 2e13);
  EXPECT_EQ(c->interNode.latency, 5e-6);
}

TEST(Cluster, ErrorsNameTheJSONPath) {
  auto replaced = [](std::string from, std::string to) {
    std::string text = kGood;
    text.replace(text.find(from), from.size(), to);
    return errorOf(parseClusterJSON(text, "lab.json"));
  };
  EXPECT_NE(replaced(R"("nodes": 2,)", R"("nodes": 2, "colour": 1,)")
                .find("unknown field at cluster.colour"),
            std::string::npos);
  EXPECT_NE(replaced(R"("bf16": 3e14)", R"("bf16": 3e14, "int4": 1)")
                .find("unknown field at cluster.device.peak_flops.int4"),
            std::string::npos);
  EXPECT_NE(replaced(R"("memory_bytes": 4e10,)", "")
                .find("missing required field at cluster.device.memory_bytes"),
            std::string::npos);
  EXPECT_NE(
      replaced(R"("latency": 5e-6)", R"("latency": -1)")
          .find("expected a positive number at cluster.inter_node.latency"),
      std::string::npos);
  EXPECT_NE(replaced(R"("nodes": 2)", R"("nodes": 2.5)")
                .find("expected a positive integer at cluster.nodes"),
            std::string::npos);
  EXPECT_NE(errorOf(parseClusterJSON("{", "bad.json")).find("bad.json: "),
            std::string::npos);
  EXPECT_NE(errorOf(parseClusterJSON("[]", "arr.json"))
                .find("expected an object when parsing cluster"),
            std::string::npos);
}

} // namespace
