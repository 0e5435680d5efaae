// tune_faults.h - fault injection for tests/test_tune.c: a GEMM template (the contract of
// tuner/ops/op_gemm.h) whose param PLANT picks one planted failure per variant:
//   0, 1  correct (one thread per element of C)
//   2     an out-of-bounds write far outside any allocation (2^40 elements past C): fault
//   3     an infinite loop: the watchdog's timeout
//   4     a wrong answer (every element off by one): verify_failed
//   5     a static_assert: compile_error
#include "at_common.h"

#pragma autotune kernel tune_faults
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune param PLANT = 0, 1, 2, 3, 4, 5
#pragma autotune derive A_T = TA == 1
#pragma autotune derive B_T = TB == 1
#pragma autotune threads 8, 8
#pragma autotune grid cdiv(N, 8), cdiv(M, 8)

template <typename T, int PLANT, bool A_T, bool B_T>
__device__ void tune_faults(const T *A, const T *B, T *C, int M, int N, int K, int lda,
                            int ldb, int ldc, float alpha, float beta)
{
  static_assert(PLANT != 5, "planted compile error (tests/data/templates/tune_faults.h)");
  const long i = (long)at_block_idx_y() * 8 + at_thread_idx_y();
  const long j = (long)at_block_idx_x() * 8 + at_thread_idx_x();
  if (PLANT == 2 && i == 0 && j == 0)
    ((volatile T *)C)[(long)1 << 40] = C[0];
  if (PLANT == 3) {
    volatile int spin = 1;
    while (spin)
      ;
  }
  if (i >= M || j >= N)
    return;
  float acc = PLANT == 4 ? 1.0f : 0.0f;
  for (long k = 0; k < K; k++)
    acc += at_to_float(A_T ? A[k * lda + i] : A[i * lda + k]) *
           at_to_float(B_T ? B[j * ldb + k] : B[k * ldb + j]);
  float out = alpha * acc;
  if (beta != 0.0f)
    out += beta * at_to_float(C[i * ldc + j]);
  C[i * ldc + j] = at_from_float<T>(out);
}
