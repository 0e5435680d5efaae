// at_attn_mfma.h - the pieces of attention on CDNA matrix cores (gfx942, gfx90a, and the
// host emulating them) that attn_mfma.h (prefill, FlashAttention's design) and
// attn_decode_mfma.h (split-KV decode over a GQA group's rows) share: one copy of the K/V
// tile as it travels (global memory to registers to LDS, contiguous or paged), its
// register-staged ring, S^T = K Q^T and O^T += V^T P^T on a wave's blocks of MI query
// columns, and the online softmax in registers between them.
//
// Layouts (at_mfma.h, from the CDNA3 ISA's chapter 7): S and O are kept transposed, so
// that no register moves between the two GEMMs (as Composable Kernel's FMHA forward):
// S^T = K Q^T puts, in each lane L, one query (column L % MI) and four consecutive keys
// per register group, exactly the B fragment that O^T = V^T P^T needs; each lane also
// owns its query's softmax state (running max m, partial sum l over its lane group), so
// the rescale of O is lane-local and a column's max needs only the shuffles across the
// 64 / MI lane groups. MI picks v_mfma_f32_32x32x8 {f16, bf16_1k} (MI = 32) or 16x16x16
// (MI = 16). Register r of a lane's MI x MI accumulator holds row 4 ((r / 4)(64 / MI) +
// L / MI) + r % 4, column L % MI.
//
// Learned from (our own code, not a copy): Dao, "FlashAttention-2" (2023), Algorithm 1;
// Composable Kernel's FMHA forward for the transposed S and O; the AMD Instinct MI300
// ISA, chapter 7; vLLM's paged KV cache layout for the block table.
#ifndef AT_COMMON_H
#include "at_common.h"
#endif
#ifndef AT_ATTN_MFMA_H
#define AT_ATTN_MFMA_H

#include "at_lds.h"
#include "at_math.h"

namespace at_attn_mfma {

#define AM_FN __device__ __forceinline__

constexpr int PAGE = 16; // tokens a page of the paged KV cache holds (the contract's ATTN_PAGE)

// One K or V tile as it travels: BKV keys x DP columns of T. Each of THREADS lanes reads
// NV vectors of VEC_BYTES into registers (read), then writes them to LDS (write); keys
// past the last one and columns past HD are zero (V's zeros meet p = 0: no NaN).
template <typename T, int BKV, int DP, int HD, int THREADS, int VEC_BYTES, int LAYOUT>
struct tile {
  static constexpr int KEYS = BKV;
  static constexpr int RB = DP * 2;
  static constexpr int BYTES = BKV * (LAYOUT == 1 ? RB + 16 : RB);
  static constexpr int VE = VEC_BYTES / 2;
  static constexpr int VPR = DP / VE;
  static constexpr int NVEC = BKV * VPR;
  static constexpr int NV = (NVEC + THREADS - 1) / THREADS;
  typedef typename at_vec<VEC_BYTES>::type vtype;
  static_assert(DP % VE == 0, "rows hold whole vectors");

  vtype r[NV];

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
        r[i] = at_vec<VEC_BYTES>::load(row(key) + c);
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
      at_vec<VEC_BYTES>::store(lds + at_lds_off<RB, LAYOUT>(v / VPR, (v % VPR) * VEC_BYTES),
                               r[i]);
    }
  }
  // 4 consecutive columns col.. of row `row` (one 8-byte read).
  static AM_FN void frag_row(const unsigned char *lds, int row, int col, T out[4])
  {
    const at_uint2 w = at_load_b64(lds + at_lds_off<RB, LAYOUT>(row, col * 2));
    at_memcpy(out, &w, 8);
  }
  // Column col of rows row..row + 3.
  static AM_FN void frag_col(const unsigned char *lds, int row, int col, T out[4])
  {
#pragma unroll
    for (int j = 0; j < 4; j++)
      out[j] = *(const T *)(lds + at_lds_off<RB, LAYOUT>(row + j, col * 2));
  }
};

// d += a * b for one MI x MI block on this lane's fragments, the instruction by T.
template <typename T, int MI> AT_DEV void mfma(float *d, const T *a, const T *b)
{
  if constexpr (at_same<T, at_half>::value) {
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

// Register r of a lane's MI x MI accumulator holds row 4 ((r / 4)(64 / MI) + L / MI) +
// r % 4 of the block, column L % MI (at_mfma.h).
template <int MI> AT_DEV int acc_row(int r, int lane)
{
  return 4 * ((r / 4) * (64 / MI) + lane / MI) + r % 4;
}

// Q's fragments (the B operand of S^T = K Q^T) of a wave's QT blocks of query columns,
// loaded once: element e of k-step s is column s KI + 4 (L / MI) + e of the lane's query
// row(t) (HD elements; null: a column past the rows, zero), zero past HD; `sign` 0x8000
// negates them (a negative scale: sign bits, exact), so the scores come out of the MFMA
// already flipped for the softmax's |scale|.
template <typename T, int QT, int DS, int MI, int HD, typename ROW>
AT_DEV void load_q(T (&qf)[QT][DS][4], const ROW &row, int lane, unsigned short sign)
{
  constexpr int KI = 256 / MI; // MFMA k: 8 (32x32x8) or 16 (16x16x16)
#pragma unroll
  for (int t = 0; t < QT; t++) {
    const T *const q = row(t);
#pragma unroll
    for (int s = 0; s < DS; s++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int c = s * KI + 4 * (lane / MI) + e;
        qf[t][s][e] = q && c < HD ? q[c] : at_from_float<T>(0.0f);
        qf[t][s][e].bits ^= sign;
      }
  }
}

// The online softmax's start: O zero, no maximum yet (-inf), no sum.
template <int QT, int DB, int NREG>
AT_DEV void init_state(float (&o)[QT][DB][NREG], float (&m)[QT], float (&l)[QT])
{
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
}

// The K/V ring over nt tiles of TILE::KEYS keys from key0 (keys at or past `end` zero):
// tile it + 1 is read from global memory into registers before tile it's math (use(lk,
// lv, it) on its LDS K and V) and written to LDS after it; STAGES = 2 double-buffers LDS
// (one barrier a tile), 1 reuses one buffer (two). Every thread of the block calls it.
template <int STAGES, typename TILE, typename KROW, typename VROW, typename USE>
AT_DEV void ring(unsigned char *lds, int nt, int key0, int end, const KROW &krow,
                 const VROW &vrow, bool vec_ok, int tid, USE use)
{
  constexpr int STAGE = 2 * TILE::BYTES; // K then V
  TILE tk, tv;
  if (nt > 0) {
    tk.read(krow, key0, end, vec_ok, tid);
    tv.read(vrow, key0, end, vec_ok, tid);
    tk.write(lds, tid);
    tv.write(lds + TILE::BYTES, tid);
    at_syncthreads();
  }
  for (int it = 0; it < nt; it++) {
    const int k0 = key0 + it * TILE::KEYS;
    const unsigned char *lk = lds + (it % STAGES) * STAGE, *lv = lk + TILE::BYTES;
    const bool more = it + 1 < nt;
    if (more) {
      tk.read(krow, k0 + TILE::KEYS, end, vec_ok, tid);
      tv.read(vrow, k0 + TILE::KEYS, end, vec_ok, tid);
    }
    use(lk, lv, it);
    if (more) {
      unsigned char *next = lds + ((it + 1) % STAGES) * STAGE;
      if (STAGES == 1)
        at_syncthreads(); // every wave is done reading the one buffer
      tk.write(next, tid);
      tv.write(next + TILE::BYTES, tid);
      at_syncthreads();
    }
  }
}

// S^T = K Q^T for the KB key blocks of MI keys from row0 of the LDS K tile lk: s[t][kb]
// holds keys row0 + kb MI + acc_row(r) of query column t.
template <typename T, int QT, int KB, int DS, int MI, typename TILE>
AT_DEV void qk(float (&s)[QT][KB][MI * MI / 64], const T (&qf)[QT][DS][4],
               const unsigned char *lk, int row0, int lane)
{
  constexpr int KI = 256 / MI;
#pragma unroll
  for (int t = 0; t < QT; t++)
#pragma unroll
    for (int kb = 0; kb < KB; kb++)
#pragma unroll
      for (int r = 0; r < MI * MI / 64; r++)
        s[t][kb][r] = 0.0f;
#pragma unroll
  for (int kb = 0; kb < KB; kb++)
#pragma unroll
    for (int ds = 0; ds < DS; ds++) {
      T kf[4];
      TILE::frag_row(lk, row0 + kb * MI + lane % MI, ds * KI + 4 * (lane / MI), kf);
#pragma unroll
      for (int t = 0; t < QT; t++)
        mfma<T, MI>(s[t][kb], kf, qf[t][ds]);
    }
}

// The online softmax of KB key blocks from key k0 per query column; P into one or two
// 16-bit halves for the second MFMA (pl is unused with PSPLIT 1: the compiler drops it).
// Maxima over the raw scores (of -Q where the scale is negative), qa x - m one FMA into
// exp2 (at_softmax_fold); limit[t]: the last key column t sees (a key past it is -inf),
// tested only on an `edge` tile (a uniform branch, not a compare and select every key);
// a column that has seen no key yet subtracts 0, so that exp2 of a masked -inf is 0
// without a test a key; O rescaled only where some column of the wave moved its max
// (alpha is exactly 1 elsewhere: o * 1 is o). The row sums l add the f32 p (as
// FlashAttention-2), each lane its own keys: summed over the lane groups at the end.
template <typename T, int QT, int KB, int DB, int MI, int PSPLIT>
AT_DEV void softmax(float (&s)[QT][KB][MI * MI / 64], T (&ph)[QT][KB][MI * MI / 64],
                    T (&pl)[QT][KB][PSPLIT == 2 ? MI * MI / 64 : 1],
                    float (&o)[QT][DB][MI * MI / 64], float (&m)[QT], float (&l)[QT],
                    const int (&limit)[QT], int k0, int lane, bool edge, float qa)
{
  constexpr int NREG = MI * MI / 64;
#pragma unroll
  for (int t = 0; t < QT; t++) {
    float tmax = at_neg_inf();
    if (edge) {
#pragma unroll
      for (int kb = 0; kb < KB; kb++)
#pragma unroll
        for (int r = 0; r < NREG; r++) {
          const int key = k0 + kb * MI + acc_row<MI>(r, lane);
          const float x = key <= limit[t] ? s[t][kb][r] : at_neg_inf();
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
}

// O^T += V^T P^T for the KB key blocks from row0 of the LDS V tile lv: the k-block of
// group gr of key block kb is keys kb MI + gr KI + 4 (L / MI) + 0..3, this lane's P
// registers 4 gr .. 4 gr + 3.
template <typename T, int QT, int KB, int DB, int MI, int PSPLIT, typename TILE>
AT_DEV void pv(float (&o)[QT][DB][MI * MI / 64], const T (&ph)[QT][KB][MI * MI / 64],
               const T (&pl)[QT][KB][PSPLIT == 2 ? MI * MI / 64 : 1], const unsigned char *lv,
               int row0, int lane)
{
  constexpr int KI = 256 / MI, NG = MI * MI / 64 / 4;
#pragma unroll
  for (int kb = 0; kb < KB; kb++)
#pragma unroll
    for (int gr = 0; gr < NG; gr++)
#pragma unroll
      for (int d = 0; d < DB; d++) {
        T vf[4];
        TILE::frag_col(lv, row0 + kb * MI + gr * KI + 4 * (lane / MI), d * MI + lane % MI,
                       vf);
#pragma unroll
        for (int t = 0; t < QT; t++) {
          mfma<T, MI>(o[t][d], vf, &ph[t][kb][4 * gr]);
          if constexpr (PSPLIT == 2)
            mfma<T, MI>(o[t][d], vf, &pl[t][kb][4 * gr]);
        }
      }
}

// f(t, c, v) for every element of O^T this lane holds: value v of head-dim column c < HD
// of its query column of block t (columns past HD are the zero padding: skipped).
template <int QT, int DB, int MI, int HD, typename F>
AT_DEV void each_o(const float (&o)[QT][DB][MI * MI / 64], int lane, const F &f)
{
#pragma unroll
  for (int t = 0; t < QT; t++)
#pragma unroll
    for (int d = 0; d < DB; d++)
#pragma unroll
      for (int r = 0; r < MI * MI / 64; r++) {
        const int c = d * MI + acc_row<MI>(r, lane);
        if (c < HD)
          f(t, c, o[t][d][r]);
      }
}

// A query column's row sum over its 64 / MI lane groups (each lane summed its own keys).
template <int QT, int MI> AT_DEV void sum_groups(float (&l)[QT])
{
#pragma unroll
  for (int t = 0; t < QT; t++)
#pragma unroll
    for (int off = MI; off < 64; off *= 2)
      l[t] += at_shfl_xor(l[t], off);
}

} // namespace at_attn_mfma

#undef AM_FN

#endif
