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
 *   2. evaluations <= budget (when given) and evaluations + unbuilt <= npoints; the time
 *      budget is checked before each evaluation, so the last evaluation may end after it.
 *   3. Determinism: the only randomness is search_rng seeded from opts.seed; for the
 *      same space, costs and seed, the sequence of evaluated points is the same on every
 *      machine (unless the time budget cuts it).
 *   4. Every strategy ends: each step either evaluates a fresh point or counts towards
 *      a limit after which it jumps to a random unevaluated point; when none is
 *      left the search is exhausted.
 *   5. Failed variants (cost INFINITY) count as evaluations and are never the best,
 *      never accepted as the annealing's current point (unless it has none better),
 *      never kept in the genetic population ahead of a finite one. A point the evaluator
 *      calls unbuilt (SEARCH_UNBUILT: it did not compile, nothing was measured) is failed
 *      the same way but counts in `unbuilt`, not against the budget: the budget is what
 *      is measured, so a strategy's next point takes its place.
 *
 * Strategies.
 *   exhaustive: points in enumeration order.
 *   random: a seeded Fisher-Yates permutation (sampling without replacement).
 *   model: "measure the top k" (k the budget), with the model's blind spots in mind. An
 *     analytical model sees a few of a template's params (tile, grid, occupancy) and
 *     not the rest (stages, schedule, epilogue, cluster...): many configs then share
 *     one prediction, and the first k by enumeration order differ only in the params
 *     listed last. So predictions within MODEL_BAND (10%) of the best remaining one
 *     count as equal: of those, the next pick is the one farthest (in params that
 *     differ) from every earlier pick, ties by prediction, then enumeration order. The
 *     first pick is the best predicted; every pick is within the band of the best not
 *     yet picked. Past MODEL_SPREAD picks, or where no band point lies within
 *     MODEL_POOL of the sorted order, plain ascending order.
 *   anneal: walks with restarts. A walk starts at the best of ANNEAL_START random
 *     points; each step evaluates a uniformly chosen unevaluated point that differs
 *     from the current one in one dim (any value of it) and moves there if better, or
 *     if worse with probability exp(-d / T), d the relative slowdown, T falling
 *     geometrically from 0.3 to 0.003 over the budget (or the space's size). A walk
 *     ends when no such point is left (a local optimum) or after ANNEAL_PATIENCE
 *     evaluations that did not beat the walk's best; then a new walk starts.
 *   bo: Bayesian optimisation, a Gaussian-process surrogate and expected improvement
 *     (bo.c, with its own design note).
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
#define ANNEAL_START 12            /* random points; each walk starts at their best */
#define ANNEAL_T_START 0.3         /* temperature at the start, as a relative slowdown */
#define ANNEAL_T_FALL 0.01         /* T_end / T_start: 0.3 falls to 0.003 */
#define ANNEAL_PATIENCE 8          /* fresh points without a better one end a walk */
#define GENETIC_POPULATION 12      /* at most; fewer when the space is smaller */
#define GENETIC_MUTATION 0.3       /* probability of a neighbour step after crossover */
#define GENETIC_TRIES 16           /* breeding attempts before an immigrant */
#define NEIGHBOUR_PICKS 64         /* neighbours considered for one random step */
/* Annealing was tuned on the recorded host space (bench/results/2026-12-03-search.md):
 * the previous walk (one random start, nearest-value moves, restarts at one random
 * point) did worse than random sampling at every budget. */

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
  s->unbuilt = false;
  if (!isnan(s->cost[p])) {
    *cost = s->cost[p];
    return true;
  }
  if (search_done(s))
    return false;
  double c = INFINITY;
  int rc = s->eval(s->ctx, p, &c);
  s->unbuilt = rc == SEARCH_UNBUILT;
  if (s->unbuilt) {
    s->cost[p] = *cost = INFINITY;
    s->left--;
    s->res->unbuilt++;
    return true;
  }
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

#define MODEL_BAND 0.10  /* predictions within 10% of the best remaining count as equal */
#define MODEL_SPREAD 512 /* picks ordered for spread; the rest by prediction */
#define MODEL_POOL 4096  /* band points considered per pick, in prediction order */

/* The model strategy's order (the design note): order[0..n) from the model costs. */
static int model_order(const struct search_space *sp, size_t *order)
{
  size_t n = sp->npoints, nd = sp->ndims;
  struct ranked *r = malloc(n * sizeof *r);
  unsigned char *taken = calloc(n ? n : 1, 1);
  size_t *mind = malloc(n * sizeof *mind), *upto = calloc(n ? n : 1, sizeof *upto);
  if (!r || !taken || !mind || !upto) {
    free(r), free(taken), free(mind), free(upto);
    return at_error(AT_NOMEM, "out of memory");
  }
  for (size_t p = 0; p < n; p++)
    r[p] = (struct ranked){isnan(sp->model[p]) ? INFINITY : sp->model[p], p};
  qsort(r, n, sizeof *r, by_model);
  size_t k = 0, head = 0;
  /* mind[j]: the fewest differing params between sorted point j and the picks
   * order[0..upto[j]) (nd + 1: no pick yet), brought up to date when j is a candidate */
  for (size_t j = 0; j < n; j++)
    mind[j] = nd + 1;
  while (k < n && k < MODEL_SPREAD) {
    while (head < n && taken[head])
      head++;
    if (head == n || !isfinite(r[head].model))
      break;
    double m = r[head].model, band = m + fabs(m) * MODEL_BAND;
    size_t best = head;
    for (size_t j = head, seen = 0; j < n && r[j].model <= band && seen < MODEL_POOL; j++) {
      if (taken[j])
        continue;
      seen++;
      const int32_t *c = sp->coords + r[j].p * nd;
      for (; upto[j] < k; upto[j]++) {
        const int32_t *q = sp->coords + order[upto[j]] * nd;
        size_t d = 0;
        for (size_t x = 0; x < nd; x++)
          d += c[x] != q[x];
        if (d < mind[j])
          mind[j] = d;
      }
      if (mind[j] > mind[best])
        best = j;
    }
    taken[best] = 1;
    order[k++] = r[best].p;
  }
  for (size_t j = 0; j < n; j++)
    if (!taken[j])
      order[k++] = r[j].p;
  free(r), free(taken), free(mind), free(upto);
  return AT_OK;
}

/* Metropolis: always a better cost, a worse finite one with probability
 * exp(-relative slowdown / temp); never a failure over a finite current point. */
static bool accept(struct search_state *s, double cq, double ccur, double temp)
{
  if (!isfinite(ccur))
    return true;
  if (!isfinite(cq))
    return false;
  return cq <= ccur || search_rng_unit(&s->rng) < exp(-(cq - ccur) / ccur / temp);
}

/* A uniformly chosen point that differs from p in one dim (any value of it) and is
 * not evaluated yet; SIZE_MAX when every such point is. tmp[ndims] scratch. */
static size_t fresh_move(struct search_state *s, size_t p, int32_t *tmp)
{
  const struct search_space *sp = s->sp;
  size_t nd = sp->ndims, seen = 0, pick = SIZE_MAX;
  for (size_t d = 0; d < nd; d++) {
    memcpy(tmp, sp->coords + p * nd, nd * sizeof *tmp);
    for (int32_t v = 0; v <= s->max[d]; v++) {
      if (v == sp->coords[p * nd + d])
        continue;
      tmp[d] = v;
      size_t q = search_index_find(&s->idx, tmp);
      /* reservoir sampling: each fresh point has the same chance */
      if (q != SIZE_MAX && isnan(s->cost[q]) && search_rng_below(&s->rng, ++seen) == 0)
        pick = q;
    }
  }
  return pick;
}

/* The best of ANNEAL_START fresh random points, evaluated: where a walk starts.
 * SIZE_MAX when the search must end first. */
static size_t anneal_start(struct search_state *s, double *cbest)
{
  size_t start = SIZE_MAX;
  double c;
  *cbest = INFINITY;
  for (int i = 0; i < ANNEAL_START; i++) {
    size_t p = search_random_fresh(s);
    if (p == SIZE_MAX || !search_visit(s, p, &c))
      break;
    if (start == SIZE_MAX || c < *cbest) {
      start = p;
      *cbest = c;
    }
  }
  return start;
}

static void run_anneal(struct search_state *s)
{
  size_t n = s->sp->npoints, horizon = s->limit < n ? s->limit : n, stale = 0;
  double ccur, cwalk, c;
  int32_t *tmp = malloc((s->sp->ndims + 1) * sizeof *tmp);
  if (!tmp) {
    s->rc = at_error(AT_NOMEM, "out of memory");
    return;
  }
  size_t cur = anneal_start(s, &ccur);
  cwalk = ccur;
  while (cur != SIZE_MAX && !search_done(s)) {
    double frac = horizon > 1 ? (double)s->res->evaluations / (double)horizon : 1.0;
    double temp = ANNEAL_T_START * pow(ANNEAL_T_FALL, frac > 1 ? 1 : frac);
    size_t q = stale < ANNEAL_PATIENCE ? fresh_move(s, cur, tmp) : SIZE_MAX;
    if (q == SIZE_MAX) {
      /* a local optimum, or a walk that stopped improving: a new walk */
      cur = anneal_start(s, &ccur);
      cwalk = ccur;
      stale = 0;
      continue;
    }
    if (!search_visit(s, q, &c))
      break;
    stale = c < cwalk ? 0 : stale + 1;
    cwalk = fmin(cwalk, c);
    if (accept(s, c, ccur, temp)) {
      cur = q;
      ccur = c;
    }
  }
  free(tmp);
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
  case SEARCH_MODEL:
    if ((rc = model_order(sp, order)) != AT_OK)
      goto out;
    run_order(&s, order);
    break;
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
