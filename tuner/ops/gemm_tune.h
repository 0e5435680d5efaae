/*
 * gemm_tune.h - the gemm op for the tuning engine (op_iface.h): `autotune gemm`.
 */
#ifndef AT_TUNER_OPS_GEMM_TUNE_H
#define AT_TUNER_OPS_GEMM_TUNE_H

#include <stdint.h>

#include "tuner/ops/op_iface.h"

struct gemm_tune_args {
  const char *dtype;           /* "f16", "bf16", "f32"; NULL: f32 on host, f16 on GPUs */
  const char *layout;          /* "NN".."TT"; NULL: NN */
  int64_t m, n, k;             /* the problem (0: none; then shapes_file) */
  const char *shapes_file;     /* tuner/ops/shapes.h: "M N K" lines or captured GEMMs */
};

/* Fill op for args (kept by value; the strings must outlive op). The arguments are
 * checked by the engine's call of op->prepare (AT_USAGE naming the input). AT_NOMEM. */
int gemm_tune_op_init(struct op_engine *op, const struct gemm_tune_args *args);
void gemm_tune_op_release(struct op_engine *op);

#endif
