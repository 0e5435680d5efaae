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
#include "at_attn_mma.h" // the tile layout, its fill, Q K^T, the softmax, P V
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

template <typename T, int BQ, int BKV, int WARPS, int STAGES, int SWZ, int HD, int IS_CAUSAL,
          int IS_PAGED>
__device__ void attn_mma(const T *Q, const T *K, const T *V, T *O, float *LSE, const int *BT,
                         int B, int H, int HKV, int SQ, int SK, float scale)
{
  using namespace at_attn_mma;
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
  // The last key each row sees (causal: bottom right).
  int limit[MS][2];
#pragma unroll
  for (int s = 0; s < MS; s++)
#pragma unroll
    for (int r = 0; r < 2; r++)
      limit[s][r] = IS_CAUSAL && rows[s][r] + SK - SQ < SK - 1 ? rows[s][r] + SK - SQ : SK - 1;

  // Q fragments (at_mma.h's A layout), zero past SQ.
  unsigned int qf[MS][DK][4];
  load_q<T, MS, DK, HD>(qf, Q + q_off, rows, SQ, t4);

  const float qs = (scale != 0.0f ? scale : 1.0f / at_sqrtf((float)HD)) * AT_LOG2E;
  const float qa = at_softmax_fold(qs); // |qs|: the scale in exp2's FFMA (at_math.h)
  float acc[MS][ND][4], m[MS][2], l[MS][2];
  init_state(acc, m, l);

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

  at_cp_ring<STAGES>(ntiles, load_stage, [&](int stage, int kt) {
    const T *const sk = smem + 2 * stage * TILE, *const sv = sk + TILE;
    const int k0 = kt * BKV;

    // ---- S = Q K^T, the online softmax, O += P V (at_attn_mma.h) ----
    float sc[MS][NS][4];
    qk<T, MS, NS, DK, HD, SWZ>(sc, qf, sk, 0, lane);
    // Only a tile that reaches past SK or past the first row's last key needs the mask.
    const bool edge = k0 + BKV > SK || (IS_CAUSAL && k0 + BKV - 1 > q0 + SK - SQ);
    softmax<MS, NS, ND>(sc, acc, m, l, limit, k0, t4, edge, qs, qa);
    pv<T, MS, NS, ND, HD, SWZ>(acc, sc, sv, 0, lane);
  });

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
