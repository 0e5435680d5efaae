/*
 * cmd_cache.c - `autotune cache`: what the compile cache holds (AUTOTUNE_CACHE_DIR, else
 * $XDG_CACHE_HOME/autotune, else ~/.cache/autotune) and, with --older-than or
 * --max-size, pruning it by last use.
 *
 * An entry of compile/ (tuner/compile/build.c's note) is KEY.meta and, for a unit that
 * compiled, KEY.obj; its last use is the .meta's modification time, which every cache hit
 * refreshes (build.c's cache_load). An alias (VARIANT.in) names the entry of the batch
 * that compiled a variant: it goes with its entry. An entry is removed .meta first, so a
 * tuner reading it meanwhile finds no entry (a miss, compiled again), never a .meta
 * without its .obj; a .obj with no .meta (a leftover) is pruned by its own age. The
 * parse cache (parse/) is counted, not pruned: its entries are a few KiB each and are
 * what a machine without libclang loads templates from. After a prune the figures are
 * what is left. Nothing is touched with --dry-run, or on bad input.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/os.h"
#include "base/status.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/compile/build.h"

static const char usage_line[] =
    "autotune cache [--older-than DAYS] [--max-size SIZE] [--dry-run] [--json]";
static const char description[] =
    "Show what the compile cache holds (AUTOTUNE_CACHE_DIR, else $XDG_CACHE_HOME/autotune,\n"
    "else ~/.cache/autotune): compiled units, their aliases, parse entries, bytes, last use.\n"
    "--older-than and --max-size prune compiled units by last use (every cache hit\n"
    "refreshes it): those not used for DAYS days, then the least recently used until the\n"
    "cache fits in SIZE (bytes, or with K, M, G or T: 2G). A unit removed is compiled again\n"
    "when next needed; the parse cache is not pruned.";

struct unit {
  char key[65];
  time_t used;     /* the .meta's mtime; the .obj's for a leftover without .meta */
  int64_t bytes;   /* .meta + .obj */
  bool meta, gone;
};

struct scan {
  struct unit *units;
  size_t n, cap;
  size_t aliases, parse;
  int64_t unit_bytes, alias_bytes, parse_bytes;
};

static int64_t file_size(const char *dir, const char *name, time_t *mtime)
{
  char path[PATH_MAX];
  struct stat st;
  snprintf(path, sizeof path, "%.3800s/%.255s", dir, name);
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return -1;
  if (mtime)
    *mtime = st.st_mtime;
  return (int64_t)st.st_size;
}

/* The 64-hex key of NAME ending in ".ext", or false. */
static bool key_of(const char *name, const char *ext, char key[65])
{
  size_t n = strlen(name), e = strlen(ext);
  if (n != 64 + 1 + e || name[64] != '.' || strcmp(name + 65, ext) != 0)
    return false;
  for (size_t i = 0; i < 64; i++)
    if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
      return false;
  memcpy(key, name, 64);
  key[64] = '\0';
  return true;
}

static struct unit *unit_of(struct scan *s, const char *key)
{
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->units[i].key, key) == 0)
      return &s->units[i];
  if (os_grow(&s->units, &s->cap, s->n + 1, sizeof *s->units, 64) != AT_OK)
    return NULL;
  struct unit *u = &s->units[s->n++];
  memset(u, 0, sizeof *u);
  memcpy(u->key, key, 65);
  return u;
}

/* The units and aliases of compile/, the entries of parse/. */
static int scan_cache(const char *root, struct scan *s)
{
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%.4000s/compile", root);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char key[65];
    time_t t = 0;
    bool meta = key_of(e->d_name, "meta", key);
    if (meta || key_of(e->d_name, "obj", key)) {
      int64_t b = file_size(dir, e->d_name, &t);
      struct unit *u = b < 0 ? NULL : unit_of(s, key);
      if (b >= 0 && !u) {
        closedir(d);
        return at_error(AT_NOMEM, "out of memory");
      }
      if (!u)
        continue;
      u->bytes += b;
      if (meta || !u->meta)
        u->used = t;
      u->meta = u->meta || meta;
    } else if (key_of(e->d_name, "in", key)) {
      int64_t b = file_size(dir, e->d_name, NULL);
      if (b >= 0)
        s->aliases++, s->alias_bytes += b;
    }
  }
  if (d)
    closedir(d);
  for (size_t i = 0; i < s->n; i++)
    s->unit_bytes += s->units[i].bytes;
  snprintf(dir, sizeof dir, "%.4000s/parse", root);
  if ((d = opendir(dir))) {
    while ((e = readdir(d))) {
      size_t n = strlen(e->d_name);
      int64_t b = n > 5 && strcmp(e->d_name + n - 5, ".tmpl") == 0
                      ? file_size(dir, e->d_name, NULL) : -1;
      if (b >= 0)
        s->parse++, s->parse_bytes += b;
    }
    closedir(d);
  }
  return AT_OK;
}

static int by_use(const void *a, const void *b)
{
  const struct unit *x = *(struct unit *const *)a, *y = *(struct unit *const *)b;
  return x->used < y->used ? -1 : x->used > y->used ? 1 : strcmp(x->key, y->key);
}

/* Remove a unit: its .meta first (see the head), then its .obj. */
static void remove_unit(const char *dir, const struct unit *u)
{
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%.4000s/%s.meta", dir, u->key);
  (void)unlink(path);
  snprintf(path, sizeof path, "%.4000s/%s.obj", dir, u->key);
  (void)unlink(path);
}

static int by_key(const void *a, const void *b)
{
  return strcmp(((const struct unit *)a)->key, ((const struct unit *)b)->key);
}

/* Remove (or count, dry) the aliases whose unit is gone or absent (build.c reads them;
 * s->units sorted by key). */
static void prune_aliases(const char *dir, const struct scan *s, bool dry, size_t *n,
                          int64_t *bytes)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    struct unit want;
    char key[65], path[PATH_MAX];
    if (!key_of(e->d_name, "in", key))
      continue;
    const struct unit *u = bld_cache_alias(dir, key, want.key)
                               ? bsearch(&want, s->units, s->n, sizeof *s->units, by_key)
                               : NULL;
    if (u && u->meta && !u->gone)
      continue;
    snprintf(path, sizeof path, "%.3800s/%.255s", dir, e->d_name);
    int64_t b = file_size(dir, e->d_name, NULL);
    if (dry || unlink(path) == 0)
      (*n)++, *bytes += b > 0 ? b : 0;
  }
  if (d)
    closedir(d);
}

/* "2G" (or 2GB, 2GiB; K, M, G, T binary) -> 2^31; false on anything else. */
static bool parse_size(const char *text, int64_t *out)
{
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (end == text || errno || text[0] < '0' || text[0] > '9')
    return false;
  int shift = 0;
  if (*end) {
    static const char units[] = "KMGT";
    const char *u = strchr(units, *end == 'k' ? 'K' : *end);
    if (!u)
      return false;
    shift = 10 * (int)(u - units + 1);
    end++;
    if (strcmp(end, "") != 0 && strcmp(end, "B") != 0 && strcmp(end, "iB") != 0)
      return false;
  }
  if (v > (unsigned long long)INT64_MAX >> shift)
    return false;
  *out = (int64_t)(v << shift);
  return true;
}

static void iso(time_t t, char out[32])
{
  struct tm tm;
  if (t <= 0 || !gmtime_r(&t, &tm))
    snprintf(out, 32, "-");
  else
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void mib(int64_t b, char out[32])
{
  if (b >= 1024 * 1024)
    snprintf(out, 32, "%.1f MiB", (double)b / (1024.0 * 1024.0));
  else
    snprintf(out, 32, "%.1f KiB", (double)b / 1024.0);
}

int cmd_cache(int argc, char **argv)
{
  const char *max_size = NULL;
  int64_t days = -1;
  bool dry = false, json = false;
  const struct cli_opt opts[] = {
      {"older-than", CLI_INT, CLI_INT_IN(&days, 0, 36500), "DAYS",
       "remove the compiled units not used for DAYS days"},
      {"max-size", CLI_STR, &max_size, "SIZE",
       "then remove the least recently used until the cache fits in SIZE (2G, 500M)"},
      {"dry-run", CLI_FLAG, &dry, NULL, "say what would be removed; remove nothing"},
      {"json", CLI_FLAG, &json, NULL, "one JSON object"},
      {NULL, 0, NULL, NULL, NULL}};
  char *pos[8];
  int npos = 0;
  int rc = cli_parse(argc, argv, opts, usage_line, description, pos, &npos);
  if (rc < 0)
    return CLI_OK;
  if (rc != CLI_OK)
    return rc;
  if (npos > 0) {
    cli_error("unexpected argument '%.60s'; try 'autotune cache --help'", pos[0]);
    return CLI_USAGE;
  }
  int64_t cap = -1;
  if (max_size && !parse_size(max_size, &cap)) {
    cli_error("--max-size '%.60s': expected a size in bytes, or with K, M, G or T (2G)",
              max_size);
    return CLI_USAGE;
  }
  char root[PATH_MAX];
  if (!os_cache_dir(root, sizeof root)[0]) {
    cli_error("no cache folder: set AUTOTUNE_CACHE_DIR (or XDG_CACHE_HOME or HOME)");
    return CLI_USAGE;
  }
  struct scan s = {0};
  const time_t now = time(NULL);
  if ((rc = scan_cache(root, &s)) != AT_OK) {
    free(s.units);
    return cli_fail(rc);
  }
  bool prune = days >= 0 || cap >= 0;
  size_t removed = 0, removed_aliases = 0;
  int64_t freed = 0;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%.4000s/compile", root);
  if (prune) {
    qsort(s.units, s.n, sizeof *s.units, by_key); /* for prune_aliases' lookups */
    struct unit **order = malloc((s.n ? s.n : 1) * sizeof *order);
    if (!order) {
      free(s.units);
      return cli_fail(at_error(AT_NOMEM, "out of memory"));
    }
    for (size_t i = 0; i < s.n; i++)
      order[i] = &s.units[i];
    qsort(order, s.n, sizeof *order, by_use);
    int64_t total = s.unit_bytes + s.alias_bytes + s.parse_bytes;
    for (size_t i = 0; i < s.n; i++) {
      struct unit *u = order[i];
      bool old = days >= 0 && u->used < now - (time_t)days * 86400;
      if (!old && !(cap >= 0 && total > cap))
        continue;
      u->gone = true;
      removed++;
      freed += u->bytes;
      total -= u->bytes;
      if (!dry)
        remove_unit(dir, u);
    }
    free(order);
    int64_t ab = 0;
    prune_aliases(dir, &s, dry, &removed_aliases, &ab);
    freed += ab;
    if (!dry) { /* what is left */
      free(s.units);
      memset(&s, 0, sizeof s);
      if ((rc = scan_cache(root, &s)) != AT_OK) {
        free(s.units);
        return cli_fail(rc);
      }
    }
  }
  time_t oldest = 0, newest = 0;
  size_t units = 0;
  for (size_t i = 0; i < s.n; i++)
    if (s.units[i].meta) {
      units++;
      if (!oldest || s.units[i].used < oldest)
        oldest = s.units[i].used;
      if (s.units[i].used > newest)
        newest = s.units[i].used;
    }
  char from[32], to[32], ub[32], pb[32], fb[32];
  iso(oldest, from);
  iso(newest, to);
  mib(s.unit_bytes + s.alias_bytes, ub);
  mib(s.parse_bytes, pb);
  mib(freed, fb);
  if (json) {
    fputs("{\"dir\":", stdout);
    json_write_str(stdout, root);
    printf(",\"units\":%zu,\"unit_bytes\":%" PRId64 ",\"aliases\":%zu,\"alias_bytes\":%" PRId64
           ",\"parse\":%zu,\"parse_bytes\":%" PRId64 ",\"oldest_use\":%s%s%s,\"newest_use\":"
           "%s%s%s", /* null where there is no unit */
           units, s.unit_bytes, s.aliases, s.alias_bytes, s.parse, s.parse_bytes,
           units ? "\"" : "", units ? from : "null", units ? "\"" : "", units ? "\"" : "",
           units ? to : "null", units ? "\"" : "");
    if (prune)
      printf(",\"dry_run\":%s,\"removed_units\":%zu,\"removed_aliases\":%zu,"
             "\"freed_bytes\":%" PRId64,
             dry ? "true" : "false", removed, removed_aliases, freed);
    puts("}");
  } else {
    printf("cache %s: %zu compiled units and %zu aliases (%s), %zu parse entr%s (%s); "
           "last used %s to %s\n",
           root, units, s.aliases, ub, s.parse, s.parse == 1 ? "y" : "ies", pb, from, to);
    if (prune)
      printf("%s %zu units and %zu aliases, %s\n", dry ? "would remove" : "removed", removed,
             removed_aliases, fb);
  }
  free(s.units);
  return CLI_OK;
}
