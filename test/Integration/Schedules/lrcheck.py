"""autopar-lr's schedules against torch.optim.lr_scheduler.

The LR of step n is what a PyTorch loop (optimizer.step(), then
scheduler.step()) uses at its n-th step. 60 steps per configuration;
relative error <= 1e-9 (torch's recursive forms accumulate rounding).
"""

import os
import subprocess
import sys
import warnings

import torch

warnings.filterwarnings("ignore")
BIN = os.environ["AUTOPAR_BIN_DIR"]
S = torch.optim.lr_scheduler
STEPS = 60

CONFIGS = [
    ("constant", "constant", lambda o: S.LambdaLR(o, lambda e: 1.0), None),
    ("step", "step:step_size=7,gamma=0.5", lambda o: S.StepLR(o, 7, 0.5), None),
    ("multistep", "multistep:milestones=5;12;40,gamma=0.3",
     lambda o: S.MultiStepLR(o, [5, 12, 40], 0.3), None),
    ("exponential", "exponential:gamma=0.95",
     lambda o: S.ExponentialLR(o, 0.95), None),
    ("cosine", "cosine:t_max=25,eta_min=0.001",
     lambda o: S.CosineAnnealingLR(o, 25, 0.001), None),
    ("cosine restarts", "cosine_restarts:t_0=10,eta_min=0.002",
     lambda o: S.CosineAnnealingWarmRestarts(o, 10, 1, 0.002), None),
    ("cosine restarts t_mult 2", "cosine_restarts:t_0=5,t_mult=2",
     lambda o: S.CosineAnnealingWarmRestarts(o, 5, 2), None),
    ("cyclic triangular",
     "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=6,step_size_down=9",
     lambda o: S.CyclicLR(o, 0.01, 0.1, 6, 9, cycle_momentum=False), None),
    ("cyclic triangular2",
     "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=5,mode=triangular2",
     lambda o: S.CyclicLR(o, 0.01, 0.1, 5, mode="triangular2",
                          cycle_momentum=False), None),
    ("cyclic exp_range",
     "cyclic:base_lr=0.01,max_lr=0.1,step_size_up=5,mode=exp_range,gamma=0.97",
     lambda o: S.CyclicLR(o, 0.01, 0.1, 5, mode="exp_range", gamma=0.97,
                          cycle_momentum=False), None),
    ("onecycle", "onecycle:max_lr=0.5,total_steps=60",
     lambda o: S.OneCycleLR(o, 0.5, total_steps=60, cycle_momentum=False),
     None),
    ("onecycle linear", "onecycle:max_lr=0.5,total_steps=61,pct_start=0.25,"
     "anneal=linear,div_factor=10,final_div_factor=100",
     lambda o: S.OneCycleLR(o, 0.5, total_steps=61, pct_start=0.25,
                            anneal_strategy="linear", div_factor=10,
                            final_div_factor=100, cycle_momentum=False), None),
    ("warmup + cosine", "cosine:t_max=40", lambda o: S.CosineAnnealingLR(o, 40),
     (8, 0.1)),
    ("warmup + step", "step:step_size=10,gamma=0.5",
     lambda o: S.StepLR(o, 10, 0.5), (5, 0.2)),
]


def torch_lrs(make, warmup):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    if warmup:
        steps, start = warmup
        first = S.LinearLR(opt, start_factor=start, total_iters=steps)
        sched = S.SequentialLR(opt, [first, make(opt)], milestones=[steps])
    else:
        sched = make(opt)
    lrs = []
    for _ in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def main():
    failures = 0
    for name, spec, make, warmup in CONFIGS:
        args = [os.path.join(BIN, "autopar-lr"), "--lr=0.1", "--schedule=" + spec,
                f"--steps={STEPS}"]
        if warmup:
            args += [f"--warmup-steps={warmup[0]}", f"--warmup-start={warmup[1]}"]
        out = subprocess.run(args, capture_output=True, text=True)
        if out.returncode:
            print(f"FAIL {name}: {out.stderr.strip()}")
            failures += 1
            continue
        mine = [float(line.split()[1]) for line in out.stdout.splitlines()]
        theirs = torch_lrs(make, warmup)
        bad = [(i + 1, a, b) for i, (a, b) in enumerate(zip(mine, theirs))
               if abs(a - b) > 1e-9 * max(abs(b), 1e-12)]
        if bad:
            failures += 1
            step, a, b = bad[0]
            print(f"FAIL {name}: step {step}: autopar {a!r}, torch {b!r}")
        else:
            print(f"PASS {name}")
    print(f"schedules: {len(CONFIGS) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
