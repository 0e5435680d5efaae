/*
 * simulate.h - replaying fully measured spaces through the search strategies
 * (`autotune simulate`, bench/bench_search.c): a recorded space (every config with its
 * measured cost, failures included) read from the tuning database's exhaustive runs or
 * from a Kernel Tuner cache file (kt_cache.c), and the statistics of each strategy over
 * many seeds: the fraction of the optimum reached after k evaluations and the
 * evaluations needed to reach 0.95 and 0.98 of it. Nothing here measures anything.
 */
#ifndef AT_TUNER_SEARCH_SIMULATE_H
#define AT_TUNER_SEARCH_SIMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tuner/search/search.h"

/* Why a recorded config has no time: the Kernel Tuner names (a cache's "time" value)
 * and our trial statuses. X(NAME, "kernel tuner name", "db trial status") */
#define SIM_FAIL_MAP(X)                                                                  \
  X(NONE, "", "ok")                                                                      \
  X(INVALID, "InvalidConfig", "pruned")                                                  \
  X(COMPILE, "CompilationFailedConfig", "compile_error")                                 \
  X(RUNTIME, "RuntimeFailedConfig", "launch_error")                                      \
  X(ERROR, "ErrorConfig", "fault")

enum sim_fail {
#define SIM_FAIL_ENUM(name, kt, status) SIM_FAIL_##name,
  SIM_FAIL_MAP(SIM_FAIL_ENUM)
#undef SIM_FAIL_ENUM
  SIM_FAIL_COUNT
};
/* The db trial status name of f ("ok", "pruned", ...). */
const char *sim_fail_status(enum sim_fail f);

/* A fully measured space. Owned strings; free with sim_space_free. */
struct sim_space {
  char *source;            /* "FILE" or "FILE: run UUID" */
  char *device, *kernel;   /* as recorded (a cache's device_name, kernel_name) */
  char *problem;           /* dims text "m=64,n=64,k=64" or a cache's problem_size */
  char *objective;         /* what cost is: "time" (microseconds or milliseconds) */
  size_t n, ndims;
  char **dim_names;        /* ndims */
  bool *categorical;       /* ndims: values without an order (strings, booleans, mixed) */
  char **configs;          /* n canonical "KEY=VALUE,..." texts */
  int32_t *coords;         /* n x ndims value positions (search_space.coords) */
  double *cost;            /* n; INFINITY for a failed config */
  enum sim_fail *fail;     /* n; SIM_FAIL_NONE where cost is finite */
};
void sim_space_free(struct sim_space *s);

/* Fill s->ndims, dim_names, categorical and coords from s->configs[0..n) (the rule at
 * the top of simulate.c). AT_OK; AT_PARSE (configs with other keys, not KEY=VALUE);
 * AT_NOMEM. For the readers of recorded spaces. */
int sim_space_coords(struct sim_space *s);

/*
 * Read a Kernel Tuner cache file (its JSON format as Kernel Tuner writes it, gzip or
 * not; an unclosed cache, as an interrupted run leaves it, is closed as Kernel Tuner
 * closes it). Each entry of "cache" is a config; its "time" (the objective) a number or
 * a failure name (SIM_FAIL_MAP). A parameter whose values are all numbers is ordinal,
 * any other categorical. OUT: *out. Returns AT_OK; AT_IO (unreadable), AT_PARSE ("FILE:
 * what is wrong": not JSON, no tune_params_keys, an entry without a parameter, a value
 * not in tune_params); AT_NOMEM.
 */
int sim_space_from_kt(const char *path, struct sim_space **out);
/* True when path reads (gzip or not) as a Kernel Tuner cache: "tune_params_keys" in its
 * first 64 KiB and no JSON lines header ("autotune_jsonl"). False when unreadable. */
bool sim_is_kt_cache(const char *path);

/*
 * Record a Kernel Tuner space (from sim_space_from_kt) in the database, in one
 * transaction: one run (strategy "kernel_tuner") and one trial per config, its time in
 * microseconds, a failure under the status SIM_FAIL_MAP names with Kernel Tuner's name as
 * the message. Names are the cache's with characters outside [A-Za-z0-9_.+:-] as '_':
 * device and arch = device_name, op and kernel = kernel_name, dims p0, p1, ... =
 * problem_size, dtype "unknown". Uuids come from the content, so a second import adds
 * nothing. OUT: *stats. AT_OK; AT_PARSE (a config value that is not a name, a
 * problem_size that is not positive integers), with nothing written; the database's
 * status.
 */
struct db;
struct db_merge_stats;
/* What sim_kt_import would refuse, checked before a database is opened: AT_OK, AT_PARSE
 * (a config value that is not a name, a problem_size that is not positive integers). */
int sim_kt_check(const struct sim_space *s);
int sim_kt_import(struct db *db, const struct sim_space *s, struct db_merge_stats *stats);

/*
 * The spaces of a tuning database: one per exhaustive run (or Kernel Tuner import,
 * strategy "kernel_tuner") and (device, kernel, problem) with at least SIM_MIN_CONFIGS configs (a baseline's single trial is no
 * space), the latest trial of each config, failed ones (any status but ok) at
 * INFINITY; device or kernel, when not NULL, keep only those. OUT: *out (an array),
 * *count; AT_OK (maybe none), db_open's status, AT_PARSE (configs that are not integer
 * KEY=VALUE lists), AT_NOMEM. Free each with sim_space_free, then the array.
 */
int sim_spaces_from_db(const char *db_path, const char *device, const char *kernel,
                       struct sim_space ***out, size_t *count);

#define SIM_MIN_CONFIGS 2

/* The evaluation counts the statistics are given at. */
#define SIM_CHECKPOINTS {10, 25, 50, 100, 200, 400}
#define SIM_NCHECK 6
#define SIM_NTARGET 2     /* fractions of the optimum: 0.95, 0.98 */
#define SIM_TARGETS {0.95, 0.98}

/* One strategy on one space over many seeds. Fractions are optimum / best found so far
 * (0 while nothing finite has been found); after the whole space has been evaluated a
 * later checkpoint repeats the last figure. */
struct sim_stats {
  enum search_strategy strategy;
  size_t seeds;
  double mean[SIM_NCHECK], median[SIM_NCHECK];
  /* evaluations to reach each target: the median over seeds (INFINITY when fewer than
   * half reached it within the budget) and how many seeds reached it */
  double to_median[SIM_NTARGET];
  size_t reached[SIM_NTARGET];
  double seconds;          /* wall time of all seeds (the strategy's own overhead) */
};

/*
 * Replay space through strategy for seeds 1..seeds, each with a budget of `budget`
 * evaluations (0: SIM's largest checkpoint). OUT: *out. AT_OK; AT_USAGE (a space with
 * no finite cost, a strategy that needs a model); search_run's status.
 */
int sim_run(const struct sim_space *space, enum search_strategy strategy, size_t seeds,
            size_t budget, struct sim_stats *out);
/* The same with a prior (search_space.model: space->n costs, NAN unknown; NULL: none),
 * what `simulate --warm-from` replays bo with. */
int sim_run_prior(const struct sim_space *space, enum search_strategy strategy,
                  size_t seeds, size_t budget, const double *prior, struct sim_stats *out);

/*
 * A warm start of `to` from the recorded space `from` (docs/search.md, warm start): each
 * config of `to` takes the cost `from` recorded for the same choices (the config text
 * less the parameters constant in either space, the problem's own, as TRANS_A for a
 * layout); NAN where `from` has none, INFINITY where it failed there. OUT: *prior (to->n), *matched (how
 * many configs have a finite cost). AT_OK; AT_USAGE ("simulate: ..." when the kernels
 * differ or fewer than 2 configs match); AT_NOMEM.
 */
int sim_warm_prior(const struct sim_space *from, const struct sim_space *to,
                   double **prior, size_t *matched);

#endif
