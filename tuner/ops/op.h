/*
 * op.h - the ops the tuner knows, as data: their dim names (in order), dtypes and
 * layouts. What an op computes (inputs, reference, FLOP count) joins this table when
 * the tuner runs it.
 */
#ifndef AT_TUNER_OPS_OP_H
#define AT_TUNER_OPS_OP_H

#include <stdint.h>

#include "autotune/autotune.h"

struct op_desc {
  const char *name;                    /* "gemm" */
  int ndims;
  const char *dim_names[AT_MAX_DIMS];  /* "m", "n", "k" */
  const char *dtypes[8];               /* NULL-terminated */
  const char *layouts[8];              /* NULL-terminated; {""} when the op has none */
  const char *default_dtype, *default_layout;
};

const struct op_desc *op_find(const char *name);
/* "gemm" — names of all ops, comma separated, for messages. */
const char *op_names(void);
/* Validate dtype/layout for an op; AT_USAGE with a message naming the input. */
int op_check(const struct op_desc *op, const char *dtype, const char *layout);

#endif
