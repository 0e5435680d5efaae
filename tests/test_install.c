/*
 * test_install.c - the installed tree as a user meets it: `cmake --install` into a
 * scratch prefix, the tree moved elsewhere (it must relocate), examples/query.c built
 * against it with pkg-config (the shared library, then the static one) and through the
 * CMake package (examples/cmake_query, the shared library), and each program run on a
 * small tuning database: exact and nearest matches, the arch fallback, and a missing
 * database file (exit 2, named). libautotune.so exports the C API and nothing else.
 *
 * The build folder is the folder of AT_BINARY. The examples are built with the
 * compiler and generator of that build (installed.c); against a Sanitize build they are
 * linked with the sanitizers too, since the installed libraries are instrumented.
 * Every test here has the same .timeout: Criterion 2.4.1 leaks a timer (LeakSanitizer
 * fails the Sanitize run) when tests with different timeouts run in parallel.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "tests/helpers.h"
#include "tests/installed.h"

#define CFG_4096 "BK=32,BM=128,BN=256,STAGES=3"
#define CFG_1024 "BK=32,BM=64,BN=64,STAGES=3"

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
  struct db_run run;
  db_run_init(&run);
  run.host = "test", run.started_at = "2026-01-01T00:00:00Z";
  run.autotune_version = "0.1.0", run.strategy = "exhaustive";
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
  char *prefix = inst_install_moved(dir);
  char *bin = th_path(prefix, "bin/autotune");
  char *hdr = th_path(prefix, "include/autotune/autotune.h");
  char *host_hdr = th_path(prefix, "include/autotune/host.h");
  char *rt_hdr = th_path(prefix, "share/autotune/templates/common/at_host_rt.h");
  char *module = inst_libdir_path(prefix, "cmake/autotune/autotune_tuned_header.cmake");
  char *lib = inst_libdir_path(prefix, "libautotune.a");
  char *so = inst_libdir_path(prefix, "libautotune.so");
  char *pc = inst_libdir_path(prefix, "pkgconfig/autotune.pc");
  char *spc = inst_libdir_path(prefix, "pkgconfig/autotune-static.pc");
  char *cfg = inst_libdir_path(prefix, "cmake/autotune/autotuneConfig.cmake");
  char *ver = inst_libdir_path(prefix, "cmake/autotune/autotuneConfigVersion.cmake");
  char *targets = inst_libdir_path(prefix, "cmake/autotune/autotuneTargets.cmake");
  cr_expect_eq(access(hdr, R_OK), 0, "%s missing", hdr);
  cr_expect_eq(access(host_hdr, R_OK), 0, "%s missing", host_hdr);
  cr_expect_eq(access(rt_hdr, R_OK), 0, "%s missing", rt_hdr);
  cr_expect_eq(access(lib, R_OK), 0, "%s missing", lib);
  cr_expect_eq(access(so, R_OK), 0, "%s missing", so);
  cr_expect_eq(access(spc, R_OK), 0, "%s missing", spc);
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
  cr_expect_not_null(strstr(text, "autotune::autotune "), "no autotune::autotune target");
  cr_expect_not_null(strstr(text, "autotune::autotune_static "),
                     "no autotune::autotune_static target");
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
  th_sh(&r, "PKG_CONFIG_PATH='%s' pkg-config --libs --static autotune-static", pcdir);
  cr_expect_eq(r.code, 0, "pkg-config: %s", r.err);
  cr_expect_not_null(strstr(r.out, "libautotune.a"), "%s", r.out);
  cr_expect_not_null(strstr(r.out, "-lsqlite3"), "%s", r.out);
  th_result_free(&r);

  /* The shared library exports the public API (every at_ function of the headers) and
   * nothing of the internals (db_, os_, dev_, at_error ...). */
  th_sh(&r, "nm -D --defined-only '%s' | awk '$2 ~ /^[TDBRVW]$/ {print $3}'", so);
  cr_assert_eq(r.code, 0, "nm: %s", r.err);
  static const char *const api[] = {"at_db_open", "at_db_refresh", "at_db_close",
                                    "at_best_config", "at_config_text", "at_last_error",
                                    "at_version", "at_host_launch", "at_host_launch_cluster",
                                    "at_host_runtime"};
  size_t plen = strlen(r.out) + 2;
  char *padded = malloc(plen); /* "\n" + the list: every name between two newlines */
  cr_assert_not_null(padded);
  snprintf(padded, plen, "\n%s", r.out);
  for (size_t i = 0; i < sizeof api / sizeof *api; i++) {
    char line[64];
    snprintf(line, sizeof line, "\n%s\n", api[i]);
    cr_expect_not_null(strstr(padded, line), "%s is not exported:\n%s", api[i], r.out);
  }
  free(padded);
  for (char *sym = r.out; *sym;) {
    char *nl = strchr(sym, '\n');
    size_t len = nl ? (size_t)(nl - sym) : strlen(sym);
    bool ok = (len > 3 && strncmp(sym, "at_", 3) == 0 && strncmp(sym, "at_error", 8) != 0) ||
              (len == 5 && strncmp(sym, "_init", 5) == 0) ||
              (len == 5 && strncmp(sym, "_fini", 5) == 0);
    cr_expect(ok, "libautotune.so exports '%.*s', not of the public API", (int)len, sym);
    sym += len + (nl != NULL);
  }
  th_result_free(&r);

  free(pcdir);
  free(spc);
  free(so);
  free(staged);
  free(targets);
  free(ver);
  free(cfg);
  free(pc);
  free(lib);
  free(module);
  free(rt_hdr);
  free(host_hdr);
  free(hdr);
  free(bin);
  free(prefix);
  th_rmtree(dir);
  free(dir);
}

/* Whether the program exe loads libautotune.so (a NEEDED entry of its dynamic section). */
static bool needs_shared(const char *exe)
{
  struct th_result r;
  th_sh(&r, "readelf -d '%s'", exe);
  cr_assert_eq(r.code, 0, "readelf: %s", r.err);
  bool needs = strstr(r.out, "[libautotune.so") != NULL;
  th_result_free(&r);
  return needs;
}

/* examples/query.c built with pkg-config: autotune.pc links libautotune.so (found at
 * run time through the rpath a user of an unregistered prefix gives), autotune-static.pc
 * libautotune.a. */
static void pkg_config_query(bool shared)
{
  char *dir = th_tmpdir();
  char *prefix = inst_install_moved(dir);
  char *pc = inst_libdir_path(prefix, "pkgconfig/autotune.pc");
  *strrchr(pc, '/') = '\0';
  char *cc = inst_cache_value("CMAKE_C_COMPILER", "cc");
  char *exe = th_path(dir, "query");
  struct th_result r;
  if (shared)
    th_sh(&r,
          "P='%s'; '%s' -std=c11 -Wall -Wextra -Werror %s '%s/examples/query.c' -o '%s' "
          "$(PKG_CONFIG_PATH=\"$P\" pkg-config --cflags --libs autotune) "
          "-Wl,-rpath,\"$(PKG_CONFIG_PATH=\"$P\" pkg-config --variable=libdir autotune)\"",
          pc, cc, inst_san_flags(), AT_SOURCE_DIR, exe);
  else
    th_sh(&r,
          "'%s' -std=c11 -Wall -Wextra -Werror %s '%s/examples/query.c' -o '%s' "
          "$(PKG_CONFIG_PATH='%s' pkg-config --cflags --libs --static autotune-static)",
          cc, inst_san_flags(), AT_SOURCE_DIR, exe, pc);
  cr_assert_eq(r.code, 0, "building query.c with pkg-config failed:\n%s\n%s", r.out, r.err);
  th_result_free(&r);
  cr_expect_eq(needs_shared(exe), shared, "%s %s libautotune.so", exe,
               shared ? "does not load" : "loads");
  check_query(exe, dir);
  free(exe);
  free(cc);
  free(pc);
  free(prefix);
  th_rmtree(dir);
  free(dir);
}

Test(install, pkg_config_builds_query_example_shared, .timeout = 300)
{
  pkg_config_query(true);
}

Test(install, pkg_config_builds_query_example_static, .timeout = 300)
{
  pkg_config_query(false);
}

Test(install, cmake_package_builds_query_example, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *prefix = inst_install_moved(dir);
  char *args = inst_cmake_args();
  char *bdir = th_path(dir, "build-query");
  struct th_result r;
  th_sh(&r,
        "cmake -S '%s/examples/cmake_query' -B '%s' %s -DCMAKE_PREFIX_PATH='%s' "
        "&& cmake --build '%s'",
        AT_SOURCE_DIR, bdir, args, prefix, bdir);
  cr_assert_eq(r.code, 0, "building examples/cmake_query failed:\n%s\n%s", r.out, r.err);
  th_result_free(&r);
  char *exe = th_path(bdir, "query");
  cr_expect(needs_shared(exe), "autotune::autotune is not the shared library");
  check_query(exe, dir);
  free(exe);
  free(bdir);
  free(args);
  free(prefix);
  th_rmtree(dir);
  free(dir);
}
