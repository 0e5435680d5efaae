/*
 * space.c - the search space of a template and its pruned enumeration: parameters with
 * value lists or derived expressions, external constants, named constraints, the
 * depth-first enumerator with its per-constraint statistics, and the canonical config
 * text. Owns the slot layout (parameter i is slot i; constant j is slot nparams + j).
 *
 * Enumeration note. Before a run every expression is bound to slots and each constraint
 * gets its depth: one more than the largest parameter slot it uses (0 if it uses only
 * constants). At depth k, with parameters 0..k-1 bound, the constraints of depth k are
 * evaluated in declaration order; the first one that rejects prunes the subtree, which
 * stands for tail[k] = product of the value counts of parameters k..n-1 raw configs.
 * Invariants of a completed run:
 *   1. every raw config lies under exactly one pruned node or is valid, hence
 *      raw == valid + sum of removed_raw (constraints and derived parameters);
 *   2. a constraint is never evaluated on an unbound slot (its depth guarantees it);
 *   3. the order of visits is lexicographic in value positions, parameter 0 slowest,
 *      the same as filtering the Cartesian product in that order.
 */
#include "generator/space.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/expr.h"
#include "base/os.h"
#include "base/status.h"

struct param {
  char *name;
  int64_t *values; /* NULL for a derived parameter */
  size_t n;
  struct gen_expr *derived;
};

struct cnst {
  char *name;
  int64_t value;
};

struct req {
  char *name;
  struct gen_expr *e;
  size_t depth;
};

struct gen_space {
  struct param *params;
  size_t nparams, capparams;
  size_t *sorted; /* parameter indices sorted by name, for the config text */
  size_t capsorted;
  struct cnst *consts;
  size_t nconsts, capconsts;
  struct req *reqs;
  size_t nreqs, capreqs;
};

static const char *const reserved[] = {
    "min", "max", "cdiv", "sizeof_f8", "sizeof_f16", "sizeof_bf16", "sizeof_f32",
};

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
  return (b != 0 && a > UINT64_MAX / b) ? UINT64_MAX : a * b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
  return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* A plain identifier, or with `dotted` a dotted one; never a reserved word. */
static int valid_name(const char *name, int dotted)
{
  if (!name || !name[0])
    return 0;
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
    if (strcmp(name, reserved[i]) == 0)
      return 0;
  int start = 1;
  for (const char *c = name; *c; c++) {
    int alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_';
    int digit = *c >= '0' && *c <= '9';
    if (*c == '.' && dotted && !start) {
      start = 1;
      continue;
    }
    if (!(alpha || (digit && !start)))
      return 0;
    start = 0;
  }
  return !start;
}

static int find_param(const struct gen_space *s, const char *name)
{
  for (size_t i = 0; i < s->nparams; i++)
    if (strcmp(s->params[i].name, name) == 0)
      return (int)i;
  return -1;
}

static int find_const(const struct gen_space *s, const char *name)
{
  for (size_t i = 0; i < s->nconsts; i++)
    if (strcmp(s->consts[i].name, name) == 0)
      return (int)i;
  return -1;
}

int gen_space_new(struct gen_space **out)
{
  if (!out)
    return at_error(AT_USAGE, "gen_space_new: NULL argument");
  *out = calloc(1, sizeof **out);
  return *out ? AT_OK : at_error(AT_NOMEM, "out of memory building a search space");
}

void gen_space_free(struct gen_space *s)
{
  if (!s)
    return;
  for (size_t i = 0; i < s->nparams; i++) {
    free(s->params[i].name);
    free(s->params[i].values);
    gen_expr_free(s->params[i].derived);
  }
  for (size_t i = 0; i < s->nconsts; i++)
    free(s->consts[i].name);
  for (size_t i = 0; i < s->nreqs; i++) {
    free(s->reqs[i].name);
    gen_expr_free(s->reqs[i].e);
  }
  free(s->params);
  free(s->sorted);
  free(s->consts);
  free(s->reqs);
  free(s);
}

/* Append a parameter taking ownership of values and derived (freed on failure). */
static int add_param(struct gen_space *s, const char *name, int64_t *values, size_t n,
                     struct gen_expr *derived)
{
  int rc = AT_OK;
  char *copy = NULL;
  if (!valid_name(name, 0)) {
    rc = at_error(AT_USAGE, "bad parameter name '%.64s'", name ? name : "");
    goto cleanup;
  }
  if (find_param(s, name) >= 0 || find_const(s, name) >= 0) {
    rc = at_error(AT_USAGE, "parameter '%.64s' is defined twice", name);
    goto cleanup;
  }
  if (s->nparams >= GEN_SPACE_MAX_PARAMS) {
    rc = at_error(AT_USAGE, "too many parameters (limit %d)", GEN_SPACE_MAX_PARAMS);
    goto cleanup;
  }
  if (!(copy = strdup(name))) {
    rc = at_error(AT_NOMEM, "out of memory building a search space");
    goto cleanup;
  }
  if ((rc = os_grow(&s->params, &s->capparams, s->nparams + 1, sizeof *s->params, 8)) ||
      (rc = os_grow(&s->sorted, &s->capsorted, s->nparams + 1, sizeof *s->sorted, 8)))
    goto cleanup;
  size_t pos = s->nparams;
  while (pos > 0 && strcmp(s->params[s->sorted[pos - 1]].name, name) > 0) {
    s->sorted[pos] = s->sorted[pos - 1];
    pos--;
  }
  s->sorted[pos] = s->nparams;
  s->params[s->nparams++] = (struct param){copy, values, n, derived};
  return AT_OK;
cleanup:
  free(copy);
  free(values);
  gen_expr_free(derived);
  return rc;
}

int gen_space_add_param(struct gen_space *s, const char *name, const int64_t *values,
                        size_t n)
{
  if (!s || !name || (n && !values))
    return at_error(AT_USAGE, "gen_space_add_param: NULL argument");
  if (n == 0)
    return at_error(AT_USAGE, "parameter '%.64s' has no values", name);
  int64_t *copy = malloc(n * sizeof *copy);
  if (!copy)
    return at_error(AT_NOMEM, "out of memory building a search space");
  memcpy(copy, values, n * sizeof *copy);
  return add_param(s, name, copy, n, NULL);
}

int gen_space_add_derived(struct gen_space *s, const char *name, const char *expr)
{
  if (!s || !name || !expr)
    return at_error(AT_USAGE, "gen_space_add_derived: NULL argument");
  struct gen_expr *e;
  int rc = gen_expr_parse(expr, &e);
  if (rc) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", at_last_error());
    return at_error(rc, "derived parameter '%.64s': %s", name, msg);
  }
  return add_param(s, name, NULL, 1, e);
}

int gen_space_set_const(struct gen_space *s, const char *name, int64_t value)
{
  if (!s || !name)
    return at_error(AT_USAGE, "gen_space_set_const: NULL argument");
  int j = find_const(s, name);
  if (j >= 0) {
    s->consts[j].value = value;
    return AT_OK;
  }
  if (!valid_name(name, 1))
    return at_error(AT_USAGE, "bad constant name '%.64s'", name);
  if (find_param(s, name) >= 0)
    return at_error(AT_USAGE, "constant '%.64s' is already a parameter", name);
  if (s->nconsts >= (size_t)INT32_MAX / 2)
    return at_error(AT_USAGE, "too many constants");
  int rc = os_grow(&s->consts, &s->capconsts, s->nconsts + 1, sizeof *s->consts, 8);
  if (rc)
    return rc;
  char *copy = strdup(name);
  if (!copy)
    return at_error(AT_NOMEM, "out of memory building a search space");
  s->consts[s->nconsts++] = (struct cnst){copy, value};
  return AT_OK;
}

int gen_space_add_require(struct gen_space *s, const char *name, const char *expr)
{
  int rc = AT_OK;
  struct gen_expr *e = NULL;
  char *copy = NULL;
  if (!s || !name || !expr)
    return at_error(AT_USAGE, "gen_space_add_require: NULL argument");
  if (!name[0])
    return at_error(AT_USAGE, "a constraint needs a name");
  for (size_t i = 0; i < s->nreqs; i++)
    if (strcmp(s->reqs[i].name, name) == 0)
      return at_error(AT_USAGE, "constraint '%.64s' is defined twice", name);
  if ((rc = gen_expr_parse(expr, &e))) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", at_last_error());
    rc = at_error(rc, "constraint '%.64s': %s", name, msg);
    goto cleanup;
  }
  if ((rc = os_grow(&s->reqs, &s->capreqs, s->nreqs + 1, sizeof *s->reqs, 8)))
    goto cleanup;
  if (!(copy = strdup(name))) {
    rc = at_error(AT_NOMEM, "out of memory building a search space");
    goto cleanup;
  }
  s->reqs[s->nreqs++] = (struct req){copy, e, 0};
  return AT_OK;
cleanup:
  gen_expr_free(e);
  free(copy);
  return rc;
}

size_t gen_space_param_count(const struct gen_space *s)
{
  return s ? s->nparams : 0;
}

const char *gen_space_param_name(const struct gen_space *s, size_t i)
{
  return s->params[i].name;
}

int gen_space_param_index(const struct gen_space *s, const char *name)
{
  return s && name ? find_param(s, name) : -1;
}

void gen_space_stats_release(struct gen_space_stats *stats)
{
  if (!stats)
    return;
  free(stats->reqs);
  stats->reqs = NULL;
  stats->nreqs = 0;
}

/* ---- enumeration ---------------------------------------------------------------------- */

static int resolve(void *ctx, const char *name)
{
  const struct gen_space *s = ctx;
  int i = find_param(s, name);
  if (i >= 0)
    return i;
  i = find_const(s, name);
  return i >= 0 ? (int)s->nparams + i : -1;
}

/* Bind every expression and give each constraint its depth. */
static int bind_all(struct gen_space *s)
{
  char msg[1024];
  for (size_t k = 0; k < s->nparams; k++) {
    struct gen_expr *e = s->params[k].derived;
    if (!e)
      continue;
    if (gen_expr_bind(e, resolve, s)) {
      snprintf(msg, sizeof msg, "%s", at_last_error());
      return at_error(AT_PARSE, "derived parameter '%.64s': %s", s->params[k].name, msg);
    }
    for (size_t v = 0; v < gen_expr_var_count(e); v++) {
      int slot = gen_expr_var_slot(e, v);
      if (slot >= (int)k && slot < (int)s->nparams)
        return at_error(AT_PARSE, "derived parameter '%.64s' uses '%.64s', which is not "
                        "defined before it", s->params[k].name, gen_expr_var_name(e, v));
    }
  }
  for (size_t i = 0; i < s->nreqs; i++) {
    struct req *r = &s->reqs[i];
    if (gen_expr_bind(r->e, resolve, s)) {
      snprintf(msg, sizeof msg, "%s", at_last_error());
      return at_error(AT_PARSE, "constraint '%.64s': %s", r->name, msg);
    }
    r->depth = 0;
    for (size_t v = 0; v < gen_expr_var_count(r->e); v++) {
      int slot = gen_expr_var_slot(r->e, v);
      if (slot < (int)s->nparams && (size_t)slot + 1 > r->depth)
        r->depth = (size_t)slot + 1;
    }
  }
  return AT_OK;
}

struct run {
  struct gen_space *s;
  int64_t *slots;
  size_t *order;  /* constraint indices by (depth, declaration) */
  size_t *level;  /* order[level[k] .. level[k+1]) have depth k */
  uint64_t *tail; /* tail[k]: product of the value counts of parameters k.. */
  struct gen_space_stats *st;
  gen_space_visit_fn visit;
  void *ctx;
  int rc;
};

/* Record the first evaluation failure, with the bound part of the config. */
static void note_error(struct run *r, const char *what, const char *name, size_t k)
{
  struct gen_space_stats *st = r->st;
  if (st->first_error[0])
    return;
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", at_last_error());
  int o = snprintf(st->first_error, sizeof st->first_error, "%s '%.64s': %s (with ", what,
                   name, msg);
  for (size_t i = 0; i < k && o >= 0 && (size_t)o < sizeof st->first_error; i++)
    o += snprintf(st->first_error + o, sizeof st->first_error - (size_t)o,
                  "%s%s=%" PRId64, i ? "," : "", r->s->params[i].name, r->slots[i]);
  if (o >= 0 && (size_t)o < sizeof st->first_error)
    snprintf(st->first_error + o, sizeof st->first_error - (size_t)o, ")");
}

/* The constraints of depth k on the bound parameters 0..k-1: 1 if all pass. */
static int check(struct run *r, size_t k)
{
  for (size_t j = r->level[k]; j < r->level[k + 1]; j++) {
    size_t i = r->order[j];
    struct gen_space_req_stats *rs = &r->st->reqs[i];
    int64_t v;
    rs->checked++;
    int err = gen_expr_eval(r->s->reqs[i].e, r->slots, NULL, &v);
    if (err) {
      rs->errors++;
      note_error(r, "constraint", rs->name, k);
    }
    if (err || !v) {
      rs->removed++;
      rs->removed_raw = sat_add(rs->removed_raw, r->tail[k]);
      return 0;
    }
  }
  return 1;
}

/* Parameters 0..k-1 are bound. Returns 1 to unwind (stop or failure, in r->rc). */
static int descend(struct run *r, size_t k)
{
  struct gen_space *s = r->s;
  if (!check(r, k))
    return 0;
  if (k == s->nparams) {
    r->st->valid++;
    if (!r->visit)
      return 0;
    int rc = r->visit(r->ctx, r->slots, s->nparams);
    if (rc == 0)
      return 0;
    if (rc == GEN_SPACE_STOP)
      r->st->stopped = 1;
    else
      r->rc = rc;
    return 1;
  }
  struct param *p = &s->params[k];
  if (p->derived) {
    if (gen_expr_eval(p->derived, r->slots, NULL, &r->slots[k])) {
      r->st->derived_removed++;
      r->st->derived_removed_raw = sat_add(r->st->derived_removed_raw, r->tail[k]);
      note_error(r, "derived parameter", p->name, k);
      return 0;
    }
    return descend(r, k + 1);
  }
  for (size_t i = 0; i < p->n; i++) {
    r->slots[k] = p->values[i];
    if (descend(r, k + 1))
      return 1;
  }
  return 0;
}

int gen_space_enumerate(struct gen_space *s, gen_space_visit_fn visit, void *ctx,
                        struct gen_space_stats *stats)
{
  int rc = AT_OK;
  struct gen_space_stats local;
  struct run r = {.s = s, .visit = visit, .ctx = ctx, .st = stats ? stats : &local};
  memset(r.st, 0, sizeof *r.st);
  if (!s)
    return at_error(AT_USAGE, "gen_space_enumerate: NULL argument");
  size_t np = s->nparams;
  r.slots = calloc(np + s->nconsts + 1, sizeof *r.slots);
  r.order = calloc(s->nreqs + 1, sizeof *r.order);
  r.level = calloc(np + 2, sizeof *r.level);
  r.tail = calloc(np + 1, sizeof *r.tail);
  r.st->reqs = calloc(s->nreqs + 1, sizeof *r.st->reqs);
  if (!r.slots || !r.order || !r.level || !r.tail || !r.st->reqs) {
    rc = at_error(AT_NOMEM, "out of memory enumerating a search space");
    goto cleanup;
  }
  r.st->nreqs = s->nreqs;
  if ((rc = bind_all(s)))
    goto cleanup;
  for (size_t j = 0; j < s->nconsts; j++)
    r.slots[np + j] = s->consts[j].value;
  r.tail[np] = 1;
  for (size_t k = np; k-- > 0;)
    r.tail[k] = sat_mul(r.tail[k + 1], s->params[k].derived ? 1 : s->params[k].n);
  r.st->raw = r.tail[0];
  /* counting sort of the constraints by depth, stable in declaration order */
  for (size_t i = 0; i < s->nreqs; i++) {
    r.level[s->reqs[i].depth + 1]++;
    r.st->reqs[i].name = s->reqs[i].name;
    r.st->reqs[i].depth = s->reqs[i].depth;
  }
  for (size_t k = 0; k <= np; k++)
    r.level[k + 1] += r.level[k];
  for (size_t k = 0, j = 0; k <= np; k++)
    for (size_t i = 0; i < s->nreqs; i++)
      if (s->reqs[i].depth == k)
        r.order[j++] = i;
  descend(&r, 0);
  rc = r.rc;
cleanup:
  free(r.slots);
  free(r.order);
  free(r.level);
  free(r.tail);
  if (!stats)
    gen_space_stats_release(&local);
  return rc;
}

int gen_space_config_text(const struct gen_space *s, const int64_t *values, char **out)
{
  if (out)
    *out = NULL;
  if (!s || !values || !out)
    return at_error(AT_USAGE, "gen_space_config_text: NULL argument");
  size_t cap = 1;
  for (size_t i = 0; i < s->nparams; i++)
    cap += strlen(s->params[i].name) + 23; /* '=', up to 20 digits and a sign, ',' */
  char *buf = malloc(cap);
  if (!buf)
    return at_error(AT_NOMEM, "out of memory formatting a config");
  size_t o = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < s->nparams; i++) {
    size_t k = s->sorted[i];
    o += (size_t)snprintf(buf + o, cap - o, "%s%s=%" PRId64, i ? "," : "",
                          s->params[k].name, values[k]);
  }
  *out = buf;
  return AT_OK;
}

struct collect {
  int64_t *v;
  size_t n, cap;  /* configs gathered; room for (collecting) or the most counted */
};

static int count_one(void *ctx, const int64_t *values, size_t n)
{
  struct collect *c = ctx;
  (void)values;
  (void)n;
  return ++c->n > c->cap ? GEN_SPACE_STOP : 0;
}

static int collect_one(void *ctx, const int64_t *values, size_t n)
{
  struct collect *c = ctx;
  if (c->n == c->cap) /* the count said otherwise: the space changed between the two */
    return at_error(AT_USAGE, "search space changed while it was collected");
  memcpy(c->v + c->n * n, values, n * sizeof *values);
  c->n++;
  return 0;
}

/* The cap: $AUTOTUNE_MAX_CONFIGS, else GEN_SPACE_MAX_CONFIGS. AT_OK or AT_USAGE. */
static int max_configs(size_t *out)
{
  const char *env = getenv("AUTOTUNE_MAX_CONFIGS");
  *out = GEN_SPACE_MAX_CONFIGS;
  if (!env || !env[0])
    return AT_OK;
  char *end = NULL;
  errno = 0;
  unsigned long long v = env[0] >= '0' && env[0] <= '9' ? strtoull(env, &end, 10) : 0;
  if (!end || errno || *end || v < 1 || v > SIZE_MAX / 2)
    return at_error(AT_USAGE, "bad AUTOTUNE_MAX_CONFIGS '%.40s' (expected a count of "
                    "configs, at least 1)", env);
  *out = (size_t)v;
  return AT_OK;
}

int gen_space_collect(struct gen_space *s, int64_t **out, size_t *n,
                      struct gen_space_stats *stats)
{
  struct collect c = {0};
  struct gen_space_stats counted = {0};
  *out = NULL;
  *n = 0;
  int rc = max_configs(&c.cap);
  if (rc != AT_OK)
    return rc;
  /* counting: a failure's stats (as far as it got) are the caller's */
  struct gen_space_stats *cs = stats ? stats : &counted;
  rc = gen_space_enumerate(s, count_one, &c, cs);
  if (rc == AT_OK && c.n > c.cap)
    rc = at_error(AT_USAGE, "search space too large: more than %zu valid configs (%" PRIu64
                  " raw: the product of the params' value counts); add `require` "
                  "constraints or narrow the params' values, or raise the cap with "
                  "AUTOTUNE_MAX_CONFIGS=N", c.cap, cs->raw);
  if (rc != AT_OK || !stats)
    gen_space_stats_release(&counted);
  if (rc != AT_OK)
    return rc;
  if (stats)
    gen_space_stats_release(stats); /* the collecting pass fills it again */
  size_t np = gen_space_param_count(s);
  c.cap = c.n;
  c.n = 0;
  if (c.cap && !(c.v = malloc(c.cap * (np ? np : 1) * sizeof *c.v)))
    return at_error(AT_NOMEM, "out of memory collecting %zu configs", c.cap);
  rc = gen_space_enumerate(s, collect_one, &c, stats);
  if (rc != AT_OK) {
    free(c.v);
    return rc;
  }
  *out = c.v;
  *n = c.n;
  return AT_OK;
}
