"""Lists the kernels of a module lowered by autopar-lower-to-cuda (printed
with --mlir-print-debuginfo --mlir-print-local-scope): for each gpu.binary,
in order (the ordinal AUTOPAR_CUDA_PROFILE=1 reports as #N), the kernel's
name and the line of the training step's IR it was lowered from, with that
line's op.

usage: kernel_map.py LOWERED.mlir TRAIN.mlir > KERNELS.txt
"""
import re
import sys


def main():
    lowered, train = sys.argv[1:3]
    source = open(train).read().splitlines()
    launch = {}
    binaries = []
    for line in open(lowered):
        m = re.search(r"gpu\.launch_func .*?@([\w]+)::@([\w]+).*"
                      r"loc\(\"[^\"]*\":(\d+):\d+\)", line)
        if m and m.group(1) not in launch:
            launch[m.group(1)] = (m.group(2), int(m.group(3)))
        b = re.match(r"\s*gpu\.binary @([\w]+)", line)
        if b:
            binaries.append(b.group(1))
    for i, name in enumerate(binaries):
        kernel, at = launch.get(name, ("?", 0))
        op = ""
        if 0 < at <= len(source):
            text = source[at - 1].strip()
            o = re.search(r"(autopar\.\w+|linalg\.\w+|arith\.\w+)", text)
            op = o.group(1) if o else text[:60]
        print(f"#{i} {name} {kernel} line {at} {op}")


if __name__ == "__main__":
    main()
