// at_types.h - the element types of the portability layer: at_half (IEEE 754 binary16)
// and at_bfloat16 (bfloat16: the top half of a binary32), both stored as their 16 bits,
// with round-to-nearest-even conversion from float that handles NaN (kept NaN, made
// quiet), infinities, subnormals and overflow to infinity; the 8- and 16-byte vector
// types at_uint2/at_uint4/at_float2/at_float4; bit casts; and for C++ the generic
// at_to_float()/at_from_float<T>() a template uses on its dtype parameter. On the GPU
// the conversions are the hardware's (PTX ISA, "cvt": cvt.rn.f16.f32, cvt.rn.bf16.f32 on
// sm_80+, cvt.f32.f16; on AMD clang's _Float16 conversions, V_CVT_F16_F32/V_CVT_F32_F16);
// the portable code (IEEE 754-2008 section 4.3.1 roundTiesToEven) runs on the host and
// where no instruction exists (bf16 on CDNA). With AT_EMU_ONLY defined and no
// at_common.h, the host parts compile as C11 too, for the tests.
#if !defined(AT_COMMON_H) && !defined(AT_EMU_ONLY)
#include "at_common.h"
#endif
#ifndef AT_TYPES_H
#define AT_TYPES_H

#ifndef AT_DEV // AT_EMU_ONLY: the host emulation alone, C or C++
#define AT_HOST 1
#define AT_DEV static inline
#endif

typedef struct at_half {
  unsigned short bits;
} at_half;
typedef struct at_bfloat16 {
  unsigned short bits;
} at_bfloat16;

typedef struct __attribute__((aligned(8))) at_uint2 {
  unsigned int x, y;
} at_uint2;
typedef struct __attribute__((aligned(16))) at_uint4 {
  unsigned int x, y, z, w;
} at_uint4;
typedef struct __attribute__((aligned(8))) at_float2 {
  float x, y;
} at_float2;
typedef struct __attribute__((aligned(16))) at_float4 {
  float x, y, z, w;
} at_float4;

// ---- bit casts ----
#if defined(AT_CUDA)
AT_DEV unsigned int at_float_as_uint(float f) { return __float_as_uint(f); }
AT_DEV float at_uint_as_float(unsigned int u) { return __uint_as_float(u); }
#elif defined(AT_HIP)
AT_DEV unsigned int at_float_as_uint(float f) { return __builtin_bit_cast(unsigned int, f); }
AT_DEV float at_uint_as_float(unsigned int u) { return __builtin_bit_cast(float, u); }
#else
AT_DEV unsigned int at_float_as_uint(float f)
{
  unsigned int u;
  __builtin_memcpy(&u, &f, sizeof u);
  return u;
}
AT_DEV float at_uint_as_float(unsigned int u)
{
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}
#endif

// Copy n bytes (small, constant: the compiler keeps it in registers). NVRTC knows no
// __builtin_memcpy but has memcpy built in (nvcc declares it for the device). Not a byte
// loop: ptxas kept that one byte at a time (two halves into a word were 2 conversions
// and 9 shifts and masks, not one F2FP.PACK_AB; every epilogue pair and vector unpack).
#if defined(AT_CUDA)
AT_DEV void at_memcpy(void *dst, const void *src, unsigned long n)
{
  memcpy(dst, src, n);
}
#else
AT_DEV void at_memcpy(void *dst, const void *src, unsigned long n)
{
  __builtin_memcpy(dst, src, n);
}
#endif

// ---- portable conversions (bits in, bits out) ----

// binary16 -> binary32 is exact: subnormal halves become normal floats.
AT_DEV float at_half_bits_to_float_sw(unsigned short h)
{
  unsigned int sign = (unsigned int)(h & 0x8000u) << 16;
  unsigned int exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0x1f) // inf, or NaN with its payload in the top mantissa bits
    return at_uint_as_float(sign | 0x7f800000u | (man << 13));
  if (exp == 0) {
    if (man == 0)
      return at_uint_as_float(sign);
    // subnormal: man * 2^-24, normalised
    int e = 113;
    while (!(man & 0x400u)) {
      man <<= 1;
      e--;
    }
    return at_uint_as_float(sign | ((unsigned int)e << 23) | ((man & 0x3ffu) << 13));
  }
  return at_uint_as_float(sign | ((exp + 112u) << 23) | (man << 13));
}

// Shift m right by s (1..31), rounding to nearest, ties to even.
AT_DEV unsigned int at_rne_shift(unsigned int m, unsigned int s)
{
  unsigned int q = m >> s, rem = m & ((1u << s) - 1u), half = 1u << (s - 1);
  return q + (rem > half || (rem == half && (q & 1u)));
}

// binary32 -> binary16, round to nearest even. A carry out of the mantissa moves into
// the exponent by itself: 0x3ff + 1 at the top exponent is 0x7c00, infinity.
AT_DEV unsigned short at_float_to_half_bits_sw(float f)
{
  unsigned int x = at_float_as_uint(f);
  unsigned int sign = (x >> 16) & 0x8000u;
  unsigned int exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
  if (exp == 0xff) // NaN stays NaN (quiet bit set, top payload kept); inf stays inf
    return (unsigned short)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0u));
  if (exp >= 143) // 2^16 and up: beyond every half, infinity
    return (unsigned short)(sign | 0x7c00u);
  if (exp >= 113) // a normal half (or rounds up to infinity)
    return (unsigned short)(sign + (((exp - 112u) << 10 | man >> 13) +
                                    (at_rne_shift(man, 13) - (man >> 13))));
  if (exp < 102) // below 2^-25: rounds to zero (2^-25 itself is a tie, to even: zero)
    return (unsigned short)sign;
  // a half subnormal n * 2^-24 (n may round up to 0x400, the least normal)
  return (unsigned short)(sign | at_rne_shift(man | 0x800000u, 126u - exp));
}

AT_DEV float at_bfloat16_bits_to_float_sw(unsigned short b)
{
  return at_uint_as_float((unsigned int)b << 16);
}

// binary32 -> bfloat16: drop 16 bits, round to nearest even; the carry may reach the
// exponent (and infinity), which is the right answer. NaN is kept NaN and made quiet.
AT_DEV unsigned short at_float_to_bfloat16_bits_sw(float f)
{
  unsigned int x = at_float_as_uint(f);
  if ((x & 0x7fffffffu) > 0x7f800000u)
    return (unsigned short)((x >> 16) | 0x40u);
  return (unsigned short)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// ---- the conversions a kernel calls ----
#if defined(AT_CUDA)
AT_DEV float at_half_bits_to_float(unsigned short h)
{
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
AT_DEV unsigned short at_float_to_half_bits(float f)
{
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
AT_DEV unsigned short at_float_to_bfloat16_bits(float f)
{
#if __CUDA_ARCH__ >= 800
  unsigned short h;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
#else
  return at_float_to_bfloat16_bits_sw(f);
#endif
}
#elif defined(AT_HIP)
AT_DEV float at_half_bits_to_float(unsigned short h)
{
  return (float)__builtin_bit_cast(_Float16, h);
}
AT_DEV unsigned short at_float_to_half_bits(float f)
{
  return __builtin_bit_cast(unsigned short, (_Float16)f);
}
AT_DEV unsigned short at_float_to_bfloat16_bits(float f)
{
  return at_float_to_bfloat16_bits_sw(f);
}
#else
AT_DEV float at_half_bits_to_float(unsigned short h) { return at_half_bits_to_float_sw(h); }
AT_DEV unsigned short at_float_to_half_bits(float f) { return at_float_to_half_bits_sw(f); }
AT_DEV unsigned short at_float_to_bfloat16_bits(float f)
{
  return at_float_to_bfloat16_bits_sw(f);
}
#endif

AT_DEV float at_half_to_float(at_half h) { return at_half_bits_to_float(h.bits); }
AT_DEV at_half at_float_to_half(float f)
{
  at_half h;
  h.bits = at_float_to_half_bits(f);
  return h;
}
AT_DEV float at_bfloat16_to_float(at_bfloat16 b) { return at_bfloat16_bits_to_float_sw(b.bits); }
AT_DEV at_bfloat16 at_float_to_bfloat16(float f)
{
  at_bfloat16 b;
  b.bits = at_float_to_bfloat16_bits(f);
  return b;
}

#if defined(AT_HOST)
#include "at_host_emu.h"
#endif

#ifdef __cplusplus
// For templates generic over their dtype T (float, at_half or at_bfloat16):
//   float v = at_to_float(x[i]);  y[i] = at_from_float<T>(v);
AT_DEV float at_to_float(float x) { return x; }
AT_DEV float at_to_float(at_half x) { return at_half_to_float(x); }
AT_DEV float at_to_float(at_bfloat16 x) { return at_bfloat16_to_float(x); }
AT_DEV float at_from_float_(float f, const float *) { return f; }
AT_DEV at_half at_from_float_(float f, const at_half *) { return at_float_to_half(f); }
AT_DEV at_bfloat16 at_from_float_(float f, const at_bfloat16 *)
{
  return at_float_to_bfloat16(f);
}
template <typename T> AT_DEV T at_from_float(float f)
{
  return at_from_float_(f, (const T *)0);
}
#endif

#endif
