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
       /usr/bin/python3 bench/gpu/sass_mix.py --mlir LOWERED.mlir N
       (the N-th gpu.binary of a module lowered by autopar-lower-to-cuda
       with host=false, the #N of kernel_map.py and the profile; PTX
       assembled by ptxas: a generated kernel, whose loops are often
       unrolled whole, so its whole code counts too)
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


def binary(path, n):
    """The PTX of the n-th gpu.binary of a lowered module, unescaped."""
    text = open(path).read()
    found = re.findall(r'gpu\.binary @\w+\s+\[#gpu\.object<.*?assembly = '
                       r'"((?:[^"\\]|\\.)*)"', text)
    if n >= len(found):
        sys.exit(f"sass_mix.py: {path} has {len(found)} binaries, no #{n}")
    return re.sub(r"\\([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)),
                  found[n]).replace("\\\\", "\\")


def main():
    args = sys.argv[1:]
    cuda = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    with tempfile.TemporaryDirectory() as tmp:
        cubin = os.path.join(tmp, "kernels.cubin")
        if args[:1] == ["--mlir"]:
            if len(args) != 3:
                sys.exit("usage: sass_mix.py --mlir LOWERED.mlir N")
            ptx = binary(args[1], int(args[2]))
            names = re.findall(r"\.entry\s+(\w+)", ptx)
            source = os.path.join(tmp, "kernel.ptx")
            open(source, "w").write(ptx)
            command = [os.path.join(cuda, "bin/ptxas"), "-arch=sm_90", "-v",
                       "-o", cubin, source]
        else:
            names = args or DEFAULT
            command = [os.environ.get("NVCC", os.path.join(cuda, "bin/nvcc")),
                       "-std=c++17", "-O3", "-cubin", "-arch=sm_90",
                       "-Xptxas", "-v", "-I" + os.path.join(ROOT, "runtime/cuda"),
                       "-o", cubin, os.path.join(ROOT, "runtime/cuda/Attention.cu")]
        ptxas = subprocess.run(command, check=True, capture_output=True,
                               text=True).stderr
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
        # The longest loop, or the whole kernel where nothing loops.
        first, last = max(loops or [(0, len(code) - 1)],
                          key=lambda l: l[1] - l[0])
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
        print(f"{name}: {len(code)} instructions in all, {registers} "
              f"registers, {spill} bytes spilled")
        for what, count in (("main loop" if loops else "the kernel",
                             everything), ("a whole unmasked tile", path)):
            total = sum(count.values())
            products = (f", {count['HMMA']} HMMA ({total / count['HMMA']:.1f}"
                        " a product)" if count["HMMA"] else "")
            print(f"  {what}: {total} instructions{products}: " +
                  ", ".join(f"{op} {n}" for op, n in count.most_common(12)))


if __name__ == "__main__":
    main()
