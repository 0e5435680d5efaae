/*
 * test_template.c - reading kernel templates and emitting variants: what tmpl_load finds in
 * templates/example/scale.h (pragmas, template parameters, signature), the spaces it
 * spans on h100, mi300x and host against a brute-force count, launch shapes, the emitted
 * translation unit and the stability of variant names, one malformed template per error
 * with its file:line message (tests/data/templates/), and the emitted TU compiling as
 * host C++ (and for sm_90 / gfx942 where those compile backends exist).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "generator/emit.h"
#include "generator/space.h"
#include "base/hash.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "base/device.h"
#include "base/status.h"
#include "tuner/compile/compile.h"

#define SCALE AT_SOURCE_DIR "/templates/example/scale.h"
#define BAD AT_SOURCE_DIR "/tests/data/templates/"
#define COMMON AT_SOURCE_DIR "/templates/common"
#define STUB AT_SOURCE_DIR "/tests/data/include"

/* ---- helpers ------------------------------------------------------------------------ */

static int have_common(void)
{
  return access(COMMON "/at_common.h", R_OK) == 0;
}

/* The include dirs to parse with: templates/common once at_common.h exists, else the
 * test stub in tests/data/include. */
static const char *const *incs(void)
{
  static const char *common[] = {COMMON, NULL};
  static const char *stub[] = {STUB, NULL};
  return have_common() ? common : stub;
}

static struct tmpl *load_ok(const char *path, const char *const *dirs)
{
  struct tmpl *t = NULL;
  int rc = tmpl_load(path, dirs, &t);
  cr_assert_eq(rc, AT_OK, "%s: %s", path, at_last_error());
  cr_assert_not_null(t);
  return t;
}

/* Loading `file` (in tests/data/templates) fails with "<path>:<line>: <msg>..." */
static void expect_error(const char *file, int line, const char *msg)
{
  char path[1024], want[2048];
  struct tmpl *t = (struct tmpl *)1;
  snprintf(path, sizeof path, "%s%s", BAD, file);
  int rc = tmpl_load(path, incs(), &t);
  cr_assert_eq(rc, AT_PARSE, "%s: rc %d, %s", file, rc, at_last_error());
  cr_assert_null(t, "OUT parameter cleared on failure");
  snprintf(want, sizeof want, "%s:%d: %s", path, line, msg);
  cr_assert_eq(strncmp(at_last_error(), want, strlen(want)), 0, "got:  %s\nwant: %s...",
               at_last_error(), want);
}

struct configs {
  int64_t *v;
  size_t n, cap, width;
};

static int collect(void *ctx, const int64_t *values, size_t n)
{
  struct configs *c = ctx;
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 64;
    c->v = realloc(c->v, c->cap * (n ? n : 1) * sizeof *c->v);
    cr_assert_not_null(c->v);
  }
  c->width = n;
  memcpy(c->v + c->n * n, values, n * sizeof *values);
  c->n++;
  return 0;
}

static const struct dev_profile *dev(const char *name)
{
  const struct dev_profile *d = dev_find(name);
  cr_assert_not_null(d, "%s", name);
  return d;
}

/* The valid scale.h configs on d for dims N by brute force over the product, applying
 * its three requires and the three built-in device limits by hand. */
static uint64_t scale_brute(const struct dev_profile *d, int64_t N)
{
  static const int64_t blocks[] = {32, 64, 128, 256, 512, 1024};
  static const int64_t vecs[] = {1, 2, 4};
  static const int64_t unrolls[] = {1, 2, 4, 8};
  uint64_t n = 0;
  for (size_t b = 0; b < 6; b++)
    for (size_t v = 0; v < 3; v++)
      for (size_t u = 0; u < 4; u++) {
        int64_t B = blocks[b], items = B * vecs[v] * unrolls[u];
        int ok = B % d->warp_size == 0 && B <= d->max_threads_per_block &&
                 items <= (N > 4096 ? N : 4096) && B >= 1 && d->lds_per_block >= 0;
        n += ok;
      }
  return n;
}

static char *emit_three(struct tmpl *t, const struct dev_profile *d, char names[3][GEN_NAME_MAX])
{
  struct gen_space *s;
  struct configs c = {0};
  cr_assert_eq(tmpl_space(t, d, NULL, &s), AT_OK, "%s", at_last_error());
  cr_assert_eq(gen_space_enumerate(s, collect, &c, NULL), AT_OK, "%s", at_last_error());
  cr_assert_geq(c.n, 3);
  const int64_t *cfg[3] = {c.v, c.v + c.width * (c.n / 2), c.v + c.width * (c.n - 1)};
  struct gen_bind b = {.dev = d, .dims = NULL, .dtype = "f32"};
  char *src = NULL;
  cr_assert_eq(gen_emit_tu(t, CC_CUDA, s, &b, cfg, 3, &src), AT_OK, "%s", at_last_error());
  for (int i = 0; names && i < 3; i++)
    cr_assert_eq(gen_emit_name(t, s, "f32", cfg[i], names[i]), AT_OK);
  free(c.v);
  gen_space_free(s);
  return src;
}

static size_t count_of(const char *hay, const char *needle)
{
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* A copy of scale.h in a scratch folder, byte `at` replaced by `with` (at < 0: intact). */
static char *scale_copy(const char *dir, const char *name, long at, char with)
{
  size_t len;
  char *text = th_read(SCALE, &len);
  cr_assert_not_null(text);
  if (at >= 0)
    text[at] = with;
  char *path = th_path(dir, name);
  cr_assert_eq(th_write(path, text, len), 0);
  free(text);
  return path;
}

/* ---- scale.h -------------------------------------------------------------------------- */

Test(template, scale_pragmas_and_signature)
{
  struct tmpl *t = load_ok(SCALE, incs());
  cr_assert_str_eq(t->kernel, "scale");
  cr_assert_str_eq(t->kernel_qualified, "scale");
  cr_assert_eq(t->ndims, 1);
  cr_assert_str_eq(t->dims[0], "N");

  cr_assert_eq(t->nparams, 4);
  static const int64_t block[] = {32, 64, 128, 256, 512, 1024}, vec[] = {1, 2, 4},
                       unroll[] = {1, 2, 4, 8};
  const struct { const char *name; const int64_t *v; size_t n; } want[] = {
      {"BLOCK", block, 6}, {"VEC", vec, 3}, {"UNROLL", unroll, 4}};
  for (size_t i = 0; i < 3; i++) {
    cr_assert_str_eq(t->params[i].name, want[i].name);
    cr_assert_null(t->params[i].expr);
    cr_assert_eq(t->params[i].nvalues, want[i].n, "%s", want[i].name);
    for (size_t k = 0; k < want[i].n; k++)
      cr_assert_eq(t->params[i].values[k], want[i].v[k]);
    cr_assert_eq(t->params[i].tparam, (int)i);
  }
  cr_assert_str_eq(t->params[3].name, "ITEMS");
  cr_assert_str_eq(t->params[3].expr, "BLOCK * VEC * UNROLL");
  cr_assert_eq(t->params[3].tparam, -1, "ITEMS is no template parameter");

  cr_assert_eq(t->nreqs, 3);
  cr_assert_str_eq(t->reqs[0].name, "whole_waves");
  cr_assert_str_eq(t->reqs[0].expr, "BLOCK % device.wave_size == 0");
  cr_assert_str_eq(t->reqs[2].name, "enough_work");
  cr_assert_str_eq(t->reqs[2].expr, "ITEMS <= max(N, 4096)");
  cr_assert_str_eq(t->threads_text[0], "BLOCK");
  cr_assert_str_eq(t->threads_text[1], "1");
  cr_assert_str_eq(t->grid_text[0], "cdiv(N, ITEMS)");
  cr_assert_str_eq(t->shared_text, "0");
  cr_assert_null(t->dtype);

  cr_assert_eq(t->ntparams, 3);
  for (size_t i = 0; i < 3; i++) {
    cr_assert_str_eq(t->tparams[i].name, want[i].name);
    cr_assert_eq(t->tparams[i].kind, TMPL_NONTYPE);
    cr_assert_str_eq(t->tparams[i].type, "int");
  }
  const char *fp[][2] = {{"y", "float *"}, {"x", "const float *"}, {"alpha", "float"},
                         {"beta", "float"}, {"N", "int"}};
  cr_assert_eq(t->nfparams, 5);
  for (size_t i = 0; i < 5; i++) {
    cr_assert_str_eq(t->fparams[i].name, fp[i][0]);
    cr_assert_str_eq(t->fparams[i].type, fp[i][1]);
  }
  cr_assert_eq(strlen(t->hash), 16);
  cr_assert_eq(strspn(t->hash, "0123456789abcdef"), 16);
  tmpl_free(t);
}

Test(template, scale_space_per_device_matches_brute_force)
{
  struct tmpl *t = load_ok(SCALE, incs());
  const char *devs[] = {"h100", "mi300x", "host"};
  uint64_t counts[3];
  for (size_t i = 0; i < 3; i++) {
    const struct dev_profile *d = dev(devs[i]);
    for (int big = 0; big < 2; big++) {
      int64_t dims[1] = {big ? 1 << 20 : TMPL_DEFAULT_DIM};
      struct gen_space *s;
      struct gen_space_stats st;
      cr_assert_eq(tmpl_space(t, d, big ? dims : NULL, &s), AT_OK, "%s", at_last_error());
      cr_assert_eq(gen_space_enumerate(s, NULL, NULL, &st), AT_OK, "%s", at_last_error());
      cr_assert_eq(st.raw, 6 * 3 * 4);
      cr_assert_eq(st.valid, scale_brute(d, dims[0]), "%s N=%" PRId64 ": %" PRIu64
                   " valid, brute force %" PRIu64, devs[i], dims[0], st.valid,
                   scale_brute(d, dims[0]));
      if (!big)
        counts[i] = st.valid;
      gen_space_stats_release(&st);
      gen_space_free(s);
    }
  }
  /* wave 32 (h100, host) keeps BLOCK=32; wave 64 (mi300x) drops it */
  cr_assert_eq(counts[0], counts[2]);
  cr_assert_lt(counts[1], counts[0]);
  cr_assert_eq(counts[0], 62);
  cr_assert_eq(counts[1], 50);
  tmpl_free(t);
}

Test(template, space_reports_device_limit_pruning)
{
  struct tmpl *t = load_ok(BAD "dtype_ok.h", incs());
  struct gen_space *s;
  struct gen_space_stats st;
  cr_assert_eq(tmpl_space(t, dev("mi300x"), NULL, &s), AT_OK, "%s", at_last_error());
  cr_assert_eq(gen_space_enumerate(s, NULL, NULL, &st), AT_OK, "%s", at_last_error());
  const char *names[] = {"small", "device: threads per block", "device: shared memory",
                         "device: wave multiple", "type: TILE fits int"};
  cr_assert_eq(st.nreqs, 5);
  for (size_t i = 0; i < 5; i++)
    cr_assert_str_eq(st.reqs[i].name, names[i]);
  /* BX = 32 with BY = 1 is half a wave on mi300x; BY = 3 is refused by 'small' first */
  cr_assert_gt(st.reqs[3].removed, 0);
  /* 4 BX x 3 BY x 2 FAST x 3 PAD; BY != 3 keeps 2, TILE <= 512 and wave 64 keep
   * (64,1) (128,1) (256,1) (32,2) (64,2) (128,2) (256,2): 7 x 2 x 3 */
  cr_assert_eq(st.raw, 4 * 3 * 2 * 3);
  cr_assert_eq(st.valid, 7 * 2 * 3, "valid %" PRIu64, st.valid);
  gen_space_stats_release(&st);
  gen_space_free(s);
  tmpl_free(t);
}

/* The `cluster` pragma: the shape per variant, the grid a multiple of it, at most 8 CTAs,
 * and __cluster_dims__ (AT_CLUSTER_DIMS_) on the wrapper of a clustered variant only. */
Test(template, cluster_shape)
{
  struct tmpl *t = load_ok(BAD "cluster_shape.h", incs());
  cr_assert_str_eq(t->cluster_text[0], "CX");
  cr_assert_str_eq(t->cluster_text[1], "1");
  cr_assert_str_eq(t->cluster_text[2], "1", "a missing axis is 1");
  struct gen_launch l;
  int64_t dims[1] = {256};
  struct gen_bind b = {.dev = dev("h100"), .dims = dims, .dtype = "f32"};
  int64_t cfg[1] = {2};
  cr_assert_eq(gen_emit_launch(t, &b, cfg, &l), AT_OK, "%s", at_last_error());
  cr_assert_eq(l.cluster[0], 2);
  cr_assert_eq(l.cluster[1], 1);
  cr_assert_eq(l.cluster[2], 1);
  cr_assert_eq(l.grid[0], 4);
  dims[0] = 192; /* grid 3 */
  cr_assert_eq(gen_emit_launch(t, &b, cfg, &l), AT_USAGE);
  cr_assert(strstr(at_last_error(), "not a multiple of the cluster"), "%s", at_last_error());
  cfg[0] = 1;
  cr_assert_eq(gen_emit_launch(t, &b, cfg, &l), AT_OK, "%s", at_last_error());
  cr_assert_eq(l.cluster[0], 1);
  dims[0] = 1024;
  cfg[0] = 16;
  cr_assert_eq(gen_emit_launch(t, &b, cfg, &l), AT_USAGE);
  cr_assert(strstr(at_last_error(), "cluster x 'CX' is 16"), "%s", at_last_error());
  struct gen_space *s;
  cr_assert_eq(tmpl_space(t, dev("h100"), dims, &s), AT_OK, "%s", at_last_error());
  int64_t c1[1] = {1}, c4[1] = {4};
  const int64_t *cfgs[2] = {c1, c4};
  char *src = NULL;
  cr_assert_eq(gen_emit_tu(t, CC_CUDA, s, &b, cfgs, 2, &src), AT_OK, "%s", at_last_error());
  cr_assert(strstr(src, "#define AT_CLUSTER_DIMS_(x, y, z) __cluster_dims__(x, y, z)"), "%s",
            src);
  cr_assert(strstr(src, "__launch_bounds__(64) AT_CLUSTER_DIMS_(4, 1, 1) at_cluster_shape_"),
            "%s", src);
  cr_assert(strstr(src, "__launch_bounds__(64) at_cluster_shape_"), "CX=1: no cluster");
  free(src);
  gen_space_free(s);
  tmpl_free(t);
}

/* The `min_blocks` pragma: per variant, the second argument of CUDA's __launch_bounds__
 * through AT_LAUNCH_BOUNDS_MIN_ (defined once, for CUDA only), kept by the parse cache;
 * 0 the plain __launch_bounds__; a value outside 0 .. 32 refused when its variant is
 * emitted, and a pragma without its expression refused when loaded, each through the
 * real binary as one line, exit 2. */
Test(template, min_blocks)
{
  char *dir = th_tmpdir();
  for (int load = 0; load < 2; load++) { /* the second load comes from the parse cache */
    struct tmpl *t = NULL;
    cr_assert_eq(tmpl_open(BAD "min_blocks.h", incs(), dir, &t), AT_OK, "%s", at_last_error());
    cr_assert_eq(t->from_cache, load == 1);
    cr_assert_str_eq(t->min_blocks_text, "MB");
    int64_t dims[1] = {256};
    struct gen_bind b = {.dev = dev("h100"), .dims = dims, .dtype = "f32"};
    struct gen_space *s;
    cr_assert_eq(tmpl_space(t, dev("h100"), dims, &s), AT_OK, "%s", at_last_error());
    int64_t c1[1] = {1}, c2[1] = {2}, c0[1] = {0}, c33[1] = {33};
    const int64_t *cfgs[4] = {c1, c2, c0, c33};
    char *src = NULL;
    cr_assert_eq(gen_emit_tu(t, CC_CUDA, s, &b, cfgs, 3, &src), AT_OK, "%s", at_last_error());
    cr_assert(strstr(src, "#if defined(AT_CUDA)"), "%s", src);
    cr_assert(strstr(src, "#define AT_LAUNCH_BOUNDS_MIN_(t, m) __launch_bounds__(t, m)"), "%s",
              src);
    cr_assert(strstr(src, "#define AT_LAUNCH_BOUNDS_MIN_(t, m) __launch_bounds__(t)\n"), "%s",
              src);
    cr_assert(strstr(src, "void AT_LAUNCH_BOUNDS_MIN_(64, 1) at_min_blocks_"), "%s", src);
    cr_assert(strstr(src, "void AT_LAUNCH_BOUNDS_MIN_(64, 2) at_min_blocks_"), "%s", src);
    /* 0: no minimum, the thread count alone (a param can offer both) */
    cr_assert(strstr(src, "void __launch_bounds__(64) at_min_blocks_"), "%s", src);
    free(src);
    cr_assert_eq(gen_emit_tu(t, CC_CUDA, s, &b, cfgs, 4, &src), AT_USAGE);
    cr_assert_null(src);
    cr_assert(strstr(at_last_error(), "min_blocks 'MB' is 33 (0 .. 32; 0: none)"), "%s",
              at_last_error());
    gen_space_free(s);
    tmpl_free(t);
  }
  /* a template without the pragma keeps the plain __launch_bounds__ */
  struct tmpl *t = load_ok(BAD "cluster_shape.h", incs());
  cr_assert_null(t->min_blocks_text);
  tmpl_free(t);
  expect_error("bad_min_blocks.h", 8, "expected 'min_blocks EXPR' (blocks an SM must hold)");
  static const struct {
    const char *file, *needle;
  } bad[] = {{"bad_min_blocks.h", "bad_min_blocks.h:8: expected 'min_blocks EXPR'"},
             {"min_blocks.h", "min_blocks 'MB' is 33 (0 .. 32; 0: none)"}};
  for (size_t i = 0; i < 2; i++) {
    struct th_result r;
    th_run(&r, "generate '%s%s' --device h100 --dim N=256 --out '%s/out'", BAD, bad[i].file,
           dir);
    cr_assert_eq(r.code, 2, "%s exited %d: %s", bad[i].file, r.code, r.err);
    cr_assert(strncmp(r.err, "autotune: ", 10) == 0, "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    cr_assert(strstr(r.err, bad[i].needle), "%s lacks '%s'", r.err, bad[i].needle);
    th_result_free(&r);
  }
  th_rmtree(dir);
  free(dir);
}

Test(template, launch_shape)
{
  struct tmpl *t = load_ok(SCALE, incs());
  int64_t cfg[4] = {256, 2, 4, 2048}; /* BLOCK VEC UNROLL ITEMS */
  struct gen_launch l;
  struct gen_bind b = {.dev = dev("h100")};
  cr_assert_eq(gen_emit_launch(t, &b, cfg, &l), AT_OK, "%s", at_last_error());
  cr_assert_eq(l.threads[0], 256);
  cr_assert_eq(l.threads[1], 1);
  cr_assert_eq(l.threads[2], 1);
  cr_assert_eq(l.grid[0], 2, "cdiv(4096, 2048)");
  cr_assert_eq(l.grid[1], 1);
  cr_assert_eq(l.shared, 0);
  int64_t dims[1] = {5000};
  b.dims = dims;
  cr_assert_eq(gen_emit_launch(t, &b, cfg, &l), AT_OK);
  cr_assert_eq(l.grid[0], 3);
  cfg[3] = 0; /* ITEMS 0: division by zero in the grid */
  cr_assert_eq(gen_emit_launch(t, &b, cfg, &l), AT_USAGE);
  cr_assert(strstr(at_last_error(), "grid x 'cdiv(N, ITEMS)'"), "%s", at_last_error());
  cr_assert_eq(l.grid[0], 0, "cleared on failure");
  tmpl_free(t);

  t = load_ok(BAD "dtype_ok.h", incs());
  int64_t c2[5] = {64, 2, 1, 4, 128}; /* BX BY FAST PAD TILE */
  int64_t d2[2] = {1000, 7};
  b.dev = dev("mi300x");
  b.dims = d2;
  cr_assert_eq(gen_emit_launch(t, &b, c2, &l), AT_OK, "%s", at_last_error());
  cr_assert_eq(l.threads[0], 64);
  cr_assert_eq(l.threads[1], 2);
  cr_assert_eq(l.grid[0], 8);
  cr_assert_eq(l.shared, 128 * 4 + 4);
  cr_assert_eq(l.has_workspace, 0, "no workspace pragma, no WS argument");
  tmpl_free(t);

  /* the workspace pragma: bytes per config and problem, and the flag even at 0 bytes */
  t = load_ok(BAD "ws_splitk.h", incs());
  int64_t c3[4] = {2, 0, 0, 0}; /* SPLIT DIRTY A_T B_T */
  int64_t d3[5] = {20, 12, 40, 0, 0}; /* M N K TA TB */
  b.dev = dev("host");
  b.dims = d3;
  cr_assert_eq(gen_emit_launch(t, &b, c3, &l), AT_OK, "%s", at_last_error());
  cr_assert_eq(l.has_workspace, 1);
  cr_assert_eq(l.workspace, (20 * 12 + 3 * 2) * 4, "workspace %lld", (long long)l.workspace);
  cr_assert_eq(l.grid[2], 2);
  cr_assert_eq(strcmp(t->workspace_text, "(M * N + cdiv(M, 8) * cdiv(N, 8)) * sizeof_f32"), 0,
               "%s", t->workspace_text);
  tmpl_free(t);
}

/* ---- emission and names ------------------------------------------------------------- */

Test(template, emitted_tu_holds_three_named_kernels)
{
  struct tmpl *t = load_ok(SCALE, incs());
  char names[3][GEN_NAME_MAX];
  char *src = emit_three(t, dev("h100"), names);
  cr_assert_eq(count_of(src, "extern \"C\" __global__ void __launch_bounds__("), 3, "%s", src);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(strncmp(names[i], "at_scale_", 9), 0, "%s", names[i]);
    cr_assert_eq(strlen(names[i]), 9 + 16);
    cr_assert_eq(count_of(src, names[i]), 1, "%s once", names[i]);
    for (int j = 0; j < i; j++)
      cr_assert_str_neq(names[i], names[j]);
  }
  /* the first valid config on h100: BLOCK=32 VEC=1 UNROLL=1 */
  cr_assert(strstr(src, "// BLOCK=32,ITEMS=32,UNROLL=1,VEC=1\n"), "%s", src);
  cr_assert(strstr(src, "__launch_bounds__(32) at_scale_"), "%s", src);
  cr_assert(strstr(src, "(float *y, const float *x, float alpha, float beta, int N)\n{\n"
                        "  ::scale<32, 1, 1>(y, x, alpha, beta, N);\n}\n"), "%s", src);
  /* the template's text once, pragmas commented out, with its own line numbers */
  cr_assert_eq(count_of(src, "__device__ void scale("), 1);
  cr_assert(strstr(src, "\n// #pragma autotune kernel scale\n"));
  cr_assert(strstr(src, "#line 1 \"" AT_SOURCE_DIR "/templates/example/scale.h\"\n") ||
                strstr(src, "/templates/example/scale.h\"\n"), "%s", src);
  cr_assert(strstr(src, "dims N=4096 (defaults: no problem given)"), "%s", src);
  free(src);

  /* same input, same TU and names */
  struct tmpl *t2 = load_ok(SCALE, incs());
  char again[3][GEN_NAME_MAX];
  char *src1 = emit_three(t, dev("h100"), NULL), *src2 = emit_three(t2, dev("h100"), again);
  cr_assert_str_eq(src1, src2);
  for (int i = 0; i < 3; i++)
    cr_assert_str_eq(names[i], again[i]);
  cr_assert_str_eq(t->hash, t2->hash);
  free(src1);
  free(src2);
  tmpl_free(t2);
  tmpl_free(t);
}

Test(template, names_follow_template_bytes_not_path)
{
  char *dir = th_tmpdir();
  char *same = scale_copy(dir, "copy.h", -1, 0);
  /* byte 100 lies in the header comment: the kernel is unchanged, the source is not */
  char *edited = scale_copy(dir, "edited.h", 100, 'Z');
  struct tmpl *a = load_ok(SCALE, incs()), *b = load_ok(same, incs()),
              *c = load_ok(edited, incs());
  char na[3][GEN_NAME_MAX], nb[3][GEN_NAME_MAX], nc[3][GEN_NAME_MAX];
  free(emit_three(a, dev("mi300x"), na));
  free(emit_three(b, dev("mi300x"), nb));
  free(emit_three(c, dev("mi300x"), nc));
  cr_assert_str_eq(a->hash, b->hash, "the path is not part of the hash");
  cr_assert_str_neq(a->hash, c->hash);
  for (int i = 0; i < 3; i++) {
    cr_assert_str_eq(na[i], nb[i]);
    cr_assert_str_neq(na[i], nc[i]);
  }
  tmpl_free(a);
  tmpl_free(b);
  tmpl_free(c);
  free(same);
  free(edited);
  th_rmtree(dir);
  free(dir);
}

Test(template, names_follow_included_at_common)
{
  char *dir = th_tmpdir();
  char *inc = th_path(dir, "inc");
  cr_assert_eq(mkdir(inc, 0755), 0);
  char *hdr = th_path(inc, "at_common.h");
  size_t len;
  char src_hdr[1024];
  snprintf(src_hdr, sizeof src_hdr, "%s/at_common.h", incs()[0]);
  char *text = th_read(src_hdr, &len);
  cr_assert_not_null(text);
  cr_assert_eq(th_write(hdr, text, len), 0);
  /* the copy's sibling headers (at_host_rt.h, at_types.h, ...) still come from the source */
  const char *dirs[] = {inc, incs()[0], NULL};
  struct tmpl *a = load_ok(SCALE, dirs), *orig = load_ok(SCALE, incs());
  cr_assert_str_eq(a->hash, orig->hash, "same bytes, other folder");
  tmpl_free(orig);
  /* the host device's headers are not in it (generator/template.h, tmpl_host_header):
   * a copy of at_host_rt.h beside the copy of at_common.h, edited, renames nothing */
  char *rt = th_path(inc, "at_host_rt.h"), src_rt[1024];
  snprintf(src_rt, sizeof src_rt, "%s/at_host_rt.h", incs()[0]);
  size_t rt_len;
  char *rt_text = th_read(src_rt, &rt_len);
  cr_assert_not_null(rt_text);
  rt_text = realloc(rt_text, rt_len + 32);
  memcpy(rt_text + rt_len, "\n// one more line\n", 18);
  cr_assert_eq(th_write(rt, rt_text, rt_len + 18), 0);
  struct tmpl *h = load_ok(SCALE, dirs);
  cr_assert_str_eq(a->hash, h->hash, "editing at_host_rt.h renamed the variants");
  tmpl_free(h);
  free(rt_text);
  free(rt);
  cr_assert(tmpl_host_header("at_host_rt.h") && tmpl_host_header("x/at_host_mma.h"));
  cr_assert(!tmpl_host_header("at_mma.h") && !tmpl_host_header("at_hostile.c") &&
            !tmpl_host_header("my_at_host_x.h") && !tmpl_host_header("at_host"));
  char *more = malloc(len + 32);
  memcpy(more, text, len);
  memcpy(more + len, "\n// one more line\n", 18);
  cr_assert_eq(th_write(hdr, more, len + 18), 0);
  struct tmpl *b = load_ok(SCALE, dirs);
  cr_assert_str_neq(a->hash, b->hash, "editing at_common.h renames the variants");
  char na[GEN_NAME_MAX], nb[GEN_NAME_MAX];
  gen_variant_name(a, NULL, "BLOCK=64,ITEMS=64,UNROLL=1,VEC=1", na);
  gen_variant_name(b, NULL, "BLOCK=64,ITEMS=64,UNROLL=1,VEC=1", nb);
  cr_assert_str_neq(na, nb);
  gen_variant_name(a, "f16", "BLOCK=64,ITEMS=64,UNROLL=1,VEC=1", nb);
  cr_assert_str_eq(na, nb, "dtype ignored for a template without one");
  free(more);
  free(text);
  tmpl_free(a);
  tmpl_free(b);
  free(hdr);
  free(inc);
  th_rmtree(dir);
  free(dir);
}

Test(template, dtype_template)
{
  struct tmpl *t = load_ok(BAD "dtype_ok.h", incs());
  cr_assert_str_eq(t->kernel_qualified, "demo::axpy");
  cr_assert_str_eq(t->dtype, "T");
  cr_assert_eq(t->ndims, 2);
  cr_assert_str_eq(t->dims[1], "M");
  cr_assert_eq(t->params[0].nvalues, 4, "pow2(32, 256)");
  cr_assert_eq(t->params[0].values[3], 256);
  cr_assert_eq(t->params[1].nvalues, 3, "range(1, 3)");
  cr_assert_eq(t->params[2].values[0], 1, "true");
  cr_assert_eq(t->params[2].values[1], 0, "false");
  cr_assert_eq(t->params[3].nvalues, 3, "range(0, 8, 4)");
  cr_assert_eq(t->params[3].values[2], 8);
  cr_assert_str_eq(t->params[4].expr, "BX * BY + M - M");
  cr_assert_eq(t->params[4].tparam, 5);
  cr_assert_str_eq(t->reqs[0].expr, "TILE <= 512 && BY != 3", "comment dropped");
  cr_assert_str_eq(t->threads_text[1], "BY");
  cr_assert_str_eq(t->shared_text, "TILE * 4 + PAD", "continuation line joined");
  cr_assert_str_eq(t->tparams[3].type, "bool");
  cr_assert_str_eq(t->tparams[4].type, "unsigned int");
  cr_assert_str_eq(t->fparams[1].type, "const T *");

  struct gen_space *s;
  struct configs c = {0};
  cr_assert_eq(tmpl_space(t, dev("h100"), NULL, &s), AT_OK, "%s", at_last_error());
  cr_assert_eq(gen_space_enumerate(s, collect, &c, NULL), AT_OK);
  const int64_t *cfg[1] = {c.v};
  struct gen_bind b = {.dev = dev("h100"), .dtype = "f16"};
  char *src = NULL;
  cr_assert_eq(gen_emit_tu(t, CC_HIP, s, &b, cfg, 1, &src), AT_OK, "%s", at_last_error());
  cr_assert(strstr(src, "(at_half *y, const at_half *x, at_half a, int N)\n{\n"
                        "  ::demo::axpy<at_half, 32, 1, true, 0u, 32>(y, x, a, N);"),
            "%s", src);
  char n16[GEN_NAME_MAX], n32[GEN_NAME_MAX];
  cr_assert_eq(gen_emit_name(t, s, "f16", cfg[0], n16), AT_OK);
  cr_assert_eq(gen_emit_name(t, s, "f32", cfg[0], n32), AT_OK);
  cr_assert_str_neq(n16, n32, "the dtype is part of the name");
  cr_assert(strstr(src, n16));
  free(src);
  b.dtype = NULL;
  cr_assert_eq(gen_emit_tu(t, CC_HIP, s, &b, cfg, 1, &src), AT_USAGE);
  cr_assert_null(src);
  const int64_t *twice[2] = {c.v, c.v};
  b.dtype = "bf16";
  cr_assert_eq(gen_emit_tu(t, CC_HIP, s, &b, twice, 2, &src), AT_USAGE);
  cr_assert(strstr(at_last_error(), "same variant"), "%s", at_last_error());
  free(c.v);
  gen_space_free(s);
  tmpl_free(t);
}

/* ---- malformed templates: one per error ---------------------------------------------- */

Test(template, error_unknown_verb)
{
  expect_error("bad_verb.h", 4,
               "unknown autotune pragma 'parm' (expected kernel, problem, param, derive, "
               "require, threads, grid, cluster, min_blocks, shared, workspace, dtype, "
               "arch_specific or tensormap)");
}

Test(template, error_workspace_needs_a_last_pointer_parameter)
{
  expect_error("ws_not_last.h", 7, "workspace: kernel 'k' must take the workspace as its "
               "last parameter ('void *WS')");
}

Test(template, error_tensormap_syntax)
{
  expect_error("tensormap_syntax.h", 4,
               "expected 'tensormap NAME box(INNER, OUTER) swizzle(BYTES)'");
}

Test(template, error_tensormap_over_no_pointer)
{
  expect_error("tensormap_no_pointer.h", 4,
               "tensormap 'n': kernel 'k' has no pointer parameter of that name");
}

Test(template, error_tensormap_parameter_missing)
{
  expect_error("tensormap_no_param.h", 4,
               "tensormap 'X': parameter 3 of kernel 'k' must be 'const at_tensormap &tmap_X'");
}

Test(template, error_arch_specific_takes_no_argument)
{
  expect_error("arch_specific_args.h", 4,
               "expected 'arch_specific' alone (it takes no arguments)");
}

Test(template, error_duplicate_arch_specific)
{
  expect_error("dup_arch_specific.h", 6,
               "duplicate 'arch_specific' pragma (first at line 4)");
}

Test(template, error_param_not_in_template)
{
  expect_error("unknown_param.h", 5,
               "param 'TILE' is not a template parameter of kernel 'k' (its template "
               "parameters: BLOCK)");
}

Test(template, error_nontype_parameter_unbound)
{
  expect_error("unbound_nontype.h", 8,
               "template parameter 'UNROLL' of kernel 'k' has no '#pragma autotune param "
               "UNROLL = ...' or 'derive UNROLL = ...'");
}

Test(template, error_type_parameter_unbound)
{
  expect_error("unbound_type.h", 7,
               "type template parameter 'T' of kernel 'k' is not bound (add '#pragma "
               "autotune dtype T')");
}

Test(template, error_bool_value)
{
  expect_error("bool_value.h", 5,
               "param 'FAST': value 2 does not fit template parameter 'FAST' of type 'bool'");
}

Test(template, error_unsigned_value)
{
  expect_error("unsigned_value.h", 5,
               "param 'PAD': value -1 does not fit template parameter 'PAD' of type "
               "'unsigned int'");
}

Test(template, error_int_value)
{
  expect_error("int_value.h", 4,
               "param 'BLOCK': value 4294967296 does not fit template parameter 'BLOCK' of "
               "type 'int' (-2147483648 to 2147483647)");
}

Test(template, error_char_value)
{
  expect_error("char_value.h", 5,
               "param 'SHIFT': value 200 does not fit template parameter 'SHIFT' of type "
               "'signed char' (-128 to 127)");
}

Test(template, error_duplicate_param)
{
  expect_error("dup_param.h", 5, "duplicate param 'BLOCK' (first at line 4)");
}

Test(template, error_bad_expression)
{
  /* the column is the column in the file */
  expect_error("bad_expr.h", 5, "require 'fits': expected ')' at column 49, found end");
}

Test(template, error_unknown_identifier)
{
  expect_error("unknown_ident.h", 8,
               "require 'line 8': unknown identifier 'device.max_thread' at column 35");
}

Test(template, error_derive_uses_later_param)
{
  expect_error("derive_later.h", 5,
               "derive 'ITEMS': 'VEC' is defined after it (line 6)");
}

Test(template, error_missing_kernel_pragma)
{
  expect_error("missing_kernel.h", 1, "missing '#pragma autotune kernel NAME'");
}

Test(template, error_missing_threads_pragma)
{
  expect_error("missing_threads.h", 3, "missing '#pragma autotune threads ...'");
}

Test(template, error_missing_grid_pragma)
{
  expect_error("missing_grid.h", 3, "missing '#pragma autotune grid ...'");
}

Test(template, error_kernel_not_found)
{
  expect_error("kernel_not_found.h", 3, "kernel function template 'scale' not found in ");
}

Test(template, error_clang_diagnostic)
{
  expect_error("clang_error.h", 10, "use of undeclared identifier 'undeclared_thing'");
}

Test(template, error_missing_include)
{
  expect_error("missing_include.h", 3, "'no_such_header.h' file not found");
}

Test(template, error_duplicate_threads)
{
  expect_error("dup_threads.h", 7, "duplicate 'threads' pragma (first at line 5)");
}

Test(template, error_pow2_bounds)
{
  expect_error("bad_range.h", 4, "param 'BLOCK': pow2(): 48 is not a power of two");
}

Test(template, error_unreadable_file)
{
  struct tmpl *t = NULL;
  cr_assert_eq(tmpl_load(BAD "no_such_template.h", incs(), &t), AT_IO);
  cr_assert(strstr(at_last_error(), "cannot read template"), "%s", at_last_error());
  cr_assert_null(t);
}

/* ---- compiling the emitted TU ------------------------------------------------------- */

static void compile_host(const char *inc, const char *tmpl_path, const char *dtype)
{
  struct tmpl *t = load_ok(tmpl_path, (const char *[]){inc, NULL});
  const struct dev_profile *d = dev("host");
  struct gen_space *s;
  struct configs c = {0};
  cr_assert_eq(tmpl_space(t, d, NULL, &s), AT_OK);
  cr_assert_eq(gen_space_enumerate(s, collect, &c, NULL), AT_OK);
  const int64_t **cfg = malloc(c.n * sizeof *cfg);
  for (size_t i = 0; i < c.n; i++)
    cfg[i] = c.v + i * c.width;
  struct gen_bind b = {.dev = d, .dtype = dtype};
  char *src = NULL;
  cr_assert_eq(gen_emit_tu(t, CC_HOST, s, &b, cfg, c.n, &src), AT_OK, "%s", at_last_error());
  char *dir = th_tmpdir();
  char *file = th_path(dir, "variants.cpp");
  cr_assert_eq(th_write(file, src, strlen(src)), 0);
  struct th_result r;
  th_sh(&r, "g++ -std=c++17 -fsyntax-only -Wall -Wno-unknown-pragmas -Werror -I '%s' '%s' 2>&1",
        inc, file);
  cr_assert_eq(r.code, 0, "g++ failed on %zu variants:\n%s%s", c.n, r.out, r.err);
  th_result_free(&r);
  th_rmtree(dir);
  free(dir);
  free(file);
  free(src);
  free(cfg);
  free(c.v);
  gen_space_free(s);
  tmpl_free(t);
}

Test(template, emitted_tu_compiles_host_stub)
{
  compile_host(STUB, SCALE, NULL);
  compile_host(STUB, BAD "dtype_ok.h", "f32");
}

Test(template, emitted_tu_compiles_host)
{
  if (!have_common())
    cr_skip_test("templates/common/at_common.h does not exist yet");
  compile_host(COMMON, SCALE, NULL);
  compile_host(COMMON, BAD "dtype_ok.h", "f32");
  /* at_half arrives with the vector and matrix-core layer */
  char *text = th_read(COMMON "/at_common.h", NULL);
  cr_assert_not_null(text);
  if (strstr(text, "at_half"))
    compile_host(COMMON, BAD "dtype_ok.h", "f16");
  free(text);
}

/* Every scale.h variant for `devname`, in one TU, through compile backend `backend`. */
static void compile_gpu(const char *backend, const char *devname, enum cc_target target)
{
  const struct cc_backend *cc = cc_find(backend);
  char why[512] = "";
  cr_assert_not_null(cc, "%s", backend);
  if (!cc->available(why, sizeof why))
    cr_skip_test("%s is not available here: %s", backend, why);
  const char *inc[] = {COMMON, NULL};
  struct tmpl *t = load_ok(SCALE, inc);
  const struct dev_profile *d = dev(devname);
  struct gen_space *s;
  struct configs c = {0};
  cr_assert_eq(tmpl_space(t, d, NULL, &s), AT_OK);
  cr_assert_eq(gen_space_enumerate(s, collect, &c, NULL), AT_OK);
  const int64_t **cfg = malloc(c.n * sizeof *cfg);
  for (size_t i = 0; i < c.n; i++)
    cfg[i] = c.v + i * c.width;
  struct gen_bind b = {.dev = d};
  char *src = NULL;
  cr_assert_eq(gen_emit_tu(t, target, s, &b, cfg, c.n, &src), AT_OK, "%s", at_last_error());
  struct cc_request req = {.source = src, .name = "scale_variants", .arch = d->arch,
                           .include_dirs = inc};
  struct cc_result r = {0};
  cr_assert_eq(cc->compile(&req, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.status, CC_OK, "%s for %s:\n%s", backend, d->arch, r.log ? r.log : "");
  for (size_t i = 0; i < c.n; i++) {
    char name[GEN_NAME_MAX];
    struct gen_launch l;
    cr_assert_eq(gen_emit_name(t, s, NULL, cfg[i], name), AT_OK);
    cr_assert_eq(gen_emit_launch(t, &b, cfg[i], &l), AT_OK);
    const struct cc_kernel_res *k = cc_result_kernel(&r, name);
    cr_assert_not_null(k, "%s missing from the %s code object", name, d->arch);
    if (k->max_threads > 0)
      cr_assert_eq(k->max_threads, l.threads[0], "%s: __launch_bounds__", name);
  }
  cc_result_release(&r);
  free(src);
  free(cfg);
  free(c.v);
  gen_space_free(s);
  tmpl_free(t);
}

Test(template, emitted_tu_compiles_sm90, .timeout = 300)
{
  compile_gpu("nvrtc", "h100", CC_CUDA);
}

Test(template, emitted_tu_compiles_gfx942, .timeout = 300)
{
  compile_gpu("clang-hip", "mi300x", CC_HIP);
}

/* The content hash is SHA-256; a schema-1 database's FNV-1a hash of the same bytes still
 * matches (db/open.c tags it "fnv1a64:"). The pinned value is what autotune prints for
 * scale.h with templates/common; it moves only when those files do (so kernels that
 * need more go into opt-in headers such as at_math.h and at_fence.h). Last moved on
 * purpose when the host device's emulation left at_types.h, at_mma.h, at_mfma.h and
 * at_copy.h for at_host_*.h (outside the hash since, so that the emulator can change
 * without renaming a GPU variant); before that by at_types.h's at_memcpy (memcpy, not a byte
 * loop, on CUDA), which changed the code every CUDA template compiles to. */
Test(template, hash_is_sha256_and_old_databases_hashes_still_match)
{
  struct tmpl *t = load_ok(SCALE, incs());
  cr_assert_eq(strlen(t->hash), 16);
  cr_assert_eq(strncmp(t->legacy_hash, HASH_FNV1A64_TAG, strlen(HASH_FNV1A64_TAG)), 0);
  cr_assert(tmpl_hash_matches(t, t->hash));
  cr_assert(tmpl_hash_matches(t, t->legacy_hash));
  cr_assert_not(tmpl_hash_matches(t, t->legacy_hash + strlen(HASH_FNV1A64_TAG)),
                "an untagged FNV hash is not mistaken for a SHA-256 one");
  cr_assert_not(tmpl_hash_matches(t, HASH_FNV1A64_TAG "0000000000000000"));
  cr_assert_not(tmpl_hash_matches(t, NULL));
  if (have_common()) {
    cr_assert_str_eq(t->legacy_hash, HASH_FNV1A64_TAG "3ce9dda99cb75f6b");
    /* the SHA-256 of the text alone differs: the included headers are in it */
    char hex[HASH_SHA256_HEX];
    hash_sha256_of(t->text, t->text_len, hex);
    cr_assert_neq(strncmp(hex, t->hash, 16), 0);
  }
  tmpl_free(t);
}
