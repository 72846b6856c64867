//===- AttentionToCalls.cpp - attention as the runtime's fused kernels ----===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Decomposed, an attention's probabilities (batch x heads x S x S values)
// go through memory several times each way: the scores out of one product,
// the softmax's pass over them, the probabilities into the next product,
// and as many again backwards. The runtime's kernels (runtime/cuda/
// Attention.cu) keep them on chip instead, so autopar.attention and
// autopar.attention_grad become calls on the operands' buffers.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <cmath>

namespace mlir::autopar {
#define GEN_PASS_DEF_ATTENTIONTOCALLSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// The runtime's element-type suffix for `q`'s type, or "" when the kernels
/// do not take it: bf16 or f16, query, key and value of one head size (32,
/// 64 or 128).
StringRef kernelType(Value q, Value k, Value v) {
  auto qt = cast<RankedTensorType>(q.getType());
  int64_t rank = qt.getRank();
  int64_t d = qt.getDimSize(rank - 1);
  if (cast<RankedTensorType>(k.getType()).getDimSize(rank - 1) != d ||
      cast<RankedTensorType>(v.getType()).getDimSize(rank - 1) != d ||
      (d != 32 && d != 64 && d != 128) || !qt.hasStaticShape())
    return "";
  Type element = qt.getElementType();
  return element.isBF16() ? "bf16" : element.isF16() ? "f16" : "";
}

struct AttentionToCallsPass
    : public mlir::autopar::impl::AttentionToCallsPassBase<
          AttentionToCallsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SymbolTable symbols(module);
    OpBuilder b(ctx);

    SmallVector<Operation *> work;
    module.walk([&](Operation *op) {
      if (auto a = dyn_cast<AttentionOp>(op)) {
        if (!a.getMask() &&
            !kernelType(a.getQuery(), a.getKey(), a.getValue()).empty())
          work.push_back(op);
      } else if (auto g = dyn_cast<AttentionGradOp>(op)) {
        if (!kernelType(g.getQuery(), g.getKey(), g.getValue()).empty())
          work.push_back(op);
      }
    });

    // A gradient whose forward attention is converted too, on the same
    // query, key and value with the same causality and scale: the forward call
    // saves each row's log-sum-exp for it (the `_lse` entry points), so
    // the backward pass does not recompute it.
    DenseMap<Operation *, Operation *> forwardOf;
    llvm::SmallPtrSet<Operation *, 8> converted(work.begin(), work.end()),
        saving;
    for (Operation *op : work) {
      auto g = dyn_cast<AttentionGradOp>(op);
      if (!g)
        continue;
      auto a = g.getOutput().getDefiningOp<AttentionOp>();
      if (!a || !converted.contains(a) || a.getQuery() != g.getQuery() ||
          a.getKey() != g.getKey() || a.getValue() != g.getValue() ||
          a.getCausal() != g.getCausal() || a.getScale() != g.getScale() ||
          saving.contains(a))
        continue;
      forwardOf[g] = a;
      saving.insert(a);
    }
    DenseMap<Operation *, Value> savedLse;

    for (Operation *op : work) {
      Location loc = op->getLoc();
      b.setInsertionPoint(op);
      Value q = op->getOperand(0);
      auto qType = cast<RankedTensorType>(q.getType());
      int64_t rank = qType.getRank();
      int64_t d = qType.getDimSize(rank - 1);
      Type element = qType.getElementType();
      StringRef type = kernelType(q, op->getOperand(1), op->getOperand(2));
      auto dynamic = MemRefType::get(
          {ShapedType::kDynamic, ShapedType::kDynamic, ShapedType::kDynamic},
          element);

      // [..., S, D] as [BH, S, D]: the leading dimensions folded.
      auto asRank3 = [&](Value v) {
        auto flat = cast<RankedTensorType>(asRank3Type(v, rank, d));
        return flat == v.getType()
                   ? v
                   : ReshapeOp::create(b, loc, flat, v).getResult();
      };
      auto input = [&](Value v) -> Value {
        Value flat = asRank3(v);
        auto t = cast<RankedTensorType>(flat.getType());
        Value buffer = bufferization::ToBufferOp::create(
            b, loc, MemRefType::get(t.getShape(), element), flat,
            /*read_only=*/true);
        return memref::CastOp::create(b, loc, dynamic, buffer);
      };
      SmallVector<Value> args;
      SmallVector<std::pair<Value, RankedTensorType>> outputs;
      auto output = [&](Value like) {
        auto t = cast<RankedTensorType>(asRank3Type(like, rank, d));
        Value buffer = memref::AllocOp::create(
            b, loc, MemRefType::get(t.getShape(), element));
        outputs.push_back({buffer, cast<RankedTensorType>(like.getType())});
        return memref::CastOp::create(b, loc, dynamic, buffer).getResult();
      };

      bool causal;
      std::optional<APFloat> scaleAttr;
      std::string name;
      if (auto a = dyn_cast<AttentionOp>(op)) {
        for (Value v : {a.getQuery(), a.getKey(), a.getValue()})
          args.push_back(input(v));
        args.push_back(output(a.getResult()));
        causal = a.getCausal();
        scaleAttr = a.getScale();
        name = ("autopar_cuda_attention_forward_" + type).str();
        if (saving.contains(op)) {
          // f32 [BH, S]: the gradient's call reads it.
          auto flat = cast<RankedTensorType>(asRank3Type(q, rank, d));
          Value lse = memref::AllocOp::create(
              b, loc,
              MemRefType::get({flat.getDimSize(0), flat.getDimSize(1)},
                              b.getF32Type()));
          savedLse[op] = lse;
          args.push_back(memref::CastOp::create(b, loc, lseType(ctx), lse));
          name = ("autopar_cuda_attention_forward_lse_" + type).str();
        }
      } else {
        auto g = cast<AttentionGradOp>(op);
        for (Value v : {g.getQuery(), g.getKey(), g.getValue(), g.getOutput(),
                        g.getOutputGrad()})
          args.push_back(input(v));
        name = ("autopar_cuda_attention_backward_" + type).str();
        if (Value lse = savedLse.lookup(forwardOf.lookup(op))) {
          args.push_back(memref::CastOp::create(b, loc, lseType(ctx), lse));
          name = ("autopar_cuda_attention_backward_lse_" + type).str();
        }
        for (Value v : g.getResults())
          args.push_back(output(v));
        causal = g.getCausal();
        scaleAttr = g.getScale();
      }
      double scale =
          scaleAttr ? scaleAttr->convertToDouble() : 1.0 / std::sqrt(double(d));
      args.push_back(arith::ConstantOp::create(b, loc, b.getF32FloatAttr(scale))
                         .getResult());
      args.push_back(arith::ConstantIntOp::create(b, loc, causal, 32));

      auto callee = symbols.lookup<func::FuncOp>(name);
      if (!callee) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(module.getBody());
        callee = func::FuncOp::create(
            b, module.getLoc(), name,
            b.getFunctionType(ValueRange(args).getTypes(), {}));
        callee.setPrivate();
        callee->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
        symbols.insert(callee);
      }
      func::CallOp::create(b, loc, callee, args);

      for (auto [result, out] : llvm::zip(op->getResults(), outputs)) {
        auto [buffer, type] = out;
        auto flatType = cast<MemRefType>(buffer.getType());
        Value tensor = bufferization::ToTensorOp::create(
            b, loc,
            RankedTensorType::get(flatType.getShape(),
                                  flatType.getElementType()),
            buffer, /*restrict=*/true, /*writable=*/true);
        if (tensor.getType() != type)
          tensor = ReshapeOp::create(b, loc, type, tensor);
        result.replaceAllUsesWith(tensor);
      }
      op->erase();
    }
  }

  /// The log-sum-exp's type in the runtime's signature: f32 [BH, S].
  static MemRefType lseType(MLIRContext *ctx) {
    return MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                           Float32Type::get(ctx));
  }

  /// The [BH, S, D] type of a [..., S, D] value.
  static Type asRank3Type(Value v, int64_t rank, int64_t d) {
    auto t = cast<RankedTensorType>(v.getType());
    int64_t s = t.getDimSize(rank - 2);
    return RankedTensorType::get({t.getNumElements() / (s * d), s, d},
                                 t.getElementType());
  }
};

} // namespace
