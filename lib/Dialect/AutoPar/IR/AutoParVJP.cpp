//===- AutoParVJP.cpp - vector-Jacobian products of autopar ops -----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// One VJP rule per primitive op, written with autopar ops so that the
// backward pass lowers, shards and fuses like the forward one. Composite ops
// are differentiated through their decomposition (autopar-autodiff
// decomposes them first), except softmax and log_softmax, whose own rules
// are shorter than their decomposition's (no gradient through the max, two
// passes over the input instead of about ten), and attention when autodiff
// keeps it whole (one autopar.attention_grad).
//
// Conventions: `g` is the result's cotangent; a null cotangent means the
// result does not reach the loss, in which case every operand cotangent is
// null too.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::autopar;

#include "autopar/Dialect/AutoPar/IR/AutoParInterfaces.cpp.inc"

namespace {

/// Small builder for the rules: everything at one location.
struct VJPBuilder {
  VJPBuilder(OpBuilder &b, Location loc) : b(b), loc(loc) {}

  Value splat(Type type, double v) {
    auto t = cast<RankedTensorType>(type);
    Attribute scalar =
        isa<FloatType>(t.getElementType())
            ? Attribute(FloatAttr::get(t.getElementType(), v))
            : Attribute(IntegerAttr::get(t.getElementType(), int64_t(v)));
    return ConstantOp::create(b, loc, t, SplatElementsAttr::get(t, scalar));
  }
  Value zerosLike(Value v) { return splat(v.getType(), 0.0); }
  Value mul(Value x, Value y) { return MulOp::create(b, loc, x, y); }
  Value add(Value x, Value y) { return AddOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return SubOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return DivOp::create(b, loc, x, y); }
  Value neg(Value x) { return NegOp::create(b, loc, x); }
  Value cmp(CompareDirection d, Value x, Value y) {
    return CompareOp::create(b, loc, d, x, y);
  }
  Value select(Value p, Value x, Value y) {
    return SelectOp::create(b, loc, p, x, y);
  }
  Value scaled(Value x, double c) { return mul(x, splat(x.getType(), c)); }

  OpBuilder &b;
  Location loc;
};

bool isFloatTensor(Value v) {
  return isa<FloatType>(cast<RankedTensorType>(v.getType()).getElementType());
}

/// Cotangent of a unary elementwise op from its derivative f'(x, y).
template <typename Fn>
LogicalResult unaryVJP(Operation *op, OpBuilder &b, ValueRange cotangents,
                       SmallVectorImpl<Value> &out, Fn derivative) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(op->getOperand(0))) {
    out.push_back(Value());
    return success();
  }
  VJPBuilder vb(b, op->getLoc());
  out.push_back(vb.mul(g, derivative(vb, op->getOperand(0), op->getResult(0))));
  return success();
}

/// Pushes null cotangents for every operand of `op` and succeeds.
LogicalResult noCotangents(Operation *op, SmallVectorImpl<Value> &out) {
  out.append(op->getNumOperands(), Value());
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Elementwise unary
//===----------------------------------------------------------------------===//

// The body is variadic because rule bodies contain commas.
#define AUTOPAR_UNARY_VJP(OP, ...)                                             \
  LogicalResult OP::buildVJP(OpBuilder &b, ValueRange cotangents,              \
                             SmallVectorImpl<Value> &out) {                    \
    return unaryVJP(                                                           \
        *this, b, cotangents,                                                  \
        out, [&](VJPBuilder & vb, Value x, Value y) -> Value __VA_ARGS__);     \
  }

AUTOPAR_UNARY_VJP(NegOp, { return vb.splat(x.getType(), -1.0); })
AUTOPAR_UNARY_VJP(AbsOp, {
  // sign(x), with sign(0) = 0 as PyTorch.
  Value zero = vb.zerosLike(x);
  return vb.select(vb.cmp(CompareDirection::GT, x, zero),
                   vb.splat(x.getType(), 1.0),
                   vb.select(vb.cmp(CompareDirection::LT, x, zero),
                             vb.splat(x.getType(), -1.0), zero));
})
AUTOPAR_UNARY_VJP(ExpOp, { return y; })
AUTOPAR_UNARY_VJP(LogOp, { return vb.div(vb.splat(x.getType(), 1.0), x); })
AUTOPAR_UNARY_VJP(TanhOp,
                  { return vb.sub(vb.splat(x.getType(), 1.0), vb.mul(y, y)); })
AUTOPAR_UNARY_VJP(SigmoidOp,
                  { return vb.mul(y, vb.sub(vb.splat(x.getType(), 1.0), y)); })
AUTOPAR_UNARY_VJP(ReluOp, {
  return vb.select(vb.cmp(CompareDirection::GT, x, vb.zerosLike(x)),
                   vb.splat(x.getType(), 1.0), vb.zerosLike(x));
})
AUTOPAR_UNARY_VJP(SiluOp, {
  // s + x s (1 - s) with s = sigmoid(x).
  Value s = SigmoidOp::create(vb.b, vb.loc, x);
  Value oneMinus = vb.sub(vb.splat(x.getType(), 1.0), s);
  return vb.add(s, vb.mul(x, vb.mul(s, oneMinus)));
})
AUTOPAR_UNARY_VJP(SqrtOp, { return vb.div(vb.splat(x.getType(), 0.5), y); })
AUTOPAR_UNARY_VJP(RsqrtOp, {
  // d/dx x^(-1/2) = -1/2 x^(-3/2) = -0.5 y / x
  return vb.div(vb.scaled(y, -0.5), x);
})
AUTOPAR_UNARY_VJP(ErfOp, {
  return vb.scaled(ExpOp::create(vb.b, vb.loc, vb.neg(vb.mul(x, x))),
                   2.0 / std::sqrt(M_PI));
})
#undef AUTOPAR_UNARY_VJP

LogicalResult GeluOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                               SmallVectorImpl<Value> &out) {
  GeluApproximation approx = getApproximate();
  return unaryVJP(
      *this, b, cotangents, out, [&](VJPBuilder &vb, Value x, Value) -> Value {
        Type t = x.getType();
        Value half = vb.splat(t, 0.5), one = vb.splat(t, 1.0);
        if (approx == GeluApproximation::None) {
          // Phi(x) + x phi(x)
          Value cdf =
              vb.mul(half, vb.add(one, ErfOp::create(vb.b, vb.loc,
                                                     vb.scaled(x, M_SQRT1_2))));
          Value pdf = vb.scaled(
              ExpOp::create(vb.b, vb.loc, vb.scaled(vb.mul(x, x), -0.5)),
              1.0 / std::sqrt(2.0 * M_PI));
          return vb.add(cdf, vb.mul(x, pdf));
        }
        // 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
        double k = std::sqrt(2.0 / M_PI), c = 0.044715;
        Value x2 = vb.mul(x, x);
        Value u = vb.scaled(vb.add(x, vb.scaled(vb.mul(x2, x), c)), k);
        Value th = TanhOp::create(vb.b, vb.loc, u);
        Value du = vb.scaled(vb.add(one, vb.scaled(x2, 3 * c)), k);
        Value sech2 = vb.sub(one, vb.mul(th, th));
        return vb.add(vb.mul(half, vb.add(one, th)),
                      vb.mul(vb.mul(half, x), vb.mul(sech2, du)));
      });
}

//===----------------------------------------------------------------------===//
// Elementwise binary
//===----------------------------------------------------------------------===//

namespace {
/// Cotangents of a binary elementwise op from a function returning both.
template <typename Fn>
LogicalResult binaryVJP(Operation *op, OpBuilder &b, ValueRange cotangents,
                        SmallVectorImpl<Value> &out, Fn fn) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(op->getOperand(0)))
    return noCotangents(op, out);
  VJPBuilder vb(b, op->getLoc());
  auto [dx, dy] = fn(vb, g, op->getOperand(0), op->getOperand(1));
  out.push_back(dx);
  out.push_back(dy);
  return success();
}
} // namespace

#define AUTOPAR_BINARY_VJP(OP, ...)                                            \
  LogicalResult OP::buildVJP(OpBuilder &b, ValueRange cotangents,              \
                             SmallVectorImpl<Value> &out) {                    \
    return binaryVJP(*this, b, cotangents, out,                                \
                     [&](VJPBuilder & vb, Value g, Value x,                    \
                         Value y) -> std::pair<Value, Value>                   \
                                      __VA_ARGS__);                            \
  }

AUTOPAR_BINARY_VJP(AddOp, { return {g, g}; })
AUTOPAR_BINARY_VJP(SubOp, { return {g, vb.neg(g)}; })
AUTOPAR_BINARY_VJP(MulOp, { return {vb.mul(g, y), vb.mul(g, x)}; })
AUTOPAR_BINARY_VJP(DivOp, {
  Value dx = vb.div(g, y);
  return {dx, vb.neg(vb.div(vb.mul(dx, x), y))};
})
AUTOPAR_BINARY_VJP(MaxOp, {
  // Ties send the gradient to the left operand.
  Value left = vb.cmp(CompareDirection::GE, x, y);
  Value zero = vb.zerosLike(g);
  return {vb.select(left, g, zero), vb.select(left, zero, g)};
})
AUTOPAR_BINARY_VJP(MinOp, {
  Value left = vb.cmp(CompareDirection::LE, x, y);
  Value zero = vb.zerosLike(g);
  return {vb.select(left, g, zero), vb.select(left, zero, g)};
})
AUTOPAR_BINARY_VJP(PowOp, {
  // d/dx x^y = y x^(y-1); d/dy x^y = log(x) x^y.
  Value r = PowOp::create(vb.b, vb.loc, x, y);
  Value ym1 = vb.sub(y, vb.splat(y.getType(), 1.0));
  Value dx = vb.mul(g, vb.mul(y, PowOp::create(vb.b, vb.loc, x, ym1)));
  Value dy = vb.mul(g, vb.mul(LogOp::create(vb.b, vb.loc, x), r));
  return {dx, dy};
})
#undef AUTOPAR_BINARY_VJP

//===----------------------------------------------------------------------===//
// Compare, select, convert, constant
//===----------------------------------------------------------------------===//

LogicalResult CompareOp::buildVJP(OpBuilder &, ValueRange,
                                  SmallVectorImpl<Value> &out) {
  return noCotangents(*this, out);
}

LogicalResult ConstantOp::buildVJP(OpBuilder &, ValueRange,
                                   SmallVectorImpl<Value> &out) {
  return noCotangents(*this, out);
}

namespace {
/// `v` computed again at the builder's point when it is a comparison of
/// broadcasts (and constants): the cross-entropy's one-hot mask of the
/// labels, batch x positions x classes of i1, which the backward pass
/// would otherwise read back from memory (and the forward pass store).
/// Recomputed, each copy fuses into the loop that reads it.
Value recomputeCheap(OpBuilder &b, Value v) {
  Operation *def = v.getDefiningOp();
  if (!isa_and_nonnull<CompareOp, BroadcastOp>(def))
    return v;
  if (isa<CompareOp>(def) &&
      !llvm::all_of(def->getOperands(), [](Value operand) {
        return isa_and_nonnull<BroadcastOp, ConstantOp>(
            operand.getDefiningOp());
      }))
    return v;
  IRMapping mapping;
  for (Value operand : def->getOperands())
    mapping.map(operand, recomputeCheap(b, operand));
  return b.clone(*def, mapping)->getResult(0);
}
} // namespace

LogicalResult SelectOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getOnTrue()))
    return noCotangents(*this, out);
  VJPBuilder vb(b, getLoc());
  Value zero = vb.zerosLike(g);
  Value pred = recomputeCheap(b, getPred());
  out.push_back(Value());
  out.push_back(vb.select(pred, g, zero));
  out.push_back(vb.select(pred, zero, g));
  return success();
}

LogicalResult ConvertOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getOperand()) || !isFloatTensor(getResult()))
    return noCotangents(*this, out);
  out.push_back(ConvertOp::create(b, getLoc(), getOperand().getType(), g));
  return success();
}

//===----------------------------------------------------------------------===//
// Contraction and reduction
//===----------------------------------------------------------------------===//

LogicalResult DotOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                              SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getLhs()))
    return noCotangents(*this, out);
  Location loc = getLoc();
  auto lhsType = getLhs().getType();
  auto rhsType = getRhs().getType();
  ArrayRef<int64_t> lb = getLhsBatchDims(), rb = getRhsBatchDims();
  ArrayRef<int64_t> lc = getLhsContractingDims(), rc = getRhsContractingDims();
  int64_t nb = lb.size();
  auto freeDims = [](int64_t rank, ArrayRef<int64_t> batch,
                     ArrayRef<int64_t> contract) {
    SmallVector<int64_t> free;
    for (int64_t d = 0; d < rank; ++d)
      if (!llvm::is_contained(batch, d) && !llvm::is_contained(contract, d))
        free.push_back(d);
    return free;
  };
  SmallVector<int64_t> lf = freeDims(lhsType.getRank(), lb, lc);
  SmallVector<int64_t> rf = freeDims(rhsType.getRank(), rb, rc);
  int64_t nlf = lf.size(), nrf = rf.size();
  SmallVector<int64_t> gBatch = llvm::to_vector(llvm::seq<int64_t>(0, nb));
  SmallVector<int64_t> gLhsFree =
      llvm::to_vector(llvm::seq<int64_t>(nb, nb + nlf));
  SmallVector<int64_t> gRhsFree =
      llvm::to_vector(llvm::seq<int64_t>(nb + nlf, nb + nlf + nrf));

  // Position of each dimension of `rank` among the remaining (neither batch
  // nor contracted) dimensions of the other operand's dot, in order.
  auto sortedRank = [](ArrayRef<int64_t> dims, int64_t d) {
    SmallVector<int64_t> sorted(dims);
    llvm::sort(sorted);
    return int64_t(llvm::find(sorted, d) - sorted.begin());
  };

  // d lhs [batch, lhs free, lhs contracting (in rhs-contracting order)] =
  //   dot(g, rhs) over the rhs free dimensions.
  Value dl = DotOp::create(b, loc, g, getRhs(), gBatch, rb, gRhsFree, rf);
  // dl's dims: batch, lhs free, then rhs's remaining dims = rc sorted.
  SmallVector<int64_t> lhsPerm(lhsType.getRank());
  for (int64_t d = 0; d < lhsType.getRank(); ++d) {
    if (auto it = llvm::find(lb, d); it != lb.end())
      lhsPerm[d] = it - lb.begin();
    else if (auto it = llvm::find(lf, d); it != lf.end())
      lhsPerm[d] = nb + (it - lf.begin());
    else
      lhsPerm[d] =
          nb + nlf + sortedRank(rc, rc[llvm::find(lc, d) - lc.begin()]);
  }
  // lhsPerm maps lhs dim -> dl dim; transpose needs result[i] = dl[perm[i]].
  out.push_back(TransposeOp::create(b, loc, dl, lhsPerm));

  // d rhs [batch, lhs contracting (sorted), rhs free] = dot(lhs, g) over the
  // lhs free dimensions.
  Value dr = DotOp::create(b, loc, getLhs(), g, lb, gBatch, lf, gLhsFree);
  SmallVector<int64_t> rhsPerm(rhsType.getRank());
  int64_t nc = lc.size();
  for (int64_t d = 0; d < rhsType.getRank(); ++d) {
    if (auto it = llvm::find(rb, d); it != rb.end())
      rhsPerm[d] = it - rb.begin();
    else if (auto it = llvm::find(rf, d); it != rf.end())
      rhsPerm[d] = nb + nc + (it - rf.begin());
    else
      rhsPerm[d] = nb + sortedRank(lc, lc[llvm::find(rc, d) - rc.begin()]);
  }
  out.push_back(TransposeOp::create(b, loc, dr, rhsPerm));
  return success();
}

LogicalResult ReduceOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getOperand()))
    return noCotangents(*this, out);
  VJPBuilder vb(b, getLoc());
  auto inType = getOperand().getType();
  SmallVector<int64_t> kept;
  for (int64_t d = 0; d < inType.getRank(); ++d)
    if (!llvm::is_contained(getDimensions(), d))
      kept.push_back(d);
  Value spread = BroadcastOp::create(b, getLoc(), inType, g, kept);
  switch (getKind()) {
  case ReduceKind::Sum:
    out.push_back(spread);
    break;
  case ReduceKind::Mean: {
    int64_t count = 1;
    for (int64_t d : getDimensions())
      count *= inType.getDimSize(d);
    out.push_back(vb.scaled(spread, 1.0 / double(count)));
    break;
  }
  case ReduceKind::Max:
  case ReduceKind::Min: {
    // Every element equal to the extremum receives the gradient.
    Value extremum =
        BroadcastOp::create(b, getLoc(), inType, getResult(), kept);
    Value hit = vb.cmp(CompareDirection::EQ, getOperand(), extremum);
    out.push_back(vb.select(hit, spread, vb.zerosLike(spread)));
    break;
  }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Softmax and log-softmax (kept whole by autopar-autodiff)
//===----------------------------------------------------------------------===//

namespace {
/// The sum of `x` along `axis`, broadcast back to `x`'s shape.
Value sumAlong(OpBuilder &b, Location loc, Value x, int64_t axis) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> kept;
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (d != axis)
      kept.push_back(d);
  Value sum =
      ReduceOp::create(b, loc, ReduceKind::Sum, x, ArrayRef<int64_t>(axis));
  return BroadcastOp::create(b, loc, type, sum, kept);
}
} // namespace

// y = softmax(x): dx = y (g - sum(g y)). The decomposition's max, being
// subtracted from every element, contributes nothing (softmax is shift
// invariant). Written so that g y feeds the sum alone: fused into the
// reduction, it is never stored, and dx is one pass over g and y.
LogicalResult SoftmaxOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g)
    return noCotangents(*this, out);
  VJPBuilder vb(b, getLoc());
  int64_t axis = int64_t(getAxis());
  Value y = getResult();
  Value s = sumAlong(b, getLoc(), vb.mul(g, y), axis);
  out.push_back(vb.mul(y, vb.sub(g, s)));
  return success();
}

// y = log_softmax(x): dx = g - exp(y) sum(g).
LogicalResult LogSoftmaxOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                     SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g)
    return noCotangents(*this, out);
  VJPBuilder vb(b, getLoc());
  int64_t axis = int64_t(getAxis());
  Value y = getResult();
  Value s = sumAlong(b, getLoc(), g, axis);
  out.push_back(vb.sub(g, vb.mul(ExpOp::create(b, getLoc(), y), s)));
  return success();
}

// o = attention(q, k, v) kept whole (autopar-autodiff's keep-attention):
// one attention_grad, which a fused kernel computes without storing the
// probabilities and other backends decompose (DecomposeComposites).
LogicalResult AttentionOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &out) {
  if (getMask())
    return emitOpError("has no gradient rule with a mask operand (autodiff "
                       "decomposes such attentions)");
  Value g = cotangents[0];
  if (!g)
    return noCotangents(*this, out);
  auto grad =
      AttentionGradOp::create(b, getLoc(), getQuery(), getKey(), getValue(),
                              getResult(), g, getCausal(), getScaleAttr());
  llvm::append_range(out, grad.getResults());
  return success();
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                  SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getOperand()))
    return noCotangents(*this, out);
  out.push_back(ReshapeOp::create(b, getLoc(), getOperand().getType(), g));
  return success();
}

LogicalResult TransposeOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getOperand()))
    return noCotangents(*this, out);
  ArrayRef<int64_t> perm = getPermutation();
  SmallVector<int64_t> inverse(perm.size());
  for (auto [i, p] : llvm::enumerate(perm))
    inverse[p] = i;
  out.push_back(TransposeOp::create(b, getLoc(), g, inverse));
  return success();
}

LogicalResult BroadcastOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getOperand()))
    return noCotangents(*this, out);
  auto inType = getOperand().getType();
  auto outType = getType();
  ArrayRef<int64_t> dims = getBroadcastDimensions();
  // Sum over the new dimensions and over the expanded size-1 ones.
  SmallVector<int64_t> summed;
  for (int64_t d = 0; d < outType.getRank(); ++d) {
    auto it = llvm::find(dims, d);
    if (it == dims.end() || (inType.getDimSize(it - dims.begin()) == 1 &&
                             outType.getDimSize(d) != 1))
      summed.push_back(d);
  }
  Value r = g;
  if (!summed.empty())
    r = ReduceOp::create(b, getLoc(), ReduceKind::Sum, g, summed);
  if (r.getType() != inType)
    r = ReshapeOp::create(b, getLoc(), inType, r);
  out.push_back(r);
  return success();
}

LogicalResult SliceOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getOperand()))
    return noCotangents(*this, out);
  if (llvm::any_of(getStrides(), [](int64_t s) { return s != 1; }))
    return emitOpError("has no VJP for strides other than 1 yet (it needs a "
                       "scatter op)");
  // Pad the cotangent with zeros back to the operand's shape, one dimension
  // at a time.
  VJPBuilder vb(b, getLoc());
  auto inType = getOperand().getType();
  Value r = g;
  for (int64_t d = 0; d < inType.getRank(); ++d) {
    int64_t before = getStartIndices()[d];
    int64_t after = inType.getDimSize(d) - getLimitIndices()[d];
    if (before == 0 && after == 0)
      continue;
    auto rType = cast<RankedTensorType>(r.getType());
    SmallVector<Value> parts;
    auto zeros = [&](int64_t n) {
      SmallVector<int64_t> shape(rType.getShape());
      shape[d] = n;
      return vb.splat(rType.clone(shape), 0.0);
    };
    if (before)
      parts.push_back(zeros(before));
    parts.push_back(r);
    if (after)
      parts.push_back(zeros(after));
    r = ConcatOp::create(b, getLoc(), parts, d);
  }
  out.push_back(r);
  return success();
}

LogicalResult ConcatOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getInputs().front()))
    return noCotangents(*this, out);
  int64_t dim = getDim(), offset = 0;
  auto outType = getType();
  for (Value input : getInputs()) {
    auto t = cast<RankedTensorType>(input.getType());
    SmallVector<int64_t> start(outType.getRank(), 0);
    SmallVector<int64_t> limit(outType.getShape());
    SmallVector<int64_t> strides(outType.getRank(), 1);
    start[dim] = offset;
    limit[dim] = offset + t.getDimSize(dim);
    offset = limit[dim];
    out.push_back(SliceOp::create(b, getLoc(), g, start, limit, strides));
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Gather and its transpose
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                 SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getOperand()))
    return noCotangents(*this, out);
  VJPBuilder vb(b, getLoc());
  out.push_back(ScatterAddOp::create(b, getLoc(), getOperand().getType(),
                                     vb.zerosLike(getOperand()), getIndices(),
                                     g, getAxisAttr()));
  out.push_back(Value());
  return success();
}

LogicalResult ScatterAddOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                     SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g || !isFloatTensor(getTarget()))
    return noCotangents(*this, out);
  out.push_back(g);
  out.push_back(Value());
  out.push_back(GatherOp::create(b, getLoc(), g, getIndices(), getAxis()));
  return success();
}

//===----------------------------------------------------------------------===//
// Collectives: all_reduce and grad_all_reduce are each other's transpose
//===----------------------------------------------------------------------===//

LogicalResult AllReduceOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &out) {
  out.push_back(cotangents[0]);
  return success();
}

LogicalResult AllReduceMaxOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                       SmallVectorImpl<Value> &out) {
  out.push_back(Value());
  return success();
}

LogicalResult GradAllReduceOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                        SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  out.push_back(
      g ? AllReduceOp::create(b, getLoc(), g, getGridAttr(), getGridAxesAttr())
              .getResult()
        : Value());
  return success();
}

//===----------------------------------------------------------------------===//
// Sequence-parallel collectives
//===----------------------------------------------------------------------===//

LogicalResult AllGatherOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &out) {
  Value g = cotangents[0];
  if (!g) {
    out.push_back(Value());
    return success();
  }
  Type type = getOperand().getType();
  out.push_back(getPartialGrad()
                    ? ReduceScatterOp::create(b, getLoc(), type, g,
                                              getGridAttr(), getGridAxesAttr(),
                                              getDimAttr())
                          .getResult()
                    : LocalSliceOp::create(b, getLoc(), type, g, getGridAttr(),
                                           getGridAxesAttr(), getDimAttr())
                          .getResult());
  return success();
}

/// The transpose of reduce_scatter and local_slice: gather the blocks.
static LogicalResult gatherVJP(Operation *op, Value operand, OpBuilder &b,
                               ValueRange cotangents,
                               SmallVectorImpl<Value> &out,
                               FlatSymbolRefAttr grid, DenseI64ArrayAttr axes,
                               IntegerAttr dim) {
  Value g = cotangents[0];
  out.push_back(g ? AllGatherOp::create(b, op->getLoc(), operand.getType(), g,
                                        grid, axes, dim, /*partial_grad=*/
                                        nullptr)
                        .getResult()
                  : Value());
  return success();
}

LogicalResult ReduceScatterOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                        SmallVectorImpl<Value> &out) {
  return gatherVJP(*this, getOperand(), b, cotangents, out, getGridAttr(),
                   getGridAxesAttr(), getDimAttr());
}

LogicalResult LocalSliceOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                     SmallVectorImpl<Value> &out) {
  return gatherVJP(*this, getOperand(), b, cotangents, out, getGridAttr(),
                   getGridAxesAttr(), getDimAttr());
}

LogicalResult GridIndexOp::buildVJP(OpBuilder &b, ValueRange cotangents,
                                    SmallVectorImpl<Value> &out) {
  return success(); // no operands
}
