"""Checks the CUDA pipeline's erf (autopar-approximate-math{erf-only}: two
branch-free polynomial pieces, lib/Conversion/CPU/ApproximateMath.cpp) on
the CPU against Python's math.erf (double precision), in units in the last
place of the f32 result: over [-6, 6] densely, tiny arguments down to
1e-30, the switch point 0.921875 and its neighbours, ±inf (±1) and NaN
(NaN). The module (one linalg.generic of math.erf) goes through
`autopar-opt --autopar-approximate-math{erf-only}`, then autopar-run, whose
CPU pipeline lowers math.fma to a fused multiply-add as the GPU does and
approximates math.exp2 with its own polynomial (a few ulp of the erfc part,
which is at most 0.19: a fraction of an ulp of erf).
usage: erf_two_pieces.py WORK MAX_ULP
"""

import math
import os
import subprocess
import sys

import numpy as np

MODULE = """
func.func @erf(%x: tensor<{n}xf32>) -> tensor<{n}xf32> attributes {{llvm.emit_c_interface}} {{
  %e = tensor.empty() : tensor<{n}xf32>
  %r = linalg.generic {{indexing_maps = [affine_map<(i) -> (i)>, affine_map<(i) -> (i)>], iterator_types = ["parallel"]}} ins(%x : tensor<{n}xf32>) outs(%e : tensor<{n}xf32>) {{
  ^bb0(%a: f32, %o: f32):
    %v = math.erf %a : f32
    linalg.yield %v : f32
  }} -> tensor<{n}xf32>
  return %r : tensor<{n}xf32>
}}
"""


def main(argv):
    work, max_ulp = argv[1], float(argv[2])
    os.makedirs(work, exist_ok=True)
    switch = np.float32(0.921875)
    x = np.concatenate([
        np.linspace(-6, 6, 200001, dtype=np.float32),
        np.geomspace(1e-30, 1e-3, 2000).astype(np.float32),
        -np.geomspace(1e-30, 1e-3, 2000).astype(np.float32),
        [np.nextafter(switch, np.float32(0)), switch,
         np.nextafter(switch, np.float32(2)), np.float32(3.92),
         np.float32(0), np.float32(-0.0)],
    ]).astype(np.float32)
    special = np.array([np.inf, -np.inf, np.nan], dtype=np.float32)
    x = np.concatenate([x, special])
    with open(os.path.join(work, "erf.mlir"), "w") as f:
        f.write(MODULE.format(n=x.size))
    np.save(os.path.join(work, "x.npy"), x)
    subprocess.run(["autopar-opt", os.path.join(work, "erf.mlir"),
                    "--pass-pipeline=builtin.module(func.func("
                    "autopar-approximate-math{erf-only}))",
                    "-o", os.path.join(work, "erf-cuda.mlir")], check=True)
    text = open(os.path.join(work, "erf-cuda.mlir")).read()
    if "math.erf" in text:
        sys.exit("FAIL: math.erf is still there")
    subprocess.run(["autopar-run", os.path.join(work, "erf-cuda.mlir"),
                    "--entry=erf", "--input=" + os.path.join(work, "x.npy"),
                    "--output-dir=" + work], check=True)
    got = np.load(os.path.join(work, "result0.npy"))
    finite = x[:-3]
    ref = np.array([math.erf(float(v)) for v in finite])
    ulp = np.spacing(np.abs(ref).astype(np.float32)).astype(np.float64)
    err = np.abs(got[:-3].astype(np.float64) - ref) / ulp
    worst = int(err.argmax())
    ok = err.max() <= max_ulp
    tail = got[-3:]
    ok &= bool(tail[0] == 1 and tail[1] == -1 and np.isnan(tail[2]))
    ok &= bool(np.all(np.signbit(got[:-3]) == np.signbit(finite)))
    print(f"erf on {finite.size} f32 arguments: worst {err.max():.2f} ulp at "
          f"x = {finite[worst]:.9g} (tolerance {max_ulp}); erf(+inf) = "
          f"{tail[0]}, erf(-inf) = {tail[1]}, erf(nan) = {tail[2]}: "
          f"{'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main(sys.argv)
