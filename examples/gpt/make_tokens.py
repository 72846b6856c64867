"""Writes tokens.npy and next.npy: 64 sequences of 32 tokens over a vocabulary
of 128 following t[j+1] = (3 t[j] + 1) mod 128 from a random first token, and
the next token of each position: a pattern a 2-layer GPT learns in a few
dozen steps (the README demo). Debian's /usr/bin/python3 with numpy."""
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)
x = np.zeros((64, 32), np.int64)
x[:, 0] = rng.integers(0, 128, 64)
for j in range(1, 32):
    x[:, j] = (3 * x[:, j - 1] + 1) % 128
np.save(os.path.join(here, "tokens.npy"), x)
np.save(os.path.join(here, "next.npy"), (3 * x + 1) % 128)
