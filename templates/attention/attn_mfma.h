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
// key; a row that sees no key gives O = 0 and LSE = -inf. Not done: splitting the keys
// of one row across blocks (split-KV, attn_decode's), direct-to-LDS loads, 8-wave
// ping-pong scheduling, a causal-aware block order.
#include "at_common.h"
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

// ---- helpers (am_: this file's) ----

#define AM_FN __device__ __forceinline__

// Tokens a page of the paged KV cache holds (the contract's ATTN_PAGE).
#define AM_PAGE 16

template <typename A, typename B> struct am_same {
  static constexpr bool value = false;
};
template <typename A> struct am_same<A, A> {
  static constexpr bool value = true;
};

template <int BYTES> struct am_vec;
template <> struct am_vec<16> {
  typedef at_uint4 type;
  static AM_FN type load(const void *p) { return at_load_b128(p); }
  static AM_FN void store(void *p, type v) { at_store_b128(p, v); }
};
template <> struct am_vec<8> {
  typedef at_uint2 type;
  static AM_FN type load(const void *p) { return at_load_b64(p); }
  static AM_FN void store(void *p, type v) { at_store_b64(p, v); }
};

// Byte offset of (row, byte column) in an LDS tile of rows of RB bytes (a multiple of
// 16): LAYOUT 1 rows padded by 16 bytes, 2 the 16-byte granule index XORed with the row
// (RB / 16 a power of two). Accesses of up to 16 bytes at their own alignment stay whole.
template <int RB, int LAYOUT> AT_DEV int am_lds_off(int row, int col_bytes)
{
  if constexpr (LAYOUT == 1)
    return row * (RB + 16) + col_bytes;
  else
    return row * RB + (((col_bytes >> 4) ^ (row % (RB / 16))) << 4) + (col_bytes & 15);
}

// One K or V tile as it travels: BKV keys x DP columns of T. Each of THREADS lanes reads
// NV vectors of VEC_BYTES into registers (read), then writes them to LDS (write); keys
// past the last one and columns past HD are zero (V's zeros meet p = 0: no NaN).
template <typename T, int BKV, int DP, int HD, int THREADS, int VEC_BYTES, int LAYOUT>
struct am_tile {
  static constexpr int RB = DP * 2;
  static constexpr int BYTES = BKV * (LAYOUT == 1 ? RB + 16 : RB);
  static constexpr int VE = VEC_BYTES / 2;
  static constexpr int VPR = DP / VE;
  static constexpr int NVEC = BKV * VPR;
  static constexpr int NV = (NVEC + THREADS - 1) / THREADS;
  typedef typename am_vec<VEC_BYTES>::type vec;
  static_assert(DP % VE == 0, "rows hold whole vectors");

  vec r[NV];

  // Keys key0.. below nkeys; row(j) is key j's first element. vec_ok: every row start
  // is VEC_BYTES-aligned and HD holds whole vectors.
  template <typename ROW>
  AM_FN void read(const ROW &row, int key0, int nkeys, bool vec_ok, int tid)
  {
#pragma unroll
    for (int i = 0; i < NV; i++) {
      const int v = tid + i * THREADS;
      if (NVEC % THREADS != 0 && v >= NVEC)
        break;
      const int key = key0 + v / VPR, c = (v % VPR) * VE;
      if (key < nkeys && vec_ok && c + VE <= HD) {
        r[i] = am_vec<VEC_BYTES>::load(row(key) + c);
      } else {
        T e[VE];
        const T *p = key < nkeys ? row(key) : (const T *)0;
#pragma unroll
        for (int j = 0; j < VE; j++)
          e[j] = p && c + j < HD ? p[c + j] : at_from_float<T>(0.0f);
        at_memcpy(&r[i], e, sizeof e);
      }
    }
  }
  AM_FN void write(unsigned char *lds, int tid) const
  {
#pragma unroll
    for (int i = 0; i < NV; i++) {
      const int v = tid + i * THREADS;
      if (NVEC % THREADS != 0 && v >= NVEC)
        break;
      am_vec<VEC_BYTES>::store(lds + am_lds_off<RB, LAYOUT>(v / VPR, (v % VPR) * VEC_BYTES),
                               r[i]);
    }
  }
  // 4 consecutive columns col.. of row `row` (one 8-byte read).
  static AM_FN void frag_row(const unsigned char *lds, int row, int col, T out[4])
  {
    const at_uint2 w = at_load_b64(lds + am_lds_off<RB, LAYOUT>(row, col * 2));
    at_memcpy(out, &w, 8);
  }
  // Column col of rows row..row + 3.
  static AM_FN void frag_col(const unsigned char *lds, int row, int col, T out[4])
  {
#pragma unroll
    for (int j = 0; j < 4; j++)
      out[j] = *(const T *)(lds + am_lds_off<RB, LAYOUT>(row + j, col * 2));
  }
};

// d += a * b for one MI x MI block on this lane's fragments, the instruction by T.
template <typename T, int MI> AT_DEV void am_mfma(float *d, const T *a, const T *b)
{
  if constexpr (am_same<T, at_half>::value) {
    if constexpr (MI == 32)
      at_mfma_f32_32x32x8f16(d, a, b, d);
    else
      at_mfma_f32_16x16x16f16(d, a, b, d);
  } else {
    if constexpr (MI == 32)
      at_mfma_f32_32x32x8bf16_1k(d, a, b, d);
    else
      at_mfma_f32_16x16x16bf16_1k(d, a, b, d);
  }
}

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

// Register r of a lane's MI x MI accumulator holds row 4 ((r / 4)(64 / MI) + L / MI) +
// r % 4 of the block, column L % MI (at_mfma.h).
template <int MI> AT_DEV int am_acc_row(int r, int lane)
{
  return 4 * ((r / 4) * (64 / MI) + lane / MI) + r % 4;
}

template <typename T, int MI, int WAVES, int BQ, int BKV, int STAGES, int VEC_BYTES,
          int LDS_LAYOUT, int PACK_GQA, int XCDS, int PSPLIT, int HD, int IS_CAUSAL,
          int IS_PAGED>
__device__ void attn_mfma(const T *Q, const T *K, const T *V, T *O, float *LSE, const int *BT,
                          int B, int H, int HKV, int SQ, int SK, float scale)
{
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
  constexpr int NG = NREG / 4;                 // register groups of 4 consecutive rows
  static_assert(QT >= 1 && BQ % (WAVES * MI) == 0 && BKV % MI == 0, "attn_mfma: tiles");
  static_assert(PSPLIT == 1 || PSPLIT == 2, "attn_mfma: P as one or two 16-bit halves");
  typedef am_tile<T, BKV, DP, HD, THREADS, VEC_BYTES, LDS_LAYOUT> tile;
  constexpr int STAGE = 2 * tile::BYTES;       // K then V
  AT_DYNAMIC_SHARED(unsigned char, lds);

  const int tid = (int)at_thread_idx_x(), lane = tid % 64, wave = tid / 64;
  const int G = H / HKV;                       // query heads per KV head
  const int rows = PACK_GQA ? G * SQ : SQ;     // query rows of one unit
  const int units = PACK_GQA ? B * HKV : B * H, tiles = (rows + BQ - 1) / BQ;
  const int blk = am_block_order<XCDS>((int)at_block_idx_x(), units * tiles);
  const int unit = blk / tiles, r0 = (blk % tiles) * BQ;
  const int b = PACK_GQA ? unit / HKV : unit / H;
  const int g = PACK_GQA ? unit % HKV : (unit % H) / G;

  // This lane's query column of each of its QT blocks: row, query index, head.
  const float qs = (scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD)) * AT_LOG2E;
  const float qa = at_softmax_fold(qs); // |qs|: the scale in exp2's FMA (at_math.h)
  // A negative scale negates Q here (its sign bits: exact), so the scores come out of the
  // MFMA already flipped for qa.
  const unsigned short qsign = qs < 0.0f ? 0x8000u : 0u;
  int qrow[QT], qidx[QT], qhead[QT], qlast[QT];
  T qf[QT][DS][4];
#pragma unroll
  for (int t = 0; t < QT; t++) {
    const int rr = r0 + (wave * QT + t) * MI + lane % MI;
    qrow[t] = rr;
    qidx[t] = PACK_GQA ? rr / G : rr;
    qhead[t] = PACK_GQA ? g * G + rr % G : unit % H;
    qlast[t] = IS_CAUSAL ? qidx[t] + SK - SQ : SK - 1; // the last key it sees
    const bool ok = rr < rows;
    const T *q = Q + (((long)b * H + qhead[t]) * SQ + (ok ? qidx[t] : 0)) * HD;
#pragma unroll
    for (int s = 0; s < DS; s++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int c = s * KI + 4 * (lane / MI) + e;
        qf[t][s][e] = ok && c < HD ? q[c] : at_from_float<T>(0.0f);
        qf[t][s][e].bits ^= qsign;
      }
  }

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
  const int nbt = (SK + AM_PAGE - 1) / AM_PAGE;
  auto krow = [&](int j) -> const T * {
    if (IS_PAGED)
      return K + (((long)BT[(long)b * nbt + j / AM_PAGE] * AM_PAGE + j % AM_PAGE) * HKV + g) * HD;
    return K + kv_head + (long)j * HD;
  };
  auto vrow = [&](int j) -> const T * {
    if (IS_PAGED)
      return V + (((long)BT[(long)b * nbt + j / AM_PAGE] * AM_PAGE + j % AM_PAGE) * HKV + g) * HD;
    return V + kv_head + (long)j * HD;
  };
  const bool vec_ok = (HD * 2) % VEC_BYTES == 0 && (unsigned long)K % VEC_BYTES == 0 &&
                      (unsigned long)V % VEC_BYTES == 0;

  float o[QT][DB][NREG], m[QT], l[QT];
#pragma unroll
  for (int t = 0; t < QT; t++) {
    m[t] = at_neg_inf();
    l[t] = 0.0f;
#pragma unroll
    for (int d = 0; d < DB; d++)
#pragma unroll
      for (int r = 0; r < NREG; r++)
        o[t][d][r] = 0.0f;
  }

  tile tk, tv;
  if (nt > 0) {
    tk.read(krow, 0, kv_end, vec_ok, tid);
    tv.read(vrow, 0, kv_end, vec_ok, tid);
    tk.write(lds, tid);
    tv.write(lds + tile::BYTES, tid);
    at_syncthreads();
  }
  for (int it = 0; it < nt; it++) {
    const int k0 = it * BKV;
    const unsigned char *lk = lds + (it % STAGES) * STAGE, *lv = lk + tile::BYTES;
    const bool more = it + 1 < nt;
    if (more) {
      tk.read(krow, k0 + BKV, kv_end, vec_ok, tid);
      tv.read(vrow, k0 + BKV, kv_end, vec_ok, tid);
    }

    // S^T = K Q^T: s[t][kb] holds keys k0 + kb MI + am_acc_row(r) of query column t.
    float s[QT][KB][NREG];
#pragma unroll
    for (int t = 0; t < QT; t++)
#pragma unroll
      for (int kb = 0; kb < KB; kb++)
#pragma unroll
        for (int r = 0; r < NREG; r++)
          s[t][kb][r] = 0.0f;
#pragma unroll
    for (int kb = 0; kb < KB; kb++)
#pragma unroll
      for (int ds = 0; ds < DS; ds++) {
        T kf[4];
        tile::frag_row(lk, kb * MI + lane % MI, ds * KI + 4 * (lane / MI), kf);
#pragma unroll
        for (int t = 0; t < QT; t++)
          am_mfma<T, MI>(s[t][kb], kf, qf[t][ds]);
      }

    // Online softmax per query column; P into one or two 16-bit halves for the second
    // MFMA (pl is unused with PSPLIT 1: the compiler drops it). Maxima over the raw
    // scores (of -Q where the scale is negative), qa x - m one FMA into exp2
    // (at_softmax_fold); the key mask only on a tile that reaches past SK or past the
    // block's first query's last key (a uniform branch, not a compare and select every
    // key); a row that has seen no key yet subtracts 0, so that exp2 of a masked -inf is 0
    // without a test a key; O rescaled only where some column of the wave moved its max
    // (alpha is exactly 1 elsewhere: o * 1 is o).
    T ph[QT][KB][NREG], pl[QT][KB][PSPLIT == 2 ? NREG : 1];
    const bool edge = k0 + BKV > SK || (IS_CAUSAL && k0 + BKV - 1 > qlast_first);
#pragma unroll
    for (int t = 0; t < QT; t++) {
      float tmax = at_neg_inf();
      if (edge) {
#pragma unroll
        for (int kb = 0; kb < KB; kb++)
#pragma unroll
          for (int r = 0; r < NREG; r++) {
            const int key = k0 + kb * MI + am_acc_row<MI>(r, lane);
            const float x = key < SK && key <= qlast[t] ? s[t][kb][r] : at_neg_inf();
            s[t][kb][r] = x;
            tmax = at_fmaxf(tmax, x);
          }
      } else {
#pragma unroll
        for (int kb = 0; kb < KB; kb++)
#pragma unroll
          for (int r = 0; r < NREG; r++)
            tmax = at_fmaxf(tmax, s[t][kb][r]);
      }
#pragma unroll
      for (int off = MI; off < 64; off *= 2)
        tmax = at_fmaxf(tmax, at_shfl_xor(tmax, off));
      const float mnew = at_fmaxf(m[t], tmax * qa);
      const float base = mnew == at_neg_inf() ? 0.0f : mnew;
      const float alpha = at_exp2f(m[t] - base);
      l[t] *= alpha;
      if (at_any(alpha != 1.0f)) {
#pragma unroll
        for (int d = 0; d < DB; d++)
#pragma unroll
          for (int r = 0; r < NREG; r++)
            o[t][d][r] *= alpha;
      }
#pragma unroll
      for (int kb = 0; kb < KB; kb++)
#pragma unroll
        for (int r = 0; r < NREG; r++) {
          const float p = at_exp2f(s[t][kb][r] * qa - base);
          l[t] += p;
          ph[t][kb][r] = at_from_float<T>(p);
          if constexpr (PSPLIT == 2)
            pl[t][kb][r] = at_from_float<T>(p - at_to_float(ph[t][kb][r]));
        }
      m[t] = mnew;
    }

    // O^T += V^T P^T: the k-block of group gr of key block kb is keys kb MI + gr KI +
    // 4 (L / MI) + 0..3, this lane's P registers 4 gr .. 4 gr + 3.
#pragma unroll
    for (int kb = 0; kb < KB; kb++)
#pragma unroll
      for (int gr = 0; gr < NG; gr++)
#pragma unroll
        for (int d = 0; d < DB; d++) {
          T vf[4];
          tile::frag_col(lv, kb * MI + gr * KI + 4 * (lane / MI), d * MI + lane % MI, vf);
#pragma unroll
          for (int t = 0; t < QT; t++) {
            am_mfma<T, MI>(o[t][d], vf, &ph[t][kb][4 * gr]);
            if constexpr (PSPLIT == 2)
              am_mfma<T, MI>(o[t][d], vf, &pl[t][kb][4 * gr]);
          }
        }

    if (more) {
      unsigned char *next = lds + ((it + 1) % STAGES) * STAGE;
      if (STAGES == 1)
        at_syncthreads(); // every wave is done reading the one buffer
      tk.write(next, tid);
      tv.write(next + tile::BYTES, tid);
      at_syncthreads();
    }
  }

  // The row sums of a query column are spread over its 64 / MI lane groups.
#pragma unroll
  for (int t = 0; t < QT; t++) {
#pragma unroll
    for (int off = MI; off < 64; off *= 2)
      l[t] += at_shfl_xor(l[t], off);
    if (qrow[t] >= rows)
      continue;
    const long orow = (((long)b * H + qhead[t]) * SQ + qidx[t]);
    const float inv = l[t] > 0.0f ? 1.0f / l[t] : 0.0f;
#pragma unroll
    for (int d = 0; d < DB; d++)
#pragma unroll
      for (int r = 0; r < NREG; r++) {
        const int c = d * MI + am_acc_row<MI>(r, lane);
        if (c < HD)
          O[orow * HD + c] = at_from_float<T>(o[t][d][r] * inv);
      }
    if (LSE && lane < MI)
      LSE[orow] = l[t] > 0.0f ? (m[t] + at_log2f(l[t])) * AT_LN2 : at_neg_inf();
  }
}
