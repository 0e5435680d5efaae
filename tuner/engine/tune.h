/*
 * tune.h - the one tuning engine, for every op (gemm, attention, a user's template: an
 * op fills struct op_engine, tuner/ops/op_iface.h). For each problem and each template
 * it spans the space for the device, compiles what the search will measure (tuner/
 * compile/build.h), lets a strategy (tuner/search/search.h) pick which to measure,
 * measures them in a worker process that may crash or hang without taking the tuner
 * down (tuner/measure/worker.h), and commits every outcome to the tuning database as
 * it happens, so that an interrupted run loses nothing and `--resume` finishes it. The
 * measurement protocol is written down in docs/measure.md. The engine prints nothing
 * itself: what it has to say goes through struct tune_report, which the command fills.
 */
#ifndef AT_TUNER_ENGINE_TUNE_H
#define AT_TUNER_ENGINE_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "tuner/ops/op_iface.h"
#include "tuner/search/search.h"

/* Most templates one run tunes. */
#define TUNE_MAX_TEMPLATES 32

struct tuner;
struct tune_report;

struct tune_opts {
  const struct op_engine *op;  /* what is tuned */
  const char *device;          /* profile name or arch */
  const char *emulate;         /* host only: the profile the host stands in for; NULL */
  const char *templates[TUNE_MAX_TEMPLATES]; /* paths; none: the op's default set */
  size_t ntemplates;
  enum search_strategy strategy;
  int64_t budget;              /* variants measured per template; 0: the default, -1: all */
  double time_budget_s;        /* wall seconds for all measurements; 0: none */
  uint64_t seed;
  const char *db_path;         /* the database (the command resolves its default) */
  bool resume;
  int jobs;                    /* compile threads and emulator workers; 0: the CPUs */
  double timeout_s;            /* watchdog per variant; 0: TUNE_DEFAULT_TIMEOUT_S */
  double variant_time_s;       /* timing budget per variant; 0: the device's default */
  bool no_cache;               /* neither read nor write the compile cache */
  bool sanitize;               /* host variants built with ASan and UBSan (cc_sanitize_flags) */
  const struct tune_report *report; /* NULL: silent */
  void *report_ctx;
};

/* What the engine tells its caller, as it happens; any member may be NULL. */
struct tune_report {
  void (*warn)(void *ctx, const char *message);           /* one line, no prefix */
  void (*progress)(void *ctx, const struct tuner *tu);    /* counts changed */
  void (*progress_clear)(void *ctx, const struct tuner *tu);
  void (*start)(void *ctx, const struct tuner *tu);       /* before the first problem */
  void (*problem)(void *ctx, const struct tuner *tu);     /* a problem is done */
  void (*end)(void *ctx, const struct tuner *tu);         /* the run is done */
};

/* The run's outcome, for the command's exit status. */
struct tune_summary {
  size_t measured_ok;          /* trials measured ok (recalled ones included) */
  bool measured_here;          /* false: the device is absent, nothing was measured */
  bool reference_failed;       /* an op with checks_against_reference: it failed */
};

#define TUNE_DEFAULT_TIMEOUT_S 60.0
/* The default --budget on the host device (the emulator is slow); GPUs measure all. */
#define TUNE_HOST_DEFAULT_BUDGET 24

/* Run the tuner as the options say. OUT: *sum (may be NULL). Returns AT_OK (the run
 * finished, whatever the trials' statuses, including "no measurement possible here");
 * AT_USAGE (bad input: unknown device, template, strategy, budget); AT_IO / AT_NOT_A_DB
 * / AT_DB_* (the database cannot be opened or written); AT_NOMEM; AT_UNSUPPORTED (no
 * compiler or no template for the device), with at_last_error() saying why. */
int tune_run(const struct tune_opts *o, struct tune_summary *sum);

/* The canonical argument string stored in runs.args, by which --resume finds a run:
 * every option that changes what is measured, in a fixed order, without --db, --resume,
 * --jobs, --json. OUT: out[len]. */
void tune_canonical_args(const struct tune_opts *o, const char *const *template_paths,
                         size_t ntemplates, char *out, size_t len);

#endif
