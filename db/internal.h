/*
 * internal.h - what the files of db/ share and nothing outside db/ may use: the handle's
 * layout, the cache of prepared statements, and the mapping of SQLite result codes to
 * the project's status codes.
 */
#ifndef AT_DB_INTERNAL_H
#define AT_DB_INTERNAL_H

#include <sqlite3.h>

#include "db/db.h"

/* How long a statement waits for another process's lock before SQLITE_BUSY. */
#define DB_BUSY_TIMEOUT_MS 10000
/* How long a write outside a transaction keeps retrying SQLITE_BUSY (open.c's busy
 * note): an hour, so that a tuner outlasts any import. */
#define DB_WRITE_WAIT_S 3600.0

/* Every statement db/ prepares more than once, prepared on first use and kept. */
enum db_stmt_id {
  STMT_DEVICE_PUT,
  STMT_DEVICE_GET,
  STMT_KERNEL_PUT,
  STMT_KERNEL_GET,
  STMT_PROBLEM_PUT,
  STMT_PROBLEM_GET,
  STMT_CONFIG_PUT,
  STMT_CONFIG_GET,
  STMT_RUN_PUT,
  STMT_RUN_GET,
  STMT_RUN_END,
  STMT_RUN_SET_ENDED,
  STMT_RUN_HEARTBEAT,
  STMT_TRIAL_PUT,
  STMT_QUERY_EXACT,  /* 3 of each: this device, same arch, same vendor */
  STMT_QUERY_EXACT_LAST = STMT_QUERY_EXACT + 2,
  STMT_QUERY_FAMILY,
  STMT_QUERY_FAMILY_LAST = STMT_QUERY_FAMILY + 2,
  STMT_DATA_VERSION,
  STMT_COUNT
};

struct db_family; /* query.c: a cached family of tuned shapes */

/* One tuned shape of a family, as the nearest-shape search sees it: both lookups (the
 * SQL path's family cache in query.c, the in-memory index in index.c) rank these with
 * the functions below, so that they cannot disagree on distance or tie-breaks. */
struct db_shape {
  int64_t pid;                  /* problems.id: the last tie-break */
  double time;                  /* least median time of the problem's winners here */
  uint32_t ref;                 /* index.c's problem number; 0 in query.c */
  int64_t dims[AT_MAX_DIMS];
  double log_dims[AT_MAX_DIMS]; /* ln(dims): the distance loop computes no logarithm */
};

/* The best shape seen so far; DB_NEAREST_NONE before any. */
struct db_nearest {
  double d2;                    /* squared log-space distance (same order as sqrt's) */
  const struct db_shape *e;
};
#define DB_NEAREST_NONE ((struct db_nearest){.d2 = 0, .e = NULL})

/* ln(dims[i]) for each dim: a query's shape in the space log_dims live in. */
void db_shape_logs(int ndims, const int64_t *dims, double *logs);
/* The squared distance between two shapes given by their logs: a sum of one
 * non-negative term per dim in dim order, so it is never below any single term (the
 * k-d tree of index.c prunes on that). */
static inline double db_shape_d2(int ndims, const double *logs, const double *log_dims)
{
  double d = 0;
  for (int j = 0; j < ndims; j++)
    d += (logs[j] - log_dims[j]) * (logs[j] - log_dims[j]);
  return d;
}
/* Whether e, at squared distance d2, beats *best (docs/database.md): nearer; as near and
 * faster; as near and as fast and an earlier problem (lower id). */
static inline bool db_nearest_better(double d2, const struct db_shape *e,
                                     const struct db_nearest *best)
{
  if (!best->e || d2 != best->d2)
    return !best->e || d2 < best->d2;
  if (e->time != best->e->time)
    return e->time < best->e->time;
  return e->pid < best->e->pid;
}
/* Fold e[0..n) into *best. */
void db_nearest_scan(const struct db_shape *e, size_t n, int ndims, const double *logs,
                     struct db_nearest *best);

struct db {
  sqlite3 *h;
  char *path;
  bool readonly;
  bool opened; /* identified as ours: a later NOTADB is corruption, not a foreign file */
  int version;
  sqlite3_stmt *stmts[STMT_COUNT];
  /* query.c's cache of families, valid while data_version and total_changes hold. */
  struct db_family *families;
  size_t nfamilies;
  int64_t cache_data_version, cache_changes;
};

/* The rungs of a lookup (query.c: exact, nearest; this device, same arch, same vendor)
 * over a source of winners: SQL statements (query.c) or the in-memory index (index.c).
 * A "pid" is whatever the source numbers problems by, in problems.id order. Each
 * returns AT_OK, AT_NOT_FOUND (nothing in that tier), or an error. */
struct db_rungs {
  void *ctx;
  int (*exact_pid)(void *ctx, const struct db_problem *p, const char *dims, int64_t *pid);
  /* The best winner of problem pid among the tier's devices, into the source's own
   * answer (query.c: a struct db_match; index.c: a struct db_hit). */
  int (*best_of)(void *ctx, int tier, const struct db_query *q, int64_t pid, void *out);
  /* The nearest problem of the family with a winner in the tier, its dims and its
   * distance (sqrt of db_shape_d2: both sources compute it so). */
  int (*nearest)(void *ctx, int tier, const struct db_query *q, int64_t *pid,
                 int64_t *dims, double *dist);
};
/* Which rung answered: filled by db_query_rungs. */
struct db_rung {
  at_match match;
  double distance;              /* 0 for an exact shape */
  int64_t dims[AT_MAX_DIMS];    /* the tuned shape */
  double refused;               /* the least nearest distance refused past the limit
                                 * (AT_NEAREST_MAX_DISTANCE), or -1 */
};
/* Walk the rungs for q (checked by db_query_check; dims its db_problem_dims_text, which
 * only exact_pid sees: NULL where the source does not need it). A nearest shape farther
 * than AT_NEAREST_MAX_DISTANCE is refused: the walk goes on to the next tier.
 * OUT: *rung. AT_NOT_FOUND without a message when no rung answers. */
int db_query_rungs(const struct db_rungs *r, const struct db_query *q, const char *dims,
                   void *out, struct db_rung *rung);
/* AT_USAGE (with a message) unless p has an op, a dtype and 1..AT_MAX_DIMS dims >= 1. */
int db_query_check(const struct db_problem *p);
/* AT_NOT_FOUND with the message naming the problem, device and database, and the
 * distance of a nearest shape refused past the limit (refused >= 0). */
int db_query_not_found(const struct db_query *q, const char *dims, const char *path,
                       double refused);

/* Drop query.c's cache (db_close calls it). */
void db_query_cache_release(struct db *db);

/* The prepared statement `id` (text from the table in record.c/query.c), reset and with
 * its bindings cleared. NULL after setting an error message. */
sqlite3_stmt *db_stmt(struct db *db, enum db_stmt_id id);
/* The same for a statement whose text the caller holds (prepared once, under `id`). */
sqlite3_stmt *db_stmt_sql(struct db *db, enum db_stmt_id id, const char *sql);

/* Map a SQLite result code to a status, with a message naming the database and what
 * was being done: AT_DB_CORRUPT (CORRUPT, or NOTADB once opened), AT_NOT_A_DB, AT_DB_BUSY,
 * AT_DB_READONLY, AT_IO (cannot open, permission), AT_DISK (full, I/O error), AT_SQL. */
int db_sql_error(struct db *db, int sqlite_rc, const char *doing);

/* SQLite's quick_check: AT_OK when the file's pages hold together, else AT_DB_CORRUPT
 * naming the first problem. Called before a read answers "nothing there", so that a
 * damaged file is never taken for an empty one (stats.c). */
int db_verify_pages(struct db *db);
/* After a full scan of `table` ("runs", "trials") that read `seen` rows: AT_OK when the
 * table holds that many, else AT_DB_CORRUPT. A damaged b-tree can lose rows without an
 * error from SQLite; its indexes still count them (stats.c). */
int db_verify_count(struct db *db, const char *table, int64_t seen);

/* After `sqlite_rc` from a write: true when it was SQLITE_BUSY outside a transaction
 * and the caller should run the write again, having slept a backoff (open.c's busy
 * note). *attempt and *since start at 0 and are kept by this function. */
bool db_busy_wait(struct db *db, int sqlite_rc, int *attempt, double *since);

/* A read transaction (deferred BEGIN) unless the caller is in one: OUT: *own, for
 * db_read_end. Reads between see one snapshot (record.c). */
int db_read_begin(struct db *db, bool *own);
void db_read_end(struct db *db, bool own);

/* Run SQL text with no results (several statements allowed). */
int db_exec(struct db *db, const char *sql, const char *doing);

#endif
