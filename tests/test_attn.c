/*
 * test_attn.c - the attention op (tuner/ops/op_attn.h, contract v2) and its SIMT
 * template (templates/attention/attn_simt.h).
 *
 * The op: bad problems are refused naming the field (kv heads that do not divide the
 * heads, a decode problem of too many queries); the layout words and the problem key
 * (hkv only for GQA); visible pairs and FLOPs with and without the causal mask
 * (bottom-right aligned, rows with no key); paged data (a shuffled block table, every page
 * once, padding rows poisoned); the f64 reference equal to a hand computation written
 * from the contract (one key: O = V; two keys: the softmax weights; GQA's head mapping;
 * the paged layout; LSE); the check passing the reference itself in every dtype and
 * catching a wrong element, a NaN (an unwritten element), a dropped key and a wrong or
 * missing LSE.
 * The template: its space on h100, mi300x and host; a sample covering every value of
 * every parameter compiled for sm_90 (NVRTC) and gfx942 (clang) with no compile error
 * and no spill, and run on the host device (the variant's own source on the SIMT
 * emulator) for awkward shapes (one query and one key, odd lengths, SQ < SK and SQ > SK
 * under the mask, GQA 4:1 and 8:1, paged, LSE, decode of 1 and 7 queries over 300 and
 * 4,099 keys) in f32, f16 and bf16, head dims 32, 40, 64 and 128, causal and not, each
 * checked against the reference; the planted template's bugs (a dropped key, a missing
 * scale, GQA's head mapping, LSE in log2 units) each caught on the host.
 * The command: `autotune attention` tunes on the host, every trial checked against the
 * op and recorded under op attention (dims b, h, sq, sk; layout hd<D>[_causal]), which
 * `autotune query attention` finds, never across head dims; bad input: one line, exit 2.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "db/db.h"
#include "tests/helpers.h"
#include "tests/hostk.h"
#include "tuner/ops/attn_run.h"
#include "tuner/compile/build.h"
#include "tuner/compile/compile.h"
#include "base/device.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/op_attn.h"
#include "base/status.h"
#include "tests/tspace.h"

/* One timeout for every test: Criterion 2.4.1 leaks a timer when tests with different
 * timeouts run in parallel (see test_install.c). CTest's own limit still applies. */
#define TIMEOUT 36000

#define TEMPLATE AT_SOURCE_DIR "/templates/attention/attn_simt.h"
#define COMMON AT_SOURCE_DIR "/templates/common"

static const char *const incs[] = {COMMON, NULL};

/* ---- the op ------------------------------------------------------------------------- */

static struct attn_problem prob(enum gemm_dtype dt, int64_t b, int64_t h, int64_t sq,
                                int64_t sk, int64_t d, int causal)
{
  return (struct attn_problem){.dtype = dt, .batch = b, .heads = h, .hkv = h, .sq = sq,
                               .sk = sk, .d = d, .causal = causal};
}

Test(attn_op, bad_problems_name_the_field)
{
  struct attn_problem p = prob(GEMM_F32, 1, 1, 4, 4, 64, 0);
  cr_assert_eq(attn_problem_check(&p), AT_OK);
  p.sk = 0;
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  cr_assert(strstr(at_last_error(), "bad keys 0"), "%s", at_last_error());
  p = prob(GEMM_F32, 1, 1, 4, 4, 512, 0);
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  cr_assert(strstr(at_last_error(), "head dim 512 (expected at most 256)"), "%s",
            at_last_error());
  p = prob(GEMM_F32, 1, 1, 4, 4, 64, 2);
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  p = prob(GEMM_F32, 1, 1, 4, 4, 64, 0);
  p.scale = NAN;
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  p = prob(GEMM_F32, 1 << 20, 64, 4096, 4096, 128, 0);
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  cr_assert(strstr(at_last_error(), "too large"), "%s", at_last_error());
  p = prob(GEMM_F32, 1, 8, 4, 4, 64, 0);
  p.hkv = 3;
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  cr_assert(strstr(at_last_error(), "bad kv heads 3 (expected a divisor of the 8 query "
                   "heads)"), "%s", at_last_error());
  p.hkv = 16;
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  p.hkv = 0;
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  cr_assert(strstr(at_last_error(), "bad kv heads 0"), "%s", at_last_error());
  p.hkv = 2;
  cr_assert_eq(attn_problem_check(&p), AT_OK);
  p.decode = 1;
  cr_assert_eq(attn_problem_check(&p), AT_OK);
  p.sq = 17;
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  cr_assert(strstr(at_last_error(), "at most 16 queries (seqlen 17)"), "%s", at_last_error());
  p = prob(GEMM_F32, 1, 1, 4, 4, 64, 0);
  p.paged = 2;
  cr_assert_eq(attn_problem_check(&p), AT_USAGE);
  cr_assert(strstr(at_last_error(), "bad paged 2"), "%s", at_last_error());
}

Test(attn_op, layout_words_and_the_key)
{
  char buf[64];
  struct attn_problem p = prob(GEMM_F16, 2, 8, 1, 300, 128, 1);
  cr_assert_str_eq(attn_layout(&p, buf, sizeof buf), "hd128_causal");
  p.decode = p.paged = p.lse = 1;
  cr_assert_str_eq(attn_layout(&p, buf, sizeof buf), "hd128_causal_decode_paged_lse");
  p.causal = 0, p.decode = 0;
  cr_assert_str_eq(attn_layout(&p, buf, sizeof buf), "hd128_paged_lse");
  int64_t d = 0;
  unsigned f = 99;
  cr_assert_eq(attn_parse_layout("hd64_causal_decode_paged_lse", &d, &f), AT_OK);
  cr_assert_eq(d, 64);
  cr_assert_eq(f, ATTN_L_CAUSAL | ATTN_L_DECODE | ATTN_L_PAGED | ATTN_L_LSE);
  cr_assert_eq(attn_parse_layout("hd64", &d, &f), AT_OK);
  cr_assert_eq(f, 0);
  cr_assert_eq(attn_parse_layout("hd32_lse", &d, &f), AT_OK);
  cr_assert_eq(f, ATTN_L_LSE);
  static const char *const bad[] = {"hd64_paged_causal", "hd64_causal_causal", "hd64_",
                                    "hd64_pagedx", "hd0", "hd257_causal", "hd", "64"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cr_assert_eq(attn_parse_layout(bad[i], NULL, NULL), AT_USAGE, "%s", bad[i]);
    cr_assert(strstr(at_last_error(), "expected hd<D>[_causal][_decode][_paged][_lse]"),
              "%s", at_last_error());
  }
  /* MHA: the pre-v2 key (4 dims); GQA: hkv appended, another family */
  struct db_problem k;
  p = prob(GEMM_F16, 2, 8, 16, 16, 64, 0);
  attn_problem_key(&p, &k, buf, sizeof buf);
  cr_assert_eq(k.ndims, 4);
  cr_assert_str_eq(k.op, "attention");
  cr_assert_str_eq(k.layout, "hd64");
  cr_assert_str_eq(k.dim_names[3], "sk");
  p.hkv = 2;
  attn_problem_key(&p, &k, buf, sizeof buf);
  cr_assert_eq(k.ndims, 5);
  cr_assert_str_eq(k.dim_names[4], "hkv");
  cr_assert_eq(k.dims[4], 2);
  cr_assert_eq(k.dims[1], 8);
}

Test(attn_op, pairs_and_flops_follow_the_mask)
{
  struct attn_problem p = prob(GEMM_F16, 2, 3, 4, 4, 64, 0);
  cr_assert_eq(attn_pairs(&p), 2.0 * 3 * 16);
  cr_assert_eq(attn_flops(&p), 4.0 * 64 * 2 * 3 * 16);
  cr_assert_eq(attn_bytes(&p), 2.0 * 4 * (2 * 3 * 4 * 64)); /* 2 bytes x (Q, K, V, O) */
  p.hkv = 1; /* MQA: K and V of one head, the same pairs */
  cr_assert_eq(attn_bytes(&p), 2.0 * (2 * (2 * 3 * 4 * 64) + 2 * (2 * 1 * 4 * 64)));
  cr_assert_eq(attn_pairs(&p), 2.0 * 3 * 16);
  p.hkv = 3;
  p.causal = 1; /* rows see 1, 2, 3, 4 keys */
  cr_assert_eq(attn_pairs(&p), 2.0 * 3 * 10);
  p = prob(GEMM_F32, 1, 1, 3, 5, 8, 1); /* SQ < SK: rows see 3, 4, 5 */
  cr_assert_eq(attn_pairs(&p), 12.0);
  p = prob(GEMM_F32, 1, 1, 5, 3, 8, 1); /* SQ > SK: rows see 0, 0, 1, 2, 3 */
  cr_assert_eq(attn_pairs(&p), 6.0);
}

/* K's (or V's) element [b][g][j][c] by the contract, written out again here: contiguous
 * [B][HKV][SK][D], or row j % 16 of page BT[b][j / 16] of the pool [NPAGES][16][HKV][D]. */
static double kv_at(const struct attn_data *d, const void *base, int64_t b, int64_t g,
                    int64_t j, int64_t c)
{
  const struct attn_problem *p = &d->p;
  size_t at;
  if (p->paged) {
    int64_t page = d->bt[b * ((p->sk + 15) / 16) + j / 16];
    at = (size_t)(((page * 16 + j % 16) * p->hkv + g) * p->d + c);
  } else {
    at = (size_t)(((b * p->hkv + g) * p->sk + j) * p->d + c);
  }
  return gemm_elem_load(p->dtype, base, at);
}

/* O by the definition, in f64, for row i of batch b and query head h, column c (c -1: the
 * row's LSE instead), with key `skip` left out (-1: none): what a kernel that drops a
 * key would give. */
static double by_hand_at(const struct attn_data *d, int64_t b, int64_t h, int64_t i,
                         int64_t c, int64_t skip)
{
  const struct attn_problem *p = &d->p;
  const int64_t g = h / (p->heads / p->hkv);
  const size_t qrow = (size_t)(((b * p->heads + h) * p->sq + i) * p->d);
  int64_t nk = p->causal ? i + p->sk - p->sq + 1 : p->sk;
  nk = nk < 0 ? 0 : nk > p->sk ? p->sk : nk;
  static double w[8192];
  double mx = -INFINITY, sum = 0, o = 0;
  cr_assert_leq(nk, 8192);
  for (int64_t j = 0; j < nk; j++) {
    double dot = 0;
    for (int64_t e = 0; e < p->d; e++)
      dot += gemm_elem_load(p->dtype, d->q, qrow + (size_t)e) * kv_at(d, d->k, b, g, j, e);
    w[j] = dot / sqrt((double)p->d);
    mx = j == skip ? mx : fmax(mx, w[j]);
  }
  for (int64_t j = 0; j < nk; j++)
    if (j != skip)
      sum += (w[j] = exp(w[j] - mx));
  if (c < 0)
    return sum > 0 ? mx + log(sum) : -INFINITY;
  for (int64_t j = 0; j < nk; j++)
    if (j != skip)
      o += w[j] * kv_at(d, d->v, b, g, j, c);
  return nk && sum > 0 ? o / sum : 0.0;
}

static double by_hand(const struct attn_data *d, int64_t i, int64_t c, int64_t skip)
{
  return by_hand_at(d, 0, 0, i, c, skip);
}

Test(attn_op, reference_is_the_definition)
{
  struct attn_data d;
  /* one key: every row is V's row */
  struct attn_problem p = prob(GEMM_F32, 1, 2, 3, 1, 8, 0);
  cr_assert_eq(attn_data_init(&d, &p, 1), AT_OK, "%s", at_last_error());
  for (int64_t h = 0; h < 2; h++)
    for (int64_t i = 0; i < 3; i++)
      for (int64_t c = 0; c < 8; c++)
        cr_assert_eq(d.ref[(h * 3 + i) * 8 + c],
                     gemm_elem_load(GEMM_F32, d.v, (size_t)(h * 8 + c)));
  attn_data_release(&d);
  /* causal, SQ > SK: the first rows see nothing (0); the rest by the definition */
  p = prob(GEMM_F32, 1, 1, 6, 4, 16, 1);
  cr_assert_eq(attn_data_init(&d, &p, 2), AT_OK);
  for (int64_t i = 0; i < 6; i++)
    for (int64_t c = 0; c < 16; c++) {
      double want = by_hand(&d, i, c, -1);
      cr_assert(fabs(d.ref[i * 16 + c] - want) <= 1e-12, "O[%lld][%lld] = %.17g, by hand %.17g",
                (long long)i, (long long)c, d.ref[i * 16 + c], want);
      if (i < 2)
        cr_assert_eq(d.ref[i * 16 + c], 0.0);
    }
  for (int64_t i = 0; i < 6; i++)
    cr_assert(i < 2 ? d.lse_ref[i] == -INFINITY : fabs(d.lse_ref[i] - by_hand(&d, i, -1, -1))
                                                      <= 1e-12, "LSE[%lld] = %.17g",
              (long long)i, d.lse_ref[i]);
  attn_data_release(&d);
}

/* GQA and paged, in every combination: each query head reads the KV head h / (H / HKV),
 * each key the row the block table names; the reference is the contract written out. */
Test(attn_op, reference_follows_gqa_and_the_block_table)
{
  static const int64_t hkvs[] = {8, 2, 1};
  for (int paged = 0; paged <= 1; paged++)
    for (size_t t = 0; t < 3; t++) {
      struct attn_problem p = prob(GEMM_F16, 2, 8, 5, 37, 8, t == 1);
      p.hkv = hkvs[t];
      p.paged = paged;
      struct attn_data d;
      cr_assert_eq(attn_data_init(&d, &p, 5 + t), AT_OK, "%s", at_last_error());
      for (int64_t b = 0; b < 2; b++)
        for (int64_t h = 0; h < 8; h++)
          for (int64_t i = 0; i < 5; i++) {
            const size_t r = (size_t)((b * 8 + h) * 5 + i);
            for (int64_t c = 0; c < 8; c++) {
              double want = by_hand_at(&d, b, h, i, c, -1);
              cr_assert(fabs(d.ref[r * 8 + (size_t)c] - want) <= 1e-12,
                        "paged %d hkv %lld: O[%lld][%lld][%lld][%lld] = %.17g, by hand %.17g",
                        paged, (long long)p.hkv, (long long)b, (long long)h, (long long)i,
                        (long long)c, d.ref[r * 8 + (size_t)c], want);
            }
            cr_assert(fabs(d.lse_ref[r] - by_hand_at(&d, b, h, i, -1, -1)) <= 1e-12);
          }
      /* heads of one group share K and V: with HKV 1 every head of a batch sees the same
       * keys, so two heads with equal Q rows would agree; different Q rows differ */
      if (p.hkv < 8)
        cr_assert_neq(d.ref[0], d.ref[5 * 8], "query heads 0 and 1 read different Q");
      attn_data_release(&d);
    }
}

/* The paged data: the block table names every page of the pool but the spares once, not in
 * order, and every pool row no key maps to holds the padding value. */
Test(attn_op, paged_pools_are_shuffled_and_padded)
{
  struct attn_problem p = prob(GEMM_BF16, 3, 4, 2, 37, 16, 1);
  p.hkv = 2;
  p.paged = 1;
  struct attn_data d;
  cr_assert_eq(attn_data_init(&d, &p, 9), AT_OK, "%s", at_last_error());
  const int64_t per = 3, pages = attn_pool_pages(&p); /* cdiv(37, 16) */
  cr_assert_eq(pages, 3 * (per + 1), "each sequence's pages and one spare");
  cr_assert_eq(attn_bt_elems(&p), (size_t)(3 * per));
  cr_assert_eq(attn_kv_elems(&p), (size_t)(pages * 16 * 2 * 16));
  int seen[64] = {0}, in_order = 1;
  for (int64_t e = 0; e < 3 * per; e++) {
    cr_assert(d.bt[e] >= 0 && d.bt[e] < pages, "BT[%lld] = %d", (long long)e, d.bt[e]);
    cr_assert_eq(seen[d.bt[e]]++, 0, "page %d twice", d.bt[e]);
    in_order &= d.bt[e] == e;
  }
  cr_assert_not(in_order, "the pages are shuffled");
  /* row 37 % 16 = 5 onwards of each sequence's last page, and the spare pages: padding */
  size_t pads = 0;
  for (int64_t pg = 0; pg < pages; pg++)
    for (int64_t r = 0; r < 16; r++) {
      bool used = false;
      for (int64_t b = 0; b < 3; b++)
        for (int64_t j = 0; j < 37; j++)
          used |= d.bt[b * per + j / 16] == pg && j % 16 == r;
      double k0 = gemm_elem_load(GEMM_BF16, d.k, (size_t)((pg * 16 + r) * 2 * 16));
      if (!used) {
        pads++;
        cr_assert_eq(k0, ATTN_PAD_VALUE, "page %lld row %lld", (long long)pg, (long long)r);
      } else {
        cr_assert_leq(fabs(k0), 1.0);
      }
    }
  cr_assert_eq(pads, (size_t)(3 * (48 - 37) + 3 * 16));
  attn_data_release(&d);
}

Test(attn_op, check_passes_the_reference_and_catches_errors)
{
  static const enum gemm_dtype dts[] = {GEMM_F32, GEMM_F16, GEMM_BF16};
  for (int t = 0; t < 3; t++) {
    struct attn_data d;
    struct attn_problem p = prob(dts[t], 1, 1, 9, 37, 32, t == 1);
    cr_assert_eq(attn_data_init(&d, &p, 3 + t), AT_OK);
    size_t n = attn_q_elems(&p), es = gemm_dtype_size(dts[t]);
    unsigned char *o = malloc(n * es);
    cr_assert_not_null(o);
    for (size_t e = 0; e < n; e++)
      gemm_elem_store(dts[t], o, e, (float)d.ref[e]);
    int64_t bad = -1;
    char msg[256];
    cr_assert_eq(attn_check(&d, o, NULL, &bad, msg, sizeof msg), AT_OK);
    cr_assert_eq(bad, 0, "%s: %s", gemm_dtype_name(dts[t]), msg);
    /* an element never written (the NaN poison) */
    memcpy(o + 5 * es, (unsigned char *)d.o0 + 5 * es, es);
    cr_assert_eq(attn_check(&d, o, NULL, &bad, msg, sizeof msg), AT_OK);
    cr_assert_eq(bad, 1);
    cr_assert(strstr(msg, "O[0][0][0][5] = nan"), "%s", msg);
    gemm_elem_store(dts[t], o, 5, (float)d.ref[5]);
    /* in f32: a row computed without one of its keys */
    if (dts[t] == GEMM_F32) {
      for (int64_t c = 0; c < 32; c++)
        gemm_elem_store(GEMM_F32, o, (size_t)(4 * 32 + c), (float)by_hand(&d, 4, c, 2));
      cr_assert_eq(attn_check(&d, o, NULL, &bad, msg, sizeof msg), AT_OK);
      cr_assert_geq(bad, 16, "a dropped key went unseen in row 4 (%lld columns)", (long long)bad);
    }
    free(o);
    attn_data_release(&d);
  }
}

/* Above ATTN_REF_FULL_WORK one query row in `stride` has a reference (a prefill's full
 * f64 reference took the whole first H200 call): one in every `stride` consecutive rows
 * of B H SQ, at a place that moves, with the full reference's values; the other rows must
 * be finite and within the head's max |v|. */
Test(attn_op, sampled_reference_rows_hold_the_full_values_and_still_catch)
{
  struct attn_problem p = prob(GEMM_BF16, 2, 3, 24, 33, 16, 1);
  p.lse = 1;
  struct attn_data full, d;
  cr_assert_eq(attn_data_init(&full, &p, 7), AT_OK);
  cr_assert_eq(full.stride, 1);
  cr_assert_eq(attn_data_init_stride(&d, &p, 7, 8), AT_OK);
  const int64_t rows = (int64_t)attn_lse_elems(&p), D = p.d;
  int64_t places = 0;
  for (int64_t r0 = 0; r0 + 8 <= rows; r0 += 8) {
    int n = 0;
    for (int64_t r = r0; r < r0 + 8; r++)
      if (attn_checked(&d, r)) {
        n++;
        places |= (int64_t)1 << (r - r0);
      }
    cr_assert_eq(n, 1, "rows %lld..%lld", (long long)r0, (long long)r0 + 7);
  }
  cr_assert_eq(places, 0xff, "the checked row does not move: %llx", (unsigned long long)places);
  for (int64_t r = 0; r < rows; r++) {
    cr_assert_eq(d.vmax[r / p.sq], full.vmax[r / p.sq]);
    for (int64_t c = 0; c < D; c++) {
      const size_t e = (size_t)(r * D + c);
      if (attn_checked(&d, r))
        cr_assert(d.ref[e] == full.ref[e] && d.wabs[e] == full.wabs[e], "row %lld", (long long)r);
      else
        cr_assert(isnan(d.ref[e]));
    }
  }
  size_t n = attn_q_elems(&p), nl = attn_lse_elems(&p);
  unsigned char *o = malloc(n * 2);
  float *lse = malloc(nl * sizeof *lse);
  for (size_t e = 0; e < n; e++)
    gemm_elem_store(GEMM_BF16, o, e, (float)full.ref[e]);
  for (size_t r = 0; r < nl; r++)
    lse[r] = (float)full.lse_ref[r];
  int64_t bad = -1, cr = 0, ur = 0;
  char msg[256];
  cr_assert_eq(attn_check(&d, o, lse, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 0, "%s", msg);
  while (!attn_checked(&d, cr) || cr % p.sq < 8) /* a checked row that sees keys */
    cr++;
  while (attn_checked(&d, ur))
    ur++;
  /* a checked row off by a key's worth: caught */
  gemm_elem_store(GEMM_BF16, o, (size_t)(cr * D + 3), (float)(full.ref[cr * D + 3] + 0.25));
  cr_assert_eq(attn_check(&d, o, lse, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1, "%s", msg);
  gemm_elem_store(GEMM_BF16, o, (size_t)(cr * D + 3), (float)full.ref[cr * D + 3]);
  /* an unchecked row: the NaN poison, and a value past every |v|: caught */
  memcpy(o + (size_t)(ur * D) * 2, d.o0, 2);
  cr_assert_eq(attn_check(&d, o, lse, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1, "%s", msg);
  cr_assert(strstr(msg, "expected a finite value"), "%s", msg);
  gemm_elem_store(GEMM_BF16, o, (size_t)(ur * D), 2.0f);
  cr_assert_eq(attn_check(&d, o, lse, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1, "%s", msg);
  gemm_elem_store(GEMM_BF16, o, (size_t)(ur * D), (float)full.ref[ur * D]);
  lse[ur] = NAN;
  cr_assert_eq(attn_check(&d, o, lse, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1, "%s", msg);
  struct attn_data x;
  cr_assert_eq(attn_data_init_stride(&x, &p, 7, 3), AT_USAGE);
  free(o);
  free(lse);
  attn_data_release(&d);
  attn_data_release(&full);
}

/* p_exact (a kernel that keeps P in f32) drops the P-rounding term: an error the term
 * allows, at the element where it is largest, passes without p_exact and fails with it. */
Test(attn_op, check_p_exact_drops_the_p_term)
{
  struct attn_data d;
  struct attn_problem p = prob(GEMM_F16, 1, 1, 3, 300, 64, 0);
  cr_assert_eq(attn_data_init(&d, &p, 11), AT_OK);
  size_t n = attn_q_elems(&p), e = 0;
  for (size_t i = 1; i < n; i++)
    e = d.wabs[i] > d.wabs[e] ? i : e;
  uint16_t *o = malloc(n * sizeof *o);
  cr_assert_not_null(o);
  for (size_t i = 0; i < n; i++)
    gemm_elem_store(GEMM_F16, o, i, (float)d.ref[i]);
  /* the largest f16 value above ref[e] that passes with the P term */
  int64_t bad = -1;
  char msg[256];
  double last_ok = d.ref[e];
  for (double delta = 0x1p-16; delta < 0.01; delta += 0x1p-16) {
    gemm_elem_store(GEMM_F16, o, e, (float)(d.ref[e] + delta));
    cr_assert_eq(attn_check(&d, o, NULL, &bad, msg, sizeof msg), AT_OK);
    if (bad)
      break;
    last_ok = gemm_elem_load(GEMM_F16, o, e);
  }
  cr_assert_eq(bad, 1, "some error fails even with the P term");
  cr_assert_gt(last_ok - d.ref[e], 0x1p-11 * fabs(d.ref[e]), "more than the output rounding");
  gemm_elem_store(GEMM_F16, o, e, (float)last_ok);
  cr_assert_eq(attn_check(&d, o, NULL, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 0, "%s", msg);
  d.p_exact = 1;
  cr_assert_eq(attn_check(&d, o, NULL, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1, "p_exact: %.9g against %.9g passed", last_ok, d.ref[e]);
  free(o);
  attn_data_release(&d);
}

/* With LSE: the reference's values pass, log2 units, a NaN (unwritten) and a finite value
 * where the row sees no key fail, each named; without an LSE buffer the call is refused. */
Test(attn_op, check_covers_lse)
{
  struct attn_problem p = prob(GEMM_F16, 1, 2, 6, 4, 16, 1); /* rows 0, 1 see no key */
  p.lse = 1;
  struct attn_data d;
  cr_assert_eq(attn_data_init(&d, &p, 4), AT_OK);
  size_t n = attn_q_elems(&p), nl = attn_lse_elems(&p);
  cr_assert_eq(nl, 12);
  unsigned char *o = malloc(n * 2);
  float *lse = malloc(nl * sizeof *lse);
  for (size_t e = 0; e < n; e++)
    gemm_elem_store(GEMM_F16, o, e, (float)d.ref[e]);
  for (size_t r = 0; r < nl; r++)
    lse[r] = (float)d.lse_ref[r];
  int64_t bad = -1;
  char msg[256];
  cr_assert_eq(attn_check(&d, o, NULL, &bad, msg, sizeof msg), AT_USAGE);
  cr_assert_eq(attn_check(&d, o, lse, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 0, "%s", msg);
  cr_assert(isinf(lse[0]) && lse[0] < 0);
  lse[9] = (float)(d.lse_ref[9] / log(2.0)); /* log2 units */
  cr_assert_eq(attn_check(&d, o, lse, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1);
  cr_assert(strstr(msg, "LSE[0][1][3] = "), "%s", msg);
  lse[9] = (float)d.lse_ref[9];
  lse[10] = NAN;
  lse[0] = 0.0f; /* a row with no key: -infinity, not 0 */
  cr_assert_eq(attn_check(&d, o, lse, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 2);
  cr_assert(strstr(msg, "LSE[0][0][0] = 0, expected -inf"), "%s", msg);
  /* off by more than the tolerance in a row that sees all 4 keys */
  lse[10] = (float)(d.lse_ref[10] + 20 * d.lse_tol[10]);
  lse[0] = -INFINITY;
  cr_assert_eq(attn_check(&d, o, lse, &bad, msg, sizeof msg), AT_OK);
  cr_assert_eq(bad, 1, "%s", msg);
  free(o);
  free(lse);
  attn_data_release(&d);
}

/* ---- the template: space --------------------------------------------------------- */

static void space_open(struct th_space *sp, const char *dev, int64_t sq, int64_t sk, int64_t d,
                       int causal)
{
  const int64_t dims[8] = {1, 1, 1, sq, sk, d, causal, 0}; /* B H HKV SQ SK D CAUSAL PAGED */
  th_space_open(sp, TEMPLATE, dev, dims, 8);
}

static const char *const params[] = {"BQ", "G", "BKV", "VEC_BYTES"};
/* The paged variants' shorter sample starts with the params of the loads. */
static const char *const load_params[] = {"VEC_BYTES", "BKV", "G", "BQ"};
#define PAGED_SAMPLE 6

/* The sample: for each value of each param (in the order of `order`, params by default),
 * the first config of the space that has it (each config once), at most cap.
 * OUT: which[] (indices into sp), returns how many. */
static size_t sample_of(const struct th_space *sp, const char *const *order, size_t *which,
                        size_t cap)
{
  size_t n = 0;
  for (size_t p = 0; p < 4; p++) {
    int idx = gen_space_param_index(sp->s, order[p]);
    cr_assert_geq(idx, 0);
    int64_t seen[16];
    size_t nseen = 0;
    for (size_t i = 0; i < sp->n; i++) {
      int64_t v = sp->cfg[i * sp->np + (size_t)idx];
      bool known = false;
      for (size_t q = 0; q < nseen; q++)
        known |= seen[q] == v;
      if (known)
        continue;
      seen[nseen++] = v;
      bool dup = false;
      for (size_t q = 0; q < n; q++)
        dup |= which[q] == i;
      if (!dup && n < cap)
        which[n++] = i;
    }
  }
  return n;
}

static size_t sample(const struct th_space *sp, size_t *which, size_t cap)
{
  return sample_of(sp, params, which, cap);
}

Test(attn_simt, space_on_gpus_and_host, .timeout = TIMEOUT)
{
  static const char *const devs[] = {"h100", "mi300x", "host"};
  for (size_t dv = 0; dv < 3; dv++)
    for (int64_t d = 64; d <= 128; d += 64) {
      struct th_space sp;
      space_open(&sp, devs[dv], 4096, 4096, d, 1);
      cr_log_info("attn_simt %s D=%lld: %zu valid configs", devs[dv], (long long)d, sp.n);
      cr_assert_gt(sp.n, 50, "%s D=%lld: %zu configs", devs[dv], (long long)d, sp.n);
      for (size_t i = 0; i < sp.n; i++) {
        int64_t g = th_space_get(&sp, i, "G"), threads = th_space_get(&sp, i, "THREADS");
        cr_assert_eq(th_space_get(&sp, i, "HD"), d);
        cr_assert_eq(th_space_get(&sp, i, "IS_CAUSAL"), 1);
        cr_assert_eq(th_space_get(&sp, i, "IS_PAGED"), 0);
        cr_assert_eq(d % g, 0);
        cr_assert_eq(threads % dev_find(devs[dv])->warp_size, 0);
        cr_assert_leq(2 * (d / g) + th_space_get(&sp, i, "BKV"), 160);
      }
      /* every value of every param is offered */
      size_t which[32];
      size_t n = sample(&sp, which, 32);
      cr_assert_geq(n, 5);
      for (size_t p = 0; p < 4; p++) {
        int64_t seen[16];
        size_t values = th_space_values(&sp, params[p], seen, 16);
        /* G = 1 at D = 128 would hold 2 x 128 values a thread: too many registers */
        const size_t want[] = {5, d == 128 ? 5 : 6, 3, 3};
        cr_assert_eq(values, want[p], "%s D=%lld: %zu values of %s", devs[dv], (long long)d,
                     values, params[p]);
      }
      th_space_close(&sp);
    }
  /* decode: one query row keeps only the smallest row blocks */
  struct th_space sp;
  space_open(&sp, "h100", 1, 4096, 128, 0);
  cr_assert_gt(sp.n, 10);
  for (size_t i = 0; i < sp.n; i++)
    cr_assert_leq(th_space_get(&sp, i, "BQ"), 4);
  th_space_close(&sp);
}

/* ---- compiling for the GPUs ------------------------------------------------------- */

static void compile_sample(const char *dev, const char *backend, const char *dtype, int64_t d,
                           int paged)
{
  struct th_space sp;
  const int64_t dims[8] = {1, 8, 2, 4096, 4096, d, 1, paged}; /* GQA 4:1 */
  th_space_open(&sp, TEMPLATE, dev, dims, 8);
  size_t which[32];
  size_t n = sample(&sp, which, 32);
  int64_t *cfg = malloc(n * sp.np * sizeof *cfg);
  cr_assert_not_null(cfg);
  for (size_t i = 0; i < n; i++)
    memcpy(cfg + i * sp.np, sp.cfg + which[i] * sp.np, sp.np * sizeof *cfg);
  struct bld_options o = {.batch = 16, .backend = backend,
                          .cache_dir = th_cache_dir(), .include_dirs = incs};
  struct bld_result r;
  cr_assert_eq(bld_run(sp.t, sp.s, dev_find(dev), sp.dims, dtype, cfg, n, &o, &r), AT_OK, "%s",
               at_last_error());
  int max_regs = 0;
  for (size_t i = 0; i < r.nvariants; i++) {
    const struct bld_variant *v = &r.variants[i];
    cr_assert_eq(v->verdict, BLD_OK, "%s %s %s: %s\n%s", dev, dtype, v->config_text, v->reason,
                 v->log ? v->log : "");
    max_regs = v->res.registers > max_regs ? v->res.registers : max_regs;
  }
  cr_log_info("attn_simt %s %s D=%lld paged=%d: %zu variants ok (no spills, occupancy > 0), at "
              "most %d registers", dev, dtype, (long long)d, paged, r.nvariants, max_regs);
  bld_result_release(&r);
  free(cfg);
  th_space_close(&sp);
}

Test(attn_simt, sample_compiles_for_sm90, .timeout = TIMEOUT)
{
  th_need_cc(&cc_nvrtc);
  compile_sample("h100", "nvrtc", "f16", 64, 0);
}

Test(attn_simt, sample_compiles_for_gfx942, .timeout = TIMEOUT)
{
  th_need_cc(&cc_clang_hip);
  compile_sample("mi300x", "clang-hip", "bf16", 128, 1); /* the paged variants */
}

/* ---- correctness on the host device ------------------------------------------------ */

struct shape {
  int64_t b, h, hkv, sq, sk;
  int paged, lse;
  int few;          /* long: only the sample's first FEW_CONFIGS configs */
};

#define FEW_CONFIGS 1

static const struct shape shapes[] = {
    {1, 1, 1, 1, 1, 0, 0, 0},     {1, 2, 2, 7, 13, 0, 1, 0},   {2, 4, 1, 33, 65, 1, 0, 0},
    {1, 2, 2, 64, 64, 0, 0, 0},   {1, 8, 1, 5, 40, 0, 1, 0},   {1, 4, 2, 40, 5, 1, 1, 0},
    {1, 8, 2, 1, 300, 1, 1, 0},   {1, 8, 1, 7, 300, 0, 1, 0},  {1, 2, 1, 1, 4099, 0, 0, 1},
    {1, 2, 1, 7, 4099, 1, 1, 1},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

/* The sample of attn_simt on the host for dtype, d and causal, contiguous and, with
 * `paged_too`, paged (the layout is compiled in: a second set of variants, so only half the
 * tests pay for it), run on every shape of its layout. */
static void run_host(const char *dtype, int64_t d, int causal, int paged_too)
{
  th_need_cc(&cc_host);
  enum gemm_dtype dt;
  cr_assert_eq(gemm_parse_dtype(dtype, &dt), AT_OK);
  size_t runs = 0, failures = 0, want_runs = 0;
  for (int paged = 0; paged <= paged_too; paged++) {
    struct th_space sp;
    const int64_t sdims[8] = {1, 1, 1, 4096, 4096, d, causal, paged};
    th_space_open(&sp, TEMPLATE, "host", sdims, 8);
    size_t which[32];
    size_t n = paged ? sample_of(&sp, load_params, which, PAGED_SAMPLE) : sample(&sp, which, 32);
    const int64_t *ptrs[32];
    for (size_t i = 0; i < n; i++)
      ptrs[i] = sp.cfg + which[i] * sp.np;
    struct th_hostk hk;
    meas_kernel kern[32];
    th_hostk_load_variants(&hk, &sp, dtype, ptrs, n, "host", kern);
    struct meas_ctx *ctx = hk.ctx;
    for (size_t s = 0; s < NSHAPES; s++) {
      const struct shape *sh = &shapes[s];
      if (sh->paged != paged)
        continue;
      struct attn_problem p = prob(dt, sh->b, sh->h, sh->sq, sh->sk, d, causal);
      p.hkv = sh->hkv, p.paged = sh->paged, p.lse = sh->lse;
      struct attn_data data;
      cr_assert_eq(attn_data_init(&data, &p, 11 + s), AT_OK, "%s", at_last_error());
      struct attn_buffers buf;
      cr_assert_eq(attn_buffers_init(&meas_host, ctx, &data, &buf), AT_OK, "%s",
                   at_last_error());
      int64_t dims[8] = {sh->b, sh->h, sh->hkv, sh->sq, sh->sk, d, causal, paged};
      struct gen_bind b = {.dev = dev_find("host"), .dims = dims, .dtype = dtype};
      size_t nrun = sh->few && n > FEW_CONFIGS ? FEW_CONFIGS : n;
      want_runs += nrun;
      for (size_t i = 0; i < nrun; i++) {
        struct gen_launch l;
        cr_assert_eq(gen_emit_launch(sp.t, &b, ptrs[i], &l), AT_OK, "%s", at_last_error());
        int64_t bad = 0;
        char msg[256] = "";
        int rc = attn_verify(&meas_host, ctx, kern[i], &l, &data, &buf, &bad, msg, sizeof msg);
        runs++;
        if (rc != AT_OK || bad != 0) {
          failures++;
          char *text = NULL;
          gen_space_config_text(sp.s, ptrs[i], &text);
          cr_log_error("%s D=%lld causal=%d b%lld h%lld hkv%lld sq%lld sk%lld paged=%d lse=%d "
                       "%s: %s, %lld wrong: %s", dtype, (long long)d, causal, (long long)sh->b,
                       (long long)sh->h, (long long)sh->hkv, (long long)sh->sq,
                       (long long)sh->sk, sh->paged, sh->lse, text ? text : "?",
                       at_status_name(rc), (long long)bad, rc != AT_OK ? at_last_error() : msg);
          free(text);
        }
      }
      attn_buffers_release(&meas_host, ctx, &buf);
      attn_data_release(&data);
    }
    th_hostk_close(&hk);
    th_space_close(&sp);
  }
  cr_log_info("attn_simt host %s D=%lld causal=%d paged too %d: %zu runs, %zu failures",
              dtype, (long long)d, causal, paged_too, runs, failures);
  cr_assert_eq(runs, want_runs);
  cr_assert_eq(failures, 0, "%zu of %zu runs wrong (see the log)", failures, runs);
}

Test(attn_simt, host_f32_d64, .timeout = TIMEOUT) { run_host("f32", 64, 0, 0); }
Test(attn_simt, host_f32_d40_causal_paged, .timeout = TIMEOUT) { run_host("f32", 40, 1, 1); }
Test(attn_simt, host_f16_d64_causal_paged, .timeout = TIMEOUT) { run_host("f16", 64, 1, 1); }
Test(attn_simt, host_f16_d128, .timeout = TIMEOUT) { run_host("f16", 128, 0, 0); }
Test(attn_simt, host_bf16_d64_paged, .timeout = TIMEOUT) { run_host("bf16", 64, 0, 1); }
Test(attn_simt, host_bf16_d32_causal, .timeout = TIMEOUT) { run_host("bf16", 32, 1, 0); }

#define PLANTED AT_SOURCE_DIR "/tests/data/templates/attn_planted.h"

/* The planted template's bugs, each run on the host for a paged GQA problem with LSE (the
 * null write of MODE 3 left out: it would take this process with it; attn_cmd sees it as
 * a fault): only MODE 0 passes, and each bug is named by the element it breaks. */
Test(attn_simt, planted_bugs_are_caught_on_the_host, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  const int64_t dims[8] = {2, 8, 2, 5, 37, 16, 1, 1};
  struct th_space sp;
  th_space_open(&sp, PLANTED, "host", dims, 8);
  const int64_t *ptrs[8];
  int modes[8];
  size_t n = 0;
  for (size_t i = 0; i < sp.n && n < 8; i++) {
    int mode = (int)th_space_get(&sp, i, "MODE");
    if (mode != 3) {
      modes[n] = mode;
      ptrs[n++] = sp.cfg + i * sp.np;
    }
  }
  cr_assert_eq(n, 5);
  struct th_hostk hk;
  meas_kernel kern[8];
  th_hostk_load_variants(&hk, &sp, "f32", ptrs, n, "host", kern);
  struct attn_problem p = prob(GEMM_F32, 2, 8, 5, 37, 16, 1);
  p.hkv = 2, p.paged = 1, p.lse = 1;
  struct attn_data data;
  struct attn_buffers buf;
  cr_assert_eq(attn_data_init(&data, &p, 21), AT_OK, "%s", at_last_error());
  cr_assert_eq(attn_buffers_init(&meas_host, hk.ctx, &data, &buf), AT_OK, "%s", at_last_error());
  struct gen_bind b = {.dev = dev_find("host"), .dims = dims, .dtype = "f32"};
  for (size_t i = 0; i < n; i++) {
    struct gen_launch l;
    cr_assert_eq(gen_emit_launch(sp.t, &b, ptrs[i], &l), AT_OK, "%s", at_last_error());
    int64_t bad = 0;
    char msg[256] = "";
    cr_assert_eq(attn_verify(&meas_host, hk.ctx, kern[i], &l, &data, &buf, &bad, msg, sizeof msg),
                 AT_OK, "MODE %d: %s", modes[i], at_last_error());
    if (modes[i] == 0) {
      cr_assert_eq(bad, 0, "MODE 0: %s", msg);
      continue;
    }
    cr_assert_gt(bad, 0, "MODE %d passed", modes[i]);
    /* 1, 2, 4 break O (4: heads 1 and 3 of each group of 4 read the wrong KV head), 5 only
     * LSE */
    const char *want = modes[i] == 5 ? "LSE[0][0][" : modes[i] == 4 ? "O[0][1][" : "O[0][0][";
    cr_assert(strstr(msg, want) == msg, "MODE %d: %s", modes[i], msg);
  }
  attn_buffers_release(&meas_host, hk.ctx, &buf);
  attn_data_release(&data);
  th_hostk_close(&hk);
  th_space_close(&sp);
}

/* ---- the command --------------------------------------------------------------------- */

struct trials {
  int n, ok;
  char layout[64], dims[64], op[32];
  double tflops;
};

static int trial_cb(void *ctx, const struct db_trial *t)
{
  struct trials *u = ctx;
  u->n++;
  u->ok += t->status == DB_TRIAL_OK;
  snprintf(u->op, sizeof u->op, "%s", t->problem.op);
  snprintf(u->layout, sizeof u->layout, "%s", t->problem.layout);
  char *dims = db_problem_dims_text(&t->problem);
  snprintf(u->dims, sizeof u->dims, "%s", dims ? dims : "");
  free(dims);
  if (t->status == DB_TRIAL_OK)
    u->tflops = t->tflops;
  return 0;
}

Test(attn_cmd, tunes_records_and_answers_queries, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  char *dir = th_tmpdir();
  char *db = th_path(dir, "a.db");
  struct th_result r;
  th_run(&r, "attention --device host --batch 1 --heads 2 --seqlen 33 --head-dim 64 --causal "
             "--budget 4 --jobs 2 --db '%s' --json", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"by_status\":{\"ok\":5,"), "every variant right: %s", r.out);
  cr_assert(strstr(r.out, "\"tflops\":"), "%s", r.out);
  th_result_free(&r);
  struct db *h = NULL;
  struct trials u = {0};
  cr_assert_eq(db_open(db, DB_READONLY, &h), AT_OK);
  cr_assert_eq(db_each_trial(h, trial_cb, &u), AT_OK);
  db_close(h);
  cr_assert_eq(u.n, 5);
  cr_assert_eq(u.ok, 5);
  cr_assert_str_eq(u.op, "attention");
  cr_assert_str_eq(u.layout, "hd64_causal");
  cr_assert_str_eq(u.dims, "b=1,h=2,sq=33,sk=33");
  cr_assert_gt(u.tflops, 0);
  /* the exact shape, a nearby one, never another head dim or mask */
  th_run(&r, "query attention --device host --dtype f32 --layout hd64_causal --dim b=1 "
             "--dim h=2 --dim sq=33 --dim sk=33 --db '%s'", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "exact match"), "%s", r.out);
  cr_assert(strstr(r.out, "HD=64,IS_CAUSAL=1"), "%s", r.out);
  th_result_free(&r);
  th_run(&r, "query attention --device host --dtype f32 --layout hd64_causal --dim b=1 "
             "--dim h=2 --dim sq=64 --dim sk=64 --db '%s'", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "nearest"), "%s", r.out);
  th_result_free(&r);
  th_run(&r, "query attention --device host --dtype f32 --layout hd128_causal --dim b=1 "
             "--dim h=2 --dim sq=33 --dim sk=33 --db '%s'", db);
  cr_assert_eq(r.code, 1, "another head dim is another family: %s", r.out);
  th_result_free(&r);
  th_run(&r, "query attention --device host --dtype f32 --layout hd64 --dim b=1 --dim h=2 "
             "--dim sq=33 --dim sk=33 --db '%s'", db);
  cr_assert_eq(r.code, 1, "the unmasked problem is another family: %s", r.out);
  th_result_free(&r);
  th_run(&r, "query attention --device host --dim b=1 --dim h=2 --dim sq=33 --dim sk=33 "
             "--db '%s'", db);
  cr_assert_eq(r.code, 2);
  cr_assert(strstr(r.err, "attention needs --layout hd<D>[_causal][_decode][_paged][_lse]"),
            "%s", r.err);
  th_result_free(&r);
  th_run(&r, "query attention --device host --layout hd999 --dim b=1 --dim h=2 --dim sq=3 "
             "--dim sk=3 --db '%s'", db);
  cr_assert_eq(r.code, 2);
  cr_assert(strstr(r.err, "bad attention layout 'hd999'"), "%s", r.err);
  th_result_free(&r);
  free(db);
  th_rmtree(dir);
  free(dir);
}

/* GQA, decode, paged and LSE from the command line: the v2 problem tuned on the host, every
 * variant right, recorded under its own family (hkv a dim, the words in the layout), which
 * a query with the same words and hkv finds and one without them never does. */
Test(attn_cmd, gqa_decode_paged_lse_tunes_and_keys_its_family, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  char *dir = th_tmpdir();
  char *db = th_path(dir, "g.db");
  struct th_result r;
  /* attn_simt alone: attn_decode fits this problem too (test_attn_decode.c tunes it) */
  th_run(&r, "attention --device host --heads 8 --kv-heads 2 --decode --seqlen 3 --kv-seqlen 40 "
             "--head-dim 16 --paged --lse --template attn_simt --budget 2 --variant-time 0.05 "
             "--db '%s' --json", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  struct db *h = NULL;
  struct trials u = {0};
  cr_assert_eq(db_open(db, DB_READONLY, &h), AT_OK);
  cr_assert_eq(db_each_trial(h, trial_cb, &u), AT_OK);
  db_close(h);
  cr_assert_eq(u.n, 3, "the default and 2 picks, not %d", u.n);
  cr_assert_eq(u.ok, 3, "%d of 3 right", u.ok);
  cr_assert_str_eq(u.layout, "hd16_causal_decode_paged_lse");
  cr_assert_str_eq(u.dims, "b=1,h=8,sq=3,sk=40,hkv=2");
  static const struct {
    const char *layout, *hkv;
    int code;
  } asks[] = {{"hd16_causal_decode_paged_lse", "--dim hkv=2", 0},
              {"hd16_causal_decode_paged_lse", "", 1},      /* MHA: another family */
              {"hd16_causal_decode_paged", "--dim hkv=2", 1}, /* no LSE */
              {"hd16_causal_decode_lse", "--dim hkv=2", 1},   /* not paged */
              {"hd16_causal_paged_lse", "--dim hkv=2", 1}};   /* not a decode */
  for (size_t i = 0; i < sizeof asks / sizeof asks[0]; i++) {
    th_run(&r, "query attention --device host --dtype f32 --layout %s --dim b=1 --dim h=8 "
               "--dim sq=3 --dim sk=40 %s --db '%s'", asks[i].layout, asks[i].hkv, db);
    cr_assert_eq(r.code, asks[i].code, "%s %s: exit %d: %s%s", asks[i].layout, asks[i].hkv,
                 r.code, r.out, r.err);
    if (asks[i].code == 0)
      cr_assert(strstr(r.out, "exact match") && strstr(r.out, "IS_PAGED=1"), "%s", r.out);
    th_result_free(&r);
  }
  th_run(&r, "query attention --device host --dtype f32 --layout hd16 --dim b=1 --dim h=8 "
             "--dim sq=3 --dim sk=40 --dim hkv=3 --db '%s'", db);
  cr_assert_eq(r.code, 2);
  cr_assert(strstr(r.err, "bad --dim hkv=3 (expected a divisor of h=8)"), "%s", r.err);
  th_result_free(&r);
  free(db);
  th_rmtree(dir);
  free(dir);
}

#if defined(__SANITIZE_ADDRESS__)
#define SAN_FLAGS "-fsanitize=address,undefined"
#else
#define SAN_FLAGS ""
#endif

/* A program that includes the tuned header and runs the paged GQA LSE launcher on the
 * host for the tuned shape and an untuned one (the nearest's config), each against a
 * double-precision reference written out here from the contract. */
static const char attn_app[] =
    "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <vector>\n"
    "#include \"tuned_attn.h\"\n"
    "static unsigned long long st = 88172645463325252ULL;\n"
    "static float val() { st ^= st << 13; st ^= st >> 7; st ^= st << 17;\n"
    "  return (float)((int)(st % 9) - 4) * 0.25f; }\n"
    "static int run(int B, int H, int HKV, int SQ, int SK) {\n"
    "  const int D = 16, per = (SK + 15) / 16, pages = B * per + 3;\n"
    "  std::vector<float> q((size_t)B * H * SQ * D), k((size_t)pages * 16 * HKV * D),\n"
    "      v(k.size()), o(q.size(), NAN), lse((size_t)B * H * SQ, NAN);\n"
    "  std::vector<int> bt((size_t)B * per);\n"
    "  for (auto &x : q) x = val();\n  for (auto &x : k) x = val();\n"
    "  for (auto &x : v) x = val();\n"
    "  for (int i = 0; i < B * per; i++) bt[i] = (i * 7 + 3) % pages; /* not in order */\n"
    "  at_tuned_attn_choice c = at_tuned_attention_f32_hd16_causal_paged_lse_choice(B, H, HKV,\n"
    "                                                                             SQ, SK);\n"
    "  if (at_tuned_attention_f32_hd16_causal_paged_lse_workspace_size(B, H, HKV, SQ, SK) != 0)\n"
    "    return printf(\"workspace\\n\"), 1;\n"
    "  int rc = at_tuned_attention_f32_hd16_causal_paged_lse(q.data(), k.data(), v.data(),\n"
    "      o.data(), lse.data(), bt.data(), B, H, HKV, SQ, SK, 0.0f, nullptr);\n"
    "  if (rc) return printf(\"launch %d\\n\", rc), 1;\n"
    "  int bad = 0;\n"
    "  for (int b = 0; b < B; b++) for (int h = 0; h < H; h++) for (int i = 0; i < SQ; i++) {\n"
    "    const int g = h / (H / HKV), nk = i + SK - SQ + 1;\n"
    "    const float *qr = &q[(((size_t)b * H + h) * SQ + i) * D];\n"
    "    std::vector<double> s(SK);\n    double mx = -HUGE_VAL, sum = 0;\n"
    "    for (int j = 0; j < nk; j++) {\n"
    "      const float *kr = &k[(((size_t)bt[b * per + j / 16] * 16 + j % 16) * HKV + g) * D];\n"
    "      double d = 0;\n      for (int e = 0; e < D; e++) d += (double)qr[e] * kr[e];\n"
    "      s[j] = d / 4.0;\n      mx = s[j] > mx ? s[j] : mx;\n    }\n"
    "    for (int j = 0; j < nk; j++) sum += (s[j] = exp(s[j] - mx));\n"
    "    const size_t row = ((size_t)b * H + h) * SQ + i;\n"
    "    if (nk > 0 && !(fabs(lse[row] - (mx + log(sum))) <= 1e-4)) bad++;\n"
    "    for (int e = 0; e < D; e++) {\n      double want = 0;\n"
    "      for (int j = 0; j < nk; j++)\n"
    "        want += s[j] * v[(((size_t)bt[b * per + j / 16] * 16 + j % 16) * HKV + g) * D + e];\n"
    "      want = nk > 0 ? want / sum : 0;\n"
    "      if (!(fabs(o[row * D + e] - want) <= 1e-4)) bad++;\n    }\n  }\n"
    "  printf(\"%d %d %d %d %d: %s %s exact=%d from sk=%lld, %d wrong\\n\", B, H, HKV, SQ,\n"
    "         SK, c.kernel, c.config, c.exact, c.sk, bad);\n"
    "  return bad != 0;\n}\n"
    "int main() { return run(2, 4, 2, 5, 37) | run(1, 4, 2, 3, 50); }\n";

/* emit-header attention --mode kernels: the header instantiates the winners, and its
 * launcher, built as host C++ against libautotune, computes the tuned problem (paged,
 * GQA, LSE) and an untuned shape right, exact for the first and nearest for the second. */
Test(attn_cmd, kernels_header_runs_the_tuned_attention, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  char *dir = th_tmpdir();
  char *db = th_path(dir, "h.db"), *hdr = th_path(dir, "tuned_attn.h");
  struct th_result r;
  th_run(&r, "attention --device host --batch 2 --heads 4 --kv-heads 2 --seqlen 5 --kv-seqlen "
             "37 --head-dim 16 --causal --paged --lse --budget 1 --variant-time 0.05 --db '%s'",
         db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_run(&r, "emit-header attention --device host --db '%s' --out '%s'", db, hdr);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *src = th_path(dir, "app.cpp");
  FILE *f = fopen(src, "w");
  cr_assert_not_null(f);
  fputs(attn_app, f);
  fclose(f);
  char *bdir = strdup(AT_BINARY);
  *strrchr(bdir, '/') = '\0';
  th_sh(&r, "cd '%s' && c++ -std=c++17 -O1 " SAN_FLAGS " app.cpp -I. -isystem '"
            AT_TEMPLATES_DIR "' -isystem '" AT_TEMPLATES_DIR "/common' -I'" AT_SOURCE_DIR
            "/include' '%s/libautotune.a' -lsqlite3 -lpthread -ldl -lm -o app && ./app",
        dir, bdir);
  cr_assert_eq(r.code, 0, "%s\n%s", r.out, r.err);
  /* the winner may be attn_simt or attn_decode (both fit a 5-query paged GQA problem) */
  cr_assert(strstr(r.out, "2 4 2 5 37: attn_") && strstr(r.out, "exact=1 from sk=37, 0 "
                   "wrong"), "%s", r.out);
  cr_assert(strstr(r.out, "1 4 2 3 50: attn_") && strstr(r.out, "exact=0 from sk=37, 0 "
                   "wrong"), "%s", r.out);
  th_result_free(&r);
  free(bdir);
  free(src);
  free(hdr);
  free(db);
  th_rmtree(dir);
  free(dir);
}

/* Without --causal and with it: both run through the engine, every measured variant
 * right against the op (no mask where there is none, the mask where there is), and
 * recorded under their own layouts. (Before the one engine, attention without --causal
 * always exited 2: its CAUSAL=0 dim was refused.) */
Test(attn_cmd, non_causal_and_causal_both_run, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  char *dir = th_tmpdir();
  static const struct {
    const char *flag, *layout;
  } cases[] = {{"", "hd32"}, {"--causal", "hd32_causal"}};
  for (size_t i = 0; i < 2; i++) {
    char *db = th_path(dir, i ? "c.db" : "n.db");
    struct th_result r;
    th_run(&r, "attention --device host --heads 2 --seqlen 24 --kv-seqlen 40 --head-dim 32 "
               "%s --budget 2 --variant-time 0.05 --db '%s'", cases[i].flag, db);
    cr_assert_eq(r.code, 0, "%s: exit %d: %s", cases[i].layout, r.code, r.err);
    th_result_free(&r);
    struct db *h = NULL;
    struct trials u = {0};
    cr_assert_eq(db_open(db, DB_READONLY, &h), AT_OK);
    cr_assert_eq(db_each_trial(h, trial_cb, &u), AT_OK);
    db_close(h);
    cr_assert_eq(u.n, 3, "%s: the default and 2 picks, not %d", cases[i].layout, u.n);
    cr_assert_eq(u.ok, 3, "%s: %d of 3 right", cases[i].layout, u.ok);
    cr_assert_str_eq(u.layout, cases[i].layout);
    cr_assert_str_eq(u.dims, "b=1,h=2,sq=24,sk=40");
    free(db);
  }
  th_rmtree(dir);
  free(dir);
}

static int status_cb(void *ctx, const struct db_trial *t)
{
  char(*st)[2][160] = ctx;
  const char *m = strstr(t->config, "MODE=");
  cr_assert_not_null(m, "%s", t->config);
  int mode = m[5] - '0';
  cr_assert(mode >= 0 && mode < 6);
  snprintf(st[mode][0], sizeof st[mode][0], "%s", db_trial_status_name(t->status));
  snprintf(st[mode][1], sizeof st[mode][1], "%s", t->message ? t->message : "");
  return 0;
}

/* Every variant is checked against the op, not against another config: a dropped key and
 * a missing scale are verify_failed with the element named, a SIGSEGV is a fault, the run
 * goes on and succeeds on the one right variant. */
Test(attn_cmd, every_variant_is_checked_against_the_op, .timeout = TIMEOUT)
{
  th_need_cc(&cc_host);
  char *dir = th_tmpdir();
  char *db = th_path(dir, "p.db");
  struct th_result r;
  th_run(&r, "attention --device host --heads 2 --seqlen 20 --kv-seqlen 24 --head-dim 16 "
             "--causal --template '%s' --budget -1 --timeout 20 --db '%s' --json",
         AT_SOURCE_DIR "/tests/data/templates/attn_planted.h", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  /* MHA without LSE: MODE 4 (the GQA head mapping) and 5 (LSE) compute O right */
  cr_assert(strstr(r.out, "\"by_status\":{\"ok\":3,\"compile_error\":0,\"verify_failed\":2,"
                          "\"launch_error\":0,\"fault\":1,"), "%s", r.out);
  th_result_free(&r);
  char st[6][2][160];
  memset(st, 0, sizeof st);
  struct db *h = NULL;
  cr_assert_eq(db_open(db, DB_READONLY, &h), AT_OK);
  cr_assert_eq(db_each_trial(h, status_cb, st), AT_OK);
  db_close(h);
  cr_assert_str_eq(st[0][0], "ok");
  cr_assert_str_eq(st[1][0], "verify_failed");
  cr_assert(strstr(st[1][1], "O[0][0][0][0] = "), "%s", st[1][1]);
  cr_assert_str_eq(st[2][0], "verify_failed");
  cr_assert_str_eq(st[3][0], "fault");
  cr_assert_str_eq(st[4][0], "ok");
  cr_assert_str_eq(st[5][0], "ok");
  free(db);
  /* GQA, paged, LSE: the head mapping and the LSE units matter now */
  db = th_path(dir, "q.db");
  th_run(&r, "attention --device host --heads 4 --kv-heads 2 --seqlen 20 --kv-seqlen 24 "
             "--head-dim 16 --causal --paged --lse --template '%s' --budget -1 --timeout 20 "
             "--db '%s' --json", AT_SOURCE_DIR "/tests/data/templates/attn_planted.h", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"by_status\":{\"ok\":1,\"compile_error\":0,\"verify_failed\":4,"
                          "\"launch_error\":0,\"fault\":1,"), "%s", r.out);
  th_result_free(&r);
  memset(st, 0, sizeof st);
  cr_assert_eq(db_open(db, DB_READONLY, &h), AT_OK);
  cr_assert_eq(db_each_trial(h, status_cb, st), AT_OK);
  db_close(h);
  cr_assert_str_eq(st[0][0], "ok");
  cr_assert(strstr(st[4][1], "O[0][1][0][0] = "), "%s", st[4][1]);
  cr_assert(strstr(st[5][1], "LSE[0][0][0] = "), "%s", st[5][1]);
  free(db);
  th_rmtree(dir);
  free(dir);
}

Test(attn_cmd, bad_input_is_one_line_and_exit_2, .timeout = TIMEOUT)
{
  static const struct {
    const char *args, *says;
  } cases[] = {
      {"--device host --seqlen 8", "needs --seqlen and --head-dim"},
      {"--seqlen 8 --head-dim 64", "needs --device"},
      {"--device host --seqlen 8 --head-dim 300", "bad --head-dim '300' (expected an integer "
                                                  "from 1 to 256)"},
      {"--device host --seqlen 0 --head-dim 64", "bad --seqlen '0'"},
      {"--device host --seqlen 8 --head-dim 64 --heads -2", "bad --heads '-2'"},
      {"--device host --seqlen 8 --head-dim 64 --dtype f64", "bad --dtype 'f64'"},
      {"--device host --seqlen 8 --head-dim 64 --template nosuch", "unknown attention "
                                                                  "template 'nosuch'"},
      {"--device nosuch --seqlen 8 --head-dim 64", "unknown device 'nosuch'"},
      {"--device host --seqlen 8 --head-dim 64 --heads 8 --kv-heads 3",
       "bad --kv-heads 3 (expected a divisor of --heads 8)"},
      {"--device host --seqlen 8 --head-dim 64 --heads 2 --kv-heads 4",
       "bad --kv-heads 4 (expected a divisor of --heads 2)"},
      {"--device host --seqlen 8 --head-dim 64 --kv-heads 0", "bad --kv-heads '0'"},
      {"--device host --decode --head-dim 64", "--decode needs --kv-seqlen"},
      {"--device host --decode --seqlen 17 --kv-seqlen 64 --head-dim 64",
       "bad --seqlen 17 with --decode (expected at most 16 new queries"},
      {"--device host --seqlen 8 --head-dim 64 --paged --paged", "'--paged' is given twice"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct th_result r;
    th_run(&r, "attention %s --db /nonexistent/never.db", cases[i].args);
    cr_assert_eq(r.code, 2, "%s: exit %d: %s", cases[i].args, r.code, r.err);
    cr_assert(strstr(r.err, cases[i].says), "%s: %s", cases[i].args, r.err);
    cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "one line: %s", r.err);
    th_result_free(&r);
  }
}
