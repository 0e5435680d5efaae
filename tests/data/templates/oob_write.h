// oob_write.h - a GEMM template (the contract of tuner/ops/op_gemm.h) with a planted
// out-of-bounds write, for tests/test_tune.c: PLANT=0 is correct; PLANT=1 computes the
// same C and also writes 3 elements past its end. On the host device such a write used to
// land in the heap unseen, so the variant came out `ok` and could win; the host backend's
// red zones make it a `fault` naming C and the byte offsets.
#include "at_common.h"

#pragma autotune kernel oob_write
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune param PLANT = 0, 1
#pragma autotune derive A_T = TA == 1
#pragma autotune derive B_T = TB == 1
#pragma autotune threads 8, 8
#pragma autotune grid cdiv(N, 8), cdiv(M, 8)

template <typename T, int PLANT, bool A_T, bool B_T>
__device__ void oob_write(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                          int ldc, float alpha, float beta)
{
  const long i = (long)at_block_idx_y() * 8 + at_thread_idx_y();
  const long j = (long)at_block_idx_x() * 8 + at_thread_idx_x();
  if (i >= M || j >= N)
    return;
  float acc = 0.0f;
  for (long k = 0; k < K; k++)
    acc += at_to_float(A_T ? A[k * lda + i] : A[i * lda + k]) *
           at_to_float(B_T ? B[j * ldb + k] : B[k * ldb + j]);
  float out = alpha * acc;
  if (beta != 0.0f)
    out += beta * at_to_float(C[i * ldc + j]);
  C[i * ldc + j] = at_from_float<T>(out);
  if (PLANT == 1 && i == M - 1 && j == N - 1)
    for (long e = 0; e < 3; e++)
      ((volatile T *)C)[(long)M * ldc + e] = at_from_float<T>(out);
}
