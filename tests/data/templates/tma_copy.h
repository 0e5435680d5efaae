// tma_copy.h - a user's own TMA template for tests/test_tune.c's test of tensor maps in
// `autotune tune`: Y = X, an R x C matrix of floats, one BR x 8 box a block, brought into
// shared memory by a bulk tensor copy that completes on an mbarrier (templates/common/
// at_tma.h). `autotune tune` builds tmap_X from --arg tmap_X=R,C and the variant's box.
// LOAD 0 reads X with plain loads (the trusted reference: no map involved), 1 through the
// map, 2 through the map with the classic bug planted: the producer arrives without
// expect_tx, so the barrier's phase completes before the copy lands and the block writes
// what shared memory held.
#include "at_tma.h"

#pragma autotune kernel tma_copy
#pragma autotune problem R, C
#pragma autotune param BR = 4, 8
#pragma autotune param LOAD = 0, 1, 2
#pragma autotune require hopper: device.is_nvidia && device.arch_major >= 9
#pragma autotune threads 32
#pragma autotune grid cdiv(C, 8), cdiv(R, BR)
#pragma autotune shared 1024 + BR * 8 * 4
#pragma autotune tensormap X box(8, BR) swizzle(0)

template <int BR, int LOAD>
__device__ void tma_copy(const float *X, float *Y, int R, int C, const at_tensormap &tmap_X)
{
  AT_DYNAMIC_SHARED(unsigned char, smem);
  unsigned long long *bar = reinterpret_cast<unsigned long long *>(smem);
  const float *box = reinterpret_cast<const float *>(smem + 1024);
  const int tid = (int)at_thread_idx_x();
  const int c0 = (int)at_block_idx_x() * 8, r0 = (int)at_block_idx_y() * BR;
  if (tid == 0) {
    at_mbarrier_init(bar, 1);
    at_fence_mbarrier_init();
  }
  at_syncthreads();
  if (LOAD == 0) {
    for (int e = tid; e < BR * 8; e += 32) {
      const int r = r0 + e / 8, c = c0 + e % 8;
      if (r < R && c < C)
        Y[(long)r * C + c] = X[(long)r * C + c];
    }
    return;
  }
  if (tid == 0) {
    if (LOAD == 2)
      at_mbarrier_arrive(bar);
    else
      at_mbarrier_arrive_expect_tx(bar, (unsigned int)(BR * 8 * 4));
    at_tma_load_2d(smem + 1024, tmap_X, c0, r0, bar);
  }
  at_mbarrier_wait_parity(bar, 0u);
  for (int e = tid; e < BR * 8; e += 32) {
    const int r = r0 + e / 8, c = c0 + e % 8;
    if (r < R && c < C)
      Y[(long)r * C + c] = box[e];
  }
}
