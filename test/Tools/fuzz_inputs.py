"""Feeds damaged input to autopar-opt and autopar-run and checks that every
run ends with a diagnostic (exit code 0 or 1), never a crash.

Inputs: random bytes, and valid modules from test/Dialect/AutoPar with bytes
deleted, duplicated or replaced, lines swapped, numbers changed. The seed is
fixed, so a failure reproduces; the failing input is printed.
Usage: fuzz_inputs.py ROUNDS
"""

import os
import random
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ["AUTOPAR_BIN_DIR"]


def seeds():
    texts = []
    for name in ("ops.mlir", "canonicalize.mlir"):
        with open(os.path.join(ROOT, "Dialect", "AutoPar", name)) as f:
            texts.extend(chunk for chunk in f.read().split("// -----"))
    return texts


def mutate(rng, text):
    data = bytearray(text.encode())
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        kind = rng.randrange(5)
        pos = rng.randrange(len(data))
        if kind == 0:
            del data[pos:pos + rng.randint(1, 8)]
        elif kind == 1:
            data[pos:pos] = data[pos:pos + rng.randint(1, 16)]
        elif kind == 2:
            data[pos] = rng.choice(b"0123456789-x<>[](){}%:,=\"#!@ \n")
        elif kind == 3:
            digits = [i for i, c in enumerate(data) if chr(c).isdigit()]
            if digits:
                i = rng.choice(digits)
                data[i:i + 1] = str(rng.choice(
                    [0, 1, 9, 64, 2**31, 2**62, 2**63 - 1])).encode()
        else:
            lines = data.split(b"\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
    return bytes(data)


def run(args, work):
    proc = subprocess.run(args, capture_output=True, timeout=60, cwd=work)
    return proc.returncode, proc.stderr.decode(errors="replace")


def main():
    rounds = int(sys.argv[1])
    rng = random.Random(1234)
    corpus = seeds()
    bad = 0
    with tempfile.TemporaryDirectory() as work:
        x = os.path.join(work, "x.npy")
        np.save(x, np.ones((4, 8), np.float32))
        for i in range(rounds):
            if i % 4 == 0:
                data = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 400)))
            else:
                data = mutate(rng, rng.choice(corpus))
            path = os.path.join(work, "input.mlir")
            with open(path, "wb") as f:
                f.write(data)
            checks = [[os.path.join(BIN, "autopar-opt"), path],
                      [os.path.join(BIN, "autopar-opt"), path,
                       "--autopar-lower-to-cpu"]]
            if i % 8 == 1:
                checks.append([os.path.join(BIN, "autopar-run"), path,
                               "--input=" + x, "--output-dir=out"])
            for args in checks:
                code, err = run(args, work)
                if code not in (0, 1):
                    bad += 1
                    print(f"CRASH (exit {code}) in round {i}: "
                          f"{' '.join(os.path.basename(a) for a in args)}")
                    print(data.decode(errors="replace")[:2000])
                    print(err[-2000:])
    print(f"fuzz: {rounds} inputs, {bad} crashes")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
