"""Exports the small torch GPT of test/Integration/Training/torch_train_gpt.py
(token and position embeddings, two pre-norm encoder layers with causal
self-attention and GELU MLPs, final layer norm, vocabulary head; seed 0) to
ONNX with one batch of its tokens, for the GPU device check.

usage: torch_gpt_export.py OUTDIR   (Debian's /usr/bin/python3: torch 1.13)
Writes OUTDIR/gpt.onnx, OUTDIR/state.npz (its initial weights),
OUTDIR/ids.npy and OUTDIR/labels.npy (2 x 8).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test",
                                "Integration", "Training"))
from torch_train_gpt import BATCH, GPT, S, V  # noqa: E402


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = GPT().eval()
    torch.onnx.export(model, (torch.zeros(BATCH, S, dtype=torch.long),),
                      os.path.join(out, "gpt.onnx"), opset_version=14,
                      input_names=["ids"], output_names=["logits"])
    # The initial weights for bench/gpu/torch_gpt_ref.py (PyTorch on the
    # device: its torch may draw other numbers from the same seed).
    np.savez(os.path.join(out, "state.npz"),
             **{k: v.detach().numpy() for k, v in model.state_dict().items()})
    ids = np.random.default_rng(2).integers(0, V, (BATCH, S)).astype(np.int64)
    np.save(os.path.join(out, "ids.npy"), ids)
    np.save(os.path.join(out, "labels.npy"), np.roll(ids, -1, axis=1))


if __name__ == "__main__":
    main()
