"""--loss=graph: a model that computes its own loss (an MLP regressor whose
forward takes the inputs and the targets and returns the mean squared error
plus an L2 penalty on the first layer) trains with autopar-compile
--loss=graph + autopar-run exactly as with torch.optim.Adam for 8 steps:
every loss within 1e-4 relative, the weights within 1e-5 + 1e-3 |torch|.

Usage: graph_loss.py WORKDIR  (autopar-compile, autopar-run on PATH)
Run with Debian's /usr/bin/python3 (torch 1.13, onnx, numpy).
"""
import json
import os
import sys

import numpy as np
import torch

from torch_train import read_safetensors, run

BATCH, ROWS, STEPS = 4, 12, 8
LOSS_RTOL, RTOL, ATOL = 1e-4, 1e-3, 1e-5


class Regressor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 12)
        self.fc2 = torch.nn.Linear(12, 3)

    def forward(self, x, t):
        y = self.fc2(torch.tanh(self.fc1(x)))
        return ((y - t) ** 2).mean() + 0.01 * (self.fc1.weight ** 2).sum()


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = Regressor()
    onnx_path = os.path.join(work, "reg.onnx")
    torch.onnx.export(model, (torch.zeros(BATCH, 6), torch.zeros(BATCH, 3)),
                      onnx_path, opset_version=14, input_names=["x", "t"],
                      output_names=["loss"])
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(3)
    x = rng.standard_normal((ROWS, 6)).astype(np.float32)
    t = rng.standard_normal((ROWS, 3)).astype(np.float32)
    np.save(os.path.join(work, "x.npy"), x)
    np.save(os.path.join(work, "t.npy"), t)

    art = os.path.join(work, "art")
    run(["autopar-compile", onnx_path, "--train", "--loss=graph",
         "--optimizer=adam", "--lr=0.02", "-o", art])
    log = os.path.join(work, "log.jsonl")
    out = os.path.join(work, "trained.safetensors")
    run(["autopar-run", art, "--data", os.path.join(work, "x.npy"),
         "--labels", os.path.join(work, "t.npy"), f"--batch-size={BATCH}",
         f"--steps={STEPS}", f"--log={log}", f"--export={out}"])
    ours = [json.loads(line)["loss"] for line in open(log)]

    model.load_state_dict(init)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    theirs = []
    for step in range(STEPS):
        b = step % (ROWS // BATCH)
        opt.zero_grad()
        loss = model(torch.from_numpy(x[b * BATCH:(b + 1) * BATCH]),
                     torch.from_numpy(t[b * BATCH:(b + 1) * BATCH]))
        loss.backward()
        opt.step()
        theirs.append(loss.item())
    worst_loss = max(abs(a - b) / abs(b) for a, b in zip(ours, theirs))
    trained = read_safetensors(out)
    # The exporter may store a Linear weight transposed under another name:
    # each torch tensor must have exactly one exported tensor of its shape
    # (or its transpose's), which is compared with it.
    worst_w = 0.0
    final = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    for name, want in final.items():
        matches = [v if v.shape == want.shape else v.T
                   for v in trained.values()
                   if v.shape == want.shape or v.shape == want.T.shape]
        if len(matches) != 1:
            sys.exit(f"FAIL: {len(matches)} exported tensors could be {name}")
        err = np.abs(matches[0] - want) / (ATOL + RTOL * np.abs(want))
        worst_w = max(worst_w, float(err.max()))
    ok = len(ours) == STEPS and worst_loss <= LOSS_RTOL and worst_w <= 1.0
    print(f"graph-loss: {STEPS} steps, loss {ours[0]:.5f} -> {ours[-1]:.5f} "
          f"(torch {theirs[0]:.5f} -> {theirs[-1]:.5f}), worst loss error "
          f"{worst_loss / LOSS_RTOL:.3f} of tolerance, worst weight error "
          f"{worst_w:.3f} of tolerance: {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
