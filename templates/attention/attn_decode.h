// attn_decode.h - decode attention (SQ <= 16 new queries against a long KV cache) on
// SIMT arithmetic for every target (CUDA sm_80+/sm_90, HIP gfx90a/gfx942, the host),
// under the attention contract v2 (tuner/ops/op_attn.h): GQA, paged KV, optional LSE.
//
// Split-KV ("flash-decoding"): the SK keys of one (batch, KV head) are cut into NS
// chunks, one block each, so that a decode step with few (batch, KV head) pairs still
// puts enough blocks on the GPU (NS is derived from a target of BPS blocks per SM and
// never exceeds the number of key tiles). A block takes the R = (H / HKV) * SQ query
// rows that share its KV head (the GQA group times the new queries: consecutive rows of
// Q, so one contiguous slab) and streams its chunk of K and V once, BKV keys a tile,
// with 16-byte loads into registers, issued for the next tile before the current one is
// computed (one tile in flight per block, more blocks per SM for the rest). Each tile is
// converted to f32 in shared memory; the scores are computed TR rows per thread (a K
// vector read from shared memory once per TR rows, the q vectors broadcast), the online
// softmax (FlashAttention-2's, in the log2 domain) is updated one thread per row (SMX =
// 0) or SG lanes of a wave per row with shuffle reductions (SMX = 1), and p V
// accumulates in registers, TR rows x 4 columns per thread.
//
// With NS > 1 every block writes its rows' partial (max m, sum l, unnormalized
// accumulator) into the workspace, fences, and bumps the (batch, KV head)'s counter; the
// block that sees NS - 1 is the last, combines the NS partials (O = sum_s 2^(m_s - M)
// acc_s / sum_s 2^(m_s - M) l_s, LSE = (M + log2 L) ln 2), writes O and LSE, and zeroes
// the partials and the counter it used: the workspace contract (all zero at launch, all
// zero on return) holds without a memset between launches. NS == 1 writes O directly
// and uses no workspace.
//
// Paged (IS_PAGED): K and V are page pools [NPAGES][16][HKV][D], key j of batch b is row
// j % 16 of page BT[b][j / 16]; a tile of BKV keys (a multiple of 16, chunks too) covers
// whole pages. Causal: query i sees keys j <= i + SK - SQ (bottom right). A row that sees
// no key gets O = 0 and LSE = -inf.
//
// SIMT, not matrix cores: decode reads each K and V byte once for R rows, about 2 R
// FLOPs per byte of bf16; up to R ~ 16 the SIMT FMAs (67 TFLOP/s f32 on H200, against
// 4.3 TB/s) keep up with memory, and they run unchanged on every target, including the
// host emulator. Larger groups (R up to 256) are correct but compute-bound here: an
// MMA/MFMA decode kernel is the next step for them.
//
// Learned from (our own code, no copy): Dao, Haziza, Massa, Sizov, "Flash-Decoding for
// long-context inference" (2023): split the keys, combine partials by their
// log-sum-exp; FlashInfer's decode and vLLM's paged-attention kernels: the GQA group's
// rows share one pass over the KV, page tables of 16 tokens; the CUDA samples'
// threadFenceReduction: the last block to bump a counter does the reduction.
#include "at_math.h"
#include "at_splitkv.h" // the split's partial, the count, the last block's combine
#include "at_warp.h"

#pragma autotune kernel attn_decode
#pragma autotune problem B, H, HKV, SQ, SK, D, CAUSAL, PAGED
#pragma autotune dtype T
#pragma autotune param NT = 64, 128, 256, 512      // threads per block
#pragma autotune param BKV = 16, 32, 64            // keys per tile (whole 16-token pages)
#pragma autotune param TR = 1, 2, 4, 8             // query rows per thread (register tile)
#pragma autotune param BPS = 1, 2, 4, 8            // target blocks per SM: sets the splits
#pragma autotune param SMX = 0, 1                  // softmax: 0 a thread a row, 1 a lane group
#pragma autotune derive HD = D
// f32 FMA on the vector units, no matrix cores: the cost model's peak (pipe_model.h)
#pragma autotune derive MATRIX_CORES = 0
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
#pragma autotune derive IS_PAGED = PAGED != 0
#pragma autotune derive R = max(H / max(HKV, 1), 1) * SQ
#pragma autotune derive RG = cdiv(R, TR)
// Key splits per (batch, KV head): enough blocks for BPS per SM, at most one per tile.
#pragma autotune derive NS = max(1, min(cdiv(SK, BKV), cdiv(BPS * max(device.cus, 1), B * max(HKV, 1))))
// Shared rows of K, V and Q: HD + 4 floats keep 16-byte alignment and put 8 consecutive
// rows' 16-byte reads on distinct banks.
#pragma autotune derive KS = HD + 4
#pragma autotune derive OPT = cdiv(RG * HD / 4, NT)
// Lanes a row in the softmax: 1 (SMX = 0), else the largest power of two with SG rows'
// lanes in the block, within a wave and within the tile's keys.
#pragma autotune derive SG = SMX == 0 ? 1 : min(device.wave_size, BKV, NT >= 64 * RG * TR ? 64 : \
  NT >= 32 * RG * TR ? 32 : NT >= 16 * RG * TR ? 16 : NT >= 8 * RG * TR ? 8 : \
  NT >= 4 * RG * TR ? 4 : NT >= 2 * RG * TR ? 2 : 1)
#pragma autotune require decode_rows: SQ >= 1 && SQ <= 16
#pragma autotune require gqa_group: HKV >= 1 && H % HKV == 0 && H / HKV <= 16
#pragma autotune require head_dim: HD % 8 == 0 && HD <= 256
// Per thread: OPT x TR x 4 accumulators and the next tile's 16-byte vectors of K and V
// (f32 counts twice), live across the whole key loop. 64 of them leave room for the
// addresses and the phases' temporaries under the register target ptxas picks for a
// block size alone (CUDA 13 spilled at 168 registers with 128 threads where these
// held 144 of them).
#pragma autotune require registers: OPT * TR * 4 + 8 * cdiv(BKV * HD / 4, NT) <= 64
// No register row tile taller than the rows (TR = 1 always offered).
#pragma autotune require row_tile_useful: TR == 1 || TR / 2 < R
// No tile larger than twice the keys.
#pragma autotune require fits_kv: BKV < 2 * max(SK, 16)
// A larger BPS only where it gives another number of splits.
#pragma autotune require split_distinct: BPS == 1 || NS > max(1, min(cdiv(SK, BKV), cdiv(BPS / 2 * max(device.cus, 1), B * max(HKV, 1))))
// A lane group of one lane is SMX = 0's softmax.
#pragma autotune require lane_group_useful: SMX == 0 || SG > 1
// Every thread owns a K vector to convert per tile.
#pragma autotune require threads_useful: NT <= BKV * HD / 4
#pragma autotune threads NT
// One block an SM is all the register file must hold (CUDA's __launch_bounds__(NT, 1)).
// With the thread count alone ptxas 13 sets its own register target, one that fits
// several blocks (72-96 registers at NT = 128, 5-7 blocks), and spills the key loop's
// accumulators and prefetched vectors to meet it; with this it allocates what the loop
// needs (up to 142 at NT = 128, no spills) and BPS's blocks share the SM as registers
// allow. HIP leaves it off (its second argument is waves per EU).
#pragma autotune min_blocks 1
#pragma autotune grid B * HKV * NS
#pragma autotune shared (RG * TR * KS + 2 * BKV * KS + RG * TR * (BKV + 1) + 3 * RG * TR) * sizeof_f32
// Counters (one u32 per (batch, KV head), padded to 16 bytes), then per (batch, KV
// head, split, row) the partial: m, l, then HD accumulators, f32. None when NS == 1.
#pragma autotune workspace min(NS - 1, 1) * (cdiv(B * HKV, 4) * 16 + B * HKV * NS * R * (HD + 2) * sizeof_f32)

namespace attn_decode_detail {

constexpr int PAGE = 16; // tokens a page (ATTN_PAGE)

// The f32 values of the PER elements of T in one 16-byte vector.
AT_DEV void unpack16b(const at_uint4 &u, float *out, const float *)
{
  out[0] = at_uint_as_float(u.x), out[1] = at_uint_as_float(u.y);
  out[2] = at_uint_as_float(u.z), out[3] = at_uint_as_float(u.w);
}
template <typename H> AT_DEV void unpack_halves(const at_uint4 &u, float *out)
{
  const unsigned int w[4] = {u.x, u.y, u.z, u.w};
  for (int i = 0; i < 4; i++) {
    H lo, hi;
    lo.bits = (unsigned short)(w[i] & 0xffffu);
    hi.bits = (unsigned short)(w[i] >> 16);
    out[2 * i] = at_to_float(lo);
    out[2 * i + 1] = at_to_float(hi);
  }
}
AT_DEV void unpack16b(const at_uint4 &u, float *out, const at_half *)
{
  unpack_halves<at_half>(u, out);
}
AT_DEV void unpack16b(const at_uint4 &u, float *out, const at_bfloat16 *)
{
  unpack_halves<at_bfloat16>(u, out);
}

// Where the keys of one (batch b, KV head g) live, set up once a block: the offset of
// key `key`'s row in K and V (elements) is
//   paged:     (btr[key / 16] * 16 + key % 16) * tok + head   (tok = HKV * HD, head = g HD)
//   not paged: head + key * HD                                (head = ((b HKV + g) SK) HD)
struct kv_rows {
  const int *btr; // this batch's row of the block table (paged)
  long long head;
  int tok;
};
template <int HD, int PAGED>
AT_DEV kv_rows kv_rows_of(const int *bt, int b, int g, int hkv, int sk)
{
  kv_rows r;
  if (PAGED) {
    r.btr = bt + (long long)b * ((sk + PAGE - 1) / PAGE);
    r.head = (long long)g * HD;
    r.tok = hkv * HD;
  } else {
    r.btr = 0;
    r.head = ((long long)b * hkv + g) * sk * HD;
    r.tok = HD;
  }
  return r;
}
template <int HD, int PAGED> AT_DEV long long key_off(const kv_rows &r, int key)
{
  if (PAGED)
    return ((long long)r.btr[key / PAGE] * PAGE + key % PAGE) * r.tok + r.head;
  return r.head + (long long)key * HD;
}

// The tile's raw 16-byte vectors of K and V a thread holds between fetch and stage.
template <typename T, int BKV, int HD, int NT> struct tile_regs {
  static constexpr int PER = 16 / (int)sizeof(T);
  static constexpr int VPR = HD / PER;          // vectors a row
  static constexpr int NV = BKV * VPR;          // vectors a tile (of K, of V)
  static constexpr int LPT = (NV + NT - 1) / NT;
  at_uint4 k[LPT], v[LPT];
};

// Issue the loads of tile [k0, k0 + BKV) (keys at or past k_hi read nothing).
template <typename T, int BKV, int HD, int NT, int PAGED>
AT_DEV void fetch(tile_regs<T, BKV, HD, NT> &r, const T *K, const T *V, const kv_rows &kv,
                  int k0, int k_hi, int tid)
{
  using TR_ = tile_regs<T, BKV, HD, NT>;
#pragma unroll
  for (int i = 0; i < TR_::LPT; i++) {
    const int v = tid + i * NT;
    const int row = v / TR_::VPR, col = (v % TR_::VPR) * TR_::PER, key = k0 + row;
    if (v < TR_::NV && key < k_hi) {
      const long long off = key_off<HD, PAGED>(kv, key) + col;
      r.k[i] = at_load_b128(K + off);
      r.v[i] = at_load_b128(V + off);
    } else {
      r.k[i] = at_uint4{0u, 0u, 0u, 0u};
      r.v[i] = at_uint4{0u, 0u, 0u, 0u};
    }
  }
}

// The fetched vectors into shared memory as f32 ([BKV][KS]).
template <typename T, int BKV, int HD, int NT, int KS>
AT_DEV void stage(const tile_regs<T, BKV, HD, NT> &r, float *sK, float *sV, int tid)
{
  using TR_ = tile_regs<T, BKV, HD, NT>;
#pragma unroll
  for (int i = 0; i < TR_::LPT; i++) {
    const int v = tid + i * NT;
    if (v < TR_::NV) {
      const int row = v / TR_::VPR, col = (v % TR_::VPR) * TR_::PER;
      float xk[TR_::PER], xv[TR_::PER];
      unpack16b(r.k[i], xk, (const T *)0);
      unpack16b(r.v[i], xv, (const T *)0);
#pragma unroll
      for (int e = 0; e < TR_::PER; e++) {
        sK[row * KS + col + e] = xk[e];
        sV[row * KS + col + e] = xv[e];
      }
    }
  }
}

// The same tile element by element (K or V not 16-byte aligned).
template <typename T, int BKV, int HD, int NT, int KS, int PAGED>
AT_DEV void stage_scalar(float *sK, float *sV, const T *K, const T *V, const kv_rows &kv,
                         int k0, int k_hi, int tid)
{
  for (int e = tid; e < BKV * HD; e += NT) {
    const int row = e / HD, col = e % HD, key = k0 + row;
    float xk = 0.0f, xv = 0.0f;
    if (key < k_hi) {
      const long long off = key_off<HD, PAGED>(kv, key) + col;
      xk = at_to_float(K[off]);
      xv = at_to_float(V[off]);
    }
    sK[row * KS + col] = xk;
    sV[row * KS + col] = xv;
  }
}

// One tile's online softmax with SG lanes a row (SMX = 1): lane l of row r's group takes
// keys l, l + SG, ...; the tile max and the row sum of p are reduced across the group
// with log2 SG xor shuffles each (groups are aligned SG-lane segments of a wave, so the
// shuffles stay inside them); the group's first lane updates m, l and the rescale. Every
// lane of the block runs the same passes (all shuffle together); a lane past the rows
// carries -inf and 0. The sum is reduced per tile rather than kept per lane to the end:
// rows may be looped, and per-lane sums would then cost a register per pass.
// (vLLM's paged attention and attn_mfma reduce their row maxima with shuffles the same way.)
template <int BKV, int SP, int RP, int NT, int SG>
AT_DEV void softmax_lanes(float *sS, float *sM, float *sL, float *sA, int tid)
{
  constexpr int ROWS = NT / SG; // rows a pass
  const int lane = tid % SG;
  for (int r0 = 0; r0 < RP; r0 += ROWS) {
    const int r = r0 + tid / SG;
    const bool on = r < RP;
    float *const srow = sS + (on ? r : 0) * SP;
    float tmax = at_neg_inf();
    if (on)
      for (int j = lane; j < BKV; j += SG)
        tmax = at_fmaxf(tmax, srow[j]);
#pragma unroll
    for (int off = 1; off < SG; off *= 2)
      tmax = at_fmaxf(tmax, at_shfl_xor(tmax, off));
    const float m = on ? sM[r] : at_neg_inf(); // read before the sum's shuffles
    const float mnew = at_fmaxf(m, tmax);
    float l = 0.0f;
    if (on)
      for (int j = lane; j < BKV; j += SG) {
        const float sv = srow[j];
        const float p = tmax == at_neg_inf() || sv == at_neg_inf() ? 0.0f : at_exp2f(sv - mnew);
        srow[j] = p;
        l += p;
      }
#pragma unroll
    for (int off = 1; off < SG; off *= 2)
      l += at_shfl_xor(l, off);
    if (on && lane == 0) {
      if (tmax == at_neg_inf()) { // nothing visible in this tile for this row
        sA[r] = 1.0f;
      } else {
        const float alpha = m == at_neg_inf() ? 0.0f : at_exp2f(m - mnew);
        sM[r] = mnew, sL[r] = sL[r] * alpha + l, sA[r] = alpha;
      }
    }
  }
}

} // namespace attn_decode_detail

template <typename T, int NT, int BKV, int TR, int BPS, int SMX, int HD, int IS_CAUSAL,
          int IS_PAGED, int R, int RG, int NS, int KS, int OPT, int SG>
__device__ void attn_decode(const T *Q, const T *K, const T *V, T *O, float *LSE, const int *BT,
                            int B, int H, int HKV, int SQ, int SK, float scale, void *WS)
{
  using namespace attn_decode_detail;
  static_assert(HD % 8 == 0, "attn_decode: rows of whole 16-byte vectors");
  static_assert(BKV % PAGE == 0, "attn_decode: tiles of whole pages");
  constexpr int RP = RG * TR;      // rows padded to whole register tiles
  constexpr int SP = BKV + 1;      // score row stride (row threads read down columns)
  constexpr int C4 = HD / 4;       // float4 columns
  constexpr int PER = 16 / (int)sizeof(T);
  static_assert(SG >= 1 && (SG & (SG - 1)) == 0 && SG <= AT_WAVE_SIZE && SG <= BKV &&
                    NT % SG == 0 && (SMX == 1 || SG == 1),
                "attn_decode: a lane group is a power of two within a wave and a tile");
  (void)BPS;
  (void)B;

  AT_DYNAMIC_SHARED(float, smem);
  float *const sQ = smem;                 // [RP][KS], pre-scaled, zero past rows
  float *const sK = sQ + RP * KS;         // [BKV][KS]
  float *const sV = sK + BKV * KS;        // [BKV][KS]
  float *const sS = sV + BKV * KS;        // [RP][SP]: scores, then p
  float *const sM = sS + RP * SP;         // [RP]: running max (log2 domain)
  float *const sL = sM + RP;              // [RP]: running sum
  float *const sA = sL + RP;              // [RP]: this tile's rescale of the accumulator

  const int tid = (int)at_thread_idx_x();
  // This block's (batch, KV head) pair and split, its rows and its keys (at_splitkv.h).
  const at_splitkv::block blk = at_splitkv::block_of(B, H, HKV, SQ, SK, R, BKV);
  const int ns = blk.ns, bg = blk.bg, split = blk.split, b = blk.b, g = blk.g;
  const int rows = blk.rows, k_lo = blk.k_lo, k_hi = blk.k_hi;
  const long long row0 = blk.row0;

  const bool vec = ((unsigned long long)K % 16 == 0) && ((unsigned long long)V % 16 == 0) &&
                   (HD * (int)sizeof(T)) % 16 == 0 && PER > 0;

  // q, pre-scaled so that exp(scale * q.k) = 2^(q'.k); padded rows are zero.
  const float qs = (scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD)) * AT_LOG2E;
  for (int e = tid; e < RP * HD; e += NT) {
    const int r = e / HD, c = e % HD;
    sQ[r * KS + c] = r < rows ? at_to_float(Q[(row0 + r) * HD + c]) * qs : 0.0f;
  }
  for (int r = tid; r < RP; r += NT)
    sM[r] = at_neg_inf(), sL[r] = 0.0f;

  // Accumulators: item it = tid + k NT is (row group it / C4, float4 column it % C4).
  float o[OPT][TR][4];
#pragma unroll
  for (int k = 0; k < OPT; k++)
#pragma unroll
    for (int t = 0; t < TR; t++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        o[k][t][e] = 0.0f;

  const kv_rows kv = kv_rows_of<HD, IS_PAGED>(BT, b, g, HKV, SK);
  tile_regs<T, BKV, HD, NT> regs;
  if (vec && k_lo < k_hi)
    fetch<T, BKV, HD, NT, IS_PAGED>(regs, K, V, kv, k_lo, k_hi, tid);

  for (int k0 = k_lo; k0 < k_hi; k0 += BKV) {
    at_syncthreads(); // the previous tile's readers are done (and sQ, sM are written)
    if (vec)
      stage<T, BKV, HD, NT, KS>(regs, sK, sV, tid);
    else
      stage_scalar<T, BKV, HD, NT, KS, IS_PAGED>(sK, sV, K, V, kv, k0, k_hi, tid);
    at_syncthreads();
    if (vec && k0 + BKV < k_hi) // the next tile's loads fly while this one is computed
      fetch<T, BKV, HD, NT, IS_PAGED>(regs, K, V, kv, k0 + BKV, k_hi, tid);

    // Scores: item (row group, key), TR rows a thread sharing one read of the K row.
    for (int it = tid; it < RG * BKV; it += NT) {
      const int rg = it / BKV, j = it % BKV, key = k0 + j;
      float acc[TR];
#pragma unroll
      for (int t = 0; t < TR; t++)
        acc[t] = 0.0f;
      const float *kr = sK + j * KS;
#pragma unroll 4
      for (int c = 0; c < HD; c += 4) {
        const at_float4 kv = *(const at_float4 *)(kr + c);
#pragma unroll
        for (int t = 0; t < TR; t++) {
          const at_float4 qv = *(const at_float4 *)(sQ + (rg * TR + t) * KS + c);
          acc[t] += qv.x * kv.x + qv.y * kv.y + qv.z * kv.z + qv.w * kv.w;
        }
      }
#pragma unroll
      for (int t = 0; t < TR; t++) {
        const int r = rg * TR + t;
        const int last = IS_CAUSAL ? r % SQ + SK - SQ : SK - 1; // last key row r sees
        sS[r * SP + j] = r < rows && key < k_hi && key <= last ? acc[t] : at_neg_inf();
      }
    }
    at_syncthreads();

    if (SMX == 1) // online softmax, SG lanes a row
      softmax_lanes<BKV, SP, RP, NT, SG>(sS, sM, sL, sA, tid);
    // Online softmax, one thread a row (SMX = 0; no pass under SMX = 1): the tile's max,
    // the rescale, p in place.
    for (int r = SMX == 1 ? RP : tid; r < RP; r += NT) {
      float tmax = at_neg_inf();
      for (int j = 0; j < BKV; j++)
        tmax = at_fmaxf(tmax, sS[r * SP + j]);
      const float m = sM[r];
      if (tmax == at_neg_inf()) { // nothing visible in this tile for this row
        for (int j = 0; j < BKV; j++)
          sS[r * SP + j] = 0.0f;
        sA[r] = 1.0f;
        continue;
      }
      const float mnew = at_fmaxf(m, tmax);
      const float alpha = m == at_neg_inf() ? 0.0f : at_exp2f(m - mnew);
      float l = sL[r] * alpha;
      for (int j = 0; j < BKV; j++) {
        const float s = sS[r * SP + j];
        const float p = s == at_neg_inf() ? 0.0f : at_exp2f(s - mnew);
        sS[r * SP + j] = p;
        l += p;
      }
      sM[r] = mnew, sL[r] = l, sA[r] = alpha;
    }
    at_syncthreads();

    // p V: TR rows x 4 columns a item, one V read for TR rows.
#pragma unroll
    for (int k = 0; k < OPT; k++) {
      const int it = tid + k * NT;
      if (it >= RG * C4)
        continue;
      const int rg = it / C4, c = (it % C4) * 4;
#pragma unroll
      for (int t = 0; t < TR; t++) {
        const float a = sA[rg * TR + t];
#pragma unroll
        for (int e = 0; e < 4; e++)
          o[k][t][e] *= a;
      }
      for (int j = 0; j < BKV; j++) {
        const at_float4 vv = *(const at_float4 *)(sV + j * KS + c);
#pragma unroll
        for (int t = 0; t < TR; t++) {
          const float p = sS[(rg * TR + t) * SP + j];
          o[k][t][0] += p * vv.x, o[k][t][1] += p * vv.y;
          o[k][t][2] += p * vv.z, o[k][t][3] += p * vv.w;
        }
      }
    }
  }
  at_syncthreads(); // sM, sL final (also for a split with no keys)

  if (ns == 1) { // the only split: normalize and store
#pragma unroll
    for (int k = 0; k < OPT; k++) {
      const int it = tid + k * NT;
      if (it >= RG * C4)
        continue;
      const int rg = it / C4, c = (it % C4) * 4;
#pragma unroll
      for (int t = 0; t < TR; t++) {
        const int r = rg * TR + t;
        if (r >= rows)
          continue;
        const float l = sL[r], inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
        for (int e = 0; e < 4; e++)
          O[(row0 + r) * HD + c + e] = at_from_float<T>(o[k][t][e] * inv);
      }
    }
    if (LSE)
      at_splitkv::lse_rows<NT>(LSE + row0, rows, sM, sL, tid);
    return;
  }

  // ---- split: the partial into the workspace; the last block combines (at_splitkv.h) ----
  float *const mine = at_splitkv::partial(WS, B * HKV, bg, ns, split, rows, HD);
#pragma unroll
  for (int k = 0; k < OPT; k++) {
    const int it = tid + k * NT;
    if (it >= RG * C4)
      continue;
    const int rg = it / C4, c = (it % C4) * 4;
#pragma unroll
    for (int t = 0; t < TR; t++) {
      const int r = rg * TR + t;
      if (r >= rows)
        continue;
#pragma unroll
      for (int e = 0; e < 4; e++)
        mine[r * (HD + 2) + 2 + c + e] = o[k][t][e];
    }
  }
  for (int r = tid; r < rows; r += NT)
    mine[r * (HD + 2)] = sM[r], mine[r * (HD + 2) + 1] = sL[r];
  at_splitkv::finish<T, HD, NT>(WS, B * HKV, bg, ns, rows, O + row0 * HD,
                                LSE ? LSE + row0 : LSE, sM, sL, reinterpret_cast<int *>(sA),
                                tid); // (sA, this tile's rescale, is spent: the flag's word)
}
