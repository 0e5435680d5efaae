// min_blocks.h - a template with a `min_blocks` pragma, for tests/test_template.c: MB
// blocks an SM must hold (CUDA's second __launch_bounds__ argument); MB = 0 is none (the
// plain __launch_bounds__), MB = 33 is outside 0 .. 32 and refused when its variant is
// emitted. Each thread copies one element.
#include "at_common.h"

#pragma autotune kernel min_blocks
#pragma autotune problem N
#pragma autotune param MB = 1, 2, 0, 33
#pragma autotune threads 64
#pragma autotune grid cdiv(N, 64)
#pragma autotune min_blocks MB

template <int MB>
__device__ void min_blocks(float *y, const float *x, int N)
{
  const long i = (long)at_block_idx_x() * 64 + at_thread_idx_x();
  if (i < N)
    y[i] = x[i];
}
