// cluster_shape.h - a template with a `cluster` pragma, for tests/test_template.c: CX CTAs
// per cluster along x; the grid N / 64 is not rounded up, so a variant whose grid is not a
// multiple of CX is refused. Each thread copies one element.
#include "at_common.h"

#pragma autotune kernel cluster_shape
#pragma autotune problem N
#pragma autotune param CX = 1, 2, 4, 16
#pragma autotune threads 64
#pragma autotune grid N / 64
#pragma autotune cluster CX, 1

template <int CX>
__device__ void cluster_shape(float *y, const float *x, int N)
{
  const long i = (long)at_block_idx_x() * 64 + at_thread_idx_x();
  if (i < N)
    y[i] = x[i];
}
