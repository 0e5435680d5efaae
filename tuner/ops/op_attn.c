/*
 * op_attn.c - the attention op's host side (op_attn.h): problem checks, the family key,
 * sizes, FLOPs, deterministic data (the paged pools shuffled), the f64 reference (GQA,
 * paged, LSE) and the check.
 *
 * Why the tolerance is what it is. Q, K and V hold multiples of 1/4 in [-1, 1], so every
 * product q*k is a multiple of 1/16 and every Q.K dot product (D <= 256 terms) is exact
 * in f32. A kernel's error then comes from scaling the logits (one rounding each),
 * exp2 (a few ulps), and the f32 sums over keys of p and of p*v (a relative K * 2^-24
 * each), all of which (D + 2 SK + 64) * 2^-24 * max|V|, doubled, bounds; and from the
 * final rounding to the output type, u_out * |ref|. A kernel that rounds P to the input
 * type before P V (tensor-core kernels, FlashAttention) moves each weight by a relative
 * u_in: O by at most u_in * sum_j w_j |v_j|, which the reference computes per element
 * (wabs) so the term stays as tight as the data allow. A key dropped or counted twice moves
 * an output by about |v_j - o| / SK, far above that bound for the shapes the tests use.
 * LSE is a log: the relative errors of the sum become absolute ones, and a kernel that
 * pre-scales q (q * scale * log2 e, rounded) has logits off by up to D * 2^-24 times the
 * row's scale * sum_c |q_c k_c|; the same factor times (1 + that magnitude) bounds both.
 */
#include "tuner/ops/op_attn.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"
#include "base/par.h"
#include "base/status.h"
#include "db/db.h"

static int64_t cdiv64(int64_t a, int64_t b)
{
  return (a + b - 1) / b;
}

int attn_problem_check(const struct attn_problem *p)
{
  if (!p)
    return at_error(AT_USAGE, "attention: NULL problem");
  static const char *const names[] = {"batch", "heads", "seqlen (queries)", "keys",
                                      "head dim", "kv heads"};
  const int64_t v[] = {p->batch, p->heads, p->sq, p->sk, p->d, p->hkv};
  for (int i = 0; i < 6; i++)
    if (v[i] < 1 || v[i] > INT_MAX)
      return at_error(AT_USAGE, "attention: bad %s %lld (expected an integer of at least 1)",
                      names[i], (long long)v[i]);
  if (p->d > ATTN_MAX_D)
    return at_error(AT_USAGE, "attention: bad head dim %lld (expected at most %d)",
                    (long long)p->d, ATTN_MAX_D);
  if (p->hkv > p->heads || p->heads % p->hkv != 0)
    return at_error(AT_USAGE, "attention: bad kv heads %lld (expected a divisor of the %lld "
                    "query heads)", (long long)p->hkv, (long long)p->heads);
  if ((unsigned)p->dtype > GEMM_BF16)
    return at_error(AT_USAGE, "attention: bad dtype");
  static const char *const flags[] = {"causal", "paged", "lse", "decode"};
  const int f[] = {p->causal, p->paged, p->lse, p->decode};
  for (int i = 0; i < 4; i++)
    if (f[i] != 0 && f[i] != 1)
      return at_error(AT_USAGE, "attention: bad %s %d (expected 0 or 1)", flags[i], f[i]);
  if (p->decode && p->sq > ATTN_DECODE_MAX_SQ)
    return at_error(AT_USAGE, "attention: a decode problem has at most %d queries (seqlen "
                    "%lld)", ATTN_DECODE_MAX_SQ, (long long)p->sq);
  if (!isfinite(p->scale))
    return at_error(AT_USAGE, "attention: bad scale (expected a finite number; 0 means "
                    "1/sqrt(head dim))");
  double q = (double)p->batch * (double)p->heads * (double)p->sq * (double)p->d;
  double rows = p->paged ? (double)p->batch * (double)(cdiv64(p->sk, ATTN_PAGE) + 1) * ATTN_PAGE
                         : (double)p->batch * (double)p->sk;
  double kv = rows * (double)p->hkv * (double)p->d;
  if (q > INT_MAX || kv > INT_MAX)
    return at_error(AT_USAGE, "attention: tensors too large (%.0f and %.0f elements; at most "
                    "%d each)", q, kv, INT_MAX);
  return AT_OK;
}

/* The layout words in their order, and their flags. */
static const struct {
  const char *word;
  unsigned flag;
} words[] = {{"_causal", ATTN_L_CAUSAL}, {"_decode", ATTN_L_DECODE},
             {"_paged", ATTN_L_PAGED},   {"_lse", ATTN_L_LSE}};

const char *attn_layout(const struct attn_problem *p, char *buf, size_t cap)
{
  const int on[] = {p->causal, p->decode, p->paged, p->lse};
  int n = snprintf(buf, cap, "hd%lld", (long long)p->d);
  for (size_t i = 0; i < 4 && n >= 0 && (size_t)n < cap; i++)
    if (on[i])
      n += snprintf(buf + n, cap - (size_t)n, "%s", words[i].word);
  return buf;
}

int attn_parse_layout(const char *s, int64_t *d, unsigned *flags)
{
  char *end = NULL;
  long long v = s && strncmp(s, "hd", 2) == 0 ? strtoll(s + 2, &end, 10) : 0;
  unsigned f = 0;
  int ok = v >= 1 && v <= ATTN_MAX_D && end && end != s + 2;
  for (size_t i = 0; ok && i < 4; i++) {
    size_t n = strlen(words[i].word);
    if (strncmp(end, words[i].word, n) == 0 && (end[n] == '\0' || end[n] == '_')) {
      f |= words[i].flag;
      end += n;
    }
  }
  if (!ok || *end)
    return at_error(AT_USAGE, "bad attention layout '%.40s' (expected hd<D>[_causal][_decode]"
                    "[_paged][_lse], D the head dim, 1 to %d, the words in that order: "
                    "hd128, hd64_causal, hd128_causal_decode_paged)", s ? s : "", ATTN_MAX_D);
  if (d)
    *d = v;
  if (flags)
    *flags = f;
  return AT_OK;
}

void attn_problem_key(const struct attn_problem *p, struct db_problem *key, char *layout_buf,
                      size_t cap)
{
  *key = (struct db_problem){.op = "attention", .dtype = gemm_dtype_name(p->dtype),
                             .layout = attn_layout(p, layout_buf, cap), .ndims = 4,
                             .dim_names = {"b", "h", "sq", "sk"},
                             .dims = {p->batch, p->heads, p->sq, p->sk}};
  if (p->hkv != p->heads) {
    key->dim_names[4] = "hkv";
    key->dims[4] = p->hkv;
    key->ndims = 5;
  }
}

size_t attn_q_elems(const struct attn_problem *p)
{
  return (size_t)(p->batch * p->heads * p->sq * p->d);
}

int64_t attn_pool_pages(const struct attn_problem *p)
{
  return p->paged ? p->batch * (cdiv64(p->sk, ATTN_PAGE) + 1) : 0;
}

size_t attn_bt_elems(const struct attn_problem *p)
{
  return p->paged ? (size_t)(p->batch * cdiv64(p->sk, ATTN_PAGE)) : 0;
}

size_t attn_kv_elems(const struct attn_problem *p)
{
  int64_t rows = p->paged ? attn_pool_pages(p) * ATTN_PAGE : p->batch * p->sk;
  return (size_t)(rows * p->hkv * p->d);
}

size_t attn_lse_elems(const struct attn_problem *p)
{
  return (size_t)(p->batch * p->heads * p->sq);
}

/* Keys query row i sees: all SK, or with the mask those j <= i + SK - SQ. */
static int64_t visible_keys(const struct attn_problem *p, int64_t i)
{
  if (!p->causal)
    return p->sk;
  int64_t n = i + p->sk - p->sq + 1;
  return n < 0 ? 0 : n > p->sk ? p->sk : n;
}

double attn_pairs(const struct attn_problem *p)
{
  double per_head = 0;
  for (int64_t i = 0; i < p->sq; i++)
    per_head += (double)visible_keys(p, i);
  return per_head * (double)p->batch * (double)p->heads;
}

double attn_flops(const struct attn_problem *p)
{
  return 4.0 * (double)p->d * attn_pairs(p);
}

double attn_bytes(const struct attn_problem *p)
{
  double kv_used = (double)p->batch * (double)p->hkv * (double)p->sk * (double)p->d;
  return (double)gemm_dtype_size(p->dtype) * (2.0 * (double)attn_q_elems(p) + 2.0 * kv_used) +
         (p->lse ? 4.0 * (double)attn_lse_elems(p) : 0.0) + 4.0 * (double)attn_bt_elems(p);
}

void attn_data_release(struct attn_data *d)
{
  if (!d)
    return;
  free(d->q);
  free(d->k);
  free(d->v);
  free(d->o0);
  free(d->bt);
  free(d->ref);
  free(d->vmax);
  free(d->wabs);
  free(d->lse_ref);
  free(d->lse_tol);
  memset(d, 0, sizeof *d);
}

/* The element index of K[b][g][j][c] (and of V's) as d stores it. */
static size_t kv_index(const struct attn_data *d, int64_t b, int64_t g, int64_t j, int64_t c)
{
  const struct attn_problem *p = &d->p;
  if (!p->paged)
    return (size_t)(((b * p->hkv + g) * p->sk + j) * p->d + c);
  int64_t page = d->bt[b * cdiv64(p->sk, ATTN_PAGE) + j / ATTN_PAGE];
  return (size_t)(((page * ATTN_PAGE + j % ATTN_PAGE) * p->hkv + g) * p->d + c);
}

/* Paged: a shuffled block table, and every pool row no key maps to set to ATTN_PAD_VALUE
 * (the pools hold the stream's values already, so keys stay the same for any order). */
static int page_inputs(struct attn_data *d, uint64_t *st)
{
  const struct attn_problem *p = &d->p;
  const int64_t npages = attn_pool_pages(p), per_seq = cdiv64(p->sk, ATTN_PAGE);
  int32_t *perm = d->bt; /* the first B * per_seq entries of a permutation of the pool */
  int32_t *all = malloc((size_t)npages * sizeof *all);
  unsigned char *used = calloc((size_t)npages * ATTN_PAGE, 1);
  if (!all || !used) {
    free(all);
    free(used);
    return AT_NOMEM;
  }
  for (int64_t i = 0; i < npages; i++)
    all[i] = (int32_t)i;
  for (int64_t i = npages - 1; i > 0; i--) { /* Fisher-Yates */
    int64_t r = (int64_t)(num_xorshift64s(st) % (uint64_t)(i + 1));
    int32_t t = all[i];
    all[i] = all[r];
    all[r] = t;
  }
  memcpy(perm, all, attn_bt_elems(p) * sizeof *perm);
  for (int64_t b = 0; b < p->batch; b++)
    for (int64_t j = 0; j < p->sk; j++)
      used[(size_t)perm[b * per_seq + j / ATTN_PAGE] * ATTN_PAGE + (size_t)(j % ATTN_PAGE)] = 1;
  const size_t row = (size_t)(p->hkv * p->d);
  for (size_t r = 0; r < (size_t)npages * ATTN_PAGE; r++)
    if (!used[r])
      for (size_t c = 0; c < row; c++) {
        gemm_elem_store(p->dtype, d->k, r * row + c, (float)ATTN_PAD_VALUE);
        gemm_elem_store(p->dtype, d->v, r * row + c, (float)ATTN_PAD_VALUE);
      }
  free(all);
  free(used);
  return AT_OK;
}

int attn_data_inputs(struct attn_data *d, const struct attn_problem *p, uint64_t seed)
{
  if (!d)
    return at_error(AT_USAGE, "attn_data_inputs: NULL argument");
  memset(d, 0, sizeof *d);
  int rc = attn_problem_check(p);
  if (rc != AT_OK)
    return rc;
  d->p = *p;
  const struct attn_problem *q = &d->p;
  enum gemm_dtype dt = q->dtype;
  size_t es = gemm_dtype_size(dt), nq = attn_q_elems(q), nkv = attn_kv_elems(q);
  d->q = malloc(nq * es);
  d->k = malloc(nkv * es);
  d->v = malloc(nkv * es);
  d->o0 = malloc(nq * es);
  if (q->paged)
    d->bt = malloc(attn_bt_elems(q) * sizeof *d->bt);
  if (!d->q || !d->k || !d->v || !d->o0 || (q->paged && !d->bt)) {
    attn_data_release(d);
    return at_error(AT_NOMEM, "out of memory");
  }
  uint64_t st = (seed ^ 0x243F6A8885A308D3ULL) | 1;
  /* one stream, Q then K then V, rows of D (by the CPUs at once where large) */
  const int64_t D = q->d;
  gemm_fill(dt, d->q, (int64_t)nq / D, D, D, 0.0f, &st);
  gemm_fill(dt, d->k, (int64_t)nkv / D, D, D, 0.0f, &st);
  gemm_fill(dt, d->v, (int64_t)nkv / D, D, D, 0.0f, &st);
  gemm_fill(dt, d->o0, (int64_t)nq / D, 0, D, NAN, &st);
  if (q->paged && page_inputs(d, &st) != AT_OK) {
    attn_data_release(d);
    return at_error(AT_NOMEM, "out of memory");
  }
  return AT_OK;
}

/* The reference of query heads [from, to) of B H, for one thread (attn_data_init). */
static int reference_part(void *ctx, size_t from, size_t to)
{
  struct attn_data *d = ctx;
  const struct attn_problem *q = &d->p;
  enum gemm_dtype dt = q->dtype;
  const int64_t D = q->d, SQ = q->sq, SK = q->sk, group = q->heads / q->hkv;
  const double scale = q->scale != 0.0f ? (double)q->scale : 1.0 / sqrt((double)D);
  double *s = malloc((size_t)(SK ? SK : 1) * sizeof *s);
  if (!s)
    return AT_NOMEM;
  for (size_t bh = from; bh < to; bh++) {
    const int64_t b = (int64_t)bh / q->heads, g = ((int64_t)bh % q->heads) / group;
    const size_t qb = bh * (size_t)(SQ * D);
    for (int64_t j = 0; j < SK; j++)
      for (int64_t c = 0; c < D; c++) {
        double a = fabs(gemm_elem_load(dt, d->v, kv_index(d, b, g, j, c)));
        d->vmax[bh] = a > d->vmax[bh] ? a : d->vmax[bh];
      }
    for (int64_t i = 0; i < SQ; i++) {
      if (!attn_checked(d, (int64_t)bh * SQ + i))
        continue;
      const int64_t nk = visible_keys(q, i);
      double mx = -INFINITY, sum = 0, smax = 0;
      for (int64_t j = 0; j < nk; j++) {
        double dot = 0, mag = 0;
        for (int64_t c = 0; c < D; c++) {
          double x = gemm_elem_load(dt, d->q, qb + (size_t)(i * D + c)) *
                     gemm_elem_load(dt, d->k, kv_index(d, b, g, j, c));
          dot += x;
          mag += fabs(x);
        }
        s[j] = scale * dot;
        mx = s[j] > mx ? s[j] : mx;
        smax = fabs(scale) * mag > smax ? fabs(scale) * mag : smax;
      }
      for (int64_t j = 0; j < nk; j++)
        sum += (s[j] = exp(s[j] - mx));
      for (int64_t c = 0; c < D; c++) {
        double o = 0, oa = 0;
        for (int64_t j = 0; j < nk; j++) {
          const double v = gemm_elem_load(dt, d->v, kv_index(d, b, g, j, c));
          o += s[j] * v;
          oa += s[j] * fabs(v);
        }
        d->ref[qb + (size_t)(i * D + c)] = nk ? o / sum : 0.0;
        d->wabs[qb + (size_t)(i * D + c)] = nk ? oa / sum : 0.0;
      }
      const size_t r = bh * (size_t)SQ + (size_t)i;
      d->lse_ref[r] = nk ? mx + log(sum) : -INFINITY;
      d->lse_tol[r] = 2.0 * (double)(D + 2 * SK + 64) * 0x1p-24 * (1.0 + smax);
    }
  }
  free(s);
  return AT_OK;
}

bool attn_checked(const struct attn_data *d, int64_t row)
{
  const int64_t s = d->stride;
  return s <= 1 || row % s == ((row / s) * 5 + 3) % s;
}

/* The f64 reference, the heads split over the CPUs when it is big (a prefill of 32 heads
 * of 1024 queries is minutes on one core): each head is one thread's, so the values are
 * the same for any split. */
int attn_data_init(struct attn_data *d, const struct attn_problem *p, uint64_t seed)
{
  return attn_data_init_stride(d, p, seed, 0);
}

int attn_data_init_stride(struct attn_data *d, const struct attn_problem *p, uint64_t seed,
                          int64_t stride)
{
  if (stride < 0 || (stride & (stride - 1)) != 0)
    return at_error(AT_USAGE, "attn_data_init: bad stride %lld (a power of two, or 0)",
                    (long long)stride);
  int rc = attn_data_inputs(d, p, seed);
  if (rc != AT_OK)
    return rc;
  const struct attn_problem *q = &d->p;
  size_t heads = (size_t)(q->batch * q->heads);
  d->ref = malloc(attn_q_elems(q) * sizeof *d->ref);
  d->vmax = calloc(heads, sizeof *d->vmax);
  d->wabs = malloc(attn_q_elems(q) * sizeof *d->wabs);
  d->lse_ref = malloc(attn_lse_elems(q) * sizeof *d->lse_ref);
  d->lse_tol = malloc(attn_lse_elems(q) * sizeof *d->lse_tol);
  if (!d->ref || !d->wabs || !d->vmax || !d->lse_ref || !d->lse_tol) {
    attn_data_release(d);
    return at_error(AT_NOMEM, "out of memory");
  }
  double work = (double)heads * (double)q->sq * (double)q->sk * (double)q->d;
  d->stride = stride > 0 ? stride : gemm_ref_stride(work, ATTN_REF_FULL_WORK, 65536);
  if (d->stride > 1) {
    for (size_t e = 0; e < attn_q_elems(q); e++)
      d->ref[e] = d->wabs[e] = NAN;
    for (size_t r = 0; r < attn_lse_elems(q); r++)
      d->lse_ref[r] = d->lse_tol[r] = NAN;
  }
  rc = par_for(heads, work / (double)d->stride >= 1e7, reference_part, d);
  if (rc != AT_OK) {
    attn_data_release(d);
    return at_error(rc, "out of memory");
  }
  return AT_OK;
}

/* One LSE value against the reference: -INFINITY exactly for a row with no key. */
static bool lse_ok(double got, double want, double tol)
{
  if (isinf(want))
    return isinf(got) && got < 0;
  return fabs(got - want) <= tol;
}

/* The tolerances of a check, once per call. */
struct o_tol {
  double u, u_p, acc, floor_;
};

/* Whether O element e is wrong, and why in msg when given. */
static bool o_bad(const struct attn_data *d, const void *o, size_t e, const struct o_tol *t,
                  char *msg, size_t msg_len)
{
  const struct attn_problem *q = &d->p;
  const size_t per_head = (size_t)(q->sq * q->d), h = e / per_head, r = e % per_head;
  const double got = gemm_elem_load(q->dtype, o, e);
  if (!attn_checked(d, (int64_t)(e / (size_t)q->d))) {
    /* no reference here: an average of V rows, so no larger than the head's max |v| */
    const double lim = d->vmax[h] * (1.0 + t->u + t->acc) + t->floor_;
    if (fabs(got) <= lim)
      return false;
    if (msg && msg_len)
      snprintf(msg, msg_len, "O[%zu][%zu][%zu][%zu] = %.9g, expected a finite value within "
               "%.9g (the head's max |v|)", h / (size_t)q->heads, h % (size_t)q->heads,
               r / (size_t)q->d, r % (size_t)q->d, got, lim);
    return true;
  }
  const double want = d->ref[e];
  const double tol = t->u * fabs(want) + t->u_p * d->wabs[e] + t->acc * d->vmax[h] + t->floor_;
  if (fabs(got - want) <= tol) /* NaN fails */
    return false;
  if (msg && msg_len)
    snprintf(msg, msg_len, "O[%zu][%zu][%zu][%zu] = %.9g, expected %.9g (tolerance %.3g)",
             h / (size_t)q->heads, h % (size_t)q->heads, r / (size_t)q->d, r % (size_t)q->d,
             got, want, tol);
  return true;
}

/* The heads [from, to) of a check (par_for): each head's count of wrong O elements and
 * its first. */
struct o_check {
  const struct attn_data *d;
  const void *o;
  struct o_tol t;
  int64_t *head_bad, *head_first;
};

static int check_heads(void *ctx, size_t from, size_t to)
{
  const struct o_check *x = ctx;
  const size_t per_head = (size_t)(x->d->p.sq * x->d->p.d);
  for (size_t h = from; h < to; h++) {
    int64_t n = 0, first = -1;
    for (size_t e = h * per_head; e < (h + 1) * per_head; e++)
      if (o_bad(x->d, x->o, e, &x->t, NULL, 0) && n++ == 0)
        first = (int64_t)e;
    x->head_bad[h] = n;
    x->head_first[h] = first;
  }
  return AT_OK;
}

int attn_check(const struct attn_data *d, const void *o, const float *lse, int64_t *bad,
               char *msg, size_t msg_len)
{
  if (bad)
    *bad = 0;
  if (msg && msg_len)
    msg[0] = '\0';
  if (!d || !o || !bad || !d->ref || !d->wabs || !d->vmax || !d->lse_ref ||
      (d->p.lse && !lse))
    return at_error(AT_USAGE, "attn_check: NULL argument");
  const struct attn_problem *q = &d->p;
  const enum gemm_dtype dt = q->dtype;
  const double u = dt == GEMM_F32 ? 0x1p-24 : gemm_dtype_roundoff(dt);
  /* P rounded to the input type; none where the caller's kernel keeps P in f32 */
  struct o_check x = {d, o,
                      {u, dt == GEMM_F32 || d->p_exact ? 0.0 : u,
                       2.0 * (double)(q->d + 2 * q->sk + 64) * 0x1p-24, gemm_dtype_floor(dt)},
                      NULL, NULL};
  /* heads over the CPUs when O is big: a prefill's is 2^28 elements, checked per variant */
  const size_t heads = (size_t)(q->batch * q->heads);
  x.head_bad = malloc(heads * sizeof *x.head_bad);
  x.head_first = malloc(heads * sizeof *x.head_first);
  int rc = x.head_bad && x.head_first ? AT_OK : AT_NOMEM;
  if (rc == AT_OK)
    rc = par_for(heads, (double)attn_q_elems(q) >= 1e6, check_heads, &x);
  if (rc != AT_OK) {
    free(x.head_bad);
    free(x.head_first);
    return at_error(rc, "out of memory");
  }
  int64_t n_bad = 0;
  for (size_t h = 0; h < heads; h++) {
    if (x.head_bad[h] > 0 && n_bad == 0) /* the first wrong element says why */
      o_bad(d, o, (size_t)x.head_first[h], &x.t, msg, msg_len);
    n_bad += x.head_bad[h];
  }
  free(x.head_bad);
  free(x.head_first);
  for (size_t r = 0; q->lse && r < attn_lse_elems(q); r++) {
    const size_t h = r / (size_t)q->sq;
    if (!attn_checked(d, (int64_t)r)) {
      if (isnan(lse[r]) && n_bad++ == 0 && msg && msg_len)
        snprintf(msg, msg_len, "LSE[%zu][%zu][%zu] = NaN", h / (size_t)q->heads,
                 h % (size_t)q->heads, r % (size_t)q->sq);
      continue;
    }
    if (!lse_ok((double)lse[r], d->lse_ref[r], d->lse_tol[r]) && n_bad++ == 0 && msg &&
        msg_len)
      snprintf(msg, msg_len, "LSE[%zu][%zu][%zu] = %.9g, expected %.9g (tolerance %.3g)",
               h / (size_t)q->heads, h % (size_t)q->heads, r % (size_t)q->sq,
               (double)lse[r], d->lse_ref[r], d->lse_tol[r]);
  }
  *bad = n_bad;
  return AT_OK;
}
