//===- DecomposeComposites.cpp - composites into autopar primitives -------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Rewrites composite ops (softmax, norms, attention, embedding, cross
// entropy) into primitive autopar ops. The formulations are the numerically
// stable ones: the maximum is subtracted before exponentiation, and
// log_softmax never takes the log of a quotient.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/STLExtras.h"
#include <limits>
#include <numeric>

namespace mlir::autopar {
#define GEN_PASS_DEF_DECOMPOSECOMPOSITESPASS
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// Small builder for the primitive sequences below: every helper creates
/// autopar ops at the rewriter's insertion point with one location.
class PrimitiveBuilder {
public:
  PrimitiveBuilder(PatternRewriter &rewriter, Location loc)
      : b(rewriter), loc(loc) {}

  /// A splat constant of `type` holding `value`.
  Value splat(RankedTensorType type, double value) {
    Type elementType = type.getElementType();
    Attribute scalar;
    if (auto floatType = dyn_cast<FloatType>(elementType))
      scalar = FloatAttr::get(floatType, value);
    else
      scalar = IntegerAttr::get(elementType, int64_t(value));
    return ConstantOp::create(b, loc, type,
                              SplatElementsAttr::get(type, scalar));
  }

  /// Reduces `x` over `dims` (which disappear from the shape).
  Value reduce(ReduceKind kind, Value x, ArrayRef<int64_t> dims) {
    return ReduceOp::create(b, loc, kind, x, dims);
  }

  /// Broadcasts `x`, the result of reducing `dims` of `type`, back to `type`.
  Value expand(Value x, RankedTensorType type, ArrayRef<int64_t> dims) {
    SmallVector<int64_t> kept;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (!llvm::is_contained(dims, d))
        kept.push_back(d);
    return BroadcastOp::create(b, loc, type, x, kept);
  }

  /// rsqrt(meanSquare + epsilon), broadcast back over the reduced `dims` of
  /// `type`: the normalizer shared by layer_norm and rms_norm.
  Value inverseRms(Value meanSquare, double epsilon, RankedTensorType type,
                   ArrayRef<int64_t> dims) {
    auto statType = cast<RankedTensorType>(meanSquare.getType());
    Value shifted = op<AddOp>(meanSquare, splat(statType, epsilon));
    return expand(op<RsqrtOp>(shifted), type, dims);
  }

  /// Broadcasts `x` into the trailing dimensions of `type`.
  Value expandTrailing(Value x, RankedTensorType type) {
    int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
    SmallVector<int64_t> dims = llvm::to_vector(
        llvm::seq<int64_t>(type.getRank() - rank, type.getRank()));
    return BroadcastOp::create(b, loc, type, x, dims);
  }

  template <typename OpT, typename... Args> Value op(Args &&...args) {
    return OpT::create(b, loc, std::forward<Args>(args)...);
  }

  PatternRewriter &b;
  Location loc;
};

SmallVector<int64_t> trailingDims(int64_t from, int64_t rank) {
  return llvm::to_vector(llvm::seq<int64_t>(from, rank));
}

/// softmax(x) = e / sum(e) with e = exp(x - max(x)).
/// log_softmax(x) = (x - max(x)) - log(sum(e)).
template <typename OpT>
struct DecomposeSoftmaxLike : public OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpT op,
                                PatternRewriter &rewriter) const override {
    PrimitiveBuilder pb(rewriter, op.getLoc());
    auto type = op.getType();
    SmallVector<int64_t> dims = {int64_t(op.getAxis())};
    Value x = op.getOperand();
    Value max = pb.expand(pb.reduce(ReduceKind::Max, x, dims), type, dims);
    Value shifted = pb.op<SubOp>(x, max);
    Value e = pb.op<ExpOp>(shifted);
    Value sum = pb.reduce(ReduceKind::Sum, e, dims);
    Value result;
    if constexpr (std::is_same_v<OpT, SoftmaxOp>)
      result = pb.op<DivOp>(e, pb.expand(sum, type, dims));
    else
      result = pb.op<SubOp>(shifted, pb.expand(pb.op<LogOp>(sum), type, dims));
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// layer_norm: (x - mean) * rsqrt(var + eps) * scale + bias, biased var.
struct DecomposeLayerNorm : public OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LayerNormOp op,
                                PatternRewriter &rewriter) const override {
    PrimitiveBuilder pb(rewriter, op.getLoc());
    auto type = op.getType();
    SmallVector<int64_t> dims = trailingDims(op.getAxis(), type.getRank());
    Value x = op.getOperand();
    Value mean = pb.expand(pb.reduce(ReduceKind::Mean, x, dims), type, dims);
    Value centered = pb.op<SubOp>(x, mean);
    Value var =
        pb.reduce(ReduceKind::Mean, pb.op<MulOp>(centered, centered), dims);
    Value inv =
        pb.inverseRms(var, op.getEpsilon().convertToDouble(), type, dims);
    Value normed = pb.op<MulOp>(centered, inv);
    Value scaled = pb.op<MulOp>(normed, pb.expandTrailing(op.getScale(), type));
    rewriter.replaceOp(
        op, pb.op<AddOp>(scaled, pb.expandTrailing(op.getBias(), type)));
    return success();
  }
};

/// rms_norm: x * rsqrt(mean(x^2) + eps) * scale.
struct DecomposeRmsNorm : public OpRewritePattern<RmsNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RmsNormOp op,
                                PatternRewriter &rewriter) const override {
    PrimitiveBuilder pb(rewriter, op.getLoc());
    auto type = op.getType();
    SmallVector<int64_t> dims = trailingDims(op.getAxis(), type.getRank());
    Value x = op.getOperand();
    Value ms = pb.reduce(ReduceKind::Mean, pb.op<MulOp>(x, x), dims);
    Value inv =
        pb.inverseRms(ms, op.getEpsilon().convertToDouble(), type, dims);
    rewriter.replaceOp(op,
                       pb.op<MulOp>(pb.op<MulOp>(x, inv),
                                    pb.expandTrailing(op.getScale(), type)));
    return success();
  }
};

/// The parts of an attention's decomposition shared by the forward op and
/// its gradient. Products take the operands' type; the scores, the softmax
/// and the gradient's elementwise math run in `wide` (f32 for bf16/f16
/// operands), rounded where they enter a product.
struct AttentionParts {
  AttentionParts(PrimitiveBuilder &pb, Value q, Value k, bool causal,
                 std::optional<APFloat> scaleAttr)
      : pb(pb) {
    auto qType = cast<RankedTensorType>(q.getType());
    auto kType = cast<RankedTensorType>(k.getType());
    rank = qType.getRank();
    sq = qType.getDimSize(rank - 2);
    sk = kType.getDimSize(rank - 2);
    int64_t d = qType.getDimSize(rank - 1);
    batch = llvm::to_vector(llvm::seq<int64_t>(0, rank - 2));
    narrow = qType.getElementType();
    wide = cast<FloatType>(narrow).getWidth() < 32
               ? Type(Float32Type::get(q.getContext()))
               : narrow;
    scale =
        scaleAttr ? scaleAttr->convertToDouble() : 1.0 / std::sqrt(double(d));
    this->causal = causal;
  }

  Value widen(Value x) {
    auto t = cast<RankedTensorType>(x.getType());
    return t.getElementType() == wide ? x : pb.op<ConvertOp>(t.clone(wide), x);
  }
  Value toNarrow(Value x) {
    auto t = cast<RankedTensorType>(x.getType());
    return t.getElementType() == narrow ? x
                                        : pb.op<ConvertOp>(t.clone(narrow), x);
  }

  /// a[..., i, p] b[..., j, p] summed over p (dims: the contracted one of
  /// each operand).
  Value dot(Value a, Value b, int64_t aDim, int64_t bDim) {
    return pb.op<DotOp>(a, b, batch, batch, ArrayRef<int64_t>{aDim},
                        ArrayRef<int64_t>{bDim});
  }

  /// softmax(q k^T * scale + mask [+ causal]) in `wide`.
  Value probabilities(Value q, Value k, Value mask) {
    Value scores = widen(dot(q, k, rank - 1, rank - 1));
    auto scoreType = cast<RankedTensorType>(scores.getType());
    scores = pb.op<MulOp>(scores, pb.splat(scoreType, scale));
    if (mask)
      scores = pb.op<AddOp>(scores, widen(mask));
    if (causal) {
      // Keys after the query position get -inf, as PyTorch's is_causal.
      auto maskType = RankedTensorType::get({sq, sk}, wide);
      SmallVector<APFloat> values;
      const llvm::fltSemantics &sem = cast<FloatType>(wide).getFloatSemantics();
      for (int64_t i = 0; i < sq; ++i)
        for (int64_t j = 0; j < sk; ++j)
          values.push_back(j > i ? APFloat::getInf(sem, /*Negative=*/true)
                                 : APFloat::getZero(sem));
      Value causalMask =
          pb.op<ConstantOp>(maskType, DenseElementsAttr::get(maskType, values));
      scores = pb.op<AddOp>(scores, pb.expandTrailing(causalMask, scoreType));
    }
    return pb.op<SoftmaxOp>(scores, rank - 1);
  }

  PrimitiveBuilder &pb;
  int64_t rank, sq, sk;
  SmallVector<int64_t> batch;
  Type narrow, wide;
  double scale;
  bool causal;
};

/// attention: softmax(q k^T * scale + mask [+ causal]) v.
struct DecomposeAttention : public OpRewritePattern<AttentionOp> {
  DecomposeAttention(MLIRContext *context, bool keepUnmasked)
      : OpRewritePattern(context), keepUnmasked(keepUnmasked) {}
  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    if (keepUnmasked && !op.getMask())
      return rewriter.notifyMatchFailure(op, "kept whole");
    PrimitiveBuilder pb(rewriter, op.getLoc());
    AttentionParts parts(pb, op.getQuery(), op.getKey(), op.getCausal(),
                         op.getScale());
    Value probs = parts.probabilities(op.getQuery(), op.getKey(), op.getMask());
    // out[..., i, e] = sum_j p[..., i, j] * v[..., j, e]
    int64_t rank = parts.rank;
    rewriter.replaceOp(op, parts.dot(parts.toNarrow(probs), op.getValue(),
                                     rank - 1, rank - 2));
    return success();
  }
  bool keepUnmasked;
};

/// attention_grad: with P recomputed, dV = P^T dO, dP = dO V^T,
/// dS = P (dP - rowsum(dP P)) scale, dQ = dS K, dK = dS^T Q (the products
/// and roundings of differentiating the decomposition above).
struct DecomposeAttentionGrad : public OpRewritePattern<AttentionGradOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    PrimitiveBuilder pb(rewriter, op.getLoc());
    AttentionParts parts(pb, op.getQuery(), op.getKey(), op.getCausal(),
                         op.getScale());
    int64_t rank = parts.rank;
    Value q = op.getQuery(), k = op.getKey(), v = op.getValue();
    Value dOut = op.getOutputGrad();
    Value probs = parts.probabilities(q, k, Value());
    Value dv = parts.dot(parts.toNarrow(probs), dOut, rank - 2, rank - 2);
    Value dProbs = parts.widen(parts.dot(dOut, v, rank - 1, rank - 1));
    auto probType = cast<RankedTensorType>(probs.getType());
    Value rowSum = pb.expand(
        pb.reduce(ReduceKind::Sum, pb.op<MulOp>(dProbs, probs), {rank - 1}),
        probType, {rank - 1});
    Value dScores =
        pb.op<MulOp>(pb.op<MulOp>(probs, pb.op<SubOp>(dProbs, rowSum)),
                     pb.splat(probType, parts.scale));
    dScores = parts.toNarrow(dScores);
    Value dq = parts.dot(dScores, k, rank - 1, rank - 2);
    Value dk = parts.dot(dScores, q, rank - 2, rank - 2);
    rewriter.replaceOp(op, {dq, dk, dv});
    return success();
  }
};

/// linear(x, w, b) = dot(x, w) + broadcast(b).
struct DecomposeLinear : public OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    PrimitiveBuilder pb(rewriter, op.getLoc());
    int64_t rank = op.getInput().getType().getRank();
    int64_t wDim = op.getWeightTransposed() ? 1 : 0;
    Value y = pb.op<DotOp>(op.getInput(), op.getWeight(), ArrayRef<int64_t>{},
                           ArrayRef<int64_t>{}, ArrayRef<int64_t>{rank - 1},
                           ArrayRef<int64_t>{wDim});
    if (Value bias = op.getBias())
      y = pb.op<AddOp>(y, pb.expandTrailing(bias, op.getType()));
    rewriter.replaceOp(op, y);
    return success();
  }
};

/// embedding(table, ids) = gather(table, ids, axis = 0).
struct DecomposeEmbedding : public OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<GatherOp>(op, op.getTable(), op.getIds(),
                                          /*axis=*/0);
    return success();
  }
};

/// cross_entropy = -mean(log_softmax(logits)[..., label]), the label picked
/// with a one-hot comparison against an iota over the classes and summed
/// over them, then averaged over the positions.
struct DecomposeCrossEntropy : public OpRewritePattern<CrossEntropyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CrossEntropyOp op,
                                PatternRewriter &rewriter) const override {
    PrimitiveBuilder pb(rewriter, op.getLoc());
    auto logitsType = cast<RankedTensorType>(op.getLogits().getType());
    auto labelsType = cast<RankedTensorType>(op.getLabels().getType());
    int64_t rank = logitsType.getRank();
    int64_t classes = logitsType.getDimSize(rank - 1);

    Value labels = op.getLabels();
    labels = pb.op<MaxOp>(labels, pb.splat(labelsType, 0));
    labels = pb.op<MinOp>(labels, pb.splat(labelsType, double(classes - 1)));
    // The comparison with every class id in 32 bits where the ids fit
    // (the labels, clamped to them, convert exactly): one instruction an
    // element on a GPU instead of two, twice the SIMD lanes on a CPU.
    unsigned width = labelsType.getElementType().getIntOrFloatBitWidth();
    if (width > 32 && classes <= int64_t(INT32_MAX)) {
      width = 32;
      labelsType = labelsType.clone(rewriter.getIntegerType(32));
      labels = pb.op<ConvertOp>(labelsType, labels);
    }

    auto iotaType =
        RankedTensorType::get({classes}, labelsType.getElementType());
    SmallVector<APInt> iota;
    for (int64_t c = 0; c < classes; ++c)
      iota.push_back(APInt(width, c, /*isSigned=*/true));
    Value iotaConst =
        pb.op<ConstantOp>(iotaType, DenseElementsAttr::get(iotaType, iota));
    auto wideLabels = logitsType.clone(labelsType.getElementType());
    Value classIds = pb.expandTrailing(iotaConst, wideLabels);
    Value labelIds = pb.op<BroadcastOp>(
        wideLabels, labels, llvm::to_vector(llvm::seq<int64_t>(0, rank - 1)));
    Value onehot = pb.op<CompareOp>(CompareDirection::EQ, classIds, labelIds);

    Value logProbs = pb.op<LogSoftmaxOp>(op.getLogits(), rank - 1);
    Value picked = pb.op<SelectOp>(onehot, logProbs, pb.splat(logitsType, 0.0));
    // Over the classes first, then over the positions: each stage has
    // parallel work (a sum over everything at once is one loop nest with
    // no parallel dimension, which runs as one GPU thread).
    Value perPosition = pb.reduce(ReduceKind::Sum, picked, {rank - 1});
    Value total = pb.reduce(ReduceKind::Sum, perPosition,
                            llvm::to_vector(llvm::seq<int64_t>(0, rank - 1)));
    auto scalarType = cast<RankedTensorType>(total.getType());
    int64_t count = labelsType.getNumElements();
    Value mean = pb.op<DivOp>(total, pb.splat(scalarType, double(count)));
    rewriter.replaceOp(op, pb.op<NegOp>(mean));
    return success();
  }
};

struct DecomposeCompositesPass
    : public mlir::autopar::impl::DecomposeCompositesPassBase<
          DecomposeCompositesPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateDecomposeCompositesPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::autopar::populateDecomposeCompositesPatterns(
    RewritePatternSet &patterns, bool keepSoftmax, bool keepAttention) {
  patterns.add<DecomposeLayerNorm, DecomposeRmsNorm, DecomposeAttentionGrad,
               DecomposeEmbedding, DecomposeCrossEntropy, DecomposeLinear>(
      patterns.getContext());
  patterns.add<DecomposeAttention>(patterns.getContext(), keepAttention);
  if (!keepSoftmax)
    patterns.add<DecomposeSoftmaxLike<SoftmaxOp>,
                 DecomposeSoftmaxLike<LogSoftmaxOp>>(patterns.getContext());
}

void mlir::autopar::populateDecomposeContractionCompositesPatterns(
    RewritePatternSet &patterns, bool keepAttention) {
  patterns.add<DecomposeLinear>(patterns.getContext());
  patterns.add<DecomposeAttention>(patterns.getContext(), keepAttention);
}
