/*
 * bench_gemm_sweep.c - the full correctness sweep of a GEMM template (tuner/ops/gemm_sweep.h):
 * every valid variant of its space for a device, compiled for the host device and run
 * on the SIMT emulator for every shape x layout x dtype, each result checked against
 * the f64 reference. With --emulate D the space is D's (mi300x, h100, gfx942, ...) and
 * the variants are built for "host:<arch>"; with --compile-only they are compiled for
 * the device itself and counted (compile errors, spills, occupancy). Prints progress
 * per layout and dtype, the first failures, then
 *
 *   gemm_simt on host: 1552 variants x 7 shapes x 4 layouts x 3 dtypes = ... runs,
 *   failures 0 (compile 812.3 s, runs 1201.7 s, wall 2014.0 s)
 *
 *   bench_gemm_sweep [TEMPLATE] [--device D | --emulate D] [--sample N] [--seed S]
 *                    [--layouts NN,TT] [--dtypes f32,f16] [--filter K=V,...]
 *                    [--shard I/N] [--compile-only] [--jobs N] [--batch N] [--no-cache]
 *                    [--aligned] [--decode]
 *
 * --aligned sweeps gsw_aligned_shapes (every dim a multiple of 8) instead of the default
 * shapes: for templates whose operands need 16-byte aligned rows (gemm_tma).
 *
 * --decode sweeps the decode shapes (gsw_decode_shapes: M = 1, 7, 16, 64 and 300 against
 * odd N and K) instead of the standard ones: the shapes gemm_skinny's space is built for.
 * --shard I/N keeps the configs whose FNV-1a hash of the canonical text is I mod N
 * (0 <= I < N): N runs with I = 0..N-1 sweep every variant exactly once between them, so
 * a sweep too long for one sitting is done in parts (bench/results/ keeps each part's log).
 *
 * TEMPLATE is a path or a name under templates/gemm/ (default gemm_simt). Exit 0 when
 * there are no failures, 1 when there are, 2 on bad input or when the sweep cannot run.
 * Never run by the tests (they sweep a sample: tests/test_gemm_simt.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/device.h"
#include "base/hash.h"
#include "tuner/ops/gemm_sweep.h"
#include "base/status.h"

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct keep {
  const char *pairs; /* NULL: no --filter */
  uint64_t shard, nshards; /* nshards 0: no --shard */
};

/* Keep configs whose text holds every "K=V" of the filter (comma separated). */
static int filter_pairs(const char *f, const char *config)
{
  char buf[512];
  snprintf(buf, sizeof buf, "%s", f);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    size_t n = strlen(tok);
    const char *p = config;
    int found = 0;
    while ((p = strstr(p, tok)) != NULL) {
      if ((p == config || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) {
        found = 1;
        break;
      }
      p++;
    }
    if (!found)
      return 0;
  }
  return 1;
}

static int keep_config(void *ctx, const char *config)
{
  const struct keep *k = ctx;
  if (k->pairs && !filter_pairs(k->pairs, config))
    return 0;
  if (k->nshards) {
    uint64_t h = hash_fnv1a64(HASH_FNV1A64_SEED, config, strlen(config));
    return h % k->nshards == k->shard;
  }
  return 1;
}

/* A whole non-negative decimal number, else -1. */
static long long number(const char *s)
{
  char *end;
  if (!s || !*s || *s == '-')
    return -1;
  unsigned long long v = strtoull(s, &end, 10);
  return *end || v > (1ull << 40) ? -1 : (long long)v;
}

/* The value of a numeric option, 0..max, else -1 after a one-line error naming it. */
static long long option_number(const char *opt, const char *val, long long max)
{
  long long v = number(val);
  if (v < 0 || v > max)
    fprintf(stderr, "autotune: %s '%s': expected a whole number from 0 to %lld\n", opt, val,
            max);
  return v < 0 || v > max ? -1 : v;
}

static int usage(const char *why)
{
  fprintf(stderr, "autotune: %s\nusage: bench_gemm_sweep [TEMPLATE] [--device D | --emulate D] "
          "[--sample N] [--seed S] [--layouts NN,TT] [--dtypes f32,f16] [--filter K=V,...] "
          "[--shard I/N] [--compile-only] [--jobs N] [--batch N] [--no-cache] [--aligned] "
          "[--decode]\n", why);
  return 2;
}

int main(int argc, char **argv)
{
  const char *tmpl = "gemm_simt", *device = "host", *emulate = NULL, *filter = NULL;
  const char *layouts_arg = NULL, *dtypes_arg = NULL;
  struct gsw_options o = {0};
  struct keep keep = {0};
  long long num;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--compile-only") == 0) {
      o.compile_only = true;
    } else if (strcmp(a, "--no-cache") == 0) {
      o.cache_dir = "";
    } else if (strcmp(a, "--aligned") == 0) {
      o.shapes = gsw_aligned_shapes;
      o.nshapes = gsw_aligned_nshapes;
    } else if (strcmp(a, "--decode") == 0) {
      o.shapes = gsw_decode_shapes;
      o.nshapes = gsw_decode_nshapes;
    } else if (a[0] == '-' && !v) {
      return usage("option needs a value");
    } else if (strcmp(a, "--device") == 0) {
      device = argv[++i];
    } else if (strcmp(a, "--emulate") == 0) {
      emulate = argv[++i];
    } else if (strcmp(a, "--sample") == 0) {
      if ((num = option_number(a, argv[++i], 1ll << 40)) < 0)
        return 2;
      o.sample = (size_t)num;
    } else if (strcmp(a, "--seed") == 0) {
      if ((num = option_number(a, argv[++i], 1ll << 40)) < 0)
        return 2;
      o.seed = (uint64_t)num;
    } else if (strcmp(a, "--batch") == 0) {
      if ((num = option_number(a, argv[++i], 1ll << 40)) < 0)
        return 2;
      o.batch = (size_t)num;
    } else if (strcmp(a, "--jobs") == 0) {
      if ((num = option_number(a, argv[++i], 256)) < 0)
        return 2;
      o.jobs = (int)num;
    } else if (strcmp(a, "--shard") == 0) {
      char ibuf[32] = "", *slash;
      snprintf(ibuf, sizeof ibuf, "%s", argv[++i]);
      long long si = -1, sn = -1;
      if ((slash = strchr(ibuf, '/')) != NULL) {
        *slash = '\0';
        si = number(ibuf);
        sn = number(slash + 1);
      }
      if (si < 0 || sn < 1 || si >= sn) {
        fprintf(stderr, "autotune: --shard '%s': expected I/N with 0 <= I < N\n", argv[i]);
        return 2;
      }
      keep.shard = (uint64_t)si;
      keep.nshards = (uint64_t)sn;
    } else if (strcmp(a, "--layouts") == 0) {
      layouts_arg = argv[++i];
    } else if (strcmp(a, "--dtypes") == 0) {
      dtypes_arg = argv[++i];
    } else if (strcmp(a, "--filter") == 0) {
      filter = argv[++i];
    } else if (a[0] == '-') {
      return usage("unknown option");
    } else {
      tmpl = a;
    }
  }
  if (!(o.dev = dev_find(emulate ? emulate : device))) {
    fprintf(stderr, "autotune: %s\n", at_last_error());
    return 2;
  }
  if (emulate && o.compile_only)
    return usage("--emulate runs on the host; --compile-only compiles for --device");

  char path[1024];
  if (strchr(tmpl, '/') || strstr(tmpl, ".h"))
    snprintf(path, sizeof path, "%s", tmpl);
  else
    snprintf(path, sizeof path, "%s/gemm/%s.h", AT_TEMPLATES_DIR, tmpl);

  const char *layouts[5] = {0};
  char lbuf[64];
  if (layouts_arg) {
    snprintf(lbuf, sizeof lbuf, "%s", layouts_arg);
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(lbuf, ",", &save); tok && n < 4;
         tok = strtok_r(NULL, ",", &save))
      layouts[n++] = tok;
    o.layouts = layouts;
  }
  enum gemm_dtype dts[3];
  char dbuf[64];
  if (dtypes_arg) {
    snprintf(dbuf, sizeof dbuf, "%s", dtypes_arg);
    for (char *save = NULL, *tok = strtok_r(dbuf, ",", &save); tok && o.ndtypes < 3;
         tok = strtok_r(NULL, ",", &save))
      if (gemm_parse_dtype(tok, &dts[o.ndtypes++]) != AT_OK)
        return usage(at_last_error());
    o.dtypes = dts;
  }
  keep.pairs = filter;
  if (filter || keep.nshards) {
    o.filter = keep_config;
    o.filter_ctx = &keep;
  }
  o.log = stdout;

  struct gsw_result r;
  double t0 = now_s();
  int rc = gsw_run(path, &o, &r);
  double wall = now_s() - t0;
  if (rc != AT_OK) {
    fprintf(stderr, "autotune: sweep failed: %s: %s\n", at_status_name(rc), at_last_error());
    return 2;
  }
  char line[512];
  gsw_summary(&r, line, sizeof line);
  char part[48] = "";
  if (keep.nshards)
    snprintf(part, sizeof part, " (shard %llu/%llu)", (unsigned long long)keep.shard,
             (unsigned long long)keep.nshards);
  printf("%s on %s%s%s%s: %s (compile %.1f s, %s %.1f s, wall %.1f s)\n", tmpl,
         emulate ? "host emulating " : "", o.dev->name, o.sample ? " (sample)" : "", part, line,
         r.compile_s, o.compile_only ? "counting" : "runs", r.run_s, wall);
  if (o.compile_only)
    printf("wgmma serialized by ptxas: %zu variants\n", r.serialized);
  if (o.compile_only)
    printf("occupancy: [0,.25) %zu, [.25,.5) %zu, [.5,.75) %zu, [.75,1) %zu, 1: %zu\n",
           r.occ_hist[0], r.occ_hist[1], r.occ_hist[2], r.occ_hist[3], r.occ_hist[4]);
  if (r.failures)
    printf("first failure: %s\n", r.first_failure);
  return r.failures ? 1 : 0;
}
