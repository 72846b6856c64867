#!/usr/bin/env bash
# Builds the ONNX importer's libFuzzer target with clang (coverage and
# AddressSanitizer on all of autopar's code) in a scratch build directory and
# fuzzes it for SECONDS (default 60), seeded with the importer tests' models.
# Prints libFuzzer's summary; a crash leaves crash-* files in the work folder
# and exits non-zero. Usage: bench/fuzz-onnx-import.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build=${AUTOPAR_FUZZ_BUILD_DIR:-/tmp/autopar-build-fuzz}
work=$(mktemp -d /tmp/autopar-fuzz.XXXXXX)
clangxx=$(command -v clang++ || command -v clang++-14)
clang=$(command -v clang || command -v clang-14)
cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$clangxx" -DCMAKE_C_COMPILER="$clang" \
  -DAUTOPAR_ENABLE_LIBFUZZER=ON \
  -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
  -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit >/dev/null
ninja -C "$build" -j "${AUTOPAR_JOBS:-2}" autopar-onnx-fuzzer >/dev/null
/usr/bin/python3 "$root/test/Import/ONNX/make_models.py" "$work/corpus" >/dev/null
cd "$work"
# ASan's leak checker is off: MLIR contexts keep uniqued storage by design.
ASAN_OPTIONS=detect_leaks=0 "$build/bin/autopar-onnx-fuzzer" \
  -max_total_time="$seconds" -print_final_stats=1 corpus 2>&1 | tail -n 12
echo "work folder: $work"
