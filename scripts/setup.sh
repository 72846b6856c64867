#!/usr/bin/env bash
# Installs what autopar needs to build (and with --test, to run every test)
# on Debian 12, and nothing else. Idempotent and quiet when all is there.
set -euo pipefail

packages=(
  cmake ninja-build ccache g++ git
  llvm-22 llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libonnx-dev libprotobuf-dev protobuf-compiler
  libgtest-dev libdnnl-dev libopenmpi-dev openmpi-bin
  python3 python3-numpy
)
if [ "${1:-}" = "--test" ]; then
  # References for the numerical and import tests: torch exports models,
  # onnx reads test data, libonnx-testdata holds ONNX's node test suite.
  packages+=(python3-torch python3-onnx libonnx-testdata)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "setup.sh: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
