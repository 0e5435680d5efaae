// tma_kernels.cu - kernels written against templates/common only that exercise at_tma.h:
// tests/test_tma.c runs them on the host device (cc_host + meas_host + the SIMT emulator)
// with tensor maps encoded by at_tmap_host_encode, and compiles them with nvcc for sm_90a
// (the PTX must hold the instructions). Every kernel takes a `mode`: 0 is the correct
// protocol, the others each plant one bug that the emulation must turn into a failed
// launch or a wrong result (the test says which):
//   1 the producer arrives without expect_tx       5 the box writers do not fence
//   2 the consumers wait with the wrong parity     6 the store is never waited for
//   3 no fence.mbarrier_init after mbarrier.init   7 the ring's consumers wait with the
//   4 the consumers wait on the wrong barrier        wrong parity
//                                                  8 the ring's producer skips the wait on
//                                                    the empty barrier
//                                                  9 the stored box is written again (and
//                                                    fenced) before the store's wait
//
// tma_tile(map, out, c0, c1, swizzle, mode): one block of 128 threads loads the box of map
// at (c0, c1) into dynamic shared memory at offset 1024 (mbarriers at 0 and 8), waits on
// the barrier and writes the box, unswizzled, to out (box[0] * box[1] 16-bit elements,
// row-major). Dynamic shared memory: 1024 + the box's bytes.
//
// tma_store(map, c0, c1, bw, bh, swizzle, mode): 128 threads write the bw x bh box
// (element (i, j) = 1000 + j * bw + i) at its swizzled place in shared memory (offset
// 1024), fence, barrier, and thread 0 stores it at (c0, c1) of map, commits and waits.
//
// tma_cluster(map, out, info, bw, bh): the cluster instructions in a cluster of one CTA
// (larger clusters: tma_cluster.cu): cluster barrier, prefetch.tensormap, the multicast
// load to this CTA alone (mask 1), and a second barrier released through mapa and a
// remote (shared::cluster) arrive; out gets the box, info[0..1] the CTA rank and count.
//
// tma_ring(map, out, tiles, mode): a producer warp (warp 0, lane 0 issues) and four
// consumer warps; a ring of 2 stages of box[0] x box[1] (full and empty barriers); tile t
// is the box at (0, t * box[1]); consumer thread c (0..127) adds element c, c + 128, ...
// of every tile into out[c] (as float). Dynamic shared memory: 1024 + 2 boxes.
//
// named_bars(out, mode): two warpgroups (256 threads); warpgroup 1 arrives on named
// barrier 1 of 256 (bar.arrive) and warpgroup 0 waits there (bar.sync), then every thread
// writes out[t] = t + 1. Mode 1 plants warpgroup 1 skipping its arrive: the barrier never
// fills, which the emulation reports as a deadlock naming it.
#include "at_tma.h" // includes at_common.h

#if AT_HAS_TMA
AT_DEV unsigned short tma_elem(const unsigned char *smem, unsigned long off, int swizzle)
{
  return *reinterpret_cast<const unsigned short *>(
      smem + at_tma_swizzle(off, (unsigned int)swizzle));
}

extern "C" __global__ void tma_tile(AT_TMAP_KERNEL_PARAM map, unsigned short *out, int c0,
                                    int c1, int bw, int bh, int swizzle, int mode)
{
  AT_DYNAMIC_SHARED(unsigned char, smem);
  unsigned long long *bar = reinterpret_cast<unsigned long long *>(smem);
  const int tid = (int)at_thread_idx_x();
  const unsigned int bytes = (unsigned int)(bw * bh * 2);
  if (tid == 0) {
    at_mbarrier_init(&bar[0], 1);
    at_mbarrier_init(&bar[1], 1);
    if (mode != 3)
      at_fence_mbarrier_init();
  }
  at_syncthreads();
  if (tid == 0) {
    if (mode == 1)
      at_mbarrier_arrive(&bar[0]);
    else
      at_mbarrier_arrive_expect_tx(&bar[0], bytes);
    at_tma_load_2d(smem + 1024, map, c0, c1, &bar[0]);
  }
  at_mbarrier_wait_parity(&bar[mode == 4 ? 1 : 0], mode == 2 ? 1u : 0u);
  for (int e = tid; e < bw * bh; e += (int)at_block_dim_x())
    out[e] = tma_elem(smem, 1024ul + 2ul * (unsigned long)e, swizzle);
}

extern "C" __global__ void tma_store(AT_TMAP_KERNEL_PARAM map, int c0, int c1, int bw, int bh,
                                     int swizzle, int mode)
{
  AT_DYNAMIC_SHARED(unsigned char, smem);
  const int tid = (int)at_thread_idx_x();
  auto write_box = [&](int plus) {
    for (int e = tid; e < bw * bh; e += (int)at_block_dim_x())
      *reinterpret_cast<unsigned short *>(
          smem + at_tma_swizzle(1024ul + 2ul * (unsigned long)e, (unsigned int)swizzle)) =
          (unsigned short)(1000 + e + plus);
  };
  write_box(0);
  // every writer fences its own writes for the async proxy (mode 5: thread 0 alone)
  if (mode != 5 || tid == 0)
    at_tma_fence_proxy_async();
  at_syncthreads();
  if (tid == 0) {
    at_tma_store_2d(map, smem + 1024, c0, c1);
    at_tma_store_commit();
    if (mode != 6 && mode != 9)
      at_tma_store_wait<0>();
  }
  if (mode == 9) { // the box reused before the store's wait_group.read: a race on the GPU
    at_syncthreads();
    write_box(7);
    at_tma_fence_proxy_async();
    at_syncthreads();
    if (tid == 0)
      at_tma_store_wait<0>();
  }
}

extern "C" __global__ void tma_cluster(AT_TMAP_KERNEL_PARAM map, unsigned short *out,
                                       int *info, int bw, int bh)
{
  AT_DYNAMIC_SHARED(unsigned char, smem);
  unsigned long long *bar = reinterpret_cast<unsigned long long *>(smem);
  const int tid = (int)at_thread_idx_x();
  if (tid == 0) {
    at_mbarrier_init(&bar[0], 1);
    at_mbarrier_init(&bar[1], 1);
    at_fence_mbarrier_init();
  }
  at_cluster_arrive();
  at_cluster_wait();
  if (tid == 0) {
    at_tma_prefetch_map(map);
    at_mbarrier_arrive_expect_tx(&bar[0], (unsigned int)(bw * bh * 2));
    at_tma_load_2d_multicast(smem + 1024, map, 0, 0, &bar[0], 1);
    at_mbarrier_arrive_cluster(at_mapa_shared(&bar[1], at_cluster_ctarank()));
    info[0] = (int)at_cluster_ctarank();
    info[1] = (int)at_cluster_nctas();
  }
  at_mbarrier_wait_parity(&bar[0], 0);
  at_mbarrier_wait_parity(&bar[1], 0);
  for (int e = tid; e < bw * bh; e += (int)at_block_dim_x())
    out[e] = tma_elem(smem, 1024ul + 2ul * (unsigned long)e, 128);
}

extern "C" __global__ void tma_ring(AT_TMAP_KERNEL_PARAM map, float *out, int bw, int bh,
                                    int tiles, int mode)
{
  constexpr int STAGES = 2;
  AT_DYNAMIC_SHARED(unsigned char, smem);
  unsigned long long *full = reinterpret_cast<unsigned long long *>(smem);
  unsigned long long *empty = full + STAGES;
  const int tid = (int)at_thread_idx_x(), warp = tid / 32;
  const unsigned int box = (unsigned int)(bw * bh * 2);
  if (tid == 0) {
    for (int s = 0; s < STAGES; s++) {
      at_mbarrier_init(&full[s], 1);
      at_mbarrier_init(&empty[s], 4); // one arrival per consumer warp
    }
    at_fence_mbarrier_init();
  }
  at_syncthreads();
  if (warp == 0) {
    if (at_lane_id() == 0)
      for (int t = 0; t < tiles; t++) {
        const int s = t % STAGES;
        const unsigned int phase = (unsigned int)(t / STAGES) & 1u;
        // the stage is free once the consumers released its previous use; the first
        // pass waits on parity 1, which counts as complete
        if (mode != 8)
          at_mbarrier_wait_parity(&empty[s], phase ^ 1u);
        at_mbarrier_arrive_expect_tx(&full[s], box);
        at_tma_load_2d(smem + 1024 + s * box, map, 0, t * bh, &full[s]);
      }
    return;
  }
  const int c = tid - 32;
  float acc = 0.0f;
  for (int t = 0; t < tiles; t++) {
    const int s = t % STAGES;
    const unsigned int phase = (unsigned int)(t / STAGES) & 1u;
    at_mbarrier_wait_parity(&full[s], mode == 7 ? phase ^ 1u : phase);
    for (int e = c; e < bw * bh; e += 128)
      acc += (float)tma_elem(smem + 1024 + s * box, 2ul * (unsigned long)e, 0);
    at_syncwarp();
    if (at_lane_id() == 0)
      at_mbarrier_arrive(&empty[s]);
  }
  out[c] = acc;
}
extern "C" __global__ void named_bars(int *out, int mode)
{
  const int t = (int)at_thread_idx_x();
  if (t >= 128) {
    if (mode != 1)
      at_named_bar_arrive(1, 256);
  } else {
    at_named_bar_sync(1, 256);
  }
  out[t] = t + 1;
}
#endif
