// The CPU emulation of what runtime/cuda/Attention.cu uses (CudaEmulation.h).
#include "CudaEmulation.h"
