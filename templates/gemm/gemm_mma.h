// gemm_mma.h - the NVIDIA tensor-core GEMM (sm_80 and later): C = alpha * op(A) * op(B) +
// beta * C with f16 or bf16 inputs and f32 accumulation, on mma.sync m16n8k16, for every
// layout (TA, TB) and every M, N, K >= 1 (tuner/ops/op_gemm.h is the contract). A block
// computes a BM x BN tile of C with WM x WN warps, each warp a (BM/WM) x (BN/WN) tile of
// m16n8 accumulators. K advances BK at a time through a STAGES-deep ring of shared-memory
// buffers filled by cp.async (commit/wait groups, one barrier per k-tile), so that
// STAGES-1 tiles are in flight while one is multiplied. Each operand sits in shared
// memory the way it lies in global memory (rows contiguous in K for 'N' A and 'T' B,
// contiguous in M or N otherwise), so global loads are always vectors of VEC elements,
// and fragments come out with ldmatrix.x4, plain or .trans as the layout needs. With
// SWZ = 1 the 16-byte chunks of each shared row are XOR-permuted by the row so that the
// eight rows one ldmatrix phase reads fall in eight different bank groups. Blocks are
// rasterized in groups of GROUP block-rows so that neighbouring blocks share A and B in
// L2. Edges: loads outside the matrix (or unaligned, or with a leading dimension that is
// not a multiple of VEC) go element by element and zero-fill, stores are guarded; beta
// == 0 never reads C. Split-K is not implemented (a later param; the layer has the f32
// atomics it needs).
//
// Only f16 and bf16 are in scope: mma.sync has no f32 x f32 shape. The constraint
// language has no dtype constant, so the space cannot say so; the tuner must not offer
// f32 to this template (an f32 variant stops at the static_assert below).
//
// Learned from (our own code, not a copy): CUTLASS's sm80 multistage mainloop
// (cutlass/gemm/threadblock/mma_multistage.h: the cp.async ring and its wait/commit
// discipline) and its XOR-swizzled shared layouts for ldmatrix (cute/swizzle.hpp,
// Swizzle<3,3,3>); Triton's matmul tutorial for the grouped block ordering; the PTX ISA
// 8.x for the m16n8k16 and ldmatrix fragment layouts (templates/common/at_mma.h).
#include "at_common.h"
#include "at_cp_ring.h"

#pragma autotune kernel gemm_mma
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
// The layout is compiled in. Without a problem every dim is 4096: that reads as 'N'.
#pragma autotune derive A_T = TA == 1
#pragma autotune derive B_T = TB == 1
#pragma autotune param BM = 16, 32, 64, 128, 256
#pragma autotune param BN = 32, 64, 128, 256
#pragma autotune param BK = 16, 32, 64
#pragma autotune param WM = 1, 2, 4
#pragma autotune param WN = 1, 2, 4, 8
#pragma autotune param STAGES = 2, 3, 4, 5
#pragma autotune param VEC = 2, 4, 8
#pragma autotune param SWZ = 0, 1
#pragma autotune param GROUP = 1, 8
#pragma autotune derive WARPS = WM * WN
#pragma autotune derive WTM = BM / WM
#pragma autotune derive WTN = BN / WN
// A warp tile is whole m16 x n16 steps (B comes as two n8 tiles per ldmatrix.x4).
#pragma autotune require warp_tile_m: BM % (WM * 16) == 0
#pragma autotune require warp_tile_n: BN % (WN * 16) == 0
#pragma autotune require warps: WARPS >= 2 && WARPS <= 8
// At most 128 f32 accumulators per thread (a 64 x 64 warp tile): more spills.
#pragma autotune require accumulators: WTM * WTN <= 4096
// Below 16 x 32 a warp spends more on ldmatrix and address math than on mma.
#pragma autotune require warp_tile_min: WTM * WTN >= 512
// Warp tiles within 4:1 either way: a longer one reloads the short side's fragments.
#pragma autotune require warp_aspect: WTM <= 4 * WTN && WTN <= 4 * WTM
// What stays live across the k-loop besides the accumulators: addresses of the copies
// (one per vector a thread moves per k-tile) and of the fragments (more with BK = 64).
// Beyond these the compiler spills (measured with NVRTC for sm_90; fragments are packed
// 32-bit words straight from ldmatrix to mma.sync, at_mma.h's *_packed API).
#pragma autotune require copy_regs: (BM + BN) * BK / VEC <= 16 * WARPS * 32
#pragma autotune require fragment_regs: WTM * WTN < 4096 || BK <= 32
// A block fits the register file: accumulators plus about 64 registers per thread.
#pragma autotune require registers: device.regs_per_cu == 0 || \
  WARPS * 32 * (WTM * WTN / 32 + 64) <= device.regs_per_cu
// Narrower vectors only when they are the widest that an operand's smallest leading
// dimension allows (lda >= M or K, ldb >= K or N): a wider one would load that operand
// element by element. (Written out rather than derived: a derived value is part of the
// config, and a variant's identity must not depend on M, N or K.)
#pragma autotune require vec_useful: VEC == 8 || \
  (TA == 1 ? M : K) % VEC == 0 && (TA == 1 ? M : K) % (2 * VEC) != 0 || \
  (TB == 1 ? K : N) % VEC == 0 && (TB == 1 ? K : N) % (2 * VEC) != 0
// The problem: no tile more than twice what the problem has, no more stages than
// k-tiles, no grouping without several block-rows to group.
#pragma autotune require fits_m: BM < 2 * max(M, 16)
#pragma autotune require fits_n: BN < 2 * max(N, 32)
#pragma autotune require fits_k: BK < 2 * max(K, 16)
#pragma autotune require stages_useful: STAGES <= max(2, cdiv(K, BK))
#pragma autotune require group_useful: GROUP == 1 || cdiv(M, BM) > GROUP
#pragma autotune threads WARPS * 32
#pragma autotune grid cdiv(M, BM) * cdiv(N, BN)
#pragma autotune shared STAGES * (BM + BN) * BK * sizeof_f16

namespace gemm_mma_detail {

// Element (row, col) of a shared tile of COLS-element rows. With SWZ the 16-byte chunk
// index is XORed with bits of the row: eight consecutive rows at one logical chunk land
// in eight distinct 16-byte bank groups (rows of fewer than 8 chunks share a 128-byte
// line, so the row is first divided by how many share it). Chunks move whole, so a
// vector of up to 8 elements stays contiguous.
template <int COLS, int SWZ> AT_DEV int sidx(int row, int col)
{
  constexpr int CH = COLS / 8, SHARE = CH >= 8 ? 1 : 8 / CH;
  int chunk = col >> 3;
  if (SWZ)
    chunk ^= (row & 7) / SHARE;
  return row * COLS + chunk * 8 + (col & 7);
}

template <int VEC> AT_DEV void cp_async_vec(void *dst, const void *src)
{
  if (VEC == 8)
    at_cp_async_16(dst, src);
  else if (VEC == 4)
    at_cp_async_8(dst, src);
  else
    at_cp_async_4(dst, src);
}

// Copy the ROWS x COLS tile whose element (r, c) is g[(row0 + r) * ld + col0 + c] into
// shared s, NT threads, VEC elements each per step. A tile wholly inside the matrix
// (row < row_lim, col < col_lim) with vectors allowed (vec_ok: the base and ld are
// aligned for VEC elements) is all cp.async, unrolled; any other (the matrix's edge, an
// unaligned operand) takes a rolled loop that copies what is aligned and inside by
// cp.async and the rest element by element, zero outside the matrix. The choice is the
// same for every thread of the block.
template <typename T, int ROWS, int COLS, int VEC, int NT, int SWZ>
AT_DEV void load_tile(T *s, const T *g, int ld, int row0, int col0, int row_lim, int col_lim,
                      bool vec_ok, int tid)
{
  constexpr int VPR = COLS / VEC, TOTAL = ROWS * VPR, ITERS = (TOTAL + NT - 1) / NT;
  if (vec_ok && row0 + ROWS <= row_lim && col0 + COLS <= col_lim) {
#pragma unroll
    for (int it = 0; it < ITERS; it++) {
      const int v = tid + it * NT;
      if (TOTAL % NT != 0 && v >= TOTAL)
        break;
      const int r = v / VPR, c = (v % VPR) * VEC;
      cp_async_vec<VEC>(s + sidx<COLS, SWZ>(r, c), g + (long long)(row0 + r) * ld + col0 + c);
    }
    return;
  }
#pragma unroll 1
  for (int v = tid; v < TOTAL; v += NT) {
    const int r = v / VPR, c = (v % VPR) * VEC;
    const int gr = row0 + r, gc = col0 + c;
    T *dst = s + sidx<COLS, SWZ>(r, c);
    const T *src = g + (long long)gr * ld + gc;
    if (vec_ok && gr < row_lim && gc + VEC <= col_lim) {
      cp_async_vec<VEC>(dst, src);
      continue;
    }
#pragma unroll
    for (int e = 0; e < VEC; e++) {
      T x;
      x.bits = 0;
      if (gr < row_lim && gc + e < col_lim)
        x = src[e];
      dst[e] = x;
    }
  }
}

// d += a * b on packed fragments (at_mma.h); the last argument only picks the type.
AT_DEV void mma(float d[4], const unsigned int a[4], const unsigned int b[2], const at_half *)
{
  at_mma_m16n8k16_f32_f16_packed(d, a, b, d);
}
AT_DEV void mma(float d[4], const unsigned int a[4], const unsigned int b[2],
                const at_bfloat16 *)
{
  at_mma_m16n8k16_f32_bf16_packed(d, a, b, d);
}

template <int VEC> AT_DEV bool vec_ok(const void *p, int ld)
{
  return ld % VEC == 0 && (unsigned long long)p % (2 * VEC) == 0;
}

} // namespace gemm_mma_detail

template <typename T, int A_T, int B_T, int BM, int BN, int BK, int WM, int WN, int STAGES,
          int VEC, int SWZ, int GROUP>
__device__ void gemm_mma(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                         int ldc, float alpha, float beta)
{
  using namespace gemm_mma_detail;
  static_assert(sizeof(T) == 2, "gemm_mma: f16 and bf16 only (mma.sync has no f32 inputs)");
  static_assert(STAGES >= 2, "gemm_mma: the ring needs two stages");
  constexpr int NT = WM * WN * 32;
  constexpr int WTM = BM / WM, WTN = BN / WN, MT = WTM / 16, NT8 = WTN / 8;
  constexpr int A_ELEMS = BM * BK, B_ELEMS = BK * BN;
  // Shared row lengths: A as [BM][BK] ('N') or [BK][BM] ('T'); B as [BK][BN] or [BN][BK].
  constexpr int A_COLS = A_T ? BM : BK, B_COLS = B_T ? BK : BN;

  AT_DYNAMIC_SHARED(T, smem);
  T *const sA = smem;
  T *const sB = smem + STAGES * A_ELEMS;

  // Grouped rasterization: GROUP block-rows are walked column by column.
  const int grid_m = (M + BM - 1) / BM, grid_n = (N + BN - 1) / BN;
  const int pid = (int)at_block_idx_x();
  const int width = GROUP * grid_n, first_m = pid / width * GROUP;
  const int group_m = grid_m - first_m < GROUP ? grid_m - first_m : GROUP;
  const int bm0 = (first_m + pid % width % group_m) * BM;
  const int bn0 = (pid % width / group_m) * BN;

  const int tid = (int)at_thread_idx_x(), lane = tid & 31, warp = tid >> 5;
  const int wm0 = (warp % WM) * WTM, wn0 = (warp / WM) * WTN;
  const bool a_vec = vec_ok<VEC>(A, lda), b_vec = vec_ok<VEC>(B, ldb);
  const int KT = (K + BK - 1) / BK;

  // ---- global -> shared, one k-tile into one stage ----
  auto load_stage = [&](int stage, int kt) {
    const int k0 = kt * BK;
    T *a = sA + stage * A_ELEMS, *b = sB + stage * B_ELEMS;
    if (A_T)
      load_tile<T, BK, BM, VEC, NT, SWZ>(a, A, lda, k0, bm0, K, M, a_vec, tid);
    else
      load_tile<T, BM, BK, VEC, NT, SWZ>(a, A, lda, bm0, k0, M, K, a_vec, tid);
    if (B_T)
      load_tile<T, BN, BK, VEC, NT, SWZ>(b, B, ldb, bn0, k0, N, K, b_vec, tid);
    else
      load_tile<T, BK, BN, VEC, NT, SWZ>(b, B, ldb, k0, bn0, K, N, b_vec, tid);
  };

  float acc[MT][NT8][4];
#pragma unroll
  for (int i = 0; i < MT; i++)
#pragma unroll
    for (int j = 0; j < NT8; j++)
#pragma unroll
      for (int e = 0; e < 4; e++)
        acc[i][j][e] = 0.0f;

  // ldmatrix.x4: lane l gives row l % 8 of matrix q = l / 8.
  const int q = lane >> 3, qr = lane & 7;

  // ---- the ring (at_cp_ring.h): STAGES - 1 k-tiles in flight while one is multiplied ----
  at_cp_ring<STAGES>(KT, load_stage, [&](int stage, int) {
    const T *a = sA + stage * A_ELEMS, *b = sB + stage * B_ELEMS;
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
      unsigned int af[MT][4]; // packed: register q of ldmatrix.x4 = matrix q
#pragma unroll
      for (int i = 0; i < MT; i++) {
        if (A_T) // matrices q: (k 0-7 | 8-15) x (m 0-7 | 8-15), transposed
          at_ldmatrix_x4_trans_packed(af[i], a + sidx<A_COLS, SWZ>(kk + qr + 8 * (q >> 1),
                                                                   wm0 + i * 16 + 8 * (q & 1)));
        else // lanes 0-15: rows m, k 0-7; lanes 16-31: the same rows, k 8-15
          at_ldmatrix_x4_packed(af[i], a + sidx<A_COLS, SWZ>(wm0 + i * 16 + (lane & 15),
                                                             kk + 8 * (lane >> 4)));
      }
      // B two n8 tiles at a time, each used at once: fewer fragments live.
#pragma unroll
      for (int j = 0; j < NT8 / 2; j++) {
        unsigned int bf[4]; // words 0-1: n8 tile 2j, words 2-3: tile 2j+1
        if (B_T) // rows n: (n 0-7, k 0-7), (n 0-7, k 8-15), then n 8-15
          at_ldmatrix_x4_packed(bf, b + sidx<B_COLS, SWZ>(wn0 + j * 16 + qr + 8 * (q >> 1),
                                                          kk + 8 * (q & 1)));
        else // rows k: (k 0-7, n 0-7), (k 8-15, n 0-7), then n 8-15, transposed
          at_ldmatrix_x4_trans_packed(bf, b + sidx<B_COLS, SWZ>(kk + qr + 8 * (q & 1),
                                                                wn0 + j * 16 + 8 * (q >> 1)));
#pragma unroll
        for (int i = 0; i < MT; i++) {
          mma(acc[i][2 * j], af[i], &bf[0], (const T *)0);
          mma(acc[i][2 * j + 1], af[i], &bf[2], (const T *)0);
        }
      }
    }
  });

  // ---- epilogue: accumulator c[e] of an m16n8 tile is (g + 8 * (e / 2), 2t + e % 2) ----
  const int g = lane >> 2, t4 = lane & 3;
#pragma unroll
  for (int i = 0; i < MT; i++)
#pragma unroll
    for (int j = 0; j < NT8; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int row = bm0 + wm0 + i * 16 + g + 8 * (e >> 1);
        const int col = bn0 + wn0 + j * 8 + 2 * t4 + (e & 1);
        if (row < M && col < N) {
          T *p = C + (long long)row * ldc + col;
          float v = alpha * acc[i][j][e];
          if (beta != 0.0f)
            v += beta * at_to_float(*p);
          *p = at_from_float<T>(v);
        }
      }
}
