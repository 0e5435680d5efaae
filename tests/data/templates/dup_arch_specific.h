// dup_arch_specific.h - two arch_specific pragmas.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune arch_specific
#pragma autotune param BLOCK = 64, 128
#pragma autotune arch_specific
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK; }
