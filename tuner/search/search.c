/*
 * search.c - the search strategies (search.h): exhaustive, random, model-guided,
 * simulated annealing and a genetic algorithm over the valid points of a space.
 *
 * Design note.
 *
 * The space is the valid set only. Every strategy picks points from the given list, so
 * it can never propose a config the enumerator rejected; "neighbour" is defined inside
 * that set: moving one parameter to the nearest value, up or down its value list, for
 * which the config with every other parameter unchanged is still valid (a lookup table
 * from coordinates to points, built once per search). A crossover child whose
 * coordinates are not a valid point is never evaluated.
 *
 * Invariants.
 *   1. A point is evaluated at most once per search_run: costs are remembered, and a
 *      revisit costs nothing and does not count against the budget.
 *   2. evaluations <= budget (when given) and <= npoints; the time budget is checked
 *      before each evaluation, so the last evaluation may end after it.
 *   3. Determinism: the only randomness is search_rng seeded from opts.seed; for the
 *      same space, costs and seed, the sequence of evaluated points is the same on every
 *      machine (unless the time budget cuts it).
 *   4. Every strategy ends: each step either evaluates a fresh point or counts towards
 *      a stall limit after which it jumps to a random unevaluated point; when none is
 *      left the search is exhausted.
 *   5. Failed variants (cost INFINITY) count as evaluations and are never the best,
 *      never accepted as the annealing's current point (unless it has none better),
 *      never kept in the genetic population ahead of a finite one.
 *
 * Strategies.
 *   exhaustive: points in enumeration order.
 *   random: a seeded Fisher-Yates permutation (sampling without replacement).
 *   model: points by ascending model cost (ties by enumeration order): "measure the top
 *     k" with k the budget.
 *   anneal: start at a random point; propose a random neighbour; accept a better one
 *     always, a worse one with probability exp(-d / T), d the relative slowdown, T
 *     falling geometrically from 0.3 to 0.003 over the budget (or the space's size);
 *     after 4 * ndims + 8 proposals that found nothing new, restart at a random
 *     unevaluated point.
 *   genetic: a population of min(12, npoints) random points; each child is the uniform
 *     crossover of two tournament-chosen parents, mutated (one neighbour step) with
 *     probability 0.3 or when the crossover is invalid or already evaluated; a child
 *     better than the population's worst replaces it; after 16 failed tries to breed a
 *     new point, a random unevaluated immigrant.
 */
#include "tuner/search/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "base/os.h"
#include "base/status.h"
#include "tuner/search/internal.h"

/* The strategies' numbers (the design note above says how each is used). */
#define ANNEAL_T_START 0.3         /* temperature at the start, as a relative slowdown */
#define ANNEAL_T_FALL 0.01         /* T_end / T_start: 0.3 falls to 0.003 */
#define STALL_PER_DIM 4            /* annealing restarts after 4 * ndims + 8 stale moves */
#define STALL_BASE 8
#define GENETIC_POPULATION 12      /* at most; fewer when the space is smaller */
#define GENETIC_MUTATION 0.3       /* probability of a neighbour step after crossover */
#define GENETIC_TRIES 16           /* breeding attempts before an immigrant */
#define NEIGHBOUR_PICKS 64         /* neighbours considered for one random step */

static const struct search_strategy_info infos[] = {
#define SEARCH_INFO(name, text, help, order_known, needs_model)                        \
  {/* .name = */ text, /* .help = */ help, /* .order_known = */ order_known,         \
   /* .needs_model = */ needs_model},
    SEARCH_STRATEGY_MAP(SEARCH_INFO)
#undef SEARCH_INFO
};

const struct search_strategy_info *search_strategy_info(enum search_strategy s)
{
  return (int)s >= 0 && s < SEARCH_STRATEGY_COUNT ? &infos[s] : NULL;
}

const char *search_strategy_name(enum search_strategy s)
{
  const struct search_strategy_info *i = search_strategy_info(s);
  return i ? i->name : NULL;
}

size_t search_strategy_list(bool with_model, char *out, size_t out_len)
{
  size_t n = 0, count = 0, total = 0;
  for (int i = 0; i < SEARCH_STRATEGY_COUNT; i++)
    total += with_model || !infos[i].needs_model;
  if (out_len)
    out[0] = '\0';
  for (int i = 0; i < SEARCH_STRATEGY_COUNT; i++) {
    if (!with_model && infos[i].needs_model)
      continue;
    const char *sep = count == 0 ? "" : count + 1 == total ? " or " : ", ";
    count++;
    int w = snprintf(n < out_len ? out + n : NULL, n < out_len ? out_len - n : 0, "%s%s",
                     sep, infos[i].name);
    n += w > 0 ? (size_t)w : 0;
  }
  return n;
}

int search_strategy_parse(const char *text, enum search_strategy *out)
{
  for (int i = 0; text && i < SEARCH_STRATEGY_COUNT; i++)
    if (strcmp(text, infos[i].name) == 0) {
      *out = (enum search_strategy)i;
      return AT_OK;
    }
  char list[256];
  search_strategy_list(true, list, sizeof list);
  return at_error(AT_USAGE, "unknown strategy '%.40s' (%s)", text ? text : "", list);
}

/* ---- the generator ---- */

static uint64_t splitmix(uint64_t *x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void search_rng_seed(struct search_rng *r, uint64_t seed)
{
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t search_rng_next(struct search_rng *r)
{
  uint64_t *s = r->s, out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

size_t search_rng_below(struct search_rng *r, size_t n)
{
  /* rejection keeps it exactly uniform */
  uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
  while ((x = search_rng_next(r)) >= lim)
    ;
  return (size_t)(x % n);
}

double search_rng_unit(struct search_rng *r)
{
  return (double)(search_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- the coordinate index ---- */

static uint64_t hash_coords(const int32_t *c, size_t n)
{
  uint64_t h = hash_fnv1a64(HASH_FNV1A64_SEED, c, n * sizeof *c);
  return h ^ (h >> 29); /* the table masks the low bits: fold the high ones in */
}

size_t search_index_find(const struct search_index *x, const int32_t *c)
{
  size_t nd = x->sp->ndims;
  for (size_t i = hash_coords(c, nd) & x->mask;; i = (i + 1) & x->mask) {
    size_t v = x->slots[i];
    if (!v)
      return SIZE_MAX;
    if (memcmp(x->sp->coords + (v - 1) * nd, c, nd * sizeof *c) == 0)
      return v - 1;
  }
}

static int index_build(struct search_index *x, const struct search_space *sp)
{
  size_t cap = 16;
  while (cap < sp->npoints * 2)
    cap *= 2;
  x->sp = sp;
  x->mask = cap - 1;
  if (!(x->slots = calloc(cap, sizeof *x->slots)))
    return at_error(AT_NOMEM, "out of memory");
  for (size_t p = 0; p < sp->npoints; p++) {
    const int32_t *c = sp->coords + p * sp->ndims;
    for (size_t d = 0; d < sp->ndims; d++)
      if (c[d] < 0)
        return at_error(AT_USAGE, "search: point %zu has a negative coordinate", p);
    size_t i = hash_coords(c, sp->ndims) & x->mask;
    for (; x->slots[i]; i = (i + 1) & x->mask)
      if (memcmp(sp->coords + (x->slots[i] - 1) * sp->ndims, c, sp->ndims * sizeof *c) == 0)
        return at_error(AT_USAGE, "search: points %zu and %zu have the same coordinates",
                        x->slots[i] - 1, p);
    x->slots[i] = p + 1;
  }
  return AT_OK;
}

/* nb[2 * ndims] for point p (see search.h); max[d] is the largest coordinate of dim d. */
static void neighbours(const struct search_index *x, const int32_t *max, size_t p, int32_t *tmp,
                       size_t *nb)
{
  const struct search_space *sp = x->sp;
  for (size_t d = 0; d < sp->ndims; d++) {
    for (int dir = 0; dir < 2; dir++) {
      memcpy(tmp, sp->coords + p * sp->ndims, sp->ndims * sizeof *tmp);
      size_t found = SIZE_MAX;
      for (;;) {
        tmp[d] += dir ? 1 : -1;
        if (tmp[d] < 0 || tmp[d] > max[d])
          break;
        if ((found = search_index_find(x, tmp)) != SIZE_MAX)
          break;
      }
      nb[2 * d + (size_t)dir] = found;
    }
  }
}

static void dim_max(const struct search_space *sp, int32_t *max)
{
  for (size_t d = 0; d < sp->ndims; d++)
    max[d] = 0;
  for (size_t p = 0; p < sp->npoints; p++)
    for (size_t d = 0; d < sp->ndims; d++)
      if (sp->coords[p * sp->ndims + d] > max[d])
        max[d] = sp->coords[p * sp->ndims + d];
}

int search_neighbours(const struct search_space *sp, size_t p, size_t *nb)
{
  if (!sp || !nb || p >= sp->npoints || (sp->ndims && !sp->coords))
    return at_error(AT_USAGE, "search_neighbours: bad argument");
  struct search_index x = {0};
  int32_t *max = calloc(sp->ndims + 1, sizeof *max), *tmp = calloc(sp->ndims + 1, sizeof *tmp);
  int rc = max && tmp ? index_build(&x, sp) : at_error(AT_NOMEM, "out of memory");
  if (rc == AT_OK) {
    dim_max(sp, max);
    neighbours(&x, max, p, tmp, nb);
  }
  free(x.slots);
  free(max);
  free(tmp);
  return rc;
}

/* ---- the search state ---- */

bool search_done(struct search_state *s)
{
  if (s->rc != AT_OK)
    return true;
  if (s->left == 0) {
    s->res->end = SEARCH_END_EXHAUSTED;
    return true;
  }
  if (s->res->evaluations >= s->limit) {
    s->res->end = SEARCH_END_BUDGET;
    return true;
  }
  if (s->o->time_budget_s > 0 && at_now_s() - s->t0 >= s->o->time_budget_s) {
    s->res->end = SEARCH_END_TIME;
    return true;
  }
  return false;
}

/* The cost of p, evaluating it when it is new. Returns false when the search must end
 * (budget, time, stop or error) before p could be evaluated. */
bool search_visit(struct search_state *s, size_t p, double *cost)
{
  if (!isnan(s->cost[p])) {
    *cost = s->cost[p];
    return true;
  }
  if (search_done(s))
    return false;
  double c = INFINITY;
  int rc = s->eval(s->ctx, p, &c);
  if (rc != AT_OK) {
    s->rc = rc;
    if (rc == SEARCH_STOP)
      s->res->end = SEARCH_END_STOPPED;
    return false;
  }
  if (isnan(c) || c < 0)
    c = INFINITY;
  s->cost[p] = c;
  s->left--;
  s->res->evaluations++;
  if (c < s->res->best_cost) {
    s->res->best_cost = c;
    s->res->best = p;
  }
  *cost = c;
  return true;
}

/* A uniformly chosen point not yet evaluated; SIZE_MAX when none. */
size_t search_random_fresh(struct search_state *s)
{
  if (s->left == 0)
    return SIZE_MAX;
  size_t k = search_rng_below(&s->rng, s->left);
  for (size_t p = 0; p < s->sp->npoints; p++)
    if (isnan(s->cost[p]) && k-- == 0)
      return p;
  return SIZE_MAX;
}

size_t search_random_neighbour(struct search_state *s, size_t p)
{
  size_t n = 0, pick[NEIGHBOUR_PICKS], nd2 = 2 * s->sp->ndims;
  for (size_t i = 0; i < nd2 && n < NEIGHBOUR_PICKS; i++)
    if (s->nb[p * nd2 + i] != SIZE_MAX)
      pick[n++] = s->nb[p * nd2 + i];
  return n ? pick[search_rng_below(&s->rng, n)] : SIZE_MAX;
}

/* ---- the strategies ---- */

static void run_order(struct search_state *s, const size_t *order)
{
  double c;
  for (size_t i = 0; i < s->sp->npoints; i++)
    if (!search_visit(s, order[i], &c))
      return;
  search_done(s);
}

struct ranked {
  double model;
  size_t p;
};

static int by_model(const void *a, const void *b)
{
  const struct ranked *x = a, *y = b;
  if (x->model != y->model)
    return x->model < y->model ? -1 : 1;
  return x->p < y->p ? -1 : x->p > y->p;
}

static void run_anneal(struct search_state *s)
{
  size_t n = s->sp->npoints, cur = search_random_fresh(s), stall = 0;
  size_t horizon = s->limit < n ? s->limit : n, stall_max = STALL_PER_DIM * s->sp->ndims + STALL_BASE;
  double ccur;
  if (cur == SIZE_MAX || !search_visit(s, cur, &ccur))
    return;
  while (!search_done(s)) {
    double frac = horizon > 1 ? (double)s->res->evaluations / (double)horizon : 1.0;
    double temp = ANNEAL_T_START * pow(ANNEAL_T_FALL, frac > 1 ? 1 : frac);
    size_t q = search_random_neighbour(s, cur);
    bool fresh = q != SIZE_MAX && isnan(s->cost[q]);
    if (!fresh && ++stall < stall_max && q != SIZE_MAX) {
      /* a known neighbour: the walk may still move there */
      double cq = s->cost[q];
      if (cq < ccur || (isfinite(cq) && isfinite(ccur) &&
                        search_rng_unit(&s->rng) < exp(-(cq - ccur) / ccur / temp))) {
        cur = q;
        ccur = cq;
      }
      continue;
    }
    if (!fresh) {
      stall = 0;
      if ((q = search_random_fresh(s)) == SIZE_MAX)
        break;
      double cq;
      if (!search_visit(s, q, &cq))
        break;
      if (cq < INFINITY || !isfinite(ccur)) {
        cur = q;
        ccur = cq;
      }
      continue;
    }
    stall = 0;
    double cq;
    if (!search_visit(s, q, &cq))
      break;
    if (!isfinite(ccur) ||
        (isfinite(cq) && (cq <= ccur ||
                          search_rng_unit(&s->rng) < exp(-(cq - ccur) / ccur / temp)))) {
      cur = q;
      ccur = cq;
    }
  }
  search_done(s);
}

/* Uniform crossover of a and b; SIZE_MAX when the child is no valid point. */
static size_t crossover(struct search_state *s, size_t a, size_t b, int32_t *tmp)
{
  size_t nd = s->sp->ndims;
  for (size_t d = 0; d < nd; d++)
    tmp[d] = s->sp->coords[(search_rng_next(&s->rng) & 1 ? a : b) * nd + d];
  return search_index_find(&s->idx, tmp);
}

static size_t tournament(struct search_state *s, const size_t *pop, size_t np)
{
  size_t a = pop[search_rng_below(&s->rng, np)], b = pop[search_rng_below(&s->rng, np)];
  return s->cost[b] < s->cost[a] ? b : a;
}

static void run_genetic(struct search_state *s)
{
  size_t n = s->sp->npoints, np = n < GENETIC_POPULATION ? n : GENETIC_POPULATION,
         pop[GENETIC_POPULATION], have = 0;
  int32_t *tmp = malloc((s->sp->ndims + 1) * sizeof *tmp);
  if (!tmp) {
    s->rc = at_error(AT_NOMEM, "out of memory");
    return;
  }
  double c;
  while (have < np) {
    size_t p = search_random_fresh(s);
    if (p == SIZE_MAX || !search_visit(s, p, &c))
      break;
    pop[have++] = p;
  }
  while (have > 0 && !search_done(s)) {
    size_t child = SIZE_MAX;
    for (int tries = 0; tries < GENETIC_TRIES && child == SIZE_MAX; tries++) {
      size_t a = tournament(s, pop, have), b = tournament(s, pop, have);
      size_t x = crossover(s, a, b, tmp);
      if (x == SIZE_MAX || !isnan(s->cost[x]) || search_rng_unit(&s->rng) < GENETIC_MUTATION) {
        size_t m = search_random_neighbour(s, x != SIZE_MAX ? x : a);
        x = m != SIZE_MAX ? m : x;
      }
      if (x != SIZE_MAX && isnan(s->cost[x]))
        child = x;
    }
    if (child == SIZE_MAX && (child = search_random_fresh(s)) == SIZE_MAX)
      break;
    if (!search_visit(s, child, &c))
      break;
    size_t worst = 0;
    for (size_t i = 1; i < have; i++)
      if (s->cost[pop[i]] > s->cost[pop[worst]] ||
          (s->cost[pop[i]] == s->cost[pop[worst]] && pop[i] > pop[worst]))
        worst = i;
    if (c < s->cost[pop[worst]])
      pop[worst] = child;
  }
  free(tmp);
  search_done(s);
}

int search_run(const struct search_space *sp, const struct search_opts *o,
               search_eval_fn eval, void *ctx, struct search_result *out)
{
  if (out)
    *out = (struct search_result){.best = SIZE_MAX, .best_cost = INFINITY};
  if (!sp || !o || !eval || !out || (sp->npoints && sp->ndims && !sp->coords))
    return at_error(AT_USAGE, "search_run: NULL argument");
  if ((int)o->strategy < 0 || o->strategy >= SEARCH_STRATEGY_COUNT)
    return at_error(AT_USAGE, "search_run: unknown strategy");
  if (infos[o->strategy].needs_model && !sp->model)
    return at_error(AT_USAGE, "the %s strategy needs model costs", infos[o->strategy].name);
  struct search_state s = {.sp = sp, .o = o, .eval = eval, .ctx = ctx, .left = sp->npoints,
                    .limit = o->budget ? o->budget : SIZE_MAX, .t0 = at_now_s(), .res = out};
  size_t n = sp->npoints, nd2 = 2 * sp->ndims, *order = NULL;
  int32_t *max = NULL, *tmp = NULL;
  int rc = AT_OK;
  if (n == 0)
    return AT_OK;
  search_rng_seed(&s.rng, o->seed);
  s.cost = malloc(n * sizeof *s.cost);
  order = malloc(n * sizeof *order);
  max = calloc(sp->ndims + 1, sizeof *max);
  tmp = calloc(sp->ndims + 1, sizeof *tmp);
  s.nb = malloc((nd2 ? nd2 : 1) * n * sizeof *s.nb);
  if (!s.cost || !order || !max || !tmp || !s.nb) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  for (size_t p = 0; p < n; p++) {
    s.cost[p] = NAN;
    order[p] = p;
  }
  if ((rc = index_build(&s.idx, sp)) != AT_OK)
    goto out;
  dim_max(sp, max);
  s.max = max;
  for (size_t p = 0; p < n; p++)
    neighbours(&s.idx, max, p, tmp, s.nb + p * nd2);

  switch (o->strategy) {
  case SEARCH_RANDOM:
    for (size_t i = n - 1; i > 0; i--) {
      size_t j = search_rng_below(&s.rng, i + 1), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    run_order(&s, order);
    break;
  case SEARCH_MODEL: {
    struct ranked *r = malloc(n * sizeof *r);
    if (!r) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto out;
    }
    for (size_t p = 0; p < n; p++)
      r[p] = (struct ranked){isnan(sp->model[p]) ? INFINITY : sp->model[p], p};
    qsort(r, n, sizeof *r, by_model);
    for (size_t p = 0; p < n; p++)
      order[p] = r[p].p;
    free(r);
    run_order(&s, order);
    break;
  }
  case SEARCH_ANNEAL:
    run_anneal(&s);
    break;
  case SEARCH_GENETIC:
    run_genetic(&s);
    break;
  case SEARCH_BO:
    search_run_bo(&s);
    break;
  default:
    run_order(&s, order);
    break;
  }
  rc = s.rc == SEARCH_STOP ? AT_OK : s.rc;
out:
  free(s.cost);
  free(s.nb);
  free(s.idx.slots);
  free(order);
  free(max);
  free(tmp);
  return rc;
}
