/*
 * test_bundle.c - tuning where LLVM and the compilers are absent: the parse cache (a
 * template read again without libclang, stale after any change of it or of what it
 * includes, equal to a fresh parse), the compile cache's variant aliases (a variant
 * compiled in one batching is found in another), and bundles (made here, moved, and
 * measured by a process that can open neither libclang nor a compiler, with the trials a
 * direct run records). The binary is run for real (AT_BINARY); "no libclang" is
 * AUTOTUNE_LIBCLANG set empty, "no compiler" an empty PATH.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/device.h"
#include "base/os.h"
#include "base/status.h"
#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "tuner/compile/build.h"

#define SCALE AT_SOURCE_DIR "/templates/example/scale.h"
#define COMMON AT_SOURCE_DIR "/templates/common"
#define SCALE_ARGS "--dim N=4096 --arg y=N --arg x=N --arg alpha=2 --arg beta=1"

/* A copy of scale.h and templates/common in dir/t/example and dir/t/common. */
static char *copy_templates(const char *dir)
{
  struct th_result r;
  th_sh(&r, "mkdir -p '%s/t/example' && cp '%s' '%s/t/example/' && cp -r '%s' '%s/t/'", dir,
        SCALE, dir, COMMON, dir);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  return os_strdupf("%s/t/example/scale.h", dir);
}

/* `generate TEMPLATE --device host --stats` with the cache at dir/cache; libclang: the
 * AUTOTUNE_LIBCLANG value ("" none, NULL the default). */
static void stats(struct th_result *r, const char *dir, const char *tmpl, const char *libclang)
{
  th_sh(r, "%s%s%sAUTOTUNE_CACHE_DIR='%s/cache' '%s' generate '%s' --device host --stats",
        libclang ? "AUTOTUNE_LIBCLANG='" : "", libclang ? libclang : "", libclang ? "' " : "",
        dir, AT_BINARY, tmpl);
}

Test(bundle, binary_links_no_llvm)
{
  struct th_result r;
  th_sh(&r, "readelf -d '%s'", AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "NEEDED"), "%s", r.out);
  cr_assert_null(strstr(r.out, "libclang"), "autotune links libclang:\n%s", r.out);
  cr_assert_null(strstr(r.out, "libLLVM"), "autotune links LLVM:\n%s", r.out);
  th_result_free(&r);
}

Test(bundle, parse_cache_serves_without_libclang_and_goes_stale, .timeout = 300)
{
  char *dir = th_tmpdir(), *tmpl = copy_templates(dir);
  struct th_result r, again;
  /* no entry and no libclang: a clear refusal */
  stats(&r, dir, tmpl, "");
  cr_assert_eq(r.code, 1, "%s", r.err);
  cr_assert(strstr(r.err, "libclang is not available"), "%s", r.err);
  cr_assert(strstr(r.err, "scale.h"), "%s", r.err);
  th_result_free(&r);
  /* parsed once with libclang, then read back without it, the same */
  stats(&r, dir, tmpl, NULL);
  cr_assert_eq(r.code, 0, "%s", r.err);
  stats(&again, dir, tmpl, "");
  cr_assert_eq(again.code, 0, "%s", again.err);
  cr_assert_str_eq(again.out, r.out);
  th_result_free(&again);
  /* any change of the template: stale */
  size_t len;
  char *text = th_read(tmpl, &len);
  char *changed = os_strdupf("%s// one more line\n", text);
  cr_assert_eq(th_write(tmpl, changed, strlen(changed)), 0);
  stats(&again, dir, tmpl, "");
  cr_assert_eq(again.code, 1, "a changed template was served from the cache");
  th_result_free(&again);
  cr_assert_eq(th_write(tmpl, text, len), 0);
  stats(&again, dir, tmpl, "");
  cr_assert_eq(again.code, 0, "%s", again.err);
  th_result_free(&again);
  /* any change of a header it includes: stale */
  char *hdr = os_strdupf("%s/t/common/at_common.h", dir);
  char *h = th_read(hdr, &len);
  char *hchanged = os_strdupf("%s\n// a comment\n", h);
  cr_assert_eq(th_write(hdr, hchanged, strlen(hchanged)), 0);
  stats(&again, dir, tmpl, "");
  cr_assert_eq(again.code, 1, "a changed include was served from the cache");
  th_result_free(&again);
  /* parsed again with libclang, then served without it */
  stats(&again, dir, tmpl, NULL);
  cr_assert_eq(again.code, 0, "%s", again.err);
  th_result_free(&again);
  stats(&again, dir, tmpl, "");
  cr_assert_eq(again.code, 0, "%s", again.err);
  cr_assert_str_eq(again.out, r.out);
  th_result_free(&again);
  th_result_free(&r);
  free(hchanged);
  free(h);
  free(hdr);
  free(changed);
  free(text);
  free(tmpl);
  th_rmtree(dir);
}

/* Everything a template holds, compared field by field, and the TU it emits. */
static void assert_same_template(const struct tmpl *a, const struct tmpl *b,
                                 const char *device)
{
  cr_assert_str_eq(a->hash, b->hash);
  cr_assert_str_eq(a->legacy_hash, b->legacy_hash);
  cr_assert_str_eq(a->kernel, b->kernel);
  cr_assert_str_eq(a->kernel_qualified, b->kernel_qualified);
  cr_assert_eq(a->kernel_line, b->kernel_line);
  cr_assert_eq(a->ndims, b->ndims);
  for (size_t i = 0; i < a->ndims; i++)
    cr_assert_str_eq(a->dims[i], b->dims[i]);
  cr_assert_eq(a->nparams, b->nparams);
  for (size_t i = 0; i < a->nparams; i++) {
    cr_assert_str_eq(a->params[i].name, b->params[i].name);
    cr_assert_eq(a->params[i].nvalues, b->params[i].nvalues);
    cr_assert_eq(a->params[i].tparam, b->params[i].tparam);
    cr_assert_eq(a->params[i].line, b->params[i].line);
    for (size_t v = 0; v < a->params[i].nvalues; v++)
      cr_assert_eq(a->params[i].values[v], b->params[i].values[v]);
    cr_assert_eq(!a->params[i].expr, !b->params[i].expr);
    if (a->params[i].expr)
      cr_assert_str_eq(a->params[i].expr, b->params[i].expr);
  }
  cr_assert_eq(a->nreqs, b->nreqs);
  for (size_t i = 0; i < a->nreqs; i++) {
    cr_assert_str_eq(a->reqs[i].name, b->reqs[i].name);
    cr_assert_str_eq(a->reqs[i].expr, b->reqs[i].expr);
  }
  for (size_t i = 0; i < 3; i++) {
    cr_assert_str_eq(a->threads_text[i], b->threads_text[i]);
    cr_assert_str_eq(a->grid_text[i], b->grid_text[i]);
  }
  cr_assert_str_eq(a->shared_text, b->shared_text);
  cr_assert_eq(!a->workspace_text, !b->workspace_text);
  if (a->workspace_text)
    cr_assert_str_eq(a->workspace_text, b->workspace_text);
  cr_assert_eq(a->ntparams, b->ntparams);
  for (size_t i = 0; i < a->ntparams; i++) {
    cr_assert_str_eq(a->tparams[i].name, b->tparams[i].name);
    cr_assert_str_eq(a->tparams[i].type, b->tparams[i].type);
    cr_assert_eq(a->tparams[i].lo, b->tparams[i].lo);
    cr_assert_eq(a->tparams[i].hi, b->tparams[i].hi);
    cr_assert_eq(a->tparams[i].kind, b->tparams[i].kind);
  }
  cr_assert_eq(a->nfparams, b->nfparams);
  for (size_t i = 0; i < a->nfparams; i++) {
    cr_assert_str_eq(a->fparams[i].name, b->fparams[i].name);
    cr_assert_str_eq(a->fparams[i].type, b->fparams[i].type);
  }
  cr_assert_eq(a->npragma_lines, b->npragma_lines);
  cr_assert_eq(a->arch_specific, b->arch_specific);
  cr_assert_eq(a->ntmaps, b->ntmaps);
  for (size_t i = 0; i < a->ntmaps; i++) {
    cr_assert_str_eq(a->tmaps[i].param, b->tmaps[i].param);
    for (int k = 0; k < 3; k++)
      cr_assert_str_eq(a->tmaps[i].text[k], b->tmaps[i].text[k]);
  }
  /* the same space, and the same source for its every config */
  const struct dev_profile *dev = dev_find(device);
  struct gen_space *sa = NULL, *sb = NULL;
  cr_assert_eq(tmpl_space(a, dev, NULL, &sa), AT_OK);
  cr_assert_eq(tmpl_space(b, dev, NULL, &sb), AT_OK);
  int64_t *ca = NULL, *cb = NULL;
  size_t na = 0, nb = 0;
  cr_assert_eq(gen_space_collect(sa, &ca, &na, NULL), AT_OK);
  cr_assert_eq(gen_space_collect(sb, &cb, &nb, NULL), AT_OK);
  cr_assert_eq(na, nb);
  cr_assert_gt(na, 0);
  size_t np = gen_space_param_count(sa);
  cr_assert_eq(memcmp(ca, cb, na * np * sizeof *ca), 0);
  na = na < 64 ? na : 64; /* a TU of the first 64 */
  const int64_t **pa = malloc(na * sizeof *pa), **pb = malloc(na * sizeof *pb);
  for (size_t i = 0; i < na; i++) {
    pa[i] = ca + i * np;
    pb[i] = cb + i * np;
  }
  struct gen_bind bind = {.dev = dev, .dtype = a->dtype ? "f16" : NULL};
  char *ta = NULL, *tb = NULL;
  cr_assert_eq(gen_emit_tu(a, CC_CUDA, sa, &bind, pa, na, &ta), AT_OK, "%s", at_last_error());
  cr_assert_eq(gen_emit_tu(b, CC_CUDA, sb, &bind, pb, na, &tb), AT_OK, "%s", at_last_error());
  cr_assert_str_eq(ta, tb);
  free(ta);
  free(tb);
  free(pa);
  free(pb);
  free(ca);
  free(cb);
  gen_space_free(sa);
  gen_space_free(sb);
}

Test(bundle, parse_cache_entry_equals_a_fresh_parse, .timeout = 120)
{
  static const char *const names[][2] = {{"/templates/gemm/gemm_mma.h", "h100"},
                                         {"/templates/gemm/gemm_mfma.h", "mi300x"},
                                         {"/templates/gemm/gemm_simt.h", "host"},
                                         {"/templates/gemm/gemm_tma.h", "h100"},
                                         {"/templates/example/scale.h", "host"}};
  char *dir = th_tmpdir();
  const char *incs[] = {COMMON, NULL};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char *path = os_strdupf("%s%s", AT_SOURCE_DIR, names[i][0]);
    struct tmpl *fresh = NULL, *stored = NULL, *cached = NULL;
    cr_assert_eq(tmpl_open(path, incs, "", &fresh), AT_OK, "%s", at_last_error());
    cr_assert_eq(tmpl_open(path, incs, dir, &stored), AT_OK, "%s", at_last_error());
    cr_assert_not(stored->from_cache, "%s: an empty cache served it", path);
    cr_assert_eq(tmpl_open(path, incs, dir, &cached), AT_OK, "%s", at_last_error());
    cr_assert(cached->from_cache, "%s: not served from the cache", path);
    assert_same_template(fresh, cached, names[i][1]);
    tmpl_free(fresh);
    tmpl_free(stored);
    tmpl_free(cached);
    free(path);
  }
  th_rmtree(dir);
}

/* Compiled in batches of 16 in one order, found again one by one in another: the
 * variant aliases. */
Test(bundle, variant_compiled_in_one_batching_is_found_in_another, .timeout = 300)
{
  char *dir = th_tmpdir();
  const char *incs[] = {COMMON, NULL};
  struct tmpl *t = NULL;
  cr_assert_eq(tmpl_open(SCALE, incs, "", &t), AT_OK, "%s", at_last_error());
  const struct dev_profile *dev = dev_find("host");
  struct gen_space *s = NULL;
  cr_assert_eq(tmpl_space(t, dev, NULL, &s), AT_OK);
  int64_t *cfg = NULL;
  size_t n = 0;
  cr_assert_eq(gen_space_collect(s, &cfg, &n, NULL), AT_OK);
  cr_assert_geq(n, 20);
  size_t np = gen_space_param_count(s);
  struct bld_options bo = {.jobs = 2, .cache_dir = dir, .include_dirs = incs};
  struct bld_result first, second;
  cr_assert_eq(bld_run(t, s, dev, NULL, NULL, cfg, 20, &bo, &first), AT_OK, "%s",
               at_last_error());
  cr_assert_gt(first.stats.compiled, 0);
  /* configs 17, 13, 7, 5 (in both batches of the first run), each alone */
  int64_t *pick = malloc(4 * np * sizeof *pick);
  const size_t which[4] = {17, 13, 7, 5};
  for (size_t i = 0; i < 4; i++)
    memcpy(pick + i * np, cfg + which[i] * np, np * sizeof *pick);
  bo.batch = 1;
  cr_assert_eq(bld_run(t, s, dev, NULL, NULL, pick, 4, &bo, &second), AT_OK, "%s",
               at_last_error());
  cr_assert_eq(second.stats.compiled, 0, "a variant compiled before was compiled again");
  cr_assert_eq(second.stats.cache_hits, 2); /* the two batches that hold them */
  for (size_t i = 0; i < 4; i++) {
    const struct bld_variant *a = &first.variants[which[i]], *b = &second.variants[i];
    cr_assert_str_eq(a->name, b->name);
    cr_assert_eq(a->verdict, b->verdict);
    cr_assert_eq(a->res.registers, b->res.registers);
  }
  bld_result_release(&first);
  bld_result_release(&second);
  free(pick);
  free(cfg);
  gen_space_free(s);
  tmpl_free(t);
  th_rmtree(dir);
}

/* The trials of a run as "config status" lines, sorted. */
static char *trials_of(const char *db)
{
  struct th_result r;
  th_sh(&r, "sqlite3 '%s' \"SELECT c.text || ' ' || t.status FROM trials t JOIN configs c "
            "ON c.id = t.config_id ORDER BY 1\"", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char *out = r.out;
  r.out = NULL;
  th_result_free(&r);
  return out;
}

Test(bundle, made_here_measured_elsewhere_without_libclang_or_compiler, .timeout = 600)
{
  char *dir = th_tmpdir();
  struct th_result r;
  /* made with this build's caches, then moved */
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/cache' '%s' bundle tune '" SCALE "' --device "
            "host " SCALE_ARGS " --out made --json", dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"ok\":"), "%s", r.out);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && mkdir elsewhere && mv made elsewhere/b && test ! -e made", dir);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  /* measured with no libclang, no compiler on PATH and an empty cache */
  th_sh(&r, "cd '%s' && AUTOTUNE_LIBCLANG= AUTOTUNE_CACHE_DIR='%s/empty' PATH=/nonexistent "
            "'%s' tune scale.h --bundle elsewhere/b " SCALE_ARGS " --budget 5 --db b.db",
        dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
  th_result_free(&r);
  char *empty = th_path(dir, "empty");
  cr_assert_not(at_is_file(empty) || access(empty, F_OK) == 0, "the bundle run made a cache");
  /* a direct run with the same arguments records the same trials */
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/cache2' '%s' tune '" SCALE "' --device host "
            SCALE_ARGS " --budget 5 --db d.db", dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *bdb = th_path(dir, "b.db"), *ddb = th_path(dir, "d.db");
  char *tb = trials_of(bdb), *td = trials_of(ddb);
  cr_assert_gt(strlen(td), 0);
  cr_assert_str_eq(tb, td);
  /* the run carries the bundle's identity */
  th_sh(&r, "sqlite3 '%s' 'SELECT args FROM runs'", bdb);
  cr_assert(strstr(r.out, " --bundle "), "%s", r.out);
  th_result_free(&r);
  free(tb);
  free(td);
  free(bdb);
  free(ddb);
  free(empty);
  th_rmtree(dir);
}

Test(bundle, bad_bundles_are_refused_and_out_is_never_clobbered, .timeout = 600)
{
  char *dir = th_tmpdir();
  struct th_result r;
  th_sh(&r, "cd '%s' && mkdir taken && echo mine > taken/file && AUTOTUNE_CACHE_DIR='%s/c' "
            "'%s' bundle tune '" SCALE "' --device host " SCALE_ARGS " --out taken",
        dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert(strstr(r.err, "exists"), "%s", r.err);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && test \"$(cat taken/file)\" = mine && ls | grep -c partial", dir);
  cr_assert_str_eq(r.out, "0\n", "a staging folder was left: %s", r.out);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' bundle tune '" SCALE "' --device host "
            SCALE_ARGS " --out b", dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  /* another device than the bundle's */
  th_sh(&r, "cd '%s' && '%s' tune scale.h --bundle b --device host --emulate h100 "
            SCALE_ARGS " --db x.db", dir, AT_BINARY);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert(strstr(r.err, "was made for"), "%s", r.err);
  th_result_free(&r);
  /* a file changed inside it */
  th_sh(&r, "cd '%s' && echo '// x' >> b/templates/user/scale.h && '%s' tune scale.h "
            "--bundle b " SCALE_ARGS " --db x.db", dir, AT_BINARY);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert(strstr(r.err, "identity"), "%s", r.err);
  th_result_free(&r);
  /* not a bundle */
  th_sh(&r, "cd '%s' && '%s' gemm --bundle taken --m 8 --n 8 --k 8 --db x.db", dir,
        AT_BINARY);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert(strstr(r.err, "no bundle there"), "%s", r.err);
  th_result_free(&r);
  char *x = th_path(dir, "x.db");
  cr_assert_neq(access(x, F_OK), 0, "bad input created the database");
  free(x);
  th_rmtree(dir);
}

Test(bundle, one_runs_bundle_holds_its_picks_and_gives_its_run, .timeout = 600)
{
  char *dir = th_tmpdir();
  struct th_result r;
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' bundle tune '" SCALE "' --device host "
            SCALE_ARGS " --strategy random --budget 3 --seed 2 --out one --json", dir, dir,
        AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"variants\":4,"), "the picks and the default: %s", r.out);
  th_result_free(&r);
  char *manifest = os_strdupf("%s/one/bundle.json", dir);
  char *m = th_read(manifest, NULL);
  cr_assert(strstr(m, "\"covers\":\"--strategy random --budget 3 --seed 2\""), "%s", m);
  /* measured with the bundle's strategy and budget by default, as a direct run */
  th_sh(&r, "cd '%s' && AUTOTUNE_LIBCLANG= PATH=/nonexistent '%s' tune scale.h --bundle one "
            SCALE_ARGS " --seed 2 --db b.db", dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' tune '" SCALE "' --device host "
            SCALE_ARGS " --strategy random --budget 3 --seed 2 --db d.db", dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *bdb = th_path(dir, "b.db"), *ddb = th_path(dir, "d.db");
  char *tb = trials_of(bdb), *td = trials_of(ddb);
  cr_assert_str_eq(tb, td);
  /* another seed picks what the bundle lacks: said, nothing measured */
  th_sh(&r, "cd '%s' && AUTOTUNE_LIBCLANG= PATH=/nonexistent '%s' tune scale.h --bundle one "
            SCALE_ARGS " --seed 9 --db e.db", dir, AT_BINARY);
  cr_assert(strstr(r.err, "not in the bundle"), "%s", r.err);
  th_result_free(&r);
  free(tb);
  free(td);
  free(bdb);
  free(ddb);
  free(m);
  free(manifest);
  th_rmtree(dir);
}

/* A bundle made with a budget holds the refill's replacements (a pick that did not
 * compile is replaced by the strategy's next: tune.c's refill), so a run from it on a
 * machine with no compiler measures the budget's worth, the same trials as a direct run
 * (refill.h: every third PICK is a compile error). */
Test(bundle, one_runs_bundle_holds_the_refills_of_picks_that_did_not_compile, .timeout = 300)
{
  char *dir = th_tmpdir();
  struct th_result r;
#define REFILL_ARGS "--device host --m 16 --n 16 --k 16 --template '" AT_SOURCE_DIR \
                    "/tests/data/templates/refill.h' --strategy model --budget 4 --variant-time 0.05"
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' bundle gemm " REFILL_ARGS " --out b",
        dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && AUTOTUNE_LIBCLANG= PATH=/nonexistent '%s' gemm --bundle b "
            "--m 16 --n 16 --k 16 --variant-time 0.05 --db b.db --json", dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
  cr_assert(strstr(r.out, "\"compile_error\":2,"), "%s", r.out);
  cr_assert(strstr(r.out, "\"ok\":5,\"measured\":5,"), "%s", r.out);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' gemm " REFILL_ARGS " --db d.db", dir, dir,
        AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *bdb = th_path(dir, "b.db"), *ddb = th_path(dir, "d.db");
  char *tb = trials_of(bdb), *td = trials_of(ddb);
  cr_assert_str_eq(tb, td);
  free(tb), free(td), free(bdb), free(ddb);
  th_rmtree(dir);
  free(dir);
}

/* A bundle made with --where holds those configs and says so in `covers`; measured from
 * without --where, the run filters the same way (and names it in its arguments). */
Test(bundle, where_travels_in_the_bundle, .timeout = 300)
{
  char *dir = th_tmpdir();
  struct th_result r;
#define WHERE_ARGS "--device host --m 24 --n 40 --k 16 --template gemm_simt --strategy random " \
                   "--budget 3 --seed 4"
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' bundle gemm " WHERE_ARGS
            " --where THREADS=128 --out b", dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && grep -o '\"covers\":\"[^\"]*\"' b/bundle.json", dir);
  cr_assert(strstr(r.out, "--strategy random --budget 3 --seed 4 --where THREADS=128"), "%s",
            r.out);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && AUTOTUNE_LIBCLANG= PATH=/nonexistent '%s' gemm --bundle b "
            WHERE_ARGS " --db b.db", dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && sqlite3 b.db \"SELECT count(*) || ' ' || sum(c.text LIKE "
            "'%%THREADS=128%%') FROM trials t JOIN configs c ON c.id = t.config_id JOIN kernels "
            "k ON k.id = t.kernel_id WHERE k.template = 'gemm_simt' AND t.status = 'ok'\"; "
            "sqlite3 b.db 'SELECT args FROM runs'", dir);
  int all = -1, with = -2;
  cr_assert_eq(sscanf(r.out, "%d %d", &all, &with), 2, "%s", r.out);
  cr_assert(all >= 3 && with == all, "%d ok gemm_simt trials, %d with THREADS=128", all, with);
  cr_assert(strstr(r.out, " --where THREADS=128"), "%s", r.out);
  th_result_free(&r);
  th_rmtree(dir);
  free(dir);
}

/* A bundle's parse entries name their dependencies inside the bundle alone (I<k>/ an
 * include folder, T/ the template's): a GPU node has no LLVM, so an entry that named
 * clang's builtin stddef.h by its absolute path was stale there and every template was
 * skipped (seen on the first H200 run, 2026-12-04). */
Test(bundle, parse_entries_need_no_toolchain_header, .timeout = 300)
{
  char *dir = th_tmpdir();
  struct th_result r;
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' bundle gemm --device host --m 16 --n 16 "
            "--k 16 --template gemm_simt --budget 1 --out b", dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  /* the entries have dependencies (the common headers), none by an absolute path */
  th_sh(&r, "cd '%s' && grep -c '^S[0-9]*:I0/' b/cache/parse/*.tmpl", dir);
  cr_assert_eq(r.code, 0, "no dependency recorded: %s %s", r.out, r.err);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && grep -H '^S[0-9]*:/' b/cache/parse/*.tmpl", dir);
  cr_assert_eq(r.code, 1, "a parse entry names a path outside the bundle:\n%s", r.out);
  th_result_free(&r);
  th_rmtree(dir);
  free(dir);
}

/* The attention contract v2's options travel: a bundle made for a GQA decode step over a
 * paged cache with LSE holds the PAGED variants of that run's picks; measured from it with
 * no libclang or compiler, it records what a direct run records, under the v2 family. */
Test(bundle, attention_v2_options_travel_in_a_bundle, .timeout = 600)
{
  char *dir = th_tmpdir();
  struct th_result r;
#define ATTN_V2 "--device host --heads 4 --kv-heads 2 --decode --seqlen 2 --kv-seqlen 40 " \
                "--head-dim 16 --paged --lse --strategy random --budget 2 --seed 3"
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' bundle attention " ATTN_V2
            " --out b --json", dir, dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && AUTOTUNE_LIBCLANG= PATH=/nonexistent '%s' attention --bundle b "
            ATTN_V2 " --db b.db", dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' attention " ATTN_V2 " --db d.db", dir,
        dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *bdb = th_path(dir, "b.db"), *ddb = th_path(dir, "d.db");
  char *tb = trials_of(bdb), *td = trials_of(ddb);
  cr_assert_gt(strlen(td), 0);
  cr_assert_str_eq(tb, td);
  th_sh(&r, "sqlite3 '%s' 'SELECT DISTINCT p.layout, p.dim_names FROM trials t JOIN problems p "
            "ON p.id = t.problem_id'", bdb);
  cr_assert_str_eq(r.out, "hd16_causal_decode_paged_lse|b,h,sq,sk,hkv\n");
  th_result_free(&r);
  /* the same bundle cannot serve the contiguous problem: its variants are PAGED ones */
  th_sh(&r, "cd '%s' && AUTOTUNE_LIBCLANG= PATH=/nonexistent '%s' attention --bundle b "
            "--device host --heads 4 --kv-heads 2 --decode --seqlen 2 --kv-seqlen 40 "
            "--head-dim 16 --lse --strategy random --budget 2 --seed 3 --db e.db", dir,
        AT_BINARY);
  cr_assert_neq(r.code, 0, "%s", r.out);
  th_result_free(&r);
#undef ATTN_V2
  free(tb);
  free(td);
  free(bdb);
  free(ddb);
  th_rmtree(dir);
}

Test(bundle, warm_cache_runs_gemm_and_attention_without_libclang, .timeout = 600)
{
  char *dir = th_tmpdir();
  static const char *const runs[] = {
      "gemm --device host --m 24 --n 40 --k 16 --budget 3",
      "attention --device host --batch 1 --heads 2 --seqlen 8 --head-dim 16 --budget 3"};
  for (size_t i = 0; i < 2; i++) {
    struct th_result r;
    th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR='%s/c' '%s' %s --db a.db", dir, dir, AT_BINARY,
          runs[i]);
    cr_assert_eq(r.code, 0, "%s", r.err);
    th_result_free(&r);
    /* warm: the same run again with no libclang (the compiler stays: its version is part
     * of every compile cache key; a node without one tunes from a bundle) */
    th_sh(&r, "cd '%s' && AUTOTUNE_LIBCLANG= AUTOTUNE_CACHE_DIR='%s/c' '%s' %s --db b.db", dir,
          dir, AT_BINARY, runs[i]);
    cr_assert_eq(r.code, 0, "%s: %s", runs[i], r.err);
    cr_assert_null(strstr(r.err, "skipping"), "%s: %s", runs[i], r.err);
    th_result_free(&r);
  }
  char *a = th_path(dir, "a.db"), *b = th_path(dir, "b.db");
  char *ta = trials_of(a), *tb = trials_of(b);
  cr_assert_str_eq(ta, tb);
  free(ta);
  free(tb);
  free(a);
  free(b);
  th_rmtree(dir);
}

Test(bundle, interrupted_bundle_leaves_nothing, .timeout = 300)
{
  char *dir = th_tmpdir();
  struct th_result r;
  /* gemm_simt on the host: some 1,500 variants, far more than two seconds of compiling */
  th_sh(&r, "cd '%s' && (AUTOTUNE_CACHE_DIR='%s/c' '%s' bundle gemm --device host --m 64 "
            "--n 64 --k 64 --out b & pid=$!; sleep 2; kill -INT $pid; wait $pid; "
            "echo \"rc=$?\"); ls", dir, dir, AT_BINARY);
  cr_assert(strstr(r.out, "rc=130"), "%s\n%s", r.out, r.err);
  cr_assert(strstr(r.err, "interrupted"), "%s", r.err);
  cr_assert_null(strstr(r.out, "\nb\n"), "a bundle appeared: %s", r.out);
  cr_assert_null(strstr(r.out, "partial"), "the staging folder was left: %s", r.out);
  th_result_free(&r);
  th_rmtree(dir);
}

/* A bundle made again compiles only what changed: making one reads the user's compile
 * cache where its own lacks an entry and stores what it compiles there too. The host
 * compiler is a logging wrapper (its name is part of the toolchain string, so every
 * bundle here uses it): the second bundle of the same template runs it for its version
 * alone and comes out the same (its id); a template whose text changed, or --no-cache,
 * compiles. */
Test(bundle, a_bundle_made_again_compiles_only_what_changed, .timeout = 300)
{
  char *dir = th_tmpdir();
  struct th_result r;
  th_sh(&r, "cd '%s' && printf '#!/bin/sh\\necho \"$*\" >> \"$CXX_LOG\"\\nexec g++ \"$@\"\\n' "
            ">cxx && chmod +x cxx && cp '" SCALE "' scale.h && cp '" SCALE "' changed.h && "
            "echo '// changed' >>changed.h", dir);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  static const struct {
    const char *out, *tmpl, *extra;
    bool compiles;
  } runs[] = {{"b1", "scale.h", "", true},
              {"b2", "scale.h", "", false},
              {"b3", "changed.h", "", true},
              {"b4", "scale.h", "--no-cache", true}};
  char ids[4][64] = {{0}};
  for (size_t i = 0; i < 4; i++) {
    th_sh(&r, "cd '%s' && CXX_LOG='%s/%s.calls' AUTOTUNE_HOST_CXX='%s/cxx' "
              "AUTOTUNE_CACHE_DIR='%s/user' '%s' bundle tune %s --device host " SCALE_ARGS
              " --out %s %s --json && grep -c -e '\\.cpp' %s.calls; true",
          dir, dir, runs[i].out, dir, dir, AT_BINARY, runs[i].tmpl, runs[i].out,
          runs[i].extra, runs[i].out);
    cr_assert_eq(r.code, 0, "%s: %s", runs[i].out, r.err);
    const char *id = strstr(r.out, "\"id\":\"");
    cr_assert_not_null(id, "%s: %s", runs[i].out, r.out);
    snprintf(ids[i], sizeof ids[i], "%.16s", id + 6);
    const char *nl = strrchr(r.out, '}');
    long compiles = nl ? strtol(nl + 1, NULL, 10) : -1;
    if (runs[i].compiles)
      cr_assert_gt(compiles, 0, "%s compiled nothing: %s", runs[i].out, r.out);
    else
      cr_assert_eq(compiles, 0, "%s compiled %ld units, not 0 (the user's cache had them)",
                   runs[i].out, compiles);
    th_result_free(&r);
  }
  cr_assert_str_eq(ids[1], ids[0], "the bundle made from the user's cache differs");
  cr_assert_str_eq(ids[3], ids[0], "the bundle made with --no-cache differs");
  th_rmtree(dir);
}

/* `autotune cache`: the compile cache's units and aliases; a hit refreshes a unit's last
 * use; --older-than removes the units not used since (their aliases with them), which a
 * later run compiles again; --dry-run and bad input remove nothing; --max-size 0 empties
 * compile/ and keeps the parse cache. */
Test(bundle, cache_is_shown_and_pruned_by_last_use, .timeout = 300)
{
  char *dir = th_tmpdir();
  struct th_result r;
  const char *gen = "AUTOTUNE_CACHE_DIR=c '%s' generate '" SCALE "' --device host --dim N=4096 "
                    "--compile >/dev/null";
  char cmd[2048];
  snprintf(cmd, sizeof cmd, gen, AT_BINARY);
  /* two units aged: one past 30 days, one not */
  th_sh(&r, "cd '%s' && %s && set -- c/compile/*.meta && touch -d '40 days ago' \"$1\" && "
            "touch -d '20 days ago' \"$2\" && echo \"$1\" \"$2\" && ls c/compile | wc -l",
        dir, cmd);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char old[512], young[512];
  long files = 0;
  cr_assert_eq(sscanf(r.out, "%511s %511s %ld", old, young, &files), 3, "%s", r.out);
  th_result_free(&r);
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR=c '%s' cache --json", dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  int units = -1, aliases = -1;
  const char *u = strstr(r.out, "\"units\":"), *a = strstr(r.out, "\"aliases\":");
  cr_assert(u && a, "%s", r.out);
  units = atoi(u + 8), aliases = atoi(a + 10);
  cr_assert_gt(units, 1, "%s", r.out);
  cr_assert_gt(aliases, 0, "%s", r.out);
  th_result_free(&r);
  /* bad input and a dry run remove nothing */
  static const char *const keep[] = {"--max-size 12Q", "--older-than -1", "--max-size 0 x",
                                     "--older-than 30 --dry-run"};
  for (size_t i = 0; i < 4; i++) {
    th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR=c '%s' cache %s; echo \"rc=$?\"; ls c/compile | "
              "wc -l", dir, AT_BINARY, keep[i]);
    cr_assert(strstr(r.out, i < 3 ? "rc=2" : "rc=0"), "%s: %s %s", keep[i], r.out, r.err);
    long now = strtol(strrchr(r.out, '=') + 3, NULL, 10);
    cr_assert_eq(now, files, "%s: %ld files, not %ld", keep[i], now, files);
    if (i < 3)
      cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "not one line: %s", r.err);
    th_result_free(&r);
  }
  /* the unit unused for 40 days goes with its aliases; the other stays */
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR=c '%s' cache --older-than 30 --json && "
            "test ! -e '%s' && test -e '%s'", dir, AT_BINARY, old, young);
  cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
  cr_assert(strstr(r.out, "\"removed_units\":1,"), "%s", r.out);
  cr_assert_null(strstr(r.out, "\"removed_aliases\":0,"), "%s", r.out);
  th_result_free(&r);
  /* a run compiles it again and refreshes the 20-day-old one's last use */
  th_sh(&r, "cd '%s' && %s && test -e '%s' && find '%s' -mtime -1 | wc -l && "
            "ls c/compile | wc -l", dir, cmd, old, young);
  cr_assert_eq(r.code, 0, "%s", r.err);
  long fresh = -1, again = -1;
  cr_assert_eq(sscanf(r.out, "%ld %ld", &fresh, &again), 2, "%s", r.out);
  cr_assert_eq(fresh, 1, "a hit did not refresh the unit's last use");
  cr_assert_eq(again, files, "%ld files after the run, not %ld", again, files);
  th_result_free(&r);
  /* --max-size 0: compile/ empty, the parse cache kept */
  th_sh(&r, "cd '%s' && AUTOTUNE_CACHE_DIR=c '%s' cache --max-size 0 --json && "
            "ls c/compile | wc -l && ls c/parse | wc -l", dir, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"units\":0,"), "%s", r.out);
  long left = -1, parse = -1;
  cr_assert_eq(sscanf(strchr(r.out, '\n') + 1, "%ld %ld", &left, &parse), 2, "%s", r.out);
  cr_assert_eq(left, 0, "%s", r.out);
  cr_assert_gt(parse, 0, "%s", r.out);
  th_result_free(&r);
  th_rmtree(dir);
}
