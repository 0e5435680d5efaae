/*
 * template.c - loading a kernel template: libclang parses the file as C++17 (host mode:
 * neither __CUDACC__ nor __HIP__ is defined, so templates/common/at_common.h declares
 * its device functions as plain functions and no system or GPU header is needed), the
 * `#pragma autotune` lines are read from libclang's tokens, the kernel's function
 * template from the AST, and the two are cross-checked (template_kernel.c, which also
 * computes the content hash; the state they share is template_loader.h); the parse
 * cache's use (template_cache.c). What a loaded template spans on a device (the device
 * constants, the slot layout, the gen_space) is template_space.c.
 *
 * Why tokens for the pragmas: clang_tokenize lexes the file raw, so every directive's
 * `#`, `pragma` and `autotune` come back with their line, column and byte offset, and
 * comments come back as tokens of their own that can simply be skipped. That gives exact
 * line numbers for errors, drops trailing comments and backslash-newlines without a
 * second lexer, and keeps the columns an expression error reports equal to the
 * columns in the file (an expression is re-spelled from its tokens at their original
 * columns). A directive ends at the first newline not escaped by a backslash. Being a
 * raw lexing, it also sees pragmas inside `#if 0`, which docs/templates.md states.
 *
 * Loading runs in this order, so the first error a user sees is the most local one:
 * read the bytes -> parse (libclang) -> pragmas, syntax and names (pass 1) -> their
 * expressions, bound to the slot layout (pass 2) -> clang's first error -> the kernel
 * in the AST and the cross-checks -> the content hash.
 */
#include "generator/template.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/expr.h"
#include "generator/libclang.h"
#include "generator/space.h"
#include "generator/template_cache.h"
#include "generator/template_loader.h"
#include "base/os.h"
#include "base/device.h"
#include "base/hash.h"
#include "base/status.h"


/* Most values one `param` may list or generate. */
#define MAX_VALUES 65536
/* Longest pragma expression or name kept in a message. */
#define QUOTE_MAX 80

static const char *const verbs_expected =
    "(expected kernel, problem, param, derive, require, threads, grid, cluster, min_blocks, "
    "shared, workspace, dtype, arch_specific or tensormap)";

/* ---- small helpers ------------------------------------------------------------------- */

const struct lc_api *tmpl_lc;

/* An AT_PARSE error "path:line: message". */
int tl_perr(const struct loader *L, int line, const char *fmt, ...)
{
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return at_error(AT_PARSE, "%s:%d: %s", L->path, line, msg);
}


char *tl_dupstr(const char *s)
{
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

int tl_nomem(void)
{
  return at_error(AT_NOMEM, "out of memory reading a template");
}

static int reserved_name(const char *s)
{
  static const char *const words[] = {"min",         "max",        "cdiv",      "sizeof_f8",
                                      "sizeof_f16",  "sizeof_bf16", "sizeof_f32", "true",
                                      "false",       "range",      "pow2"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strcmp(s, words[i]) == 0)
      return 1;
  return 0;
}


static int is_punct(const struct loader *L, size_t i, const char *p)
{
  return i < L->ntoks && L->toks[i].kind == CXToken_Punctuation &&
         strcmp(L->toks[i].spell, p) == 0;
}

static int is_ident(const struct loader *L, size_t i)
{
  return i < L->ntoks && L->toks[i].kind == CXToken_Identifier;
}

/* The text of tokens [a, b): with `pad`, each token at its original column (so an
 * expression error's column is the file's); without, trimmed, tokens one blank apart
 * where the file has blanks or comments between them. NULL on allocation failure. */
static char *spell_range(const struct loader *L, size_t a, size_t b, int pad)
{
  size_t cap = 1;
  if (a < b && pad)
    cap += L->toks[a].col;
  for (size_t i = a; i < b; i++) {
    cap += strlen(L->toks[i].spell) + 1;
    if (i > a && L->toks[i].line == L->toks[i - 1].line && L->toks[i].off > L->toks[i - 1].end)
      cap += L->toks[i].off - L->toks[i - 1].end;
  }
  char *s = malloc(cap);
  if (!s)
    return NULL;
  size_t o = 0;
  if (a < b && pad)
    for (unsigned c = 1; c < L->toks[a].col; c++)
      s[o++] = ' ';
  for (size_t i = a; i < b; i++) {
    if (i > a) {
      size_t gap = 1;
      if (L->toks[i].line == L->toks[i - 1].line)
        gap = L->toks[i].off > L->toks[i - 1].end ? L->toks[i].off - L->toks[i - 1].end : 0;
      if (!pad && gap > 1)
        gap = 1; /* trimmed: runs of blanks and comments become one space */
      for (size_t g = 0; g < gap; g++)
        s[o++] = ' ';
    }
    size_t n = strlen(L->toks[i].spell);
    memcpy(s + o, L->toks[i].spell, n);
    o += n;
  }
  s[o] = '\0';
  return s;
}

/* Split tokens [a, b) at commas outside parentheses into at most `max` parts; parts[k]
 * gets [start, end). Returns the part count (max + 1 when there are more), 0 if empty. */
static size_t split_commas(const struct loader *L, size_t a, size_t b, size_t parts[][2],
                           size_t max)
{
  if (a >= b)
    return 0;
  size_t n = 0, start = a;
  int depth = 0;
  for (size_t i = a; i <= b; i++) {
    if (i < b && is_punct(L, i, "("))
      depth++;
    else if (i < b && is_punct(L, i, ")"))
      depth--;
    if (i == b || (depth == 0 && is_punct(L, i, ","))) {
      if (n == max)
        return max + 1;
      parts[n][0] = start;
      parts[n][1] = i;
      n++;
      start = i + 1;
    }
  }
  return n;
}

/* ---- expressions ------------------------------------------------------------------- */

struct env {
  const struct tmpl *t;
  size_t visible; /* parameters 0..visible-1 may be named */
};

int tmpl_slot_of(const struct tmpl *t, size_t visible, const char *name)
{
  for (size_t i = 0; i < TMPL_NDEVICE; i++)
    if (strcmp(tmpl_device_const_name(i), name) == 0)
      return (int)i;
  for (size_t i = 0; i < t->ndims; i++)
    if (strcmp(t->dims[i], name) == 0)
      return (int)(TMPL_NDEVICE + i);
  for (size_t i = 0; i < visible && i < t->nparams; i++)
    if (strcmp(t->params[i].name, name) == 0)
      return (int)(TMPL_NDEVICE + t->ndims + i);
  return -1;
}

static int env_resolve(void *ctx, const char *name)
{
  const struct env *e = ctx;
  return tmpl_slot_of(e->t, e->visible, name);
}

/* Parse tokens [a, b) as an expression of `what` (for messages) and bind it to the slot
 * layout with params 0..visible-1 visible. OUT: *text (trimmed, malloc'd) and, if
 * `bound` is not NULL, the bound expression. */
static int load_expr(struct loader *L, int line, const char *what, size_t a, size_t b,
                     size_t visible, char **text, struct gen_expr **bound)
{
  int rc = AT_OK;
  struct gen_expr *e = NULL;
  char *padded = NULL;
  *text = NULL;
  if (bound)
    *bound = NULL;
  if (a >= b) {
    rc = tl_perr(L, line, "%s: missing expression", what);
    goto done;
  }
  padded = spell_range(L, a, b, 1);
  *text = spell_range(L, a, b, 0);
  if (!padded || !*text) {
    rc = tl_nomem();
    goto done;
  }
  rc = gen_expr_parse(padded, &e);
  if (rc == AT_PARSE) {
    rc = tl_perr(L, line, "%s: %s", what, at_last_error());
    goto done;
  }
  if (rc)
    goto done;
  /* A name defined further down gets its own hint: "defined after it". */
  for (size_t i = 0; i < gen_expr_var_count(e); i++) {
    const char *name = gen_expr_var_name(e, i);
    for (size_t k = visible; k < L->t->nparams; k++)
      if (strcmp(L->t->params[k].name, name) == 0) {
        rc = tl_perr(L, line, "%s: '%.64s' is defined after it (line %d); a derived value may "
                  "use only the params, dims and device constants above it",
                  what, name, L->t->params[k].line);
        goto done;
      }
  }
  struct env env = {L->t, visible};
  rc = gen_expr_bind(e, env_resolve, &env);
  if (rc == AT_PARSE) {
    rc = tl_perr(L, line, "%s: %s (known: problem dims, params, derived values and "
              "device.* constants)", what, at_last_error());
    goto done;
  }
  if (rc)
    goto done;
  if (bound) {
    *bound = e;
    e = NULL;
  }
done:
  gen_expr_free(e);
  free(padded);
  if (rc) {
    free(*text);
    *text = NULL;
  }
  return rc;
}

static int const_resolve(void *ctx, const char *name)
{
  (void)ctx;
  if (strcmp(name, "true") == 0)
    return 0;
  if (strcmp(name, "false") == 0)
    return 1;
  return -1;
}

/* A constant (tokens [a, b)): an expression of literals, true and false. */
static int const_value(struct loader *L, int line, const char *what, size_t a, size_t b,
                       int64_t *v)
{
  static const int64_t slots[2] = {1, 0};
  struct gen_expr *e = NULL;
  char *padded = NULL;
  int rc = AT_OK;
  *v = 0;
  if (a >= b) {
    rc = tl_perr(L, line, "%s: missing value", what);
    goto done;
  }
  padded = spell_range(L, a, b, 1);
  if (!padded) {
    rc = tl_nomem();
    goto done;
  }
  rc = gen_expr_parse(padded, &e);
  if (rc == AT_OK)
    rc = gen_expr_bind(e, const_resolve, NULL);
  if (rc == AT_OK)
    rc = gen_expr_eval(e, slots, NULL, v);
  if (rc == AT_PARSE || rc == AT_USAGE)
    rc = tl_perr(L, line, "%s: %s (values are integer constants, true or false)", what,
              at_last_error());
done:
  gen_expr_free(e);
  free(padded);
  return rc;
}

/* ---- pass 1: pragmas, syntax and names --------------------------------------------------- */

int tl_param_index(const struct tmpl *t, const char *name)
{
  for (size_t i = 0; i < t->nparams; i++)
    if (strcmp(t->params[i].name, name) == 0)
      return (int)i;
  return -1;
}

static int check_new_name(struct loader *L, int line, const char *verb, const char *name)
{
  struct tmpl *t = L->t;
  if (reserved_name(name))
    return tl_perr(L, line, "%s '%.64s': the name is reserved (min, max, cdiv, sizeof_*, true, "
                "false, range, pow2)", verb, name);
  int k = tl_param_index(t, name);
  if (k >= 0)
    return tl_perr(L, line, "duplicate param '%.64s' (first at line %d)", name,
                t->params[k].line);
  for (size_t i = 0; i < t->ndims; i++)
    if (strcmp(t->dims[i], name) == 0)
      return tl_perr(L, line, "%s '%.64s': the name is taken by a problem dim", verb, name);
  return AT_OK;
}

/* Append v to p's values; `fresh`: v is known to differ from every value before it (a
 * generator's values rise strictly), so the duplicate check, linear in the values so far,
 * is skipped: a range of 65,536 values loads in milliseconds, not seconds. */
static int add_value(struct loader *L, int line, struct tmpl_param *p, int64_t v, bool fresh,
                     size_t *cap)
{
  for (size_t i = 0; !fresh && i < p->nvalues; i++)
    if (p->values[i] == v)
      return tl_perr(L, line, "param '%s': value %" PRId64 " is listed twice", p->name, v);
  if (p->nvalues == MAX_VALUES)
    return tl_perr(L, line, "param '%s': more than %d values", p->name, MAX_VALUES);
  if (os_grow(&p->values, cap, p->nvalues + 1, sizeof *p->values, 8))
    return tl_nomem();
  p->values[p->nvalues++] = v;
  return AT_OK;
}

/* `= range(a, b[, step])` or `= pow2(a, b)`: tokens [a, b) hold the whole call. */
static int param_generator(struct loader *L, int line, struct tmpl_param *p, size_t a,
                           size_t b, size_t *cap)
{
  const char *fn = L->toks[a].spell;
  int is_range = strcmp(fn, "range") == 0;
  size_t parts[4][2];
  size_t n = split_commas(L, a + 2, b - 1, parts, 3);
  char what[128];
  snprintf(what, sizeof what, "param '%.64s': %s()", p->name, fn);
  if ((is_range && (n < 2 || n > 3)) || (!is_range && n != 2))
    return tl_perr(L, line, "%s takes %s arguments, found %zu", what,
                is_range ? "2 or 3 (first, last, step)" : "2 (first, last)", n);
  int64_t arg[3] = {0, 0, 1};
  for (size_t i = 0; i < n; i++) {
    int rc = const_value(L, line, what, parts[i][0], parts[i][1], &arg[i]);
    if (rc)
      return rc;
  }
  if (is_range) {
    if (arg[2] <= 0 || arg[0] > arg[1])
      return tl_perr(L, line, "%s: needs first <= last and step > 0, found range(%" PRId64
                  ", %" PRId64 ", %" PRId64 ")", what, arg[0], arg[1], arg[2]);
    uint64_t count = ((uint64_t)arg[1] - (uint64_t)arg[0]) / (uint64_t)arg[2] + 1;
    if (count > MAX_VALUES)
      return tl_perr(L, line, "%s gives %" PRIu64 " values (at most %d)", what, count,
                  MAX_VALUES);
    for (uint64_t i = 0; i < count; i++) {
      int rc = add_value(L, line, p, (int64_t)((uint64_t)arg[0] + i * (uint64_t)arg[2]),
                         true, cap);
      if (rc)
        return rc;
    }
    return AT_OK;
  }
  for (int i = 0; i < 2; i++)
    if (arg[i] < 1 || (arg[i] & (arg[i] - 1)) != 0)
      return tl_perr(L, line, "%s: %" PRId64 " is not a power of two", what, arg[i]);
  if (arg[0] > arg[1])
    return tl_perr(L, line, "%s: needs first <= last, found pow2(%" PRId64 ", %" PRId64 ")",
                what, arg[0], arg[1]);
  for (int64_t v = arg[0];; v *= 2) {
    int rc = add_value(L, line, p, v, true, cap);
    if (rc)
      return rc;
    if (v == arg[1])
      break;
  }
  return AT_OK;
}

static int grow_params(struct loader *L)
{
  struct tmpl *t = L->t;
  size_t n = t->nparams + 1;
  struct tmpl_param *p = realloc(t->params, n * sizeof *p);
  if (!p)
    return tl_nomem();
  t->params = p;
  size_t *da = realloc(L->derive_a, n * sizeof *da);
  if (da)
    L->derive_a = da;
  size_t *db = realloc(L->derive_b, n * sizeof *db);
  if (db)
    L->derive_b = db;
  if (!da || !db)
    return tl_nomem();
  memset(&t->params[t->nparams], 0, sizeof *p);
  t->params[t->nparams].tparam = -1;
  L->derive_a[t->nparams] = L->derive_b[t->nparams] = 0;
  return AT_OK;
}

/* `param NAME = ...` and `derive NAME = expr`. */
static int pragma_param(struct loader *L, const struct pragma *g, int derived)
{
  const char *verb = derived ? "derive" : "param";
  size_t a = g->a, b = g->b;
  if (!is_ident(L, a) || a + 1 >= b || !is_punct(L, a + 1, "="))
    return tl_perr(L, g->line, "expected '%s NAME = %s'", verb,
                derived ? "expression" : "v1, v2, ...', 'range(a, b[, step])' or 'pow2(a, b)");
  const char *name = L->toks[a].spell;
  int rc = check_new_name(L, g->line, verb, name);
  if (rc)
    return rc;
  if ((rc = grow_params(L)))
    return rc;
  struct tmpl_param *p = &L->t->params[L->t->nparams];
  p->line = g->line;
  p->name = tl_dupstr(name);
  if (!p->name)
    return tl_nomem();
  L->t->nparams++;
  if (derived) {
    if (a + 2 >= b)
      return tl_perr(L, g->line, "derive '%.64s': missing expression", name);
    L->derive_a[L->t->nparams - 1] = a + 2;
    L->derive_b[L->t->nparams - 1] = b;
    return AT_OK;
  }
  size_t cap = 0;
  a += 2;
  if (a >= b)
    return tl_perr(L, g->line, "param '%.64s': missing values", name);
  if (is_ident(L, a) && is_punct(L, a + 1, "(") && is_punct(L, b - 1, ")") &&
      (strcmp(L->toks[a].spell, "range") == 0 || strcmp(L->toks[a].spell, "pow2") == 0) &&
      split_commas(L, a, b, (size_t[2][2]){{0}}, 1) == 1)
    return param_generator(L, g->line, p, a, b, &cap);
  size_t start = a;
  int depth = 0;
  char what[96];
  snprintf(what, sizeof what, "param '%.64s'", name);
  for (size_t i = a; i <= b; i++) {
    if (i < b && is_punct(L, i, "("))
      depth++;
    else if (i < b && is_punct(L, i, ")"))
      depth--;
    if (i == b || (depth == 0 && is_punct(L, i, ","))) {
      int64_t v;
      if ((rc = const_value(L, g->line, what, start, i, &v)))
        return rc;
      if ((rc = add_value(L, g->line, p, v, false, &cap)))
        return rc;
      start = i + 1;
    }
  }
  return AT_OK;
}

static int pragma_require(struct loader *L, const struct pragma *g)
{
  struct tmpl *t = L->t;
  size_t a = g->a;
  char *name;
  if (is_ident(L, a) && is_punct(L, a + 1, ":")) {
    name = tl_dupstr(L->toks[a].spell);
    a += 2;
  } else {
    name = os_strdupf("line %d", g->line);
  }
  if (!name)
    return tl_nomem();
  for (size_t i = 0; i < t->nreqs; i++)
    if (strcmp(t->reqs[i].name, name) == 0) {
      int rc = tl_perr(L, g->line, "duplicate require name '%.64s' (first at line %d)", name,
                    t->reqs[i].line);
      free(name);
      return rc;
    }
  struct tmpl_require *r = realloc(t->reqs, (t->nreqs + 1) * sizeof *r);
  size_t *ra = r ? realloc(L->req_a, (t->nreqs + 1) * sizeof *ra) : NULL;
  if (r)
    t->reqs = r;
  if (ra)
    L->req_a = ra;
  size_t *rb = ra ? realloc(L->req_b, (t->nreqs + 1) * sizeof *rb) : NULL;
  if (rb)
    L->req_b = rb;
  if (!rb) {
    free(name);
    return tl_nomem();
  }
  t->reqs[t->nreqs] = (struct tmpl_require){.name = name, .expr = NULL, .line = g->line};
  L->req_a[t->nreqs] = a;
  L->req_b[t->nreqs] = g->b;
  t->nreqs++;
  return AT_OK;
}

static int once(struct loader *L, int line, const char *verb, int *first)
{
  if (*first)
    return tl_perr(L, line, "duplicate '%s' pragma (first at line %d)", verb, *first);
  *first = line;
  return AT_OK;
}

/* `threads` and `grid`: one to three comma-separated expressions. */
static int pragma_xyz(struct loader *L, const struct pragma *g, const char *verb,
                      int *first, size_t parts[3][2])
{
  int rc = once(L, g->line, verb, first);
  if (rc)
    return rc;
  size_t tmp[4][2];
  size_t n = split_commas(L, g->a, g->b, tmp, 3);
  if (n == 0)
    return tl_perr(L, g->line, "%s: missing expression", verb);
  if (n > 3)
    return tl_perr(L, g->line, "%s takes 1 to 3 expressions (x, y, z), found more", verb);
  for (size_t i = 0; i < 3; i++) {
    parts[i][0] = i < n ? tmp[i][0] : 0;
    parts[i][1] = i < n ? tmp[i][1] : 0;
    if (i < n && tmp[i][0] == tmp[i][1])
      return tl_perr(L, g->line, "%s: empty expression %zu", verb, i + 1);
  }
  return AT_OK;
}


/* `tensormap NAME box(INNER, OUTER) swizzle(BYTES)`: token ranges kept for pass 2. */
static int pragma_tensormap(struct loader *L, int line, const struct pragma *rest)
{
  static const char *const usage =
      "expected 'tensormap NAME box(INNER, OUTER) swizzle(BYTES)' (NAME a pointer "
      "parameter of the kernel)";
  struct tmpl *t = L->t;
  size_t i = rest->a, b = rest->b;
  if (t->ntmaps == TMPL_MAX_TMAPS)
    return tl_perr(L, line, "tensormap: more than %d tensor maps", TMPL_MAX_TMAPS);
  if (!is_ident(L, i))
    return tl_perr(L, line, "%s", usage);
  const char *name = L->toks[i].spell;
  for (size_t k = 0; k < t->ntmaps; k++)
    if (strcmp(t->tmaps[k].param, name) == 0)
      return tl_perr(L, line, "tensormap: a second map over '%.64s' (line %d)", name,
                  t->tmaps[k].line);
  size_t (*part)[2] = L->tmap_part[t->ntmaps];
  i++;
  /* box ( ... ) swizzle ( ... ): the top-level parentheses after each word */
  const char *words[2] = {"box", "swizzle"};
  for (int w = 0; w < 2; w++) {
    if (!is_ident(L, i) || strcmp(L->toks[i].spell, words[w]) != 0 || !is_punct(L, i + 1, "("))
      return tl_perr(L, line, "%s", usage);
    size_t open = i + 1, close = open;
    int depth = 0;
    for (size_t j = open; j < b; j++) {
      depth += is_punct(L, j, "(") - is_punct(L, j, ")");
      if (depth == 0) {
        close = j;
        break;
      }
    }
    if (close == open)
      return tl_perr(L, line, "%s: unbalanced parentheses", usage);
    if (w == 0) {
      size_t parts[3][2];
      if (split_commas(L, open + 1, close, parts, 2) != 2 || parts[0][0] == parts[0][1] ||
          parts[1][0] == parts[1][1])
        return tl_perr(L, line, "tensormap: box takes two expressions (inner, outer)");
      memcpy(part, parts, 2 * sizeof parts[0]);
    } else {
      if (close == open + 1)
        return tl_perr(L, line, "tensormap: swizzle takes one expression (0, 32, 64 or 128)");
      part[2][0] = open + 1;
      part[2][1] = close;
    }
    i = close + 1;
  }
  if (i != b)
    return tl_perr(L, line, "%s: unexpected text after swizzle(...)", usage);
  struct tmpl_tmap *m = &t->tmaps[t->ntmaps];
  memset(m, 0, sizeof *m);
  m->line = line;
  if (!(m->param = tl_dupstr(name)))
    return tl_nomem();
  t->ntmaps++;
  return AT_OK;
}

static int pragma_pass1(struct loader *L, const struct pragma *g)
{
  struct tmpl *t = L->t;
  int rc;
  if (g->a >= g->b)
    return tl_perr(L, g->line, "empty autotune pragma %s", verbs_expected);
  const char *verb = L->toks[g->a].spell;
  struct pragma rest = {g->line, g->a + 1, g->b};
  if (!is_ident(L, g->a))
    return tl_perr(L, g->line, "unknown autotune pragma '%.40s' %s", verb, verbs_expected);
  if (strcmp(verb, "kernel") == 0) {
    if (t->kernel)
      return tl_perr(L, g->line, "duplicate 'kernel' pragma (first at line %d)", t->kernel_line);
    if (rest.b - rest.a != 1 || !is_ident(L, rest.a))
      return tl_perr(L, g->line, "expected 'kernel NAME' (the __device__ function template)");
    const char *name = L->toks[rest.a].spell;
    if (strlen(name) > TMPL_KERNEL_NAME_MAX)
      return tl_perr(L, g->line, "kernel name '%.64s' is longer than %d characters", name,
                  TMPL_KERNEL_NAME_MAX);
    t->kernel_line = g->line;
    return (t->kernel = tl_dupstr(name)) ? AT_OK : tl_nomem();
  }
  if (strcmp(verb, "problem") == 0) {
    if ((rc = once(L, g->line, "problem", &L->line_problem)))
      return rc;
    size_t parts[TMPL_MAX_DIMS + 1][2];
    size_t n = split_commas(L, rest.a, rest.b, parts, TMPL_MAX_DIMS);
    if (n == 0)
      return tl_perr(L, g->line, "expected 'problem D1[, D2 ...]'");
    if (n > TMPL_MAX_DIMS)
      return tl_perr(L, g->line, "problem: more than %d dims", TMPL_MAX_DIMS);
    for (size_t i = 0; i < n; i++) {
      if (parts[i][1] - parts[i][0] != 1 || !is_ident(L, parts[i][0]))
        return tl_perr(L, g->line, "problem: dim %zu is not a name", i + 1);
      const char *name = L->toks[parts[i][0]].spell;
      if (reserved_name(name))
        return tl_perr(L, g->line, "problem: the name '%.64s' is reserved", name);
      for (size_t k = 0; k < t->ndims; k++)
        if (strcmp(t->dims[k], name) == 0)
          return tl_perr(L, g->line, "problem: duplicate dim '%.64s'", name);
      int k = tl_param_index(t, name);
      if (k >= 0)
        return tl_perr(L, g->line, "problem: dim '%.64s' has the name of the param at line %d",
                    name, t->params[k].line);
      if (!(t->dims[t->ndims] = tl_dupstr(name)))
        return tl_nomem();
      t->ndims++;
    }
    return AT_OK;
  }
  if (strcmp(verb, "param") == 0)
    return pragma_param(L, &rest, 0);
  if (strcmp(verb, "derive") == 0)
    return pragma_param(L, &rest, 1);
  if (strcmp(verb, "require") == 0)
    return pragma_require(L, &rest);
  if (strcmp(verb, "threads") == 0)
    return pragma_xyz(L, &rest, "threads", &L->line_threads, L->thr_part);
  if (strcmp(verb, "grid") == 0)
    return pragma_xyz(L, &rest, "grid", &L->line_grid, L->grid_part);
  if (strcmp(verb, "cluster") == 0) /* template_cluster.c */
    return pragma_xyz(L, &rest, "cluster", &L->line_cluster, L->cl_part);
  if (strcmp(verb, "shared") == 0) {
    if ((rc = once(L, g->line, "shared", &L->line_shared)))
      return rc;
    L->shared_part[0] = rest.a;
    L->shared_part[1] = rest.b;
    return AT_OK;
  }
  if (strcmp(verb, "min_blocks") == 0) { /* template_cluster.c */
    if ((rc = once(L, g->line, "min_blocks", &L->line_min_blocks)))
      return rc;
    if (rest.b == rest.a)
      return tl_perr(L, g->line, "expected 'min_blocks EXPR' (blocks an SM must hold)");
    L->mb_part[0] = rest.a;
    L->mb_part[1] = rest.b;
    return AT_OK;
  }
  if (strcmp(verb, "workspace") == 0) {
    if ((rc = once(L, g->line, "workspace", &L->line_ws)))
      return rc;
    L->ws_part[0] = rest.a;
    L->ws_part[1] = rest.b;
    return AT_OK;
  }
  if (strcmp(verb, "dtype") == 0) {
    if ((rc = once(L, g->line, "dtype", &L->line_dtype)))
      return rc;
    if (rest.b - rest.a != 1 || !is_ident(L, rest.a))
      return tl_perr(L, g->line, "expected 'dtype T' (a type template parameter of the kernel)");
    return (t->dtype = tl_dupstr(L->toks[rest.a].spell)) ? AT_OK : tl_nomem();
  }
  if (strcmp(verb, "tensormap") == 0)
    return pragma_tensormap(L, g->line, &rest);
  if (strcmp(verb, "arch_specific") == 0) {
    if ((rc = once(L, g->line, "arch_specific", &L->line_arch_specific)))
      return rc;
    if (rest.b != rest.a)
      return tl_perr(L, g->line, "expected 'arch_specific' alone (it takes no arguments)");
    t->arch_specific = 1;
    return AT_OK;
  }
  return tl_perr(L, g->line, "unknown autotune pragma '%.40s' %s", verb, verbs_expected);
}

/* ---- pass 2: expressions ------------------------------------------------------------ */

static int load_xyz(struct loader *L, int line, const char *verb, size_t parts[3][2],
                    char *text[3], struct gen_expr *e[3])
{
  static const char axis[] = "xyz";
  for (size_t i = 0; i < 3; i++) {
    if (parts[i][0] == parts[i][1]) {
      if (!(text[i] = tl_dupstr("1")))
        return tl_nomem();
      int rc = gen_expr_parse("1", &e[i]);
      if (rc == AT_OK)
        rc = gen_expr_bind(e[i], const_resolve, NULL);
      if (rc)
        return rc;
      continue;
    }
    char what[32];
    snprintf(what, sizeof what, "%s %c", verb, axis[i]);
    int rc = load_expr(L, line, what, parts[i][0], parts[i][1], L->t->nparams, &text[i],
                       &e[i]);
    if (rc)
      return rc;
  }
  return AT_OK;
}

static int pass2(struct loader *L)
{
  struct tmpl *t = L->t;
  int rc;
  char what[128];
  for (size_t i = 0; i < t->nparams; i++) {
    if (L->derive_a[i] == L->derive_b[i])
      continue;
    snprintf(what, sizeof what, "derive '%.64s'", t->params[i].name);
    rc = load_expr(L, t->params[i].line, what, L->derive_a[i], L->derive_b[i], i,
                   &t->params[i].expr, NULL);
    if (rc)
      return rc;
  }
  for (size_t i = 0; i < t->nreqs; i++) {
    snprintf(what, sizeof what, "require '%.64s'", t->reqs[i].name);
    rc = load_expr(L, t->reqs[i].line, what, L->req_a[i], L->req_b[i], t->nparams,
                   &t->reqs[i].expr, NULL);
    if (rc)
      return rc;
  }
  int anchor = t->kernel_line ? t->kernel_line : 1;
  if (!t->kernel)
    return tl_perr(L, 1, "missing '#pragma autotune kernel NAME' (the __device__ function "
                "template to tune)");
  if (!L->line_threads)
    return tl_perr(L, anchor, "missing '#pragma autotune threads ...' (threads per block)");
  if (!L->line_grid)
    return tl_perr(L, anchor, "missing '#pragma autotune grid ...' (blocks in the grid)");
  if ((rc = load_xyz(L, L->line_threads, "threads", L->thr_part, t->threads_text,
                     t->threads)))
    return rc;
  if ((rc = load_xyz(L, L->line_grid, "grid", L->grid_part, t->grid_text, t->grid)))
    return rc;
  if ((rc = load_xyz(L, L->line_cluster, "cluster", L->cl_part, t->cluster_text, t->cluster)))
    return rc;
  if (L->line_min_blocks &&
      (rc = load_expr(L, L->line_min_blocks, "min_blocks", L->mb_part[0], L->mb_part[1],
                      t->nparams, &t->min_blocks_text, &t->min_blocks)))
    return rc;
  if (L->line_ws && (rc = load_expr(L, L->line_ws, "workspace", L->ws_part[0], L->ws_part[1],
                                     t->nparams, &t->workspace_text, &t->workspace)))
    return rc;
  static const char *const tmap_what[3] = {"box inner", "box outer", "swizzle"};
  for (size_t i = 0; i < t->ntmaps; i++)
    for (int k = 0; k < 3; k++) {
      snprintf(what, sizeof what, "tensormap '%.64s' %s", t->tmaps[i].param, tmap_what[k]);
      if ((rc = load_expr(L, t->tmaps[i].line, what, L->tmap_part[i][k][0],
                          L->tmap_part[i][k][1], t->nparams, &t->tmaps[i].text[k],
                          &t->tmaps[i].e[k])))
        return rc;
    }
  if (L->line_shared)
    return load_expr(L, L->line_shared, "shared", L->shared_part[0], L->shared_part[1],
                     t->nparams, &t->shared_text, &t->shared);
  if (!(t->shared_text = tl_dupstr("0")))
    return tl_nomem();
  rc = gen_expr_parse("0", &t->shared);
  return rc ? rc : gen_expr_bind(t->shared, const_resolve, NULL);
}

/* ---- tokens ------------------------------------------------------------------------- */

/* Collect the file's tokens (comments dropped) and find the autotune pragmas. */
static int read_pragmas(struct loader *L)
{
  struct tmpl *t = L->t;
  CXFile file = clang_getFile(L->tu, L->path);
  if (!file)
    return tl_perr(L, 1, "libclang lost the file");
  CXSourceRange range = clang_getRange(clang_getLocationForOffset(L->tu, file, 0),
                                       clang_getLocationForOffset(L->tu, file,
                                                                  (unsigned)t->text_len));
  CXToken *toks = NULL;
  unsigned n = 0;
  int rc = AT_OK;
  clang_tokenize(L->tu, range, &toks, &n);
  L->toks = calloc(n ? n : 1, sizeof *L->toks);
  if (!L->toks) {
    rc = tl_nomem();
    goto done;
  }
  for (unsigned i = 0; i < n; i++) {
    CXTokenKind kind = clang_getTokenKind(toks[i]);
    if (kind == CXToken_Comment)
      continue;
    struct ptok *p = &L->toks[L->ntoks];
    CXString s = clang_getTokenSpelling(L->tu, toks[i]);
    p->spell = tl_dupstr(clang_getCString(s));
    clang_disposeString(s);
    if (!p->spell) {
      rc = tl_nomem();
      goto done;
    }
    p->kind = kind;
    clang_getSpellingLocation(clang_getTokenLocation(L->tu, toks[i]), NULL, &p->line,
                              &p->col, &p->off);
    CXSourceRange ext = clang_getTokenExtent(L->tu, toks[i]);
    clang_getSpellingLocation(clang_getRangeEnd(ext), NULL, NULL, NULL, &p->end);
    L->ntoks++;
  }
  for (size_t i = 0; i < L->ntoks; i++) {
    if (!is_punct(L, i, "#") || (i > 0 && L->toks[i - 1].line == L->toks[i].line))
      continue;
    /* the directive ends at the first newline no backslash escapes */
    size_t end = L->toks[i].off;
    while (end < t->text_len && t->text[end] != '\n')
      end++;
    while (end < t->text_len && end > 0 &&
           (t->text[end - 1] == '\\' ||
            (t->text[end - 1] == '\r' && end > 1 && t->text[end - 2] == '\\'))) {
      end++;
      while (end < t->text_len && t->text[end] != '\n')
        end++;
    }
    size_t j = i + 1;
    while (j < L->ntoks && L->toks[j].off < end)
      j++;
    if (j - i >= 3 && is_ident(L, i + 1) && strcmp(L->toks[i + 1].spell, "pragma") == 0 &&
        is_ident(L, i + 2) && strcmp(L->toks[i + 2].spell, "autotune") == 0) {
      struct pragma *g = realloc(L->pragmas, (L->npragmas + 1) * sizeof *g);
      if (!g) {
        rc = tl_nomem();
        goto done;
      }
      L->pragmas = g;
      L->pragmas[L->npragmas++] = (struct pragma){(int)L->toks[i].line, i + 3, j};
    }
    i = j - 1;
  }
  t->pragma_lines = malloc((L->npragmas ? L->npragmas : 1) * sizeof *t->pragma_lines);
  if (!t->pragma_lines) {
    rc = tl_nomem();
    goto done;
  }
  for (size_t i = 0; i < L->npragmas; i++)
    t->pragma_lines[i] = L->pragmas[i].line;
  t->npragma_lines = L->npragmas;
done:
  clang_disposeTokens(L->tu, toks, n);
  return rc;
}

bool tmpl_hash_matches(const struct tmpl *t, const char *stored)
{
  return stored && (strcmp(stored, t->hash) == 0 || strcmp(stored, t->legacy_hash) == 0);
}

/* ---- load --------------------------------------------------------------------------- */

/* Bind the launch expressions of a template read from the parse cache, from their
 * texts, as pass 2 bound them (every param visible). */
static int bind_launch(struct tmpl *t)
{
  struct env env = {t, t->nparams};
  struct {
    const char *text;
    struct gen_expr **e;
  } all[12] = {{t->threads_text[0], &t->threads[0]}, {t->threads_text[1], &t->threads[1]},
               {t->threads_text[2], &t->threads[2]}, {t->grid_text[0], &t->grid[0]},
               {t->grid_text[1], &t->grid[1]},       {t->grid_text[2], &t->grid[2]},
               {t->shared_text, &t->shared},         {t->workspace_text, &t->workspace},
               {t->cluster_text[0], &t->cluster[0]}, {t->cluster_text[1], &t->cluster[1]},
               {t->cluster_text[2], &t->cluster[2]}, {t->min_blocks_text, &t->min_blocks}};
  for (size_t i = 0; i < 12; i++) {
    if (!all[i].text)
      continue; /* no workspace or min_blocks pragma */
    int rc = gen_expr_parse(all[i].text, all[i].e);
    if (rc == AT_OK)
      rc = gen_expr_bind(*all[i].e, env_resolve, &env);
    if (rc)
      return rc == AT_NOMEM ? rc
                            : at_error(AT_PARSE, "%s: the parse cache's entry does not bind "
                                       "('%.64s'): %s", t->path, all[i].text, at_last_error());
  }
  for (size_t i = 0; i < t->ntmaps; i++)
    for (int k = 0; k < 3; k++) {
      int rc = gen_expr_parse(t->tmaps[i].text[k], &t->tmaps[i].e[k]);
      if (rc == AT_OK)
        rc = gen_expr_bind(t->tmaps[i].e[k], env_resolve, &env);
      if (rc)
        return rc == AT_NOMEM ? rc
                              : at_error(AT_PARSE, "%s: the parse cache's entry does not "
                                         "bind ('%.64s'): %s", t->path, t->tmaps[i].text[k],
                                         at_last_error());
    }
  return AT_OK;
}

/* Parse L->t (path and text read) with libclang and check it. */
static int parse(struct loader *L, const char *const *include_dirs)
{
  char why[512];
  if (!tmpl_lc && !(tmpl_lc = lc_load(why, sizeof why)))
    return at_error(AT_UNSUPPORTED, "cannot parse template '%.200s': libclang is not "
                    "available (%s), and the parse cache holds no entry for these bytes "
                    "and includes; parse it once where libclang is installed, or tune "
                    "from a bundle (autotune bundle)", L->path, why);
  size_t ndirs = 0;
  while (include_dirs && include_dirs[ndirs])
    ndirs++;
  const char **args = calloc(4 + 2 * ndirs, sizeof *args);
  if (!args)
    return tl_nomem();
  int nargs = 0;
  args[nargs++] = "-x";
  args[nargs++] = "c++";
  args[nargs++] = "-std=c++17";
  args[nargs++] = "-Wno-unknown-pragmas";
  for (size_t i = 0; i < ndirs; i++) {
    args[nargs++] = "-I";
    args[nargs++] = include_dirs[i];
  }
  int rc = AT_OK;
  CXIndex index = clang_createIndex(0, 0);
  enum CXErrorCode ec = index ? clang_parseTranslationUnit2(index, L->path, args, nargs,
                                                            NULL, 0, CXTranslationUnit_None,
                                                            &L->tu)
                              : CXError_Failure;
  if (ec != CXError_Success || !L->tu) {
    rc = at_error(AT_PARSE, "%s:1: libclang cannot parse the file (error %d)", L->path,
                  (int)ec);
    goto done;
  }
  if ((rc = read_pragmas(L)))
    goto done;
  for (size_t i = 0; i < L->npragmas && !rc; i++)
    rc = pragma_pass1(L, &L->pragmas[i]);
  if (!rc)
    rc = pass2(L);
  if (!rc)
    rc = tmpl_first_clang_error(L);
  if (!rc)
    rc = tmpl_read_kernel(L);
  if (!rc)
    rc = tmpl_content_hash(L, include_dirs);
done:
  free(args);
  if (L->tu)
    clang_disposeTranslationUnit(L->tu);
  L->tu = NULL;
  if (index)
    clang_disposeIndex(index);
  return rc;
}

int tmpl_open(const char *path, const char *const *include_dirs, const char *cache_dir,
              struct tmpl **out)
{
  struct loader L = {0};
  int rc = AT_OK;
  if (out)
    *out = NULL;
  if (!path || !out)
    return at_error(AT_USAGE, "tmpl_open: NULL argument");
  L.path = path;
  L.t = calloc(1, sizeof *L.t);
  if (!L.t)
    return tl_nomem();
  if (!(L.t->path = tl_dupstr(path))) {
    rc = tl_nomem();
    goto done;
  }
  unsigned char *text = NULL;
  if ((rc = os_read_file(path, &text, &L.t->text_len))) {
    if (rc == AT_IO)
      rc = at_error(AT_IO, "cannot read template '%.200s': %s", path, strerror(errno));
    goto done;
  }
  L.t->text = (char *)text;
  char dflt[PATH_MAX];
  if (!cache_dir)
    cache_dir = os_cache_dir(dflt, sizeof dflt);
  rc = tcache_read(cache_dir, include_dirs, L.t);
  if (rc == AT_OK) {
    L.t->from_cache = true;
    rc = bind_launch(L.t);
  } else if (rc == AT_NOT_FOUND && (rc = parse(&L, include_dirs)) == AT_OK) {
    /* the cache is an optimisation: a failure to store is no failure to load */
    (void)tcache_write(cache_dir, include_dirs, L.t, &L.deps);
  }
  if (rc)
    goto done;
  *out = L.t;
  L.t = NULL;
done:
  tmpl_free(L.t);
  for (size_t i = 0; i < L.ntoks; i++)
    free(L.toks[i].spell);
  free(L.toks);
  free(L.pragmas);
  free(L.derive_a);
  free(L.derive_b);
  free(L.req_a);
  free(L.req_b);
  free(L.include_real);
  tcache_deps_free(&L.deps);
  return rc;
}

int tmpl_load(const char *path, const char *const *include_dirs, struct tmpl **out)
{
  return tmpl_open(path, include_dirs, "", out);
}

void tmpl_free(struct tmpl *t)
{
  if (!t)
    return;
  free(t->path);
  free(t->text);
  free(t->kernel);
  free(t->kernel_qualified);
  for (size_t i = 0; i < t->ndims; i++)
    free(t->dims[i]);
  for (size_t i = 0; i < t->nparams; i++) {
    free(t->params[i].name);
    free(t->params[i].values);
    free(t->params[i].expr);
  }
  free(t->params);
  for (size_t i = 0; i < t->nreqs; i++) {
    free(t->reqs[i].name);
    free(t->reqs[i].expr);
  }
  free(t->reqs);
  for (size_t i = 0; i < 3; i++) {
    free(t->threads_text[i]);
    free(t->grid_text[i]);
    gen_expr_free(t->threads[i]);
    gen_expr_free(t->grid[i]);
    free(t->cluster_text[i]);
    gen_expr_free(t->cluster[i]);
  }
  free(t->shared_text);
  gen_expr_free(t->shared);
  free(t->workspace_text);
  gen_expr_free(t->workspace);
  free(t->min_blocks_text);
  gen_expr_free(t->min_blocks);
  tmpl_tmaps_free(t);
  free(t->dtype);
  free(t->pragma_lines);
  for (size_t i = 0; i < t->ntparams; i++) {
    free(t->tparams[i].name);
    free(t->tparams[i].type);
  }
  free(t->tparams);
  for (size_t i = 0; i < t->nfparams; i++) {
    free(t->fparams[i].name);
    free(t->fparams[i].type);
  }
  free(t->fparams);
  free(t);
}
