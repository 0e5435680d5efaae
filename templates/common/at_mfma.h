// at_mfma.h - CDNA matrix fused multiply-add (MFMA), one function per instruction, for
// a wave of 64: v_mfma_f32_32x32x8f16, _16x16x16f16, _32x32x8bf16_1k, _16x16x16bf16_1k,
// _32x32x2f32 and _16x16x4f32 (gfx90a, gfx942; CDNA3 spells them v_mfma_f32_32x32x8_f16
// and so on). On HIP they are clang's __builtin_amdgcn_mfma_* (clang
// BuiltinsAMDGPU.def); on the host (at_host_mfma.h) they are emulated with the register layouts of the
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
#include "at_host_mfma.h" // the emulation, and the instructions below on the host
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
#endif
#endif

#endif
