/*
 * test_search.c - the search strategies (tuner/search/search.h) and the replay backend
 * (tuner/measure/meas_replay.c): each strategy deterministic for a seed, budgets by count and time
 * respected, no point evaluated twice, annealing and the genetic search moving only
 * through valid points, the model strategy measuring its top k, and replay answering
 * only what the database holds.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/fixture.h"
#include "tests/helpers.h"
#include "tuner/search/search.h"
#include "tuner/measure/replay.h"

/* A 6 x 5 x 4 grid with holes (every point whose coordinates sum to a multiple of 7 is
 * invalid), a cost with one optimum and some ruggedness. */
struct grid {
  size_t n;
  int32_t coords[120 * 3];
  double model[120];
};

static double cost_at(const int32_t *c)
{
  double a = c[0] - 4, b = c[1] - 1, d = c[2] - 2;
  return 10 + a * a + 2 * b * b + 3 * d * d + ((c[0] * 7 + c[1] * 3 + c[2]) % 5) * 0.3;
}

static void grid_init(struct grid *g)
{
  g->n = 0;
  for (int32_t x = 0; x < 6; x++)
    for (int32_t y = 0; y < 5; y++)
      for (int32_t z = 0; z < 4; z++) {
        if ((x + y + z) % 7 == 0)
          continue;
        int32_t *c = g->coords + g->n * 3;
        c[0] = x;
        c[1] = y;
        c[2] = z;
        g->model[g->n] = cost_at(c);
        g->n++;
      }
}

struct rec {
  const struct grid *g;
  size_t seq[200], n;
  int fail_every;           /* every k-th point fails (INFINITY); 0: none */
  int unbuilt_every;        /* points p % k == 1 are SEARCH_UNBUILT; 0: none */
  double sleep_s;
};

static int rec_eval(void *ctx, size_t p, double *cost)
{
  struct rec *r = ctx;
  cr_assert_lt(p, r->g->n, "a point outside the valid set: %zu", p);
  for (size_t i = 0; i < r->n; i++)
    cr_assert_neq(r->seq[i], p, "point %zu evaluated twice", p);
  r->seq[r->n++] = p;
  if (r->unbuilt_every && p % (size_t)r->unbuilt_every == 1)
    return SEARCH_UNBUILT;
  if (r->sleep_s > 0) {
    struct timespec ts = {0, (long)(r->sleep_s * 1e9)};
    nanosleep(&ts, NULL);
  }
  *cost = r->fail_every && p % (size_t)r->fail_every == 0 ? INFINITY
                                                          : cost_at(r->g->coords + p * 3);
  return AT_OK;
}

static void run(const struct grid *g, enum search_strategy s, uint64_t seed, size_t budget,
                struct rec *r, struct search_result *res)
{
  struct search_space sp = {.npoints = g->n, .ndims = 3, .coords = g->coords,
                            .model = g->model};
  struct search_opts o = {.strategy = s, .seed = seed, .budget = budget};
  memset(r, 0, sizeof *r);
  r->g = g;
  cr_assert_eq(search_run(&sp, &o, rec_eval, r, res), AT_OK, "%s", at_last_error());
  cr_assert_eq(res->evaluations, r->n);
  cr_assert_eq(res->unbuilt, 0);
}

Test(search, every_strategy_is_deterministic_for_a_seed_and_respects_the_budget)
{
  struct grid g;
  grid_init(&g);
  for (int s = 0; s < SEARCH_STRATEGY_COUNT; s++) {
    struct rec a, b;
    struct search_result ra, rb;
    run(&g, (enum search_strategy)s, 42, 25, &a, &ra);
    run(&g, (enum search_strategy)s, 42, 25, &b, &rb);
    cr_assert_eq(a.n, 25, "%s: %zu evaluations for a budget of 25",
                 search_strategy_name((enum search_strategy)s), a.n);
    cr_assert_eq(ra.end, SEARCH_END_BUDGET);
    cr_assert(memcmp(a.seq, b.seq, a.n * sizeof a.seq[0]) == 0, "%s: not deterministic",
              search_strategy_name((enum search_strategy)s));
    cr_assert_eq(ra.best, rb.best);
  }
  struct rec a, b;
  struct search_result ra, rb;
  run(&g, SEARCH_RANDOM, 1, 25, &a, &ra);
  run(&g, SEARCH_RANDOM, 2, 25, &b, &rb);
  cr_assert(memcmp(a.seq, b.seq, a.n * sizeof a.seq[0]) != 0, "seeds 1 and 2 agree");
}

Test(search, without_a_budget_every_strategy_visits_every_point_once)
{
  struct grid g;
  grid_init(&g);
  size_t opt = 0;
  for (size_t p = 1; p < g.n; p++)
    if (cost_at(g.coords + p * 3) < cost_at(g.coords + opt * 3))
      opt = p;
  for (int s = 0; s < SEARCH_STRATEGY_COUNT; s++) {
    struct rec r;
    struct search_result res;
    run(&g, (enum search_strategy)s, 7, 0, &r, &res);
    cr_assert_eq(r.n, g.n, "%s: %zu of %zu", search_strategy_name((enum search_strategy)s),
                 r.n, g.n);
    cr_assert_eq(res.end, SEARCH_END_EXHAUSTED);
    cr_assert_eq(res.best, opt);
  }
}

/* Whether point p is among the first n of r. */
static bool picked_before(const struct rec *r, size_t n, size_t p)
{
  for (size_t i = 0; i < n; i++)
    if (r->seq[i] == p)
      return true;
  return false;
}

Test(search, the_model_strategy_measures_its_top_k)
{
  struct grid g;
  grid_init(&g);
  struct rec r;
  struct search_result res;
  run(&g, SEARCH_MODEL, 0, 12, &r, &res);
  /* the best predicted first; then each pick within 10% of the best not yet picked */
  for (size_t p = 0; p < g.n; p++)
    cr_assert_leq(g.model[r.seq[0]], g.model[p]);
  for (size_t i = 1; i < r.n; i++) {
    double lo = INFINITY;
    for (size_t p = 0; p < g.n; p++)
      if (!picked_before(&r, i, p) && g.model[p] < lo)
        lo = g.model[p];
    cr_assert_leq(g.model[r.seq[i]], lo * 1.1 + 1e-12, "pick %zu: %g, best left %g", i,
                  g.model[r.seq[i]], lo);
  }
  struct search_space sp = {.npoints = g.n, .ndims = 3, .coords = g.coords};
  struct search_opts o = {.strategy = SEARCH_MODEL};
  cr_assert_eq(search_run(&sp, &o, rec_eval, &r, &res), AT_USAGE, "no model, no ranking");
}

struct picks {
  size_t seq[16], n;
};

static int picks_eval(void *ctx, size_t p, double *cost)
{
  struct picks *r = ctx;
  cr_assert_lt(r->n, 16);
  r->seq[r->n++] = p;
  *cost = 1.0;
  return AT_OK;
}

/* A model that sees only the first of four params (as a roofline sees the tile and not the
 * stages or the schedule): the 64 configs of each value tie. Its picks must not be the
 * first eight by enumeration order, which differ only in the last two params: they spread
 * over every param it cannot see, and never leave the best predicted value. */
Test(search, the_model_strategy_spreads_its_picks_over_what_it_cannot_tell_apart)
{
  static int32_t coords[256 * 4];
  static double model[256];
  size_t n = 0;
  for (int32_t a = 0; a < 4; a++)
    for (int32_t b = 0; b < 4; b++)
      for (int32_t c = 0; c < 4; c++)
        for (int32_t d = 0; d < 4; d++, n++) {
          int32_t *x = coords + n * 4;
          x[0] = a, x[1] = b, x[2] = c, x[3] = d;
          model[n] = a == 2 ? 100.0 : 200.0 + a; /* value 2 of the first param is best */
        }
  struct search_space sp = {.npoints = n, .ndims = 4, .coords = coords, .model = model};
  struct search_opts o = {.strategy = SEARCH_MODEL, .budget = 8};
  struct picks r = {0};
  struct search_result res;
  cr_assert_eq(search_run(&sp, &o, picks_eval, &r, &res), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.n, 8);
  for (int dim = 1; dim < 4; dim++) {
    unsigned seen = 0;
    for (size_t i = 0; i < r.n; i++) {
      cr_assert_eq(coords[r.seq[i] * 4], 2, "pick %zu left the best predicted value", i);
      seen |= 1u << coords[r.seq[i] * 4 + dim];
    }
    cr_assert_eq(seen, 0xfu, "param %d: values %#x of 0xf among the 8 picks", dim, seen);
  }
  /* no two picks alike in more than two of the three params the model cannot see */
  for (size_t i = 0; i < r.n; i++)
    for (size_t j = i + 1; j < r.n; j++) {
      int same = 0;
      for (int dim = 1; dim < 4; dim++)
        same += coords[r.seq[i] * 4 + dim] == coords[r.seq[j] * 4 + dim];
      cr_assert_lt(same, 3, "picks %zu and %zu", i, j);
    }
}

Test(search, failures_count_and_are_never_best)
{
  struct grid g;
  grid_init(&g);
  for (int s = 0; s < SEARCH_STRATEGY_COUNT; s++) {
    struct search_space sp = {.npoints = g.n, .ndims = 3, .coords = g.coords,
                              .model = g.model};
    struct search_opts o = {.strategy = (enum search_strategy)s, .seed = 3, .budget = 30};
    struct rec r = {.g = &g, .fail_every = 3};
    struct search_result res;
    cr_assert_eq(search_run(&sp, &o, rec_eval, &r, &res), AT_OK);
    cr_assert_eq(r.n, 30);
    cr_assert(isfinite(res.best_cost) && res.best % 3 != 0);
  }
}

/* A point that did not compile (SEARCH_UNBUILT) spends no budget: every strategy still
 * measures its budget's worth; one whose order is known before any cost walks that
 * order past the unbuilt points, and its order with a budget is a prefix of its order
 * without one (the engine's refill, tune.c, takes the next picks from the whole order). */
Test(search, an_unbuilt_point_spends_no_budget)
{
  struct grid g;
  grid_init(&g);
  for (int s = 0; s < SEARCH_STRATEGY_COUNT; s++) {
    enum search_strategy st = (enum search_strategy)s;
    struct search_space sp = {.npoints = g.n, .ndims = 3, .coords = g.coords,
                              .model = g.model};
    struct search_opts o = {.strategy = st, .seed = 5, .budget = 30};
    struct rec r = {.g = &g, .unbuilt_every = 3};
    struct search_result res;
    cr_assert_eq(search_run(&sp, &o, rec_eval, &r, &res), AT_OK, "%s", at_last_error());
    size_t unbuilt = 0;
    for (size_t i = 0; i < r.n; i++)
      unbuilt += r.seq[i] % 3 == 1;
    cr_assert_eq(res.evaluations, 30, "%s: %zu measured", search_strategy_name(st),
                 res.evaluations);
    cr_assert_eq(res.unbuilt, unbuilt, "%s: %zu unbuilt, %zu seen", search_strategy_name(st),
                 res.unbuilt, unbuilt);
    cr_assert_gt(unbuilt, 0, "%s: no unbuilt point met", search_strategy_name(st));
    cr_assert_eq(res.end, SEARCH_END_BUDGET);
    cr_assert(isfinite(res.best_cost) && res.best % 3 != 1, "%s: best %zu",
              search_strategy_name(st), res.best);
    if (!search_strategy_info(st)->order_known)
      continue;
    struct rec whole, part;
    struct search_result rw, rp;
    run(&g, st, 5, 0, &whole, &rw);
    run(&g, st, 5, 25, &part, &rp);
    cr_assert(memcmp(whole.seq, part.seq, 25 * sizeof part.seq[0]) == 0,
              "%s: the order with a budget is no prefix of the whole order",
              search_strategy_name(st));
    cr_assert(memcmp(whole.seq, r.seq, r.n * sizeof r.seq[0]) == 0,
              "%s: the unbuilt points changed the order", search_strategy_name(st));
  }
}

Test(search, a_time_budget_stops_the_search)
{
  struct grid g;
  grid_init(&g);
  struct search_space sp = {.npoints = g.n, .ndims = 3, .coords = g.coords};
  struct search_opts o = {.strategy = SEARCH_ANNEAL, .seed = 1, .time_budget_s = 0.1};
  struct rec r = {.g = &g, .sleep_s = 0.02};
  struct search_result res;
  cr_assert_eq(search_run(&sp, &o, rec_eval, &r, &res), AT_OK);
  cr_assert_eq(res.end, SEARCH_END_TIME);
  cr_assert(r.n >= 2 && r.n <= 8, "%zu evaluations in 0.1 s at 20 ms each", r.n);
}

Test(search, neighbours_differ_in_one_coordinate_and_are_valid)
{
  struct grid g;
  grid_init(&g);
  struct search_space sp = {.npoints = g.n, .ndims = 3, .coords = g.coords};
  for (size_t p = 0; p < g.n; p++) {
    size_t nb[6];
    cr_assert_eq(search_neighbours(&sp, p, nb), AT_OK);
    for (int i = 0; i < 6; i++) {
      if (nb[i] == SIZE_MAX)
        continue;
      cr_assert_lt(nb[i], g.n);
      int differ = 0;
      for (int d = 0; d < 3; d++)
        differ += g.coords[nb[i] * 3 + d] != g.coords[p * 3 + d];
      cr_assert_eq(differ, 1);
      int d = i / 2, dir = i % 2;
      cr_assert(dir ? g.coords[nb[i] * 3 + d] > g.coords[p * 3 + d]
                    : g.coords[nb[i] * 3 + d] < g.coords[p * 3 + d]);
    }
  }
  int32_t dup[6] = {0, 0, 1, 0, 0, 1};
  struct search_space bad = {.npoints = 2, .ndims = 3, .coords = dup};
  size_t nb[6];
  cr_assert_eq(search_neighbours(&bad, 0, nb), AT_USAGE, "two points, one coordinate");
}

Test(search, replay_answers_what_is_recorded_and_never_invents)
{
  char *dir = th_tmpdir(), *path = th_path(dir, "r.db"), run_uuid[DB_UUID_LEN + 1];
  struct db *db = fx_open(path);
  fx_run(db, run_uuid);
  fx_gemm(db, run_uuid, "h100", "sm_90", "nvidia", "gemm_x", 64, 64, 64, "A=1,B=2", 10.0);
  fx_gemm(db, run_uuid, "h100", "sm_90", "nvidia", "gemm_x", 64, 64, 64, "A=2,B=2", 7.5);
  fx_gemm_failed(db, run_uuid, "h100", "gemm_x", 64, 64, 64, "A=3,B=2", DB_TRIAL_FAULT);
  fx_gemm(db, run_uuid, "h100", "sm_90", "nvidia", "gemm_x", 128, 64, 64, "A=4,B=2", 1.0);
  db_close(db);
  struct db_problem p = {.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3,
                         .dim_names = {"m", "n", "k"}, .dims = {64, 64, 64}};
  struct meas_replay *r = NULL;
  cr_assert_eq(meas_replay_open(path, "h100", "gemm_x", &p, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(meas_replay_count(r), 3);
  struct meas_result m;
  cr_assert_eq(meas_replay_lookup(r, "A=2,B=2", &m), AT_OK);
  cr_assert_eq(m.status, DB_TRIAL_OK);
  cr_assert_float_eq(m.median_us, 7.5, 1e-9);
  cr_assert_eq(meas_replay_lookup(r, "A=3,B=2", &m), AT_OK);
  cr_assert_eq(m.status, DB_TRIAL_FAULT);
  cr_assert_eq(meas_replay_lookup(r, "A=4,B=2", &m), AT_NOT_FOUND, "another problem's");
  cr_assert_eq(meas_replay_lookup(r, "A=9,B=9", &m), AT_NOT_FOUND);
  cr_assert(strstr(at_last_error(), "no trial of config 'A=9,B=9'"), "%s", at_last_error());
  cr_assert(isnan(m.median_us), "an unknown config has no time");

  const char *cfgs[] = {"A=1,B=2", "A=2,B=2", "A=3,B=2"};
  int32_t *coords = NULL;
  size_t nd = 0;
  cr_assert_eq(meas_coords_from_configs(cfgs, 3, &coords, &nd), AT_OK);
  cr_assert_eq(nd, 2);
  cr_assert_eq(coords[2 * 2 + 0], 2);
  cr_assert_eq(coords[2 * 2 + 1], 0);
  free(coords);
  meas_replay_close(r);
  th_rmtree(dir);
  free(path);
}

/* The table is the one list of strategies: each has every property, the ones whose order
 * is fixed before measuring are those a caller may compile selectively, and the --help
 * list is built from it. */
Test(search, every_strategy_has_complete_properties_and_help_comes_from_the_table)
{
  char all[256] = "", nomodel[256] = "";
  size_t n = search_strategy_list(true, all, sizeof all);
  cr_assert_eq(n, strlen(all));
  search_strategy_list(false, nomodel, sizeof nomodel);
  int models = 0;
  for (int s = 0; s < SEARCH_STRATEGY_COUNT; s++) {
    const struct search_strategy_info *i = search_strategy_info((enum search_strategy)s);
    cr_assert_not_null(i);
    cr_assert(i->name && i->name[0] && i->help && i->help[0], "strategy %d", s);
    cr_assert_str_eq(search_strategy_name((enum search_strategy)s), i->name);
    enum search_strategy back;
    cr_assert_eq(search_strategy_parse(i->name, &back), AT_OK);
    cr_assert_eq(back, s);
    cr_assert(strstr(all, i->name), "'%s' not in the help list '%s'", i->name, all);
    cr_assert_eq(strstr(nomodel, i->name) != NULL, !i->needs_model, "%s", i->name);
    models += i->needs_model;
  }
  cr_assert_null(search_strategy_info(SEARCH_STRATEGY_COUNT));
  cr_assert_str_eq(all, "exhaustive, random, model, anneal, genetic or bo");
  cr_assert_str_eq(nomodel, "exhaustive, random, anneal, genetic or bo");
  /* what the engine's preselection relies on */
  cr_assert(search_strategy_info(SEARCH_EXHAUSTIVE)->order_known);
  cr_assert(search_strategy_info(SEARCH_RANDOM)->order_known);
  cr_assert(search_strategy_info(SEARCH_MODEL)->order_known);
  cr_assert_not(search_strategy_info(SEARCH_ANNEAL)->order_known);
  cr_assert_not(search_strategy_info(SEARCH_GENETIC)->order_known);
  cr_assert_not(search_strategy_info(SEARCH_BO)->order_known);
  cr_assert_eq(models, 1);
  /* the unknown-name message lists the table too */
  enum search_strategy x;
  cr_assert_eq(search_strategy_parse("bogus", &x), AT_USAGE);
  cr_assert(strstr(at_last_error(), all), "%s", at_last_error());
  /* a short buffer is cut, never overrun, and the full length still returned */
  char tiny[8];
  cr_assert_eq(search_strategy_list(true, tiny, sizeof tiny), n);
  cr_assert_eq(strlen(tiny), 7);
  cr_assert_eq(search_strategy_list(true, NULL, 0), n);
}

/* A larger rugged space for comparing strategies: 5 dims of 8 values, a quarter of the
 * points invalid, a smooth bowl times hash ruggedness, some failures. */
#define BIG_N (8 * 8 * 8 * 8 * 8)
struct big {
  size_t n;
  int32_t coords[BIG_N * 5];
  double cost[BIG_N];
  double opt;
};

static uint64_t mix(uint64_t x)
{
  x ^= x >> 31;
  x *= 0x9e3779b97f4a7c15ull;
  return x ^ (x >> 29);
}

static void big_init(struct big *b, uint64_t salt)
{
  b->n = 0;
  b->opt = INFINITY;
  for (int32_t i = 0; i < BIG_N; i++) {
    int32_t c[5] = {i % 8, i / 8 % 8, i / 64 % 8, i / 512 % 8, i / 4096 % 8};
    uint64_t h = mix((uint64_t)i * 7919 + salt);
    if (h % 4 == 0)
      continue; /* invalid: not a point */
    double t = 1.0;
    for (int d = 0; d < 5; d++) {
      double x = c[d] - (double)((salt >> (3 * d)) % 8);
      t += 0.15 * (d + 1) * x * x / 49.0;
    }
    t *= 1 + 0.1 * (double)(h >> 40 & 1023) / 1023.0;
    memcpy(b->coords + b->n * 5, c, sizeof c);
    b->cost[b->n] = h % 37 == 1 ? INFINITY : t;
    if (b->cost[b->n] < b->opt)
      b->opt = b->cost[b->n];
    b->n++;
  }
}

struct big_eval {
  const struct big *b;
  double best;
  size_t n;
};

static int big_cb(void *ctx, size_t p, double *cost)
{
  struct big_eval *e = ctx;
  *cost = e->b->cost[p];
  e->best = fmin(e->best, *cost);
  e->n++;
  return AT_OK;
}

/* Mean over seeds of optimum / best found within budget. */
static double mean_fraction(const struct big *b, enum search_strategy s, size_t budget,
                            int seeds)
{
  double sum = 0;
  struct search_space sp = {.npoints = b->n, .ndims = 5, .coords = b->coords};
  for (int seed = 1; seed <= seeds; seed++) {
    struct search_opts o = {.strategy = s, .seed = (uint64_t)seed, .budget = budget};
    struct big_eval e = {.b = b, .best = INFINITY};
    struct search_result res;
    cr_assert_eq(search_run(&sp, &o, big_cb, &e, &res), AT_OK, "%s", at_last_error());
    cr_assert_eq(e.n, budget);
    cr_assert_float_eq(res.best_cost, e.best, 0, "the result is the best evaluated");
    sum += b->opt / e.best;
  }
  return sum / seeds;
}

Test(search, bo_and_anneal_beat_random_sampling_on_a_rugged_space, .timeout = 60)
{
  static struct big b;
  big_init(&b, 0x2a5);
  double rnd = mean_fraction(&b, SEARCH_RANDOM, 50, 16);
  double ann = mean_fraction(&b, SEARCH_ANNEAL, 50, 16);
  double bo = mean_fraction(&b, SEARCH_BO, 50, 16);
  cr_log_info("random %.3f anneal %.3f bo %.3f", rnd, ann, bo);
  cr_assert_gt(ann, rnd, "anneal %.3f, random %.3f at 50 evaluations", ann, rnd);
  cr_assert_gt(bo, ann, "bo %.3f, anneal %.3f at 50 evaluations", bo, ann);
  cr_assert_geq(bo, 0.95, "bo reaches %.3f of the optimum in 50 of %zu points", bo, b.n);
}

Test(search, bo_uses_the_prior_and_treats_categorical_dims_as_unordered)
{
  struct grid g;
  grid_init(&g);
  /* the prior's best five come first, in the prior's order */
  struct rec r;
  struct search_result res;
  run(&g, SEARCH_BO, 3, 12, &r, &res);
  for (size_t i = 1; i < 5; i++)
    cr_assert_leq(g.model[r.seq[i - 1]], g.model[r.seq[i]], "evaluation %zu", i);
  for (size_t p = 0; p < g.n; p++)
    if (p != r.seq[0] && p != r.seq[1] && p != r.seq[2] && p != r.seq[3] && p != r.seq[4])
      cr_assert(g.model[p] >= g.model[r.seq[4]] || g.model[p] == INFINITY);
  /* a categorical dim whose order means nothing: value 5 is the best, its ordinal
   * neighbours 4 and 6 the worst, so a surrogate that took the order for real would
   * steer away from 5 after seeing 4 and 6 */
  static int32_t coords[64 * 2];
  double cost[64];
  bool cat[2] = {true, false};
  for (int i = 0; i < 64; i++) {
    int v = i % 8;
    coords[2 * i] = v;
    coords[2 * i + 1] = i / 8;
    cost[i] = 1 + (v == 5 ? 0 : v == 4 || v == 6 ? 3 : 1.5 + 0.1 * v) + 0.1 * abs(i / 8 - 2);
  }
  struct search_space sp = {.npoints = 64, .ndims = 2, .coords = coords, .categorical = cat};
  static struct big fake;
  fake.n = 64;
  memcpy(fake.cost, cost, sizeof cost);
  int found = 0;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    struct search_opts o = {.strategy = SEARCH_BO, .seed = seed, .budget = 20};
    struct big_eval e = {.b = &fake, .best = INFINITY};
    cr_assert_eq(search_run(&sp, &o, big_cb, &e, &res), AT_OK, "%s", at_last_error());
    found += res.best == 5 + 2 * 8;
  }
  cr_log_info("categorical: found in %d of 8 seeds", found);
  cr_assert_geq(found, 7, "bo found the optimum in %d of 8 seeds within 20 of 64", found);
}
