// bool_value.h - a bool template parameter given the value 2.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune param FAST = 0, 1, 2
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK, bool FAST>
__device__ void k(float *y) { y[at_thread_idx_x()] = FAST ? BLOCK : 0; }
