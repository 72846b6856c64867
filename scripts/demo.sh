#!/usr/bin/env bash
# Installs what is missing, builds autopar, and runs the demo: a small MLP
# forward pass in the autopar dialect, compiled for the CPU and executed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AUTOPAR_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"
"$root/scripts/build.sh" autopar-opt autopar-run
echo "== autopar-run examples/mlp/mlp.mlir --input=examples/mlp/input.npy"
"$build/bin/autopar-run" "$root/examples/mlp/mlp.mlir" \
  --input="$root/examples/mlp/input.npy"
