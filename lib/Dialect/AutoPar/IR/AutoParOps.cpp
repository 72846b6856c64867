//===- AutoParOps.cpp - autopar dialect operations ------------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Verifiers, result type inference and folders of the autopar ops. Every
// message names the op and the offending attribute or operand, since these
// are what a user sees for a malformed model.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"

#include "mlir/Dialect/CommonFolders.h"
#include "mlir/Dialect/Shard/IR/ShardOps.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::autopar;

#include "autopar/Dialect/AutoPar/IR/AutoParDialect.cpp.inc"
#include "autopar/Dialect/AutoPar/IR/AutoParEnums.cpp.inc"

//===----------------------------------------------------------------------===//
// Dialect
//===----------------------------------------------------------------------===//

void AutoParDialect::initialize() { registerAutoParDialectOperations(this); }

Operation *AutoParDialect::materializeConstant(OpBuilder &builder,
                                               Attribute value, Type type,
                                               Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, type, elements);
}

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {
/// Emits "'autopar.<op>' op <message>" at `loc` when a location is given (the
/// verifier path) and stays silent otherwise (speculative builders).
template <typename OpT>
LogicalResult opError(std::optional<Location> loc, const Twine &message) {
  return emitOptionalError(loc, "'", OpT::getOperationName(), "' op ", message);
}

std::string typeString(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(shape, os);
  os << "]";
  return s;
}

/// Checks that `dims` holds distinct dimensions of a rank-`rank` tensor.
/// `seen` accumulates across calls so that batch and contracting lists of the
/// same operand cannot overlap.
template <typename OpT>
LogicalResult checkDims(std::optional<Location> loc, StringRef what,
                        ArrayRef<int64_t> dims, int64_t rank,
                        llvm::SmallBitVector &seen) {
  for (int64_t d : dims) {
    if (d < 0 || d >= rank)
      return opError<OpT>(loc, what + " dimension " + Twine(d) +
                                   " is out of range for rank " + Twine(rank));
    if (seen.test(d))
      return opError<OpT>(loc, what + " dimension " + Twine(d) +
                                   " appears more than once");
    seen.set(d);
  }
  return success();
}

/// The attribute of a splat constant, or null.
SplatElementsAttr getSplat(Attribute attr) {
  return dyn_cast_or_null<SplatElementsAttr>(attr);
}

/// True if `attr` is a splat constant equal to `value` (float or integer).
bool isSplatOf(Attribute attr, int64_t value) {
  SplatElementsAttr splat = getSplat(attr);
  if (!splat)
    return false;
  Type elementType = splat.getElementType();
  if (isa<FloatType>(elementType))
    return splat.getSplatValue<APFloat>().isExactlyValue(double(value));
  if (elementType.isInteger(1))
    return false;
  return splat.getSplatValue<APInt>().getSExtValue() == value;
}

/// Folds an elementwise binary op over two constant operands.
template <typename FloatFn, typename IntFn>
Attribute foldBinaryConstants(ArrayRef<Attribute> operands, Type resultType,
                              FloatFn floatFn, IntFn intFn) {
  if (isa<FloatType>(getElementTypeOrSelf(resultType)))
    return constFoldBinaryOp<FloatAttr>(operands, resultType, floatFn);
  return constFoldBinaryOp<IntegerAttr>(operands, resultType, intFn);
}

/// The shape left after dropping `dims` from `shape`.
SmallVector<int64_t> dropDims(ArrayRef<int64_t> shape, ArrayRef<int64_t> dims) {
  SmallVector<int64_t> result;
  for (auto [i, size] : llvm::enumerate(shape))
    if (!llvm::is_contained(dims, int64_t(i)))
      result.push_back(size);
  return result;
}

/// Checks that a normalization parameter has shape `operand.shape[axis:]`.
template <typename OpT>
LogicalResult verifyNormParam(OpT op, StringRef name, Value param) {
  auto operandType = cast<RankedTensorType>(op.getOperand().getType());
  auto paramType = cast<RankedTensorType>(param.getType());
  int64_t axis = op.getAxis();
  if (axis >= operandType.getRank())
    return op.emitOpError() << "axis " << axis << " is out of range for rank "
                            << operandType.getRank();
  ArrayRef<int64_t> expected = operandType.getShape().drop_front(axis);
  if (paramType.getShape() != expected)
    return op.emitOpError()
           << name << " has shape " << shapeString(paramType.getShape())
           << " but the normalized dimensions are " << shapeString(expected);
  if (paramType.getElementType() != operandType.getElementType())
    return op.emitOpError()
           << name << " has element type " << paramType.getElementType()
           << " but the operand has " << operandType.getElementType();
  if (op.getEpsilon().isNegative())
    return op.emitOpError() << "epsilon must not be negative";
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//
// ConstantOp
//===----------------------------------------------------------------------===//

LogicalResult ConstantOp::verify() {
  if (!isa<DenseElementsAttr, DenseResourceElementsAttr>(getValue()))
    return emitOpError("value must be a dense or dense_resource elements "
                       "attribute");
  return success();
}

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

//===----------------------------------------------------------------------===//
// Elementwise folders
//===----------------------------------------------------------------------===//

OpFoldResult NegOp::fold(FoldAdaptor) {
  if (auto inner = getOperand().getDefiningOp<NegOp>())
    return inner.getOperand();
  return {};
}

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  if (isSplatOf(adaptor.getRhs(), 0))
    return getLhs();
  if (isSplatOf(adaptor.getLhs(), 0))
    return getRhs();
  return foldBinaryConstants(
      adaptor.getOperands(), getType(),
      [](const APFloat &a, const APFloat &b) { return a + b; },
      [](const APInt &a, const APInt &b) { return a + b; });
}

OpFoldResult SubOp::fold(FoldAdaptor adaptor) {
  if (isSplatOf(adaptor.getRhs(), 0))
    return getLhs();
  return foldBinaryConstants(
      adaptor.getOperands(), getType(),
      [](const APFloat &a, const APFloat &b) { return a - b; },
      [](const APInt &a, const APInt &b) { return a - b; });
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  if (isSplatOf(adaptor.getRhs(), 1))
    return getLhs();
  if (isSplatOf(adaptor.getLhs(), 1))
    return getRhs();
  return foldBinaryConstants(
      adaptor.getOperands(), getType(),
      [](const APFloat &a, const APFloat &b) { return a * b; },
      [](const APInt &a, const APInt &b) { return a * b; });
}

OpFoldResult DivOp::fold(FoldAdaptor adaptor) {
  // Constants are not folded: integer division by zero has no value.
  if (isSplatOf(adaptor.getRhs(), 1))
    return getLhs();
  return {};
}

//===----------------------------------------------------------------------===//
// CompareOp, SelectOp, ConvertOp
//===----------------------------------------------------------------------===//

LogicalResult CompareOp::inferReturnTypes(MLIRContext *context,
                                          std::optional<Location> loc,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &inferred) {
  auto lhsType = dyn_cast<RankedTensorType>(adaptor.getLhs().getType());
  if (!lhsType)
    return opError<CompareOp>(loc, "expects ranked tensor operands");
  inferred.push_back(lhsType.clone(IntegerType::get(context, 1)));
  return success();
}

OpFoldResult ConvertOp::fold(FoldAdaptor) {
  if (getOperand().getType() == getType())
    return getOperand();
  // convert(convert(x)) back to x's type through a wider float (f32 or f64)
  // that holds every value of x's type exactly: bf16 -> f32 -> bf16.
  if (auto inner = getOperand().getDefiningOp<ConvertOp>()) {
    Value x = inner.getOperand();
    auto xElement = dyn_cast<FloatType>(
        cast<RankedTensorType>(x.getType()).getElementType());
    auto midElement = dyn_cast<FloatType>(
        cast<RankedTensorType>(inner.getType()).getElementType());
    if (x.getType() == getType() && xElement && midElement &&
        (midElement.isF32() || midElement.isF64()) &&
        llvm::APFloatBase::isRepresentableBy(xElement.getFloatSemantics(),
                                             midElement.getFloatSemantics()))
      return x;
  }
  return {};
}

//===----------------------------------------------------------------------===//
// DotOp
//===----------------------------------------------------------------------===//

LogicalResult DotOp::inferReturnTypes(MLIRContext *context,
                                      std::optional<Location> loc,
                                      Adaptor adaptor,
                                      SmallVectorImpl<Type> &inferred) {
  auto lhsType = dyn_cast<RankedTensorType>(adaptor.getLhs().getType());
  auto rhsType = dyn_cast<RankedTensorType>(adaptor.getRhs().getType());
  if (!lhsType || !rhsType)
    return opError<DotOp>(loc, "expects ranked tensor operands");
  if (lhsType.getElementType() != rhsType.getElementType())
    return opError<DotOp>(loc, "operands have different element types");
  ArrayRef<int64_t> lb = adaptor.getLhsBatchDims();
  ArrayRef<int64_t> rb = adaptor.getRhsBatchDims();
  ArrayRef<int64_t> lc = adaptor.getLhsContractingDims();
  ArrayRef<int64_t> rc = adaptor.getRhsContractingDims();
  if (lb.size() != rb.size())
    return opError<DotOp>(loc, "lhs has " + Twine(lb.size()) +
                                   " batch dimensions but rhs has " +
                                   Twine(rb.size()));
  if (lc.size() != rc.size())
    return opError<DotOp>(loc, "lhs has " + Twine(lc.size()) +
                                   " contracting dimensions but rhs has " +
                                   Twine(rc.size()));
  llvm::SmallBitVector lhsSeen(lhsType.getRank()), rhsSeen(rhsType.getRank());
  if (failed(
          checkDims<DotOp>(loc, "lhs batch", lb, lhsType.getRank(), lhsSeen)) ||
      failed(checkDims<DotOp>(loc, "lhs contracting", lc, lhsType.getRank(),
                              lhsSeen)) ||
      failed(
          checkDims<DotOp>(loc, "rhs batch", rb, rhsType.getRank(), rhsSeen)) ||
      failed(checkDims<DotOp>(loc, "rhs contracting", rc, rhsType.getRank(),
                              rhsSeen)))
    return failure();
  auto checkPaired = [&](StringRef what, ArrayRef<int64_t> l,
                         ArrayRef<int64_t> r) -> LogicalResult {
    for (auto [ld, rd] : llvm::zip_equal(l, r))
      if (lhsType.getDimSize(ld) != rhsType.getDimSize(rd))
        return opError<DotOp>(
            loc, what + " dimension sizes differ: lhs dimension " + Twine(ld) +
                     " has " + Twine(lhsType.getDimSize(ld)) +
                     ", rhs dimension " + Twine(rd) + " has " +
                     Twine(rhsType.getDimSize(rd)));
    return success();
  };
  if (failed(checkPaired("batch", lb, rb)) ||
      failed(checkPaired("contracting", lc, rc)))
    return failure();
  SmallVector<int64_t> shape;
  for (int64_t d : lb)
    shape.push_back(lhsType.getDimSize(d));
  for (int64_t d = 0; d < lhsType.getRank(); ++d)
    if (!lhsSeen.test(d))
      shape.push_back(lhsType.getDimSize(d));
  for (int64_t d = 0; d < rhsType.getRank(); ++d)
    if (!rhsSeen.test(d))
      shape.push_back(rhsType.getDimSize(d));
  inferred.push_back(RankedTensorType::get(shape, lhsType.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// ReduceOp
//===----------------------------------------------------------------------===//

LogicalResult ReduceOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto type = dyn_cast<RankedTensorType>(adaptor.getOperand().getType());
  if (!type)
    return opError<ReduceOp>(loc, "expects a ranked tensor operand");
  llvm::SmallBitVector seen(type.getRank());
  if (failed(checkDims<ReduceOp>(loc, "reduced", adaptor.getDimensions(),
                                 type.getRank(), seen)))
    return failure();
  if (adaptor.getKind() == ReduceKind::Mean &&
      !isa<FloatType>(type.getElementType()))
    return opError<ReduceOp>(loc, "mean needs a floating-point operand, got " +
                                      Twine(typeString(type.getElementType())));
  inferred.push_back(
      type.clone(dropDims(type.getShape(), adaptor.getDimensions())));
  return success();
}

OpFoldResult ReduceOp::fold(FoldAdaptor) {
  if (getDimensions().empty() && getOperand().getType() == getType())
    return getOperand();
  return {};
}

//===----------------------------------------------------------------------===//
// ReshapeOp
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto in = getOperand().getType();
  auto out = getType();
  if (in.getElementType() != out.getElementType())
    return emitOpError() << "changes the element type from "
                         << in.getElementType() << " to "
                         << out.getElementType();
  if (in.getNumElements() != out.getNumElements())
    return emitOpError() << "cannot reshape " << in.getNumElements()
                         << " elements " << shapeString(in.getShape())
                         << " into " << out.getNumElements() << " elements "
                         << shapeString(out.getShape());
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getOperand().getType() == getType())
    return getOperand();
  if (auto inner = getOperand().getDefiningOp<ReshapeOp>()) {
    getOperandMutable().assign(inner.getOperand());
    return getResult();
  }
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(adaptor.getOperand()))
    return dense.reshape(getType());
  return {};
}

//===----------------------------------------------------------------------===//
// TransposeOp
//===----------------------------------------------------------------------===//

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto type = dyn_cast<RankedTensorType>(adaptor.getOperand().getType());
  if (!type)
    return opError<TransposeOp>(loc, "expects a ranked tensor operand");
  ArrayRef<int64_t> perm = adaptor.getPermutation();
  if (int64_t(perm.size()) != type.getRank())
    return opError<TransposeOp>(loc, "permutation has " + Twine(perm.size()) +
                                         " entries but the operand has rank " +
                                         Twine(type.getRank()));
  llvm::SmallBitVector seen(type.getRank());
  if (failed(checkDims<TransposeOp>(loc, "permutation", perm, type.getRank(),
                                    seen)))
    return failure();
  SmallVector<int64_t> shape;
  for (int64_t d : perm)
    shape.push_back(type.getDimSize(d));
  inferred.push_back(type.clone(shape));
  return success();
}

OpFoldResult TransposeOp::fold(FoldAdaptor) {
  ArrayRef<int64_t> perm = getPermutation();
  if (llvm::equal(perm, llvm::seq<int64_t>(0, perm.size())))
    return getOperand();
  if (auto inner = getOperand().getDefiningOp<TransposeOp>()) {
    // result[i] = inner[perm[i]] = x[innerPerm[perm[i]]].
    ArrayRef<int64_t> innerPerm = inner.getPermutation();
    SmallVector<int64_t> composed;
    for (int64_t p : perm)
      composed.push_back(innerPerm[p]);
    getOperandMutable().assign(inner.getOperand());
    setPermutation(composed);
    if (llvm::equal(composed, llvm::seq<int64_t>(0, composed.size())))
      return getOperand();
    return getResult();
  }
  return {};
}

//===----------------------------------------------------------------------===//
// BroadcastOp
//===----------------------------------------------------------------------===//

LogicalResult BroadcastOp::verify() {
  auto in = getOperand().getType();
  auto out = getType();
  ArrayRef<int64_t> dims = getBroadcastDimensions();
  if (in.getElementType() != out.getElementType())
    return emitOpError() << "changes the element type from "
                         << in.getElementType() << " to "
                         << out.getElementType();
  if (int64_t(dims.size()) != in.getRank())
    return emitOpError() << "has " << dims.size()
                         << " broadcast dimensions but the operand has rank "
                         << in.getRank();
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (d < 0 || d >= out.getRank())
      return emitOpError() << "broadcast dimension " << d
                           << " is out of range for result rank "
                           << out.getRank();
    if (i > 0 && d <= dims[i - 1])
      return emitOpError() << "broadcast dimensions must be strictly "
                              "increasing";
    int64_t inSize = in.getDimSize(i), outSize = out.getDimSize(d);
    if (inSize != 1 && inSize != outSize)
      return emitOpError() << "operand dimension " << i << " has size "
                           << inSize << ", which cannot broadcast to result "
                           << "dimension " << d << " of size " << outSize;
  }
  return success();
}

OpFoldResult BroadcastOp::fold(FoldAdaptor adaptor) {
  if (getOperand().getType() == getType())
    return getOperand();
  if (SplatElementsAttr splat = getSplat(adaptor.getOperand()))
    return SplatElementsAttr::get(getType(), splat.getSplatValue<Attribute>());
  return {};
}

//===----------------------------------------------------------------------===//
// SliceOp
//===----------------------------------------------------------------------===//

LogicalResult SliceOp::inferReturnTypes(MLIRContext *context,
                                        std::optional<Location> loc,
                                        Adaptor adaptor,
                                        SmallVectorImpl<Type> &inferred) {
  auto type = dyn_cast<RankedTensorType>(adaptor.getOperand().getType());
  if (!type)
    return opError<SliceOp>(loc, "expects a ranked tensor operand");
  ArrayRef<int64_t> start = adaptor.getStartIndices();
  ArrayRef<int64_t> limit = adaptor.getLimitIndices();
  ArrayRef<int64_t> strides = adaptor.getStrides();
  int64_t rank = type.getRank();
  if (int64_t(start.size()) != rank || int64_t(limit.size()) != rank ||
      int64_t(strides.size()) != rank)
    return opError<SliceOp>(
        loc, "start, limit and strides need " + Twine(rank) +
                 " entries each (got " + Twine(start.size()) + ", " +
                 Twine(limit.size()) + ", " + Twine(strides.size()) + ")");
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t size = type.getDimSize(d);
    if (strides[d] < 1)
      return opError<SliceOp>(loc, "stride " + Twine(strides[d]) +
                                       " of dimension " + Twine(d) +
                                       " must be at least 1");
    if (start[d] < 0 || start[d] > limit[d] || limit[d] > size)
      return opError<SliceOp>(
          loc, "dimension " + Twine(d) + " needs 0 <= start <= limit <= " +
                   Twine(size) + ", got start " + Twine(start[d]) +
                   " and limit " + Twine(limit[d]));
    shape.push_back(llvm::divideCeil(limit[d] - start[d], strides[d]));
  }
  inferred.push_back(type.clone(shape));
  return success();
}

OpFoldResult SliceOp::fold(FoldAdaptor) {
  if (getOperand().getType() == getType())
    return getOperand();
  return {};
}

//===----------------------------------------------------------------------===//
// ConcatOp
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  ValueRange inputs = adaptor.getInputs();
  if (inputs.empty())
    return opError<ConcatOp>(loc, "needs at least one input");
  auto first = dyn_cast<RankedTensorType>(inputs.front().getType());
  if (!first)
    return opError<ConcatOp>(loc, "expects ranked tensor inputs");
  int64_t dim = adaptor.getDim();
  if (dim >= first.getRank())
    return opError<ConcatOp>(loc, "dimension " + Twine(dim) +
                                      " is out of range for rank " +
                                      Twine(first.getRank()));
  SmallVector<int64_t> shape(first.getShape());
  for (auto [i, input] : llvm::enumerate(inputs.drop_front())) {
    auto type = cast<RankedTensorType>(input.getType());
    if (type.getElementType() != first.getElementType() ||
        type.getRank() != first.getRank())
      return opError<ConcatOp>(
          loc, "input " + Twine(i + 1) + " has type " + typeString(type) +
                   ", which does not match input 0 " + typeString(first));
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (d != dim && type.getDimSize(d) != first.getDimSize(d))
        return opError<ConcatOp>(
            loc, "input " + Twine(i + 1) + " has size " +
                     Twine(type.getDimSize(d)) + " in dimension " + Twine(d) +
                     " but input 0 has " + Twine(first.getDimSize(d)));
    shape[dim] += type.getDimSize(dim);
  }
  inferred.push_back(first.clone(shape));
  return success();
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1)
    return getInputs().front();
  return {};
}

//===----------------------------------------------------------------------===//
// GatherOp, EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto type = dyn_cast<RankedTensorType>(adaptor.getOperand().getType());
  auto indices = dyn_cast<RankedTensorType>(adaptor.getIndices().getType());
  if (!type || !indices)
    return opError<GatherOp>(loc, "expects ranked tensor operands");
  int64_t axis = adaptor.getAxis();
  if (axis >= type.getRank())
    return opError<GatherOp>(loc, "axis " + Twine(axis) +
                                      " is out of range for rank " +
                                      Twine(type.getRank()));
  SmallVector<int64_t> shape(type.getShape().take_front(axis));
  llvm::append_range(shape, indices.getShape());
  llvm::append_range(shape, type.getShape().drop_front(axis + 1));
  inferred.push_back(type.clone(shape));
  return success();
}

LogicalResult EmbeddingOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  auto table = dyn_cast<RankedTensorType>(adaptor.getTable().getType());
  auto ids = dyn_cast<RankedTensorType>(adaptor.getIds().getType());
  if (!table || !ids)
    return opError<EmbeddingOp>(loc, "expects ranked tensor operands");
  if (table.getRank() != 2)
    return opError<EmbeddingOp>(loc, "table must have rank 2 [vocab, dim], "
                                     "got rank " +
                                         Twine(table.getRank()));
  SmallVector<int64_t> shape(ids.getShape());
  shape.push_back(table.getDimSize(1));
  inferred.push_back(table.clone(shape));
  return success();
}

LogicalResult ScatterAddOp::inferReturnTypes(MLIRContext *context,
                                             std::optional<Location> loc,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &inferred) {
  auto target = dyn_cast<RankedTensorType>(adaptor.getTarget().getType());
  auto indices = dyn_cast<RankedTensorType>(adaptor.getIndices().getType());
  auto updates = dyn_cast<RankedTensorType>(adaptor.getUpdates().getType());
  if (!target || !indices || !updates)
    return opError<ScatterAddOp>(loc, "expects ranked tensor operands");
  int64_t axis = adaptor.getAxis();
  if (axis >= target.getRank())
    return opError<ScatterAddOp>(loc, "axis " + Twine(axis) +
                                          " is out of range for rank " +
                                          Twine(target.getRank()));
  SmallVector<int64_t> expected(target.getShape().take_front(axis));
  llvm::append_range(expected, indices.getShape());
  llvm::append_range(expected, target.getShape().drop_front(axis + 1));
  if (updates.getShape() != ArrayRef<int64_t>(expected) ||
      updates.getElementType() != target.getElementType())
    return opError<ScatterAddOp>(
        loc, "updates must be " +
                 typeString(
                     RankedTensorType::get(expected, target.getElementType())) +
                 ", got " + typeString(updates));
  inferred.push_back(target);
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::inferReturnTypes(MLIRContext *context,
                                         std::optional<Location> loc,
                                         Adaptor adaptor,
                                         SmallVectorImpl<Type> &inferred) {
  auto in = dyn_cast<RankedTensorType>(adaptor.getInput().getType());
  auto w = dyn_cast<RankedTensorType>(adaptor.getWeight().getType());
  if (!in || !w)
    return opError<LinearOp>(loc, "expects ranked tensor operands");
  if (in.getRank() < 1 || w.getRank() != 2)
    return opError<LinearOp>(loc, "needs an input of rank >= 1 and a "
                                  "weight of rank 2");
  if (w.getElementType() != in.getElementType())
    return opError<LinearOp>(loc, "weight element type differs from the "
                                  "input's");
  bool transposed = bool(adaptor.getWeightTransposedAttr());
  int64_t k = w.getDimSize(transposed ? 1 : 0);
  int64_t n = w.getDimSize(transposed ? 0 : 1);
  if (k != in.getShape().back())
    return opError<LinearOp>(
        loc, "weight " + typeString(w) + (transposed ? " (transposed)" : "") +
                 " contracts " + Twine(k) + " features but the input has " +
                 Twine(in.getShape().back()));
  if (Value bias = adaptor.getBias()) {
    auto b = cast<RankedTensorType>(bias.getType());
    if (b.getShape() != ArrayRef<int64_t>{n} ||
        b.getElementType() != in.getElementType())
      return opError<LinearOp>(
          loc, "bias must be " +
                   typeString(RankedTensorType::get({n}, in.getElementType())) +
                   ", got " + typeString(b));
  }
  SmallVector<int64_t> shape(in.getShape());
  shape.back() = n;
  inferred.push_back(in.clone(shape));
  return success();
}

//===----------------------------------------------------------------------===//
// Softmax, LayerNorm, RmsNorm
//===----------------------------------------------------------------------===//

template <typename OpT> static LogicalResult verifySoftmaxLike(OpT op) {
  int64_t rank = op.getType().getRank();
  if (int64_t(op.getAxis()) >= rank)
    return op.emitOpError()
           << "axis " << op.getAxis() << " is out of range for rank " << rank;
  return success();
}

LogicalResult SoftmaxOp::verify() { return verifySoftmaxLike(*this); }
LogicalResult LogSoftmaxOp::verify() { return verifySoftmaxLike(*this); }

LogicalResult LayerNormOp::verify() {
  return verifyNormParam(*this, "scale", getScale());
}

LogicalResult RmsNormOp::verify() {
  return verifyNormParam(*this, "scale", getScale());
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

namespace {
/// Checks query, key and value of an attention (and its mask and scale) and
/// returns the output's type: [..., Sq, Dv].
template <typename OpT>
FailureOr<RankedTensorType>
attentionOutputType(std::optional<Location> loc, Value query, Value key,
                    Value value, Value mask, FloatAttr scaleAttr) {
  auto q = dyn_cast<RankedTensorType>(query.getType());
  auto k = dyn_cast<RankedTensorType>(key.getType());
  auto v = dyn_cast<RankedTensorType>(value.getType());
  if (!q || !k || !v)
    return opError<OpT>(loc, "expects ranked tensor operands");
  int64_t rank = q.getRank();
  if (rank < 2)
    return opError<OpT>(loc, "query must have rank >= 2 [..., S, D], "
                             "got rank " +
                                 Twine(rank));
  if (k.getRank() != rank || v.getRank() != rank)
    return opError<OpT>(loc, "query, key and value must have the "
                             "same rank");
  if (k.getElementType() != q.getElementType() ||
      v.getElementType() != q.getElementType())
    return opError<OpT>(loc, "query, key and value must have the "
                             "same element type");
  ArrayRef<int64_t> batch = q.getShape().drop_back(2);
  if (k.getShape().drop_back(2) != batch || v.getShape().drop_back(2) != batch)
    return opError<OpT>(loc, "leading dimensions differ: query " +
                                 shapeString(q.getShape()) + ", key " +
                                 shapeString(k.getShape()) + ", value " +
                                 shapeString(v.getShape()));
  int64_t sq = q.getDimSize(rank - 2), d = q.getDimSize(rank - 1);
  int64_t sk = k.getDimSize(rank - 2);
  if (k.getDimSize(rank - 1) != d)
    return opError<OpT>(loc, "key head size " + Twine(k.getDimSize(rank - 1)) +
                                 " differs from query head size " + Twine(d));
  if (v.getDimSize(rank - 2) != sk)
    return opError<OpT>(loc, "value has " + Twine(v.getDimSize(rank - 2)) +
                                 " positions but key has " + Twine(sk));
  if (mask) {
    auto m = cast<RankedTensorType>(mask.getType());
    SmallVector<int64_t> expected(batch);
    expected.append({sq, sk});
    if (m.getShape() != ArrayRef<int64_t>(expected))
      return opError<OpT>(loc, "mask has shape " + shapeString(m.getShape()) +
                                   ", expected " + shapeString(expected));
    if (m.getElementType() != q.getElementType())
      return opError<OpT>(loc, "mask must have the element type of "
                               "the query");
  }
  if (scaleAttr && !(scaleAttr.getValueAsDouble() > 0.0))
    return opError<OpT>(loc, "scale must be positive");
  SmallVector<int64_t> shape(batch);
  shape.append({sq, v.getDimSize(rank - 1)});
  return q.clone(shape);
}
} // namespace

LogicalResult AttentionOp::inferReturnTypes(MLIRContext *context,
                                            std::optional<Location> loc,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &inferred) {
  FailureOr<RankedTensorType> out = attentionOutputType<AttentionOp>(
      loc, adaptor.getQuery(), adaptor.getKey(), adaptor.getValue(),
      adaptor.getMask(), adaptor.getScaleAttr());
  if (failed(out))
    return failure();
  inferred.push_back(*out);
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionGradOp
//===----------------------------------------------------------------------===//

LogicalResult
AttentionGradOp::inferReturnTypes(MLIRContext *context,
                                  std::optional<Location> loc, Adaptor adaptor,
                                  SmallVectorImpl<Type> &inferred) {
  FailureOr<RankedTensorType> out = attentionOutputType<AttentionGradOp>(
      loc, adaptor.getQuery(), adaptor.getKey(), adaptor.getValue(),
      /*mask=*/Value(), adaptor.getScaleAttr());
  if (failed(out))
    return failure();
  for (Value v : {adaptor.getOutput(), adaptor.getOutputGrad()})
    if (v.getType() != *out)
      return opError<AttentionGradOp>(
          loc, "output and output_grad must have the attention's result "
               "type " +
                   typeString(*out) + ", got " + typeString(v.getType()));
  for (Value v : {adaptor.getQuery(), adaptor.getKey(), adaptor.getValue()})
    inferred.push_back(v.getType());
  return success();
}

//===----------------------------------------------------------------------===//
// CrossEntropyOp
//===----------------------------------------------------------------------===//

LogicalResult
CrossEntropyOp::inferReturnTypes(MLIRContext *context,
                                 std::optional<Location> loc, Adaptor adaptor,
                                 SmallVectorImpl<Type> &inferred) {
  auto logits = dyn_cast<RankedTensorType>(adaptor.getLogits().getType());
  auto labels = dyn_cast<RankedTensorType>(adaptor.getLabels().getType());
  if (!logits || !labels)
    return opError<CrossEntropyOp>(loc, "expects ranked tensor operands");
  if (logits.getRank() < 1)
    return opError<CrossEntropyOp>(loc, "logits must have rank >= 1 [..., C]");
  if (labels.getShape() != logits.getShape().drop_back())
    return opError<CrossEntropyOp>(
        loc, "labels have shape " + shapeString(labels.getShape()) +
                 " but logits " + shapeString(logits.getShape()) +
                 " need labels of shape " +
                 shapeString(logits.getShape().drop_back()));
  inferred.push_back(RankedTensorType::get({}, logits.getElementType()));
  return success();
}

//===----------------------------------------------------------------------===//
// Verifiers of ops with inferred result types
//===----------------------------------------------------------------------===//

// The InferTypeOpInterface check runs after the op's own verifier and reports
// only "failed to infer returned types"; running the inference here first
// reports its precise message, or the mismatching result type, at the op.
template <typename OpT> static LogicalResult verifyByInference(OpT op) {
  SmallVector<Type> inferred;
  if (failed(OpT::inferReturnTypes(op.getContext(), op.getLoc(),
                                   typename OpT::Adaptor(op), inferred)))
    return failure();
  if (TypeRange(inferred) != op->getResultTypes())
    return op.emitOpError()
           << "result type " << op->getResultTypes()
           << " does not match the inferred type " << TypeRange(inferred);
  return success();
}
#define AUTOPAR_VERIFY_BY_INFERENCE(OP)                                        \
  LogicalResult OP::verify() { return verifyByInference(*this); }
AUTOPAR_VERIFY_BY_INFERENCE(CompareOp)
AUTOPAR_VERIFY_BY_INFERENCE(DotOp)
AUTOPAR_VERIFY_BY_INFERENCE(ReduceOp)
AUTOPAR_VERIFY_BY_INFERENCE(TransposeOp)
AUTOPAR_VERIFY_BY_INFERENCE(SliceOp)
AUTOPAR_VERIFY_BY_INFERENCE(ConcatOp)
AUTOPAR_VERIFY_BY_INFERENCE(GatherOp)
AUTOPAR_VERIFY_BY_INFERENCE(EmbeddingOp)
AUTOPAR_VERIFY_BY_INFERENCE(AttentionOp)
AUTOPAR_VERIFY_BY_INFERENCE(AttentionGradOp)
AUTOPAR_VERIFY_BY_INFERENCE(CrossEntropyOp)
AUTOPAR_VERIFY_BY_INFERENCE(LinearOp)
AUTOPAR_VERIFY_BY_INFERENCE(ScatterAddOp)
#undef AUTOPAR_VERIFY_BY_INFERENCE

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

/// The grid must be a `shard.grid` and the axes distinct axes of it.
static LogicalResult verifyGridAxes(Operation *op, FlatSymbolRefAttr gridName,
                                    ArrayRef<int64_t> axes,
                                    SymbolTableCollection &symbols) {
  auto grid = symbols.lookupNearestSymbolFrom<shard::GridOp>(op, gridName);
  if (!grid)
    return op->emitOpError("names ")
           << gridName << ", which is not a shard.grid in scope";
  if (axes.empty())
    return op->emitOpError("needs at least one grid axis");
  llvm::SmallBitVector seen(grid.getRank());
  for (int64_t axis : axes) {
    if (axis < 0 || axis >= grid.getRank())
      return op->emitOpError("grid axis ")
             << axis << " is out of range for " << gridName << " of rank "
             << grid.getRank();
    if (seen.test(axis))
      return op->emitOpError("grid axis ") << axis << " appears twice";
    seen.set(axis);
  }
  return success();
}

LogicalResult AllReduceOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyGridAxes(*this, getGridAttr(), getGridAxes(), symbols);
}

LogicalResult AllReduceMaxOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyGridAxes(*this, getGridAttr(), getGridAxes(), symbols);
}

LogicalResult
GradAllReduceOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyGridAxes(*this, getGridAttr(), getGridAxes(), symbols);
}

/// The number of processes in a group along `axes` of the grid.
static int64_t groupSize(shard::GridOp grid, ArrayRef<int64_t> axes) {
  int64_t n = 1;
  for (int64_t axis : axes)
    n *= grid.getShape()[axis];
  return n;
}

/// Grid, axes and shapes: the result is the operand with `dim` multiplied
/// (`gather`) or divided by the group size.
template <typename OpT>
static LogicalResult verifyDimCollective(OpT op, bool gather,
                                         SymbolTableCollection &symbols) {
  if (failed(verifyGridAxes(op, op.getGridAttr(), op.getGridAxes(), symbols)))
    return failure();
  auto grid =
      symbols.lookupNearestSymbolFrom<shard::GridOp>(op, op.getGridAttr());
  RankedTensorType in = op.getOperand().getType(), out = op.getType();
  int64_t dim = op.getDim(), n = groupSize(grid, op.getGridAxes());
  if (dim >= in.getRank())
    return op.emitOpError("dim ")
           << dim << " is out of range for rank " << in.getRank();
  SmallVector<int64_t> want(in.getShape());
  if (gather) {
    want[dim] *= n;
  } else {
    if (want[dim] % n)
      return op.emitOpError("dimension ")
             << dim << " of size " << want[dim]
             << " does not divide among the group's " << n << " processes";
    want[dim] /= n;
  }
  if (in.getElementType() != out.getElementType() ||
      out.getShape() != ArrayRef<int64_t>(want))
    return op.emitOpError("result type ")
           << out << " does not match "
           << RankedTensorType::get(want, in.getElementType());
  return success();
}

LogicalResult AllGatherOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyDimCollective(*this, /*gather=*/true, symbols);
}

LogicalResult
ReduceScatterOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyDimCollective(*this, /*gather=*/false, symbols);
}

LogicalResult LocalSliceOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyDimCollective(*this, /*gather=*/false, symbols);
}

LogicalResult
AllReduceStartOp::verifySymbolUses(SymbolTableCollection &symbols) {
  return verifyGridAxes(*this, getGridAttr(), getGridAxes(), symbols);
}

LogicalResult AllReduceWaitOp::verify() {
  auto start = getRequest().getDefiningOp<AllReduceStartOp>();
  if (!start)
    return emitOpError("waits for a request that no autopar.all_reduce_start "
                       "made");
  if (start.getOperand().getType() != getType())
    return emitOpError("result type ")
           << getType() << " differs from the started operand's "
           << start.getOperand().getType();
  if (!start->hasOneUse())
    return emitOpError("shares its request with another wait; each start is "
                       "waited for once");
  return success();
}

LogicalResult GridIndexOp::verifySymbolUses(SymbolTableCollection &symbols) {
  int64_t axis = int64_t(getAxis());
  return verifyGridAxes(*this, getGridAttr(), ArrayRef<int64_t>(axis), symbols);
}
