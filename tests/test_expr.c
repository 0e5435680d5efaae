/*
 * test_expr.c - the constraint expression language: values of every operator, the
 * precedence and associativity table, the builtins, short-circuit evaluation, checked
 * arithmetic, binding to slots and the parse and evaluation errors with their columns.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "generator/expr.h"
#include "base/status.h"

/* The variables the tests may use, slot = index. */
static const char *const var_names[] = {
    "a", "b", "c", "zero", "big", "small", "device.lds_bytes", "device.wave_size", "M",
};
static const int64_t var_values[] = {
    7, 3, -2, 0, INT64_MAX, INT64_MIN, 65536, 64, 4096,
};
#define NVARS (sizeof var_names / sizeof var_names[0])

static int resolve(void *ctx, const char *name)
{
  (void)ctx;
  for (size_t i = 0; i < NVARS; i++)
    if (strcmp(var_names[i], name) == 0)
      return (int)i;
  return -1;
}

/* Parse, bind and evaluate; the status of the first step that fails. */
static int run(const char *text, int64_t *value)
{
  struct gen_expr *e = NULL;
  *value = -12345;
  int rc = gen_expr_parse(text, &e);
  if (rc == AT_OK)
    rc = gen_expr_bind(e, resolve, NULL);
  if (rc == AT_OK)
    rc = gen_expr_eval(e, var_values, NULL, value);
  gen_expr_free(e);
  return rc;
}

struct case_value {
  const char *text;
  int64_t want;
};

static void check_values(const struct case_value *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    int64_t v;
    int rc = run(cases[i].text, &v);
    cr_assert_eq(rc, AT_OK, "'%s': %s", cases[i].text, at_last_error());
    cr_assert_eq(v, cases[i].want, "'%s' gave %lld, want %lld", cases[i].text, (long long)v,
                 (long long)cases[i].want);
  }
}

struct case_error {
  const char *text;
  int status;
  const char *message; /* exact */
};

static void check_errors(const struct case_error *cases, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    int64_t v;
    int rc = run(cases[i].text, &v);
    cr_assert_eq(rc, cases[i].status, "'%s': status %s, want %s (%s)", cases[i].text,
                 at_status_name(rc), at_status_name(cases[i].status), at_last_error());
    cr_assert_str_eq(at_last_error(), cases[i].message, "'%s'", cases[i].text);
    if (cases[i].status == AT_USAGE) /* failed in gen_expr_eval */
      cr_assert_eq(v, 0, "'%s': value not cleared on failure", cases[i].text);
  }
}

#define CHECK_VALUES(arr) check_values(arr, sizeof arr / sizeof arr[0])
#define CHECK_ERRORS(arr) check_errors(arr, sizeof arr / sizeof arr[0])

Test(expr, every_operator)
{
  static const struct case_value cases[] = {
      {"42", 42}, {"0x10", 16}, {"0XfF", 255}, {"007", 7},
      {"a + b", 10}, {"a - b", 4}, {"a * c", -14}, {"a / b", 2}, {"a % b", 1},
      {"-a / b", -2}, {"-a % b", -1}, {"a % -b", 1}, {"a / -b", -2},
      {"-a", -7}, {"-c", 2}, {"!a", 0}, {"!zero", 1},
      {"a < b", 0}, {"b < a", 1}, {"a <= 7", 1}, {"a <= 6", 0}, {"a > b", 1}, {"b > a", 0},
      {"a >= 7", 1}, {"a >= 8", 0}, {"a == 7", 1}, {"a == 8", 0}, {"a != 7", 0},
      {"a != 8", 1}, {"a && b", 1}, {"a && zero", 0}, {"zero || c", 1},
      {"zero || zero", 0}, {"a ? b : c", 3}, {"zero ? b : c", -2},
      {"9223372036854775807", INT64_MAX}, {"-9223372036854775807 - 1", INT64_MIN},
      {"small % -1", 0}, {"small / 1", INT64_MIN}, {"big * 1", INT64_MAX},
      {"big + small", -1}, {"small + 0", INT64_MIN}, {"-big - 1", INT64_MIN},
      {" \t a\n+\r\nb ", 10},
  };
  CHECK_VALUES(cases);
}

Test(expr, precedence_and_associativity)
{
  /* Each case gives a different value under the wrong precedence or associativity. */
  static const struct case_value cases[] = {
      {"1 + 2 * 3", 7},        /* * over + */
      {"(1 + 2) * 3", 9},      /* parentheses */
      {"10 - 4 - 3", 3},       /* - is left-associative */
      {"100 / 10 / 5", 2},     /* / is left-associative */
      {"2 * 3 % 4", 2},        /* * and % share a level, left to right */
      {"7 % 4 * 2", 6},
      {"1 + 2 < 4", 1},        /* + over < */
      {"5 == 5 < 6", 0},       /* < over == */
      {"1 < 2 < 3", 1},        /* (1 < 2) < 3 */
      {"3 > 2 > 1", 0},        /* (3 > 2) > 1 */
      {"1 || 0 && 0", 1},      /* && over || */
      {"0 && 1 || 1", 1},
      {"1 == 1 && 0", 0},      /* == over && */
      {"2 == 2 || 0", 1},
      {"1 ? 0 : 1 ? 2 : 3", 0}, /* ?: is right-associative */
      {"0 ? 1 : 0 ? 2 : 3", 3},
      {"1 || 0 ? 5 : 6", 5},   /* || over ?: */
      {"0 ? 1 : 2 + 3", 5},
      {"-2 * 3", -6},          /* unary over binary */
      {"-(2 + 3)", -5},
      {"!0 + 1", 2},
      {"!(0 + 1)", 0},
      {"- -3", 3},
      {"!!5", 1},
      {"-!0", -1},
      {"2 - -3", 5},
      {"a - b - c", 6},
      {"a * b - c * c", 17},
      {"(a + b) * (a - b) / 2", 20},
  };
  CHECK_VALUES(cases);
}

Test(expr, builtins)
{
  static const struct case_value cases[] = {
      {"min(a, b, c)", -2}, {"max(a, b, c)", 7}, {"min(a)", 7}, {"max(c)", -2},
      {"max(1, max(2, 3), min(9, 8))", 8}, {"min (4, 5)", 4},
      {"cdiv(7, 2)", 4}, {"cdiv(8, 2)", 4}, {"cdiv(0, 5)", 0}, {"cdiv(1, 5)", 1},
      {"cdiv(-7, 2)", -3}, {"cdiv(7, -2)", -3}, {"cdiv(-7, -2)", 4}, {"cdiv(-8, -2)", 4},
      {"cdiv(big, 2)", INT64_MAX / 2 + 1}, {"cdiv(small, 1)", INT64_MIN},
      {"cdiv(M, 128) * 128", 4096}, {"cdiv(M + 1, 128)", 33},
      {"sizeof_f8", 1}, {"sizeof_f16", 2}, {"sizeof_bf16", 2}, {"sizeof_f32", 4},
      {"2 * 64 * 32 * sizeof_f16", 8192},
      {"device.lds_bytes / device.wave_size", 1024},
      {"(64 * 32 + 32 * 64) * sizeof_f16 <= device.lds_bytes", 1},
  };
  CHECK_VALUES(cases);
}

Test(expr, short_circuit)
{
  static const struct case_value cases[] = {
      {"0 && 1 / 0", 0}, {"1 || 1 / 0", 1}, {"zero && big * big", 0},
      {"a > 0 || -small", 1}, {"1 ? 5 : 1 / 0", 5}, {"0 ? 1 / 0 : 6", 6},
      {"zero != 0 && a % zero == 0", 0}, {"zero == 0 || a % zero == 0", 1},
  };
  CHECK_VALUES(cases);
  /* A short-circuited operand is not read, so it may be unbound. */
  struct gen_expr *e;
  cr_assert_eq(gen_expr_parse("zero && b", &e), AT_OK);
  cr_assert_eq(gen_expr_bind(e, resolve, NULL), AT_OK);
  unsigned char bound[NVARS];
  memset(bound, 1, sizeof bound);
  bound[1] = 0;
  int64_t v;
  cr_assert_eq(gen_expr_eval(e, var_values, bound, &v), AT_OK, "%s", at_last_error());
  cr_assert_eq(v, 0);
  gen_expr_free(e);
}

Test(expr, evaluation_errors)
{
  static const struct case_error cases[] = {
      {"1 / 0", AT_USAGE, "division by zero in '/' at column 3"},
      {"a % zero", AT_USAGE, "division by zero in '%' at column 3"},
      {"cdiv(1, 0)", AT_USAGE, "division by zero in 'cdiv' at column 1"},
      {"1 && 1 / zero", AT_USAGE, "division by zero in '/' at column 8"},
      {"big + 1", AT_USAGE, "integer overflow in '+' at column 5"},
      {"small - 1", AT_USAGE, "integer overflow in '-' at column 7"},
      {"1 - small", AT_USAGE, "integer overflow in '-' at column 3"},
      {"big * 2", AT_USAGE, "integer overflow in '*' at column 5"},
      {"2 * small", AT_USAGE, "integer overflow in '*' at column 3"},
      {"small * -1", AT_USAGE, "integer overflow in '*' at column 7"},
      {"-1 * small", AT_USAGE, "integer overflow in '*' at column 4"},
      {"-small", AT_USAGE, "integer overflow in 'unary -' at column 1"},
      {"small / -1", AT_USAGE, "integer overflow in '/' at column 7"},
      {"cdiv(small, -1)", AT_USAGE, "integer overflow in 'cdiv' at column 1"},
      {"min(1, big + big)", AT_USAGE, "integer overflow in '+' at column 12"},
      {"4294967296 * 4294967296", AT_USAGE, "integer overflow in '*' at column 12"},
  };
  CHECK_ERRORS(cases);
}

Test(expr, parse_errors_with_columns)
{
  static const struct case_error cases[] = {
      {"(1 + 2", AT_PARSE, "expected ')' at column 7, found end of input"},
      {"min(a, b x", AT_PARSE, "expected ',' or ')' at column 10, found 'x'"},
      {"(a + b x) * 2", AT_PARSE, "expected ')' at column 8, found 'x'"},
      {"1 +", AT_PARSE, "expected an expression at column 4, found end of input"},
      {"", AT_PARSE, "expected an expression at column 1, found end of input"},
      {"1 2", AT_PARSE, "expected an operator at column 3, found '2'"},
      {"a b", AT_PARSE, "expected an operator at column 3, found 'b'"},
      {"1 ? 2", AT_PARSE, "expected ':' at column 6, found end of input"},
      {"* 2", AT_PARSE, "expected an expression at column 1, found '*'"},
      {"a = 1", AT_PARSE, "unexpected character '=' at column 3 (did you mean '=='?)"},
      {"a & b", AT_PARSE, "unexpected character '&' at column 3 (did you mean '&&'?)"},
      {"a | b", AT_PARSE, "unexpected character '|' at column 3 (did you mean '||'?)"},
      {"a @ b", AT_PARSE, "unexpected character '@' at column 3"},
      {"1 + \x01", AT_PARSE, "unexpected character '\\x01' at column 5"},
      {"foo(1)", AT_PARSE, "unknown function 'foo' at column 1 (known: min, max, cdiv)"},
      {"min", AT_PARSE, "expected '(' after 'min' at column 4, found end of input"},
      {"max + 1", AT_PARSE, "expected '(' after 'max' at column 5, found '+'"},
      {"cdiv(1)", AT_PARSE, "'cdiv' at column 1 takes 2 arguments, found 1"},
      {"cdiv(1, 2, 3)", AT_PARSE, "'cdiv' at column 1 takes 2 arguments, found 3"},
      {"min()", AT_PARSE, "expected an expression at column 5, found ')'"},
      {"1)", AT_PARSE, "unbalanced ')' at column 2"},
      {"99999999999999999999", AT_PARSE,
       "integer literal '99999999999999999999' at column 1 does not fit in 64 bits"},
      {"9223372036854775808", AT_PARSE,
       "integer literal '9223372036854775808' at column 1 does not fit in 64 bits"},
      {"12ab + 1", AT_PARSE, "bad integer literal '12ab' at column 1"},
      {"0x", AT_PARSE, "bad integer literal '0x' at column 1"},
      {"1 + 0xg", AT_PARSE, "bad integer literal '0xg' at column 5"},
      {"device. + 1", AT_PARSE, "bad identifier 'device.' at column 1"},
      {"a.1", AT_PARSE, "bad identifier 'a.' at column 1"},
      {"sizeof_f16(2)", AT_PARSE, "expected an operator at column 11, found '('"},
      {"a + q", AT_PARSE, "unknown identifier 'q' at column 5"},
      {"device.lds_bytez > 0", AT_PARSE, "unknown identifier 'device.lds_bytez' at column 1"},
  };
  CHECK_ERRORS(cases);
}

Test(expr, long_tokens_are_capped_in_messages)
{
  char text[200];
  memset(text, 'x', 100);
  text[0] = '1';
  text[100] = '\0';
  int64_t v;
  cr_assert_eq(run(text, &v), AT_PARSE);
  cr_assert_str_eq(at_last_error(),
                   "bad integer literal '1xxxxxxxxxxxxxxxxxxxxxxx...' at column 1");
}

Test(expr, nul_byte_is_a_syntax_error)
{
  struct gen_expr *e = (struct gen_expr *)1;
  cr_assert_eq(gen_expr_parse_n("1\0+2", 4, &e), AT_PARSE);
  cr_assert_null(e);
  cr_assert_str_eq(at_last_error(), "unexpected character '\\x00' at column 2");
  cr_assert_eq(gen_expr_parse_n("1+2xyz", 3, &e), AT_OK, "only len bytes are read");
  int64_t v;
  cr_assert_eq(gen_expr_eval(e, NULL, NULL, &v), AT_OK);
  cr_assert_eq(v, 3);
  cr_assert_str_eq(gen_expr_text(e), "1+2");
  gen_expr_free(e);
}

/* text = prefix x n, middle, suffix x n */
static char *repeat(const char *prefix, size_t n, const char *middle, const char *suffix)
{
  size_t lp = strlen(prefix), lm = strlen(middle), ls = strlen(suffix);
  char *s = malloc((lp + ls) * n + lm + 1);
  char *o = s;
  for (size_t i = 0; i < n; i++, o += lp)
    memcpy(o, prefix, lp);
  memcpy(o, middle, lm);
  o += lm;
  for (size_t i = 0; i < n; i++, o += ls)
    memcpy(o, suffix, ls);
  *o = '\0';
  return s;
}

Test(expr, depth_limit)
{
  int64_t v;
  char *ok = repeat("(", GEN_EXPR_MAX_DEPTH, "5", ")");
  cr_assert_eq(run(ok, &v), AT_OK, "%s", at_last_error());
  cr_assert_eq(v, 5);
  free(ok);
  const char *deep[][3] = {
      {"(", "1", ")"}, {"-", "1", ""}, {"!", "1", ""}, {"min(", "1", ")"},
      {"1 ? 1 : ", "1", ""}, {"1 + ", "1", ""}, {"", "1", " * 1"},
  };
  for (size_t i = 0; i < sizeof deep / sizeof deep[0]; i++) {
    char *text = repeat(deep[i][0], 100000, deep[i][1], deep[i][2]);
    cr_assert_eq(run(text, &v), AT_PARSE, "case %zu", i);
    cr_assert(strstr(at_last_error(), "nested too deeply") != NULL, "case %zu: %s", i,
              at_last_error());
    free(text);
  }
  char *chain = repeat("1 + ", 200, "1", "");
  cr_assert_eq(run(chain, &v), AT_OK, "%s", at_last_error());
  cr_assert_eq(v, 201);
  free(chain);
}

Test(expr, variables_and_slots)
{
  struct gen_expr *e;
  cr_assert_eq(gen_expr_parse("M * b + b * device.wave_size - max(M, c)", &e), AT_OK);
  cr_assert_eq(gen_expr_var_count(e), 4);
  cr_assert_str_eq(gen_expr_var_name(e, 0), "M");
  cr_assert_str_eq(gen_expr_var_name(e, 1), "b");
  cr_assert_str_eq(gen_expr_var_name(e, 2), "device.wave_size");
  cr_assert_str_eq(gen_expr_var_name(e, 3), "c");
  cr_assert_eq(gen_expr_var_slot(e, 0), -1, "unbound before gen_expr_bind");
  cr_assert_eq(gen_expr_max_slot(e), -1);
  int64_t v = 99;
  cr_assert_eq(gen_expr_eval(e, var_values, NULL, &v), AT_USAGE);
  cr_assert_str_eq(at_last_error(), "expression is not bound: 'M' has no slot");
  cr_assert_eq(v, 0);
  cr_assert_eq(gen_expr_bind(e, resolve, NULL), AT_OK);
  cr_assert_eq(gen_expr_var_slot(e, 0), 8);
  cr_assert_eq(gen_expr_var_slot(e, 1), 1);
  cr_assert_eq(gen_expr_var_slot(e, 2), 7);
  cr_assert_eq(gen_expr_var_slot(e, 3), 2);
  cr_assert_eq(gen_expr_max_slot(e), 8);
  cr_assert_eq(gen_expr_eval(e, var_values, NULL, &v), AT_OK);
  cr_assert_eq(v, 4096 * 3 + 3 * 64 - 4096);
  /* other values, same expression */
  int64_t other[NVARS];
  memcpy(other, var_values, sizeof other);
  other[8] = 10;
  cr_assert_eq(gen_expr_eval(e, other, NULL, &v), AT_OK);
  cr_assert_eq(v, 10 * 3 + 3 * 64 - 10);
  /* an unbound slot that is read is an error naming it */
  unsigned char bound[NVARS];
  memset(bound, 1, sizeof bound);
  bound[7] = 0;
  cr_assert_eq(gen_expr_eval(e, var_values, bound, &v), AT_USAGE);
  cr_assert_str_eq(at_last_error(), "'device.wave_size' is not bound (column 13)");
  gen_expr_free(e);

  cr_assert_eq(gen_expr_parse("sizeof_f32 * 3 + min(1, 2)", &e), AT_OK);
  cr_assert_eq(gen_expr_var_count(e), 0, "builtins are not variables");
  cr_assert_eq(gen_expr_eval(e, NULL, NULL, &v), AT_OK);
  cr_assert_eq(v, 13);
  gen_expr_free(e);
}

static int resolve_none(void *ctx, const char *name)
{
  (void)ctx;
  (void)name;
  return -1;
}

Test(expr, failed_bind_leaves_the_expression_unbound)
{
  struct gen_expr *e;
  cr_assert_eq(gen_expr_parse("a + b", &e), AT_OK);
  cr_assert_eq(gen_expr_bind(e, resolve, NULL), AT_OK);
  cr_assert_eq(gen_expr_bind(e, resolve_none, NULL), AT_PARSE);
  cr_assert_str_eq(at_last_error(), "unknown identifier 'a' at column 1");
  cr_assert_eq(gen_expr_var_slot(e, 0), -1);
  cr_assert_eq(gen_expr_var_slot(e, 1), -1);
  int64_t v;
  cr_assert_eq(gen_expr_eval(e, var_values, NULL, &v), AT_USAGE);
  gen_expr_free(e);
  /* refused even where short-circuit would skip the unknown name */
  cr_assert_eq(gen_expr_parse("1 || q", &e), AT_OK);
  cr_assert_eq(gen_expr_bind(e, resolve, NULL), AT_PARSE);
  cr_assert_eq(gen_expr_eval(e, var_values, NULL, &v), AT_USAGE);
  cr_assert_str_eq(at_last_error(), "expression is not bound: 'q' has no slot");
  gen_expr_free(e);
}

Test(expr, null_arguments)
{
  struct gen_expr *e = (struct gen_expr *)1;
  cr_assert_eq(gen_expr_parse(NULL, &e), AT_USAGE);
  cr_assert_null(e);
  cr_assert_eq(gen_expr_parse("1", NULL), AT_USAGE);
  cr_assert_eq(gen_expr_bind(NULL, resolve, NULL), AT_USAGE);
  int64_t v = 5;
  cr_assert_eq(gen_expr_eval(NULL, var_values, NULL, &v), AT_USAGE);
  cr_assert_eq(v, 0);
  cr_assert_eq(gen_expr_parse("a", &e), AT_OK);
  cr_assert_eq(gen_expr_bind(e, resolve, NULL), AT_OK);
  cr_assert_eq(gen_expr_eval(e, NULL, NULL, &v), AT_USAGE, "variables need slots");
  gen_expr_free(e);
  gen_expr_free(NULL);
}
