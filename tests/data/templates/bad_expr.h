// bad_expr.h - a require whose expression does not parse.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune require fits: (BLOCK + 4 <= 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK; }
