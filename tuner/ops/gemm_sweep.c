/*
 * gemm_sweep.c - the GEMM correctness sweep (gemm_sweep.h): per layout, the variant
 * configs of the template's space on the device (union over the default problem and the
 * shapes, each once; filtered; sampled), then per dtype one compile of them all
 * (bld_run: batched, cached; host backend, emulating a GPU device) and, per shape, one
 * set of operands and device buffers shared by every variant's run, each run checked by
 * gemm_verify. Counting: a run is one launch of one variant on one (shape, layout,
 * dtype); a failure is a run whose result is wrong or that returned an error, or a
 * variant that did not compile.
 */
#include "tuner/ops/gemm_sweep.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "base/device.h"
#include "tuner/ops/gemm_run.h"
#include "tuner/measure/meas.h"
#include "base/os.h"
#include "base/status.h"
#include "base/hash.h"
#include "base/num.h"

const struct gsw_shape gsw_default_shapes[] = {
    {1, 1, 1, 0, false},    {7, 13, 29, 0, true},    {64, 64, 64, 0, false},
    {127, 129, 65, 0, false}, {1, 256, 512, 0, false}, {300, 8, 40, 0, false},
    {48, 40, 24, 4, false},
};
const size_t gsw_default_nshapes = sizeof gsw_default_shapes / sizeof gsw_default_shapes[0];
const struct gsw_shape gsw_decode_shapes[] = {
    {1, 257, 515, 0, false}, {7, 129, 263, 0, true}, {16, 67, 333, 4, false},
    {64, 33, 200, 0, false},  {300, 9, 40, 0, false},
};
const size_t gsw_decode_nshapes = sizeof gsw_decode_shapes / sizeof gsw_decode_shapes[0];

const struct gsw_shape gsw_aligned_shapes[] = {
    {8, 8, 8, 0, false},       {72, 136, 200, 0, true}, {64, 64, 64, 0, false},
    {200, 264, 72, 0, false},  {8, 256, 520, 0, false}, {264, 8, 40, 0, false},
    {48, 40, 24, 8, false},
};
const size_t gsw_aligned_nshapes = sizeof gsw_aligned_shapes / sizeof gsw_aligned_shapes[0];

static const char *const all_layouts[] = {"NN", "NT", "TN", "TT", NULL};
static const enum gemm_dtype all_dtypes[] = {GEMM_F32, GEMM_F16, GEMM_BF16};


/* ---- the configs of one layout: a growable, deduplicated list ---- */

struct cfgs {
  int64_t *v;        /* n x np */
  size_t n, cap, np;
  size_t *slot;      /* open addressing: config index + 1, 0 empty; hcap slots */
  size_t hcap;
};

static uint64_t cfg_hash(const int64_t *v, size_t np)
{
  return hash_fnv1a64(HASH_FNV1A64_SEED, v, np * sizeof *v);
}

static int cfgs_grow_hash(struct cfgs *c)
{
  size_t cap = c->hcap ? c->hcap * 2 : 1024;
  size_t *slot = calloc(cap, sizeof *slot);
  if (!slot)
    return at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < c->n; i++) {
    size_t h = (size_t)cfg_hash(c->v + i * c->np, c->np) & (cap - 1);
    while (slot[h])
      h = (h + 1) & (cap - 1);
    slot[h] = i + 1;
  }
  free(c->slot);
  c->slot = slot;
  c->hcap = cap;
  return AT_OK;
}

static int cfgs_add(struct cfgs *c, const int64_t *v)
{
  int rc;
  if ((c->n + 1) * 2 > c->hcap && (rc = cfgs_grow_hash(c)) != AT_OK)
    return rc;
  size_t h = (size_t)cfg_hash(v, c->np) & (c->hcap - 1);
  while (c->slot[h]) {
    if (memcmp(c->v + (c->slot[h] - 1) * c->np, v, c->np * sizeof *v) == 0)
      return AT_OK; /* already there */
    h = (h + 1) & (c->hcap - 1);
  }
  if ((rc = os_grow(&c->v, &c->cap, c->n + 1, c->np * sizeof *c->v, 256)))
    return rc;
  memcpy(c->v + c->n * c->np, v, c->np * sizeof *v);
  c->slot[h] = ++c->n;
  return AT_OK;
}

static void cfgs_release(struct cfgs *c)
{
  free(c->v);
  free(c->slot);
  memset(c, 0, sizeof *c);
}

static int collect(void *ctx, const int64_t *values, size_t n)
{
  (void)n;
  return cfgs_add(ctx, values);
}

/* ---- the sweep's state ---- */

struct sweep {
  const struct gsw_options *o;
  struct gsw_result *r;
  struct tmpl *t;
  int dim_m, dim_n, dim_k, dim_ta, dim_tb; /* indices into t->dims, -1 absent */
  const char *const *incs;
  struct meas_ctx *ctx;
  size_t logged;
  enum gemm_dtype dtypes[3]; /* o->dtypes, else those of all_dtypes the template takes */
  size_t ndtypes;
};

static void fail(struct sweep *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct sweep *w, const char *fmt, ...)
{
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (w->r->failures++ == 0)
    snprintf(w->r->first_failure, sizeof w->r->first_failure, "%s", line);
  if (w->o->log && w->logged++ < 20)
    fprintf(w->o->log, "FAIL %s\n", line);
}

static int find_dim(const struct tmpl *t, const char *name)
{
  for (size_t i = 0; i < t->ndims; i++)
    if (strcasecmp(t->dims[i], name) == 0)
      return (int)i;
  return -1;
}

/* dims for (m, n, k) in a layout; other dims their default. */
static void make_dims(const struct sweep *w, int64_t m, int64_t n, int64_t k, int ta, int tb,
                      int64_t *dims)
{
  for (size_t i = 0; i < TMPL_MAX_DIMS; i++)
    dims[i] = TMPL_DEFAULT_DIM;
  dims[w->dim_m] = m;
  dims[w->dim_n] = n;
  dims[w->dim_k] = k;
  if (w->dim_ta >= 0)
    dims[w->dim_ta] = ta;
  if (w->dim_tb >= 0)
    dims[w->dim_tb] = tb;
}

static int enumerate_into(const struct sweep *w, const int64_t *dims, struct cfgs *c,
                          struct gen_space **keep)
{
  struct gen_space *s = NULL;
  int rc = tmpl_space(w->t, w->o->dev, dims, &s);
  if (rc == AT_OK) {
    c->np = gen_space_param_count(s);
    rc = gen_space_enumerate(s, collect, c, NULL);
  }
  if (rc == AT_OK && keep && !*keep)
    *keep = s;
  else
    gen_space_free(s);
  return rc;
}

/* Filter, then keep `sample` configs (first, last, a seeded choice of the rest), in
 * order. */
static int select_configs(const struct sweep *w, const struct gen_space *s, struct cfgs *c)
{
  const struct gsw_options *o = w->o;
  size_t np = c->np, kept = 0;
  if (o->filter) {
    for (size_t i = 0; i < c->n; i++) {
      char *text = NULL;
      int rc = gen_space_config_text(s, c->v + i * np, &text);
      if (rc != AT_OK)
        return rc;
      int keep = o->filter(o->filter_ctx, text);
      free(text);
      if (keep)
        memmove(c->v + kept++ * np, c->v + i * np, np * sizeof *c->v);
    }
    c->n = kept;
  }
  if (o->sample == 0 || o->sample >= c->n)
    return AT_OK;
  size_t n = c->n, *idx = malloc(n * sizeof *idx);
  unsigned char *pick = calloc(n, 1);
  if (!idx || !pick) {
    free(idx);
    free(pick);
    return at_error(AT_NOMEM, "out of memory");
  }
  pick[0] = pick[n - 1] = 1;
  /* shuffle the middle ones and take the first sample - 2 */
  size_t mid = n - 2;
  for (size_t i = 0; i < mid; i++)
    idx[i] = i + 1;
  uint64_t st = (o->seed ^ 0x9E3779B97F4A7C15ULL) | 1;
  size_t want = o->sample >= 2 ? o->sample - 2 : 0;
  for (size_t i = 0; i < want && i < mid; i++) {
    size_t j = i + (size_t)(num_xorshift64s(&st) % (mid - i));
    size_t tmp = idx[i];
    idx[i] = idx[j];
    idx[j] = tmp;
    pick[idx[i]] = 1;
  }
  if (o->sample == 1)
    pick[n - 1] = 0;
  kept = 0;
  for (size_t i = 0; i < n; i++)
    if (pick[i])
      memmove(c->v + kept++ * np, c->v + i * np, np * sizeof *c->v);
  c->n = kept;
  free(idx);
  free(pick);
  return AT_OK;
}

static void shape_text(const struct gsw_shape *sh, char *buf, size_t len)
{
  snprintf(buf, len, "%" PRId64 "x%" PRId64 "x%" PRId64 "%s%s", sh->m, sh->n, sh->k,
           sh->pad ? " padded" : "", sh->beta0 ? " beta 0" : "");
}

/* Every variant of `br` on every shape, for one layout and dtype. */
static int run_all(struct sweep *w, const struct bld_result *br, const int64_t *configs,
                   size_t np, const char *layout, int ta, int tb, enum gemm_dtype dt)
{
  const struct gsw_options *o = w->o;
  size_t nshapes = o->shapes ? o->nshapes : gsw_default_nshapes;
  const struct gsw_shape *shapes = o->shapes ? o->shapes : gsw_default_shapes;
  const char *dn = gemm_dtype_name(dt);
  int rc = AT_OK;
  meas_module *mods = calloc(br->nbatches, sizeof *mods);
  meas_kernel *kern = calloc(br->nvariants, sizeof *kern);
  if (!mods || !kern) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < br->nvariants; i++) {
    const struct bld_variant *v = &br->variants[i];
    const struct bld_batch *b = &br->batches[v->batch];
    if (v->verdict == BLD_COMPILE_ERROR || b->status != CC_OK || !b->code) {
      w->r->compile_errors++;
      fail(w, "%s (%s) %s %s: compile error: %s", v->name, v->config_text, dn, layout,
           v->reason);
      continue;
    }
    if (!mods[v->batch] &&
        (rc = meas_host.load(w->ctx, b->code, b->code_size, &mods[v->batch])) != AT_OK)
      goto out;
    if (meas_host.kernel(w->ctx, mods[v->batch], v->name, &kern[i]) != AT_OK) {
      kern[i] = NULL;
      fail(w, "%s (%s) %s %s: %s", v->name, v->config_text, dn, layout, at_last_error());
    }
  }
  for (size_t si = 0; si < nshapes; si++) {
    const struct gsw_shape *sh = &shapes[si];
    char st[64];
    shape_text(sh, st, sizeof st);
    struct gemm_problem p = {.dtype = dt, .ta = ta, .tb = tb, .m = sh->m, .n = sh->n,
                             .k = sh->k, .alpha = 1.5f, .beta = sh->beta0 ? 0.0f : -0.5f};
    gemm_problem_resolve(&p);
    p.lda += sh->pad;
    p.ldb += sh->pad;
    p.ldc += sh->pad;
    struct gemm_data d;
    struct gemm_buffers buf;
    if ((rc = gemm_data_init(&d, &p, 1000 + si)) != AT_OK)
      goto out;
    if ((rc = gemm_buffers_init(&meas_host, w->ctx, &d, &buf)) != AT_OK) {
      gemm_data_release(&d);
      goto out;
    }
    int64_t dims[TMPL_MAX_DIMS];
    make_dims(w, sh->m, sh->n, sh->k, ta, tb, dims);
    struct gen_bind bind = {.dev = o->dev, .dims = dims, .dtype = dn};
    for (size_t i = 0; i < br->nvariants; i++) {
      if (!kern[i])
        continue;
      const struct bld_variant *v = &br->variants[i];
      struct gen_launch l;
      w->r->runs++;
      if (gen_emit_launch(w->t, &bind, configs + i * np, &l) != AT_OK) {
        fail(w, "%s (%s) %s %s %s: launch: %s", v->name, v->config_text, dn, layout, st,
             at_last_error());
        continue;
      }
      int64_t bad = 0;
      char msg[256];
      int vr = gemm_verify(&meas_host, w->ctx, kern[i], &l, &d, &buf, &bad, msg, sizeof msg);
      if (vr != AT_OK)
        fail(w, "%s (%s) %s %s %s: %s: %s", v->name, v->config_text, dn, layout, st,
             at_status_name(vr), at_last_error());
      else if (bad)
        fail(w, "%s (%s) %s %s %s: %" PRId64 " wrong, first %s", v->name, v->config_text, dn,
             layout, st, bad, msg);
    }
    gemm_buffers_release(&meas_host, w->ctx, &buf);
    gemm_data_release(&d);
  }
out:
  for (size_t i = 0; mods && i < br->nbatches; i++)
    if (mods[i])
      meas_host.unload(w->ctx, mods[i]);
  free(mods);
  free(kern);
  return rc;
}

/* Whether a line of ptxas's log says the wgmma of function `name` were serialized. */
static bool serialized_in(const char *log, const char *name)
{
  for (const char *line = log; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char buf[1024];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    if (strstr(buf, "serialized") && strstr(buf, name))
      return true;
    line = end ? end + 1 : NULL;
  }
  return false;
}

static void count_resources(struct sweep *w, const struct bld_result *br)
{
  for (size_t i = 0; i < br->nvariants; i++) {
    const struct bld_variant *v = &br->variants[i];
    if (v->verdict == BLD_COMPILE_ERROR) {
      w->r->compile_errors++;
      fail(w, "%s (%s) %s: compile error: %s", v->name, v->config_text, br->arch, v->reason);
      continue;
    }
    if (v->res.spill_bytes > 0 || v->res.vgpr_spills > 0 || v->res.sgpr_spills > 0) {
      w->r->spills++;
      if (w->o->log)
        fprintf(w->o->log, "  spills (%lld bytes, %d VGPRs): %s (%s) %s, %d registers\n",
                (long long)v->res.spill_bytes, v->res.vgpr_spills, v->name, v->config_text,
                br->arch, v->res.registers);
    }
    if (v->res.registers > 0) {
      if (w->r->regs_min == 0 || v->res.registers < w->r->regs_min)
        w->r->regs_min = v->res.registers;
      if (v->res.registers > w->r->regs_max)
        w->r->regs_max = v->res.registers;
    }
    if (serialized_in(br->batches[v->batch].log, v->name))
      w->r->serialized++;
    double occ = v->occ.occupancy;
    if (v->occ.blocks_per_cu == 0)
      w->r->occ_zero++;
    w->r->occ_hist[occ >= 1.0 ? 4 : occ >= 0.75 ? 3 : occ >= 0.5 ? 2 : occ >= 0.25 ? 1 : 0]++;
  }
}

static int sweep_layout(struct sweep *w, const char *layout)
{
  const struct gsw_options *o = w->o;
  int ta, tb, rc;
  if ((rc = gemm_parse_layout(layout, &ta, &tb)) != AT_OK)
    return rc;
  if ((ta && w->dim_ta < 0) || (tb && w->dim_tb < 0))
    return at_error(AT_USAGE, "template '%s' has no TA/TB dims: layout %s is not supported",
                    w->t->kernel, layout);
  size_t nshapes = o->shapes ? o->nshapes : gsw_default_nshapes;
  const struct gsw_shape *shapes = o->shapes ? o->shapes : gsw_default_shapes;
  struct cfgs c = {0};
  struct gen_space *s = NULL;
  int64_t dims[TMPL_MAX_DIMS];
  make_dims(w, TMPL_DEFAULT_DIM, TMPL_DEFAULT_DIM, TMPL_DEFAULT_DIM, ta, tb, dims);
  if ((rc = enumerate_into(w, dims, &c, &s)) != AT_OK)
    goto out;
  for (size_t i = 0; i < nshapes; i++) {
    int64_t sd[TMPL_MAX_DIMS];
    make_dims(w, shapes[i].m, shapes[i].n, shapes[i].k, ta, tb, sd);
    if ((rc = enumerate_into(w, sd, &c, NULL)) != AT_OK)
      goto out;
  }
  if ((rc = select_configs(w, s, &c)) != AT_OK)
    goto out;
  w->r->variants += c.n;
  if (c.n > w->r->variants_per_layout)
    w->r->variants_per_layout = c.n;
  if (c.n == 0)
    goto out;
  for (size_t di = 0; di < w->ndtypes; di++) {
    enum gemm_dtype dt = w->dtypes[di];
    struct bld_options bo = {.jobs = o->jobs, .batch = o->batch, .cache_dir = o->cache_dir,
                             .include_dirs = w->incs,
                             .emulate = !o->compile_only && o->dev->vendor != DEV_HOST};
    if (!o->compile_only)
      bo.backend = "host";
    struct bld_result br;
    double t0 = at_now_s();
    rc = bld_run(w->t, s, o->dev, dims, gemm_dtype_name(dt), c.v, c.n, &bo, &br);
    w->r->compile_s += at_now_s() - t0;
    if (rc != AT_OK) {
      bld_result_release(&br);
      goto out;
    }
    w->r->compiled += br.nvariants;
    t0 = at_now_s();
    if (o->compile_only)
      count_resources(w, &br);
    else
      rc = run_all(w, &br, c.v, c.np, layout, ta, tb, dt);
    w->r->run_s += at_now_s() - t0;
    if (o->log)
      fprintf(o->log, "%s %s %s: %zu variants (compile %.1f s, %zu TUs compiled, %zu "
              "cached), runs %zu, failures %zu so far\n", w->t->kernel, layout,
              gemm_dtype_name(dt), c.n, br.stats.wall_s, br.stats.compiled,
              br.stats.cache_hits, w->r->runs, w->r->failures);
    if (o->log)
      fflush(o->log);
    bld_result_release(&br);
    if (rc != AT_OK)
      goto out;
  }
out:
  gen_space_free(s);
  cfgs_release(&c);
  return rc;
}

int gsw_run(const char *path, const struct gsw_options *o, struct gsw_result *out)
{
  if (out)
    memset(out, 0, sizeof *out);
  if (!path || !o || !o->dev || !out || (o->shapes && o->nshapes == 0) ||
      (o->dtypes && o->ndtypes == 0))
    return at_error(AT_USAGE, "gsw_run: NULL argument or empty list");
  static const char *const incs[] = {AT_TEMPLATES_DIR "/common", NULL};
  struct sweep w = {.o = o, .r = out, .incs = incs};
  int rc = tmpl_load(path, incs, &w.t);
  if (rc != AT_OK)
    return rc;
  w.dim_m = find_dim(w.t, "M");
  w.dim_n = find_dim(w.t, "N");
  w.dim_k = find_dim(w.t, "K");
  w.dim_ta = find_dim(w.t, "TA");
  w.dim_tb = find_dim(w.t, "TB");
  if (w.dim_m < 0 || w.dim_n < 0 || w.dim_k < 0 || !w.t->dtype) {
    rc = at_error(AT_USAGE, "'%s' is no GEMM template (needs '#pragma autotune problem M, N, "
                  "K, TA, TB' and '#pragma autotune dtype T')", path);
    goto out;
  }
  if (!o->compile_only) {
    meas_host_set_jobs(o->jobs);
    if ((rc = meas_host.open(0, &w.ctx)) != AT_OK)
      goto out;
  }
  /* By default every dtype the template takes for this device: gemm_mma has no f32
   * (gemm_template_not_for, the rule `autotune gemm` applies). Asked-for dtypes are
   * swept as asked, so a template that rejects one shows as compile errors. */
  for (size_t i = 0; i < (o->dtypes ? o->ndtypes : 3); i++) {
    enum gemm_dtype dt = o->dtypes ? o->dtypes[i] : all_dtypes[i];
    if (!o->dtypes && *gemm_template_not_for(w.t->kernel, o->dev, dt == GEMM_F32) &&
        !*gemm_template_not_for(w.t->kernel, o->dev, false))
      continue;
    if (w.ndtypes < sizeof w.dtypes / sizeof w.dtypes[0])
      w.dtypes[w.ndtypes++] = dt;
  }
  const char *const *layouts = o->layouts ? o->layouts : all_layouts;
  for (size_t i = 0; layouts[i]; i++, out->layouts++)
    if ((rc = sweep_layout(&w, layouts[i])) != AT_OK)
      goto out;
  out->dtypes = w.ndtypes;
  out->shapes = o->compile_only ? 0 : o->shapes ? o->nshapes : gsw_default_nshapes;
out:
  if (w.ctx)
    meas_host.close(w.ctx);
  tmpl_free(w.t);
  return rc;
}

void gsw_summary(const struct gsw_result *r, char *buf, size_t len)
{
  if (r->shapes == 0)
    snprintf(buf, len, "%zu variants x %zu layouts x %zu dtypes = %zu compiled, compile "
             "errors %zu, spills %zu, occupancy 0: %zu, registers %d..%d", r->variants_per_layout,
             r->layouts, r->dtypes, r->compiled, r->compile_errors, r->spills, r->occ_zero,
             r->regs_min, r->regs_max);
  else
    snprintf(buf, len, "%zu variants x %zu shapes x %zu layouts x %zu dtypes = %zu runs, "
             "failures %zu", r->variants_per_layout, r->shapes, r->layouts, r->dtypes, r->runs,
             r->failures);
}
