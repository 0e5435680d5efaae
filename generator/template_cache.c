/*
 * template_cache.c - the parse cache of templates (template_cache.h).
 *
 * The key: SHA-256 over the format line, the template's bytes and the number of include
 * folders. Not its path: a template copied elsewhere with its includes (a bundle, a
 * checkout on another machine) keeps its entry.
 *
 * The dependencies. Every file the parse opened besides the template is recorded with
 * the SHA-256 of its bytes and its place, relative where it can be, so the entry moves
 * with the files: "I<k>/<rel>" below include folder k, "T/<rel>" below the template's own
 * folder (quoted includes), else the absolute path. An entry is used only when each of
 * them still resolves to a file with those bytes; so any change of the template or of
 * anything it includes makes it stale, and the next load parses again and replaces it.
 * (Not caught: a header added to an earlier include folder that would now shadow a
 * recorded one. Documented in docs/templates.md.)
 *
 * The file, text: the format line, the key, then the fields of struct tmpl in a fixed
 * order, each a line: a number, or a string as "S<len>:<bytes>", or "N" for a NULL
 * string; then the dependencies; then "sum <SHA-256 of every byte before it>". Written to
 * a private name and renamed into place (os_write_atomic): a reader sees a whole
 * entry or none. Nothing read is trusted unchecked: a wrong format, key or checksum, a
 * malformed field or a stale dependency is a miss, never an error.
 */
#include "generator/template_cache.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/os.h"
#include "base/status.h"
#include "generator/sbuf.h"
#include "generator/template.h"

#define FORMAT "autotune-parse-cache 5" /* 2: the workspace pragma; 3: tensormap; 4: cluster;
                                            5: min_blocks */
/* Most of any list an entry may hold: far above any real template, a guard against a
 * forged count. */
#define MAX_LIST 100000

static void entry_key(const struct tmpl *t, const char *const *include_dirs,
                      char key[HASH_SHA256_HEX])
{
  size_t ndirs = 0;
  while (include_dirs && include_dirs[ndirs])
    ndirs++;
  char n[32];
  snprintf(n, sizeof n, "\n%zu\n", ndirs);
  struct hash_sha256 h;
  hash_sha256_init(&h);
  hash_sha256_str(&h, FORMAT "\n");
  hash_sha256_add(&h, t->text, t->text_len);
  hash_sha256_str(&h, n);
  hash_sha256_hex(&h, key);
}

static char *entry_path(const char *cache_dir, const char *key)
{
  return os_strdupf("%s/parse/%s.tmpl", cache_dir, key);
}

/* The folder a path is in, as a real path; "" when it has none. */
static void real_folder(const char *path, char out[PATH_MAX])
{
  char copy[PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path);
  char *slash = strrchr(copy, '/');
  if (slash == copy)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
  else
    snprintf(copy, sizeof copy, ".");
  if (!realpath(copy, out))
    out[0] = '\0';
}

/* "I<k>/<rel>", "T/<rel>" or the absolute path (dependencies, above). */
static char *encode_dep(const char *real, const char *const *include_dirs,
                        const char *tmpl_dir)
{
  for (size_t k = 0; include_dirs && include_dirs[k]; k++) {
    char dir[PATH_MAX];
    if (!realpath(include_dirs[k], dir))
      continue;
    size_t n = strlen(dir);
    if (strncmp(real, dir, n) == 0 && real[n] == '/')
      return os_strdupf("I%zu/%s", k, real + n + 1);
  }
  size_t n = strlen(tmpl_dir);
  if (n && strncmp(real, tmpl_dir, n) == 0 && real[n] == '/')
    return os_strdupf("T/%s", real + n + 1);
  return os_strdupf("%s", real);
}

/* The path an encoded dependency names today; NULL when it cannot (folder k gone). */
static char *decode_dep(const char *enc, const char *const *include_dirs,
                        const char *tmpl_dir)
{
  if (enc[0] == 'T' && enc[1] == '/')
    return os_strdupf("%s/%s", tmpl_dir, enc + 2);
  if (enc[0] == 'I') {
    char *end = NULL;
    unsigned long k = strtoul(enc + 1, &end, 10);
    size_t ndirs = 0;
    while (include_dirs && include_dirs[ndirs])
      ndirs++;
    if (end == enc + 1 || *end != '/' || k >= ndirs)
      return NULL;
    return os_strdupf("%s/%s", include_dirs[k], end + 1);
  }
  return enc[0] == '/' ? os_strdupf("%s", enc) : NULL;
}

static bool file_sha(const char *path, char hex[HASH_SHA256_HEX])
{
  unsigned char *data = NULL;
  size_t size = 0;
  if (os_read_file(path, &data, &size) != AT_OK)
    return false;
  hash_sha256_of(data, size, hex);
  free(data);
  return true;
}

/* ---- writing ------------------------------------------------------------------------- */

static void put_num(struct sbuf *b, int64_t v)
{
  sb_printf(b, "%" PRId64 "\n", v);
}

static void put_str(struct sbuf *b, const char *s)
{
  if (!s) {
    sb_puts(b, "N\n");
    return;
  }
  sb_printf(b, "S%zu:", strlen(s));
  sb_puts(b, s);
  sb_puts(b, "\n");
}

int tcache_write(const char *cache_dir, const char *const *include_dirs,
                 const struct tmpl *t, const struct tcache_deps *deps)
{
  if (!cache_dir || !*cache_dir)
    return AT_OK;
  char key[HASH_SHA256_HEX], tdir[PATH_MAX];
  entry_key(t, include_dirs, key);
  real_folder(t->path, tdir);
  struct sbuf b = {0};
  sb_puts(&b, FORMAT "\n");
  put_str(&b, key);
  put_str(&b, t->hash);
  put_str(&b, t->legacy_hash);
  put_str(&b, t->kernel);
  put_str(&b, t->kernel_qualified);
  put_num(&b, t->kernel_line);
  put_num(&b, (int64_t)t->ndims);
  for (size_t i = 0; i < t->ndims; i++)
    put_str(&b, t->dims[i]);
  put_num(&b, (int64_t)t->nparams);
  for (size_t i = 0; i < t->nparams; i++) {
    const struct tmpl_param *p = &t->params[i];
    put_str(&b, p->name);
    put_num(&b, p->line);
    put_num(&b, (int64_t)p->nvalues);
    for (size_t v = 0; v < p->nvalues; v++)
      put_num(&b, p->values[v]);
    put_str(&b, p->expr);
    put_num(&b, p->tparam);
  }
  put_num(&b, (int64_t)t->nreqs);
  for (size_t i = 0; i < t->nreqs; i++) {
    put_str(&b, t->reqs[i].name);
    put_str(&b, t->reqs[i].expr);
    put_num(&b, t->reqs[i].line);
  }
  for (size_t i = 0; i < 3; i++)
    put_str(&b, t->threads_text[i]);
  for (size_t i = 0; i < 3; i++)
    put_str(&b, t->grid_text[i]);
  for (size_t i = 0; i < 3; i++)
    put_str(&b, t->cluster_text[i]);
  put_str(&b, t->shared_text);
  put_str(&b, t->workspace_text);
  put_str(&b, t->min_blocks_text);
  put_str(&b, t->dtype);
  put_num(&b, t->arch_specific);
  put_num(&b, (int64_t)t->ntmaps);
  for (size_t i = 0; i < t->ntmaps; i++) {
    put_str(&b, t->tmaps[i].param);
    put_num(&b, t->tmaps[i].line);
    for (int k = 0; k < 3; k++)
      put_str(&b, t->tmaps[i].text[k]);
  }
  put_num(&b, (int64_t)t->npragma_lines);
  for (size_t i = 0; i < t->npragma_lines; i++)
    put_num(&b, t->pragma_lines[i]);
  put_num(&b, (int64_t)t->ntparams);
  for (size_t i = 0; i < t->ntparams; i++) {
    const struct tmpl_tparam *p = &t->tparams[i];
    put_str(&b, p->name);
    put_num(&b, p->kind);
    put_str(&b, p->type);
    put_num(&b, p->lo);
    put_num(&b, p->hi);
    put_num(&b, p->is_bool);
    put_num(&b, p->is_unsigned);
    put_num(&b, p->line);
  }
  put_num(&b, (int64_t)t->nfparams);
  for (size_t i = 0; i < t->nfparams; i++) {
    put_str(&b, t->fparams[i].name);
    put_str(&b, t->fparams[i].type);
  }
  put_num(&b, deps ? (int64_t)deps->n : 0);
  int rc = AT_OK;
  for (size_t i = 0; deps && i < deps->n && rc == AT_OK; i++) {
    char sha[HASH_SHA256_HEX];
    char *enc = encode_dep(deps->paths[i], include_dirs, tdir);
    if (!enc)
      rc = AT_NOMEM;
    else if (!file_sha(deps->paths[i], sha))
      rc = AT_IO; /* gone while we parsed: store nothing */
    else {
      put_str(&b, enc);
      put_str(&b, sha);
    }
    free(enc);
  }
  char *dir = os_strdupf("%s/parse", cache_dir);
  char *path = entry_path(cache_dir, key);
  if (rc == AT_OK && (b.oom || !dir || !path))
    rc = AT_NOMEM;
  if (rc == AT_OK) {
    char sum[HASH_SHA256_HEX];
    hash_sha256_of(b.p, b.n, sum);
    sb_printf(&b, "sum %s\n", sum);
    rc = b.oom ? AT_NOMEM : os_mkdir_p(dir);
  }
  if (rc == AT_OK)
    rc = os_write_atomic(path, b.p, b.n);
  free(dir);
  free(path);
  free(b.p);
  return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

struct rd {
  const char *p, *end;
  bool bad;     /* malformed: a miss */
  bool nomem;
};

static int64_t get_num(struct rd *r)
{
  if (r->bad)
    return 0;
  errno = 0;
  char *e = NULL;
  long long v = strtoll(r->p, &e, 10);
  if (e == r->p || e >= r->end || *e != '\n' || errno) {
    r->bad = true;
    return 0;
  }
  r->p = e + 1;
  return v;
}

static size_t get_count(struct rd *r)
{
  int64_t n = get_num(r);
  if (n < 0 || n > MAX_LIST)
    r->bad = true;
  return r->bad ? 0 : (size_t)n;
}

/* A string (malloc'd) or NULL for "N" (and on failure, with bad or nomem set). */
static char *get_str(struct rd *r)
{
  if (r->bad || r->p >= r->end)
    goto bad;
  if (r->p[0] == 'N' && r->p + 1 < r->end && r->p[1] == '\n') {
    r->p += 2;
    return NULL;
  }
  if (r->p[0] != 'S')
    goto bad;
  errno = 0;
  char *e = NULL;
  unsigned long long n = strtoull(r->p + 1, &e, 10);
  if (e == r->p + 1 || *e != ':' || errno || n > (unsigned long long)(r->end - e - 1) ||
      e[1 + n] != '\n')
    goto bad;
  char *s = malloc(n + 1);
  if (!s) {
    r->nomem = true;
    return NULL;
  }
  memcpy(s, e + 1, n);
  s[n] = '\0';
  if (strlen(s) != n) { /* a NUL inside: not ours */
    free(s);
    goto bad;
  }
  r->p = e + 2 + n;
  return s;
bad:
  r->bad = true;
  return NULL;
}

/* A string that must be present. */
static char *need_str(struct rd *r)
{
  char *s = get_str(r);
  if (!s && !r->nomem)
    r->bad = true;
  return s;
}

static void *get_array(struct rd *r, size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size);
  if (!p)
    r->nomem = true;
  return p;
}

/* Fill x from the fields; x is freed by the caller whatever happens. */
static void read_fields(struct rd *r, struct tmpl *x)
{
  char *h = need_str(r), *lh = need_str(r);
  if (h && lh && strlen(h) < sizeof x->hash && strlen(lh) < sizeof x->legacy_hash) {
    memcpy(x->hash, h, strlen(h) + 1);
    memcpy(x->legacy_hash, lh, strlen(lh) + 1);
  } else {
    r->bad = true;
  }
  free(h);
  free(lh);
  x->kernel = need_str(r);
  x->kernel_qualified = need_str(r);
  x->kernel_line = (int)get_num(r);
  size_t nd = get_count(r);
  if (nd > TMPL_MAX_DIMS)
    r->bad = true;
  for (size_t i = 0; i < nd && !r->bad && !r->nomem; i++)
    x->dims[x->ndims++] = need_str(r);
  size_t np = get_count(r);
  if (!r->bad && !(x->params = get_array(r, np, sizeof *x->params)))
    return;
  for (size_t i = 0; i < np && !r->bad && !r->nomem; i++) {
    struct tmpl_param *p = &x->params[x->nparams++];
    p->name = need_str(r);
    p->line = (int)get_num(r);
    size_t nv = get_count(r);
    if (r->bad || !(p->values = get_array(r, nv, sizeof *p->values)))
      return;
    for (size_t v = 0; v < nv && !r->bad; v++, p->nvalues++)
      p->values[v] = get_num(r);
    p->expr = get_str(r);
    p->tparam = (int)get_num(r);
  }
  size_t nr = get_count(r);
  if (r->bad || r->nomem || !(x->reqs = get_array(r, nr, sizeof *x->reqs)))
    return;
  for (size_t i = 0; i < nr && !r->bad && !r->nomem; i++) {
    struct tmpl_require *q = &x->reqs[x->nreqs++];
    q->name = need_str(r);
    q->expr = need_str(r);
    q->line = (int)get_num(r);
  }
  for (size_t i = 0; i < 3; i++)
    x->threads_text[i] = need_str(r);
  for (size_t i = 0; i < 3; i++)
    x->grid_text[i] = need_str(r);
  for (size_t i = 0; i < 3; i++)
    x->cluster_text[i] = need_str(r);
  x->shared_text = need_str(r);
  x->workspace_text = get_str(r);
  x->min_blocks_text = get_str(r);
  x->dtype = get_str(r);
  x->arch_specific = (int)get_num(r);
  size_t nm = get_count(r);
  if (nm > TMPL_MAX_TMAPS)
    r->bad = true;
  for (size_t i = 0; i < nm && !r->bad && !r->nomem; i++) {
    struct tmpl_tmap *m = &x->tmaps[x->ntmaps++];
    m->param = need_str(r);
    m->line = (int)get_num(r);
    for (int k = 0; k < 3; k++)
      m->text[k] = need_str(r);
  }
  size_t nl = get_count(r);
  if (r->bad || r->nomem || !(x->pragma_lines = get_array(r, nl, sizeof *x->pragma_lines)))
    return;
  for (size_t i = 0; i < nl && !r->bad; i++, x->npragma_lines++)
    x->pragma_lines[i] = (int)get_num(r);
  size_t nt = get_count(r);
  if (r->bad || r->nomem || !(x->tparams = get_array(r, nt, sizeof *x->tparams)))
    return;
  for (size_t i = 0; i < nt && !r->bad && !r->nomem; i++) {
    struct tmpl_tparam *p = &x->tparams[x->ntparams++];
    p->name = need_str(r);
    p->kind = get_num(r) == TMPL_TYPE ? TMPL_TYPE : TMPL_NONTYPE;
    p->type = need_str(r);
    p->lo = get_num(r);
    p->hi = get_num(r);
    p->is_bool = (int)get_num(r);
    p->is_unsigned = (int)get_num(r);
    p->line = (int)get_num(r);
  }
  size_t nf = get_count(r);
  if (r->bad || r->nomem || !(x->fparams = get_array(r, nf, sizeof *x->fparams)))
    return;
  for (size_t i = 0; i < nf && !r->bad && !r->nomem; i++) {
    struct tmpl_fparam *p = &x->fparams[x->nfparams++];
    p->name = need_str(r);
    p->type = need_str(r);
  }
}

/* Every recorded dependency still has its bytes. */
static bool deps_fresh(struct rd *r, const char *const *include_dirs, const char *tdir)
{
  size_t n = get_count(r);
  for (size_t i = 0; i < n && !r->bad && !r->nomem; i++) {
    char *enc = need_str(r), *sha = need_str(r);
    char *path = enc ? decode_dep(enc, include_dirs, tdir) : NULL;
    char now[HASH_SHA256_HEX];
    if (!path || !sha || !file_sha(path, now) || strcmp(now, sha) != 0)
      r->bad = true;
    free(enc);
    free(sha);
    free(path);
  }
  return !r->bad && !r->nomem;
}

int tcache_read(const char *cache_dir, const char *const *include_dirs, struct tmpl *t)
{
  if (!cache_dir || !*cache_dir)
    return AT_NOT_FOUND;
  char key[HASH_SHA256_HEX], tdir[PATH_MAX];
  entry_key(t, include_dirs, key);
  real_folder(t->path, tdir);
  char *path = entry_path(cache_dir, key);
  if (!path)
    return AT_NOMEM;
  unsigned char *data = NULL;
  size_t size = 0;
  int rc = os_read_file(path, &data, &size);
  free(path);
  if (rc != AT_OK)
    return rc == AT_NOMEM ? AT_NOMEM : AT_NOT_FOUND;
  /* the checksum line: "sum <64 hex>\n" at the end, over every byte before it */
  const char *text = (const char *)data;
  const size_t tail = 4 + 64 + 1;
  char sum[HASH_SHA256_HEX];
  if (size < tail || memcmp(text + size - tail, "sum ", 4) != 0 || text[size - 1] != '\n') {
    free(data);
    return AT_NOT_FOUND;
  }
  hash_sha256_of(text, size - tail, sum);
  struct rd r = {text, text + size - tail, false, false};
  if (memcmp(text + size - tail + 4, sum, 64) != 0 ||
      strncmp(text, FORMAT "\n", strlen(FORMAT) + 1) != 0) {
    free(data);
    return AT_NOT_FOUND;
  }
  r.p += strlen(FORMAT) + 1;
  char *k = need_str(&r);
  if (!k || strcmp(k, key) != 0)
    r.bad = true;
  free(k);
  struct tmpl *x = calloc(1, sizeof *x);
  if (!x) {
    free(data);
    return AT_NOMEM;
  }
  read_fields(&r, x);
  bool fresh = !r.bad && !r.nomem && deps_fresh(&r, include_dirs, tdir) && r.p == r.end;
  free(data);
  if (!fresh) {
    tmpl_free(x);
    return r.nomem ? AT_NOMEM : AT_NOT_FOUND;
  }
  /* move everything into t, which keeps its own path and text */
  x->path = t->path;
  x->text = t->text;
  x->text_len = t->text_len;
  *t = *x;
  free(x);
  return AT_OK;
}

void tcache_deps_free(struct tcache_deps *d)
{
  for (size_t i = 0; i < d->n; i++)
    free(d->paths[i]);
  free(d->paths);
  d->paths = NULL;
  d->n = 0;
}

int tcache_deps_add(struct tcache_deps *d, const char *path)
{
  char **p = realloc(d->paths, (d->n + 1) * sizeof *p);
  if (!p)
    return AT_NOMEM;
  d->paths = p;
  if (!(p[d->n] = os_strdupf("%s", path)))
    return AT_NOMEM;
  d->n++;
  return AT_OK;
}
