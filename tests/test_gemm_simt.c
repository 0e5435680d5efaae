/*
 * test_gemm_simt.c - the SIMT GEMM template (templates/gemm/gemm_simt.h) on a reduced
 * space, for CI: its space sizes per device; a deterministic sample of its variants
 * chosen to cover every value of every parameter (smallest and largest tiles included)
 * run by the correctness sweep (tuner/ops/gemm_sweep.c) on the host device for every
 * standard shape x layout x dtype; a smaller sample emulating mi300x (waves of 64);
 * compile-only samples for sm_90 (NVRTC) and gfx942 (clang-hip), skipped where the
 * compiler is absent; and a broken copy of the template (reading C when beta == 0)
 * that the sweep must reject. The full sweep is bench/bench_gemm_sweep. Every test has
 * the same .timeout (see test_emu.c).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/space.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "tuner/compile/compile.h"
#include "base/device.h"
#include "tuner/ops/gemm_sweep.h"
#include "base/status.h"

#define SIMT AT_SOURCE_DIR "/templates/gemm/gemm_simt.h"

static const char *const incs[] = {AT_SOURCE_DIR "/templates/common", NULL};

static void need_host(void)
{
  char why[256] = "";
  if (!cc_host.available(why, sizeof why))
    cr_skip_test("no host C++ compiler: %s", why);
}

/* ---- the space ---- */

struct collected {
  int64_t *v;
  size_t n, cap, np;
};

static int collect(void *ctx, const int64_t *values, size_t np)
{
  struct collected *c = ctx;
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 1024;
    c->v = realloc(c->v, c->cap * np * sizeof *c->v);
    cr_assert_not_null(c->v);
  }
  memcpy(c->v + c->n++ * np, values, np * sizeof *values);
  c->np = np;
  return 0;
}

static struct gen_space *space(const struct tmpl *t, const char *dev, int ta, int tb,
                               struct collected *c)
{
  const struct dev_profile *d = dev_find(dev);
  cr_assert_not_null(d, "%s", dev);
  int64_t dims[5] = {4096, 4096, 4096, ta, tb};
  struct gen_space *s;
  cr_assert_eq(tmpl_space(t, d, dims, &s), AT_OK, "%s", at_last_error());
  memset(c, 0, sizeof *c);
  cr_assert_eq(gen_space_enumerate(s, collect, c, NULL), AT_OK, "%s", at_last_error());
  return s;
}

Test(gemm_simt, space_is_realistic_on_every_device, .timeout = 300)
{
  struct tmpl *t;
  cr_assert_eq(tmpl_load(SIMT, incs, &t), AT_OK, "%s", at_last_error());
  const char *devs[] = {"host", "h100", "a100", "mi300x", "mi250x"};
  for (int d = 0; d < 5; d++) {
    size_t first = 0;
    for (int l = 0; l < 4; l++) {
      struct collected c;
      struct gen_space *s = space(t, devs[d], l >> 1, l & 1, &c);
      cr_assert(c.n >= 300 && c.n <= 5000, "%s: %zu valid configs", devs[d], c.n);
      if (l == 0)
        first = c.n;
      cr_assert_eq(c.n, first, "%s: the layouts span different spaces", devs[d]);
      /* skinny (BM <= 16, in-block split-K) and square (BM >= 64) tiles are both there */
      int bm = gen_space_param_index(s, "BM"), ks = gen_space_param_index(s, "KS");
      size_t skinny = 0, split = 0, square = 0;
      for (size_t i = 0; i < c.n; i++) {
        skinny += c.v[i * c.np + bm] <= 16;
        split += c.v[i * c.np + ks] > 1;
        square += c.v[i * c.np + bm] >= 64;
      }
      cr_assert(skinny > 50 && split > 50 && square > 50, "%s: %zu %zu %zu", devs[d], skinny,
                split, square);
      free(c.v);
      gen_space_free(s);
    }
  }
  tmpl_free(t);
}

/* ---- the sample: every value of every parameter, smallest and largest tiles ---- */

#define MAX_PICK 64
struct pick {
  char text[MAX_PICK][256]; /* config texts with TRANS_A/TRANS_B masked */
  size_t n;
};

/* The canonical text with the layout's values masked: "TRANS_A=x,TRANS_B=x". */
static void mask_layout(const char *config, char *out, size_t len)
{
  snprintf(out, len, "%s", config);
  for (char *p = out; (p = strstr(p, "TRANS_")) != NULL; p++)
    if (p[7] == '=' && p[8])
      p[8] = 'x';
}

static int keep_picked(void *ctx, const char *config)
{
  const struct pick *p = ctx;
  char m[256];
  mask_layout(config, m, sizeof m);
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->text[i], m) == 0)
      return 1;
  return 0;
}

static void add_pick(struct pick *p, const struct gen_space *s, const int64_t *cfg)
{
  char *text;
  cr_assert_eq(gen_space_config_text(s, cfg, &text), AT_OK);
  char m[256];
  mask_layout(text, m, sizeof m);
  free(text);
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->text[i], m) == 0)
      return;
  cr_assert_lt(p->n, MAX_PICK);
  snprintf(p->text[p->n++], sizeof p->text[0], "%s", m);
}

/* Greedy: the smallest and the largest tile, then every config (in space order) that
 * brings a (parameter, value) pair not yet covered (threads per block included). */
static void pick_cover(const char *dev, struct pick *p)
{
  struct tmpl *t;
  cr_assert_eq(tmpl_load(SIMT, incs, &t), AT_OK, "%s", at_last_error());
  struct collected c;
  struct gen_space *s = space(t, dev, 0, 0, &c);
  size_t np = c.np;
  int bm = gen_space_param_index(s, "BM"), bn = gen_space_param_index(s, "BN");
  size_t lo = 0, hi = 0;
  for (size_t i = 0; i < c.n; i++) {
    int64_t area = c.v[i * np + bm] * c.v[i * np + bn];
    if (area < c.v[lo * np + bm] * c.v[lo * np + bn])
      lo = i;
    if (area > c.v[hi * np + bm] * c.v[hi * np + bn])
      hi = i;
  }
  memset(p, 0, sizeof *p);
  add_pick(p, s, c.v + lo * np);
  add_pick(p, s, c.v + hi * np);
  /* covered pairs: per tuned parameter (not the derived values) its values so far */
  static const char *const tuned[] = {"BM", "BN", "BK", "TM", "TN", "KS", "VEC", "UNROLL",
                                      "PAD", "THREADS"};
  enum { NT = sizeof tuned / sizeof tuned[0] };
  int64_t seen[NT][16];
  size_t nseen[NT] = {0};
  int idx[NT];
  for (size_t q = 0; q < NT; q++)
    cr_assert_geq(idx[q] = gen_space_param_index(s, tuned[q]), 0, "%s", tuned[q]);
  for (size_t i = 0; i < c.n; i++) {
    int fresh = 0;
    for (size_t q = 0; q < NT; q++) {
      int64_t v = c.v[i * np + idx[q]];
      size_t k = 0;
      while (k < nseen[q] && seen[q][k] != v)
        k++;
      if (k == nseen[q] && k < 16) {
        seen[q][nseen[q]++] = v;
        fresh = 1;
      }
    }
    if (fresh)
      add_pick(p, s, c.v + i * np);
  }
  free(c.v);
  gen_space_free(s);
  tmpl_free(t);
}

Test(gemm_simt, sample_passes_every_shape_layout_and_dtype_on_host, .timeout = 300)
{
  need_host();
  struct pick p;
  pick_cover("host", &p);
  cr_assert(p.n >= 12 && p.n <= 24, "%zu configs picked", p.n);
  struct gsw_options o = {.dev = dev_find("host"), .filter = keep_picked, .filter_ctx = &p,
                          .jobs = 2, .cache_dir = th_cache_dir()};
  struct gsw_result r;
  int rc = gsw_run(SIMT, &o, &r);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  char line[256];
  gsw_summary(&r, line, sizeof line);
  cr_log_info("gemm_simt on host: %s (compile %.1f s, runs %.1f s)", line, r.compile_s,
              r.run_s);
  cr_assert_eq(r.variants_per_layout, p.n);
  cr_assert_eq(r.variants, 4 * p.n);
  cr_assert_eq(r.compiled, 12 * p.n);
  cr_assert_eq(r.runs, 12 * p.n * gsw_default_nshapes, "%s", line);
  cr_assert_eq(r.compile_errors, 0);
  cr_assert_eq(r.failures, 0, "%s; first: %s", line, r.first_failure);
}

Test(gemm_simt, sample_passes_emulating_mi300x_waves_of_64, .timeout = 300)
{
  need_host();
  static const char *const layouts[] = {"NT", "TN", NULL};
  static const enum gemm_dtype dts[] = {GEMM_F16};
  struct gsw_options o = {.dev = dev_find("mi300x"), .layouts = layouts, .dtypes = dts,
                          .ndtypes = 1, .sample = 6, .seed = 7, .jobs = 2,
                          .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(SIMT, &o, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.variants, 12);
  cr_assert_eq(r.runs, 12 * gsw_default_nshapes);
  cr_assert_eq(r.failures, 0, "first: %s", r.first_failure);
}

static void compile_only(const struct cc_backend *be, const char *dev, const char *l1,
                         const char *l2, enum gemm_dtype dt)
{
  char why[256] = "";
  if (!be->available(why, sizeof why))
    cr_skip_test("%s is not available here: %s", be->name, why);
  const char *const layouts[] = {l1, l2, NULL};
  const enum gemm_dtype dts[] = {dt};
  struct gsw_options o = {.dev = dev_find(dev), .layouts = layouts, .dtypes = dts,
                          .ndtypes = 1, .sample = 6, .seed = 3, .compile_only = true,
                          .jobs = 2, .batch = 6, .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(SIMT, &o, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.compiled, 12);
  cr_assert_eq(r.runs, 0);
  cr_assert_eq(r.compile_errors, 0, "%s", r.first_failure);
  cr_assert_eq(r.occ_zero, 0);
}

Test(gemm_simt, sample_compiles_for_sm_90, .timeout = 300)
{
  compile_only(&cc_nvrtc, "h100", "NN", "TT", GEMM_F16);
}

Test(gemm_simt, sample_compiles_for_gfx942, .timeout = 300)
{
  compile_only(&cc_clang_hip, "mi300x", "NT", "TN", GEMM_BF16);
}

/* A copy that reads C even when beta == 0 must fail on the NaN-poisoned shape only. */
Test(gemm_simt, sweep_rejects_a_template_that_reads_c_when_beta_is_zero, .timeout = 300)
{
  need_host();
  char *text = th_read(SIMT, NULL);
  cr_assert_not_null(text);
  const char *guard = "if (beta != 0.0f)\n        out += beta";
  char *at = strstr(text, guard);
  cr_assert_not_null(at, "the template no longer has the beta guard this test breaks");
  memcpy(at, "if (beta == beta)", strlen("if (beta == beta)"));
  char *dir = th_tmpdir(), *path = th_path(dir, "gemm_simt.h");
  cr_assert_eq(th_write(path, text, strlen(text)), 0);
  static const char *const layouts[] = {"TN", NULL};
  static const enum gemm_dtype dts[] = {GEMM_F32};
  struct gsw_options o = {.dev = dev_find("host"), .layouts = layouts, .dtypes = dts,
                          .ndtypes = 1, .sample = 2, .jobs = 2, .cache_dir = th_cache_dir()};
  struct gsw_result r;
  cr_assert_eq(gsw_run(path, &o, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.runs, 2 * gsw_default_nshapes);
  cr_assert_eq(r.failures, 2, "%zu failures; first: %s", r.failures, r.first_failure);
  cr_assert(strstr(r.first_failure, "7x13x29 beta 0"), "%s", r.first_failure);
  cr_assert(strstr(r.first_failure, "expected"), "%s", r.first_failure);
  th_rmtree(dir);
  free(path);
  free(text);
}
