//===- OutlineLoopNests.cpp - one function per linalg op on buffers -------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/LoopLikeInterface.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_OUTLINELOOPNESTSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;

namespace {
struct OutlineLoopNestsPass
    : public mlir::autopar::impl::OutlineLoopNestsPassBase<
          OutlineLoopNestsPass> {
  /// Outlined kernels by their text (named "kernel").
  llvm::StringMap<func::FuncOp> kernels;

  void runOnOperation() override {
    kernels.clear();
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SymbolTable symbols(module);
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp fn : functions) {
      if (fn.isExternal())
        continue;
      SmallVector<linalg::LinalgOp> nests;
      fn.walk([&](linalg::LinalgOp op) {
        if (op.hasPureBufferSemantics() && op->getNumResults() == 0)
          nests.push_back(op);
      });
      unsigned counter = 0;
      for (linalg::LinalgOp op : nests)
        outline(op, fn, counter++, symbols, ctx);
      // Loops written directly (scatter_add's), outermost ones only.
      SmallVector<Operation *> loops;
      for (Block &block : fn.getBody())
        for (Operation &op : block)
          if (isa<LoopLikeOpInterface>(op) && op.getNumResults() == 0)
            loops.push_back(&op);
      for (Operation *op : loops)
        outline(op, fn, counter++, symbols, ctx);
      // What is left only allocates and calls: optimizing it is quadratic
      // work on one huge block (GVN, instruction selection) for no gain.
      bool hasLoops = false;
      fn.walk([&](Operation *op) {
        if (isa<LoopLikeOpInterface>(op))
          hasLoops = true;
      });
      if (!hasLoops && counter > 0)
        fn->setAttr("passthrough",
                    ArrayAttr::get(ctx, {StringAttr::get(ctx, "noinline"),
                                         StringAttr::get(ctx, "optnone")}));
    }
  }

  /// Moves `op` (without results) into a private, never-inlined function of
  /// its operands and of the values its body uses from outside (constants
  /// are cloned in), or calls an identical one outlined before.
  void outline(Operation *op, func::FuncOp parent, unsigned index,
               SymbolTable &symbols, MLIRContext *ctx) {
    llvm::SetVector<Value> used(op->getOperands().begin(),
                                op->getOperands().end());
    getUsedValuesDefinedAbove(op->getRegions(), used);
    llvm::SetVector<Value> inputs;
    llvm::SetVector<Operation *> constants;
    for (Value v : used) {
      Operation *def = v.getDefiningOp();
      if (def && def->hasTrait<OpTrait::ConstantLike>())
        constants.insert(def); // loop bounds stay known to LLVM
      else
        inputs.insert(v);
    }
    SmallVector<Type> types;
    for (Value v : inputs)
      types.push_back(v.getType());

    // Built detached, named "kernel", so that its text is a key: the layers
    // of a model repeat the same loop nests, and each distinct one is
    // compiled once.
    OpBuilder builder(ctx);
    auto kernel = func::FuncOp::create(builder, op->getLoc(), "kernel",
                                       builder.getFunctionType(types, {}));
    kernel.setPrivate();
    kernel->setAttr("no_inline", UnitAttr::get(ctx));
    Block *body = kernel.addEntryBlock();
    builder.setInsertionPointToStart(body);
    IRMapping mapping;
    for (auto [v, arg] : llvm::zip(inputs, body->getArguments()))
      mapping.map(v, arg);
    for (Operation *c : constants)
      mapping.map(c->getResults(), builder.clone(*c)->getResults());
    builder.clone(*op, mapping);
    func::ReturnOp::create(builder, op->getLoc());

    std::string key;
    llvm::raw_string_ostream os(key);
    kernel->print(os, OpPrintingFlags().useLocalScope());
    func::FuncOp &existing = kernels[key];
    if (existing) {
      kernel->erase();
      kernel = existing;
    } else {
      kernel.setSymName((parent.getSymName() + "_loop" + Twine(index)).str());
      symbols.insert(kernel, Block::iterator(parent)); // renames if taken
      existing = kernel;
    }

    builder.setInsertionPoint(op);
    func::CallOp::create(builder, op->getLoc(), kernel, inputs.getArrayRef());
    op->erase();
  }
};
} // namespace
