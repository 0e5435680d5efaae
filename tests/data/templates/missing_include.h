// missing_include.h - includes a header no include dir holds.
#include "at_common.h"
#include "no_such_header.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK; }
