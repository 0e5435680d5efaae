/*
 * bench_check.c - the host's share of measuring a GPU-sized problem (docs/measure.md): the
 * time of the GEMM op's data, reference and bound (gemm_data_init) and of one check of a
 * result (gemm_check), with the sampled reference the op chooses and, as the baseline in
 * the same run, with the full reference (stride 1) on a problem 64 times smaller
 * (M / 4 x N / 4 x K / 4), where the full one is still affordable: the per-MAC ratio is
 * what sampling saves. Then the attention op's data and reference for a 64k-token bf16
 * prefill of 32 heads of 128 at seqlen 1024 (attn_data_init, sampled).
 *
 *   bench_check [M N K]     (default 8192 8192 8192, bf16 NT)
 *
 * CPU figures of this machine; never run by the tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/status.h"
#include "tuner/ops/op_attn.h"
#include "tuner/ops/op_gemm.h"

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* init and one check of (m, n, k) with `stride` (0: the op's choice); the seconds of each */
static int run(int64_t m, int64_t n, int64_t k, int64_t stride, double *init_s, double *check_s,
               int64_t *used)
{
  struct gemm_problem p = {.dtype = GEMM_BF16, .tb = 1, .m = m, .n = n, .k = k,
                           .alpha = 1.0f, .beta = 0.0f};
  struct gemm_data d;
  double t0 = now_s();
  if (gemm_data_init_stride(&d, &p, 1, stride) != AT_OK) {
    fprintf(stderr, "bench_check: %s\n", at_last_error());
    return 1;
  }
  double t1 = now_s();
  size_t bytes = gemm_c_elems(&d.p) * 2;
  void *c = malloc(bytes);
  if (!c) {
    gemm_data_release(&d);
    return 1;
  }
  memcpy(c, d.c0, bytes); /* a wrong result (NaN where beta = 0): every element is looked at */
  int64_t bad = 0;
  char msg[200];
  gemm_check(&d, c, &bad, msg, sizeof msg);
  *check_s = now_s() - t1;
  *init_s = t1 - t0;
  *used = d.stride;
  free(c);
  gemm_data_release(&d);
  return 0;
}

int main(int argc, char **argv)
{
  int64_t m = 8192, n = 8192, k = 8192;
  if (argc == 4) {
    m = atoll(argv[1]), n = atoll(argv[2]), k = atoll(argv[3]);
  } else if (argc != 1) {
    fprintf(stderr, "usage: bench_check [M N K]\n");
    return 2;
  }
  double is, cs, fi, fc;
  int64_t s, fs;
  if (run(m, n, k, 0, &is, &cs, &s) || run(m / 4, n / 4, k / 4, 1, &fi, &fc, &fs))
    return 1;
  const double macs = (double)m * (double)n * (double)k, small = macs / 64.0;
  printf("gemm bf16 NT %lldx%lldx%lld, sampled (stride %lld): data + reference + bound "
         "%.2f s, one check %.2f s\n", (long long)m, (long long)n, (long long)k, (long long)s,
         is, cs);
  printf("baseline %lldx%lldx%lld, full reference (stride 1): %.2f s, one check %.2f s\n",
         (long long)(m / 4), (long long)(n / 4), (long long)(k / 4), fi, fc);
  printf("reference time per problem MAC: full / sampled = %.1fx\n",
         (fi / small) / (is / macs));
  struct attn_problem a = {.dtype = GEMM_BF16, .batch = 64, .heads = 32, .hkv = 32,
                           .sq = 1024, .sk = 1024, .d = 128};
  struct attn_data ad;
  double t0 = now_s();
  if (attn_data_init(&ad, &a, 1) != AT_OK) {
    fprintf(stderr, "bench_check: %s\n", at_last_error());
    return 1;
  }
  printf("attention bf16 prefill 64 x 32 heads x 1024 x 128, sampled (stride %lld): data + "
         "reference %.2f s\n", (long long)ad.stride, now_s() - t0);
  attn_data_release(&ad);
  return 0;
}
