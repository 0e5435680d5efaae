// unsigned_value.h - an unsigned template parameter given -1.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune param PAD = -1, 0, 1
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK, unsigned PAD>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK + PAD; }
