//===- EmbeddedFatbin.h - an nvcc fatbin as read-only data ----*- C++ -*-===//
//-*-===//
//
// Part of the autopar project.
//
//===----------------------------------------------------------------------===//
//
// AUTOPAR_EMBED_FATBIN(symbol, path) puts the file at `path` (a fatbin that
// CMake's autopar_cuda_fatbin built from a .cu file) into the library's
// read-only data as `extern "C" const char symbol[]`, NUL-terminated, for
// mgpuModuleLoad.
//
//===----------------------------------------------------------------------===//

#ifndef AUTOPAR_RUNTIME_CUDA_EMBEDDEDFATBIN_H
#define AUTOPAR_RUNTIME_CUDA_EMBEDDEDFATBIN_H

#define AUTOPAR_EMBED_FATBIN(symbol, path)                                     \
  asm(".section .rodata\n"                                                     \
      ".balign 64\n"                                                           \
      ".globl " #symbol "\n" #symbol ":\n"                                     \
      ".incbin \"" path "\"\n"                                                 \
      ".byte 0\n"                                                              \
      ".previous\n");                                                          \
  extern "C" const char symbol[]

#endif // AUTOPAR_RUNTIME_CUDA_EMBEDDEDFATBIN_H
