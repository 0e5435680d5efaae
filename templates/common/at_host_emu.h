// at_host_emu.h - how the host device's matrix-core emulations read their 16-bit and f32
// inputs.
// Included by at_types.h on the host device (AT_HOST) only: no GPU compile sees it,
// so it is outside the templates' content hash (generator/template_kernel.c); the
// host compile backend's toolchain string carries a digest of the at_host_*.h files
// instead (tuner/compile/cc_host.c), so host objects and trials still key on it.
#if !defined(AT_HOST)
#error "at_host_emu.h is the host device's (AT_HOST): include at_types.h"
#endif

// The kinds of input the matrix-core emulations (at_host_mma.h, at_host_mfma.h,
// at_host_wgmma.h) read.
enum { AT_EMU_F16 = 0, AT_EMU_BF16 = 1, AT_EMU_F32 = 2 };
// One 16-bit value h of kind AT_EMU_F16 or AT_EMU_BF16 as a float (exact): normal halves
// (nearly all) inline (the exponent + 112, sign and mantissa moved up 13 bits), the rest
// through at_types.h's conversion (which the compiler keeps out of line).
AT_DEV float at_emu_b16(int kind, unsigned short h)
{
  if (kind == AT_EMU_BF16)
    return at_bfloat16_bits_to_float_sw(h);
  const unsigned int exp = (h >> 10) & 0x1fu;
  if (exp != 0 && exp != 0x1f)
    return at_uint_as_float((unsigned int)(h & 0x8000u) << 16 |
                            ((h & 0x7fffu) + (112u << 10)) << 13);
  return at_half_bits_to_float_sw(h);
}
// Element idx of an array of f16 or bf16 bits or of floats, as a float (exact).
AT_DEV float at_emu_in(int kind, const void *base, int idx)
{
  if (kind == AT_EMU_F32)
    return ((const float *)base)[idx];
  return at_emu_b16(kind, ((const unsigned short *)base)[idx]);
}
