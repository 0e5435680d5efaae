/*
 * test_merge.c - db_merge (db/merge.c) and the `autotune db` commands around it: the
 * merge of overlapping shards is their union with no duplicate, merging twice adds
 * nothing, a database is never merged into itself, a failed merge adds nothing; and
 * `db merge`, `db stats --json`, `db check`, `db init`, missing files and files that
 * are not databases, as a user of the command line sees them.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "base/json.h"
#include "tests/helpers.h"

static void uuid_of(char *out, unsigned n)
{
  snprintf(out, DB_UUID_LEN + 1, "%032x", n);
}

static char *db_file(const char *dir, const char *name, struct db **out)
{
  char *path = th_path(dir, name);
  int rc = db_open(path, DB_CREATE, out);
  cr_assert_eq(rc, AT_OK, "cannot create %s: %s", path, at_last_error());
  return path;
}

static void put_run(struct db *db, unsigned n)
{
  struct db_run r;
  db_run_init(&r);
  uuid_of(r.uuid, n);
  r.host = "node";
  r.started_at = "2026-11-26T20:30:00Z";
  cr_assert_eq(db_put_run(db, &r, NULL), AT_OK, "%s", at_last_error());
}

static int put_trial_arch(struct db *db, unsigned n, unsigned run, const char *arch)
{
  struct db_trial t;
  db_trial_init(&t);
  uuid_of(t.uuid, n);
  uuid_of(t.run_uuid, run);
  t.device = "mi300x", t.arch = arch, t.vendor = "amd";
  t.kernel = "gemm_mfma", t.kernel_hash = "abc123";
  t.problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3,
                                  .dim_names = {"m", "n", "k"}, .dims = {1024, 1024, 1024}};
  t.config = n % 2 ? "BM=64" : "BM=128";
  t.status = n % 3 ? DB_TRIAL_OK : DB_TRIAL_COMPILE_ERROR;
  t.time_median_us = 10.0 + n;
  t.created_at = "2026-11-26T20:31:00Z";
  return db_put_trial(db, &t, NULL);
}

static void put_trial(struct db *db, unsigned n, unsigned run)
{
  cr_assert_eq(put_trial_arch(db, n, run, "gfx942"), AT_OK, "%s", at_last_error());
}

static struct db_stats stats_of(struct db *db)
{
  struct db_stats s;
  cr_assert_eq(db_stats(db, &s), AT_OK, "%s", at_last_error());
  return s;
}

static char *export_text(struct db *db)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_eq(db_export_jsonl(db, f), AT_OK, "%s", at_last_error());
  fclose(f);
  return buf;
}

/* Three shards that overlap: runs 1,2,3 and trials 10..14 in all, some twice. */
struct shards {
  char *dir, *path[3];
};

static struct shards make_shards(void)
{
  struct shards s = {.dir = th_tmpdir()};
  struct db *db;
  s.path[0] = db_file(s.dir, "s1.db", &db);
  put_run(db, 1);
  put_trial(db, 10, 1);
  put_trial(db, 11, 1);
  db_close(db);
  s.path[1] = db_file(s.dir, "s2.db", &db);
  put_run(db, 1);
  put_run(db, 2);
  put_trial(db, 11, 1);
  put_trial(db, 12, 2);
  put_trial(db, 13, 2);
  db_close(db);
  s.path[2] = db_file(s.dir, "s3.db", &db);
  put_run(db, 1);
  put_run(db, 3);
  put_trial(db, 10, 1);
  put_trial(db, 14, 3);
  db_close(db);
  return s;
}

static void free_shards(struct shards *s)
{
  th_rmtree(s->dir);
  for (int i = 0; i < 3; i++)
    free(s->path[i]);
  free(s->dir);
}

static void merge_expect(struct db *db, const char *src, int64_t ra, int64_t rp, int64_t ta,
                         int64_t tp)
{
  struct db_merge_stats st;
  cr_assert_eq(db_merge(db, src, &st), AT_OK, "merge of %s: %s", src, at_last_error());
  cr_assert_eq(st.runs_added, ra, "%s: runs added", src);
  cr_assert_eq(st.runs_present, rp, "%s: runs present", src);
  cr_assert_eq(st.trials_added, ta, "%s: trials added", src);
  cr_assert_eq(st.trials_present, tp, "%s: trials present", src);
}

Test(merge, three_shards_give_their_union_without_duplicates)
{
  struct shards s = make_shards();
  struct db *db;
  char *dest = db_file(s.dir, "all.db", &db);
  merge_expect(db, s.path[0], 1, 0, 2, 0);
  merge_expect(db, s.path[1], 1, 1, 2, 1);
  merge_expect(db, s.path[2], 1, 1, 1, 1);
  struct db_stats st = stats_of(db);
  cr_assert_eq(st.runs, 3);
  cr_assert_eq(st.trials, 5, "trials 10..14 once each");
  int64_t problems = -1;
  char msg[256];
  cr_assert_eq(db_check(db, &problems, msg, sizeof msg), AT_OK);
  cr_assert_eq(problems, 0, "%s", msg);
  db_close(db);
  free(dest);
  free_shards(&s);
}

Test(merge, twice_is_idempotent)
{
  struct shards s = make_shards();
  struct db *db;
  char *dest = db_file(s.dir, "all.db", &db);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(db_merge(db, s.path[i], NULL), AT_OK, "%s", at_last_error());
  char *before = export_text(db);
  merge_expect(db, s.path[0], 0, 1, 0, 2);
  merge_expect(db, s.path[1], 0, 2, 0, 3);
  merge_expect(db, s.path[2], 0, 2, 0, 2);
  char *after = export_text(db);
  cr_assert_str_eq(after, before);
  free(before);
  free(after);
  db_close(db);
  free(dest);
  free_shards(&s);
}

Test(merge, into_itself_is_refused)
{
  struct shards s = make_shards();
  struct db *db;
  cr_assert_eq(db_open(s.path[0], 0, &db), AT_OK, "%s", at_last_error());
  char *before = export_text(db);
  cr_assert_eq(db_merge(db, s.path[0], NULL), AT_USAGE);
  char want[600];
  snprintf(want, sizeof want, "cannot merge '%s' into itself", s.path[0]);
  cr_assert_str_eq(at_last_error(), want);
  /* Another name for the same file is the same file. */
  char *link = th_path(s.dir, "link.db");
  cr_assert_eq(symlink(s.path[0], link), 0);
  cr_assert_eq(db_merge(db, link, NULL), AT_USAGE);
  cr_assert_not_null(strstr(at_last_error(), "into itself"));
  char *after = export_text(db);
  cr_assert_str_eq(after, before);
  free(before);
  free(after);
  free(link);
  db_close(db);
  free_shards(&s);
}

Test(merge, open_errors_of_the_source_pass_through)
{
  char *dir = th_tmpdir();
  struct db *db;
  char *dest = db_file(dir, "all.db", &db);
  char *missing = th_path(dir, "missing.db");
  struct db_merge_stats st = {1, 1, 1, 1};
  int rc = db_merge(db, missing, &st);
  cr_assert_eq(rc, AT_IO, "got %s", at_status_name(rc));
  cr_assert_not_null(strstr(at_last_error(), missing), "%s", at_last_error());
  cr_assert_eq(st.runs_added + st.runs_present + st.trials_added + st.trials_present, 0);
  cr_assert_eq(access(missing, F_OK), -1, "a merge source is never created");
  char *text = th_path(dir, "notes.txt");
  th_write(text, "hello, not a database\n", 22);
  rc = db_merge(db, text, NULL);
  cr_assert_eq(rc, AT_NOT_A_DB, "got %s", at_status_name(rc));
  cr_assert_not_null(strstr(at_last_error(), "not an autotune database"), "%s",
                     at_last_error());
  cr_assert_eq(stats_of(db).runs, 0);
  free(text);
  free(missing);
  free(dest);
  db_close(db);
  th_rmtree(dir);
  free(dir);
}

Test(merge, a_failed_merge_adds_nothing)
{
  char *dir = th_tmpdir();
  struct db *db, *src;
  char *dest = db_file(dir, "all.db", &db);
  put_run(db, 1);
  put_trial(db, 10, 1);
  /* The source records mi300x with another arch: its second trial cannot be put. */
  char *srcp = db_file(dir, "src.db", &src);
  put_run(src, 2);
  put_run(src, 3);
  cr_assert_eq(put_trial_arch(src, 20, 2, "gfx942"), AT_OK, "%s", at_last_error());
  db_close(src);
  char *other = th_path(dir, "other.db");
  cr_assert_eq(db_open(other, DB_CREATE, &src), AT_OK);
  put_run(src, 4);
  cr_assert_eq(put_trial_arch(src, 21, 4, "gfx90a"), AT_OK, "%s", at_last_error());
  db_close(src);
  cr_assert_eq(db_merge(db, srcp, NULL), AT_OK, "%s", at_last_error());
  char *before = export_text(db);
  struct db_merge_stats st = {1, 1, 1, 1};
  int rc = db_merge(db, other, &st);
  cr_assert_neq(rc, AT_OK);
  cr_assert_not_null(strstr(at_last_error(), "mi300x"), "%s", at_last_error());
  cr_assert_eq(st.runs_added + st.trials_added, 0);
  char *after = export_text(db);
  cr_assert_str_eq(after, before, "run 4 must have been rolled back with the trial");
  free(before);
  free(after);
  free(other);
  free(srcp);
  free(dest);
  db_close(db);
  th_rmtree(dir);
  free(dir);
}

/* ---- the command line ---- */

static bool one_line(const char *s)
{
  const char *nl = strchr(s, '\n');
  return nl && nl[1] == '\0';
}

Test(db_cli, merge_prints_counts_and_exit_codes)
{
  struct shards s = make_shards();
  char *dest = th_path(s.dir, "all.db");
  struct th_result r;
  th_run(&r, "db merge '%s' '%s' '%s' '%s'", dest, s.path[0], s.path[1], s.path[2]);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_str_empty(r.err);
  char want[2048];
  snprintf(want, sizeof want,
           "%s: runs 1 added, 0 present; trials 2 added, 0 present\n"
           "%s: runs 1 added, 1 present; trials 2 added, 1 present\n"
           "%s: runs 1 added, 1 present; trials 1 added, 1 present\n",
           s.path[0], s.path[1], s.path[2]);
  cr_assert_str_eq(r.out, want);
  th_result_free(&r);

  th_run(&r, "db merge --json '%s' '%s'", dest, s.path[1]);
  cr_assert_eq(r.code, 0, "%s", r.err);
  snprintf(want, sizeof want, "[{\"source\":\"%s\",\"runs_added\":0,\"runs_present\":2,"
           "\"trials_added\":0,\"trials_present\":3}]\n", s.path[1]);
  cr_assert_str_eq(r.out, want);
  th_result_free(&r);

  th_run(&r, "db merge '%s' '%s'", dest, dest);
  cr_assert_eq(r.code, 2);
  snprintf(want, sizeof want, "autotune: cannot merge '%s' into itself\n", dest);
  cr_assert_str_eq(r.err, want);
  th_result_free(&r);

  th_run(&r, "db merge '%s' '%s/nope.db'", dest, s.dir);
  cr_assert_eq(r.code, 2);
  cr_assert(one_line(r.err) && strstr(r.err, "nope.db"), "%s", r.err);
  th_result_free(&r);

  th_run(&r, "db merge '%s'", dest);
  cr_assert_eq(r.code, 2);
  cr_assert_not_null(strstr(r.err, "try 'autotune db merge --help'"), "%s", r.err);
  th_result_free(&r);

  th_run(&r, "db stats --db '%s' --json", dest);
  cr_assert_eq(r.code, 0, "%s", r.err);
  struct json *v = NULL;
  char err[128];
  cr_assert_eq(json_parse(r.out, strlen(r.out), &v, err, sizeof err), 0, "%s: %s", err,
               r.out);
  cr_assert_eq(json_get(v, "runs")->integer, 3);
  cr_assert_eq(json_get(v, "trials")->integer, 5);
  cr_assert_eq(json_get(v, "schema")->integer, DB_SCHEMA_VERSION);
  cr_assert_str_eq(json_get(v, "path")->string, dest);
  const struct json *by = json_get(v, "by_status");
  cr_assert_eq(json_get(by, "ok")->integer + json_get(by, "compile_error")->integer, 5);
  cr_assert_eq(by->len, DB_TRIAL_STATUS_COUNT);
  json_free(v);
  th_result_free(&r);

  th_run(&r, "db stats --db '%s'", dest);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_not_null(strstr(r.out, "\ntrials          5\n"), "%s", r.out);
  th_result_free(&r);

  th_run(&r, "db check --db '%s'", dest);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  free(dest);
  free_shards(&s);
}

Test(db_cli, missing_file_is_exit_2_and_never_created)
{
  char *dir = th_tmpdir();
  char *missing = th_path(dir, "missing.db");
  static const char *const cmds[] = {"stats", "stats --json", "check", "export"};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    struct th_result r;
    th_run(&r, "db %s --db '%s'", cmds[i], missing);
    cr_assert_eq(r.code, 2, "db %s: exit %d", cmds[i], r.code);
    cr_assert(one_line(r.err), "db %s: not one line: %s", cmds[i], r.err);
    cr_assert(strncmp(r.err, "autotune: ", 10) == 0, "%s", r.err);
    cr_assert_not_null(strstr(r.err, missing), "db %s: %s", cmds[i], r.err);
    cr_assert_str_empty(r.out);
    cr_assert_eq(access(missing, F_OK), -1, "db %s created the file", cmds[i]);
    th_result_free(&r);
  }
  free(missing);
  th_rmtree(dir);
  free(dir);
}

Test(db_cli, a_file_that_is_not_a_database_is_exit_2)
{
  char *dir = th_tmpdir();
  char *text = th_path(dir, "notes.db");
  th_write(text, "just some text\n", 15);
  static const char *const cmds[] = {"stats", "check", "export", "init", "merge --db"};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    struct th_result r;
    if (strncmp(cmds[i], "merge", 5) == 0)
      th_run(&r, "db merge '%s/all.db' '%s'", dir, text);
    else
      th_run(&r, "db %s --db '%s'", cmds[i], text);
    cr_assert_eq(r.code, 2, "db %s: exit %d", cmds[i], r.code);
    cr_assert(one_line(r.err), "db %s: %s", cmds[i], r.err);
    cr_assert_not_null(strstr(r.err, "not an autotune database"), "db %s: %s", cmds[i],
                       r.err);
    th_result_free(&r);
  }
  size_t len;
  char *after = th_read(text, &len);
  cr_assert_str_eq(after, "just some text\n", "the file must be left alone");
  free(after);
  free(text);
  th_rmtree(dir);
  free(dir);
}

Test(db_cli, init_help_and_unknown_commands)
{
  char *dir = th_tmpdir();
  char *path = th_path(dir, "new.db");
  struct th_result r;
  th_run(&r, "db init --db '%s'", path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char want[600];
  snprintf(want, sizeof want, "%s: schema version %d\n", path, DB_SCHEMA_VERSION);
  cr_assert_str_eq(r.out, want);
  th_result_free(&r);
  th_run(&r, "db init --json --db '%s'", path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  snprintf(want, sizeof want, "{\"path\":\"%s\",\"schema\":%d}\n", path, DB_SCHEMA_VERSION);
  cr_assert_str_eq(r.out, want);
  th_result_free(&r);

  th_run(&r, "db frob");
  cr_assert_eq(r.code, 2);
  cr_assert_str_eq(r.err, "autotune: unknown db command 'frob' (expected init, stats, check, "
                          "merge, export or import)\n");
  th_result_free(&r);
  th_run(&r, "db");
  cr_assert_eq(r.code, 2);
  cr_assert_not_null(strstr(r.err, "usage: autotune db <command>"));
  th_result_free(&r);

  th_run(&r, "db --help");
  cr_assert_eq(r.code, 0);
  static const char *const subs[] = {"init", "stats", "check", "merge", "export", "import"};
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
    char line[32];
    snprintf(line, sizeof line, "\n  %-8s ", subs[i]);
    cr_assert_not_null(strstr(r.out, line), "db --help lacks %s:\n%s", subs[i], r.out);
    struct th_result h;
    th_run(&h, "db %s --help", subs[i]);
    cr_assert_eq(h.code, 0);
    snprintf(line, sizeof line, "usage: autotune db %s ", subs[i]);
    cr_assert(strncmp(h.out, line, strlen(line)) == 0, "%s", h.out);
    /* merge names its destination; every other subcommand takes --db. */
    cr_assert_not_null(strstr(h.out, strcmp(subs[i], "merge") ? "--db FILE" : "DEST SRC"));
    th_result_free(&h);
  }
  th_result_free(&r);

  th_run(&r, "db stats --bogus --db '%s'", path);
  cr_assert_eq(r.code, 2);
  cr_assert_str_eq(r.err, "autotune: unknown option '--bogus'; try 'autotune db stats "
                          "--help'\n");
  th_result_free(&r);
  th_run(&r, "db stats --db '%s' extra", path);
  cr_assert_eq(r.code, 2);
  cr_assert_not_null(strstr(r.err, "unexpected argument 'extra'"), "%s", r.err);
  th_result_free(&r);
  free(path);
  th_rmtree(dir);
  free(dir);
}

Test(db_cli, check_exits_1_and_names_the_problem)
{
  struct shards s = make_shards();
  struct th_result r;
  th_run(&r, "db check --db '%s'", s.path[1]);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char want[600];
  snprintf(want, sizeof want, "%s: healthy\n", s.path[1]);
  cr_assert_str_eq(r.out, want);
  th_result_free(&r);
  /* Damage the derived table behind the library's back, as another program could. */
  sqlite3 *h;
  cr_assert_eq(sqlite3_open(s.path[1], &h), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(h, "DELETE FROM winners", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  th_run(&r, "db check --db '%s'", s.path[1]);
  cr_assert_eq(r.code, 1, "%s", r.err);
  cr_assert(one_line(r.err), "%s", r.err);
  cr_assert_not_null(strstr(r.err, "winners differ"), "%s", r.err);
  th_result_free(&r);
  th_run(&r, "db check --json --db '%s'", s.path[1]);
  cr_assert_eq(r.code, 1, "%s", r.err);
  cr_assert_not_null(strstr(r.out, "\"healthy\":false,\"problems\":"), "%s", r.out);
  th_result_free(&r);
  free_shards(&s);
}
