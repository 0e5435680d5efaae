/*
 * test_attn_decode.c - the decode attention template (templates/attention/attn_decode.h)
 * on the host device (the variant's own source on the SIMT emulator, warp 32, and as
 * compiled for gfx942 with waves of 64) and compiled for sm_80, sm_90 and gfx942.
 *
 * Each run: deterministic inputs (multiples of 1/4, exact products), a reference O and
 * LSE in f64 from the contract v2's definition (GQA head h reads KV head h / (H / HKV);
 * paged K and V read through a shuffled block table; causal bottom-right), the variant
 * launched twice on the same workspace (zeroed once, as the runners do), and after each
 * launch: every O element within attn_check's bound, every LSE within its own, and the
 * workspace all zero again (a counter not reset or a partial left behind shows there,
 * and a stale counter also breaks the second launch's combine).
 * `autotune attention --decode` runs it end to end (recorded, queried).
 * The CI sample covers every value of every parameter on a few problems (decode of 1
 * and 7 queries, GQA 1:1 and 8:1, paged and not, causal and not, head dims 64 and 128,
 * 300 and 4,099 keys); AT_DECODE_SWEEP=full runs every combination of the issue's
 * problems with such a sample, AT_DECODE_SWEEP=all with every valid config
 * (bench/attn_decode_sweep.sh, results in bench/results/).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/device.h"
#include "base/status.h"
#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tests/tspace.h"
#include "tuner/compile/build.h"
#include "tuner/compile/compile.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/attn_run.h"
#include "tuner/ops/op_attn.h"
#include "tuner/ops/op_gemm.h"

#define TIMEOUT 36000 /* one timeout for every test (see test_attn.c) */
#define TEMPLATE AT_SOURCE_DIR "/templates/attention/attn_decode.h"
#define COMMON AT_SOURCE_DIR "/templates/common"
#define PAGE 16          /* tokens a KV page (the contract's ATTN_PAGE) */
#define SPARE_PAGES 5    /* pool pages no sequence uses (so pages are not 0..n-1) */
#define KINDS "ppppppiiiiifp"
#define NDIMS 8          /* B, H, HKV, SQ, SK, D, CAUSAL, PAGED */

static const char *const incs[] = {COMMON, NULL};
static const char *const params[] = {"NT", "BKV", "TR", "BPS"};
#define NPARAMS (sizeof params / sizeof params[0])

struct dproblem {
  const char *dtype;
  int64_t b, h, hkv, sq, sk, d;
  int causal, paged, lse;
};

static void space_open(struct th_space *sp, const char *dev, const struct dproblem *p)
{
  const int64_t dims[NDIMS] = {p->b, p->h, p->hkv, p->sq, p->sk, p->d, p->causal, p->paged};
  th_space_open(sp, TEMPLATE, dev, dims, NDIMS);
}

/* For each value of each param, the first config that has it (each config once).
 * OUT: which[] (indices into sp); returns how many. */
static size_t sample(const struct th_space *sp, size_t *which, size_t cap)
{
  size_t n = 0;
  for (size_t p = 0; p < NPARAMS; p++) {
    int idx = gen_space_param_index(sp->s, params[p]);
    cr_assert_geq(idx, 0);
    int64_t seen[16];
    size_t nseen = 0;
    for (size_t i = 0; i < sp->n; i++) {
      int64_t v = sp->cfg[i * sp->np + (size_t)idx];
      bool known = false;
      for (size_t q = 0; q < nseen; q++)
        known |= seen[q] == v;
      if (known || nseen == 16)
        continue;
      seen[nseen++] = v;
      bool dup = false;
      for (size_t q = 0; q < n; q++)
        dup |= which[q] == i;
      if (!dup && n < cap)
        which[n++] = i;
    }
  }
  return n;
}

/* The value of param (or derived value) `name` in the config at cfg (a row of sp->cfg). */
static int64_t cfg_get(const struct th_space *sp, const int64_t *cfg, const char *name)
{
  return th_space_get(sp, (size_t)(cfg - sp->cfg) / sp->np, name);
}

/* ---- inputs and the f64 reference ---------------------------------------------------- */

static uint64_t rng(uint64_t *s)
{
  *s = *s * 6364136223846793005ull + 1442695040888963407ull;
  return *s >> 33;
}

struct ddata {
  struct dproblem p;
  enum gemm_dtype dt;
  size_t nq, nkv, npb, npages;  /* Q/O elements; K/V elements; pages a sequence, pool */
  void *q, *k, *v;              /* host copies in the dtype */
  int *bt;                      /* B x npb, NULL when not paged */
  double *ref, *lse;            /* B H SQ D; B H SQ */
  double vmax;
};

/* Element index of K/V for (b, g, key, c) in the problem's layout. */
static size_t kv_index(const struct ddata *d, int64_t b, int64_t g, int64_t key, int64_t c)
{
  const struct dproblem *p = &d->p;
  if (p->paged) {
    int64_t page = d->bt[b * (int64_t)d->npb + key / PAGE];
    return (size_t)(((page * PAGE + key % PAGE) * p->hkv + g) * p->d + c);
  }
  return (size_t)(((b * p->hkv + g) * p->sk + key) * p->d + c);
}

static void data_init(struct ddata *d, const struct dproblem *p, uint64_t seed)
{
  memset(d, 0, sizeof *d);
  d->p = *p;
  cr_assert_eq(gemm_parse_dtype(p->dtype, &d->dt), AT_OK);
  const size_t es = gemm_dtype_size(d->dt);
  d->nq = (size_t)(p->b * p->h * p->sq * p->d);
  d->npb = (size_t)((p->sk + PAGE - 1) / PAGE);
  d->npages = (size_t)p->b * d->npb + SPARE_PAGES;
  d->nkv = p->paged ? d->npages * PAGE * (size_t)(p->hkv * p->d)
                    : (size_t)(p->b * p->hkv * p->sk * p->d);
  d->q = malloc(d->nq * es);
  d->k = malloc(d->nkv * es);
  d->v = malloc(d->nkv * es);
  d->ref = malloc(d->nq * sizeof *d->ref);
  d->lse = malloc(d->nq / (size_t)p->d * sizeof *d->lse);
  cr_assert(d->q && d->k && d->v && d->ref && d->lse);
  uint64_t s = seed;
  for (size_t i = 0; i < d->nq; i++)
    gemm_elem_store(d->dt, d->q, i, (float)((int)(rng(&s) % 9) - 4) / 4.0f);
  for (size_t i = 0; i < d->nkv; i++) {
    gemm_elem_store(d->dt, d->k, i, (float)((int)(rng(&s) % 9) - 4) / 4.0f);
    gemm_elem_store(d->dt, d->v, i, (float)((int)(rng(&s) % 9) - 4) / 4.0f);
  }
  if (p->paged) { /* a shuffled permutation of the pool: no sequence's pages in order */
    size_t n = d->npages;
    int *perm = malloc(n * sizeof *perm);
    cr_assert_not_null(perm);
    for (size_t i = 0; i < n; i++)
      perm[i] = (int)i;
    for (size_t i = n - 1; i > 0; i--) {
      size_t j = rng(&s) % (i + 1);
      int t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    d->bt = malloc((size_t)p->b * d->npb * sizeof *d->bt);
    cr_assert_not_null(d->bt);
    memcpy(d->bt, perm, (size_t)p->b * d->npb * sizeof *d->bt);
    free(perm);
  }
  /* the reference, by the definition */
  const double scale = 1.0 / sqrt((double)p->d);
  double *w = malloc((size_t)p->sk * sizeof *w);
  cr_assert_not_null(w);
  d->vmax = 0;
  for (size_t i = 0; i < d->nkv; i++)
    d->vmax = fmax(d->vmax, fabs(gemm_elem_load(d->dt, d->v, i)));
  const int64_t gq = p->h / p->hkv;
  for (int64_t b = 0; b < p->b; b++)
    for (int64_t h = 0; h < p->h; h++)
      for (int64_t i = 0; i < p->sq; i++) {
        const int64_t g = h / gq, row = (b * p->h + h) * p->sq + i;
        int64_t nk = p->causal ? i + p->sk - p->sq + 1 : p->sk;
        nk = nk < 0 ? 0 : nk;
        double mx = -INFINITY, sum = 0;
        for (int64_t j = 0; j < nk; j++) {
          double dot = 0;
          for (int64_t c = 0; c < p->d; c++)
            dot += gemm_elem_load(d->dt, d->q, (size_t)(row * p->d + c)) *
                   gemm_elem_load(d->dt, d->k, kv_index(d, b, g, j, c));
          w[j] = dot * scale;
          mx = fmax(mx, w[j]);
        }
        for (int64_t j = 0; j < nk; j++)
          sum += (w[j] = exp(w[j] - mx));
        for (int64_t c = 0; c < p->d; c++) {
          double o = 0;
          for (int64_t j = 0; j < nk; j++)
            o += w[j] * gemm_elem_load(d->dt, d->v, kv_index(d, b, g, j, c));
          d->ref[row * p->d + c] = nk ? o / sum : 0.0;
        }
        d->lse[row] = nk ? mx + log(sum) : -INFINITY;
      }
  free(w);
}

static void data_release(struct ddata *d)
{
  free(d->q), free(d->k), free(d->v), free(d->bt), free(d->ref), free(d->lse);
}

/* ---- one variant on one problem ------------------------------------------------------ */

/* attn_check's bound (tuner/ops/op_attn.h): the output's rounding plus the f32 errors of
 * the dot products, exp2 and the running sums. */
static double o_tol(const struct ddata *d, double ref)
{
  const double u = d->dt == GEMM_F32 ? 0x1p-24 : d->dt == GEMM_F16 ? 0x1p-11 : 0x1p-8;
  return u * fabs(ref) + 2.0 * (double)(d->p.d + 2 * d->p.sk + 64) * 0x1p-24 * d->vmax +
         0x1p-24;
}

/* The LSE: the sum of up to SK terms in f32 and one log2. */
static double lse_tol(const struct ddata *d, double ref)
{
  return (double)(d->p.d + 2 * d->p.sk + 64) * 0x1p-23 + 0x1p-20 * fabs(ref);
}

struct run {
  size_t bad_o, bad_lse, ws_dirty;
  char first[200];
};

/* Launch kernel `kern` (config cfg of sp) twice on d's buffers; count what is wrong. */
static int run_variant(struct th_hostk *hk, const struct th_space *sp, meas_kernel kern,
                       const int64_t *cfg, const struct ddata *d, struct run *out)
{
  const struct dproblem *p = &d->p;
  memset(out, 0, sizeof *out);
  struct gen_bind bind = {.dev = sp->dev, .dims = sp->dims, .dtype = p->dtype};
  struct gen_launch l;
  cr_assert_eq(gen_emit_launch(sp->t, &bind, cfg, &l), AT_OK, "%s", at_last_error());
  const int64_t ns = cfg_get(sp, cfg, "NS"), r = cfg_get(sp, cfg, "R");
  /* the workspace pragma's size, which the kernel's layout must fit */
  const int64_t want_ws = ns > 1 ? (p->b * p->hkv + 3) / 4 * 16 +
                                       p->b * p->hkv * ns * r * (p->d + 2) * 4
                                 : 0;
  cr_assert_eq(l.workspace, want_ws);
  cr_assert(l.has_workspace);
  const size_t es = gemm_dtype_size(d->dt), nlse = d->nq / (size_t)p->d;
  void *q = th_hostk_buf(hk, d->nq * es), *k = th_hostk_buf(hk, d->nkv * es);
  void *v = th_hostk_buf(hk, d->nkv * es), *o = th_hostk_buf(hk, d->nq * es);
  float *lse = p->lse ? th_hostk_buf(hk, nlse * sizeof *lse) : NULL;
  int *bt = p->paged ? th_hostk_buf(hk, (size_t)p->b * d->npb * sizeof *bt) : NULL;
  unsigned char *ws = th_hostk_buf(hk, (size_t)(want_ws ? want_ws : 16));
  memcpy(q, d->q, d->nq * es), memcpy(k, d->k, d->nkv * es), memcpy(v, d->v, d->nkv * es);
  if (bt)
    memcpy(bt, d->bt, (size_t)p->b * d->npb * sizeof *bt);
  int B = (int)p->b, H = (int)p->h, HKV = (int)p->hkv, SQ = (int)p->sq, SK = (int)p->sk;
  float scale = 0.0f;
  void *args[] = {&q, &k, &v, &o, &lse, &bt, &B, &H, &HKV, &SQ, &SK, &scale, &ws};
  struct meas_launch ml = {.kernel = kern,
                           .grid = {(unsigned)l.grid[0], (unsigned)l.grid[1],
                                    (unsigned)l.grid[2]},
                           .block = {(unsigned)l.threads[0], (unsigned)l.threads[1],
                                     (unsigned)l.threads[2]},
                           .shared_bytes = (unsigned)l.shared, .args = args, .arg_kinds = KINDS};
  int rc = AT_OK;
  for (int rep = 0; rep < 2 && rc == AT_OK; rep++) {
    /* poison the outputs: an element never written shows as NaN */
    for (size_t i = 0; i < d->nq; i++)
      gemm_elem_store(d->dt, o, i, NAN);
    for (size_t i = 0; lse && i < nlse; i++)
      lse[i] = NAN;
    if ((rc = meas_host.launch(hk->ctx, &ml)) == AT_OK)
      rc = meas_host.sync(hk->ctx);
    if (rc != AT_OK)
      break;
    for (size_t i = 0; i < d->nq; i++) {
      double got = gemm_elem_load(d->dt, o, i), want = d->ref[i];
      if (!(fabs(got - want) <= o_tol(d, want)) && out->bad_o++ == 0 && !out->first[0])
        snprintf(out->first, sizeof out->first, "launch %d: O element %zu = %.9g, expected "
                 "%.9g", rep + 1, i, got, want);
    }
    for (size_t i = 0; lse && i < nlse; i++) {
      double want = d->lse[i], got = lse[i];
      bool ok = isinf(want) ? (isinf(got) && got < 0) : fabs(got - want) <= lse_tol(d, want);
      if (!ok && out->bad_lse++ == 0 && !out->first[0])
        snprintf(out->first, sizeof out->first, "launch %d: LSE row %zu = %.9g, expected "
                 "%.9g", rep + 1, i, got, want);
    }
    for (int64_t i = 0; i < want_ws; i++)
      if (ws[i] && out->ws_dirty++ == 0 && !out->first[0])
        snprintf(out->first, sizeof out->first, "launch %d: workspace not left zero (first "
                 "non-zero byte at %lld)", rep + 1, (long long)i);
  }
  th_hostk_release(hk, q), th_hostk_release(hk, k), th_hostk_release(hk, v);
  th_hostk_release(hk, o), th_hostk_release(hk, ws);
  if (lse)
    th_hostk_release(hk, lse);
  if (bt)
    th_hostk_release(hk, bt);
  return rc;
}

/* Every sampled config of the problem's space (all of them with all != 0), compiled for
 * arch ("host", or "host:gfx942" for waves of 64 on the device of that name), run and
 * checked. Returns the number of runs; asserts none failed. */
static size_t run_problem(const struct dproblem *p, const char *dev, const char *arch, int all)
{
  struct th_space sp;
  space_open(&sp, dev, p);
  cr_assert_gt(sp.n, 0, "no valid config for the problem");
  size_t cap = all ? sp.n : 32, n;
  size_t *which = malloc(cap * sizeof *which);
  const int64_t **ptrs = malloc(cap * sizeof *ptrs);
  meas_kernel *kern = malloc(cap * sizeof *kern);
  cr_assert(which && ptrs && kern);
  if (all)
    for (n = 0; n < sp.n; n++)
      which[n] = n;
  else
    n = sample(&sp, which, cap);
  for (size_t i = 0; i < n; i++)
    ptrs[i] = sp.cfg + which[i] * sp.np;
  struct th_hostk hk;
  th_hostk_load_variants(&hk, &sp, p->dtype, ptrs, n, arch, kern);
  struct ddata d;
  data_init(&d, p, (uint64_t)(p->sk * 31 + p->h * 7 + p->sq));
  size_t failures = 0;
  for (size_t i = 0; i < n; i++) {
    struct run r;
    int rc = run_variant(&hk, &sp, kern[i], ptrs[i], &d, &r);
    if (rc != AT_OK || r.bad_o || r.bad_lse || r.ws_dirty) {
      failures++;
      char *text = NULL;
      gen_space_config_text(sp.s, ptrs[i], &text);
      cr_log_error("%s %s b=%lld h=%lld hkv=%lld sq=%lld sk=%lld d=%lld causal=%d paged=%d "
                   "%s: %s; %zu O, %zu LSE wrong, %zu workspace bytes left: %s",
                   arch, p->dtype, (long long)p->b, (long long)p->h, (long long)p->hkv,
                   (long long)p->sq, (long long)p->sk, (long long)p->d, p->causal, p->paged,
                   text ? text : "?", at_status_name(rc), r.bad_o, r.bad_lse, r.ws_dirty,
                   rc != AT_OK ? at_last_error() : r.first);
      free(text);
    }
  }
  cr_log_info("attn_decode %s %s h=%lld/%lld sq=%lld sk=%lld d=%lld causal=%d paged=%d: %zu "
              "configs of %zu, %zu failed", arch, p->dtype, (long long)p->h, (long long)p->hkv,
              (long long)p->sq, (long long)p->sk, (long long)p->d, p->causal, p->paged, n,
              sp.n, failures);
  cr_assert_eq(failures, 0, "%zu of %zu variants wrong (see the log)", failures, n);
  data_release(&d);
  th_hostk_close(&hk);
  free(which), free(ptrs), free(kern);
  th_space_close(&sp);
  return n;
}

/* ---- the space --------------------------------------------------------------------- */

Test(attn_decode, space_and_refusals, .timeout = TIMEOUT)
{
  static const char *const devs[] = {"h200", "a100", "mi300x", "host"};
  for (size_t dv = 0; dv < 4; dv++) {
    /* Llama-style decode: 32 query heads over 8 KV heads, one query, 32k keys */
    const struct dproblem p = {"bf16", 1, 32, 8, 1, 32768, 128, 1, 0, 0};
    struct th_space sp;
    space_open(&sp, devs[dv], &p);
    cr_log_info("attn_decode %s: %zu valid configs", devs[dv], sp.n);
    cr_assert_geq(sp.n, 10, "%s: %zu configs", devs[dv], sp.n);
    const struct dev_profile *dev = dev_find(devs[dv]);
    for (size_t i = 0; i < sp.n; i++) {
      const int64_t ns = th_space_get(&sp, i, "NS"), bkv = th_space_get(&sp, i, "BKV");
      cr_assert_eq(th_space_get(&sp, i, "R"), 4, "the GQA group of 4 heads x 1 query");
      cr_assert_eq(bkv % 16, 0, "tiles of whole pages");
      cr_assert_geq(ns, 1);
      cr_assert_leq(ns, (32768 + bkv - 1) / bkv);
      if (dev->compute_units > 0) /* enough blocks: at least BPS per SM where keys allow */
        cr_assert_geq(ns * 8, th_space_get(&sp, i, "BPS") * dev->compute_units);
    }
    th_space_close(&sp);
  }
  /* SQ > 16 and a GQA group over 16 are refused, each by its named requirement */
  static const struct {
    struct dproblem p;
    const char *req;
  } refused[] = {
      {{"f16", 1, 8, 8, 17, 4096, 64, 1, 0, 0}, "decode_rows"},
      {{"f16", 1, 32, 1, 1, 4096, 64, 1, 0, 0}, "gqa_group"},
      {{"f16", 1, 6, 4, 1, 4096, 64, 1, 0, 0}, "gqa_group"},
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    const struct dproblem *p = &refused[i].p;
    struct tmpl *t = NULL;
    cr_assert_eq(tmpl_load(TEMPLATE, incs, &t), AT_OK, "%s", at_last_error());
    const int64_t dims[NDIMS] = {p->b, p->h, p->hkv, p->sq, p->sk, p->d, p->causal, p->paged};
    struct gen_space *s = NULL;
    cr_assert_eq(tmpl_space(t, dev_find("h200"), dims, &s), AT_OK, "%s", at_last_error());
    struct gen_space_stats st;
    cr_assert_eq(gen_space_enumerate(s, NULL, NULL, &st), AT_OK, "%s", at_last_error());
    cr_assert_eq(st.valid, 0, "%s: %llu configs", refused[i].req,
                 (unsigned long long)st.valid);
    /* the named requirement is what removes them (it comes before the others) */
    bool named = false;
    for (size_t q = 0; q < st.nreqs; q++)
      named |= strcmp(st.reqs[q].name, refused[i].req) == 0 && st.reqs[q].removed > 0;
    cr_assert(named, "%s removed nothing", refused[i].req);
    gen_space_stats_release(&st);
    gen_space_free(s);
    tmpl_free(t);
  }
}

/* ---- compiling for the GPUs -------------------------------------------------------- */

static void compile_sample(const char *dev, const char *backend, const char *dtype,
                           size_t most)
{
  /* 8:1 GQA, two new queries, paged, causal: the widest row tile the tests compile */
  const struct dproblem p = {dtype, 4, 32, 4, 2, 32768, 128, 1, 1, 1};
  struct th_space sp;
  space_open(&sp, dev, &p);
  size_t which[32];
  size_t n = sample(&sp, which, most);
  int64_t *cfg = malloc(n * sp.np * sizeof *cfg);
  cr_assert_not_null(cfg);
  for (size_t i = 0; i < n; i++)
    memcpy(cfg + i * sp.np, sp.cfg + which[i] * sp.np, sp.np * sizeof *cfg);
  struct bld_options o = {.batch = 16, .backend = backend, .cache_dir = "", .include_dirs = incs};
  struct bld_result r;
  cr_assert_eq(bld_run(sp.t, sp.s, dev_find(dev), sp.dims, dtype, cfg, n, &o, &r), AT_OK, "%s",
               at_last_error());
  int max_regs = 0, min_regs = 1 << 30;
  size_t pruned = 0;
  for (size_t i = 0; i < r.nvariants; i++) {
    const struct bld_variant *v = &r.variants[i];
    cr_assert_neq(v->verdict, BLD_COMPILE_ERROR, "%s %s %s: %s\n%s", dev, dtype,
                  v->config_text, v->reason, v->log ? v->log : "");
    if (v->verdict != BLD_OK) { /* pruned: spills under ptxas's occupancy target */
      pruned++;
      cr_log_info("pruned: %s %s %s: %s\n%s", dev, dtype, v->config_text, v->reason,
                   v->log ? v->log : "");
      continue;
    }
    cr_log_info("attn_decode %s %s %s: %d registers", dev, dtype, v->config_text,
                v->res.registers);
    max_regs = v->res.registers > max_regs ? v->res.registers : max_regs;
    min_regs = v->res.registers < min_regs ? v->res.registers : min_regs;
  }
  cr_log_info("attn_decode %s %s: %zu variants compiled, 0 errors, %zu pruned (spills), the "
              "rest %d-%d registers", dev, dtype, r.nvariants, pruned, min_regs, max_regs);
  cr_assert_eq(r.nvariants, n);
  /* the tuner skips a pruned variant; most of the sample must be usable */
  cr_assert_leq(2 * pruned, n, "%zu of %zu variants spill (see the log)", pruned, n);
  bld_result_release(&r);
  free(cfg);
  th_space_close(&sp);
}

Test(attn_decode, compiles_for_sm80, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  compile_sample("a100", "nvrtc", "bf16", 4); /* sm_90 compiles the whole sample */
}

Test(attn_decode, compiles_for_sm90, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  compile_sample("h200", "nvrtc", "f16", 32);
}

Test(attn_decode, compiles_for_gfx942, .timeout = TIMEOUT)
{
  th_need_cc(&cc_clang_hip);
  compile_sample("mi300x", "clang-hip", "bf16", 32);
}

/* ---- correctness on the host device ------------------------------------------------- */

/* The CI sample: every parameter value on each of these (each feature at least once). */
static const struct dproblem ci[] = {
    /* dtype  b  h hkv sq   sk    d causal paged lse */
    {"f16", 1, 8, 1, 1, 4099, 128, 1, 1, 1},  /* MQA-like 8:1, one query, long, paged */
    {"bf16", 2, 4, 4, 7, 300, 64, 1, 0, 1},   /* MHA, 7 queries, causal */
    {"f32", 1, 8, 2, 7, 300, 128, 0, 1, 0},   /* 4:1, not causal, paged, no LSE */
};

Test(attn_decode, host_sample_gqa8_paged, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&ci[0], "host", "host", 0);
}

Test(attn_decode, host_sample_mha_causal, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&ci[1], "host", "host", 0);
}

Test(attn_decode, host_sample_gqa4_paged, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&ci[2], "host", "host", 0);
}

/* The tuner's own path: the op's v2 data (pad values in the pool rows no key maps to),
 * its f64 reference and check, and attn_run's workspace (grown, zeroed once, checked
 * after every launch), each sampled variant verified twice on it. */
Test(attn_decode, host_runner_agrees, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  const struct dproblem dp = {"bf16", 2, 8, 2, 3, 300, 64, 1, 1, 1};
  struct th_space sp;
  space_open(&sp, "host", &dp);
  size_t which[32];
  size_t n = sample(&sp, which, 32);
  const int64_t *ptrs[32];
  meas_kernel kern[32];
  for (size_t i = 0; i < n; i++)
    ptrs[i] = sp.cfg + which[i] * sp.np;
  struct th_hostk hk;
  th_hostk_load_variants(&hk, &sp, dp.dtype, ptrs, n, "host", kern);
  struct attn_problem p = {.dtype = GEMM_BF16, .batch = 2, .heads = 8, .hkv = 2, .sq = 3,
                           .sk = 300, .d = 64, .causal = 1, .paged = 1, .lse = 1, .decode = 1};
  struct attn_data data;
  cr_assert_eq(attn_data_init(&data, &p, 5), AT_OK, "%s", at_last_error());
  struct attn_buffers buf;
  cr_assert_eq(attn_buffers_init(&meas_host, hk.ctx, &data, &buf), AT_OK, "%s", at_last_error());
  struct gen_bind bind = {.dev = sp.dev, .dims = sp.dims, .dtype = dp.dtype};
  size_t split = 0;
  for (size_t i = 0; i < n; i++) {
    struct gen_launch l;
    cr_assert_eq(gen_emit_launch(sp.t, &bind, ptrs[i], &l), AT_OK, "%s", at_last_error());
    split += cfg_get(&sp, ptrs[i], "NS") > 1;
    for (int rep = 0; rep < 2; rep++) {
      int64_t bad = 0;
      char msg[256] = "";
      int rc = attn_verify(&meas_host, hk.ctx, kern[i], &l, &data, &buf, &bad, msg, sizeof msg);
      char *text = NULL;
      gen_space_config_text(sp.s, ptrs[i], &text);
      cr_assert(rc == AT_OK && bad == 0, "%s, launch %d: %s, %lld wrong: %s", text, rep + 1,
                at_status_name(rc), (long long)bad, rc != AT_OK ? at_last_error() : msg);
      free(text);
    }
  }
  cr_assert_gt(split, 0, "the sample has a split variant (the workspace path)");
  attn_buffers_release(&meas_host, hk.ctx, &buf);
  attn_data_release(&data);
  th_hostk_close(&hk);
  th_space_close(&sp);
}

/* The product: `autotune attention --decode` measures attn_decode's variants, every one
 * right against the op (the runner's check and workspace check), and records them under
 * the decode family's key. */
Test(attn_decode, command_tunes_decode, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  char *dir = th_tmpdir();
  char *db = th_path(dir, "d.db");
  struct th_result r;
  th_run(&r, "attention --device host --decode --batch 2 --heads 8 --kv-heads 2 --seqlen 2 "
             "--kv-seqlen 300 --head-dim 64 --paged --lse --template attn_decode --budget 3 "
             "--variant-time 0.05 --db '%s' --json", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"by_status\":{\"ok\":4,"), "every variant right: %s", r.out);
  th_result_free(&r);
  th_run(&r, "query attention --device host --dtype f32 --layout hd64_causal_decode_paged_lse "
             "--dim b=2 --dim h=8 --dim sq=2 --dim sk=300 --dim hkv=2 --db '%s'", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "exact match") && strstr(r.out, "NS="), "%s", r.out);
  th_result_free(&r);
  free(db);
  th_rmtree(dir);
  free(dir);
}

/* Waves of 64: the variant compiled as for gfx942 (AT_WAVE_SIZE 64), on MI300X's space. */
Test(attn_decode, host_sample_wave64, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  const struct dproblem p = {"bf16", 1, 8, 2, 1, 300, 64, 1, 1, 1};
  run_problem(&p, "mi300x", "host:gfx942", 0);
}

/* The full sweep (bench/attn_decode_sweep.sh): every valid config of every combination
 * of the issue's problems, on the host and as gfx942. Skipped unless asked for. */
Test(attn_decode, full_sweep, .timeout = TIMEOUT)
{
  const char *want = getenv("AT_DECODE_SWEEP");
  if (!want || (strcmp(want, "full") != 0 && strcmp(want, "all") != 0))
    cr_skip_test("the full sweep runs with AT_DECODE_SWEEP=full or all "
                 "(bench/attn_decode_sweep.sh)");
  const int all = strcmp(want, "all") == 0; /* every valid config, not a sample */
  th_need_cc(&cc_host);
  static const int64_t sqs[] = {1, 7}, sks[] = {300, 4099}, groups[] = {1, 4, 8}, ds[] = {64, 128};
  size_t problems = 0, runs = 0;
  for (size_t a = 0; a < 2; a++)
    for (size_t s = 0; s < 2; s++)
      for (size_t gi = 0; gi < 3; gi++)
        for (size_t di = 0; di < 2; di++)
          for (int paged = 0; paged < 2; paged++)
            for (int causal = 0; causal < 2; causal++) {
              static const char *const dts[] = {"f16", "bf16", "f32"};
              const struct dproblem p = {dts[problems % 3], 1, 8, 8 / groups[gi], sqs[a],
                                         sks[s], ds[di], causal, paged, (int)(problems % 2)};
              const int wave64 = problems % 4 == 3;
              runs += run_problem(&p, wave64 ? "mi300x" : "host",
                                  wave64 ? "host:gfx942" : "host", all);
              problems++;
            }
  cr_log_info("attn_decode full sweep: %zu problems, %zu variant runs, all right", problems,
              runs);
}
