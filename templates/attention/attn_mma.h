// attn_mma.h - attention forward on NVIDIA tensor cores (mma.sync m16n8k16, sm_80 and
// later; also what runs on Hopper until a wgmma template exists), FlashAttention-2's
// design, for f16 and bf16 with f32 accumulation, under the attention contract v2
// (tuner/ops/op_attn.h): grouped-query heads (query head h reads KV head h / (H / HKV)),
// a paged KV cache as a compiled-in variant (IS_PAGED: K and V are pools of 16-token
// pages [NPAGES][16][HKV][D] reached through the block table BT), the bottom-right causal
// mask, and the optional logsumexp output LSE.
//
// A block computes BQ query rows of one (batch, head) with WARPS warps; warp w owns the
// MS = BQ / (16 WARPS) row slices s * WARPS + w of 16 rows each. The warp's Q slices are
// loaded once from global memory straight into mma A fragments (packed 32-bit words,
// at_mma.h's layout) and stay in registers. K and V advance BKV keys at a time through a
// STAGES-deep ring of shared-memory tiles filled with 16-byte cp.async (commit/wait
// groups, one barrier per tile, as gemm_mma.h's mainloop), so that STAGES-1 tiles are in
// flight while one is used. S = Q K^T takes K's fragments with ldmatrix.x4 (K rows are
// the B operand's columns); O += P V takes V's with ldmatrix.x4.trans. The softmax is
// online and in registers: logits are scaled by scale * log2(e) so that only exp2 is
// needed (the scale folded into exp2's FFMA, maxima over the raw scores:
// at_softmax_fold), each row's maximum is reduced over the four lanes that hold it with two xor
// shuffles, the running output and sum are rescaled once per tile, and P is converted to
// T in registers where the S accumulators lie, which is exactly the A fragment of the
// P V product (no shared-memory round trip). The row sums stay per lane and are reduced
// once at the end. Causal: tiles past the block's last visible key are never loaded, and
// the mask is applied only to tiles that hold a key some row must not see (the last
// tile, the diagonal). Blocks of a head are issued last query tile first, so that the
// longest causal blocks start first.
//
// Shared tiles are [BKV][HD] rows, either padded to HD + 8 elements (SWZ = 0: the eight
// rows one ldmatrix phase reads start 16 bytes apart in the banks) or unpadded with the
// 16-byte chunks XOR-permuted by the row (SWZ = 1, as gemm_mma.h's SWZ; no padding, so
// more stages fit). Edges: keys past SK (and a tile's rows past it) are zero-filled, not
// loaded, and masked; rows past SQ compute on zero queries and store nothing; a row that
// sees no key (causal with SQ > SK) is 0 with LSE -inf. K and V bases not 16-byte aligned
// take an element-by-element copy.
//
// Head dims: HD % 16 == 0 and HD <= 128. At HD = 256 the query fragments (HD / 4 words)
// and the output accumulators (HD / 2 floats) of one 16-row slice alone take 192 of the
// 255 registers a thread has, so S and the addresses would spill: this template refuses
// it (require head_dim) and attn_simt serves it, until a variant keeps Q in shared memory
// and reloads it per tile (FlashAttention-2's default for large head dims).
//
// Learned from (our own code, not a copy): Dao, "FlashAttention-2: Faster Attention with
// Better Parallelism and Work Partitioning" (2023): Algorithm 1 (one rescale per tile,
// the division by the row sum at the end, the logsumexp), the split of the query block
// across warps so that no warp needs another's partial results, and P kept in registers
// as the second GEMM's A operand; the PTX ISA 8.x for the m16n8k16, ldmatrix and cp.async
// semantics (templates/common/at_mma.h, at_copy.h); vLLM's paged KV cache layout for
// the block table.
#include "at_math.h"

#pragma autotune kernel attn_mma
#pragma autotune problem B, H, HKV, SQ, SK, D, CAUSAL, PAGED
#pragma autotune dtype T
#pragma autotune param BQ = 64, 128        // query rows per block
#pragma autotune param BKV = 32, 64, 128   // keys per shared-memory tile
#pragma autotune param WARPS = 4, 8
#pragma autotune param STAGES = 2, 3       // K/V tiles in the cp.async ring
#pragma autotune param SWZ = 0, 1          // 0: padded rows, 1: XOR-swizzled chunks
// The head dim, the mask and the KV layout are compiled in.
#pragma autotune derive HD = D
#pragma autotune derive IS_CAUSAL = CAUSAL != 0
#pragma autotune derive IS_PAGED = PAGED != 0
#pragma autotune derive MS = BQ / (WARPS * 16)
#pragma autotune derive ROW = SWZ ? HD : HD + 8
// mma.sync exists on NVIDIA sm_80+ and on the host emulating it.
#pragma autotune require nvidia: device.is_nvidia && device.arch_major >= 8 || device.is_host
// See the head-dim note above: 256 is refused, not silently wrong.
#pragma autotune require head_dim: HD % 16 == 0 && HD >= 16 && HD <= 128
#pragma autotune require gqa: HKV >= 1 && H % HKV == 0
#pragma autotune require slices: BQ % (WARPS * 16) == 0
// The swizzle permutes chunks within groups of eight: whole groups, or a power of two.
#pragma autotune require swizzle_fits: SWZ == 0 || HD % 64 == 0 || HD == 32 || HD == 16
// Live across the key loop per thread, per slice: Q (HD / 4 words), O (HD / 2 floats),
// S / P (BKV / 2 floats), plus about 60 for addresses, m, l and ldmatrix fragments.
// (Checked with NVRTC for sm_80 and sm_90: see tests/test_attn_mma.c.)
#pragma autotune require registers: MS * (3 * HD / 4 + BKV / 2) <= 192
// The unrolled copy of a tile keeps one address per 16-byte vector a thread moves: more
// than 8 per tensor and the 4-warp blocks spill (NVRTC, sm_90, BKV 128 at HD 128).
#pragma autotune require copy_regs: BKV * HD / 8 <= 8 * WARPS * 32
// No block of more than twice the query rows, no tile of more than twice the keys, no
// more stages than tiles.
#pragma autotune require fits_q: BQ < 2 * max(SQ, 64)
#pragma autotune require fits_kv: BKV < 2 * max(SK, 32)
#pragma autotune require stages_useful: STAGES <= max(2, cdiv(SK, BKV))
#pragma autotune threads WARPS * 32
#pragma autotune grid B * H * cdiv(SQ, BQ)
#pragma autotune shared STAGES * 2 * BKV * ROW * sizeof_f16

namespace attn_mma_detail {

constexpr int PAGE = 16;   // tokens per KV-cache page (the contract's ATTN_PAGE)
constexpr int VEC = 8;     // elements per 16-byte cp.async

// Element (row, col) of a shared [BKV][HD] tile: padded rows of HD + 8 elements, or
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

// Keys [key0, key0 + BKV) of K and V into the shared tiles sk and sv, NT threads. A tile
// wholly inside SK with 16-byte aligned bases is all cp.async, unrolled; any other takes
// a rolled loop that zero-fills the rows past SK (and copies element by element when the
// bases are not aligned). The choice is the same for every thread of the block.
template <typename T, int BKV, int HD, int NT, int SWZ, int PAGED>
AT_DEV void load_kv(T *sk, T *sv, const T *K, const T *V, const int *bt, long long head_off,
                    int hkv, int g, int key0, int SK, bool vec, int tid)
{
  constexpr int VPR = HD / VEC, TOTAL = BKV * VPR, ITERS = (TOTAL + NT - 1) / NT;
  if (vec && key0 + BKV <= SK) {
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
    if (key < SK && vec) {
      const long long off = kv_offset<HD, PAGED>(bt, head_off, hkv, g, key) + c;
      at_cp_async_16(dk, K + off);
      at_cp_async_16(dv, V + off);
      continue;
    }
    const long long off = key < SK ? kv_offset<HD, PAGED>(bt, head_off, hkv, g, key) + c : 0;
#pragma unroll
    for (int e = 0; e < VEC; e++) {
      T xk, xv;
      xk.bits = 0;
      xv.bits = 0;
      if (key < SK) {
        xk = K[off + e];
        xv = V[off + e];
      }
      dk[e] = xk;
      dv[e] = xv;
    }
  }
}

} // namespace attn_mma_detail

template <typename T, int BQ, int BKV, int WARPS, int STAGES, int SWZ, int HD, int IS_CAUSAL,
          int IS_PAGED>
__device__ void attn_mma(const T *Q, const T *K, const T *V, T *O, float *LSE, const int *BT,
                         int B, int H, int HKV, int SQ, int SK, float scale)
{
  using namespace attn_mma_detail;
  static_assert(sizeof(T) == 2, "attn_mma: f16 and bf16 only (mma.sync has no f32 inputs)");
  static_assert(STAGES >= 2, "attn_mma: the ring needs two stages");
  static_assert(HD % 16 == 0 && BKV % 16 == 0, "attn_mma: whole m16n8k16 steps");
  static_assert(BQ % (WARPS * 16) == 0, "attn_mma: whole 16-row slices per warp");
  constexpr int NT = WARPS * 32, MS = BQ / (WARPS * 16);
  constexpr int DK = HD / 16;  // k-steps of Q K^T
  constexpr int NS = BKV / 8;  // n8 tiles of S
  constexpr int ND = HD / 8;   // n8 tiles of O
  constexpr int TILE = BKV * (SWZ ? HD : HD + 8);
  (void)B;

  AT_DYNAMIC_SHARED(T, smem); // stage s: K at 2 s TILE, V at (2 s + 1) TILE

  const int nqt = (SQ + BQ - 1) / BQ;
  const int bid = (int)at_block_idx_x(), bh = bid / nqt;
  const int q0 = (nqt - 1 - bid % nqt) * BQ; // last query tile first
  const int b = bh / H, h = bh % H, g = h / (H / HKV);
  const long long q_off = (long long)bh * SQ * HD;
  const long long kv_off = ((long long)b * HKV + g) * SK * HD;
  const int *const bt = IS_PAGED ? BT + (long long)b * ((SK + PAGE - 1) / PAGE) : BT;
  const int tid = (int)at_thread_idx_x(), lane = tid & 31, warp = tid >> 5;
  const int gq = lane >> 2, t4 = lane & 3; // the fragment's row group and column pair
  const bool vec = ((unsigned long long)K | (unsigned long long)V) % 16 == 0;

  // This lane's query rows: slice s, half r (rows gq and gq + 8 of the slice).
  int rows[MS][2];
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int r = 0; r < 2; r++)
      rows[s][r] = q0 + (s * WARPS + warp) * 16 + gq + 8 * r;

  // Q fragments: word w of k-step kk is row gq + 8 (w % 2), columns 16 kk + 2 t4 + 8 (w / 2)
  // and the next (at_mma.h's A layout).
  unsigned int qf[MS][DK][4];
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int kk = 0; kk < DK; kk++)
#pragma unroll
      for (int w = 0; w < 4; w++) {
        const int row = rows[s][w & 1], col = kk * 16 + 2 * t4 + 8 * (w >> 1);
        const T *p = Q + q_off + (long long)row * HD + col;
        qf[s][kk][w] = row < SQ ? pack(p[0].bits, p[1].bits) : 0u;
      }

  const float qs = (scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD)) * AT_LOG2E;
  const float qa = at_softmax_fold(qs); // |qs|: the scale in exp2's FFMA (at_math.h)
  float acc[MS][ND][4], m[MS][2], l[MS][2];
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

  // Causal: the block's last row sees keys up to q0 + BQ - 1 + SK - SQ.
  int kv_end = SK;
  if (IS_CAUSAL) {
    const int last = q0 + BQ + SK - SQ;
    kv_end = last < kv_end ? last : kv_end;
  }
  const int ntiles = kv_end > 0 ? (kv_end + BKV - 1) / BKV : 0;
  auto load_stage = [&](int stage, int kt) {
    T *sk = smem + 2 * stage * TILE;
    load_kv<T, BKV, HD, NT, SWZ, IS_PAGED>(sk, sk + TILE, K, V, bt, kv_off, HKV, g, kt * BKV,
                                           SK, vec, tid);
  };

  // ldmatrix.x4: lane l gives row l % 8 of matrix q = l / 8.
  const int q = lane >> 3, qr = lane & 7;

#pragma unroll
  for (int st = 0; st < STAGES - 1; st++) {
    if (st < ntiles)
      load_stage(st, st);
    at_cp_async_commit();
  }
  for (int kt = 0; kt < ntiles; kt++) {
    // Tile kt is here (this thread's copies); the barrier makes every thread's visible
    // and says everyone is done with tile kt - 1, whose stage is refilled now.
    at_cp_async_wait<STAGES - 2>();
    at_syncthreads();
    if (kt + STAGES - 1 < ntiles)
      load_stage((kt + STAGES - 1) % STAGES, kt + STAGES - 1);
    at_cp_async_commit();
    const T *const sk = smem + 2 * (kt % STAGES) * TILE, *const sv = sk + TILE;
    const int k0 = kt * BKV;

    // ---- S = Q K^T: K rows are the columns of B (ldmatrix without .trans) ----
    float sc[MS][NS][4];
    each_score(sc, [](float &x) { x = 0.0f; });
#pragma unroll
    for (int kk = 0; kk < DK; kk++)
#pragma unroll
      for (int j = 0; j < NS / 2; j++) {
        unsigned int bf[4]; // words 0-1: keys 16 j + 0-7, words 2-3: keys 16 j + 8-15
        at_ldmatrix_x4_packed(bf, sk + sidx<HD, SWZ>(j * 16 + qr + 8 * (q >> 1),
                                                     kk * 16 + 8 * (q & 1)));
#pragma unroll
        for (int s = 0; s < MS; s++) {
          mma(sc[s][2 * j], qf[s][kk], &bf[0], (const T *)0);
          mma(sc[s][2 * j + 1], qf[s][kk], &bf[2], (const T *)0);
        }
      }

    // ---- online softmax: S[e] of n8 tile j is (row gq + 8 (e / 2), key 8 j + 2 t4 + e % 2) ----
    // Only a tile that reaches past SK or past the first row's last key needs the mask.
    // Maxima over the raw scores, qa x - m one FFMA into exp2 (at_softmax_fold); a
    // negative scale flips the scores' signs first, a uniform branch.
    const bool edge = k0 + BKV > SK || (IS_CAUSAL && k0 + BKV - 1 > q0 + SK - SQ);
    if (qs < 0.0f)
      each_score(sc, [](float &x) { x = -x; });
#pragma unroll
    for (int s = 0; s < MS; s++)
#pragma unroll
      for (int r = 0; r < 2; r++) {
        const int limit = IS_CAUSAL && rows[s][r] + SK - SQ < SK - 1 ? rows[s][r] + SK - SQ
                                                                      : SK - 1;
        float mx = at_neg_inf();
        if (edge) { // a key past SK or the causal limit is -inf
#pragma unroll
          for (int j = 0; j < NS; j++)
#pragma unroll
            for (int c = 0; c < 2; c++) {
              const float x = k0 + 8 * j + 2 * t4 + c > limit ? at_neg_inf()
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

    // ---- O += P V: P's A fragment for keys 16 kk.. is S tiles 2 kk and 2 kk + 1 ----
#pragma unroll
    for (int kk = 0; kk < BKV / 16; kk++) {
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
        at_ldmatrix_x4_trans_packed(bf, sv + sidx<HD, SWZ>(kk * 16 + qr + 8 * (q & 1),
                                                           j * 16 + 8 * (q >> 1)));
#pragma unroll
        for (int s = 0; s < MS; s++) {
          mma(acc[s][2 * j], pa[s], &bf[0], (const T *)0);
          mma(acc[s][2 * j + 1], pa[s], &bf[2], (const T *)0);
        }
      }
    }
  }
  at_cp_async_wait_all();

  // ---- epilogue: the row sums over the row's four lanes, O / l, LSE ----
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int r = 0; r < 2; r++) {
      float sum = l[s][r];
      sum += at_shfl_xor(sum, 1);
      sum += at_shfl_xor(sum, 2);
      const int row = rows[s][r];
      if (row >= SQ)
        continue;
      const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
      T *const o = O + q_off + (long long)row * HD + 2 * t4;
#pragma unroll
      for (int j = 0; j < ND; j++) {
        o[8 * j] = at_from_float<T>(acc[s][j][2 * r] * inv);
        o[8 * j + 1] = at_from_float<T>(acc[s][j][2 * r + 1] * inv);
      }
      if (LSE && t4 == 0)
        LSE[(long long)bh * SQ + row] =
            sum > 0.0f ? (m[s][r] + at_log2f(sum)) * AT_LN2 : at_neg_inf();
    }
}
