// tma_cluster.cu - cluster kernels written against templates/common only: tests/test_tma.c
// runs them on the host device in clusters of 2 and 4 CTAs (the emulator runs a cluster's
// CTAs together: tuner/emu/emu.c note 9, at_tma.h note 8) and compiles them for sm_90a.
//
// cl_ids(info): every thread of CTA b (linear blockIdx) checks the ids; thread 0 writes
// info[10b ..]: rank, nctas, cluster ctaid x, y, cluster dims x, y, blockIdx x, y,
// clusterid x, y.
//
// cl_dsmem(out, mode): each CTA writes 1000 * rank + i into word i of its dynamic shared
// memory (256 words), cluster barrier, reads word i of the next CTA's (rank + 1 mod n)
// through mapa into out[256 * block + i], cluster barrier before the exit. Mode 1 skips the
// last cluster barrier (a CTA may exit while its peer still reads it); mode 2 arrives twice.
//
// cl_mcast_ring(map, out, tiles, mode): a cluster of 2 CTAs, 160 threads each (warp 0's lane
// 0 produces, warps 1..4 consume), a ring of 2 stages of a bw x bh box. Both CTAs consume
// the same tiles (tile t is the box at (0, t * bh)): CTA r loads rows r * bh / 2 .. of it
// (a half box, the map's box is bw x bh / 2) and multicasts them to both CTAs. Each CTA's
// full barrier expects the whole box (1 arrival + 2 halves of bytes); each empty barrier
// counts the consumer warps of both CTAs (8: a local arrive and a remote arrive from each
// consumer warp), so a producer refills a stage only when both CTAs released it. Consumer
// thread c of CTA r adds elements c, c + 128, ... of every tile into out[128 r + c].
// Planted faults (mode):
//   1 each producer expects only its own half's bytes (the peer's multicast not counted)
//   2 the empty barrier counts the local consumers only, and nobody arrives remotely: a
//     producer refills a stage its peer's consumers still read
//   3 the empty barrier counts both CTAs' consumers, but nobody arrives remotely
//   4 a block barrier instead of the cluster barrier after mbarrier.init
//   5 no cluster barrier before the exit
//   6 the multicast mask leaves out the peer
//   7 the multicast mask names a CTA outside the cluster
// Dynamic shared memory: 1024 + 2 boxes.
#include "at_tma.h" // includes at_common.h

#if AT_HAS_TMA
extern "C" __global__ void cl_ids(int *info)
{
  const unsigned int b = at_block_idx_x() + at_grid_dim_x() * at_block_idx_y();
  const unsigned int rank = at_cluster_ctarank();
  // rank is x fastest inside the cluster
  if (rank != at_cluster_ctaid_x() + at_cluster_nctaid_x() * at_cluster_ctaid_y())
    info[10 * b + 7] = -1000;
  at_cluster_arrive();
  at_cluster_wait();
  if (at_thread_idx_x() == 0) {
    int *o = info + 10 * b;
    o[0] = (int)rank, o[1] = (int)at_cluster_nctas();
    o[2] = (int)at_cluster_ctaid_x(), o[3] = (int)at_cluster_ctaid_y();
    o[4] = (int)at_cluster_nctaid_x(), o[5] = (int)at_cluster_nctaid_y();
    o[6] = (int)at_block_idx_x(), o[7] += (int)at_block_idx_y();
    o[8] = (int)at_clusterid_x(), o[9] = (int)at_clusterid_y();
  }
}

extern "C" __global__ void cl_dsmem(int *out, int mode)
{
  AT_DYNAMIC_SHARED(int, words);
  const unsigned int rank = at_cluster_ctarank(), n = at_cluster_nctas();
  const unsigned int b = at_block_idx_x() + at_grid_dim_x() * at_block_idx_y();
  for (unsigned int i = at_thread_idx_x(); i < 256; i += at_block_dim_x())
    words[i] = (int)(1000 * rank + i);
  at_cluster_arrive();
  if (mode == 2)
    at_cluster_arrive();
  at_cluster_wait();
  const int *peer = at_mapa(words, (rank + 1) % n);
  for (unsigned int i = at_thread_idx_x(); i < 256; i += at_block_dim_x())
    out[256 * b + i] = peer[i];
  if (mode != 1) {
    at_cluster_arrive();
    at_cluster_wait();
  }
}

extern "C" __global__ void cl_mcast_ring(AT_TMAP_KERNEL_PARAM map, float *out, int bw, int bh,
                                         int tiles, int mode)
{
  constexpr int STAGES = 2;
  AT_DYNAMIC_SHARED(unsigned char, smem);
  unsigned long long *full = reinterpret_cast<unsigned long long *>(smem);
  unsigned long long *empty = full + STAGES;
  const int tid = (int)at_thread_idx_x(), warp = tid / 32;
  const unsigned int rank = at_cluster_ctarank(), peer = rank ^ 1u;
  const unsigned int box = (unsigned int)(bw * bh * 2), half = box / 2;
  if (tid == 0) {
    for (int s = 0; s < STAGES; s++) {
      at_mbarrier_init(&full[s], 1);
      at_mbarrier_init(&empty[s], mode == 2 ? 4 : 8);
    }
    at_fence_mbarrier_init();
  }
  if (mode == 4) {
    at_syncthreads();
  } else {
    at_cluster_arrive();
    at_cluster_wait();
  }
  if (warp == 0) {
    if (at_lane_id() == 0)
      for (int t = 0; t < tiles; t++) {
        const int s = t % STAGES;
        const unsigned int phase = (unsigned int)(t / STAGES) & 1u;
        at_mbarrier_wait_parity(&empty[s], phase ^ 1u);
        at_mbarrier_arrive_expect_tx(&full[s], mode == 1 ? half : box);
        const unsigned short mask = mode == 6 ? (unsigned short)(1u << rank)
                                    : mode == 7 ? (unsigned short)7u : (unsigned short)3u;
        at_tma_load_2d_multicast(smem + 1024 + s * box + rank * half, map, 0,
                                 t * bh + (int)rank * bh / 2, &full[s], mask);
      }
  } else {
    const int c = tid - 32;
    float acc = 0.0f;
    for (int t = 0; t < tiles; t++) {
      const int s = t % STAGES;
      const unsigned int phase = (unsigned int)(t / STAGES) & 1u;
      at_mbarrier_wait_parity(&full[s], phase);
      for (int e = c; e < bw * bh; e += 128)
        acc += (float)*reinterpret_cast<const unsigned short *>(smem + 1024 + s * box + 2 * e);
      at_syncwarp();
      if (at_lane_id() == 0) {
        at_mbarrier_arrive(&empty[s]);
        if (mode != 2 && mode != 3)
          at_mbarrier_arrive_cluster(at_mapa_shared(&empty[s], peer));
      }
    }
    out[128 * rank + c] = acc;
  }
  if (mode != 5) {
    at_cluster_arrive();
    at_cluster_wait();
  }
}
#endif
