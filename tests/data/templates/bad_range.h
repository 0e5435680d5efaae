// bad_range.h - pow2() bounds that are not powers of two.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = pow2(48, 256)
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK; }
