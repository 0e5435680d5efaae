/*
 * expr.h - the constraint expression language of `#pragma autotune` lines: parsing an
 * integer expression once into a compact tree, binding its identifiers to caller slots,
 * and evaluating it many times against an array of slot values.
 *
 * The language: 64-bit signed integers (decimal or 0x hex literals); binary + - * / %
 * (C truncation; division by zero and INT64 overflow are evaluation errors); unary - and
 * !; comparisons < <= > >= == != and logical && || (short-circuit), all giving 0 or 1;
 * the ternary c ? a : b (right-associative, only one branch evaluated); parentheses;
 * calls min(a, ...), max(a, ...) (one or more arguments) and cdiv(a, b) (ceiling
 * division); the constants sizeof_f8 (1), sizeof_f16 (2), sizeof_bf16 (2) and
 * sizeof_f32 (4); identifiers such as BM, K or device.lds_bytes (dotted). Precedence,
 * loosest first: ?:, ||, &&, == !=, < <= > >=, + -, * / %, unary - !. The names min,
 * max, cdiv and sizeof_* are reserved. INT64_MIN is written -9223372036854775807-1.
 *
 * Life of an expression: gen_expr_parse (syntax only) -> gen_expr_bind (names to slots;
 * may be repeated) -> gen_expr_eval (any number of times) -> gen_expr_free.
 */
#ifndef AT_GENERATOR_EXPR_H
#define AT_GENERATOR_EXPR_H

#include <stddef.h>
#include <stdint.h>

/* Nesting limit of parentheses, unary operators, ternaries and the tree height: deeper
 * input is a parse error, so neither parsing nor evaluation can exhaust the stack. */
#define GEN_EXPR_MAX_DEPTH 256

struct gen_expr;

/* Maps an identifier (NUL-terminated, possibly dotted) to a slot index >= 0, or returns
 * a negative value if the name is unknown. */
typedef int (*gen_expr_resolve_fn)(void *ctx, const char *name);

/* Parse `len` bytes of `text` (a NUL byte among them is a syntax error).
 * OUT: *out, the expression (owned by the caller, gen_expr_free), NULL on failure.
 * AT_OK; AT_PARSE with at_last_error() such as "expected ')' at column 14, found 'x'"
 * (columns count bytes from 1); AT_NOMEM; AT_USAGE if text or out is NULL. */
int gen_expr_parse_n(const char *text, size_t len, struct gen_expr **out);
/* The same for a NUL-terminated text. */
int gen_expr_parse(const char *text, struct gen_expr **out);

/* Free; NULL is accepted. */
void gen_expr_free(struct gen_expr *e);

/* The source text as parsed (owned by the expression). */
const char *gen_expr_text(const struct gen_expr *e);

/* Resolve every identifier through `resolve`, replacing an earlier binding.
 * AT_OK; AT_PARSE "unknown identifier 'X' at column 7" for the first name `resolve`
 * refuses (the expression is then unbound: gen_expr_eval refuses it with AT_USAGE until
 * a bind succeeds); AT_USAGE for a NULL argument. */
int gen_expr_bind(struct gen_expr *e, gen_expr_resolve_fn resolve, void *ctx);

/* The distinct identifiers the expression uses, in order of first appearance: how many,
 * each one's name, and its bound slot (-1 before a successful bind). Builtin constants
 * are not identifiers. i must be < gen_expr_var_count(e). */
size_t gen_expr_var_count(const struct gen_expr *e);
const char *gen_expr_var_name(const struct gen_expr *e, size_t i);
int gen_expr_var_slot(const struct gen_expr *e, size_t i);
/* The largest bound slot the expression uses, -1 if it uses none (or is unbound). */
int gen_expr_max_slot(const struct gen_expr *e);

/* Evaluate with slot values `slots` (indexed by bound slot). `bound`, if not NULL, has
 * one byte per slot: 0 means the slot has no value yet, and reading it is an error
 * (a branch short-circuit skips is never read). OUT: *value, 0 on failure.
 * AT_OK; AT_USAGE with at_last_error() "division by zero at column 5", "integer
 * overflow in '*' at column 3", "'BK' is not bound (column 9)" or "expression is not
 * bound"; AT_USAGE if e, slots or value is NULL while the expression needs them. */
int gen_expr_eval(const struct gen_expr *e, const int64_t *slots,
                  const unsigned char *bound, int64_t *value);

#endif
