/*
 * open.c - opening a tuning database: checking that the file is one of ours, refusing
 * one from a newer autotune, and migrating an older schema forward. Owns the schema.
 *
 * Migration note. The schema version lives in PRAGMA user_version; migrations[i] takes a
 * database from version i to i + 1, and all steps up to DB_SCHEMA_VERSION run in one
 * IMMEDIATE transaction, so a crash mid-migration leaves the old version intact.
 * Invariants the schema enforces by itself, whatever program writes the file:
 *   1. a trial row is never updated or deleted (triggers abort);
 *   2. winners holds, for each (device, kernel, problem) with an ok trial, the ok trial
 *      of least median time, the earliest inserted among equals (trigger on insert);
 *   3. every trial names an existing run, device, kernel, problem and config.
 * A migration never loses a row; one that changes how a value is computed tags the old
 * values rather than dropping them (1 -> 2); one that adds what was never recorded adds
 * columns that old rows read as NULL, not known (2 -> 3).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/internal.h"
#include "base/hash.h"
#include "base/interrupt.h"
#include "base/os.h"
#include "base/status.h"

/* 'ATTU': marks the file as an autotune database. */
#define DB_APPLICATION_ID 0x41545455

static const char *const migrations[DB_SCHEMA_VERSION] = {
    /* 0 -> 1: the first schema. */
    "PRAGMA application_id = 1096045653;\n"
    "CREATE TABLE devices(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE,\n"
    "  arch TEXT NOT NULL,\n"
    "  vendor TEXT NOT NULL);\n"
    "CREATE TABLE kernels(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  template TEXT NOT NULL,\n"
    "  content_hash TEXT NOT NULL,\n"
    "  UNIQUE(template, content_hash));\n"
    "CREATE TABLE problems(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  op TEXT NOT NULL,\n"
    "  dtype TEXT NOT NULL,\n"
    "  layout TEXT NOT NULL,\n"
    "  dim_names TEXT NOT NULL,\n" /* "m,n,k": problems with equal names are comparable */
    "  dims TEXT NOT NULL,\n"      /* "m=4096,n=4096,k=4096" */
    "  d0 INTEGER, d1 INTEGER, d2 INTEGER, d3 INTEGER,\n"
    "  d4 INTEGER, d5 INTEGER, d6 INTEGER, d7 INTEGER,\n"
    "  UNIQUE(op, dtype, layout, dims));\n"
    "CREATE INDEX problems_family ON problems(op, dtype, layout, dim_names);\n"
    "CREATE TABLE configs(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  text TEXT NOT NULL UNIQUE);\n"
    "CREATE TABLE runs(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  uuid TEXT NOT NULL UNIQUE,\n"
    "  host TEXT, started_at TEXT, ended_at TEXT, toolchain TEXT, driver TEXT,\n"
    "  autotune_version TEXT, strategy TEXT, args TEXT);\n"
    "CREATE TABLE trials(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  uuid TEXT NOT NULL UNIQUE,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),\n"
    "  device_id INTEGER NOT NULL REFERENCES devices(id),\n"
    "  kernel_id INTEGER NOT NULL REFERENCES kernels(id),\n"
    "  problem_id INTEGER NOT NULL REFERENCES problems(id),\n"
    "  config_id INTEGER NOT NULL REFERENCES configs(id),\n"
    "  status TEXT NOT NULL CHECK(status IN ('ok', 'compile_error', 'verify_failed',\n"
    "    'launch_error', 'fault', 'timeout', 'pruned')),\n"
    "  time_median_us REAL, time_min_us REAL, time_max_us REAL, time_spread REAL,\n"
    "  repetitions INTEGER, tflops REAL, gbps REAL,\n"
    "  registers INTEGER, spills INTEGER, shared_bytes INTEGER, occupancy REAL,\n"
    "  message TEXT,\n"
    "  created_at TEXT NOT NULL,\n"
    "  CHECK(status <> 'ok' OR time_median_us IS NOT NULL));\n"
    "CREATE INDEX trials_by_config ON trials(device_id, problem_id, kernel_id, config_id);\n"
    "CREATE INDEX trials_by_run ON trials(run_id);\n"
    "CREATE TRIGGER trials_never_updated BEFORE UPDATE ON trials\n"
    "  BEGIN SELECT RAISE(ABORT, 'trials are never overwritten'); END;\n"
    "CREATE TRIGGER trials_never_deleted BEFORE DELETE ON trials\n"
    "  BEGIN SELECT RAISE(ABORT, 'trials are never deleted'); END;\n"
    "CREATE TABLE winners(\n"
    "  device_id INTEGER NOT NULL REFERENCES devices(id),\n"
    "  kernel_id INTEGER NOT NULL REFERENCES kernels(id),\n"
    "  problem_id INTEGER NOT NULL REFERENCES problems(id),\n"
    "  trial_id INTEGER NOT NULL REFERENCES trials(id),\n"
    "  time_median_us REAL NOT NULL,\n"
    "  PRIMARY KEY(device_id, kernel_id, problem_id)) WITHOUT ROWID;\n"
    "CREATE INDEX winners_by_problem ON winners(device_id, problem_id, time_median_us);\n"
    "CREATE TRIGGER trials_update_winners AFTER INSERT ON trials WHEN NEW.status = 'ok'\n"
    "BEGIN\n"
    "  INSERT INTO winners(device_id, kernel_id, problem_id, trial_id, time_median_us)\n"
    "  VALUES (NEW.device_id, NEW.kernel_id, NEW.problem_id, NEW.id, NEW.time_median_us)\n"
    "  ON CONFLICT(device_id, kernel_id, problem_id) DO UPDATE\n"
    "    SET trial_id = excluded.trial_id, time_median_us = excluded.time_median_us\n"
    "    WHERE excluded.time_median_us < winners.time_median_us;\n"
    "END;\n",
    /* 1 -> 2: template content hashes became SHA-256 (base/hash.h). A stored FNV-1a hash
     * cannot be turned into one, so it is tagged with its algorithm instead: a tagged
     * hash never equals a new one by accident, and a reader that knows the tag can
     * still check it (struct tmpl's legacy_hash). Rows, ids and winners are unchanged. */
    "UPDATE kernels SET content_hash = '" HASH_FNV1A64_TAG "' || content_hash\n"
    "  WHERE content_hash NOT LIKE '%:%';\n",
    /* 2 -> 3: provenance that makes a device figure comparable (runtime, the GPU's name
     * and uuid, the host's CPU and kernel, clocks and power limit at a run's start and
     * end; per trial the SM clock seen and whether it was throttled) and an owner per
     * run, so that --resume never adopts a run a live process still executes. Columns
     * are added only: every old row keeps its values and reads NULL for the new ones
     * (not known), which for the owner means "none": such a run may be adopted. */
    "ALTER TABLE runs ADD COLUMN runtime TEXT;\n"
    "ALTER TABLE runs ADD COLUMN gpu_index INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN gpu_name TEXT;\n"
    "ALTER TABLE runs ADD COLUMN gpu_uuid TEXT;\n"
    "ALTER TABLE runs ADD COLUMN cpu TEXT;\n"
    "ALTER TABLE runs ADD COLUMN os TEXT;\n"
    "ALTER TABLE runs ADD COLUMN sm_clock_start_mhz INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN mem_clock_start_mhz INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN power_limit_start_w REAL;\n"
    "ALTER TABLE runs ADD COLUMN sm_clock_end_mhz INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN mem_clock_end_mhz INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN power_limit_end_w REAL;\n"
    "ALTER TABLE runs ADD COLUMN owner_host TEXT;\n"
    "ALTER TABLE runs ADD COLUMN owner_boot TEXT;\n"
    "ALTER TABLE runs ADD COLUMN owner_pid INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN owner_start INTEGER;\n"
    "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;\n"
    "ALTER TABLE trials ADD COLUMN sm_clock_mhz INTEGER;\n"
    "ALTER TABLE trials ADD COLUMN throttled INTEGER CHECK(throttled IN (0, 1));\n",
    /* 3 -> 4: a run may measure on several GPUs at once (--gpus, docs/cluster.md): each
     * trial says which, by its ordinal on the node and its UUID. Columns are added only;
     * old trials read NULL (not known). Winners stay per device model (devices.name),
     * never per ordinal. */
    "ALTER TABLE trials ADD COLUMN gpu_ordinal INTEGER;\n"
    "ALTER TABLE trials ADD COLUMN gpu_uuid TEXT;\n",
};

int db_sql_error(struct db *db, int sqlite_rc, const char *doing)
{
  const char *path = db && db->path ? db->path : "?";
  const char *detail = db && db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(sqlite_rc);
  switch (sqlite_rc & 0xff) {
  case SQLITE_NOTADB:
    /* Once the file has opened as ours, NOTADB means its pages were damaged. */
    if (!db || !db->opened)
      return at_error(AT_NOT_A_DB,
                      "'%.200s' is not an autotune database (not a SQLite file)", path);
    /* fall through */
  case SQLITE_CORRUPT:
    return at_error(AT_DB_CORRUPT,
                    "database '%.200s' is corrupt (%s while %s); nothing was written: "
                    "'autotune db check' lists what is damaged",
                    path, detail, doing);
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return at_error(AT_DB_BUSY, "database '%.200s' is locked by another process (%s)",
                    path, doing);
  case SQLITE_READONLY:
    return at_error(AT_DB_READONLY, "database '%.200s' is read-only (%s)", path, doing);
  case SQLITE_CANTOPEN:
  case SQLITE_PERM:
    return at_error(AT_IO, "cannot use database '%.200s': %s (%s)", path, detail, doing);
  case SQLITE_IOERR:
  case SQLITE_FULL:
    return at_error(AT_DISK, "cannot use database '%.200s': %s (%s)", path, detail, doing);
  case SQLITE_NOMEM:
    return at_error(AT_NOMEM, "out of memory while %s", doing);
  default:
    return at_error(AT_SQL, "database '%.200s': %s (%s)", path, detail, doing);
  }
}

int db_exec(struct db *db, const char *sql, const char *doing)
{
  int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? AT_OK : db_sql_error(db, rc, doing);
}

static int pragma_int(struct db *db, const char *sql, int *out)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int(st, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? AT_OK : db_sql_error(db, rc, "reading its header");
}

/* Take the file forward to schema `to`. */
static int migrate(struct db *db, int to)
{
  int rc = db_exec(db, "BEGIN IMMEDIATE", "starting the migration");
  if (rc != AT_OK)
    return rc;
  int version = 0;
  rc = pragma_int(db, "PRAGMA user_version", &version); /* again, under the lock */
  for (int v = version; rc == AT_OK && v < to; v++) {
    rc = db_exec(db, migrations[v], "migrating the schema");
    if (rc == AT_OK) {
      char sql[64];
      snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
      rc = db_exec(db, sql, "migrating the schema");
    }
  }
  if (rc != AT_OK) {
    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
    return rc;
  }
  rc = db_exec(db, "COMMIT", "finishing the migration");
  if (rc == AT_OK)
    db->version = version > to ? version : to;
  return rc;
}

/* Is this an autotune file, or an empty one we may initialise? */
static int check_identity(struct db *db, int *version)
{
  int app = 0, tables = 0;
  int rc = pragma_int(db, "PRAGMA user_version", version);
  if (rc == AT_OK)
    rc = pragma_int(db, "PRAGMA application_id", &app);
  if (rc == AT_OK)
    rc = pragma_int(db, "SELECT count(*) FROM sqlite_schema", &tables);
  if (rc != AT_OK)
    return rc;
  if (app == DB_APPLICATION_ID || (app == 0 && tables == 0 && *version == 0))
    return AT_OK;
  return at_error(AT_NOT_A_DB,
                  "'%.200s' is not an autotune database (a SQLite file of another program)",
                  db->path);
}

/* True when `path`-wal is missing or empty: the main file holds every commit. */
static bool wal_is_empty(const char *path)
{
  char wal[4200];
  struct stat st;
  snprintf(wal, sizeof wal, "%.4000s-wal", path);
  return stat(wal, &st) != 0 || st.st_size == 0;
}

/* "file:PATH?immutable=1" with the characters a URI path cannot hold escaped. */
static char *immutable_uri(const char *path)
{
  size_t n = strlen(path);
  char *uri = malloc(3 * n + 32), *q = uri;
  if (!uri)
    return NULL;
  q += sprintf(q, "file:");
  for (const char *p = path; *p; p++)
    q += strchr("%?#", *p) ? sprintf(q, "%%%02X", (unsigned char)*p) : sprintf(q, "%c", *p);
  sprintf(q, "?immutable=1");
  return uri;
}

int db_open(const char *path, int flags, struct db **out)
{
  *out = NULL;
  at_error_clear();
  if (!path || !path[0])
    return at_error(AT_USAGE, "empty database path");
  bool readonly = (flags & DB_READONLY) != 0;
  struct stat st;
  if (stat(path, &st) != 0) {
    if (readonly || !(flags & DB_CREATE))
      return at_error(AT_IO, "cannot open database '%.200s': %s", path, strerror(errno));
  } else if (S_ISDIR(st.st_mode)) {
    return at_error(AT_IO, "cannot open database '%.200s': it is a directory", path);
  } else if (access(path, readonly ? R_OK : R_OK | W_OK) != 0) {
    return at_error(AT_IO, "cannot open database '%.200s': %s", path, strerror(errno));
  }

  struct db *db = calloc(1, sizeof *db);
  if (!db)
    return at_error(AT_NOMEM, "out of memory opening '%.200s'", path);
  db->path = strdup(path);
  db->readonly = readonly;
  int rc = AT_OK;
  if (!db->path) {
    rc = at_error(AT_NOMEM, "out of memory opening '%.200s'", path);
    goto fail;
  }
  int oflags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int src = sqlite3_open_v2(path, &db->h, oflags | SQLITE_OPEN_FULLMUTEX, NULL);
  if (src != SQLITE_OK) {
    if (src == SQLITE_CANTOPEN)
      rc = at_error(AT_IO, "cannot open database '%.200s': %s", path,
                    errno ? strerror(errno) : "cannot create or read it");
    else
      rc = db_sql_error(db, src, "opening it");
    goto fail;
  }
  sqlite3_extended_result_codes(db->h, 0);
  sqlite3_busy_timeout(db->h, DB_BUSY_TIMEOUT_MS);
  int version = 0;
  rc = check_identity(db, &version);
  if (rc != AT_OK && readonly && (rc == AT_DB_READONLY || rc == AT_IO) &&
      wal_is_empty(path)) {
    /* A WAL file in a folder we cannot write: SQLite cannot create the -shm index it
     * reads through. With no -wal content, the main file is the whole database, and
     * SQLite documents immutable=1 for exactly this: read it without -shm or locks. */
    sqlite3_close(db->h);
    db->h = NULL;
    char *uri = immutable_uri(path);
    if (!uri) {
      rc = at_error(AT_NOMEM, "out of memory opening '%.200s'", path);
      goto fail;
    }
    src = sqlite3_open_v2(uri, &db->h, oflags | SQLITE_OPEN_URI | SQLITE_OPEN_FULLMUTEX,
                          NULL);
    free(uri);
    if (src != SQLITE_OK) {
      rc = db_sql_error(db, src, "opening it read-only");
      goto fail;
    }
    sqlite3_extended_result_codes(db->h, 0);
    at_error_clear();
    rc = check_identity(db, &version);
  }
  if (rc != AT_OK)
    goto fail;
  db->opened = true;
  db->version = version;
  if (version > DB_SCHEMA_VERSION) {
    rc = at_error(AT_DB_FUTURE,
                  "database '%.200s' has schema version %d, newer than this autotune's %d "
                  "(autotune %s): use a newer autotune",
                  path, version, DB_SCHEMA_VERSION, AT_VERSION);
    goto fail;
  }
  rc = db_exec(db, "PRAGMA foreign_keys = ON", "enabling foreign keys");
  if (rc != AT_OK)
    goto fail;
  if (readonly) {
    if (version == 0) {
      rc = at_error(AT_NOT_A_DB,
                    "'%.200s' is an empty file, not an autotune database yet; "
                    "create it with 'autotune db init'", path);
      goto fail;
    }
    if (version < DB_SCHEMA_VERSION) {
      rc = at_error(AT_USAGE,
                    "database '%.200s' has the older schema version %d; upgrade it with "
                    "'autotune db init --db %.200s'", path, version, path);
      goto fail;
    }
  } else {
    rc = db_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
                 "enabling WAL");
    if (rc == AT_OK && version < DB_SCHEMA_VERSION)
      rc = migrate(db, DB_SCHEMA_VERSION);
    if (rc != AT_OK)
      goto fail;
  }
  *out = db;
  return AT_OK;
fail:
  db_close(db);
  return rc;
}

int db_create_at_version(const char *path, int version)
{
  if (version < 1 || version > DB_SCHEMA_VERSION)
    return at_error(AT_USAGE, "no schema version %d (1 to %d)", version, DB_SCHEMA_VERSION);
  struct db db = {.path = (char *)path};
  int rc = sqlite3_open_v2(path, &db.h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  rc = rc == SQLITE_OK ? migrate(&db, version) : db_sql_error(&db, rc, "creating it");
  sqlite3_close(db.h);
  return rc;
}

void db_close(struct db *db)
{
  if (!db)
    return;
  db_query_cache_release(db);
  /* Keep the planner's statistics fresh for the next reader (cheap when nothing moved). */
  if (db->h && !db->readonly && db->version == DB_SCHEMA_VERSION)
    sqlite3_exec(db->h, "PRAGMA optimize", NULL, NULL, NULL);
  for (int i = 0; i < STMT_COUNT; i++)
    sqlite3_finalize(db->stmts[i]);
  sqlite3_close(db->h);
  free(db->path);
  free(db);
}

const char *db_path(const struct db *db)
{
  return db->path;
}

int db_schema_version(struct db *db)
{
  return db->version;
}

sqlite3 *db_handle(struct db *db)
{
  return db->h;
}

/*
 * Busy note. SQLite waits DB_BUSY_TIMEOUT_MS for another process's write lock and then
 * fails with SQLITE_BUSY; an import of a million trials holds it longer than that. A
 * write that is not inside a transaction already (BEGIN IMMEDIATE, COMMIT, a statement
 * in autocommit mode) is safe to run again, so db_busy_wait keeps it waiting, with a
 * backoff of 10 ms doubling to 1 s, until DB_WRITE_WAIT_S have passed or an interrupt
 * is caught. Within a transaction BUSY cannot be retried (SQLite may have rolled the
 * statement back) and is returned. What the caller was writing stays in its memory
 * meanwhile: the tuner's trial waits in record() and is committed when the lock frees.
 */
bool db_busy_wait(struct db *db, int sqlite_rc, int *attempt, double *since)
{
  if (*since == 0)
    *since = at_now_s() - DB_BUSY_TIMEOUT_MS / 1000.0; /* SQLite's own wait came first */
  if ((sqlite_rc & 0xff) != SQLITE_BUSY || !sqlite3_get_autocommit(db->h) ||
      at_now_s() - *since >= DB_WRITE_WAIT_S || intr_requested())
    return false;
  int ms = *attempt < 7 ? 10 << *attempt : 1000;
  ms += rand() % (ms / 2 + 1); /* jitter: waiting tuners do not retry in step */
  (*attempt)++;
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
  return true;
}

/* db_exec with BUSY waited out (db_busy_wait). */
static int exec_waiting(struct db *db, const char *sql, const char *doing)
{
  int attempt = 0, rc;
  double since = 0;
  while ((rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL)) != SQLITE_OK &&
         db_busy_wait(db, rc, &attempt, &since))
    ;
  if (rc == SQLITE_OK)
    return AT_OK;
  if ((rc & 0xff) == SQLITE_BUSY && intr_requested())
    return at_error(AT_INTERRUPTED, "interrupted while waiting for '%.200s' (%s)",
                    db->path, doing);
  return db_sql_error(db, rc, doing);
}

int db_begin(struct db *db)
{
  return exec_waiting(db, "BEGIN IMMEDIATE", "starting a transaction");
}

int db_commit(struct db *db)
{
  /* A COMMIT that fails BUSY leaves the transaction open; it may simply be run again. */
  int rc;
  double since = at_now_s();
  while ((rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL)) == SQLITE_BUSY &&
         at_now_s() - since < DB_WRITE_WAIT_S && !intr_requested()) {
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return rc == SQLITE_OK ? AT_OK : db_sql_error(db, rc, "committing");
}

int db_rollback(struct db *db)
{
  if (sqlite3_get_autocommit(db->h))
    return AT_OK;
  return db_exec(db, "ROLLBACK", "rolling back");
}
