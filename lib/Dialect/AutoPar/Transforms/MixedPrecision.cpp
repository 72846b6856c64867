//===- MixedPrecision.cpp - contractions in bf16 or f16 -------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Converts the operands of every wide floating-point `dot` of the loss
// function to bf16 or f16 and its result back, after decomposing the
// composites that hold matrix products. Parameters stay f32 (the master
// weights); only their uses in contractions see the narrow copies.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_MIXEDPRECISIONPASS
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// Width of `t`'s element type when it is a float, else 0.
unsigned floatWidth(Type t) {
  auto f = dyn_cast<FloatType>(cast<RankedTensorType>(t).getElementType());
  return f ? f.getWidth() : 0;
}

/// convert-to-narrow(reshape(x)) -> reshape(convert-to-narrow(x)) where the
/// reshape has no other use, and reshape(convert-to-wide(x)) ->
/// convert-to-wide(reshape(x)) where the convert has none: a conversion
/// then sits next to the elementwise op or transpose on the reshape's other
/// side, and fuses with it (autopar-fuse-elementwise), and a value widened
/// and narrowed again folds away (the attention's bf16 output on its way to
/// the projection). Transposes are left where they are: one fused with its
/// conversion reads in one layout and type and writes in the other.
struct NarrowBeforeReshape : public OpRewritePattern<ConvertOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConvertOp op,
                                PatternRewriter &rewriter) const override {
    auto reshape = op.getOperand().getDefiningOp<ReshapeOp>();
    if (!reshape || !reshape->hasOneUse())
      return failure();
    unsigned from = floatWidth(op.getOperand().getType());
    unsigned to = floatWidth(op.getType());
    if (!from || !to || to >= from)
      return failure();
    Value input = reshape.getOperand();
    auto inType = cast<RankedTensorType>(input.getType());
    Value narrowed =
        ConvertOp::create(rewriter, op.getLoc(),
                          inType.clone(op.getType().getElementType()), input);
    rewriter.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), narrowed);
    return success();
  }
};

struct WidenAfterReshape : public OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto convert = op.getOperand().getDefiningOp<ConvertOp>();
    if (!convert || !convert->hasOneUse())
      return failure();
    unsigned from = floatWidth(convert.getOperand().getType());
    unsigned to = floatWidth(convert.getType());
    if (!from || !to || to <= from)
      return failure();
    Value input = convert.getOperand();
    auto moved = ReshapeOp::create(
        rewriter, op.getLoc(),
        op.getType().clone(
            cast<RankedTensorType>(input.getType()).getElementType()),
        input);
    rewriter.replaceOpWithNewOp<ConvertOp>(op, op.getType(), moved);
    return success();
  }
};

struct MixedPrecisionPass
    : public mlir::autopar::impl::MixedPrecisionPassBase<MixedPrecisionPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder builder(&getContext());
    Type narrow = type == "bf16"  ? Type(builder.getBF16Type())
                  : type == "f16" ? Type(builder.getF16Type())
                                  : Type();
    if (!narrow) {
      module.emitError("autopar-mixed-precision: type must be bf16 or f16, "
                       "got '")
          << type.getValue() << "'";
      return signalPassFailure();
    }
    func::FuncOp fn =
        lookupEntryFunction(module, entry, "autopar-mixed-precision");
    if (!fn)
      return signalPassFailure();
    {
      RewritePatternSet patterns(&getContext());
      populateDecomposeContractionCompositesPatterns(patterns, keepAttention);
      if (failed(applyPatternsGreedily(fn, std::move(patterns))))
        return signalPassFailure();
    }
    unsigned narrowBits = narrow.getIntOrFloatBitWidth();
    SmallVector<DotOp> dots;
    fn.walk([&](DotOp dot) {
      auto element = dyn_cast<FloatType>(dot.getType().getElementType());
      if (element && element.getWidth() > narrowBits)
        dots.push_back(dot);
    });
    // Kept attentions: q, k and v converted, the result converted back.
    SmallVector<AttentionOp> attentions;
    fn.walk([&](AttentionOp op) {
      auto element = dyn_cast<FloatType>(op.getType().getElementType());
      if (element && element.getWidth() > narrowBits)
        attentions.push_back(op);
    });
    for (AttentionOp op : attentions) {
      OpBuilder b(op);
      Location loc = op.getLoc();
      auto toNarrow = [&](Value v) -> Value {
        auto t = cast<RankedTensorType>(v.getType());
        return ConvertOp::create(b, loc, t.clone(narrow), v);
      };
      // One statement each: the conversions in operand order.
      Value q = toNarrow(op.getQuery());
      Value k = toNarrow(op.getKey());
      Value v = toNarrow(op.getValue());
      auto lowered = AttentionOp::create(b, loc, q, k, v, /*mask=*/Value(),
                                         op.getCausal(), op.getScaleAttr());
      op.replaceAllUsesWith(
          ConvertOp::create(b, loc, op.getType(), lowered.getResult())
              .getResult());
      op.erase();
    }
    for (DotOp dot : dots) {
      OpBuilder b(dot);
      Location loc = dot.getLoc();
      auto toNarrow = [&](Value v) -> Value {
        auto t = cast<RankedTensorType>(v.getType());
        return ConvertOp::create(b, loc, t.clone(narrow), v);
      };
      auto lowered = DotOp::create(
          b, loc, toNarrow(dot.getLhs()), toNarrow(dot.getRhs()),
          dot.getLhsBatchDimsAttr(), dot.getRhsBatchDimsAttr(),
          dot.getLhsContractingDimsAttr(), dot.getRhsContractingDimsAttr());
      dot.replaceAllUsesWith(
          ConvertOp::create(b, loc, dot.getType(), lowered.getResult())
              .getResult());
      dot.erase();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<NarrowBeforeReshape, WidenAfterReshape>(&getContext());
    if (failed(applyPatternsGreedily(fn, std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
