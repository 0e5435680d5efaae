/*
 * test_gemm_op.c - the GEMM op (tuner/ops/op_gemm.c) and running one GEMM kernel
 * (tuner/ops/gemm_run.c): names and sizes, the deterministic data, the f64 reference
 * against a naive computation written here independently (its own f16/bf16 decoding),
 * the tolerance catching one wrong element, NaN and a write into C's padding, and
 * naive kernels in every dtype and layout run on the host device through gemm_verify,
 * with deliberately broken ones (reading C when beta == 0, writing the padding,
 * dropping one product term) that the check must reject.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/compile/compile.h"
#include "tuner/ops/gemm_run.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/op_gemm.h"
#include "base/status.h"

/* ---- an independent reading of the storage ---- */

static double half_value(uint16_t h)
{
  int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY)
                                              : ldexp(1024 + m, e - 25);
  return h & 0x8000 ? -v : v;
}

static double value(enum gemm_dtype d, const void *base, size_t i)
{
  if (d == GEMM_F32)
    return ((const float *)base)[i];
  uint16_t h = ((const uint16_t *)base)[i];
  if (d == GEMM_F16)
    return half_value(h);
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* C = alpha A B + beta C0 by the book, from the stored values. */
static double naive(const struct gemm_data *d, int64_t i, int64_t j)
{
  const struct gemm_problem *p = &d->p;
  double acc = 0;
  for (int64_t k = 0; k < p->k; k++) {
    double a = value(p->dtype, d->a, (size_t)(p->ta ? k * p->lda + i : i * p->lda + k));
    double b = value(p->dtype, d->b, (size_t)(p->tb ? j * p->ldb + k : k * p->ldb + j));
    acc += a * b;
  }
  double c = p->beta != 0 ? p->beta * value(p->dtype, d->c0, (size_t)(i * p->ldc + j)) : 0;
  return p->alpha * acc + c;
}

static const enum gemm_dtype dtypes[] = {GEMM_F32, GEMM_F16, GEMM_BF16};
static const char *const layouts[] = {"NN", "NT", "TN", "TT"};

static struct gemm_problem problem(enum gemm_dtype dt, const char *layout, int64_t m,
                                   int64_t n, int64_t k, int64_t pad)
{
  struct gemm_problem p = {.dtype = dt, .m = m, .n = n, .k = k, .alpha = 1.5f,
                           .beta = -0.5f};
  cr_assert_eq(gemm_parse_layout(layout, &p.ta, &p.tb), AT_OK);
  if (pad) {
    gemm_problem_resolve(&p);
    p.lda += pad;
    p.ldb += pad + 1;
    p.ldc += pad + 2;
  }
  return p;
}

/* Store a double into element i of C in the dtype, rounded to the nearest value (a
 * search, independent of the conversions under test). */
static void put(enum gemm_dtype d, void *c, size_t i, double v)
{
  if (d == GEMM_F32) {
    ((float *)c)[i] = (float)v;
    return;
  }
  uint16_t best = 0;
  double best_err = INFINITY;
  for (uint32_t h = 0; h < 65536; h++) {
    uint16_t b = (uint16_t)h;
    double x = d == GEMM_F16 ? half_value(b) : value(GEMM_BF16, &b, 0);
    if (fabs(x - v) < best_err) {
      best_err = fabs(x - v);
      best = b;
    }
  }
  ((uint16_t *)c)[i] = best;
}

/* ---- names and sizes ---- */

Test(gemm_op, names_sizes_and_counts)
{
  enum gemm_dtype d;
  cr_assert_eq(gemm_parse_dtype("bf16", &d), AT_OK);
  cr_assert_eq(d, GEMM_BF16);
  cr_assert_eq(gemm_parse_dtype("f64", &d), AT_USAGE);
  cr_assert(strstr(at_last_error(), "'f64'"), "%s", at_last_error());
  int ta = -1, tb = -1;
  cr_assert_eq(gemm_parse_layout("TN", &ta, &tb), AT_OK);
  cr_assert(ta == 1 && tb == 0);
  cr_assert_eq(gemm_parse_layout("NX", &ta, &tb), AT_USAGE);
  cr_assert_str_eq(gemm_dtype_name(GEMM_F16), "f16");
  cr_assert_eq(gemm_dtype_size(GEMM_BF16), 2);

  struct gemm_problem p = {.dtype = GEMM_F16, .ta = 1, .tb = 0, .m = 3, .n = 5, .k = 7,
                           .alpha = 1, .beta = 0};
  gemm_problem_resolve(&p);
  cr_assert(p.lda == 3 && p.ldb == 5 && p.ldc == 5);
  cr_assert_eq(gemm_a_elems(&p), 7 * 3);
  cr_assert_eq(gemm_b_elems(&p), 7 * 5);
  cr_assert_eq(gemm_c_elems(&p), 3 * 5);
  cr_assert_eq(gemm_flops(&p), 2.0 * 3 * 5 * 7);
  cr_assert_eq(gemm_bytes(&p), 2.0 * (3 * 7 + 7 * 5 + 3 * 5));
  p.beta = 1;
  cr_assert_eq(gemm_flops(&p), 2.0 * 3 * 5 * 7 + 2.0 * 15);
  cr_assert_eq(gemm_bytes(&p), 2.0 * (3 * 7 + 7 * 5 + 2 * 3 * 5));
  p = (struct gemm_problem){.dtype = GEMM_F32, .ta = 0, .tb = 1, .m = 4, .n = 6, .k = 9,
                            .ldc = 8};
  gemm_problem_resolve(&p);
  cr_assert(p.lda == 9 && p.ldb == 9 && p.ldc == 8);
  cr_assert_eq(gemm_c_elems(&p), 4 * 8);

  struct gemm_data data;
  p.lda = 3; /* below K */
  cr_assert_eq(gemm_data_init(&data, &p, 1), AT_USAGE);
  cr_assert(strstr(at_last_error(), "leading dimension"), "%s", at_last_error());
  gemm_data_release(&data);
  p.lda = 0;
  p.m = 0;
  cr_assert_eq(gemm_data_init(&data, &p, 1), AT_USAGE);
  gemm_data_release(&data);
}

/* ---- data and reference ---- */

Test(gemm_op, reference_matches_a_naive_product_in_every_dtype_and_layout)
{
  for (int di = 0; di < 3; di++)
    for (int li = 0; li < 4; li++)
      for (int pad = 0; pad < 2; pad++) {
        struct gemm_problem p = problem(dtypes[di], layouts[li], 5, 7, 11, pad * 3);
        struct gemm_data d;
        cr_assert_eq(gemm_data_init(&d, &p, 42), AT_OK, "%s", at_last_error());
        for (int64_t i = 0; i < p.m; i++)
          for (int64_t j = 0; j < p.n; j++)
            cr_assert_eq(d.ref[i * p.n + j], naive(&d, i, j), "%s %s [%lld][%lld]",
                         gemm_dtype_name(dtypes[di]), layouts[li], (long long)i,
                         (long long)j);
        /* values are small multiples of 1/4, padding of A is NaN */
        int nonzero = 0;
        for (size_t e = 0; e < gemm_a_elems(&d.p); e++) {
          int64_t col = (int64_t)e % d.p.lda, width = d.p.ta ? d.p.m : d.p.k;
          double v = value(p.dtype, d.a, e);
          if (col >= width) {
            cr_assert(isnan(v), "A padding element %zu is %g", e, v);
            continue;
          }
          cr_assert(fabs(v) <= 1 && v * 4 == floor(v * 4), "A[%zu] = %g", e, v);
          nonzero += v != 0;
        }
        cr_assert_gt(nonzero, 0);
        gemm_data_release(&d);
      }
}

Test(gemm_op, data_are_deterministic_and_depend_on_the_seed)
{
  struct gemm_problem p = problem(GEMM_F16, "NT", 9, 10, 11, 0);
  struct gemm_data x, y, z;
  cr_assert_eq(gemm_data_init(&x, &p, 7), AT_OK);
  cr_assert_eq(gemm_data_init(&y, &p, 7), AT_OK);
  cr_assert_eq(gemm_data_init(&z, &p, 8), AT_OK);
  size_t bytes = gemm_a_elems(&x.p) * 2;
  cr_assert_eq(memcmp(x.a, y.a, bytes), 0);
  cr_assert_neq(memcmp(x.a, z.a, bytes), 0);
  cr_assert_eq(memcmp(x.ref, y.ref, (size_t)(9 * 10) * sizeof(double)), 0);
  gemm_data_release(&x);
  gemm_data_release(&y);
  gemm_data_release(&z);
  gemm_data_release(NULL);
}

Test(gemm_op, beta_zero_poisons_c_and_ignores_it)
{
  struct gemm_problem p = problem(GEMM_BF16, "TT", 4, 6, 8, 2);
  p.beta = 0;
  struct gemm_data d;
  cr_assert_eq(gemm_data_init(&d, &p, 3), AT_OK);
  for (int64_t i = 0; i < p.m; i++)
    for (int64_t j = 0; j < d.p.ldc; j++) {
      double v = value(p.dtype, d.c0, (size_t)(i * d.p.ldc + j));
      cr_assert(j < p.n ? isnan(v) : v == 99.0, "C0[%lld][%lld] = %g", (long long)i,
                (long long)j, v);
    }
  for (int64_t i = 0; i < p.m * p.n; i++)
    cr_assert(!isnan(d.ref[i]));
  gemm_data_release(&d);
}

/* ---- the check ---- */

/* C holding the reference exactly (padding copied from C0). */
static void *exact_c(const struct gemm_data *d)
{
  size_t es = gemm_dtype_size(d->p.dtype);
  void *c = malloc(gemm_c_elems(&d->p) * es);
  cr_assert_not_null(c);
  memcpy(c, d->c0, gemm_c_elems(&d->p) * es);
  for (int64_t i = 0; i < d->p.m; i++)
    for (int64_t j = 0; j < d->p.n; j++)
      put(d->p.dtype, c, (size_t)(i * d->p.ldc + j), d->ref[i * d->p.n + j]);
  return c;
}

Test(gemm_op, check_catches_one_wrong_element_nan_and_padding)
{
  for (int di = 0; di < 3; di++) {
    enum gemm_dtype dt = dtypes[di];
    struct gemm_problem p = problem(dt, "NN", 6, 9, 16, 3);
    struct gemm_data d;
    cr_assert_eq(gemm_data_init(&d, &p, 11), AT_OK);
    void *c = exact_c(&d);
    int64_t bad = -1;
    char msg[256];
    cr_assert_eq(gemm_check(&d, c, &bad, msg, sizeof msg), AT_OK);
    cr_assert_eq(bad, 0, "%s: %s", gemm_dtype_name(dt), msg);
    cr_assert_str_eq(msg, "");

    /* one element off by one product term's worth (alpha * 1/4 * 1/4) */
    size_t at = (size_t)(2 * d.p.ldc + 5);
    double was = d.ref[2 * p.n + 5], wrong = was + 1.5 * 0.0625 * 8;
    put(dt, c, at, wrong);
    cr_assert_eq(gemm_check(&d, c, &bad, msg, sizeof msg), AT_OK);
    cr_assert_eq(bad, 1, "%s: wrong element not caught", gemm_dtype_name(dt));
    cr_assert(strstr(msg, "C[2][5] = "), "%s", msg);
    cr_assert(strstr(msg, "tolerance"), "%s", msg);
    put(dt, c, at, was);

    /* NaN */
    if (dt == GEMM_F32)
      ((float *)c)[at] = NAN;
    else
      ((uint16_t *)c)[at] = dt == GEMM_F16 ? 0x7e00 : 0x7fc0;
    cr_assert_eq(gemm_check(&d, c, &bad, msg, sizeof msg), AT_OK);
    cr_assert_eq(bad, 1, "%s: NaN not caught", gemm_dtype_name(dt));
    put(dt, c, at, was);

    /* a write into the padding (column n of row 1), even of the right-looking value */
    put(dt, c, (size_t)(1 * d.p.ldc + p.n), 0.0);
    cr_assert_eq(gemm_check(&d, c, &bad, msg, sizeof msg), AT_OK);
    cr_assert_eq(bad, 1);
    cr_assert(strstr(msg, "padding"), "%s", msg);
    free(c);
    gemm_data_release(&d);
  }
  int64_t bad;
  cr_assert_eq(gemm_check(NULL, NULL, &bad, NULL, 0), AT_USAGE);
}

Test(gemm_op, tolerance_scales_with_the_products)
{
  /* f16: the reference's nearest f16 passes; one ulp further fails for a large value */
  struct gemm_problem p = problem(GEMM_F16, "NN", 1, 1, 1, 0);
  p.alpha = 1;
  p.beta = 0;
  struct gemm_data d;
  cr_assert_eq(gemm_data_init(&d, &p, 5), AT_OK);
  d.ref[0] = 1000.3; /* pretend: nearest f16 is 1000.5 (ulp 0.5 at 1000) */
  uint16_t c = 0x63d1; /* 1000.5 */
  cr_assert_eq(half_value(c), 1000.5);
  int64_t bad;
  char msg[200];
  /* |a b| is at most 1/16 here, so the bound is tiny: 1000.5 is far from 1000.3 */
  cr_assert_eq(gemm_check(&d, &c, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1, "%s", msg);
  gemm_data_release(&d);
}

/* Above GEMM_REF_FULL_MACS one element in `stride` has a reference (the GPU problems: a
 * full f64 reference of 8192^3 on the host took the whole first H200 call). The sampled
 * elements cover every row and every column once per stride, hold the full reference's
 * values, and are checked as before; the others are checked for being finite. */
Test(gemm_op, sampled_reference_covers_rows_and_columns_and_still_catches)
{
  struct gemm_problem p = problem(GEMM_BF16, "NT", 37, 29, 40, 3);
  struct gemm_data full, d;
  cr_assert_eq(gemm_data_init(&full, &p, 5), AT_OK);
  cr_assert_eq(full.stride, 1);
  cr_assert_eq(gemm_data_init_stride(&d, &p, 5, 8), AT_OK);
  cr_assert_eq(d.stride, 8);
  for (int64_t i = 0; i < p.m; i++)
    for (int64_t j = 0; j < p.n; j++) {
      size_t e = (size_t)(i * p.n + j);
      if (gemm_checked(&d, i, j)) {
        cr_assert_eq(d.ref[e], full.ref[e], "[%lld][%lld]", (long long)i, (long long)j);
        cr_assert_eq(d.mag[e], full.mag[e]);
      } else {
        cr_assert(isnan(d.ref[e]));
      }
    }
  /* one checked element in every 8 consecutive rows of a column, and columns of a row */
  for (int64_t j = 0; j < p.n; j++)
    for (int64_t i0 = 0; i0 + 8 <= p.m; i0++) {
      int n = 0;
      for (int64_t i = i0; i < i0 + 8; i++)
        n += gemm_checked(&d, i, j);
      cr_assert_eq(n, 1, "column %lld rows %lld..", (long long)j, (long long)i0);
    }
  for (int64_t i = 0; i < p.m; i++)
    for (int64_t j0 = 0; j0 + 8 <= p.n; j0++) {
      int n = 0;
      for (int64_t j = j0; j < j0 + 8; j++)
        n += gemm_checked(&d, i, j);
      cr_assert_eq(n, 1, "row %lld columns %lld..", (long long)i, (long long)j0);
    }
  void *c = exact_c(&full);
  int64_t bad = -1;
  char msg[256];
  cr_assert_eq(gemm_check(&d, c, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 0, "%s", msg);
  /* a wrong checked element, a NaN where nothing is checked: both caught */
  int64_t ci = 3, cj = 0;
  while (!gemm_checked(&d, ci, cj))
    cj++;
  size_t at = (size_t)(ci * d.p.ldc + cj);
  double was = full.ref[ci * p.n + cj];
  put(p.dtype, c, at, was + 1.5);
  cr_assert_eq(gemm_check(&d, c, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1, "%s", msg);
  put(p.dtype, c, at, was);
  at = (size_t)(ci * d.p.ldc + cj + 1);
  ((uint16_t *)c)[at] = 0x7fc0;
  cr_assert_eq(gemm_check(&d, c, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1, "%s", msg);
  cr_assert(strstr(msg, "finite"), "%s", msg);
  free(c);
  struct gemm_data x;
  cr_assert_eq(gemm_data_init_stride(&x, &p, 5, 6), AT_USAGE);
  gemm_data_release(&d);
  gemm_data_release(&full);
}

/* A C of a million elements is checked over the CPUs, row by row (per variant on a GPU):
 * every wrong element counted whatever part it falls in, the first one named. */
Test(gemm_op, big_check_counts_every_part_and_names_the_first)
{
  struct gemm_problem p = problem(GEMM_F16, "NN", 1024, 1000, 2, 24);
  struct gemm_data d;
  cr_assert_eq(gemm_data_init(&d, &p, 9), AT_OK);
  /* the library's store, not exact_c's search per element (a million of them): K = 2
   * keeps every value exact in f16 */
  void *c = malloc(gemm_c_elems(&d.p) * 2);
  cr_assert_not_null(c);
  memcpy(c, d.c0, gemm_c_elems(&d.p) * 2);
  for (int64_t i = 0; i < p.m; i++)
    for (int64_t j = 0; j < p.n; j++)
      gemm_elem_store(p.dtype, c, (size_t)(i * d.p.ldc + j), (float)d.ref[i * p.n + j]);
  int64_t bad = -1;
  char msg[256];
  cr_assert_eq(gemm_check(&d, c, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 0, "%s", msg);
  const int64_t rows[] = {1000, 3, 517, 517};
  const int64_t cols[] = {7, 900, 1, 2};
  for (int e = 0; e < 4; e++)
    put(p.dtype, c, (size_t)(rows[e] * d.p.ldc + cols[e]),
        d.ref[rows[e] * p.n + cols[e]] + 1.5);
  put(p.dtype, c, (size_t)(1023 * d.p.ldc + p.n + 1), 0.0); /* the last row's padding */
  cr_assert_eq(gemm_check(&d, c, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 5, "%s", msg);
  cr_assert(strstr(msg, "C[3][900] = "), "%s", msg);
  free(c);
  gemm_data_release(&d);
}

/* ---- kernels on the host device ---- */

static const char kernels[] =
    "#include \"at_common.h\"\n"
    "template <typename T, int TA, int TB, int BUG>\n"
    "__device__ void naive(const T *A, const T *B, T *C, int M, int N, int K, int lda,\n"
    "                      int ldb, int ldc, float alpha, float beta)\n"
    "{\n"
    "  int j = at_block_idx_x() * 16 + at_thread_idx_x();\n"
    "  int i = at_block_idx_y() * 16 + at_thread_idx_y();\n"
    "  if (i >= M || j >= N) return;\n"
    "  float acc = 0;\n"
    "  int kend = BUG == 3 && i == M - 1 && j == N - 1 ? K - 1 : K;\n"
    "  for (int k = 0; k < kend; k++)\n"
    "    acc += at_to_float(TA ? A[(long)k * lda + i] : A[(long)i * lda + k]) *\n"
    "           at_to_float(TB ? B[(long)j * ldb + k] : B[(long)k * ldb + j]);\n"
    "  float out = alpha * acc;\n"
    "  if (beta != 0.0f || BUG == 1) out += beta * at_to_float(C[(long)i * ldc + j]);\n"
    "  C[(long)i * ldc + j] = at_from_float<T>(out);\n"
    "  if (BUG == 2 && j == N - 1 && ldc > N) C[(long)i * ldc + N] = at_from_float<T>(0.f);\n"
    "}\n"
    "#define K1(T, n, ta, tb, bug) extern \"C\" __global__ void n(const T *A, const T *B,\\\n"
    "  T *C, int M, int N, int K, int lda, int ldb, int ldc, float alpha, float beta)\\\n"
    "  { naive<T, ta, tb, bug>(A, B, C, M, N, K, lda, ldb, ldc, alpha, beta); }\n"
    "#define K4(T, n, bug) K1(T, n##_NN_##bug, 0, 0, bug) K1(T, n##_NT_##bug, 0, 1, bug)\\\n"
    "  K1(T, n##_TN_##bug, 1, 0, bug) K1(T, n##_TT_##bug, 1, 1, bug)\n"
    "#define K12(bug) K4(float, f32, bug) K4(at_half, f16, bug) K4(at_bfloat16, bf16, bug)\n"
    "K12(0) K12(1) K12(2) K12(3)\n";

struct host {
  struct meas_ctx *ctx;
  meas_module mod;
};

static void host_open(struct host *h)
{
  char why[256] = "";
  if (!cc_host.available(why, sizeof why))
    cr_skip_test("no host C++ compiler: %s", why);
  const char *const inc[] = {AT_SOURCE_DIR "/templates/common", NULL};
  struct cc_request req = {.source = kernels, .name = "naive.cpp", .arch = "host",
                           .include_dirs = inc};
  struct cc_result res;
  cr_assert_eq(cc_host.compile(&req, &res), AT_OK, "%s", at_last_error());
  cr_assert_eq(res.status, CC_OK, "%s", res.log ? res.log : "");
  meas_host_set_jobs(2);
  cr_assert_eq(meas_host.open(0, &h->ctx), AT_OK, "%s", at_last_error());
  cr_assert_eq(meas_host.load(h->ctx, res.code, res.code_size, &h->mod), AT_OK, "%s",
               at_last_error());
  cc_result_release(&res);
}

static void host_close(struct host *h)
{
  meas_host.unload(h->ctx, h->mod);
  meas_host.close(h->ctx);
}

/* The product term bug 3 drops, set by run(). */
static double dropped_term;

/* Run the naive kernel `bug` for p; OUT: bad, msg. */
static int run(struct host *h, const struct gemm_problem *p, int bug, int64_t *bad,
               char *msg, size_t msg_len)
{
  char name[64];
  snprintf(name, sizeof name, "%s_%c%c_%d", gemm_dtype_name(p->dtype), p->ta ? 'T' : 'N',
           p->tb ? 'T' : 'N', bug);
  meas_kernel k;
  cr_assert_eq(meas_host.kernel(h->ctx, h->mod, name, &k), AT_OK, "%s", at_last_error());
  struct gemm_data d;
  cr_assert_eq(gemm_data_init(&d, p, 99), AT_OK, "%s", at_last_error());
  {
    const struct gemm_problem *q = &d.p;
    int64_t i = q->m - 1, j = q->n - 1, kk = q->k - 1;
    dropped_term = value(q->dtype, d.a, (size_t)(q->ta ? kk * q->lda + i : i * q->lda + kk)) *
                   value(q->dtype, d.b, (size_t)(q->tb ? j * q->ldb + kk : kk * q->ldb + j));
  }
  struct gemm_buffers buf;
  cr_assert_eq(gemm_buffers_init(&meas_host, h->ctx, &d, &buf), AT_OK, "%s", at_last_error());
  struct gen_launch l = {.threads = {16, 16, 1},
                         .grid = {(p->n + 15) / 16, (p->m + 15) / 16, 1}};
  int rc = gemm_verify(&meas_host, h->ctx, k, &l, &d, &buf, bad, msg, msg_len);
  if (rc == AT_OK && bug == 0) { /* a second run: C is reset from C0 each time */
    int64_t again = -1;
    rc = gemm_verify(&meas_host, h->ctx, k, &l, &d, &buf, &again, NULL, 0);
    cr_assert_eq(again, *bad);
  }
  gemm_buffers_release(&meas_host, h->ctx, &buf);
  gemm_data_release(&d);
  return rc;
}

Test(gemm_op, naive_kernels_pass_in_every_dtype_and_layout, .timeout = 120)
{
  struct host h;
  host_open(&h);
  const int64_t shapes[][4] = {{1, 1, 1, 0}, {7, 13, 29, 0}, {17, 5, 33, 3}};
  for (int di = 0; di < 3; di++)
    for (int li = 0; li < 4; li++)
      for (int s = 0; s < 3; s++) {
        struct gemm_problem p = problem(dtypes[di], layouts[li], shapes[s][0], shapes[s][1],
                                        shapes[s][2], shapes[s][3]);
        for (int beta0 = 0; beta0 < 2; beta0++) {
          p.beta = beta0 ? 0.0f : -0.5f;
          int64_t bad = -1;
          char msg[256];
          int rc = run(&h, &p, 0, &bad, msg, sizeof msg);
          cr_assert_eq(rc, AT_OK, "%s", at_last_error());
          cr_assert_eq(bad, 0, "%s %s shape %d beta %g: %s", gemm_dtype_name(dtypes[di]),
                       layouts[li], s, p.beta, msg);
        }
      }
  host_close(&h);
}

Test(gemm_op, broken_kernels_are_caught, .timeout = 120)
{
  struct host h;
  host_open(&h);
  int caught = 0;
  for (int di = 0; di < 3; di++)
    for (int li = 0; li < 4; li++) {
      struct gemm_problem p = problem(dtypes[di], layouts[li], 9, 10, 24, 2);
      int64_t bad = 0;
      char msg[256];
      const char *dn = gemm_dtype_name(dtypes[di]);
      /* reads C although beta == 0: NaN everywhere */
      p.beta = 0;
      cr_assert_eq(run(&h, &p, 1, &bad, msg, sizeof msg), AT_OK);
      cr_assert_eq(bad, 9 * 10, "%s %s: %lld", dn, layouts[li], (long long)bad);
      p.beta = -0.5f;
      /* writes the padding: one element per row */
      cr_assert_eq(run(&h, &p, 2, &bad, msg, sizeof msg), AT_OK);
      cr_assert_eq(bad, 9, "%s %s: %s", dn, layouts[li], msg);
      cr_assert(strstr(msg, "padding"), "%s", msg);
      /* drops one product term of the last element (bf16 output may hide a small one) */
      cr_assert_eq(run(&h, &p, 3, &bad, msg, sizeof msg), AT_OK);
      if (dtypes[di] != GEMM_BF16)
        cr_assert_eq(bad, dropped_term != 0, "%s %s: term %g: %s", dn, layouts[li],
                     dropped_term, msg);
      cr_assert_leq(bad, 1);
      caught += (int)bad;
    }
  cr_assert_geq(caught, 4, "the dropped term was caught only %d times", caught);
  host_close(&h);
}

/* gemm_fill cuts a large fill over the CPUs, each part from its own offset of the stream:
 * the values must be those of one loop, padding included, and the stream must end where
 * the loop's does (a part that jumps to the wrong offset repeats or skips values). */
Test(gemm_op, parallel_fill_writes_the_values_of_one_loop)
{
  const int64_t rows = 2049, cols = 2047, ld = 2050; /* 4.2M elements: cut into parts */
  uint16_t *got = malloc((size_t)(rows * ld) * 2), *want = malloc((size_t)(rows * ld) * 2);
  cr_assert(got && want);
  uint64_t s1 = 12345, s2 = 12345;
  gemm_fill(GEMM_BF16, got, rows, cols, ld, 7.0f, &s1);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < ld; c++)
      gemm_elem_store(GEMM_BF16, want, (size_t)(r * ld + c),
                      c < cols ? gemm_small_value(&s2) : 7.0f);
  cr_assert_eq(s1, s2, "the stream ends elsewhere");
  size_t differ = 0, first = 0;
  for (size_t i = (size_t)(rows * ld); i-- > 0;)
    if (got[i] != want[i])
      differ++, first = i;
  cr_assert_eq(differ, 0, "%zu elements differ, the first at row %zu column %zu", differ,
               first / (size_t)ld, first % (size_t)ld);
  free(got);
  free(want);
}
