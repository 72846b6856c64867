#!/usr/bin/env bash
# bench/cpu-parallel/run.sh [PLAN...]
#   (default: dp=1 dp=2 dp=2,overlap=off tp=2 tp=2,sp=on dp=2,zero=2
#    dp=2,zero=3 dp=4 dp=4,overlap=off dp=2,tp=2; overlap=off: the gradient
#    sums after the backward pass instead of inside it)
#
# Parallel training over MPI on this machine: a small zoo GPT (2 layers,
# hidden 128, 4 heads, vocabulary 1024), global batch 16 sequences of 64
# tokens, Adam, under each plan (dp x tp processes, each data-parallel group
# taking 16/dp sequences). For each plan: the measured step time (mean of 8
# steps after 2 warm-up steps), the step time autopar-compile predicts for
# the plan on this machine as autopar-calibrate measures it (run under the
# same number of processes) and their ratio, and the planner's prediction
# (autopar-plan's transformer cost model, docs/planner.md) and its ratio.
# More processes than cores run oversubscribed; each process gets cores/N
# threads (at least 1).
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
plans=("$@")
[ ${#plans[@]} -eq 0 ] && plans=(dp=1 dp=2 dp=2,overlap=off tp=2 tp=2,sp=on
  dp=2,zero=2 dp=2,zero=3 dp=4 dp=4,overlap=off dp=2,tp=2)

/usr/bin/python3 - "$work" <<'PY'
import numpy as np, sys
r = np.random.default_rng(0)
x = r.integers(0, 1024, (64, 64)).astype(np.int64)
np.save(sys.argv[1] + "/x.npy", x)
np.save(sys.argv[1] + "/y.npy", np.roll(x, -1, axis=1))
PY

degree() { # degree KEY PLAN -> the value of KEY= in PLAN, or 1
  local v
  v=$(tr ',' '\n' <<<"$2" | sed -n "s/^$1=//p")
  echo "${v:-1}"
}

printf "%-16s %-9s %-7s %13s %14s %7s %12s %7s\n" plan processes threads \
  "measured (s)" "predicted (s)" ratio "planner (s)" ratio
for entry in "${plans[@]}"; do
  # `overlap=off` (not a plan key): the data-parallel gradient sums run
  # after the backward pass (autopar-compile --overlap-gradient-sums=false).
  plan=$(tr ',' '\n' <<<"$entry" | grep -v '^overlap=off$' | paste -sd, -)
  overlap=true
  [ "$plan" != "$entry" ] && overlap=false
  dp=$(degree dp "$plan")
  tp=$(degree tp "$plan")
  n=$((dp * tp))
  batch=$((global / dp))
  threads=$((cores / n)); [ "$threads" -lt 1 ] && threads=1
  tag=${entry//[=,]/_}
  launch=()
  [ "$n" -gt 1 ] && launch=("${mpirun[@]}" -np "$n")
  # One calibration per process count, shared by the plans that use it.
  [ -f "$work/cal$n.json" ] ||
    OMP_NUM_THREADS=$threads "${launch[@]}" "$bin/autopar-calibrate" \
      -o "$work/cal$n.json" 2>/dev/null
  "$bin/autopar-compile" "$model" --train --batch=$batch --optimizer=adam \
    --lr=0.001 --plan="$plan" --cluster="$work/cal$n.json" \
    --overlap-gradient-sums=$overlap \
    -o "$work/$tag" >/dev/null
  OMP_NUM_THREADS=$threads "${launch[@]}" "$bin/autopar-run" "$work/$tag" \
    --data="$work/x.npy" --labels="$work/y.npy" --batch-size=$batch \
    --steps=$((steps + warmup)) --log="$work/$tag.jsonl" >/dev/null
  "$bin/autopar-plan" --model="$model" --cluster="$work/cal$n.json" \
    --global-batch=$global --plan="$plan" -o "$work/$tag.plan.json" >/dev/null
  /usr/bin/python3 - "$work" "$tag" "$entry" "$n" "$batch" "$threads" "$warmup" <<'PY'
import json, sys
work, tag, plan, n, batch, threads, warmup = sys.argv[1:8]
rows = [json.loads(l) for l in open(f"{work}/{tag}.jsonl")][int(warmup):]
measured = sum(int(batch) / r["samples_per_s"] for r in rows) / len(rows)
predicted = json.load(open(f"{work}/{tag}/manifest.json"))["predicted_step_s"]
planner = json.load(open(f"{work}/{tag}.plan.json"))["chosen"]["step_time_s"]
print(f"{plan:<16} {n:<9} {threads:<7} {measured:13.4f} {predicted:14.4f} "
      f"{measured / predicted:7.2f} {planner:12.4f} {measured / planner:7.2f}")
PY
done
