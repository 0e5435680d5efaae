/*
 * test_db.c - the tuning database: opening (fresh, missing, not a database, another
 * program's SQLite file, corrupt, from the future, unwritable), the schema's own
 * invariants (trials never overwritten, winners derived on insert), canonical configs.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/proc.h"
#include "db/db.h"
#include "tests/fixture.h"
#include "tests/helpers.h"

static char *dir;

static void setup(void)
{
  dir = th_tmpdir();
}

static void teardown(void)
{
  th_rmtree(dir);
  free(dir);
}

TestSuite(db, .init = setup, .fini = teardown);

static int64_t scalar(const char *path, const char *sql)
{
  sqlite3 *h;
  cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

static int raw_exec(const char *path, const char *sql)
{
  sqlite3 *h;
  cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
  int rc = sqlite3_exec(h, sql, NULL, NULL, NULL);
  sqlite3_close(h);
  return rc;
}

Test(db, fresh_file_gets_current_schema_in_wal_mode)
{
  char *path = th_path(dir, "t.db");
  struct db *db = fx_open(path);
  cr_assert_eq(db_schema_version(db), DB_SCHEMA_VERSION);
  db_close(db);
  cr_assert_eq(scalar(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
  cr_assert_eq(scalar(path, "PRAGMA application_id"), 0x41545455);
  sqlite3 *h;
  sqlite3_open(path, &h);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_finalize(st);
  sqlite3_close(h);
  /* Opening again keeps what is there. */
  db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  db_close(db);
  db = fx_open(path);
  struct db_stats s;
  cr_assert_eq(db_stats(db, &s), AT_OK);
  cr_assert_eq(s.runs, 1);
  db_close(db);
  free(path);
}

Test(db, missing_file_read_only_is_an_io_error_naming_it)
{
  char *path = th_path(dir, "nope.db");
  struct db *db = (struct db *)0x1;
  cr_assert_eq(db_open(path, DB_READONLY, &db), AT_IO);
  cr_assert_null(db);
  cr_assert(strstr(at_last_error(), path), "message: %s", at_last_error());
  cr_assert(strstr(at_last_error(), "No such file"), "message: %s", at_last_error());
  free(path);
}

Test(db, text_file_is_not_a_database_and_is_left_alone)
{
  char *path = th_path(dir, "notes.txt");
  const char *text = "these are my notes, not a database\n";
  th_write(path, text, strlen(text));
  struct db *db = NULL;
  cr_assert_eq(db_open(path, DB_CREATE, &db), AT_NOT_A_DB);
  cr_assert(strstr(at_last_error(), "not an autotune database"), "%s", at_last_error());
  char *after = th_read(path, NULL);
  cr_assert_str_eq(after, text);
  free(after);
  free(path);
}

Test(db, another_programs_sqlite_file_is_refused_untouched)
{
  char *path = th_path(dir, "other.db");
  cr_assert_eq(raw_exec(path, "CREATE TABLE recipes(name TEXT); INSERT INTO recipes "
                              "VALUES ('soup')"), SQLITE_OK);
  struct db *db = NULL;
  cr_assert_eq(db_open(path, DB_CREATE, &db), AT_NOT_A_DB);
  cr_assert(strstr(at_last_error(), "another program"), "%s", at_last_error());
  cr_assert_eq(scalar(path, "SELECT count(*) FROM recipes"), 1);
  cr_assert_eq(scalar(path, "PRAGMA user_version"), 0);
  free(path);
}

Test(db, database_from_the_future_is_refused_and_kept)
{
  char *path = th_path(dir, "future.db");
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 64, 64, 64, "BM=64", 10.0);
  db_close(db);
  cr_assert_eq(raw_exec(path, "PRAGMA user_version = 99"), SQLITE_OK);
  for (int flags = DB_READONLY; flags <= DB_CREATE; flags++) {
    cr_assert_eq(db_open(path, flags, &db), AT_DB_FUTURE);
    cr_assert(strstr(at_last_error(), "schema version 99"), "%s", at_last_error());
    cr_assert(strstr(at_last_error(), "newer autotune"), "%s", at_last_error());
  }
  cr_assert_eq(scalar(path, "SELECT count(*) FROM trials"), 1);
  cr_assert_eq(scalar(path, "PRAGMA user_version"), 99);
  free(path);
}

Test(db, corrupt_file_is_reported_never_a_crash)
{
  char *path = th_path(dir, "corrupt.db");
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  cr_assert_eq(db_begin(db), AT_OK);
  for (int i = 1; i <= 400; i++)
    fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", i, 64, 64, "BM=64", 10.0 + i);
  cr_assert_eq(db_commit(db), AT_OK);
  db_close(db);
  raw_exec(path, "PRAGMA wal_checkpoint(TRUNCATE)");
  /* Scribble over every page but the first (the header stays valid). */
  size_t len = 0;
  char *bytes = th_read(path, &len);
  cr_assert_gt(len, 8192u);
  for (size_t i = 4096; i < len; i += 7)
    bytes[i] = (char)(i * 131);
  th_write(path, bytes, len);
  free(bytes);
  int rc = db_open(path, DB_READONLY, &db);
  if (rc == AT_OK) {
    int64_t problems = 0;
    char msg[256];
    struct db_stats s;
    int src = db_stats(db, &s);
    int crc = db_check(db, &problems, msg, sizeof msg);
    cr_assert(src == AT_DB_CORRUPT || crc == AT_DB_CORRUPT || problems > 0,
              "stats %d check %d problems %lld", src, crc, (long long)problems);
    db_close(db);
  } else {
    cr_assert(rc == AT_DB_CORRUPT || rc == AT_NOT_A_DB, "rc %d: %s", rc, at_last_error());
    cr_assert(strstr(at_last_error(), path), "%s", at_last_error());
  }
  /* A damaged header: not a database. */
  th_write(path, "SQLite format 3\0garbage garbage garbage", 40);
  rc = db_open(path, DB_READONLY, &db);
  cr_assert(rc == AT_NOT_A_DB || rc == AT_DB_CORRUPT, "rc %d: %s", rc, at_last_error());
  free(path);
}

Test(db, unwritable_paths_are_io_errors)
{
  struct db *db = NULL;
  cr_assert_eq(db_open("/nonexistent-dir/sub/t.db", DB_CREATE, &db), AT_IO);
  cr_assert(strstr(at_last_error(), "/nonexistent-dir/sub/t.db"), "%s", at_last_error());
  cr_assert_eq(db_open(dir, DB_CREATE, &db), AT_IO);
  cr_assert(strstr(at_last_error(), "directory"), "%s", at_last_error());
  cr_assert_eq(db_open("", DB_CREATE, &db), AT_USAGE);
}

Test(db, trials_are_never_overwritten)
{
  char *path = th_path(dir, "t.db");
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  char uuid[DB_UUID_LEN + 1];
  strcpy(uuid, fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 64, 64, 64,
                       "BM=64", 10.0));
  /* The same uuid again is a no-op, not a second row or an update. */
  struct db_trial t;
  db_trial_init(&t);
  strcpy(t.uuid, uuid);
  strcpy(t.run_uuid, run);
  t.device = "h100", t.arch = "sm_90", t.vendor = "nvidia";
  t.kernel = "gemm_mma", t.kernel_hash = "0123abcd", t.config = "BM=64";
  t.problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3,
                                  .dim_names = {"m", "n", "k"}, .dims = {64, 64, 64}};
  t.time_median_us = 1.0;
  bool inserted = true;
  cr_assert_eq(db_put_trial(db, &t, &inserted), AT_OK);
  cr_assert_not(inserted);
  db_close(db);
  cr_assert_eq(scalar(path, "SELECT count(*) FROM trials"), 1);
  cr_assert_eq(scalar(path, "SELECT CAST(time_median_us AS INTEGER) FROM trials"), 10);
  /* Even another program cannot update or delete a trial. */
  cr_assert_neq(raw_exec(path, "UPDATE trials SET time_median_us = 1"), SQLITE_OK);
  cr_assert_neq(raw_exec(path, "DELETE FROM trials"), SQLITE_OK);
  cr_assert_eq(scalar(path, "SELECT count(*) FROM trials"), 1);
  free(path);
}

Test(db, trial_must_name_a_known_run_and_ok_needs_a_time)
{
  char *path = th_path(dir, "t.db");
  struct db *db = fx_open(path);
  struct db_trial t;
  db_trial_init(&t);
  db_uuid(t.uuid);
  db_uuid(t.run_uuid);
  t.device = "h100", t.arch = "sm_90", t.vendor = "nvidia";
  t.kernel = "k", t.kernel_hash = "h", t.config = "A=1";
  t.problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3,
                                  .dim_names = {"m", "n", "k"}, .dims = {1, 1, 1}};
  t.time_median_us = 1;
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_USAGE);
  cr_assert(strstr(at_last_error(), "not in"), "%s", at_last_error());
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  strcpy(t.run_uuid, run);
  t.time_median_us = NAN;
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_USAGE);
  t.time_median_us = 2;
  t.problem.dims[1] = 0;
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_USAGE);
  t.problem.dims[1] = 1;
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_OK, "%s", at_last_error());
  db_close(db);
  free(path);
}

Test(db, winners_are_the_fastest_ok_trial_first_among_equals)
{
  char *path = th_path(dir, "t.db");
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 256, 256, 256, "BM=64", 30.0);
  char best[DB_UUID_LEN + 1];
  strcpy(best, fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 256, 256, 256,
                       "BM=128", 20.0));
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 256, 256, 256, "BM=256", 20.0);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 256, 256, 256, "BM=32", 25.0);
  fx_gemm_failed(db, run, "h100", "gemm_mma", 256, 256, 256, "BM=16", DB_TRIAL_FAULT);
  fx_gemm_failed(db, run, "h100", "gemm_mma", 256, 256, 256, "BM=8", DB_TRIAL_PRUNED);
  /* Another kernel and another device are winners of their own. */
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_simt", 256, 256, 256, "TM=4", 90.0);
  fx_gemm(db, run, "a100", "sm_80", "nvidia", "gemm_mma", 256, 256, 256, "BM=64", 40.0);
  struct db_stats s;
  cr_assert_eq(db_stats(db, &s), AT_OK);
  cr_assert_eq(s.trials, 8);
  cr_assert_eq(s.winners, 3);
  cr_assert_eq(s.by_status[DB_TRIAL_OK], 6);
  cr_assert_eq(s.by_status[DB_TRIAL_FAULT], 1);
  cr_assert_eq(s.by_status[DB_TRIAL_PRUNED], 1);
  int64_t problems = -1;
  char msg[256];
  cr_assert_eq(db_check(db, &problems, msg, sizeof msg), AT_OK);
  cr_assert_eq(problems, 0, "%s", msg);
  db_close(db);
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM winners w JOIN trials t ON t.id = w.trial_id "
           "WHERE t.uuid = '%s'", best);
  cr_assert_eq(scalar(path, sql), 1);
  /* Tampering with winners from outside is what `db check` is for. */
  cr_assert_eq(raw_exec(path, "DELETE FROM winners WHERE kernel_id = (SELECT id FROM "
                              "kernels WHERE template = 'gemm_simt')"), SQLITE_OK);
  db = fx_open(path);
  cr_assert_eq(db_check(db, &problems, msg, sizeof msg), AT_OK);
  cr_assert_gt(problems, 0);
  cr_assert(strstr(msg, "winners"), "%s", msg);
  db_close(db);
  free(path);
}

Test(db, config_text_is_canonical)
{
  char *out = NULL;
  cr_assert_eq(db_config_canonical(" WN=2, BM=128 ,BK=32", &out), AT_OK);
  cr_assert_str_eq(out, "BK=32,BM=128,WN=2");
  free(out);
  cr_assert_eq(db_config_canonical("A=1,A=2", &out), AT_PARSE);
  cr_assert(strstr(at_last_error(), "'A' twice"), "%s", at_last_error());
  cr_assert_null(out);
  cr_assert_eq(db_config_canonical("A", &out), AT_PARSE);
  cr_assert_eq(db_config_canonical("", &out), AT_PARSE);
  cr_assert_eq(db_config_canonical("A=1;B=2", &out), AT_PARSE);
  cr_assert_eq(db_config_canonical("MFMA=16x16x16,DT=f16", &out), AT_OK);
  cr_assert_str_eq(out, "DT=f16,MFMA=16x16x16");
  free(out);
}

struct seen {
  int n;
  enum db_trial_status st[2];
  double t0;
  int64_t reps1;
  char dims[64];
};

static int each(void *ctx, const struct db_trial *t)
{
  struct seen *s = ctx;
  if (s->n == 0) {
    s->t0 = t->time_median_us;
    char *d = db_problem_dims_text(&t->problem);
    snprintf(s->dims, sizeof s->dims, "%s", d);
    free(d);
  } else {
    s->reps1 = t->repetitions;
  }
  s->st[s->n++] = t->status;
  return 0;
}

Test(db, runs_and_trials_iterate_in_insertion_order_with_missing_values_kept)
{
  char *path = th_path(dir, "t.db");
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 7, 13, 29, "BM=64", 3.5);
  fx_gemm_failed(db, run, "h100", "gemm_mma", 7, 13, 29, "BM=128", DB_TRIAL_COMPILE_ERROR);
  struct seen seen = {0};
  cr_assert_eq(db_each_trial(db, each, &seen), AT_OK);
  cr_assert_eq(seen.n, 2);
  cr_assert_eq(seen.st[0], DB_TRIAL_OK);
  cr_assert_eq(seen.st[1], DB_TRIAL_COMPILE_ERROR);
  cr_assert_float_eq(seen.t0, 3.5, 1e-12);
  cr_assert_eq(seen.reps1, -1);
  cr_assert_str_eq(seen.dims, "m=7,n=13,k=29");
  db_close(db);
  free(path);
}

static int collect_winner(void *ctx, const struct db_best *b)
{
  char *out = ctx;
  snprintf(out, 256, "%s %s %s %.0f", b->kernel, b->kernel_hash, b->config, b->time_median_us);
  return AT_OK;
}

/* A database as autotune made it at schema `version`, with one run, an ok trial and a
 * compile error written by that version's SQL (its kernel hash untagged, as schema 1
 * stored it). */
static void old_db(const char *path, int version)
{
  cr_assert_eq(db_create_at_version(path, version), AT_OK, "%s", at_last_error());
  cr_assert_eq(scalar(path, "PRAGMA user_version"), version);
  cr_assert_eq(raw_exec(path,
      "INSERT INTO runs(uuid, host, started_at, ended_at, toolchain, driver, "
      "  autotune_version, strategy, args) VALUES ('0123456789abcdef0123456789abcdef', "
      "  'oldhost', '2026-01-01T00:00:00Z', NULL, 'nvrtc 12.4', NULL, '0.0.9', 'exhaustive', "
      "  'gemm --old');"
      "INSERT INTO devices(name, arch, vendor) VALUES ('h100', 'sm_90', 'nvidia');"
      "INSERT INTO kernels(template, content_hash) VALUES ('gemm_mma', '0123abcd');"
      "INSERT INTO problems(op, dtype, layout, dim_names, dims, d0, d1, d2) VALUES "
      "  ('gemm', 'f16', 'NN', 'm,n,k', 'm=128,n=128,k=128', 128, 128, 128);"
      "INSERT INTO configs(text) VALUES ('BM=64'), ('BM=128');"
      "INSERT INTO trials(uuid, run_id, device_id, kernel_id, problem_id, config_id, status, "
      "  time_median_us, repetitions, created_at) VALUES "
      "  ('00000000000000000000000000000001', 1, 1, 1, 1, 1, 'ok', 12.0, 10, "
      "   '2026-01-01T00:00:01Z'),"
      "  ('00000000000000000000000000000002', 1, 1, 1, 1, 2, 'compile_error', NULL, NULL, "
      "   '2026-01-01T00:00:02Z');"),
      SQLITE_OK);
}

Test(db, schema_1_database_migrates_and_keeps_its_winners_findable)
{
  char *path = th_path(dir, "old.db");
  old_db(path, 1);
  struct db *db = NULL;
  cr_assert_eq(scalar(path, "SELECT count(*) FROM kernels WHERE content_hash = '0123abcd'"), 1);
  cr_assert_eq(db_open(path, DB_READONLY, &db), AT_USAGE, "read-only cannot migrate");
  cr_assert(strstr(at_last_error(), "db init"), "%s", at_last_error());

  db = fx_open(path);
  cr_assert_eq(db_schema_version(db), DB_SCHEMA_VERSION);
  char found[256] = "";
  cr_assert_eq(db_each_winner(db, "h100", "gemm", collect_winner, found), AT_OK);
  cr_assert_str_eq(found, "gemm_mma " HASH_FNV1A64_TAG "0123abcd BM=64 12");
  db_close(db);
  cr_assert_eq(scalar(path, "PRAGMA user_version"), DB_SCHEMA_VERSION);
  /* once only: opening again neither tags twice nor loses the row */
  db_close(fx_open(path));
  cr_assert_eq(scalar(path, "SELECT count(*) FROM kernels WHERE content_hash = '"
                            HASH_FNV1A64_TAG "0123abcd'"), 1);
  cr_assert_eq(scalar(path, "SELECT count(*) FROM trials"), 2);
  free(path);
}

static int old_run(void *ctx, const struct db_run *r)
{
  int *seen = ctx;
  cr_assert_str_eq(r->uuid, "0123456789abcdef0123456789abcdef");
  cr_assert_str_eq(r->host, "oldhost");
  cr_assert_str_eq(r->toolchain, "nvrtc 12.4");
  cr_assert_str_eq(r->args, "gemm --old");
  cr_assert(!r->driver && !r->runtime && !r->gpu_name && !r->gpu_uuid && !r->cpu && !r->os,
            "schema 2 never recorded provenance: the new columns read as not known");
  cr_assert(r->gpu_index == -1 && r->start_clocks.sm_mhz == -1 && r->end_clocks.mem_mhz == -1);
  cr_assert(r->owner.pid == -1 && !r->owner.host, "no owner: --resume may adopt it");
  (*seen)++;
  return 0;
}

static int old_trial(void *ctx, const struct db_trial *t)
{
  int *seen = ctx;
  cr_assert(t->sm_clock_mhz == -1 && t->throttled == -1);
  cr_assert(t->gpu_ordinal == -1 && !t->gpu_uuid, "old trials: measured on a GPU not known");
  *seen += t->status == DB_TRIAL_OK ? 10 : 100;
  return 0;
}

Test(db, schema_2_database_migrates_to_current_keeping_every_row)
{
  char *path = th_path(dir, "v2.db");
  old_db(path, 2);
  cr_assert_eq(scalar(path, "SELECT count(*) FROM winners"), 1);
  struct db *db = fx_open(path);
  cr_assert_eq(db_schema_version(db), DB_SCHEMA_VERSION);
  int seen = 0;
  cr_assert_eq(db_each_run(db, old_run, &seen), AT_OK);
  cr_assert_eq(seen, 1);
  seen = 0;
  cr_assert_eq(db_each_trial(db, old_trial, &seen), AT_OK);
  cr_assert_eq(seen, 110, "the ok trial and the compile error, once each");
  char found[256] = "";
  cr_assert_eq(db_each_winner(db, "h100", "gemm", collect_winner, found), AT_OK);
  cr_assert_str_eq(found, "gemm_mma 0123abcd BM=64 12", "2 -> 3 leaves hashes alone");
  int64_t problems = -1;
  char msg[256] = "";
  cr_assert_eq(db_check(db, &problems, msg, sizeof msg), AT_OK);
  cr_assert_eq(problems, 0, "%s", msg);
  /* the migrated run takes the new columns: a trial of schema 3 goes into it */
  const char *uuid = fx_gemm(db, "0123456789abcdef0123456789abcdef", "h100", "sm_90",
                             "nvidia", "gemm_mma", 128, 128, 128, "BM=32", 11.0);
  cr_assert_not_null(uuid);
  db_close(db);
  cr_assert_eq(scalar(path, "SELECT count(*) FROM runs"), 1);
  cr_assert_eq(scalar(path, "SELECT count(*) FROM trials"), 3);
  cr_assert_eq(scalar(path, "SELECT count(*) FROM winners"), 1);
  cr_assert_eq(scalar(path, "SELECT count(*) FROM devices") +
                   scalar(path, "SELECT count(*) FROM kernels") +
                   scalar(path, "SELECT count(*) FROM problems"), 3);
  cr_assert_eq(scalar(path, "SELECT count(*) FROM configs"), 3);
  free(path);
}

/* A run owned by `o`; returns how db_claim_run judges it for another process here. */
static enum db_claim claim_against(struct db *db, unsigned n, struct db_owner o,
                                   const struct db_owner *me)
{
  struct db_run r;
  db_run_init(&r);
  snprintf(r.uuid, sizeof r.uuid, "%032x", n);
  r.owner = o;
  cr_assert_eq(db_put_run(db, &r, NULL), AT_OK, "%s", at_last_error());
  enum db_claim c = DB_CLAIM_TAKEN;
  char holder[256];
  cr_assert_eq(db_claim_run(db, r.uuid, me, 900, &c, holder, sizeof holder), AT_OK, "%s",
               at_last_error());
  if (o.pid >= 0)
    cr_assert(strstr(holder, "pid "), "the holder is named: %s", holder);
  return c;
}

static int owner_of(void *ctx, const struct db_run *r)
{
  int64_t *pids = ctx;
  pids[strtol(r->uuid + 24, NULL, 16) % 16] = r->owner.pid;
  return 0;
}

Test(db, a_run_is_claimed_only_from_an_owner_that_is_gone)
{
  char *path = th_path(dir, "own.db");
  struct db *db = fx_open(path);
  char host[] = "this-host", boot[64];
  proc_boot_id(boot, sizeof boot);
  int64_t my_start = 0;
  cr_assert(proc_start_ticks(getpid(), &my_start));
  /* "me" is a resumer: another pid on this host */
  struct db_owner me = {host, boot, 999999999, 1, NULL};
  pid_t gone = fork();
  if (gone == 0)
    _exit(0);
  waitpid(gone, NULL, 0);
  char fresh[32];
  db_now(fresh);
  struct db_owner alive = {host, boot, getpid(), my_start, fresh};
  struct db_owner reused = {host, boot, getpid(), my_start + 1, fresh};
  struct db_owner dead = {host, boot, gone, 5, fresh};
  struct db_owner rebooted = {host, "another-boot", getpid(), my_start, "2020-01-01T00:00:00Z"};
  struct db_owner other_boot = {host, "another-boot", 1, 1, fresh};
  struct db_owner none = {NULL, NULL, -1, -1, NULL};
  struct db_owner far_fresh = {"other-host", "b", 1, 1, fresh};
  struct db_owner far_stale = {"other-host", "b", 1, 1, "2020-01-01T00:00:00Z"};
  cr_assert_eq(claim_against(db, 1, alive, &me), DB_CLAIM_ALIVE);
  cr_assert_eq(claim_against(db, 2, reused, &me), DB_CLAIM_TAKEN, "a reused pid is not it");
  cr_assert_eq(claim_against(db, 3, dead, &me), DB_CLAIM_TAKEN);
  cr_assert_eq(claim_against(db, 4, rebooted, &me), DB_CLAIM_TAKEN, "a stale other boot");
  cr_assert_eq(claim_against(db, 8, other_boot, &me), DB_CLAIM_LEASED,
               "another boot with a fresh heartbeat may be another machine of that name");
  cr_assert_eq(claim_against(db, 5, none, &me), DB_CLAIM_TAKEN);
  cr_assert_eq(claim_against(db, 6, far_fresh, &me), DB_CLAIM_LEASED);
  cr_assert_eq(claim_against(db, 7, far_stale, &me), DB_CLAIM_TAKEN);
  int64_t pids[16] = {0};
  cr_assert_eq(db_each_run(db, owner_of, pids), AT_OK);
  cr_assert_eq(pids[1], getpid(), "a refused claim changes nothing");
  cr_assert_eq(pids[6], 1, "a refused claim changes nothing");
  cr_assert_eq(pids[8], 1, "a refused claim changes nothing");
  for (int i = 2; i <= 7; i++)
    if (i != 6)
      cr_assert_eq(pids[i], me.pid, "run %d is taken over", i);
  enum db_claim c;
  char holder[64];
  cr_assert_eq(db_claim_run(db, "ffffffffffffffffffffffffffffffff", &me, 900, &c, holder,
                            sizeof holder), AT_NOT_FOUND);
  db_close(db);
  free(path);
}
