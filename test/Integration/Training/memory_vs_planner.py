"""Bytes each rank holds against the planner's memory model.

For a zoo GPT (tied embeddings, so Megatron's vocabulary-parallel
embedding and head share one split table) trained with fp32 Adam under
several plans on 4 processes: every rank's parameters and optimizer state
as autopar-run counts them, against autopar-plan's per-device prediction
(--states=fp32-adam: 4 bytes of parameters, 8 of Adam state per parameter;
tensor parallelism splitting all but the norms, row biases, positions and
the blocks a plan keeps whole; ZeRO dividing the states over dp). Prints one
line per plan with the worst ratio over the ranks; fails beyond 5%. Also
checks that the first step's loss (before any update) equals one process's
on the same rows, within 1e-5 relative.

usage: memory_vs_planner.py WORKDIR "MPIRUN ARGS"
"""
import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np

MODEL = "zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32"
PLANS = ["dp=2,tp=2", "tp=4,sp=on", "dp=4,zero=1", "dp=2,tp=2,zero=2",
         "dp=4,zero=3", "dp=2,tp=2,attn-whole=1,head=whole",
         "tp=4,mlp-whole=2,zero=0"]
GLOBAL = 8


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout + r.stderr


def degree(plan, key):
    m = re.search(rf"\b{key}=(\d+)", plan)
    return int(m.group(1)) if m else 1


def first_loss(out):
    m = re.search(r"^step 1/\d+\s+loss ([0-9.]+)", out, re.M)
    return float(m.group(1)) if m else float("nan")


def main():
    work, mpirun = sys.argv[1], shlex.split(sys.argv[2])
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 128, (GLOBAL, 32)).astype(np.int64)
    np.save(f"{work}/x.npy", x)
    np.save(f"{work}/y.npy", np.roll(x, -1, axis=1))
    failed = False
    run(["autopar-compile", MODEL, "--train", f"--batch={GLOBAL}",
         "--optimizer=adam", "-o", f"{work}/one"])
    one = first_loss(run(["autopar-run", f"{work}/one", f"--data={work}/x.npy",
                          f"--labels={work}/y.npy", f"--batch-size={GLOBAL}",
                          "--steps=1"]))
    for plan in PLANS:
        tag = re.sub("[=,]", "_", plan)
        dp = degree(plan, "dp")
        batch = GLOBAL // dp
        run(["autopar-compile", MODEL, "--train", f"--batch={batch}",
             "--optimizer=adam", f"--plan={plan}", "-o", f"{work}/{tag}"])
        out = run(mpirun + ["-np", "4", "autopar-run", f"{work}/{tag}",
                            f"--data={work}/x.npy", f"--labels={work}/y.npy",
                            f"--batch-size={batch}", "--steps=1"])
        held = [(int(p), int(s)) for p, s in re.findall(
            r"holds (\d+) bytes of parameters and (\d+) of optimizer state",
            out)]
        run(["autopar-plan", f"--model={MODEL}", "--cluster=cpu-host",
             "--devices=4", f"--global-batch={GLOBAL}", f"--plan={plan}",
             "--states=fp32-adam", "-o", f"{work}/{tag}.plan.json"])
        mem = json.load(open(f"{work}/{tag}.plan.json"))["chosen"][
            "memory_per_device_bytes"]
        predicted = (mem["parameters"], mem["optimizer_state"])
        ratios = [h / p for pair in held for h, p in zip(pair, predicted)]
        worst = max((abs(r - 1) for r in ratios), default=float("inf"))
        loss = first_loss(out)
        ok = len(held) == 4 and worst <= 0.05 and abs(loss - one) <= 1e-5 * one
        failed |= not ok
        print(f"{plan}: rank 0 holds {held[0][0] if held else '?'} bytes of "
              f"parameters and {held[0][1] if held else '?'} of optimizer "
              f"state; the planner predicts {predicted[0]:.0f} and "
              f"{predicted[1]:.0f}; worst difference over {len(held)} ranks "
              f"{100 * worst:.2f}%; first loss {loss:.6f} (one process "
              f"{one:.6f}): {'PASS' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
