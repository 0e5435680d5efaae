// tune_small.h - a small GEMM template for tests/test_tune.c: one thread per element of C
// (as templates/gemm/gemm_naive.h), BX x 4 threads a block, with a block width and a K unroll to tune, 6 configs.
// It meets the GEMM contract (tuner/ops/op_gemm.h) for every layout and dtype.
#include "at_common.h"

#pragma autotune kernel tune_small
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune param BX = 8, 16, 32
#pragma autotune param UNROLL = 1, 2
#pragma autotune derive A_T = TA == 1
#pragma autotune derive B_T = TB == 1
#pragma autotune threads BX, 4
#pragma autotune grid cdiv(N, BX), cdiv(M, 4)

template <typename T, int BX, int UNROLL, bool A_T, bool B_T>
__device__ void tune_small(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                           int ldc, float alpha, float beta)
{
  const long i = (long)at_block_idx_y() * 4 + at_thread_idx_y();
  const long j = (long)at_block_idx_x() * BX + at_thread_idx_x();
  if (i >= M || j >= N)
    return;
  float acc = 0.0f;
  long k = 0;
  for (; k + UNROLL <= K; k += UNROLL)
    for (int u = 0; u < UNROLL; u++)
      acc += at_to_float(A_T ? A[(k + u) * lda + i] : A[i * lda + k + u]) *
             at_to_float(B_T ? B[j * ldb + k + u] : B[(k + u) * ldb + j]);
  for (; k < K; k++)
    acc += at_to_float(A_T ? A[k * lda + i] : A[i * lda + k]) *
           at_to_float(B_T ? B[j * ldb + k] : B[k * ldb + j]);
  float out = alpha * acc;
  if (beta != 0.0f)
    out += beta * at_to_float(C[i * ldc + j]);
  C[i * ldc + j] = at_from_float<T>(out);
}
