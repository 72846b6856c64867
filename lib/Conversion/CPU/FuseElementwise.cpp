//===- FuseElementwise.cpp - fuse elementwise chains, keep contractions ---===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <algorithm>

namespace mlir::autopar {
#define GEN_PASS_DEF_FUSEELEMENTWISEPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
/// Whether `op` is a linalg.generic whose loops are all parallel.
bool isParallelGeneric(Operation *op) {
  auto generic = dyn_cast_or_null<linalg::GenericOp>(op);
  return generic && generic.getNumReductionLoops() == 0;
}

/// Fuses a producer into its consumer when the producer has no other use (no
/// work is duplicated) and the consumer is not a contraction: a contraction
/// with a fused producer is no longer a plain multiply-add, and the GEMM
/// call it would have become is worth far more than the saved loop.
bool shouldFuse(OpOperand *fusedOperand) {
  Operation *producer = fusedOperand->get().getDefiningOp();
  if (!producer || !producer->hasOneUse())
    return false;
  auto consumer = dyn_cast<linalg::LinalgOp>(fusedOperand->getOwner());
  return consumer && !linalg::isaContractionOpInterface(consumer);
}

/// An elementwise producer whose other uses are its block's terminator (a
/// value the function returns) fuses into its elementwise consumer as one
/// loop that also yields the producer's values (upstream fusion would keep
/// the producer and compute its values twice): Adam's new moments, returned
/// and read by the update, take one pass over a parameter's state instead
/// of three.
struct FuseMultiUseProducer : public OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::GenericOp consumer,
                                PatternRewriter &rewriter) const override {
    if (!isParallelGeneric(consumer))
      return failure();
    for (OpOperand *operand : consumer.getDpsInputOperands()) {
      Operation *producer = operand->get().getDefiningOp();
      if (!isParallelGeneric(producer) || producer->hasOneUse() ||
          !linalg::areElementwiseOpsFusable(operand))
        continue;
      // Only uses by the block's terminator (values the function returns
      // anyway): fusing a value that other loops read too would merge
      // loops that autopar-fuse-rows groups by rows (measured on
      // gpt2-small's step: 897 kernels instead of 678).
      bool othersReturned =
          llvm::all_of(producer->getUsers(), [&](Operation *u) {
            return u == consumer.getOperation() ||
                   (u->hasTrait<OpTrait::IsTerminator>() &&
                    u->getBlock() == consumer->getBlock());
          });
      if (!othersReturned)
        continue;
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, operand);
      if (failed(fused))
        continue;
      // The fused loop sits where the consumer was: it comes before every
      // use of the producer's and the consumer's values.
      for (auto [original, replacement] : fused->replacements)
        rewriter.replaceAllUsesWith(original, replacement);
      rewriter.eraseOp(consumer);
      if (producer->use_empty())
        rewriter.eraseOp(producer);
      return success();
    }
    return failure();
  }
};

/// The most operations a recomputed producer's body may hold (a GELU's
/// derivative holds about 20): a bound on the work each consumer repeats,
/// and on how far chains of recomputed producers grow.
constexpr int64_t kMaxRecomputedOps = 48;

/// Bytes of one element of `type` (0 for an index or non-numeric type).
int64_t elementBytes(Type type) {
  return type.isIntOrFloat() ? (type.getIntOrFloatBitWidth() + 7) / 8 : 0;
}

/// Whether `map` reads its operand in the loops' order: a projection of
/// the loops that keeps their order (an operand indexed by every loop, or
/// a broadcast one such as a bias or a row's statistic), not a transpose.
bool inLoopOrder(AffineMap map) {
  if (!map.isProjectedPermutation())
    return false;
  int64_t last = -1;
  for (AffineExpr e : map.getResults()) {
    int64_t dim = cast<AffineDimExpr>(e).getPosition();
    if (dim <= last)
      return false;
    last = dim;
  }
  return true;
}

/// Whether `producer` is worth computing again in each of its consumers
/// rather than writing its result once for them to read: an elementwise
/// op of a few operations, its operands read in its loops' order, whose
/// operands indexed by every loop take no more bytes per element than its
/// result (broadcast operands, a bias or a row's statistic, count nothing:
/// they stay in cache). A contraction's result that the body only rounds
/// (`arith.truncf`) counts at the rounded width: contractions-to-calls
/// narrow-results makes such a product's buffer that narrow. In a bf16 step the
/// bias added to a product (bf16 in, f32 out) and the GELU derivative taking
/// the product and the incoming bf16 gradient (4 bytes in, 4 out) qualify: each
/// consumer reads the narrow operands, and the f32 tensor is never written
/// nor kept until the backward pass.
bool worthRecomputing(linalg::GenericOp producer) {
  if (!isParallelGeneric(producer) || producer.getNumResults() != 1 ||
      !producer.hasPureTensorSemantics() ||
      !inLoopOrder(
          producer.getIndexingMapMatchingResult(producer->getResult(0))))
    return false;
  int64_t ops = 0;
  for (Operation &op : producer.getBody()->without_terminator()) {
    // A gather (tensor.extract) reads memory the byte count does not see.
    if (++ops > kMaxRecomputedOps || !isPure(&op) || op.getNumRegions() ||
        isa<tensor::ExtractOp>(op))
      return false;
  }
  int64_t resultBytes =
      elementBytes(getElementTypeOrSelf(producer.getResult(0).getType()));
  int64_t readBytes = 0;
  unsigned loops = producer.getNumLoops();
  for (OpOperand *input : producer.getDpsInputOperands()) {
    AffineMap map = producer.getMatchingIndexingMap(input);
    if (!inLoopOrder(map))
      return false;
    if (map.getNumResults() < loops)
      continue; // broadcast
    BlockArgument arg = producer.getMatchingBlockArgument(input);
    int64_t bytes = elementBytes(arg.getType());
    // Only a contraction's result becomes narrow (narrow-results); any
    // other operand is read at its own width whatever the body does.
    auto product = input->get().getDefiningOp<linalg::LinalgOp>();
    bool narrowProduct = product && linalg::isaContractionOpInterface(product);
    if (narrowProduct && !arg.use_empty() &&
        llvm::all_of(arg.getUsers(),
                     [](Operation *u) { return isa<arith::TruncFOp>(u); })) {
      bytes = 0;
      for (Operation *u : arg.getUsers())
        bytes = std::max(bytes, elementBytes(u->getResult(0).getType()));
    }
    readBytes += bytes;
  }
  return resultBytes > 0 && readBytes <= resultBytes;
}

/// Whether every loop of `map` indexes what it reads (no broadcast).
bool readsEveryLoop(AffineMap map) {
  for (unsigned d = 0; d < map.getNumDims(); ++d)
    if (!map.isFunctionOfDim(d))
      return false;
  return true;
}

/// An elementwise producer that several elementwise or reduction ops read
/// and that is cheap to recompute (worthRecomputing) fuses into each of
/// them, a copy per consumer, and is gone: its result is never written.
/// Upstream fusion of a producer with other uses would keep it (computing
/// its values twice and writing them anyway). Only where every use is an
/// input of such a consumer, once each; never into contractions.
/// With `generatorsOnly` (the pass without `recompute`), only producers
/// that read nothing (an iota): their readers compute them from their own
/// loop indices, which costs nothing a load would not.
struct RecomputeCheapProducer : public OpRewritePattern<linalg::GenericOp> {
  RecomputeCheapProducer(MLIRContext *ctx, bool generatorsOnly)
      : OpRewritePattern(ctx), generatorsOnly(generatorsOnly) {}
  LogicalResult matchAndRewrite(linalg::GenericOp producer,
                                PatternRewriter &rewriter) const override {
    if (producer->use_empty() || producer->hasOneUse() ||
        (generatorsOnly && producer.getNumDpsInputs() > 0) ||
        !worthRecomputing(producer))
      return failure();
    SmallVector<OpOperand *> uses;
    llvm::SmallPtrSet<Operation *, 4> consumers;
    for (OpOperand &use : producer->getUses()) {
      auto consumer = dyn_cast<linalg::GenericOp>(use.getOwner());
      // A consumer that broadcasts the value (a row's statistic read by
      // every element of the row) would compute it once per element; a
      // producer that reads nothing (an iota: its loop index) costs no
      // more there than it does anywhere.
      if (!consumer || linalg::isaContractionOpInterface(consumer) ||
          !consumer.isDpsInput(&use) || !consumers.insert(consumer).second ||
          (producer.getNumDpsInputs() > 0 &&
           !readsEveryLoop(consumer.getMatchingIndexingMap(&use))) ||
          !linalg::areElementwiseOpsFusable(&use))
        return failure();
      uses.push_back(&use);
    }
    for (OpOperand *use : uses) {
      rewriter.setInsertionPoint(producer);
      Operation *copy = rewriter.clone(*producer);
      Operation *consumer = use->getOwner();
      rewriter.modifyOpInPlace(consumer, [&] { use->set(copy->getResult(0)); });
      // The fused loop goes where the consumer is.
      rewriter.setInsertionPoint(consumer);
      FailureOr<linalg::ElementwiseOpFusionResult> fused =
          linalg::fuseElementwiseOps(rewriter, use);
      if (failed(fused))
        continue; // the consumer reads the copy: still correct
      for (auto [original, replacement] : fused->replacements)
        rewriter.replaceAllUsesWith(original, replacement);
      rewriter.eraseOp(consumer);
      if (copy->use_empty())
        rewriter.eraseOp(copy);
    }
    if (producer->use_empty())
      rewriter.eraseOp(producer);
    return success();
  }

private:
  bool generatorsOnly;
};

/// The narrower float type whose values an elementwise op only widens:
/// its one result is an `arith.extf` of a bf16 or f16 value (which nothing
/// else uses) and its body does not read the output. Null otherwise.
FloatType widenedFrom(linalg::GenericOp op) {
  if (!isParallelGeneric(op) || op.getNumResults() != 1 ||
      !op.hasPureTensorSemantics() ||
      op.payloadUsesValueFromOperand(op.getDpsInitOperand(0)))
    return nullptr;
  auto yield = cast<linalg::YieldOp>(op.getBody()->getTerminator());
  auto ext = yield.getOperand(0).getDefiningOp<arith::ExtFOp>();
  if (!ext || !ext->hasOneUse() || ext->getBlock() != op.getBody())
    return nullptr;
  return dyn_cast<FloatType>(ext.getIn().getType());
}

/// `value` with element type `element` (a tensor type).
Type withElement(Value value, Type element) {
  return cast<RankedTensorType>(value.getType()).clone(element);
}

/// A concatenation (`tensor.insert_slice`s into a `tensor.empty`) of
/// pieces that elementwise ops make by widening bf16 (or f16) values, each
/// reshaped at most, holds nothing the narrow type cannot: it is built in
/// that type instead and widened once after (an elementwise op that
/// `RecomputeCheapProducer` then moves into its readers; a reader that
/// rounds to the narrow type again reads the narrow tensor as it is).
/// Attention's backward pass in a bf16 step: dq, dk and dv, bf16, each
/// transposed into the f32 gradient of the query-key-value product, which
/// the bias gradient sums and the next products read rounded to bf16.
/// Returns whether it changed anything.
bool narrowConcatenations(Operation *root) {
  bool changed = false;
  SmallVector<tensor::InsertSliceOp> lasts;
  root->walk([&](tensor::InsertSliceOp op) {
    bool intoAnother =
        op->hasOneUse() && isa<tensor::InsertSliceOp>(*op->user_begin()) &&
        cast<tensor::InsertSliceOp>(*op->user_begin()).getDest() ==
            op.getResult();
    if (!intoAnother)
      lasts.push_back(op);
  });
  for (tensor::InsertSliceOp last : lasts) {
    // The inserts, last first, down to the empty tensor they start from.
    SmallVector<tensor::InsertSliceOp> inserts = {last};
    while (
        auto prev =
            inserts.back().getDest().getDefiningOp<tensor::InsertSliceOp>()) {
      if (!prev->hasOneUse())
        break;
      inserts.push_back(prev);
    }
    auto empty = inserts.back().getDest().getDefiningOp<tensor::EmptyOp>();
    if (!empty || !empty->hasOneUse() ||
        !empty.getType().getElementType().isF32())
      continue;
    // Each piece: a widening op, then reshapes, each used once.
    FloatType narrow;
    SmallVector<SmallVector<Operation *>> chains;
    for (tensor::InsertSliceOp insert : inserts) {
      SmallVector<Operation *> chain;
      Value v = insert.getSource();
      while (isa_and_nonnull<tensor::CollapseShapeOp, tensor::ExpandShapeOp>(
                 v.getDefiningOp()) &&
             v.hasOneUse()) {
        chain.push_back(v.getDefiningOp());
        v = v.getDefiningOp()->getOperand(0);
      }
      auto producer = v.getDefiningOp<linalg::GenericOp>();
      FloatType from =
          producer && v.hasOneUse() ? widenedFrom(producer) : FloatType();
      if (!from || (narrow && from != narrow)) {
        narrow = nullptr;
        break;
      }
      narrow = from;
      chain.push_back(producer);
      chains.push_back(chain);
    }
    if (!narrow)
      continue;
    OpBuilder b(last);
    IRMapping map;
    // The pieces in the narrow type: each producer yields the value it
    // widened, into a narrow tensor; the reshapes follow.
    for (auto &chain : chains) {
      auto producer = cast<linalg::GenericOp>(chain.back());
      b.setInsertionPoint(producer);
      Value init = producer.getDpsInitOperand(0)->get();
      Value narrowInit = tensor::EmptyOp::create(
          b, producer.getLoc(),
          tensor::getMixedSizes(b, producer.getLoc(), init), narrow);
      auto copy = cast<linalg::GenericOp>(b.clone(*producer));
      copy.getDpsInitOperand(0)->set(narrowInit);
      copy.getResult(0).setType(withElement(producer.getResult(0), narrow));
      copy.getMatchingBlockArgument(copy.getDpsInitOperand(0)).setType(narrow);
      auto yield = cast<linalg::YieldOp>(copy.getBody()->getTerminator());
      auto ext = yield.getOperand(0).getDefiningOp<arith::ExtFOp>();
      yield->setOperand(0, ext.getIn());
      ext->erase();
      map.map(producer.getResult(0), copy.getResult(0));
      for (Operation *reshape : llvm::reverse(ArrayRef(chain).drop_back())) {
        b.setInsertionPoint(reshape);
        Operation *narrowed = b.clone(*reshape, map);
        narrowed->getResult(0).setType(
            withElement(reshape->getResult(0), narrow));
        map.map(reshape->getResult(0), narrowed->getResult(0));
      }
    }
    // The concatenation in the narrow type, widened once.
    b.setInsertionPoint(empty);
    Operation *narrowEmpty = b.clone(*empty);
    narrowEmpty->getResult(0).setType(withElement(empty.getResult(), narrow));
    map.map(empty.getResult(), narrowEmpty->getResult(0));
    for (tensor::InsertSliceOp insert : llvm::reverse(inserts)) {
      b.setInsertionPoint(insert);
      Operation *narrowed = b.clone(*insert, map);
      narrowed->getResult(0).setType(withElement(insert.getResult(), narrow));
      map.map(insert.getResult(), narrowed->getResult(0));
    }
    b.setInsertionPoint(last);
    Location loc = last.getLoc();
    Value wide = tensor::EmptyOp::create(
        b, loc, tensor::getMixedSizes(b, loc, last.getResult()),
        b.getF32Type());
    auto rank = last.getType().getRank();
    AffineMap identity = b.getMultiDimIdentityMap(rank);
    auto widen = linalg::GenericOp::create(
        b, loc, TypeRange{wide.getType()},
        ValueRange{map.lookup(last.getResult())}, ValueRange{wide},
        ArrayRef<AffineMap>{identity, identity},
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value w = arith::ExtFOp::create(nb, nloc, nb.getF32Type(), args[0]);
          linalg::YieldOp::create(nb, nloc, w);
        });
    last.getResult().replaceAllUsesWith(widen.getResult(0));
    // The wide pieces, reshapes and inserts are dead now.
    for (tensor::InsertSliceOp insert : inserts)
      insert->erase();
    empty->erase();
    for (auto &chain : chains)
      for (Operation *op : chain)
        op->erase();
    changed = true;
  }
  return changed;
}

/// The map from the indices of `view` (a static `tensor.extract_slice` with
/// unit strides that keeps the rank, or a static `tensor.expand_shape`)
/// into its source's indices, or null.
AffineMap viewToSource(Operation *view) {
  MLIRContext *ctx = view->getContext();
  if (auto slice = dyn_cast<tensor::ExtractSliceOp>(view)) {
    if (!slice.hasUnitStride() || !slice.getSourceType().hasStaticShape() ||
        slice.getType().getRank() != slice.getSourceType().getRank())
      return {};
    SmallVector<AffineExpr> results;
    for (auto [i, offset] : llvm::enumerate(slice.getStaticOffsets())) {
      if (ShapedType::isDynamic(offset))
        return {};
      results.push_back(getAffineDimExpr(i, ctx) + offset);
    }
    return AffineMap::get(slice.getType().getRank(), 0, results, ctx);
  }
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(view)) {
    ArrayRef<int64_t> shape = expand.getResultType().getShape();
    if (!expand.getResultType().hasStaticShape())
      return {};
    SmallVector<AffineExpr> results;
    for (ReassociationIndices group : expand.getReassociationIndices()) {
      AffineExpr index = getAffineConstantExpr(0, ctx);
      for (int64_t dim : group)
        index = index * shape[dim] + getAffineDimExpr(dim, ctx);
      results.push_back(index);
    }
    return AffineMap::get(shape.size(), 0, results, ctx);
  }
  return {};
}

/// An elementwise op worth recomputing (worthRecomputing) that loops read
/// through views (slices of it, reshaped: the query, key and value cut
/// from the bias added to their product, each split into heads) is read
/// by them directly, the views folded into their indexing maps, so that
/// RecomputeCheapProducer can move it into them (and the product's
/// readers take it rounded, so that narrow-results stores it narrow).
/// Only where every use of the op is a loop's input, directly or through
/// such views. Returns whether it changed anything.
bool foldViewsOfRecomputable(Operation *root) {
  SmallVector<linalg::GenericOp> producers;
  root->walk([&](linalg::GenericOp op) {
    if (worthRecomputing(op))
      producers.push_back(op);
  });
  bool changed = false;
  for (linalg::GenericOp producer : producers) {
    // Every reader, with the map from the indices it reads to the
    // producer's (null: directly).
    SmallVector<std::pair<OpOperand *, AffineMap>> readers;
    SmallVector<Operation *> views;
    llvm::SmallPtrSet<Operation *, 4> seen;
    bool throughViews = false;
    // Each reader as RecomputeCheapProducer will take it: once, without
    // broadcasting what it reads.
    std::function<bool(Value, AffineMap)> collect = [&](Value v,
                                                        AffineMap toRoot) {
      for (OpOperand &use : v.getUses()) {
        Operation *user = use.getOwner();
        if (auto reader = dyn_cast<linalg::GenericOp>(user)) {
          AffineMap map = reader.getMatchingIndexingMap(&use);
          if (!reader.isDpsInput(&use) ||
              linalg::isaContractionOpInterface(reader) ||
              !seen.insert(reader).second ||
              !readsEveryLoop(toRoot ? toRoot.compose(map) : map))
            return false;
          readers.push_back({&use, toRoot});
          continue;
        }
        AffineMap step = viewToSource(user);
        if (!step)
          return false;
        throughViews = true;
        views.push_back(user);
        if (!collect(user->getResult(0), toRoot ? toRoot.compose(step) : step))
          return false;
      }
      return true;
    };
    if (!collect(producer.getResult(0), AffineMap()) || !throughViews)
      continue;
    for (auto [use, toRoot] : readers) {
      if (!toRoot)
        continue;
      auto reader = cast<linalg::GenericOp>(use->getOwner());
      SmallVector<AffineMap> maps = reader.getIndexingMapsArray();
      unsigned index = use->getOperandNumber();
      maps[index] = toRoot.compose(maps[index]);
      use->set(producer.getResult(0));
      reader.setIndexingMapsAttr(ArrayAttr::get(
          root->getContext(), llvm::map_to_vector(maps, [](AffineMap m) {
            return Attribute(AffineMapAttr::get(m));
          })));
    }
    for (Operation *view : llvm::reverse(views))
      if (view->use_empty())
        view->erase();
    changed = true;
  }
  return changed;
}

/// An elementwise op whose result is collapsed (`tensor.collapse_shape`)
/// and inserted into a larger tensor (a transposed head's gradient into the
/// concatenation of the query, key and value gradients) computes the
/// collapsed shape itself: its loops become the collapsed dimensions, each
/// old loop recovered by division and remainder in its operands' indexing
/// maps. The insert then takes the op's result as it is, which
/// `eliminate-empty-tensors` lets bufferization write in place (through the
/// reshape it made a copy: a kernel per piece). Only for a static op with
/// one result, written in its loops' order, that does not read its loop
/// indices (`linalg.index`) nor its output. Returns whether it changed
/// anything.
bool foldCollapsesIntoProducers(Operation *root) {
  SmallVector<tensor::CollapseShapeOp> collapses;
  root->walk([&](tensor::CollapseShapeOp op) {
    if (op->hasOneUse() && isa<tensor::InsertSliceOp>(*op->user_begin()))
      collapses.push_back(op);
  });
  bool changed = false;
  for (tensor::CollapseShapeOp collapse : collapses) {
    auto producer = collapse.getSrc().getDefiningOp<linalg::GenericOp>();
    if (!producer || !collapse.getSrc().hasOneUse() ||
        !isParallelGeneric(producer) || producer.getNumResults() != 1 ||
        !producer.hasPureTensorSemantics() ||
        !producer.getIndexingMapMatchingResult(producer->getResult(0))
             .isIdentity() ||
        producer.payloadUsesValueFromOperand(producer.getDpsInitOperand(0)) ||
        !collapse.getSrcType().hasStaticShape() ||
        !producer.getBody()->getOps<linalg::IndexOp>().empty())
      continue;
    MLIRContext *ctx = root->getContext();
    ArrayRef<int64_t> sizes = collapse.getSrcType().getShape();
    // Each old loop in terms of the new ones: within a group, the old
    // loops are the digits of the new index in the group's sizes.
    SmallVector<AffineExpr> oldLoops(sizes.size());
    for (auto [g, group] :
         llvm::enumerate(collapse.getReassociationIndices())) {
      AffineExpr e = getAffineDimExpr(g, ctx);
      int64_t inner = 1;
      for (int64_t dim : llvm::reverse(group)) {
        AffineExpr digit = e.floorDiv(inner);
        oldLoops[dim] = dim == group.front() ? digit : digit % sizes[dim];
        inner *= sizes[dim];
      }
    }
    unsigned rank = collapse.getResultType().getRank();
    AffineMap toOld = AffineMap::get(rank, 0, oldLoops, ctx);
    SmallVector<AffineMap> maps;
    for (OpOperand *input : producer.getDpsInputOperands())
      maps.push_back(producer.getMatchingIndexingMap(input).compose(toOld));
    maps.push_back(AffineMap::getMultiDimIdentityMap(rank, ctx));
    OpBuilder b(collapse);
    Location loc = producer.getLoc();
    Value init =
        tensor::EmptyOp::create(b, loc, collapse.getResultType().getShape(),
                                collapse.getResultType().getElementType());
    auto folded = linalg::GenericOp::create(
        b, loc, TypeRange{collapse.getResultType()}, producer.getDpsInputs(),
        ValueRange{init}, maps,
        SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel));
    IRMapping mapping;
    producer.getRegion().cloneInto(&folded.getRegion(), mapping);
    collapse.getResult().replaceAllUsesWith(folded.getResult(0));
    collapse->erase();
    producer->erase();
    changed = true;
  }
  return changed;
}

/// A transpose next to an elementwise op it can fuse with (its operand's
/// only use, or its result's only user) becomes the equivalent generic, so
/// that elementwise fusion (which takes generics) merges the two: one pass
/// that reads in one layout and writes in the other, instead of a pass and
/// a copy (the heads' transposes and conversions around attention).
void generalizeTransposesNextToElementwise(Operation *root) {
  SmallVector<linalg::TransposeOp> transposes;
  root->walk([&](linalg::TransposeOp op) {
    Value input = op.getInput();
    Value result = op->getResult(0);
    bool fromElementwise =
        isParallelGeneric(input.getDefiningOp()) && input.hasOneUse();
    bool intoElementwise =
        result.hasOneUse() && isParallelGeneric(*result.getUsers().begin());
    if (fromElementwise || intoElementwise)
      transposes.push_back(op);
  });
  IRRewriter rewriter(root->getContext());
  for (linalg::TransposeOp op : transposes) {
    rewriter.setInsertionPoint(op);
    (void)linalg::generalizeNamedOp(rewriter, op);
  }
}

struct FuseElementwisePass
    : public mlir::autopar::impl::FuseElementwisePassBase<FuseElementwisePass> {
  using Base::Base;
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    generalizeTransposesNextToElementwise(getOperation());
    RewritePatternSet patterns(ctx);
    linalg::populateElementwiseOpsFusionPatterns(patterns, shouldFuse);
    patterns.add<FuseMultiUseProducer>(ctx);
    patterns.add<RecomputeCheapProducer>(ctx, /*generatorsOnly=*/!recompute);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, ctx);
    if (recompute) {
      // A collapse then an expand (a slice's heads split through a flat
      // view) composes into one reshape that foldViewsOfRecomputable reads.
      tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, ctx);
      tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, ctx);
    }
    FrozenRewritePatternSet frozen(std::move(patterns));
    auto fuse = [&] {
      return applyPatternsGreedily(
          getOperation(), frozen,
          GreedyRewriteConfig().setUseTopDownTraversal(true));
    };
    if (failed(fuse()))
      return signalPassFailure();
    // Concatenations of widened pieces are recognized once fusion has
    // made each piece one op; fusing again moves the widening into the
    // readers.
    if (!recompute)
      return;
    bool narrowed = narrowConcatenations(getOperation());
    bool folded = foldViewsOfRecomputable(getOperation());
    bool collapsed = foldCollapsesIntoProducers(getOperation());
    if ((narrowed || folded || collapsed) && failed(fuse()))
      signalPassFailure();
  }
};
} // namespace
