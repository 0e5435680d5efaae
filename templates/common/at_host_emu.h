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
// Which block a per-OS-thread table (or a slot of one) belongs to: blockIdx, gridDim and
// the launch. at_host_tag_keep says whether it is t's block; when not, the tag becomes
// t's and the caller resets what it tags: that block ended with work pending (which the
// PTX leaves undefined and the host drops), or failed (a launch that failed leaves its
// work as it was; the next launch on the same OS thread must not perform it, its
// pointers are stale).
struct at_host_tag {
  unsigned int bid[3], gdim[3];
  unsigned long long launch;
  int used;
};
AT_DEV bool at_host_tag_keep(struct at_host_tag *g, const struct at_host_thread *t)
{
  bool mine = g->used != 0 && g->launch == t->launch;
  for (int i = 0; i < 3; i++)
    mine = mine && g->bid[i] == t->bid[i] && g->gdim[i] == t->gdim[i];
  if (!mine) {
    for (int i = 0; i < 3; i++)
      g->bid[i] = t->bid[i], g->gdim[i] = t->gdim[i];
    g->launch = t->launch, g->used = 1;
  }
  return mine;
}
// p grown to at least n elements (cap: how many it holds); false, the launch failed
// (saying `oom`), when out of memory.
template <typename T>
AT_DEV bool at_host_grow(T *&p, unsigned long &cap, unsigned long n, const char *oom)
{
  if (n <= cap)
    return true;
  void *q = __builtin_realloc(p, n * sizeof(T));
  if (!q) {
    at_host_fail(oom);
    return false;
  }
  p = static_cast<T *>(q), cap = n;
  return true;
}

// A thread's queue of an asynchronous instruction's work (at_host_wgmma.h's wgmma,
// at_host_copy.h's cp.async): at most N entries E, each with a `group`, -1 until a commit
// closes the open ones into group next_group (an empty group when none is open, as the
// PTX allows); its wait then performs the groups it covers.
template <typename E, int N> struct at_host_queue {
  struct at_host_tag tag; // the block the queue belongs to (at_host_slot)
  int count, next_group;
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
// each tagged (at_host_tag) and reset where it was another block's. NULL, the launch
// failed (saying `oom`), when out of memory.
template <typename S> struct at_host_slots {
  S *slots;
  unsigned long n;
  ~at_host_slots() { __builtin_free(slots); }
};
template <typename S>
AT_DEV S *at_host_slot(at_host_slots<S> &table, const struct at_host_thread *t, const char *oom)
{
  const unsigned long had = table.n, threads = t->bdim[0] * t->bdim[1] * t->bdim[2];
  if (!at_host_grow(table.slots, table.n, threads, oom))
    return 0;
  for (unsigned long i = had; i < table.n; i++)
    table.slots[i].tag.used = 0;
  S *s = &table.slots[t->linear];
  if (!at_host_tag_keep(&s->tag, t))
    s->reset();
  return s;
}

// ---- the async proxy's view of the block's dynamic shared memory ----
// The generic proxy's writes (cp.async's, which the emulation performs itself at the
// wait: at_host_copy.h; plain stores made through at_st_shared_async: at_wgmma.h) reach
// the async proxy (wgmma.mma_async's operand reads: at_host_wgmma.h) only after the
// writing thread's fence.proxy.async (PTX ISA, "Memory Consistency Model", proxies; then
// a barrier carries them to the other threads). Per 16-byte granule of dynamic shared
// memory: the thread that wrote it last and has not fenced since (its linear id + 1; 0
// where the async proxy sees it). A write is 1 to 16 bytes aligned to its size: one
// granule (of threads sharing one, only the last writer is known: an earlier writer's
// missing fence shows where it wrote last). Each thread lists the granules it marked (up
// to AT_HOST_PROXY_MARKS; past that its fence scans them all), so that its fence clears
// its own only. Other plain stores are not seen. One table per emulator OS thread (one
// block at a time), retagged as the queues' slots are (at_host_slot).
#ifndef AT_HOST_PROXY_MARKS
#define AT_HOST_PROXY_MARKS 32
#endif
struct at_host_proxy_marks {
  unsigned int n; // AT_HOST_PROXY_MARKS + 1: more than the list holds
  unsigned int g[AT_HOST_PROXY_MARKS];
};
struct at_host_proxy {
  struct at_host_tag tag;
  const unsigned char *base;          // the block's dynamic shared memory
  unsigned long bytes, granules, cap_granules;
  unsigned int *owner;                // per granule
  struct at_host_proxy_marks *marks;  // per thread
  unsigned long cap_threads;
  unsigned long dirty;                // granules not yet fenced
  ~at_host_proxy() { __builtin_free(owner), __builtin_free(marks); }
};
// This block's table, reset where it was another's; NULL (the launch failed) when out of
// memory.
AT_DEV struct at_host_proxy *at_host_proxy_here(void)
{
  static thread_local struct at_host_proxy p;
  const struct at_host_thread *t = at_host_self();
  if (at_host_tag_keep(&p.tag, t))
    return &p;
  size_t bytes = 0;
  const unsigned char *base =
      static_cast<const unsigned char *>(at_host_rt_get()->dyn_shared(&bytes));
  const unsigned long granules = (bytes + 15) / 16;
  const unsigned long threads = t->bdim[0] * t->bdim[1] * t->bdim[2];
  static const char oom[] = "fence.proxy.async: out of memory for the async proxy's view";
  if (!at_host_grow(p.owner, p.cap_granules, granules, oom) ||
      !at_host_grow(p.marks, p.cap_threads, threads, oom)) {
    p.tag.used = 0;
    return 0;
  }
  if (granules)
    __builtin_memset(p.owner, 0, granules * sizeof *p.owner);
  for (unsigned long i = 0; i < threads; i++)
    p.marks[i].n = 0;
  p.base = base, p.bytes = bytes, p.granules = granules, p.dirty = 0;
  return &p;
}
// This thread's generic-proxy write at dst (a cp.async landing, at_st_shared_async),
// where it is in dynamic shared memory.
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
