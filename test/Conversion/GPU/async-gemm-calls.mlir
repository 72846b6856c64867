// RUN: autopar-opt %s -split-input-file --autopar-async-gemm-calls | FileCheck %s

// The wait gpu-async-region put before a contraction goes; the stream is
// destroyed after the call (its work still queued when cuBLAS's product,
// on the legacy default stream, is queued behind it).
// CHECK-LABEL: llvm.func @step
// CHECK: %[[S:.*]] = llvm.call @mgpuStreamCreate()
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: llvm.call @autopar_cuda_gemm_bf16(%arg0)
// CHECK-NEXT: llvm.call @mgpuStreamDestroy(%[[S]])
// CHECK: %[[T:.*]] = llvm.call @mgpuStreamCreate()
// CHECK-NEXT: llvm.call @mgpuStreamSynchronize(%[[T]])
// CHECK-NEXT: llvm.call @mgpuStreamDestroy(%[[T]])
// CHECK-NEXT: llvm.return
llvm.func @mgpuStreamCreate() -> !llvm.ptr
llvm.func @mgpuStreamSynchronize(!llvm.ptr)
llvm.func @mgpuStreamDestroy(!llvm.ptr)
llvm.func @autopar_cuda_gemm_bf16(!llvm.ptr)
llvm.func @step(%arg0: !llvm.ptr) {
  %0 = llvm.call @mgpuStreamCreate() : () -> !llvm.ptr
  llvm.call @mgpuStreamSynchronize(%0) : (!llvm.ptr) -> ()
  llvm.call @mgpuStreamDestroy(%0) : (!llvm.ptr) -> ()
  llvm.call @autopar_cuda_gemm_bf16(%arg0) : (!llvm.ptr) -> ()
  %1 = llvm.call @mgpuStreamCreate() : () -> !llvm.ptr
  // The function's end: the host must wait here.
  llvm.call @mgpuStreamSynchronize(%1) : (!llvm.ptr) -> ()
  llvm.call @mgpuStreamDestroy(%1) : (!llvm.ptr) -> ()
  llvm.return
}

// -----

// Other calls keep their wait: they may read what the kernels wrote.
// CHECK-LABEL: llvm.func @other
// CHECK: llvm.call @mgpuStreamSynchronize
// CHECK-NEXT: llvm.call @mgpuStreamDestroy
// CHECK-NEXT: llvm.call @print_loss
llvm.func @mgpuStreamCreate() -> !llvm.ptr
llvm.func @mgpuStreamSynchronize(!llvm.ptr)
llvm.func @mgpuStreamDestroy(!llvm.ptr)
llvm.func @print_loss(!llvm.ptr)
llvm.func @other(%arg0: !llvm.ptr) {
  %0 = llvm.call @mgpuStreamCreate() : () -> !llvm.ptr
  llvm.call @mgpuStreamSynchronize(%0) : (!llvm.ptr) -> ()
  llvm.call @mgpuStreamDestroy(%0) : (!llvm.ptr) -> ()
  llvm.call @print_loss(%arg0) : (!llvm.ptr) -> ()
  llvm.return
}

// -----

// The fused attention kernels run on the legacy default stream too.
// CHECK-LABEL: llvm.func @attention
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: llvm.call @autopar_cuda_attention_forward_bf16(%arg0)
// CHECK-NEXT: llvm.call @mgpuStreamDestroy
llvm.func @mgpuStreamCreate() -> !llvm.ptr
llvm.func @mgpuStreamSynchronize(!llvm.ptr)
llvm.func @mgpuStreamDestroy(!llvm.ptr)
llvm.func @autopar_cuda_attention_forward_bf16(!llvm.ptr)
llvm.func @attention(%arg0: !llvm.ptr) {
  %0 = llvm.call @mgpuStreamCreate() : () -> !llvm.ptr
  llvm.call @mgpuStreamSynchronize(%0) : (!llvm.ptr) -> ()
  llvm.call @mgpuStreamDestroy(%0) : (!llvm.ptr) -> ()
  llvm.call @autopar_cuda_attention_forward_bf16(%arg0) : (!llvm.ptr) -> ()
  llvm.return
}

// -----

// A ranked memref passed field by field: the descriptor is unpacked
// (llvm.extractvalue) between the wait and the call, and the wait still
// goes (gpt2-small's 24 attention calls a step).
// CHECK-LABEL: llvm.func @unpacked
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: llvm.extractvalue
// CHECK-NEXT: llvm.extractvalue
// CHECK-NEXT: llvm.call @autopar_cuda_attention_forward_lse_bf16
// CHECK-NEXT: llvm.call @mgpuStreamDestroy
llvm.func @mgpuStreamCreate() -> !llvm.ptr
llvm.func @mgpuStreamSynchronize(!llvm.ptr)
llvm.func @mgpuStreamDestroy(!llvm.ptr)
llvm.func @autopar_cuda_attention_forward_lse_bf16(!llvm.ptr, i64)
llvm.func @unpacked(%arg0: !llvm.struct<(ptr, i64)>) {
  %0 = llvm.call @mgpuStreamCreate() : () -> !llvm.ptr
  llvm.call @mgpuStreamSynchronize(%0) : (!llvm.ptr) -> ()
  llvm.call @mgpuStreamDestroy(%0) : (!llvm.ptr) -> ()
  %1 = llvm.extractvalue %arg0[0] : !llvm.struct<(ptr, i64)>
  %2 = llvm.extractvalue %arg0[1] : !llvm.struct<(ptr, i64)>
  llvm.call @autopar_cuda_attention_forward_lse_bf16(%1, %2) : (!llvm.ptr, i64) -> ()
  llvm.return
}

// -----

// A store between them may be what the call reads: the wait stays.
// CHECK-LABEL: llvm.func @stored
// CHECK: llvm.call @mgpuStreamSynchronize
// CHECK-NEXT: llvm.call @mgpuStreamDestroy
// CHECK-NEXT: llvm.store
// CHECK-NEXT: llvm.call @autopar_cuda_gemm_bf16
llvm.func @mgpuStreamCreate() -> !llvm.ptr
llvm.func @mgpuStreamSynchronize(!llvm.ptr)
llvm.func @mgpuStreamDestroy(!llvm.ptr)
llvm.func @autopar_cuda_gemm_bf16(!llvm.ptr)
llvm.func @stored(%arg0: !llvm.ptr, %arg1: i64) {
  %0 = llvm.call @mgpuStreamCreate() : () -> !llvm.ptr
  llvm.call @mgpuStreamSynchronize(%0) : (!llvm.ptr) -> ()
  llvm.call @mgpuStreamDestroy(%0) : (!llvm.ptr) -> ()
  llvm.store %arg1, %arg0 : i64, !llvm.ptr
  llvm.call @autopar_cuda_gemm_bf16(%arg0) : (!llvm.ptr) -> ()
  llvm.return
}
