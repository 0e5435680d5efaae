// ws_not_last.h - a workspace pragma on a kernel whose last parameter is not a pointer.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
#pragma autotune workspace 4 * BLOCK
template <int BLOCK>
__device__ void k(float *y, int n) { y[at_thread_idx_x() % n] = BLOCK; }
