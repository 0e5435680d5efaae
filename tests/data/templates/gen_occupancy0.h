// gen_occupancy0.h - a template whose BIG=1 variant compiles but cannot run: its static
// shared memory (a quarter of the device's per-block limit) plus its dynamic shared
// memory (all but 1 KiB of that limit) exceed what one block may use, though each part
// alone passes the space's built-in limit. For test_generate: BIG=1 is pruned with
// occupancy 0, BIG=0 kept.
#include "at_common.h"

#pragma autotune kernel occupancy0
#pragma autotune problem N
#pragma autotune param BIG = 0, 1
#pragma autotune derive SFLOATS = device.is_amd ? 4096 : 10240
#pragma autotune threads 256
#pragma autotune grid cdiv(N, 256)
#pragma autotune shared BIG * (device.lds_bytes - 1024)

template <int BIG, int SFLOATS>
__device__ void occupancy0(float *y, int N)
{
  __shared__ float buf[SFLOATS];
  unsigned t = at_thread_idx_x();
  for (unsigned i = t; i < SFLOATS; i += 256)
    buf[i] = (float)i;
  at_syncthreads();
  long i = (long)at_block_idx_x() * 256 + t;
  if (i < N)
    y[i] = buf[(t * 7 + BIG) % SFLOATS];
}
