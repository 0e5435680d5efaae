/*
 * test_space.c - the search space enumerator: the valid configs and their order against
 * a brute-force filter of the Cartesian product (fixed and random spaces), derived
 * parameters, external constants, early stop, the per-constraint statistics and the
 * canonical config text.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/expr.h"
#include "generator/space.h"
#include "base/status.h"

/* ---- collecting visits ----------------------------------------------------------------- */

struct seen {
  int64_t *values; /* count x n */
  size_t count, cap, n;
  size_t stop_after; /* 0: never */
  int status_after;  /* returned at stop_after (GEN_SPACE_STOP or a status) */
};

static int collect(void *ctx, const int64_t *values, size_t n)
{
  struct seen *s = ctx;
  if (s->count == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 64;
    s->values = realloc(s->values, s->cap * (n ? n : 1) * sizeof *s->values);
  }
  s->n = n;
  memcpy(s->values + s->count * n, values, n * sizeof *values);
  s->count++;
  if (s->stop_after && s->count == s->stop_after)
    return s->status_after;
  return 0;
}

static struct gen_space *new_space(void)
{
  struct gen_space *s;
  cr_assert_eq(gen_space_new(&s), AT_OK);
  return s;
}

static void add_param(struct gen_space *s, const char *name, const int64_t *v, size_t n)
{
  cr_assert_eq(gen_space_add_param(s, name, v, n), AT_OK, "%s: %s", name, at_last_error());
}

static void add_require(struct gen_space *s, const char *name, const char *text)
{
  cr_assert_eq(gen_space_add_require(s, name, text), AT_OK, "%s: %s", name, at_last_error());
}

static uint64_t removed_raw_sum(const struct gen_space_stats *st)
{
  uint64_t sum = st->derived_removed_raw;
  for (size_t i = 0; i < st->nreqs; i++)
    sum += st->reqs[i].removed_raw;
  return sum;
}

/* ---- brute force --------------------------------------------------------------------- */

/* A plain description of a space, built both into a gen_space and filtered by hand. */
struct spec {
  size_t nparams;
  const char *names[6];
  int64_t values[6][6];
  size_t nvalues[6];       /* 0: derived, defined by derived[i] */
  const char *derived[6];
  size_t nreqs;
  const char *reqs[6];
  size_t nconsts;
  const char *const_names[3];
  int64_t const_values[3];
};

static int spec_resolve(void *ctx, const char *name)
{
  const struct spec *sp = ctx;
  for (size_t i = 0; i < sp->nparams; i++)
    if (strcmp(sp->names[i], name) == 0)
      return (int)i;
  for (size_t j = 0; j < sp->nconsts; j++)
    if (strcmp(sp->const_names[j], name) == 0)
      return (int)(sp->nparams + j);
  return -1;
}

static struct gen_space *spec_build(const struct spec *sp)
{
  struct gen_space *s = new_space();
  for (size_t j = 0; j < sp->nconsts; j++)
    cr_assert_eq(gen_space_set_const(s, sp->const_names[j], sp->const_values[j]), AT_OK);
  for (size_t i = 0; i < sp->nparams; i++) {
    if (sp->nvalues[i])
      add_param(s, sp->names[i], sp->values[i], sp->nvalues[i]);
    else
      cr_assert_eq(gen_space_add_derived(s, sp->names[i], sp->derived[i]), AT_OK, "%s",
                   at_last_error());
  }
  for (size_t r = 0; r < sp->nreqs; r++) {
    char name[32];
    snprintf(name, sizeof name, "r%zu", r);
    add_require(s, name, sp->reqs[r]);
  }
  return s;
}

/* The expected result: every config of the Cartesian product in order, kept when all
 * derived parameters and constraints evaluate and every constraint is nonzero. Also
 * the raw configs each constraint removes when the constraints are checked in order of
 * (depth, declaration), the first failure taking the blame (only without derived
 * parameters, whose blame depends on where they sit). */
static void brute_force(const struct spec *sp, struct seen *want, uint64_t *blame)
{
  size_t np = sp->nparams;
  struct gen_expr *derived[6] = {0}, *reqs[6] = {0};
  size_t depth[6] = {0};
  int any_derived = 0;
  for (size_t i = 0; i < np; i++) {
    if (sp->nvalues[i])
      continue;
    any_derived = 1;
    cr_assert_eq(gen_expr_parse(sp->derived[i], &derived[i]), AT_OK);
    cr_assert_eq(gen_expr_bind(derived[i], spec_resolve, (void *)sp), AT_OK);
  }
  for (size_t r = 0; r < sp->nreqs; r++) {
    cr_assert_eq(gen_expr_parse(sp->reqs[r], &reqs[r]), AT_OK);
    cr_assert_eq(gen_expr_bind(reqs[r], spec_resolve, (void *)sp), AT_OK);
    for (size_t v = 0; v < gen_expr_var_count(reqs[r]); v++) {
      int slot = gen_expr_var_slot(reqs[r], v);
      if (slot < (int)np && (size_t)slot + 1 > depth[r])
        depth[r] = (size_t)slot + 1;
    }
    blame[r] = 0;
  }
  size_t check_order[6], nc = 0;
  for (size_t d = 0; d <= np; d++)
    for (size_t r = 0; r < sp->nreqs; r++)
      if (depth[r] == d)
        check_order[nc++] = r;

  int64_t slots[12];
  for (size_t j = 0; j < sp->nconsts; j++)
    slots[np + j] = sp->const_values[j];
  size_t pos[6] = {0};
  memset(want, 0, sizeof *want);
  for (;;) {
    int ok = 1;
    for (size_t i = 0; i < np && ok; i++) {
      if (sp->nvalues[i])
        slots[i] = sp->values[i][pos[i]];
      else
        ok = gen_expr_eval(derived[i], slots, NULL, &slots[i]) == AT_OK;
    }
    for (size_t c = 0; c < nc && ok; c++) {
      int64_t v;
      if (gen_expr_eval(reqs[check_order[c]], slots, NULL, &v) != AT_OK || v == 0) {
        ok = 0;
        if (!any_derived)
          blame[check_order[c]]++;
      }
    }
    if (ok)
      collect(want, slots, np);
    size_t k = np; /* odometer, the last parameter fastest */
    while (k > 0 && ++pos[k - 1] >= (sp->nvalues[k - 1] ? sp->nvalues[k - 1] : 1))
      pos[--k] = 0;
    if (k == 0)
      break;
  }
  for (size_t i = 0; i < 6; i++) {
    gen_expr_free(derived[i]);
    gen_expr_free(reqs[i]);
  }
}

/* What a comparison saw, so random rounds can check that they test something. */
struct seen_kinds {
  int mixed;       /* some configs valid, some not */
  int errors;      /* an evaluation failed */
  int early_prune; /* a constraint pruned a partial config */
};

/* Enumerate sp and compare with brute force: same configs in the same order, and stats
 * that add up. */
static void compare(const struct spec *sp, const char *label, struct seen_kinds *kinds)
{
  struct gen_space *s = spec_build(sp);
  struct seen got = {0}, want;
  uint64_t blame[6];
  struct gen_space_stats st;
  cr_assert_eq(gen_space_enumerate(s, collect, &got, &st), AT_OK, "%s: %s", label,
               at_last_error());
  brute_force(sp, &want, blame);
  cr_assert_eq(got.count, want.count, "%s: %zu configs, brute force %zu", label, got.count,
               want.count);
  cr_assert_eq(st.valid, want.count, "%s", label);
  if (want.count)
    cr_assert_eq(memcmp(got.values, want.values, want.count * sp->nparams * sizeof(int64_t)),
                 0, "%s: configs differ", label);
  uint64_t raw = 1;
  int any_derived = 0;
  for (size_t i = 0; i < sp->nparams; i++) {
    raw *= sp->nvalues[i] ? sp->nvalues[i] : 1;
    any_derived |= sp->nvalues[i] == 0;
  }
  cr_assert_eq(st.raw, raw, "%s", label);
  cr_assert_eq(st.stopped, 0);
  cr_assert_eq(st.nreqs, sp->nreqs);
  cr_assert_eq(st.raw, st.valid + removed_raw_sum(&st), "%s: raw %" PRIu64 " != valid %"
               PRIu64 " + removed %" PRIu64, label, st.raw, st.valid, removed_raw_sum(&st));
  for (size_t r = 0; r < sp->nreqs; r++) {
    cr_assert_leq(st.reqs[r].removed, st.reqs[r].checked, "%s", label);
    cr_assert_leq(st.reqs[r].errors, st.reqs[r].removed, "%s", label);
    if (!any_derived)
      cr_assert_eq(st.reqs[r].removed_raw, blame[r], "%s: constraint %zu removed %" PRIu64
                   ", brute force %" PRIu64, label, r, st.reqs[r].removed_raw, blame[r]);
  }
  if (kinds) {
    kinds->mixed += st.valid > 0 && st.valid < st.raw;
    kinds->errors += st.first_error[0] != '\0';
    for (size_t r = 0; r < sp->nreqs; r++)
      if (st.reqs[r].removed_raw > st.reqs[r].removed) {
        kinds->early_prune++;
        break;
      }
  }
  gen_space_stats_release(&st);
  free(got.values);
  free(want.values);
  gen_space_free(s);
}

/* ---- fixed spaces ---------------------------------------------------------------------- */

Test(space, gemm_like_space_matches_brute_force)
{
  struct spec sp = {
      .nparams = 5,
      .names = {"BM", "BN", "BK", "WM", "SPLIT"},
      .values = {{32, 64, 128, 256}, {32, 64, 128, 256}, {16, 32, 64}, {16, 32, 64},
                 {1, 2, 4}},
      .nvalues = {4, 4, 3, 3, 3},
      .nreqs = 5,
      .reqs = {"(BM * BK + BN * BK) * sizeof_f16 <= device.lds_bytes",
               "BM % WM == 0", "BM * BN / (WM * WM) <= device.max_threads / device.wave_size",
               "K % (BK * SPLIT) == 0", "cdiv(M, BM) * cdiv(N, BN) * SPLIT >= 4"},
      .nconsts = 3,
      .const_names = {"device.lds_bytes", "device.wave_size", "M"},
      .const_values = {32768, 64, 512},
  };
  struct gen_space *s = spec_build(&sp);
  cr_assert_eq(gen_space_enumerate(s, NULL, NULL, NULL), AT_PARSE);
  cr_assert_str_eq(at_last_error(), "constraint 'r2': unknown identifier 'device.max_threads'"
                   " at column 24");
  gen_space_free(s);
  sp.reqs[2] = "BM * BN / (WM * WM) <= 1024 / device.wave_size";
  sp.reqs[3] = "M % (BK * SPLIT) == 0";
  sp.reqs[4] = "cdiv(M, BM) * cdiv(M, BN) * SPLIT >= 4";
  compare(&sp, "gemm", NULL);
}

Test(space, hand_counted_statistics)
{
  struct gen_space *s = new_space();
  add_param(s, "A", (int64_t[]){1, 2, 3}, 3);
  add_param(s, "B", (int64_t[]){1, 2}, 2);
  add_param(s, "C", (int64_t[]){1, 2, 3, 4}, 4);
  add_require(s, "even_c", "C % 2 == 0");
  add_require(s, "a_not_2", "A != 2");
  add_require(s, "sum", "A + B < 5");
  add_require(s, "always", "1");
  struct gen_space_stats st;
  cr_assert_eq(gen_space_enumerate(s, NULL, NULL, &st), AT_OK);
  cr_assert_eq(st.raw, 24);
  cr_assert_eq(st.valid, 6);
  cr_assert_eq(st.nreqs, 4);
  /* declaration order, with the depth each was checked at */
  cr_assert_str_eq(st.reqs[0].name, "even_c");
  cr_assert_eq(st.reqs[0].depth, 3);
  cr_assert_eq(st.reqs[1].depth, 1);
  cr_assert_eq(st.reqs[2].depth, 2);
  cr_assert_eq(st.reqs[3].depth, 0);
  /* a_not_2 at depth 1: A=2 removed, standing for 2*4 raw configs */
  cr_assert_eq(st.reqs[1].checked, 3);
  cr_assert_eq(st.reqs[1].removed, 1);
  cr_assert_eq(st.reqs[1].removed_raw, 8);
  /* sum at depth 2 over (1,1) (1,2) (3,1) (3,2): (3,2) removed, 4 raw */
  cr_assert_eq(st.reqs[2].checked, 4);
  cr_assert_eq(st.reqs[2].removed, 1);
  cr_assert_eq(st.reqs[2].removed_raw, 4);
  /* even_c on 3 partials x 4 values: 6 removed */
  cr_assert_eq(st.reqs[0].checked, 12);
  cr_assert_eq(st.reqs[0].removed, 6);
  cr_assert_eq(st.reqs[0].removed_raw, 6);
  cr_assert_eq(st.reqs[3].checked, 1);
  cr_assert_eq(st.reqs[3].removed, 0);
  cr_assert_eq(st.raw, st.valid + removed_raw_sum(&st));
  cr_assert_str_eq(st.first_error, "");
  gen_space_stats_release(&st);
  gen_space_free(s);
}

Test(space, constraint_on_constants_only_removes_everything)
{
  struct gen_space *s = new_space();
  add_param(s, "A", (int64_t[]){1, 2, 3}, 3);
  add_param(s, "B", (int64_t[]){1, 2}, 2);
  cr_assert_eq(gen_space_set_const(s, "M", 8), AT_OK);
  add_require(s, "big_enough", "M >= 16");
  add_require(s, "b", "B > 1");
  struct gen_space_stats st;
  struct seen got = {0};
  cr_assert_eq(gen_space_enumerate(s, collect, &got, &st), AT_OK);
  cr_assert_eq(got.count, 0);
  cr_assert_eq(st.reqs[0].depth, 0);
  cr_assert_eq(st.reqs[0].removed, 1);
  cr_assert_eq(st.reqs[0].removed_raw, 6);
  cr_assert_eq(st.reqs[1].checked, 0);
  gen_space_stats_release(&st);
  /* constants are updated in place and read on the next run */
  cr_assert_eq(gen_space_set_const(s, "M", 16), AT_OK);
  cr_assert_eq(gen_space_enumerate(s, collect, &got, &st), AT_OK);
  cr_assert_eq(st.valid, 3);
  cr_assert_eq(st.reqs[1].removed_raw, 3);
  gen_space_stats_release(&st);
  free(got.values);
  gen_space_free(s);
}

Test(space, derived_parameters)
{
  struct spec sp = {
      .nparams = 4,
      .names = {"BM", "WARPS", "WM", "BK"},
      .values = {{64, 128, 256}, {1, 2, 4, 8}, {0}, {16, 32}},
      .nvalues = {3, 4, 0, 2},
      .derived = {NULL, NULL, "BM / WARPS", NULL},
      .nreqs = 2,
      .reqs = {"WM >= 32", "WM * BK <= 4096"},
  };
  compare(&sp, "derived", NULL);
  struct gen_space *s = spec_build(&sp);
  struct seen got = {0};
  cr_assert_eq(gen_space_enumerate(s, collect, &got, NULL), AT_OK);
  cr_assert_eq(got.count, 17);
  char *text;
  cr_assert_eq(gen_space_config_text(s, got.values, &text), AT_OK);
  cr_assert_str_eq(text, "BK=16,BM=64,WARPS=1,WM=64", "derived parameters are in the text");
  free(text);
  free(got.values);
  gen_space_free(s);
}

Test(space, evaluation_failures_reject_and_are_counted)
{
  struct gen_space *s = new_space();
  add_param(s, "BM", (int64_t[]){32, 64, 128}, 3);
  add_param(s, "D", (int64_t[]){0, 1, 2}, 3);
  cr_assert_eq(gen_space_add_derived(s, "Q", "4096 / (BM - 64)"), AT_OK);
  add_require(s, "div", "BM % D == 0");
  struct gen_space_stats st;
  struct seen got = {0};
  cr_assert_eq(gen_space_enumerate(s, collect, &got, &st), AT_OK);
  /* BM=64 fails in Q; D=0 fails in div (before Q is reached) */
  cr_assert_eq(st.valid, 4);
  cr_assert_eq(st.reqs[0].errors, 3);
  cr_assert_eq(st.reqs[0].removed, 3);
  cr_assert_eq(st.reqs[0].removed_raw, 3);
  cr_assert_eq(st.derived_removed, 2);
  cr_assert_eq(st.derived_removed_raw, 2);
  cr_assert_eq(st.raw, 9);
  cr_assert_eq(st.raw, st.valid + removed_raw_sum(&st));
  cr_assert_str_eq(st.first_error,
                   "constraint 'div': division by zero in '%' at column 4 (with BM=32,D=0)");
  cr_assert_eq(got.values[2], 4096 / (32 - 64));
  gen_space_stats_release(&st);
  free(got.values);
  gen_space_free(s);
}

Test(space, early_stop)
{
  struct gen_space *s = new_space();
  add_param(s, "A", (int64_t[]){1, 2, 3, 4}, 4);
  add_param(s, "B", (int64_t[]){1, 2, 3, 4}, 4);
  add_require(s, "lt", "A < B");
  struct seen got = {.stop_after = 3, .status_after = GEN_SPACE_STOP};
  struct gen_space_stats st;
  cr_assert_eq(gen_space_enumerate(s, collect, &got, &st), AT_OK);
  cr_assert_eq(got.count, 3);
  cr_assert_eq(st.valid, 3);
  cr_assert_eq(st.stopped, 1);
  int64_t want[] = {1, 2, 1, 3, 1, 4};
  cr_assert_eq(memcmp(got.values, want, sizeof want), 0);
  gen_space_stats_release(&st);
  /* a status from the callback stops and is returned */
  got.count = 0;
  got.stop_after = 2;
  got.status_after = AT_IO;
  cr_assert_eq(gen_space_enumerate(s, collect, &got, &st), AT_IO);
  cr_assert_eq(got.count, 2);
  cr_assert_eq(st.stopped, 0);
  gen_space_stats_release(&st);
  /* and a full run afterwards is unaffected */
  got.count = 0;
  got.stop_after = 0;
  cr_assert_eq(gen_space_enumerate(s, collect, &got, &st), AT_OK);
  cr_assert_eq(got.count, 6);
  cr_assert_eq(st.raw, st.valid + removed_raw_sum(&st));
  gen_space_stats_release(&st);
  free(got.values);
  gen_space_free(s);
}

/* Issue 15, item 8: a 10^9-config space was collected until malloc failed (2.7 GB).
 * gen_space_collect counts first and refuses a space above the cap, saying its size and
 * what to do; AUTOTUNE_MAX_CONFIGS raises (or lowers) the cap. */
Test(space, collect_refuses_a_space_above_the_cap, .timeout = 60)
{
  unsetenv("AUTOTUNE_MAX_CONFIGS");
  struct gen_space *s = new_space();
  const int64_t ten[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  char name[] = "P0";
  for (int i = 0; i < 9; i++, name[1]++)
    add_param(s, name, ten, 10);
  int64_t *v = (int64_t *)1;
  size_t n = 7;
  cr_assert_eq(gen_space_collect(s, &v, &n, NULL), AT_USAGE);
  cr_assert_null(v);
  cr_assert_eq(n, 0);
  cr_assert_str_eq(at_last_error(),
                   "search space too large: more than 1000000 valid configs (1000000000 raw: "
                   "the product of the params' value counts); add `require` constraints or "
                   "narrow the params' values, or raise the cap with AUTOTUNE_MAX_CONFIGS=N");
  gen_space_free(s);
  /* 10^4 configs: refused under a cap of 1000, collected under 10000 */
  s = new_space();
  add_param(s, "A", ten, 10);
  add_param(s, "B", ten, 10);
  add_param(s, "C", ten, 10);
  add_param(s, "D", ten, 10);
  setenv("AUTOTUNE_MAX_CONFIGS", "1000", 1);
  cr_assert_eq(gen_space_collect(s, &v, &n, NULL), AT_USAGE);
  cr_assert(strstr(at_last_error(), "more than 1000 valid configs (10000 raw"), "%s",
            at_last_error());
  setenv("AUTOTUNE_MAX_CONFIGS", "10000", 1);
  struct gen_space_stats st;
  cr_assert_eq(gen_space_collect(s, &v, &n, &st), AT_OK, "%s", at_last_error());
  cr_assert_eq(n, 10000);
  cr_assert_eq(st.valid, 10000);
  cr_assert_eq(st.stopped, 0);
  cr_assert(v[4 * 9999] == 9 && v[4 * 9999 + 3] == 9 && v[4 * 1234 + 1] == 2);
  free(v);
  gen_space_stats_release(&st);
  setenv("AUTOTUNE_MAX_CONFIGS", "lots", 1);
  cr_assert_eq(gen_space_collect(s, &v, &n, NULL), AT_USAGE);
  cr_assert_str_eq(at_last_error(), "bad AUTOTUNE_MAX_CONFIGS 'lots' (expected a count of "
                                    "configs, at least 1)");
  unsetenv("AUTOTUNE_MAX_CONFIGS");
  gen_space_free(s);
}

Test(space, config_text_is_canonical)
{
  struct gen_space *s = new_space();
  add_param(s, "ZB", (int64_t[]){1}, 1);
  add_param(s, "AA", (int64_t[]){-5}, 1);
  add_param(s, "M1", (int64_t[]){INT64_MIN}, 1);
  add_param(s, "B_2", (int64_t[]){INT64_MAX}, 1);
  add_param(s, "Aa", (int64_t[]){0}, 1);
  char *text = (char *)1;
  cr_assert_eq(gen_space_config_text(s, (int64_t[]){1, -5, INT64_MIN, INT64_MAX, 0}, &text),
               AT_OK);
  cr_assert_str_eq(text, "AA=-5,Aa=0,B_2=9223372036854775807,M1=-9223372036854775808,ZB=1");
  free(text);
  cr_assert_eq(gen_space_config_text(s, NULL, &text), AT_USAGE);
  cr_assert_null(text);
  gen_space_free(s);
  s = new_space();
  cr_assert_eq(gen_space_config_text(s, (int64_t[]){0}, &text), AT_OK);
  cr_assert_str_eq(text, "", "no parameters, empty text");
  free(text);
  struct seen got = {0};
  struct gen_space_stats st;
  cr_assert_eq(gen_space_enumerate(s, collect, &got, &st), AT_OK);
  cr_assert_eq(st.valid, 1, "the empty space has one (empty) config");
  cr_assert_eq(st.raw, 1);
  gen_space_stats_release(&st);
  free(got.values);
  gen_space_free(s);
}

Test(space, definition_errors)
{
  struct gen_space *s = new_space();
  add_param(s, "BM", (int64_t[]){1, 2}, 2);
  cr_assert_eq(gen_space_add_param(s, "BM", (int64_t[]){1}, 1), AT_USAGE);
  cr_assert_str_eq(at_last_error(), "parameter 'BM' is defined twice");
  cr_assert_eq(gen_space_add_param(s, "min", (int64_t[]){1}, 1), AT_USAGE);
  cr_assert_eq(gen_space_add_param(s, "sizeof_f16", (int64_t[]){1}, 1), AT_USAGE);
  cr_assert_eq(gen_space_add_param(s, "a.b", (int64_t[]){1}, 1), AT_USAGE);
  cr_assert_eq(gen_space_add_param(s, "1x", (int64_t[]){1}, 1), AT_USAGE);
  cr_assert_eq(gen_space_add_param(s, "", (int64_t[]){1}, 1), AT_USAGE);
  cr_assert_eq(gen_space_add_param(s, "E", NULL, 0), AT_USAGE);
  cr_assert_str_eq(at_last_error(), "parameter 'E' has no values");
  cr_assert_eq(gen_space_set_const(s, "BM", 3), AT_USAGE);
  cr_assert_eq(gen_space_set_const(s, "device.", 3), AT_USAGE);
  cr_assert_eq(gen_space_set_const(s, "device.lds_bytes", 3), AT_OK);
  cr_assert_eq(gen_space_add_param(s, "device.lds_bytes", (int64_t[]){1}, 1), AT_USAGE);
  cr_assert_eq(gen_space_add_require(s, "fits", "BM * (2"), AT_PARSE);
  cr_assert_str_eq(at_last_error(),
                   "constraint 'fits': expected ')' at column 8, found end of input");
  cr_assert_eq(gen_space_add_derived(s, "W", "BM +"), AT_PARSE);
  cr_assert_str_eq(at_last_error(),
                   "derived parameter 'W': expected an expression at column 5, found end of "
                   "input");
  add_require(s, "fits", "BM < 2");
  cr_assert_eq(gen_space_add_require(s, "fits", "1"), AT_USAGE);
  cr_assert_eq(gen_space_add_require(s, "", "1"), AT_USAGE);
  cr_assert_eq(gen_space_param_count(s), 1, "failed additions leave nothing behind");
  cr_assert_eq(gen_space_param_index(s, "BM"), 0);
  cr_assert_eq(gen_space_param_index(s, "W"), -1);
  cr_assert_str_eq(gen_space_param_name(s, 0), "BM");

  /* names are checked when enumerating, once everything is declared */
  add_require(s, "later", "BN > 0");
  struct gen_space_stats st;
  cr_assert_eq(gen_space_enumerate(s, NULL, NULL, &st), AT_PARSE);
  cr_assert_str_eq(at_last_error(), "constraint 'later': unknown identifier 'BN' at column 1");
  gen_space_stats_release(&st);
  add_param(s, "BN", (int64_t[]){4}, 1);
  cr_assert_eq(gen_space_enumerate(s, NULL, NULL, &st), AT_OK, "%s", at_last_error());
  cr_assert_eq(st.valid, 1);
  gen_space_stats_release(&st);

  cr_assert_eq(gen_space_add_derived(s, "W", "BM + X"), AT_OK);
  add_param(s, "X", (int64_t[]){4}, 1);
  cr_assert_eq(gen_space_enumerate(s, NULL, NULL, NULL), AT_PARSE);
  cr_assert_str_eq(at_last_error(),
                   "derived parameter 'W' uses 'X', which is not defined before it");
  cr_assert_eq(gen_space_add_derived(s, "Self", "Self + 1"), AT_OK);
  gen_space_free(s);
  cr_assert_eq(gen_space_enumerate(NULL, NULL, NULL, NULL), AT_USAGE);
  gen_space_free(NULL);
}

/* ---- random spaces ------------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng_state >> 33) % n;
}

static void gen_leaf(char *buf, size_t cap, size_t np)
{
  size_t o = strlen(buf);
  if (rnd(3) == 0)
    snprintf(buf + o, cap - o, "%d", (int)rnd(12) - 3);
  else if (rnd(8) == 0)
    snprintf(buf + o, cap - o, "M");
  else
    snprintf(buf + o, cap - o, "P%u", rnd((uint32_t)np));
}

static void rand_expr(char *buf, size_t cap, size_t np, int depth)
{
  static const char *const binops[] = {"+", "-", "*", "/", "%", "<", "<=", ">", ">=",
                                       "==", "!=", "&&", "||"};
  static const char *const cmps[] = {"<", "<=", ">", ">=", "==", "!="};
  size_t o = strlen(buf);
  if (depth == 0 || (depth < 3 && rnd(3) == 0)) {
    gen_leaf(buf, cap, np);
    return;
  }
  uint32_t kind = rnd(10);
  if (depth == 3 && kind < 6)
    kind = 9; /* mostly comparisons at the top */
  if (kind == 0) {
    snprintf(buf + o, cap - o, "%s(", rnd(2) ? "-" : "!");
    rand_expr(buf, cap, np, depth - 1);
    strncat(buf, ")", cap - strlen(buf) - 1);
  } else if (kind == 1) {
    strncat(buf, "(", cap - o - 1);
    rand_expr(buf, cap, np, depth - 1);
    strncat(buf, ") ? (", cap - strlen(buf) - 1);
    rand_expr(buf, cap, np, depth - 1);
    strncat(buf, ") : (", cap - strlen(buf) - 1);
    rand_expr(buf, cap, np, depth - 1);
    strncat(buf, ")", cap - strlen(buf) - 1);
  } else if (kind == 2) {
    static const char *const fns[] = {"min", "max", "cdiv"};
    const char *fn = fns[rnd(3)];
    snprintf(buf + o, cap - o, "%s(", fn);
    size_t nargs = strcmp(fn, "cdiv") == 0 ? 2 : 1 + rnd(3);
    for (size_t i = 0; i < nargs; i++) {
      if (i)
        strncat(buf, ", ", cap - strlen(buf) - 1);
      rand_expr(buf, cap, np, depth - 1);
    }
    strncat(buf, ")", cap - strlen(buf) - 1);
  } else {
    const char *op = kind == 9 ? cmps[rnd(6)] : binops[rnd(13)];
    strncat(buf, "(", cap - o - 1);
    rand_expr(buf, cap, np, depth - 1);
    o = strlen(buf);
    snprintf(buf + o, cap - o, ") %s (", op);
    rand_expr(buf, cap, np, depth - 1);
    strncat(buf, ")", cap - strlen(buf) - 1);
  }
}

static void random_spaces(uint64_t seed, int with_derived, int rounds)
{
  static const char *const names[] = {"P0", "P1", "P2", "P3", "P4", "P5"};
  static char texts[12][2048];
  struct seen_kinds kinds = {0};
  rng_state = seed;
  for (int round = 0; round < rounds; round++) {
    struct spec sp = {.nconsts = 1, .const_names = {"M"}, .const_values = {(int64_t)rnd(9)}};
    sp.nparams = 3 + rnd(3);
    for (size_t i = 0; i < sp.nparams; i++) {
      sp.names[i] = names[i];
      sp.nvalues[i] = 1 + rnd(5);
      for (size_t v = 0; v < sp.nvalues[i]; v++)
        sp.values[i][v] = (int64_t)rnd(12) - 3;
      if (with_derived && i > 0 && rnd(3) == 0) {
        texts[6 + i][0] = '\0';
        rand_expr(texts[6 + i], sizeof texts[0], i, 2);
        sp.nvalues[i] = 0;
        sp.derived[i] = texts[6 + i];
      }
    }
    sp.nreqs = 1 + rnd(4);
    for (size_t r = 0; r < sp.nreqs; r++) {
      texts[r][0] = '\0';
      rand_expr(texts[r], sizeof texts[0], sp.nparams, 3);
      sp.reqs[r] = texts[r];
    }
    char label[64];
    snprintf(label, sizeof label, "seed %" PRIu64 " round %d", seed, round);
    compare(&sp, label, &kinds);
  }
  /* the generator must produce spaces worth comparing */
  cr_assert_geq(kinds.mixed, rounds / 5, "only %d mixed spaces", kinds.mixed);
  cr_assert_geq(kinds.errors, rounds / 20, "only %d spaces with failures", kinds.errors);
  cr_assert_geq(kinds.early_prune, rounds / 10, "only %d early prunes", kinds.early_prune);
  cr_log_info("seed %" PRIu64 ": %d mixed, %d with failures, %d pruned early", seed,
              kinds.mixed, kinds.errors, kinds.early_prune);
}

Test(space, random_spaces_match_brute_force)
{
  random_spaces(20240601, 0, 400);
}

Test(space, random_spaces_with_derived_match_brute_force)
{
  random_spaces(77, 1, 300);
}
