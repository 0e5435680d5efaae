// derive_later.h - a derived value using a param declared after it.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune derive ITEMS = BLOCK * VEC
#pragma autotune param VEC = 1, 2
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK, int VEC>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK * VEC; }
