/*
 * test_gemm_skinny.c - the decode GEMM template (templates/gemm/gemm_skinny.h) on a
 * reduced space, for CI: its space at the decode shapes (offered for M <= 64 only, and
 * split-K there on a GPU so that 132 SMs have work); a seeded sample of its variants run
 * by the correctness sweep (tuner/ops/gemm_sweep.c) on the host device over the decode
 * shapes (M 1, 7, 16, 64 and 300 against odd N and K) for every layout in f16 and bf16,
 * and a sample of the mma.sync path (MMA=1) on NT and TT,
 * the workspace checked to be left zero after each; compile-only samples for sm_90
 * (NVRTC) and gfx942 (clang-hip), skipped where the compiler is absent; and two broken
 * copies of the template the sweep must reject: one whose last block does not zero the
 * partial slices (the workspace contract), one where the first block to finish reduces
 * instead of the last (partial sums missing). The full sweep is
 * `bench_gemm_sweep gemm_skinny --decode`.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/device.h"
#include "base/status.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "tuner/compile/compile.h"
#include "tuner/ops/gemm_sweep.h"

#define SKINNY AT_SOURCE_DIR "/templates/gemm/gemm_skinny.h"

static const char *const incs[] = {AT_SOURCE_DIR "/templates/common", NULL};

static void need_host(void)
{
  char why[256] = "";
  if (!cc_host.available(why, sizeof why))
    cr_skip_test("no host C++ compiler: %s", why);
}

/* Valid configs of the space for device dev at m x n x k, NT; KSPLIT's largest value. */
static size_t space_size(const struct tmpl *t, const char *dev, int64_t m, int64_t n,
                         int64_t k, int64_t *max_split)
{
  const struct dev_profile *d = dev_find(dev);
  cr_assert_not_null(d, "%s", dev);
  int64_t dims[5] = {m, n, k, 0, 1};
  struct gen_space *s;
  cr_assert_eq(tmpl_space(t, d, dims, &s), AT_OK, "%s", at_last_error());
  int64_t *v = NULL;
  size_t c = 0, np = gen_space_param_count(s);
  cr_assert_eq(gen_space_collect(s, &v, &c, NULL), AT_OK, "%s", at_last_error());
  int ks = gen_space_param_index(s, "KSPLIT");
  cr_assert_geq(ks, 0);
  *max_split = 0;
  for (size_t i = 0; i < c; i++)
    if (v[i * np + (size_t)ks] > *max_split)
      *max_split = v[i * np + (size_t)ks];
  free(v);
  gen_space_free(s);
  return c;
}

/* Configs with MMA=1 at m x 4096 x 4096, NT. */
static size_t count_mma(const struct tmpl *t, const char *dev, int64_t m)
{
  int64_t dims[5] = {m, 4096, 4096, 0, 1};
  struct gen_space *s;
  cr_assert_eq(tmpl_space(t, dev_find(dev), dims, &s), AT_OK, "%s", at_last_error());
  int64_t *v = NULL;
  size_t c = 0, np = gen_space_param_count(s), n = 0;
  cr_assert_eq(gen_space_collect(s, &v, &c, NULL), AT_OK, "%s", at_last_error());
  int mma = gen_space_param_index(s, "MMA");
  cr_assert_geq(mma, 0);
  for (size_t i = 0; i < c; i++)
    n += v[i * np + (size_t)mma] == 1;
  free(v);
  gen_space_free(s);
  return n;
}

Test(gemm_skinny, space_is_for_decode_shapes_and_splits_k_to_fill_the_gpu, .timeout = 300)
{
  struct tmpl *t;
  cr_assert_eq(tmpl_load(SKINNY, incs, &t), AT_OK, "%s", at_last_error());
  int64_t split;
  size_t n1 = space_size(t, "h100", 1, 4096, 4096, &split);
  cr_assert(n1 >= 50 && n1 <= 5000, "h100 1x4096x4096: %zu configs", n1);
  cr_assert_geq(split, 8, "h100 1x4096x4096: KSPLIT at most %lld", (long long)split);
  size_t n16 = space_size(t, "h100", 16, 4096, 4096, &split);
  cr_assert(n16 >= 50, "h100 16x4096x4096: %zu configs", n16);
  size_t na = space_size(t, "mi300x", 64, 4096, 4096, &split);
  cr_assert(na >= 20, "mi300x 64x4096x4096: %zu configs", na);
  cr_assert_eq(space_size(t, "h100", 128, 4096, 4096, &split), 0,
               "M = 128 is not a decode shape");
  /* mma.sync where it exists (NVIDIA sm_80+, weight N x K, 16-row tiles), not on CDNA */
  cr_assert_gt(count_mma(t, "h100", 16), 0);
  cr_assert_eq(count_mma(t, "h100", 1), 0, "no 16-row tile at M = 1");
  cr_assert_eq(count_mma(t, "mi300x", 16), 0);
  tmpl_free(t);
}

Test(gemm_skinny, sample_passes_decode_shapes_every_layout_and_dtype_on_host, .timeout = 300)
{
  need_host();
  static const enum gemm_dtype dts[] = {GEMM_F16, GEMM_BF16};
  struct gsw_options o = {.dev = dev_find("host"), .shapes = gsw_decode_shapes,
                          .nshapes = gsw_decode_nshapes, .dtypes = dts, .ndtypes = 2,
                          .sample = 3, .seed = 11, .jobs = 2, .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(SKINNY, &o, &r), AT_OK, "%s", at_last_error());
  char line[256];
  gsw_summary(&r, line, sizeof line);
  cr_log_info("gemm_skinny on host: %s (compile %.1f s, runs %.1f s)", line, r.compile_s,
              r.run_s);
  cr_assert_eq(r.variants, 4 * 3);
  cr_assert_eq(r.runs, 4 * 3 * 2 * gsw_decode_nshapes, "%s", line);
  cr_assert_eq(r.compile_errors, 0);
  cr_assert_eq(r.failures, 0, "%s; first: %s", line, r.first_failure);
}

static int mma_only(void *ctx, const char *config)
{
  (void)ctx;
  return strstr(config, "MMA=1") != NULL;
}

/* The matrix-core path (MMA=1: mma.sync, emulated lane by lane on the host) on the
 * layouts it serves (weight N x K), f16 and bf16. */
Test(gemm_skinny, mma_sample_passes_decode_shapes_on_host, .timeout = 300)
{
  need_host();
  static const char *const layouts[] = {"NT", "TT", NULL};
  static const enum gemm_dtype dts[] = {GEMM_F16, GEMM_BF16};
  struct gsw_options o = {.dev = dev_find("host"), .shapes = gsw_decode_shapes,
                          .nshapes = gsw_decode_nshapes, .layouts = layouts, .dtypes = dts,
                          .ndtypes = 2, .sample = 3, .seed = 13, .filter = mma_only,
                          .jobs = 2, .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(SKINNY, &o, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.variants, 2 * 3);
  cr_assert_eq(r.runs, 2 * 3 * 2 * gsw_decode_nshapes);
  cr_assert_eq(r.failures, 0, "first: %s", r.first_failure);
}

static int prefetch_only(void *ctx, const char *config)
{
  (void)ctx;
  return strstr(config, "PF=1") != NULL;
}

/* The weight prefetched a chunk ahead (PF=1: a register double buffer) on every layout,
 * both dtypes, the FMA and the mma.sync paths (the sample draws both); a copy that
 * prefetches the chunk it already holds must fail. */
Test(gemm_skinny, prefetch_sample_passes_decode_shapes_on_host, .timeout = 300)
{
  need_host();
  static const enum gemm_dtype dts[] = {GEMM_F16, GEMM_BF16};
  struct gsw_options o = {.dev = dev_find("host"), .shapes = gsw_decode_shapes,
                          .nshapes = gsw_decode_nshapes, .dtypes = dts, .ndtypes = 2,
                          .sample = 3, .seed = 17, .filter = prefetch_only, .jobs = 2,
                          .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(SKINNY, &o, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.variants, 4 * 3);
  cr_assert_eq(r.runs, 4 * 3 * 2 * gsw_decode_nshapes);
  cr_assert_eq(r.compile_errors, 0);
  cr_assert_eq(r.failures, 0, "first: %s", r.first_failure);
}

static void compile_only(const struct cc_backend *be, const char *dev, enum gemm_dtype dt)
{
  char why[256] = "";
  if (!be->available(why, sizeof why))
    cr_skip_test("%s is not available here: %s", be->name, why);
  const char *const layouts[] = {"NT", "NN", NULL};
  const enum gemm_dtype dts[] = {dt};
  struct gsw_options o = {.dev = dev_find(dev), .shapes = gsw_decode_shapes,
                          .nshapes = gsw_decode_nshapes, .layouts = layouts, .dtypes = dts,
                          .ndtypes = 1, .sample = 4, .seed = 3, .compile_only = true,
                          .jobs = 2, .batch = 4, .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(SKINNY, &o, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.compiled, 8, "%zu compiled", r.compiled);
  cr_assert_eq(r.compile_errors, 0, "%s", r.first_failure);
  cr_assert_eq(r.spills, 0);
  cr_assert_eq(r.occ_zero, 0);
}

Test(gemm_skinny, sample_compiles_for_sm_90, .timeout = 300)
{
  compile_only(&cc_nvrtc, "h100", GEMM_F16);
}

Test(gemm_skinny, sample_compiles_for_gfx942, .timeout = 300)
{
  compile_only(&cc_clang_hip, "mi300x", GEMM_BF16);
}

/* Keep the split-K variants (KSPLIT > 1): those that use the workspace. */
static int split_k(void *ctx, const char *config)
{
  (void)ctx;
  return strstr(config, "KSPLIT=1,") == NULL;
}

/* Run a copy of the template with `from` replaced by `to` on the variants `filter` keeps
 * of one layout and dtype over the decode shapes; return the result. */
static struct gsw_result run_broken(const char *from, const char *to,
                                    int (*filter)(void *, const char *))
{
  char *text = th_read(SKINNY, NULL);
  cr_assert_not_null(text);
  char *at = strstr(text, from);
  cr_assert_not_null(at, "the template no longer has '%s'", from);
  size_t n = strlen(text), nf = strlen(from), nt = strlen(to);
  char *out = malloc(n - nf + nt + 1);
  cr_assert_not_null(out);
  memcpy(out, text, (size_t)(at - text));
  memcpy(out + (at - text), to, nt);
  memcpy(out + (at - text) + nt, at + nf, n - (size_t)(at - text) - nf + 1);
  char *dir = th_tmpdir(), *path = th_path(dir, "gemm_skinny.h");
  cr_assert_eq(th_write(path, out, strlen(out)), 0);
  static const char *const layouts[] = {"NT", NULL};
  static const enum gemm_dtype dts[] = {GEMM_F16};
  struct gsw_options o = {.dev = dev_find("host"), .shapes = gsw_decode_shapes,
                          .nshapes = gsw_decode_nshapes, .layouts = layouts, .dtypes = dts,
                          .ndtypes = 1, .sample = 3, .seed = 5, .jobs = 2,
                          .cache_dir = th_cache_dir(),
                          .filter = filter};
  struct gsw_result r;
  cr_assert_eq(gsw_run(path, &o, &r), AT_OK, "%s", at_last_error());
  th_rmtree(dir);
  free(path);
  free(out);
  free(text);
  return r;
}

Test(gemm_skinny, sweep_rejects_a_copy_that_leaves_the_workspace_dirty, .timeout = 300)
{
  need_host();
  struct gsw_result r = run_broken("parts[(long)p * BM * BN + q] = 0.0f;", "", split_k);
  cr_assert_gt(r.failures, 0, "no failure");
  cr_assert(strstr(r.first_failure, "workspace not left zero"), "%s", r.first_failure);
}

Test(gemm_skinny, sweep_rejects_a_copy_where_the_first_block_reduces, .timeout = 300)
{
  need_host();
  struct gsw_result r = run_broken("== (unsigned int)(KSPLIT - 1)", "== 0u", split_k);
  cr_assert_gt(r.failures, 0, "no failure");
  cr_assert(strstr(r.first_failure, "expected"), "%s", r.first_failure);
}

static int prefetch_fma(void *ctx, const char *config)
{
  (void)ctx;
  return strstr(config, "PF=1") != NULL && strstr(config, "MMA=0") != NULL;
}

/* The FMA path's prefetch asks for the chunk it already holds: every weight chunk after
 * the first is multiplied twice, the last never. */
Test(gemm_skinny, sweep_rejects_a_copy_that_prefetches_the_wrong_chunk, .timeout = 300)
{
  need_host();
  struct gsw_result r = run_broken("fetch(wn, kc + KC);", "fetch(wn, kc);", prefetch_fma);
  cr_assert_eq(r.compile_errors, 0, "%s", r.first_failure);
  cr_assert_gt(r.failures, 0, "a wrong prefetch went unnoticed");
}
