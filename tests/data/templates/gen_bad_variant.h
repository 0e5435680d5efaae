// gen_bad_variant.h - a template whose VEC=4 variants fail to compile (a static_assert
// that only their instantiation trips), for test_generate: those variants must come out
// compile_error with their own log, every other one ok.
#include "at_common.h"

#pragma autotune kernel bad_variant
#pragma autotune problem N
#pragma autotune param BLOCK = 64, 128, 256
#pragma autotune param VEC = 1, 2, 4
#pragma autotune threads BLOCK
#pragma autotune grid cdiv(N, BLOCK * VEC)

template <int BLOCK, int VEC>
__device__ void bad_variant(float *y, int N)
{
  static_assert(VEC != 4, "VEC=4 is broken on purpose");
  long i = ((long)at_block_idx_x() * BLOCK + at_thread_idx_x()) * VEC;
  for (int v = 0; v < VEC; v++)
    if (i + v < N)
      y[i + v] = 2.0f * y[i + v];
}
