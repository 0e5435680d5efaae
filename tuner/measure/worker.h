/*
 * worker.h - the measurement worker: a forked process that owns a measurement backend's
 * context, an op's device buffers and the loaded code objects, and measures one variant
 * per request by the one protocol of docs/measure.md (verify, warm-up, cache flush,
 * adaptive repetitions; median, min, max, spread). A variant that crashes the worker,
 * poisons its GPU context or never returns costs one worker, never the tuner.
 *
 * What is measured is an op's business, given to the worker as a struct meas_op: its
 * inputs (setup), its launch arguments, and its check of one launch's outputs. The
 * worker knows nothing else of gemm, attention or a user's template.
 */
#ifndef AT_TUNER_MEASURE_WORKER_H
#define AT_TUNER_MEASURE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "generator/emit.h"
#include "tuner/measure/meas.h"

/* The outcome of one variant, as a trial records it. */
struct meas_result {
  enum db_trial_status status;
  double median_us, min_us, max_us, spread;  /* spread: (max - min) / median */
  int64_t reps;
  int64_t flush_bytes;                       /* written between repetitions; 0: none */
  char message[480];                         /* why it failed; "" when ok */
};

/* One variant the worker can run: its code object (shared by the variants of a batch;
 * loaded once per worker), kernel name (a copy: the table outlives the build results it
 * was made from as those grow) and launch shape. */
struct meas_job {
  const unsigned char *code;
  size_t code_size;
  char name[GEN_NAME_MAX];
  struct gen_launch launch;
};

/*
 * An op's side of a measurement, called in the worker process only. `ctx` is the op's
 * own (read-only: the worker is a fork and reads its copy; state that must outlive a
 * worker, such as a reference output, lives in memory the op mapped MAP_SHARED before
 * the fork). Every function returns AT_OK or the backend's status (AT_DEVICE for a
 * fault), with at_last_error() saying why.
 */
struct meas_op {
  const char *name;                           /* "gemm" */
  /* Allocate the device buffers and upload the inputs. OUT: *state. */
  int (*setup)(const void *ctx, const struct meas_backend *mb, struct meas_ctx *mc,
               void **state);
  void (*release)(void *state, const struct meas_backend *mb, struct meas_ctx *mc);
  /* The kernel arguments of a timed launch: pointers to each value, and their kinds
   * (struct meas_launch's letters). OUT: *args, *kinds, owned by state. Called only after
   * `verify` of the same job, so an op may key them on what that verify saw or built
   * there (its workspace, the gemm op's tensor maps). */
  void (*args)(void *state, void ***args, const char **kinds);
  /* Reset the outputs, launch kernel k once (launch shape l), download and check the
   * outputs. `reference`: this is the run's reference config (meas_worker_cfg.ref_job),
   * whose outputs an op that checks against a reference keeps (in shared memory) and
   * accepts. OUT: *bad (elements wrong; 0 when right), msg (the first). */
  int (*verify)(void *state, const struct meas_backend *mb, struct meas_ctx *mc,
                meas_kernel k, const struct gen_launch *l, bool reference, int64_t *bad,
                char *msg, size_t msg_len);
};

struct meas_worker_cfg {
  const struct meas_backend *mb;
  int device_index;                /* the backend's device ordinal (--gpu); 0 on the host */
  int jobs;                        /* host emulator workers; 0: the CPUs */
  const struct meas_op *op;
  const void *op_ctx;
  const struct meas_job *jobs_table;
  size_t njobs;
  size_t ref_job;                  /* the reference config's job; SIZE_MAX: none */
  int64_t flush_bytes;             /* the cache-flush buffer written between repetitions */
  double variant_time_s;           /* timing budget per variant */
};

struct meas_worker;

/* Fork a worker that opens the backend's device cfg->device_index, runs op->setup and
 * waits for requests. The tables in cfg must stay unchanged while it lives. OUT: *out.
 * AT_OK; AT_UNSUPPORTED with the backend's reason when the device cannot be opened (no
 * driver, no GPU); AT_USAGE when the runtime has GPUs but not that ordinal; AT_IO when
 * fork or pipe fail; AT_NOMEM. */
int meas_worker_start(const struct meas_worker_cfg *cfg, struct meas_worker **out);

/* Measure job `job` by the protocol in the worker, waiting at most timeout_s. OUT: *m,
 * any status: a worker that dies (a fault) or misses the deadline (SIGKILLed: a timeout)
 * is replaced by a fresh one before the next job. AT_OK; AT_IO or AT_UNSUPPORTED when no
 * worker can be started any more. */
int meas_worker_run(struct meas_worker *w, size_t job, double timeout_s, struct meas_result *m);

/* How many workers were replaced after a fault or timeout. */
size_t meas_worker_restarts(const struct meas_worker *w);

/* Stop the worker (close its pipe, reap it) and free; NULL is accepted. */
void meas_worker_stop(struct meas_worker *w);

/* What a worker says of the device it opened. */
struct meas_device_id {
  char pci_bus_id[32];             /* "0000:c1:00.0"; "" where the backend has none */
  char name[128], arch[32];        /* the backend's describe: "NVIDIA H200", "sm_90"; "" if
                                      it has none or it failed */
};

/* Whether backend mb opens its device `index` here, asked of a short-lived child so
 * that the calling process never holds a GPU context. OUT: *id (may be NULL; cleared on
 * entry). AT_OK; else meas_worker_start's status (AT_UNSUPPORTED: no such GPU runtime or
 * device here; AT_USAGE: no such ordinal) with the reason in why[why_len]. */
int meas_device_probe(const struct meas_backend *mb, int index, struct meas_device_id *id,
                      char *why, size_t why_len);

#endif
