/*
 * bench_query.c - latency of at_best_config on a large tuning database. Builds a
 * database in /tmp with 10,000 tuned gemm shapes on h100 (a log-uniform grid of m, n, k,
 * one ok trial each plus failed trials), then times lookups through the public API:
 * exact hits, nearest-shape lookups (shapes never tuned) and the arch fallback (h200,
 * same sm_90, nothing tuned on it). The yardstick, measured in the same run on the same
 * shapes, is the naive lookup a user might write: a fresh statement per lookup that reads
 * every winners row through SQLite and computes the distance in C. Prints medians, p99s
 * and ratios; never run by the tests.
 *
 *   bench_query [--full] [--keep]
 *
 * Each kind of lookup runs 2,000 times, or as many as fit in BUDGET_S seconds (at least
 * 200) so the whole run stays under a minute on a slow lookup; --full always runs 2,000.
 * --keep leaves the database in /tmp for inspection.
 */
#include <math.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autotune/autotune.h"
#include "db/db.h"
#include "base/num.h"

#define NSHAPES 10000
#define NGRID 22          /* 22^3 = 10648 grid points, 10,000 of them tuned */
#define NLOOKUPS 2000
#define MIN_LOOKUPS 200
#define BUDGET_S 8.0      /* per kind of lookup, unless --full */

struct shape {
  int64_t m, n, k;
};

struct stats {
  int n;
  double median_us, p99_us, mean_us;
};

static bool full_run;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* splitmix64: deterministic, so every run benchmarks the same database. */
static uint64_t rng(void)
{
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static struct stats summarise(double *t, int n)
{
  qsort(t, (size_t)n, sizeof *t, num_cmp_double);
  double sum = 0;
  for (int i = 0; i < n; i++)
    sum += t[i];
  int p99 = (int)ceil(0.99 * n) - 1;
  return (struct stats){.n = n,
                        .median_us = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2,
                        .p99_us = t[p99 < 0 ? 0 : p99],
                        .mean_us = sum / n};
}

/* Grid values 16..16384, log-spaced, all even (so an odd dimension is never tuned). */
static int64_t grid_value(int i)
{
  return 2 * (int64_t)llround(8.0 * pow(2.0, 10.0 * i / (NGRID - 1)));
}

/* An odd dimension, log-uniform in [16, 16384]: never on the grid. */
static int64_t off_grid_value(void)
{
  double u = (double)(rng() >> 11) / 9007199254740992.0;
  int64_t v = (int64_t)llround(16.0 * pow(1024.0, u));
  return v | 1;
}

/* Whether lookup i (0-based) should still run, started at t0 (us). */
static bool more(int i, double t0)
{
  if (i >= NLOOKUPS)
    return false;
  return full_run || i < MIN_LOOKUPS || now_us() - t0 < BUDGET_S * 1e6;
}

static void die(const char *what)
{
  fprintf(stderr, "bench_query: %s: %s\n", what, at_last_error());
  exit(1);
}

static void put(struct db *db, const char *run, const struct shape *s, const char *config,
                enum db_trial_status status, double time_us)
{
  struct db_trial t;
  db_trial_init(&t);
  db_uuid(t.uuid);
  memcpy(t.run_uuid, run, DB_UUID_LEN + 1);
  t.device = "h100", t.arch = "sm_90", t.vendor = "nvidia";
  t.kernel = "gemm_mma", t.kernel_hash = "bench0000000000";
  t.problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3};
  t.problem.dim_names[0] = "m", t.problem.dim_names[1] = "n", t.problem.dim_names[2] = "k";
  t.problem.dims[0] = s->m, t.problem.dims[1] = s->n, t.problem.dims[2] = s->k;
  t.config = config;
  t.status = status;
  if (status == DB_TRIAL_OK)
    t.time_median_us = t.time_min_us = t.time_max_us = time_us;
  else
    t.message = "benchmark filler";
  if (db_put_trial(db, &t, NULL) != AT_OK)
    die("putting a trial");
}

/* 10,000 distinct grid shapes (a shuffled prefix of the grid), one ok trial each, and a
 * failed trial for every fourth; all in one transaction. */
static double build_db(const char *path, struct shape *tuned)
{
  static struct shape grid[NGRID * NGRID * NGRID];
  int n = 0;
  for (int i = 0; i < NGRID; i++)
    for (int j = 0; j < NGRID; j++)
      for (int l = 0; l < NGRID; l++)
        grid[n++] = (struct shape){grid_value(i), grid_value(j), grid_value(l)};
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(rng() % (uint64_t)(i + 1));
    struct shape tmp = grid[i];
    grid[i] = grid[j], grid[j] = tmp;
  }
  memcpy(tuned, grid, sizeof *tuned * NSHAPES);

  double t0 = now_us();
  struct db *db = NULL;
  if (db_open(path, DB_CREATE, &db) != AT_OK)
    die("creating the database");
  struct db_run run;
  db_run_init(&run);
  run.host = "bench", run.started_at = "2026-01-01T00:00:00Z", run.strategy = "bench";
  run.autotune_version = at_version();
  db_uuid(run.uuid);
  if (db_begin(db) != AT_OK || db_put_run(db, &run, NULL) != AT_OK)
    die("starting the run");
  static const int bm[] = {16, 32, 64, 128, 256}, bk[] = {16, 32, 64};
  for (int i = 0; i < NSHAPES; i++) {
    char cfg[96];
    snprintf(cfg, sizeof cfg, "BK=%d,BM=%d,BN=%d,STAGES=%d", bk[i % 3], bm[i % 5],
             bm[(i / 5) % 5], 2 + i % 3);
    put(db, run.uuid, &tuned[i], cfg, DB_TRIAL_OK, 1.0 + (double)(rng() % 100000) / 10.0);
    if (i % 4 == 0) {
      snprintf(cfg, sizeof cfg, "BK=128,BM=256,BN=256,STAGES=%d", 5 + i % 2);
      put(db, run.uuid, &tuned[i], cfg, i % 8 ? DB_TRIAL_FAULT : DB_TRIAL_COMPILE_ERROR,
          0);
    }
  }
  if (db_commit(db) != AT_OK)
    die("committing");
  db_close(db);
  return now_us() - t0;
}

/* Time NLOOKUPS calls of at_best_config; every answer must be of kind `want`. */
static struct stats time_api(at_db *h, const char *device, const struct shape *q,
                             at_match want, char **answers)
{
  static double t[NLOOKUPS];
  double start = now_us();
  int i = 0;
  for (; more(i, start); i++) {
    at_problem p = at_problem_gemm("f16", "NN", q[i].m, q[i].n, q[i].k);
    at_config *c = NULL;
    double t0 = now_us();
    int rc = at_best_config(h, device, &p, &c);
    t[i] = now_us() - t0;
    if (rc != AT_OK)
      die("at_best_config");
    if (at_config_match(c) != want) {
      fprintf(stderr, "bench_query: lookup %d on %s answered '%s', not '%s'\n", i, device,
              at_match_name(at_config_match(c)), at_match_name(want));
      exit(1);
    }
    if (answers)
      answers[i] = strdup(at_config_text(c));
    at_config_free(c);
  }
  return summarise(t, i);
}

/* The naive lookup: read every winner, keep the nearest in C, then fetch its config.
 * A fresh statement each time, as a one-off query in a user's program would be. */
static char *naive_lookup(sqlite3 *h, const char *device, const struct shape *s)
{
  static const char scan_sql[] =
      "SELECT d.name, p.op, p.dtype, p.layout, p.dim_names, p.d0, p.d1, p.d2, "
      "w.time_median_us, w.trial_id FROM winners w JOIN problems p ON p.id = w.problem_id "
      "JOIN devices d ON d.id = w.device_id";
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(h, scan_sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench_query: %s\n", sqlite3_errmsg(h));
    exit(1);
  }
  const int64_t want[3] = {s->m, s->n, s->k};
  double best = INFINITY, best_time = INFINITY;
  int64_t best_trial = -1;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (strcmp((const char *)sqlite3_column_text(st, 0), device) ||
        strcmp((const char *)sqlite3_column_text(st, 1), "gemm") ||
        strcmp((const char *)sqlite3_column_text(st, 2), "f16") ||
        strcmp((const char *)sqlite3_column_text(st, 3), "NN") ||
        strcmp((const char *)sqlite3_column_text(st, 4), "m,n,k"))
      continue;
    int64_t dims[3];
    for (int i = 0; i < 3; i++)
      dims[i] = sqlite3_column_int64(st, 5 + i);
    double d = db_shape_distance(3, want, dims), t = sqlite3_column_double(st, 8);
    if (d < best || (d == best && t < best_time)) {
      best = d, best_time = t;
      best_trial = sqlite3_column_int64(st, 9);
    }
  }
  sqlite3_finalize(st);
  char *config = NULL;
  if (sqlite3_prepare_v2(h,
                         "SELECT c.text FROM trials t JOIN configs c ON c.id = t.config_id "
                         "WHERE t.id = ?1",
                         -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench_query: %s\n", sqlite3_errmsg(h));
    exit(1);
  }
  sqlite3_bind_int64(st, 1, best_trial);
  if (sqlite3_step(st) == SQLITE_ROW)
    config = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return config;
}

/* The baseline on the shapes of the nearest run; answers[] holds what the API said for
 * the first nanswers of them. */
static struct stats time_naive(sqlite3 *h, const struct shape *q, char **answers,
                               int nanswers, int *disagree)
{
  static double t[NLOOKUPS];
  *disagree = 0;
  double start = now_us();
  int i = 0;
  for (; more(i, start); i++) {
    double t0 = now_us();
    char *config = naive_lookup(h, "h100", &q[i]);
    t[i] = now_us() - t0;
    if (i < nanswers && (!config || strcmp(config, answers[i]) != 0))
      (*disagree)++;
    free(config);
  }
  return summarise(t, i);
}

static void row(const char *name, struct stats s)
{
  printf("  %-36s %6d %10.1f %10.1f %10.1f\n", name, s.n, s.median_us, s.p99_us,
         s.mean_us);
}

int main(int argc, char **argv)
{
  bool keep = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--full") == 0)
      full_run = true;
    else if (strcmp(argv[i], "--keep") == 0)
      keep = true;
    else {
      fprintf(stderr, "usage: bench_query [--full] [--keep]\n");
      return 2;
    }
  }
  char path[128];
  snprintf(path, sizeof path, "/tmp/autotune-bench-query-%ld.db", (long)getpid());
  static struct shape tuned[NSHAPES], exact_q[NLOOKUPS], near_q[NLOOKUPS];
  static char *answers[NLOOKUPS];

  double build = build_db(path, tuned);
  printf("bench_query: %d tuned gemm shapes on h100 (+%d failed trials) in %s, "
         "built in %.2f s (one transaction)\n",
         NSHAPES, (NSHAPES + 3) / 4, path, build / 1e6);
  for (int i = 0; i < NLOOKUPS; i++) {
    exact_q[i] = tuned[rng() % NSHAPES];
    near_q[i] = (struct shape){off_grid_value(), off_grid_value(), off_grid_value()};
  }

  at_db *h = NULL;
  if (at_db_open(path, &h) != AT_OK)
    die("opening the database");
  for (int i = 0; i < 50; i++) { /* warm the page cache and statement cache */
    at_problem p = at_problem_gemm("f16", "NN", near_q[i].m, near_q[i].n, near_q[i].k);
    at_config *c = NULL;
    if (at_best_config(h, "h100", &p, &c) != AT_OK)
      die("warm-up");
    at_config_free(c);
  }
  double t0 = now_us();
  struct stats exact = time_api(h, "h100", exact_q, AT_MATCH_EXACT, NULL);
  struct stats nearest = time_api(h, "h100", near_q, AT_MATCH_NEAREST, answers);
  struct stats fb_exact = time_api(h, "h200", exact_q, AT_MATCH_ARCH, NULL);
  struct stats fb_near = time_api(h, "h200", near_q, AT_MATCH_ARCH, NULL);
  double api_s = (now_us() - t0) / 1e6;
  at_db_close(h);

  sqlite3 *raw = NULL;
  if (sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench_query: cannot open %s: %s\n", path, sqlite3_errmsg(raw));
    return 1;
  }
  for (int i = 0; i < 20; i++)
    free(naive_lookup(raw, "h100", &near_q[i]));
  int disagree = 0;
  t0 = now_us();
  struct stats naive = time_naive(raw, near_q, answers, nearest.n, &disagree);
  double naive_s = (now_us() - t0) / 1e6;
  sqlite3_close(raw);

  printf("exact:    %.1f us median, p99 %.1f us (baseline full scan %.1f us, %.1f x)\n",
         exact.median_us, exact.p99_us, naive.median_us, naive.median_us / exact.median_us);
  printf("nearest:  %.1f us median (baseline full scan %.1f us, %.1f x)\n",
         nearest.median_us, naive.median_us, naive.median_us / nearest.median_us);
  printf("fallback: %.1f us median for an untuned shape on h200 (baseline full scan "
         "%.1f us, %.1f x)\n",
         fb_near.median_us, naive.median_us, naive.median_us / fb_near.median_us);
  int compared = naive.n < nearest.n ? naive.n : nearest.n;
  printf("baseline agreed with at_best_config on %d of %d nearest answers\n",
         compared - disagree, compared);
  printf("\n  %-36s %6s %10s %10s %10s\n", "lookup (us)", "n", "median", "p99", "mean");
  row("exact (h100, tuned shape)", exact);
  row("nearest (h100, untuned shape)", nearest);
  row("fallback arch (h200, tuned shape)", fb_exact);
  row("fallback arch (h200, untuned shape)", fb_near);
  row("baseline full scan (h100, untuned)", naive);
  printf("  api %.1f s, baseline %.1f s\n", api_s, naive_s);

  for (int i = 0; i < NLOOKUPS; i++)
    free(answers[i]);
  if (keep) {
    printf("  database kept: %s\n", path);
    return disagree ? 1 : 0;
  }
  static const char *const suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char p[160];
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
  return disagree ? 1 : 0;
}
