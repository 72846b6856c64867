"""Compares two gradient dumps of bench/gpu/aot_train.cpp
(AOT_TRAIN_DUMP_GRADS), parameter by parameter.

usage: compare_grads.py SPEC.txt A.bin B.bin
Prints, for each parameter whose gradients differ by more than
1e-5 + 1e-3 |b|, the worst element, then a count.
"""
import sys

import numpy as np


def main():
    spec, a_path, b_path = sys.argv[1:4]
    # The dump holds the trained parameters' gradients.
    params = [l.split() for l in open(spec)
              if l.startswith("param ") and "frozen" not in l.split()]
    a = np.fromfile(a_path, dtype="<f4")
    b = np.fromfile(b_path, dtype="<f4")
    at, bad = 0, 0
    for p in params:
        name, rank = p[1], int(p[2])
        n = int(np.prod([int(d) for d in p[3:3 + rank]]))
        x, y = a[at:at + n], b[at:at + n]
        at += n
        err = np.abs(x - y) - (1e-5 + 1e-3 * np.abs(y))
        if err.max() > 0:
            i = int(err.argmax())
            bad += 1
            print(f"{name}: element {i}: {x[i]:.6g} vs {y[i]:.6g} "
                  f"({int((err > 0).sum())} of {n} outside)")
    print(f"{bad} of {len(params)} gradients differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
