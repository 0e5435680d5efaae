/*
 * op_attn.c - the attention op's host side (op_attn.h): problem checks, sizes, FLOPs,
 * deterministic data, the f64 reference and the check.
 *
 * Why the tolerance is what it is. Q, K and V hold multiples of 1/4 in [-1, 1], so every
 * product q*k is a multiple of 1/16 and every Q.K dot product (D <= 256 terms) is exact
 * in f32. A kernel's error then comes from scaling the logits (one rounding each),
 * exp2 (a few ulps), and the f32 sums over keys of p and of p*v (a relative K * 2^-24
 * each), all of which (D + 2 SK + 64) * 2^-24 * max|V|, doubled, bounds; and from the
 * final rounding to the output type, u_out * |ref|. A key dropped or counted twice moves
 * an output by about |v_j - o| / SK, far above that bound for the shapes the tests use.
 */
#include "tuner/ops/op_attn.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/par.h"
#include "base/status.h"

int attn_problem_check(const struct attn_problem *p)
{
  if (!p)
    return at_error(AT_USAGE, "attention: NULL problem");
  static const char *const names[] = {"batch", "heads", "seqlen (queries)", "keys", "head dim"};
  const int64_t v[] = {p->batch, p->heads, p->sq, p->sk, p->d};
  for (int i = 0; i < 5; i++)
    if (v[i] < 1 || v[i] > INT_MAX)
      return at_error(AT_USAGE, "attention: bad %s %lld (expected an integer of at least 1)",
                      names[i], (long long)v[i]);
  if (p->d > 256)
    return at_error(AT_USAGE, "attention: bad head dim %lld (expected at most 256)",
                    (long long)p->d);
  if ((unsigned)p->dtype > GEMM_BF16)
    return at_error(AT_USAGE, "attention: bad dtype");
  if (p->causal != 0 && p->causal != 1)
    return at_error(AT_USAGE, "attention: bad causal %d (expected 0 or 1)", p->causal);
  if (!isfinite(p->scale))
    return at_error(AT_USAGE, "attention: bad scale (expected a finite number; 0 means "
                    "1/sqrt(head dim))");
  double q = (double)p->batch * (double)p->heads * (double)p->sq * (double)p->d;
  double kv = (double)p->batch * (double)p->heads * (double)p->sk * (double)p->d;
  if (q > INT_MAX || kv > INT_MAX)
    return at_error(AT_USAGE, "attention: tensors too large (%.0f and %.0f elements; at most "
                    "%d each)", q, kv, INT_MAX);
  return AT_OK;
}

const char *attn_layout(const struct attn_problem *p, char *buf, size_t cap)
{
  snprintf(buf, cap, "hd%lld%s", (long long)p->d, p->causal ? "_causal" : "");
  return buf;
}

int attn_parse_layout(const char *s, int64_t *d, int *causal)
{
  char *end = NULL;
  long long v = s && strncmp(s, "hd", 2) == 0 ? strtoll(s + 2, &end, 10) : 0;
  if (v < 1 || v > 256 || !end || end == s + 2 || (*end && strcmp(end, "_causal") != 0))
    return at_error(AT_USAGE, "bad attention layout '%.40s' (expected hd<D> or hd<D>_causal, "
                    "D the head dim, 1 to 256: hd128, hd64_causal)", s ? s : "");
  if (d)
    *d = v;
  if (causal)
    *causal = *end != '\0';
  return AT_OK;
}

size_t attn_q_elems(const struct attn_problem *p)
{
  return (size_t)(p->batch * p->heads * p->sq * p->d);
}

size_t attn_kv_elems(const struct attn_problem *p)
{
  return (size_t)(p->batch * p->heads * p->sk * p->d);
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
  return (double)gemm_dtype_size(p->dtype) *
         (2.0 * (double)attn_q_elems(p) + 2.0 * (double)attn_kv_elems(p));
}

void attn_data_release(struct attn_data *d)
{
  if (!d)
    return;
  free(d->q);
  free(d->k);
  free(d->v);
  free(d->o0);
  free(d->ref);
  free(d->vmax);
  memset(d, 0, sizeof *d);
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
  if (!d->q || !d->k || !d->v || !d->o0) {
    attn_data_release(d);
    return at_error(AT_NOMEM, "out of memory");
  }
  uint64_t st = (seed ^ 0x243F6A8885A308D3ULL) | 1;
  for (size_t i = 0; i < nq; i++)
    gemm_elem_store(dt, d->q, i, gemm_small_value(&st));
  for (size_t i = 0; i < nkv; i++)
    gemm_elem_store(dt, d->k, i, gemm_small_value(&st));
  for (size_t i = 0; i < nkv; i++)
    gemm_elem_store(dt, d->v, i, gemm_small_value(&st));
  for (size_t i = 0; i < nq; i++)
    gemm_elem_store(dt, d->o0, i, NAN);
  return AT_OK;
}

/* The reference of heads [from, to), for one thread (attn_data_init). */
static int reference_part(void *ctx, size_t from, size_t to)
{
  struct attn_data *d = ctx;
  const struct attn_problem *q = &d->p;
  enum gemm_dtype dt = q->dtype;
  const int64_t D = q->d, SQ = q->sq, SK = q->sk;
  const double scale = q->scale != 0.0f ? (double)q->scale : 1.0 / sqrt((double)D);
  double *s = malloc((size_t)(SK ? SK : 1) * sizeof *s);
  if (!s)
    return AT_NOMEM;
  for (size_t h = from; h < to; h++) {
    const size_t qb = h * (size_t)(SQ * D), kb = h * (size_t)(SK * D);
    for (int64_t j = 0; j < SK * D; j++) {
      double a = fabs(gemm_elem_load(dt, d->v, kb + (size_t)j));
      d->vmax[h] = a > d->vmax[h] ? a : d->vmax[h];
    }
    for (int64_t i = 0; i < SQ; i++) {
      const int64_t nk = visible_keys(q, i);
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < nk; j++) {
        double dot = 0;
        for (int64_t c = 0; c < D; c++)
          dot += gemm_elem_load(dt, d->q, qb + (size_t)(i * D + c)) *
                 gemm_elem_load(dt, d->k, kb + (size_t)(j * D + c));
        s[j] = scale * dot;
        mx = s[j] > mx ? s[j] : mx;
      }
      for (int64_t j = 0; j < nk; j++)
        sum += (s[j] = exp(s[j] - mx));
      for (int64_t c = 0; c < D; c++) {
        double o = 0;
        for (int64_t j = 0; j < nk; j++)
          o += s[j] * gemm_elem_load(dt, d->v, kb + (size_t)(j * D + c));
        d->ref[qb + (size_t)(i * D + c)] = nk ? o / sum : 0.0;
      }
    }
  }
  free(s);
  return AT_OK;
}

/* The f64 reference, the heads split over the CPUs when it is big (a prefill of 32 heads
 * of 1024 queries is minutes on one core): each head is one thread's, so the values are
 * the same for any split. */
int attn_data_init(struct attn_data *d, const struct attn_problem *p, uint64_t seed)
{
  int rc = attn_data_inputs(d, p, seed);
  if (rc != AT_OK)
    return rc;
  const struct attn_problem *q = &d->p;
  size_t heads = (size_t)(q->batch * q->heads);
  d->ref = malloc(attn_q_elems(q) * sizeof *d->ref);
  d->vmax = calloc(heads, sizeof *d->vmax);
  if (!d->ref || !d->vmax) {
    attn_data_release(d);
    return at_error(AT_NOMEM, "out of memory");
  }
  double work = (double)heads * (double)q->sq * (double)q->sk * (double)q->d;
  rc = par_for(heads, work >= 1e7, reference_part, d);
  if (rc != AT_OK) {
    attn_data_release(d);
    return at_error(rc, "out of memory");
  }
  return AT_OK;
}

int attn_check(const struct attn_data *d, const void *o, int64_t *bad, char *msg,
               size_t msg_len)
{
  if (bad)
    *bad = 0;
  if (msg && msg_len)
    msg[0] = '\0';
  if (!d || !o || !bad || !d->ref || !d->vmax)
    return at_error(AT_USAGE, "attn_check: NULL argument");
  const struct attn_problem *q = &d->p;
  const enum gemm_dtype dt = q->dtype;
  const double u = dt == GEMM_F32 ? 0x1p-24 : gemm_dtype_roundoff(dt);
  const double acc = 2.0 * (double)(q->d + 2 * q->sk + 64) * 0x1p-24;
  const double floor_ = gemm_dtype_floor(dt);
  const size_t per_head = (size_t)(q->sq * q->d);
  int64_t n_bad = 0;
  for (size_t e = 0; e < attn_q_elems(q); e++) {
    const size_t h = e / per_head;
    const double got = gemm_elem_load(dt, o, e), want = d->ref[e];
    const double tol = u * fabs(want) + acc * d->vmax[h] + floor_;
    if (!(fabs(got - want) <= tol) && n_bad++ == 0 && msg && msg_len) {
      const size_t r = e % per_head;
      snprintf(msg, msg_len, "O[%zu][%zu][%zu][%zu] = %.9g, expected %.9g (tolerance %.3g)",
               h / (size_t)q->heads, h % (size_t)q->heads, r / (size_t)q->d,
               r % (size_t)q->d, got, want, tol);
    }
  }
  *bad = n_bad;
  return AT_OK;
}
