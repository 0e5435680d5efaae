/*
 * jsonl.c - export and import of a tuning database as JSON lines: a header line
 * {"autotune_jsonl":1,"schema":N}, then one {"type":"run",...} line per run and one
 * {"type":"trial",...} line per trial, each in insertion order. One table per record
 * kind lists its fields in the order they are written, and both directions read it, so
 * export and import cannot drift apart.
 *
 * Round-trip note. Importing an export into an empty database and exporting that gives
 * the same bytes: records keep their order (insertion order), dims keep the op's order
 * (JSON objects are read in text order), doubles are written so that they read back
 * bit for bit, and a missing value (NULL string, NaN double, -1 integer) is written as
 * null and read back as missing. Import checks every line before it writes one, so a
 * bad line adds nothing; it then writes DB_IMPORT_CHUNK records per transaction (db.h
 * says what a failure while writing leaves). Unknown fields are ignored (a newer
 * export still reads); missing required fields are errors.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/os.h"
#include "base/status.h"

#define JSONL_VERSION 1

enum field_kind {
  F_UUID,     /* char[DB_UUID_LEN + 1], required */
  F_STR_REQ,  /* const char *, required */
  F_STR,      /* const char *, NULL when missing */
  F_DBL,      /* double, NAN when missing */
  F_INT,      /* int64_t, -1 when missing */
  F_DIMS,     /* struct db_problem's names and dims, required */
  F_STATUS    /* enum db_trial_status, required */
};

struct field {
  const char *name;
  enum field_kind kind;
  size_t off;
};

static const struct field run_fields[] = {
    {"uuid", F_UUID, offsetof(struct db_run, uuid)},
    {"host", F_STR, offsetof(struct db_run, host)},
    {"started_at", F_STR, offsetof(struct db_run, started_at)},
    {"ended_at", F_STR, offsetof(struct db_run, ended_at)},
    {"toolchain", F_STR, offsetof(struct db_run, toolchain)},
    {"driver", F_STR, offsetof(struct db_run, driver)},
    {"autotune_version", F_STR, offsetof(struct db_run, autotune_version)},
    {"strategy", F_STR, offsetof(struct db_run, strategy)},
    {"args", F_STR, offsetof(struct db_run, args)},
    {"runtime", F_STR, offsetof(struct db_run, runtime)},
    {"gpu_index", F_INT, offsetof(struct db_run, gpu_index)},
    {"gpu_name", F_STR, offsetof(struct db_run, gpu_name)},
    {"gpu_uuid", F_STR, offsetof(struct db_run, gpu_uuid)},
    {"cpu", F_STR, offsetof(struct db_run, cpu)},
    {"os", F_STR, offsetof(struct db_run, os)},
    {"sm_clock_start_mhz", F_INT, offsetof(struct db_run, start_clocks.sm_mhz)},
    {"mem_clock_start_mhz", F_INT, offsetof(struct db_run, start_clocks.mem_mhz)},
    {"power_limit_start_w", F_DBL, offsetof(struct db_run, start_clocks.power_limit_w)},
    {"sm_clock_end_mhz", F_INT, offsetof(struct db_run, end_clocks.sm_mhz)},
    {"mem_clock_end_mhz", F_INT, offsetof(struct db_run, end_clocks.mem_mhz)},
    {"power_limit_end_w", F_DBL, offsetof(struct db_run, end_clocks.power_limit_w)},
    {"owner_host", F_STR, offsetof(struct db_run, owner.host)},
    {"owner_boot", F_STR, offsetof(struct db_run, owner.boot)},
    {"owner_pid", F_INT, offsetof(struct db_run, owner.pid)},
    {"owner_start", F_INT, offsetof(struct db_run, owner.start)},
    {"heartbeat_at", F_STR, offsetof(struct db_run, owner.heartbeat_at)},
    {NULL, F_STR, 0},
};

/* arch, vendor, kernel_hash and dtype are required too: the schema holds them NOT NULL. */
static const struct field trial_fields[] = {
    {"uuid", F_UUID, offsetof(struct db_trial, uuid)},
    {"run", F_UUID, offsetof(struct db_trial, run_uuid)},
    {"device", F_STR_REQ, offsetof(struct db_trial, device)},
    {"arch", F_STR_REQ, offsetof(struct db_trial, arch)},
    {"vendor", F_STR_REQ, offsetof(struct db_trial, vendor)},
    {"kernel", F_STR_REQ, offsetof(struct db_trial, kernel)},
    {"kernel_hash", F_STR_REQ, offsetof(struct db_trial, kernel_hash)},
    {"op", F_STR_REQ, offsetof(struct db_trial, problem.op)},
    {"dtype", F_STR_REQ, offsetof(struct db_trial, problem.dtype)},
    {"layout", F_STR, offsetof(struct db_trial, problem.layout)},
    {"dims", F_DIMS, offsetof(struct db_trial, problem)},
    {"config", F_STR_REQ, offsetof(struct db_trial, config)},
    {"status", F_STATUS, offsetof(struct db_trial, status)},
    {"time_median_us", F_DBL, offsetof(struct db_trial, time_median_us)},
    {"time_min_us", F_DBL, offsetof(struct db_trial, time_min_us)},
    {"time_max_us", F_DBL, offsetof(struct db_trial, time_max_us)},
    {"time_spread", F_DBL, offsetof(struct db_trial, time_spread)},
    {"repetitions", F_INT, offsetof(struct db_trial, repetitions)},
    {"tflops", F_DBL, offsetof(struct db_trial, tflops)},
    {"gbps", F_DBL, offsetof(struct db_trial, gbps)},
    {"registers", F_INT, offsetof(struct db_trial, registers)},
    {"spills", F_INT, offsetof(struct db_trial, spills)},
    {"shared_bytes", F_INT, offsetof(struct db_trial, shared_bytes)},
    {"occupancy", F_DBL, offsetof(struct db_trial, occupancy)},
    {"message", F_STR, offsetof(struct db_trial, message)},
    {"created_at", F_STR, offsetof(struct db_trial, created_at)},
    {"sm_clock_mhz", F_INT, offsetof(struct db_trial, sm_clock_mhz)},
    {"throttled", F_INT, offsetof(struct db_trial, throttled)},
    {"gpu_ordinal", F_INT, offsetof(struct db_trial, gpu_ordinal)},
    {"gpu_uuid", F_STR, offsetof(struct db_trial, gpu_uuid)},
    {NULL, F_STR, 0},
};

/* ---- export ---- */

static void write_record(FILE *out, const char *type, const struct field *fields,
                         const void *rec)
{
  const char *base = rec;
  fprintf(out, "{\"type\":\"%s\"", type);
  for (const struct field *f = fields; f->name; f++) {
    const void *at = base + f->off;
    fprintf(out, ",\"%s\":", f->name);
    switch (f->kind) {
    case F_UUID:
      json_write_str(out, (const char *)at);
      break;
    case F_STR_REQ:
    case F_STR:
      json_write_str(out, *(const char *const *)at);
      break;
    case F_DBL:
      json_write_double(out, *(const double *)at);
      break;
    case F_INT: {
      int64_t v = *(const int64_t *)at;
      if (v < 0)
        fputs("null", out);
      else
        json_write_int(out, v);
      break;
    }
    case F_DIMS: {
      const struct db_problem *p = at;
      fputc('{', out);
      for (int i = 0; i < p->ndims; i++) {
        if (i)
          fputc(',', out);
        json_write_str(out, p->dim_names[i]);
        fputc(':', out);
        json_write_int(out, p->dims[i]);
      }
      fputc('}', out);
      break;
    }
    case F_STATUS:
      json_write_str(out, db_trial_status_name(*(const enum db_trial_status *)at));
      break;
    }
  }
  fputs("}\n", out);
}

static int export_run(void *ctx, const struct db_run *run)
{
  write_record(ctx, "run", run_fields, run);
  return ferror((FILE *)ctx) ? AT_IO : AT_OK;
}

static int export_trial(void *ctx, const struct db_trial *t)
{
  write_record(ctx, "trial", trial_fields, t);
  return ferror((FILE *)ctx) ? AT_IO : AT_OK;
}

int db_export_jsonl(struct db *db, FILE *out)
{
  fprintf(out, "{\"autotune_jsonl\":%d,\"schema\":%d}\n", JSONL_VERSION, DB_SCHEMA_VERSION);
  int rc = ferror(out) ? AT_IO : AT_OK;
  bool own = false; /* runs and trials of one snapshot: no trial of a run not exported */
  if (rc == AT_OK && (rc = db_read_begin(db, &own)) == AT_OK) {
    rc = db_each_run(db, export_run, out);
    if (rc == AT_OK)
      rc = db_each_trial(db, export_trial, out);
    db_read_end(db, own);
  }
  if (rc == AT_OK && fflush(out) != 0)
    rc = AT_IO;
  if (rc == AT_IO) /* the output failed mid-way: the disk's fault, not the input's */
    return at_error(AT_DISK, "cannot write the export of '%.200s': %s", db_path(db),
                    strerror(errno ? errno : EIO));
  return rc;
}

/* ---- import ---- */

static bool is_hex(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
      return false;
  return true;
}

/* "ok, compile_error, ... or pruned" into buf. */
static const char *status_list(char *buf, size_t len)
{
  size_t k = 0;
  buf[0] = '\0';
  for (int s = 0; s < DB_TRIAL_STATUS_COUNT && k < len; s++) {
    const char *sep = s == 0 ? "" : s + 1 == DB_TRIAL_STATUS_COUNT ? " or " : ", ";
    int w = snprintf(buf + k, len - k, "%s%s", sep, db_trial_status_name(s));
    k += w > 0 ? (size_t)w : 0;
  }
  return buf;
}

static int read_dims(const struct json *v, struct db_problem *p, char *err, size_t err_len)
{
  if (v->type != JSON_OBJECT || v->len < 1 || v->len > AT_MAX_DIMS) {
    snprintf(err, err_len, "field 'dims' must be an object of 1 to %d named integers, "
             "like {\"m\":4096}", AT_MAX_DIMS);
    return AT_PARSE;
  }
  for (size_t i = 0; i < v->len; i++) {
    if (!v->items[i].is_int) {
      snprintf(err, err_len, "dim '%.40s' must be an integer", v->keys[i]);
      return AT_PARSE;
    }
    p->dim_names[i] = v->keys[i];
    p->dims[i] = v->items[i].integer;
  }
  p->ndims = (int)v->len;
  return AT_OK;
}

/* Fill `rec` from the object `obj`; its strings point into obj. */
static int read_record(const struct json *obj, const struct field *fields, void *rec,
                       char *err, size_t err_len)
{
  char *base = rec;
  for (const struct field *f = fields; f->name; f++) {
    void *at = base + f->off;
    const struct json *v = json_get(obj, f->name);
    bool missing = !v || v->type == JSON_NULL;
    bool required = f->kind == F_UUID || f->kind == F_STR_REQ || f->kind == F_DIMS ||
                    f->kind == F_STATUS;
    if (missing && required) {
      snprintf(err, err_len, "missing field '%s'", f->name);
      return AT_PARSE;
    }
    const char *want = NULL;
    switch (f->kind) {
    case F_UUID:
      if (v->type != JSON_STRING || v->len != DB_UUID_LEN || !is_hex(v->string, v->len))
        want = "32 hex digits in quotes";
      else
        memcpy(at, v->string, DB_UUID_LEN + 1);
      break;
    case F_STR_REQ:
    case F_STR:
      if (missing)
        *(const char **)at = NULL;
      else if (v->type != JSON_STRING)
        want = f->kind == F_STR ? "a string or null" : "a string";
      else
        *(const char **)at = v->string;
      break;
    case F_DBL:
      if (missing)
        *(double *)at = NAN;
      else if (v->type != JSON_NUMBER)
        want = "a number or null";
      else
        *(double *)at = v->number;
      break;
    case F_INT:
      if (missing)
        *(int64_t *)at = -1;
      else if (v->type != JSON_NUMBER || !v->is_int || v->integer < 0)
        want = "a non-negative integer or null";
      else
        *(int64_t *)at = v->integer;
      break;
    case F_DIMS:
      if (read_dims(v, at, err, err_len))
        return AT_PARSE;
      break;
    case F_STATUS: {
      char list[200];
      int s = v->type == JSON_STRING ? db_trial_status_parse(v->string) : -1;
      if (v->type != JSON_STRING) {
        want = "a string";
      } else if (s < 0) {
        snprintf(err, err_len, "unknown status '%.40s' (expected %s)", v->string,
                 status_list(list, sizeof list));
        return AT_PARSE;
      } else {
        *(enum db_trial_status *)at = (enum db_trial_status)s;
      }
      break;
    }
    }
    if (want) {
      snprintf(err, err_len, "field '%s' must be %s", f->name, want);
      return AT_PARSE;
    }
  }
  return AT_OK;
}

/* OUT: *schema: the database schema the export was written under (the current one when
 * the header does not say). */
static int check_header(const struct json *obj, int *schema, char *err, size_t err_len)
{
  const struct json *s = json_get(obj, "schema");
  *schema = s && s->is_int && s->integer >= 1 ? (int)s->integer : DB_SCHEMA_VERSION;
  const struct json *v = json_get(obj, "autotune_jsonl");
  if (!v) {
    snprintf(err, err_len, "not an autotune export: the first line must be the header "
             "{\"autotune_jsonl\":%d,\"schema\":%d}", JSONL_VERSION, DB_SCHEMA_VERSION);
    return AT_PARSE;
  }
  if (!v->is_int || v->integer != JSONL_VERSION) {
    snprintf(err, err_len, "unsupported export format %.0f (this autotune reads format %d)",
             v->type == JSON_NUMBER ? v->number : -1.0, JSONL_VERSION);
    return AT_PARSE;
  }
  return AT_OK;
}

/* One line after the header: a run or a trial put into db. Content errors go to err;
 * errors of the database itself are returned with at_last_error() set. */
static int import_line(struct db *db, const struct json *obj, int schema,
                       struct db_merge_stats *st, char *err, size_t err_len)
{
  const struct json *type = json_get(obj, "type");
  bool inserted = false;
  int rc;
  if (!type || type->type != JSON_STRING) {
    snprintf(err, err_len, "missing field 'type'");
    return AT_PARSE;
  }
  if (strcmp(type->string, "run") == 0) {
    struct db_run run;
    db_run_init(&run);
    if ((rc = read_record(obj, run_fields, &run, err, err_len)) != AT_OK)
      return rc;
    if ((rc = db_put_run(db, &run, &inserted)) != AT_OK)
      return rc;
    if (inserted)
      st->runs_added++;
    else
      st->runs_present++;
    return AT_OK;
  }
  if (strcmp(type->string, "trial") == 0) {
    struct db_trial t;
    db_trial_init(&t);
    if ((rc = read_record(obj, trial_fields, &t, err, err_len)) != AT_OK)
      return rc;
    /* schema 1 hashed templates with FNV-1a; the migration to 2 tags those hashes, and
     * so does an import of an export written under 1 (db/open.c) */
    char tagged[64];
    if (schema < 2 && strncmp(t.kernel_hash, HASH_FNV1A64_TAG, strlen(HASH_FNV1A64_TAG)) &&
        strlen(t.kernel_hash) < sizeof tagged - strlen(HASH_FNV1A64_TAG)) {
      snprintf(tagged, sizeof tagged, "%s%s", HASH_FNV1A64_TAG, t.kernel_hash);
      t.kernel_hash = tagged;
    }
    if ((rc = db_put_trial(db, &t, &inserted)) != AT_OK)
      return rc;
    if (inserted)
      st->trials_added++;
    else
      st->trials_present++;
    return AT_OK;
  }
  snprintf(err, err_len, "unknown record type '%.40s' (expected run or trial)", type->string);
  return AT_PARSE;
}

/* The whole input in memory: import reads it twice (check, then write), and standard
 * input cannot be read again. */
static int read_all(FILE *in, const char *name, char **buf, size_t *len)
{
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  while (b) {
    n += fread(b + n, 1, cap - n, in);
    if (n < cap)
      break;
    char *grown = realloc(b, cap * 2);
    if (!grown) {
      free(b);
      b = NULL;
      break;
    }
    b = grown;
    cap *= 2;
  }
  if (!b)
    return at_error(AT_NOMEM, "out of memory reading '%.200s'", name);
  if (ferror(in)) {
    free(b);
    return at_error(AT_IO, "cannot read '%.200s': %s", name, strerror(errno));
  }
  *buf = b;
  *len = n;
  return AT_OK;
}

/* The next line of [*at, end), its length with the newline. NULL at the end. */
static const char *next_line(const char **at, const char *end, size_t *n)
{
  const char *line = *at;
  if (line >= end)
    return NULL;
  const char *nl = memchr(line, '\n', (size_t)(end - line));
  *at = nl ? nl + 1 : end;
  *n = (size_t)(*at - line);
  return line;
}

static int uuid_cmp(const void *a, const void *b)
{
  return memcmp(a, b, DB_UUID_LEN);
}

/* A trial's run, checked after the whole file is read (a run may follow its trials). */
struct run_ref {
  char uuid[DB_UUID_LEN + 1];
  int lineno;
};

/* Pass 1: every line parses and holds a valid record; every trial's run is in the file
 * or in db. Nothing is written. Content errors name the line. */
static int check_all(struct db *db, const char *buf, size_t len, const char *name,
                     int *schema)
{
  const char *at = buf, *line;
  size_t n, nruns = 0, nrefs = 0, caprun = 0, capref = 0;
  char (*runs)[DB_UUID_LEN + 1] = NULL;
  struct run_ref *refs = NULL;
  struct json *obj = NULL;
  char err[512] = "";
  int lineno = 0, rc = AT_OK;
  while (rc == AT_OK && (line = next_line(&at, buf + len, &n))) {
    lineno++;
    err[0] = '\0';
    rc = json_parse(line, n, &obj, err, sizeof err);
    if (rc == AT_OK && obj->type != JSON_OBJECT) {
      snprintf(err, sizeof err, "expected an object {...} on each line");
      rc = AT_PARSE;
    }
    const struct json *type = rc == AT_OK && lineno > 1 ? json_get(obj, "type") : NULL;
    if (rc != AT_OK || lineno == 1) {
      if (rc == AT_OK)
        rc = check_header(obj, schema, err, sizeof err);
    } else if (!type || type->type != JSON_STRING) {
      snprintf(err, sizeof err, "missing field 'type'");
      rc = AT_PARSE;
    } else if (strcmp(type->string, "run") == 0) {
      struct db_run run;
      memset(&run, 0, sizeof run);
      if ((rc = read_record(obj, run_fields, &run, err, sizeof err)) == AT_OK) {
        if ((rc = os_grow(&runs, &caprun, nruns + 1, sizeof *runs, 64)) == AT_OK)
          memcpy(runs[nruns++], run.uuid, DB_UUID_LEN + 1);
      }
    } else if (strcmp(type->string, "trial") == 0) {
      struct db_trial t;
      db_trial_init(&t);
      if ((rc = read_record(obj, trial_fields, &t, err, sizeof err)) == AT_OK &&
          (rc = db_trial_check(&t)) != AT_OK)
        snprintf(err, sizeof err, "%s", at_last_error());
      if (rc == AT_OK)
        rc = os_grow(&refs, &capref, nrefs + 1, sizeof *refs, 1024);
      if (rc == AT_OK) {
        memcpy(refs[nrefs].uuid, t.run_uuid, DB_UUID_LEN + 1);
        refs[nrefs++].lineno = lineno;
      }
    } else {
      snprintf(err, sizeof err, "unknown record type '%.40s' (expected run or trial)",
               type->string);
      rc = AT_PARSE;
    }
    json_free(obj);
    obj = NULL;
  }
  if (rc == AT_OK && lineno == 0)
    rc = at_error(AT_PARSE, "%s: empty, expected an export of 'autotune db export'", name);
  else if (rc != AT_OK && rc != AT_NOMEM)
    rc = at_error(AT_PARSE, "%s:%d: %s", name, lineno, err[0] ? err : at_last_error());
  if (rc == AT_OK && nruns)
    qsort(runs, nruns, sizeof *runs, uuid_cmp);
  for (size_t i = 0; rc == AT_OK && i < nrefs; i++) {
    bool has = nruns && bsearch(refs[i].uuid, runs, nruns, sizeof *runs, uuid_cmp);
    if (!has && !db)
      rc = at_error(AT_PARSE, "%s:%d: the trial names run %s, which is not in the file (and "
                    "there is no database yet)", name, refs[i].lineno, refs[i].uuid);
    else if (!has && (rc = db_has_run(db, refs[i].uuid, &has)) == AT_OK && !has)
      rc = at_error(AT_PARSE, "%s:%d: the trial names run %s, which is neither in the file "
                    "nor in '%.200s'", name, refs[i].lineno, refs[i].uuid, db_path(db));
  }
  free(runs);
  free(refs);
  return rc;
}

int db_import_jsonl(struct db *db, FILE *in, const char *name, struct db_merge_stats *stats)
{
  struct db_merge_stats st = {0, 0, 0, 0};
  char *buf = NULL, err[512] = "";
  size_t len = 0, n;
  const char *at, *line;
  struct json *obj = NULL;
  bool in_tx = false;
  int schema = DB_SCHEMA_VERSION, lineno = 0, in_chunk = 0;
  if (stats)
    memset(stats, 0, sizeof *stats);
  if (!name)
    name = "input";
  at_error_clear();
  int rc = read_all(in, name, &buf, &len);
  if (rc == AT_OK)
    rc = check_all(db, buf, len, name, &schema);
  if (!db) { /* pass 1 alone */
    free(buf);
    return rc;
  }
  /* Pass 2: write, DB_IMPORT_CHUNK records a transaction (db.h). */
  for (at = buf; rc == AT_OK && (line = next_line(&at, buf + len, &n));) {
    if (++lineno == 1)
      continue; /* the header, checked */
    if (!in_tx) {
      if ((rc = db_begin(db)) != AT_OK)
        break;
      in_tx = true;
    }
    err[0] = '\0';
    rc = json_parse(line, n, &obj, err, sizeof err);
    if (rc == AT_OK)
      rc = import_line(db, obj, schema, &st, err, sizeof err);
    json_free(obj);
    obj = NULL;
    if (rc != AT_OK) {
      if (!err[0])
        snprintf(err, sizeof err, "%s",
                 at_last_error()[0] ? at_last_error() : at_status_message(rc));
      if (rc == AT_USAGE)
        rc = AT_PARSE;
      rc = at_error(rc, "%s:%d: %s", name, lineno, err);
      break;
    }
    if (++in_chunk == DB_IMPORT_CHUNK) {
      if ((rc = db_commit(db)) != AT_OK)
        break;
      in_tx = false;
      in_chunk = 0;
    }
  }
  if (rc == AT_OK && in_tx && (rc = db_commit(db)) == AT_OK)
    in_tx = false;
  if (in_tx) {
    /* Keep the message of the failure, not of the rollback. */
    snprintf(err, sizeof err, "%s", at_last_error());
    db_rollback(db);
    at_error(rc, "%s", err);
  }
  free(buf);
  if (rc == AT_OK && stats)
    *stats = st;
  return rc;
}
