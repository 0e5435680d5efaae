/*
 * test_install.c - the installed tree as a user meets it: `cmake --install` into a
 * scratch prefix, the tree moved elsewhere (it must relocate), examples/query.c built
 * against it once with pkg-config and once through the CMake package
 * (examples/cmake_query), and both programs run on a small tuning database: exact and
 * nearest matches, the arch fallback, and a missing database file (exit 2, named).
 *
 * The build folder is the folder of AT_BINARY. The examples are built with the
 * compiler and generator of that build; against a Sanitize build they are linked with
 * the sanitizers too, since the installed libautotune.a is instrumented. Every test
 * here has the same .timeout: Criterion 2.4.1 leaks a timer (LeakSanitizer fails the
 * Sanitize run) when tests with different timeouts run in parallel.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "db/db.h"
#include "tests/helpers.h"

#if defined(__SANITIZE_ADDRESS__)
#define SAN_FLAGS "-fsanitize=address,undefined"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAN_FLAGS "-fsanitize=address,undefined"
#endif
#endif
#ifndef SAN_FLAGS
#define SAN_FLAGS ""
#endif

#define CFG_4096 "BK=32,BM=128,BN=256,STAGES=3"
#define CFG_1024 "BK=32,BM=64,BN=64,STAGES=3"

/* The build folder: AT_BINARY's directory. malloc'd. */
static char *build_dir(void)
{
  char *copy = strdup(AT_BINARY);
  char *dir = strdup(dirname(copy));
  free(copy);
  return dir;
}

/* The value of `key` (e.g. "CMAKE_C_COMPILER") in the build's CMakeCache.txt, or
 * `fallback`. malloc'd. */
static char *cache_value(const char *key, const char *fallback)
{
  char *bdir = build_dir();
  char *cache = th_path(bdir, "CMakeCache.txt");
  char *text = th_read(cache, NULL);
  char *value = NULL;
  size_t klen = strlen(key);
  for (char *line = text; line && *line && !value;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    char *eq = strchr(line, '=');
    if (strncmp(line, key, klen) == 0 && line[klen] == ':' && eq && eq[1])
      value = strdup(eq + 1);
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  free(cache);
  free(bdir);
  return value ? value : strdup(fallback);
}

/* Install the build into <dir>/staged, then move it to <dir>/prefix: everything after
 * this sees only the moved tree. Installs are serialised (they share the build's
 * install_manifest.txt). Returns <dir>/prefix, malloc'd. */
static char *install_moved(const char *dir)
{
  char *bdir = build_dir();
  char *lock = th_path(bdir, "test_install.lock");
  int fd = open(lock, O_CREAT | O_RDWR, 0644);
  cr_assert_geq(fd, 0, "cannot open lock file %s", lock);
  cr_assert_eq(flock(fd, LOCK_EX), 0);
  char *staged = th_path(dir, "staged"), *prefix = th_path(dir, "prefix");
  struct th_result r;
  th_sh(&r, "cmake --install '%s' --prefix '%s'", bdir, staged);
  flock(fd, LOCK_UN);
  close(fd);
  cr_assert_eq(r.code, 0, "cmake --install failed (%d):\n%s\n%s", r.code, r.out, r.err);
  th_result_free(&r);
  cr_assert_eq(rename(staged, prefix), 0, "cannot move %s to %s", staged, prefix);
  free(staged);
  free(lock);
  free(bdir);
  return prefix;
}

/* <prefix>/lib/<rest> or <prefix>/lib64/<rest>, whichever exists; malloc'd. */
static char *libdir_path(const char *prefix, const char *rest)
{
  static const char *const libs[] = {"lib", "lib64"};
  char buf[4096];
  for (size_t i = 0; i < 2; i++) {
    snprintf(buf, sizeof buf, "%s/%s/%s", prefix, libs[i], rest);
    if (access(buf, F_OK) == 0)
      return strdup(buf);
  }
  cr_assert_fail("neither %s/lib/%s nor %s/lib64/%s was installed", prefix, rest, prefix,
                 rest);
  return NULL;
}

static void put_gemm(struct db *db, const char *run, int64_t m, int64_t n, int64_t k,
                     const char *config, enum db_trial_status status, double time_us)
{
  struct db_trial t;
  db_trial_init(&t);
  db_uuid(t.uuid);
  memcpy(t.run_uuid, run, DB_UUID_LEN + 1);
  t.device = "h100", t.arch = "sm_90", t.vendor = "nvidia";
  t.kernel = "gemm_mma", t.kernel_hash = "0123456789abcdef";
  t.problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3};
  t.problem.dim_names[0] = "m", t.problem.dim_names[1] = "n", t.problem.dim_names[2] = "k";
  t.problem.dims[0] = m, t.problem.dims[1] = n, t.problem.dims[2] = k;
  t.config = config;
  t.status = status;
  if (status == DB_TRIAL_OK)
    t.time_median_us = t.time_min_us = t.time_max_us = time_us;
  else
    t.message = "illegal memory access";
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_OK, "%s", at_last_error());
}

/* h100 winners: 4096^3 -> CFG_4096 (beating a slower config and a faulting one),
 * 1024^3 -> CFG_1024. Returns the path, malloc'd. */
static char *make_db(const char *dir)
{
  char *path = th_path(dir, "tuning.db");
  struct db *db = NULL;
  cr_assert_eq(db_open(path, DB_CREATE, &db), AT_OK, "%s", at_last_error());
  struct db_run run = {.host = "test", .started_at = "2026-01-01T00:00:00Z",
                       .autotune_version = "0.1.0", .strategy = "exhaustive"};
  db_uuid(run.uuid);
  cr_assert_eq(db_put_run(db, &run, NULL), AT_OK, "%s", at_last_error());
  put_gemm(db, run.uuid, 4096, 4096, 4096, "BK=64,BM=128,BN=128,STAGES=4",
           DB_TRIAL_OK, 210.0);
  put_gemm(db, run.uuid, 4096, 4096, 4096, CFG_4096, DB_TRIAL_OK, 180.0);
  put_gemm(db, run.uuid, 4096, 4096, 4096, "BK=16,BM=256,BN=256,STAGES=2",
           DB_TRIAL_FAULT, 0);
  put_gemm(db, run.uuid, 1024, 1024, 1024, CFG_1024, DB_TRIAL_OK, 12.0);
  db_close(db);
  return path;
}

static void expect_line(const char *out, const char *line, const char *what)
{
  cr_expect_not_null(strstr(out, line), "%s: no line '%s' in:\n%s", what, line, out);
}

/* Run a built query program through every case a user would notice. */
static void check_query(const char *exe, const char *dir)
{
  char *db = make_db(dir);
  struct th_result r;

  th_sh(&r, "'%s' '%s' h100 4096 4096 4096", exe, db);
  cr_expect_eq(r.code, 0, "exact: exit %d\n%s%s", r.code, r.out, r.err);
  expect_line(r.out, "match:   exact\n", "exact");
  expect_line(r.out, "device:  h100\n", "exact");
  expect_line(r.out, "kernel:  gemm_mma\n", "exact");
  expect_line(r.out, "config:  " CFG_4096 "\n", "exact");
  expect_line(r.out, "BM:      128\n", "exact");
  th_result_free(&r);

  th_sh(&r, "'%s' '%s'", exe, db); /* defaults: h100, 4000x4096x4096 */
  cr_expect_eq(r.code, 0, "nearest: exit %d\n%s%s", r.code, r.out, r.err);
  expect_line(r.out, "match:   nearest\n", "nearest");
  expect_line(r.out, "asked:   m=4000 n=4096 k=4096\n", "nearest");
  expect_line(r.out, "tuned:   m=4096 n=4096 k=4096\n", "nearest");
  expect_line(r.out, "config:  " CFG_4096 "\n", "nearest");
  th_result_free(&r);

  th_sh(&r, "'%s' '%s' h100 1000 1100 900", exe, db);
  cr_expect_eq(r.code, 0, "nearest small: exit %d\n%s%s", r.code, r.out, r.err);
  expect_line(r.out, "match:   nearest\n", "nearest small");
  expect_line(r.out, "config:  " CFG_1024 "\n", "nearest small");
  expect_line(r.out, "BM:      64\n", "nearest small");
  th_result_free(&r);

  th_sh(&r, "'%s' '%s' h200 4096 4096 4096", exe, db);
  cr_expect_eq(r.code, 0, "arch: exit %d\n%s%s", r.code, r.out, r.err);
  expect_line(r.out, "match:   arch\n", "arch fallback");
  expect_line(r.out, "device:  h100\n", "arch fallback");
  th_result_free(&r);

  th_sh(&r, "'%s' '%s' mi300x", exe, db);
  cr_expect_eq(r.code, 1, "nothing tuned for amd: exit %d\n%s%s", r.code, r.out, r.err);
  cr_expect_not_null(strstr(r.err, "query: "), "%s", r.err);
  th_result_free(&r);

  char *missing = th_path(dir, "no-such-tuning.db");
  th_sh(&r, "'%s' '%s'", exe, missing);
  cr_expect_eq(r.code, 2, "missing db: exit %d\n%s%s", r.code, r.out, r.err);
  cr_expect_not_null(strstr(r.err, missing), "the message does not name the file:\n%s",
                     r.err);
  cr_expect_eq(access(missing, F_OK), -1, "a read-only lookup created %s", missing);
  th_result_free(&r);

  th_sh(&r, "'%s' '%s' h100 0 4096 4096", exe, db);
  cr_expect_eq(r.code, 2, "bad shape: exit %d\n%s%s", r.code, r.out, r.err);
  th_result_free(&r);
  free(missing);
  free(db);
}

Test(install, lays_out_a_relocatable_tree, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *prefix = install_moved(dir);
  char *bin = th_path(prefix, "bin/autotune");
  char *hdr = th_path(prefix, "include/autotune/autotune.h");
  char *lib = libdir_path(prefix, "libautotune.a");
  char *pc = libdir_path(prefix, "pkgconfig/autotune.pc");
  char *cfg = libdir_path(prefix, "cmake/autotune/autotuneConfig.cmake");
  char *ver = libdir_path(prefix, "cmake/autotune/autotuneConfigVersion.cmake");
  char *targets = libdir_path(prefix, "cmake/autotune/autotuneTargets.cmake");
  cr_expect_eq(access(hdr, R_OK), 0, "%s missing", hdr);
  cr_expect_eq(access(lib, R_OK), 0, "%s missing", lib);
  cr_expect_eq(access(cfg, R_OK), 0, "%s missing", cfg);
  cr_expect_eq(access(ver, R_OK), 0, "%s missing", ver);

  struct th_result r;
  th_sh(&r, "'%s' --version", bin);
  cr_expect_eq(r.code, 0, "installed binary: %s", r.err);
  cr_expect_not_null(strstr(r.out, "autotune 0."), "%s", r.out);
  th_result_free(&r);

  /* Nothing in the package points back at the staging prefix or the build machine's
   * SQLite file. */
  char *staged = th_path(dir, "staged");
  char *text = th_read(targets, NULL);
  cr_assert_not_null(text);
  cr_expect_null(strstr(text, "libsqlite3"), "absolute SQLite path in %s", targets);
  cr_expect_null(strstr(text, staged), "staging prefix in %s", targets);
  cr_expect_not_null(strstr(text, "autotune::autotune"), "no autotune::autotune target");
  free(text);
  text = th_read(pc, NULL);
  cr_assert_not_null(text);
  cr_expect_null(strstr(text, staged), "staging prefix in %s:\n%s", pc, text);
  cr_expect_not_null(strstr(text, "Requires.private: sqlite3"), "%s", text);
  free(text);

  char *pcdir = strdup(pc);
  *strrchr(pcdir, '/') = '\0';
  th_sh(&r, "PKG_CONFIG_PATH='%s' pkg-config --libs --static autotune", pcdir);
  cr_expect_eq(r.code, 0, "pkg-config: %s", r.err);
  cr_expect_not_null(strstr(r.out, "-lautotune"), "%s", r.out);
  cr_expect_not_null(strstr(r.out, "-lsqlite3"), "%s", r.out);
  cr_expect_not_null(strstr(r.out, "-ldl"), "%s", r.out);
  cr_expect_not_null(strstr(r.out, prefix), "-L does not point into %s: %s", prefix, r.out);
  th_result_free(&r);

  free(pcdir);
  free(staged);
  free(targets);
  free(ver);
  free(cfg);
  free(pc);
  free(lib);
  free(hdr);
  free(bin);
  free(prefix);
  th_rmtree(dir);
  free(dir);
}

Test(install, pkg_config_builds_query_example, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *prefix = install_moved(dir);
  char *pc = libdir_path(prefix, "pkgconfig/autotune.pc");
  *strrchr(pc, '/') = '\0';
  char *cc = cache_value("CMAKE_C_COMPILER", "cc");
  char *exe = th_path(dir, "query");
  struct th_result r;
  th_sh(&r,
        "'%s' -std=c11 -Wall -Wextra -Werror %s '%s/examples/query.c' -o '%s' "
        "$(PKG_CONFIG_PATH='%s' pkg-config --cflags --libs --static autotune)",
        cc, SAN_FLAGS, AT_SOURCE_DIR, exe, pc);
  cr_assert_eq(r.code, 0, "building query.c with pkg-config failed:\n%s\n%s", r.out, r.err);
  th_result_free(&r);
  check_query(exe, dir);
  free(exe);
  free(cc);
  free(pc);
  free(prefix);
  th_rmtree(dir);
  free(dir);
}

Test(install, cmake_package_builds_query_example, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *prefix = install_moved(dir);
  char *cc = cache_value("CMAKE_C_COMPILER", "cc");
  char *gen = cache_value("CMAKE_GENERATOR", "Unix Makefiles");
  char *make = cache_value("CMAKE_MAKE_PROGRAM", "");
  char *bdir = th_path(dir, "build-query");
  struct th_result r;
  th_sh(&r,
        "cmake -S '%s/examples/cmake_query' -B '%s' -G '%s' %s%s%s "
        "-DCMAKE_C_COMPILER='%s' -DCMAKE_C_FLAGS='%s' -DCMAKE_PREFIX_PATH='%s' "
        "&& cmake --build '%s'",
        AT_SOURCE_DIR, bdir, gen, make[0] ? "-DCMAKE_MAKE_PROGRAM='" : "", make,
        make[0] ? "'" : "", cc, SAN_FLAGS, prefix, bdir);
  cr_assert_eq(r.code, 0, "building examples/cmake_query failed:\n%s\n%s", r.out, r.err);
  th_result_free(&r);
  char *exe = th_path(bdir, "query");
  check_query(exe, dir);
  free(exe);
  free(bdir);
  free(make);
  free(gen);
  free(cc);
  free(prefix);
  th_rmtree(dir);
  free(dir);
}
