/*
 * build.c - the compile pipeline (build.h): batching variants into translation units,
 * compiling them on worker threads, the disk cache of compiled units, and the per-variant
 * verdicts (resources, occupancy, static pruning).
 *
 * Design note.
 *
 * Batching. The n configs are cut, in the order given, into batches of `batch`
 * consecutive variants; each batch becomes one TU (gen_emit_tu), emitted on the calling
 * thread before any worker starts (emission is cheap and the template and space are then
 * read by one thread only). A TU costs the compiler's start-up and the template's parse
 * once for all its variants, which is where batching wins. A batch that fails to compile
 * tells nothing about which variant broke it, so each of its variants is then compiled
 * alone as a "single" batch, appended after the first-pass batches in variant order; a
 * variant's `batch` names the TU whose code object holds it (its single after a failure).
 *
 * Determinism. Workers take batch indexes from a shared counter and write only into
 * their own batch's slot; nothing a worker produces depends on which worker ran it or
 * when. The singles are created only after every first-pass batch is done, in variant
 * order. Verdicts are computed on the calling thread afterwards, in variant order. So
 * the result is the same for any --jobs and any timing; only the progress callbacks and
 * the stats' wall time vary.
 *
 * The cache. One compiled TU is one entry, named by its key: SHA-256 over a format
 * version, the backend's name, the toolchain's version string, the arch, the extra flags,
 * and the TU's source text with its leading `//` comment lines left out. Those lines
 * (emit.c's header: device name, problem dims) are comments the compiler never turns into
 * code, so one compile serves every problem size and every device of one arch; every
 * other byte the compiler sees is in the key, including the template's text, inlined in
 * the TU, and the content hash of the headers it includes, part of every variant's name,
 * but for the folder in the `#line 1 "PATH"` before the template's text: only PATH's file
 * name counts, so a template that moves (a checkout elsewhere, a bundle) keeps its
 * entries. A compile error read from the cache may name the folder it was compiled in.
 * The toolchain string ("nvrtc 13.0", "clang 19.1.7") is what the backend's version()
 * reports for the run's include folders (the tool probed once per process by the backend
 * itself; the host's adds its headers' digest), asked only when the cache is on.
 * Invariants:
 *   1. An entry is two files in <cache>/compile/: KEY.obj (the code object, absent for a
 *      compile error) and KEY.meta (status, toolchain, the object's size and SHA-256,
 *      the per-kernel resources, the log, and a last line holding the SHA-256 of every
 *      byte before it).
 *   2. Each file is written to a private temporary name and renamed into place, .obj
 *      before .meta: a reader sees a whole file or none, and a .meta never names an
 *      .obj that was not complete first. Two processes writing one key write the same
 *      bytes; the last rename wins, harmlessly.
 *   3. Nothing read is trusted unchecked: a .meta whose format, key, checksum or kernel
 *      list is off, or whose .obj differs in size or SHA-256 from what it records, is a
 *      miss (counted in cache_rejected), compiled again and overwritten.
 *   4. Compile errors are cached like successes (they are as deterministic), except one
 *      whose compiler timed out or was killed: that says nothing about the source.
 *   5. The cache never changes a result: a hit yields the same code object, resources,
 *      log and status the compile gave.
 *   6. A hit refreshes the .meta's modification time: the entry's last use, by which
 *      `autotune cache` prunes (tuner/cli/cmd_cache.c). A bundle's cache is only read.
 * A second cache may seed the first (bld_options.seed_cache_dir: making a bundle, the
 * user's): read where the first lacks an entry, written with every compile.
 */
#include "tuner/compile/build.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "generator/sbuf.h"
#include "generator/space.h"
#include "generator/template.h"
#include "base/device.h"
#include "base/interrupt.h"
#include "base/hash.h"
#include "base/os.h"
#include "base/status.h"

#define CACHE_FORMAT "autotune-compile-cache 1"

const char *bld_verdict_name(enum bld_verdict v)
{
  switch (v) {
  case BLD_OK:
    return "ok";
  case BLD_COMPILE_ERROR:
    return "compile_error";
  case BLD_PRUNED:
    return "pruned";
  }
  return "?";
}

int bld_backend(const struct dev_profile *dev, const char *name, bool emulate,
                const struct cc_backend **b)
{
  static const enum cc_target by_vendor[] = {[DEV_HOST] = CC_HOST, [DEV_NVIDIA] = CC_CUDA,
                                             [DEV_AMD] = CC_HIP};
  char why[256] = "";
  *b = NULL;
  enum cc_target target = emulate ? CC_HOST : by_vendor[dev->vendor];
  const struct cc_backend *be = NULL;
  if (name) {
    be = strcmp(name, cc_host.name) == 0 ? &cc_host : cc_find(name);
    if (!be)
      return at_error(AT_USAGE, "unknown compile backend '%.40s' (nvrtc, nvcc, clang-hip, "
                      "host)", name);
    if (be->target != target)
      return at_error(AT_USAGE, "backend '%s' does not compile for %s (%s)", be->name,
                      dev->name, dev->arch);
    if (!be->available(why, sizeof why))
      return at_error(AT_UNSUPPORTED, "backend '%s' is not available: %s", be->name, why);
  } else if (target == CC_HOST) {
    be = &cc_host;
    if (!be->available(why, sizeof why))
      return at_error(AT_UNSUPPORTED, "the host compile backend is not available: %s", why);
  } else if (!(be = cc_pick(target))) {
    return AT_UNSUPPORTED; /* cc_pick said why */
  }
  *b = be;
  return AT_OK;
}

/* ---- the cache ---- */

struct job_ctx {
  const struct cc_backend *be;
  const char *arch;
  const char *const *include_dirs;
  const char *const *flags;
  const char *cache;                 /* <cache>/compile, or NULL */
  const char *seed;                  /* <seed cache>/compile (bld_options.seed_cache_dir),
                                        or NULL */
  const char *toolchain;             /* for the key; NULL without a cache */
  bool offline;                      /* reading a bundle (bld_options.toolchain) */
  char (*missed)[65];                /* keys serve_cached found absent or unsound: not */
  size_t nmissed;                    /* looked for again (nor counted twice) */
};

/* The part of a TU the key covers: all but its leading `//` lines (see the note). A
 * comment line ending in a backslash continues onto the next line, so it ends the skip. */
static const char *key_source(const char *src)
{
  while (src[0] == '/' && src[1] == '/') {
    const char *nl = strchr(src, '\n');
    if (!nl || (nl > src && nl[-1] == '\\'))
      break;
    src = nl + 1;
  }
  return src;
}

static void cache_key(const struct job_ctx *c, const char *source, char out[65])
{
  struct hash_sha256 h;
  char len[32];
  hash_sha256_init(&h);
  hash_sha256_str(&h, CACHE_FORMAT "\nbackend ");
  hash_sha256_str(&h, c->be->name);
  hash_sha256_str(&h, "\ntoolchain ");
  hash_sha256_str(&h, c->toolchain ? c->toolchain : "");
  hash_sha256_str(&h, "\narch ");
  hash_sha256_str(&h, c->arch);
  hash_sha256_str(&h, "\nflags");
  for (size_t i = 0; c->flags && c->flags[i]; i++) {
    snprintf(len, sizeof len, " %zu:", strlen(c->flags[i]));
    hash_sha256_str(&h, len);
    hash_sha256_str(&h, c->flags[i]);
  }
  /* the template's `#line 1 "PATH"` (emit.c) counts by PATH's file name alone */
  const char *src = key_source(source), *path = NULL, *base = NULL, *close = NULL;
  const char *line = strncmp(src, "#line 1 \"", 9) == 0 ? src - 1 : strstr(src, "\n#line 1 \"");
  if (line && (close = strchr(path = line + 10, '"')) && !memchr(path, '\n', (size_t)(close - path))) {
    base = path;
    for (const char *q = path; q < close; q++)
      if (*q == '/')
        base = q + 1;
  }
  snprintf(len, sizeof len, "\nsource %zu\n", strlen(src) - (base ? (size_t)(base - path) : 0));
  hash_sha256_str(&h, len);
  if (base) {
    hash_sha256_add(&h, src, (size_t)(path - src));
    hash_sha256_add(&h, base, (size_t)(close - base));
    src = close;
  }
  hash_sha256_str(&h, src);
  hash_sha256_hex(&h, out);
}

static char *entry_path(const char *cache, const char *key, const char *ext)
{
  return os_strdupf("%s/%s.%s", cache, key, ext);
}

/* Invariant 4: a timeout or a killed compiler is not the source's fault. */
static bool cacheable(const struct bld_batch *b)
{
  if (b->status == CC_OK)
    return true;
  return b->log && !strstr(b->log, " timed out (exit status ") &&
         !strstr(b->log, " was killed by a signal (exit status ");
}

static int cache_store_at(const struct job_ctx *c, const char *dir, const struct bld_batch *b)
{
  struct sbuf t = {0};
  char sum[65], *obj = NULL, *meta = NULL;
  int rc = AT_NOMEM;
  if (!(obj = entry_path(dir, b->key, "obj")) || !(meta = entry_path(dir, b->key, "meta")))
    goto out;
  if (b->status == CC_OK) {
    hash_sha256_of(b->code, b->code_size, sum);
    if ((rc = os_write_atomic(obj, b->code, b->code_size)) != AT_OK)
      goto out;
  }
  sb_printf(&t, CACHE_FORMAT "\nkey %s\nstatus %s\ntoolchain %s\n", b->key,
       b->status == CC_OK ? "ok" : "compile_error", c->toolchain);
  if (b->status == CC_OK)
    sb_printf(&t, "code %zu %s\n", b->code_size, sum);
  else
    sb_printf(&t, "code 0 -\n");
  sb_printf(&t, "kernels %zu\n", b->nkernels);
  for (size_t i = 0; i < b->nkernels; i++) {
    const struct cc_kernel_res *k = &b->kernels[i];
    sb_printf(&t, "%s %d %d %d %" PRId64 " %d %d %" PRId64 " %" PRId64 " %d\n", k->name,
         k->registers, k->agprs, k->sgprs, k->spill_bytes, k->vgpr_spills, k->sgpr_spills,
         k->shared_bytes, k->local_bytes, k->max_threads);
  }
  size_t loglen = b->log ? strlen(b->log) : 0;
  sb_printf(&t, "log %zu\n", loglen);
  sb_put(&t, b->log ? b->log : "", loglen);
  if (t.oom)
    goto out;
  hash_sha256_of(t.p, t.n, sum);
  sb_printf(&t, "\nend %s\n", sum);
  rc = t.oom ? AT_NOMEM : os_write_atomic(meta, t.p, t.n);
out:
  free(t.p);
  free(obj);
  free(meta);
  return rc;
}

/* One line of `p` up to '\n' into line[cap]; advances *p. False at the end or when the
 * line does not fit. */
static bool get_line(const char **p, const char *end, char *line, size_t cap)
{
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  if (!nl || (size_t)(nl - *p) >= cap)
    return false;
  memcpy(line, *p, (size_t)(nl - *p));
  line[nl - *p] = '\0';
  *p = nl + 1;
  return true;
}

static bool parse_kernel(const char *line, struct cc_kernel_res *k)
{
  char name[sizeof k->name];
  long long spill, shared, local;
  int used = 0;
  if (sscanf(line, "%95s %d %d %d %lld %d %d %lld %lld %d%n", name, &k->registers,
             &k->agprs, &k->sgprs, &spill, &k->vgpr_spills, &k->sgpr_spills, &shared, &local,
             &k->max_threads, &used) != 10 || line[used] != '\0')
    return false;
  memcpy(k->name, name, sizeof name);
  k->spill_bytes = spill;
  k->shared_bytes = shared;
  k->local_bytes = local;
  return true;
}

/* Invariant 3. Returns true and fills b (code, kernels, log, status) on a sound entry;
 * false (b untouched) on a miss. *rejected is set when an entry was there but unsound. */
static bool cache_load_at(const struct job_ctx *c, const char *dir, struct bld_batch *b,
                          bool *rejected)
{
  unsigned char *data = NULL, *code = NULL;
  size_t size = 0, code_size = 0, nk = 0, loglen = 0;
  struct cc_kernel_res *kernels = NULL;
  char *log = NULL, *obj = NULL, *meta = NULL, line[512], want[80], sum[65];
  bool ok = false, ok_status = false;
  *rejected = false;
  if (!(obj = entry_path(dir, b->key, "obj")) || !(meta = entry_path(dir, b->key, "meta")))
    goto out;
  if (access(meta, F_OK) != 0)
    goto out;
  *rejected = true;
  if (os_read_file(meta, &data, &size) != AT_OK)
    goto out;
  const char *p = (const char *)data, *end = p + size;
  /* the checksum line: "\nend <64 hex>\n" closes the file */
  if (size < 70 || memcmp(end - 70, "\nend ", 5) != 0 || end[-1] != '\n')
    goto out;
  hash_sha256_of(data, size - 70, sum);
  if (memcmp(end - 65, sum, 64) != 0)
    goto out;
  end -= 70;
  snprintf(want, sizeof want, "key %s", b->key);
  if (!get_line(&p, end, line, sizeof line) || strcmp(line, CACHE_FORMAT) != 0 ||
      !get_line(&p, end, line, sizeof line) || strcmp(line, want) != 0 ||
      !get_line(&p, end, line, sizeof line))
    goto out;
  if (strcmp(line, "status ok") == 0)
    ok_status = true;
  else if (strcmp(line, "status compile_error") != 0)
    goto out;
  if (!get_line(&p, end, line, sizeof line) || strncmp(line, "toolchain ", 10) != 0 ||
      strcmp(line + 10, c->toolchain) != 0 || !get_line(&p, end, line, sizeof line) ||
      sscanf(line, "code %zu %64s", &code_size, want) != 2 ||
      !get_line(&p, end, line, sizeof line) || sscanf(line, "kernels %zu", &nk) != 1 ||
      nk > 100000)
    goto out;
  if (nk && !(kernels = calloc(nk, sizeof *kernels)))
    goto out;
  for (size_t i = 0; i < nk; i++)
    if (!get_line(&p, end, line, sizeof line) || !parse_kernel(line, &kernels[i]))
      goto out;
  if (!get_line(&p, end, line, sizeof line) || sscanf(line, "log %zu", &loglen) != 1 ||
      loglen != (size_t)(end - p) || !(log = malloc(loglen + 1)))
    goto out;
  memcpy(log, p, loglen);
  log[loglen] = '\0';
  if (ok_status) {
    size_t got = 0;
    if (code_size == 0 || os_read_file(obj, &code, &got) != AT_OK || got != code_size)
      goto out;
    hash_sha256_of(code, code_size, sum);
    if (strcmp(sum, want) != 0)
      goto out;
  }
  b->status = ok_status ? CC_OK : CC_COMPILE_ERROR;
  b->code = code;
  b->code_size = ok_status ? code_size : 0;
  b->kernels = kernels;
  b->nkernels = nk;
  b->log = log;
  code = NULL;
  kernels = NULL;
  log = NULL;
  ok = true;
  *rejected = false;
out:
  free(data);
  free(code);
  free(kernels);
  free(log);
  free(obj);
  free(meta);
  return ok;
}

/* A hit's last use, by which `autotune cache` prunes: the .meta's modification time (best
 * effort; never in a bundle's cache, which a run from it only reads). */
static void touch_entry(const struct job_ctx *c, const char *dir, const char *key)
{
  char *meta = c->offline ? NULL : entry_path(dir, key, "meta");
  if (meta)
    (void)utimensat(AT_FDCWD, meta, NULL, 0);
  free(meta);
}

/* The seed (bld_options.seed_cache_dir) under the cache: an entry the cache lacks, or
 * holds unsound, is read from the seed and stored into the cache as it was (the same
 * bytes: the format is deterministic); an entry stored goes to both (the seed's copy
 * best effort). Entries are named by content, so one compiled for the seed's owner serves
 * here unchanged. */
static bool cache_load(const struct job_ctx *c, struct bld_batch *b, bool *rejected)
{
  if (cache_load_at(c, c->cache, b, rejected)) {
    touch_entry(c, c->cache, b->key);
    return true;
  }
  bool seed_rejected = false;
  if (!c->seed || !cache_load_at(c, c->seed, b, &seed_rejected))
    return false;
  touch_entry(c, c->seed, b->key);
  *rejected = false;
  (void)cache_store_at(c, c->cache, b); /* not stored: read from the seed again next time */
  return true;
}

static int cache_store(const struct job_ctx *c, const struct bld_batch *b)
{
  int rc = cache_store_at(c, c->cache, b);
  if (c->seed)
    (void)cache_store_at(c, c->seed, b);
  return rc;
}

/* The backend's version string. OUT: *toolchain (malloc'd). Returns the backend's
 * status when it cannot run at all. */
static int probe_toolchain(const struct job_ctx *c, char **toolchain)
{
  char v[160];
  *toolchain = NULL;
  int rc = c->be->version(c->include_dirs, v, sizeof v);
  if (rc != AT_OK)
    return rc;
  *toolchain = strdup(v);
  return *toolchain ? AT_OK : at_error(AT_NOMEM, "out of memory");
}

/* ---- compiling batches ---- */

/* Compile (or read from the cache) one batch from its source. On AT_OK the batch holds
 * status, log, kernels and code. Another status: the backend could not run. */
static int run_batch(const struct job_ctx *c, struct bld_batch *b, const char *source,
                     char **toolchain, size_t *hit, size_t *rejected, size_t *write_failed)
{
  struct cc_result r = {0};
  bool bad = false;
  int rc = AT_OK;
  *hit = *rejected = *write_failed = 0;
  if (c->cache) {
    cache_key(c, source, b->key);
    bool looked = false; /* serve_cached looked already */
    for (size_t i = 0; i < c->nmissed && !looked; i++)
      looked = strcmp(c->missed[i], b->key) == 0;
    if (!looked && cache_load(c, b, &bad)) {
      b->cached = true;
      *hit = 1;
      return AT_OK;
    }
    *rejected = bad;
  }
  struct cc_request req = {.source = source, .name = c->be->target == CC_CUDA ? "batch.cu"
                                                    : c->be->target == CC_HIP  ? "batch.hip"
                                                                               : "batch.cpp",
                           .arch = c->arch, .include_dirs = c->include_dirs,
                           .flags = c->flags};
  rc = c->be->compile(&req, &r);
  if (rc == AT_OK && r.status == CC_TOOL_ERROR)
    rc = at_error(AT_UNSUPPORTED, "%s: the compiler failed to run", c->be->name);
  if (rc != AT_OK)
    goto out;
  b->status = r.status;
  b->code = r.code;
  b->code_size = r.code_size;
  b->kernels = r.kernels;
  b->nkernels = r.nkernels;
  b->log = r.log ? r.log : strdup("");
  *toolchain = r.toolchain;
  memset(&r, 0, sizeof r);
  if (!b->log) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  if (c->cache && cacheable(b) && cache_store(c, b) != AT_OK)
    *write_failed = 1;
out:
  cc_result_release(&r);
  return rc;
}

/* The shared state of one phase's workers. */
struct pool {
  const struct job_ctx *ctx;
  struct bld_batch *batches;
  char **sources;
  size_t next, end;                  /* batch indexes still to take: [next, end) */
  pthread_mutex_t mu;
  int rc;                            /* the first failure, AT_OK if none */
  char err[1024];
  char *toolchain;                   /* the first compile's version string */
  struct bld_progress prog;
  struct bld_stats *stats;
  double t0;
  bld_progress_fn progress;
  void *progress_ctx;
};

static void *worker(void *arg)
{
  struct pool *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    size_t i = p->next;
    if (p->rc == AT_OK && i < p->end && intr_requested()) {
      p->rc = AT_INTERRUPTED;
      snprintf(p->err, sizeof p->err, "interrupted");
    }
    bool stop = p->rc != AT_OK || i >= p->end;
    if (!stop)
      p->next++;
    pthread_mutex_unlock(&p->mu);
    if (stop)
      break;
    struct bld_batch *b = &p->batches[i];
    char *tc = NULL;
    size_t hit, rejected, wfail;
    int rc = run_batch(p->ctx, b, p->sources[i], &tc, &hit, &rejected, &wfail);
    pthread_mutex_lock(&p->mu);
    if (rc != AT_OK && p->rc == AT_OK) {
      p->rc = rc;
      snprintf(p->err, sizeof p->err, "%s", at_last_error());
    }
    if (tc && !p->toolchain) {
      p->toolchain = tc;
      tc = NULL;
    }
    p->stats->cache_hits += hit;
    p->stats->compiled += rc == AT_OK && !hit;
    p->stats->cache_rejected += rejected;
    p->stats->cache_writes_failed += wfail;
    p->prog.batches_done++;
    p->prog.batches_cached += hit;
    if (rc == AT_OK && (b->single || b->status == CC_OK))
      p->prog.variants_done += b->count;
    p->prog.elapsed_s = at_now_s() - p->t0;
    if (p->progress)
      p->progress(p->progress_ctx, &p->prog);
    pthread_mutex_unlock(&p->mu);
    free(tc);
  }
  return NULL;
}

/* Compile batches [from, to) on up to `jobs` threads (the calling one among them). */
static int run_pool(struct pool *p, size_t from, size_t to, int jobs)
{
  pthread_t th[256];
  size_t nth = 0, want = (size_t)(jobs > 0 ? jobs : 1);
  p->next = from;
  p->end = to;
  p->prog.batches_total = to;
  if (want > to - from)
    want = to - from;
  if (want > sizeof th / sizeof th[0])
    want = sizeof th / sizeof th[0];
  for (size_t i = 1; i < want; i++) {
    if (pthread_create(&th[nth], NULL, worker, p) != 0)
      break; /* fewer threads: slower, not wrong */
    nth++;
  }
  worker(p);
  for (size_t i = 0; i < nth; i++)
    pthread_join(th[i], NULL);
  if (p->rc != AT_OK)
    return at_error(p->rc, "%s", p->err);
  return AT_OK;
}

/* ---- verdicts ---- */

/* The log's first line that says "error", else its first non-empty line. */
static void first_error(const char *log, char *out, size_t len)
{
  const char *pick = NULL, *p = log ? log : "";
  while (*p && !pick) {
    size_t n = strcspn(p, "\n");
    for (size_t i = 0; i + 5 <= n; i++)
      if (strncmp(p + i, "error", 5) == 0) {
        pick = p;
        break;
      }
    p += n + (p[n] == '\n');
  }
  for (p = log ? log : ""; !pick && *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] != 0))
    if (p[0] != '\n')
      pick = p;
  if (!pick)
    pick = "the compiler failed without a message";
  snprintf(out, len, "%.*s", (int)strcspn(pick, "\n"), pick);
}

static const struct cc_kernel_res no_res = {.registers = -1, .agprs = -1, .sgprs = -1,
                                            .spill_bytes = -1, .vgpr_spills = -1,
                                            .sgpr_spills = -1, .shared_bytes = -1,
                                            .local_bytes = -1, .max_threads = -1};

static int judge(const struct dev_profile *dev, const struct bld_batch *b,
                 struct bld_variant *v)
{
  v->res = no_res;
  snprintf(v->res.name, sizeof v->res.name, "%s", v->name);
  if (b->status != CC_OK) {
    v->verdict = BLD_COMPILE_ERROR;
    first_error(b->log, v->reason, sizeof v->reason);
    v->log = strdup(b->log ? b->log : "");
    return v->log ? AT_OK : at_error(AT_NOMEM, "out of memory");
  }
  const struct cc_result view = {.kernels = b->kernels, .nkernels = b->nkernels};
  const struct cc_kernel_res *k = cc_result_kernel(&view, v->name);
  if (!k) {
    v->verdict = BLD_COMPILE_ERROR;
    snprintf(v->reason, sizeof v->reason, "kernel %s is missing from the code object",
             v->name);
    v->log = strdup(b->log ? b->log : "");
    return v->log ? AT_OK : at_error(AT_NOMEM, "out of memory");
  }
  v->res = *k;
  int64_t threads = v->launch.threads[0] * v->launch.threads[1] * v->launch.threads[2];
  struct occ_input in = {
      .threads = threads > 0x7fffffff ? 0x7fffffff : (int)threads,
      .registers = k->registers > 0 ? k->registers : 0,
      .agprs = k->agprs > 0 ? k->agprs : 0,
      .sgprs = k->sgprs > 0 ? k->sgprs : 0,
      .shared_bytes = (k->shared_bytes > 0 ? k->shared_bytes : 0) + v->launch.shared,
  };
  occ_compute(dev, &in, &v->occ);
  v->verdict = BLD_PRUNED;
  if (k->spill_bytes > 0)
    snprintf(v->reason, sizeof v->reason, "spills: %" PRId64 " bytes spill stores",
             k->spill_bytes);
  else if (k->vgpr_spills > 0 || k->sgpr_spills > 0)
    snprintf(v->reason, sizeof v->reason, "spills: %d VGPRs and %d SGPRs spilled",
             k->vgpr_spills > 0 ? k->vgpr_spills : 0, k->sgpr_spills > 0 ? k->sgpr_spills : 0);
  else if (v->occ.blocks_per_cu == 0)
    snprintf(v->reason, sizeof v->reason, "occupancy 0: %s", v->occ.why);
  else
    v->verdict = BLD_OK;
  return AT_OK;
}

/* ---- the pipeline ---- */

void bld_result_release(struct bld_result *r)
{
  if (!r)
    return;
  for (size_t i = 0; i < r->nvariants; i++) {
    free(r->variants[i].config_text);
    free(r->variants[i].log);
  }
  for (size_t i = 0; i < r->nbatches; i++) {
    free(r->batches[i].code);
    free(r->batches[i].kernels);
    free(r->batches[i].log);
  }
  free(r->variants);
  free(r->batches);
  free(r->toolchain);
  memset(r, 0, sizeof *r);
}

int bld_result_append(struct bld_result *dst, struct bld_result *src)
{
  size_t nv = dst->nvariants + src->nvariants, nb = dst->nbatches + src->nbatches;
  struct bld_variant *v = realloc(dst->variants, (nv ? nv : 1) * sizeof *v);
  if (v)
    dst->variants = v;
  struct bld_batch *b = v ? realloc(dst->batches, (nb ? nb : 1) * sizeof *b) : NULL;
  if (!v || !b) {
    bld_result_release(src);
    return at_error(AT_NOMEM, "out of memory");
  }
  dst->batches = b;
  for (size_t i = 0; i < src->nvariants; i++) {
    v[dst->nvariants + i] = src->variants[i];
    v[dst->nvariants + i].batch += dst->nbatches;
  }
  for (size_t i = 0; i < src->nbatches; i++) {
    b[dst->nbatches + i] = src->batches[i];
    b[dst->nbatches + i].first += dst->nvariants;
  }
  dst->nvariants = nv;
  dst->nbatches = nb;
  if (!dst->backend)
    dst->backend = src->backend, dst->arch = src->arch;
  if (!dst->toolchain) {
    dst->toolchain = src->toolchain;
    src->toolchain = NULL;
  }
  struct bld_stats *d = &dst->stats, *s = &src->stats;
  d->variants += s->variants, d->ok += s->ok, d->pruned += s->pruned;
  d->compile_errors += s->compile_errors, d->batches += s->batches;
  d->compiled += s->compiled, d->cache_hits += s->cache_hits;
  d->cache_rejected += s->cache_rejected, d->cache_writes_failed += s->cache_writes_failed;
  d->wall_s += s->wall_s;
  /* the moved variants and batches own their strings and code now */
  free(src->variants);
  free(src->batches);
  free(src->toolchain);
  memset(src, 0, sizeof *src);
  return AT_OK;
}

/* Emit the TU of batch b into *source: its variants are configs of positions
 * map[b->first ..] (map NULL: positions b->first .. themselves). */
static int emit_batch(const struct tmpl *t, const struct gen_space *s,
                      const struct gen_bind *bind, enum cc_target target,
                      const int64_t *configs, size_t np, const size_t *map,
                      const struct bld_batch *b, char **source)
{
  const int64_t **ptrs = malloc(b->count * sizeof *ptrs);
  if (!ptrs)
    return at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < b->count; i++)
    ptrs[i] = configs + (map ? map[b->first + i] : b->first + i) * np;
  int rc = gen_emit_tu(t, target, s, bind, ptrs, b->count, source);
  free(ptrs);
  return rc;
}

/* ---- variants served from the cache ---- */

/*
 * A variant's own key is the key its TU would have compiled alone (a "single"). The
 * cache holds it either as an entry of its own (a single, compiled after its batch
 * failed, or in a run of batch size 1) or as an alias: <key>.in naming the entry of the
 * batch that compiled it with others. So a variant compiled once is found again whatever
 * batch it was compiled in: by a run that picks other configs, by a lazy search, and by
 * a bundle (a copy of the entries a run needs, bundle.h). An alias is written only for a
 * batch that compiled ok, after its entry; an alias whose entry is gone or unsound is a
 * miss.
 */
#define ALIAS_FORMAT "autotune-compile-alias 1"

static bool alias_store_at(const char *dir, const char *variant_key, const char *tu_key)
{
  char *path = entry_path(dir, variant_key, "in");
  char text[sizeof ALIAS_FORMAT + 80];
  int n = snprintf(text, sizeof text, ALIAS_FORMAT "\n%s\n", tu_key);
  bool ok = path && os_write_atomic(path, text, (size_t)n) == AT_OK;
  free(path);
  return ok;
}

static void alias_store(const struct job_ctx *c, const char *variant_key, const char *tu_key,
                        size_t *write_failed)
{
  if (!alias_store_at(c->cache, variant_key, tu_key))
    (*write_failed)++;
  if (c->seed)
    (void)alias_store_at(c->seed, variant_key, tu_key);
}

/* The entry an alias in dir names, into tu_key[65]; false when there is no sound alias. */
static bool alias_load_at(const char *dir, const char *variant_key, char tu_key[65])
{
  char *path = entry_path(dir, variant_key, "in");
  unsigned char *data = NULL;
  size_t size = 0;
  bool ok = path && os_read_file(path, &data, &size) == AT_OK &&
            size == strlen(ALIAS_FORMAT) + 1 + 64 + 1 &&
            memcmp(data, ALIAS_FORMAT "\n", strlen(ALIAS_FORMAT) + 1) == 0 &&
            data[size - 1] == '\n';
  for (size_t i = strlen(ALIAS_FORMAT) + 1; ok && i < size - 1; i++)
    ok = (data[i] >= '0' && data[i] <= '9') || (data[i] >= 'a' && data[i] <= 'f');
  if (ok) {
    memcpy(tu_key, data + strlen(ALIAS_FORMAT) + 1, 64);
    tu_key[64] = '\0';
  }
  free(path);
  free(data);
  return ok;
}

bool bld_cache_alias(const char *compile_dir, const char *variant_key, char tu_key[65])
{
  return alias_load_at(compile_dir, variant_key, tu_key);
}

/* The cache's alias, else the seed's (copied into the cache: the entry it names follows
 * through cache_load). */
static bool alias_load(const struct job_ctx *c, const char *variant_key, char tu_key[65])
{
  if (alias_load_at(c->cache, variant_key, tu_key))
    return true;
  if (!c->seed || !alias_load_at(c->seed, variant_key, tu_key))
    return false;
  (void)alias_store_at(c->cache, variant_key, tu_key);
  return true;
}

/* Serve what the cache holds: for each variant, its own entry or its alias's. A variant
 * served gets its batch (one per entry, shared by the variants it holds, appended to
 * out->batches); the others are listed in todo[*ntodo], in variant order. OUT: vkeys[n]
 * (each variant's own key, for the aliases written after compiling). */
static int serve_cached(const struct tmpl *t, const struct gen_space *s,
                        const struct gen_bind *bind, struct job_ctx *ctx,
                        const int64_t *configs, size_t np, struct bld_result *out,
                        char (*vkeys)[65], size_t *todo, size_t *ntodo)
{
  size_t n = out->nvariants, nmissed = 0;
  char (*missed)[65] = malloc(n * sizeof *missed);
  if (!missed)
    return at_error(AT_NOMEM, "out of memory");
  ctx->missed = missed;
  *ntodo = 0;
  for (size_t i = 0; i < n; i++) {
    struct bld_batch one = {.first = i, .count = 1, .single = true, .cached = true};
    char *src = NULL;
    int rc = emit_batch(t, s, bind, ctx->be->target, configs, np, NULL, &one, &src);
    if (rc != AT_OK)
      return rc;
    cache_key(ctx, src, vkeys[i]);
    free(src);
    if (!alias_load(ctx, vkeys[i], one.key))
      memcpy(one.key, vkeys[i], sizeof one.key);
    size_t b = 0;
    while (b < out->nbatches && strcmp(out->batches[b].key, one.key) != 0)
      b++;
    size_t m = 0;
    while (b == out->nbatches && m < nmissed && strcmp(missed[m], one.key) != 0)
      m++;
    bool rejected = false;
    if (b < out->nbatches) {
      out->variants[i].batch = b;
    } else if (m == nmissed && cache_load(ctx, &one, &rejected)) {
      out->batches[out->nbatches] = one;
      out->variants[i].batch = out->nbatches++;
      out->stats.cache_hits++;
    } else {
      if (m == nmissed) {
        memcpy(missed[nmissed++], one.key, sizeof one.key);
        ctx->nmissed = nmissed;
      }
      out->stats.cache_rejected += rejected;
      todo[(*ntodo)++] = i;
    }
  }
  return AT_OK;
}

int bld_run(const struct tmpl *t, const struct gen_space *s, const struct dev_profile *dev,
            const int64_t *dims, const char *dtype, const int64_t *configs, size_t n,
            const struct bld_options *opt, struct bld_result *out)
{
  static const struct bld_options defaults = {0};
  struct pool pool = {.mu = PTHREAD_MUTEX_INITIALIZER};
  struct job_ctx ctx = {0};
  char **sources = NULL, cache_buf[4096], *cache = NULL, *seed = NULL, *toolchain = NULL;
  char (*vkeys)[65] = NULL;
  size_t *todo = NULL, ntodo = 0;
  int rc = AT_OK;
  double t0 = at_now_s();

  if (out)
    memset(out, 0, sizeof *out);
  if (!t || !s || !dev || !configs || !out || n == 0)
    return at_error(AT_USAGE, "bld_run: NULL argument or no variants");
  if (!opt)
    opt = &defaults;
  const struct cc_backend *be = NULL;
  bool offline = opt->toolchain != NULL;
  if (offline) {
    /* from a bundle: the backend names the keys' format, it never runs */
    be = opt->backend && strcmp(opt->backend, cc_host.name) == 0 ? &cc_host
                                                                 : cc_find(opt->backend);
    if (!be)
      return at_error(AT_USAGE, "unknown compile backend '%.40s'",
                      opt->backend ? opt->backend : "(none)");
  } else if ((rc = bld_backend(dev, opt->backend, opt->emulate, &be)) != AT_OK) {
    return rc;
  }
  size_t np = gen_space_param_count(s), per = opt->batch ? opt->batch : BLD_DEFAULT_BATCH;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int jobs = opt->jobs > 0 ? opt->jobs : ncpu > 0 ? (int)ncpu : 1;
  struct gen_bind bind = {.dev = dev, .dims = dims, .dtype = dtype};

  char host_arch[48], target[48];
  snprintf(host_arch, sizeof host_arch, "host:%s", dev->arch);
  const char *arch = opt->emulate && dev->vendor != DEV_HOST
                         ? host_arch
                         : tmpl_compile_arch(t, dev->arch, target, sizeof target);
  out->backend = be->name;
  out->arch = dev->arch;
  out->variants = calloc(n, sizeof *out->variants);
  /* room for a batch per variant served, every first-pass batch and a single per
   * variant */
  size_t cap = 3 * n;
  out->batches = calloc(cap, sizeof *out->batches);
  sources = calloc(cap, sizeof *sources);
  todo = malloc(n * sizeof *todo);
  vkeys = calloc(n, sizeof *vkeys);
  if (!out->variants || !out->batches || !sources || !todo || !vkeys) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  out->nvariants = n;
  for (size_t i = 0; i < n; i++) {
    struct bld_variant *v = &out->variants[i];
    const int64_t *cfg = configs + i * np;
    if ((rc = gen_space_config_text(s, cfg, &v->config_text)) != AT_OK ||
        (rc = gen_emit_launch(t, &bind, cfg, &v->launch)) != AT_OK)
      goto out;
    gen_variant_name(t, dtype, v->config_text, v->name);
  }

  ctx = (struct job_ctx){.be = be, .arch = arch, .include_dirs = opt->include_dirs,
                         .flags = opt->flags, .offline = offline};
  const char *dir = opt->cache_dir ? opt->cache_dir
                                   : os_cache_dir(cache_buf, sizeof cache_buf);
  if (dir[0]) {
    if (!(cache = os_strdupf("%s/compile", dir))) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto out;
    }
    if (!offline && os_mkdir_p(cache) != AT_OK) {
      free(cache); /* an unusable cache folder slows the run, it does not fail it */
      cache = NULL;
      out->stats.cache_writes_failed++;
    }
  }
  if (offline && !cache) {
    rc = at_error(AT_USAGE, "bld_run: a bundle's toolchain without its cache folder");
    goto out;
  }
  if (cache && !offline && opt->seed_cache_dir && opt->seed_cache_dir[0]) {
    if (!(seed = os_strdupf("%s/compile", opt->seed_cache_dir))) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto out;
    }
    if (strcmp(seed, cache) == 0 || os_mkdir_p(seed) != AT_OK) { /* one cache, or none */
      free(seed);
      seed = NULL;
    }
  }
  if (cache) {
    if (offline)
      toolchain = strdup(opt->toolchain);
    else if ((rc = probe_toolchain(&ctx, &toolchain)) != AT_OK)
      goto out;
    if (!toolchain) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto out;
    }
    ctx.cache = cache;
    ctx.seed = seed;
    ctx.toolchain = toolchain;
    if ((rc = serve_cached(t, s, &bind, &ctx, configs, np, out, vkeys, todo, &ntodo)) !=
        AT_OK)
      goto out;
  } else {
    for (size_t i = 0; i < n; i++)
      todo[ntodo++] = i;
  }
  if (offline && ntodo) {
    rc = at_error(AT_NOT_FOUND, "%zu of the %zu variants asked for are not in the bundle "
                  "(the first: %s, %.200s); make the bundle for this device, shape and "
                  "template", ntodo, n, out->variants[todo[0]].name,
                  out->variants[todo[0]].config_text);
    goto out;
  }

  /* the rest, in batches of `per` in variant order */
  size_t nserved = out->nbatches, nfirst = (ntodo + per - 1) / per;
  for (size_t k = 0; k < nfirst; k++) {
    struct bld_batch *b = &out->batches[nserved + k];
    b->first = k * per;
    b->count = ntodo - b->first < per ? ntodo - b->first : per;
    for (size_t j = b->first; j < b->first + b->count; j++)
      out->variants[todo[j]].batch = nserved + k;
    if ((rc = emit_batch(t, s, &bind, be->target, configs, np, todo, b,
                         &sources[nserved + k])) != AT_OK)
      goto out;
  }
  out->nbatches = nserved + nfirst;

  pool.ctx = &ctx;
  pool.batches = out->batches;
  pool.sources = sources;
  pool.stats = &out->stats;
  pool.t0 = t0;
  pool.progress = opt->progress;
  pool.progress_ctx = opt->progress_ctx;
  pool.prog.variants_total = n;
  pool.prog.variants_done = n - ntodo;
  if ((rc = run_pool(&pool, nserved, nserved + nfirst, jobs)) != AT_OK)
    goto out;

  /* a failed batch of several: each of its variants alone, in variant order; an ok one:
   * an alias for each of its variants */
  size_t nb = nserved + nfirst;
  for (size_t k = nserved; k < nserved + nfirst; k++) {
    struct bld_batch *b = &out->batches[k];
    if (b->status == CC_OK) {
      for (size_t j = b->first; cache && b->count > 1 && j < b->first + b->count; j++)
        alias_store(&ctx, vkeys[todo[j]], b->key, &out->stats.cache_writes_failed);
      continue;
    }
    if (b->count == 1)
      continue;
    for (size_t j = b->first; j < b->first + b->count; j++) {
      out->batches[nb] = (struct bld_batch){.first = todo[j], .count = 1, .single = true};
      if ((rc = emit_batch(t, s, &bind, be->target, configs, np, NULL, &out->batches[nb],
                           &sources[nb])) != AT_OK)
        goto out;
      out->variants[todo[j]].batch = nb++;
    }
  }
  out->nbatches = nb;
  if (nb > nserved + nfirst && (rc = run_pool(&pool, nserved + nfirst, nb, jobs)) != AT_OK)
    goto out;

  for (size_t i = 0; i < n && rc == AT_OK; i++)
    rc = judge(dev, &out->batches[out->variants[i].batch], &out->variants[i]);
  if (rc != AT_OK)
    goto out;
  out->toolchain = toolchain ? toolchain : pool.toolchain;
  if (toolchain)
    free(pool.toolchain);
  toolchain = NULL;
  pool.toolchain = NULL;
  if (!out->toolchain && !(out->toolchain = strdup("?"))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  struct bld_stats *st = &out->stats;
  st->variants = n;
  st->batches = nb;
  for (size_t i = 0; i < n; i++) {
    st->ok += out->variants[i].verdict == BLD_OK;
    st->pruned += out->variants[i].verdict == BLD_PRUNED;
    st->compile_errors += out->variants[i].verdict == BLD_COMPILE_ERROR;
  }
  st->wall_s = at_now_s() - t0;
out:
  for (size_t i = 0; sources && i < 3 * n; i++)
    free(sources[i]);
  free(sources);
  free(todo);
  free(vkeys);
  free(ctx.missed);
  free(cache);
  free(seed);
  free(toolchain);
  free(pool.toolchain);
  pthread_mutex_destroy(&pool.mu);
  if (rc != AT_OK) {
    char keep[1024];
    snprintf(keep, sizeof keep, "%s", at_last_error());
    bld_result_release(out);
    at_error(rc, "%s", keep);
  }
  return rc;
}
