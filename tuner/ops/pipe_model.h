/*
 * pipe_model.h - the pipeline cost model the ops' analytical models share (docs/search.md,
 * "The GEMM model"): a block walks steps (a GEMM's k-steps, attention's key tiles), each
 * taking the longest of its compute at the SM's share of the peak, its feed from L2 at
 * the SM's share of L2 bandwidth, and the load latency over the loads in flight; the SM's
 * compute and feed are shared by the blocks resident on it. The constants were fitted to
 * the first H200 run's GEMM trials (bench/bench_model.c).
 */
#ifndef AT_TUNER_OPS_PIPE_MODEL_H
#define AT_TUNER_OPS_PIPE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/device.h"
#include "generator/template.h"
#include "tuner/device/occupancy.h"

#define PIPE_LATENCY_S 1.0e-6   /* a step's loads under load, cold L2 */
#define PIPE_L2_OVER_HBM 2.5    /* L2-to-SM bandwidth over HBM's */
#define PIPE_LAUNCH_S 3.0e-6    /* a launch */

struct pipe_dev {
  double cus;      /* SMs / CUs */
  double sm_flops; /* the dtype's matrix peak, per SM (flop/s) */
  double sm_bw;    /* L2 to one SM (byte/s) */
  double hbm_bw;   /* the device's (byte/s) */
};

/* The per-SM rates of d for a peak of peak_tflops; false when d has no peak or no
 * bandwidth (the host: the op's own nominal model applies). */
bool pipe_dev_init(struct pipe_dev *p, const struct dev_profile *d, double peak_tflops);

/* The blocks an SM runs at once: its occupancy, at most the grid's share. */
double pipe_share(const struct occ_result *occ, double blocks, double cus);
/* The blocks the whole device runs at once (at least 1): its SMs times their occupancy,
 * at most the grid. Rounds of a grid of units: ceil(units / slots). */
double pipe_slots(const struct occ_result *occ, double blocks, double cus);

/* One step's seconds: flops and bytes (from L2) of one block's step, with `inflight`
 * steps' loads in flight (0 or less: none overlap, as 1; a fraction: a round trip longer
 * than a step's) and `share` blocks on the SM. */
double pipe_step_s(const struct pipe_dev *p, double flops, double bytes, double inflight,
                   double share);

/* The value of the first of `names` (NULL-terminated) the template has in cfg; `absent`
 * when it has none: a model's vocabulary (docs/search.md). */
int64_t pipe_param(const struct tmpl *t, const int64_t *cfg, const char *const *names,
                   int64_t absent);

/* The peak (TFLOP/s) a variant computes at: matrix_peak (the dtype's matrix-core peak),
 * or d's vector f32 peak where the variant multiplies on the vector units, which a
 * template says by deriving MATRIX_CORES = 0 for it (gemm_simt, attn_decode; gemm_skinny
 * MATRIX_CORES = MMA): a vocabulary word, as the params pipe_param reads. */
double pipe_peak(const struct tmpl *t, const int64_t *cfg, const struct dev_profile *d,
                 double matrix_peak);

#endif
