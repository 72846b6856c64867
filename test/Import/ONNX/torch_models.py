"""Exports models built from torch.nn with torch.onnx.export (opset 14, as
Debian's torch 1.13 does), imports them with autopar-import, runs them with
autopar-run and compares with torch's own output (rtol 1e-4, atol 1e-5).

Usage: torch_models.py MODEL   (mlp, gpt)
"""

import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
BIN = os.environ["AUTOPAR_BIN_DIR"]


class MLP(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 32)
        self.fc2 = torch.nn.Linear(32, 32)
        self.fc3 = torch.nn.Linear(32, 5)

    def forward(self, x):
        h = torch.nn.functional.gelu(self.fc1(x))
        h = torch.relu(self.fc2(h)) + torch.tanh(h) * torch.sigmoid(h)
        h = h + torch.nn.functional.gelu(h, approximate="tanh")
        return torch.log_softmax(self.fc3(h), dim=-1)


class GPT(torch.nn.Module):
    """Embedding + causal TransformerEncoderLayer stack + LM head."""

    def __init__(self, vocab=64, dim=32, heads=4, layers=2, seq=8):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Parameter(torch.randn(seq, dim) * 0.1)
        layer = torch.nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=64, dropout=0.0, activation="gelu",
            batch_first=True, norm_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, layers)
        self.ln = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, vocab)
        self.register_buffer(
            "mask", torch.triu(torch.full((seq, seq), float("-inf")), 1))

    def forward(self, ids):
        h = self.emb(ids) + self.pos
        return self.head(self.ln(self.enc(h, mask=self.mask)))


def main(name):
    torch.manual_seed(0)
    if name == "mlp":
        model, x = MLP(), torch.randn(6, 8)
    else:
        model, x = GPT(), torch.randint(0, 64, (3, 8))
    model.eval()
    with torch.no_grad():
        want = model(x).numpy()
    status = 0
    with tempfile.TemporaryDirectory() as work:
        onnx_path = os.path.join(work, f"{name}.onnx")
        torch.onnx.export(model, (x,), onnx_path, opset_version=14,
                          input_names=["x"], output_names=["y"])
        np.save(os.path.join(work, "x.npy"), x.numpy())
        for mode, flags in (("raised", []), ("primitive", ["--no-raise"])):
            mlir_path = os.path.join(work, f"{name}-{mode}.mlir")
            subprocess.run([os.path.join(BIN, "autopar-import"), onnx_path,
                            "-o", mlir_path] + flags, check=True)
            with open(mlir_path) as f:
                text = f.read()
            ops = {op: text.count(f"autopar.{op} ")
                   for op in ("layer_norm", "gelu", "attention", "linear")}
            out = os.path.join(work, "out-" + mode)
            subprocess.run([os.path.join(BIN, "autopar-run"), mlir_path,
                            "--input=" + os.path.join(work, "x.npy"),
                            "--output-dir=" + out], check=True)
            got = np.load(os.path.join(out, "result0.npy"))
            err = np.abs(got - want).max()
            ok = got.shape == want.shape and np.allclose(
                got, want, rtol=1e-4, atol=1e-5)
            composites = " ".join(f"{k}={v}" for k, v in ops.items())
            print(f"{name} {mode}: {composites}; shape {got.shape}, max abs "
                  f"error {err:.3g}: {'PASS' if ok else 'FAIL'}")
            status |= 0 if ok else 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
