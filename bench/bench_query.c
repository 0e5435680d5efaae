/*
 * bench_query.c - latency of the best-config lookup on a large tuning database, by both
 * paths side by side on the same database and the same shapes: the SQL path
 * (db_query_best, what `autotune query` runs: statements and a per-connection cache of
 * each family's shapes) and the in-memory index of the C API (at_best_config on an
 * at_db, db/index.c). Builds a database in /tmp with 10,000 tuned gemm shapes on h100 (a
 * log-uniform grid of m, n, k, one ok trial each plus failed trials), then times exact
 * hits, nearest-shape lookups (shapes never tuned) and the arch fallback (h200, same
 * sm_90, nothing tuned on it). Every answer of the two paths is compared. Prints
 * medians, p99s and ratios, the in-memory path once more on the same shapes (warm
 * caches), and the host CPU it ran on; never run by the tests.
 *
 *   bench_query [--full] [--keep]
 *
 * Lookups are timed in batches of BATCH (a clock read costs about as much as an
 * in-memory lookup); a batch's time over BATCH is one sample. Each kind of lookup runs
 * NLOOKUPS lookups, or as many batches as fit in BUDGET_S seconds (at least
 * MIN_LOOKUPS lookups); --full always runs NLOOKUPS. --keep leaves the database in /tmp.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autotune/autotune.h"
#include "db/db.h"
#include "base/num.h"
#include "base/proc.h"

#define NSHAPES 10000
#define NGRID 22          /* 22^3 = 10648 grid points, 10,000 of them tuned */
#define NLOOKUPS 2000
#define MIN_LOOKUPS 200
#define BUDGET_S 8.0      /* per kind of lookup and path, unless --full */
#define BATCH 20

struct shape {
  int64_t m, n, k;
};

struct stats {
  int n;
  double median_us, p99_us, mean_us, min_us;
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
                        .mean_us = sum / n,
                        .min_us = t[0]};
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

/* The query at_best_config makes of "h100" or "h200": the profile's name, arch, vendor. */
static struct db_query sql_query(const char *device, struct db_problem *p, const struct shape *s)
{
  *p = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3,
                           .dim_names = {"m", "n", "k"}, .dims = {s->m, s->n, s->k}};
  return (struct db_query){.device = device, .arch = "sm_90", .vendor = "nvidia",
                           .problem = p};
}

/* One lookup by either path; the answer's config text into *answer when asked. */
static at_match lookup(struct db *db, at_db *h, const char *device, const struct shape *s,
                       char **answer)
{
  at_match match;
  if (db) {
    struct db_problem p;
    struct db_query q = sql_query(device, &p, s);
    struct db_match m;
    if (db_query_best(db, &q, &m) != AT_OK)
      die("db_query_best");
    match = m.match;
    if (answer)
      *answer = strdup(m.config);
    db_match_release(&m);
  } else {
    at_problem p = at_problem_gemm("f16", "NN", s->m, s->n, s->k);
    at_config *c = NULL;
    if (at_best_config(h, device, &p, &c) != AT_OK)
      die("at_best_config");
    match = at_config_match(c);
    if (answer)
      *answer = strdup(at_config_text(c));
    at_config_free(c);
  }
  return match;
}

/* Time the lookups of q[] by one path (db for SQL, else h), BATCH at a time; every
 * answer must be of kind `want`. */
static struct stats time_path(struct db *db, at_db *h, const char *device,
                              const struct shape *q, at_match want)
{
  static double t[NLOOKUPS / BATCH];
  double start = now_us();
  int n = 0;
  for (int i = 0; more(i, start); i += BATCH) {
    at_match got[BATCH];
    double t0 = now_us();
    for (int j = 0; j < BATCH; j++)
      got[j] = lookup(db, h, device, &q[i + j], NULL);
    t[n++] = (now_us() - t0) / BATCH;
    for (int j = 0; j < BATCH; j++)
      if (got[j] != want) {
        fprintf(stderr, "bench_query: lookup %d on %s answered '%s', not '%s'\n", i + j,
                device, at_match_name(got[j]), at_match_name(want));
        exit(1);
      }
  }
  struct stats st = summarise(t, n);
  st.n = n * BATCH;
  return st;
}

/* Whether both paths give the same config for every shape of q[]: the number that
 * differ. */
static int disagreements(struct db *db, at_db *h, const char *device, const struct shape *q)
{
  int differ = 0;
  for (int i = 0; i < NLOOKUPS; i++) {
    char *a = NULL, *b = NULL;
    at_match ma = lookup(db, NULL, device, &q[i], &a);
    at_match mb = lookup(NULL, h, device, &q[i], &b);
    differ += ma != mb || !a || !b || strcmp(a, b) != 0;
    free(a);
    free(b);
  }
  return differ;
}

static void row(const char *name, struct stats sql, struct stats mem, struct stats again)
{
  printf("  %-30s %8.3f %8.3f %8.3f %8.3f %7.0f x %8.3f %8.3f\n", name, sql.median_us,
         sql.p99_us, mem.median_us, mem.p99_us, sql.median_us / mem.median_us,
         again.median_us, again.min_us);
}

/* The load average: the machine this ran on is shared, and a figure means little
 * without it. */
static void print_load(const char *when)
{
  char buf[128] = "?";
  FILE *f = fopen("/proc/loadavg", "r");
  if (f) {
    if (!fgets(buf, sizeof buf, f))
      snprintf(buf, sizeof buf, "?\n");
    fclose(f);
  }
  printf("load average %s: %s", when, buf);
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

  double build = build_db(path, tuned);
  char cpu[256];
  proc_cpu_model(cpu, sizeof cpu);
  printf("bench_query: %d tuned gemm shapes on h100 (+%d failed trials) in %s, "
         "built in %.2f s (one transaction)\n",
         NSHAPES, (NSHAPES + 3) / 4, path, build / 1e6);
  printf("measured on this machine (host CPU): %s, %ld CPUs online\n", cpu,
         sysconf(_SC_NPROCESSORS_ONLN));
  print_load("at start");
  for (int i = 0; i < NLOOKUPS; i++) {
    exact_q[i] = tuned[rng() % NSHAPES];
    near_q[i] = (struct shape){off_grid_value(), off_grid_value(), off_grid_value()};
  }

  struct db *db = NULL;
  if (db_open(path, DB_READONLY, &db) != AT_OK)
    die("opening the database");
  at_db *h = NULL;
  double t0 = now_us();
  if (at_db_open(path, &h) != AT_OK)
    die("opening the database through the API");
  double open_us = now_us() - t0;
  for (int i = 0; i < 50; i++) { /* warm the page cache, statements and family cache */
    lookup(db, NULL, "h100", &near_q[i], NULL);
    lookup(db, NULL, "h200", &near_q[i], NULL);
    lookup(NULL, h, "h100", &near_q[i], NULL);
  }
  int differ = disagreements(db, h, "h100", exact_q) + disagreements(db, h, "h100", near_q) +
               disagreements(db, h, "h200", exact_q) + disagreements(db, h, "h200", near_q);

  static const struct {
    const char *name, *device;
    int near;
    at_match want;
  } kinds[] = {{"exact (h100, tuned shape)", "h100", 0, AT_MATCH_EXACT},
               {"nearest (h100, untuned shape)", "h100", 1, AT_MATCH_NEAREST},
               {"arch (h200, tuned shape)", "h200", 0, AT_MATCH_ARCH},
               {"arch (h200, untuned shape)", "h200", 1, AT_MATCH_ARCH}};
  struct stats sql[4], mem[4], again[4];
  for (int k = 0; k < 4; k++) {
    const struct shape *q = kinds[k].near ? near_q : exact_q;
    sql[k] = time_path(db, NULL, kinds[k].device, q, kinds[k].want);
    mem[k] = time_path(NULL, h, kinds[k].device, q, kinds[k].want);
    again[k] = time_path(NULL, h, kinds[k].device, q, kinds[k].want);
  }
  at_db_close(h);
  db_close(db);

  printf("exact:    SQL %.3f us, memory %.3f us median (%.0f x); target 0.2 us\n",
         sql[0].median_us, mem[0].median_us, sql[0].median_us / mem[0].median_us);
  printf("nearest:  SQL %.3f us, memory %.3f us median (%.0f x); target 1 us\n",
         sql[1].median_us, mem[1].median_us, sql[1].median_us / mem[1].median_us);
  printf("at_db_open with the index of %d winners: %.1f ms\n", NSHAPES, open_us / 1e3);
  printf("the paths agreed on %d of %d answers\n", 4 * NLOOKUPS - differ, 4 * NLOOKUPS);
  print_load("at end");
  printf("\n  %-30s %8s %8s %8s %8s %9s %8s %8s\n", "lookup (us per lookup)", "SQL med",
         "SQL p99", "mem med", "mem p99", "SQL/mem", "again", "again min");
  for (int k = 0; k < 4; k++)
    row(kinds[k].name, sql[k], mem[k], again[k]);
  printf("  (%d lookups per row and path at most, timed %d at a time; p99 of those batches;\n"
         "  'mem': right after the SQL path asked the same shapes, its caches cold;\n"
         "  'again': the same shapes at once again, as a program asking its shapes\n"
         "  repeatedly would, with the index in the caches (median; min: the fastest batch,\n"
         "  what a lookup costs when no other process has the core))\n",
         NLOOKUPS, BATCH);

  if (keep) {
    printf("  database kept: %s\n", path);
    return differ ? 1 : 0;
  }
  static const char *const suffix[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    char p[160];
    snprintf(p, sizeof p, "%s%s", path, suffix[i]);
    unlink(p);
  }
  return differ ? 1 : 0;
}
