// gemm_mfma.h - C = alpha * op(A) * op(B) + beta * C on CDNA matrix cores (gfx90a,
// gfx942), built only on the portability layer (at_common.h: ids, barriers, dynamic LDS,
// vector loads, one function per MFMA instruction), for the contract of tuner/ops/op_gemm.h:
// any M, N, K >= 1, layouts NN/NT/TN/TT through the problem dims TA/TB, f16/bf16/f32
// inputs through `dtype T`, f32 accumulation, beta == 0 never reading C.
//
// Structure, and what it was learned from (written here from the ideas, not the code):
//  - A block owns a BM x BN tile of C and walks K in steps of BK; its WAVES_M x WAVES_N
//    waves each own a (BM / WAVES_M) x (BN / WAVES_N) wave tile made of MI x MI MFMA
//    blocks, accumulated in registers (Composable Kernel's MPerBlock / NPerBlock /
//    KPerBlock, MPerXDL, MXdlPerWave; Tensile's MacroTile, MatrixInstruction, WaveTile).
//  - MI picks the instruction family: 32 -> v_mfma_f32_32x32x8{f16,bf16_1k} or
//    32x32x2f32, 16 -> 16x16x16{f16,bf16_1k} or 16x16x4f32, chosen by T with
//    `if constexpr` (hipBLASLt's shipped MI300X winners are mostly 16x16x16: devices.md).
//  - Global -> registers -> LDS, one BK step ahead: the next step's global loads are
//    issued before the MFMAs of this one and written to LDS after them (Tensile's
//    PrefetchGlobalRead). STAGES = 2 double-buffers LDS (one barrier per step), STAGES =
//    1 reuses one buffer (two barriers per step).
//  - Global reads are VEC_BYTES wide along the contiguous dimension (Tensile's
//    GlobalReadVectorWidth; "8 f16" = 16 bytes is the MI300X favourite); an edge chunk,
//    or an operand whose ld or base does not allow the vector, is read element by
//    element with zero fill, so every M, N, K works.
//  - LDS keeps each operand in its global orientation (k-contiguous rows for A in 'N'
//    and B in 'T': the fragment of 4 consecutive k is one 8-byte LDS read); LDS_LAYOUT 1
//    pads each row by 16 bytes (CK's ABlockLdsExtraM, Tensile's LdsPadA), 2 XORs the
//    16-byte granule index with the row (CK tile's and HipKittens' XOR swizzles).
//  - The block order: GROUP_M tile rows are walked together for L2 reuse (Tensile's
//    WorkGroupMapping, Triton's GROUP_SIZE_M); XCDS = 8 first remaps the dispatch order
//    so that the consecutive blocks one XCD receives from MI300X's round-robin dispatch
//    are consecutive tiles (HipKittens' chiplet-aware grid; devices.md: 8 XCDs, 4 MB L2
//    each).
//  - Not done: split-K (Tensile's GlobalSplitU needs a beta pass and atomics, or a
//    reduction kernel: the one-kernel contract here has neither), direct-to-LDS loads,
//    an LDS-staged (C-shuffle) epilogue, 8-wave ping-pong scheduling.
//
// Sizes are dtype-independent in bytes: BK counts 16-bit elements, so an f32 variant
// walks K in steps of BK / 2 and its LDS tiles, vector counts and prefetch registers
// have exactly the bytes of the f16 variant (the space has no dtype to constrain on).
#include "at_common.h"
#include "at_lds.h"

#pragma autotune kernel gemm_mfma
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune param MI = 16, 32              // MFMA family: 16x16xK or 32x32xK
#pragma autotune param BM = 16, 32, 64, 128, 256 // block tile rows (of C)
#pragma autotune param BN = 16, 32, 64, 128, 256 // block tile columns
#pragma autotune param BK = 32, 64              // K step in 16-bit elements
#pragma autotune param WAVES_M = 1, 2, 4        // waves along M and N
#pragma autotune param WAVES_N = 1, 2, 4
#pragma autotune param STAGES = 1, 2            // LDS buffers
#pragma autotune param VEC_BYTES = 8, 16        // global read width
#pragma autotune param LDS_LAYOUT = 1, 2        // 1 padded rows, 2 XOR swizzle
#pragma autotune param GROUP_M = 1, 8           // tile rows walked together
#pragma autotune param XCDS = 1, 8              // 8: remap for MI300X's XCDs
#pragma autotune derive TRANS_A = TA != 0
#pragma autotune derive TRANS_B = TB != 0
#pragma autotune derive THREADS = WAVES_M * WAVES_N * 64
#pragma autotune derive LDS_PAD = LDS_LAYOUT == 1 ? 16 : 0
// f16 bytes of one stage (an f32 variant's are never more: same data, no more rows)
#pragma autotune derive STAGE_BYTES = \
  (TRANS_A ? BK * (2 * BM + LDS_PAD) : BM * (2 * BK + LDS_PAD)) + \
  (TRANS_B ? BN * (2 * BK + LDS_PAD) : BK * (2 * BN + LDS_PAD))
#pragma autotune require cdna: device.is_amd && device.wave_size == 64 && \
  device.arch_major == 9 && (device.arch_minor == 4 || device.arch_step == 10)
#pragma autotune require wave_tile_m: BM % (WAVES_M * MI) == 0
#pragma autotune require wave_tile_n: BN % (WAVES_N * MI) == 0
// accumulators per lane: (BM / WAVES_M) * (BN / WAVES_N) / 64 f32 registers
#pragma autotune require acc_regs: BM * BN / (WAVES_M * WAVES_N * 64) <= 256
#pragma autotune require waves: WAVES_M * WAVES_N <= 8
// a wave tile of at least 32 x 32 (16 x 64 for decode shapes) reuses its fragments
#pragma autotune require wave_tile_size: BM * BN >= WAVES_M * WAVES_N * 1024
// the global reads one step ahead, per lane, in 32-bit registers
#pragma autotune require prefetch_regs: (BM + BN) * BK * 2 <= THREADS * 4 * 64
// every lane has at least one vector of A or B to read
#pragma autotune require loads_busy: (BM + BN) * BK * 2 >= THREADS * VEC_BYTES
// 8-byte vectors only where 16-byte ones would give a lane fewer than 4 a step
#pragma autotune require vec8_small_tiles: VEC_BYTES == 16 || \
  (BM + BN) * BK * 2 < THREADS * 16 * 4
// BK = 32 is there to fit large tiles (and their double buffer) in LDS
#pragma autotune require bk32_large_tiles: BK == 64 || BM + BN >= 256
// one wave for small tiles only, eight for large ones only
#pragma autotune require waves_for_tile: (WAVES_M * WAVES_N > 1 || BM * BN <= 64 * 64) && \
  (WAVES_M * WAVES_N < 8 || BM * BN >= 128 * 128)
#pragma autotune require tile_m_fits: BM < 2 * max(M, 16)
#pragma autotune require tile_n_fits: BN < 2 * max(N, 16)
#pragma autotune require group_useful: GROUP_M == 1 || GROUP_M < cdiv(M, BM)
// MI300X (gfx942) has 8 XCDs, gfx90a one L2 per GCD; the remap is tried on top of the
// grouped order, or alone where grouping does not apply
#pragma autotune require xcd_useful: XCDS == 1 || (device.arch_minor == 4 && \
  cdiv(M, BM) * cdiv(N, BN) >= 2 * XCDS && (GROUP_M > 1 || cdiv(M, BM) <= 8))
#pragma autotune threads THREADS
#pragma autotune grid cdiv(M, BM) * cdiv(N, BN)
#pragma autotune shared STAGES * STAGE_BYTES

// ---- helpers (gm_: this file's) ----

// Member functions: AT_DEV says `static`, which a member cannot be.
#define GM_FN __device__ __forceinline__

// One operand's tile as it travels: ROWS x COLS elements of T, COLS the contiguous
// dimension in global memory and in LDS. Each of THREADS lanes reads NV vectors of
// VEC_BYTES into registers (read), then writes them to LDS (write).
template <typename T, int ROWS, int COLS, int THREADS, int VEC_BYTES, int LAYOUT>
struct gm_tile {
  static constexpr int ROW_BYTES = COLS * (int)sizeof(T);
  static constexpr int STRIDE = LAYOUT == 1 ? ROW_BYTES + 16 : ROW_BYTES;
  static constexpr int BYTES = ROWS * STRIDE;
  static constexpr int VE = VEC_BYTES / (int)sizeof(T);  // elements per vector
  static constexpr int VPR = COLS / VE;                  // vectors per row
  static constexpr int NVEC = ROWS * VPR;
  static constexpr int NV = (NVEC + THREADS - 1) / THREADS;
  typedef typename at_vec<VEC_BYTES>::type vec;
  static_assert(COLS % VE == 0 && VE >= 1, "rows hold whole vectors");

  vec r[NV];

  // Global rows row0.., columns col0.. of a matrix with leading dimension ld, rows
  // below nrows and columns below ncols valid (zero beyond). vec_ok: ld and the base
  // allow aligned vectors.
  GM_FN void read(const T *g, long ld, int row0, int col0, int nrows, int ncols,
                   bool vec_ok, int tid)
  {
#pragma unroll
    for (int i = 0; i < NV; i++) {
      int v = tid + i * THREADS;
      if (NVEC % THREADS != 0 && v >= NVEC)
        break;
      int gr = row0 + v / VPR, gc = col0 + (v % VPR) * VE;
      const T *p = g + (long)gr * ld + gc;
      if (vec_ok && gr < nrows && gc + VE <= ncols) {
        r[i] = at_vec<VEC_BYTES>::load(p);
      } else {
        T e[VE];
#pragma unroll
        for (int j = 0; j < VE; j++)
          e[j] = gr < nrows && gc + j < ncols ? p[j] : at_from_float<T>(0.0f);
        at_memcpy(&r[i], e, sizeof e);
      }
    }
  }
  GM_FN void write(unsigned char *lds, int tid) const
  {
#pragma unroll
    for (int i = 0; i < NV; i++) {
      int v = tid + i * THREADS;
      if (NVEC % THREADS != 0 && v >= NVEC)
        break;
      int off = at_lds_off<ROW_BYTES, LAYOUT>(v / VPR, (v % VPR) * VEC_BYTES);
      at_vec<VEC_BYTES>::store(lds + off, r[i]);
    }
  }
  // KL consecutive elements of row `row` from column `col` (k-contiguous fragment).
  template <int KL> GM_FN void frag_row(const unsigned char *lds, int row, int col,
                                         T out[KL]) const
  {
    int off = at_lds_off<ROW_BYTES, LAYOUT>(row, col * (int)sizeof(T));
    if constexpr (KL * sizeof(T) == 8) {
      at_uint2 w = at_load_b64(lds + off);
      at_memcpy(out, &w, 8);
    } else {
#pragma unroll
      for (int j = 0; j < KL; j++)
        out[j] = *(const T *)(lds + off + j * (int)sizeof(T));
    }
  }
  // KL elements of column `col` from row `row` on (the fragment of a k-major tile).
  template <int KL> GM_FN void frag_col(const unsigned char *lds, int row, int col,
                                         T out[KL]) const
  {
#pragma unroll
    for (int j = 0; j < KL; j++)
      out[j] = *(const T *)(lds + at_lds_off<ROW_BYTES, LAYOUT>(row + j, col * (int)sizeof(T)));
  }
};

// d = a * b + d for one MI x MI block on this lane's fragments, the instruction by T.
template <typename T, int MI> AT_DEV void gm_mfma(float *d, const T *a, const T *b)
{
  if constexpr (at_same<T, at_half>::value) {
    if constexpr (MI == 32)
      at_mfma_f32_32x32x8f16(d, a, b, d);
    else
      at_mfma_f32_16x16x16f16(d, a, b, d);
  } else if constexpr (at_same<T, at_bfloat16>::value) {
    if constexpr (MI == 32)
      at_mfma_f32_32x32x8bf16_1k(d, a, b, d);
    else
      at_mfma_f32_16x16x16bf16_1k(d, a, b, d);
  } else {
    if constexpr (MI == 32)
      at_mfma_f32_32x32x2f32(d, a[0], b[0], d);
    else
      at_mfma_f32_16x16x4f32(d, a[0], b[0], d);
  }
}

// The tile (bm, bn) block `pid` of nbm x nbn computes. XCDS > 1: dispatch sends block b
// to XCD b % XCDS; renumber so that XCD x's blocks are one consecutive range of tiles
// (a bijection also when XCDS does not divide the block count). Then GROUP_M tile rows
// are walked column by column, a group at a time.
template <int XCDS, int GROUP_M>
AT_DEV void gm_block_tile(int pid, int nbm, int nbn, int *bm, int *bn)
{
  if constexpr (XCDS > 1) {
    int nb = nbm * nbn, q = nb / XCDS, rem = nb % XCDS, x = pid % XCDS, t = pid / XCDS;
    pid = (x < rem ? x * (q + 1) : rem * (q + 1) + (x - rem) * q) + t;
  }
  if constexpr (GROUP_M > 1) {
    int per_group = GROUP_M * nbn, first = (pid / per_group) * GROUP_M;
    int rows = nbm - first < GROUP_M ? nbm - first : GROUP_M;
    *bm = first + (pid % per_group) % rows;
    *bn = (pid % per_group) / rows;
  } else {
    *bm = pid / nbn;
    *bn = pid % nbn;
  }
}

template <typename T, int MI, int BM, int BN, int BK, int WAVES_M, int WAVES_N, int STAGES,
          int VEC_BYTES, int LDS_LAYOUT, int GROUP_M, int XCDS, int TRANS_A, int TRANS_B>
__device__ void gemm_mfma(const T *A, const T *B, T *C, int M, int N, int K, int lda,
                          int ldb, int ldc, float alpha, float beta)
{
  constexpr int ES = (int)sizeof(T);
  constexpr int KT = BK * 2 / ES;                  // K per step in elements
  constexpr int KI = ES == 4 ? (MI == 32 ? 2 : 4) : (MI == 32 ? 8 : 16); // MFMA K
  constexpr int KL = KI * MI / 64;                 // consecutive k per lane: 4 or 1
  constexpr int NREG = MI * MI / 64;               // accumulators per lane per block
  constexpr int WM = BM / WAVES_M, WN = BN / WAVES_N;
  constexpr int TM = WM / MI, TN = WN / MI;
  constexpr int THREADS = WAVES_M * WAVES_N * 64;
  static_assert(TM >= 1 && TN >= 1 && WM % MI == 0 && WN % MI == 0, "wave tile");
  static_assert(KT % KI == 0, "BK holds whole MFMA steps");
  // A: 'N' is BM rows of KT k (k-contiguous), 'T' KT rows of BM; B: 'N' KT rows of BN,
  // 'T' BN rows of KT (k-contiguous).
  typedef gm_tile<T, TRANS_A ? KT : BM, TRANS_A ? BM : KT, THREADS, VEC_BYTES, LDS_LAYOUT>
      tile_a;
  typedef gm_tile<T, TRANS_B ? BN : KT, TRANS_B ? KT : BN, THREADS, VEC_BYTES, LDS_LAYOUT>
      tile_b;
  constexpr int STAGE = tile_a::BYTES + tile_b::BYTES;
  AT_DYNAMIC_SHARED(unsigned char, lds);

  const int tid = (int)at_thread_idx_x(), lane = tid % 64, wave = tid / 64;
  const int wm0 = (wave % WAVES_M) * WM, wn0 = (wave / WAVES_M) * WN;
  const int nbm = (M + BM - 1) / BM, nbn = (N + BN - 1) / BN;
  int bm, bn;
  gm_block_tile<XCDS, GROUP_M>((int)at_block_idx_x(), nbm, nbn, &bm, &bn);
  const int m0 = bm * BM, n0 = bn * BN;

  const bool vec_a = lda % tile_a::VE == 0 && (unsigned long)A % VEC_BYTES == 0;
  const bool vec_b = ldb % tile_b::VE == 0 && (unsigned long)B % VEC_BYTES == 0;
  tile_a ta;
  tile_b tb;
  auto read = [&](int k0) {
    if (TRANS_A)
      ta.read(A, lda, k0, m0, K, M, vec_a, tid);
    else
      ta.read(A, lda, m0, k0, M, K, vec_a, tid);
    if (TRANS_B)
      tb.read(B, ldb, n0, k0, N, K, vec_b, tid);
    else
      tb.read(B, ldb, k0, n0, K, N, vec_b, tid);
  };

  float acc[TM][TN][NREG];
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++)
#pragma unroll
      for (int r = 0; r < NREG; r++)
        acc[i][j][r] = 0.0f;

  const int nk = (K + KT - 1) / KT;
  read(0);
  ta.write(lds, tid);
  tb.write(lds + tile_a::BYTES, tid);
  at_syncthreads();

  // A fragment of lane L: row L % MI of the block, k (L / MI) * KL .. + KL - 1.
  const int frow = lane % MI, fk = (lane / MI) * KL;
  for (int kt = 0; kt < nk; kt++) {
    const unsigned char *la = lds + (kt % STAGES) * STAGE, *lb = la + tile_a::BYTES;
    const bool more = kt + 1 < nk;
    if (more)
      read((kt + 1) * KT);
#pragma unroll
    for (int ks = 0; ks < KT; ks += KI) {
      T fa[TM][KL], fb[TN][KL];
#pragma unroll
      for (int i = 0; i < TM; i++) {
        if (TRANS_A)
          ta.template frag_col<KL>(la, ks + fk, wm0 + i * MI + frow, fa[i]);
        else
          ta.template frag_row<KL>(la, wm0 + i * MI + frow, ks + fk, fa[i]);
      }
#pragma unroll
      for (int j = 0; j < TN; j++) {
        if (TRANS_B)
          tb.template frag_row<KL>(lb, wn0 + j * MI + frow, ks + fk, fb[j]);
        else
          tb.template frag_col<KL>(lb, ks + fk, wn0 + j * MI + frow, fb[j]);
      }
#pragma unroll
      for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++)
          gm_mfma<T, MI>(acc[i][j], fa[i], fb[j]);
    }
    if (more) {
      unsigned char *next = lds + ((kt + 1) % STAGES) * STAGE;
      if (STAGES == 1)
        at_syncthreads(); // every wave is done reading the one buffer
      ta.write(next, tid);
      tb.write(next + tile_a::BYTES, tid);
      at_syncthreads();
    }
  }

  // Register r of lane L holds D[i][j] of its block: j = L % MI,
  // i = 4 * ((r / 4) * (64 / MI) + L / MI) + r % 4 (at_mfma.h).
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++)
#pragma unroll
      for (int r = 0; r < NREG; r++) {
        int gm = m0 + wm0 + i * MI + 4 * ((r / 4) * (64 / MI) + lane / MI) + r % 4;
        int gn = n0 + wn0 + j * MI + lane % MI;
        if (gm < M && gn < N) {
          T *c = C + (long)gm * ldc + gn;
          float v = alpha * acc[i][j][r];
          if (beta != 0.0f)
            v += beta * at_to_float(*c);
          *c = at_from_float<T>(v);
        }
      }
}
