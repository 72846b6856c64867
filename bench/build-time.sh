#!/usr/bin/env bash
# Measures the build and test times the foundation issue sets targets for:
#   clean build (no ccache)      target <= 10 min on 2 cores
#   one-file rebuild             target <= 30 s
#   lit + ctest (ninja check)    reported
# in a scratch build directory, so the developer's build/ is untouched.
# Usage: bench/build-time.sh [JOBS]   (default 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${1:-2}
dir=$(mktemp -d /tmp/autopar-build-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

seconds() { local s=$SECONDS; "$@" >/dev/null; echo $((SECONDS - s)); }

export CCACHE_DISABLE=1
cmake -G Ninja -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release \
  -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
  -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit >/dev/null
clean=$(seconds ninja -C "$dir" -j "$jobs" autopar-opt autopar-run autopar-unittests autopar-doc)
rebuilds=""
for f in lib/Dialect/AutoPar/IR/AutoParOps.cpp \
         lib/Conversion/AutoParToLinalg/AutoParToLinalg.cpp \
         tools/autopar-run/autopar-run.cpp; do
  touch "$root/$f"
  rebuilds+="$f $(seconds ninja -C "$dir" -j "$jobs" autopar-opt autopar-run autopar-unittests)"$'\n'
done
tests=$(seconds ninja -C "$dir" -j "$jobs" check)

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "clean build (-j$jobs, no ccache): ${clean} s   (target <= 600 s, ratio $(awk "BEGIN{printf \"%.2f\", $clean/600}"))"
while read -r f t; do
  [ -n "$f" ] && echo "rebuild after touching $f: ${t} s   (target <= 30 s, ratio $(awk "BEGIN{printf \"%.2f\", $t/30}"))"
done <<< "$rebuilds"
echo "lit + ctest (ninja check): ${tests} s"
