// bad_min_blocks.h - `min_blocks` without its expression (tests/test_template.c).
#include "at_common.h"

#pragma autotune kernel bad_min_blocks
#pragma autotune problem N
#pragma autotune threads 64
#pragma autotune grid cdiv(N, 64)
#pragma autotune min_blocks

__device__ void bad_min_blocks(float *y, int N)
{
  if ((long)at_thread_idx_x() < N)
    y[at_thread_idx_x()] = 0.0f;
}
