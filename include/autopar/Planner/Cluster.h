//===- Cluster.h - the machines a plan is made for -------------*- C++ -*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// A cluster is identical nodes of identical devices: per device its peak
// FLOP/s per data type, memory and memory bandwidth; per link class
// (within a node, between nodes) bandwidth and latency. Presets name common
// machines; a JSON file describes any other (docs/planner.md gives the
// schema). Every problem in a JSON file is an error naming its JSON path.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_PLANNER_CLUSTER_H
#define AUTOPAR_PLANNER_CLUSTER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mlir::autopar::planner {

/// Data types the cost model distinguishes for compute throughput.
enum class ComputeType { FP32, TF32, FP16, BF16 };

struct DeviceSpec {
  std::string name;
  double peakFlopsFP32 = 0, peakFlopsTF32 = 0, peakFlopsFP16 = 0,
         peakFlopsBF16 = 0;
  /// Bytes of device memory.
  double memoryBytes = 0;
  /// Bytes per second between device memory and the compute units.
  double memoryBandwidth = 0;

  double peakFlops(ComputeType type) const;
};

struct LinkSpec {
  /// Bytes per second, per device, in each direction.
  double bandwidth = 0;
  /// Seconds per message.
  double latency = 0;
};

struct ClusterSpec {
  std::string name;
  int64_t nodes = 1;
  int64_t devicesPerNode = 1;
  DeviceSpec device;
  LinkSpec intraNode, interNode;

  int64_t numDevices() const { return nodes * devicesPerNode; }
  /// The link a group of `groupSize` devices, `stride` device indices apart,
  /// communicates over: within a node when the group fits in one.
  const LinkSpec &linkFor(int64_t groupSize, int64_t stride) const;
};

/// A preset: `h100-sxm-8xN`, `a100-80g-8xN` (N nodes of 8 GPUs) or
/// `cpu-host` (this machine's cores as one node; `cpuDevices` of them).
llvm::Expected<ClusterSpec> clusterPreset(llvm::StringRef name,
                                          int64_t cpuDevices = 1);
/// Parses a cluster description; `source` names it in errors.
llvm::Expected<ClusterSpec> parseClusterJSON(llvm::StringRef text,
                                             llvm::StringRef source);
/// A preset name, or a path to a JSON file.
llvm::Expected<ClusterSpec> loadCluster(llvm::StringRef nameOrPath,
                                        int64_t cpuDevices = 1);

} // namespace mlir::autopar::planner

#endif // AUTOPAR_PLANNER_CLUSTER_H
