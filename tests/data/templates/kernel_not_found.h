// kernel_not_found.h - the kernel pragma names a function the file lacks.
#include "at_common.h"
#pragma autotune kernel scale
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void scal(float *y) { y[at_thread_idx_x()] = BLOCK; }
