/*
 * pipe_model.c - the shared pipeline cost model (pipe_model.h).
 */
#include "tuner/ops/pipe_model.h"

#include <math.h>
#include <string.h>

bool pipe_dev_init(struct pipe_dev *p, const struct dev_profile *d, double peak_tflops)
{
  if (peak_tflops <= 0 || d->mem_bandwidth_gbs <= 0)
    return false;
  p->cus = d->compute_units > 0 ? d->compute_units : 1;
  p->sm_flops = peak_tflops * 1e12 / p->cus;
  p->hbm_bw = d->mem_bandwidth_gbs * 1e9;
  p->sm_bw = PIPE_L2_OVER_HBM * p->hbm_bw / p->cus;
  return true;
}

static double per_cu(const struct occ_result *occ)
{
  return occ && occ->blocks_per_cu > 0 ? occ->blocks_per_cu : 1;
}

double pipe_share(const struct occ_result *occ, double blocks, double cus)
{
  return fmin(per_cu(occ), fmax(1.0, blocks / cus));
}

double pipe_slots(const struct occ_result *occ, double blocks, double cus)
{
  return fmax(1.0, fmin(blocks, cus * per_cu(occ)));
}

double pipe_step_s(const struct pipe_dev *p, double flops, double bytes, double inflight,
                   double share)
{
  double c = flops / p->sm_flops * share, f = bytes / p->sm_bw * share;
  double l = PIPE_LATENCY_S / (inflight > 0 ? inflight : 1.0);
  return fmax(c, fmax(f, l));
}

int64_t pipe_param(const struct tmpl *t, const int64_t *cfg, const char *const *names,
                   int64_t absent)
{
  for (size_t i = 0; names[i]; i++)
    for (size_t j = 0; j < t->nparams; j++)
      if (strcmp(t->params[j].name, names[i]) == 0)
        return cfg[j];
  return absent;
}

double pipe_peak(const struct tmpl *t, const int64_t *cfg, const struct dev_profile *d,
                 double matrix_peak)
{
  static const char *const mc_n[] = {"MATRIX_CORES", NULL};
  return pipe_param(t, cfg, mc_n, 1) == 0 ? d->peak_tflops_f32 : matrix_peak;
}
