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
      populateDecomposeContractionCompositesPatterns(patterns);
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
  }
};

} // namespace
