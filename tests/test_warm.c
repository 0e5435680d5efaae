/*
 * test_warm.c - the bo strategy's warm start (docs/search.md, "Warm start"): in
 * simulation, a space warm-started from a related one (the same cost landscape, its
 * optimum moved by one step, another problem constant) reaches the optimum in fewer
 * evaluations than cold, for fixed seeds, and without a prior nothing changes; end to
 * end, `autotune gemm --device host --strategy bo` at a shape next to one tuned before
 * says it started warm and measures first the configs that were fastest there.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "db/db.h"
#include "tests/helpers.h"
#include "tuner/search/simulate.h"

#define SIDE 12 /* X, Y, Z in 0..SIDE-1: SIDE^3 configs */
#define NSEEDS 8
#define BUDGET 60

/* A synthetic recorded space: cost = scale * (1 + a bowl around (ox, oy, oz) + a ripple);
 * L, the problem's own parameter, is the same in every config. */
static struct sim_space *space(int ox, int oy, int oz, double scale, int layout)
{
  struct sim_space *s = calloc(1, sizeof *s);
  s->n = SIDE * SIDE * SIDE;
  s->kernel = strdup("synthetic");
  s->source = strdup(scale == 1 ? "A" : "B");
  s->configs = calloc(s->n, sizeof *s->configs);
  s->cost = calloc(s->n, sizeof *s->cost);
  s->fail = calloc(s->n, sizeof *s->fail);
  size_t i = 0;
  for (int x = 0; x < SIDE; x++)
    for (int y = 0; y < SIDE; y++)
      for (int z = 0; z < SIDE; z++, i++) {
        char t[96];
        snprintf(t, sizeof t, "L=%d,X=%d,Y=%d,Z=%d", layout, x, y, z);
        s->configs[i] = strdup(t);
        double b = 0.05 * (x - ox) * (x - ox) + 0.03 * (y - oy) * (y - oy) +
                   0.08 * (z - oz) * (z - oz);
        s->cost[i] = scale * (1 + b + 0.2 * ((x * 7 + y * 3 + z * 5) % 4 == 1));
      }
  cr_assert_eq(sim_space_coords(s), AT_OK, "%s", at_last_error());
  return s;
}

Test(warm, a_related_space_reaches_the_optimum_sooner_than_cold)
{
  struct sim_space *a = space(7, 3, 9, 1, 0), *b = space(7, 4, 9, 2.5, 1);
  double *prior = NULL;
  size_t matched = 0;
  cr_assert_eq(sim_warm_prior(a, b, &prior, &matched), AT_OK, "%s", at_last_error());
  cr_assert_eq(matched, b->n, "every config matched across the constant L");
  struct sim_stats cold, warm, none;
  cr_assert_eq(sim_run(b, SEARCH_BO, NSEEDS, BUDGET, &cold), AT_OK);
  cr_assert_eq(sim_run_prior(b, SEARCH_BO, NSEEDS, BUDGET, prior, &warm), AT_OK);
  /* the optimum of B (7,4,9) is A's third best (after (7,3,9) and (7,2,9)): warm reaches
   * it within the prior's points, cold needs the surrogate */
  cr_assert(warm.reached[1] == NSEEDS && warm.to_median[1] <= 3, "warm: %g (%zu seeds)",
            warm.to_median[1], warm.reached[1]);
  cr_assert(warm.to_median[1] < cold.to_median[1], "warm %g, cold %g evaluations to 0.98",
            warm.to_median[1], cold.to_median[1]);
  cr_assert(warm.mean[0] > cold.mean[0] && warm.mean[0] == 1, "at 10: warm %g, cold %g",
            warm.mean[0], cold.mean[0]);
  /* no prior: exactly the cold figures for the same seeds */
  cr_assert_eq(sim_run_prior(b, SEARCH_BO, NSEEDS, BUDGET, NULL, &none), AT_OK);
  cr_assert_eq(memcmp(none.mean, cold.mean, sizeof cold.mean), 0);
  cr_assert_eq(memcmp(none.to_median, cold.to_median, sizeof cold.to_median), 0);
  /* another template is no prior */
  free(a->kernel);
  a->kernel = strdup("other");
  double *p2 = NULL;
  cr_assert_eq(sim_warm_prior(a, b, &p2, &matched), AT_USAGE);
  cr_assert_null(p2);
  free(prior);
  sim_space_free(a);
  sim_space_free(b);
}

/* A Kernel Tuner cache of kernel `kernel`: X = 1..8 taking 8, 7, 6, 5, 4, 1, 3, 2 times
 * scale ms (X = 6 fastest), T = tval in every config (the problem's own, as a layout). */
static void write_kt(const char *path, const char *kernel, int tval, double scale)
{
  char text[2048];
  int n = snprintf(text, sizeof text,
                   "{\"device_name\": \"host\", \"kernel_name\": \"%s\", "
                   "\"problem_size\": [4], \"tune_params_keys\": [\"X\", \"T\"], "
                   "\"tune_params\": {\"X\": [1, 2, 3, 4, 5, 6, 7, 8], \"T\": [%d]}, "
                   "\"objective\": \"time\", \"cache\": {", kernel, tval);
  static const double t[8] = {8, 7, 6, 5, 4, 1, 3, 2};
  for (int x = 1; x <= 8; x++)
    n += snprintf(text + n, sizeof text - (size_t)n,
                  "%s\"%d,%d\": {\"X\": %d, \"T\": %d, \"time\": %g}", x > 1 ? ", " : "",
                  x, tval, x, tval, t[x - 1] * scale);
  snprintf(text + n, sizeof text - (size_t)n, "}}");
  cr_assert_eq(th_write(path, text, strlen(text)), 0);
}

Test(warm, simulate_warm_from_replays_bo_warm_and_refuses_another_template)
{
  char *dir = th_tmpdir(), *a = th_path(dir, "a.json"), *b = th_path(dir, "b.json"),
       *o = th_path(dir, "o.json"), *miss = th_path(dir, "missing.json");
  write_kt(a, "k", 0, 1);
  write_kt(b, "k", 1, 3);
  write_kt(o, "other", 0, 1);
  struct th_result r;
  th_run(&r, "simulate '%s' --warm-from '%s' --strategy bo --seeds 5 --json", b, a);
  cr_assert_eq(r.code, 0, "%s", r.err);
  /* cold and warm rows; warm measures X = 6 (the optimum at T=1 too) first, each seed */
  cr_assert(strstr(r.out, "\"strategy\":\"bo\",\"warm\":false"), "%s", r.out);
  const char *w = strstr(r.out, "\"strategy\":\"bo\",\"warm\":true");
  cr_assert_not_null(w, "%s", r.out);
  cr_assert(strstr(w, "\"evals_to\":[{\"fraction\":0.95,\"median\":1,\"reached\":5}"),
            "%s", w);
  cr_assert(strstr(r.out, "\"warm_from\":\""), "%s", r.out);
  th_result_free(&r);
  th_run(&r, "simulate '%s' --warm-from '%s' --strategy bo --seeds 3", b, a);
  cr_assert(strstr(r.out, "\nbo+warm "), "%s", r.out);
  th_result_free(&r);
  /* bad input: one line, exit 2 */
  const char *bad[][2] = {{o, "same template"}, {miss, "missing.json"}};
  for (int i = 0; i < 2; i++) {
    th_run(&r, "simulate '%s' --warm-from '%s' --strategy bo --seeds 3", b, bad[i][0]);
    cr_assert_eq(r.code, 2, "%s", r.err);
    cr_assert(strncmp(r.err, "autotune: ", 10) == 0 && strstr(r.err, bad[i][1]) &&
              strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "%s", r.err);
    cr_assert_eq(r.out[0], '\0', "nothing replayed: %s", r.out);
    th_result_free(&r);
  }
  th_rmtree(dir);
  free(dir);
  free(a);
  free(b);
  free(o);
  free(miss);
}

/* ---- end to end ---- */

#define SMALL AT_SOURCE_DIR "/tests/data/templates/tune_small.h"

struct trials {
  int64_t k;
  char configs[32][128];
  double us[32];
  int n;
};

static int take(void *ctx, const struct db_trial *t)
{
  struct trials *c = ctx;
  if (strcmp(t->kernel, "tune_small") == 0 && t->problem.dims[2] == c->k && c->n < 32) {
    snprintf(c->configs[c->n], sizeof c->configs[0], "%s", t->config);
    c->us[c->n++] = t->status == DB_TRIAL_OK ? t->time_median_us : INFINITY;
  }
  return AT_OK;
}

static void trials_of(const char *db, int64_t k, struct trials *out)
{
  memset(out, 0, sizeof *out);
  out->k = k;
  struct db *d = NULL;
  cr_assert_eq(db_open(db, 0, &d), AT_OK, "%s", at_last_error());
  cr_assert_eq(db_each_trial(d, take, out), AT_OK);
  db_close(d);
}

static void gemm(struct th_result *r, const char *dir, const char *args, const char *db)
{
  th_sh(r, "AUTOTUNE_CACHE_DIR='%s/cache' '%s' gemm --device host --template '%s' --db '%s' "
        "--jobs 1 --variant-time 0.05 %s", dir, AT_BINARY, SMALL, db, args);
}

Test(warm, bo_at_a_nearby_shape_starts_from_the_trials_tuned_there)
{
  char *dir = th_tmpdir(), *db = th_path(dir, "t.db"), *fresh = th_path(dir, "f.db");
  struct th_result r;
  gemm(&r, dir, "--m 64 --n 64 --k 64 --strategy exhaustive", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  /* the same problem again: its own trials are resume's, not a prior */
  gemm(&r, dir, "--m 64 --n 64 --k 64 --strategy bo --budget 2", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_null(strstr(r.err, "warm start"), "%s", r.err);
  th_result_free(&r);
  /* a nearby shape: warm, from 64^3 */
  gemm(&r, dir, "--m 64 --n 64 --k 80 --strategy bo --budget 3", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.err, "tune_small: warm start: 5 trials from m=64,n=64,k=64 on the same "
                          "device"), "%s", r.err);
  th_result_free(&r);
  /* measured: the default, then the three fastest others of 64^3, fastest first */
  struct trials at64, at80;
  trials_of(db, 64, &at64);
  trials_of(db, 80, &at80);
  cr_assert_eq(at80.n, 4, "%d trials at k=80", at80.n);
  for (int i = 1; i < 4; i++) {
    /* the fastest config at 64^3 (either run) but the default and those before it */
    double best = INFINITY;
    const char *want = NULL;
    for (int j = 0; j < at64.n; j++) {
      bool taken = strcmp(at64.configs[j], at80.configs[0]) == 0;
      for (int q = 1; q < i; q++)
        taken |= strcmp(at64.configs[j], at80.configs[q]) == 0;
      if (!taken && at64.us[j] < best) {
        best = at64.us[j];
        want = at64.configs[j];
      }
    }
    cr_assert_not_null(want);
    cr_assert_str_eq(at80.configs[i], want, "measured #%d at k=80", i);
  }
  /* no trials to start from: cold, and no note */
  gemm(&r, dir, "--m 64 --n 64 --k 80 --strategy bo --budget 3", fresh);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_null(strstr(r.err, "warm start"), "%s", r.err);
  th_result_free(&r);
  th_rmtree(dir);
  free(dir);
  free(db);
  free(fresh);
}
