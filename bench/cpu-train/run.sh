#!/usr/bin/env bash
# bench/cpu-train/run.sh [SIZES...] [-- gpt_bench.py options]
#
# Trains a small GPT (≈5M and ≈30M parameters) with autopar and with
# Debian's PyTorch on the same weights, batches and threads, and prints
# tokens/s for each and their ratio. torch is measured on the system's
# libblas.so.3 and, when they can be fetched from Debian (apt-get download,
# no installation), on OpenBLAS and BLIS too; the ratio is to the fastest.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
export PATH=$build/bin:$PATH
cache=${AUTOPAR_BENCH_CACHE:-$root/bench/.cache}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sizes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do sizes+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
[ ${#sizes[@]} -eq 0 ] && sizes=(5m 30m)

blas=()
mkdir -p "$cache"
for pkg in libopenblas0-pthread:openblas-pthread:OpenBLAS \
           libblis4-pthread:blis-pthread:BLIS; do
  IFS=: read -r name dir label <<<"$pkg"
  lib=$cache/ex/usr/lib/x86_64-linux-gnu/$dir
  if [ ! -e "$lib/libblas.so.3" ]; then
    (cd "$cache" && apt-get download "$name" >/dev/null 2>&1 &&
       dpkg -x "$name"_*.deb ex) || true
  fi
  if [ -e "$lib/libblas.so.3" ]; then
    blas+=("--torch-blas=$label=$lib")
  else
    echo "note: could not fetch $name; torch is measured without it" >&2
  fi
done

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
for size in "${sizes[@]}"; do
  /usr/bin/python3 "$root/bench/cpu-train/gpt_bench.py" "$work" \
    --size="$size" "${blas[@]}" "$@"
done
