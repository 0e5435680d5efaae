/*
 * gemm_run.c - one GEMM variant run once for one problem on any measurement backend,
 * and checked (gemm_run.h): device buffers for A, B and C, C reset to the problem's C0
 * before every launch (so padding and NaN poison are fresh each time), the kernel called
 * with the contract's arguments (A, B, C, M, N, K, lda, ldb, ldc, alpha, beta; kinds
 * GEMM_ARG_KINDS, and the workspace last for a template that declares one), and C read
 * back for gemm_check. It also owns the workspace of both ops (struct run_workspace).
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
  }
  return AT_OK;
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
  void *args[] = {&a, &b, &c, &m, &n, &kk, &lda, &ldb, &ldc, &alpha, &beta, &ws};
  struct meas_launch ml;
  rc = run_launch_init(&ml, k, l, args, l->has_workspace ? GEMM_ARG_KINDS "p" : GEMM_ARG_KINDS,
                       "gemm_launch");
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
  int has_ws;                  /* the last verified variant takes a workspace: the timed
                                  launches that follow its verify are of the same variant */
  int m, n, k, lda, ldb, ldc;
  float alpha, beta;
  void *args[12];
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
                  &s->alpha, &s->beta, &s->ws};
  memcpy(s->args, args, sizeof args);
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
  *kinds = s->has_ws ? GEMM_ARG_KINDS "p" : GEMM_ARG_KINDS;
}

static int gemm_w_verify(void *state, const struct meas_backend *mb, struct meas_ctx *mc,
                         meas_kernel k, const struct gen_launch *l, bool reference, int64_t *bad,
                         char *msg, size_t msg_len)
{
  struct gemm_wstate *s = state;
  (void)reference; /* the op's own reference checks every config */
  int rc = gemm_verify(mb, mc, k, l, s->d, &s->buf, bad, msg, msg_len);
  s->has_ws = l->has_workspace;
  s->ws = s->buf.ws.ptr;
  return rc;
}

const struct meas_op gemm_meas_op = {
    /* .name = */ "gemm",
    /* .setup = */ gemm_w_setup,
    /* .release = */ gemm_w_release,
    /* .args = */ gemm_w_args,
    /* .verify = */ gemm_w_verify,
};
