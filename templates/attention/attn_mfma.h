// attn_mfma.h - attention forward on CDNA matrix cores (gfx942, gfx90a), FlashAttention
// style, for the attention contract v2 (tuner/ops/op_attn.h, docs/attention.md): grouped
// query heads (HKV < H), causal (bottom-right) or not, SQ != SK, a paged KV cache as a
// compiled-in variant, the optional LSE, f16 and bf16 with f32 accumulation, any head dim
// up to 256 (zero-padded to the MFMA block).
//
// Structure (our own code; the ideas from the sources named):
//  - A block owns BQ query rows of one (batch, head), or with PACK_GQA of one (batch, KV
//    head): the H / HKV query heads that share a KV head interleaved row by row (row r is
//    query r / G of head r % G), so a decode block of 1..16 queries fills its MFMA rows
//    and reads each K/V byte once for the whole group (flash-decoding's and FA's
//    "pack GQA"). WAVES waves (4 or 8) each own QT blocks of MI query rows.
//  - S and O are kept transposed, so that no register moves between the two GEMMs (the
//    same trick as Composable Kernel's FMHA forward, from the layouts of the CDNA3 ISA
//    chapter 7, at_mfma.h): S^T = K Q^T puts, in each lane, one query (column L % MI)
//    and four consecutive keys per register group, exactly the B fragment that
//    O^T = V^T P^T needs; each lane also owns its query's softmax state (running max m,
//    partial sum l), so the rescale of O is lane-local and a row max needs only the
//    shuffles across the 64 / MI lane groups of a column.
//  - MI picks v_mfma_f32_32x32x8 {f16, bf16_1k} (MI = 32) or 16x16x16 (MI = 16).
//  - Q stays in registers for the whole kernel; K and V advance BKV keys at a time
//    through LDS, read VEC_BYTES wide from global memory into registers one tile ahead
//    (before this tile's MFMAs) and written to LDS after them; STAGES = 2 double-buffers
//    LDS (one barrier a tile), 1 reuses one buffer (two). LDS_LAYOUT 1 pads each row by
//    16 bytes, 2 XORs the 16-byte granule with the row (as gemm_mfma.h).
//  - Online softmax in registers (Milakov and Gimelshein 2018; FlashAttention-2,
//    Algorithm 1), logits scaled by scale * log2(e) so only exp2 is needed, the scale
//    folded into exp2's FMA (maxima over the raw scores: at_softmax_fold); the division
//    by the row sum once at the end.
//  - P goes into the second GEMM as one 16-bit value T(p) (PSPLIT = 1, FlashAttention's
//    and every matrix-core kernel's choice: each weight off by a relative u_in, which the
//    op's check allows as u_in * sum_j w_j |v_j|) or as two 16-bit halves (PSPLIT = 2:
//    hi = T(p), lo = T(p - hi), P to about f32, at a second MFMA per P fragment). The row
//    sums l add the f32 p either way (FlashAttention-2 does the same).
//  - XCDS = 8 renumbers blocks so that each of MI300X's XCDs (round-robin dispatch)
//    gets one consecutive range of (batch, head, query tile): the heads that share a KV
//    head, and a head's query tiles, share that XCD's L2 (HipKittens' chiplet-aware
//    grid; devices.md).
// Causal: query i sees keys j <= i + SK - SQ; a block stops after its last row's last
// key; a row that sees no key gives O = 0 and LSE = -inf. The tile, its ring and the
// tile math are at_attn_mfma.h's, shared with attn_decode_mfma.h (which splits the keys of
// one row across blocks: split-KV decode). Not done: direct-to-LDS loads, 8-wave
// ping-pong scheduling, a causal-aware block order.
#include "at_attn_mfma.h" // the K/V tile and ring, S^T = K Q^T, the softmax, O^T += V^T P^T
#include "at_math.h"

#pragma autotune kernel attn_mfma
#pragma autotune problem B, H, HKV, SQ, SK, D, CAUSAL, PAGED
#pragma autotune dtype T
#pragma autotune param MI = 16, 32          // MFMA family: 16x16x16 or 32x32x8
#pragma autotune param WAVES = 4, 8         // waves per block
#pragma autotune param BQ = 64, 128, 256    // query rows per block
#pragma autotune param BKV = 32, 64, 128    // keys per LDS tile
#pragma autotune param STAGES = 1, 2        // LDS buffers for K and V
#pragma autotune param VEC_BYTES = 8, 16    // global read width for K and V
#pragma autotune param LDS_LAYOUT = 1, 2    // 1 padded rows, 2 XOR swizzle
#pragma autotune param PACK_GQA = 0, 1      // 1: a block's rows span the heads of a KV head
#pragma autotune param XCDS = 1, 8          // 8: block order for MI300X's XCDs
#pragma autotune param PSPLIT = 1, 2        // P in P V: 1 one rounded 16-bit P, 2 hi + lo
// The head dim, the mask and the paging are compiled in.
#pragma autotune derive HD = D
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
#pragma autotune derive IS_PAGED = PAGED != 0
#pragma autotune derive THREADS = WAVES * 64
#pragma autotune derive QT = BQ / (WAVES * MI)
// the head dim padded to whole MFMA blocks (zeros in Q, K and V past HD)
#pragma autotune derive DP = cdiv(HD, MI) * MI
#pragma autotune derive ROW_BYTES = 2 * DP + (LDS_LAYOUT == 1 ? 16 : 0)
#pragma autotune require cdna: device.is_amd && device.wave_size == 64 && \
  device.arch_major == 9 && (device.arch_minor == 4 || device.arch_step == 10)
#pragma autotune require head_dim: HD >= 1 && HD <= 256
#pragma autotune require gqa: HKV >= 1 && H % HKV == 0
#pragma autotune require wave_rows: QT >= 1 && BQ % (WAVES * MI) == 0
// f32 per lane: S^T and O^T (QT (DP + BKV) MI / 64), Q fragments (QT DP MI / 128) and the
// next K/V tile in flight (BKV DP / THREADS); at most 192 leaves room for addresses and
// keeps two waves per SIMD (512 VGPR+AGPR each) possible. P takes S's place once S is
// spent: PSPLIT 2 as many registers (two 16-bit halves), PSPLIT 1 half as many.
#pragma autotune require registers: QT * (DP + BKV) * MI / 64 + QT * DP * MI / 128 + \
  BKV * DP / THREADS <= 192
// every lane reads at least one vector of the K and V tiles
#pragma autotune require loads_busy: 2 * BKV * DP * 2 >= THREADS * VEC_BYTES
// 8-byte vectors only where 16-byte ones do not divide a row
#pragma autotune require vec_useful: VEC_BYTES == 16 || (2 * HD) % 16 != 0
// the XOR swizzle needs a power-of-two count of 16-byte granules a row
#pragma autotune require swizzle_rows: LDS_LAYOUT == 1 || DP == 16 || DP == 32 || \
  DP == 64 || DP == 128 || DP == 256
#pragma autotune require pack_useful: PACK_GQA == 0 || H > HKV
#pragma autotune require fits_q: BQ == 64 || \
  BQ < 2 * (PACK_GQA ? H / HKV * SQ : SQ)
#pragma autotune require fits_kv: BKV == 32 || BKV < 2 * SK
#pragma autotune require xcd_useful: XCDS == 1 || (device.arch_minor == 4 && \
  (PACK_GQA ? B * HKV * cdiv(H / HKV * SQ, BQ) : B * H * cdiv(SQ, BQ)) >= 2 * XCDS)
#pragma autotune threads THREADS
#pragma autotune grid PACK_GQA ? B * HKV * cdiv(H / HKV * SQ, BQ) : B * H * cdiv(SQ, BQ)
#pragma autotune shared STAGES * 2 * BKV * ROW_BYTES

// The logical block a dispatched block `pid` of nb computes. XCDS > 1: dispatch sends
// block b to XCD b % XCDS; renumber so that each XCD's blocks are one consecutive range
// (a bijection also when XCDS does not divide nb).
template <int XCDS> AT_DEV int am_block_order(int pid, int nb)
{
  if constexpr (XCDS > 1) {
    const int q = nb / XCDS, rem = nb % XCDS, x = pid % XCDS, t = pid / XCDS;
    return (x < rem ? x * (q + 1) : rem * (q + 1) + (x - rem) * q) + t;
  }
  return pid;
}

template <typename T, int MI, int WAVES, int BQ, int BKV, int STAGES, int VEC_BYTES,
          int LDS_LAYOUT, int PACK_GQA, int XCDS, int PSPLIT, int HD, int IS_CAUSAL,
          int IS_PAGED>
__device__ void attn_mfma(const T *Q, const T *K, const T *V, T *O, float *LSE, const int *BT,
                          int B, int H, int HKV, int SQ, int SK, float scale)
{
  using namespace at_attn_mfma;
  static_assert(sizeof(T) == 2, "attn_mfma: f16 and bf16 only (the P fragments of the second "
                                 "MFMA are 16-bit)");
  constexpr int THREADS = WAVES * 64;
  constexpr int KI = 256 / MI;                 // MFMA k: 8 (32x32x8) or 16 (16x16x16)
  constexpr int NREG = MI * MI / 64;           // accumulators per lane per block
  constexpr int DP = (HD + MI - 1) / MI * MI;  // head dim padded to whole blocks
  constexpr int QT = BQ / (WAVES * MI);        // query blocks per wave
  constexpr int KB = BKV / MI;                 // key blocks per tile
  constexpr int DB = DP / MI;                  // head-dim blocks of O^T
  constexpr int DS = DP / KI;                  // MFMA k steps over the head dim
  static_assert(QT >= 1 && BQ % (WAVES * MI) == 0 && BKV % MI == 0, "attn_mfma: tiles");
  static_assert(PSPLIT == 1 || PSPLIT == 2, "attn_mfma: P as one or two 16-bit halves");
  typedef tile<T, BKV, DP, HD, THREADS, VEC_BYTES, LDS_LAYOUT> ktile;
  AT_DYNAMIC_SHARED(unsigned char, lds);

  const int tid = (int)at_thread_idx_x(), lane = tid % 64, wave = tid / 64;
  const int G = H / HKV;                       // query heads per KV head
  const int rows = PACK_GQA ? G * SQ : SQ;     // query rows of one unit
  const int units = PACK_GQA ? B * HKV : B * H, tiles = (rows + BQ - 1) / BQ;
  const int blk = am_block_order<XCDS>((int)at_block_idx_x(), units * tiles);
  const int unit = blk / tiles, r0 = (blk % tiles) * BQ;
  const int b = PACK_GQA ? unit / HKV : unit / H;
  const int g = PACK_GQA ? unit % HKV : (unit % H) / G;

  // This lane's query column of each of its QT blocks: row, query index, head, and the
  // last key it sees.
  const float qs = (scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD)) * AT_LOG2E;
  const float qa = at_softmax_fold(qs); // |qs|: the scale in exp2's FMA (at_math.h)
  int qrow[QT], qidx[QT], qhead[QT], limit[QT];
#pragma unroll
  for (int t = 0; t < QT; t++) {
    const int rr = r0 + (wave * QT + t) * MI + lane % MI;
    qrow[t] = rr;
    qidx[t] = PACK_GQA ? rr / G : rr;
    qhead[t] = PACK_GQA ? g * G + rr % G : unit % H;
    const int last = IS_CAUSAL ? qidx[t] + SK - SQ : SK - 1;
    limit[t] = last < SK - 1 ? last : SK - 1;
  }
  T qf[QT][DS][4];
  load_q<T, QT, DS, MI, HD>(
      qf,
      [&](int t) -> const T * {
        return qrow[t] < rows ? Q + (((long)b * H + qhead[t]) * SQ + qidx[t]) * HD : nullptr;
      },
      lane, qs < 0.0f ? 0x8000u : 0u);

  // Causal: the block's last row sees keys up to its query index + SK - SQ (rows are in
  // query order, also packed); its first row's last key bounds the tiles that need no
  // mask.
  const int qlast_first = IS_CAUSAL ? (PACK_GQA ? r0 / G : r0) + SK - SQ : SK - 1;
  int kv_end = SK;
  if (IS_CAUSAL) {
    const int r1 = (r0 + BQ < rows ? r0 + BQ : rows) - 1;
    const int last = (PACK_GQA ? r1 / G : r1) + SK - SQ + 1;
    kv_end = last < kv_end ? last : kv_end;
  }
  const int nt = kv_end > 0 ? (kv_end + BKV - 1) / BKV : 0;

  // Key j's row of K or V (this unit's KV head), contiguous or through the block table.
  const long kv_head = ((long)b * HKV + g) * SK * HD;
  const int nbt = (SK + PAGE - 1) / PAGE;
  auto krow = [&](int j) -> const T * {
    if (IS_PAGED)
      return K + (((long)BT[(long)b * nbt + j / PAGE] * PAGE + j % PAGE) * HKV + g) * HD;
    return K + kv_head + (long)j * HD;
  };
  auto vrow = [&](int j) -> const T * {
    if (IS_PAGED)
      return V + (((long)BT[(long)b * nbt + j / PAGE] * PAGE + j % PAGE) * HKV + g) * HD;
    return V + kv_head + (long)j * HD;
  };
  const bool vec_ok = (HD * 2) % VEC_BYTES == 0 && (unsigned long)K % VEC_BYTES == 0 &&
                      (unsigned long)V % VEC_BYTES == 0;

  float o[QT][DB][NREG], m[QT], l[QT];
  init_state(o, m, l);
  ring<STAGES, ktile>(lds, nt, 0, kv_end, krow, vrow, vec_ok, tid,
                      [&](const unsigned char *lk, const unsigned char *lv, int it) {
    const int k0 = it * BKV;
    float s[QT][KB][NREG];
    qk<T, QT, KB, DS, MI, ktile>(s, qf, lk, 0, lane);
    // The key mask only on a tile that reaches past SK or past the block's first query's
    // last key.
    T ph[QT][KB][NREG], pl[QT][KB][PSPLIT == 2 ? NREG : 1];
    const bool edge = k0 + BKV > SK || (IS_CAUSAL && k0 + BKV - 1 > qlast_first);
    softmax<T, QT, KB, DB, MI, PSPLIT>(s, ph, pl, o, m, l, limit, k0, lane, edge, qa);
    pv<T, QT, KB, DB, MI, PSPLIT, ktile>(o, ph, pl, lv, 0, lane);
  });

  // Out: each column's O row divided by its sum (a row past the rows: nothing), its LSE.
  sum_groups<QT, MI>(l);
  long orow[QT];
  float inv[QT];
#pragma unroll
  for (int t = 0; t < QT; t++) {
    orow[t] = qrow[t] < rows ? ((long)b * H + qhead[t]) * SQ + qidx[t] : -1;
    inv[t] = l[t] > 0.0f ? 1.0f / l[t] : 0.0f;
    if (LSE && lane < MI && orow[t] >= 0)
      LSE[orow[t]] = l[t] > 0.0f ? (m[t] + at_log2f(l[t])) * AT_LN2 : at_neg_inf();
  }
  each_o<QT, DB, MI, HD>(o, lane, [&](int t, int c, float v) {
    if (orow[t] >= 0)
      O[orow[t] * HD + c] = at_from_float<T>(v * inv[t]);
  });
}
