/*
 * api.c - the public C API (include/autotune/autotune.h): a read-only database handle
 * and best-config lookups. It resolves the device through the profile table and asks
 * the handle's in-memory index (db/index.c), loaded at open, which answers as
 * db_query_best (what `autotune query` runs) does, without SQL: a snapshot, shared by
 * the threads that look up through the handle; at_db_refresh loads a new one.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "autotune/autotune.h"
#include "db/db.h"
#include "base/device.h"
#include "base/status.h"

struct at_db {
  struct db *db;
  struct db_index *ix;
};

struct at_config {
  struct db_match m;
  int nparams;
  char params[];      /* config text split into NUL-separated KEY=VALUE pairs */
};

at_problem at_problem_gemm(const char *dtype, const char *layout, int64_t m, int64_t n,
                           int64_t k)
{
  at_problem p = {.op = "gemm", .dtype = dtype, .layout = layout, .ndims = 3};
  p.dim_names[0] = "m", p.dim_names[1] = "n", p.dim_names[2] = "k";
  p.dims[0] = m, p.dims[1] = n, p.dims[2] = k;
  return p;
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
  at_db *h = malloc(sizeof *h);
  if (!h) {
    db_close(db);
    return at_error(AT_NOMEM, "out of memory");
  }
  h->db = db;
  rc = db_index_load(db, &h->ix);
  if (rc != AT_OK) {
    db_close(db);
    free(h);
    return rc;
  }
  *out = h;
  return AT_OK;
}

int at_db_refresh(at_db *h)
{
  if (!h)
    return at_error(AT_USAGE, "at_db_refresh needs a database");
  struct db_index *ix = NULL;
  int rc = db_index_load(h->db, &ix);
  if (rc != AT_OK)
    return rc;
  db_index_free(h->ix);
  h->ix = ix;
  return AT_OK;
}

void at_db_close(at_db *h)
{
  if (!h)
    return;
  db_index_free(h->ix);
  db_close(h->db);
  free(h);
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
  struct db_query q = {.device = device, .problem = &p};
  const struct dev_profile *prof = dev_find(device);
  if (prof) {
    bool by_arch = strcasecmp(device, prof->name) != 0;
    q.device = by_arch ? NULL : prof->name;
    q.arch = prof->arch;
    q.vendor = dev_vendor_name(prof->vendor);
  }
  /* A device with no profile may still be in the database under its own name. */
  struct db_match m;
  int rc = db_index_best(h->ix, &q, &m);
  if (rc != AT_OK)
    return rc;
  /* One allocation for the handle and its split copy of the text: a lookup is a few
   * hundred nanoseconds, of which malloc is a visible part. */
  size_t len = strlen(m.config);
  at_config *c = malloc(sizeof *c + len + 1);
  if (!c) {
    db_match_release(&m);
    return at_error(AT_NOMEM, "out of memory");
  }
  c->m = m;
  memcpy(c->params, m.config, len + 1);
  c->nparams = 1;
  for (char *s = c->params; *s; s++)
    if (*s == ',')
      *s = '\0', c->nparams++;
  *out = c;
  return AT_OK;
}

void at_config_free(at_config *c)
{
  if (!c)
    return;
  db_match_release(&c->m);
  free(c);
}

const char *at_config_text(const at_config *c)
{
  return c->m.config;
}

const char *at_config_get(const at_config *c, const char *key)
{
  size_t klen = strlen(key);
  const char *s = c->params;
  for (int i = 0; i < c->nparams; i++, s += strlen(s) + 1)
    if (strncmp(s, key, klen) == 0 && s[klen] == '=')
      return s + klen + 1;
  return NULL;
}

int at_config_get_int(const at_config *c, const char *key, int64_t *value)
{
  const char *v = at_config_get(c, key);
  if (!v)
    return at_error(AT_NOT_FOUND, "config '%.200s' has no parameter '%.40s'", c->m.config,
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
  return c->m.match;
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
  return c->m.kernel;
}

const char *at_config_device(const at_config *c)
{
  return c->m.device;
}

int64_t at_config_dim(const at_config *c, int i)
{
  return i >= 0 && i < c->m.ndims ? c->m.dims[i] : 0;
}

double at_config_time_us(const at_config *c)
{
  return c->m.time_median_us;
}
