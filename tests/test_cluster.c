/*
 * test_cluster.c - tuning on several GPUs and several nodes (docs/cluster.md), on the
 * host device: two host workers (`--gpus 0,1`) measure exactly the trials one worker
 * measures, each recording which worker (ordinal and UUID), and a lost one is retired
 * with its work dealt to the other; `--shard I/N` shards, and
 * Slurm's array variables, cover the work exactly once and merge to the unsharded run's
 * trials and winners; bad --gpus / --shard / Slurm variables exit 2 creating nothing; a
 * database on a network filesystem is known by its statfs magic; schema 3 migrates to 4.
 * The real Slurm is tests/slurm_test.sh.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/netfs.h"
#include "tests/helpers.h"

#define SMALL AT_SOURCE_DIR "/tests/data/templates/tune_small.h"
/* one small shape, the 6 configs of tune_small, the baseline: a few seconds */
#define WORK "--device host --m 16 --n 16 --k 16 --template '" SMALL "' --strategy exhaustive " \
             "--budget -1 --variant-time 0.05 --jobs 2"
#define MAX_ROWS 64

static char *dir, *cache;

static void setup(void)
{
  dir = th_tmpdir();
  cache = th_path(dir, "cache");
}

static void teardown(void)
{
  th_rmtree(dir);
  free(cache);
}

TestSuite(cluster, .init = setup, .fini = teardown);

/* `autotune gemm WORK EXTRA --db DB`, with env set first (may be ""), exiting 0. */
static void tune(const char *env, const char *extra, const char *db)
{
  struct th_result r;
  th_sh(&r, "%s AUTOTUNE_CACHE_DIR='%s' '%s' gemm " WORK " %s --db '%s'", env, cache,
        AT_BINARY, extra, db);
  cr_assert_eq(r.code, 0, "gemm %s: exit %d\n%s%s", extra, r.code, r.out, r.err);
  th_result_free(&r);
}

/* The trials of a database, one "kernel config status" line each, sorted. */
struct rows {
  char line[MAX_ROWS][200];
  int gpu[MAX_ROWS];
  char uuid[MAX_ROWS][100];
  int n;
};

static int rows_cb(void *ctx, const struct db_trial *t)
{
  struct rows *r = ctx;
  cr_assert_lt(r->n, MAX_ROWS);
  snprintf(r->line[r->n], sizeof r->line[0], "%s %s %s", t->kernel, t->config,
           db_trial_status_name(t->status));
  r->gpu[r->n] = (int)t->gpu_ordinal;
  snprintf(r->uuid[r->n], sizeof r->uuid[0], "%s", t->gpu_uuid ? t->gpu_uuid : "");
  r->n++;
  return 0;
}

static int by_line(const void *a, const void *b)
{
  return strcmp(a, b);
}

static void rows_of(const char *path, struct rows *r)
{
  memset(r, 0, sizeof *r);
  struct db *db = NULL;
  cr_assert_eq(db_open(path, DB_READONLY, &db), AT_OK, "%s", at_last_error());
  cr_assert_eq(db_each_trial(db, rows_cb, r), AT_OK);
  db_close(db);
}

static void sorted_lines(const struct rows *r, char (*out)[200])
{
  memcpy(out, r->line, sizeof r->line);
  qsort(out, (size_t)r->n, sizeof out[0], by_line);
}

static void assert_same_work(const struct rows *a, const struct rows *b, const char *what)
{
  static char x[MAX_ROWS][200], y[MAX_ROWS][200];
  cr_assert_eq(a->n, b->n, "%s: %d trials, not %d", what, a->n, b->n);
  sorted_lines(a, x);
  sorted_lines(b, y);
  for (int i = 0; i < a->n; i++)
    cr_assert_str_eq(x[i], y[i], "%s: trial %d differs", what, i);
  for (int i = 1; i < a->n; i++)
    cr_assert_str_neq(x[i], x[i - 1], "%s: '%s' measured twice", what, x[i]);
}

/* The winner of each kernel: "kernel config" lines into out, sorted; returns the count. */
static int winners(const char *path, char (*out)[200])
{
  sqlite3 *h;
  cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(h,
      "SELECT k.template || ' ' || c.text FROM winners w JOIN kernels k ON k.id = w.kernel_id "
      "JOIN trials t ON t.id = w.trial_id JOIN configs c ON c.id = t.config_id ORDER BY 1",
      -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
  int n = 0;
  while (sqlite3_step(st) == SQLITE_ROW && n < MAX_ROWS)
    snprintf(out[n++], 200, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

Test(cluster, two_host_workers_measure_the_same_trials_as_one_and_say_which_measured)
{
  char *one = th_path(dir, "one.db"), *two = th_path(dir, "two.db");
  tune("", "", one);
  tune("", "--gpus 0,1", two);
  struct rows a, b;
  rows_of(one, &a);
  rows_of(two, &b);
  cr_assert_geq(a.n, 7, "tune_small's 6 configs and the baseline");
  assert_same_work(&a, &b, "--gpus 0,1 against one worker");
  int by_gpu[2] = {0, 0};
  for (int i = 0; i < b.n; i++) {
    if (strstr(b.line[i], " ok") == NULL) {
      cr_assert_eq(b.gpu[i], -1, "a verdict is measured on no GPU: %s", b.line[i]);
      continue;
    }
    cr_assert(b.gpu[i] == 0 || b.gpu[i] == 1, "%s: gpu %d", b.line[i], b.gpu[i]);
    by_gpu[b.gpu[i]]++;
    char want[32];
    snprintf(want, sizeof want, "-%d", b.gpu[i]);
    cr_assert(strncmp(b.uuid[i], "HOST-", 5) == 0 &&
              strcmp(b.uuid[i] + strlen(b.uuid[i]) - strlen(want), want) == 0,
              "host worker %d's uuid: '%s'", b.gpu[i], b.uuid[i]);
  }
  cr_assert(by_gpu[0] > 0 && by_gpu[1] > 0, "the work was dealt to both workers: %d and %d",
            by_gpu[0], by_gpu[1]);
  for (int i = 0; i < a.n; i++)
    cr_assert(a.gpu[i] == -1 || a.gpu[i] == 0, "one worker is host worker 0");
  /* winners per device model, never per ordinal: one per kernel, as with one worker */
  static char w[MAX_ROWS][200];
  cr_assert_eq(winners(two, w), winners(one, w), "one winner per kernel for both workers");
  free(one);
  free(two);
}

Test(cluster, a_lost_gpu_is_retired_and_its_work_dealt_to_the_others)
{
  char *one = th_path(dir, "one.db"), *two = th_path(dir, "lost.db");
  tune("", "", one);
  struct th_result r;
  th_sh(&r, "AUTOTUNE_FAULT_LOSE_GPU=1:1 AUTOTUNE_CACHE_DIR='%s' '%s' gemm " WORK
        " --gpus 0,1 --json --db '%s'", cache, AT_BINARY, two);
  cr_assert_eq(r.code, 0, "the run goes on without GPU 1: exit %d\n%s", r.code, r.err);
  cr_assert_not_null(strstr(r.err, "retiring GPU 1"), "one warning names it: %s", r.err);
  cr_assert_not_null(strstr(r.out, "\"gpus\":[{\"ordinal\":0,\"uuid\":\"HOST-"), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "-1\",\"retired\":true}],\"shard\":null"), "%s", r.out);
  th_result_free(&r);
  struct rows a, b;
  rows_of(one, &a);
  rows_of(two, &b);
  assert_same_work(&a, &b, "GPU 1 lost at its first variant");
  int on1 = 0;
  for (int i = 0; i < b.n; i++)
    on1 += b.gpu[i] == 1;
  cr_assert_eq(on1, 0, "GPU 1 measured nothing, not %d", on1);
  free(one);
  free(two);
}

Test(cluster, shards_cover_the_work_once_and_merge_to_the_unsharded_run)
{
  char *whole = th_path(dir, "whole.db"), *merged = th_path(dir, "merged.db");
  char *s[3];
  tune("", "", whole);
  for (int i = 0; i < 3; i++) {
    char name[32], extra[32];
    snprintf(name, sizeof name, "s%d.db", i);
    s[i] = th_path(dir, name);
    snprintf(extra, sizeof extra, "--shard %d/3", i);
    tune("", extra, s[i]);
  }
  struct db *db = NULL;
  cr_assert_eq(db_open(merged, DB_CREATE, &db), AT_OK);
  int total = 0;
  for (int i = 0; i < 3; i++) {
    struct rows r;
    rows_of(s[i], &r);
    total += r.n;
    cr_assert_eq(db_merge(db, s[i], NULL), AT_OK, "%s", at_last_error());
  }
  db_close(db);
  struct rows a, b;
  rows_of(merged, &a);
  rows_of(whole, &b);
  cr_assert_eq(total, b.n, "the shards' trials add up to the unsharded run's, none twice");
  assert_same_work(&a, &b, "3 shards merged against the unsharded run");
  /* the winners are per kernel; with timings on a shared CPU a config within noise may
   * win either run, so the winners' kernels must agree, and each merged winner config
   * must be one the unsharded run measured ok */
  static char wa[MAX_ROWS][200], wb[MAX_ROWS][200];
  int na = winners(merged, wa), nb = winners(whole, wb);
  cr_assert_eq(na, nb);
  cr_assert_geq(na, 2, "tune_small and the baseline each have a winner");
  for (int i = 0; i < na; i++) {
    cr_assert_eq(strncmp(wa[i], wb[i], strcspn(wb[i], " ")), 0, "%s / %s", wa[i], wb[i]);
    char ok[220];
    snprintf(ok, sizeof ok, "%.190s ok", wa[i]);
    bool found = false;
    for (int j = 0; j < b.n; j++)
      found |= strcmp(b.line[j], ok) == 0;
    cr_assert(found, "merged winner '%s' was measured ok unsharded", wa[i]);
  }
  for (int i = 0; i < 3; i++)
    free(s[i]);
  free(whole);
  free(merged);
}

Test(cluster, slurm_array_variables_choose_the_shard)
{
  char *db = th_path(dir, "slurm.db");
  tune("SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=3 "
       "SLURM_ARRAY_TASK_STEP=2", "", db);
  sqlite3 *h;
  cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(h, "SELECT args FROM runs", -1, &st, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  const char *args = (const char *)sqlite3_column_text(st, 0);
  cr_assert_not_null(strstr(args, "--shard 1/2"), "task 5 of 3-5 step 2 is shard 1/2: %s",
                     args);
  sqlite3_finalize(st);
  sqlite3_close(h);
  free(db);
}

Test(cluster, bad_gpus_shard_and_slurm_variables_exit_2_creating_nothing)
{
  char *db = th_path(dir, "never.db");
  const char *bad[][2] = {
      {"", "--gpus 0,0"}, {"", "--gpus x"}, {"", "--gpus 1,"}, {"", "--gpu 0 --gpus 1"},
      {"", "--shard 3/3"}, {"", "--shard 1"}, {"", "--shard -1/2"}, {"", "--shard 0/0"},
      {"SLURM_ARRAY_TASK_ID=4 SLURM_ARRAY_TASK_COUNT=2", ""},
      {"SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=2", ""},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct th_result r;
    th_sh(&r, "%s AUTOTUNE_CACHE_DIR='%s' '%s' gemm " WORK " %s --db '%s'", bad[i][0], cache,
          AT_BINARY, bad[i][1], db);
    cr_assert_eq(r.code, 2, "%s %s: exit %d\n%s", bad[i][0], bad[i][1], r.code, r.err);
    cr_assert(strncmp(r.err, "autotune: ", 10) == 0 && strchr(r.err, '\n') ==
              r.err + strlen(r.err) - 1, "one line: %s", r.err);
    cr_assert(strstr(r.err, "--gpu") || strstr(r.err, "--shard") || strstr(r.err, "SLURM"),
              "names the input: %s", r.err);
    cr_assert_neq(access(db, F_OK), 0, "%s %s created the database", bad[i][0], bad[i][1]);
    th_result_free(&r);
  }
  /* a bundle holds every shard's variants: --shard there is bad input */
  char *out = th_path(dir, "bundle");
  struct th_result r;
  th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' '%s' bundle gemm --device host --m 16 --n 16 --k 16 "
        "--shard 0/2 --out '%s'", cache, AT_BINARY, out);
  cr_assert_eq(r.code, 2, "bundle --shard: exit %d\n%s", r.code, r.err);
  cr_assert_neq(access(out, F_OK), 0, "no bundle written");
  th_result_free(&r);
  free(out);
  free(db);
}

Test(cluster, network_filesystems_are_known_by_their_statfs_magic)
{
  cr_assert_str_eq(db_netfs_name(0x6969), "nfs");
  cr_assert_str_eq(db_netfs_name(0x0BD00BD0), "lustre");
  cr_assert_str_eq(db_netfs_name(0x47504653), "gpfs");
  cr_assert_str_eq(db_netfs_name(0xFF534D42), "cifs");
  cr_assert_null(db_netfs_name(0xEF53), "ext4 is local");
  cr_assert_null(db_netfs_name(0x01021994), "tmpfs is local");
  cr_assert_null(db_netfs_name(0x9123683E), "btrfs is local");
  char name[32] = "x";
  char *db = th_path(dir, "local.db");
  cr_assert_eq(db_netfs_check(db, name, sizeof name), 0, "the test's folder is local: %s",
               name);
  cr_assert_str_eq(name, "");
  free(db);
}

Test(cluster, schema_3_database_migrates_to_4_with_trials_on_no_known_gpu)
{
  char *path = th_path(dir, "v3.db");
  cr_assert_eq(db_create_at_version(path, 3), AT_OK, "%s", at_last_error());
  struct db *db = NULL;
  cr_assert_eq(db_open(path, DB_CREATE, &db), AT_OK, "%s", at_last_error());
  cr_assert_eq(db_schema_version(db), 4);
  struct db_run run;
  db_run_init(&run);
  db_uuid(run.uuid);
  run.host = "node-7";
  cr_assert_eq(db_put_run(db, &run, NULL), AT_OK, "%s", at_last_error());
  struct db_trial t;
  db_trial_init(&t);
  db_uuid(t.uuid);
  snprintf(t.run_uuid, sizeof t.run_uuid, "%s", run.uuid);
  t.device = "h100", t.arch = "sm_90", t.vendor = "nvidia", t.kernel = "gemm_mma";
  t.kernel_hash = "abc";
  t.problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 1,
                                  .dim_names = {"m"}, .dims = {64}};
  t.config = "BM=64";
  t.time_median_us = t.time_min_us = t.time_max_us = 1.0;
  t.gpu_ordinal = 5;
  t.gpu_uuid = "GPU-00000000-1111-2222-3333-444444444444";
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_OK, "%s", at_last_error());
  struct rows r;
  db_close(db);
  rows_of(path, &r);
  cr_assert_eq(r.n, 1);
  cr_assert_eq(r.gpu[0], 5);
  cr_assert_str_eq(r.uuid[0], "GPU-00000000-1111-2222-3333-444444444444");
  free(path);
}
