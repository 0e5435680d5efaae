/*
 * test_host_api.c - the public host runtime (include/autotune/host.h) as a program
 * that links libautotune meets it: C entry functions that reach the emulated GPU only
 * through at_host_runtime()'s table (ids, barrier, warp collective, dynamic shared
 * memory, fail), checked by the values they compute; bad launches rejected with
 * AT_USAGE and a one-line message; kernel-side failures reported as AT_DEVICE, never a
 * hang. Every test has the same .timeout (see test_install.c).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/host.h"
#include "templates/common/at_host_rt.h"

#define TIMEOUT 60

static void expect_one_line(const char *what)
{
  const char *e = at_last_error();
  cr_expect_neq(e[0], '\0', "%s: no message", what);
  cr_expect_null(strchr(e, '\n'), "%s: message is not one line: %s", what, e);
  cr_expect_eq(strncmp(e, "at_host_launch: ", 16), 0, "%s: message does not name the call: %s",
               what, e);
}

/* ---- each thread writes its id, barrier, reads its neighbour's ---- */

struct ring {
  unsigned *ids;     /* per block: the linear ids the threads wrote */
  unsigned *seen;    /* per thread: the neighbour's id it read after the barrier */
  unsigned *dyn_ok;  /* per thread: 1 if the dynamic shared memory held the neighbour's */
  unsigned nthreads; /* per block */
  size_t dyn_bytes;
};

static void ring_entry(void *ctx)
{
  struct ring *r = ctx;
  const struct at_host_rt *rt = at_host_runtime();
  const struct at_host_thread *t = rt->self();
  unsigned block = t->bid[0] + t->gdim[0] * (t->bid[1] + t->gdim[1] * t->bid[2]);
  unsigned me = block * r->nthreads + t->linear;
  size_t bytes = 0;
  unsigned *shared = rt->dyn_shared(&bytes);
  r->ids[me] = me;
  if (bytes == r->dyn_bytes)
    shared[t->linear] = me;
  rt->barrier();
  unsigned next = (t->linear + 1) % r->nthreads;
  r->seen[me] = r->ids[block * r->nthreads + next];
  r->dyn_ok[me] = bytes == r->dyn_bytes && shared[next] == block * r->nthreads + next;
}

static void run_ring(int workers)
{
  const unsigned grid[3] = {3, 2, 1}, block[3] = {8, 4, 2};
  unsigned nthreads = 8 * 4 * 2, total = 6 * nthreads;
  struct ring r = {.ids = calloc(total, sizeof(unsigned)),
                   .seen = calloc(total, sizeof(unsigned)),
                   .dyn_ok = calloc(total, sizeof(unsigned)),
                   .nthreads = nthreads,
                   .dyn_bytes = nthreads * sizeof(unsigned)};
  cr_assert(r.ids && r.seen && r.dyn_ok);
  int rc = at_host_launch(ring_entry, &r, grid, block, r.dyn_bytes, 32, workers);
  cr_assert_eq(rc, AT_OK, "%s: %s", at_status_name(rc), at_last_error());
  for (unsigned i = 0; i < total; i++) {
    unsigned b = i / nthreads, next = b * nthreads + (i % nthreads + 1) % nthreads;
    cr_expect_eq(r.ids[i], i, "thread %u never ran", i);
    cr_expect_eq(r.seen[i], next, "thread %u read %u after the barrier, not %u", i,
                 r.seen[i], next);
    cr_expect_eq(r.dyn_ok[i], 1, "thread %u: dynamic shared memory wrong", i);
  }
  free(r.ids);
  free(r.seen);
  free(r.dyn_ok);
}

Test(host_api, threads_meet_at_the_barrier, .timeout = TIMEOUT)
{
  run_ring(0); /* the machine's CPUs */
  run_ring(1);
  run_ring(3);
}

/* ---- warp size 64: ids and the warp collective ---- */

struct wave {
  unsigned *sums;  /* per thread: the sum of its warp's linear ids, through warp_gather */
  unsigned *lanes; /* per thread: lane + 1000 * warp + 100000 * warp_size */
};

static void wave_entry(void *ctx)
{
  struct wave *w = ctx;
  const struct at_host_rt *rt = at_host_runtime();
  const struct at_host_thread *t = rt->self();
  unsigned all[64];
  unsigned mine = t->linear;
  rt->warp_gather(&mine, sizeof mine, all);
  unsigned sum = 0;
  for (unsigned i = 0; i < t->warp_size && i < 64; i++)
    sum += all[i];
  unsigned g = t->bid[0] * t->bdim[0] + t->linear;
  w->sums[g] = sum;
  w->lanes[g] = t->lane + 1000 * t->warp + 100000 * t->warp_size;
}

Test(host_api, runs_wave_size_64, .timeout = TIMEOUT)
{
  const unsigned grid[3] = {2, 1, 1}, block[3] = {128, 1, 1};
  struct wave w = {calloc(256, sizeof(unsigned)), calloc(256, sizeof(unsigned))};
  cr_assert(w.sums && w.lanes);
  int rc = at_host_launch(wave_entry, &w, grid, block, 0, 64, 2);
  cr_assert_eq(rc, AT_OK, "%s: %s", at_status_name(rc), at_last_error());
  for (unsigned g = 0; g < 256; g++) {
    unsigned linear = g % 128, warp = linear / 64;
    unsigned want = 64 * (64 * warp) + 63 * 64 / 2; /* sum of 64 consecutive ids */
    cr_expect_eq(w.sums[g], want, "thread %u: warp sum %u, not %u", g, w.sums[g], want);
    cr_expect_eq(w.lanes[g], linear % 64 + 1000 * warp + 100000 * 64,
                 "thread %u: lane/warp/warp_size %u", g, w.lanes[g]);
  }
  free(w.sums);
  free(w.lanes);
}

/* ---- what must fail ---- */

static void nothing(void *ctx)
{
  (void)ctx;
}

Test(host_api, rejects_bad_launches, .timeout = TIMEOUT)
{
  const unsigned one[3] = {1, 1, 1}, empty[3] = {0, 1, 1}, big[3] = {32, 33, 1};
  const unsigned k1024[3] = {32, 32, 1};

  cr_expect_eq(at_host_launch(nothing, NULL, one, empty, 0, 32, 1), AT_USAGE);
  expect_one_line("block 0");
  cr_expect_eq(at_host_launch(nothing, NULL, empty, one, 0, 32, 1), AT_USAGE);
  expect_one_line("grid 0");
  cr_expect_eq(at_host_launch(nothing, NULL, one, big, 0, 32, 1), AT_USAGE);
  expect_one_line("1056 threads");
  cr_expect_not_null(strstr(at_last_error(), "1024"), "no limit named: %s", at_last_error());
  cr_expect_eq(at_host_launch(nothing, NULL, one, one, 0, 16, 1), AT_USAGE);
  expect_one_line("warp size 16");
  cr_expect_eq(at_host_launch(nothing, NULL, one, one, (size_t)1 << 40, 32, 1), AT_USAGE);
  expect_one_line("1 TiB of shared memory");
  cr_expect_eq(at_host_launch(NULL, NULL, one, one, 0, 32, 1), AT_USAGE);
  expect_one_line("no entry");
  cr_expect_eq(at_host_launch(nothing, NULL, NULL, one, 0, 32, 1), AT_USAGE);
  expect_one_line("no grid");

  /* The limit itself is a good launch. */
  int rc = at_host_launch(nothing, NULL, one, k1024, 0, 32, 1);
  cr_expect_eq(rc, AT_OK, "1024 threads: %s", at_last_error());
}

static void fail_in_thread_5(void *ctx)
{
  (void)ctx;
  const struct at_host_rt *rt = at_host_runtime();
  const struct at_host_thread *t = rt->self();
  if (t->bid[0] == 1 && t->linear == 5)
    rt->fail("index out of range");
  rt->barrier();
}

static void half_at_barrier(void *ctx)
{
  (void)ctx;
  const struct at_host_rt *rt = at_host_runtime();
  if (rt->self()->linear < 16)
    rt->barrier();
}

Test(host_api, reports_kernel_failures, .timeout = TIMEOUT)
{
  const unsigned grid[3] = {4, 1, 1}, block[3] = {32, 1, 1};
  int rc = at_host_launch(fail_in_thread_5, NULL, grid, block, 0, 32, 2);
  cr_expect_eq(rc, AT_DEVICE, "%s", at_status_name(rc));
  expect_one_line("fail()");
  cr_expect_not_null(strstr(at_last_error(), "block (1,0,0)"), "%s", at_last_error());
  cr_expect_not_null(strstr(at_last_error(), "index out of range"), "%s", at_last_error());

  rc = at_host_launch(half_at_barrier, NULL, grid, block, 0, 32, 0);
  cr_expect_eq(rc, AT_DEVICE, "%s", at_status_name(rc));
  expect_one_line("barrier divergence");
  cr_expect_not_null(strstr(at_last_error(), "block (0,0,0)"), "%s", at_last_error());
}
