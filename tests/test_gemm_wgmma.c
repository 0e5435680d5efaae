/*
 * test_gemm_wgmma.c - the Hopper wgmma GEMM template (templates/gemm/gemm_wgmma.h): its
 * space on h100 (exact size per layout, the large-square and decode configs present) and
 * on no other device; `arch_specific` making bld_run compile it for sm_90a (NVRTC), with
 * no compile error and no spill for the sample below, while plain sm_90 stops at the
 * template's static_assert with the advice to build for sm_90a; and the sample (every
 * value of every param) run on the host device emulating h100 (wgmma performed at
 * wait_group, cp.async landing at its wait: AHEAD groups waited for fails 4 of 8) for the sweep's awkward shapes in all four layouts,
 * f16 and bf16, checked against the f64 reference by gsw_run. None of this ran on a GPU.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/space.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tuner/compile/build.h"
#include "tuner/compile/compile.h"
#include "base/device.h"
#include "tuner/ops/gemm_sweep.h"
#include "tuner/ops/op_gemm.h"
#include "base/status.h"
#include "tests/tspace.h"

/* One timeout for every test: Criterion 2.4.1 leaks a timer when tests with different
 * timeouts run in parallel (see test_install.c). CTest's own limit still applies. */
#define TIMEOUT 36000

#define TEMPLATE AT_SOURCE_DIR "/templates/gemm/gemm_wgmma.h"
#define COMMON AT_SOURCE_DIR "/templates/common"

static const char *const incs[] = {COMMON, NULL};
static const char *const layouts[4] = {"NN", "NT", "TN", "TT"};

/* The valid configs of the default problem (every dim 4096) on h100, in every layout: a
 * change to the space must change this on purpose. */
#define H100_VALID 496

/* ---- the space ------------------------------------------------------------------- */

static void space_open(struct th_space *sp, const char *dev, int64_t m, int64_t n, int64_t k,
                       int ta, int tb)
{
  const int64_t dims[5] = {m, n, k, ta, tb};
  th_space_open(sp, TEMPLATE, dev, dims, 5);
}

/* Every value of every param: BM 64/128/256, BN 64/128/256, BK 32/64, one and two
 * warpgroups, MT 1 and 2, STAGES 2-8, WAIT 0 and 1, GROUP 1 and 8, the 128-accumulator
 * tiles (64 x 256, 2 x 64 x 128 per warpgroup) included. */
static const char *const sample[] = {
    "BM=64,BN=64,BK=32,WGS=1,STAGES=2,WAIT=0,GROUP=1",
    "BM=128,BN=128,BK=64,WGS=2,STAGES=4,WAIT=1,GROUP=8",
    "BM=128,BN=256,BK=64,WGS=2,STAGES=3,WAIT=1,GROUP=8",
    "BM=256,BN=64,BK=64,WGS=2,STAGES=5,WAIT=1,GROUP=1",
    "BM=128,BN=128,BK=32,WGS=1,STAGES=8,WAIT=0,GROUP=8",
    "BM=64,BN=256,BK=32,WGS=1,STAGES=6,WAIT=1,GROUP=1",
    "BM=256,BN=128,BK=64,WGS=2,STAGES=3,WAIT=0,GROUP=1",
    "BM=64,BN=128,BK=64,WGS=1,STAGES=7,WAIT=1,GROUP=8",
};
#define NSAMPLE (sizeof sample / sizeof sample[0])

Test(gemm_wgmma, space_is_realistic_on_h100_and_absent_elsewhere, .timeout = TIMEOUT)
{
  struct th_space sp;
  for (int l = 0; l < 4; l++) {
    space_open(&sp, "h100", 4096, 4096, 4096, l / 2, l % 2);
    cr_log_info("gemm_wgmma h100 %s: %zu valid", layouts[l], sp.n);
    cr_assert_eq(sp.n, H100_VALID, "h100 %s: %zu valid configs, want %d", layouts[l], sp.n,
                 H100_VALID);
    for (size_t i = 0; i < sp.n; i++) {
      cr_assert_eq(th_space_get(&sp, i, "A_T"), l / 2);
      cr_assert_eq(th_space_get(&sp, i, "B_T"), l % 2);
      /* one m64 tile or two per warpgroup, never more than 128 accumulators */
      int64_t mt = th_space_get(&sp, i, "MT");
      cr_assert(mt * 64 * th_space_get(&sp, i, "WGS") == th_space_get(&sp, i, "BM"));
      cr_assert_leq(mt * th_space_get(&sp, i, "BN") / 2, 128);
    }
    for (size_t s = 0; s < NSAMPLE; s++)
      cr_assert_geq(th_space_find(&sp, sample[s]), 0, "%s: sample config %zu is not in the space",
                    layouts[l], s);
    th_space_close(&sp);
  }
  /* H100's shared memory (227 KB a block) holds 4 stages of 128 x 256 x 64 but not 5 */
  space_open(&sp, "h100", 4096, 4096, 4096, 0, 0);
  cr_assert_geq(th_space_find(&sp, "BM=128,BN=256,BK=64,WGS=2,STAGES=4,WAIT=1,GROUP=8"), 0);
  cr_assert_lt(th_space_find(&sp, "BM=128,BN=256,BK=64,WGS=2,STAGES=5,WAIT=1,GROUP=8"), 0);
  th_space_close(&sp);
  /* decode (M = 1): one warpgroup's m64 tile alone, every N width still open */
  space_open(&sp, "h100", 1, 4096, 4096, 0, 0);
  cr_assert_gt(sp.n, 20, "decode: %zu configs", sp.n);
  bool bn[3] = {false, false, false};
  for (size_t i = 0; i < sp.n; i++) {
    cr_assert_eq(th_space_get(&sp, i, "BM"), 64);
    cr_assert_eq(th_space_get(&sp, i, "WGS"), 1);
    bn[th_space_get(&sp, i, "BN") / 128] = true;
  }
  cr_assert(bn[0] && bn[1] && bn[2]);
  th_space_close(&sp);
  /* wgmma is Hopper's alone: no config on an A100, an MI300X or the host */
  static const char *const others[] = {"a100", "mi300x", "host"};
  for (size_t d = 0; d < 3; d++) {
    space_open(&sp, others[d], 4096, 4096, 4096, 0, 0);
    cr_assert_eq(sp.n, 0, "%s: %zu configs", others[d], sp.n);
    th_space_close(&sp);
  }
  /* and the tuner's rule agrees, dtype included */
  cr_assert_str_empty(gemm_template_not_for("gemm_wgmma", dev_find("h100"), false));
  cr_assert_str_empty(gemm_template_not_for("gemm_wgmma", dev_find("h200"), false));
  cr_assert_str_eq(gemm_template_not_for("gemm_wgmma", dev_find("h100"), true),
                   "for f16 and bf16");
  cr_assert_str_eq(gemm_template_not_for("gemm_wgmma", dev_find("a100"), false),
                   "for NVIDIA Hopper (sm_90a)");
  cr_assert_str_eq(gemm_template_not_for("gemm_wgmma", dev_find("mi300x"), false),
                   "for NVIDIA Hopper (sm_90a)");
}

/* ---- compiling: sm_90a through the template's arch_specific ----------------------- */

Test(gemm_wgmma, arch_specific_compiles_for_sm90a, .timeout = TIMEOUT)
{
  char buf[32];
  struct tmpl *t;
  cr_assert_eq(tmpl_load(TEMPLATE, incs, &t), AT_OK, "%s", at_last_error());
  cr_assert_eq(t->arch_specific, 1);
  cr_assert_str_eq(tmpl_compile_arch(t, "sm_90", buf, sizeof buf), "sm_90a");
  cr_assert_str_eq(tmpl_compile_arch(t, "sm_90a", buf, sizeof buf), "sm_90a");
  cr_assert_str_eq(tmpl_compile_arch(t, "gfx942", buf, sizeof buf), "gfx942");
  cr_assert_str_eq(tmpl_compile_arch(t, "host:sm_90", buf, sizeof buf), "host:sm_90");
  tmpl_free(t);
  cr_assert_eq(tmpl_load(AT_SOURCE_DIR "/templates/gemm/gemm_mma.h", incs, &t), AT_OK);
  cr_assert_eq(t->arch_specific, 0);
  cr_assert_str_eq(tmpl_compile_arch(t, "sm_90", buf, sizeof buf), "sm_90");
  tmpl_free(t);
  /* `generate` says which target it builds for */
  struct th_result r;
  th_run(&r, "generate gemm_wgmma --device h100 --stats --json");
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"arch\":\"sm_90\",\"target\":\"sm_90a\""), "%s", r.out);
  th_result_free(&r);
}

/* The sample as f16 in NN (A K-major, B N-major) and TT (A M-major, B K-major), which
 * between them take every operand path, and in NN as bf16 (sized for two cores; the host
 * tests run all four layouts): bld_run (which asks
 * tmpl_compile_arch) builds every variant for sm_90a with no compile error and no spill. */
Test(gemm_wgmma, sample_compiles_for_sm90a_without_spills, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  size_t variants = 0;
  int max_regs = 0;
  for (int l = 0; l < 4; l += 3) {
    struct th_space sp;
    space_open(&sp, "h100", 4096, 4096, 4096, l / 2, l % 2);
    int64_t *cfg = th_space_configs(&sp, sample, NSAMPLE);
    for (int d = 0; d < (l == 0 ? 2 : 1); d++) {
      const char *dtype = d ? "bf16" : "f16";
      struct bld_options o = {.batch = 8, .backend = "nvrtc", .cache_dir = th_cache_dir(),
                              .include_dirs = incs};
      struct bld_result r;
      cr_assert_eq(bld_run(sp.t, sp.s, dev_find("h100"), sp.dims, dtype, cfg, NSAMPLE, &o,
                           &r), AT_OK, "%s", at_last_error());
      for (size_t i = 0; i < r.nvariants; i++) {
        const struct bld_variant *v = &r.variants[i];
        cr_assert_eq(v->verdict, BLD_OK, "%s %s %s: %s (%d registers, %lld spill bytes)\n%s",
                     layouts[l], dtype, v->config_text, v->reason ? v->reason : "",
                     v->res.registers, (long long)v->res.spill_bytes, v->log ? v->log : "");
        cr_assert_eq(v->res.spill_bytes, 0);
        if (v->res.registers > max_regs)
          max_regs = v->res.registers;
        variants++;
      }
      /* ptxas keeps the wgmma asynchronous: none serialized (its warning names the
       * function and why: "wgmma.mma_async instructions are serialized due to ...") */
      for (size_t b = 0; b < r.nbatches; b++) {
        const char *log = r.batches[b].log;
        cr_assert(log && strstr(log, "for 'sm_90a'"), "%s %s: no ptxas report for sm_90a:\n%s",
                  layouts[l], dtype, log ? log : "(none)");
        cr_assert(!strstr(log, "serialized"), "%s %s: ptxas serialized wgmma:\n%s",
                  layouts[l], dtype, log);
      }
      bld_result_release(&r);
    }
    free(cfg);
    th_space_close(&sp);
  }
  cr_log_info("gemm_wgmma sm_90a sample: %zu variants ok, no spills, at most %d registers",
              variants, max_regs);
  cr_assert_eq(variants, 3 * NSAMPLE);
}

/* Plain sm_90 has no wgmma: the template stops at its static_assert, saying what to do. */
Test(gemm_wgmma, plain_sm90_is_refused_with_advice, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  const char *src = "#include \"gemm/gemm_wgmma.h\"\n"
                    "extern \"C\" __global__ void k(const at_half *a, const at_half *b,\n"
                    "                               at_half *c) {\n"
                    "  gemm_wgmma<at_half, 0, 0, 64, 64, 32, 1, 2, 0, 1>(a, b, c, 64, 64, 64,\n"
                    "                                                  64, 64, 64, 1.f, 0.f);\n"
                    "}\n";
  static const char *const dirs[] = {COMMON, AT_SOURCE_DIR "/templates", NULL};
  for (int a = 0; a < 2; a++) {
    struct cc_request req = {.source = src, .name = "wg.cu", .arch = a ? "sm_90a" : "sm_90",
                             .include_dirs = dirs};
    struct cc_result res;
    cr_assert_eq(cc_nvrtc.compile(&req, &res), AT_OK, "%s", at_last_error());
    if (a) {
      cr_assert_eq(res.status, CC_OK, "%s", res.log ? res.log : "");
    } else {
      cr_assert_neq(res.status, CC_OK);
      cr_assert_not_null(res.log);
      cr_assert(strstr(res.log, "build with -arch=sm_90a") != NULL, "%s", res.log);
    }
    cc_result_release(&res);
  }
}

/* ---- correctness on the host device emulating h100 -------------------------------- */

static int keep_sample(void *ctx, const char *config)
{
  (void)ctx;
  for (size_t s = 0; s < NSAMPLE; s++)
    if (th_cfg_matches(config, sample[s]))
      return 1;
  return 0;
}

static void run_host(const char *layout)
{
  th_need_cc(&cc_host);
  const char *const one[] = {layout, NULL};
  struct gsw_options o = {.dev = dev_find("h100"), .layouts = one, .filter = keep_sample,
                          .jobs = 2, .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(TEMPLATE, &o, &r), AT_OK, "%s", at_last_error());
  char line[256];
  gsw_summary(&r, line, sizeof line);
  cr_log_info("gemm_wgmma host:sm_90 %s: %s (compile %.1f s, runs %.1f s)", layout, line,
              r.compile_s, r.run_s);
  cr_assert_eq(r.variants, NSAMPLE, "%s: %zu variants kept", layout, r.variants);
  cr_assert_eq(r.dtypes, 2); /* f16 and bf16, never f32 */
  cr_assert_eq(r.runs, NSAMPLE * 2 * gsw_default_nshapes);
  cr_assert_eq(r.failures, 0, "%zu failures, first: %s", r.failures, r.first_failure);
}

Test(gemm_wgmma, host_NN, .timeout = TIMEOUT) { run_host("NN"); }
Test(gemm_wgmma, host_NT, .timeout = TIMEOUT) { run_host("NT"); }
Test(gemm_wgmma, host_TN, .timeout = TIMEOUT) { run_host("TN"); }
Test(gemm_wgmma, host_TT, .timeout = TIMEOUT) { run_host("TT"); }
