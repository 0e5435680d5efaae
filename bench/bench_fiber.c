/*
 * bench_fiber.c - the SIMT emulator's costs, all measured in one run:
 *   1. the context switch: two contexts ping-ponging, with the assembly switch
 *      (EMU_SWITCH_ASM, x86-64) and with swapcontext (EMU_SWITCH_UCONTEXT): switches/s,
 *      ns per switch, and the ratio;
 *   2. emulated throughput on the host measurement backend: the scale kernel
 *      (y = a*x + b*y, no barrier: one fiber start and end per element) and a block-wide
 *      Hillis-Steele scan (9 barriers per thread), both from tests/data/emu/kernels.cpp,
 *      compiled by the host compile backend, with 1 worker and with --jobs workers:
 *      ms per launch (median of --reps) and emulated GPU threads per second.
 *
 *   bench_fiber [--jobs N] [--reps N]     (defaults: nproc, 7)
 *
 * Never run by the tests; the figures are CPU figures and say nothing about a GPU.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tuner/compile/compile.h"
#include "tuner/emu/emu.h"
#include "tuner/emu/emu_fiber.h"
#include "tuner/measure/meas.h"
#include "base/status.h"
#include "base/num.h"

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- 1. the switch ---- */

static struct emu_fiber fmain, fping;
static volatile long pings;

static void ping(void *arg)
{
  long n = *(long *)arg;
  for (long i = 0; i < n; i++) {
    pings++;
    emu_fiber_switch(&fping, &fmain);
  }
  emu_fiber_exit(&fping, &fmain);
}

/* Switches per second of `kind` over 2 * n switches; < 0 when it cannot run here. */
static double switch_rate(enum emu_switch kind, long n)
{
  if (emu_fiber_init_thread(&fmain, kind) || emu_fiber_init(&fping, kind, 0)) {
    emu_fiber_release(&fmain);
    return -1;
  }
  emu_fiber_prepare(&fping, ping, &n);
  pings = 0;
  double t0 = now_s();
  for (long i = 0; i <= n; i++)
    emu_fiber_switch(&fmain, &fping);
  double dt = now_s() - t0;
  emu_fiber_release(&fping);
  emu_fiber_release(&fmain);
  return pings == n ? 2.0 * (double)n / dt : -1;
}

/* ---- 2. emulated throughput ---- */

/* Median ms of `reps` launches of l on a context of `jobs` workers. */
static int time_launch(meas_module mod, struct meas_ctx *ctx, const char *name,
                       struct meas_launch *l, int reps, double *ms)
{
  double us[64];
  int rc = meas_host.kernel(ctx, mod, name, &l->kernel);
  if (!rc)
    rc = meas_host.time(ctx, l, reps, NULL, NULL, us);
  if (rc)
    return rc;
  qsort(us, (size_t)reps, sizeof us[0], num_cmp_double);
  *ms = us[reps / 2] / 1000.0;
  return AT_OK;
}

static int throughput(int jobs, int reps)
{
  int rc = AT_OK;
  char *src = NULL;
  unsigned char *data = NULL;
  size_t size = 0;
  struct cc_result res = {0};
  const char *path = AT_TEMPLATES_DIR "/../tests/data/emu/kernels.cpp";
  const char *const inc[] = {AT_TEMPLATES_DIR "/../tests/data/emu", AT_TEMPLATES_DIR "/common",
                             NULL};
  if ((rc = os_read_file(path, &data, &size)))
    return rc;
  src = (char *)data;
  struct cc_request req = {.source = src, .name = "kernels.cpp", .arch = "host",
                           .include_dirs = inc};
  if ((rc = cc_host.compile(&req, &res)))
    goto out;
  if (res.status != CC_OK) {
    fprintf(stderr, "%s\n", res.log ? res.log : "");
    rc = at_error(AT_USAGE, "bench_fiber: kernels.cpp did not compile");
    goto out;
  }
  int n = 1 << 20, block = 256;
  unsigned nblocks = (unsigned)(n / block);
  float alpha = 2.0f, beta = 0.5f;
  int counts[2] = {1, jobs};
  for (int c = 0; c < (jobs > 1 ? 2 : 1) && !rc; c++) {
    struct meas_ctx *ctx = NULL;
    meas_module mod = NULL;
    meas_ptr x = 0, y = 0, o = 0;
    meas_host_set_jobs(counts[c]);
    if ((rc = meas_host.open(0, &ctx)))
      goto out;
    if (!(rc = meas_host.load(ctx, res.code, res.code_size, &mod)) &&
        !(rc = meas_host.alloc(ctx, (size_t)n * 4, &x)) &&
        !(rc = meas_host.alloc(ctx, (size_t)n * 4, &y)) &&
        !(rc = meas_host.alloc(ctx, (size_t)n * 4, &o)) &&
        !(rc = meas_host.fill(ctx, x, 0, (size_t)n * 4)) &&
        !(rc = meas_host.fill(ctx, y, 0, (size_t)n * 4))) {
      double ms_scale = 0, ms_scan = 0;
      void *sargs[] = {&y, &x, &alpha, &beta, &n};
      struct meas_launch ls = {.grid = {nblocks, 1, 1}, .block = {(unsigned)block, 1, 1},
                               .args = sargs, .arg_kinds = "ppffi"};
      void *cargs[] = {&x, &o};
      struct meas_launch lc = {.grid = {nblocks, 1, 1}, .block = {(unsigned)block, 1, 1},
                               .shared_bytes = 2u * (unsigned)block * 4u, .args = cargs,
                               .arg_kinds = "pp"};
      if (!(rc = time_launch(mod, ctx, "scale", &ls, reps, &ms_scale)) &&
          !(rc = time_launch(mod, ctx, "block_scan", &lc, reps, &ms_scan))) {
        printf("  %d worker%s: scale %d threads: %8.2f ms (%6.1f M threads/s); "
               "block_scan: %8.2f ms (%6.1f M threads/s)\n",
               counts[c], counts[c] == 1 ? " " : "s", n, ms_scale, n / ms_scale / 1e3,
               ms_scan, n / ms_scan / 1e3);
      }
    }
    meas_host.free(ctx, x);
    meas_host.free(ctx, y);
    meas_host.free(ctx, o);
    meas_host.unload(ctx, mod);
    meas_host.close(ctx);
  }
out:
  cc_result_release(&res);
  free(src);
  return rc;
}

int main(int argc, char **argv)
{
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int jobs = ncpu > 0 ? (int)ncpu : 1, reps = 7;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
      jobs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_fiber [--jobs N] [--reps N]\n");
      return 2;
    }
  }
  if (jobs < 1)
    jobs = 1;
  if (reps < 1 || reps > 64)
    reps = 7;

  printf("context switch (two contexts ping-pong):\n");
  double uc = switch_rate(EMU_SWITCH_UCONTEXT, 1000000);
  double as = EMU_HAVE_SWITCH_ASM ? switch_rate(EMU_SWITCH_ASM, 20000000) : -1;
  if (uc > 0)
    printf("  swapcontext: %8.1f M switches/s  %6.1f ns/switch\n", uc / 1e6, 1e9 / uc);
  if (as > 0)
    printf("  assembly:    %8.1f M switches/s  %6.1f ns/switch\n", as / 1e6, 1e9 / as);
  else
    printf("  assembly:    not on this machine (x86-64 only)\n");
  if (as > 0 && uc > 0)
    printf("  ratio assembly / swapcontext: %.1fx\n", as / uc);

  printf("emulated throughput (host backend, tests/data/emu/kernels.cpp):\n");
  int rc = throughput(jobs, reps);
  if (rc) {
    fprintf(stderr, "bench_fiber: %s\n", at_last_error());
    return 1;
  }
  emu_release_cache();
  return 0;
}
