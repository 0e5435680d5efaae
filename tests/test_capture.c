/*
 * test_capture.c - workload capture (tuner/ops/shapes.h): PyTorch TunableOp results and
 * untuned CSV files, hipblaslt-bench and rocblas-bench log lines, written in
 * tests/data/capture/ from their documented formats, read into our row-major GEMM key
 * (BLAS's m, n, transA, transB swapped), with every skipped line and its reason; plain
 * "M N K" files as before; `autotune gemm --shapes` on a captured file.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "base/status.h"
#include "tests/helpers.h"
#include "tuner/ops/shapes.h"

#define DATA AT_SOURCE_DIR "/tests/data/capture/"

static const struct shape_rec *find(const struct shape_list *l, int64_t m, int64_t n,
                                    int64_t k)
{
  for (size_t i = 0; i < l->n; i++)
    if (l->recs[i].m == m && l->recs[i].n == n && l->recs[i].k == k)
      return &l->recs[i];
  return NULL;
}

static bool skipped(const struct shape_list *l, int line, const char *why_part)
{
  for (size_t i = 0; i < l->nskips; i++)
    if (l->skips[i].line == line && strstr(l->skips[i].why, why_part))
      return true;
  return false;
}

static void expect(const struct shape_rec *r, const char *dtype, int ta, int tb, int64_t batch)
{
  cr_assert_not_null(r);
  cr_expect_str_eq(r->dtype, dtype);
  cr_expect_eq(r->ta, ta, "ta %d, expected %d (line %d)", r->ta, ta, r->line);
  cr_expect_eq(r->tb, tb, "tb %d, expected %d (line %d)", r->tb, tb, r->line);
  cr_expect_eq(r->batch, batch);
}

Test(capture, tunableop_results_map_blas_to_row_major)
{
  struct shape_list l;
  cr_assert_eq(shapes_read(DATA "tunableop_results0.csv", &l), AT_OK, "%s", at_last_error());
  cr_expect_eq(l.n, 4);
  /* nt_4096_64_1024: BLAS m=4096 n=64 transA=N transB=T -> ours M=64 N=4096, TA=T */
  const struct shape_rec *r = find(&l, 64, 4096, 1024);
  expect(r, "f16", 1, 0, 1);
  cr_expect_eq(r->count, 2, "the repeated line counts twice");
  /* the linear layer's own call: tn -> ours NT, leading dims kept */
  r = find(&l, 8, 1024, 2048);
  expect(r, "bf16", 0, 1, 1);
  cr_expect_eq(r->lda, 2048);
  cr_expect_eq(r->ldc, 1024);
  expect(find(&l, 256, 128, 64), "f32", 0, 0, 1);
  expect(find(&l, 64, 64, 32), "f16", 0, 0, 8);
  cr_expect_eq(l.batched, 1);
  cr_expect(skipped(&l, 1, "validator"));
  cr_expect(skipped(&l, 7, "double"));
  cr_expect(skipped(&l, 9, "f8"));
  cr_expect_eq(l.nskips, 5);
  shapes_release(&l);

  cr_assert_eq(shapes_read(DATA "tunableop_untuned0.csv", &l), AT_OK, "%s", at_last_error());
  cr_expect_eq(l.n, 1);
  expect(find(&l, 16, 512, 256), "f16", 0, 1, 1);
  cr_expect(skipped(&l, 2, "complex"));
  shapes_release(&l);
}

Test(capture, hipblaslt_bench_lines)
{
  struct shape_list l;
  cr_assert_eq(shapes_read(DATA "hipblaslt_bench.log", &l), AT_OK, "%s", at_last_error());
  cr_expect_eq(l.n, 2);
  const struct shape_rec *r = find(&l, 16, 4096, 1024);
  expect(r, "f16", 0, 1, 1);
  cr_expect_eq(r->lda, 1152);
  cr_expect_eq(l.with_ld, 1, "lda 1152 is padded (packed: 1024)");
  r = find(&l, 128, 256, 64);
  expect(r, "bf16", 0, 0, 4);
  cr_expect_eq(r->stride_a, 16384);
  cr_expect(skipped(&l, 3, "f8_r"));
  cr_expect(skipped(&l, 4, "not a shape"));
  cr_expect_eq(l.nskips, 2);
  shapes_release(&l);
}

Test(capture, rocblas_bench_lines)
{
  struct shape_list l;
  cr_assert_eq(shapes_read(DATA "rocblas_bench.log", &l), AT_OK, "%s", at_last_error());
  cr_expect_eq(l.n, 3);
  expect(find(&l, 512, 2048, 1024), "f32", 1, 0, 1);
  expect(find(&l, 32, 128, 256), "f16", 0, 1, 1);
  const struct shape_rec *r = find(&l, 1024, 196, 256);
  expect(r, "f16", 1, 0, 64);
  cr_expect_eq(r->stride_c, 200704);
  cr_expect_eq(l.with_ld, 0);
  cr_expect(skipped(&l, 4, "f64_r"));
  cr_expect(skipped(&l, 5, "not a GEMM"));
  shapes_release(&l);
}

Test(capture, plain_files_and_bad_input)
{
  char *dir = th_tmpdir(), *p = th_path(dir, "s.txt"), *q = th_path(dir, "bad.txt");
  const char plain[] = "# shapes\n64 32 16\n64,32,16\n8x4x2\n";
  th_write(p, plain, sizeof plain - 1);
  struct shape_list l;
  cr_assert_eq(shapes_read(p, &l), AT_OK, "%s", at_last_error());
  cr_expect_eq(l.n, 2, "64 32 16 twice is one shape");
  cr_expect_eq(l.recs[0].count, 2);
  cr_expect_eq(l.recs[0].ta, -1, "a plain line says no layout");
  shapes_release(&l);
  const char bad[] = "64 32 16\n64 32\n";
  th_write(q, bad, sizeof bad - 1);
  cr_expect_eq(shapes_read(q, &l), AT_USAGE);
  cr_expect(strstr(at_last_error(), ":2: bad shape"), "%s", at_last_error());
  /* the command: a captured file tunes, a bad one exits 2 and creates no database */
  char *db = th_path(dir, "t.db");
  struct th_result r;
  th_run(&r, "gemm --device host --shapes '%s' --db '%s' --budget 1", q, db);
  cr_expect_eq(r.code, 2, "%s", r.err);
  cr_expect(strstr(r.err, "autotune: ") == r.err, "%s", r.err);
  cr_expect_not(th_read(db, NULL), "no database on bad input");
  th_result_free(&r);
  th_rmtree(dir);
  free(p), free(q), free(db), free(dir);
}
