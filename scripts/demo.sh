#!/usr/bin/env bash
# Installs what is missing, builds autopar, and runs the demo: a small MLP
# forward pass in the autopar dialect, compiled for the CPU and executed; a
# parallel plan for GPT-3 175B on 1024 A100 GPUs; then a small ONNX classifier
# and a small GPT from the model zoo trained here, showing the falling loss;
# then the GPT again on 2 processes over MPI, with the plan autopar chose,
# and on an NVIDIA GPU where one is present.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AUTOPAR_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"
"$root/scripts/build.sh" autopar-opt autopar-run autopar-plan autopar-compile
echo "== autopar-run examples/mlp/mlp.mlir --input=examples/mlp/input.npy"
"$build/bin/autopar-run" "$root/examples/mlp/mlp.mlir" \
  --input="$root/examples/mlp/input.npy"
echo
echo "== autopar-plan --model=zoo:gpt3-175b --cluster=a100-80g-8x128 --global-batch=1536 --explain"
"$build/bin/autopar-plan" --model=zoo:gpt3-175b --cluster=a100-80g-8x128 \
  --global-batch=1536 --explain
echo
echo "== autopar-compile examples/train/classifier.onnx --train --optimizer=adam --lr=0.01 --lr-schedule=cosine:t_max=64"
artifact="$build/demo-train"
"$build/bin/autopar-compile" "$root/examples/train/classifier.onnx" --train \
  --optimizer=adam --lr=0.01 --lr-schedule=cosine:t_max=64 -o "$artifact"
echo "== autopar-run $artifact --data=examples/train/x.npy --labels=examples/train/y.npy --batch-size=32 --steps=64"
"$build/bin/autopar-run" "$artifact" --data="$root/examples/train/x.npy" \
  --labels="$root/examples/train/y.npy" --batch-size=32 --steps=64 \
  --export="$artifact/trained.safetensors"
echo
echo "== autopar-compile 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' --train --batch=4 --optimizer=adam --lr=0.003"
gpt="$build/demo-gpt"
"$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' \
  --train --batch=4 --optimizer=adam --lr=0.003 -o "$gpt"
echo "== autopar-run $gpt --data=examples/gpt/tokens.npy --labels=examples/gpt/next.npy --batch-size=4 --steps=64 --shuffle"
"$build/bin/autopar-run" "$gpt" --data="$root/examples/gpt/tokens.npy" \
  --labels="$root/examples/gpt/next.npy" --batch-size=4 --steps=64 --shuffle
echo
# The same GPT on 2 processes over MPI, the plan (data, tensor, sequence
# parallelism, ZeRO) chosen by autopar-compile for them.
if command -v mpirun >/dev/null; then
  mpirun=(mpirun --oversubscribe)
  [ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)
  echo "== autopar-compile 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' --train --batch=4 --optimizer=adam --lr=0.003 --devices=2"
  gpt2="$build/demo-gpt-2"
  "$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' \
    --train --batch=4 --optimizer=adam --lr=0.003 --devices=2 -o "$gpt2"
  echo "== mpirun -np 2 autopar-run $gpt2 --data=examples/gpt/tokens.npy --labels=examples/gpt/next.npy --batch-size=4 --steps=64 --shuffle"
  "${mpirun[@]}" -np 2 "$build/bin/autopar-run" "$gpt2" \
    --data="$root/examples/gpt/tokens.npy" --labels="$root/examples/gpt/next.npy" \
    --batch-size=4 --steps=64 --shuffle
else
  echo "(mpirun not found: the 2-process run is skipped)"
fi
echo
# The same GPT on an NVIDIA GPU, where one is present: the step compiled
# for it (--target=cuda; the CUDA toolkit compiles the kernels), trained by
# autopar-run with the weights and optimizer state on the device.
if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo "== autopar-compile 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' --train --batch=4 --optimizer=adam --lr=0.003 --target=cuda"
  gpu="$build/demo-gpt-cuda"
  if "$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' \
      --train --batch=4 --optimizer=adam --lr=0.003 --target=cuda -o "$gpu"; then
    echo "== autopar-run $gpu --data=examples/gpt/tokens.npy --labels=examples/gpt/next.npy --batch-size=4 --steps=64 --shuffle"
    "$build/bin/autopar-run" "$gpu" --data="$root/examples/gpt/tokens.npy" \
      --labels="$root/examples/gpt/next.npy" --batch-size=4 --steps=64 --shuffle
  else
    echo "(the step could not be compiled for the GPU: the GPU run is skipped)"
  fi
else
  echo "(no NVIDIA GPU here: the GPU run is skipped)"
fi
