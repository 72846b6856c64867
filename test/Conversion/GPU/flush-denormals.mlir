// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(gpu.module(autopar-flush-denormals))' | FileCheck %s
// RUN: autopar-opt %s -split-input-file --pass-pipeline='builtin.module(gpu.module(autopar-flush-denormals),gpu-module-to-binary{format=isa})' | FileCheck %s --check-prefix=PTX

// The module asks libdevice for its flush-to-zero paths; an f32 division
// marked approximate becomes div.approx.ftz, a vector of them a lane at a
// time. Exact divisions and other types stay.
// CHECK-LABEL: gpu.module @kernels
// CHECK-NEXT: llvm.module_flags [#llvm.mlir.module_flag<override, "nvvm-reflect-ftz", 1 : i32>]
// CHECK-LABEL: llvm.func @divide
// CHECK: %[[Q:.*]] = llvm.call_intrinsic "llvm.nvvm.div.approx.ftz.f"(%arg0, %arg1) : (f32, f32) -> f32
// CHECK: llvm.fdiv %[[Q]], %arg1 : f32
// CHECK: llvm.fdiv %arg2, %arg3 {fastmathFlags = #llvm.fastmath<afn>} : f64
// CHECK: %[[P:.*]] = llvm.mlir.poison : vector<2xf32>
// CHECK: %[[A0:.*]] = llvm.extractelement %arg4[%[[I0:.*]] : i32] : vector<2xf32>
// CHECK: %[[B0:.*]] = llvm.extractelement %arg5[%[[I0]] : i32] : vector<2xf32>
// CHECK: %[[D0:.*]] = llvm.call_intrinsic "llvm.nvvm.div.approx.ftz.f"(%[[A0]], %[[B0]])
// CHECK: %[[V0:.*]] = llvm.insertelement %[[D0]], %[[P]][%[[I0]] : i32] : vector<2xf32>
// CHECK: %[[D1:.*]] = llvm.call_intrinsic "llvm.nvvm.div.approx.ftz.f"
// CHECK: %[[V1:.*]] = llvm.insertelement %[[D1]], %[[V0]]
// CHECK: llvm.store %[[V1]]
// CHECK-NOT: llvm.fdiv {{.*}} vector
// The functions' own arithmetic keeps denormals (no .ftz on the bf16
// widening, which would be an F2F instruction instead of a shift), while
// libdevice's exponential and reciprocal square root take .ftz.
// PTX-LABEL: gpu.binary @kernels
// PTX-NOT: div.approx.f32
// PTX-SAME: div.approx.ftz.f32
// PTX-NOT: div.approx.f32
// PTX-SAME: div.rn.f32
// PTX-NOT: div.approx.f32
// PTX-SAME: .entry exponential
// PTX-NOT: cvt.ftz
// PTX-SAME: cvt.f32.bf16
// PTX-SAME: ex2.approx.ftz.f32
// PTX-SAME: rsqrt.approx.ftz.f32
gpu.module @kernels [#nvvm.target<chip = "sm_90", features = "+ptx80">] {
  llvm.func @__nv_fast_expf(f32) -> f32
  llvm.func @__nv_rsqrtf(f32) -> f32
  llvm.func @divide(%a: f32, %b: f32, %c: f64, %d: f64, %v: vector<2xf32>,
                    %w: vector<2xf32>, %out: !llvm.ptr, %out64: !llvm.ptr,
                    %outv: !llvm.ptr) {
    %q = llvm.fdiv %a, %b {fastmathFlags = #llvm.fastmath<afn>} : f32
    %r = llvm.fdiv %q, %b : f32
    %s = llvm.fdiv %c, %d {fastmathFlags = #llvm.fastmath<afn>} : f64
    %x = llvm.fdiv %v, %w {fastmathFlags = #llvm.fastmath<afn>} : vector<2xf32>
    llvm.store %r, %out : f32, !llvm.ptr
    llvm.store %s, %out64 : f64, !llvm.ptr
    llvm.store %x, %outv : vector<2xf32>, !llvm.ptr
    llvm.return
  }
  llvm.func @exponential(%in: !llvm.ptr, %out: !llvm.ptr) attributes {nvvm.kernel} {
    %x = llvm.load %in : !llvm.ptr -> bf16
    %y = llvm.fpext %x : bf16 to f32
    %e = llvm.call @__nv_fast_expf(%y) : (f32) -> f32
    %r = llvm.call @__nv_rsqrtf(%e) : (f32) -> f32
    llvm.store %r, %out : f32, !llvm.ptr
    llvm.return
  }
}

// -----

// Other module flags stay; the flag joins them.
// CHECK-LABEL: gpu.module @flagged
// CHECK-NEXT: llvm.module_flags [#llvm.mlir.module_flag<max, "PIC Level", 2 : i32>, #llvm.mlir.module_flag<override, "nvvm-reflect-ftz", 1 : i32>]
// CHECK-NOT: llvm.module_flags
gpu.module @flagged [#nvvm.target<chip = "sm_90", features = "+ptx80">] {
  llvm.module_flags [#llvm.mlir.module_flag<max, "PIC Level", 2 : i32>]
}

// -----

// Already flushing: unchanged.
// CHECK-LABEL: gpu.module @flushing
// CHECK-NEXT: llvm.module_flags [#llvm.mlir.module_flag<override, "nvvm-reflect-ftz", 1 : i32>]
// CHECK-NEXT: }
gpu.module @flushing [#nvvm.target<chip = "sm_90", features = "+ptx80">] {
  llvm.module_flags [#llvm.mlir.module_flag<override, "nvvm-reflect-ftz", 1 : i32>]
}
