/*
 * shapes.h - the one reader of workload shape files (`--shapes FILE` of `autotune gemm`
 * and `autotune model`): plain lines "M N K" (M,N,K / MxNxK), and GEMMs a real workload
 * recorded: PyTorch TunableOp's untuned and results CSV files, and the bench command
 * lines hipBLASLt's and rocBLAS's logging prints (hipblaslt-bench ..., rocblas-bench ...).
 * Those three speak column-major BLAS; a record here is always ours: row-major
 * C[M][N] = op(A)[M][K] op(B)[K][N], so a BLAS (m, n, k, transA, transB) becomes
 * (M=n, N=m, K=k, TA=transB, TB=transA) (docs/models.md, "Workload capture").
 * What a captured line carries that our gemm key does not (lda/ldb/ldc, batch, strides)
 * is kept in the record and said in the notes; a line that cannot be tuned here (f64, f8,
 * complex, not a GEMM) is skipped with its reason, never silently.
 */
#ifndef AT_TUNER_OPS_SHAPES_H
#define AT_TUNER_OPS_SHAPES_H

#include <stddef.h>
#include <stdint.h>

enum shape_source { SHAPES_PLAIN, SHAPES_TUNABLEOP, SHAPES_HIPBLASLT, SHAPES_ROCBLAS };

/* One GEMM of the workload, ours (row-major); -1 where the line did not say. */
struct shape_rec {
  int64_t m, n, k;
  int ta, tb;                  /* 1: transposed; -1: not said (plain lines) */
  char dtype[8];               /* "f16", "bf16", "f32"; "": not said (plain lines) */
  int64_t lda, ldb, ldc;       /* as captured (BLAS's, column-major) */
  int64_t batch;               /* batch count; 1 when not batched */
  int64_t stride_a, stride_b, stride_c;
  enum shape_source src;
  int line;                    /* 1-based line of the file */
  int count;                   /* how many lines gave this same GEMM (deduplicated) */
};

/* A line left out, and why ("f64 is not tuned here"). */
struct shape_skip {
  int line;
  char why[160];
};

struct shape_list {
  struct shape_rec *recs;
  size_t n;
  struct shape_skip *skips;
  size_t nskips;
  size_t batched;              /* records with batch > 1 (tuned as one problem each) */
  size_t with_ld;              /* records whose lda/ldb/ldc differ from the packed ones */
};

/* The most lines a shapes file may give (distinct GEMMs). */
#define SHAPES_MAX 4096

/* Read `path`. Plain lines, '#' comments and blank lines; or captured lines of the three
 * formats (any mix). Identical GEMMs (same M, N, K, TA, TB, dtype) are kept once with
 * their count. OUT: *out (shapes_release). AT_OK; AT_USAGE (unreadable file; a plain
 * line that is not a shape in a file with no captured line; a dim outside 1..INT32_MAX;
 * nothing usable), naming the file and line; AT_NOMEM. */
int shapes_read(const char *path, struct shape_list *out);
void shapes_release(struct shape_list *l);

/* "tunableop", "hipblaslt", "rocblas", "plain" */
const char *shapes_source_name(enum shape_source s);

#endif
