// attn_decode_mfma.h - decode attention (SQ <= 16 new queries against a long KV cache) on
// CDNA matrix cores (gfx942, gfx90a, and the host emulating them), under the attention
// contract v2 (tuner/ops/op_attn.h): GQA, paged KV, optional LSE, head dims to 256.
//
// Why: attn_decode reads each K and V byte once for the R = (H / HKV) SQ query rows of a
// KV head, about R FLOPs a byte, on vector f32 FMAs; MI300X's (163 TFLOP/s against 5.3
// TB/s) keep up to R ~ 30, and speculative decoding's 4-16 queries over a GQA group of
// 4-8 heads are R 16-128. On the matrix cores (1.3 PFLOP/s f16 dense) the same rows cost
// a few percent of the peak, so the KV read at memory speed stays the bound. attn_mfma
// packs a group's rows too but does not split the keys: a batch-1 decode would be HKV
// blocks on 304 CUs. This is attn_decode_mma's design (split-KV over packed rows) on
// attn_mfma's tile math (at_attn_mfma.h).
//
// The rows of a GQA group are packed: packed row r is query r % SQ of head g (H / HKV) +
// r / SQ, consecutive rows of Q and O (at_splitkv.h's combine writes them as one run), in
// MI-row blocks of query columns (S and O transposed: S^T = K Q^T, O^T += V^T P^T; rows
// past R compute on zero queries and store nothing). Split-KV as attn_decode: the keys of
// one (batch, KV head) pair are cut into NS splits of whole tiles, one block each (NS from
// a target of BPS blocks a CU), and the partials are combined by the block that counts
// last (at_splitkv.h; NS == 1 writes O directly).
//
// A block has WR x WK waves: wave (wr, wk) holds the QT column blocks t WR + wr in
// registers (Q as MFMA B fragments, loaded once; O^T's accumulators; the softmax state)
// and takes keys [wk KW, (wk + 1) KW) of every tile of BKV = WK KW keys. K and V tiles come
// through at_attn_mfma.h's ring (read VEC_BYTES wide into registers a tile ahead, written
// to LDS after the tile's math; STAGES 1 or 2 LDS buffers; padded or swizzled rows). With
// WK = 1 each wave's rows are its own and go from registers to O or to the workspace;
// with WK > 1 the key waves of a row block merge (m, l, O) through LDS (the ring's space)
// first: the rows' common max, each wave's O scaled to it.
//
// Causal: query i sees keys j <= i + SK - SQ (bottom right); only tiles past query 0's
// last key or past the split's end are masked. A row that sees no key gets O = 0 and LSE
// -inf.
//
// Learned from (our own code, not a copy): Dao, Haziza, Massa, Sizov, "Flash-Decoding for
// long-context inference" (2023); FlashInfer's and FlashAttention-3's packing of a GQA
// group's heads into the query tile; Composable Kernel's FMHA forward for the transposed S
// and O; the AMD Instinct MI300 ISA, chapter 7.
#include "at_attn_mfma.h" // the K/V tile and ring, S^T = K Q^T, the softmax, O^T += V^T P^T
#include "at_math.h"
#include "at_splitkv.h"   // the split's partial, the count, the last block's combine

#pragma autotune kernel attn_decode_mfma
#pragma autotune problem B, H, HKV, SQ, SK, D, CAUSAL, PAGED
#pragma autotune dtype T
#pragma autotune param MI = 16, 32          // MFMA family: 16x16x16 or 32x32x8
#pragma autotune param QT = 1, 2            // MI-column blocks of packed rows a wave
#pragma autotune param WK = 1, 2, 4         // waves splitting a tile's keys
#pragma autotune param BKV = 16, 32, 64, 128 // keys a tile
#pragma autotune param STAGES = 1, 2        // LDS buffers for K and V
#pragma autotune param VEC_BYTES = 8, 16    // global read width for K and V
#pragma autotune param LDS_LAYOUT = 1, 2    // 1 padded rows, 2 XOR swizzle
#pragma autotune param BPS = 1, 2, 4, 8     // target blocks per CU: sets the splits
#pragma autotune derive HD = D
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
#pragma autotune derive IS_PAGED = PAGED != 0
// The packed rows of one KV head, the waves over them, and those rows padded to blocks.
#pragma autotune derive R = max(H / max(HKV, 1), 1) * SQ
#pragma autotune derive WR = cdiv(cdiv(R, MI), QT)
#pragma autotune derive RP = WR * QT * MI
// Key splits per (batch, KV head): enough blocks for BPS per CU, at most one per tile.
#pragma autotune derive NS = max(1, min(cdiv(SK, BKV), cdiv(BPS * max(device.cus, 1), B * max(HKV, 1))))
// the head dim padded to whole MFMA blocks (zeros in Q, K and V past HD)
#pragma autotune derive DP = cdiv(HD, MI) * MI
#pragma autotune derive ROW_BYTES = 2 * DP + (LDS_LAYOUT == 1 ? 16 : 0)
#pragma autotune require cdna: device.is_amd && device.wave_size == 64 && \
  device.arch_major == 9 && (device.arch_minor == 4 || device.arch_step == 10)
#pragma autotune require decode_rows: SQ >= 1 && SQ <= 16
#pragma autotune require gqa_group: HKV >= 1 && H % HKV == 0 && H / HKV <= 16
#pragma autotune require head_dim: HD >= 1 && HD <= 256
// A 32-row block for 16 rows or fewer is half padding at twice the registers.
#pragma autotune require mi_useful: MI == 16 || R > 16
// Each key wave's share of a tile is whole MI-key blocks.
#pragma autotune require key_split: BKV % (MI * WK) == 0
// Two column blocks a wave only where every wave has two with rows in them.
#pragma autotune require blocks_useful: QT == 1 || cdiv(R, MI) % QT == 0
// f32 per lane, as attn_mfma's: S^T and O^T (QT (DP + BKV / WK) MI / 64), Q fragments
// (QT DP MI / 128) and the next K/V tile in flight (BKV DP / threads); at most 192 keeps
// two waves per SIMD possible.
#pragma autotune require registers: QT * (DP + BKV / WK) * MI / 64 + QT * DP * MI / 128 + \
  BKV * DP / (WR * WK * 64) <= 192
// The next tile in flight, at most 64 registers a lane (16 KiB a wave): past that the
// compiler moves the accumulators to AGPRs and a CU holds two waves (NVRTC-like register
// figures from clang 19 for gfx942: BKV 128 over two waves at D 128, 256 VGPRs + 232
// AGPRs).
#pragma autotune require staging: BKV * DP <= 64 * WR * WK * 64
#pragma autotune require block: WR * WK <= 16
// 8-byte vectors only where 16-byte ones do not divide a row
#pragma autotune require vec_useful: VEC_BYTES == 16 || (2 * HD) % 16 != 0
// the XOR swizzle needs a power-of-two count of 16-byte granules a row
#pragma autotune require swizzle_rows: LDS_LAYOUT == 1 || DP == 16 || DP == 32 || \
  DP == 64 || DP == 128 || DP == 256
#pragma autotune require fits_kv: BKV <= 32 || BKV < 2 * SK
// A second LDS buffer only where a split has a second tile.
#pragma autotune require stages_useful: STAGES == 1 || cdiv(cdiv(SK, BKV), NS) >= 2
// BPS values that give the same split count are one variant (the smallest BPS of them).
#pragma autotune require split_distinct: BPS == 1 || NS > max(1, min(cdiv(SK, BKV), cdiv(BPS / 2 * max(device.cus, 1), B * max(HKV, 1))))
#pragma autotune threads WR * WK * 64
#pragma autotune grid B * HKV * NS
// The K/V ring; after the key loop the same space holds, with WK > 1, the waves' merge: O
// [RP][HD] and (m, l) of every key wave's rows, f32; with WK = 1 the combine's (m, l);
// then the combine's flag word.
#pragma autotune shared max(STAGES * 2 * BKV * ROW_BYTES, ((WK > 1 ? RP * HD + 2 * WK * RP : 2 * RP) + 1) * sizeof_f32)
// Counters (one u32 per (batch, KV head), padded to 16 bytes), then per (batch, KV
// head, split, row) the partial: m, l, then HD accumulators, f32. None when NS == 1.
#pragma autotune workspace min(NS - 1, 1) * (cdiv(B * HKV, 4) * 16 + B * HKV * NS * R * (HD + 2) * sizeof_f32)

template <typename T, int MI, int QT, int WK, int BKV, int STAGES, int VEC_BYTES,
          int LDS_LAYOUT, int BPS, int HD, int IS_CAUSAL, int IS_PAGED, int R, int WR, int RP,
          int NS>
__device__ void attn_decode_mfma(const T *Q, const T *K, const T *V, T *O, float *LSE,
                                 const int *BT, int B, int H, int HKV, int SQ, int SK,
                                 float scale, void *WS)
{
  using namespace at_attn_mfma;
  static_assert(sizeof(T) == 2, "attn_decode_mfma: f16 and bf16 only (16-bit MFMA inputs)");
  constexpr int NT = WR * WK * 64;
  constexpr int KI = 256 / MI;                // MFMA k: 8 (32x32x8) or 16 (16x16x16)
  constexpr int NREG = MI * MI / 64;          // accumulators per lane per block
  constexpr int DP = (HD + MI - 1) / MI * MI; // head dim padded to whole blocks
  constexpr int KW = BKV / WK;                // keys of a tile a wave takes
  constexpr int KB = KW / MI;                 // key blocks of a wave's share
  constexpr int DB = DP / MI;                 // head-dim blocks of O^T
  constexpr int DS = DP / KI;                 // MFMA k steps over the head dim
  static_assert(KB >= 1 && BKV % (MI * WK) == 0, "attn_decode_mfma: whole key blocks a wave");
  static_assert(RP == WR * QT * MI, "attn_decode_mfma: rows in whole blocks");
  typedef tile<T, BKV, DP, HD, NT, VEC_BYTES, LDS_LAYOUT> ktile;
  (void)BPS;
  (void)NS;
  AT_DYNAMIC_SHARED(unsigned char, lds);

  const int tid = (int)at_thread_idx_x(), lane = tid % 64, wave = tid / 64;
  const int wr = wave % WR, wk = wave / WR;
  // This block's (batch, KV head) pair and split, its rows and its keys (at_splitkv.h).
  const at_splitkv::block blk = at_splitkv::block_of(B, H, HKV, SQ, SK, R, BKV);
  const int ns = blk.ns, bg = blk.bg, split = blk.split, b = blk.b, g = blk.g;
  const int rows = blk.rows, k_lo = blk.k_lo, k_hi = blk.k_hi, ntiles = blk.ntiles;
  const long long row0 = blk.row0;

  // This lane's packed row of each of its blocks (column L % MI of block t WR + wr) and
  // the last key it sees: its query's causal limit, and the split's end.
  int prow[QT], limit[QT];
#pragma unroll
  for (int t = 0; t < QT; t++) {
    prow[t] = (t * WR + wr) * MI + lane % MI;
    const int last = IS_CAUSAL ? prow[t] % SQ + SK - SQ : SK - 1;
    limit[t] = last < k_hi - 1 ? last : k_hi - 1;
  }
  const float qs = (scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD)) * AT_LOG2E;
  const float qa = at_softmax_fold(qs); // |qs|: the scale in exp2's FMA (at_math.h)
  T qf[QT][DS][4];
  load_q<T, QT, DS, MI, HD>(
      qf, [&](int t) -> const T * { return prow[t] < rows ? Q + (row0 + prow[t]) * HD : nullptr; },
      lane, qs < 0.0f ? 0x8000u : 0u);

  // Key j's row of K or V (this pair's KV head), contiguous or through the block table.
  const long long kv_head = ((long long)b * HKV + g) * SK * HD;
  const int nbt = (SK + PAGE - 1) / PAGE;
  auto krow = [&](int j) -> const T * {
    if (IS_PAGED)
      return K + (((long long)BT[(long long)b * nbt + j / PAGE] * PAGE + j % PAGE) * HKV + g) * HD;
    return K + kv_head + (long long)j * HD;
  };
  auto vrow = [&](int j) -> const T * {
    if (IS_PAGED)
      return V + (((long long)BT[(long long)b * nbt + j / PAGE] * PAGE + j % PAGE) * HKV + g) * HD;
    return V + kv_head + (long long)j * HD;
  };
  const bool vec_ok = (HD * 2) % VEC_BYTES == 0 && (unsigned long long)K % VEC_BYTES == 0 &&
                      (unsigned long long)V % VEC_BYTES == 0;

  float o[QT][DB][NREG], m[QT], l[QT];
  init_state(o, m, l);
  ring<STAGES, ktile>(lds, ntiles, k_lo, k_hi, krow, vrow, vec_ok, tid,
                      [&](const unsigned char *lk, const unsigned char *lv, int it) {
    const int k0 = k_lo + it * BKV + wk * KW; // this wave's first key of the tile
    float s[QT][KB][NREG];
    qk<T, QT, KB, DS, MI, ktile>(s, qf, lk, wk * KW, lane);
    // Masked only past the split's end or past query 0's last key.
    const bool edge = k0 + KW > k_hi || (IS_CAUSAL && k0 + KW - 1 > SK - SQ);
    T ph[QT][KB][NREG], pl[QT][KB][1];
    softmax<T, QT, KB, DB, MI, 1>(s, ph, pl, o, m, l, limit, k0, lane, edge, qa);
    pv<T, QT, KB, DB, MI, 1, ktile>(o, ph, pl, lv, wk * KW, lane);
  });
  sum_groups<QT, MI>(l);
  at_syncthreads(); // the ring is free: it holds the merge, or the combine's (m, l), now
  float *const sF = reinterpret_cast<float *>(lds);

  if (WK == 1) { // every row is one wave's: from registers to O or to the workspace
    if (ns == 1) { // each column's O row divided by its sum, its LSE
      float inv[QT];
#pragma unroll
      for (int t = 0; t < QT; t++) {
        inv[t] = l[t] > 0.0f ? 1.0f / l[t] : 0.0f;
        if (LSE && lane < MI && prow[t] < rows)
          at_splitkv::lse_rows<1>(LSE + row0 + prow[t], 1, &m[t], &l[t], 0);
      }
      each_o<QT, DB, MI, HD>(o, lane, [&](int t, int c, float v) {
        if (prow[t] < rows)
          O[(row0 + prow[t]) * HD + c] = at_from_float<T>(v * inv[t]);
      });
      return;
    }
    // the split's partial (m, l, the unnormalized O), then the combine
    float *const mine = at_splitkv::partial(WS, B * HKV, bg, ns, split, rows, HD);
#pragma unroll
    for (int t = 0; t < QT; t++)
      if (lane < MI && prow[t] < rows)
        mine[(long long)prow[t] * (HD + 2)] = m[t], mine[(long long)prow[t] * (HD + 2) + 1] = l[t];
    each_o<QT, DB, MI, HD>(o, lane, [&](int t, int c, float v) {
      if (prow[t] < rows)
        mine[(long long)prow[t] * (HD + 2) + 2 + c] = v;
    });
    at_splitkv::finish<T, HD, NT>(WS, B * HKV, bg, ns, rows, O + row0 * HD,
                                  LSE ? LSE + row0 : LSE, sF, sF + RP,
                                  reinterpret_cast<int *>(sF + 2 * RP), tid);
    return;
  }

  // ---- WK > 1: the key waves' merge: (m, l) of each, then O scaled to the rows' max ----
  float *const sO = sF;           // [RP][HD]
  float *const sM = sO + RP * HD; // [WK][RP]
  float *const sL = sM + WK * RP; // [WK][RP]
#pragma unroll
  for (int t = 0; t < QT; t++)
    if (lane < MI)
      sM[wk * RP + prow[t]] = m[t], sL[wk * RP + prow[t]] = l[t];
  at_syncthreads();
  float f[QT]; // this wave's factor 2^(m - M) to the rows' common max M
#pragma unroll
  for (int t = 0; t < QT; t++)
    f[t] = at_splitkv::merge_factor(sM, RP, WK, prow[t], m[t]);
  for (int k = 0; k < WK; k++) { // one key wave at a time adds its rows' O
    if (wk == k)
      each_o<QT, DB, MI, HD>(o, lane, [&](int t, int c, float v) {
        float *const p = sO + prow[t] * HD + c;
        *p = k == 0 ? v * f[t] : *p + v * f[t];
      });
    at_syncthreads();
  }
  // The rows' M and L (into key wave 0's slots), then out: O, or the partial and the
  // combine (at_splitkv.h).
  at_splitkv::merge_rows<NT>(sM, sL, RP, WK, tid);
  at_splitkv::store_rows<T, HD, NT>(WS, B * HKV, bg, ns, split, rows, O + row0 * HD,
                                    LSE ? LSE + row0 : LSE, sO, sM, sL,
                                    reinterpret_cast<int *>(sL + WK * RP), tid);
}
