"""Prints what the attention kernels' main loops are made of, without a GPU:
compiles runtime/cuda/Attention.cu for sm_90 (nvcc -cubin, ptxas's register
and spill counts), disassembles it (cuobjdump -sass) and, for each kernel
named, counts the instructions of its longest loop (the loop over key or
query tiles) by opcode: all of them (both sides of every branch), and those
on the path of a whole tile without a mask (what a predicated branch skips
is left out when no product or atomic is in it). The loop's instructions
per tensor-core instruction (HMMA) say how much besides the products each
tile issues: the kernels are issue-bound when that is high.

cuobjdump (and the nvdisasm it runs) are not in the CUDA toolkit here: the
script takes $CUOBJDUMP, or fetches NVIDIA's wheels (nvidia-cuda-cuobjdump
and nvidia-cuda-nvdisasm, pinned) from PyPI into ~/.cache/autopar once.

usage: /usr/bin/python3 bench/gpu/sass_mix.py [KERNEL ...]
       (default: the bf16 head-size-64 mma kernels gpt2-small runs)
"""
import collections
import os
import re
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
WHEELS = ["nvidia-cuda-cuobjdump==13.2.51", "nvidia-cuda-nvdisasm==13.2.51"]
DEFAULT = ["autopar_attention_forward_mma_bf16_d64",
           "autopar_attention_forward_mma2_bf16_d64",
           "autopar_attention_backward_mma_bf16_d64"]


def cuobjdump():
    if os.environ.get("CUOBJDUMP"):
        return os.environ["CUOBJDUMP"]
    cache = os.path.expanduser("~/.cache/autopar/cuobjdump")
    tools = os.path.join(cache, "nvidia", "cu13", "bin")
    if not os.path.exists(os.path.join(tools, "nvdisasm")):
        os.makedirs(cache, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q",
                        "--no-deps", "-d", cache] + WHEELS, check=True)
        for wheel in os.listdir(cache):
            if wheel.endswith(".whl"):
                zipfile.ZipFile(os.path.join(cache, wheel)).extractall(cache)
        for tool in ("cuobjdump", "nvdisasm"):
            os.chmod(os.path.join(tools, tool), 0o755)
    os.environ["NVDISASM_PATH"] = tools
    return os.path.join(tools, "cuobjdump")


def main():
    names = sys.argv[1:] or DEFAULT
    nvcc = os.environ.get("NVCC", "/usr/local/cuda/bin/nvcc")
    with tempfile.TemporaryDirectory() as tmp:
        cubin = os.path.join(tmp, "attention.cubin")
        ptxas = subprocess.run(
            [nvcc, "-std=c++17", "-O3", "-cubin", "-arch=sm_90",
             "-Xptxas", "-v", "-I" + os.path.join(ROOT, "runtime/cuda"),
             "-o", cubin, os.path.join(ROOT, "runtime/cuda/Attention.cu")],
            check=True, capture_output=True, text=True).stderr
        sass = subprocess.run([cuobjdump(), "-sass", cubin], check=True,
                              capture_output=True, text=True).stdout
    resources = {}
    for m in re.finditer(r"Compiling entry function '(\w+)'.*?"
                         r"(\d+) bytes spill stores.*?Used (\d+) registers",
                         ptxas, re.S):
        resources[m.group(1)] = (int(m.group(3)), int(m.group(2)))
    functions = re.split(r"\n\s*Function : ", sass)
    for name in names:
        body = next((f for f in functions if f.startswith(name + "\n")), None)
        if body is None:
            sys.exit("sass_mix.py: no kernel " + name)
        code = [(int(a, 16), text) for a, text in re.findall(
            r"/\*([0-9a-f]{4,})\*/\s+([^;]*);", body)]
        index = {a: i for i, (a, _) in enumerate(code)}
        loops = []
        for i, (a, text) in enumerate(code):
            m = re.search(r"\bBRA\b.*?0x([0-9a-f]+)", text)
            if m and int(m.group(1), 16) < a and int(m.group(1), 16) in index:
                loops.append((index[int(m.group(1), 16)], i))
        first, last = max(loops, key=lambda l: l[1] - l[0])
        ops = [re.sub(r"^@!?U?P\w+\s+", "", text).split()[0].split(".")[0]
               for _, text in code[first:last + 1]]
        # The whole, unmasked tile's path: without what a predicated
        # forward branch skips when no product or dq atomic is in it (the
        # masks, the short last tile's copies, the first tile's loads).
        cold = set()
        for i, (a, text) in enumerate(code[first:last + 1]):
            m = re.match(r"@!?U?P\w+\s+BRA\b.*?0x([0-9a-f]+)", text)
            target = index.get(int(m.group(1), 16)) if m else None
            if target is None or target <= first + i or target > last:
                continue
            skipped = range(i + 1, target - first)
            if not any(ops[j] in ("HMMA", "REDG") for j in skipped):
                cold.update(skipped)
        everything = collections.Counter(ops)
        path = collections.Counter(
            op for j, op in enumerate(ops) if j not in cold)
        registers, spill = resources.get(name, (0, 0))
        print(f"{name}: {registers} registers, {spill} bytes spilled")
        for what, count in (("main loop", everything),
                            ("a whole unmasked tile", path)):
            total = sum(count.values())
            print(f"  {what}: {total} instructions, {count['HMMA']} HMMA "
                  f"({total / max(count['HMMA'], 1):.1f} a product): " +
                  ", ".join(f"{op} {n}" for op, n in count.most_common(12)))


if __name__ == "__main__":
    main()
