// gemm_skinny.h - the decode GEMM: C = alpha * op(A) * op(B) + beta * C for a few rows
// (M = 1..64) against a large weight B, where the time is the weight's read from memory
// and nothing else (docs/gemm.md is the contract; the section "gemm_skinny" there says
// what each parameter is for). Any GPU and the host device, f32/f16/bf16 in, f32
// accumulation, every layout, any M, N, K (the space is offered for M <= 64 only).
//
// Each weight element is loaded once and multiplied by the BM rows of A held in shared
// memory, accumulating in f32 registers: by plain FMA (MMA=0: any target, any dtype), or
// by mma.sync m16n8k16 (MMA=1: NVIDIA sm_80+ and its host emulation, f16/bf16, weight
// N x K, 16-row tiles; see skinny_mma), since from M = 16 on f32 FMA cannot keep pace
// with HBM on an H200. CDNA's MFMA is not used (gfx90a/gfx942 run the FMA path). The
// grid is cdiv(N, BN) column tiles x KSPLIT slices of K x cdiv(M, BM) row tiles, so a
// 4096-wide weight with a few rows still spreads over every SM. A thread keeps CN x U
// weight vectors of VEC elements in flight (one 16-byte access each for f16/bf16 at
// VEC 8 where aligned and inside the matrix; element by element with zero fill
// otherwise). The weight's contiguous direction decides the thread map:
//   TB (weight N x K, k contiguous: the well-served layout): LANES consecutive threads
//     read one weight row along k, CN rows per thread; the lanes' sums meet by shuffle.
//   NB (weight K x N, n contiguous): LANES threads read VEC x CN consecutive columns of
//     one k row, GROUPS = THREADS / LANES thread groups take interleaved k rows; the
//     groups' sums meet in shared memory (GROUPS <= 8 rounds).
// The A chunk [BM][KC] is staged per KC-deep step (A stored either way, zero outside
// the matrix; 16-byte reads where A is M x K); for TB it is stored interleaved (lane-
// major within each VEC group) so that the lanes' reads fall on distinct banks. With PF
// the weight of chunk c + 1 is requested before chunk c's A is staged and multiplied
// (a register double buffer): the memory system always has a chunk to fetch.
// Split-K (KSPLIT > 1) goes through the workspace (the `workspace` pragma: global
// memory, zero at launch, to be left zero): each block writes its f32 partial tile to
// its own slice, fences, and counts itself in the tile's counter; the block that counts
// last sums the KSPLIT slices in slice order (the result does not depend on which block
// came last), applies alpha/beta, writes C and zeroes the slices and the counter. No
// block waits for another, so any scheduling order (and the host emulator) is safe.
#include "at_common.h"
#include "at_fence.h" // at_threadfence, at_load_f32_coherent: the split-K hand-over

#pragma autotune kernel gemm_skinny
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune param BM = 1, 2, 4, 8, 16, 32, 64
#pragma autotune param THREADS = 64, 128, 256
#pragma autotune param LANES = 4, 8, 16, 32
#pragma autotune param VEC = 4, 8
#pragma autotune param CN = 1, 2, 4
#pragma autotune param U = 1, 2, 4
#pragma autotune param KSPLIT = 1, 2, 4, 8, 16, 32
#pragma autotune param MMA = 0, 1
// PF 1: the next chunk's weight is loaded while this one is multiplied (twice the bytes in
// flight a thread; the loop's barriers and A's staging no longer leave the loads idle)
#pragma autotune param PF = 0, 1
#pragma autotune derive TRANS_A = TA != 0
// the FMA path on the vector units, mma.sync on matrix cores: the cost model's peak
#pragma autotune derive MATRIX_CORES = MMA
#pragma autotune derive TRANS_B = TB != 0
#pragma autotune derive GROUPS = THREADS / LANES
#pragma autotune derive BN = TRANS_B ? GROUPS * CN : LANES * VEC * CN
#pragma autotune derive KC = TRANS_B ? LANES * VEC * U : GROUPS * U
#pragma autotune derive SMEM = 4 * (max(BM * KC, BM * BN) + 1)
#pragma autotune require decode: M <= 64
#pragma autotune require rows: BM >= M ? BM < 2 * M || BM == 1 : BM >= 16 && M <= 4 * BM
#pragma autotune require group_reduce: TRANS_B || GROUPS <= 8
#pragma autotune require lanes_in_warp: LANES <= device.wave_size
#pragma autotune require registers: BM * CN * (TRANS_B ? 1 : VEC) <= 64 && CN * U * VEC <= 32
#pragma autotune require a_chunk: BM * KC <= 8192 && BM * BN <= 8192
#pragma autotune require k_work: KSPLIT <= cdiv(K, KC)
#pragma autotune require fill: KSPLIT >= min(cdiv(device.cus, cdiv(N, BN) * cdiv(M, BM)), cdiv(K, KC), 32)
#pragma autotune require no_oversplit: KSPLIT == 1 || cdiv(N, BN) * cdiv(M, BM) * KSPLIT <= 8 * max(device.cus, 16)
// PF doubles the weight fragment a thread holds: with mma's 64-row accumulators and 4
// chunks that spilled at sm_90 (the only PF variant of the decode sweep that did)
#pragma autotune require pf_registers: PF == 0 || MMA == 0 || BM * U * CN < 256
#pragma autotune require mma_shape: MMA == 0 || TRANS_B && BM % 16 == 0 && LANES == 4 && VEC == 8
#pragma autotune require mma_target: MMA == 0 || device.wave_size == 32 && (device.is_host || device.is_nvidia && device.arch_major >= 8)
#pragma autotune require grid_rows: cdiv(M, BM) <= 65535
#pragma autotune threads THREADS
#pragma autotune grid cdiv(N, BN), KSPLIT, cdiv(M, BM)
#pragma autotune shared SMEM
#pragma autotune workspace KSPLIT > 1 ? cdiv(N, BN) * cdiv(M, BM) * (KSPLIT * BM * BN + 1) * 4 : 0

// VEC elements of T from p into out, in 16-byte accesses (8, 4, 2 or 1 byte below
// that); p must be aligned to min(VEC * sizeof(T), 16).
template <typename T, int VEC> __device__ __forceinline__ void skinny_load(T *out,
                                                                         const T *p)
{
  constexpr int BYTES = VEC * (int)sizeof(T);
  if constexpr (BYTES >= 16) {
#pragma unroll
    for (int b = 0; b < BYTES; b += 16) {
      at_uint4 v = at_load_b128((const char *)(const void *)p + b);
      at_memcpy((char *)(void *)out + b, &v, 16);
    }
  } else if constexpr (BYTES == 8) {
    at_uint2 v = at_load_b64(p);
    at_memcpy(out, &v, 8);
  } else if constexpr (BYTES == 4) {
    unsigned int v = *(const unsigned int *)(const void *)p;
    at_memcpy(out, &v, 4);
  } else {
    out[0] = p[0];
  }
}

// The VEC elements of T at p, of which the first `valid` exist: one access where all
// exist and p is aligned, else element by element with zeros past the end.
template <typename T, int VEC> __device__ __forceinline__ void skinny_fetch(T *out,
                                                                          const T *p,
                                                                          int valid)
{
  constexpr unsigned long ALIGN = VEC * sizeof(T) < 16 ? VEC * sizeof(T) : 16;
  if (valid >= VEC && (unsigned long)p % ALIGN == 0) {
    skinny_load<T, VEC>(out, p);
  } else {
#pragma unroll
    for (int e = 0; e < VEC; e++)
      out[e] = e < valid ? p[e] : at_from_float<T>(0.0f);
  }
}

// A's chunk of the k loop: element (i, kk) of rows m0 + i, k = kc + kk (i < BM, kk < KC),
// zero outside the matrix and past ke, handed to put(i, kk, value). A stored M x K (k
// contiguous): 8 consecutive k a thread, one 16-byte read where aligned and inside;
// K x M: element by element, m fastest.
template <typename T, int BM, int KC, int THREADS, bool TRANS_A, typename Put>
__device__ __forceinline__ void skinny_stage_a(const T *A, int M, int lda, int m0, int kc,
                                               int ke, Put put)
{
  const int tid = (int)at_thread_idx_x();
  if constexpr (!TRANS_A && KC % 8 == 0) {
    for (int q = tid; q < BM * KC / 8; q += THREADS) {
      const int i = q / (KC / 8), kk = q % (KC / 8) * 8, m = m0 + i, k = kc + kk;
      T v[8];
      skinny_fetch<T, 8>(v, A + (long)(m < M ? m : 0) * lda + k, m < M ? ke - k : 0);
#pragma unroll
      for (int e = 0; e < 8; e++)
        put(i, kk + e, v[e]);
    }
  } else {
    for (int q = tid; q < BM * KC; q += THREADS) {
      const int i = TRANS_A ? q % BM : q / KC, kk = TRANS_A ? q / BM : q % KC;
      const int m = m0 + i, k = kc + kk;
      T a = at_from_float<T>(0.0f);
      if (m < M && k < ke)
        a = TRANS_A ? A[(long)k * lda + m] : A[(long)m * lda + k];
      put(i, kk, a);
    }
  }
}

#if AT_HAS_MMA_SYNC
// d += a * b on packed fragments (at_mma.h); the last argument picks the type.
AT_DEV void skinny_mma_step(float d[4], const unsigned int a[4], const unsigned int b[2],
                            const at_half *)
{
  at_mma_m16n8k16_f32_f16_packed(d, a, b, d);
}
AT_DEV void skinny_mma_step(float d[4], const unsigned int a[4], const unsigned int b[2],
                            const at_bfloat16 *)
{
  at_mma_m16n8k16_f32_bf16_packed(d, a, b, d);
}
#endif

// The FMA path: the block's partial sums over k in [kb, ke) into red[BM][BN] (shared
// memory, which also holds A's chunk during the loop). Every thread calls it.
template <typename T, int BM, int THREADS, int LANES, int VEC, int CN, int U, int PF,
          bool TRANS_A, bool TRANS_B>
__device__ __forceinline__ void skinny_fma(const T *A, const T *B, int M, int N, int lda,
                                           int ldb, int m0, int n0, int kb, int ke,
                                           float *smem)
{
  constexpr int GROUPS = THREADS / LANES;
  constexpr int BN = TRANS_B ? GROUPS * CN : LANES * VEC * CN;
  constexpr int KC = TRANS_B ? LANES * VEC * U : GROUPS * U;
  constexpr int NACC = TRANS_B ? CN : CN * VEC; // output columns per thread
  float *const As = smem;                       // [BM][KC] during the k loop
  float *const red = smem;                      // [BM][BN] after it
  const int tid = (int)at_thread_idx_x();
  const int lane = tid % LANES, grp = tid / LANES;

  float acc[BM][NACC];
#pragma unroll
  for (int i = 0; i < BM; i++)
#pragma unroll
    for (int j = 0; j < NACC; j++)
      acc[i][j] = 0.0f;

  // chunk kc's weight into w
  auto fetch = [&](T(&w)[U][CN][VEC], int kc) {
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int c = 0; c < CN; c++) {
        if (TRANS_B) { // B stored N x K: row n, k along the row
          const int n = n0 + grp * CN + c, k = kc + u * LANES * VEC + lane * VEC;
          const int valid = n < N ? ke - k : 0;
          skinny_fetch<T, VEC>(w[u][c], B + (long)(n < N ? n : 0) * ldb + k, valid);
        } else { // B stored K x N: row k, n along the row
          const int k = kc + u * GROUPS + grp, n = n0 + c * LANES * VEC + lane * VEC;
          const int valid = k < ke ? N - n : 0;
          skinny_fetch<T, VEC>(w[u][c], B + (long)(k < ke ? k : kb) * ldb + n, valid);
        }
      }
  };
  T w[U][CN][VEC], wn[U][CN][VEC];
  if (PF && kb < ke)
    fetch(w, kb);
  for (int kc = kb; kc < ke; kc += KC) {
    // The weight first, so that its loads are in flight while A is staged (PF: the next
    // chunk's; this one's came with the previous step).
    const bool next = PF && kc + KC < ke;
    if (!PF)
      fetch(w, kc);
    else if (next)
      fetch(wn, kc + KC);
    // A's chunk: rows m0.., k = kc..kc+KC, zero outside the matrix and the slice.
    skinny_stage_a<T, BM, KC, THREADS, TRANS_A>(A, M, lda, m0, kc, ke, [&](int i, int kk, T v) {
      int at = kk;
      if (TRANS_B) { // interleave: u block, then element e of each lane's vector
        const int u = kk / (LANES * VEC), r = kk % (LANES * VEC);
        at = u * LANES * VEC + (r % VEC) * LANES + r / VEC;
      }
      As[i * KC + at] = at_to_float(v);
    });
    at_syncthreads();
#pragma unroll
    for (int u = 0; u < U; u++) {
      if (TRANS_B) {
#pragma unroll
        for (int e = 0; e < VEC; e++) {
          float wv[CN];
#pragma unroll
          for (int c = 0; c < CN; c++)
            wv[c] = at_to_float(w[u][c][e]);
          const float *a_col = As + u * LANES * VEC + e * LANES + lane;
#pragma unroll
          for (int i = 0; i < BM; i++) {
            const float a = a_col[i * KC];
#pragma unroll
            for (int c = 0; c < CN; c++)
              acc[i][c] += a * wv[c];
          }
        }
      } else {
        float wv[CN * VEC];
#pragma unroll
        for (int c = 0; c < CN; c++)
#pragma unroll
          for (int e = 0; e < VEC; e++)
            wv[c * VEC + e] = at_to_float(w[u][c][e]);
        const float *a_col = As + u * GROUPS + grp;
#pragma unroll
        for (int i = 0; i < BM; i++) {
          const float a = a_col[i * KC];
#pragma unroll
          for (int j = 0; j < CN * VEC; j++)
            acc[i][j] += a * wv[j];
        }
      }
    }
    at_syncthreads();
    if (next)
      at_memcpy(w, wn, sizeof w);
  }

  // The block's partial tile into red[BM][BN] (As is free: the loop ended on a barrier,
  // and a block with an empty slice never touched it).
  if (TRANS_B) {
#pragma unroll
    for (int i = 0; i < BM; i++)
#pragma unroll
      for (int c = 0; c < CN; c++) {
        float v = acc[i][c];
#pragma unroll
        for (int off = LANES / 2; off > 0; off /= 2)
          v += at_shfl_xor(v, off, LANES);
        if (lane == 0)
          red[i * BN + grp * CN + c] = v;
      }
  } else {
    for (int g = 0; g < GROUPS; g++) {
      if (grp == g) {
#pragma unroll
        for (int i = 0; i < BM; i++)
#pragma unroll
          for (int c = 0; c < CN; c++)
#pragma unroll
            for (int e = 0; e < VEC; e++) {
              float *r = red + i * BN + c * LANES * VEC + lane * VEC + e;
              *r = g == 0 ? acc[i][c * VEC + e] : *r + acc[i][c * VEC + e];
            }
      }
      at_syncthreads();
    }
  }
}

// The matrix-core path (mma.sync m16n8k16, f16/bf16, weight N x K; LANES 4, VEC 8): the
// same partial sums as skinny_fma. Warp w owns columns n0 + (w * CN + c) * 8 + 0..7;
// lane l loads 16 bytes of weight row lane/4 at k offset (l % 4) * 8 of each 32-deep
// block, which are the B fragments of two m16n8k16 steps once k is renumbered alike in
// A and B (a dot product does not depend on the order of k): step s, register r, half h
// is k = (l % 4) * 8 + 4 s + 2 r + h, where the PTX layout (PTX ISA, "Matrix Fragments
// for mma.m16n8k16") says k = (l % 4) * 2 + h + 8 r. A's fragments then are 16-byte
// reads of rows l/4 and l/4 + 8 at the same offset, from A's chunk staged as T in shared
// memory (rows padded by 8 elements against bank conflicts).
template <typename T, int BM, int THREADS, int CN, int U, int PF, bool TRANS_A>
__device__ __forceinline__ void skinny_mma(const T *A, const T *B, int M, int N, int lda,
                                           int ldb, int m0, int n0, int kb, int ke,
                                           float *smem)
{
#if AT_HAS_MMA_SYNC
  constexpr int VEC = 8, KC = 32 * U, KCP = KC + 8, MT = BM / 16;
  constexpr int BN = THREADS / 4 * CN;
  static_assert(BM % 16 == 0 && sizeof(T) == 2, "gemm_skinny: mma needs 16-row tiles of f16/bf16");
  T *const As = (T *)(void *)smem; // [BM][KCP] during the k loop
  float *const red = smem;         // [BM][BN] after it
  const int tid = (int)at_thread_idx_x();
  const int l = tid % 32, w = tid / 32;
  float d[MT][CN][4];
#pragma unroll
  for (int t = 0; t < MT; t++)
#pragma unroll
    for (int c = 0; c < CN; c++)
#pragma unroll
      for (int q = 0; q < 4; q++)
        d[t][c][q] = 0.0f;

  auto fetch = [&](T(&wt)[U][CN][VEC], int kc) {
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int c = 0; c < CN; c++) {
        const int n = n0 + (w * CN + c) * 8 + l / 4, k = kc + u * 32 + (l % 4) * VEC;
        const int valid = n < N ? ke - k : 0;
        skinny_fetch<T, VEC>(wt[u][c], B + (long)(n < N ? n : 0) * ldb + k, valid);
      }
  };
  T wt[U][CN][VEC], wn[U][CN][VEC];
  if (PF && kb < ke)
    fetch(wt, kb);
  for (int kc = kb; kc < ke; kc += KC) {
    const bool next = PF && kc + KC < ke; // as skinny_fma's
    if (!PF)
      fetch(wt, kc);
    else if (next)
      fetch(wn, kc + KC);
    skinny_stage_a<T, BM, KC, THREADS, TRANS_A>(A, M, lda, m0, kc, ke,
                                                [&](int i, int kk, T v) { As[i * KCP + kk] = v; });
    at_syncthreads();
#pragma unroll
    for (int u = 0; u < U; u++) {
#pragma unroll
      for (int t = 0; t < MT; t++) {
        const int off = u * 32 + (l % 4) * VEC;
        const at_uint4 lo = at_load_b128(As + (t * 16 + l / 4) * KCP + off);
        const at_uint4 hi = at_load_b128(As + (t * 16 + l / 4 + 8) * KCP + off);
        unsigned int r0[4], r1[4];
        at_memcpy(r0, &lo, 16);
        at_memcpy(r1, &hi, 16);
#pragma unroll
        for (int c = 0; c < CN; c++) {
          unsigned int wq[4];
          at_memcpy(wq, wt[u][c], 16);
#pragma unroll
          for (int st = 0; st < 2; st++) {
            const unsigned int a[4] = {r0[2 * st], r1[2 * st], r0[2 * st + 1], r1[2 * st + 1]};
            const unsigned int b[2] = {wq[2 * st], wq[2 * st + 1]};
            skinny_mma_step(d[t][c], a, b, (const T *)0);
          }
        }
      }
    }
    at_syncthreads();
    if (next)
      at_memcpy(wt, wn, sizeof wt);
  }
  // D fragment: d0, d1 at row l/4, columns (l % 4) * 2 + 0, 1; d2, d3 eight rows down.
#pragma unroll
  for (int t = 0; t < MT; t++)
#pragma unroll
    for (int c = 0; c < CN; c++) {
      const int row = t * 16 + l / 4, col = (w * CN + c) * 8 + (l % 4) * 2;
      red[row * BN + col] = d[t][c][0];
      red[row * BN + col + 1] = d[t][c][1];
      red[(row + 8) * BN + col] = d[t][c][2];
      red[(row + 8) * BN + col + 1] = d[t][c][3];
    }
#else
  static_assert(BM < 0, "gemm_skinny: MMA = 1 on a target without mma.sync");
  (void)A, (void)B, (void)M, (void)N, (void)lda, (void)ldb, (void)m0, (void)n0, (void)kb,
      (void)ke, (void)smem;
#endif
}

template <typename T, int BM, int THREADS, int LANES, int VEC, int CN, int U, int KSPLIT,
          int MMA, int PF, bool TRANS_A, bool TRANS_B>
__device__ void gemm_skinny(const T *A, const T *B, T *C, int M, int N, int K, int lda,
                            int ldb, int ldc, float alpha, float beta, void *WS)
{
  constexpr int GROUPS = THREADS / LANES;
  constexpr int BN = TRANS_B ? GROUPS * CN : LANES * VEC * CN;
  constexpr int KC = TRANS_B ? LANES * VEC * U : GROUPS * U;
  constexpr int KALIGN = 8; // slice starts keep vector alignment
  constexpr int FLAG = BM * KC > BM * BN ? BM * KC : BM * BN;
  constexpr bool USE_MMA = MMA && sizeof(T) == 2 && TRANS_B && LANES == 4 && VEC == 8 &&
                           BM % 16 == 0; // f32 (and anything else) takes the FMA path
  static_assert(THREADS % LANES == 0, "gemm_skinny: LANES divides THREADS");
  AT_DYNAMIC_SHARED(float, smem);
  float *const red = smem; // [BM][BN]: the block's partial tile

  const int tid = (int)at_thread_idx_x();
  const int n0 = (int)at_block_idx_x() * BN, split = (int)at_block_idx_y();
  const int m0 = (int)at_block_idx_z() * BM;
  const int kper = (K + KSPLIT - 1) / KSPLIT;
  const int kstep = (kper + KALIGN - 1) / KALIGN * KALIGN;
  const int kb = split * kstep;
  const int ke = kb + kstep < K ? kb + kstep : K;

  if constexpr (USE_MMA)
    skinny_mma<T, BM, THREADS, CN, U, PF, TRANS_A>(A, B, M, N, lda, ldb, m0, n0, kb, ke,
                                                   smem);
  else
    skinny_fma<T, BM, THREADS, LANES, VEC, CN, U, PF, TRANS_A, TRANS_B>(A, B, M, N, lda, ldb,
                                                                        m0, n0, kb, ke, smem);
  at_syncthreads();

  if (KSPLIT > 1) {
    const long tile = (long)at_block_idx_z() * at_grid_dim_x() + at_block_idx_x();
    const long ntiles = (long)at_grid_dim_x() * at_grid_dim_z();
    float *const parts = (float *)WS + tile * KSPLIT * BM * BN;
    unsigned int *const count = (unsigned int *)((float *)WS + ntiles * KSPLIT * BM * BN) + tile;
    for (int q = tid; q < BM * BN; q += THREADS)
      parts[(long)split * BM * BN + q] = red[q];
    at_threadfence();
    at_syncthreads();
    if (tid == 0)
      smem[FLAG] = at_atomic_add_u32(count, 1u) == (unsigned int)(KSPLIT - 1) ? 1.0f : 0.0f;
    at_syncthreads();
    if (smem[FLAG] == 0.0f)
      return;
    at_threadfence();
    // Every slice's value is requested before any is zeroed, so that the KSPLIT loads are
    // in flight together (one round trip to L2, not KSPLIT: this runs after the weight's
    // stream, on the decode's critical path); the sum is still in slice order.
    for (int q = tid; q < BM * BN; q += THREADS) {
      float v[KSPLIT];
#pragma unroll
      for (int p = 0; p < KSPLIT; p++)
        v[p] = at_load_f32_coherent(parts + (long)p * BM * BN + q);
      float s = 0.0f;
#pragma unroll
      for (int p = 0; p < KSPLIT; p++) {
        s += v[p];
        parts[(long)p * BM * BN + q] = 0.0f;
      }
      red[q] = s;
    }
    if (tid == 0)
      *count = 0u;
    at_syncthreads();
  }

  for (int q = tid; q < BM * BN; q += THREADS) {
    const int i = q / BN, j = q % BN, row = m0 + i, col = n0 + j;
    if (row >= M || col >= N)
      continue;
    T *const c = C + (long)row * ldc + col;
    float out = alpha * red[q];
    if (beta != 0.0f)
      out += beta * at_to_float(*c);
    *c = at_from_float<T>(out);
  }
}
