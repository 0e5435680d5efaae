/*
 * tune_internal.h - the state of one tuning run (templates, problem, database, worker,
 * progress), shared by the engine (tune.c) and the report module that prints it
 * (tuner/cli/tune_report.c) through struct tune_report; nothing else may use it.
 */
#ifndef AT_TUNER_TUNE_INTERNAL_H
#define AT_TUNER_TUNE_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "db/db.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "tuner/device/smi.h"
#include "base/device.h"
#include "tuner/search/search.h"
#include "tuner/engine/tune.h"


struct tpl {
  char path[PATH_MAX];
  char common[PATH_MAX];
  struct tmpl *t;
  bool baseline;
  char skip[300];            /* why this template was left out ("" when it runs) */
  bool load_failed;          /* skipped for every problem */
  /* per problem */
  int64_t dims[TMPL_MAX_DIMS];
  struct gen_space *space;
  int64_t *configs;
  size_t nconfigs, np;       /* the configs compiled (all valid ones, or a preselection) */
  size_t nvalid;             /* the valid configs of the space */
  /* a preselection (tune.c's preselect): the valid configs and the strategy's whole order
   * over them (indices into pool, the default's left out), its first `next` taken; the
   * rest replace picks that did not compile (refill). NULL: no preselection. quota: the
   * search points the refill makes up (the budget; with --shard, the picks this shard
   * owns, its share of the budget) */
  int64_t *pool;
  size_t *order, norder, next, quota;
  struct bld_result br;
  size_t *ok;                /* bld variant index of each ok variant (search points) */
  size_t nok;
  size_t *job_of;            /* bld variant index -> job index; SIZE_MAX: none */
  /* compile on demand (anneal, genetic with a budget: tune.c's compile_near) */
  bool lazy;
  size_t *vof;               /* config index -> bld variant index; SIZE_MAX: not compiled */
  size_t *cfg_of;            /* bld variant index -> config index */
  int32_t *coords;           /* every config's search coordinates, ndims each */
  size_t ndims;
  struct meas_result *res;
  bool *have;
  double *model;             /* per ok point */
  size_t foreign;            /* --shard: the index among p->configs of the one config kept
                                that another shard measures (the middle one, kept to find
                                the default by); SIZE_MAX: none */
  size_t def;                /* bld variant index of the default config; SIZE_MAX none */
  size_t mid;                /* index of the middle valid config among the compiled */
  size_t measured, failed, by_status[DB_TRIAL_STATUS_COUNT];
  size_t best;               /* bld variant index; SIZE_MAX none */
  struct search_result sr;
};

/* The run's provenance and owner (tuner/engine/run_prov.c). */
struct tune_prov {
  char host[256], boot[64], cpu[160], os[160];
  int64_t start_ticks;               /* this process's start time, /proc/self/stat */
  struct smi_gpu *smi;               /* NULL: no management library answers for the GPU */
  struct smi_info info;
  struct db_clocks start;            /* at the run's start */
  int64_t sm_max;                    /* the highest SM clock seen in the run; -1: none */
  int64_t sm_low;                    /* the lowest non-idle sample around the current
                                        measurement; -1: none */
  double last_beat;                  /* at_now_s() of the last heartbeat */
  char beat_at[32];                  /* its time, ISO 8601 */
};

/* `--where` (tune_where.c): per named parameter, the values a config may have. */
#define TUNE_WHERE_MAX 16
#define TUNE_WHERE_MAX_VALUES 16
struct tune_where_term {
  char name[48];
  int64_t v[TUNE_WHERE_MAX_VALUES];
  size_t nv;
  bool matched; /* some template of the run has this parameter */
};
struct tune_where {
  struct tune_where_term t[TUNE_WHERE_MAX];
  size_t n;
};
struct gen_space;
/* Parse `--where` text (NULL: no filter). AT_OK; AT_USAGE naming what is wrong. */
int tune_where_parse(const char *text, struct tune_where *w);
/* Keep the configs (n of the space's parameter count each, in place) that pass; marks the
 * terms the space has. Returns how many are kept (all when the space has none). */
size_t tune_where_filter(struct tune_where *w, const struct gen_space *space,
                         int64_t *configs, size_t n);
/* A parameter named that no space filtered so far has; NULL when every one matched. */
const char *tune_where_unmatched(const struct tune_where *w);

struct tuner {
  const struct tune_opts *o;
  struct tune_where where;           /* --where, parsed */
  const struct dev_profile *dev;     /* the device measured on */
  const struct dev_profile *space_dev; /* the device whose space is spanned */
  char dev_name[80], arch[48];       /* as recorded in trials */
  const struct op_engine *op;
  const char *dtype;                 /* the templates' dtype (op->dtype), NULL: none */
  struct tpl tpls[TUNE_MAX_TEMPLATES + 1];
  size_t ntpls;
  struct db *db;
  char db_path[PATH_MAX];
  char seed_cache[PATH_MAX];         /* making a bundle: the user's compile cache, which
                                        seeds the bundle's and takes its compiles ("":
                                        none, --no-cache) */
  char run_uuid[DB_UUID_LEN + 1];
  bool run_put, resumed;
  bool ended_before;                 /* o->resume_ended found the run ended: nothing to do */
  char args[4096];
  const struct meas_backend *mb;     /* NULL: no measurement possible here */
  struct meas_device_id dev_id;      /* what the probe of the GPU said (pci bus id) */
  char no_meas[400];
  int64_t budget;                    /* per template; 0: all */
  double timeout_s, variant_time_s;
  /* resumed trials: "kernel|dims|config" -> measurement */
  char **known_keys;
  struct meas_result *known;
  size_t nknown, capknown;
  /* the current problem */
  size_t cur;
  struct op_problem prob;            /* bound while the problem is measured */
  bool bound;
  /* the measurement workers (deal.c): one per GPU of --gpus, or per host worker */
  size_t nworkers;
  struct meas_worker *workers[TUNE_MAX_GPUS];
  int gpu_ord[TUNE_MAX_GPUS];        /* each worker's GPU ordinal (host: its host ordinal) */
  char gpu_uuid[TUNE_MAX_GPUS][96];  /* and UUID; "" when not known */
  bool retired[TUNE_MAX_GPUS];       /* its GPU faulted: no more work for it this run */
  size_t measured_on[TUNE_MAX_GPUS]; /* measurements asked of each worker */
  pthread_mutex_t mu;                /* held by a dealer thread touching the tuner */
  struct meas_job *jobs;
  size_t njobs;
  size_t ref_job;                    /* the reference's job (checks_against_reference) */
  struct meas_worker_cfg wcfg;       /* the worker's, kept to restart it with more jobs */
  /* progress */
  double t0, meas_t0, meas_spent;
  size_t compiled, compile_total, verified, timed, failed, fresh;
  size_t planned, evals;
  double best_us;
  size_t trials_recorded, trials_resumed, restarts;
  bool reference_failed;
  double wall_s;                     /* the whole run, set at its end */
  size_t measured_ok;
  size_t variants, variants_ok;      /* compiled or read from the cache; of those ok */
  char backend[32], toolchain[160];  /* of the last compile */
  struct tune_prov prov;
};

/* ---- run_prov.c: the run's provenance (docs/database.md) and its owner ---- */

/* Who and where this process is, and the GPU's management library when a GPU is
 * measured: at the run's start, once. OUT: why[why_len]: "" or why the GPU's provenance
 * is not known (for one warning). */
void tune_prov_init(struct tuner *tu, char *why, size_t why_len);
void tune_prov_release(struct tuner *tu);
/* Fill a new run record's provenance and owner (this process, heartbeat now). */
void tune_prov_run(struct tuner *tu, struct db_run *r);
/* Sample the SM clock right before and right after one measurement; after, fill the
 * trial's sm_clock_mhz and throttled (left -1 when not known). */
void tune_prov_before(struct tuner *tu);
void tune_prov_after(struct tuner *tu, int64_t *sm_clock_mhz, int64_t *throttled);
/* Refresh the run's heartbeat when TUNE_HEARTBEAT_S have passed since the last. */
int tune_prov_heartbeat(struct tuner *tu);
/* The clocks now, for the run's end. */
void tune_prov_end(struct tuner *tu, struct db_clocks *end);
/* Claim run `uuid` for --resume (db_claim_run): AT_OK when it is ours now; AT_USAGE
 * with one line naming the live owner when it is not (nothing changed). */
int tune_prov_claim(struct tuner *tu, const char *uuid);

/* Whether p's default variant is its middle (or reference) config: an op that checks
 * against the reference needs exactly that one. */
static inline bool tpl_default_is_mid(const struct tpl *p)
{
  return p->def != SIZE_MAX && (p->cfg_of ? p->cfg_of[p->def] : p->def) == p->mid;
}

/* "gemm_simt" from "templates/gemm/gemm_simt.h", into out[len]. */
const char *tune_base_name(const char *path, char *out, size_t len);

/* ---- tune.c ---- */

/* One line through the report's warn (after clearing the progress line). */
void tune_warn(const struct tuner *tu, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Measure (or recall) bld variant bv of p (job: its job) on worker w and take the
 * outcome: record it, count it. With `locked` the caller holds tu->mu, which is let go
 * while the worker measures (deal.c's threads). A variant another shard owns is left
 * alone. OUT: *lost: true when the worker could not be (re)started, its GPU is gone
 * (rc is then meas_worker_run's). AT_OK; AT_INTERRUPTED; a database status. */
int tune_measure_on(struct tuner *tu, struct tpl *p, size_t bv, size_t job, size_t w,
                    bool locked, bool *lost);

/* ---- tune_record.c: the run and its trials in the database ---- */

/* Open the run's database once (creating it). AT_OK or db_open's status. */
int tune_open_db(struct tuner *tu);
/* The run's canonical arguments and uuid: with --resume the unfinished run of the same
 * arguments, claimed, with the trials it holds loaded as known answers (or, with
 * tune_opts.resume_ended, the latest ended one: tu->ended_before); else a new uuid. */
int tune_open_run(struct tuner *tu);
/* Put the run record once, before its first trial (toolchain may be NULL). */
int tune_put_run(struct tuner *tu, const char *toolchain);
/* The key of a known answer: kernel, "dtype layout dims" and config. OUT: out[len]. */
void tune_known_key(char *out, size_t len, const char *kernel, const char *dims,
                    const char *config);
/* The resumed run's trial for a key; NULL when none. */
const struct meas_result *tune_known_find(const struct tuner *tu, const char *key);
/* Commit one outcome of bld variant bv of p as a trial. sm_clock_mhz, throttled:
 * tune_prov_after's for a measurement, -1 for a verdict; w: the worker that measured
 * it, SIZE_MAX for a verdict. AT_OK or a database status. */
int tune_record(struct tuner *tu, const struct tpl *p, size_t bv,
                const struct meas_result *m, int64_t sm_clock_mhz, int64_t throttled,
                size_t w);

/* ---- tune_warm.c: the bo strategy's warm start (docs/search.md) ---- */

/* The prior of p's search points pts[0..npts) (search_points' indices) for bo: the ok
 * trials of p's template, same op, dtype and layout, on this device (else this arch;
 * the same template hash preferred) at the nearest other problem by db_shape_d2, taken
 * from no trial of this run, each time scaled by the FLOPs of the two problems; matched
 * by config text. OUT: *prior (npts, NAN where the problem has no trial; NULL when no
 * recorded problem covers WARM_MIN_POINTS points), note[note_len] ("" or "warm start: N
 * trials from DIMS on ..."). AT_OK (with or without a prior), AT_NOMEM, a db status. */
int tune_warm_prior(const struct tuner *tu, const struct tpl *p, const size_t *pts,
                    size_t npts, double **prior, char *note, size_t note_len);

/* ---- shard.c: --shard I/N ---- */

/* Whether this shard owns (kernel, the bound problem[, config]; config NULL: the pair).
 * True without shards. */
bool tune_owns(const struct tuner *tu, const char *kernel, const char *config);
/* tune_owns for config cfg of p's space (its text). OUT: *mine. */
int tune_owns_config(const struct tuner *tu, const struct tpl *p, const int64_t *cfg,
                     bool *mine);
/* Keep the configs of p (spanned, preselected) that this shard measures, and the middle
 * one (p->foreign when another shard's). AT_OK, AT_NOMEM. */
int tune_shard_configs(const struct tuner *tu, struct tpl *p);

/* ---- deal.c: the measurement workers and the dealing of work to them ---- */

/* Resolve --gpus / --gpu into tu's workers' ordinals and UUIDs (probing each GPU in a
 * short-lived child). AT_OK; AT_USAGE (an ordinal the runtime lacks; a repeated one; one
 * of several that is not the --device profile; --all-gpus: none is). */
int tune_workers_plan(struct tuner *tu);
/* Whether GPU `ord`, as the runtime described it (*id), is the --device profile
 * (dev_present_is: an H100 measured as h200 would file its times under h200). AT_OK, or
 * AT_USAGE with a one-line message that names `flag` ("", "--gpus" or "--all-gpus") and
 * the profile the GPU is. An id without an arch (a backend that cannot say) passes. */
int tune_gpu_is_profile(const struct tuner *tu, const char *flag, int ord,
                        const struct meas_device_id *id);
/* Start one worker per planned GPU from tu->wcfg (device ordinal and emulator threads
 * set per worker). A GPU whose worker cannot start is retired with one warning; AT_OK
 * when one starts at least, else the first failure's status. */
int tune_workers_start(struct tuner *tu);
/* Stop every worker (counting their restarts into tu->restarts). */
void tune_workers_stop(struct tuner *tu);
/* The first worker not retired; SIZE_MAX when none is left. */
size_t tune_worker_live(const struct tuner *tu);
/* Fault injection for tests (docs/cluster.md): with $AUTOTUNE_FAULT_LOSE_GPU=ORD:N the
 * GPU of ordinal ORD is lost at the N-th measurement asked of it (N >= 1). Counts the
 * measurement; true when this one is to be lost. */
#define TUNE_FAULT_LOSE_GPU_ENV "AUTOTUNE_FAULT_LOSE_GPU"
bool tune_fault_lose_gpu(struct tuner *tu, size_t w);
/* Retire worker w after its GPU was lost (one warning naming it). */
void tune_worker_retire(struct tuner *tu, size_t w, const char *why);
/* Measure the variants bvs[0..n) of p (bld variant indices, each once; those already
 * had are skipped), dealt to the live workers in order, in parallel, until done, an
 * interrupt or (timed) the time budget is spent. A worker whose GPU is lost is retired
 * and its variant dealt again. AT_OK; the first failure's status otherwise. */
int tune_deal(struct tuner *tu, struct tpl *p, const size_t *bvs, size_t n, bool timed);

/* ---- tune_templates.c ---- */

/* The templates to tune and the baseline, into tu->tpls. AT_OK; AT_USAGE (an unknown
 * template, one not in the bundle); AT_UNSUPPORTED (the op's folder has none). */
int tune_collect_templates(struct tuner *tu);
/* Making a bundle: copy the templates into the staging folder; the copies are the
 * templates from here on. AT_OK, AT_IO, AT_NOMEM. */
int tune_stage_templates(struct tuner *tu);
/* Load every template (through the parse cache); a failure is one warning and the
 * template is skipped. */
void tune_load_templates(struct tuner *tu);

#endif
