/*
 * test_lookup.c - the in-memory index of the C API (db/index.c) against the SQL path
 * (db_query_best): on a database built to be full of ties (shapes on a power-of-two
 * grid, where permuted offsets are exactly as far; few distinct times; one problem on
 * several devices of an arch), thousands of random lookups over devices, arches,
 * vendors and families must give the same answer, field by field. Then the same
 * lookups from several threads at once on one handle, and refreshes of the handle
 * while threads look up through it.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "autotune/autotune.h"
#include "base/device.h"
#include "db/db.h"
#include "tests/fixture.h"
#include "tests/helpers.h"

#define NQUERIES 4000
#define NTHREADS 8

static char *dir, *path;
static uint64_t rng_state;

static uint64_t rng(void)
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static const char *const devices[][3] = {
    {"h100", "sm_90", "nvidia"}, {"h200", "sm_90", "nvidia"},  {"a100", "sm_80", "nvidia"},
    {"mi300x", "gfx942", "amd"}, {"mi250x", "gfx90a", "amd"}, {"lab9", "sm_90", "nvidia"}};
#define NDEVICES (sizeof devices / sizeof *devices)

struct family {
  const char *op, *dtype, *layout;
  int ndims;
  const char *names[3];
};
static const struct family families[] = {
    {"gemm", "f16", "NN", 3, {"m", "n", "k"}},
    {"gemm", "f32", "NT", 3, {"m", "n", "k"}},
    {"softmax", "f16", "", 2, {"R", "C"}},
};
#define NFAMILIES (sizeof families / sizeof *families)

/* Powers of two 16 .. 4096: a query on the grid is as far from both its neighbours. */
static int64_t grid(void)
{
  return (int64_t)16 << (rng() % 9);
}

static int64_t any_dim(void)
{
  return rng() % 3 ? grid() : 1 + (int64_t)(rng() % 8192);
}

static void put(struct db *db, const char *run, int dev, const struct family *f,
                const int64_t *dims, const char *kernel, double time_us)
{
  char config[64];
  snprintf(config, sizeof config, "BM=%d,BN=%d", (int)(rng() % 4) * 32 + 32,
           (int)(rng() % 1000));
  struct db_trial t;
  db_trial_init(&t);
  db_uuid(t.uuid);
  memcpy(t.run_uuid, run, DB_UUID_LEN + 1);
  t.device = devices[dev][0], t.arch = devices[dev][1], t.vendor = devices[dev][2];
  t.kernel = kernel, t.kernel_hash = "0123456789abcdef";
  t.problem = (struct db_problem){.op = f->op, .dtype = f->dtype, .layout = f->layout,
                                  .ndims = f->ndims};
  for (int i = 0; i < f->ndims; i++)
    t.problem.dim_names[i] = f->names[i], t.problem.dims[i] = dims[i];
  t.config = config;
  t.status = DB_TRIAL_OK;
  t.time_median_us = t.time_min_us = t.time_max_us = time_us;
  if (rng() % 2)
    t.tflops = 1.0 + (double)(rng() % 100);
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_OK, "%s", at_last_error());
}

/* ~1,500 trials: random grid shapes of every family on every device (but below), some
 * shapes on several devices and both kernels, times from {10, 20, 30} (ties). */
static void setup(void)
{
  rng_state = 0x1234;
  dir = th_tmpdir();
  path = th_path(dir, "tuning.db");
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  cr_assert_eq(db_begin(db), AT_OK);
  for (int i = 0; i < 1500; i++) {
    int dev = (int)(rng() % NDEVICES);
    const struct family *f = &families[rng() % NFAMILIES];
    if ((dev == 4 && f != &families[1]) || (dev == 2 && f != &families[0]))
      continue; /* mi250x, a100 (alone in their arches): vendor fallbacks for the rest */
    int64_t dims[3] = {grid(), grid(), grid()};
    double time = 10.0 * (double)(1 + rng() % 3);
    put(db, run, dev, f, dims, rng() % 2 ? "gemm_mma" : "gemm_simt", time);
    if (rng() % 4 == 0) /* the same problem on another of its arch: minima, ties */
      put(db, run, dev == 0 ? 1 : dev == 1 ? 5 : dev == 5 ? 0 : dev, f, dims, "gemm_mma",
          time);
  }
  cr_assert_eq(db_commit(db), AT_OK, "%s", at_last_error());
  db_close(db);
}

static void teardown(void)
{
  th_rmtree(dir);
  free(dir);
  free(path);
}

TestSuite(lookup, .init = setup, .fini = teardown);

/* A random query: any family (or an untuned one), any mix of device, arch and vendor,
 * known or not, NULL or not (the two paths must agree even on odd ones). */
static void random_query(struct db_query *q, struct db_problem *p)
{
  static const char *const names[] = {"h100", "h200", "a100", "mi300x", "mi250x", "lab9",
                                      "b200", NULL};
  static const char *const arches[] = {"sm_90", "sm_80", "gfx942", "gfx90a", "sm_100", NULL};
  static const char *const vendors[] = {"nvidia", "amd", "intel", NULL};
  const struct family *f = &families[rng() % NFAMILIES];
  *p = (struct db_problem){.op = f->op, .dtype = rng() % 16 ? f->dtype : "bf16",
                           .layout = f->layout, .ndims = f->ndims};
  for (int i = 0; i < f->ndims; i++)
    p->dim_names[i] = f->names[i], p->dims[i] = any_dim();
  int d = (int)(rng() % NDEVICES);
  if (rng() % 4) { /* consistent, as at_best_config resolves a profile */
    *q = (struct db_query){.device = rng() % 5 ? devices[d][0] : NULL,
                           .arch = devices[d][1], .vendor = devices[d][2], .problem = p};
  } else {
    *q = (struct db_query){.device = names[rng() % 8], .arch = arches[rng() % 6],
                           .vendor = vendors[rng() % 4], .problem = p};
  }
  if (!q->device && !q->arch && !q->vendor)
    q->vendor = "nvidia";
}

static void expect_same(const struct db_match *a, const struct db_match *b, int i)
{
  cr_expect_eq(a->match, b->match, "query %d: match %d vs %d", i, a->match, b->match);
  cr_expect_str_eq(a->device, b->device, "query %d", i);
  cr_expect_str_eq(a->kernel, b->kernel, "query %d", i);
  cr_expect_str_eq(a->config, b->config, "query %d", i);
  cr_expect_str_eq(a->trial_uuid, b->trial_uuid, "query %d", i);
  cr_expect_eq(a->ndims, b->ndims, "query %d", i);
  for (int j = 0; j < a->ndims; j++)
    cr_expect_eq(a->dims[j], b->dims[j], "query %d: dim %d %lld vs %lld", i, j,
                 (long long)a->dims[j], (long long)b->dims[j]);
  cr_expect(a->time_median_us == b->time_median_us, "query %d", i);
  cr_expect(a->distance == b->distance, "query %d: distance %.17g vs %.17g", i,
            a->distance, b->distance);
  cr_expect((isnan(a->tflops) && isnan(b->tflops)) || a->tflops == b->tflops, "query %d", i);
}

Test(lookup, memory_index_answers_as_the_sql_path)
{
  struct db *db = NULL;
  cr_assert_eq(db_open(path, DB_READONLY, &db), AT_OK, "%s", at_last_error());
  struct db_index *ix = NULL;
  cr_assert_eq(db_index_load(db, &ix), AT_OK, "%s", at_last_error());
  cr_assert_gt(db_index_winners(ix), 1000);
  int kinds[4] = {0}, not_found = 0;
  for (int i = 0; i < NQUERIES; i++) {
    struct db_problem p;
    struct db_query q;
    random_query(&q, &p);
    struct db_match sql, mem;
    int rc_sql = db_query_best(db, &q, &sql);
    int rc_mem = db_index_best(ix, &q, &mem);
    cr_assert_eq(rc_mem, rc_sql, "query %d: %s vs %s (%s)", i, at_status_name(rc_mem),
                 at_status_name(rc_sql), at_last_error());
    if (rc_sql == AT_OK) {
      expect_same(&mem, &sql, i);
      kinds[sql.match]++;
    } else {
      not_found++;
    }
    db_match_release(&sql);
    db_match_release(&mem);
  }
  /* The test means something only if every rung and failure was reached. */
  for (int k = 0; k < 4; k++)
    cr_expect_gt(kinds[k], 50, "only %d answers of kind %s", kinds[k], at_match_name(k));
  cr_expect_gt(not_found, 50, "only %d not found", not_found);
  db_index_free(ix);
  db_close(db);
}

/* Ties across a k-d split, planted: shapes at equal distance from the query in every
 * direction, so the winner is decided by time and then by problem id alone. */
Test(lookup, equally_near_shapes_go_to_the_faster_then_the_earlier)
{
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  /* lab7 has its own arch: only these shapes, off the setup's grid (so that these
   * problems are recorded in this order). 40000 is as far (ln 2) from 20000 as 10000. */
  static const int64_t shapes[][3] = {{40000, 20000, 20000}, {10000, 20000, 20000},
                                      {20000, 40000, 20000}, {20000, 10000, 20000},
                                      {20000, 20000, 40000}, {20000, 20000, 10000}};
  for (int i = 0; i < 6; i++)
    fx_gemm(db, run, "lab7", "sm_77", "nvidia", "gemm_mma", shapes[i][0], shapes[i][1],
            shapes[i][2], i == 3 || i == 5 ? "FAST=1" : "SLOW=1", i >= 3 ? 5.0 : 9.0);
  for (int i = 0; i < 40; i++) /* enough shapes that the tree has inner nodes */
    fx_gemm(db, run, "lab7", "sm_77", "nvidia", "gemm_mma", 65536 + i, 16, 16, "FAR=1", 1.0);
  db_close(db);
  at_db *h = NULL;
  cr_assert_eq(at_db_open(path, &h), AT_OK, "%s", at_last_error());
  at_problem p = at_problem_gemm("f16", "NN", 20000, 20000, 20000);
  at_config *c = NULL;
  cr_assert_eq(at_best_config(h, "lab7", &p, &c), AT_OK, "%s", at_last_error());
  cr_expect_eq(at_config_match(c), AT_MATCH_NEAREST);
  cr_expect_str_eq(at_config_text(c), "FAST=1");
  cr_expect_eq(at_config_dim(c, 1), 10000); /* recorded before 20000^2x10000 */
  cr_expect_eq(at_config_dim(c, 2), 20000);
  at_config_free(c);
  at_db_close(h);
}

/* at_best_config resolves the device as a profile, then asks the index: the same as
 * db_query_best asked with that profile. */
Test(lookup, public_api_answers_as_the_sql_path)
{
  struct db *db = NULL;
  cr_assert_eq(db_open(path, DB_READONLY, &db), AT_OK, "%s", at_last_error());
  at_db *h = NULL;
  cr_assert_eq(at_db_open(path, &h), AT_OK, "%s", at_last_error());
  static const char *const asked[] = {"h100", "H200", "sm_90", "a100", "gfx942", "mi250x"};
  for (int i = 0; i < 1000; i++) {
    const char *device = asked[rng() % 6];
    const struct family *f = &families[rng() % NFAMILIES];
    at_problem ap = {.op = f->op, .dtype = f->dtype, .layout = f->layout, .ndims = f->ndims};
    struct db_problem p = {.op = f->op, .dtype = f->dtype, .layout = f->layout,
                           .ndims = f->ndims};
    for (int j = 0; j < f->ndims; j++) {
      ap.dim_names[j] = p.dim_names[j] = f->names[j];
      ap.dims[j] = p.dims[j] = any_dim();
    }
    const struct dev_profile *prof = dev_find(device);
    cr_assert_not_null(prof);
    struct db_query q = {.device = strcasecmp(device, prof->name) ? NULL : prof->name,
                         .arch = prof->arch, .vendor = dev_vendor_name(prof->vendor),
                         .problem = &p};
    struct db_match sql;
    at_config *c = NULL;
    int rc_sql = db_query_best(db, &q, &sql);
    int rc_api = at_best_config(h, device, &ap, &c);
    cr_assert_eq(rc_api, rc_sql, "lookup %d on %s", i, device);
    if (rc_sql == AT_OK) {
      cr_expect_eq(at_config_match(c), sql.match, "lookup %d", i);
      cr_expect_str_eq(at_config_text(c), sql.config, "lookup %d", i);
      cr_expect_str_eq(at_config_device(c), sql.device, "lookup %d", i);
      for (int j = 0; j < f->ndims; j++)
        cr_expect_eq(at_config_dim(c, j), sql.dims[j], "lookup %d", i);
    }
    db_match_release(&sql);
    at_config_free(c);
  }
  at_db_close(h);
  db_close(db);
}

struct answer {
  int rc;
  at_match match;
  char config[64], device[16];
  int64_t dims[3];
};

struct worker {
  at_db *h;
  const at_problem *problems;
  const char *const *asked;
  struct answer *out;
  int start;
};

static void answer(at_db *h, const char *device, const at_problem *p, struct answer *a)
{
  at_config *c = NULL;
  memset(a, 0, sizeof *a);
  a->rc = at_best_config(h, device, p, &c);
  if (a->rc != AT_OK)
    return;
  a->match = at_config_match(c);
  snprintf(a->config, sizeof a->config, "%s", at_config_text(c));
  snprintf(a->device, sizeof a->device, "%s", at_config_device(c));
  for (int j = 0; j < p->ndims; j++)
    a->dims[j] = at_config_dim(c, j);
  at_config_free(c);
}

/* Each thread walks every lookup, starting at its own offset so that threads ask
 * different things at the same moment. */
static void *work(void *arg)
{
  struct worker *w = arg;
  for (int n = 0; n < NQUERIES; n++) {
    int i = (w->start + n) % NQUERIES;
    answer(w->h, w->asked[i], &w->problems[i], &w->out[i]);
  }
  return NULL;
}

Test(lookup, threads_sharing_a_handle_get_single_threaded_answers)
{
  static at_problem problems[NQUERIES];
  static const char *asked[NQUERIES];
  static struct answer want[NQUERIES], got[NTHREADS][NQUERIES];
  static const char *const names[] = {"h100", "h200", "sm_90", "a100", "gfx942", "mi250x"};
  for (int i = 0; i < NQUERIES; i++) {
    const struct family *f = &families[rng() % NFAMILIES];
    problems[i] = (at_problem){.op = f->op, .dtype = f->dtype, .layout = f->layout,
                               .ndims = f->ndims};
    for (int j = 0; j < f->ndims; j++)
      problems[i].dim_names[j] = f->names[j], problems[i].dims[j] = any_dim();
    asked[i] = names[rng() % 6];
  }
  at_db *h = NULL;
  cr_assert_eq(at_db_open(path, &h), AT_OK, "%s", at_last_error());
  for (int i = 0; i < NQUERIES; i++)
    answer(h, asked[i], &problems[i], &want[i]);
  pthread_t th[NTHREADS];
  struct worker w[NTHREADS];
  for (int t = 0; t < NTHREADS; t++) {
    w[t] = (struct worker){h, problems, asked, got[t], t * (NQUERIES / NTHREADS)};
    cr_assert_eq(pthread_create(&th[t], NULL, work, &w[t]), 0);
  }
  for (int t = 0; t < NTHREADS; t++)
    pthread_join(th[t], NULL);
  for (int t = 0; t < NTHREADS; t++)
    for (int i = 0; i < NQUERIES; i++)
      cr_assert(memcmp(&got[t][i], &want[i], sizeof want[i]) == 0,
                "thread %d, lookup %d: '%s' on %s vs '%s' on %s", t, i, got[t][i].config,
                got[t][i].device, want[i].config, want[i].device);
  at_db_close(h);
}

/* at_db_refresh while other threads look up (autotune.h): each refresh swaps in a
 * snapshot with one more, faster winner for the hammered shape, and frees the old one
 * only when the lookups on it are done. Every lookup must answer, with a winner that
 * was committed (never a torn or freed one: the Sanitize build reports a read of a
 * freed snapshot), and the answers a thread sees never go back in time. */
#define NREFRESH 12
#define NHAMMER 4

struct hammer {
  at_db *h;
  atomic_int *stop;
  int lookups, bad, went_back;
};

static void *hammer(void *arg)
{
  struct hammer *w = arg;
  at_problem p = at_problem_gemm("f16", "NN", 20480, 20480, 20480);
  long last = -1;
  while (!atomic_load(w->stop)) {
    at_config *c = NULL;
    int64_t gen = -1;
    if (at_best_config(w->h, "lab8", &p, &c) != AT_OK ||
        at_config_get_int(c, "GEN", &gen) != AT_OK || gen < 0 || gen > NREFRESH)
      w->bad++;
    w->went_back += gen < last;
    last = gen > last ? gen : last;
    at_config_free(c);
    w->lookups++;
  }
  return NULL;
}

Test(lookup, refresh_while_threads_look_up_swaps_the_snapshot_safely)
{
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  fx_gemm(db, run, "lab8", "sm_88", "nvidia", "gemm_mma", 20480, 20480, 20480, "GEN=0",
          100.0);
  at_db *h = NULL;
  cr_assert_eq(at_db_open(path, &h), AT_OK, "%s", at_last_error());
  atomic_int stop = 0;
  pthread_t th[NHAMMER];
  struct hammer w[NHAMMER];
  for (int t = 0; t < NHAMMER; t++) {
    w[t] = (struct hammer){.h = h, .stop = &stop};
    cr_assert_eq(pthread_create(&th[t], NULL, hammer, &w[t]), 0);
  }
  for (int g = 1; g <= NREFRESH; g++) {
    char cfg[16];
    snprintf(cfg, sizeof cfg, "GEN=%d", g);
    fx_gemm(db, run, "lab8", "sm_88", "nvidia", "gemm_mma", 20480, 20480, 20480, cfg,
            100.0 - g);
    cr_assert_eq(at_db_refresh(h), AT_OK, "%s", at_last_error());
  }
  atomic_store(&stop, 1);
  int lookups = 0;
  for (int t = 0; t < NHAMMER; t++) {
    pthread_join(th[t], NULL);
    cr_expect_eq(w[t].bad, 0, "thread %d: %d bad answers", t, w[t].bad);
    cr_expect_eq(w[t].went_back, 0, "thread %d saw an older winner after a newer", t);
    lookups += w[t].lookups;
  }
  cr_expect_gt(lookups, 100, "only %d lookups ran during the refreshes", lookups);
  at_problem p = at_problem_gemm("f16", "NN", 20480, 20480, 20480);
  at_config *c = NULL;
  cr_assert_eq(at_best_config(h, "lab8", &p, &c), AT_OK);
  cr_expect_str_eq(at_config_text(c), "GEN=12");
  at_config_free(c);
  at_db_close(h);
  db_close(db);
}
