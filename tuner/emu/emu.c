/*
 * emu.c - the SIMT emulator's scheduler and runtime table: a grid of blocks handed out to
 * worker threads by an atomic counter, each block's GPU threads run as fibers
 * (emu_fiber.c) on the worker that took the block, the block barrier and the warp
 * collective implemented by switching fibers, and every kernel-side mistake turned into a
 * one-line error instead of a hang. Also the x86-64 SysV call of a variant's kernel with
 * arguments given as pointers (emu_call_*).
 *
 * Design note: the scheduler of one block (run_block), and its invariants.
 *  1. A block runs on one worker from start to end; its threads never migrate, so a
 *     kernel's `static thread_local` shared memory is the block's own, and everything
 *     below is touched by one OS thread only: no locks inside a block.
 *  2. Every thread is in one state: READY (runnable), BARRIER (waiting at the block
 *     barrier), GATHER (waiting at warp_gather or warp_share) or DONE (returned). Only
 *     the running fiber changes states, and only inside rt_barrier, warp_collect (both
 *     collectives), thread_main and thread_fail; the scheduler only picks READY fibers
 *     and reads.
 *  3. at_barrier == the number of BARRIER threads; arrived[w] == the number of GATHER
 *     lanes of warp w; done == the number of DONE threads.
 *  4. A barrier completes when at_barrier == nthreads: the thread that arrives last makes
 *     every BARRIER thread READY, resets at_barrier, counts the barrier (barrier_no) and
 *     goes on running. A warp_gather completes when arrived[w] == the lanes of warp w:
 *     the last lane copies every lane's bytes, in lane order, into the warp's stage
 *     (reading the waiting lanes' buffers on their suspended stacks) and from there into
 *     the output of every lane of warp_gather (a lane of warp_share reads the stage in
 *     place: it is the warp's own and changes only when the warp's next gather completes,
 *     after every lane has left this one), numbers the gather (a process-wide counter),
 *     makes them READY and goes on. So a completion never needs the scheduler, and a
 *     waiting thread's buffers stay valid until it is resumed.
 *  5. The scheduler runs warp by warp, each warp until none of its lanes is READY (so the
 *     warp collectives of one warp complete without a pass over the block), and repeats
 *     over the block while any fiber ran. When a full pass runs nothing and not every
 *     thread is DONE, no thread can ever run again: the block is stuck, and diagnose()
 *     says why: a warp some of whose lanes wait at warp_gather while others returned or
 *     wait at a barrier (checked first: the most precise report), else a barrier that the
 *     DONE threads never reach. Stuck is detected exactly, so a launch never hangs.
 *  6. A failure inside a fiber (fail(), lanes disagreeing on a gather's size) records
 *     the message, marks the block failed and leaves the fiber for good; the scheduler
 *     abandons the block's other fibers where they stand (their stacks are re-prepared,
 *     never resumed).
 *  7. The order of execution inside a block depends only on the kernel and the launch,
 *     never on the worker count or timing; blocks are claimed in increasing linear order,
 *     so when blocks fail the one reported (the lowest linear index) is the same for 1
 *     or N workers: every lower block was claimed before, and runs to its end.
 *  8. yield (at_host_rt_ext.h): a thread spinning on an mbarrier stays READY but is
 *     suspended with yielded set; the warp loop does not rerun a lane that yielded, and a
 *     pass counts as having run something only if some fiber ended other than by a
 *     yield, or yielded with a token other than the one it yielded with before (the
 *     block's mbarrier epoch changed: its wait may now succeed). A pass with only
 *     unchanged yields is stuck, as in 5, and diagnose() names the spinning threads.
 *  9. Clusters (emu_launch.cluster, at_host_rt_ext.h). A cluster of n > 1 CTAs runs on a
 *     group of n workers, one OS thread per CTA (so a kernel's thread_local state, static
 *     __shared__ included, is per CTA as on a GPU). The group's member 0 claims clusters
 *     in increasing linear order and starts every member's block; then the members take
 *     turns, in rank order, under the group's mutex: only the member whose turn it is
 *     runs fibers (one pass over its block, as in 5), so everything the CTAs share (the
 *     cluster barrier, each other's shared memory and mbarriers, threads made READY by a
 *     peer) is touched by one OS thread at a time, ordered by the mutex. A round (every
 *     member's pass) in which no member ran anything is stuck and diagnosed for the whole
 *     cluster; a member whose block failed ends the round and the launch. The cluster
 *     barrier (T_CLUSTER) counts every thread of every CTA: the last arrival makes the
 *     waiting threads of every member READY. A launch without clusters is a cluster of
 *     one on its worker (w->solo) with no group and no mutex. In a cluster every other
 *     pass runs the warps of a block last to first, and at_tma.h yields once after each
 *     completed mbarrier wait: so that a consumer warp's reads fall between a peer's (or
 *     its own CTA's) producer warp's steps in both orders, and a stage refilled too
 *     early is seen. A block that exits while a peer that accessed its shared memory
 *     (cta_shared) since the last completed cluster barrier phase still runs fails the
 *     launch (a missing barrier.cluster before the exit).
 * Workers and their fibers are kept in a cache between launches (stacks are mapped
 * once, not per launch): a timed launch pays for emulation, not for mmap.
 */
#include "tuner/emu/emu.h"
#include "tuner/emu/emu_fiber.h"
#include "templates/common/at_host_rt_ext.h"
#include "base/status.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tstate { T_READY = 0, T_BARRIER, T_GATHER, T_DONE, T_CLUSTER };

/* One emulated GPU thread. */
struct thread {
  struct emu_fiber fiber;
  struct at_host_thread id;
  enum tstate state;
  const void *mine;          /* at warp_gather: its contribution, output and size */
  void *all;
  size_t bytes;
  bool share;                /* at warp_share: reads the warp's stage, gets no copy */
  bool yielded;              /* its last switch out was a yield (note 8) */
  bool spinning;             /* it yielded before and has not made progress since */
  unsigned long long token;  /* the token of its last yield */
  unsigned yield_pass;       /* the scheduler pass of its last yield */
  bool cl_pending;           /* arrived at the cluster barrier, not yet waited (note 9) */
  unsigned cl_phase;         /* the cluster barrier phase it arrived on */
  /* what its last yield waits for (at_host_rt_ext.h): written only for a report */
  void (*why)(char *buf, size_t len, const void *ctx);
  const void *why_ctx;
};

struct launch_state;
struct worker;

/* The CTAs of one cluster and what they share (note 9). */
struct cluster_run {
  unsigned n;                /* CTAs per cluster */
  struct worker *ws[AT_HOST_MAX_CLUSTER];
  pthread_mutex_t mu;        /* group launches: whose turn, and all below */
  pthread_cond_t cv;
  unsigned turn;             /* the member that may run */
  bool active, quit, ran;    /* a cluster is running; no more; this round ran something */
  unsigned pass;
  uint64_t cluster;          /* its linear index */
  unsigned cl_at, cl_phase;  /* cluster barrier: arrivals in this phase, phases done */
  void *slots[AT_HOST_MAX_CLUSTER];
};

/* A warp's last completed gather: every lane's contribution in lane order, which stays
 * until the warp's next gather completes (so after each of its lanes has called the
 * next collective: a lane of warp_share reads it in place until then), and a number no
 * other completed gather of the process has (note 4). */
struct warp_stage {
  unsigned char *p;
  size_t cap;
  unsigned long long serial;
};
static unsigned long long gather_serial; /* atomic */

/* A worker: the fibers of one block at a time, and the block's bookkeeping. */
struct worker {
  struct worker *next_free;  /* in the cache */
  struct launch_state *L;
  struct emu_fiber sched;    /* the worker thread's own stack */
  struct thread *threads;
  size_t cap;                /* fibers made */
  size_t stack_size;         /* of each fiber */
  struct thread *cur;        /* the running fiber's thread */
  unsigned nthreads, nwarps, warp_size;
  unsigned *arrived;         /* per warp: lanes at warp_gather (nwarps) */
  struct warp_stage *stages; /* per warp: its last gather, lane order (nwarps) */
  size_t arrived_cap;        /* of both */
  unsigned at_barrier, done, barrier_no;
  unsigned bid[3];
  unsigned char *dyn;        /* dynamic shared memory */
  size_t dyn_cap, dyn_size;
  bool failed;
  char msg[512];
  pthread_t os_thread;
  struct cluster_run *C;     /* its cluster: a group's, or solo (note 9) */
  struct cluster_run solo;
  unsigned member;           /* its rank in its group */
  bool remote_used;          /* a peer accessed its shared memory (cta_shared) ... */
  unsigned remote_phase;     /* ... last while the cluster barrier had this many phases */
  struct at_host_cluster cl; /* this block's place in its cluster */
};

struct launch_state {
  const struct emu_launch *l;
  uint64_t nblocks;
  uint64_t nclusters;          /* cluster launches claim clusters (note 9) */
  unsigned cdim[3];            /* CTAs per cluster */
  atomic_uint_fast64_t next;   /* the next block to claim */
  atomic_int stop;             /* a block failed: claim no more */
  pthread_mutex_t mu;          /* guards the error below */
  int err_rc;
  uint64_t err_block;
  char err_msg[512];
};

static _Thread_local struct worker *tl_worker;
static atomic_ullong launch_serial; /* at_host_thread.launch: one per launch */

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct worker *cache_free;

/* ---- the runtime table ---- */

static struct worker *worker_here(void)
{
  struct worker *w = tl_worker;
  if (!w || !w->cur) {
    fputs("autotune: the host runtime was called outside an emulated launch\n", stderr);
    abort();
  }
  return w;
}

/* "0..31, 40, 48..63" for the threads (or lanes) i in [0, n) with pick(i) true. */
static void ranges(char *out, size_t len, const struct worker *w, unsigned first, unsigned n,
                   bool (*pick)(const struct thread *t, const void *arg), const void *arg)
{
  size_t used = 0;
  int nranges = 0;
  out[0] = '\0';
  for (unsigned i = 0; i < n; i++) {
    if (!pick(&w->threads[first + i], arg))
      continue;
    unsigned j = i;
    while (j + 1 < n && pick(&w->threads[first + j + 1], arg))
      j++;
    int k;
    if (++nranges > 8)
      k = snprintf(out + used, len - used, ", ...");
    else if (j == i)
      k = snprintf(out + used, len - used, "%s%u", used ? ", " : "", i);
    else
      k = snprintf(out + used, len - used, "%s%u..%u", used ? ", " : "", i, j);
    if (k < 0 || (size_t)k >= len - used || nranges > 8)
      return;
    used += (size_t)k;
    i = j;
  }
}

static bool in_state(const struct thread *t, const void *arg)
{
  return t->state == *(const enum tstate *)arg;
}

static bool not_in_state(const struct thread *t, const void *arg)
{
  return t->state != *(const enum tstate *)arg;
}

static bool is_spinning(const struct thread *t, const void *arg)
{
  (void)arg;
  return t->state == T_READY && t->spinning;
}

/* Threads that have not arrived on the cluster barrier's current phase. */
static bool not_arrived(const struct thread *t, const void *arg)
{
  const struct cluster_run *C = arg;
  return t->state != T_CLUSTER && !(t->cl_pending && t->cl_phase == C->cl_phase);
}

/* Record a failure of the running thread's block and leave the fiber for good. */
static void thread_fail(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void thread_fail(struct worker *w, const char *fmt, ...)
{
  struct thread *t = w->cur;
  int n = snprintf(w->msg, sizeof w->msg, "block (%u,%u,%u), thread (%u,%u,%u): ", w->bid[0],
                   w->bid[1], w->bid[2], t->id.tid[0], t->id.tid[1], t->id.tid[2]);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof w->msg)
    vsnprintf(w->msg + n, sizeof w->msg - (size_t)n, fmt, ap);
  va_end(ap);
  w->failed = true;
  t->state = T_DONE;
  emu_fiber_exit(&t->fiber, &w->sched);
}

static const struct at_host_thread *rt_self(void)
{
  return &worker_here()->cur->id;
}

static void rt_barrier(void)
{
  struct worker *w = worker_here();
  struct thread *t = w->cur;
  t->state = T_BARRIER;
  if (++w->at_barrier == w->nthreads) {
    for (unsigned i = 0; i < w->nthreads; i++)
      w->threads[i].state = T_READY;
    w->at_barrier = 0;
    w->barrier_no++;
    return;
  }
  emu_fiber_switch(&t->fiber, &w->sched);
}

static unsigned warp_lanes(const struct worker *w, unsigned warp)
{
  unsigned first = warp * w->warp_size;
  return w->nthreads - first < w->warp_size ? w->nthreads - first : w->warp_size;
}

/* The warp collective: a lane of warp_gather receives a copy in `all`, a lane of
 * warp_share (share) reads the warp's stage in place. */
static struct warp_stage *warp_collect(const void *mine, size_t bytes, void *all, bool share)
{
  struct worker *w = worker_here();
  struct thread *t = w->cur;
  unsigned warp = t->id.warp, first = warp * w->warp_size, n = warp_lanes(w, warp);
  struct warp_stage *st = &w->stages[warp];
  t->mine = mine;
  t->all = all;
  t->share = share;
  t->bytes = bytes;
  t->state = T_GATHER;
  if (++w->arrived[warp] < n) {
    emu_fiber_switch(&t->fiber, &w->sched);
    return st;
  }
  /* The last lane: check, stage in lane order, copy out to every lane that asked. */
  struct thread *lane = &w->threads[first];
  for (unsigned i = 0; i < n; i++)
    if (lane[i].bytes != bytes)
      thread_fail(w, "warp %u: lanes disagree on the size of a warp_gather (lane %u: %zu "
                  "bytes, lane %u: %zu bytes)", warp, i, lane[i].bytes, t->id.lane, bytes);
  size_t total = bytes * w->warp_size;
  if (total > st->cap) {
    unsigned char *s = realloc(st->p, total);
    if (!s)
      thread_fail(w, "out of memory for a warp_gather of %zu bytes", total);
    st->p = s;
    st->cap = total;
  }
  if (total) {
    if (n < w->warp_size)
      memset(st->p + (size_t)n * bytes, 0, total - (size_t)n * bytes);
    for (unsigned i = 0; i < n; i++)
      memcpy(st->p + (size_t)i * bytes, lane[i].mine, bytes);
    for (unsigned i = 0; i < n; i++)
      if (!lane[i].share)
        memcpy(lane[i].all, st->p, total);
  }
  st->serial = __atomic_add_fetch(&gather_serial, 1, __ATOMIC_RELAXED);
  for (unsigned i = 0; i < n; i++)
    lane[i].state = T_READY;
  w->arrived[warp] = 0;
  return st;
}

static void rt_warp_gather(const void *mine, size_t bytes, void *all)
{
  (void)warp_collect(mine, bytes, all, false);
}

static const void *rt_warp_share(const void *mine, size_t bytes, unsigned long long *serial)
{
  const struct warp_stage *st = warp_collect(mine, bytes, NULL, true);
  if (serial)
    *serial = st->serial;
  return st->p;
}

static void *rt_dyn_shared(size_t *bytes)
{
  struct worker *w = worker_here();
  if (bytes)
    *bytes = w->dyn_size;
  return w->dyn;
}

static void rt_yield(unsigned long long token,
                     void (*why)(char *buf, size_t len, const void *ctx), const void *ctx)
{
  struct worker *w = worker_here();
  struct thread *t = w->cur;
  t->yielded = true;
  t->token = token;
  t->why = why, t->why_ctx = ctx;
  emu_fiber_switch(&t->fiber, &w->sched);
}

static const struct at_host_cluster *rt_cluster(void)
{
  struct worker *w = worker_here();
  w->cl.barrier_phases = w->C->cl_phase;
  return &w->cl;
}

static void *rt_cta_shared(unsigned rank, size_t *bytes)
{
  struct worker *w = worker_here();
  if (bytes)
    *bytes = 0;
  if (rank >= w->C->n)
    return NULL;
  struct worker *peer = w->C->ws[rank];
  if (peer->done == peer->nthreads)
    return NULL; /* exited: its shared memory is gone */
  if (peer != w) { /* a remote access: the peer may not exit before a cluster barrier */
    peer->remote_used = true;
    peer->remote_phase = w->C->cl_phase;
  }
  if (bytes)
    *bytes = peer->dyn_size;
  return peer->dyn;
}

static void **rt_cluster_slot(unsigned rank)
{
  struct worker *w = worker_here();
  return rank < w->C->n ? &w->C->slots[rank] : NULL;
}

/* barrier.cluster.arrive: the last arrival of the phase frees every CTA's waiters. */
static void rt_cluster_arrive(void)
{
  struct worker *w = worker_here();
  struct thread *t = w->cur;
  struct cluster_run *C = w->C;
  if (t->cl_pending)
    thread_fail(w, "barrier.cluster.arrive twice without a barrier.cluster.wait between");
  t->cl_pending = true;
  t->cl_phase = C->cl_phase;
  if (++C->cl_at < C->n * w->nthreads)
    return;
  C->cl_at = 0;
  C->cl_phase++;
  for (unsigned m = 0; m < C->n; m++)
    for (unsigned i = 0; i < C->ws[m]->nthreads; i++)
      if (C->ws[m]->threads[i].state == T_CLUSTER)
        C->ws[m]->threads[i].state = T_READY;
}

static void rt_cluster_wait(void)
{
  struct worker *w = worker_here();
  struct thread *t = w->cur;
  if (!t->cl_pending)
    thread_fail(w, "barrier.cluster.wait without a barrier.cluster.arrive before it");
  if (w->C->cl_phase == t->cl_phase) {
    t->state = T_CLUSTER;
    emu_fiber_switch(&t->fiber, &w->sched);
  }
  t->cl_pending = false;
}

static void rt_fail(const char *message)
{
  struct worker *w = worker_here();
  thread_fail(w, "%.300s", message ? message : "(no message)");
}

static const struct at_host_rt_ext runtime = {
    /* .base = */ {
        /* .version = */ AT_HOST_RT_EXT_VERSION,
        /* .self = */ rt_self,
        /* .barrier = */ rt_barrier,
        /* .warp_gather = */ rt_warp_gather,
        /* .dyn_shared = */ rt_dyn_shared,
        /* .fail = */ rt_fail,
        /* .warp_share = */ rt_warp_share,
    },
    /* .yield = */ rt_yield,
    /* .cluster = */ rt_cluster,
    /* .cta_shared = */ rt_cta_shared,
    /* .cluster_slot = */ rt_cluster_slot,
    /* .cluster_arrive = */ rt_cluster_arrive,
    /* .cluster_wait = */ rt_cluster_wait,
};

const struct at_host_rt *emu_runtime(void)
{
  return &runtime.base;
}

/* ---- one block ---- */

static void thread_main(void *arg)
{
  struct thread *t = arg;
  struct worker *w = tl_worker;
  w->L->l->entry(w->L->l->ctx);
  w = tl_worker;
  t->state = T_DONE;
  w->done++;
  if (w->done == w->nthreads && w->remote_used && w->remote_phase == w->C->cl_phase)
    for (unsigned m = 0; m < w->C->n; m++) /* note 9: its shared memory still in use? */
      if (w->C->ws[m]->done < w->C->ws[m]->nthreads)
        thread_fail(w, "the block exits while block (%u,%u,%u) of its cluster, which "
                    "accessed its shared memory after the last cluster barrier, still runs "
                    "(no barrier.cluster before the exit?)", w->C->ws[m]->bid[0],
                    w->C->ws[m]->bid[1], w->C->ws[m]->bid[2]);
  emu_fiber_exit(&t->fiber, &w->sched);
}

/* Append printf-formatted text to the NUL-terminated buf[len], cutting at its end. */
static void appendf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t len, const char *fmt, ...)
{
  size_t used = strlen(buf);
  va_list ap;
  va_start(ap, fmt);
  if (used < len)
    vsnprintf(buf + used, len - used, fmt, ap);
  va_end(ap);
}

/* The block is stuck (no thread READY, not all DONE): say why into w->msg. */
static void diagnose(struct worker *w)
{
  char who[160], done[160], waiting[160];
  enum tstate at_gather = T_GATHER, at_barrier = T_BARRIER, returned = T_DONE;
  w->msg[0] = '\0';
  appendf(w->msg, sizeof w->msg, "block (%u,%u,%u): ", w->bid[0], w->bid[1], w->bid[2]);
  for (unsigned i = 0; i < w->nthreads; i++) {
    if (!is_spinning(&w->threads[i], NULL))
      continue;
    ranges(who, sizeof who, w, 0, w->nthreads, is_spinning, NULL);
    char why[AT_HOST_RT_WHY_MAX] = ""; /* the thread is suspended in its yield: ctx lives */
    if (w->threads[i].why)
      w->threads[i].why(why, sizeof why, w->threads[i].why_ctx);
    appendf(w->msg, sizeof w->msg, "threads %s spin on a wait that can never complete "
            "(thread %u: %s)", who, i, why);
    return;
  }
  for (unsigned warp = 0; warp < w->nwarps; warp++) {
    if (!w->arrived[warp])
      continue;
    unsigned first = warp * w->warp_size, lanes = warp_lanes(w, warp);
    ranges(who, sizeof who, w, first, lanes, in_state, &at_gather);
    ranges(done, sizeof done, w, first, lanes, in_state, &returned);
    ranges(waiting, sizeof waiting, w, first, lanes, in_state, &at_barrier);
    appendf(w->msg, sizeof w->msg, "warp %u: lanes %s wait at a warp_gather that ", warp,
            who);
    if (done[0] && waiting[0])
      appendf(w->msg, sizeof w->msg, "never completes: lanes %s returned, lanes %s wait "
              "at barrier %u", done, waiting, w->barrier_no + 1);
    else if (done[0])
      appendf(w->msg, sizeof w->msg, "lanes %s never reach (they returned)", done);
    else
      appendf(w->msg, sizeof w->msg, "lanes %s never reach (they wait at barrier %u)",
              waiting, w->barrier_no + 1);
    return;
  }
  enum tstate at_cluster = T_CLUSTER;
  for (unsigned i = 0; i < w->nthreads; i++) {
    if (w->threads[i].state != T_CLUSTER)
      continue;
    const struct cluster_run *C = w->C;
    ranges(who, sizeof who, w, 0, w->nthreads, in_state, &at_cluster);
    for (unsigned m = 0; m < C->n; m++) {
      const struct worker *p = C->ws[m];
      ranges(done, sizeof done, p, 0, p->nthreads, not_arrived, C);
      if (!done[0])
        continue;
      appendf(w->msg, sizeof w->msg, "threads %s wait at the cluster barrier (phase %u) "
              "that threads %s of block (%u,%u,%u) never reach", who, C->cl_phase + 1, done,
              p->bid[0], p->bid[1], p->bid[2]);
      return;
    }
  }
  ranges(who, sizeof who, w, 0, w->nthreads, in_state, &at_barrier);
  ranges(done, sizeof done, w, 0, w->nthreads, not_in_state, &at_barrier);
  appendf(w->msg, sizeof w->msg, "threads %s wait at barrier %u that threads %s never "
          "reach (they returned)", who, w->barrier_no + 1, done);
}

/* A cluster is stuck (a round ran nothing): the member whose block says most, diagnosed
 * into C->ws[0]->msg: spinning threads first, then the cluster barrier, then the first
 * member not done. */
static void cluster_diagnose(struct cluster_run *C)
{
  struct worker *pick = NULL;
  for (int want = 0; want < 3 && !pick; want++)
    for (unsigned m = 0; m < C->n && !pick; m++) {
      struct worker *p = C->ws[m];
      for (unsigned i = 0; i < p->nthreads && !pick; i++) {
        const struct thread *t = &p->threads[i];
        if ((want == 0 && is_spinning(t, NULL)) || (want == 1 && t->state == T_CLUSTER) ||
            (want == 2 && t->state != T_DONE))
          pick = p;
      }
    }
  if (!pick)
    pick = C->ws[0];
  diagnose(pick);
  if (pick != C->ws[0])
    memcpy(C->ws[0]->msg, pick->msg, sizeof pick->msg);
}

/* Make block `b` (linear) ready to run: ids, shared memory, fresh fibers. */
static void block_start(struct worker *w, uint64_t b)
{
  const struct emu_launch *l = w->L->l;
  w->bid[0] = (unsigned)(b % l->grid[0]);
  w->bid[1] = (unsigned)(b / l->grid[0] % l->grid[1]);
  w->bid[2] = (unsigned)(b / l->grid[0] / l->grid[1]);
  w->at_barrier = w->done = w->barrier_no = 0;
  w->failed = false;
  w->remote_used = false;
  memset(w->arrived, 0, w->nwarps * sizeof *w->arrived);
  if (w->dyn_size)
    memset(w->dyn, 0, w->dyn_size);
  for (int i = 0; i < 3; i++) {
    w->cl.ctaid[i] = w->bid[i] % w->cl.dim[i];
    w->cl.id[i] = w->bid[i] / w->cl.dim[i];
  }
  w->cl.rank = w->cl.ctaid[0] + w->cl.dim[0] * (w->cl.ctaid[1] + w->cl.dim[1] * w->cl.ctaid[2]);
  for (unsigned i = 0; i < w->nthreads; i++) {
    struct thread *t = &w->threads[i];
    memcpy(t->id.bid, w->bid, sizeof w->bid);
    t->state = T_READY;
    t->bytes = 0;
    t->yielded = t->spinning = false;
    t->token = 0;
    t->yield_pass = 0;
    t->cl_pending = false;
    t->cl_phase = 0;
    emu_fiber_prepare(&t->fiber, thread_main, t);
  }
}

/* One pass over the block (note 5): *ran says whether anything ran. AT_OK, or AT_DEVICE
 * when a thread failed (w->msg). */
static int block_pass(struct worker *w, unsigned pass, bool *ran)
{
  /* in a cluster every other pass runs the warps last to first (note 9) */
  bool reverse = w->C->n > 1 && pass % 2 == 0;
  for (unsigned k = 0; k < w->nwarps; k++) {
    unsigned warp = reverse ? w->nwarps - 1 - k : k;
    unsigned first = warp * w->warp_size, lanes = warp_lanes(w, warp);
    bool again = true;
    while (again) {
      again = false;
      for (unsigned i = first; i < first + lanes; i++) {
        struct thread *t = &w->threads[i];
        if (t->state != T_READY || (t->yielded && t->yield_pass == pass))
          continue;
        unsigned long long before = t->token;
        bool was_spinning = t->spinning;
        t->yielded = false;
        w->cur = t;
        emu_fiber_switch(&w->sched, &t->fiber);
        w->cur = NULL;
        if (w->failed)
          return AT_DEVICE;
        if (t->state == T_READY && t->yielded) { /* note 8 */
          t->yield_pass = pass;
          t->spinning = true;
          if (!was_spinning || t->token != before)
            *ran = true;
          continue;
        }
        t->spinning = false;
        again = *ran = true;
      }
    }
  }
  return AT_OK;
}

/* Run block `b` (linear), a cluster of one, to its end. AT_OK, or AT_DEVICE with w->msg. */
static int run_block(struct worker *w, uint64_t b)
{
  w->solo.cl_at = w->solo.cl_phase = 0;
  w->solo.slots[0] = NULL;
  block_start(w, b);
  for (unsigned pass = 1;; pass++) {
    bool ran = false;
    if (block_pass(w, pass, &ran))
      return AT_DEVICE;
    if (w->done == w->nthreads)
      return AT_OK;
    if (!ran) {
      diagnose(w);
      return AT_DEVICE;
    }
  }
}

/* ---- workers ---- */

static void worker_free(struct worker *w)
{
  if (!w)
    return;
  for (size_t i = 0; i < w->cap; i++)
    emu_fiber_release(&w->threads[i].fiber);
  emu_fiber_release(&w->sched);
  free(w->threads);
  for (size_t i = 0; i < w->arrived_cap; i++)
    free(w->stages[i].p);
  free(w->stages);
  free(w->arrived);
  free(w->dyn);
  free(w);
}

/* A worker from the cache (or a new one) fit for launch l. AT_OK, AT_NOMEM. */
static int worker_get(const struct emu_launch *l, unsigned nthreads, size_t stack_size,
                      struct worker **out)
{
  int rc = AT_OK;
  struct worker *w = NULL;
  *out = NULL;
  pthread_mutex_lock(&cache_mu);
  if ((w = cache_free))
    cache_free = w->next_free;
  pthread_mutex_unlock(&cache_mu);
  if (!w) {
    if (!(w = calloc(1, sizeof *w)))
      return at_error(AT_NOMEM, "out of memory");
    if ((rc = emu_fiber_init_thread(&w->sched, EMU_SWITCH_DEFAULT)))
      goto fail;
  }
  w->next_free = NULL;
  if (w->stack_size != stack_size) { /* fibers of another size: remake them */
    for (size_t i = 0; i < w->cap; i++)
      emu_fiber_release(&w->threads[i].fiber);
    w->cap = 0;
    w->stack_size = stack_size;
  }
  if (w->cap < nthreads) {
    struct thread *t = realloc(w->threads, nthreads * sizeof *t);
    if (!t) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto fail;
    }
    w->threads = t;
    memset(t + w->cap, 0, (nthreads - w->cap) * sizeof *t);
    for (; w->cap < nthreads; w->cap++)
      if ((rc = emu_fiber_init(&t[w->cap].fiber, EMU_SWITCH_DEFAULT, stack_size)))
        goto fail;
  }
  unsigned nwarps = (nthreads + l->warp_size - 1) / l->warp_size;
  if (w->arrived_cap < nwarps) {
    unsigned *a = realloc(w->arrived, nwarps * sizeof *a);
    if (a)
      w->arrived = a;
    struct warp_stage *st = a ? realloc(w->stages, nwarps * sizeof *st) : NULL;
    if (!st) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto fail;
    }
    memset(st + w->arrived_cap, 0, (nwarps - w->arrived_cap) * sizeof *st);
    w->stages = st;
    w->arrived_cap = nwarps;
  }
  if (w->dyn_cap < l->dyn_shared) {
    free(w->dyn);
    w->dyn_cap = 0;
    if (posix_memalign((void **)&w->dyn, 256, l->dyn_shared) != 0) {
      w->dyn = NULL;
      rc = at_error(AT_NOMEM, "out of memory for %zu bytes of dynamic shared memory",
                    l->dyn_shared);
      goto fail;
    }
    w->dyn_cap = l->dyn_shared;
  }
  w->dyn_size = l->dyn_shared;
  w->nthreads = nthreads;
  w->nwarps = nwarps;
  memset(&w->cl, 0, sizeof w->cl);
  w->cl.nctas = 1;
  for (int i = 0; i < 3; i++) {
    w->cl.dim[i] = l->cluster[i] ? l->cluster[i] : 1;
    w->cl.nclusters[i] = l->grid[i] / w->cl.dim[i];
    w->cl.nctas *= w->cl.dim[i];
  }
  w->solo.n = 1;
  w->solo.ws[0] = w;
  w->C = &w->solo;
  w->member = 0;
  w->warp_size = l->warp_size;
  for (unsigned i = 0; i < nthreads; i++) {
    struct at_host_thread *id = &w->threads[i].id;
    id->tid[0] = i % l->block[0];
    id->tid[1] = i / l->block[0] % l->block[1];
    id->tid[2] = i / l->block[0] / l->block[1];
    memcpy(id->bdim, l->block, sizeof id->bdim);
    memcpy(id->gdim, l->grid, sizeof id->gdim);
    id->linear = i;
    id->lane = i % l->warp_size;
    id->warp = i / l->warp_size;
    id->warp_size = l->warp_size;
  }
  *out = w;
  return AT_OK;
fail:
  worker_free(w);
  return rc;
}

static void worker_put(struct worker *w)
{
  w->L = NULL;
  w->cur = NULL;
  pthread_mutex_lock(&cache_mu);
  w->next_free = cache_free;
  cache_free = w;
  pthread_mutex_unlock(&cache_mu);
}

void emu_release_cache(void)
{
  pthread_mutex_lock(&cache_mu);
  struct worker *w = cache_free;
  cache_free = NULL;
  pthread_mutex_unlock(&cache_mu);
  while (w) {
    struct worker *next = w->next_free;
    worker_free(w);
    w = next;
  }
}

/* Block (or cluster) b failed with msg: keep the lowest one's message, claim no more. */
static void record_failure(struct launch_state *L, uint64_t b, const char *msg)
{
  pthread_mutex_lock(&L->mu);
  if (!L->err_rc || b < L->err_block) {
    L->err_rc = AT_DEVICE;
    L->err_block = b;
    snprintf(L->err_msg, sizeof L->err_msg, "%s", msg);
  }
  pthread_mutex_unlock(&L->mu);
  atomic_store(&L->stop, 1);
}

static void *worker_main(void *arg)
{
  struct worker *w = arg;
  struct launch_state *L = w->L;
  tl_worker = w;
  while (!atomic_load(&L->stop)) {
    uint64_t b = atomic_fetch_add(&L->next, 1);
    if (b >= L->nblocks)
      break;
    if (run_block(w, b) != AT_OK) {
      record_failure(L, b, w->msg);
      break;
    }
  }
  tl_worker = NULL;
  return NULL;
}

/* The linear block of CTA `rank` of cluster c (x fastest, as %cluster_ctarank). */
static uint64_t cluster_block(const struct launch_state *L, uint64_t c, unsigned rank)
{
  const unsigned *g = L->l->grid, *d = L->cdim;
  uint64_t nx = g[0] / d[0], ny = g[1] / d[1];
  uint64_t x = c % nx * d[0] + rank % d[0];
  uint64_t y = c / nx % ny * d[1] + rank / d[0] % d[1];
  uint64_t z = c / nx / ny * d[2] + rank / d[0] / d[1];
  return x + g[0] * (y + (uint64_t)g[1] * z);
}

/* Member 0 at the start of a round (note 9): end the running cluster when it is done,
 * failed or stuck, claim and start the next one. false: the group stops. */
static bool group_round(struct cluster_run *C, struct launch_state *L)
{
  if (C->active) {
    const struct worker *failed = NULL;
    bool all_done = true;
    for (unsigned m = 0; m < C->n; m++) {
      if (C->ws[m]->failed && !failed)
        failed = C->ws[m];
      all_done = all_done && C->ws[m]->done == C->ws[m]->nthreads;
    }
    if (failed) {
      record_failure(L, C->cluster, failed->msg);
      return false;
    }
    if (!all_done && !C->ran) {
      cluster_diagnose(C);
      record_failure(L, C->cluster, C->ws[0]->msg);
      return false;
    }
    C->active = !all_done;
  }
  if (!C->active) {
    if (atomic_load(&L->stop))
      return false;
    uint64_t c = atomic_fetch_add(&L->next, 1);
    if (c >= L->nclusters)
      return false;
    C->cluster = c;
    C->active = true;
    C->pass = 0;
    C->cl_at = C->cl_phase = 0;
    memset(C->slots, 0, sizeof C->slots);
    for (unsigned m = 0; m < C->n; m++)
      block_start(C->ws[m], cluster_block(L, c, m));
  }
  C->pass++;
  C->ran = false;
  return true;
}

/* A member of a cluster group: its CTA's pass when its turn comes (note 9). */
static void *member_main(void *arg)
{
  struct worker *w = arg;
  struct cluster_run *C = w->C;
  tl_worker = w;
  pthread_mutex_lock(&C->mu);
  for (;;) {
    while (C->turn != w->member && !C->quit)
      pthread_cond_wait(&C->cv, &C->mu);
    if (C->quit)
      break;
    if (w->member == 0 && !group_round(C, w->L)) {
      C->quit = true;
      pthread_cond_broadcast(&C->cv);
      break;
    }
    bool skip = w->done == w->nthreads;
    for (unsigned m = 0; m < C->n; m++)
      skip = skip || C->ws[m]->failed;
    unsigned pass = C->pass;
    pthread_mutex_unlock(&C->mu);
    bool ran = false;
    if (!skip)
      (void)block_pass(w, pass, &ran); /* a failure is w->failed, seen by member 0 */
    pthread_mutex_lock(&C->mu);
    C->ran = C->ran || ran;
    C->turn = (w->member + 1) % C->n;
    pthread_cond_broadcast(&C->cv);
  }
  pthread_mutex_unlock(&C->mu);
  tl_worker = NULL;
  return NULL;
}

int emu_launch(const struct emu_launch *l)
{
  int rc = AT_OK;
  struct worker *ws[EMU_MAX_WORKERS] = {0};
  bool started[EMU_MAX_WORKERS] = {0};
  struct launch_state L;
  struct cluster_run *groups = NULL;
  int nw = 0;
  memset(&L, 0, sizeof L);

  if (!l || !l->entry)
    return at_error(AT_USAGE, "emu: no kernel to launch");
  uint64_t nthreads = (uint64_t)l->block[0] * l->block[1] * l->block[2];
  L.nblocks = (uint64_t)l->grid[0] * l->grid[1] * l->grid[2];
  if (!nthreads || !L.nblocks)
    return at_error(AT_USAGE, "emu: empty launch (grid %ux%ux%u, block %ux%ux%u)",
                    l->grid[0], l->grid[1], l->grid[2], l->block[0], l->block[1],
                    l->block[2]);
  if (nthreads > EMU_MAX_THREADS)
    return at_error(AT_USAGE, "emu: %llu threads per block (block %ux%ux%u); at most %u",
                    (unsigned long long)nthreads, l->block[0], l->block[1], l->block[2],
                    EMU_MAX_THREADS);
  if (l->warp_size != 32 && l->warp_size != 64)
    return at_error(AT_USAGE, "emu: warp size %u; 32 or 64", l->warp_size);
  if (l->dyn_shared > EMU_MAX_DYN_SHARED)
    return at_error(AT_USAGE, "emu: %zu bytes of dynamic shared memory; at most %u",
                    l->dyn_shared, EMU_MAX_DYN_SHARED);
  unsigned csize = 1;
  for (int i = 0; i < 3; i++) {
    L.cdim[i] = l->cluster[i] ? l->cluster[i] : 1;
    csize *= L.cdim[i];
  }
  if (csize > AT_HOST_MAX_CLUSTER || l->grid[0] % L.cdim[0] || l->grid[1] % L.cdim[1] ||
      l->grid[2] % L.cdim[2])
    return at_error(AT_USAGE, "emu: grid %ux%ux%u in clusters of %ux%ux%u: the grid must be "
                    "a multiple of the cluster, of at most %d CTAs", l->grid[0], l->grid[1],
                    l->grid[2], L.cdim[0], L.cdim[1], L.cdim[2], AT_HOST_MAX_CLUSTER);
  L.nclusters = L.nblocks / csize;
  L.l = l;
  atomic_init(&L.next, 0);
  atomic_init(&L.stop, 0);
  pthread_mutex_init(&L.mu, NULL);

  /* workers: one per block at a time, or groups of csize for clusters (note 9) */
  int ngroups = l->workers > 0 ? l->workers : 1;
  if (ngroups > EMU_MAX_WORKERS / (int)csize)
    ngroups = EMU_MAX_WORKERS / (int)csize;
  if ((uint64_t)ngroups > L.nclusters)
    ngroups = (int)L.nclusters;
  nw = ngroups * (int)csize;
  if (csize > 1 && !(groups = calloc((size_t)ngroups, sizeof *groups))) {
    pthread_mutex_destroy(&L.mu);
    return at_error(AT_NOMEM, "out of memory");
  }
  for (int g = 0; groups && g < ngroups; g++) {
    pthread_mutex_init(&groups[g].mu, NULL);
    pthread_cond_init(&groups[g].cv, NULL);
  }
  size_t stack = l->stack_size ? l->stack_size : EMU_STACK_DEFAULT;
  /* the launch's number (at_host_thread.launch): a kernel's per-thread queues of an
   * earlier launch on the same OS thread are not this one's (at_host_emu.h) */
  const unsigned long long serial = atomic_fetch_add(&launch_serial, 1) + 1;
  for (int i = 0; i < nw; i++) {
    if ((rc = worker_get(l, (unsigned)nthreads, stack, &ws[i])))
      goto out;
    for (uint64_t j = 0; j < nthreads; j++)
      ws[i]->threads[j].id.launch = serial;
    ws[i]->L = &L;
    if (groups) {
      struct cluster_run *C = &groups[i / (int)csize];
      ws[i]->C = C;
      ws[i]->member = (unsigned)i % csize;
      C->ws[ws[i]->member] = ws[i];
      C->n = csize;
    }
  }
  void *(*run)(void *) = groups ? member_main : worker_main;
  for (int i = 1; i < nw; i++) {
    if (pthread_create(&ws[i]->os_thread, NULL, run, ws[i]) != 0) {
      atomic_store(&L.stop, 1);
      rc = at_error(AT_NOMEM, "emu: cannot start worker thread %d", i);
      for (int g = 0; groups && g < ngroups; g++) { /* wake the members that started */
        pthread_mutex_lock(&groups[g].mu);
        groups[g].quit = true;
        pthread_cond_broadcast(&groups[g].cv);
        pthread_mutex_unlock(&groups[g].mu);
      }
      break;
    }
    started[i] = true;
  }
  if (!rc)
    run(ws[0]);
  for (int i = 1; i < nw; i++)
    if (started[i])
      pthread_join(ws[i]->os_thread, NULL);
  if (!rc && L.err_rc)
    rc = at_error(L.err_rc, "%s", L.err_msg);
out:
  for (int i = 0; i < nw; i++)
    if (ws[i])
      worker_put(ws[i]);
  for (int g = 0; groups && g < ngroups; g++) {
    pthread_mutex_destroy(&groups[g].mu);
    pthread_cond_destroy(&groups[g].cv);
  }
  free(groups);
  pthread_mutex_destroy(&L.mu);
  return rc;
}

/* ---- calling a kernel: the x86-64 SysV trick ----
 *
 * ABI note. A variant's kernel is `extern "C" void NAME(<params>)` with a parameter list
 * that varies per template; the emulator knows it only as a string of classes ("ppffi").
 * Under the x86-64 System V ABI (psABI 3.2.3, "Parameter Passing") a parameter of class
 * INTEGER (pointers, ints, longs) takes the next free register of rdi, rsi, rdx, rcx,
 * r8, r9, and one of class SSE (float, double) the next of xmm0..xmm7, each sequence
 * independently of the other; what does not fit goes on the stack, one 8-byte slot per
 * parameter, in parameter order. A float parameter is read from the low 32 bits of its
 * xmm register (or its slot). So every such function can be called through one type,
 *   void (*)(u64 x6, double x8, u64 x16)
 * with the integer arguments packed in order into the six u64, the float arguments
 * packed in order into the eight doubles (a float's bits in the low half of the double's
 * bits), and the arguments that overflow either sequence in parameter order into the
 * stack words. The callee reads what its own prototype names and ignores the rest; the
 * caller pops the stack words (the callee never does under SysV). int and unsigned are
 * widened to 64 bits (the callee reads the low half). Aggregates by value, long double
 * and __int128 are not supported. Other ABIs (Windows x64, AArch64's different stack
 * rules) fail with AT_UNSUPPORTED.
 */

#if defined(__x86_64__) && !defined(_WIN32)
typedef void (*call14_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                          double, double, double, double, double, double, double, double);
typedef void (*call30_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                          double, double, double, double, double, double, double, double,
                          uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                          uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                          uint64_t, uint64_t, uint64_t, uint64_t);
#endif

int emu_call_pack(struct emu_call *c, void *fn, const char *kinds, void *const *args)
{
  memset(c, 0, sizeof *c);
#if !defined(__x86_64__) || defined(_WIN32)
  (void)fn;
  (void)kinds;
  (void)args;
  return at_error(AT_UNSUPPORTED, "emu: calling a host kernel needs the x86-64 SysV ABI");
#else
  int ngpr = 0, nfpr = 0;
  if (!fn || !kinds || (kinds[0] && !args))
    return at_error(AT_USAGE, "emu: no kernel or no arguments to call");
  c->fn = fn;
  for (size_t i = 0; kinds[i]; i++) {
    uint64_t word = 0;
    bool sse = false;
    const void *p = args[i];
    if (!p)
      return at_error(AT_USAGE, "emu: argument %zu is NULL", i);
    switch (kinds[i]) {
    case 'p': { void *v; memcpy(&v, p, sizeof v); word = (uint64_t)(uintptr_t)v; break; }
    case 'i': { int32_t v; memcpy(&v, p, sizeof v); word = (uint64_t)(int64_t)v; break; }
    case 'u': { uint32_t v; memcpy(&v, p, sizeof v); word = v; break; }
    case 'l': memcpy(&word, p, sizeof word); break;
    case 'f': { uint32_t v; memcpy(&v, p, sizeof v); word = v; sse = true; break; }
    case 'd': memcpy(&word, p, sizeof word); sse = true; break;
    /* a tensor map (at_tma.h): the kernel's `const at_tensormap &` is its address */
    case 'm': word = (uint64_t)(uintptr_t)p; break;
    default:
      return at_error(AT_USAGE, "emu: unknown argument kind '%c' in \"%.40s\" (p, i, u, "
                      "l, f, d, m)", kinds[i], kinds);
    }
    if (!sse && ngpr < 6) {
      c->gpr[ngpr++] = word;
    } else if (sse && nfpr < 8) {
      memcpy(&c->fpr[nfpr++], &word, sizeof word);
    } else if (c->nstack < 16) {
      c->stack[c->nstack++] = word;
    } else {
      return at_error(AT_USAGE, "emu: too many kernel arguments (\"%.40s\")", kinds);
    }
  }
  return AT_OK;
#endif
}

void emu_call_run(void *ctx)
{
#if defined(__x86_64__) && !defined(_WIN32)
  const struct emu_call *c = ctx;
  const uint64_t *g = c->gpr, *s = c->stack;
  const double *f = c->fpr;
  if (c->nstack == 0) {
    call14_fn fn;
    memcpy(&fn, &c->fn, sizeof fn);
    fn(g[0], g[1], g[2], g[3], g[4], g[5], f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]);
  } else {
    call30_fn fn;
    memcpy(&fn, &c->fn, sizeof fn);
    fn(g[0], g[1], g[2], g[3], g[4], g[5], f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7],
       s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12],
       s[13], s[14], s[15]);
  }
#else
  (void)ctx;
  abort(); /* emu_call_pack refused */
#endif
}
