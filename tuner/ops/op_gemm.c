/*
 * op_gemm.c - the GEMM op's behaviour (op_gemm.h): parsing its dtype and layout names,
 * the storage each operand needs, FLOP and byte counts, the deterministic operands and
 * the f64 reference, and the dtype-aware check of a result, padding included.
 *
 * Why the data are exact. Every value of A, B and C0 is an integer in [-4, 4] times 1/4
 * (so in [-1, 1], steps of 0.25): exact in f32, f16 and bf16 alike (at most 3 significant
 * bits). A product a*b is a multiple of 1/16 no larger than 1, so any partial sum of K
 * products is a multiple of 1/16 below K in magnitude, exact in f32 (24 bits) for every
 * K < 2^20 whatever the order of accumulation; alpha = 1.5 and beta = -0.5 (what the
 * sweeps use) keep it exact. A correct kernel therefore differs from the reference only
 * by the final rounding to the output type (none for f32), while the tolerance (below)
 * is the honest bound for arbitrary data, so a wrong element of one product term stands
 * far outside it in f32 and f16.
 *
 * The tolerance of element (i, j), as op_gemm.h states it:
 *   tol = 2 * eps * (|alpha| * sum_k |a_ik b_kj| + |beta c0_ij|) + floor
 *   eps = u_out + K * 2^-24     (u_out: the output's unit roundoff: f32 2^-24 doubled
 *                                to 2^-23 for the alpha/beta step, f16 2^-11, bf16 2^-8;
 *                                K * 2^-24 bounds f32 accumulation in any order)
 *   floor = the output type's smallest subnormal (the absolute error of rounding there).
 *
 * Poison. Elements a kernel must never use are poisoned so that using one shows: the
 * padding of A and B (columns between the logical width and lda/ldb) holds NaN, the
 * padding of C (columns n..ldc) holds 99.0 and must come back bit for bit, and with
 * beta == 0 the m x n part of C0 is NaN (C must not be read).
 */
#include "tuner/ops/op_gemm.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/device.h"
#include "base/par.h"
#include "base/status.h"

#define AT_EMU_ONLY 1
#include "templates/common/at_types.h"
#include "base/num.h"

/* The value C's padding holds: exact in every dtype. */
#define PAD_C 99.0f

int gemm_parse_dtype(const char *s, enum gemm_dtype *out)
{
  static const char *const names[] = {"f32", "f16", "bf16"};
  for (int i = 0; s && i < 3; i++)
    if (strcmp(s, names[i]) == 0) {
      if (out)
        *out = (enum gemm_dtype)i;
      return AT_OK;
    }
  return at_error(AT_USAGE, "unknown gemm dtype '%.40s' (expected f16, bf16 or f32)",
                  s ? s : "");
}

int gemm_parse_layout(const char *s, int *ta, int *tb)
{
  if (s && strlen(s) == 2 && (s[0] == 'N' || s[0] == 'T') && (s[1] == 'N' || s[1] == 'T')) {
    if (ta)
      *ta = s[0] == 'T';
    if (tb)
      *tb = s[1] == 'T';
    return AT_OK;
  }
  return at_error(AT_USAGE, "unknown gemm layout '%.40s' (expected NN, NT, TN or TT)",
                  s ? s : "");
}

const char *gemm_dtype_name(enum gemm_dtype d)
{
  switch (d) {
  case GEMM_F32: return "f32";
  case GEMM_F16: return "f16";
  case GEMM_BF16: return "bf16";
  }
  return "?";
}

size_t gemm_dtype_size(enum gemm_dtype d)
{
  return d == GEMM_F32 ? 4 : 2;
}

void gemm_problem_resolve(struct gemm_problem *p)
{
  if (!p)
    return;
  if (p->lda == 0)
    p->lda = p->ta ? p->m : p->k;
  if (p->ldb == 0)
    p->ldb = p->tb ? p->k : p->n;
  if (p->ldc == 0)
    p->ldc = p->n;
}

/* Rows and logical columns of each operand as stored. */
static void a_shape(const struct gemm_problem *p, int64_t *rows, int64_t *cols)
{
  *rows = p->ta ? p->k : p->m;
  *cols = p->ta ? p->m : p->k;
}
static void b_shape(const struct gemm_problem *p, int64_t *rows, int64_t *cols)
{
  *rows = p->tb ? p->n : p->k;
  *cols = p->tb ? p->k : p->n;
}

size_t gemm_a_elems(const struct gemm_problem *p)
{
  int64_t r, c;
  a_shape(p, &r, &c);
  return (size_t)(r * (p->lda ? p->lda : c));
}

size_t gemm_b_elems(const struct gemm_problem *p)
{
  int64_t r, c;
  b_shape(p, &r, &c);
  return (size_t)(r * (p->ldb ? p->ldb : c));
}

size_t gemm_c_elems(const struct gemm_problem *p)
{
  return (size_t)(p->m * (p->ldc ? p->ldc : p->n));
}

double gemm_flops(const struct gemm_problem *p)
{
  double mn = (double)p->m * (double)p->n;
  return 2.0 * mn * (double)p->k + (p->beta != 0.0f ? 2.0 * mn : 0.0);
}

double gemm_bytes(const struct gemm_problem *p)
{
  double s = (double)gemm_dtype_size(p->dtype), mn = (double)p->m * (double)p->n;
  return s * ((double)p->m * (double)p->k + (double)p->k * (double)p->n +
              mn * (p->beta != 0.0f ? 2.0 : 1.0));
}

/* ---- storage ---- */

void gemm_elem_store(enum gemm_dtype d, void *base, size_t i, float v)
{
  if (d == GEMM_F32)
    ((float *)base)[i] = v;
  else if (d == GEMM_F16)
    ((uint16_t *)base)[i] = at_float_to_half_bits_sw(v);
  else
    ((uint16_t *)base)[i] = at_float_to_bfloat16_bits_sw(v);
}

double gemm_elem_load(enum gemm_dtype d, const void *base, size_t i)
{
  if (d == GEMM_F32)
    return ((const float *)base)[i];
  uint16_t h = ((const uint16_t *)base)[i];
  return d == GEMM_F16 ? at_half_bits_to_float_sw(h) : at_bfloat16_bits_to_float_sw(h);
}

/* Bit-for-bit equality of element i of two arrays of dtype d. */
static int same_bits(enum gemm_dtype d, const void *x, const void *y, size_t i)
{
  size_t s = gemm_dtype_size(d);
  return memcmp((const char *)x + i * s, (const char *)y + i * s, s) == 0;
}

/* An integer in [-4, 4] times 1/4. */
float gemm_small_value(uint64_t *s)
{
  return (float)((int)(num_xorshift64s(s) >> 33) % 9 - 4) * 0.25f;
}

struct fill_job {
  enum gemm_dtype d;
  void *base;
  int64_t cols, ld;
  float pad;
  uint64_t s; /* the state at row 0 */
};

/* Rows [from, to) of a gemm_fill, from the stream's state at row `from`. */
static int fill_part(void *ctx, size_t from, size_t to)
{
  const struct fill_job *f = ctx;
  uint64_t s = num_xorshift64s_jump(f->s, (uint64_t)from * (uint64_t)f->cols);
  for (size_t r = from; r < to; r++)
    for (int64_t c = 0; c < f->ld; c++)
      gemm_elem_store(f->d, f->base, r * (size_t)f->ld + (size_t)c,
                      c < f->cols ? gemm_small_value(&s) : f->pad);
  return AT_OK;
}

void gemm_fill(enum gemm_dtype d, void *base, int64_t rows, int64_t cols, int64_t ld,
               float pad, uint64_t *s)
{
  struct fill_job f = {d, base, cols, ld, pad, *s};
  (void)par_for((size_t)rows, (double)rows * (double)ld >= 4e6, fill_part, &f); /* never fails */
  *s = num_xorshift64s_jump(*s, (uint64_t)rows * (uint64_t)cols);
}

int gemm_problem_check(const struct gemm_problem *p)
{
  if (p->m < 1 || p->n < 1 || p->k < 1 || p->m > INT_MAX || p->n > INT_MAX ||
      p->k > INT_MAX)
    return at_error(AT_USAGE, "gemm: m, n and k must be in 1..%d (m %lld, n %lld, k %lld)",
                    INT_MAX, (long long)p->m, (long long)p->n, (long long)p->k);
  if ((unsigned)p->dtype > GEMM_BF16 || (p->ta != 0 && p->ta != 1) ||
      (p->tb != 0 && p->tb != 1))
    return at_error(AT_USAGE, "gemm: bad dtype or layout");
  int64_t ar, ac, br, bc;
  a_shape(p, &ar, &ac);
  b_shape(p, &br, &bc);
  if (p->lda < ac || p->ldb < bc || p->ldc < p->n || p->lda > INT_MAX || p->ldb > INT_MAX ||
      p->ldc > INT_MAX)
    return at_error(AT_USAGE, "gemm: leading dimension too small (lda %lld >= %lld, "
                    "ldb %lld >= %lld, ldc %lld >= %lld)", (long long)p->lda,
                    (long long)ac, (long long)p->ldb, (long long)bc, (long long)p->ldc,
                    (long long)p->n);
  if ((double)ar * (double)p->lda > 1e10 || (double)br * (double)p->ldb > 1e10 ||
      (double)p->m * (double)p->ldc > 1e10)
    return at_error(AT_USAGE, "gemm: operands too large for host data (%lld x %lld x %lld)",
                    (long long)p->m, (long long)p->n, (long long)p->k);
  return AT_OK;
}

/* ---- data and reference ---- */

/* The reference in f64, from the stored (exact) values: columns [from, to) of C, for one
 * thread, from A as doubles (ad: m rows of k); the checked rows of each column only
 * (gemm_checked), with the tolerance's magnitude beside each value. Each dot product is
 * eight interleaved partial sums (one dependent chain of adds runs at a quarter of the
 * FPU's speed), added in a fixed order: the same values for any split of the columns. */
struct ref_ctx {
  struct gemm_data *d;
  double *ad; /* A as f64, m x k (written by prepare_part, read by reference_part) */
};

int64_t gemm_ref_stride(double work, double bound, int64_t cap)
{
  int64_t s = 1;
  while (work / (double)s > bound && s < cap)
    s *= 2;
  return s;
}

bool gemm_checked(const struct gemm_data *d, int64_t i, int64_t j)
{
  return d->stride <= 1 || (i + 5 * j) % d->stride == 0;
}

/* The first checked row of column j. */
static int64_t first_row(const struct gemm_data *d, int64_t j)
{
  const int64_t s = d->stride > 1 ? d->stride : 1;
  return (s - (5 * j) % s) % s;
}

static int reference_part(void *ctx, size_t from, size_t to)
{
  const struct ref_ctx *r = ctx;
  struct gemm_data *d = r->d;
  const struct gemm_problem *q = &d->p;
  double *bcol = malloc((size_t)(q->k ? q->k : 1) * sizeof *bcol);
  if (!bcol)
    return AT_NOMEM;
  const int64_t k = q->k, k8 = k - k % 8, step = d->stride > 1 ? d->stride : 1;
  for (int64_t j = (int64_t)from; j < (int64_t)to; j++) {
    for (int64_t kk = 0; kk < k; kk++)
      bcol[kk] = gemm_elem_load(q->dtype, d->b,
                                (size_t)(q->tb ? j * q->ldb + kk : kk * q->ldb + j));
    for (int64_t i = first_row(d, j); i < q->m; i += step) {
      const double *a = r->ad + i * k;
      double s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, tail = 0;
      double m[8] = {0, 0, 0, 0, 0, 0, 0, 0}, mtail = 0;
      for (int64_t kk = 0; kk < k8; kk += 8)
        for (int u = 0; u < 8; u++) {
          const double x = a[kk + u] * bcol[kk + u];
          s[u] += x;
          m[u] += fabs(x);
        }
      for (int64_t kk = k8; kk < k; kk++) {
        tail += a[kk] * bcol[kk];
        mtail += fabs(a[kk] * bcol[kk]);
      }
      double acc = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
      double mag = ((m[0] + m[1]) + (m[2] + m[3])) + ((m[4] + m[5]) + (m[6] + m[7])) + mtail;
      double v = (double)q->alpha * acc;
      mag *= fabs((double)q->alpha);
      if (q->beta != 0.0f) {
        const double c0 = gemm_elem_load(q->dtype, d->c0, (size_t)(i * q->ldc + j));
        v += (double)q->beta * c0;
        mag += fabs((double)q->beta * c0);
      }
      d->ref[i * q->n + j] = v;
      d->mag[i * q->n + j] = mag;
    }
  }
  free(bcol);
  return AT_OK;
}

/* Rows [from, to) of A as f64, row-major m x k, and of ref and mag as NaN when sampled:
 * the reference's preparation, split over the CPUs as the reference is. */
static int prepare_part(void *ctx, size_t from, size_t to)
{
  const struct ref_ctx *r = ctx;
  const struct gemm_data *d = r->d;
  const struct gemm_problem *q = &d->p;
  for (int64_t i = (int64_t)from; i < (int64_t)to; i++) {
    for (int64_t kk = 0; kk < q->k; kk++)
      r->ad[i * q->k + kk] = gemm_elem_load(
          q->dtype, d->a, (size_t)(q->ta ? kk * q->lda + i : i * q->lda + kk));
    if (d->stride > 1)
      for (int64_t j = 0; j < q->n; j++)
        d->ref[i * q->n + j] = d->mag[i * q->n + j] = NAN;
  }
  return AT_OK;
}

/* The reference, its columns split over the CPUs when it is big. The same values whatever
 * the split: each element is one thread's sum in one order. */
static int reference(struct gemm_data *d, int64_t stride)
{
  const struct gemm_problem *q = &d->p;
  double *ad = malloc((size_t)(q->m * q->k > 0 ? q->m * q->k : 1) * sizeof *ad);
  if (!ad) {
    gemm_data_release(d);
    return at_error(AT_NOMEM, "out of memory");
  }
  const double macs = (double)q->m * (double)q->n * (double)q->k;
  d->stride = stride > 0 ? stride : gemm_ref_stride(macs, GEMM_REF_FULL_MACS, 4096);
  struct ref_ctx r = {d, ad};
  (void)par_for((size_t)q->m, (double)q->m * (double)(q->k + q->n) >= 4e6, prepare_part, &r);
  int rc = par_for((size_t)q->n, macs / (double)d->stride >= 1e8, reference_part, &r);
  free(ad);
  if (rc != AT_OK) {
    gemm_data_release(d);
    return at_error(rc, "out of memory");
  }
  return AT_OK;
}

int gemm_data_init(struct gemm_data *d, const struct gemm_problem *p, uint64_t seed)
{
  return gemm_data_init_stride(d, p, seed, 0);
}

int gemm_data_init_stride(struct gemm_data *d, const struct gemm_problem *p, uint64_t seed,
                          int64_t stride)
{
  if (!d)
    return at_error(AT_USAGE, "gemm_data_init: NULL argument");
  memset(d, 0, sizeof *d);
  if (!p)
    return at_error(AT_USAGE, "gemm_data_init: NULL argument");
  if (stride < 0 || (stride & (stride - 1)) != 0)
    return at_error(AT_USAGE, "gemm_data_init: bad stride %lld (a power of two, or 0)",
                    (long long)stride);
  d->p = *p;
  gemm_problem_resolve(&d->p);
  int rc = gemm_problem_check(&d->p);
  if (rc != AT_OK)
    return rc;
  const struct gemm_problem *q = &d->p;
  size_t es = gemm_dtype_size(q->dtype);
  d->a = malloc(gemm_a_elems(q) * es);
  d->b = malloc(gemm_b_elems(q) * es);
  d->c0 = malloc(gemm_c_elems(q) * es);
  d->ref = malloc((size_t)(q->m * q->n) * sizeof *d->ref);
  d->mag = malloc((size_t)(q->m * q->n) * sizeof *d->mag);
  if (!d->a || !d->b || !d->c0 || !d->ref || !d->mag) {
    gemm_data_release(d);
    return at_error(AT_NOMEM, "out of memory");
  }
  /* a zero seed would stall xorshift; mix it */
  uint64_t s = (seed ^ 0x9E3779B97F4A7C15ULL) | 1;
  int64_t ar, ac, br, bc;
  a_shape(q, &ar, &ac);
  b_shape(q, &br, &bc);
  gemm_fill(q->dtype, d->a, ar, ac, q->lda, NAN, &s);
  gemm_fill(q->dtype, d->b, br, bc, q->ldb, NAN, &s);
  gemm_fill(q->dtype, d->c0, q->m, q->n, q->ldc, PAD_C, &s);
  if (q->beta == 0.0f)
    for (int64_t i = 0; i < q->m; i++)
      for (int64_t j = 0; j < q->n; j++)
        gemm_elem_store(q->dtype, d->c0, (size_t)(i * q->ldc + j), NAN);

  return reference(d, stride);
}

void gemm_data_release(struct gemm_data *d)
{
  if (!d)
    return;
  free(d->a);
  free(d->b);
  free(d->c0);
  free(d->ref);
  free(d->mag);
  d->a = d->b = d->c0 = NULL;
  d->ref = d->mag = NULL;
}

/* ---- the check ---- */

double gemm_dtype_roundoff(enum gemm_dtype d)
{
  return d == GEMM_F32 ? 0x1p-23 : d == GEMM_F16 ? 0x1p-11 : 0x1p-8;
}

double gemm_dtype_floor(enum gemm_dtype d)
{
  return d == GEMM_F32 ? 0x1p-149 : d == GEMM_F16 ? 0x1p-24 : 0x1p-133;
}

/* Whether element (i, j) of C (j up to ldc: the padding too) is wrong, and why in msg
 * when given. */
static bool elem_bad(const struct gemm_data *d, const void *c, int64_t i, int64_t j,
                     double eps, double floor_, char *msg, size_t msg_len)
{
  const struct gemm_problem *q = &d->p;
  const enum gemm_dtype dt = q->dtype;
  const size_t at = (size_t)(i * q->ldc + j);
  if (j >= q->n) {
    if (same_bits(dt, c, d->c0, at))
      return false;
    if (msg && msg_len)
      snprintf(msg, msg_len, "C[%lld][%lld] (padding: n %lld, ldc %lld) = %.9g, expected it "
               "untouched (%.9g)", (long long)i, (long long)j, (long long)q->n,
               (long long)q->ldc, gemm_elem_load(dt, c, at), gemm_elem_load(dt, d->c0, at));
    return true;
  }
  const double got = gemm_elem_load(dt, c, at);
  if (!gemm_checked(d, i, j)) { /* no reference value here: finite at least */
    if (isfinite(got))
      return false;
    if (msg && msg_len)
      snprintf(msg, msg_len, "C[%lld][%lld] = %.9g, expected a finite value", (long long)i,
               (long long)j, got);
    return true;
  }
  const double want = d->ref[i * q->n + j];
  if (got == want) /* the usual case with exact data */
    return false;
  const double tol = 2.0 * eps * d->mag[i * q->n + j] + floor_;
  if (fabs(got - want) <= tol) /* NaN fails */
    return false;
  if (msg && msg_len)
    snprintf(msg, msg_len, "C[%lld][%lld] = %.9g, expected %.9g (tolerance %.3g)",
             (long long)i, (long long)j, got, want, tol);
  return true;
}

/* The rows [from, to) of a check (par_for): each row's count of wrong elements and its
 * first wrong column. */
struct check_ctx {
  const struct gemm_data *d;
  const void *c;
  double eps, floor_;
  int64_t *row_bad, *row_first;
};

static int check_rows(void *ctx, size_t from, size_t to)
{
  const struct check_ctx *x = ctx;
  for (size_t i = from; i < to; i++) {
    int64_t n = 0, first = -1;
    for (int64_t j = 0; j < x->d->p.ldc; j++)
      if (elem_bad(x->d, x->c, (int64_t)i, j, x->eps, x->floor_, NULL, 0) && n++ == 0)
        first = j;
    x->row_bad[i] = n;
    x->row_first[i] = first;
  }
  return AT_OK;
}

int gemm_check(const struct gemm_data *d, const void *c, int64_t *bad, char *msg,
               size_t msg_len)
{
  if (bad)
    *bad = 0;
  if (msg && msg_len)
    msg[0] = '\0';
  if (!d || !c || !bad || !d->a || !d->b || !d->c0 || !d->ref || !d->mag)
    return at_error(AT_USAGE, "gemm_check: NULL argument");
  const struct gemm_problem *q = &d->p;
  /* rows over the CPUs when C is big: a GPU's 8192 x 8192 result is checked per variant */
  struct check_ctx x = {d, c, gemm_dtype_roundoff(q->dtype) + (double)q->k * 0x1p-24,
                        gemm_dtype_floor(q->dtype), NULL, NULL};
  const size_t rows = (size_t)(q->m > 0 ? q->m : 0);
  x.row_bad = malloc((rows ? rows : 1) * sizeof *x.row_bad);
  x.row_first = malloc((rows ? rows : 1) * sizeof *x.row_first);
  int rc = x.row_bad && x.row_first ? AT_OK : AT_NOMEM;
  if (rc == AT_OK)
    rc = par_for(rows, (double)q->m * (double)q->ldc >= 1e6, check_rows, &x);
  if (rc != AT_OK) {
    free(x.row_bad);
    free(x.row_first);
    return at_error(rc, "out of memory");
  }
  int64_t n_bad = 0;
  for (size_t i = 0; i < rows; i++) {
    if (x.row_bad[i] > 0 && n_bad == 0) /* the first wrong element says why */
      elem_bad(d, c, (int64_t)i, x.row_first[i], x.eps, x.floor_, msg, msg_len);
    n_bad += x.row_bad[i];
  }
  free(x.row_bad);
  free(x.row_first);
  *bad = n_bad;
  return AT_OK;
}

const char *gemm_template_not_for(const char *name, const struct dev_profile *d, bool f32)
{
  size_t n = strlen(name);
  if (n >= 4 && strcmp(name + n - 4, "_mma") == 0) {
    if (d->vendor != DEV_NVIDIA || strncmp(d->arch, "sm_", 3) != 0 || atoi(d->arch + 3) < 80)
      return "for NVIDIA sm_80 and later";
    if (f32)
      return "for f16 and bf16";
  }
  if ((n >= 6 && strcmp(name + n - 6, "_wgmma") == 0) ||
      (n >= 4 && strcmp(name + n - 4, "_tma") == 0)) {
    if (d->vendor != DEV_NVIDIA || strncmp(d->arch, "sm_9", 4) != 0 ||
        isdigit((unsigned char)d->arch[5]))
      return "for NVIDIA Hopper (sm_90a)";
    if (f32)
      return "for f16 and bf16";
  }
  if (n >= 5 && strcmp(name + n - 5, "_mfma") == 0 && d->vendor != DEV_AMD)
    return "for AMD CDNA";
  return "";
}
