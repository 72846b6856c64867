#!/usr/bin/env bash
# Builds, on this machine, what the GPU device check runs: the device
# machines have CUDA but no LLVM, MLIR or network. Writes gpu-check/ (git
# ignored; carry it to the device machine):
#   CudaRuntimeTest     the runtime's unit tests (kernel test runs on a GPU)
#   libgelu_mul.so      gelu(a * b) on N floats, lowered by
#                       autopar-lower-to-cuda (sm_90 PTX) and compiled with llc
#   aot_check           runs it on the GPU against the host, and times it
#   libautopar_cuda_runtime.so
# usage: bench/gpu/prepare.sh [N]   (default 16777216)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-16777216}
build=$root/build
out=$root/gpu-check
llvm=/usr/lib/llvm-22/bin
ninja -C "$build" autopar-opt autopar_cuda_runtime CudaRuntimeTest >/dev/null
rm -rf "$out" && mkdir -p "$out"
sed "s/@N@/$n/g" "$root/bench/gpu/gelu_mul.mlir.in" > "$out/gelu_mul.mlir"
"$build/bin/autopar-opt" "$out/gelu_mul.mlir" --autopar-lower-to-cuda \
  | "$llvm/mlir-translate" --mlir-to-llvmir -o "$out/gelu_mul.ll"
"$llvm/llc" -O2 -filetype=obj -relocation-model=pic "$out/gelu_mul.ll" \
  -o "$out/gelu_mul.o"
cp "$build/lib/libautopar_cuda_runtime.so" "$build/unittests/CudaRuntimeTest" \
  "$out/"
c++ -shared -o "$out/libgelu_mul.so" "$out/gelu_mul.o" -L"$out" \
  -lautopar_cuda_runtime -Wl,-rpath,'$ORIGIN'
c++ -O2 -std=c++17 -I"$root/runtime/cuda" "$root/bench/gpu/aot_check.cpp" \
  -o "$out/aot_check" -L"$out" -lautopar_cuda_runtime -ldl \
  -Wl,-rpath,'$ORIGIN'
patchelf --set-rpath '$ORIGIN' "$out/CudaRuntimeTest" 2>/dev/null ||
  echo "note: patchelf missing; run CudaRuntimeTest with LD_LIBRARY_PATH=gpu-check"
echo "n=$n" > "$out/params"
rm -f "$out/gelu_mul.o"
du -sh "$out"
