/*
 * op_any.c - a user's own annotated template as an op of the tuning engine (any_tune.h).
 *
 * Arguments. Each parameter of the kernel gets a value: a pointer is a buffer whose
 * element count is an --arg NAME=EXPR (the constraint language over the problem dims);
 * an integer parameter named like a problem dim takes the dim; any other scalar takes
 * --arg NAME=EXPR. Buffers behind a `const` pointer are inputs, the others outputs (and
 * inputs: they are filled too, so y = a*x + b*y works, and refilled before each checked
 * launch). Every element starts as a small integer over 4 (exact in every float type),
 * from a fixed seed.
 *
 * Tensor maps. A template's `tensormap X` pragma (docs/tma.md) views buffer X as a matrix the
 * op cannot guess: --arg tmap_X=ROWS,COLS[,LD] gives it (expressions over the dims; LD,
 * the elements from one row's start to the next, defaults to COLS), and the worker builds
 * the map for each variant's box and swizzle before its checked launch, as the GEMM
 * runner does for A, B and C.
 *
 * Checking. The reference config (--reference, else the middle valid one) is trusted:
 * the engine measures it first, and its outputs go to memory mapped MAP_SHARED before
 * the measurement worker is forked, so a worker that replaces a crashed one still has
 * them. Every other variant's outputs must match within rtol/atol (exactly for integer
 * buffers), else the trial is verify_failed with the first differing element.
 */
#include "tuner/ops/any_tune.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/num.h"
#include "base/status.h"
#include "db/db.h"
#include "generator/expr.h"
#include "tuner/ops/gemm_run.h"

#define AT_EMU_ONLY 1
#include "templates/common/at_types.h"

#define MAX_ARGS 32

enum elem { E_NONE, E_F32, E_F64, E_F16, E_BF16, E_I32, E_U32, E_I64 };

struct karg {
  const char *name;
  char kind;           /* 'p', 'i', 'u', 'l', 'f', 'd'; 'w': the workspace (`#pragma autotune
                          workspace`: the last parameter before any tensor maps, the runner's
                          zeroed memory); 'm': a tensor map (the kernel's last parameters) */
  enum elem elem;      /* buffers: element type */
  size_t esize;
  int is_const;
  int64_t count;       /* buffers: elements */
  int64_t value;       /* scalars */
  size_t out_offset;   /* outputs: byte offset in the output area */
  size_t src;          /* maps: the buffer's argument index */
  int64_t rows, cols, ld; /* maps: the buffer as a matrix (--arg tmap_X=ROWS,COLS[,LD]) */
};

/* The reference's outputs, shared with every worker. */
struct shared_ref {
  int have;            /* the reference ran and its outputs are below */
  unsigned char outs[];
};

struct any_tune {
  struct any_tune_args a;
  const struct tmpl *t;
  int64_t dims[TMPL_MAX_DIMS];
  struct karg args[MAX_ARGS];
  size_t nargs;
  unsigned char *inputs;   /* every buffer's initial bytes, back to back */
  size_t inputs_size;
  size_t out_size;         /* bytes of all output buffers */
  const char *rec_dtype;   /* the dtype recorded: --dtype, else the first buffer's */
  char *reference;         /* canonical text, or NULL */
  double rtol, atol;
  struct shared_ref *ref;  /* MAP_SHARED */
  size_t ref_size;
  char canon[2048];
  char arg_names[1024];    /* the kernel's parameter names, comma-separated */
};

/* ---- arguments ---- */

static enum elem elem_of(const char *base, const char *dtype_name, const char *dtype)
{
  if (dtype_name && strcmp(base, dtype_name) == 0)
    base = strcmp(dtype, "f16") == 0 ? "at_half" : strcmp(dtype, "bf16") == 0 ? "at_bfloat16"
                                                                               : "float";
  static const struct {
    const char *name;
    enum elem e;
  } map[] = {
      {"float", E_F32},     {"double", E_F64},       {"at_half", E_F16},
      {"at_bfloat16", E_BF16}, {"int", E_I32},       {"int32_t", E_I32},
      {"unsigned int", E_U32}, {"unsigned", E_U32},  {"uint32_t", E_U32},
      {"long", E_I64},      {"long long", E_I64},    {"int64_t", E_I64},
  };
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (strcmp(base, map[i].name) == 0)
      return map[i].e;
  return E_NONE;
}

static size_t elem_size(enum elem e)
{
  switch (e) {
  case E_F16:
  case E_BF16: return 2;
  case E_F64:
  case E_I64: return 8;
  default: return 4;
  }
}

/* "const float *__restrict" -> base "float", pointer 1, const 1. */
static void parse_type(const char *type, char *base, size_t len, int *ptr, int *is_const)
{
  char buf[256];
  snprintf(buf, sizeof buf, "%s", type);
  char *star = strchr(buf, '*');
  *ptr = star != NULL;
  if (star)
    *star = '\0'; /* what follows the star qualifies the pointer, not the data */
  *is_const = 0;
  base[0] = '\0';
  size_t n = 0;
  for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
    if (strcmp(w, "const") == 0) {
      *is_const = 1;
      continue;
    }
    if (strcmp(w, "volatile") == 0 || strncmp(w, "__restrict", 10) == 0 ||
        strcmp(w, "restrict") == 0 || strcmp(w, "signed") == 0)
      continue;
    n += (size_t)snprintf(base + n, n < len ? len - n : 0, "%s%s", n ? " " : "", w);
  }
}

/* Evaluate an --arg expression over the problem dims. */
struct dim_env {
  const struct tmpl *t;
};

static int resolve_dim(void *ctx, const char *name)
{
  const struct dim_env *e = ctx;
  for (size_t i = 0; i < e->t->ndims; i++)
    if (strcmp(e->t->dims[i], name) == 0)
      return (int)i;
  return -1;
}

static int eval_arg(const struct tmpl *t, const int64_t *dims, const char *name,
                    const char *text, int64_t *out)
{
  struct gen_expr *e = NULL;
  int rc = gen_expr_parse(text, &e);
  struct dim_env env = {t};
  if (rc == AT_OK)
    rc = gen_expr_bind(e, resolve_dim, &env);
  if (rc == AT_OK)
    rc = gen_expr_eval(e, dims, NULL, out);
  gen_expr_free(e);
  if (rc != AT_OK)
    return at_error(AT_USAGE, "bad --arg %s=%s: %s (expected an integer expression over the "
                    "dims)", name, text, at_last_error());
  return AT_OK;
}

/* --arg NAME=... as given, or NULL. */
static const char *given_arg(const char *name, const char *const *cli_args, size_t ncli)
{
  const char *given = NULL;
  size_t n = strlen(name);
  for (size_t j = 0; j < ncli; j++)
    if (strncmp(cli_args[j], name, n) == 0 && cli_args[j][n] == '=')
      given = cli_args[j] + n + 1;
  return given;
}

/* Argument i, the tensor map of the i - first_map'th `tensormap` pragma: its buffer (an
 * earlier argument, already read) and its matrix from --arg tmap_X=ROWS,COLS[,LD]. */
static int map_arg(struct any_tune *c, const struct tmpl *t, const int64_t *dims, size_t i,
                   const char *const *cli_args, size_t ncli)
{
  struct karg *a = &c->args[i];
  const char *buf = t->tmaps[i - (t->nfparams - t->ntmaps)].param;
  a->kind = 'm';
  for (size_t k = 0; k < i; k++)
    if (strcmp(c->args[k].name, buf) == 0)
      a->src = k;
  const struct karg *b = &c->args[a->src];
  const char *given = given_arg(a->name, cli_args, ncli);
  if (!given)
    return at_error(AT_USAGE, "kernel %s's tensor map %s needs the matrix it views in %s: "
                    "--arg %s=ROWS,COLS[,LD]", t->kernel, a->name, buf, a->name);
  int parts = 1;
  for (const char *p = given; *p; p++)
    parts += *p == ',';
  if (parts < 2 || parts > 3 || strlen(given) > 255)
    return at_error(AT_USAGE, "bad --arg %s=%s: expected ROWS,COLS or ROWS,COLS,LD", a->name,
                    given);
  char text[3][256];
  for (int k = 0, at = 0; k < parts; k++) {
    size_t n = strcspn(given + at, ",");
    snprintf(text[k], sizeof text[k], "%.*s", (int)n, given + at);
    at += (int)n + 1;
  }
  int64_t v[3];
  for (int k = 0; k < parts; k++) {
    int rc = eval_arg(t, dims, a->name, text[k], &v[k]);
    if (rc)
      return rc;
  }
  a->rows = v[0], a->cols = v[1], a->ld = parts == 3 ? v[2] : v[1];
  if (a->rows < 1 || a->cols < 1 || a->ld < a->cols ||
      (a->rows - 1) * a->ld + a->cols > b->count)
    return at_error(AT_USAGE, "--arg %s=%s: %" PRId64 " x %" PRId64 " elements %" PRId64
                    " apart do not fit buffer %s (%" PRId64 " elements; expected rows and cols "
                    ">= 1, ld >= cols)", a->name, given, a->rows, a->cols, a->ld, buf, b->count);
  return AT_OK;
}

static int build_args(struct any_tune *c, const struct tmpl *t, const int64_t *dims,
                      const char *dtype, const char *const *cli_args, size_t ncli)
{
  if (t->nfparams > MAX_ARGS)
    return at_error(AT_UNSUPPORTED, "kernel %s has over %d parameters", t->kernel, MAX_ARGS);
  for (size_t j = 0; j < ncli; j++) {
    const char *eq = strchr(cli_args[j], '=');
    size_t n = eq ? (size_t)(eq - cli_args[j]) : 0;
    int found = 0;
    for (size_t i = 0; eq && i < t->nfparams; i++)
      found |= strlen(t->fparams[i].name) == n && strncmp(t->fparams[i].name, cli_args[j], n) == 0;
    if (!found)
      return at_error(AT_USAGE, "bad --arg '%.80s': expected NAME=EXPR with NAME a parameter of "
                      "kernel %s", cli_args[j], t->kernel);
  }
  size_t off = 0, first_map = t->nfparams - t->ntmaps;
  for (size_t i = 0; i < t->nfparams; i++) {
    struct karg *a = &c->args[i];
    memset(a, 0, sizeof *a);
    a->name = t->fparams[i].name;
    if (t->workspace_text && i + 1 == first_map) {
      a->kind = 'w'; /* no --arg: the runner passes its zeroed workspace */
      continue;
    }
    if (i >= first_map) {
      int rc = map_arg(c, t, dims, i, cli_args, ncli);
      if (rc)
        return rc;
      continue;
    }
    char base[128];
    int ptr = 0;
    parse_type(t->fparams[i].type, base, sizeof base, &ptr, &a->is_const);
    a->elem = elem_of(base, t->dtype, dtype);
    const char *given = given_arg(a->name, cli_args, ncli);
    if (ptr) {
      if (a->elem == E_NONE)
        return at_error(AT_UNSUPPORTED, "parameter %s of kernel %s: buffers of '%s' are not "
                        "supported (float, double, at_half, at_bfloat16, int, unsigned, "
                        "int64_t)", a->name, t->kernel, base);
      if (!given)
        return at_error(AT_USAGE, "kernel %s's buffer %s needs its element count: --arg "
                        "%s=EXPR (e.g. %s=%s)", t->kernel, a->name, a->name, a->name,
                        t->ndims ? t->dims[0] : "1024");
      int rc = eval_arg(t, dims, a->name, given, &a->count);
      if (rc)
        return rc;
      if (a->count < 1 || a->count > ((int64_t)1 << 32))
        return at_error(AT_USAGE, "--arg %s=%s gives %" PRId64 " elements (expected 1 to 2^32)",
                        a->name, given, a->count);
      a->kind = 'p';
      a->esize = elem_size(a->elem);
      if (!a->is_const) {
        a->out_offset = off;
        off += (size_t)a->count * a->esize;
      }
      continue;
    }
    enum elem e = a->elem;
    a->kind = e == E_F32 ? 'f' : e == E_F64 ? 'd' : e == E_I32 ? 'i' : e == E_U32 ? 'u'
              : e == E_I64 ? 'l' : 0;
    if (!a->kind)
      return at_error(AT_UNSUPPORTED, "parameter %s of kernel %s: scalars of type '%s' are not "
                      "supported", a->name, t->kernel, base);
    if (given) {
      int rc = eval_arg(t, dims, a->name, given, &a->value);
      if (rc)
        return rc;
    } else {
      int d = -1;
      for (size_t k = 0; k < t->ndims; k++)
        if (strcmp(t->dims[k], a->name) == 0)
          d = (int)k;
      if (d < 0 || (a->kind != 'i' && a->kind != 'u' && a->kind != 'l'))
        return at_error(AT_USAGE, "kernel %s's parameter %s needs a value: --arg %s=EXPR",
                        t->kernel, a->name, a->name);
      a->value = dims[d];
    }
  }
  c->nargs = t->nfparams;
  c->out_size = off;
  for (size_t i = 0, at = 0; i < t->nfparams && at < sizeof c->arg_names; i++)
    at += (size_t)snprintf(c->arg_names + at, sizeof c->arg_names - at, "%s%s", i ? "," : "",
                           t->fparams[i].name);
  return AT_OK;
}


/* Deterministic contents: small integers over 4 for floats, 0..7 for integers. */
static int make_inputs(struct any_tune *c)
{
  size_t total = 0;
  for (size_t i = 0; i < c->nargs; i++)
    if (c->args[i].kind == 'p')
      total += (size_t)c->args[i].count * c->args[i].esize;
  c->inputs = malloc(total ? total : 1);
  if (!c->inputs)
    return at_error(AT_NOMEM, "out of memory for %zu bytes of buffers", total);
  c->inputs_size = total;
  uint64_t seed = 0x9E3779B97F4A7C15ULL;
  unsigned char *p = c->inputs;
  for (size_t i = 0; i < c->nargs; i++) {
    const struct karg *a = &c->args[i];
    if (a->kind != 'p')
      continue;
    for (int64_t k = 0; k < a->count; k++, p += a->esize) {
      uint64_t r = num_xorshift64s(&seed) >> 33;
      float f = (float)((int)(r % 9) - 4) / 4.0f;
      switch (a->elem) {
      case E_F32: memcpy(p, &f, 4); break;
      case E_F64: { double d = f; memcpy(p, &d, 8); break; }
      case E_F16: { uint16_t h = at_float_to_half_bits_sw(f); memcpy(p, &h, 2); break; }
      case E_BF16: { uint16_t h = at_float_to_bfloat16_bits_sw(f); memcpy(p, &h, 2); break; }
      case E_I32:
      case E_U32: { uint32_t v = (uint32_t)(r % 8); memcpy(p, &v, 4); break; }
      case E_I64: { uint64_t v = r % 8; memcpy(p, &v, 8); break; }
      default: break;
      }
    }
  }
  return AT_OK;
}

/* ---- checking ---- */

static double load_elem(const unsigned char *p, enum elem e)
{
  switch (e) {
  case E_F32: { float f; memcpy(&f, p, 4); return f; }
  case E_F64: { double d; memcpy(&d, p, 8); return d; }
  case E_BF16: { uint16_t h; memcpy(&h, p, 2); return at_bfloat16_bits_to_float_sw(h); }
  case E_F16: { uint16_t h; memcpy(&h, p, 2); return at_half_bits_to_float_sw(h); }
  case E_I32: { int32_t v; memcpy(&v, p, 4); return v; }
  case E_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
  case E_I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
  default: return 0;
  }
}

/* How many output elements differ from ref; msg says where the first one is. */
static int64_t outputs_differ(const struct any_tune *c, const unsigned char *outs,
                              const unsigned char *ref, char *msg, size_t len)
{
  int64_t bad = 0;
  for (size_t i = 0; i < c->nargs; i++) {
    const struct karg *a = &c->args[i];
    if (a->kind != 'p' || a->is_const)
      continue;
    int is_int = a->elem == E_I32 || a->elem == E_U32 || a->elem == E_I64;
    for (int64_t k = 0; k < a->count; k++) {
      size_t o = a->out_offset + (size_t)k * a->esize;
      double x = load_elem(outs + o, a->elem), r = load_elem(ref + o, a->elem);
      int ok = is_int ? x == r
                      : (isnan(r) ? isnan(x) : fabs(x - r) <= c->atol + c->rtol * fabs(r));
      if (!ok && bad++ == 0)
        snprintf(msg, len, "%s[%" PRId64 "] is %.9g, the reference config gives %.9g", a->name,
                 k, x, r);
    }
  }
  return bad;
}


/* ---- the measurement worker's side (worker.h) ---- */

struct any_wstate {
  const struct any_tune *c;
  meas_ptr bufs[MAX_ARGS];
  void *argp[MAX_ARGS];
  char kinds[MAX_ARGS + 1];
  int64_t ivals[MAX_ARGS];
  float fvals[MAX_ARGS];
  double dvals[MAX_ARGS];
  unsigned char *outs;     /* one launch's outputs */
  struct run_workspace ws; /* the workspace of a template that declares one */
  meas_ptr ws_ptr;         /* ws.ptr as of the last verify: the 'w' argument */
  struct gemm_tmap_set maps; /* the 'm' arguments, built by each verify for its variant */
};

/* Upload every buffer's initial contents (only the written ones when outputs_only). */
static int upload_buffers(struct any_wstate *s, const struct meas_backend *mb,
                          struct meas_ctx *mc, bool outputs_only)
{
  const struct any_tune *c = s->c;
  const unsigned char *in = c->inputs;
  for (size_t i = 0; i < c->nargs; i++) {
    const struct karg *a = &c->args[i];
    if (a->kind != 'p')
      continue;
    size_t bytes = (size_t)a->count * a->esize;
    int rc;
    if ((!outputs_only || !a->is_const) && (rc = mb->upload(mc, s->bufs[i], in, bytes)) != AT_OK)
      return rc;
    in += bytes;
  }
  return AT_OK;
}

static void any_w_release(void *state, const struct meas_backend *mb, struct meas_ctx *mc)
{
  struct any_wstate *s = state;
  if (!s)
    return;
  for (size_t i = 0; i < MAX_ARGS; i++)
    if (s->bufs[i])
      mb->free(mc, s->bufs[i]);
  run_workspace_release(mb, mc, &s->ws);
  free(s->outs);
  free(s);
}

static int any_w_setup(const void *ctx, const struct meas_backend *mb, struct meas_ctx *mc,
                       void **state)
{
  const struct any_tune *c = ctx;
  struct any_wstate *s = calloc(1, sizeof *s);
  if (!s || !(s->outs = malloc(c->out_size ? c->out_size : 1))) {
    free(s);
    return at_error(AT_NOMEM, "out of memory");
  }
  s->c = c;
  int rc = AT_OK;
  for (size_t i = 0; i < c->nargs && rc == AT_OK; i++) {
    const struct karg *a = &c->args[i];
    s->kinds[i] = a->kind == 'w' ? 'p' : a->kind;
    if (a->kind == 'w') {
      s->argp[i] = &s->ws_ptr;
    } else if (a->kind == 'm') {
      s->argp[i] = s->maps.maps[i - (c->nargs - c->t->ntmaps)];
    } else if (a->kind == 'p') {
      rc = mb->alloc(mc, (size_t)a->count * a->esize, &s->bufs[i]);
      s->argp[i] = &s->bufs[i];
    } else if (a->kind == 'f') {
      s->fvals[i] = (float)a->value;
      s->argp[i] = &s->fvals[i];
    } else if (a->kind == 'd') {
      s->dvals[i] = (double)a->value;
      s->argp[i] = &s->dvals[i];
    } else if (a->kind == 'l') {
      s->ivals[i] = a->value;
      s->argp[i] = &s->ivals[i];
    } else {
      int32_t v32 = (int32_t)a->value;
      memcpy(&s->ivals[i], &v32, 4); /* little-endian: the int is the first 4 bytes */
      s->argp[i] = &s->ivals[i];
    }
  }
  s->kinds[c->nargs] = '\0';
  if (rc == AT_OK)
    rc = upload_buffers(s, mb, mc, false);
  if (rc != AT_OK) {
    any_w_release(s, mb, mc);
    return rc;
  }
  *state = s;
  return AT_OK;
}

static void any_w_args(void *state, void ***args, const char **kinds)
{
  struct any_wstate *s = state;
  *args = s->argp;
  *kinds = s->kinds;
}

/* The tensor maps of variant l (its boxes and swizzles) over the buffers. */
static int build_maps(struct any_wstate *s, const struct meas_backend *mb, struct meas_ctx *mc,
                      const struct gen_launch *l)
{
  const struct any_tune *c = s->c;
  for (size_t i = c->nargs - c->t->ntmaps, m = 0; i < c->nargs; i++, m++) {
    const struct karg *a = &c->args[i], *b = &c->args[a->src];
    const struct gen_tmap *g = NULL;
    for (int k = 0; k < l->ntmaps; k++)
      if (strcmp(l->tmaps[k].param, b->name) == 0)
        g = &l->tmaps[k];
    if (!g)
      return at_error(AT_USAGE, "the variant's launch has no tensor map over %s", b->name);
    struct meas_tmap t = {.base = s->bufs[a->src], .elem_bytes = (unsigned)b->esize,
                          .rows = a->rows, .cols = a->cols, .ld = a->ld,
                          .box = {(unsigned)g->box[0], (unsigned)g->box[1]},
                          .swizzle = (unsigned)g->swizzle};
    int rc = meas_tmap_encode(mb, mc, &t, s->maps.maps[m]);
    if (rc != AT_OK)
      return at_error(rc, "tensor map over %s: %s", b->name, at_last_error());
  }
  return AT_OK;
}

static int any_w_verify(void *state, const struct meas_backend *mb, struct meas_ctx *mc,
                        meas_kernel k, const struct gen_launch *l, bool reference,
                        int64_t *bad, char *msg, size_t msg_len)
{
  struct any_wstate *s = state;
  const struct any_tune *c = s->c;
  *bad = 0;
  msg[0] = '\0';
  struct meas_launch ml;
  int rc = run_launch_init(&ml, k, l, s->argp, s->kinds, c->t->kernel);
  ml.arg_names = c->arg_names;
  if (rc == AT_OK)
    rc = run_workspace_reserve(mb, mc, &s->ws, l);
  s->ws_ptr = s->ws.ptr;
  if (rc == AT_OK)
    rc = build_maps(s, mb, mc, l);
  if (rc != AT_OK || (rc = upload_buffers(s, mb, mc, true)) != AT_OK ||
      (rc = mb->launch(mc, &ml)) != AT_OK || (rc = mb->sync(mc)) != AT_OK)
    return rc;
  /* a workspace left dirty fails the variant, the reference config too */
  int64_t dirty = 0;
  char ws_msg[128] = "";
  if ((rc = run_workspace_check(mb, mc, &s->ws, l, &dirty, ws_msg, sizeof ws_msg)) != AT_OK)
    return rc;
  if (dirty) {
    *bad = dirty;
    snprintf(msg, msg_len, "%s", ws_msg);
    return AT_OK;
  }
  for (size_t i = 0; i < c->nargs; i++) {
    const struct karg *a = &c->args[i];
    if (a->kind == 'p' && !a->is_const &&
        (rc = mb->download(mc, s->outs + a->out_offset, s->bufs[i],
                           (size_t)a->count * a->esize)) != AT_OK)
      return rc;
  }
  if (reference) {
    memcpy(c->ref->outs, s->outs, c->out_size);
    c->ref->have = 1;
    return AT_OK;
  }
  if (!c->ref->have) {
    *bad = 1;
    snprintf(msg, msg_len, "no output of the reference config to check against");
    return AT_OK;
  }
  *bad = outputs_differ(c, s->outs, c->ref->outs, msg, msg_len);
  return AT_OK;
}

static const struct meas_op any_meas_op = {
    /* .name = */ "tune",
    /* .setup = */ any_w_setup,
    /* .release = */ any_w_release,
    /* .args = */ any_w_args,
    /* .verify = */ any_w_verify,
};

/* ---- the op ---- */

static int any_prepare(const struct op_engine *op, const struct dev_profile *space_dev)
{
  (void)op;
  (void)space_dev;
  return AT_OK;
}

static size_t any_nproblems(const struct op_engine *op)
{
  (void)op;
  return 1;
}

static void any_tmpl_dims(const struct op_engine *op, size_t i, const struct tmpl *t,
                          int64_t *dims)
{
  const struct any_tune *c = op->priv;
  (void)i;
  for (size_t j = 0; j < t->ndims; j++) {
    dims[j] = 1;
    for (size_t d = 0; d < c->t->ndims; d++)
      if (strcmp(c->t->dims[d], t->dims[j]) == 0)
        dims[j] = c->dims[d];
  }
}

static bool any_fits(const struct op_engine *op, const struct tmpl *t, char *why, size_t len)
{
  const struct any_tune *c = op->priv;
  if (strcmp(t->kernel, c->t->kernel) == 0)
    return true;
  snprintf(why, len, "not the template the arguments were made for (%s)", c->t->kernel);
  return false;
}

static const char *any_dtype_of(const struct op_engine *op)
{
  const struct any_tune *c = op->priv;
  return c->t->dtype ? c->a.dtype : NULL;
}

static int any_bind(const struct op_engine *op, size_t i, const struct dev_profile *dev,
                    struct op_problem *out)
{
  struct any_tune *c = op->priv;
  (void)i;
  (void)dev;
  memset(out, 0, sizeof *out);
  memset(c->ref, 0, c->ref_size);
  out->key = (struct db_problem){.op = c->t->kernel, .dtype = c->rec_dtype, .layout = "",
                                 .ndims = (int)c->t->ndims};
  for (size_t d = 0; d < c->t->ndims; d++) {
    out->key.dim_names[d] = c->t->dims[d];
    out->key.dims[d] = c->dims[d];
  }
  double bytes = 0; /* each buffer read once, outputs written once more */
  for (size_t a = 0; a < c->nargs; a++)
    if (c->args[a].kind == 'p')
      bytes += (double)c->args[a].count * (double)c->args[a].esize * (c->args[a].is_const ? 1 : 2);
  out->bytes = bytes;
  out->mop = &any_meas_op;
  return AT_OK;
}

static int any_inputs(const struct op_engine *op, struct op_problem *p)
{
  p->mop_ctx = op->priv; /* the inputs were made with the arguments */
  return AT_OK;
}

static void any_unbind(const struct op_engine *op, struct op_problem *p)
{
  (void)op;
  (void)p;
}

static void any_canonical(const struct op_engine *op, char *out, size_t len)
{
  const struct any_tune *c = op->priv;
  snprintf(out, len, "%s", c->canon);
}

int any_tune_op_init(struct op_engine *op, const struct any_tune_args *args)
{
  memset(op, 0, sizeof *op);
  struct any_tune *c = calloc(1, sizeof *c);
  if (!c)
    return at_error(AT_NOMEM, "out of memory");
  op->priv = c;
  c->a = *args;
  c->t = args->t;
  const struct tmpl *t = c->t;
  int rc;
  for (size_t i = 0; i < t->ndims; i++) {
    const char *v = NULL;
    size_t n = strlen(t->dims[i]);
    for (size_t j = 0; j < args->ndims; j++)
      if (strncmp(args->dims[j], t->dims[i], n) == 0 && args->dims[j][n] == '=')
        v = args->dims[j] + n + 1;
    char *end = NULL;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || *end || x < 0) {
      rc = at_error(AT_USAGE, "template %s needs --dim %s=V (an integer of at least 0)%s%s",
                    t->kernel, t->dims[i], v ? ", not " : "", v ? v : "");
      goto fail;
    }
    c->dims[i] = x;
  }
  for (size_t j = 0; j < args->ndims; j++) {
    bool found = false;
    for (size_t i = 0; i < t->ndims; i++) {
      size_t n = strlen(t->dims[i]);
      found |= strncmp(args->dims[j], t->dims[i], n) == 0 && args->dims[j][n] == '=';
    }
    if (!found) {
      rc = at_error(AT_USAGE, "bad --dim '%.60s': template %s's problem dims are those of its "
                    "problem pragma", args->dims[j], t->kernel);
      goto fail;
    }
  }
  const char *dtype = t->dtype ? (args->dtype ? args->dtype : "f32") : NULL;
  c->a.dtype = dtype;
  if ((rc = build_args(c, t, c->dims, dtype, args->args, args->nargs)) != AT_OK ||
      (rc = make_inputs(c)) != AT_OK)
    goto fail;
  c->rec_dtype = dtype;
  for (size_t i = 0; !c->rec_dtype && i < c->nargs; i++)
    if (c->args[i].kind == 'p') {
      static const char *const names[] = {"none", "f32", "f64", "f16", "bf16", "i32", "u32", "i64"};
      c->rec_dtype = names[c->args[i].elem];
    }
  if (!c->rec_dtype)
    c->rec_dtype = "none";
  bool lowp = strcmp(c->rec_dtype, "f16") == 0 || strcmp(c->rec_dtype, "bf16") == 0;
  c->rtol = args->rtol >= 0 ? args->rtol : lowp ? 1e-2 : 1e-5;
  c->atol = args->atol >= 0 ? args->atol : 1e-6;
  if (args->reference && db_config_canonical(args->reference, &c->reference) != AT_OK) {
    rc = at_error(AT_USAGE, "bad --reference '%.100s' (expected KEY=VALUE,...)", args->reference);
    goto fail;
  }
  c->ref_size = sizeof *c->ref + c->out_size;
  c->ref = mmap(NULL, c->ref_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (c->ref == MAP_FAILED) {
    c->ref = NULL;
    rc = at_error(AT_NOMEM, "out of memory for the reference's outputs");
    goto fail;
  }
  size_t at = (size_t)snprintf(c->canon, sizeof c->canon, "--dtype %s --reference %s",
                               dtype ? dtype : "-", c->reference ? c->reference : "(middle)");
  for (size_t j = 0; j < args->ndims && at < sizeof c->canon; j++)
    at += (size_t)snprintf(c->canon + at, sizeof c->canon - at, " --dim %s", args->dims[j]);
  for (size_t j = 0; j < args->nargs && at < sizeof c->canon; j++)
    at += (size_t)snprintf(c->canon + at, sizeof c->canon - at, " --arg %s", args->args[j]);
  if (at < sizeof c->canon)
    at += (size_t)snprintf(c->canon + at, sizeof c->canon - at, " --rtol %g --atol %g", c->rtol,
                           c->atol);
  if (at >= sizeof c->canon) {
    rc = at_error(AT_USAGE, "the arguments are too long to record (%zu bytes; at most %zu)", at,
                  sizeof c->canon - 1);
    goto fail;
  }
  op->name = "tune";
  op->reference_config = c->reference;
  op->checks_against_reference = true;
  op->prepare = any_prepare;
  op->nproblems = any_nproblems;
  op->fits = any_fits;
  op->tmpl_dims = any_tmpl_dims;
  op->dtype = any_dtype_of;
  op->bind = any_bind;
  op->inputs = any_inputs;
  op->unbind = any_unbind;
  op->canonical = any_canonical;
  return AT_OK;
fail:
  any_tune_op_release(op);
  return rc;
}

void any_tune_op_release(struct op_engine *op)
{
  if (!op || !op->priv)
    return;
  struct any_tune *c = op->priv;
  if (c->ref)
    munmap(c->ref, c->ref_size);
  free(c->reference);
  free(c->inputs);
  free(c);
  op->priv = NULL;
}
