"""Writes the arguments of a training artifact's @loss as raw files.

usage: loss_args.py TRAIN.mlir WEIGHTS.safetensors IDS.npy LABELS.npy OUTDIR

Reads @loss's signature (each argument's tensor type and autopar.name /
autopar.role), takes the input and label from the .npy files and every
parameter from the safetensors file, and writes OUTDIR/argN.bin (row-major,
little-endian) with OUTDIR/args.txt: "DTYPE RANK DIM... FILE" per argument,
in order (what bench/gpu/aot_loss.cpp reads).
"""
import json
import re
import struct
import sys

import numpy as np


def main():
    mlir, weights, ids, labels, out = sys.argv[1:6]
    text = open(mlir).read()
    m = re.search(r"func\.func @loss\((.*?)\) -> ", text)
    if not m:
        sys.exit(f"{mlir}: no @loss")
    args = re.findall(
        r"%arg\d+: tensor<([^>]*)> \{autopar\.name = \"([^\"]+)\", "
        r"autopar\.role = \"([a-z]+)\"\}", m.group(1))
    blob = open(weights, "rb").read()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + size])
    data = blob[8 + size:]
    feeds = {"input": np.load(ids), "label": np.load(labels)}
    lines = []
    for i, (type_, name, role) in enumerate(args):
        *dims, dtype = type_.split("x")
        dims = [int(d) for d in dims]
        if role in feeds:
            array = feeds[role]
        else:
            entry = header[name]
            if entry["dtype"] != "F32":
                sys.exit(f"{name}: {entry['dtype']} weights are not handled")
            begin, end = entry["data_offsets"]
            array = np.frombuffer(data[begin:end], dtype="<f4").reshape(
                entry["shape"])
        want = np.int64 if dtype == "i64" else np.float32
        array = np.ascontiguousarray(array, dtype=want)
        if list(array.shape) != dims:
            sys.exit(f"{name}: shape {list(array.shape)}, @loss takes {dims}")
        array.astype(array.dtype.newbyteorder("<")).tofile(f"{out}/arg{i}.bin")
        lines.append(" ".join([dtype, str(len(dims))] + [str(d) for d in dims]
                              + [f"arg{i}.bin"]))
    open(f"{out}/args.txt", "w").write("\n".join(lines) + "\n")
    print(f"{len(lines)} arguments of @loss written to {out}")


if __name__ == "__main__":
    main()
