// clang_error.h - C++ that does not compile: an undeclared identifier in the body.
#include "at_common.h"
#pragma autotune kernel k
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(float *y)
{
  y[at_thread_idx_x()] = BLOCK + undeclared_thing;
}
