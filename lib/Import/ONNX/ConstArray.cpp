//===- ConstArray.cpp - import-time evaluation of small tensors -----------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "ConstArray.h"

#include "llvm/ADT/APFloat.h"
#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::autopar::onnx_import;

SmallVector<int64_t>
mlir::autopar::onnx_import::stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

std::optional<SmallVector<int64_t>>
mlir::autopar::onnx_import::broadcastShapes(ArrayRef<int64_t> a,
                                            ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  SmallVector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

long double mlir::autopar::onnx_import::roundTo(Type type, long double v) {
  if (type.isInteger(1))
    return v != 0 ? 1 : 0;
  if (auto intType = dyn_cast<IntegerType>(type)) {
    if (std::isnan(v))
      return 0;
    long double t = std::trunc(v);
    unsigned width = intType.getWidth();
    long double lo = -std::ldexp(1.0L, width - 1);
    long double hi = std::ldexp(1.0L, width - 1) - 1;
    return std::max(lo, std::min(hi, t));
  }
  if (type.isF32())
    return (long double)(float)v;
  if (type.isF64())
    return (long double)(double)v;
  if (auto floatType = dyn_cast<FloatType>(type)) {
    llvm::APFloat f((double)v);
    bool lost;
    f.convert(floatType.getFloatSemantics(), llvm::APFloat::rmNearestTiesToEven,
              &lost);
    return f.convertToDouble();
  }
  return v;
}

ConstArray ConstArray::fromAttr(DenseElementsAttr attr) {
  ConstArray a;
  auto type = cast<RankedTensorType>(attr.getType());
  a.elementType = type.getElementType();
  a.shape.assign(type.getShape().begin(), type.getShape().end());
  if (isa<FloatType>(a.elementType)) {
    for (const APFloat &v : attr.getValues<APFloat>())
      a.values.push_back(v.convertToDouble());
  } else if (a.elementType.isInteger(1)) {
    for (bool v : attr.getValues<bool>())
      a.values.push_back(v ? 1 : 0);
  } else {
    for (const APInt &v : attr.getValues<APInt>())
      a.values.push_back((long double)v.getSExtValue());
  }
  return a;
}

DenseElementsAttr ConstArray::toAttr() const {
  RankedTensorType t = type();
  if (auto floatType = dyn_cast<FloatType>(elementType)) {
    SmallVector<APFloat> vals;
    for (long double v : values) {
      APFloat f((double)v);
      bool lost;
      f.convert(floatType.getFloatSemantics(), APFloat::rmNearestTiesToEven,
                &lost);
      vals.push_back(f);
    }
    return DenseElementsAttr::get(t, vals);
  }
  if (elementType.isInteger(1)) {
    SmallVector<bool> vals;
    for (long double v : values)
      vals.push_back(v != 0);
    return DenseElementsAttr::get(t, vals);
  }
  unsigned width = elementType.getIntOrFloatBitWidth();
  SmallVector<APInt> vals;
  for (long double v : values)
    vals.push_back(APInt(width, (uint64_t)(int64_t)roundTo(elementType, v),
                         /*isSigned=*/true));
  return DenseElementsAttr::get(t, vals);
}

std::vector<int64_t> ConstArray::ints() const {
  std::vector<int64_t> out;
  const long double lo = (long double)std::numeric_limits<int64_t>::min();
  const long double hi = (long double)std::numeric_limits<int64_t>::max();
  for (long double v : values) {
    if (std::isnan(v))
      out.push_back(0);
    else if (v <= lo)
      out.push_back(std::numeric_limits<int64_t>::min());
    else if (v >= hi)
      out.push_back(std::numeric_limits<int64_t>::max());
    else
      out.push_back((int64_t)v);
  }
  return out;
}

ConstArray ConstArray::scalarLike(Type elementType, long double v) {
  ConstArray a;
  a.elementType = elementType;
  a.values = {roundTo(elementType, v)};
  return a;
}

ConstArray ConstArray::vector(Type elementType, ArrayRef<int64_t> values) {
  ConstArray a;
  a.elementType = elementType;
  a.shape = {int64_t(values.size())};
  for (int64_t v : values)
    a.values.push_back((long double)v);
  return a;
}

ConstArray mlir::autopar::onnx_import::mapElements(
    ArrayRef<const ConstArray *> operands, Type resultType,
    llvm::function_ref<long double(ArrayRef<long double>)> fn) {
  SmallVector<int64_t> shape;
  for (const ConstArray *op : operands)
    shape = *broadcastShapes(shape, op->shape);
  ConstArray out;
  out.elementType = resultType;
  out.shape = shape;
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  SmallVector<int64_t> outStrides = stridesOf(shape);
  SmallVector<SmallVector<int64_t>> opStrides;
  for (const ConstArray *op : operands) {
    // Stride 0 along broadcast dimensions.
    SmallVector<int64_t> s(shape.size(), 0);
    SmallVector<int64_t> own = stridesOf(op->shape);
    size_t lead = shape.size() - op->shape.size();
    for (size_t i = 0; i < op->shape.size(); ++i)
      s[lead + i] = op->shape[i] == 1 ? 0 : own[i];
    opStrides.push_back(s);
  }
  SmallVector<long double> args(operands.size());
  for (int64_t linear = 0; linear < count; ++linear) {
    for (size_t k = 0; k < operands.size(); ++k) {
      int64_t offset = 0, rest = linear;
      for (size_t d = 0; d < shape.size(); ++d) {
        int64_t idx = rest / outStrides[d];
        rest %= outStrides[d];
        offset += idx * opStrides[k][d];
      }
      args[k] = operands[k]->values[offset];
    }
    out.values.push_back(roundTo(resultType, fn(args)));
  }
  return out;
}

ConstArray mlir::autopar::onnx_import::transpose(const ConstArray &a,
                                                 ArrayRef<int64_t> perm) {
  ConstArray out;
  out.elementType = a.elementType;
  for (int64_t p : perm)
    out.shape.push_back(a.shape[p]);
  SmallVector<int64_t> inStrides = stridesOf(a.shape);
  SmallVector<int64_t> outStrides = stridesOf(out.shape);
  out.values.resize(a.values.size());
  for (int64_t linear = 0; linear < a.size(); ++linear) {
    int64_t rest = linear, offset = 0;
    for (size_t d = 0; d < out.shape.size(); ++d) {
      int64_t idx = rest / outStrides[d];
      rest %= outStrides[d];
      offset += idx * inStrides[perm[d]];
    }
    out.values[linear] = a.values[offset];
  }
  return out;
}

ConstArray mlir::autopar::onnx_import::gather(const ConstArray &data,
                                              const ConstArray &indices,
                                              int64_t axis) {
  ConstArray out;
  out.elementType = data.elementType;
  out.shape.append(data.shape.begin(), data.shape.begin() + axis);
  out.shape.append(indices.shape.begin(), indices.shape.end());
  out.shape.append(data.shape.begin() + axis + 1, data.shape.end());
  int64_t outer = 1, inner = 1, n = data.shape[axis];
  for (int64_t i = 0; i < axis; ++i)
    outer *= data.shape[i];
  for (size_t i = axis + 1; i < data.shape.size(); ++i)
    inner *= data.shape[i];
  std::vector<int64_t> idx = indices.ints();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : idx) {
      int64_t j = k < 0 ? k + n : k;
      j = std::max<int64_t>(0, std::min(j, n - 1));
      for (int64_t i = 0; i < inner; ++i)
        out.values.push_back(data.values[(o * n + j) * inner + i]);
    }
  return out;
}

ConstArray mlir::autopar::onnx_import::slice(const ConstArray &a,
                                             ArrayRef<int64_t> starts,
                                             ArrayRef<int64_t> sizes,
                                             ArrayRef<int64_t> steps) {
  ConstArray out;
  out.elementType = a.elementType;
  out.shape.assign(sizes.begin(), sizes.end());
  SmallVector<int64_t> inStrides = stridesOf(a.shape);
  SmallVector<int64_t> outStrides = stridesOf(out.shape);
  int64_t count = 1;
  for (int64_t s : sizes)
    count *= s;
  for (int64_t linear = 0; linear < count; ++linear) {
    int64_t rest = linear, offset = 0;
    for (size_t d = 0; d < sizes.size(); ++d) {
      int64_t idx = rest / outStrides[d];
      rest %= outStrides[d];
      offset += (starts[d] + idx * steps[d]) * inStrides[d];
    }
    out.values.push_back(a.values[offset]);
  }
  return out;
}

ConstArray
mlir::autopar::onnx_import::concat(ArrayRef<const ConstArray *> parts,
                                   int64_t axis) {
  ConstArray out;
  out.elementType = parts.front()->elementType;
  out.shape = parts.front()->shape;
  out.shape[axis] = 0;
  for (const ConstArray *p : parts)
    out.shape[axis] += p->shape[axis];
  int64_t outer = 1;
  for (int64_t i = 0; i < axis; ++i)
    outer *= out.shape[i];
  for (int64_t o = 0; o < outer; ++o)
    for (const ConstArray *p : parts) {
      int64_t block = 1;
      for (size_t i = axis; i < p->shape.size(); ++i)
        block *= p->shape[i];
      out.values.insert(out.values.end(), p->values.begin() + o * block,
                        p->values.begin() + (o + 1) * block);
    }
  return out;
}
