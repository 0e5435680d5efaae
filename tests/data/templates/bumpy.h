// bumpy.h - a template whose variants go wrong on purpose, for `autotune tune`'s tests:
// MODE 0 copies x to y; 1 gets one element wrong; 2 writes through a null pointer (the
// variant's process dies of SIGSEGV); 3 never finishes (the watchdog kills it); 4 lets
// half of the block skip the barrier (the emulator reports barrier divergence). The
// pointer and the store are volatile, so the compiler keeps the faulting store.
#include "at_common.h"

#pragma autotune kernel bumpy
#pragma autotune problem N
#pragma autotune param MODE = 0, 1, 2, 3, 4
#pragma autotune param BLOCK = 64
#pragma autotune threads BLOCK
#pragma autotune grid cdiv(N, BLOCK)

template <int MODE, int BLOCK>
__device__ void bumpy(float *y, const float *x, int N)
{
  const int i = (int)(at_block_idx_x() * BLOCK + at_thread_idx_x());
  if (MODE == 2 && i == 5) {
    volatile float *volatile nowhere = nullptr;
    *nowhere = 1.0f;
  }
  if (MODE == 3) {
    volatile int spin = 1;
    while (spin) {
    }
  }
  if (MODE == 4 && at_thread_idx_x() < BLOCK / 2)
    at_syncthreads();
  if (i < N)
    y[i] = x[i] + (MODE == 1 && i == N - 1 ? 1.0f : 0.0f);
}
