/*
 * tune_warm.c - the bo strategy's warm start from the tuning database (docs/search.md,
 * "Warm start"): the ok trials of the template being tuned, for the same op, dtype and
 * layout, on the same device (else the same architecture), at the nearest OTHER problem
 * by the lookup's log distance (db_shape_d2), mapped onto the current search points by
 * config text and handed to bo as its prior (search_space.model). It owns the reading of
 * those trials and the choice of the problem they come from; nothing is written.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "base/status.h"
#include "db/internal.h"
#include "tuner/engine/tune_internal.h"

/* Fewest points of the current space a recorded problem must cover to be a prior. */
#define WARM_MIN_POINTS 2

/* One ok trial that may serve: its config, its time scaled to the current problem, and
 * the rank of its source (lower is better). */
struct warm_trial {
  char *config, *dims;
  double us;
  int tier;           /* 0 same device and hash, 1 same device, 2 same arch and hash,
                       * 3 same arch */
  double d2;          /* log distance to the current problem, squared */
};

struct warm_ctx {
  const struct tuner *tu;
  const struct tpl *p;
  double logs[AT_MAX_DIMS];
  struct warm_trial *t;
  size_t n, cap;
  int rc;
};

/* Equal strings, NULL equal to NULL alone. */
static bool same_str(const char *a, const char *b)
{
  return a && b ? strcmp(a, b) == 0 : a == b;
}

static int take_trial(void *ctx, const struct db_trial *t)
{
  struct warm_ctx *w = ctx;
  const struct tuner *tu = w->tu;
  const struct db_problem *cur = &tu->prob.key, *tp = &t->problem;
  if (t->status != DB_TRIAL_OK || !(t->time_median_us > 0) || !t->config ||
      !same_str(t->kernel, w->p->t->kernel) || !same_str(tp->op, cur->op) ||
      !same_str(tp->dtype, cur->dtype) || !same_str(tp->layout, cur->layout) ||
      tp->ndims != cur->ndims || strcmp(t->run_uuid, tu->run_uuid) == 0)
    return AT_OK;
  bool same_dims = true;
  for (int i = 0; i < cur->ndims; i++) {
    if (!same_str(tp->dim_names[i], cur->dim_names[i]) || tp->dims[i] < 1)
      return AT_OK;
    same_dims &= tp->dims[i] == cur->dims[i];
  }
  if (same_dims) /* the current problem: resume's business, not a prior */
    return AT_OK;
  bool dev = same_str(t->device, tu->dev_name);
  if (!dev && !same_str(t->arch, tu->arch))
    return AT_OK;
  bool hash = same_str(t->kernel_hash, w->p->t->hash);
  int rc = os_grow(&w->t, &w->cap, w->n + 1, sizeof *w->t, 256);
  if (rc != AT_OK)
    return w->rc = rc;
  double logs[AT_MAX_DIMS];
  db_shape_logs(tp->ndims, tp->dims, logs);
  struct warm_trial *e = &w->t[w->n];
  e->config = strdup(t->config);
  e->dims = db_problem_dims_text(tp);
  if (!e->config || !e->dims) {
    free(e->config);
    free(e->dims);
    return w->rc = at_error(AT_NOMEM, "out of memory");
  }
  /* the same throughput at the current problem's FLOPs; the recorded time without */
  double src_flops = t->tflops > 0 ? t->tflops * 1e12 * t->time_median_us * 1e-6 : 0;
  e->us = src_flops > 0 && tu->prob.flops > 0 ? t->time_median_us * tu->prob.flops / src_flops
                                               : t->time_median_us;
  e->tier = (dev ? 0 : 2) + (hash ? 0 : 1);
  e->d2 = db_shape_d2(cur->ndims, w->logs, logs);
  w->n++;
  return AT_OK;
}

/* The canonical config text of search point pt (a bld variant index, or a config index
 * for a lazy template: search_points'); NULL on no memory. */
static char *point_config(const struct tpl *p, size_t pt)
{
  if (!p->lazy) {
    const char *c = p->br.variants[pt].config_text;
    return c ? strdup(c) : NULL;
  }
  char *raw = NULL, *canon = NULL;
  if (gen_space_config_text(p->space, p->configs + pt * p->np, &raw) == AT_OK)
    db_config_canonical(raw, &canon);
  free(raw);
  return canon;
}

static int by_config(const void *a, const void *b)
{
  return strcmp(((const struct warm_trial *)a)->config,
                ((const struct warm_trial *)b)->config);
}

int tune_warm_prior(const struct tuner *tu, const struct tpl *p, const size_t *pts,
                    size_t npts, double **prior, char *note, size_t note_len)
{
  *prior = NULL;
  if (note_len)
    note[0] = '\0';
  if (!tu->db || !tu->bound || npts == 0)
    return AT_OK;
  struct warm_ctx w = {.tu = tu, .p = p};
  db_shape_logs(tu->prob.key.ndims, tu->prob.key.dims, w.logs);
  int rc = db_each_trial(tu->db, take_trial, &w);
  if (rc == AT_OK)
    rc = w.rc;
  /* the source: the best tier, then the nearest problem, then the lowest dims text */
  const struct warm_trial *src = NULL;
  for (size_t i = 0; rc == AT_OK && i < w.n; i++) {
    const struct warm_trial *e = &w.t[i];
    if (!src || e->tier < src->tier || (e->tier == src->tier && e->d2 < src->d2) ||
        (e->tier == src->tier && e->d2 == src->d2 && strcmp(e->dims, src->dims) < 0))
      src = e;
  }
  /* its trials (of that tier and problem), by config; a repeated config keeps its best */
  size_t m = 0;
  if (src) {
    int tier = src->tier;
    char *dims = strdup(src->dims);
    if (!dims)
      rc = at_error(AT_NOMEM, "out of memory");
    for (size_t i = 0; rc == AT_OK && i < w.n; i++) {
      if (w.t[i].tier == tier && strcmp(w.t[i].dims, dims) == 0) {
        struct warm_trial keep = w.t[i];
        w.t[i] = w.t[m];
        w.t[m++] = keep;
      }
    }
    if (rc == AT_OK)
      qsort(w.t, m, sizeof *w.t, by_config);
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
      if (u && strcmp(w.t[u - 1].config, w.t[i].config) == 0) {
        w.t[u - 1].us = fmin(w.t[u - 1].us, w.t[i].us);
        continue;
      }
      struct warm_trial keep = w.t[i];
      w.t[i] = w.t[u];
      w.t[u++] = keep;
    }
    m = u;
    double *pr = rc == AT_OK ? malloc(npts * sizeof *pr) : NULL;
    size_t hits = 0;
    if (rc == AT_OK && !pr)
      rc = at_error(AT_NOMEM, "out of memory");
    for (size_t i = 0; rc == AT_OK && i < npts; i++) {
      struct warm_trial key = {.config = point_config(p, pts[i])};
      if (!key.config) {
        rc = at_error(AT_NOMEM, "out of memory");
        break;
      }
      const struct warm_trial *hit = bsearch(&key, w.t, m, sizeof *w.t, by_config);
      pr[i] = hit ? hit->us : NAN;
      hits += hit != NULL;
      free(key.config);
    }
    if (rc == AT_OK && hits >= WARM_MIN_POINTS) {
      *prior = pr;
      snprintf(note, note_len, "warm start: %zu trials from %s on %s%s", hits, dims,
               tier < 2 ? "the same device" : "the same arch",
               tier % 2 ? " (another version of the template)" : "");
    } else {
      free(pr);
    }
    free(dims);
  }
  for (size_t i = 0; i < w.n; i++) {
    free(w.t[i].config);
    free(w.t[i].dims);
  }
  free(w.t);
  return rc;
}
