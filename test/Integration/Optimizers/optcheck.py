"""@optimizer_step against torch.optim, step by step, in float64.

For each optimizer configuration: two parameters (a matrix and a vector),
five steps with fresh random gradients and a changing learning rate; the
state autopar returns is fed back each step. After every step parameters
and state must match torch's within 1e-12 (relative 1e-10).
"""

import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

BIN = os.environ["AUTOPAR_BIN_DIR"]
MODULE = """
func.func @model(%w: tensor<3x4xf64> {autopar.role = "param", autopar.name = "w"},
                 %b: tensor<4xf64> {autopar.role = "param", autopar.name = "b"}) -> tensor<f64> {
  %l = autopar.reduce sum %b, dims = [0] : tensor<4xf64> -> tensor<f64>
  return %l : tensor<f64>
}
"""

CONFIGS = [
    ("sgd", "", {}, []),
    ("sgd", "momentum=0.9", {"momentum": 0.9}, ["momentum_buffer"]),
    ("sgd", "momentum=0.9 dampening=0.1 weight-decay=0.01",
     {"momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
     ["momentum_buffer"]),
    ("sgd", "momentum=0.8 nesterov=true weight-decay=0.05",
     {"momentum": 0.8, "nesterov": True, "weight_decay": 0.05},
     ["momentum_buffer"]),
    ("adam", "", {}, ["exp_avg", "exp_avg_sq"]),
    ("adam", "beta1=0.8 beta2=0.99 eps=1e-6 weight-decay=0.1",
     {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
     ["exp_avg", "exp_avg_sq"]),
    ("adamw", "", {}, ["exp_avg", "exp_avg_sq"]),
    ("adamw", "weight-decay=0.3", {"weight_decay": 0.3},
     ["exp_avg", "exp_avg_sq"]),
    ("rmsprop", "", {}, ["square_avg"]),
    ("rmsprop", "alpha=0.9 centered=true momentum=0.5 weight-decay=0.01",
     {"alpha": 0.9, "centered": True, "momentum": 0.5, "weight_decay": 0.01},
     ["square_avg", "grad_avg", "momentum_buffer"]),
    ("adagrad", "", {}, ["sum"]),
    ("adagrad", "lr-decay=0.1 weight-decay=0.02",
     {"lr_decay": 0.1, "weight_decay": 0.02}, ["sum"]),
    ("adam", "clip-grad-norm=0.5", {}, ["exp_avg", "exp_avg_sq"]),
]

TORCH = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam,
         "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop,
         "adagrad": torch.optim.Adagrad}


def run_case(name, options, kwargs, slots, work):
    rng = np.random.default_rng(11)
    src = os.path.join(work, "model.mlir")
    with open(src, "w") as f:
        f.write(MODULE)
    step_mlir = os.path.join(work, "step.mlir")
    p = subprocess.run([os.path.join(BIN, "autopar-opt"), src,
                        f"--autopar-make-optimizer-step=optimizer={name} {options}",
                        "-o", step_mlir], capture_output=True, text=True)
    if p.returncode:
        return "pass failed: " + p.stderr.strip()
    params = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    torch_params = [torch.tensor(v.copy(), requires_grad=True) for v in params]
    optim = TORCH[name](torch_params, lr=0.1, **kwargs)
    state = [np.zeros_like(v) for v in params for _ in slots]
    clip = "clip-grad-norm" in options
    for step in range(1, 6):
        lr = 0.1 / step
        grads = [rng.standard_normal(v.shape) for v in params]
        # torch
        for group in optim.param_groups:
            group["lr"] = lr
        for t, g in zip(torch_params, grads):
            t.grad = torch.tensor(g.copy())
        if clip:
            torch.nn.utils.clip_grad_norm_(torch_params, 0.5)
        optim.step()
        # autopar
        args = [os.path.join(BIN, "autopar-run"), step_mlir,
                "--entry=optimizer_step",
                "--output-dir=" + os.path.join(work, "out")]
        inputs = params + grads + state + [np.array(lr), np.array(float(step))]
        for i, v in enumerate(inputs):
            path = os.path.join(work, f"in{i}.npy")
            np.save(path, np.asarray(v, dtype=np.float64))
            args.append("--input=" + path)
        p = subprocess.run(args, capture_output=True, text=True)
        if p.returncode:
            return "autopar-run failed: " + p.stderr.strip()
        outs = [np.load(os.path.join(work, "out", f"result{k}.npy"))
                for k in range(len(params) + len(state))]
        params, state = outs[:len(params)], outs[len(params):]
        for k, (mine, theirs) in enumerate(zip(params, torch_params)):
            ref = theirs.detach().numpy()
            if not np.allclose(mine, ref, rtol=1e-10, atol=1e-12):
                return (f"step {step}: parameter {k} differs by "
                        f"{np.max(np.abs(mine - ref)):.3g}")
        for k, t in enumerate(torch_params):
            for j, slot in enumerate(slots):
                ref = optim.state[t][slot].numpy()
                mine = state[k * len(slots) + j]
                if not np.allclose(mine, ref, rtol=1e-10, atol=1e-12):
                    return (f"step {step}: state {slot} of parameter {k} "
                            f"differs by {np.max(np.abs(mine - ref)):.3g}")
    return None


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        for name, options, kwargs, slots in CONFIGS:
            problem = run_case(name, options, kwargs, slots, work)
            label = f"{name} {options}".strip()
            if problem:
                failures += 1
                print(f"FAIL {label}: {problem}")
            else:
                print(f"PASS {label}")
    print(f"optimizers: {len(CONFIGS) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
