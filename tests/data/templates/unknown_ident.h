// unknown_ident.h - a require using a name nothing defines.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune problem N
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid cdiv(N, BLOCK)
#pragma autotune require BLOCK <= device.max_thread
template <int BLOCK>
__device__ void k(float *y) { y[at_thread_idx_x()] = BLOCK; }
