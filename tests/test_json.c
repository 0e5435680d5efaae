/*
 * test_json.c - the one-line JSON reader and the writers of base/json.h: every value
 * type, every escape, exact integers, errors that name their column, and doubles that
 * are written so that they read back bit for bit (and never as NaN or inf).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"
#include "base/json.h"

static struct json *parse_ok(const char *text)
{
  struct json *v = NULL;
  char err[256];
  int rc = json_parse(text, strlen(text), &v, err, sizeof err);
  cr_assert_eq(rc, AT_OK, "parse of %s failed: %s", text, err);
  cr_assert_not_null(v);
  return v;
}

/* Parse `text`, expect AT_PARSE and an error that starts with `prefix`. */
static void parse_fails(const char *text, const char *prefix)
{
  struct json *v = (struct json *)1;
  char err[256];
  int rc = json_parse(text, strlen(text), &v, err, sizeof err);
  cr_assert_eq(rc, AT_PARSE, "%s parsed", text);
  cr_assert_null(v);
  cr_assert(strncmp(err, prefix, strlen(prefix)) == 0, "for %s: got '%s', expected '%s...'",
            text, err, prefix);
}

/* What the writer `fn` prints, malloc'd. */
static char *written(void (*fn)(FILE *, double), double x)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  fn(f, x);
  fclose(f);
  return buf;
}

static char *written_str(const char *s)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  json_write_str(f, s);
  fclose(f);
  return buf;
}

Test(json, reads_every_type_and_keeps_key_order)
{
  struct json *v = parse_ok(" {\"z\":1,\"a\":[true,false,null,\"s\",-2.5e3,{}],\"m\":{}} \r\n");
  cr_assert_eq(v->type, JSON_OBJECT);
  cr_assert_eq(v->len, 3);
  cr_assert_str_eq(v->keys[0], "z");
  cr_assert_str_eq(v->keys[1], "a");
  cr_assert_str_eq(v->keys[2], "m");
  const struct json *a = json_get(v, "a");
  cr_assert_eq(a->type, JSON_ARRAY);
  cr_assert_eq(a->len, 6);
  cr_assert(a->items[0].type == JSON_BOOL && a->items[0].boolean);
  cr_assert(a->items[1].type == JSON_BOOL && !a->items[1].boolean);
  cr_assert_eq(a->items[2].type, JSON_NULL);
  cr_assert_str_eq(a->items[3].string, "s");
  cr_assert_eq(a->items[4].number, -2500.0);
  cr_assert_not(a->items[4].is_int, "a number with an exponent is not an integer text");
  cr_assert_eq(a->items[5].type, JSON_OBJECT);
  cr_assert_null(json_get(v, "missing"));
  cr_assert_null(json_get(a, "z"), "an array has no keys");
  json_free(v);
}

Test(json, integers_are_exact_beyond_double_precision)
{
  struct json *v = parse_ok("[9007199254740993,-9223372036854775808,9223372036854775808,-0,7]");
  cr_assert(v->items[0].is_int);
  cr_assert_eq(v->items[0].integer, 9007199254740993LL, "2^53+1 must not round");
  cr_assert(v->items[1].is_int);
  cr_assert_eq(v->items[1].integer, INT64_MIN);
  cr_assert_not(v->items[2].is_int, "2^63 does not fit int64");
  cr_assert_eq(v->items[2].number, 9223372036854775808.0);
  cr_assert(v->items[3].is_int && v->items[3].integer == 0);
  cr_assert(signbit(v->items[3].number), "-0 keeps its sign as a double");
  cr_assert_eq(v->items[4].number, 7.0);
  json_free(v);
}

Test(json, decodes_every_escape_to_utf8)
{
  struct json *v =
      parse_ok("\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u20AC \\ud83d\\ude00 ü\"");
  cr_assert_eq(v->type, JSON_STRING);
  const char *want = "q\" b\\ s/ \b\f\n\r\t \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xc3\xbc";
  cr_assert_str_eq(v->string, want);
  cr_assert_eq(v->len, strlen(want));
  json_free(v);
}

Test(json, errors_name_the_column)
{
  parse_fails("{\"a\":1,}", "column 8: unexpected '}', expected a key");
  parse_fails("{\"a\" 1}", "column 6: unexpected '1', expected ':'");
  parse_fails("[1 2]", "column 4: unexpected '2', expected ',' or ']'");
  parse_fails("[1,2", "column 5: unexpected end of the line, expected ',' or ']'");
  parse_fails("{\"a\":1}x", "column 8: unexpected 'x' after the value");
  parse_fails("", "column 1: unexpected end of the line");
  parse_fails("   \n", "column 5: unexpected end of the line");
  parse_fails("tru", "column 1: unexpected 't'");
  parse_fails("nul", "column 1: unexpected 'n'");
  parse_fails("\"abc", "column 1: string is not closed");
  parse_fails("\"a\\x\"", "column 3: invalid escape '\\x'");
  parse_fails("\"a\\u12g4\"", "column 3: \\u must be followed by 4 hex digits");
  parse_fails("\"\\ud83d\"", "column 2: unpaired surrogate \\uD83D");
  parse_fails("\"\\ud83d\\u0041\"", "column 2: unpaired surrogate \\uD83D");
  parse_fails("\"\\ude00\"", "column 2: unpaired surrogate \\uDE00");
  parse_fails("\"a\\u0000b\"", "column 3: \\u0000 is not allowed");
  parse_fails("\"a\tb\"", "column 3: control character \\x09");
  parse_fails("{\"k\":1,\"k\":2}", "column 8: duplicate key 'k'");
  parse_fails("01", "column 1: number with a leading zero");
  parse_fails("1.", "column 1: invalid number: digits must follow '.'");
  parse_fails("1e", "column 1: invalid number: digits must follow the exponent");
  parse_fails("-", "column 1: invalid number");
  parse_fails("+1", "column 1: unexpected '+'");
  parse_fails(".5", "column 1: unexpected '.'");
  parse_fails("1e999", "column 1: number 1e999 is out of range");
  parse_fails("NaN", "column 1: unexpected 'N'");
  parse_fails("[1,\x01]", "column 4: unexpected '\\x01'");
}

Test(json, raw_nul_byte_is_an_error)
{
  struct json *v = NULL;
  char err[128];
  cr_assert_eq(json_parse("[1,\0 2]", 7, &v, err, sizeof err), AT_PARSE);
  cr_assert_str_eq(err, "column 4: unexpected '\\x00', expected a value");
}

Test(json, nesting_is_limited)
{
  char deep[2 * JSON_MAX_DEPTH + 8];
  size_t n = 0;
  for (int i = 0; i < JSON_MAX_DEPTH; i++)
    deep[n++] = '[';
  for (int i = 0; i < JSON_MAX_DEPTH; i++)
    deep[n++] = ']';
  deep[n] = '\0';
  json_free(parse_ok(deep));
  memmove(deep + 1, deep, n + 1);
  deep[0] = '[';
  deep[n + 1] = ']';
  deep[n + 2] = '\0';
  parse_fails(deep, "column 65: nested deeper than 64 levels");
}

Test(json, errors_free_partial_trees)
{
  /* The Sanitize build reports any leak of the partial trees. */
  parse_fails("{\"a\":[\"x\",{\"b\":\"y\"}],\"c\":\"z\",\"d\":[1,2,",
              "column 39: unexpected end of the line, expected a value");
  parse_fails("{\"a\":\"x\",\"a\":1}", "column 10: duplicate key 'a'");
}

Test(json, write_str_escapes_and_reads_back)
{
  const char *s = "quote\" back\\ slash/ \b\f\n\r\t \x01\x1f \x7f é 😀";
  char *w = written_str(s);
  cr_assert_str_eq(w, "\"quote\\\" back\\\\ slash/ \\b\\f\\n\\r\\t \\u0001\\u001f \x7f é 😀\"");
  struct json *v = parse_ok(w);
  cr_assert_str_eq(v->string, s);
  json_free(v);
  free(w);
  w = written_str(NULL);
  cr_assert_str_eq(w, "null");
  free(w);
}

Test(json, write_double_is_short_exact_and_never_nan)
{
  static const struct {
    double v;
    const char *text;
  } cases[] = {{0.1, "0.1"},       {1e-300, "1e-300"}, {12.5, "12.5"}, {0.0, "0"},
               {1.0 / 3, "0.3333333333333333"}, {4096, "4096"}, {-2.5e-7, "-2.5e-07"},
               {1e300, "1e+300"}, {0.3, "0.3"},
               {0.1 + 0.2, "0.30000000000000004"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *w = written(json_write_double, cases[i].v);
    cr_assert_str_eq(w, cases[i].text);
    free(w);
  }
  const double missing[] = {NAN, -NAN, INFINITY, -INFINITY};
  for (size_t i = 0; i < 4; i++) {
    char *w = written(json_write_double, missing[i]);
    cr_assert_str_eq(w, "null");
    free(w);
  }
}

Test(json, doubles_round_trip_bit_for_bit)
{
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 20000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double d;
    memcpy(&d, &x, sizeof d);
    if (!isfinite(d))
      continue;
    char *w = written(json_write_double, d);
    struct json *v = parse_ok(w);
    cr_assert_eq(v->type, JSON_NUMBER);
    cr_assert(memcmp(&v->number, &d, sizeof d) == 0, "%s does not read back exactly", w);
    json_free(v);
    free(w);
  }
}

Test(json, write_int)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  json_write_int(f, INT64_MIN);
  fputc(' ', f);
  json_write_int(f, 4096);
  fclose(f);
  cr_assert_str_eq(buf, "-9223372036854775808 4096");
  free(buf);
}
