/*
 * op_gemm.h - the GEMM op as the tuner runs it: the contract every GEMM template meets,
 * deterministic inputs, the host reference, the FLOP and byte counts, and the
 * dtype-aware check of a result. (op.h holds the op's names; this is its behaviour.)
 *
 * The contract (docs/gemm.md says the same for template writers):
 *   C = alpha * op(A) * op(B) + beta * C, M, N, K >= 1, accumulation in f32.
 *   Layout "XY": X for A, Y for B. 'N': A is stored M x K row-major (lda >= K), B is
 *   K x N row-major (ldb >= N). 'T': stored transposed, A as K x M row-major (lda >= M),
 *   B as N x K row-major (ldb >= K). C is M x N row-major (ldc >= N) in the input dtype.
 *   beta == 0: C is not read (it may hold NaN).
 *   A template declares
 *     #pragma autotune problem M, N, K, TA, TB      (TA/TB: 1 where the layout says 'T')
 *     #pragma autotune dtype T
 *   and its kernel's parameters are, in this order,
 *     (const T *A, const T *B, T *C, int M, int N, int K, int lda, int ldb, int ldc,
 *      float alpha, float beta)
 *   which is GEMM_ARG_KINDS for the host backend. T is float, at_half or at_bfloat16.
 */
#ifndef AT_TUNER_OPS_OP_GEMM_H
#define AT_TUNER_OPS_OP_GEMM_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define GEMM_ARG_KINDS "pppiiiiiiff"
#define GEMM_ARG_NAMES "A,B,C,M,N,K,lda,ldb,ldc,alpha,beta" /* meas_launch.arg_names */

enum gemm_dtype { GEMM_F32 = 0, GEMM_F16 = 1, GEMM_BF16 = 2 };

struct gemm_problem {
  enum gemm_dtype dtype;
  int ta, tb;                 /* 0 'N', 1 'T' */
  int64_t m, n, k;
  int64_t lda, ldb, ldc;      /* 0: the smallest legal value */
  float alpha, beta;
};

/* Parse "f16"/"bf16"/"f32" and "NN".."TT". AT_USAGE with a message otherwise. */
int gemm_parse_dtype(const char *s, enum gemm_dtype *out);
int gemm_parse_layout(const char *s, int *ta, int *tb);
const char *gemm_dtype_name(enum gemm_dtype d);
size_t gemm_dtype_size(enum gemm_dtype d);
/* Fill lda/ldb/ldc left 0 with their smallest legal values. */
void gemm_problem_resolve(struct gemm_problem *p);
/* Whether p (resolved) can be run: dims, dtype, layout, leading dims, and operands the
 * host data can hold. AT_OK, or AT_USAGE naming what is wrong ("gemm: operands too
 * large for host data (...)"): an op checks its problems with it before a run opens. */
int gemm_problem_check(const struct gemm_problem *p);
/* Elements of storage each operand needs (rows x ld). */
size_t gemm_a_elems(const struct gemm_problem *p);
size_t gemm_b_elems(const struct gemm_problem *p);
size_t gemm_c_elems(const struct gemm_problem *p);
double gemm_flops(const struct gemm_problem *p);   /* 2 m n k (+ 2 m n when beta != 0) */
double gemm_bytes(const struct gemm_problem *p);   /* A, B read once, C written (+ read) */

/* Element i of an array in dtype d's storage (float, or f16/bf16 bit patterns), as a
 * float (stored with round-to-nearest-even) and read back exactly. */
void gemm_elem_store(enum gemm_dtype d, void *base, size_t i, float v);
double gemm_elem_load(enum gemm_dtype d, const void *base, size_t i);
/* The check's figures for an output of dtype d: its rounding (f32 2^-23, covering an
 * alpha/beta step; f16 2^-11; bf16 2^-8) and its smallest subnormal. */
double gemm_dtype_roundoff(enum gemm_dtype d);
double gemm_dtype_floor(enum gemm_dtype d);
/* The next deterministic test value of the xorshift64* state *s: an integer in [-4, 4]
 * times 1/4 (exact in every dtype; products are multiples of 1/16). */
float gemm_small_value(uint64_t *s);
/* rows x ld elements of dtype d at base: the first cols of each row gemm_small_value's
 * next values from *s (row by row), the rest `pad`; *s ends past the rows x cols values.
 * The same values as one loop over them, filled by the CPUs at once where it is large
 * (each part from its offset of the stream: num_xorshift64s_jump). */
void gemm_fill(enum gemm_dtype d, void *base, int64_t rows, int64_t cols, int64_t ld,
               float pad, uint64_t *s);

/* Host-side operands: A, B, C0 (the C before the call) in the dtype's storage (float or
 * 16-bit patterns), deterministic for a seed; values are small integers times powers of
 * two where the dtype allows, so products are exact and only accumulation rounds.
 * Poison (op_gemm.c): the padding of A and B (columns past the logical width) is NaN,
 * C0's padding (columns n..ldc) is 99.0, and with beta == 0 C0's m x n part is NaN. */
struct gemm_data {
  struct gemm_problem p;
  void *a, *b, *c0;           /* malloc'd */
  double *ref;                /* m x n reference (f64 accumulation), row-major, ldc = n;
                                 NaN where not checked (stride > 1) */
  double *mag;                /* m x n: |alpha| sum_k |a_ik b_kj| + |beta c0_ij|, the
                                 tolerance's magnitude, where checked */
  int64_t stride;             /* 1: every element's value is checked; S (a power of two)
                                 for problems of more than GEMM_REF_FULL_MACS
                                 multiply-adds: element (i, j) when (i + 5 j) % S == 0
                                 (one per S consecutive rows of each column and per S
                                 consecutive columns of each row); gemm_checked() */
};

/* The reference's work bound: above it (4096^3 is 6.9e10) only one element in `stride`
 * gets a reference value (a few seconds on a GPU node's 16 cores, not minutes: the first
 * H200 run, 2026-12-04, spent the whole call computing full references and per-element
 * bounds on the host). Every element is still checked for being finite and the padding
 * for being untouched. */
#define GEMM_REF_FULL_MACS 1.6e10
bool gemm_checked(const struct gemm_data *d, int64_t i, int64_t j);
/* The smallest power of two S (at most cap) that brings work / S under bound: the stride
 * of a sampled reference (gemm's and attention's). */
int64_t gemm_ref_stride(double work, double bound, int64_t cap);
int gemm_data_init(struct gemm_data *d, const struct gemm_problem *p, uint64_t seed);
/* The same with the reference's stride given (a power of two; 0: chosen by the bound). */
int gemm_data_init_stride(struct gemm_data *d, const struct gemm_problem *p, uint64_t seed,
                          int64_t stride);
void gemm_data_release(struct gemm_data *d);

/* Check a result C (in the dtype's storage, with ldc) against d->ref: every element
 * finite, and every checked one (gemm_checked: all unless d->stride > 1) within
 * tol = eps_out(dtype) * (|alpha| sum_k |a_ik b_kj| + |beta c0_ij|) * 2 + abs floor;
 * elements outside C's m x n (between n and ldc) must be untouched (equal to c0).
 * OUT: *bad (how many differ), msg (the first one: "C[3][17] = 1.5, expected 2.25
 * (tolerance 0.001)"). AT_OK even when bad > 0; errors only for bad arguments. */
int gemm_check(const struct gemm_data *d, const void *c, int64_t *bad, char *msg,
               size_t msg_len);

/* Why the gemm template named `name` ("gemm_mma") is not for device `d` (the emulated one
 * under --emulate) with this dtype: "for NVIDIA sm_80 and later", "for f16 and bf16",
 * "for AMD CDNA"; "" when it is. A naming convention of templates/gemm: *_mma needs
 * mma.sync, *_wgmma Hopper's wgmma (sm_90a), *_mfma CDNA's matrix cores. `autotune gemm`
 * and `autotune generate gemm` pick templates by it. */
struct dev_profile;
const char *gemm_template_not_for(const char *name, const struct dev_profile *d, bool f32);

#endif
