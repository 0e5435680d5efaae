// at_cp_ring.h - the cp.async ring of the mma.sync templates (gemm_mma.h; at_attn_mma.h's
// users attn_mma.h and attn_decode_mma.h): one copy, both once had their own.
#ifndef AT_COMMON_H
#include "at_common.h"
#endif
#ifndef AT_CP_RING_H
#define AT_CP_RING_H

// The cp.async ring over ntiles tiles: load(stage, kt) issues tile kt's copies into a
// stage, use(stage, kt) computes on it. STAGES - 1 tiles are in flight while one is used;
// one barrier a tile (it makes every thread's copies of tile kt visible and says everyone
// is done with tile kt - 1, whose stage is refilled then). Every thread of the block calls
// it; the copies are all complete when it returns.
template <int STAGES, typename LOAD, typename USE>
AT_DEV void at_cp_ring(int ntiles, LOAD load, USE use)
{
#pragma unroll
  for (int st = 0; st < STAGES - 1; st++) {
    if (st < ntiles)
      load(st, st);
    at_cp_async_commit();
  }
  for (int kt = 0; kt < ntiles; kt++) {
    at_cp_async_wait<STAGES - 2>();
    at_syncthreads();
    if (kt + STAGES - 1 < ntiles)
      load((kt + STAGES - 1) % STAGES, kt + STAGES - 1);
    at_cp_async_commit();
    use(kt % STAGES, kt);
  }
  at_cp_async_wait_all();
}

#endif
