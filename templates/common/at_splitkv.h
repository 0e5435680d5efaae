// at_splitkv.h - split-KV decode's hand-over ("flash-decoding"), one copy for the decode
// templates (attn_decode.h on SIMT, attn_decode_mma.h on mma.sync, attn_decode_mfma.h on
// MFMA): the keys of one (batch, KV head) pair are cut into NS splits, one block each;
// every block writes its rows' partial (max m in the log2 domain, sum l, HD unnormalized
// accumulators) into the workspace, fences, and bumps the pair's counter; the block that
// sees NS - 1 is the last: it combines O = sum_s 2^(m_s - M) acc_s / sum_s 2^(m_s - M)
// l_s and LSE = (M + log2 L) ln 2, and sets the partials and the counter back to zero, so
// that the workspace is all zero when the kernel returns (the `workspace` pragma's
// contract: no memset between launches). No block waits for another: any residency is
// safe, on a GPU and on the host.
//
// The workspace (the templates' `workspace` pragma): one u32 counter per pair, padded to
// 16 bytes, then per (pair, split, row) the partial m, l, acc[HD] as f32.
//
// Learned from (our own code, no copy): Dao, Haziza, Massa, Sizov, "Flash-Decoding for
// long-context inference" (2023); the CUDA samples' threadFenceReduction (the last block
// to bump a counter reduces).
#ifndef AT_COMMON_H
#include "at_common.h"
#endif
#ifndef AT_SPLITKV_H
#define AT_SPLITKV_H

#include "at_fence.h"
#include "at_math.h"
#include "at_warp.h"

namespace at_splitkv {

// Which (batch b, KV head g) pair bg and which split this block is, its rows and its keys,
// for the decode templates' grid of B HKV NS blocks (block bg ns + split; ns read back from
// the grid, not trusted blind). rows: the group's rows as launched, from row0 (rows of Q
// and O): a variant is made for its problem's R; launched for a smaller group it still
// computes the right rows (the partials' stride follows the launch, as the workspace
// expression does), for a larger one the rows past R are left unwritten rather than
// written wrong. Keys [k_lo, k_hi): the split's chunk of whole tiles of bkv keys, ntiles
// of them (0: a split past the last key).
struct block {
  int ns, bg, split, b, g, rows, k_lo, k_hi, ntiles;
  long long row0;
};
AT_DEV block block_of(int B, int H, int HKV, int SQ, int SK, int R, int bkv)
{
  block k;
  k.ns = (int)at_grid_dim_x() / (B * HKV);
  const int bid = (int)at_block_idx_x(), gsz = H / HKV;
  k.bg = bid / k.ns, k.split = bid % k.ns;
  k.b = k.bg / HKV, k.g = k.bg % HKV;
  k.rows = gsz * SQ <= R ? gsz * SQ : R;
  k.row0 = ((long long)k.b * H + (long long)k.g * gsz) * SQ;
  const int tiles = (SK + bkv - 1) / bkv, per = (tiles + k.ns - 1) / k.ns;
  k.k_lo = k.split * per * bkv;
  k.k_hi = (k.split + 1) * per * bkv < SK ? (k.split + 1) * per * bkv : SK;
  k.ntiles = k.k_hi > k.k_lo ? (k.k_hi - k.k_lo + bkv - 1) / bkv : 0;
  return k;
}

// The partials of pair bg (of nbg) with ns splits of `rows` rows: split s's row r at
// ((s rows + r) (HD + 2)) floats from here.
AT_DEV float *partials(void *ws, int nbg, int bg, int ns, int rows, int hd)
{
  const long long cnt_bytes = ((long long)(nbg + 3) / 4) * 16;
  return (float *)((char *)ws + cnt_bytes) + (long long)bg * ns * rows * (hd + 2);
}

// Split `split`'s own partial rows: row r's m, l and accumulators at r (HD + 2) from here.
AT_DEV float *partial(void *ws, int nbg, int bg, int ns, int split, int rows, int hd)
{
  return partials(ws, nbg, bg, ns, rows, hd) + (long long)split * rows * (hd + 2);
}

// LSE of `rows` rows from their (m, l) (log2 domain): (m + log2 l) ln 2, -inf where l is 0
// (a row that saw no key). NT threads.
template <int NT>
AT_DEV void lse_rows(float *lse, int rows, const float *m, const float *l, int tid)
{
  for (int r = tid; r < rows; r += NT)
    lse[r] = l[r] > 0.0f ? (m[r] + at_log2f(l[r])) * AT_LN2 : at_neg_inf();
}

// After every thread of the block has written its share of this split's partial: count
// it, and in the block that counts last combine the ns partials into O (rows [0, rows)
// from o, HD elements a row) and LSE (from lse; NULL: none), then zero the partials and
// the counter. sM and sL: shared scratch of `rows` floats each (free to overwrite); flag:
// one more shared word apart from them, the last-block flag (in the caller's dynamic
// shared memory: a static one beside a 64 KiB ring would not fit CDNA's LDS, and costs a
// block a CU where the ring is 8 KiB). NT threads, all of them here.
template <typename T, int HD, int NT>
AT_DEV void finish(void *ws, int nbg, int bg, int ns, int rows, T *o, float *lse, float *sM,
                   float *sL, int *flag, int tid)
{
  unsigned int *const counter = (unsigned int *)ws + bg;
  constexpr int PW = HD + 2; // a partial: m, l, HD accumulators
  float *const part = partials(ws, nbg, bg, ns, rows, HD);
  at_threadfence(); // the partial is visible before the counter moves
  at_syncthreads();
  if (tid == 0)
    *flag = at_atomic_add_u32(counter, 1u) == (unsigned int)(ns - 1);
  at_syncthreads();
  if (!*flag)
    return;
  at_threadfence(); // every other split's partial is seen after its counter bump

  // The combine reads the other splits' partials (at_load_f32_coherent: past the SM's
  // L1), issued many at a time before any is used: a combine over NS splits waits about
  // NS / 32 round trips to L2 for M and L and NS / CH for the accumulators, not one a
  // split and a pass (NS reaches 132 at batch 1: that serial loop was several times the
  // whole KV read of a 4k-token cache).
  // Per row, a wave: its lanes take the splits lane, lane + W, ..., each keeping the
  // running (max m, sum l scaled to it) of its own, merged by shuffles:
  // M = max_s m_s, L = sum_s 2^(m_s - M) l_s. A split with m = -inf (no key) adds 0.
  auto merge = [](float &m, float &l, float m2, float l2) {
    const float mx = at_fmaxf(m, m2);
    if (mx != at_neg_inf())
      l = (m == at_neg_inf() ? 0.0f : l * at_exp2f(m - mx)) +
          (m2 == at_neg_inf() ? 0.0f : l2 * at_exp2f(m2 - mx));
    m = mx;
  };
  constexpr int W = AT_WAVE_SIZE;
  const int wave = tid / W, lane = tid % W;
  for (int r = wave; r < rows; r += NT / W) { // wave-uniform: every lane shuffles
    float mx = at_neg_inf(), l = 0.0f;
    for (int s = lane; s < ns; s += W) {
      const long long at = ((long long)s * rows + r) * PW;
      merge(mx, l, at_load_f32_coherent(part + at), at_load_f32_coherent(part + at + 1));
    }
#pragma unroll
    for (int off = W / 2; off > 0; off /= 2) {
      const float m2 = at_shfl_xor(mx, off), l2 = at_shfl_xor(l, off);
      merge(mx, l, m2, l2);
    }
    if (lane == 0)
      sM[r] = mx, sL[r] = l;
  }
  at_syncthreads();
  // Per output element, the splits' accumulators CH at a time: loads first, then the
  // zeroing stores (read for the last time) and the sum, in split order.
  constexpr int CH = 8;
  for (int e = tid; e < rows * HD; e += NT) {
    const int r = e / HD, c = e % HD;
    const float mx = sM[r], l = sL[r];
    float acc = 0.0f;
    for (int s0 = 0; s0 < ns; s0 += CH) {
      float ms[CH], a[CH];
#pragma unroll
      for (int j = 0; j < CH; j++) {
        const long long at = ((long long)(s0 + j) * rows + r) * PW;
        ms[j] = s0 + j < ns ? at_load_f32_coherent(part + at) : at_neg_inf();
        a[j] = s0 + j < ns ? at_load_f32_coherent(part + at + 2 + c) : 0.0f;
      }
#pragma unroll
      for (int j = 0; j < CH; j++) {
        if (s0 + j >= ns)
          continue;
        if (ms[j] != at_neg_inf())
          acc += at_exp2f(ms[j] - mx) * a[j];
        part[((long long)(s0 + j) * rows + r) * PW + 2 + c] = 0.0f;
      }
    }
    o[(long long)r * HD + c] = at_from_float<T>(l > 0.0f ? acc / l : 0.0f);
  }
  if (lse)
    lse_rows<NT>(lse, rows, sM, sL, tid);
  at_syncthreads(); // every m_s read above: now zero them and the counter
  for (int e = tid; e < ns * rows; e += NT)
    part[(long long)e * PW] = 0.0f, part[(long long)e * PW + 1] = 0.0f;
  if (tid == 0)
    *counter = 0u;
}

// The key warps' merge of a block whose WK warps (or waves) each took part of every
// tile's keys, after each wrote its rows' (m, l) to sM[k RP + row], sL[k RP + row] (k its
// key warp) and the merged O: per row, M = max_k m_k (into sM[row]) and L = sum_k 2^(m_k -
// M) l_k (into sL[row]). NT threads, all of them here (a barrier at the end).
template <int NT>
AT_DEV void merge_rows(float *sM, float *sL, int rp, int wk, int tid)
{
  for (int r = tid; r < rp; r += NT) {
    float mx = at_neg_inf(), sum = 0.0f;
    for (int k = 0; k < wk; k++)
      mx = at_fmaxf(mx, sM[k * rp + r]);
    for (int k = 0; k < wk; k++) {
      const float mk = sM[k * rp + r];
      sum += mk == at_neg_inf() ? 0.0f : sL[k * rp + r] * at_exp2f(mk - mx);
    }
    sM[r] = mx, sL[r] = sum;
  }
  at_syncthreads();
}

// A key warp's factor 2^(m - M) to its row's common max M over the wk key warps' maxima
// at sM[k rp + row] (0 for a warp that saw no key of the row).
AT_DEV float merge_factor(const float *sM, int rp, int wk, int row, float m)
{
  float mx = at_neg_inf();
  for (int k = 0; k < wk; k++)
    mx = at_fmaxf(mx, sM[k * rp + row]);
  return m == at_neg_inf() ? 0.0f : at_exp2f(m - mx);
}

// The block's `rows` rows from shared memory (sO: [rows][HD] unnormalized, sM and sL: the
// rows' (m, l)) out: with one split normalized into o (and lse, if not NULL); else as
// split `split`'s partial, then finish (which may combine; flag: its word). NT threads,
// all of them here.
template <typename T, int HD, int NT>
AT_DEV void store_rows(void *ws, int nbg, int bg, int ns, int split, int rows, T *o, float *lse,
                       const float *sO, float *sM, float *sL, int *flag, int tid)
{
  if (ns == 1) {
    for (int e = tid; e < rows * HD; e += NT) {
      const float sum = sL[e / HD];
      o[e] = at_from_float<T>(sum > 0.0f ? sO[e] / sum : 0.0f);
    }
    if (lse)
      lse_rows<NT>(lse, rows, sM, sL, tid);
    return;
  }
  float *const mine = partial(ws, nbg, bg, ns, split, rows, HD);
  for (int e = tid; e < rows * HD; e += NT)
    mine[(e / HD) * (HD + 2) + 2 + e % HD] = sO[e];
  for (int r = tid; r < rows; r += NT)
    mine[r * (HD + 2)] = sM[r], mine[r * (HD + 2) + 1] = sL[r];
  finish<T, HD, NT>(ws, nbg, bg, ns, rows, o, lse, sM, sL, flag, tid);
}

} // namespace at_splitkv

#endif
