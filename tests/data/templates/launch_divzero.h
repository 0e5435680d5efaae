// launch_divzero.h - a template whose launch shape fails for one config, for
// tests/test_tune_any.c: at B=32 the grid cdiv(N, B - 32) divides by zero. That config
// alone is rejected (docs/templates.md: an expression that fails rejects its config);
// B=64 and B=128 copy x to y, each block B - 32 consecutive elements.
#include "at_common.h"

#pragma autotune kernel launch_divzero
#pragma autotune problem N
#pragma autotune param B = 32, 64, 128
#pragma autotune threads 32
#pragma autotune grid cdiv(N, B - 32)

template <int B>
__device__ void launch_divzero(float *y, const float *x, int N)
{
  const long step = B - 32, first = (long)at_block_idx_x() * step;
  for (long i = first + at_thread_idx_x(); i < first + step && i < N; i += 32)
    y[i] = x[i];
}
