"""PyTorch's training step for the zoo's GPT on the GPU: the peer that
bench/gpu/run.sh measures autopar against, in the same run on the same card.

usage: torch_gpt.py [--layers 12 --hidden 768 --heads 12 --vocab 50257
                     --seq 1024] --batch B [--dtype fp32|tf32|bf16]
                    [--compile] [--steps N] [--warmup W] [--seconds S]

The model is the zoo's GPT (lib/Planner/ModelIR.cpp): learned positions,
pre-norm blocks (layer norm eps 1e-5, causal attention with a fused qkv
projection, GELU (erf) MLP of 4x), a final layer norm and the head tied to
the embedding; GPT-2's initialization (normal 0.02, ones, zeros); Adam
(lr 1e-3, torch's defaults, fused) as autopar-compile's default. Attention is
F.scaled_dot_product_attention (flash attention on the GPU). --dtype bf16
runs the step under autocast (bf16 compute, fp32 master weights and Adam
state, as llm.c and nanoGPT train); fp32 turns TF32 off, tf32 on.

Prints one line of JSON: tokens/s over the timed steps (after W warm-up
steps, which include torch.compile's compilation), the model FLOPs per
token (3x the forward's: 2 per weight of every matrix product plus the
attention's q k^T and p v, as the planner counts them), MFU against the
H100 SXM's dense bf16 peak (989.4 TFLOP/s, --peak to change) and the
losses. Stops timing after --seconds if that comes first.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


class Block(torch.nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = torch.nn.LayerNorm(d, eps=1e-5)
        self.qkv = torch.nn.Linear(d, 3 * d)
        self.out = torch.nn.Linear(d, d)
        self.norm2 = torch.nn.LayerNorm(d, eps=1e-5)
        self.up = torch.nn.Linear(d, 4 * d)
        self.down = torch.nn.Linear(4 * d, d)

    def forward(self, h):
        b, s, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).split(d, dim=2)
        q, k, v = (t.view(b, s, self.heads, d // self.heads).transpose(1, 2)
                   for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        h = h + self.out(a.transpose(1, 2).reshape(b, s, d))
        return h + self.down(F.gelu(self.up(self.norm2(h))))


class GPT(torch.nn.Module):
    def __init__(self, layers, d, heads, vocab, seq):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, d)
        self.pos = torch.nn.Embedding(seq, d)
        self.layers = torch.nn.ModuleList(Block(d, heads)
                                          for _ in range(layers))
        self.final_norm = torch.nn.LayerNorm(d, eps=1e-5)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                torch.nn.init.zeros_(p)
            elif "norm" in name:
                torch.nn.init.ones_(p)
            else:
                torch.nn.init.normal_(p, std=0.02)

    def forward(self, ids, labels):
        s = ids.shape[1]
        h = self.embed(ids) + self.pos.weight[:s]
        for layer in self.layers:
            h = layer(h)
        logits = self.final_norm(h) @ self.embed.weight.t()
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]),
                               labels.view(-1))


def flops_per_token(layers, d, vocab, seq):
    # The planner's count (TransformerModel::layerForwardFlops and
    # headForwardFlops), times 3 for forward + backward.
    per_layer = 2 * (4 * d * d) + 4 * seq * d + 2 * (2 * d * 4 * d)
    return 3 * (layers * per_layer + 2 * d * vocab)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--seq", type=int, default=1024)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--dtype", choices=["fp32", "tf32", "bf16"], default="bf16")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--peak", type=float, default=989.4e12)
    a = p.parse_args()
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = a.dtype == "tf32"
    torch.backends.cudnn.allow_tf32 = a.dtype == "tf32"
    model = GPT(a.layers, a.hidden, a.heads, a.vocab, a.seq).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=g)
    ids = tokens[:, :-1].contiguous().cuda()
    labels = tokens[:, 1:].contiguous().cuda()

    def step(ids, labels):
        with torch.autocast("cuda", torch.bfloat16, enabled=a.dtype == "bf16"):
            loss = model(ids, labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.detach()

    if a.compile:
        step = torch.compile(step)
    losses = []
    for _ in range(a.warmup):
        losses.append(step(ids, labels))
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    timed = 0
    while timed < a.steps:
        losses.append(step(ids, labels))
        timed += 1
        if time.perf_counter() - t0 > a.seconds:
            break
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tokens_per_s = timed * a.batch * a.seq / seconds
    fpt = flops_per_token(a.layers, a.hidden, a.vocab, a.seq)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "peer": "torch " + torch.__version__ +
                (" torch.compile" if a.compile else " eager"),
        "dtype": a.dtype, "batch": a.batch, "seq": a.seq, "params": params,
        "steps_timed": timed, "step_ms": 1e3 * seconds / timed,
        "tokens_per_s": round(tokens_per_s, 1),
        "flops_per_token": fpt,
        "mfu": round(tokens_per_s * fpt / a.peak, 4),
        "losses": [round(float(l), 5) for l in losses],
        "gpu": torch.cuda.get_device_name(),
        "peak_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }), flush=True)
    if not all(math.isfinite(float(l)) for l in losses):
        raise SystemExit("non-finite loss")


if __name__ == "__main__":
    main()
