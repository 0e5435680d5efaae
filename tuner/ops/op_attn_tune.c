/*
 * op_attn_tune.c - the attention op as the tuning engine runs it (op_iface.h,
 * attn_tune.h): one problem, the templates of templates/attention/ that fit it (the
 * contract's dims; PAGED for a paged problem), the template dims B, H, HKV, SQ, SK, D,
 * CAUSAL, PAGED (and LSE, DECODE), inputs and the f64 reference of op_attn.h (through
 * attn_meas_op: every variant is checked against the op, none against another), its
 * FLOPs and bytes, and a cost model for the model strategy. Trials are recorded under the
 * key attn_problem_key gives: op "attention", dims b, h, sq, sk (and hkv for GQA), the
 * layout "hd<D>[_causal][_decode][_paged][_lse]".
 */
#include "tuner/ops/attn_tune.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/status.h"
#include "tuner/ops/attn_run.h"
#include "tuner/ops/pipe_model.h"

struct attn_tune {
  struct attn_problem p;
  struct attn_data data;
  char layout[64];
};

static int attn_prepare(const struct op_engine *op, const struct dev_profile *space_dev)
{
  const struct attn_tune *a = op->priv;
  (void)space_dev;
  return attn_problem_check(&a->p);
}

static size_t attn_nproblems(const struct op_engine *op)
{
  (void)op;
  return 1;
}

/* Whether template t names the problem dim `name`. */
static bool has_dim(const struct tmpl *t, const char *name)
{
  for (size_t j = 0; j < t->ndims; j++)
    if (strcasecmp(t->dims[j], name) == 0)
      return true;
  return false;
}

static bool attn_fits(const struct op_engine *op, const struct tmpl *t, char *why, size_t len)
{
  const struct attn_tune *a = op->priv;
  static const char *const need[] = {"B", "H", "HKV", "SQ", "SK", "D"};
  for (size_t d = 0; d < sizeof need / sizeof need[0]; d++)
    if (!has_dim(t, need[d])) {
      snprintf(why, len, "its problem has no dim %s (the attention contract v2: problem B, H, "
               "HKV, SQ, SK, D, CAUSAL, PAGED)", need[d]);
      return false;
    }
  if (a->p.paged && !has_dim(t, "PAGED")) {
    snprintf(why, len, "the problem is paged and the template has no dim PAGED (it reads "
             "K and V contiguous only)");
    return false;
  }
  return true;
}

/* Whether a template of the default set is for this device and dtype, by the rule of
 * templates/gemm (gemm_template_not_for): *_mma (attn_mma) on NVIDIA sm_80 and later
 * with f16/bf16, *_wgmma on Hopper, *_mfma on AMD CDNA, every other one everywhere. */
static const char *attn_not_for(const struct op_engine *op, const char *name,
                                const struct dev_profile *space_dev)
{
  const struct attn_tune *a = op->priv;
  return gemm_template_not_for(name, space_dev, a->p.dtype == GEMM_F32);
}

static void attn_tmpl_dims(const struct op_engine *op, size_t i, const struct tmpl *t,
                           int64_t *dims)
{
  const struct attn_tune *a = op->priv;
  const struct attn_problem *p = &a->p;
  (void)i;
  static const char *const names[] = {"B",      "H",     "HKV",   "SQ",  "SK",
                                      "D",      "CAUSAL", "PAGED", "LSE", "DECODE"};
  const int64_t vals[] = {p->batch, p->heads,  p->hkv,   p->sq,  p->sk,
                          p->d,     p->causal, p->paged, p->lse, p->decode};
  for (size_t j = 0; j < t->ndims; j++) {
    dims[j] = 1;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
      if (!strcasecmp(t->dims[j], names[k]))
        dims[j] = vals[k];
  }
}

static const char *attn_dtype_of(const struct op_engine *op)
{
  const struct attn_tune *a = op->priv;
  return gemm_dtype_name(a->p.dtype);
}

static int attn_bind(const struct op_engine *op, size_t i, const struct dev_profile *dev,
                     struct op_problem *out)
{
  struct attn_tune *a = op->priv;
  const struct attn_problem *p = &a->p;
  (void)i;
  memset(out, 0, sizeof *out);
  attn_problem_key(p, &out->key, a->layout, sizeof a->layout);
  out->flops = attn_flops(p);
  out->bytes = attn_bytes(p);
  out->peak_tflops = p->dtype == GEMM_F16 ? dev->peak_tflops_f16
                     : p->dtype == GEMM_BF16 ? dev->peak_tflops_bf16 : dev->peak_tflops_f32;
  out->mop = &attn_meas_op;
  return AT_OK;
}

static int attn_inputs(const struct op_engine *op, struct op_problem *prob)
{
  struct attn_tune *a = op->priv;
  int rc = attn_data_init(&a->data, &a->p, 1);
  if (rc == AT_OK)
    prob->mop_ctx = &a->data;
  return rc;
}

static void attn_unbind(const struct op_engine *op, struct op_problem *prob)
{
  struct attn_tune *a = op->priv;
  (void)prob;
  attn_data_release(&a->data);
}

/* ---- the model ---- */

/* Keys a query row sees on average: all, or with the bottom-right causal mask (row i of
 * SQ sees keys up to SK - SQ + i) SK - (SQ - 1) / 2, fewer when SQ > SK. */
static double attn_keys_seen(const struct attn_problem *p)
{
  double sq = (double)p->sq, sk = (double)p->sk;
  if (!p->causal)
    return sk;
  return sq <= sk ? sk - (sq - 1) / 2 : sk * (sk + 1) / (2 * sq);
}

/*
 * Predicted time (us) of a variant: the pipeline model of pipe_model.h, as the GEMM's. A
 * block holds BQ query rows (attn_decode: R, the rows of one KV head's query heads;
 * attn_decode_mma and attn_decode_mfma: RP, those rows padded to their 16-row mma
 * slices or MI-column MFMA blocks) and
 * walks the keys its rows see (attn_keys_seen; split-KV: an NS-th of them) in tiles of BKV
 * (attn_wgmma: BN) keys. A tile's step is the longest of
 *   work     its matrix products (4 BQ BKV D flops: S = Q K^T and P V) and its softmax
 *            (BQ BKV exponentials at the SFU rate, f32 peak / 16: about 3.9 T/s on an
 *            H100, FlashAttention-3's figure), one after the other, or the longer of the
 *            two where the template overlaps them (OVERLAP, PINGPONG),
 *   feed     its K and V tiles from L2,
 *   latency  the load latency over STAGES - 1 tiles in flight (1 without STAGES);
 * the SM shared by its resident blocks. Rounds of blocks pay a fill and the output tile;
 * split-KV adds its partials' combine. At least Q, K, V and O's bytes at HBM bandwidth,
 * plus a launch. On the host (the emulator): a nominal rate and a per-thread-per-tile
 * fiber cost, as the GEMM's. Never fitted to a measurement: no attention kernel has run on
 * a GPU yet (docs/search.md).
 */
static double attn_model(const struct op_engine *op, size_t i, const struct tmpl *tp,
                         const int64_t *cfg, const struct gen_launch *launch,
                         const struct occ_result *occ, const struct dev_profile *d, bool host)
{
  static const char *const bq_n[] = {"BQ", "RP", "R", NULL};
  static const char *const bkv_n[] = {"BKV", "BN", NULL};
  static const char *const ns_n[] = {"NS", NULL};
  static const char *const stages_n[] = {"STAGES", NULL};
  static const char *const overlap_n[] = {"OVERLAP", NULL};
  static const char *const pingpong_n[] = {"PINGPONG", NULL};
  const struct attn_tune *a = op->priv;
  const struct attn_problem *p = &a->p;
  (void)i;
  double blocks = (double)(launch->grid[0] * launch->grid[1] * launch->grid[2]);
  double threads = (double)(launch->threads[0] * launch->threads[1] * launch->threads[2]);
  double bq = fmax(1.0, (double)pipe_param(tp, cfg, bq_n, 64));
  double bkv = fmax(1.0, (double)pipe_param(tp, cfg, bkv_n, 64));
  double ns = fmax(1.0, (double)pipe_param(tp, cfg, ns_n, 1));
  double tiles = fmax(1.0, ceil(attn_keys_seen(p) / ns / bkv));
  double dd = (double)p->d, esz = (double)gemm_dtype_size(p->dtype);
  struct pipe_dev pd;
  double peak = p->dtype == GEMM_F16 ? d->peak_tflops_f16
                : p->dtype == GEMM_BF16 ? d->peak_tflops_bf16 : d->peak_tflops_f32;
  if (host || !pipe_dev_init(&pd, d, pipe_peak(tp, cfg, d, peak))) {
    double cus = d->compute_units > 0 ? d->compute_units : 1;
    return attn_flops(p) / (1e9 * cus) * 1e6 + blocks * threads * tiles * 0.05 / cus;
  }
  double share = pipe_share(occ, blocks, pd.cus);
  double sfu = (d->peak_tflops_f32 > 0 ? d->peak_tflops_f32 * 1e12 / 16 / pd.cus
                                       : pd.sm_flops / 256);
  double t_mma = 4 * bq * bkv * dd / pd.sm_flops, t_exp = bq * bkv / sfu;
  bool overlap =
      pipe_param(tp, cfg, overlap_n, 0) != 0 || pipe_param(tp, cfg, pingpong_n, 0) != 0;
  double work = overlap ? fmax(t_mma, t_exp) : t_mma + t_exp; /* seconds, the SM alone */
  int64_t stages = pipe_param(tp, cfg, stages_n, 2);
  double step = pipe_step_s(&pd, work * pd.sm_flops, 2 * bkv * dd * esz,
                            (double)(stages - 1), share);
  double out = bq * dd * esz / pd.sm_bw * share;
  double combine = ns > 1 ? ns * bq * dd * 4 * 2 / pd.sm_bw * share + PIPE_LATENCY_S : 0;
  double rounds = ceil(blocks / pipe_slots(occ, blocks, pd.cus));
  double t = rounds * (PIPE_LATENCY_S + tiles * step + out + combine);
  double bytes = ((double)p->batch * (double)p->heads * (double)p->sq * 2 +
                  (double)p->batch * (double)p->hkv * (double)p->sk * 2) * dd * esz;
  t = fmax(t, bytes / pd.hbm_bw);
  return (t + PIPE_LAUNCH_S) * 1e6;
}

static void attn_canonical(const struct op_engine *op, char *out, size_t len)
{
  const struct attn_tune *a = op->priv;
  const struct attn_problem *p = &a->p;
  char kv[48] = "";
  if (p->hkv != p->heads)
    snprintf(kv, sizeof kv, " --kv-heads %" PRId64, p->hkv);
  snprintf(out, len, "--dtype %s --batch %" PRId64 " --heads %" PRId64 "%s --seqlen %" PRId64
           " --kv-seqlen %" PRId64 " --head-dim %" PRId64 "%s%s%s%s",
           gemm_dtype_name(p->dtype), p->batch, p->heads, kv, p->sq, p->sk, p->d,
           p->causal ? " --causal" : "", p->decode ? " --decode" : "",
           p->paged ? " --paged" : "", p->lse ? " --lse" : "");
}

int attn_tune_op_init(struct op_engine *op, const struct attn_problem *p)
{
  memset(op, 0, sizeof *op);
  struct attn_tune *a = calloc(1, sizeof *a);
  if (!a)
    return at_error(AT_NOMEM, "out of memory");
  a->p = *p;
  *op = (struct op_engine){
      .name = "attention",
      .template_folder = "attention",
      .prepare = attn_prepare,
      .nproblems = attn_nproblems,
      .fits = attn_fits,
      .not_for = attn_not_for,
      .tmpl_dims = attn_tmpl_dims,
      .dtype = attn_dtype_of,
      .bind = attn_bind,
      .inputs = attn_inputs,
      .unbind = attn_unbind,
      .model = attn_model,
      .canonical = attn_canonical,
      .priv = a,
  };
  return AT_OK;
}

void attn_tune_op_release(struct op_engine *op)
{
  if (!op || !op->priv)
    return;
  struct attn_tune *a = op->priv;
  attn_data_release(&a->data);
  free(a);
  op->priv = NULL;
}
