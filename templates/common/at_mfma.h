// at_mfma.h - CDNA matrix fused multiply-add (MFMA), one function per instruction, for
// a wave of 64: v_mfma_f32_32x32x8f16, _16x16x16f16, _32x32x8bf16_1k, _16x16x16bf16_1k,
// _32x32x2f32 and _16x16x4f32 (gfx90a, gfx942; CDNA3 spells them v_mfma_f32_32x32x8_f16
// and so on). On HIP they are clang's __builtin_amdgcn_mfma_* (clang
// BuiltinsAMDGPU.def); on the host they are emulated with the register layouts of the
// "AMD Instinct MI300 (CDNA3) Instruction Set Architecture", chapter 7 "Matrix
// Arithmetic Instructions" (and the CDNA2 guide's chapter 7), as the AMD Matrix
// Instruction Calculator (github.com/ROCm/amd_matrix_instruction_calculator, gfx9
// --register-layout) prints them. All six are single-block instructions (the
// calculator's "blocks: 1"): 32x32x2f32 and 16x16x4f32 split K across the lane groups
// exactly like the f16 forms; the multi-block f32 forms are 32x32x1f32 (2 blocks) and
// 16x16x1f32 (4), which are not here. As in at_mma.h, each emulation is a pure function
// over all 64 lanes (at_emu_*) plus the per-lane function a kernel calls, which gathers
// the wave's A and B and computes its own lane's D. Products are summed in f32 in k
// order from c with fmaf: bit-exact against the hardware when every partial sum is
// exact; otherwise within about K * 2^-24 * sum|a*b| (f32 inputs: the hardware's
// products are rounded too, so allow the same plus one rounding per product).
#if !defined(AT_COMMON_H) && !defined(AT_EMU_ONLY)
#include "at_common.h"
#endif
#ifndef AT_MFMA_H
#define AT_MFMA_H

#include "at_types.h"

// Capability predicates: MFMA (gfx908+) and its bf16 _1k forms (gfx90a+). On the host
// they are emulated for a wave-64 object unless cc_host says it stands in for an NVIDIA
// GPU or another gfx (AT_EMULATE_NVIDIA, AT_EMULATE_GFX=0x90a ...); -D may override.
// The host pass of a HIP program (AT_HIP without __HIP_DEVICE_COMPILE__) sees them too:
// it parses the device code of the program's kernels (a tuned header's) without
// compiling it.
#ifndef AT_HAS_MFMA
#if defined(AT_HIP) && !defined(__HIP_DEVICE_COMPILE__)
#define AT_HAS_MFMA 1
#elif defined(AT_HIP) && (defined(__gfx908__) || defined(__gfx90a__) || defined(__gfx940__) || \
                        defined(__gfx941__) || defined(__gfx942__) || defined(__gfx950__))
#define AT_HAS_MFMA 1
#elif defined(AT_HOST) && AT_WAVE_SIZE == 64 && !defined(AT_EMULATE_NVIDIA) &&              \
    (!defined(AT_EMULATE_GFX) || (AT_EMULATE_GFX >= 0x908 && AT_EMULATE_GFX < 0x1000))
#define AT_HAS_MFMA 1
#else
#define AT_HAS_MFMA 0
#endif
#endif
#ifndef AT_HAS_MFMA_BF16_1K
#if AT_HAS_MFMA && !(defined(AT_HIP) && defined(__gfx908__)) &&                           \
    !(defined(AT_HOST) && defined(AT_EMULATE_GFX) && AT_EMULATE_GFX < 0x90a)
#define AT_HAS_MFMA_BF16_1K 1
#else
#define AT_HAS_MFMA_BF16_1K 0
#endif
#endif

#if defined(AT_HOST)
// ---- emulation: the documented layouts ----
//
// One block of D (M x M, M = 32 or 16) += A (M x K) * B (K x M). Each lane holds
// KL = K * M / 64 consecutive k of one row of A and of one column of B (4 f16/bf16
// values in a 64-bit register pair, low half first; 1 f32 value):
//   A[i][k]: lane (k / KL) * M + i, element k % KL
//   B[k][j]: lane (k / KL) * M + j, element k % KL
// C and D: M * M / 64 registers per lane, in groups of 4 rows:
//   register r of lane L holds D[i][j], j = L % M,
//   i = 4 * ((r / 4) * (64 / M) + L / M) + r % 4
//   (32x32: i = 8 * (r / 4) + 4 * (L / 32) + r % 4; 16x16: i = 4 * (L / 16) + r).
// a and b: lane L's elements at a[L * stride + 0..KL-1] (kind AT_EMU_F16/BF16/F32).
AT_DEV void at_emu_mfma_lane(int kind, int m, int k, const void *a, const void *b,
                             int stride, const float *c, int lane, float *d)
{
  int kl = k * m / 64, nreg = m * m / 64, j = lane % m;
  for (int r = 0; r < nreg; r++) {
    int i = 4 * ((r / 4) * (64 / m) + lane / m) + r % 4;
    float acc = c[r];
    for (int kk = 0; kk < k; kk++) {
      float x = at_emu_in(kind, a, ((kk / kl) * m + i) * stride + kk % kl);
      float y = at_emu_in(kind, b, ((kk / kl) * m + j) * stride + kk % kl);
      acc = __builtin_fmaf(x, y, acc);
    }
    d[r] = acc;
  }
}

// The pure functions: every lane's A, B and C in, every lane's D out (d may be c).
AT_DEV void at_emu_mfma_f32_32x32x8f16(const at_half a[64][4], const at_half b[64][4],
                                       const float c[64][16], float d[64][16])
{
  for (int lane = 0; lane < 64; lane++)
    at_emu_mfma_lane(AT_EMU_F16, 32, 8, &a[0][0].bits, &b[0][0].bits, 4, c[lane], lane,
                     d[lane]);
}
AT_DEV void at_emu_mfma_f32_16x16x16f16(const at_half a[64][4], const at_half b[64][4],
                                        const float c[64][4], float d[64][4])
{
  for (int lane = 0; lane < 64; lane++)
    at_emu_mfma_lane(AT_EMU_F16, 16, 16, &a[0][0].bits, &b[0][0].bits, 4, c[lane], lane,
                     d[lane]);
}
AT_DEV void at_emu_mfma_f32_32x32x8bf16_1k(const at_bfloat16 a[64][4],
                                           const at_bfloat16 b[64][4],
                                           const float c[64][16], float d[64][16])
{
  for (int lane = 0; lane < 64; lane++)
    at_emu_mfma_lane(AT_EMU_BF16, 32, 8, &a[0][0].bits, &b[0][0].bits, 4, c[lane], lane,
                     d[lane]);
}
AT_DEV void at_emu_mfma_f32_16x16x16bf16_1k(const at_bfloat16 a[64][4],
                                            const at_bfloat16 b[64][4],
                                            const float c[64][4], float d[64][4])
{
  for (int lane = 0; lane < 64; lane++)
    at_emu_mfma_lane(AT_EMU_BF16, 16, 16, &a[0][0].bits, &b[0][0].bits, 4, c[lane], lane,
                     d[lane]);
}
AT_DEV void at_emu_mfma_f32_32x32x2f32(const float a[64], const float b[64],
                                       const float c[64][16], float d[64][16])
{
  for (int lane = 0; lane < 64; lane++)
    at_emu_mfma_lane(AT_EMU_F32, 32, 2, a, b, 1, c[lane], lane, d[lane]);
}
AT_DEV void at_emu_mfma_f32_16x16x4f32(const float a[64], const float b[64],
                                       const float c[64][4], float d[64][4])
{
  for (int lane = 0; lane < 64; lane++)
    at_emu_mfma_lane(AT_EMU_F32, 16, 4, a, b, 1, c[lane], lane, d[lane]);
}
#endif

#if !defined(AT_EMU_ONLY)
#if defined(AT_HIP) && AT_HAS_MFMA
typedef _Float16 at_f16x4_t __attribute__((ext_vector_type(4)));
typedef short at_i16x4_t __attribute__((ext_vector_type(4)));
typedef float at_f32x4_t __attribute__((ext_vector_type(4)));
typedef float at_f32x16_t __attribute__((ext_vector_type(16)));

// Register images of this lane's fragments.
AT_DEV at_f16x4_t at_mfma_f16x4(const at_half x[4])
{
  at_f16x4_t v;
  for (int i = 0; i < 4; i++)
    v[i] = __builtin_bit_cast(_Float16, x[i].bits);
  return v;
}
AT_DEV at_i16x4_t at_mfma_bf16x4(const at_bfloat16 x[4])
{
  at_i16x4_t v;
  for (int i = 0; i < 4; i++)
    v[i] = (short)x[i].bits;
  return v;
}
#define AT_MFMA_HIP(builtin, n, ain, bin)                                                \
  {                                                                                      \
    at_f32x##n##_t vc;                                                                   \
    for (int i = 0; i < n; i++)                                                          \
      vc[i] = c[i];                                                                      \
    at_f32x##n##_t vd = builtin(ain, bin, vc, 0, 0, 0);                                  \
    for (int i = 0; i < n; i++)                                                          \
      d[i] = vd[i];                                                                      \
  }
AT_DEV void at_mfma_f32_32x32x8f16(float d[16], const at_half a[4], const at_half b[4],
                                   const float c[16])
AT_MFMA_HIP(__builtin_amdgcn_mfma_f32_32x32x8f16, 16, at_mfma_f16x4(a), at_mfma_f16x4(b))
AT_DEV void at_mfma_f32_16x16x16f16(float d[4], const at_half a[4], const at_half b[4],
                                    const float c[4])
AT_MFMA_HIP(__builtin_amdgcn_mfma_f32_16x16x16f16, 4, at_mfma_f16x4(a), at_mfma_f16x4(b))
#if AT_HAS_MFMA_BF16_1K
AT_DEV void at_mfma_f32_32x32x8bf16_1k(float d[16], const at_bfloat16 a[4],
                                       const at_bfloat16 b[4], const float c[16])
AT_MFMA_HIP(__builtin_amdgcn_mfma_f32_32x32x8bf16_1k, 16, at_mfma_bf16x4(a),
            at_mfma_bf16x4(b))
AT_DEV void at_mfma_f32_16x16x16bf16_1k(float d[4], const at_bfloat16 a[4],
                                        const at_bfloat16 b[4], const float c[4])
AT_MFMA_HIP(__builtin_amdgcn_mfma_f32_16x16x16bf16_1k, 4, at_mfma_bf16x4(a),
            at_mfma_bf16x4(b))
#endif
AT_DEV void at_mfma_f32_32x32x2f32(float d[16], float a, float b, const float c[16])
AT_MFMA_HIP(__builtin_amdgcn_mfma_f32_32x32x2f32, 16, a, b)
AT_DEV void at_mfma_f32_16x16x4f32(float d[4], float a, float b, const float c[4])
AT_MFMA_HIP(__builtin_amdgcn_mfma_f32_16x16x4f32, 4, a, b)
#undef AT_MFMA_HIP
#elif defined(AT_HOST)
// Gather the wave's A and B (one struct per lane), compute this lane's D.
template <typename F>
AT_DEV void at_host_mfma(int kind, int m, int k, const F &mine, int stride, const float *c,
                         float *d)
{
  if (AT_WAVE_SIZE != 64) {
    at_host_fail("MFMA needs a wave of 64 lanes (AT_WAVE_SIZE=64)");
    return;
  }
  const struct at_host_thread *t = at_host_warp_self();
  F all[AT_WAVE_SIZE];
  at_host_rt_get()->warp_gather(&mine, sizeof mine, all);
  at_emu_mfma_lane(kind, m, k, &all[0].a, &all[0].b, stride, c, (int)t->lane, d);
}
struct at_host_mfma16 {
  unsigned short a[4], b[4];
};
struct at_host_mfma32 {
  float a, b;
};
AT_DEV struct at_host_mfma16 at_host_mfma16_frag(const unsigned short *a,
                                                 const unsigned short *b)
{
  struct at_host_mfma16 f;
  for (int i = 0; i < 4; i++) {
    f.a[i] = a[i];
    f.b[i] = b[i];
  }
  return f;
}
AT_DEV void at_mfma_f32_32x32x8f16(float d[16], const at_half a[4], const at_half b[4],
                                   const float c[16])
{
  at_host_mfma(AT_EMU_F16, 32, 8, at_host_mfma16_frag(&a[0].bits, &b[0].bits), 8, c, d);
}
AT_DEV void at_mfma_f32_16x16x16f16(float d[4], const at_half a[4], const at_half b[4],
                                    const float c[4])
{
  at_host_mfma(AT_EMU_F16, 16, 16, at_host_mfma16_frag(&a[0].bits, &b[0].bits), 8, c, d);
}
AT_DEV void at_mfma_f32_32x32x8bf16_1k(float d[16], const at_bfloat16 a[4],
                                       const at_bfloat16 b[4], const float c[16])
{
  at_host_mfma(AT_EMU_BF16, 32, 8, at_host_mfma16_frag(&a[0].bits, &b[0].bits), 8, c, d);
}
AT_DEV void at_mfma_f32_16x16x16bf16_1k(float d[4], const at_bfloat16 a[4],
                                        const at_bfloat16 b[4], const float c[4])
{
  at_host_mfma(AT_EMU_BF16, 16, 16, at_host_mfma16_frag(&a[0].bits, &b[0].bits), 8, c, d);
}
AT_DEV void at_mfma_f32_32x32x2f32(float d[16], float a, float b, const float c[16])
{
  struct at_host_mfma32 f = {a, b};
  at_host_mfma(AT_EMU_F32, 32, 2, f, 2, c, d);
}
AT_DEV void at_mfma_f32_16x16x4f32(float d[4], float a, float b, const float c[4])
{
  struct at_host_mfma32 f = {a, b};
  at_host_mfma(AT_EMU_F32, 16, 4, f, 2, c, d);
}
#endif
#endif

#endif
