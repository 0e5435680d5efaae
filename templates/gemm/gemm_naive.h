// gemm_naive.h - the baseline GEMM: one thread per element of C, a plain loop over K
// reading A and B straight from global memory, no tiling, no shared memory. It meets the
// GEMM contract (tuner/ops/op_gemm.h: every layout, dtype and M, N, K >= 1, beta == 0 never
// reading C) with a single config, so that `autotune gemm` can measure it next to the
// tuned templates in the same run and report the speed-up over it. It is not a template
// to tune: the tuner leaves it out of the default set and uses it as the baseline.
#include "at_common.h"

#pragma autotune kernel gemm_naive
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune param TILE = 16
#pragma autotune derive A_T = TA == 1
// f32 FMA on the vector units, no matrix cores: the cost model's peak (pipe_model.h)
#pragma autotune derive MATRIX_CORES = 0
#pragma autotune derive B_T = TB == 1
#pragma autotune threads TILE, TILE
#pragma autotune grid cdiv(N, TILE), cdiv(M, TILE)

template <typename T, int TILE, bool A_T, bool B_T>
__device__ void gemm_naive(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                           int ldc, float alpha, float beta)
{
  const long i = (long)at_block_idx_y() * TILE + at_thread_idx_y();
  const long j = (long)at_block_idx_x() * TILE + at_thread_idx_x();
  if (i >= M || j >= N)
    return;
  float acc = 0.0f;
  for (long k = 0; k < K; k++) {
    float a = at_to_float(A_T ? A[k * lda + i] : A[i * lda + k]);
    float b = at_to_float(B_T ? B[j * ldb + k] : B[k * ldb + j]);
    acc += a * b;
  }
  float out = alpha * acc;
  if (beta != 0.0f)
    out += beta * at_to_float(C[i * ldc + j]);
  C[i * ldc + j] = at_from_float<T>(out);
}
