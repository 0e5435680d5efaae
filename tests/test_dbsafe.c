/*
 * test_dbsafe.c - the database's safety as a user of the command line sees it (issue
 * 15): output files replaced only whole and never over what was not ours (the database,
 * a device node, a link's target), damage reported as exit 1 and never read as fewer
 * trials, `db check` covering every invariant, disk and stdout failures as exit 1,
 * database text kept out of generated code, read-only folders, a busy database.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "db/db.h"
#include "tests/fixture.h"
#include "tests/helpers.h"

static char *dir;

/* The binary th_run runs, for the tests that need a shell around it (th_sh). */
static const char *bin(void)
{
  const char *b = getenv("AT_TEST_BINARY");
  return b && b[0] ? b : AT_BINARY;
}

static void setup(void)
{
  dir = th_tmpdir();
}

static void teardown(void)
{
  th_rmtree(dir);
  free(dir);
}

TestSuite(dbsafe, .init = setup, .fini = teardown, .timeout = 120);

static void sql(const char *path, const char *text)
{
  sqlite3 *h;
  cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(h, text, NULL, NULL, NULL), SQLITE_OK, "%s: %s", text,
               sqlite3_errmsg(h));
  sqlite3_close(h);
}

static int64_t scalar(const char *path, const char *text)
{
  sqlite3 *h;
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
  cr_assert_eq(sqlite3_prepare_v2(h, text, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sqlite3_errmsg(h));
  int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

/* A database of `n` ok trials of one run, checkpointed into the main file. */
static char *make_db(const char *name, int n)
{
  char *path = th_path(dir, name);
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  cr_assert_eq(db_begin(db), AT_OK);
  for (int i = 1; i <= n; i++)
    fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 64 * i, 64, 64, "BM=64",
            10.0 + i);
  cr_assert_eq(db_commit(db), AT_OK);
  db_close(db);
  sql(path, "PRAGMA wal_checkpoint(TRUNCATE)");
  return path;
}

static uint32_t be32(const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Damage the trials b-tree. silent: its root page replaced by its first leaf, so a scan
 * sees that leaf's rows only and SQLite reports nothing (the indexes still count all);
 * loud: its last leaf's cell count zeroed, which SQLite reports while reading. */
static void damage_trials(const char *path, bool silent)
{
  int64_t root = scalar(path, "SELECT rootpage FROM sqlite_schema WHERE name = 'trials'");
  size_t len = 0;
  unsigned char *b = (unsigned char *)th_read(path, &len);
  size_t ps = (size_t)b[16] << 8 | b[17];
  unsigned char *r = b + (size_t)(root - 1) * ps;
  cr_assert_eq(r[0], 0x05, "the trials root must be an interior page (add trials)");
  uint32_t first = be32(b + (size_t)(root - 1) * ps + ((size_t)r[12] << 8 | r[13]));
  uint32_t last = be32(r + 8);
  if (silent)
    memcpy(r, b + (size_t)(first - 1) * ps, ps);
  else
    b[(size_t)(last - 1) * ps + 3] = 0, b[(size_t)(last - 1) * ps + 4] = 0;
  cr_assert_eq(th_write(path, (char *)b, len), 0);
  free(b);
}

static char *slurp(const char *path)
{
  char *s = th_read(path, NULL);
  cr_assert(s, "cannot read %s", path);
  return s;
}

/* ---- 1: export --out ---- */

Test(dbsafe, failed_export_keeps_the_out_path_and_a_link_target)
{
  char *db = make_db("loud.db", 200);
  damage_trials(db, false);
  char *target = th_path(dir, "target.jsonl"), *link = th_path(dir, "link.jsonl");
  char *plain = th_path(dir, "plain.jsonl");
  th_write(target, "kept\n", 5);
  th_write(plain, "kept\n", 5);
  cr_assert_eq(symlink(target, link), 0);
  struct th_result r;
  th_run(&r, "db export --db '%s' --out '%s'", db, link);
  struct stat st;
  cr_assert(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link was removed");
  char *s = slurp(target);
  cr_assert_str_eq(s, "kept\n", "the link's target holds a partial export");
  free(s);
  cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
  th_result_free(&r);
  th_run(&r, "db export --db '%s' --out '%s'", db, plain);
  cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
  th_result_free(&r);
  s = slurp(plain);
  cr_assert_str_eq(s, "kept\n", "a failed export replaced the file");
  free(s);
  /* No temporary file is left beside them. */
  th_sh(&r, "ls -a '%s' | grep -c tmp", dir);
  cr_assert_str_eq(r.out, "0\n", "left behind: %s", r.out);
  th_result_free(&r);
  free(db), free(target), free(link), free(plain);
}

Test(dbsafe, export_writes_through_a_link_and_refuses_a_device_node)
{
  char *db = make_db("good.db", 3);
  char *target = th_path(dir, "target.jsonl"), *link = th_path(dir, "link.jsonl");
  char *node = th_path(dir, "null");
  th_write(target, "old\n", 4);
  cr_assert_eq(symlink(target, link), 0);
  struct th_result r;
  th_run(&r, "db export --db '%s' --out '%s'", db, link);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  struct stat st;
  cr_assert(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link became a file");
  char *s = slurp(target);
  cr_assert(strstr(s, "\"autotune_jsonl\""), "%s", s);
  cr_assert_eq(scalar(db, "SELECT count(*) FROM trials"), 3);
  free(s);
  if (mknod(node, S_IFCHR | 0666, makedev(1, 3)) == 0) {
    th_run(&r, "db export --db '%s' --out '%s'", db, node);
    cr_assert_eq(r.code, 2, "exit %d: %s", r.code, r.err);
    cr_assert(strstr(r.err, "not a regular file"), "%s", r.err);
    th_result_free(&r);
    cr_assert(stat(node, &st) == 0 && S_ISCHR(st.st_mode), "the device node is gone");
  }
  free(db), free(target), free(link), free(node);
}

Test(dbsafe, a_full_disk_during_an_export_is_exit_1_and_keeps_the_old_file)
{
  char *db = make_db("big.db", 300), *out = th_path(dir, "out.jsonl");
  th_write(out, "old\n", 4);
  struct th_result r;
  /* A 64 KB file size limit (sh counts 512-byte blocks) stands in for a full disk: the
   * database opens (its -shm is 32 KB), the export (~180 KB) cannot be written whole. */
  th_sh(&r, "trap '' XFSZ; ulimit -f 128; '%s' db export --db '%s' --out '%s'", bin(), db,
        out);
  cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.err, "cannot write the export"), "not the export's failure: %s", r.err);
  th_result_free(&r);
  char *s = slurp(out);
  cr_assert_str_eq(s, "old\n", "the old file was replaced or removed");
  free(s);
  th_sh(&r, "ls -a '%s' | grep -c tmp", dir);
  cr_assert_str_eq(r.out, "0\n", "left behind: %s", r.out);
  th_result_free(&r);
  free(db), free(out);
}

/* ---- 2: emit-header --out ---- */

static char *tuned_host_db(void)
{
  char *db = th_path(dir, "host.db"), *cache = th_path(dir, "cache");
  struct th_result r;
  th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' '%s' gemm --device host --m 32 --n 32 --k 32 "
        "--budget 1 --jobs 1 --db '%s'", cache, bin(), db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  free(cache);
  return db;
}

Test(dbsafe, emit_header_never_replaces_the_database_or_a_special_file)
{
  char *db = tuned_host_db();
  char *alias = th_path(dir, "alias.db"), *fifo = th_path(dir, "fifo.h");
  cr_assert_eq(symlink(db, alias), 0);
  cr_assert_eq(mkfifo(fifo, 0644), 0);
  struct th_result r;
  const char *outs[] = {db, alias};
  for (int i = 0; i < 2; i++) {
    th_run(&r, "emit-header gemm --device host --db '%s' --out '%s'", db, outs[i]);
    cr_assert_eq(r.code, 2, "--out %s: exit %d: %s", outs[i], r.code, r.err);
    cr_assert(strstr(r.err, "database"), "%s", r.err);
    th_result_free(&r);
    cr_assert_gt(th_count_trials(db), 0, "the database was replaced");
  }
  /* The same file spelled another way (./dir/../dir/host.db) is still the database. */
  th_sh(&r, "cd '%s' && '%s' emit-header gemm --device host --db host.db --out ./host.db",
        dir, bin());
  cr_assert_eq(r.code, 2, "exit %d: %s", r.code, r.err);
  th_result_free(&r);
  cr_assert_gt(th_count_trials(db), 0, "the database was replaced");
  th_run(&r, "emit-header gemm --device host --db '%s' --out '%s'", db, fifo);
  cr_assert_eq(r.code, 2, "exit %d: %s", r.code, r.err);
  th_result_free(&r);
  struct stat st;
  cr_assert(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO became a file");
  free(db), free(alias), free(fifo);
}

/* ---- 5: damage is exit 1, never fewer trials ---- */

Test(dbsafe, silent_damage_fails_export_merge_query_and_check)
{
  char *db = make_db("silent.db", 200);
  damage_trials(db, true);
  char *out = th_path(dir, "out.jsonl"), *dest = th_path(dir, "dest.db");
  struct th_result r;
  th_run(&r, "db export --db '%s' --out '%s'", db, out);
  cr_assert_eq(r.code, 1, "export of a damaged file: exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.err, "corrupt"), "%s", r.err);
  th_result_free(&r);
  cr_assert_eq(access(out, F_OK), -1, "a partial export was left");
  th_run(&r, "db export --db '%s'", db);
  cr_assert_eq(r.code, 1, "export to stdout: exit %d", r.code);
  th_result_free(&r);
  th_run(&r, "db merge '%s' '%s'", dest, db);
  cr_assert_eq(r.code, 1, "merge of a damaged file: exit %d: %s", r.code, r.err);
  th_result_free(&r);
  cr_assert_eq(th_count_trials(dest), 0, "a merge kept part of a damaged source");
  /* The last shape lives in a lost page: not "not tuned", but damaged. */
  th_run(&r, "query gemm --device h100 --dtype f16 --layout NN --m 12800 --n 64 --k 64 "
         "--db '%s'", db);
  cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.err, "corrupt"), "%s", r.err);
  th_result_free(&r);
  th_run(&r, "db stats --db '%s'", db);
  cr_assert_eq(r.code, 1, "stats of a damaged file: exit %d: %s", r.code, r.err);
  th_result_free(&r);
  th_run(&r, "db check --db '%s'", db);
  cr_assert_eq(r.code, 1, "check of a damaged file: exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.err, "problem"), "%s", r.err);
  cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "one line: %s", r.err);
  th_result_free(&r);
  free(db), free(out), free(dest);
}

Test(dbsafe, loud_damage_is_exit_1_with_the_first_problem)
{
  char *db = make_db("loud.db", 200);
  damage_trials(db, false);
  struct th_result r;
  th_run(&r, "db check --db '%s'", db);
  cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.err, "the first:"), "%s", r.err);
  th_result_free(&r);
  th_run(&r, "db check --json --db '%s'", db);
  cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.out, "\"healthy\":false"), "%s", r.out);
  th_result_free(&r);
  th_run(&r, "db stats --db '%s'", db);
  cr_assert_eq(r.code, 1, "stats of a damaged file: exit %d: %s", r.code, r.err);
  th_result_free(&r);
  free(db);
}

/* ---- 6: db check covers every invariant ---- */

static void expect_check(const char *db, const char *want)
{
  struct th_result r;
  th_run(&r, "db check --db '%s'", db);
  cr_assert_eq(r.code, 1, "exit %d, expected 1 for %s: %s%s", r.code, want, r.out, r.err);
  cr_assert(strstr(r.err, want), "expected '%s' in: %s", want, r.err);
  th_result_free(&r);
}

Test(dbsafe, check_finds_a_tampered_winner_time)
{
  char *db = make_db("w.db", 3);
  sql(db, "UPDATE winners SET time_median_us = 0.5");
  expect_check(db, "time other than their trial");
  free(db);
}

Test(dbsafe, check_finds_two_trials_of_one_config_in_one_run_and_bad_configs)
{
  char *path = th_path(dir, "twice.db");
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 64, 64, 64, "BM=64", 10.0);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 64, 64, 64, "BM=128", 11.0);
  db_close(db);
  struct th_result r;
  th_run(&r, "db check --db '%s'", path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  db = fx_open(path);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 64, 64, 64, "BM=64", 12.0);
  db_close(db);
  expect_check(path, "twice in one run");
  char *bad = make_db("bad.db", 2);
  sql(bad, "UPDATE configs SET text = 'BM 64'");
  expect_check(bad, "not canonical");
  free(path), free(bad);
}

/* ---- 13: disk and stdout failures are exit 1 ---- */

Test(dbsafe, stdout_write_errors_are_exit_1)
{
  char *db = make_db("s.db", 3);
  const char *cmds[] = {"db stats --db '%s'", "db stats --json --db '%s'",
                        "query gemm --device h100 --dtype f16 --layout NN --m 64 --n 64 "
                        "--k 64 --db '%s'",
                        "db export --db '%s'", "db check --db '%s'"};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    char args[512];
    struct th_result r;
    snprintf(args, sizeof args, cmds[i], db);
    th_sh(&r, "'%s' %s > /dev/full",
          bin(), args);
    cr_assert_eq(r.code, 1, "%s > /dev/full: exit %d: %s", args, r.code, r.err);
    cr_assert(strstr(r.err, "autotune: "), "%s", r.err);
    th_result_free(&r);
  }
  free(db);
}

Test(dbsafe, a_full_disk_during_an_import_is_exit_1_and_leaves_a_healthy_database)
{
  char *db = make_db("src.db", 300), *jsonl = th_path(dir, "all.jsonl");
  char *dest = th_path(dir, "dest.db");
  const char *exe = bin();
  struct th_result r;
  th_run(&r, "db export --db '%s' --out '%s'", db, jsonl);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_run(&r, "db init --db '%s'", dest);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  /* A file size limit stands in for a full disk: writes past it fail (EFBIG). */
  th_sh(&r, "trap '' XFSZ; ulimit -f 96; '%s' db import --db '%s' '%s'", exe, dest, jsonl);
  cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
  th_result_free(&r);
  th_run(&r, "db check --db '%s'", dest);
  cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
  th_result_free(&r);
  free(db), free(jsonl), free(dest);
}

/* ---- 7: a database in a read-only folder ---- */

Test(dbsafe, read_only_commands_work_in_a_read_only_folder)
{
  char *db = tuned_host_db(), *ro = th_path(dir, "ro"), *rodb = th_path(ro, "t.db");
  char *w = th_path(dir, "w"), *hdr = th_path(w, "h.h"), *exp = th_path(w, "e.jsonl");
  const char *exe = bin();
  /* root writes anywhere: run the commands as nobody (setpriv) to feel the folder's mode */
  const char *as = geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
  if (geteuid() == 0 && access("/usr/bin/setpriv", X_OK) != 0)
    cr_skip_test("root without setpriv: a read-only folder cannot be made");
  struct th_result r;
  th_sh(&r, "mkdir '%s' '%s' && cp '%s' '%s' && chmod 0755 '%s' && chmod 0777 '%s' && "
        "chmod 0444 '%s' && chmod 0555 '%s'", ro, w, db, rodb, dir, w, rodb, ro);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  const char *cmds[] = {
      "db stats --db '%s'", "db check --db '%s'", "db export --db '%s'",
      "query gemm --device host --dtype f32 --m 32 --n 32 --k 32 --db '%s'"};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    char args[512];
    snprintf(args, sizeof args, cmds[i], rodb);
    th_sh(&r, "%s'%s' %s", as, exe, args);
    cr_assert_eq(r.code, 0, "%s: exit %d: %s", args, r.code, r.err);
    th_result_free(&r);
  }
  th_sh(&r, "%s'%s' emit-header gemm --device host --db '%s' --out '%s'", as, exe, rodb, hdr);
  cr_assert_eq(r.code, 0, "emit-header: exit %d: %s", r.code, r.err);
  th_result_free(&r);
  th_sh(&r, "%s'%s' db export --db '%s' --out '%s'", as, exe, rodb, exp);
  cr_assert_eq(r.code, 0, "export: exit %d: %s", r.code, r.err);
  th_result_free(&r);
  /* Nothing was created beside the database. */
  th_sh(&r, "ls -a '%s' | wc -l", ro);
  cr_assert_str_eq(r.out, "3\n", "%s", r.out);
  th_result_free(&r);
  th_sh(&r, "chmod 0755 '%s'", ro);
  th_result_free(&r);
  free(db), free(ro), free(rodb), free(w), free(hdr), free(exp);
}

/* ---- 4: database text never becomes code ---- */

Test(dbsafe, a_name_holding_a_newline_is_refused_at_import)
{
  char *db = make_db("src.db", 2), *jsonl = th_path(dir, "e.jsonl");
  char *evil = th_path(dir, "evil.jsonl"), *dest = th_path(dir, "dest.db");
  struct th_result r;
  th_run(&r, "db export --db '%s' --out '%s'", db, jsonl);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  /* JSON's \n in the layout of the second trial (line 4). */
  th_sh(&r, "sed '4s/\"layout\":\"NN\"/\"layout\":\"NN\\\\n#error injected\"/' '%s' > '%s' && "
        "grep -c 'error injected' '%s'", jsonl, evil, evil);
  cr_assert_str_eq(r.out, "1\n", "the fixture did not take: %s", r.err);
  th_result_free(&r);
  th_run(&r, "db import --db '%s' '%s'", dest, evil);
  cr_assert_eq(r.code, 2, "exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.err, ":4:") && strstr(r.err, "layout"), "%s", r.err);
  cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "one line: %s", r.err);
  th_result_free(&r);
  cr_assert_eq(th_count_trials(dest), 0);
  free(db), free(jsonl), free(evil), free(dest);
}

static bool has_line_starting(const char *text, const char *prefix)
{
  for (const char *p = text; p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, prefix, strlen(prefix)) == 0)
      return true;
  return false;
}

Test(dbsafe, emit_header_refuses_database_text_that_is_not_a_name)
{
  char *db = tuned_host_db(), *hdr = th_path(dir, "t.h");
  /* What an older autotune, or a hand, may have left in the file. */
  sql(db, "UPDATE problems SET layout = 'NN' || char(10) || '#error injected'");
  struct th_result r;
  th_run(&r, "emit-header gemm --device host --db '%s' --out '%s'", db, hdr);
  char *text = th_read(hdr, NULL);
  cr_assert(!text || !has_line_starting(text, "#error"), "injected:\n%s", text);
  free(text);
  cr_assert_eq(r.code, 2, "exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.err, "not a name"), "%s", r.err);
  th_result_free(&r);
  free(db), free(hdr);
}

Test(dbsafe, a_template_file_name_with_a_newline_stays_in_its_comment)
{
  char *evil = th_path(dir, "x\n#error injected\n.h"), *out = th_path(dir, "gen");
  size_t len = 0;
  char *src = th_read(AT_SOURCE_DIR "/templates/gemm/gemm_naive.h", &len);
  cr_assert(src);
  th_write(evil, src, len);
  free(src);
  struct th_result r;
  th_run(&r, "generate \"$(printf '%%s/x\\n#error injected\\n.h' '%s')\" --device host "
         "--m 64 --n 64 --k 64 --dtype f32 --out '%s'", dir, out);
  cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
  th_result_free(&r);
  char *batch = th_path(out, "batch_0000.cpp");
  char *text = th_read(batch, NULL);
  cr_assert(text, "no %s", batch);
  cr_assert(!has_line_starting(text, "#error"), "injected:\n%.600s", text);
  free(text), free(batch), free(evil), free(out);
}

/* ---- 10: a busy database ---- */

Test(dbsafe, a_tuner_waits_out_a_lock_held_longer_than_the_busy_timeout)
{
  char *db = make_db("busy.db", 1), *cache = th_path(dir, "cache");
  const char *exe = bin();
  int64_t before = th_count_trials(db);
  /* What a long import does: hold the write lock, here for 13 s (the busy timeout is 10). */
  sqlite3 *h;
  cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  struct th_result r;
  th_sh(&r, "(AUTOTUNE_CACHE_DIR='%s' '%s' gemm --device host --m 32 --n 32 --k 32 "
        "--budget 1 --jobs 1 --db '%s' > '%s/out' 2> '%s/err'; echo $? > '%s/rc') "
        ">/dev/null 2>&1 & echo $!", cache, exe, db, dir, dir, dir);
  pid_t pid = (pid_t)atoi(r.out);
  th_result_free(&r);
  sleep(13);
  cr_assert_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  th_sh(&r, "while kill -0 %d 2>/dev/null; do sleep 0.2; done; cat '%s/err'", (int)pid, dir);
  cr_assert_null(strstr(r.out, "locked"), "the tuner gave up: %s", r.out);
  th_result_free(&r);
  char *out = th_path(dir, "rc"), *json = th_read(out, NULL);
  cr_assert(json && strcmp(json, "0\n") == 0, "the tuner exited %s", json ? json : "?");
  int64_t after = th_count_trials(db);
  cr_assert_gt(after, before, "nothing was recorded");
  th_run(&r, "db check --db '%s'", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  free(json), free(out), free(db), free(cache);
}

Test(dbsafe, an_import_cut_short_keeps_whole_chunks_and_a_second_import_adds_the_rest)
{
  char *src = make_db("src.db", 3500), *jsonl = th_path(dir, "all.jsonl");
  char *dest = th_path(dir, "dest.db");
  const char *exe = bin();
  struct th_result r;
  th_run(&r, "db export --db '%s' --out '%s'", src, jsonl);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_run(&r, "db init --db '%s'", dest);
  th_result_free(&r);
  th_sh(&r, "trap '' XFSZ; ulimit -f 1200; '%s' db import --db '%s' '%s'", exe, dest, jsonl);
  cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
  th_result_free(&r);
  int64_t kept = th_count_trials(dest);
  /* chunks of 1000 records: the first holds the run line and 999 trials */
  cr_assert(kept > 0 && (kept + 1) % 1000 == 0, "kept %lld trials: whole chunks expected",
            (long long)kept);
  th_run(&r, "db check --db '%s'", dest);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_run(&r, "db import --db '%s' '%s'", dest, jsonl);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  cr_assert_eq(th_count_trials(dest), 3500);
  free(src), free(jsonl), free(dest);
}

/* ---- 5, found by bench/soak.sh: a scan and its count read one snapshot ---- */

struct writer {
  struct db *other;
  char run[DB_UUID_LEN + 1];
  int seen;
};

static int write_meanwhile(void *ctx, const struct db_trial *t)
{
  (void)t;
  struct writer *w = ctx;
  if (w->seen++ == 0) /* another process commits while the export is half way */
    fx_gemm(w->other, w->run, "h100", "sm_90", "nvidia", "gemm_mma", 99, 64, 64, "BM=32",
            5.0);
  return 0;
}

Test(dbsafe, a_writer_committing_during_an_export_is_not_damage)
{
  char *path = make_db("live.db", 50);
  struct writer w = {.other = fx_open(path)};
  fx_run(w.other, w.run);
  struct db *db = NULL;
  cr_assert_eq(db_open(path, DB_READONLY, &db), AT_OK);
  int rc = db_each_trial(db, write_meanwhile, &w);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  cr_assert_eq(w.seen, 50, "the scan read %d trials of its snapshot's 50", w.seen);
  db_close(db);
  db_close(w.other);
  free(path);
}

Test(dbsafe, a_full_disk_during_a_tuning_run_is_exit_1)
{
  char *db = make_db("run.db", 30), *cache = th_path(dir, "cache");
  const char *exe = bin();
  struct th_result r;
  /* The database is ~90 KB: a 20 KB file size limit (sh counts 512-byte blocks) fails
   * its WAL's writes (EFBIG). */
  th_sh(&r, "trap '' XFSZ; ulimit -f 40; AUTOTUNE_CACHE_DIR='%s' '%s' gemm --device host "
        "--m 32 --n 32 --k 32 --budget 1 --jobs 1 --db '%s'", cache, exe, db);
  cr_assert_eq(r.code, 1, "exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.err, "disk I/O error"), "%s", r.err);
  th_result_free(&r);
  th_run(&r, "db check --db '%s'", db);
  cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
  th_result_free(&r);
  free(db), free(cache);
}
