/*
 * kt_cache.c - the Kernel Tuner cache reader (simulate.h, sim_space_from_kt): a recorded
 * space from the JSON cache file Kernel Tuner writes while it tunes, so that its users
 * can replay their own spaces through our strategies and import them (`autotune db
 * import`). The format, from Kernel Tuner's documentation and its util.py docstring
 * (process_cache): an object with "device_name", "kernel_name", "problem_size",
 * "tune_params_keys" (the parameter names, in order), "tune_params" (each name's values),
 * "objective" and "cache", whose keys are the parameter values joined by commas and
 * whose entries hold each parameter's value, "time" (milliseconds) and more. A failed
 * config's "time" is the name of its failure ("InvalidConfig", "CompilationFailedConfig",
 * "RuntimeFailedConfig", "ErrorConfig"). Kernel Tuner appends entries as it goes and
 * closes the object only at the end, so an interrupted run's file lacks the last "}\n}"
 * and may end in a comma: it is closed here as Kernel Tuner's own reader closes it. The
 * file may be gzip-compressed (zlib reads both).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/hash.h"
#include "base/json.h"
#include "base/os.h"
#include "base/status.h"
#include "db/db.h"
#include "tuner/search/simulate.h"

#define KT_READ_CHUNK 65536
#define KT_SNIFF 65536            /* bytes read to tell a cache from JSON lines */
#define KT_US_PER_MS 1000.0      /* Kernel Tuner times are milliseconds */
#define KT_MAX_FILE ((size_t)1 << 32) /* 4 GiB of JSON: far past any recorded space */

static const char *const kt_names[] = {
#define SIM_FAIL_KT(name, kt, status) kt,
    SIM_FAIL_MAP(SIM_FAIL_KT)
#undef SIM_FAIL_KT
};

/* The whole file, gunzipped when it is gzip, NUL-terminated. */
static int slurp(const char *path, char **out, size_t *len)
{
  *out = NULL;
  *len = 0;
  gzFile f = gzopen(path, "rb");
  if (!f)
    return at_error(AT_IO, "cannot open '%.200s'", path);
  size_t cap = KT_READ_CHUNK, n = 0;
  char *buf = malloc(cap + 1);
  int rc = buf ? AT_OK : at_error(AT_NOMEM, "out of memory");
  while (rc == AT_OK) {
    if (cap - n < KT_READ_CHUNK) {
      char *b = cap < KT_MAX_FILE ? realloc(buf, cap * 2 + 1) : NULL;
      if (!b) {
        rc = cap < KT_MAX_FILE ? at_error(AT_NOMEM, "out of memory")
                               : at_error(AT_PARSE, "%.200s: larger than 4 GiB", path);
        break;
      }
      buf = b;
      cap *= 2;
    }
    int got = gzread(f, buf + n, KT_READ_CHUNK);
    if (got < 0) {
      int e;
      rc = at_error(AT_IO, "%.200s: %s", path, gzerror(f, &e));
    } else if (got == 0)
      break;
    n += (size_t)got;
  }
  gzclose(f);
  if (rc != AT_OK) {
    free(buf);
    return rc;
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return AT_OK;
}

bool sim_is_kt_cache(const char *path)
{
  gzFile f = gzopen(path, "rb");
  if (!f)
    return false;
  char head[KT_SNIFF + 1];
  int got = gzread(f, head, KT_SNIFF);
  gzclose(f);
  if (got <= 0)
    return false;
  head[got] = '\0';
  return strstr(head, "\"tune_params_keys\"") && !strstr(head, "\"autotune_jsonl\"");
}

/* A parameter's value as config text: integers exactly, other numbers shortest, true
 * and false, strings as they are. False when the value cannot be config text (an array,
 * an object, a string with ',' or '='). */
static bool value_text(const struct json *v, char *out, size_t len)
{
  switch (v->type) {
  case JSON_NUMBER:
    if (v->is_int)
      snprintf(out, len, "%lld", (long long)v->integer);
    else
      snprintf(out, len, "%.15g", v->number);
    return true;
  case JSON_BOOL:
    snprintf(out, len, "%s", v->boolean ? "true" : "false");
    return true;
  case JSON_STRING:
    if (strpbrk(v->string, ",=") || v->len == 0 || v->len >= len)
      return false;
    snprintf(out, len, "%s", v->string);
    return true;
  default:
    return false;
  }
}

/* problem_size as text: a number, "48,64" for a list, a string as it is. */
static char *problem_text(const struct json *v)
{
  char buf[256] = "", one[64];
  if (!v)
    return strdup("");
  if (v->type != JSON_ARRAY)
    return strdup(value_text(v, buf, sizeof buf) ? buf : "?");
  size_t n = 0;
  for (size_t i = 0; i < v->len; i++) {
    if (!value_text(&v->items[i], one, sizeof one))
      snprintf(one, sizeof one, "?");
    int w = snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "", one);
    if (w < 0 || (size_t)w >= sizeof buf - n)
      break;
    n += (size_t)w;
  }
  return strdup(buf);
}

static enum sim_fail fail_of(const struct json *t, double *cost)
{
  *cost = INFINITY;
  if (t && t->type == JSON_NUMBER && isfinite(t->number) && t->number > 0 &&
      t->number < 1e20) { /* Kernel Tuner writes a failure as 1e20 or more in places */
    *cost = t->number;
    return SIM_FAIL_NONE;
  }
  if (t && t->type == JSON_STRING)
    for (int f = SIM_FAIL_INVALID; f < SIM_FAIL_COUNT; f++)
      if (strcmp(t->string, kt_names[f]) == 0)
        return (enum sim_fail)f;
  return SIM_FAIL_ERROR;
}

/* Parse text; an unclosed cache is closed the way Kernel Tuner's reader does: strip,
 * drop a trailing comma, append "}\n}". */
static int parse_cache(const char *path, char *text, size_t len, struct json **out)
{
  char err[128];
  if (json_parse(text, len, out, err, sizeof err) == AT_OK)
    return AT_OK;
  char first[128];
  snprintf(first, sizeof first, "%s", err);
  while (len && strchr(" \t\r\n", text[len - 1]))
    len--;
  if (len && text[len - 1] == ',')
    len--;
  char *closed = malloc(len + 4);
  if (!closed)
    return at_error(AT_NOMEM, "out of memory");
  memcpy(closed, text, len);
  memcpy(closed + len, "}\n}", 4);
  int rc = json_parse(closed, len + 3, out, err, sizeof err);
  free(closed);
  if (rc == AT_PARSE)
    return at_error(AT_PARSE, "%.200s: not a Kernel Tuner cache file (JSON %s)", path, first);
  return rc;
}

int sim_space_from_kt(const char *path, struct sim_space **out)
{
  *out = NULL;
  char *text = NULL;
  size_t len = 0;
  struct json *root = NULL;
  struct sim_space *s = NULL;
  int rc = slurp(path, &text, &len);
  if (rc == AT_OK)
    rc = parse_cache(path, text, len, &root);
  free(text);
  if (rc != AT_OK)
    return rc;
  const struct json *keys = json_get(root, "tune_params_keys"), *cache = json_get(root, "cache");
  const struct json *dev = json_get(root, "device_name"), *ker = json_get(root, "kernel_name");
  if (!keys || keys->type != JSON_ARRAY || keys->len == 0 || !cache ||
      cache->type != JSON_OBJECT) {
    rc = at_error(AT_PARSE, "%.200s: not a Kernel Tuner cache file (expected an object "
                  "with \"tune_params_keys\" and \"cache\")", path);
    goto out;
  }
  for (size_t k = 0; k < keys->len; k++)
    if (keys->items[k].type != JSON_STRING || strpbrk(keys->items[k].string, ",=") ||
        keys->items[k].len == 0) {
      rc = at_error(AT_PARSE, "%.200s: tune_params_keys[%zu] is not a parameter name", path, k);
      goto out;
    }
  if (!(s = calloc(1, sizeof *s)) || !(s->source = strdup(path)) ||
      !(s->device = strdup(dev && dev->type == JSON_STRING ? dev->string : "")) ||
      !(s->kernel = strdup(ker && ker->type == JSON_STRING ? ker->string : "")) ||
      !(s->problem = problem_text(json_get(root, "problem_size"))) ||
      !(s->objective = strdup("time_ms")) ||
      !(s->configs = calloc(cache->len + 1, sizeof *s->configs)) ||
      !(s->cost = calloc(cache->len + 1, sizeof *s->cost)) ||
      !(s->fail = calloc(cache->len + 1, sizeof *s->fail))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < cache->len; i++) {
    const struct json *e = &cache->items[i];
    char cfg[4096], val[256];
    size_t n = 0;
    if (e->type != JSON_OBJECT) {
      rc = at_error(AT_PARSE, "%.200s: cache entry '%.60s' is not an object", path,
                    cache->keys[i]);
      goto out;
    }
    for (size_t k = 0; k < keys->len; k++) {
      const struct json *v = json_get(e, keys->items[k].string);
      if (!v || !value_text(v, val, sizeof val)) {
        rc = at_error(AT_PARSE, "%.200s: cache entry '%.60s' has no usable value of '%.60s'",
                      path, cache->keys[i], keys->items[k].string);
        goto out;
      }
      int w = snprintf(cfg + n, sizeof cfg - n, "%s%s=%s", k ? "," : "",
                       keys->items[k].string, val);
      if (w < 0 || (size_t)w >= sizeof cfg - n) {
        rc = at_error(AT_PARSE, "%.200s: cache entry '%.60s' is too long", path,
                      cache->keys[i]);
        goto out;
      }
      n += (size_t)w;
    }
    /* canonical when its values are names; else as written (db import refuses it) */
    if (db_config_canonical(cfg, &s->configs[i]) != AT_OK && !(s->configs[i] = strdup(cfg))) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto out;
    }
    s->n++;
    s->fail[i] = fail_of(json_get(e, "time"), &s->cost[i]);
  }
  if (s->n == 0) {
    rc = at_error(AT_PARSE, "%.200s: the cache holds no configs", path);
    goto out;
  }
  rc = sim_space_coords(s);
  if (rc == AT_PARSE)
    rc = at_error(AT_PARSE, "%.200s: %s", path, at_last_error());
out:
  json_free(root);
  if (rc != AT_OK) {
    sim_space_free(s);
    return rc;
  }
  *out = s;
  return AT_OK;
}

/* ---- db import ---- */

/* text as a database name: every character outside [A-Za-z0-9_.+:-] becomes '_'. */
static char *token(const char *text, const char *fallback)
{
  if (!text || !text[0])
    text = fallback;
  char *t = strdup(text);
  for (char *c = t; c && *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
          strchr("_.-+:", *c)))
      *c = '_';
  return t;
}

/* 32 hex digits from two FNV-1a passes over text (an import's uuids are its content's,
 * so that importing the same file twice adds nothing). */
static void uuid_of(const char *a, const char *b, char *out)
{
  uint64_t h1 = hash_fnv1a64(HASH_FNV1A64_SEED, a, strlen(a));
  h1 = hash_fnv1a64(h1, "\n", 1);
  h1 = hash_fnv1a64(h1, b, strlen(b));
  uint64_t h2 = hash_fnv1a64(h1 ^ 0x5bd1e9955bd1e995ull, b, strlen(b));
  snprintf(out, DB_UUID_LEN + 1, "%016llx%016llx", (unsigned long long)h1,
           (unsigned long long)h2);
}

/* problem_size as dims p0, p1, ... (names[] holds their names); one dim of 1 for a
 * scalar or missing problem. AT_OK, AT_PARSE. */
static int kt_problem(const struct sim_space *s, struct db_problem *p,
                      char names[AT_MAX_DIMS][8])
{
  char *prob = strdup(s->problem), *save = NULL;
  int rc = prob ? AT_OK : at_error(AT_NOMEM, "out of memory");
  for (char *tok = prob && prob[0] ? strtok_r(prob, ",", &save) : NULL; tok && rc == AT_OK;
       tok = strtok_r(NULL, ",", &save)) {
    char *end;
    long long v = strtoll(tok, &end, 10);
    if (*end || v < 1 || p->ndims == AT_MAX_DIMS) {
      rc = at_error(AT_PARSE, "%.200s: problem_size '%.60s' is not up to %d positive integers",
                    s->source, s->problem, AT_MAX_DIMS);
      break;
    }
    snprintf(names[p->ndims], sizeof names[p->ndims], "p%d", p->ndims);
    p->dim_names[p->ndims] = names[p->ndims];
    p->dims[p->ndims++] = v;
  }
  if (rc == AT_OK && p->ndims == 0) {
    snprintf(names[0], sizeof names[0], "p0");
    p->dim_names[0] = names[0];
    p->dims[0] = 1;
    p->ndims = 1;
  }
  free(prob);
  return rc;
}

int sim_kt_check(const struct sim_space *s)
{
  struct db_problem p = {.ndims = 0};
  char names[AT_MAX_DIMS][8];
  int rc = kt_problem(s, &p, names);
  for (size_t i = 0; i < s->n && rc == AT_OK; i++) {
    char *canon = NULL;
    if (db_config_canonical(s->configs[i], &canon) != AT_OK)
      rc = at_error(AT_PARSE, "%.200s: config '%.100s' has values that are not names (letters, "
                    "digits, '_', '.', '-', '+', ':'): it can be simulated, not imported",
                    s->source, s->configs[i]);
    free(canon);
  }
  return rc;
}

int sim_kt_import(struct db *db, const struct sim_space *s, struct db_merge_stats *stats)
{
  memset(stats, 0, sizeof *stats);
  struct db_problem p = {.dtype = "unknown", .layout = ""};
  char names[AT_MAX_DIMS][8];
  char *dev = token(s->device, "unknown"), *ker = token(s->kernel, "kernel");
  const char *vendor = strncmp(s->device, "NVIDIA", 6) == 0 ? "nvidia"
                       : strncmp(s->device, "AMD", 3) == 0  ? "amd"
                                                            : "unknown";
  char hashbuf[17], run_id[DB_UUID_LEN + 1], now[32];
  int rc = dev && ker ? AT_OK : at_error(AT_NOMEM, "out of memory");
  if (rc == AT_OK && (rc = sim_kt_check(s)) == AT_OK)
    rc = kt_problem(s, &p, names);
  p.op = ker;
  if (rc != AT_OK)
    goto out;
  uint64_t kh = hash_fnv1a64(HASH_FNV1A64_SEED, s->kernel, strlen(s->kernel));
  for (size_t d = 0; d < s->ndims; d++)
    kh = hash_fnv1a64(kh, s->dim_names[d], strlen(s->dim_names[d]));
  snprintf(hashbuf, sizeof hashbuf, "%016llx", (unsigned long long)kh);
  char *ident = os_strdupf("%s|%s|%s|%zu", s->device, s->kernel, s->problem, s->n);
  if (!ident) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  uuid_of(ident, s->n ? s->configs[0] : "", run_id);
  free(ident);
  db_now(now);
  struct db_run run;
  db_run_init(&run);
  memcpy(run.uuid, run_id, sizeof run.uuid);
  run.started_at = now;
  run.ended_at = now;
  run.strategy = "kernel_tuner";
  run.args = s->source;
  if ((rc = db_begin(db)) != AT_OK)
    goto out;
  bool added = false;
  if ((rc = db_put_run(db, &run, &added)) == AT_OK)
    added ? stats->runs_added++ : stats->runs_present++;
  for (size_t i = 0; i < s->n && rc == AT_OK; i++) {
    struct db_trial t;
    db_trial_init(&t);
    uuid_of(run_id, s->configs[i], t.uuid);
    memcpy(t.run_uuid, run_id, sizeof t.run_uuid);
    t.device = dev;
    t.arch = dev;
    t.vendor = vendor;
    t.kernel = ker;
    t.kernel_hash = hashbuf;
    t.problem = p;
    t.config = s->configs[i];
    t.status = db_trial_status_parse(sim_fail_status(s->fail[i]));
    t.time_median_us = isfinite(s->cost[i]) ? s->cost[i] * KT_US_PER_MS : NAN;
    t.message = s->fail[i] != SIM_FAIL_NONE ? kt_names[s->fail[i]] : NULL;
    t.created_at = now;
    if ((rc = db_put_trial(db, &t, &added)) == AT_OK)
      added ? stats->trials_added++ : stats->trials_present++;
  }
  if (rc == AT_OK)
    rc = db_commit(db);
  else
    db_rollback(db);
out:
  free(dev);
  free(ker);
  return rc;
}
