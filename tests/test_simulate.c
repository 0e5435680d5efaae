/*
 * test_simulate.c - recorded spaces and their replay (tuner/search/simulate.h,
 * kt_cache.c, `autotune simulate`, `autotune db import` of a Kernel Tuner cache). The
 * cache files are written here in Kernel Tuner's documented format (its util.py
 * process_cache docstring and the files it writes: a header object, "cache" entries
 * keyed by the joined values, failures as strings): closed and pretty, unclosed as an
 * interrupted run leaves them, and gzip-compressed.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/status.h"
#include "db/db.h"
#include "tests/helpers.h"
#include "tuner/search/simulate.h"

#define NCFG 40
static const char *const fail_at[NCFG] = {[5] = "InvalidConfig",
                                          [7] = "CompilationFailedConfig",
                                          [9] = "RuntimeFailedConfig"};

/* A cache of 40 configs: block_size_x 32..640 (ordinal), algo "a"/"b" (categorical),
 * use_smem true (a boolean); entry i takes 40 - i ms, so the optimum (1 ms) is the last
 * entry; entries 5, 7 and 9 failed. closed: the last "}\n}" written (a finished run). */
static char *cache_text(bool closed)
{
  size_t cap = 64 * 1024, n = 0;
  char *t = malloc(cap);
  n += (size_t)snprintf(t + n, cap - n,
                        "{\n\"device_name\": \"NVIDIA RTX A4000\",\n\"kernel_name\": \"conv2d\",\n"
                        "\"problem_size\": [\n4096,\n4096\n],\n\"tune_params_keys\": [\n"
                        "\"block_size_x\",\n\"algo\",\n\"use_smem\"\n],\n\"tune_params\": {\n"
                        "\"block_size_x\": [");
  for (int i = 0; i < 20; i++)
    n += (size_t)snprintf(t + n, cap - n, "%s%d", i ? ", " : "", 32 * (i + 1));
  n += (size_t)snprintf(t + n, cap - n,
                        "],\n\"algo\": [\"a\", \"b\"],\n\"use_smem\": [true]\n},\n"
                        "\"objective\": \"time\",\n\"cache\": {");
  for (int i = 0; i < NCFG; i++) {
    int bx = 32 * (i / 2 + 1);
    const char *algo = i % 2 ? "b" : "a";
    char time[64];
    if (fail_at[i])
      snprintf(time, sizeof time, "\"%s\"", fail_at[i]);
    else
      snprintf(time, sizeof time, "%d.0", 40 - i);
    n += (size_t)snprintf(t + n, cap - n,
                          "\n\"%d,%s,True\": {\"block_size_x\": %d, \"algo\": \"%s\", "
                          "\"use_smem\": true, \"time\": %s, \"times\": [1.0, 2.0], "
                          "\"compile_time\": 400.5, \"timestamp\": \"2022-12-23 12:11:26\"},",
                          bx, algo, bx, algo, time);
  }
  if (closed) {
    t[n - 1] = '}'; /* the last comma becomes the closing of "cache" */
    n += (size_t)snprintf(t + n, cap - n, "\n}");
  }
  return t;
}

static char *write_cache(const char *dir, const char *name, bool closed, bool gz)
{
  char *path = th_path(dir, name), *text = cache_text(closed);
  if (gz) {
    gzFile f = gzopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(gzwrite(f, text, (unsigned)strlen(text)), (int)strlen(text));
    gzclose(f);
  } else
    cr_assert_eq(th_write(path, text, strlen(text)), 0);
  free(text);
  return path;
}

static void expect_space(const struct sim_space *s)
{
  cr_assert_eq(s->n, NCFG);
  cr_assert_eq(s->ndims, 3);
  cr_assert_str_eq(s->device, "NVIDIA RTX A4000");
  cr_assert_str_eq(s->kernel, "conv2d");
  cr_assert_str_eq(s->problem, "4096,4096");
  for (size_t d = 0; d < 3; d++)
    cr_assert_eq(s->categorical[d], strcmp(s->dim_names[d], "block_size_x") != 0,
                 "%s: only the numbers are ordinal", s->dim_names[d]);
  for (int i = 0; i < NCFG; i++) {
    char want[96];
    snprintf(want, sizeof want, "algo=%s,block_size_x=%d,use_smem=true", i % 2 ? "b" : "a",
             32 * (i / 2 + 1));
    cr_assert_str_eq(s->configs[i], want);
    if (fail_at[i]) {
      cr_assert(isinf(s->cost[i]), "entry %d failed", i);
      cr_assert_neq(s->fail[i], SIM_FAIL_NONE);
    } else {
      cr_assert_float_eq(s->cost[i], 40.0 - i, 1e-12);
      cr_assert_eq(s->fail[i], SIM_FAIL_NONE);
    }
  }
  cr_assert_eq(s->fail[5], SIM_FAIL_INVALID);
  cr_assert_eq(s->fail[7], SIM_FAIL_COMPILE);
  cr_assert_eq(s->fail[9], SIM_FAIL_RUNTIME);
  /* block_size_x's coordinate is its rank among 32..640 */
  size_t bx = 0;
  while (strcmp(s->dim_names[bx], "block_size_x") != 0)
    bx++;
  for (int i = 0; i < NCFG; i++)
    cr_assert_eq(s->coords[(size_t)i * 3 + bx], i / 2);
}

Test(simulate, kernel_tuner_caches_read_closed_unclosed_and_gzipped)
{
  char *dir = th_tmpdir();
  const char *names[] = {"closed.json", "open.json", "closed.json.gz"};
  for (int k = 0; k < 3; k++) {
    char *path = write_cache(dir, names[k], k != 1, k == 2);
    struct sim_space *s = NULL;
    cr_assert_eq(sim_space_from_kt(path, &s), AT_OK, "%s: %s", names[k], at_last_error());
    expect_space(s);
    cr_assert(sim_is_kt_cache(path), "%s", names[k]);
    sim_space_free(s);
    free(path);
  }
  th_rmtree(dir);
  free(dir);
}

Test(simulate, fractions_and_evaluations_to_a_target_are_those_replayed)
{
  char *dir = th_tmpdir(), *path = write_cache(dir, "c.json", true, false);
  struct sim_space *s = NULL;
  cr_assert_eq(sim_space_from_kt(path, &s), AT_OK, "%s", at_last_error());
  /* exhaustive replays in file order: after 10 evaluations the best is entry 8 (32 ms;
   * 9 failed), after 25 entry 24 (16 ms); 0.95 and 0.98 of 1 ms only at entry 39 */
  struct sim_stats st;
  cr_assert_eq(sim_run(s, SEARCH_EXHAUSTIVE, 3, 0, &st), AT_OK, "%s", at_last_error());
  cr_assert_float_eq(st.mean[0], 1.0 / 32, 1e-12);
  cr_assert_float_eq(st.median[1], 1.0 / 16, 1e-12);
  cr_assert_float_eq(st.mean[2], 1.0, 1e-12, "all 40 evaluated by 50");
  cr_assert_float_eq(st.to_median[0], 40, 0);
  cr_assert_eq(st.reached[1], 3);
  /* a budget below the target's evaluations: never reached */
  cr_assert_eq(sim_run(s, SEARCH_EXHAUSTIVE, 3, 20, &st), AT_OK);
  cr_assert(isinf(st.to_median[0]));
  cr_assert_eq(st.reached[0], 0);
  cr_assert_float_eq(st.mean[5], 1.0 / 21, 1e-12, "the last figure repeats past the budget");
  /* every strategy without a model runs; model is refused */
  for (int k = 0; k < SEARCH_STRATEGY_COUNT; k++) {
    int rc = sim_run(s, (enum search_strategy)k, 4, 0, &st);
    if (k == SEARCH_MODEL)
      cr_assert_eq(rc, AT_USAGE);
    else {
      cr_assert_eq(rc, AT_OK, "%s: %s", search_strategy_name(k), at_last_error());
      cr_assert_float_eq(st.mean[5], 1.0, 1e-12, "%s saw all 40", search_strategy_name(k));
    }
  }
  sim_space_free(s);
  th_rmtree(dir);
  free(dir);
  free(path);
}

Test(simulate, the_command_replays_caches_and_a_database_and_refuses_bad_input)
{
  char *dir = th_tmpdir(), *gz = write_cache(dir, "c.json.gz", false, true),
       *db = th_path(dir, "t.db"), *bad = th_path(dir, "bad.json"),
       *miss = th_path(dir, "missing.json");
  struct th_result r;
  th_run(&r, "simulate '%s' --seeds 3 --strategy random,bo --json", gz);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"kernel\":\"conv2d\""), "%s", r.out);
  cr_assert(strstr(r.out, "\"strategy\":\"random\"") && strstr(r.out, "\"strategy\":\"bo\""));
  cr_assert(strstr(r.out, "\"configs\":40,\"failed\":3"), "%s", r.out);
  cr_assert_null(strstr(r.out, "\"strategy\":\"anneal\""), "only those asked for");
  th_result_free(&r);

  /* db import: one run, 40 trials with their statuses; again: nothing added */
  th_run(&r, "db import '%s' --db '%s'", gz, db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "runs 1 added, 0 present; trials 40 added"), "%s", r.out);
  th_result_free(&r);
  th_run(&r, "db import '%s' --db '%s'", gz, db);
  cr_assert(strstr(r.out, "runs 0 added, 1 present; trials 0 added, 40 present"), "%s", r.out);
  th_result_free(&r);
  cr_assert_eq(th_count_trials(db), 40);
  th_run(&r, "db stats --db '%s'", db);
  cr_assert(strstr(r.out, "pruned") && strstr(r.out, "compile_error") &&
            strstr(r.out, "launch_error"), "%s", r.out);
  th_result_free(&r);
  /* and the database replays as the same space, times in microseconds */
  th_run(&r, "simulate --db '%s' --seeds 2 --strategy exhaustive", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "40 configs (3 failed), 3 parameters, optimum 1000 time_us"), "%s",
            r.out);
  th_result_free(&r);

  /* bad input: one line, exit 2, no database created */
  const char *bads[] = {"{\"tune_params_keys\": [\"x\"], \"cache\": {\"1\": {\"y\": 1}}}",
                        "{\"device_name\": 3, \"cache\": {}}", "not json at all"};
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(th_write(bad, bads[i], strlen(bads[i])), 0);
    th_run(&r, "simulate '%s'", bad);
    cr_assert_eq(r.code, 2, "%s: %s", bads[i], r.out);
    cr_assert(strncmp(r.err, "autotune: ", 10) == 0 && strstr(r.err, "bad.json") &&
              strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "%s", r.err);
    th_result_free(&r);
  }
  const char *bad_kt = "{\"tune_params_keys\": [\"x\"], \"cache\": {\"1\": {\"y\": 1}}}";
  cr_assert_eq(th_write(bad, bad_kt, strlen(bad_kt)), 0);
  th_run(&r, "db import '%s' --db '%s'", bad, miss);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert(strstr(r.err, "no usable value of 'x'"), "%s", r.err);
  th_result_free(&r);
  cr_assert_null(th_read(miss, NULL), "a bad cache creates no database");
  /* a string value with a space: simulated as it is, but no name for the database */
  const char *spaced = "{\"tune_params_keys\": [\"algo\"], \"cache\": {"
                       "\"fast one\": {\"algo\": \"fast one\", \"time\": 1.5},"
                       "\"slow\": {\"algo\": \"slow\", \"time\": 3.0}}}";
  cr_assert_eq(th_write(bad, spaced, strlen(spaced)), 0);
  th_run(&r, "simulate '%s' --seeds 1 --strategy random", bad);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "2 configs (0 failed), 1 parameters, optimum 1.5"), "%s", r.out);
  th_result_free(&r);
  th_run(&r, "db import '%s' --db '%s'", bad, miss);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert(strstr(r.err, "can be simulated, not imported"), "%s", r.err);
  th_result_free(&r);
  cr_assert_null(th_read(miss, NULL), "a cache that cannot be imported creates no database");
  th_run(&r, "simulate --db '%s' --strategy model", db);
  cr_assert_eq(r.code, 2);
  cr_assert(strstr(r.err, "needs a cost model"), "%s", r.err);
  th_result_free(&r);
  th_rmtree(dir);
  free(dir);
  free(gz);
  free(db);
  free(bad);
  free(miss);
}
