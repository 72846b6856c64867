//===- ONNXImporter.cpp - ONNX models into the autopar dialect ------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// Walks the (topologically sorted) ONNX graph once. Values whose contents are
// known at import time (constants, integer initializers, and everything
// computed only from them: shapes, indices, masks) are evaluated with
// ConstArray and only materialized as autopar.constant where a runtime op
// needs them; all other values become autopar ops with static shapes.
// ONNX's implicit numpy broadcasting is made explicit with autopar.broadcast.
//
//===----------------------------------------------------------------------===//

#include "autopar/Import/ONNX/ONNXImporter.h"

#include "ConstArray.h"

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>

using namespace mlir;
using namespace mlir::autopar;
using namespace mlir::autopar::onnx_import;

namespace {

constexpr int64_t kMinOpset = 13, kMaxOpset = 21;

/// A value of the graph being imported.
struct Tensor {
  RankedTensorType type;
  Value value;                        ///< the IR value, once materialized
  std::optional<ConstArray> constant; ///< contents, when known at import
};

class Importer {
public:
  Importer(MLIRContext *ctx, onnx::ModelProto &model, StringRef sourceName,
           StringRef modelDir, const ONNXImportOptions &options)
      : ctx(ctx), builder(ctx), model(model), sourceName(sourceName),
        modelDir(modelDir), options(options),
        fileLoc(FileLineColLoc::get(ctx, sourceName, 0, 0)) {}

  FailureOr<ImportedModel> run();

private:
  using Handler = std::function<LogicalResult(const onnx::NodeProto &)>;

  // Diagnostics.
  Location locOf(const onnx::NodeProto &node) {
    std::string name = node.name().empty()
                           ? node.op_type() + "#" + std::to_string(nodeIndex)
                           : node.name();
    return NameLoc::get(StringAttr::get(ctx, name), fileLoc);
  }
  InFlightDiagnostic nodeError(const onnx::NodeProto &node) {
    return emitError(locOf(node))
           << node.op_type() << " node '" << node.name() << "': ";
  }

  // Types and tensors.
  FailureOr<Type> elementType(int32_t onnxType, const Twine &what);
  FailureOr<ConstArray> readConstant(const onnx::TensorProto &tensor);
  LogicalResult readRawData(const onnx::TensorProto &tensor, Type type,
                            int64_t count, std::vector<char> &out);
  FailureOr<SmallVector<int64_t>> dimsOf(const onnx::TensorProto &tensor);

  // Values.
  Value materialize(Tensor &t, Location loc);
  Tensor *operand(const onnx::NodeProto &node, int index);
  Value use(const onnx::NodeProto &node, int index) {
    return materialize(*operand(node, index), locOf(node));
  }
  bool hasInput(const onnx::NodeProto &node, int index) {
    return index < node.input_size() && !node.input(index).empty();
  }
  bool allConstant(const onnx::NodeProto &node) {
    for (int i = 0; i < node.input_size(); ++i)
      if (hasInput(node, i) && !operand(node, i)->constant)
        return false;
    return true;
  }
  void define(const onnx::NodeProto &node, int index, Value v) {
    if (index < node.output_size() && !node.output(index).empty())
      values[node.output(index)] =
          Tensor{cast<RankedTensorType>(v.getType()), v, std::nullopt};
  }
  void defineConst(const onnx::NodeProto &node, int index, ConstArray c) {
    if (index < node.output_size() && !node.output(index).empty())
      values[node.output(index)] = Tensor{c.type(), Value(), std::move(c)};
  }
  FailureOr<std::vector<int64_t>> constInts(const onnx::NodeProto &node,
                                            int index, StringRef what);

  // Attributes.
  const onnx::AttributeProto *attr(const onnx::NodeProto &node,
                                   StringRef name) {
    for (const onnx::AttributeProto &a : node.attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }
  int64_t intAttr(const onnx::NodeProto &node, StringRef name, int64_t dflt) {
    const onnx::AttributeProto *a = attr(node, name);
    return a ? a->i() : dflt;
  }
  float floatAttr(const onnx::NodeProto &node, StringRef name, float dflt) {
    const onnx::AttributeProto *a = attr(node, name);
    return a ? a->f() : dflt;
  }
  std::optional<std::vector<int64_t>> intsAttr(const onnx::NodeProto &node,
                                               StringRef name) {
    const onnx::AttributeProto *a = attr(node, name);
    if (!a)
      return std::nullopt;
    return std::vector<int64_t>(a->ints().begin(), a->ints().end());
  }
  /// Normalizes a possibly negative axis; fails with a message if invalid.
  FailureOr<int64_t> axis(const onnx::NodeProto &node, int64_t a,
                          int64_t rank) {
    if (a < -rank || a >= std::max<int64_t>(rank, 1)) {
      nodeError(node) << "axis " << a << " is out of range for rank " << rank;
      return failure();
    }
    return a < 0 ? a + rank : a;
  }

  // Building blocks.
  /// Creates an op whose result type is inferred, reporting an inference
  /// failure (operands that do not fit together) as a diagnostic at `loc`
  /// instead of the fatal error the ODS builders raise.
  template <typename OpT, typename... Args>
  FailureOr<Value> createInferred(Location loc, Args &&...args);
  Value broadcastTo(Value v, ArrayRef<int64_t> shape, Location loc);
  FailureOr<SmallVector<Value>> broadcastAll(const onnx::NodeProto &node,
                                             ArrayRef<Value> operands);
  Value reshape(Value v, ArrayRef<int64_t> shape, Location loc);
  Value splat(Type elementType, ArrayRef<int64_t> shape, double v,
              Location loc);

  // Conversion.
  void registerHandlers();
  LogicalResult convertNode(const onnx::NodeProto &node);
  template <typename OpT> void unary(StringRef name);
  template <typename OpT>
  void binary(StringRef name,
              std::function<long double(long double, long double)> fold);

  MLIRContext *ctx;
  OpBuilder builder;
  /// Mutable so that parameter bytes can be released as they are copied out.
  onnx::ModelProto &model;
  std::string sourceName, modelDir;
  const ONNXImportOptions &options;
  Location fileLoc;
  int64_t opset = 0;
  int nodeIndex = 0;
  llvm::StringMap<Tensor> values;
  llvm::StringMap<Handler> handlers;
};

//===----------------------------------------------------------------------===//
// Types and tensor data
//===----------------------------------------------------------------------===//

FailureOr<Type> Importer::elementType(int32_t onnxType, const Twine &what) {
  switch (onnxType) {
  case onnx::TensorProto::FLOAT:
    return Type(builder.getF32Type());
  case onnx::TensorProto::DOUBLE:
    return Type(builder.getF64Type());
  case onnx::TensorProto::FLOAT16:
    return Type(builder.getF16Type());
  case onnx::TensorProto::BFLOAT16:
    return Type(builder.getBF16Type());
  case onnx::TensorProto::INT64:
    return Type(builder.getI64Type());
  case onnx::TensorProto::INT32:
    return Type(builder.getI32Type());
  case onnx::TensorProto::BOOL:
    return Type(builder.getI1Type());
  default:
    emitError(fileLoc) << what << " has ONNX element type "
                       << onnx::TensorProto::DataType_Name(
                              onnx::TensorProto::DataType(onnxType))
                       << ", which autopar does not support (float, double, "
                          "float16, bfloat16, int64, int32, bool)";
    return failure();
  }
}

FailureOr<SmallVector<int64_t>>
Importer::dimsOf(const onnx::TensorProto &tensor) {
  SmallVector<int64_t> dims;
  for (int64_t d : tensor.dims()) {
    if (d < 0) {
      emitError(fileLoc) << "tensor '" << tensor.name()
                         << "' has negative dimension " << d;
      return failure();
    }
    dims.push_back(d);
  }
  return dims;
}

/// Reads the tensor's contents as little-endian bytes of `type` elements
/// (i1 as one byte each), from raw_data, the typed fields, or external data.
LogicalResult Importer::readRawData(const onnx::TensorProto &tensor, Type type,
                                    int64_t count, std::vector<char> &out) {
  unsigned width = type.getIntOrFloatBitWidth();
  size_t elementBytes = width == 1 ? 1 : width / 8;
  uint64_t bytes = uint64_t(count) * elementBytes;
  auto fail = [&](const Twine &why) {
    emitError(fileLoc) << "tensor '" << tensor.name() << "': " << why;
    return failure();
  };
  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const onnx::StringStringEntryProto &e : tensor.external_data()) {
      if (e.key() == "location")
        location = e.value();
      else if (e.key() == "offset" || e.key() == "length") {
        int64_t v;
        if (StringRef(e.value()).getAsInteger(10, v) || v < 0)
          return fail("malformed external data " + e.key() + " '" + e.value() +
                      "'");
        (e.key() == "offset" ? offset : length) = v;
      }
    }
    if (location.empty())
      return fail("external data without a location");
    if (llvm::sys::path::is_absolute(location))
      return fail("external data location '" + location +
                  "' is absolute; it must be relative to the model's folder");
    for (StringRef part : llvm::make_range(llvm::sys::path::begin(location),
                                           llvm::sys::path::end(location)))
      if (part == "..")
        return fail("external data location '" + location + "' contains '..'");
    llvm::SmallString<256> path(modelDir), realDir, realPath;
    llvm::sys::path::append(path, location);
    if (llvm::sys::fs::real_path(modelDir.empty() ? "." : modelDir, realDir) ||
        llvm::sys::fs::real_path(path, realPath))
      return fail("cannot open external data file '" + location + "'");
    if (!StringRef(realPath).starts_with(std::string(realDir) + "/"))
      return fail("external data location '" + location +
                  "' leaves the model's folder (through a symbolic link)");
    auto buffer = llvm::MemoryBuffer::getFile(realPath, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!buffer)
      return fail("cannot read external data file '" + location +
                  "': " + buffer.getError().message());
    uint64_t size = (*buffer)->getBufferSize();
    if (length < 0)
      length = size > uint64_t(offset) ? size - offset : 0;
    if (uint64_t(offset) > size || uint64_t(length) > size - offset)
      return fail("external data [" + Twine(offset) + ", " +
                  Twine(offset + length) + ") points past the end of '" +
                  location + "' (" + Twine(size) + " bytes)");
    if (uint64_t(length) != bytes)
      return fail("external data holds " + Twine(length) + " bytes, expected " +
                  Twine(bytes));
    const char *begin = (*buffer)->getBufferStart() + offset;
    out.assign(begin, begin + length);
    return success();
  }
  if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != bytes)
      return fail("raw_data holds " + Twine(tensor.raw_data().size()) +
                  " bytes, expected " + Twine(bytes));
    out.assign(tensor.raw_data().begin(), tensor.raw_data().end());
    if (width == 1)
      for (char &c : out)
        c = c != 0;
    return success();
  }
  out.resize(bytes);
  auto copyFrom = [&](auto &field, auto convert) -> LogicalResult {
    if (int64_t(field.size()) != count)
      return fail("holds " + Twine(field.size()) + " values, expected " +
                  Twine(count));
    for (int64_t i = 0; i < count; ++i) {
      auto v = convert(field.Get(i));
      std::memcpy(out.data() + i * elementBytes, &v, elementBytes);
    }
    return success();
  };
  switch (tensor.data_type()) {
  case onnx::TensorProto::FLOAT:
    return copyFrom(tensor.float_data(), [](float v) { return v; });
  case onnx::TensorProto::DOUBLE:
    return copyFrom(tensor.double_data(), [](double v) { return v; });
  case onnx::TensorProto::INT64:
    return copyFrom(tensor.int64_data(), [](int64_t v) { return v; });
  case onnx::TensorProto::INT32:
    return copyFrom(tensor.int32_data(), [](int32_t v) { return v; });
  case onnx::TensorProto::BOOL:
    return copyFrom(tensor.int32_data(),
                    [](int32_t v) { return uint8_t(v != 0); });
  case onnx::TensorProto::FLOAT16:
  case onnx::TensorProto::BFLOAT16:
    return copyFrom(tensor.int32_data(), [](int32_t v) { return uint16_t(v); });
  default:
    return fail("unsupported data type");
  }
}

FailureOr<ConstArray> Importer::readConstant(const onnx::TensorProto &tensor) {
  FailureOr<Type> type =
      elementType(tensor.data_type(), "tensor '" + tensor.name() + "'");
  FailureOr<SmallVector<int64_t>> dims = dimsOf(tensor);
  if (failed(type) || failed(dims))
    return failure();
  std::optional<int64_t> count = int64_t(1);
  for (int64_t d : *dims)
    if (llvm::MulOverflow(*count, d, *count) || *count > (int64_t(1) << 31)) {
      emitError(fileLoc) << "tensor '" << tensor.name()
                         << "' is too large to hold as a constant";
      return failure();
    }
  std::vector<char> bytes;
  if (failed(readRawData(tensor, *type, *count, bytes)))
    return failure();
  ConstArray c;
  c.elementType = *type;
  c.shape = *dims;
  unsigned width = type->getIntOrFloatBitWidth();
  for (int64_t i = 0; i < *count; ++i) {
    const char *p = bytes.data() + i * (width == 1 ? 1 : width / 8);
    long double v = 0;
    if (type->isF32()) {
      float f;
      std::memcpy(&f, p, 4);
      v = f;
    } else if (type->isF64()) {
      double f;
      std::memcpy(&f, p, 8);
      v = f;
    } else if (type->isInteger(64)) {
      int64_t x;
      std::memcpy(&x, p, 8);
      v = x;
    } else if (type->isInteger(32)) {
      int32_t x;
      std::memcpy(&x, p, 4);
      v = x;
    } else if (type->isInteger(1)) {
      v = *p != 0;
    } else {
      uint16_t bits;
      std::memcpy(&bits, p, 2);
      APFloat f(cast<FloatType>(*type).getFloatSemantics(), APInt(16, bits));
      v = f.convertToDouble();
    }
    c.values.push_back(v);
  }
  return c;
}

//===----------------------------------------------------------------------===//
// Values and building blocks
//===----------------------------------------------------------------------===//

Value Importer::materialize(Tensor &t, Location loc) {
  if (!t.value) {
    // Constants go to the start of the function so every use sees them.
    OpBuilder::InsertionGuard guard(builder);
    Block *block = builder.getInsertionBlock();
    builder.setInsertionPointToStart(block);
    t.value = ConstantOp::create(builder, loc, t.type, t.constant->toAttr());
  }
  return t.value;
}

Tensor *Importer::operand(const onnx::NodeProto &node, int index) {
  auto it = values.find(node.input(index));
  return it == values.end() ? nullptr : &it->second;
}

FailureOr<std::vector<int64_t>> Importer::constInts(const onnx::NodeProto &node,
                                                    int index, StringRef what) {
  Tensor *t = operand(node, index);
  if (!t->constant) {
    nodeError(node) << what << " (input " << index
                    << ") must be known at import time; it is computed "
                       "from runtime values";
    return failure();
  }
  return t->constant->ints();
}

Value Importer::broadcastTo(Value v, ArrayRef<int64_t> shape, Location loc) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getShape() == shape)
    return v;
  SmallVector<int64_t> dims;
  for (int64_t i = 0; i < type.getRank(); ++i)
    dims.push_back(int64_t(shape.size()) - type.getRank() + i);
  return BroadcastOp::create(builder, loc, type.clone(shape), v, dims);
}

FailureOr<SmallVector<Value>>
Importer::broadcastAll(const onnx::NodeProto &node, ArrayRef<Value> operands) {
  SmallVector<int64_t> shape;
  for (Value v : operands) {
    auto next =
        broadcastShapes(shape, cast<RankedTensorType>(v.getType()).getShape());
    if (!next) {
      auto diag = nodeError(node) << "operand shapes do not broadcast:";
      for (Value w : operands)
        diag << " " << w.getType();
      return failure();
    }
    shape = *next;
  }
  SmallVector<Value> out;
  for (Value v : operands)
    out.push_back(broadcastTo(v, shape, locOf(node)));
  return out;
}

Value Importer::reshape(Value v, ArrayRef<int64_t> shape, Location loc) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getShape() == shape)
    return v;
  return ReshapeOp::create(builder, loc, type.clone(shape), v);
}

Value Importer::splat(Type elementType, ArrayRef<int64_t> shape, double v,
                      Location loc) {
  auto type = RankedTensorType::get(shape, elementType);
  Attribute scalar = isa<FloatType>(elementType)
                         ? Attribute(FloatAttr::get(elementType, v))
                         : Attribute(IntegerAttr::get(elementType, int64_t(v)));
  return ConstantOp::create(builder, loc, type,
                            SplatElementsAttr::get(type, scalar));
}

template <typename OpT, typename... Args>
FailureOr<Value> Importer::createInferred(Location loc, Args &&...args) {
  OperationState state(loc, OpT::getOperationName());
  // The explicit-result-type builder runs no inference; the placeholder type
  // is replaced below.
  OpT::build(builder, state, builder.getNoneType(),
             std::forward<Args>(args)...);
  SmallVector<Type> types;
  typename OpT::Adaptor adaptor(state.operands,
                                state.attributes.getDictionary(ctx),
                                state.getRawProperties(), state.regions);
  if (failed(OpT::inferReturnTypes(ctx, loc, adaptor, types)))
    return failure();
  state.types.assign(types.begin(), types.end());
  return builder.create(state)->getResult(0);
}

//===----------------------------------------------------------------------===//
// Op handlers
//===----------------------------------------------------------------------===//

template <typename OpT> void Importer::unary(StringRef name) {
  handlers[name] = [this](const onnx::NodeProto &node) {
    define(node, 0, OpT::create(builder, locOf(node), use(node, 0)));
    return success();
  };
}

template <typename OpT>
void Importer::binary(
    StringRef name, std::function<long double(long double, long double)> fold) {
  handlers[name] = [this, fold](const onnx::NodeProto &node) -> LogicalResult {
    if (allConstant(node) && fold) {
      const ConstArray &a = *operand(node, 0)->constant;
      const ConstArray &b = *operand(node, 1)->constant;
      if (!broadcastShapes(a.shape, b.shape))
        return nodeError(node) << "operand shapes do not broadcast";
      defineConst(
          node, 0,
          mapElements({&a, &b}, a.elementType, [&](ArrayRef<long double> v) {
            return fold(v[0], v[1]);
          }));
      return success();
    }
    auto ops = broadcastAll(node, {use(node, 0), use(node, 1)});
    if (failed(ops))
      return failure();
    if ((*ops)[0].getType() != (*ops)[1].getType())
      return nodeError(node)
             << "operands have different element types " << (*ops)[0].getType()
             << " and " << (*ops)[1].getType();
    define(node, 0, OpT::create(builder, locOf(node), (*ops)[0], (*ops)[1]));
    return success();
  };
}

static long double truncDiv(long double a, long double b, bool isInt) {
  if (!isInt)
    return a / b;
  return b == 0 ? 0 : std::trunc(a / b);
}

void Importer::registerHandlers() {
  unary<NegOp>("Neg");
  unary<AbsOp>("Abs");
  unary<ExpOp>("Exp");
  unary<LogOp>("Log");
  unary<TanhOp>("Tanh");
  unary<SigmoidOp>("Sigmoid");
  unary<ReluOp>("Relu");
  unary<ErfOp>("Erf");

  binary<AddOp>("Add", [](long double a, long double b) { return a + b; });
  binary<SubOp>("Sub", [](long double a, long double b) { return a - b; });
  binary<MulOp>("Mul", [](long double a, long double b) { return a * b; });
  handlers["Pow"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    if (allConstant(node)) {
      const ConstArray &a = *operand(node, 0)->constant;
      const ConstArray &b = *operand(node, 1)->constant;
      if (!broadcastShapes(a.shape, b.shape))
        return nodeError(node) << "operand shapes do not broadcast";
      defineConst(
          node, 0,
          mapElements({&a, &b}, a.elementType, [](ArrayRef<long double> v) {
            return std::pow(v[0], v[1]);
          }));
      return success();
    }
    Location loc = locOf(node);
    auto ops = broadcastAll(node, {use(node, 0), use(node, 1)});
    if (failed(ops))
      return failure();
    auto baseType = cast<RankedTensorType>((*ops)[0].getType());
    // autopar.pow is floating point: integers go through f64, exact for
    // every result an int64 can hold to 2^53.
    Type compute = isa<FloatType>(baseType.getElementType())
                       ? baseType.getElementType()
                       : Type(builder.getF64Type());
    auto asCompute = [&](Value v) -> Value {
      auto t = cast<RankedTensorType>(v.getType());
      if (t.getElementType() == compute)
        return v;
      return ConvertOp::create(builder, loc, t.clone(compute), v);
    };
    Value r =
        PowOp::create(builder, loc, asCompute((*ops)[0]), asCompute((*ops)[1]));
    if (compute != baseType.getElementType())
      r = ConvertOp::create(builder, loc, baseType, r);
    define(node, 0, r);
    return success();
  };
  auto variadic = [this](auto tag) {
    using OpT = decltype(tag);
    return [this](const onnx::NodeProto &node) -> LogicalResult {
      Value acc = use(node, 0);
      for (int i = 1; i < node.input_size(); ++i) {
        auto ops = broadcastAll(node, {acc, use(node, i)});
        if (failed(ops))
          return failure();
        acc = OpT::create(builder, locOf(node), (*ops)[0], (*ops)[1]);
      }
      define(node, 0, acc);
      return success();
    };
  };
  handlers["Max"] = variadic(MaxOp());
  handlers["Min"] = variadic(MinOp());

  handlers["Div"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    if (allConstant(node)) {
      const ConstArray &a = *operand(node, 0)->constant;
      const ConstArray &b = *operand(node, 1)->constant;
      if (!broadcastShapes(a.shape, b.shape))
        return nodeError(node) << "operand shapes do not broadcast";
      bool isInt = !a.isFloat();
      defineConst(
          node, 0,
          mapElements({&a, &b}, a.elementType, [&](ArrayRef<long double> v) {
            return truncDiv(v[0], v[1], isInt);
          }));
      return success();
    }
    auto ops = broadcastAll(node, {use(node, 0), use(node, 1)});
    if (failed(ops))
      return failure();
    define(node, 0, DivOp::create(builder, locOf(node), (*ops)[0], (*ops)[1]));
    return success();
  };

  handlers["Sqrt"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    if (allConstant(node)) {
      const ConstArray &a = *operand(node, 0)->constant;
      defineConst(node, 0,
                  mapElements({&a}, a.elementType, [](ArrayRef<long double> v) {
                    return std::sqrt(v[0]);
                  }));
      return success();
    }
    define(node, 0, SqrtOp::create(builder, locOf(node), use(node, 0)));
    return success();
  };

  handlers["Reciprocal"] = [this](const onnx::NodeProto &node) {
    Value x = use(node, 0);
    auto type = cast<RankedTensorType>(x.getType());
    Value one = splat(type.getElementType(), type.getShape(), 1.0, locOf(node));
    define(node, 0, DivOp::create(builder, locOf(node), one, x));
    return success();
  };

  handlers["Gelu"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    const onnx::AttributeProto *a = attr(node, "approximate");
    GeluApproximation approx = GeluApproximation::None;
    if (a && a->s() == "tanh")
      approx = GeluApproximation::Tanh;
    else if (a && a->s() != "none")
      return nodeError(node) << "unknown approximate '" << a->s() << "'";
    define(node, 0, GeluOp::create(builder, locOf(node), use(node, 0), approx));
    return success();
  };

  auto compare = [this](CompareDirection dir,
                        std::function<bool(long double, long double)> fold) {
    return [this, dir, fold](const onnx::NodeProto &node) -> LogicalResult {
      if (allConstant(node)) {
        const ConstArray &a = *operand(node, 0)->constant;
        const ConstArray &b = *operand(node, 1)->constant;
        if (!broadcastShapes(a.shape, b.shape))
          return nodeError(node) << "operand shapes do not broadcast";
        defineConst(node, 0,
                    mapElements({&a, &b}, builder.getI1Type(),
                                [&](ArrayRef<long double> v) {
                                  return fold(v[0], v[1]) ? 1.0L : 0.0L;
                                }));
        return success();
      }
      auto ops = broadcastAll(node, {use(node, 0), use(node, 1)});
      if (failed(ops))
        return failure();
      FailureOr<Value> r =
          createInferred<CompareOp>(locOf(node), dir, (*ops)[0], (*ops)[1]);
      if (failed(r))
        return failure();
      define(node, 0, *r);
      return success();
    };
  };
  handlers["Equal"] =
      compare(CompareDirection::EQ,
              [](long double a, long double b) { return a == b; });
  handlers["Less"] = compare(
      CompareDirection::LT, [](long double a, long double b) { return a < b; });
  handlers["Greater"] = compare(
      CompareDirection::GT, [](long double a, long double b) { return a > b; });

  handlers["Where"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    if (allConstant(node)) {
      const ConstArray &c = *operand(node, 0)->constant;
      const ConstArray &x = *operand(node, 1)->constant;
      const ConstArray &y = *operand(node, 2)->constant;
      auto xy = broadcastShapes(x.shape, y.shape);
      if (!xy || !broadcastShapes(c.shape, *xy))
        return nodeError(node) << "operand shapes do not broadcast";
      defineConst(
          node, 0,
          mapElements({&c, &x, &y}, x.elementType, [](ArrayRef<long double> v) {
            return v[0] != 0 ? v[1] : v[2];
          }));
      return success();
    }
    auto ops = broadcastAll(node, {use(node, 0), use(node, 1), use(node, 2)});
    if (failed(ops))
      return failure();
    define(node, 0,
           SelectOp::create(builder, locOf(node), (*ops)[0], (*ops)[1],
                            (*ops)[2]));
    return success();
  };

  handlers["Cast"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    FailureOr<Type> to = elementType(intAttr(node, "to", 0),
                                     "Cast node '" + node.name() + "' target");
    if (failed(to))
      return failure();
    if (allConstant(node)) {
      const ConstArray &a = *operand(node, 0)->constant;
      defineConst(node, 0, mapElements({&a}, *to, [](ArrayRef<long double> v) {
                    return v[0];
                  }));
      return success();
    }
    Value x = use(node, 0);
    auto type = cast<RankedTensorType>(x.getType());
    define(node, 0,
           ConvertOp::create(builder, locOf(node), type.clone(*to), x));
    return success();
  };

  auto identity = [this](const onnx::NodeProto &node) -> LogicalResult {
    values[node.output(0)] = *operand(node, 0);
    if (node.output_size() > 1 && !node.output(1).empty()) {
      // Dropout's mask in inference: all true.
      ConstArray mask;
      mask.elementType = builder.getI1Type();
      mask.shape.assign(operand(node, 0)->type.getShape().begin(),
                        operand(node, 0)->type.getShape().end());
      mask.values.assign(operand(node, 0)->type.getNumElements(), 1);
      defineConst(node, 1, mask);
    }
    return success();
  };
  handlers["Identity"] = identity;
  handlers["Dropout"] =
      [this, identity](const onnx::NodeProto &node) -> LogicalResult {
    if (hasInput(node, 2)) {
      Tensor *mode = operand(node, 2);
      if (!mode->constant ||
          llvm::any_of(mode->constant->values, [](long double v) { return v; }))
        return nodeError(node) << "Dropout in training mode is unsupported "
                                  "(autopar imports inference graphs)";
    }
    return identity(node);
  };

  handlers["Constant"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    if (node.attribute_size() != 1)
      return nodeError(node) << "expects exactly one value attribute";
    const onnx::AttributeProto &a = node.attribute(0);
    if (a.name() == "value") {
      FailureOr<ConstArray> c = readConstant(a.t());
      if (failed(c))
        return failure();
      defineConst(node, 0, *c);
    } else if (a.name() == "value_float") {
      defineConst(node, 0, ConstArray::scalarLike(builder.getF32Type(), a.f()));
    } else if (a.name() == "value_int") {
      defineConst(node, 0, ConstArray::scalarLike(builder.getI64Type(), a.i()));
    } else if (a.name() == "value_floats") {
      ConstArray c;
      c.elementType = builder.getF32Type();
      c.shape = {a.floats_size()};
      for (float f : a.floats())
        c.values.push_back(f);
      defineConst(node, 0, c);
    } else if (a.name() == "value_ints") {
      defineConst(node, 0,
                  ConstArray::vector(
                      builder.getI64Type(),
                      std::vector<int64_t>(a.ints().begin(), a.ints().end())));
    } else {
      return nodeError(node) << "unsupported attribute '" << a.name() << "'";
    }
    return success();
  };

  handlers["ConstantOfShape"] =
      [this](const onnx::NodeProto &node) -> LogicalResult {
    FailureOr<std::vector<int64_t>> shape = constInts(node, 0, "shape");
    if (failed(shape))
      return failure();
    ConstArray c;
    c.elementType = builder.getF32Type();
    long double v = 0;
    if (const onnx::AttributeProto *a = attr(node, "value")) {
      FailureOr<ConstArray> value = readConstant(a->t());
      if (failed(value) || value->size() != 1)
        return nodeError(node) << "value must be a one-element tensor";
      c.elementType = value->elementType;
      v = value->values[0];
    }
    int64_t count = 1;
    for (int64_t d : *shape) {
      if (d < 0 || llvm::MulOverflow(count, d, count) || count > (1 << 28))
        return nodeError(node) << "shape is negative or too large";
      c.shape.push_back(d);
    }
    c.values.assign(count, v);
    defineConst(node, 0, c);
    return success();
  };

  handlers["Shape"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    ArrayRef<int64_t> shape = operand(node, 0)->type.getShape();
    int64_t rank = shape.size();
    int64_t start = intAttr(node, "start", 0), end = intAttr(node, "end", rank);
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    std::vector<int64_t> dims(shape.begin() + start,
                              shape.begin() + std::max(start, end));
    defineConst(node, 0, ConstArray::vector(builder.getI64Type(), dims));
    return success();
  };

  handlers["Range"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    if (!allConstant(node))
      return nodeError(node) << "start, limit and delta must be known at "
                                "import time";
    const ConstArray &start = *operand(node, 0)->constant;
    long double s = start.values.at(0);
    long double limit = operand(node, 1)->constant->values.at(0);
    long double delta = operand(node, 2)->constant->values.at(0);
    if (delta == 0)
      return nodeError(node) << "delta is 0";
    long double n = std::max<long double>(0, std::ceil((limit - s) / delta));
    if (n > (1 << 28))
      return nodeError(node) << "range is too long";
    ConstArray c;
    c.elementType = start.elementType;
    c.shape = {int64_t(n)};
    for (int64_t i = 0; i < int64_t(n); ++i)
      c.values.push_back(roundTo(c.elementType, s + i * delta));
    defineConst(node, 0, c);
    return success();
  };

  handlers["MatMul"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    Location loc = locOf(node);
    Value a = use(node, 0), b = use(node, 1);
    auto at = cast<RankedTensorType>(a.getType());
    auto bt = cast<RankedTensorType>(b.getType());
    if (at.getRank() == 0 || bt.getRank() == 0)
      return nodeError(node) << "operands must have rank >= 1";
    bool aVector = at.getRank() == 1, bVector = bt.getRank() == 1;
    if (aVector)
      a = reshape(a, {1, at.getDimSize(0)}, loc);
    if (bVector)
      b = reshape(b, {bt.getDimSize(0), 1}, loc);
    at = cast<RankedTensorType>(a.getType());
    bt = cast<RankedTensorType>(b.getType());
    int64_t k = at.getShape().back();
    if (bt.getDimSize(bt.getRank() - 2) != k)
      return nodeError(node)
             << "inner dimensions differ: " << at << " and " << bt;
    Value result;
    if (bt.getRank() == 2) {
      // [..., M, K] x [K, N]: contract directly, no broadcast of b.
      FailureOr<Value> dot = createInferred<DotOp>(
          loc, a, b, ArrayRef<int64_t>{}, ArrayRef<int64_t>{},
          ArrayRef<int64_t>{at.getRank() - 1}, ArrayRef<int64_t>{0});
      if (failed(dot))
        return failure();
      result = *dot;
    } else {
      auto batch = broadcastShapes(at.getShape().drop_back(2),
                                   bt.getShape().drop_back(2));
      if (!batch)
        return nodeError(node)
               << "batch dimensions do not broadcast: " << at << " and " << bt;
      SmallVector<int64_t> aShape(*batch), bShape(*batch);
      aShape.append({at.getDimSize(at.getRank() - 2), k});
      bShape.append({k, bt.getShape().back()});
      a = broadcastTo(a, aShape, loc);
      b = broadcastTo(b, bShape, loc);
      int64_t nb = batch->size();
      SmallVector<int64_t> batchDims =
          llvm::to_vector(llvm::seq<int64_t>(0, nb));
      FailureOr<Value> dot = createInferred<DotOp>(
          loc, a, b, ArrayRef<int64_t>(batchDims), ArrayRef<int64_t>(batchDims),
          ArrayRef<int64_t>{nb + 1}, ArrayRef<int64_t>{nb});
      if (failed(dot))
        return failure();
      result = *dot;
    }
    if (aVector || bVector) {
      auto rt = cast<RankedTensorType>(result.getType());
      SmallVector<int64_t> shape(rt.getShape().drop_back(2));
      if (!aVector)
        shape.push_back(rt.getDimSize(rt.getRank() - 2));
      if (!bVector)
        shape.push_back(rt.getShape().back());
      result = reshape(result, shape, loc);
    }
    define(node, 0, result);
    return success();
  };

  handlers["Gemm"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    Location loc = locOf(node);
    Value a = use(node, 0), b = use(node, 1);
    auto at = cast<RankedTensorType>(a.getType());
    auto bt = cast<RankedTensorType>(b.getType());
    if (at.getRank() != 2 || bt.getRank() != 2)
      return nodeError(node) << "A and B must be matrices";
    int64_t ca = intAttr(node, "transA", 0) ? 0 : 1;
    int64_t cb = intAttr(node, "transB", 0) ? 1 : 0;
    if (at.getDimSize(ca) != bt.getDimSize(cb))
      return nodeError(node)
             << "inner dimensions differ: " << at << " and " << bt;
    FailureOr<Value> dot = createInferred<DotOp>(
        loc, a, b, ArrayRef<int64_t>{}, ArrayRef<int64_t>{},
        ArrayRef<int64_t>{ca}, ArrayRef<int64_t>{cb});
    if (failed(dot))
      return failure();
    Value y = *dot;
    auto yt = cast<RankedTensorType>(y.getType());
    float alpha = floatAttr(node, "alpha", 1.0f);
    float beta = floatAttr(node, "beta", 1.0f);
    if (alpha != 1.0f)
      y = MulOp::create(builder, loc, y,
                        splat(yt.getElementType(), yt.getShape(), alpha, loc));
    if (hasInput(node, 2) && beta != 0.0f) {
      Value c = use(node, 2);
      if (!broadcastShapes(cast<RankedTensorType>(c.getType()).getShape(),
                           yt.getShape()))
        return nodeError(node)
               << "C " << c.getType() << " does not broadcast to " << yt;
      c = broadcastTo(c, yt.getShape(), loc);
      if (beta != 1.0f)
        c = MulOp::create(builder, loc, c,
                          splat(yt.getElementType(), yt.getShape(), beta, loc));
      y = AddOp::create(builder, loc, y, c);
    }
    define(node, 0, y);
    return success();
  };

  auto softmaxLike = [this](bool log) {
    return [this, log](const onnx::NodeProto &node) -> LogicalResult {
      Value x = use(node, 0);
      int64_t rank = cast<RankedTensorType>(x.getType()).getRank();
      FailureOr<int64_t> a = axis(node, intAttr(node, "axis", -1), rank);
      if (failed(a))
        return failure();
      Value y = log ? Value(LogSoftmaxOp::create(builder, locOf(node), x, *a))
                    : Value(SoftmaxOp::create(builder, locOf(node), x, *a));
      define(node, 0, y);
      return success();
    };
  };
  handlers["Softmax"] = softmaxLike(false);
  handlers["LogSoftmax"] = softmaxLike(true);

  handlers["LayerNormalization"] =
      [this](const onnx::NodeProto &node) -> LogicalResult {
    Location loc = locOf(node);
    Value x = use(node, 0);
    auto xt = cast<RankedTensorType>(x.getType());
    FailureOr<int64_t> a = axis(node, intAttr(node, "axis", -1), xt.getRank());
    if (failed(a))
      return failure();
    float epsilon = floatAttr(node, "epsilon", 1e-5f);
    SmallVector<int64_t> normShape(xt.getShape().drop_front(*a));
    Value scale = broadcastTo(use(node, 1), normShape, loc);
    Value bias = hasInput(node, 2)
                     ? broadcastTo(use(node, 2), normShape, loc)
                     : splat(xt.getElementType(), normShape, 0.0, loc);
    define(node, 0,
           LayerNormOp::create(builder, loc, xt, x, scale, bias,
                               builder.getI64IntegerAttr(*a),
                               builder.getF64FloatAttr(epsilon)));
    bool wantMean = node.output_size() > 1 && !node.output(1).empty();
    bool wantInv = node.output_size() > 2 && !node.output(2).empty();
    if (wantMean || wantInv) {
      // Statistics shaped [d0, ..., d(axis-1), 1, ..., 1], as ONNX defines.
      SmallVector<int64_t> dims =
          llvm::to_vector(llvm::seq<int64_t>(*a, xt.getRank()));
      SmallVector<int64_t> statShape(xt.getShape());
      for (int64_t d : dims)
        statShape[d] = 1;
      FailureOr<Value> meanOr = createInferred<ReduceOp>(
          loc, ReduceKind::Mean, x, ArrayRef<int64_t>(dims));
      if (failed(meanOr))
        return failure();
      Value mean = *meanOr;
      SmallVector<int64_t> kept = llvm::to_vector(llvm::seq<int64_t>(0, *a));
      Value meanFull = BroadcastOp::create(builder, loc, xt, mean, kept);
      Value centered = SubOp::create(builder, loc, x, meanFull);
      Value var = ReduceOp::create(
          builder, loc, ReduceKind::Mean,
          MulOp::create(builder, loc, centered, centered), dims);
      auto varType = cast<RankedTensorType>(var.getType());
      Value inv = RsqrtOp::create(
          builder, loc,
          AddOp::create(builder, loc, var,
                        splat(varType.getElementType(), varType.getShape(),
                              epsilon, loc)));
      define(node, 1, reshape(mean, statShape, loc));
      define(node, 2, reshape(inv, statShape, loc));
    }
    return success();
  };

  auto reduce = [this](ReduceKind kind, int64_t axesInputFrom) {
    return [this, kind,
            axesInputFrom](const onnx::NodeProto &node) -> LogicalResult {
      Location loc = locOf(node);
      Value x = use(node, 0);
      auto xt = cast<RankedTensorType>(x.getType());
      std::vector<int64_t> axes;
      if (opset >= axesInputFrom) {
        if (hasInput(node, 1)) {
          FailureOr<std::vector<int64_t>> v = constInts(node, 1, "axes");
          if (failed(v))
            return failure();
          axes = *v;
        }
      } else if (auto v = intsAttr(node, "axes")) {
        axes = *v;
      }
      if (axes.empty()) {
        if (intAttr(node, "noop_with_empty_axes", 0)) {
          define(node, 0, x);
          return success();
        }
        for (int64_t d = 0; d < xt.getRank(); ++d)
          axes.push_back(d);
      }
      SmallVector<int64_t> dims;
      for (int64_t a : axes) {
        FailureOr<int64_t> d = axis(node, a, xt.getRank());
        if (failed(d))
          return failure();
        if (!llvm::is_contained(dims, *d))
          dims.push_back(*d);
      }
      llvm::sort(dims);
      FailureOr<Value> reduced =
          createInferred<ReduceOp>(loc, kind, x, ArrayRef<int64_t>(dims));
      if (failed(reduced))
        return failure();
      Value r = *reduced;
      if (intAttr(node, "keepdims", 1)) {
        SmallVector<int64_t> shape(xt.getShape());
        for (int64_t d : dims)
          shape[d] = 1;
        r = reshape(r, shape, loc);
      }
      define(node, 0, r);
      return success();
    };
  };
  handlers["ReduceMean"] = reduce(ReduceKind::Mean, 18);
  handlers["ReduceSum"] = reduce(ReduceKind::Sum, 13);
  handlers["ReduceMax"] = reduce(ReduceKind::Max, 18);
  handlers["ReduceMin"] = reduce(ReduceKind::Min, 18);

  handlers["Transpose"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    Tensor &t = *operand(node, 0);
    int64_t rank = t.type.getRank();
    std::vector<int64_t> perm;
    if (auto p = intsAttr(node, "perm"))
      perm = *p;
    else
      for (int64_t i = rank - 1; i >= 0; --i)
        perm.push_back(i);
    SmallVector<int64_t> sorted(perm.begin(), perm.end());
    llvm::sort(sorted);
    if (int64_t(perm.size()) != rank ||
        !llvm::equal(sorted, llvm::seq<int64_t>(0, rank)))
      return nodeError(node)
             << "perm is not a permutation of the " << rank << " dimensions";
    if (t.constant) {
      defineConst(node, 0, transpose(*t.constant, perm));
      return success();
    }
    FailureOr<Value> r = createInferred<TransposeOp>(locOf(node), use(node, 0),
                                                     ArrayRef<int64_t>(perm));
    if (failed(r))
      return failure();
    define(node, 0, *r);
    return success();
  };

  // Shape changes that keep the element order: the new shape is computed by
  // `shapeFn` from the input shape.
  using ShapeFn = std::function<FailureOr<SmallVector<int64_t>>(
      const onnx::NodeProto &, ArrayRef<int64_t>)>;
  auto reshapeLike = [this](ShapeFn shapeFn) {
    return [this, shapeFn](const onnx::NodeProto &node) -> LogicalResult {
      Tensor &t = *operand(node, 0);
      FailureOr<SmallVector<int64_t>> shape = shapeFn(node, t.type.getShape());
      if (failed(shape))
        return failure();
      int64_t count = 1;
      for (int64_t d : *shape)
        count *= d;
      if (count != t.type.getNumElements())
        return nodeError(node)
               << "cannot reshape " << t.type << " to " << shape->size()
               << " dimensions with " << count << " elements";
      if (t.constant) {
        ConstArray c = *t.constant;
        c.shape = *shape;
        defineConst(node, 0, c);
        return success();
      }
      define(node, 0, reshape(use(node, 0), *shape, locOf(node)));
      return success();
    };
  };
  handlers["Reshape"] = reshapeLike(
      [this](const onnx::NodeProto &node,
             ArrayRef<int64_t> in) -> FailureOr<SmallVector<int64_t>> {
        FailureOr<std::vector<int64_t>> spec = constInts(node, 1, "shape");
        if (failed(spec))
          return failure();
        bool allowZero = intAttr(node, "allowzero", 0);
        SmallVector<int64_t> shape;
        int64_t inferAt = -1, known = 1, total = 1;
        for (int64_t d : in)
          total *= d;
        for (auto [i, d] : llvm::enumerate(*spec)) {
          if (d == 0 && !allowZero) {
            if (i >= in.size())
              return nodeError(node) << "0 in shape copies a dimension the "
                                        "input does not have";
            d = in[i];
          }
          if (d == -1) {
            if (inferAt >= 0)
              return nodeError(node) << "more than one -1 in shape";
            inferAt = i;
            shape.push_back(1);
            continue;
          }
          if (d < 0)
            return nodeError(node) << "negative dimension " << d << " in shape";
          known *= d;
          shape.push_back(d);
        }
        if (inferAt >= 0) {
          if (known == 0 || total % known)
            return nodeError(node) << "cannot infer the -1 dimension";
          shape[inferAt] = total / known;
        }
        return shape;
      });
  handlers["Flatten"] = reshapeLike(
      [this](const onnx::NodeProto &node,
             ArrayRef<int64_t> in) -> FailureOr<SmallVector<int64_t>> {
        int64_t rank = in.size();
        int64_t a = intAttr(node, "axis", 1);
        if (a < -rank || a > rank)
          return nodeError(node) << "axis " << a << " is out of range";
        if (a < 0)
          a += rank;
        int64_t outer = 1, inner = 1;
        for (int64_t i = 0; i < rank; ++i)
          (i < a ? outer : inner) *= in[i];
        return SmallVector<int64_t>{outer, inner};
      });
  handlers["Squeeze"] = reshapeLike(
      [this](const onnx::NodeProto &node,
             ArrayRef<int64_t> in) -> FailureOr<SmallVector<int64_t>> {
        int64_t rank = in.size();
        std::vector<int64_t> axes;
        if (hasInput(node, 1)) {
          FailureOr<std::vector<int64_t>> v = constInts(node, 1, "axes");
          if (failed(v))
            return failure();
          axes = *v;
        } else if (auto v = intsAttr(node, "axes")) {
          axes = *v;
        }
        SmallVector<bool> drop(rank, axes.empty());
        if (axes.empty())
          for (int64_t i = 0; i < rank; ++i)
            drop[i] = in[i] == 1;
        for (int64_t a : axes) {
          FailureOr<int64_t> d = axis(node, a, rank);
          if (failed(d))
            return failure();
          if (in[*d] != 1)
            return nodeError(node) << "cannot squeeze dimension " << *d
                                   << " of size " << in[*d];
          drop[*d] = true;
        }
        SmallVector<int64_t> shape;
        for (int64_t i = 0; i < rank; ++i)
          if (!drop[i])
            shape.push_back(in[i]);
        return shape;
      });
  handlers["Unsqueeze"] = reshapeLike(
      [this](const onnx::NodeProto &node,
             ArrayRef<int64_t> in) -> FailureOr<SmallVector<int64_t>> {
        std::vector<int64_t> axes;
        if (hasInput(node, 1)) {
          FailureOr<std::vector<int64_t>> v = constInts(node, 1, "axes");
          if (failed(v))
            return failure();
          axes = *v;
        } else if (auto v = intsAttr(node, "axes")) {
          axes = *v;
        }
        int64_t rank = in.size() + axes.size();
        SmallVector<bool> inserted(rank, false);
        for (int64_t a : axes) {
          FailureOr<int64_t> d = axis(node, a, rank);
          if (failed(d))
            return failure();
          if (inserted[*d])
            return nodeError(node) << "axis " << a << " appears twice";
          inserted[*d] = true;
        }
        SmallVector<int64_t> shape;
        size_t next = 0;
        for (int64_t i = 0; i < rank; ++i)
          shape.push_back(inserted[i] ? 1 : in[next++]);
        return shape;
      });

  handlers["Concat"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    if (node.input_size() == 0)
      return nodeError(node) << "needs at least one input";
    int64_t rank = operand(node, 0)->type.getRank();
    FailureOr<int64_t> a = axis(node, intAttr(node, "axis", 0), rank);
    if (failed(a))
      return failure();
    for (int i = 0; i < node.input_size(); ++i) {
      RankedTensorType t = operand(node, i)->type;
      if (t.getRank() != rank ||
          t.getElementType() != operand(node, 0)->type.getElementType())
        return nodeError(node)
               << "input " << i << " " << t << " does not match input 0 "
               << operand(node, 0)->type;
      for (int64_t d = 0; d < rank; ++d)
        if (d != *a && t.getDimSize(d) != operand(node, 0)->type.getDimSize(d))
          return nodeError(node)
                 << "input " << i << " " << t << " does not match input 0 "
                 << operand(node, 0)->type;
    }
    if (allConstant(node)) {
      SmallVector<const ConstArray *> parts;
      for (int i = 0; i < node.input_size(); ++i)
        parts.push_back(&*operand(node, i)->constant);
      defineConst(node, 0, concat(parts, *a));
      return success();
    }
    SmallVector<Value> inputs;
    for (int i = 0; i < node.input_size(); ++i)
      inputs.push_back(use(node, i));
    FailureOr<Value> r =
        createInferred<ConcatOp>(locOf(node), ValueRange(inputs), *a);
    if (failed(r))
      return failure();
    define(node, 0, *r);
    return success();
  };

  // Slices of one dimension per output, shared by Split.
  handlers["Split"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    Tensor &t = *operand(node, 0);
    int64_t rank = t.type.getRank();
    FailureOr<int64_t> a = axis(node, intAttr(node, "axis", 0), rank);
    if (failed(a))
      return failure();
    int64_t size = t.type.getDimSize(*a);
    std::vector<int64_t> sizes;
    if (hasInput(node, 1)) {
      FailureOr<std::vector<int64_t>> v = constInts(node, 1, "split");
      if (failed(v))
        return failure();
      sizes = *v;
    } else if (auto v = intsAttr(node, "split")) {
      sizes = *v;
    } else {
      int64_t n = intAttr(node, "num_outputs", node.output_size());
      if (n <= 0)
        return nodeError(node) << "num_outputs must be positive";
      int64_t chunk = (size + n - 1) / n;
      for (int64_t i = 0, left = size; i < n; ++i, left -= chunk)
        sizes.push_back(std::max<int64_t>(0, std::min(chunk, left)));
    }
    int64_t total = 0;
    for (int64_t s : sizes) {
      if (s < 0)
        return nodeError(node) << "negative split size " << s;
      total += s;
    }
    if (total != size || int64_t(sizes.size()) != node.output_size())
      return nodeError(node) << "split sizes must sum to " << size << " over "
                             << node.output_size() << " outputs";
    int64_t offset = 0;
    for (auto [i, s] : llvm::enumerate(sizes)) {
      SmallVector<int64_t> start(rank, 0), limit(t.type.getShape()),
          steps(rank, 1);
      start[*a] = offset;
      limit[*a] = offset + s;
      offset += s;
      if (t.constant) {
        SmallVector<int64_t> shape(t.type.getShape());
        shape[*a] = s;
        defineConst(node, i, slice(*t.constant, start, shape, steps));
      } else {
        FailureOr<Value> r = createInferred<SliceOp>(
            locOf(node), use(node, 0), ArrayRef<int64_t>(start),
            ArrayRef<int64_t>(limit), ArrayRef<int64_t>(steps));
        if (failed(r))
          return failure();
        define(node, i, *r);
      }
    }
    return success();
  };

  handlers["Slice"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    Tensor &t = *operand(node, 0);
    int64_t rank = t.type.getRank();
    FailureOr<std::vector<int64_t>> starts = constInts(node, 1, "starts");
    FailureOr<std::vector<int64_t>> ends = constInts(node, 2, "ends");
    if (failed(starts) || failed(ends))
      return failure();
    std::vector<int64_t> axes, steps;
    if (hasInput(node, 3)) {
      FailureOr<std::vector<int64_t>> v = constInts(node, 3, "axes");
      if (failed(v))
        return failure();
      axes = *v;
    } else {
      for (size_t d = 0; d < starts->size(); ++d)
        axes.push_back(d);
    }
    if (hasInput(node, 4)) {
      FailureOr<std::vector<int64_t>> v = constInts(node, 4, "steps");
      if (failed(v))
        return failure();
      steps = *v;
    } else {
      steps.assign(starts->size(), 1);
    }
    if (ends->size() != starts->size() || axes.size() != starts->size() ||
        steps.size() != starts->size())
      return nodeError(node) << "starts, ends, axes and steps differ in "
                                "length";
    SmallVector<int64_t> start(rank, 0), size(t.type.getShape()), step(rank, 1);
    for (size_t k = 0; k < axes.size(); ++k) {
      FailureOr<int64_t> d = axis(node, axes[k], rank);
      if (failed(d))
        return failure();
      int64_t dim = t.type.getDimSize(*d), st = steps[k];
      if (st == 0)
        return nodeError(node) << "step 0 on axis " << *d;
      int64_t b = (*starts)[k], e = (*ends)[k];
      if (b < 0)
        b = b < -dim ? 0 : b + dim; // saturating, as ONNX specifies
      if (e < 0)
        e = e < -dim ? -1 : e + dim;
      if (st > 0) {
        b = std::clamp<int64_t>(b, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        size[*d] = e > b ? (e - b + st - 1) / st : 0;
      } else {
        b = std::clamp<int64_t>(b, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        size[*d] = b > e ? (b - e - st - 1) / -st : 0;
      }
      start[*d] = b;
      step[*d] = st;
    }
    if (t.constant) {
      defineConst(node, 0, slice(*t.constant, start, size, step));
      return success();
    }
    if (llvm::any_of(step, [](int64_t s) { return s < 0; }))
      return nodeError(node) << "negative steps on runtime tensors are not "
                                "supported";
    SmallVector<int64_t> limit;
    for (int64_t d = 0; d < rank; ++d)
      limit.push_back(
          std::min(t.type.getDimSize(d), start[d] + size[d] * step[d]));
    FailureOr<Value> r = createInferred<SliceOp>(
        locOf(node), use(node, 0), ArrayRef<int64_t>(start),
        ArrayRef<int64_t>(limit), ArrayRef<int64_t>(step));
    if (failed(r))
      return failure();
    define(node, 0, *r);
    return success();
  };

  handlers["Gather"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    Tensor &data = *operand(node, 0);
    FailureOr<int64_t> a =
        axis(node, intAttr(node, "axis", 0), data.type.getRank());
    if (failed(a))
      return failure();
    if (allConstant(node)) {
      defineConst(node, 0,
                  gather(*data.constant, *operand(node, 1)->constant, *a));
      return success();
    }
    FailureOr<Value> r =
        createInferred<GatherOp>(locOf(node), use(node, 0), use(node, 1), *a);
    if (failed(r))
      return failure();
    define(node, 0, *r);
    return success();
  };

  handlers["Expand"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    FailureOr<std::vector<int64_t>> shape = constInts(node, 1, "shape");
    if (failed(shape))
      return failure();
    Tensor &t = *operand(node, 0);
    auto out = broadcastShapes(t.type.getShape(), *shape);
    if (!out)
      return nodeError(node) << t.type << " does not broadcast to the shape";
    if (t.constant) {
      // Broadcasting against zeros of the target shape expands the values.
      ConstArray target;
      target.elementType = t.type.getElementType();
      target.shape = *out;
      target.values.assign(
          RankedTensorType::get(*out, target.elementType).getNumElements(), 0);
      defineConst(node, 0,
                  mapElements({&*t.constant, &target}, target.elementType,
                              [](ArrayRef<long double> v) { return v[0]; }));
      return success();
    }
    define(node, 0, broadcastTo(use(node, 0), *out, locOf(node)));
    return success();
  };

  handlers["Trilu"] = [this](const onnx::NodeProto &node) -> LogicalResult {
    Tensor &t = *operand(node, 0);
    if (t.type.getRank() < 2)
      return nodeError(node) << "input must have rank >= 2";
    int64_t k = 0;
    if (hasInput(node, 1)) {
      FailureOr<std::vector<int64_t>> v = constInts(node, 1, "k");
      if (failed(v) || v->size() != 1)
        return failure();
      k = (*v)[0];
    }
    bool upper = intAttr(node, "upper", 1);
    int64_t rows = t.type.getDimSize(t.type.getRank() - 2);
    int64_t cols = t.type.getShape().back();
    ConstArray keep;
    keep.elementType = builder.getI1Type();
    keep.shape = {rows, cols};
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        keep.values.push_back(upper ? (j - i >= k) : (j - i <= k));
    if (t.constant) {
      ConstArray zero = ConstArray::scalarLike(t.type.getElementType(), 0);
      defineConst(node, 0,
                  mapElements({&keep, &*t.constant, &zero},
                              t.type.getElementType(),
                              [](ArrayRef<long double> v) {
                                return v[0] != 0 ? v[1] : v[2];
                              }));
      return success();
    }
    Location loc = locOf(node);
    Value mask = broadcastTo(
        ConstantOp::create(builder, loc, keep.type(), keep.toAttr()),
        t.type.getShape(), loc);
    Value zeros = splat(t.type.getElementType(), t.type.getShape(), 0, loc);
    define(node, 0, SelectOp::create(builder, loc, mask, use(node, 0), zeros));
    return success();
  };
}

/// Every op type the importer converts, with how many inputs it takes
/// (ONNX's own ranges for opsets 13-21); handlers may then read inputs
/// [0, min) without checking.
static const llvm::StringMap<std::pair<int, int>> &arityTable() {
  static const llvm::StringMap<std::pair<int, int>> table = {
      {"Neg", {1, 1}},
      {"Abs", {1, 1}},
      {"Exp", {1, 1}},
      {"Log", {1, 1}},
      {"Tanh", {1, 1}},
      {"Sigmoid", {1, 1}},
      {"Relu", {1, 1}},
      {"Erf", {1, 1}},
      {"Sqrt", {1, 1}},
      {"Reciprocal", {1, 1}},
      {"Gelu", {1, 1}},
      {"Add", {2, 2}},
      {"Sub", {2, 2}},
      {"Mul", {2, 2}},
      {"Div", {2, 2}},
      {"Pow", {2, 2}},
      {"Max", {1, 1 << 20}},
      {"Min", {1, 1 << 20}},
      {"Equal", {2, 2}},
      {"Less", {2, 2}},
      {"Greater", {2, 2}},
      {"Where", {3, 3}},
      {"Cast", {1, 1}},
      {"Identity", {1, 1}},
      {"Dropout", {1, 3}},
      {"Constant", {0, 0}},
      {"ConstantOfShape", {1, 1}},
      {"Shape", {1, 1}},
      {"Range", {3, 3}},
      {"MatMul", {2, 2}},
      {"Gemm", {2, 3}},
      {"Softmax", {1, 1}},
      {"LogSoftmax", {1, 1}},
      {"LayerNormalization", {2, 3}},
      {"ReduceMean", {1, 2}},
      {"ReduceSum", {1, 2}},
      {"ReduceMax", {1, 2}},
      {"ReduceMin", {1, 2}},
      {"Transpose", {1, 1}},
      {"Reshape", {2, 2}},
      {"Flatten", {1, 1}},
      {"Squeeze", {1, 2}},
      {"Unsqueeze", {1, 2}},
      {"Concat", {1, 1 << 20}},
      {"Split", {1, 2}},
      {"Slice", {3, 5}},
      {"Gather", {2, 2}},
      {"Expand", {2, 2}},
      {"Trilu", {1, 2}}};
  return table;
}

static std::pair<int, int> arity(StringRef op) {
  return arityTable().lookup(op);
}

LogicalResult Importer::convertNode(const onnx::NodeProto &node) {
  auto [minInputs, maxInputs] = arity(node.op_type());
  int present = node.input_size();
  for (int i = 0; i < std::min(present, minInputs); ++i)
    if (node.input(i).empty())
      return nodeError(node) << "required input " << i << " is missing";
  if (present < minInputs || present > maxInputs)
    return nodeError(node) << "has " << present << " inputs; " << node.op_type()
                           << " takes " << minInputs
                           << (maxInputs == minInputs
                                   ? std::string()
                                   : " to " + std::to_string(maxInputs));
  if (node.output_size() < 1)
    return nodeError(node) << "has no outputs";
  auto handler = handlers.find(node.op_type());
  if (handler == handlers.end())
    return nodeError(node) << "internal error: no converter registered";
  return handler->second(node);
}

//===----------------------------------------------------------------------===//
// The graph
//===----------------------------------------------------------------------===//

FailureOr<ImportedModel> Importer::run() {
  const onnx::GraphProto &graph = model.graph();
  for (const onnx::OperatorSetIdProto &set : model.opset_import())
    if (set.domain().empty() || set.domain() == "ai.onnx")
      opset = set.version();
  if (opset < kMinOpset || opset > kMaxOpset) {
    emitError(fileLoc) << "model uses ONNX opset " << opset
                       << "; autopar imports opsets " << kMinOpset << " to "
                       << kMaxOpset;
    return failure();
  }
  registerHandlers();

  // Every unsupported op type, with the nodes that use it, in one message.
  std::map<std::string, std::vector<std::string>> unsupported;
  for (const onnx::NodeProto &node : graph.node()) {
    bool standard = node.domain().empty() || node.domain() == "ai.onnx";
    if (!standard || !arityTable().count(node.op_type()))
      unsupported[(standard ? "" : node.domain() + "::") + node.op_type()]
          .push_back(node.name().empty() ? "<unnamed>" : node.name());
  }
  if (!unsupported.empty()) {
    auto diag = emitError(fileLoc) << "the model uses " << unsupported.size()
                                   << " unsupported op type(s):";
    for (const auto &[op, nodes] : unsupported) {
      diag << " " << op << " (";
      for (size_t i = 0; i < nodes.size() && i < 5; ++i)
        diag << (i ? ", " : "") << nodes[i];
      if (nodes.size() > 5)
        diag << ", ... " << nodes.size() << " nodes";
      diag << ")";
    }
    diag << ";";
    return failure();
  }

  // Initializers: floating point ones are parameters, the rest constants.
  llvm::StringSet<> initializerNames;
  std::vector<const onnx::TensorProto *> params;
  ImportedModel result;
  for (const onnx::TensorProto &init : graph.initializer()) {
    if (!initializerNames.insert(init.name()).second) {
      emitError(fileLoc) << "initializer '" << init.name()
                         << "' is defined twice";
      return failure();
    }
    FailureOr<Type> type =
        elementType(init.data_type(), "initializer '" + init.name() + "'");
    FailureOr<SmallVector<int64_t>> dims = dimsOf(init);
    if (failed(type) || failed(dims))
      return failure();
    if (isa<FloatType>(*type)) {
      params.push_back(&init);
      continue;
    }
    FailureOr<ConstArray> c = readConstant(init);
    if (failed(c))
      return failure();
    values[init.name()] = Tensor{c->type(), Value(), *c};
  }

  // Function signature: graph inputs, then parameters.
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  SmallVector<bool> argIsParam;
  for (const onnx::ValueInfoProto &input : graph.input()) {
    if (initializerNames.contains(input.name()))
      continue; // older exporters list initializers as inputs too
    if (!input.type().has_tensor_type()) {
      emitError(fileLoc) << "graph input '" << input.name()
                         << "' is not a tensor";
      return failure();
    }
    const onnx::TypeProto::Tensor &tt = input.type().tensor_type();
    FailureOr<Type> type =
        elementType(tt.elem_type(), "graph input '" + input.name() + "'");
    if (failed(type))
      return failure();
    SmallVector<int64_t> shape;
    for (const onnx::TensorShapeProto::Dimension &d : tt.shape().dim()) {
      if (!d.has_dim_value() || d.dim_value() < 0) {
        emitError(fileLoc) << "graph input '" << input.name()
                           << "' has a dynamic dimension"
                           << (d.has_dim_param() ? " '" + d.dim_param() + "'"
                                                 : std::string())
                           << "; autopar needs static shapes (export with "
                              "fixed input sizes)";
        return failure();
      }
      shape.push_back(d.dim_value());
    }
    argTypes.push_back(RankedTensorType::get(shape, *type));
    argNames.push_back(input.name());
    argIsParam.push_back(false);
  }
  for (const onnx::TensorProto *init : params) {
    argTypes.push_back(RankedTensorType::get(
        *dimsOf(*init), *elementType(init->data_type(), init->name())));
    argNames.push_back(init->name());
    argIsParam.push_back(true);
  }

  // Graph outputs: types come from the computation.
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  if (!options.weightsFileName.empty())
    (*module)->setAttr("autopar.weights",
                       builder.getStringAttr(options.weightsFileName));
  builder.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(builder, fileLoc, options.functionName,
                                   builder.getFunctionType(argTypes, {}));
  Block *body = func.addEntryBlock();
  builder.setInsertionPointToEnd(body);
  for (auto [i, name] : llvm::enumerate(argNames)) {
    func.setArgAttr(i, "autopar.role",
                    builder.getStringAttr(argIsParam[i] ? "param" : "input"));
    func.setArgAttr(i, "autopar.name", builder.getStringAttr(name));
    values[name] = Tensor{cast<RankedTensorType>(argTypes[i]),
                          body->getArgument(i), std::nullopt};
  }

  // Nodes, in order; a name used before it is defined is a dangling
  // reference or a cycle (ONNX graphs are topologically sorted).
  llvm::StringSet<> produced;
  for (const onnx::NodeProto &node : graph.node())
    for (const std::string &out : node.output())
      if (!out.empty())
        produced.insert(out);
  for (const onnx::NodeProto &node : graph.node()) {
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i).empty() || values.count(node.input(i)))
        continue;
      if (produced.contains(node.input(i)))
        return nodeError(node)
                   << "input '" << node.input(i)
                   << "' is produced by a later node (the graph has a cycle or "
                      "is not topologically sorted)",
               failure();
      return nodeError(node) << "input '" << node.input(i)
                             << "' is not defined by any node, initializer "
                                "or graph input",
             failure();
    }
    if (failed(convertNode(node)))
      return failure();
    ++nodeIndex;
  }

  SmallVector<Value> results;
  for (const onnx::ValueInfoProto &output : graph.output()) {
    auto it = values.find(output.name());
    if (it == values.end()) {
      emitError(fileLoc) << "graph output '" << output.name()
                         << "' is not computed by the graph";
      return failure();
    }
    results.push_back(materialize(it->second, fileLoc));
  }
  func::ReturnOp::create(builder, fileLoc, results);
  func.setFunctionType(
      builder.getFunctionType(argTypes, ValueRange(results).getTypes()));

  if (failed(verify(*module)))
    return failure();

  for (const onnx::TensorProto *init : params) {
    ImportedWeight w;
    w.name = init->name();
    Type type = *elementType(init->data_type(), init->name());
    SmallVector<int64_t> dims = *dimsOf(*init);
    w.shape.assign(dims.begin(), dims.end());
    w.dtype = type.isF32() ? "F32" : type.isF64() ? "F64" : "";
    if (w.dtype.empty()) {
      emitError(fileLoc) << "parameter '" << w.name << "' has type " << type
                         << "; weights files hold f32 or f64 parameters";
      return failure();
    }
    if (failed(readRawData(*init, type,
                           RankedTensorType::get(dims, type).getNumElements(),
                           w.data)))
      return failure();
    // The bytes now live in the weight; drop the model's copy so that peak
    // memory stays near one copy of the parameters.
    auto *owned = const_cast<onnx::TensorProto *>(init);
    std::string().swap(*owned->mutable_raw_data()); // frees the capacity
    owned->clear_float_data();
    owned->clear_double_data();
    result.weights.push_back(std::move(w));
  }
  result.module = std::move(module);
  return result;
}

} // namespace

std::vector<std::string> mlir::autopar::supportedONNXOps() {
  std::vector<std::string> ops;
  for (const auto &entry : arityTable())
    ops.push_back(entry.getKey().str());
  llvm::sort(ops);
  return ops;
}

FailureOr<ImportedModel>
mlir::autopar::importONNXBytes(MLIRContext *context, StringRef bytes,
                               StringRef sourceName, StringRef modelDir,
                               const ONNXImportOptions &options) {
  context->loadDialect<AutoParDialect, func::FuncDialect>();
  onnx::ModelProto model;
  if (bytes.size() > size_t(INT32_MAX) ||
      !model.ParseFromArray(bytes.data(), int(bytes.size()))) {
    emitError(FileLineColLoc::get(context, sourceName, 0, 0))
        << "not a valid ONNX model (the protobuf does not parse)";
    return failure();
  }
  Importer importer(context, model, sourceName, modelDir, options);
  return importer.run();
}

FailureOr<ImportedModel>
mlir::autopar::importONNXFile(MLIRContext *context, StringRef path,
                              const ONNXImportOptions &options) {
  context->loadDialect<AutoParDialect, func::FuncDialect>();
  Location loc = FileLineColLoc::get(context, path, 0, 0);
  // Parse straight from the file: no second copy of the model in memory.
  int fd;
  if (std::error_code ec = llvm::sys::fs::openFileForRead(path, fd)) {
    emitError(loc) << "cannot read: " << ec.message();
    return failure();
  }
  onnx::ModelProto model;
  bool parsed = model.ParseFromFileDescriptor(fd);
  llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  if (!parsed) {
    emitError(loc) << "not a valid ONNX model (the protobuf does not parse)";
    return failure();
  }
  Importer importer(context, model, path, llvm::sys::path::parent_path(path),
                    options);
  return importer.run();
}
