/*
 * bo.c - the bo strategy (search.h): Bayesian optimisation over the valid points of a
 * space, with a Gaussian-process surrogate of the log cost and expected improvement as
 * the acquisition. It owns the surrogate (its inputs, its incremental Cholesky factor,
 * the candidate pool) for the length of one search_run and nothing after it.
 *
 * Design note.
 *
 * Inputs. Each point is a vector: every ordinal dim is its coordinate over the dim's
 * largest (0..1), every categorical dim its raw value (compared equal or not), every
 * feature (search_space.features: what the variant compiled to) scaled to 0..1 over the
 * space (unknown: 0.5). The kernel is Matern 5/2 of the distance with one lengthscale.
 *
 * Outputs. y = log(cost): times spread over decades and their noise is relative. A failed
 * point (cost INFINITY: compile error, pruned, verify failure, timeout) is an infeasible
 * region, taught to the surrogate as the worst finite y seen plus BO_FAIL_MARGIN, so
 * the expected improvement near it falls; it is never the best.
 *
 * The GP. K = s2 (R + BO_NOISE I), R the kernel matrix: BO_NOISE is the noise's share of
 * the variance (robust to noisy times: the surrogate smooths rather than interpolates).
 * The constant mean m and s2 are their maximum-likelihood values given R, so they cost
 * nothing to refit: with L the Cholesky factor of R + BO_NOISE I, by = L^-1 y and
 * b1 = L^-1 1, m = (b1.by)/(b1.b1) and s2 = |by - m b1|^2 / n. For each candidate c the
 * vector V[c] = L^-1 r(c, observed) is kept, so that a new observation extends L, by,
 * b1 and every V[c] by one element: O(n^2 + P n) per step, P the pool's size, instead of
 * refactoring. Then mean(c) = m + V[c].(by - m b1), var(c) = s2 (1 - |V[c]|^2).
 *
 * Lengthscale. Chosen among bo_lengthscales by the profile likelihood
 * (-n/2 log s2 - sum log L_ii) at the end of the initial design and again whenever the
 * observations have grown by BO_REFIT_EVERY or a quarter since the last fit; each refit
 * rebuilds the factor and V from the observations.
 *
 * Steps. The first BO_INIT points are the best BO_INIT_PRIOR by the prior
 * (search_space.model: a model's costs or a warm start's measured ones) then random; until
 * one finite cost is seen, random. Then each step evaluates the candidate of highest
 * expected improvement over the best y (ties: the lowest mean, then the lowest index).
 *
 * Bounds. The pool is every point when the space has at most BO_POOL; otherwise, at each
 * refit, the neighbours of the BO_POOL_LOCAL best observed points and a random sample of
 * the rest, BO_POOL in all. The surrogate holds at most BO_MAX_OBS observations; past
 * that it stops learning and keeps proposing from what it knows. A pool with nothing
 * left unevaluated falls back to a random fresh point. Invariants 1-5 of search.c hold:
 * every evaluation goes through search_visit. An unbuilt point (search.h's
 * SEARCH_UNBUILT) is not observed: it spends no budget, so it takes no room the budget's
 * observations need, and being evaluated it is never proposed again.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "tuner/search/internal.h"

/* The hyperparameters (docs/search.md: what each does and how it was chosen). */
#define BO_INIT 10              /* points before the surrogate proposes */
#define BO_INIT_PRIOR 5         /* of those, the best by the prior when there is one */
#define BO_NOISE 1e-3           /* noise variance / signal variance of log cost */
#define BO_XI 0.0               /* improvement asked beyond the best, in log cost */
#define BO_FAIL_MARGIN 0.5      /* a failure's log cost above the worst finite one */
#define BO_REFIT_EVERY 8        /* observations between lengthscale refits, at least */
#define BO_MAX_OBS 512          /* observations the surrogate holds */
#define BO_POOL 8192            /* candidates scored per step, at most */
#define BO_POOL_LOCAL 32        /* best points whose neighbours join a sampled pool */
static const double bo_lengthscales[] = {0.1, 0.15, 0.25, 0.4, 0.6, 1.0};
#define BO_NLS (sizeof bo_lengthscales / sizeof bo_lengthscales[0])

struct bo {
  struct search_state *s;
  size_t npts, dims;       /* points; input dims (coordinates + features) */
  double *x;               /* npts x dims inputs */
  bool *cat;               /* dims: compared equal or not */
  double ell;              /* lengthscale */
  /* observations, in order; raw costs kept to recompute failures' y at a refit */
  size_t nobs, cap, nfit;  /* held; capacity; held at the last refit */
  size_t *obs;
  double *raw, *y, *L, *by, *b1;
  double worst;            /* the largest finite y seen */
  /* the pool */
  size_t npool, *pool;
  double *V, *vsq;         /* npool x cap; npool */
  unsigned char *mark;     /* npts scratch */
};

static double kern(const struct bo *b, size_t i, size_t j)
{
  const double *a = b->x + i * b->dims, *c = b->x + j * b->dims;
  double r2 = 0;
  for (size_t d = 0; d < b->dims; d++) {
    double t = b->cat[d] ? (a[d] != c[d]) : a[d] - c[d];
    r2 += t * t;
  }
  double r = sqrt(r2) / b->ell * sqrt(5.0);
  return (1 + r + r * r / 3) * exp(-r);
}

/* y for the raw cost c: its log, or for a failure the worst seen plus the margin. */
static double y_of(const struct bo *b, double c)
{
  return isfinite(c) ? log(c) : b->worst + BO_FAIL_MARGIN;
}

/* Extend the factor by observation n = b->nobs (point p, output yv); with_pool also
 * extends V. tmp[cap] scratch. */
static void gp_add(struct bo *b, size_t p, double yv, bool with_pool, double *tmp)
{
  size_t n = b->nobs, cap = b->cap;
  double *L = b->L;
  for (size_t j = 0; j < n; j++) {
    double v = kern(b, p, b->obs[j]);
    for (size_t k = 0; k < j; k++)
      v -= L[j * cap + k] * tmp[k];
    tmp[j] = v / L[j * cap + j];
  }
  double d2 = 1 + BO_NOISE, dy = yv, d1 = 1;
  for (size_t j = 0; j < n; j++) {
    L[n * cap + j] = tmp[j];
    d2 -= tmp[j] * tmp[j];
    dy -= tmp[j] * b->by[j];
    d1 -= tmp[j] * b->b1[j];
  }
  double d = sqrt(d2 > BO_NOISE * 1e-3 ? d2 : BO_NOISE * 1e-3);
  L[n * cap + n] = d;
  b->by[n] = dy / d;
  b->b1[n] = d1 / d;
  b->obs[n] = p;
  b->y[n] = yv;
  if (with_pool)
    for (size_t c = 0; c < b->npool; c++) {
      double *v = b->V + c * cap, t = kern(b, b->pool[c], p);
      for (size_t j = 0; j < n; j++)
        t -= v[j] * tmp[j];
      v[n] = t / d;
      b->vsq[c] += v[n] * v[n];
    }
  b->nobs = n + 1;
}

/* m and s2 of the current factor (design note). */
static void gp_mean_var(const struct bo *b, double *m, double *s2)
{
  double yy = 0, y1 = 0, oo = 0;
  for (size_t j = 0; j < b->nobs; j++) {
    y1 += b->b1[j] * b->by[j];
    oo += b->b1[j] * b->b1[j];
  }
  *m = oo > 0 ? y1 / oo : 0;
  for (size_t j = 0; j < b->nobs; j++) {
    double r = b->by[j] - *m * b->b1[j];
    yy += r * r;
  }
  *s2 = b->nobs ? yy / (double)b->nobs : 1;
  if (!(*s2 > 1e-12))
    *s2 = 1e-12;
}

/* Refactor every observation (raw[0..count)) at lengthscale ell; returns the profile
 * log likelihood. */
static double gp_rebuild(struct bo *b, size_t count, double ell, bool with_pool,
                         double *tmp)
{
  b->ell = ell;
  b->nobs = 0;
  if (with_pool)
    memset(b->vsq, 0, b->npool * sizeof *b->vsq);
  for (size_t i = 0; i < count; i++)
    gp_add(b, b->obs[i], y_of(b, b->raw[i]), with_pool, tmp);
  double m, s2, logdet = 0;
  gp_mean_var(b, &m, &s2);
  for (size_t j = 0; j < b->nobs; j++)
    logdet += log(b->L[j * b->cap + j]);
  return -0.5 * (double)b->nobs * log(s2) - logdet;
}

/* The pool: every point, or (a large space) the best points' neighbours and a sample. */
static void pool_fill(struct bo *b)
{
  struct search_state *s = b->s;
  size_t n = b->npts;
  if (n <= BO_POOL) {
    for (size_t p = 0; p < n; p++)
      b->pool[p] = p;
    b->npool = n;
    return;
  }
  memset(b->mark, 0, n);
  b->npool = 0;
  size_t nd2 = 2 * s->sp->ndims;
  /* the best observed points, by a partial selection over the finite ones */
  for (size_t k = 0; k < BO_POOL_LOCAL && k < b->nobs; k++) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < b->nobs; i++)
      if (!b->mark[b->obs[i]] && isfinite(b->raw[i]) &&
          (best == SIZE_MAX || b->raw[i] < b->raw[best]))
        best = i;
    if (best == SIZE_MAX)
      break;
    size_t p = b->obs[best];
    b->mark[p] = 1; /* observed: not a candidate, but remembered as taken */
    for (size_t i = 0; i < nd2 && b->npool < BO_POOL; i++) {
      size_t q = s->nb[p * nd2 + i];
      if (q != SIZE_MAX && !b->mark[q] && isnan(s->cost[q])) {
        b->mark[q] = 1;
        b->pool[b->npool++] = q;
      }
    }
  }
  for (size_t tries = 0; b->npool < BO_POOL && tries < 4 * BO_POOL; tries++) {
    size_t q = search_rng_below(&s->rng, n);
    if (!b->mark[q] && isnan(s->cost[q])) {
      b->mark[q] = 1;
      b->pool[b->npool++] = q;
    }
  }
}

/* Choose the lengthscale and rebuild the factor and V. */
static void refit(struct bo *b, double *tmp)
{
  double worst = -INFINITY;
  for (size_t i = 0; i < b->nobs; i++)
    if (isfinite(b->raw[i]) && log(b->raw[i]) > worst)
      worst = log(b->raw[i]);
  b->worst = worst;
  size_t count = b->nobs, best = 0;
  double bestll = -INFINITY;
  for (size_t i = 0; i < BO_NLS; i++) {
    double ll = gp_rebuild(b, count, bo_lengthscales[i], false, tmp);
    if (ll > bestll) {
      bestll = ll;
      best = i;
    }
  }
  pool_fill(b);
  gp_rebuild(b, count, bo_lengthscales[best], true, tmp);
  b->nfit = count;
}

static double norm_cdf(double z) { return 0.5 * erfc(-z * M_SQRT1_2); }

/* The unevaluated pool candidate of highest expected improvement; SIZE_MAX if none. */
static size_t propose(const struct bo *b, const double *resid)
{
  const struct search_state *s = b->s;
  double m, s2, ybest = INFINITY;
  gp_mean_var(b, &m, &s2);
  for (size_t j = 0; j < b->nobs; j++)
    if (isfinite(b->raw[j]) && b->y[j] < ybest)
      ybest = b->y[j];
  size_t best = SIZE_MAX;
  double best_ei = -1, best_mu = INFINITY;
  for (size_t c = 0; c < b->npool; c++) {
    size_t p = b->pool[c];
    if (!isnan(s->cost[p]))
      continue;
    const double *v = b->V + c * b->cap;
    double mu = m, var = s2 * (1 - b->vsq[c]);
    for (size_t j = 0; j < b->nobs; j++)
      mu += v[j] * resid[j];
    double sd = sqrt(var > 1e-12 * s2 ? var : 1e-12 * s2), imp = ybest - mu - BO_XI;
    double z = imp / sd, ei = imp * norm_cdf(z) + sd * exp(-0.5 * z * z) / sqrt(2 * M_PI);
    if (ei > best_ei || (ei == best_ei && mu < best_mu)) {
      best_ei = ei;
      best_mu = mu;
      best = p;
    }
  }
  return best;
}

struct prior_rank {
  double v;
  size_t p;
};

static int by_prior(const void *x, const void *y)
{
  const struct prior_rank *a = x, *c = y;
  if (a->v != c->v)
    return a->v < c->v ? -1 : 1;
  return a->p < c->p ? -1 : a->p > c->p;
}

/* The inputs (design note). */
static void inputs(struct bo *b)
{
  const struct search_space *sp = b->s->sp;
  size_t nd = sp->ndims, nf = sp->features ? sp->nfeatures : 0;
  for (size_t d = 0; d < nd; d++)
    b->cat[d] = sp->categorical && sp->categorical[d];
  for (size_t p = 0; p < b->npts; p++)
    for (size_t d = 0; d < nd; d++) {
      double c = sp->coords[p * nd + d];
      b->x[p * b->dims + d] = b->cat[d] ? c : b->s->max[d] > 0 ? c / b->s->max[d] : 0;
    }
  for (size_t f = 0; f < nf; f++) {
    double lo = INFINITY, hi = -INFINITY;
    for (size_t p = 0; p < b->npts; p++) {
      double v = sp->features[p * nf + f];
      if (isfinite(v)) {
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
    }
    for (size_t p = 0; p < b->npts; p++) {
      double v = sp->features[p * nf + f];
      b->x[p * b->dims + nd + f] = !isfinite(v) ? 0.5 : hi > lo ? (v - lo) / (hi - lo) : 0;
    }
  }
}

/* Record an evaluated point as an observation (raw cost) while there is room; an
 * unbuilt one is not (the design note). */
static void observe(struct bo *b, size_t p, double c, double *tmp, bool fitted)
{
  if (b->nobs >= b->cap || b->s->unbuilt)
    return;
  if (isfinite(c) && log(c) > b->worst)
    b->worst = log(c);
  size_t i = b->nobs;
  b->raw[i] = c;
  if (fitted)
    gp_add(b, p, y_of(b, c), true, tmp);
  else {
    b->obs[i] = p;
    b->nobs++;
  }
}

void search_run_bo(struct search_state *s)
{
  const struct search_space *sp = s->sp;
  size_t n = sp->npoints, nf = sp->features ? sp->nfeatures : 0;
  struct bo b = {.s = s, .npts = n, .dims = sp->ndims + nf, .worst = -INFINITY};
  b.cap = s->limit < n ? s->limit : n;
  b.cap = b.cap < BO_MAX_OBS ? b.cap : BO_MAX_OBS;
  size_t pool_max = n < BO_POOL ? n : BO_POOL;
  b.x = malloc((n * b.dims + 1) * sizeof *b.x);
  b.cat = calloc(b.dims + 1, sizeof *b.cat);
  b.obs = malloc(b.cap * sizeof *b.obs);
  b.raw = malloc(b.cap * sizeof *b.raw);
  b.y = malloc(b.cap * sizeof *b.y);
  b.by = malloc(b.cap * sizeof *b.by);
  b.b1 = malloc(b.cap * sizeof *b.b1);
  b.L = malloc(b.cap * b.cap * sizeof *b.L);
  b.pool = malloc(pool_max * sizeof *b.pool);
  b.V = malloc(pool_max * b.cap * sizeof *b.V);
  b.vsq = calloc(pool_max, sizeof *b.vsq);
  b.mark = calloc(n, 1);
  double *tmp = malloc((b.cap + 1) * sizeof *tmp), *resid = malloc((b.cap + 1) * sizeof *resid);
  struct prior_rank *rank = sp->model ? malloc(n * sizeof *rank) : NULL;
  if (!b.x || !b.cat || !b.obs || !b.raw || !b.y || !b.by || !b.b1 || !b.L || !b.pool ||
      !b.V || !b.vsq || !b.mark || !tmp || !resid || (sp->model && !rank)) {
    s->rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  inputs(&b);

  /* the initial design: the prior's best, then random */
  size_t init = BO_INIT < b.cap ? BO_INIT : b.cap, taken = 0;
  double c;
  if (rank) {
    size_t nr = 0;
    for (size_t p = 0; p < n; p++)
      if (isfinite(sp->model[p]))
        rank[nr++] = (struct prior_rank){sp->model[p], p};
    qsort(rank, nr, sizeof *rank, by_prior);
    for (size_t i = 0; i < nr && taken < BO_INIT_PRIOR && taken < init; i++) {
      if (!search_visit(s, rank[i].p, &c))
        goto out;
      observe(&b, rank[i].p, c, tmp, false);
      taken += !s->unbuilt;
    }
  }
  bool any_finite = false;
  for (size_t i = 0; i < b.nobs; i++)
    any_finite |= isfinite(b.raw[i]);
  while (!search_done(s) && (taken < init || !any_finite)) {
    size_t p = search_random_fresh(s);
    if (p == SIZE_MAX || !search_visit(s, p, &c))
      goto out;
    observe(&b, p, c, tmp, false);
    any_finite |= isfinite(c);
    taken += !s->unbuilt;
  }
  if (search_done(s))
    goto out;
  refit(&b, tmp);

  while (!search_done(s)) {
    size_t grow = b.nfit / 4 > BO_REFIT_EVERY ? b.nfit / 4 : BO_REFIT_EVERY;
    if (b.nobs < b.cap && b.nobs >= b.nfit + grow)
      refit(&b, tmp);
    double m, s2;
    gp_mean_var(&b, &m, &s2);
    for (size_t j = 0; j < b.nobs; j++)
      resid[j] = b.by[j] - m * b.b1[j];
    size_t p = propose(&b, resid);
    if (p == SIZE_MAX && (p = search_random_fresh(s)) == SIZE_MAX)
      break;
    if (!search_visit(s, p, &c))
      break;
    observe(&b, p, c, tmp, true);
  }
out:
  search_done(s);
  free(b.x);
  free(b.cat);
  free(b.obs);
  free(b.raw);
  free(b.y);
  free(b.by);
  free(b.b1);
  free(b.L);
  free(b.pool);
  free(b.V);
  free(b.vsq);
  free(b.mark);
  free(tmp);
  free(resid);
  free(rank);
}
