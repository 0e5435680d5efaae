// at_host_emu.h - how the host device's matrix-core emulations read their 16-bit and f32
// inputs.
// Included by at_types.h on the host device (AT_HOST) only: no GPU compile sees it,
// so it is outside the templates' content hash (generator/template_kernel.c); the
// host compile backend's toolchain string carries a digest of the at_host_*.h files
// instead (tuner/compile/cc_host.c), so host objects and trials still key on it.
#if !defined(AT_HOST)
#error "at_host_emu.h is the host device's (AT_HOST): include at_types.h"
#endif

// The matrix-core emulations (at_mma.h, at_mfma.h) read their inputs through this:
// element idx of an array of f16 or bf16 bits or of floats, as a float (exact).
enum { AT_EMU_F16 = 0, AT_EMU_BF16 = 1, AT_EMU_F32 = 2 };
AT_DEV float at_emu_in(int kind, const void *base, int idx)
{
  if (kind == AT_EMU_F32)
    return ((const float *)base)[idx];
  unsigned short h = ((const unsigned short *)base)[idx];
  return kind == AT_EMU_F16 ? at_half_bits_to_float_sw(h) : at_bfloat16_bits_to_float_sw(h);
}
