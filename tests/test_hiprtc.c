/*
 * test_hiprtc.c - the hipRTC compile backend in this process, on Debian's ROCm 5.2
 * hipRTC (scripts/setup.sh installs libamdhip64-dev): the example template's variants
 * compile for gfx90a into a code object whose resources equal an independent read with
 * llvm-readelf-19 --notes; an arch this hipRTC predates and a syntax error are compile
 * errors with a log, never a crash of the process.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "tuner/compile/compile.h"
#include "base/device.h"
#include "base/status.h"

static const char *const incs[] = {AT_TEMPLATES_DIR "/common", NULL};

static void need_hiprtc(void)
{
  char why[512];
  if (!cc_hiprtc.available(why, sizeof why))
    cr_skip_test("no hipRTC here: %s", why);
}

struct collect {
  int64_t *cfg[8];
  size_t n;
};

static int take(void *ctx, const int64_t *v, size_t n)
{
  struct collect *c = ctx;
  c->cfg[c->n] = malloc(n * sizeof *v);
  memcpy(c->cfg[c->n++], v, n * sizeof *v);
  return c->n == 8 ? GEN_SPACE_STOP : 0;
}

Test(hiprtc, scale_variants_compile_for_gfx90a_with_resources_from_the_code_object)
{
  need_hiprtc();
  struct tmpl *t = NULL;
  cr_assert_eq(tmpl_load(AT_TEMPLATES_DIR "/example/scale.h", incs, &t), AT_OK, "%s",
               at_last_error());
  const struct dev_profile *dev = dev_find("mi250x");
  struct gen_space *s = NULL;
  cr_assert_eq(tmpl_space(t, dev, NULL, &s), AT_OK);
  struct collect c = {0};
  cr_assert_eq(gen_space_enumerate(s, take, &c, NULL), AT_OK);
  cr_assert_eq(c.n, 8);
  struct gen_bind b = {.dev = dev};
  char *src = NULL;
  cr_assert_eq(gen_emit_tu(t, CC_HIP, s, &b, (const int64_t *const *)c.cfg, c.n, &src), AT_OK);
  struct cc_request req = {.source = src, .name = "scale.hip", .arch = "gfx90a",
                           .include_dirs = incs};
  struct cc_result r = {0};
  cr_assert_eq(cc_hiprtc.compile(&req, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.status, CC_OK, "%s", r.log);
  cr_assert_eq(r.nkernels, 8);
  cr_assert(strstr(r.toolchain, "hiprtc"), "%s", r.toolchain);
  /* An independent read of the same code object. */
  char *dir = th_tmpdir(), *co = th_path(dir, "out.co");
  cr_assert_eq(th_write(co, (const char *)r.code, r.code_size), 0);
  struct th_result notes;
  th_sh(&notes, "llvm-readelf-19 --notes '%s'", co);
  cr_assert_eq(notes.code, 0, "%s", notes.err);
  for (size_t i = 0; i < c.n; i++) {
    char name[GEN_NAME_MAX];
    cr_assert_eq(gen_emit_name(t, s, NULL, c.cfg[i], name), AT_OK);
    const struct cc_kernel_res *k = cc_result_kernel(&r, name);
    cr_assert_not_null(k, "%s missing from the code object", name);
    /* The note lists each kernel's map; find ".name: <name>" and its .vgpr_count. */
    char key[128];
    snprintf(key, sizeof key, ".name:           %s\n", name);
    const char *at = strstr(notes.out, key);
    cr_assert_not_null(at, "llvm-readelf does not show %s", name);
    const char *next = strstr(at + 1, ".name:  ");
    const char *v = strstr(at, ".vgpr_count:");
    const char *sg = strstr(at, ".sgpr_count:");
    cr_assert(v && sg && (!next || (v < next && sg < next)), "no counts for %s", name);
    cr_assert_eq(atoi(v + 12), k->registers + (k->agprs > 0 ? k->agprs : 0), "%s", name);
    cr_assert_eq(atoi(sg + 12), k->sgprs, "%s", name);
    cr_assert_eq(k->shared_bytes, 0);
    free(c.cfg[i]);
  }
  th_result_free(&notes);
  th_rmtree(dir);
  free(co);
  free(dir);
  cc_result_release(&r);
  free(src);
  gen_space_free(s);
  tmpl_free(t);
}

Test(hiprtc, errors_are_results_not_crashes)
{
  need_hiprtc();
  const char *bad = "#include \"at_common.h\"\n"
                    "extern \"C\" __global__ void k(float *x)\n"
                    "{ x[0] = undeclared_thing; }\n";
  struct cc_request req = {.source = bad, .name = "bad.hip", .arch = "gfx90a",
                           .include_dirs = incs};
  struct cc_result r = {0};
  cr_assert_eq(cc_hiprtc.compile(&req, &r), AT_OK, "%s", at_last_error());
  cr_assert_eq(r.status, CC_COMPILE_ERROR);
  cr_assert(strstr(r.log, "undeclared_thing"), "%s", r.log);
  cc_result_release(&r);
  /* gfx942: a newer hipRTC compiles it; ROCm 5.2's would abort inside comgr, so the
   * backend refuses in its stead. Either way the process is still here. */
  const char *ok = "#include \"at_common.h\"\n"
                   "extern \"C\" __global__ void k(float *x) { x[at_thread_idx_x()] = 1; }\n";
  req.source = ok;
  req.arch = "gfx942";
  cr_assert_eq(cc_hiprtc.compile(&req, &r), AT_OK, "%s", at_last_error());
  if (r.status == CC_COMPILE_ERROR)
    cr_assert(strstr(r.log, "gfx942"), "%s", r.log);
  else
    cr_assert_eq(r.nkernels, 1);
  cc_result_release(&r);
  req.arch = "sm_90";
  cr_assert_eq(cc_hiprtc.compile(&req, &r), AT_USAGE);
  cc_result_release(&r);
}
