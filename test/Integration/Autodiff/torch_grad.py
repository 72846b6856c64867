"""autopar-autodiff's gradient of an MLP classifier loss (linear, GELU,
layer norm, linear, cross-entropy) against torch's autograd in float64:
max abs error <= 1e-12."""

import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

BIN = os.environ["AUTOPAR_BIN_DIR"]
MODULE = """
func.func @loss(%x: tensor<6x5xf64> {autopar.role = "input"},
                %w1: tensor<5x8xf64> {autopar.role = "param"},
                %b1: tensor<8xf64> {autopar.role = "param"},
                %g: tensor<8xf64> {autopar.role = "param"},
                %be: tensor<8xf64> {autopar.role = "param"},
                %w2: tensor<8x3xf64> {autopar.role = "param"},
                %y: tensor<6xi64> {autopar.role = "input"}) -> tensor<f64> {
  %h = autopar.linear %x, %w1, %b1 : tensor<6x5xf64>, tensor<5x8xf64>, tensor<8xf64> -> tensor<6x8xf64>
  %a = autopar.gelu %h : tensor<6x8xf64>
  %n = autopar.layer_norm %a, %g, %be, axis = 1, epsilon = 1.0e-05 : tensor<6x8xf64>, tensor<8xf64> -> tensor<6x8xf64>
  %o = autopar.linear %n, %w2 : tensor<6x8xf64>, tensor<8x3xf64> -> tensor<6x3xf64>
  %l = autopar.cross_entropy %o, %y : tensor<6x3xf64>, tensor<6xi64> -> tensor<f64>
  return %l : tensor<f64>
}
"""


def main():
    rng = np.random.default_rng(3)
    names = ["x", "w1", "b1", "g", "be", "w2"]
    shapes = [(6, 5), (5, 8), (8,), (8,), (8,), (8, 3)]
    values = [rng.standard_normal(s) for s in shapes]
    y = rng.integers(0, 3, size=6)
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "loss.mlir")
        with open(path, "w") as f:
            f.write(MODULE)
        grad = os.path.join(work, "grad.mlir")
        subprocess.run([os.path.join(BIN, "autopar-opt"), path,
                        "--autopar-autodiff", "-o", grad], check=True)
        # Parameters are normally loaded from a weights file; here every
        # argument is given as an input, so drop the roles.
        text = open(grad).read().replace('autopar.role = "param"',
                                         'autopar.role = "input"')
        with open(grad, "w") as f:
            f.write(text)
        args = [os.path.join(BIN, "autopar-run"), grad, "--entry=loss_grad",
                "--output-dir=" + os.path.join(work, "out")]
        for i, v in enumerate(values + [y]):
            np.save(os.path.join(work, f"a{i}.npy"), v)
            args.append("--input=" + os.path.join(work, f"a{i}.npy"))
        subprocess.run(args, check=True)
        got = [np.load(os.path.join(work, "out", f"result{k}.npy"))
               for k in range(6)]
    t = [torch.tensor(v, requires_grad=True) for v in values]
    x, w1, b1, g, be, w2 = t
    h = torch.nn.functional.gelu(x @ w1 + b1)
    n = torch.nn.functional.layer_norm(h, (8,), g, be, 1e-5)
    loss = torch.nn.functional.cross_entropy(n @ w2, torch.tensor(y))
    loss.backward()
    want = [loss.detach().numpy()] + [p.grad.numpy() for p in t[1:]]
    err = max(float(np.max(np.abs(a - b))) for a, b in zip(got, want))
    ok = err <= 1e-12
    print(f"torch autograd: max abs error {err:.3g}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
