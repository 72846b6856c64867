"""Import time and peak memory of autopar-import on a GPT-2-small-sized
model (12 layers, 768 wide, 12 heads, vocabulary 50257, 1024 positions,
head tied to the embedding), built with torch and exported with
torch.onnx.export (opset 14).

Prints the wall time, the peak resident memory of autopar-import, the size
of the weights it wrote, and the ratios to the targets (5 s; 2x weights).
Usage: run.py [WORKDIR]   (needs ~3 GB of memory and ~1.5 GB of disk)
"""

import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

import torch

warnings.filterwarnings("ignore")
BIN = os.environ.get("AUTOPAR_BIN_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin")


class GPT2Small(torch.nn.Module):
    def __init__(self, vocab=50257, dim=768, heads=12, layers=12, ctx=1024,
                 seq=64):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        self.pos = torch.nn.Parameter(torch.randn(ctx, dim) * 0.01)
        layer = torch.nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=4 * dim, dropout=0.0,
            activation="gelu", batch_first=True, norm_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, layers)
        self.ln = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.emb.weight
        self.seq = seq
        # nn.TransformerEncoder deep-copies one layer, and the exporter stores
        # identical tensors once: give every layer its own weights.
        for p in self.enc.parameters():
            torch.nn.init.normal_(p, std=0.02)
        self.register_buffer(
            "mask", torch.triu(torch.full((seq, seq), float("-inf")), 1))

    def forward(self, ids):
        h = self.emb(ids) + self.pos[: self.seq]
        return self.head(self.ln(self.enc(h, mask=self.mask)))


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    onnx_path = os.path.join(work, "gpt2-small.onnx")
    torch.manual_seed(0)
    model = GPT2Small().eval()
    params = sum(p.numel() for p in model.parameters())
    if not os.path.exists(onnx_path):
        t = time.time()
        torch.onnx.export(model, (torch.zeros(1, model.seq, dtype=torch.int64),),
                          onnx_path, opset_version=14, input_names=["ids"],
                          output_names=["logits"])
        print(f"torch.onnx.export: {time.time() - t:.1f} s")
    out = os.path.join(work, "gpt2-small.mlir")
    t = time.time()
    proc = subprocess.run(["/usr/bin/time", "-v",
                           os.path.join(BIN, "autopar-import"), onnx_path,
                           "-o", out], capture_output=True, text=True)
    wall = time.time() - t
    if proc.returncode != 0:
        print(proc.stderr[-2000:])
        return 1
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                           proc.stderr).group(1))
    weights = os.path.getsize(os.path.join(work, "gpt2-small.safetensors"))
    onnx_size = os.path.getsize(onnx_path)
    print(f"model: {params / 1e6:.1f}M parameters, ONNX file "
          f"{onnx_size / 2**20:.0f} MiB, weights written {weights / 2**20:.0f} MiB")
    print(f"autopar-import wall time: {wall:.2f} s (target 5 s, ratio "
          f"{wall / 5:.2f})")
    print(f"autopar-import peak memory: {rss_kb / 2**10:.0f} MiB = "
          f"{rss_kb * 1024 / weights:.2f}x the weights (target < 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
