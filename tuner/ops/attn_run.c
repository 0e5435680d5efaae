/*
 * attn_run.c - one attention variant run once for one problem on any measurement
 * backend, and checked (attn_run.h): the block table uploaded once, O reset to NaN and
 * LSE (when the problem asks for it) filled with NaN before every launch, the kernel
 * called with the contract's arguments (kinds ATTN_ARG_KINDS, and the workspace last for
 * a template that declares one, then the tensor maps of a template that declares them:
 * run_tmaps over attn_view's matrices), O and LSE read back for attn_check.
 */
#include "tuner/ops/attn_run.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/ops/gemm_run.h"
#include "base/status.h"

int attn_buffers_init(const struct meas_backend *mb, struct meas_ctx *ctx,
                      const struct attn_data *d, struct attn_buffers *buf)
{
  if (buf)
    memset(buf, 0, sizeof *buf);
  if (!mb || !ctx || !d || !buf || !d->q || !d->k || !d->v || !d->o0 || (d->p.paged && !d->bt))
    return at_error(AT_USAGE, "attn_buffers_init: NULL argument");
  size_t es = gemm_dtype_size(d->p.dtype);
  buf->q_bytes = attn_q_elems(&d->p) * es;
  buf->kv_bytes = attn_kv_elems(&d->p) * es;
  buf->lse_bytes = d->p.lse ? attn_lse_elems(&d->p) * sizeof(float) : 0;
  buf->bt_bytes = attn_bt_elems(&d->p) * sizeof *d->bt;
  int rc;
  if ((rc = mb->alloc(ctx, buf->q_bytes, &buf->q)) != AT_OK ||
      (rc = mb->alloc(ctx, buf->kv_bytes, &buf->k)) != AT_OK ||
      (rc = mb->alloc(ctx, buf->kv_bytes, &buf->v)) != AT_OK ||
      (rc = mb->alloc(ctx, buf->q_bytes, &buf->o)) != AT_OK ||
      (buf->lse_bytes && (rc = mb->alloc(ctx, buf->lse_bytes, &buf->lse)) != AT_OK) ||
      (buf->bt_bytes && (rc = mb->alloc(ctx, buf->bt_bytes, &buf->bt)) != AT_OK) ||
      (rc = mb->upload(ctx, buf->q, d->q, buf->q_bytes)) != AT_OK ||
      (rc = mb->upload(ctx, buf->k, d->k, buf->kv_bytes)) != AT_OK ||
      (rc = mb->upload(ctx, buf->v, d->v, buf->kv_bytes)) != AT_OK ||
      (buf->bt_bytes && (rc = mb->upload(ctx, buf->bt, d->bt, buf->bt_bytes)) != AT_OK)) {
    attn_buffers_release(mb, ctx, buf);
    return rc;
  }
  return AT_OK;
}

void attn_buffers_release(const struct meas_backend *mb, struct meas_ctx *ctx,
                          struct attn_buffers *buf)
{
  if (!mb || !ctx || !buf)
    return;
  meas_ptr *p[] = {&buf->q, &buf->k, &buf->v, &buf->o, &buf->lse, &buf->bt};
  for (int i = 0; i < 6; i++)
    if (*p[i])
      mb->free(ctx, *p[i]);
  run_workspace_release(mb, ctx, &buf->ws);
  memset(buf, 0, sizeof *buf);
}

/* LSE as the kernel finds it: NaN everywhere, so a row it does not write shows. */
static int lse_poison(const struct meas_backend *mb, struct meas_ctx *ctx,
                      const struct attn_buffers *buf)
{
  if (!buf->lse)
    return AT_OK;
  size_t n = buf->lse_bytes / sizeof(float);
  float *nan_ = malloc(buf->lse_bytes);
  if (!nan_)
    return at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    nan_[i] = NAN;
  int rc = mb->upload(ctx, buf->lse, nan_, buf->lse_bytes);
  free(nan_);
  return rc;
}

/* A tensor map's matrix (run_tmaps): Q and O as their B H SQ rows of D columns, K and V
 * as their B HKV SK rows (paged: the pool's pages * ATTN_PAGE * HKV rows), rows D
 * elements apart. */
struct attn_view_ctx {
  const struct attn_problem *p;
  const struct attn_buffers *buf;
};

static int attn_view(const void *vctx, const char *name, struct meas_tmap *t)
{
  const struct attn_view_ctx *c = vctx;
  const struct attn_problem *p = c->p;
  t->cols = p->d, t->ld = p->d;
  if (strcmp(name, "Q") == 0 || strcmp(name, "O") == 0) {
    t->base = name[0] == 'Q' ? c->buf->q : c->buf->o;
    t->rows = p->batch * p->heads * p->sq;
  } else if (strcmp(name, "K") == 0 || strcmp(name, "V") == 0) {
    t->base = name[0] == 'K' ? c->buf->k : c->buf->v;
    t->rows = (int64_t)(attn_kv_elems(p) / (size_t)p->d);
  } else {
    return at_error(AT_USAGE, "tensormap '%.32s' names no attention tensor (Q, K, V or O)",
                    name);
  }
  return AT_OK;
}

/* The arguments after the contract's (run_tmaps): the workspace, then the maps. */
static int attn_tmaps(const struct meas_backend *mb, struct meas_ctx *ctx,
                      const struct gen_launch *l, const struct attn_data *d,
                      const struct attn_buffers *buf, meas_ptr *ws, struct gemm_tmap_set *set,
                      void **args, char *kinds)
{
  const struct attn_view_ctx c = {&d->p, buf};
  int rc = run_tmaps(mb, ctx, l, (unsigned)gemm_dtype_size(d->p.dtype), attn_view, &c,
                     ATTN_ARG_KINDS, ws, set, args, kinds);
  return rc == AT_OK ? rc : at_error(rc, "attention: %s", at_last_error());
}

int attn_launch(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct attn_data *d,
                struct attn_buffers *buf, void *o_out, float *lse_out)
{
  if (!mb || !ctx || !k || !l || !d || !buf || !o_out || !buf->o || (buf->lse && !lse_out))
    return at_error(AT_USAGE, "attn_launch: NULL argument");
  const struct attn_problem *p = &d->p; /* attn_data_init checked that these fit an int */
  int rc = run_workspace_reserve(mb, ctx, &buf->ws, l);
  if (rc != AT_OK)
    return rc;
  meas_ptr q = buf->q, kk = buf->k, v = buf->v, o = buf->o, lse = buf->lse, bt = buf->bt;
  meas_ptr ws = buf->ws.ptr;
  int b = (int)p->batch, h = (int)p->heads, hkv = (int)p->hkv, sq = (int)p->sq;
  int sk = (int)p->sk;
  float scale = p->scale;
  void *args[ATTN_NARGS + 1 + GEN_MAX_TMAPS] = {&q,   &kk, &v,  &o,  &lse, &bt,
                                                &b,   &h,  &hkv, &sq, &sk, &scale};
  char kinds[ATTN_NARGS + 1 + GEN_MAX_TMAPS + 1];
  struct gemm_tmap_set maps;
  struct meas_launch ml;
  rc = attn_tmaps(mb, ctx, l, d, buf, &ws, &maps, args, kinds);
  if (rc == AT_OK)
    rc = run_launch_init(&ml, k, l, args, kinds, "attn_launch");
  ml.arg_names = ATTN_ARG_NAMES ",WS";
  if (rc != AT_OK || (rc = mb->upload(ctx, buf->o, d->o0, buf->q_bytes)) != AT_OK ||
      (rc = lse_poison(mb, ctx, buf)) != AT_OK)
    return rc;
  if ((rc = mb->launch(ctx, &ml)) != AT_OK || (rc = mb->sync(ctx)) != AT_OK)
    return rc;
  if ((rc = mb->download(ctx, o_out, buf->o, buf->q_bytes)) != AT_OK)
    return rc;
  return buf->lse ? mb->download(ctx, lse_out, buf->lse, buf->lse_bytes) : AT_OK;
}

int attn_verify(const struct meas_backend *mb, struct meas_ctx *ctx, meas_kernel k,
                const struct gen_launch *l, const struct attn_data *d,
                struct attn_buffers *buf, int64_t *bad, char *msg, size_t msg_len)
{
  if (bad)
    *bad = 0;
  if (msg && msg_len)
    msg[0] = '\0';
  if (!d || !bad || !buf)
    return at_error(AT_USAGE, "attn_verify: NULL argument");
  void *o = malloc(attn_q_elems(&d->p) * gemm_dtype_size(d->p.dtype));
  float *lse = buf->lse ? malloc(buf->lse_bytes) : NULL;
  int rc = AT_OK;
  if (!o || (buf->lse && !lse))
    rc = at_error(AT_NOMEM, "out of memory");
  if (rc == AT_OK)
    rc = attn_launch(mb, ctx, k, l, d, buf, o, lse);
  if (rc == AT_OK)
    rc = attn_check(d, o, lse, bad, msg, msg_len);
  if (rc == AT_OK)
    rc = run_workspace_check(mb, ctx, &buf->ws, l, bad, msg, msg_len);
  free(o);
  free(lse);
  return rc;
}

/* ---- the measurement worker's side of the attention op (worker.h) ---- */

struct attn_wstate {
  const struct attn_data *d;
  struct attn_buffers buf;
  meas_ptr q, k, v, o, lse, bt;
  meas_ptr ws;                 /* buf.ws.ptr as of the last verify */
  int b, h, hkv, sq, sk;
  float scale;
  /* args and kinds of the last verified launch: the worker verifies each job before it
   * times it (worker.c), so a timed launch carries its own workspace and tensor maps */
  struct gemm_tmap_set maps;
  void *args[ATTN_NARGS + 1 + GEN_MAX_TMAPS];
  char kinds[ATTN_NARGS + 1 + GEN_MAX_TMAPS + 1];
};

static int attn_w_setup(const void *ctx, const struct meas_backend *mb, struct meas_ctx *mc,
                        void **state)
{
  const struct attn_data *d = ctx;
  struct attn_wstate *s = calloc(1, sizeof *s);
  if (!s)
    return at_error(AT_NOMEM, "out of memory");
  int rc = attn_buffers_init(mb, mc, d, &s->buf);
  if (rc != AT_OK) {
    free(s);
    return rc;
  }
  s->d = d;
  s->q = s->buf.q, s->k = s->buf.k, s->v = s->buf.v, s->o = s->buf.o;
  s->lse = s->buf.lse, s->bt = s->buf.bt;
  s->b = (int)d->p.batch, s->h = (int)d->p.heads, s->hkv = (int)d->p.hkv;
  s->sq = (int)d->p.sq, s->sk = (int)d->p.sk;
  s->scale = d->p.scale;
  void *args[] = {&s->q, &s->k,   &s->v,  &s->o,  &s->lse, &s->bt,
                  &s->b, &s->h,   &s->hkv, &s->sq, &s->sk, &s->scale};
  memcpy(s->args, args, sizeof args);
  memcpy(s->kinds, ATTN_ARG_KINDS, sizeof ATTN_ARG_KINDS);
  *state = s;
  return AT_OK;
}

static void attn_w_release(void *state, const struct meas_backend *mb, struct meas_ctx *mc)
{
  struct attn_wstate *s = state;
  if (!s)
    return;
  attn_buffers_release(mb, mc, &s->buf);
  free(s);
}

static void attn_w_args(void *state, void ***args, const char **kinds)
{
  struct attn_wstate *s = state;
  *args = s->args;
  *kinds = s->kinds;
}

static int attn_w_verify(void *state, const struct meas_backend *mb, struct meas_ctx *mc,
                         meas_kernel k, const struct gen_launch *l, bool reference, int64_t *bad,
                         char *msg, size_t msg_len)
{
  struct attn_wstate *s = state;
  (void)reference; /* the op's own reference checks every config */
  int rc = attn_verify(mb, mc, k, l, s->d, &s->buf, bad, msg, msg_len);
  s->ws = s->buf.ws.ptr;
  if (rc != AT_OK)
    return rc;
  return attn_tmaps(mb, mc, l, s->d, &s->buf, &s->ws, &s->maps, s->args, s->kinds);
}

const struct meas_op attn_meas_op = {
    /* .name = */ "attention",
    /* .setup = */ attn_w_setup,
    /* .release = */ attn_w_release,
    /* .args = */ attn_w_args,
    /* .verify = */ attn_w_verify,
};
