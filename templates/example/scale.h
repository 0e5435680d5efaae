// scale.h - the smallest complete autotune template: y[i] = alpha * x[i] + beta * y[i].
//
// A template is a __device__ function template whose tunable parameters are non-type
// template parameters, plus `#pragma autotune` lines saying which values each takes,
// which combinations are valid, and how the kernel is launched. docs/templates.md
// describes every pragma; copy this file to start a template of your own.
#include "at_common.h"

#pragma autotune kernel scale
#pragma autotune problem N
#pragma autotune param BLOCK = 32, 64, 128, 256, 512, 1024
#pragma autotune param VEC = 1, 2, 4
#pragma autotune param UNROLL = 1, 2, 4, 8
#pragma autotune derive ITEMS = BLOCK * VEC * UNROLL
#pragma autotune require whole_waves: BLOCK % device.wave_size == 0
#pragma autotune require fits_block: BLOCK <= device.max_threads
#pragma autotune require enough_work: ITEMS <= max(N, 4096)
#pragma autotune threads BLOCK
#pragma autotune grid cdiv(N, ITEMS)

template <int BLOCK, int VEC, int UNROLL>
__device__ void scale(float *y, const float *x, float alpha, float beta, int N)
{
  // Each block handles BLOCK * VEC * UNROLL consecutive elements; each thread VEC
  // adjacent elements per step, UNROLL steps apart by BLOCK * VEC.
  const long base = (long)at_block_idx_x() * (BLOCK * VEC * UNROLL);
#pragma unroll
  for (int u = 0; u < UNROLL; u++) {
#pragma unroll
    for (int v = 0; v < VEC; v++) {
      long i = base + ((long)u * BLOCK + at_thread_idx_x()) * VEC + v;
      if (i < N)
        y[i] = alpha * x[i] + beta * y[i];
    }
  }
}
