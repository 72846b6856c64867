// RUN: autopar-opt %s --autopar-lower-to-cuda="host=false" | FileCheck %s
// RUN: autopar-opt %s --autopar-lower-to-cuda="host=false" | FileCheck %s --check-prefix=PTX
// RUN: autopar-opt %s --autopar-lower-to-cuda="chip=sm_80 features=+ptx70 host=false" | FileCheck %s --check-prefix=A100
// RUN: autopar-opt %s --autopar-lower-to-cuda | FileCheck %s --check-prefix=HOST
// RUN: autopar-opt %s --autopar-lower-to-cuda="host=false narrow-results=false" | FileCheck %s --check-prefix=WIDE
// RUN: autopar-opt %s --autopar-lower-to-cuda="host=false warp-row-length=0" | FileCheck %s --check-prefix=BLOCKROWS
// RUN: autopar-opt %s --autopar-lower-to-cuda="host=false approximate-erf=false" | FileCheck %s --check-prefix=LIBDEVICE
// RUN: autopar-opt %s --autopar-lower-to-cuda="host=false fast-exp=false" | FileCheck %s --check-prefix=LIBEXP
// RUN: autopar-opt %s --autopar-lower-to-cuda="host=false fast-div=false" | FileCheck %s --check-prefix=IEEEDIV
// RUN: autopar-opt %s --autopar-lower-to-cuda="host=false flush-denormals=false" | FileCheck %s --check-prefix=DENORMALS
// RUN: autopar-opt %s --autopar-lower-to-cuda | mlir-translate --mlir-to-llvmir -o %t.ll
// RUN: FileCheck %s --check-prefix=LLVM < %t.ll
// The runtime (runtime/cuda) defines every mgpu* function the host code
// calls, and the cuBLAS contraction.
// RUN: grep -o '^declare [^@]*@\(mgpu\|_mlir_ciface_autopar_cuda_\)[A-Za-z0-9_]*' %t.ll | sed 's/.*@//' | sort -u > %t.calls
// RUN: nm -D --defined-only %autopar_lib/libautopar_cuda_runtime.so | awk '{print $3}' | grep '^\(mgpu\|_mlir_ciface_autopar_cuda_\)' | sort -u > %t.defined
// RUN: comm -23 %t.calls %t.defined | count 0
// RUN: cat %t.calls | FileCheck %s --check-prefix=CALLS

// Elementwise chains become one fused kernel of 256-thread blocks, each
// thread reading and writing 4 floats at once (1000 elements: 250 threads,
// one block; 16-byte vector loads and stores); a softmax one kernel (autopar-fuse-rows): a warp
// per row (rows of 64 elements), the 8 rows one block of 8 warps, its max
// and sum combined from the lanes' partials with shuffles (no barrier),
// no buffer for either; with warp-row-length=0, a block of 64 threads per
// row (gpu.all_reduce: shuffles, shared memory and barriers). Buffers are device
// memory, kernels queue on one stream; every kernel is compiled to PTX for
// sm_90 (PTX 8.0). No GPU is needed to compile. Constant bounds and sizes
// are sunk into the kernels (gpu-launch-sink-index-computations): a kernel
// takes only its buffers, and its index arithmetic divides by constants
// (gpt2-small's bf16 step had 3526 64-bit divisions by kernel parameters).
// CHECK-LABEL: func.func @gelu_mul
// CHECK-SAME: %arg2: memref<1000xf32>
// CHECK: gpu.launch_func async [%{{.*}}] @gelu_mul_kernel::@gelu_mul_kernel blocks in (%c1, %c1, %c1) threads in (%c256, %c1, %c1)  args(%arg0 : memref<1000xf32>, %arg1 : memref<1000xf32>, %arg2 : memref<1000xf32>){{$}}
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.wait [%{{.*}}]
// CHECK-LABEL: func.func @softmax
// CHECK-NOT: gpu.alloc
// CHECK: gpu.launch_func async [%{{.*}}] @softmax_kernel::@softmax_kernel blocks in (%c1, %c1, %c1) threads in (%c32, %c8, %c1)
// CHECK-NOT: gpu.launch_func
// CHECK-NOT: gpu.alloc
// CHECK: return
// PTX: gpu.binary @gelu_mul_kernel [#gpu.object<#nvvm.target<chip = "sm_90", features = "+ptx80">
// PTX-SAME: .version 8.0
// PTX-SAME: .target sm_90
// PTX-SAME: .entry gelu_mul_kernel
// PTX-SAME: ld.global.v4.b32
// GELU's erf is two branch-free polynomial pieces (approximate-erf): the
// argument clamped for the second (min), one ex2 and the sign restored,
// no division; libdevice's erf branches on the argument instead. The
// libdevice functions it calls (exp2, fma, min) take their flush-to-zero
// paths (flush-denormals): each exponential one SASS instruction instead
// of four.
// PTX-NOT: div.
// PTX-SAME: min.ftz.f32
// PTX-SAME: ex2.approx.ftz.f32
// PTX-SAME: copysign.f32
// PTX-NOT: div.
// PTX-SAME: st.global.v4.b32
// The softmax's exponentials are CUDA's __expf (fast-exp): a
// multiplication by log2 e and one ex2.approx, not libdevice's range
// reduction (its constant 0x3BBB989D, ex2.approx.ftz).
// PTX: gpu.binary @softmax_kernel
// PTX-NOT: 0f3BBB989D
// PTX-SAME: , 0f3FB8AA3B;\0A\09ex2.approx.ftz.f32
// PTX-NOT: 0f3BBB989D
// PTX-NOT: bar.sync
// PTX-SAME: shfl.sync.bfly
// The division by the sum is div.approx (fast-div): a reciprocal and a
// multiplication, not div.rn with its Newton step and slow path.
// PTX-NOT: div.rn.f32
// PTX-SAME: div.approx.ftz.f32
// PTX-NOT: bar.sync
// PTX-NOT: div.rn.f32
// PTX-SAME: ret;
// LIBDEVICE: gpu.binary @gelu_mul_kernel
// LIBDEVICE-NOT: min.f32
// LIBDEVICE-SAME: ex2.approx.ftz.f32
// LIBDEVICE: gpu.binary @softmax_kernel
// IEEEDIV: gpu.binary @softmax_kernel
// IEEEDIV-NOT: div.approx.f32
// IEEEDIV-SAME: div.rn.f32
// IEEEDIV-NOT: div.approx.f32
// IEEEDIV-SAME: ret;
// DENORMALS: gpu.binary @gelu_mul_kernel
// DENORMALS-NOT: .ftz.
// DENORMALS-SAME: ex2.approx.f32
// DENORMALS: gpu.binary @softmax_kernel
// DENORMALS-NOT: .ftz.
// DENORMALS-SAME: , 0f3FB8AA3B;\0A\09ex2.approx.f32
// DENORMALS-NOT: .ftz.
// DENORMALS-SAME: div.approx.f32
// LIBEXP: gpu.binary @softmax_kernel
// LIBEXP-SAME: 0f3BBB989D
// LIBEXP-SAME: ex2.approx.ftz.f32
// BLOCKROWS-LABEL: func.func @softmax
// BLOCKROWS: gpu.launch_func async [%{{.*}}] @softmax_kernel::@softmax_kernel blocks in (%c8, %c1, %c1) threads in (%c64, %c1, %c1)
// BLOCKROWS: gpu.binary @softmax_kernel
// BLOCKROWS-SAME: bar.sync
// Matrix products call cuBLAS through the runtime, with device buffers; the
// result's zero fill is a kernel.
// CHECK-LABEL: func.func @linear
// CHECK: gpu.launch_func
// CHECK: call @autopar_cuda_gemm_f32(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xf32>, memref<*xf32>, memref<*xf32>, memref<?xi64>) -> ()
// CHECK-NOT: scf.for
// CHECK: return
// A mixed-precision product (bf16 operands of f32 values) calls cuBLAS's
// bf16 GEMM on the rounded operands, accumulating in f32; its result,
// rounded to bf16, comes out of cuBLAS as bf16 (narrow-results) and a
// kernel widens it to f32. With narrow-results=false cuBLAS writes f32 and
// the kernel rounds it.
// CHECK-LABEL: func.func @linear_bf16
// CHECK: call @autopar_cuda_gemm_bf16_c16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xbf16>, memref<?xi64>) -> ()
// CHECK: gpu.launch_func {{.*}} args({{.*}} : memref<16x8xbf16>, {{.*}} : memref<16x8xf32>)
// CHECK: return
// WIDE-LABEL: func.func @linear_bf16
// WIDE: call @autopar_cuda_gemm_bf16(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (memref<*xbf16>, memref<*xbf16>, memref<*xf32>, memref<?xi64>) -> ()
// WIDE: gpu.launch_func
// WIDE: return
// A100: #nvvm.target<chip = "sm_80", features = "+ptx70">
// A100-SAME: .target sm_80

// The host side in the LLVM dialect: results are out-parameters, device
// buffers come from mgpuMemAlloc and go back with mgpuMemFree (the
// softmax needs none).
// HOST-NOT: func.func
// HOST: llvm.func @gelu_mul(
// HOST: llvm.call @mgpuStreamCreate()
// HOST: gpu.launch_func <%{{.*}} : !llvm.ptr> @gelu_mul_kernel::@gelu_mul_kernel
// HOST: llvm.call @mgpuStreamSynchronize
// HOST: llvm.func @softmax(
// HOST-NOT: llvm.call @mgpuMemAlloc
// HOST: llvm.func @linear(
// The runtime's contraction is queued without waiting for the kernels
// before it (autopar-async-gemm-calls): cuBLAS's legacy default stream
// runs after them anyway; the stream goes after the call.
// HOST-NOT: llvm.call @mgpuStreamSynchronize
// HOST: llvm.call @autopar_cuda_gemm_f32(
// HOST-NEXT: llvm.call @mgpuStreamDestroy
// HOST: llvm.func @linear_bf16(
// HOST: llvm.call @mgpuMemAlloc
// HOST-NOT: llvm.call @mgpuStreamSynchronize
// HOST: llvm.call @autopar_cuda_gemm_bf16_c16(
// HOST-NEXT: llvm.call @mgpuStreamDestroy
// HOST: llvm.call @mgpuMemFree
// HOST: llvm.call @mgpuStreamSynchronize
// The kernels' PTX is loaded once (by a global constructor).
// LLVM-DAG: @gelu_mul_kernel_binary = internal constant [{{[0-9]+}} x i8] c"//
// LLVM-DAG: call void @mgpuLaunchKernel(ptr %{{[0-9]+}}, i64 1, i64 1, i64 1, i64 256, i64 1, i64 1, i32 0,
// LLVM-DAG: call ptr @mgpuModuleLoadJIT(ptr @gelu_mul_kernel_binary, i32 2)
// CALLS: _mlir_ciface_autopar_cuda_gemm_bf16_c16
// CALLS: _mlir_ciface_autopar_cuda_gemm_f32
// CALLS: mgpuLaunchKernel
// CALLS: mgpuMemAlloc
// CALLS: mgpuMemFree
// CALLS: mgpuModuleGetFunction
// CALLS: mgpuModuleLoadJIT
func.func @gelu_mul(%a: tensor<1000xf32>, %b: tensor<1000xf32>) -> tensor<1000xf32> {
  %0 = autopar.mul %a, %b : tensor<1000xf32>
  %1 = autopar.gelu %0 : tensor<1000xf32>
  return %1 : tensor<1000xf32>
}

func.func @softmax(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %0 = autopar.softmax %x, axis = 1 : tensor<8x64xf32>
  return %0 : tensor<8x64xf32>
}

func.func @linear(%x: tensor<16x32xf32>, %w: tensor<32x8xf32>) -> tensor<16x8xf32> {
  %0 = autopar.dot %x, %w, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<16x32xf32>, tensor<32x8xf32> -> tensor<16x8xf32>
  return %0 : tensor<16x8xf32>
}

func.func @linear_bf16(%x: tensor<16x32xf32>, %w: tensor<32x8xf32>) -> tensor<16x8xf32> {
  %xh = autopar.convert %x : tensor<16x32xf32> -> tensor<16x32xbf16>
  %wh = autopar.convert %w : tensor<32x8xf32> -> tensor<32x8xbf16>
  %0 = autopar.dot %xh, %wh, batch_dims = [] x [], contracting_dims = [1] x [0] : tensor<16x32xbf16>, tensor<32x8xbf16> -> tensor<16x8xbf16>
  %1 = autopar.convert %0 : tensor<16x8xbf16> -> tensor<16x8xf32>
  return %1 : tensor<16x8xf32>
}
