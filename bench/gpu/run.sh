#!/usr/bin/env bash
# The GPU device check, run on a machine with an NVIDIA GPU (through the
# device tool: carry gpu-check/, built here by bench/gpu/prepare.sh):
#   bash bench/gpu/run.sh
# Runs the CUDA runtime's unit tests and the ahead-of-time compiled
# functions against the host: gelu(a * b) with its bandwidth and the ratio
# to a device-to-device copy in the same run, and gelu(x w) (the product
# through cuBLAS) with its TFLOP/s and the ratio to PyTorch's on the same
# GPU in the same run (fp32, no TF32, both), and a 2-layer GPT's loss
# (every op of its forward pass and cross-entropy on the GPU) against the
# CPU backend's (1e-4 relative).
# Not yet part of it (issue 7, open): training gpt2-small and a torch GPT
# against the CPU backend and torch.compile (tokens/s, MFU).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/gpu-check
if [ ! -x "$dir/aot_check" ]; then
  echo "gpu-check/ is missing: run bench/gpu/prepare.sh first (on the build machine)" >&2
  exit 1
fi
n=$(sed -n 's/^n=//p' "$dir/params")
s=$(sed -n 's/^s=//p' "$dir/params")
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
echo "== CUDA runtime unit tests"
LD_LIBRARY_PATH=$dir "$dir/CudaRuntimeTest" || status=1
echo "== gelu(a * b) lowered by autopar-lower-to-cuda, n=$n"
LD_LIBRARY_PATH=$dir "$dir/aot_check" gelu_mul "$dir/libgelu_mul.so" "$n" || status=1
echo "== gelu(x w), ${s}x${s} times ${s}x${s}"
out=$(LD_LIBRARY_PATH=$dir "$dir/aot_check" linear_gelu "$dir/liblinear_gelu.so" "$s" "$s" "$s")
rc=$?
echo "$out"
[ $rc -eq 0 ] || status=1
ours=$(echo "$out" | sed -n 's/.* \([0-9.]*\) TFLOP\/s.*/\1/p')
theirs=$(python3 - "$s" <<'PY' 2>/dev/null
import sys, time, torch
s = int(sys.argv[1])
torch.backends.cuda.matmul.allow_tf32 = False
x = torch.randn(s, s, device="cuda")
w = torch.randn(s, s, device="cuda")
f = lambda: torch.nn.functional.gelu(x @ w)
for _ in range(3):
    f()
torch.cuda.synchronize()
t0 = time.perf_counter()
for _ in range(20):
    f()
torch.cuda.synchronize()
print(f"{2 * s**3 / ((time.perf_counter() - t0) / 20) / 1e12:.2f}")
PY
)
if [ -n "$ours" ] && [ -n "$theirs" ]; then
  awk -v a="$ours" -v t="$theirs" 'BEGIN { printf "linear_gelu: autopar %.2f TFLOP/s, PyTorch (eager, fp32) %.2f TFLOP/s, ratio %.2f\n", a, t, a / t }'
else
  echo "linear_gelu: no PyTorch figure to compare (torch with CUDA not found)"
fi
echo "== a 2-layer zoo GPT's loss on the GPU against the CPU backend"
LD_LIBRARY_PATH=$dir "$dir/aot_loss" --device "$dir/libloss.so" \
  "$dir/loss-args/args.txt" "$(cat "$dir/expected-loss")" || status=1
exit $status
