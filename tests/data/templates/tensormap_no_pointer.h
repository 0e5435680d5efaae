// tensormap_no_pointer.h - a tensormap over a parameter that is no pointer.
#include "at_tma.h"
#pragma autotune kernel k
#pragma autotune tensormap n box(64, BLOCK) swizzle(0)
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(const float *X, int n, const at_tensormap &tmap_n) { (void)X; (void)n; (void)tmap_n; }
