/*
 * bench_compile.c - compile throughput of the backends on variants of the example
 * template (templates/example/scale.h: BLOCK x VEC x UNROLL, 72 combinations, repeated
 * with fresh kernel names past 72). Every way compiles the same variants with the same
 * number of worker threads, all in one run, and prints variants/s and the ratios:
 *
 *   CUDA (sm_90): nvcc, one process per variant, `jobs` at a time (the yardstick);
 *                 NVRTC, one program per variant, `jobs` at a time;
 *                 NVRTC batched: the variants split into `jobs` programs (one TU each,
 *                 holding its share of variants), compiled in parallel;
 *                 NVRTC, one program holding every variant, one thread.
 *   HIP (gfx942): clang, one process per variant, `jobs` at a time (the yardstick);
 *                 clang batched: `jobs` TUs compiled in parallel.
 *
 *   bench_compile [--jobs N] [--variants N]     (defaults: nproc, 72)
 *
 * Every compile must succeed with the expected kernels, else the run fails. A backend
 * not available here is skipped with a line saying why. Never run by the tests.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tuner/compile/compile.h"
#include "base/status.h"

static const int blocks[] = {32, 64, 128, 256, 512, 1024};
static const int vecs[] = {1, 2, 4};
static const int unrolls[] = {1, 2, 4, 8};
#define NCOMBOS 72

static const char *const include_dirs[] = {AT_TEMPLATES_DIR "/common",
                                           AT_TEMPLATES_DIR "/example", NULL};

/* One translation unit: variants [first, first + count). */
struct unit {
  char *source;
  size_t nkernels;
  char first_name[64];
};

struct job {
  const struct cc_backend *backend;
  const char *arch;
  struct unit *units;
  size_t nunits;
  atomic_size_t next;
  atomic_int failed;
};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s)
{
  size_t n = strlen(s);
  if (*len + n + 1 > *cap) {
    *cap = (*len + n + 1) * 2;
    *buf = realloc(*buf, *cap);
    if (!*buf) {
      fprintf(stderr, "bench_compile: out of memory\n");
      exit(1);
    }
  }
  memcpy(*buf + *len, s, n + 1);
  *len += n;
}

static void unit_make(struct unit *u, size_t first, size_t count)
{
  char *buf = NULL, line[512];
  size_t len = 0, cap = 0;
  append(&buf, &len, &cap, "#include \"scale.h\"\n");
  for (size_t i = first; i < first + count; i++) {
    size_t c = i % NCOMBOS;
    int b = blocks[c / 12], v = vecs[c / 4 % 3], un = unrolls[c % 4];
    snprintf(line, sizeof line,
             "extern \"C\" __global__ void __launch_bounds__(%d) scale_%zu_b%d_v%d_u%d"
             "(float *y, const float *x, float alpha, float beta, int n)"
             " { scale<%d, %d, %d>(y, x, alpha, beta, n); }\n",
             b, i, b, v, un, b, v, un);
    append(&buf, &len, &cap, line);
    if (i == first)
      snprintf(u->first_name, sizeof u->first_name, "scale_%zu_b%d_v%d_u%d", i, b, v, un);
  }
  u->source = buf;
  u->nkernels = count;
}

/* Split `variants` into `nunits` units of near-equal size. */
static struct unit *units_make(size_t variants, size_t nunits)
{
  struct unit *u = calloc(nunits, sizeof *u);
  if (!u)
    exit(1);
  for (size_t i = 0, first = 0; i < nunits; i++) {
    size_t count = variants / nunits + (i < variants % nunits);
    unit_make(&u[i], first, count);
    first += count;
  }
  return u;
}

static void units_free(struct unit *u, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(u[i].source);
  free(u);
}

static void *worker(void *arg)
{
  struct job *j = arg;
  for (;;) {
    size_t i = atomic_fetch_add(&j->next, 1);
    if (i >= j->nunits)
      return NULL;
    struct cc_request req = {.source = j->units[i].source, .name = "variant.cu",
                             .arch = j->arch, .include_dirs = include_dirs};
    struct cc_result r;
    int rc = j->backend->compile(&req, &r);
    if (rc != AT_OK || r.status != CC_OK || r.nkernels != j->units[i].nkernels ||
        !cc_result_kernel(&r, j->units[i].first_name)) {
      fprintf(stderr, "bench_compile: %s unit %zu failed: %s %s\n%s\n", j->backend->name, i,
              at_status_name(rc), at_last_error(), r.log ? r.log : "");
      atomic_store(&j->failed, 1);
    }
    cc_result_release(&r);
  }
}

/* Compile `variants` as `nunits` units on `threads` threads; variants per second. */
static double run(const struct cc_backend *b, const char *arch, size_t variants,
                  size_t nunits, int threads, const char *label)
{
  struct job j = {.backend = b, .arch = arch, .units = units_make(variants, nunits),
                  .nunits = nunits};
  atomic_init(&j.next, 0);
  atomic_init(&j.failed, 0);
  pthread_t *t = calloc((size_t)threads, sizeof *t);
  if (!t)
    exit(1);
  double t0 = now_s();
  for (int i = 0; i < threads; i++)
    if (pthread_create(&t[i], NULL, worker, &j) != 0) {
      fprintf(stderr, "bench_compile: cannot start a thread\n");
      exit(1);
    }
  for (int i = 0; i < threads; i++)
    pthread_join(t[i], NULL);
  double secs = now_s() - t0;
  free(t);
  units_free(j.units, j.nunits);
  if (atomic_load(&j.failed))
    exit(1);
  double rate = (double)variants / secs;
  printf("  %-58s %7.2f s  %8.2f variants/s\n", label, secs, rate);
  fflush(stdout);
  return rate;
}

/* Available here? Then one untimed compile first: loading NVRTC, finding the tool and
 * the first read of the headers are not what is measured. */
static bool have(const struct cc_backend *b, const char *arch)
{
  char why[256] = "";
  if (b->available(why, sizeof why)) {
    struct unit u;
    unit_make(&u, 0, 1);
    struct cc_request req = {.source = u.source, .name = "warmup.cu", .arch = arch,
                             .include_dirs = include_dirs};
    struct cc_result r;
    b->compile(&req, &r);
    cc_result_release(&r);
    free(u.source);
    return true;
  }
  printf("  %s: skipped (%s)\n", b->name, why);
  return false;
}

int main(int argc, char **argv)
{
  long jobs = sysconf(_SC_NPROCESSORS_ONLN);
  long variants = NCOMBOS;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
      jobs = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--variants") == 0 && i + 1 < argc)
      variants = strtol(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: bench_compile [--jobs N] [--variants N]\n");
      return 2;
    }
  }
  if (jobs < 1 || jobs > 1024 || variants < 1 || variants > 100000) {
    fprintf(stderr, "bench_compile: --jobs 1..1024, --variants 1..100000\n");
    return 2;
  }
  size_t v = (size_t)variants, batches = (size_t)jobs < v ? (size_t)jobs : v;
  int nt = (int)jobs;
  char label[128];
  printf("bench_compile: %zu variants of scale.h, %d jobs\n", v, nt);

  printf("CUDA sm_90\n");
  double nvcc = 0, one = 0, batched = 0, single = 0;
  if (have(&cc_nvcc, "sm_90")) {
    snprintf(label, sizeof label, "nvcc: a process per variant, %d in parallel", nt);
    nvcc = run(&cc_nvcc, "sm_90", v, v, nt, label);
  }
  if (have(&cc_nvrtc, "sm_90")) {
    snprintf(label, sizeof label, "nvrtc: a program per variant, %d threads", nt);
    one = run(&cc_nvrtc, "sm_90", v, v, nt, label);
    snprintf(label, sizeof label, "nvrtc batched: %zu programs, %d threads", batches, nt);
    batched = run(&cc_nvrtc, "sm_90", v, batches, nt, label);
    single = run(&cc_nvrtc, "sm_90", v, 1, 1, "nvrtc: one program holding all, 1 thread");
  }
  if (nvcc > 0 && one > 0)
    printf("  ratio nvrtc per-variant / nvcc:       %6.2fx\n"
           "  ratio nvrtc batched / nvcc:           %6.2fx\n"
           "  ratio nvrtc one program / nvcc:       %6.2fx\n",
           one / nvcc, batched / nvcc, single / nvcc);

  printf("HIP gfx942\n");
  if (have(&cc_clang_hip, "gfx942")) {
    snprintf(label, sizeof label, "clang: a process per variant, %d in parallel", nt);
    double per = run(&cc_clang_hip, "gfx942", v, v, nt, label);
    snprintf(label, sizeof label, "clang batched: %zu TUs, %d in parallel", batches, nt);
    double bat = run(&cc_clang_hip, "gfx942", v, batches, nt, label);
    double all = run(&cc_clang_hip, "gfx942", v, 1, 1, "clang: one TU holding all, 1 process");
    printf("  ratio clang batched / per-variant:    %6.2fx\n"
           "  ratio clang one TU / per-variant:     %6.2fx\n",
           bat / per, all / per);
  }
  return 0;
}
