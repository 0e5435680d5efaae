// mfma_probe.cu - kernels that run at_mfma.h's six CDNA MFMA instructions on per-lane
// fragments given by the host and write every lane's D out, for tests/test_matrix_core.c
// (matrix_core/mfma_random_*: on the host device emulating gfx942, the instruction's own
// per-lane path, at_host_mfma, against the emulation's pure function bit for bit).
// A launch is any number of waves of 64 lanes, each running `rounds` instructions in a
// row on new operands: thread g's fragments of round r are at (r * threads + g) * 4
// (16-bit inputs; f32 inputs one value) and its C and D at (r * threads + g) * NREG.
// Includes nothing but at_common.h.
#include "at_common.h"

#if AT_HAS_MFMA
// One probe: T the input type, NREG the registers of D a lane, CALL the instruction on
// round r's fragments (at: this thread's index in the round's arrays).
#define AT_MFMA_PROBE(name, T, NREG, CALL)                                                   \
  extern "C" __global__ void name(const T *a, const T *b, const float *c, float *d,         \
                                  int rounds)                                                \
  {                                                                                          \
    const int g = (int)(at_block_idx_x() * at_block_dim_x() + at_thread_idx_x());            \
    const int threads = (int)(at_grid_dim_x() * at_block_dim_x());                           \
    for (int r = 0; r < rounds; r++) {                                                       \
      const int at = r * threads + g;                                                        \
      float acc[NREG];                                                                       \
      for (int i = 0; i < NREG; i++)                                                         \
        acc[i] = c[at * NREG + i];                                                           \
      CALL;                                                                                  \
      for (int i = 0; i < NREG; i++)                                                         \
        d[at * NREG + i] = acc[i];                                                           \
    }                                                                                        \
  }
AT_MFMA_PROBE(probe_mfma_32x32x8f16, at_half, 16,
              at_mfma_f32_32x32x8f16(acc, a + at * 4, b + at * 4, acc))
AT_MFMA_PROBE(probe_mfma_16x16x16f16, at_half, 4,
              at_mfma_f32_16x16x16f16(acc, a + at * 4, b + at * 4, acc))
AT_MFMA_PROBE(probe_mfma_32x32x8bf16_1k, at_bfloat16, 16,
              at_mfma_f32_32x32x8bf16_1k(acc, a + at * 4, b + at * 4, acc))
AT_MFMA_PROBE(probe_mfma_16x16x16bf16_1k, at_bfloat16, 4,
              at_mfma_f32_16x16x16bf16_1k(acc, a + at * 4, b + at * 4, acc))
AT_MFMA_PROBE(probe_mfma_32x32x2f32, float, 16,
              at_mfma_f32_32x32x2f32(acc, a[at * 4], b[at * 4], acc))
AT_MFMA_PROBE(probe_mfma_16x16x4f32, float, 4,
              at_mfma_f32_16x16x4f32(acc, a[at * 4], b[at * 4], acc))
#endif
