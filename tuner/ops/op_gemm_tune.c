/*
 * op_gemm_tune.c - the gemm op as the tuning engine runs it (op_iface.h, gemm_tune.h):
 * problems from --m/--n/--k or a --shapes file (read by tuner/ops/shapes.h), the
 * templates of templates/gemm/ with gemm_naive as the baseline, the template dims M, N,
 * K, TA, TB, inputs and the check of op_gemm.h (through gemm_meas_op), FLOPs and bytes,
 * and a roofline cost model for the model strategy.
 */
#include "tuner/ops/gemm_tune.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/status.h"
#include "tuner/ops/gemm_run.h"
#include "tuner/ops/shapes.h"

struct gemm_shape {
  int64_t m, n, k;
};

struct gemm_tune {
  struct gemm_tune_args args;
  const char *dtype, *layout;   /* resolved */
  enum gemm_dtype gdt;
  int ta, tb;
  struct gemm_shape shapes[OP_MAX_PROBLEMS];
  size_t nshapes;
  /* the bound problem */
  struct gemm_problem gp;
  struct gemm_data data;
  char layout_buf[8];
};

/* ---- shapes ---- */

static int check_dim(const char *what, int64_t v)
{
  if (v < 1 || v > INT32_MAX)
    return at_error(AT_USAGE, "bad shape: %s is %" PRId64 " (expected 1..%d)", what, v,
                    INT32_MAX);
  return AT_OK;
}

static int collect_shapes(struct gemm_tune *g)
{
  const struct gemm_tune_args *o = &g->args;
  int rc;
  if (o->shapes_file) {
    if (o->m || o->n || o->k)
      return at_error(AT_USAGE, "give --m/--n/--k or --shapes, not both");
    /* plain or captured lines (shapes.h); gemm tunes their M, N, K in its one dtype and
     * layout, each distinct M, N, K once */
    struct shape_list sl;
    if ((rc = shapes_read(o->shapes_file, &sl)) != AT_OK)
      return rc;
    for (size_t i = 0; i < sl.n && rc == AT_OK; i++) {
      const struct gemm_shape s = {sl.recs[i].m, sl.recs[i].n, sl.recs[i].k};
      bool seen = false;
      for (size_t j = 0; j < g->nshapes && !seen; j++)
        seen = g->shapes[j].m == s.m && g->shapes[j].n == s.n && g->shapes[j].k == s.k;
      if (seen)
        continue;
      if (g->nshapes >= OP_MAX_PROBLEMS)
        rc = at_error(AT_USAGE, "%.200s: more than %d shapes", o->shapes_file,
                      OP_MAX_PROBLEMS);
      else
        g->shapes[g->nshapes++] = s;
    }
    shapes_release(&sl);
    return rc;
  }
  if (!o->m || !o->n || !o->k)
    return at_error(AT_USAGE, "gemm needs --m, --n and --k (or --shapes FILE); try "
                    "'autotune gemm --help'");
  if ((rc = check_dim("--m", o->m)) || (rc = check_dim("--n", o->n)) ||
      (rc = check_dim("--k", o->k)))
    return rc;
  g->shapes[g->nshapes++] = (struct gemm_shape){o->m, o->n, o->k};
  return AT_OK;
}

/* ---- the model ---- */

static int64_t param_value(const struct tmpl *t, const int64_t *cfg, const char *const *names)
{
  for (size_t i = 0; names[i]; i++)
    for (size_t j = 0; j < t->nparams; j++)
      if (strcmp(t->params[j].name, names[i]) == 0)
        return cfg[j];
  return 0;
}

/*
 * Predicted time (us) of a variant: the GEMM's padded work over an attainable rate.
 * Tile (BM x BN x BK, or the grid's share of C) gives the tile efficiency (useful / padded
 * work) and the arithmetic intensity (2 BM BN BK flops per (BM + BN) BK elements loaded);
 * the roofline gives min(peak, AI x bandwidth); the grid over CUs x resident blocks gives
 * the wave quantization; occupancy below 25% hides latency less. On the host (no peak) a
 * nominal CPU rate and a per-GPU-thread-per-k-step emulation cost stand in: the ranking,
 * not the absolute number, is what the model strategy uses.
 */
static double gemm_model(const struct op_engine *op, size_t i, const struct tmpl *tp,
                         const int64_t *cfg, const struct gen_launch *launch,
                         const struct occ_result *occ, const struct dev_profile *d, bool host)
{
  const struct gemm_tune *g = op->priv;
  static const char *const bm_n[] = {"BM", "BLOCK_M", "TILE_M", "MT", NULL};
  static const char *const bn_n[] = {"BN", "BLOCK_N", "TILE_N", "NT", NULL};
  static const char *const bk_n[] = {"BK", "BLOCK_K", "TILE_K", "KT", NULL};
  const struct gemm_shape *s = &g->shapes[i];
  double blocks = (double)(launch->grid[0] * launch->grid[1] * launch->grid[2]);
  double threads = (double)(launch->threads[0] * launch->threads[1] * launch->threads[2]);
  double bm = (double)param_value(tp, cfg, bm_n), bn = (double)param_value(tp, cfg, bn_n);
  double bk = (double)param_value(tp, cfg, bk_n);
  if (bm <= 0 || bn <= 0)
    bm = bn = sqrt((double)s->m * (double)s->n / (blocks > 0 ? blocks : 1));
  if (bk <= 0)
    bk = 8;
  double pm = ceil((double)s->m / bm) * bm, pn = ceil((double)s->n / bn) * bn;
  double flops = 2.0 * pm * pn * (double)s->k;
  double esz = (double)gemm_dtype_size(g->gdt);
  double ai = 2.0 * bm * bn * bk / ((bm + bn) * bk * esz);
  double peak = g->gdt == GEMM_F16 ? d->peak_tflops_f16
                : g->gdt == GEMM_BF16 ? d->peak_tflops_bf16 : d->peak_tflops_f32;
  double bw = d->mem_bandwidth_gbs * 1e9;
  if (host || peak <= 0 || bw <= 0) {
    peak = 1e-3 * (d->compute_units > 0 ? d->compute_units : 1); /* 1 GFLOP/s a core */
    bw = peak * 1e12 / 8.0;
  }
  double rate = fmin(peak * 1e12, ai * bw);
  int cus = d->compute_units > 0 ? d->compute_units : 1;
  int per_cu = host || !occ ? 1 : occ->blocks_per_cu > 0 ? occ->blocks_per_cu : 1;
  double slots = (double)cus * per_cu, waves = ceil(blocks / slots);
  double weff = blocks > 0 ? blocks / (waves * slots) : 1;
  double o = host || !occ ? 1 : occ->occupancy;
  double lat = 0.5 + 0.5 * fmin(1.0, o / 0.25);
  double t = flops / (rate * weff * lat) * 1e6;
  if (host) /* fiber switches: every GPU thread, every k-step */
    t += blocks * threads * ceil((double)s->k / bk) * 0.05 / cus;
  return t;
}


/* ---- the op ---- */

static int gemm_prepare(const struct op_engine *op, const struct dev_profile *space_dev)
{
  struct gemm_tune *g = op->priv;
  int rc;
  g->dtype = g->args.dtype ? g->args.dtype : space_dev->vendor == DEV_HOST ? "f32" : "f16";
  if ((rc = gemm_parse_dtype(g->dtype, &g->gdt)) != AT_OK)
    return rc;
  g->dtype = gemm_dtype_name(g->gdt);
  g->layout = g->args.layout ? g->args.layout : "NN";
  if ((rc = gemm_parse_layout(g->layout, &g->ta, &g->tb)) != AT_OK)
    return rc;
  g->layout = g->ta ? g->tb ? "TT" : "TN" : g->tb ? "NT" : "NN";
  g->nshapes = 0;
  if ((rc = collect_shapes(g)) != AT_OK)
    return rc;
  /* every problem checked now, as bind will make it: bad input before the run opens */
  for (size_t i = 0; i < g->nshapes; i++) {
    struct gemm_problem p = {.dtype = g->gdt, .ta = g->ta, .tb = g->tb, .m = g->shapes[i].m,
                             .n = g->shapes[i].n, .k = g->shapes[i].k};
    gemm_problem_resolve(&p);
    if ((rc = gemm_problem_check(&p)) != AT_OK)
      return rc;
  }
  return AT_OK;
}

static size_t gemm_nproblems(const struct op_engine *op)
{
  const struct gemm_tune *g = op->priv;
  return g->nshapes;
}

/* Whether a template of the default set is for this device and dtype: gemm_mma on
 * NVIDIA sm_80 and later with f16/bf16 (mma.sync has no f32 shape), gemm_mfma on AMD
 * CDNA, every other template (gemm_simt) everywhere (gemm_template_not_for). */
static const char *gemm_not_for(const struct op_engine *op, const char *name,
                                const struct dev_profile *space_dev)
{
  const struct gemm_tune *g = op->priv;
  return gemm_template_not_for(name, space_dev, g->gdt == GEMM_F32);
}

static bool gemm_fits(const struct op_engine *op, const struct tmpl *t, char *why, size_t len)
{
  (void)op;
  static const char *const need[] = {"M", "N", "K"};
  for (size_t d = 0; d < 3; d++) {
    bool found = false;
    for (size_t j = 0; j < t->ndims; j++)
      found |= strcasecmp(t->dims[j], need[d]) == 0;
    if (!found) {
      snprintf(why, len, "its problem has no dim %s (the gemm contract: problem M, N, K, TA, "
               "TB)", need[d]);
      return false;
    }
  }
  return true;
}

static void gemm_tmpl_dims(const struct op_engine *op, size_t i, const struct tmpl *t,
                           int64_t *dims)
{
  const struct gemm_tune *g = op->priv;
  const struct gemm_shape *s = &g->shapes[i];
  for (size_t j = 0; j < t->ndims; j++) {
    const char *d = t->dims[j];
    dims[j] = !strcasecmp(d, "M") ? s->m : !strcasecmp(d, "N") ? s->n
              : !strcasecmp(d, "K") ? s->k : !strcasecmp(d, "TA") ? g->ta
              : !strcasecmp(d, "TB") ? g->tb : 1;
  }
}

static const char *gemm_dtype_of(const struct op_engine *op)
{
  const struct gemm_tune *g = op->priv;
  return g->dtype;
}

static int gemm_bind(const struct op_engine *op, size_t i, const struct dev_profile *dev,
                     struct op_problem *out)
{
  struct gemm_tune *g = op->priv;
  const struct gemm_shape *s = &g->shapes[i];
  memset(out, 0, sizeof *out);
  g->gp = (struct gemm_problem){.dtype = g->gdt, .ta = g->ta, .tb = g->tb, .m = s->m,
                                .n = s->n, .k = s->k, .alpha = 1.0f, .beta = 0.0f};
  gemm_problem_resolve(&g->gp);
  /* the key of what is measured: its leading dims (packed here) and one product */
  int rc = db_problem_gemm(&out->key, g->dtype, g->layout, s->m, s->n, s->k, g->gp.lda,
                           g->gp.ldb, g->gp.ldc, 1);
  if (rc != AT_OK)
    return rc;
  out->flops = gemm_flops(&g->gp);
  out->bytes = gemm_bytes(&g->gp);
  out->peak_tflops = g->gdt == GEMM_F16 ? dev->peak_tflops_f16
                     : g->gdt == GEMM_BF16 ? dev->peak_tflops_bf16 : dev->peak_tflops_f32;
  out->mop = &gemm_meas_op;
  return AT_OK;
}

static int gemm_inputs(const struct op_engine *op, struct op_problem *p)
{
  struct gemm_tune *g = op->priv;
  int rc = gemm_data_init(&g->data, &g->gp, 1);
  if (rc == AT_OK)
    p->mop_ctx = &g->data;
  return rc;
}

static void gemm_unbind(const struct op_engine *op, struct op_problem *p)
{
  struct gemm_tune *g = op->priv;
  (void)p;
  gemm_data_release(&g->data);
}

/* The dtype, layout and the shapes (from a file, their values): --resume's key. */
static void gemm_canonical(const struct op_engine *op, char *out, size_t len)
{
  const struct gemm_tune *g = op->priv;
  size_t used = (size_t)snprintf(out, len, "--dtype %s --layout %s --shapes ", g->dtype,
                                 g->layout);
  for (size_t i = 0; i < g->nshapes && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%" PRId64 "x%" PRId64 "x%" PRId64,
                             i ? ";" : "", g->shapes[i].m, g->shapes[i].n, g->shapes[i].k);
}

int gemm_tune_op_init(struct op_engine *op, const struct gemm_tune_args *args)
{
  memset(op, 0, sizeof *op);
  struct gemm_tune *g = calloc(1, sizeof *g);
  if (!g)
    return at_error(AT_NOMEM, "out of memory");
  g->args = *args;
  *op = (struct op_engine){
      .name = "gemm",
      .template_folder = "gemm",
      .baseline = "gemm_naive",
      .prepare = gemm_prepare,
      .nproblems = gemm_nproblems,
      .not_for = gemm_not_for,
      .fits = gemm_fits,
      .tmpl_dims = gemm_tmpl_dims,
      .dtype = gemm_dtype_of,
      .bind = gemm_bind,
      .inputs = gemm_inputs,
      .unbind = gemm_unbind,
      .model = gemm_model,
      .canonical = gemm_canonical,
      .priv = g,
  };
  return AT_OK;
}

void gemm_tune_op_release(struct op_engine *op)
{
  if (!op || !op->priv)
    return;
  struct gemm_tune *g = op->priv;
  gemm_data_release(&g->data);
  free(g);
  op->priv = NULL;
}
