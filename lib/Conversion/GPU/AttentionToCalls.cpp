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
// autopar.attention_grad become calls on the operands' buffers. The kernels
// read and write through strides, so the transposes that split a model's
// projections into heads and join them again become views: no copies
// around the calls.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"
#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"

#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <cmath>
#include <functional>

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

/// The permutation between [batch, heads, positions, d] and [batch,
/// positions, heads, d] (its own inverse).
bool swapsHeadsAndPositions(TransposeOp t) {
  return llvm::equal(t.getPermutation(), ArrayRef<int64_t>{0, 2, 1, 3});
}

/// The transpose from [B, S, H, D] that `v` is, rounded to another type on
/// the way or not; null where `v` is not one.
TransposeOp headsTransposeOf(Value v) {
  if (auto c = v.getDefiningOp<ConvertOp>())
    v = c.getOperand();
  auto t = v.getDefiningOp<TransposeOp>();
  return t && swapsHeadsAndPositions(t) ? t : TransposeOp();
}

/// Slot `index` of a [B, S, N, H, D] buffer as the kernels take an operand:
/// [B, H, S, D], a view.
Value headsOfSlot(OpBuilder &b, Location loc, Value buffer, int64_t index) {
  auto all = cast<MemRefType>(buffer.getType());
  ArrayRef<int64_t> shape = all.getShape();
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                       b.getIndexAttr(index), b.getIndexAttr(0),
                                       b.getIndexAttr(0)};
  SmallVector<OpFoldResult> sizes = {
      b.getIndexAttr(shape[0]), b.getIndexAttr(shape[1]), b.getIndexAttr(1),
      b.getIndexAttr(shape[3]), b.getIndexAttr(shape[4])};
  SmallVector<OpFoldResult> strides(5, b.getIndexAttr(1));
  auto pieceType = memref::SubViewOp::inferRankReducedResultType(
      {shape[0], shape[1], shape[3], shape[4]}, all, offsets, sizes, strides);
  Value piece = memref::SubViewOp::create(b, loc, cast<MemRefType>(pieceType),
                                          buffer, offsets, sizes, strides);
  return memref::TransposeOp::create(
      b, loc, piece,
      AffineMapAttr::get(AffineMap::getPermutationMap(
          ArrayRef<unsigned>{0, 2, 1, 3}, b.getContext())));
}

Type elementOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

/// Whether converting an `inner` value to `wide` and back loses nothing.
bool exactRoundTrip(Type inner, Type wide) {
  auto i = dyn_cast<FloatType>(inner), w = dyn_cast<FloatType>(wide);
  return i && w && (w.isF32() || w.isF64()) &&
         llvm::APFloatBase::isRepresentableBy(i.getFloatSemantics(),
                                              w.getFloatSemantics());
}

/// `v` with a round trip through a wider float dropped: x where `v` is
/// convert(x), x of type `element` and `v` of a float that holds every
/// value of it.
Value withoutRoundTrip(Value v, Type element) {
  if (auto c = v.getDefiningOp<ConvertOp>())
    if (elementOf(c.getOperand()) == element &&
        exactRoundTrip(element, elementOf(v)))
      return c.getOperand();
  return v;
}

/// `v` without an identity transpose (what autodiff leaves after a
/// product), directly or under a reshape, which would otherwise become a
/// copy kernel of its own in front of the call.
Value withoutIdentityTranspose(OpBuilder &b, Value v) {
  auto isIdentity = [](Operation *op) {
    auto t = dyn_cast_or_null<TransposeOp>(op);
    return t && llvm::equal(t.getPermutation(),
                            llvm::seq<int64_t>(0, t.getPermutation().size()));
  };
  if (isIdentity(v.getDefiningOp()))
    return v.getDefiningOp()->getOperand(0);
  auto reshape = v.getDefiningOp<ReshapeOp>();
  if (!reshape || !isIdentity(reshape.getOperand().getDefiningOp()))
    return v;
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(reshape);
  return ReshapeOp::create(b, reshape.getLoc(), reshape.getType(),
                           reshape.getOperand().getDefiningOp()->getOperand(0));
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
    // A [batch, positions, heads, d] tensor already made for an operand
    // (a query that the gradient reads too).
    DenseMap<Value, Value> interleaved;
    // A projection rounded once for the query, key and value cut from it.
    DenseMap<Value, Value> projections;
    SmallVector<Operation *> dead;
    llvm::SmallPtrSet<Operation *, 16> producers;

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
          SmallVector<int64_t>(4, ShapedType::kDynamic), element,
          StridedLayoutAttr::get(ctx, ShapedType::kDynamic,
                                 {ShapedType::kDynamic, ShapedType::kDynamic,
                                  ShapedType::kDynamic, 1}));
      auto asCallArgument = [&](Value view) {
        return memref::CastOp::create(b, loc, dynamic, view).getResult();
      };
      // [B, H, S, D] -> [B, S, H, D] and back, on a buffer: a view.
      auto swapped = [&](Value buffer) {
        return memref::TransposeOp::create(
                   b, loc, buffer,
                   AffineMapAttr::get(AffineMap::getPermutationMap(
                       ArrayRef<unsigned>{0, 2, 1, 3}, ctx)))
            .getResult();
      };

      // The operands as the kernels take them, [B, H, S, D]: rank 4 as it
      // is, other ranks [1, leading dimensions folded, S, D].
      auto asRank4 = [&](Value v) -> Value {
        auto t = cast<RankedTensorType>(v.getType());
        if (t.getRank() == 4)
          return v;
        int64_t s = t.getDimSize(rank - 2);
        auto flat = RankedTensorType::get(
            {1, t.getNumElements() / (s * d), s, d}, t.getElementType());
        return ReshapeOp::create(b, loc, flat, v).getResult();
      };
      // An operand that is a [B, S, H, D] tensor transposed (converted to
      // the operand's type on the way, or not): that tensor, in the
      // operand's type, which the kernels read through strides instead of
      // a transposing copy.
      auto interleavedSource = [&](Value v) -> Value {
        if (Value known = interleaved.lookup(v))
          return known;
        TransposeOp t = headsTransposeOf(v);
        if (!t)
          return {};
        Value y = withoutIdentityTranspose(
            b, withoutRoundTrip(t.getOperand(), element));
        if (elementOf(y) != element) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointAfterValue(y);
          auto yType = cast<RankedTensorType>(y.getType());
          y = ConvertOp::create(b, loc, yType.clone(element), y);
        }
        interleaved[v] = y;
        return y;
      };
      // An operand that is a slice of a wider [B, S, N] tensor (the fused
      // query-key-value projection) split into heads and transposed: that
      // tensor, rounded once for all its slices, viewed as [B, S, N / HD,
      // H, D] and cut, so that one kernel rounds the whole projection.
      auto projectionView = [&](Value v) -> Value {
        TransposeOp t = headsTransposeOf(v);
        if (!t)
          return {};
        auto heads = t.getOperand().getDefiningOp<ReshapeOp>();
        auto slice =
            heads ? heads.getOperand().getDefiningOp<SliceOp>() : SliceOp();
        if (!slice)
          return {};
        auto whole = cast<RankedTensorType>(slice.getOperand().getType());
        auto split = cast<RankedTensorType>(heads.getType());
        ArrayRef<int64_t> start = slice.getStartIndices(),
                          limit = slice.getLimitIndices();
        int64_t width = split.getDimSize(2) * split.getDimSize(3);
        if (whole.getRank() != 3 || !whole.hasStaticShape() ||
            llvm::any_of(slice.getStrides(),
                         [](int64_t s) { return s != 1; }) ||
            start[0] != 0 || start[1] != 0 || limit[0] != whole.getDimSize(0) ||
            limit[1] != whole.getDimSize(1) || limit[2] - start[2] != width ||
            start[2] % width || whole.getDimSize(2) % width ||
            split.getDimSize(0) != whole.getDimSize(0) ||
            split.getDimSize(1) != whole.getDimSize(1))
          return {};
        Value &rounded = projections[slice.getOperand()];
        if (!rounded) {
          OpBuilder::InsertionGuard guard(b);
          Value w = withoutRoundTrip(slice.getOperand(), element);
          b.setInsertionPointAfterValue(w);
          rounded = elementOf(w) == element
                        ? w
                        : ConvertOp::create(b, loc, whole.clone(element), w)
                              .getResult();
        }
        int64_t batch = whole.getDimSize(0), s = whole.getDimSize(1);
        Value buffer = bufferization::ToBufferOp::create(
            b, loc, MemRefType::get(whole.getShape(), element), rounded,
            /*read_only=*/true);
        auto wide = MemRefType::get(
            {batch, s, whole.getDimSize(2) / width, split.getDimSize(2), d},
            element);
        Value five = memref::ExpandShapeOp::create(
            b, loc, wide, buffer,
            ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3, 4}});
        return asCallArgument(headsOfSlot(b, loc, five, start[2] / width));
      };
      auto input = [&](Value v) -> Value {
        if (rank == 4)
          if (Value view = projectionView(v))
            return view;
        Value source = rank == 4 ? interleavedSource(v) : Value();
        Value tensor = source ? source : asRank4(v);
        auto t = cast<RankedTensorType>(tensor.getType());
        Value buffer = bufferization::ToBufferOp::create(
            b, loc, MemRefType::get(t.getShape(), element), tensor,
            /*read_only=*/true);
        return asCallArgument(source ? swapped(buffer) : buffer);
      };

      // Results: a fresh [B, S, H, D] buffer where the result is rank 4
      // (the kernels write it through strides; readers that transpose it
      // back read it as it is), else [1, BH, S, D]. `finish` runs after the
      // call.
      SmallVector<std::function<void()>> finish;
      auto output = [&](Value result) -> Value {
        auto t = cast<RankedTensorType>(result.getType());
        if (rank != 4) {
          auto flat = cast<RankedTensorType>(asRank4Type(result, rank, d));
          Value buffer = memref::AllocOp::create(
              b, loc, MemRefType::get(flat.getShape(), element));
          finish.push_back([&, buffer, result, flat, t]() mutable {
            Value tensor = bufferization::ToTensorOp::create(
                b, loc, flat, buffer, /*restrict=*/true, /*writable=*/true);
            result.replaceAllUsesWith(
                ReshapeOp::create(b, loc, t, tensor).getResult());
          });
          return asCallArgument(buffer);
        }
        auto bshd = RankedTensorType::get(
            {t.getDimSize(0), t.getDimSize(2), t.getDimSize(1), d}, element);
        Value buffer = memref::AllocOp::create(
            b, loc, MemRefType::get(bshd.getShape(), element));
        finish.push_back([&, buffer, result, bshd] {
          Value tensor = bufferization::ToTensorOp::create(
              b, loc, bshd, buffer, /*restrict=*/true, /*writable=*/true);
          replaceTransposed(b, loc, result, tensor, dead);
        });
        return asCallArgument(swapped(buffer));
      };

      bool causal;
      std::optional<APFloat> scaleAttr;
      std::string name;
      SmallVector<Value> args;
      if (auto a = dyn_cast<AttentionOp>(op)) {
        for (Value v : {a.getQuery(), a.getKey(), a.getValue()})
          args.push_back(input(v));
        args.push_back(output(a.getResult()));
        causal = a.getCausal();
        scaleAttr = a.getScale();
        name = ("autopar_cuda_attention_forward_" + type).str();
        if (saving.contains(op)) {
          // f32 [BH, S]: the gradient's call reads it.
          auto flat = cast<RankedTensorType>(asRank4Type(q, rank, d));
          Value lse = memref::AllocOp::create(
              b, loc,
              MemRefType::get(
                  {flat.getDimSize(0) * flat.getDimSize(1), flat.getDimSize(2)},
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
        if (!writeIntoConcatenation(b, loc, g, dynamic, args, finish, dead))
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
      for (auto &f : finish)
        f();
      for (Operation *o : dead)
        o->erase();
      dead.clear();
      for (Value operand : op->getOperands())
        if (Operation *producer = operand.getDefiningOp())
          producers.insert(producer);
      op->erase();
    }
    // What only the converted ops read (the transposes the kernels now do
    // through strides, and what fed them): gone.
    SmallVector<Operation *> worklist(producers.begin(), producers.end());
    while (!worklist.empty()) {
      Operation *producer = worklist.pop_back_val();
      if (!producers.contains(producer) || !producer->use_empty() ||
          !isMemoryEffectFree(producer))
        continue;
      producers.erase(producer);
      for (Value operand : producer->getOperands())
        if (Operation *next = operand.getDefiningOp()) {
          producers.insert(next);
          worklist.push_back(next);
        }
      producer->erase();
    }
    // Transposes made for readers that the later calls read through
    // strides instead.
    module.walk([&](TransposeOp t) {
      if (t->use_empty() && t->hasAttr(kMadeHere))
        t->erase();
    });
    module.walk([&](TransposeOp t) { t->removeAttr(kMadeHere); });
  }

  /// Marks the transposes this pass makes (removed when unused).
  static constexpr StringLiteral kMadeHere = "autopar.attention_view";

  /// Replaces `result` ([B, H, S, D]) by `tensor`, the same values laid out
  /// as [B, S, H, D]: a reader that transposes it back (converted to
  /// another type first, or not) reads `tensor` (converted) instead, and
  /// other readers a transpose of it. The replaced readers go to `dead`.
  static void replaceTransposed(OpBuilder &b, Location loc, Value result,
                                Value tensor,
                                SmallVectorImpl<Operation *> &dead) {
    Type element = elementOf(tensor);
    for (OpOperand &use : llvm::make_early_inc_range(result.getUses())) {
      Operation *user = use.getOwner();
      if (auto t = dyn_cast<TransposeOp>(user)) {
        if (swapsHeadsAndPositions(t)) {
          t.getResult().replaceAllUsesWith(tensor);
          dead.push_back(t);
        }
        continue;
      }
      auto c = dyn_cast<ConvertOp>(user);
      if (!c || c->use_empty() ||
          !llvm::all_of(c->getUsers(), [](Operation *u) {
            auto t = dyn_cast<TransposeOp>(u);
            return t && swapsHeadsAndPositions(t);
          }))
        continue;
      auto type = cast<RankedTensorType>(tensor.getType())
                      .clone(elementOf(c.getResult()));
      Value converted = ConvertOp::create(b, loc, type, tensor);
      for (Operation *t : llvm::make_early_inc_range(c->getUsers())) {
        replaceWidened(t->getResult(0), converted, tensor, element);
        dead.push_back(t);
      }
      dead.push_back(c);
      if (converted.use_empty()) // every reader wanted it narrow
        converted.getDefiningOp()->erase();
    }
    if (result.use_empty())
      return;
    auto back = TransposeOp::create(b, loc, result.getType(), tensor,
                                    b.getDenseI64ArrayAttr({0, 2, 1, 3}));
    back->setAttr(kMadeHere, UnitAttr::get(b.getContext()));
    result.replaceAllUsesWith(back.getResult());
  }

  /// Replaces `old` by `widened` (= convert(narrow)), where readers that
  /// only convert it back to `element` read `narrow` itself (and go).
  static void replaceWidened(Value old, Value widened, Value narrow,
                             Type element) {
    for (Operation *user : llvm::make_early_inc_range(old.getUsers()))
      if (auto c = dyn_cast<ConvertOp>(user))
        if (c.getType() == narrow.getType() &&
            exactRoundTrip(element, elementOf(old))) {
          c.getResult().replaceAllUsesWith(narrow);
          c->erase();
        }
    old.replaceAllUsesWith(widened);
  }

  /// A gradient whose dq, dk and dv are only converted, transposed to
  /// [B, S, H, D], flattened to [B, S, H x D] and concatenated along the
  /// last dimension (the gradient of a fused query-key-value projection):
  /// the kernels write them straight into one [B, S, 3, H, D] buffer,
  /// which then stands for the concatenation (converted). Appends the
  /// three output arguments to `args` and returns true, or returns false.
  static bool
  writeIntoConcatenation(OpBuilder &b, Location loc, AttentionGradOp g,
                         MemRefType dynamic, SmallVectorImpl<Value> &args,
                         SmallVectorImpl<std::function<void()>> &finish,
                         SmallVectorImpl<Operation *> &dead) {
    auto type = cast<RankedTensorType>(g.getQuery().getType());
    if (type.getRank() != 4 || g.getKey().getType() != type ||
        g.getValue().getType() != type)
      return false;
    ConcatOp concat;
    SmallVector<Operation *> chain;
    SmallVector<int64_t> position;
    for (Value r : g.getResults()) {
      if (!r.hasOneUse())
        return false;
      Operation *user = *r.getUsers().begin();
      auto c = dyn_cast<ConvertOp>(user);
      if (c) {
        if (!c->hasOneUse())
          return false;
        user = *c->getUsers().begin();
      }
      auto t = dyn_cast<TransposeOp>(user);
      if (!t || !swapsHeadsAndPositions(t) || !t->hasOneUse())
        return false;
      auto flat = dyn_cast<ReshapeOp>(*t->getUsers().begin());
      if (!flat || !flat->hasOneUse())
        return false;
      auto cat = dyn_cast<ConcatOp>(*flat->getUsers().begin());
      if (!cat || (concat && cat != concat))
        return false;
      concat = cat;
      int64_t index = -1;
      for (OpOperand &use : flat->getUses())
        index = use.getOperandNumber();
      position.push_back(index);
      if (c)
        chain.push_back(c);
      chain.append({t, flat});
    }
    auto catType = cast<RankedTensorType>(concat.getType());
    int64_t batch = type.getDimSize(0), heads = type.getDimSize(1),
            s = type.getDimSize(2), d = type.getDimSize(3);
    if (concat.getOperands().size() != 3 || concat.getDim() != 2 ||
        catType.getShape() != ArrayRef<int64_t>{batch, s, 3 * heads * d})
      return false;
    Type element = type.getElementType();
    auto all = MemRefType::get({batch, s, 3, heads, d}, element);
    Value buffer = memref::AllocOp::create(b, loc, all);
    for (int64_t p : position)
      args.push_back(memref::CastOp::create(b, loc, dynamic,
                                            headsOfSlot(b, loc, buffer, p)));
    finish.push_back([&b, loc, buffer, all, concat, catType, element, chain,
                      &dead]() mutable {
      auto tensorType =
          RankedTensorType::get(all.getShape(), all.getElementType());
      Value tensor = bufferization::ToTensorOp::create(
          b, loc, tensorType, buffer, /*restrict=*/true, /*writable=*/true);
      Value flat = ReshapeOp::create(b, loc, catType.clone(element), tensor);
      Value widened =
          catType.getElementType() == element
              ? flat
              : ConvertOp::create(b, loc, catType, flat).getResult();
      replaceWidened(concat.getResult(), widened, flat, element);
      if (widened != flat && widened.use_empty())
        widened.getDefiningOp()->erase();
      dead.push_back(concat);
      for (Operation *op : llvm::reverse(chain))
        dead.push_back(op);
    });
    return true;
  }

  /// The log-sum-exp's type in the runtime's signature: f32 [BH, S].
  static MemRefType lseType(MLIRContext *ctx) {
    return MemRefType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                           Float32Type::get(ctx));
  }

  /// The [1, BH, S, D] type of a [..., S, D] value.
  static Type asRank4Type(Value v, int64_t rank, int64_t d) {
    auto t = cast<RankedTensorType>(v.getType());
    int64_t s = t.getDimSize(rank - 2);
    return RankedTensorType::get({1, t.getNumElements() / (s * d), s, d},
                                 t.getElementType());
  }
};

} // namespace
