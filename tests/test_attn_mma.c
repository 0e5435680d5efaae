/*
 * test_attn_mma.c - the mma.sync attention template (templates/attention/attn_mma.h)
 * under the attention contract v2 (GQA through HKV, the paged KV cache as a compiled-in
 * variant, the optional LSE): its space on the h100, a100 and host profiles (every value
 * of every param offered at head dims 64 and 128, head dim 256 refused by its named
 * constraint, decode keeping the 64-row block); every valid variant of one problem
 * family per arch compiled with NVRTC for sm_90 and sm_80 with no compile error,
 * registers and spills logged per variant, and no spill in the configs that matter
 * (FlashAttention-2's 128-row, 64-key block); and in three problem families a sample
 * (every value of every param in 3-4 configs) run on the host device emulating sm_90 or
 * sm_80 (cc_host "host:sm_90"/"host:sm_80", mma.sync, ldmatrix and cp.async emulated, the variant's own
 * source) over the correctness problems: odd lengths, SQ < SK and SQ > SK,
 * causal and not, GQA 4:1 and 8:1 and MHA, decode of 1 and 7 queries over 300 and 4,099
 * keys, paged (pages shuffled in a pool whose unused rows are NaN) and not, f16 and bf16,
 * head dims 64 and 128, LSE checked in every other run (NULL in the rest). The 4,099-key
 * problems run with the first config of a sample only (each costs seconds emulated).
 * AUTOTUNE_ATTN_MMA_FULL=1 runs every valid variant of every problem family over every
 * problem instead (the full sweep, bench/attn_mma.sh sweep; results in
 * bench/results/2026-12-03-attn-mma.md).
 *
 * The reference and the check are this file's own: the op's check has no term for P's
 * rounding (below), which every tensor-core kernel needs. Why the tolerance is what it is: besides the op's terms
 * (f32 sums, the output's rounding; op_attn.c), a tensor-core kernel rounds P to the
 * input type before P V, which moves an output by at most u_in * sum_j w_j |v_j| (w: the
 * softmax weights). That term is large in bf16, so every third query row is zero: its
 * logits are all 0, its P is exactly 1, and it is checked with no P term at all: the
 * mean of the keys it sees, where one key dropped, counted twice or read from the wrong
 * page (NaN) fails at any length.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/device.h"
#include "base/num.h"
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
#include "tuner/ops/gemm_run.h"
#include "tuner/ops/op_attn.h"
#include "tuner/ops/op_gemm.h"

/* One timeout for every test: Criterion 2.4.1 leaks a timer when tests with different
 * timeouts run in parallel (see test_install.c). CTest's own limit still applies. */
#define TIMEOUT 36000

#define TEMPLATE AT_SOURCE_DIR "/templates/attention/attn_mma.h"
#define COMMON AT_SOURCE_DIR "/templates/common"
/* The contract v2's kernel arguments: Q, K, V, O, LSE, BT, B, H, HKV, SQ, SK, scale. */
#define KINDS ATTN_ARG_KINDS
#define PAGE ATTN_PAGE
#define NDIMS 8           /* B, H, HKV, SQ, SK, D, CAUSAL, PAGED */
#define MAX_SAMPLE 64
#define EXACT_ROW_EVERY 3 /* every third query row is zero: its P is exact */

static const char *const incs[] = {COMMON, NULL};
static const char *const params[] = {"BQ", "BKV", "WARPS", "STAGES", "SWZ"};
#define NPARAMS (sizeof params / sizeof params[0])

/* ---- the space ------------------------------------------------------------------- */

static void space_open(struct th_space *sp, const char *dev, int64_t sq, int64_t sk,
                       int64_t d, int causal, int paged)
{
  const int64_t dims[NDIMS] = {1, 8, 2, sq, sk, d, causal, paged};
  th_space_open(sp, TEMPLATE, dev, dims, NDIMS);
}

/* The sample: a config that matters (FlashAttention-2's 64-key tiles, one 16-row slice
 * per warp, 2 stages, swizzled) when present, then greedily the config that offers the
 * most values of the params not yet in the sample, until every value of every param is
 * in it (3 or 4 configs). OUT: which[] (indices into sp); returns how many. */
static size_t sample(const struct th_space *sp, size_t *which, size_t cap)
{
  size_t n = 0;
  for (size_t i = 0; i < sp->n && n == 0; i++)
    if (th_space_get(sp, i, "BKV") == 64 && th_space_get(sp, i, "MS") == 1 &&
        th_space_get(sp, i, "STAGES") == 2 && th_space_get(sp, i, "SWZ") == 1)
      which[n++] = i;
  while (n < cap) {
    size_t best = 0, best_new = 0;
    for (size_t i = 0; i < sp->n; i++) {
      size_t fresh = 0;
      for (size_t p = 0; p < NPARAMS; p++) {
        bool before = false;
        for (size_t q = 0; q < n; q++)
          before |= th_space_get(sp, which[q], params[p]) == th_space_get(sp, i, params[p]);
        fresh += !before;
      }
      if (fresh > best_new)
        best = i, best_new = fresh;
    }
    if (best_new == 0)
      break;
    which[n++] = best;
  }
  return n;
}

Test(attn_mma, space_on_h100_a100_and_host, .timeout = TIMEOUT)
{
  static const char *const devs[] = {"h100", "a100", "host"};
  for (size_t dv = 0; dv < 3; dv++)
    for (int64_t d = 64; d <= 128; d += 64)
      for (int paged = 0; paged < 2; paged++) {
        struct th_space sp;
        space_open(&sp, devs[dv], 4096, 4096, d, 1, paged);
        cr_log_info("attn_mma %s D=%lld paged=%d: %zu valid configs", devs[dv], (long long)d,
                    paged, sp.n);
        /* the host profile's 64 KiB of shared memory keeps the smaller tiles */
        cr_assert_geq(sp.n, dv == 2 ? 8 : 16, "%s D=%lld: %zu configs", devs[dv], (long long)d,
                      sp.n);
        for (size_t i = 0; i < sp.n; i++) {
          int64_t bq = th_space_get(&sp, i, "BQ"), warps = th_space_get(&sp, i, "WARPS");
          cr_assert_eq(th_space_get(&sp, i, "HD"), d);
          cr_assert_eq(th_space_get(&sp, i, "IS_CAUSAL"), 1);
          cr_assert_eq(th_space_get(&sp, i, "IS_PAGED"), paged);
          cr_assert_eq(bq % (16 * warps), 0);
          cr_assert_eq(th_space_get(&sp, i, "MS"), bq / (16 * warps));
        }
        /* every value of every param is offered, except that HD 128 keeps one 16-row
         * slice per warp (Q and O of two slices do not fit the registers) */
        static const size_t want[NPARAMS] = {2, 3, 2, 2, 2};
        for (size_t p = 0; p < NPARAMS && dv < 2; p++) {
          int64_t seen[8];
          cr_assert_eq(th_space_values(&sp, params[p], seen, 8), want[p], "%s D=%lld: %s",
                       devs[dv], (long long)d, params[p]);
        }
        int64_t ms[4];
        cr_assert_eq(th_space_values(&sp, "MS", ms, 4), d == 128 ? 1 : 2);
        th_space_close(&sp);
      }
  /* decode: one query keeps only the 64-row block; 300 keys drop BKV 128 stages 3 */
  struct th_space sp;
  space_open(&sp, "h100", 1, 300, 128, 1, 1);
  cr_assert_gt(sp.n, 4);
  for (size_t i = 0; i < sp.n; i++)
    cr_assert_eq(th_space_get(&sp, i, "BQ"), 64);
  th_space_close(&sp);
  /* MI300X has no mma.sync: nothing is offered there */
  space_open(&sp, "mi300x", 4096, 4096, 128, 0, 0);
  cr_assert_eq(sp.n, 0);
  th_space_close(&sp);
}

/* Head dim 256 is refused, and by the head_dim constraint (the template's note says
 * why), not by some accident of the other limits. */
Test(attn_mma, head_dim_256_is_refused_with_a_reason, .timeout = TIMEOUT)
{
  struct th_space sp;
  space_open(&sp, "h100", 4096, 4096, 256, 0, 0);
  cr_assert_eq(sp.n, 0);
  struct gen_space_stats st;
  cr_assert_eq(gen_space_enumerate(sp.s, NULL, NULL, &st), AT_OK);
  cr_assert_eq(st.valid, 0);
  bool by_head_dim = false;
  for (size_t i = 0; i < st.nreqs; i++)
    if (strcmp(st.reqs[i].name, "head_dim") == 0)
      by_head_dim = st.reqs[i].removed > 0;
  cr_assert(by_head_dim, "head dim 256 was not refused by the head_dim constraint");
  gen_space_stats_release(&st);
  th_space_close(&sp);
}

/* ---- compiling with NVRTC ------------------------------------------------------------ */

/* A config that matters: FlashAttention-2's block shape for head dims 64 and 128 on
 * sm_80, 128 query rows by 64 keys (with any warps, stages and shared layout). */
static bool matters(const char *text)
{
  return strstr(text, "BKV=64,") && strstr(text, "BQ=128,");
}

/* Every valid variant of (d, causal, paged) on dev as dtype: no compile error; registers
 * and spills logged per variant; no spill where it matters. Returns the spill count. */
static size_t compile_space(const char *dev, const char *dtype, int64_t d, int causal,
                            int paged)
{
  struct th_space sp;
  space_open(&sp, dev, 4096, 4096, d, causal, paged);
  struct bld_options o = {.batch = 16, .backend = "nvrtc",
                          .cache_dir = th_cache_dir(), .include_dirs = incs};
  struct bld_result r;
  cr_assert_eq(bld_run(sp.t, sp.s, dev_find(dev), sp.dims, dtype, sp.cfg, sp.n, &o, &r), AT_OK,
               "%s", at_last_error());
  cr_assert_eq(r.nvariants, sp.n);
  size_t spilled = 0, ok = 0;
  for (size_t i = 0; i < r.nvariants; i++) {
    const struct bld_variant *v = &r.variants[i];
    cr_assert_neq(v->verdict, BLD_COMPILE_ERROR, "%s %s %s: %s\n%s", dev, dtype,
                  v->config_text, v->reason, v->log ? v->log : "");
    cr_log_info("attn_mma %s %s %s: %d registers, %lld spill bytes, %s", dev, dtype,
                v->config_text, v->res.registers, (long long)v->res.spill_bytes,
                v->verdict == BLD_OK ? "ok" : v->reason);
    spilled += v->res.spill_bytes > 0;
    ok += v->verdict == BLD_OK;
    if (matters(v->config_text))
      cr_assert_eq(v->res.spill_bytes, 0, "%s %s %s spills", dev, dtype, v->config_text);
  }
  cr_log_info("attn_mma %s %s D=%lld causal=%d paged=%d: %zu variants, %zu ok, %zu spill, 0 "
              "compile errors", dev, dtype, (long long)d, causal, paged, r.nvariants, ok,
              spilled);
  bld_result_release(&r);
  th_space_close(&sp);
  return spilled;
}

Test(attn_mma, every_variant_compiles_for_sm90, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  compile_space("h100", "f16", 128, 1, 0);
}

Test(attn_mma, every_variant_compiles_for_sm80, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  compile_space("a100", "bf16", 64, 0, 1);
}

/* ---- the problems, the reference and the check -------------------------------------- */

struct problem {
  int b, h, hkv, sq, sk;
  float scale; /* 0: 1 / sqrt(D) */
};

/* The correctness problems (B, H, HKV, SQ, SK): odd lengths with SQ < SK and
 * SQ > SK (so causal rows that see no key), GQA 4:1 and 8:1, MHA across a 128-row block,
 * decode of 1 and 7 queries over 300 and 4,099 keys; one negative scale (a row's max of
 * raw scores is then a min). */
static const struct problem problems[] = {
    {1, 4, 1, 37, 53, 0.0f},  {2, 8, 1, 70, 33, 0.3f},  {1, 2, 2, 129, 131, 0.0f},
    {1, 8, 2, 1, 300, 0.0f},  {1, 4, 1, 7, 300, -0.2f}, {1, 8, 1, 1, 4099, 0.0f},
    {1, 4, 1, 7, 4099, 0.2f},
};
#define NPROBLEMS (sizeof problems / sizeof problems[0])
#define LONG_SK 4099 /* in the CI sample, only the first sampled config runs these */

struct data {
  enum gemm_dtype dt;
  struct problem p;
  int d, causal, paged;
  size_t nq, nkv, npages, nbt;
  void *q, *k, *v;         /* logical Q [B][H][SQ][D], K and V [B][HKV][SK][D] */
  void *kpool, *vpool;     /* paged: [NPAGES][16][HKV][D], NaN where no key is */
  int *bt;                 /* paged: [B][cdiv(SK, 16)] */
  double *ref, *tol, *lse; /* B H SQ D; B H SQ D; B H SQ */
};

static size_t kv_index(const struct data *x, int b, int g, int j, int c)
{
  return (((size_t)b * (size_t)x->p.hkv + (size_t)g) * (size_t)x->p.sk + (size_t)j) *
             (size_t)x->d + (size_t)c;
}

static void data_init(struct data *x, const char *dtype, const struct problem *p, int d,
                      int causal, int paged, uint64_t seed)
{
  memset(x, 0, sizeof *x);
  cr_assert_eq(gemm_parse_dtype(dtype, &x->dt), AT_OK);
  x->p = *p, x->d = d, x->causal = causal, x->paged = paged;
  const enum gemm_dtype dt = x->dt;
  const size_t es = gemm_dtype_size(dt), rows = (size_t)p->b * (size_t)p->h * (size_t)p->sq;
  x->nq = rows * (size_t)d;
  x->nkv = (size_t)p->b * (size_t)p->hkv * (size_t)p->sk * (size_t)d;
  x->q = malloc(x->nq * es), x->k = malloc(x->nkv * es), x->v = malloc(x->nkv * es);
  x->ref = malloc(x->nq * sizeof *x->ref), x->tol = malloc(x->nq * sizeof *x->tol);
  x->lse = malloc(rows * sizeof *x->lse);
  cr_assert(x->q && x->k && x->v && x->ref && x->tol && x->lse);
  uint64_t st = seed | 1;
  for (size_t i = 0; i < x->nq; i++) {
    const size_t row = i / (size_t)d;
    gemm_elem_store(dt, x->q, i, row % EXACT_ROW_EVERY == 1 ? 0.0f : gemm_small_value(&st));
  }
  for (size_t i = 0; i < x->nkv; i++)
    gemm_elem_store(dt, x->k, i, gemm_small_value(&st));
  for (size_t i = 0; i < x->nkv; i++)
    gemm_elem_store(dt, x->v, i, gemm_small_value(&st));

  if (paged) {
    /* Pages dealt to the sequences in a shuffled order from a pool with spares. */
    x->nbt = (size_t)(p->sk + PAGE - 1) / PAGE;
    x->npages = (size_t)p->b * x->nbt + 3;
    int *perm = malloc(x->npages * sizeof *perm);
    x->bt = malloc((size_t)p->b * x->nbt * sizeof *x->bt);
    const size_t pool = x->npages * PAGE * (size_t)p->hkv * (size_t)d;
    x->kpool = malloc(pool * es), x->vpool = malloc(pool * es);
    cr_assert(perm && x->bt && x->kpool && x->vpool);
    for (size_t i = 0; i < x->npages; i++)
      perm[i] = (int)i;
    for (size_t i = x->npages - 1; i > 0; i--) {
      size_t j = (size_t)(num_xorshift64s(&st) % (i + 1));
      int t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    for (size_t i = 0; i < (size_t)p->b * x->nbt; i++)
      x->bt[i] = perm[i];
    free(perm);
    for (size_t i = 0; i < pool; i++) {
      gemm_elem_store(dt, x->kpool, i, NAN);
      gemm_elem_store(dt, x->vpool, i, NAN);
    }
    for (int b = 0; b < p->b; b++)
      for (int g = 0; g < p->hkv; g++)
        for (int j = 0; j < p->sk; j++) {
          const size_t page = (size_t)x->bt[(size_t)b * x->nbt + (size_t)(j / PAGE)];
          const size_t to = ((page * PAGE + (size_t)(j % PAGE)) * (size_t)p->hkv + (size_t)g) *
                            (size_t)d;
          for (int c = 0; c < d; c++) {
            gemm_elem_store(dt, x->kpool, to + (size_t)c, (float)gemm_elem_load(dt, x->k, kv_index(x, b, g, j, c)));
            gemm_elem_store(dt, x->vpool, to + (size_t)c, (float)gemm_elem_load(dt, x->v, kv_index(x, b, g, j, c)));
          }
        }
  }

  /* The f64 reference with the bound on each element (see the file's note). */
  const double scale = p->scale != 0.0f ? (double)p->scale : 1.0 / sqrt((double)d);
  const double u_out = gemm_dtype_roundoff(dt), u_p = u_out, floor_ = gemm_dtype_floor(dt);
  const double acc = 2.0 * (double)(d + 2 * p->sk + 64) * 0x1p-24; /* max |V| is 1 */
  double *w = malloc((size_t)p->sk * sizeof *w);
  cr_assert_not_null(w);
  for (size_t row = 0; row < rows; row++) {
    const int i = (int)(row % (size_t)p->sq), bh = (int)(row / (size_t)p->sq);
    const int b = bh / p->h, g = bh % p->h / (p->h / p->hkv);
    int n = p->sk;
    if (causal)
      n = i + p->sk - p->sq + 1 < 0 ? 0 : i + p->sk - p->sq + 1 < n ? i + p->sk - p->sq + 1 : n;
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < n; j++) {
      double dot = 0;
      for (int c = 0; c < d; c++)
        dot += gemm_elem_load(dt, x->q, row * (size_t)d + (size_t)c) *
               gemm_elem_load(dt, x->k, kv_index(x, b, g, j, c));
      w[j] = scale * dot;
      mx = w[j] > mx ? w[j] : mx;
    }
    for (int j = 0; j < n; j++)
      sum += (w[j] = exp(w[j] - mx));
    x->lse[row] = n ? mx + log(sum) : -INFINITY;
    const bool exact = row % EXACT_ROW_EVERY == 1;
    for (int c = 0; c < d; c++) {
      double o = 0, mag = 0;
      for (int j = 0; j < n; j++) {
        const double v = gemm_elem_load(dt, x->v, kv_index(x, b, g, j, c));
        o += w[j] * v;
        mag += w[j] * fabs(v);
      }
      const size_t e = row * (size_t)d + (size_t)c;
      x->ref[e] = n ? o / sum : 0.0;
      x->tol[e] = u_out * fabs(x->ref[e]) + (exact || !n ? 0.0 : u_p * mag / sum) + acc + floor_;
    }
  }
  free(w);
}

static void data_release(struct data *x)
{
  free(x->q), free(x->k), free(x->v), free(x->kpool), free(x->vpool), free(x->bt);
  free(x->ref), free(x->tol), free(x->lse);
  memset(x, 0, sizeof *x);
}

/* Emulator buffers for one problem. */
struct bufs {
  void *q, *k, *v, *o, *lse, *bt;
  size_t o_bytes, lse_bytes;
};

static void bufs_init(struct th_hostk *hk, const struct data *x, struct bufs *bf)
{
  const size_t es = gemm_dtype_size(x->dt);
  const size_t kv = x->paged ? x->npages * PAGE * (size_t)x->p.hkv * (size_t)x->d : x->nkv;
  memset(bf, 0, sizeof *bf);
  bf->o_bytes = x->nq * es;
  bf->lse_bytes = x->nq / (size_t)x->d * sizeof(float);
  bf->q = th_hostk_buf(hk, x->nq * es);
  bf->k = th_hostk_buf(hk, kv * es);
  bf->v = th_hostk_buf(hk, kv * es);
  bf->o = th_hostk_buf(hk, bf->o_bytes);
  bf->lse = th_hostk_buf(hk, bf->lse_bytes);
  memcpy(bf->q, x->q, x->nq * es);
  memcpy(bf->k, x->paged ? x->kpool : x->k, kv * es);
  memcpy(bf->v, x->paged ? x->vpool : x->v, kv * es);
  if (x->paged) {
    bf->bt = th_hostk_buf(hk, (size_t)x->p.b * x->nbt * sizeof(int));
    memcpy(bf->bt, x->bt, (size_t)x->p.b * x->nbt * sizeof(int));
  }
}

static void bufs_release(struct th_hostk *hk, struct bufs *bf)
{
  void *all[] = {bf->q, bf->k, bf->v, bf->o, bf->lse, bf->bt};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i])
      th_hostk_release(hk, all[i]);
}

/* Launch config `cfg` (kernel kern) on x once, O (and LSE when with_lse) reset to NaN
 * first, and check. Returns how many elements are wrong; msg says the first. */
static int64_t run_one(struct th_hostk *hk, const struct th_space *sp, const char *dtype,
                       const int64_t *cfg, meas_kernel kern, const struct data *x,
                       const struct bufs *bf, bool with_lse, char *msg, size_t cap)
{
  const int64_t dims[NDIMS] = {x->p.b, x->p.h, x->p.hkv, x->p.sq, x->p.sk, x->d, x->causal,
                               x->paged};
  struct gen_bind bind = {.dev = sp->dev, .dims = dims, .dtype = dtype};
  struct gen_launch l;
  cr_assert_eq(gen_emit_launch(sp->t, &bind, cfg, &l), AT_OK, "%s", at_last_error());
  for (size_t i = 0; i < x->nq; i++)
    gemm_elem_store(x->dt, bf->o, i, NAN);
  for (size_t i = 0; i < bf->lse_bytes / sizeof(float); i++)
    ((float *)bf->lse)[i] = NAN;
  meas_ptr q = (meas_ptr)(uintptr_t)bf->q, k = (meas_ptr)(uintptr_t)bf->k;
  meas_ptr v = (meas_ptr)(uintptr_t)bf->v, o = (meas_ptr)(uintptr_t)bf->o;
  meas_ptr lse = with_lse ? (meas_ptr)(uintptr_t)bf->lse : 0;
  meas_ptr bt = (meas_ptr)(uintptr_t)bf->bt;
  int b = x->p.b, h = x->p.h, hkv = x->p.hkv, sq = x->p.sq, sk = x->p.sk;
  float scale = x->p.scale;
  void *args[] = {&q, &k, &v, &o, &lse, &bt, &b, &h, &hkv, &sq, &sk, &scale};
  struct meas_launch ml;
  int rc = run_launch_init(&ml, kern, &l, args, KINDS, "test_attn_mma");
  if (rc == AT_OK && (rc = meas_host.launch(hk->ctx, &ml)) == AT_OK)
    rc = meas_host.sync(hk->ctx);
  if (rc != AT_OK) {
    snprintf(msg, cap, "launch: %s", at_last_error());
    return (int64_t)x->nq;
  }
  int64_t bad = 0;
  msg[0] = '\0';
  for (size_t e = 0; e < x->nq; e++) {
    const double got = gemm_elem_load(x->dt, bf->o, e);
    if (!(fabs(got - x->ref[e]) <= x->tol[e]) && bad++ == 0) {
      const size_t row = e / (size_t)x->d;
      snprintf(msg, cap, "O[bh %zu][%zu][%zu] = %.9g, expected %.9g (tolerance %.3g)",
               row / (size_t)x->p.sq, row % (size_t)x->p.sq, e % (size_t)x->d, got, x->ref[e],
               x->tol[e]);
    }
  }
  for (size_t row = 0; with_lse && row < x->nq / (size_t)x->d; row++) {
    const double got = ((const float *)bf->lse)[row], want = x->lse[row];
    const bool ok = isinf(want) ? isinf(got) && got < 0
                                : fabs(got - want) <= 1e-5 * (1.0 + fabs(want));
    if (!ok && bad++ == 0)
      snprintf(msg, cap, "LSE[bh %zu][%zu] = %.9g, expected %.9g", row / (size_t)x->p.sq,
               row % (size_t)x->p.sq, got, want);
  }
  return bad;
}

/* Through the op (op_attn.h, attn_run.h): its data (paged pools with ATTN_PAD_VALUE in
 * the rows no key maps to, spare pages), its reference and LSE tolerance, its runner's
 * v2 arguments. Its O tolerance plus the P term bounded by u_in * max|V| of the head
 * (the op's reference has no softmax weights to bound it more tightly). */
static const struct problem op_problems[] = {
    {2, 4, 1, 37, 53, 0.0f}, /* GQA 4:1, odd, SQ < SK */
    {1, 8, 2, 7, 300, 0.0f}, /* a decode step of 7 queries, GQA 4:1 */
};
#define NOP_PROBLEMS (sizeof op_problems / sizeof op_problems[0])

/* The op's own check (attn_check: its O tolerance has a term for P rounded to the input
 * type, which this kernel does as FlashAttention does). The number of wrong values. */
static int64_t op_check(const struct attn_data *d, const void *o, const float *lse, char *msg,
                        size_t cap)
{
  int64_t bad = 0;
  cr_assert_eq(attn_check(d, o, lse, &bad, msg, cap), AT_OK, "%s", at_last_error());
  return bad;
}

struct tally {
  size_t runs, failures;
  double compile_s; /* of that, compiling the variants for the host */
};

/* Configs which[0..n) of sp compiled as dtype for `arch`, run on every problem (the
 * 4,099-key ones only by the first `long_configs` configs). */
static void run_host(const struct th_space *sp, const char *dtype, const char *arch,
                     const size_t *which, size_t n, size_t long_configs, struct tally *t)
{
  const int64_t *ptrs[MAX_SAMPLE];
  meas_kernel kern[MAX_SAMPLE];
  cr_assert_leq(n, MAX_SAMPLE);
  for (size_t i = 0; i < n; i++)
    ptrs[i] = sp->cfg + which[i] * sp->np;
  struct th_hostk hk;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  th_hostk_load_variants(&hk, sp, dtype, ptrs, n, arch, kern);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  t->compile_s += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  const int64_t d = th_space_get(sp, which[0], "HD");
  const int causal = (int)th_space_get(sp, which[0], "IS_CAUSAL");
  const int paged = (int)th_space_get(sp, which[0], "IS_PAGED");
  for (size_t pi = 0; pi < NPROBLEMS; pi++) {
    const struct problem *p = &problems[pi];
    struct data x;
    data_init(&x, dtype, p, (int)d, causal, paged, 1000 + pi);
    struct bufs bf;
    bufs_init(&hk, &x, &bf);
    for (size_t i = 0; i < n; i++) {
      if (p->sk >= LONG_SK && i >= long_configs)
        continue;
      char msg[256];
      const bool with_lse = (i + pi) % 2 == 0;
      int64_t bad = run_one(&hk, sp, dtype, ptrs[i], kern[i], &x, &bf, with_lse, msg, sizeof msg);
      t->runs++;
      if (bad) {
        t->failures++;
        char *text = NULL;
        gen_space_config_text(sp->s, ptrs[i], &text);
        cr_log_error("%s %s D=%lld causal=%d paged=%d B%d H%d HKV%d SQ%d SK%d lse=%d %s: "
                     "%lld wrong: %s", arch, dtype, (long long)d, causal, paged, p->b, p->h,
                     p->hkv, p->sq, p->sk, with_lse, text ? text : "?", (long long)bad, msg);
        free(text);
      }
    }
    bufs_release(&hk, &bf);
    data_release(&x);
  }
  for (size_t pi = 0; pi < NOP_PROBLEMS; pi++) {
    const struct problem *p = &op_problems[pi];
    enum gemm_dtype dt;
    cr_assert_eq(gemm_parse_dtype(dtype, &dt), AT_OK);
    const struct attn_problem ap = {.dtype = dt, .batch = p->b, .heads = p->h, .hkv = p->hkv,
                                    .sq = p->sq, .sk = p->sk, .d = d, .causal = causal,
                                    .paged = paged, .lse = 1, .scale = p->scale};
    struct attn_data ad;
    cr_assert_eq(attn_data_init(&ad, &ap, 77 + pi), AT_OK, "%s", at_last_error());
    struct attn_buffers ab;
    cr_assert_eq(attn_buffers_init(&meas_host, hk.ctx, &ad, &ab), AT_OK, "%s", at_last_error());
    void *o = malloc(attn_q_elems(&ap) * gemm_dtype_size(dt));
    float *lse = malloc(attn_lse_elems(&ap) * sizeof *lse);
    cr_assert(o && lse);
    const int64_t dims[NDIMS] = {p->b, p->h, p->hkv, p->sq, p->sk, d, causal, paged};
    struct gen_bind bind = {.dev = sp->dev, .dims = dims, .dtype = dtype};
    for (size_t i = 0; i < n; i++) {
      struct gen_launch l;
      cr_assert_eq(gen_emit_launch(sp->t, &bind, ptrs[i], &l), AT_OK, "%s", at_last_error());
      char msg[256] = "";
      int rc = attn_launch(&meas_host, hk.ctx, kern[i], &l, &ad, &ab, o, lse);
      int64_t bad = rc == AT_OK ? op_check(&ad, o, lse, msg, sizeof msg) : 1;
      t->runs++;
      if (bad) {
        t->failures++;
        char *text = NULL;
        gen_space_config_text(sp->s, ptrs[i], &text);
        cr_log_error("%s %s op B%d H%d HKV%d SQ%d SK%d %s: %s", arch, dtype, p->b, p->h, p->hkv,
                     p->sq, p->sk, text ? text : "?", rc != AT_OK ? at_last_error() : msg);
        free(text);
      }
    }
    free(o);
    free(lse);
    attn_buffers_release(&meas_host, hk.ctx, &ab);
    attn_data_release(&ad);
  }
  th_hostk_close(&hk);
}

/* The CI sample of one problem family on one profile. */
static void host_sample(const char *dev, const char *arch, const char *dtype, int64_t d,
                        int causal, int paged)
{
  th_need_cc(&cc_host);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct th_space sp;
  space_open(&sp, dev, 4096, 4096, d, causal, paged);
  size_t which[MAX_SAMPLE];
  size_t n = sample(&sp, which, MAX_SAMPLE);
  cr_assert_geq(n, 3);
  struct tally t = {0};
  run_host(&sp, dtype, arch, which, n, 1, &t);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  cr_log_info("attn_mma %s %s D=%lld causal=%d paged=%d: %zu runs (%zu configs), %zu "
              "failures, %.1f s (compile %.1f s)", arch, dtype, (long long)d, causal, paged, t.runs,
              n, t.failures,
              (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
              t.compile_s);
  cr_assert_eq(t.failures, 0, "%zu of %zu runs wrong (see the log)", t.failures, t.runs);
  th_space_close(&sp);
}

Test(attn_mma, host_sm90_f16_d128_causal, .timeout = TIMEOUT)
{
  host_sample("h100", "host:sm_90", "f16", 128, 1, 0);
}
Test(attn_mma, host_sm90_bf16_d64_paged, .timeout = TIMEOUT)
{
  host_sample("h100", "host:sm_90", "bf16", 64, 0, 1);
}
Test(attn_mma, host_sm80_bf16_d128_causal_paged, .timeout = TIMEOUT)
{
  host_sample("a100", "host:sm_80", "bf16", 128, 1, 1);
}

/* The full sweep: every valid variant of both profiles, every problem family, every
 * problem. Hours on two cores: only with AUTOTUNE_ATTN_MMA_FULL=1.
 * AUTOTUNE_ATTN_MMA_DEV=h100 or a100 narrows it to one profile, and
 * AUTOTUNE_ATTN_MMA_FAMILIES (comma-separated family numbers: bit 0 bf16, bit 1 head dim
 * 128, bit 2 causal, bit 3 paged) to some families, so that it can run in parts. By
 * default the families go in an order that varies every feature early. */
static const int family_order[16] = {14, 5, 11, 0, 12, 7, 2, 9, 15, 4, 3, 8, 13, 6, 1, 10};
Test(attn_mma, full_sweep, .timeout = TIMEOUT)
{
  const char *full = getenv("AUTOTUNE_ATTN_MMA_FULL");
  if (!full || strcmp(full, "1") != 0)
    cr_skip_test("set AUTOTUNE_ATTN_MMA_FULL=1 to run every variant");
  th_need_cc(&cc_host);
  static const struct {
    const char *dev, *arch;
  } profiles[] = {{"h100", "host:sm_90"}, {"a100", "host:sm_80"}};
  static const char *const dtypes[] = {"f16", "bf16"};
  const char *only = getenv("AUTOTUNE_ATTN_MMA_DEV");
  int order[16], nfam = 0;
  const char *list = getenv("AUTOTUNE_ATTN_MMA_FAMILIES");
  if (list && *list) {
    for (const char *c = list; *c && nfam < 16;) {
      char *end = NULL;
      long f = strtol(c, &end, 10);
      cr_assert(end != c && f >= 0 && f < 16, "AUTOTUNE_ATTN_MMA_FAMILIES: '%s' is not a "
                "comma-separated list of 0..15", list);
      order[nfam++] = (int)f;
      c = *end == ',' ? end + 1 : end;
    }
  } else {
    memcpy(order, family_order, sizeof order);
    nfam = 16;
  }
  struct tally all = {0};
  size_t variants = 0;
  for (size_t pr = 0; pr < 2; pr++) {
    if (only && *only && strcmp(only, profiles[pr].dev) != 0)
      continue;
    for (int fi = 0; fi < nfam; fi++) {
      const int fam = order[fi];
      const char *dtype = dtypes[fam & 1];
      const int64_t d = fam & 2 ? 128 : 64;
      const int causal = fam >> 2 & 1, paged = fam >> 3 & 1;
      struct th_space sp;
      space_open(&sp, profiles[pr].dev, 4096, 4096, d, causal, paged);
      size_t which[MAX_SAMPLE];
      cr_assert_leq(sp.n, MAX_SAMPLE);
      for (size_t i = 0; i < sp.n; i++)
        which[i] = i;
      struct tally t = {0};
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      run_host(&sp, dtype, profiles[pr].arch, which, sp.n, sp.n, &t);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      printf("attn_mma full %s family %d, %s D=%lld causal=%d paged=%d: %zu variants, %zu "
             "runs, %zu failures, %.0f s\n", profiles[pr].arch, fam, dtype, (long long)d, causal, paged, sp.n,
             t.runs, t.failures,
             (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
      fflush(stdout);
      variants += sp.n;
      all.runs += t.runs;
      all.failures += t.failures;
      th_space_close(&sp);
    }
  }
  printf("attn_mma full: %zu variants, %zu runs, %zu failures\n", variants, all.runs,
         all.failures);
  cr_assert_gt(all.runs, 0);
  cr_assert_eq(all.failures, 0, "%zu of %zu runs wrong (see the log)", all.failures, all.runs);
}
