"""Runs ONNX's backend node tests through autopar-import + autopar-run.

Each case in DATA/node/<case>/ has model.onnx and test_data_set_0/ with
input_N.pb / output_N.pb. A case is
  unsupported  if the importer rejects it (an op, dtype or opset autopar does
               not claim; the importer's message is the reason),
  passed       if every output matches within rtol 1e-4, atol 1e-5,
  failed       otherwise (a crash, a run error, or a wrong number).
Prints a line per op type and the totals. With --claimed it runs only the
cases whose ops are all in `autopar-import --list-ops`, and exits 1 if any
of them fails (a rejection for the model's opset, an element type, a
runtime value where autopar needs an import-time one, or training-mode
Dropout counts as unsupported, not failed).

Usage: run.py [--data DIR] [--filter SUBSTR] [--claimed] [-v]
"""

import argparse
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

BIN = os.environ.get("AUTOPAR_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")

# Rejections that say the case is outside what autopar claims.
OUT_OF_SCOPE = re.compile(
    r"unsupported op type|opset \d+; autopar imports|ONNX element type|"
    r"dynamic dimension|is not a tensor|unsupported attribute|"
    r"negative steps on runtime tensors|outputs are not supported|"
    r"must be known at import time|weights files hold|"
    r"training mode is unsupported")


def load_tensors(folder, prefix):
    arrays = []
    for path in sorted(glob.glob(os.path.join(folder, f"{prefix}_*.pb")),
                       key=lambda p: int(re.findall(r"_(\d+)\.pb$", p)[0])):
        t = onnx.TensorProto()
        with open(path, "rb") as f:
            t.ParseFromString(f.read())
        arrays.append(numpy_helper.to_array(t))
    return arrays


def run_case(case_dir, work):
    model_path = os.path.join(case_dir, "model.onnx")
    data_dir = os.path.join(case_dir, "test_data_set_0")
    mlir = os.path.join(work, "model.mlir")
    imp = subprocess.run([os.path.join(BIN, "autopar-import"), model_path,
                          "-o", mlir], capture_output=True, text=True,
                         timeout=120)
    if imp.returncode != 0:
        msg = imp.stderr.strip().splitlines()[0] if imp.stderr else "?"
        kind = "unsupported" if OUT_OF_SCOPE.search(imp.stderr) else "failed"
        return kind, msg
    model = onnx.load(model_path)
    inits = {i.name for i in model.graph.initializer}
    input_names = [i.name for i in model.graph.input if i.name not in inits]
    inputs = load_tensors(data_dir, "input")
    outputs = load_tensors(data_dir, "output")
    args = [os.path.join(BIN, "autopar-run"), mlir,
            "--output-dir=" + os.path.join(work, "out")]
    for i, (name, a) in enumerate(zip(input_names, inputs)):
        path = os.path.join(work, f"in{i}.npy")
        np.save(path, a)
        args.append("--input=" + path)
    res = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        msg = res.stderr.strip().splitlines()[0] if res.stderr else "?"
        if res.returncode < 0:
            msg = f"crashed with signal {-res.returncode}"
        kind = "unsupported" if "cannot carry" in res.stderr else "failed"
        return kind, msg
    for k, want in enumerate(outputs):
        got = np.load(os.path.join(work, "out", f"result{k}.npy"))
        if got.shape != want.shape:
            return "failed", f"output {k}: shape {got.shape} != {want.shape}"
        if want.dtype.kind in "fc":
            ok = np.allclose(got, want, rtol=1e-4, atol=1e-5, equal_nan=True)
        else:
            ok = np.array_equal(got, want)
        if not ok:
            err = np.nanmax(np.abs(got.astype(np.float64) -
                                   want.astype(np.float64)))
            return "failed", f"output {k}: max abs error {err:.3g}"
    return "passed", ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/usr/share/libonnx-testdata/data")
    parser.add_argument("--filter", default="")
    parser.add_argument("--claimed", action="store_true")
    parser.add_argument("-v", action="store_true")
    opts = parser.parse_args()
    cases = sorted(d for d in glob.glob(os.path.join(opts.data, "node", "*"))
                   if opts.filter in os.path.basename(d))
    if opts.claimed:
        # Only cases whose every op the importer claims to support.
        claimed = set(subprocess.run(
            [os.path.join(BIN, "autopar-import"), "--list-ops"],
            capture_output=True, text=True, check=True).stdout.split())
        cases = [c for c in cases if {n.op_type for n in onnx.load(
            os.path.join(c, "model.onnx")).graph.node} <= claimed]
    per_op = collections.defaultdict(collections.Counter)
    failures = []
    with tempfile.TemporaryDirectory() as work:
        for case in cases:
            model = onnx.load(os.path.join(case, "model.onnx"))
            op = "+".join(sorted({n.op_type for n in model.graph.node}))
            kind, msg = run_case(case, work)
            per_op[op][kind] += 1
            if kind == "failed":
                failures.append((os.path.basename(case), msg))
            if opts.v:
                print(f"{kind:11s} {os.path.basename(case)} {msg}")
    print(f"{'op':40s} passed failed unsupported")
    for op in sorted(per_op):
        c = per_op[op]
        print(f"{op[:40]:40s} {c['passed']:6d} {c['failed']:6d} "
              f"{c['unsupported']:11d}")
    total = collections.Counter()
    for c in per_op.values():
        total.update(c)
    for name, msg in failures:
        print(f"FAILED {name}: {msg}")
    print(f"total: {total['passed']} passed, {total['failed']} failed, "
          f"{total['unsupported']} unsupported of {len(cases)} cases")
    return 1 if opts.claimed and total["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
