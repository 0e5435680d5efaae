/*
 * stats.c - counting what a tuning database holds, and checking its health: SQLite's
 * own integrity and foreign-key checks, then the winners table against a recomputation
 * from the trials (invariant 2 of open.c).
 */
#include <stddef.h>
#include <string.h>

#include "db/internal.h"
#include "base/status.h"

static int count(struct db *db, const char *sql, int64_t *out)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    *out = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? AT_OK : db_sql_error(db, rc, "counting");
}

int db_stats(struct db *db, struct db_stats *out)
{
  memset(out, 0, sizeof *out);
  out->schema_version = db->version;
  static const struct {
    const char *sql;
    size_t off;
  } counts[] = {
      {"SELECT count(*) FROM runs", offsetof(struct db_stats, runs)},
      {"SELECT count(*) FROM devices", offsetof(struct db_stats, devices)},
      {"SELECT count(*) FROM kernels", offsetof(struct db_stats, kernels)},
      {"SELECT count(*) FROM problems", offsetof(struct db_stats, problems)},
      {"SELECT count(*) FROM configs", offsetof(struct db_stats, configs)},
      {"SELECT count(*) FROM trials", offsetof(struct db_stats, trials)},
      {"SELECT count(*) FROM winners", offsetof(struct db_stats, winners)},
  };
  int rc = AT_OK;
  for (size_t i = 0; rc == AT_OK && i < sizeof counts / sizeof counts[0]; i++)
    rc = count(db, counts[i].sql, (int64_t *)((char *)out + counts[i].off));
  if (rc != AT_OK)
    return rc;
  sqlite3_stmt *st = NULL;
  int src = sqlite3_prepare_v2(db->h, "SELECT status, count(*) FROM trials GROUP BY status",
                               -1, &st, NULL);
  while (src == SQLITE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
    int s = db_trial_status_parse((const char *)sqlite3_column_text(st, 0));
    if (s >= 0)
      out->by_status[s] = sqlite3_column_int64(st, 1);
    src = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return src == SQLITE_DONE ? AT_OK : db_sql_error(db, src, "counting trials");
}

int db_check(struct db *db, int64_t *problems, char *msg, size_t msg_len)
{
  *problems = 0;
  msg[0] = '\0';
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, "PRAGMA integrity_check", -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *line = (const char *)sqlite3_column_text(st, 0);
    if (strcmp(line, "ok") != 0) {
      if (++*problems == 1)
        snprintf(msg, msg_len, "integrity: %s", line);
    }
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return db_sql_error(db, rc, "checking integrity");
  int64_t n = 0;
  int ar = count(db, "SELECT count(*) FROM pragma_foreign_key_check", &n);
  if (ar != AT_OK)
    return ar;
  if (n > 0 && (*problems += n) == n)
    snprintf(msg, msg_len, "%lld rows name a missing row of another table", (long long)n);
  /* Winners recomputed: per (device, kernel, problem) the least time, earliest id. */
  ar = count(db,
             "WITH best AS (SELECT device_id, kernel_id, problem_id, id AS trial_id, "
             "time_median_us, row_number() OVER (PARTITION BY device_id, kernel_id, "
             "problem_id ORDER BY time_median_us, id) AS rk FROM trials WHERE status = 'ok') "
             "SELECT (SELECT count(*) FROM best b WHERE rk = 1 AND NOT EXISTS (SELECT 1 "
             "FROM winners w WHERE w.device_id = b.device_id AND w.kernel_id = b.kernel_id "
             "AND w.problem_id = b.problem_id AND w.trial_id = b.trial_id)) + "
             "(SELECT count(*) FROM winners w WHERE NOT EXISTS (SELECT 1 FROM best b "
             "WHERE rk = 1 AND w.device_id = b.device_id AND w.kernel_id = b.kernel_id "
             "AND w.problem_id = b.problem_id AND w.trial_id = b.trial_id))",
             &n);
  if (ar != AT_OK)
    return ar;
  if (n != 0) {
    if (*problems == 0)
      snprintf(msg, msg_len, "%lld winners differ from the best ok trials", (long long)n);
    *problems += n;
  }
  return AT_OK;
}
