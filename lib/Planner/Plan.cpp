//===- Plan.cpp - parallel plans for transformer training -----------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Planner/Plan.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>

using namespace mlir::autopar::planner;
using llvm::StringRef;

static llvm::Error planError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Models
//===----------------------------------------------------------------------===//

int64_t TransformerModel::attentionParams() const {
  int64_t kvDim = hidden / heads * kvHeads;
  int64_t matrices = 2 * hidden * hidden + 2 * hidden * kvDim;
  // GPT has biases on every matrix; Llama none.
  return matrices + (gatedMLP ? 0 : (hidden + 2 * kvDim) + hidden);
}

int64_t TransformerModel::mlpParams() const {
  return (gatedMLP ? 3 : 2) * hidden * ffn + (gatedMLP ? 0 : ffn + hidden);
}

int64_t TransformerModel::normParamsPerLayer() const {
  // GPT: two layer norms with bias; Llama: two RMSNorm scales.
  return gatedMLP ? 2 * hidden : 4 * hidden;
}

int64_t TransformerModel::attentionReplicated() const {
  return gatedMLP ? 0 : hidden;
}

int64_t TransformerModel::mlpReplicated() const {
  return gatedMLP ? 0 : hidden;
}

int64_t TransformerModel::paramsPerLayer() const {
  return attentionParams() + mlpParams() + normParamsPerLayer();
}

int64_t TransformerModel::embeddingParams() const {
  int64_t positions = gatedMLP ? 0 : seq * hidden; // RoPE has none
  return vocab * hidden * (tiedEmbedding ? 1 : 2) + positions +
         (gatedMLP ? hidden : 2 * hidden); // final norm
}

llvm::Error mlir::autopar::planner::setModelStates(llvm::StringRef name,
                                                   TrainingSetup &setup) {
  if (name == "mixed-adam") {
    setup.stateBytes = StateBytes::mixedPrecisionAdam();
    setup.computeType = ComputeType::BF16;
    return llvm::Error::success();
  }
  std::optional<StateBytes> bytes =
      llvm::StringSwitch<std::optional<StateBytes>>(name)
          .Case("fp32-adam", StateBytes::fp32Adam())
          .Case("fp32-momentum", StateBytes{4, 4, 4})
          .Case("fp32-sgd", StateBytes::fp32SGD())
          .Default(std::nullopt);
  if (!bytes)
    return planError("unknown model states '" + name.str() +
                     "' (mixed-adam, fp32-adam, fp32-momentum, fp32-sgd)");
  setup.stateBytes = *bytes;
  setup.computeType = ComputeType::FP32;
  return llvm::Error::success();
}

int64_t TransformerModel::replicatedPerLayer() const {
  // Two norms (LayerNorm: scale and bias), and GPT's biases of the
  // attention output and second MLP matrix.
  return normParamsPerLayer() + attentionReplicated() + mlpReplicated();
}

int64_t TransformerModel::replicatedEmbedding() const {
  return embeddingParams() - vocab * hidden * (tiedEmbedding ? 1 : 2);
}

int64_t TransformerModel::totalParams() const {
  return layers * paramsPerLayer() + embeddingParams();
}

double TransformerModel::attentionForwardFlops(double tokens) const {
  int64_t kvDim = hidden / heads * kvHeads;
  double matrices = 2.0 * hidden * hidden + 2.0 * hidden * kvDim;
  // 2 FLOPs per weight per token, plus q k^T and p v: 2 * 2 * s * h.
  return 2.0 * tokens * matrices + 4.0 * tokens * seq * hidden;
}

double TransformerModel::mlpForwardFlops(double tokens) const {
  return 2.0 * tokens * (gatedMLP ? 3.0 : 2.0) * hidden * ffn;
}

double TransformerModel::layerForwardFlops(double tokens) const {
  return attentionForwardFlops(tokens) + mlpForwardFlops(tokens);
}

double TransformerModel::headForwardFlops(double tokens) const {
  return 2.0 * tokens * vocab * hidden;
}

namespace {
struct ZooEntry {
  const char *name;
  int64_t layers, hidden, heads, kvHeads, ffn, vocab, seq;
  bool gated, tied;
};
// GPT-2 (Radford et al.), GPT-3 (Brown et al., table 2.1), Megatron-LM's
// weak-scaling models (Narayanan et al. SC'21, table 1; vocab 51200, seq
// 2048), Llama 3 (Meta, 2024).
const ZooEntry kZoo[] = {
    {"gpt2-small", 12, 768, 12, 12, 3072, 50257, 1024, false, true},
    {"gpt2-medium", 24, 1024, 16, 16, 4096, 50257, 1024, false, true},
    {"gpt2-large", 36, 1280, 20, 20, 5120, 50257, 1024, false, true},
    {"gpt2-xl", 48, 1600, 25, 25, 6400, 50257, 1024, false, true},
    {"gpt3-1.3b", 24, 2048, 16, 16, 8192, 50257, 2048, false, true},
    {"gpt3-2.7b", 32, 2560, 32, 32, 10240, 50257, 2048, false, true},
    {"gpt3-6.7b", 32, 4096, 32, 32, 16384, 50257, 2048, false, true},
    {"gpt3-13b", 40, 5140, 40, 40, 20560, 50257, 2048, false, true},
    {"gpt3-175b", 96, 12288, 96, 96, 49152, 50257, 2048, false, true},
    {"megatron-1.7b", 24, 2304, 24, 24, 9216, 51200, 2048, false, true},
    {"megatron-3.6b", 30, 3072, 32, 32, 12288, 51200, 2048, false, true},
    {"megatron-7.5b", 36, 4096, 32, 32, 16384, 51200, 2048, false, true},
    {"megatron-18.4b", 40, 6144, 48, 48, 24576, 51200, 2048, false, true},
    {"megatron-39.1b", 48, 8192, 64, 64, 32768, 51200, 2048, false, true},
    {"megatron-76.1b", 60, 10240, 80, 80, 40960, 51200, 2048, false, true},
    {"megatron-145.6b", 80, 12288, 96, 96, 49152, 51200, 2048, false, true},
    {"megatron-310.1b", 96, 16384, 128, 128, 65536, 51200, 2048, false, true},
    {"megatron-529.6b", 105, 20480, 128, 128, 81920, 51200, 2048, false, true},
    {"megatron-1t", 128, 25600, 160, 160, 102400, 51200, 2048, false, true},
    {"llama3-8b", 32, 4096, 32, 8, 14336, 128256, 8192, true, false},
    {"llama3-70b", 80, 8192, 64, 8, 28672, 128256, 8192, true, false},
};
} // namespace

std::vector<std::string> mlir::autopar::planner::zooPresets() {
  std::vector<std::string> names;
  for (const ZooEntry &e : kZoo)
    names.push_back(e.name);
  return names;
}

llvm::Expected<TransformerModel>
mlir::autopar::planner::zooModel(StringRef spec) {
  if (!spec.consume_front("zoo:"))
    return planError("model '" + spec +
                     "' is not a zoo model (zoo:NAME or zoo:gpt:...)");
  TransformerModel m;
  for (const ZooEntry &e : kZoo)
    if (spec == e.name) {
      m = {e.name, e.layers, e.hidden, e.heads, e.kvHeads,
           e.ffn,  e.vocab,  e.seq,    e.gated, e.tied};
      return m;
    }
  if (!spec.consume_front("gpt:") && spec != "gpt")
    return planError("unknown zoo model '" + spec + "' (known: " +
                     llvm::join(zooPresets(), ", ") + ", gpt:key=value,...)");
  m = {"gpt", 12, 768, 12, 0, 0, 50257, 1024, false, true};
  llvm::SmallVector<StringRef> parts;
  spec.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts) {
    auto [key, value] = part.split('=');
    int64_t v;
    if (value.getAsInteger(10, v) || v <= 0)
      return planError("zoo:gpt: '" + part + "' needs a positive integer");
    if (key == "layers")
      m.layers = v;
    else if (key == "hidden")
      m.hidden = v;
    else if (key == "heads")
      m.heads = v;
    else if (key == "ffn")
      m.ffn = v;
    else if (key == "vocab")
      m.vocab = v;
    else if (key == "seq")
      m.seq = v;
    else
      return planError("zoo:gpt: unknown key '" + key +
                       "' (layers, hidden, heads, ffn, vocab, seq)");
  }
  if (m.ffn == 0)
    m.ffn = 4 * m.hidden;
  m.kvHeads = m.heads;
  if (m.hidden % m.heads)
    return planError("zoo:gpt: hidden " + llvm::Twine(m.hidden) +
                     " is not divisible by heads " + llvm::Twine(m.heads));
  m.name = "gpt";
  return m;
}

//===----------------------------------------------------------------------===//
// Plans
//===----------------------------------------------------------------------===//

static StringRef scheduleName(Schedule s) {
  switch (s) {
  case Schedule::GPipe:
    return "gpipe";
  case Schedule::OneFOneB:
    return "1f1b";
  case Schedule::Interleaved:
    return "interleaved";
  }
  return "?";
}

static StringRef recomputeName(Recompute r) {
  switch (r) {
  case Recompute::None:
    return "none";
  case Recompute::Selective:
    return "selective";
  case Recompute::Full:
    return "full";
  }
  return "?";
}

std::string Plan::str() const {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "dp=" << dp << ",tp=" << tp << ",pp=" << pp
     << ",sp=" << (sequenceParallel ? "on" : "off") << ",zero=" << int(zero)
     << ",mb=" << microbatches << ",schedule=" << scheduleName(schedule);
  if (schedule == Schedule::Interleaved)
    os << ",v=" << virtualStages;
  os << ",recompute=" << recomputeName(recompute);
  if (cp > 1)
    os << ",cp=" << cp;
  if (wholeAttention)
    os << ",attn-whole=" << wholeAttention;
  if (wholeMlp)
    os << ",mlp-whole=" << wholeMlp;
  if (wholeHead)
    os << ",head=whole";
  return s;
}

/// Whether the `layer`th of `layers` layers is among the first `count` /
/// pp of its pipeline stage.
static bool amongFirstOfStage(int64_t layer, int64_t layers, int64_t pp,
                              int64_t count) {
  int64_t perStage = std::max<int64_t>(1, layers / std::max<int64_t>(1, pp));
  return layer % perStage < count / std::max<int64_t>(1, pp);
}

bool Plan::attentionWhole(int64_t layer, int64_t layers) const {
  return amongFirstOfStage(layer, layers, pp, wholeAttention);
}

bool Plan::mlpWhole(int64_t layer, int64_t layers) const {
  return amongFirstOfStage(layer, layers, pp, wholeMlp);
}

llvm::Expected<Plan> mlir::autopar::planner::parsePlan(StringRef text) {
  Plan p;
  llvm::SmallVector<StringRef> parts;
  text.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts) {
    auto [key, value] = part.trim().split('=');
    auto number = [&](int64_t &out, int64_t least = 1) -> llvm::Error {
      if (value.getAsInteger(10, out) || out < least)
        return planError("--plan: '" + part + "' needs a " +
                         (least ? "positive" : "non-negative") + " integer");
      return llvm::Error::success();
    };
    llvm::Error err = llvm::Error::success();
    if (key == "dp")
      err = number(p.dp);
    else if (key == "tp")
      err = number(p.tp);
    else if (key == "pp")
      err = number(p.pp);
    else if (key == "mb")
      err = number(p.microbatches);
    else if (key == "v")
      err = number(p.virtualStages);
    else if (key == "cp")
      err = number(p.cp);
    else if (key == "attn-whole")
      err = number(p.wholeAttention, 0);
    else if (key == "mlp-whole")
      err = number(p.wholeMlp, 0);
    else if (key == "head" && (value == "split" || value == "whole"))
      p.wholeHead = value == "whole";
    else if (key == "sp" && (value == "on" || value == "off"))
      p.sequenceParallel = value == "on";
    else if (key == "zero" && value.size() == 1 && value[0] >= '0' &&
             value[0] <= '3')
      p.zero = ZeroStage(value[0] - '0');
    else if (key == "schedule" &&
             (value == "gpipe" || value == "1f1b" || value == "interleaved"))
      p.schedule = value == "gpipe"  ? Schedule::GPipe
                   : value == "1f1b" ? Schedule::OneFOneB
                                     : Schedule::Interleaved;
    else if (key == "recompute" &&
             (value == "none" || value == "selective" || value == "full"))
      p.recompute = value == "none"        ? Recompute::None
                    : value == "selective" ? Recompute::Selective
                                           : Recompute::Full;
    else
      return planError("--plan: cannot read '" + part +
                       "' (keys: dp, tp, pp, sp=on|off, zero=0..3, mb, "
                       "schedule=gpipe|1f1b|interleaved, v, "
                       "recompute=none|selective|full, cp, attn-whole, "
                       "mlp-whole, head=split|whole)");
    if (err)
      return std::move(err);
  }
  if (p.schedule == Schedule::Interleaved && p.virtualStages < 2)
    p.virtualStages = 2;
  return p;
}

//===----------------------------------------------------------------------===//
// Evaluation
//===----------------------------------------------------------------------===//

/// Why `plan` cannot run `model` on `cluster` at all (before memory), or "".
static std::string invalidReason(const TransformerModel &m,
                                 const ClusterSpec &c,
                                 const TrainingSetup &setup, const Plan &p) {
  std::string why;
  llvm::raw_string_ostream os(why);
  int64_t seq = setup.seq ? setup.seq : m.seq;
  if (p.dp * p.tp * p.pp * p.cp != c.numDevices())
    os << (p.cp > 1 ? "dp*tp*pp*cp = " : "dp*tp*pp = ")
       << p.dp * p.tp * p.pp * p.cp << " but the cluster has " << c.numDevices()
       << " devices";
  else if (seq % p.cp)
    os << "cp=" << p.cp << " does not divide the sequence length " << seq;
  else if (m.heads % p.tp || m.ffn % p.tp)
    os << "tp=" << p.tp << " does not divide the " << m.heads
       << " heads and the ffn width " << m.ffn;
  else if (m.layers % (p.pp * p.virtualStages))
    os << "pp*v=" << p.pp * p.virtualStages << " does not divide the "
       << m.layers << " layers";
  else if (setup.globalBatch % p.dp)
    os << "dp=" << p.dp << " does not divide the global batch "
       << setup.globalBatch;
  else if ((setup.globalBatch / p.dp) % p.microbatches)
    os << p.microbatches << " microbatches do not divide the per-replica batch "
       << setup.globalBatch / p.dp;
  else if (p.sequenceParallel && p.tp == 1)
    os << "sequence parallelism needs tp > 1";
  else if (p.schedule == Schedule::Interleaved &&
           (p.pp == 1 || p.microbatches % p.pp))
    os << "the interleaved schedule needs pp > 1 and a multiple of pp "
          "microbatches";
  else if ((p.wholeAttention || p.wholeMlp || p.wholeHead) &&
           (p.tp == 1 || p.sequenceParallel))
    os << "blocks kept whole need tp > 1 and sp=off";
  else if (p.wholeAttention > m.layers || p.wholeMlp > m.layers ||
           p.wholeAttention % p.pp || p.wholeMlp % p.pp)
    os << "attn-whole and mlp-whole count layers: at most " << m.layers
       << " and a multiple of pp=" << p.pp;
  return why;
}

PlanEstimate mlir::autopar::planner::evaluatePlan(const TransformerModel &m,
                                                  const ClusterSpec &c,
                                                  const TrainingSetup &setup,
                                                  const Plan &p) {
  PlanEstimate e;
  e.plan = p;
  e.rejection = invalidReason(m, c, setup, p);
  if (!e.rejection.empty())
    return e;
  const DeviceSpec &d = c.device;
  double s = setup.seq ? setup.seq : m.seq;
  double b = double(setup.globalBatch / p.dp / p.microbatches);
  double tokens = b * s; // per microbatch
  double cp = double(p.cp);
  double layersPerStage = double(m.layers) / p.pp;
  double peak = d.peakFlops(setup.computeType) * setup.computeEfficiency;

  // Compute of the most loaded stage (the last: it also holds the head).
  // Context parallelism divides every token's work, attention included
  // (each device's queries against all keys, load-balanced as Megatron's
  // zigzag split does). Blocks kept whole are computed in full by every
  // tensor-parallel device.
  double wholeAttn = double(p.wholeAttention) / p.pp,
         wholeMlp = double(p.wholeMlp) / p.pp;
  double splitAttn = layersPerStage - wholeAttn,
         splitMlp = layersPerStage - wholeMlp;
  double attnFwd = m.attentionForwardFlops(tokens) / cp / peak;
  double mlpFwd = m.mlpForwardFlops(tokens) / cp / peak;
  double layersFwd = (splitAttn / p.tp + wholeAttn) * attnFwd +
                     (splitMlp / p.tp + wholeMlp) * mlpFwd;
  double headFwd =
      m.headForwardFlops(tokens) / (p.wholeHead ? 1 : p.tp) / cp / peak;
  double fwd = layersFwd + headFwd;
  double bwd = 2 * fwd;
  if (p.recompute == Recompute::Full)
    bwd += layersFwd;
  else if (p.recompute == Recompute::Selective)
    bwd += (splitAttn / p.tp + wholeAttn) * 4.0 * tokens * s * m.hidden / cp /
           peak;

  // Tensor parallelism: per split block one all-reduce forward and one
  // backward (or, with sequence parallelism, all-gathers and
  // reduce-scatters of the same volume), over the link inside the
  // tensor-parallel group. A vocabulary-split head adds the all-reduce of
  // its input's gradient and the cross-entropy's three all-reduces of one
  // number per token; a vocabulary-split embedding (on the first stage)
  // the all-reduce of its output.
  CollectiveCostModel tpComm(c.linkFor(p.tp, 1));
  double actBytes = tokens / cp * m.hidden * 2;
  double tpPerMicrobatch =
      2 * (splitAttn + splitMlp) * tpComm.allReduce(actBytes, p.tp);
  if (!p.wholeHead)
    tpPerMicrobatch += tpComm.allReduce(actBytes, p.tp) +
                       3 * tpComm.allReduce(tokens / cp * 4, p.tp);
  if (p.pp == 1 && !(p.wholeHead && m.tiedEmbedding))
    tpPerMicrobatch += tpComm.allReduce(actBytes, p.tp);
  // Context parallelism: per layer the key/value blocks go once around the
  // ring of cp devices forward and, with their gradients, twice backward,
  // hidden behind the attention computed on the blocks already there.
  double cpPerMicrobatch = 0;
  if (p.cp > 1) {
    CollectiveCostModel ring(c.linkFor(p.cp, p.tp));
    int64_t kvHeads = m.kvHeads > 0 ? m.kvHeads : m.heads;
    auto ringTime = [&](double parallel) {
      double kvBytes =
          2.0 * b * (s / cp) * (m.hidden / m.heads) * kvHeads * 2 / parallel;
      double attention = 4.0 * b * s * s * m.hidden / parallel / cp / peak;
      double pass = (cp - 1) * ring.sendRecv(kvBytes);
      return std::max(0.0, pass - attention) +
             std::max(0.0, 2 * pass - 2 * attention);
    };
    cpPerMicrobatch = splitAttn * ringTime(p.tp) + wholeAttn * ringTime(1);
  }
  double perMicrobatch = fwd + bwd + tpPerMicrobatch + cpPerMicrobatch;
  e.compute = p.microbatches * (fwd + bwd);
  e.exposedComm = p.microbatches * (tpPerMicrobatch + cpPerMicrobatch);

  // Pipeline: fill and drain, shortened by interleaving; activations sent
  // between stages during them.
  double v = p.schedule == Schedule::Interleaved ? p.virtualStages : 1;
  if (p.pp > 1) {
    e.bubble = (p.pp - 1) * perMicrobatch / v;
    CollectiveCostModel p2p(c.linkFor(2, p.tp * p.dp));
    double boundary = actBytes / (p.sequenceParallel ? p.tp : 1);
    // (actBytes is already one context-parallel rank's share.)
    e.exposedComm += 2 * (p.pp - 1) * v * p2p.sendRecv(boundary);
  }

  // Model states of the first stage (embedding) or the last (head).
  // Split by tensor parallelism but for the norms, row biases and
  // positions every tensor-parallel process keeps whole, and the blocks
  // kept whole.
  auto held = [&](double params, double replicated, bool whole) {
    return whole ? params : (params - replicated) / p.tp + replicated;
  };
  // The stage's vocabulary tables: with pp > 1 the last stage's head (the
  // first stage's embedding is no larger); with pp = 1 the embedding, whole
  // with a whole head it is tied to, and an untied head's own table.
  double table = m.vocab * double(m.hidden);
  double tables =
      p.pp > 1 ? held(table, 0, p.wholeHead)
               : held(table, 0, p.wholeHead && m.tiedEmbedding) +
                     (m.tiedEmbedding ? 0 : held(table, 0, p.wholeHead)) +
                     m.replicatedEmbedding();
  double stageParams =
      layersPerStage * m.normParamsPerLayer() +
      splitAttn * held(m.attentionParams(), m.attentionReplicated(), false) +
      wholeAttn * m.attentionParams() +
      splitMlp * held(m.mlpParams(), m.mlpReplicated(), false) +
      wholeMlp * m.mlpParams() + tables;
  // Context-parallel ranks hold the same parameters: gradients are reduced
  // and ZeRO shards over data x context replicas.
  int64_t replicas = p.dp * p.cp;
  ModelStateMemory states =
      modelStateMemory(stageParams, replicas, p.zero, setup.stateBytes);
  e.parameters = states.parameters;
  e.gradients = states.gradients;
  e.optimizerState = states.optimizer;

  // Data parallelism: gradients reduced (all-reduce, or reduce-scatter +
  // all-gather under ZeRO: the same volume) while the last microbatch's
  // backward runs; ZeRO-3 also gathers parameters for forward and backward.
  CollectiveCostModel dpComm(c.linkFor(replicas, p.tp));
  double gradBytes = stageParams * setup.stateBytes.gradient;
  double dpTime = dpComm.allReduce(gradBytes, replicas);
  if (p.zero == ZeroStage::Parameters)
    dpTime += 2 * dpComm.allGather(stageParams * setup.stateBytes.parameter,
                                   replicas);
  e.dataParallelSlack = dpTime - bwd;
  e.exposedComm += std::max(0.0, dpTime - bwd);

  // Optimizer: memory-bound update of this device's share of the states.
  double updated =
      stageParams /
      (p.zero >= ZeroStage::OptimizerStates ? double(replicas) : 1.0);
  double bytesPerParam = 2 * setup.stateBytes.optimizer +
                         setup.stateBytes.gradient +
                         2 * setup.stateBytes.parameter;
  e.optimizer = rooflineTime(d, setup.computeType, 0, updated * bytesPerParam,
                             1.0, setup.memoryEfficiency);

  // Activations: the first stage keeps min(pp, mb) microbatches in flight
  // under 1F1B (all of them under GPipe; interleaving adds (pp-1)/(pp v)).
  // With context parallelism a device holds 1/cp of each sequence.
  TransformerShape shape{int64_t(s / cp), int64_t(b), m.hidden, m.heads};
  double perLayer = transformerLayerActivationBytes(
      shape, p.tp, p.sequenceParallel, p.recompute);
  if (p.wholeAttention || p.wholeMlp) {
    // A whole block counts its activations in full; the formula is a sum
    // over the blocks, so layers with one whole block add its difference.
    auto layer = [&](bool attn, bool mlp) {
      return blockSplitActivationBytes(shape, attn ? 1 : p.tp, mlp ? 1 : p.tp,
                                       p.recompute);
    };
    double split = layer(false, false);
    perLayer = split + (wholeAttn * (layer(true, false) - split) +
                        wholeMlp * (layer(false, true) - split)) /
                           layersPerStage;
  }
  double inFlight = p.schedule == Schedule::GPipe
                        ? double(p.microbatches)
                        : double(std::min(p.pp, p.microbatches));
  if (p.schedule == Schedule::Interleaved)
    inFlight *= 1 + double(p.pp - 1) / (p.pp * v);
  e.activations = perLayer * layersPerStage * inFlight;
  // Workspace: fp32 logits for the loss (vocab split by tp), the embedding
  // output, and a fixed 512 MiB for library workspaces.
  e.workspace = tokens / cp * m.vocab * 4.0 / (p.wholeHead ? 1 : p.tp) +
                tokens / cp * m.hidden * 4.0 + 512.0 * (1 << 20);

  double budget = setup.memoryHeadroom * d.memoryBytes;
  double stepTime = e.stepTime();
  double stepTokens = double(setup.globalBatch) * s;
  e.tokensPerSecond = stepTokens / stepTime;
  double modelFlops = 3 * (m.layers * m.layerForwardFlops(stepTokens) +
                           m.headForwardFlops(stepTokens));
  e.tflopsPerDevice = modelFlops / stepTime / c.numDevices() / 1e12;
  e.mfu =
      modelFlops / stepTime / (c.numDevices() * d.peakFlops(setup.computeType));
  if (e.memory() > budget) {
    std::string why;
    llvm::raw_string_ostream os(why);
    os << llvm::format("needs %.1f GB per device, more than %.0f%% of %.1f GB",
                       e.memory() / 1e9, setup.memoryHeadroom * 100,
                       d.memoryBytes / 1e9);
    e.rejection = why;
    return e;
  }
  e.feasible = true;
  return e;
}

//===----------------------------------------------------------------------===//
// Search
//===----------------------------------------------------------------------===//

static std::vector<int64_t> divisors(int64_t n) {
  std::vector<int64_t> out;
  for (int64_t i = 1; i * i <= n; ++i)
    if (n % i == 0) {
      out.push_back(i);
      if (i != n / i)
        out.push_back(n / i);
    }
  std::sort(out.begin(), out.end());
  return out;
}

PlanEstimate mlir::autopar::planner::chooseWholeBlocks(
    const TransformerModel &m, const ClusterSpec &c, const TrainingSetup &setup,
    const PlanEstimate &base, int64_t *evaluated) {
  const Plan &bp = base.plan;
  if (bp.tp == 1 || bp.sequenceParallel ||
      !invalidReason(m, c, setup, bp).empty())
    return base;
  int64_t perStage = m.layers / bp.pp;
  double budget = setup.memoryHeadroom * c.device.memoryBytes;
  PlanEstimate best = base;
  auto consider = [&](const PlanEstimate &e) {
    if (e.feasible && (!best.feasible || e.stepTime() < best.stepTime()))
      best = e;
  };
  auto variant = [&](int64_t attn, int64_t mlp, bool head) {
    Plan p = bp;
    p.wholeAttention = attn * bp.pp;
    p.wholeMlp = mlp * bp.pp;
    p.wholeHead = head;
    if (evaluated)
      ++*evaluated;
    return evaluatePlan(m, c, setup, p);
  };
  for (bool head : {false, true}) {
    // Step time A + max(0, G) and memory M, each affine in the per-stage
    // counts: read off at no whole block and at all attention / all MLP
    // blocks whole.
    PlanEstimate e0 = head ? variant(0, 0, true) : base;
    PlanEstimate ea = variant(perStage, 0, head);
    PlanEstimate em = variant(0, perStage, head);
    consider(e0);
    consider(ea);
    consider(em);
    auto affine = [](const PlanEstimate &e) {
      return std::array<double, 3>{e.stepTime() -
                                       std::max(0.0, e.dataParallelSlack),
                                   e.dataParallelSlack, e.memory()};
    };
    std::array<double, 3> f0 = affine(e0), fa = affine(ea), fm = affine(em);
    std::array<double, 3> da, dm;
    for (int i = 0; i < 3; ++i) {
      da[i] = (fa[i] - f0[i]) / perStage;
      dm[i] = (fm[i] - f0[i]) / perStage;
    }
    double bestTime = std::numeric_limits<double>::infinity();
    int64_t bestA = -1, bestM = -1;
    for (int64_t a = 0; a <= perStage; ++a) {
      // The MLP counts that fit: M0 + dm * mlp <= budget.
      double m0 = f0[2] + a * da[2];
      double lo = 0, hi = double(perStage);
      if (dm[2] > 0)
        hi = std::min(hi, std::floor((budget - m0) / dm[2] + 1e-9));
      else if (dm[2] < 0)
        lo = std::max(lo, std::ceil((budget - m0) / dm[2] - 1e-9));
      else if (m0 > budget)
        continue;
      if (lo > hi)
        continue;
      // Convex in the MLP count: best at an end or where G crosses zero.
      double g0 = f0[1] + a * da[1];
      llvm::SmallVector<double, 4> counts = {lo, hi};
      if (dm[1] != 0) {
        double root = -g0 / dm[1];
        for (double r : {std::floor(root), std::ceil(root)})
          if (r > lo && r < hi)
            counts.push_back(r);
      }
      for (double mlp : counts) {
        double t =
            f0[0] + a * da[0] + mlp * dm[0] + std::max(0.0, g0 + mlp * dm[1]);
        if (t < bestTime) {
          bestTime = t;
          bestA = a;
          bestM = int64_t(mlp);
        }
      }
    }
    if (bestA >= 0)
      consider(variant(bestA, bestM, head));
  }
  return best;
}

llvm::Expected<SearchResult> mlir::autopar::planner::searchPlans(
    const TransformerModel &m, const ClusterSpec &c, const TrainingSetup &setup,
    size_t keepAlternatives) {
  SearchResult result;
  std::vector<PlanEstimate> feasible, rejected;
  std::map<std::string, int64_t> reasons;
  int64_t n = c.numDevices();
  for (int64_t tp : divisors(n)) {
    if (m.heads % tp || m.ffn % tp)
      continue;
    // Tensor parallelism's per-layer all-reduces across nodes are never
    // worth it (Megatron keeps tp within a node).
    if (!setup.exhaustive && tp > c.devicesPerNode)
      continue;
    for (int64_t pp : divisors(n / tp)) {
      if (m.layers % pp)
        continue;
      // Context parallelism for long sequences only (at least 1024 tokens
      // per rank), by powers of two up to 8.
      int64_t seq = setup.seq ? setup.seq : m.seq;
      for (int64_t cp : {1, 2, 4, 8}) {
        if ((n / tp / pp) % cp || seq % cp || (cp > 1 && seq / cp < 1024))
          continue;
        int64_t dp = n / tp / pp / cp;
        if (setup.globalBatch % dp)
          continue;
        for (int64_t mb : divisors(setup.globalBatch / dp)) {
          if (pp == 1 && mb > 1)
            continue; // without a pipeline, microbatching only adds steps
          // Microbatches of more than 16 sequences only lengthen the
          // pipeline's fill and drain.
          if (!setup.exhaustive && pp > 1 && setup.globalBatch / dp / mb > 16)
            continue;
          for (bool sp : {false, true}) {
            if (sp && tp == 1)
              continue;
            for (int zero = 0; zero <= 3; ++zero) {
              for (Recompute r :
                   {Recompute::None, Recompute::Selective, Recompute::Full}) {
                std::vector<std::pair<Schedule, int64_t>> schedules = {
                    {Schedule::OneFOneB, 1}};
                if (pp > 1) {
                  schedules.push_back({Schedule::GPipe, 1});
                  // Interleaving: v model chunks per device, v dividing the
                  // layers of a stage (Megatron needs mb a multiple of pp).
                  for (int64_t v : {2, 3, 4, 6, 8})
                    if (m.layers % (pp * v) == 0 && mb % pp == 0)
                      schedules.push_back({Schedule::Interleaved, v});
                }
                for (auto [schedule, v] : schedules) {
                  Plan p{dp, tp,       pp, sp, ZeroStage(zero),
                         mb, schedule, v,  r,  cp};
                  PlanEstimate e = evaluatePlan(m, c, setup, p);
                  ++result.evaluated;
                  // Blocks kept whole: chosen exactly, or every count
                  // tried when exhaustive.
                  if (tp > 1 && !sp) {
                    if (!setup.exhaustive) {
                      e = chooseWholeBlocks(m, c, setup, e, &result.evaluated);
                    } else {
                      int64_t perStage = m.layers / pp;
                      for (bool head : {false, true})
                        for (int64_t a = 0; a <= perStage; ++a)
                          for (int64_t w = 0; w <= perStage; ++w) {
                            if (!head && !a && !w)
                              continue;
                            Plan q = p;
                            q.wholeAttention = a * pp;
                            q.wholeMlp = w * pp;
                            q.wholeHead = head;
                            PlanEstimate x = evaluatePlan(m, c, setup, q);
                            ++result.evaluated;
                            if (x.feasible &&
                                (!e.feasible || x.stepTime() < e.stepTime()))
                              e = x;
                          }
                    }
                  }
                  if (e.feasible) {
                    feasible.push_back(e);
                  } else {
                    ++reasons[e.rejection.substr(0, e.rejection.find(','))];
                    rejected.push_back(e);
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  result.feasible = feasible.size();
  auto faster = [](const PlanEstimate &a, const PlanEstimate &b) {
    return a.stepTime() < b.stepTime();
  };
  if (feasible.empty()) {
    std::string why = "no plan fits";
    if (!rejected.empty()) {
      auto best = std::min_element(rejected.begin(), rejected.end(), faster);
      why += "; the fastest candidate (" + best->plan.str() + ") " +
             best->rejection;
    }
    return planError(why + " (" + llvm::Twine(result.evaluated) +
                     " plans evaluated)");
  }
  std::sort(feasible.begin(), feasible.end(), faster);
  std::sort(rejected.begin(), rejected.end(), faster);
  result.best = feasible.front();
  // Alternatives: the fastest rejected plans (with why) and the runners-up
  // of other grid shapes.
  for (const PlanEstimate &e : rejected) {
    if (result.alternatives.size() >= keepAlternatives / 2 + 1 ||
        e.stepTime() >= result.best.stepTime() * 2)
      break;
    bool sameGrid =
        llvm::any_of(result.alternatives, [&](const PlanEstimate &x) {
          return x.plan.dp == e.plan.dp && x.plan.tp == e.plan.tp &&
                 x.plan.pp == e.plan.pp;
        });
    if (e.stepTime() < result.best.stepTime() && !sameGrid)
      result.alternatives.push_back(e);
  }
  for (const PlanEstimate &e : feasible) {
    if (result.alternatives.size() >= keepAlternatives)
      break;
    const Plan &a = e.plan, &bp = result.best.plan;
    if (a.dp != bp.dp || a.tp != bp.tp || a.pp != bp.pp)
      if (llvm::none_of(result.alternatives, [&](const PlanEstimate &x) {
            return x.feasible && x.plan.dp == a.dp && x.plan.tp == a.tp &&
                   x.plan.pp == a.pp;
          }))
        result.alternatives.push_back(e);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Output
//===----------------------------------------------------------------------===//

static llvm::json::Value planJSON(const Plan &p, const TrainingSetup &setup) {
  return llvm::json::Object{
      {"dp", p.dp},
      {"tp", p.tp},
      {"pp", p.pp},
      {"sequence_parallel", p.sequenceParallel},
      {"zero", int64_t(p.zero)},
      {"microbatches", p.microbatches},
      {"microbatch_size", setup.globalBatch / p.dp / p.microbatches},
      {"schedule", scheduleName(p.schedule)},
      {"virtual_stages", p.virtualStages},
      {"recompute", recomputeName(p.recompute)},
      {"whole_attention_layers", p.wholeAttention},
      {"whole_mlp_layers", p.wholeMlp},
      {"head", p.wholeHead ? "whole" : "split"},
      {"spec", p.str()}};
}

static llvm::json::Value estimateJSON(const PlanEstimate &e,
                                      const TrainingSetup &setup) {
  return llvm::json::Object{
      {"plan", planJSON(e.plan, setup)},
      {"feasible", e.feasible},
      {"rejection", e.rejection},
      {"step_time_s", e.stepTime()},
      {"time_s", llvm::json::Object{{"compute", e.compute},
                                    {"exposed_communication", e.exposedComm},
                                    {"pipeline_bubble", e.bubble},
                                    {"optimizer", e.optimizer}}},
      {"memory_per_device_bytes",
       llvm::json::Object{{"parameters", e.parameters},
                          {"gradients", e.gradients},
                          {"optimizer_state", e.optimizerState},
                          {"activations", e.activations},
                          {"workspace", e.workspace},
                          {"total", e.memory()}}},
      {"tokens_per_s", e.tokensPerSecond},
      {"tflops_per_device", e.tflopsPerDevice},
      {"mfu", e.mfu}};
}

llvm::Expected<SearchResult> mlir::autopar::planner::choosePlan(
    const TransformerModel &m, const ClusterSpec &c, const TrainingSetup &setup,
    StringRef planSpec) {
  if (planSpec.empty())
    return searchPlans(m, c, setup);
  llvm::Expected<Plan> plan = parsePlan(planSpec);
  if (!plan)
    return plan.takeError();
  SearchResult result;
  result.best = evaluatePlan(m, c, setup, *plan);
  result.evaluated = 1;
  result.feasible = result.best.feasible;
  if (!result.best.feasible)
    return planError("plan " + plan->str() +
                     " is not possible: " + result.best.rejection);
  return result;
}

llvm::json::Value mlir::autopar::planner::toJSON(const TransformerModel &m,
                                                 const ClusterSpec &c,
                                                 const TrainingSetup &setup,
                                                 const SearchResult &r) {
  llvm::json::Array alternatives;
  for (const PlanEstimate &e : r.alternatives)
    alternatives.push_back(estimateJSON(e, setup));
  return llvm::json::Object{
      {"model", llvm::json::Object{{"name", m.name},
                                   {"parameters", m.totalParams()},
                                   {"layers", m.layers},
                                   {"hidden", m.hidden},
                                   {"heads", m.heads},
                                   {"seq", setup.seq ? setup.seq : m.seq}}},
      {"cluster", llvm::json::Object{{"name", c.name},
                                     {"devices", c.numDevices()},
                                     {"device", c.device.name}}},
      {"global_batch", setup.globalBatch},
      {"chosen", estimateJSON(r.best, setup)},
      {"alternatives", std::move(alternatives)},
      {"search", llvm::json::Object{{"evaluated", r.evaluated},
                                    {"feasible", r.feasible}}}};
}

/// How the tensor-parallel group splits the layer's blocks and the head.
static std::string blockSummary(const TransformerModel &m, const Plan &p) {
  return llvm::formatv("inside each tensor-parallel group of {0}: attention "
                       "split by heads in {1} layers, whole in {2}; MLP split "
                       "column/row in {3}, whole in {4}; vocabulary head {5}",
                       p.tp, m.layers - p.wholeAttention, p.wholeAttention,
                       m.layers - p.wholeMlp, p.wholeMlp,
                       p.wholeHead ? "whole" : "split")
      .str();
}

std::string mlir::autopar::planner::explain(const TransformerModel &m,
                                            const ClusterSpec &c,
                                            const TrainingSetup &setup,
                                            const SearchResult &r) {
  std::string text;
  llvm::raw_string_ostream os(text);
  const PlanEstimate &e = r.best;
  os << llvm::format("model %s: %.2fB parameters, %lld layers, hidden %lld\n",
                     m.name.c_str(), m.totalParams() / 1e9, (long long)m.layers,
                     (long long)m.hidden);
  os << "cluster " << c.name << ": " << c.numDevices() << " x " << c.device.name
     << "\n";
  os << "plan: " << e.plan.str() << "  (microbatch size "
     << setup.globalBatch / e.plan.dp / e.plan.microbatches << ")\n";
  if (e.plan.tp > 1)
    os << blockSummary(m, e.plan) << "\n";
  os << llvm::format("step time %.3f s = compute %.3f + exposed "
                     "communication %.3f + pipeline bubble %.3f + optimizer "
                     "%.3f\n",
                     e.stepTime(), e.compute, e.exposedComm, e.bubble,
                     e.optimizer);
  os << llvm::format("memory per device %.2f GB = parameters %.2f + "
                     "gradients %.2f + optimizer state %.2f + activations "
                     "%.2f + workspace %.2f (device %.0f GB)\n",
                     e.memory() / 1e9, e.parameters / 1e9, e.gradients / 1e9,
                     e.optimizerState / 1e9, e.activations / 1e9,
                     e.workspace / 1e9, c.device.memoryBytes / 1e9);
  os << llvm::format("throughput %.0f tokens/s, %.1f TFLOP/s per device, MFU "
                     "%.1f%%\n",
                     e.tokensPerSecond, e.tflopsPerDevice, e.mfu * 100);
  os << "searched " << r.evaluated << " plans, " << r.feasible
     << " fit in memory\n";
  for (const PlanEstimate &a : r.alternatives) {
    os << "  alternative " << a.plan.str() << ": ";
    if (a.feasible)
      os << llvm::format("%.3f s per step (%.2fx)\n", a.stepTime(),
                         a.stepTime() / e.stepTime());
    else
      os << llvm::format("would take %.3f s but ", a.stepTime()) << a.rejection
         << "\n";
  }
  return text;
}

//===----------------------------------------------------------------------===//
// HTML
//===----------------------------------------------------------------------===//

namespace {
std::string htmlEscape(llvm::StringRef text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '&':
      out += "&amp;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

/// One stacked horizontal bar: `parts` (label, value, colour) as shares of
/// `whole`.
std::string
stackedBar(llvm::ArrayRef<std::tuple<const char *, double, const char *>> parts,
           double whole, llvm::StringRef unit, double scale) {
  std::string s = "<div class=\"bar\">";
  for (auto [label, value, colour] : parts) {
    double pct = whole > 0 ? 100.0 * value / whole : 0;
    if (pct <= 0)
      continue;
    s += llvm::formatv("<div class=\"seg\" style=\"width:{0:F2}%;"
                       "background:{1}\" title=\"{2}: {3:F3} {4}\"></div>",
                       pct, colour, label, value / scale, unit);
  }
  s += "</div><div class=\"legend\">";
  for (auto [label, value, colour] : parts)
    s += llvm::formatv("<span><i style=\"background:{0}\"></i>{1} {2:F3} "
                       "{3}</span>",
                       colour, label, value / scale, unit);
  return s + "</div>";
}
} // namespace

std::string mlir::autopar::planner::toHTML(const TransformerModel &m,
                                           const ClusterSpec &c,
                                           const TrainingSetup &setup,
                                           const SearchResult &r) {
  const PlanEstimate &e = r.best;
  const Plan &p = e.plan;
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
     << htmlEscape(m.name) << " on " << htmlEscape(c.name) << "</title><style>"
     << "body{font-family:sans-serif;margin:2em;max-width:70em}"
     << ".bar{display:flex;height:1.6em;border:1px solid #888;width:100%}"
     << ".seg{height:100%}.legend span{margin-right:1.5em;font-size:90%}"
     << ".legend i{display:inline-block;width:.9em;height:.9em;"
     << "margin-right:.3em;vertical-align:middle}"
     << ".stage{margin:.4em 0;padding:.3em;border:1px solid #bbb}"
     << ".replica{display:inline-block;margin:1px 4px 1px 0;padding:1px;"
     << "border:1px solid #46a}"
     << ".dev{display:inline-block;width:.8em;height:.8em;margin:1px;"
     << "background:#8ac}"
     << "table{border-collapse:collapse}td,th{border:1px solid #bbb;"
     << "padding:.2em .5em;text-align:left}</style></head><body>\n";
  os << "<h1>" << htmlEscape(m.name) << " on " << htmlEscape(c.name) << " ("
     << c.numDevices() << " devices)</h1>\n";
  os << llvm::formatv(
      "<p>Plan <b>{0}</b>: {1:F1} s per step of {2} sequences, {3:F0} "
      "tokens/s, {4:F1} TFLOP/s per device, MFU {5:F1}%. Searched {6} plans, "
      "{7} fit in memory.</p>\n",
      htmlEscape(p.str()), e.stepTime(), setup.globalBatch, e.tokensPerSecond,
      e.tflopsPerDevice, 100 * e.mfu, r.evaluated, r.feasible);

  // The device grid: one box per pipeline stage, holding its data-parallel
  // replicas, each a group of tensor-parallel devices.
  if (p.tp > 1)
    os << "<p>" << htmlEscape(blockSummary(m, p)) << ".</p>\n";
  os << "<h2>Device grid: " << p.pp << " pipeline stages &times; " << p.dp
     << " data-parallel replicas &times; " << p.tp
     << " tensor-parallel devices</h2>\n";
  int64_t shownReplicas = std::min<int64_t>(p.dp, 32);
  for (int64_t stage = 0; stage < p.pp; ++stage) {
    int64_t first = stage * m.layers / p.pp;
    int64_t last = (stage + 1) * m.layers / p.pp - 1;
    os << "<div class=\"stage\"><b>stage " << stage << "</b>: layers " << first
       << "&ndash;" << last << (stage == 0 ? ", embedding" : "")
       << (stage == p.pp - 1 ? ", final norm and head" : "") << "<br>";
    for (int64_t replica = 0; replica < shownReplicas; ++replica) {
      os << "<span class=\"replica\" title=\"stage " << stage << ", replica "
         << replica << "\">";
      for (int64_t t = 0; t < p.tp; ++t)
        os << "<span class=\"dev\"></span>";
      os << "</span>";
    }
    if (shownReplicas < p.dp)
      os << " &hellip; and " << p.dp - shownReplicas << " more replicas";
    os << "</div>\n";
  }

  os << "<h2>Time per step</h2>\n"
     << stackedBar({{"compute", e.compute, "#4a8"},
                    {"exposed communication", e.exposedComm, "#d84"},
                    {"pipeline bubble", e.bubble, "#bbb"},
                    {"optimizer", e.optimizer, "#86c"}},
                   e.stepTime(), "s", 1.0);
  os << "<h2>Memory per device (of "
     << llvm::format("%.1f", c.device.memoryBytes / 1e9) << " GB)</h2>\n"
     << stackedBar({{"parameters", e.parameters, "#48c"},
                    {"gradients", e.gradients, "#8ac"},
                    {"optimizer state", e.optimizerState, "#86c"},
                    {"activations", e.activations, "#4a8"},
                    {"workspace", e.workspace, "#bbb"},
                    {"free", std::max(0.0, c.device.memoryBytes - e.memory()),
                     "#fff"}},
                   std::max(c.device.memoryBytes, e.memory()), "GB", 1e9);

  os << "<h2>Alternatives</h2>\n<table><tr><th>plan</th><th>step (s)</th>"
     << "<th>memory (GB)</th><th>why not</th></tr>\n";
  for (const PlanEstimate &a : r.alternatives)
    os << llvm::formatv("<tr><td>{0}</td><td>{1:F2}</td><td>{2:F1}</td>"
                        "<td>{3}</td></tr>\n",
                        htmlEscape(a.plan.str()), a.stepTime(),
                        a.memory() / 1e9,
                        htmlEscape(a.feasible ? "slower" : a.rejection));
  os << "</table>\n</body></html>\n";
  return s;
}
