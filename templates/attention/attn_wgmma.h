// attn_wgmma.h - attention forward on Hopper (sm_90a) warpgroup tensor cores with TMA,
// FlashAttention-3's structure, for f16 and bf16 with f32 accumulation, under the
// attention contract v2 (tuner/ops/op_attn.h): grouped-query heads (query head h reads KV
// head h / (H / HKV)), the bottom-right causal mask, the optional logsumexp output LSE.
//
// A block computes BQ = 64 CWG query rows of one (batch, head): one producer warpgroup
// and CWG consumer warpgroups of 128 threads, consumer w owning the 64 rows 64 w.. (one
// wgmma m64 tile). One producer thread loads, with the tensor memory accelerator
// (templates/common/at_tma.h), each consumer's Q tile once (its own mbarrier) and then
// the block's K and V tiles of BN keys into a STAGES-deep ring, each stage announced on
// its `full` mbarrier (arrive.expect_tx with the stage's bytes) once its `empty` mbarrier
// says every consumer warp is done with it (the ring of gemm_tma.h). Every box is 64
// head-dim columns (128 bytes) by 64 (Q) or BN (K, V) rows, 128B-swizzled: exactly the
// K-major layout wgmma reads for Q (A) and K (B) of S = Q K^T, and the MN-major layout
// of V as the B operand of O += P V (templates/common/at_wgmma.h; head dim 128 is two
// boxes, 256 four, each LBO bytes after the last). A consumer's tile loop:
//   S = Q K^T (wgmma m64nBNk16 over the head dim), then the online softmax in registers
//   on the accumulator layout (at_wgmma_d_row / d_col: each thread holds two rows, each
//   row's maximum and sum reduced over the four lanes that share it), logits scaled by
//   scale * log2(e) so that only exp2 is needed (folded into exp2's FFMA, maxima over
//   the raw scores: at_softmax_fold), O rescaled once per tile; P rounded to
//   T, then O += P V (m64nHDk16, V MN-major) with P either (PREG 1) in registers, as
//   wgmma's register-A operand (the S accumulators of 16 keys are exactly its A
//   fragment, as with mma.sync: FlashAttention-3's way), or (PREG 0) stored to shared
//   memory in the K-major 128B-swizzled layout (double-buffered per warpgroup;
//   fence.proxy.async, then a warpgroup barrier) and read through a descriptor.
// The GEMMs are issued as one group per tile: P V of the previous tile with Q K^T of
// this one, then the stage of the previous tile goes back to the producer; with OVERLAP
// (P in registers) as two groups, Q K^T first, so that the tile's softmax runs while the
// previous P V is in flight and only O's rescale and the new P wait for it
// (FlashAttention-3's intra-warpgroup pipelining; the host emulation fails the launch
// where P's registers or O are written before the wait that completes P V). With
// PINGPONG (two consumer warpgroups) the groups of the two warpgroups take turns: a
// warpgroup waits for its turn, issues its group and hands the turn to the other, so
// that one warpgroup's softmax runs under the other's GEMMs (FlashAttention-3's
// "ping-pong" scheduling). The turns are named barriers of 256 threads (a consumer's
// bar.sync on its own, the other's bar.arrive), the warpgroup barrier (PREG 0) one of
// 128 (at_tma.h; emulated on the host with deadlock detection).
// With REGS the warpgroups re-divide the register file (setmaxnreg: producer 40,
// consumers 240 or 232), as gemm_tma.h.
//
// Tensor maps: Q over the B H SQ rows of D columns, K and V over the B HKV SK rows
// (tuner/ops/attn_run.c builds them). A tile's rows past its head's SQ or SK belong to
// the next head (or lie past the tensor, where TMA fills zeros): query rows past SQ are
// computed and never stored, keys past SK are masked like keys the causal mask hides.
// Causal: tiles past the block's last visible key are never loaded, the mask is applied
// only to tiles that hold a key some row of the warpgroup must not see, and blocks of a
// head are issued last query tile first. Both consumers walk the same tiles (the
// block's), so that their turns pair up. A row that sees no key is 0 with LSE -inf.
//
// Head dim 256 (O alone is 128 f32 registers a thread, S another BN / 2): 64-key tiles
// only (a K+V stage is 64 KiB; 128 keys would be 128 KiB: smem), one consumer on up to
// 255 registers (256 threads) or two with REGS (232), no ping-pong with P in shared
// memory (it spills: regs_d256_pingpong); P V is m64n256k16. FlashAttention-3 takes
// 80-key tiles there; wgmma N = 80 is not in at_wgmma.h, and 64 already fits.
// Refused (named requires): head dims other than 64, 128 and 256; a paged KV cache (TMA
// boxes of 16-token pages would need a map per page or gather loads: attn_mma and
// attn_decode serve it); f32 (wgmma takes 16-bit inputs here). Decode
// problems run (64-row tiles mostly empty): attn_decode is the template for them.
//
// NOT YET RUN ON A GPU: compiled for sm_90a and emulated on the host (copies performed
// at the mbarrier wait with transaction-byte accounting, wgmmas at wait_group), but
// nobody has run it on an H100/H200.
//
// Learned from (our own code, not a copy): Shah et al., "FlashAttention-3: Fast and
// Accurate Attention with Asynchrony and Low-precision" (2024): producer/consumer
// warpgroups over a TMA ring, ping-pong scheduling of softmax under the other
// warpgroup's GEMMs; Dao, "FlashAttention-2" (2023) for the online softmax (one rescale
// per tile, the division by the row sum at the end, the logsumexp); the PTX ISA 8.x for
// wgmma, cp.async.bulk.tensor, mbarrier, bar.sync / bar.arrive and setmaxnreg.
#include "at_math.h"
#include "at_tma.h"
#include "at_wgmma.h"

#pragma autotune kernel attn_wgmma
#pragma autotune problem B, H, HKV, SQ, SK, D, CAUSAL, PAGED
#pragma autotune dtype T
#pragma autotune arch_specific
#pragma autotune param BN = 64, 128        // keys per tile (the N of S = Q K^T)
#pragma autotune param STAGES = 2, 3, 4    // K/V tiles in the TMA ring
#pragma autotune param CWG = 1, 2          // consumer warpgroups (64 query rows each)
#pragma autotune param PINGPONG = 0, 1     // the two consumers' GEMMs take turns
#pragma autotune param REGS = 0, 1         // setmaxnreg re-division
#pragma autotune param PREG = 0, 1         // P V with P from registers (1) or shared memory
#pragma autotune param OVERLAP = 0, 1      // a tile's softmax under the previous tile's P V
#pragma autotune derive HD = D
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
#pragma autotune derive BQ = 64 * CWG
// Boxes of 64 head-dim columns (128 bytes, the 128B swizzle's row) by the tile's rows.
#pragma autotune tensormap Q box(64, 64) swizzle(128)
#pragma autotune tensormap K box(64, BN) swizzle(128)
#pragma autotune tensormap V box(64, BN) swizzle(128)
#pragma autotune require hopper: device.is_nvidia && device.arch_major == 9
// See the note above: other head dims are refused, not silently wrong.
#pragma autotune require head_dim: HD == 64 || HD == 128 || HD == 256
#pragma autotune require not_paged: PAGED == 0
#pragma autotune require gqa: HKV >= 1 && H % HKV == 0
#pragma autotune require pingpong_pairs: PINGPONG == 0 || CWG == 2
// Overlap keeps P V's A operand in flight while the next P is computed: registers only.
#pragma autotune require overlap_preg: OVERLAP == 0 || PREG == 1
// Q of each consumer, the ring, P double-buffered per consumer, barriers and 1024 bytes
// to align the swizzled tiles.
#pragma autotune require smem: CWG * 128 * HD + STAGES * 4 * BN * HD + \
  (1 - PREG) * CWG * 256 * BN + 2048 <= device.lds_bytes
// O (HD / 2 floats) and S (BN / 2) plus about 64 registers a consumer thread (P in
// registers, BN / 4 words, replaces shared-memory addressing); with REGS
// the producer keeps 40 and the consumers take 240 (one warpgroup) or 232 (two). Head dim
// 256 (compiled for sm_90a, ptxas of CUDA 13.0): one consumer without REGS 229 to 254
// registers (of 255), two only with REGS (168 at entry, 0 spills in 232).
#pragma autotune require registers: device.regs_per_cu == 0 || \
  (REGS == 1 ? 128 * 40 + CWG * 128 * (CWG == 1 ? 240 : 232) \
             : (CWG + 1) * 128 * (HD / 2 + BN / 2 + 64)) <= device.regs_per_cu
#pragma autotune require regs_fit: REGS == 0 || HD / 2 + BN / 2 + 64 <= (CWG == 1 ? 240 : 232)
// Head dim 256 with two consumers at 232 registers: ping-pong with P through shared memory
// spills (8 bytes, ptxas of CUDA 13.0 for sm_90a: the P stores' addresses on top of O's
// 128, S's 32 and the turns' state); with P in registers, or without ping-pong, 0 spills.
#pragma autotune require regs_d256_pingpong: HD < 256 || PINGPONG == 0 || PREG == 1
// Head dim 64 with 128-key tiles on two consumers at the even split (168 registers a
// thread): P through shared memory, or the overlap, spills (4 to 52 bytes, ptxas of CUDA
// 13.0 for sm_90a, causal or not); P in registers without the overlap does not (154-160),
// nor does any REGS twin (232).
#pragma autotune require regs_d64_even_split: HD > 64 || BN == 64 || CWG == 1 || REGS == 1 || \
  PREG == 1 && OVERLAP == 0
// One consumer warpgroup (256 threads) may start with 255 registers a thread anyway.
#pragma autotune require regs_split: REGS == 0 || CWG == 2
// Only where the consumers come near the even split's 168 registers: below it ptxas
// allocates fewer at entry and ignores setmaxnreg ("unable to determine register count
// at entry", C7508; seen with BN 64 at head dim 64, 118 registers).
#pragma autotune require regs_useful: REGS == 0 || HD / 2 + BN / 2 + 64 >= 160
#pragma autotune require fits_q: BQ < 2 * max(SQ, 64)
#pragma autotune require fits_kv: BN < 2 * max(SK, 64)
#pragma autotune require stages_useful: STAGES <= max(2, cdiv(SK, BN))
#pragma autotune threads (CWG + 1) * 128
#pragma autotune grid B * H * cdiv(SQ, BQ)
#pragma autotune shared CWG * 128 * HD + STAGES * 4 * BN * HD + \
  (1 - PREG) * CWG * 256 * BN + 2048

namespace attn_wgmma_detail {

#if AT_HAS_WGMMA && AT_HAS_TMA
template <int N, int TB>
AT_DEV void wgmma(float *d, unsigned long long da, unsigned long long db, int acc,
                  const at_half *)
{
  at_wgmma_m64nNk16_f32_f16<N, 0, TB>(d, da, db, acc);
}
template <int N, int TB>
AT_DEV void wgmma(float *d, unsigned long long da, unsigned long long db, int acc,
                  const at_bfloat16 *)
{
  at_wgmma_m64nNk16_f32_bf16<N, 0, TB>(d, da, db, acc);
}
// A from registers (the "RS" form), B from shared memory.
template <int N, int TB>
AT_DEV void wgmma_rs(float *d, const unsigned int *a, unsigned long long db, const at_half *)
{
  at_wgmma_m64nNk16_rs_f32_f16<N, TB>(d, a, db, 1);
}
template <int N, int TB>
AT_DEV void wgmma_rs(float *d, const unsigned int *a, unsigned long long db,
                     const at_bfloat16 *)
{
  at_wgmma_m64nNk16_rs_f32_bf16<N, TB>(d, a, db, 1);
}

template <typename T> AT_DEV unsigned int pack_f32(float lo, float hi)
{
  return (unsigned int)at_from_float<T>(lo).bits | (unsigned int)at_from_float<T>(hi).bits << 16;
}

// Named barrier ids (0 is __syncthreads'): consumer w's turn, consumer w's own barrier.
constexpr int BAR_TURN = 1, BAR_WG = 3;
#endif

} // namespace attn_wgmma_detail

template <typename T, int BN, int STAGES, int CWG, int PINGPONG, int REGS, int PREG,
          int OVERLAP, int HD, int IS_CAUSAL, int BQ>
__device__ void attn_wgmma(const T *Q, const T *K, const T *V, T *O, float *LSE,
                           const int *BT, int B, int H, int HKV, int SQ, int SK, float scale,
                           const at_tensormap &tmap_Q, const at_tensormap &tmap_K,
                           const at_tensormap &tmap_V)
{
#if !AT_HAS_WGMMA || !AT_HAS_TMA
  static_assert(sizeof(T) == 0, "attn_wgmma needs wgmma and TMA, which only sm_90a has: "
                                "build with -arch=sm_90a");
#else
  using namespace attn_wgmma_detail;
  static_assert(sizeof(T) == 2, "attn_wgmma: f16 and bf16 only");
  static_assert(BN == 64 || BN == 128, "attn_wgmma: BN is a wgmma N");
  static_assert(HD == 64 || HD == 128 || HD == 256, "attn_wgmma: head dim 64, 128 or 256");
  static_assert(BQ == 64 * CWG && (CWG == 1 || CWG == 2), "attn_wgmma: 64 rows a consumer");
  static_assert(PINGPONG == 0 || CWG == 2, "attn_wgmma: ping-pong takes two consumers");
  static_assert(STAGES >= 2, "attn_wgmma: the ring needs two stages");
  (void)Q, (void)K, (void)V, (void)BT, (void)B;
  constexpr int DB = HD / 64;              // 64-column boxes per row of Q, K, V
  constexpr int BOX_Q = 64 * 128;          // bytes of one Q box (64 rows x 128 bytes)
  constexpr int BOX_KV = BN * 128;         // bytes of one K or V box
  constexpr int Q_BYTES = DB * BOX_Q;      // one consumer's Q tile
  constexpr int KV_BYTES = DB * BOX_KV;    // one K (or V) tile
  constexpr int P_BYTES = 64 * BN * 2;     // one P buffer: BN / 64 boxes of 64 x 128 bytes
  constexpr int NS = BN / 2, NO = HD / 2;  // S and O registers a thread
  // A stage goes back to the producer with one arrival a consumer warp (its lanes past
  // their wgmma wait: 32 times fewer shared-memory atomics on `empty`), or at head dim 256
  // one a thread (the warp's convergence point there spilled 8 bytes at 232 registers).
  constexpr bool WARP_RELEASE = HD <= 128;

  // Tiles from a 1024-byte boundary (the 128B swizzle's pattern), then the barriers.
  AT_DYNAMIC_SHARED(unsigned char, smem_raw);
  const unsigned int raw_addr = (unsigned int)(at_wgmma_desc(smem_raw, 0, 0, 0) & 0x3FFFu) << 4;
  unsigned char *const smem = smem_raw + ((1024u - (raw_addr & 1023u)) & 1023u);
  unsigned char *const sQ = smem;
  unsigned char *const sK = sQ + CWG * Q_BYTES;
  unsigned char *const sV = sK + STAGES * KV_BYTES;
  unsigned char *const sP = sV + STAGES * KV_BYTES;
  unsigned long long *const full =
      reinterpret_cast<unsigned long long *>(sP + (1 - PREG) * CWG * 2 * P_BYTES);
  unsigned long long *const empty = full + STAGES;
  unsigned long long *const qbar = empty + STAGES;

  const int nqt = (SQ + BQ - 1) / BQ;
  const int bid = (int)at_block_idx_x(), bh = bid / nqt;
  const int q0 = (nqt - 1 - bid % nqt) * BQ; // last query tile first
  const int b = bh / H, h = bh % H, g = h / (H / HKV);
  const int kv_row0 = (b * HKV + g) * SK;    // the head's first row in K and V's maps
  const int tid = (int)at_thread_idx_x(), wg = tid / 128, t = tid % 128;

  // Causal: the block's last row sees keys up to q0 + BQ - 1 + SK - SQ.
  int kv_end = SK;
  if (IS_CAUSAL) {
    const int last = q0 + BQ + SK - SQ;
    kv_end = last < kv_end ? last : kv_end;
  }
  const int ntiles = kv_end > 0 ? (kv_end + BN - 1) / BN : 0;

  if (tid == 0) {
    for (int s = 0; s < STAGES; s++) {
      at_mbarrier_init(&full[s], 1);
      at_mbarrier_init(&empty[s], CWG * (WARP_RELEASE ? 4 : 128));
    }
    at_mbarrier_init(qbar, 1);
    at_fence_mbarrier_init();
    at_tma_prefetch_map(tmap_Q);
    at_tma_prefetch_map(tmap_K);
    at_tma_prefetch_map(tmap_V);
  }
  at_syncthreads();

  if (wg == 0) {
    // ---- the producer ----
    if (REGS)
      at_setmaxnreg_dec<40>();
    if (t != 0 || ntiles == 0)
      return;
    at_mbarrier_arrive_expect_tx(qbar, CWG * Q_BYTES);
    for (int w = 0; w < CWG; w++)
#pragma unroll
      for (int c = 0; c < DB; c++)
        at_tma_load_2d(sQ + w * Q_BYTES + c * BOX_Q, tmap_Q, 64 * c, bh * SQ + q0 + 64 * w,
                       qbar);
    for (int kt = 0; kt < ntiles; kt++) {
      const int s = kt % STAGES;
      at_mbarrier_wait_parity(&empty[s], ((unsigned int)(kt / STAGES) & 1u) ^ 1u);
      at_mbarrier_arrive_expect_tx(&full[s], 2 * KV_BYTES);
#pragma unroll
      for (int c = 0; c < DB; c++) {
        at_tma_load_2d(sK + s * KV_BYTES + c * BOX_KV, tmap_K, 64 * c, kv_row0 + kt * BN,
                       &full[s]);
        at_tma_load_2d(sV + s * KV_BYTES + c * BOX_KV, tmap_V, 64 * c, kv_row0 + kt * BN,
                       &full[s]);
      }
    }
    return;
  }

  // ---- the consumers ----
  if (REGS)
    at_setmaxnreg_inc<CWG == 1 ? 240 : 232>();
  const int cw = wg - 1, lane = t % 32;
  const int row_base = q0 + 64 * cw; // this warpgroup's first query row

  // Descriptors at stage 0 and k 0: Q, K and P K-major (128-byte rows, 8-row groups 1024
  // bytes apart), V MN-major (8-key groups 1024 bytes apart, the next 64 columns a box
  // on). A stage, box or k step adds bytes >> 4 to the start address field.
  const unsigned long long dq =
      at_wgmma_desc(sQ + cw * Q_BYTES, 16u, 1024u, AT_WGMMA_SWIZZLE_128B);
  const unsigned long long dk = at_wgmma_desc(sK, 16u, 1024u, AT_WGMMA_SWIZZLE_128B);
  const unsigned long long dv =
      at_wgmma_desc(sV, (unsigned int)BOX_KV, 1024u, AT_WGMMA_SWIZZLE_128B);
  unsigned char *const my_p = sP + cw * 2 * P_BYTES;
  const unsigned long long dp =
      PREG ? 0ull : at_wgmma_desc(my_p, 16u, 1024u, AT_WGMMA_SWIZZLE_128B);

  const float qs = (scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD)) * AT_LOG2E;
  const float qa = at_softmax_fold(qs); // |qs|: the scale in exp2's FFMA (at_math.h)
  float o[NO], sc[NS], m[2], l[2];
  unsigned int pa[BN / 16][4]; // PREG: P as the A fragments of P V, one per 16 keys
#pragma unroll
  for (int i = 0; i < NO; i++)
    o[i] = 0.0f;
  m[0] = m[1] = at_neg_inf();
  l[0] = l[1] = 0.0f;
  // This thread's rows (accumulator halves r = (i / 2) % 2) and key columns.
  int rows[2];
  rows[0] = row_base + at_wgmma_d_row(t, 0);
  rows[1] = row_base + at_wgmma_d_row(t, 2);

  auto release = [&](int s) {
    if (WARP_RELEASE) {
      at_syncwarp();
      if (lane == 0)
        at_mbarrier_arrive(&empty[s]);
    } else {
      at_mbarrier_arrive(&empty[s]);
    }
  };
  // Ping-pong turns: consumer w's turn is named barrier BAR_TURN + w of 256 threads, its
  // own 128 waiting (bar.sync) and the other's 128 passing it on (bar.arrive).
  auto turn_wait = [&]() {
    if (PINGPONG)
      at_named_bar_sync(BAR_TURN + cw, 256);
  };
  auto turn_pass = [&]() {
    if (PINGPONG)
      at_named_bar_arrive(BAR_TURN + 1 - cw, 256);
  };
  // O += P V for tile kt (its P in pa or in buffer kt % 2, its V in stage kt % STAGES).
  auto issue_pv = [&](int kt) {
    const unsigned long long da = dp + ((unsigned long long)((kt & 1) * P_BYTES) >> 4);
    const unsigned long long db = dv + ((unsigned long long)((kt % STAGES) * KV_BYTES) >> 4);
#pragma unroll
    for (int kk = 0; kk < BN; kk += 16)
      if (PREG)
        wgmma_rs<HD, 1>(o, pa[kk / 16], db + ((unsigned long long)(kk * 128) >> 4),
                        (const T *)0);
      else
        wgmma<HD, 1>(o, da + ((unsigned long long)(kk / 64 * 8192 + kk % 64 * 2) >> 4),
                     db + ((unsigned long long)(kk * 128) >> 4), 1, (const T *)0);
  };
  // S = Q K^T for tile kt (its K in stage kt % STAGES).
  auto issue_s = [&](int kt) {
    const unsigned long long db = dk + ((unsigned long long)((kt % STAGES) * KV_BYTES) >> 4);
#pragma unroll
    for (int kk = 0; kk < HD; kk += 16)
      wgmma<BN, 0>(sc, dq + ((unsigned long long)(kk / 64 * BOX_Q + kk % 64 * 2) >> 4),
                   db + ((unsigned long long)(kk / 64 * BOX_KV + kk % 64 * 2) >> 4), kk > 0,
                   (const T *)0);
  };

  // The online softmax of tile kt on S (P left in sc, each row's rescale in al), without
  // touching O or pa (OVERLAP: P V of tile kt - 1 may still be reading and writing them).
  float al[2];
  auto softmax = [&](int kt) {
    // ---- online softmax: register i is (row at_wgmma_d_row(t, i), key k0 + d_col) ----
    // Maxima over the raw scores, qa x - m one FFMA into exp2 (at_softmax_fold); a
    // negative scale flips the scores' signs first, a uniform branch.
    const int k0 = kt * BN;
    const bool edge = k0 + BN > SK || (IS_CAUSAL && k0 + BN - 1 > row_base + SK - SQ);
    if (qs < 0.0f) {
#pragma unroll
      for (int i = 0; i < NS; i++)
        sc[i] = -sc[i];
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
      const int limit = IS_CAUSAL && rows[r] + SK - SQ < SK - 1 ? rows[r] + SK - SQ : SK - 1;
      float mx = at_neg_inf();
      if (edge) { // a key past SK or the causal limit is -inf
#pragma unroll
        for (int i = 0; i < NS; i++) {
          if ((i / 2) % 2 != r)
            continue;
          const float x = k0 + at_wgmma_d_col(t, i) > limit ? at_neg_inf() : sc[i];
          sc[i] = x;
          mx = at_fmaxf(mx, x);
        }
      } else { // (the tiles inside: no per-key test, a compare and select a key)
#pragma unroll
        for (int i = 0; i < NS; i++)
          if ((i / 2) % 2 == r)
            mx = at_fmaxf(mx, sc[i]);
      }
      mx = at_fmaxf(mx, at_shfl_xor(mx, 1));
      mx = at_fmaxf(mx, at_shfl_xor(mx, 2));
      const float mnew = at_fmaxf(m[r], mx * qa);
      // A row that has seen no key yet keeps -inf: subtract 0 so exp2 gives 0, not NaN.
      const float base = mnew == at_neg_inf() ? 0.0f : mnew;
      const float alpha = at_exp2f(m[r] - base);
      m[r] = mnew;
      float sum = 0.0f;
#pragma unroll
      for (int i = 0; i < NS; i++) {
        if ((i / 2) % 2 != r)
          continue;
        const float p = at_exp2f(sc[i] * qa - base);
        sc[i] = p;
        sum += p;
      }
      l[r] = l[r] * alpha + sum;
      al[r] = alpha;
    }
  };
  // Then O rescaled and tile kt's P to registers or shared memory (buffer kt % 2).
  auto rescale_p = [&](int kt) {
    // (a row whose max did not move has alpha exactly 1, 2^0: past a long row's first
    // tiles most warps skip the multiplies, a uniform branch; o * 1 is o, bit for bit)
    if (at_any(al[0] != 1.0f || al[1] != 1.0f)) {
#pragma unroll
      for (int i = 0; i < NO; i++)
        o[i] *= al[(i / 2) % 2];
    }

    // ---- P: registers i..i+7 of keys 16 j.. are exactly the A fragment of P V's k step
    // j (rows g, g + 8; keys 2 t, 2 t + 8 and the next), as with mma.sync; or to shared
    // memory (buffer kt % 2), K-major 128B-swizzled, pairs of keys ----
    if (PREG) {
#pragma unroll
      for (int j = 0; j < BN / 16; j++)
#pragma unroll
        for (int w = 0; w < 4; w++)
          pa[j][w] = pack_f32<T>(sc[8 * j + 2 * w], sc[8 * j + 2 * w + 1]);
    } else {
      unsigned char *const pb = my_p + (kt & 1) * P_BYTES;
#pragma unroll
      for (int i = 0; i < NS; i += 2) {
        const int row = at_wgmma_d_row(t, i), key = at_wgmma_d_col(t, i);
        const unsigned int off = (unsigned int)(key / 64 * 8192) +
                                 at_wgmma_kmajor_offset(row, key % 64, AT_WGMMA_SWIZZLE_128B,
                                                        16u, 1024u);
        T *const p = reinterpret_cast<T *>(pb + off);
        at_st_shared_async(p, at_from_float<T>(sc[i]));
        at_st_shared_async(p + 1, at_from_float<T>(sc[i + 1]));
      }
      at_fence_proxy_async_shared(); // the stores, then wgmma's reads (the async proxy)
      at_named_bar_sync(BAR_WG + cw, 128);
    }
  };

  // The GEMMs of a step are one group: P V of tile kt - 1 with Q K^T of tile kt; the
  // first step has no P V, the last no Q K^T (no wgmma under a data-dependent branch:
  // ptxas would serialize them). A consumer waits for its turn (PINGPONG) before the
  // group and hands the turn on after issuing it.
  if (ntiles > 0) {
    if (PINGPONG && cw == 1) // consumer 1 gives consumer 0 the first turn
      at_named_bar_arrive(BAR_TURN, 256);
    at_mbarrier_wait_parity(qbar, 0);
    at_mbarrier_wait_parity(&full[0], 0);
    turn_wait();
    at_wgmma_fence();
    issue_s(0);
    at_wgmma_commit_group();
    turn_pass();
    at_wgmma_wait_group<0>();
    softmax(0);
    rescale_p(0);
    for (int kt = 1; kt < ntiles; kt++) {
      at_mbarrier_wait_parity(&full[kt % STAGES], (unsigned int)(kt / STAGES) & 1u);
      turn_wait();
      at_wgmma_fence();
      if (OVERLAP) {
        // Q K^T first, in a group of its own: its softmax runs while P V goes on
        issue_s(kt);
        at_wgmma_commit_group();
        issue_pv(kt - 1);
        at_wgmma_commit_group();
        turn_pass();
        at_wgmma_wait_group<1>();
        softmax(kt);
        at_wgmma_wait_group<0>();
      } else {
        issue_pv(kt - 1);
        issue_s(kt);
        at_wgmma_commit_group();
        turn_pass();
        at_wgmma_wait_group<0>();
        softmax(kt);
      }
      // tile kt - 1 is done with: its stage goes back to the producer
      release((kt - 1) % STAGES);
      rescale_p(kt);
    }
    turn_wait();
    at_wgmma_fence();
    issue_pv(ntiles - 1);
    at_wgmma_commit_group();
    if (cw == 0) // consumer 1's last turn is the last: nobody waits for another
      turn_pass();
    at_wgmma_wait_group<0>();
    release((ntiles - 1) % STAGES);
  }

  // ---- epilogue: the row sums over the row's four lanes, O / l, LSE ----
#pragma unroll
  for (int r = 0; r < 2; r++) {
    float sum = l[r];
    sum += at_shfl_xor(sum, 1);
    sum += at_shfl_xor(sum, 2);
    const int row = rows[r];
    if (row >= SQ)
      continue;
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    // registers i, i + 1 (i even) are neighbouring columns of the row: one 4-byte store
#pragma unroll
    for (int i = 0; i < NO; i += 2)
      if ((i / 2) % 2 == r)
        at_store_c_pair(O + (long long)bh * SQ * HD, HD, row, at_wgmma_d_col(t, i), SQ, HD,
                        o[i] * inv, o[i + 1] * inv, 1.0f, 0.0f);
    if (LSE && lane % 4 == 0)
      LSE[(long long)bh * SQ + row] = sum > 0.0f ? (m[r] + at_log2f(sum)) * AT_LN2 : at_neg_inf();
  }
#endif
}
