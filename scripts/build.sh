#!/usr/bin/env bash
# Configures (once) and builds autopar in $AUTOPAR_BUILD_DIR (default: build/)
# with $AUTOPAR_JOBS parallel jobs (default: 2). Extra arguments are targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AUTOPAR_BUILD_DIR:-$root/build}
jobs=${AUTOPAR_JOBS:-2}

if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" \
    -DCMAKE_BUILD_TYPE=Release \
    -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit >/dev/null
fi
ninja -C "$build" -j "$jobs" "$@"
