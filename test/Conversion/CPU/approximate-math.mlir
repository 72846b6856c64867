// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-approximate-math))' | FileCheck %s
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-approximate-math{erf-only}))' | FileCheck %s --check-prefix=ERF

// f32 exp, erf and tanh become polynomial code (no libm call, vectorizable);
// f64 keeps the math op, which lowers to libm.
// CHECK-LABEL: func.func @approximated
// CHECK-NOT: math.exp
// CHECK-NOT: math.erf
// CHECK-NOT: math.tanh
// CHECK: math.fma
// No division is made approximate (the CPU's polynomials):
// CHECK-NOT: fastmath<afn>
// CHECK: return
func.func @approximated(%x: f32, %y: f32) -> f32 {
  %0 = math.exp %x : f32
  %1 = math.erf %0 : f32
  %2 = math.tanh %1 : f32
  %3 = arith.divf %2, %y : f32
  return %3 : f32
}

// CHECK-LABEL: func.func @kept
// CHECK: math.exp %{{.*}} : f64
func.func @kept(%x: f64) -> f64 {
  %0 = math.exp %x : f64
  return %0 : f64
}

// erf-only (the CUDA pipeline): erf alone becomes two branch-free
// polynomial pieces (x + x r(x^2) below 0.921875, 1 - 2^q(|x|) above, its
// sign restored, one selected: no coefficient selects, no division); exp
// and tanh stay for the GPU's own instructions, and the function's own
// division keeps its rounding.
// ERF-LABEL: func.func @approximated
// ERF: %[[X:.*]] = math.exp %{{.*}} : f32
// ERF-NOT: math.erf
// ERF: %[[S:.*]] = arith.mulf %[[X]], %[[X]] : f32
// ERF-COUNT-5: math.fma %{{.*}}, %[[S]], %{{.*}} : f32
// ERF: %[[BELOW:.*]] = math.fma %[[X]], %{{.*}}, %[[X]] : f32
// ERF: %[[ABS:.*]] = math.absf %[[X]] : f32
// ERF: %[[A:.*]] = arith.minnumf %[[ABS]], %{{.*}} : f32
// ERF-COUNT-7: math.fma %{{.*}}, %[[A]], %{{.*}} : f32
// ERF: %[[P:.*]] = math.exp2 %{{.*}} fastmath<afn> : f32
// ERF: %[[ONE:.*]] = arith.subf %{{.*}}, %[[P]] : f32
// ERF: %[[ABOVE:.*]] = math.copysign %[[ONE]], %[[X]] : f32
// ERF: %[[FIRST:.*]] = arith.cmpf ult, %[[ABS]], %{{.*}} : f32
// ERF: %[[E:.*]] = arith.select %[[FIRST]], %[[BELOW]], %[[ABOVE]] : f32
// ERF: math.tanh %[[E]] : f32
// ERF-NOT: afn
// ERF: %[[OWN:.*]] = arith.divf %{{.*}}, %arg1 : f32
// ERF: return %[[OWN]]

// fast-exp (the CUDA pipeline): each f32 exp gets fastmath<afn>, which the
// NVVM lowering makes one multiplication and ex2.approx; nothing else
// changes unless erf-only too (then erf is the two pieces), and f64 keeps
// its exact exp.
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-approximate-math{fast-exp}))' | FileCheck %s --check-prefix=EXP
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-approximate-math{erf-only fast-exp}))' | FileCheck %s --check-prefix=BOTH
// EXP-LABEL: func.func @approximated
// EXP: math.exp %{{.*}} fastmath<afn> : f32
// EXP: math.erf %{{.*}} : f32
// EXP: math.tanh %{{.*}} : f32
// EXP-NOT: fastmath
// EXP: return
// EXP-LABEL: func.func @kept
// EXP: math.exp %{{.*}} : f64
// EXP-NOT: fastmath
// BOTH-LABEL: func.func @approximated
// BOTH: math.exp %{{.*}} fastmath<afn> : f32
// BOTH-NOT: math.erf
// BOTH: math.exp2 %{{.*}} fastmath<afn> : f32
// BOTH: return

// fast-div (the CUDA pipeline): each f32 division and square root gets
// fastmath<afn> (div.approx and sqrt.approx on the GPU); exp keeps its
// flags unless fast-exp, f64 keeps its exact division and square root.
// RUN: autopar-opt %s --pass-pipeline='builtin.module(func.func(autopar-approximate-math{fast-div}))' | FileCheck %s --check-prefix=DIV
// DIV-LABEL: func.func @approximated
// DIV: math.exp %{{.*}} : f32
// DIV: math.erf %{{.*}} : f32
// DIV: math.tanh %{{.*}} : f32
// DIV: arith.divf %{{.*}}, %arg1 fastmath<afn> : f32
// DIV: return
// DIV-LABEL: func.func @divided
// DIV: math.sqrt %{{.*}} fastmath<afn> : f32
// DIV: arith.divf %{{.*}} fastmath<afn> : f32
// DIV: math.sqrt %{{.*}} : f64
// DIV-NOT: fastmath
// DIV: arith.divf %{{.*}} : f64
// DIV-NOT: fastmath
// DIV: return
func.func @divided(%x: f32, %y: f32, %u: f64, %v: f64) -> (f32, f64) {
  %0 = math.sqrt %y : f32
  %1 = arith.divf %x, %0 : f32
  %2 = math.sqrt %v : f64
  %3 = arith.divf %u, %2 : f64
  return %1, %3 : f32, f64
}
