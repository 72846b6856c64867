"""Trains a small GPT-style transformer (token and position embeddings, two
pre-norm encoder layers with causal self-attention and GELU MLPs, final
layer norm, vocabulary head) exported to ONNX, with autopar and with
torch.optim from the same weights and token batches, and compares every
step's loss and the final weights.

Usage: torch_train_gpt.py WORKDIR  (autopar-compile, autopar-run on PATH)
Run with Debian's /usr/bin/python3 (torch 1.13, onnx, numpy).
"""
import json
import os
import sys

import numpy as np
import torch

from torch_train import read_safetensors, run

V, D, H, L, S, BATCH, ROWS, STEPS = 32, 16, 2, 2, 8, 2, 8, 10
# float32 through attention and layer norm: losses within 1e-4 relative
# (step 1 within 1e-5), weights within 1e-5 + 1e-3 |torch|.
LOSS_RTOL, RTOL, ATOL = 1e-4, 1e-3, 1e-5


class GPT(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, D)
        self.pos = torch.nn.Parameter(torch.randn(S, D) * 0.1)
        layer = torch.nn.TransformerEncoderLayer(
            D, H, dim_feedforward=32, dropout=0.0, activation="gelu",
            batch_first=True, norm_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, L,
                                               enable_nested_tensor=False)
        self.ln = torch.nn.LayerNorm(D)
        self.head = torch.nn.Linear(D, V)
        self.register_buffer("mask",
                             torch.triu(torch.full((S, S), float("-inf")), 1))
        # The encoder clones one layer; give each its own weights (an ONNX
        # exporter would otherwise share the identical initializers).
        with torch.no_grad():
            for p in self.enc.parameters():
                p.add_(0.05 * torch.randn_like(p))

    def forward(self, ids):
        return self.head(self.ln(self.enc(self.emb(ids) + self.pos,
                                          mask=self.mask)))


CASES = [
    ("gpt-adam", ["--optimizer=adam", "--lr=0.003"],
     lambda p: torch.optim.Adam(p, lr=0.003)),
    ("gpt-sgd-momentum", ["--optimizer=sgd", "--lr=0.1", "--momentum=0.9"],
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    ("gpt-adamw", ["--optimizer=adamw", "--lr=0.003", "--weight-decay=0.1"],
     lambda p: torch.optim.AdamW(p, lr=0.003, weight_decay=0.1)),
    ("gpt-rmsprop", ["--optimizer=rmsprop", "--lr=0.001"],
     lambda p: torch.optim.RMSprop(p, lr=0.001)),
    ("gpt-adagrad", ["--optimizer=adagrad", "--lr=0.05"],
     lambda p: torch.optim.Adagrad(p, lr=0.05)),
]


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = GPT().eval()
    onnx_path = os.path.join(work, "gpt.onnx")
    torch.onnx.export(model, (torch.zeros(BATCH, S, dtype=torch.long),),
                      onnx_path, opset_version=14, input_names=["ids"],
                      output_names=["logits"])
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(2)
    ids = rng.integers(0, V, (ROWS, S)).astype(np.int64)
    nxt = np.roll(ids, -1, axis=1)  # predict the next token (wrapping)
    np.save(os.path.join(work, "ids.npy"), ids)
    np.save(os.path.join(work, "next.npy"), nxt)
    # Elements whose gradient is zero in exact arithmetic (the attention's
    # key bias: softmax ignores a constant shift) get rounding noise as a
    # gradient in float32, which Adam scales up to a full lr-sized step in
    # any implementation; they are left out of the weight comparison. Found
    # in float64: |gradient| <= 1e-12 over every batch.
    model64 = GPT().double()
    model64.load_state_dict({k: v.double() for k, v in init.items()})
    for b in range(ROWS // BATCH):
        xb = torch.from_numpy(ids[b * BATCH:(b + 1) * BATCH])
        yb = torch.from_numpy(nxt[b * BATCH:(b + 1) * BATCH])
        torch.nn.functional.cross_entropy(
            model64(xb).reshape(-1, V), yb.reshape(-1)).backward()
    no_grad = {n: (p.grad.abs() <= 1e-12).numpy()
               for n, p in model64.named_parameters()}
    print(f"elements with no gradient: "
          f"{sum(int(m.sum()) for m in no_grad.values())}")
    failed = False
    for name, flags, make_opt in CASES:
        art = os.path.join(work, name)
        log = os.path.join(work, name + ".jsonl")
        out = os.path.join(work, name + ".safetensors")
        run(["autopar-compile", onnx_path, "--train", "-o", art] + flags)
        run(["autopar-run", art, "--data", os.path.join(work, "ids.npy"),
             "--labels", os.path.join(work, "next.npy"),
             f"--batch-size={BATCH}", f"--steps={STEPS}", "--log", log,
             "--export", out])
        ours = [json.loads(l)["loss"] for l in open(log)]
        model.load_state_dict(init)
        opt = make_opt(model.parameters())
        ref = []
        for step in range(STEPS):
            b = step % (ROWS // BATCH)
            xb = torch.from_numpy(ids[b * BATCH:(b + 1) * BATCH])
            yb = torch.from_numpy(nxt[b * BATCH:(b + 1) * BATCH])
            loss = torch.nn.functional.cross_entropy(
                model(xb).reshape(-1, V), yb.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            ref.append(loss.item())
        first = abs(ours[0] - ref[0]) / abs(ref[0])
        loss_err = max(abs(a - b) / (LOSS_RTOL * abs(b))
                       for a, b in zip(ours, ref))
        trained = read_safetensors(out)
        initial = read_safetensors(os.path.join(art, "weights.safetensors"))
        # The exporter stores Linear weights transposed, under new names
        # (onnx::MatMul_N); match them to torch's by their initial values.
        # The causal mask is an initializer too and must come back as is.
        w_err, matched, fixed_ok = 0.0, set(), True
        params = dict(model.named_parameters())
        for k, w0 in initial.items():
            pairs = [(n, t) for n, t in model.named_parameters()
                     if init[n].shape == w0.shape
                     and np.array_equal(init[n].numpy(), w0)]
            pairs += [(n, t.t()) for n, t in model.named_parameters()
                      if t.dim() == 2 and init[n].t().shape == w0.shape
                      and np.array_equal(init[n].t().numpy(), w0)]
            if not pairs:
                fixed_ok &= np.array_equal(trained[k], w0)
                continue
            n, t = pairs[0]
            matched.add(n)
            ref_w = t.detach().numpy()
            e = np.abs(trained[k] - ref_w) / (ATOL + RTOL * np.abs(ref_w))
            dead = no_grad[n] if t.shape == params[n].shape else no_grad[n].T
            e[dead] = 0
            w_err = max(w_err, float(e.max()))
        names = sorted(trained)
        ok = (len(ours) == STEPS and first <= 1e-5 and loss_err <= 1
              and w_err <= 1 and matched == set(params) and fixed_ok)
        failed |= not ok
        print(f"{name}: {STEPS} steps, {len(names)} parameter tensors, loss "
              f"{ours[0]:.4f} -> {ours[-1]:.4f} (torch {ref[0]:.4f} -> "
              f"{ref[-1]:.4f}), step-1 relative error {first:.1e}, worst "
              f"loss error {loss_err:.3f}, worst weight error {w_err:.3f} of "
              f"tolerance: {'PASS' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
