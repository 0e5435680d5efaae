/*
 * owner.c - run owners: which process executes a run, and taking a run over from one
 * that is gone (db_claim_run), so that `--resume` never adopts a run that a live process
 * still executes. The rules are written down in docs/database.md, "Run owners".
 *
 * Invariants.
 *   1. The check and the take happen in one IMMEDIATE transaction: of two processes
 *      resuming the same run at once, the second sees the first as the owner.
 *   2. A refused claim changes nothing in the file.
 *   3. A process on this host (same name, same boot id) is alive only if its pid
 *      exists, is not a zombie, and started at the recorded time (a reused pid started
 *      later). Without /proc the pid's existence alone decides (a reused pid then keeps
 *      a dead owner's run: refused, never adopted twice). A process of another host, or
 *      of another boot of this one (which its name cannot tell from another machine of
 *      the same name), is judged by its heartbeat alone.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db/internal.h"
#include "base/proc.h"
#include "base/status.h"

static const char *col_text(sqlite3_stmt *st, int i)
{
  return (const char *)sqlite3_column_text(st, i);
}

static int64_t col_int(sqlite3_stmt *st, int i)
{
  return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static bool same_text(const char *a, const char *b)
{
  return a && b && strcmp(a, b) == 0;
}

/* Decide for the owner in row `st` (owner_host, owner_boot, owner_pid, owner_start,
 * heartbeat_at, the heartbeat's age in seconds). */
static enum db_claim judge(sqlite3_stmt *st, const struct db_owner *me, double lease_s)
{
  const char *host = col_text(st, 0), *boot = col_text(st, 1);
  int64_t pid = col_int(st, 2), start = col_int(st, 3);
  if (pid < 0)
    return DB_CLAIM_TAKEN; /* no owner recorded: a run of schema 2, or imported */
  /* another boot id under the same name: this host rebooted, or another machine bears
   * its name; the pid cannot tell which, so the heartbeat decides as for another host */
  bool other_boot = boot && me->boot && me->boot[0] && !same_text(boot, me->boot);
  if (same_text(host, me->host) && !other_boot) {
    int64_t now_start = 0;
    if (pid == me->pid && start == me->start)
      return DB_CLAIM_TAKEN; /* ours already */
    if (!proc_start_ticks((pid_t)pid, &now_start)) {
      if (access("/proc/self/stat", F_OK) == 0)
        return DB_CLAIM_TAKEN; /* /proc answers: gone, or a zombie */
      return kill((pid_t)pid, 0) == 0 || errno == EPERM ? DB_CLAIM_ALIVE : DB_CLAIM_TAKEN;
    }
    return start < 0 || now_start == start ? DB_CLAIM_ALIVE : DB_CLAIM_TAKEN;
  }
  bool stale = sqlite3_column_type(st, 5) == SQLITE_NULL ||
               sqlite3_column_double(st, 5) > lease_s;
  return stale ? DB_CLAIM_TAKEN : DB_CLAIM_LEASED;
}

int db_claim_run(struct db *db, const char *run_uuid, const struct db_owner *me,
                 double lease_s, enum db_claim *claim, char *holder, size_t holder_len)
{
  *claim = DB_CLAIM_TAKEN;
  if (holder_len)
    holder[0] = '\0';
  sqlite3_stmt *st = NULL;
  int rc = db_begin(db), src;
  if (rc != AT_OK)
    return rc;
  src = sqlite3_prepare_v2(db->h,
                           "SELECT owner_host, owner_boot, owner_pid, owner_start, "
                           "heartbeat_at, (julianday('now') - julianday(heartbeat_at)) * "
                           "86400.0 FROM runs WHERE uuid = ?1",
                           -1, &st, NULL);
  if (src == SQLITE_OK)
    src = sqlite3_bind_text(st, 1, run_uuid, -1, SQLITE_TRANSIENT);
  if (src == SQLITE_OK)
    src = sqlite3_step(st);
  if (src == SQLITE_DONE) {
    rc = at_error(AT_NOT_FOUND, "no run %.40s in '%.200s'", run_uuid, db->path);
    goto done;
  }
  if (src != SQLITE_ROW) {
    rc = db_sql_error(db, src, "reading a run's owner");
    goto done;
  }
  *claim = judge(st, me, lease_s);
  const char *host = col_text(st, 0), *beat = col_text(st, 4);
  if (col_int(st, 2) >= 0)
    snprintf(holder, holder_len, "pid %lld on %.100s (last heartbeat %.40s)",
             (long long)col_int(st, 2), host ? host : "an unknown host",
             beat ? beat : "never");
  sqlite3_finalize(st);
  st = NULL;
  if (*claim != DB_CLAIM_TAKEN)
    goto done;
  char now[32];
  db_now(now);
  src = sqlite3_prepare_v2(db->h,
                           "UPDATE runs SET owner_host = ?2, owner_boot = ?3, owner_pid = ?4, "
                           "owner_start = ?5, heartbeat_at = ?6 WHERE uuid = ?1",
                           -1, &st, NULL);
  if (src == SQLITE_OK) {
    sqlite3_bind_text(st, 1, run_uuid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, me->host, -1, SQLITE_TRANSIENT);
    if (me->boot && me->boot[0])
      sqlite3_bind_text(st, 3, me->boot, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, me->pid);
    if (me->start >= 0)
      sqlite3_bind_int64(st, 5, me->start);
    sqlite3_bind_text(st, 6, now, -1, SQLITE_TRANSIENT);
    src = sqlite3_step(st);
  }
  if (src != SQLITE_DONE) {
    rc = db_sql_error(db, src, "taking a run over");
    goto done;
  }
  sqlite3_finalize(st);
  st = NULL;
  return db_commit(db);
done:
  sqlite3_finalize(st);
  db_rollback(db);
  return rc;
}
