/*
 * stats.c - counting what a tuning database holds, and checking its health: SQLite's
 * own integrity and foreign-key checks, the winners against a recomputation from the
 * trials (invariant 2 of open.c, their times included), one trial per config in a run,
 * and configs that parse. Damage SQLite reports while checking is a problem found, not
 * a failure of the check. Also the guards that keep a damaged file from reading as a
 * smaller or empty one (db_verify_pages, db_verify_count).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

int db_verify_pages(struct db *db)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, "PRAGMA quick_check(1)", -1, &st, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *line = (const char *)sqlite3_column_text(st, 0);
    if (line && strcmp(line, "ok") != 0) {
      char one[256];
      snprintf(one, sizeof one, "%s", line);
      for (char *c = one; *c; c++)
        if (*c == '\n')
          *c = ' ';
      rc = at_error(AT_DB_CORRUPT, "database '%.200s' is corrupt (%s): "
                    "'autotune db check' lists what is damaged", db->path, one);
    }
    else
      rc = AT_OK;
  } else if (rc != AT_OK) {
    rc = db_sql_error(db, rc, "checking its pages");
  }
  sqlite3_finalize(st);
  return rc;
}

int db_verify_count(struct db *db, const char *table, int64_t seen)
{
  char sql[160];
  int64_t indexed = 0, scanned = 0;
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  int rc = count(db, sql, &indexed);
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s NOT INDEXED", table);
  if (rc == AT_OK)
    rc = count(db, sql, &scanned);
  if (rc == AT_OK && (indexed != seen || scanned != seen))
    rc = at_error(AT_DB_CORRUPT, "database '%.200s' is corrupt: it holds %lld %s by its "
                  "index and %lld by its table, and %lld were read: "
                  "'autotune db check' lists what is damaged", db->path,
                  (long long)indexed, table, (long long)scanned, (long long)seen);
  return rc;
}

static int stats(struct db *db, struct db_stats *out)
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
  if (src != SQLITE_DONE)
    return db_sql_error(db, src, "counting trials");
  /* count(*) reads an index: a table that lost a page would still count in full */
  rc = db_verify_count(db, "runs", out->runs);
  return rc == AT_OK ? db_verify_count(db, "trials", out->trials) : rc;
}

int db_stats(struct db *db, struct db_stats *out)
{
  bool own; /* every count of one snapshot, however many tuners commit meanwhile */
  int rc = db_read_begin(db, &own);
  if (rc == AT_OK)
    rc = stats(db, out);
  db_read_end(db, own);
  return rc;
}

/* db_check's tally: problems found, the first one described. */
struct tally {
  int64_t n;
  char *msg;
  size_t len;
};

static void found(struct tally *t, int64_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void found(struct tally *t, int64_t n, const char *fmt, ...)
{
  if (n <= 0)
    return;
  if (t->n == 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, t->len, fmt, ap);
    va_end(ap);
    for (char *c = t->msg; *c; c++) /* SQLite's reports span lines; ours is one */
      if (*c == '\n')
        *c = ' ';
  }
  t->n += n;
}

/* A check's query failed: damage SQLite reports while reading is a problem found (the
 * file is what is being checked); anything else fails the check itself. */
static int failed(struct db *db, struct tally *t, int rc, const char *doing)
{
  rc = db_sql_error(db, rc, doing);
  if (rc != AT_DB_CORRUPT)
    return rc;
  found(t, 1, "%s: %s", doing, sqlite3_errmsg(db->h));
  return AT_OK;
}

/* A count(*) check: its rows are problems, described by `what`. */
static int check_count(struct db *db, struct tally *t, const char *sql, const char *what)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
  int64_t n = 0;
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_OK)
    return failed(db, t, rc, what);
  found(t, n, "%lld %s", (long long)n, what);
  return AT_OK;
}

/* The checks after SQLite's own: each a count of the rows that break an invariant of
 * docs/database.md. */
static const struct {
  const char *what, *sql;
} checks[] = {
    {"rows name a missing row of another table (foreign keys)",
     "SELECT count(*) FROM pragma_foreign_key_check"},
    /* Invariant 2: per (device, kernel, problem) the ok trial of least time, earliest id. */
    {"winners differ from the best ok trials",
     "WITH best AS (SELECT device_id, kernel_id, problem_id, id AS trial_id, "
     "row_number() OVER (PARTITION BY device_id, kernel_id, problem_id "
     "ORDER BY time_median_us, id) AS rk FROM trials WHERE status = 'ok') "
     "SELECT (SELECT count(*) FROM best b WHERE rk = 1 AND NOT EXISTS (SELECT 1 "
     "FROM winners w WHERE w.device_id = b.device_id AND w.kernel_id = b.kernel_id "
     "AND w.problem_id = b.problem_id AND w.trial_id = b.trial_id)) + "
     "(SELECT count(*) FROM winners w WHERE NOT EXISTS (SELECT 1 FROM best b "
     "WHERE rk = 1 AND w.device_id = b.device_id AND w.kernel_id = b.kernel_id "
     "AND w.problem_id = b.problem_id AND w.trial_id = b.trial_id))"},
    /* A winner's own copy of the time is what query ranks by: it must be its trial's. */
    {"winners hold a time other than their trial's",
     "SELECT count(*) FROM winners w JOIN trials t ON t.id = w.trial_id "
     "WHERE w.time_median_us IS NOT t.time_median_us"},
    /* A run measures a config once per problem: --resume skips what it recorded. */
    {"configs were recorded twice in one run (same device, kernel and problem)",
     "SELECT count(*) FROM (SELECT 1 FROM trials GROUP BY run_id, device_id, kernel_id, "
     "problem_id, config_id HAVING count(*) > 1)"},
};

int db_check(struct db *db, int64_t *problems, char *msg, size_t msg_len)
{
  struct tally t = {0, msg, msg_len};
  *problems = 0;
  msg[0] = '\0';
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, "PRAGMA integrity_check", -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *line = (const char *)sqlite3_column_text(st, 0);
    if (line && strcmp(line, "ok") != 0)
      found(&t, 1, "integrity: %s", line);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  int ar = rc == SQLITE_DONE ? AT_OK : failed(db, &t, rc, "checking integrity");
  for (size_t i = 0; ar == AT_OK && i < sizeof checks / sizeof checks[0]; i++)
    ar = check_count(db, &t, checks[i].sql, checks[i].what);
  /* Every stored config is canonical text that parses back to itself. */
  rc = ar == AT_OK ? sqlite3_prepare_v2(db->h, "SELECT id, text FROM configs ORDER BY id", -1,
                                        &st, NULL)
                   : SQLITE_OK;
  while (ar == AT_OK && rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 1);
    char *canon = NULL;
    int prc = db_config_canonical(text, &canon);
    if (prc == AT_NOMEM)
      ar = prc;
    else if (prc != AT_OK || strcmp(canon, text) != 0)
      found(&t, 1, "config %lld '%.100s' is not canonical KEY=VALUE text",
            (long long)sqlite3_column_int64(st, 0), text ? text : "(null)");
    free(canon);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  if (ar == AT_OK && rc != SQLITE_DONE && rc != SQLITE_OK)
    ar = failed(db, &t, rc, "reading configs");
  at_error_clear(); /* db_config_canonical's messages were tallied, not failures */
  *problems = t.n;
  return ar;
}
