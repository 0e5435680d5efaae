/*
 * bench_cache.c - what the compile cache and batching of the build pipeline
 * (tuner/compile/build.h) are worth, on the example template (templates/example/scale.h) for
 * h100 (NVRTC) and mi300x (clang), all in one run:
 *
 *   cold vs warm: the whole space compiled twice into a fresh cache folder; the ratio of
 *                 the wall times (goal >= 10x). The toolchain probe (once per process,
 *                 see build.c) is paid by the cold run only here, whereas a fresh
 *                 `autotune` process pays it on a warm run too (about 20 ms for NVRTC,
 *                 60-100 ms for clang: compare `autotune generate --compile` twice).
 *   batch sweep:  no cache, batch sizes 1, 4, 16 and all, variants/s each.
 *
 *   bench_cache [--jobs N]     (default: the online CPUs)
 *
 * A device whose compiler is not available here is skipped with a line saying why.
 * Never run by the tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "autotune/autotune.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "tuner/compile/compile.h"
#include "base/device.h"

static const char *const incs[] = {AT_TEMPLATES_DIR "/common", NULL};

struct configs {
  int64_t *v;
  size_t n;
};

static int grab(void *ctx, const int64_t *values, size_t n)
{
  struct configs *c = ctx;
  int64_t *v = realloc(c->v, (c->n + 1) * n * sizeof *v);
  if (!v)
    return AT_NOMEM;
  c->v = v;
  memcpy(v + c->n * n, values, n * sizeof *values);
  c->n++;
  return 0;
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One bld_run; returns its wall time, or -1 after a message. */
static double once(const struct tmpl *t, const struct gen_space *s,
                   const struct dev_profile *dev, const struct configs *c, int jobs,
                   size_t batch, const char *cache, struct bld_stats *st)
{
  struct bld_result r;
  struct bld_options o = {.jobs = jobs, .batch = batch, .cache_dir = cache,
                          .include_dirs = incs};
  double t0 = now_s();
  int rc = bld_run(t, s, dev, NULL, "f32", c->v, c->n, &o, &r);
  double dt = now_s() - t0;
  if (rc != AT_OK) {
    fprintf(stderr, "bench_cache: %s: %s\n", dev->name, at_last_error());
    bld_result_release(&r);
    return -1;
  }
  if (r.stats.ok != c->n)
    fprintf(stderr, "bench_cache: %s: only %zu of %zu variants ok\n", dev->name, r.stats.ok,
            c->n);
  *st = r.stats;
  bld_result_release(&r);
  return dt;
}

static int bench_device(const char *name, int jobs)
{
  int rc = 1;
  const struct dev_profile *dev = dev_find(name);
  const struct cc_backend *be;
  struct tmpl *t = NULL;
  struct gen_space *s = NULL;
  struct configs c = {0};
  struct bld_stats st;
  char dir[] = "/tmp/bench_cache.XXXXXX";
  bool made = false;
  if (!dev || bld_backend(dev, NULL, false, &be) != AT_OK) {
    printf("%s: skipped (%s)\n", name, at_last_error());
    return 0;
  }
  if (tmpl_load(AT_TEMPLATES_DIR "/example/scale.h", incs, &t) != AT_OK ||
      tmpl_space(t, dev, NULL, &s) != AT_OK || gen_space_enumerate(s, grab, &c, NULL) != AT_OK) {
    fprintf(stderr, "bench_cache: %s\n", at_last_error());
    goto out;
  }
  if (!mkdtemp(dir)) {
    perror("bench_cache: mkdtemp");
    goto out;
  }
  made = true;
  printf("%s (%s, %s): %zu variants of scale.h, %d jobs, batch %d\n", name, dev->arch,
         be->name, c.n, jobs, BLD_DEFAULT_BATCH);
  double cold = once(t, s, dev, &c, jobs, 0, dir, &st);
  if (cold < 0)
    goto out;
  size_t compiled = st.compiled;
  double warm = once(t, s, dev, &c, jobs, 0, dir, &st);
  if (warm < 0)
    goto out;
  printf("  cold (%zu TUs compiled)                %8.3f s  %9.1f variants/s\n", compiled,
         cold, c.n / cold);
  printf("  warm (%zu cache hits, %zu compiled)    %8.3f s  %9.1f variants/s\n",
         st.cache_hits, st.compiled, warm, c.n / warm);
  printf("  ratio cold / warm:                  %8.1fx\n", cold / warm);
  static const size_t sizes[] = {1, 4, 16, 0};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t b = sizes[i] ? sizes[i] : c.n;
    double dt = once(t, s, dev, &c, jobs, b, "", &st);
    if (dt < 0)
      goto out;
    printf("  batch %-4zu (%3zu TUs, no cache)      %8.3f s  %9.1f variants/s\n", b,
           st.batches, dt, c.n / dt);
  }
  rc = 0;
out:
  if (made) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "bench_cache: could not remove %s\n", dir);
  }
  free(c.v);
  gen_space_free(s);
  tmpl_free(t);
  return rc;
}

int main(int argc, char **argv)
{
  long jobs = sysconf(_SC_NPROCESSORS_ONLN);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
      jobs = strtol(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "usage: bench_cache [--jobs N]\n");
      return 2;
    }
  }
  if (jobs < 1)
    jobs = 1;
  int rc = bench_device("h100", (int)jobs);
  rc |= bench_device("mi300x", (int)jobs);
  return rc;
}
