// at_host_copy.h - at_copy.h on the host device: the alignment check every emulated vector
// access and copy makes, and cp.async. Emulating a GPU that has cp.async (NVIDIA sm_80+,
// and the plain warp-32 "host" device, as for mma.sync) the copies are asynchronous as on
// the GPU (PTX ISA, "cp.async", "cp.async.commit_group", "cp.async.wait_group"):
//  1. at_cp_async_{4,8,16}() checks both addresses' alignment, reads its source then (the
//     bytes in flight) and appends {destination, bytes} to the calling thread's queue;
//     shared memory is not written.
//  2. at_cp_async_commit() closes the open copies into one group (an empty group when none
//     is open, as the PTX allows).
//  3. at_cp_async_wait<N>() writes, oldest first, every copy of every committed group but
//     the N newest; copies not yet committed stay in flight. at_cp_async_wait_all()
//     writes them all (commit_group, then wait_group 0).
// So a kernel that reads a stage before the wait that covers it, or waits for too few
// groups (wait<STAGES - 1> for wait<STAGES - 2>), or lets another thread read it with no
// wait before the barrier, reads what was there before on the host, instead of a race
// that may pass on a GPU. The queue is a slot per thread in at_host_emu.h's table (a
// block that ends with copies in flight drops them, as the PTX leaves them undefined),
// at most AT_CP_ASYNC_HOST_QUEUE copies; the launch fails beyond. A copy that lands is
// the generic proxy's write: a wgmma reads it only after the thread's fence.proxy.async
// (at_host_emu.h's async proxy view, checked by at_host_wgmma.h). Emulating an AMD GPU
// (AT_EMULATE_AMD: HIP has no cp.async) or an NVIDIA one before sm_80, the copy is
// synchronous and commit and wait do nothing, as at_copy.h's GPU fallback.
// Included by at_copy.h on the host device (AT_HOST) only: no GPU compile sees it,
// so it is outside the templates' content hash (generator/template_kernel.c); the
// host compile backend's toolchain string carries a digest of the at_host_*.h files
// instead (tuner/compile/cc_host.c), so host objects and trials still key on it.
#if !defined(AT_HOST)
#error "at_host_copy.h is the host device's (AT_HOST): include at_copy.h"
#endif

AT_DEV void at_host_check_align(const void *p, unsigned long bytes, const char *what)
{
  if ((unsigned long)p % bytes != 0)
    at_host_fail(what);
}

#ifndef AT_HOST_CP_ASYNC
#if AT_WAVE_SIZE == 32 && !defined(AT_EMULATE_AMD) &&                                      \
    (!defined(AT_EMULATE_SM) || AT_EMULATE_SM >= 80)
#define AT_HOST_CP_ASYNC 1
#else
#define AT_HOST_CP_ASYNC 0
#endif
#endif

#if AT_HOST_CP_ASYNC
#ifndef AT_CP_ASYNC_HOST_QUEUE
#define AT_CP_ASYNC_HOST_QUEUE 256
#endif
struct at_cp_async_entry {
  void *dst;
  unsigned char bytes[16];
  int size, group; // group: -1 while not committed
};
typedef at_host_queue<struct at_cp_async_entry, AT_CP_ASYNC_HOST_QUEUE> at_cp_async_slot;
AT_DEV at_cp_async_slot *at_host_cp_async_slot(void)
{
  static thread_local at_host_slots<at_cp_async_slot> table;
  return at_host_slot(table, at_host_self(), "cp.async: out of memory for the copies in flight");
}
AT_DEV void at_host_cp_async(void *smem, const void *gmem, int bytes, const char *misaligned)
{
  at_host_check_align(smem, (unsigned long)bytes, misaligned);
  at_host_check_align(gmem, (unsigned long)bytes, misaligned);
  at_cp_async_slot *s = at_host_cp_async_slot();
  if (!s)
    return;
  if (s->count == AT_CP_ASYNC_HOST_QUEUE) {
    at_host_fail("cp.async: more than AT_CP_ASYNC_HOST_QUEUE copies in flight in one thread");
    return;
  }
  struct at_cp_async_entry *e = &s->q[s->count++];
  e->dst = smem, e->size = bytes, e->group = -1;
  __builtin_memcpy(e->bytes, gmem, (unsigned long)bytes);
}
// Write every copy of the committed groups older than the `keep` newest, oldest first
// (keep < 0: every copy, committed or not), and keep the rest in order.
AT_DEV void at_host_cp_async_land(int keep)
{
  at_cp_async_slot *s = at_host_cp_async_slot();
  if (!s)
    return;
  int kept = 0;
  for (int i = 0; i < s->count; i++) {
    struct at_cp_async_entry *e = &s->q[i];
    if (keep < 0 || (e->group >= 0 && e->group < s->next_group - keep)) {
      __builtin_memcpy(e->dst, e->bytes, (unsigned long)e->size);
      at_host_proxy_generic_write(e->dst); // the async proxy sees it after a fence
    } else
      s->q[kept++] = *e;
  }
  s->count = kept;
}
AT_DEV void at_cp_async_4(void *smem, const void *gmem)
{
  at_host_cp_async(smem, gmem, 4, "at_cp_async_4: address not aligned");
}
AT_DEV void at_cp_async_8(void *smem, const void *gmem)
{
  at_host_cp_async(smem, gmem, 8, "at_cp_async_8: address not aligned");
}
AT_DEV void at_cp_async_16(void *smem, const void *gmem)
{
  at_host_cp_async(smem, gmem, 16, "at_cp_async_16: address not aligned");
}
AT_DEV void at_cp_async_commit(void)
{
  if (at_cp_async_slot *s = at_host_cp_async_slot())
    s->commit();
}
template <int N> AT_DEV void at_cp_async_wait(void)
{
  static_assert(N >= 0, "cp.async.wait_group takes N >= 0");
  at_host_cp_async_land(N);
}
AT_DEV void at_cp_async_wait_all(void) { at_host_cp_async_land(-1); }
#else
#define AT_CP_COPY(bytes)                                                                \
  AT_DEV void at_cp_async_##bytes(void *smem, const void *gmem)                          \
  {                                                                                      \
    at_host_check_align(smem, bytes, "at_cp_async_" #bytes ": address not aligned");     \
    at_host_check_align(gmem, bytes, "at_cp_async_" #bytes ": address not aligned");     \
    __builtin_memcpy(smem, gmem, bytes);                                                 \
  }
AT_CP_COPY(4)
AT_CP_COPY(8)
AT_CP_COPY(16)
#undef AT_CP_COPY
AT_DEV void at_cp_async_commit(void) {}
template <int N> AT_DEV void at_cp_async_wait(void) {}
AT_DEV void at_cp_async_wait_all(void) {}
#endif
