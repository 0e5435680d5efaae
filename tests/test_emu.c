/*
 * test_emu.c - the SIMT emulator end to end: micro-kernels in tests/data/emu/ (C++) are
 * compiled by the host compile backend (cc_host), loaded and run by the host
 * measurement backend (meas_host) on the emulator (emu.c, emu_fiber.c). Values are
 * checked, not just statuses; the kernels that break the rules must fail with a report
 * naming the block and the threads, never hang. Every test has the same .timeout:
 * Criterion 2.4.1 leaks a timer when tests with different timeouts run in parallel
 * (see test_install.c).
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/helpers.h"
#include "tuner/compile/compile.h"
#include "tuner/emu/emu.h"
#include "tuner/emu/emu_fiber.h"
#include "tuner/measure/meas.h"
#include "base/status.h"

struct kmod {
  struct meas_ctx *ctx;
  meas_module mod;
  void *bufs[8]; /* "device" buffers, freed by kfree */
  int nbufs;
};

/* Compile tests/data/emu/<file> for `arch` and load it in a host context of `jobs`
 * workers. */
static void kload_flags(struct kmod *k, const char *file, const char *arch, int jobs,
                       const char *const *flags, bool load)
{
  memset(k, 0, sizeof *k);
  char path[1024];
  char why[256] = "";
  if (!cc_host.available(why, sizeof why))
    cr_skip_test("no host C++ compiler: %s", why);
  snprintf(path, sizeof path, "%s/tests/data/emu/%s", AT_SOURCE_DIR, file);
  char *src = th_read(path, NULL);
  cr_assert_not_null(src, "cannot read %s", path);
  const char *const inc[] = {AT_SOURCE_DIR "/tests/data/emu", AT_SOURCE_DIR "/templates/common",
                             NULL};
  struct cc_request req = {.source = src, .name = file, .arch = arch, .include_dirs = inc,
                           .flags = flags};
  struct cc_result res;
  int rc = cc_host.compile(&req, &res);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  cr_assert_eq(res.status, CC_OK, "%s", res.log ? res.log : "");
  cr_assert(strcmp(file, "kernels.cpp") != 0 || cc_result_kernel(&res, "scale"));
  cr_assert_null(cc_result_kernel(&res, "at_host_bind"), "the runtime's symbols are no kernels");
  meas_host_set_jobs(jobs);
  cr_assert_eq(meas_host.open(0, &k->ctx), AT_OK, "%s", at_last_error());
  if (load)
    cr_assert_eq(meas_host.load(k->ctx, res.code, res.code_size, &k->mod), AT_OK, "%s",
                 at_last_error());
  cc_result_release(&res);
  free(src);
}

static void kload(struct kmod *k, const char *file, const char *arch, int jobs)
{
  kload_flags(k, file, arch, jobs, NULL, true);
}

static void kfree(struct kmod *k)
{
  for (int i = 0; i < k->nbufs; i++)
    meas_host.free(k->ctx, (meas_ptr)(uintptr_t)k->bufs[i]);
  meas_host.unload(k->ctx, k->mod);
  meas_host.close(k->ctx);
}

/* Launch `name` and return its status. */
static int klaunch(struct kmod *k, const char *name, const unsigned grid[3],
                   const unsigned block[3], unsigned shared, const char *kinds, void **args)
{
  meas_kernel kern;
  cr_assert_eq(meas_host.kernel(k->ctx, k->mod, name, &kern), AT_OK, "%s", at_last_error());
  struct meas_launch l = {.kernel = kern, .shared_bytes = shared, .args = args,
                          .arg_kinds = kinds};
  memcpy(l.grid, grid, sizeof l.grid);
  memcpy(l.block, block, sizeof l.block);
  return meas_host.launch(k->ctx, &l);
}

static void *dev(struct kmod *k, size_t bytes)
{
  meas_ptr p;
  cr_assert_eq(meas_host.alloc(k->ctx, bytes, &p), AT_OK);
  cr_assert_lt(k->nbufs, 8);
  k->bufs[k->nbufs++] = (void *)(uintptr_t)p;
  return (void *)(uintptr_t)p;
}

static void run_reduce(const char *arch, unsigned ws)
{
  struct kmod k;
  kload(&k, "kernels.cpp", arch, 2);
  enum { BLOCKS = 3, THREADS = 128 };
  int *x = dev(&k, BLOCKS * THREADS * sizeof *x), *out = dev(&k, BLOCKS * THREADS * sizeof *out);
  for (int i = 0; i < BLOCKS * THREADS; i++)
    x[i] = (i * 37) % 101 - 50;
  void *args[] = {&x, &out};
  int rc = klaunch(&k, "warp_reduce", (unsigned[]){BLOCKS, 1, 1}, (unsigned[]){THREADS, 1, 1},
                   0, "pp", args);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  for (int w = 0; w < BLOCKS * THREADS / (int)ws; w++) {
    int sum = 0;
    for (unsigned l = 0; l < ws; l++)
      sum += x[w * ws + l];
    for (unsigned l = 0; l < ws; l++)
      cr_assert_eq(out[w * ws + l], sum, "warp %d lane %u: %d, want %d", w, l,
                   out[w * ws + l], sum);
  }
  kfree(&k);
}

Test(emu, warp_shuffle_reduction, .timeout = 30)
{
  run_reduce("host", 32);
}

Test(emu, wave64_reduction_and_lane_order, .timeout = 30)
{
  run_reduce("host:gfx942", 64);
  struct kmod k;
  kload(&k, "kernels.cpp", "host64", 1);
  int *out = dev(&k, 2 * 128 * sizeof *out);
  void *args[] = {&out};
  int rc = klaunch(&k, "gather_order", (unsigned[]){2, 1, 1}, (unsigned[]){128, 1, 1}, 0,
                   "p", args);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  for (int b = 0; b < 2; b++)
    for (int i = 0; i < 128; i++)
      cr_assert_eq(out[b * 128 + i], 1000 * b + 10 * ((i % 64 + 1) % 64) + 1, "thread %d", i);
  kfree(&k);
}

Test(emu, transpose_1024_threads_per_block, .timeout = 30)
{
  struct kmod k;
  kload(&k, "kernels.cpp", "host", 2);
  int n = 64;
  float *in = dev(&k, (size_t)n * n * sizeof *in), *out = dev(&k, (size_t)n * n * sizeof *out);
  for (int i = 0; i < n * n; i++)
    in[i] = (float)i;
  memset(out, 0, (size_t)n * n * sizeof *out);
  void *args[] = {&in, &out, &n};
  int rc = klaunch(&k, "transpose", (unsigned[]){2, 2, 1}, (unsigned[]){32, 32, 1}, 0,
                   "ppi", args);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  for (int r = 0; r < n; r++)
    for (int c = 0; c < n; c++)
      cr_assert_eq(out[c * n + r], in[r * n + c], "out[%d][%d]", c, r);
  rc = klaunch(&k, "transpose", (unsigned[]){2, 2, 1}, (unsigned[]){32, 33, 1}, 0, "ppi",
               args);
  cr_assert_eq(rc, AT_USAGE);
  cr_assert(strstr(at_last_error(), "1056 threads per block"), "%s", at_last_error());
  kfree(&k);
}

/* The scan of 16 blocks of 256 with `jobs` workers, into out. */
static void scan_with(int jobs, int *result)
{
  struct kmod k;
  kload(&k, "kernels.cpp", "host", jobs);
  enum { BLOCKS = 16, THREADS = 256 };
  int *x = dev(&k, BLOCKS * THREADS * sizeof *x), *out = dev(&k, BLOCKS * THREADS * sizeof *out);
  for (int i = 0; i < BLOCKS * THREADS; i++)
    x[i] = (i * 7919) % 23 - 11;
  void *args[] = {&x, &out};
  int rc = klaunch(&k, "block_scan", (unsigned[]){BLOCKS, 1, 1}, (unsigned[]){THREADS, 1, 1},
                   2 * THREADS * sizeof(int), "pp", args);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  for (int b = 0; b < BLOCKS; b++) {
    int sum = 0;
    for (int i = 0; i < THREADS; i++) {
      sum += x[b * THREADS + i];
      cr_assert_eq(out[b * THREADS + i], sum, "block %d thread %d", b, i);
    }
  }
  memcpy(result, out, BLOCKS * THREADS * sizeof *out);
  /* too little dynamic shared memory: the kernel's own fail() */
  rc = klaunch(&k, "block_scan", (unsigned[]){BLOCKS, 1, 1}, (unsigned[]){THREADS, 1, 1}, 16,
               "pp", args);
  cr_assert_eq(rc, AT_DEVICE);
  cr_assert(strstr(at_last_error(), "block (0,0,0), thread (0,0,0): block_scan: too little"),
            "%s", at_last_error());
  kfree(&k);
}

Test(emu, block_scan_same_for_1_and_4_workers, .timeout = 30)
{
  static int one[16 * 256], four[16 * 256];
  scan_with(1, one);
  scan_with(4, four);
  cr_assert_eq(memcmp(one, four, sizeof one), 0);
}

Test(emu, every_thread_gets_its_ids, .timeout = 30)
{
  struct kmod k;
  kload(&k, "kernels.cpp", "host", 3);
  unsigned grid[3] = {2, 3, 2}, block[3] = {4, 2, 8}, nt = 64, nb = 12;
  unsigned *out = dev(&k, 10 * nt * nb * sizeof *out);
  memset(out, 0xff, 10 * nt * nb * sizeof *out);
  void *args[] = {&out};
  cr_assert_eq(klaunch(&k, "ids", grid, block, 0, "p", args), AT_OK, "%s", at_last_error());
  for (unsigned b = 0; b < nb; b++)
    for (unsigned t = 0; t < nt; t++) {
      const unsigned *o = out + 10 * (b * nt + t);
      unsigned want[10] = {t % 4, t / 4 % 2, t / 8, b % 2, b / 2 % 3, b / 6, t, t % 32,
                           t / 32, 32};
      for (int i = 0; i < 10; i++)
        cr_assert_eq(o[i], want[i], "block %u thread %u word %d: %u, want %u", b, t, i, o[i],
                     want[i]);
    }
  kfree(&k);
}

Test(emu, scale_and_mixed_argument_lists, .timeout = 30)
{
  struct kmod k;
  kload(&k, "kernels.cpp", "host", 2);
  int n = 1000;
  float alpha = 2.0f, beta = 0.5f;
  float *y = dev(&k, (size_t)n * sizeof *y), *x = dev(&k, (size_t)n * sizeof *x);
  for (int i = 0; i < n; i++) {
    x[i] = (float)i;
    y[i] = (float)(2 * i + 1);
  }
  void *args[] = {&y, &x, &alpha, &beta, &n};
  int rc = klaunch(&k, "scale", (unsigned[]){8, 1, 1}, (unsigned[]){128, 1, 1}, 0, "ppffi",
                   args);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  for (int i = 0; i < n; i++)
    cr_assert_eq(y[i], 2.0f * (float)i + 0.5f * (float)(2 * i + 1), "y[%d] = %g", i, y[i]);

  double *out = dev(&k, 17 * sizeof *out);
  int a = -3, h = 8, o = 15;
  double b = 1.25, g = -7.5;
  float c = 2.5f, f = 6.5f, fi = 9.5f, j = 10.5f, kk = 11.5f, l = 12.5f, m = 13.5f,
        nn = 14.5f, q = 17.5f;
  long d = 1L << 40, p = -(1L << 33);
  unsigned e = 4000000000u;
  void *margs[] = {&out, &a, &b, &c, &d, &e, &f, &g, &h, &fi, &j, &kk, &l, &m, &nn, &o, &p,
                   &q};
  rc = klaunch(&k, "mix", (unsigned[]){1, 1, 1}, (unsigned[]){32, 1, 1}, 0,
               "pidflufdiffffffilf", margs);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  double want[17] = {-3, 1.25, 2.5, 1099511627776.0, 4000000000.0, 6.5, -7.5, 8, 9.5,
                     10.5, 11.5, 12.5, 13.5, 14.5, 15, -8589934592.0, 17.5};
  for (int i = 0; i < 17; i++)
    cr_assert_eq(out[i], want[i], "argument %d: %g, want %g", i + 1, out[i], want[i]);
  rc = klaunch(&k, "mix", (unsigned[]){1, 1, 1}, (unsigned[]){32, 1, 1}, 0, "pidx", margs);
  cr_assert_eq(rc, AT_USAGE);
  cr_assert(strstr(at_last_error(), "unknown argument kind 'x'"), "%s", at_last_error());
  kfree(&k);
}

Test(emu, barrier_divergence_is_reported, .timeout = 30)
{
  struct kmod k;
  kload(&k, "faults.cpp", "host", 4);
  int *out = dev(&k, 8 * 64 * sizeof *out);
  memset(out, 0, 8 * 64 * sizeof *out);
  int before = 0;
  void *args[] = {&out, &before};
  int rc = klaunch(&k, "diverge", (unsigned[]){8, 1, 1}, (unsigned[]){64, 1, 1}, 0, "pi",
                   args);
  cr_assert_eq(rc, AT_DEVICE);
  cr_assert_str_eq(at_last_error(), "block (1,0,0): threads 0..31 wait at barrier 1 that "
                   "threads 32..63 never reach (they returned)");
  for (int i = 0; i < 64; i++) /* block 0 ran to its end */
    cr_assert_eq(out[i], 1, "block 0 thread %d", i);
  before = 2;
  rc = klaunch(&k, "diverge", (unsigned[]){8, 1, 1}, (unsigned[]){64, 1, 1}, 0, "pi", args);
  cr_assert_eq(rc, AT_DEVICE);
  cr_assert(strstr(at_last_error(), "block (1,0,0): threads 0..31 wait at barrier 3 that"),
            "%s", at_last_error());
  kfree(&k);
}

Test(emu, warp_gather_with_missing_lanes_is_reported, .timeout = 30)
{
  struct kmod k;
  kload(&k, "faults.cpp", "host", 1);
  int *out = dev(&k, 64 * sizeof *out);
  int mode = 0;
  void *args[] = {&out, &mode};
  int rc = klaunch(&k, "gather_missing", (unsigned[]){1, 1, 1}, (unsigned[]){64, 1, 1}, 0,
                   "pi", args);
  cr_assert_eq(rc, AT_DEVICE);
  cr_assert_str_eq(at_last_error(), "block (0,0,0): warp 1: lanes 0..15 wait at a "
                   "warp_gather that lanes 16..31 never reach (they returned)");
  mode = 1;
  rc = klaunch(&k, "gather_missing", (unsigned[]){1, 1, 1}, (unsigned[]){64, 1, 1}, 0, "pi",
               args);
  cr_assert_eq(rc, AT_DEVICE);
  cr_assert_str_eq(at_last_error(), "block (0,0,0): warp 1: lanes 0..15 wait at a "
                   "warp_gather that lanes 16..31 never reach (they wait at barrier 1)");
  mode = 2;
  rc = klaunch(&k, "gather_missing", (unsigned[]){1, 1, 1}, (unsigned[]){64, 1, 1}, 0, "pi",
               args);
  cr_assert_eq(rc, AT_DEVICE);
  cr_assert(strstr(at_last_error(), "warp 1: lanes disagree on the size of a warp_gather"),
            "%s", at_last_error());
  kfree(&k);
}

Test(emu, kernel_fail_aborts_the_launch, .timeout = 30)
{
  struct kmod k;
  kload(&k, "faults.cpp", "host", 4);
  int *out = dev(&k, 6 * 64 * sizeof *out);
  memset(out, 0, 6 * 64 * sizeof *out);
  void *args[] = {&out};
  for (int round = 0; round < 3; round++) { /* abandoned fibers are reused cleanly */
    int rc = klaunch(&k, "kfail", (unsigned[]){6, 1, 1}, (unsigned[]){64, 1, 1}, 0, "p", args);
    cr_assert_eq(rc, AT_DEVICE);
    cr_assert_str_eq(at_last_error(), "block (2,0,0), thread (5,0,0): index 99 out of bounds");
    for (int i = 0; i < 2 * 64; i++)
      cr_assert_eq(out[i], 1, "blocks 0 and 1 ran to their end (thread %d)", i);
  }
  int *o2 = dev(&k, 64 * sizeof *o2);
  memset(o2, 0, 64 * sizeof *o2);
  int before = 1;
  void *dargs[] = {&o2, &before};
  cr_assert_eq(klaunch(&k, "diverge", (unsigned[]){1, 1, 1}, (unsigned[]){64, 1, 1}, 0, "pi",
                       dargs), AT_OK, "%s", at_last_error());
  for (int i = 0; i < 64; i++)
    cr_assert_eq(o2[i], 1);
  kfree(&k);
}

/* `--sanitize`: the variant built with ASan and UBSan. It can only be loaded into a
 * process that has the ASan runtime (the Sanitize build); elsewhere only its compile is
 * checked. */
Test(emu, sanitized_variant, .timeout = 30)
{
  static const char *const flags[] = {"-fsanitize=address,undefined", NULL};
  struct kmod k;
  kload_flags(&k, "kernels.cpp", "host", 2, flags, EMU_ASAN);
  if (EMU_ASAN) {
    int n = 300;
    float alpha = 3.0f, beta = 1.0f;
    float *y = dev(&k, (size_t)n * sizeof *y), *x = dev(&k, (size_t)n * sizeof *x);
    for (int i = 0; i < n; i++)
      x[i] = (float)i, y[i] = 1.0f;
    void *args[] = {&y, &x, &alpha, &beta, &n};
    int rc = klaunch(&k, "scale", (unsigned[]){3, 1, 1}, (unsigned[]){128, 1, 1}, 0, "ppffi",
                     args);
    cr_assert_eq(rc, AT_OK, "%s", at_last_error());
    for (int i = 0; i < n; i++)
      cr_assert_eq(y[i], 3.0f * (float)i + 1.0f, "y[%d] = %g", i, y[i]);
  }
  kfree(&k);
}

/* ---- the fiber layer alone ---- */

static struct emu_fiber fmain, fa;
static int trace[8], ntrace;

static void ping(void *arg)
{
  trace[ntrace++] = *(int *)arg;
  emu_fiber_switch(&fa, &fmain);
  trace[ntrace++] = *(int *)arg + 1;
  emu_fiber_exit(&fa, &fmain);
}

Test(emu, fiber_switch_both_kinds, .timeout = 30)
{
  for (int kind = EMU_HAVE_SWITCH_ASM ? 0 : 1; kind <= 1; kind++) {
    int v = 10 * (kind + 1);
    ntrace = 0;
    cr_assert_eq(emu_fiber_init_thread(&fmain, (enum emu_switch)kind), AT_OK);
    cr_assert_eq(emu_fiber_init(&fa, (enum emu_switch)kind, 0), AT_OK);
    emu_fiber_prepare(&fa, ping, &v);
    emu_fiber_switch(&fmain, &fa);
    trace[ntrace++] = 1;
    emu_fiber_switch(&fmain, &fa);
    cr_assert_eq(ntrace, 3);
    cr_assert_eq(trace[0], v);
    cr_assert_eq(trace[1], 1);
    cr_assert_eq(trace[2], v + 1);
    emu_fiber_release(&fa);
    emu_fiber_release(&fmain);
  }
}
