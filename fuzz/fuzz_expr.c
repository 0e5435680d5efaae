/*
 * fuzz_expr.c - libFuzzer target for the constraint expression language: parses any
 * input, binds every identifier to one of a few slots, and evaluates the expression
 * under several slot values (extremes included) and with a slot left unbound, checking
 * that every failure leaves a status and a message and that evaluation is repeatable.
 * Built outside CMake; fuzz/README.md has the command.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/expr.h"
#include "base/status.h"

#define NSLOTS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Any name is known: its slot is a hash of it, so bind always succeeds except for the
 * names that start with 'u', which are unknown (to exercise the bind failure). */
static int resolve(void *ctx, const char *name)
{
  (void)ctx;
  if (name[0] == 'u')
    return -1;
  unsigned h = 5381;
  for (const char *c = name; *c; c++)
    h = h * 33 + (unsigned char)*c;
  return (int)(h % NSLOTS);
}

static void must(int cond, const char *what)
{
  if (!cond) {
    fprintf(stderr, "fuzz_expr: broken invariant: %s\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const int64_t sets[][NSLOTS] = {
      {0, 0, 0, 0},
      {1, 2, 3, 4},
      {-1, 64, 65536, 7},
      {INT64_MAX, INT64_MIN, -1, 2},
      {INT64_MIN, INT64_MAX, 0, -2},
  };
  struct gen_expr *e = NULL;
  int rc = gen_expr_parse_n((const char *)data, size, &e);
  if (rc != AT_OK) {
    must(e == NULL, "no expression after a failed parse");
    must(rc == AT_PARSE || rc == AT_NOMEM, "parse status");
    must(at_last_error()[0] != '\0', "parse message");
    return 0;
  }
  must(strlen(gen_expr_text(e)) <= size, "text copy");
  rc = gen_expr_bind(e, resolve, NULL);
  if (rc != AT_OK) {
    must(rc == AT_PARSE && strstr(at_last_error(), "unknown identifier") != NULL, "bind");
    int64_t v = 1;
    must(gen_expr_eval(e, sets[0], NULL, &v) == AT_USAGE && v == 0, "unbound evaluation");
    gen_expr_free(e);
    return 0;
  }
  must(gen_expr_max_slot(e) < NSLOTS, "slot range");
  for (size_t i = 0; i < gen_expr_var_count(e); i++)
    must(gen_expr_var_name(e, i)[0] != '\0' && gen_expr_var_slot(e, i) >= 0, "vars");
  for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++) {
    int64_t v1 = 0, v2 = 0;
    int rc1 = gen_expr_eval(e, sets[s], NULL, &v1);
    int rc2 = gen_expr_eval(e, sets[s], NULL, &v2);
    must(rc1 == rc2 && v1 == v2, "repeatable evaluation");
    must(rc1 == AT_OK || (rc1 == AT_USAGE && v1 == 0 && at_last_error()[0]), "eval status");
  }
  unsigned char bound[NSLOTS] = {1, 0, 1, 1};
  int64_t v = 0;
  rc = gen_expr_eval(e, sets[1], bound, &v);
  must(rc == AT_OK || rc == AT_USAGE, "partly bound evaluation");
  gen_expr_free(e);
  return 0;
}
