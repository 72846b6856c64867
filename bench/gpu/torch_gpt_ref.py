"""PyTorch's losses for the device check's torch-exported small GPT
(bench/gpu/torch_gpt_export.py): the same initial weights (its state.npz),
the same batch, Adam with lr 0.003, one loss a line. With --bf16 the
forward runs under torch.autocast(bfloat16) (matrix products in bf16,
normalizations and softmax in fp32), the reference for autopar's
--precision=bf16 step on the GPU (run.sh compares at 2e-2 relative).

usage: torch_gpt_ref.py STATE.npz IDS.bin LABELS.bin STEPS [--bf16]
IDS.bin and LABELS.bin are raw int64 (bench/gpu/train_spec.py's batch).
Runs on the GPU when torch sees one, else on the CPU.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test",
                                "Integration", "Training"))
from torch_train_gpt import BATCH, GPT, S  # noqa: E402


def main():
    state_path, ids_path, labels_path, steps = sys.argv[1:5]
    bf16 = "--bf16" in sys.argv[5:]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = GPT()
    state = np.load(state_path)
    model.load_state_dict({k: torch.from_numpy(state[k]) for k in state.files})
    model.to(device).train()
    ids = torch.from_numpy(np.fromfile(ids_path, dtype="<i8").reshape(
        BATCH, S)).to(device)
    labels = torch.from_numpy(np.fromfile(labels_path, dtype="<i8").reshape(
        BATCH, S)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    for _ in range(int(steps)):
        opt.zero_grad()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            logits = model(ids)
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(
            -1, logits.shape[-1]), labels.reshape(-1))
        loss.backward()
        opt.step()
        print(repr(loss.item()))


if __name__ == "__main__":
    main()
