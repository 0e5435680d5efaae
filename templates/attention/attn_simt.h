// attn_simt.h - attention forward on plain SIMT arithmetic (any GPU and the host):
// O = softmax(scale * Q K^T [causal mask]) V per batch and head, with f32 accumulation
// and an online softmax (FlashAttention's: one pass over K and V, no S x S matrix), for
// every sequence length and head dim the problem gives (tuner/ops/op_attn.h is the contract).
//
// A block computes BQ query rows of one (batch, head); G threads share a row, each owning
// HD / G of its head-dim columns (strided by G, so a group reads consecutive shared
// words). K and V advance BKV keys at a time through shared memory (converted to f32 as
// they are loaded, VEC_BYTES per global load where the rows are aligned for it). For each
// tile a thread computes its partial dot products for all BKV keys, the group sums them
// with butterfly shuffles (every thread of the group ends with every score), takes the
// tile's maximum, rescales its running output and sum once, and accumulates p * V.
// Logits are pre-scaled by scale * log2(e), so the softmax needs only exp2. Causal:
// query i sees keys j <= i + SK - SQ (aligned to the bottom right, as FlashAttention 2
// does when SQ != SK); tiles past a block's last visible key are skipped. A row that sees
// no key (only possible with causal and SK < SQ) is 0. Rows past SQ compute but store
// nothing; keys past SK are masked.
//
// Learned from (our own code): Dao et al., "FlashAttention-2" (2023), Algorithm 1: the
// online softmax with one rescale per key tile and the final division by the row sum;
// Milakov and Gimelshein, "Online normalizer calculation for softmax" (2018).
#include "at_math.h"

#pragma autotune kernel attn_simt
#pragma autotune problem B, H, SQ, SK, D, CAUSAL
#pragma autotune dtype T
#pragma autotune param BQ = 4, 8, 16, 32, 64       // query rows per block
#pragma autotune param G = 1, 2, 4, 8, 16, 32      // threads per query row
#pragma autotune param BKV = 16, 32, 64            // keys per shared-memory tile
#pragma autotune param VEC_BYTES = 4, 8, 16        // global load width for K and V
// The head dim and the mask are compiled in: HD sizes the per-thread registers.
#pragma autotune derive HD = D
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
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

// Rows [key0, key0 + BKV) of the (SK x HD) matrix g into s as f32 ([BKV][HD]), zero past
// SK; VB-byte loads when vec (every row start aligned to VB), else element by element.
template <typename T, int BKV, int HD, int VB, int NT>
AT_DEV void load_tile(float *s, const T *g, int key0, int sk, bool vec, int tid)
{
  constexpr int PER = VB / (int)sizeof(T) > 0 ? VB / (int)sizeof(T) : 1;
  constexpr int VPR = HD / PER; // vectors per row (vec implies HD % PER == 0)
  if (vec && PER > 1) {
    for (int v = tid; v < BKV * VPR; v += NT) {
      const int r = v / VPR, c = (v % VPR) * PER, key = key0 + r;
      float x[PER];
      if (key < sk) {
        const T *src = g + (long long)key * HD + c;
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
    s[v] = key < sk ? at_to_float(g[(long long)key * HD + c]) : 0.0f;
  }
}

} // namespace attn_simt_detail

template <typename T, int BQ, int G, int BKV, int VEC_BYTES, int HD, int IS_CAUSAL>
__device__ void attn_simt(const T *Q, const T *K, const T *V, T *O, int B, int H, int SQ,
                          int SK, float scale)
{
  using namespace attn_simt_detail;
  static_assert(HD % G == 0, "attn_simt: G threads split the head dim evenly");
  constexpr int NT = BQ * G, DG = HD / G;
  constexpr int PER = VEC_BYTES / (int)sizeof(T) > 0 ? VEC_BYTES / (int)sizeof(T) : 1;
  (void)B;
  (void)H;

  AT_DYNAMIC_SHARED(float, smem);
  float *const sK = smem;
  float *const sV = smem + BKV * HD;

  const int nqt = (SQ + BQ - 1) / BQ;
  const int bid = (int)at_block_idx_x(), bh = bid / nqt, q0 = (bid % nqt) * BQ;
  const int tid = (int)at_thread_idx_x(), row = tid / G, gl = tid % G;
  const int qi = q0 + row; // this thread's query row
  const long long head_q = (long long)bh * SQ * HD, head_kv = (long long)bh * SK * HD;
  const T *const Kh = K + head_kv, *const Vh = V + head_kv;
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
    load_tile<T, BKV, HD, VEC_BYTES, NT>(sK, Kh, k0, SK, vec, tid);
    load_tile<T, BKV, HD, VEC_BYTES, NT>(sV, Vh, k0, SK, vec, tid);
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
  }
}
