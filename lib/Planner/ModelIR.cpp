//===- ModelIR.cpp - zoo transformers in the autopar dialect, with a plan -===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Planner/ModelIR.h"

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::autopar;
using namespace mlir::autopar::planner;

namespace {
std::string tensorType(ArrayRef<int64_t> shape, StringRef element = "f32") {
  std::string s = "tensor<";
  for (int64_t d : shape)
    s += std::to_string(d) + "x";
  return s + element.str() + ">";
}

/// Writes the forward function as text in the autopar dialect's assembly
/// formats; parsing it verifies every op.
struct Writer {
  const TransformerModel &m;
  int64_t batch, seq;
  std::string args, body;
  int64_t next = 0;
  std::vector<ParamInfo> params;
  std::vector<BlockKind> opBlocks;
  BlockKind block = BlockKind::Other; ///< of the params and ops written now

  std::string value() { return "%v" + std::to_string(next++); }

  std::string param(StringRef name, ArrayRef<int64_t> shape, ParamKind kind,
                    int64_t layer) {
    std::string v = "%p" + std::to_string(params.size());
    args += llvm::formatv(
        ", {0}: {1} {{autopar.name = \"{2}\", autopar.role = \"param\"}", v,
        tensorType(shape), name);
    params.push_back({name.str(), kind, layer, block});
    return v;
  }
  std::string op(const std::string &text) {
    std::string v = value();
    body += "    " + v + " = " + text + "\n";
    opBlocks.push_back(block);
    return v;
  }
  /// x [.., in] times w [in, out] (or [out, in] when `transposed`), plus
  /// the bias when there is one.
  std::string linear(const std::string &x, ArrayRef<int64_t> xShape,
                     const std::string &w, const std::string &b, int64_t in,
                     int64_t out, int64_t layer, bool transposed = false) {
    SmallVector<int64_t> outShape(xShape.drop_back());
    outShape.push_back(out);
    std::string attrs = "{autopar.layer = " + std::to_string(layer) + " : i64" +
                        (transposed ? ", weight_transposed" : "") + "}";
    std::string wType =
        transposed ? tensorType({out, in}) : tensorType({in, out});
    if (b.empty())
      return op(llvm::formatv("autopar.linear {0}, {1} {2} : {3}, {4} -> {5}",
                              x, w, attrs, tensorType(xShape), wType,
                              tensorType(outShape)));
    return op(
        llvm::formatv("autopar.linear {0}, {1}, {2} {3} : {4}, {5}, {6} -> {7}",
                      x, w, b, attrs, tensorType(xShape), wType,
                      tensorType({out}), tensorType(outShape)));
  }
  /// A bias parameter, for models that have them (GPT; not Llama).
  std::string bias(StringRef name, int64_t size, ParamKind kind,
                   int64_t layer) {
    return m.gatedMLP ? std::string() : param(name, {size}, kind, layer);
  }
  std::string norm(const std::string &x, int64_t layer, StringRef prefix) {
    int64_t d = m.hidden;
    std::string t = tensorType({batch, seq, d});
    if (m.gatedMLP) { // Llama: RMSNorm
      std::string s =
          param((prefix + ".weight").str(), {d}, ParamKind::Replicated, layer);
      return op(llvm::formatv(
          "autopar.rms_norm {0}, {1}, axis = 2, epsilon = 1.0e-05 "
          "{{autopar.layer = {4} : i64} : {2}, {3} -> {2}",
          x, s, t, tensorType({d}), layer));
    }
    std::string s =
        param((prefix + ".weight").str(), {d}, ParamKind::Replicated, layer);
    std::string b =
        param((prefix + ".bias").str(), {d}, ParamKind::Replicated, layer);
    return op(llvm::formatv("autopar.layer_norm {0}, {1}, {2}, axis = 2, "
                            "epsilon = 1.0e-05 {{autopar.layer = {5} : i64} "
                            ": {3}, {4} -> {3}",
                            x, s, b, t, tensorType({d}), layer));
  }
  /// [B, S, n*h] -> [B, n, S, h]
  std::string heads(const std::string &x, int64_t n) {
    int64_t h = m.hidden / m.heads;
    std::string r = op(llvm::formatv("autopar.reshape {0} : {1} -> {2}", x,
                                     tensorType({batch, seq, n * h}),
                                     tensorType({batch, seq, n, h})));
    return op(llvm::formatv("autopar.transpose {0}, perm = [0, 2, 1, 3] : {1} "
                            "-> {2}",
                            r, tensorType({batch, seq, n, h}),
                            tensorType({batch, n, seq, h})));
  }
  std::string slice(const std::string &x, int64_t last, int64_t from,
                    int64_t to) {
    return op(llvm::formatv(
        "autopar.slice {0}, start = [0, 0, {1}], limit = [{2}, {3}, {4}], "
        "strides = [1, 1, 1] : {5} -> {6}",
        x, from, batch, seq, to, tensorType({batch, seq, last}),
        tensorType({batch, seq, to - from})));
  }
  /// Grouped-query attention: key/value heads repeated to the query's.
  std::string repeatKV(const std::string &x) {
    int64_t h = m.hidden / m.heads, kv = m.kvHeads, rep = m.heads / kv;
    if (rep == 1)
      return x;
    std::string r = op(llvm::formatv("autopar.reshape {0} : {1} -> {2}", x,
                                     tensorType({batch, kv, seq, h}),
                                     tensorType({batch, kv, 1, seq, h})));
    std::string bc = op(llvm::formatv(
        "autopar.broadcast {0}, dims = [0, 1, 2, 3, 4] : {1} -> {2}", r,
        tensorType({batch, kv, 1, seq, h}),
        tensorType({batch, kv, rep, seq, h})));
    return op(llvm::formatv("autopar.reshape {0} : {1} -> {2}", bc,
                            tensorType({batch, kv, rep, seq, h}),
                            tensorType({batch, m.heads, seq, h})));
  }

  std::string build() {
    int64_t d = m.hidden, f = m.ffn, v = m.vocab, hd = d / m.heads,
            kvd = m.kvHeads * hd;
    std::string hidden = tensorType({batch, seq, d});
    block = BlockKind::Embedding;
    std::string wte =
        param("embed.weight", {v, d}, ParamKind::VocabParallel, -1);
    std::string h = op(llvm::formatv(
        "autopar.embedding {0}, %ids : {1}, {2} -> {3}", wte,
        tensorType({v, d}), tensorType({batch, seq}, "i64"), hidden));
    block = BlockKind::Other;
    if (!m.gatedMLP) { // GPT: learned positions
      std::string wpe =
          param("pos.weight", {m.seq, d}, ParamKind::Replicated, -1);
      if (seq != m.seq)
        wpe = op(llvm::formatv("autopar.slice {0}, start = [0, 0], limit = "
                               "[{1}, {2}], strides = [1, 1] : {3} -> {4}",
                               wpe, seq, d, tensorType({m.seq, d}),
                               tensorType({seq, d})));
      std::string bpe =
          op(llvm::formatv("autopar.broadcast {0}, dims = [1, 2] : {1} -> {2}",
                           wpe, tensorType({seq, d}), hidden));
      h = op(llvm::formatv("autopar.add {0}, {1} : {2}", h, bpe, hidden));
    }
    for (int64_t l = 0; l < m.layers; ++l) {
      std::string p = "layers." + std::to_string(l);
      block = BlockKind::Other;
      std::string x = norm(h, l, p + ".norm1");
      block = BlockKind::Attention;
      int64_t qkvOut = d + 2 * kvd;
      std::string wqkv = param(p + ".attn.qkv.weight", {d, qkvOut},
                               ParamKind::ColumnParallel, l);
      std::string bqkv =
          bias(p + ".attn.qkv.bias", qkvOut, ParamKind::ColumnParallel, l);
      std::string qkv = linear(x, {batch, seq, d}, wqkv, bqkv, d, qkvOut, l);
      std::string q = heads(slice(qkv, qkvOut, 0, d), m.heads);
      std::string k =
          repeatKV(heads(slice(qkv, qkvOut, d, d + kvd), m.kvHeads));
      std::string vv =
          repeatKV(heads(slice(qkv, qkvOut, d + kvd, qkvOut), m.kvHeads));
      std::string headType = tensorType({batch, m.heads, seq, hd});
      std::string a = op(llvm::formatv(
          "autopar.attention {0}, {1}, {2} {{causal} : {3}, {3}, {3} -> {3}", q,
          k, vv, headType));
      std::string at = op(llvm::formatv(
          "autopar.transpose {0}, perm = [0, 2, 1, 3] : {1} -> {2}", a,
          headType, tensorType({batch, seq, m.heads, hd})));
      std::string merged =
          op(llvm::formatv("autopar.reshape {0} : {1} -> {2}", at,
                           tensorType({batch, seq, m.heads, hd}), hidden));
      std::string wo =
          param(p + ".attn.out.weight", {d, d}, ParamKind::RowParallel, l);
      std::string bo = bias(p + ".attn.out.bias", d, ParamKind::Replicated, l);
      std::string o = linear(merged, {batch, seq, d}, wo, bo, d, d, l);
      block = BlockKind::Other;
      h = op(llvm::formatv("autopar.add {0}, {1} : {2}", h, o, hidden));
      x = norm(h, l, p + ".norm2");
      block = BlockKind::Mlp;
      int64_t up = m.gatedMLP ? 2 * f : f;
      std::string w1 =
          param(p + ".mlp.up.weight", {d, up}, ParamKind::ColumnParallel, l);
      std::string b1 =
          bias(p + ".mlp.up.bias", up, ParamKind::ColumnParallel, l);
      std::string u = linear(x, {batch, seq, d}, w1, b1, d, up, l);
      std::string ffnType = tensorType({batch, seq, f});
      std::string act;
      if (m.gatedMLP) { // SwiGLU
        std::string g = slice(u, up, 0, f), lin = slice(u, up, f, up);
        std::string s = op(llvm::formatv("autopar.silu {0} : {1}", g, ffnType));
        act = op(llvm::formatv("autopar.mul {0}, {1} : {2}", s, lin, ffnType));
      } else {
        act = op(llvm::formatv("autopar.gelu {0} : {1}", u, ffnType));
      }
      std::string w2 =
          param(p + ".mlp.down.weight", {f, d}, ParamKind::RowParallel, l);
      std::string b2 = bias(p + ".mlp.down.bias", d, ParamKind::Replicated, l);
      std::string dn = linear(act, {batch, seq, f}, w2, b2, f, d, l);
      block = BlockKind::Other;
      h = op(llvm::formatv("autopar.add {0}, {1} : {2}", h, dn, hidden));
    }
    std::string x = norm(h, m.layers - 1, "final_norm");
    // The vocabulary head: the embedding table itself when tied (Megatron's
    // vocab-parallel logits), else its own [D, V] weight.
    std::string logits;
    block = BlockKind::Head;
    if (m.tiedEmbedding) {
      logits = linear(x, {batch, seq, d}, wte, "", d, v, m.layers - 1,
                      /*transposed=*/true);
    } else {
      std::string head =
          param("head.weight", {d, v}, ParamKind::ColumnParallel, m.layers - 1);
      logits = linear(x, {batch, seq, d}, head, "", d, v, m.layers - 1);
    }
    return llvm::formatv("module {{\n  func.func @forward(%ids: {0} "
                         "{{autopar.name = \"ids\", autopar.role = \"input\"}"
                         "{1}) -> {2} {{\n{3}    return {4} : {2}\n  }\n}\n",
                         tensorType({batch, seq}, "i64"), args,
                         tensorType({batch, seq, v}), body, logits);
  }
};
} // namespace

llvm::Expected<ModelIR>
mlir::autopar::planner::buildTransformerIR(MLIRContext *context,
                                           const TransformerModel &model,
                                           int64_t batch, int64_t seq) {
  if (!model.gatedMLP && seq > model.seq)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "sequence length " + llvm::Twine(seq) + " exceeds " + model.name +
            "'s " + llvm::Twine(model.seq) + " learned positions");
  if (model.heads <= 0 || model.hidden % model.heads || model.kvHeads <= 0 ||
      model.heads % model.kvHeads)
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "the model's heads must divide its width and its key/value heads "
        "must divide its heads");
  Writer writer{model, batch, seq};
  std::string text = writer.build();
  ModelIR ir;
  ir.module = parseSourceString<ModuleOp>(text, context);
  if (!ir.module)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "internal error: the generated IR of " +
                                       model.name + " does not verify");
  ir.params = std::move(writer.params);
  ir.opBlocks = std::move(writer.opBlocks);
  return std::move(ir);
}

namespace {
constexpr StringLiteral kGrid = "grid";
constexpr int16_t kDataAxis = 1, kTensorAxis = 2, kContextAxis = 3;

/// `split_axes` for a rank-`rank` tensor: `splits[d]` lists the grid axes
/// dimension d is split over.
SmallVector<shard::GridAxesAttr>
splitAxes(MLIRContext *ctx, int64_t rank,
          ArrayRef<std::pair<int64_t, int16_t>> splits) {
  SmallVector<SmallVector<int16_t>> axes(rank);
  for (auto [dim, axis] : splits)
    if (dim >= 0 && dim < rank)
      axes[dim].push_back(axis);
  SmallVector<shard::GridAxesAttr> out;
  for (auto &a : axes)
    out.push_back(DenseI16ArrayAttr::get(ctx, a));
  return out;
}

Value annotate(OpBuilder &b, Location loc, Value v,
               ArrayRef<std::pair<int64_t, int16_t>> splits) {
  auto type = cast<RankedTensorType>(v.getType());
  auto sharding = shard::ShardingOp::create(
      b, loc, kGrid, splitAxes(b.getContext(), type.getRank(), splits));
  return shard::ShardOp::create(b, loc, v, sharding,
                                /*annotate_for_users=*/false);
}
} // namespace

void mlir::autopar::planner::annotatePlan(ModelIR &ir,
                                          const TransformerModel &model,
                                          const Plan &plan) {
  ModuleOp module = *ir.module;
  OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
  SmallVector<int64_t> gridShape = {plan.pp, plan.dp, plan.tp};
  if (plan.cp > 1)
    gridShape.push_back(plan.cp); // axis 3: context parallelism
  shard::GridOp::create(b, module.getLoc(), kGrid, gridShape);
  module->setAttr("autopar.plan", b.getStringAttr(plan.str()));
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  Block &entry = forward.getBody().front();
  auto stageOf = [&](int64_t layer) -> int64_t {
    if (layer < 0)
      return 0;
    return layer * plan.pp / std::max<int64_t>(1, model.layers);
  };

  // Whether `block` of `layer` stays whole on every tensor-parallel device.
  auto whole = [&](BlockKind block, int64_t layer) {
    switch (block) {
    case BlockKind::Attention:
      return plan.attentionWhole(layer, model.layers);
    case BlockKind::Mlp:
      return plan.mlpWhole(layer, model.layers);
    case BlockKind::Head:
      return plan.wholeHead;
    case BlockKind::Embedding: // the table a whole head is tied to
      return plan.wholeHead && model.tiedEmbedding;
    case BlockKind::Other:
      return false;
    }
    return false;
  };

  // Parameters.
  b.setInsertionPointToStart(&entry);
  Value ids = entry.getArgument(0);
  SmallVector<std::pair<int64_t, int16_t>> idSplits = {{0, kDataAxis}};
  if (plan.cp > 1)
    idSplits.push_back({1, kContextAxis});
  Value shardedIds = annotate(b, forward.getLoc(), ids, idSplits);
  ids.replaceAllUsesExcept(shardedIds, shardedIds.getDefiningOp());
  for (auto [i, info] : llvm::enumerate(ir.params)) {
    BlockArgument arg = entry.getArgument(i + 1);
    int64_t rank = cast<RankedTensorType>(arg.getType()).getRank();
    SmallVector<std::pair<int64_t, int16_t>> splits;
    switch (whole(info.block, info.layer) ? ParamKind::Replicated : info.kind) {
    case ParamKind::ColumnParallel:
      splits.push_back({rank - 1, kTensorAxis});
      break;
    case ParamKind::RowParallel:
    case ParamKind::VocabParallel:
      splits.push_back({0, kTensorAxis});
      break;
    case ParamKind::Replicated:
      break;
    }
    // ZeRO-3 also splits every parameter over the data axis (gathered
    // before use): on the first dimension the tensor axis leaves alone.
    if (plan.zero == ZeroStage::Parameters) {
      bool tensorOnFirst = !splits.empty() && splits.front().first == 0;
      splits.push_back({rank > 1 && tensorOnFirst ? 1 : 0, kDataAxis});
    }
    Value sharded = annotate(b, arg.getLoc(), arg, splits);
    arg.replaceAllUsesExcept(sharded, sharded.getDefiningOp());
    forward.setArgAttr(i + 1, "autopar.stage",
                       b.getI64IntegerAttr(stageOf(info.layer)));
  }

  // Activations: every autopar op's result.
  SmallVector<Operation *> ops;
  for (Operation &op : entry)
    if (op.getDialect() && op.getDialect()->getNamespace() == "autopar")
      ops.push_back(&op);
  int64_t lastLayer = -1;
  for (auto [index, op] : llvm::enumerate(ops)) {
    if (auto layer = op->getAttrOfType<IntegerAttr>("autopar.layer"))
      lastLayer = layer.getInt();
    op->setAttr("autopar.stage", b.getI64IntegerAttr(stageOf(lastLayer)));
    if (op->getNumResults() != 1)
      continue;
    Value result = op->getResult(0);
    auto type = cast<RankedTensorType>(result.getType());
    SmallVector<std::pair<int64_t, int16_t>> splits = {{0, kDataAxis}};
    int64_t rank = type.getRank();
    bool columnOutput = false;
    bool wholeBlock =
        index < ir.opBlocks.size() &&
        whole(ir.opBlocks[index], std::max<int64_t>(0, lastLayer));
    if (wholeBlock) {
      // Every tensor-parallel device computes it in full.
    } else if (isa<LinearOp>(op)) {
      int64_t out = type.getShape().back();
      columnOutput = out != model.hidden || op->getUsers().empty();
      if (columnOutput && rank > 1)
        splits.push_back({rank - 1, kTensorAxis});
    } else if (rank == 4 && type.getDimSize(1) == model.heads) {
      splits.push_back({1, kTensorAxis}); // [B, heads, S, h]
    } else if (rank == 4 && type.getDimSize(2) == model.heads) {
      splits.push_back({2, kTensorAxis}); // [B, S, heads, h]
    } else if (rank == 5) {
      splits.push_back({1, kTensorAxis}); // grouped key/value heads
    } else if (rank == 3 && type.getDimSize(2) != model.hidden) {
      splits.push_back({2, kTensorAxis}); // slices of column outputs
    } else if (rank == 3 && plan.sequenceParallel) {
      splits.push_back({1, kTensorAxis}); // residual stream, norms
    }
    if (plan.cp > 1 && rank >= 3) {
      // The sequence dimension: [B, S, ...], [B, heads, S, h] or the
      // grouped [B, kv, rep, S, h].
      int64_t seqDim = rank == 5                                        ? 3
                       : rank == 4 && type.getDimSize(1) == model.heads ? 2
                                                                        : 1;
      splits.push_back({seqDim, kContextAxis});
    }
    b.setInsertionPointAfter(op);
    Value sharded = annotate(b, op->getLoc(), result, splits);
    result.replaceAllUsesExcept(sharded, sharded.getDefiningOp());
  }
}
