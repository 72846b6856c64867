"""Execute autopar functions through the `autopar-run` tool."""

import os
import shutil
import subprocess
import tempfile

import numpy as np

_REPO_BIN = os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin")


class AutoparError(RuntimeError):
    """A tool exited with an error; the message holds what it printed."""


def find_tool(name):
    """Locates an autopar tool: $AUTOPAR_BIN_DIR, then PATH, then build/bin."""
    candidates = []
    if os.environ.get("AUTOPAR_BIN_DIR"):
        candidates.append(os.path.join(os.environ["AUTOPAR_BIN_DIR"], name))
    found = shutil.which(name)
    if found:
        candidates.append(found)
    candidates.append(os.path.join(_REPO_BIN, name))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise AutoparError(f"cannot find {name}: build autopar or set AUTOPAR_BIN_DIR")


def run(module, inputs=(), entry=None, timeout=120, extra_args=()):
    """Runs `entry` of `module` (MLIR text or a path) on `inputs`.

    `extra_args` go to autopar-run as they are (e.g. its hidden
    --fuse-rows, which tests use).

    Returns the results as a list of numpy arrays. Raises AutoparError with
    the tool's diagnostics when autopar-run fails.
    """
    tool = find_tool("autopar-run")
    with tempfile.TemporaryDirectory(prefix="autopar-run-") as work:
        if os.path.isfile(module):
            path = module
        else:
            path = os.path.join(work, "module.mlir")
            with open(path, "w") as f:
                f.write(module)
        args = [tool, path, "--output-dir", os.path.join(work, "out")]
        if entry:
            args.append(f"--entry={entry}")
        args.extend(extra_args)
        for i, array in enumerate(inputs):
            name = os.path.join(work, f"input{i}.npy")
            # ascontiguousarray would turn a 0-d array into shape (1,).
            np.save(name, np.asarray(array).copy(order="C"))
            args.append(f"--input={name}")
        proc = subprocess.run(args, capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise AutoparError(proc.stderr.strip() or
                               f"autopar-run exited with {proc.returncode}")
        results = []
        while True:
            name = os.path.join(work, "out", f"result{len(results)}.npy")
            if not os.path.exists(name):
                return results
            results.append(np.load(name))
