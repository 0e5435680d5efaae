// dup_threads.h - two threads pragmas.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
#pragma autotune threads 2 * BLOCK
template <int BLOCK>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK; }
