// attn_simt.h - attention forward on plain SIMT arithmetic (any GPU and the host):
// O = softmax(scale * Q K^T [causal mask]) V per batch and query head, with f32
// accumulation and an online softmax (FlashAttention's: one pass over K and V, no S x S
// matrix), for every sequence length and head dim the problem gives, GQA (HKV key/value
// heads, query head h reading KV head h / (H / HKV)), K and V contiguous or paged (page
// pools through a block table), and the optional LSE output (tuner/ops/op_attn.h is the
// contract, v2).
//
// A block computes BQ query rows of one (batch, query head); G threads share a row, each
// owning HD / G of its head-dim columns (strided by G, so a group reads consecutive shared
// words). K and V advance BKV keys at a time through shared memory (converted to f32 as
// they are loaded, VEC_BYTES per global load where the rows are aligned for it); a key's
// row is found through the block table when paged (row j % 16 of page BT[b][j / 16]). For
// each tile a thread computes its partial dot products for all BKV keys, the group sums
// them with butterfly shuffles (every thread of the group ends with every score), takes
// the tile's maximum, rescales its running output and sum once, and accumulates p * V.
// Logits are pre-scaled by scale * log2(e), so the softmax needs only exp2; LSE is then
// (m + log2(l)) * ln(2). Causal: query i sees keys j <= i + SK - SQ (aligned to the bottom
// right, as FlashAttention 2 does when SQ != SK); tiles past a block's last visible key
// are skipped. A row that sees no key (only possible with causal and SK < SQ) is 0, its
// LSE -infinity. Rows past SQ compute but store nothing; keys past SK are masked (read as
// zero, never loaded: a paged pool's last page holds other rows there).
//
// Learned from (our own code): Dao et al., "FlashAttention-2" (2023), Algorithm 1: the
// online softmax with one rescale per key tile, the final division by the row sum and the
// logsumexp output; Milakov and Gimelshein, "Online normalizer calculation for softmax"
// (2018); the paged KV-cache layout of Kwon et al., "Efficient Memory Management for Large
// Language Model Serving with PagedAttention" (vLLM, 2023).
#include "at_math.h"

#pragma autotune kernel attn_simt
#pragma autotune problem B, H, HKV, SQ, SK, D, CAUSAL, PAGED
#pragma autotune dtype T
#pragma autotune param BQ = 4, 8, 16, 32, 64       // query rows per block
#pragma autotune param G = 1, 2, 4, 8, 16, 32      // threads per query row
#pragma autotune param BKV = 16, 32, 64            // keys per shared-memory tile
#pragma autotune param VEC_BYTES = 4, 8, 16        // global load width for K and V
// The head dim, the mask and the KV layout are compiled in: HD sizes the per-thread
// registers.
#pragma autotune derive HD = D
// f32 FMA on the vector units, no matrix cores: the cost model's peak (pipe_model.h)
#pragma autotune derive MATRIX_CORES = 0
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
#pragma autotune derive IS_PAGED = PAGED != 0
#pragma autotune derive THREADS = BQ * G
#pragma autotune derive DG = HD / G
#pragma autotune require head_dim: HD >= 1 && HD <= 256
#pragma autotune require columns_split: HD % G == 0
// Per thread: DG query and DG output values and BKV scores live across the key loop.
#pragma autotune require registers: 2 * DG + BKV <= 160
// Not so thin that shuffles cost more than the columns they sum.
#pragma autotune require group_useful: G == 1 || DG >= 2
#pragma autotune require block_size: THREADS >= 32 && THREADS <= 512 && \
  THREADS % device.wave_size == 0
// A group's shuffles stay inside one warp/wave.
#pragma autotune require group_in_wave: G <= device.wave_size
// Vectors only where a row holds whole vectors of at least that width (else the
// kernel would take its element path anyway).
#pragma autotune require vec_useful: VEC_BYTES == 4 || HD % 8 == 0
// No block larger than twice the query rows, no tile larger than twice the keys.
#pragma autotune require fits_q: BQ < 2 * max(SQ, 4)
#pragma autotune require fits_kv: BKV < 2 * max(SK, 16)
#pragma autotune threads THREADS
#pragma autotune grid B * H * cdiv(SQ, BQ)
#pragma autotune shared 2 * BKV * HD * sizeof_f32

namespace attn_simt_detail {

// The f32 values of NW words of T elements.
AT_DEV void unpack(const unsigned int *w, int nw, float *out, const float *)
{
  for (int i = 0; i < nw; i++)
    out[i] = at_uint_as_float(w[i]);
}
template <typename H> AT_DEV void unpack16(const unsigned int *w, int nw, float *out)
{
  for (int i = 0; i < nw; i++) {
    H lo, hi;
    lo.bits = (unsigned short)(w[i] & 0xffffu);
    hi.bits = (unsigned short)(w[i] >> 16);
    out[2 * i] = at_to_float(lo);
    out[2 * i + 1] = at_to_float(hi);
  }
}
AT_DEV void unpack(const unsigned int *w, int nw, float *out, const at_half *)
{
  unpack16<at_half>(w, nw, out);
}
AT_DEV void unpack(const unsigned int *w, int nw, float *out, const at_bfloat16 *)
{
  unpack16<at_bfloat16>(w, nw, out);
}

// Tokens a page of a paged KV cache (op_attn.h's ATTN_PAGE).
constexpr int PAGE = 16;

// The row of key `key` (HD elements): contiguous from base, or paged row key % PAGE of
// page bt[key / PAGE], base then the pool plus the KV head's column offset.
template <typename T, int HD, bool PAGED>
AT_DEV const T *kv_row(const T *base, const int *bt, int hkv, int key)
{
  if (PAGED)
    return base + ((long long)bt[key / PAGE] * PAGE + key % PAGE) * hkv * HD;
  return base + (long long)key * HD;
}

// Rows [key0, key0 + BKV) of K or V into s as f32 ([BKV][HD]), zero past SK (never read);
// VB-byte loads when vec (every row start aligned to VB), else element by element.
template <typename T, int BKV, int HD, int VB, int NT, bool PAGED>
AT_DEV void load_tile(float *s, const T *base, const int *bt, int hkv, int key0, int sk,
                      bool vec, int tid)
{
  constexpr int PER = VB / (int)sizeof(T) > 0 ? VB / (int)sizeof(T) : 1;
  constexpr int VPR = HD / PER; // vectors per row (vec implies HD % PER == 0)
  if (vec && PER > 1) {
    for (int v = tid; v < BKV * VPR; v += NT) {
      const int r = v / VPR, c = (v % VPR) * PER, key = key0 + r;
      float x[PER];
      if (key < sk) {
        const T *src = kv_row<T, HD, PAGED>(base, bt, hkv, key) + c;
        unsigned int w[VB / 4];
        if constexpr (VB == 16) {
          const at_uint4 u = at_load_b128(src);
          w[0] = u.x, w[1] = u.y, w[2] = u.z, w[3] = u.w;
        } else if constexpr (VB == 8) {
          const at_uint2 u = at_load_b64(src);
          w[0] = u.x, w[1] = u.y;
        } else {
          w[0] = *(const unsigned int *)src;
        }
        unpack(w, VB / 4, x, (const T *)0);
      } else {
        for (int e = 0; e < PER; e++)
          x[e] = 0.0f;
      }
      for (int e = 0; e < PER; e++)
        s[r * HD + c + e] = x[e];
    }
    return;
  }
  for (int v = tid; v < BKV * HD; v += NT) {
    const int r = v / HD, c = v % HD, key = key0 + r;
    s[v] = key < sk ? at_to_float(kv_row<T, HD, PAGED>(base, bt, hkv, key)[c]) : 0.0f;
  }
}

} // namespace attn_simt_detail

template <typename T, int BQ, int G, int BKV, int VEC_BYTES, int HD, int IS_CAUSAL,
          int IS_PAGED>
__device__ void attn_simt(const T *Q, const T *K, const T *V, T *O, float *LSE, const int *BT,
                          int B, int H, int HKV, int SQ, int SK, float scale)
{
  using namespace attn_simt_detail;
  static_assert(HD % G == 0, "attn_simt: G threads split the head dim evenly");
  constexpr int NT = BQ * G, DG = HD / G;
  constexpr int PER = VEC_BYTES / (int)sizeof(T) > 0 ? VEC_BYTES / (int)sizeof(T) : 1;
  constexpr bool PG = IS_PAGED != 0;
  (void)B;

  AT_DYNAMIC_SHARED(float, smem);
  float *const sK = smem;
  float *const sV = smem + BKV * HD;

  const int nqt = (SQ + BQ - 1) / BQ;
  const int bid = (int)at_block_idx_x(), bh = bid / nqt, q0 = (bid % nqt) * BQ;
  const int tid = (int)at_thread_idx_x(), row = tid / G, gl = tid % G;
  const int qi = q0 + row; // this thread's query row
  const int b = bh / H, g = (bh % H) / (H / HKV); // the KV head this query head reads
  const long long head_q = (long long)bh * SQ * HD;
  // Contiguous: the KV head's [SK][HD] rows; paged: the pool, offset to the KV head's
  // columns, and this sequence's block table row.
  const long long head_kv = PG ? (long long)g * HD : ((long long)b * HKV + g) * SK * HD;
  const T *const Kh = K + head_kv, *const Vh = V + head_kv;
  const int *const bt = PG ? BT + (long long)b * ((SK + PAGE - 1) / PAGE) : BT;
  const bool vec = PER > 1 && HD % PER == 0 && (unsigned long long)K % VEC_BYTES == 0 &&
                   (unsigned long long)V % VEC_BYTES == 0 &&
                   (HD * (int)sizeof(T)) % VEC_BYTES == 0;

  // q, pre-scaled so that exp(scale * q.k) = 2^(q'.k).
  const float qs = (scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD)) * AT_LOG2E;
  float q[DG], o[DG];
#pragma unroll
  for (int i = 0; i < DG; i++) {
    const int c = gl + G * i;
    q[i] = qi < SQ ? at_to_float(Q[head_q + (long long)qi * HD + c]) * qs : 0.0f;
    o[i] = 0.0f;
  }
  float m = at_neg_inf(), l = 0.0f;

  // Causal: the last key any row of this block sees is (q0 + BQ - 1) + SK - SQ.
  int kv_end = SK;
  if (IS_CAUSAL) {
    const int last = q0 + BQ - 1 + SK - SQ + 1;
    kv_end = last < kv_end ? last : kv_end;
  }
  const int visible = IS_CAUSAL ? qi + SK - SQ : SK - 1; // last key this row sees

  for (int k0 = 0; k0 < kv_end; k0 += BKV) {
    at_syncthreads(); // the previous tile is read by everyone
    load_tile<T, BKV, HD, VEC_BYTES, NT, PG>(sK, Kh, bt, HKV, k0, SK, vec, tid);
    load_tile<T, BKV, HD, VEC_BYTES, NT, PG>(sV, Vh, bt, HKV, k0, SK, vec, tid);
    at_syncthreads();

    float s[BKV];
    float tmax = at_neg_inf();
#pragma unroll
    for (int j = 0; j < BKV; j++) {
      float part = 0.0f;
#pragma unroll
      for (int i = 0; i < DG; i++)
        part += q[i] * sK[j * HD + gl + G * i];
#pragma unroll
      for (int w = 1; w < G; w *= 2)
        part += at_shfl_xor(part, w, G);
      const int key = k0 + j;
      s[j] = key < SK && key <= visible ? part : at_neg_inf();
      tmax = at_fmaxf(tmax, s[j]);
    }
    if (tmax == at_neg_inf())
      continue; // nothing visible in this tile for this row (the loads are shared: go on)
    const float mnew = at_fmaxf(m, tmax);
    const float alpha = m == at_neg_inf() ? 0.0f : at_exp2f(m - mnew);
    l *= alpha;
#pragma unroll
    for (int i = 0; i < DG; i++)
      o[i] *= alpha;
#pragma unroll
    for (int j = 0; j < BKV; j++) {
      const float p = s[j] == at_neg_inf() ? 0.0f : at_exp2f(s[j] - mnew);
      l += p;
#pragma unroll
      for (int i = 0; i < DG; i++)
        o[i] += p * sV[j * HD + gl + G * i];
    }
    m = mnew;
  }

  if (qi < SQ) {
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int i = 0; i < DG; i++)
      O[head_q + (long long)qi * HD + gl + G * i] = at_from_float<T>(o[i] * inv);
    // natural log of the denominator: m and the logits are in log2 units
    if (LSE && gl == 0)
      LSE[(long long)bh * SQ + qi] = l > 0.0f ? (m + at_log2f(l)) * AT_LN2 : at_neg_inf();
  }
}
