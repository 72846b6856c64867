// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-pad-products{multiple=0}))' -verify-diagnostics

// expected-error @below {{autopar-pad-products: multiple must be at least 1, not 0}}
func.func @bad_multiple() {
  return
}
