// refill.h - a GEMM template (the contract of tuner/ops/op_gemm.h) for tests/test_tune.c
// in which every third variant fails to compile: PICK 1, 4, 7 and 10 are a
// static_assert. With a budget, the picks that fail must be replaced by the strategy's
// next ones (tune.c's refill; search.h's SEARCH_UNBUILT), so that the budget's worth of
// variants is measured. The middle config, PICK 6, compiles (the default).
// For M = 17 (MID) PICK 0 to 8 fail instead: the default and a budget of 2's first picks
// among them, so the refill must find a default too (PICK 9) and the picks after it.
#include "at_common.h"

#pragma autotune kernel refill
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune param PICK = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
#pragma autotune derive A_T = TA == 1
#pragma autotune derive B_T = TB == 1
#pragma autotune derive MID = M == 17
#pragma autotune threads 8, 8
#pragma autotune grid cdiv(N, 8), cdiv(M, 8)

template <typename T, int PICK, bool A_T, bool B_T, bool MID>
__device__ void refill(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                       int ldc, float alpha, float beta)
{
  static_assert(MID ? PICK > 8 : PICK % 3 != 1,
                "planted compile error (tests/data/templates/refill.h)");
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
}
