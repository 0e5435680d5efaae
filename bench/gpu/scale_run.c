/*
 * scale_run.c - the "measure on the GPU" half of bench/gpu/check.sh: load the cubin and
 * variants.tsv that scale_emit wrote, verify every variant of the example template
 * against a host reference on fresh data, and time each one through the `cuda`
 * measurement backend (two warm-up launches; device events around each of R timed
 * launches; the L2 flushed by writing twice its size between them, outside the timed
 * region; median). Prints a table sorted by time with GB/s, % of the profile's HBM
 * bandwidth and the speed-up over the plain config (BLOCK=256, VEC=1, UNROLL=1)
 * measured in the same run. Links no libclang: it runs where only the driver is.
 *
 *   scale_run DIR [--reps R] [--json FILE]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/device.h"
#include "tuner/measure/meas.h"
#include "base/status.h"
#include "base/num.h"

struct variant {
  char name[64], config[160];
  unsigned grid[3], block[3], shared;
  int ok;
  double median_us, min_us, max_us;
};

static int cmp_variant(const void *a, const void *b)
{
  const struct variant *x = a, *y = b;
  if (x->ok != y->ok)
    return y->ok - x->ok;
  return num_cmp_double(&x->median_us, &y->median_us);
}

static meas_ptr flush_buf;
static size_t flush_bytes;

static int flush_l2(struct meas_ctx *ctx, void *arg)
{
  (void)arg;
  return meas_cuda.fill(ctx, flush_buf, 0x5a, flush_bytes);
}

static void die(const char *what)
{
  fprintf(stderr, "scale_run: %s: %s\n", what, at_last_error());
  exit(1);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: scale_run DIR [--reps R] [--json FILE]\n");
    return 2;
  }
  int reps = 20;
  const char *json_path = NULL;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--reps"))
      reps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--json"))
      json_path = argv[i + 1];
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/variants.tsv", argv[1]);
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    return 1;
  }
  char line[1024], profname[32] = "", arch[16] = "";
  long long n = 0;
  struct variant *v = NULL;
  size_t nv = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') {
      sscanf(line, "# %31s N=%lld arch=%15s", profname, &n, arch);
      continue;
    }
    v = realloc(v, (nv + 1) * sizeof *v);
    struct variant *x = &v[nv];
    memset(x, 0, sizeof *x);
    if (sscanf(line, "%63s %159s %u %u %u %u %u %u %u", x->name, x->config, &x->grid[0],
               &x->grid[1], &x->grid[2], &x->block[0], &x->block[1], &x->block[2],
               &x->shared) == 9)
      nv++;
  }
  fclose(f);
  snprintf(path, sizeof path, "%s/scale.cubin", argv[1]);
  size_t code_size = 0;
  f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  code_size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  void *code = malloc(code_size);
  if (fread(code, 1, code_size, f) != code_size)
    die("reading the cubin");
  fclose(f);

  struct meas_ctx *ctx = NULL;
  if (meas_cuda.open(0, &ctx) != AT_OK)
    die("no CUDA device");
  char gpu[128], garch[16];
  if (meas_cuda.describe(ctx, gpu, sizeof gpu, garch, sizeof garch) != AT_OK)
    die("describe");
  const struct dev_profile *prof = dev_find(profname);
  if (!prof)
    die("unknown profile in variants.tsv");
  printf("device: %s (%s); variants built for %s (%s), N=%lld, %zu variants\n", gpu, garch,
         prof->name, arch, n, nv);
  meas_module mod;
  if (meas_cuda.load(ctx, code, code_size, &mod) != AT_OK)
    die("loading the cubin");

  size_t bytes = (size_t)n * sizeof(float);
  float *x = malloc(bytes), *y0 = malloc(bytes), *ref = malloc(bytes), *out = malloc(bytes);
  uint64_t r = 88172645463325252ull;
  for (long long i = 0; i < n; i++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    x[i] = (float)((r >> 11) % 2001) / 1000.0f - 1.0f;
    y0[i] = (float)((r >> 33) % 2001) / 1000.0f - 1.0f;
  }
  const float alpha = 1.5f, beta = -0.75f;
  for (long long i = 0; i < n; i++)
    ref[i] = alpha * x[i] + beta * y0[i];
  meas_ptr dx, dy;
  flush_bytes = (size_t)prof->l2_bytes * 2;
  if (meas_cuda.alloc(ctx, bytes, &dx) || meas_cuda.alloc(ctx, bytes, &dy) ||
      meas_cuda.alloc(ctx, flush_bytes, &flush_buf) || meas_cuda.upload(ctx, dx, x, bytes))
    die("allocating");
  int nn = (int)n;
  float a = alpha, b = beta;
  void *args[] = {&dy, &dx, &a, &b, &nn};
  double *us = malloc(sizeof(double) * (size_t)reps);
  int failures = 0;
  for (size_t i = 0; i < nv; i++) {
    struct variant *w = &v[i];
    meas_kernel k;
    if (meas_cuda.kernel(ctx, mod, w->name, &k) != AT_OK)
      die("finding a kernel");
    struct meas_launch l = {.kernel = k, .shared_bytes = w->shared, .args = args};
    memcpy(l.grid, w->grid, sizeof l.grid);
    memcpy(l.block, w->block, sizeof l.block);
    /* Poison the output buffer's tail pattern by uploading fresh y0 each time. */
    if (meas_cuda.upload(ctx, dy, y0, bytes) || meas_cuda.launch(ctx, &l) ||
        meas_cuda.download(ctx, out, dy, bytes))
      die("running a variant");
    long long bad = 0;
    for (long long e = 0; e < n; e++)
      if (!(fabsf(out[e] - ref[e]) <= 1e-6f * (1.0f + fabsf(ref[e]))))
        bad++;
    w->ok = bad == 0;
    if (!w->ok) {
      failures++;
      printf("FAIL %s %s: %lld of %lld elements wrong\n", w->name, w->config, bad, n);
      continue;
    }
    if (meas_cuda.launch(ctx, &l) || meas_cuda.launch(ctx, &l) || meas_cuda.sync(ctx))
      die("warming up");
    if (meas_cuda.time(ctx, &l, reps, flush_l2, NULL, us) != AT_OK)
      die("timing");
    qsort(us, (size_t)reps, sizeof *us, num_cmp_double);
    w->median_us = reps % 2 ? us[reps / 2] : (us[reps / 2 - 1] + us[reps / 2]) / 2;
    w->min_us = us[0];
    w->max_us = us[reps - 1];
  }
  double plain_us = 0;
  for (size_t i = 0; i < nv; i++)
    if (v[i].ok && !strcmp(v[i].config, "BLOCK=256,ITEMS=256,UNROLL=1,VEC=1"))
      plain_us = v[i].median_us;
  qsort(v, nv, sizeof *v, cmp_variant);
  double moved = 3.0 * (double)bytes; /* read x, read y, write y */
  FILE *jf = json_path ? fopen(json_path, "w") : NULL;
  printf("\n%-30s %-36s %10s %7s %7s %7s %8s\n", "variant", "config", "median us", "GB/s",
         "% HBM", "spread", "vs plain");
  for (size_t i = 0; i < nv; i++) {
    struct variant *w = &v[i];
    if (!w->ok)
      continue;
    double gbs = moved / (w->median_us * 1e3);
    if (i < 12 || i + 3 >= nv)
      printf("%-30s %-36s %10.1f %7.0f %6.1f%% %6.1f%% %7.2fx\n", w->name, w->config,
             w->median_us, gbs, 100.0 * gbs / prof->mem_bandwidth_gbs,
             100.0 * (w->max_us - w->min_us) / w->median_us,
             plain_us > 0 ? plain_us / w->median_us : 0.0);
    else if (i == 12)
      printf("  ...\n");
    if (jf)
      fprintf(jf, "{\"device\":\"%s\",\"variant\":\"%s\",\"config\":\"%s\",\"n\":%lld,"
              "\"median_us\":%.3f,\"min_us\":%.3f,\"max_us\":%.3f,\"gbs\":%.1f}\n", gpu,
              w->name, w->config, n, w->median_us, w->min_us, w->max_us, gbs);
  }
  if (jf)
    fclose(jf);
  double best_gbs = moved / (v[0].median_us * 1e3);
  printf("\n%zu of %zu variants verified on %s (%d failed). best %.1f us = %.0f GB/s, "
         "%.1f%% of the %s profile's %.0f GB/s; plain config %.1f us; best vs plain %.2fx. "
         "%d reps, median, L2 flushed (%zu MiB written) between reps\n",
         nv - (size_t)failures, nv, gpu, failures, v[0].median_us, best_gbs,
         100.0 * best_gbs / prof->mem_bandwidth_gbs, prof->name, prof->mem_bandwidth_gbs,
         plain_us, plain_us > 0 ? plain_us / v[0].median_us : 0.0, reps, flush_bytes >> 20);
  meas_cuda.close(ctx);
  return failures ? 1 : 0;
}
