# -*- Python -*-
# lit configuration of the autopar regression suite.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "AUTOPAR"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.autopar_obj_root, "test")

config.environment["FILECHECK_OPTS"] = "-enable-var-scope"
# Debian's numpy and torch belong to the system interpreter, not to the
# python3 that may come first on PATH.
config.python_executable = "/usr/bin/python3"
config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%autopar_src", config.autopar_src_root))
config.substitutions.append(
    ("%autopar_lib", os.path.join(config.autopar_obj_root, "lib")))
config.substitutions.append(("%autopar_obj", config.autopar_obj_root))
config.substitutions.append(
    ("%llvm_lib", os.path.normpath(os.path.join(config.llvm_tools_dir, "..",
                                                "lib"))))
config.environment["PYTHONPATH"] = os.path.join(config.autopar_src_root,
                                                "python")
config.environment["AUTOPAR_BIN_DIR"] = config.autopar_tools_dir

# Tests that build models with torch need Debian's python3-torch.
import subprocess
if subprocess.run([config.python_executable, "-c", "import torch, onnx"],
                  capture_output=True).returncode == 0:
    config.available_features.add("torch")
# Kernels link the CUDA toolkit's libdevice (autopar::findCUDAToolkit looks
# in $CUDA_HOME, $CUDA_PATH, $CUDA_ROOT and /usr/local/cuda); cubins
# (--gpu-format=cubin) need its ptxas on PATH too.
import shutil
for name in ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"]:
    if name in os.environ:
        config.environment[name] = os.environ[name]
if any(os.path.exists(os.path.join(d, "nvvm", "libdevice", "libdevice.10.bc"))
       for d in [os.environ.get(n, "") for n in
                 ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"]] + ["/usr/local/cuda"]
       if d):
    config.available_features.add("cuda-toolkit")
    if shutil.which("ptxas"):
        config.available_features.add("ptxas")
# Multi-process runs need OpenMPI's mpirun (as root it must be told so).
# A machine where mpirun cannot start two processes (no shared memory, a
# sandbox without process launch) skips those tests, and says why.
import shutil
if shutil.which("mpirun"):
    mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe"]
    try:
        probe = subprocess.run(mpirun + ["-np", "2", "true"],
                               capture_output=True, text=True, timeout=60)
        works, why = probe.returncode == 0, probe.stderr.strip()[-300:]
    except subprocess.TimeoutExpired:
        works, why = False, "mpirun -np 2 true did not finish in 60 s"
    if works:
        config.available_features.add("mpi")
        config.substitutions.append(("%mpirun", " ".join(mpirun)))
    else:
        lit_config.note("MPI tests skipped: mpirun -np 2 fails here: " + why)
if os.path.isdir("/usr/share/libonnx-testdata/data/node"):
    config.available_features.add("onnx-testdata")

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# Every autopar-opt call re-parses what it prints (--verify-roundtrip), so
# that each printed form is known to parse back; `lit -Droundtrip=0` turns
# that off.
opt_extra = ([] if lit_config.params.get("roundtrip", "1") == "0"
             else ["--verify-roundtrip"])

tool_dirs = [config.autopar_tools_dir, config.llvm_tools_dir]
tools = [
    ToolSubst("autopar-opt", extra_args=opt_extra, unresolved="fatal"),
    ToolSubst("autopar-run", unresolved="fatal"),
    ToolSubst("autopar-plan", unresolved="fatal"),
    ToolSubst("autopar-calibrate", unresolved="fatal"),
    ToolSubst("autopar-lr", unresolved="fatal"),
    ToolSubst("autopar-compile", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)
llvm_config.with_environment("PATH", config.autopar_tools_dir,
                             append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
