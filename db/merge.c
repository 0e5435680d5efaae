/*
 * merge.c - merging one tuning database into another: every run, then every trial, of
 * the source is put into the destination inside one transaction. Puts are idempotent on
 * uuid, so merging twice adds nothing, and shards that overlap merge to their union.
 * Merging a database into itself is refused (it would read and write the same file).
 */
#include <string.h>
#include <sys/stat.h>

#include "db/internal.h"
#include "base/status.h"

struct merge {
  struct db *dst;
  struct db_merge_stats st;
};

static int merge_run(void *ctx, const struct db_run *run)
{
  struct merge *m = ctx;
  bool inserted = false;
  int rc = db_put_run(m->dst, run, &inserted);
  if (rc == AT_OK)
    *(inserted ? &m->st.runs_added : &m->st.runs_present) += 1;
  return rc;
}

static int merge_trial(void *ctx, const struct db_trial *t)
{
  struct merge *m = ctx;
  bool inserted = false;
  int rc = db_put_trial(m->dst, t, &inserted);
  if (rc == AT_OK)
    *(inserted ? &m->st.trials_added : &m->st.trials_present) += 1;
  return rc;
}

static bool same_file(const char *a, const char *b)
{
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

int db_merge(struct db *db, const char *src_path, struct db_merge_stats *stats)
{
  struct merge m = {.dst = db, .st = {0, 0, 0, 0}};
  struct db *src = NULL;
  bool in_tx = false;
  int rc;
  if (stats)
    memset(stats, 0, sizeof *stats);
  if (same_file(db_path(db), src_path)) {
    rc = at_error(AT_USAGE, "cannot merge '%.200s' into itself", src_path);
    goto done;
  }
  if ((rc = db_open(src_path, DB_READONLY, &src)) != AT_OK)
    goto done;
  if ((rc = db_begin(db)) != AT_OK)
    goto done;
  in_tx = true;
  bool own = false; /* the source's runs and trials of one snapshot */
  if ((rc = db_read_begin(src, &own)) == AT_OK) {
    rc = db_each_run(src, merge_run, &m);
    if (rc == AT_OK)
      rc = db_each_trial(src, merge_trial, &m);
    db_read_end(src, own);
  }
  if (rc == AT_OK && (rc = db_commit(db)) == AT_OK)
    in_tx = false;
done:
  if (in_tx) {
    /* Keep the message of the failure, not of the rollback. */
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", at_last_error());
    db_rollback(db);
    at_error(rc, "%s", msg);
  }
  db_close(src);
  if (rc == AT_OK && stats)
    *stats = m.st;
  return rc;
}
