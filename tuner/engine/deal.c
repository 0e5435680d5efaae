/*
 * deal.c - the run's measurement workers, one per GPU (--gpus), and the dealing of a
 * list of variants to them (tune_internal.h). Compilation is shared (the engine compiles
 * once, every worker gets the whole jobs table); only measurement is spread.
 *
 * Design note.
 *
 * One dealer thread per live worker; each takes the next variant of the list under the
 * tuner's mutex, lets the mutex go while its worker measures (tune_measure_on), and takes
 * it again to record the outcome, so the database, the counts and the progress are only
 * ever touched by one thread at a time and every trial is still committed the moment it
 * is measured. With one live worker the list is measured inline, in order: the dealing of
 * one worker is the sequential engine.
 * Invariants.
 *   1. Each variant of the list is measured at most once per run: it is taken from the
 *      list once, and dealt again only when its worker's GPU was lost before answering.
 *   2. The set of variants measured does not depend on the number of workers; only their
 *      order and which GPU measured which (trials.gpu_ordinal, gpu_uuid) do.
 *   3. A worker whose GPU is lost (meas_worker_run cannot start a worker on it any more:
 *      meas_worker_run's AT_IO / AT_UNSUPPORTED) is retired for the rest of the run, with
 *      one warning; a variant that crashes a worker is a `fault` trial as on one GPU,
 *      not a lost GPU. The run fails only when the last GPU is lost.
 *
 * On the host device, "GPUs" are host workers: N worker processes, each running the SIMT
 * emulator with its share of the CPUs (--jobs or the CPUs, divided by N, at least one),
 * recorded as host ordinals 0..N-1 with a synthetic stable UUID
 * "HOST-<FNV-1a of the host name>-<ordinal>" (docs/cluster.md).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/interrupt.h"
#include "base/os.h"
#include "base/status.h"
#include "tuner/device/detect.h"
#include "tuner/device/smi.h"
#include "tuner/engine/tune_internal.h"

/* ---- planning and lifecycle ---- */

static void host_uuid(char *out, size_t len, int ordinal)
{
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  uint64_t h = hash_fnv1a64(HASH_FNV1A64_SEED, host, strlen(host));
  snprintf(out, len, "HOST-%016" PRIx64 "-%d", h, ordinal);
}

/* The UUID of the GPU the runtime described as *id, by its management library, through
 * its PCI bus id; "" when none answers. */
static void gpu_uuid(struct tuner *tu, const struct meas_device_id *id, char *out, size_t len)
{
  char why[300];
  out[0] = '\0';
  struct smi_gpu *g = NULL;
  struct smi_info info;
  if (smi_open(tu->dev->vendor, id->pci_bus_id, &g, &info, why, sizeof why) == AT_OK)
    snprintf(out, len, "%s", info.uuid);
  smi_close(g);
}

int tune_gpu_is_profile(const struct tuner *tu, const char *flag, int ord,
                        const struct meas_device_id *id)
{
  const struct dev_profile *named = NULL;
  if (!id->arch[0] || dev_present_is(tu->dev, id->name, id->arch, &named))
    return AT_OK;
  return at_error(AT_USAGE, "%s%s%s %s: GPU %d here is '%.100s' (%s), not an %s%s%s", flag,
                  flag[0] ? " " : "", flag[0] ? "with --device" : "--device", tu->dev->name,
                  ord, id->name, id->arch, tu->dev->description,
                  named ? "; its profile is " : "", named ? named->name : "");
}

int tune_workers_plan(struct tuner *tu)
{
  const struct tune_opts *o = tu->o;
  bool host = tu->dev->vendor == DEV_HOST;
  size_t n = 0;
  if (o->all_gpus) {
    if (host) {
      long cpus = sysconf(_SC_NPROCESSORS_ONLN);
      n = cpus > 0 ? (size_t)cpus : 1;
      n = n < TUNE_MAX_GPUS ? n : TUNE_MAX_GPUS;
      for (size_t i = 0; i < n; i++)
        tu->gpu_ord[i] = (int)i;
    } else if (tu->mb) {
      /* every ordinal the runtime opens, from 0 up to the first it does not have */
      struct meas_device_id id;
      char why[300];
      while (n < TUNE_MAX_GPUS &&
             meas_device_probe(tu->mb, (int)n, &id, why, sizeof why) == AT_OK) {
        tu->gpu_ord[n] = (int)n;
        n++;
      }
    }
    if (n == 0) {
      tu->gpu_ord[0] = 0;
      n = 1;
    }
  } else if (o->ngpus > 0) {
    for (size_t i = 0; i < o->ngpus && i < TUNE_MAX_GPUS; i++) {
      if (o->gpus[i] < 0)
        return at_error(AT_USAGE, "bad --gpus ordinal %d (0, 1, ...)", o->gpus[i]);
      for (size_t j = 0; j < i; j++)
        if (o->gpus[j] == o->gpus[i])
          return at_error(AT_USAGE, "--gpus names GPU %d twice", o->gpus[i]);
      tu->gpu_ord[n++] = o->gpus[i];
    }
  } else {
    tu->gpu_ord[n++] = host ? 0 : o->gpu;
  }
  /* Several GPUs: a GPU the runtime does not have is bad input, and so is one that is
   * not the --device profile (tune.c's probe_gpu checks a lone GPU), said before anything
   * compiles; --all-gpus leaves such a GPU out, in one line, and goes on with the rest. */
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    tu->retired[kept] = false;
    tu->gpu_ord[kept] = tu->gpu_ord[i];
    if (host) {
      host_uuid(tu->gpu_uuid[kept], sizeof tu->gpu_uuid[kept], tu->gpu_ord[i]);
    } else if (tu->mb && n > 1) {
      struct meas_device_id id;
      char why[300];
      int rc = meas_device_probe(tu->mb, tu->gpu_ord[i], &id, why, sizeof why);
      if (rc == AT_USAGE)
        return at_error(rc, "--gpus: %s", why);
      if (rc == AT_OK &&
          (rc = tune_gpu_is_profile(tu, o->all_gpus ? "--all-gpus" : "--gpus", tu->gpu_ord[i],
                                    &id)) != AT_OK) {
        if (!o->all_gpus)
          return rc;
        tune_warn(tu, "%s: left out", at_last_error());
        at_error_clear();
        continue;
      }
      if (rc == AT_OK)
        gpu_uuid(tu, &id, tu->gpu_uuid[kept], sizeof tu->gpu_uuid[kept]);
      else
        tu->gpu_uuid[kept][0] = '\0';
    }
    kept++;
  }
  if (kept == 0)
    return at_error(AT_USAGE, "--all-gpus: no GPU here is an %s", tu->dev->description);
  tu->nworkers = kept;
  return AT_OK;
}

int tune_workers_start(struct tuner *tu)
{
  bool host = tu->mb == &meas_host;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = tu->o->jobs > 0 ? tu->o->jobs : cpus > 0 ? (int)cpus : 1;
  size_t live = 0;
  int first_rc = AT_OK;
  char first_msg[600] = "";
  for (size_t i = 0; i < tu->nworkers; i++) {
    if (tu->retired[i])
      continue;
    struct meas_worker_cfg c = tu->wcfg;
    c.device_index = host ? 0 : tu->gpu_ord[i];
    if (host) /* the CPUs shared among the host workers */
      c.jobs = threads / (int)tu->nworkers > 0 ? threads / (int)tu->nworkers : 1;
    int rc = meas_worker_start(&c, &tu->workers[i]);
    if (rc == AT_OK) {
      live++;
      continue;
    }
    if (first_rc == AT_OK) {
      first_rc = rc;
      snprintf(first_msg, sizeof first_msg, "%s", at_last_error());
    }
    if (tu->nworkers > 1)
      tune_worker_retire(tu, i, at_last_error());
  }
  if (live == 0)
    return at_error(first_rc, "%s", first_msg);
  return AT_OK;
}

void tune_workers_stop(struct tuner *tu)
{
  for (size_t i = 0; i < tu->nworkers; i++) {
    if (!tu->workers[i])
      continue;
    tu->restarts += meas_worker_restarts(tu->workers[i]);
    meas_worker_stop(tu->workers[i]);
    tu->workers[i] = NULL;
  }
}

size_t tune_worker_live(const struct tuner *tu)
{
  for (size_t i = 0; i < tu->nworkers; i++)
    if (!tu->retired[i])
      return i;
  return SIZE_MAX;
}

bool tune_fault_lose_gpu(struct tuner *tu, size_t w)
{
  size_t n = ++tu->measured_on[w];
  const char *v = getenv(TUNE_FAULT_LOSE_GPU_ENV);
  int ord;
  unsigned long at;
  return v && sscanf(v, "%d:%lu", &ord, &at) == 2 && ord == tu->gpu_ord[w] && n == at;
}

void tune_worker_retire(struct tuner *tu, size_t w, const char *why)
{
  if (tu->retired[w])
    return;
  tu->retired[w] = true;
  if (tu->workers[w]) {
    tu->restarts += meas_worker_restarts(tu->workers[w]);
    meas_worker_stop(tu->workers[w]);
    tu->workers[w] = NULL;
  }
  tune_warn(tu, "retiring GPU %d (%s): %.300s; its work goes to the other GPUs",
            tu->gpu_ord[w], tu->gpu_uuid[w][0] ? tu->gpu_uuid[w] : "uuid not known", why);
}

/* ---- dealing ---- */

struct deal {
  struct tuner *tu;
  struct tpl *p;
  const size_t *bvs;
  size_t n, next;
  bool timed;           /* the time budget stops the dealing */
  size_t *again;        /* variants whose GPU was lost before they were measured */
  size_t nagain;
  int rc;               /* the first failure */
  char msg[1024];
};

/* Whether the time budget of all measurement is spent. */
static bool out_of_time(const struct tuner *tu)
{
  return tu->o->time_budget_s > 0 && at_now_s() - tu->meas_t0 >= tu->o->time_budget_s;
}

/* Under tu->mu: the next variant to measure, SIZE_MAX when none is left or the dealing
 * stops (a failure, an interrupt, the time budget). */
static size_t take(struct deal *d)
{
  if (d->rc != AT_OK || (d->timed && out_of_time(d->tu)))
    return SIZE_MAX;
  if (intr_requested()) {
    d->rc = AT_INTERRUPTED;
    return SIZE_MAX;
  }
  if (d->nagain)
    return d->again[--d->nagain];
  while (d->next < d->n) {
    size_t bv = d->bvs[d->next++];
    if (!d->p->have[bv])
      return bv;
  }
  return SIZE_MAX;
}

static void fail(struct deal *d, int rc)
{
  if (d->rc == AT_OK) {
    d->rc = rc;
    snprintf(d->msg, sizeof d->msg, "%s", at_last_error());
  }
}

struct dealer {
  struct deal *d;
  size_t w;
};

static void *dealer(void *arg)
{
  struct dealer *dl = arg;
  struct deal *d = dl->d;
  struct tuner *tu = d->tu;
  pthread_mutex_lock(&tu->mu);
  for (size_t bv; (bv = take(d)) != SIZE_MAX;) {
    bool lost;
    int rc = tune_measure_on(tu, d->p, bv, d->p->job_of[bv], dl->w, true, &lost);
    if (lost) {
      d->again[d->nagain++] = bv;
      tune_worker_retire(tu, dl->w, at_last_error());
      if (tune_worker_live(tu) == SIZE_MAX)
        fail(d, rc); /* the last GPU: the run cannot go on */
      break;
    }
    if (rc != AT_OK)
      fail(d, rc);
  }
  pthread_mutex_unlock(&tu->mu);
  return NULL;
}

int tune_deal(struct tuner *tu, struct tpl *p, const size_t *bvs, size_t n, bool timed)
{
  struct deal d = {.tu = tu, .p = p, .bvs = bvs, .n = n, .timed = timed, .rc = AT_OK};
  size_t live = 0;
  for (size_t i = 0; i < tu->nworkers; i++)
    live += !tu->retired[i];
  if (live <= 1 || n <= 1) { /* one worker: in order, on this thread */
    for (size_t i = 0; i < n; i++) {
      if (timed && out_of_time(tu))
        break;
      size_t w = tune_worker_live(tu);
      bool lost;
      int rc = tune_measure_on(tu, p, bvs[i], p->job_of[bvs[i]], w, false, &lost);
      if (lost) {
        tune_worker_retire(tu, w, at_last_error());
        if (tune_worker_live(tu) == SIZE_MAX)
          return rc;
        i--; /* the next GPU measures it */
        continue;
      }
      if (rc != AT_OK)
        return rc;
    }
    return AT_OK;
  }
  if (!(d.again = malloc(tu->nworkers * sizeof *d.again)))
    return at_error(AT_NOMEM, "out of memory");
  struct dealer dl[TUNE_MAX_GPUS];
  pthread_t th[TUNE_MAX_GPUS];
  bool started[TUNE_MAX_GPUS] = {false};
  for (size_t i = 0; i < tu->nworkers; i++) {
    if (tu->retired[i])
      continue;
    dl[i] = (struct dealer){&d, i};
    started[i] = pthread_create(&th[i], NULL, dealer, &dl[i]) == 0;
  }
  bool any = false;
  for (size_t i = 0; i < tu->nworkers; i++)
    if (started[i]) {
      pthread_join(th[i], NULL);
      any = true;
    }
  int rc = AT_OK;
  if (!any)
    rc = at_error(AT_NOMEM, "cannot start a thread to deal work to the GPUs");
  else if (d.rc != AT_OK)
    rc = d.rc == AT_INTERRUPTED ? AT_INTERRUPTED : at_error(d.rc, "%s", d.msg);
  else if (d.nagain) /* a GPU was lost after the others had finished: deal its work */
    rc = tune_deal(tu, p, d.again, d.nagain, timed);
  free(d.again);
  return rc;
}
