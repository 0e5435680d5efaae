// tensormap_syntax.h - a tensormap pragma without its swizzle.
#include "at_tma.h"
#pragma autotune kernel k
#pragma autotune tensormap X box(64, BLOCK)
#pragma autotune param BLOCK = 64, 128
#pragma autotune threads BLOCK
#pragma autotune grid 1
template <int BLOCK>
__device__ void k(const float *X, const at_tensormap &tmap_X) { (void)X; (void)tmap_X; }
