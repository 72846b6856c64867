//===- RaiseComposites.cpp - primitive patterns into composites -----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Exporters write layer norm, GELU and attention as chains of primitives;
// autopar's composites carry their own kernels and sharding rules, so the
// chains are recognized and replaced. Every matcher checks the constants
// (exponent 2, 1/sqrt(2), the 0.5 and 1 of GELU) and the dimensions, and
// leaves anything that differs alone: raising never changes what is
// computed beyond floating-point reassociation.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>

namespace mlir::autopar {
#define GEN_PASS_DEF_RAISECOMPOSITESPASS
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// The value before any reshape or broadcast that only adds or removes
/// size-1 dimensions or expands them (the keepdims/broadcast glue exporters
/// put around reductions and scalars).
Value skipGlue(Value v) {
  while (Operation *op = v.getDefiningOp()) {
    if (auto b = dyn_cast<BroadcastOp>(op))
      v = b.getOperand();
    else if (auto r = dyn_cast<ReshapeOp>(op))
      v = r.getOperand();
    else
      break;
  }
  return v;
}

/// The splat value of `v` (through broadcasts and reshapes), if constant.
std::optional<double> splatValue(Value v) {
  auto c = skipGlue(v).getDefiningOp<ConstantOp>();
  if (!c)
    return std::nullopt;
  auto splat = dyn_cast<SplatElementsAttr>(c.getValue());
  if (!splat || !isa<FloatType>(splat.getElementType()))
    return std::nullopt;
  return splat.getSplatValue<APFloat>().convertToDouble();
}

bool near(std::optional<double> v, double want) {
  return v && std::abs(*v - want) <= 1e-6 * std::max(1.0, std::abs(want));
}

/// Calls `fn(a, b)` for both orders of a commutative op's operands and
/// returns the first success.
template <typename Fn> bool eitherOrder(Value x, Value y, Fn fn) {
  return fn(x, y) || fn(y, x);
}

/// If `v` is `broadcast(p)` into the trailing dimensions (or `p` already of
/// the full shape), the trailing-shaped tensor `p`, reshaped if needed.
Value trailingParam(Value v, RankedTensorType full, int64_t axis) {
  ArrayRef<int64_t> want = full.getShape().drop_front(axis);
  Value p = skipGlue(v);
  auto type = dyn_cast<RankedTensorType>(p.getType());
  if (!type || type.getElementType() != full.getElementType())
    return {};
  if (type.getShape() == want)
    return p;
  return {};
}

/// `v` without a broadcast that only expands size-1 dimensions in place
/// (same rank, identity dimension map), as keepdims statistics are spread.
Value stripExpand(Value v) {
  if (auto b = v.getDefiningOp<BroadcastOp>()) {
    int64_t rank = b.getType().getRank();
    if (b.getOperand().getType().getRank() == rank &&
        llvm::equal(b.getBroadcastDimensions(), llvm::seq<int64_t>(0, rank)))
      return b.getOperand();
  }
  return v;
}

/// The reduced operand if `v` is `reduce mean(x, [axis..rank))`, directly
/// or reshaped to the keepdims shape (x's shape with 1 in the reduced
/// dimensions); `axis` receives the first reduced dimension.
Value meanOverTrailing(Value v, int64_t &axis) {
  ReduceOp mean = v.getDefiningOp<ReduceOp>();
  auto keep = v.getDefiningOp<ReshapeOp>();
  if (keep)
    mean = keep.getOperand().getDefiningOp<ReduceOp>();
  if (!mean || mean.getKind() != ReduceKind::Mean)
    return {};
  SmallVector<int64_t> dims(mean.getDimensions());
  llvm::sort(dims);
  auto inType = mean.getOperand().getType();
  int64_t rank = inType.getRank();
  if (dims.empty() || dims.back() != rank - 1 ||
      !llvm::equal(dims, llvm::seq<int64_t>(dims.front(), rank)))
    return {};
  if (keep) {
    SmallVector<int64_t> keepShape(inType.getShape());
    for (int64_t d : dims)
      keepShape[d] = 1;
    if (keep.getType().getShape() != ArrayRef<int64_t>(keepShape))
      return {};
  }
  axis = dims.front();
  return mean.getOperand();
}

/// add(mul(div(x - mean(x), sqrt(mean((x - mean(x))^2) + eps)), gamma), beta)
/// -> layer_norm(x, gamma, beta, axis, eps).
struct RaiseLayerNorm : public OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp root,
                                PatternRewriter &rewriter) const override {
    auto type = root.getType();
    Value x, gamma, beta;
    int64_t axis = -1;
    double eps = 0;
    bool matched = eitherOrder(
        root.getLhs(), root.getRhs(), [&](Value scaled, Value biasB) {
          auto mul = scaled.getDefiningOp<MulOp>();
          if (!mul)
            return false;
          return eitherOrder(
              mul.getLhs(), mul.getRhs(), [&](Value normed, Value gammaB) {
                auto div = normed.getDefiningOp<DivOp>();
                if (!div)
                  return false;
                auto centered = div.getLhs().getDefiningOp<SubOp>();
                auto sqrt = stripExpand(div.getRhs()).getDefiningOp<SqrtOp>();
                if (!centered || !sqrt)
                  return false;
                int64_t meanAxis = -1, varAxis = -1;
                Value input = centered.getLhs();
                if (meanOverTrailing(stripExpand(centered.getRhs()),
                                     meanAxis) != input)
                  return false;
                auto shifted = sqrt.getOperand().getDefiningOp<AddOp>();
                if (!shifted)
                  return false;
                return eitherOrder(
                    shifted.getLhs(), shifted.getRhs(),
                    [&](Value var, Value e) {
                      std::optional<double> epsValue = splatValue(e);
                      if (!epsValue || *epsValue < 0)
                        return false;
                      Value squared = meanOverTrailing(var, varAxis);
                      if (!squared || varAxis != meanAxis)
                        return false;
                      bool isSquare = false;
                      if (auto pow = squared.getDefiningOp<PowOp>())
                        isSquare = pow.getLhs() == centered.getResult() &&
                                   near(splatValue(pow.getRhs()), 2.0);
                      else if (auto sq = squared.getDefiningOp<MulOp>())
                        isSquare = sq.getLhs() == centered.getResult() &&
                                   sq.getRhs() == centered.getResult();
                      if (!isSquare)
                        return false;
                      Value g = trailingParam(gammaB, type, meanAxis);
                      Value b = trailingParam(biasB, type, meanAxis);
                      if (!g || !b || g.getType() != b.getType())
                        return false;
                      x = input;
                      gamma = g;
                      beta = b;
                      axis = meanAxis;
                      eps = *epsValue;
                      return true;
                    });
              });
        });
    if (!matched || x.getType() != type)
      return failure();
    rewriter.replaceOpWithNewOp<LayerNormOp>(root, type, x, gamma, beta,
                                             rewriter.getI64IntegerAttr(axis),
                                             rewriter.getF64FloatAttr(eps));
    return success();
  }
};

/// True if `v` is x^3 written as x * (x * x) (any order) or pow(x, 3).
bool isCubeOf(Value v, Value x) {
  if (auto pow = v.getDefiningOp<PowOp>())
    return pow.getLhs() == x && near(splatValue(pow.getRhs()), 3.0);
  auto mul = v.getDefiningOp<MulOp>();
  if (!mul)
    return false;
  return eitherOrder(mul.getLhs(), mul.getRhs(), [&](Value a, Value sq) {
    auto m = sq.getDefiningOp<MulOp>();
    return a == x && m && m.getLhs() == x && m.getRhs() == x;
  });
}

/// The GELU form if `v` is 1 + erf(x / sqrt(2)) (or x * (1/sqrt(2))), or
/// 1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)), in any operand order.
std::optional<GeluApproximation> onePlusGeluInner(Value v, Value x) {
  auto add = v.getDefiningOp<AddOp>();
  if (!add)
    return std::nullopt;
  std::optional<GeluApproximation> form;
  eitherOrder(add.getLhs(), add.getRhs(), [&](Value inner, Value one) {
    if (!near(splatValue(one), 1.0))
      return false;
    if (auto erf = inner.getDefiningOp<ErfOp>()) {
      Value in = erf.getOperand();
      bool ok = false;
      if (auto div = in.getDefiningOp<DivOp>())
        ok =
            div.getLhs() == x && near(splatValue(div.getRhs()), std::sqrt(2.0));
      else if (auto mul = in.getDefiningOp<MulOp>())
        ok = eitherOrder(mul.getLhs(), mul.getRhs(), [&](Value a, Value c) {
          return a == x && near(splatValue(c), M_SQRT1_2);
        });
      if (ok)
        form = GeluApproximation::None;
      return ok;
    }
    auto tanh = inner.getDefiningOp<TanhOp>();
    auto scaled = tanh ? tanh.getOperand().getDefiningOp<MulOp>() : MulOp();
    if (!scaled)
      return false;
    bool ok =
        eitherOrder(scaled.getLhs(), scaled.getRhs(), [&](Value k, Value poly) {
          auto sum = poly.getDefiningOp<AddOp>();
          if (!near(splatValue(k), std::sqrt(2.0 / M_PI)) || !sum)
            return false;
          return eitherOrder(sum.getLhs(), sum.getRhs(), [&](Value a, Value t) {
            auto term = t.getDefiningOp<MulOp>();
            return a == x && term &&
                   eitherOrder(term.getLhs(), term.getRhs(),
                               [&](Value c, Value cube) {
                                 return near(splatValue(c), 0.044715) &&
                                        isCubeOf(cube, x);
                               });
          });
        });
    if (ok)
      form = GeluApproximation::Tanh;
    return ok;
  });
  return form;
}

/// mul(mul(x, 1 + inner(x)), 0.5) in any operand order -> gelu(x), with the
/// erf or the tanh form of `inner` (see onePlusGeluInner).
struct RaiseGelu : public OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp root,
                                PatternRewriter &rewriter) const override {
    Value x;
    std::optional<GeluApproximation> form;
    bool matched =
        eitherOrder(root.getLhs(), root.getRhs(), [&](Value prod, Value half) {
          if (!near(splatValue(half), 0.5))
            return false;
          auto mul = prod.getDefiningOp<MulOp>();
          if (!mul)
            return false;
          return eitherOrder(mul.getLhs(), mul.getRhs(), [&](Value a, Value b) {
            form = onePlusGeluInner(b, a);
            if (form)
              x = a;
            return form.has_value();
          });
        });
    if (!matched)
      return failure();
    rewriter.replaceOpWithNewOp<GeluOp>(root, x, *form);
    return success();
  }
};

/// add(dot(x, w), broadcast(b)) contracting x's last dimension with a
/// matrix weight -> linear(x, w, b). A dot without a bias stays a dot.
static bool isLinearDot(DotOp dot, bool &transposed) {
  int64_t rank = dot.getLhs().getType().getRank();
  if (dot.getRhs().getType().getRank() != 2 || !dot.getLhsBatchDims().empty() ||
      dot.getLhsContractingDims() != ArrayRef<int64_t>{rank - 1})
    return false;
  ArrayRef<int64_t> rc = dot.getRhsContractingDims();
  if (rc.size() != 1)
    return false;
  transposed = rc[0] == 1;
  return isa<FloatType>(dot.getType().getElementType());
}

struct RaiseLinear : public OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp root,
                                PatternRewriter &rewriter) const override {
    auto type = root.getType();
    DotOp dot;
    Value bias;
    bool transposed = false;
    bool matched =
        eitherOrder(root.getLhs(), root.getRhs(), [&](Value d, Value bb) {
          dot = d.getDefiningOp<DotOp>();
          auto bcast = bb.getDefiningOp<BroadcastOp>();
          if (!dot || !bcast || !isLinearDot(dot, transposed))
            return false;
          auto b = bcast.getOperand();
          if (cast<RankedTensorType>(b.getType()).getShape() !=
                  ArrayRef<int64_t>{type.getShape().back()} ||
              bcast.getBroadcastDimensions() !=
                  ArrayRef<int64_t>{type.getRank() - 1})
            return false;
          bias = b;
          return true;
        });
    if (!matched)
      return failure();
    rewriter.replaceOpWithNewOp<LinearOp>(
        root, type, dot.getLhs(), dot.getRhs(), bias,
        transposed ? rewriter.getUnitAttr() : UnitAttr());
    return success();
  }
};

/// dot(softmax(scale * dot(q, kT) [+ mask]), v) over the last two dimensions
/// with every leading dimension a batch dimension -> attention(q, k, v).
/// The scale may sit on q (q / c or q * c) and/or on the scores.
struct RaiseAttention : public OpRewritePattern<DotOp> {
  using OpRewritePattern::OpRewritePattern;

  static bool isBatchedMatmul(DotOp dot, int64_t rank) {
    SmallVector<int64_t> batch =
        llvm::to_vector(llvm::seq<int64_t>(0, rank - 2));
    return dot.getLhs().getType().getRank() == rank &&
           dot.getRhs().getType().getRank() == rank &&
           dot.getLhsBatchDims() == ArrayRef<int64_t>(batch) &&
           dot.getRhsBatchDims() == ArrayRef<int64_t>(batch) &&
           dot.getLhsContractingDims() == ArrayRef<int64_t>{rank - 1} &&
           dot.getRhsContractingDims() == ArrayRef<int64_t>{rank - 2};
  }

  /// Strips a scalar multiplication or division, folding it into `scale`.
  static Value stripScale(Value v, double &scale) {
    if (auto mul = v.getDefiningOp<MulOp>()) {
      for (auto [a, c] : {std::pair(mul.getLhs(), mul.getRhs()),
                          std::pair(mul.getRhs(), mul.getLhs())})
        if (std::optional<double> s = splatValue(c)) {
          scale *= *s;
          return a;
        }
    }
    if (auto div = v.getDefiningOp<DivOp>())
      if (std::optional<double> s = splatValue(div.getRhs()))
        if (*s != 0) {
          scale /= *s;
          return div.getLhs();
        }
    return v;
  }

  LogicalResult matchAndRewrite(DotOp out,
                                PatternRewriter &rewriter) const override {
    int64_t rank = out.getType().getRank();
    if (rank < 2 || !isBatchedMatmul(out, rank))
      return failure();
    auto softmax = out.getLhs().getDefiningOp<SoftmaxOp>();
    if (!softmax || int64_t(softmax.getAxis()) != rank - 1)
      return failure();
    Value scores = softmax.getOperand();
    Value mask;
    if (auto add = scores.getDefiningOp<AddOp>()) {
      // The mask is whichever operand is not the scaled scores.
      for (auto [s, m] : {std::pair(add.getLhs(), add.getRhs()),
                          std::pair(add.getRhs(), add.getLhs())}) {
        double probe = 1.0;
        if (auto d = stripScale(s, probe).getDefiningOp<DotOp>();
            d && isBatchedMatmul(d, rank)) {
          scores = s;
          mask = m;
          break;
        }
      }
      if (!mask)
        return failure();
    }
    double scale = 1.0;
    auto qk = stripScale(scores, scale).getDefiningOp<DotOp>();
    if (!qk || !isBatchedMatmul(qk, rank))
      return failure();
    Value q = stripScale(qk.getLhs(), scale);
    if (!(scale > 0))
      return failure();
    Value v = out.getRhs();
    auto qType = cast<RankedTensorType>(q.getType());
    if (qType.getElementType() != out.getType().getElementType())
      return failure();
    // k^T [..., D, Sk] back to k [..., Sk, D].
    SmallVector<int64_t> swap = llvm::to_vector(llvm::seq<int64_t>(0, rank));
    std::swap(swap[rank - 1], swap[rank - 2]);
    Location loc = out.getLoc();
    Value k = TransposeOp::create(rewriter, loc, qk.getRhs(), swap);
    auto attention = AttentionOp::create(rewriter, loc, out.getType(), q, k, v,
                                         mask, /*causal=*/UnitAttr(),
                                         rewriter.getF64FloatAttr(scale));
    rewriter.replaceOp(out, attention.getResult());
    return success();
  }
};

struct RaiseCompositesPass
    : public mlir::autopar::impl::RaiseCompositesPassBase<RaiseCompositesPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateRaiseCompositesPatterns(patterns);
    // Folding transposes (k^T back to k) and dead glue belongs to the
    // ops' own folders and canonical patterns.
    for (RegisteredOperationName name : getContext().getRegisteredOperations())
      if (name.getDialectNamespace() == AutoParDialect::getDialectNamespace())
        name.getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::autopar::populateRaiseCompositesPatterns(
    RewritePatternSet &patterns) {
  patterns.add<RaiseLayerNorm, RaiseGelu, RaiseAttention, RaiseLinear>(
      patterns.getContext());
}
