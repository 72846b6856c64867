#!/usr/bin/env bash
# Installs what is missing, builds autopar, and runs every test: the lit suite
# (FileCheck tests, numerical checks against numpy, bad-input and fuzz tests)
# and the GoogleTest units through ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --test
"$root/scripts/build.sh" check
