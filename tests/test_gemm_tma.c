/*
 * test_gemm_tma.c - the warp-specialized TMA GEMM template (templates/gemm/gemm_tma.h) and
 * the tensor-map launch contract it rests on: its space on h100 (size per layout, absent
 * elsewhere); its `tensormap` pragmas as the generator reads them (the maps' boxes per
 * layout from gen_emit_launch, the wrapper taking them as AT_TMAP_KERNEL_PARAM, the parse
 * cache keeping them); a sample that takes every value of every param compiled for sm_90a
 * by NVRTC with no spill, no serialized wgmma and no ignored setmaxnreg; the sample run on
 * the host device emulating h100 in every layout (f16 in two, bf16 in two) on shapes
 * whose rows are 16-byte aligned, checked against the f64 reference by gsw_run (tensor
 * maps built by the host backend through gemm_run.c); the persistent tile loop with fewer
 * blocks than tiles; and the runner refusing a map TMA cannot describe. None of this ran
 * on a GPU (bench/gpu/gemm14.sh is prepared for one).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tests/fixture.h"
#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tests/installed.h"
#include "tests/tspace.h"
#include "tuner/compile/build.h"
#include "tuner/compile/compile.h"
#include "tuner/ops/gemm_run.h"
#include "tuner/ops/gemm_sweep.h"
#include "tuner/ops/op_gemm.h"
#include "base/device.h"
#include "base/status.h"

#define TIMEOUT 36000
#define TEMPLATE AT_SOURCE_DIR "/templates/gemm/gemm_tma.h"
#define COMMON AT_SOURCE_DIR "/templates/common"

static const char *const incs[] = {COMMON, NULL};
static const char *const layouts[4] = {"NN", "NT", "TN", "TT"};

/* Valid configs of the default problem (4096^3) on h100, in every layout. */
/* 1488 data-parallel configs x5 (1x1; 2x1 and 1x2, with and without multicast), and 744
 * each of SCHED 2 and 3 (no clusters); with PINGPONG 1128 x5 and 564 each */
#define H100_VALID 15696

static void space_open(struct th_space *sp, const char *dev, int64_t m, int64_t n, int64_t k,
                       int ta, int tb)
{
  const int64_t dims[5] = {m, n, k, ta, tb};
  th_space_open(sp, TEMPLATE, dev, dims, 5);
}

/* Every value of every param: BM 64/128/256, BN 64/128/256, one and two consumer
 * warpgroups (MT 1 and 2), STAGES 2-8, WAIT 0/1, REGS 0/1, PERSIST 0/1, RASTER 0/1,
 * GROUP 1/8, EPI 0/1, CLUSTER 0 (1x1), 1 (2x1), 2 (1x2), MCAST 0/1, PINGPONG 0/1:
 * sample[4..7) are clusters (2x1 multicasting B, 1x2 multicasting A persistent, 2x1
 * without multicast), so every layout runs both halves of a K-major and an MN-major
 * box; sample[8] a ping-pong one. SCHED 1-3: tests/test_gemm_tma_sk.c. */
static const char *const sample[] = {
    "BM=64,BN=64,CWG=1,STAGES=2,WAIT=0,REGS=0,PERSIST=0,RASTER=0,GROUP=1,EPI=0,CLUSTER=0,"
        "MCAST=0,PINGPONG=0,SCHED=0",
    "BM=128,BN=128,CWG=2,STAGES=4,WAIT=1,REGS=1,PERSIST=1,RASTER=0,GROUP=8,EPI=1,CLUSTER=0,"
        "MCAST=0,PINGPONG=0,SCHED=0",
    "BM=128,BN=256,CWG=2,STAGES=3,WAIT=1,REGS=1,PERSIST=0,RASTER=1,GROUP=8,EPI=0,CLUSTER=0,"
        "MCAST=0,PINGPONG=0,SCHED=0",
    "BM=256,BN=64,CWG=2,STAGES=5,WAIT=0,REGS=0,PERSIST=1,RASTER=0,GROUP=1,EPI=1,CLUSTER=0,"
        "MCAST=0,PINGPONG=0,SCHED=0",
    "BM=64,BN=128,CWG=1,STAGES=7,WAIT=1,REGS=0,PERSIST=0,RASTER=0,GROUP=1,EPI=0,CLUSTER=1,"
        "MCAST=1,PINGPONG=0,SCHED=0",
    "BM=64,BN=128,CWG=1,STAGES=3,WAIT=0,REGS=0,PERSIST=1,RASTER=1,GROUP=8,EPI=1,CLUSTER=2,"
        "MCAST=1,PINGPONG=0,SCHED=0",
    "BM=128,BN=64,CWG=1,STAGES=8,WAIT=0,REGS=0,PERSIST=0,RASTER=0,GROUP=1,EPI=1,CLUSTER=1,"
        "MCAST=0,PINGPONG=0,SCHED=0",
    /* PINGPONG: two consumers taking turns at whole 128 x 128 tiles (two m64 tiles each,
     * EPI 1, WAIT 1); and 64 x 256 ones (one m64 tile, EPI 0) in a persistent 2x1
     * multicast cluster */
    "BM=128,BN=128,CWG=2,STAGES=6,WAIT=1,REGS=1,PERSIST=0,RASTER=0,GROUP=8,EPI=1,CLUSTER=0,"
        "MCAST=0,PINGPONG=1,SCHED=0",
    "BM=64,BN=256,CWG=2,STAGES=3,WAIT=0,REGS=1,PERSIST=1,RASTER=1,GROUP=8,EPI=0,CLUSTER=1,"
        "MCAST=1,PINGPONG=1,SCHED=0",
};
#define NSAMPLE (sizeof sample / sizeof sample[0])

Test(gemm_tma, space_on_h100_and_absent_elsewhere, .timeout = TIMEOUT)
{
  struct th_space sp;
  for (int l = 0; l < 4; l++) {
    space_open(&sp, "h100", 4096, 4096, 4096, l / 2, l % 2);
    cr_assert_eq(sp.n, H100_VALID, "h100 %s: %zu valid configs, want %d", layouts[l], sp.n,
                 H100_VALID);
    for (size_t s = 0; s < NSAMPLE; s++)
      cr_assert_geq(th_space_find(&sp, sample[s]), 0, "%s: sample %zu not in the space",
                    layouts[l], s);
    th_space_close(&sp);
  }
  /* rows that TMA cannot address (K = 4100: A's rows in NN are 8200 bytes) */
  space_open(&sp, "h100", 4096, 4096, 4100, 0, 0);
  cr_assert_eq(sp.n, 0, "unaligned K: %zu configs", sp.n);
  th_space_close(&sp);
  static const char *const others[] = {"a100", "mi300x", "host"};
  for (size_t d = 0; d < 3; d++) {
    space_open(&sp, others[d], 4096, 4096, 4096, 0, 0);
    cr_assert_eq(sp.n, 0, "%s: %zu configs", others[d], sp.n);
    th_space_close(&sp);
  }
  cr_assert_str_empty(gemm_template_not_for("gemm_tma", dev_find("h200"), false));
  cr_assert_str_eq(gemm_template_not_for("gemm_tma", dev_find("h100"), true),
                   "for f16 and bf16");
}

/* ---- the tensor-map contract as the generator reads it ------------------------------ */

Test(gemm_tma, tensormap_pragmas_reach_the_launch_and_the_wrapper, .timeout = TIMEOUT)
{
  struct th_space sp;
  for (int l = 0; l < 4; l++) {
    int ta = l / 2, tb = l % 2;
    space_open(&sp, "h100", 4096, 4096, 4096, ta, tb);
    cr_assert_eq(sp.t->ntmaps, 3);
    cr_assert_str_eq(sp.t->tmaps[0].param, "A");
    cr_assert_str_eq(sp.t->tmaps[1].param, "B");
    cr_assert_str_eq(sp.t->tmaps[2].param, "C");
    long at = th_space_find(&sp, sample[2]); /* 128 x 256 */
    cr_assert_geq(at, 0);
    const int64_t *cfg = sp.cfg + (size_t)at * sp.np;
    struct gen_bind bind = {.dev = sp.dev, .dims = sp.dims, .dtype = "f16"};
    struct gen_launch gl;
    cr_assert_eq(gen_emit_launch(sp.t, &bind, cfg, &gl), AT_OK, "%s", at_last_error());
    cr_assert_eq(gl.ntmaps, 3);
    /* K-major operands: one box of 64 k x the tile's rows; MN-major: 64 x 64 */
    cr_assert_eq(gl.tmaps[0].box[0], 64);
    cr_assert_eq(gl.tmaps[0].box[1], ta ? 64 : 128, "%s: A box", layouts[l]);
    cr_assert_eq(gl.tmaps[1].box[1], tb ? 256 : 64, "%s: B box", layouts[l]);
    cr_assert_eq(gl.tmaps[0].swizzle, 128);
    cr_assert_eq(gl.tmaps[2].box[0], 256);
    cr_assert_eq(gl.tmaps[2].box[1], 16);
    cr_assert_eq(gl.tmaps[2].swizzle, 0);
    cr_assert_str_eq(gl.tmaps[2].param, "C");
    /* the wrapper takes them by value on CUDA, by reference on the host (at_tma.h) */
    char *src = NULL;
    const int64_t *one[] = {cfg};
    cr_assert_eq(gen_emit_tu(sp.t, CC_CUDA, sp.s, &bind, one, 1, &src), AT_OK, "%s",
                 at_last_error());
    cr_assert_not_null(strstr(src, "float beta, void *WS, AT_TMAP_KERNEL_PARAM tmap_A, "
                                   "AT_TMAP_KERNEL_PARAM tmap_B, AT_TMAP_KERNEL_PARAM tmap_C)"),
                       "%s", src + strlen(src) - 400);
    free(src);
    th_space_close(&sp);
  }
}

/* The parse cache keeps the pragmas (a template served from it launches the same maps). */
Test(gemm_tma, parse_cache_keeps_the_tensormaps, .timeout = TIMEOUT)
{
  char *dir = th_tmpdir();
  struct tmpl *fresh = NULL, *stored = NULL, *cached = NULL;
  cr_assert_eq(tmpl_open(TEMPLATE, incs, "", &fresh), AT_OK, "%s", at_last_error());
  cr_assert_eq(tmpl_open(TEMPLATE, incs, dir, &stored), AT_OK, "%s", at_last_error());
  cr_assert_eq(tmpl_open(TEMPLATE, incs, dir, &cached), AT_OK, "%s", at_last_error());
  cr_assert(cached->from_cache);
  cr_assert_eq(cached->ntmaps, fresh->ntmaps);
  for (size_t i = 0; i < fresh->ntmaps; i++) {
    cr_assert_str_eq(cached->tmaps[i].param, fresh->tmaps[i].param);
    cr_assert_eq(cached->tmaps[i].line, fresh->tmaps[i].line);
    for (int k = 0; k < 3; k++)
      cr_assert_str_eq(cached->tmaps[i].text[k], fresh->tmaps[i].text[k]);
    cr_assert_not_null(cached->tmaps[i].e[2]);
  }
  tmpl_free(fresh);
  tmpl_free(stored);
  tmpl_free(cached);
  th_rmtree(dir);
  free(dir);
}

/* ---- compiled for sm_90a ------------------------------------------------------------- */

Test(gemm_tma, sample_compiles_for_sm90a_without_spills, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  size_t variants = 0;
  int max_regs = 0;
  for (int l = 0; l < 4; l += 3) { /* NN and TT: every operand path */
    struct th_space sp;
    space_open(&sp, "h100", 4096, 4096, 4096, l / 2, l % 2);
    int64_t *cfg = th_space_configs(&sp, sample, NSAMPLE);
    const char *dtype = l ? "bf16" : "f16";
    struct bld_options o = {.batch = 8, .backend = "nvrtc", .cache_dir = th_cache_dir(),
                            .include_dirs = incs};
    struct bld_result r;
    cr_assert_eq(bld_run(sp.t, sp.s, dev_find("h100"), sp.dims, dtype, cfg, NSAMPLE, &o, &r),
                 AT_OK, "%s", at_last_error());
    for (size_t i = 0; i < r.nvariants; i++) {
      const struct bld_variant *v = &r.variants[i];
      cr_assert_eq(v->verdict, BLD_OK, "%s %s %s: %s\n%s", layouts[l], dtype, v->config_text,
                   v->reason ? v->reason : "", v->log ? v->log : "");
      cr_assert_eq(v->res.spill_bytes, 0, "%s: %lld spill bytes", v->config_text,
                   (long long)v->res.spill_bytes);
      if (v->res.registers > max_regs)
        max_regs = v->res.registers;
      variants++;
    }
    for (size_t b = 0; b < r.nbatches; b++) {
      const char *log = r.batches[b].log;
      cr_assert(log && strstr(log, "for 'sm_90a'"), "no ptxas report:\n%s", log ? log : "");
      cr_assert(!strstr(log, "serialized"), "%s: ptxas serialized wgmma:\n%s", layouts[l], log);
      cr_assert(!strstr(log, "setmaxnreg"), "%s: ptxas on setmaxnreg:\n%s", layouts[l], log);
    }
    bld_result_release(&r);
    free(cfg);
    th_space_close(&sp);
  }
  cr_log_info("gemm_tma sm_90a sample: %zu variants, no spills, at most %d registers", variants,
              max_regs);
  cr_assert_eq(variants, 2 * NSAMPLE);
}

/* ---- correctness on the host device emulating h100 ---------------------------------- */

static int keep_sample(void *ctx, const char *config)
{
  (void)ctx;
  for (size_t s = 0; s < NSAMPLE; s++)
    if (th_cfg_matches(config, sample[s]))
      return 1;
  return 0;
}

/* Edges in every dim, a K tail, beta 0, padded leading dimensions; rows 16-byte aligned
 * (the persistent test below has beta != 0); and m64 x BN fragments wholly inside C with
 * beta != 0 (the direct epilogue's unguarded stores, at_wgmma_store_d_inside). */
static const struct gsw_shape shapes[] = {
    {8, 8, 8, 0, false}, {72, 136, 200, 8, true}, {72, 136, 16, 0, false}};

static void run_host(const char *layout, enum gemm_dtype dt)
{
  th_need_cc(&cc_host);
  const char *const one[] = {layout, NULL};
  struct gsw_options o = {.dev = dev_find("h100"), .layouts = one, .filter = keep_sample,
                          .shapes = shapes, .nshapes = sizeof shapes / sizeof shapes[0],
                          .dtypes = &dt, .ndtypes = 1, .jobs = 2, .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(TEMPLATE, &o, &r), AT_OK, "%s", at_last_error());
  char line[256];
  gsw_summary(&r, line, sizeof line);
  cr_log_info("gemm_tma host:sm_90 %s: %s (compile %.1f s, runs %.1f s)", layout, line,
              r.compile_s, r.run_s);
  cr_assert_eq(r.variants, NSAMPLE, "%s: %zu variants kept", layout, r.variants);
  cr_assert_eq(r.runs, NSAMPLE * (sizeof shapes / sizeof shapes[0]));
  cr_assert_eq(r.failures, 0, "%zu failures, first: %s", r.failures, r.first_failure);
}

Test(gemm_tma, host_NN_f16, .timeout = TIMEOUT) { run_host("NN", GEMM_F16); }
Test(gemm_tma, host_NT_bf16, .timeout = TIMEOUT) { run_host("NT", GEMM_BF16); }
Test(gemm_tma, host_TN_bf16, .timeout = TIMEOUT) { run_host("TN", GEMM_BF16); }
Test(gemm_tma, host_TT_f16, .timeout = TIMEOUT) { run_host("TT", GEMM_F16); }

/* sample[which] of sp on d's problem: its own grid (`own` blocks, clusters of `cluster`),
 * then each of grids[0..n) (0: the own one), every launch checked against the reference. */
static void walk(const struct th_space *sp, const struct gen_bind *bind,
                 const struct gemm_data *d, size_t which, int64_t own, int64_t cluster,
                 const int64_t *grids, size_t n, const char *what)
{
  long at = th_space_find(sp, sample[which]);
  cr_assert_geq(at, 0);
  const int64_t *cfg = sp->cfg + (size_t)at * sp->np;
  struct th_hostk k;
  meas_kernel kern;
  th_hostk_load_variants(&k, sp, "f16", &cfg, 1, "host:sm_90", &kern);
  struct gemm_buffers buf;
  cr_assert_eq(gemm_buffers_init(&meas_host, k.ctx, d, &buf), AT_OK, "%s", at_last_error());
  struct gen_launch gl;
  cr_assert_eq(gen_emit_launch(sp->t, bind, cfg, &gl), AT_OK, "%s", at_last_error());
  cr_assert_eq(gl.grid[0], own, "%s: grid %lld, want %lld", what, (long long)gl.grid[0],
               (long long)own);
  cr_assert_eq(gl.cluster[0] > 1 ? gl.cluster[0] : 1, cluster, "%s: cluster", what);
  for (size_t i = 0; i < n; i++) {
    gl.grid[0] = grids[i] ? grids[i] : own;
    int64_t bad = 0;
    char msg[256] = "";
    cr_assert_eq(gemm_verify(&meas_host, k.ctx, kern, &gl, d, &buf, &bad, msg, sizeof msg),
                 AT_OK, "%s, %lld blocks: %s", what, (long long)gl.grid[0], at_last_error());
    cr_assert_eq(bad, 0, "%s, %lld blocks: %lld wrong, first %s", what,
                 (long long)gl.grid[0], (long long)bad, msg);
  }
  gemm_buffers_release(&meas_host, k.ctx, &buf);
  th_hostk_close(&k);
}

/* The persistent walk: one and three blocks for 3 x 3 tiles (every tile after the first
 * reuses the ring's stages, barrier phases carrying over), the same walks with the
 * consumers taking turns (PINGPONG: 9 units, so one block's consumers get 5 and 4, the
 * ring's stages passing from one to the other mid-phase), and a map the runner must
 * refuse (lda 100: rows 200 bytes apart, not a multiple of 16). */
Test(gemm_tma, persistent_walk_and_unaligned_rows, .timeout = TIMEOUT)
{
  struct th_space sp;
  space_open(&sp, "h100", 4096, 4096, 4096, 0, 1);
  long at = th_space_find(&sp, sample[1]); /* 128 x 128, EPI 1, WAIT 1 */
  cr_assert_geq(at, 0);
  const int64_t *cfg = sp.cfg + (size_t)at * sp.np;
  struct th_hostk k;
  meas_kernel kern;
  th_hostk_load_variants(&k, &sp, "f16", &cfg, 1, "host:sm_90", &kern);
  struct gemm_problem p = {.dtype = GEMM_F16, .ta = 0, .tb = 1, .m = 320, .n = 264, .k = 136,
                           .alpha = 1.0f, .beta = 0.5f};
  gemm_problem_resolve(&p);
  struct gemm_data d;
  struct gemm_buffers buf;
  cr_assert_eq(gemm_data_init(&d, &p, 7), AT_OK);
  cr_assert_eq(gemm_buffers_init(&meas_host, k.ctx, &d, &buf), AT_OK, "%s", at_last_error());
  const int64_t dims[5] = {p.m, p.n, p.k, 0, 1};
  struct gen_bind bind = {.dev = sp.dev, .dims = dims, .dtype = "f16"};
  struct gen_launch gl;
  cr_assert_eq(gen_emit_launch(sp.t, &bind, cfg, &gl), AT_OK, "%s", at_last_error());
  cr_assert_eq(gl.grid[0], 9);
  for (int blocks = 1; blocks <= 3; blocks += 2) {
    gl.grid[0] = blocks;
    int64_t bad = 0;
    char msg[256] = "";
    cr_assert_eq(gemm_verify(&meas_host, k.ctx, kern, &gl, &d, &buf, &bad, msg, sizeof msg),
                 AT_OK, "%d blocks: %s", blocks, at_last_error());
    cr_assert_eq(bad, 0, "%d blocks: %lld wrong, first %s", blocks, (long long)bad, msg);
  }
  /* sample[7]: the same tiles with the consumers taking turns; its own grid gives each
   * block two units (5 blocks for 9) */
  static const int64_t pp_grids[] = {0, 1, 3};
  walk(&sp, &bind, &d, 7, 5, 1, pp_grids, 3, "ping-pong");
  /* a 1x2 multicast cluster (sample[5]): 5 x 3 tiles in 5 x 2 pairs, walked by one and
   * three clusters (the grid stays a multiple of 2, the walk cluster-aligned) */
  static const int64_t cluster_grids[] = {2, 6};
  walk(&sp, &bind, &d, 5, 20, 2, cluster_grids, 2, "1x2 multicast");
  gemm_buffers_release(&meas_host, k.ctx, &buf);
  gemm_data_release(&d);
  /* lda = 100 elements: TMA cannot describe the rows, and the runner says so */
  p.lda = 100, p.k = 96;
  cr_assert_eq(gemm_data_init(&d, &p, 7), AT_OK);
  cr_assert_eq(gemm_buffers_init(&meas_host, k.ctx, &d, &buf), AT_OK);
  int64_t bad = 0;
  char msg[256];
  int rc = gemm_verify(&meas_host, k.ctx, kern, &gl, &d, &buf, &bad, msg, sizeof msg);
  cr_assert_eq(rc, AT_USAGE);
  cr_assert(strstr(at_last_error(), "tensor map over A") &&
                strstr(at_last_error(), "multiple of 16"),
            "%s", at_last_error());
  gemm_buffers_release(&meas_host, k.ctx, &buf);
  gemm_data_release(&d);
  th_hostk_close(&k);
  th_space_close(&sp);
}

/* ---- the tuned header's launcher builds the maps ------------------------------------- */

/* A database whose one winner (f16 NN on host:h100) is sample[which] of gemm_tma. */
static char *planted_db(const char *dir, size_t which)
{
  struct th_space sp;
  space_open(&sp, "h100", 4096, 4096, 4096, 0, 0);
  long at = th_space_find(&sp, sample[which]);
  cr_assert_geq(at, 0);
  char *config = NULL;
  cr_assert_eq(gen_space_config_text(sp.s, sp.cfg + (size_t)at * sp.np, &config), AT_OK);
  const struct db_problem problem = {.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3,
                                     .dim_names = {"m", "n", "k"}, .dims = {256, 256, 256}};
  char *path = fx_winner_db(dir, "tma.db", "host:h100", "host:sm_90", sp.t->kernel, sp.t->hash,
                            &problem, config);
  free(config);
  th_space_close(&sp);
  return path;
}

/* The kernels-mode header of a gemm_tma winner, run on the host (the launcher encodes
 * the maps, the emulator runs the kernel, C checked against a double reference) and
 * compiled by nvcc for sm_90a (the maps are __grid_constant__ kernel parameters, the
 * copies bulk tensor copies). */
static void tuned_header(size_t which)
{
  char *dir = th_tmpdir(), *db = planted_db(dir, which), *hdr = th_path(dir, "tuned_gemm.h");
  struct th_result r;
  th_run(&r, "emit-header gemm --device host:h100 --db '%s' --out '%s'", db, hdr);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *text = th_read(hdr, NULL);
  cr_assert_not_null(text);
  if (which == 1)
    cr_assert_not_null(strstr(text, "at_tuned_tmap_(&tm_[0], A, sizeof *A, M, K, lda, (64LL), "
                                    "((0LL ? 64LL : 128LL) / (0LL == 1LL ? 1LL : 1LL)), (128LL))"),
                       "%s", text);
  else /* the 1x2 multicast: half of A's box, a cluster of 2 */
    cr_assert(strstr(text, "AT_TUNED_CLUSTER_(2, 1, 1) at_tuned_gemm_v0_") &&
                  strstr(text, "((0LL ? 64LL : 64LL) / (1LL == 1LL ? 2LL : 1LL))"),
              "%s", text);
  cr_assert_not_null(strstr(text, "alpha, beta, workspace, tm_[0], tm_[1], tm_[2]);"));
  free(text);
  static const char app[] =
      "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
      "#include \"tuned_gemm.h\"\n"
      "int main() {\n"
      "  const int M = 200, N = 136, K = 72;\n"
      "  at_half *A = (at_half *)aligned_alloc(64, M * K * 2);\n"
      "  at_half *B = (at_half *)aligned_alloc(64, K * N * 2);\n"
      "  at_half *C = (at_half *)aligned_alloc(64, M * N * 2);\n"
      "  for (int i = 0; i < M * K; i++) A[i] = at_from_float<at_half>((float)(i % 7 - 3));\n"
      "  for (int i = 0; i < K * N; i++) B[i] = at_from_float<at_half>((float)(i % 5 - 2));\n"
      "  for (int i = 0; i < M * N; i++) C[i] = at_from_float<at_half>(1.0f);\n"
      "  int rc = at_tuned_gemm_f16_nn(A, B, C, M, N, K, K, N, N, 0.5f, 2.0f, nullptr);\n"
      "  if (rc) { printf(\"launch %d\\n\", rc); free(A), free(B), free(C); return 1; }\n"
      "  int bad = 0;\n"
      "  for (int m = 0; m < M; m++)\n"
      "    for (int n = 0; n < N; n++) {\n"
      "      double s = 0;\n"
      "      for (int k = 0; k < K; k++)\n"
      "        s += (double)((m * K + k) % 7 - 3) * (double)((k * N + n) % 5 - 2);\n"
      "      bad += fabs(at_to_float(C[m * N + n]) - (0.5 * s + 2.0)) > 0.01 * fabs(s) + 0.05;\n"
      "    }\n"
      "  printf(\"%d wrong\\n\", bad);\n"
      "  free(A), free(B), free(C);\n"
      "  return bad != 0;\n"
      "}\n";
  inst_run_header_app(dir, app);
  static const char gpu_app[] = "#include \"tuned_gemm.h\"\n"
                                "int run(at_half *p, cudaStream_t s) {\n"
                                "  return at_tuned_gemm_f16_nn(p, p, p, 200, 136, 72, 72, 136, "
                                "136, 1.f, 0.f, s);\n}\n";
  char *ptx = inst_header_ptx_sm90a(dir, gpu_app);
  if (ptx) {
    cr_assert_not_null(strstr(ptx, "cp.async.bulk.tensor.2d.shared::cluster.global"));
    cr_assert_not_null(strstr(ptx, ".param .align 64 .b8"), "the maps are not by-value params");
    cr_assert_not_null(strstr(ptx, "wgmma.mma_async"));
    if (which != 1)
      cr_assert(strstr(ptx, ".reqnctapercluster 2, 1, 1") && strstr(ptx, ".multicast::cluster"),
                "the cluster variant's PTX has no cluster shape or multicast");
    free(ptx);
  }
  free(hdr), free(db);
  th_rmtree(dir);
  free(dir);
}

Test(gemm_tma, tuned_header_launcher_builds_the_maps, .timeout = TIMEOUT) { tuned_header(1); }
/* a 1x2 multicast winner: __cluster_dims__ on CUDA, at_host_launch_cluster on the host */
Test(gemm_tma, tuned_header_launches_a_cluster, .timeout = TIMEOUT) { tuned_header(5); }
