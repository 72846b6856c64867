"""Writes what bench/gpu/aot_train.cpp needs to train a training artifact
on the GPU: SPEC.txt and the batch as raw int64 files.

usage: train_spec.py ARTIFACT_DIR IDS.npy LABELS.npy OUTDIR NAME [--files]

Reads ARTIFACT_DIR/manifest.json (parameters in the step's order, which
are frozen, lr, optimizer state slots, the zoo seed) and the shapes of
@forward_backward's parameters from its train.mlir, writes OUTDIR/NAME.txt
and OUTDIR/NAME-ids.bin, OUTDIR/NAME-labels.bin (with the loss scale of an
fp16 artifact). A zoo model's weights are
drawn on the GPU machine from its seed; an imported model's (or, with
--files, a zoo model's) are written as OUTDIR/NAME-wK.bin from the
artifact's safetensors file. The model
FLOPs per token are counted as bench/gpu/torch_gpt.py counts them: 3 times
the forward's 2 per weight of every matrix product (the tied head
included, the position table not) plus 4 * seq * hidden per layer for
q k^T and p v.
"""
import json
import re
import struct
import sys

import numpy as np


def main():
    art, ids_path, labels_path, out, name = sys.argv[1:6]
    manifest = json.load(open(f"{art}/manifest.json"))
    if manifest.get("lr_schedule") != "constant":
        sys.exit("train_spec.py handles a constant lr")
    if manifest.get("grad_accum", 1) != 1:
        sys.exit("train_spec.py handles --grad-accum=1 only")
    scaling = manifest.get("loss_scale")
    if scaling is not None and scaling.get("mode") not in ("fixed", "dynamic"):
        sys.exit(f"train_spec.py: unknown loss_scale {scaling!r}")
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
            r"autopar\.role = \"(?:param|frozen)\"\}", m.group(1)):
        *dims, dtype = type_.split("x")
        if dtype != "f32":
            sys.exit(f"{pname}: {dtype} parameters are not handled")
        shapes[pname] = [int(d) for d in dims]
    # Weights: a zoo model's are drawn on the GPU machine from init_seed
    # (unless --files); an imported model's travel as raw files.
    files = manifest.get("init_seed") is None or "--files" in sys.argv[6:]
    weights = {}
    if files:
        blob = open(f"{art}/{manifest['weights']}", "rb").read()
        (size,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8:8 + size])
        data = blob[8 + size:]
        for pname, entry in header.items():
            if pname == "__metadata__":
                continue
            if entry["dtype"] != "F32":
                sys.exit(f"{pname}: {entry['dtype']} weights are not handled")
            begin, end = entry["data_offsets"]
            weights[pname] = data[begin:end]
    frozen = set(manifest.get("frozen", []))
    ids = np.ascontiguousarray(np.load(ids_path), dtype="<i8")
    labels = np.ascontiguousarray(np.load(labels_path), dtype="<i8")
    b, s = ids.shape
    ids.tofile(f"{out}/{name}-ids.bin")
    labels.tofile(f"{out}/{name}-labels.bin")
    matrix_flops, layers, hidden = 0, 0, 0
    lines = [f"seed {manifest.get('init_seed') or 0}", f"lr {manifest['lr']!r}",
             f"precision {manifest.get('precision', 'fp32')}",
             f"state {manifest['state_slots_per_param']} 0",
             f"data {name}-ids.bin {b} {s}",
             f"labels {name}-labels.bin {b} {s}"]
    if scaling is not None and scaling["mode"] == "fixed":
        lines.append(f"loss_scale fixed {scaling['value']!r}")
    elif scaling is not None:
        lines.append(f"loss_scale dynamic {scaling['initial']!r} "
                     f"{scaling['growth_interval']}")
    for pname in manifest["params"]:
        dims = shapes[pname]
        words = ["param", pname, str(len(dims))] + [str(d) for d in dims]
        if pname in frozen:
            words.append("frozen")
        if files:
            raw = f"{name}-w{len(lines)}.bin"
            if len(weights[pname]) != 4 * int(np.prod(dims)):
                sys.exit(f"{pname}: the weights file holds "
                         f"{len(weights[pname])} bytes for {dims}")
            open(f"{out}/{raw}", "wb").write(weights[pname])
            words.append(f"file={raw}")
        lines.append(" ".join(words))
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
