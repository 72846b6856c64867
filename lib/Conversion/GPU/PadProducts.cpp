//===- PadProducts.cpp - half-precision products on padded buffers --------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// cuBLAS runs a bf16 or f16 GEMM on its fast tensor-core kernels only when
// its dimensions are multiples of 8 (measured on an H200, bench/gpu/
// gemm_pitch_torch.py: gpt2-small's 8192 x 50257 x 768 logits product takes
// 6.7 ms with rows of 50257, 6.7 ms with rows padded to 50264 but 50257
// columns computed, 0.91 ms on 50264 columns). The runtime pads such a
// product by copying its operands into padded scratch and the result back
// (runtime/common/GemmPadding.h): for gpt2-small's three vocabulary
// products, about 0.8 GB copied in and out around each. This pass pads the
// buffers instead, where the compiler owns them: each dimension of a loop
// that is not a multiple of `multiple` grows to the next multiple in every
// buffer the loop indexes, when all of them are fresh allocations that only
// the products, elementwise ops and deallocations use. The product runs on
// the padded buffers; everything else reads and writes the original extent
// through a view (rows of 50264 elements holding 50257). Padding a summed
// loop needs zeros there: a fill of the padding (a few columns) goes
// before the product. The padding of a result holds whatever the product
// computes there and is never read.
//
//===----------------------------------------------------------------------===//

#include "autopar/Conversion/Passes.h"

#include "ProductCalls.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_PADPRODUCTSPASS
#include "autopar/Conversion/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {

/// A half-precision product call and what it reads and writes.
struct Product {
  func::CallOp call;
  SmallVector<memref::CastOp, 3> casts;   ///< A, B, C as passed
  SmallVector<memref::AllocOp, 3> allocs; ///< their allocations, or null
  SmallVector<int64_t> description;       ///< per loop, each operand's dim
  unsigned numLoops = 0;
  /// Per loop: pad it; and whether it is summed over (indexes A and B only).
  SmallVector<bool> pad, summed;
};

/// Whether `alloc`'s buffer may grow: a static identity-layout allocation
/// whose every use is a deallocation, a `linalg.generic` operand, or a cast
/// passed to a product call.
bool growable(memref::AllocOp alloc, StringRef prefix) {
  MemRefType type = alloc.getType();
  if (!type.hasStaticShape() || !type.getLayout().isIdentity() ||
      alloc->getNumOperands() != 0)
    return false;
  for (Operation *user : alloc->getUsers()) {
    if (isa<memref::DeallocOp, linalg::GenericOp>(user))
      continue;
    auto cast = dyn_cast<memref::CastOp>(user);
    if (!cast)
      return false;
    for (Operation *castUser : cast->getUsers()) {
      auto call = dyn_cast<func::CallOp>(castUser);
      if (!call || !call.getCallee().starts_with(prefix))
        return false;
    }
  }
  return true;
}

/// The subview of `base` at offset 0 with `sizes`: `base` itself where the
/// sizes are all of it.
Value view(OpBuilder &b, Location loc, Value base, ArrayRef<int64_t> sizes,
           ArrayRef<int64_t> offsets = {}) {
  auto type = cast<MemRefType>(base.getType());
  if (offsets.empty() && type.getShape() == sizes)
    return base;
  SmallVector<int64_t> at(offsets.begin(), offsets.end());
  at.resize(sizes.size(), 0);
  SmallVector<int64_t> strides(sizes.size(), 1);
  return memref::SubViewOp::create(b, loc, base, at, sizes, strides);
}

struct PadProductsPass
    : public mlir::autopar::impl::PadProductsPassBase<PadProductsPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (multiple < 1) {
      fn.emitError("autopar-pad-products: multiple must be at least 1, not ")
          << int64_t(multiple);
      return signalPassFailure();
    }
    auto module = fn->getParentOfType<ModuleOp>();
    if (!module || multiple == 1)
      return;
    SymbolTable symbols(module);
    auto up = [&](int64_t v) {
      return (v + multiple - 1) / multiple * multiple;
    };

    // The products, and for each the loops to pad: not multiples, at
    // least `min-size`, not batch loops (those index all three operands),
    // every operand they index a growable allocation.
    SmallVector<Product, 4> products;
    fn.walk([&](func::CallOp call) {
      StringRef callee = call.getCallee();
      if (!callee.starts_with(prefix) || call.getNumOperands() != 4)
        return;
      Product p;
      p.call = call;
      for (unsigned o = 0; o < 3; ++o) {
        auto cast = call.getOperand(o).getDefiningOp<memref::CastOp>();
        if (!cast)
          return;
        p.casts.push_back(cast);
        auto source = dyn_cast<MemRefType>(cast.getSource().getType());
        if (!source || !source.hasStaticShape())
          return;
        auto element = source.getElementType();
        if (o < 2 && halfOnly && !(element.isBF16() || element.isF16()))
          return; // only half-precision products are padded
        auto alloc = cast.getSource().getDefiningOp<memref::AllocOp>();
        p.allocs.push_back(alloc && growable(alloc, prefix) ? alloc : nullptr);
      }
      std::optional<products::LoopDescription> description =
          products::loopDescription(call, symbols);
      if (!description)
        return;
      p.numLoops = description->numLoops();
      p.description.assign(description->values.begin(),
                           description->values.begin() + p.numLoops * 3);
      p.pad.assign(p.numLoops, false);
      p.summed.assign(p.numLoops, false);
      for (unsigned l = 0; l < p.numLoops; ++l) {
        int64_t size = -1;
        bool all = true, growableAll = true;
        for (unsigned o = 0; o < 3; ++o) {
          int64_t dim = p.description[l * 3 + o];
          if (dim < 0) {
            all = false;
            continue;
          }
          size = cast<MemRefType>(p.casts[o].getSource().getType())
                     .getDimSize(dim);
          growableAll &= bool(p.allocs[o]);
        }
        if (all || size < minSize || size % multiple == 0 || !growableAll)
          continue;
        p.pad[l] = true;
        p.summed[l] = p.description[l * 3 + 2] < 0;
      }
      if (llvm::is_contained(p.pad, true))
        products.push_back(std::move(p));
    });
    if (products.empty())
      return;

    // Each allocation's padded shape: every dimension a padded loop of some
    // product indexes, grown.
    llvm::MapVector<Operation *, SmallVector<int64_t>> shapes;
    for (Product &p : products)
      for (unsigned l = 0; l < p.numLoops; ++l)
        for (unsigned o = 0; o < 3 && p.pad[l]; ++o)
          if (int64_t dim = p.description[l * 3 + o]; dim >= 0) {
            memref::AllocOp alloc = p.allocs[o];
            auto [it, inserted] = shapes.try_emplace(
                alloc, SmallVector<int64_t>(alloc.getType().getShape()));
            it->second[dim] = up(alloc.getType().getDimSize(dim));
          }

    // Grow them: the allocation of the padded shape, the original extent a
    // view of it for every use but the products and the deallocations.
    llvm::DenseMap<Operation *, Value> grown;
    for (auto &[op, shape] : shapes) {
      auto alloc = cast<memref::AllocOp>(op);
      MemRefType type = alloc.getType();
      OpBuilder b(alloc);
      auto bigger = memref::AllocOp::create(
          b, alloc.getLoc(), MemRefType::get(shape, type.getElementType()),
          alloc.getAlignmentAttr());
      Value original =
          view(b, alloc.getLoc(), bigger.getResult(), type.getShape());
      // For tests: NaN in the padding, so that a product summing over it
      // without the zeros, or a reader of a result's padding, shows.
      if (poison && isa<FloatType>(type.getElementType())) {
        auto element = cast<FloatType>(type.getElementType());
        Value nan = arith::ConstantOp::create(
            b, alloc.getLoc(), element,
            b.getFloatAttr(element,
                           APFloat::getQNaN(element.getFloatSemantics())));
        for (auto [dim, size] : llvm::enumerate(shape)) {
          if (size == type.getDimSize(dim))
            continue;
          SmallVector<int64_t> sizes(shape), offsets(shape.size(), 0);
          offsets[dim] = type.getDimSize(dim);
          sizes[dim] = size - offsets[dim];
          linalg::FillOp::create(
              b, alloc.getLoc(), nan,
              view(b, alloc.getLoc(), bigger.getResult(), sizes, offsets));
        }
      }
      for (OpOperand &use : llvm::make_early_inc_range(alloc->getUses())) {
        if (isa<memref::DeallocOp>(use.getOwner()))
          use.set(bigger.getResult());
        else
          use.set(original);
      }
      alloc.erase();
      grown[op] = bigger.getResult();
    }

    // Each product on its padded views, the padding of what it sums over
    // zeroed first.
    for (Product &p : products) {
      OpBuilder b(p.call);
      Location loc = p.call.getLoc();
      for (unsigned o = 0; o < 3; ++o) {
        if (!p.allocs[o])
          continue;
        auto original = cast<MemRefType>(p.casts[o].getSource().getType());
        SmallVector<int64_t> sizes(original.getShape());
        for (unsigned l = 0; l < p.numLoops; ++l)
          if (int64_t dim = p.description[l * 3 + o]; dim >= 0 && p.pad[l])
            sizes[dim] = up(sizes[dim]);
        Value base = grown.lookup(p.allocs[o].getOperation());
        if (!base)
          continue;
        for (unsigned l = 0; l < p.numLoops; ++l) {
          int64_t dim = p.description[l * 3 + o];
          if (dim < 0 || !p.pad[l] || !p.summed[l])
            continue;
          SmallVector<int64_t> padding(sizes), offsets(sizes.size(), 0);
          offsets[dim] = original.getDimSize(dim);
          padding[dim] = sizes[dim] - offsets[dim];
          Value slab = view(b, loc, base, padding, offsets);
          Type element = original.getElementType();
          Value zero = arith::ConstantOp::create(b, loc, element,
                                                 b.getZeroAttr(element));
          linalg::FillOp::create(b, loc, zero, slab);
        }
        Value padded = view(b, loc, base, sizes);
        auto cast =
            memref::CastOp::create(b, loc, p.casts[o].getType(), padded);
        p.call->setOperand(o, cast.getResult());
      }
    }
    // The casts the products no longer use.
    for (Product &p : products)
      for (memref::CastOp cast : p.casts)
        if (cast->use_empty())
          cast.erase();
  }
};

} // namespace
