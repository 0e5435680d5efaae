/*
 * op_attn.h - the attention op (forward) as the tuner runs it: the contract every
 * attention template meets, deterministic inputs, the host reference, the FLOP and byte
 * counts, and the dtype-aware check of a result. docs/attention.md says the same for
 * template writers.
 *
 * The contract:
 *   O[b][h][i] = sum_j softmax_j(scale * Q[b][h][i] . K[b][h][j]) V[b][h][j]
 *   for batch b < B, head h < H, query row i < SQ, over the keys j < SK it sees: all of
 *   them, or with CAUSAL only j <= i + SK - SQ (the mask aligned to the bottom right,
 *   as FlashAttention 2 does when SQ != SK). A row that sees no key is 0. scale == 0
 *   means 1 / sqrt(D). Q and O are [B][H][SQ][D], K and V [B][H][SK][D], contiguous
 *   and row-major, in the dtype (f32, f16 or bf16); accumulation in f32.
 *   A template declares
 *     #pragma autotune problem B, H, SQ, SK, D, CAUSAL
 *     #pragma autotune dtype T
 *   and its kernel's parameters are, in this order,
 *     (const T *Q, const T *K, const T *V, T *O, int B, int H, int SQ, int SK,
 *      float scale)
 *   which is ATTN_ARG_KINDS for the host backend. D and CAUSAL are compiled in.
 */
#ifndef AT_TUNER_OPS_OP_ATTN_H
#define AT_TUNER_OPS_OP_ATTN_H

#include <stddef.h>
#include <stdint.h>

#include "tuner/ops/op_gemm.h"

#define ATTN_ARG_KINDS "ppppiiiif"
#define ATTN_ARG_NAMES "Q,K,V,O,B,H,SQ,SK,scale" /* meas_launch.arg_names */

struct attn_problem {
  enum gemm_dtype dtype;
  int64_t batch, heads, sq, sk, d;
  int causal;                 /* 0 or 1 */
  float scale;                /* 0: 1 / sqrt(d) */
};

/* The problem's family as the tuning database records it, in the layout field: the head
 * dim and the mask, "hd128" or "hd128_causal" (both are compiled into a variant, so a
 * nearest-shape lookup must never cross them; the dims recorded are b, h, sq, sk).
 * Writes at most cap bytes into buf; returns buf. attn_parse_layout reads it back:
 * AT_USAGE, naming the text and what was expected, otherwise. */
const char *attn_layout(const struct attn_problem *p, char *buf, size_t cap);
int attn_parse_layout(const char *s, int64_t *d, int *causal);

/* AT_USAGE, naming the field and what was expected, unless every dim is at least 1,
 * d <= 256, causal is 0 or 1, scale is finite and each tensor's elements fit an int. */
int attn_problem_check(const struct attn_problem *p);
size_t attn_q_elems(const struct attn_problem *p);  /* B H SQ D: Q and O */
size_t attn_kv_elems(const struct attn_problem *p); /* B H SK D: K and V */
/* Query-key pairs the mask lets through, summed over rows (B H of them per head). */
double attn_pairs(const struct attn_problem *p);
double attn_flops(const struct attn_problem *p);   /* 4 D per visible pair (QK^T, PV) */
double attn_bytes(const struct attn_problem *p);   /* Q, K, V read once, O written */

/* Host-side tensors in the dtype's storage, deterministic for a seed: every value of Q,
 * K and V an integer in [-4, 4] times 1/4 (exact in every dtype, so each Q.K is exact in
 * f32), O0 (O before the call) NaN everywhere, so an element the kernel does not write
 * shows. ref: the reference O in f64; vmax: max |V| per (b, h). */
struct attn_data {
  struct attn_problem p;
  void *q, *k, *v, *o0;       /* malloc'd */
  double *ref;                /* B H SQ D */
  double *vmax;               /* B H */
};
int attn_data_init(struct attn_data *d, const struct attn_problem *p, uint64_t seed);
/* The same inputs (and O0) without the reference (ref and vmax NULL; attn_check refuses
 * such data): for problems too large for a host reference, checked some other way. */
int attn_data_inputs(struct attn_data *d, const struct attn_problem *p, uint64_t seed);
void attn_data_release(struct attn_data *d);

/* Check a result O (dtype storage) against d->ref: every element within
 *   tol = u_out |ref| + 2 (D + 2 SK + 64) 2^-24 vmax + floor
 * (u_out: the output's rounding, f32 2^-24, f16 2^-11, bf16 2^-8; the second term bounds
 * f32 dot products, exp2 and the running sums; floor: the output's smallest subnormal).
 * A NaN fails. OUT: *bad, msg (the first: "O[0][1][5][3] = 0.25, expected 0.5
 * (tolerance 1e-06)"). AT_OK even when bad > 0. */
int attn_check(const struct attn_data *d, const void *o, int64_t *bad, char *msg,
               size_t msg_len);

#endif
