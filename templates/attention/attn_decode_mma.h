// attn_decode_mma.h - decode attention (SQ <= 16 new queries against a long KV cache) on
// NVIDIA tensor cores (mma.sync m16n8k16, sm_80 and later, and the host emulating it),
// under the attention contract v2 (tuner/ops/op_attn.h): GQA, paged KV, optional LSE.
//
// Why a second decode template: attn_decode reads each K and V byte once for the R = (H /
// HKV) SQ query rows of a KV head, about R FLOPs a byte, on SIMT f32 FMAs; past R ~ 16
// (speculative decoding's 4-16 queries over a GQA group of 4-8 heads: R 16-128) that is
// more arithmetic than the vector units do in the time the memory takes (67 TFLOP/s f32
// against 4.3 TB/s on an H200: 15 FLOPs a byte). On tensor cores the same rows cost a
// few percent of the peak, so the KV read at memory speed stays the bound.
//
// The rows of a GQA group are packed (FlashInfer's and FlashAttention-3's "pack GQA"):
// packed row r is query r % SQ of head g (H / HKV) + r / SQ, consecutive rows of Q and O,
// so one block's R rows read their KV head's keys once, in 16-row mma slices (rows past
// R compute on zero queries and store nothing). Split-KV as attn_decode: the keys of one
// (batch, KV head) pair are cut into NS splits of whole tiles, one block each (NS from a
// target of BPS blocks a SM), and the partials are combined by the block that counts
// last (at_splitkv.h; NS == 1 writes O directly).
//
// A block has WR x WK warps: warp (wr, wk) holds the MS row slices s WR + wr in registers
// (Q as mma A fragments, loaded once; O's accumulators; the softmax state) and takes keys
// [wk KW, (wk + 1) KW) of every tile of BKV = WK KW keys. K and V tiles come through a
// STAGES-deep ring of shared-memory tiles filled by every thread with 16-byte cp.async
// (contiguous or paged through the block table), one barrier a tile, and the tile's math
// is attn_mma's (at_attn_mma.h: S = Q K^T with ldmatrix, the online softmax in
// registers, P kept in registers as the A operand of O += P V). At the end the WK warps of
// a row slice merge their (m, l, O) through shared memory (the ring's space), and the
// block's rows go to O or to the workspace.
//
// Causal: query i sees keys j <= i + SK - SQ (bottom right); only tiles past query 0's
// last key or past the split's end are masked. A row that sees no key gets O = 0 and LSE
// -inf.
//
// Learned from (our own code, not a copy): Dao, Haziza, Massa, Sizov, "Flash-Decoding for
// long-context inference" (2023); FlashInfer's decode kernels and FlashAttention-3's
// packing of a GQA group's heads into the query tile; FlashAttention-2 for the tile math.
#include "at_attn_mma.h" // the tile layout, its fill, Q K^T, the softmax, P V
#include "at_math.h"
#include "at_splitkv.h" // the split's partial, the count, the last block's combine

#pragma autotune kernel attn_decode_mma
#pragma autotune problem B, H, HKV, SQ, SK, D, CAUSAL, PAGED
#pragma autotune dtype T
#pragma autotune param MS = 1, 2              // 16-row slices a warp
#pragma autotune param WK = 1, 2, 4           // warps splitting a tile's keys
#pragma autotune param BKV = 16, 32, 64, 128  // keys a tile (whole 16-token pages)
#pragma autotune param STAGES = 2, 3, 4       // K/V tiles in the cp.async ring
#pragma autotune param SWZ = 0, 1             // 0: padded rows, 1: XOR-swizzled chunks
#pragma autotune param BPS = 1, 2, 4, 8       // target blocks per SM: sets the splits
#pragma autotune param MINB = 0, 1            // min_blocks: none, or one block an SM
#pragma autotune derive HD = D
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
#pragma autotune derive IS_PAGED = PAGED != 0
// The packed rows of one KV head, the warps over them, and those rows padded to slices.
#pragma autotune derive R = max(H / max(HKV, 1), 1) * SQ
#pragma autotune derive WR = cdiv(cdiv(R, 16), MS)
#pragma autotune derive RP = WR * MS * 16
// Key splits per (batch, KV head): enough blocks for BPS per SM, at most one per tile.
#pragma autotune derive NS = max(1, min(cdiv(SK, BKV), cdiv(BPS * max(device.cus, 1), B * max(HKV, 1))))
#pragma autotune derive ROW = SWZ ? HD : HD + 8
// mma.sync exists on NVIDIA sm_80+ and on the host emulating it (and takes f16 / bf16).
#pragma autotune require nvidia: device.is_nvidia && device.arch_major >= 8 || device.is_host
#pragma autotune require decode_rows: SQ >= 1 && SQ <= 16
#pragma autotune require gqa_group: HKV >= 1 && H % HKV == 0 && H / HKV <= 16
// As attn_mma's: at HD 256 one slice's Q fragments and accumulators alone take 192
// registers.
#pragma autotune require head_dim: HD % 16 == 0 && HD >= 16 && HD <= 128
#pragma autotune require swizzle_fits: SWZ == 0 || HD % 64 == 0 || HD == 32 || HD == 16
// Each key warp's share of a tile is whole 16-key steps.
#pragma autotune require key_split: BKV % (16 * WK) == 0
// Two slices a warp only where every warp has two with rows in them.
#pragma autotune require slices_useful: MS == 1 || cdiv(R, 16) % MS == 0
// Live across the key loop per thread, per slice: Q (HD / 4 words), O (HD / 2 floats),
// S / P (BKV / WK / 2 floats), as attn_mma's.
#pragma autotune require registers: MS * (3 * HD / 4 + BKV / WK / 2) <= 192
// The unrolled copy of a tile keeps one address per 16-byte vector a thread moves: at
// most 16 a tensor (attn_mma allows 8 beside its larger register tiles).
#pragma autotune require copy_regs: BKV * HD / 8 <= 16 * WR * WK * 32
#pragma autotune require block: WR * WK <= 16
#pragma autotune require fits_kv: BKV < 2 * max(SK, 16)
// No more stages than a split has tiles.
#pragma autotune require stages_useful: STAGES <= max(2, cdiv(cdiv(SK, BKV), NS))
// BPS values that give the same split count are one variant (the smallest BPS of them).
#pragma autotune require split_distinct: BPS == 1 || NS > max(1, min(cdiv(SK, BKV), cdiv(BPS / 2 * max(device.cus, 1), B * max(HKV, 1))))
#pragma autotune threads WR * WK * 32
#pragma autotune grid B * HKV * NS
// Without a minimum ptxas sets its own register target from the block size and spills a
// few bytes to meet it in some configs (168 registers, 4-12 bytes at 64 threads, sm_90);
// one block an SM lifts the cap to the register file over the threads. Which is faster
// (fewer registers and more blocks, or no spill) is the GPU's to say: both are variants.
#pragma autotune min_blocks MINB
// The K/V ring; after the key loop the same space holds the warps' merge: O [RP][HD] and
// (m, l) of every key warp's rows, f32, and the combine's flag word.
#pragma autotune shared max(STAGES * 2 * BKV * ROW * sizeof_f16, (RP * HD + 2 * WK * RP + 1) * sizeof_f32)
// Counters (one u32 per (batch, KV head), padded to 16 bytes), then per (batch, KV
// head, split, row) the partial: m, l, then HD accumulators, f32. None when NS == 1.
#pragma autotune workspace min(NS - 1, 1) * (cdiv(B * HKV, 4) * 16 + B * HKV * NS * R * (HD + 2) * sizeof_f32)

template <typename T, int MS, int WK, int BKV, int STAGES, int SWZ, int BPS, int MINB, int HD,
          int IS_CAUSAL, int IS_PAGED, int R, int WR, int RP, int NS>
__device__ void attn_decode_mma(const T *Q, const T *K, const T *V, T *O, float *LSE,
                                const int *BT, int B, int H, int HKV, int SQ, int SK,
                                float scale, void *WS)
{
  using namespace at_attn_mma;
  static_assert(sizeof(T) == 2, "attn_decode_mma: f16 and bf16 only (mma.sync)");
  static_assert(STAGES >= 2, "attn_decode_mma: the ring needs two stages");
  static_assert(HD % 16 == 0 && BKV % (16 * WK) == 0, "attn_decode_mma: whole mma steps");
  static_assert(BKV % PAGE == 0, "attn_decode_mma: tiles of whole pages");
  static_assert(RP == WR * MS * 16, "attn_decode_mma: rows in whole slices");
  constexpr int NT = WR * WK * 32;
  constexpr int KW = BKV / WK; // keys of a tile a warp takes
  constexpr int DK = HD / 16;  // k-steps of Q K^T
  constexpr int NSW = KW / 8;  // n8 tiles of a warp's S
  constexpr int ND = HD / 8;   // n8 tiles of O
  constexpr int TILE = BKV * (SWZ ? HD : HD + 8);
  (void)BPS;
  (void)NS;

  AT_DYNAMIC_SHARED(T, smem); // stage s: K at 2 s TILE, V at (2 s + 1) TILE

  const int tid = (int)at_thread_idx_x(), lane = tid & 31, warp = tid >> 5;
  const int wr = warp % WR, wk = warp / WR;
  const int gq = lane >> 2, t4 = lane & 3; // the fragment's row group and column pair
  // This block's (batch, KV head) pair and split, its rows and its keys (at_splitkv.h).
  const at_splitkv::block blk = at_splitkv::block_of(B, H, HKV, SQ, SK, R, BKV);
  const int ns = blk.ns, bg = blk.bg, split = blk.split, b = blk.b, g = blk.g;
  const int rows = blk.rows, k_lo = blk.k_lo, k_hi = blk.k_hi, ntiles = blk.ntiles;
  const long long row0 = blk.row0;
  const long long kv_off = ((long long)b * HKV + g) * SK * HD;
  const int *const bt = IS_PAGED ? BT + (long long)b * ((SK + PAGE - 1) / PAGE) : BT;
  const bool vec = ((unsigned long long)K | (unsigned long long)V) % 16 == 0;

  // This lane's packed rows (slice s, half r: rows gq and gq + 8 of the slice) and the
  // last key each sees: its query's causal limit, and the split's end.
  int prow[MS][2], limit[MS][2];
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int r = 0; r < 2; r++) {
      prow[s][r] = (s * WR + wr) * 16 + gq + 8 * r;
      const int last = IS_CAUSAL ? prow[s][r] % SQ + SK - SQ : SK - 1;
      limit[s][r] = last < k_hi - 1 ? last : k_hi - 1;
    }

  // Q fragments (at_mma.h's A layout), zero past the rows.
  unsigned int qf[MS][DK][4];
  load_q<T, MS, DK, HD>(qf, Q + row0 * HD, prow, rows, t4);

  const float qs = (scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD)) * AT_LOG2E;
  const float qa = at_softmax_fold(qs); // |qs|: the scale in exp2's FFMA (at_math.h)
  float acc[MS][ND][4], m[MS][2], l[MS][2];
  init_state(acc, m, l);

  auto load_stage = [&](int stage, int kt) {
    T *sk = smem + 2 * stage * TILE;
    load_kv<T, BKV, HD, NT, SWZ, IS_PAGED>(sk, sk + TILE, K, V, bt, kv_off, HKV, g,
                                           k_lo + kt * BKV, k_hi, vec, tid);
  };
  at_cp_ring<STAGES>(ntiles, load_stage, [&](int stage, int kt) {
    const T *const sk = smem + 2 * stage * TILE, *const sv = sk + TILE;
    const int k0 = k_lo + kt * BKV + wk * KW; // this warp's first key of the tile

    float sc[MS][NSW][4];
    qk<T, MS, NSW, DK, HD, SWZ>(sc, qf, sk, wk * KW, lane);
    // Masked only past the split's end or past query 0's last key.
    const bool edge = k0 + KW > k_hi || (IS_CAUSAL && k0 + KW - 1 > SK - SQ);
    softmax<MS, NSW, ND>(sc, acc, m, l, limit, k0, t4, edge, qs, qa);
    pv<T, MS, NSW, ND, HD, SWZ>(acc, sc, sv, wk * KW, lane);
  });
  at_syncthreads(); // the ring is free: it holds the merge now

  // ---- the key warps' merge: (m, l) of each, then O scaled to the rows' common max ----
  float *const sO = reinterpret_cast<float *>(smem); // [RP][HD]
  float *const sM = sO + RP * HD;                    // [WK][RP]
  float *const sL = sM + WK * RP;                    // [WK][RP]
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int r = 0; r < 2; r++) {
      float sum = l[s][r];
      sum += at_shfl_xor(sum, 1);
      sum += at_shfl_xor(sum, 2);
      if (t4 == 0)
        sM[wk * RP + prow[s][r]] = m[s][r], sL[wk * RP + prow[s][r]] = sum;
    }
  at_syncthreads();
  float f[MS][2]; // this warp's factor 2^(m - M) to the rows' common max M
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int r = 0; r < 2; r++)
      f[s][r] = at_splitkv::merge_factor(sM, RP, WK, prow[s][r], m[s][r]);
  for (int k = 0; k < WK; k++) { // one key warp at a time adds its rows' O
    if (wk == k)
#pragma unroll
      for (int s = 0; s < MS; s++)
#pragma unroll
        for (int r = 0; r < 2; r++)
#pragma unroll
          for (int j = 0; j < ND; j++)
#pragma unroll
            for (int c = 0; c < 2; c++) {
              float *const p = sO + prow[s][r] * HD + 8 * j + 2 * t4 + c;
              const float v = acc[s][j][2 * r + c] * f[s][r];
              *p = k == 0 ? v : *p + v;
            }
    at_syncthreads();
  }
  // The rows' M and L (into key warp 0's slots), then out: O, or the partial and the
  // combine (at_splitkv.h).
  at_splitkv::merge_rows<NT>(sM, sL, RP, WK, tid);
  at_splitkv::store_rows<T, HD, NT>(WS, B * HKV, bg, ns, split, rows, O + row0 * HD,
                                    LSE ? LSE + row0 : LSE, sO, sM, sL,
                                    reinterpret_cast<int *>(sL + WK * RP), tid);
}
