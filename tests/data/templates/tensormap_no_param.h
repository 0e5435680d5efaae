// tensormap_no_param.h - a tensormap whose kernel does not end with tmap_X.
#include "at_tma.h"
#pragma autotune kernel k
#pragma autotune tensormap X box(64, BLOCK) swizzle(128)
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(const float *X, const at_tensormap &map, int n) { (void)X; (void)map; (void)n; }
