// at_attn_mma.h - the pieces of attention on mma.sync m16n8k16 (sm_80 and later, and the
// host emulating it) that attn_mma.h (prefill, FlashAttention-2's design) and
// attn_decode_mma.h (split-KV decode over a GQA group's rows) share: one copy of the
// shared K/V tile layout and its cp.async fill (contiguous or paged), of S = Q K^T and
// O += P V on a warp's 16-row slices, and of the online softmax in registers between them.
//
// Fragments (at_mma.h's layout): a warp's slice s holds rows gq and gq + 8 (gq = lane / 4)
// of 16; Q's A fragment word w of k-step kk is row gq + 8 (w % 2), columns 16 kk + 2 t4 +
// 8 (w / 2) and the next (t4 = lane % 4); S register e of n8 tile j is (row gq + 8 (e /
// 2), key 8 j + 2 t4 + e % 2), and the same registers, converted to T, are P's A fragment
// for O += P V (no shared-memory round trip). Softmax state per slice and half r (rows gq
// and gq + 8): the running maximum m (log2 domain, scaled) and the lane's part of the row
// sum l (reduced over the row's four lanes once, at the end).
//
// Learned from (our own code, not a copy): Dao, "FlashAttention-2" (2023), Algorithm 1;
// the PTX ISA 8.x for m16n8k16, ldmatrix and cp.async (at_mma.h, at_copy.h); vLLM's paged
// KV cache layout for the block table.
#ifndef AT_COMMON_H
#include "at_common.h"
#endif
#ifndef AT_ATTN_MMA_H
#define AT_ATTN_MMA_H

#include "at_cp_ring.h"
#include "at_math.h"

namespace at_attn_mma {

constexpr int PAGE = 16;   // tokens per KV-cache page (the contract's ATTN_PAGE)
constexpr int VEC = 8;     // elements per 16-byte cp.async

// Element (row, col) of a shared [rows][HD] tile: padded rows of HD + 8 elements, or
// unpadded rows whose 16-byte chunks are XORed with bits of the row (rows of fewer than
// 8 chunks share a 128-byte line, so the row is first divided by how many share it).
template <int HD, int SWZ> AT_DEV int sidx(int row, int col)
{
  if (!SWZ)
    return row * (HD + 8) + col;
  constexpr int CH = HD / 8, SHARE = CH >= 8 ? 1 : 8 / CH;
  const int chunk = (col >> 3) ^ ((row & 7) / SHARE);
  return row * HD + chunk * 8 + (col & 7);
}

AT_DEV unsigned int pack(unsigned short lo, unsigned short hi)
{
  return (unsigned int)lo | (unsigned int)hi << 16;
}

template <typename T> AT_DEV unsigned int pack_f32(float lo, float hi)
{
  return pack(at_from_float<T>(lo).bits, at_from_float<T>(hi).bits);
}

// f on every S register of a tile (the zeroing before Q K^T, a negative scale's flip).
template <int MS, int NS, typename F> AT_DEV void each_score(float (&sc)[MS][NS][4], F f)
{
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int j = 0; j < NS; j++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        f(sc[s][j][e]);
}

// d += a * b on packed fragments; the last argument only picks the type.
AT_DEV void mma(float d[4], const unsigned int a[4], const unsigned int b[2], const at_half *)
{
  at_mma_m16n8k16_f32_f16_packed(d, a, b, d);
}
AT_DEV void mma(float d[4], const unsigned int a[4], const unsigned int b[2],
                const at_bfloat16 *)
{
  at_mma_m16n8k16_f32_bf16_packed(d, a, b, d);
}

// Element offset of key `key`'s row (for KV head g) in K and V: [B][HKV][SK][HD] from
// head_off, or row key % 16 of page bt[key / 16] of the pool [NPAGES][16][HKV][HD].
template <int HD, int PAGED>
AT_DEV long long kv_offset(const int *bt, long long head_off, int hkv, int g, int key)
{
  if (PAGED)
    return ((long long)bt[key / PAGE] * PAGE + key % PAGE) * hkv * HD + (long long)g * HD;
  return head_off + (long long)key * HD;
}

// Keys [key0, key0 + BKV) of K and V into the shared tiles sk and sv, NT threads; keys
// at or past `end` are zero-filled, not loaded. A tile wholly before `end` with 16-byte
// aligned bases is all cp.async, unrolled; any other takes a rolled loop (element by
// element when the bases are not aligned). The choice is the same for every thread.
template <typename T, int BKV, int HD, int NT, int SWZ, int PAGED>
AT_DEV void load_kv(T *sk, T *sv, const T *K, const T *V, const int *bt, long long head_off,
                    int hkv, int g, int key0, int end, bool vec, int tid)
{
  constexpr int VPR = HD / VEC, TOTAL = BKV * VPR, ITERS = (TOTAL + NT - 1) / NT;
  if (vec && key0 + BKV <= end) {
#pragma unroll
    for (int it = 0; it < ITERS; it++) {
      const int v = tid + it * NT;
      if (TOTAL % NT != 0 && v >= TOTAL)
        break;
      const int r = v / VPR, c = (v % VPR) * VEC;
      const long long off = kv_offset<HD, PAGED>(bt, head_off, hkv, g, key0 + r) + c;
      at_cp_async_16(sk + sidx<HD, SWZ>(r, c), K + off);
      at_cp_async_16(sv + sidx<HD, SWZ>(r, c), V + off);
    }
    return;
  }
#pragma unroll 1
  for (int v = tid; v < TOTAL; v += NT) {
    const int r = v / VPR, c = (v % VPR) * VEC, key = key0 + r;
    T *dk = sk + sidx<HD, SWZ>(r, c), *dv = sv + sidx<HD, SWZ>(r, c);
    if (key < end && vec) {
      const long long off = kv_offset<HD, PAGED>(bt, head_off, hkv, g, key) + c;
      at_cp_async_16(dk, K + off);
      at_cp_async_16(dv, V + off);
      continue;
    }
    const long long off = key < end ? kv_offset<HD, PAGED>(bt, head_off, hkv, g, key) + c : 0;
#pragma unroll
    for (int e = 0; e < VEC; e++) {
      T xk, xv;
      xk.bits = 0;
      xv.bits = 0;
      if (key < end) {
        xk = K[off + e];
        xv = V[off + e];
      }
      dk[e] = xk;
      dv[e] = xv;
    }
  }
}

// Q's A fragments of a warp's MS slices, loaded once: word w of k-step kk is row
// row[s][w % 2], columns 16 kk + 2 t4 + 8 (w / 2) and the next, of the rows from q (HD
// elements a row); rows at or past nrows are zero.
template <typename T, int MS, int DK, int HD>
AT_DEV void load_q(unsigned int (&qf)[MS][DK][4], const T *q, const int (&row)[MS][2],
                   int nrows, int t4)
{
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int kk = 0; kk < DK; kk++)
#pragma unroll
      for (int w = 0; w < 4; w++) {
        const int r = row[s][w & 1], col = kk * 16 + 2 * t4 + 8 * (w >> 1);
        const T *p = q + (long long)r * HD + col;
        qf[s][kk][w] = r < nrows ? pack(p[0].bits, p[1].bits) : 0u;
      }
}

// The online softmax's start: O zero, no maximum yet (-inf), no sum.
template <int MS, int ND>
AT_DEV void init_state(float (&acc)[MS][ND][4], float (&m)[MS][2], float (&l)[MS][2])
{
#pragma unroll
  for (int s = 0; s < MS; s++) {
#pragma unroll
    for (int j = 0; j < ND; j++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        acc[s][j][e] = 0.0f;
#pragma unroll
    for (int r = 0; r < 2; r++) {
      m[s][r] = at_neg_inf();
      l[s][r] = 0.0f;
    }
  }
}

// S = Q K^T for keys [row0, row0 + 8 NS) of the shared K tile sk: K rows are the
// columns of B (ldmatrix.x4 without .trans; lane l gives row l % 8 of matrix l / 8).
template <typename T, int MS, int NS, int DK, int HD, int SWZ>
AT_DEV void qk(float (&sc)[MS][NS][4], const unsigned int (&qf)[MS][DK][4], const T *sk,
               int row0, int lane)
{
  const int q = lane >> 3, qr = lane & 7;
  each_score(sc, [](float &x) { x = 0.0f; });
#pragma unroll
  for (int kk = 0; kk < DK; kk++)
#pragma unroll
    for (int j = 0; j < NS / 2; j++) {
      unsigned int bf[4]; // words 0-1: keys 16 j + 0-7, words 2-3: keys 16 j + 8-15
      at_ldmatrix_x4_packed(bf, sk + sidx<HD, SWZ>(row0 + j * 16 + qr + 8 * (q >> 1),
                                                   kk * 16 + 8 * (q & 1)));
#pragma unroll
      for (int s = 0; s < MS; s++) {
        mma(sc[s][2 * j], qf[s][kk], &bf[0], (const T *)0);
        mma(sc[s][2 * j + 1], qf[s][kk], &bf[2], (const T *)0);
      }
    }
}

// The online softmax of one tile of 8 NS keys starting at key k0: the scores become p =
// 2^(qa s - m) in place, m and l move on, acc is rescaled. limit[s][r]: the last key the
// row sees (a key past it is -inf); only an `edge` tile is masked (the others need no
// per-key test). Maxima over the raw scores, qa x - m one FFMA into exp2
// (at_softmax_fold); a negative scale qs flips the scores' signs first (a uniform branch).
template <int MS, int NS, int ND>
AT_DEV void softmax(float (&sc)[MS][NS][4], float (&acc)[MS][ND][4], float (&m)[MS][2],
                    float (&l)[MS][2], const int (&limit)[MS][2], int k0, int t4, bool edge,
                    float qs, float qa)
{
  if (qs < 0.0f)
    each_score(sc, [](float &x) { x = -x; });
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int r = 0; r < 2; r++) {
      float mx = at_neg_inf();
      if (edge) { // a key past the row's limit is -inf
#pragma unroll
        for (int j = 0; j < NS; j++)
#pragma unroll
          for (int c = 0; c < 2; c++) {
            const float x = k0 + 8 * j + 2 * t4 + c > limit[s][r] ? at_neg_inf()
                                                                  : sc[s][j][2 * r + c];
            sc[s][j][2 * r + c] = x;
            mx = at_fmaxf(mx, x);
          }
      } else { // (the tiles inside: no per-key test, a compare and select a key)
#pragma unroll
        for (int j = 0; j < NS; j++)
#pragma unroll
          for (int c = 0; c < 2; c++)
            mx = at_fmaxf(mx, sc[s][j][2 * r + c]);
      }
      mx = at_fmaxf(mx, at_shfl_xor(mx, 1));
      mx = at_fmaxf(mx, at_shfl_xor(mx, 2));
      const float mnew = at_fmaxf(m[s][r], mx * qa);
      // A row that has seen no key yet keeps -inf: subtract 0 so exp2 gives 0, not NaN.
      const float base = mnew == at_neg_inf() ? 0.0f : mnew;
      const float alpha = at_exp2f(m[s][r] - base);
      m[s][r] = mnew;
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < NS; j++)
#pragma unroll
        for (int c = 0; c < 2; c++) {
          const float p = at_exp2f(sc[s][j][2 * r + c] * qa - base);
          sc[s][j][2 * r + c] = p;
          sum += p;
        }
      l[s][r] = l[s][r] * alpha + sum;
      // (alpha is exactly 1 where the row's max did not move: past a long row's first
      // tiles most warps skip the multiplies, a uniform branch; acc * 1 is acc)
      if (at_any(alpha != 1.0f)) {
#pragma unroll
        for (int j = 0; j < ND; j++)
#pragma unroll
          for (int c = 0; c < 2; c++)
            acc[s][j][2 * r + c] *= alpha;
      }
    }
}

// O += P V for keys [row0, row0 + 8 NS) of the shared V tile sv: P's A fragment for keys
// 16 kk.. is S tiles 2 kk and 2 kk + 1; V's B fragments with ldmatrix.x4.trans.
template <typename T, int MS, int NS, int ND, int HD, int SWZ>
AT_DEV void pv(float (&acc)[MS][ND][4], const float (&sc)[MS][NS][4], const T *sv, int row0,
               int lane)
{
  const int q = lane >> 3, qr = lane & 7;
#pragma unroll
  for (int kk = 0; kk < NS / 2; kk++) {
    unsigned int pa[MS][4];
#pragma unroll
    for (int s = 0; s < MS; s++) {
      pa[s][0] = pack_f32<T>(sc[s][2 * kk][0], sc[s][2 * kk][1]);
      pa[s][1] = pack_f32<T>(sc[s][2 * kk][2], sc[s][2 * kk][3]);
      pa[s][2] = pack_f32<T>(sc[s][2 * kk + 1][0], sc[s][2 * kk + 1][1]);
      pa[s][3] = pack_f32<T>(sc[s][2 * kk + 1][2], sc[s][2 * kk + 1][3]);
    }
#pragma unroll
    for (int j = 0; j < ND / 2; j++) {
      unsigned int bf[4]; // words 0-1: columns 16 j + 0-7, words 2-3: 16 j + 8-15
      at_ldmatrix_x4_trans_packed(bf, sv + sidx<HD, SWZ>(row0 + kk * 16 + qr + 8 * (q & 1),
                                                         j * 16 + 8 * (q >> 1)));
#pragma unroll
      for (int s = 0; s < MS; s++) {
        mma(acc[s][2 * j], pa[s], &bf[0], (const T *)0);
        mma(acc[s][2 * j + 1], pa[s], &bf[2], (const T *)0);
      }
    }
  }
}

} // namespace at_attn_mma

#endif
