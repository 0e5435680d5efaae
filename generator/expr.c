/*
 * expr.c - the constraint expression language: a hand-written lexer and recursive-
 * descent parser that build a flat array of nodes (children by index), identifier
 * binding, and a checked evaluator. Owns the grammar, the builtin names, the error
 * messages and the arithmetic rules (C truncation, overflow and division by zero caught
 * before they happen, never undefined behaviour).
 *
 * Depth note. Two counters keep recursion bounded by GEN_EXPR_MAX_DEPTH: the parser's
 * nesting (parentheses, unary operators, ternary branches, call arguments) and each
 * node's height, which bounds the evaluator's recursion (a long chain 1+1+...+1 is
 * parsed by a loop but evaluated recursively, so its height counts too).
 */
#include "generator/expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "base/status.h"

enum op {
  OP_CONST, OP_VAR, OP_NEG, OP_NOT,
  OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD,
  OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE,
  OP_AND, OP_OR, OP_COND, OP_MIN, OP_MAX, OP_CDIV
};

/* One tree node. Binary: a, b. OP_COND: a ? b : c. Calls: args[a .. a+b). */
struct node {
  uint8_t op;
  uint16_t height;
  int32_t col;
  int32_t a, b, c;
  int64_t value; /* OP_CONST: the value; OP_VAR: the index into vars */
};

struct var {
  char *name;
  int32_t col; /* first appearance */
  int slot;
};

struct gen_expr {
  char *text;
  struct node *nodes;
  size_t nnodes;
  int32_t *args;
  size_t nargs;
  struct var *vars;
  size_t nvars;
  int32_t root;
  int bound; /* every var has a slot (true from the start when there are none) */
};

/* ---- lexer -------------------------------------------------------------------------- */

enum tok {
  T_END, T_NUM, T_IDENT, T_LPAREN, T_RPAREN, T_COMMA, T_QUESTION, T_COLON,
  T_PLUS, T_MINUS, T_STAR, T_SLASH, T_PERCENT, T_BANG,
  T_LT, T_LE, T_GT, T_GE, T_EQ, T_NE, T_AND, T_OR
};

struct parser {
  const char *src;
  size_t len;
  size_t pos;      /* next byte to lex */
  enum tok tok;    /* current token */
  size_t start;    /* its first byte */
  size_t tlen;     /* its length */
  int64_t num;     /* T_NUM: its value */
  int depth;
  size_t capnodes, capargs, capvars;
  struct gen_expr *e;
};

/* The offending token, quoted and capped, for messages: 'x' or "end of input". */
static void describe(const char *s, size_t n, int at_end, char *buf, size_t cap)
{
  if (at_end) {
    snprintf(buf, cap, "end of input");
    return;
  }
  size_t o = 0;
  buf[o++] = '\'';
  for (size_t i = 0; i < n && i < 24 && o + 8 < cap; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch < 0x7f)
      buf[o++] = (char)ch;
    else
      o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
  }
  if (n > 24 && o + 4 < cap) {
    memcpy(buf + o, "...", 3);
    o += 3;
  }
  buf[o++] = '\'';
  buf[o] = '\0';
}

static int col_of(size_t pos)
{
  return pos >= (size_t)INT32_MAX ? INT32_MAX : (int)pos + 1;
}

/* "expected X at column N, found 'tok'" for the current token. */
static int expected(const struct parser *p, const char *what)
{
  char found[96];
  describe(p->src + p->start, p->tlen, p->tok == T_END, found, sizeof found);
  return at_error(AT_PARSE, "expected %s at column %d, found %s", what,
                  col_of(p->start), found);
}

static int is_ident_start(char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static int is_ident_char(char ch)
{
  return is_ident_start(ch) || (ch >= '0' && ch <= '9');
}

static int digit_value(char ch, int base)
{
  int d = -1;
  if (ch >= '0' && ch <= '9')
    d = ch - '0';
  else if (ch >= 'a' && ch <= 'f')
    d = ch - 'a' + 10;
  else if (ch >= 'A' && ch <= 'F')
    d = ch - 'A' + 10;
  return d < base ? d : -1;
}

static int lex_number(struct parser *p)
{
  const char *s = p->src;
  size_t i = p->pos;
  int base = 10;
  if (s[i] == '0' && i + 1 < p->len && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    base = 16;
    i += 2;
  }
  size_t first = i;
  int64_t v = 0;
  int overflow = 0;
  for (; i < p->len && digit_value(s[i], base) >= 0; i++) {
    int d = digit_value(s[i], base);
    if (v > (INT64_MAX - d) / base)
      overflow = 1;
    else
      v = v * base + d;
  }
  size_t end = i;
  while (end < p->len && is_ident_char(s[end]))
    end++;
  p->tok = T_NUM;
  p->tlen = end - p->start;
  p->pos = end;
  char tokbuf[96];
  if (end != i || i == first) {
    describe(s + p->start, p->tlen, 0, tokbuf, sizeof tokbuf);
    return at_error(AT_PARSE, "bad integer literal %s at column %d", tokbuf,
                    col_of(p->start));
  }
  if (overflow) {
    describe(s + p->start, p->tlen, 0, tokbuf, sizeof tokbuf);
    return at_error(AT_PARSE, "integer literal %s at column %d does not fit in 64 bits",
                    tokbuf, col_of(p->start));
  }
  p->num = v;
  return AT_OK;
}

/* Dotted identifier: part ('.' part)*, each part [A-Za-z_][A-Za-z0-9_]*. */
static int lex_ident(struct parser *p)
{
  const char *s = p->src;
  size_t i = p->pos;
  for (;;) {
    while (i < p->len && is_ident_char(s[i]))
      i++;
    if (i < p->len && s[i] == '.') {
      if (i + 1 < p->len && is_ident_start(s[i + 1])) {
        i++;
        continue;
      }
      char tokbuf[96];
      describe(s + p->start, i + 1 - p->start, 0, tokbuf, sizeof tokbuf);
      return at_error(AT_PARSE, "bad identifier %s at column %d", tokbuf,
                      col_of(p->start));
    }
    break;
  }
  p->tok = T_IDENT;
  p->tlen = i - p->start;
  p->pos = i;
  return AT_OK;
}

static int next(struct parser *p)
{
  const char *s = p->src;
  while (p->pos < p->len && (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' ||
                             s[p->pos] == '\r'))
    p->pos++;
  p->start = p->pos;
  if (p->pos >= p->len) {
    p->tok = T_END;
    p->tlen = 0;
    return AT_OK;
  }
  char ch = s[p->pos];
  char nx = p->pos + 1 < p->len ? s[p->pos + 1] : '\0';
  if (ch >= '0' && ch <= '9')
    return lex_number(p);
  if (is_ident_start(ch))
    return lex_ident(p);
  static const struct {
    char c1, c2;
    enum tok tok;
  } ops[] = {
      {'<', '=', T_LE}, {'>', '=', T_GE}, {'=', '=', T_EQ}, {'!', '=', T_NE},
      {'&', '&', T_AND}, {'|', '|', T_OR}, {'<', 0, T_LT}, {'>', 0, T_GT},
      {'!', 0, T_BANG}, {'(', 0, T_LPAREN}, {')', 0, T_RPAREN}, {',', 0, T_COMMA},
      {'?', 0, T_QUESTION}, {':', 0, T_COLON}, {'+', 0, T_PLUS}, {'-', 0, T_MINUS},
      {'*', 0, T_STAR}, {'/', 0, T_SLASH}, {'%', 0, T_PERCENT},
  };
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    if (ops[i].c1 == ch && (ops[i].c2 == 0 || ops[i].c2 == nx)) {
      p->tok = ops[i].tok;
      p->tlen = ops[i].c2 ? 2 : 1;
      p->pos += p->tlen;
      return AT_OK;
    }
  }
  char tokbuf[96];
  describe(s + p->pos, 1, 0, tokbuf, sizeof tokbuf);
  const char *hint = ch == '=' ? " (did you mean '=='?)"
                     : ch == '&' ? " (did you mean '&&'?)"
                     : ch == '|' ? " (did you mean '||'?)"
                                 : "";
  return at_error(AT_PARSE, "unexpected character %s at column %d%s", tokbuf,
                  col_of(p->pos), hint);
}

static int tok_is(const struct parser *p, const char *word)
{
  size_t n = strlen(word);
  return p->tok == T_IDENT && p->tlen == n && memcmp(p->src + p->start, word, n) == 0;
}

/* ---- tree building ------------------------------------------------------------------- */

static int node_height(const struct parser *p, int32_t i)
{
  return i < 0 ? 0 : p->e->nodes[i].height;
}

/* Append a node; OUT: *idx. Fails if the tree grows taller than the depth limit. */
static int add_node(struct parser *p, enum op op, int col, int32_t a, int32_t b, int32_t c,
                    int64_t value, int32_t *idx)
{
  struct gen_expr *e = p->e;
  int h = 0;
  if (op != OP_CONST && op != OP_VAR) {
    if (op == OP_MIN || op == OP_MAX || op == OP_CDIV) {
      for (int32_t k = 0; k < b; k++)
        if (node_height(p, e->args[a + k]) > h)
          h = node_height(p, e->args[a + k]);
    } else {
      h = node_height(p, a);
      if (node_height(p, b) > h)
        h = node_height(p, b);
      if (node_height(p, c) > h)
        h = node_height(p, c);
    }
  }
  if (h + 1 > GEN_EXPR_MAX_DEPTH)
    return at_error(AT_PARSE, "expression nested too deeply at column %d (limit %d)", col,
                    GEN_EXPR_MAX_DEPTH);
  if (e->nnodes >= (size_t)INT32_MAX)
    return at_error(AT_PARSE, "expression too long");
  int rc = os_grow(&e->nodes, &p->capnodes, e->nnodes + 1, sizeof *e->nodes, 16);
  if (rc)
    return rc;
  struct node *n = &e->nodes[e->nnodes];
  n->op = (uint8_t)op;
  n->height = (uint16_t)(h + 1);
  n->col = col;
  n->a = a;
  n->b = b;
  n->c = c;
  n->value = value;
  *idx = (int32_t)e->nnodes++;
  return AT_OK;
}

/* The var index of the current identifier token, adding it on first use. */
static int intern_var(struct parser *p, int64_t *index)
{
  struct gen_expr *e = p->e;
  for (size_t i = 0; i < e->nvars; i++) {
    if (strlen(e->vars[i].name) == p->tlen &&
        memcmp(e->vars[i].name, p->src + p->start, p->tlen) == 0) {
      *index = (int64_t)i;
      return AT_OK;
    }
  }
  int rc = os_grow(&e->vars, &p->capvars, e->nvars + 1, sizeof *e->vars, 16);
  if (rc)
    return rc;
  char *name = malloc(p->tlen + 1);
  if (!name)
    return at_error(AT_NOMEM, "out of memory parsing an expression");
  memcpy(name, p->src + p->start, p->tlen);
  name[p->tlen] = '\0';
  e->vars[e->nvars].name = name;
  e->vars[e->nvars].col = col_of(p->start);
  e->vars[e->nvars].slot = -1;
  *index = (int64_t)e->nvars++;
  return AT_OK;
}

/* ---- parser ------------------------------------------------------------------------- */

static int parse_cond(struct parser *p, int32_t *out);

static int enter(struct parser *p)
{
  if (++p->depth > GEN_EXPR_MAX_DEPTH)
    return at_error(AT_PARSE, "expression nested too deeply at column %d (limit %d)",
                    col_of(p->start), GEN_EXPR_MAX_DEPTH);
  return AT_OK;
}

static const struct {
  const char *name;
  int64_t value;
} builtin_consts[] = {
    {"sizeof_f8", 1}, {"sizeof_f16", 2}, {"sizeof_bf16", 2}, {"sizeof_f32", 4},
};

static const struct {
  const char *name;
  enum op op;
  int32_t min_args, max_args;
} builtin_funcs[] = {
    {"min", OP_MIN, 1, INT32_MAX}, {"max", OP_MAX, 1, INT32_MAX}, {"cdiv", OP_CDIV, 2, 2},
};

/* name '(' args ')' with the current token the name. */
static int parse_call(struct parser *p, int32_t *out)
{
  int col = col_of(p->start);
  const char *name = p->src + p->start;
  size_t name_len = p->tlen;
  size_t f = 0;
  while (f < sizeof builtin_funcs / sizeof builtin_funcs[0] && !tok_is(p, builtin_funcs[f].name))
    f++;
  int rc = next(p);
  if (rc)
    return rc;
  if (f == sizeof builtin_funcs / sizeof builtin_funcs[0]) {
    char tokbuf[96];
    describe(name, name_len, 0, tokbuf, sizeof tokbuf);
    return at_error(AT_PARSE, "unknown function %s at column %d (known: min, max, cdiv)",
                    tokbuf, col);
  }
  if (p->tok != T_LPAREN) {
    char what[64];
    snprintf(what, sizeof what, "'(' after '%s'", builtin_funcs[f].name);
    return expected(p, what);
  }
  if ((rc = next(p)) || (rc = enter(p)))
    return rc;
  /* Arguments are collected on a scratch list, then copied to e->args contiguously
   * (nested calls append their own arguments in between). */
  int32_t *tmp = NULL;
  size_t ntmp = 0, captmp = 0;
  for (;;) {
    int32_t arg;
    if ((rc = parse_cond(p, &arg)))
      goto done;
    if ((rc = os_grow(&tmp, &captmp, ntmp + 1, sizeof *tmp, 16)))
      goto done;
    tmp[ntmp++] = arg;
    if (p->tok == T_COMMA) {
      if ((rc = next(p)))
        goto done;
      continue;
    }
    if (p->tok != T_RPAREN) {
      rc = expected(p, "',' or ')'");
      goto done;
    }
    break;
  }
  if ((int64_t)ntmp < builtin_funcs[f].min_args || (int64_t)ntmp > builtin_funcs[f].max_args) {
    rc = at_error(AT_PARSE, "'%s' at column %d takes %d argument%s, found %zu",
                  builtin_funcs[f].name, col, (int)builtin_funcs[f].min_args,
                  builtin_funcs[f].min_args == 1 ? " or more" : "s", ntmp);
    goto done;
  }
  struct gen_expr *e = p->e;
  if (e->nargs + ntmp >= (size_t)INT32_MAX) {
    rc = at_error(AT_PARSE, "expression too long");
    goto done;
  }
  if ((rc = os_grow(&e->args, &p->capargs, e->nargs + ntmp, sizeof *e->args, 16)))
    goto done;
  int32_t first = (int32_t)e->nargs;
  memcpy(e->args + e->nargs, tmp, ntmp * sizeof *tmp);
  e->nargs += ntmp;
  if ((rc = add_node(p, builtin_funcs[f].op, col, first, (int32_t)ntmp, -1, 0, out)))
    goto done;
  p->depth--;
  rc = next(p);
done:
  free(tmp);
  return rc;
}

static int parse_primary(struct parser *p, int32_t *out)
{
  int col = col_of(p->start);
  int rc;
  switch (p->tok) {
  case T_NUM: {
    int64_t v = p->num;
    if ((rc = add_node(p, OP_CONST, col, -1, -1, -1, v, out)))
      return rc;
    return next(p);
  }
  case T_IDENT: {
    for (size_t i = 0; i < sizeof builtin_consts / sizeof builtin_consts[0]; i++) {
      if (tok_is(p, builtin_consts[i].name)) {
        if ((rc = add_node(p, OP_CONST, col, -1, -1, -1, builtin_consts[i].value, out)))
          return rc;
        return next(p);
      }
    }
    int is_func = 0;
    for (size_t i = 0; i < sizeof builtin_funcs / sizeof builtin_funcs[0]; i++)
      is_func |= tok_is(p, builtin_funcs[i].name);
    size_t after = p->pos;
    while (after < p->len && (p->src[after] == ' ' || p->src[after] == '\t' ||
                              p->src[after] == '\n' || p->src[after] == '\r'))
      after++;
    if (is_func || (after < p->len && p->src[after] == '('))
      return parse_call(p, out);
    int64_t vi = 0;
    if ((rc = intern_var(p, &vi)) || (rc = add_node(p, OP_VAR, col, -1, -1, -1, vi, out)))
      return rc;
    return next(p);
  }
  case T_LPAREN:
    if ((rc = enter(p)) || (rc = next(p)) || (rc = parse_cond(p, out)))
      return rc;
    if (p->tok != T_RPAREN)
      return expected(p, "')'");
    p->depth--;
    return next(p);
  default:
    return expected(p, "an expression");
  }
}

static int parse_unary(struct parser *p, int32_t *out)
{
  if (p->tok != T_MINUS && p->tok != T_BANG)
    return parse_primary(p, out);
  enum op op = p->tok == T_MINUS ? OP_NEG : OP_NOT;
  int col = col_of(p->start);
  int32_t a;
  int rc;
  if ((rc = enter(p)) || (rc = next(p)) || (rc = parse_unary(p, &a)))
    return rc;
  p->depth--;
  return add_node(p, op, col, a, -1, -1, 0, out);
}

/* Binary levels, tightest last; each is left-associative. */
static const struct {
  enum tok tok;
  enum op op;
  int level;
} binops[] = {
    {T_OR, OP_OR, 0},    {T_AND, OP_AND, 1}, {T_EQ, OP_EQ, 2},    {T_NE, OP_NE, 2},
    {T_LT, OP_LT, 3},    {T_LE, OP_LE, 3},   {T_GT, OP_GT, 3},    {T_GE, OP_GE, 3},
    {T_PLUS, OP_ADD, 4}, {T_MINUS, OP_SUB, 4}, {T_STAR, OP_MUL, 5}, {T_SLASH, OP_DIV, 5},
    {T_PERCENT, OP_MOD, 5},
};
#define BINARY_LEVELS 6

static int parse_binary(struct parser *p, int level, int32_t *out)
{
  if (level == BINARY_LEVELS)
    return parse_unary(p, out);
  int32_t left;
  int rc = parse_binary(p, level + 1, &left);
  if (rc)
    return rc;
  for (;;) {
    size_t i = 0;
    while (i < sizeof binops / sizeof binops[0] &&
           !(binops[i].level == level && binops[i].tok == p->tok))
      i++;
    if (i == sizeof binops / sizeof binops[0])
      break;
    int col = col_of(p->start);
    int32_t right;
    if ((rc = next(p)) || (rc = parse_binary(p, level + 1, &right)))
      return rc;
    if ((rc = add_node(p, binops[i].op, col, left, right, -1, 0, &left)))
      return rc;
  }
  *out = left;
  return AT_OK;
}

static int parse_cond(struct parser *p, int32_t *out)
{
  int32_t c, a, b;
  int rc = parse_binary(p, 0, &c);
  if (rc || p->tok != T_QUESTION) {
    *out = c;
    return rc;
  }
  int col = col_of(p->start);
  if ((rc = enter(p)) || (rc = next(p)) || (rc = parse_cond(p, &a)))
    return rc;
  if (p->tok != T_COLON)
    return expected(p, "':'");
  if ((rc = next(p)) || (rc = parse_cond(p, &b)))
    return rc;
  p->depth--;
  return add_node(p, OP_COND, col, c, a, b, 0, out);
}

void gen_expr_free(struct gen_expr *e)
{
  if (!e)
    return;
  for (size_t i = 0; i < e->nvars; i++)
    free(e->vars[i].name);
  free(e->vars);
  free(e->nodes);
  free(e->args);
  free(e->text);
  free(e);
}

int gen_expr_parse_n(const char *text, size_t len, struct gen_expr **out)
{
  int rc = AT_OK;
  struct gen_expr *e = NULL;
  if (out)
    *out = NULL;
  if (!text || !out)
    return at_error(AT_USAGE, "gen_expr_parse: NULL argument");
  struct parser p = {.src = text, .len = len};
  if (!(e = calloc(1, sizeof *e)) || !(e->text = malloc(len + 1))) {
    rc = at_error(AT_NOMEM, "out of memory parsing an expression");
    goto cleanup;
  }
  memcpy(e->text, text, len);
  e->text[len] = '\0';
  p.e = e;
  if ((rc = next(&p)) || (rc = parse_cond(&p, &e->root)))
    goto cleanup;
  e->bound = e->nvars == 0;
  if (p.tok == T_RPAREN) {
    rc = at_error(AT_PARSE, "unbalanced ')' at column %d", col_of(p.start));
    goto cleanup;
  }
  if (p.tok != T_END) {
    rc = expected(&p, "an operator");
    goto cleanup;
  }
  *out = e;
  e = NULL;
cleanup:
  gen_expr_free(e);
  return rc;
}

int gen_expr_parse(const char *text, struct gen_expr **out)
{
  if (out)
    *out = NULL;
  if (!text)
    return at_error(AT_USAGE, "gen_expr_parse: NULL argument");
  return gen_expr_parse_n(text, strlen(text), out);
}

const char *gen_expr_text(const struct gen_expr *e)
{
  return e ? e->text : "";
}

/* ---- binding -------------------------------------------------------------------------- */

int gen_expr_bind(struct gen_expr *e, gen_expr_resolve_fn resolve, void *ctx)
{
  if (!e || !resolve)
    return at_error(AT_USAGE, "gen_expr_bind: NULL argument");
  e->bound = e->nvars == 0;
  for (size_t i = 0; i < e->nvars; i++)
    e->vars[i].slot = -1;
  for (size_t i = 0; i < e->nvars; i++) {
    int slot = resolve(ctx, e->vars[i].name);
    if (slot < 0) {
      for (size_t j = 0; j < i; j++)
        e->vars[j].slot = -1;
      char tokbuf[96];
      describe(e->vars[i].name, strlen(e->vars[i].name), 0, tokbuf, sizeof tokbuf);
      return at_error(AT_PARSE, "unknown identifier %s at column %d", tokbuf,
                      (int)e->vars[i].col);
    }
    e->vars[i].slot = slot;
  }
  e->bound = 1;
  return AT_OK;
}

size_t gen_expr_var_count(const struct gen_expr *e)
{
  return e ? e->nvars : 0;
}

const char *gen_expr_var_name(const struct gen_expr *e, size_t i)
{
  return e->vars[i].name;
}

int gen_expr_var_slot(const struct gen_expr *e, size_t i)
{
  return e->vars[i].slot;
}

int gen_expr_max_slot(const struct gen_expr *e)
{
  int m = -1;
  for (size_t i = 0; e && i < e->nvars; i++)
    if (e->vars[i].slot > m)
      m = e->vars[i].slot;
  return m;
}

/* ---- evaluation ----------------------------------------------------------------------- */

enum fault { F_NONE, F_DIV0, F_OVERFLOW, F_UNBOUND, F_NOT_BOUND, F_INTERNAL };

struct eval {
  const struct gen_expr *e;
  const int64_t *slots;
  const unsigned char *bound;
  enum fault fault;
  const struct node *at; /* the faulting node */
};

static int fail(struct eval *v, const struct node *n, enum fault f)
{
  v->fault = f;
  v->at = n;
  return 1;
}

/* Checked arithmetic (CERT INT32-C): nonzero when the exact result does not fit. */
static int add_ovf(int64_t a, int64_t b, int64_t *r)
{
  if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b))
    return 1;
  *r = a + b;
  return 0;
}

static int sub_ovf(int64_t a, int64_t b, int64_t *r)
{
  if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b))
    return 1;
  *r = a - b;
  return 0;
}

static int mul_ovf(int64_t a, int64_t b, int64_t *r)
{
  if (a > 0) {
    if (b > 0 ? a > INT64_MAX / b : b < INT64_MIN / a)
      return 1;
  } else if (a < 0) {
    if (b > 0 ? a < INT64_MIN / b : (b != 0 && a < INT64_MAX / b))
      return 1;
  }
  *r = a * b;
  return 0;
}

/* Nonzero on a fault (recorded in v). Recursion depth <= the root's height. */
static int ev(struct eval *v, int32_t i, int64_t *r)
{
  const struct node *n = &v->e->nodes[i];
  int64_t x = 0, y = 0;
  switch ((enum op)n->op) {
  case OP_CONST:
    *r = n->value;
    return 0;
  case OP_VAR: {
    int slot = v->e->vars[n->value].slot;
    if (slot < 0)
      return fail(v, n, F_NOT_BOUND);
    if (v->bound && !v->bound[slot])
      return fail(v, n, F_UNBOUND);
    *r = v->slots[slot];
    return 0;
  }
  case OP_NEG:
    if (ev(v, n->a, &x))
      return 1;
    if (x == INT64_MIN)
      return fail(v, n, F_OVERFLOW);
    *r = -x;
    return 0;
  case OP_NOT:
    if (ev(v, n->a, &x))
      return 1;
    *r = !x;
    return 0;
  case OP_AND:
  case OP_OR:
    if (ev(v, n->a, &x))
      return 1;
    if ((n->op == OP_AND) == !x) {
      *r = n->op == OP_OR;
      return 0;
    }
    if (ev(v, n->b, &y))
      return 1;
    *r = y != 0;
    return 0;
  case OP_COND:
    if (ev(v, n->a, &x))
      return 1;
    return ev(v, x ? n->b : n->c, r);
  case OP_MIN:
  case OP_MAX:
    for (int32_t k = 0; k < n->b; k++) {
      if (ev(v, v->e->args[n->a + k], &y))
        return 1;
      if (k == 0 || (n->op == OP_MIN ? y < x : y > x))
        x = y;
    }
    *r = x;
    return 0;
  default:
    break;
  }
  int32_t ia = n->a, ib = n->b;
  if (n->op == OP_CDIV) {
    ia = v->e->args[n->a];
    ib = v->e->args[n->a + 1];
  }
  if (ev(v, ia, &x) || ev(v, ib, &y))
    return 1;
  switch ((enum op)n->op) {
  case OP_ADD:
    return add_ovf(x, y, r) ? fail(v, n, F_OVERFLOW) : 0;
  case OP_SUB:
    return sub_ovf(x, y, r) ? fail(v, n, F_OVERFLOW) : 0;
  case OP_MUL:
    return mul_ovf(x, y, r) ? fail(v, n, F_OVERFLOW) : 0;
  case OP_DIV:
  case OP_MOD:
  case OP_CDIV:
    if (y == 0)
      return fail(v, n, F_DIV0);
    if (y == -1) { /* INT64_MIN / -1 overflows; x % -1 is 0 (and UB in C for INT64_MIN) */
      if (n->op == OP_MOD) {
        *r = 0;
        return 0;
      }
      if (x == INT64_MIN)
        return fail(v, n, F_OVERFLOW);
      *r = -x;
      return 0;
    }
    if (n->op == OP_DIV)
      *r = x / y;
    else if (n->op == OP_MOD)
      *r = x % y;
    else /* ceiling: truncation rounds toward zero, so round up when the exact
          * quotient is positive and inexact */
      *r = x / y + ((x % y != 0) && ((x < 0) == (y < 0)));
    return 0;
  case OP_LT:
    *r = x < y;
    return 0;
  case OP_LE:
    *r = x <= y;
    return 0;
  case OP_GT:
    *r = x > y;
    return 0;
  case OP_GE:
    *r = x >= y;
    return 0;
  case OP_EQ:
    *r = x == y;
    return 0;
  case OP_NE:
    *r = x != y;
    return 0;
  default:
    return fail(v, n, F_INTERNAL); /* unreachable: every op is handled above */
  }
}

static const char *op_name(enum op op)
{
  switch (op) {
  case OP_NEG:
    return "unary -";
  case OP_ADD:
    return "+";
  case OP_SUB:
    return "-";
  case OP_MUL:
    return "*";
  case OP_DIV:
    return "/";
  case OP_MOD:
    return "%";
  case OP_CDIV:
    return "cdiv";
  default:
    return "?";
  }
}

int gen_expr_eval(const struct gen_expr *e, const int64_t *slots,
                  const unsigned char *bound, int64_t *value)
{
  if (value)
    *value = 0;
  if (!e || !value)
    return at_error(AT_USAGE, "gen_expr_eval: NULL argument");
  if (!e->bound)
    return at_error(AT_USAGE, "expression is not bound: '%s' has no slot",
                    e->vars[0].name);
  if (!slots && e->nvars > 0)
    return at_error(AT_USAGE, "gen_expr_eval: expression has variables but no slots");
  struct eval v = {.e = e, .slots = slots, .bound = bound};
  int64_t r;
  if (!ev(&v, e->root, &r)) {
    *value = r;
    return AT_OK;
  }
  const struct node *n = v.at;
  switch (v.fault) {
  case F_DIV0:
    return at_error(AT_USAGE, "division by zero in '%s' at column %d", op_name(n->op),
                    (int)n->col);
  case F_OVERFLOW:
    return at_error(AT_USAGE, "integer overflow in '%s' at column %d", op_name(n->op),
                    (int)n->col);
  case F_UNBOUND:
    return at_error(AT_USAGE, "'%s' is not bound (column %d)", e->vars[n->value].name,
                    (int)n->col);
  case F_NOT_BOUND:
    return at_error(AT_USAGE, "expression is not bound: '%s' has no slot",
                    e->vars[n->value].name);
  default:
    return at_error(AT_USAGE, "internal error: bad expression node at column %d",
                    (int)n->col);
  }
}
