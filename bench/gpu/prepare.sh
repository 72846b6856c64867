#!/usr/bin/env bash
# Builds, on this machine, what the GPU device check runs: the device
# machines have CUDA but no LLVM, MLIR or network. Writes gpu-check/ (git
# ignored; carry it to the device machine):
#   CudaRuntimeTest        the runtime's unit tests (kernel test runs on a GPU)
#   libgelu_mul.so         gelu(a * b) on N floats
#   liblinear_gelu.so      gelu(x w), x: S x S, w: S x S (the product through
#                          cuBLAS)
#   aot_check              runs them on the GPU against the host, and times them
#   libloss.so, loss-args/ a 2-layer zoo GPT's training step compiled by
#                          autopar-compile --target=cuda (random weights), the
#                          arguments of its @loss for 2 sequences of
#                          examples/gpt as raw files, and the CPU backend's
#                          loss (expected-loss)
#   aot_loss               runs it on the GPU and compares
#   libautopar_cuda_runtime.so
# Each function is lowered by autopar-lower-to-cuda (sm_90 PTX inside) and
# its host code compiled with llc.
# usage: bench/gpu/prepare.sh [N [S]]   (default 16777216 2048)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-16777216}
s=${2:-2048}
build=$root/build
out=$root/gpu-check
llvm=/usr/lib/llvm-22/bin
ninja -C "$build" autopar-opt autopar-compile autopar-run autopar_cuda_runtime \
  CudaRuntimeTest >/dev/null
rm -rf "$out" && mkdir -p "$out"
cp "$build/lib/libautopar_cuda_runtime.so" "$build/unittests/CudaRuntimeTest" \
  "$out/"
# compile NAME SED-SCRIPT: bench/gpu/NAME.mlir.in -> gpu-check/libNAME.so
compile() {
  sed "$2" "$root/bench/gpu/$1.mlir.in" > "$out/$1.mlir"
  "$build/bin/autopar-opt" "$out/$1.mlir" --autopar-lower-to-cuda \
    | "$llvm/mlir-translate" --mlir-to-llvmir -o "$out/$1.ll"
  "$llvm/llc" -O2 -filetype=obj -relocation-model=pic "$out/$1.ll" \
    -o "$out/$1.o"
  c++ -shared -o "$out/lib$1.so" "$out/$1.o" -L"$out" \
    -lautopar_cuda_runtime -Wl,-rpath,'$ORIGIN' -Wl,--no-undefined
  rm -f "$out/$1.o" "$out/$1.ll"
}
compile gelu_mul "s/@N@/$n/g"
compile linear_gelu "s/@M@/$s/g; s/@K@/$s/g; s/@N@/$s/g"
c++ -O2 -std=c++17 -I"$root/runtime/cuda" "$root/bench/gpu/aot_check.cpp" \
  -o "$out/aot_check" -L"$out" -lautopar_cuda_runtime -ldl \
  -Wl,-rpath,'$ORIGIN'
# The GPT's loss: its training artifact compiled with --target=cuda (the
# step as a GPU library), inputs, the CPU backend's loss, @loss's arguments
# as raw files.
gpt=$out/gpt
"$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' \
  --train --batch=2 --target=cuda -o "$gpt" >/dev/null
cp "$gpt/train-cuda.so" "$out/libloss.so"
/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[3], np.load(sys.argv[1])[:2]); np.save(sys.argv[4], np.load(sys.argv[2])[:2])" \
  "$root/examples/gpt/tokens.npy" "$root/examples/gpt/next.npy" \
  "$gpt/ids.npy" "$gpt/labels.npy"
"$build/bin/autopar-run" "$gpt/train.mlir" --entry=loss --input="$gpt/ids.npy" \
  --input="$gpt/labels.npy" --weights="$gpt/weights.safetensors" --print \
  | tail -1 > "$out/expected-loss"
mkdir -p "$out/loss-args"
/usr/bin/python3 "$root/bench/gpu/loss_args.py" "$gpt/train.mlir" \
  "$gpt/weights.safetensors" "$gpt/ids.npy" "$gpt/labels.npy" "$out/loss-args"
rm -rf "$gpt"
c++ -O2 -std=c++17 -I"$root/runtime/cuda" "$root/bench/gpu/aot_loss.cpp" \
  -o "$out/aot_loss" -L"$out" -lautopar_cuda_runtime -ldl \
  -Wl,-rpath,'$ORIGIN'
printf 'n=%s\ns=%s\n' "$n" "$s" > "$out/params"
du -sh "$out"
