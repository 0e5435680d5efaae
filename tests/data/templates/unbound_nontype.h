// unbound_nontype.h - a non-type template parameter no param or derive binds.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK,
          int UNROLL>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK * UNROLL; }
