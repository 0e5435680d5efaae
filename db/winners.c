/*
 * winners.c - every winner of an op on one device (one per template and problem), for
 * the tuned-header emitter. Per problem they come best first in query.c's order (least
 * median time, then the lower trial id), and problems in query.c's tie order (problem
 * id), so the first winner of each problem is what `autotune query` picks.
 */
#include <stdio.h>
#include <string.h>

#include "db/internal.h"
#include "base/status.h"

static const char each_best_sql[] =
    "SELECT p.id, p.dtype, p.layout, p.dim_names, p.d0, p.d1, p.d2, p.d3, p.d4, p.d5, p.d6, "
    "p.d7, k.template, k.content_hash, c.text, w.time_median_us, t.created_at "
    "FROM devices d JOIN winners w ON w.device_id = d.id "
    "JOIN problems p ON p.id = w.problem_id JOIN trials t ON t.id = w.trial_id "
    "JOIN kernels k ON k.id = w.kernel_id JOIN configs c ON c.id = t.config_id "
    "WHERE d.name = ?1 AND p.op = ?2 "
    "ORDER BY p.dtype, p.layout, p.id, w.time_median_us, w.trial_id";

int db_each_winner(struct db *db, const char *device, const char *op, db_best_fn fn, void *ctx)
{
  if (!db || !device || !op || !fn)
    return at_error(AT_USAGE, "db_each_winner: NULL argument");
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, each_best_sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return db_sql_error(db, rc, "preparing the winners query");
  sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, op, -1, SQLITE_STATIC);
  int status = AT_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct db_best b;
    memset(&b, 0, sizeof b);
    b.problem_id = sqlite3_column_int64(st, 0);
    b.dtype = (const char *)sqlite3_column_text(st, 1);
    b.layout = (const char *)sqlite3_column_text(st, 2);
    b.dim_names = (const char *)sqlite3_column_text(st, 3);
    b.ndims = 1;
    for (const char *c = b.dim_names; c && *c; c++)
      b.ndims += *c == ',';
    if (b.ndims > AT_MAX_DIMS)
      b.ndims = AT_MAX_DIMS;
    for (int i = 0; i < b.ndims; i++)
      b.dims[i] = sqlite3_column_int64(st, 4 + i);
    b.kernel = (const char *)sqlite3_column_text(st, 12);
    b.kernel_hash = (const char *)sqlite3_column_text(st, 13);
    b.config = (const char *)sqlite3_column_text(st, 14);
    b.time_median_us = sqlite3_column_double(st, 15);
    b.created_at = (const char *)sqlite3_column_text(st, 16);
    if ((status = fn(ctx, &b)) != AT_OK)
      break;
  }
  if (status == AT_OK && rc != SQLITE_DONE)
    status = db_sql_error(db, rc, "reading winners");
  sqlite3_finalize(st);
  return status;
}

int db_op_names(struct db *db, const char *op, char *dim_names, size_t dim_len, char *dtype,
                size_t dtype_len)
{
  if (!db || !op || !dim_names || !dtype)
    return at_error(AT_USAGE, "db_op_names: NULL argument");
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, "SELECT dim_names, dtype FROM problems WHERE op = ?1 "
                              "ORDER BY id LIMIT 1", -1, &st, NULL);
  if (rc != SQLITE_OK)
    return db_sql_error(db, rc, "preparing the op lookup");
  sqlite3_bind_text(st, 1, op, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  int status = AT_OK;
  if (rc == SQLITE_ROW) {
    snprintf(dim_names, dim_len, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(dtype, dtype_len, "%s", (const char *)sqlite3_column_text(st, 1));
  } else if (rc == SQLITE_DONE) {
    status = at_error(AT_NOT_FOUND, "unknown op '%.60s': expected gemm, or the kernel name "
                      "of a template tuned with autotune tune into '%.200s'", op, db->path);
  } else {
    status = db_sql_error(db, rc, "looking up an op");
  }
  sqlite3_finalize(st);
  return status;
}
