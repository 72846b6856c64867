"""Training throughput of a small GPT on the CPU: autopar against PyTorch.

Builds a GPT (token + position embeddings, pre-norm causal self-attention,
GELU MLP, final layer norm, vocabulary head) in torch, exports it to ONNX,
and trains it with Adam for the same steps on the same token batches:
  - with autopar-compile + autopar-run (oneDNN sgemm, fused loops),
  - with torch.optim in this process, on each BLAS torch can load here.
Prints tokens/s for each and the ratio autopar / fastest torch, plus both
first-step losses (they must agree: the same weights and batch).

Usage: gpt_bench.py WORKDIR --size=5m|30m [--threads=T] [--steps=N]
       [--warmup=W] [--torch-blas=NAME=DIR ...]
Run with Debian's /usr/bin/python3 (torch 1.13, onnx, numpy); autopar-compile
and autopar-run on PATH. A --torch-blas DIR holds a libblas.so.3 that torch
loads instead of the system's (bench/cpu-train/run.sh fetches OpenBLAS and
BLIS from Debian for this); each is measured in a child process.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

SIZES = {
    # name: vocab, width, heads, layers, ffn, seq, batch
    "5m": dict(V=4096, D=256, H=4, L=4, F=1024, S=128, B=8),
    "30m": dict(V=8192, D=512, H=8, L=7, F=2048, S=128, B=8),
}


def build(cfg):
    import torch

    class GPT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(cfg["V"], cfg["D"])
            self.pos = torch.nn.Parameter(torch.randn(cfg["S"], cfg["D"]) * .02)
            # Separate layers (not TransformerEncoder's clones), so that the
            # ONNX exporter keeps every weight its own.
            self.layers = torch.nn.ModuleList(
                torch.nn.TransformerEncoderLayer(
                    cfg["D"], cfg["H"], dim_feedforward=cfg["F"], dropout=0.0,
                    activation="gelu", batch_first=True, norm_first=True)
                for _ in range(cfg["L"]))
            self.ln = torch.nn.LayerNorm(cfg["D"])
            self.head = torch.nn.Linear(cfg["D"], cfg["V"])
            self.register_buffer("mask", torch.triu(
                torch.full((cfg["S"], cfg["S"]), float("-inf")), 1))

        def forward(self, ids):
            h = self.emb(ids) + self.pos
            for layer in self.layers:
                h = layer(h, src_mask=self.mask)
            return self.head(self.ln(h))

    return GPT()


def torch_run(args, cfg, work):
    """Trains in this process; prints one JSON line with the result."""
    import torch
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    model = build(cfg)
    model.load_state_dict(torch.load(os.path.join(work, "init.pt")))
    ids = torch.from_numpy(np.load(os.path.join(work, "ids.npy")))
    nxt = torch.from_numpy(np.load(os.path.join(work, "next.npy")))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    B, S, V = cfg["B"], cfg["S"], cfg["V"]
    # sgemm rate of this torch, to say which BLAS it runs on.
    a = torch.randn(1024, 1024)
    a @ a
    t = time.perf_counter()
    for _ in range(3):
        a @ a
    gflops = 3 * 2 * 1024 ** 3 / (time.perf_counter() - t) / 1e9
    losses, times = [], []
    start = time.perf_counter()
    for step in range(args.warmup + args.steps):
        # A slow BLAS (the reference one) would take many minutes: after
        # --torch-budget seconds, stop once a timed step is done.
        if (step > args.warmup and
                time.perf_counter() - start > args.torch_budget):
            break
        b = step % (ids.shape[0] // B)
        t = time.perf_counter()
        opt.zero_grad()
        logits = model(ids[b * B:(b + 1) * B])
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, V), nxt[b * B:(b + 1) * B].reshape(-1))
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
        losses.append(loss.item())
    timed = sum(times[args.warmup:])
    print(json.dumps({"tokens_per_s": len(times[args.warmup:]) * B * S / timed,
                      "timed_steps": len(times[args.warmup:]),
                      "first_loss": losses[0], "sgemm_gflops": gflops}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("work")
    p.add_argument("--size", choices=SIZES, default="5m")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--torch-blas", action="append", default=[])
    p.add_argument("--torch-budget", type=float, default=60)
    p.add_argument("--torch-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    cfg = SIZES[args.size]
    work = os.path.join(args.work, args.size)
    if args.torch_child:
        return torch_run(args, cfg, work)

    import torch
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    model = build(cfg).eval()
    params = sum(p.numel() for p in model.parameters())
    torch.save(model.state_dict(), os.path.join(work, "init.pt"))
    onnx_path = os.path.join(work, "gpt.onnx")
    B, S = cfg["B"], cfg["S"]
    torch.onnx.export(model, (torch.zeros(B, S, dtype=torch.long),), onnx_path,
                      opset_version=14, input_names=["ids"],
                      output_names=["logits"])
    rng = np.random.default_rng(1)
    rows = B * 4
    ids = rng.integers(0, cfg["V"], (rows, S)).astype(np.int64)
    np.save(os.path.join(work, "ids.npy"), ids)
    np.save(os.path.join(work, "next.npy"), np.roll(ids, -1, axis=1))
    tokens = B * S
    print(f"model {args.size}: {params / 1e6:.1f}M parameters "
          f"(vocab {cfg['V']}, width {cfg['D']}, {cfg['L']} layers, "
          f"{cfg['H']} heads, ffn {cfg['F']}), {B}x{S} = {tokens} tokens "
          f"per step, Adam, {args.threads} threads, "
          f"{args.warmup} warm-up + {args.steps} timed steps", flush=True)

    # autopar
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    art = os.path.join(work, "artifact")
    subprocess.run(["autopar-compile", onnx_path, "--train", "--optimizer=adam",
                    "--lr=0.001", "-o", art], check=True, env=env,
                   capture_output=True)
    log = os.path.join(work, "autopar.jsonl")
    t = time.perf_counter()
    subprocess.run(["autopar-run", art, "--data", os.path.join(work, "ids.npy"),
                    "--labels", os.path.join(work, "next.npy"),
                    f"--batch-size={B}", f"--steps={args.warmup + args.steps}",
                    f"--log={log}"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    rows = [json.loads(line) for line in open(log)]
    step_s = [B / r["samples_per_s"] for r in rows]
    ours = args.steps * tokens / sum(step_s[args.warmup:])
    compile_s = wall - sum(step_s)
    print(f"  autopar              {ours:10.0f} tokens/s  "
          f"(first loss {rows[0]['loss']:.6f}; JIT compile {compile_s:.1f} s)",
          flush=True)

    # torch, on the system's BLAS and on each one given.
    peers = [("system libblas.so.3", None)]
    for spec in args.torch_blas:
        name, _, path = spec.partition("=")
        peers.append((name, path))
    best = None
    for name, path in peers:
        child_env = dict(env)
        child_env.update(OPENBLAS_NUM_THREADS=str(args.threads),
                         BLIS_NUM_THREADS=str(args.threads))
        if path:
            child_env["LD_LIBRARY_PATH"] = path
        out = subprocess.run(
            [sys.executable, __file__, args.work, f"--size={args.size}",
             f"--threads={args.threads}", f"--steps={args.steps}",
             f"--warmup={args.warmup}", f"--torch-budget={args.torch_budget}",
             "--torch-child"],
            check=True, env=child_env, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"  torch ({name + ')':21s}{r['tokens_per_s']:10.0f} tokens/s  "
              f"(first loss {r['first_loss']:.6f}; sgemm "
              f"{r['sgemm_gflops']:.0f} GFLOP/s; {r['timed_steps']} timed "
              f"steps)", flush=True)
        if abs(r["first_loss"] - rows[0]["loss"]) > 1e-4 * abs(r["first_loss"]):
            print("  MISMATCH: first-step losses differ", flush=True)
            sys.exit(1)
        if best is None or r["tokens_per_s"] > best[1]:
            best = (name, r["tokens_per_s"])
    print(f"  ratio autopar / torch ({best[0]}): {ours / best[1]:.2f}x",
          flush=True)


if __name__ == "__main__":
    main()
