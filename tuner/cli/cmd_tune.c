/*
 * cmd_tune.c - `autotune tune TEMPLATE.h --device D --dim NAME=V ...`: tune any annotated
 * template, not only the gemm op: span its space for the device and problem, compile
 * every valid variant (bld_run: cached, batched, parallel), run a sample of them on the
 * device with arguments built from the kernel's own signature, check each against the
 * reference config's output, time it and record every outcome in the tuning database
 * under op = the template's kernel name. docs/tune.md is the user's side.
 *
 * Arguments. Each parameter of the kernel gets a value: a pointer is a buffer whose
 * element count is an --arg NAME=EXPR (the constraint language over the problem dims);
 * an integer parameter named like a problem dim takes the dim; any other scalar takes
 * --arg NAME=EXPR. Buffers behind a `const` pointer are inputs, the others outputs (and
 * inputs: they are filled too, so y = a*x + b*y works). Every element starts as a
 * small integer over 4 (exact in every float type), from a fixed seed.
 *
 * Checking. There is no reference implementation of an arbitrary op, so the reference is
 * one of the template's own variants: --reference CONFIG, else the default config (the
 * middle valid config, as for `autotune gemm`). It is trusted; every other variant's
 * outputs must match it within --rtol/--atol (exactly for integer buffers), else the
 * trial is verify_failed with the first differing element in its message.
 *
 * Isolation. Every variant runs in a child process of its own (fork; the parent never
 * opens a GPU runtime), which writes its outputs and timings to shared memory: a variant
 * that faults, aborts or hangs past --timeout is recorded as fault or timeout and the run
 * goes on. Each trial is committed as it finishes, so an interrupted run keeps them.
 *
 * Resuming. runs.args holds every option that changes what is measured, resolved
 * (defaults written out). --resume looks for the latest run with the same args and no
 * ended_at, continues it under its uuid, and recalls its trials by config: a recalled
 * variant is not run or recorded again, so the search (same seed, same costs) walks the
 * same path and the run ends with each config once. The reference is run again all the
 * same, for the outputs the others are checked against, and recorded only if it was not.
 *
 * The attention op. `autotune attention` (cmd_attention.c) runs this same tuner with an
 * attn_problem (tune_any_run): then the inputs are the op's (op_attn.h: Q, K, V, and O
 * poisoned with NaN), every variant, the reference config included, is checked against
 * the op's f64 reference (attn_check) instead of another config, the search goes on when
 * the reference config fails, and the trials are recorded under op "attention" (dims b,
 * h, sq, sk; layout "hd<D>" or "hd<D>_causal", attn_layout) with their TFLOP/s.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "base/json.h"
#include "generator/expr.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "base/device.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/op_attn.h"
#include "base/interrupt.h"
#include "base/os.h"
#include "tuner/search/search.h"
#include "base/status.h"
#include "tuner/engine/template_dirs.h"

#define AT_EMU_ONLY 1
#include "templates/common/at_types.h"

static const char usage[] =
    "autotune tune TEMPLATE.h --device D --dim NAME=V [--dim ...] [--arg NAME=EXPR ...] "
    "[--dtype T] [--reference CONFIG] [--strategy S] [--budget N] [--seed N] [--reps N] "
    "[--rtol X] [--atol X] "
    "[--timeout SEC] [--db FILE] [--resume] [--jobs N] [--json]";
static const char description[] =
    "Tune any annotated template (docs/templates.md) for one problem: compile its valid\n"
    "variants, run the reference config and then those the search strategy picks\n"
    "(--strategy, --budget; -1: all), check each against the reference's output, time\n"
    "it, and record every outcome in the tuning database with op = the template's kernel\n"
    "name. Kernel\n"
    "arguments come from its signature: a pointer is a buffer of --arg NAME=COUNT\n"
    "elements (const: input; else output, checked); an int named like a problem dim is\n"
    "that dim; other scalars are --arg NAME=VALUE. COUNT and VALUE may use the dims\n"
    "(--arg x=N*2). --device host runs on the SIMT emulator; a GPU present here through\n"
    "its runtime (CUDA driver or HIP). Winners feed `autotune emit-header OP --mode params`. docs/tune.md.\n"
    "--resume: finish the latest unfinished run with the same arguments, measuring only\n"
    "what it has not recorded (the reference runs again for its outputs, unrecorded).\n"
    "Exit 0 when the run finished, 1 when it failed, 2 on bad input.";

#define MAX_ARGS 32
#define MAX_CLI 32

enum elem { E_NONE, E_F32, E_F64, E_F16, E_BF16, E_I32, E_U32, E_I64 };

struct karg {
  const char *name;
  char kind;           /* 'p', 'i', 'u', 'l', 'f', 'd' */
  enum elem elem;      /* buffers: element type */
  size_t esize;
  int is_const;
  int64_t count;       /* buffers: elements */
  int64_t value;       /* scalars */
  size_t out_offset;   /* outputs: byte offset in the shared output area */
};

/* What a child reports through shared memory. */
struct child_report {
  int status;          /* enum db_trial_status */
  char message[256];
  double median_us, min_us, max_us;
  int reps;
};

struct tune_ctx {
  const struct attn_data *attn; /* `autotune attention`: the op's data, else NULL */
  const struct meas_backend *mb;
  const struct dev_profile *dev;
  struct karg args[MAX_ARGS];
  size_t nargs;
  unsigned char *inputs;   /* every buffer's initial bytes, back to back */
  size_t inputs_size;
  size_t out_size;         /* bytes of all output buffers */
  int reps;
  double timeout_s, rtol, atol;
};

/* ---- arguments ------------------------------------------------------------------------- */

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

static int build_args(struct tune_ctx *c, const struct tmpl *t, const int64_t *dims,
                      const char *dtype, char **cli_args, size_t ncli)
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
  size_t off = 0;
  for (size_t i = 0; i < t->nfparams; i++) {
    struct karg *a = &c->args[i];
    memset(a, 0, sizeof *a);
    a->name = t->fparams[i].name;
    char base[128];
    int ptr = 0;
    parse_type(t->fparams[i].type, base, sizeof base, &ptr, &a->is_const);
    a->elem = elem_of(base, t->dtype, dtype);
    const char *given = NULL;
    for (size_t j = 0; j < ncli; j++) {
      size_t n = strlen(a->name);
      if (strncmp(cli_args[j], a->name, n) == 0 && cli_args[j][n] == '=')
        given = cli_args[j] + n + 1;
    }
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
  return AT_OK;
}

/* Deterministic contents: small integers over 4 for floats, 0..7 for integers. */
static uint64_t xorshift(uint64_t *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

/* The attention op's tensors into the buffers named Q, K, V and O (op_attn.h). */
static int attn_inputs(struct tune_ctx *c)
{
  const struct attn_data *d = c->attn;
  size_t es = gemm_dtype_size(d->p.dtype);
  unsigned char *p = c->inputs;
  for (size_t i = 0; i < c->nargs; i++) {
    const struct karg *a = &c->args[i];
    if (a->kind != 'p')
      continue;
    const void *src = !strcmp(a->name, "Q") ? d->q : !strcmp(a->name, "K") ? d->k
                      : !strcmp(a->name, "V") ? d->v : !strcmp(a->name, "O") ? d->o0 : NULL;
    size_t want = !strcmp(a->name, "K") || !strcmp(a->name, "V") ? attn_kv_elems(&d->p)
                                                                   : attn_q_elems(&d->p);
    size_t bytes = (size_t)a->count * a->esize;
    if (!src || a->esize != es || (size_t)a->count != want)
      return at_error(AT_USAGE, "kernel parameter %s: not the attention contract's (Q, K, V, O "
                      "of the dtype, op_attn.h)", a->name);
    memcpy(p, src, bytes);
    p += bytes;
  }
  return AT_OK;
}

static int make_inputs(struct tune_ctx *c)
{
  size_t total = 0;
  for (size_t i = 0; i < c->nargs; i++)
    if (c->args[i].kind == 'p')
      total += (size_t)c->args[i].count * c->args[i].esize;
  c->inputs = malloc(total ? total : 1);
  if (!c->inputs)
    return at_error(AT_NOMEM, "out of memory for %zu bytes of buffers", total);
  c->inputs_size = total;
  if (c->attn)
    return attn_inputs(c);
  uint64_t seed = 0x9E3779B97F4A7C15ULL;
  unsigned char *p = c->inputs;
  for (size_t i = 0; i < c->nargs; i++) {
    const struct karg *a = &c->args[i];
    if (a->kind != 'p')
      continue;
    for (int64_t k = 0; k < a->count; k++, p += a->esize) {
      uint64_t r = xorshift(&seed) >> 33;
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

/* ---- one variant in a child ------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The child's work: load, run once, copy outputs out, time. Returns a trial status. */
static int child_run(const struct tune_ctx *c, const struct bld_batch *b, const char *kname,
                     const struct gen_launch *l, struct child_report *rep, unsigned char *outs)
{
  struct meas_ctx *ctx = NULL;
  meas_module mod = NULL;
  meas_kernel k = NULL;
  meas_ptr bufs[MAX_ARGS] = {0};
  void *argp[MAX_ARGS];
  char kinds[MAX_ARGS + 1];
  int64_t ivals[MAX_ARGS];
  float fvals[MAX_ARGS];
  double dvals[MAX_ARGS];
  int rc = c->mb->open(0, &ctx);
  if (rc)
    return snprintf(rep->message, sizeof rep->message, "%s", at_last_error()), DB_TRIAL_LAUNCH_ERROR;
  if ((rc = c->mb->load(ctx, b->code, b->code_size, &mod)) ||
      (rc = c->mb->kernel(ctx, mod, kname, &k))) {
    snprintf(rep->message, sizeof rep->message, "%s", at_last_error());
    return DB_TRIAL_LAUNCH_ERROR;
  }
  const unsigned char *in = c->inputs;
  for (size_t i = 0; i < c->nargs; i++) {
    const struct karg *a = &c->args[i];
    kinds[i] = a->kind;
    if (a->kind == 'p') {
      size_t bytes = (size_t)a->count * a->esize;
      if ((rc = c->mb->alloc(ctx, bytes, &bufs[i])) || (rc = c->mb->upload(ctx, bufs[i], in, bytes))) {
        snprintf(rep->message, sizeof rep->message, "%s", at_last_error());
        return DB_TRIAL_LAUNCH_ERROR;
      }
      in += bytes;
      argp[i] = &bufs[i];
    } else if (a->kind == 'f') {
      fvals[i] = (float)a->value;
      argp[i] = &fvals[i];
    } else if (a->kind == 'd') {
      dvals[i] = (double)a->value;
      argp[i] = &dvals[i];
    } else {
      ivals[i] = a->value;
      if (a->kind == 'l')
        argp[i] = &ivals[i];
      else {
        int32_t v32 = (int32_t)a->value;
        memcpy(&ivals[i], &v32, 4); /* little-endian: the int is the first 4 bytes */
        argp[i] = &ivals[i];
      }
    }
  }
  kinds[c->nargs] = '\0';
  struct meas_launch ml = {.kernel = k, .args = argp, .arg_kinds = kinds,
                           .shared_bytes = (unsigned)l->shared};
  for (int a = 0; a < 3; a++) {
    ml.grid[a] = (unsigned)l->grid[a];
    ml.block[a] = (unsigned)l->threads[a];
  }
  if ((rc = c->mb->launch(ctx, &ml)) || (rc = c->mb->sync(ctx))) {
    snprintf(rep->message, sizeof rep->message, "%s", at_last_error());
    return rc == AT_DEVICE ? DB_TRIAL_FAULT : DB_TRIAL_LAUNCH_ERROR;
  }
  for (size_t i = 0; i < c->nargs; i++) {
    const struct karg *a = &c->args[i];
    if (a->kind == 'p' && !a->is_const &&
        (rc = c->mb->download(ctx, outs + a->out_offset, bufs[i], (size_t)a->count * a->esize))) {
      snprintf(rep->message, sizeof rep->message, "%s", at_last_error());
      return DB_TRIAL_FAULT;
    }
  }
  double us[64];
  int reps = c->reps < 64 ? c->reps : 64;
  if ((rc = c->mb->time(ctx, &ml, reps, NULL, NULL, us))) {
    snprintf(rep->message, sizeof rep->message, "%s", at_last_error());
    return DB_TRIAL_FAULT;
  }
  qsort(us, (size_t)reps, sizeof *us, cmp_double);
  rep->median_us = reps % 2 ? us[reps / 2] : 0.5 * (us[reps / 2 - 1] + us[reps / 2]);
  rep->min_us = us[0];
  rep->max_us = us[reps - 1];
  rep->reps = reps;
  /* The process exits next: the device and its memory go with it. */
  return DB_TRIAL_OK;
}


/* Run one variant isolated. OUT: *rep, outputs in outs (shared). */
static void run_isolated(const struct tune_ctx *c, const struct bld_batch *b, const char *kname,
                         const struct gen_launch *l, struct child_report *rep,
                         unsigned char *outs)
{
  memset(rep, 0, sizeof *rep);
  fflush(NULL);
  pid_t parent = getpid(), pid = fork();
  if (pid < 0) {
    rep->status = DB_TRIAL_LAUNCH_ERROR;
    snprintf(rep->message, sizeof rep->message, "fork: %s", strerror(errno));
    return;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the tuner, even a SIGKILLed one */
    if (getppid() != parent)
      _exit(1);
    rep->status = child_run(c, b, kname, l, rep, outs);
    _exit(0);
  }
  double deadline = at_now_s() + c->timeout_s;
  int st = 0;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid)
      break;
    if (w < 0 && errno != EINTR) {
      rep->status = DB_TRIAL_LAUNCH_ERROR;
      snprintf(rep->message, sizeof rep->message, "waitpid: %s", strerror(errno));
      return;
    }
    if (at_now_s() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      rep->status = DB_TRIAL_TIMEOUT;
      snprintf(rep->message, sizeof rep->message, "still running after %.0f s (--timeout): "
               "killed", c->timeout_s);
      return;
    }
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  if (WIFSIGNALED(st)) {
    rep->status = DB_TRIAL_FAULT;
    snprintf(rep->message, sizeof rep->message, "the variant's process died of signal %d (%s)",
             WTERMSIG(st), strsignal(WTERMSIG(st)));
  } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    rep->status = DB_TRIAL_FAULT;
    snprintf(rep->message, sizeof rep->message, "the variant's process exited with %d",
             WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
}

/* ---- checking -------------------------------------------------------------------------- */

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

/* 1 when outs match ref; else 0 and msg says where. */
static int outputs_match(const struct tune_ctx *c, const unsigned char *outs,
                         const unsigned char *ref, char *msg, size_t len)
{
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
      if (!ok) {
        snprintf(msg, len, "%s[%" PRId64 "] is %.9g, the reference config gives %.9g", a->name,
                 k, x, r);
        return 0;
      }
    }
  }
  return 1;
}

/* ---- the command ------------------------------------------------------------------------- */

struct outcome {
  int status;          /* enum db_trial_status; -1 while not measured */
  double median_us, min_us, max_us;
  int reps;
  char message[256];
};

/* Preselection: a strategy whose picks do not depend on the costs, run with costs of 0,
 * gives the points it would measure. */
struct pick_ctx {
  size_t *picks, n;
};

static int pick_cb(void *ctx, size_t p, double *cost)
{
  struct pick_ctx *pc = ctx;
  pc->picks[pc->n++] = p;
  *cost = 0;
  return AT_OK;
}

/* A trial of the run being resumed, by its config text. */
struct recalled {
  char *config;
  struct outcome o;
};

struct resume_ctx {
  const char *args, *run_uuid;
  char uuid[DB_UUID_LEN + 1];
  struct recalled *v;
  size_t n, cap;
  int rc;
};

static int find_run_cb(void *ctx, const struct db_run *r)
{
  struct resume_ctx *f = ctx;
  if (!r->ended_at && r->args && strcmp(r->args, f->args) == 0)
    snprintf(f->uuid, sizeof f->uuid, "%s", r->uuid); /* the latest wins */
  return 0;
}

static int recall_cb(void *ctx, const struct db_trial *t)
{
  struct resume_ctx *f = ctx;
  if (strcmp(t->run_uuid, f->uuid) != 0)
    return 0;
  if (f->n == f->cap) {
    size_t cap = f->cap ? 2 * f->cap : 64;
    struct recalled *v = realloc(f->v, cap * sizeof *v);
    if (!v)
      return f->rc = at_error(AT_NOMEM, "out of memory");
    f->v = v, f->cap = cap;
  }
  struct recalled *r = &f->v[f->n];
  memset(r, 0, sizeof *r);
  if (!(r->config = strdup(t->config)))
    return f->rc = at_error(AT_NOMEM, "out of memory");
  r->o.status = (int)t->status;
  r->o.median_us = t->time_median_us, r->o.min_us = t->time_min_us;
  r->o.max_us = t->time_max_us, r->o.reps = t->repetitions;
  snprintf(r->o.message, sizeof r->o.message, "%s", t->message ? t->message : "");
  f->n++;
  return 0;
}

static void resume_release(struct resume_ctx *f)
{
  for (size_t i = 0; i < f->n; i++)
    free(f->v[i].config);
  free(f->v);
}

static const struct outcome *recall(const struct resume_ctx *f, const char *config)
{
  for (size_t i = 0; f && i < f->n; i++)
    if (strcmp(f->v[i].config, config) == 0)
      return &f->v[i].o;
  return NULL;
}

/* What the measurement of one variant needs and what the run has found so far. */
struct run_state {
  struct tune_ctx *c;
  const struct tmpl *t;
  const struct bld_result *br;
  struct db *db;
  const char *run_uuid, *rec_dtype;
  const int64_t *dims;
  struct child_report *rep;
  unsigned char *outs, *ref_out;
  struct outcome *outc;        /* per compiled variant (0: the reference) */
  const size_t *ok;            /* search point -> compiled variant */
  const struct resume_ctx *resumed; /* the run being resumed, or NULL */
  size_t measured, nok, best_i, total, recalled, recorded;
  double best, t0;
  bool tty;
  int rc;                      /* a database failure inside the search */
};

/* Variant vi's outcome as a trial, committed now. */
static int record_trial(struct run_state *s, size_t vi)
{
  const struct bld_variant *v = &s->br->variants[vi];
  const struct outcome *o = &s->outc[vi];
  const struct tune_ctx *c = s->c;
  struct db_trial tr;
  db_trial_init(&tr);
  db_uuid(tr.uuid);
  memcpy(tr.run_uuid, s->run_uuid, sizeof tr.run_uuid);
  tr.device = c->dev->name;
  tr.arch = c->dev->arch;
  tr.vendor = dev_vendor_name(c->dev->vendor);
  tr.kernel = s->t->kernel;
  tr.kernel_hash = s->t->hash;
  tr.problem.op = s->t->kernel;
  tr.problem.dtype = s->rec_dtype;
  tr.problem.layout = "";
  tr.problem.ndims = (int)s->t->ndims;
  for (size_t d = 0; d < s->t->ndims; d++) {
    tr.problem.dim_names[d] = s->t->dims[d];
    tr.problem.dims[d] = s->dims[d];
  }
  const struct attn_problem *ap = c->attn ? &c->attn->p : NULL;
  char layout[32];
  if (ap) { /* the op's own problem: op.c's "attention" */
    static const char *const names[] = {"b", "h", "sq", "sk"};
    const int64_t dims[] = {ap->batch, ap->heads, ap->sq, ap->sk};
    tr.problem.op = "attention";
    tr.problem.layout = attn_layout(ap, layout, sizeof layout);
    tr.problem.ndims = 4;
    for (int d = 0; d < 4; d++) {
      tr.problem.dim_names[d] = names[d];
      tr.problem.dims[d] = dims[d];
    }
  }
  tr.config = v->config_text;
  tr.status = (enum db_trial_status)o->status;
  if (o->status == DB_TRIAL_OK) {
    tr.time_median_us = o->median_us;
    tr.time_min_us = o->min_us;
    tr.time_max_us = o->max_us;
    tr.time_spread = o->median_us > 0 ? (o->max_us - o->min_us) / o->median_us : 0;
    tr.repetitions = o->reps;
    double bytes = 0; /* each buffer read once, outputs written once more */
    for (size_t a = 0; a < c->nargs; a++)
      if (c->args[a].kind == 'p')
        bytes += (double)c->args[a].count * (double)c->args[a].esize *
                 (c->args[a].is_const ? 1 : 2);
    tr.gbps = bytes / (o->median_us * 1e-6) / 1e9;
    if (ap) {
      tr.tflops = attn_flops(ap) / (o->median_us * 1e-6) / 1e12;
      tr.gbps = attn_bytes(ap) / (o->median_us * 1e-6) / 1e9;
    }
  }
  tr.registers = v->res.registers;
  tr.shared_bytes = v->res.shared_bytes >= 0 ? v->res.shared_bytes + v->launch.shared : -1;
  tr.occupancy = v->verdict == BLD_COMPILE_ERROR || c->dev->vendor == DEV_HOST
                     ? NAN
                     : v->occ.occupancy;
  tr.message = o->message[0] ? o->message : NULL;
  int rc = db_put_trial(s->db, &tr, NULL);
  s->recorded += rc == AT_OK;
  return rc;
}

/* Run, check (against the reference's outputs; vi 0 is the reference) and record vi. */
static int measure_and_record(struct run_state *s, size_t vi)
{
  const struct bld_variant *v = &s->br->variants[vi];
  struct outcome *o = &s->outc[vi];
  const struct outcome *known = recall(s->resumed, v->config_text);
  if (known && vi != 0) { /* recalled: neither run nor recorded again */
    *o = *known;
    s->recalled++;
    if (o->status == DB_TRIAL_OK) {
      s->nok++;
      if (o->median_us < s->best)
        s->best = o->median_us, s->best_i = vi;
    }
    return AT_OK;
  }
  if (intr_requested())
    return intr_error(s->recorded);
  run_isolated(s->c, &s->br->batches[v->batch], v->name, &v->launch, s->rep, s->outs);
  if (intr_requested() && s->rep->status != DB_TRIAL_OK)
    return intr_error(s->recorded); /* maybe the signal's doing: run again on --resume */
  s->measured++;
  o->status = s->rep->status;
  snprintf(o->message, sizeof o->message, "%s", s->rep->message);
  if (o->status == DB_TRIAL_OK && s->c->attn) {
    /* every variant against the op's reference; O is the one output */
    int64_t bad = 0;
    int rc = attn_check(s->c->attn, s->outs, &bad, o->message, sizeof o->message);
    if (rc != AT_OK)
      return rc;
    if (bad)
      o->status = DB_TRIAL_VERIFY_FAILED;
  } else if (o->status == DB_TRIAL_OK) {
    if (vi == 0)
      memcpy(s->ref_out, s->outs, s->c->out_size);
    else if (!outputs_match(s->c, s->outs, s->ref_out, o->message, sizeof o->message))
      o->status = DB_TRIAL_VERIFY_FAILED;
  }
  if (o->status == DB_TRIAL_OK) {
    o->median_us = s->rep->median_us, o->min_us = s->rep->min_us;
    o->max_us = s->rep->max_us, o->reps = s->rep->reps;
    s->nok++;
    if (o->median_us < s->best)
      s->best = o->median_us, s->best_i = vi;
  }
  int rc = AT_OK;
  if (known) /* the reference, run again for its outputs: recorded once, before */
    s->recalled++;
  else
    rc = record_trial(s, vi);
  if (s->tty) {
    double el = at_now_s() - s->t0;
    double eta = s->total > s->measured ? (double)(s->total - s->measured) * el / (double)s->measured : 0;
    printf("\r%s: %zu/%zu variants run, %zu ok, best %.4g us, ETA %.0f s   ", s->t->kernel,
           s->measured, s->total, s->nok, isinf(s->best) ? 0.0 : s->best, eta);
    fflush(stdout);
  }
  return rc;
}

/* The search's evaluator: search point p is compiled variant s->ok[p]. */
static int eval_cb(void *ctx, size_t p, double *cost)
{
  struct run_state *s = ctx;
  size_t vi = s->ok[p];
  int rc = measure_and_record(s, vi);
  if (rc != AT_OK) {
    s->rc = rc;
    return SEARCH_STOP;
  }
  *cost = s->outc[vi].status == DB_TRIAL_OK ? s->outc[vi].median_us : INFINITY;
  return AT_OK;
}

/* cmd_tune, and with ap the attention op's run (see "The attention op" above). */
int tune_any_run(int argc, char **argv, const struct attn_problem *ap)
{
  const char *device = NULL, *dbpath = NULL, *dtype = NULL, *reference = NULL,
             *strategy_name = "random";
  int64_t budget = 0, reps = 0, jobs = 0, timeout = 60, seed = 1;
  const char *rtol_s = NULL, *atol_s = NULL;
  bool json = false, resume = false;
  struct resume_ctx rsm = {0};
  char *dim_args[MAX_CLI], *arg_args[MAX_CLI];
  size_t ndim_args = 0, narg_args = 0;
  /* --dim and --arg repeat: taken out before the table parser sees the rest. */
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  int nrest = argc;
  if (!rest)
    return CLI_FAILED;
  memcpy(rest, argv, sizeof *rest * (size_t)argc);
  if (cli_take_repeated(&nrest, rest, "dim", dim_args, MAX_CLI, &ndim_args) != CLI_OK ||
      cli_take_repeated(&nrest, rest, "arg", arg_args, MAX_CLI, &narg_args) != CLI_OK) {
    free(rest);
    return CLI_USAGE;
  }
  const struct cli_opt opts[] = {
      {"device", CLI_STR, &device, "D", "host, or a GPU profile present here (h100, ...)"},
      {"dim", CLI_STR, NULL, "NAME=V", "a problem dim of the template (repeat for each)"},
      {"arg", CLI_STR, NULL, "NAME=EXPR", "buffer length or scalar value of a kernel parameter"},
      {"dtype", CLI_STR, &dtype, "T", "f16, bf16 or f32 for a template with a dtype pragma"},
      {"reference", CLI_STR, &reference, "CONFIG", "the trusted config (default: the middle one)"},
      {"strategy", CLI_STR, &strategy_name, "S", "random (default), exhaustive, anneal or genetic"},
      {"budget", CLI_INT, &budget, "N", "variants run besides the reference (host 24, GPU all; -1 all)"},
      {"seed", CLI_INT, &seed, "N", "seed of the random strategies (1)"},
      {"reps", CLI_INT, &reps, "N", "timed launches per variant (host 3, GPU 20)"},
      {"rtol", CLI_STR, &rtol_s, "X", "relative tolerance of float outputs (1e-5; f16/bf16 1e-2)"},
      {"atol", CLI_STR, &atol_s, "X", "absolute tolerance of float outputs (1e-6)"},
      {"timeout", CLI_INT, &timeout, "SEC", "seconds one variant may take (60)"},
      {"db", CLI_STR, &dbpath, "FILE", "tuning database (default: see README)"},
      {"resume", CLI_FLAG, &resume, NULL, "finish the unfinished run with these arguments"},
      {"jobs", CLI_INT, &jobs, "N", "compile threads and emulator workers (the CPUs)"},
      {"json", CLI_FLAG, &json, NULL, "print one JSON object"},
      {NULL, 0, NULL, NULL, NULL},
  };
  /* the parser fills NULL dests for nothing: dim/arg were taken out above */
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int npos = 0, code = CLI_USAGE, rc;
  struct tmpl *t = NULL;
  struct gen_space *space = NULL;
  int64_t *configs = NULL, *picked = NULL;
  size_t nconfigs = 0;
  struct bld_result br = {0};
  struct db *db = NULL;
  struct tune_ctx c;
  memset(&c, 0, sizeof c);
  struct attn_data adata;
  memset(&adata, 0, sizeof adata);
  void *shm = MAP_FAILED;
  size_t shm_size = 0;
  unsigned char *ref_out = NULL;
  struct outcome *outc = NULL;
  if (!pos) {
    free(rest);
    return CLI_FAILED;
  }
  rc = cli_parse(nrest, rest, opts, usage, description, pos, &npos);
  if (rc != CLI_OK) {
    code = rc < 0 ? CLI_OK : rc;
    goto done;
  }
  if (npos != 1) {
    cli_error("tune needs one template file; try 'autotune tune --help'");
    goto done;
  }
  if (!device) {
    cli_error("tune needs --device (host, or a GPU profile such as h100)");
    goto done;
  }
  c.dev = dev_find(device);
  if (!c.dev) {
    code = cli_fail(AT_USAGE);
    goto done;
  }
  c.mb = c.dev->vendor == DEV_HOST     ? &meas_host
         : c.dev->vendor == DEV_NVIDIA ? &meas_cuda
                                       : &meas_hip;
  if (c.mb != &meas_host) {
    /* Probe in a child: this process never opens a GPU runtime (the children do). */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
      struct meas_ctx *probe = NULL;
      int prc = c.mb->open(0, &probe);
      if (prc != AT_OK)
        fprintf(stderr, "autotune: no %s opens here (%s): nothing can be measured\n",
                c.dev->name, at_last_error());
      _exit(prc == AT_OK ? 0 : 1);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      code = CLI_FAILED;
      goto done;
    }
  }
  c.rtol = rtol_s ? strtod(rtol_s, NULL) : -1;
  c.atol = atol_s ? strtod(atol_s, NULL) : 1e-6;
  if ((rtol_s && !(c.rtol >= 0)) || !(c.atol >= 0)) {
    cli_error("bad --rtol/--atol (expected a number of at least 0)");
    goto done;
  }
  enum search_strategy strategy;
  if ((rc = search_strategy_parse(strategy_name, &strategy)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (strategy == SEARCH_MODEL) {
    cli_error("--strategy model needs a cost model of the op: autotune gemm has one, tune "
              "does not (random, exhaustive, anneal or genetic)");
    goto done;
  }
  if (timeout < 1) {
    cli_error("bad --timeout %" PRId64 " (expected seconds, at least 1)", timeout);
    goto done;
  }
  /* The template. */
  char common[PATH_MAX];
  template_common_dir(pos[0], common);
  const char *incs[] = {common, NULL};
  if ((rc = tmpl_load(pos[0], incs, &t)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (t->dtype) {
    dtype = dtype ? dtype : "f32";
    if (strcmp(dtype, "f32") && strcmp(dtype, "f16") && strcmp(dtype, "bf16")) {
      cli_error("bad --dtype '%.20s' (expected f16, bf16 or f32)", dtype);
      goto done;
    }
  } else if (dtype) {
    cli_error("template %s has no dtype pragma: --dtype does not apply", t->kernel);
    goto done;
  }
  int64_t dims[TMPL_MAX_DIMS];
  for (size_t i = 0; i < t->ndims; i++) {
    const char *v = NULL;
    size_t n = strlen(t->dims[i]);
    for (size_t j = 0; j < ndim_args; j++)
      if (strncmp(dim_args[j], t->dims[i], n) == 0 && dim_args[j][n] == '=')
        v = dim_args[j] + n + 1;
    char *end = NULL;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || *end || x < 1) {
      cli_error("template %s needs --dim %s=V (an integer of at least 1)%s%s", t->kernel,
                t->dims[i], v ? ", not " : "", v ? v : "");
      goto done;
    }
    dims[i] = x;
  }
  for (size_t j = 0; j < ndim_args; j++) {
    int found = 0;
    for (size_t i = 0; i < t->ndims; i++) {
      size_t n = strlen(t->dims[i]);
      found |= strncmp(dim_args[j], t->dims[i], n) == 0 && dim_args[j][n] == '=';
    }
    if (!found) {
      cli_error("bad --dim '%.60s': template %s's problem dims are those of its problem "
                "pragma", dim_args[j], t->kernel);
      goto done;
    }
  }
  if ((rc = build_args(&c, t, dims, dtype, arg_args, narg_args)) != AT_OK ||
      (ap && (rc = attn_data_init(&adata, ap, 1)) != AT_OK)) {
    code = cli_fail(rc);
    goto done;
  }
  if (ap)
    c.attn = &adata;
  /* The element type the problem is recorded under: the dtype, else the first buffer's. */
  const char *rec_dtype = dtype;
  for (size_t i = 0; !rec_dtype && i < c.nargs; i++)
    if (c.args[i].kind == 'p') {
      static const char *const names[] = {"none", "f32", "f64", "f16", "bf16", "i32", "u32", "i64"};
      rec_dtype = names[c.args[i].elem];
    }
  if (!rec_dtype)
    rec_dtype = "none";
  if (rtol_s == NULL) {
    int lowp = strcmp(rec_dtype, "f16") == 0 || strcmp(rec_dtype, "bf16") == 0;
    c.rtol = lowp ? 1e-2 : 1e-5;
  }
  c.reps = reps > 0 ? (int)reps : c.dev->vendor == DEV_HOST ? 3 : 20;
  c.timeout_s = (double)timeout;
  /* The space and the sample. */
  if ((rc = tmpl_space(t, c.dev, dims, &space)) != AT_OK ||
      (rc = gen_space_collect(space, &configs, &nconfigs, NULL)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (nconfigs == 0) {
    cli_error("template %s has no valid config on %s for this problem", t->kernel, c.dev->name);
    code = CLI_FAILED;
    goto done;
  }
  size_t np = gen_space_param_count(space);
  size_t ref_index = nconfigs / 2;
  if (reference) {
    char *want = NULL;
    if (db_config_canonical(reference, &want) != AT_OK) {
      cli_error("bad --reference '%.100s' (expected KEY=VALUE,...)", reference);
      goto done;
    }
    ref_index = nconfigs;
    for (size_t i = 0; i < nconfigs && ref_index == nconfigs; i++) {
      char *text = NULL;
      if (gen_space_config_text(space, configs + i * np, &text) == AT_OK && strcmp(text, want) == 0)
        ref_index = i;
      free(text);
    }
    free(want);
    if (ref_index == nconfigs) {
      cli_error("--reference '%.100s' is not a valid config of %s here (give every param and "
                "derived value, as `autotune generate --out` names them)", reference, t->kernel);
      goto done;
    }
  }
  /* The budget: variants measured besides the reference. */
  size_t others = nconfigs - 1;
  size_t want = budget < 0 ? others : budget > 0 ? (size_t)budget
                : c.dev->vendor == DEV_HOST ? 24 : others;
  if (want > others)
    want = others;
  /* What to compile: the reference first, then the others in enumeration order. A
   * strategy whose picks do not depend on the times (exhaustive, random) compiles only
   * its picks; annealing and the genetic search need every variant compiled. */
  picked = malloc(nconfigs * np * sizeof *picked);
  size_t *order = malloc(nconfigs * sizeof *order);
  if (!picked || !order) {
    free(order);
    code = cli_fail(at_error(AT_NOMEM, "out of memory"));
    goto done;
  }
  size_t npicked = 0, norder = 0;
  for (size_t i = 0; i < nconfigs; i++)
    if (i != ref_index)
      order[norder++] = i;
  bool preselected = false;
  if (want < others && (strategy == SEARCH_EXHAUSTIVE || strategy == SEARCH_RANDOM)) {
    struct pick_ctx pc = {.picks = malloc((want + 1) * sizeof(size_t))};
    int32_t *coords = NULL;
    size_t nd = 0;
    rc = pc.picks ? tmpl_search_coords(t, configs, order, norder, &coords, &nd)
                  : at_error(AT_NOMEM, "out of memory");
    struct search_space sp = {.npoints = norder, .ndims = nd, .coords = coords};
    struct search_opts so = {.strategy = strategy, .seed = (uint64_t)seed, .budget = want};
    struct search_result sr;
    if (rc == AT_OK)
      rc = search_run(&sp, &so, pick_cb, &pc, &sr);
    free(coords);
    if (rc != AT_OK) {
      free(pc.picks);
      free(order);
      code = cli_fail(rc);
      goto done;
    }
    for (size_t i = 0; i < pc.n; i++)
      pc.picks[i] = order[pc.picks[i]];
    memcpy(order, pc.picks, pc.n * sizeof *order);
    norder = pc.n;
    free(pc.picks);
    preselected = true;
  }
  memcpy(picked, configs + ref_index * np, np * sizeof *picked);
  npicked = 1;
  for (size_t i = 0; i < norder; i++)
    memcpy(picked + npicked++ * np, configs + order[i] * np, np * sizeof *picked);
  free(order);
  /* Compile. */
  struct bld_options bo = {.jobs = (int)jobs, .include_dirs = incs};
  intr_install();
  if ((rc = bld_run(t, space, c.dev, dims, dtype, picked, npicked, &bo, &br)) != AT_OK) {
    code = cli_fail(rc == AT_INTERRUPTED ? intr_error(0) : rc);
    goto done;
  }
  if (jobs > 0)
    meas_host_set_jobs((int)jobs);
  if ((rc = make_inputs(&c)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  /* Shared memory: one report and one copy of the outputs. */
  shm_size = sizeof(struct child_report) + c.out_size + 64;
  shm = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ref_out = malloc(c.out_size ? c.out_size : 1);
  outc = calloc(npicked, sizeof *outc);
  if (shm == MAP_FAILED || !ref_out || !outc) {
    code = cli_fail(at_error(AT_NOMEM, "out of memory for the outputs"));
    goto done;
  }
  /* The database and the run. */
  if (!dbpath && !(dbpath = cli_default_db(true)))
    goto done;
  if ((rc = db_open(dbpath, DB_CREATE, &db)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  char run_uuid[DB_UUID_LEN + 1], started[32], host[256] = "unknown", args_text[2048];
  db_uuid(run_uuid);
  db_now(started);
  gethostname(host, sizeof host - 1);
  size_t at = (size_t)snprintf(args_text, sizeof args_text, "%s %s --device %s",
                               ap ? "attention" : "tune", t->kernel, c.dev->name);
  for (size_t j = 0; j < ndim_args && at < sizeof args_text; j++)
    at += (size_t)snprintf(args_text + at, sizeof args_text - at, " --dim %s", dim_args[j]);
  for (size_t j = 0; j < narg_args && at < sizeof args_text; j++)
    at += (size_t)snprintf(args_text + at, sizeof args_text - at, " --arg %s", arg_args[j]);
  /* What else decides what is measured, resolved: --resume matches on all of it. */
  if (at < sizeof args_text)
    at += (size_t)snprintf(args_text + at, sizeof args_text - at,
                           " --dtype %s --reference %s --strategy %s --budget %zu --seed %" PRId64
                           " --reps %d --rtol %g --atol %g --timeout %" PRId64,
                           dtype ? dtype : "-", br.variants[0].config_text,
                           search_strategy_name(strategy), want, seed, c.reps, c.rtol, c.atol,
                           timeout);
  if (at >= sizeof args_text) {
    code = cli_fail(at_error(AT_USAGE, "the arguments are too long to record (%zu bytes; "
                             "at most %zu)", at, sizeof args_text - 1));
    goto done;
  }
  if (resume) {
    rsm.args = args_text;
    if ((rc = db_each_run(db, find_run_cb, &rsm)) != AT_OK ||
        (rsm.uuid[0] && (rc = db_each_trial(db, recall_cb, &rsm)) != AT_OK) ||
        (rc = rsm.rc) != AT_OK) {
      code = cli_fail(rc);
      goto done;
    }
    if (rsm.uuid[0])
      memcpy(run_uuid, rsm.uuid, sizeof run_uuid);
    else if (!json)
      cli_error("nothing to resume: no unfinished run with these arguments in %s; starting "
                "a new run", dbpath);
  }
  struct db_run run = {.host = host, .started_at = started, .toolchain = br.toolchain,
                       .autotune_version = at_version(),
                       .strategy = search_strategy_name(strategy), .args = args_text};
  memcpy(run.uuid, run_uuid, sizeof run.uuid);
  if (!rsm.uuid[0] && (rc = db_put_run(db, &run, NULL)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  struct run_state rs = {.c = &c, .t = t, .br = &br, .db = db, .run_uuid = run_uuid,
                         .rec_dtype = rec_dtype, .dims = dims, .rep = shm,
                         .outs = (unsigned char *)shm +
                                 ((sizeof(struct child_report) + 63) / 64) * 64,
                         .ref_out = ref_out, .outc = outc, .best = INFINITY, .t0 = at_now_s(),
                         .resumed = rsm.uuid[0] ? &rsm : NULL,
                         .tty = cli_stdout_is_tty() && !json, .total = want + 1};
  /* Build-time verdicts are trials now; the reference is measured first. */
  for (size_t i = 0; i < npicked; i++) {
    const struct bld_variant *v = &br.variants[i];
    outc[i].status = v->verdict == BLD_COMPILE_ERROR ? DB_TRIAL_COMPILE_ERROR
                     : v->verdict == BLD_PRUNED      ? DB_TRIAL_PRUNED
                                                     : -1; /* not measured (yet) */
    snprintf(outc[i].message, sizeof outc[i].message, "%s", v->reason);
    if (outc[i].status < 0)
      continue;
    if (recall(rs.resumed, v->config_text))
      rs.recalled++;
    else if ((rc = record_trial(&rs, i)) != AT_OK) {
      code = cli_fail(rc);
      goto done;
    }
  }
  if (outc[0].status < 0 && (rc = measure_and_record(&rs, 0)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  struct search_result sr = {.end = SEARCH_END_EXHAUSTED};
  if (outc[0].status == DB_TRIAL_OK || c.attn) { /* the op's reference needs no config */
    /* The search, over the compiled ok variants other than the reference. */
    size_t *ok = malloc(npicked * sizeof *ok), nok = 0;
    if (!ok) {
      code = cli_fail(at_error(AT_NOMEM, "out of memory"));
      goto done;
    }
    for (size_t i = 1; i < npicked; i++)
      if (outc[i].status < 0)
        ok[nok++] = i;
    int32_t *coords = NULL;
    size_t nd = 0;
    rc = tmpl_search_coords(t, picked, ok, nok, &coords, &nd);
    struct search_space sp = {.npoints = nok, .ndims = nd, .coords = coords};
    struct search_opts so = {.strategy = preselected ? SEARCH_EXHAUSTIVE : strategy,
                             .seed = (uint64_t)seed, .budget = preselected ? 0 : want};
    rs.ok = ok;
    if (rc == AT_OK && nok)
      rc = search_run(&sp, &so, eval_cb, &rs, &sr);
    if (rc == AT_OK)
      rc = rs.rc;
    free(coords);
    free(ok);
    if (rc != AT_OK) {
      code = cli_fail(rc);
      goto done;
    }
  }
  if (rs.tty)
    printf("\n");
  if ((rc = db_end_run(db, run_uuid)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  size_t best_i = rs.best_i, nok = rs.nok, nmeasured = rs.measured;
  size_t counts[DB_TRIAL_STATUS_COUNT] = {0}, recorded = 0;
  for (size_t i = 0; i < npicked; i++)
    if (outc[i].status >= 0)
      counts[outc[i].status]++, recorded++;
  const char *ref_text = br.variants[0].config_text;
  if (json) {
    printf("{\"kernel\":");
    json_write_str(stdout, t->kernel);
    printf(",\"device\":\"%s\",\"dtype\":\"%s\",\"strategy\":\"%s\",\"valid\":%zu,"
           "\"compiled\":%zu,\"variants\":%zu,\"counts\":{", c.dev->name, rec_dtype,
           search_strategy_name(strategy), nconfigs, npicked, recorded);
    for (int s = 0; s < DB_TRIAL_STATUS_COUNT; s++)
      printf("%s\"%s\":%zu", s ? "," : "", db_trial_status_name((enum db_trial_status)s), counts[s]);
    printf("},\"reference\":");
    json_write_str(stdout, ref_text);
    if (nok) {
      printf(",\"best\":{\"config\":");
      json_write_str(stdout, br.variants[best_i].config_text);
      printf(",\"time_median_us\":%.17g,\"vs_reference\":%.17g", outc[best_i].median_us,
             outc[0].status == DB_TRIAL_OK ? outc[0].median_us / outc[best_i].median_us : 0.0);
      if (ap)
        printf(",\"tflops\":%.6g", attn_flops(ap) / (outc[best_i].median_us * 1e-6) / 1e12);
      printf("}");
    }
    printf(",\"run\":\"%s\",\"resumed\":%s,\"trials_resumed\":%zu}\n", run_uuid,
           rsm.uuid[0] ? "true" : "false", rs.recalled);
  } else {
    printf("%s on %s (%s): %zu valid configs, %zu compiled, %zu run (%s):", t->kernel,
           c.dev->name, c.dev->vendor == DEV_HOST ? "host CPU, emulated" : c.dev->arch, nconfigs,
           npicked, nmeasured, search_strategy_name(strategy));
    for (int s = 0; s < DB_TRIAL_STATUS_COUNT; s++)
      if (counts[s])
        printf(" %zu %s", counts[s], db_trial_status_name((enum db_trial_status)s));
    printf("\n  reference %s", ref_text);
    if (outc[0].status == DB_TRIAL_OK)
      printf(": %.4g us\n", outc[0].median_us);
    else
      printf(": %s (%s)\n", db_trial_status_name((enum db_trial_status)outc[0].status),
             outc[0].message);
    if (nok) {
      printf("  best      %s: %.4g us, %.2fx the reference", br.variants[best_i].config_text,
             outc[best_i].median_us,
             outc[0].status == DB_TRIAL_OK ? outc[0].median_us / outc[best_i].median_us : 0.0);
      if (ap)
        printf(", %.4g TFLOP/s%s", attn_flops(ap) / (outc[best_i].median_us * 1e-6) / 1e12,
               c.dev->vendor == DEV_HOST ? " (of the emulation)" : "");
      printf("\n");
    }
    printf("run %s%s in %s: %zu trials recorded", run_uuid, rsm.uuid[0] ? " (resumed)" : "",
           dbpath, recorded - (rs.recalled > recorded ? recorded : rs.recalled));
    if (rs.recalled)
      printf(", %zu recalled from the resumed run", rs.recalled);
    printf("\n");
  }
  if (ap) { /* each variant was checked against the op: the run failed if none passed */
    if (!nok)
      cli_error("no variant of %s computed attention correctly here (see the trials' "
                "messages: autotune db export)", t->kernel);
    code = nok ? CLI_OK : CLI_FAILED;
    goto done;
  }
  if (outc[0].status != DB_TRIAL_OK)
    cli_error("the reference config %s failed (%s): nothing else could be checked; give a "
              "working one with --reference", ref_text,
              db_trial_status_name((enum db_trial_status)outc[0].status));
  code = outc[0].status == DB_TRIAL_OK ? CLI_OK : CLI_FAILED;
done:
  attn_data_release(&adata);
  resume_release(&rsm);
  if (shm != MAP_FAILED)
    munmap(shm, shm_size);
  free(outc);
  free(ref_out);
  free(c.inputs);
  db_close(db);
  bld_result_release(&br);
  free(picked);
  free(configs);
  gen_space_free(space);
  tmpl_free(t);
  free(pos);
  free(rest);
  return code;
}

int cmd_tune(int argc, char **argv)
{
  return tune_any_run(argc, argv, NULL);
}
