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
