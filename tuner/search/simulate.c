/*
 * simulate.c - recorded spaces and their replay (simulate.h): the spaces of a tuning
 * database's exhaustive runs, the coordinates of any recorded space from its config
 * texts, and the statistics of a strategy replayed over many seeds. The Kernel Tuner
 * cache reader is kt_cache.c; the command that prints all this is tuner/cli/cmd_simulate.c.
 *
 * Coordinates. A config text is "KEY=VALUE,..." with the same keys in every config. Each
 * key is a dim; a dim whose values all read as numbers is ordinal (a value's coordinate
 * is its rank in numeric order), any other is categorical (rank in order of first
 * appearance, and search_space.categorical says so).
 */
#include "tuner/search/simulate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "base/status.h"
#include "db/db.h"

static const char *const fail_status[] = {
#define SIM_FAIL_STATUS(name, kt, status) status,
    SIM_FAIL_MAP(SIM_FAIL_STATUS)
#undef SIM_FAIL_STATUS
};

const char *sim_fail_status(enum sim_fail f)
{
  return (int)f >= 0 && f < SIM_FAIL_COUNT ? fail_status[f] : NULL;
}

void sim_space_free(struct sim_space *s)
{
  if (!s)
    return;
  for (size_t i = 0; s->configs && i < s->n; i++)
    free(s->configs[i]);
  for (size_t d = 0; s->dim_names && d < s->ndims; d++)
    free(s->dim_names[d]);
  free(s->configs);
  free(s->dim_names);
  free(s->categorical);
  free(s->coords);
  free(s->cost);
  free(s->fail);
  free(s->source);
  free(s->device);
  free(s->kernel);
  free(s->problem);
  free(s->objective);
  free(s);
}

/* ---- coordinates from config texts ---- */

struct dimvals {
  char **vals;   /* distinct values, borrowed from the split copies */
  size_t n, cap;
  bool numeric;
};

static bool is_number(const char *v, double *out)
{
  char *end;
  *out = strtod(v, &end);
  return *v && *end == '\0' && isfinite(*out);
}

static int cmp_num(const void *a, const void *b)
{
  double x = strtod(*(char *const *)a, NULL), y = strtod(*(char *const *)b, NULL);
  return x < y ? -1 : x > y;
}

/* Split "K=V,K=V" in place into keys[] and vals[] (at most max); -1 when malformed. */
static int split(char *text, char **keys, char **vals, int max)
{
  int n = 0;
  for (char *tok = text; tok && *tok; n++) {
    char *comma = strchr(tok, ','), *eq = strchr(tok, '=');
    if (comma)
      *comma = '\0';
    if (!eq || eq == tok || n == max)
      return -1;
    *eq = '\0';
    keys[n] = tok;
    vals[n] = eq + 1;
    tok = comma ? comma + 1 : NULL;
  }
  return n;
}

int sim_space_coords(struct sim_space *s)
{
  enum { MAXK = 64 };
  char **copies = calloc(s->n + 1, sizeof *copies), *keys[MAXK], *vals[MAXK], *k0[MAXK];
  struct dimvals dv[MAXK];
  int nk = -1, rc = AT_OK;
  memset(dv, 0, sizeof dv);
  if (!copies)
    return at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < s->n && rc == AT_OK; i++) {
    if (!(copies[i] = strdup(s->configs[i]))) {
      rc = at_error(AT_NOMEM, "out of memory");
      break;
    }
    int c = split(copies[i], i ? keys : k0, vals, MAXK);
    if (c <= 0 || (i && c != nk)) {
      rc = at_error(AT_PARSE, "config '%.100s' is not like the others", s->configs[i]);
      break;
    }
    nk = c;
    for (int j = 0; j < c && rc == AT_OK; j++) {
      if (i && strcmp(keys[j], k0[j]) != 0) {
        rc = at_error(AT_PARSE, "config '%.100s' has other keys", s->configs[i]);
        break;
      }
      struct dimvals *d = &dv[j];
      bool seen = false;
      for (size_t q = 0; q < d->n && !seen; q++)
        seen = strcmp(d->vals[q], vals[j]) == 0;
      if (seen)
        continue;
      if ((rc = os_grow(&d->vals, &d->cap, d->n + 1, sizeof *d->vals, 8)))
        break;
      d->vals[d->n++] = vals[j];
    }
  }
  if (rc == AT_OK && nk > 0) {
    s->ndims = (size_t)nk;
    s->dim_names = calloc(s->ndims, sizeof *s->dim_names);
    s->categorical = calloc(s->ndims, sizeof *s->categorical);
    s->coords = malloc(s->n * s->ndims * sizeof *s->coords + 1);
    if (!s->dim_names || !s->categorical || !s->coords)
      rc = at_error(AT_NOMEM, "out of memory");
    for (size_t j = 0; j < s->ndims && rc == AT_OK; j++) {
      double x;
      dv[j].numeric = true;
      for (size_t q = 0; q < dv[j].n; q++)
        dv[j].numeric &= is_number(dv[j].vals[q], &x);
      if (dv[j].numeric)
        qsort(dv[j].vals, dv[j].n, sizeof *dv[j].vals, cmp_num);
      s->categorical[j] = !dv[j].numeric;
      if (!(s->dim_names[j] = strdup(k0[j])))
        rc = at_error(AT_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->n && rc == AT_OK; i++) {
      char *copy = strdup(s->configs[i]);
      if (!copy) {
        rc = at_error(AT_NOMEM, "out of memory");
        break;
      }
      split(copy, keys, vals, MAXK);
      for (size_t j = 0; j < s->ndims; j++) {
        size_t q = 0;
        while (q < dv[j].n && strcmp(dv[j].vals[q], vals[j]) != 0)
          q++;
        s->coords[i * s->ndims + j] = (int32_t)q;
      }
      free(copy);
    }
  }
  for (size_t i = 0; i < s->n; i++)
    free(copies[i]);
  free(copies);
  for (int j = 0; j < MAXK; j++)
    free(dv[j].vals);
  return rc;
}

/* ---- the spaces of a database ---- */

struct group {
  struct sim_space *s;
  char run[DB_UUID_LEN + 1];
  size_t cap;
};

struct collect {
  const char *device, *kernel;
  char (*runs)[DB_UUID_LEN + 1];  /* exhaustive runs */
  size_t nruns, cap;
  struct group *g;
  size_t ng, gcap;
  int rc;
};

static int take_run(void *ctx, const struct db_run *r)
{
  struct collect *c = ctx;
  /* exhaustive runs, and imported Kernel Tuner caches: spaces as complete as recorded */
  if (!r->strategy ||
      (strcmp(r->strategy, "exhaustive") != 0 && strcmp(r->strategy, "kernel_tuner") != 0))
    return 0;
  if ((c->rc = os_grow(&c->runs, &c->cap, c->nruns + 1, sizeof *c->runs, 8)))
    return c->rc;
  memcpy(c->runs[c->nruns++], r->uuid, sizeof *c->runs);
  return 0;
}

static int take_trial(void *ctx, const struct db_trial *t)
{
  struct collect *c = ctx;
  bool exhaustive = false;
  for (size_t i = 0; i < c->nruns && !exhaustive; i++)
    exhaustive = strcmp(c->runs[i], t->run_uuid) == 0;
  if (!exhaustive || (c->device && strcmp(c->device, t->device) != 0) ||
      (c->kernel && strcmp(c->kernel, t->kernel) != 0))
    return 0;
  char *dims = db_problem_dims_text(&t->problem);
  bool lay = t->problem.layout && t->problem.layout[0];
  char *problem = dims ? os_strdupf("%s %s%s%s %s", t->problem.op, t->problem.dtype,
                                    lay ? " " : "", lay ? t->problem.layout : "", dims)
                       : NULL;
  free(dims);
  if (!problem)
    return c->rc = at_error(AT_NOMEM, "out of memory");
  struct group *g = NULL;
  for (size_t i = 0; i < c->ng && !g; i++)
    if (strcmp(c->g[i].run, t->run_uuid) == 0 && strcmp(c->g[i].s->device, t->device) == 0 &&
        strcmp(c->g[i].s->kernel, t->kernel) == 0 && strcmp(c->g[i].s->problem, problem) == 0)
      g = &c->g[i];
  if (!g) {
    if ((c->rc = os_grow(&c->g, &c->gcap, c->ng + 1, sizeof *c->g, 4))) {
      free(problem);
      return c->rc;
    }
    g = &c->g[c->ng];
    *g = (struct group){0};
    memcpy(g->run, t->run_uuid, sizeof g->run);
    if (!(g->s = calloc(1, sizeof *g->s)) || !(g->s->device = strdup(t->device)) ||
        !(g->s->kernel = strdup(t->kernel)) || !(g->s->objective = strdup("time_us"))) {
      sim_space_free(g->s);
      free(problem);
      return c->rc = at_error(AT_NOMEM, "out of memory");
    }
    g->s->problem = problem;
    problem = NULL;
    c->ng++;
  }
  free(problem);
  struct sim_space *s = g->s;
  size_t at = s->n; /* the latest trial of a config answers for it */
  for (size_t i = 0; i < s->n && at == s->n; i++)
    if (strcmp(s->configs[i], t->config) == 0)
      at = i;
  if (at == s->n) {
    /* three arrays of one capacity: it grows when all have */
    size_t c1 = g->cap, c2 = g->cap, c3 = g->cap;
    int rc = os_grow(&s->configs, &c1, s->n + 1, sizeof *s->configs, 256);
    if (rc != AT_OK || (rc = os_grow(&s->cost, &c2, s->n + 1, sizeof *s->cost, 256)) ||
        (rc = os_grow(&s->fail, &c3, s->n + 1, sizeof *s->fail, 256)))
      return c->rc = rc;
    g->cap = c1;
    if (!(s->configs[at] = strdup(t->config)))
      return c->rc = at_error(AT_NOMEM, "out of memory");
    s->n++;
  }
  bool ok = t->status == DB_TRIAL_OK && isfinite(t->time_median_us) && t->time_median_us > 0;
  s->cost[at] = ok ? t->time_median_us : INFINITY;
  s->fail[at] = ok ? SIM_FAIL_NONE
                : t->status == DB_TRIAL_PRUNED        ? SIM_FAIL_INVALID
                : t->status == DB_TRIAL_COMPILE_ERROR ? SIM_FAIL_COMPILE
                : t->status == DB_TRIAL_LAUNCH_ERROR  ? SIM_FAIL_RUNTIME
                                                      : SIM_FAIL_ERROR;
  return 0;
}

int sim_spaces_from_db(const char *db_path, const char *device, const char *kernel,
                       struct sim_space ***out, size_t *count)
{
  *out = NULL;
  *count = 0;
  struct db *db = NULL;
  int rc = db_open(db_path, 0, &db);
  if (rc != AT_OK)
    return rc;
  struct collect c = {.device = device, .kernel = kernel};
  rc = db_each_run(db, take_run, &c);
  if (rc == AT_OK && c.nruns)
    rc = db_each_trial(db, take_trial, &c);
  if (rc == AT_OK)
    rc = c.rc;
  db_close(db);
  struct sim_space **arr = c.ng ? calloc(c.ng, sizeof *arr) : NULL;
  size_t kept = 0;
  if (rc == AT_OK && c.ng && !arr)
    rc = at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < c.ng; i++) {
    struct sim_space *s = c.g[i].s;
    if (rc == AT_OK && !(s->source = os_strdupf("%s: run %s", db_path, c.g[i].run)))
      rc = at_error(AT_NOMEM, "out of memory");
    if (rc == AT_OK && s->n >= SIM_MIN_CONFIGS)
      rc = sim_space_coords(s);
    if (rc == AT_OK && s->n >= SIM_MIN_CONFIGS)
      arr[kept++] = s;
    else
      sim_space_free(s);
  }
  free(c.g);
  free(c.runs);
  if (rc != AT_OK) {
    for (size_t i = 0; arr && i < kept; i++)
      sim_space_free(arr[i]);
    free(arr);
    return rc;
  }
  *out = arr;
  *count = kept;
  return AT_OK;
}

/* ---- replay ---- */

struct replay {
  const struct sim_space *s;
  double *best;      /* best cost after each evaluation */
  size_t evals, cap;
};

static int replay_eval(void *ctx, size_t p, double *cost)
{
  struct replay *r = ctx;
  *cost = r->s->cost[p];
  double prev = r->evals ? r->best[r->evals - 1] : INFINITY;
  if (r->evals < r->cap)
    r->best[r->evals] = fmin(prev, *cost);
  r->evals++;
  return AT_OK;
}

static int cmp_d(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
  qsort(v, n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int sim_run(const struct sim_space *space, enum search_strategy strategy, size_t seeds,
            size_t budget, struct sim_stats *out)
{
  return sim_run_prior(space, strategy, seeds, budget, NULL, out);
}

struct text_at {
  const char *text;
  size_t i;
};

static int by_text(const void *a, const void *b)
{
  return strcmp(((const struct text_at *)a)->text, ((const struct text_at *)b)->text);
}

/* Whether dim d of s takes one value only (the problem's, as TRANS_A for a layout). */
static bool dim_constant(const struct sim_space *s, size_t d)
{
  for (size_t i = 0; i < s->n; i++)
    if (s->coords[i * s->ndims + d] != 0)
      return false;
  return true;
}

static bool dropped(const struct sim_space *s, const char *key, size_t klen)
{
  for (size_t d = 0; d < s->ndims; d++)
    if (strlen(s->dim_names[d]) == klen && memcmp(s->dim_names[d], key, klen) == 0)
      return dim_constant(s, d);
  return false;
}

/* The config text without the KEY=VALUE of keys constant in a or in b: the choices
 * alone. NULL on no memory. */
static char *choices(const char *config, const struct sim_space *a, const struct sim_space *b)
{
  char *out = malloc(strlen(config) + 1), *o = out;
  if (!out)
    return NULL;
  for (const char *t = config; *t;) {
    const char *end = strchr(t, ','), *eq = strchr(t, '=');
    size_t len = end ? (size_t)(end - t) : strlen(t);
    size_t klen = eq && eq < t + len ? (size_t)(eq - t) : len;
    if (!dropped(a, t, klen) && !dropped(b, t, klen)) {
      if (o != out)
        *o++ = ',';
      memcpy(o, t, len);
      o += len;
    }
    t += len + (end != NULL);
  }
  *o = '\0';
  return out;
}

int sim_warm_prior(const struct sim_space *from, const struct sim_space *to,
                   double **prior, size_t *matched)
{
  *prior = NULL;
  *matched = 0;
  if (!from->kernel || !to->kernel || strcmp(from->kernel, to->kernel) != 0)
    return at_error(AT_USAGE, "simulate: --warm-from %s is of kernel %s, the space %s of %s: "
                    "a warm start needs the same template", from->source,
                    from->kernel ? from->kernel : "?", to->source, to->kernel ? to->kernel : "?");
  /* from's configs sorted by their choices' text, each with its index */
  struct text_at *idx = calloc(from->n + 1, sizeof *idx);
  double *pr = malloc((to->n + 1) * sizeof *pr);
  int rc = idx && pr ? AT_OK : AT_NOMEM;
  for (size_t i = 0; rc == AT_OK && i < from->n; i++)
    if (!(idx[i] = (struct text_at){choices(from->configs[i], from, to), i}).text)
      rc = AT_NOMEM;
  if (rc == AT_OK)
    qsort(idx, from->n, sizeof *idx, by_text);
  for (size_t i = 0; rc == AT_OK && i < to->n; i++) {
    struct text_at key = {choices(to->configs[i], from, to), 0};
    if (!key.text) {
      rc = AT_NOMEM;
      break;
    }
    const struct text_at *hit = bsearch(&key, idx, from->n, sizeof *idx, by_text);
    pr[i] = hit ? from->cost[hit->i] : NAN;
    *matched += hit && isfinite(pr[i]);
    free((char *)key.text);
  }
  for (size_t i = 0; idx && i < from->n; i++)
    free((char *)idx[i].text);
  free(idx);
  if (rc != AT_OK) {
    free(pr);
    return at_error(AT_NOMEM, "out of memory");
  }
  if (*matched < 2) {
    free(pr);
    return at_error(AT_USAGE, "simulate: --warm-from %s shares %zu timed configs with %s: "
                    "a warm start needs 2 at least", from->source, *matched, to->source);
  }
  *prior = pr;
  return AT_OK;
}

int sim_run_prior(const struct sim_space *space, enum search_strategy strategy,
                  size_t seeds, size_t budget, const double *prior, struct sim_stats *out)
{
  static const size_t checks[SIM_NCHECK] = SIM_CHECKPOINTS;
  static const double targets[SIM_NTARGET] = SIM_TARGETS;
  memset(out, 0, sizeof *out);
  out->strategy = strategy;
  out->seeds = seeds;
  const struct search_strategy_info *info = search_strategy_info(strategy);
  if (!info || info->needs_model)
    return at_error(AT_USAGE, "simulate: strategy '%s' needs a model, and a recorded space "
                    "has none", info ? info->name : "?");
  double opt = INFINITY;
  for (size_t i = 0; i < space->n; i++)
    opt = fmin(opt, space->cost[i]);
  if (!isfinite(opt) || seeds == 0)
    return at_error(AT_USAGE, "simulate: %s has no config with a time",
                    space->source ? space->source : "the space");
  if (budget == 0)
    budget = checks[SIM_NCHECK - 1];
  struct replay r = {.s = space, .cap = budget};
  double *frac = malloc(seeds * SIM_NCHECK * sizeof *frac),
         *to = malloc(seeds * SIM_NTARGET * sizeof *to);
  r.best = malloc(budget * sizeof *r.best);
  int rc = AT_OK;
  if (!frac || !to || !r.best) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  struct search_space sp = {.npoints = space->n, .ndims = space->ndims,
                            .coords = space->coords, .categorical = space->categorical,
                            .model = prior};
  double t0 = at_now_s();
  for (size_t seed = 1; seed <= seeds && rc == AT_OK; seed++) {
    struct search_opts o = {.strategy = strategy, .seed = seed, .budget = budget};
    struct search_result res;
    r.evals = 0;
    if ((rc = search_run(&sp, &o, replay_eval, &r, &res)) != AT_OK)
      break;
    size_t done = r.evals < r.cap ? r.evals : r.cap;
    for (size_t c = 0; c < SIM_NCHECK; c++) {
      size_t at = checks[c] < done ? checks[c] : done;
      double b = at ? r.best[at - 1] : INFINITY;
      frac[c * seeds + seed - 1] = isfinite(b) ? opt / b : 0;
    }
    for (size_t t = 0; t < SIM_NTARGET; t++) {
      to[t * seeds + seed - 1] = INFINITY;
      for (size_t e = 0; e < done; e++)
        if (isfinite(r.best[e]) && opt / r.best[e] >= targets[t]) {
          to[t * seeds + seed - 1] = (double)(e + 1);
          out->reached[t]++;
          break;
        }
    }
  }
  out->seconds = at_now_s() - t0;
  if (rc != AT_OK)
    goto out;
  for (size_t c = 0; c < SIM_NCHECK; c++) {
    double sum = 0;
    for (size_t i = 0; i < seeds; i++)
      sum += frac[c * seeds + i];
    out->mean[c] = sum / (double)seeds;
    out->median[c] = median(frac + c * seeds, seeds);
  }
  for (size_t t = 0; t < SIM_NTARGET; t++)
    out->to_median[t] = median(to + t * seeds, seeds);
out:
  free(frac);
  free(to);
  free(r.best);
  return rc;
}
