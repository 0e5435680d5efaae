// gemm_tma.h - the warp-specialized Hopper GEMM (sm_90a): C = alpha * op(A) * op(B) +
// beta * C with f16 or bf16 inputs and f32 accumulation, operands brought in by the tensor
// memory accelerator (templates/common/at_tma.h) and multiplied by wgmma.mma_async
// m64nNk16 (templates/common/at_wgmma.h), for every layout (TA, TB). tuner/ops/op_gemm.h
// is the contract, with one restriction TMA imposes: every row of A, B and C starts 16
// bytes after the previous one's start, i.e. the contiguous dimension of each operand (K
// or M for A, N or K for B, N for C) is a multiple of 8 with the default leading
// dimensions (the `tma_*` requires); any M, N, K otherwise, edges and the K tail coming
// back as zeros from the copy engine.
//
// A block is one producer warpgroup and CWG consumer warpgroups (128 threads each). One
// thread of the producer walks the block's tiles and, per k-tile of 64, waits for a stage
// of the STAGES-deep ring to be released (its `empty` mbarrier), announces the stage's
// bytes on its `full` mbarrier (arrive.expect_tx) and issues the bulk tensor copies of the
// A and B boxes into it: 128B-swizzled, in exactly the canonical layouts wgmma reads (K-
// major rows of 128 bytes; MN-major boxes of 64 M/N x 64 k). The consumers wait on `full`,
// issue the wgmmas of the k-tile (warpgroup w owns MT = BM / (64 CWG) m64 tiles of the
// whole width BN), and release the stage: every consumer thread arrives on `empty` once
// its wgmma group reading the stage has completed (WAIT groups in flight: with 1 the
// stage of the previous k-tile is released after the next k-tile's wgmmas are issued).
// The grid is persistent when PERSIST (min(tiles, SMs) blocks walking tiles t, t + grid,
// ...), tiles in grouped raster order: RASTER 0 walks GROUP block-rows column by column,
// 1 GROUP block-columns row by row. With REGS the warpgroups re-divide the register file
// (setmaxnreg: the producer down to 40, consumers up to 240 or 232). The epilogue is
// direct (EPI 0: guarded stores from the accumulators) or through shared memory and a
// bulk tensor store (EPI 1: each warp stages its 16 x BN rows, fences them for the async
// proxy and stores them as one box; the copy engine clips the edges). beta == 0 never
// reads C.
//
// `arch_specific`: wgmma and setmaxnreg exist only on sm_90a.
//
// Clusters (CLUSTER 1: 2x1, two CTAs on neighbouring block-rows of one block-column; 2:
// 1x2, neighbouring block-columns of one block-row; the hardware cluster is 2 CTAs along
// the grid's x, rank = blockIdx.x % 2). A cluster walks cluster tiles (tile pairs) in the
// grouped raster, CTA r taking tile r of the pair, so the persistent walk stays cluster-
// aligned; a tile past the matrix's edge still runs the pipeline (its loads come back as
// zeros, its epilogue writes nothing) because its peer waits on it. With MCAST the pair's
// shared operand (B for 2x1, A for 1x2) is loaded half by each CTA and multicast to both:
// a K-major box's rows split in two, an MN-major box's 64 k in two 32s (each half a
// contiguous half of the box's bytes, at a multiple of the 1024-byte swizzle pattern);
// each CTA's `full` barrier still expects the whole stage's bytes (its own loads and the
// peer's half), and `empty` counts the consumer warps of both CTAs, each of which releases
// a stage to its own and (remote arrive) to its peer's producer, so neither refills a stage
// the other still reads. A cluster barrier after the barriers' init (before the peer may
// multicast into them) and one before the exit (no CTA leaves while its peer may still
// arrive on its barriers). The host emulates all of it (at_tma.h note 8).
//
// NOT YET RUN ON A GPU: compiled for sm_90a (no spills, no serialized wgmma) and emulated
// on the host (copies completed at the mbarrier wait with transaction-byte accounting,
// wgmmas at wait_group), but nobody has run it on an H100/H200: bench/gpu/gemm_tma.sh is
// the prepared check.
//
// Learned from (our own code, not a copy): the PTX ISA 8.x (cp.async.bulk.tensor, mbarrier,
// wgmma, setmaxnreg); CUTLASS's sm90 "warpspecialized" GEMM designs (a TMA producer warp,
// full/empty barrier pipeline, consumer warpgroups, persistent tile scheduler with
// rasterization) and public Hopper GEMM write-ups for the overall structure.
#include "at_tma.h"
#include "at_wgmma.h"

#pragma autotune kernel gemm_tma
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune arch_specific
#pragma autotune derive A_T = TA == 1
#pragma autotune derive B_T = TB == 1
#pragma autotune param BM = 64, 128, 256
#pragma autotune param BN = 64, 128, 256
#pragma autotune param CWG = 1, 2
#pragma autotune param STAGES = 2, 3, 4, 5
#pragma autotune param WAIT = 0, 1
#pragma autotune param REGS = 0, 1
#pragma autotune param PERSIST = 0, 1
#pragma autotune param RASTER = 0, 1
#pragma autotune param GROUP = 1, 8
#pragma autotune param EPI = 0, 1
#pragma autotune param CLUSTER = 0, 1, 2
#pragma autotune param MCAST = 0, 1
#pragma autotune derive MT = BM / (64 * CWG)
#pragma autotune derive CM = CLUSTER == 1 ? 2 : 1
#pragma autotune derive CN = CLUSTER == 2 ? 2 : 1
// The operands' boxes: K-major ones 64 k (128 bytes) x the tile's rows, MN-major ones
// 64 M/N x 64 k (one box per 64 of BM or BN); C's, one warp's 16 rows of BN.
// With MCAST the shared operand's box is half of it (the two CTAs' halves).
#pragma autotune tensormap A box(64, (A_T ? 64 : BM) / (MCAST == 1 ? CN : 1)) swizzle(128)
#pragma autotune tensormap B box(64, (B_T ? BN : 64) / (MCAST == 1 ? CM : 1)) swizzle(128)
#pragma autotune tensormap C box(BN, 16) swizzle(0)
#pragma autotune require hopper: device.is_nvidia && device.arch_major == 9
#pragma autotune require wg_tile: BM % (64 * CWG) == 0 && MT <= 2
#pragma autotune require accumulators: MT * BN / 2 <= 128
#pragma autotune require pipeline: STAGES >= 2 + WAIT
// TMA: every row 16-byte aligned (default leading dimensions).
#pragma autotune require tma_a: (TA == 1 ? M : K) % 8 == 0
#pragma autotune require tma_b: (TB == 1 ? K : N) % 8 == 0
#pragma autotune require tma_c: N % 8 == 0
// The stages, the epilogue's staging (a warp's 16 x BN), barriers, 1024 bytes to align.
#pragma autotune require smem: STAGES * (BM + BN) * 128 + EPI * CWG * 4 * 16 * BN * 2 + \
  2048 <= device.lds_bytes
// Accumulators plus about 64 registers a consumer thread; with REGS the producer keeps 40
// and the consumers take 240 (one warpgroup) or 232 (two), else every thread has as many.
#pragma autotune require registers: device.regs_per_cu == 0 || \
  (REGS == 1 ? 128 * 40 + CWG * 128 * (CWG == 1 ? 240 : 232) \
             : (CWG + 1) * 128 * (MT * BN / 2 + 64)) <= device.regs_per_cu
#pragma autotune require regs_fit: REGS == 0 || MT * BN / 2 + 64 <= (CWG == 1 ? 240 : 232)
// One consumer warpgroup (256 threads) may start with up to 255 registers a thread, more
// than setmaxnreg.inc would ask for: the split is for two.
#pragma autotune require regs_split: REGS == 0 || CWG == 2
#pragma autotune require fits_m: BM < 2 * max(M, 64)
#pragma autotune require fits_n: BN < 2 * max(N, 64)
#pragma autotune require stages_useful: STAGES - WAIT <= max(2, cdiv(K, 64))
#pragma autotune require group_useful: GROUP == 1 || \
  (RASTER == 0 ? cdiv(M, BM) : cdiv(N, BN)) > GROUP
#pragma autotune require raster_useful: RASTER == 0 || GROUP > 1
#pragma autotune require persist_useful: PERSIST == 0 || \
  cdiv(M, BM) * cdiv(N, BN) > device.cus
// A cluster pairs two tiles along M (2x1) or N (1x2): there must be two; MCAST shares.
#pragma autotune require cluster_useful: CLUSTER == 0 || \
  (CLUSTER == 1 ? cdiv(M, BM) : cdiv(N, BN)) > 1
#pragma autotune require mcast_cluster: MCAST == 0 || CLUSTER > 0
#pragma autotune threads (CWG + 1) * 128
// A cluster of CM * CN CTAs per cluster tile (a pair of tiles); the grid a multiple of it.
#pragma autotune grid CM * CN * (PERSIST == 1 ? \
  min(cdiv(cdiv(M, BM), CM) * cdiv(cdiv(N, BN), CN), device.cus / (CM * CN)) : \
  cdiv(cdiv(M, BM), CM) * cdiv(cdiv(N, BN), CN))
#pragma autotune cluster CM * CN
#pragma autotune shared STAGES * (BM + BN) * 128 + EPI * CWG * 4 * 16 * BN * 2 + 2048

namespace gemm_tma_detail {

#if AT_HAS_WGMMA && AT_HAS_TMA
template <int BN, int TA, int TB>
AT_DEV void wgmma(float *d, unsigned long long da, unsigned long long db, const at_half *)
{
  at_wgmma_m64nNk16_f32_f16<BN, TA, TB>(d, da, db, 1);
}
template <int BN, int TA, int TB>
AT_DEV void wgmma(float *d, unsigned long long da, unsigned long long db, const at_bfloat16 *)
{
  at_wgmma_m64nNk16_f32_bf16<BN, TA, TB>(d, da, db, 1);
}

// Tile `tile` of the grid's walk -> its block-row and block-column (grouped raster).
template <int RASTER, int GROUP>
AT_DEV void tile_coords(int tile, int grid_m, int grid_n, int *bm, int *bn)
{
  const int major = RASTER == 0 ? grid_m : grid_n, minor = RASTER == 0 ? grid_n : grid_m;
  const int width = GROUP * minor, first = tile / width * GROUP;
  const int group = major - first < GROUP ? major - first : GROUP;
  const int a = first + tile % width % group, b = tile % width / group;
  *bm = RASTER == 0 ? a : b;
  *bn = RASTER == 0 ? b : a;
}
#endif

} // namespace gemm_tma_detail

// PERSIST only sizes the grid (the tile loop is the same either way).
template <typename T, int A_T, int B_T, int BM, int BN, int CWG, int STAGES, int WAIT, int REGS,
          int PERSIST, int RASTER, int GROUP, int EPI, int CLUSTER, int MCAST>
__device__ void gemm_tma(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                         int ldc, float alpha, float beta, const at_tensormap &tmap_A,
                         const at_tensormap &tmap_B, const at_tensormap &tmap_C)
{
#if !AT_HAS_WGMMA || !AT_HAS_TMA
  static_assert(sizeof(T) == 0, "gemm_tma needs wgmma and TMA, which only sm_90a has: build "
                                "with -arch=sm_90a (or -gencode arch=compute_90a,code=sm_90a)");
#else
  using namespace gemm_tma_detail;
  static_assert(sizeof(T) == 2, "gemm_tma: f16 and bf16 only");
  static_assert(BN == 64 || BN == 128 || BN == 256, "gemm_tma: BN is a wgmma N");
  static_assert(BM % (64 * CWG) == 0 && BM / (64 * CWG) <= 2, "gemm_tma: 1-2 m64 tiles");
  static_assert(STAGES >= 2 + WAIT, "gemm_tma: a stage to fill and WAIT + 1 being read");
  (void)A, (void)B, (void)lda, (void)ldb;
  constexpr int BK = 64, MT = BM / (64 * CWG);
  constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2;
  constexpr int STAGE_C = 16 * BN * 2; // one warp's epilogue rows
  // ---- cluster bookkeeping (CLUSTER, MCAST; see the head of the file) ----
  constexpr int CM = CLUSTER == 1 ? 2 : 1, CN = CLUSTER == 2 ? 2 : 1, CS = CM * CN;
  static_assert(MCAST == 0 || CS == 2, "gemm_tma: multicast needs a cluster of 2");
  const int rank = (int)(at_block_idx_x() % CS), peer = rank ^ 1;

  // Stages from a 1024-byte boundary (the 128B swizzle's pattern), then the epilogue's
  // staging, then the barriers.
  AT_DYNAMIC_SHARED(unsigned char, smem_raw);
  const unsigned int raw_addr = (unsigned int)(at_wgmma_desc(smem_raw, 0, 0, 0) & 0x3FFFu) << 4;
  unsigned char *const smem = smem_raw + ((1024u - (raw_addr & 1023u)) & 1023u);
  unsigned char *const sA = smem;
  unsigned char *const sB = smem + STAGES * A_BYTES;
  unsigned char *const sC = sB + STAGES * B_BYTES;
  unsigned long long *const full =
      reinterpret_cast<unsigned long long *>(sC + EPI * CWG * 4 * STAGE_C);
  unsigned long long *const empty = full + STAGES;

  const int tid = (int)at_thread_idx_x(), wg = tid / 128, t = tid % 128;
  const int grid_m = (M + BM - 1) / BM, grid_n = (N + BN - 1) / BN;
  const int KT = (K + BK - 1) / BK;
  // the walk is over cluster tiles (tile pairs of a cluster), CTA `rank` taking its tile
  const int grid_cm = (grid_m + CM - 1) / CM, grid_cn = (grid_n + CN - 1) / CN;
  const int tiles = grid_cm * grid_cn;
  const int first_tile = (int)at_block_idx_x() / CS, tile_step = (int)at_grid_dim_x() / CS;

  if (tid == 0) {
    for (int s = 0; s < STAGES; s++) {
      at_mbarrier_init(&full[s], 1);
      // MCAST: one arrival per consumer warp of both CTAs (local and remote releases)
      at_mbarrier_init(&empty[s], MCAST ? CWG * 4 * CS : CWG * 128);
    }
    at_fence_mbarrier_init();
    at_tma_prefetch_map(tmap_A);
    at_tma_prefetch_map(tmap_B);
  }
  if (MCAST) { // the peer's barriers are initialised before anything reaches them
    at_syncwarp(); // barrier.cluster is .aligned: the warp converged (thread 0 initialised)
    at_cluster_arrive();
    at_cluster_wait();
  } else {
    at_syncthreads();
  }

  if (wg == 0) {
    // ---- the producer ----
    if (REGS)
      at_setmaxnreg_dec<40>();
    int it = 0;
    for (int tile = first_tile; t == 0 && tile < tiles; tile += tile_step) {
      int bm, bn;
      tile_coords<RASTER, GROUP>(tile, grid_cm, grid_cn, &bm, &bn);
      bm = bm * CM + (CM == 2 ? rank : 0), bn = bn * CN + (CN == 2 ? rank : 0);
      const int bm0 = bm * BM, bn0 = bn * BN;
      for (int kt = 0; kt < KT; kt++, it++) {
        const int s = it % STAGES;
        const unsigned int phase = (unsigned int)(it / STAGES) & 1u;
        at_mbarrier_wait_parity(&empty[s], phase ^ 1u);
        at_mbarrier_arrive_expect_tx(&full[s], A_BYTES + B_BYTES);
        unsigned char *a = sA + s * A_BYTES, *b = sB + s * B_BYTES;
        const int k0 = kt * BK;
        // MCAST: this CTA's half of the shared operand, into both CTAs (mask 0b11)
        if (MCAST && CN == 2 && A_T) // A's 64 M x 64 k boxes: k rows 32 rank ..
#pragma unroll
          for (int j = 0; j < BM / 64; j++)
            at_tma_load_2d_multicast(a + j * 64 * BK * 2 + rank * 32 * BK * 2, tmap_A,
                                     bm0 + 64 * j, k0 + 32 * rank, &full[s], 3);
        else if (MCAST && CN == 2) // A's 64 k x BM rows: rows BM / 2 rank ..
          at_tma_load_2d_multicast(a + rank * (BM / 2) * BK * 2, tmap_A, k0,
                                   bm0 + rank * (BM / 2), &full[s], 3);
        else if (A_T) // A is K x M: boxes of 64 M x 64 k
#pragma unroll
          for (int j = 0; j < BM / 64; j++)
            at_tma_load_2d(a + j * 64 * BK * 2, tmap_A, bm0 + 64 * j, k0, &full[s]);
        else // M x K: one box of 64 k x BM rows
          at_tma_load_2d(a, tmap_A, k0, bm0, &full[s]);
        if (MCAST && CM == 2 && B_T) // B's 64 k x BN rows: rows BN / 2 rank ..
          at_tma_load_2d_multicast(b + rank * (BN / 2) * BK * 2, tmap_B, k0,
                                   bn0 + rank * (BN / 2), &full[s], 3);
        else if (MCAST && CM == 2) // B's 64 N x 64 k boxes: k rows 32 rank ..
#pragma unroll
          for (int j = 0; j < BN / 64; j++)
            at_tma_load_2d_multicast(b + j * 64 * BK * 2 + rank * 32 * BK * 2, tmap_B,
                                     bn0 + 64 * j, k0 + 32 * rank, &full[s], 3);
        else if (B_T) // B is N x K: one box of 64 k x BN rows
          at_tma_load_2d(b, tmap_B, k0, bn0, &full[s]);
        else // K x N: boxes of 64 N x 64 k
#pragma unroll
          for (int j = 0; j < BN / 64; j++)
            at_tma_load_2d(b + j * 64 * BK * 2, tmap_B, bn0 + 64 * j, k0, &full[s]);
      }
    }
    if (MCAST) { // no CTA exits while its peer may still arrive on its barriers
      at_syncwarp(); // thread 0 was the producer: the warp converges for the .aligned barrier
      at_cluster_arrive();
      at_cluster_wait();
    }
    return;
  }

  // ---- the consumers ----
  if (REGS)
    at_setmaxnreg_inc<CWG == 1 ? 240 : 232>();
  const int cw = wg - 1, warp = t / 32, lane = t % 32;
  // The descriptors of stage 0 at k 0; another stage or k step adds bytes >> 4 to the
  // start address field (shared addresses stay below 256 KiB: no carry).
  const unsigned long long da0 = A_T ? at_wgmma_desc(sA, 128u * BK, 1024u, AT_WGMMA_SWIZZLE_128B)
                                     : at_wgmma_desc(sA, 16u, 16u * BK, AT_WGMMA_SWIZZLE_128B);
  const unsigned long long db0 = B_T ? at_wgmma_desc(sB, 16u, 16u * BK, AT_WGMMA_SWIZZLE_128B)
                                     : at_wgmma_desc(sB, 128u * BK, 1024u, AT_WGMMA_SWIZZLE_128B);
  auto a_off = [&](int i, int kk) -> unsigned int {
    const int m0 = (cw * MT + i) * 64;
    return A_T ? (unsigned int)(m0 / 64 * 128 * BK + kk / 8 * 1024)
               : (unsigned int)(m0 * 2 * BK + kk * 2);
  };
  auto b_off = [&](int kk) -> unsigned int {
    return B_T ? (unsigned int)(kk * 2) : (unsigned int)(kk / 8 * 1024);
  };
  unsigned char *const my_c = sC + (cw * 4 + warp) * STAGE_C;
  // A stage goes back to the producers: with MCAST, each warp to its own CTA's and its
  // peer's (the peer multicast into it too).
  auto release = [&](int s) {
    if (MCAST) {
      at_syncwarp();
      if (lane == 0) {
        at_mbarrier_arrive(&empty[s]);
        at_mbarrier_arrive_cluster(at_mapa_shared(&empty[s], (unsigned int)peer));
      }
    } else {
      at_mbarrier_arrive(&empty[s]);
    }
  };

  float acc[MT][BN / 2];
  int it = 0;
  for (int tile = first_tile; tile < tiles; tile += tile_step) {
    int bm, bn;
    tile_coords<RASTER, GROUP>(tile, grid_cm, grid_cn, &bm, &bn);
    bm = bm * CM + (CM == 2 ? rank : 0), bn = bn * CN + (CN == 2 ? rank : 0);
    const int bm0 = bm * BM, bn0 = bn * BN;
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
      for (int r = 0; r < BN / 2; r++)
        acc[i][r] = 0.0f;
    for (int kt = 0; kt < KT; kt++, it++) {
      const int s = it % STAGES;
      at_mbarrier_wait_parity(&full[s], (unsigned int)(it / STAGES) & 1u);
      const unsigned long long da = da0 + ((unsigned long long)(s * A_BYTES) >> 4);
      const unsigned long long db = db0 + ((unsigned long long)(s * B_BYTES) >> 4);
      at_wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < BK; kk += 16)
#pragma unroll
        for (int i = 0; i < MT; i++)
          wgmma<BN, A_T, 1 - B_T>(acc[i], da + (a_off(i, kk) >> 4), db + (b_off(kk) >> 4),
                                  (const T *)0);
      at_wgmma_commit_group();
      if (WAIT == 0) {
        at_wgmma_wait_group<0>();
        release(s);
      } else {
        // the previous k-tile's group is complete: its stage goes back to the producer
        at_wgmma_wait_group<1>();
        if (kt > 0)
          release((it - 1) % STAGES);
      }
    }
    if (WAIT == 1) {
      at_wgmma_wait_group<0>();
      if (KT > 0)
        release((it - 1) % STAGES);
    }

    // ---- epilogue: register r of m tile i is D(at_wgmma_d_row(t, r), at_wgmma_d_col(t, r))
#pragma unroll
    for (int i = 0; i < MT; i++) {
      const int row0 = bm0 + (cw * MT + i) * 64;
      if (EPI == 0) {
#pragma unroll
        for (int r = 0; r < BN / 2; r++) {
          const int row = row0 + at_wgmma_d_row(t, r), col = bn0 + at_wgmma_d_col(t, r);
          if (row < M && col < N) {
            T *p = C + (long long)row * ldc + col;
            float v = alpha * acc[i][r];
            if (beta != 0.0f)
              v += beta * at_to_float(*p);
            *p = at_from_float<T>(v);
          }
        }
      } else {
        // this warp's 16 rows, row-major BN wide, then one bulk store of the box
        T *st = reinterpret_cast<T *>(my_c);
#pragma unroll
        for (int r = 0; r < BN / 2; r++) {
          const int lr = at_wgmma_d_row(t, r) - 16 * warp, c = at_wgmma_d_col(t, r);
          const int row = row0 + 16 * warp + lr, col = bn0 + c;
          float v = alpha * acc[i][r];
          if (beta != 0.0f && row < M && col < N)
            v += beta * at_to_float(C[(long long)row * ldc + col]);
          st[lr * BN + c] = at_from_float<T>(v);
        }
        at_tma_fence_proxy_async();
        at_syncwarp();
        if (lane == 0) {
          at_tma_store_2d(tmap_C, my_c, bn0, row0 + 16 * warp);
          at_tma_store_commit();
          at_tma_store_wait<0>(); // the staging is read before it is written again
        }
        at_syncwarp();
      }
    }
  }
  if (MCAST) { // see the producer's
    at_syncwarp();
    at_cluster_arrive();
    at_cluster_wait();
  }
#endif
}
