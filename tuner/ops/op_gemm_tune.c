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
#include "tuner/ops/pipe_model.h"
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

/*
 * Predicted time (us) of a variant on a GPU. A block (or a persistent block's tile) walks
 * its k-steps of BM x BN x BK through a pipeline of STAGES buffers (2 when the template
 * has none), WAIT of which the matrix cores may still hold, PF more prefetched; one
 * step takes the longest of
 *   compute  2 BM BN BK flops at the SM's share of the peak,
 *   feed     (BM + BN) BK elements from L2 at the SM's share of L2 bandwidth,
 *   latency  the load latency over the loads in flight, STAGES - 1 - WAIT + PF,
 * the SM's compute and feed shared by the blocks resident on it (occupancy). A round of
 * blocks pays a pipeline fill (latency) and the epilogue; a persistent grid (PERSIST) fills
 * once. Split-K (SPLITS/KSPLIT > 1, or SCHED 1) and stream-K (SCHED 2, the hybrid 3) add the
 * fixup: a unit's f32 partial tile written, and the last unit's read and reset of every
 * contributor's (stream-K: up to two such tiles a block). Unswizzled shared memory (SWZ 0)
 * doubles a step (bank conflicts on the fragment loads and the copies into shared memory:
 * 1.3-3x measured, about 2 typical). TMA multicast (MCAST) doubles a stage's round trip:
 * it returns to the producers only when both CTAs of the pair have released it (every
 * multicast pair measured was slower than its twin without). Two consumers taking turns
 * at whole units (PINGPONG) pay one epilogue, the last: each other's hides behind the
 * other consumer's k-steps (not yet measured). Stream-K's k-steps count SK_STEP times a
 * data-parallel one: as built, stream-K measured 1.8-4.6x the time of data-parallel
 * configs (and 2.3x split-K's with the same k-steps a block) on the H200 (2026-12-04),
 * for a reason not yet found; the factor is fitted to those trials (bench_model over
 * them: rank correlation 0.65 -> 0.68, gemm_tma's at 2048^3 0.25 -> 0.67), not derived.
 * The whole is at least the operands' and C's bytes at HBM bandwidth, plus a launch.
 * Blind to what was never measured to matter (the cluster's shape, raster order, the
 * epilogue's path).
 */
/* stream-K's k-step against a data-parallel one (the note above: measured, not derived) */
#define SK_STEP 2.0

static double gemm_model_gpu(const struct gemm_tune *g, const struct gemm_shape *s,
                             const struct tmpl *tp, const int64_t *cfg,
                             const struct gen_launch *launch, const struct occ_result *occ,
                             const struct pipe_dev *pd)
{
  static const char *const bm_n[] = {"BM", "BLOCK_M", "TILE_M", NULL};
  static const char *const bn_n[] = {"BN", "BLOCK_N", "TILE_N", NULL};
  static const char *const bk_n[] = {"BK", "BLOCK_K", "TILE_K", "KC", NULL};
  static const char *const stages_n[] = {"STAGES", NULL};
  static const char *const wait_n[] = {"WAIT", NULL};
  static const char *const pf_n[] = {"PF", NULL};
  static const char *const splits_n[] = {"SPLITS", "KSPLIT", "SPLIT_K", NULL};
  static const char *const sched_n[] = {"SCHED", NULL};
  static const char *const persist_n[] = {"PERSIST", NULL};
  static const char *const swz_n[] = {"SWZ", NULL};
  static const char *const mcast_n[] = {"MCAST", NULL};
  static const char *const pingpong_n[] = {"PINGPONG", NULL};
  double blocks = (double)(launch->grid[0] * launch->grid[1] * launch->grid[2]);
  double bm = (double)pipe_param(tp, cfg, bm_n, 0), bn = (double)pipe_param(tp, cfg, bn_n, 0);
  int64_t stages = pipe_param(tp, cfg, stages_n, 0);
  /* a pipelined k loop without a BK param tiles K by 64 (gemm_tma: the 128-byte row) */
  double bk = (double)pipe_param(tp, cfg, bk_n, stages ? 64 : 8);
  if (bm <= 0 || bn <= 0)
    bm = bn = sqrt((double)s->m * (double)s->n / (blocks > 0 ? blocks : 1));
  if (bk <= 0)
    bk = 8;
  double inflight = (double)((stages ? stages : 2) - 1 - pipe_param(tp, cfg, wait_n, 0) +
                             pipe_param(tp, cfg, pf_n, 0));
  if (pipe_param(tp, cfg, mcast_n, 0) != 0)
    inflight = fmax(inflight, 1.0) / 2; /* a stage comes back when both CTAs are done */
  int64_t sched = pipe_param(tp, cfg, sched_n, 0), splits = pipe_param(tp, cfg, splits_n, 1);
  if (splits < 1)
    splits = 1;
  bool persist = pipe_param(tp, cfg, persist_n, 0) != 0 || sched >= 2;
  double esz = (double)gemm_dtype_size(g->gdt);
  double share = pipe_share(occ, blocks, pd->cus);

  double step = pipe_step_s(pd, 2.0 * bm * bn * bk, (bm + bn) * bk * esz, inflight, share);
  if (pipe_param(tp, cfg, swz_n, 1) == 0)
    step *= 2;

  double tiles = ceil((double)s->m / bm) * ceil((double)s->n / bn);
  double kt = fmax(1.0, ceil((double)s->k / bk));
  double epi = bm * bn * esz / pd->sm_bw * share;
  double part = bm * bn * 4.0 / pd->sm_bw * share; /* one f32 partial tile through L2 */
  double slots = pipe_slots(occ, blocks, pd->cus), t;
  bool turns = pipe_param(tp, cfg, pingpong_n, 0) != 0; /* epilogues behind k-steps */
  if (sched >= 2) { /* stream-K: an even share of every k-step, two partial tiles a block */
    double contributors = fmax(2.0, ceil(blocks / tiles));
    t = PIPE_LATENCY_S + SK_STEP * tiles * kt / fmax(blocks, 1) * step + epi +
        2 * (part * (1 + 2 * contributors) + 2 * PIPE_LATENCY_S);
  } else {
    double units = tiles * (double)splits;
    double rounds = ceil(units / slots);
    double unit = kt / (double)splits * step + (turns ? 0 : epi);
    if (splits > 1)
      unit += part * (1 + 2 * (double)splits) + 2 * PIPE_LATENCY_S;
    /* a fill a round; one in all for a persistent grid, and one a pair of rounds for
     * turns (the second unit's stages stream into the same ring) */
    double fills = persist ? 1 : turns ? ceil(rounds / 2) : rounds;
    t = fills * PIPE_LATENCY_S + rounds * unit + (turns ? epi : 0);
  }
  double bytes = ((double)s->m * (double)s->k + (double)s->k * (double)s->n +
                  (double)s->m * (double)s->n) * esz;
  t = fmax(t, bytes / pd->hbm_bw);
  return (t + PIPE_LAUNCH_S) * 1e6;
}

/*
 * Predicted time (us) of a variant: on a GPU gemm_model_gpu; on the host (the emulator)
 * a nominal CPU rate over the padded work plus a per-GPU-thread-per-k-step fiber cost.
 * The ranking, not the absolute number, is what the model strategy uses.
 */
static double gemm_model(const struct op_engine *op, size_t i, const struct tmpl *tp,
                         const int64_t *cfg, const struct gen_launch *launch,
                         const struct occ_result *occ, const struct dev_profile *d, bool host)
{
  const struct gemm_tune *g = op->priv;
  const struct gemm_shape *s = &g->shapes[i];
  struct pipe_dev pd;
  double peak = g->gdt == GEMM_F16 ? d->peak_tflops_f16
                : g->gdt == GEMM_BF16 ? d->peak_tflops_bf16 : d->peak_tflops_f32;
  if (!host && pipe_dev_init(&pd, d, pipe_peak(tp, cfg, d, peak)))
    return gemm_model_gpu(g, s, tp, cfg, launch, occ, &pd);
  static const char *const bm_n[] = {"BM", "BLOCK_M", "TILE_M", "MT", NULL};
  static const char *const bn_n[] = {"BN", "BLOCK_N", "TILE_N", "NT", NULL};
  static const char *const bk_n[] = {"BK", "BLOCK_K", "TILE_K", "KT", NULL};
  double blocks = (double)(launch->grid[0] * launch->grid[1] * launch->grid[2]);
  double threads = (double)(launch->threads[0] * launch->threads[1] * launch->threads[2]);
  double bm = (double)pipe_param(tp, cfg, bm_n, 0), bn = (double)pipe_param(tp, cfg, bn_n, 0);
  double bk = (double)pipe_param(tp, cfg, bk_n, 0);
  if (bm <= 0 || bn <= 0)
    bm = bn = sqrt((double)s->m * (double)s->n / (blocks > 0 ? blocks : 1));
  if (bk <= 0)
    bk = 8;
  double pm = ceil((double)s->m / bm) * bm, pn = ceil((double)s->n / bn) * bn;
  double flops = 2.0 * pm * pn * (double)s->k;
  double esz = (double)gemm_dtype_size(g->gdt);
  double ai = 2.0 * bm * bn * bk / ((bm + bn) * bk * esz); /* flops per byte of a tile */
  int cus = d->compute_units > 0 ? d->compute_units : 1;
  double core = 1e9 * cus; /* 1 GFLOP/s a core, 8 flops a byte */
  double rate = fmin(core, ai * core / 8.0);
  double waves = ceil(blocks / cus), weff = blocks > 0 ? blocks / (waves * cus) : 1;
  return flops / (rate * weff) * 1e6 + blocks * threads * ceil((double)s->k / bk) * 0.05 / cus;
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
