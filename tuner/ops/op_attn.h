/*
 * op_attn.h - the attention op (forward) as the tuner runs it: the contract every
 * attention template meets, deterministic inputs, the host reference, the FLOP and byte
 * counts, and the dtype-aware check of a result. docs/attention.md says the same for
 * template writers.
 *
 * The contract (v2; docs/attention.md says it for template writers):
 *   O[b][h][i] = sum_j softmax_j(scale * Q[b][h][i] . K[b][g][j]) V[b][g][j],
 *   g = h / (H / HKV)
 *   for batch b < B, query head h < H, query row i < SQ, over the keys j < SK it sees:
 *   all of them, or with CAUSAL only j <= i + SK - SQ (the mask aligned to the bottom
 *   right, as FlashAttention 2 does when SQ != SK). HKV key/value heads, H a multiple of
 *   HKV: consecutive query heads share a KV head (GQA; HKV == H is MHA, 1 MQA). A row
 *   that sees no key is 0. scale == 0 means 1 / sqrt(D). Q and O are [B][H][SQ][D]; K and
 *   V [B][HKV][SK][D], contiguous and row-major, or PAGED: page pools [NPAGES][16][HKV][D]
 *   (ATTN_PAGE tokens a page) and BT, the block table, int32 [B][cdiv(SK, 16)]: key j of
 *   batch b is row j % 16 of page BT[b][j / 16] (BT NULL when not paged). Elements in the
 *   dtype (f32, f16 or bf16); accumulation in f32. LSE, when not NULL: f32 [B][H][SQ],
 *   the natural log of each row's softmax denominator, log(sum_j exp(scale * q.k_j)),
 *   -INFINITY for a row that sees no key.
 *   A template declares
 *     #pragma autotune problem B, H, HKV, SQ, SK, D, CAUSAL, PAGED
 *     #pragma autotune dtype T
 *   (DECODE and LSE are dims too, 0 or 1, for a template that wants to require them)
 *   and its kernel's parameters are, in this order,
 *     (const T *Q, const T *K, const T *V, T *O, float *LSE, const int *BT,
 *      int B, int H, int HKV, int SQ, int SK, float scale [, void *WS])
 *   which is ATTN_ARG_KINDS for the host backend ("p" more with a workspace pragma).
 *   D, CAUSAL and PAGED are compiled in; HKV is a runtime argument.
 */
#ifndef AT_TUNER_OPS_OP_ATTN_H
#define AT_TUNER_OPS_OP_ATTN_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "tuner/ops/op_gemm.h"

#define ATTN_ARG_KINDS "ppppppiiiiif"
#define ATTN_ARG_NAMES "Q,K,V,O,LSE,BT,B,H,HKV,SQ,SK,scale" /* meas_launch.arg_names */
#define ATTN_PAGE 16          /* tokens a page of a paged KV cache */
#define ATTN_DECODE_MAX_SQ 16 /* queries of a decode problem, at most */
#define ATTN_MAX_D 256        /* head dim, at most */

struct attn_problem {
  enum gemm_dtype dtype;
  int64_t batch, heads, sq, sk, d;
  int64_t hkv;                /* key/value heads: a divisor of heads (heads: MHA) */
  int causal;                 /* 0 or 1 */
  int paged;                  /* 0 or 1: K and V in page pools through a block table */
  int lse;                    /* 0 or 1: the kernel writes LSE */
  int decode;                 /* 0 or 1: a decode step (sq <= ATTN_DECODE_MAX_SQ against the
                                 cache); names the family, the math is the same */
  float scale;                /* 0: 1 / sqrt(d) */
};

/* The layout words (attn_parse_layout's flags). */
#define ATTN_L_CAUSAL 1u
#define ATTN_L_DECODE 2u
#define ATTN_L_PAGED 4u
#define ATTN_L_LSE 8u

/* The problem's family as the tuning database records it, in the layout field: the head
 * dim and the words for what is compiled in or changes the kernel, in this order,
 * "hd<D>[_causal][_decode][_paged][_lse]" ("hd128", "hd128_causal_decode_paged"), so a
 * nearest-shape lookup never crosses them. Writes at most cap bytes into buf; returns
 * buf. attn_parse_layout reads it back (OUT: *d, *flags ATTN_L_*; either may be NULL):
 * AT_USAGE, naming the text and what was expected, otherwise. */
const char *attn_layout(const struct attn_problem *p, char *buf, size_t cap);
int attn_parse_layout(const char *s, int64_t *d, unsigned *flags);

/* The problem's key (op "attention", dtype, attn_layout in layout_buf), dims b, h, sq, sk,
 * then hkv only when hkv != heads (so MHA records made before GQA keep their key, and a
 * GQA problem never matches an MHA one: the dim names differ). OUT: *key (its strings
 * static or in layout_buf). */
struct db_problem;
void attn_problem_key(const struct attn_problem *p, struct db_problem *key, char *layout_buf,
                      size_t cap);

/* AT_USAGE, naming the field and what was expected, unless every dim is at least 1,
 * d <= ATTN_MAX_D, hkv divides heads, causal, paged, lse and decode are 0 or 1, a decode
 * problem has at most ATTN_DECODE_MAX_SQ queries, scale is finite and each tensor's
 * elements fit an int. */
int attn_problem_check(const struct attn_problem *p);
size_t attn_q_elems(const struct attn_problem *p);  /* B H SQ D: Q and O */
/* Elements of K (and of V) as stored: B HKV SK D, or paged the pool's
 * attn_pool_pages * ATTN_PAGE * HKV * D. */
size_t attn_kv_elems(const struct attn_problem *p);
size_t attn_lse_elems(const struct attn_problem *p); /* B H SQ */
/* Paged: block table entries B * cdiv(SK, ATTN_PAGE), and pages in each pool (those
 * and one spare page a sequence no table entry names); 0 when not paged. */
size_t attn_bt_elems(const struct attn_problem *p);
int64_t attn_pool_pages(const struct attn_problem *p);
/* Query-key pairs the mask lets through, summed over rows (B H of them per head). */
double attn_pairs(const struct attn_problem *p);
double attn_flops(const struct attn_problem *p);   /* 4 D per visible pair (QK^T, PV) */
/* Q, the keys and values read once (HKV heads, the pages in use), O (and LSE, the block
 * table) written or read once. */
double attn_bytes(const struct attn_problem *p);

/* Host-side tensors in the dtype's storage, deterministic for a seed: every value of Q,
 * K and V an integer in [-4, 4] times 1/4 (exact in every dtype, so each Q.K is exact in
 * f32), O0 (O before the call) NaN everywhere, so an element the kernel does not write
 * shows. Paged: the pages of all sequences (and the spares) shuffled in the pools, bt the
 * block table; the rows of a last page past SK and the spare pages hold ATTN_PAD_VALUE,
 * so a kernel that reads a key it must not see goes wrong. ref: the reference O in f64;
 * vmax: max |V| per (b, h) over the keys its KV head has; wabs: per O element
 * sum_j w_j |V[j][c]| (w_j the softmax weights), what rounding P to the input type before
 * P V can move it by, relative; lse_ref, lse_tol: each row's reference LSE and its
 * tolerance (attn_check). */
#define ATTN_PAD_VALUE 64.0
struct attn_data {
  struct attn_problem p;
  void *q, *k, *v, *o0;       /* malloc'd; k, v attn_kv_elems each */
  int32_t *bt;                /* paged: attn_bt_elems; NULL otherwise */
  double *ref;                /* B H SQ D */
  double *wabs;               /* B H SQ D */
  double *vmax;               /* B H */
  double *lse_ref, *lse_tol;  /* B H SQ */
  int p_exact;                /* 1: the kernel under test keeps P in f32 (attn_decode's
                                 SIMT softmax), attn_check drops the u_p wabs term; 0
                                 (as attn_data_init leaves it): P may be rounded */
  int64_t stride;             /* 1: every query row (of all B H SQ) has a reference; S (a
                                 power of two) for problems of more than
                                 ATTN_REF_FULL_WORK: one row in each S consecutive rows,
                                 at a place that moves from block to block
                                 (attn_checked); the others' ref, wabs, lse_ref are NaN */
};

/* The reference's work bound (B H SQ SK D): above it (a 64k-token prefill of 32 heads of
 * 128 is 2.7e11 at 1k) only one query row in `stride` gets a reference: seconds on a GPU
 * node's cores, not the many minutes that left the first H200 run (2026-12-04) without a
 * single attention trial. Every other output is still checked: finite and no larger than
 * the head's max |v| (an average of V rows) within the tolerance. */
#define ATTN_REF_FULL_WORK 2e9
bool attn_checked(const struct attn_data *d, int64_t row);
int attn_data_init(struct attn_data *d, const struct attn_problem *p, uint64_t seed);
/* The same with the reference's stride given (a power of two; 0: chosen by the bound). */
int attn_data_init_stride(struct attn_data *d, const struct attn_problem *p, uint64_t seed,
                          int64_t stride);
/* The same inputs (and O0) without the reference (ref and vmax NULL; attn_check refuses
 * such data): for problems too large for a host reference, checked some other way. */
int attn_data_inputs(struct attn_data *d, const struct attn_problem *p, uint64_t seed);
void attn_data_release(struct attn_data *d);

/* Check a result O (dtype storage) against d->ref: every element of a checked row
 * (attn_checked; all of them unless d->stride > 1) within
 *   tol = u_out |ref| + u_p wabs + 2 (D + 2 SK + 64) 2^-24 vmax + floor
 * (u_out: the output's rounding, f32 2^-24, f16 2^-11, bf16 2^-8; u_p wabs: P rounded to
 * the input type before P V, as every matrix-core kernel and FlashAttention do (u_p the
 * f16/bf16 roundoff, 0 for f32 and with d->p_exact); the third term bounds f32 dot
 * products, exp2 and the running sums; floor: the output's smallest subnormal).
 * With p.lse, also every LSE value (lse, attn_lse_elems floats) within
 *   tol = 2 (D + 2 SK + 64) 2^-24 (1 + smax)
 * of d->lse_ref (smax: the row's largest scale * sum_c |q_c k_c|, which bounds the f32
 * error of its logits; the sums add a relative error that the log turns absolute), and
 * -INFINITY exactly where the row sees no key. A NaN fails. lse is ignored without
 * p.lse. OUT: *bad (wrong O elements and LSE values), msg (the first: "O[0][1][5][3] =
 * 0.25, expected 0.5 (tolerance 1e-06)", "LSE[0][1][5] = ..."). AT_OK even when bad > 0;
 * AT_USAGE for a NULL argument (lse NULL with p.lse among them). */
int attn_check(const struct attn_data *d, const void *o, const float *lse, int64_t *bad,
               char *msg, size_t msg_len);

#endif
