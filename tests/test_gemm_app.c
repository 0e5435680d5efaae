/*
 * test_gemm_app.c - tuned headers at build time, as a user meets them: the build
 * installed into a scratch prefix (and moved), a host tuning database written by the
 * installed `autotune gemm` for two shapes, examples/gemm_app configured and built
 * against the installed tree (its build runs `autotune emit-header` through
 * autotune_tuned_header()), and the program run: every shape correct, each tuned shape
 * on the kernel and config that `autotune query` names for it, an untuned shape on the
 * nearest tuned one. Tuning a third shape into the database and building again must
 * emit the header again. And autotune_tuned_header() stops the configure with a clear
 * message when a required argument is missing. examples/own_kernel: a user template tuned
 * with `autotune tune` and read through a params header. Every test has the same .timeout (see
 * test_install.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/helpers.h"
#include "tests/installed.h"

#define TIMEOUT 600

/* What `autotune query --json` answers for a shape. */
struct answer {
  char *kernel, *config;
  long long m, n, k; /* the tuned shape */
  int exact;
};

/* The string value of "key" in a one-line JSON object; malloc'd, NULL if absent. */
static char *json_str(const char *json, const char *key)
{
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = strstr(json, pat);
  if (!p)
    return NULL;
  p += strlen(pat);
  const char *end = strchr(p, '"');
  return end ? strndup(p, (size_t)(end - p)) : NULL;
}

static void query(struct answer *a, const char *bin, const char *db, int m, int n, int k)
{
  struct th_result r;
  th_sh(&r, "'%s' query gemm --device host --dtype f32 --layout NN --m %d --n %d --k %d "
            "--db '%s' --json", bin, m, n, k, db);
  cr_assert_eq(r.code, 0, "query %dx%dx%d: exit %d\n%s%s", m, n, k, r.code, r.out, r.err);
  a->kernel = json_str(r.out, "kernel");
  a->config = json_str(r.out, "config");
  char *match = json_str(r.out, "match");
  const char *dims = strstr(r.out, "\"dims\":");
  cr_assert(a->kernel && a->config && match && dims, "query: %s", r.out);
  cr_assert_eq(sscanf(dims, "\"dims\":{\"m\":%lld,\"n\":%lld,\"k\":%lld}", &a->m, &a->n,
                      &a->k), 3, "query: %s", r.out);
  a->exact = strcmp(match, "exact") == 0;
  free(match);
  th_result_free(&r);
}

static void answer_free(struct answer *a)
{
  free(a->kernel);
  free(a->config);
}

/* Tune one f32 NN shape on the host into db with the installed binary. */
static void tune(const char *bin, const char *db, const char *cache, int m, int n, int k)
{
  struct th_result r;
  th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' '%s' gemm --device host --dtype f32 --layout NN "
            "--m %d --n %d --k %d --budget 4 --jobs 2 --db '%s'", cache, bin, m, n, k, db);
  cr_assert_eq(r.code, 0, "tuning %dx%dx%d: exit %d\n%s%s", m, n, k, r.code, r.out, r.err);
  th_result_free(&r);
}

/* gemm_app's line for a shape says the kernel and config `autotune query` gives. */
static void expect_choice(const char *out, const char *bin, const char *db, int m, int n,
                          int k)
{
  char head[64], want[1024];
  snprintf(head, sizeof head, "gemm f32 NN %dx%dx%d ", m, n, k);
  const char *line = strstr(out, head);
  cr_assert_not_null(line, "no line for %dx%dx%d in:\n%s", m, n, k, out);
  const char *eol = strchr(line, '\n');
  char *text = strndup(line, eol ? (size_t)(eol - line) : strlen(line));
  struct answer a;
  query(&a, bin, db, m, n, k);
  snprintf(want, sizeof want, ": %s %s (tuned %lldx%lldx%lld, %s): max error 0", a.kernel,
           a.config, a.m, a.n, a.k, a.exact ? "exact" : "nearest");
  cr_expect_not_null(strstr(text, want), "%dx%dx%d: the line\n  %s\ndoes not end in\n  %s",
                     m, n, k, text, want);
  answer_free(&a);
  free(text);
}

Test(gemm_app, runs_the_header_emitted_at_build_time, .timeout = TIMEOUT)
{
  char *dir = th_tmpdir();
  char *prefix = inst_install_moved(dir);
  char *bin = th_path(prefix, "bin/autotune");
  char *db = th_path(dir, "tuning.db");
  char *cache = th_path(dir, "cache");
  char *bdir = th_path(dir, "build-app");
  char *args = inst_cmake_args();
  struct th_result r;

  tune(bin, db, cache, 64, 64, 64);
  tune(bin, db, cache, 128, 128, 64);

  th_sh(&r,
        "cmake -S '%s/examples/gemm_app' -B '%s' %s -DCMAKE_PREFIX_PATH='%s' "
        "-DAUTOTUNE_DB='%s' && cmake --build '%s'",
        AT_SOURCE_DIR, bdir, args, prefix, db, bdir);
  cr_assert_eq(r.code, 0, "building examples/gemm_app failed:\n%s\n%s", r.out, r.err);
  th_result_free(&r);

  th_sh(&r, "'%s/gemm_app'", bdir);
  cr_log_info("gemm_app:\n%s", r.out);
  cr_assert_eq(r.code, 0, "gemm_app: exit %d\n%s%s", r.code, r.out, r.err);
  expect_choice(r.out, bin, db, 64, 64, 64);
  expect_choice(r.out, bin, db, 128, 128, 64);
  expect_choice(r.out, bin, db, 100, 37, 53);
  /* 1x1x1 is past AT_NEAREST_MAX_DISTANCE of every tuned shape: the header still runs
   * its nearest (a program must run some kernel), `autotune query` refuses it. */
  cr_expect_not_null(strstr(r.out, "gemm f32 NN 1x1x1 "), "%s", r.out);
  struct th_result q;
  th_sh(&q, "'%s' query gemm --device host --dtype f32 --layout NN --m 1 --n 1 --k 1 "
            "--db '%s'", bin, db);
  cr_expect_eq(q.code, 1, "query 1x1x1: exit %d: %s", q.code, q.err);
  cr_expect_not_null(strstr(q.err, "past the limit"), "%s", q.err);
  th_result_free(&q);
  cr_expect_not_null(strstr(r.out, "(tuned 64x64x64, exact)"), "%s", r.out);
  cr_expect_not_null(strstr(r.out, "100x37x53 (ld +3): "), "%s", r.out);
  th_result_free(&r);

  /* A new winner in the database: the next build emits the header again. */
  tune(bin, db, cache, 100, 37, 53);
  th_sh(&r, "cmake --build '%s' && '%s/gemm_app'", bdir, bdir);
  cr_assert_eq(r.code, 0, "rebuilt gemm_app: exit %d\n%s%s", r.code, r.out, r.err);
  cr_expect_not_null(strstr(r.out, "(tuned 100x37x53, exact)"),
                     "the header was not emitted again after the database changed:\n%s",
                     r.out);
  expect_choice(r.out, bin, db, 100, 37, 53);
  expect_choice(r.out, bin, db, 64, 64, 64);
  th_result_free(&r);

  free(args);
  free(bdir);
  free(cache);
  free(db);
  free(bin);
  free(prefix);
  th_rmtree(dir);
  free(dir);
}

/* A project calling autotune_tuned_header() with every required argument but one. */
static const char project[] =
    "cmake_minimum_required(VERSION 3.20)\n"
    "project(p LANGUAGES C)\n"
    "find_package(autotune REQUIRED)\n"
    "set(args OUTPUT ${CMAKE_BINARY_DIR}/tuned.h DB ${DB} DEVICE host OP gemm)\n"
    "list(FIND args ${MISSING} at)\n"
    "if(at GREATER -1)\n"
    "  math(EXPR value \"${at} + 1\")\n"
    "  list(REMOVE_AT args ${at} ${value})\n"
    "endif()\n"
    "autotune_tuned_header(${args})\n";

/* s with every run of white space made one space (CMake wraps its messages). */
static void squeeze(char *s)
{
  char *w = s;
  for (const char *p = s; *p; p++)
    if (!strchr(" \t\n", *p) || (w > s && w[-1] != ' '))
      *w++ = strchr(" \t\n", *p) ? ' ' : *p;
  *w = '\0';
}

Test(gemm_app, tuned_header_needs_its_arguments, .timeout = TIMEOUT)
{
  char *dir = th_tmpdir();
  char *prefix = inst_install_moved(dir);
  char *args = inst_cmake_args();
  char *src = th_path(dir, "proj");
  char *lists = th_path(src, "CMakeLists.txt");
  char *db = th_path(dir, "tuning.db");
  char *nodb = th_path(dir, "no-such.db");
  cr_assert_eq(th_write(db, "", 0), 0);
  struct th_result r;
  th_sh(&r, "mkdir -p '%s'", src);
  th_result_free(&r);
  cr_assert_eq(th_write(lists, project, strlen(project)), 0);

  static const char *const required[] = {"OUTPUT", "DB", "DEVICE", "OP"};
  for (size_t i = 0; i < 4; i++) {
    char want[128];
    snprintf(want, sizeof want, "autotune_tuned_header: %s is missing", required[i]);
    th_sh(&r, "cmake -S '%s' -B '%s/b%zu' %s -DCMAKE_PREFIX_PATH='%s' -DDB='%s' "
              "-DMISSING=%s", src, dir, i, args, prefix, db, required[i]);
    cr_expect_neq(r.code, 0, "without %s: configured", required[i]);
    squeeze(r.err);
    cr_expect_not_null(strstr(r.err, want), "without %s: %s", required[i], r.err);
    th_result_free(&r);
  }

  th_sh(&r, "cmake -S '%s' -B '%s/bnodb' %s -DCMAKE_PREFIX_PATH='%s' -DDB='%s' "
            "-DMISSING=none", src, dir, args, prefix, nodb);
  cr_expect_neq(r.code, 0, "a missing database file configured");
  squeeze(r.err);
  cr_expect_not_null(strstr(r.err, nodb), "the message does not name the file: %s", r.err);
  cr_expect_not_null(strstr(r.err, "does not exist"), "%s", r.err);
  th_result_free(&r);

  th_sh(&r, "cmake -S '%s' -B '%s/bok' %s -DCMAKE_PREFIX_PATH='%s' -DDB='%s' "
            "-DMISSING=none", src, dir, args, prefix, db);
  cr_expect_eq(r.code, 0, "every argument given: %s", r.err);
  th_result_free(&r);

  free(nodb);
  free(db);
  free(args);
  free(lists);
  free(src);
  free(prefix);
  th_rmtree(dir);
  free(dir);
}

/* examples/own_kernel: a user's own template (not a GEMM) tuned with the installed
 * `autotune tune`, its winners consumed as plain C parameters through a params header
 * the project's build emits; the choice for a tuned shape is the fastest checked
 * variant, for another shape the nearest tuned one. */
Test(gemm_app, own_kernel_params_header, .timeout = TIMEOUT)
{
  char *dir = th_tmpdir();
  char *prefix = inst_install_moved(dir);
  char *bin = th_path(prefix, "bin/autotune");
  char *db = th_path(dir, "tuning.db");
  char *cache = th_path(dir, "cache");
  char *bdir = th_path(dir, "build-own");
  char *args = inst_cmake_args();
  struct th_result r;
  th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' '%s' tune '%s/examples/own_kernel/transpose.h' "
            "--device host --dim R=300 --dim C=500 --arg out=R*C --arg in=R*C --budget 8 "
            "--jobs 2 --db '%s' --json", cache, bin, AT_SOURCE_DIR, db);
  cr_assert_eq(r.code, 0, "tuning transpose: exit %d\n%s%s", r.code, r.out, r.err);
  cr_assert_not_null(strstr(r.out, "\"verify_failed\":0"), "%s", r.out);
  char *best = NULL;
  const char *b = strstr(r.out, "\"best\":{");
  cr_assert_not_null(b, "%s", r.out);
  best = json_str(b, "config");
  th_result_free(&r);

  th_sh(&r, "cmake -S '%s/examples/own_kernel' -B '%s' %s -DCMAKE_PREFIX_PATH='%s' "
            "-DAUTOTUNE_DB='%s' && cmake --build '%s' && '%s/own_kernel'",
        AT_SOURCE_DIR, bdir, args, prefix, db, bdir, bdir);
  cr_log_info("own_kernel:\n%s", r.out);
  cr_assert_eq(r.code, 0, "own_kernel: exit %d\n%s\n%s", r.code, r.out, r.err);
  char want[512];
  snprintf(want, sizeof want, "300 x 500: transpose %s (tuned at 300 x 500)", best);
  cr_expect_not_null(strstr(r.out, want), "wanted '%s' in:\n%s", want, r.out);
  snprintf(want, sizeof want, "1024 x 1024: transpose %s (nearest tuned 300 x 500)", best);
  cr_expect_not_null(strstr(r.out, want), "wanted '%s' in:\n%s", want, r.out);
  cr_expect_not_null(strstr(r.out, "single-shape build: TILE="), "%s", r.out);
  cr_expect_not_null(strstr(r.out, "\nok\n"), "%s", r.out);
  th_result_free(&r);
  free(best), free(args), free(bdir), free(cache), free(db), free(bin), free(prefix);
  th_rmtree(dir);
  free(dir);
}
