// char_value.h - a signed char template parameter given 200.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64
#pragma autotune param SHIFT = 1, 200
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK, signed char SHIFT>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK << SHIFT; }
