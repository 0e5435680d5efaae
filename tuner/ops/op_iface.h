/*
 * op_iface.h - an op as the one tuning engine (tuner/engine/tune.h) runs it. An op is
 * what varies between `autotune gemm`, `autotune attention` and `autotune tune`: its
 * problems and their keys in the database, the templates that apply, each template's
 * problem dims, the inputs and the check (through the worker's struct meas_op), FLOPs
 * and bytes, a cost model where it has one, and the canonical text of its arguments
 * (by which --resume finds a run). Everything else (compiling, isolation, the
 * measurement protocol, search, resume, recording, progress) is the engine's, the same
 * for every op: a new kernel family is a new op file and templates, never a new engine.
 *
 * The ops: op_gemm_tune.c (gemm_tune_op_init), op_attn_tune.c (attn_tune_op_init),
 * op_any.c (any_op_init: a user's own template checked against its reference config).
 */
#ifndef AT_TUNER_OPS_OP_IFACE_H
#define AT_TUNER_OPS_OP_IFACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/device.h"
#include "db/db.h"
#include "generator/emit.h"
#include "generator/template.h"
#include "tuner/device/occupancy.h"
#include "tuner/measure/worker.h"

#define OP_MAX_PROBLEMS 256

/* One problem of an op, bound for measuring: made by op_engine.bind, freed by unbind. */
struct op_problem {
  struct db_problem key;        /* as trials record it; strings owned by the op */
  char text[200];               /* "f16 NN m=4096,n=4096,k=4096": set by the engine */
  double flops, bytes;          /* per launch; 0: unknown */
  double peak_tflops;           /* the device's peak for this dtype; 0: none (host) */
  const struct meas_op *mop;    /* the worker's side */
  const void *mop_ctx;
  void *priv;
};

struct op_engine {
  const char *name;             /* "gemm": messages, progress, JSON */
  /* The default templates: every .h file of templates/<folder> but the baseline; NULL: only
   * those the command names. */
  const char *template_folder;
  /* A template measured in full on every problem for the speed-ups; NULL: none. */
  const char *baseline;
  /* The config measured first and trusted: the others' outputs are checked against its
   * outputs (meas_op.verify's `reference`), and nothing else runs when it fails. NULL:
   * the op has a reference of its own; the default config is the middle valid one. */
  const char *reference_config;
  bool checks_against_reference;
  /* Resolve what depends on the device whose space is spanned (the dtype's default,
   * say) and check the op's arguments: AT_USAGE naming the input. Called once, first. */
  int (*prepare)(const struct op_engine *op, const struct dev_profile *space_dev);
  /* How many problems (after prepare). */
  size_t (*nproblems)(const struct op_engine *op);
  /* Whether template `name` of the default set applies on space_dev: "" or why not. */
  const char *(*not_for)(const struct op_engine *op, const char *name,
                         const struct dev_profile *space_dev);
  /* Whether a loaded template fits the op's contract; false with why. */
  bool (*fits)(const struct op_engine *op, const struct tmpl *t, char *why, size_t why_len);
  /* The template's problem dims for problem i. OUT: dims[t->ndims]. */
  void (*tmpl_dims)(const struct op_engine *op, size_t i, const struct tmpl *t, int64_t *dims);
  /* The dtype the template is compiled with (its dtype pragma's value); NULL: none. */
  const char *(*dtype)(const struct op_engine *op);
  /* Bind problem i: its key, FLOPs, bytes, peak and meas_op. OUT: *out. AT_OK, ... */
  int (*bind)(const struct op_engine *op, size_t i, const struct dev_profile *dev,
              struct op_problem *out);
  /* Make the bound problem's inputs and reference (p->mop_ctx): only when something will
   * be measured (a host reference of a large problem takes minutes). AT_OK, AT_NOMEM. */
  int (*inputs)(const struct op_engine *op, struct op_problem *p);
  void (*unbind)(const struct op_engine *op, struct op_problem *p);
  /* Predicted time (us) of a config, for the model strategy and the ranking shown when
   * the device is absent; NULL: the op has no model (the model strategy is refused). */
  double (*model)(const struct op_engine *op, size_t i, const struct tmpl *t,
                  const int64_t *cfg, const struct gen_launch *l, const struct occ_result *occ,
                  const struct dev_profile *d, bool host);
  /* The op's part of the canonical arguments: what it measures, resolved. */
  void (*canonical)(const struct op_engine *op, char *out, size_t len);
  void *priv;
};

#endif
