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

// ---- the async proxy's view of the block's dynamic shared memory ----
// The generic proxy's writes (cp.async's, which the emulation performs itself at the
// wait: at_host_copy.h) reach the async proxy (wgmma.mma_async's operand reads:
// at_host_wgmma.h) only after the writing thread's fence.proxy.async (PTX ISA, "Memory
// Consistency Model", proxies; then a barrier carries them to the other threads). Per
// 16-byte granule of dynamic shared memory: the thread whose cp.async wrote it last and
// has not fenced since (its linear id + 1; 0 where the async proxy sees it). A copy is
// 4, 8 or 16 bytes aligned to its size: one granule. Each thread lists the granules it
// marked (up to AT_HOST_PROXY_MARKS; past that its fence scans them all), so that its
// fence clears its own only. Plain stores (st.shared) are not seen: only cp.async's
// writes are checked. One table per emulator OS thread (one block at a time), retagged
// as the queues' slots are (at_host_slot).
#ifndef AT_HOST_PROXY_MARKS
#define AT_HOST_PROXY_MARKS 32
#endif
struct at_host_proxy_marks {
  unsigned int n; // AT_HOST_PROXY_MARKS + 1: more than the list holds
  unsigned int g[AT_HOST_PROXY_MARKS];
};
struct at_host_proxy {
  unsigned int bid[3], gdim[3];
  unsigned long long launch;
  int used;
  const unsigned char *base;        // the block's dynamic shared memory
  unsigned long bytes, granules, cap_granules;
  unsigned int *owner;              // per granule
  struct at_host_proxy_marks *marks; // per thread
  unsigned int cap_threads;
  unsigned long dirty;              // granules not yet fenced
  ~at_host_proxy() { __builtin_free(owner), __builtin_free(marks); }
};
// This block's table, reset where it was another's; NULL (the launch failed) when out of
// memory.
AT_DEV struct at_host_proxy *at_host_proxy_here(void)
{
  static thread_local struct at_host_proxy p;
  const struct at_host_thread *t = at_host_self();
  bool mine = p.used && p.launch == t->launch;
  for (int i = 0; i < 3; i++)
    mine = mine && p.bid[i] == t->bid[i] && p.gdim[i] == t->gdim[i];
  if (mine)
    return &p;
  size_t bytes = 0;
  const unsigned char *base =
      static_cast<const unsigned char *>(at_host_rt_get()->dyn_shared(&bytes));
  const unsigned long granules = (bytes + 15) / 16;
  const unsigned int threads = t->bdim[0] * t->bdim[1] * t->bdim[2];
  if (granules > p.cap_granules) {
    void *o = __builtin_realloc(p.owner, granules * sizeof *p.owner);
    if (!o) {
      at_host_fail("fence.proxy.async: out of memory for the async proxy's view");
      return 0;
    }
    p.owner = static_cast<unsigned int *>(o), p.cap_granules = granules;
  }
  if (threads > p.cap_threads) {
    void *m = __builtin_realloc(p.marks, threads * sizeof *p.marks);
    if (!m) {
      at_host_fail("fence.proxy.async: out of memory for the async proxy's view");
      return 0;
    }
    p.marks = static_cast<struct at_host_proxy_marks *>(m), p.cap_threads = threads;
  }
  if (granules)
    __builtin_memset(p.owner, 0, granules * sizeof *p.owner);
  for (unsigned int i = 0; i < threads; i++)
    p.marks[i].n = 0;
  for (int i = 0; i < 3; i++)
    p.bid[i] = t->bid[i], p.gdim[i] = t->gdim[i];
  p.launch = t->launch, p.used = 1;
  p.base = base, p.bytes = bytes, p.granules = granules, p.dirty = 0;
  return &p;
}
// This thread's generic-proxy write at dst (a cp.async landing), where it is in dynamic
// shared memory.
AT_DEV void at_host_proxy_generic_write(const void *dst)
{
  struct at_host_proxy *p = at_host_proxy_here();
  if (!p)
    return;
  const unsigned long off =
      (unsigned long)(static_cast<const unsigned char *>(dst) - p->base);
  if (static_cast<const unsigned char *>(dst) < p->base || off >= p->bytes)
    return;
  const unsigned int linear = at_host_self()->linear, g = (unsigned int)(off / 16);
  if (p->owner[g] == linear + 1)
    return;
  p->dirty += p->owner[g] == 0;
  p->owner[g] = linear + 1;
  struct at_host_proxy_marks *m = &p->marks[linear];
  if (m->n < AT_HOST_PROXY_MARKS)
    m->g[m->n++] = g;
  else
    m->n = AT_HOST_PROXY_MARKS + 1;
}
// fence.proxy.async by this thread: its generic writes are the async proxy's to see.
AT_DEV void at_host_proxy_fence(void)
{
  struct at_host_proxy *p = at_host_proxy_here();
  if (!p || !p->dirty)
    return;
  const unsigned int linear = at_host_self()->linear, me = linear + 1;
  struct at_host_proxy_marks *m = &p->marks[linear];
  if (m->n > AT_HOST_PROXY_MARKS) {
    for (unsigned long g = 0; g < p->granules; g++)
      if (p->owner[g] == me)
        p->owner[g] = 0, p->dirty--;
  } else {
    for (unsigned int i = 0; i < m->n; i++)
      if (p->owner[m->g[i]] == me)
        p->owner[m->g[i]] = 0, p->dirty--;
  }
  m->n = 0;
}
// Who wrote the granule at byte offset off of dynamic shared memory without a fence
// since (linear id + 1), or 0 where the async proxy sees it.
AT_DEV unsigned int at_host_proxy_unfenced(const struct at_host_proxy *p, unsigned long off)
{
  return off < p->bytes ? p->owner[off / 16] : 0;
}
#endif
