"""Writes small ONNX models, good and deliberately broken, into a folder for
the importer's lit tests. Usage: make_models.py DIR"""

import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def save(name, nodes, inputs, outputs, inits=(), opset=14, check=False):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid("", opset)])
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out, name + ".onnx"))
    return model


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "w")

# A good one: y = x @ w, with a Shape->Gather->Unsqueeze->Concat->Reshape
# chain that must fold away at import.
save("good", [
    helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
    helper.make_node("Shape", ["h"], ["s"], name="shape"),
    helper.make_node("Gather", ["s", "zero"], ["d0"], name="g", axis=0),
    helper.make_node("Unsqueeze", ["d0", "axes"], ["d0u"], name="u"),
    helper.make_node("Concat", ["d0u", "minus1"], ["shp"], name="c", axis=0),
    helper.make_node("Reshape", ["h", "shp"], ["y"], name="r"),
], [vi("x", [2, 3])], [vi("y", [2, 4])],
    [w, numpy_helper.from_array(np.array(0, np.int64), "zero"),
     numpy_helper.from_array(np.array([0], np.int64), "axes"),
     numpy_helper.from_array(np.array([-1], np.int64), "minus1")],
    check=True)

# Unsupported ops: every type with its nodes in one message.
save("unsupported", [
    helper.make_node("Conv", ["x", "x"], ["a"], name="conv1"),
    helper.make_node("Conv", ["a", "x"], ["b"], name="conv2"),
    helper.make_node("TopK", ["b", "k"], ["y", "i"], name="topk"),
    helper.make_node("Relu", ["y"], ["z"], name="fine"),
], [vi("x", [1, 1, 3, 3]), vi("k", [1], TensorProto.INT64)],
    [vi("z", [1])])

# A node reading a name nothing defines.
save("dangling", [helper.make_node("Relu", ["nowhere"], ["y"], name="r")],
     [vi("x", [2])], [vi("y", [2])])

# A cycle: a <- Relu(b), b <- Relu(a).
save("cycle", [helper.make_node("Relu", ["b"], ["a"], name="first"),
               helper.make_node("Relu", ["a"], ["b"], name="second")],
     [vi("x", [2])], [vi("b", [2])])

# Types that do not match: MatMul of f32 with i64.
save("type_mismatch", [helper.make_node("Add", ["x", "n"], ["y"], name="add")],
     [vi("x", [2]), vi("n", [2], TensorProto.INT64)], [vi("y", [2])])

# A dynamic input dimension.
save("dynamic", [helper.make_node("Relu", ["x"], ["y"], name="r")],
     [vi("x", ["batch", 4])], [vi("y", ["batch", 4])])

# An opset outside 13..21.
save("old_opset", [helper.make_node("Relu", ["x"], ["y"], name="r")],
     [vi("x", [2])], [vi("y", [2])], opset=11)

# External data: good, absolute, '..', past the end, symlink escape.
def external(name, location, offset=0, length=48):
    t = TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.extend([3, 4])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)),
                 ("length", str(length))):
        e = t.external_data.add()
        e.key, e.value = k, v
    save(name, [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
         [vi("x", [2, 3])], [vi("y", [2, 4])], [t])


np.arange(12, dtype=np.float32).tofile(os.path.join(out, "weights.bin"))
external("external_good", "weights.bin")
external("external_absolute", "/etc/passwd")
external("external_dotdot", "../weights.bin")
external("external_past_end", "weights.bin", offset=40)
outside = os.path.join(os.path.dirname(os.path.abspath(out)), "outside.bin")
np.arange(12, dtype=np.float32).tofile(outside)
link = os.path.join(out, "link.bin")
if os.path.lexists(link):
    os.remove(link)
os.symlink(outside, link)
external("external_symlink", "link.bin")

# Not a protobuf at all, and a truncated one.
with open(os.path.join(out, "garbage.onnx"), "wb") as f:
    f.write(b"this is not an onnx model\xff\xff\xff")
data = open(os.path.join(out, "good.onnx"), "rb").read()
with open(os.path.join(out, "truncated.onnx"), "wb") as f:
    f.write(data[: len(data) // 2])
np.save(os.path.join(out, "x23.npy"),
        np.arange(6, dtype=np.float32).reshape(2, 3))
