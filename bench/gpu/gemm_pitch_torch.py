"""Times gpt2-small's three vocabulary products in bf16 on the GPU through
PyTorch (cuBLAS), with the vocabulary's odd size (50257) stored three ways:
rows of 50257 elements (leading dimension 50257: not a multiple of 8), rows
padded to 50264 with the product still on 50257 columns (a pitched buffer:
leading dimension a multiple of 8, odd dimensions), and every dimension
padded to 50264 (what the runtime's padded copies run, without the
copies). Whether cuBLAS is fast on the pitched form decides whether the
compiler should give such buffers padded rows instead of the runtime
copying them around each product (docs/gpu.md).

usage: python3 bench/gpu/gemm_pitch_torch.py [REPEATS]
Prints one JSON line per product and layout: milliseconds per call.
"""

import json
import sys

import torch


def timed(fn, repeats):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / repeats


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    rows, width, vocab, padded = 8192, 768, 50257, 50264
    dev, bf16 = "cuda", torch.bfloat16
    x = torch.randn(rows, width, device=dev, dtype=bf16)
    layouts = {}
    for name, pitch, cols in (("odd rows (ld 50257)", vocab, vocab),
                              ("pitched rows (ld 50264, 50257 used)", padded,
                               vocab),
                              ("padded dimensions (50264)", padded, padded)):
        w = torch.randn(padded, width, device=dev, dtype=bf16)[:cols]
        logits = torch.empty(rows, pitch, device=dev, dtype=bf16)[:, :cols]
        dlogits = torch.randn(rows, pitch, device=dev, dtype=bf16)[:, :cols]
        dx = torch.empty(rows, width, device=dev, dtype=bf16)
        dw = torch.empty(cols, width, device=dev, dtype=bf16)
        layouts[name] = {
            "logits = x w^T (8192x50257x768)":
                lambda x=x, w=w, o=logits: torch.mm(x, w.t(), out=o),
            "dx = dlogits w (8192x768x50257)":
                lambda d=dlogits, w=w, o=dx: torch.mm(d, w, out=o),
            "dw = dlogits^T x (50257x768x8192)":
                lambda d=dlogits, x=x, o=dw: torch.mm(d.t(), x, out=o),
        }
        # The views must reach cuBLAS as they are: a copy would hide the
        # layout's cost.
        assert logits.stride(0) == pitch and dlogits.stride(0) == pitch
    for name, products in layouts.items():
        for product, fn in products.items():
            ms = timed(fn, repeats)
            flops = 2.0 * rows * width * vocab
            print(json.dumps({"layout": name, "product": product,
                              "ms": round(ms, 4),
                              "tflops": round(flops / ms / 1e9, 1)}),
                  flush=True)


if __name__ == "__main__":
    main()
