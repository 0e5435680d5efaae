/*
 * test_attn_decode.c - the decode attention templates: attn_decode.h (SIMT) on the host
 * device (the variant's own source on the SIMT emulator, warp 32, and as compiled for
 * gfx942 with waves of 64) and compiled for sm_80, sm_90 and gfx942; attn_decode_mma.h
 * (mma.sync, the GQA group's rows packed into 16-row slices) on the host emulating
 * mma.sync, on the host's and h100's spaces, and compiled for sm_80 and sm_90.
 *
 * Each run goes through the tuner's own path and the op's one reference and check
 * (tuner/ops/op_attn.c: deterministic inputs, multiples of 1/4, exact products; the f64
 * reference of the contract v2, GQA head h reading KV head h / (H / HKV), paged K and V
 * through a shuffled block table in a pool whose unused rows hold ATTN_PAD_VALUE, causal
 * bottom-right; attn_check with no P-rounding term for attn_decode, whose P is f32, with
 * it for attn_decode_mma): the variant launched twice on the same workspace (zeroed once,
 * as the runners do), and after each launch every O element and LSE value within
 * attn_check's bound and the workspace all zero again (tuner/ops/attn_run.c, attn_verify).
 * `autotune attention --decode` runs it end to end (recorded, queried).
 * The CI sample covers every value of every parameter on a few problems (decode of 1
 * and 7 queries, GQA 1:1 and 8:1, paged and not, causal and not, head dims 64 and 128,
 * 300 and 4,099 keys; attn_decode_mma also 16 queries of a 16:1 group, 256 rows);
 * AT_DECODE_SWEEP=full runs every combination of the issue's problems with such a
 * sample, AT_DECODE_SWEEP=all with every valid config (with AT_DECODE_SMX=0 or 1: only
 * that softmax's configs; AT_DECODE_TEMPLATE=attn_decode_mma: that template)
 * (bench/attn_decode_sweep.sh, results in bench/results/). */
#include <criterion/criterion.h>
#include <criterion/logging.h>

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
#define COMMON AT_SOURCE_DIR "/templates/common"
#define NDIMS 8          /* B, H, HKV, SQ, SK, D, CAUSAL, PAGED */

static const char *const incs[] = {COMMON, NULL};

/* The decode templates: the same problems, runs and checks for each. */
struct dtemplate {
  const char *name, *path;
  const char *const *params; /* the sample covers every value of each */
  size_t nparams;
  int p_exact;               /* P kept in f32 (no P-rounding term in the check) */
  int lanes;                 /* has SMX (the lane-group softmax): sampled on its own too */
};
static const char *const simt_params[] = {"NT", "BKV", "TR", "BPS", "SMX"};
static const char *const mma_params[] = {"MS", "WK", "BKV", "STAGES", "SWZ", "BPS", "MINB"};
static const struct dtemplate SIMT = {"attn_decode", AT_SOURCE_DIR
                                      "/templates/attention/attn_decode.h", simt_params, 5, 1, 1};
static const struct dtemplate MMA = {"attn_decode_mma", AT_SOURCE_DIR
                                     "/templates/attention/attn_decode_mma.h", mma_params, 7, 0,
                                     0};
static const char *const mfma_params[] = {"MI",        "QT",         "WK",  "BKV",
                                          "STAGES",    "VEC_BYTES", "LDS_LAYOUT", "BPS"};
static const struct dtemplate MFMA = {"attn_decode_mfma", AT_SOURCE_DIR
                                      "/templates/attention/attn_decode_mfma.h", mfma_params, 8,
                                      0, 0};

struct dproblem {
  const char *dtype;
  int64_t b, h, hkv, sq, sk, d;
  int causal, paged, lse;
};

static void space_open(struct th_space *sp, const struct dtemplate *tp, const char *dev,
                       const struct dproblem *p)
{
  const int64_t dims[NDIMS] = {p->b, p->h, p->hkv, p->sq, p->sk, p->d, p->causal, p->paged};
  th_space_open(sp, tp->path, dev, dims, NDIMS);
}

/* A small sample with every value of every param (th_space_cover: 4-6 configs where the
 * old first-config-per-value sample took 10-11, the runtime of this file). For attn_decode
 * then the same again among the configs with SMX = 1 (the lane-group softmax: every NT,
 * BKV, TR, BPS with it too), those not taken yet appended. OUT: which[] (indices into sp);
 * returns how many. */
static size_t sample_of(const struct dtemplate *tp, const struct th_space *sp, size_t *which,
                        size_t cap, int64_t smx)
{
  return th_space_cover(sp, tp->params, tp->nparams,
                        smx < 0 ? NULL : smx ? "SMX=1" : "SMX=0", which, cap);
}

static size_t sample(const struct dtemplate *tp, const struct th_space *sp, size_t *which,
                     size_t cap)
{
  size_t n = sample_of(tp, sp, which, cap, -1);
  if (!tp->lanes)
    return n;
  size_t *more = malloc(cap * sizeof *more);
  cr_assert_not_null(more);
  const size_t m = sample_of(tp, sp, more, cap, 1);
  for (size_t i = 0; i < m && n < cap; i++) {
    bool taken = false;
    for (size_t k = 0; k < n; k++)
      taken |= which[k] == more[i];
    if (!taken)
      which[n++] = more[i];
  }
  free(more);
  return n;
}

/* The value of param (or derived value) `name` in the config at cfg (a row of sp->cfg). */
static int64_t cfg_get(const struct th_space *sp, const int64_t *cfg, const char *name)
{
  return th_space_get(sp, (size_t)(cfg - sp->cfg) / sp->np, name);
}

/* ---- one variant on one problem ------------------------------------------------------ */

/* The op's problem for p (a decode problem: at most 16 queries; scale 0, 1/sqrt(D)). */
static struct attn_problem op_problem(const struct dproblem *p)
{
  struct attn_problem q = {.batch = p->b, .heads = p->h, .hkv = p->hkv, .sq = p->sq,
                           .sk = p->sk, .d = p->d, .causal = p->causal, .paged = p->paged,
                           .lse = p->lse, .decode = 1};
  cr_assert_eq(gemm_parse_dtype(p->dtype, &q.dtype), AT_OK);
  return q;
}

/* Launch variant kern (config cfg of sp, dtype p->dtype) twice on the op's buffers,
 * through the tuner's own path: attn_verify resets O to NaN and poisons LSE before each
 * launch, checks O and LSE with the op's attn_check against its f64 reference, and checks
 * that the workspace (zeroed once, when it grows, as the runners do) is all zero again (a
 * counter not reset or a partial left behind shows there, and a stale counter also breaks
 * the second launch's combine). Returns AT_OK or the runner's status; OUT: *bad (wrong O
 * and LSE elements and workspace bytes over both launches), msg (the first). */
static int run_variant(struct th_hostk *hk, const struct th_space *sp, meas_kernel kern,
                       const int64_t *cfg, const char *dtype, const struct attn_data *d,
                       struct attn_buffers *buf, int64_t *bad, char *msg, size_t cap)
{
  const struct attn_problem *p = &d->p;
  struct gen_bind bind = {.dev = sp->dev, .dims = sp->dims, .dtype = dtype};
  struct gen_launch l;
  cr_assert_eq(gen_emit_launch(sp->t, &bind, cfg, &l), AT_OK, "%s", at_last_error());
  const int64_t ns = cfg_get(sp, cfg, "NS"), r = cfg_get(sp, cfg, "R");
  /* the workspace pragma's size, which the kernel's layout must fit */
  const int64_t want_ws = ns > 1 ? (p->batch * p->hkv + 3) / 4 * 16 +
                                       p->batch * p->hkv * ns * r * (p->d + 2) * 4
                                 : 0;
  cr_assert_eq(l.workspace, want_ws);
  cr_assert(l.has_workspace);
  *bad = 0;
  msg[0] = '\0';
  int rc = AT_OK;
  for (int rep = 0; rep < 2 && rc == AT_OK && *bad == 0; rep++) {
    int64_t n = 0;
    char m[256] = "";
    rc = attn_verify(&meas_host, hk->ctx, kern, &l, d, buf, &n, m, sizeof m);
    if (n > 0)
      snprintf(msg, cap, "launch %d: %s", rep + 1, m);
    *bad += n;
  }
  return rc;
}

/* The full sweep's AT_DECODE_SMX: only the configs with this SMX (-1: all). */
static int64_t only_smx = -1;

/* Every sampled config of template tp's space for the problem on dev (all of them with
 * all != 0), compiled for arch ("host", or "host:gfx942" for waves of 64 on the device of
 * that name), run twice and checked by the op; attn_decode keeps P in f32, so its check
 * has no P-rounding term (p_exact), attn_decode_mma rounds P to the input type as the
 * other matrix-core templates do. Returns the number of runs; asserts none failed. OUT:
 * *split (may be NULL), the runs of a split variant (NS > 1: the workspace path). */
static size_t run_problem(const struct dtemplate *tp, const struct dproblem *p, const char *dev,
                          const char *arch, int all, size_t *split)
{
  struct th_space sp;
  space_open(&sp, tp, dev, p);
  cr_assert_gt(sp.n, 0, "no valid config for the problem");
  size_t cap = all ? sp.n : 32, n;
  size_t *which = malloc(cap * sizeof *which);
  const int64_t **ptrs = malloc(cap * sizeof *ptrs);
  meas_kernel *kern = malloc(cap * sizeof *kern);
  cr_assert(which && ptrs && kern);
  n = 0;
  if (all)
    for (size_t i = 0; i < sp.n; i++) {
      if (only_smx < 0 || !tp->lanes || th_space_get(&sp, i, "SMX") == only_smx)
        which[n++] = i;
    }
  else
    n = only_smx >= 0 && tp->lanes ? sample_of(tp, &sp, which, cap, only_smx)
                                   : sample(tp, &sp, which, cap);
  for (size_t i = 0; i < n; i++)
    ptrs[i] = sp.cfg + which[i] * sp.np;
  struct th_hostk hk;
  th_hostk_load_variants(&hk, &sp, p->dtype, ptrs, n, arch, kern);
  const struct attn_problem ap = op_problem(p);
  struct attn_data d;
  cr_assert_eq(attn_data_init(&d, &ap, (uint64_t)(p->sk * 31 + p->h * 7 + p->sq)), AT_OK, "%s",
               at_last_error());
  d.p_exact = tp->p_exact;
  struct attn_buffers buf;
  cr_assert_eq(attn_buffers_init(&meas_host, hk.ctx, &d, &buf), AT_OK, "%s", at_last_error());
  size_t failures = 0, lanes = 0;
  int64_t sg_lo = 0, sg_hi = 0; /* the lane groups the SMX = 1 runs took */
  for (size_t i = 0; i < n; i++) {
    int64_t bad = 0;
    if (tp->lanes && cfg_get(&sp, ptrs[i], "SMX") == 1) {
      const int64_t sg = cfg_get(&sp, ptrs[i], "SG");
      sg_lo = lanes == 0 || sg < sg_lo ? sg : sg_lo, sg_hi = sg > sg_hi ? sg : sg_hi;
      lanes++;
    }
    char msg[300];
    int rc = run_variant(&hk, &sp, kern[i], ptrs[i], p->dtype, &d, &buf, &bad, msg, sizeof msg);
    if (split)
      *split += cfg_get(&sp, ptrs[i], "NS") > 1;
    if (rc != AT_OK || bad != 0) {
      failures++;
      char *text = NULL;
      gen_space_config_text(sp.s, ptrs[i], &text);
      cr_log_error("%s %s b=%lld h=%lld hkv=%lld sq=%lld sk=%lld d=%lld causal=%d paged=%d "
                   "lse=%d %s: %s, %lld wrong: %s", arch, p->dtype, (long long)p->b,
                   (long long)p->h, (long long)p->hkv, (long long)p->sq, (long long)p->sk,
                   (long long)p->d, p->causal, p->paged, p->lse, text ? text : "?",
                   at_status_name(rc), (long long)bad, rc != AT_OK ? at_last_error() : msg);
      free(text);
    }
  }
  cr_log_info("%s %s (%s's space) %s h=%lld/%lld sq=%lld sk=%lld d=%lld causal=%d paged=%d "
              "lse=%d: %zu configs of %zu (%zu with SMX=1, SG %lld-%lld), %zu failed", tp->name,
              arch, dev, p->dtype,
              (long long)p->h, (long long)p->hkv, (long long)p->sq, (long long)p->sk,
              (long long)p->d, p->causal, p->paged, p->lse, n, sp.n, lanes, (long long)sg_lo,
              (long long)sg_hi, failures);
  cr_assert(lanes > 0 || only_smx == 0 || !tp->lanes, "the lane-group softmax ran");
  cr_assert_eq(failures, 0, "%zu of %zu variants wrong (see the log)", failures, n);
  attn_buffers_release(&meas_host, hk.ctx, &buf);
  attn_data_release(&d);
  th_hostk_close(&hk);
  free(which), free(ptrs), free(kern);
  th_space_close(&sp);
  return n;
}

/* ---- the space --------------------------------------------------------------------- */

/* Template tp's space for p on dev is empty, and requirement `req` is what removes it (it
 * comes before the others). */
static void assert_refused(const struct dtemplate *tp, const char *dev,
                           const struct dproblem *p, const char *req)
{
  struct tmpl *t = NULL;
  cr_assert_eq(tmpl_load(tp->path, incs, &t), AT_OK, "%s", at_last_error());
  const int64_t dims[NDIMS] = {p->b, p->h, p->hkv, p->sq, p->sk, p->d, p->causal, p->paged};
  struct gen_space *s = NULL;
  cr_assert_eq(tmpl_space(t, dev_find(dev), dims, &s), AT_OK, "%s", at_last_error());
  struct gen_space_stats st;
  cr_assert_eq(gen_space_enumerate(s, NULL, NULL, &st), AT_OK, "%s", at_last_error());
  cr_assert_eq(st.valid, 0, "%s %s: %llu configs", tp->name, req, (unsigned long long)st.valid);
  bool named = false;
  for (size_t q = 0; q < st.nreqs; q++)
    named |= strcmp(st.reqs[q].name, req) == 0 && st.reqs[q].removed > 0;
  cr_assert(named, "%s: %s removed nothing", tp->name, req);
  gen_space_stats_release(&st);
  gen_space_free(s);
  tmpl_free(t);
}


Test(attn_decode, space_and_refusals, .timeout = TIMEOUT)
{
  static const char *const devs[] = {"h200", "a100", "mi300x", "host"};
  for (size_t dv = 0; dv < 4; dv++) {
    /* Llama-style decode: 32 query heads over 8 KV heads, one query, 32k keys */
    const struct dproblem p = {"bf16", 1, 32, 8, 1, 32768, 128, 1, 0, 0};
    struct th_space sp;
    space_open(&sp, &SIMT, devs[dv], &p);
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
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    assert_refused(&SIMT, "h200", &refused[i].p, refused[i].req);
}

/* ---- compiling for the GPUs -------------------------------------------------------- */

static void compile_sample(const struct dtemplate *tp, const char *dev, const char *backend,
                           const char *dtype, size_t most)
{
  /* 8:1 GQA, two new queries, paged, causal: the widest row tile the tests compile */
  const struct dproblem p = {dtype, 4, 32, 4, 2, 32768, 128, 1, 1, 1};
  struct th_space sp;
  space_open(&sp, tp, dev, &p);
  size_t which[32];
  size_t n = sample(tp, &sp, which, most);
  int64_t *cfg = malloc(n * sp.np * sizeof *cfg);
  cr_assert_not_null(cfg);
  for (size_t i = 0; i < n; i++)
    memcpy(cfg + i * sp.np, sp.cfg + which[i] * sp.np, sp.np * sizeof *cfg);
  struct bld_options o = {.batch = 16, .backend = backend,
                          .cache_dir = th_cache_dir(), .include_dirs = incs};
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
    cr_log_info("%s %s %s %s: %d registers, %d AGPRs, %lld B shared, %d warps a CU",
                tp->name, dev, dtype, v->config_text, v->res.registers, v->res.agprs,
                (long long)(v->res.shared_bytes + v->launch.shared), v->occ.warps_per_cu);
    max_regs = v->res.registers > max_regs ? v->res.registers : max_regs;
    min_regs = v->res.registers < min_regs ? v->res.registers : min_regs;
  }
  cr_log_info("%s %s %s: %zu variants compiled, 0 errors, %zu pruned (spills), the rest "
              "%d-%d registers", tp->name, dev, dtype, r.nvariants, pruned, min_regs, max_regs);
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
  compile_sample(&SIMT, "a100", "nvrtc", "bf16", 4); /* sm_90 compiles the whole sample */
}

Test(attn_decode, compiles_for_sm90, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  compile_sample(&SIMT, "h200", "nvrtc", "f16", 32);
}

Test(attn_decode, compiles_for_gfx942, .timeout = TIMEOUT)
{
  th_need_cc(&cc_clang_hip);
  compile_sample(&SIMT, "mi300x", "clang-hip", "bf16", 32);
}

/* `#pragma autotune min_blocks 1` reaches ptxas: the variant's wrapper is declared
 * AT_LAUNCH_BOUNDS_MIN_(NT, 1), i.e. __launch_bounds__(NT, 1) on CUDA, and ptxas then
 * gives the key loop the registers it needs. The config is one that NVRTC 13.0 compiled
 * at 72 registers with 4 bytes of spill stores under __launch_bounds__(128) alone (the
 * decode bundles' problem; the same TU with the macro defined away first shows it). */
Test(attn_decode, min_blocks_reaches_ptxas, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  const struct dproblem p = {"bf16", 1, 32, 8, 1, 4096, 128, 0, 0, 0};
  struct th_space sp;
  space_open(&sp, &SIMT, "h200", &p);
  const long at = th_space_find(&sp, "NT=128,BKV=16,TR=1,BPS=1");
  cr_assert_geq(at, 0, "NT=128,BKV=16,TR=1,BPS=1 is in the space");
  const int64_t *cfg = sp.cfg + (size_t)at * sp.np;
  struct gen_bind bind = {.dev = sp.dev, .dims = sp.dims, .dtype = p.dtype};
  char *src = NULL;
  cr_assert_eq(gen_emit_tu(sp.t, CC_CUDA, sp.s, &bind, &cfg, 1, &src), AT_OK, "%s",
               at_last_error());
  cr_assert(strstr(src, "__global__ void AT_LAUNCH_BOUNDS_MIN_(128, 1) at_attn_decode_"), "%s",
            src + strlen(src) - 400);
  /* the same TU with the second argument defined away: __launch_bounds__(128) alone */
  static const char off[] = "#define AT_LAUNCH_BOUNDS_MIN_(t, m) __launch_bounds__(t)\n";
  char *plain = malloc(sizeof off + strlen(src));
  cr_assert_not_null(plain);
  snprintf(plain, sizeof off + strlen(src), "%s%s", off, src);
  struct cc_result r[2];
  const char *const srcs[2] = {src, plain};
  for (int k = 0; k < 2; k++) {
    const struct cc_request req = {.source = srcs[k], .name = "decode.cu", .arch = "sm_90",
                                   .include_dirs = incs};
    cr_assert_eq(cc_nvrtc.compile(&req, &r[k]), AT_OK, "%s", at_last_error());
    cr_assert_eq(r[k].nkernels, 1);
  }
  const struct cc_kernel_res *with = &r[0].kernels[0], *without = &r[1].kernels[0];
  cr_log_info("attn_decode NT=128,BKV=16,TR=1 sm_90: min_blocks 1: %d registers, %lld bytes "
              "spilled; __launch_bounds__(128) alone: %d registers, %lld bytes spilled",
              with->registers, (long long)with->spill_bytes, without->registers,
              (long long)without->spill_bytes);
  cr_assert_eq(with->spill_bytes, 0, "%s", r[0].log ? r[0].log : "");
  cr_assert_eq(with->max_threads, 128);
  cr_assert_neq(with->registers, without->registers, "the second argument changed nothing");
  for (int k = 0; k < 2; k++)
    cc_result_release(&r[k]);
  free(plain);
  free(src);
  th_space_close(&sp);
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
  run_problem(&SIMT, &ci[0], "host", "host", 0, NULL);
}

Test(attn_decode, host_sample_mha_causal, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&SIMT, &ci[1], "host", "host", 0, NULL);
}

Test(attn_decode, host_sample_gqa4_paged, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&SIMT, &ci[2], "host", "host", 0, NULL);
}

/* The tuner's own path with a split variant among the sample (the workspace path, every
 * run above takes it too): 3 queries of 8 heads over 2 KV heads, paged, LSE. */
Test(attn_decode, host_runner_agrees, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  const struct dproblem dp = {"bf16", 2, 8, 2, 3, 300, 64, 1, 1, 1};
  size_t split = 0;
  run_problem(&SIMT, &dp, "host", "host", 0, &split);
  cr_assert_gt(split, 0, "the sample has a split variant (the workspace path)");
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
  /* the tuned header declares the winner with its min_blocks (CUDA's second argument) */
  char *hdr = th_path(dir, "tuned.h");
  th_run(&r, "emit-header attention --device host --db '%s' --out '%s'", db, hdr);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *text = th_read(hdr, NULL);
  cr_assert_not_null(text);
  cr_assert(strstr(text, "#define AT_TUNED_KERNEL_MIN_(threads, m) static __global__ void "
                         "__launch_bounds__(threads, m)"), "%s", text);
  cr_assert(strstr(text, ", 1) at_tuned_attention_v0_("), "%s", text);
  free(text);
  free(hdr);
  free(db);
  th_rmtree(dir);
  free(dir);
}

/* Waves of 64: the variant compiled as for gfx942 (AT_WAVE_SIZE 64), on MI300X's space. */
Test(attn_decode, host_sample_wave64, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  const struct dproblem p = {"bf16", 1, 8, 2, 1, 300, 64, 1, 1, 1};
  run_problem(&SIMT, &p, "mi300x", "host:gfx942", 0, NULL);
}

/* The full sweep (bench/attn_decode_sweep.sh): every valid config of every combination
 * of the issue's problems, on the host and as gfx942 (attn_decode_mma with
 * AT_DECODE_TEMPLATE=attn_decode_mma: f16 and bf16, on the host's space and h100's, whose
 * 132 SMs split the keys more). Skipped unless asked for. */
Test(attn_decode, full_sweep, .timeout = TIMEOUT)
{
  const char *want = getenv("AT_DECODE_SWEEP");
  if (!want || (strcmp(want, "full") != 0 && strcmp(want, "all") != 0))
    cr_skip_test("the full sweep runs with AT_DECODE_SWEEP=full or all "
                 "(bench/attn_decode_sweep.sh)");
  const int all = strcmp(want, "all") == 0; /* every valid config, not a sample */
  const char *smx = getenv("AT_DECODE_SMX"); /* 0 or 1: that softmax's configs only */
  only_smx = smx && *smx ? strtoll(smx, NULL, 10) : -1;
  const char *which = getenv("AT_DECODE_TEMPLATE");
  const struct dtemplate *tp = !which || !*which            ? &SIMT
                               : strcmp(which, MMA.name) == 0  ? &MMA
                               : strcmp(which, MFMA.name) == 0 ? &MFMA
                                                               : NULL;
  cr_assert_not_null(tp, "AT_DECODE_TEMPLATE=%s: expected attn_decode, %s or %s", which,
                     MMA.name, MFMA.name);
  th_need_cc(&cc_host);
  static const int64_t sqs[] = {1, 7}, sks[] = {300, 4099}, groups[] = {1, 4, 8}, ds[] = {64, 128};
  size_t problems = 0, runs = 0;
  for (size_t a = 0; a < 2; a++)
    for (size_t s = 0; s < 2; s++)
      for (size_t gi = 0; gi < 3; gi++)
        for (size_t di = 0; di < 2; di++)
          for (int paged = 0; paged < 2; paged++)
            for (int causal = 0; causal < 2; causal++) {
              /* causal is bit 0 of `problems`, paged bit 1, the head dim bit 2: the LSE,
               * the dtype (with the matrix templates' device) and the waves of 64 each
               * take a different mix of them, so that none of them goes with one mask */
              static const char *const dts[] = {"f16", "bf16", "f32"};
              const size_t alt = (problems ^ problems >> 2) & 1; /* causal xor D */
              const char *dt = tp != &SIMT ? dts[alt] : dts[problems % 3];
              const int lse = (int)((problems ^ problems >> 1) & 1); /* causal xor paged */
              const struct dproblem p = {dt, 1, 8, 8 / groups[gi], sqs[a],
                                         sks[s], ds[di], causal, paged, lse};
              const int wave64 = problems % 4 == (problems / 4) % 4;
              if (tp == &MMA)
                runs += run_problem(tp, &p, alt ? "h100" : "host", "host", all, NULL);
              else if (tp == &MFMA) /* f16 as gfx942, bf16 as gfx90a */
                runs += run_problem(tp, &p, alt ? "mi250x" : "mi300x",
                                    alt ? "host:gfx90a" : "host:gfx942", all, NULL);
              else
                runs += run_problem(tp, &p, wave64 ? "mi300x" : "host",
                                    wave64 ? "host:gfx942" : "host", all, NULL);
              problems++;
            }
  cr_log_info("%s full sweep: %zu problems, %zu variant runs, all right", tp->name, problems,
              runs);
}

/* ---- attn_decode_mma: the GQA group's rows on mma.sync ---------------------------------- */

Test(attn_decode_mma, space_and_refusals, .timeout = TIMEOUT)
{
  /* Llama-style decode (32 / 8 heads, one query: 4 rows, one slice of 16) and speculative
   * decoding's 16 queries over a group of 8 (128 rows: 8 slices) */
  static const struct dproblem llama = {"bf16", 1, 32, 8, 1, 32768, 128, 1, 0, 0};
  static const struct dproblem spec = {"bf16", 1, 32, 4, 16, 4096, 128, 1, 1, 0};
  static const char *const devs[] = {"h200", "a100", "host"};
  for (size_t dv = 0; dv < 3; dv++) {
    struct th_space sp;
    space_open(&sp, &MMA, devs[dv], &llama);
    cr_log_info("attn_decode_mma %s: %zu valid configs (R 4)", devs[dv], sp.n);
    cr_assert_geq(sp.n, 10, "%s: %zu configs", devs[dv], sp.n);
    const struct dev_profile *dev = dev_find(devs[dv]);
    for (size_t i = 0; i < sp.n; i++) {
      const int64_t ns = th_space_get(&sp, i, "NS"), bkv = th_space_get(&sp, i, "BKV");
      cr_assert_eq(th_space_get(&sp, i, "R"), 4, "the GQA group of 4 heads x 1 query");
      cr_assert_eq(th_space_get(&sp, i, "RP"), 16, "one slice");
      cr_assert_eq(th_space_get(&sp, i, "MS"), 1, "no second, empty slice");
      cr_assert_eq(bkv % (16 * th_space_get(&sp, i, "WK")), 0, "whole 16-key steps a warp");
      cr_assert_leq(ns, (32768 + bkv - 1) / bkv);
      if (dev->compute_units > 0) /* enough blocks: at least BPS per SM where keys allow */
        cr_assert_geq(ns * 8, th_space_get(&sp, i, "BPS") * dev->compute_units);
    }
    th_space_close(&sp);
    if (dev->vendor == DEV_HOST) /* 128 rows' merge, 64 KiB and (m, l): over its 64 KiB */
      continue;
    space_open(&sp, &MMA, devs[dv], &spec);
    cr_assert_gt(sp.n, 0, "%s", devs[dv]);
    for (size_t i = 0; i < sp.n; i++) {
      cr_assert_eq(th_space_get(&sp, i, "R"), 128);
      cr_assert_eq(th_space_get(&sp, i, "RP"), 128, "8 whole slices");
      cr_assert_eq(th_space_get(&sp, i, "WR") * th_space_get(&sp, i, "MS"), 8);
    }
    th_space_close(&sp);
  }
  /* AMD has no mma.sync; SQ > 16, a group over 16 and head dim 256 are refused, each by
   * its named requirement */
  static const struct {
    struct dproblem p;
    const char *dev, *req;
  } refused[] = {
      {{"bf16", 1, 32, 8, 1, 4096, 128, 1, 0, 0}, "mi300x", "nvidia"},
      {{"f16", 1, 8, 8, 17, 4096, 64, 1, 0, 0}, "h200", "decode_rows"},
      {{"f16", 1, 32, 1, 1, 4096, 64, 1, 0, 0}, "h200", "gqa_group"},
      {{"f16", 1, 32, 8, 1, 4096, 256, 1, 0, 0}, "h200", "head_dim"},
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    assert_refused(&MMA, refused[i].dev, &refused[i].p, refused[i].req);
}

Test(attn_decode_mma, compiles_for_sm80, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  compile_sample(&MMA, "a100", "nvrtc", "bf16", 4);
}

Test(attn_decode_mma, compiles_for_sm90, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  compile_sample(&MMA, "h200", "nvrtc", "f16", 32);
}

/* MINB offers both launch bounds for every config: 0 the thread count alone (ptxas sets
 * its own register target from it), 1 one block an SM (the cap is the register file over
 * the threads). The config is one NVRTC 13.0 compiled at 168 registers with 4 bytes of
 * spill stores without a minimum (the decode bundles' batch-16 problem), 204 and none
 * with it: both reach ptxas. */
Test(attn_decode_mma, min_blocks_is_a_param_both_ways_reach_ptxas, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  const struct dproblem p = {"bf16", 16, 32, 8, 1, 4096, 128, 1, 0, 0};
  struct th_space sp;
  space_open(&sp, &MMA, "h200", &p);
  const char *sel[2] = {"MS=1,WK=2,BKV=32,STAGES=2,SWZ=1,BPS=1,MINB=0",
                        "MS=1,WK=2,BKV=32,STAGES=2,SWZ=1,BPS=1,MINB=1"};
  const int64_t *cfg[2];
  for (int k = 0; k < 2; k++) {
    const long at = th_space_find(&sp, sel[k]);
    cr_assert_geq(at, 0, "%s is in the space", sel[k]);
    cfg[k] = sp.cfg + (size_t)at * sp.np;
  }
  struct gen_bind bind = {.dev = sp.dev, .dims = sp.dims, .dtype = p.dtype};
  struct cc_result r[2];
  for (int k = 0; k < 2; k++) {
    char *src = NULL;
    cr_assert_eq(gen_emit_tu(sp.t, CC_CUDA, sp.s, &bind, &cfg[k], 1, &src), AT_OK, "%s",
                 at_last_error());
    cr_assert(strstr(src, k ? "__global__ void AT_LAUNCH_BOUNDS_MIN_(64, 1) at_attn_decode_mma_"
                            : "__global__ void __launch_bounds__(64) at_attn_decode_mma_"),
              "%s", src + strlen(src) - 400);
    const struct cc_request req = {.source = src, .name = "decode.cu", .arch = "sm_90",
                                   .include_dirs = incs};
    cr_assert_eq(cc_nvrtc.compile(&req, &r[k]), AT_OK, "%s", at_last_error());
    cr_assert_eq(r[k].nkernels, 1);
    free(src);
  }
  const struct cc_kernel_res *none = &r[0].kernels[0], *one = &r[1].kernels[0];
  cr_log_info("attn_decode_mma %s sm_90: no minimum: %d registers, %lld bytes spilled; "
              "min_blocks 1: %d registers, %lld bytes spilled", sel[0], none->registers,
              (long long)none->spill_bytes, one->registers, (long long)one->spill_bytes);
  cr_assert_eq(one->spill_bytes, 0, "%s", r[1].log ? r[1].log : "");
  cr_assert_neq(none->registers, one->registers, "the second argument changed nothing");
  for (int k = 0; k < 2; k++)
    cc_result_release(&r[k]);
  th_space_close(&sp);
}

/* The CI sample: every parameter value on each (h100's space: its 132 SMs split the keys
 * of a small batch; the host's, few splits). */
static const struct dproblem ci_mma[] = {
    /* dtype  b  h  hkv sq   sk    d causal paged lse */
    {"f16", 1, 8, 1, 1, 4099, 128, 1, 1, 1},   /* 8:1, one query (8 rows), long, paged */
    {"bf16", 2, 16, 2, 7, 300, 64, 1, 0, 1},   /* 8:1, 7 queries: 56 rows, 4 slices */
    {"bf16", 1, 32, 2, 16, 300, 128, 0, 1, 0}, /* 16:1, 16 queries: 256 rows, 16 warps */
};

Test(attn_decode_mma, host_sample_one_query_paged, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  size_t split = 0;
  run_problem(&MMA, &ci_mma[0], "h100", "host", 0, &split);
  cr_assert_gt(split, 0, "the sample has a split variant (the workspace path)");
}

Test(attn_decode_mma, host_sample_seven_queries_causal, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&MMA, &ci_mma[1], "host", "host", 0, NULL);
}

Test(attn_decode_mma, host_sample_sixteen_queries, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&MMA, &ci_mma[2], "h100", "host", 0, NULL);
}

/* ---- attn_decode_mfma: the GQA group's rows on CDNA matrix cores ------------------------ */

Test(attn_decode_mfma, space_and_refusals, .timeout = TIMEOUT)
{
  /* Llama-style decode (32 / 8 heads, one query: 4 rows, one 16-column block) and
   * speculative decoding's 16 queries over a group of 8 (128 rows) */
  static const struct dproblem llama = {"bf16", 1, 32, 8, 1, 32768, 128, 1, 0, 0};
  static const struct dproblem spec = {"bf16", 1, 32, 4, 16, 4096, 128, 1, 1, 0};
  static const char *const devs[] = {"mi300x", "mi250x"};
  for (size_t dv = 0; dv < 2; dv++) {
    struct th_space sp;
    space_open(&sp, &MFMA, devs[dv], &llama);
    cr_log_info("attn_decode_mfma %s: %zu valid configs (R 4)", devs[dv], sp.n);
    cr_assert_geq(sp.n, 10, "%s: %zu configs", devs[dv], sp.n);
    const struct dev_profile *dev = dev_find(devs[dv]);
    for (size_t i = 0; i < sp.n; i++) {
      const int64_t ns = th_space_get(&sp, i, "NS"), bkv = th_space_get(&sp, i, "BKV");
      cr_assert_eq(th_space_get(&sp, i, "R"), 4, "the GQA group of 4 heads x 1 query");
      cr_assert_eq(th_space_get(&sp, i, "MI"), 16, "no 32-column block for 4 rows");
      cr_assert_eq(th_space_get(&sp, i, "RP"), 16, "one block of 16 columns");
      cr_assert_eq(th_space_get(&sp, i, "QT"), 1, "no second, empty block");
      cr_assert_eq(bkv % (16 * th_space_get(&sp, i, "WK")), 0, "whole key blocks a wave");
      cr_assert_leq(ns, (32768 + bkv - 1) / bkv);
      /* enough blocks: at least BPS per CU where keys allow (else a split a tile) */
      cr_assert(ns * 8 >= th_space_get(&sp, i, "BPS") * dev->compute_units ||
                ns == (32768 + bkv - 1) / bkv, "NS %lld", (long long)ns);
    }
    th_space_close(&sp);
    space_open(&sp, &MFMA, devs[dv], &spec);
    cr_log_info("attn_decode_mfma %s: %zu valid configs (R 128)", devs[dv], sp.n);
    cr_assert_gt(sp.n, 0, "%s", devs[dv]);
    size_t wide = 0;
    for (size_t i = 0; i < sp.n; i++) {
      cr_assert_eq(th_space_get(&sp, i, "R"), 128);
      cr_assert_eq(th_space_get(&sp, i, "RP"), 128, "whole blocks, no padding");
      wide += th_space_get(&sp, i, "MI") == 32;
    }
    cr_assert_gt(wide, 0, "32-column blocks for 128 rows");
    th_space_close(&sp);
  }
  /* NVIDIA has no MFMA; SQ > 16 and a group over 16 are refused, each by its named
   * requirement */
  static const struct {
    struct dproblem p;
    const char *dev, *req;
  } refused[] = {
      {{"bf16", 1, 32, 8, 1, 4096, 128, 1, 0, 0}, "h200", "cdna"},
      {{"f16", 1, 8, 8, 17, 4096, 64, 1, 0, 0}, "mi300x", "decode_rows"},
      {{"f16", 1, 32, 1, 1, 4096, 64, 1, 0, 0}, "mi300x", "gqa_group"},
  };
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    assert_refused(&MFMA, refused[i].dev, &refused[i].p, refused[i].req);
}

Test(attn_decode_mfma, compiles_for_gfx942, .timeout = TIMEOUT)
{
  th_need_cc(&cc_clang_hip);
  compile_sample(&MFMA, "mi300x", "clang-hip", "f16", 32);
}

Test(attn_decode_mfma, compiles_for_gfx90a, .timeout = TIMEOUT)
{
  th_need_cc(&cc_clang_hip);
  compile_sample(&MFMA, "mi250x", "clang-hip", "bf16", 4);
}

/* Issue 14's budget for MI300X, two waves a SIMD (8 a CU), is within the space: Llama
 * decode (32 / 8 heads, one query: 4 rows; 32k keys, D 128) with 16-key
 * tiles, one LDS buffer of swizzled rows (8 KiB: 8 blocks a CU) and one wave a block,
 * compiled for gfx942 (clang: its VGPRs and AGPRs, the occupancy from them and the LDS). */
Test(attn_decode_mfma, two_waves_a_simd_on_gfx942, .timeout = TIMEOUT)
{
  th_need_cc(&cc_clang_hip);
  const struct dproblem p = {"bf16", 1, 32, 8, 1, 32768, 128, 1, 0, 0};
  struct th_space sp;
  space_open(&sp, &MFMA, "mi300x", &p);
  const long at = th_space_find(&sp, "BKV=16,LDS_LAYOUT=2,STAGES=1,BPS=1");
  cr_assert_geq(at, 0, "BKV=16,LDS_LAYOUT=2,STAGES=1,BPS=1 is in the space");
  struct bld_options o = {.batch = 1, .backend = "clang-hip", .cache_dir = th_cache_dir(),
                          .include_dirs = incs};
  struct bld_result r;
  const int64_t *cfg = sp.cfg + (size_t)at * sp.np;
  cr_assert_eq(bld_run(sp.t, sp.s, dev_find("mi300x"), sp.dims, p.dtype, cfg, 1, &o, &r), AT_OK,
               "%s", at_last_error());
  const struct bld_variant *v = &r.variants[0];
  cr_log_info("attn_decode_mfma gfx942 %s: %d VGPRs, %d AGPRs, %lld B LDS, %d waves a CU",
              v->config_text, v->res.registers, v->res.agprs,
              (long long)(v->res.shared_bytes + v->launch.shared), v->occ.warps_per_cu);
  cr_assert_eq(v->verdict, BLD_OK, "%s: %s", v->config_text, v->reason);
  cr_assert_geq(v->occ.warps_per_cu, 8, "%s: %d waves a CU (< 2 a SIMD)", v->config_text,
                v->occ.warps_per_cu);
  bld_result_release(&r);
  th_space_close(&sp);
}

/* The CI sample: every parameter value on each, as gfx942 (f16) and gfx90a (bf16). MI300X's
 * 304 CUs split the keys of one (batch, KV head) pair up to a split a tile; more pairs give
 * splits of several tiles (the ring's refill, O's rescale), and 320 pairs none (O written
 * directly). */
static const struct dproblem ci_mfma[] = {
    /* dtype  b  h  hkv sq   sk    d causal paged lse */
    {"f16", 1, 8, 1, 1, 4099, 128, 1, 1, 1},  /* 8:1, one query (8 rows), long, paged */
    {"bf16", 2, 16, 2, 7, 1000, 64, 1, 0, 1}, /* 8:1, 7 queries: 56 rows, tiles a split */
    {"f16", 1, 32, 2, 16, 300, 128, 0, 1, 0}, /* 16:1, 16 queries: 256 rows */
    {"bf16", 8, 8, 2, 4, 300, 256, 1, 0, 1},  /* 4:1, 4 queries at head dim 256 */
    {"f16", 40, 8, 8, 1, 40, 64, 1, 1, 1},    /* 320 pairs, 40 keys: one split */
};

Test(attn_decode_mfma, host_gfx942_one_query_paged, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  size_t split = 0;
  run_problem(&MFMA, &ci_mfma[0], "mi300x", "host:gfx942", 0, &split);
  cr_assert_gt(split, 0, "the sample has a split variant (the workspace path)");
}

Test(attn_decode_mfma, host_gfx90a_seven_queries_causal, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&MFMA, &ci_mfma[1], "mi250x", "host:gfx90a", 0, NULL);
}

Test(attn_decode_mfma, host_gfx942_sixteen_queries, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&MFMA, &ci_mfma[2], "mi300x", "host:gfx942", 0, NULL);
}

Test(attn_decode_mfma, host_gfx90a_head_dim_256, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  run_problem(&MFMA, &ci_mfma[3], "mi250x", "host:gfx90a", 0, NULL);
}

Test(attn_decode_mfma, host_gfx942_one_split, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  size_t split = 0;
  const size_t n = run_problem(&MFMA, &ci_mfma[4], "mi300x", "host:gfx942", 0, &split);
  cr_assert_lt(split, n, "the sample has a variant of one split (O written directly)");
}
