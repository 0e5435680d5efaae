/*
 * test_attn_mfma.c - the CDNA matrix-core attention template
 * (templates/attention/attn_mfma.h): its space on mi300x and mi250x (every param value
 * offered, the XCD order only on gfx942, packed GQA only where heads share a KV head);
 * the configs marked good in docs/attention.md (both MFMA families) compiled with clang
 * for gfx942 and gfx90a (no compile error, v_mfma of the family in the code object;
 * VGPRs, AGPRs, LDS and waves per CU reported; two waves per SIMD or more); and a sample
 * covering every value of every param run on the host device emulating gfx942 and gfx90a
 * (the variant's own source, MFMA lanes emulated exactly) over the problems of issue 14's
 * correctness list (two of the sample on those of 300 keys or more), each result checked
 * by the op (attn_verify); the sample's configs alternate P as one rounded 16-bit value
 * (PSPLIT=1) and as hi + lo halves (PSPLIT=2), so every group runs both, the first of
 * each chunk (the one the long problems run) PSPLIT=1. AT_ATTN_MFMA_FULL=1 in
 * the environment runs every valid variant instead of the sample (the full sweep of
 * bench/attn_mfma_sweep.sh, far too long for CI; AT_ATTN_MFMA_PSPLIT=1 and
 * AT_ATTN_MFMA_EVERY=N narrow it to one PSPLIT and every N-th config);
 * AT_ATTN_MFMA_TEMPLATE=PATH tests a copy
 * of the template instead (how the planted bugs of docs/attention.md were run).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/device.h"
#include "base/os.h"
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

/* One timeout for every test (Criterion 2.4.1 leaks a timer when tests with different
 * timeouts run in parallel: see test_install.c). */
#define TIMEOUT 36000

#define TEMPLATE AT_SOURCE_DIR "/templates/attention/attn_mfma.h"
#define COMMON AT_SOURCE_DIR "/templates/common"
#define NDIMS 8 /* B, H, HKV, SQ, SK, D, CAUSAL, PAGED */

static const char *const incs[] = {COMMON, NULL};
static const char *const params[] = {"MI",         "WAVES",    "BQ",   "BKV",  "STAGES",
                                     "VEC_BYTES", "LDS_LAYOUT", "PACK_GQA", "XCDS",
                                     "PSPLIT"};
#define NPARAMS (sizeof params / sizeof params[0])

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool full_sweep(void)
{
  const char *e = getenv("AT_ATTN_MFMA_FULL");
  return e && strcmp(e, "1") == 0;
}

static void space_open(struct th_space *sp, const char *dev, int64_t b, int64_t h, int64_t hkv,
                       int64_t sq, int64_t sk, int64_t d, int causal, int paged)
{
  const int64_t dims[NDIMS] = {b, h, hkv, sq, sk, d, causal, paged};
  /* AT_ATTN_MFMA_TEMPLATE: a copy of the template to test instead (a planted bug) */
  const char *path = getenv("AT_ATTN_MFMA_TEMPLATE");
  th_space_open(sp, path && *path ? path : TEMPLATE, dev, dims, NDIMS);
}

/* The sample: for each value of each param, a config that has it, preferring one not
 * yet taken that also brings a value of the next param not yet covered (so ~20 configs
 * cover every value). OUT: which[] (indices into sp); returns how many. */
static size_t sample(const struct th_space *sp, size_t *which, size_t cap)
{
  size_t n = 0;
  for (size_t p = 0; p < NPARAMS; p++) {
    int64_t vals[16];
    size_t nv = th_space_values(sp, params[p], vals, 16);
    for (size_t k = 0; k < nv; k++) {
      bool have = false;
      for (size_t q = 0; q < n && !have; q++)
        have = th_space_get(sp, which[q], params[p]) == vals[k];
      if (have)
        continue;
      /* spread over the space: the config in the middle of those with the value */
      size_t cnt = 0, pick = 0, seen = 0;
      for (size_t i = 0; i < sp->n; i++)
        cnt += th_space_get(sp, i, params[p]) == vals[k];
      for (size_t i = 0; i < sp->n; i++)
        if (th_space_get(sp, i, params[p]) == vals[k] && seen++ == cnt / 2) {
          pick = i;
          break;
        }
      if (n < cap)
        which[n++] = pick;
    }
  }
  return n;
}

/* The twin of config i with PSPLIT = v: the config with every other param the same (the
 * derived values do not depend on PSPLIT); i itself when it has v. */
static size_t psplit_twin(const struct th_space *sp, size_t i, int64_t v)
{
  const int pi = gen_space_param_index(sp->s, "PSPLIT");
  cr_assert_geq(pi, 0);
  if (sp->cfg[i * sp->np + (size_t)pi] == v)
    return i;
  for (size_t j = 0; j < sp->n; j++) {
    bool same = sp->cfg[j * sp->np + (size_t)pi] == v;
    for (size_t c = 0; c < sp->np && same; c++)
      same = c == (size_t)pi || sp->cfg[j * sp->np + c] == sp->cfg[i * sp->np + c];
    if (same)
      return j;
  }
  cr_assert_fail("config %zu has no PSPLIT=%lld twin", i, (long long)v);
  return i;
}

/* ---- the space ------------------------------------------------------------------------ */

Test(attn_mfma, space_on_mi300x_and_mi250x, .timeout = TIMEOUT)
{
  static const char *const devs[] = {"mi300x", "mi250x"};
  for (size_t dv = 0; dv < 2; dv++)
    for (int64_t d = 64; d <= 128; d += 64) {
      struct th_space sp;
      space_open(&sp, devs[dv], 2, 32, 8, 4096, 4096, d, 1, 0);
      cr_log_info("attn_mfma %s D=%lld GQA 32/8 causal 4096: %zu valid configs", devs[dv],
                  (long long)d, sp.n);
      cr_assert_geq(sp.n, 40, "%s D=%lld: %zu configs", devs[dv], (long long)d, sp.n);
      for (size_t p = 0; p < NPARAMS; p++) {
        int64_t vals[16];
        size_t nv = th_space_values(&sp, params[p], vals, 16);
        /* VEC_BYTES 8 only where 16-byte vectors do not divide a row; XCDS 8 only on
         * gfx942 */
        size_t want = !strcmp(params[p], "VEC_BYTES") ? 1
                      : !strcmp(params[p], "XCDS")    ? (dv == 0 ? 2 : 1)
                      : !strcmp(params[p], "BQ")      ? 3
                      : !strcmp(params[p], "BKV")     ? 3
                                                      : 2;
        cr_assert_eq(nv, want, "%s D=%lld: %zu values of %s", devs[dv], (long long)d, nv,
                     params[p]);
      }
      for (size_t i = 0; i < sp.n; i++) {
        cr_assert_eq(th_space_get(&sp, i, "HD"), d);
        cr_assert_eq(th_space_get(&sp, i, "THREADS") % 64, 0);
        int64_t lds = th_space_get(&sp, i, "STAGES") * 2 * th_space_get(&sp, i, "BKV") *
                      th_space_get(&sp, i, "ROW_BYTES");
        cr_assert_leq(lds, 65536);
      }
      th_space_close(&sp);
    }
  /* MHA: no packed heads; an odd head dim: 8-byte vectors and padded LDS rows only */
  struct th_space sp;
  space_open(&sp, "mi300x", 1, 8, 8, 512, 512, 72, 0, 0);
  cr_assert_gt(sp.n, 10);
  int64_t vals[16];
  cr_assert_eq(th_space_values(&sp, "PACK_GQA", vals, 16), 1);
  cr_assert_eq(vals[0], 0);
  for (size_t i = 0; i < sp.n; i++) {
    cr_assert_eq(th_space_get(&sp, i, "DP") % th_space_get(&sp, i, "MI"), 0);
    cr_assert_geq(th_space_get(&sp, i, "DP"), 72);
  }
  th_space_close(&sp);
  /* D = 256 fits (16x16x16, one query block a wave) */
  space_open(&sp, "mi300x", 1, 8, 8, 512, 512, 256, 0, 0);
  cr_assert_gt(sp.n, 0);
  th_space_close(&sp);
  /* not for NVIDIA or the plain host */
  space_open(&sp, "h100", 1, 8, 8, 512, 512, 128, 0, 0);
  cr_assert_eq(sp.n, 0);
  th_space_close(&sp);
}

/* ---- compiling for the GPUs ------------------------------------------------------------ */

/* The v_mfma mnemonics of a code object, '_' dropped ("vmfmaf3216x16x16f16\n..."); NULL
 * without an objdump. */
static char *mfma_mnemonics(const struct bld_batch *b)
{
  return th_amd_disasm(b->code, b->code_size, "grep -oE 'v_mfma[a-z0-9_]*' | sed 's/_//g' | sort -u");
}

/* The v_mfma instructions in kernel `name`'s code in a code object; -1 without an
 * objdump. */
static int mfma_count(const struct bld_batch *b, const char *name)
{
  char filter[512];
  snprintf(filter, sizeof filter, "awk '/^[0-9a-f]+ <.*>:$/ { in_k = index($0, \"<%s>:\") > 0 } "
           "in_k && /v_mfma/ { n++ } END { print n + 0 }'", name);
  char *out = th_amd_disasm(b->code, b->code_size, filter);
  if (!out)
    return -1;
  int n = atoi(out);
  free(out);
  return n;
}

/* The configs docs/attention.md marks good at D = 128 on both GPUs (from the resources of
 * the full compile sweep, bench/results/2026-12-03-attn-mfma.md): 4 waves of 16 or 32 query
 * rows a wave with 32-key tiles, or 8 waves; each must keep at least two waves per SIMD (8 a
 * CU: VGPRs + AGPRs <= 256 and the LDS of two blocks, or of one 8-wave block), with P as
 * one 16-bit value and as two halves (PSPLIT 1 and 2) on gfx942. */
static const struct {
  const char *sel;
  unsigned gfx90a; /* the PSPLITs (bit PSPLIT - 1) it is good with on gfx90a too (its bf16
                      conversions cost registers: MI 32 with 4 waves fits with one P only) */
} good[] = {
    {"MI=16,WAVES=4,BQ=64,BKV=32,STAGES=1,LDS_LAYOUT=1", 3},
    {"MI=16,WAVES=4,BQ=64,BKV=32,STAGES=2,LDS_LAYOUT=2", 3},
    {"MI=32,WAVES=4,BQ=128,BKV=32,STAGES=1,LDS_LAYOUT=1", 1},
    {"MI=16,WAVES=8,BQ=128,BKV=64,STAGES=1,LDS_LAYOUT=1", 3},
    {"MI=32,WAVES=8,BQ=256,BKV=32,STAGES=2,LDS_LAYOUT=1", 3},
};
#define NGOOD (sizeof good / sizeof good[0])
/* each good config is compiled with P as one 16-bit value and as two halves */
static const int64_t psplits[] = {1, 2};

/* Does config i have every "NAME=VALUE" of sel? */
static bool matches(const struct th_space *sp, size_t i, const char *sel)
{
  char buf[256];
  snprintf(buf, sizeof buf, "%s", sel);
  for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    cr_assert_not_null(eq, "bad selector %s", sel);
    *eq = '\0';
    if (th_space_get(sp, i, kv) != strtoll(eq + 1, NULL, 10))
      return false;
  }
  return true;
}

/* Compile the sample (and the good configs) of the D = 128 causal GQA 32/8 space of dev
 * for dtype with clang; no compile error; resources reported; good ones at >= 2 waves a
 * SIMD; the code objects hold the MFMA of their family (want16, want32). */
static void compile_sample(const char *dev, const char *dtype, const char *want16,
                           const char *want32)
{
  th_need_cc(&cc_clang_hip);
  struct th_space sp;
  space_open(&sp, dev, 2, 32, 8, 4096, 4096, 128, 1, 0);
  const bool gfx942 = strcmp(sp.dev->arch, "gfx942") == 0;
  size_t *which = malloc((sp.n + 2 * NGOOD + 32) * sizeof *which);
  cr_assert_not_null(which);
  size_t n = 0; /* CI: the good configs (both MFMA families); the sweep: all */
  if (full_sweep())
    for (size_t i = 0; i < sp.n; i++)
      which[n++] = i;
  for (size_t g = 0; g < NGOOD; g++)
    for (size_t ps = 0; ps < 2; ps++) {
      size_t i = 0;
      while (i < sp.n && !(matches(&sp, i, good[g].sel) &&
                           th_space_get(&sp, i, "PSPLIT") == psplits[ps]))
        i++;
      cr_assert_lt(i, sp.n, "%s: no valid config %s,PSPLIT=%lld", dev, good[g].sel,
                   (long long)psplits[ps]);
      bool dup = false;
      for (size_t q = 0; q < n; q++)
        dup |= which[q] == i;
      if (!dup)
        which[n++] = i;
    }
  int64_t *cfg = malloc(n * sp.np * sizeof *cfg);
  cr_assert_not_null(cfg);
  for (size_t i = 0; i < n; i++)
    memcpy(cfg + i * sp.np, sp.cfg + which[i] * sp.np, sp.np * sizeof *cfg);
  struct bld_options o = {.batch = 8, .backend = "clang-hip",
                          .cache_dir = th_cache_dir(),
                          .include_dirs = incs};
  struct bld_result r;
  double t0 = now_s();
  cr_assert_eq(bld_run(sp.t, sp.s, sp.dev, sp.dims, dtype, cfg, n, &o, &r), AT_OK, "%s",
               at_last_error());
  cr_assert_eq(r.nvariants, n);
  int vmax = 0, amax = 0;
  int64_t lmax = 0;
  size_t ok = 0, spills = 0;
  bool seen16 = false, seen32 = false;
  int nmfma[2] = {0, 0}; /* v_mfma in the first good config's PSPLIT 1 and 2 kernels */
  for (size_t i = 0; i < r.nvariants; i++) {
    const struct bld_variant *v = &r.variants[i];
    cr_assert_neq(v->verdict, BLD_COMPILE_ERROR, "%s %s %s: %s\n%s", dev, dtype,
                  v->config_text, v->reason, v->log ? v->log : "");
    cr_assert_gt(v->res.registers, 0, "%s", v->config_text);
    ok += v->verdict == BLD_OK;
    spills += v->res.vgpr_spills > 0 || v->res.sgpr_spills > 0;
    vmax = v->res.registers > vmax ? v->res.registers : vmax;
    amax = v->res.agprs > amax ? v->res.agprs : amax;
    int64_t lds = v->res.shared_bytes + v->launch.shared;
    lmax = lds > lmax ? lds : lmax;
    bool is_good = false;
    for (size_t g = 0; g < NGOOD; g++)
      is_good |= matches(&sp, which[i], good[g].sel) &&
                 (gfx942 || (good[g].gfx90a >> (th_space_get(&sp, which[i], "PSPLIT") - 1) & 1));
    fprintf(stderr, "  %s %s %s%s: VGPR %d AGPR %d LDS %lld B, %d waves/CU%s\n", dev, dtype,
            v->config_text, is_good ? " (good)" : "", v->res.registers, v->res.agprs,
            (long long)lds, v->occ.warps_per_cu, v->verdict == BLD_OK ? "" : " (pruned)");
    if (is_good)
      cr_assert_geq(v->occ.warps_per_cu, 8, "%s %s good config %s: %d waves per CU (< 2 per "
                    "SIMD)", dev, dtype, v->config_text, v->occ.warps_per_cu);
    if (matches(&sp, which[i], good[0].sel)) {
      const int64_t ps = th_space_get(&sp, which[i], "PSPLIT");
      nmfma[ps - 1] = mfma_count(&r.batches[v->batch], v->name);
      fprintf(stderr, "  %s %s PSPLIT=%lld: %d v_mfma in %s\n", dev, dtype, (long long)ps,
              nmfma[ps - 1], v->name);
    }
    int64_t mi = th_space_get(&sp, which[i], "MI");
    if ((mi == 16 && !seen16) || (mi == 32 && !seen32)) {
      char *m = mfma_mnemonics(&r.batches[v->batch]);
      if (m) {
        cr_assert_not_null(strstr(m, mi == 16 ? want16 : want32), "%s %s: no %s in:\n%s", dev,
                           v->config_text, mi == 16 ? want16 : want32, m);
        free(m);
      }
      *(mi == 16 ? &seen16 : &seen32) = true;
    }
  }
  cr_assert(seen16 && seen32, "both MFMA families compiled");
  /* one P: one set of P V MFMAs fewer (MI 16, 32 keys, D 128: S^T 2 x 8 MFMAs, O^T
   * 2 x 8 a P half, so 32 against 48 where the loop body is the only copy) */
  if (nmfma[0] >= 0 && nmfma[1] >= 0)
    cr_assert(nmfma[0] > 0 && nmfma[0] < nmfma[1], "%s: %d v_mfma with one P, %d with two",
              dev, nmfma[0], nmfma[1]);
  fprintf(stderr, "attn_mfma %s (%s) %s D=128: %zu variants, %zu ok, 0 compile errors, %zu "
                  "spill; VGPR up to %d, AGPR up to %d, LDS up to %lld B; %.1f s\n",
          dev, r.arch, dtype, r.nvariants, ok, spills, vmax, amax, (long long)lmax,
          now_s() - t0);
  bld_result_release(&r);
  free(cfg);
  free(which);
  th_space_close(&sp);
}

Test(attn_mfma, sample_compiles_for_gfx942, .timeout = TIMEOUT)
{
  /* CDNA3 spells them v_mfma_f32_16x16x16_f16 */
  compile_sample("mi300x", "f16", "vmfmaf3216x16x16f16\n", "vmfmaf3232x32x8f16\n");
}

Test(attn_mfma, sample_compiles_for_gfx90a, .timeout = TIMEOUT)
{
  compile_sample("mi250x", "bf16", "vmfmaf3216x16x16bf161k\n", "vmfmaf3232x32x8bf161k\n");
}

/* ---- correctness on the host device, emulating gfx942 and gfx90a ---------------------- */

/* Issue 14's correctness list: odd lengths, SQ < SK and SQ > SK, causal and not, GQA 4:1
 * and 8:1, decode of 1 and 7 queries over 300 and 4,099 keys, paged and not, head dims 64
 * and 128, and 72 (padded to the MFMA block) and 256 once each. The head dim, the mask and
 * the paging are compiled in: a group shares them. */
struct problem {
  int64_t b, h, hkv, sq, sk;
  float scale; /* 0: 1 / sqrt(D); one negative (a row's max of raw scores is then a min) */
};
struct group {
  int64_t d;
  int causal, paged;
  const struct problem *p;
  size_t np;
};
#define P(...) ((const struct problem[]){__VA_ARGS__})
#define NP(...) (sizeof P(__VA_ARGS__) / sizeof(struct problem))
#define GROUP(d, c, pg, ...) {d, c, pg, P(__VA_ARGS__), NP(__VA_ARGS__)}

static const struct group groups[] = {
    GROUP(64, 0, 0, {1, 1, 1, 1, 1, 0}, {1, 8, 2, 33, 65, 0}, {2, 16, 2, 40, 7, 0.3f}),
    GROUP(64, 1, 0, {1, 4, 1, 65, 33, 0}, {1, 8, 2, 33, 97, -0.2f}, {1, 2, 2, 77, 77, 0}),
    GROUP(128, 1, 1, {1, 8, 1, 7, 300, 0}, {2, 4, 1, 1, 300, 0}),
    GROUP(128, 1, 0, {1, 1, 1, 1, 4099, 0}, {1, 1, 1, 7, 4099, 0}, {1, 8, 1, 7, 300, 0},
          {1, 2, 2, 50, 20, 0}),
    GROUP(128, 0, 1, {1, 4, 1, 33, 65, 0}, {1, 2, 2, 9, 40, -0.2f}),
    GROUP(72, 1, 0, {1, 4, 1, 17, 23, 0}),
    GROUP(256, 0, 0, {1, 2, 1, 9, 40, 0}),
};
#define NGROUPS (sizeof groups / sizeof groups[0])

/* Variants a compiled unit (one g++ run), so the full sweep's hundreds do not make one
 * huge translation unit; in CI, the configs a problem over hundreds of keys runs (the
 * emulator takes about 0.15 s a variant for 300 keys, 0.4 s for 4,099: 2026-12-05-
 * matrix-emulation.md). */
#define CHUNK 24
#define CI_HEAVY 6
/* Run variants kern[0..n) (configs cfg) on one problem of group gr. Returns the runs;
 * adds the wrong ones to *failures (each named on stderr). */
static size_t run_problem(struct th_hostk *hk, const struct th_space *sp, const struct group *gr,
                          const struct problem *pr, enum gemm_dtype dt, const char *dtype,
                          const char *arch, const int64_t *const *cfg, const meas_kernel *kern,
                          size_t n, uint64_t seed, size_t *failures)
{
  /* LSE on every other problem: both paths of the kernel */
  struct attn_problem p = {.dtype = dt, .batch = pr->b, .heads = pr->h, .hkv = pr->hkv,
                           .sq = pr->sq, .sk = pr->sk, .d = gr->d, .causal = gr->causal,
                           .paged = gr->paged, .lse = (int)(seed % 2), .scale = pr->scale};
  struct attn_data data;
  cr_assert_eq(attn_data_init(&data, &p, seed), AT_OK, "%s", at_last_error());
  struct attn_buffers buf;
  cr_assert_eq(attn_buffers_init(&meas_host, hk->ctx, &data, &buf), AT_OK, "%s",
               at_last_error());
  int64_t dims[NDIMS] = {pr->b, pr->h, pr->hkv, pr->sq, pr->sk, gr->d, gr->causal, gr->paged};
  struct gen_bind bind = {.dev = sp->dev, .dims = dims, .dtype = dtype};
  size_t runs = 0;
  double t0 = now_s();
  /* CI: a problem over hundreds of keys runs the chunk's first CI_HEAVY configs only */
  if (!full_sweep() && pr->sk >= 300 && n > CI_HEAVY)
    n = CI_HEAVY;
  for (size_t i = 0; i < n; i++) {
    struct gen_launch l;
    cr_assert_eq(gen_emit_launch(sp->t, &bind, cfg[i], &l), AT_OK, "%s", at_last_error());
    int64_t bad = 0;
    char msg[256] = "";
    int rc = attn_verify(&meas_host, hk->ctx, kern[i], &l, &data, &buf, &bad, msg,
                         sizeof msg);
    runs++;
    if (rc != AT_OK || bad != 0) {
      (*failures)++;
      char *text = NULL;
      gen_space_config_text(sp->s, cfg[i], &text);
      fprintf(stderr, "FAIL %s %s D=%lld causal=%d paged=%d b%lld h%lld hkv%lld sq%lld "
              "sk%lld lse=%d %s: %s, %lld wrong: %s\n", arch, dtype, (long long)gr->d, gr->causal,
              gr->paged, (long long)pr->b, (long long)pr->h, (long long)pr->hkv,
              (long long)pr->sq, (long long)pr->sk, p.lse, text ? text : "?", at_status_name(rc),
              (long long)bad, rc != AT_OK ? at_last_error() : msg);
      free(text);
    }
  }
  fprintf(stderr, "  %s %s D=%lld causal=%d paged=%d b%lld h%lld hkv%lld sq%lld sk%lld "
          "lse=%d: %zu variants, %.1f s\n", arch, dtype, (long long)gr->d, gr->causal,
          gr->paged, (long long)pr->b, (long long)pr->h, (long long)pr->hkv, (long long)pr->sq,
          (long long)pr->sk, p.lse, n, now_s() - t0);
  attn_buffers_release(&meas_host, hk->ctx, &buf);
  attn_data_release(&data);
  return runs;
}


/* Run the sample (or every valid variant: AT_ATTN_MFMA_FULL=1) of group gi's space on
 * dev, compiled for the host emulating it (arch "host:gfx942"), over the group's
 * problems in dtype. Returns the runs; adds the wrong ones to *failures. */
static size_t run_group(const char *dev, const char *arch, const char *dtype, size_t gi,
                        size_t *failures)
{
  const struct group *gr = &groups[gi];
  struct th_space sp;
  /* the space of a large GQA problem with the group's compiled-in dims, where every
   * value of every param is valid; its configs run on each of the group's problems (the
   * kernel takes any problem: the size constraints only prune the space) */
  space_open(&sp, dev, 2, 32, 8, 4096, 4096, gr->d, gr->causal, gr->paged);
  cr_assert_gt(sp.n, 0, "%s D=%lld: no valid config", dev, (long long)gr->d);
  size_t *which = malloc((sp.n + 32) * sizeof *which), n = 0;
  cr_assert_not_null(which);
  if (full_sweep()) {
    /* AT_ATTN_MFMA_PSPLIT=1: only the configs with that PSPLIT; AT_ATTN_MFMA_EVERY=N:
     * every N-th of those (a bigger sample than CI's). N odd: the space lists PSPLIT,
     * XCDS and PACK_GQA fastest, so an even N keeps one value of XCDS and PACK_GQA. */
    const char *ps = getenv("AT_ATTN_MFMA_PSPLIT"), *ev = getenv("AT_ATTN_MFMA_EVERY");
    const long every = ev && atol(ev) > 0 ? atol(ev) : 1;
    size_t seen = 0;
    for (size_t i = 0; i < sp.n; i++)
      if ((!ps || !*ps || th_space_get(&sp, i, "PSPLIT") == atol(ps)) && seen++ % every == 0)
        which[n++] = i;
  } else {
    n = sample(&sp, which, 32);
    /* alternate PSPLIT 1, 2 (each config's twin, unless the twin is sampled already) */
    for (size_t i = 0; i < n; i++) {
      size_t tw = psplit_twin(&sp, which[i], i % 2 == 0 ? 1 : 2);
      bool dup = false;
      for (size_t q = 0; q < n; q++)
        dup |= which[q] == tw;
      if (!dup)
        which[i] = tw;
    }
    size_t one = 0;
    for (size_t i = 0; i < n; i++)
      one += th_space_get(&sp, which[i], "PSPLIT") == 1;
    cr_assert(one > 0 && one < n, "%s D=%lld: %zu of %zu sampled configs with PSPLIT=1", dev,
              (long long)gr->d, one, n);
    fprintf(stderr, "  %s D=%lld: %zu of %zu sampled configs with PSPLIT=1\n", dev,
            (long long)gr->d, one, n);
  }
  const int64_t **ptrs = malloc(n * sizeof *ptrs);
  meas_kernel *kern = malloc(n * sizeof *kern);
  cr_assert(ptrs && kern);
  for (size_t i = 0; i < n; i++)
    ptrs[i] = sp.cfg + which[i] * sp.np;
  enum gemm_dtype dt;
  cr_assert_eq(gemm_parse_dtype(dtype, &dt), AT_OK);
  size_t runs = 0;
  for (size_t c0 = 0; c0 < n; c0 += CHUNK) {
    size_t nc = n - c0 < CHUNK ? n - c0 : CHUNK;
    struct th_hostk hk;
    th_hostk_load_variants(&hk, &sp, dtype, ptrs + c0, nc, arch, kern + c0);
    for (size_t s = 0; s < gr->np; s++)
      runs += run_problem(&hk, &sp, gr, &gr->p[s], dt, dtype, arch, ptrs + c0, kern + c0, nc,
                          7 + s, failures);
    th_hostk_close(&hk);
  }
  free(ptrs);
  free(kern);
  free(which);
  th_space_close(&sp);
  return runs;
}

static void run_groups(const char *dev, const char *arch, const char *dtype, const size_t *gi,
                       size_t ng)
{
  th_need_cc(&cc_host);
  double t0 = now_s();
  size_t runs = 0, failures = 0;
  for (size_t g = 0; g < ng; g++)
    runs += run_group(dev, arch, dtype, gi[g], &failures);
  fprintf(stderr, "attn_mfma %s %s: %zu runs, %zu failures, %.1f s\n", arch, dtype, runs,
          failures, now_s() - t0);
  cr_assert_gt(runs, 0);
  cr_assert_eq(failures, 0, "%zu of %zu runs wrong", failures, runs);
}

/* CI: the sample of each group's space, split so that each test stays short */
Test(attn_mfma, host_gfx942_f16_prefill, .timeout = TIMEOUT)
{
  const size_t gi[] = {0};
  run_groups("mi300x", "host:gfx942", "f16", gi, 1);
}

Test(attn_mfma, host_gfx942_f16_causal, .timeout = TIMEOUT)
{
  const size_t gi[] = {1};
  run_groups("mi300x", "host:gfx942", "f16", gi, 1);
}

Test(attn_mfma, host_gfx942_f16_decode, .timeout = TIMEOUT)
{
  const size_t gi[] = {3};
  run_groups("mi300x", "host:gfx942", "f16", gi, 1);
}

Test(attn_mfma, host_gfx90a_bf16_paged, .timeout = TIMEOUT)
{
  const size_t gi[] = {2, 4};
  run_groups("mi250x", "host:gfx90a", "bf16", gi, 2);
}

Test(attn_mfma, host_gfx90a_bf16_odd_dims, .timeout = TIMEOUT)
{
  const size_t gi[] = {5, 6};
  run_groups("mi250x", "host:gfx90a", "bf16", gi, 2);
}

/* The full sweep (bench/attn_mfma_sweep.sh, AT_ATTN_MFMA_FULL=1): every valid variant of
 * every group on each GPU; skipped otherwise. */
static void sweep(const char *dev, const char *arch, const char *dtype)
{
  if (!full_sweep())
    cr_skip_test("the full sweep: AT_ATTN_MFMA_FULL=1 (bench/attn_mfma_sweep.sh)");
  /* AT_ATTN_MFMA_GROUPS="3,5": only those groups (indices into groups[]) */
  size_t gi[NGROUPS], ng = 0;
  const char *only = getenv("AT_ATTN_MFMA_GROUPS");
  for (size_t g = 0; g < NGROUPS; g++) {
    char key[8];
    snprintf(key, sizeof key, "%zu", g);
    bool take = !only || !*only;
    for (const char *c = only; c && *c && !take; c += strcspn(c, ",") + (c[strcspn(c, ",")] != 0))
      take = strncmp(c, key, strcspn(c, ",")) == 0 && strlen(key) == strcspn(c, ",");
    if (take)
      gi[ng++] = g;
  }
  cr_assert_gt(ng, 0, "AT_ATTN_MFMA_GROUPS=%s names no group", only);
  run_groups(dev, arch, dtype, gi, ng);
}

Test(attn_mfma, sweep_gfx942_f16, .timeout = TIMEOUT)
{
  sweep("mi300x", "host:gfx942", "f16");
}

Test(attn_mfma, sweep_gfx90a_bf16, .timeout = TIMEOUT)
{
  sweep("mi250x", "host:gfx90a", "bf16");
}
