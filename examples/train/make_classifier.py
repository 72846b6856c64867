"""Writes the README's training demo: a small MLP classifier exported to
ONNX (classifier.onnx, batch 32) and a labelled data set it can learn
(x.npy: 512 rows of 16 features, y.npy: one of 4 classes per row, drawn
around four centres).

  /usr/bin/python3 examples/train/make_classifier.py   (rewrites the files)
"""

import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS, FEATURES, HIDDEN, CLASSES, BATCH = 512, 16, 64, 4, 32

rng = np.random.default_rng(3)
centres = 0.6 * rng.standard_normal((CLASSES, FEATURES))
y = rng.integers(0, CLASSES, ROWS).astype(np.int64)
x = (centres[y] + rng.standard_normal((ROWS, FEATURES))).astype(np.float32)
np.save(os.path.join(HERE, "x.npy"), x)
np.save(os.path.join(HERE, "y.npy"), y)

torch.manual_seed(3)
model = torch.nn.Sequential(
    torch.nn.Linear(FEATURES, HIDDEN), torch.nn.GELU(),
    torch.nn.Linear(HIDDEN, CLASSES))
torch.onnx.export(model, (torch.zeros(BATCH, FEATURES),),
                  os.path.join(HERE, "classifier.onnx"), opset_version=14,
                  input_names=["features"], output_names=["logits"])
