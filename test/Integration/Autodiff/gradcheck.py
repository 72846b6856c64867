"""Checks every VJP rule against central finite differences in float64.

Each case is a function of float64 inputs whose output `o` is weighted by a
random tensor `r` (also an input) into the scalar loss sum(o * r), so every
output element gets a different cotangent. autopar-autodiff builds the
gradient function, autopar-run computes it, and numpy's float64 reference of
the forward pass, differentiated numerically (step 1e-6, central), checks
it: |autopar - fd| <= 1e-6 + 1e-5 |fd|. Composite ops are differentiated
through their decomposition. Usage: gradcheck.py GROUP
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Numerics"))
import numerics as ref  # noqa: E402  (the numpy references of the op tests)

BIN = os.environ["AUTOPAR_BIN_DIR"]
rng = np.random.default_rng(7)


def f64(shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


def away_from(x, points, margin=0.05):
    """Moves values off kinks (where the derivative jumps)."""
    for p in points:
        x = np.where(np.abs(x - p) < margin, p + margin * 2, x)
    return x


class Case:
    def __init__(self, name, inputs, fn, body, out_shape, extra=()):
        self.name, self.inputs, self.fn, self.body = name, inputs, fn, body
        self.out_shape = out_shape
        self.extra = list(extra)  # non-differentiated inputs (e.g. labels)


def module(case, r):
    args = [f"%a{i}: {ref.ty(a)}" for i, a in enumerate(case.inputs)]
    args.append(f"%r: {ref.ty(r)}")
    args += [f"%e{i}: {ref.ty(e)}" for i, e in enumerate(case.extra)]
    t = ref.ttype(case.out_shape, np.float64)
    dims = list(range(len(case.out_shape)))
    return (f"func.func @loss({', '.join(args)}) -> tensor<f64> {{\n"
            f"{case.body}\n"
            f"  %w = autopar.mul %o, %r : {t}\n"
            f"  %l = autopar.reduce sum %w, dims = {dims} : {t} -> tensor<f64>\n"
            f"  return %l : tensor<f64>\n}}\n")


def loss_np(case, inputs, r):
    return float(np.sum(case.fn(*inputs, *case.extra) * r))


def check(case, work):
    r = f64(case.out_shape, 0.5, 1.5) * rng.choice([-1, 1], size=case.out_shape)
    path = os.path.join(work, "m.mlir")
    with open(path, "w") as f:
        f.write(module(case, r))
    grad = os.path.join(work, "g.mlir")
    p = subprocess.run([os.path.join(BIN, "autopar-opt"), path,
                        "--autopar-autodiff", "-o", grad],
                       capture_output=True, text=True)
    if p.returncode:
        return "autodiff failed: " + p.stderr.strip()
    args = [os.path.join(BIN, "autopar-run"), grad, "--entry=loss_grad",
            "--output-dir=" + os.path.join(work, "out")]
    for i, a in enumerate(case.inputs + [r] + case.extra):
        name = os.path.join(work, f"in{i}.npy")
        np.save(name, a)
        args.append("--input=" + name)
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        return "autopar-run failed: " + p.stderr.strip()
    got = [np.load(os.path.join(work, "out", f"result{k}.npy"))
           for k in range(len(case.inputs) + 2)]
    want_loss = loss_np(case, case.inputs, r)
    if abs(got[0] - want_loss) > 1e-9 * (1 + abs(want_loss)):
        return f"loss {got[0]} != {want_loss}"
    eps = 1e-6
    for k, x in enumerate(case.inputs):
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += eps
            xm[idx] -= eps
            ins_p = list(case.inputs)
            ins_m = list(case.inputs)
            ins_p[k], ins_m[k] = xp, xm
            fd[idx] = (loss_np(case, ins_p, r) - loss_np(case, ins_m, r)) / (2 * eps)
        g = got[k + 1]
        if g.shape != x.shape:
            return f"gradient {k}: shape {g.shape} != {x.shape}"
        if not np.all(np.abs(g - fd) <= 1e-6 + 1e-5 * np.abs(fd)):
            err = np.max(np.abs(g - fd))
            return (f"gradient {k}: max abs error {err:.3g}\n  got {g.ravel()[:6]}"
                    f"\n  fd  {fd.ravel()[:6]}")
    # d loss / d r is the output itself.
    o = case.fn(*case.inputs, *case.extra)
    if not np.allclose(got[len(case.inputs) + 1], o, rtol=1e-9, atol=1e-12):
        return "gradient with respect to the weights r is not the output"
    return None


def unary_cases():
    cases = []
    domains = {"log": (0.2, 3), "sqrt": (0.2, 3), "rsqrt": (0.2, 3)}
    for op, (fn, _) in ref.FLOAT_UNARY.items():
        low, high = domains.get(op, (-2, 2))
        x = f64((3, 4), low, high)
        if op in ("abs", "relu"):
            x = away_from(x, [0.0])
        t = ref.ty(x)
        cases.append(Case(op, [x], fn, f"  %o = autopar.{op} %a0 : {t}",
                          x.shape))
    x = f64((5,))
    cases.append(Case("gelu tanh", [x], ref.gelu_tanh,
                      f"  %o = autopar.gelu %a0 approximate = tanh : {ref.ty(x)}",
                      x.shape))
    return cases


def binary_cases():
    cases = []
    for op, fn in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                   ("div", np.divide), ("max", np.maximum), ("min", np.minimum),
                   ("pow", np.power)):
        a = f64((2, 3), 0.5 if op == "pow" else -2, 2)
        b = f64((2, 3), 0.5, 2) if op in ("div", "pow") else f64((2, 3))
        if op in ("max", "min"):
            b = np.where(np.abs(a - b) < 0.1, b + 0.3, b)
        t = ref.ty(a)
        cases.append(Case(op, [a, b], fn, f"  %o = autopar.{op} %a0, %a1 : {t}",
                          a.shape))
    # A value used twice accumulates its cotangents: x * x + x.
    x = f64((4,))
    t = ref.ty(x)
    cases.append(Case("reuse", [x], lambda v: v * v + v,
                      f"  %s = autopar.mul %a0, %a0 : {t}\n"
                      f"  %o = autopar.add %s, %a0 : {t}", x.shape))
    p = np.array([True, False, True, True])
    a, b = f64((4,)), f64((4,))
    cases.append(Case("select", [a, b], lambda u, v, q: np.where(q, u, v),
                      f"  %o = autopar.select %e0, %a0, %a1 : tensor<4xi1>, {t}",
                      a.shape, extra=[p]))
    return cases


def structure_cases():
    cases = []
    for name, a, b, lb, rb, lc, rc, spec in [
            ("matmul", (3, 4), (4, 2), [], [], [1], [0], "mk,kn->mn"),
            ("batched", (2, 3, 4), (2, 4, 2), [0], [0], [2], [1],
             "bmk,bkn->bmn"),
            ("transposed operands", (4, 3), (2, 4), [], [], [0], [1],
             "km,nk->mn"),
            ("two contracting", (2, 3, 4), (3, 4, 2), [], [], [1, 2], [0, 1],
             "mab,abn->mn"),
            ("mixed order contracting", (3, 2, 4), (4, 3, 2), [], [], [0, 2],
             [1, 0], "amb,ban->mn"),
            ("batch not leading", (3, 2, 4), (4, 2, 5), [1], [1], [2], [0],
             "mbk,kbn->bmn")]:
        x, y = f64(a), f64(b)
        out = np.einsum(spec, x, y).shape
        cases.append(Case(f"dot {name}", [x, y],
                          lambda u, v, s=spec: np.einsum(s, u, v),
                          f"  %o = autopar.dot %a0, %a1, batch_dims = {lb} x {rb}, "
                          f"contracting_dims = {lc} x {rc} : {ref.ty(x)}, "
                          f"{ref.ty(y)} -> {ref.ttype(out, np.float64)}", out))
    x = f64((2, 3, 4))
    for kind, fn in (("sum", np.sum), ("mean", np.mean), ("max", np.max),
                     ("min", np.min)):
        for dims in ([1], [0, 2]):
            out = fn(x, axis=tuple(dims)).shape
            cases.append(Case(f"reduce {kind} {dims}", [x],
                              lambda v, f=fn, d=tuple(dims): f(v, axis=d),
                              f"  %o = autopar.reduce {kind} %a0, dims = {dims} : "
                              f"{ref.ty(x)} -> {ref.ttype(out, np.float64)}",
                              out))
    cases.append(Case("reshape", [x], lambda v: v.reshape(6, 4),
                      f"  %o = autopar.reshape %a0 : {ref.ty(x)} -> tensor<6x4xf64>",
                      (6, 4)))
    cases.append(Case("transpose", [x], lambda v: v.transpose(2, 0, 1),
                      f"  %o = autopar.transpose %a0, perm = [2, 0, 1] : "
                      f"{ref.ty(x)} -> tensor<4x2x3xf64>", (4, 2, 3)))
    s = f64((3, 1))
    cases.append(Case("broadcast", [s],
                      lambda v: ref.bcast(v, (2, 3, 4), [1, 2]),
                      f"  %o = autopar.broadcast %a0, dims = [1, 2] : "
                      f"{ref.ty(s)} -> tensor<2x3x4xf64>", (2, 3, 4)))
    cases.append(Case("slice", [x], lambda v: v[:, 1:3, 1:],
                      f"  %o = autopar.slice %a0, start = [0, 1, 1], limit = "
                      f"[2, 3, 4], strides = [1, 1, 1] : {ref.ty(x)} -> "
                      f"tensor<2x2x3xf64>", (2, 2, 3)))
    table = f64((6, 3))
    ids = np.array([[1, 4, 1], [0, 5, -1]])  # repeated and negative ids
    cases.append(Case("gather (repeated, negative indices)", [table],
                      lambda t, i: np.take(t, np.where(i < 0, i + 6, i), axis=0),
                      f"  %o = autopar.gather %a0, %e0, axis = 0 : {ref.ty(table)}, "
                      f"tensor<2x3xi64> -> tensor<2x3x3xf64>", (2, 3, 3),
                      extra=[ids]))
    cases.append(Case("embedding", [table],
                      lambda t, i: t[np.where(i < 0, i + 6, i)],
                      f"  %o = autopar.embedding %a0, %e0 : {ref.ty(table)}, "
                      f"tensor<2x3xi64> -> tensor<2x3x3xf64>", (2, 3, 3),
                      extra=[ids]))

    def scatter(t, u, i):
        out = t.copy()
        np.add.at(out, (slice(None), i), u)
        return out

    tt, uu = f64((2, 5)), f64((2, 3))
    cases.append(Case("scatter_add", [tt, uu], scatter,
                      f"  %o = autopar.scatter_add %a0, %e0, %a1, axis = 1 : "
                      f"{ref.ty(tt)}, tensor<3xi64>, {ref.ty(uu)} -> {ref.ty(tt)}",
                      (2, 5), extra=[np.array([4, 0, 4])]))
    u, v = f64((2, 2)), f64((2, 3))
    cases.append(Case("concat", [u, v],
                      lambda p, q: np.concatenate([p, q], axis=1),
                      f"  %o = autopar.concat(%a0, %a1) dim = 1 : {ref.ty(u)}, "
                      f"{ref.ty(v)} -> tensor<2x5xf64>", (2, 5)))
    return cases


def composite_cases():
    cases = []
    x = f64((3, 5))
    for op, fn in (("softmax", lambda v: np.exp(v) / np.exp(v).sum(1, keepdims=True)),
                   ("log_softmax", lambda v: v - np.log(np.exp(v).sum(1, keepdims=True)))):
        cases.append(Case(op, [x], fn,
                          f"  %o = autopar.{op} %a0, axis = 1 : {ref.ty(x)}",
                          x.shape))
    g, b = f64((5,)), f64((5,))
    cases.append(Case("layer_norm", [x, g, b],
                      lambda v, p, q: ref.layer_norm(v, p, q, 1, 1e-5),
                      f"  %o = autopar.layer_norm %a0, %a1, %a2, axis = 1, "
                      f"epsilon = 1.0e-05 : {ref.ty(x)}, {ref.ty(g)} -> {ref.ty(x)}",
                      x.shape))
    cases.append(Case("rms_norm", [x, g],
                      lambda v, p: ref.rms_norm(v, p, 1, 1e-6),
                      f"  %o = autopar.rms_norm %a0, %a1, axis = 1, "
                      f"epsilon = 1.0e-06 : {ref.ty(x)}, {ref.ty(g)} -> {ref.ty(x)}",
                      x.shape))
    w, bias = f64((5, 4)), f64((4,))
    cases.append(Case("linear", [x, w, bias], lambda v, p, q: v @ p + q,
                      f"  %o = autopar.linear %a0, %a1, %a2 : {ref.ty(x)}, "
                      f"{ref.ty(w)}, {ref.ty(bias)} -> tensor<3x4xf64>", (3, 4)))
    q, k, vv = f64((2, 3, 4)), f64((2, 3, 4)), f64((2, 3, 4))
    cases.append(Case("attention causal", [q, k, vv],
                      lambda a, c, d: ref.attention(a, c, d, causal=True),
                      f"  %o = autopar.attention %a0, %a1, %a2 {{causal}} : "
                      f"{ref.ty(q)}, {ref.ty(k)}, {ref.ty(vv)} -> {ref.ty(q)}",
                      q.shape))
    labels = np.array([0, 4, 2])
    cases.append(Case("cross_entropy", [x],
                      lambda v, y: ref.cross_entropy(v, y),
                      f"  %o = autopar.cross_entropy %a0, %e0 : {ref.ty(x)}, "
                      f"tensor<3xi64> -> tensor<f64>", (), extra=[labels]))
    return cases


GROUPS = {"unary": unary_cases, "binary": binary_cases,
          "structure": structure_cases, "composite": composite_cases}


def main():
    group = sys.argv[1]
    failures = 0
    cases = GROUPS[group]()
    with tempfile.TemporaryDirectory() as work:
        for case in cases:
            problem = check(case, work)
            if problem:
                failures += 1
                print(f"FAIL {case.name}: {problem}")
            else:
                print(f"PASS {case.name}")
    print(f"gradcheck {group}: {len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
