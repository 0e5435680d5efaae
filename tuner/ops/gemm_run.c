/*
 * gemm_run.c - one GEMM variant run once for one problem on any measurement backend,
 * and checked (gemm_run.h): device buffers for A, B and C, C reset to the problem's C0
 * before every launch (so padding and NaN poison are fresh each time), the kernel called
 * with the contract's arguments (A, B, C, M, N, K, lda, ldb, ldc, alpha, beta; kinds
 * GEMM_ARG_KINDS, then the workspace for a template that declares one, then the tensor
 * maps the variant's launch names: a template's `tensormap` pragmas over A, B or C, built
 * by the backend, kind 'm'), and C read back for gemm_check. It also owns the workspace
 * of both ops (struct run_workspace).
 */
#include "tuner/ops/gemm_run.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

int gemm_buffers_init(const struct meas_backend *mb, struct meas_ctx *ctx,
                      const struct gemm_data *d, struct gemm_buffers *buf)
{
  if (buf)
    memset(buf, 0, sizeof *buf);
  if (!mb || !ctx || !d || !buf || !d->a || !d->b || !d->c0)
    return at_error(AT_USAGE, "gemm_buffers_init: NULL argument");
  size_t es = gemm_dtype_size(d->p.dtype);
  buf->a_bytes = gemm_a_elems(&d->p) * es;
  buf->b_bytes = gemm_b_elems(&d->p) * es;
  buf->c_bytes = gemm_c_elems(&d->p) * es;
  int rc;
  if ((rc = mb->alloc(ctx, buf->a_bytes, &buf->a)) != AT_OK ||
      (rc = mb->alloc(ctx, buf->b_bytes, &buf->b)) != AT_OK ||
      (rc = mb->alloc(ctx, buf->c_bytes, &buf->c)) != AT_OK ||
      (rc = mb->upload(ctx, buf->a, d->a, buf->a_bytes)) != AT_OK ||
      (rc = mb->upload(ctx, buf->b, d->b, buf->b_bytes)) != AT_OK) {
    gemm_buffers_release(mb, ctx, buf);
    return rc;
  }
  return AT_OK;
}

void gemm_buffers_release(const struct meas_backend *mb, struct meas_ctx *ctx,
                          struct gemm_buffers *buf)
{
  if (!mb || !ctx || !buf)
    return;
  if (buf->a)
    mb->free(ctx, buf->a);
  if (buf->b)
    mb->free(ctx, buf->b);
  if (buf->c)
    mb->free(ctx, buf->c);
  run_workspace_release(mb, ctx, &buf->ws);
  memset(buf, 0, sizeof *buf);
}

/* Upload zeros over the first `bytes` of the workspace. */
static int ws_zero(const struct meas_backend *mb, struct meas_ctx *ctx, meas_ptr p,
                   size_t bytes)
{
  void *z = calloc(1, bytes);
  if (!z)
    return at_error(AT_NOMEM, "out of memory zeroing a workspace of %zu bytes", bytes);
  int rc = mb->upload(ctx, p, z, bytes);
  free(z);
  return rc;
}

int run_workspace_reserve(const struct meas_backend *mb, struct meas_ctx *ctx,
                          struct run_workspace *ws, const struct gen_launch *l)
{
  if (!l->has_workspace || l->workspace <= 0 || (uint64_t)l->workspace <= ws->bytes)
    return AT_OK;
  if ((uint64_t)l->workspace > SIZE_MAX / 2)
    return at_error(AT_USAGE, "workspace of %lld bytes is too large", (long long)l->workspace);
  run_workspace_release(mb, ctx, ws);
  size_t n = (size_t)l->workspace;
  meas_ptr p = 0;
  int rc = mb->alloc(ctx, n, &p);
  if (rc != AT_OK)
    return rc;
  if ((rc = ws_zero(mb, ctx, p, n)) != AT_OK) {
    mb->free(ctx, p);
    return rc;
  }
  ws->ptr = p;
  ws->bytes = n;
  return AT_OK;
}

int run_workspace_check(const struct meas_backend *mb, struct meas_ctx *ctx,
                        const struct run_workspace *ws, const struct gen_launch *l,
                        int64_t *bad, char *msg, size_t msg_len)
{
  if (!l->has_workspace || !ws->ptr)
    return AT_OK;
  unsigned char *h = malloc(ws->bytes);
  if (!h)
    return at_error(AT_NOMEM, "out of memory reading a workspace of %zu bytes", ws->bytes);
  int rc = mb->download(ctx, h, ws->ptr, ws->bytes);
  size_t i = 0;
  while (rc == AT_OK && i < ws->bytes && h[i] == 0)
    i++;
  free(h);
  if (rc != AT_OK || i == ws->bytes)
    return rc;
  if (*bad == 0 && msg && msg_len)
    snprintf(msg, msg_len, "workspace not left zero (first non-zero byte at %zu)", i);
  *bad += 1;
  return ws_zero(mb, ctx, ws->ptr, ws->bytes);
}

void run_workspace_release(const struct meas_backend *mb, struct meas_ctx *ctx,
                           struct run_workspace *ws)
{
  if (ws->ptr)
    mb->free(ctx, ws->ptr);
  ws->ptr = 0;
  ws->bytes = 0;
}

static int fits_u32(int64_t v, int64_t hi)
{
  return v >= 1 && v <= hi;
}

int run_launch_init(struct meas_launch *ml, meas_kernel k, const struct gen_launch *l,
                    void **args, const char *kinds, const char *who)
{
  for (int i = 0; i < 3; i++)
    if (!fits_u32(l->threads[i], 1024) || !fits_u32(l->grid[i], UINT_MAX))
      return at_error(AT_USAGE, "%s: launch shape out of range (block %lld x %lld x %lld, "
                      "grid %lld x %lld x %lld)", who, (long long)l->threads[0],
                      (long long)l->threads[1], (long long)l->threads[2],
                      (long long)l->grid[0], (long long)l->grid[1], (long long)l->grid[2]);
  if (l->shared < 0 || l->shared > UINT_MAX)
    return at_error(AT_USAGE, "%s: shared bytes out of range (%lld)", who,
                    (long long)l->shared);
  *ml = (struct meas_launch){.kernel = k, .shared_bytes = (unsigned)l->shared, .args = args,
                             .arg_kinds = kinds};
  for (int i = 0; i < 3; i++) {
    ml->grid[i] = (unsigned)l->grid[i];
    ml->block[i] = (unsigned)l->threads[i];
    ml->cluster[i] = l->cluster[i] > 1 ? (unsigned)l->cluster[i] : 1;
  }
  return AT_OK;
}

/* Operand `name` of the problem as a matrix of rows x contiguous cols, ld apart: A is
 * M x K ('N') or K x M ('T'), B is K x N or N x K, C is M x N. */
struct gemm_view_ctx {
  const struct gemm_problem *p;
  const meas_ptr *abc;
};

static int operand_view(const void *vctx, const char *name, struct meas_tmap *t)
{
  const struct gemm_view_ctx *c = vctx;
  const struct gemm_problem *p = c->p;
  if (strcmp(name, "A") == 0) {
    t->base = c->abc[0], t->ld = p->lda;
    t->rows = p->ta ? p->k : p->m, t->cols = p->ta ? p->m : p->k;
  } else if (strcmp(name, "B") == 0) {
    t->base = c->abc[1], t->ld = p->ldb;
    t->rows = p->tb ? p->n : p->k, t->cols = p->tb ? p->k : p->n;
  } else if (strcmp(name, "C") == 0) {
    t->base = c->abc[2], t->ld = p->ldc, t->rows = p->m, t->cols = p->n;
  } else {
    return at_error(AT_USAGE, "tensormap '%.32s' names no GEMM operand (A, B or C)", name);
  }
  return AT_OK;
}

int run_tmaps(const struct meas_backend *mb, struct meas_ctx *ctx, const struct gen_launch *l,
              unsigned elem_bytes, run_tmap_view view, const void *view_ctx,
              const char *base_kinds, meas_ptr *ws, struct gemm_tmap_set *set, void **args,
              char *kinds)
{
  if (l->ntmaps < 0 || l->ntmaps > GEN_MAX_TMAPS)
    return at_error(AT_USAGE, "%d tensor maps (at most %d)", l->ntmaps, GEN_MAX_TMAPS);
  int n = (int)strlen(base_kinds);
  memcpy(kinds, base_kinds, (size_t)n);
  if (l->has_workspace) {
    args[n] = ws;
    kinds[n++] = 'p';
  }
  for (int i = 0; i < l->ntmaps; i++) {
    const struct gen_tmap *g = &l->tmaps[i];
    struct meas_tmap t = {.elem_bytes = elem_bytes,
                          .box = {(unsigned)g->box[0], (unsigned)g->box[1]},
                          .swizzle = (unsigned)g->swizzle};
    int rc = view(view_ctx, g->param, &t);
    if (rc == AT_OK && (rc = meas_tmap_encode(mb, ctx, &t, set->maps[i])) != AT_OK)
      rc = at_error(rc, "tensor map over %s: %s", g->param, at_last_error());
    if (rc != AT_OK)
      return rc;
    args[n] = set->maps[i];
    kinds[n++] = 'm';
  }
  kinds[n] = '\0';
  return AT_OK;
}

int gemm_tmaps(const struct meas_backend *mb, struct meas_ctx *ctx, const struct gen_launch *l,
               const struct gemm_problem *p, const meas_ptr *abc, meas_ptr *ws,
               struct gemm_tmap_set *set, void **args, char *kinds)
{
  const struct gemm_view_ctx c = {p, abc};
  int rc = run_tmaps(mb, ctx, l, (unsigned)gemm_dtype_size(p->dtype), operand_view, &c,
                     GEMM_ARG_KINDS, ws, set, args, kinds);
  return rc == AT_OK ? rc : at_error(rc, "gemm: %s", at_last_error());
}

int gemm_launch(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct gemm_data *d,
                struct gemm_buffers *buf, void *c_out)
{
  if (!mb || !ctx || !k || !l || !d || !buf || !c_out || !buf->c)
    return at_error(AT_USAGE, "gemm_launch: NULL argument");
  const struct gemm_problem *p = &d->p;
  int rc = run_workspace_reserve(mb, ctx, &buf->ws, l);
  if (rc != AT_OK)
    return rc;
  /* gemm_data_init checked that these fit an int */
  meas_ptr a = buf->a, b = buf->b, c = buf->c, ws = buf->ws.ptr;
  int m = (int)p->m, n = (int)p->n, kk = (int)p->k;
  int lda = (int)p->lda, ldb = (int)p->ldb, ldc = (int)p->ldc;
  float alpha = p->alpha, beta = p->beta;
  void *args[GEMM_NARGS + 1 + GEN_MAX_TMAPS] = {&a, &b, &c, &m, &n, &kk, &lda, &ldb, &ldc,
                                                &alpha, &beta};
  struct gemm_tmap_set maps;
  char kinds[GEMM_NARGS + 1 + GEN_MAX_TMAPS + 1];
  const meas_ptr abc[3] = {a, b, c};
  struct meas_launch ml;
  rc = gemm_tmaps(mb, ctx, l, p, abc, &ws, &maps, args, kinds);
  if (rc == AT_OK)
    rc = run_launch_init(&ml, k, l, args, kinds, "gemm_launch");
  ml.arg_names = GEMM_ARG_NAMES ",WS";
  if (rc != AT_OK || (rc = mb->upload(ctx, buf->c, d->c0, buf->c_bytes)) != AT_OK)
    return rc;
  if ((rc = mb->launch(ctx, &ml)) != AT_OK || (rc = mb->sync(ctx)) != AT_OK)
    return rc;
  return mb->download(ctx, c_out, buf->c, buf->c_bytes);
}

int gemm_verify(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct gemm_data *d,
                struct gemm_buffers *buf, int64_t *bad, char *msg, size_t msg_len)
{
  if (bad)
    *bad = 0;
  if (msg && msg_len)
    msg[0] = '\0';
  if (!d || !bad)
    return at_error(AT_USAGE, "gemm_verify: NULL argument");
  void *c = malloc(gemm_c_elems(&d->p) * gemm_dtype_size(d->p.dtype));
  if (!c)
    return at_error(AT_NOMEM, "out of memory");
  int rc = gemm_launch(mb, ctx, k, l, d, buf, c);
  if (rc == AT_OK)
    rc = gemm_check(d, c, bad, msg, msg_len);
  if (rc == AT_OK)
    rc = run_workspace_check(mb, ctx, &buf->ws, l, bad, msg, msg_len);
  free(c);
  return rc;
}

/* ---- the measurement worker's side of the gemm op (worker.h) ---- */

struct gemm_wstate {
  const struct gemm_data *d;
  struct gemm_buffers buf;
  struct gemm_problem p;       /* resolved */
  meas_ptr a, b, c;
  meas_ptr ws;                 /* buf.ws.ptr as of the last verify */
  int m, n, k, lda, ldb, ldc;
  float alpha, beta;
  /* args and kinds of the last verified launch: the worker verifies each job before it
   * times it (worker.c), so a timed launch carries its own workspace and tensor maps */
  struct gemm_tmap_set maps;
  void *args[GEMM_NARGS + 1 + GEN_MAX_TMAPS];
  char kinds[GEMM_NARGS + 1 + GEN_MAX_TMAPS + 1];
};

static int gemm_w_setup(const void *ctx, const struct meas_backend *mb, struct meas_ctx *mc,
                        void **state)
{
  const struct gemm_data *d = ctx;
  struct gemm_wstate *s = calloc(1, sizeof *s);
  if (!s)
    return at_error(AT_NOMEM, "out of memory");
  int rc = gemm_buffers_init(mb, mc, d, &s->buf);
  if (rc != AT_OK) {
    free(s);
    return rc;
  }
  s->d = d;
  s->p = d->p;
  gemm_problem_resolve(&s->p);
  s->a = s->buf.a, s->b = s->buf.b, s->c = s->buf.c;
  s->m = (int)s->p.m, s->n = (int)s->p.n, s->k = (int)s->p.k;
  s->lda = (int)s->p.lda, s->ldb = (int)s->p.ldb, s->ldc = (int)s->p.ldc;
  s->alpha = s->p.alpha, s->beta = s->p.beta;
  void *args[] = {&s->a, &s->b, &s->c, &s->m, &s->n, &s->k, &s->lda, &s->ldb, &s->ldc,
                  &s->alpha, &s->beta};
  memcpy(s->args, args, sizeof args);
  memcpy(s->kinds, GEMM_ARG_KINDS, sizeof GEMM_ARG_KINDS);
  *state = s;
  return AT_OK;
}

static void gemm_w_release(void *state, const struct meas_backend *mb, struct meas_ctx *mc)
{
  struct gemm_wstate *s = state;
  if (!s)
    return;
  gemm_buffers_release(mb, mc, &s->buf);
  free(s);
}

static void gemm_w_args(void *state, void ***args, const char **kinds)
{
  struct gemm_wstate *s = state;
  *args = s->args;
  *kinds = s->kinds;
}

static int gemm_w_verify(void *state, const struct meas_backend *mb, struct meas_ctx *mc,
                         meas_kernel k, const struct gen_launch *l, bool reference, int64_t *bad,
                         char *msg, size_t msg_len)
{
  struct gemm_wstate *s = state;
  (void)reference; /* the op's own reference checks every config */
  int rc = gemm_verify(mb, mc, k, l, s->d, &s->buf, bad, msg, msg_len);
  s->ws = s->buf.ws.ptr;
  if (rc != AT_OK)
    return rc;
  const meas_ptr abc[3] = {s->a, s->b, s->c};
  return gemm_tmaps(mb, mc, l, &s->p, abc, &s->ws, &s->maps, s->args, s->kinds);
}

const struct meas_op gemm_meas_op = {
    /* .name = */ "gemm",
    /* .setup = */ gemm_w_setup,
    /* .release = */ gemm_w_release,
    /* .args = */ gemm_w_args,
    /* .verify = */ gemm_w_verify,
};
