// gen_spill.h - a template whose BLOCK=1024 variant spills registers on NVIDIA (1024
// threads leave 64 registers per thread; the 48 live values need more), for
// test_generate: it must be pruned with a reason naming the spills, BLOCK=128 kept.
#include "at_common.h"

#pragma autotune kernel spill
#pragma autotune problem N
#pragma autotune param BLOCK = 128, 1024
#pragma autotune threads BLOCK
#pragma autotune grid cdiv(N, BLOCK)

template <int BLOCK>
__device__ void spill(float *y, const float *x, int N)
{
  float v[48];
#pragma unroll
  for (int i = 0; i < 48; i++)
    v[i] = x[at_thread_idx_x() + i * N];
  float s = 0;
#pragma unroll
  for (int j = 0; j < 48; j++)
#pragma unroll
    for (int i = 0; i < 48; i++)
      s += v[i] * v[(i + j) % 48] * (float)j;
  y[at_block_idx_x() * BLOCK + at_thread_idx_x()] = s;
}
