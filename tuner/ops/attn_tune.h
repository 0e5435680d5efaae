/*
 * attn_tune.h - the attention op for the tuning engine (op_iface.h): `autotune attention`.
 */
#ifndef AT_TUNER_OPS_ATTN_TUNE_H
#define AT_TUNER_OPS_ATTN_TUNE_H

#include "tuner/ops/op_attn.h"
#include "tuner/ops/op_iface.h"

/* Fill op for problem p, whose dtype the caller resolved (kept by value). The problem is
 * checked by the engine's call of op->prepare (attn_problem_check). AT_NOMEM. */
int attn_tune_op_init(struct op_engine *op, const struct attn_problem *p);
void attn_tune_op_release(struct op_engine *op);

#endif
