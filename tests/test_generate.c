/*
 * test_generate.c - `autotune generate` and the build pipeline (tuner/compile/build.h) as a user
 * meets them: the --stats counts against a brute-force count of the example space; every
 * valid variant compiled for h100 (NVRTC) and mi300x (clang) with registers; the disk
 * cache (a second run compiles nothing, a truncated entry is recompiled, not trusted);
 * one broken variant condemning only itself; spills and occupancy 0 pruned with their
 * reasons; --out files that compile; --json that parses; bad input exiting 2 with one
 * line. Templates made to fail are in tests/data/templates/gen_*.h.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "autotune/autotune.h"
#include "base/json.h"
#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tuner/compile/build.h"
#include "tuner/compile/compile.h"
#include "base/device.h"

#define SCALE AT_SOURCE_DIR "/templates/example/scale.h"
#define DATA AT_SOURCE_DIR "/tests/data/templates/"
#define COMMON AT_SOURCE_DIR "/templates/common"

/* Run the binary with AUTOTUNE_CACHE_DIR=cache and parse its stdout as JSON. */
static struct json *run_json(const char *cache, const char *args)
{
  struct th_result r;
  th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' '%s' generate %s --json", cache, AT_BINARY, args);
  cr_assert_eq(r.code, 0, "generate %s: exit %d: %s", args, r.code, r.err);
  struct json *j = NULL;
  char err[128];
  cr_assert_eq(json_parse(r.out, strlen(r.out), &j, err, sizeof err), AT_OK,
               "bad JSON (%s): %.300s", err, r.out);
  th_result_free(&r);
  return j;
}

static int64_t jint(const struct json *o, const char *key)
{
  const struct json *v = json_get(o, key);
  cr_assert(v && v->type == JSON_NUMBER && v->is_int, "no integer '%s'", key);
  return v->integer;
}

static const char *jstr(const struct json *o, const char *key)
{
  const struct json *v = json_get(o, key);
  cr_assert(v && v->type == JSON_STRING, "no string '%s'", key);
  return v->string;
}

static const struct json *jvariant(const struct json *j, const char *config)
{
  const struct json *vs = json_get(j, "variants");
  cr_assert(vs && vs->type == JSON_ARRAY);
  for (size_t i = 0; i < vs->len; i++)
    if (strcmp(jstr(&vs->items[i], "config"), config) == 0)
      return &vs->items[i];
  cr_assert_fail("no variant %s", config);
  return NULL;
}

/* ---- the space ---- */

Test(generate, stats_match_brute_force)
{
  /* scale.h on h100 (wave 32, 1024 threads), N = 4096 */
  static const int blocks[] = {32, 64, 128, 256, 512, 1024}, vecs[] = {1, 2, 4},
                   unrolls[] = {1, 2, 4, 8};
  int64_t valid = 0;
  for (int b = 0; b < 6; b++)
    for (int v = 0; v < 3; v++)
      for (int u = 0; u < 4; u++)
        valid += blocks[b] % 32 == 0 && blocks[b] <= 1024 &&
                 blocks[b] * vecs[v] * unrolls[u] <= 4096;
  char *dir = th_tmpdir();
  struct json *j = run_json(dir, "scale --device h100 --stats");
  cr_assert_eq(jint(j, "raw"), 72);
  cr_assert_eq(jint(j, "valid"), valid);
  const struct json *cs = json_get(j, "constraints");
  cr_assert(cs && cs->type == JSON_ARRAY && cs->len >= 4);
  int64_t removed = jint(j, "derived_removed");
  for (size_t i = 0; i < cs->len; i++)
    removed += jint(&cs->items[i], "removed");
  cr_assert_eq(removed, 72 - valid, "removals %lld, raw - valid %lld", (long long)removed,
               (long long)(72 - valid));
  json_free(j);

  /* the text form says the same, and a dim changes the space */
  struct th_result r;
  th_run(&r, "generate scale --device h100 --stats");
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "72 raw configs, 62 valid"), "%s", r.out);
  cr_assert(strstr(r.out, "enough_work"), "%s", r.out);
  th_result_free(&r);
  j = run_json(dir, "scale --device h100 --n 100000"); /* enough_work lets all through */
  cr_assert_eq(jint(j, "valid"), 72);
  json_free(j);
  th_rmtree(dir);
  free(dir);
}

/* ---- compiling ---- */

/* Every valid variant ok with registers; then the cache: all hits, then one truncated
 * entry recompiled (and the results unchanged). */
static void check_compile_and_cache(const char *device)
{
  char *dir = th_tmpdir(), args[128];
  snprintf(args, sizeof args, "scale --device %s --compile --jobs 2", device);
  struct json *j = run_json(dir, args);
  int64_t valid = jint(j, "valid");
  const struct json *vs = json_get(j, "variants"), *sum = json_get(j, "summary");
  cr_assert_eq((int64_t)vs->len, valid);
  for (size_t i = 0; i < vs->len; i++) {
    cr_assert_str_eq(jstr(&vs->items[i], "status"), "ok", "%s", jstr(&vs->items[i], "name"));
    cr_assert_gt(jint(&vs->items[i], "registers"), 0);
  }
  int64_t batches = jint(sum, "batches");
  cr_assert_eq(jint(sum, "compiled"), batches);
  cr_assert_eq(jint(sum, "cache_hits"), 0);
  int64_t regs0 = jint(&vs->items[0], "registers");
  json_free(j);

  j = run_json(dir, args);
  sum = json_get(j, "summary");
  cr_assert_eq(jint(sum, "compiled"), 0, "a second run compiled again");
  cr_assert_eq(jint(sum, "cache_hits"), batches);
  json_free(j);

  /* truncate one code object: found, refused, compiled again */
  char *cdir = th_path(dir, "compile");
  DIR *d = opendir(cdir);
  cr_assert(d);
  struct dirent *e;
  int cut = 0;
  while ((e = readdir(d)) && !cut)
    if (strstr(e->d_name, ".obj")) {
      char *p = th_path(cdir, e->d_name);
      cr_assert_eq(truncate(p, 100), 0);
      free(p);
      cut = 1;
    }
  closedir(d);
  cr_assert(cut, "no cache entry in %s", cdir);
  j = run_json(dir, args);
  sum = json_get(j, "summary");
  cr_assert_eq(jint(sum, "compiled"), 1);
  cr_assert_eq(jint(sum, "cache_rejected"), 1);
  cr_assert_eq(jint(sum, "cache_hits"), batches - 1);
  cr_assert_eq(jint(sum, "ok"), valid);
  cr_assert_eq(jint(&json_get(j, "variants")->items[0], "registers"), regs0);
  json_free(j);
  j = run_json(dir, args);
  cr_assert_eq(jint(json_get(j, "summary"), "compiled"), 0, "the repaired entry missed");
  json_free(j);
  free(cdir);
  th_rmtree(dir);
  free(dir);
}

Test(generate, compile_h100_and_cache)
{
  th_need_cc(&cc_nvrtc);
  check_compile_and_cache("h100");
}

Test(generate, compile_mi300x_and_cache)
{
  th_need_cc(&cc_clang_hip);
  check_compile_and_cache("mi300x");
}

Test(generate, compile_host)
{
  th_need_cc(&cc_host);
  char *dir = th_tmpdir();
  struct json *j = run_json(dir, "scale --device host --compile --no-cache --batch 62");
  const struct json *sum = json_get(j, "summary");
  cr_assert_eq(jint(sum, "ok"), 62);
  cr_assert_str_eq(jstr(sum, "backend"), "host");
  json_free(j);
  th_rmtree(dir);
  free(dir);
}

/* The host device's headers (at_host_*.h) are outside the content hash: editing one
 * renames no variant and leaves the GPU objects in the cache, but the host backend's
 * toolchain string ("... emu <digest>") moves, so every host object is built again. */
static void names_of(const struct json *j, char names[][GEN_NAME_MAX], size_t n)
{
  const struct json *vs = json_get(j, "variants");
  cr_assert_eq(vs->len, n);
  for (size_t i = 0; i < n; i++)
    snprintf(names[i], GEN_NAME_MAX, "%s", jstr(&vs->items[i], "name"));
}

Test(generate, host_headers_rebuild_host_objects_and_rename_nothing, .timeout = 300)
{
  th_need_cc(&cc_host);
  char *dir = th_tmpdir(), *cache = th_path(dir, "cache"), args[1024], gpu[1024];
  struct th_result r;
  th_sh(&r, "mkdir -p '%s/t/example' && cp '%s' '%s/t/example/' && cp -r '%s' '%s/t/'", dir,
        SCALE, dir, COMMON, dir);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  snprintf(args, sizeof args, "'%s/t/example/scale.h' --device host --compile --batch 62",
           dir);
  snprintf(gpu, sizeof gpu, "'%s/t/example/scale.h' --device h100 --compile --jobs 2", dir);
  bool nvrtc = cc_nvrtc.available(NULL, 0);
  static char before[62][GEN_NAME_MAX], after[62][GEN_NAME_MAX];
  struct json *j = run_json(cache, args);
  const struct json *sum = json_get(j, "summary");
  cr_assert_eq(jint(sum, "ok"), 62);
  char *tc = strdup(jstr(sum, "toolchain"));
  cr_assert(strstr(tc, " emu ") && !strstr(tc, " emu none"), "toolchain '%s'", tc);
  names_of(j, before, 62);
  json_free(j);
  int64_t gpu_batches = 0;
  if (nvrtc) {
    j = run_json(cache, gpu);
    gpu_batches = jint(json_get(j, "summary"), "batches");
    json_free(j);
  } else {
    cr_log_warn("nvrtc unavailable here: the GPU cache half of the check is skipped");
  }
  j = run_json(cache, args);
  cr_assert_eq(jint(json_get(j, "summary"), "cache_hits"), 1, "the host object was cached");
  json_free(j);

  th_sh(&r, "printf '\\n// an emulator change\\n' >> '%s/t/common/at_host_rt.h'", dir);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  j = run_json(cache, args);
  sum = json_get(j, "summary");
  cr_assert_eq(jint(sum, "cache_hits"), 0, "a host object built on the old emulator was reused");
  cr_assert_eq(jint(sum, "compiled"), 1);
  cr_assert_eq(jint(sum, "ok"), 62);
  cr_assert_str_neq(jstr(sum, "toolchain"), tc, "the digest did not move");
  names_of(j, after, 62);
  for (size_t i = 0; i < 62; i++)
    cr_assert_str_eq(before[i], after[i], "an emulator change renamed a variant");
  json_free(j);
  if (nvrtc) {
    j = run_json(cache, gpu);
    cr_assert_eq(jint(json_get(j, "summary"), "cache_hits"), gpu_batches,
                 "an emulator change rebuilt GPU objects");
    json_free(j);
  }
  free(tc);
  free(cache);
  th_rmtree(dir);
  free(dir);
}

/* The bld_ API on a template of tests/data/templates, for a device, no cache. */
struct loaded {
  struct tmpl *t;
  struct gen_space *s;
  int64_t *cfg;
  size_t n, np;
};

static int grab(void *ctx, const int64_t *values, size_t n)
{
  struct loaded *l = ctx;
  l->cfg = realloc(l->cfg, (l->n + 1) * n * sizeof *l->cfg);
  cr_assert(l->cfg);
  memcpy(l->cfg + l->n * n, values, n * sizeof *values);
  l->n++;
  return 0;
}

static void build(const char *file, const struct dev_profile *dev, size_t batch, int jobs,
                  struct loaded *l, struct bld_result *r)
{
  static const char *const incs[] = {COMMON, NULL};
  memset(l, 0, sizeof *l);
  cr_assert_eq(tmpl_load(file, incs, &l->t), AT_OK, "%s", at_last_error());
  cr_assert_eq(tmpl_space(l->t, dev, NULL, &l->s), AT_OK);
  cr_assert_eq(gen_space_enumerate(l->s, grab, l, NULL), AT_OK);
  struct bld_options o = {.jobs = jobs, .batch = batch, .cache_dir = "",
                          .include_dirs = incs};
  cr_assert_eq(bld_run(l->t, l->s, dev, NULL, "f32", l->cfg, l->n, &o, r), AT_OK, "%s",
               at_last_error());
  cr_assert_eq(r->nvariants, l->n);
}

static void unload(struct loaded *l, struct bld_result *r)
{
  bld_result_release(r);
  gen_space_free(l->s);
  tmpl_free(l->t);
  free(l->cfg);
}

static void check_bad_variant(const char *device)
{
  struct loaded l;
  struct bld_result r;
  build(DATA "gen_bad_variant.h", dev_find(device), 16, 2, &l, &r);
  int vec = gen_space_param_index(l.s, "VEC");
  size_t bad = 0;
  for (size_t i = 0; i < r.nvariants; i++) {
    const struct bld_variant *v = &r.variants[i];
    if (l.cfg[i * gen_space_param_count(l.s) + (size_t)vec] == 4) {
      bad++;
      cr_assert_eq(v->verdict, BLD_COMPILE_ERROR, "%s", v->config_text);
      cr_assert(v->log && strstr(v->log, "VEC=4 is broken on purpose"), "%s", v->log);
      cr_assert(strstr(v->reason, "gen_bad_variant.h"), "%s", v->reason);
      cr_assert(r.batches[v->batch].single);
    } else {
      cr_assert_eq(v->verdict, BLD_OK, "%s: %s", v->config_text, v->reason);
      cr_assert_gt(v->res.registers, 0);
      cr_assert_null(v->log);
    }
  }
  cr_assert_eq(bad, 3);
  cr_assert_eq(r.stats.compile_errors, 3);
  cr_assert_eq(r.stats.ok, 6);
  unload(&l, &r);
}

Test(generate, one_bad_variant_condemns_only_itself_hip)
{
  th_need_cc(&cc_clang_hip);
  check_bad_variant("mi300x");
}

Test(generate, one_bad_variant_condemns_only_itself_cuda)
{
  th_need_cc(&cc_nvrtc);
  check_bad_variant("h100");
}

Test(generate, spills_are_pruned)
{
  th_need_cc(&cc_nvrtc);
  struct loaded l;
  struct bld_result r;
  build(DATA "gen_spill.h", dev_find("h100"), 16, 2, &l, &r);
  size_t seen = 0;
  for (size_t i = 0; i < r.nvariants; i++) {
    const struct bld_variant *v = &r.variants[i];
    if (v->res.spill_bytes > 0) {
      char want[64];
      snprintf(want, sizeof want, "spills: %lld bytes spill stores",
               (long long)v->res.spill_bytes);
      cr_assert_eq(v->verdict, BLD_PRUNED);
      cr_assert_str_eq(v->reason, want);
    }
    if (strcmp(v->config_text, "BLOCK=1024") == 0) {
      seen++;
      cr_assert_eq(v->verdict, BLD_PRUNED, "1024 threads left room: %d registers",
                   v->res.registers);
      cr_assert_leq(v->res.registers, 64);
    }
  }
  cr_assert_eq(seen, 1);
  unload(&l, &r);
}

static void check_occupancy0(const char *device)
{
  struct loaded l;
  struct bld_result r;
  build(DATA "gen_occupancy0.h", dev_find(device), 16, 1, &l, &r);
  cr_assert_eq(r.nvariants, 2);
  for (size_t i = 0; i < 2; i++) {
    const struct bld_variant *v = &r.variants[i];
    cr_assert_gt(v->res.shared_bytes, 0, "the static shared memory is gone");
    if (strstr(v->config_text, "BIG=1")) {
      char want[192];
      snprintf(want, sizeof want, "occupancy 0: %s", v->occ.why);
      cr_assert_eq(v->verdict, BLD_PRUNED);
      cr_assert_eq(v->occ.blocks_per_cu, 0);
      cr_assert_str_eq(v->reason, want);
      cr_assert(strstr(v->reason, "above the"), "%s", v->reason);
    } else {
      cr_assert_eq(v->verdict, BLD_OK, "%s", v->reason);
    }
  }
  unload(&l, &r);
}

Test(generate, occupancy0_pruned_cuda)
{
  th_need_cc(&cc_nvrtc);
  check_occupancy0("h100");
}

Test(generate, occupancy0_pruned_hip)
{
  th_need_cc(&cc_clang_hip);
  check_occupancy0("mi300x");
}

/* Results do not depend on thread count or timing. */
Test(generate, deterministic_across_jobs)
{
  th_need_cc(&cc_clang_hip);
  struct loaded l1, l2;
  struct bld_result r1, r2;
  build(SCALE, dev_find("mi300x"), 8, 1, &l1, &r1);
  build(SCALE, dev_find("mi300x"), 8, 2, &l2, &r2);
  cr_assert_eq(r1.nbatches, r2.nbatches);
  for (size_t i = 0; i < r1.nvariants; i++) {
    cr_assert_str_eq(r1.variants[i].name, r2.variants[i].name);
    cr_assert_eq(r1.variants[i].batch, r2.variants[i].batch);
    cr_assert_eq(r1.variants[i].batch, i / 8);
    cr_assert_eq(memcmp(&r1.variants[i].res, &r2.variants[i].res, sizeof r1.variants[i].res),
                 0);
  }
  /* (the code objects themselves may differ by the compiler's temporary paths) */
  for (size_t i = 0; i < r1.nbatches; i++) {
    cr_assert_eq(r1.batches[i].first, r2.batches[i].first);
    cr_assert_eq(r1.batches[i].nkernels, r2.batches[i].nkernels);
  }
  unload(&l1, &r1);
  unload(&l2, &r2);
}

/* ---- --out and --json ---- */

Test(generate, out_writes_compilable_files)
{
  char *dir = th_tmpdir(), *out = th_path(dir, "variants");
  struct th_result r;
  th_run(&r, "generate scale --device host --out '%s' --batch 32", out);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *tsv_path = th_path(out, "variants.tsv");
  char *tsv = th_read(tsv_path, NULL);
  cr_assert(tsv);
  size_t lines = 0;
  for (char *p = tsv; *p; p++)
    lines += *p == '\n';
  cr_assert_eq(lines, 63, "header + 62 variants:\n%s", tsv);
  cr_assert(strncmp(tsv, "name\tconfig\tfile\n", 17) == 0);
  cr_assert(strstr(tsv, "\tbatch_0001.cpp\n"));
  for (int i = 0; i < 2; i++) {
    th_sh(&r, "g++ -std=c++17 -fsyntax-only -I'%s' '%s/batch_%04d.cpp'", COMMON, out, i);
    cr_assert_eq(r.code, 0, "batch %d does not compile: %s", i, r.err);
    th_result_free(&r);
  }
  th_sh(&r, "test -e '%s/batch_0002.cpp'", out);
  cr_assert_neq(r.code, 0, "a third file for 62 variants in batches of 32");
  th_result_free(&r);
  /* the CUDA form ends in .cu */
  th_run(&r, "generate scale --device h100 --out '%s/cu'", dir);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_sh(&r, "ls '%s/cu' | grep -c '\\.cu$'", dir);
  cr_assert_str_eq(r.out, "4\n");
  th_result_free(&r);
  free(tsv);
  free(tsv_path);
  free(out);
  th_rmtree(dir);
  free(dir);
}

Test(generate, json_lists_variants)
{
  char *dir = th_tmpdir();
  struct json *j = run_json(dir, "scale --device mi300x --dim N=4096");
  cr_assert_eq(jint(j, "valid"), 50);
  cr_assert_str_eq(jstr(j, "arch"), "gfx942");
  cr_assert_eq(jint(json_get(j, "dims"), "N"), 4096);
  const struct json *v = jvariant(j, "BLOCK=256,ITEMS=2048,UNROLL=4,VEC=2");
  cr_assert(strncmp(jstr(v, "name"), "at_scale_", 9) == 0);
  json_free(j);
  th_rmtree(dir);
  free(dir);
}

/* ---- bad input ---- */

static void check_bad(const char *args, const char *want)
{
  struct th_result r;
  th_run(&r, "generate %s", args);
  cr_assert_eq(r.code, 2, "generate %s: exit %d, stderr %s", args, r.code, r.err);
  cr_assert(strncmp(r.err, "autotune: ", 10) == 0, "%s", r.err);
  cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "not one line: %s", r.err);
  cr_assert(strstr(r.err, want), "generate %s: wanted '%s' in: %s", args, want, r.err);
  cr_assert_str_eq(r.out, "");
  th_result_free(&r);
}

Test(generate, bad_input_exits_2_with_one_line)
{
  check_bad("nosuchop --device h100", "unknown op or template 'nosuchop'");
  check_bad("scale --device nosuchgpu", "nosuchgpu");
  check_bad("scale", "needs --device");
  check_bad("scale --device h100 --dim N", "expected NAME=VALUE");
  check_bad("scale --device h100 --dim X=4", "has no dim 'X'");
  check_bad("scale --device h100 --dim N=abc", "bad --dim N 'abc' (expected an integer");
  check_bad("scale --device h100 --dim N=-1", "at least 0");
  check_bad("scale --device h100 --m 128", "has no dim 'M'");
  check_bad("scale --device h100 --dtype f64", "unknown dtype 'f64'");
  check_bad("/nonexistent/x.h --device h100", "cannot read template");
  check_bad(DATA "bad_verb.h --device h100", "bad_verb.h:");
  check_bad(DATA "huge_space.h --device host", "search space too large: more than 1000000 "
            "valid configs (1000000000 raw");
}

Test(generate, emulate_spans_the_emulated_devices_space_and_compiles_for_the_host)
{
  struct th_result a, b;
  th_run(&a, "generate scale --device mi300x --stats");
  th_run(&b, "generate scale --device host --emulate mi300x --stats");
  cr_assert_eq(a.code, 0, "%s", a.err);
  cr_assert_eq(b.code, 0, "%s", b.err);
  cr_assert(strstr(a.out, "72 raw configs, 50 valid"), "%s", a.out);
  cr_assert_str_eq(a.out, b.out);
  th_result_free(&a);
  th_result_free(&b);
  char *dir = th_tmpdir();
  th_run(&a, "generate scale --device host --emulate mi300x --compile --jobs 2 --no-cache");
  cr_assert_eq(a.code, 0, "%s", a.err);
  cr_assert(strstr(a.out, "50 variants in"), "%s", a.out);
  cr_assert(strstr(a.out, "(host, "), "%s", a.out);
  cr_assert(strstr(a.out, "50 ok, 0 pruned, 0 compile errors"), "%s", a.out);
  th_result_free(&a);
  th_run(&a, "generate scale --device h100 --emulate mi300x --stats");
  cr_assert_eq(a.code, 2);
  cr_assert(strstr(a.err, "--device host --emulate"), "%s", a.err);
  th_result_free(&a);
  th_run(&a, "generate scale --device host --emulate mi999 --stats");
  cr_assert_eq(a.code, 2);
  cr_assert(strstr(a.err, "unknown device 'mi999'"), "%s", a.err);
  th_result_free(&a);
  th_rmtree(dir);
  free(dir);
}

/* An op name spans every template of the op that is for the device. */
Test(generate, op_spans_the_templates_for_the_device)
{
  struct th_result r;
  th_run(&r, "generate gemm --device mi300x --stats");
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_not_null(strstr(r.out, "== gemm_mfma\ngemm_mfma on mi300x:"), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "== gemm_mma: skipped, for NVIDIA sm_80 and later"), "%s",
                     r.out);
  cr_assert_not_null(strstr(r.out, "== gemm_simt\ngemm_simt on mi300x:"), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "== gemm_wgmma: skipped, for NVIDIA Hopper (sm_90a)"), "%s",
                     r.out);
  th_result_free(&r);
  th_run(&r, "generate gemm --device h100 --stats --json");
  cr_assert_eq(r.code, 0, "%s", r.err);
  int lines = 0;
  for (const char *p = r.out; *p; p++)
    lines += *p == '\n';
  cr_assert_eq(lines, 6, "one JSON object per template (mma, naive, simt, skinny, tma, wgmma): %s",
               r.out);
  cr_assert_not_null(strstr(r.out, "\"kernel\":\"gemm_mma\""), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "\"kernel\":\"gemm_skinny\""), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "\"kernel\":\"gemm_wgmma\""), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "\"kernel\":\"gemm_tma\""), "%s", r.out);
  cr_assert_null(strstr(r.out, "\"kernel\":\"gemm_mfma\""), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "\"dims\":{\"M\":4096,\"N\":4096,\"K\":4096,\"TA\":0,\"TB\":0}"),
                     "NN by default: %s", r.out);
  th_result_free(&r);
}
