// RUN: autopar-opt %s --pass-pipeline='builtin.module(gpu.module(autopar-flush-denormals))' -verify-diagnostics

// A module that asks libdevice to keep denormals: the pass says so rather
// than overriding it.
gpu.module @keeping {
  // expected-error @below {{already sets nvvm-reflect-ftz to 0 : i32; cannot flush f32 denormals to zero (1)}}
  llvm.module_flags [#llvm.mlir.module_flag<override, "nvvm-reflect-ftz", 0 : i32>]
}
