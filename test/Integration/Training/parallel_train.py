"""Trains torch-exported models under several process grids (mpirun -np N
autopar-run) and checks every step's loss and the final weights against
one process and against torch.optim, then resumes checkpoints under a
different grid than the one that wrote them.

Models: a 4-layer MLP (two column/row pairs) and the small GPT of
torch_train_gpt.py (attention split by heads, MLP blocks by column/row).

Usage: parallel_train.py WORKDIR MPIRUN  (MPIRUN: the mpirun command line;
autopar-compile and autopar-run on PATH). Debian's /usr/bin/python3.
"""
import json
import os
import re
import shlex
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import read_safetensors  # noqa: E402
import torch_train_gpt  # noqa: E402

STEPS = 10
SAME = (1e-5, 1e-6)  # rtol, atol against one process
TORCH = (2e-4, 1e-5)  # the training-step issue's tolerances (MLP)
TORCH_GPT_LOSS = (1e-4, 0.0)  # and for the GPT's losses (torch-train-gpt)


def mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 8),
        torch.nn.Tanh(), torch.nn.Linear(8, 16), torch.nn.GELU(),
        torch.nn.Linear(16, 4))


def gpt():
    torch.manual_seed(0)
    return torch_train_gpt.GPT().eval()


# name, model, autopar-compile flags (with the grid), processes, torch
# optimizer, clip norm
CASES = [
    ("tp2", "mlp", ["--plan=dp=1,tp=2"], 2, "adam", 0),
    ("dp2", "mlp", ["--plan=dp=2,tp=1"], 2, "adam", 0),
    ("dp2xtp2", "mlp", ["--devices=4", "--plan=dp=2,tp=2"], 4, "adam", 0),
    ("tp2-sgd-clip", "mlp", ["--plan=dp=1,tp=2", "--optimizer=sgd", "--lr=0.1",
                             "--momentum=0.9", "--clip-grad-norm=0.5"], 2,
     "sgd", 0.5),
    # ZeRO over dp=2: optimizer state, then gradients, then parameters
    # sharded; clipping all-reduces the shards' squared norms.
    ("dp2-zero1-clip", "mlp", ["--plan=dp=2,zero=1", "--clip-grad-norm=0.5"],
     2, "adam", 0.5),
    ("dp2-zero2", "mlp", ["--plan=dp=2,zero=2"], 2, "adam", 0),
    ("dp2-zero3", "mlp", ["--plan=dp=2,zero=3"], 2, "adam", 0),
    ("dp2xtp2-zero2", "mlp", ["--plan=dp=2,tp=2,zero=2"], 4, "adam", 0),
    ("dp2xtp2-zero3-sgd-clip", "mlp", ["--plan=dp=2,tp=2,zero=3",
                                       "--optimizer=sgd", "--lr=0.1",
                                       "--momentum=0.9",
                                       "--clip-grad-norm=0.5"], 4, "sgd", 0.5),
    # The grid autopar-compile picks for 4 processes of cpu-host.
    ("auto4", "mlp", ["--devices=4"], 4, "adam", 0),
    ("gpt-tp2", "gpt", ["--plan=dp=1,tp=2", "--optimizer=sgd", "--lr=0.1",
                        "--momentum=0.9"], 2, "sgd", 0),
    ("gpt-dp2", "gpt", ["--plan=dp=2", "--optimizer=sgd", "--lr=0.1",
                        "--momentum=0.9"], 2, "sgd", 0),
    ("gpt-dp2xtp2", "gpt", ["--devices=4", "--plan=dp=2,tp=2",
                            "--optimizer=sgd", "--lr=0.1", "--momentum=0.9"],
     4, "sgd", 0),
    # Sequence parallelism: layer norms and residuals on the local tokens.
    ("gpt-tp2-sp", "gpt", ["--plan=dp=1,tp=2,sp=on", "--optimizer=sgd",
                           "--lr=0.1", "--momentum=0.9"], 2, "sgd", 0),
    ("gpt-dp2xtp2-sp-zero1", "gpt", ["--plan=dp=2,tp=2,sp=on,zero=1",
                                     "--optimizer=sgd", "--lr=0.1",
                                     "--momentum=0.9"], 4, "sgd", 0),
    ("gpt-dp2-zero2", "gpt", ["--plan=dp=2,zero=2", "--optimizer=sgd",
                              "--lr=0.1", "--momentum=0.9"], 2, "sgd", 0),
    # ZeRO-3: every parameter (embeddings, attention, MLPs, norms, head)
    # gathered at each use.
    ("gpt-dp2-zero3", "gpt", ["--plan=dp=2,zero=3", "--optimizer=sgd",
                              "--lr=0.1", "--momentum=0.9"], 2, "sgd", 0),
]


def plan_line(compile_output):
    lines = [l for l in compile_output.splitlines() if l.startswith("plan: ")]
    return lines[0][len("plan: "):] if lines else "data parallel"


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout


def losses(log):
    return [json.loads(line)["loss"] for line in open(log)]


def worst(a, b, tol):
    rtol, atol = tol
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    # Equal values (the causal mask's -inf among them) differ by nothing;
    # any other non-finite difference is an error (nan fails the check).
    same = a == b
    diff = np.abs(np.where(same, 0.0, a) - np.where(same, 0.0, b))
    err = diff / (atol + rtol * np.abs(np.where(same, 1.0, b)))
    return float(np.max(np.where(np.isfinite(err), err, np.inf)))


class Model:
    """An exported model, its data and its torch training loop."""

    def __init__(self, kind, work):
        self.kind = kind
        rng = np.random.default_rng(1)
        if kind == "mlp":
            self.make, self.micro, self.rows = mlp, 3, 12
            example = torch.zeros(self.micro, 8)
            x = rng.standard_normal((self.rows, 8)).astype(np.float32)
            y = rng.integers(0, 4, self.rows).astype(np.int64)
        else:
            g = torch_train_gpt
            self.make, self.micro, self.rows = gpt, g.BATCH, g.ROWS
            example = torch.zeros(self.micro, g.S, dtype=torch.long)
            x = rng.integers(0, g.V, (self.rows, g.S)).astype(np.int64)
            y = np.roll(x, -1, axis=1)
        self.x, self.y = x, y
        self.onnx = os.path.join(work, kind + ".onnx")
        torch.onnx.export(self.make(), (example,), self.onnx,
                          opset_version=14, input_names=["x"],
                          output_names=["logits"])
        self.xp = os.path.join(work, kind + "-x.npy")
        self.yp = os.path.join(work, kind + "-y.npy")
        np.save(self.xp, x)
        np.save(self.yp, y)

    def torch_losses(self, rows, optimizer, clip):
        m = self.make()
        opt = (torch.optim.Adam(m.parameters(), lr=0.01) if optimizer == "adam"
               else torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9))
        out = []
        for step in range(STEPS):
            b = step % (self.rows // rows)
            xb = torch.from_numpy(self.x[b * rows:(b + 1) * rows])
            yb = torch.from_numpy(self.y[b * rows:(b + 1) * rows])
            logits = m(xb)
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), yb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(m.parameters(), clip)
            opt.step()
            out.append(loss.item())
        return out, {k: v.detach().numpy() for k, v in m.state_dict().items()}


def main():
    work, mpirun = sys.argv[1], shlex.split(sys.argv[2])
    os.makedirs(work, exist_ok=True)
    models = {kind: Model(kind, work) for kind in ("mlp", "gpt")}

    failed = False
    # AUTOPAR_CASES=name,name runs only those (while working on them).
    only = set(filter(None, os.environ.get("AUTOPAR_CASES", "").split(",")))
    for name, kind, flags, procs, optimizer, clip in CASES:
        if only and name not in only:
            continue
        model = models[kind]
        base = ["--train"] + ([] if any(f.startswith("--optimizer")
                                        for f in flags)
                              else ["--optimizer=adam", "--lr=0.01"])
        grid_flags = [f for f in flags if f.startswith(("--plan", "--devices"))]
        step_flags = [f for f in flags if f not in grid_flags]
        one, par = (os.path.join(work, name + s) for s in ("-one", "-par"))
        out = run(["autopar-compile", model.onnx, "-o", par] + base + flags)
        manifest = json.load(open(os.path.join(par, "manifest.json")))
        groups, tp = manifest["plan"]["dp"], manifest["plan"]["tp"]
        rows = model.micro * groups
        # One process takes the same rows as gradient accumulation.
        run(["autopar-compile", model.onnx, "-o", one,
             f"--grad-accum={groups}"] + base + step_flags)
        train = ["--data", model.xp, "--labels", model.yp, f"--steps={STEPS}"]
        run(["autopar-run", one, f"--batch-size={rows}", "--log",
             one + ".jsonl", "--export", one + ".safetensors"] + train)
        ran = run(mpirun + ["-np", str(procs), "autopar-run", par,
                            f"--batch-size={model.micro}", "--log",
                            par + ".jsonl", "--export", par + ".safetensors"]
                  + train)
        ref, ref_w = model.torch_losses(rows, optimizer, clip)
        single, ours = losses(one + ".jsonl"), losses(par + ".jsonl")
        w_one, w_par = (read_safetensors(p + ".safetensors")
                        for p in (one, par))
        vs_one = max(worst(ours, single, SAME),
                     max(worst(w_par[k], w_one[k], SAME) for k in w_one))
        if kind == "mlp":
            vs_torch = max(worst(ours, ref, TORCH),
                           max(worst(w_par[k], ref_w[k], TORCH)
                               for k in ref_w))
        else:
            # torch_train_gpt.py matches the exported GPT's weights to
            # torch's; here its losses are compared.
            vs_torch = worst(ours, ref, TORCH_GPT_LOSS)
        # Every rank holds what the compiler predicted for it.
        held = re.findall(r"holds (\d+) bytes of parameters and (\d+) of "
                          r"optimizer state \(predicted (\d+) and (\d+)\)",
                          ran)
        memory_ok = all(abs(int(h) - int(p)) <= 0.05 * int(p)
                        for a, b, c, d in held for h, p in ((a, c), (b, d)))
        ok = (len(ours) == STEPS and vs_one <= 1 and vs_torch <= 1 and
              memory_ok and len(held) == procs)
        failed |= not ok
        zero = manifest["plan"].get("zero", 0)
        sp = " sp" if manifest["plan"].get("sp") else ""
        print(f"{name}: dp={groups} x tp={tp}{sp}"
              f"{f' zero={zero}' if zero else ''} on {procs} processes, loss "
              f"{ours[0]:.5f} -> {ours[-1]:.5f}; worst error against one "
              f"process {vs_one:.3f}, against torch {vs_torch:.3f} of "
              f"tolerance; {plan_line(out)}; held bytes as predicted on "
              f"{len(held)} ranks (rank 0: {held[0][0] if held else '?'} of "
              f"parameters, {held[0][1] if held else '?'} of optimizer "
              f"state): {'PASS' if ok else 'FAIL'}")

    # Checkpoints hold whole tensors: one written by a grid resumes in one
    # process and the other way round (tensor-parallel and ZeRO shards
    # gathered on writing, cut again on reading).
    for name, procs, groups, parallel_writes in (("tp2", 2, 1, True),
                                                 ("dp2xtp2", 4, 2, False),
                                                 ("dp2-zero3", 2, 2, True),
                                                 ("dp2-zero2", 2, 2, False)):
        if only and name not in only:
            continue
        model = models["mlp"]
        one, par = (os.path.join(work, name + s) for s in ("-one", "-par"))
        ck = os.path.join(work, name + "-ck")
        single = ["autopar-run", one, f"--batch-size={model.micro * groups}"]
        multi = mpirun + ["-np", str(procs), "autopar-run", par,
                          f"--batch-size={model.micro}"]
        writer, reader = ((multi, single) if parallel_writes
                          else (single, multi))
        data = ["--data", model.xp, "--labels", model.yp]
        run(writer + data + ["--steps=5", "--checkpoint-dir", ck])
        log = os.path.join(work, name + "-resumed.jsonl")
        run(reader + data + [f"--steps={STEPS}", "--resume", ck, "--log", log])
        resumed = losses(log)
        err = worst(resumed, losses(one + ".jsonl")[5:], SAME)
        ok = len(resumed) == STEPS - 5 and err <= 1
        failed |= not ok
        how = (("the grid", "one process") if parallel_writes
               else ("one process", "the grid"))
        print(f"{name}: checkpoint of {how[0]} resumed by {how[1]}: steps "
              f"6-{STEPS} worst error {err:.3f} of tolerance: "
              f"{'PASS' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
