//===- ContractionsToCalls.cpp - f32 contractions to runtime GEMM calls --===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/IR/LinalgInterfaces.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_CONTRACTIONSTOCALLSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// The element type of the contraction's inputs when `op` is one the
/// runtime may take (two inputs of one float type, an f32 init, all
/// buffers), else null.
Type inputElementType(linalg::LinalgOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1 || !linalg::isaContractionOpInterface(op))
    return {};
  SmallVector<Type, 3> types;
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type)
      return {};
    types.push_back(type.getElementType());
  }
  if (!types[2].isF32() || types[0] != types[1] ||
      !(types[0].isF32() || types[0].isBF16() || types[0].isF16()))
    return {};
  return types[0];
}

/// For each loop of `op`, the dimension of each operand (inputs, then the
/// init) it indexes, or -1; empty if the maps are not projected
/// permutations or a loop indexes only one operand.
SmallVector<int64_t> loopDescription(linalg::LinalgOp op) {
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (!llvm::all_of(maps,
                    [](AffineMap m) { return m.isProjectedPermutation(); }))
    return {};
  unsigned numLoops = op.getNumLoops();
  SmallVector<int64_t> description(numLoops * 3, -1);
  for (auto [o, map] : llvm::enumerate(maps))
    for (auto [dim, expr] : llvm::enumerate(map.getResults()))
      description[cast<AffineDimExpr>(expr).getPosition() * 3 + o] =
          int64_t(dim);
  for (unsigned l = 0; l < numLoops; ++l)
    if (llvm::count(ArrayRef(description).slice(l * 3, 3), -1) > 1)
      return {};
  return description;
}

/// Whether the contraction `description` describes has neither an M loop
/// (indexing A and C only) nor an N loop (B and C only): a dot product per
/// batch element.
bool isBatchedDot(ArrayRef<int64_t> description) {
  for (size_t l = 0; l < description.size(); l += 3) {
    bool a = description[l] >= 0, b = description[l + 1] >= 0,
         c = description[l + 2] >= 0;
    if (c && a != b)
      return false;
  }
  return true;
}

/// The linalg.fill with zero that is the only use of `op`'s init before
/// `op`, if that init is a fresh buffer of static, non-zero sizes (then
/// C = A * B may overwrite it), else null.
linalg::FillOp zeroFillBefore(linalg::LinalgOp op) {
  Value init = op.getDpsInitOperand(0)->get();
  auto alloc = init.getDefiningOp<memref::AllocOp>();
  auto type = dyn_cast<MemRefType>(init.getType());
  if (!alloc || !type || !type.hasStaticShape() ||
      !type.getLayout().isIdentity() || type.getNumElements() == 0 ||
      alloc->getBlock() != op->getBlock())
    return {};
  if (llvm::any_of(op.getStaticLoopRanges(), [](int64_t s) { return s <= 0; }))
    return {};
  linalg::FillOp fill;
  for (Operation *user : init.getUsers()) {
    Operation *at = op->getBlock()->findAncestorOpInBlock(*user);
    if (!at)
      return {}; // a use in another block: leave it
    if (at == op.getOperation() || op->isBeforeInBlock(at))
      continue;
    auto f = dyn_cast<linalg::FillOp>(user);
    if (!f || fill || f.getOutputs()[0] != init)
      return {};
    fill = f;
  }
  if (!fill || !matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
    return {};
  return fill;
}

/// Where `op`'s C (f32) is a fresh buffer that only `linalg.generic` ops
/// after `op` read, each element rounded to `element` at once
/// (`arith.truncf`), and deallocations use: those readers.
std::optional<SmallVector<linalg::GenericOp>> narrowReaders(linalg::LinalgOp op,
                                                            Type element) {
  Value c = op.getDpsInitOperand(0)->get();
  auto alloc = c.getDefiningOp<memref::AllocOp>();
  auto type = dyn_cast<MemRefType>(c.getType());
  if (!alloc || !type || !type.getLayout().isIdentity() ||
      !type.getElementType().isF32())
    return std::nullopt;
  SmallVector<linalg::GenericOp> readers;
  for (Operation *user : c.getUsers()) {
    if (user == op.getOperation() || isa<memref::DeallocOp>(user))
      continue;
    auto generic = dyn_cast<linalg::GenericOp>(user);
    if (!generic || generic->getBlock() != op->getBlock() ||
        !op->isBeforeInBlock(generic) || !generic.hasPureBufferSemantics())
      return std::nullopt;
    for (OpOperand &operand : generic->getOpOperands()) {
      if (operand.get() != c)
        continue;
      if (generic.isDpsInit(&operand))
        return std::nullopt;
      for (Operation *use :
           generic.getMatchingBlockArgument(&operand).getUsers()) {
        auto trunc = dyn_cast<arith::TruncFOp>(use);
        if (!trunc || trunc.getType() != element || trunc.getRoundingmodeAttr())
          return std::nullopt;
      }
    }
    if (!llvm::is_contained(readers, generic))
      readers.push_back(generic);
  }
  return readers;
}

/// Where `reader`, now that the product it read is narrow, only copies
/// `narrow` into a fresh buffer that nothing touched before (the rounding
/// of a product whose reader is a runtime call, which the fusion could not
/// take in): the buffer's readers read `narrow` instead, and the copy and
/// the buffer go (`narrow` freed where the buffer was).
void forwardCopy(linalg::GenericOp reader, Value narrow) {
  if (reader.getNumDpsInputs() != 1 || reader.getNumDpsInits() != 1 ||
      reader.getDpsInputOperand(0)->get() != narrow ||
      !llvm::all_of(reader.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return;
  Block &body = reader.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (body.getOperations().size() != 1 ||
      yield.getOperand(0) != body.getArgument(0))
    return;
  Value copy = reader.getDpsInitOperand(0)->get();
  auto alloc = copy.getDefiningOp<memref::AllocOp>();
  if (!alloc || copy.getType() != narrow.getType())
    return;
  for (Operation *user : copy.getUsers())
    if (user != reader.getOperation() &&
        (user->getBlock() != reader->getBlock() ||
         !reader->isBeforeInBlock(user)))
      return;
  for (Operation *user : llvm::make_early_inc_range(narrow.getUsers()))
    if (isa<memref::DeallocOp>(user))
      user->erase();
  reader->erase();
  copy.replaceAllUsesWith(narrow);
  alloc->erase();
}

/// Gives `op`'s C the type `element` (narrowReaders said who reads it):
/// the readers take its elements without the rounding. Returns the new C.
Value narrowResult(OpBuilder &builder, linalg::LinalgOp op, Type element,
                   ArrayRef<linalg::GenericOp> readers) {
  Value c = op.getDpsInitOperand(0)->get();
  auto alloc = c.getDefiningOp<memref::AllocOp>();
  auto type = cast<MemRefType>(c.getType());
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPoint(alloc);
  Value narrow = memref::AllocOp::create(
      builder, alloc.getLoc(), type.clone(element), alloc.getDynamicSizes(),
      alloc.getSymbolOperands(), alloc.getAlignmentAttr());
  for (linalg::GenericOp generic : readers)
    for (OpOperand &operand : generic->getOpOperands()) {
      if (operand.get() != c)
        continue;
      BlockArgument arg = generic.getMatchingBlockArgument(&operand);
      operand.set(narrow);
      arg.setType(element);
      for (Operation *use : llvm::make_early_inc_range(arg.getUsers())) {
        use->getResult(0).replaceAllUsesWith(arg);
        use->erase();
      }
    }
  for (Operation *user : llvm::make_early_inc_range(c.getUsers()))
    if (auto dealloc = dyn_cast<memref::DeallocOp>(user))
      dealloc.getMemrefMutable().assign(narrow);
  if (readers.size() == 1)
    forwardCopy(readers.front(), narrow);
  return narrow;
}

struct ContractionsToCallsPass
    : public autopar::impl::ContractionsToCallsPassBase<
          ContractionsToCallsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (function.empty()) {
      getOperation().emitError("autopar-contractions-to-calls: the runtime "
                               "function name is empty");
      return signalPassFailure();
    }
    ModuleOp module = getOperation();
    // The runtime function for each input element type.
    auto functionFor = [&](Type element) -> StringRef {
      if (element.isF32())
        return function;
      return element.isBF16() ? StringRef(bf16Function)
                              : StringRef(f16Function);
    };
    SmallVector<std::tuple<linalg::LinalgOp, SmallVector<int64_t>, Type>> work;
    module.walk([&](linalg::LinalgOp op) {
      Type element = inputElementType(op);
      if (!element || functionFor(element).empty())
        return;
      SmallVector<int64_t> description = loopDescription(op);
      if (!description.empty() && (dots || !isBatchedDot(description)))
        work.emplace_back(op, std::move(description), element);
    });
    if (work.empty())
      return;

    MLIRContext *ctx = &getContext();
    OpBuilder builder(ctx);
    SymbolTable symbols(module);
    Type f32 = Float32Type::get(ctx);
    auto specType =
        MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 64));
    // The callee's declaration: (A, B: unranked of the input type, C:
    // unranked f32, or of the input type for the `_c16` sibling (`narrow`),
    // loops).
    auto declare = [&](Type element, bool narrow = false) {
      std::string name = (functionFor(element) + (narrow ? "_c16" : "")).str();
      auto callee = symbols.lookup<func::FuncOp>(name);
      if (callee)
        return callee;
      auto input = UnrankedMemRefType::get(element, /*memorySpace=*/nullptr);
      auto output =
          UnrankedMemRefType::get(narrow ? element : f32, /*memorySpace=*/{});
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPointToStart(module.getBody());
      callee = func::FuncOp::create(
          builder, module.getLoc(), name,
          builder.getFunctionType({input, input, output, specType}, {}));
      callee.setPrivate();
      callee->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
      symbols.insert(callee);
      return callee;
    };

    // One constant global per distinct loop description.
    llvm::DenseMap<Attribute, memref::GlobalOp> globals;
    for (auto &[op, description, element] : work) {
      func::FuncOp callee = declare(element);
      Value narrowC;
      if (overwriteZeroInit) {
        if (linalg::FillOp fill = zeroFillBefore(op)) {
          fill->erase();
          description.push_back(1);
          if (narrowResults && !element.isF32())
            if (auto readers = narrowReaders(op, element)) {
              narrowC = narrowResult(builder, op, element, *readers);
              callee = declare(element, /*narrow=*/true);
            }
        }
      }
      auto globalType = MemRefType::get({int64_t(description.size())},
                                        IntegerType::get(ctx, 64));
      auto value = DenseElementsAttr::get(
          RankedTensorType::get(globalType.getShape(),
                                globalType.getElementType()),
          ArrayRef<int64_t>(description));
      memref::GlobalOp &global = globals[value];
      if (!global) {
        builder.setInsertionPoint(callee);
        global = memref::GlobalOp::create(
            builder, module.getLoc(), "__autopar_gemm_loops",
            builder.getStringAttr("private"), globalType, value,
            /*constant=*/true, /*alignment=*/nullptr);
        global->setAttr(kHostGlobalAttr, builder.getUnitAttr());
        symbols.insert(global); // renames it if taken
      }
      Location loc = op.getLoc();
      builder.setInsertionPoint(op);
      Value spec = memref::GetGlobalOp::create(builder, loc, globalType,
                                               global.getSymName());
      SmallVector<Value> args;
      for (auto [operand, type] :
           llvm::zip(op->getOpOperands(),
                     callee.getFunctionType().getInputs().take_front(3)))
        args.push_back(memref::CastOp::create(
            builder, loc, type,
            narrowC && op.isDpsInit(&operand) ? narrowC : operand.get()));
      args.push_back(memref::CastOp::create(builder, loc, specType, spec));
      func::CallOp::create(builder, loc, callee, args);
      Value oldC = op.getDpsInitOperand(0)->get();
      op->erase();
      if (narrowC)
        oldC.getDefiningOp()->erase();
    }
  }
};
} // namespace
