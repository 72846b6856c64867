// RUN: autopar-opt %s --autopar-lower-to-cuda | FileCheck %s
// RUN: autopar-opt %s --autopar-lower-to-cuda="chip=sm_80 features=+ptx70" | FileCheck %s --check-prefix=A100

// Elementwise chains become one fused kernel, a softmax its kernels with
// the reductions inside; every kernel is compiled to PTX for sm_90 (PTX 8.0)
// and launched from the host function. No GPU is needed to compile.
// CHECK-LABEL: func.func @gelu_mul
// CHECK: gpu.launch_func @gelu_mul_kernel::@gelu_mul_kernel
// CHECK-NOT: gpu.launch_func
// CHECK: gpu.binary @gelu_mul_kernel [#gpu.object<#nvvm.target<chip = "sm_90", features = "+ptx80">
// CHECK-SAME: .version 8.0
// CHECK-SAME: .target sm_90
// CHECK-SAME: .entry gelu_mul_kernel
// CHECK-LABEL: func.func @softmax
// CHECK: gpu.launch_func
// CHECK: gpu.binary @softmax_kernel
// A100: #nvvm.target<chip = "sm_80", features = "+ptx70">
// A100-SAME: .target sm_80
func.func @gelu_mul(%a: tensor<1024xf32>, %b: tensor<1024xf32>) -> tensor<1024xf32> {
  %0 = autopar.mul %a, %b : tensor<1024xf32>
  %1 = autopar.gelu %0 : tensor<1024xf32>
  return %1 : tensor<1024xf32>
}

func.func @softmax(%x: tensor<8x64xf32>) -> tensor<8x64xf32> {
  %0 = autopar.softmax %x, axis = 1 : tensor<8x64xf32>
  return %0 : tensor<8x64xf32>
}
