/*
 * test_gemm_mma.c - the mma.sync GEMM template (templates/gemm/gemm_mma.h): its space on
 * the h100 and a100 profiles (exact sizes, the configs published designs use for large
 * squares and for decode shapes present); the sample below compiling with NVRTC for sm_90
 * (every layout, f16, and bf16 in NN) with no compile error and no spill, and for sm_80
 * (NN and TT, f16) with spills counted (AUTOTUNE_GEMM_MMA_FULL=1 also compiles every
 * valid h100 variant); and the sample of thirteen configs (smallest and largest tiles,
 * every STAGES, VEC and GROUP value, swizzle on and off) run on the host device
 * emulating sm_90 (cc_host "host:sm_90", meas_host, the SIMT emulator with mma.sync,
 * ldmatrix and cp.async emulated) for awkward shapes in all four layouts, f16 and bf16,
 * alpha 1.5, beta -0.5, checked by gemm_check. A cp.async lands at the wait that covers
 * its group there (at_host_copy.h), so a wait too few fails (wait<STAGES - 1>: 9 of 12
 * tests); a barrier too few still shows only on a GPU. Each
 * config is run on every shape, also where the space would not offer it for that shape
 * (a 256-row tile for M = 1): correctness may not depend on the pruning.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "tuner/compile/compile.h"
#include "base/device.h"
#include "tuner/ops/gemm_run.h"
#include "tuner/ops/gemm_sweep.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/op_gemm.h"
#include "base/status.h"
#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tests/tspace.h"

/* One timeout for every test: Criterion 2.4.1 leaks a timer when tests with different
 * timeouts run in parallel (see test_install.c). CTest's own limit still applies. */
#define TIMEOUT 36000

#define TEMPLATE AT_SOURCE_DIR "/templates/gemm/gemm_mma.h"
#define COMMON AT_SOURCE_DIR "/templates/common"

static const char *const incs[] = {COMMON, NULL};

/* The valid configs of the default problem (every dim 4096, layout NN): a change to the
 * space must change these on purpose. */
#define H100_VALID 2848
#define A100_VALID 2820

static const char *const layouts[4] = {"NN", "NT", "TN", "TT"};
static const char *const dtypes[2] = {"f16", "bf16"};

/* ---- the space ------------------------------------------------------------------- */

static void space_open(struct th_space *sp, const char *dev, int64_t m, int64_t n, int64_t k,
                       int ta, int tb)
{
  const int64_t dims[5] = {m, n, k, ta, tb};
  th_space_open(sp, TEMPLATE, dev, dims, 5);
}

/* Smallest and largest tiles, decode (BM 16/32) and large-square shapes, STAGES 2-5,
 * VEC 2/4/8, swizzle on and off, GROUP 1 and 8. */
static const char *const sample[] = {
    "BM=16,BN=64,BK=16,WM=1,WN=2,STAGES=2,VEC=8,SWZ=0,GROUP=1",
    "BM=32,BN=32,BK=32,WM=2,WN=1,STAGES=3,VEC=8,SWZ=1,GROUP=8",
    "BM=16,BN=256,BK=64,WM=1,WN=8,STAGES=4,VEC=8,SWZ=1,GROUP=1",
    "BM=64,BN=64,BK=32,WM=2,WN=2,STAGES=5,VEC=8,SWZ=1,GROUP=8",
    "BM=128,BN=128,BK=32,WM=2,WN=2,STAGES=4,VEC=8,SWZ=1,GROUP=8",
    "BM=128,BN=256,BK=32,WM=2,WN=4,STAGES=4,VEC=8,SWZ=1,GROUP=8",
    "BM=256,BN=128,BK=32,WM=4,WN=2,STAGES=3,VEC=8,SWZ=0,GROUP=1",
    "BM=64,BN=128,BK=32,WM=1,WN=4,STAGES=2,VEC=4,SWZ=1,GROUP=1",
    "BM=32,BN=64,BK=16,WM=1,WN=2,STAGES=3,VEC=2,SWZ=0,GROUP=8",
    "BM=64,BN=64,BK=16,WM=2,WN=2,STAGES=5,VEC=4,SWZ=0,GROUP=1",
    "BM=64,BN=256,BK=32,WM=1,WN=4,STAGES=4,VEC=8,SWZ=0,GROUP=1",
    "BM=32,BN=128,BK=64,WM=2,WN=2,STAGES=2,VEC=8,SWZ=1,GROUP=8",
    "BM=64,BN=64,BK=64,WM=2,WN=2,STAGES=3,VEC=8,SWZ=1,GROUP=1",
};
#define NSAMPLE (sizeof sample / sizeof sample[0])

/* The sample's configs for `dev` and a layout, each taken from a space where it is valid:
 * VEC 8 with every dim 4096, VEC 4 with 4092 (leading dims 4 mod 8), VEC 2 with 4094.
 * OUT: cfg[NSAMPLE * np] (malloc'd); *sp is the 4096 space (space_close it). */
static int64_t *sample_configs(const char *dev, int ta, int tb, struct th_space *sp)
{
  space_open(sp, dev, 4096, 4096, 4096, ta, tb);
  int64_t *cfg = malloc(NSAMPLE * sp->np * sizeof *cfg);
  cr_assert_not_null(cfg);
  for (size_t i = 0; i < NSAMPLE; i++) {
    const int64_t vec = th_cfg(sample[i], "VEC");
    struct th_space other, *from = sp;
    int64_t d = vec == 8 ? 4096 : vec == 4 ? 4092 : 4094;
    if (d != 4096) {
      space_open(&other, dev, d, d, d, ta, tb);
      from = &other;
    }
    long at = th_space_find(from, sample[i]);
    cr_assert_geq(at, 0, "%s %s: sample config %s is not in the space", dev,
                  layouts[2 * ta + tb], sample[i]);
    memcpy(cfg + i * sp->np, from->cfg + (size_t)at * from->np, sp->np * sizeof *cfg);
    if (from != sp)
      th_space_close(&other);
  }
  return cfg;
}

Test(gemm_mma, space_is_realistic_on_h100_and_a100, .timeout = TIMEOUT)
{
  struct th_space sp;
  struct gen_space_stats st;
  static const struct {
    const char *dev;
    size_t valid;
  } want[] = {{"h100", H100_VALID}, {"a100", A100_VALID}};
  for (size_t d = 0; d < 2; d++) {
    for (int l = 0; l < 4; l++) {
      space_open(&sp, want[d].dev, 4096, 4096, 4096, l / 2, l % 2);
      cr_assert_eq(gen_space_enumerate(sp.s, NULL, NULL, &st), AT_OK);
      cr_log_info("gemm_mma %s %s: %llu raw, %llu valid", want[d].dev, layouts[l],
                  (unsigned long long)st.raw, (unsigned long long)st.valid);
      cr_assert_eq(sp.n, want[d].valid, "%s %s: %zu valid configs, want %zu", want[d].dev,
                   layouts[l], sp.n, want[d].valid);
      for (size_t i = 0; i < sp.n; i++) {
        cr_assert_eq(th_space_get(&sp, i, "A_T"), l / 2);
        cr_assert_eq(th_space_get(&sp, i, "B_T"), l % 2);
      }
      /* the large-square workhorse: 128 x 256 x 32, 4 stages, 8 warps of 64 x 64 */
      cr_assert_geq(
          th_space_find(&sp, "BM=128,BN=256,BK=32,WM=2,WN=4,STAGES=4,VEC=8,SWZ=1,GROUP=8"), 0);
      gen_space_stats_release(&st);
      th_space_close(&sp);
    }
    /* decode: M = 1 leaves BM = 16 alone, with several BN, BK and STAGES */
    space_open(&sp, want[d].dev, 1, 4096, 4096, 0, 0);
    cr_assert_gt(sp.n, 50, "%s decode: %zu configs", want[d].dev, sp.n);
    for (size_t i = 0; i < sp.n; i++)
      cr_assert_eq(th_space_get(&sp, i, "BM"), 16);
    th_space_close(&sp);
    /* M = 32: BM 16 and 32 */
    space_open(&sp, want[d].dev, 32, 4096, 4096, 0, 0);
    size_t bm32 = 0;
    for (size_t i = 0; i < sp.n; i++)
      bm32 += th_space_get(&sp, i, "BM") == 32;
    cr_assert_gt(bm32, 0);
    th_space_close(&sp);
  }
  /* every sample config is valid on both */
  for (size_t d = 0; d < 2; d++) {
    int64_t *cfg = sample_configs(want[d].dev, 0, 0, &sp);
    free(cfg);
    th_space_close(&sp);
  }
}

/* ---- compiling with NVRTC ------------------------------------------------------------ */

static bool have_nvrtc(void)
{
  char why[256] = "";
  return cc_nvrtc.available(why, sizeof why);
}

struct compile_tally {
  size_t variants, ok, errors, spilled, pruned_other;
  int max_regs;
};

/* Compile n configs of sp for `dev` as `dtype` with NVRTC; count the verdicts (a compile
 * error fails at once). With `no_spills`, log every variant that is not ok. */
static void compile_configs(const struct th_space *sp, const char *dev, const char *dtype,
                            const int64_t *cfg, size_t n, bool no_spills,
                            struct compile_tally *tally)
{
  struct bld_options o = {.jobs = 0, .batch = 16, .backend = "nvrtc", .cache_dir = th_cache_dir(),
                          .include_dirs = incs};
  struct bld_result r;
  int rc = bld_run(sp->t, sp->s, dev_find(dev), sp->dims, dtype, cfg, n, &o, &r);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  cr_assert_eq(r.nvariants, n);
  for (size_t i = 0; i < r.nvariants; i++) {
    const struct bld_variant *v = &r.variants[i];
    tally->variants++;
    cr_assert_neq(v->verdict, BLD_COMPILE_ERROR, "%s %s %s: %s\n%s", dev, dtype,
                  v->config_text, v->reason, v->log ? v->log : "");
    if (v->res.registers > tally->max_regs)
      tally->max_regs = v->res.registers;
    if (v->verdict == BLD_OK)
      tally->ok++;
    else if (v->res.spill_bytes > 0)
      tally->spilled++;
    else
      tally->pruned_other++;
    if (no_spills && v->verdict != BLD_OK)
      cr_log_info("%s %s %s: %s (%d registers)", dev, dtype, v->config_text, v->reason,
                   v->res.registers);
  }
  bld_result_release(&r);
}

/* The sample in the layouts of `lmask` (bit 2*TA+TB) as f16, and in NN also as bf16 when
 * `bf16`: compiles, and at most `max_spilled` variants spill. ptxas may pick a register
 * target below what a variant needs when that buys occupancy and spill a word (seen: 4
 * bytes at 80 registers on sm_80); bld_run prunes those, so they are counted, not hidden.
 * (Sized for two cores; the full space is the AUTOTUNE_GEMM_MMA_FULL test.) */
static void compile_sample(const char *dev, unsigned lmask, bool bf16, size_t max_spilled)
{
  if (!have_nvrtc())
    cr_skip_test("nvrtc is not available here");
  struct compile_tally tally = {0};
  size_t want = 0;
  for (int l = 0; l < 4; l++) {
    if (!(lmask >> l & 1))
      continue;
    struct th_space sp;
    int64_t *cfg = sample_configs(dev, l / 2, l % 2, &sp);
    for (int d = 0; d < (bf16 && l == 0 ? 2 : 1); d++) {
      compile_configs(&sp, dev, dtypes[d], cfg, NSAMPLE, true, &tally);
      want += NSAMPLE;
    }
    free(cfg);
    th_space_close(&sp);
  }
  cr_log_info("gemm_mma %s sample: %zu variants, %zu ok, %zu spill, %zu pruned otherwise, "
              "0 compile errors, at most %d registers", dev, tally.variants, tally.ok,
              tally.spilled, tally.pruned_other, tally.max_regs);
  cr_assert_eq(tally.variants, want);
  cr_assert_eq(tally.pruned_other, 0);
  cr_assert_leq(tally.spilled, max_spilled, "%zu of %zu variants spill (see the log)",
                tally.spilled, tally.variants);
}

Test(gemm_mma, sample_compiles_for_sm90_without_spills, .timeout = TIMEOUT)
{
  compile_sample("h100", 0xf, true, 0);
}

Test(gemm_mma, sample_compiles_for_sm80, .timeout = TIMEOUT)
{
  compile_sample("a100", 0x9, false, 2);
}

/* Every valid h100 variant, every layout, both dtypes (about 26,000 compiles: hours on
 * two cores): only with AUTOTUNE_GEMM_MMA_FULL=1 (a layout or dtype may be narrowed with
 * AUTOTUNE_GEMM_MMA_LAYOUT=NN, AUTOTUNE_GEMM_MMA_DTYPE=f16). No compile error may occur;
 * the spill count is reported (bld_run prunes those variants). */
Test(gemm_mma, every_h100_variant_compiles_for_sm90, .timeout = TIMEOUT)
{
  const char *full = getenv("AUTOTUNE_GEMM_MMA_FULL");
  if (!full || strcmp(full, "1") != 0)
    cr_skip_test("set AUTOTUNE_GEMM_MMA_FULL=1 to compile the whole space");
  if (!have_nvrtc())
    cr_skip_test("nvrtc is not available here");
  const char *only_l = getenv("AUTOTUNE_GEMM_MMA_LAYOUT");
  const char *only_d = getenv("AUTOTUNE_GEMM_MMA_DTYPE");
  struct compile_tally tally = {0};
  for (int l = 0; l < 4; l++) {
    if (only_l && *only_l && strcmp(only_l, layouts[l]) != 0)
      continue;
    struct th_space sp;
    space_open(&sp, "h100", 4096, 4096, 4096, l / 2, l % 2);
    for (int d = 0; d < 2; d++) {
      if (only_d && *only_d && strcmp(only_d, dtypes[d]) != 0)
        continue;
      struct compile_tally one = {0};
      compile_configs(&sp, "h100", dtypes[d], sp.cfg, sp.n, false, &one);
      cr_log_info("gemm_mma h100 %s %s: %zu variants, %zu ok, %zu spill, %zu pruned "
                  "otherwise, 0 compile errors, at most %d registers", layouts[l], dtypes[d],
                  one.variants, one.ok, one.spilled, one.pruned_other, one.max_regs);
      tally.variants += one.variants;
      tally.ok += one.ok;
      tally.spilled += one.spilled;
    }
    th_space_close(&sp);
  }
  cr_assert_gt(tally.variants, 0);
  cr_log_info("gemm_mma h100 total: %zu variants, %zu ok, %zu spill", tally.variants,
              tally.ok, tally.spilled);
}

/* ---- correctness on the host device ---------------------------------------------------- */

struct shape {
  int64_t m, n, k;
  int64_t pad; /* 0: the smallest leading dimensions; else rounded up to 8, plus pad */
};

static const struct shape shapes[] = {
    {1, 1, 1, 0},   {7, 13, 29, 0}, {64, 64, 64, 0}, {127, 129, 65, 0},
    {1, 256, 512, 0}, /* decode */
    {100, 84, 44, 8}, /* aligned leading dims: vectors straddle the edges, NaN padding */
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static int64_t round8(int64_t v)
{
  return (v + 7) / 8 * 8;
}

static void run_host(int ta, int tb, const char *dtype)
{
  char why[256] = "";
  if (!cc_host.available(why, sizeof why))
    cr_skip_test("no host C++ compiler: %s", why);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);

  struct th_space sp;
  int64_t *cfg = sample_configs("h100", ta, tb, &sp);
  const int64_t *ptrs[NSAMPLE];
  for (size_t i = 0; i < NSAMPLE; i++)
    ptrs[i] = cfg + i * sp.np;
  struct th_hostk hk;
  meas_kernel kern[NSAMPLE];
  th_hostk_load_variants(&hk, &sp, dtype, ptrs, NSAMPLE, "host:sm_90", kern);
  struct meas_ctx *ctx = hk.ctx;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double compile_s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

  enum gemm_dtype dt;
  cr_assert_eq(gemm_parse_dtype(dtype, &dt), AT_OK);
  size_t runs = 0, failures = 0;
  for (size_t s = 0; s < NSHAPES; s++) {
    const struct shape *sh = &shapes[s];
    struct gemm_problem p = {.dtype = dt, .ta = ta, .tb = tb, .m = sh->m, .n = sh->n,
                             .k = sh->k, .alpha = 1.5f, .beta = -0.5f};
    if (sh->pad) {
      p.lda = round8(ta ? sh->m : sh->k) + sh->pad;
      p.ldb = round8(tb ? sh->k : sh->n) + sh->pad;
      p.ldc = round8(sh->n) + sh->pad;
    }
    struct gemm_data data;
    cr_assert_eq(gemm_data_init(&data, &p, 42 + s), AT_OK, "%s", at_last_error());
    struct gemm_buffers buf;
    cr_assert_eq(gemm_buffers_init(&meas_host, ctx, &data, &buf), AT_OK, "%s",
                 at_last_error());
    int64_t dims[5] = {sh->m, sh->n, sh->k, ta, tb};
    struct gen_bind b = {.dev = dev_find("h100"), .dims = dims, .dtype = dtype};
    for (size_t i = 0; i < NSAMPLE; i++) {
      struct gen_launch l;
      cr_assert_eq(gen_emit_launch(sp.t, &b, ptrs[i], &l), AT_OK, "%s", at_last_error());
      int64_t bad = 0;
      char msg[256] = "";
      int rc = gemm_verify(&meas_host, ctx, kern[i], &l, &data, &buf, &bad, msg, sizeof msg);
      runs++;
      if (rc != AT_OK || bad != 0) {
        failures++;
        char *text = NULL;
        gen_space_config_text(sp.s, ptrs[i], &text);
        cr_log_error("%s %s %lldx%lldx%lld %s: %s, %lld wrong: %s", layouts[2 * ta + tb],
                     dtype, (long long)sh->m, (long long)sh->n, (long long)sh->k,
                     text ? text : "?", at_status_name(rc), (long long)bad,
                     rc != AT_OK ? at_last_error() : msg);
        free(text);
      }
    }
    gemm_buffers_release(&meas_host, ctx, &buf);
    gemm_data_release(&data);
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  double run_s = (double)(t0.tv_sec - t1.tv_sec) + 1e-9 * (double)(t0.tv_nsec - t1.tv_nsec);
  cr_log_info("gemm_mma host:sm_90 %s %s: %zu runs (%zu configs x %zu shapes), %zu "
              "failures; compile %.1f s, runs %.1f s", layouts[2 * ta + tb], dtype, runs,
              NSAMPLE, NSHAPES, failures, compile_s, run_s);
  cr_assert_eq(runs, NSAMPLE * NSHAPES);
  cr_assert_eq(failures, 0, "%zu of %zu runs wrong (see the log)", failures, runs);

  th_hostk_close(&hk);
  free(cfg);
  th_space_close(&sp);
}

#define HOST_TEST(layout, ta, tb, dtype)                                                  \
  Test(gemm_mma, host_##layout##_##dtype, .timeout = TIMEOUT) { run_host(ta, tb, #dtype); }
HOST_TEST(NN, 0, 0, f16)
HOST_TEST(NT, 0, 1, f16)
HOST_TEST(TN, 1, 0, f16)
HOST_TEST(TT, 1, 1, f16)
HOST_TEST(NN, 0, 0, bf16)
HOST_TEST(NT, 0, 1, bf16)
HOST_TEST(TN, 1, 0, bf16)
HOST_TEST(TT, 1, 1, bf16)

/* The sweep's default dtypes are those gemm_mma takes: f16 and bf16, never f32 (whose
 * compile error would count as a failure of every variant). */
Test(gemm_mma, sweep_defaults_to_the_dtypes_it_takes, .timeout = TIMEOUT)
{
  char why[256] = "";
  if (!cc_host.available(why, sizeof why))
    cr_skip_test("the host compiler is not available: %s", why);
  static const char *const tn[] = {"TN", NULL};
  struct gsw_options o = {.dev = dev_find("h100"), .layouts = tn, .sample = 1,
                          .seed = 5, .jobs = 2, .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(TEMPLATE, &o, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.dtypes, 2);
  cr_assert_eq(r.compiled, 2);
  cr_assert_eq(r.runs, 2 * gsw_default_nshapes);
  cr_assert_eq(r.failures, 0, "first: %s", r.first_failure);
}
