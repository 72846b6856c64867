#!/usr/bin/env bash
# The GPU device check, run on a machine with an NVIDIA GPU (through the
# device tool: carry gpu-check/, built here by bench/gpu/prepare.sh):
#   bash bench/gpu/run.sh [basics] [small] [gpt2] [profile] [torch]
#   (default: all)
# basics: the CUDA runtime's unit tests (the fused attention kernels'
#   against a double reference among them); the fused attention at
#   gpt2-small's shape, timed with the mma.sync and the WMMA kernels (which
#   must agree), the mma.sync ones also with their blocks head-major
#   (AUTOPAR_CUDA_ATTENTION_ORDER=head), and against PyTorch's
#   scaled_dot_product_attention
#   (bench/gpu/attention_bench.cpp, attention_torch.py); gelu(a * b) against the host with
#   its bandwidth and the ratio to a device-to-device copy; gelu(x w) (the
#   product through cuBLAS) with its TFLOP/s and the ratio to PyTorch's
#   (fp32, no TF32, both), and at gpt2-small's qkv and MLP shapes; a 2-layer
#   GPT's loss against the CPU backend's (1e-4 relative).
# small: that GPT trained 20 steps on the GPU (bench/gpu/aot_train.cpp,
#   through runtime/cuda/StepLibrary.h as autopar-run trains a --target=cuda
#   artifact), every loss against the CPU backend's (1e-4 relative), then
#   again with its gradients averaged by a one-process NCCL communicator
#   (autopar-run's data-parallel path; AOT_TRAIN_NCCL=1) and accumulated
#   over 2 microbatches (AOT_TRAIN_ACCUM=2), with its products through
#   cuBLASLt (AUTOPAR_CUDA_GEMM=lt), and compiled with a block per row in
#   the row kernels (warp-row-length=0); the same GPT with
#   --precision=bf16 (cuBLAS's bf16 GEMM) and a vocabulary of 131 (its
#   products on buffers padded to 136, the embedding gradient's product
#   stored transposed) against the CPU backend's bf16 losses (1e-3: both
#   round the same operands); a GPT with heads of 32 in
#   bf16, whose attention runs as the fused kernels, against the CPU
#   backend's bf16 losses (2e-2); the first GPT in fp16 with a dynamic
#   loss scale (from 2^20: the first steps overflow and are skipped)
#   against the CPU backend's fp16 losses (1e-3); and a small GPT exported
#   from torch to ONNX (its weights carried, its mask frozen), the same
#   way, then in bf16 against PyTorch's bf16 autocast on the same GPU from
#   the same weights (2e-2, bench/gpu/torch_gpt_ref.py). Where a comparison of the small
#   GPTs fails, 2 of its steps run again under compute-sanitizer.
# gpt2: zoo:gpt2-small (124M, seq 1024) at batch 1, its first 3 losses
#   against the CPU backend's (1e-4), then at batch 8 for 20 steps (the loss
#   must fall): tokens/s and MFU (against the H100 SXM's dense bf16 peak,
#   989.4 TFLOP/s); batch 8 again with --precision=bf16, then with the
#   vocabulary products padded by the runtime's copies instead of on
#   padded buffers (--cuda-lowering-options="pad-products=false"), with
#   each column sum's siblings in kernels of their own
#   (column-siblings=false), with the embedding gradient's product stored
#   untransposed (transpose-results=false), and with a stream created and
#   destroyed for every stretch of kernels
#   instead of the runtime's pool (AUTOPAR_CUDA_STREAM_POOL=0), and with
#   the fused attention's blocks head-major
#   (AUTOPAR_CUDA_ATTENTION_ORDER=head); each
#   variant's losses must stay within 2e-2 of the default's (prepare.sh
#   lists the variants earlier runs timed; the WMMA attention kernels,
#   cuBLASLt and the runtime without padding, timed 1.28-1.33x,
#   0.98-1.00x and 1.33-1.34x in runs 14-15, are no longer timed).
# profile: 3 of those steps again (fp32, then bf16) with
#   AUTOPAR_CUDA_PROFILE=1: the GPU time of every kernel and cuBLAS call in
#   steps 2 and 3 (the first loads cuBLAS's kernels), the costliest first,
#   then summed by op (bench/gpu/profile_by_op.py); then bf16 with
#   AUTOPAR_CUDA_PROFILE=sync (each span alone on an idle device).
# torch: the same model and batch in PyTorch (bench/gpu/torch_gpt.py) with
#   torch.compile, fp32 (TF32 off) and bf16 autocast, in the same run; then
#   the ratios of autopar's tokens/s to each.
# Each part runs under a time limit; the exit status is 1 if any failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/gpu-check
if [ ! -x "$dir/aot_train" ]; then
  echo "gpu-check/ is missing: run bench/gpu/prepare.sh first (on the build machine)" >&2
  exit 1
fi
parts=${*:-basics small gpt2 profile torch}
want() { [[ " $parts " == *" $1 "* ]]; }
export LD_LIBRARY_PATH=$dir
# prepare.sh gzips the large libraries (the device tool carries 64 MiB).
for f in "$dir"/*.so.gz; do
  [ -e "$f" ] && gunzip -f "$f"
done
n=$(sed -n 's/^n=//p' "$dir/params")
s=$(sed -n 's/^s=//p' "$dir/params")
status=0
trap 'echo "run.sh: $SECONDS s"' EXIT
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
if want basics; then
  echo "== CUDA runtime unit tests"
  timeout 60 "$dir/CudaRuntimeTest" --gtest_brief=1 || status=1
  echo "== the same GEMM tests with the products through cuBLASLt (AUTOPAR_CUDA_GEMM=lt)"
  AUTOPAR_CUDA_GEMM=lt timeout 60 "$dir/CudaRuntimeTest" --gtest_brief=1 \
    --gtest_filter='*Gemm*' || status=1
  echo "== NCCL communicator (one-rank sum and mean; a missing peer times out)"
  timeout 60 "$dir/CollectivesTest" --gtest_brief=1 || status=1
  echo "== fused attention kernels: emulated, then on the GPU, against double"
  if ! timeout 120 "$dir/AttentionKernelTest" --gtest_brief=1; then
    status=1
    # A wrong register-layout assumption in the mma.sync kernels shows here
    # first: if run 12's WMMA kernels still pass, the rest of the run uses
    # them, so that it still measures everything else.
    if timeout 60 "$dir/AttentionKernelTest" --gtest_brief=1 \
        --gtest_filter='*OnTheGPUWmma*'; then
      export AUTOPAR_CUDA_ATTENTION=wmma
      echo "FAIL: the mma.sync attention kernels; the rest of this run uses the WMMA ones (AUTOPAR_CUDA_ATTENTION=wmma)"
    fi
  fi
  echo "== fused attention at gpt2-small's shape (8 x 12 heads, 1024 positions, head size 64, causal, bf16): the mma.sync kernels (16 and 32 query rows a warp; blocks tile-major, then head-major) and the WMMA ones, then PyTorch's scaled_dot_product_attention"
  timeout 60 "$dir/attention_bench" 96 1024 64 20 | tee "$dir/attention.log" \
    || { echo "FAIL: attention_bench"; status=1; }
  grep '^{' "$dir/attention.log" > "$dir/attention.json"
  timeout 90 python3 "$root/bench/gpu/attention_torch.py" 96 1024 64 20 \
    2>"$dir/attention-torch.err" | tee "$dir/attention-torch.json"
  python3 - "$dir" <<'PY' || true
import json, sys
d = sys.argv[1]
try:
    a = json.load(open(f"{d}/attention.json"))
    t = json.load(open(f"{d}/attention-torch.json"))
except (OSError, ValueError) as e:
    sys.exit(f"attention: no figure to compare ({e}; PyTorch's run: "
             f"{open(f'{d}/attention-torch.err').read()[-300:]})")
for what in ("forward", "backward"):
    print(f"attention {what}: autopar (mma) {a[what + '_ms']:.3f} ms, "
          f"(mma2) {a['mma2_' + what + '_ms']:.3f} ms, "
          f"(wmma) {a['wmma_' + what + '_ms']:.3f} ms, PyTorch SDPA "
          f"{t[what + '_ms']:.3f} ms; PyTorch / autopar (mma) = "
          f"{t[what + '_ms'] / a[what + '_ms']:.2f}")
    if "head_" + what + "_ms" in a:
        print(f"attention {what} with the blocks head-major: "
              f"{a['head_' + what + '_ms']:.3f} ms; head-major / tile-major "
              f"= {a['head_' + what + '_ms'] / a[what + '_ms']:.2f}")
PY
  echo "== the finiteness test of fp16 gradients: emulated, then on the GPU"
  timeout 60 "$dir/FiniteKernelTest" --gtest_brief=1 || status=1
  echo "== the gradient accumulation kernels: emulated, then on the GPU, against the host's arithmetic"
  timeout 60 "$dir/AccumulateKernelTest" --gtest_brief=1 || status=1
  echo "== gelu(a * b) lowered by autopar-lower-to-cuda, n=$n"
  timeout 60 "$dir/aot_check" gelu_mul "$dir/libgelu_mul.so" "$n" || status=1
  echo "== gelu(x w), ${s}x${s} times ${s}x${s}"
  out=$(timeout 60 "$dir/aot_check" linear_gelu "$dir/liblinear_gelu.so" "$s" "$s" "$s")
  rc=$?
  echo "$out"
  if [ $rc -ne 0 ]; then
    echo "FAIL: aot_check linear_gelu (exit status $rc)"
    status=1
  fi
  ours=$(echo "$out" | sed -n 's/.* \([0-9.]*\) TFLOP\/s.*/\1/p')
  theirs=$(timeout 120 python3 - "$s" <<'PY' 2>"$dir/torch-eager.err"
import sys, time, torch
s = int(sys.argv[1])
torch.backends.cuda.matmul.allow_tf32 = False
x = torch.randn(s, s, device="cuda")
w = torch.randn(s, s, device="cuda")
f = lambda: torch.nn.functional.gelu(x @ w)
for _ in range(3):
    f()
torch.cuda.synchronize()
t0 = time.perf_counter()
for _ in range(20):
    f()
torch.cuda.synchronize()
print(f"{2 * s**3 / ((time.perf_counter() - t0) / 20) / 1e12:.2f}")
PY
  )
  if [ -n "$ours" ] && [ -n "$theirs" ]; then
    awk -v a="$ours" -v t="$theirs" 'BEGIN { printf "linear_gelu: autopar %.2f TFLOP/s, PyTorch (eager, fp32) %.2f TFLOP/s, ratio %.2f\n", a, t, a / t }'
  else
    echo "linear_gelu: no figure to compare (PyTorch's run: $(tail -c 300 "$dir/torch-eager.err"))"
  fi
  for shape in "qkv 8192 768 2304" "up 8192 768 3072"; do
    set -- $shape
    echo "== gelu(x w) at gpt2-small's $1 shape, $2x$3 times $3x$4"
    timeout 60 "$dir/aot_check" linear_gelu "$dir/liblinear_$1.so" "$2" "$3" "$4" \
      || { echo "FAIL: aot_check linear_$1"; status=1; }
  done
  echo "== a 2-layer zoo GPT's loss on the GPU against the CPU backend"
  timeout 60 "$dir/aot_loss" --device "$dir/libsmall.so" \
    "$dir/loss-args/args.txt" "$(cat "$dir/expected-loss")" || status=1
fi
# train NAME STEPS SECONDS [EXPECTED]: aot_train on gpu-check/libNAME.so;
# its JSON line goes to gpu-check/NAME.json (or $TRAIN_AS.json).
train() {
  local as=${TRAIN_AS:-$1}
  AOT_TRAIN_MAX_SECONDS=$(($3 / 2)) timeout "$3" "$dir/aot_train" --device \
    "$dir/lib$1.so" "$dir/$1.txt" "$2" ${4:+"$4"} | tee "$dir/$as.log"
  local rc=$?
  tail -1 "$dir/$as.log" | grep '^{' > "$dir/$as.json"
  if [ $rc -ne 0 ]; then
    echo "FAIL: aot_train $1 (exit status $rc)"
    return 1
  fi
}
# sanitize NAME: 2 steps of libNAME.so under compute-sanitizer's memcheck,
# where a comparison failed.
sanitize() {
  if command -v compute-sanitizer >/dev/null; then
    echo "-- compute-sanitizer (memcheck), 2 steps of $1:"
    timeout 120 compute-sanitizer --tool memcheck --print-limit 10 \
      "$dir/aot_train" --device "$dir/lib$1.so" "$dir/$1.txt" 2 2>&1 | head -60
  fi
}
if want small; then
  echo "== the 2-layer GPT trained 20 steps on the GPU against the CPU backend"
  if ! AOT_TRAIN_DUMP_GRADS=$dir/small-grads.bin train small 20 45 "$dir/expected-small"; then
    status=1
    echo "-- the first step's gradients against the CPU's:"
    python3 "$root/bench/gpu/compare_grads.py" "$dir/small.txt" \
      "$dir/small-grads.bin" "$dir/expected-small-grads.bin"
    sanitize small
  fi
  echo "== the same with the gradients averaged by a one-process NCCL communicator (AOT_TRAIN_NCCL=1: autopar-run's data-parallel path on GPUs)"
  AOT_TRAIN_NCCL=1 TRAIN_AS=small-nccl train small 20 45 "$dir/expected-small" \
    || status=1
  echo "== the same with the gradients of 2 microbatches accumulated on the GPU (AOT_TRAIN_ACCUM=2: autopar-run's --grad-accum on GPUs; the mean of two equal gradients is exact)"
  AOT_TRAIN_ACCUM=2 TRAIN_AS=small-accum train small 20 45 "$dir/expected-small" \
    || status=1
  echo "== the same with its f32 products through cuBLASLt (AUTOPAR_CUDA_GEMM=lt)"
  AUTOPAR_CUDA_GEMM=lt TRAIN_AS=small-lt train small 20 45 "$dir/expected-small" \
    || status=1
  echo "== the same compiled with a block per row in the row kernels (warp-row-length=0; the default gives rows of up to 1024 elements a warp each)"
  train small-blockrows 20 45 "$dir/expected-small" || status=1
fi
if want small; then
  echo "== the 2-layer GPT in bf16 trained 20 steps on the GPU against the CPU backend's bf16"
  # Both sides round the same products' operands to bf16: runs 5-7 differed
  # by 1.5e-4 to 2.3e-4 (the order of the f32 sums), so 1e-3, not 2e-2.
  AOT_TRAIN_TOLERANCE=1e-3 train small-bf16 20 45 "$dir/expected-small-bf16" || status=1
  echo "== the same with its products (batched ones among them: heads of 16 have no fused attention) through cuBLASLt (AUTOPAR_CUDA_GEMM=lt)"
  AUTOPAR_CUDA_GEMM=lt AOT_TRAIN_TOLERANCE=1e-3 TRAIN_AS=small-bf16-lt \
    train small-bf16 20 45 "$dir/expected-small-bf16" || status=1
  echo "== a GPT with heads of 32 in bf16: fused attention kernels on the GPU, the decomposition on the CPU"
  # Not the same roundings (the kernels keep the scores in f32 and round
  # the probabilities before normalizing): 2e-2, as against PyTorch.
  if ! AOT_TRAIN_TOLERANCE=2e-2 train small-fa 20 45 "$dir/expected-small-fa"; then
    status=1
    sanitize small-fa
  fi
  echo "== the 2-layer GPT in fp16 with a dynamic loss scale (from 2^20, window 3) against the CPU backend's fp16"
  # The same steps skipped, the applied steps' losses within 1e-3.
  AOT_TRAIN_TOLERANCE=1e-3 train small-fp16 20 45 "$dir/expected-small-fp16" \
    || status=1
fi
if want small; then
  echo "== a small GPT exported from torch, trained 20 steps on the GPU against the CPU backend"
  train torch-gpt 20 45 "$dir/expected-torch-gpt" || status=1
  echo "== the same GPT with bf16 products against PyTorch's bf16 autocast on this GPU"
  if timeout 60 python3 "$root/bench/gpu/torch_gpt_ref.py" "$dir/torch-gpt-state.npz" \
      "$dir/torch-gpt-bf16-ids.bin" "$dir/torch-gpt-bf16-labels.bin" 20 --bf16 \
      > "$dir/expected-torch-gpt-bf16"; then
    AOT_TRAIN_TOLERANCE=2e-2 train torch-gpt-bf16 20 45 \
      "$dir/expected-torch-gpt-bf16" || status=1
  else
    echo "FAIL: PyTorch's bf16 reference (bench/gpu/torch_gpt_ref.py) did not run"
    status=1
  fi
fi
if want gpt2; then
  echo "== gpt2-small, batch 1 x 1024: 3 steps against the CPU backend"
  train gpt2-b1 3 120 "$dir/expected-gpt2-b1" || status=1
  echo "== gpt2-small, batch 8 x 1024: 20 steps, timed"
  train gpt2-b8 20 120 || status=1
  echo "== gpt2-small, batch 8 x 1024, bf16 products: 20 steps, timed"
  train gpt2-b8-bf16 20 120 || status=1
  echo "== the same with the vocabulary products padded by the runtime's copies (pad-products=false): 10 steps, timed"
  train gpt2-b8-bf16-copied 10 120 || status=1
  echo "== the same with the column sums' siblings in kernels of their own (column-siblings=false): 10 steps, timed"
  train gpt2-b8-bf16-nosiblings 10 120 || status=1
  echo "== the same with each independent elementwise kernel launched on its own (fuse-launches=false): 10 steps, timed"
  train gpt2-b8-bf16-separate 10 120 || status=1
  echo "== the same with the elementwise kernels reading and writing one element at a time (vector-bytes=0): 10 steps, timed"
  train gpt2-b8-bf16-scalar 10 120 || status=1
  echo "== batch 8 in bf16 with a stream created and destroyed for each stretch of kernels (AUTOPAR_CUDA_STREAM_POOL=0): 10 steps, timed"
  AUTOPAR_CUDA_STREAM_POOL=0 TRAIN_AS=gpt2-b8-bf16-nopool train gpt2-b8-bf16 10 120 \
    || status=1
  echo "== batch 8 in bf16 with the fused attention's blocks head-major (AUTOPAR_CUDA_ATTENTION_ORDER=head): 10 steps, timed"
  AUTOPAR_CUDA_ATTENTION_ORDER=head TRAIN_AS=gpt2-b8-bf16-headorder \
    train gpt2-b8-bf16 10 120 || status=1
fi
if [ -s "$dir/gpt2-b8-bf16.json" ]; then
  # Padding changes which cuBLAS kernels sum the products; recomputing a
  # producer changes no arithmetic. The fused attention's dq atomics make
  # the last bits of every run differ, hence a tolerance.
  python3 - "$dir" <<'PY' || status=1
import json, os, sys
d = sys.argv[1]
a = json.load(open(f"{d}/gpt2-b8-bf16.json"))["losses"]
ok = True
for name, what in (("unpadded", "without padding"),
                   ("copied", "with the runtime's padded copies"),
                   ("nosiblings", "with the column sums' siblings apart"),
                   ("notranspose", "with the product untransposed"),
                   ("separate", "with the kernels launched apart"),
                   ("scalar", "with one element at a time"),
                   ("stored", "with the cheap producers stored"),
                   ("blockrows", "with a block per row"),
                   ("longrows256", "with blocks of 256 for long rows"),
                   ("liberf", "with libdevice's erf"),
                   ("mma2", "with 32 query rows a warp in attention"),
                   ("nopool", "without the stream pool"),
                   ("headorder", "with the attention's blocks head-major"),
                   ("wmma", "with the WMMA attention kernels"),
                   ("lt", "with the products through cuBLASLt")):
    p = f"{d}/gpt2-b8-bf16-{name}.json"
    if not os.path.exists(p) or not os.path.getsize(p):
        continue
    b = json.load(open(p))["losses"]
    n = min(len(a), len(b))
    worst = max(abs(x - y) / abs(y) for x, y in zip(a[:n], b[:n]))
    good = worst <= 2e-2
    ok &= good
    print(f"{'PASS' if good else 'FAIL'}: gpt2-small bf16's {n} losses, "
          f"then {what}: worst relative difference {worst:.2e} "
          f"(tolerance 2e-2)")
sys.exit(0 if ok else 1)
PY
fi
if want profile; then
  for name in gpt2-b8 gpt2-b8-bf16; do
    echo "== $name: where steps 2 and 3 spend the GPU's time"
    # The 60 costliest kernels and calls, each kernel's #N annotated with
    # the op it comes from where prepare.sh mapped them (kernels-NAME.txt),
    # then the time summed by op; every kernel's line is kept in
    # profile-NAME.log (results.tgz) for sessions without a GPU.
    AUTOPAR_CUDA_PROFILE=1 AOT_TRAIN_PROFILE_TOP=100000 timeout 120 \
      "$dir/aot_train" --device "$dir/lib$name.so" "$dir/$name.txt" 3 \
      | grep -v '^{' | tee "$dir/profile-$name.log" \
      | python3 "$root/bench/gpu/profile_by_op.py" \
        "$dir/kernels-$name.txt" 60 || status=1
  done
  # Each kernel and cuBLAS call again, alone on an idle device
  # (AUTOPAR_CUDA_PROFILE=sync): what it costs without what was queued
  # before it or runs beside it (run 7: the qkv product took 5.4 ms a call
  # in the step and 0.75 ms alone in gelu(x w) at its shape).
  echo "== gpt2-b8-bf16, each span alone on an idle device"
  AUTOPAR_CUDA_PROFILE=sync AOT_TRAIN_PROFILE_TOP=20 timeout 120 \
    "$dir/aot_train" --device "$dir/libgpt2-b8-bf16.so" \
    "$dir/gpt2-b8-bf16.txt" 3 | grep -v '^{' || status=1
fi
if want torch; then
  for dtype in fp32 bf16; do
    echo "== PyTorch (torch.compile, $dtype), gpt2-small, batch 8 x 1024"
    PYTHONUNBUFFERED=1 timeout 90 python3 "$root/bench/gpu/torch_gpt.py" \
      --batch 8 --dtype $dtype --compile --steps 20 --seconds 6 2>/dev/null \
      | grep '^{' | tee "$dir/torch-$dtype.json" || status=1
  done
fi
if [ -s "$dir/gpt2-b8.json" ]; then
  python3 - "$dir" <<'PY'
import json, os, sys
d = sys.argv[1]
runs = {}
for dtype, name in (("fp32", "gpt2-b8"), ("bf16", "gpt2-b8-bf16")):
    p = f"{d}/{name}.json"
    if os.path.exists(p) and os.path.getsize(p):
        runs[dtype] = json.load(open(p))
        r = runs[dtype]
        print(f"autopar ({dtype}): {r['tokens_per_s']:.0f} tokens/s, "
              f"{r['step_ms']:.1f} ms/step, MFU {100 * r['mfu']:.2f}%")
for name, what in (("unfused", "without autopar-fuse-rows"),
                   ("onerow", "with one row per thread"),
                   ("rolled", "with rolled row loops"),
                   ("rows8", "with 8 rows per thread"),
                   ("t128", "with blocks of 128 threads"),
                   ("t512", "with blocks of 512 threads"),
                   ("stored", "with the cheap producers stored, not "
                    "recomputed"),
                   ("blockrows", "with a block per row in the row kernels "
                    "(warp-row-length=0)"),
                   ("longrows256", "with blocks of 256 threads for long "
                    "rows (long-row-threads=0)"),
                   ("liberf", "with libdevice's erf (approximate-erf=false)"),
                   ("unpadded", "without padding the odd bf16 products"),
                   ("copied", "with the vocabulary products padded by the "
                    "runtime's copies (pad-products=false)"),
                   ("nosiblings", "with the column sums' siblings in "
                    "kernels of their own (column-siblings=false)"),
                   ("notranspose", "with the embedding gradient's product "
                    "not transposed (transpose-results=false)"),
                   ("separate", "with each independent elementwise kernel "
                    "launched on its own (fuse-launches=false)"),
                   ("scalar", "with the elementwise kernels one element "
                    "at a time (vector-bytes=0)"),
                   ("mma2", "with 32 query rows a warp in attention"),
                   ("nopool", "without the stream pool "
                    "(AUTOPAR_CUDA_STREAM_POOL=0)"),
                   ("headorder", "with the fused attention's blocks "
                    "head-major (AUTOPAR_CUDA_ATTENTION_ORDER=head)"),
                   ("wmma", "with the WMMA attention kernels"),
                   ("lt", "with the products through cuBLASLt")):
    p = f"{d}/gpt2-b8-bf16-{name}.json"
    if "bf16" in runs and os.path.exists(p) and os.path.getsize(p):
        u, ms = json.load(open(p))["step_ms"], runs["bf16"]["step_ms"]
        print(f"autopar (bf16) {what}: {u:.1f} ms/step; the default "
              f"{ms:.1f}: {u / ms:.2f}x")
for dtype in ("fp32", "bf16"):
    p = f"{d}/torch-{dtype}.json"
    if dtype in runs and os.path.exists(p) and os.path.getsize(p):
        t = json.load(open(p))
        print(f"torch.compile ({dtype}): {t['tokens_per_s']:.0f} tokens/s, "
              f"{t['step_ms']:.1f} ms/step, MFU {100 * t['mfu']:.2f}%; "
              f"autopar / torch.compile ({dtype}) = "
              f"{runs[dtype]['tokens_per_s'] / t['tokens_per_s']:.3f}")
PY
fi
exit $status
