// at_host_tma.h - TMA copies, mbarriers, named barriers and clusters on the host device:
// the emulation of at_tma.h's instructions, clusters included (the emulator runs the CTAs
// of a cluster together: at_host_rt_ext.h, tuner/emu/emu.c note 9). Design note, the
// invariants the emulation keeps:
//  1. An mbarrier is 8 bytes of dynamic shared memory; on the host they hold a tag and an
//     index into this block's side table {expected arrivals, pending arrivals, tx-count,
//     completed phases, fenced}. A word that mbarrier.init did not write (shared memory
//     is zeroed per block) fails any use. A phase completes when its pending arrivals
//     and its tx-count are both 0; try_wait.parity(P) is true when the phase of parity P
//     has completed, i.e. when (completed phases & 1) != P (the first wait with P = 0
//     waits for phase 0; with P = 1 it returns at once, as on the GPU).
//  2. A bulk tensor load computes nothing when issued: it is queued on its mbarrier
//     (the box copied and its bytes known). It is performed, and complete_tx(bytes)
//     applied, when some thread waits on that barrier and the phase being waited for has
//     not completed yet. So a consumer that waits on the wrong barrier, or on a phase
//     that completed without the copy's bytes being expected (a missing expect_tx lets
//     the phase complete at the arrive), reads shared memory without the data; the late
//     copy then drives the next phase's tx-count below 0 and that phase never completes.
//  3. try_wait that fails yields to the emulator (at_host_rt_ext.h) with the block's
//     mbarrier epoch, bumped by every mbarrier change: when no thread can change any
//     barrier any more the launch fails, naming the wait (a wrong parity, a missing
//     arrive), instead of hanging.
//  4. The async proxy sees an mbarrier only after the initialising thread executed
//     fence.mbarrier_init or fence.proxy.async after its mbarrier.init (PTX ISA,
//     "mbarrier.init" and "Memory Consistency Model: Proxies"): a copy that signals an
//     unfenced barrier fails the launch.
//  5. A bulk tensor store reads shared memory as the async proxy sees it: the image of
//     dynamic shared memory taken at the last at_tma_fence_proxy_async() of any thread of
//     the block (every writer must fence: a write made after the last fence is not seen).
//     It reads it, and writes global memory, at the cp.async.bulk.wait_group that covers
//     the store's bulk group, the latest moment the GPU may read (wait_group.read): a
//     kernel that writes and fences the box again before that wait stores the new bytes,
//     and one that ends without waiting loses the store.
//  6. Tensor maps on the host are encoded by at_tmap_host_encode() (the same checks as
//     cuTensorMapEncodeTiled's documented requirements: at_tmap_check); a map whose tag
//     is wrong fails the copy. Swizzling, as in the wgmma emulation, applies to byte
//     offsets from the start of dynamic shared memory, which the host models as 1024-byte
//     aligned; a swizzled box must start at a multiple of its pattern (1024 bytes for
//     128B) from there, and at the same alignment of the shared window on the GPU.
//     A bulk load fills its destination with 0xff bytes (NaN for 16- and 32-bit floats)
//     when it is issued: until its complete_tx the box is undefined, so a consumer that
//     still reads a stage when a producer (of this CTA or, multicast, of a peer) refills
//     it reads NaN instead of passing by luck.
//  7. The block-wide state lives in one thread_local table per emulator worker (one block
//     at a time, like __shared__), tagged as the other emulations' queues are
//     (at_host_tag: blockIdx, gridDim and the emulator's number of the launch); a table
//     found with another tag is emptied (that block ended with copies or stores pending,
//     and they are dropped), so the next launch of the same grid on the same worker
//     starts from an empty table too (without the launch's number it did not, and its
//     mbarriers piled up past AT_TMA_HOST_BARRIERS).
//  8. Clusters. Each CTA of a cluster runs on its own emulator worker, so each has its own
//     table; a CTA publishes its table in the emulator's cluster slot of its rank, where
//     its peers find it. A shared::cluster address (at_mapa_shared) is rank << 26 | the
//     offset in that CTA's dynamic shared memory; at_mapa gives a plain pointer into it.
//     A remote mbarrier arrive and a multicast load act on the peer's barrier at that
//     offset (a multicast writes the box into every CTA of its mask, at the same offset,
//     and completes its bytes on each one's barrier there). The yield token is the sum of
//     every CTA's epoch, so a wait on one CTA's barrier sees the peers' changes, and a
//     cluster in which no CTA can go on fails the launch (emu.c) naming the wait. Each of
//     these fails the launch: a mask bit or rank outside the cluster, an empty mask; a
//     remote access to a CTA that has exited (no cluster barrier before the exit); a
//     remote access to a barrier that no cluster barrier phase has completed since its
//     init (no barrier.cluster between the peer's mbarrier.init and the first use from
//     another CTA); a peer barrier that was not initialised or not fenced. In a cluster a
//     completed wait yields 1 + 3 * rank times, so the peers run between the wait and the
//     reads that follow it, and CTAs drift apart (with note 6, a stage refilled by a peer
//     before it was released is read as NaN); the emulator fails a CTA that exits while a
//     peer that accessed its shared memory since the last cluster barrier still runs.
//
// Included by at_tma.h on the host device (AT_HOST) only: no GPU compile sees it,
// so it is outside the templates' content hash (generator/template_kernel.c); the
// host compile backend's toolchain string carries a digest of the at_host_*.h files
// instead (tuner/compile/cc_host.c), so host objects and trials still key on it.
#if !defined(AT_HOST)
#error "at_host_tma.h is the host device's (AT_HOST): include at_tma.h"
#endif

#if !defined(AT_EMU_ONLY) && AT_HAS_TMA
#include "at_host_rt_ext.h"
#include <stdio.h>
#include <stdlib.h>

#ifndef AT_TMA_HOST_BARRIERS
#define AT_TMA_HOST_BARRIERS 64 // mbarriers per block
#endif
#define AT_TMA_HOST_MBAR_TAG 0x4d424152u // "MBAR", the high word of an initialised barrier

struct at_tma_copy {
  struct at_tmap_host map;
  unsigned long off; // destination, from the start of dynamic shared memory
  int c0, c1;
  struct at_tma_copy *next;
};
struct at_tma_mbar {
  long long tx;
  unsigned int expected, pending, phases, fenced, init_thread;
  unsigned int init_cluster_phase; // the cluster barrier's phases done at the init (note 8)
  struct at_tma_copy *copies, **tail;
};
struct at_tma_store {
  unsigned long off;   // the box in dynamic shared memory, read at the covering wait
  struct at_tmap_host map;
  unsigned long len;   // the bytes read (the box's 128-byte rows)
  unsigned int thread; // the issuing thread (bulk groups are per thread)
  int c0, c1, group;   // group -1 while not committed
  struct at_tma_store *next;
};
// This block's state (design note, 7).
struct at_tma_block {
  struct at_host_tag tag; // the block whose state this is (note 7)
  unsigned int rank; // in its cluster (note 8)
  unsigned long long epoch;
  unsigned int nbars;
  struct at_tma_mbar bars[AT_TMA_HOST_BARRIERS];
  unsigned char *view; // the async proxy's image of dynamic shared memory (note 5)
  size_t view_cap, view_bytes;
  struct at_tma_store *stores; // every thread's, newest first
  struct {
    unsigned int count, arrived, gen; // the instance being filled, completed instances
  } named[16];                        // named barriers (bar.sync / bar.arrive)
  ~at_tma_block() { reset(); __builtin_free(view); }
  void reset()
  {
    for (unsigned int i = 0; i < nbars; i++)
      while (bars[i].copies) {
        struct at_tma_copy *c = bars[i].copies;
        bars[i].copies = c->next;
        __builtin_free(c);
      }
    nbars = 0;
    while (stores) {
      struct at_tma_store *s = stores;
      stores = s->next;
      __builtin_free(s);
    }
    view_bytes = 0;
    epoch = 0;
    memset(named, 0, sizeof named);
  }
};
// Per-thread bulk store groups: thread linear -> next group number, kept in the block.
struct at_tma_thread_groups {
  unsigned int *next_group;
  unsigned int cap;
  ~at_tma_thread_groups() { __builtin_free(next_group); }
};

AT_DEV const struct at_host_rt_ext *at_tma_rt(void)
{
  const struct at_host_rt *rt = at_host_rt_get();
  if (rt->version < AT_HOST_RT_EXT_VERSION) {
    at_host_fail("at_tma.h: this emulator has no yield or clusters (at_host_rt_ext.h)");
    return 0;
  }
  return reinterpret_cast<const struct at_host_rt_ext *>(rt);
}
// Every thread's next bulk group number (one per thread of the block), or fail.
AT_DEV unsigned int *at_tma_groups(void)
{
  static thread_local at_tma_thread_groups g;
  const struct at_host_thread *t = at_host_self();
  unsigned int threads = t->bdim[0] * t->bdim[1] * t->bdim[2];
  if (g.cap < threads) {
    void *p = __builtin_realloc(g.next_group, sizeof(unsigned int) * threads);
    if (!p) {
      at_host_fail("at_tma.h: out of memory");
      return 0;
    }
    g.next_group = static_cast<unsigned int *>(p);
    g.cap = threads;
  }
  return g.next_group;
}
AT_DEV const struct at_host_cluster *at_tma_cluster(void)
{
  const struct at_host_rt_ext *rt = at_tma_rt();
  return rt ? rt->cluster() : 0;
}
AT_DEV struct at_tma_block *at_tma_block_get(void)
{
  static thread_local at_tma_block b;
  const struct at_host_thread *t = at_host_self();
  const struct at_host_rt_ext *rt = at_tma_rt();
  if (rt) { // note 8: where the peers find this CTA's table
    b.rank = rt->cluster()->rank;
    void **slot = rt->cluster_slot(b.rank);
    if (slot)
      *slot = &b;
  }
  if (!at_host_tag_keep(&b.tag, t)) {
    b.reset();
    unsigned int threads = t->bdim[0] * t->bdim[1] * t->bdim[2];
    unsigned int *g = at_tma_groups();
    if (g)
      memset(g, 0, sizeof *g * threads);
  }
  return &b;
}
// The byte offset of p in dynamic shared memory, or fail with `what`.
AT_DEV bool at_tma_smem_off(const void *p, unsigned long size, const char *what,
                            unsigned long *off)
{
  size_t bytes = 0;
  const unsigned char *base =
      static_cast<const unsigned char *>(at_host_rt_get()->dyn_shared(&bytes));
  const unsigned char *q = static_cast<const unsigned char *>(p);
  if (!base || q < base || q + size > base + bytes) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: on the host it must lie in dynamic shared memory "
             "(AT_DYNAMIC_SHARED)", what);
    at_host_fail(msg);
    return false;
  }
  *off = (unsigned long)(q - base);
  return true;
}
// The barrier at bar (initialised), or fail.
AT_DEV struct at_tma_mbar *at_tma_bar(unsigned long long *bar, const char *what)
{
  unsigned long off;
  if (!at_tma_smem_off(bar, 8, what, &off))
    return 0;
  struct at_tma_block *b = at_tma_block_get();
  unsigned long long w = *bar;
  unsigned int idx = (unsigned int)(w & 0xffffffffu);
  if (off % 8 != 0 || (w >> 32) != AT_TMA_HOST_MBAR_TAG || idx >= b->nbars) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s: the mbarrier at shared offset %lu was not initialised "
             "(mbarrier.init) in this block", what, off);
    at_host_fail(msg);
    return 0;
  }
  return &b->bars[idx];
}
// CTA `rank`'s dynamic shared memory (this CTA's or a running peer's), or fail.
AT_DEV unsigned char *at_tma_cta_smem(unsigned int rank, size_t *bytes, const char *what)
{
  const struct at_host_rt_ext *rt = at_tma_rt();
  if (!rt)
    return 0;
  const struct at_host_cluster *cl = rt->cluster();
  char msg[240];
  if (rank >= cl->nctas) {
    snprintf(msg, sizeof msg, "%s: CTA rank %u is outside the cluster of %u", what, rank,
             cl->nctas);
    at_host_fail(msg);
    return 0;
  }
  unsigned char *p = static_cast<unsigned char *>(rt->cta_shared(rank, bytes));
  if (!p) {
    snprintf(msg, sizeof msg, "%s: CTA %u of the cluster has exited, its shared memory is "
             "gone (no barrier.cluster before its exit?)", what, rank);
    at_host_fail(msg);
  }
  return p;
}
// The table of CTA `rank` (note 8): NULL when that CTA has not touched one yet.
AT_DEV struct at_tma_block *at_tma_peer(unsigned int rank)
{
  struct at_tma_block *own = at_tma_block_get();
  if (rank == own->rank)
    return own;
  void **slot = at_tma_rt()->cluster_slot(rank);
  return slot ? static_cast<struct at_tma_block *>(*slot) : 0;
}
// The initialised barrier at shared offset `off` of CTA `rank`, with its table; or fail.
// From another CTA, a cluster barrier phase must have completed since its init (note 8).
AT_DEV struct at_tma_mbar *at_tma_bar_at(unsigned int rank, unsigned long off,
                                         const char *what, struct at_tma_block **owner)
{
  size_t bytes = 0;
  unsigned char *base = at_tma_cta_smem(rank, &bytes, what);
  if (!base)
    return 0;
  char msg[240];
  struct at_tma_block *b = at_tma_peer(rank);
  unsigned long long w = 0;
  if (off % 8 == 0 && off + 8 <= bytes)
    memcpy(&w, base + off, 8);
  unsigned int idx = (unsigned int)(w & 0xffffffffu);
  if (!b || off % 8 != 0 || (w >> 32) != AT_TMA_HOST_MBAR_TAG || idx >= b->nbars) {
    snprintf(msg, sizeof msg, "%s: the mbarrier at shared offset %lu of CTA %u of the "
             "cluster was not initialised (mbarrier.init)", what, off, rank);
    at_host_fail(msg);
    return 0;
  }
  struct at_tma_mbar *m = &b->bars[idx];
  if (rank != at_tma_block_get()->rank &&
      at_tma_cluster()->barrier_phases <= m->init_cluster_phase) {
    snprintf(msg, sizeof msg, "%s: the mbarrier at shared offset %lu of CTA %u is used "
             "from another CTA with no barrier.cluster completed since its mbarrier.init",
             what, off, rank);
    at_host_fail(msg);
    return 0;
  }
  *owner = b;
  return m;
}
AT_DEV void at_tma_phase_check(struct at_tma_block *b, struct at_tma_mbar *m)
{
  if (m->pending == 0 && m->tx == 0) {
    m->phases++;
    m->pending = m->expected;
  }
  b->epoch++;
}
AT_DEV void at_mbarrier_init(unsigned long long *bar, unsigned int count)
{
  unsigned long off;
  if (!at_tma_smem_off(bar, 8, "mbarrier.init", &off))
    return;
  struct at_tma_block *b = at_tma_block_get();
  if (count < 1 || count > (1u << 20) - 1) {
    at_host_fail("mbarrier.init: the count is 1 .. 2^20 - 1");
    return;
  }
  unsigned long long w = *bar;
  unsigned int idx = (unsigned int)(w & 0xffffffffu);
  if ((w >> 32) != AT_TMA_HOST_MBAR_TAG || idx >= b->nbars) {
    if (b->nbars == AT_TMA_HOST_BARRIERS) {
      at_host_fail("mbarrier.init: more than AT_TMA_HOST_BARRIERS barriers in one block");
      return;
    }
    idx = b->nbars++;
    b->bars[idx].copies = 0;
  }
  struct at_tma_mbar *m = &b->bars[idx];
  while (m->copies) {
    struct at_tma_copy *c = m->copies;
    m->copies = c->next;
    __builtin_free(c);
  }
  m->tail = &m->copies;
  m->tx = 0, m->expected = m->pending = count, m->phases = 0, m->fenced = 0;
  m->init_thread = at_host_self()->linear;
  m->init_cluster_phase = at_tma_cluster()->barrier_phases;
  *bar = ((unsigned long long)AT_TMA_HOST_MBAR_TAG << 32) | idx;
  b->epoch++;
}
// Fences after mbarrier.init (note 4): this thread's barriers become visible to the
// async proxy.
AT_DEV void at_tma_fence_inits(void)
{
  struct at_tma_block *b = at_tma_block_get();
  unsigned int me = at_host_self()->linear;
  for (unsigned int i = 0; i < b->nbars; i++)
    if (b->bars[i].init_thread == me)
      b->bars[i].fenced = 1;
}
AT_DEV void at_fence_mbarrier_init(void) { at_tma_fence_inits(); }
// Note 5: the async proxy's image of shared memory is taken here.
AT_DEV void at_tma_fence_proxy_async(void)
{
  at_tma_fence_inits();
  at_host_proxy_fence(); // (the same instruction as at_wgmma.h's: at_host_emu.h)
  struct at_tma_block *b = at_tma_block_get();
  size_t bytes = 0;
  void *smem = at_host_rt_get()->dyn_shared(&bytes);
  if (b->view_cap < bytes) {
    void *p = __builtin_realloc(b->view, bytes);
    if (!p) {
      at_host_fail("fence.proxy.async: out of memory for the async proxy's image");
      return;
    }
    b->view = static_cast<unsigned char *>(p);
    b->view_cap = bytes;
  }
  if (bytes)
    memcpy(b->view, smem, bytes);
  b->view_bytes = bytes;
}
AT_DEV unsigned long long at_tma_arrive(struct at_tma_block *b, struct at_tma_mbar *m)
{
  unsigned long long state = m->phases;
  if (m->pending == 0) {
    char msg[160];
    snprintf(msg, sizeof msg, "mbarrier.arrive: more arrivals than its count (%u) in phase "
             "%u (a producer that did not wait for the stage to be released?)", m->expected,
             m->phases);
    at_host_fail(msg);
    return 0;
  }
  m->pending--;
  at_tma_phase_check(b, m);
  return state;
}
AT_DEV unsigned long long at_mbarrier_arrive(unsigned long long *bar)
{
  struct at_tma_mbar *m = at_tma_bar(bar, "mbarrier.arrive");
  return m ? at_tma_arrive(at_tma_block_get(), m) : 0;
}
AT_DEV void at_mbarrier_expect_tx(unsigned long long *bar, unsigned int bytes)
{
  struct at_tma_mbar *m = at_tma_bar(bar, "mbarrier.expect_tx");
  if (!m)
    return;
  m->tx += bytes;
  at_tma_block_get()->epoch++;
}
AT_DEV unsigned long long at_mbarrier_arrive_expect_tx(unsigned long long *bar,
                                                       unsigned int bytes)
{
  at_mbarrier_expect_tx(bar, bytes);
  return at_mbarrier_arrive(bar);
}
// Note 2: perform the copies queued on m, each completing its bytes.
AT_DEV void at_tma_perform(struct at_tma_block *b, struct at_tma_mbar *m)
{
  size_t bytes = 0;
  void *smem = at_tma_cta_smem(b->rank, &bytes, "cp.async.bulk.tensor");
  if (!smem)
    return;
  while (m->copies) {
    struct at_tma_copy *c = m->copies;
    m->copies = c->next;
    if (!m->copies)
      m->tail = &m->copies;
    const char *why = at_emu_tma_load_2d(&c->map, smem, bytes, c->off, c->c0, c->c1);
    long long n = (long long)at_tma_box_bytes(&c->map);
    __builtin_free(c);
    if (why) {
      at_host_fail(why);
      return;
    }
    m->tx -= n;
    at_tma_phase_check(b, m);
  }
}
AT_DEV bool at_mbarrier_try_wait_parity(unsigned long long *bar, unsigned int parity)
{
  struct at_tma_mbar *m = at_tma_bar(bar, "mbarrier.try_wait.parity");
  if (!m)
    return false;
  if ((m->phases & 1u) != (parity & 1u))
    return true;
  at_tma_perform(at_tma_block_get(), m);
  return (m->phases & 1u) != (parity & 1u);
}
// The yield token: every CTA's epoch (note 8).
AT_DEV unsigned long long at_tma_token(void)
{
  unsigned long long token = 0;
  for (unsigned int r = 0; r < at_tma_cluster()->nctas; r++) {
    const struct at_tma_block *p = at_tma_peer(r);
    token += p ? p->epoch : 0;
  }
  return token;
}
// A spinning wait's description, written by the emulator only for a deadlock report
// (at_host_rt_ext.h): the barrier's state then, which a deadlock no longer changes.
struct at_tma_wait_why {
  const struct at_tma_mbar *m;
  unsigned long off;
  unsigned int parity;
};
AT_DEV void at_tma_wait_describe(char *buf, size_t len, const void *ctx)
{
  const struct at_tma_wait_why *w = static_cast<const struct at_tma_wait_why *>(ctx);
  const struct at_tma_mbar *m = w->m;
  snprintf(buf, len, "mbarrier at shared offset %lu, parity %u: %u phases done, %u of %u "
           "arrivals pending, tx-count %lld", w->off, w->parity, m ? m->phases : 0,
           m ? m->pending : 0, m ? m->expected : 0, m ? m->tx : 0LL);
}
AT_DEV void at_tma_after_wait_describe(char *buf, size_t len, const void *ctx)
{
  (void)ctx;
  snprintf(buf, len, "after a completed mbarrier wait");
}
AT_DEV void at_mbarrier_wait_parity(unsigned long long *bar, unsigned int parity)
{
  while (!at_mbarrier_try_wait_parity(bar, parity)) {
    struct at_tma_wait_why why = {at_tma_bar(bar, "mbarrier.try_wait.parity"), 0, parity};
    at_tma_smem_off(bar, 8, "mbarrier.try_wait.parity", &why.off);
    const struct at_host_rt_ext *rt = at_tma_rt();
    if (!rt)
      return;
    rt->yield(at_tma_token(), at_tma_wait_describe, &why);
  }
  // Note 8: in a cluster, the peers run between a completed wait and what follows it (CTA
  // rank r for 1 + 3r rounds: the CTAs drift apart), so that a producer that refills a
  // stage its peer has not released does so while the peer still reads it.
  const struct at_host_rt_ext *rt = at_tma_rt();
  const struct at_host_cluster *cl = rt ? rt->cluster() : 0;
  for (unsigned int i = 0; cl && cl->nctas > 1 && i < 1 + 3 * cl->rank; i++) {
    at_tma_block_get()->epoch++;
    rt->yield(at_tma_token(), at_tma_after_wait_describe, 0);
  }
}
// Queue the box of map at (c0, c1) for shared offset `off` of CTA `rank` on its barrier
// m (of table b), the destination poisoned until then (note 6).
AT_DEV void at_tma_queue(struct at_tma_block *b, struct at_tma_mbar *m, unsigned int rank,
                         unsigned long off, const struct at_tmap_host *h, int c0, int c1)
{
  if (!m->fenced) {
    at_host_fail("cp.async.bulk.tensor: its mbarrier was initialised without a "
                 "fence.mbarrier_init (or fence.proxy.async) after mbarrier.init");
    return;
  }
  size_t bytes = 0;
  unsigned char *smem = at_tma_cta_smem(rank, &bytes, "cp.async.bulk.tensor");
  if (!smem)
    return;
  unsigned long n = at_tma_box_bytes(h);
  if (off + n > bytes) {
    at_host_fail("cp.async.bulk.tensor: the box does not fit in dynamic shared memory");
    return;
  }
  struct at_tma_copy *c =
      static_cast<struct at_tma_copy *>(__builtin_malloc(sizeof(struct at_tma_copy)));
  if (!c) {
    at_host_fail("cp.async.bulk.tensor: out of memory");
    return;
  }
  memset(smem + off, 0xff, n);
  c->map = *h, c->off = off, c->c0 = c0, c->c1 = c1, c->next = 0;
  *m->tail = c;
  m->tail = &c->next;
  b->epoch++;
}
AT_DEV bool at_tma_host_map(const at_tensormap &map, struct at_tmap_host *h)
{
  memcpy(h, &map, sizeof *h);
  if (h->tag != AT_TMAP_HOST_TAG) {
    at_host_fail("cp.async.bulk.tensor: the tensor map was not encoded for the host device");
    return false;
  }
  return true;
}
AT_DEV void at_tma_load_2d(void *dst, const at_tensormap &map, int c0, int c1,
                           unsigned long long *bar)
{
  struct at_tma_mbar *m = at_tma_bar(bar, "cp.async.bulk.tensor (its mbarrier)");
  struct at_tmap_host h;
  unsigned long off;
  if (!m || !at_tma_host_map(map, &h) ||
      !at_tma_smem_off(dst, at_tma_box_bytes(&h), "cp.async.bulk.tensor destination", &off))
    return;
  struct at_tma_block *b = at_tma_block_get();
  at_tma_queue(b, m, b->rank, off, &h, c0, c1);
}
// Note 8: the box lands at dst's offset in every CTA of cta_mask, completing on each one's
// barrier at bar's offset.
AT_DEV void at_tma_load_2d_multicast(void *dst, const at_tensormap &map, int c0, int c1,
                                     unsigned long long *bar, unsigned short cta_mask)
{
  struct at_tmap_host h;
  unsigned long off, bar_off;
  if (!at_tma_host_map(map, &h) ||
      !at_tma_smem_off(dst, at_tma_box_bytes(&h), "cp.async.bulk.tensor destination", &off) ||
      !at_tma_smem_off(bar, 8, "cp.async.bulk.tensor (its mbarrier)", &bar_off))
    return;
  unsigned int nctas = at_tma_cluster()->nctas;
  if (cta_mask == 0 || (nctas < 16 && (cta_mask >> nctas) != 0)) {
    char msg[160];
    snprintf(msg, sizeof msg, "cp.async.bulk.tensor multicast: the CTA mask 0x%x names no "
             "CTA or a CTA outside the cluster of %u", (unsigned int)cta_mask, nctas);
    at_host_fail(msg);
    return;
  }
  for (unsigned int r = 0; r < nctas; r++) {
    if (!(cta_mask >> r & 1u))
      continue;
    struct at_tma_block *owner = 0;
    struct at_tma_mbar *m =
        at_tma_bar_at(r, bar_off, "cp.async.bulk.tensor multicast (its mbarrier)", &owner);
    if (!m)
      return;
    at_tma_queue(owner, m, r, off, &h, c0, c1);
  }
}
AT_DEV void at_tma_store_2d(const at_tensormap &map, const void *src, int c0, int c1)
{
  struct at_tmap_host h;
  memcpy(&h, &map, sizeof h);
  unsigned long off;
  if (h.tag != AT_TMAP_HOST_TAG) {
    at_host_fail("cp.async.bulk.tensor store: the tensor map was not encoded for the host "
                 "device");
    return;
  }
  if (!at_tma_smem_off(src, at_tma_box_bytes(&h), "cp.async.bulk.tensor store source", &off))
    return;
  struct at_tma_block *b = at_tma_block_get();
  if (b->view_bytes < off + at_tma_box_bytes(&h)) {
    at_host_fail("cp.async.bulk.tensor store: no fence.proxy.async (at_tma_fence_proxy_async) "
                 "since the block started: the async proxy sees none of the writes");
    return;
  }
  // The box's 128-byte rows (a swizzle permutes bytes inside them, and the box starts at
  // a multiple of its pattern: at offset 0 of the copy the pattern is the same).
  unsigned long len = (at_tma_box_bytes(&h) + 127ul) / 128ul * 128ul;
  if (len > b->view_bytes - off)
    len = b->view_bytes - off;
  struct at_tma_store *s =
      static_cast<struct at_tma_store *>(__builtin_malloc(sizeof(struct at_tma_store)));
  if (!s) {
    at_host_fail("cp.async.bulk.tensor store: out of memory");
    return;
  }
  s->off = off, s->map = h, s->len = len, s->thread = at_host_self()->linear;
  s->c0 = c0, s->c1 = c1, s->group = -1;
  s->next = b->stores;
  b->stores = s;
}
AT_DEV void at_tma_store_commit(void)
{
  struct at_tma_block *b = at_tma_block_get();
  unsigned int *g = at_tma_groups();
  if (!g)
    return;
  unsigned int me = at_host_self()->linear;
  for (struct at_tma_store *s = b->stores; s; s = s->next)
    if (s->thread == me && s->group < 0)
      s->group = (int)g[me];
  g[me]++;
}
AT_DEV void at_host_tma_store_wait(int keep)
{
  struct at_tma_block *b = at_tma_block_get();
  unsigned int *g = at_tma_groups();
  if (!g)
    return;
  unsigned int me = at_host_self()->linear;
  int upto = (int)g[me] - keep;
  // oldest first: the list is newest first, so collect, then perform in reverse
  for (;;) {
    struct at_tma_store **oldest = 0;
    for (struct at_tma_store **p = &b->stores; *p; p = &(*p)->next)
      if ((*p)->thread == me && (*p)->group >= 0 && (*p)->group < upto)
        oldest = p;
    if (!oldest)
      return;
    struct at_tma_store *s = *oldest;
    // the source as the async proxy sees it now (note 5): the latest moment the GPU may
    // read it, so a box rewritten and fenced before this wait is what gets stored
    const char *why = at_emu_tma_store_2d(&s->map, b->view + s->off, s->len, 0, s->c0, s->c1);
    *oldest = s->next;
    __builtin_free(s);
    if (why) {
      at_host_fail(why);
      return;
    }
  }
}
template <int N> AT_DEV void at_tma_store_wait(void)
{
  static_assert(N >= 0 && N <= 7, "cp.async.bulk.wait_group takes a small count");
  at_host_tma_store_wait(N);
}
AT_DEV void at_tma_prefetch_map(const at_tensormap &map) { (void)map; }
// Note 8: the emulator's cluster barrier and ids.
AT_DEV void at_cluster_arrive(void)
{
  const struct at_host_rt_ext *rt = at_tma_rt();
  if (rt)
    rt->cluster_arrive();
}
AT_DEV void at_cluster_wait(void)
{
  const struct at_host_rt_ext *rt = at_tma_rt();
  if (rt)
    rt->cluster_wait();
}
AT_DEV unsigned int at_cluster_ctarank(void)
{
  const struct at_host_cluster *c = at_tma_cluster();
  return c ? c->rank : 0;
}
AT_DEV unsigned int at_cluster_nctas(void)
{
  const struct at_host_cluster *c = at_tma_cluster();
  return c ? c->nctas : 1;
}
AT_DEV unsigned int at_cluster_ctaid_x(void) { return at_tma_cluster()->ctaid[0]; }
AT_DEV unsigned int at_cluster_ctaid_y(void) { return at_tma_cluster()->ctaid[1]; }
AT_DEV unsigned int at_cluster_nctaid_x(void) { return at_tma_cluster()->dim[0]; }
AT_DEV unsigned int at_cluster_nctaid_y(void) { return at_tma_cluster()->dim[1]; }
AT_DEV unsigned int at_clusterid_x(void) { return at_tma_cluster()->id[0]; }
AT_DEV unsigned int at_clusterid_y(void) { return at_tma_cluster()->id[1]; }
#define AT_TMA_HOST_RANK_SHIFT 26 // a shared::cluster address: rank << 26 | offset
AT_DEV unsigned int at_mapa_shared(const void *p, unsigned int cta)
{
  unsigned long off = 0;
  size_t bytes = 0;
  if (!at_tma_smem_off(p, 1, "mapa", &off) || !at_tma_cta_smem(cta, &bytes, "mapa"))
    return 0;
  return (cta << AT_TMA_HOST_RANK_SHIFT) | (unsigned int)off;
}
// mapa's generic form: p's offset in CTA cta's shared memory, as a pointer.
template <typename T> AT_DEV T *at_mapa(T *p, unsigned int cta)
{
  unsigned long off = 0;
  size_t bytes = 0;
  unsigned char *base = 0;
  if (!at_tma_smem_off(p, sizeof(T), "mapa", &off) ||
      !(base = at_tma_cta_smem(cta, &bytes, "mapa")))
    return 0;
  return reinterpret_cast<T *>(base + off);
}
AT_DEV void at_mbarrier_arrive_cluster(unsigned int remote)
{
  struct at_tma_block *owner = 0;
  struct at_tma_mbar *m =
      at_tma_bar_at(remote >> AT_TMA_HOST_RANK_SHIFT,
                    remote & ((1u << AT_TMA_HOST_RANK_SHIFT) - 1u),
                    "mbarrier.arrive.shared::cluster", &owner);
  if (m)
    at_tma_arrive(owner, m);
}
// Named barriers: arrivals counted per thread into the barrier's current instance (every
// arrival of an instance must name the same count); the instance completes at `count`
// and the next begins. bar.sync waits (yielding, as mbarrier waits do: a barrier that
// never fills is reported as a deadlock) until the instance it arrived in completed.
AT_DEV unsigned int at_host_named_arrive(int id, int count, const char *what)
{
  struct at_tma_block *b = at_tma_block_get();
  if (id < 1 || id > 15 || count < 32 || count % 32 != 0 ||
      (unsigned int)count > at_host_self()->bdim[0] * at_host_self()->bdim[1] *
                                at_host_self()->bdim[2]) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s %d, %d: the id is 1..15 (0 is __syncthreads') and the "
             "count a multiple of 32 up to the block's threads", what, id, count);
    at_host_fail(msg);
    return 0;
  }
  if (b->named[id].arrived == 0)
    b->named[id].count = (unsigned int)count;
  else if (b->named[id].count != (unsigned int)count) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s %d, %d: the barrier's other arrivals said %u threads", what,
             id, count, b->named[id].count);
    at_host_fail(msg);
    return 0;
  }
  const unsigned int gen = b->named[id].gen;
  if (++b->named[id].arrived == b->named[id].count) {
    b->named[id].arrived = 0;
    b->named[id].gen++;
  }
  b->epoch++;
  return gen;
}
AT_DEV void at_named_bar_arrive(int id, int count)
{
  (void)at_host_named_arrive(id, count, "bar.arrive");
}
struct at_named_why {
  int id, count;
  const unsigned int *arrived;
};
AT_DEV void at_named_describe(char *buf, size_t len, const void *ctx)
{
  const struct at_named_why *w = static_cast<const struct at_named_why *>(ctx);
  snprintf(buf, len, "bar.sync %d, %d: %u of %d threads arrived", w->id, w->count,
           *w->arrived, w->count);
}
AT_DEV void at_named_bar_sync(int id, int count)
{
  const unsigned int gen = at_host_named_arrive(id, count, "bar.sync");
  struct at_tma_block *b = at_tma_block_get();
  while (id >= 1 && id <= 15 && b->named[id].gen == gen) {
    const struct at_named_why why = {id, count, &b->named[id].arrived};
    const struct at_host_rt_ext *rt = at_tma_rt();
    if (!rt)
      return;
    rt->yield(b->epoch, at_named_describe, &why);
  }
}
template <int N> AT_DEV void at_setmaxnreg_inc(void) {}
template <int N> AT_DEV void at_setmaxnreg_dec(void) {}
#endif
