// ws_splitk.h - a GEMM template that needs a workspace, for tests/test_tune.c's test of
// `#pragma autotune workspace`: split-K over SPLIT blocks along grid z, each adding its
// partial sums into f32 slots of the workspace (atomically) and taking a ticket from its
// tile's counter; the block that draws the last ticket writes C from the slots and clears
// the slots and the counter it used, so the workspace is all zero again when the kernel
// returns, as the pragma's contract asks. DIRTY=1 forgets to clear the counter (C is still
// right): the tuner must fail that variant. Host-test only: on a GPU the ticket would also
// need a device-scope fence before it.
#include "at_common.h"

#pragma autotune kernel ws_splitk
#pragma autotune problem M, N, K, TA, TB
#pragma autotune dtype T
#pragma autotune param SPLIT = 2, 3
#pragma autotune param DIRTY = 0, 1
#pragma autotune derive A_T = TA == 1
#pragma autotune derive B_T = TB == 1
#pragma autotune threads 8, 8
#pragma autotune grid cdiv(N, 8), cdiv(M, 8), SPLIT
#pragma autotune shared 4
// M * N partial sums, then one counter per 8 x 8 tile of C.
#pragma autotune workspace (M * N + cdiv(M, 8) * cdiv(N, 8)) * sizeof_f32

template <typename T, int SPLIT, int DIRTY, bool A_T, bool B_T>
__device__ void ws_splitk(const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb,
                          int ldc, float alpha, float beta, void *WS)
{
  AT_DYNAMIC_SHARED(int, last);
  float *const part = (float *)WS;
  unsigned int *const count = (unsigned int *)(part + (long)M * N);
  const long i = (long)at_block_idx_y() * 8 + at_thread_idx_y();
  const long j = (long)at_block_idx_x() * 8 + at_thread_idx_x();
  const int z = (int)at_block_idx_z(), per = (K + SPLIT - 1) / SPLIT;
  const long k0 = (long)z * per, k1 = k0 + per < K ? k0 + per : K;
  if (i < M && j < N) {
    float acc = 0.0f;
    for (long k = k0; k < k1; k++)
      acc += at_to_float(A_T ? A[k * lda + i] : A[i * lda + k]) *
             at_to_float(B_T ? B[j * ldb + k] : B[k * ldb + j]);
    at_atomic_add_f32(&part[i * N + j], acc);
  }
  at_syncthreads();
  const long tile = (long)at_block_idx_y() * ((N + 7) / 8) + at_block_idx_x();
  if (at_thread_idx_x() == 0 && at_thread_idx_y() == 0)
    last[0] = at_atomic_add_u32(&count[tile], 1u) == (unsigned int)(SPLIT - 1);
  at_syncthreads();
  if (!last[0])
    return;
  if (i < M && j < N) {
    float out = alpha * at_atomic_add_f32(&part[i * N + j], 0.0f);
    if (beta != 0.0f)
      out += beta * at_to_float(C[i * ldc + j]);
    C[i * ldc + j] = at_from_float<T>(out);
    part[i * N + j] = 0.0f;
  }
  if (!DIRTY && at_thread_idx_x() == 0 && at_thread_idx_y() == 0)
    count[tile] = 0u;
}
