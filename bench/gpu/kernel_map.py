"""Lists the kernels of a module lowered by autopar-lower-to-cuda (printed
with --mlir-print-debuginfo --mlir-print-local-scope): for each gpu.binary,
in order (the ordinal AUTOPAR_CUDA_PROFILE=1 reports as #N), the kernel's
name and the line of the training step's IR it was lowered from, with that
line's op, and the megabytes of the distinct buffers its first launch takes
(bench/gpu/traffic.py's proxy: with a profile's time, an upper bound on the
bandwidth the kernel needs).

usage: kernel_map.py LOWERED.mlir TRAIN.mlir > KERNELS.txt
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from traffic import size  # noqa: E402


def main():
    lowered, train = sys.argv[1:3]
    source = open(train).read().splitlines()
    launch = {}
    binaries = []
    for line in open(lowered):
        # A launch autopar-fuse-launches merged has the fused locations of
        # its parts: the first names the kernel, the count is printed.
        m = re.search(r"gpu\.launch_func .*?@([\w]+)::@([\w]+).*"
                      r"loc\((fused\[.*?\]|\"[^\"]*\":\d+:\d+)\)", line)
        if m and m.group(1) not in launch:
            args = line[line.index("args("):] if "args(" in line else ""
            buffers = dict(re.findall(r"(%[\w.]+) : (memref<[^>]*>)", args))
            megabytes = sum(size(t) for t in buffers.values()) / 1e6
            lines = re.findall(r"\":(\d+):\d+", m.group(3))
            launch[m.group(1)] = (m.group(2), int(lines[0]), megabytes,
                                  len(lines))
        b = re.match(r"\s*gpu\.binary @([\w]+)", line)
        if b:
            binaries.append(b.group(1))
    for i, name in enumerate(binaries):
        kernel, at, megabytes, parts = launch.get(name, ("?", 0, 0.0, 1))
        op = ""
        if 0 < at <= len(source):
            text = source[at - 1].strip()
            o = re.search(r"(autopar\.\w+|linalg\.\w+|arith\.\w+)", text)
            op = o.group(1) if o else text[:60]
        if parts > 1:
            op += f"+{parts - 1}"
        print(f"#{i} {name} {kernel} line {at} {op} {megabytes:.1f} MB")


if __name__ == "__main__":
    main()
