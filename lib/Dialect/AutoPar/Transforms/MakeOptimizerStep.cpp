//===- MakeOptimizerStep.cpp - PyTorch's optimizers as autopar IR ---------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Builds @optimizer_step with PyTorch's update formulas (torch.optim, as of
// 1.13 and unchanged since for these options), so that a model trained by
// autopar follows the same trajectory as one trained by PyTorch. The LR is
// an argument: schedules are computed by the runtime on the host.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

#include <map>

namespace mlir::autopar {
#define GEN_PASS_DEF_MAKEOPTIMIZERSTEPPASS
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// Elementwise arithmetic on tensors of one parameter's type, with scalars
/// (rank-0 tensors) and constants broadcast as needed.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value constant(RankedTensorType t, double v) {
    return ConstantOp::create(
        b, loc, t,
        SplatElementsAttr::get(t, FloatAttr::get(t.getElementType(), v)));
  }
  /// `v` (rank 0) spread to the shape of `like`.
  Value spread(Value v, Value like) {
    auto t = cast<RankedTensorType>(like.getType());
    auto vt = cast<RankedTensorType>(v.getType());
    if (vt.getShape() == t.getShape())
      return v;
    return BroadcastOp::create(b, loc, t.clone(vt.getElementType()), v,
                               ArrayRef<int64_t>{});
  }
  Value c(Value like, double v) {
    return constant(cast<RankedTensorType>(like.getType()), v);
  }
  Value add(Value x, Value y) { return AddOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return SubOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return MulOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return DivOp::create(b, loc, x, y); }
  Value sqrt(Value x) { return SqrtOp::create(b, loc, x); }
  Value scale(Value x, double k) { return mul(x, c(x, k)); }
  /// a * x + (1 - a) * y, PyTorch's lerp-style running averages.
  Value average(double a, Value x, Value y) {
    return add(scale(x, a), scale(y, 1 - a));
  }
};

struct MakeOptimizerStepPass
    : public mlir::autopar::impl::MakeOptimizerStepPassBase<
          MakeOptimizerStepPass> {
  using Base::Base;

  /// State slots per parameter, by name suffix.
  SmallVector<StringRef> stateNames() {
    if (optimizer == "sgd")
      return momentum > 0 ? SmallVector<StringRef>{"momentum_buffer"}
                          : SmallVector<StringRef>{};
    if (optimizer == "adam" || optimizer == "adamw")
      return {"exp_avg", "exp_avg_sq"};
    if (optimizer == "rmsprop") {
      SmallVector<StringRef> names = {"square_avg"};
      if (centered)
        names.push_back("grad_avg");
      if (momentum > 0)
        names.push_back("momentum_buffer");
      return names;
    }
    return {"sum"};
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (!llvm::is_contained({"sgd", "adam", "adamw", "rmsprop", "adagrad"},
                            optimizer.getValue())) {
      module.emitError("autopar-make-optimizer-step: unknown optimizer '")
          << optimizer.getValue() << "' (sgd, adam, adamw, rmsprop, adagrad)";
      return signalPassFailure();
    }
    if (nesterov && (momentum <= 0 || dampening != 0)) {
      module.emitError("autopar-make-optimizer-step: nesterov needs a "
                       "momentum and zero dampening (as PyTorch)");
      return signalPassFailure();
    }
    func::FuncOp fn;
    for (auto f : module.getOps<func::FuncOp>())
      if ((!entry.empty() && f.getSymName() == entry) ||
          (entry.empty() && f.isPublic() && !f.isExternal())) {
        if (fn) {
          module.emitError("autopar-make-optimizer-step: several public "
                           "functions; name one with entry=");
          return signalPassFailure();
        }
        fn = f;
      }
    if (!fn) {
      module.emitError("autopar-make-optimizer-step: no function to take "
                       "parameters from");
      return signalPassFailure();
    }
    SmallVector<unsigned> paramIndices;
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      auto role = fn.getArgAttrOfType<StringAttr>(i, "autopar.role");
      if (role && role.getValue() == "param")
        paramIndices.push_back(i);
    }
    if (paramIndices.empty()) {
      fn.emitOpError("has no arguments marked {autopar.role = \"param\"} "
                     "to optimize");
      return signalPassFailure();
    }
    Type elementType;
    SmallVector<RankedTensorType> paramTypes;
    SmallVector<std::string> paramNames;
    // Parameters split over a grid axis (tensor parallelism): their
    // gradients' squared norms are summed over that axis for clipping.
    SmallVector<int64_t> splitAxes;
    // ZeRO-3 shards (autopar-shard-parameters) are updated as they are;
    // clipping sums their squared norms over the data-parallel axis too.
    // Whether every gradient is a shard along the data-parallel axis.
    bool dataSharded = zeroShards > 1;
    for (unsigned i : paramIndices) {
      if (fn.getArgAttr(i, "autopar.zero_shape")) {
        if (zeroShards > 1) {
          fn.emitOpError("parameter ")
              << i << " is a ZeRO-3 shard already; zero-shards must be 1";
          return signalPassFailure();
        }
        dataSharded = true;
      }
      auto t = dyn_cast<RankedTensorType>(fn.getArgumentTypes()[i]);
      if (!t || !isa<FloatType>(t.getElementType()) ||
          (elementType && t.getElementType() != elementType)) {
        fn.emitOpError("parameter ")
            << i << " must be a floating-point tensor of the same element "
            << "type as the others, got " << fn.getArgumentTypes()[i];
        return signalPassFailure();
      }
      elementType = t.getElementType();
      if (zeroShards > 1) {
        int64_t n = t.getNumElements();
        t = RankedTensorType::get({(n + zeroShards - 1) / zeroShards},
                                  elementType);
      }
      paramTypes.push_back(t);
      auto name = fn.getArgAttrOfType<StringAttr>(i, "autopar.name");
      paramNames.push_back(name ? name.str() : "param" + std::to_string(i));
      auto split = fn.getArgAttrOfType<DenseI64ArrayAttr>(i, "autopar.split");
      splitAxes.push_back(split && split.size() >= 2 ? split[1] : -1);
    }
    if (clipGradNorm > 0 &&
        (dataSharded ||
         llvm::any_of(splitAxes, [](int64_t a) { return a >= 0; })) &&
        !module.lookupSymbol<shard::GridOp>(kGridName)) {
      module.emitError("autopar-make-optimizer-step: clipping sums squared "
                       "norms over @autopar_grid, which this module lacks");
      return signalPassFailure();
    }
    build(module, paramTypes, paramNames, splitAxes, dataSharded, elementType);
  }

  void build(ModuleOp module, ArrayRef<RankedTensorType> paramTypes,
             ArrayRef<std::string> paramNames, ArrayRef<int64_t> splitAxes,
             bool dataSharded, Type elementType) {
    MLIRContext *ctx = &getContext();
    SmallVector<StringRef> slots = stateNames();
    size_t n = paramTypes.size();
    auto scalar = RankedTensorType::get({}, elementType);
    SmallVector<Type> inputs, outputs;
    SmallVector<std::string> names;
    for (size_t i = 0; i < n; ++i) {
      inputs.push_back(paramTypes[i]);
      names.push_back(paramNames[i]);
    }
    for (size_t i = 0; i < n; ++i) {
      inputs.push_back(paramTypes[i]);
      names.push_back(paramNames[i] + ".grad");
    }
    for (size_t i = 0; i < n; ++i)
      for (StringRef slot : slots) {
        inputs.push_back(paramTypes[i]);
        names.push_back(paramNames[i] + "." + slot.str());
      }
    inputs.append({scalar, scalar});
    names.append({"lr", "step"});
    outputs.append(inputs.begin(), inputs.begin() + n);
    outputs.append(inputs.begin() + 2 * n, inputs.end() - 2);

    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    Location loc = module.getLoc();
    auto fn = func::FuncOp::create(b, loc, "optimizer_step",
                                   FunctionType::get(ctx, inputs, outputs));
    SymbolTable::setSymbolVisibility(fn, SymbolTable::Visibility::Public);
    for (auto [i, name] : llvm::enumerate(names))
      fn.setArgAttr(i, "autopar.name", b.getStringAttr(name));
    Block *body = fn.addEntryBlock();
    b.setInsertionPointToEnd(body);
    Emitter e{b, loc};
    auto arg = [&](size_t i) { return body->getArgument(i); };
    Value lr = arg(inputs.size() - 2), step = arg(inputs.size() - 1);

    SmallVector<Value> grads;
    for (size_t i = 0; i < n; ++i)
      grads.push_back(arg(n + i));
    if (clipGradNorm > 0) {
      // clip_grad_norm_: coefficient max_norm / (||g|| + 1e-6), at most 1.
      // Over the parts of split parameters, the sum of the parts' sums.
      Value sumSq = e.constant(scalar, 0.0);
      std::map<int64_t, Value> splitSumSq;
      for (auto [g, axis] : llvm::zip(grads, splitAxes)) {
        int64_t rank = cast<RankedTensorType>(g.getType()).getRank();
        Value sq = e.mul(g, g);
        if (rank)
          sq = ReduceOp::create(b, loc, ReduceKind::Sum, sq,
                                llvm::to_vector(llvm::seq<int64_t>(0, rank)));
        Value &into = axis < 0 ? sumSq : splitSumSq[axis];
        into = into ? e.add(into, sq) : sq;
      }
      auto grid = FlatSymbolRefAttr::get(ctx, kGridName);
      for (auto [axis, partial] : splitSumSq)
        sumSq =
            e.add(sumSq, AllReduceOp::create(b, loc, partial, grid,
                                             b.getDenseI64ArrayAttr({axis})));
      // ZeRO shards: each process holds 1/N of every gradient.
      if (dataSharded)
        sumSq = AllReduceOp::create(b, loc, sumSq, grid,
                                    b.getDenseI64ArrayAttr({0}));
      Value coef = e.div(e.constant(scalar, clipGradNorm),
                         e.add(e.sqrt(sumSq), e.constant(scalar, 1e-6)));
      coef = MinOp::create(b, loc, coef, e.constant(scalar, 1.0));
      for (Value &g : grads)
        g = e.mul(g, e.spread(coef, g));
    }

    bool adamw = optimizer == "adamw";
    double wd = weightDecay >= 0 ? double(weightDecay) : (adamw ? 0.01 : 0.0);
    double epsilon =
        eps >= 0 ? double(eps) : (optimizer == "adagrad" ? 1e-10 : 1e-8);
    SmallVector<Value> newParams, newState;
    size_t stateBase = 2 * n;
    for (size_t i = 0; i < n; ++i) {
      Value p = arg(i), g = grads[i];
      auto state = [&](size_t k) {
        return arg(stateBase + i * slots.size() + k);
      };
      Value lrT = e.spread(lr, p);
      if (wd != 0 && !adamw)
        g = e.add(g, e.scale(p, wd));
      if (optimizer == "sgd") {
        if (momentum > 0) {
          // The first step starts the buffer at the gradient itself.
          Value first =
              e.spread(CompareOp::create(b, loc, CompareDirection::EQ, step,
                                         e.constant(scalar, 1.0)),
                       p);
          Value buf = SelectOp::create(
              b, loc, first, g,
              e.add(e.scale(state(0), momentum), e.scale(g, 1 - dampening)));
          newState.push_back(buf);
          g = nesterov ? e.add(g, e.scale(buf, momentum)) : buf;
        }
        newParams.push_back(e.sub(p, e.mul(lrT, g)));
      } else if (optimizer == "adam" || adamw) {
        if (adamw)
          p = e.mul(p, e.spread(e.sub(e.constant(scalar, 1.0),
                                      e.mul(lr, e.constant(scalar, wd))),
                                p));
        Value m = e.average(beta1, state(0), g);
        Value v = e.average(beta2, state(1), e.mul(g, g));
        auto correction = [&](double beta) {
          Value power = PowOp::create(b, loc, e.constant(scalar, beta), step);
          return e.sub(e.constant(scalar, 1.0), power);
        };
        Value stepSize = e.div(lr, correction(beta1));
        Value denom =
            e.add(e.div(e.sqrt(v), e.spread(e.sqrt(correction(beta2)), v)),
                  e.c(v, epsilon));
        newParams.push_back(
            e.sub(p, e.mul(e.spread(stepSize, p), e.div(m, denom))));
        newState.append({m, v});
      } else if (optimizer == "rmsprop") {
        size_t k = 0;
        Value sq = e.average(alpha, state(k++), e.mul(g, g));
        newState.push_back(sq);
        Value avg;
        if (centered) {
          Value ga = e.average(alpha, state(k++), g);
          newState.push_back(ga);
          avg = e.add(e.sqrt(e.sub(sq, e.mul(ga, ga))), e.c(sq, epsilon));
        } else {
          avg = e.add(e.sqrt(sq), e.c(sq, epsilon));
        }
        if (momentum > 0) {
          Value buf = e.add(e.scale(state(k++), momentum), e.div(g, avg));
          newState.push_back(buf);
          newParams.push_back(e.sub(p, e.mul(lrT, buf)));
        } else {
          newParams.push_back(e.sub(p, e.mul(lrT, e.div(g, avg))));
        }
      } else { // adagrad
        Value clr = e.div(lr, e.add(e.constant(scalar, 1.0),
                                    e.mul(e.sub(step, e.constant(scalar, 1.0)),
                                          e.constant(scalar, lrDecay))));
        Value sum = e.add(state(0), e.mul(g, g));
        newState.push_back(sum);
        newParams.push_back(
            e.sub(p, e.mul(e.spread(clr, p),
                           e.div(g, e.add(e.sqrt(sum), e.c(sum, epsilon))))));
      }
    }
    SmallVector<Value> results(newParams);
    results.append(newState);
    func::ReturnOp::create(b, loc, results);
  }
};

} // namespace
