/*
 * any_tune.h - a user's own annotated template as an op for the tuning engine
 * (op_iface.h): `autotune tune TEMPLATE.h`. There is no reference implementation of an
 * arbitrary kernel, so one of the template's own configs is trusted (--reference, else
 * the middle valid one) and every other variant's outputs must match its outputs.
 */
#ifndef AT_TUNER_OPS_ANY_TUNE_H
#define AT_TUNER_OPS_ANY_TUNE_H

#include <stddef.h>
#include <stdint.h>

#include "generator/template.h"
#include "tuner/ops/op_iface.h"

struct any_tune_args {
  const struct tmpl *t;        /* the loaded template; must outlive the op */
  const char *const *dims;     /* "NAME=V", one per problem dim of t */
  size_t ndims;
  const char *const *args;     /* "NAME=EXPR": buffer lengths and scalar values */
  size_t nargs;
  const char *dtype;           /* for a template with a dtype pragma; NULL: f32 */
  const char *reference;       /* a config (KEY=VALUE,...); NULL: the middle valid one */
  double rtol, atol;           /* < 0: the default for the outputs' type */
};

/* Fill op for args: the problem dims, the kernel's arguments from its signature, the
 * inputs, and shared memory for the reference's outputs. AT_USAGE naming the input
 * (a missing or unknown --dim, a buffer without its count, a bad --arg or --reference),
 * AT_UNSUPPORTED (a parameter type the op cannot fill), AT_NOMEM. */
int any_tune_op_init(struct op_engine *op, const struct any_tune_args *args);
void any_tune_op_release(struct op_engine *op);

#endif
