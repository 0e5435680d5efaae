// gemm_simt.h - the SIMT GEMM: C = alpha * op(A) * op(B) + beta * C with plain FMA on
// any GPU and on the host device, in every dtype (f32, f16, bf16; accumulation in f32)
// and layout (docs/gemm.md is the contract). It is the f32 kernel and the fallback for
// every dtype where no matrix-core template applies.
//
// A block computes a BM x BN tile of C. Per BK-deep step it stages the A and B tiles in
// shared memory as f32 (converted once on load, so shared bytes do not depend on the
// dtype), k-major: As[k][i], Bs[k][j], each row padded by PAD floats against bank
// conflicts on the transposed writes. Global loads take VEC contiguous elements along
// the dimension the layout makes contiguous (k for A 'N', m for A 'T', n for B 'N', k
// for B 'T'), one 2/4/8/16-byte access where the chunk lies inside the matrix and its
// address is aligned, element by element with zero fill otherwise, so every M, N, K >= 1
// and every leading dimension works. Each thread owns a TM x TN register tile whose rows
// and columns are strided by the thread grid (row ty + i * BM/TM, column tx + j * BN/TN):
// neighbouring threads read neighbouring shared words and write neighbouring C words.
// KS > 1 splits each BK step among KS thread groups (more threads for skinny and decode
// shapes, where there are few output tiles), their partial sums reduced through shared
// memory at the end. UNROLL unrolls the k loop. beta == 0 never reads C.
#include "at_common.h"

#pragma autotune kernel gemm_simt
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune param BM = 1, 8, 16, 32, 64, 128
#pragma autotune param BN = 16, 32, 64, 128, 256
#pragma autotune param BK = 8, 16, 32
#pragma autotune param TM = 1, 2, 4, 8
#pragma autotune param TN = 1, 2, 4, 8
#pragma autotune param KS = 1, 2, 4
#pragma autotune param VEC = 1, 2, 4
#pragma autotune param UNROLL = 1, 4
#pragma autotune param PAD = 0, 1
#pragma autotune derive TRANS_A = TA != 0
// f32 FMA on the vector units, no matrix cores: the cost model's peak (pipe_model.h)
#pragma autotune derive MATRIX_CORES = 0
#pragma autotune derive TRANS_B = TB != 0
#pragma autotune derive THREADS = (BM / TM) * (BN / TN) * KS
#pragma autotune derive SMEM = 4 * max(BK * (BM + BN + 2 * PAD), (KS - 1) * BM * BN)
#pragma autotune require thread_tile: TM <= BM && TN <= BN
#pragma autotune require square_ish_thread_tile: TM <= 2 * TN && TN <= 4 * TM
#pragma autotune require block_size: THREADS >= 64 && THREADS <= 256
#pragma autotune require k_split: BK % (KS * UNROLL) == 0 && BK / KS >= 4 * UNROLL
#pragma autotune require split_for_skinny: KS == 1 || BM <= 16
#pragma autotune require register_tile: TM * TN >= (BM >= 64 ? 16 : BM >= 32 ? 4 : 1)
#pragma autotune require skinny_tile: BM > 16 || TM <= 2
#pragma autotune require k_depth: BM <= 16 ? BK >= 16 : BK <= 16
#pragma autotune require vector_fits: BM % VEC == 0
#pragma autotune require loads_busy: (BM + BN) * BK >= THREADS * VEC
#pragma autotune require pad_for_wide: PAD == 0 || BM >= 64
#pragma autotune require grid_rows: cdiv(M, BM) <= 65535
#pragma autotune threads THREADS
#pragma autotune grid cdiv(N, BN), cdiv(M, BM)
#pragma autotune shared SMEM

// VEC elements of T from p (aligned to VEC * sizeof(T)) into out, as one access.
template <typename T, int VEC> __device__ __forceinline__ void gemm_simt_load(T *out,
                                                                            const T *p)
{
  constexpr int BYTES = VEC * (int)sizeof(T);
  if constexpr (BYTES == 16) {
    at_uint4 v = at_load_b128(p);
    at_memcpy(out, &v, 16);
  } else if constexpr (BYTES == 8) {
    at_uint2 v = at_load_b64(p);
    at_memcpy(out, &v, 8);
  } else if constexpr (BYTES == 4) {
    unsigned int v = *(const unsigned int *)(const void *)p;
    at_memcpy(out, &v, 4);
  } else if constexpr (BYTES == 2) {
    unsigned short v = *(const unsigned short *)(const void *)p;
    at_memcpy(out, &v, 2);
  } else {
    out[0] = p[0];
  }
}

// Stage a ROWS x COLS tile of a matrix stored row-major with leading dimension ld
// (rows r0.., columns c0..; rows < nrows and columns < ncols exist) into shared memory
// as floats: element (r, c) of the tile goes to s[c * SLD + r] when TRANSPOSE (the
// tile's columns become shared rows) and to s[r * SLD + c] otherwise. Chunks of VEC
// along the stored row.
template <typename T, int ROWS, int COLS, int VEC, int THREADS, int SLD, bool TRANSPOSE>
__device__ __forceinline__ void gemm_simt_stage(float *s, const T *g, long ld, int r0,
                                                int c0, int nrows, int ncols, int tid)
{
  constexpr int CHUNKS = ROWS * (COLS / VEC);
  for (int q = tid; q < CHUNKS; q += THREADS) {
    const int r = q / (COLS / VEC), c = (q % (COLS / VEC)) * VEC;
    const int gr = r0 + r, gc = c0 + c;
    T v[VEC];
    const T *p = g + (long)gr * ld + gc;
    if (VEC > 1 && gr < nrows && gc + VEC <= ncols &&
        ((unsigned long)p % (VEC * sizeof(T))) == 0) {
      gemm_simt_load<T, VEC>(v, p);
#pragma unroll
      for (int e = 0; e < VEC; e++) {
        const float f = at_to_float(v[e]);
        if (TRANSPOSE)
          s[(c + e) * SLD + r] = f;
        else
          s[r * SLD + c + e] = f;
      }
    } else {
#pragma unroll
      for (int e = 0; e < VEC; e++) {
        const float f = gr < nrows && gc + e < ncols ? at_to_float(p[e]) : 0.0f;
        if (TRANSPOSE)
          s[(c + e) * SLD + r] = f;
        else
          s[r * SLD + c + e] = f;
      }
    }
  }
}

template <typename T, int BM, int BN, int BK, int TM, int TN, int KS, int VEC, int UNROLL,
          int PAD, bool TRANS_A, bool TRANS_B>
__device__ void gemm_simt(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                          int ldc, float alpha, float beta)
{
  constexpr int TX = BN / TN, TY = BM / TM, NT = TX * TY * KS;
  constexpr int SLDA = BM + PAD, SLDB = BN + PAD, BKS = BK / KS;
  static_assert(BM % TM == 0 && BN % TN == 0 && BK % (KS * UNROLL) == 0, "gemm_simt tiles");
  static_assert((TRANS_A ? BM : BK) % VEC == 0 && (TRANS_B ? BK : BN) % VEC == 0,
                "gemm_simt: VEC must divide the contiguous side of each tile");
  AT_DYNAMIC_SHARED(float, smem);
  float *const As = smem;             // [BK][SLDA]
  float *const Bs = smem + BK * SLDA; // [BK][SLDB]

  const int tid = (int)at_thread_idx_x();
  const int ks = tid / (TX * TY), rr = tid % (TX * TY), tx = rr % TX, ty = rr / TX;
  const int m0 = (int)at_block_idx_y() * BM, n0 = (int)at_block_idx_x() * BN;

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; i++)
#pragma unroll
    for (int j = 0; j < TN; j++)
      acc[i][j] = 0.0f;

  for (int k0 = 0; k0 < K; k0 += BK) {
    // A as stored: 'N' is M x K (row i, column k), 'T' is K x M (row k, column i).
    if (TRANS_A)
      gemm_simt_stage<T, BK, BM, VEC, NT, SLDA, false>(As, A, lda, k0, m0, K, M, tid);
    else
      gemm_simt_stage<T, BM, BK, VEC, NT, SLDA, true>(As, A, lda, m0, k0, M, K, tid);
    // B as stored: 'N' is K x N, 'T' is N x K.
    if (TRANS_B)
      gemm_simt_stage<T, BN, BK, VEC, NT, SLDB, true>(Bs, B, ldb, n0, k0, N, K, tid);
    else
      gemm_simt_stage<T, BK, BN, VEC, NT, SLDB, false>(Bs, B, ldb, k0, n0, K, N, tid);
    at_syncthreads();

    const int kb = ks * BKS;
    for (int kk = 0; kk < BKS; kk += UNROLL) {
#pragma unroll
      for (int u = 0; u < UNROLL; u++) {
        const float *a_row = As + (kb + kk + u) * SLDA;
        const float *b_row = Bs + (kb + kk + u) * SLDB;
        float a[TM], b[TN];
#pragma unroll
        for (int i = 0; i < TM; i++)
          a[i] = a_row[ty + i * TY];
#pragma unroll
        for (int j = 0; j < TN; j++)
          b[j] = b_row[tx + j * TX];
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
          for (int j = 0; j < TN; j++)
            acc[i][j] += a[i] * b[j];
      }
    }
    at_syncthreads();
  }

  if (KS > 1) {
    // Groups 1..KS-1 leave their partial tiles in shared memory (free again after the
    // loop's last barrier); group 0 adds them up.
    float *const red = smem;
    if (ks > 0) {
#pragma unroll
      for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++)
          red[((ks - 1) * TM * TN + i * TN + j) * (TX * TY) + rr] = acc[i][j];
    }
    at_syncthreads();
    if (ks == 0) {
      for (int g = 0; g < KS - 1; g++)
#pragma unroll
        for (int i = 0; i < TM; i++)
#pragma unroll
          for (int j = 0; j < TN; j++)
            acc[i][j] += red[(g * TM * TN + i * TN + j) * (TX * TY) + rr];
    }
  }
  if (ks != 0)
    return;

#pragma unroll
  for (int i = 0; i < TM; i++) {
    const int row = m0 + ty + i * TY;
    if (row >= M)
      continue;
#pragma unroll
    for (int j = 0; j < TN; j++) {
      const int col = n0 + tx + j * TX;
      if (col >= N)
        continue;
      T *const c = C + (long)row * ldc + col;
      float out = alpha * acc[i][j];
      if (beta != 0.0f)
        out += beta * at_to_float(*c);
      *c = at_from_float<T>(out);
    }
  }
}
