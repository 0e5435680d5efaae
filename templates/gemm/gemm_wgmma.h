// gemm_wgmma.h - the NVIDIA Hopper GEMM (sm_90a): C = alpha * op(A) * op(B) + beta * C
// with f16 or bf16 inputs and f32 accumulation, on the warpgroup instruction
// wgmma.mma_async m64nNk16 (templates/common/at_wgmma.h), for every layout (TA, TB) and
// every M, N, K >= 1 (tuner/ops/op_gemm.h is the contract).
//
// A block of WGS warpgroups (128 threads each) computes a BM x BN tile of C; warpgroup w
// owns rows w * BM / WGS .. of it, as MT = BM / (64 * WGS) wgmma m64 tiles of the whole
// width BN (the instruction's N: 64, 128 or 256). K advances BK at a time through a
// STAGES-deep ring of shared-memory stages filled by cp.async; the tensor cores read the
// operands straight from shared memory through matrix descriptors, so no fragment passes
// through registers. Each operand stays in shared memory the way it lies in global memory:
// a row-major A ('N') and a transposed B ('T') are K-major (rows of BK elements, the
// 64B or 128B swizzle that BK * 2 bytes fills); a transposed A and a row-major B are
// MN-major (the instruction's imm-trans-a/b; 128B-swizzled atoms of 8 k-rows x 64 M or N
// elements). Global loads are 16-byte cp.async into those swizzled places; edges,
// unaligned operands and leading dimensions that are not multiples of 8 go element by
// element with zero fill. WAIT is how many wgmma groups stay in flight across k-tiles
// (wgmma.wait_group WAIT): with 1 the next k-tile's instructions are issued while the
// previous ones finish, and the stage refilled is the one read two k-tiles back. Blocks
// are rasterized in groups of GROUP block-rows for L2 reuse. Stores are guarded; beta ==
// 0 never reads C.
//
// `arch_specific`: wgmma exists only on sm_90a (no forward compatibility), so the tuner
// compiles these variants for sm_90a on an sm_90 device, and a program that includes a
// tuned header with them must build with -arch=sm_90a (or
// -gencode arch=compute_90a,code=sm_90a); any other CUDA target stops at the
// static_assert below with that advice.
//
// NOT YET RUN ON A GPU: compiled for sm_90a and emulated on the host (with the wgmma
// groups performed at wait_group, so a missing wait or barrier shows there), but nobody
// has run it on an H100. The MN-major layouts (the TN/NN/TT cases) follow the reading of
// the PTX ISA that docs/wgmma.md describes, which only a GPU can confirm.
//
// Learned from (our own code, not a copy): the PTX ISA 8.x, 9.7.15 (wgmma, descriptors,
// canonical layouts); CUTLASS's sm90 cp.async + GMMA mainloop for the order of
// cp.async wait, proxy fence, barrier, wgmma.fence, commit and wait_group, and its
// descriptor advance by the k offset inside a swizzle atom.
#include "at_wgmma.h"

#pragma autotune kernel gemm_wgmma
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune arch_specific
#pragma autotune derive A_T = TA == 1
#pragma autotune derive B_T = TB == 1
#pragma autotune param BM = 64, 128, 256
#pragma autotune param BN = 64, 128, 256
#pragma autotune param BK = 32, 64
#pragma autotune param WGS = 1, 2
#pragma autotune param STAGES = 2, 3, 4, 5, 6, 7, 8
#pragma autotune param WAIT = 0, 1
#pragma autotune param GROUP = 1, 8
#pragma autotune derive MT = BM / (64 * WGS)
// wgmma is Hopper's (sm_90a); Blackwell has tcgen05 instead.
#pragma autotune require hopper: device.is_nvidia && device.arch_major == 9
#pragma autotune require wg_tile: BM % (64 * WGS) == 0
// At most 128 f32 accumulators per thread (a 64 x 256 or 2 x 64 x 128 warpgroup tile):
// with the copy addresses and the epilogue that is what 255 registers hold.
#pragma autotune require accumulators: MT * BN / 2 <= 128
// WAIT groups in flight need their stages kept: one to fill, WAIT + 1 being read.
#pragma autotune require pipeline: STAGES >= 2 + WAIT
// Accumulators plus about 64 registers per thread must fit the register file.
#pragma autotune require registers: device.regs_per_cu == 0 || \
  WGS * 128 * (MT * BN / 2 + 64) <= device.regs_per_cu
// The stages, plus up to 1024 bytes to align them for the 128B swizzle.
#pragma autotune require smem: STAGES * (BM + BN) * BK * sizeof_f16 + 1024 <= device.lds_bytes
// The problem: no tile more than twice what the problem has, no more stages than the
// k-tiles can fill, no grouping without several block-rows to group.
#pragma autotune require fits_m: BM < 2 * max(M, 64)
#pragma autotune require fits_n: BN < 2 * max(N, 64)
#pragma autotune require fits_k: BK < 2 * max(K, 32)
#pragma autotune require stages_useful: STAGES - WAIT <= max(2, cdiv(K, BK))
#pragma autotune require group_useful: GROUP == 1 || cdiv(M, BM) > GROUP
#pragma autotune threads WGS * 128
#pragma autotune grid cdiv(M, BM) * cdiv(N, BN)
#pragma autotune shared STAGES * (BM + BN) * BK * sizeof_f16 + 1024

namespace gemm_wgmma_detail {

#if AT_HAS_WGMMA
// Byte offset of element (row, k) in a K-major stage tile of BK-element rows: 8-row
// groups of BK * 2 bytes per row, swizzled by the mode those rows fill (64B, 128B).
template <int BK> AT_DEV unsigned int kmajor_off(int row, int k)
{
  constexpr int SW = BK == 64 ? AT_WGMMA_SWIZZLE_128B : AT_WGMMA_SWIZZLE_64B;
  return at_wgmma_kmajor_offset(row, k, SW, 16u, 16u * BK);
}
// Byte offset of element (mn, k) in an MN-major stage tile: 128B atoms of 8 k-rows x 64
// M/N elements; the BK / 8 atoms of one 64-wide column block follow one another (SBO =
// 1024), the next 64 M/N elements start BK * 128 bytes on (LBO).
template <int BK> AT_DEV unsigned int mnmajor_off(int mn, int k)
{
  return at_wgmma_mnmajor_offset(mn, k, AT_WGMMA_SWIZZLE_128B, 128u * BK, 1024u);
}

// Copy the ROWS x COLS tile whose element (r, c) is g[(row0 + r) * ld + col0 + c] into
// the stage tile at s (bytes), element (r, c) at byte offset OFF(r, c), NT threads, 8
// elements (16 bytes) per vector; OFF keeps each aligned run of 8 c contiguous. A tile
// wholly inside the matrix (row < row_lim, col < col_lim) with vectors allowed (vec_ok)
// is all cp.async; any other takes a rolled loop that moves what is aligned and inside
// by cp.async and the rest element by element, zero outside the matrix.
template <typename T, int ROWS, int COLS, int NT, typename Off>
AT_DEV void load_tile(unsigned char *s, const T *g, int ld, int row0, int col0, int row_lim,
                      int col_lim, bool vec_ok, int tid, Off off)
{
  constexpr int VPR = COLS / 8, TOTAL = ROWS * VPR, ITERS = (TOTAL + NT - 1) / NT;
  if (vec_ok && row0 + ROWS <= row_lim && col0 + COLS <= col_lim) {
#pragma unroll
    for (int it = 0; it < ITERS; it++) {
      const int v = tid + it * NT;
      if (TOTAL % NT != 0 && v >= TOTAL)
        break;
      const int r = v / VPR, c = (v % VPR) * 8;
      at_cp_async_16(s + off(r, c), g + (long long)(row0 + r) * ld + col0 + c);
    }
    return;
  }
#pragma unroll 1
  for (int v = tid; v < TOTAL; v += NT) {
    const int r = v / VPR, c = (v % VPR) * 8;
    const int gr = row0 + r, gc = col0 + c;
    T *dst = reinterpret_cast<T *>(s + off(r, c));
    const T *src = g + (long long)gr * ld + gc;
    if (vec_ok && gr < row_lim && gc + 8 <= col_lim) {
      at_cp_async_16(dst, src);
      continue;
    }
#pragma unroll
    for (int e = 0; e < 8; e++) {
      T x;
      x.bits = 0;
      if (gr < row_lim && gc + e < col_lim)
        x = src[e];
      at_st_shared_async(dst + e, x); // read by wgmma: fenced with the copies
    }
  }
}

// d += A * B for one m64 x BN x 16 step; the last argument only picks the type.
template <int BN, int TA, int TB>
AT_DEV void wgmma(float *d, unsigned long long da, unsigned long long db, const at_half *)
{
  at_wgmma_m64nNk16_f32_f16<BN, TA, TB>(d, da, db, 1);
}
template <int BN, int TA, int TB>
AT_DEV void wgmma(float *d, unsigned long long da, unsigned long long db, const at_bfloat16 *)
{
  at_wgmma_m64nNk16_f32_bf16<BN, TA, TB>(d, da, db, 1);
}

AT_DEV bool vec_ok(const void *p, int ld)
{
  return ld % 8 == 0 && (unsigned long long)p % 16 == 0;
}
#endif

} // namespace gemm_wgmma_detail

template <typename T, int A_T, int B_T, int BM, int BN, int BK, int WGS, int STAGES, int WAIT,
          int GROUP>
__device__ void gemm_wgmma(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                           int ldc, float alpha, float beta)
{
#if !AT_HAS_WGMMA
  static_assert(sizeof(T) == 0, "gemm_wgmma needs wgmma, which only sm_90a has: build with "
                                "-arch=sm_90a (or -gencode arch=compute_90a,code=sm_90a)");
#else
  using namespace gemm_wgmma_detail;
  static_assert(sizeof(T) == 2, "gemm_wgmma: f16 and bf16 only (wgmma here reads 16-bit A/B)");
  static_assert(BN == 64 || BN == 128 || BN == 256, "gemm_wgmma: BN is a wgmma N");
  static_assert(BK == 32 || BK == 64, "gemm_wgmma: BK is 32 or 64 (one swizzle row)");
  static_assert(BM % (64 * WGS) == 0, "gemm_wgmma: whole m64 tiles per warpgroup");
  static_assert(STAGES >= 2 + WAIT, "gemm_wgmma: a stage to fill and WAIT + 1 being read");
  constexpr int NT = WGS * 128, MT = BM / (64 * WGS);
  constexpr int A_BYTES = BM * BK * 2, B_BYTES = BN * BK * 2;
  // Tiles loaded ahead of the one being multiplied.
  constexpr int AHEAD = STAGES - 1 - WAIT;
  constexpr int SW_K = BK == 64 ? AT_WGMMA_SWIZZLE_128B : AT_WGMMA_SWIZZLE_64B;

  // Stages start at a multiple of 1024 bytes of the shared window (the 128B swizzle's
  // pattern, with the descriptors' base offset 0): the launch gives 1024 bytes spare.
  AT_DYNAMIC_SHARED(unsigned char, smem_raw);
  const unsigned int raw_addr = (unsigned int)(at_wgmma_desc(smem_raw, 0, 0, 0) & 0x3FFFu) << 4;
  unsigned char *const smem = smem_raw + ((1024u - (raw_addr & 1023u)) & 1023u);
  unsigned char *const sA = smem;
  unsigned char *const sB = smem + STAGES * A_BYTES;

  // Grouped rasterization: GROUP block-rows are walked column by column.
  const int grid_m = (M + BM - 1) / BM, grid_n = (N + BN - 1) / BN;
  const int pid = (int)at_block_idx_x();
  const int width = GROUP * grid_n, first_m = pid / width * GROUP;
  const int group_m = grid_m - first_m < GROUP ? grid_m - first_m : GROUP;
  const int bm0 = (first_m + pid % width % group_m) * BM;
  const int bn0 = (pid % width / group_m) * BN;
  (void)grid_n;

  const int tid = (int)at_thread_idx_x(), wg = tid / 128, t = tid % 128;
  const bool a_vec = vec_ok(A, lda), b_vec = vec_ok(B, ldb);
  const int KT = (K + BK - 1) / BK;

  auto koff = [](int r, int c) { return kmajor_off<BK>(r, c); };
  auto mnoff = [](int k, int mn) { return mnmajor_off<BK>(mn, k); };
  // ---- global -> shared, one k-tile into one stage ----
  auto load_stage = [&](int stage, int kt) {
    const int k0 = kt * BK;
    unsigned char *a = sA + stage * A_BYTES, *b = sB + stage * B_BYTES;
    if (A_T) // A is K x M in memory: rows k, M contiguous (MN-major)
      load_tile<T, BK, BM, NT>(a, A, lda, k0, bm0, K, M, a_vec, tid, mnoff);
    else // M x K: rows m, K contiguous (K-major)
      load_tile<T, BM, BK, NT>(a, A, lda, bm0, k0, M, K, a_vec, tid, koff);
    if (B_T) // B is N x K: rows n, K contiguous (K-major)
      load_tile<T, BN, BK, NT>(b, B, ldb, bn0, k0, N, K, b_vec, tid, koff);
    else // K x N: rows k, N contiguous (N-major)
      load_tile<T, BK, BN, NT>(b, B, ldb, k0, bn0, K, N, b_vec, tid, mnoff);
  };

  float acc[MT][BN / 2];
#pragma unroll
  for (int i = 0; i < MT; i++)
#pragma unroll
    for (int r = 0; r < BN / 2; r++)
      acc[i][r] = 0.0f;
#pragma unroll
  for (int i = 0; i < MT; i++) // the zeros stay here, not sunk toward a wait (C7515)
    at_wgmma_fence_acc<BN / 2>(acc[i]);

  // The descriptors of stage 0 at k 0; a k step or another stage adds bytes >> 4 to the
  // start address field (bits 0-13, at_wgmma_desc_plus: shared addresses stay below
  // 256 KiB).
  const unsigned long long da0 =
      A_T ? at_wgmma_desc(sA, 128u * BK, 1024u, AT_WGMMA_SWIZZLE_128B)
          : at_wgmma_desc(sA, 16u, 16u * BK, SW_K);
  const unsigned long long db0 =
      B_T ? at_wgmma_desc(sB, 16u, 16u * BK, SW_K)
          : at_wgmma_desc(sB, 128u * BK, 1024u, AT_WGMMA_SWIZZLE_128B);
  // Byte offsets: warpgroup wg's m tile i; the k step kk (a multiple of 16).
  auto a_off = [&](int i, int kk) -> unsigned int {
    const int m0 = (wg * MT + i) * 64;
    return A_T ? (unsigned int)(m0 / 64 * 128 * BK + kk / 8 * 1024)
               : (unsigned int)(m0 * 2 * BK + kk * 2);
  };
  auto b_off = [&](int kk) -> unsigned int {
    return B_T ? (unsigned int)(kk * 2) : (unsigned int)(kk / 8 * 1024);
  };

  // ---- the ring: AHEAD tiles in flight before the first multiply ----
#pragma unroll
  for (int s = 0; s < AHEAD; s++) {
    if (s < KT)
      load_stage(s, s);
    at_cp_async_commit();
  }
  for (int kt = 0; kt < KT; kt++) {
    // This thread's copies of tile kt are done; the proxy fence orders them (generic
    // proxy) before the tensor cores' reads (async proxy); the barrier makes every
    // thread's visible and says every warpgroup has waited out the wgmma groups older
    // than its newest WAIT, so the stage of tile kt - 1 - WAIT is free to refill.
    at_cp_async_wait<AHEAD - 1>();
    at_fence_proxy_async_shared();
    at_syncthreads();
    if (kt + AHEAD < KT)
      load_stage((kt + AHEAD) % STAGES, kt + AHEAD);
    at_cp_async_commit();

    const int stage = kt % STAGES;
    const unsigned long long da = at_wgmma_desc_plus(da0, (unsigned int)(stage * A_BYTES));
    const unsigned long long db = at_wgmma_desc_plus(db0, (unsigned int)(stage * B_BYTES));
    at_wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16)
#pragma unroll
      for (int i = 0; i < MT; i++)
        wgmma<BN, A_T, 1 - B_T>(acc[i], at_wgmma_desc_plus(da, a_off(i, kk)),
                                at_wgmma_desc_plus(db, b_off(kk)), (const T *)0);
    at_wgmma_commit_group();
    at_wgmma_wait_group<WAIT>();
  }
  at_wgmma_wait_group<0>();
#pragma unroll
  for (int i = 0; i < MT; i++)
    at_wgmma_fence_acc<BN / 2>(acc[i]); // the epilogue's reads stay below the wait
  at_cp_async_wait_all();

  // ---- epilogue: register r of m tile i is D(at_wgmma_d_row(t, r), at_wgmma_d_col(t, r)) ----
  // (registers r and r + 1, r even, are neighbouring columns of one row: a pair a store;
  // a fragment inside C without a guard)
#pragma unroll
  for (int i = 0; i < MT; i++) {
    const int row0 = bm0 + (wg * MT + i) * 64;
    if (at_wgmma_d_inside(C, ldc, row0, bn0, BN, M, N)) {
      at_wgmma_store_d_inside<T, BN>(C, ldc, row0, bn0, t, acc[i], alpha, beta);
      continue;
    }
#pragma unroll
    for (int r = 0; r < BN / 2; r += 2)
      at_store_c_pair(C, ldc, row0 + at_wgmma_d_row(t, r), bn0 + at_wgmma_d_col(t, r), M, N,
                      acc[i][r], acc[i][r + 1], alpha, beta);
  }
#endif
}
