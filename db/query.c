/*
 * query.c - the best tuned configuration for a problem: the exact shape on the asked
 * device, else the nearest tuned shape there, else the same two steps over the other
 * devices of its arch, then of its vendor, a nearest shape only within
 * AT_NEAREST_MAX_DISTANCE. Used by `autotune query`, and (through db_query_rungs) by the
 * C API's in-memory index, so the two always agree; tuned headers pick as they do
 * wherever a lookup answers (docs/database.md). Also the key of a gemm call
 * (db_problem_gemm), which the tuner records and the lookups ask.
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
#include "base/os.h"
#include "base/status.h"

/* ?1 op, ?2 dtype, ?3 layout, ?4 problem id (exact) or dim names (family), ?5 device,
 * ?6 arch, ?7 vendor; one statement per tier: this device, same arch, same vendor. */
#define EXACT_SQL(filter)                                                               \
  "SELECT d.name, k.template, c.text, w.time_median_us, t.tflops, t.uuid "               \
  "FROM devices d CROSS JOIN winners w INDEXED BY winners_by_problem "                    \
  "ON w.device_id = d.id AND w.problem_id = ?4 "                                          \
  "JOIN trials t ON t.id = w.trial_id JOIN kernels k ON k.id = w.kernel_id "              \
  "JOIN configs c ON c.id = t.config_id "                                                 \
  "WHERE ?1 IS NOT NULL AND ?2 IS NOT NULL AND ?3 IS NOT NULL "                           \
  "AND " filter " ORDER BY w.time_median_us, w.trial_id LIMIT 1"

#define FAMILY_SQL(filter)                                                              \
  "SELECT p.id, min(w.time_median_us), p.d0, p.d1, p.d2, p.d3, p.d4, p.d5, p.d6, p.d7 "  \
  "FROM devices d CROSS JOIN winners w ON w.device_id = d.id JOIN problems p ON p.id = " \
  "w.problem_id WHERE p.op = ?1 AND p.dtype = ?2 AND p.layout = ?3 AND p.dim_names = ?4 " \
  "AND " filter " GROUP BY p.id ORDER BY p.id"

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

void db_shape_logs(int ndims, const int64_t *dims, double *logs)
{
  for (int i = 0; i < ndims; i++)
    logs[i] = log((double)dims[i]);
}

void db_nearest_scan(const struct db_shape *e, size_t n, int ndims, const double *logs,
                     struct db_nearest *best)
{
  for (size_t i = 0; i < n; i++) {
    double d2 = db_shape_d2(ndims, logs, e[i].log_dims);
    if (db_nearest_better(d2, &e[i], best))
      *best = (struct db_nearest){.d2 = d2, .e = &e[i]};
  }
}

int db_problem_gemm(struct db_problem *p, const char *dtype, const char *layout, int64_t m,
                    int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc,
                    int64_t batch)
{
  memset(p, 0, sizeof *p);
  if (!dtype || !layout || strlen(layout) != 2 || !strchr("NT", layout[0]) ||
      !strchr("NT", layout[1]))
    return at_error(AT_USAGE, "bad gemm layout '%.20s' (expected NN, NT, TN or TT)",
                    layout ? layout : "(null)");
  if (m < 1 || n < 1 || k < 1)
    return at_error(AT_USAGE, "bad gemm shape %lldx%lldx%lld (expected dims of at least 1)",
                    (long long)m, (long long)n, (long long)k);
  static const char *const extra_names[] = {"lda", "ldb", "ldc", "batch"};
  const int64_t packed[] = {layout[0] == 'T' ? m : k, layout[1] == 'T' ? k : n, n, 1};
  const int64_t asked[] = {lda, ldb, ldc, batch};
  *p = (struct db_problem){.op = "gemm", .dtype = dtype, .layout = layout, .ndims = 3,
                           .dim_names = {"m", "n", "k"}, .dims = {m, n, k}};
  for (int i = 0; i < 4; i++) {
    if (asked[i] == 0 || asked[i] == packed[i])
      continue;
    if (asked[i] < packed[i])
      return at_error(AT_USAGE, "bad gemm %s %lld (expected at least %lld, %s; 0 means %s)",
                      extra_names[i], (long long)asked[i], (long long)packed[i],
                      i < 3 ? "the packed one" : "one product", i < 3 ? "packed" : "one");
    p->dim_names[p->ndims] = extra_names[i];
    p->dims[p->ndims++] = asked[i];
  }
  return AT_OK;
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

/*
 * The family cache. Nearest-shape lookups compare the asked shape with every tuned
 * shape of its family; reading those through SQLite on each lookup costs ~1 us a row,
 * so each family (tier, device/arch/vendor, op, dtype, layout, dim names) is read once
 * into memory and kept while the file is unchanged: PRAGMA data_version moves when
 * another connection commits, sqlite3_total_changes when this one writes.
 */
struct db_family {
  char *key;
  struct db_shape *e;
  size_t n;
};

void db_query_cache_release(struct db *db)
{
  for (size_t i = 0; i < db->nfamilies; i++) {
    free(db->families[i].key);
    free(db->families[i].e);
  }
  free(db->families);
  db->families = NULL;
  db->nfamilies = 0;
}

/* Drop the cache if the file changed since it was filled. */
static int cache_check(struct db *db)
{
  sqlite3_stmt *st = db_stmt_sql(db, STMT_DATA_VERSION, "PRAGMA data_version");
  if (!st)
    return AT_SQL;
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return db_sql_error(db, rc, "reading the data version");
  }
  int64_t version = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  int64_t changes = sqlite3_total_changes64(db->h);
  if (version != db->cache_data_version || changes != db->cache_changes) {
    db_query_cache_release(db);
    db->cache_data_version = version;
    db->cache_changes = changes;
  }
  return AT_OK;
}

static char *family_key(int tier, const struct db_query *q, const char *names)
{
  const struct db_problem *p = q->problem;
  const char *parts[] = {q->device ? q->device : "", q->arch ? q->arch : "",
                         q->vendor ? q->vendor : "", p->op, p->dtype,
                         p->layout ? p->layout : "", names};
  size_t len = 4;
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
    len += strlen(parts[i]) + 1;
  char *key = malloc(len), *k = key;
  if (!key)
    return NULL;
  k += sprintf(k, "%d", tier);
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
    k += sprintf(k, "\x1f%s", parts[i]);
  return key;
}

static int family_load(struct db *db, int tier, const struct db_query *q, const char *names,
                       struct db_family *f)
{
  sqlite3_stmt *st = db_stmt_sql(db, STMT_QUERY_FAMILY + tier, family_sql[tier]);
  if (!st)
    return AT_SQL;
  bind_common(st, q, names);
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if ((rc = os_grow(&f->e, &cap, f->n + 1, sizeof *f->e, 64)) != AT_OK) {
      sqlite3_reset(st);
      return rc;
    }
    struct db_shape *e = &f->e[f->n++];
    e->pid = sqlite3_column_int64(st, 0);
    e->time = sqlite3_column_double(st, 1);
    e->ref = 0;
    for (int i = 0; i < q->problem->ndims; i++)
      e->dims[i] = sqlite3_column_int64(st, 2 + i);
    db_shape_logs(q->problem->ndims, e->dims, e->log_dims);
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? AT_OK : db_sql_error(db, rc, "querying tuned shapes");
}

/* The family of a tier, from the cache or read now. OUT: *out (owned by the cache). */
static int family_get(struct db *db, int tier, const struct db_query *q, const char *names,
                      const struct db_family **out)
{
  char *key = family_key(tier, q, names);
  if (!key)
    return at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < db->nfamilies; i++)
    if (strcmp(db->families[i].key, key) == 0) {
      free(key);
      *out = &db->families[i];
      return AT_OK;
    }
  struct db_family f = {.key = key};
  int rc = family_load(db, tier, q, names, &f);
  struct db_family *grown = rc == AT_OK
      ? realloc(db->families, (db->nfamilies + 1) * sizeof *grown) : NULL;
  if (!grown) {
    free(f.key);
    free(f.e);
    return rc != AT_OK ? rc : at_error(AT_NOMEM, "out of memory");
  }
  db->families = grown;
  db->families[db->nfamilies] = f;
  *out = &db->families[db->nfamilies++];
  return AT_OK;
}

/* The nearest problem of the family with a winner in this tier. */
static int nearest_problem(struct db *db, int tier, const struct db_query *q,
                           const char *names, int64_t *pid, int64_t *dims, double *dist)
{
  const struct db_family *f = NULL;
  int rc = family_get(db, tier, q, names, &f);
  if (rc != AT_OK)
    return rc;
  const struct db_problem *p = q->problem;
  double logs[AT_MAX_DIMS];
  db_shape_logs(p->ndims, p->dims, logs);
  struct db_nearest best = DB_NEAREST_NONE;
  db_nearest_scan(f->e, f->n, p->ndims, logs, &best);
  const struct db_shape *win = best.e;
  if (!win)
    return AT_NOT_FOUND;
  *pid = win->pid;
  memcpy(dims, win->dims, sizeof(int64_t) * (size_t)p->ndims);
  *dist = sqrt(best.d2);
  return AT_OK;
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

/* The SQL path's rungs: statements, and query.c's family cache. */
static int sql_exact_pid(void *ctx, const struct db_problem *p, const char *dims,
                         int64_t *pid)
{
  return exact_problem_id(ctx, p, dims, pid);
}

static int sql_best_of(void *ctx, int tier, const struct db_query *q, int64_t pid,
                       void *out)
{
  return best_of_problem(ctx, tier, q, pid, out);
}

static int sql_nearest(void *ctx, int tier, const struct db_query *q, int64_t *pid,
                       int64_t *dims, double *dist)
{
  const struct db_problem *p = q->problem;
  char names[256];
  names[0] = '\0';
  for (int i = 0; i < p->ndims; i++) {
    size_t n = strlen(names);
    snprintf(names + n, sizeof names - n, "%s%s", i ? "," : "", p->dim_names[i]);
  }
  return nearest_problem(ctx, tier, q, names, pid, dims, dist);
}

int db_query_check(const struct db_problem *p)
{
  if (!p || !p->op || !p->dtype || p->ndims < 1 || p->ndims > AT_MAX_DIMS)
    return at_error(AT_USAGE, "a query needs an op, a dtype and 1 to %d dims", AT_MAX_DIMS);
  for (int i = 0; i < p->ndims; i++)
    if (!p->dim_names[i] || p->dims[i] < 1)
      return at_error(AT_USAGE, "dim %d of the query is missing or below 1", i);
  return AT_OK;
}

int db_query_rungs(const struct db_rungs *r, const struct db_query *q, const char *dims,
                   void *out, struct db_rung *rung)
{
  const struct db_problem *p = q->problem;
  rung->refused = -1;
  int64_t exact_pid = 0;
  int rc = r->exact_pid(r->ctx, p, dims, &exact_pid);
  bool have_exact = rc == AT_OK;
  if (rc != AT_OK && rc != AT_NOT_FOUND)
    return rc;
  rc = AT_NOT_FOUND;
  for (int tier = 0; tier < 3 && rc == AT_NOT_FOUND; tier++) {
    if ((tier == 0 && !q->device) || (tier == 1 && !q->arch) || (tier == 2 && !q->vendor))
      continue;
    /* tier 1 without a device is the asked arch itself: exact or nearest, no fallback */
    bool own = tier == 0 || (tier == 1 && !q->device);
    at_match fallback = tier == 1 ? AT_MATCH_ARCH : AT_MATCH_VENDOR;
    if (have_exact) {
      rc = r->best_of(r->ctx, tier, q, exact_pid, out);
      if (rc == AT_OK) {
        rung->match = own ? AT_MATCH_EXACT : fallback;
        rung->distance = 0;
        memcpy(rung->dims, p->dims, sizeof(int64_t) * (size_t)p->ndims);
        break;
      }
      if (rc != AT_NOT_FOUND)
        break;
    }
    int64_t pid = 0;
    double dist = 0;
    rc = r->nearest(r->ctx, tier, q, &pid, rung->dims, &dist);
    if (rc == AT_OK && dist > AT_NEAREST_MAX_DISTANCE) {
      if (rung->refused < 0 || dist < rung->refused)
        rung->refused = dist;
      rc = AT_NOT_FOUND;
    }
    if (rc == AT_OK)
      rc = r->best_of(r->ctx, tier, q, pid, out);
    if (rc == AT_OK) {
      rung->match = own ? AT_MATCH_NEAREST : fallback;
      rung->distance = dist;
    }
  }
  return rc;
}

int db_query_not_found(const struct db_query *q, const char *dims, const char *path,
                       double refused)
{
  const struct db_problem *p = q->problem;
  char why[128] = "";
  if (refused >= 0)
    snprintf(why, sizeof why, " (the nearest tuned shape is at distance %.3g, past the "
             "limit %.3g)", refused, AT_NEAREST_MAX_DISTANCE);
  return at_error(AT_NOT_FOUND, "no tuned %s %s %s%s%s for device '%.60s', its arch or its "
                  "vendor in '%.200s'%s", p->op, p->dtype, p->layout && p->layout[0] ? p->layout : "",
                  p->layout && p->layout[0] ? " " : "", dims,
                  q->device ? q->device : q->arch ? q->arch : "?", path, why);
}

int db_query_best(struct db *db, const struct db_query *q, struct db_match *out)
{
  memset(out, 0, sizeof *out);
  int rc = db_query_check(q->problem);
  if (rc != AT_OK)
    return rc;
  char *dims = db_problem_dims_text(q->problem);
  if (!dims)
    return at_error(AT_NOMEM, "out of memory");
  const struct db_rungs sql = {.ctx = db, .exact_pid = sql_exact_pid, .best_of = sql_best_of,
                               .nearest = sql_nearest};
  struct db_rung rung = {.refused = -1};
  rc = cache_check(db);
  if (rc == AT_OK)
    rc = db_query_rungs(&sql, q, dims, out, &rung);
  if (rc == AT_OK) {
    out->match = rung.match;
    out->distance = rung.distance;
    out->ndims = q->problem->ndims;
    memcpy(out->dims, rung.dims, sizeof out->dims);
  }
  if (rc == AT_NOT_FOUND && (rc = db_verify_pages(db)) == AT_OK)
    rc = db_query_not_found(q, dims, db->path, rung.refused);
  free(dims);
  if (rc != AT_OK)
    db_match_release(out);
  return rc;
}
