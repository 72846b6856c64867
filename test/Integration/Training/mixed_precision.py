"""Mixed-precision training against an independent torch reference.

autopar-compile --precision=bf16|fp16 runs every matrix product of the
forward and backward passes on half-precision copies of its operands,
accumulates in fp32 and rounds the result once; weights, optimizer state and
everything else stay fp32. The reference is a torch model written out by
hand with that same rounding (`lp(t) = t.to(dtype).float()` around each
product, autograd rounding the backward products the same way), trained
with torch.optim.SGD (momentum 0.9); for fp16 it scales the loss as
torch.cuda.amp.GradScaler does (skip and halve on a non-finite gradient,
double after the window), checked step by step against autopar-run's log.

Tolerances: rtol 2e-3, atol 1e-4 on every step's loss; 2e-3 on each final
weight tensor's relative 2-norm difference. One bf16 rounding is 2^-9
relative, and a different fp32 summation order can move a product across a
rounding boundary, after which the runs drift apart slowly. To show that
the rounding happens at all, the fp32 reference (no rounding) must be at
least 5x further from autopar's bf16 weights than the emulated one; with
fp16 the skipped steps show it (fp32 never overflows).

Usage: mixed_precision.py WORKDIR  (autopar-compile and autopar-run on PATH)
Run with Debian's /usr/bin/python3 (torch 1.13, onnx, numpy).
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch

from torch_train import read_safetensors

STEPS = 12
BATCH = 8
ROWS = 32
RTOL, ATOL = 2e-3, 1e-4  # every step's loss
WTOL = 2e-3  # final weights: |ours - ref| / |ref| per tensor (2-norm)

# name, flags, torch dtype of the products (None: fp32), loss scaling
# (initial scale, growth interval) or None
CASES = [
    ("bf16", ["--precision=bf16"], torch.bfloat16, None),
    ("fp16-dynamic",
     ["--precision=fp16", "--loss-scale-init=1048576",
      "--loss-scale-window=3"], torch.float16, (1048576.0, 3)),
]


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 64)
        self.fc2 = torch.nn.Linear(64, 64)
        self.fc3 = torch.nn.Linear(64, 4)

    def forward(self, x):
        h = torch.nn.functional.gelu(self.fc1(x))
        h = torch.tanh(self.fc2(h))
        return self.fc3(h)


def emulated_forward(model, x, dtype):
    """The model with autopar's mixed-precision rounding: each linear
    layer's product on rounded operands, rounded once; the bias add and the
    activations in fp32."""
    def lp(t):
        return t if dtype is None else t.to(dtype).float()

    def linear(layer, h):
        return lp(lp(h) @ lp(layer.weight).t()) + layer.bias

    h = torch.nn.functional.gelu(linear(model.fc1, x))
    h = torch.tanh(linear(model.fc2, h))
    return linear(model.fc3, h)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"FAIL: {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r.stdout, r.stderr


def reference(model, init, x, y, dtype, scaling):
    """Losses (None for a skipped step), loss scales and final weights."""
    model.load_state_dict(init)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scale, good = (scaling[0], 0) if scaling else (1.0, 0)
    losses, scales = [], []
    for step in range(STEPS):
        lo = (step % (ROWS // BATCH)) * BATCH
        xb, yb = torch.from_numpy(x[lo:lo + BATCH]), torch.from_numpy(
            y[lo:lo + BATCH])
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            emulated_forward(model, xb, dtype), yb)
        (loss * scale).backward()
        for p in model.parameters():
            p.grad /= scale
        scales.append(scale)
        finite = all(bool(torch.isfinite(p.grad).all())
                     for p in model.parameters())
        if scaling and not finite:
            scale, good = scale / 2, 0
            losses.append(None)
            continue
        assert finite
        opt.step()
        losses.append(loss.item())
        if scaling:
            good += 1
            if good == scaling[1]:
                scale, good = scale * 2, 0
    return losses, scales, {k: v.detach().numpy().copy()
                            for k, v in model.state_dict().items()}


def relative(a, b):
    return abs(a - b) / (ATOL + RTOL * abs(b))


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = MLP()
    onnx_path = os.path.join(work, "mlp.onnx")
    torch.onnx.export(model, (torch.zeros(BATCH, 16),), onnx_path,
                      opset_version=14, input_names=["x"],
                      output_names=["logits"])
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(7)
    x = (3 * rng.standard_normal((ROWS, 16))).astype(np.float32)
    y = rng.integers(0, 4, ROWS).astype(np.int64)
    np.save(os.path.join(work, "x.npy"), x)
    np.save(os.path.join(work, "y.npy"), y)
    _, _, fp32 = reference(model, init, x, y, None, None)

    failed = False
    for name, flags, dtype, scaling in CASES:
        art = os.path.join(work, name)
        log = os.path.join(work, name + ".jsonl")
        out = os.path.join(work, name + ".safetensors")
        compiled, _ = run(["autopar-compile", onnx_path, "--train", "-o", art,
                           "--optimizer=sgd", "--lr=0.1", "--momentum=0.9"] + flags)
        print(compiled.strip())
        _, notes = run(["autopar-run", art, "--data",
                        os.path.join(work, "x.npy"), "--labels",
                        os.path.join(work, "y.npy"),
                        f"--batch-size={BATCH}", f"--steps={STEPS}",
                        "--log", log, "--export", out])
        lines = [json.loads(l) for l in open(log)]
        ours = [l.get("loss") for l in lines]
        our_scales = [l.get("loss_scale", 1.0) for l in lines]
        ref, ref_scales, weights = reference(model, init, x, y, dtype,
                                             scaling)
        skips = sum(l is None for l in ref)
        same_steps = [a is None for a in ours] == [b is None for b in ref]
        loss_err = max(relative(a, b) for a, b in zip(ours, ref)
                       if a is not None and b is not None)
        trained = read_safetensors(out)

        def weight_error(reference_weights):
            return max(float(np.linalg.norm(trained[k] - v) /
                             np.linalg.norm(v))
                       for k, v in reference_weights.items())

        w_err, fp32_err = weight_error(weights), weight_error(fp32)
        ok = (len(ours) == STEPS and same_steps and loss_err <= 1 and
              w_err <= WTOL)
        if scaling:
            # fp32 never overflows: the skipped steps show the fp16 products.
            ok &= our_scales == ref_scales and skips > 0
        else:
            ok &= fp32_err >= 5 * w_err
        if scaling:
            # A run stopped after step 7 and resumed continues with the same
            # scale and count of good steps: the same weights, bit for bit.
            ckpt = os.path.join(work, name + "-ckpt")
            resumed = os.path.join(work, name + "-resumed.safetensors")
            data = ["--data", os.path.join(work, "x.npy"), "--labels",
                    os.path.join(work, "y.npy"), f"--batch-size={BATCH}"]
            run(["autopar-run", art] + data +
                ["--steps=7", "--checkpoint-dir", ckpt])
            run(["autopar-run", art] + data +
                [f"--steps={STEPS}", "--resume", ckpt, "--export", resumed])
            again = read_safetensors(resumed)
            same = all(np.array_equal(again[k], trained[k]) for k in trained)
            print(f"{name}: resumed after step 7 with loss scale "
                  f"{json.load(open(os.path.join(ckpt, 'checkpoint.json')))['loss_scale']:g}: "
                  f"{'same weights' if same else 'DIFFERENT weights'}")
            ok &= same
        failed |= not ok
        print(f"{name}: {STEPS} steps ({skips} skipped on overflow, "
              f"scales {'same' if our_scales == ref_scales else 'DIFFER'}: "
              f"{our_scales[0]:g} -> {our_scales[-1]:g}), loss "
              f"{next(l for l in ours if l is not None):.4f} -> {ours[-1]:.4f}, worst loss error "
              f"{loss_err:.3f} of tolerance, weights off by {w_err:.1e} "
              f"(fp32 reference: {fp32_err:.1e}): {'PASS' if ok else 'FAIL'}")
        if not ok:
            print(f"  ours {ours}\n  ref  {ref}\n  scales {our_scales} vs "
                  f"{ref_scales}\n{notes}")
    # A transformer (attention, layer norms, GELU, an LM head): bf16 follows
    # the fp32 run closely without equalling it.
    gpt = "zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32"
    tokens = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "..", "..", "examples", "gpt")
    runs = {}
    for precision in ("fp32", "bf16"):
        art = os.path.join(work, "gpt-" + precision)
        log = art + ".jsonl"
        run(["autopar-compile", gpt, "--train", "--batch=4",
             f"--precision={precision}", "-o", art])
        run(["autopar-run", art, "--data", os.path.join(tokens, "tokens.npy"),
             "--labels", os.path.join(tokens, "next.npy"), "--batch-size=4",
             "--steps=16", "--log", log])
        runs[precision] = [json.loads(l)["loss"] for l in open(log)]
    gap = max(abs(a - b) / abs(b) for a, b in zip(runs["bf16"], runs["fp32"]))
    ok = len(runs["bf16"]) == 16 and 0 < gap <= 1e-2
    failed |= not ok
    print(f"gpt bf16: 16 steps, loss {runs['bf16'][0]:.4f} -> "
          f"{runs['bf16'][-1]:.4f}, at most {gap:.1e} from fp32 (want "
          f"(0, 1e-2]): {'PASS' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
