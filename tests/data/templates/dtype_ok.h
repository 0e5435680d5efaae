// dtype_ok.h - a valid template using everything scale.h does not: dtype, bool and
// unsigned parameters, range() and pow2(), a 2-D block, shared memory, a derived value
// passed to the kernel, a namespace, and pragmas after the kernel.
#include "at_common.h"

namespace demo {
template <typename T, int BX, int BY, bool FAST, unsigned PAD, int TILE>
__device__ void axpy(T *y, const T *x, T a, int N)
{
  int i = at_thread_idx_x() + BX * BY * at_block_idx_x();
  if (i < N && PAD + TILE > 0)
    y[i] = FAST ? x[i] : a;
}
} // namespace demo

#pragma autotune kernel axpy
#pragma autotune problem N, M   // M only to test dims
#pragma autotune dtype T
#pragma autotune param BX = pow2(32, 256)
#pragma autotune param BY = range(1, 3)
#pragma autotune param FAST = true, false
#pragma autotune param PAD = range(0, 8, 4)
#pragma autotune derive TILE = BX * BY + M - M
#pragma autotune require small: TILE <= 512 /* a comment */ && BY != 3
#pragma autotune threads BX, BY
#pragma autotune grid cdiv(N, BX * BY), 1, 1
#pragma autotune shared TILE * 4 + \
                        PAD
