"""The peer of bench/gpu/attention_bench.cpp: PyTorch's
scaled_dot_product_attention (its flash-attention kernels on an H100) on
the same shapes, causal, bf16: the forward pass, then the backward pass
(timed as forward + backward minus forward). Prints one JSON line.

usage: python3 bench/gpu/attention_torch.py BH S D [ITERATIONS]
       (BH is split as batch 8 x BH / 8 heads where it divides)
"""

import json
import sys
import time

import torch
import torch.nn.functional as F


def timed(fn, iterations):
    fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / iterations * 1e3


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    bh, s, d = (int(a) for a in argv[1:4])
    iterations = int(argv[4]) if len(argv) > 4 else 20
    batch = 8 if bh % 8 == 0 else 1
    shape = (batch, bh // batch, s, d)
    make = lambda: torch.randn(shape, device="cuda", dtype=torch.bfloat16)
    q, k, v, dout = (make().requires_grad_(i < 3) for i in range(4))

    def forward():
        with torch.no_grad():
            F.scaled_dot_product_attention(q, k, v, is_causal=True)

    def both():
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        torch.autograd.grad(out, (q, k, v), dout)

    forward_ms = timed(forward, iterations)
    both_ms = timed(both, iterations)
    print(json.dumps({"forward_ms": round(forward_ms, 4),
                      "backward_ms": round(both_ms - forward_ms, 4),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main(sys.argv)
