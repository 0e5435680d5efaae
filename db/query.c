/*
 * query.c - the best tuned configuration for a problem: the exact shape on the asked
 * device, else the nearest tuned shape there, else the same two steps over the other
 * devices of its arch, then of its vendor. Used by `autotune query`, the C API and the
 * tuned-header dispatch, so all three always agree.
 *
 * Distance (docs/database.md): shapes are compared only within a family (same op,
 * dtype, layout and dim names); d(a, b) = sqrt(sum_i ln(a_i / b_i)^2), the Euclidean
 * distance of the shapes in log space, so 2048 vs 4096 is as far as 4096 vs 8192 (the
 * ratio distance of Tensile's nearest-size lookup, on a log scale). Ties go to the
 * faster winner, then to the earlier recorded problem.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"
#include "tuner/status.h"

/* ?1 op, ?2 dtype, ?3 layout, ?4 problem id (exact) or dim names (family), ?5 device,
 * ?6 arch, ?7 vendor; one statement per tier: this device, same arch, same vendor. */
#define EXACT_SQL(filter)                                                               \
  "SELECT d.name, k.template, c.text, w.time_median_us, t.tflops, t.uuid "               \
  "FROM winners w JOIN devices d ON d.id = w.device_id JOIN trials t ON t.id = "         \
  "w.trial_id JOIN kernels k ON k.id = w.kernel_id JOIN configs c ON c.id = t.config_id " \
  "WHERE w.problem_id = ?4 AND ?1 IS NOT NULL AND ?2 IS NOT NULL AND ?3 IS NOT NULL "    \
  "AND " filter " ORDER BY w.time_median_us, w.trial_id LIMIT 1"

#define FAMILY_SQL(filter)                                                              \
  "SELECT p.id, min(w.time_median_us), p.d0, p.d1, p.d2, p.d3, p.d4, p.d5, p.d6, p.d7 "  \
  "FROM problems p JOIN winners w ON w.problem_id = p.id JOIN devices d ON d.id = "      \
  "w.device_id WHERE p.op = ?1 AND p.dtype = ?2 AND p.layout = ?3 AND p.dim_names = ?4 " \
  "AND " filter " GROUP BY p.id"

static const char *const exact_sql[3] = {
    EXACT_SQL("d.name = ?5"),
    EXACT_SQL("d.arch = ?6 AND d.name IS NOT ?5"),
    EXACT_SQL("d.vendor = ?7 AND d.arch IS NOT ?6"),
};
static const char *const family_sql[3] = {
    FAMILY_SQL("d.name = ?5"),
    FAMILY_SQL("d.arch = ?6 AND d.name IS NOT ?5"),
    FAMILY_SQL("d.vendor = ?7 AND d.arch IS NOT ?6"),
};

double db_shape_distance(int ndims, const int64_t *a, const int64_t *b)
{
  double s = 0;
  for (int i = 0; i < ndims; i++) {
    double r = log((double)a[i] / (double)b[i]);
    s += r * r;
  }
  return sqrt(s);
}

void db_match_release(struct db_match *m)
{
  if (!m)
    return;
  free(m->config);
  m->config = NULL;
}

static void bind_common(sqlite3_stmt *st, const struct db_query *q, const char *names)
{
  const struct db_problem *p = q->problem;
  sqlite3_bind_text(st, 1, p->op, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, p->dtype, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, p->layout ? p->layout : "", -1, SQLITE_STATIC);
  if (names)
    sqlite3_bind_text(st, 4, names, -1, SQLITE_STATIC);
  if (q->device)
    sqlite3_bind_text(st, 5, q->device, -1, SQLITE_STATIC);
  if (q->arch)
    sqlite3_bind_text(st, 6, q->arch, -1, SQLITE_STATIC);
  if (q->vendor)
    sqlite3_bind_text(st, 7, q->vendor, -1, SQLITE_STATIC);
}

/* The best winner of problem `pid` in a tier. AT_NOT_FOUND when it has none there. */
static int best_of_problem(struct db *db, int tier, const struct db_query *q, int64_t pid,
                           struct db_match *out)
{
  sqlite3_stmt *st = db_stmt_sql(db, STMT_QUERY_EXACT + tier, exact_sql[tier]);
  if (!st)
    return AT_SQL;
  bind_common(st, q, NULL);
  sqlite3_bind_int64(st, 4, pid);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? AT_NOT_FOUND : db_sql_error(db, rc, "querying winners");
  }
  snprintf(out->device, sizeof out->device, "%s", sqlite3_column_text(st, 0));
  snprintf(out->kernel, sizeof out->kernel, "%s", sqlite3_column_text(st, 1));
  out->config = strdup((const char *)sqlite3_column_text(st, 2));
  out->time_median_us = sqlite3_column_double(st, 3);
  out->tflops = sqlite3_column_type(st, 4) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 4);
  snprintf(out->trial_uuid, sizeof out->trial_uuid, "%s", sqlite3_column_text(st, 5));
  sqlite3_reset(st);
  return out->config ? AT_OK : at_error(AT_NOMEM, "out of memory");
}

/* The nearest problem of the family with a winner in this tier. */
static int nearest_problem(struct db *db, int tier, const struct db_query *q,
                           const char *names, int64_t *pid, int64_t *dims, double *dist)
{
  sqlite3_stmt *st = db_stmt_sql(db, STMT_QUERY_FAMILY + tier, family_sql[tier]);
  if (!st)
    return AT_SQL;
  bind_common(st, q, names);
  const struct db_problem *p = q->problem;
  double best = INFINITY, best_time = INFINITY;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t cand[AT_MAX_DIMS];
    for (int i = 0; i < p->ndims; i++)
      cand[i] = sqlite3_column_int64(st, 2 + i);
    double d = db_shape_distance(p->ndims, p->dims, cand);
    double t = sqlite3_column_double(st, 1);
    if (d < best || (d == best && t < best_time)) {
      best = d;
      best_time = t;
      *pid = sqlite3_column_int64(st, 0);
      memcpy(dims, cand, sizeof(int64_t) * (size_t)p->ndims);
    }
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE)
    return db_sql_error(db, rc, "querying tuned shapes");
  *dist = best;
  return isinf(best) ? AT_NOT_FOUND : AT_OK;
}

static int exact_problem_id(struct db *db, const struct db_problem *p, const char *dims,
                            int64_t *pid)
{
  sqlite3_stmt *st = db_stmt(db, STMT_PROBLEM_GET);
  if (!st)
    return AT_SQL;
  sqlite3_bind_text(st, 1, p->op, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, p->dtype, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, p->layout ? p->layout : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, dims, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *pid = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW)
    return AT_OK;
  return rc == SQLITE_DONE ? AT_NOT_FOUND : db_sql_error(db, rc, "looking up a problem");
}

int db_query_best(struct db *db, const struct db_query *q, struct db_match *out)
{
  memset(out, 0, sizeof *out);
  const struct db_problem *p = q->problem;
  if (!p || !p->op || !p->dtype || p->ndims < 1 || p->ndims > AT_MAX_DIMS)
    return at_error(AT_USAGE, "a query needs an op, a dtype and 1 to %d dims", AT_MAX_DIMS);
  for (int i = 0; i < p->ndims; i++)
    if (!p->dim_names[i] || p->dims[i] < 1)
      return at_error(AT_USAGE, "dim %d of the query is missing or below 1", i);
  char *dims = db_problem_dims_text(p);
  char names[256];
  names[0] = '\0';
  for (int i = 0; i < p->ndims; i++) {
    size_t n = strlen(names);
    snprintf(names + n, sizeof names - n, "%s%s", i ? "," : "", p->dim_names[i]);
  }
  if (!dims)
    return at_error(AT_NOMEM, "out of memory");
  int64_t exact_pid = 0;
  int rc = exact_problem_id(db, p, dims, &exact_pid);
  bool have_exact = rc == AT_OK;
  if (rc != AT_OK && rc != AT_NOT_FOUND)
    goto done;
  rc = AT_NOT_FOUND;
  for (int tier = 0; tier < 3 && rc == AT_NOT_FOUND; tier++) {
    if ((tier == 0 && !q->device) || (tier == 1 && !q->arch) || (tier == 2 && !q->vendor))
      continue;
    if (have_exact) {
      rc = best_of_problem(db, tier, q, exact_pid, out);
      if (rc == AT_OK) {
        out->match = tier == 0 || (tier == 1 && !q->device) ? AT_MATCH_EXACT
                     : tier == 1                            ? AT_MATCH_ARCH
                                                            : AT_MATCH_VENDOR;
        out->distance = 0;
        memcpy(out->dims, p->dims, sizeof(int64_t) * (size_t)p->ndims);
        break;
      }
      if (rc != AT_NOT_FOUND)
        break;
    }
    int64_t pid = 0;
    double dist = 0;
    rc = nearest_problem(db, tier, q, names, &pid, out->dims, &dist);
    if (rc == AT_OK)
      rc = best_of_problem(db, tier, q, pid, out);
    if (rc == AT_OK) {
      out->match = tier == 0 || (tier == 1 && !q->device) ? AT_MATCH_NEAREST
                   : tier == 1                            ? AT_MATCH_ARCH
                                                          : AT_MATCH_VENDOR;
      out->distance = dist;
    }
  }
  if (rc == AT_OK)
    out->ndims = p->ndims;
  else if (rc == AT_NOT_FOUND)
    rc = at_error(AT_NOT_FOUND, "no tuned %s %s %s%s%s for device '%.60s', its arch or its "
                  "vendor in '%.200s'", p->op, p->dtype, p->layout && p->layout[0] ? p->layout : "",
                  p->layout && p->layout[0] ? " " : "", dims,
                  q->device ? q->device : q->arch ? q->arch : "?", db->path);
done:
  free(dims);
  if (rc != AT_OK)
    db_match_release(out);
  return rc;
}
