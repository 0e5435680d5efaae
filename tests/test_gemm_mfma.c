/*
 * test_gemm_mfma.c - the CDNA matrix-core GEMM template (templates/gemm/gemm_mfma.h):
 * its space on mi300x and mi250x (sizes, the published MI300X shapes and the decode
 * tiles in it, the XCD remap only on gfx942); its variants compiled with clang for
 * gfx942 and gfx90a (no compile error; VGPRs, AGPRs, LDS, spills and occupancy reported;
 * v_mfma in the code object); and a deterministic sample of variants run on the host
 * device emulating gfx942 (cc_host "host:gfx942", the SIMT emulator running the MFMA
 * emulations) for awkward shapes in every layout and dtype, alpha 1.5 and beta -0.5 or
 * 0 (C0 then NaN), once with padded leading dims, checked with op_gemm's gemm_check.
 * The compile tests take every 96th valid variant of the gfx942 f16 NN space and every
 * 256th of the others (AT_GEMM_MFMA_EVERY=1 in the environment: all of them, the full
 * sweep, too long for CI on two cores; tests/data/gemm_mfma/sweep.sh does it through the
 * CLI); compiles are cached only where AT_TEST_CACHE_DIR is set (th_cache_dir).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generator/emit.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tests/tspace.h"
#include "tuner/compile/build.h"
#include "tuner/compile/compile.h"
#include "tuner/ops/gemm_run.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/op_gemm.h"
#include "base/status.h"

#define COMMON AT_SOURCE_DIR "/templates/common"
#define TEMPLATE AT_SOURCE_DIR "/templates/gemm/gemm_mfma.h"

static const char *const incs[] = {COMMON, NULL};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the space ---- */

static void space_open(struct th_space *sp, const char *dev, int64_t m, int64_t n, int64_t k,
                       int ta, int tb)
{
  const int64_t dims[5] = {m, n, k, ta, tb};
  th_space_open(sp, TEMPLATE, dev, dims, 5);
}

static const char *const layouts[4] = {"NN", "NT", "TN", "TT"};

Test(gemm_mfma, space_sizes_and_published_shapes, .timeout = 120)
{
  size_t valid[2][4];
  const char *devs[2] = {"mi300x", "mi250x"};
  for (int d = 0; d < 2; d++)
    for (int l = 0; l < 4; l++) {
      struct th_space sp;
      space_open(&sp, devs[d], 4096, 4096, 4096, l >> 1, l & 1);
      valid[d][l] = sp.n;
      fprintf(stderr, "gemm_mfma %s %s 4096^3: %llu raw, %zu valid\n", devs[d], layouts[l],
              (unsigned long long)sp.raw, sp.n);
      cr_assert_eq(th_space_count(&sp, "XCDS=8") > 0, d == 0, "%s: XCD remap only on gfx942",
                   devs[d]);
      cr_assert_gt(th_space_count(&sp, "MI=32"), 0);
      cr_assert_gt(th_space_count(&sp, "MI=16"), 0);
      cr_assert_gt(th_space_count(&sp, "STAGES=2"), 0);
      cr_assert_gt(th_space_count(&sp, "LDS_LAYOUT=2"), 0);
      th_space_close(&sp);
    }
  for (int l = 0; l < 4; l++) {
    cr_assert(valid[0][l] >= 500 && valid[0][l] <= 5000, "mi300x %s: %zu valid", layouts[l],
              valid[0][l]);
    cr_assert(valid[1][l] >= 300 && valid[1][l] < valid[0][l], "mi250x %s: %zu valid",
              layouts[l], valid[1][l]);
  }
  /* devices.md: hipBLASLt's MI300X winners: 16x16x16, 256 x {128..256} and 128 x 128,
   * K depth 64, 256 threads, 16-byte (8 f16) global reads */
  struct th_space sp;
  space_open(&sp, "mi300x", 4096, 4096, 4096, 0, 0);
  const char *fav[] = {
      "MI=16,BM=256,BN=256,BK=64,THREADS=256,VEC_BYTES=16",
      "MI=16,BM=256,BN=128,BK=64,THREADS=256,VEC_BYTES=16",
      "MI=16,BM=128,BN=256,BK=64,THREADS=256,VEC_BYTES=16",
      "MI=16,BM=128,BN=128,BK=64,THREADS=256,VEC_BYTES=16,STAGES=2",
  };
  for (size_t i = 0; i < sizeof fav / sizeof fav[0]; i++)
    cr_assert_geq(th_space_find(&sp, fav[i]), 0, "no %s", fav[i]);
  th_space_close(&sp);
  /* decode shapes: M = 16 keeps only BM = 16; M = 32 has BM = 32 */
  space_open(&sp, "mi300x", 16, 4096, 4096, 0, 1);
  cr_assert_gt(sp.n, 20);
  cr_assert_eq(th_space_count(&sp, "BM=16"), sp.n);
  cr_assert_gt(th_space_count(&sp, "BN=256"), 0);
  fprintf(stderr, "gemm_mfma mi300x NT 16x4096x4096: %zu valid\n", sp.n);
  th_space_close(&sp);
  space_open(&sp, "mi300x", 32, 4096, 4096, 0, 1);
  cr_assert_gt(th_space_count(&sp, "BM=32"), 0);
  th_space_close(&sp);
}

/* ---- compiling for the GPU ---- */

/* The v_mfma mnemonics of a code object, '_' dropped ("vmfmaf3216x16x16f16\n..."). */
static char *mfma_mnemonics(const struct bld_batch *b)
{
  return th_amd_disasm(b->code, b->code_size, "grep -oE 'v_mfma[a-z0-9_]*' | sed 's/_//g' | sort -u");
}

/* Every how many valid variants a compile test takes: AT_GEMM_MFMA_EVERY=N overrides
 * (1: all of them, the full sweep; long on two cores). */
static size_t sample_every(size_t dflt)
{
  const char *e = getenv("AT_GEMM_MFMA_EVERY");
  long v = e ? strtol(e, NULL, 10) : 0;
  return v >= 1 ? (size_t)v : dflt;
}

/* Compile n configs (indices idx into sp) for sp's device with clang-hip; report; no compile
 * error allowed. Returns the result for further checks (bld_result_release it). */
static void compile_gpu(const struct th_space *sp, const char *dtype, const size_t *idx,
                        size_t n, struct bld_result *r)
{
  int64_t *cfg = malloc(n * sp->np * sizeof *cfg);
  cr_assert_not_null(cfg);
  for (size_t i = 0; i < n; i++)
    memcpy(cfg + i * sp->np, sp->cfg + idx[i] * sp->np, sp->np * sizeof *cfg);
  struct bld_options o = {.jobs = 0, .batch = 16, .backend = "clang-hip",
                          .cache_dir = th_cache_dir(), .include_dirs = incs};
  cr_assert_eq(bld_run(sp->t, sp->s, sp->dev, sp->dims, dtype, cfg, n, &o, r), AT_OK, "%s",
               at_last_error());
  free(cfg);
  cr_assert_eq(r->nvariants, n);
  size_t spills = 0, occ[33] = {0};
  int vmin = 1 << 30, vmax = 0, amin = 1 << 30, amax = 0;
  int64_t lmax = 0;
  for (size_t i = 0; i < r->nvariants; i++) {
    const struct bld_variant *v = &r->variants[i];
    cr_assert_neq(v->verdict, BLD_COMPILE_ERROR, "%s %s %s: %s\n%s", sp->dev->name, dtype,
                  v->config_text, v->reason, v->log ? v->log : "");
    cr_assert_gt(v->res.registers, 0, "%s", v->config_text);
    spills += v->res.vgpr_spills > 0 || v->res.sgpr_spills > 0;
    vmin = v->res.registers < vmin ? v->res.registers : vmin;
    vmax = v->res.registers > vmax ? v->res.registers : vmax;
    int ag = v->res.agprs > 0 ? v->res.agprs : 0;
    amin = ag < amin ? ag : amin;
    amax = ag > amax ? ag : amax;
    int64_t lds = v->res.shared_bytes + v->launch.shared;
    lmax = lds > lmax ? lds : lmax;
    int w = v->occ.warps_per_cu;
    occ[w >= 0 && w <= 32 ? w : 0]++;
    if (v->verdict == BLD_PRUNED)
      cr_assert(strstr(v->reason, "spills") || strstr(v->reason, "occupancy"), "%s: %s",
                v->config_text, v->reason);
  }
  fprintf(stderr,
          "gemm_mfma %s (%s) %s %s: %zu variants, %zu ok, %zu pruned, 0 compile errors, "
          "%zu spill; VGPR %d..%d, AGPR %d..%d, LDS up to %lld B; %.1f s (%zu of %zu "
          "TUs from the cache)\n",
          sp->dev->name, r->arch, dtype, layouts[sp->dims[3] * 2 + sp->dims[4]], r->nvariants,
          r->stats.ok, r->stats.pruned, spills, vmin, vmax, amin, amax, (long long)lmax,
          r->stats.wall_s, r->stats.cache_hits, r->stats.batches);
  char line[512] = "";
  for (int w = 0; w <= 32; w++)
    if (occ[w])
      snprintf(line + strlen(line), sizeof line - strlen(line), " %d:%zu", w, occ[w]);
  fprintf(stderr, "  waves per CU (count):%s\n", line);
}

/* The code object of the variant selected by sel holds the MFMA of its family. */
static void check_mfma_in_code(const struct th_space *sp, const size_t *idx,
                               const struct bld_result *r, const char *sel, const char *want)
{
  for (size_t i = 0; i < r->nvariants; i++) {
    if (!th_space_has(sp, idx[i], sel) || r->variants[i].verdict == BLD_COMPILE_ERROR)
      continue;
    char *m = mfma_mnemonics(&r->batches[r->variants[i].batch]);
    if (!m)
      return; /* no objdump: compiled is all we can say */
    cr_assert_not_null(strstr(m, want), "%s %s: no %s in:\n%s", r->arch, sel, want, m);
    free(m);
    return;
  }
  cr_assert_fail("no compiled variant matches %s", sel);
}

Test(gemm_mfma, sample_compiles_for_gfx942_f16_nn, .timeout = 580)
{
  th_need_cc(&cc_clang_hip);
  struct th_space sp;
  space_open(&sp, "mi300x", 4096, 4096, 4096, 0, 0);
  size_t every = sample_every(96);
  size_t *idx = malloc(sp.n * sizeof *idx), n = 0;
  cr_assert_not_null(idx);
  for (size_t i = 0; i < sp.n; i++)
    if (i % every == 0 || th_space_has(&sp, i, "MI=16,BM=256,BN=256,BK=64,THREADS=256"))
      idx[n++] = i;
  struct bld_result r;
  compile_gpu(&sp, "f16", idx, n, &r);
  /* CDNA3 spells them v_mfma_f32_16x16x16_f16 */
  check_mfma_in_code(&sp, idx, &r, "MI=16", "vmfmaf3216x16x16f16\n");
  check_mfma_in_code(&sp, idx, &r, "MI=32", "vmfmaf3232x32x8f16\n");
  bld_result_release(&r);
  free(idx);
  th_space_close(&sp);
}

/* Other dtypes and layouts on gfx942, and gfx90a: every 128th variant of each. */
static void compile_sample(const char *device, const char *dtype, int ta, int tb,
                           const char *want16, const char *want32)
{
  th_need_cc(&cc_clang_hip);
  struct th_space sp;
  space_open(&sp, device, 4096, 4096, 4096, ta, tb);
  size_t every = sample_every(256);
  size_t *idx = malloc(sp.n * sizeof *idx), n = 0;
  cr_assert_not_null(idx);
  for (size_t i = 0; i < sp.n; i++)
    if (i % every == 7 % every)
      idx[n++] = i;
  struct bld_result r;
  compile_gpu(&sp, dtype, idx, n, &r);
  check_mfma_in_code(&sp, idx, &r, "MI=16", want16);
  check_mfma_in_code(&sp, idx, &r, "MI=32", want32);
  bld_result_release(&r);
  free(idx);
  th_space_close(&sp);
}

Test(gemm_mfma, sample_compiles_for_gfx942_bf16_tn_f32_tt, .timeout = 300)
{
  compile_sample("mi300x", "bf16", 1, 0, "vmfmaf3216x16x16bf16\n",
                 "vmfmaf3232x32x8bf16\n");
  compile_sample("mi300x", "f32", 1, 1, "vmfmaf3216x16x4f32\n",
                 "vmfmaf3232x32x2f32\n");
}

Test(gemm_mfma, sample_compiles_for_gfx90a, .timeout = 300)
{
  compile_sample("mi250x", "f16", 0, 1, "vmfmaf3216x16x16f16\n",
                 "vmfmaf3232x32x8f16\n");
  compile_sample("mi250x", "bf16", 0, 0, "vmfmaf3216x16x16bf161k\n",
                 "vmfmaf3232x32x8bf161k\n");
}

/* ---- running on the host device, emulating gfx942 ---- */

/* Both MFMA families, the smallest and largest tiles, decode and tall tiles, one to
 * eight waves, stages 1 and 2, padded and XOR-swizzled LDS, 8- and 16-byte reads, the
 * block-order swizzles on and off (one block for most shapes here: the orders matter
 * where the grid is larger, 127 x 129 with the small tiles). */
static const char *const sample[] = {
    "MI=16,BM=16,BN=64,WAVES_M=1,WAVES_N=1,STAGES=1,LDS_LAYOUT=1,GROUP_M=1",
    "MI=16,BM=16,BN=256,WAVES_N=4,STAGES=2,LDS_LAYOUT=2,VEC_BYTES=16",
    "MI=32,BM=32,BN=32,STAGES=2,LDS_LAYOUT=2",
    "MI=32,BM=64,BN=128,WAVES_M=2,WAVES_N=2,STAGES=1,LDS_LAYOUT=1,GROUP_M=8",
    "MI=16,BM=128,BN=128,BK=64,THREADS=256,STAGES=2,LDS_LAYOUT=2,VEC_BYTES=16,XCDS=8",
    "MI=16,BM=256,BN=256,BK=64,THREADS=256,STAGES=1,LDS_LAYOUT=2,VEC_BYTES=16",
    "MI=32,BM=256,BN=128,BK=32,THREADS=512,STAGES=2,LDS_LAYOUT=1,VEC_BYTES=8",
    "MI=32,BM=128,BN=256,BK=64,STAGES=1,LDS_LAYOUT=2,GROUP_M=8,XCDS=8",
    "MI=16,BM=64,BN=64,BK=64,THREADS=64,STAGES=2,LDS_LAYOUT=1",
    "MI=16,BM=256,BN=16,STAGES=1,LDS_LAYOUT=2",
    "MI=32,BM=32,BN=256,STAGES=2,LDS_LAYOUT=1,GROUP_M=1",
    "MI=16,BM=32,BN=128,BK=64,STAGES=1,XCDS=8",
};
/* f32 runs these (indices into sample) */
static const int sample_f32[] = {2, 4, 6, 9};

/* M, N, K; padded: leading dims past the minimum (A's and B's a multiple of 8, so the
 * vector path runs next to NaN padding; C's odd, its padding checked untouched);
 * beta 0: C0 is NaN, never to be read. */
static const struct shape {
  int64_t m, n, k;
  int padded;
  float beta;
} shapes[] = {
    {1, 1, 1, 0, -0.5f},       {7, 13, 29, 0, -0.5f},  {64, 64, 64, 0, -0.5f},
    {127, 129, 65, 0, -0.5f},  {1, 256, 512, 0, -0.5f}, {127, 129, 65, 1, 0.0f},
};

static int64_t pad8(int64_t x)
{
  return (x + 7) / 8 * 8 + 8;
}

static size_t run_layout(const char *dtype, int ta, int tb, const int *which, size_t nwhich,
                         size_t *failures)
{
  struct th_space sp;
  space_open(&sp, "mi300x", 4096, 4096, 4096, ta, tb);
  const char *sel[sizeof sample / sizeof sample[0]];
  cr_assert_leq(nwhich, sizeof sel / sizeof sel[0]);
  for (size_t i = 0; i < nwhich; i++)
    sel[i] = sample[which[i]];
  int64_t *cfg = th_space_configs(&sp, sel, nwhich);
  struct bld_options o = {.jobs = 2, .batch = (nwhich + 1) / 2, .cache_dir = th_cache_dir(),
                          .include_dirs = incs, .emulate = true};
  struct bld_result r;
  cr_assert_eq(bld_run(sp.t, sp.s, sp.dev, sp.dims, dtype, cfg, nwhich, &o, &r), AT_OK, "%s",
               at_last_error());
  cr_assert_str_eq(r.backend, "host");

  enum gemm_dtype gd;
  cr_assert_eq(gemm_parse_dtype(dtype, &gd), AT_OK);
  struct meas_ctx *ctx;
  meas_host_set_jobs(2);
  cr_assert_eq(meas_host.open(0, &ctx), AT_OK, "%s", at_last_error());
  meas_module *mods = calloc(r.nbatches, sizeof *mods);
  cr_assert_not_null(mods);
  size_t runs = 0;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const struct shape *sh = &shapes[s];
    struct gemm_problem p = {.dtype = gd, .ta = ta, .tb = tb, .m = sh->m, .n = sh->n,
                             .k = sh->k, .alpha = 1.5f, .beta = sh->beta};
    if (sh->padded) {
      p.lda = pad8(ta ? sh->m : sh->k);
      p.ldb = pad8(tb ? sh->k : sh->n);
      p.ldc = sh->n + 5;
    }
    gemm_problem_resolve(&p);
    struct gemm_data d;
    cr_assert_eq(gemm_data_init(&d, &p, 42 + s), AT_OK, "%s", at_last_error());
    struct gemm_buffers buf;
    cr_assert_eq(gemm_buffers_init(&meas_host, ctx, &d, &buf), AT_OK, "%s",
                 at_last_error());
    int64_t dims[5] = {p.m, p.n, p.k, ta, tb};
    struct gen_bind bind = {.dev = sp.dev, .dims = dims, .dtype = dtype};
    for (size_t i = 0; i < r.nvariants; i++) {
      const struct bld_variant *v = &r.variants[i];
      cr_assert_eq(v->verdict, BLD_OK, "%s: %s\n%s", v->config_text, v->reason,
                   v->log ? v->log : "");
      const struct bld_batch *b = &r.batches[v->batch];
      if (!mods[v->batch])
        cr_assert_eq(meas_host.load(ctx, b->code, b->code_size, &mods[v->batch]), AT_OK,
                     "%s", at_last_error());
      meas_kernel k;
      cr_assert_eq(meas_host.kernel(ctx, mods[v->batch], v->name, &k), AT_OK, "%s",
                   at_last_error());
      struct gen_launch l;
      cr_assert_eq(gen_emit_launch(sp.t, &bind, cfg + i * sp.np, &l), AT_OK, "%s",
                   at_last_error());
      int64_t bad = 0;
      char msg[256] = "";
      int rc = gemm_verify(&meas_host, ctx, k, &l, &d, &buf, &bad, msg, sizeof msg);
      cr_assert_eq(rc, AT_OK, "%s %s %lldx%lldx%lld %s: %s", dtype, layouts[ta * 2 + tb],
                   (long long)p.m, (long long)p.n, (long long)p.k, v->config_text,
                   at_last_error());
      if (bad) {
        (*failures)++;
        fprintf(stderr, "FAIL %s %s %lldx%lldx%lld %s: %lld bad, %s\n", dtype,
                layouts[ta * 2 + tb], (long long)p.m, (long long)p.n, (long long)p.k,
                v->config_text, (long long)bad, msg);
      }
      runs++;
    }
    gemm_buffers_release(&meas_host, ctx, &buf);
    gemm_data_release(&d);
  }
  for (size_t b = 0; b < r.nbatches; b++)
    if (mods[b])
      meas_host.unload(ctx, mods[b]);
  free(mods);
  meas_host.close(ctx);
  bld_result_release(&r);
  free(cfg);
  th_space_close(&sp);
  return runs;
}

static void run_dtype(const char *dtype, const int *which, size_t nwhich)
{
  th_need_cc(&cc_host);
  double t0 = now_s();
  size_t runs = 0, failures = 0;
  for (int l = 0; l < 4; l++)
    runs += run_layout(dtype, l >> 1, l & 1, which, nwhich, &failures);
  fprintf(stderr, "gemm_mfma host:gfx942 %s: %zu configs x %zu shapes x 4 layouts = %zu "
                  "runs, %zu failures, %.1f s\n",
          dtype, nwhich, sizeof shapes / sizeof shapes[0], runs, failures, now_s() - t0);
  cr_assert_eq(runs, nwhich * (sizeof shapes / sizeof shapes[0]) * 4);
  cr_assert_eq(failures, 0, "%zu of %zu runs wrong", failures, runs);
}

static void run_all_sample(const char *dtype)
{
  int which[sizeof sample / sizeof sample[0]];
  for (size_t i = 0; i < sizeof sample / sizeof sample[0]; i++)
    which[i] = (int)i;
  run_dtype(dtype, which, sizeof which / sizeof which[0]);
}

Test(gemm_mfma, host_gfx942_f16_sample_every_shape_and_layout, .timeout = 400)
{
  run_all_sample("f16");
}

Test(gemm_mfma, host_gfx942_bf16_sample_every_shape_and_layout, .timeout = 400)
{
  run_all_sample("bf16");
}

Test(gemm_mfma, host_gfx942_f32_sample_every_shape_and_layout, .timeout = 400)
{
  run_dtype("f32", sample_f32, sizeof sample_f32 / sizeof sample_f32[0]);
}
