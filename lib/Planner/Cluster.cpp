//===- Cluster.cpp - the machines a plan is made for ----------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Planner/Cluster.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir::autopar::planner;
using llvm::StringRef;
namespace json = llvm::json;

double DeviceSpec::peakFlops(ComputeType type) const {
  switch (type) {
  case ComputeType::FP32:
    return peakFlopsFP32;
  case ComputeType::TF32:
    return peakFlopsTF32;
  case ComputeType::FP16:
    return peakFlopsFP16;
  case ComputeType::BF16:
    return peakFlopsBF16;
  }
  return 0;
}

const LinkSpec &ClusterSpec::linkFor(int64_t groupSize, int64_t stride) const {
  return groupSize * stride <= devicesPerNode ? intraNode : interNode;
}

static llvm::Error clusterError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Expected<ClusterSpec>
mlir::autopar::planner::clusterPreset(StringRef name, int64_t cpuDevices) {
  ClusterSpec c;
  c.name = name.str();
  auto gpuNodes = [&](StringRef prefix) -> std::optional<int64_t> {
    if (!name.starts_with(prefix))
      return std::nullopt;
    int64_t n;
    if (name.drop_front(prefix.size()).getAsInteger(10, n) || n < 1)
      return std::nullopt;
    return n;
  };
  if (auto n = gpuNodes("h100-sxm-8x")) {
    // NVIDIA H100 SXM5 80 GB, dense peaks; NVLink 4 (450 GB/s per direction
    // per GPU); 8x 400 Gb/s InfiniBand per node (50 GB/s per GPU).
    c.nodes = *n;
    c.devicesPerNode = 8;
    c.device = {"H100-SXM-80GB", 67e12, 494e12, 989e12, 989e12, 80e9, 3.35e12};
    c.intraNode = {450e9, 3e-6};
    c.interNode = {50e9, 6e-6};
    return c;
  }
  if (auto n = gpuNodes("a100-80g-8x")) {
    // NVIDIA A100 SXM4 80 GB; NVLink 3 (300 GB/s per direction per GPU);
    // 8x 200 Gb/s HDR InfiniBand per node (25 GB/s per GPU).
    c.nodes = *n;
    c.devicesPerNode = 8;
    c.device = {"A100-SXM-80GB", 19.5e12, 156e12,  312e12,
                312e12,          80e9,    2.039e12};
    c.intraNode = {300e9, 3e-6};
    c.interNode = {25e9, 6e-6};
    return c;
  }
  if (name == "cpu-host") {
    // Conservative defaults for one x86 core; autopar-calibrate measures the
    // real machine and writes a JSON file instead.
    c.nodes = 1;
    c.devicesPerNode = std::max<int64_t>(1, cpuDevices);
    c.device = {"cpu-core", 50e9, 50e9, 25e9, 25e9, 8e9, 10e9};
    c.intraNode = {5e9, 2e-6};
    c.interNode = c.intraNode;
    return c;
  }
  return clusterError("unknown cluster preset '" + name +
                      "' (presets: h100-sxm-8xN, a100-80g-8xN, cpu-host; or "
                      "a JSON file)");
}

namespace {
/// Maps an object strictly: every key must be one the caller names.
class StrictObject {
public:
  StrictObject(const json::Value &value, json::Path path)
      : object(value.getAsObject()), path(path) {
    if (!object)
      path.report("expected an object");
  }
  explicit operator bool() const { return object; }

  /// A required positive number.
  bool positive(StringRef key, double &out) {
    seen.push_back(key);
    const json::Value *v = object->get(key);
    if (!v) {
      path.field(key).report("missing required field");
      return false;
    }
    std::optional<double> d = v->getAsNumber();
    if (!d || !(*d > 0)) {
      path.field(key).report("expected a positive number");
      return false;
    }
    out = *d;
    return true;
  }
  bool positive(StringRef key, int64_t &out) {
    double d;
    if (!positive(key, d))
      return false;
    if (d != double(int64_t(d))) {
      path.field(key).report("expected a positive integer");
      return false;
    }
    out = int64_t(d);
    return true;
  }
  bool optionalPositive(StringRef key, double &out) {
    if (!object->get(key)) {
      seen.push_back(key);
      return true;
    }
    return positive(key, out);
  }
  bool string(StringRef key, std::string &out, bool required) {
    seen.push_back(key);
    const json::Value *v = object->get(key);
    if (!v) {
      if (required)
        path.field(key).report("missing required field");
      return !required;
    }
    std::optional<StringRef> s = v->getAsString();
    if (!s) {
      path.field(key).report("expected a string");
      return false;
    }
    out = s->str();
    return true;
  }
  const json::Value *child(StringRef key) {
    seen.push_back(key);
    const json::Value *v = object->get(key);
    if (!v)
      path.field(key).report("missing required field");
    return v;
  }
  /// Fails on the first key that was not asked for.
  bool noOtherKeys() {
    for (const auto &kv : *object)
      if (!llvm::is_contained(seen, StringRef(kv.first))) {
        path.field(kv.first).report("unknown field");
        return false;
      }
    return true;
  }

private:
  const json::Object *object;
  json::Path path;
  llvm::SmallVector<StringRef> seen;
};

bool parseLink(const json::Value &value, json::Path path, LinkSpec &link) {
  StrictObject o(value, path);
  return o && o.positive("bandwidth", link.bandwidth) &&
         o.positive("latency", link.latency) && o.noOtherKeys();
}

bool parseDevice(const json::Value &value, json::Path path, DeviceSpec &d) {
  StrictObject o(value, path);
  if (!o || !o.string("name", d.name, /*required=*/false) ||
      !o.positive("memory_bytes", d.memoryBytes) ||
      !o.positive("memory_bandwidth", d.memoryBandwidth))
    return false;
  const json::Value *flops = o.child("peak_flops");
  if (!flops || !o.noOtherKeys())
    return false;
  json::Path fp = path.field("peak_flops");
  StrictObject f(*flops, fp);
  if (!f || !f.positive("fp32", d.peakFlopsFP32))
    return false;
  d.peakFlopsTF32 = d.peakFlopsFP32;
  if (!f.optionalPositive("tf32", d.peakFlopsTF32) ||
      !f.optionalPositive("fp16", d.peakFlopsFP16) ||
      !f.optionalPositive("bf16", d.peakFlopsBF16) || !f.noOtherKeys())
    return false;
  if (d.peakFlopsFP16 == 0)
    d.peakFlopsFP16 = d.peakFlopsFP32;
  if (d.peakFlopsBF16 == 0)
    d.peakFlopsBF16 = d.peakFlopsFP16;
  return true;
}
} // namespace

llvm::Expected<ClusterSpec>
mlir::autopar::planner::parseClusterJSON(StringRef text, StringRef source) {
  llvm::Expected<json::Value> value = json::parse(text);
  if (!value)
    return clusterError(source + ": " + llvm::toString(value.takeError()));
  json::Path::Root root("cluster");
  json::Path path(root);
  ClusterSpec c;
  StrictObject o(*value, path);
  bool ok = o && o.string("name", c.name, /*required=*/false) &&
            o.positive("nodes", c.nodes) &&
            o.positive("devices_per_node", c.devicesPerNode);
  const json::Value *device = ok ? o.child("device") : nullptr;
  const json::Value *intra = device ? o.child("intra_node") : nullptr;
  const json::Value *inter = intra ? o.child("inter_node") : nullptr;
  ok = inter && o.noOtherKeys() &&
       parseDevice(*device, path.field("device"), c.device) &&
       parseLink(*intra, path.field("intra_node"), c.intraNode) &&
       parseLink(*inter, path.field("inter_node"), c.interNode);
  if (!ok)
    return clusterError(source + ": " + llvm::toString(root.getError()));
  if (c.name.empty())
    c.name = source.str();
  return c;
}

llvm::Expected<ClusterSpec>
mlir::autopar::planner::loadCluster(StringRef nameOrPath, int64_t cpuDevices) {
  if (!nameOrPath.ends_with(".json"))
    return clusterPreset(nameOrPath, cpuDevices);
  auto buffer = llvm::MemoryBuffer::getFile(nameOrPath, /*IsText=*/true);
  if (!buffer)
    return clusterError(nameOrPath + ": " + buffer.getError().message());
  return parseClusterJSON((*buffer)->getBuffer(), nameOrPath);
}
