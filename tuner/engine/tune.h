/*
 * tune.h - the one tuning engine, for every op (gemm, attention, a user's template: an
 * op fills struct op_engine, tuner/ops/op_iface.h). For each problem and each template
 * it spans the space for the device, compiles what the search will measure (tuner/
 * compile/build.h), lets a strategy (tuner/search/search.h) pick which to measure,
 * measures them in worker processes (one per GPU) that may crash or hang without taking
 * the tuner down (tuner/measure/worker.h), and commits every outcome to the tuning database as
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
/* Most measurement workers (GPUs, or host workers standing in for them) one run deals
 * work to (--gpus). */
#define TUNE_MAX_GPUS 64

struct tuner;
struct tune_report;
struct bundle;

struct tune_opts {
  const struct op_engine *op;  /* what is tuned */
  const char *device;          /* profile name or arch */
  const char *emulate;         /* host only: the profile the host stands in for; NULL */
  const char *where;           /* --where K=V[|V],...: only configs with these parameter
                                  values, in templates that have them; NULL: all */
  int gpu;                     /* the GPU ordinal measured on (--gpu); unused on the host */
  int gpus[TUNE_MAX_GPUS];     /* --gpus: the ordinals measured on at once, one worker each
                                  (on the host: host workers 0..n-1, docs/cluster.md) */
  size_t ngpus;                /* 0: just `gpu` */
  bool all_gpus;               /* --gpus all: every GPU the runtime has (host: the CPUs) */
  int shard, nshards;          /* --shard I/N: measure the I-th of N disjoint parts of the
                                  work (docs/cluster.md); nshards 0 or 1: all of it */
  const char *templates[TUNE_MAX_TEMPLATES]; /* paths; none: the op's default set */
  size_t ntemplates;
  enum search_strategy strategy;
  int64_t budget;              /* variants measured per template; 0: the default, -1: all */
  double time_budget_s;        /* wall seconds for all measurements; 0: none */
  uint64_t seed;
  const char *db_path;         /* the database (the command resolves its default) */
  bool resume;
  bool resume_ended;           /* with resume: when no unfinished run has these arguments
                                  but an ended one does, measure nothing and report that
                                  run (tune_summary.run_uuid, .ended_before): how
                                  `autotune model --resume` skips problems already done;
                                  finding no run at all is then no warning */
  int jobs;                    /* compile threads and emulator workers; 0: the CPUs */
  double timeout_s;            /* watchdog per variant; 0: TUNE_DEFAULT_TIMEOUT_S */
  double variant_time_s;       /* timing budget per variant; 0: the device's default */
  bool no_cache;               /* neither read nor write the compile cache */
  const struct bundle *bundle; /* measure from this bundle (bundle.h): its templates, its
                                  caches, never a compiler or libclang; NULL: none */
  const char *bundle_out;      /* making a bundle (bundle_make): the staging folder; the
                                  templates are copied there, everything is compiled into
                                  its cache, nothing is measured */
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
  size_t variants, variants_ok; /* compiled (or read from the cache), and of those ok */
  char device[80], arch[48];   /* as recorded in trials ("host:h100" when emulating) */
  char backend[32], toolchain[160]; /* the compile backend and its version string */
  bool measured_here;          /* false: the device is absent, nothing was measured */
  bool reference_failed;       /* an op with checks_against_reference: it failed */
  char run_uuid[DB_UUID_LEN + 1]; /* the run recorded (or found ended: ended_before) */
  bool ended_before;
};

#define TUNE_DEFAULT_TIMEOUT_S 60.0
/* Run owners (docs/database.md): a run's owner refreshes its heartbeat at most this
 * often, and another host takes it over for --resume once it is older than the lease. */
#define TUNE_HEARTBEAT_S 30.0
#define TUNE_LEASE_S 900.0
/* The default --budget on the host device (the emulator is slow); GPUs measure all. */
#define TUNE_HOST_DEFAULT_BUDGET 24

/* Run the tuner as the options say. OUT: *sum (may be NULL). Returns AT_OK (the run
 * finished, whatever the trials' statuses, including "no measurement possible here");
 * AT_USAGE (bad input: unknown device, template, strategy, budget, a --gpu the GPU
 * runtime does not have; none of these creates the database); AT_IO / AT_NOT_A_DB
 * / AT_DB_* (the database cannot be opened or written); AT_NOMEM; AT_UNSUPPORTED (no
 * compiler or no template for the device), with at_last_error() saying why. */
int tune_run(const struct tune_opts *o, struct tune_summary *sum);

/* The cache folder a run with these options uses (the parse and compile caches): a
 * bundle's, the staging folder's of one being made, none (--no-cache: ""), or NULL (the
 * default, os_cache_dir). buf[PATH_MAX] holds the first two. */
const char *tune_cache_root(const struct tune_opts *o, char *buf);

/* The canonical argument string stored in runs.args, by which --resume finds a run:
 * every option that changes what is measured, in a fixed order, without --db, --resume,
 * --jobs, --json. OUT: out[len]. */
void tune_canonical_args(const struct tune_opts *o, const char *const *template_paths,
                         size_t ntemplates, char *out, size_t len);

#endif
