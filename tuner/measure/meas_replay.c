/*
 * meas_replay.c - the `replay` measurement backend: answers "how fast is this config?"
 * from trials already recorded in a tuning database, for studying search strategies
 * without a GPU (bench/bench_search.c, tests/test_search.c). It holds the trials of one
 * (device, kernel, problem); the latest trial of a config answers for it, whatever its
 * status. A config with no trial is reported as such (AT_NOT_FOUND), never invented.
 * Also here: coordinates for search.h from config texts, so that a space can be rebuilt
 * from the database alone.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "base/status.h"
#include "tuner/measure/replay.h"

struct rec {
  char *config;
  struct meas_result m;
};

struct meas_replay {
  struct rec *recs;
  size_t n, cap;
};

struct filter {
  const char *device, *kernel;
  const struct db_problem *p;
  struct meas_replay *r;
  int rc;
};

static bool same_problem(const struct db_problem *a, const struct db_problem *b)
{
  if (strcmp(a->op, b->op) != 0 || strcmp(a->dtype, b->dtype) != 0 ||
      strcmp(a->layout ? a->layout : "", b->layout ? b->layout : "") != 0 ||
      a->ndims != b->ndims)
    return false;
  for (int i = 0; i < a->ndims; i++)
    if (a->dims[i] != b->dims[i] || strcmp(a->dim_names[i], b->dim_names[i]) != 0)
      return false;
  return true;
}

static int take(void *ctx, const struct db_trial *t)
{
  struct filter *f = ctx;
  struct meas_replay *r = f->r;
  if (strcmp(t->device, f->device) != 0 || strcmp(t->kernel, f->kernel) != 0 ||
      !same_problem(&t->problem, f->p))
    return 0;
  struct rec *rec = NULL;
  for (size_t i = 0; i < r->n && !rec; i++)
    if (strcmp(r->recs[i].config, t->config) == 0)
      rec = &r->recs[i];
  if (!rec) {
    if ((f->rc = os_grow(&r->recs, &r->cap, r->n + 1, sizeof *r->recs, 64)))
      return f->rc;
    rec = &r->recs[r->n];
    if (!(rec->config = strdup(t->config)))
      return f->rc = at_error(AT_NOMEM, "out of memory");
    r->n++;
  }
  struct meas_result *m = &rec->m;
  memset(m, 0, sizeof *m);
  m->status = t->status;
  m->median_us = t->time_median_us;
  m->min_us = t->time_min_us;
  m->max_us = t->time_max_us;
  m->spread = t->time_spread;
  m->reps = t->repetitions;
  snprintf(m->message, sizeof m->message, "%s", t->message ? t->message : "");
  return 0;
}

int meas_replay_open(const char *db_path, const char *device, const char *kernel,
                     const struct db_problem *problem, struct meas_replay **out)
{
  *out = NULL;
  if (!db_path || !device || !kernel || !problem)
    return at_error(AT_USAGE, "meas_replay_open: NULL argument");
  struct db *db = NULL;
  int rc = db_open(db_path, DB_READONLY, &db);
  if (rc != AT_OK)
    return rc;
  struct meas_replay *r = calloc(1, sizeof *r);
  if (!r) {
    db_close(db);
    return at_error(AT_NOMEM, "out of memory");
  }
  struct filter f = {.device = device, .kernel = kernel, .p = problem, .r = r};
  rc = db_each_trial(db, take, &f);
  if (rc == AT_OK)
    rc = f.rc;
  db_close(db);
  if (rc != AT_OK) {
    meas_replay_close(r);
    return rc;
  }
  *out = r;
  return AT_OK;
}

void meas_replay_close(struct meas_replay *r)
{
  if (!r)
    return;
  for (size_t i = 0; i < r->n; i++)
    free(r->recs[i].config);
  free(r->recs);
  free(r);
}

size_t meas_replay_count(const struct meas_replay *r)
{
  return r ? r->n : 0;
}

const char *meas_replay_config(const struct meas_replay *r, size_t i)
{
  return r && i < r->n ? r->recs[i].config : NULL;
}

int meas_replay_lookup(const struct meas_replay *r, const char *config,
                       struct meas_result *m)
{
  memset(m, 0, sizeof *m);
  m->median_us = m->min_us = m->max_us = m->spread = NAN;
  for (size_t i = 0; r && config && i < r->n; i++)
    if (strcmp(r->recs[i].config, config) == 0) {
      *m = r->recs[i].m;
      return AT_OK;
    }
  return at_error(AT_NOT_FOUND, "replay: no trial of config '%.200s' in the database",
                  config ? config : "(null)");
}

/* ---- coordinates from config texts ---- */

struct keyvals {
  char key[64];
  int64_t *vals;
  size_t n, cap;
};

static int cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Parse "K=V,K=V" into keys[]/vals[] (at most max pairs). Returns the count, -1 bad. */
static int split(const char *text, char keys[][64], int64_t *vals, int max)
{
  int n = 0;
  const char *p = text;
  while (*p) {
    const char *eq = strchr(p, '=');
    if (!eq || eq == p || eq - p >= 64 || n >= max)
      return -1;
    memcpy(keys[n], p, (size_t)(eq - p));
    keys[n][eq - p] = '\0';
    char *end;
    vals[n] = strtoll(eq + 1, &end, 10);
    if (end == eq + 1 || (*end && *end != ','))
      return -1;
    n++;
    p = *end ? end + 1 : end;
  }
  return n;
}

int meas_coords_from_configs(const char *const *configs, size_t n, int32_t **coords,
                             size_t *ndims)
{
  enum { MAXK = 64 };
  char keys[MAXK][64], k2[MAXK][64];
  int64_t vals[MAXK];
  struct keyvals kv[MAXK];
  int nk = -1, rc = AT_OK;
  memset(kv, 0, sizeof kv);
  *coords = NULL;
  *ndims = 0;
  for (size_t i = 0; i < n && rc == AT_OK; i++) {
    int c = split(configs[i], i ? k2 : keys, vals, MAXK);
    if (c < 0 || (i && c != nk)) {
      rc = at_error(AT_PARSE, "config '%.100s' is not like the others", configs[i]);
      break;
    }
    if (!i)
      nk = c;
    for (int j = 0; j < c && rc == AT_OK; j++) {
      if (i && strcmp(k2[j], keys[j]) != 0) {
        rc = at_error(AT_PARSE, "config '%.100s' has other keys", configs[i]);
        break;
      }
      struct keyvals *e = &kv[j];
      bool seen = false;
      for (size_t q = 0; q < e->n && !seen; q++)
        seen = e->vals[q] == vals[j];
      if (seen)
        continue;
      if ((rc = os_grow(&e->vals, &e->cap, e->n + 1, sizeof *e->vals, 8)))
        break;
      e->vals[e->n++] = vals[j];
    }
  }
  if (rc == AT_OK && nk > 0) {
    for (int j = 0; j < nk; j++)
      qsort(kv[j].vals, kv[j].n, sizeof *kv[j].vals, cmp_i64);
    int32_t *c = malloc(n * (size_t)nk * sizeof *c + 1);
    if (!c)
      rc = at_error(AT_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == AT_OK; i++) {
      split(configs[i], k2, vals, MAXK);
      for (int j = 0; j < nk; j++) {
        int64_t *hit = bsearch(&vals[j], kv[j].vals, kv[j].n, sizeof *hit, cmp_i64);
        c[i * (size_t)nk + (size_t)j] = (int32_t)(hit - kv[j].vals);
      }
    }
    if (rc == AT_OK) {
      *coords = c;
      *ndims = (size_t)nk;
    } else {
      free(c);
    }
  }
  for (int j = 0; j < MAXK; j++)
    free(kv[j].vals);
  return rc;
}
