#!/usr/bin/env bash
# bench/cpu-dp/run.sh [PROCESSES...]   (default: 1 2 4)
#
# Data-parallel training over MPI on this machine: a small zoo GPT, global
# batch 16 sequences of 64 tokens, split over N processes (each with
# cores/N threads, at least 1), Adam. Prints the measured step time for each
# N next to the planner's prediction for dp=N on this machine as
# autopar-calibrate measures it (run under the same N processes), and their
# ratio. More processes than cores run oversubscribed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BUILD_DIR:-$root/build}/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
model='zoo:gpt:layers=2,hidden=128,heads=4,vocab=1024,seq=64'
global=16
steps=8
warmup=2
mpirun=(mpirun --allow-run-as-root --oversubscribe)
cores=$(nproc)
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(1 2 4)

/usr/bin/python3 - "$work" <<'PY'
import numpy as np, sys
r = np.random.default_rng(0)
x = r.integers(0, 1024, (64, 64)).astype(np.int64)
np.save(sys.argv[1] + "/x.npy", x)
np.save(sys.argv[1] + "/y.npy", np.roll(x, -1, axis=1))
PY

printf "%-10s %-8s %14s %14s %8s\n" processes threads "measured (s)" "predicted (s)" ratio
for n in "${counts[@]}"; do
  batch=$((global / n))
  threads=$((cores / n)); [ "$threads" -lt 1 ] && threads=1
  art=$work/art$n
  "$bin/autopar-compile" "$model" --train --batch=$batch --optimizer=adam \
    --lr=0.001 -o "$art" >/dev/null
  if [ "$n" -gt 1 ]; then
    OMP_NUM_THREADS=$threads "${mpirun[@]}" -np "$n" "$bin/autopar-calibrate" \
      -o "$work/cal$n.json" 2>/dev/null
    OMP_NUM_THREADS=$threads "${mpirun[@]}" -np "$n" "$bin/autopar-run" "$art" \
      --data="$work/x.npy" --labels="$work/y.npy" --batch-size=$batch \
      --steps=$((steps + warmup)) --log="$work/log$n.jsonl" >/dev/null
  else
    OMP_NUM_THREADS=$threads "$bin/autopar-calibrate" -o "$work/cal1.json" \
      2>/dev/null
    OMP_NUM_THREADS=$threads "$bin/autopar-run" "$art" --data="$work/x.npy" \
      --labels="$work/y.npy" --batch-size=$batch --steps=$((steps + warmup)) \
      --log="$work/log1.jsonl" >/dev/null
  fi
  "$bin/autopar-plan" --model="$model" --cluster="$work/cal$n.json" \
    --global-batch=$global --plan="dp=$n" -o "$work/plan$n.json" >/dev/null
  /usr/bin/python3 - "$work" "$n" "$batch" "$threads" "$warmup" <<'PY'
import json, sys
work, n, batch, threads, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
rows = [json.loads(l) for l in open(f"{work}/log{n}.jsonl")][warmup:]
measured = sum(batch / r["samples_per_s"] for r in rows) / len(rows)
predicted = json.load(open(f"{work}/plan{n}.json"))["chosen"]["step_time_s"]
print(f"{n:<10} {threads:<8} {measured:14.4f} {predicted:14.4f} {measured / predicted:8.2f}")
PY
done
