// at_host_emu.h - what the host device's emulations of GPU instructions share: how the
// matrix-core emulations read their 16-bit and f32 inputs, and the per-thread table the
// asynchronous ones (wgmma's groups, cp.async's copies) keep their pending work in.
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

#if defined(__cplusplus) && !defined(AT_EMU_ONLY)
// A thread's queue of an asynchronous instruction's work (at_host_wgmma.h's wgmma,
// at_host_copy.h's cp.async): at most N entries E, each with a `group`, -1 until a commit
// closes the open ones into group next_group (an empty group when none is open, as the
// PTX allows); its wait then performs the groups it covers.
template <typename E, int N> struct at_host_queue {
  unsigned int bid[3], gdim[3]; // the block the queue belongs to (at_host_slot)
  unsigned long long launch;    // and its launch
  int used, count, next_group;
  E q[N];
  void reset() { count = 0, next_group = 0; }
  void commit()
  {
    for (int i = 0; i < count; i++)
      if (q[i].group < 0)
        q[i].group = next_group;
    next_group++;
  }
};
// The queues in one table per emulator worker OS thread, which runs one block at a time
// (as __shared__): a slot per thread of the block (S, an at_host_queue), grown on demand,
// tagged with the block's blockIdx, gridDim and launch. A slot found with another block's
// tag is reset: that block ended with work pending (which the PTX leaves undefined and the
// host drops), or failed (a launch that failed leaves its queues as they were; the next
// launch on the same OS thread must not perform their entries, whose pointers are
// stale). NULL, the launch failed (saying `oom`), when out of memory.
template <typename S> struct at_host_slots {
  S *slots;
  unsigned int n;
  ~at_host_slots() { __builtin_free(slots); }
};
template <typename S>
AT_DEV S *at_host_slot(at_host_slots<S> &table, const struct at_host_thread *t, const char *oom)
{
  const unsigned int threads = t->bdim[0] * t->bdim[1] * t->bdim[2];
  if (table.n < threads) {
    void *p = __builtin_realloc(table.slots, sizeof(S) * threads);
    if (!p) {
      at_host_fail(oom);
      return 0;
    }
    table.slots = static_cast<S *>(p);
    for (unsigned int i = table.n; i < threads; i++)
      table.slots[i].used = 0;
    table.n = threads;
  }
  S *s = &table.slots[t->linear];
  bool mine = s->used != 0 && s->launch == t->launch;
  for (int i = 0; i < 3; i++)
    mine = mine && s->bid[i] == t->bid[i] && s->gdim[i] == t->gdim[i];
  if (!mine) {
    for (int i = 0; i < 3; i++)
      s->bid[i] = t->bid[i], s->gdim[i] = t->gdim[i];
    s->launch = t->launch;
    s->used = 1;
    s->reset();
  }
  return s;
}
#endif
