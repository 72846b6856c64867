#!/usr/bin/env bash
# Builds, on this machine, what the GPU device check runs: the device
# machines have CUDA but no LLVM, MLIR or network. Writes gpu-check/ (git
# ignored, 18 MB with the gpt2-small libraries gzipped; carry it to
# the device machine):
#   CudaRuntimeTest        the runtime's unit tests (kernel test runs on a GPU)
#   CollectivesTest        the NCCL communicator's (its GPU tests: a one-rank
#                          sum and mean, a missing peer's timeout)
#   AttentionKernelTest    the fused attention kernels (runtime/cuda/
#                          Attention.cu) emulated on the CPU, and on the GPU
#                          through the runtime, against a double reference
#   FiniteKernelTest       the finiteness test of fp16 gradients (runtime/
#                          cuda/Finite.cu), emulated and on the GPU
#   AccumulateKernelTest   the gradient accumulation kernels (runtime/cuda/
#                          Accumulate.cu), emulated and on the GPU
#   libgelu_mul.so         gelu(a * b) on N floats
#   liblinear_gelu.so      gelu(x w), x: S x S, w: S x S (the product through
#                          cuBLAS)
#   liblinear_qkv.so, liblinear_up.so   the same at gpt2-small's qkv and MLP
#                          shapes (8192 x 768 times 768 x 2304, x 3072)
#   aot_check              runs them on the GPU against the host, and times them
#   attention_bench        times the fused attention kernels (mma.sync and
#                          WMMA) at a given shape (bench/gpu/attention_bench.cpp)
#   libsmall.so            a 2-layer zoo GPT's training step compiled by
#                          autopar-compile --target=cuda (batch 2 x 32), with
#   loss-args/, expected-loss   its @loss's arguments for 2 sequences of
#                          examples/gpt as raw files, the CPU backend's loss
#   small.txt, expected-small   what aot_train needs to train it 20 steps,
#                          and the CPU backend's 20 losses (autopar-run)
#   libsmall-blockrows.so, small-blockrows.txt   the same GPT compiled with a
#                          block per row in the row kernels
#                          (warp-row-length=0)
#   libsmall-bf16.so, small-bf16.txt, expected-small-bf16   the same GPT with
#                          --precision=bf16 (products through cuBLAS's bf16
#                          GEMM) and a vocabulary of 131 (its products run
#                          on buffers padded to 136, the embedding's
#                          gradient stored transposed), and the CPU
#                          backend's 20 bf16 losses
#   libsmall-fa.so, small-fa.txt, expected-small-fa   a GPT with head size 32
#                          in bf16: its attention runs as the fused kernels
#                          (the CPU decomposes it), and the CPU's 20 losses
#   libsmall-fp16.so, small-fp16.txt, expected-small-fp16   the first GPT
#                          in fp16 with a dynamic loss scale from 2^20, and
#                          the CPU backend's losses of its applied steps
#   expected-small-grads.bin    its first step's gradients on the CPU
#   libtorch-gpt.so, torch-gpt.txt, torch-gpt-w*.bin, expected-torch-gpt
#                          a small GPT exported from torch to ONNX
#                          (bench/gpu/torch_gpt_export.py), its weights, and
#                          the CPU backend's 20 losses
#   libtorch-gpt-bf16.so, torch-gpt-bf16.txt, torch-gpt-state.npz   the same
#                          with --precision=bf16, and its initial weights for
#                          PyTorch's reference on the device
#                          (bench/gpu/torch_gpt_ref.py)
#   libgpt2-b1.so, gpt2-b1.txt, expected-gpt2-b1   zoo:gpt2-small (124M, seq
#                          1024), batch 1: the step as a cubin library and
#                          the CPU backend's first 3 losses on the same batch
#   libgpt2-b8.so, gpt2-b8.txt   the same model at batch 8 (timed; the loss
#                          must fall); kernels-gpt2-b8.txt: the op each of
#                          its kernels comes from (bench/gpu/kernel_map.py)
#   libgpt2-b8-bf16.so, gpt2-b8-bf16.txt, kernels-gpt2-b8-bf16.txt   batch 8
#                          with --precision=bf16 (run.sh also times it
#                          without padding its odd products)
#   libgpt2-b8-bf16-unfused.so, gpt2-b8-bf16-unfused.txt   the same without
#                          autopar-fuse-rows (run.sh times both)
#   libgpt2-b8-bf16-copied.so, gpt2-b8-bf16-copied.txt   with the odd
#                          vocabulary products padded by the runtime's
#                          copies instead of on padded buffers
#                          (pad-products=false)
#   libgpt2-b8-bf16-nosiblings.so, gpt2-b8-bf16-nosiblings.txt   with each
#                          column sum's siblings (elementwise ops and other
#                          column sums) in kernels of their own
#                          (column-siblings=false)
#   libgpt2-b8-bf16-separate.so, gpt2-b8-bf16-separate.txt   with each
#                          independent elementwise kernel launched on its
#                          own (fuse-launches=false)
#   libgpt2-b8-bf16-scalar.so, gpt2-b8-bf16-scalar.txt   with the
#                          elementwise kernels reading and writing one
#                          element at a time (vector-bytes=0)
#   aot_loss, aot_train    the drivers
#   libautopar_cuda_runtime.so
# The gpt2-small libraries travel gzipped (run.sh unpacks them): the
# device tool carries at most 64 MiB.
# Each small function is lowered by autopar-lower-to-cuda (sm_90 PTX inside)
# and its host code compiled with llc; the training steps by
# autopar-compile --target=cuda (gpt2-small's kernels as cubins, compiled
# here by ptxas: no minute of PTX compilation on the device). Takes about
# 5 minutes (the CPU backend's gpt2-small steps are most of it).
# usage: bench/gpu/prepare.sh [N [S]]   (default 16777216 2048)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-16777216}
s=${2:-2048}
build=$root/build
out=$root/gpu-check
llvm=/usr/lib/llvm-22/bin
ninja -C "$build" autopar-opt autopar-compile autopar-run autopar_cuda_runtime \
  CudaRuntimeTest CollectivesTest AttentionKernelTest FiniteKernelTest \
  AccumulateKernelTest >/dev/null
rm -rf "$out" && mkdir -p "$out"
cp "$build/lib/libautopar_cuda_runtime.so" "$build/unittests/CudaRuntimeTest" \
  "$build/unittests/CollectivesTest" "$build/unittests/AttentionKernelTest" \
  "$build/unittests/FiniteKernelTest" "$build/unittests/AccumulateKernelTest" \
  "$out/"
# compile NAME SED-SCRIPT [LIB]: bench/gpu/NAME.mlir.in -> gpu-check/libLIB.so
# (LIB defaults to NAME)
compile() {
  local lib=${3:-$1}
  sed "$2" "$root/bench/gpu/$1.mlir.in" > "$out/$lib.mlir"
  "$build/bin/autopar-opt" "$out/$lib.mlir" --autopar-lower-to-cuda \
    | "$llvm/mlir-translate" --mlir-to-llvmir -o "$out/$lib.ll"
  "$llvm/llc" -O2 -filetype=obj -relocation-model=pic "$out/$lib.ll" \
    -o "$out/$lib.o"
  c++ -shared -o "$out/lib$lib.so" "$out/$lib.o" -L"$out" \
    -lautopar_cuda_runtime -Wl,-rpath,'$ORIGIN' -Wl,--no-undefined
  rm -f "$out/$lib.o" "$out/$lib.ll"
}
compile gelu_mul "s/@N@/$n/g"
compile linear_gelu "s/@M@/$s/g; s/@K@/$s/g; s/@N@/$s/g"
# gpt2-small's qkv projection (8192 x 768 times 768 x 2304) and MLP up
# projection (768 x 3072), alone: in the training step (run 6) the first
# took 4.4 ms a call and the second 0.9.
compile linear_gelu "s/@M@/8192/g; s/@K@/768/g; s/@N@/2304/g" linear_qkv
compile linear_gelu "s/@M@/8192/g; s/@K@/768/g; s/@N@/3072/g" linear_up
c++ -O2 -std=c++17 -I"$root/runtime/cuda" "$root/bench/gpu/aot_check.cpp" \
  -o "$out/aot_check" -L"$out" -lautopar_cuda_runtime -ldl \
  -Wl,-rpath,'$ORIGIN'
c++ -O2 -std=c++17 -Wall -Werror -I"$root/runtime/cuda" \
  "$root/bench/gpu/attention_bench.cpp" -o "$out/attention_bench" \
  -L"$out" -lautopar_cuda_runtime -Wl,-rpath,'$ORIGIN'
# The small GPT: its training artifact compiled with --target=cuda (the
# step as a GPU library), inputs, the CPU backend's loss and 20 training
# losses, @loss's arguments as raw files.
gpt=$out/gpt
"$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' \
  --train --batch=2 --target=cuda -o "$gpt" >/dev/null
cp "$gpt/train-cuda.so" "$out/libsmall.so"
/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[3], np.load(sys.argv[1])[:2]); np.save(sys.argv[4], np.load(sys.argv[2])[:2])" \
  "$root/examples/gpt/tokens.npy" "$root/examples/gpt/next.npy" \
  "$gpt/ids.npy" "$gpt/labels.npy"
"$build/bin/autopar-run" "$gpt/train.mlir" --entry=loss --input="$gpt/ids.npy" \
  --input="$gpt/labels.npy" --weights="$gpt/weights.safetensors" --print \
  | tail -1 > "$out/expected-loss"
mkdir -p "$out/loss-args"
/usr/bin/python3 "$root/bench/gpu/loss_args.py" "$gpt/train.mlir" \
  "$gpt/weights.safetensors" "$gpt/ids.npy" "$gpt/labels.npy" "$out/loss-args"
# losses STEPS MODEL BATCH IDS LABELS FILE [FLAG...]: the CPU backend's
# losses, one a line, training MODEL's CPU artifact (the same initial
# weights: same seed), compiled with the FLAGs (such as --precision=bf16);
# a step skipped for a loss scale that overflowed has none.
losses() {
  "$build/bin/autopar-compile" "$2" --train --batch="$3" "${@:7}" \
    -o "$out/cpu" >/dev/null
  "$build/bin/autopar-run" "$out/cpu" --data="$4" --labels="$5" --steps="$1" \
    --log="$out/cpu/log.jsonl" >/dev/null 2>&1
  /usr/bin/python3 -c "import json, sys; [print(repr(d['loss'])) for d in map(json.loads, open(sys.argv[1])) if 'loss' in d]" \
    "$out/cpu/log.jsonl" > "$6"
  rm -rf "$out/cpu"
}
losses 20 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' 2 \
  "$gpt/ids.npy" "$gpt/labels.npy" "$out/expected-small"
/usr/bin/python3 "$root/bench/gpu/train_spec.py" "$gpt" "$gpt/ids.npy" \
  "$gpt/labels.npy" "$out" small
# The same with a block per row in the row kernels (warp-row-length=0, as
# before the warp-per-row kernels): where `small` fails and this passes,
# the warps are why.
"$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' \
  --train --batch=2 --target=cuda --cuda-lowering-options="warp-row-length=0" \
  -o "$gpt/blockrows" >/dev/null
cp "$gpt/blockrows/train-cuda.so" "$out/libsmall-blockrows.so"
/usr/bin/python3 "$root/bench/gpu/train_spec.py" "$gpt/blockrows" "$gpt/ids.npy" \
  "$gpt/labels.npy" "$out" small-blockrows
# The same in bf16: the GPU's products through cuBLAS's bf16 GEMM, the
# CPU's on widened operands: equal but for the order of the f32 sums. A
# vocabulary of 131, not a multiple of 8: the GPU runs the vocabulary's
# products on padded buffers (autopar-pad-products) and stores the
# embedding gradient's product transposed.
"$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=131,seq=32' \
  --train --batch=2 --target=cuda --precision=bf16 -o "$gpt/bf16" >/dev/null
cp "$gpt/bf16/train-cuda.so" "$out/libsmall-bf16.so"
losses 20 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=131,seq=32' 2 \
  "$gpt/ids.npy" "$gpt/labels.npy" "$out/expected-small-bf16" --precision=bf16
/usr/bin/python3 "$root/bench/gpu/train_spec.py" "$gpt/bf16" "$gpt/ids.npy" \
  "$gpt/labels.npy" "$out" small-bf16
# Two heads of 32: the GPU runs each attention and its gradient as the fused
# kernels (--fused-attention, on by default in bf16 with --target=cuda),
# the CPU its decomposition (other roundings: the scores stay f32).
"$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=2,vocab=128,seq=32' \
  --train --batch=2 --target=cuda --precision=bf16 -o "$gpt/fa" >/dev/null
# (the step's gradient reads the log-sum-exp its forward call saved: _lse)
if ! nm -D "$gpt/fa/train-cuda.so" | grep -E 'autopar_cuda_attention_backward_(lse_)?bf16' >/dev/null; then
  echo "prepare.sh: the heads-of-32 GPT does not call the fused attention kernels" >&2
  exit 1
fi
cp "$gpt/fa/train-cuda.so" "$out/libsmall-fa.so"
losses 20 'zoo:gpt:layers=2,hidden=64,heads=2,vocab=128,seq=32' 2 \
  "$gpt/ids.npy" "$gpt/labels.npy" "$out/expected-small-fa" --precision=bf16
/usr/bin/python3 "$root/bench/gpu/train_spec.py" "$gpt/fa" "$gpt/ids.npy" \
  "$gpt/labels.npy" "$out" small-fa
# In fp16 with a dynamic loss scale from 2^20 (window 3): the first steps
# overflow and are skipped, on the GPU as on the CPU.
fp16=(--precision=fp16 --loss-scale-init=1048576 --loss-scale-window=3)
"$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' \
  --train --batch=2 --target=cuda "${fp16[@]}" -o "$gpt/fp16" >/dev/null
cp "$gpt/fp16/train-cuda.so" "$out/libsmall-fp16.so"
losses 20 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' 2 \
  "$gpt/ids.npy" "$gpt/labels.npy" "$out/expected-small-fp16" "${fp16[@]}"
/usr/bin/python3 "$root/bench/gpu/train_spec.py" "$gpt/fp16" "$gpt/ids.npy" \
  "$gpt/labels.npy" "$out" small-fp16
for driver in aot_loss aot_train; do
  c++ -O2 -std=c++17 -I"$root/runtime/cuda" -I"$root/runtime/common" \
    "$root/bench/gpu/$driver.cpp" -o "$out/$driver" -L"$out" \
    -lautopar_cuda_runtime -ldl -Wl,-rpath,'$ORIGIN'
done
# The first step's gradients from the same step lowered for the CPU (as
# test/Pipelines/aot-train.test builds it): what the GPU's are compared
# with when its losses differ (bench/gpu/compare_grads.py).
"$build/bin/autopar-compile" 'zoo:gpt:layers=2,hidden=64,heads=4,vocab=128,seq=32' \
  --train --batch=2 -o "$gpt/cpu" >/dev/null
sed 's/^\(  func.func @\(forward_backward\|optimizer_step\)(.*\) {$/\1 attributes {llvm.emit_c_interface} {/' \
  "$gpt/cpu/train.mlir" > "$gpt/step.mlir"
"$build/bin/autopar-opt" "$gpt/step.mlir" --autopar-lower-to-cpu="out-params=true" \
  --autopar-packed-wrappers | "$llvm/mlir-translate" --mlir-to-llvmir -o "$gpt/step.ll"
"$llvm/llc" -O2 -filetype=obj -relocation-model=pic "$gpt/step.ll" -o "$gpt/step.o"
c++ -shared -o "$gpt/libstep_cpu.so" "$gpt/step.o" \
  "$build/runtime/cpu/libAutoParCPURuntime.a" -ldnnl \
  /usr/lib/llvm-22/lib/libmlir_c_runner_utils.so -Wl,-rpath,/usr/lib/llvm-22/lib
AOT_TRAIN_DUMP_GRADS="$out/expected-small-grads.bin" "$out/aot_train" --host \
  "$gpt/libstep_cpu.so" "$out/small.txt" 2 >/dev/null
rm -rf "$gpt"
# The small torch GPT of test/Integration/Training/torch_train_gpt.py,
# exported to ONNX (Debian's torch): its weights travel as files, its mask
# stays fixed (frozen); Adam, lr 0.003; 20 losses from the CPU backend.
tg=$out/torch-gpt
/usr/bin/python3 "$root/bench/gpu/torch_gpt_export.py" "$tg" 2>/dev/null
"$build/bin/autopar-compile" "$tg/gpt.onnx" --train --optimizer=adam --lr=0.003 \
  --target=cuda -o "$tg/cuda" 2>/dev/null >/dev/null
cp "$tg/cuda/train-cuda.so" "$out/libtorch-gpt.so"
/usr/bin/python3 "$root/bench/gpu/train_spec.py" "$tg/cuda" "$tg/ids.npy" \
  "$tg/labels.npy" "$out" torch-gpt
"$build/bin/autopar-compile" "$tg/gpt.onnx" --train --optimizer=adam --lr=0.003 \
  -o "$tg/cpu" 2>/dev/null >/dev/null
"$build/bin/autopar-run" "$tg/cpu" --data="$tg/ids.npy" --labels="$tg/labels.npy" \
  --steps=20 --log="$tg/log.jsonl" >/dev/null
/usr/bin/python3 -c "import json, sys; [print(repr(json.loads(l)['loss'])) for l in open(sys.argv[1]) if 'loss' in l]" \
  "$tg/log.jsonl" > "$out/expected-torch-gpt"
# In bf16, against PyTorch's bf16 autocast on the device from the same
# initial weights.
"$build/bin/autopar-compile" "$tg/gpt.onnx" --train --optimizer=adam --lr=0.003 \
  --target=cuda --precision=bf16 -o "$tg/bf16" 2>/dev/null >/dev/null
cp "$tg/bf16/train-cuda.so" "$out/libtorch-gpt-bf16.so"
/usr/bin/python3 "$root/bench/gpu/train_spec.py" "$tg/bf16" "$tg/ids.npy" \
  "$tg/labels.npy" "$out" torch-gpt-bf16
cp "$tg/state.npz" "$out/torch-gpt-state.npz"
rm -rf "$tg"
# gpt2-small: random tokens (seed 1), batch 8 for the timing, its first row
# for the check against the CPU backend.
/usr/bin/python3 -c "
import numpy as np, sys
t = np.random.default_rng(1).integers(0, 50257, size=(8, 1025)).astype(np.int64)
for b in (1, 8):
    np.save(f'{sys.argv[1]}/ids{b}.npy', t[:b, :-1])
    np.save(f'{sys.argv[1]}/labels{b}.npy', t[:b, 1:])" "$out"
# map_kernels NAME: which op of gpu-check/gpt2's step each kernel comes
# from (the profile's #N), into kernels-NAME.txt.
map_kernels() {
  "$build/bin/autopar-opt" "$out/gpt2/train.mlir" \
    --autopar-lower-to-cuda="host=false" --mlir-print-debuginfo \
    --mlir-print-local-scope > "$out/gpt2/lowered.mlir"
  /usr/bin/python3 "$root/bench/gpu/kernel_map.py" "$out/gpt2/lowered.mlir" \
    "$out/gpt2/train.mlir" > "$out/kernels-$1.txt"
}
# gpt2_bf16 NAME [FLAG...]: gpt2-small at batch 8 in bf16 compiled with
# FLAGs, as libNAME.so and NAME.txt.
gpt2_bf16() {
  local name=$1
  shift
  "$build/bin/autopar-compile" zoo:gpt2-small --train --batch=8 --target=cuda \
    --gpu-format=cubin --precision=bf16 "$@" -o "$out/gpt2" >/dev/null
  cp "$out/gpt2/train-cuda.so" "$out/lib$name.so"
  if [ "$name" = gpt2-b8-bf16 ]; then
    map_kernels "$name"
  fi
  /usr/bin/python3 "$root/bench/gpu/train_spec.py" "$out/gpt2" "$out/ids8.npy" \
    "$out/labels8.npy" "$out" "$name"
  rm -rf "$out/gpt2"
}
# The timing's other half; then, for run.sh to time in the same run, the
# same with the vocabulary products padded by the runtime's copies, with
# the column sums' siblings in kernels of their own, and with each
# independent elementwise kernel (an optimizer update per parameter, a
# rounding per weight) launched on its own, and with the elementwise
# kernels reading one element at a time instead of 16-byte vectors.
# Earlier runs
# timed the same way: without autopar-fuse-rows (runs 8-12: 1.17-1.28x),
# without the fused attention kernels (8-11: 1.11-1.14x), with f32 results
# from the bf16 products (10-11: 1.04-1.06x), one row per thread (12:
# 1.11x), rolled row loops (12: 1.03x), 8 rows per thread and blocks of 128
# or 512 threads (13: within the run-to-run spread), blocks of 256 threads
# for the long rows (14: 1.07x), the cheap producers stored (14-15:
# 1.04-1.08x), a block per row in the row kernels (14-15: 0.98-1.00x),
# libdevice's erf (15: 1.07x; 17, against the two-piece erf: 1.01x), the
# embedding gradient's product not transposed (18: 1.00x);
# `gpt2_bf16 NAME --cuda-lowering-options=...` brings one back.
gpt2_bf16 gpt2-b8-bf16
gpt2_bf16 gpt2-b8-bf16-copied --cuda-lowering-options="pad-products=false"
gpt2_bf16 gpt2-b8-bf16-nosiblings --cuda-lowering-options="column-siblings=false"
gpt2_bf16 gpt2-b8-bf16-separate --cuda-lowering-options="fuse-launches=false"
gpt2_bf16 gpt2-b8-bf16-scalar --cuda-lowering-options="vector-bytes=0"
for b in 1 8; do
  "$build/bin/autopar-compile" zoo:gpt2-small --train --batch=$b --target=cuda \
    --gpu-format=cubin -o "$out/gpt2" >/dev/null
  cp "$out/gpt2/train-cuda.so" "$out/libgpt2-b$b.so"
  if [ $b = 1 ]; then
    losses 3 zoo:gpt2-small 1 "$out/ids1.npy" "$out/labels1.npy" \
      "$out/expected-gpt2-b1"
  fi
  /usr/bin/python3 "$root/bench/gpu/train_spec.py" "$out/gpt2" "$out/ids$b.npy" \
    "$out/labels$b.npy" "$out" gpt2-b$b
  if [ $b = 8 ]; then
    map_kernels gpt2-b8
  fi
  rm -rf "$out/gpt2" "$out/ids$b.npy" "$out/labels$b.npy"
done
gzip -f "$out"/libgpt2-*.so
printf 'n=%s\ns=%s\n' "$n" "$s" > "$out/params"
du -sh "$out"
