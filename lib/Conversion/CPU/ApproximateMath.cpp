//===- ApproximateMath.cpp - vectorizable f32 math ------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_APPROXIMATEMATHPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {

/// erf on f32 in two branch-free pieces, for the GPU: below 0.921875,
/// x + x r(x^2) with r of degree 5; above, 1 - 2^q(|x|) with q of degree 7
/// (|x| clamped to 3.92, where erf rounds to 1), its sign restored. Both are
/// computed and one selected: 20 arithmetic instructions and one `ex2` (an
/// MUFU instruction), where upstream's three-interval rational
/// approximation selects 18 coefficients, then divides. Least-squares fits
/// to minimax on Chebyshev nodes (relative error of erf(x)/x - 1 below,
/// absolute error of erfc(x) above), the coefficients rounded to f32;
/// evaluated in f32 with fused multiply-adds the result is within 1.05 ulp
/// of erf over [1e-30, 5] (2^-22.5 more from `ex2.approx` above 0.92); a
/// NaN stays NaN (the unordered comparison picks the first piece), ±inf
/// gives ±1.
struct ErfTwoPieces : public OpRewritePattern<math::ErfOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(math::ErfOp op,
                                PatternRewriter &rewriter) const override {
    Type type = op.getType();
    if (!getElementTypeOrSelf(type).isF32())
      return failure();
    static constexpr float small[] = {0x1.06eba6p-3f, -0x1.8126eep-2f,
                                      0x1.ce1b94p-4f, -0x1.b69a7ep-6f,
                                      0x1.478c8ap-8f, -0x1.3b4666p-11f};
    static constexpr float large[] = {
        0x1.0acbdap-12f, -0x1.a12aaep+0f, -0x1.d3d0bep-1f, -0x1.3ffc1cp-3f,
        0x1.2905fep-5f,  -0x1.8ad33ep-8f, 0x1.4963e8p-11f, -0x1.006054p-15f};
    Location loc = op.getLoc();
    Value x = op.getOperand();
    auto constant = [&](float v) -> Value {
      TypedAttr value =
          isa<ShapedType>(type)
              ? TypedAttr(DenseElementsAttr::get(cast<ShapedType>(type), v))
              : TypedAttr(rewriter.getF32FloatAttr(v));
      return arith::ConstantOp::create(rewriter, loc, type, value);
    };
    auto horner = [&](ArrayRef<float> c, Value t) {
      Value r = constant(c.back());
      for (float v : llvm::reverse(c.drop_back()))
        r = math::FmaOp::create(rewriter, loc, r, t, constant(v));
      return r;
    };
    Value square = arith::MulFOp::create(rewriter, loc, x, x);
    Value below =
        math::FmaOp::create(rewriter, loc, x, horner(small, square), x);
    Value magnitude = math::AbsFOp::create(rewriter, loc, x);
    Value clamped =
        arith::MinNumFOp::create(rewriter, loc, magnitude, constant(3.92f));
    Value power = math::Exp2Op::create(rewriter, loc, horner(large, clamped),
                                       arith::FastMathFlags::afn);
    Value above = math::CopySignOp::create(
        rewriter, loc,
        arith::SubFOp::create(rewriter, loc, constant(1.0f), power), x);
    Value first =
        arith::CmpFOp::create(rewriter, loc, arith::CmpFPredicate::ULT,
                              magnitude, constant(0.921875f));
    rewriter.replaceOpWithNewOp<arith::SelectOp>(op, first, below, above);
    return success();
  }
};

struct ApproximateMathPass
    : public mlir::autopar::impl::ApproximateMathPassBase<ApproximateMathPass> {
  using Base::Base;

  void runOnOperation() override {
    if (fastExp || fastDiv) {
      // The GPU's own exponential, division and square root: the NVVM
      // lowering of afn ops.
      getOperation().walk([&](Operation *op) {
        if (!(fastExp && isa<math::ExpOp>(op)) &&
            !(fastDiv && isa<arith::DivFOp, math::SqrtOp>(op)))
          return;
        if (!getElementTypeOrSelf(op->getResult(0).getType()).isF32())
          return;
        auto fm = cast<arith::ArithFastMathInterface>(op);
        op->setAttr(fm.getFastMathAttrName(),
                    arith::FastMathFlagsAttr::get(
                        op->getContext(), fm.getFastMathFlagsAttr().getValue() |
                                              arith::FastMathFlags::afn));
      });
      if (!erfOnly)
        return;
    }
    RewritePatternSet patterns(&getContext());
    if (erfOnly) {
      patterns.add<ErfTwoPieces>(&getContext(), /*benefit=*/2);
      // Other element types (f16, bf16: widened by the pattern) as upstream
      // approximates them.
      populatePolynomialApproximateErfPattern(patterns);
    } else {
      populateMathPolynomialApproximationPatterns(patterns);
    }
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
