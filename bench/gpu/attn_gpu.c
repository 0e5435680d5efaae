/*
 * attn_gpu.c - the "measure on the GPU" half of the attention run (attn_emit writes what
 * it runs): for each problem folder, load the cubins through the `cuda` measurement
 * backend and for every variant (1) check it at a small shape (1 x 2 heads, 67 queries,
 * 131 keys, the problem's head dim and mask) against the op's f64 host reference with
 * its tolerance (attn_verify), (2) run it at the problem's size and compare every output
 * with the reference kernel's (ref/: tests/data/templates/attn_planted.h MODE 0, the
 * definition computed directly, one thread per row) on the same inputs, within
 * 2e-3 + 1e-2 |r| (f16 outputs), (3) time it: 2 warm-ups, then R repetitions with the L2
 * flushed (100 MiB written) outside the timed region, median. Prints each problem's best
 * variants and their TFLOP/s (4 D per visible query-key pair). Links no libclang.
 *
 *   attn_gpu DIR [--reps R] [--json FILE]
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/ops/attn_run.h"
#include "tuner/ops/gemm_run.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/op_attn.h"
#include "base/status.h"

#define AT_EMU_ONLY 1
#include "templates/common/at_types.h"
#include "base/num.h"
#include "base/os.h"

struct variant {
  char name[64], config[256];
  int batch, regs;
  struct gen_launch l;
  long long small_grid[3];
  int ok_small, ok_big;
  double median_us;
};

static void die(const char *what)
{
  fprintf(stderr, "attn_gpu: %s: %s\n", what, at_last_error());
  exit(1);
}

static meas_ptr flush_buf;
static const size_t flush_bytes = 100u << 20;

static int flush_l2(struct meas_ctx *ctx, void *arg)
{
  (void)arg;
  return meas_cuda.fill(ctx, flush_buf, 0x5a, flush_bytes);
}

/* variants.tsv of dir: the problem from its header, the variants. OUT: *v (malloc'd). */
static size_t read_variants(const char *dir, struct attn_problem *p, struct variant **v)
{
  char path[4300], line[2048];
  snprintf(path, sizeof path, "%.4000s/variants.tsv", dir);
  FILE *f = fopen(path, "r");
  *v = NULL;
  if (!f)
    return 0;
  size_t nv = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') {
      long long b, h, sq, sk, d;
      int causal;
      if (sscanf(line, "# %*s %*s b=%lld h=%lld sq=%lld sk=%lld d=%lld causal=%d", &b, &h,
                 &sq, &sk, &d, &causal) == 6)
        *p = (struct attn_problem){.dtype = GEMM_F16, .batch = b, .heads = h, .hkv = h,
                                   .sq = sq, .sk = sk, .d = d, .causal = causal};
      continue;
    }
    if (line[0] == '\n')
      continue;
    *v = realloc(*v, (nv + 1) * sizeof **v);
    struct variant *x = &(*v)[nv];
    memset(x, 0, sizeof *x);
    long long spills = 0;
    if (sscanf(line, "%63s %255s %d %lld %lld %lld %lld %lld %lld %lld %d %lld %lld %lld %lld",
               x->name, x->config, &x->batch, (long long *)&x->l.grid[0],
               (long long *)&x->l.grid[1], (long long *)&x->l.grid[2],
               (long long *)&x->l.threads[0], (long long *)&x->l.threads[1],
               (long long *)&x->l.threads[2], (long long *)&x->l.shared, &x->regs, &spills,
               &x->small_grid[0], &x->small_grid[1], &x->small_grid[2]) != 15)
      die("a variants.tsv line not as attn_emit writes it");
    nv++;
  }
  fclose(f);
  return nv;
}

static meas_kernel load_kernel(struct meas_ctx *ctx, const char *dir, const struct variant *x,
                               meas_module *mods)
{
  char path[4300];
  if (x->batch < 0 || x->batch >= 256)
    die("a batch index out of range");
  if (!mods[x->batch]) {
    size_t len = 0;
    snprintf(path, sizeof path, "%.4000s/batch_%04d.cubin", dir, x->batch);
    unsigned char *code = NULL;
    if (os_read_file(path, &code, &len) != AT_OK ||
        meas_cuda.load(ctx, code, len, &mods[x->batch]))
      die("loading a cubin");
    free(code);
  }
  meas_kernel k;
  if (meas_cuda.kernel(ctx, mods[x->batch], x->name, &k))
    die("finding a kernel");
  return k;
}

static void run_problem(struct meas_ctx *ctx, const char *dir, int reps, FILE *jf)
{
  struct attn_problem p = {0}, rp = {0};
  struct variant *v = NULL, *ref = NULL;
  char refdir[4300];
  snprintf(refdir, sizeof refdir, "%.4000s/ref", dir);
  size_t nv = read_variants(dir, &p, &v);
  if (nv == 0 || read_variants(refdir, &rp, &ref) != 1)
    return;
  if (rp.batch != p.batch || rp.heads != p.heads || rp.sq != p.sq || rp.sk != p.sk ||
      rp.d != p.d || rp.causal != p.causal)
    die("ref/ is for another problem");
  meas_module mods[256] = {0}, rmods[256] = {0};
  /* The small check's data, with the host reference. */
  struct attn_problem sp = p;
  sp.batch = 1, sp.heads = 2, sp.hkv = 2, sp.sq = 67, sp.sk = 131;
  struct attn_data sd, bd;
  struct attn_buffers sb, bb;
  if (attn_data_init(&sd, &sp, 7) || attn_buffers_init(&meas_cuda, ctx, &sd, &sb))
    die("small problem");
  /* The problem itself: inputs only; the reference kernel's output is the reference. */
  if (attn_data_inputs(&bd, &p, 1) || attn_buffers_init(&meas_cuda, ctx, &bd, &bb))
    die("the problem");
  size_t ne = attn_q_elems(&p);
  unsigned short *out = malloc(ne * 2), *want = malloc(ne * 2);
  if (!out || !want)
    die("out of memory");
  meas_kernel rk = load_kernel(ctx, refdir, &ref[0], rmods);
  if (attn_launch(&meas_cuda, ctx, rk, &ref[0].l, &bd, &bb, want, NULL))
    die("the reference kernel");
  double *us = malloc(sizeof(double) * (size_t)reps), flops = attn_flops(&p);
  size_t nok = 0, nbad = 0;
  for (size_t i = 0; i < nv; i++) {
    struct variant *x = &v[i];
    meas_kernel k = load_kernel(ctx, dir, x, mods);
    struct gen_launch sl = x->l;
    for (int d = 0; d < 3; d++)
      sl.grid[d] = x->small_grid[d];
    int64_t bad = 0;
    char msg[256] = "";
    int rc = attn_verify(&meas_cuda, ctx, k, &sl, &sd, &sb, &bad, msg, sizeof msg);
    x->ok_small = rc == AT_OK && bad == 0;
    if (rc != AT_OK)
      snprintf(msg, sizeof msg, "%s", at_last_error());
    size_t wrong = 0;
    if ((rc = attn_launch(&meas_cuda, ctx, k, &x->l, &bd, &bb, out, NULL)) != AT_OK)
      wrong = ne;
    for (size_t e = 0; rc == AT_OK && e < ne; e++) {
      float a = at_half_bits_to_float_sw(out[e]), b = at_half_bits_to_float_sw(want[e]);
      if (!(fabsf(a - b) <= 2e-3f + 1e-2f * fabsf(b)))
        wrong++;
    }
    x->ok_big = wrong == 0;
    if (!x->ok_small || !x->ok_big) {
      nbad++;
      printf("  FAIL %s %s: small %s%s%s, full size %zu of %zu differ from the reference "
             "kernel\n", x->name, x->config, x->ok_small ? "ok" : "wrong",
             x->ok_small ? "" : ": ", x->ok_small ? "" : msg, wrong, ne);
      continue;
    }
    nok++;
    meas_ptr q = bb.q, kk = bb.k, vv = bb.v, o = bb.o, lse = 0, bt = 0;
    int b = (int)p.batch, h = (int)p.heads, hkv = (int)p.hkv, sq = (int)p.sq, skk = (int)p.sk;
    float scale = 0.0f;
    void *args[] = {&q, &kk, &vv, &o, &lse, &bt, &b, &h, &hkv, &sq, &skk, &scale};
    struct meas_launch ml;
    if (run_launch_init(&ml, k, &x->l, args, ATTN_ARG_KINDS, "attn_gpu") ||
        meas_cuda.launch(ctx, &ml) || meas_cuda.launch(ctx, &ml) || meas_cuda.sync(ctx) ||
        meas_cuda.time(ctx, &ml, reps, flush_l2, NULL, us))
      die("timing");
    qsort(us, (size_t)reps, sizeof *us, num_cmp_double);
    x->median_us = reps % 2 ? us[reps / 2] : (us[reps / 2 - 1] + us[reps / 2]) / 2;
  }
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
  printf("\n%s: b=%lld h=%lld sq=%lld sk=%lld d=%lld%s f16: %zu variants verified (small shape "
         "vs the host reference, full size vs the reference kernel), %zu failed\n", dir,
         (long long)p.batch, (long long)p.heads, (long long)p.sq, (long long)p.sk,
         (long long)p.d, p.causal ? " causal" : "", nok, nbad);
  for (int j = 0; j < 5 && best[j]; j++)
    printf("  #%d %-30s %-66s %9.1f us %7.2f TFLOP/s (regs %d)\n", j + 1, best[j]->name,
           best[j]->config, best[j]->median_us, flops / best[j]->median_us / 1e6, best[j]->regs);
  for (size_t i = 0; jf && i < nv; i++)
    fprintf(jf, "{\"problem\":\"%s\",\"b\":%lld,\"h\":%lld,\"sq\":%lld,\"sk\":%lld,\"d\":%lld,"
            "\"causal\":%d,\"variant\":\"%s\",\"config\":\"%s\",\"verified\":%s,"
            "\"median_us\":%.3f,\"tflops\":%.4f}\n", dir, (long long)p.batch, (long long)p.heads,
            (long long)p.sq, (long long)p.sk, (long long)p.d, p.causal, v[i].name, v[i].config,
            v[i].ok_small && v[i].ok_big ? "true" : "false", v[i].median_us,
            v[i].median_us > 0 ? flops / v[i].median_us / 1e6 : 0.0);
  attn_buffers_release(&meas_cuda, ctx, &sb);
  attn_buffers_release(&meas_cuda, ctx, &bb);
  attn_data_release(&sd);
  attn_data_release(&bd);
  free(out), free(want), free(us), free(v), free(ref);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: attn_gpu DIR [--reps R] [--json FILE]\n");
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
  if (reps < 1 || reps > 1000)
    reps = 20;
  struct meas_ctx *ctx = NULL;
  if (meas_cuda.open(0, &ctx) != AT_OK)
    die("no CUDA device");
  char gpu[128], arch[16];
  meas_cuda.describe(ctx, gpu, sizeof gpu, arch, sizeof arch);
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
