//===- Autodiff.cpp - reverse-mode differentiation of a loss function -----===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>

namespace mlir::autopar {
#define GEN_PASS_DEF_AUTODIFFPASS
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

bool isFloatTensor(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && isa<FloatType>(t.getElementType());
}

Value zerosOf(OpBuilder &b, Location loc, Type type) {
  auto t = cast<RankedTensorType>(type);
  return ConstantOp::create(
      b, loc, t,
      SplatElementsAttr::get(t, FloatAttr::get(t.getElementType(), 0.0)));
}

/// Whether `v` is a constant tensor of float zeros.
bool isZeros(Value v) {
  auto c = v.getDefiningOp<ConstantOp>();
  auto splat = c ? dyn_cast<SplatElementsAttr>(c.getValue()) : nullptr;
  return splat && isa<FloatType>(splat.getElementType()) &&
         splat.getSplatValue<APFloat>().isZero();
}

/// The sum of two cotangents one of which scatters updates into zeros (an
/// embedding's gradient), as the updates scattered into the other: a tied
/// embedding's gradient (the output head's plus the looked-up rows') is one
/// scatter into the head's, not a zero tensor scattered into and then added
/// (gpt2-small: a 50257 x 768 fill and an add reading two such tensors).
/// The scatter and its zeros, then unused, are erased. Null where neither
/// side is such a scatter.
Value addIntoScatter(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  if (lhs.getType() != rhs.getType())
    return {};
  for (auto [other, side] : {std::pair(lhs, rhs), std::pair(rhs, lhs)}) {
    auto scatter = side.getDefiningOp<ScatterAddOp>();
    if (!scatter || !scatter->use_empty() || !isZeros(scatter.getTarget()))
      continue;
    Value sum = ScatterAddOp::create(b, loc, other, scatter.getIndices(),
                                     scatter.getUpdates(), scatter.getAxis());
    Value zeros = scatter.getTarget();
    scatter->erase();
    if (zeros.use_empty())
      zeros.getDefiningOp()->erase();
    return sum;
  }
  return {};
}

/// The sum of two cotangents that concatenate pieces along one dimension
/// where, piece by piece, at most one side is not zeros, as one
/// concatenation of the pieces that are not (the slices' VJPs pad their
/// cotangent with zeros: the three of a fused qkv projection's q, k and v
/// would otherwise add two 3x wide tensors of mostly zeros). Pieces on both
/// sides that are not zeros are added when they line up. Null where the
/// pieces do not line up (a piece that is not zeros would have to be cut).
Value addConcatenations(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  auto l = lhs.getDefiningOp<ConcatOp>(), r = rhs.getDefiningOp<ConcatOp>();
  if (!l || !r || l.getDim() != r.getDim() || lhs.getType() != rhs.getType())
    return {};
  int64_t dim = l.getDim();
  // Each side's pieces as [start, end) along `dim`.
  struct Piece {
    int64_t start, end;
    Value value;
  };
  auto piecesOf = [&](ConcatOp c) {
    SmallVector<Piece> pieces;
    int64_t at = 0;
    for (Value input : c.getInputs()) {
      int64_t n = cast<RankedTensorType>(input.getType()).getDimSize(dim);
      pieces.push_back({at, at + n, input});
      at += n;
    }
    return pieces;
  };
  SmallVector<Piece> lp = piecesOf(l), rp = piecesOf(r);
  SmallVector<int64_t> cuts;
  for (const Piece &p : llvm::concat<Piece>(lp, rp))
    cuts.push_back(p.end);
  llvm::sort(cuts);
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  auto type = cast<RankedTensorType>(lhs.getType());
  SmallVector<Value> parts;
  size_t li = 0, ri = 0;
  int64_t start = 0;
  for (int64_t end : cuts) {
    while (lp[li].end < end)
      ++li;
    while (rp[ri].end < end)
      ++ri;
    const Piece &a = lp[li], &c = rp[ri];
    bool aZero = isZeros(a.value), cZero = isZeros(c.value);
    bool aWhole = a.start == start && a.end == end;
    bool cWhole = c.start == start && c.end == end;
    if (aZero && cZero) {
      SmallVector<int64_t> shape(type.getShape());
      shape[dim] = end - start;
      parts.push_back(aWhole   ? a.value
                      : cWhole ? c.value
                               : zerosOf(b, loc, type.clone(shape)));
    } else if (cZero && aWhole) {
      parts.push_back(a.value);
    } else if (aZero && cWhole) {
      parts.push_back(c.value);
    } else if (aWhole && cWhole) {
      parts.push_back(AddOp::create(b, loc, a.value, c.value));
    } else {
      return {};
    }
    start = end;
  }
  if (parts.size() == 1)
    return parts.front();
  return ConcatOp::create(b, loc, parts, dim);
}

struct AutodiffPass
    : public mlir::autopar::impl::AutodiffPassBase<AutodiffPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp fn;
    if (!entry.empty()) {
      fn = module.lookupSymbol<func::FuncOp>(entry);
      if (!fn || fn.isExternal()) {
        module.emitError("autopar-autodiff: no function named '")
            << entry.getValue() << "' with a body";
        return signalPassFailure();
      }
    } else {
      SmallVector<func::FuncOp> publics;
      for (auto f : module.getOps<func::FuncOp>())
        if (f.isPublic() && !f.isExternal())
          publics.push_back(f);
      if (publics.size() != 1) {
        module.emitError("autopar-autodiff: ")
            << publics.size() << " public functions; name one with entry=";
        return signalPassFailure();
      }
      fn = publics.front();
    }
    if (failed(differentiate(module, fn)))
      signalPassFailure();
  }

  LogicalResult differentiate(ModuleOp module, func::FuncOp fn) {
    FunctionType type = fn.getFunctionType();
    if (type.getNumResults() != 1 || !isFloatTensor(type.getResult(0)) ||
        cast<RankedTensorType>(type.getResult(0)).getRank() != 0)
      return fn.emitOpError("autopar-autodiff needs exactly one result, a "
                            "scalar floating-point loss (tensor<f32>), got ")
             << type.getResults();
    if (!fn.getBody().hasOneBlock())
      return fn.emitOpError("autopar-autodiff needs a single-block body");

    // The gradient function starts as a copy of the forward one.
    auto grad = cast<func::FuncOp>(fn->clone());
    std::string name =
        gradName.empty() ? (fn.getSymName() + "_grad").str() : gradName;
    grad.setSymName(name);
    grad.setPublic();
    SymbolTable(module).insert(grad);
    {
      RewritePatternSet patterns(&getContext());
      populateDecomposeCompositesPatterns(patterns, /*keepSoftmax=*/true,
                                          keepAttention);
      if (failed(applyPatternsGreedily(grad, std::move(patterns))))
        return grad.emitOpError("could not decompose composites");
    }

    Block &body = grad.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    auto lossType = cast<RankedTensorType>(type.getResult(0));
    // Loss scaling: a trailing scalar the reverse sweep starts from.
    BlockArgument scale;
    if (scaleArg) {
      unsigned at = grad.getNumArguments();
      if (failed(grad.insertArgument(
              at, lossType,
              DictionaryAttr::get(
                  &getContext(),
                  {NamedAttribute(
                      StringAttr::get(&getContext(), "autopar.role"),
                      StringAttr::get(&getContext(), "loss_scale"))}),
              fn.getLoc())))
        return grad.emitOpError("could not add the loss-scale argument");
      scale = body.getArgument(at);
    }
    SmallVector<BlockArgument> wrt;
    for (BlockArgument arg : body.getArguments()) {
      auto role =
          grad.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "autopar.role");
      if (role && role.getValue() == "param")
        wrt.push_back(arg);
    }
    if (wrt.empty())
      for (BlockArgument arg : body.getArguments())
        if (isFloatTensor(arg.getType()) && arg != scale)
          wrt.push_back(arg);

    // Activity: only values computed from a differentiated argument need
    // cotangents.
    llvm::DenseSet<Value> active(wrt.begin(), wrt.end());
    for (Operation &op : body.without_terminator())
      if (llvm::any_of(op.getOperands(),
                       [&](Value v) { return active.contains(v); }))
        active.insert(op.result_begin(), op.result_end());

    OpBuilder b(ret);
    llvm::DenseMap<Value, Value> cotangent;
    auto accumulate = [&](Value v, Value c) {
      auto [it, inserted] = cotangent.try_emplace(v, c);
      if (inserted)
        return;
      if (Value sum = addConcatenations(b, v.getLoc(), it->second, c)) {
        // The two concatenations are dead now, with their zeros.
        for (Value old : {it->second, c})
          if (auto concat = old.getDefiningOp<ConcatOp>();
              concat && concat->use_empty()) {
            SmallVector<Value> inputs(concat.getInputs());
            concat->erase();
            for (Value input : inputs)
              if (isZeros(input) && input.use_empty())
                input.getDefiningOp()->erase();
          }
        it->second = sum;
      } else if (Value sum = addIntoScatter(b, v.getLoc(), it->second, c)) {
        it->second = sum;
      } else
        it->second = AddOp::create(b, v.getLoc(), it->second, c);
    };
    Value loss = ret.getOperand(0);
    accumulate(loss,
               scale
                   ? Value(scale)
                   : Value(ConstantOp::create(
                         b, ret.getLoc(), lossType,
                         SplatElementsAttr::get(
                             lossType,
                             FloatAttr::get(lossType.getElementType(), 1.0)))));

    SmallVector<Operation *> forward;
    for (Operation &op : body.without_terminator())
      forward.push_back(&op);
    for (Operation *op : llvm::reverse(forward)) {
      SmallVector<Value> resultCotangents;
      bool any = false;
      for (Value r : op->getResults()) {
        Value c = cotangent.lookup(r);
        any |= bool(c);
        resultCotangents.push_back(c);
      }
      if (!any || llvm::none_of(op->getOperands(),
                                [&](Value v) { return active.contains(v); }))
        continue;
      auto vjp = dyn_cast<VJPOpInterface>(op);
      if (!vjp)
        return op->emitOpError("has no VJP rule; autopar-autodiff cannot "
                               "differentiate through it");
      SmallVector<Value> operandCotangents;
      if (failed(vjp.buildVJP(b, resultCotangents, operandCotangents)))
        return failure();
      if (operandCotangents.size() != op->getNumOperands())
        return op->emitOpError("VJP rule returned ")
               << operandCotangents.size() << " cotangents for "
               << op->getNumOperands() << " operands";
      for (auto [operand, c] : llvm::zip(op->getOperands(), operandCotangents))
        if (c && active.contains(operand))
          accumulate(operand, c);
    }

    SmallVector<Value> results = {loss};
    for (BlockArgument arg : wrt) {
      Value c = cotangent.lookup(arg);
      if (c && scale) {
        // Unscaled in the gradient's own (wide) type: an overflow stays
        // inf or nan for the caller to see.
        auto t = cast<RankedTensorType>(c.getType());
        Value s = scale;
        if (t.getElementType() != lossType.getElementType())
          s = ConvertOp::create(b, ret.getLoc(),
                                lossType.clone(t.getElementType()), s);
        if (t.getRank() > 0)
          s = BroadcastOp::create(b, ret.getLoc(), t, s, ArrayRef<int64_t>{});
        c = DivOp::create(b, ret.getLoc(), c, s);
      }
      results.push_back(c ? c : zerosOf(b, ret.getLoc(), arg.getType()));
    }
    func::ReturnOp::create(b, ret.getLoc(), results);
    ret.erase();
    // Rules build every operand's cotangent; drop those nothing uses.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
      if (isOpTriviallyDead(&op))
        op.erase();
    grad.setFunctionType(FunctionType::get(&getContext(),
                                           body.getArgumentTypes(),
                                           ValueRange(results).getTypes()));
    return success();
  }
};

} // namespace
