/*
 * api.c - the public C API (include/autotune/autotune.h): a read-only database handle
 * and best-config lookups. It resolves the device through the profile table and asks
 * the handle's in-memory index (db/index.c), loaded at open, which answers as
 * db_query_best (what `autotune query` runs) does, without SQL: a snapshot, shared by
 * the threads that look up through the handle; at_db_refresh loads a new one and swaps
 * it in under the lookups (the note at struct at_db).
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "db/db.h"
#include "base/status.h"

/* Lookups on one handle run while at_db_refresh swaps the snapshot (autotune.h): a
 * reader counts itself in on one of READER_STRIPES counters (chosen by its thread, each
 * on its own cache line so that threads do not share one), then loads the snapshot;
 * the refresher swaps the pointer, then waits until every counter has been seen at
 * zero before it frees the old snapshot. A reader that counted itself in before the
 * swap is seen by that wait (all of it sequentially consistent), and one that counts
 * itself in after loads the new snapshot. A lookup is a few hundred nanoseconds, so the
 * wait is short; refreshes of one handle queue on a mutex. */
#define READER_STRIPES 16
#define CACHE_LINE 64
struct stripe {
  _Alignas(CACHE_LINE) atomic_uint n;
};

struct at_db {
  struct stripe readers[READER_STRIPES];
  _Atomic(struct db_index *) ix;
  pthread_mutex_t refresh;
  struct db *db;
};

struct at_config {
  at_match match;
  int ndims, nparams;
  int64_t dims[AT_MAX_DIMS];
  double time_us, distance;
  const char *config, *kernel, *device; /* into text */
  char text[]; /* config, NUL, its split copy (NUL-separated KEY=VALUE pairs), NUL,
                * kernel, NUL, device, NUL */
};

static unsigned stripe_of(void)
{
  uint64_t t = (uint64_t)(uintptr_t)pthread_self();
  return (unsigned)(((t >> 12) * 0x9e3779b97f4a7c15ull) >> 60) % READER_STRIPES;
}

at_problem at_problem_gemm(const char *dtype, const char *layout, int64_t m, int64_t n,
                           int64_t k)
{
  at_problem p = {.op = "gemm", .dtype = dtype, .layout = layout, .ndims = 3};
  p.dim_names[0] = "m", p.dim_names[1] = "n", p.dim_names[2] = "k";
  p.dims[0] = m, p.dims[1] = n, p.dims[2] = k;
  return p;
}

int at_problem_gemm_call(at_problem *out, const char *dtype, const char *layout, int64_t m,
                         int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,
                         int64_t batch)
{
  if (!out)
    return at_error(AT_USAGE, "at_problem_gemm_call needs somewhere to put the problem");
  memset(out, 0, sizeof *out);
  struct db_problem p;
  int rc = db_problem_gemm(&p, dtype, layout, m, n, k, lda, ldb, ldc, batch);
  if (rc != AT_OK)
    return rc;
  out->op = p.op, out->dtype = p.dtype, out->layout = p.layout, out->ndims = p.ndims;
  for (int i = 0; i < p.ndims; i++)
    out->dim_names[i] = p.dim_names[i], out->dims[i] = p.dims[i];
  return AT_OK;
}

int at_db_open(const char *path, at_db **out)
{
  if (!out)
    return at_error(AT_USAGE, "at_db_open needs somewhere to put the handle");
  *out = NULL;
  struct db *db = NULL;
  int rc = db_open(path, DB_READONLY, &db);
  if (rc != AT_OK)
    return rc;
  at_db *h = aligned_alloc(CACHE_LINE, (sizeof *h + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE);
  if (!h) {
    db_close(db);
    return at_error(AT_NOMEM, "out of memory");
  }
  memset(h, 0, sizeof *h);
  struct db_index *ix = NULL;
  if ((rc = db_index_load(db, &ix)) != AT_OK || pthread_mutex_init(&h->refresh, NULL) != 0) {
    db_index_free(ix);
    db_close(db);
    free(h);
    return rc != AT_OK ? rc : at_error(AT_NOMEM, "cannot create a mutex");
  }
  h->db = db;
  for (int i = 0; i < READER_STRIPES; i++)
    atomic_init(&h->readers[i].n, 0);
  atomic_init(&h->ix, ix);
  *out = h;
  return AT_OK;
}

int at_db_refresh(at_db *h)
{
  if (!h)
    return at_error(AT_USAGE, "at_db_refresh needs a database");
  pthread_mutex_lock(&h->refresh);
  struct db_index *ix = NULL;
  int rc = db_index_load(h->db, &ix);
  if (rc == AT_OK) {
    struct db_index *old = atomic_exchange(&h->ix, ix);
    for (int i = 0; i < READER_STRIPES; i++)
      while (atomic_load(&h->readers[i].n) != 0)
        sched_yield();
    db_index_free(old);
  }
  pthread_mutex_unlock(&h->refresh);
  return rc;
}

void at_db_close(at_db *h)
{
  if (!h)
    return;
  db_index_free(atomic_load(&h->ix));
  db_close(h->db);
  pthread_mutex_destroy(&h->refresh);
  free(h);
}

/* The config handle of a hit: one allocation, the hit's strings copied (the snapshot
 * may be freed by a refresh once the lookup is done). */
static at_config *config_of(const struct db_hit *hit)
{
  size_t dlen = strlen(hit->device);
  size_t size = 2 * (hit->config_len + 1) + hit->kernel_len + 1 + dlen + 1;
  at_config *c = malloc(sizeof *c + size);
  if (!c)
    return NULL;
  c->match = hit->match, c->ndims = hit->ndims;
  memcpy(c->dims, hit->dims, sizeof(int64_t) * (size_t)hit->ndims);
  c->time_us = hit->time_median_us, c->distance = hit->distance;
  char *t = c->text;
  c->config = t;
  memcpy(t, hit->config, hit->config_len + 1);
  t += hit->config_len + 1;
  char *params = t;
  t += hit->config_len + 1;
  memcpy(params, hit->params, hit->config_len + 1);
  c->nparams = hit->nparams;
  c->kernel = t;
  memcpy(t, hit->kernel, hit->kernel_len);
  t[hit->kernel_len] = '\0';
  t += hit->kernel_len + 1;
  c->device = t;
  memcpy(t, hit->device, dlen + 1);
  return c;
}

int at_best_config(at_db *h, const char *device, const at_problem *problem,
                   at_config **out)
{
  if (!out)
    return at_error(AT_USAGE, "at_best_config needs somewhere to put the config");
  *out = NULL;
  if (!h || !device || !problem)
    return at_error(AT_USAGE, "at_best_config needs a database, a device and a problem");
  at_error_clear();
  struct db_problem p = {.op = problem->op,
                         .dtype = problem->dtype,
                         .layout = problem->layout ? problem->layout : "",
                         .ndims = problem->ndims};
  if (p.ndims < 1 || p.ndims > AT_MAX_DIMS)
    return at_error(AT_USAGE, "a problem has 1 to %d dims, not %d", AT_MAX_DIMS, p.ndims);
  for (int i = 0; i < p.ndims; i++) {
    p.dim_names[i] = problem->dim_names[i];
    p.dims[i] = problem->dims[i];
  }
  unsigned s = stripe_of();
  atomic_fetch_add(&h->readers[s].n, 1);
  struct db_hit hit;
  int rc = db_index_lookup(atomic_load(&h->ix), device, &p, &hit);
  if (rc == AT_OK && !(*out = config_of(&hit)))
    rc = at_error(AT_NOMEM, "out of memory");
  atomic_fetch_sub_explicit(&h->readers[s].n, 1, memory_order_release);
  return rc;
}

void at_config_free(at_config *c)
{
  free(c);
}

const char *at_config_text(const at_config *c)
{
  return c->config;
}

const char *at_config_get(const at_config *c, const char *key)
{
  size_t klen = strlen(key);
  const char *s = c->config + strlen(c->config) + 1;
  for (int i = 0; i < c->nparams; i++, s += strlen(s) + 1)
    if (strncmp(s, key, klen) == 0 && s[klen] == '=')
      return s + klen + 1;
  return NULL;
}

int at_config_get_int(const at_config *c, const char *key, int64_t *value)
{
  const char *v = at_config_get(c, key);
  if (!v)
    return at_error(AT_NOT_FOUND, "config '%.200s' has no parameter '%.40s'", c->config,
                    key);
  char *end;
  long long x = strtoll(v, &end, 10);
  if (end == v || *end)
    return at_error(AT_PARSE, "parameter '%.40s' is '%.40s', not an integer", key, v);
  *value = x;
  return AT_OK;
}

at_match at_config_match(const at_config *c)
{
  return c->match;
}

const char *at_match_name(at_match match)
{
  switch (match) {
  case AT_MATCH_EXACT: return "exact";
  case AT_MATCH_NEAREST: return "nearest";
  case AT_MATCH_ARCH: return "arch";
  case AT_MATCH_VENDOR: return "vendor";
  }
  return "?";
}

const char *at_config_kernel(const at_config *c)
{
  return c->kernel;
}

const char *at_config_device(const at_config *c)
{
  return c->device;
}

int64_t at_config_dim(const at_config *c, int i)
{
  return i >= 0 && i < c->ndims ? c->dims[i] : 0;
}

double at_config_time_us(const at_config *c)
{
  return c->time_us;
}

double at_config_distance(const at_config *c)
{
  return c->distance;
}
