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
#define AT_MFMA_PROBE16(name, T, nreg, instr)                                                \
  extern "C" __global__ void name(const T *a, const T *b, const float *c, float *d,         \
                                  int rounds)                                                \
  {                                                                                          \
    const int g = (int)(at_block_idx_x() * at_block_dim_x() + at_thread_idx_x());            \
    const int threads = (int)(at_grid_dim_x() * at_block_dim_x());                           \
    for (int r = 0; r < rounds; r++) {                                                       \
      const int at = r * threads + g;                                                        \
      T fa[4], fb[4];                                                                        \
      float acc[nreg];                                                                       \
      for (int e = 0; e < 4; e++) {                                                          \
        fa[e] = a[at * 4 + e];                                                               \
        fb[e] = b[at * 4 + e];                                                               \
      }                                                                                      \
      for (int i = 0; i < nreg; i++)                                                         \
        acc[i] = c[at * nreg + i];                                                           \
      instr(acc, fa, fb, acc);                                                               \
      for (int i = 0; i < nreg; i++)                                                         \
        d[at * nreg + i] = acc[i];                                                           \
    }                                                                                        \
  }
AT_MFMA_PROBE16(probe_mfma_32x32x8f16, at_half, 16, at_mfma_f32_32x32x8f16)
AT_MFMA_PROBE16(probe_mfma_16x16x16f16, at_half, 4, at_mfma_f32_16x16x16f16)
AT_MFMA_PROBE16(probe_mfma_32x32x8bf16_1k, at_bfloat16, 16, at_mfma_f32_32x32x8bf16_1k)
AT_MFMA_PROBE16(probe_mfma_16x16x16bf16_1k, at_bfloat16, 4, at_mfma_f32_16x16x16bf16_1k)

#define AT_MFMA_PROBE32(name, nreg, instr)                                                   \
  extern "C" __global__ void name(const float *a, const float *b, const float *c, float *d, \
                                  int rounds)                                                \
  {                                                                                          \
    const int g = (int)(at_block_idx_x() * at_block_dim_x() + at_thread_idx_x());            \
    const int threads = (int)(at_grid_dim_x() * at_block_dim_x());                           \
    for (int r = 0; r < rounds; r++) {                                                       \
      const int at = r * threads + g;                                                        \
      float acc[nreg];                                                                       \
      for (int i = 0; i < nreg; i++)                                                         \
        acc[i] = c[at * nreg + i];                                                           \
      instr(acc, a[at * 4], b[at * 4], acc);                                                 \
      for (int i = 0; i < nreg; i++)                                                         \
        d[at * nreg + i] = acc[i];                                                           \
    }                                                                                        \
  }
AT_MFMA_PROBE32(probe_mfma_32x32x2f32, 16, at_mfma_f32_32x32x2f32)
AT_MFMA_PROBE32(probe_mfma_16x16x4f32, 4, at_mfma_f32_16x16x4f32)
#endif
