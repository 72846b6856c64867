"""Reads aot_train's output under AUTOPAR_CUDA_PROFILE=1 on stdin and
prints it with the TOP costliest rows of the profile kept, each kernel's
`#N` annotated with the op of the training step it comes from (from
KERNELS, bench/gpu/kernel_map.py's output, where it exists) and the
bandwidth its buffers' size over its time would take (an upper bound where
a kernel reads only part of a buffer), then the GPU
time summed by op: every kernel of one autopar op kind, each kind of cuBLAS
product (bf16 gemm, sgemm, batched or not), each fused attention kernel.

usage: python3 bench/gpu/profile_by_op.py KERNELS TOP < aot_train's output
"""

import collections
import os
import re
import sys

ROW = re.compile(r"^\s+([\d.]+) ms\s+[\d.]+%\s+(\d+) x  (.*)$")


def main(argv):
    ops, megabytes = {}, {}
    if os.path.exists(argv[1]):
        for line in open(argv[1]):
            n, _, rest = line.partition(" ")
            rest = rest.split(" ", 2)[-1].strip()
            mb = re.search(r" ([\d.]+) MB$", rest)
            if mb:
                megabytes[n] = float(mb.group(1))
                rest = rest[:mb.start()]
            ops[n] = rest
    top = int(argv[2])
    rows = 0
    total = 0.0
    by_op = collections.defaultdict(lambda: [0.0, 0])
    for line in sys.stdin:
        m = ROW.match(line)
        if not m:
            print(line.rstrip())
            continue
        ms, count, what = float(m.group(1)), int(m.group(2)), m.group(3)
        k = re.match(r"(#\d+) (\S+)", what)
        op = None
        if what.startswith("cuBLAS "):
            batched = " x " in what.split("gemm ", 1)[-1]
            kind = what.split(" ", 2)[1]
            op = f"cuBLAS {kind}{' gemm' if kind != 'sgemm' else ''}" + \
                (" (batched)" if batched else "")
        elif k and k.group(2).startswith("autopar_attention_"):
            op = "attention kernel " + k.group(2)[len("autopar_attention_"):]
        elif k and k.group(1) in ops:
            op = ops[k.group(1)].split()[-1]
            if re.search(r"\+\d+$", op):
                op = "merged launches (autopar-fuse-launches)"
        else:
            op = "kernels not mapped"
        by_op[op][0] += ms
        by_op[op][1] += count
        total += ms
        rows += 1
        if rows <= top:
            note = ""
            if k and k.group(1) in ops:
                note = f"  <- {ops[k.group(1)]}"
                mb = megabytes.get(k.group(1), 0.0)
                if mb and ms:
                    # Buffers taken per call over the time per call.
                    note += f" ({mb:.0f} MB: {mb * count / ms:.0f} GB/s)"
            print(line.rstrip() + note)
    if not rows:
        return
    print(f"GPU time by op ({total:.1f} ms in all):")
    for op, (ms, count) in sorted(by_op.items(), key=lambda x: -x[1][0]):
        print(f"  {ms:9.2f} ms {100 * ms / total:5.1f}% {count:7d} x  {op}")


if __name__ == "__main__":
    main(sys.argv)
