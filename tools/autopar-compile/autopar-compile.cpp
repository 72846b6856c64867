//===- autopar-compile.cpp - model to a training artifact -----------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
//   autopar-compile MODEL.onnx --train [--loss=cross_entropy|mse]
//       [--optimizer=sgd|adam|adamw|rmsprop|adagrad --lr=0.001 and the
//        optimizer's options] [--lr-schedule=SPEC --warmup-steps=W
//        --warmup-start=F] -o OUT
//
// Writes the folder OUT: train.mlir (@forward, @loss, @forward_backward (the
// loss and its gradients) and @optimizer_step in the autopar dialect),
// weights.safetensors (the initial parameters under their ONNX names) and
// manifest.json (what autopar-run needs to train: the functions, the parameter
// order, the optimizer state slots, the learning rate and its schedule).
//
//===----------------------------------------------------------------------===//

#include "LRSchedule.h"
#include "Npy.h"
#include "Safetensors.h"

#include "autopar/Dialect/AutoPar/IR/AutoParOps.h"
#include "autopar/Dialect/AutoPar/Transforms/Passes.h"
#include "autopar/Import/ONNX/ONNXImporter.h"
#include "autopar/Pipelines/Pipelines.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("autopar-compile options");
static cl::opt<std::string> modelFile(cl::Positional, cl::Required,
                                      cl::desc("<model.onnx>"),
                                      cl::cat(category));
static cl::opt<std::string> outDir("o", cl::Required, cl::desc("Output folder"),
                                   cl::cat(category));
static cl::opt<bool> train("train", cl::desc("Build the training step"),
                           cl::cat(category));
static cl::opt<std::string>
    lossKind("loss", cl::init("cross_entropy"),
             cl::desc("cross_entropy, mse, or graph (the "
                      "model takes data and labels and "
                      "outputs its loss)"),
             cl::cat(category));
static cl::opt<std::string> optimizerName("optimizer", cl::init("adam"),
                                          cl::desc("sgd, adam, adamw, "
                                                   "rmsprop, adagrad"),
                                          cl::cat(category));
static cl::opt<double> lr("lr", cl::init(1e-3), cl::desc("Learning rate"),
                          cl::cat(category));
static cl::opt<std::string> betas("betas", cl::desc("adam: b1,b2"),
                                  cl::cat(category));
static cl::opt<double> eps("eps", cl::init(-1), cl::cat(category),
                           cl::desc("Epsilon (optimizer default)"));
static cl::opt<double> weightDecay("weight-decay", cl::init(-1),
                                   cl::cat(category),
                                   cl::desc("Weight decay (default 0, "
                                            "adamw 0.01)"));
static cl::opt<double> momentum("momentum", cl::init(0), cl::cat(category),
                                cl::desc("sgd, rmsprop"));
static cl::opt<double> dampening("dampening", cl::init(0), cl::cat(category),
                                 cl::desc("sgd"));
static cl::opt<bool> nesterov("nesterov", cl::cat(category), cl::desc("sgd"));
static cl::opt<double> alpha("alpha", cl::init(0.99), cl::cat(category),
                             cl::desc("rmsprop"));
static cl::opt<bool> centered("centered", cl::cat(category),
                              cl::desc("rmsprop"));
static cl::opt<double> lrDecay("lr-decay", cl::init(0), cl::cat(category),
                               cl::desc("adagrad"));
static cl::opt<double> clipGradNorm("clip-grad-norm", cl::init(0),
                                    cl::cat(category),
                                    cl::desc("Global gradient-norm clip"));
static cl::opt<std::string> lrSchedule("lr-schedule", cl::init("constant"),
                                       cl::cat(category),
                                       cl::desc("LR schedule (autopar-lr)"));
static cl::opt<int64_t> warmupSteps("warmup-steps", cl::init(0),
                                    cl::cat(category),
                                    cl::desc("Linear warmup steps"));
static cl::opt<double> warmupStart("warmup-start", cl::init(0),
                                   cl::cat(category),
                                   cl::desc("Warmup start factor"));

static cl::opt<int64_t> gradAccum(
    "grad-accum", cl::init(1), cl::cat(category),
    cl::desc("Average the gradients of K microbatches (each of the exported "
             "batch size) per optimizer step"));

static cl::opt<std::string> freezePattern(
    "freeze", cl::cat(category),
    cl::desc("Keep the parameters whose names match this regular expression "
             "(anywhere in the name; anchor with ^ and $) fixed"));

static cl::opt<double> initialAccumulator(
    "initial-accumulator-value", cl::init(0), cl::cat(category),
    cl::desc("adagrad: the starting value of the squared-gradient sum"));

static int fail(const llvm::Twine &message) {
  llvm::WithColor::error(llvm::errs(), "autopar-compile") << message << "\n";
  return 1;
}

/// @loss(inputs..., labels, params...) = loss(@forward(inputs, params),
/// labels), built by copying @forward's body.
/// `--loss=graph`: the model computes its loss itself from two graph inputs,
/// the data and then the labels, and outputs it as one value. @loss is the
/// forward pass with the second input marked as the labels and the output
/// reshaped to a scalar.
static FailureOr<func::FuncOp> buildGraphLossFunction(ModuleOp module,
                                                      func::FuncOp forward) {
  SmallVector<unsigned> inputs;
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    auto role = forward.getArgAttrOfType<StringAttr>(i, "autopar.role");
    if (!role || role.getValue() != "param")
      inputs.push_back(i);
  }
  if (inputs.size() != 2 || inputs[0] != 0 || inputs[1] != 1)
    return forward.emitOpError(
               "with --loss=graph needs exactly two graph inputs, the data "
               "and then the labels, before the parameters; it has ")
           << inputs.size();
  auto out = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  if (!out || !isa<FloatType>(out.getElementType()) ||
      out.getNumElements() != 1)
    return forward.emitOpError("with --loss=graph must output the loss, one "
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
    Value loss = mlir::autopar::ReshapeOp::create(b, ret.getLoc(), scalar,
                                                  ret.getOperand(0));
    ret->setOperand(0, loss);
    fn.setType(b.getFunctionType(fn.getArgumentTypes(), {scalar}));
  }
  return fn;
}

static FailureOr<func::FuncOp> buildLossFunction(ModuleOp module,
                                                 func::FuncOp forward) {
  if (forward.getNumResults() != 1)
    return forward.emitOpError("needs exactly one output to train on, has ")
           << forward.getNumResults();
  if (lossKind == "graph")
    return buildGraphLossFunction(module, forward);
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
    return module.emitError("--loss must be cross_entropy, mse or graph, "
                            "got '")
           << lossKind.getValue() << "'";
  }
  // The labels go after the last data input.
  unsigned labelsAt = 0;
  for (unsigned i = 0; i < forward.getNumArguments(); ++i) {
    auto role = forward.getArgAttrOfType<StringAttr>(i, "autopar.role");
    if (!role || role.getValue() != "param")
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
    loss = mlir::autopar::CrossEntropyOp::create(b, loc, result, labels);
  } else {
    Value d = mlir::autopar::SubOp::create(b, loc, result, labels);
    loss = mlir::autopar::ReduceOp::create(
        b, loc, mlir::autopar::ReduceKind::Mean,
        mlir::autopar::MulOp::create(b, loc, d, d),
        llvm::to_vector(llvm::seq<int64_t>(0, out.getRank())));
  }
  func::ReturnOp::create(b, loc, loss);
  return fn;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "autopar-compile: a model to a training "
                              "artifact\n");
  if (!train)
    return fail("only --train is implemented; run a model's forward pass "
                "with autopar-import and autopar-run");
  if (initialAccumulator < 0)
    return fail("--initial-accumulator-value must not be negative");
  if (initialAccumulator != 0 && optimizerName != "adagrad")
    return fail("--initial-accumulator-value applies to adagrad only");
  if (gradAccum < 1)
    return fail("--grad-accum must be at least 1, got " +
                llvm::Twine(gradAccum.getValue()));
  // Validate the schedule now rather than at the first training step.
  llvm::Expected<::autopar::LRSchedule> schedule =
      ::autopar::LRSchedule::parse(lrSchedule, lr);
  if (!schedule)
    return fail(llvm::toString(schedule.takeError()));
  if (warmupSteps > 0)
    if (llvm::Error e = schedule->setWarmup(warmupSteps, warmupStart))
      return fail(llvm::toString(std::move(e)));

  mlir::autopar::registerAllAutoParPasses();
  DialectRegistry registry;
  mlir::autopar::registerAutoParDialects(registry);
  MLIRContext context(registry);
  // Errors name the model and the option; the IR dump helps nobody here.
  context.printOpOnDiagnostic(false);
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  mlir::autopar::ONNXImportOptions importOptions;
  importOptions.weightsFileName = "weights.safetensors";
  FailureOr<mlir::autopar::ImportedModel> model =
      mlir::autopar::importONNXFile(&context, modelFile, importOptions);
  if (failed(model))
    return 1;
  ModuleOp module = *model->module;
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  // The forward pass stays for inference; it is not public, so that
  // autopar-run picks nothing by accident.
  forward.setPrivate();
  FailureOr<func::FuncOp> lossFn = buildLossFunction(module, forward);
  if (failed(lossFn))
    return 1;
  // Frozen parameters become plain inputs of @loss: autodiff and the
  // optimizer then leave them alone.
  llvm::json::Array frozen;
  // An initializer holding inf or nan (an additive attention mask exported
  // from a buffer) is a constant, not something to train.
  ::autopar::TensorMap weights;
  llvm::json::Array params;
  llvm::StringSet<> nonFinite;
  for (mlir::autopar::ImportedWeight &w : model->weights) {
    ::autopar::NpyArray array;
    array.dtype =
        w.dtype == "F64" ? ::autopar::DType::F64 : ::autopar::DType::F32;
    array.shape.assign(w.shape.begin(), w.shape.end());
    array.data = std::move(w.data);
    if (::autopar::firstNonFinite(array))
      nonFinite.insert(w.name);
    params.push_back(w.name);
    weights.emplace(w.name, std::move(array));
  }
  for (unsigned i = 0; i < lossFn->getNumArguments(); ++i) {
    auto role = lossFn->getArgAttrOfType<StringAttr>(i, "autopar.role");
    auto name = lossFn->getArgAttrOfType<StringAttr>(i, "autopar.name");
    if (role && role.getValue() == "param" && name &&
        nonFinite.contains(name.getValue())) {
      lossFn->setArgAttr(i, "autopar.role",
                         StringAttr::get(&context, "frozen"));
      frozen.push_back(name.str());
      llvm::errs() << "autopar-compile: note: '" << name.getValue()
                   << "' holds inf or nan (a mask?); it is kept fixed\n";
    }
  }
  size_t autoFrozen = frozen.size();
  if (!freezePattern.empty()) {
    llvm::Regex regex(freezePattern);
    std::string why;
    if (!regex.isValid(why))
      return fail("--freeze='" + freezePattern +
                  "' is not a regular "
                  "expression: " +
                  why);
    std::string all;
    unsigned params = 0;
    for (unsigned i = 0; i < lossFn->getNumArguments(); ++i) {
      auto role = lossFn->getArgAttrOfType<StringAttr>(i, "autopar.role");
      auto name = lossFn->getArgAttrOfType<StringAttr>(i, "autopar.name");
      if (!role || role.getValue() != "param" || !name)
        continue;
      ++params;
      all += (all.empty() ? "" : ", ") + name.str();
      if (regex.match(name.getValue())) {
        lossFn->setArgAttr(i, "autopar.role",
                           StringAttr::get(&context, "frozen"));
        frozen.push_back(name.str());
      }
    }
    if (frozen.size() == autoFrozen)
      return fail("--freeze='" + freezePattern +
                  "' matches no parameter; the parameters are " + all);
    if (frozen.size() == params + autoFrozen)
      return fail("--freeze='" + freezePattern +
                  "' matches every parameter; nothing would train");
  }
  if (llvm::none_of(
          llvm::seq<unsigned>(0, lossFn->getNumArguments()), [&](unsigned i) {
            auto role = lossFn->getArgAttrOfType<StringAttr>(i, "autopar.role");
            return role && role.getValue() == "param";
          }))
    return fail(modelFile + " has no trainable parameters (initializers "
                            "holding finite floating-point values)");

  std::string optimizerOptions = "optimizer=" + optimizerName.getValue();
  auto add = [&](StringRef key, const llvm::Twine &value) {
    optimizerOptions += (" " + key + "=" + value).str();
  };
  auto exact = [](double v) {
    std::string text;
    llvm::raw_string_ostream(text) << llvm::format("%.17g", v);
    return text;
  };
  if (!betas.empty()) {
    auto [b1, b2] = StringRef(betas).split(',');
    double v1, v2;
    if (b1.trim().getAsDouble(v1) || b2.trim().getAsDouble(v2) || v1 < 0 ||
        v1 >= 1 || v2 < 0 || v2 >= 1)
      return fail("--betas needs two numbers in [0, 1), got '" + betas + "'");
    add("beta1", exact(v1));
    add("beta2", exact(v2));
  }
  add("eps", exact(eps));
  add("weight-decay", exact(weightDecay));
  add("momentum", exact(momentum));
  add("dampening", exact(dampening));
  add("nesterov", nesterov ? "true" : "false");
  add("alpha", exact(alpha));
  add("centered", centered ? "true" : "false");
  add("lr-decay", exact(lrDecay));
  add("clip-grad-norm", exact(clipGradNorm));
  PassManager pm(&context);
  // Anchored on the module already: the pipeline names only its passes.
  std::string pipeline =
      "autopar-autodiff{entry=loss}," +
      std::string("autopar-make-optimizer-step{entry=loss ") +
      optimizerOptions + "}";
  if (failed(parsePassPipeline(pipeline, pm, llvm::errs())))
    return fail("bad optimizer options: " + optimizerOptions);
  if (failed(pm.run(module)))
    return 1;
  // DESIGN.md's name for one microbatch's loss and gradients.
  if (auto grad = module.lookupSymbol<func::FuncOp>("loss_grad")) {
    if (failed(SymbolTable::replaceAllSymbolUses(
            grad, StringAttr::get(&context, "forward_backward"), module)))
      return fail("internal error: could not rename @loss_grad");
    grad.setSymName("forward_backward");
  }

  // The artifact.
  if (std::error_code ec = llvm::sys::fs::create_directories(outDir))
    return fail(outDir + ": " + ec.message());
  auto path = [&](StringRef name) {
    llvm::SmallString<256> p(outDir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  };
  if (llvm::Error e =
          ::autopar::writeSafetensors(path("weights.safetensors"), weights))
    return fail(llvm::toString(std::move(e)));
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(path("train.mlir"), ec, llvm::sys::fs::OF_Text);
    if (ec)
      return fail(path("train.mlir") + ": " + ec.message());
    module.print(os);
  }
  auto step = module.lookupSymbol<func::FuncOp>("optimizer_step");
  if (!step || !module.lookupSymbol<func::FuncOp>("forward_backward"))
    return fail("internal error: the training functions were not built");

  size_t frozenCount = frozen.size();
  size_t trainable = params.size() - frozenCount;
  int64_t slots = (step.getNumArguments() - 2 - 2 * trainable) /
                  std::max<size_t>(1, trainable);
  llvm::json::Object manifest{
      {"format", "autopar-training-artifact"},
      {"version", 1},
      {"module", "train.mlir"},
      {"weights", "weights.safetensors"},
      {"gradient_function", "forward_backward"},
      {"optimizer_function", "optimizer_step"},
      {"loss", lossKind.getValue()},
      {"optimizer", optimizerOptions},
      {"params", std::move(params)},
      {"state_slots_per_param", slots},
      {"lr", lr.getValue()},
      {"lr_schedule", lrSchedule.getValue()},
      {"warmup_steps", warmupSteps.getValue()},
      {"warmup_start", warmupStart.getValue()},
      {"grad_accum", gradAccum.getValue()},
      {"frozen", std::move(frozen)},
      // Starting values of optimizer state slots,
      // by slot name (zero when absent).
      {"state_init",
       llvm::json::Object{{"sum", initialAccumulator.getValue()}}}};
  std::error_code ec;
  llvm::raw_fd_ostream os(path("manifest.json"), ec, llvm::sys::fs::OF_Text);
  if (ec)
    return fail(path("manifest.json") + ": " + ec.message());
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(manifest))) << "\n";
  int64_t elements = 0;
  for (const auto &entry : weights)
    elements += entry.second.numElements();
  llvm::outs() << llvm::formatv(
      "wrote {0}: {1} parameter tensors ({2} values{6}), loss {3}, {4} with "
      "{5} state tensors per parameter; train it with autopar-run {0} "
      "--data=X.npy --labels=Y.npy\n",
      outDir, weights.size(), elements, lossKind, optimizerName, slots,
      frozenCount ? llvm::formatv(", {0} frozen", frozenCount).str() : "");
  return 0;
}
