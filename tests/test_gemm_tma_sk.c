/*
 * test_gemm_tma_sk.c - the tile scheduler of the warp-specialized TMA GEMM
 * (templates/gemm/gemm_tma.h, SCHED): split-K (1), stream-K (2) and the data-parallel +
 * stream-K hybrid (3), whose partial tiles meet through the workspace. Checked: where the
 * space offers them (split-K only where the tiles leave SMs idle, stream-K only where the
 * tiles are no whole number of waves) and the workspace each asks for; a sample compiled
 * for sm_90a by NVRTC (no spills, no serialized wgmma); the sample run on the host device
 * emulating h100 in every layout on shapes with a K tail, fewer k-tiles than splits and
 * (TN) an odd K, through gsw_run (f64 reference, the runner's workspace-left-zero check);
 * and the walks a GPU would see, forced on the host by smaller grids: stream-K blocks
 * crossing tile bounds, the hybrid's data-parallel tiles then its stream-K wave, split-K
 * units walked persistently. None of this ran on a GPU.
 *
 * The full sweep of every SCHED variant (not run by default; hours on two cores):
 *   AT_TMA_SK_FULL=1 build/test_gemm_tma_sk --filter 'gemm_tma_sk/full_sweep'
 * or one scheduler at a time: build/bench_gemm_sweep gemm_tma --emulate h100 --aligned
 * --filter SCHED=N --jobs 2 (N = 1, 2, 3).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "tests/hostk.h"
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

/* A sample config (its params) and a problem whose space has it. */
struct pick {
  const char *cfg;
  int64_t m, n, k;
};

/* Split-K 2 and 4 (4 > KT on the K 136 shape: an empty slice), stream-K with one m64
 * tile per warpgroup and with two, the hybrid with 128 x 256 tiles and a grouped raster,
 * stream-K with 256 x 128 tiles on two warpgroups at 168 registers (it spilled while the
 * fixup summed into a second accumulator set); WAIT, REGS, EPI both ways. With PINGPONG
 * (each consumer fixes up its own units, on its own barrier): split-K 2 on 128 x 128 and
 * stream-K on 64 x 128. */
static const struct pick sample[] = {
    {"BM=64,BN=64,CWG=1,STAGES=2,WAIT=0,REGS=0,PERSIST=0,RASTER=0,GROUP=1,EPI=0,SCHED=1,SPLITS=2,"
     "PINGPONG=0", 512, 512, 1024},
    {"BM=128,BN=128,CWG=2,STAGES=4,WAIT=1,REGS=1,PERSIST=0,RASTER=0,GROUP=1,EPI=1,SCHED=1,SPLITS=4,"
     "PINGPONG=0", 512, 512, 1024},
    {"BM=64,BN=128,CWG=1,STAGES=3,WAIT=1,REGS=0,PERSIST=0,RASTER=0,GROUP=1,EPI=1,SCHED=2,SPLITS=1,"
     "PINGPONG=0", 512, 512, 1024},
    {"BM=128,BN=128,CWG=1,STAGES=3,WAIT=0,REGS=0,PERSIST=0,RASTER=0,GROUP=1,EPI=0,SCHED=2,SPLITS=1,"
     "PINGPONG=0", 512, 512, 1024},
    {"BM=128,BN=256,CWG=2,STAGES=3,WAIT=1,REGS=1,PERSIST=0,RASTER=1,GROUP=8,EPI=1,SCHED=3,SPLITS=1,"
     "PINGPONG=0", 4096, 4096, 4096},
    {"BM=256,BN=128,CWG=2,STAGES=3,WAIT=1,REGS=1,PERSIST=0,RASTER=0,GROUP=1,EPI=1,SCHED=2,SPLITS=1,"
     "PINGPONG=0", 4096, 4096, 4096},
    {"BM=128,BN=128,CWG=2,STAGES=4,WAIT=1,REGS=1,PERSIST=0,RASTER=0,GROUP=1,EPI=1,SCHED=1,SPLITS=2,"
     "PINGPONG=1", 512, 512, 1024},
    {"BM=64,BN=128,CWG=2,STAGES=3,WAIT=0,REGS=0,PERSIST=0,RASTER=0,GROUP=1,EPI=0,SCHED=2,SPLITS=1,"
     "PINGPONG=1", 512, 512, 1024},
};
#define NSAMPLE (sizeof sample / sizeof sample[0])

static void space_open(struct th_space *sp, int64_t m, int64_t n, int64_t k, int ta, int tb)
{
  const int64_t dims[5] = {m, n, k, ta, tb};
  th_space_open(sp, TEMPLATE, "h100", dims, 5);
}

/* ---- the space and the workspace ----------------------------------------------------- */

Test(gemm_tma_sk, space_and_workspace, .timeout = TIMEOUT)
{
  struct th_space sp;
  /* 4096^3: 512 tiles and more for 132 SMs: stream-K and the hybrid, no split-K, and
   * neither persistent again */
  space_open(&sp, 4096, 4096, 4096, 0, 0);
  cr_assert_eq(th_space_count(&sp, "SCHED=1"), 0);
  cr_assert_gt(th_space_count(&sp, "SCHED=2"), 0);
  cr_assert_eq(th_space_count(&sp, "SCHED=2"), th_space_count(&sp, "SCHED=3"));
  for (size_t i = 0; i < sp.n; i++)
    if (th_space_get(&sp, i, "SCHED") >= 2)
      cr_assert_eq(th_space_get(&sp, i, "PERSIST"), 0);
  cr_assert_geq(th_space_find(&sp, sample[4].cfg), 0);
  th_space_close(&sp);
  /* 1024^3, 128 x 128: 64 tiles, half the SMs idle: split-K 2 and 4, stream-K, no
   * hybrid (that only for more tiles than SMs: 64 x 64); SPLITS only with SCHED 1 */
  space_open(&sp, 1024, 1024, 1024, 0, 1);
  cr_assert_gt(th_space_count(&sp, "SCHED=1"), 0);
  cr_assert_gt(th_space_count(&sp, "SCHED=3"), 0);
  size_t sk128 = 0;
  for (size_t i = 0; i < sp.n; i++) {
    int64_t sched = th_space_get(&sp, i, "SCHED"), splits = th_space_get(&sp, i, "SPLITS");
    int64_t tiles = 1024 / th_space_get(&sp, i, "BM") * (1024 / th_space_get(&sp, i, "BN"));
    cr_assert_eq(sched == 1, splits > 1);
    cr_assert(sched != 3 || tiles > 132, "hybrid with %lld tiles", (long long)tiles);
    cr_assert(sched != 1 || tiles * splits / 2 < 132, "split %lld x %lld", (long long)tiles,
              (long long)splits);
    sk128 += sched == 1 && th_space_get(&sp, i, "BM") == 128 &&
             th_space_get(&sp, i, "BN") == 128 && splits == 4;
  }
  cr_assert_gt(sk128, 0);
  th_space_close(&sp);
  /* K 64: one k-tile, nothing to split; 64 x 64 tiles: 264, two whole waves, no
   * stream-K (128 x 128: 72 tiles, stream-K) */
  space_open(&sp, 64 * 24, 64 * 11, 64, 0, 0);
  cr_assert_eq(th_space_count(&sp, "SCHED=1"), 0);
  cr_assert_gt(th_space_count(&sp, "SCHED=2"), 0);
  for (size_t i = 0; i < sp.n; i++)
    cr_assert(th_space_get(&sp, i, "SCHED") == 0 || th_space_get(&sp, i, "BM") != 64 ||
              th_space_get(&sp, i, "BN") != 64);
  th_space_close(&sp);
  for (size_t s = 0; s < NSAMPLE; s++) {
    space_open(&sp, sample[s].m, sample[s].n, sample[s].k, 0, 0);
    cr_assert_geq(th_space_find(&sp, sample[s].cfg), 0, "sample %zu not in its space", s);
    th_space_close(&sp);
  }

  /* The workspace: tile counters rounded to 16 bytes, then BM x BN f32 slots, one per
   * (tile, split) or two per block; the grid: units, or min(k-tiles, SMs). */
  space_open(&sp, 512, 512, 1024, 0, 0);
  const int64_t dims[5] = {72, 136, 200, 0, 0}; /* 2 x 3 tiles of 64, KT 4 */
  struct gen_bind bind = {.dev = sp.dev, .dims = dims, .dtype = "f16"};
  struct gen_launch gl;
  cr_assert_eq(
      gen_emit_launch(sp.t, &bind, sp.cfg + th_space_find(&sp, sample[0].cfg) * sp.np, &gl),
      AT_OK, "%s", at_last_error());
  cr_assert_eq(gl.has_workspace, 1);
  cr_assert_eq(gl.grid[0], 6 * 2);
  cr_assert_eq(gl.workspace, 4 * (8 + 64 * 64 * 6 * 2));
  cr_assert_eq(
      gen_emit_launch(sp.t, &bind, sp.cfg + th_space_find(&sp, sample[2].cfg) * sp.np, &gl),
      AT_OK, "%s", at_last_error());
  cr_assert_eq(gl.grid[0], 2 * 2 * 4); /* 64 x 128: 2 x 2 tiles, 4 k-tiles each */
  cr_assert_eq(gl.workspace, 4 * (4 + 64 * 128 * 2 * 16));
  /* a data-parallel variant: none */
  for (size_t i = 0; i < sp.n; i++)
    if (th_space_get(&sp, i, "SCHED") == 0) {
      cr_assert_eq(gen_emit_launch(sp.t, &bind, sp.cfg + i * sp.np, &gl), AT_OK);
      cr_assert_eq(gl.workspace, 0);
      break;
    }
  th_space_close(&sp);
}

/* ---- compiled for sm_90a ------------------------------------------------------------- */

Test(gemm_tma_sk, sample_compiles_for_sm90a_without_spills, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  size_t variants = 0;
  int max_regs = 0;
  char regs[256] = "";
  for (int l = 0; l < 4; l += 3) { /* NN and TT: every operand path */
    int64_t cfg[NSAMPLE][64];
    struct th_space sp[NSAMPLE];
    for (size_t s = 0; s < NSAMPLE; s++) {
      space_open(&sp[s], sample[s].m, sample[s].n, sample[s].k, l / 2, l % 2);
      long at = th_space_find(&sp[s], sample[s].cfg);
      cr_assert_geq(at, 0);
      cr_assert_leq(sp[s].np, 64);
      memcpy(cfg[s], sp[s].cfg + (size_t)at * sp[s].np, sp[s].np * sizeof cfg[s][0]);
    }
    int64_t *flat = malloc(NSAMPLE * sp[0].np * sizeof *flat);
    cr_assert_not_null(flat);
    for (size_t s = 0; s < NSAMPLE; s++)
      memcpy(flat + s * sp[0].np, cfg[s], sp[0].np * sizeof *flat);
    const char *dtype = l ? "bf16" : "f16";
    struct bld_options o = {.batch = 8, .backend = "nvrtc", .cache_dir = th_cache_dir(),
                            .include_dirs = incs};
    struct bld_result r;
    cr_assert_eq(bld_run(sp[0].t, sp[0].s, dev_find("h100"), sp[0].dims, dtype, flat, NSAMPLE,
                         &o, &r),
                 AT_OK, "%s", at_last_error());
    for (size_t i = 0; i < r.nvariants; i++) {
      const struct bld_variant *v = &r.variants[i];
      cr_assert_eq(v->verdict, BLD_OK, "%s %s %s: %s\n%s", layouts[l], dtype, v->config_text,
                   v->reason ? v->reason : "", v->log ? v->log : "");
      cr_assert_eq(v->res.spill_bytes, 0, "%s: %lld spill bytes", v->config_text,
                   (long long)v->res.spill_bytes);
      if (v->res.registers > max_regs)
        max_regs = v->res.registers;
      if (l == 0)
        snprintf(regs + strlen(regs), sizeof regs - strlen(regs), "%s%d", i ? " " : "",
                 v->res.registers);
      variants++;
    }
    for (size_t b = 0; b < r.nbatches; b++) {
      const char *log = r.batches[b].log;
      cr_assert(log && strstr(log, "for 'sm_90a'"), "no ptxas report:\n%s", log ? log : "");
      cr_assert(!strstr(log, "serialized"), "%s: ptxas serialized wgmma:\n%s", layouts[l], log);
      cr_assert(!strstr(log, "setmaxnreg"), "%s: ptxas on setmaxnreg:\n%s", layouts[l], log);
    }
    bld_result_release(&r);
    free(flat);
    for (size_t s = 0; s < NSAMPLE; s++)
      th_space_close(&sp[s]);
  }
  cr_log_info("gemm_tma SCHED sm_90a sample: %zu variants, no spills, registers (NN) %s, "
              "at most %d", variants, regs, max_regs);
  cr_assert_eq(variants, 2 * NSAMPLE);
}

/* The hand-over's ordering, which the host cannot show (its blocks' stores are never
 * reordered): in the sm_90a PTX of a stream-K variant a device-scope fence comes after
 * the partial's stores and before the counter's atomic, and another after the atomic
 * before the L1-bypassing loads of the other blocks' partials. */
static const char *find_after(const char *from, const char *what)
{
  return from ? strstr(from, what) : NULL;
}

Test(gemm_tma_sk, ptx_fences_around_the_count, .timeout = TIMEOUT)
{
  const char *nvcc = cc_nvcc_path();
  if (!nvcc)
    cr_skip_test("no nvcc to print the PTX");
  struct th_space sp;
  space_open(&sp, sample[2].m, sample[2].n, sample[2].k, 0, 0);
  long at = th_space_find(&sp, sample[2].cfg);
  cr_assert_geq(at, 0);
  const int64_t *one[] = {sp.cfg + (size_t)at * sp.np};
  struct gen_bind bind = {.dev = sp.dev, .dims = sp.dims, .dtype = "f16"};
  char *src = NULL;
  cr_assert_eq(gen_emit_tu(sp.t, CC_CUDA, sp.s, &bind, one, 1, &src), AT_OK, "%s",
               at_last_error());
  char *dir = th_tmpdir(), *cu = th_path(dir, "sk.cu"), *ptx = th_path(dir, "sk.ptx");
  cr_assert_eq(th_write(cu, src, strlen(src)), 0);
  struct th_result r;
  th_sh(&r, "'%s' -std=c++17 -gencode arch=compute_90a,code=sm_90a -I'" COMMON "' --ptx "
            "'%s' -o '%s' 2>&1", nvcc, cu, ptx);
  cr_assert_eq(r.code, 0, "nvcc: %s", r.out);
  th_result_free(&r);
  char *text = th_read(ptx, NULL);
  cr_assert_not_null(text);
  const char *st = strstr(text, "st.global.v4.f32");
  const char *f1 = find_after(st, "membar.gl");
  const char *atom = find_after(f1, "atom.global.add.u32");
  const char *f2 = find_after(atom, "membar.gl");
  const char *ld = find_after(f2, "ld.global.cg.v4.f32");
  cr_assert(st && f1 && atom && f2 && ld,
            "PTX order st.global %d, membar.gl %d, atom.add %d, membar.gl %d, ld.cg %d", !!st,
            !!f1, !!atom, !!f2, !!ld);
  /* no atomic between the stores and the first fence */
  const char *early = strstr(st, "atom.global.add.u32");
  cr_assert(early > f1, "the counter's atomic before the fence");
  free(text), free(src), free(cu), free(ptx);
  th_rmtree(dir);
  free(dir);
  th_space_close(&sp);
}

/* ---- correctness on the host device emulating h100 ---------------------------------- */

static int keep_sample(void *ctx, const char *config)
{
  (void)ctx;
  for (size_t s = 0; s < NSAMPLE; s++)
    if (th_cfg_matches(config, sample[s].cfg))
      return 1;
  return 0;
}

/* Tiles well below the SMs everywhere. 72 x 136 x 200: edges in every dim, a K tail
 * (KT 4), beta 0; 200 x 264 x 136 padded: KT 3 (split-K 2 uneven, 4 with an empty
 * slice), beta -0.5; 8 x 8 x 8: one k-tile for 2 or 4 slices, a stream-K block per
 * iteration. TN (K contiguous in neither operand) takes an odd K instead of the last. */
static const struct gsw_shape shapes[] = {
    {72, 136, 200, 0, true}, {200, 264, 136, 8, false}, {8, 8, 8, 0, false}};
static const struct gsw_shape shapes_tn[] = {
    {72, 136, 200, 0, true}, {200, 264, 136, 8, false}, {136, 72, 201, 0, false}};
#define NSHAPES 3

static void run_host(const char *layout, enum gemm_dtype dt)
{
  th_need_cc(&cc_host);
  const char *const one[] = {layout, NULL};
  struct gsw_options o = {.dev = dev_find("h100"), .layouts = one, .filter = keep_sample,
                          .shapes = strcmp(layout, "TN") == 0 ? shapes_tn : shapes,
                          .nshapes = NSHAPES, .dtypes = &dt, .ndtypes = 1, .jobs = 2,
                          .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(TEMPLATE, &o, &r), AT_OK, "%s", at_last_error());
  char line[256];
  gsw_summary(&r, line, sizeof line);
  cr_log_info("gemm_tma SCHED host:sm_90 %s: %s (compile %.1f s, runs %.1f s)", layout, line,
              r.compile_s, r.run_s);
  cr_assert_eq(r.variants, NSAMPLE, "%s: %zu variants kept", layout, r.variants);
  cr_assert_eq(r.runs, NSAMPLE * NSHAPES);
  cr_assert_eq(r.failures, 0, "%zu failures, first: %s", r.failures, r.first_failure);
}

Test(gemm_tma_sk, host_NN_f16, .timeout = TIMEOUT) { run_host("NN", GEMM_F16); }
Test(gemm_tma_sk, host_NT_bf16, .timeout = TIMEOUT) { run_host("NT", GEMM_BF16); }
Test(gemm_tma_sk, host_TN_f16, .timeout = TIMEOUT) { run_host("TN", GEMM_F16); }
Test(gemm_tma_sk, host_TT_bf16, .timeout = TIMEOUT) { run_host("TT", GEMM_BF16); }

/* The walks of a GPU-sized grid, forced by smaller grids on 640 x 264 x 136 NT f16 (beta
 * 0.5), after each variant's own grid: 128 x 128 stream-K (15 tiles, KT 3: 45
 * iterations, its grid 45: three blocks a tile) on 2 and 7 blocks (units crossing tile
 * bounds); the hybrid's 128 x 256 (10 tiles, its grid 30: all stream-K) on 3 blocks (6
 * tiles data-parallel, then 4 stream-K) and 4 (4 + 6); split-K 4 (an empty slice: KT 3,
 * grid 60) walked by 7 persistent blocks; the ping-pong stream-K 64 x 128 (30 tiles, KT
 * 3, its grid 90) on 2 and 5 blocks (each block's units alternating between its two
 * consumers, partial ones on both). Every launch also has to leave the workspace zero. */
Test(gemm_tma_sk, forced_grids, .timeout = TIMEOUT)
{
  static const struct {
    int sample, blocks[5];
  } runs[] = {{3, {2, 7, 0, 0, 0}}, {4, {3, 4, 0, 0, 0}}, {1, {7, 0, 0, 0, 0}},
               {7, {2, 5, 0, 0, 0}}};
  enum { NRUNS = sizeof runs / sizeof runs[0] };
  const int64_t *cfg[NRUNS];
  struct th_space sp[NRUNS];
  for (int i = 0; i < NRUNS; i++) {
    const struct pick *p = &sample[runs[i].sample];
    space_open(&sp[i], p->m, p->n, p->k, 0, 1);
    long at = th_space_find(&sp[i], p->cfg);
    cr_assert_geq(at, 0);
    cfg[i] = sp[i].cfg + (size_t)at * sp[i].np;
  }
  struct th_hostk k;
  meas_kernel kern[NRUNS];
  th_hostk_load_variants(&k, &sp[0], "f16", cfg, NRUNS, "host:sm_90", kern);
  struct gemm_problem p = {.dtype = GEMM_F16, .ta = 0, .tb = 1, .m = 640, .n = 264, .k = 136,
                           .alpha = 1.0f, .beta = 0.5f};
  gemm_problem_resolve(&p);
  struct gemm_data d;
  struct gemm_buffers buf;
  cr_assert_eq(gemm_data_init(&d, &p, 11), AT_OK);
  cr_assert_eq(gemm_buffers_init(&meas_host, k.ctx, &d, &buf), AT_OK, "%s", at_last_error());
  const int64_t dims[5] = {p.m, p.n, p.k, 0, 1};
  static const int64_t own_grid[NRUNS] = {45, 30, 60, 90};
  for (int i = 0; i < NRUNS; i++) {
    struct gen_bind bind = {.dev = sp[i].dev, .dims = dims, .dtype = "f16"};
    struct gen_launch gl;
    cr_assert_eq(gen_emit_launch(sp[i].t, &bind, cfg[i], &gl), AT_OK, "%s", at_last_error());
    cr_assert_eq(gl.grid[0], own_grid[i], "run %d: grid %lld", i, (long long)gl.grid[0]);
    for (int b = -1; b < 5 && (b < 0 || runs[i].blocks[b]); b++) {
      if (b >= 0)
        gl.grid[0] = runs[i].blocks[b];
      int64_t bad = 0;
      char msg[256] = "";
      const char *what = sample[runs[i].sample].cfg;
      cr_assert_eq(gemm_verify(&meas_host, k.ctx, kern[i], &gl, &d, &buf, &bad, msg, sizeof msg),
                   AT_OK, "%s, %lld blocks: %s", what, (long long)gl.grid[0], at_last_error());
      cr_assert_eq(bad, 0, "%s, %lld blocks: %lld wrong, first %s", what,
                   (long long)gl.grid[0], (long long)bad, msg);
    }
  }
  gemm_buffers_release(&meas_host, k.ctx, &buf);
  gemm_data_release(&d);
  th_hostk_close(&k);
  for (int i = 0; i < NRUNS; i++)
    th_space_close(&sp[i]);
}

/* Every SCHED variant of the space (the default problem's and the shapes') on the aligned
 * shapes, all layouts, f16 and bf16: behind AT_TMA_SK_FULL=1 (hours on two cores). */
static int keep_sched(void *ctx, const char *config)
{
  (void)ctx;
  return th_cfg(config, "SCHED") > 0;
}

Test(gemm_tma_sk, full_sweep, .timeout = TIMEOUT)
{
  const char *full = getenv("AT_TMA_SK_FULL");
  if (!full || strcmp(full, "1") != 0)
    cr_skip_test("set AT_TMA_SK_FULL=1 to run every SCHED variant (hours)");
  th_need_cc(&cc_host);
  struct gsw_options o = {.dev = dev_find("h100"), .filter = keep_sched, .jobs = 2,
                          .cache_dir = th_cache_dir(), .shapes = gsw_aligned_shapes,
                          .nshapes = gsw_aligned_nshapes, .log = stderr};
  struct gsw_result r;
  cr_assert_eq(gsw_run(TEMPLATE, &o, &r), AT_OK, "%s", at_last_error());
  char line[256];
  gsw_summary(&r, line, sizeof line);
  cr_log_info("gemm_tma SCHED 1-3 full sweep (emulated h100): %s", line);
  cr_assert_eq(r.failures, 0, "%zu failures, first: %s", r.failures, r.first_failure);
}
