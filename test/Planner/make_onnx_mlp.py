"""Writes an ONNX MLP (MatMul + Add + Relu layers, then MatMul) with
random weights: make_onnx_mlp.py OUT.onnx BATCH WIDTH LAYERS.
Built with onnx.helper alone (no torch), opset 17."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out, batch, width, layers = sys.argv[1], *map(int, sys.argv[2:5])
rng = np.random.default_rng(0)
nodes, inits = [], []
x = "x"
for i in range(layers):
    w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
    b = np.zeros(width, np.float32)
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
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, width])],
    [helper.make_tensor_value_info(x, TensorProto.FLOAT, [batch, width])],
    inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(model, out)
