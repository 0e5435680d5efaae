/*
 * record.c - writing and reading the records of the tuning database: runs and trials,
 * with the devices, kernels, problems and configs they name created on first use.
 * Also the canonical texts (config "K=V,...", dims "m=..,n=..") that identify rows.
 */
#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/internal.h"
#include "base/num.h"
#include "base/os.h"
#include "base/status.h"

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_DEVICE_PUT] = "INSERT INTO devices(name, arch, vendor) VALUES (?1, ?2, ?3) "
                        "ON CONFLICT(name) DO NOTHING",
    [STMT_DEVICE_GET] = "SELECT id, arch, vendor FROM devices WHERE name = ?1",
    [STMT_KERNEL_PUT] = "INSERT INTO kernels(template, content_hash) VALUES (?1, ?2) "
                        "ON CONFLICT DO NOTHING",
    [STMT_KERNEL_GET] = "SELECT id FROM kernels WHERE template = ?1 AND content_hash = ?2",
    [STMT_PROBLEM_PUT] = "INSERT INTO problems(op, dtype, layout, dim_names, dims, "
                         "d0, d1, d2, d3, d4, d5, d6, d7) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) "
                         "ON CONFLICT DO NOTHING",
    [STMT_PROBLEM_GET] = "SELECT id FROM problems WHERE op = ?1 AND dtype = ?2 "
                         "AND layout = ?3 AND dims = ?4",
    [STMT_CONFIG_PUT] = "INSERT INTO configs(text) VALUES (?1) ON CONFLICT DO NOTHING",
    [STMT_CONFIG_GET] = "SELECT id FROM configs WHERE text = ?1",
    [STMT_RUN_PUT] = "INSERT INTO runs(uuid, host, started_at, ended_at, toolchain, driver, "
                     "autotune_version, strategy, args, runtime, gpu_index, gpu_name, "
                     "gpu_uuid, cpu, os, sm_clock_start_mhz, mem_clock_start_mhz, "
                     "power_limit_start_w, sm_clock_end_mhz, mem_clock_end_mhz, "
                     "power_limit_end_w, owner_host, owner_boot, owner_pid, owner_start, "
                     "heartbeat_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
                     "?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26) "
                     "ON CONFLICT DO NOTHING",
    [STMT_RUN_GET] = "SELECT id FROM runs WHERE uuid = ?1",
    [STMT_RUN_END] = "UPDATE runs SET ended_at = ?2, sm_clock_end_mhz = ?3, "
                     "mem_clock_end_mhz = ?4, power_limit_end_w = ?5 WHERE uuid = ?1",
    [STMT_RUN_SET_ENDED] = "UPDATE runs SET ended_at = ?2, sm_clock_end_mhz = ?3, "
                           "mem_clock_end_mhz = ?4, power_limit_end_w = ?5 WHERE uuid = ?1 "
                           "AND ended_at IS NULL",
    [STMT_RUN_HEARTBEAT] = "UPDATE runs SET heartbeat_at = ?2 WHERE uuid = ?1",
    [STMT_TRIAL_PUT] =
        "INSERT INTO trials(uuid, run_id, device_id, kernel_id, problem_id, config_id, "
        "status, time_median_us, time_min_us, time_max_us, time_spread, repetitions, "
        "tflops, gbps, registers, spills, shared_bytes, occupancy, message, created_at, "
        "sm_clock_mhz, throttled, gpu_ordinal, gpu_uuid) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, "
        "?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24) ON CONFLICT(uuid) DO NOTHING",
    /* STMT_QUERY_*: query.c holds their text. */
};

sqlite3_stmt *db_stmt_sql(struct db *db, enum db_stmt_id id, const char *sql)
{
  sqlite3_stmt *st = db->stmts[id];
  if (!st) {
    int rc = sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
      db_sql_error(db, rc, "preparing a statement");
      return NULL;
    }
    db->stmts[id] = st;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

sqlite3_stmt *db_stmt(struct db *db, enum db_stmt_id id)
{
  return db_stmt_sql(db, id, stmt_sql[id]);
}

static const char *const status_names[] = {
#define DB_TS_NAME(name, text) text,
    DB_TRIAL_STATUS_MAP(DB_TS_NAME)
#undef DB_TS_NAME
};

const char *db_trial_status_name(enum db_trial_status s)
{
  if ((int)s < 0 || s >= DB_TRIAL_STATUS_COUNT)
    return "?";
  return status_names[s];
}

int db_trial_status_parse(const char *text)
{
  for (int i = 0; text && i < DB_TRIAL_STATUS_COUNT; i++)
    if (strcmp(text, status_names[i]) == 0)
      return i;
  return -1;
}

void db_trial_init(struct db_trial *t)
{
  memset(t, 0, sizeof *t);
  t->status = DB_TRIAL_OK;
  t->time_median_us = t->time_min_us = t->time_max_us = t->time_spread = NAN;
  t->tflops = t->gbps = t->occupancy = NAN;
  t->repetitions = t->registers = t->spills = t->shared_bytes = -1;
  t->sm_clock_mhz = t->throttled = -1;
  t->gpu_ordinal = -1;
}

void db_run_init(struct db_run *r)
{
  memset(r, 0, sizeof *r);
  r->gpu_index = -1;
  r->start_clocks = r->end_clocks = (struct db_clocks){-1, -1, NAN};
  r->owner.pid = r->owner.start = -1;
}

void db_uuid(char *out)
{
  unsigned char b[16];
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  ssize_t got = fd >= 0 ? read(fd, b, sizeof b) : -1;
  if (fd >= 0)
    close(fd);
  if (got != (ssize_t)sizeof b) {
    /* No /dev/urandom: time, pid and a counter still make clashes unlikely. */
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^
                 ((uint64_t)getpid() << 32) ^ ++counter;
    x |= 1; /* xorshift stalls at zero */
    for (int i = 0; i < 16; i++)
      b[i] = (unsigned char)(num_xorshift64s(&x) >> 56);
  }
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[DB_UUID_LEN] = '\0';
}

void db_now(char *out)
{
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct kv {
  char *key, *value;
};

static int kv_cmp(const void *a, const void *b)
{
  return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

static bool valid_token(const char *s, size_t n)
{
  if (n == 0)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || strchr("_.-+:", s[i])))
      return false;
  return true;
}

/* The first 40 bytes of s with control characters as '?', for a one-line message. */
static const char *printable(const char *s)
{
  static _Thread_local char buf[41];
  size_t k = 0;
  for (; s[k] && k + 1 < sizeof buf; k++)
    buf[k] = (unsigned char)s[k] < 0x20 ? '?' : s[k];
  buf[k] = '\0';
  return buf;
}

int db_config_canonical(const char *text, char **out)
{
  *out = NULL;
  int rc = AT_OK;
  char *copy = strdup(text ? text : "");
  struct kv *kv = NULL;
  size_t n = 0, cap = 0;
  if (!copy)
    return at_error(AT_NOMEM, "out of memory");
  char *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    while (isspace((unsigned char)*tok))
      tok++;
    char *end = tok + strlen(tok);
    while (end > tok && isspace((unsigned char)end[-1]))
      *--end = '\0';
    char *eq = strchr(tok, '=');
    if (!eq || !valid_token(tok, (size_t)(eq - tok)) || !valid_token(eq + 1, strlen(eq + 1))) {
      rc = at_error(AT_PARSE, "bad config '%.100s' (expected KEY=VALUE,KEY=VALUE with "
                    "letters, digits, '_', '.', '-', '+' or ':')", text);
      goto done;
    }
    *eq = '\0';
    if ((rc = os_grow(&kv, &cap, n + 1, sizeof *kv, 16)) != AT_OK)
      goto done;
    kv[n++] = (struct kv){tok, eq + 1};
  }
  if (n == 0) {
    rc = at_error(AT_PARSE, "empty config (expected KEY=VALUE,KEY=VALUE)");
    goto done;
  }
  qsort(kv, n, sizeof *kv, kv_cmp);
  size_t len = 1;
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && strcmp(kv[i].key, kv[i - 1].key) == 0) {
      rc = at_error(AT_PARSE, "config '%.100s' sets '%.40s' twice", text, kv[i].key);
      goto done;
    }
    len += strlen(kv[i].key) + strlen(kv[i].value) + 2;
  }
  char *s = malloc(len);
  if (!s) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto done;
  }
  char *p = s;
  for (size_t i = 0; i < n; i++)
    p += sprintf(p, "%s%s=%s", i ? "," : "", kv[i].key, kv[i].value);
  *out = s;
done:
  free(kv);
  free(copy);
  return rc;
}

char *db_problem_dims_text(const struct db_problem *p)
{
  size_t len = 1;
  for (int i = 0; i < p->ndims; i++)
    len += strlen(p->dim_names[i]) + 24;
  char *s = malloc(len), *q = s;
  if (!s)
    return NULL;
  *q = '\0';
  for (int i = 0; i < p->ndims; i++)
    q += sprintf(q, "%s%s=%lld", i ? "," : "", p->dim_names[i], (long long)p->dims[i]);
  return s;
}

static char *dim_names_text(const struct db_problem *p)
{
  size_t len = 1;
  for (int i = 0; i < p->ndims; i++)
    len += strlen(p->dim_names[i]) + 1;
  char *s = malloc(len), *q = s;
  if (!s)
    return NULL;
  *q = '\0';
  for (int i = 0; i < p->ndims; i++)
    q += sprintf(q, "%s%s", i ? "," : "", p->dim_names[i]);
  return s;
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
  return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static void bind_double(sqlite3_stmt *st, int i, double v)
{
  if (isnan(v))
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_double(st, i, v);
}

static void bind_int(sqlite3_stmt *st, int i, int64_t v)
{
  if (v < 0)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, v);
}

/* Three parameters from `first`: SM clock, memory clock, power limit. */
static void bind_clocks(sqlite3_stmt *st, int first, const struct db_clocks *c)
{
  bind_int(st, first, c->sm_mhz);
  bind_int(st, first + 1, c->mem_mhz);
  bind_double(st, first + 2, c->power_limit_w);
}

/* Step a statement that returns no rows. */
static int step_done(struct db *db, sqlite3_stmt *st, const char *doing)
{
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? AT_OK : db_sql_error(db, rc, doing);
}

/* Step a statement returning one id. AT_NOT_FOUND when there is no row. */
static int step_id(struct db *db, sqlite3_stmt *st, int64_t *id, const char *doing)
{
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return AT_OK;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? AT_NOT_FOUND : db_sql_error(db, rc, doing);
}

static int device_id(struct db *db, const struct db_trial *t, int64_t *id)
{
  sqlite3_stmt *st = db_stmt(db, STMT_DEVICE_PUT);
  if (!st)
    return AT_SQL;
  bind_text(st, 1, t->device);
  bind_text(st, 2, t->arch);
  bind_text(st, 3, t->vendor);
  int rc = step_done(db, st, "recording a device");
  if (rc != AT_OK || !(st = db_stmt(db, STMT_DEVICE_GET)))
    return rc != AT_OK ? rc : AT_SQL;
  bind_text(st, 1, t->device);
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    sqlite3_reset(st);
    return db_sql_error(db, rc, "reading a device");
  }
  *id = sqlite3_column_int64(st, 0);
  bool same = strcmp((const char *)sqlite3_column_text(st, 1), t->arch) == 0 &&
              strcmp((const char *)sqlite3_column_text(st, 2), t->vendor) == 0;
  sqlite3_reset(st);
  if (!same)
    return at_error(AT_USAGE, "device '%.60s' is recorded with another arch or vendor than "
                    "'%.40s'/'%.40s'", t->device, t->arch, t->vendor);
  return AT_OK;
}

static int kernel_id(struct db *db, const struct db_trial *t, int64_t *id)
{
  sqlite3_stmt *st = db_stmt(db, STMT_KERNEL_PUT);
  if (!st)
    return AT_SQL;
  bind_text(st, 1, t->kernel);
  bind_text(st, 2, t->kernel_hash);
  int rc = step_done(db, st, "recording a kernel");
  if (rc != AT_OK || !(st = db_stmt(db, STMT_KERNEL_GET)))
    return rc != AT_OK ? rc : AT_SQL;
  bind_text(st, 1, t->kernel);
  bind_text(st, 2, t->kernel_hash);
  return step_id(db, st, id, "reading a kernel");
}

static int problem_id(struct db *db, const struct db_problem *p, int64_t *id)
{
  char *dims = db_problem_dims_text(p), *names = dim_names_text(p);
  int rc = AT_OK;
  sqlite3_stmt *st;
  if (!dims || !names) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto done;
  }
  if (!(st = db_stmt(db, STMT_PROBLEM_PUT))) {
    rc = AT_SQL;
    goto done;
  }
  bind_text(st, 1, p->op);
  bind_text(st, 2, p->dtype);
  bind_text(st, 3, p->layout ? p->layout : "");
  bind_text(st, 4, names);
  bind_text(st, 5, dims);
  for (int i = 0; i < p->ndims; i++)
    sqlite3_bind_int64(st, 6 + i, p->dims[i]);
  rc = step_done(db, st, "recording a problem");
  if (rc != AT_OK)
    goto done;
  if (!(st = db_stmt(db, STMT_PROBLEM_GET))) {
    rc = AT_SQL;
    goto done;
  }
  bind_text(st, 1, p->op);
  bind_text(st, 2, p->dtype);
  bind_text(st, 3, p->layout ? p->layout : "");
  bind_text(st, 4, dims);
  rc = step_id(db, st, id, "reading a problem");
done:
  free(dims);
  free(names);
  return rc;
}

static int config_id(struct db *db, const char *text, int64_t *id)
{
  char *canon = NULL;
  int rc = db_config_canonical(text, &canon);
  if (rc != AT_OK)
    return rc;
  sqlite3_stmt *st = db_stmt(db, STMT_CONFIG_PUT);
  if (!st) {
    rc = AT_SQL;
    goto done;
  }
  bind_text(st, 1, canon);
  rc = step_done(db, st, "recording a config");
  if (rc != AT_OK)
    goto done;
  if (!(st = db_stmt(db, STMT_CONFIG_GET))) {
    rc = AT_SQL;
    goto done;
  }
  bind_text(st, 1, canon);
  rc = step_id(db, st, id, "reading a config");
done:
  free(canon);
  return rc;
}

static int check_problem(const struct db_problem *p)
{
  if (!p->op || !p->op[0] || !p->dtype || !p->dtype[0])
    return at_error(AT_USAGE, "a problem needs an op and a dtype");
  if (p->ndims < 1 || p->ndims > AT_MAX_DIMS)
    return at_error(AT_USAGE, "a problem has 1 to %d dims, not %d", AT_MAX_DIMS, p->ndims);
  for (int i = 0; i < p->ndims; i++) {
    if (!p->dim_names[i] || !valid_token(p->dim_names[i], strlen(p->dim_names[i])))
      return at_error(AT_USAGE, "bad name for dim %d of a '%.40s' problem", i, p->op);
    if (p->dims[i] < 1)
      return at_error(AT_USAGE, "dim '%.40s' is %lld; dims are at least 1", p->dim_names[i],
                      (long long)p->dims[i]);
  }
  return AT_OK;
}

static int put_run(struct db *db, const struct db_run *run, bool *inserted)
{
  if (inserted)
    *inserted = false;
  if (strlen(run->uuid) != DB_UUID_LEN)
    return at_error(AT_USAGE, "bad run uuid '%.40s' (expected %d hex digits)", run->uuid,
                    DB_UUID_LEN);
  sqlite3_stmt *st = db_stmt(db, STMT_RUN_PUT);
  if (!st)
    return AT_SQL;
  bind_text(st, 1, run->uuid);
  bind_text(st, 2, run->host);
  bind_text(st, 3, run->started_at);
  bind_text(st, 4, run->ended_at);
  bind_text(st, 5, run->toolchain);
  bind_text(st, 6, run->driver);
  bind_text(st, 7, run->autotune_version);
  bind_text(st, 8, run->strategy);
  bind_text(st, 9, run->args);
  bind_text(st, 10, run->runtime);
  bind_int(st, 11, run->gpu_index);
  bind_text(st, 12, run->gpu_name);
  bind_text(st, 13, run->gpu_uuid);
  bind_text(st, 14, run->cpu);
  bind_text(st, 15, run->os);
  bind_clocks(st, 16, &run->start_clocks);
  bind_clocks(st, 19, &run->end_clocks);
  bind_text(st, 22, run->owner.host);
  bind_text(st, 23, run->owner.boot);
  bind_int(st, 24, run->owner.pid);
  bind_int(st, 25, run->owner.start);
  bind_text(st, 26, run->owner.heartbeat_at);
  int rc = step_done(db, st, "recording a run");
  if (rc != AT_OK)
    return rc;
  bool added = sqlite3_changes(db->h) > 0;
  if (inserted)
    *inserted = added;
  if (!added && run->ended_at) {
    /* A run that was interrupted in one file and finished in another: keep the end. */
    if (!(st = db_stmt(db, STMT_RUN_SET_ENDED)))
      return AT_SQL;
    bind_text(st, 1, run->uuid);
    bind_text(st, 2, run->ended_at);
    bind_clocks(st, 3, &run->end_clocks);
    rc = step_done(db, st, "recording a run's end");
  }
  return rc;
}

static int end_run(struct db *db, const char *run_uuid, const struct db_clocks *end)
{
  char now[32];
  db_now(now);
  sqlite3_stmt *st = db_stmt(db, STMT_RUN_END);
  if (!st)
    return AT_SQL;
  bind_text(st, 1, run_uuid);
  bind_text(st, 2, now);
  if (end)
    bind_clocks(st, 3, end);
  return step_done(db, st, "ending a run");
}

int db_run_heartbeat(struct db *db, const char *run_uuid)
{
  char now[32];
  db_now(now);
  sqlite3_stmt *st = db_stmt(db, STMT_RUN_HEARTBEAT);
  if (!st)
    return AT_SQL;
  bind_text(st, 1, run_uuid);
  bind_text(st, 2, now);
  return step_done(db, st, "recording a run's heartbeat");
}

int db_trial_check(const struct db_trial *t)
{
  if (strlen(t->uuid) != DB_UUID_LEN)
    return at_error(AT_USAGE, "bad trial uuid '%.40s' (expected %d hex digits)", t->uuid,
                    DB_UUID_LEN);
  if (!t->device || !t->arch || !t->vendor || !t->kernel || !t->kernel_hash || !t->config)
    return at_error(AT_USAGE, "trial %s lacks a device, kernel or config", t->uuid);
  if ((int)t->status < 0 || t->status >= DB_TRIAL_STATUS_COUNT)
    return at_error(AT_USAGE, "trial %s has an unknown status", t->uuid);
  if (t->status == DB_TRIAL_OK && !(t->time_median_us >= 0))
    return at_error(AT_USAGE, "ok trial %s has no median time", t->uuid);
  int rc = check_problem(&t->problem);
  if (rc != AT_OK)
    return rc;
  /* These become identifiers, strings and comments of generated headers and sources:
   * names only, whatever a JSON line or another database holds (docs/database.md). */
  const struct {
    const char *field, *text;
  } names[] = {{"device", t->device}, {"arch", t->arch}, {"vendor", t->vendor},
               {"kernel", t->kernel}, {"kernel_hash", t->kernel_hash},
               {"op", t->problem.op}, {"dtype", t->problem.dtype},
               {"layout", t->problem.layout && t->problem.layout[0] ? t->problem.layout
                                                                     : "-"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!valid_token(names[i].text, strlen(names[i].text)))
      return at_error(AT_USAGE, "trial %s: %s '%.40s' is not a name (letters, digits, '_', "
                      "'.', '-', '+' or ':')", t->uuid, names[i].field,
                      printable(names[i].text));
  char *canon = NULL;
  if ((rc = db_config_canonical(t->config, &canon)) == AT_OK)
    free(canon);
  return rc;
}

int db_has_run(struct db *db, const char *uuid, bool *has)
{
  int64_t id = 0;
  sqlite3_stmt *st = db_stmt(db, STMT_RUN_GET);
  *has = false;
  if (!st)
    return AT_SQL;
  bind_text(st, 1, uuid);
  int rc = step_id(db, st, &id, "reading a run");
  *has = rc == AT_OK;
  return rc == AT_NOT_FOUND ? AT_OK : rc;
}

static int put_trial(struct db *db, const struct db_trial *t, bool *inserted)
{
  if (inserted)
    *inserted = false;
  int rc = db_trial_check(t);
  if (rc != AT_OK)
    return rc;
  int64_t run = 0, dev = 0, ker = 0, prob = 0, cfg = 0;
  sqlite3_stmt *st = db_stmt(db, STMT_RUN_GET);
  if (!st)
    return AT_SQL;
  bind_text(st, 1, t->run_uuid);
  rc = step_id(db, st, &run, "reading a run");
  if (rc == AT_NOT_FOUND)
    return at_error(AT_USAGE, "trial %s names run %.40s, which is not in '%.200s'", t->uuid,
                    t->run_uuid, db->path);
  if (rc == AT_OK)
    rc = device_id(db, t, &dev);
  if (rc == AT_OK)
    rc = kernel_id(db, t, &ker);
  if (rc == AT_OK)
    rc = problem_id(db, &t->problem, &prob);
  if (rc == AT_OK)
    rc = config_id(db, t->config, &cfg);
  if (rc != AT_OK)
    return rc;
  char now[32];
  db_now(now);
  if (!(st = db_stmt(db, STMT_TRIAL_PUT)))
    return AT_SQL;
  bind_text(st, 1, t->uuid);
  sqlite3_bind_int64(st, 2, run);
  sqlite3_bind_int64(st, 3, dev);
  sqlite3_bind_int64(st, 4, ker);
  sqlite3_bind_int64(st, 5, prob);
  sqlite3_bind_int64(st, 6, cfg);
  bind_text(st, 7, db_trial_status_name(t->status));
  bind_double(st, 8, t->time_median_us);
  bind_double(st, 9, t->time_min_us);
  bind_double(st, 10, t->time_max_us);
  bind_double(st, 11, t->time_spread);
  bind_int(st, 12, t->repetitions);
  bind_double(st, 13, t->tflops);
  bind_double(st, 14, t->gbps);
  bind_int(st, 15, t->registers);
  bind_int(st, 16, t->spills);
  bind_int(st, 17, t->shared_bytes);
  bind_double(st, 18, t->occupancy);
  bind_text(st, 19, t->message);
  bind_text(st, 20, t->created_at ? t->created_at : now);
  bind_int(st, 21, t->sm_clock_mhz);
  if (t->throttled >= 0)
    sqlite3_bind_int(st, 22, t->throttled != 0);
  bind_int(st, 23, t->gpu_ordinal);
  bind_text(st, 24, t->gpu_uuid);
  rc = step_done(db, st, "recording a trial");
  if (rc == AT_OK && inserted)
    *inserted = sqlite3_changes(db->h) > 0;
  return rc;
}

/* A write of several statements as one: outside a caller's transaction it gets its own
 * (BEGIN IMMEDIATE waits out a busy database, open.c's busy note), so that a trial
 * lands whole with the rows it names, or not at all. */
static int own_tx_begin(struct db *db, bool *own)
{
  *own = sqlite3_get_autocommit(db->h) != 0;
  return *own ? db_begin(db) : AT_OK;
}

static int own_tx_end(struct db *db, bool own, int rc)
{
  if (!own)
    return rc;
  if (rc == AT_OK && (rc = db_commit(db)) == AT_OK)
    return AT_OK;
  char msg[1024]; /* keep the failure's message, not the rollback's */
  snprintf(msg, sizeof msg, "%s", at_last_error());
  db_rollback(db);
  at_error(rc, "%s", msg);
  return rc;
}

int db_put_run(struct db *db, const struct db_run *run, bool *inserted)
{
  bool own;
  int rc = own_tx_begin(db, &own);
  if (rc == AT_OK)
    rc = own_tx_end(db, own, put_run(db, run, inserted));
  return rc;
}

int db_end_run(struct db *db, const char *run_uuid, const struct db_clocks *end)
{
  bool own;
  int rc = own_tx_begin(db, &own);
  if (rc == AT_OK)
    rc = own_tx_end(db, own, end_run(db, run_uuid, end));
  return rc;
}

int db_put_trial(struct db *db, const struct db_trial *t, bool *inserted)
{
  bool own;
  int rc = own_tx_begin(db, &own);
  if (rc == AT_OK)
    rc = own_tx_end(db, own, put_trial(db, t, inserted));
  return rc;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
  return (const char *)sqlite3_column_text(st, i);
}

static double col_double(sqlite3_stmt *st, int i)
{
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int64_t col_int(sqlite3_stmt *st, int i)
{
  return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static struct db_clocks col_clocks(sqlite3_stmt *st, int first)
{
  return (struct db_clocks){col_int(st, first), col_int(st, first + 1),
                            col_double(st, first + 2)};
}

static int scan_runs(struct db *db, db_run_fn fn, void *ctx)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db->h,
                              "SELECT uuid, host, started_at, ended_at, toolchain, driver, "
                              "autotune_version, strategy, args, runtime, gpu_index, "
                              "gpu_name, gpu_uuid, cpu, os, sm_clock_start_mhz, "
                              "mem_clock_start_mhz, power_limit_start_w, sm_clock_end_mhz, "
                              "mem_clock_end_mhz, power_limit_end_w, owner_host, owner_boot, "
                              "owner_pid, owner_start, heartbeat_at FROM runs ORDER BY id",
                              -1, &st, NULL);
  if (rc != SQLITE_OK)
    return db_sql_error(db, rc, "reading runs");
  int out = AT_OK;
  int64_t seen = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct db_run r;
    seen++;
    db_run_init(&r);
    snprintf(r.uuid, sizeof r.uuid, "%s", col_text(st, 0));
    r.host = col_text(st, 1);
    r.started_at = col_text(st, 2);
    r.ended_at = col_text(st, 3);
    r.toolchain = col_text(st, 4);
    r.driver = col_text(st, 5);
    r.autotune_version = col_text(st, 6);
    r.strategy = col_text(st, 7);
    r.args = col_text(st, 8);
    r.runtime = col_text(st, 9);
    r.gpu_index = col_int(st, 10);
    r.gpu_name = col_text(st, 11);
    r.gpu_uuid = col_text(st, 12);
    r.cpu = col_text(st, 13);
    r.os = col_text(st, 14);
    r.start_clocks = col_clocks(st, 15);
    r.end_clocks = col_clocks(st, 18);
    r.owner.host = col_text(st, 21);
    r.owner.boot = col_text(st, 22);
    r.owner.pid = col_int(st, 23);
    r.owner.start = col_int(st, 24);
    r.owner.heartbeat_at = col_text(st, 25);
    if ((out = fn(ctx, &r)) != 0)
      break;
  }
  if (out == AT_OK && rc != SQLITE_DONE)
    out = db_sql_error(db, rc, "reading runs");
  sqlite3_finalize(st);
  if (out == AT_OK)
    out = db_verify_count(db, "runs", seen);
  return out;
}

/* Split "m,n,k" into the problem's dim names, pointing into buf. */
static void split_names(char *buf, struct db_problem *p)
{
  char *save = NULL;
  int i = 0;
  for (char *tok = strtok_r(buf, ",", &save); tok && i < AT_MAX_DIMS;
       tok = strtok_r(NULL, ",", &save))
    p->dim_names[i++] = tok;
}

static int scan_trials(struct db *db, db_trial_fn fn, void *ctx)
{
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      db->h,
      "SELECT t.uuid, r.uuid, d.name, d.arch, d.vendor, k.template, k.content_hash, "
      "p.op, p.dtype, p.layout, p.dim_names, p.d0, p.d1, p.d2, p.d3, p.d4, p.d5, p.d6, "
      "p.d7, c.text, t.status, t.time_median_us, t.time_min_us, t.time_max_us, "
      "t.time_spread, t.repetitions, t.tflops, t.gbps, t.registers, t.spills, "
      "t.shared_bytes, t.occupancy, t.message, t.created_at, t.sm_clock_mhz, t.throttled, "
      "t.gpu_ordinal, t.gpu_uuid "
      "FROM trials t JOIN runs r ON r.id = t.run_id JOIN devices d ON d.id = t.device_id "
      "JOIN kernels k ON k.id = t.kernel_id JOIN problems p ON p.id = t.problem_id "
      "JOIN configs c ON c.id = t.config_id ORDER BY t.id",
      -1, &st, NULL);
  if (rc != SQLITE_OK)
    return db_sql_error(db, rc, "reading trials");
  int out = AT_OK;
  int64_t seen = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct db_trial t;
    seen++;
    db_trial_init(&t);
    char names[512];
    snprintf(t.uuid, sizeof t.uuid, "%s", col_text(st, 0));
    snprintf(t.run_uuid, sizeof t.run_uuid, "%s", col_text(st, 1));
    t.device = col_text(st, 2);
    t.arch = col_text(st, 3);
    t.vendor = col_text(st, 4);
    t.kernel = col_text(st, 5);
    t.kernel_hash = col_text(st, 6);
    t.problem.op = col_text(st, 7);
    t.problem.dtype = col_text(st, 8);
    t.problem.layout = col_text(st, 9);
    snprintf(names, sizeof names, "%s", col_text(st, 10));
    split_names(names, &t.problem);
    for (int i = 0; i < AT_MAX_DIMS && sqlite3_column_type(st, 11 + i) != SQLITE_NULL; i++) {
      t.problem.dims[i] = sqlite3_column_int64(st, 11 + i);
      t.problem.ndims = i + 1;
    }
    t.config = col_text(st, 19);
    t.status = (enum db_trial_status)db_trial_status_parse(col_text(st, 20));
    t.time_median_us = col_double(st, 21);
    t.time_min_us = col_double(st, 22);
    t.time_max_us = col_double(st, 23);
    t.time_spread = col_double(st, 24);
    t.repetitions = col_int(st, 25);
    t.tflops = col_double(st, 26);
    t.gbps = col_double(st, 27);
    t.registers = col_int(st, 28);
    t.spills = col_int(st, 29);
    t.shared_bytes = col_int(st, 30);
    t.occupancy = col_double(st, 31);
    t.message = col_text(st, 32);
    t.created_at = col_text(st, 33);
    t.sm_clock_mhz = col_int(st, 34);
    t.throttled = col_int(st, 35);
    t.gpu_ordinal = col_int(st, 36);
    t.gpu_uuid = sqlite3_column_type(st, 37) == SQLITE_NULL ? NULL : col_text(st, 37);
    if ((out = fn(ctx, &t)) != 0)
      break;
  }
  if (out == AT_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    out = db_sql_error(db, rc, "reading trials");
  sqlite3_finalize(st);
  if (out == AT_OK) /* the joins drop a trial whose run, device, ... row is lost */
    out = db_verify_count(db, "trials", seen);
  return out;
}

/* A scan and the count that checks it read one snapshot: outside a caller's
 * transaction they get a read transaction of their own, or a writer committing in
 * between would make a whole scan look short. */
int db_read_begin(struct db *db, bool *own)
{
  *own = sqlite3_get_autocommit(db->h) != 0;
  return *own ? db_exec(db, "BEGIN", "starting a read") : AT_OK;
}

void db_read_end(struct db *db, bool own)
{
  if (own && !sqlite3_get_autocommit(db->h))
    sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL); /* read only: nothing to lose */
}

int db_each_run(struct db *db, db_run_fn fn, void *ctx)
{
  bool own;
  int rc = db_read_begin(db, &own);
  if (rc == AT_OK)
    rc = scan_runs(db, fn, ctx);
  db_read_end(db, own);
  return rc;
}

int db_each_trial(struct db *db, db_trial_fn fn, void *ctx)
{
  bool own;
  int rc = db_read_begin(db, &own);
  if (rc == AT_OK)
    rc = scan_trials(db, fn, ctx);
  db_read_end(db, own);
  return rc;
}
