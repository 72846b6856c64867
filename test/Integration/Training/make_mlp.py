"""Writes mlp.onnx (batch 3), x.npy (6 rows), y.npy and a 5-row y5.npy
(and t.npy, regression targets) into the folder named on the command line. Debian's /usr/bin/python3."""
import os
import sys

import numpy as np
import torch

out = sys.argv[1]
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(),
                            torch.nn.Linear(16, 4))
torch.onnx.export(model, (torch.zeros(3, 8),), os.path.join(out, "mlp.onnx"),
                  opset_version=14, input_names=["x"], output_names=["y"])
rng = np.random.default_rng(0)
np.save(os.path.join(out, "x.npy"), rng.standard_normal((6, 8)).astype(np.float32))
np.save(os.path.join(out, "y.npy"), rng.integers(0, 4, 6).astype(np.int64))
np.save(os.path.join(out, "y5.npy"), rng.integers(0, 4, 5).astype(np.int64))
np.save(os.path.join(out, "t.npy"), rng.standard_normal((6, 4)).astype(np.float32))
bad = np.array([0, 1, 4, 2, 3, 0], dtype=np.int64)
np.save(os.path.join(out, "ybad.npy"), bad)
xnan = rng.standard_normal((6, 8)).astype(np.float32)
xnan[4, 2] = np.nan
np.save(os.path.join(out, "xnan.npy"), xnan)
