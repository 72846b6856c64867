"""Mutates valid ONNX models (bytes and structure) and replays them through
the importer's fuzz target; no input may crash it.

Seeds: the models make_models.py writes plus a torch-exported transformer
layer. Mutations: byte flips, truncation, splices; structural edits through
the onnx API (dims, attribute values, op types, input names, data types,
initializer contents). The seed is fixed, so a failure reproduces.
Usage: fuzz_import.py ROUNDS WORKDIR
"""

import glob
import os
import random
import subprocess
import sys

import warnings

import onnx
from onnx import TensorProto

warnings.filterwarnings("ignore")

BIN = os.environ["AUTOPAR_BIN_DIR"]
HERE = os.path.dirname(os.path.abspath(__file__))


def seeds(work):
    subprocess.run([sys.executable, os.path.join(HERE, "make_models.py"),
                    os.path.join(work, "seeds")], check=True)
    paths = sorted(glob.glob(os.path.join(work, "seeds", "*.onnx")))
    return [open(p, "rb").read() for p in paths]


OPS = ["Relu", "Add", "MatMul", "Reshape", "Gather", "Slice", "Concat",
       "Softmax", "LayerNormalization", "Transpose", "Split", "Unsqueeze",
       "ReduceMean", "Gemm", "Where", "Expand", "Trilu", "Max", "Cast"]


def structural(rng, data):
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:
        return data
    g = model.graph
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(7)
        if kind == 0 and g.node:
            rng.choice(g.node).op_type = rng.choice(OPS)
        elif kind == 1 and g.node:
            n = rng.choice(g.node)
            if n.input:
                n.input[rng.randrange(len(n.input))] = rng.choice(
                    ["", "x", "w", "nope", n.output[0] if n.output else "y"])
            elif rng.random() < 0.5:
                n.input.append("x")
        elif kind == 2 and g.initializer:
            t = rng.choice(g.initializer)
            if t.dims:
                t.dims[rng.randrange(len(t.dims))] = rng.choice(
                    [0, 1, 7, -1, 2**40])
        elif kind == 3 and g.initializer:
            t = rng.choice(g.initializer)
            t.data_type = rng.choice([TensorProto.FLOAT, TensorProto.INT64,
                                      TensorProto.BOOL, TensorProto.UINT8,
                                      TensorProto.FLOAT16, 99])
        elif kind == 4 and g.node:
            n = rng.choice(g.node)
            a = n.attribute.add()
            a.name = rng.choice(["axis", "perm", "axes", "to", "keepdims",
                                 "transA", "upper", "split", "allowzero"])
            a.type = onnx.AttributeProto.INT
            a.i = rng.choice([-5, -1, 0, 1, 3, 2**62])
        elif kind == 5 and g.input:
            d = g.input[0].type.tensor_type.shape.dim
            if d:
                d[rng.randrange(len(d))].dim_value = rng.choice([0, 1, 5, 10**9])
        elif kind == 6 and model.opset_import:
            model.opset_import[0].version = rng.choice([12, 13, 18, 21, 22])
    return model.SerializeToString()


def byte_level(rng, data):
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not b:
            break
        pos = rng.randrange(len(b))
        kind = rng.randrange(3)
        if kind == 0:
            b[pos] = rng.getrandbits(8)
        elif kind == 1:
            del b[pos:]
        else:
            b[pos:pos] = b[rng.randrange(len(b)):][:rng.randint(1, 32)]
    return bytes(b)


def main():
    rounds, work = int(sys.argv[1]), sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = random.Random(4321)
    corpus = seeds(work)
    files = []
    for i in range(rounds):
        data = rng.choice(corpus)
        data = structural(rng, data) if i % 2 else byte_level(rng, data)
        path = os.path.join(work, f"case{i:04d}.onnx")
        with open(path, "wb") as f:
            f.write(data)
        files.append(path)
    replay = os.path.join(BIN, "autopar-onnx-fuzz-replay")
    proc = subprocess.run([replay] + files, capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        ran = [l.split(" ", 1)[1] for l in proc.stderr.splitlines()
               if l.startswith("running ")]
        print(f"CRASH (exit {proc.returncode}) on {ran[-1] if ran else '?'}")
        print(proc.stderr[-3000:])
        print(f"fuzz-import: {rounds} inputs, 1 crashes")
        return 1
    print(f"fuzz-import: {rounds} inputs, 0 crashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
