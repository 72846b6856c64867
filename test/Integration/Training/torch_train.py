"""Trains a small MLP exported to ONNX with autopar-compile + autopar-run
and with torch.optim, from the same initial weights and batches, and
compares every step's loss and the final weights.

Usage: torch_train.py WORKDIR  (autopar-compile and autopar-run on PATH)
Run with Debian's /usr/bin/python3 (torch 1.13, onnx, numpy).
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

# The autopar package of this checkout (lit sets PYTHONPATH too; the device
# check's scripts import this file without it).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "python"))
from autopar import read_safetensors  # noqa: E402,F401 (the scripts here use it)

STEPS = 12
BATCH = 4
ROWS = 16  # four batches, cycled
RTOL, ATOL = 2e-4, 1e-5  # float32, a dozen steps

# name, autopar-compile flags, torch optimizer factory, torch scheduler, loss,
# microbatches per step (gradient accumulation)
CASES = [
    ("adam", ["--optimizer=adam", "--lr=0.01"],
     lambda p: torch.optim.Adam(p, lr=0.01), None, "cross_entropy", 1),
    ("sgd-nesterov-step",
     ["--optimizer=sgd", "--lr=0.1", "--momentum=0.9", "--nesterov",
      "--lr-schedule=step:step_size=4,gamma=0.5"],
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=4, gamma=0.5),
     "cross_entropy", 1),
    ("adamw-cosine",
     ["--optimizer=adamw", "--lr=0.02", "--weight-decay=0.05",
      "--lr-schedule=cosine:t_max=12"],
     lambda p: torch.optim.AdamW(p, lr=0.02, weight_decay=0.05),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12),
     "cross_entropy", 1),
    ("rmsprop-mse", ["--optimizer=rmsprop", "--lr=0.005", "--loss=mse"],
     lambda p: torch.optim.RMSprop(p, lr=0.005), None, "mse", 1),
    ("adam-accum2-clip",
     ["--optimizer=adam", "--lr=0.01", "--grad-accum=2", "--clip-grad-norm=0.5"],
     lambda p: torch.optim.Adam(p, lr=0.01), None, "cross_entropy", 2),
    ("adagrad-initial-accumulator",
     ["--optimizer=adagrad", "--lr=0.05", "--lr-decay=0.01",
      "--initial-accumulator-value=0.1"],
     lambda p: torch.optim.Adagrad(p, lr=0.05, lr_decay=0.01,
                                   initial_accumulator_value=0.1),
     None, "cross_entropy", 1),
    # Fine-tuning: fc1 frozen, torch optimizes fc2 only.
    ("sgd-momentum-freeze-fc1",
     ["--optimizer=sgd", "--lr=0.1", "--momentum=0.9", "--freeze=^fc1\\."],
     lambda p: torch.optim.SGD([q for q in p if q.requires_grad], lr=0.1,
                               momentum=0.9),
     None, "cross_entropy", 1),
]


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.fc2 = torch.nn.Linear(16, 4)

    def forward(self, x):
        return self.fc2(torch.nn.functional.gelu(self.fc1(x)))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    sys.stderr.write(r.stderr)  # notes and warnings, for FileCheck
    return r.stdout


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = MLP()
    onnx_path = os.path.join(work, "mlp.onnx")
    torch.onnx.export(model, (torch.zeros(BATCH, 8),), onnx_path,
                      opset_version=14, input_names=["x"],
                      output_names=["logits"])
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(1)
    x = rng.standard_normal((ROWS, 8)).astype(np.float32)
    classes = rng.integers(0, 4, ROWS).astype(np.int64)
    targets = rng.standard_normal((ROWS, 4)).astype(np.float32)
    np.save(os.path.join(work, "x.npy"), x)
    np.save(os.path.join(work, "classes.npy"), classes)
    np.save(os.path.join(work, "targets.npy"), targets)

    failed = False
    for name, flags, make_opt, make_sched, loss_kind, accum in CASES:
        art = os.path.join(work, name)
        log = os.path.join(work, name + ".jsonl")
        out = os.path.join(work, name + ".safetensors")
        labels = "classes.npy" if loss_kind == "cross_entropy" else "targets.npy"
        run(["autopar-compile", onnx_path, "--train", "-o", art] + flags)
        run(["autopar-run", art, "--data", os.path.join(work, "x.npy"),
             "--labels", os.path.join(work, labels), f"--batch-size={BATCH * accum}",
             f"--steps={STEPS}",
             "--log", log, "--export", out])
        ours = [json.loads(l)["loss"] for l in open(log)]

        model.load_state_dict(init)
        frozen = any(f.startswith("--freeze") for f in flags)
        for pname, q in model.named_parameters():
            q.requires_grad_(not (frozen and pname.startswith("fc1.")))
        opt = make_opt(model.parameters())
        sched = make_sched(opt) if make_sched else None
        ref = []
        for step in range(STEPS):
            b = step % (ROWS // (BATCH * accum))
            opt.zero_grad()
            total = 0.0
            for j in range(accum):
                lo = (b * accum + j) * BATCH
                xb = torch.from_numpy(x[lo:lo + BATCH])
                if loss_kind == "cross_entropy":
                    yb = torch.from_numpy(classes[lo:lo + BATCH])
                    loss = torch.nn.functional.cross_entropy(model(xb), yb)
                else:
                    yb = torch.from_numpy(targets[lo:lo + BATCH])
                    loss = torch.nn.functional.mse_loss(model(xb), yb)
                (loss / accum).backward()
                total += loss.item() / accum
            if "--clip-grad-norm=0.5" in flags:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            if sched:
                sched.step()
            ref.append(total)
        loss_err = max(abs(a - b) / (ATOL + RTOL * abs(b))
                       for a, b in zip(ours, ref))
        trained = read_safetensors(out)
        w_err = max(
            float(np.max(np.abs(trained[k] - v.detach().numpy())
                         / (ATOL + RTOL * np.abs(v.detach().numpy()))))
            for k, v in model.state_dict().items())
        ok = len(ours) == STEPS and loss_err <= 1 and w_err <= 1
        failed |= not ok
        print(f"{name}: {STEPS} steps, loss {ours[0]:.4f} -> {ours[-1]:.4f} "
              f"(torch {ref[0]:.4f} -> {ref[-1]:.4f}), worst loss error "
              f"{loss_err:.3f}, worst weight error {w_err:.3f} of tolerance: "
              f"{'PASS' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
