//===- FakeStep.cpp - a step library for StepLibraryTest
//-------------------===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// What autopar-compile's step library exports, the packed wrappers
// _mlir__mlir_ciface_NAME(void **args) (args[i] points to a pointer to
// argument i's memref descriptor; results are trailing out-parameters),
// for a model small enough to compute by hand: a trained parameter p (3
// floats), a frozen one q (2 floats), one optimizer state slot s.
//   forward_backward(x: i64[3], y: i64[1], p, q) -> (loss, dp):
//     loss = sum(p * x) + sum(q) + y, dp = x
//   forward_backward_scaled(x, y, p, q, scale) -> (loss, dp):
//     the same with dp = x * scale
//   optimizer_step(p, dp, s, lr, count) -> (p', s'):
//     s' = s + dp, p' = p - lr * s' / count
//
//===----------------------------------------------------------------------===//

#include <cstdint>

namespace {
template <typename T> T *data(void **args, int i) {
  auto *descriptor = *static_cast<int64_t **>(args[i]);
  return reinterpret_cast<T *>(descriptor[1]) + descriptor[2];
}

void forwardBackward(void **args, float scale, int firstResult) {
  const int64_t *x = data<int64_t>(args, 0), *y = data<int64_t>(args, 1);
  const float *p = data<float>(args, 2), *q = data<float>(args, 3);
  float *loss = data<float>(args, firstResult);
  float *dp = data<float>(args, firstResult + 1);
  *loss = q[0] + q[1] + float(y[0]);
  for (int i = 0; i < 3; ++i) {
    *loss += p[i] * float(x[i]);
    dp[i] = float(x[i]) * scale;
  }
}
} // namespace

extern "C" {
void _mlir__mlir_ciface_forward_backward(void **args) {
  forwardBackward(args, 1.0f, 4);
}
void _mlir__mlir_ciface_forward_backward_scaled(void **args) {
  forwardBackward(args, *data<float>(args, 4), 5);
}
void _mlir__mlir_ciface_optimizer_step(void **args) {
  const float *p = data<float>(args, 0), *dp = data<float>(args, 1),
              *s = data<float>(args, 2);
  float lr = *data<float>(args, 3), count = *data<float>(args, 4);
  float *pOut = data<float>(args, 5), *sOut = data<float>(args, 6);
  for (int i = 0; i < 3; ++i) {
    sOut[i] = s[i] + dp[i];
    pOut[i] = p[i] - lr * sOut[i] / count;
  }
}
}
