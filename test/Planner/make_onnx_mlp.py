"""Writes an ONNX MLP (MatMul + Add layers with Relu between) with random
weights: make_onnx_mlp.py OUT.onnx BATCH WIDTH LAYERS (all layers WIDTH x
WIDTH), or make_onnx_mlp.py OUT.onnx BATCH W0,W1,...,WL (layer i maps Wi
features to Wi+1). Built with onnx.helper alone (no torch), opset 17."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out, batch = sys.argv[1], int(sys.argv[2])
if "," in sys.argv[3]:
    widths = [int(w) for w in sys.argv[3].split(",")]
else:
    widths = [int(sys.argv[3])] * (int(sys.argv[4]) + 1)
layers = len(widths) - 1
rng = np.random.default_rng(0)
nodes, inits = [], []
x = "x"
for i in range(layers):
    fan_in, fan_out = widths[i], widths[i + 1]
    w = (rng.standard_normal((fan_in, fan_out)) /
         np.sqrt(fan_in)).astype(np.float32)
    b = np.zeros(fan_out, np.float32)
    inits += [numpy_helper.from_array(w, f"w{i}"),
              numpy_helper.from_array(b, f"b{i}")]
    nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]),
              helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
    x = f"a{i}"
    if i + 1 < layers:
        nodes.append(helper.make_node("Relu", [x], [f"r{i}"]))
        x = f"r{i}"
graph = helper.make_graph(
    nodes, "mlp",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                   [batch, widths[0]])],
    [helper.make_tensor_value_info(x, TensorProto.FLOAT,
                                   [batch, widths[-1]])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(model, out)
