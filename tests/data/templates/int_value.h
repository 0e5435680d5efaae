// int_value.h - an int template parameter given a value beyond int32.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 0x100000000
#pragma autotune threads 64
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK; }
