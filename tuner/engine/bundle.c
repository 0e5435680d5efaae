/*
 * bundle.c - writing and opening bundles (bundle.h).
 *
 * Making one is a tuning run that measures nothing: tune_run with tune_opts.bundle_out
 * set to a staging folder compiles every valid config of every problem (strategy
 * exhaustive, no budget) with the staging folder's cache/ as its compile and parse
 * cache, after copying the templates there (bundle_stage_template), and records into a
 * throw-away database. Then the manifest is written and the staging folder renamed to
 * the name asked for: a reader never sees half a bundle under it.
 */
#include "tuner/engine/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "autotune/autotune.h"
#include "base/hash.h"
#include "base/json.h"
#include "base/os.h"
#include "base/status.h"
#include "tuner/engine/tune.h"
#include "tuner/search/search.h"

#define MANIFEST "bundle.json"

/* ---- the identity ---- */

struct walk {
  char **paths;   /* relative to the bundle */
  size_t n, cap;
};

static int walk_add(struct walk *w, const char *rel)
{
  int rc = os_grow(&w->paths, &w->cap, w->n + 1, sizeof *w->paths, 256);
  if (rc != AT_OK)
    return rc;
  return (w->paths[w->n] = os_strdupf("%s", rel)) ? (w->n++, AT_OK)
                                                   : at_error(AT_NOMEM, "out of memory");
}

/* Every regular file below root/rel, recursively (links are not followed), but for a
 * writer's temporary files (os_write_atomic's NAME.tmp-XXXXXX). */
static int walk_dir(const char *root, const char *rel, struct walk *w)
{
  char *dir = os_strdupf("%s/%s", root, rel);
  DIR *d = dir ? opendir(dir) : NULL;
  int rc = AT_OK;
  if (!d) {
    rc = dir ? at_error(AT_IO, "cannot read '%.200s': %s", dir, strerror(errno))
             : at_error(AT_NOMEM, "out of memory");
    free(dir);
    return rc;
  }
  struct dirent *e;
  while (rc == AT_OK && (e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char *sub = os_strdupf("%s/%s", rel, e->d_name), *full = os_strdupf("%s/%s", dir, e->d_name);
    struct stat st;
    if (!sub || !full)
      rc = at_error(AT_NOMEM, "out of memory");
    else if (lstat(full, &st) != 0)
      rc = at_error(AT_IO, "cannot read '%.200s': %s", full, strerror(errno));
    else if (S_ISDIR(st.st_mode))
      rc = walk_dir(root, sub, w);
    else if (S_ISREG(st.st_mode) && !strstr(e->d_name, ".tmp-"))
      rc = walk_add(w, sub);
    free(sub);
    free(full);
  }
  closedir(d);
  free(dir);
  return rc;
}

static int by_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The identity of the bundle at root: id[17]; *files, *bytes. */
static int identity(const char *root, char id[17], int64_t *files, int64_t *bytes)
{
  struct walk w = {0};
  int rc = walk_dir(root, "templates", &w);
  if (rc == AT_OK)
    rc = walk_dir(root, "cache", &w);
  struct hash_sha256 h;
  hash_sha256_init(&h);
  *files = *bytes = 0;
  if (rc == AT_OK)
    qsort(w.paths, w.n, sizeof *w.paths, by_str);
  for (size_t i = 0; rc == AT_OK && i < w.n; i++) {
    char *full = os_strdupf("%s/%s", root, w.paths[i]);
    unsigned char *data = NULL;
    size_t size = 0;
    rc = full ? os_read_file(full, &data, &size) : at_error(AT_NOMEM, "out of memory");
    if (rc == AT_OK) {
      char len[32];
      snprintf(len, sizeof len, "\n%zu\n", size);
      hash_sha256_add(&h, w.paths[i], strlen(w.paths[i]) + 1);
      hash_sha256_str(&h, len);
      hash_sha256_add(&h, data, size);
      (*files)++;
      *bytes += (int64_t)size;
    }
    free(data);
    free(full);
  }
  for (size_t i = 0; i < w.n; i++)
    free(w.paths[i]);
  free(w.paths);
  char hex[HASH_SHA256_HEX];
  hash_sha256_hex(&h, hex);
  snprintf(id, 17, "%.16s", hex);
  return rc;
}

/* ---- staging the templates ---- */

static int copy_file(const char *from, const char *to)
{
  unsigned char *data = NULL;
  size_t size = 0;
  int rc = os_read_file(from, &data, &size);
  if (rc == AT_OK)
    rc = os_write_file(to, data, size);
  free(data);
  return rc;
}

/* Copy the regular files below `from` into `to`, recursively; links are skipped. */
static int copy_tree(const char *from, const char *to)
{
  struct walk w = {0};
  int rc = os_mkdir_p(to);
  if (rc == AT_OK)
    rc = walk_dir(from, ".", &w);
  for (size_t i = 0; rc == AT_OK && i < w.n; i++) {
    char *src = os_strdupf("%s/%s", from, w.paths[i]);
    char *dst = os_strdupf("%s/%s", to, w.paths[i]);
    char *slash = dst ? strrchr(dst, '/') : NULL;
    if (!src || !dst || !slash) {
      rc = at_error(AT_NOMEM, "out of memory");
    } else {
      *slash = '\0';
      rc = os_mkdir_p(dst);
      *slash = '/';
      if (rc == AT_OK)
        rc = copy_file(src, dst);
    }
    free(src);
    free(dst);
  }
  for (size_t i = 0; i < w.n; i++)
    free(w.paths[i]);
  free(w.paths);
  return rc;
}

int bundle_stage_template(const char *staging, const char *folder, const char *path,
                          const char *common, char out[PATH_MAX])
{
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char dir[PATH_MAX], cdir[PATH_MAX];
  snprintf(dir, sizeof dir, "%.3000s/templates/%.200s", staging, folder ? folder : "user");
  snprintf(cdir, sizeof cdir, "%.3000s/templates/common", staging);
  snprintf(out, PATH_MAX, "%.3000s/%.1000s", dir, base);
  int rc = os_mkdir_p(dir);
  if (rc == AT_OK)
    rc = copy_file(path, out);
  if (rc == AT_OK && common[0] && access(cdir, F_OK) != 0)
    rc = copy_tree(common, cdir);
  return rc;
}

int bundle_template(const struct bundle *b, const char *folder, const char *arg,
                    char out[PATH_MAX])
{
  size_t len = strlen(arg);
  const char *base = strrchr(arg, '/');
  base = base ? base + 1 : arg;
  bool path = strchr(arg, '/') || (len > 2 && strcmp(arg + len - 2, ".h") == 0);
  snprintf(out, PATH_MAX, "%.3000s/templates/%.100s/%.800s%s", b->dir,
           path || !folder ? "user" : folder, base,
           len > 2 && strcmp(arg + len - 2, ".h") == 0 ? "" : ".h");
  if (!at_is_file(out))
    return at_error(AT_USAGE, "template '%.60s' is not in bundle %.200s", arg, b->dir);
  return AT_OK;
}

/* ---- the manifest ---- */

static int write_manifest(const char *root, const struct bundle *b)
{
  char *path = os_strdupf("%s/" MANIFEST, root);
  char *text = NULL;
  size_t len = 0;
  FILE *f = path ? open_memstream(&text, &len) : NULL;
  if (!f) {
    free(path);
    return at_error(AT_NOMEM, "out of memory");
  }
  char now[32];
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  fprintf(f, "{\"format\":%d,\"id\":", BUNDLE_FORMAT);
  json_write_str(f, b->id);
  const char *keys[] = {"op", "device", "emulate", "arch", "backend", "toolchain", "covers",
                        "autotune_version", "created_at"};
  const char *vals[] = {b->op, b->device, b->emulate, b->arch, b->backend, b->toolchain,
                        b->covers, at_version(), now};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    fprintf(f, ",\"%s\":", keys[i]);
    json_write_str(f, vals[i]);
  }
  fprintf(f, ",\"variants\":%" PRId64 ",\"ok\":%" PRId64 ",\"files\":%" PRId64
             ",\"bytes\":%" PRId64 "}\n", b->variants, b->ok, b->files, b->bytes);
  fclose(f);
  int rc = os_write_file(path, text, len);
  free(text);
  free(path);
  return rc;
}

static int bad_bundle(const char *dir, const char *why)
{
  return at_error(AT_USAGE, "--bundle '%.200s': %s", dir, why);
}

static void copy_str(const struct json *j, const char *key, char *out, size_t cap)
{
  const struct json *v = json_get(j, key);
  snprintf(out, cap, "%s", v && v->type == JSON_STRING ? v->string : "");
}

int bundle_open(const char *dir, struct bundle *b)
{
  memset(b, 0, sizeof *b);
  char *abs = os_abspath(dir), *path = abs ? os_strdupf("%s/" MANIFEST, abs) : NULL;
  unsigned char *text = NULL;
  size_t len = 0;
  struct json *j = NULL;
  int rc = AT_OK;
  char err[128];
  if (!abs || !path) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  snprintf(b->dir, sizeof b->dir, "%s", abs);
  if (os_read_file(path, &text, &len) != AT_OK) {
    rc = bad_bundle(dir, "no bundle there (no " MANIFEST "; make one with 'autotune bundle')");
    goto out;
  }
  if (json_parse((const char *)text, len, &j, err, sizeof err) != AT_OK ||
      j->type != JSON_OBJECT) {
    rc = bad_bundle(dir, MANIFEST " does not parse");
    goto out;
  }
  const struct json *fmt = json_get(j, "format");
  if (!fmt || !fmt->is_int || fmt->integer != BUNDLE_FORMAT) {
    rc = bad_bundle(dir, "a bundle of another format (this autotune reads format 1)");
    goto out;
  }
  copy_str(j, "id", b->id, sizeof b->id);
  copy_str(j, "op", b->op, sizeof b->op);
  copy_str(j, "device", b->device, sizeof b->device);
  copy_str(j, "emulate", b->emulate, sizeof b->emulate);
  copy_str(j, "arch", b->arch, sizeof b->arch);
  copy_str(j, "backend", b->backend, sizeof b->backend);
  copy_str(j, "toolchain", b->toolchain, sizeof b->toolchain);
  copy_str(j, "covers", b->covers, sizeof b->covers);
  const struct json *v = json_get(j, "variants"), *ok = json_get(j, "ok");
  b->variants = v && v->is_int ? v->integer : 0;
  b->ok = ok && ok->is_int ? ok->integer : 0;
  if (!b->id[0] || !b->op[0] || !b->device[0] || !b->backend[0] || !b->toolchain[0]) {
    rc = bad_bundle(dir, MANIFEST " lacks id, op, device, backend or toolchain");
    goto out;
  }
  char id[17];
  if (identity(b->dir, id, &b->files, &b->bytes) != AT_OK || strcmp(id, b->id) != 0) {
    rc = bad_bundle(dir, "its files do not hash to its identity (changed or incomplete "
                    "since it was made)");
    goto out;
  }
out:
  json_free(j);
  free(text);
  free(path);
  free(abs);
  return rc;
}

/* ---- making one ---- */

int bundle_make(const struct tune_opts *o, const char *out, struct bundle *b)
{
  memset(b, 0, sizeof *b);
  char covers[sizeof b->covers];
  struct stat st;
  if (!out || !*out)
    return at_error(AT_USAGE, "bundle needs --out DIR (a folder that does not exist yet)");
  if (lstat(out, &st) == 0)
    return at_error(AT_USAGE, "--out '%.200s' exists; a bundle is written to a new folder",
                    out);
  char *abs = os_abspath(out);
  if (!abs)
    return at_error(AT_NOMEM, "out of memory");
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", abs);
  char *slash = strrchr(parent, '/');
  if (slash == parent)
    parent[1] = '\0';
  else if (slash)
    *slash = '\0';
  if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
    free(abs);
    return at_error(AT_USAGE, "--out '%.200s': its folder does not exist", out);
  }
  char *staging = os_strdupf("%s.partial-XXXXXX", abs), *dbdir = NULL, *db = NULL;
  int rc = AT_OK;
  if (!staging) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  if (!mkdtemp(staging)) {
    rc = at_error(AT_IO, "cannot create a folder beside '%.200s': %s", out, strerror(errno));
    free(staging);
    staging = NULL;
    goto out;
  }
  if ((rc = os_mkdtemp("bundle-db", &dbdir)) != AT_OK)
    goto out;
  if (!(db = os_strdupf("%s/scratch.db", dbdir))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  /* exactly one run's variants when its picks are known before measuring (a budget and
   * an order-known strategy), else every valid one */
  struct tune_opts mk = *o;
  mk.bundle_out = staging;
  mk.bundle = NULL;
  bool exact = o->budget > 0 && o->time_budget_s <= 0 &&
               search_strategy_info(o->strategy)->order_known;
  if (exact) {
    snprintf(b->covers, sizeof b->covers, "--strategy %s --budget %" PRId64 " --seed %" PRIu64,
             search_strategy_name(o->strategy), o->budget, o->seed);
  } else {
    snprintf(b->covers, sizeof b->covers, "all");
    mk.strategy = SEARCH_EXHAUSTIVE;
    mk.budget = -1;
  }
  if (o->where) { /* the run from the bundle filters the same way (tune_cli_check) */
    size_t used = strlen(b->covers);
    if (snprintf(b->covers + used, sizeof b->covers - used, " --where %s", o->where) >=
        (int)(sizeof b->covers - used)) {
      rc = at_error(AT_USAGE, "--where '%.60s...' is too long for a bundle", o->where);
      goto out;
    }
  }
  mk.time_budget_s = 0;
  mk.resume = false;
  mk.db_path = db;
  struct tune_summary sum;
  if ((rc = tune_run(&mk, &sum)) != AT_OK)
    goto out;
  if (!sum.variants_ok) {
    rc = at_error(AT_UNSUPPORTED, "no variant compiled ok for %s: nothing to bundle",
                  o->device);
    goto out;
  }
  snprintf(covers, sizeof covers, "%s", b->covers);
  memset(b, 0, sizeof *b); /* what tune_run left aside */
  snprintf(b->covers, sizeof b->covers, "%s", covers);
  snprintf(b->op, sizeof b->op, "%s", o->op->name);
  snprintf(b->device, sizeof b->device, "%s", sum.device);
  snprintf(b->emulate, sizeof b->emulate, "%s", o->emulate ? o->emulate : "");
  snprintf(b->arch, sizeof b->arch, "%s", sum.arch);
  snprintf(b->backend, sizeof b->backend, "%s", sum.backend);
  snprintf(b->toolchain, sizeof b->toolchain, "%s", sum.toolchain);
  b->variants = (int64_t)sum.variants;
  b->ok = (int64_t)sum.variants_ok;
  if ((rc = identity(staging, b->id, &b->files, &b->bytes)) != AT_OK ||
      (rc = write_manifest(staging, b)) != AT_OK)
    goto out;
  if (rename(staging, abs) != 0) {
    rc = at_error(AT_IO, "cannot rename '%.200s' to '%.200s': %s", staging, out,
                  strerror(errno));
    goto out;
  }
  snprintf(b->dir, sizeof b->dir, "%s", abs);
  free(staging);
  staging = NULL;
out:
  if (staging) {
    os_rmdir(staging);
    free(staging);
  }
  if (dbdir) {
    os_rmdir(dbdir);
    free(dbdir);
  }
  free(db);
  free(abs);
  return rc;
}
