/*
 * tune.h - the tuner: `autotune gemm` end to end. For each problem and each template it
 * builds the space for the device, compiles every valid variant (tuner/compile/build.h), lets a
 * search strategy (tuner/search/search.h) pick which to measure, measures them in a worker
 * process that may crash or hang without taking the tuner down (tune_worker.c), and
 * commits every outcome to the tuning database as it happens, so that an interrupted
 * run loses nothing and `--resume` finishes it. The measurement protocol is written down
 * in docs/measure.md; the worker's pipe protocol and the resume rules at the top of
 * tune_worker.c and tune.c.
 */
#ifndef AT_TUNER_TUNE_H
#define AT_TUNER_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "generator/emit.h"
#include "tuner/measure/meas.h"
#include "tuner/ops/op_gemm.h"
#include "tuner/search/search.h"

/* Most templates one run tunes, most problems a --shapes file holds. */
#define TUNE_MAX_TEMPLATES 32
#define TUNE_MAX_SHAPES 256

struct tune_opts {
  const char *device;          /* profile name or arch */
  const char *emulate;         /* host only: the profile the host stands in for; NULL */
  const char *dtype;           /* "f16", "bf16", "f32"; NULL: f32 on host, f16 on GPUs */
  const char *layout;          /* "NN".."TT"; NULL: NN */
  int64_t m, n, k;             /* the problem (0: none; then shapes_file) */
  const char *shapes_file;     /* lines "M N K" (or M,N,K / MxNxK); '#' comments */
  const char *templates[TUNE_MAX_TEMPLATES]; /* names or paths; none: every templates/gemm/NAME.h */
  size_t ntemplates;
  enum search_strategy strategy;
  int64_t budget;              /* variants measured per template; 0: the default, -1: all */
  double time_budget_s;        /* wall seconds for all measurements; 0: none */
  uint64_t seed;
  const char *db_path;         /* NULL: cli_default_db */
  bool resume;
  int jobs;                    /* compile threads and emulator workers; 0: the CPUs */
  bool json;
  bool progress;               /* the \r progress line (a terminal, not --json) */
  double timeout_s;            /* watchdog per variant; 0: TUNE_DEFAULT_TIMEOUT_S */
  double variant_time_s;       /* timing budget per variant; 0: the device's default */
  bool no_cache;               /* neither read nor write the compile cache */
};

#define TUNE_DEFAULT_TIMEOUT_S 60.0
/* The default --budget on the host device (the emulator is slow); GPUs measure all. */
#define TUNE_HOST_DEFAULT_BUDGET 24

/* Run the tuner as the options say, printing progress, messages and the result table
 * (or one JSON object) to stdout and one-line messages to stderr. Returns AT_OK (the run
 * finished, whatever the trials' statuses, including "no measurement possible here");
 * AT_USAGE (bad input: unknown device, bad shape, layout, dtype, template, strategy);
 * AT_IO / AT_NOT_A_DB / AT_DB_* (the database cannot be opened or written); AT_NOMEM;
 * AT_UNSUPPORTED (no compiler for the device), with at_last_error() saying why. */
int tune_run(const struct tune_opts *o);

/* The canonical argument string stored in runs.args, by which --resume finds a run:
 * every option that changes what is measured, in a fixed order, without --db, --resume,
 * --jobs, --json. OUT: out[len]. */
void tune_canonical_args(const struct tune_opts *o, const char *const *template_paths,
                         size_t ntemplates, char *out, size_t len);

/* ---- one measurement ---- */

struct tune_measurement {
  enum db_trial_status status;
  double median_us, min_us, max_us, spread;  /* spread: (max - min) / median */
  int64_t reps;
  char message[480];                         /* why it failed; "" when ok */
};

/* ---- the worker process (tune_worker.c) ---- */

/* One variant the worker can run: its code object (shared by the variants of a batch;
 * loaded once per worker), kernel name and launch shape. */
struct tune_job {
  const unsigned char *code;
  size_t code_size;
  const char *name;
  struct gen_launch launch;
};

struct tune_worker_cfg {
  const struct meas_backend *mb;
  int jobs;                        /* host emulator workers; 0: the CPUs */
  const struct gemm_data *data;    /* inputs and reference of the problem */
  const struct tune_job *jobs_table;
  size_t njobs;
  int64_t flush_bytes;             /* the cache-flush buffer written between repetitions */
  double variant_time_s;           /* timing budget per variant */
};

struct tune_worker;

/* Fork a worker that opens the backend's device 0 and waits for requests. The tables in
 * cfg must stay unchanged while it lives (the worker is a fork: it reads its own copy).
 * OUT: *out. AT_OK; AT_UNSUPPORTED with the backend's reason when the device cannot be
 * opened (no driver, no such GPU); AT_IO when fork or pipe fail; AT_NOMEM. */
int tune_worker_start(const struct tune_worker_cfg *cfg, struct tune_worker **out);

/* Measure job `job` by the protocol (docs/measure.md) in the worker, waiting at most
 * timeout_s. OUT: *m, any status: a worker that dies (a fault) or misses the deadline
 * (SIGKILLed: a timeout) is replaced by a fresh one before the next job. AT_OK; AT_IO
 * or AT_UNSUPPORTED when no worker can be started any more. */
int tune_worker_run(struct tune_worker *w, size_t job, double timeout_s,
                    struct tune_measurement *m);

/* How many workers were replaced after a fault or timeout. */
size_t tune_worker_restarts(const struct tune_worker *w);

/* Stop the worker (close its pipe, reap it) and free; NULL is accepted. */
void tune_worker_stop(struct tune_worker *w);

/* ---- replay (meas_replay.c): answers from trials already in a database ---- */

struct meas_replay;

/* Load the trials of (device, kernel, problem) from the database at db_path (read-only);
 * the latest trial per config answers for it. OUT: *out. AT_OK (possibly with no
 * trials), or db_open's status. */
int meas_replay_open(const char *db_path, const char *device, const char *kernel,
                     const struct db_problem *problem, struct meas_replay **out);
void meas_replay_close(struct meas_replay *r);
/* The configs it knows, in first-seen order. */
size_t meas_replay_count(const struct meas_replay *r);
const char *meas_replay_config(const struct meas_replay *r, size_t i);
/* The recorded outcome of `config` (canonical text). AT_OK with *m; AT_NOT_FOUND
 * ("replay: no trial of config '...' in the database") when there is no record: a
 * result is never invented. */
int meas_replay_lookup(const struct meas_replay *r, const char *config,
                       struct tune_measurement *m);

/* Coordinates for search.h from canonical config texts: each key is a dim, each value
 * its rank among the values that key takes (numeric order). Keys must be the same in
 * every config. OUT: *coords (malloc'd, n * *ndims), *ndims. AT_OK, AT_PARSE, AT_NOMEM. */
int tune_coords_from_configs(const char *const *configs, size_t n, int32_t **coords,
                             size_t *ndims);

#endif
