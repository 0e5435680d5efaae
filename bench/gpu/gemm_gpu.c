/*
 * gemm_gpu.c - the "measure on the GPU" half of the GEMM run: for each problem folder
 * gemm_emit wrote, load its cubins through the `cuda` measurement backend, and for
 * every variant (1) verify it at 127x129x65 (edges in every direction) against the host
 * reference of op_gemm with its tolerance, (2) run it at the problem's shape and compare
 * every element with cuBLAS's result on the same inputs, (3) time it: 2 warm-ups, then
 * R repetitions with the L2 flushed (100 MiB written) outside the timed region, CUDA
 * events, median. cuBLAS (cublasGemmEx, f16 in, f32 compute, called from C through
 * dlopen) is timed the same way in the same run. Prints each problem's best variants,
 * TFLOP/s and the ratio to cuBLAS. Links no libclang: it runs where only the driver and
 * cuBLAS are.
 *
 *   gemm_gpu DIR [--reps R] [--json FILE]
 */
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/ops/gemm_run.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/op_gemm.h"
#include "base/status.h"

#define AT_EMU_ONLY 1
#include "templates/common/at_types.h"
#include "base/num.h"
#include "base/os.h"

/* ---- cuBLAS and a few driver calls for its timing, through dlopen ---- */
typedef int (*cublas_create_fn)(void **);
typedef int (*cublas_gemm_ex_fn)(void *, int, int, int, int, int, const void *, const void *,
                                 int, int, const void *, int, int, const void *, void *, int,
                                 int, int, int);
typedef int (*cu_event_create_fn)(void **, unsigned);
typedef int (*cu_event_record_fn)(void *, void *);
typedef int (*cu_event_sync_fn)(void *);
typedef int (*cu_event_elapsed_fn)(float *, void *, void *);
typedef int (*cu_ctx_sync_fn)(void);
enum { OP_N = 0, OP_T = 1, R_16F = 2, R_32F = 0, COMPUTE_32F = 68, GEMM_DEFAULT = -1 };

static struct {
  void *h;
  cublas_create_fn create;
  cublas_gemm_ex_fn gemm;
  cu_event_create_fn ev_create;
  cu_event_record_fn ev_record;
  cu_event_sync_fn ev_sync;
  cu_event_elapsed_fn ev_elapsed;
  cu_ctx_sync_fn ctx_sync;
  void *handle, *e0, *e1;
  char version[64];
} cb;

static int cublas_open(void)
{
  const char *names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so"};
  for (size_t i = 0; i < 3 && !cb.h; i++)
    if ((cb.h = dlopen(names[i], RTLD_NOW)))
      snprintf(cb.version, sizeof cb.version, "%s", names[i]);
  void *cu = dlopen("libcuda.so.1", RTLD_NOW);
  if (!cb.h || !cu)
    return -1;
  *(void **)&cb.create = dlsym(cb.h, "cublasCreate_v2");
  *(void **)&cb.gemm = dlsym(cb.h, "cublasGemmEx");
  *(void **)&cb.ev_create = dlsym(cu, "cuEventCreate");
  *(void **)&cb.ev_record = dlsym(cu, "cuEventRecord");
  *(void **)&cb.ev_sync = dlsym(cu, "cuEventSynchronize");
  *(void **)&cb.ev_elapsed = dlsym(cu, "cuEventElapsedTime");
  *(void **)&cb.ctx_sync = dlsym(cu, "cuCtxSynchronize");
  if (!cb.create || !cb.gemm || !cb.ev_create || cb.create(&cb.handle) != 0 ||
      cb.ev_create(&cb.e0, 0) || cb.ev_create(&cb.e1, 0))
    return -1;
  return 0;
}

/* Row-major C (m x n) = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS gets B
 * first. A row-major operand is its column-major transpose, so 'N' stays N and a
 * transposed one ('T': A stored k x m, B stored n x k) is OP_T; leading dims are the
 * stored rows' lengths. */
static int cublas_gemm(int ta, int tb, int m, int n, int k, meas_ptr a, meas_ptr b, meas_ptr c)
{
  float alpha = 1.0f, beta = 0.0f;
  return cb.gemm(cb.handle, tb ? OP_T : OP_N, ta ? OP_T : OP_N, n, m, k, &alpha,
                 (void *)(uintptr_t)b, R_16F, tb ? k : n, (void *)(uintptr_t)a, R_16F,
                 ta ? m : k, &beta, (void *)(uintptr_t)c, R_16F, n, COMPUTE_32F, GEMM_DEFAULT);
}

/* ---- variants ---- */
struct variant {
  char name[64], config[256];
  int batch, regs;
  struct gen_launch l;
  long long small_grid[3]; /* the grid at 127x129x65, from the template's own grid
                              expression (gemm_emit) */
  int ok_small, ok_big;
  double median_us;
};

static double median(double *v, int n)
{
  qsort(v, (size_t)n, sizeof *v, num_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static meas_ptr flush_buf;
static const size_t flush_bytes = 100u << 20;

static int flush_l2(struct meas_ctx *ctx, void *arg)
{
  (void)arg;
  return meas_cuda.fill(ctx, flush_buf, 0x5a, flush_bytes);
}

static void die(const char *what)
{
  fprintf(stderr, "gemm_gpu: %s: %s\n", what, at_last_error());
  exit(1);
}

static void run_problem(struct meas_ctx *ctx, const char *dir, int reps, FILE *jf)
{
  char path[4300], line[2048];
  snprintf(path, sizeof path, "%.4000s/variants.tsv", dir);
  FILE *f = fopen(path, "r");
  if (!f)
    return;
  long long m = 0, n = 0, k = 0;
  int ta = 0, tb = 0;
  struct variant *v = NULL;
  size_t nv = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') {
      sscanf(line, "# %*s %*s m=%lld n=%lld k=%lld ta=%d tb=%d", &m, &n, &k, &ta, &tb);
      continue;
    }
    if (line[0] == '\n')
      continue;
    v = realloc(v, (nv + 1) * sizeof *v);
    struct variant *x = &v[nv];
    memset(x, 0, sizeof *x);
    long long spills = 0;
    if (sscanf(line, "%63s %255s %d %lld %lld %lld %lld %lld %lld %lld %d %lld %lld %lld %lld",
               x->name, x->config, &x->batch, (long long *)&x->l.grid[0],
               (long long *)&x->l.grid[1], (long long *)&x->l.grid[2],
               (long long *)&x->l.threads[0], (long long *)&x->l.threads[1],
               (long long *)&x->l.threads[2], (long long *)&x->l.shared, &x->regs, &spills,
               &x->small_grid[0], &x->small_grid[1], &x->small_grid[2]) != 15)
      die("a variants.tsv line without the 127x129x65 grid: run this gemm_emit again");
    nv++;
  }
  fclose(f);
  /* Modules per batch. */
  meas_module mods[4096] = {0};
  /* Small check: 127x129x65 against the host reference, with that shape's own grid. */
  struct gemm_problem sp = {.dtype = GEMM_F16, .ta = ta, .tb = tb, .m = 127, .n = 129,
                            .k = 65, .alpha = 1.5f, .beta = -0.5f};
  gemm_problem_resolve(&sp);
  struct gemm_data sd;
  struct gemm_buffers sb;
  if (gemm_data_init(&sd, &sp, 7) || gemm_buffers_init(&meas_cuda, ctx, &sd, &sb))
    die("small problem");
  /* Big problem: random f16 in [-1, 1], compared with cuBLAS. */
  size_t ae = (size_t)(m * k), be = (size_t)(k * n), ce = (size_t)(m * n);
  unsigned short *ha = malloc(ae * 2), *hb = malloc(be * 2), *hc = malloc(ce * 2),
                 *href = malloc(ce * 2);
  uint64_t r = 0x243f6a8885a308d3ull;
  for (size_t i = 0; i < ae + be; i++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    float x = (float)((r >> 11) % 2001) / 1000.0f - 1.0f;
    if (i < ae)
      ha[i] = at_float_to_half_bits_sw(x);
    else
      hb[i - ae] = at_float_to_half_bits_sw(x);
  }
  meas_ptr da, db, dc, dref;
  if (meas_cuda.alloc(ctx, ae * 2, &da) || meas_cuda.alloc(ctx, be * 2, &db) ||
      meas_cuda.alloc(ctx, ce * 2, &dc) || meas_cuda.alloc(ctx, ce * 2, &dref) ||
      meas_cuda.upload(ctx, da, ha, ae * 2) || meas_cuda.upload(ctx, db, hb, be * 2))
    die("big problem");
  if (cublas_gemm(ta, tb, (int)m, (int)n, (int)k, da, db, dref) != 0 || cb.ctx_sync() != 0)
    die("cuBLAS");
  if (meas_cuda.download(ctx, href, dref, ce * 2))
    die("cuBLAS result");
  /* cuBLAS timing. */
  double *us = malloc(sizeof(double) * (size_t)reps);
  for (int i = 0; i < 2; i++)
    cublas_gemm(ta, tb, (int)m, (int)n, (int)k, da, db, dref);
  for (int i = 0; i < reps; i++) {
    flush_l2(ctx, NULL);
    meas_cuda.sync(ctx);
    cb.ev_record(cb.e0, NULL);
    cublas_gemm(ta, tb, (int)m, (int)n, (int)k, da, db, dref);
    cb.ev_record(cb.e1, NULL);
    cb.ev_sync(cb.e1);
    float ms = 0;
    cb.ev_elapsed(&ms, cb.e0, cb.e1);
    us[i] = ms * 1e3;
  }
  double cublas_us = median(us, reps);
  const char *layout = ta ? (tb ? "TT" : "TN") : (tb ? "NT" : "NN");
  double flops = 2.0 * (double)m * (double)n * (double)k;
  int mm = (int)m, nn = (int)n, kk = (int)k, lda = (int)(ta ? m : k),
      ldb = (int)(tb ? k : n), ldc = (int)n;
  float alpha = 1.0f, beta = 0.0f;
  void *args[] = {&da, &db, &dc, &mm, &nn, &kk, &lda, &ldb, &ldc, &alpha, &beta};
  size_t nok = 0, nbad = 0;
  for (size_t i = 0; i < nv; i++) {
    struct variant *x = &v[i];
    if (!mods[x->batch]) {
      size_t len = 0;
      snprintf(path, sizeof path, "%.4000s/batch_%04d.cubin", dir, x->batch);
      unsigned char *code = NULL;
      if (os_read_file(path, &code, &len) != AT_OK ||
          meas_cuda.load(ctx, code, len, &mods[x->batch]))
        die("loading a cubin");
      free(code);
    }
    meas_kernel kern;
    if (meas_cuda.kernel(ctx, mods[x->batch], x->name, &kern))
      die("finding a kernel");
    /* (1) small shape: the grid gemm_emit evaluated from the template's own grid
     * expression at 127x129x65. */
    struct gen_launch sl = x->l;
    for (int d = 0; d < 3; d++)
      sl.grid[d] = x->small_grid[d];
    int64_t bad = 0;
    char msg[256] = "";
    int rc = gemm_verify(&meas_cuda, ctx, kern, &sl, &sd, &sb, &bad, msg, sizeof msg);
    x->ok_small = rc == AT_OK && bad == 0;
    /* (2) the problem's shape against cuBLAS. */
    struct meas_launch l = {.kernel = kern, .shared_bytes = (unsigned)x->l.shared,
                            .args = args};
    for (int d = 0; d < 3; d++)
      l.grid[d] = (unsigned)x->l.grid[d], l.block[d] = (unsigned)x->l.threads[d];
    if (meas_cuda.fill(ctx, dc, 0xff, ce * 2) || meas_cuda.launch(ctx, &l) ||
        meas_cuda.download(ctx, hc, dc, ce * 2))
      die("running a variant");
    size_t wrong = 0;
    for (size_t e = 0; e < ce; e++) {
      float a = at_half_bits_to_float_sw(hc[e]), b = at_half_bits_to_float_sw(href[e]);
      if (!(fabsf(a - b) <= 1e-2f * (1.0f + fabsf(b))))
        wrong++;
    }
    x->ok_big = wrong == 0;
    if (!x->ok_small || !x->ok_big) {
      nbad++;
      printf("  FAIL %s %s: small %s%s%s, big %zu of %zu differ from cuBLAS\n", x->name,
             x->config, x->ok_small ? "ok" : "wrong", x->ok_small ? "" : ": ",
             x->ok_small ? "" : msg, wrong, ce);
      continue;
    }
    nok++;
    /* (3) time. */
    if (meas_cuda.launch(ctx, &l) || meas_cuda.launch(ctx, &l) || meas_cuda.sync(ctx) ||
        meas_cuda.time(ctx, &l, reps, flush_l2, NULL, us))
      die("timing");
    x->median_us = median(us, reps);
  }
  /* Report: best five. */
  struct variant *best[5] = {0};
  for (size_t i = 0; i < nv; i++) {
    if (!v[i].ok_small || !v[i].ok_big)
      continue;
    for (int j = 0; j < 5; j++)
      if (!best[j] || v[i].median_us < best[j]->median_us) {
        memmove(best + j + 1, best + j, (size_t)(4 - j) * sizeof *best);
        best[j] = &v[i];
        break;
      }
  }
  printf("\n%s: m=%lld n=%lld k=%lld f16 %s: %zu variants verified (127x129x65 vs host "
         "reference, and %lldx%lldx%lld vs cuBLAS), %zu failed\n", dir, m, n, k, layout, nok, m, n,
         k, nbad);
  printf("  cuBLAS (%s, cublasGemmEx f16/f32-compute): %.1f us = %.1f TFLOP/s\n", cb.version,
         cublas_us, flops / cublas_us / 1e6);
  for (int j = 0; j < 5 && best[j]; j++)
    printf("  #%d %-30s %-60s %9.1f us %7.1f TFLOP/s  %.2fx cuBLAS time (regs %d)\n", j + 1,
           best[j]->name, best[j]->config, best[j]->median_us,
           flops / best[j]->median_us / 1e6, best[j]->median_us / cublas_us, best[j]->regs);
  if (jf) {
    for (size_t i = 0; i < nv; i++)
      fprintf(jf, "{\"problem\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,\"layout\":\"%s\","
              "\"variant\":\"%s\",\"config\":\"%s\",\"verified\":%s,\"median_us\":%.3f,"
              "\"cublas_us\":%.3f}\n",
              dir, m, n, k, layout, v[i].name, v[i].config,
              v[i].ok_small && v[i].ok_big ? "true" : "false", v[i].median_us, cublas_us);
  }
  gemm_buffers_release(&meas_cuda, ctx, &sb);
  gemm_data_release(&sd);
  meas_cuda.free(ctx, da), meas_cuda.free(ctx, db), meas_cuda.free(ctx, dc);
  meas_cuda.free(ctx, dref);
  free(ha), free(hb), free(hc), free(href), free(us), free(v);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: gemm_gpu DIR [--reps R] [--json FILE]\n");
    return 2;
  }
  int reps = 20;
  const char *json = NULL;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--reps"))
      reps = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--json"))
      json = argv[i + 1];
  }
  struct meas_ctx *ctx = NULL;
  if (meas_cuda.open(0, &ctx) != AT_OK)
    die("no CUDA device");
  char gpu[128], arch[16];
  meas_cuda.describe(ctx, gpu, sizeof gpu, arch, sizeof arch);
  if (cublas_open() != 0) {
    fprintf(stderr, "gemm_gpu: cuBLAS not available\n");
    return 1;
  }
  if (meas_cuda.alloc(ctx, flush_bytes, &flush_buf))
    die("flush buffer");
  printf("device: %s (%s); %d reps, median, L2 flushed (100 MiB) between reps\n", gpu, arch,
         reps);
  FILE *jf = json ? fopen(json, "w") : NULL;
  DIR *d = opendir(argv[1]);
  struct dirent *e;
  char names[16][600];
  int nd = 0;
  while (d && (e = readdir(d)) && nd < 16)
    if (e->d_name[0] != '.')
      snprintf(names[nd++], sizeof names[0], "%.300s/%.255s", argv[1], e->d_name);
  if (d)
    closedir(d);
  for (int i = 0; i < nd; i++)
    run_problem(ctx, names[i], reps, jf);
  if (jf)
    fclose(jf);
  meas_cuda.close(ctx);
  return 0;
}
