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
// whole width BN), and release the stage: every consumer warp arrives on `empty` once
// its wgmma group reading the stage has completed (WAIT groups in flight: with 1 the
// stage of the previous k-tile is released after the next k-tile's wgmmas are issued).
// With PINGPONG (two consumers) the consumers take turns instead of sharing each tile:
// consumer w multiplies the block's units w, w + 2, ... whole (its MT = BM / 64 m64 tiles
// of the whole width), so one consumer's epilogue runs while the other's wgmmas keep the
// matrix cores busy. The k-loops take strict turns (an `order` mbarrier each: a consumer
// starts a unit's k-loop once the other has finished the previous unit's), which is also
// what keeps the ring's parity waits sound: a consumer that ran ahead would wait on a
// stage's `full` a whole phase early and pass on its previous fill (the parity of phase
// p and p + 2 are one; the host emulation deadlocked on it). A non-persistent grid gives
// each block two units. (The idea is CUTLASS's sm90 "ping-pong" kernel schedule.)
// The grid is persistent when PERSIST (min(tiles, SMs) blocks walking tiles t, t + grid,
// ...), tiles in grouped raster order: RASTER 0 walks GROUP block-rows column by column,
// 1 GROUP block-columns row by row. With REGS the warpgroups re-divide the register file
// (setmaxnreg: the producer down to 40, consumers up to 240 or 232). The epilogue is
// direct (EPI 0: guarded stores from the accumulators, two neighbouring columns in one
// 4-byte store) or through shared memory and a
// bulk tensor store (EPI 1: each warp stages its 16 x BN rows, fences them for the async
// proxy and stores them as one box; the copy engine clips the edges). beta == 0 never
// reads C.
//
// [streamk] The tile scheduler (SCHED) hands each block work units (tile, k-tiles [kb,
// ke)); producer and consumers walk the same units, the ring carrying on across them.
// SCHED 0: whole tiles (data-parallel, as above). 1: split-K, SPLITS (2, 4) units per
// tile, each an even share of its k-tiles. 2: stream-K (Osama et al., "Stream-K: Work-
// centric Parallel Decomposition for Dense Matrix-Matrix Multiplication on GPU", 2023):
// a persistent grid of G = min(SMs, tiles * KT) blocks, block b taking the iterations
// [b T / G, (b + 1) T / G) of the T = tiles * KT k-tiles in a row, across tile bounds.
// 3: the paper's hybrid: the tiles of all but the last full wave data-parallel, the rest
// (one wave plus the remainder) stream-K. A unit that is not a whole tile is fixed up
// through the workspace (the `workspace` pragma: zero at launch, left zero): it stores
// its f32 accumulators in the thread-fragment order to a slot of its own, fences, and
// counts itself in the tile's counter; the unit that counts last sums all the tile's
// slots in a fixed order (the result does not depend on who came last), zeroes them and
// the counter, and runs the epilogue. No block ever waits for another, so any residency
// and the host emulator's block order are safe. Slots: split-K one per (tile, split);
// stream-K two per block (its first unit and its last: only those can be partial).
// The consumers' own barrier for this is an mbarrier (`cbar`: the producer warpgroup is
// not there). SCHED 1-3 run without clusters (require sched_cluster); SCHED 0 walks
// cluster tiles with the same scheduler.
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
// arrive on its barriers). The host emulates all of it (at_host_tma.h note 8).
//
// Run on an H200 (2026-12-04, bench/results/2026-12-04-h200-first-run.md): 36 variants
// correct, clusters, multicast, persistent tiles, split-K, stream-K and the hybrid among
// them; best 214 us at 4096^3 f16 (cuBLASLt 161), stream-K 1.8-4.6x slower than
// data-parallel there. Also compiled for sm_90a (no spills, no serialized wgmma) and
// emulated on the host (copies completed at the mbarrier wait with transaction-byte
// accounting, wgmmas at wait_group). The per-warp release, the paired stores of the
// epilogue, the 16-byte fixup slots and PINGPONG came after that run.
//
// Learned from (our own code, not a copy): the PTX ISA 8.x (cp.async.bulk.tensor, mbarrier,
// wgmma, setmaxnreg); CUTLASS's sm90 "warpspecialized" GEMM designs (a TMA producer warp,
// full/empty barrier pipeline, consumer warpgroups, persistent tile scheduler with
// rasterization) and public Hopper GEMM write-ups for the overall structure.
#include "at_tma.h"
#include "at_wgmma.h"
#include "at_fence.h" // [streamk] at_threadfence, at_load_f32_coherent: the fixup

#pragma autotune kernel gemm_tma
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune arch_specific
#pragma autotune derive A_T = TA == 1
#pragma autotune derive B_T = TB == 1
#pragma autotune param BM = 64, 128, 256
#pragma autotune param BN = 64, 128, 256
#pragma autotune param CWG = 1, 2
#pragma autotune param STAGES = 2, 3, 4, 5, 6, 7, 8
#pragma autotune param WAIT = 0, 1
#pragma autotune param REGS = 0, 1
#pragma autotune param PERSIST = 0, 1
#pragma autotune param RASTER = 0, 1
#pragma autotune param GROUP = 1, 8
#pragma autotune param EPI = 0, 1
// [streamk] the tile scheduler (see the head) and split-K's slices per tile
#pragma autotune param SCHED = 0, 1, 2, 3
#pragma autotune param SPLITS = 1, 2, 4
#pragma autotune param CLUSTER = 0, 1, 2
#pragma autotune param MCAST = 0, 1
// the two consumers' turns (see the head)
#pragma autotune param PINGPONG = 0, 1
#pragma autotune derive MT = BM / (64 * (PINGPONG == 1 ? 1 : CWG))
#pragma autotune derive CM = CLUSTER == 1 ? 2 : 1
#pragma autotune derive CN = CLUSTER == 2 ? 2 : 1
// The operands' boxes: K-major ones 64 k (128 bytes) x the tile's rows, MN-major ones
// 64 M/N x 64 k (one box per 64 of BM or BN); C's, one warp's 16 rows of BN.
// With MCAST the shared operand's box is half of it (the two CTAs' halves).
#pragma autotune tensormap A box(64, (A_T ? 64 : BM) / (MCAST == 1 ? CN : 1)) swizzle(128)
#pragma autotune tensormap B box(64, (B_T ? BN : 64) / (MCAST == 1 ? CM : 1)) swizzle(128)
#pragma autotune tensormap C box(BN, 16) swizzle(0)
#pragma autotune require hopper: device.is_nvidia && device.arch_major == 9
#pragma autotune require wg_tile: BM % (64 * (PINGPONG == 1 ? 1 : CWG)) == 0 && MT <= 2
#pragma autotune require pingpong_pairs: PINGPONG == 0 || CWG == 2
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
// SCHED 2 and 3 are persistent by construction (PERSIST 0 there).
// (PINGPONG's non-persistent blocks already take two units each.)
#pragma autotune require persist_useful: PERSIST == 0 || \
  SCHED < 2 && cdiv(M, BM) * cdiv(N, BN) * SPLITS > device.cus * (1 + PINGPONG)
// [streamk] SPLITS is split-K's alone; a split only where the tiles leave SMs idle and
// every slice has a k-tile; stream-K only where the tiles are no whole number of waves,
// the hybrid only with more tiles than SMs.
#pragma autotune require splits: (SCHED == 1) == (SPLITS > 1)
#pragma autotune require splitk_useful: SCHED != 1 || \
  cdiv(M, BM) * cdiv(N, BN) * SPLITS / 2 < device.cus && SPLITS <= cdiv(K, 64)
#pragma autotune require streamk_useful: SCHED < 2 || \
  K > 0 && cdiv(M, BM) * cdiv(N, BN) % device.cus != 0
#pragma autotune require hybrid_useful: SCHED != 3 || cdiv(M, BM) * cdiv(N, BN) > device.cus
// A cluster pairs two tiles along M (2x1) or N (1x2): there must be two; MCAST shares.
#pragma autotune require cluster_useful: CLUSTER == 0 || \
  (CLUSTER == 1 ? cdiv(M, BM) : cdiv(N, BN)) > 1
#pragma autotune require mcast_cluster: MCAST == 0 || CLUSTER > 0
// The split-K and stream-K fixups are per CTA: those schedulers run without clusters.
#pragma autotune require sched_cluster: SCHED == 0 || CLUSTER == 0
#pragma autotune threads (CWG + 1) * 128
// SCHED 0 and 1: a cluster of CM * CN CTAs per cluster tile (a pair of tiles; 1 x 1 without
// a cluster), the grid a multiple of it (PINGPONG: half as many, two units a block);
// SCHED 2 and 3: the stream-K grid.
#pragma autotune grid SCHED >= 2 ? min(cdiv(M, BM) * cdiv(N, BN) * cdiv(K, 64), device.cus) : \
  CM * CN * (PERSIST == 1 ? \
  min(cdiv(cdiv(M, BM), CM) * cdiv(cdiv(N, BN), CN) * SPLITS, device.cus / (CM * CN)) : \
  cdiv(cdiv(cdiv(M, BM), CM) * cdiv(cdiv(N, BN), CN) * SPLITS, 1 + PINGPONG))
#pragma autotune cluster CM * CN
#pragma autotune shared STAGES * (BM + BN) * 128 + EPI * CWG * 4 * 16 * BN * 2 + 2048
// [streamk] the tiles' counters (rounded up to 16 bytes), then BM x BN f32 slots: split-K
// one per (tile, split), stream-K two per block of the grid.
#pragma autotune workspace SCHED == 0 ? 0 : 4 * (cdiv(cdiv(M, BM) * cdiv(N, BN), 4) * 4 + \
  BM * BN * (SCHED == 1 ? cdiv(M, BM) * cdiv(N, BN) * SPLITS : \
             2 * min(cdiv(M, BM) * cdiv(N, BN) * cdiv(K, 64), device.cus)))

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

// ---- [streamk] the tile scheduler: which (tile, k-range) units a block processes ----
// Written from the stream-K paper (see the head) and the idea of CUTLASS's sm90 stream-K
// scheduler (a persistent grid, an even share of k-iterations per block, partial tiles
// fixed up through a workspace), not from their code. Every thread of a block that walks
// it walks the same units (the producer to load them, the consumers to multiply them).
struct sk_unit {
  int tile, kb, ke; // tile of the raster walk, k-tiles [kb, ke) of its KT
  long long slot;   // a partial unit's workspace slot
};

template <int SCHED, int SPLITS> struct sk_sched {
  int tiles, KT, G, b; // G blocks, this one b
  int dp_tiles;        // SCHED 3: tiles [0, dp_tiles) go data-parallel first
  int sk_g;            // blocks of the stream-K region (at most its iterations: none empty)
  long long sk_total;  // iterations (k-tiles) of the stream-K region
  long long next;      // the walk: the next unit or tile, then the next iteration
  bool in_sk;

  // block c's first iteration of the stream-K region; the block owning iteration i
  __device__ __forceinline__ long long first(int c) const
  {
    return (long long)c * sk_total / sk_g;
  }
  __device__ __forceinline__ int owner(long long i) const
  {
    return (int)(((i + 1) * sk_g - 1) / sk_total);
  }

  __device__ __forceinline__ void init(int tiles_, int KT_, int G_, int b_)
  {
    tiles = tiles_, KT = KT_, G = G_, b = b_;
    dp_tiles = KT == 0 ? tiles : 0; // K 0: whole (empty) tiles, beta C still written
    if (SCHED == 3 && tiles > G && KT > 0) // data-parallel but the last wave and the rest
      dp_tiles = tiles % G == 0 ? tiles : (tiles / G - 1) * G;
    sk_total = (long long)(tiles - dp_tiles) * KT;
    sk_g = sk_total < G ? (int)sk_total : G;
    next = b;
    in_sk = false;
  }

  __device__ __forceinline__ bool next_unit(sk_unit *u)
  {
    if (SCHED == 0 || SCHED == 1) {
      if (next >= (long long)tiles * SPLITS)
        return false;
      const int s = (int)(next % SPLITS);
      u->tile = (int)(next / SPLITS);
      u->kb = s * KT / SPLITS, u->ke = (s + 1) * KT / SPLITS;
      u->slot = next;
      next += G;
      return true;
    }
    if (!in_sk) {
      if (next < dp_tiles) {
        u->tile = (int)next, u->kb = 0, u->ke = KT, u->slot = -1;
        next += G;
        return true;
      }
      in_sk = true;
      next = b < sk_g ? first(b) : sk_total;
    }
    const long long end = b < sk_g ? first(b + 1) : sk_total;
    if (next >= end)
      return false;
    const int ts = (int)(next / KT);
    u->tile = dp_tiles + ts;
    u->kb = (int)(next % KT);
    u->ke = end - next < (long long)(KT - u->kb) ? u->kb + (int)(end - next) : KT;
    u->slot = 2LL * b + (first(b) >= (long long)ts * KT ? 0 : 1); // first unit or last
    next += u->ke - u->kb;
    return true;
  }

  // The slots of a partial unit's tile, in a fixed order: n of them, the j-th at
  // at(slots(u), j).
  __device__ __forceinline__ int contributors(const sk_unit &u) const
  {
    if (SCHED == 1)
      return SPLITS;
    const long long f = (long long)(u.tile - dp_tiles) * KT;
    return owner(f + KT - 1) - owner(f) + 1;
  }
  // The j-th slot is at(slots(u), j): split-K's are consecutive; stream-K's contributor
  // c0 + j (j >= 1) starts in this tile (its first unit's slot, 2 (c0 + j)), only
  // contributor c0 may end here (2 c0 + 1). Worked out once a unit: the 64-bit divisions
  // of owner() and first() are an 84-instruction call each, and the fixup's loops made
  // two for every contributor of every chunk.
  struct slot_seq {
    long long s0, base, step;
  };
  __device__ __forceinline__ slot_seq slots(const sk_unit &u) const
  {
    if (SCHED == 1)
      return {(long long)u.tile * SPLITS, (long long)u.tile * SPLITS, 1};
    const long long f = (long long)(u.tile - dp_tiles) * KT;
    const int c = owner(f);
    return {2LL * c + (first(c) >= f ? 0 : 1), 2LL * c, 2};
  }
  __device__ __forceinline__ static long long at(const slot_seq &q, int j)
  {
    return j == 0 ? q.s0 : q.base + j * q.step;
  }
};

} // namespace gemm_tma_detail

// PERSIST only sizes the grid (the tile loop is the same either way). WS: the workspace
// of SCHED 1-3 (null for SCHED 0).
template <typename T, int A_T, int B_T, int BM, int BN, int CWG, int STAGES, int WAIT, int REGS,
          int PERSIST, int RASTER, int GROUP, int EPI, int SCHED, int SPLITS, int CLUSTER,
          int MCAST, int PINGPONG>
__device__ void gemm_tma(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                         int ldc, float alpha, float beta, void *WS,
                         const at_tensormap &tmap_A, const at_tensormap &tmap_B,
                         const at_tensormap &tmap_C)
{
#if !AT_HAS_WGMMA || !AT_HAS_TMA
  static_assert(sizeof(T) == 0, "gemm_tma needs wgmma and TMA, which only sm_90a has: build "
                                "with -arch=sm_90a (or -gencode arch=compute_90a,code=sm_90a)");
#else
  using namespace gemm_tma_detail;
  static_assert(sizeof(T) == 2, "gemm_tma: f16 and bf16 only");
  static_assert(BN == 64 || BN == 128 || BN == 256, "gemm_tma: BN is a wgmma N");
  static_assert(PINGPONG == 0 || CWG == 2, "gemm_tma: ping-pong takes two consumers");
  // a consumer's m64 tiles: its share of BM, or (PINGPONG) all of it
  constexpr int WM = PINGPONG ? BM : BM / CWG;
  static_assert(BM % (64 * (PINGPONG ? 1 : CWG)) == 0 && WM / 64 <= 2,
                "gemm_tma: 1-2 m64 tiles a consumer");
  static_assert(STAGES >= 2 + WAIT, "gemm_tma: a stage to fill and WAIT + 1 being read");
  static_assert(SCHED >= 0 && SCHED <= 3 && (SCHED == 1) == (SPLITS > 1), "gemm_tma: SCHED");
  (void)A, (void)B, (void)lda, (void)ldb;
  constexpr int BK = 64, MT = WM / 64;
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
  // [streamk] the consumers' barrier and the fixup's "this unit counted last" flag (one
  // each per consumer with PINGPONG: each fixes up its own units)
  unsigned long long *const cbar = empty + STAGES;
  // PINGPONG: order[w] completes a phase when the other consumer's k-loop is done
  unsigned long long *const order = cbar + 2;
  unsigned int *const last_flag = reinterpret_cast<unsigned int *>(order + 2);

  const int tid = (int)at_thread_idx_x(), wg = tid / 128, t = tid % 128;
  const int grid_m = (M + BM - 1) / BM, grid_n = (N + BN - 1) / BN;
  const int KT = (K + BK - 1) / BK;
  // the walk is over cluster tiles (tile pairs of a cluster), CTA `rank` taking its tile;
  // without a cluster (CS 1) a cluster tile is a tile
  const int grid_cm = (grid_m + CM - 1) / CM, grid_cn = (grid_n + CN - 1) / CN;
  const int tiles = grid_cm * grid_cn;
  sk_sched<SCHED, SPLITS> sched;
  sched.init(tiles, KT, (int)at_grid_dim_x() / CS, (int)at_block_idx_x() / CS);
  sk_unit u;

  if (tid == 0) {
    for (int s = 0; s < STAGES; s++) {
      at_mbarrier_init(&full[s], 1);
      // one arrival per warp of the stage's consumer(s) (of both CTAs with MCAST: local
      // and remote releases)
      at_mbarrier_init(&empty[s], (PINGPONG ? 4 : CWG * 4) * (MCAST ? CS : 1));
    }
    at_mbarrier_init(&cbar[0], PINGPONG ? 128 : CWG * 128);
    if (PINGPONG) {
      at_mbarrier_init(&cbar[1], 128);
      at_mbarrier_init(&order[0], 4); // a consumer's four warps
      at_mbarrier_init(&order[1], 4);
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
    while (t == 0 && sched.next_unit(&u)) {
      int bm, bn;
      tile_coords<RASTER, GROUP>(u.tile, grid_cm, grid_cn, &bm, &bn);
      bm = bm * CM + (CM == 2 ? rank : 0), bn = bn * CN + (CN == 2 ? rank : 0);
      const int bm0 = bm * BM, bn0 = bn * BN;
      for (int kt = u.kb; kt < u.ke; kt++, it++) {
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
  // this consumer's first m64 tile of the block tile; its fixup barrier and flag, and
  // whether it is the thread that counts a unit in
  const int wrow = PINGPONG ? 0 : cw * MT;
  unsigned long long *const my_cbar = cbar + (PINGPONG ? cw : 0);
  unsigned int *const my_flag = last_flag + (PINGPONG ? cw : 0);
  const bool counter_thread = PINGPONG ? t == 0 : tid == 128;
  // The descriptors of stage 0 at k 0; another stage or k step adds bytes >> 4 to the
  // start address field (at_wgmma_desc_plus: shared addresses stay below 256 KiB).
  const unsigned long long da0 = A_T ? at_wgmma_desc(sA, 128u * BK, 1024u, AT_WGMMA_SWIZZLE_128B)
                                     : at_wgmma_desc(sA, 16u, 16u * BK, AT_WGMMA_SWIZZLE_128B);
  const unsigned long long db0 = B_T ? at_wgmma_desc(sB, 16u, 16u * BK, AT_WGMMA_SWIZZLE_128B)
                                     : at_wgmma_desc(sB, 128u * BK, 1024u, AT_WGMMA_SWIZZLE_128B);
  auto a_off = [&](int i, int kk) -> unsigned int {
    const int m0 = (wrow + i) * 64;
    return A_T ? (unsigned int)(m0 / 64 * 128 * BK + kk / 8 * 1024)
               : (unsigned int)(m0 * 2 * BK + kk * 2);
  };
  auto b_off = [&](int kk) -> unsigned int {
    return B_T ? (unsigned int)(kk * 2) : (unsigned int)(kk / 8 * 1024);
  };
  unsigned char *const my_c = sC + (cw * 4 + warp) * STAGE_C;
  // A stage goes back to the producer: one arrival per warp once the warp's lanes have
  // passed their wgmma wait (32 times fewer shared-memory atomics on `empty` than one per
  // thread, which every k-tile paid); with MCAST also to the peer's producer (the peer
  // multicast into it too).
  auto release = [&](int s) {
    at_syncwarp();
    if (lane == 0) {
      at_mbarrier_arrive(&empty[s]);
      if (MCAST)
        at_mbarrier_arrive_cluster(at_mapa_shared(&empty[s], (unsigned int)peer));
    }
  };

  // ---- epilogue, two accumulators at a time: register r of m tile i is
  // D(at_wgmma_d_row(t, r), at_wgmma_d_col(t, r)), and r, r + 1 (r even) are neighbouring
  // columns of one row, so a pair is one store (at_store_c_pair: one 4-byte access where
  // both exist). EPI 1 stages this warp's 16 rows, BN wide, alike, and epi_end stores the
  // box in one bulk copy ----
  int bm0 = 0, bn0 = 0;
  auto epi_pair = [&](int i, int r, float a0, float a1) {
    const int row = bm0 + (wrow + i) * 64 + at_wgmma_d_row(t, r);
    const int col = bn0 + at_wgmma_d_col(t, r);
    if (EPI == 0) {
      at_store_c_pair(C, ldc, row, col, M, N, a0, a1, alpha, beta);
      return;
    }
    const int lr = at_wgmma_d_row(t, r) - 16 * warp, c = at_wgmma_d_col(t, r);
    float v0 = alpha * a0, v1 = alpha * a1;
    if (beta != 0.0f && row < M) { // beta C, of the columns inside N
      if (col < N)
        v0 += beta * at_to_float(C[(long long)row * ldc + col]);
      if (col + 1 < N)
        v1 += beta * at_to_float(C[(long long)row * ldc + col + 1]);
    }
    // c even, BN even: aligned
    at_wgmma_store_b32(reinterpret_cast<T *>(my_c) + lr * BN + c, at_wgmma_pack_pair<T>(v0, v1));
  };
  auto epi_end = [&](int i) {
    if (EPI == 1) {
      at_tma_fence_proxy_async();
      at_syncwarp();
      if (lane == 0) {
        at_tma_store_2d(tmap_C, my_c, bn0, bm0 + (wrow + i) * 64 + 16 * warp);
        at_tma_store_commit();
        at_tma_store_wait<0>(); // the staging is read before it is written again
      }
      at_syncwarp();
    }
  };
  // [streamk] the fixup's sum: registers a thread adds at a time (BN / 2 is 32 to 128)
  constexpr int CHUNK = 16;

  float acc[MT][BN / 2];
  int it = 0;
  unsigned int cphase = 0; // [streamk] cbar's phase
  int turn = 0;            // PINGPONG: the walk's units alternate between the consumers
  unsigned int waits = 0;  // PINGPONG: this consumer's waits on its `order`
  while (sched.next_unit(&u)) {
    if (PINGPONG && (turn++ & 1) != cw) {
      it += u.ke - u.kb; // the other consumer's unit: its stages go by
      continue;
    }
    if (PINGPONG && turn > 1) // the other consumer's k-loop of the unit before is done
      at_mbarrier_wait_parity(&order[cw], waits++ & 1u);
    int bm, bn;
    tile_coords<RASTER, GROUP>(u.tile, grid_cm, grid_cn, &bm, &bn);
    bm = bm * CM + (CM == 2 ? rank : 0), bn = bn * CN + (CN == 2 ? rank : 0);
    bm0 = bm * BM, bn0 = bn * BN;
#pragma unroll
    for (int i = 0; i < MT; i++) {
#pragma unroll
      for (int r = 0; r < BN / 2; r++)
        acc[i][r] = 0.0f;
      at_wgmma_fence_acc<BN / 2>(acc[i]); // the zeros stay here, not sunk toward a wait
    }
    for (int kt = u.kb; kt < u.ke; kt++, it++) {
      const int s = it % STAGES;
      at_mbarrier_wait_parity(&full[s], (unsigned int)(it / STAGES) & 1u);
      const unsigned long long da = at_wgmma_desc_plus(da0, (unsigned int)(s * A_BYTES));
      const unsigned long long db = at_wgmma_desc_plus(db0, (unsigned int)(s * B_BYTES));
      at_wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < BK; kk += 16)
#pragma unroll
        for (int i = 0; i < MT; i++)
          wgmma<BN, A_T, 1 - B_T>(acc[i], at_wgmma_desc_plus(da, a_off(i, kk)),
                                  at_wgmma_desc_plus(db, b_off(kk)), (const T *)0);
      at_wgmma_commit_group();
      if (WAIT == 0) {
        at_wgmma_wait_group<0>();
        release(s);
      } else {
        // the previous k-tile's group is complete: its stage goes back to the producer
        at_wgmma_wait_group<1>();
        if (kt > u.kb)
          release((it - 1) % STAGES);
      }
    }
    if (WAIT == 1) {
      at_wgmma_wait_group<0>();
      if (u.ke > u.kb)
        release((it - 1) % STAGES);
    }
#pragma unroll
    for (int i = 0; i < MT; i++)
      at_wgmma_fence_acc<BN / 2>(acc[i]); // the epilogue's reads stay below the last wait
    if (PINGPONG) { // the other consumer's turn
      at_syncwarp();
      if (lane == 0)
        at_mbarrier_arrive(&order[1 - cw]);
    }

    // ---- [streamk] fixup of a unit that is not a whole tile (every split-K unit, even
    // an empty slice where K is short): the slot, the count, and the last unit to count
    // sums the tile's slots into the epilogue ----
    if (SCHED == 1 || (SCHED != 0 && (u.kb != 0 || u.ke != KT))) {
      // A slot is BM x BN floats in the thread-fragment order, four registers together:
      // registers r .. r + 3 (r a multiple of 4) of m tile i of thread t at
      // ((wrow + i) * (BN / 2) + r) * 128 + 4 t, so every access is 16 bytes a thread and
      // 512 contiguous bytes a warp.
      constexpr int SLOT = BM * BN;
      unsigned int *const count = static_cast<unsigned int *>(WS) + u.tile;
      float *const slots = static_cast<float *>(WS) + (tiles + 3) / 4 * 4;
      float *const mine = slots + u.slot * SLOT + wrow * (BN / 2) * 128 + 4 * t;
#pragma unroll
      for (int i = 0; i < MT; i++)
#pragma unroll
        for (int r = 0; r < BN / 2; r += 4) {
          at_float4 v;
          v.x = acc[i][r], v.y = acc[i][r + 1], v.z = acc[i][r + 2], v.w = acc[i][r + 3];
          at_store_f32x4(mine + (i * (BN / 2) + r) * 128, v);
        }
      at_threadfence(); // the slot before the count (release)
      at_mbarrier_arrive(my_cbar);
      at_mbarrier_wait_parity(my_cbar, cphase);
      cphase ^= 1u;
      if (counter_thread) { // the count between fences of its own thread: release, acquire
        const unsigned int n = (unsigned int)sched.contributors(u);
        at_threadfence(); // (cumulative: the other threads' slots it saw through cbar)
        const unsigned int before = at_atomic_add_u32(count, 1u);
        at_threadfence();
        *my_flag = before == n - 1u ? 1u : 0u;
      }
      at_mbarrier_arrive(my_cbar); // the flag to every thread of the consumer(s)
      at_mbarrier_wait_parity(my_cbar, cphase);
      cphase ^= 1u;
      if (*my_flag == 0u)
        continue; // another unit of this tile finishes it
      at_threadfence(); // every slot after the count (acquire)
      // The tile's sum, CHUNK registers at a time straight into the epilogue: acc is dead
      // here (it is in this unit's slot), so the sum never holds a second accumulator
      // set beside it (256 x 128 with two consumers spilled when it did). A chunk's loads
      // of every contributor go out before its zeroing stores (which the compiler could
      // not move a later contributor's loads above), so they overlap in flight; the sum
      // still adds the contributors in their fixed order.
      const int n = sched.contributors(u);
      const auto seq = sched.slots(u);
#pragma unroll
      for (int i = 0; i < MT; i++) {
#pragma unroll 1 // (unrolled, NVRTC's allocation reaches 255 registers at 64 x 256)
        for (int r0 = 0; r0 < BN / 2; r0 += CHUNK) {
          float sum[CHUNK];
#pragma unroll
          for (int r = 0; r < CHUNK; r++)
            sum[r] = 0.0f;
          const int off = ((wrow + i) * (BN / 2) + r0) * 128 + 4 * t;
#pragma unroll 4
          for (int j = 0; j < n; j++) {
            const float *const p = slots + sched.at(seq, j) * SLOT + off;
#pragma unroll
            for (int r = 0; r < CHUNK; r += 4) {
              const at_float4 v = at_load_f32x4_coherent(p + r * 128);
              sum[r] += v.x, sum[r + 1] += v.y, sum[r + 2] += v.z, sum[r + 3] += v.w;
            }
          }
          at_float4 zero;
          zero.x = zero.y = zero.z = zero.w = 0.0f;
          for (int j = 0; j < n; j++) {
            float *const p = slots + sched.at(seq, j) * SLOT + off;
#pragma unroll
            for (int r = 0; r < CHUNK; r += 4)
              at_store_f32x4(p + r * 128, zero);
          }
#pragma unroll
          for (int r = 0; r < CHUNK; r += 2)
            epi_pair(i, r0 + r, sum[r], sum[r + 1]);
        }
        epi_end(i);
      }
      if (counter_thread)
        *count = 0u;
      continue;
    }

#pragma unroll
    for (int i = 0; i < MT; i++) {
      const int row0 = bm0 + (wrow + i) * 64;
      if (EPI == 0 && at_wgmma_d_inside(C, ldc, row0, bn0, BN, M, N)) {
        at_wgmma_store_d_inside<T, BN>(C, ldc, row0, bn0, t, acc[i], alpha, beta);
        continue;
      }
#pragma unroll
      for (int r = 0; r < BN / 2; r += 2)
        epi_pair(i, r, acc[i][r], acc[i][r + 1]);
      epi_end(i);
    }
  }
  if (MCAST) { // see the producer's
    at_syncwarp();
    at_cluster_arrive();
    at_cluster_wait();
  }
#endif
}
