//===- BuildLoss.cpp - the training loss of a forward function ------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//

#include "autopar/Dialect/AutoPar/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/Regex.h"

namespace mlir::autopar {
#define GEN_PASS_DEF_BUILDLOSSPASS
#include "autopar/Dialect/AutoPar/Transforms/Passes.h.inc"
} // namespace mlir::autopar

using namespace mlir;
using namespace mlir::autopar;

namespace {
/// A parameter, trained or kept fixed; anything else is a graph input.
bool isParameter(StringAttr role) {
  return role && (role.getValue() == "param" || role.getValue() == "frozen");
}

/// `loss=graph`: the model computes its loss itself from two graph inputs,
/// the data and then the labels, and outputs it as one value. @loss is the
/// forward pass with the second input marked as the labels and the output
/// reshaped to a scalar.
FailureOr<func::FuncOp> buildGraphLoss(ModuleOp module, func::FuncOp forward) {
  SmallVector<unsigned> inputs;
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    auto role = forward.getArgAttrOfType<StringAttr>(i, "autopar.role");
    if (!isParameter(role))
      inputs.push_back(i);
  }
  if (inputs.size() != 2 || inputs[0] != 0 || inputs[1] != 1)
    return forward.emitOpError(
               "with loss=graph needs exactly two graph inputs, the data "
               "and then the labels, before the parameters; it has ")
           << inputs.size();
  auto out = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (!out || !isa<FloatType>(out.getElementType()) ||
      out.getNumElements() != 1)
    return forward.emitOpError("with loss=graph must output the loss, one "
                               "floating-point value; it outputs ")
           << forward.getResultTypes()[0];
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  auto fn = cast<func::FuncOp>(b.clone(*forward));
  fn.setSymName("loss");
  fn.setPublic();
  fn.setArgAttr(1, "autopar.role", b.getStringAttr("label"));
  if (out.getRank() > 0) {
    auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
    b.setInsertionPoint(ret);
    auto scalar = RankedTensorType::get({}, out.getElementType());
    Value loss = ReshapeOp::create(b, ret.getLoc(), scalar, ret.getOperand(0));
    ret->setOperand(0, loss);
    fn.setType(b.getFunctionType(fn.getArgumentTypes(), {scalar}));
  }
  return fn;
}

FailureOr<func::FuncOp> buildLoss(ModuleOp module, func::FuncOp forward,
                                  StringRef lossKind) {
  if (forward.getNumResults() != 1)
    return forward.emitOpError("needs exactly one output to train on, has ")
           << forward.getNumResults();
  if (lossKind == "graph")
    return buildGraphLoss(module, forward);
  auto out = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (!out || !isa<FloatType>(out.getElementType()))
    return forward.emitOpError("output must be a floating-point tensor");
  Type labelType;
  if (lossKind == "cross_entropy") {
    if (out.getRank() < 1)
      return forward.emitOpError("cross_entropy needs logits [..., C]");
    labelType = RankedTensorType::get(
        out.getShape().drop_back(), IntegerType::get(module.getContext(), 64));
  } else if (lossKind == "mse") {
    labelType = out;
  } else {
    return module.emitError("loss must be cross_entropy, mse or graph, "
                            "got '")
           << lossKind << "'";
  }
  // The labels go after the last data input.
  unsigned labelsAt = 0;
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    auto role = forward.getArgAttrOfType<StringAttr>(i, "autopar.role");
    if (!isParameter(role))
      labelsAt = i + 1;
  }
  SmallVector<Type> inputs(forward.getArgumentTypes());
  inputs.insert(inputs.begin() + labelsAt, labelType);
  OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
  Location loc = forward.getLoc();
  auto fn = func::FuncOp::create(
      b, loc, "loss",
      b.getFunctionType(inputs,
                        RankedTensorType::get({}, out.getElementType())));
  Block *body = fn.addEntryBlock();
  IRMapping map;
  for (unsigned i = 0, j = 0; i < inputs.size(); ++i) {
    if (i == labelsAt)
      continue;
    map.map(forward.getArgument(j), body->getArgument(i));
    if (DictionaryAttr attrs = forward.getArgAttrDict(j))
      fn.setArgAttrs(i, attrs);
    ++j;
  }
  fn.setArgAttr(labelsAt, "autopar.role", b.getStringAttr("label"));
  fn.setArgAttr(labelsAt, "autopar.name", b.getStringAttr("labels"));
  b.setInsertionPointToEnd(body);
  Value result;
  for (Operation &op : forward.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      result = map.lookup(ret.getOperand(0));
      break;
    }
    b.clone(op, map);
  }
  Value labels = body->getArgument(labelsAt);
  Value loss;
  if (lossKind == "cross_entropy") {
    loss = CrossEntropyOp::create(b, loc, result, labels);
  } else {
    Value d = SubOp::create(b, loc, result, labels);
    loss =
        ReduceOp::create(b, loc, ReduceKind::Mean, MulOp::create(b, loc, d, d),
                         llvm::to_vector(llvm::seq<int64_t>(0, out.getRank())));
  }
  func::ReturnOp::create(b, loc, loss);
  return fn;
}

struct BuildLossPass
    : public mlir::autopar::impl::BuildLossPassBase<BuildLossPass> {
  using BuildLossPassBase::BuildLossPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp forward =
        lookupEntryFunction(module, entry, "autopar-build-loss");
    if (!forward)
      return signalPassFailure();
    if (module.lookupSymbol("loss")) {
      module.emitError("autopar-build-loss: the module already has @loss");
      return signalPassFailure();
    }
    FailureOr<func::FuncOp> fn = buildLoss(module, forward, loss);
    if (failed(fn))
      return signalPassFailure();
    // The forward pass stays for inference, private so that nothing picks
    // it by accident.
    forward.setPrivate();
    if (!freeze.empty() && failed(freezeMatching(*fn)))
      signalPassFailure();
  }

  LogicalResult freezeMatching(func::FuncOp fn) {
    llvm::Regex regex(freeze);
    std::string why;
    if (!regex.isValid(why))
      return fn.emitError("freeze='")
             << freeze << "' is not a regular expression: " << why;
    std::string all;
    unsigned params = 0, matched = 0;
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      auto role = fn.getArgAttrOfType<StringAttr>(i, "autopar.role");
      auto name = fn.getArgAttrOfType<StringAttr>(i, "autopar.name");
      if (!role || role.getValue() != "param" || !name)
        continue;
      ++params;
      all += (all.empty() ? "" : ", ") + name.str();
      if (regex.match(name.getValue())) {
        fn.setArgAttr(i, "autopar.role",
                      StringAttr::get(&getContext(), "frozen"));
        ++matched;
      }
    }
    if (matched == 0)
      return fn.emitError("freeze='")
             << freeze << "' matches no parameter; the parameters are " << all;
    if (matched == params)
      return fn.emitError("freeze='")
             << freeze << "' matches every parameter; nothing would train";
    return success();
  }
};
} // namespace
