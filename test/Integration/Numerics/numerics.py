"""Numerical checks of every autopar op against an independent numpy reference.

Each case is a small module executed by autopar-run (through the autopar
Python package) and compared with numpy computing in float64 from the same
inputs. Tolerances, stated per group below:
  f32 elementwise:               rtol 1e-5, atol 1e-6
  f32 ops that accumulate (dot, reduce, softmax, norms, attention, loss):
                                 rtol 1e-5, atol 1e-5
  f64:                           rtol 1e-12, atol 1e-12
  integers and booleans:         exact
Usage: numerics.py GROUP [--fuse-rows [--fuse-rows-unroll=N]
                          [--fuse-rows-vector-bytes=N]] [--gpu-kernels]
         GROUP: elementwise, contraction, reduction, shape, composite, model,
         rows;
         --fuse-rows: lower with autopar-fuse-rows (the CUDA pipeline's
         fusion of row reductions with their elementwise ops, run on the
         CPU), same tolerances; --fuse-rows-unroll=N: its loops over a row
         unrolled by N, as the CUDA pipeline's are (with a remainder loop
         where N does not divide the row); --fuse-rows-vector-bytes=N: their
         elements read and written in vectors of up to N bytes, each thread
         taking consecutive elements (a loop over the row's tail where the
         width does not divide it); --gpu-kernels: lower as the CUDA
         pipeline does up to its GPU kernels (row kernels with warp
         shuffles, block reductions, merged launches, vectors) and run those
         on the CPU a block at a time (autopar-launches-to-loops), same
         tolerances. Exits 1 if any case fails.
"""

import math
import sys

import numpy as np

import autopar

DTYPES = {
    np.dtype(np.float32): "f32",
    np.dtype(np.float64): "f64",
    np.dtype(np.int64): "i64",
    np.dtype(np.int32): "i32",
    np.dtype(np.bool_): "i1",
}


def ttype(shape, dtype):
    """MLIR tensor type for a numpy shape and dtype (or an MLIR element)."""
    elem = dtype if isinstance(dtype, str) else DTYPES[np.dtype(dtype)]
    return "tensor<" + "".join(f"{d}x" for d in shape) + elem + ">"


def ty(a):
    return ttype(a.shape, a.dtype)


def module(inputs, results, body):
    """A module with @main(%a0, %a1, ...) -> results, `body` in between.
    The body's last values are named %r0, %r1, ...."""
    args = ", ".join(f"%a{i}: {ty(a)}" for i, a in enumerate(inputs))
    res = ", ".join(results)
    names = ", ".join(f"%r{i}" for i in range(len(results)))
    return (f"func.func @main({args}) -> ({res}) {{\n{body}\n"
            f"  return {names} : {res}\n}}\n")


class Case:
    def __init__(self, name, inputs, expected, body, rtol=None, atol=None,
                 result_types=None):
        self.name = name
        self.inputs = inputs
        self.expected = expected if isinstance(expected, list) else [expected]
        types = result_types or [ty(e) for e in self.expected]
        self.text = module(inputs, types, body)
        self.rtol, self.atol = rtol, atol


rng = np.random.default_rng(20261126)


def randf(shape, dtype=np.float32, low=-3.0, high=3.0):
    return rng.uniform(low, high, size=shape).astype(dtype)


def randi(shape, dtype=np.int64, low=-20, high=20):
    return rng.integers(low, high, size=shape).astype(dtype)


def ref(fn, *arrays, dtype=None):
    """Applies `fn` in float64 and casts to the first input's dtype."""
    out = fn(*[a.astype(np.float64) if a.dtype.kind == "f" else a
               for a in arrays])
    return np.asarray(out).astype(dtype or arrays[0].dtype)


erf = np.vectorize(math.erf)
SHAPES = [(), (7,), (3, 5), (2, 3, 4)]

#===------------------------------------------------------------------------===#
# Elementwise
#===------------------------------------------------------------------------===#


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


FLOAT_UNARY = {
    "neg": (lambda x: -x, None),
    "abs": (np.abs, None),
    "exp": (np.exp, None),
    "log": (np.log, (0.05, 5.0)),
    "tanh": (np.tanh, None),
    "sigmoid": (sigmoid, None),
    "relu": (lambda x: np.maximum(x, 0), None),
    "silu": (lambda x: x * sigmoid(x), None),
    "sqrt": (np.sqrt, (0.0, 9.0)),
    "rsqrt": (lambda x: 1.0 / np.sqrt(x), (0.05, 9.0)),
    "erf": (erf, None),
    "gelu": (lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))), None),
}


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) *
                                  (x + 0.044715 * x ** 3)))


def trunc_div(a, b):
    q = np.abs(a) // np.abs(b)
    return (q * np.sign(a) * np.sign(b)).astype(a.dtype)


def to_bf16(x):
    """Rounds float32 to the nearest bfloat16 (ties to even), as float32."""
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32)


def bcast(a, shape, dims):
    """numpy equivalent of autopar.broadcast (broadcast_in_dim)."""
    expand = tuple(d for d in range(len(shape)) if d not in dims)
    return np.broadcast_to(np.expand_dims(a, expand) if expand else a,
                           shape).copy()


def elementwise_cases():
    cases = []
    for dtype in (np.float32, np.float64):
        for op, (fn, domain) in FLOAT_UNARY.items():
            for shape in SHAPES:
                low, high = domain or (-4.0, 4.0)
                x = randf(shape, dtype, low, high)
                t = ty(x)
                cases.append(Case(f"{op} {t}", [x], ref(fn, x),
                                  f"  %r0 = autopar.{op} %a0 : {t}"))
        x = randf((4, 6), dtype, -5, 5)
        cases.append(Case(f"gelu tanh {ty(x)}", [x], ref(gelu_tanh, x),
                          f"  %r0 = autopar.gelu %a0 approximate = tanh : "
                          f"{ty(x)}"))
    # Extreme inputs: no overflow to NaN in the stable formulations.
    x = np.array([-100.0, -20.0, 0.0, 20.0, 100.0], np.float32)
    for op in ("sigmoid", "silu", "tanh", "gelu"):
        cases.append(Case(f"{op} extremes", [x], ref(FLOAT_UNARY[op][0], x),
                          f"  %r0 = autopar.{op} %a0 : {ty(x)}"))
    for dtype in (np.int32, np.int64):
        x = randi((3, 4), dtype)
        for op, fn in (("neg", np.negative), ("abs", np.abs),
                       ("relu", lambda v: np.maximum(v, 0))):
            cases.append(Case(f"{op} {ty(x)}", [x], fn(x).astype(dtype),
                              f"  %r0 = autopar.{op} %a0 : {ty(x)}"))

    binary = {
        "add": np.add, "sub": np.subtract, "mul": np.multiply,
        "div": np.divide, "max": np.maximum, "min": np.minimum,
        "pow": np.power,
    }
    for dtype in (np.float32, np.float64):
        for op, fn in binary.items():
            for shape in SHAPES:
                a = randf(shape, dtype, 0.1 if op == "pow" else -4, 4)
                b = randf(shape, dtype, -2, 2)
                if op == "div":
                    b = np.where(np.abs(b) < 0.1, 0.5, b).astype(dtype)
                cases.append(Case(f"{op} {ty(a)}", [a, b], ref(fn, a, b),
                                  f"  %r0 = autopar.{op} %a0, %a1 : {ty(a)}"))
    for dtype in (np.int32, np.int64):
        a, b = randi((5, 3), dtype), randi((5, 3), dtype)
        b = np.where(b == 0, 3, b).astype(dtype)
        for op, fn in (("add", np.add), ("sub", np.subtract),
                       ("mul", np.multiply), ("div", trunc_div),
                       ("max", np.maximum), ("min", np.minimum)):
            cases.append(Case(f"{op} {ty(a)}", [a, b], fn(a, b).astype(dtype),
                              f"  %r0 = autopar.{op} %a0, %a1 : {ty(a)}"))
    # NaN propagates through max/min as in numpy.maximum/minimum.
    a = np.array([1.0, np.nan, -2.0, 3.0], np.float32)
    b = np.array([np.nan, 2.0, -1.0, 4.0], np.float32)
    for op, fn in (("max", np.maximum), ("min", np.minimum)):
        cases.append(Case(f"{op} NaN", [a, b], fn(a, b),
                          f"  %r0 = autopar.{op} %a0, %a1 : {ty(a)}"))

    # Broadcasting shapes, made explicit with autopar.broadcast.
    for small, big, dims in [((4,), (3, 4), [1]), ((3, 1), (3, 4), [0, 1]),
                             ((1, 4), (3, 4), [0, 1]), ((), (2, 3), []),
                             ((2, 1, 4), (2, 3, 4), [0, 1, 2]),
                             ((3,), (3, 2, 5), [0]), ((5,), (2, 3, 5), [2]),
                             ((1, 1), (4, 5), [0, 1])]:
        a, b = randf(big), randf(small)
        body = (f"  %b = autopar.broadcast %a1, dims = {dims} : {ty(b)} -> "
                f"{ty(a)}\n  %r0 = autopar.sub %a0, %b : {ty(a)}")
        cases.append(Case(f"broadcast-sub {small}->{big}", [a, b],
                          ref(lambda p, q: p - bcast(q, big, dims), a, b),
                          body))

    # Compare and select.
    directions = {"eq": np.equal, "ne": np.not_equal, "lt": np.less,
                  "le": np.less_equal, "gt": np.greater,
                  "ge": np.greater_equal}
    fa = np.array([[1.0, 2.0, np.nan, -1.0], [0.0, -0.0, 5.0, 3.0]],
                  np.float32)
    fb = np.array([[1.0, 3.0, np.nan, -2.0], [-0.0, 0.0, 4.0, 3.0]],
                  np.float32)
    ia = randi((3, 4), np.int64, -3, 3)
    ib = randi((3, 4), np.int64, -3, 3)
    ba = rng.integers(0, 2, size=(6,)).astype(np.bool_)
    bb = rng.integers(0, 2, size=(6,)).astype(np.bool_)
    for d, fn in directions.items():
        for a, b in ((fa, fb), (ia, ib), (ba, bb)):
            cases.append(Case(f"compare {d} {ty(a)}", [a, b], fn(a, b),
                              f"  %r0 = autopar.compare {d}, %a0, %a1 : "
                              f"{ty(a)}"))
    p = rng.integers(0, 2, size=(3, 4)).astype(np.bool_)
    for x, y in ((randf((3, 4)), randf((3, 4))), (ia, ib)):
        cases.append(Case(f"select {ty(x)}", [p, x, y], np.where(p, x, y),
                          f"  %r0 = autopar.select %a0, %a1, %a2 : {ty(p)}, "
                          f"{ty(x)}"))

    # Conversions, numpy astype semantics.
    f = np.array([-2.7, -0.5, 0.0, 0.4, 1.5, 3.99, 100.25], np.float32)
    i = np.array([-5, 0, 1, 7, 123456], np.int64)
    bl = np.array([True, False, True], np.bool_)
    conversions = [(f, np.float64), (f.astype(np.float64), np.float32),
                   (f, np.int32), (f, np.int64), (f, np.bool_),
                   (i, np.float32), (i, np.float64), (i, np.int32),
                   (i.astype(np.int32), np.int64), (i, np.bool_),
                   (bl, np.float32), (bl, np.int64), (bl, np.int32)]
    for x, to in conversions:
        out = x.astype(to)
        cases.append(Case(f"convert {ty(x)} -> {ty(out)}", [x], out,
                          f"  %r0 = autopar.convert %a0 : {ty(x)} -> "
                          f"{ty(out)}"))
    # Through bf16 and f16 and back: rounding to nearest even.
    x = randf((16,), np.float32, -100, 100)
    for mid, fn in (("bf16", to_bf16),
                    ("f16", lambda v: v.astype(np.float16).astype(np.float32))):
        body = (f"  %h = autopar.convert %a0 : {ty(x)} -> {ttype((16,), mid)}"
                f"\n  %r0 = autopar.convert %h : {ttype((16,), mid)} -> "
                f"{ty(x)}")
        cases.append(Case(f"convert f32 -> {mid} -> f32", [x], fn(x), body,
                          rtol=0, atol=0))
    # Constants, also as a function without arguments.
    c = np.array([[1.5, -2.0], [0.25, 8.0]], np.float32)
    x = randf((2, 2))
    body = ("  %c = autopar.constant dense<[[1.5, -2.0], [0.25, 8.0]]> : "
            "tensor<2x2xf32>\n  %r0 = autopar.mul %a0, %c : tensor<2x2xf32>")
    cases.append(Case("constant operand", [x], ref(np.multiply, x, c), body))
    cases.append(Case("constant result", [], np.array([3, -1], np.int32),
                      "  %r0 = autopar.constant dense<[3, -1]> : "
                      "tensor<2xi32>"))
    return cases

#===------------------------------------------------------------------------===#
# Contraction
#===------------------------------------------------------------------------===#


def dot_case(name, a, b, lb, rb, lc, rc, spec):
    expected = ref(lambda x, y: np.einsum(spec, x, y), a, b)
    body = (f"  %r0 = autopar.dot %a0, %a1, batch_dims = {lb} x {rb}, "
            f"contracting_dims = {lc} x {rc} : {ty(a)}, {ty(b)} -> "
            f"{ty(expected)}")
    return Case(name, [a, b], expected, body, atol=1e-5)


def contraction_cases():
    f = randf
    return [
        dot_case("matmul", f((3, 4)), f((4, 5)), [], [], [1], [0],
                 "mk,kn->mn"),
        dot_case("matmul odd", f((7, 13)), f((13, 3)), [], [], [1], [0],
                 "mk,kn->mn"),
        dot_case("matmul f64", f((3, 4), np.float64), f((4, 5), np.float64),
                 [], [], [1], [0], "mk,kn->mn"),
        dot_case("batched", f((2, 3, 4)), f((2, 4, 5)), [0], [0], [2], [1],
                 "bmk,bkn->bmn"),
        dot_case("lhs transposed", f((4, 3)), f((4, 5)), [], [], [0], [0],
                 "km,kn->mn"),
        dot_case("rhs transposed", f((3, 4)), f((5, 4)), [], [], [1], [1],
                 "mk,nk->mn"),
        dot_case("two contracting", f((2, 3, 4)), f((3, 4, 5)), [], [],
                 [1, 2], [0, 1], "mab,abn->mn"),
        dot_case("batch not leading", f((3, 2, 4)), f((4, 2, 5)), [1], [1],
                 [2], [0], "mbk,kbn->bmn"),
        dot_case("two batch dims", f((2, 3, 4, 5)), f((2, 3, 5, 6)),
                 [0, 1], [0, 1], [3], [2], "abmk,abkn->abmn"),
        dot_case("outer product", f((3,)), f((4,)), [], [], [], [],
                 "m,n->mn"),
        dot_case("vector dot", f((9,)), f((9,)), [], [], [0], [0], "k,k->"),
        dot_case("matvec", f((3, 6)), f((6,)), [], [], [1], [0], "mk,k->m"),
        dot_case("int64", randi((3, 4)), randi((4, 2)), [], [], [1], [0],
                 "mk,kn->mn"),
        dot_case("int32 batched", randi((2, 2, 3), np.int32),
                 randi((2, 3, 2), np.int32), [0], [0], [2], [1],
                 "bmk,bkn->bmn"),
    ]

#===------------------------------------------------------------------------===#
# Reduction
#===------------------------------------------------------------------------===#


def reduction_cases():
    cases = []
    kinds = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}
    x = randf((2, 3, 5))
    dim_lists = [[0], [1], [2], [0, 1], [0, 2], [1, 2], [2, 0], [0, 1, 2]]
    for kind, fn in kinds.items():
        for dims in dim_lists:
            expected = ref(lambda v: fn(v, axis=tuple(dims)), x)
            cases.append(Case(
                f"reduce {kind} {dims}", [x], expected,
                f"  %r0 = autopar.reduce {kind} %a0, dims = {dims} : {ty(x)} "
                f"-> {ty(expected)}", atol=1e-5))
    xd = randf((4, 3), np.float64)
    for kind, fn in kinds.items():
        expected = fn(xd, axis=1)
        cases.append(Case(f"reduce {kind} f64", [xd], expected,
                          f"  %r0 = autopar.reduce {kind} %a0, dims = [1] : "
                          f"{ty(xd)} -> {ty(expected)}"))
    xi = randi((3, 4), np.int32)
    for kind in ("sum", "max", "min"):
        expected = kinds[kind](xi, axis=0).astype(np.int32)
        cases.append(Case(f"reduce {kind} i32", [xi], expected,
                          f"  %r0 = autopar.reduce {kind} %a0, dims = [0] : "
                          f"{ty(xi)} -> {ty(expected)}"))
    xn = np.array([[1.0, np.nan, 2.0], [3.0, 4.0, -1.0]], np.float32)
    for kind in ("max", "min", "sum"):
        expected = kinds[kind](xn, axis=1).astype(np.float32)
        cases.append(Case(f"reduce {kind} NaN", [xn], expected,
                          f"  %r0 = autopar.reduce {kind} %a0, dims = [1] : "
                          f"{ty(xn)} -> {ty(expected)}"))
    # softmax and log_softmax over every axis.
    x = randf((2, 3, 7), low=-10, high=10)
    for axis in range(3):
        for op, fn in (("softmax", softmax), ("log_softmax", log_softmax)):
            cases.append(Case(f"{op} axis {axis}", [x],
                              ref(lambda v: fn(v, axis), x),
                              f"  %r0 = autopar.{op} %a0, axis = {axis} : "
                              f"{ty(x)}", atol=1e-5))
    # Infinities: -inf entries (a mask) before and after the finite ones,
    # a row of -inf only and a row with +inf (NaN, as two walks give: with
    # --fuse-rows the max and the sum share one walk).
    inf = np.inf
    xinf = np.array([[-inf, 1.0, 2.0, -inf, 0.5, -inf, 3.0, 1.0],
                     [-inf] * 8,
                     [1.0, inf, 2.0, -inf, 0.0, 1.0, 2.0, 3.0]], np.float32)
    with np.errstate(invalid="ignore"):
        for op, fn in (("softmax", softmax), ("log_softmax", log_softmax)):
            cases.append(Case(f"{op} with infinities", [xinf],
                              ref(lambda v: fn(v, 1), xinf),
                              f"  %r0 = autopar.{op} %a0, axis = 1 : "
                              f"{ty(xinf)}", atol=1e-5))
    # A one-hot sum (a cross-entropy's label pick), labels inside the row
    # and outside it (nothing picked), and a row op after it: with
    # --fuse-rows the pick is a gather, not a walk.
    xo = randf((3, 4, 8))
    lo = np.array([[0, 7, -1, 3], [8, 100, 2, 5], [-7, 1, 6, 4]], np.int64)
    inside = (lo >= 0) & (lo < 8)
    po = np.where(inside, np.take_along_axis(
        xo, np.clip(lo, 0, 7)[..., None], axis=-1)[..., 0], 0).astype(
            np.float32)
    cases.append(Case(
        "one-hot sum, labels in and out of the row", [xo, lo],
        [po, (xo - po[..., None]).astype(np.float32)],
        "  %iota = autopar.constant dense<[0, 1, 2, 3, 4, 5, 6, 7]> : "
        "tensor<8xi64>\n"
        "  %ib = autopar.broadcast %iota, dims = [2] : tensor<8xi64> -> "
        "tensor<3x4x8xi64>\n"
        "  %lb = autopar.broadcast %a1, dims = [0, 1] : tensor<3x4xi64> -> "
        "tensor<3x4x8xi64>\n"
        "  %hit = autopar.compare eq, %ib, %lb : tensor<3x4x8xi64>\n"
        "  %z = autopar.constant dense<0.0> : tensor<3x4x8xf32>\n"
        "  %sel = autopar.select %hit, %a0, %z : tensor<3x4x8xi1>, "
        "tensor<3x4x8xf32>\n"
        "  %r0 = autopar.reduce sum %sel, dims = [2] : tensor<3x4x8xf32> -> "
        "tensor<3x4xf32>\n"
        "  %pb = autopar.broadcast %r0, dims = [0, 1] : tensor<3x4xf32> -> "
        "tensor<3x4x8xf32>\n"
        "  %r1 = autopar.sub %a0, %pb : tensor<3x4x8xf32>"))
    big = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -999.0, -1001.0]],
                   np.float32)
    for op, fn in (("softmax", softmax), ("log_softmax", log_softmax)):
        cases.append(Case(f"{op} large logits", [big],
                          ref(lambda v: fn(v, 1), big),
                          f"  %r0 = autopar.{op} %a0, axis = 1 : {ty(big)}",
                          atol=1e-5))
    return cases

#===------------------------------------------------------------------------===#
# Shape ops
#===------------------------------------------------------------------------===#


def shape_cases():
    cases = []
    x = randf((2, 3, 4))
    for shape in [(6, 4), (24,), (4, 3, 2), (2, 12), (1, 24, 1), (2, 3, 4)]:
        expected = x.reshape(shape)
        cases.append(Case(f"reshape -> {shape}", [x], expected,
                          f"  %r0 = autopar.reshape %a0 : {ty(x)} -> "
                          f"{ty(expected)}"))
    s = randf(())
    cases.append(Case("reshape scalar -> (1, 1)", [s], s.reshape(1, 1),
                      f"  %r0 = autopar.reshape %a0 : {ty(s)} -> "
                      f"tensor<1x1xf32>"))
    o = randf((1, 1, 1))
    cases.append(Case("reshape (1, 1, 1) -> scalar", [o], o.reshape(()),
                      f"  %r0 = autopar.reshape %a0 : {ty(o)} -> tensor<f32>"))
    for perm in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1],
                 [2, 1, 0]]:
        expected = x.transpose(perm)
        cases.append(Case(f"transpose {perm}", [x], expected,
                          f"  %r0 = autopar.transpose %a0, perm = {perm} : "
                          f"{ty(x)} -> {ty(expected)}"))
    xi = randi((3, 5), np.int32)
    cases.append(Case("transpose i32", [xi], xi.T.copy(),
                      f"  %r0 = autopar.transpose %a0, perm = [1, 0] : "
                      f"{ty(xi)} -> {ty(xi.T)}"))
    for small, big, dims in [((4,), (3, 4), [1]), ((3,), (3, 4), [0]),
                             ((3, 1), (3, 4), [0, 1]), ((), (2, 2), []),
                             ((2, 4), (2, 3, 4), [0, 2])]:
        a = randf(small)
        expected = bcast(a, big, dims)
        cases.append(Case(f"broadcast {small} -> {big}", [a], expected,
                          f"  %r0 = autopar.broadcast %a0, dims = {dims} : "
                          f"{ty(a)} -> {ty(expected)}"))
    b = rng.integers(0, 2, size=(3,)).astype(np.bool_)
    cases.append(Case("broadcast i1", [b], np.broadcast_to(b, (2, 3)).copy(),
                      f"  %r0 = autopar.broadcast %a0, dims = [1] : {ty(b)} -> "
                      f"tensor<2x3xi1>"))
    y = randf((5, 7, 6))
    for start, limit, strides in [([0, 0, 0], [5, 7, 6], [1, 1, 1]),
                                  ([1, 2, 0], [4, 7, 6], [1, 2, 3]),
                                  ([4, 0, 5], [5, 7, 6], [2, 3, 1]),
                                  ([0, 3, 2], [5, 3, 6], [1, 1, 1])]:
        expected = y[tuple(slice(s, l, st) for s, l, st
                           in zip(start, limit, strides))]
        cases.append(Case(f"slice {start}:{limit}:{strides}", [y], expected,
                          f"  %r0 = autopar.slice %a0, start = {start}, "
                          f"limit = {limit}, strides = {strides} : {ty(y)} -> "
                          f"{ty(expected)}"))
    for dim in range(3):
        parts = []
        for n in (1, 3, 2):
            shape = [2, 3, 4]
            shape[dim] = n
            parts.append(randf(tuple(shape)))
        expected = np.concatenate(parts, axis=dim)
        names = ", ".join(f"%a{i}" for i in range(3))
        types = ", ".join(ty(p) for p in parts)
        cases.append(Case(f"concat dim {dim}", parts, expected,
                          f"  %r0 = autopar.concat({names}) dim = {dim} : "
                          f"{types} -> {ty(expected)}"))
    ci = [randi((2,), np.int64), randi((3,), np.int64)]
    cases.append(Case("concat i64", ci, np.concatenate(ci),
                      f"  %r0 = autopar.concat(%a0, %a1) dim = 0 : "
                      f"{ty(ci[0])}, {ty(ci[1])} -> tensor<5xi64>"))
    data = randf((5, 4, 3))
    for axis in range(3):
        for idx_shape in [(), (4,), (2, 3)]:
            n = data.shape[axis]
            idx = rng.integers(-n, n, size=idx_shape).astype(np.int64)
            expected = np.take(data, idx, axis=axis)
            cases.append(Case(
                f"gather axis {axis} indices {idx_shape}", [data, idx],
                expected,
                f"  %r0 = autopar.gather %a0, %a1, axis = {axis} : "
                f"{ty(data)}, {ty(idx)} -> {ty(expected)}"))
    # Out-of-range indices are clamped, never read out of bounds.
    idx = np.array([-100, -6, -5, 4, 5, 1000], np.int32)
    expected = np.take(data, np.clip(np.where(idx < 0, idx + 5, idx), 0, 4),
                       axis=0)
    cases.append(Case("gather clamps", [data, idx], expected,
                      f"  %r0 = autopar.gather %a0, %a1, axis = 0 : "
                      f"{ty(data)}, {ty(idx)} -> {ty(expected)}"))
    # scatter_add: numpy's add.at with the same wrapping and clamping.
    for target_shape, axis, idx_shape in [((6, 3), 0, (5,)), ((4, 7), 1, (2, 3)),
                                          ((3, 5, 4), 1, (2, 3)),
                                          ((5,), 0, ())]:
        n = target_shape[axis]
        target = randf(target_shape)
        idx = rng.integers(-n - 2, n + 2, size=idx_shape).astype(np.int64)
        upd_shape = target_shape[:axis] + idx_shape + target_shape[axis + 1:]
        upd = randf(upd_shape)
        want = target.astype(np.float64).copy()
        clamped = np.clip(np.where(idx < 0, idx + n, idx), 0, n - 1)
        moved = np.moveaxis(want, axis, 0)
        upd_moved = np.moveaxis(upd.astype(np.float64).reshape(
            target_shape[:axis] + (int(np.prod(idx_shape)),) +
            target_shape[axis + 1:]), axis, 0)
        np.add.at(moved, clamped.reshape(-1), upd_moved)
        cases.append(Case(
            f"scatter_add {target_shape} axis {axis} indices {idx_shape}",
            [target, idx, upd], want.astype(np.float32),
            f"  %r0 = autopar.scatter_add %a0, %a1, %a2, axis = {axis} : "
            f"{ty(target)}, {ty(idx)}, {ty(upd)} -> {ty(target)}", atol=1e-5))
    table = randf((11, 6))
    ids = rng.integers(0, 11, size=(2, 5)).astype(np.int64)
    cases.append(Case("embedding", [table, ids], table[ids],
                      f"  %r0 = autopar.embedding %a0, %a1 : {ty(table)}, "
                      f"{ty(ids)} -> tensor<2x5x6xf32>"))
    return cases

#===------------------------------------------------------------------------===#
# Composites
#===------------------------------------------------------------------------===#


def softmax(v, axis):
    e = np.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(v, axis):
    s = v - v.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def layer_norm(x, g, b, axis, eps):
    dims = tuple(range(axis, x.ndim))
    mean = x.mean(axis=dims, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=dims, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * g + b


def rms_norm(x, g, axis, eps):
    dims = tuple(range(axis, x.ndim))
    return x / np.sqrt((x * x).mean(axis=dims, keepdims=True) + eps) * g


def attention(q, k, v, mask=None, causal=False, scale=None):
    scale = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    s = np.einsum("...id,...jd->...ij", q, k) * scale
    if mask is not None:
        s = s + mask
    if causal:
        sq, sk = s.shape[-2:]
        s = np.where(np.triu(np.ones((sq, sk), bool), 1), -np.inf, s)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return np.einsum("...ij,...je->...ie", p, v)


def attention_grad(q, k, v, do, causal=False, scale=None):
    """dq, dk, dv of attention (no mask) for the output cotangent do, by
    the chain rule through the softmax: dP = do v^T,
    dS = P (dP - rowsum(dP P)), dq = dS k scale, dk = dS^T q scale."""
    scale = scale if scale is not None else 1.0 / math.sqrt(q.shape[-1])
    s = np.einsum("...id,...jd->...ij", q, k) * scale
    if causal:
        sq, sk = s.shape[-2:]
        s = np.where(np.triu(np.ones((sq, sk), bool), 1), -np.inf, s)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    dv = np.einsum("...ij,...ie->...je", p, do)
    dp = np.einsum("...ie,...je->...ij", do, v)
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    dq = np.einsum("...ij,...jd->...id", ds, k) * scale
    dk = np.einsum("...ij,...id->...jd", ds, q) * scale
    return dq, dk, dv


def cross_entropy(logits, labels):
    s = logits - logits.max(axis=-1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(logp, labels[..., None], axis=-1)
    return np.asarray(-picked.mean())


def norm_cases(label, x, g, b, axis):
    """layer_norm (with g and b) and rms_norm (with g) of x over the
    dimensions from `axis`, against numpy."""
    t, tg = ty(x), ty(g)
    return [
        Case(f"layer_norm {label}", [x, g, b],
             ref(lambda *a: layer_norm(*a, axis, 1e-5), x, g, b),
             f"  %r0 = autopar.layer_norm %a0, %a1, %a2, axis = {axis}, "
             f"epsilon = 1.0e-05 : {t}, {tg} -> {t}", atol=1e-5),
        Case(f"rms_norm {label}", [x, g],
             ref(lambda *a: rms_norm(*a, axis, 1e-6), x, g),
             f"  %r0 = autopar.rms_norm %a0, %a1, axis = {axis}, "
             f"epsilon = 1.0e-06 : {t}, {tg} -> {t}", atol=1e-5)]


def composite_cases():
    cases = []
    for shape, axis in [((4, 8), 1), ((2, 3, 8), 2), ((2, 3, 4), 1)]:
        x = randf(shape, low=-5, high=5)
        g, b = randf(shape[axis:]), randf(shape[axis:])
        cases += norm_cases(f"{shape} axis {axis}", x, g, b, axis)
    xd = randf((3, 5), np.float64)
    gd, bd = randf((5,), np.float64), randf((5,), np.float64)
    cases.append(Case("layer_norm f64", [xd, gd, bd],
                      layer_norm(xd, gd, bd, 1, 1e-5),
                      f"  %r0 = autopar.layer_norm %a0, %a1, %a2, axis = 1, "
                      f"epsilon = 1.0e-05 : {ty(xd)}, {ty(gd)} -> {ty(xd)}"))

    def attn_case(name, q, k, v, mask=None, causal=False, scale=None):
        inputs = [q, k, v] + ([mask] if mask is not None else [])
        expected = ref(lambda *a: attention(a[0], a[1], a[2],
                                            a[3] if mask is not None else None,
                                            causal, scale), *inputs)
        attrs = []
        if causal:
            attrs.append("causal")
        if scale is not None:
            attrs.append(f"scale = {scale} : f64")
        attr = (" {" + ", ".join(attrs) + "}") if attrs else ""
        mask_use = " mask %a3" if mask is not None else ""
        types = ", ".join(ty(a) for a in inputs)
        return Case(name, inputs, expected,
                    f"  %r0 = autopar.attention %a0, %a1, %a2{mask_use}{attr}"
                    f" : {types} -> {ty(expected)}", atol=1e-5)

    q, k, v = randf((2, 4, 5, 8)), randf((2, 4, 5, 8)), randf((2, 4, 5, 8))
    cases.append(attn_case("attention", q, k, v))
    cases.append(attn_case("attention causal", q, k, v, causal=True))
    cases.append(attn_case("attention scale", q, k, v, scale=0.25))
    mask = np.where(rng.uniform(size=(2, 4, 5, 5)) < 0.3, -1e9,
                    0.0).astype(np.float32)
    mask[..., 0] = 0.0
    cases.append(attn_case("attention mask + causal", q, k, v, mask,
                           causal=True))
    q2, k2, v2 = randf((3, 6, 4)), randf((3, 9, 4)), randf((3, 9, 7))
    cases.append(attn_case("attention Sq != Sk, Dv != D", q2, k2, v2))
    cases.append(attn_case("attention rank 2 causal", randf((6, 4)),
                           randf((6, 4)), randf((6, 4)), causal=True))

    def attn_grad_case(name, q, k, v, causal=False, scale=None):
        o = ref(lambda *a: attention(*a, causal=causal, scale=scale), q, k, v)
        do = randf(o.shape)
        expected = [ref(lambda *a: attention_grad(*a, causal=causal,
                                                  scale=scale)[i],
                        q, k, v, do) for i in range(3)]
        attrs = (["causal"] if causal else []) + (
            [f"scale = {scale} : f64"] if scale is not None else [])
        attr = (" {" + ", ".join(attrs) + "}") if attrs else ""
        inputs = [q, k, v, o, do]
        types = ", ".join(ty(a) for a in inputs)
        return Case(name, inputs, expected,
                    f"  %r0, %r1, %r2 = autopar.attention_grad %a0, %a1, %a2,"
                    f" %a3, %a4{attr} : {types}", atol=1e-5)

    cases.append(attn_grad_case("attention_grad", q, k, v))
    cases.append(attn_grad_case("attention_grad causal", q, k, v,
                                causal=True))
    cases.append(attn_grad_case("attention_grad scale", q, k, v, scale=0.25))
    cases.append(attn_grad_case("attention_grad Sq != Sk, Dv != D causal",
                                q2, k2, v2, causal=True))
    cases.append(attn_grad_case("attention_grad rank 2", randf((6, 4)),
                                randf((6, 4)), randf((6, 4))))
    for xshape, transposed, bias in [((4, 8), False, True),
                                     ((2, 3, 8), True, True),
                                     ((5, 8), True, False)]:
        x = randf(xshape)
        w = randf((16, 8) if transposed else (8, 16), low=-1, high=1)
        b = randf((16,))
        inputs = [x, w] + ([b] if bias else [])
        expected = ref(lambda *a: (a[0] @ (a[1].T if transposed else a[1]))
                       + (a[2] if bias else 0), *inputs)
        attr = " {weight_transposed}" if transposed else ""
        operands = ", ".join(f"%a{i}" for i in range(len(inputs)))
        types = ", ".join(ty(a) for a in inputs)
        cases.append(Case(f"linear {xshape} transposed={transposed} "
                          f"bias={bias}", inputs, expected,
                          f"  %r0 = autopar.linear {operands}{attr} : {types}"
                          f" -> {ty(expected)}", atol=1e-5))
    for shape, ldt in [((4, 10), np.int64), ((2, 3, 7), np.int32),
                       ((5, 2), np.int64)]:
        logits = randf(shape, low=-6, high=6)
        labels = rng.integers(0, shape[-1], size=shape[:-1]).astype(ldt)
        expected = ref(lambda lg: cross_entropy(lg, labels), logits)
        cases.append(Case(f"cross_entropy {shape}", [logits, labels],
                          expected,
                          f"  %r0 = autopar.cross_entropy %a0, %a1 : "
                          f"{ty(logits)}, {ty(labels)} -> tensor<f32>",
                          atol=1e-5))
    return cases

#===------------------------------------------------------------------------===#
# Models written in the dialect
#===------------------------------------------------------------------------===#


def model_cases():
    """A two-layer MLP and a pre-norm transformer block, end to end."""
    B, D, H, C = 4, 8, 16, 3
    x, w1, b1 = randf((B, D)), randf((D, H), low=-0.5, high=0.5), randf((H,))
    w2, b2 = randf((H, C), low=-0.5, high=0.5), randf((C,))
    body = f"""
  %h = autopar.dot %a0, %a1, batch_dims = [] x [], contracting_dims = [1] x [0] : {ty(x)}, {ty(w1)} -> tensor<{B}x{H}xf32>
  %hb = autopar.broadcast %a2, dims = [1] : {ty(b1)} -> tensor<{B}x{H}xf32>
  %h1 = autopar.add %h, %hb : tensor<{B}x{H}xf32>
  %h2 = autopar.relu %h1 : tensor<{B}x{H}xf32>
  %o = autopar.dot %h2, %a3, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<{B}x{H}xf32>, {ty(w2)} -> tensor<{B}x{C}xf32>
  %ob = autopar.broadcast %a4, dims = [1] : {ty(b2)} -> tensor<{B}x{C}xf32>
  %o1 = autopar.add %o, %ob : tensor<{B}x{C}xf32>
  %r0 = autopar.softmax %o1, axis = 1 : tensor<{B}x{C}xf32>"""

    def mlp(x, w1, b1, w2, b2):
        h = np.maximum(x @ w1 + b1, 0)
        o = h @ w2 + b2
        e = np.exp(o - o.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    cases = [Case("mlp", [x, w1, b1, w2, b2],
                  ref(mlp, x, w1, b1, w2, b2), body, atol=1e-5)]

    S, NH, HD = 6, 2, 4
    D = NH * HD
    x = randf((S, D))
    g = randf((D,), low=0.5, high=1.5)
    wq, wk, wv, wo = (randf((D, D), low=-0.4, high=0.4) for _ in range(4))
    t = f"tensor<{S}x{D}xf32>"
    h = f"tensor<{S}x{NH}x{HD}xf32>"
    th = f"tensor<{NH}x{S}x{HD}xf32>"
    w = f"tensor<{D}x{D}xf32>"
    proj = []
    for name, arg in (("q", "%a2"), ("k", "%a3"), ("v", "%a4")):
        proj.append(f"""
  %{name}0 = autopar.dot %n, {arg}, batch_dims = [] x [], contracting_dims = [1] x [0] : {t}, {w} -> {t}
  %{name}1 = autopar.reshape %{name}0 : {t} -> {h}
  %{name} = autopar.transpose %{name}1, perm = [1, 0, 2] : {h} -> {th}""")
    body = f"""
  %n = autopar.rms_norm %a0, %a1, axis = 1, epsilon = 1.0e-05 : {t}, tensor<{D}xf32> -> {t}{''.join(proj)}
  %att = autopar.attention %q, %k, %v {{causal}} : {th}, {th}, {th} -> {th}
  %at = autopar.transpose %att, perm = [1, 0, 2] : {th} -> {h}
  %am = autopar.reshape %at : {h} -> {t}
  %o = autopar.dot %am, %a5, batch_dims = [] x [], contracting_dims = [1] x [0] : {t}, {w} -> {t}
  %r0 = autopar.add %a0, %o : {t}"""

    def block(x, g, wq, wk, wv, wo):
        n = rms_norm(x, g, 1, 1e-5)
        heads = [(n @ m).reshape(S, NH, HD).transpose(1, 0, 2)
                 for m in (wq, wk, wv)]
        a = attention(*heads, causal=True).transpose(1, 0, 2).reshape(S, D)
        return x + a @ wo

    cases.append(Case("transformer block", [x, g, wq, wk, wv, wo],
                      ref(block, x, g, wq, wk, wv, wo), body, atol=1e-5))
    return cases


#===------------------------------------------------------------------------===#
# Rows the size of the GPU's row kernels
#===------------------------------------------------------------------------===#


def rows_cases():
    """Rows long enough for the CUDA pipeline's row kernels (at least 32
    elements: autopar-row-reductions-to-gpu's min-size): a warp per row up
    to 1024 elements, a block per row past that; lengths the vectors of 4
    divide and lengths they do not; and column sums (a block's partial
    sums meeting in workgroup memory before one atomic a column). Checked
    on the CPU's lowering as the other groups, and with --gpu-kernels as
    the GPU's kernels."""
    cases = []
    for shape in [(3, 40), (2, 3, 256), (4, 1000), (3, 1030), (2, 2051)]:
        x = randf(shape, low=-8, high=8)
        axis = len(shape) - 1
        t = ty(x)
        for op, fn in (("softmax", softmax), ("log_softmax", log_softmax)):
            cases.append(Case(f"{op} {shape}", [x],
                              ref(lambda v: fn(v, axis), x),
                              f"  %r0 = autopar.{op} %a0, axis = {axis} : {t}",
                              atol=1e-5))
        for kind, fn in (("sum", np.sum), ("max", np.max)):
            expected = ref(lambda v: fn(v, axis=axis), x)
            cases.append(Case(
                f"reduce {kind} {shape}", [x], expected,
                f"  %r0 = autopar.reduce {kind} %a0, dims = [{axis}] : {t} "
                f"-> {ty(expected)}", rtol=1e-5, atol=1e-4))
        g, b = randf(shape[axis:]), randf(shape[axis:])
        cases += norm_cases(f"{shape}", x, g, b, axis)
        labels = rng.integers(0, shape[-1], size=shape[:-1]).astype(np.int64)
        cases.append(Case(
            f"cross_entropy {shape}", [x, labels],
            ref(lambda lg: cross_entropy(lg, labels), x),
            f"  %r0 = autopar.cross_entropy %a0, %a1 : {t}, {ty(labels)} "
            f"-> tensor<f32>", atol=1e-5))
    for shape, dims in [((300, 67), [0]), ((1030, 48), [0]),
                        ((3, 40, 64), [0, 1])]:
        x = randf(shape)
        expected = ref(lambda v: v.sum(axis=tuple(dims)), x)
        cases.append(Case(
            f"column sums {shape} dims {dims}", [x], expected,
            f"  %r0 = autopar.reduce sum %a0, dims = {dims} : {ty(x)} -> "
            f"{ty(expected)}", rtol=1e-5, atol=1e-4))
    return cases


GROUPS = {
    "elementwise": elementwise_cases,
    "contraction": contraction_cases,
    "reduction": reduction_cases,
    "shape": shape_cases,
    "composite": composite_cases,
    "model": model_cases,
    "rows": rows_cases,
}


def tolerances(case, dtype):
    if dtype.kind in "biu":
        return 0.0, 0.0
    if dtype == np.float64:
        return 1e-12, 1e-12
    return (case.rtol if case.rtol is not None else 1e-5,
            case.atol if case.atol is not None else 1e-6)


def check(case, extra_args=()):
    try:
        results = autopar.run(case.text, case.inputs, entry="main",
                              extra_args=extra_args)
    except autopar.AutoparError as e:
        return f"autopar-run failed: {e}"
    if len(results) != len(case.expected):
        return f"{len(results)} results, expected {len(case.expected)}"
    for i, (got, want) in enumerate(zip(results, case.expected)):
        if got.dtype != want.dtype or got.shape != want.shape:
            return (f"result {i}: got {got.dtype}{got.shape}, expected "
                    f"{want.dtype}{want.shape}")
        rtol, atol = tolerances(case, want.dtype)
        if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            err = np.abs(got.astype(np.float64) - want.astype(np.float64))
            return (f"result {i}: max abs error {np.nanmax(err):.3g} over "
                    f"rtol {rtol} atol {atol}\n  got  {got.ravel()[:8]}\n"
                    f"  want {want.ravel()[:8]}")
    return None


def main(argv):
    extra = [a for a in argv[2:]
             if a in ("--fuse-rows", "--gpu-kernels")
             or a.startswith("--fuse-rows-unroll=")
             or a.startswith("--fuse-rows-vector-bytes=")]
    if len(argv) - len(extra) != 2 or argv[1] not in GROUPS:
        print(f"usage: numerics.py {{{','.join(GROUPS)}}} [--fuse-rows "
              f"[--fuse-rows-unroll=N] [--fuse-rows-vector-bytes=N]] "
              f"[--gpu-kernels]",
              file=sys.stderr)
        return 2
    np.seterr(all="ignore")
    failures = 0
    cases = GROUPS[argv[1]]()
    for case in cases:
        problem = check(case, extra)
        if problem:
            failures += 1
            print(f"FAIL {case.name}: {problem}\n{case.text}")
        else:
            print(f"PASS {case.name}")
    print(f"{argv[1]}: {len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
