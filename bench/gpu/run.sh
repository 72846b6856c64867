#!/usr/bin/env bash
# The GPU device check, run on a machine with an NVIDIA GPU (through the
# device tool: carry gpu-check/, built here by bench/gpu/prepare.sh):
#   bash bench/gpu/run.sh
# Runs the CUDA runtime's unit tests and the ahead-of-time compiled
# gelu(a * b) against the host, and prints its bandwidth with the ratio to
# a device-to-device copy measured in the same run.
# Not yet part of it (issue 7, open): training gpt2-small and a torch GPT
# against the CPU backend and torch.compile (tokens/s, MFU).
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/gpu-check
if [ ! -x "$dir/aot_check" ]; then
  echo "gpu-check/ is missing: run bench/gpu/prepare.sh first (on the build machine)" >&2
  exit 1
fi
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
echo "== CUDA runtime unit tests"
LD_LIBRARY_PATH=$dir "$dir/CudaRuntimeTest" || status=1
echo "== gelu(a * b) lowered by autopar-lower-to-cuda, $(cat "$dir/params")"
LD_LIBRARY_PATH=$dir "$dir/aot_check" "$dir/libgelu_mul.so" \
  "$(sed 's/n=//' "$dir/params")" || status=1
exit $status
