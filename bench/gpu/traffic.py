"""A static proxy of a lowered training step's GPU memory traffic, for
sessions without a GPU: in each function of the output of
`autopar-opt train.mlir --autopar-lower-to-cuda="host=false"`, the kernel
launches (`gpu.launch_func`) and runtime calls (`autopar_cuda_*`: cuBLAS
products, fused attention), and the bytes of the distinct buffers each
takes, summed. A kernel does not always read or write all of a buffer it
takes, and a cuBLAS product reads its operands more than once, so this is
a proxy to compare lowerings with, not a measurement. Also lists the
costliest kinds of launch (grid, block, buffer types).

usage: /usr/bin/python3 bench/gpu/traffic.py LOWERED.mlir [FUNCTION] [TOP]
       (FUNCTION default forward_backward, TOP default 15)
"""

import collections
import re
import sys

BYTES = {"f64": 8, "i64": 8, "f32": 4, "i32": 4, "bf16": 2, "f16": 2,
         "i16": 2, "i8": 1, "i1": 1}


def size(memref):
    """Bytes of a static memref type (0 when dynamic or unknown)."""
    m = re.match(r"memref<((?:\d+x)*)(\w+)", memref)
    if not m or m.group(2) not in BYTES:
        return 0
    n = 1
    for d in m.group(1).rstrip("x").split("x"):
        if d:
            n *= int(d)
    return n * BYTES[m.group(2)]


def function_body(text, name):
    start = text.find(f"func.func @{name}(")
    if start < 0:
        sys.exit(f"traffic.py: no function @{name}")
    end = text.find("\n  }\n", start)
    return text[start:end]


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    text = open(argv[1]).read()
    name = argv[2] if len(argv) > 2 else "forward_backward"
    top = int(argv[3]) if len(argv) > 3 else 15
    body = function_body(text, name)
    # The static type behind each memref.cast to a dynamic shape.
    casts = dict(re.findall(
        r"(%[\w.]+) = memref.cast %[\w.]+ : (memref<(?:[^<>]|<[^<>]*>)*>) to",
        body))
    launches = calls = 0
    total = 0
    kinds = collections.Counter()
    counts = collections.Counter()
    for line in body.split("\n"):
        if "gpu.launch_func" in line:
            launches += 1
            grid = re.search(r"blocks in \(([^)]*)\) threads in \(([^)]*)\)",
                             line)
            args = line[line.index("args("):]
            pairs = re.findall(r"(%[\w.]+) : (memref<[^>]*>)", args)
            kind = (grid.group(1) + " | " + grid.group(2)) if grid else "?"
        elif re.search(r"call @autopar_cuda_\w+\(", line):
            calls += 1
            callee = re.search(r"call @(autopar_cuda_\w+)\(", line).group(1)
            operands = re.search(r"\(([^)]*)\)", line[line.index(callee):])
            names = re.findall(r"%[\w.]+", operands.group(1))
            pairs = [(n, casts.get(n, "")) for n in names]
            kind = callee
        else:
            continue
        seen = set()
        bytes_, types = 0, set()
        for operand, memref in pairs:
            if operand in seen or not memref:
                continue
            seen.add(operand)
            bytes_ += size(memref)
            types.add(re.sub(r"^memref<|>$", "", memref.split(",")[0]))
        total += bytes_
        key = kind + " | " + ",".join(sorted(types))
        kinds[key] += bytes_
        counts[key] += 1
    print(f"@{name}: {launches} kernel launches, {calls} runtime calls, "
          f"{total / 1e9:.2f} GB of buffers taken")
    for key, b in kinds.most_common(top):
        print(f"{b / 1e9:8.2f} GB {counts[key]:5d}x  {key[:160]}")


if __name__ == "__main__":
    main(sys.argv)
