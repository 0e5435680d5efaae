// unbound_type.h - a type template parameter without a dtype pragma.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <typename T, int BLOCK>
__device__ void k(T *y) { y[at_thread_idx_x()] = BLOCK; }
