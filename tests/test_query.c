/*
 * test_query.c - the best-config lookup: exact, nearest (log-space distance), the
 * device -> arch -> vendor chain, through db_query_best, the public C API and
 * `autotune query`, which must all give the same answer.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "db/db.h"
#include "tests/fixture.h"
#include "tests/helpers.h"

static char *dir, *path;

/* h100: 4096^3 (two kernels), 1024^3, 16x4096x4096 (decode); a100: 2048^3;
 * mi300x: 8192^3. */
static void setup(void)
{
  dir = th_tmpdir();
  path = th_path(dir, "tuning.db");
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 4096, 4096, 4096,
          "BK=32,BM=128,BN=256,STAGES=3", 180.0);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 4096, 4096, 4096,
          "BK=64,BM=128,BN=128,STAGES=4", 200.0);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_simt", 4096, 4096, 4096, "TM=8,TN=8",
          900.0);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 1024, 1024, 1024,
          "BK=32,BM=64,BN=64,STAGES=3", 12.0);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 16, 4096, 4096,
          "BK=128,BM=16,BN=64,SPLITK=4,STAGES=4", 25.0);
  fx_gemm(db, run, "a100", "sm_80", "nvidia", "gemm_mma", 2048, 2048, 2048,
          "BK=32,BM=128,BN=128,STAGES=4", 70.0);
  fx_gemm(db, run, "mi300x", "gfx942", "amd", "gemm_mfma", 8192, 8192, 8192,
          "BM=256,BN=256,MFMA=16x16x16", 1100.0);
  fx_gemm_failed(db, run, "h100", "gemm_mma", 4096, 4096, 4096, "BK=16,BM=256,BN=256",
                 DB_TRIAL_FAULT);
  db_close(db);
}

static void teardown(void)
{
  th_rmtree(dir);
  free(dir);
  free(path);
}

TestSuite(query, .init = setup, .fini = teardown);

static at_config *best(const char *device, int64_t m, int64_t n, int64_t k)
{
  at_db *h = NULL;
  cr_assert_eq(at_db_open(path, &h), AT_OK, "%s", at_last_error());
  at_problem p = at_problem_gemm("f16", "NN", m, n, k);
  at_config *c = NULL;
  int rc = at_best_config(h, device, &p, &c);
  at_db_close(h);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  return c;
}

Test(query, exact_shape_gives_the_fastest_kernel_and_config)
{
  at_config *c = best("h100", 4096, 4096, 4096);
  cr_assert_eq(at_config_match(c), AT_MATCH_EXACT);
  cr_assert_str_eq(at_config_device(c), "h100");
  cr_assert_str_eq(at_config_kernel(c), "gemm_mma");
  cr_assert_str_eq(at_config_text(c), "BK=32,BM=128,BN=256,STAGES=3");
  int64_t bn = 0;
  cr_assert_eq(at_config_get_int(c, "BN", &bn), AT_OK);
  cr_assert_eq(bn, 256);
  cr_assert_str_eq(at_config_get(c, "BK"), "32");
  cr_assert_null(at_config_get(c, "B"));
  cr_assert_eq(at_config_get_int(c, "NOPE", &bn), AT_NOT_FOUND);
  cr_assert_float_eq(at_config_time_us(c), 180.0, 1e-9);
  at_config_free(c);
}

Test(query, nearest_shape_in_log_space)
{
  /* 4000x4096x4096 is nearest 4096^3. */
  at_config *c = best("h100", 4000, 4096, 4096);
  cr_assert_eq(at_config_match(c), AT_MATCH_NEAREST);
  cr_assert_eq(at_config_dim(c, 0), 4096);
  cr_assert_str_eq(at_config_text(c), "BK=32,BM=128,BN=256,STAGES=3");
  at_config_free(c);
  /* A decode shape (m = 8) is nearest the m = 16 decode winner, not 1024^3, though
   * 1024^3 is closer in plain differences of m. */
  c = best("h100", 8, 4096, 4096);
  cr_assert_eq(at_config_match(c), AT_MATCH_NEAREST);
  cr_assert_eq(at_config_dim(c, 0), 16);
  cr_assert_eq(at_config_dim(c, 1), 4096);
  cr_assert_str_eq(at_config_text(c), "BK=128,BM=16,BN=64,SPLITK=4,STAGES=4");
  at_config_free(c);
  /* 1500^3: ln(1500/1024) = 0.38 vs ln(4096/1500) = 1.00 on each dim. */
  c = best("h100", 1500, 1500, 1500);
  cr_assert_eq(at_config_dim(c, 0), 1024);
  at_config_free(c);
}

Test(query, distance_is_symmetric_in_ratio)
{
  int64_t a[3] = {2048, 2048, 2048}, b[3] = {4096, 4096, 4096}, c[3] = {8192, 8192, 8192};
  cr_assert_float_eq(db_shape_distance(3, a, b), db_shape_distance(3, b, c), 1e-12);
  cr_assert_float_eq(db_shape_distance(3, a, b), db_shape_distance(3, b, a), 1e-12);
  cr_assert_float_eq(db_shape_distance(3, a, a), 0.0, 1e-15);
  cr_assert_float_eq(db_shape_distance(1, a, b), log(2.0), 1e-12);
}

Test(query, falls_back_to_same_arch_then_same_vendor)
{
  /* h200 (sm_90) has no trials: the h100 winners stand in, said to be arch matches. */
  at_config *c = best("h200", 4096, 4096, 4096);
  cr_assert_eq(at_config_match(c), AT_MATCH_ARCH);
  cr_assert_str_eq(at_config_device(c), "h100");
  cr_assert_str_eq(at_config_text(c), "BK=32,BM=128,BN=256,STAGES=3");
  at_config_free(c);
  /* l40s (sm_89): no sm_89 device at all, so another NVIDIA device's winner. */
  c = best("l40s", 2048, 2048, 2048);
  cr_assert_eq(at_config_match(c), AT_MATCH_VENDOR);
  cr_assert_str_eq(at_config_device(c), "a100");
  at_config_free(c);
  /* mi325x (gfx942) takes mi300x's, never an NVIDIA winner. */
  c = best("mi325x", 4096, 4096, 4096);
  cr_assert_eq(at_config_match(c), AT_MATCH_ARCH);
  cr_assert_str_eq(at_config_device(c), "mi300x");
  at_config_free(c);
  /* Asking by arch: every device of the arch is the target itself. */
  c = best("sm_90", 4096, 4096, 4096);
  cr_assert_eq(at_config_match(c), AT_MATCH_EXACT);
  cr_assert_str_eq(at_config_device(c), "h100");
  at_config_free(c);
}

Test(query, nothing_in_the_chain_is_not_found)
{
  at_db *h = NULL;
  cr_assert_eq(at_db_open(path, &h), AT_OK);
  at_config *c = (at_config *)0x1;
  at_problem p = at_problem_gemm("f16", "NN", 64, 64, 64);
  cr_assert_eq(at_best_config(h, "host", &p, &c), AT_NOT_FOUND);
  cr_assert_null(c);
  cr_assert(strstr(at_last_error(), "no tuned gemm f16 NN m=64,n=64,k=64"), "%s",
            at_last_error());
  /* Another dtype or layout is another family: never answered across. */
  p = at_problem_gemm("bf16", "NN", 4096, 4096, 4096);
  cr_assert_eq(at_best_config(h, "h100", &p, &c), AT_NOT_FOUND);
  p = at_problem_gemm("f16", "TN", 4096, 4096, 4096);
  cr_assert_eq(at_best_config(h, "h100", &p, &c), AT_NOT_FOUND);
  p = at_problem_gemm("f16", "NN", 0, 4096, 4096);
  cr_assert_eq(at_best_config(h, "h100", &p, &c), AT_USAGE);
  at_db_close(h);
}

Test(query, api_open_errors_name_the_file)
{
  at_db *h = (at_db *)0x1;
  char *missing = th_path(dir, "missing.db");
  cr_assert_eq(at_db_open(missing, &h), AT_IO);
  cr_assert_null(h);
  cr_assert(strstr(at_last_error(), missing), "%s", at_last_error());
  cr_assert_str_eq(at_status_name(AT_IO), "AT_IO");
  cr_assert_str_eq(at_status_name(999), "AT_UNKNOWN");
  cr_assert_str_eq(at_status_message(AT_NOT_FOUND), "nothing matches");
  free(missing);
}

Test(query, command_line_agrees_with_the_api)
{
  static const struct {
    const char *device;
    int64_t m, n, k;
  } cases[] = {{"h100", 4096, 4096, 4096}, {"h100", 4000, 4096, 4096},
               {"h100", 8, 4096, 4096},    {"h100", 1000, 1000, 1000},
               {"h200", 3000, 3000, 3000}, {"l40s", 2048, 2048, 2048},
               {"gfx942", 6000, 6000, 6000}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    at_config *c = best(cases[i].device, cases[i].m, cases[i].n, cases[i].k);
    struct th_result r;
    th_run(&r, "query gemm --device %s --m %lld --n %lld --k %lld --db '%s' --json",
           cases[i].device, (long long)cases[i].m, (long long)cases[i].n,
           (long long)cases[i].k, path);
    cr_assert_eq(r.code, 0, "%s", r.err);
    char want[256];
    snprintf(want, sizeof want, "\"match\":\"%s\"", at_match_name(at_config_match(c)));
    cr_assert(strstr(r.out, want), "%s lacks %s", r.out, want);
    snprintf(want, sizeof want, "\"config\":\"%s\"", at_config_text(c));
    cr_assert(strstr(r.out, want), "%s lacks %s", r.out, want);
    const char *d = strstr(r.out, "\"distance\":");
    cr_assert(d, "%s", r.out);
    cr_assert_float_eq(strtod(d + 11, NULL), at_config_distance(c), 1e-12, "%s", r.out);
    cr_assert(at_config_distance(c) <= AT_NEAREST_MAX_DISTANCE);
    th_result_free(&r);
    at_config_free(c);
  }
}

/* Issue 17: 1x1x1 used to get a 1024^3 winner. Past AT_NEAREST_MAX_DISTANCE the nearest
 * shape is refused on every rung, and the failure says how far it was. */
Test(query, a_shape_past_the_distance_limit_is_refused_with_its_distance)
{
  at_db *h = NULL;
  cr_assert_eq(at_db_open(path, &h), AT_OK, "%s", at_last_error());
  at_problem p = at_problem_gemm("f16", "NN", 1, 1, 1);
  at_config *c = NULL;
  cr_assert_eq(at_best_config(h, "h100", &p, &c), AT_NOT_FOUND);
  cr_assert_null(c);
  cr_assert(strstr(at_last_error(), "past the limit 2"), "%s", at_last_error());
  at_db_close(h);
  struct th_result r;
  th_run(&r, "query gemm --device h100 --m 1 --n 1 --k 1 --db '%s'", path);
  cr_assert_eq(r.code, 1, "%s", r.out);
  cr_assert(strstr(r.err, "autotune: no tuned gemm f16 NN m=1,n=1,k=1"), "%s", r.err);
  cr_assert(strstr(r.err, "the nearest tuned shape is at distance"), "%s", r.err);
  th_result_free(&r);
  /* just inside the limit still answers, and says how far */
  c = best("h100", 4096, 4096, 4096 / 7);
  cr_assert_eq(at_config_match(c), AT_MATCH_NEAREST);
  cr_assert_float_eq(at_config_distance(c), log(4096.0 / (4096 / 7)), 1e-9);
  at_config_free(c);
}

Test(query, command_line_human_output_says_which_rung_answered)
{
  struct th_result r;
  th_run(&r, "query gemm --device h100 --m 4000 --n 4096 --k 4096 --db '%s'", path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "nearest tuned shape on h100"), "%s", r.out);
  cr_assert(strstr(r.out, "asked m=4000,n=4096,k=4096"), "%s", r.out);
  cr_assert(strstr(r.out, "BK=32,BM=128,BN=256,STAGES=3"), "%s", r.out);
  th_result_free(&r);
  th_run(&r, "query gemm --device host --m 64 --n 64 --k 64 --db '%s'", path);
  cr_assert_eq(r.code, 1);
  cr_assert(strstr(r.err, "autotune: no tuned gemm"), "%s", r.err);
  th_result_free(&r);
}

Test(query, command_line_bad_input_exits_2_with_one_line)
{
  static const struct {
    const char *args, *msg;
  } cases[] = {
      {"gemm --device nosuchgpu --m 1 --n 1 --k 1", "unknown device 'nosuchgpu'"},
      {"gemm --device h100 --m 0 --n 1 --k 1", "bad --m '0' (expected an integer of at least 1)"},
      {"gemm --device h100 --m -5 --n 1 --k 1", "bad --m '-5'"},
      {"gemm --device h100 --m 12x --n 1 --k 1", "bad --m '12x'"},
      {"gemm --device h100 --n 1 --k 1", "bad shape: --m is missing"},
      {"gemm --device h100 --m 1 --n 1 --k 1 --dtype f64", "unknown dtype 'f64'"},
      {"gemm --device h100 --m 1 --n 1 --k 1 --layout XY", "unknown layout 'XY'"},
      {"conv --device h100 --m 1 --n 1 --k 1", "unknown op 'conv'"},
      {"gemm --m 1 --n 1 --k 1", "needs --device"},
      {"gemm --device h100 --m 1 --n 1 --k 1 --frobnicate", "unknown option '--frobnicate'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct th_result r;
    th_run(&r, "query %s --db '%s'", cases[i].args, path);
    cr_assert_eq(r.code, 2, "'%s' exited %d", cases[i].args, r.code);
    cr_assert(strstr(r.err, cases[i].msg), "'%s': %s", cases[i].args, r.err);
    cr_assert(strncmp(r.err, "autotune: ", 10) == 0, "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    cr_assert_str_eq(r.out, "");
    th_result_free(&r);
  }
}

/* A template's op, asked by --dim (issue 15): a value past int64 was read as INT64_MAX
 * and answered for (the nearest shape), a dim given twice kept the last. Both are exit 2
 * with one line naming the option now. */
Test(query, a_dim_is_never_clamped_nor_given_twice)
{
  const struct db_problem scale = {.op = "scale", .dtype = "f32", .layout = "", .ndims = 1,
                                   .dim_names = {"N"}, .dims = {4096}};
  free(fx_winner_db(dir, "tuning.db", "host", "host", "scale", "0123abcd", &scale, "BLOCK=64"));
  struct th_result r;
  th_run(&r, "query scale --device host --dim N=4096 --db '%s'", path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  static const struct {
    const char *args, *msg;
  } cases[] = {
      {"--dim N=99999999999999999999", "bad --dim N '99999999999999999999' (expected an "
                                       "integer of at least 1)"},
      {"--dim N=-1", "bad --dim N '-1'"},
      {"--dim N=4096x", "bad --dim N '4096x'"},
      {"--dim N=5 --dim N=4096", "--dim N is given twice ('N=5' and 'N=4096')"},
      {"--dim N=4096 --device host", "option '--device' is given twice"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    th_run(&r, "query scale --device host %s --db '%s'", cases[i].args, path);
    cr_assert_eq(r.code, 2, "'%s' exited %d: %s%s", cases[i].args, r.code, r.out, r.err);
    cr_assert(strstr(r.err, cases[i].msg), "'%s': %s", cases[i].args, r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    cr_assert_str_eq(r.out, "");
    th_result_free(&r);
  }
}

Test(query, an_open_handle_sees_new_trials_after_a_refresh)
{
  at_db *h = NULL;
  cr_assert_eq(at_db_open(path, &h), AT_OK);
  at_problem p = at_problem_gemm("f16", "NN", 3000, 3000, 3000);
  at_config *c = NULL;
  cr_assert_eq(at_best_config(h, "h100", &p, &c), AT_OK);
  cr_assert_eq(at_config_dim(c, 0), 4096);
  at_config_free(c);
  /* Another connection (the tuner) records 3072^3, nearer: the handle answers from its
   * snapshot until refreshed, then sees it. */
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 3072, 3072, 3072, "BM=96", 80.0);
  db_close(db);
  cr_assert_eq(at_best_config(h, "h100", &p, &c), AT_OK);
  cr_assert_eq(at_config_dim(c, 0), 4096, "the snapshot changed without a refresh");
  at_config_free(c);
  cr_assert_eq(at_db_refresh(h), AT_OK, "%s", at_last_error());
  cr_assert_eq(at_best_config(h, "h100", &p, &c), AT_OK);
  cr_assert_eq(at_config_dim(c, 0), 3072);
  cr_assert_str_eq(at_config_text(c), "BM=96");
  at_config_free(c);
  at_db_close(h);
}

Test(query, the_writing_connection_sees_its_own_new_winners)
{
  struct db *db = fx_open(path);
  struct db_problem p = {.op = "gemm", .dtype = "f16", .layout = "NN", .ndims = 3,
                         .dim_names = {"m", "n", "k"}, .dims = {3000, 3000, 3000}};
  struct db_query q = {.device = "h100", .arch = "sm_90", .vendor = "nvidia", .problem = &p};
  struct db_match m;
  cr_assert_eq(db_query_best(db, &q, &m), AT_OK);
  cr_assert_eq(m.dims[0], 4096);
  db_match_release(&m);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 3072, 3072, 3072, "BM=96", 80.0);
  cr_assert_eq(db_query_best(db, &q, &m), AT_OK);
  cr_assert_eq(m.dims[0], 3072);
  cr_assert_eq(m.match, AT_MATCH_NEAREST);
  db_match_release(&m);
  db_close(db);
}

/* Issue 17: the key of a gemm call carries its leading dims and batch where they are not
 * the packed, single-product default, so a winner measured packed never answers a
 * padded call (nor the other way round), and the packed call keeps its old key. */
Test(query, a_padded_or_batched_call_gets_only_winners_measured_so)
{
  at_problem packed, explicit_packed, padded, batched;
  cr_assert_eq(at_problem_gemm_call(&explicit_packed, "f16", "NN", 4096, 4096, 4096, 4096,
                                    4096, 4096, 1), AT_OK, "%s", at_last_error());
  packed = at_problem_gemm("f16", "NN", 4096, 4096, 4096);
  cr_assert_eq(explicit_packed.ndims, 3);
  cr_assert_eq(at_problem_gemm_call(&padded, "f16", "NN", 4096, 4096, 4096, 4104, 0, 0, 0),
               AT_OK, "%s", at_last_error());
  cr_assert_eq(padded.ndims, 4);
  cr_assert_str_eq(padded.dim_names[3], "lda");
  cr_assert_eq(at_problem_gemm_call(&batched, "f16", "TN", 64, 64, 64, 0, 0, 0, 8), AT_OK);
  cr_assert_eq(batched.ndims, 4);
  cr_assert_str_eq(batched.dim_names[3], "batch");
  /* 'T' A is k x m: its packed lda is m, so 64 is packed, 63 is too small */
  at_problem bad;
  cr_assert_eq(at_problem_gemm_call(&bad, "f16", "TN", 64, 64, 32, 63, 0, 0, 0), AT_USAGE);
  cr_assert(strstr(at_last_error(), "lda 63"), "%s", at_last_error());
  cr_assert_eq(at_problem_gemm_call(&bad, "f16", "NX", 64, 64, 64, 0, 0, 0, 0), AT_USAGE);

  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  struct db_trial t;
  db_trial_init(&t);
  db_uuid(t.uuid);
  memcpy(t.run_uuid, run, sizeof t.run_uuid);
  t.device = "h100", t.arch = "sm_90", t.vendor = "nvidia";
  t.kernel = "gemm_mma", t.kernel_hash = "0123456789abcdef";
  cr_assert_eq(db_problem_gemm(&t.problem, "f16", "NN", 4096, 4096, 4096, 4104, 0, 0, 0),
               AT_OK);
  t.config = "PADDED=1";
  t.status = DB_TRIAL_OK;
  t.time_median_us = t.time_min_us = t.time_max_us = 1.0;
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_OK, "%s", at_last_error());
  db_close(db);

  at_db *h = NULL;
  cr_assert_eq(at_db_open(path, &h), AT_OK, "%s", at_last_error());
  at_config *a = NULL, *b = NULL;
  cr_assert_eq(at_best_config(h, "h100", &packed, &a), AT_OK, "%s", at_last_error());
  cr_assert_eq(at_best_config(h, "h100", &explicit_packed, &b), AT_OK);
  cr_assert_str_eq(at_config_text(a), at_config_text(b));
  cr_assert_str_neq(at_config_text(a), "PADDED=1");
  at_config_free(a), at_config_free(b);
  cr_assert_eq(at_best_config(h, "h100", &padded, &a), AT_OK, "%s", at_last_error());
  cr_assert_eq(at_config_match(a), AT_MATCH_EXACT);
  cr_assert_str_eq(at_config_text(a), "PADDED=1");
  cr_assert_eq(at_config_dim(a, 3), 4104);
  at_config_free(a);
  /* the same padding on another shape: the padded winner, by distance, never a packed one */
  at_problem near;
  cr_assert_eq(at_problem_gemm_call(&near, "f16", "NN", 4000, 4096, 4096, 4104, 0, 0, 0),
               AT_OK);
  cr_assert_eq(at_best_config(h, "h100", &near, &a), AT_OK, "%s", at_last_error());
  cr_assert_eq(at_config_match(a), AT_MATCH_NEAREST);
  cr_assert_str_eq(at_config_text(a), "PADDED=1");
  at_config_free(a);
  /* nothing was measured batched */
  cr_assert_eq(at_best_config(h, "h100", &batched, &a), AT_NOT_FOUND);
  cr_assert(strstr(at_last_error(), "batch=8"), "%s", at_last_error());
  at_db_close(h);
  /* the command asks the same keys */
  struct th_result r;
  th_run(&r, "query gemm --device h100 --m 4000 --n 4096 --k 4096 --lda 4104 --db '%s' --json",
         path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"config\":\"PADDED=1\""), "%s", r.out);
  cr_assert(strstr(r.out, "\"asked\":{\"m\":4000,\"n\":4096,\"k\":4096,\"lda\":4104}"), "%s",
            r.out);
  th_result_free(&r);
  th_run(&r, "query gemm --device h100 --m 4096 --n 4096 --k 4096 --lda 4096 --db '%s' --json",
         path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(!strstr(r.out, "PADDED=1"), "packed asked explicitly: %s", r.out);
  th_result_free(&r);
  th_run(&r, "query gemm --device h100 --m 64 --n 64 --k 64 --ldc 8 --db '%s'", path);
  cr_assert_eq(r.code, 2, "%s", r.out);
  cr_assert(strstr(r.err, "autotune: bad gemm ldc 8 (expected at least 64"), "%s", r.err);
  cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
  th_result_free(&r);
}
