#!/bin/bash
# A short A/B on the device: gpt2-small's bf16 step as prepare.sh built it
# and compiled with other lowering options, alternated in one call (two
# rounds) so that the spread between runs shows: about a minute of device
# time where run.sh takes four. Not yet run; what to prepare next is in
# bench/results/gpu-h100.md ("What the next run measures"), e.g.
# `nohoist=hoist-launches=false unroll16=row-unroll=16`.
# usage (on the device, from the repository root, carry ["gpu-check-ab"]):
#   bash bench/gpu/ab.sh VARIANT...   (libgpt2-b8-bf16-VARIANT.so each)
# Build gpu-check-ab/ first on the build machine:
#   bash bench/gpu/ab.sh --prepare NAME=LOWERING-OPTIONS...
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/gpu-check-ab
if [ "${1:-}" = --prepare ]; then
  shift
  build=$root/build
  rm -rf "$dir" && mkdir -p "$dir"
  src=$root/gpu-check
  cp "$src/aot_train" "$src/libautopar_cuda_runtime.so" "$src/gpt2-b8-bf16.txt" \
    "$src/gpt2-b8-bf16-ids.bin" "$src/gpt2-b8-bf16-labels.bin" "$dir/"
  cp "$src/libgpt2-b8-bf16.so.gz" "$dir/"
  for spec in "$@"; do
    name=${spec%%=*} options=${spec#*=}
    "$build/bin/autopar-compile" zoo:gpt2-small --train --batch=8 --target=cuda \
      --gpu-format=cubin --precision=bf16 --cuda-lowering-options="$options" \
      -o "$dir/gpt2" >/dev/null
    cp "$dir/gpt2/train-cuda.so" "$dir/libgpt2-b8-bf16-$name.so"
    gzip -f "$dir/libgpt2-b8-bf16-$name.so"
    rm -rf "$dir/gpt2"
  done
  du -sh "$dir"
  exit 0
fi
export LD_LIBRARY_PATH=$dir
for f in "$dir"/*.so.gz; do gunzip -f "$f"; done
nvidia-smi --query-gpu=name --format=csv,noheader
status=0
for round in 1 2; do
  for v in "" "$@"; do
    lib=gpt2-b8-bf16${v:+-$v}
    echo "== $lib, round $round"
    AOT_TRAIN_MAX_SECONDS=60 timeout 120 "$dir/aot_train" --device \
      "$dir/lib$lib.so" "$dir/gpt2-b8-bf16.txt" 20 | tail -1 \
      | tee "$dir/$lib-$round.json" | cut -c1-400 || status=1
  done
done
# Each variant's losses against the default's (the fused attention's
# atomics make runs differ in the last bits: 2e-2, as run.sh), and the
# step times side by side.
python3 - "$dir" "$@" <<'PY' || status=1
import json, sys
d, variants = sys.argv[1], sys.argv[2:]
def load(name, r):
    return json.load(open(f"{d}/gpt2-b8-bf16{name}-{r}.json"))
ok = True
base = [load("", r) for r in (1, 2)]
for v in variants:
    runs = [load("-" + v, r) for r in (1, 2)]
    worst = max(abs(x - y) / abs(y) for a, b in zip(runs, base)
                for x, y in zip(a["losses"], b["losses"]))
    good = worst <= 2e-2
    ok &= good
    ms = [r["step_ms"] for r in runs]
    ref = [r["step_ms"] for r in base]
    print(f"{'PASS' if good else 'FAIL'}: {v}: {ms[0]:.2f} / {ms[1]:.2f} ms a "
          f"step against {ref[0]:.2f} / {ref[1]:.2f} "
          f"({sum(ms) / sum(ref):.3f}x); losses within {worst:.2e}")
sys.exit(0 if ok else 1)
PY
exit $status
