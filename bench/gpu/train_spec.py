"""Writes what bench/gpu/aot_train.cpp needs to train a training artifact
on the GPU: SPEC.txt and the batch as raw int64 files.

usage: train_spec.py ARTIFACT_DIR IDS.npy LABELS.npy OUTDIR NAME

Reads ARTIFACT_DIR/manifest.json (parameters in the step's order, lr,
optimizer state slots and their initial value, the zoo seed) and the
shapes of @forward_backward's parameters from its train.mlir, writes
OUTDIR/NAME.txt and OUTDIR/NAME-ids.bin, OUTDIR/NAME-labels.bin. The model
FLOPs per token are counted as bench/gpu/torch_gpt.py counts them: 3 times
the forward's 2 per weight of every matrix product (the tied head
included, the position table not) plus 4 * seq * hidden per layer for
q k^T and p v.
"""
import json
import re
import sys

import numpy as np


def main():
    art, ids_path, labels_path, out, name = sys.argv[1:6]
    manifest = json.load(open(f"{art}/manifest.json"))
    if manifest.get("lr_schedule") != "constant" or manifest.get("frozen"):
        sys.exit("train_spec.py handles a constant lr and no frozen weights")
    if manifest.get("grad_accum", 1) != 1:
        sys.exit("train_spec.py handles --grad-accum=1 only")
    if manifest.get("init_seed") is None:
        sys.exit("train_spec.py needs a zoo model (its weights are drawn on "
                 "the GPU machine from init_seed)")
    if manifest["optimizer"].startswith("optimizer=adagrad") and \
            manifest.get("state_init", {}).get("sum", 0) != 0:
        sys.exit("train_spec.py handles optimizer state starting at zero")
    text = open(f"{art}/{manifest['module']}").read()
    m = re.search(r"func\.func @forward_backward\((.*?)\) -> ", text)
    if not m:
        sys.exit(f"{art}: no @forward_backward")
    shapes = {}
    for type_, pname in re.findall(
            r"%arg\d+: tensor<([^>]*)> \{autopar\.name = \"([^\"]+)\", "
            r"autopar\.role = \"param\"\}", m.group(1)):
        *dims, dtype = type_.split("x")
        if dtype != "f32":
            sys.exit(f"{pname}: {dtype} parameters are not handled")
        shapes[pname] = [int(d) for d in dims]
    ids = np.ascontiguousarray(np.load(ids_path), dtype="<i8")
    labels = np.ascontiguousarray(np.load(labels_path), dtype="<i8")
    b, s = ids.shape
    ids.tofile(f"{out}/{name}-ids.bin")
    labels.tofile(f"{out}/{name}-labels.bin")
    matrix_flops, layers, hidden = 0, 0, 0
    lines = [f"seed {manifest['init_seed']}", f"lr {manifest['lr']!r}",
             f"state {manifest['state_slots_per_param']} 0",
             f"data {name}-ids.bin {b} {s}",
             f"labels {name}-labels.bin {b} {s}"]
    for pname in manifest["params"]:
        dims = shapes[pname]
        lines.append(" ".join(["param", pname, str(len(dims))] +
                              [str(d) for d in dims]))
        if len(dims) == 2 and not pname.startswith("pos."):
            matrix_flops += 2 * dims[0] * dims[1]
        if pname.endswith("attn.qkv.weight"):
            layers += 1
            hidden = dims[0]
    flops = 3 * (matrix_flops + layers * 4 * s * hidden)
    lines.append(f"flops_per_token {flops}")
    open(f"{out}/{name}.txt", "w").write("\n".join(lines) + "\n")
    print(f"{name}: {len(manifest['params'])} parameters, batch {b}x{s}, "
          f"{flops} FLOPs per token")


if __name__ == "__main__":
    main()
