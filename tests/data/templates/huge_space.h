// huge_space.h - a template whose space has 10^9 configs and no constraint, for
// tests/test_generate.c: the enumeration refuses it, naming its size (GEN_SPACE_MAX_CONFIGS,
// docs/templates.md), instead of gathering it until memory runs out.
#include "at_common.h"

#pragma autotune kernel huge_space
#pragma autotune param A = range(0, 9)
#pragma autotune param B = range(0, 9)
#pragma autotune param C = range(0, 9)
#pragma autotune param D = range(0, 9)
#pragma autotune param E = range(0, 9)
#pragma autotune param F = range(0, 9)
#pragma autotune param G = range(0, 9)
#pragma autotune param H = range(0, 9)
#pragma autotune param I = range(0, 9)
#pragma autotune threads 32
#pragma autotune grid 1

template <int A, int B, int C, int D, int E, int F, int G, int H, int I>
__device__ void huge_space(float *y)
{
  y[at_thread_idx_x()] = A + B + C + D + E + F + G + H + I;
}
