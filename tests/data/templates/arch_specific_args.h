// arch_specific_args.h - arch_specific given an argument.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune arch_specific sm_90a
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK; }
