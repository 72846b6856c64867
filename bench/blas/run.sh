#!/usr/bin/env bash
# bench/blas/run.sh [THREADS...]
#
# sgemm GFLOP/s of the BLAS libraries Debian ships, on this machine, for the
# shapes of a small GPT's training step: the reference BLAS (libblas3),
# OpenBLAS, BLIS and oneDNN. OpenBLAS and BLIS are fetched with
# `apt-get download` and unpacked into bench/.cache (nothing is installed,
# so the system's libblas.so.3 stays as it is); oneDNN is libdnnl2, which
# autopar links. Results are in docs/cpu-performance.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${AUTOPAR_BENCH_CACHE:-$root/bench/.cache}
mkdir -p "$cache"
bin=$cache/blas-compare
g++ -O2 -std=c++17 "$root/bench/blas/blas-compare.cpp" -o "$bin" -ldl
libs=()
[ -e /usr/lib/x86_64-linux-gnu/libblas.so.3 ] &&
  libs+=("reference:fortran=/usr/lib/x86_64-linux-gnu/libblas.so.3")
for pkg in libopenblas0-pthread:openblas-pthread/libopenblas.so.0:openblas \
           libblis4-pthread:blis-pthread/libblis.so.4:blis; do
  IFS=: read -r name rel label <<<"$pkg"
  lib=$cache/ex/usr/lib/x86_64-linux-gnu/$rel
  if [ ! -e "$lib" ]; then
    (cd "$cache" && apt-get download "$name" >/dev/null 2>&1 &&
       dpkg -x "$name"_*.deb ex) || echo "note: could not fetch $name" >&2
  fi
  [ -e "$lib" ] && libs+=("$label:fortran=$lib")
done
libs+=("onednn:dnnl=/usr/lib/x86_64-linux-gnu/libdnnl.so.2")
threads=("$@")
[ ${#threads[@]} -eq 0 ] && threads=(1 "$(nproc)")
for t in "${threads[@]}"; do
  "$bin" "$t" "${libs[@]}"
done
