//===- AutoParToLinalg.cpp - autopar to linalg/tensor/arith/math ----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Lowers autopar primitives to destination-passing linalg on tensors.
// Elementwise ops, contractions, reductions, broadcasts and gathers become
// linalg.generic ops whose indexing maps carry the op's structure, so that
// later linalg transformations (fusion, tiling, named-op recognition) see it.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/TypeSwitch.h"
#include <cmath>
#include <functional>

namespace mlir::autopar {
#define GEN_PASS_DEF_CONVERTAUTOPARTOLINALGPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

//===----------------------------------------------------------------------===//
// Scalar helpers used inside linalg bodies
//===----------------------------------------------------------------------===//

Value scalarConst(OpBuilder &b, Location loc, Type type, double value) {
  if (auto floatType = dyn_cast<FloatType>(type))
    return arith::ConstantOp::create(b, loc, floatType,
                                     b.getFloatAttr(floatType, value));
  return arith::ConstantOp::create(b, loc, type,
                                   b.getIntegerAttr(type, int64_t(value)));
}

bool isFloat(Type type) { return isa<FloatType>(type); }

/// Creates `FloatOpT` for floating-point operands and `IntOpT` otherwise.
template <typename FloatOpT, typename IntOpT, typename... Args>
Value floatOrInt(OpBuilder &b, Location loc, bool fp, Args... args) {
  if (fp)
    return FloatOpT::create(b, loc, args...);
  return IntOpT::create(b, loc, args...);
}

/// 1 / (1 + exp(-x)).
Value scalarSigmoid(OpBuilder &b, Location loc, Value x) {
  Type t = x.getType();
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  Value one = scalarConst(b, loc, t, 1.0);
  return arith::DivFOp::create(b, loc, one,
                               arith::AddFOp::create(b, loc, one, e));
}

Value scalarGelu(OpBuilder &b, Location loc, Value x,
                 GeluApproximation approximation) {
  Type t = x.getType();
  Value half = scalarConst(b, loc, t, 0.5);
  Value one = scalarConst(b, loc, t, 1.0);
  Value inner;
  if (approximation == GeluApproximation::None) {
    Value scaled =
        arith::MulFOp::create(b, loc, x, scalarConst(b, loc, t, M_SQRT1_2));
    inner = math::ErfOp::create(b, loc, scaled);
  } else {
    // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
    Value x3 =
        arith::MulFOp::create(b, loc, x, arith::MulFOp::create(b, loc, x, x));
    Value poly = arith::AddFOp::create(
        b, loc, x,
        arith::MulFOp::create(b, loc, scalarConst(b, loc, t, 0.044715), x3));
    Value k = scalarConst(b, loc, t, std::sqrt(2.0 / M_PI));
    inner =
        math::TanhOp::create(b, loc, arith::MulFOp::create(b, loc, k, poly));
  }
  Value onePlus = arith::AddFOp::create(b, loc, one, inner);
  return arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, half, x),
                               onePlus);
}

/// The scalar computation of each elementwise op. `args` are the scalar
/// operands (block arguments of the linalg body); `resultType` is the
/// result's element type.
Value buildScalar(Operation *op, OpBuilder &b, Location loc, ValueRange args,
                  Type resultType) {
  Value x = args[0];
  Type t = x.getType();
  bool fp = isFloat(t);
  return llvm::TypeSwitch<Operation *, Value>(op)
      .Case([&](NegOp) -> Value {
        if (fp)
          return arith::NegFOp::create(b, loc, x);
        return arith::SubIOp::create(b, loc, scalarConst(b, loc, t, 0), x);
      })
      .Case([&](AbsOp) {
        return floatOrInt<math::AbsFOp, math::AbsIOp>(b, loc, fp, x);
      })
      .Case([&](ExpOp) { return math::ExpOp::create(b, loc, x); })
      .Case([&](LogOp) { return math::LogOp::create(b, loc, x); })
      .Case([&](TanhOp) { return math::TanhOp::create(b, loc, x); })
      .Case([&](SqrtOp) { return math::SqrtOp::create(b, loc, x); })
      .Case([&](RsqrtOp) { return math::RsqrtOp::create(b, loc, x); })
      .Case([&](ErfOp) { return math::ErfOp::create(b, loc, x); })
      .Case([&](SigmoidOp) { return scalarSigmoid(b, loc, x); })
      .Case([&](SiluOp) -> Value {
        return arith::MulFOp::create(b, loc, x, scalarSigmoid(b, loc, x));
      })
      .Case([&](ReluOp) {
        return floatOrInt<arith::MaximumFOp, arith::MaxSIOp>(
            b, loc, fp, x, scalarConst(b, loc, t, 0));
      })
      .Case([&](GeluOp gelu) {
        return scalarGelu(b, loc, x, gelu.getApproximate());
      })
      .Case([&](AddOp) {
        return floatOrInt<arith::AddFOp, arith::AddIOp>(b, loc, fp, x, args[1]);
      })
      .Case([&](SubOp) {
        return floatOrInt<arith::SubFOp, arith::SubIOp>(b, loc, fp, x, args[1]);
      })
      .Case([&](MulOp) {
        return floatOrInt<arith::MulFOp, arith::MulIOp>(b, loc, fp, x, args[1]);
      })
      .Case([&](DivOp) {
        return floatOrInt<arith::DivFOp, arith::DivSIOp>(b, loc, fp, x,
                                                         args[1]);
      })
      .Case([&](MaxOp) {
        return floatOrInt<arith::MaximumFOp, arith::MaxSIOp>(b, loc, fp, x,
                                                             args[1]);
      })
      .Case([&](MinOp) {
        return floatOrInt<arith::MinimumFOp, arith::MinSIOp>(b, loc, fp, x,
                                                             args[1]);
      })
      .Case([&](PowOp) { return math::PowFOp::create(b, loc, x, args[1]); })
      .Case([&](CompareOp cmp) -> Value {
        if (fp) {
          arith::CmpFPredicate pred = arith::CmpFPredicate::OEQ;
          switch (cmp.getDirection()) {
          case CompareDirection::EQ:
            pred = arith::CmpFPredicate::OEQ;
            break;
          case CompareDirection::NE:
            pred = arith::CmpFPredicate::UNE;
            break;
          case CompareDirection::LT:
            pred = arith::CmpFPredicate::OLT;
            break;
          case CompareDirection::LE:
            pred = arith::CmpFPredicate::OLE;
            break;
          case CompareDirection::GT:
            pred = arith::CmpFPredicate::OGT;
            break;
          case CompareDirection::GE:
            pred = arith::CmpFPredicate::OGE;
            break;
          }
          return arith::CmpFOp::create(b, loc, pred, x, args[1]);
        }
        // Booleans order false < true, so they compare unsigned.
        bool u = t.isInteger(1);
        arith::CmpIPredicate pred = arith::CmpIPredicate::eq;
        switch (cmp.getDirection()) {
        case CompareDirection::EQ:
          pred = arith::CmpIPredicate::eq;
          break;
        case CompareDirection::NE:
          pred = arith::CmpIPredicate::ne;
          break;
        case CompareDirection::LT:
          pred = u ? arith::CmpIPredicate::ult : arith::CmpIPredicate::slt;
          break;
        case CompareDirection::LE:
          pred = u ? arith::CmpIPredicate::ule : arith::CmpIPredicate::sle;
          break;
        case CompareDirection::GT:
          pred = u ? arith::CmpIPredicate::ugt : arith::CmpIPredicate::sgt;
          break;
        case CompareDirection::GE:
          pred = u ? arith::CmpIPredicate::uge : arith::CmpIPredicate::sge;
          break;
        }
        return arith::CmpIOp::create(b, loc, pred, x, args[1]);
      })
      .Case([&](SelectOp) {
        return arith::SelectOp::create(b, loc, x, args[1], args[2]);
      })
      .Case([&](ConvertOp) -> Value {
        Type to = resultType;
        if (t == to)
          return x;
        if (to.isInteger(1)) {
          if (fp)
            return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, x,
                                         scalarConst(b, loc, t, 0));
          return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, x,
                                       scalarConst(b, loc, t, 0));
        }
        if (fp && isFloat(to)) {
          if (to.getIntOrFloatBitWidth() > t.getIntOrFloatBitWidth())
            return arith::ExtFOp::create(b, loc, to, x);
          return arith::TruncFOp::create(b, loc, to, x);
        }
        if (fp)
          return arith::FPToSIOp::create(b, loc, to, x);
        bool fromBool = t.isInteger(1);
        if (isFloat(to)) {
          if (fromBool)
            return arith::UIToFPOp::create(b, loc, to, x);
          return arith::SIToFPOp::create(b, loc, to, x);
        }
        if (to.getIntOrFloatBitWidth() > t.getIntOrFloatBitWidth()) {
          if (fromBool)
            return arith::ExtUIOp::create(b, loc, to, x);
          return arith::ExtSIOp::create(b, loc, to, x);
        }
        return arith::TruncIOp::create(b, loc, to, x);
      })
      .Default([](Operation *) -> Value { return nullptr; });
}

//===----------------------------------------------------------------------===//
// Tensor-level helpers
//===----------------------------------------------------------------------===//

Value emptyLike(OpBuilder &b, Location loc, RankedTensorType type) {
  return tensor::EmptyOp::create(b, loc, type.getShape(),
                                 type.getElementType());
}

Value filled(OpBuilder &b, Location loc, RankedTensorType type, Value scalar) {
  return linalg::FillOp::create(b, loc, scalar, emptyLike(b, loc, type))
      .getResult(0);
}

SmallVector<utils::IteratorType> parallelIterators(int64_t n) {
  return SmallVector<utils::IteratorType>(n, utils::IteratorType::parallel);
}

/// `value` (a float tensor) with its elements widened or rounded to `to`.
Value castFloats(OpBuilder &b, Location loc, Value value, Type to) {
  auto type = cast<RankedTensorType>(value.getType());
  auto result = RankedTensorType::get(type.getShape(), to);
  SmallVector<AffineMap> maps(
      2, AffineMap::getMultiDimIdentityMap(type.getRank(), b.getContext()));
  return linalg::GenericOp::create(
             b, loc, TypeRange{result}, ValueRange{value},
             ValueRange{emptyLike(b, loc, result)}, maps,
             parallelIterators(type.getRank()),
             [&](OpBuilder &nested, Location l, ValueRange args) {
               Value x = args[0];
               Value y = to.getIntOrFloatBitWidth() >
                                 x.getType().getIntOrFloatBitWidth()
                             ? Value(arith::ExtFOp::create(nested, l, to, x))
                             : Value(arith::TruncFOp::create(nested, l, to, x));
               linalg::YieldOp::create(nested, l, y);
             })
      .getResult(0);
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

/// Any elementwise op: one linalg.generic with identity maps.
template <typename OpT>
struct ElementwiseLowering : public OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpT op, typename OpT::Adaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    ValueRange inputs = adaptor.getOperands();
    SmallVector<AffineMap> maps(
        inputs.size() + 1,
        AffineMap::getMultiDimIdentityMap(type.getRank(), op.getContext()));
    Operation *source = op.getOperation();
    bool failedBody = false;
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, inputs,
        ValueRange{emptyLike(rewriter, loc, type)}, maps,
        parallelIterators(type.getRank()),
        [&](OpBuilder &b, Location nested, ValueRange args) {
          Value v = buildScalar(source, b, nested, args.drop_back(),
                                type.getElementType());
          if (!v) {
            failedBody = true;
            v = args.back();
          }
          linalg::YieldOp::create(b, nested, v);
        });
    if (failedBody)
      return rewriter.notifyMatchFailure(op, "no scalar lowering");
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// Whether `value` is a 1-D integer tensor 0, 1, 2, ... (the class ids a
/// cross-entropy compares its labels with).
static bool isIota(Attribute value) {
  auto dense = dyn_cast<DenseIntElementsAttr>(value);
  if (!dense || dense.isSplat() || dense.getType().getRank() != 1)
    return false;
  int64_t i = 0;
  for (const APInt &v : dense.getValues<APInt>())
    if (v.getSExtValue() != i++)
      return false;
  return true;
}

/// A constant becomes an arith.constant, except an iota over its one
/// dimension, which becomes a linalg.generic yielding its loop index: the
/// ops that read it then compute each element from the index where they
/// are fused with it instead of loading a table (gpt2-small's
/// cross-entropy read 8 bytes of class id for each 2-byte logit, twice).
struct ConstantLowering : public OpConversionPattern<ConstantOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConstantOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    if (!isIota(op.getValue())) {
      rewriter.replaceOpWithNewOp<arith::ConstantOp>(
          op, op.getType(), cast<TypedAttr>(op.getValue()));
      return success();
    }
    auto type = cast<RankedTensorType>(op.getType());
    Location loc = op.getLoc();
    Value empty = emptyLike(rewriter, loc, type);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type}, ValueRange(), ValueRange{empty},
        ArrayRef<AffineMap>{rewriter.getMultiDimIdentityMap(1)},
        parallelIterators(1), [&](OpBuilder &b, Location nested, ValueRange) {
          Value index = linalg::IndexOp::create(b, nested, 0);
          linalg::YieldOp::create(b, nested,
                                  arith::IndexCastOp::create(
                                      b, nested, type.getElementType(), index)
                                      .getResult());
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

/// dot: iteration space = result dims (batch, lhs free, rhs free) followed by
/// the contracting dims; one multiply-add per point.
struct DotLowering : public OpConversionPattern<DotOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DotOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto resultType = op.getType();
    auto lhsType = op.getLhs().getType();
    auto rhsType = op.getRhs().getType();
    int64_t numResult = resultType.getRank();
    int64_t numContract = op.getLhsContractingDims().size();
    int64_t numBatch = op.getLhsBatchDims().size();
    int64_t numDims = numResult + numContract;

    auto operandMap = [&](int64_t rank, ArrayRef<int64_t> batchDims,
                          ArrayRef<int64_t> contractDims, int64_t freeStart) {
      SmallVector<AffineExpr> exprs;
      int64_t nextFree = freeStart;
      for (int64_t d = 0; d < rank; ++d) {
        auto batchIt = llvm::find(batchDims, d);
        auto contractIt = llvm::find(contractDims, d);
        if (batchIt != batchDims.end())
          exprs.push_back(getAffineDimExpr(batchIt - batchDims.begin(), ctx));
        else if (contractIt != contractDims.end())
          exprs.push_back(getAffineDimExpr(
              numResult + (contractIt - contractDims.begin()), ctx));
        else
          exprs.push_back(getAffineDimExpr(nextFree++, ctx));
      }
      return AffineMap::get(numDims, 0, exprs, ctx);
    };
    int64_t lhsFree = lhsType.getRank() - numBatch - numContract;
    AffineMap lhsMap = operandMap(lhsType.getRank(), op.getLhsBatchDims(),
                                  op.getLhsContractingDims(), numBatch);
    AffineMap rhsMap =
        operandMap(rhsType.getRank(), op.getRhsBatchDims(),
                   op.getRhsContractingDims(), numBatch + lhsFree);
    SmallVector<AffineExpr> outExprs;
    for (int64_t d = 0; d < numResult; ++d)
      outExprs.push_back(getAffineDimExpr(d, ctx));
    AffineMap outMap = AffineMap::get(numDims, 0, outExprs, ctx);

    SmallVector<utils::IteratorType> iterators = parallelIterators(numResult);
    iterators.append(numContract, utils::IteratorType::reduction);

    Type elementType = resultType.getElementType();
    Value lhs = adaptor.getLhs(), rhs = adaptor.getRhs();
    // A half-precision contraction (f16, bf16) accumulates in f32, as
    // tensor cores and cuBLAS do: the operands are widened (exactly), the
    // f32 contraction is a plain one (a BLAS or cuBLAS call), and its sum
    // is rounded once at the end.
    Type narrow;
    if (elementType.isF16() || elementType.isBF16()) {
      narrow = elementType;
      elementType = rewriter.getF32Type();
      resultType = RankedTensorType::get(resultType.getShape(), elementType);
      lhs = castFloats(rewriter, loc, lhs, elementType);
      rhs = castFloats(rewriter, loc, rhs, elementType);
    }
    Value init = filled(rewriter, loc, resultType,
                        scalarConst(rewriter, loc, elementType, 0));
    bool fp = isFloat(elementType);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{resultType}, ValueRange{lhs, rhs},
        ValueRange{init}, ArrayRef<AffineMap>{lhsMap, rhsMap, outMap},
        iterators, [&](OpBuilder &b, Location nested, ValueRange args) {
          Value product = floatOrInt<arith::MulFOp, arith::MulIOp>(
              b, nested, fp, args[0], args[1]);
          linalg::YieldOp::create(b, nested,
                                  floatOrInt<arith::AddFOp, arith::AddIOp>(
                                      b, nested, fp, args[2], product));
        });
    if (narrow)
      rewriter.replaceOp(
          op, castFloats(rewriter, loc, generic.getResult(0), narrow));
    else
      rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

struct ReduceLowering : public OpConversionPattern<ReduceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReduceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto inType = op.getOperand().getType();
    auto outType = op.getType();
    Type elementType = outType.getElementType();
    bool fp = isFloat(elementType);
    ReduceKind kind = op.getKind();
    ArrayRef<int64_t> dims = op.getDimensions();

    Value identity;
    switch (kind) {
    case ReduceKind::Sum:
    case ReduceKind::Mean:
      identity = scalarConst(rewriter, loc, elementType, 0);
      break;
    case ReduceKind::Max:
    case ReduceKind::Min: {
      bool isMax = kind == ReduceKind::Max;
      if (fp) {
        const auto &sem = cast<FloatType>(elementType).getFloatSemantics();
        identity = arith::ConstantOp::create(
            rewriter, loc, elementType,
            rewriter.getFloatAttr(elementType,
                                  APFloat::getInf(sem, /*Negative=*/isMax)));
      } else {
        unsigned width = elementType.getIntOrFloatBitWidth();
        APInt v = isMax ? APInt::getSignedMinValue(width)
                        : APInt::getSignedMaxValue(width);
        identity =
            arith::ConstantOp::create(rewriter, loc, elementType,
                                      rewriter.getIntegerAttr(elementType, v));
      }
      break;
    }
    }

    SmallVector<AffineExpr> outExprs;
    SmallVector<utils::IteratorType> iterators;
    for (int64_t d = 0; d < inType.getRank(); ++d) {
      if (llvm::is_contained(dims, d)) {
        iterators.push_back(utils::IteratorType::reduction);
      } else {
        iterators.push_back(utils::IteratorType::parallel);
        outExprs.push_back(getAffineDimExpr(d, ctx));
      }
    }
    AffineMap inMap = AffineMap::getMultiDimIdentityMap(inType.getRank(), ctx);
    AffineMap outMap = AffineMap::get(inType.getRank(), 0, outExprs, ctx);
    Value init = filled(rewriter, loc, outType, identity);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{outType}, ValueRange{adaptor.getOperand()},
        ValueRange{init}, ArrayRef<AffineMap>{inMap, outMap}, iterators,
        [&](OpBuilder &b, Location nested, ValueRange args) {
          Value x = args[0], acc = args[1], r;
          switch (kind) {
          case ReduceKind::Sum:
          case ReduceKind::Mean:
            r = floatOrInt<arith::AddFOp, arith::AddIOp>(b, nested, fp, acc, x);
            break;
          case ReduceKind::Max:
            r = floatOrInt<arith::MaximumFOp, arith::MaxSIOp>(b, nested, fp,
                                                              acc, x);
            break;
          case ReduceKind::Min:
            r = floatOrInt<arith::MinimumFOp, arith::MinSIOp>(b, nested, fp,
                                                              acc, x);
            break;
          }
          linalg::YieldOp::create(b, nested, r);
        });
    Value result = generic.getResult(0);
    if (kind == ReduceKind::Mean) {
      int64_t count = 1;
      for (int64_t d : dims)
        count *= inType.getDimSize(d);
      AffineMap id = AffineMap::getMultiDimIdentityMap(outType.getRank(), ctx);
      result =
          linalg::GenericOp::create(
              rewriter, loc, TypeRange{outType}, ValueRange{result},
              ValueRange{emptyLike(rewriter, loc, outType)},
              ArrayRef<AffineMap>{id, id}, parallelIterators(outType.getRank()),
              [&](OpBuilder &b, Location nested, ValueRange args) {
                Value n = scalarConst(b, nested, elementType, double(count));
                linalg::YieldOp::create(
                    b, nested,
                    Value(arith::DivFOp::create(b, nested, args[0], n)));
              })
              .getResult(0);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// reshape: collapse to one dimension, then expand to the target shape.
struct ReshapeLowering : public OpConversionPattern<ReshapeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ReshapeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto inType = op.getOperand().getType();
    auto outType = op.getType();
    auto allDims = [](int64_t rank) {
      SmallVector<ReassociationIndices> r;
      if (rank > 0)
        r.push_back(llvm::to_vector(llvm::seq<int64_t>(0, rank)));
      return r;
    };
    Value flat = adaptor.getOperand();
    auto flatType = RankedTensorType::get({inType.getNumElements()},
                                          inType.getElementType());
    if (inType.getRank() == 0)
      flat = tensor::ExpandShapeOp::create(rewriter, loc, flatType, flat,
                                           SmallVector<ReassociationIndices>{});
    else if (inType.getRank() != 1)
      flat = tensor::CollapseShapeOp::create(rewriter, loc, flatType, flat,
                                             allDims(inType.getRank()));
    if (outType.getRank() == 1) {
      rewriter.replaceOp(op, flat);
      return success();
    }
    if (outType.getRank() == 0) {
      rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
          op, outType, flat, SmallVector<ReassociationIndices>{});
      return success();
    }
    rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(
        op, outType, flat, allDims(outType.getRank()));
    return success();
  }
};

struct TransposeLowering : public OpConversionPattern<TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TransposeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto transposed = linalg::TransposeOp::create(
        rewriter, loc, adaptor.getOperand(),
        emptyLike(rewriter, loc, op.getType()), op.getPermutation());
    rewriter.replaceOp(op, transposed.getResults());
    return success();
  }
};

struct BroadcastLowering : public OpConversionPattern<BroadcastOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(BroadcastOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto inType = op.getOperand().getType();
    auto outType = op.getType();
    SmallVector<AffineExpr> inExprs;
    for (auto [i, d] : llvm::enumerate(op.getBroadcastDimensions())) {
      if (inType.getDimSize(i) == 1 && outType.getDimSize(d) != 1)
        inExprs.push_back(getAffineConstantExpr(0, ctx));
      else
        inExprs.push_back(getAffineDimExpr(d, ctx));
    }
    AffineMap inMap = AffineMap::get(outType.getRank(), 0, inExprs, ctx);
    AffineMap outMap =
        AffineMap::getMultiDimIdentityMap(outType.getRank(), ctx);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{outType}, ValueRange{adaptor.getOperand()},
        ValueRange{emptyLike(rewriter, loc, outType)},
        ArrayRef<AffineMap>{inMap, outMap},
        parallelIterators(outType.getRank()),
        [&](OpBuilder &b, Location nested, ValueRange args) {
          linalg::YieldOp::create(b, nested, args[0]);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

struct SliceLowering : public OpConversionPattern<SliceOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SliceOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<tensor::ExtractSliceOp>(
        op, op.getType(), adaptor.getOperand(), ValueRange{}, ValueRange{},
        ValueRange{}, op.getStartIndices(), op.getType().getShape(),
        op.getStrides());
    return success();
  }
};

/// concat: insert each input into an empty result at its offset.
struct ConcatLowering : public OpConversionPattern<ConcatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConcatOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto outType = op.getType();
    int64_t dim = op.getDim();
    Value result = emptyLike(rewriter, loc, outType);
    int64_t offset = 0;
    for (Value input : adaptor.getInputs()) {
      auto type = cast<RankedTensorType>(input.getType());
      SmallVector<int64_t> offsets(outType.getRank(), 0);
      offsets[dim] = offset;
      SmallVector<int64_t> strides(outType.getRank(), 1);
      result = tensor::InsertSliceOp::create(
          rewriter, loc, input, result, ValueRange{}, ValueRange{},
          ValueRange{}, offsets, type.getShape(), strides);
      offset += type.getDimSize(dim);
    }
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// An index read from a tensor, as `index`: a negative one counts from the
/// end, and one still outside [0, size) is clamped into it (gather's and
/// scatter_add's shared semantics).
Value clampedIndex(OpBuilder &b, Location loc, Value raw, int64_t size) {
  Value idx = arith::IndexCastOp::create(b, loc, b.getIndexType(), raw);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value n = arith::ConstantIndexOp::create(b, loc, size);
  Value last = arith::ConstantIndexOp::create(b, loc, size - 1);
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, idx, zero);
  idx = arith::SelectOp::create(b, loc, negative,
                                arith::AddIOp::create(b, loc, idx, n), idx);
  idx = arith::MaxSIOp::create(b, loc, idx, zero);
  return arith::MinSIOp::create(b, loc, idx, last);
}

/// scatter_add: the dimensions of the updates that are not indexed
/// (before `axis` and after the index dimensions) are independent, so they
/// become an `scf.forall`; each of its points takes its column of the
/// target (the `axis` dimension) and loops over the index dimensions
/// sequentially (repeated indices accumulate), reading, adding and
/// inserting one element at a time. One-shot bufferization makes the
/// inserts and the column in place; the CPU runs the forall as loops, the
/// GPU as threads (the embedding's gradient: one thread per feature rather
/// than one for all). With no independent dimension the loops stand alone.
struct ScatterAddLowering : public OpConversionPattern<ScatterAddOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ScatterAddOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto updatesType = op.getUpdates().getType();
    auto targetType = op.getTarget().getType();
    int64_t rank = updatesType.getRank();
    int64_t axis = op.getAxis();
    int64_t indexRank = op.getIndices().getType().getRank();
    int64_t size = targetType.getDimSize(axis);
    bool fp = isFloat(updatesType.getElementType());
    Value indices = adaptor.getIndices(), updates = adaptor.getUpdates();
    // Coordinates of the updates: the free ones (from the forall) around
    // the indexed ones (from the loops).
    SmallVector<Value> free, indexed;
    auto coordinates = [&]() {
      SmallVector<Value> c(free.begin(), free.begin() + axis);
      c.append(indexed.begin(), indexed.end());
      c.append(free.begin() + axis, free.end());
      return c;
    };
    // Loops over the index dimensions, accumulating into `acc`: the
    // column of the target (rank 1) or, with no free dimension, the target.
    std::function<Value(OpBuilder &, int64_t, Value)> loop =
        [&](OpBuilder &b, int64_t d, Value acc) -> Value {
      if (d == indexRank) {
        Value idx = clampedIndex(
            b, loc, tensor::ExtractOp::create(b, loc, indices, indexed), size);
        Value u = tensor::ExtractOp::create(b, loc, updates, coordinates());
        Value cur = tensor::ExtractOp::create(b, loc, acc, idx);
        Value sum =
            floatOrInt<arith::AddFOp, arith::AddIOp>(b, loc, fp, cur, u);
        return tensor::InsertOp::create(b, loc, sum, acc, idx);
      }
      Value lb = arith::ConstantIndexOp::create(b, loc, 0);
      Value ub = arith::ConstantIndexOp::create(
          b, loc, updatesType.getDimSize(axis + d));
      Value step = arith::ConstantIndexOp::create(b, loc, 1);
      auto forOp = scf::ForOp::create(
          b, loc, lb, ub, step, ValueRange{acc},
          [&](OpBuilder &inner, Location, Value iv, ValueRange iters) {
            indexed.push_back(iv);
            Value next = loop(inner, d + 1, iters[0]);
            indexed.pop_back();
            scf::YieldOp::create(inner, loc, next);
          });
      return forOp.getResult(0);
    };
    if (rank == indexRank) {
      rewriter.replaceOp(op, loop(rewriter, 0, adaptor.getTarget()));
      return success();
    }
    SmallVector<OpFoldResult> bounds;
    for (int64_t d = 0; d < rank; ++d)
      if (d < axis || d >= axis + indexRank)
        bounds.push_back(rewriter.getIndexAttr(updatesType.getDimSize(d)));
    auto forall = scf::ForallOp::create(rewriter, loc, bounds,
                                        ValueRange{adaptor.getTarget()},
                                        /*mapping=*/std::nullopt);
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(forall.getTerminator());
    SmallVector<Value> ivs = forall.getInductionVars();
    free.assign(ivs.begin(), ivs.end());
    // The column target[free before axis, :, free after axis].
    SmallVector<OpFoldResult> offsets, sizes,
        strides(targetType.getRank(), rewriter.getIndexAttr(1));
    for (int64_t k = 0; k < targetType.getRank(); ++k) {
      offsets.push_back(k == axis  ? OpFoldResult(rewriter.getIndexAttr(0))
                        : k < axis ? OpFoldResult(free[k])
                                   : OpFoldResult(free[k - 1]));
      sizes.push_back(rewriter.getIndexAttr(k == axis ? size : 1));
    }
    Value shared = forall.getRegionIterArgs()[0];
    auto columnType =
        RankedTensorType::get({size}, targetType.getElementType());
    Value column = tensor::ExtractSliceOp::create(
        rewriter, loc, columnType, shared, offsets, sizes, strides);
    column = loop(rewriter, 0, column);
    rewriter.setInsertionPointToStart(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(rewriter, loc, column, shared,
                                          offsets, sizes, strides);
    rewriter.replaceOp(op, forall.getResult(0));
    return success();
  }
};

/// gather: a generic over the result shape that reads the index, wraps a
/// negative one, clamps it into range and extracts the element.
struct GatherLowering : public OpConversionPattern<GatherOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GatherOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = op.getContext();
    auto dataType = op.getOperand().getType();
    auto indexType = op.getIndices().getType();
    auto outType = op.getType();
    int64_t axis = op.getAxis();
    int64_t indexRank = indexType.getRank();
    int64_t size = dataType.getDimSize(axis);

    SmallVector<AffineExpr> indexExprs;
    for (int64_t d = 0; d < indexRank; ++d)
      indexExprs.push_back(getAffineDimExpr(axis + d, ctx));
    AffineMap indexMap = AffineMap::get(outType.getRank(), 0, indexExprs, ctx);
    AffineMap outMap =
        AffineMap::getMultiDimIdentityMap(outType.getRank(), ctx);
    Value data = adaptor.getOperand();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{outType}, ValueRange{adaptor.getIndices()},
        ValueRange{emptyLike(rewriter, loc, outType)},
        ArrayRef<AffineMap>{indexMap, outMap},
        parallelIterators(outType.getRank()),
        [&](OpBuilder &b, Location nested, ValueRange args) {
          Value idx = clampedIndex(b, nested, args[0], size);
          SmallVector<Value> coords;
          for (int64_t d = 0; d < dataType.getRank(); ++d) {
            if (d < axis)
              coords.push_back(linalg::IndexOp::create(b, nested, d));
            else if (d == axis)
              coords.push_back(idx);
            else
              coords.push_back(
                  linalg::IndexOp::create(b, nested, d - 1 + indexRank));
          }
          Value v = tensor::ExtractOp::create(b, nested, data, coords);
          linalg::YieldOp::create(b, nested, v);
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

struct ConvertAutoParToLinalgPass
    : public mlir::autopar::impl::ConvertAutoParToLinalgPassBase<
          ConvertAutoParToLinalgPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    // Composites first, into primitives.
    {
      RewritePatternSet patterns(ctx);
      populateDecomposeCompositesPatterns(patterns);
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
        return signalPassFailure();
    }
    ConversionTarget target(*ctx);
    target.addIllegalDialect<AutoParDialect>();
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, scf::SCFDialect,
                           tensor::TensorDialect>();
    RewritePatternSet patterns(ctx);
    populateAutoParToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::autopar::populateAutoParToLinalgPatterns(
    RewritePatternSet &patterns) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<ElementwiseLowering<NegOp>, ElementwiseLowering<AbsOp>,
               ElementwiseLowering<ExpOp>, ElementwiseLowering<LogOp>,
               ElementwiseLowering<TanhOp>, ElementwiseLowering<SigmoidOp>,
               ElementwiseLowering<ReluOp>, ElementwiseLowering<SiluOp>,
               ElementwiseLowering<SqrtOp>, ElementwiseLowering<RsqrtOp>,
               ElementwiseLowering<ErfOp>, ElementwiseLowering<GeluOp>,
               ElementwiseLowering<AddOp>, ElementwiseLowering<SubOp>,
               ElementwiseLowering<MulOp>, ElementwiseLowering<DivOp>,
               ElementwiseLowering<MaxOp>, ElementwiseLowering<MinOp>,
               ElementwiseLowering<PowOp>, ElementwiseLowering<CompareOp>,
               ElementwiseLowering<SelectOp>, ElementwiseLowering<ConvertOp>>(
      ctx);
  patterns.add<ConstantLowering, DotLowering, ReduceLowering, ReshapeLowering,
               TransposeLowering, BroadcastLowering, SliceLowering,
               ConcatLowering, GatherLowering, ScatterAddLowering>(ctx);
}
