"""Trains a model twice with autopar-run, with and without autopar-fuse-rows
(the CUDA pipeline's fusion of row reductions with their elementwise ops,
run on the CPU by autopar-run's hidden --fuse-rows), and compares every
step's loss (relative, LOSS_RTOL) and the trained weights (the largest
relative 2-norm difference over the tensors, WEIGHT_RTOL). In fp32 the two
agree to about 1e-6: the same operations in the same order, except that
LLVM may contract a multiply and an add into one FMA once they share a loop.
Under bf16 such a last-bit difference can round an activation to the
neighbouring bf16 value (2^-8 apart), so the runs drift further apart: the
test states looser tolerances there. The unfused CPU pipeline itself is
checked against torch by torch-train.test, torch-train-gpt.test and
mixed-precision.test.
With OTHER_DIR, the second run trains that artifact instead (without
--fuse-rows): fused-attention.test compares a model compiled with and
without --fused-attention=on that way.
With --first=FLAGS and --second=FLAGS, the two runs take those
autopar-run flags instead (split as a shell would, quotes kept together):
recompute-producers.test
compares --fuse-rows with --fuse-rows --recompute-producers that way.
With --noise=SUFFIX:START:STOP, rows START to STOP of every tensor whose
name ends with SUFFIX are left out of the weights' comparison: a slice
whose gradient is zero in exact arithmetic (an attention's key bias adds
the same amount to all of a query's scores, which the softmax cancels), so
that its trained values are rounding noise, which Adam amplifies to full
steps of the learning rate.
Usage: fuse_rows_train.py MODEL_DIR DATA LABELS BATCH STEPS WORK
                          LOSS_RTOL WEIGHT_RTOL [OTHER_DIR]
                          [--first=FLAGS] [--second=FLAGS]
                          [--noise=SUFFIX:START:STOP ...]
"""

import json
import os
import shlex
import subprocess
import sys

import numpy as np

# The autopar package of this checkout (lit sets PYTHONPATH too).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "python"))
from autopar import read_safetensors  # noqa: E402


def train(model, data, labels, batch, steps, work, name, extra):
    log = os.path.join(work, name + ".jsonl")
    weights = os.path.join(work, name + ".safetensors")
    subprocess.run(["autopar-run", model, f"--data={data}",
                    f"--labels={labels}", f"--batch-size={batch}",
                    f"--steps={steps}", f"--log={log}", f"--export={weights}"]
                   + extra, check=True, capture_output=True, text=True)
    with open(log) as f:
        losses = [json.loads(line)["loss"] for line in f]
    return losses, read_safetensors(weights)


def main(argv):
    model, data, labels, batch, steps, work = argv[1:7]
    loss_rtol, weight_rtol = float(argv[7]), float(argv[8])
    os.makedirs(work, exist_ok=True)
    other, first, second = None, [], ["--fuse-rows"]
    noise = []
    for a in argv[9:]:
        if a.startswith("--noise="):
            suffix, start, stop = a[len("--noise="):].rsplit(":", 2)
            noise.append((suffix, int(start), int(stop)))
        elif a.startswith("--first="):
            first = shlex.split(a[len("--first="):])
        elif a.startswith("--second="):
            second = shlex.split(a[len("--second="):])
        else:
            other, second = a, []
    plain, w0 = train(model, data, labels, batch, steps, work, "plain", first)
    fused, w1 = train(other or model, data, labels, batch, steps, work,
                      "fused", second)
    loss_err = max(abs(a - b) / abs(a) for a, b in zip(plain, fused))

    def compared(name, w):
        w = w.astype(np.float64)
        for suffix, start, stop in noise:
            if name.endswith(suffix):
                w = np.delete(w, np.s_[start:stop], axis=0)
        return w

    left_out = sum(1 for k in w0 for s, _, _ in noise if k.endswith(s))
    if noise and not left_out:
        print(f"--noise matches no tensor of {sorted(w0)}")
        return 1
    weight_err = max(
        float(np.linalg.norm(compared(k, w1[k]) - compared(k, w0[k])) /
              max(np.linalg.norm(compared(k, w0[k])), 1e-30))
        for k in w0)
    ok = (len(plain) == len(fused) == int(steps) and
          loss_err <= loss_rtol and weight_err <= weight_rtol and
          w0.keys() == w1.keys())
    print(f"{len(fused)} steps: losses {plain[0]:.6f} -> {plain[-1]:.6f}; "
          f"fused vs not: worst loss {loss_err:.2g} (rtol {loss_rtol:g}), "
          f"worst weights {weight_err:.2g} ({weight_rtol:g}) over {len(w0)} "
          f"tensors: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
