/*
 * worker.c - the measurement worker (worker.h): a forked process that owns the
 * measurement backend's context, the op's device buffers and the loaded code objects,
 * and measures one variant per request by the protocol of docs/measure.md, the same for
 * every op. A variant that crashes the worker, poisons its GPU context or never returns
 * costs one worker, never the tuner.
 *
 * Design note.
 *
 * Pipe protocol (two pipes, fixed-size binary records: both ends are this binary).
 *   worker -> parent, once: struct hello {rc, message, device id}: the backend's open
 *     result. A failed open ends the worker; the parent reports AT_UNSUPPORTED (AT_USAGE
 *     for an ordinal the runtime does not have) with the message.
 *   parent -> worker: struct request {job}; worker -> parent: struct reply
 *     {measurement, dying}. `dying` says the worker exits after this reply because its
 *     context is no longer trustworthy (a GPU fault); the parent then reaps it.
 *   EOF on the request pipe (the parent closed it, or died) ends the worker.
 * Invariants.
 *   1. The parent has at most one request outstanding; a reply always answers the last
 *      request, so a late reply of a killed worker can never be taken for another job's
 *      (the pipes die with the worker).
 *   2. No reply within the deadline: SIGKILL, reap, the job is a `timeout`. EOF before a
 *      whole reply: reap, the job is a `fault` with the signal or exit status in its
 *      message. Either way the next request goes to a fresh worker.
 *   3. The worker dies with the parent (PR_SET_PDEATHSIG): a SIGKILLed tuner leaves no
 *      variant spinning in an infinite loop.
 *   4. The parent never opens a GPU runtime itself: each worker is forked from a parent
 *      without a CUDA context, so forking is safe.
 *   5. SIGPIPE is ignored in the parent; a write to a dead worker is an error, not death.
 *   6. Several workers may live at once (one per GPU, tuner/engine/deal.c), started and
 *      restarted from several threads. A worker holds no pipe end of another: the parent's
 *      ends of every live worker are kept in one table, and making a worker's pipes,
 *      forking it and adding its ends happen under one lock, the child closing every end
 *      in the table. Else a sibling holding a worker's request pipe would keep it from
 *      ever seeing EOF, and stopping it would wait forever.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/num.h"
#include "base/os.h"
#include "base/status.h"
#include "tuner/measure/worker.h"

#define MAX_REPS 200
#define MIN_REPS 5
#define HELLO_WAIT_S 120.0 /* a worker's device open and setup (a GPU context, uploads) */
#define SPREAD_OK 0.03 /* interquartile range / median at which timing stops */

struct hello {
  int32_t rc;
  char message[480];
  struct meas_device_id id;
};

struct request {
  uint64_t job;
};

struct reply {
  struct meas_result m;
  int32_t dying;
};

struct meas_worker {
  struct meas_worker_cfg cfg;
  struct meas_device_id id;  /* from the last hello */
  pid_t pid;               /* 0: none alive */
  int to_fd, from_fd;
  size_t restarts;
};

/* ---- I/O helpers ---- */

static int write_all(int fd, const void *p, size_t n)
{
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Read n bytes, waiting at most deadline (CLOCK_MONOTONIC seconds; <= 0: forever).
 * 0 done, -1 EOF or error, -2 timeout. */
static int read_all(int fd, void *p, size_t n, double deadline);


static int read_all(int fd, void *p, size_t n, double deadline)
{
  char *c = p;
  while (n) {
    if (deadline > 0) {
      double left = deadline - at_now_s();
      if (left <= 0)
        return -2;
      struct pollfd pf = {.fd = fd, .events = POLLIN};
      int pr = poll(&pf, 1, (int)(left * 1000.0) + 1);
      if (pr < 0 && errno == EINTR)
        continue;
      if (pr == 0)
        return -2;
      if (pr < 0)
        return -1;
    }
    ssize_t r = read(fd, c, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

/* ---- the worker's side: the measurement protocol ---- */

struct loaded {
  const unsigned char *code;
  meas_module mod;
};

struct wstate {
  const struct meas_worker_cfg *cfg;
  const struct meas_backend *mb;
  struct meas_ctx *ctx;
  void *op_state;           /* the op's buffers (meas_op.setup) */
  meas_ptr flush;
  int64_t flush_bytes;
  unsigned char flush_byte;
  struct loaded *mods;
  size_t nmods;
};

static int flush_between(struct meas_ctx *ctx, void *arg)
{
  struct wstate *w = arg;
  return w->mb->fill(ctx, w->flush, ++w->flush_byte, (size_t)w->flush_bytes);
}

static bool is_fault_text(const char *msg)
{
  static const char *const words[] = {"ILLEGAL_ADDRESS", "MISALIGNED", "ILLEGAL_INSTRUCTION",
                                      "LAUNCH_FAILED", "HARDWARE_STACK", "ASSERT",
                                      "TRAP", "EXCEPTION"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strstr(msg, words[i]))
      return true;
  return false;
}

/* Map a backend failure to a trial status; *dying when the context cannot be trusted. */
static enum db_trial_status classify(const struct wstate *w, int rc, const char *msg,
                                     int *dying)
{
  bool host = strcmp(w->mb->name, "host") == 0;
  if (rc == AT_DEVICE && (host || is_fault_text(msg))) {
    *dying = !host;
    return DB_TRIAL_FAULT;
  }
  if (rc == AT_DEVICE && !host)
    *dying = 1;
  return DB_TRIAL_LAUNCH_ERROR;
}


/* Quantile q of sorted v[n] by linear interpolation. */
static double quantile(const double *v, size_t n, double q)
{
  double pos = q * (double)(n - 1);
  size_t i = (size_t)pos;
  return i + 1 < n ? v[i] + (pos - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

static void measure(struct wstate *w, size_t jobi, struct reply *rep)
{
  struct meas_result *m = &rep->m;
  const struct meas_job *job = &w->cfg->jobs_table[jobi];
  const struct meas_backend *mb = w->mb;
  memset(rep, 0, sizeof *rep);
  m->median_us = m->min_us = m->max_us = m->spread = NAN;
  at_error_clear();

  meas_module mod = NULL;
  for (size_t i = 0; i < w->nmods; i++)
    if (w->mods[i].code == job->code)
      mod = w->mods[i].mod;
  int rc = AT_OK;
  if (!mod) {
    if ((rc = mb->load(w->ctx, job->code, job->code_size, &mod)) != AT_OK) {
      m->status = DB_TRIAL_LAUNCH_ERROR; /* a code object the device refuses */
      snprintf(m->message, sizeof m->message, "load: %s", at_last_error());
      return;
    }
    struct loaded *n = realloc(w->mods, (w->nmods + 1) * sizeof *n);
    if (n) {
      w->mods = n;
      w->mods[w->nmods++] = (struct loaded){job->code, mod};
    }
  }
  meas_kernel k = NULL;
  if ((rc = mb->kernel(w->ctx, mod, job->name, &k)) != AT_OK) {
    m->status = DB_TRIAL_LAUNCH_ERROR;
    snprintf(m->message, sizeof m->message, "%s", at_last_error());
    return;
  }

  /* 1. verify against the reference (this launch also warms up) */
  int64_t bad = 0;
  char msg[400] = "";
  rc = w->cfg->op->verify(w->op_state, mb, w->ctx, k, &job->launch,
                          jobi == w->cfg->ref_job, &bad, msg,
                          sizeof msg);
  if (rc != AT_OK) {
    m->status = classify(w, rc, at_last_error(), &rep->dying);
    snprintf(m->message, sizeof m->message, "%s", at_last_error());
    return;
  }
  if (bad > 0) {
    m->status = DB_TRIAL_VERIFY_FAILED;
    snprintf(m->message, sizeof m->message, "%lld wrong elements; %s", (long long)bad, msg);
    return;
  }

  /* 2. time: a warm-up, then rounds until the spread is small or the budget is spent */
  void **args = NULL;
  const char *kinds = NULL;
  w->cfg->op->args(w->op_state, &args, &kinds);
  struct meas_launch l = {
      .kernel = k,
      .grid = {(unsigned)job->launch.grid[0], (unsigned)job->launch.grid[1],
               (unsigned)job->launch.grid[2]},
      .block = {(unsigned)job->launch.threads[0], (unsigned)job->launch.threads[1],
                (unsigned)job->launch.threads[2]},
      .cluster = {job->launch.cluster[0] > 1 ? (unsigned)job->launch.cluster[0] : 1,
                  job->launch.cluster[1] > 1 ? (unsigned)job->launch.cluster[1] : 1,
                  job->launch.cluster[2] > 1 ? (unsigned)job->launch.cluster[2] : 1},
      .shared_bytes = (unsigned)job->launch.shared,
      .args = args,
      .arg_kinds = kinds,
  };
  int (*between)(struct meas_ctx *, void *) = w->flush_bytes > 0 ? flush_between : NULL;
  double t[MAX_REPS], sorted[MAX_REPS], warm;
  size_t n = 0;
  double t0 = at_now_s(), budget = w->cfg->variant_time_s;
  if ((rc = mb->time(w->ctx, &l, 1, between, w, &warm)) != AT_OK) {
    m->status = classify(w, rc, at_last_error(), &rep->dying);
    snprintf(m->message, sizeof m->message, "%s", at_last_error());
    return;
  }
  while (n < MAX_REPS) {
    double spent = at_now_s() - t0, per = spent > 0 ? spent : warm * 1e-6;
    size_t round = n < MIN_REPS ? MIN_REPS - n : 4;
    /* never start a round that would overrun the budget by far, but take 3 at least */
    if (n >= 3 && spent + per * (double)round / (double)(n + 1) > budget)
      break;
    if (n + round > MAX_REPS)
      round = MAX_REPS - n;
    if ((rc = mb->time(w->ctx, &l, (int)round, between, w, t + n)) != AT_OK) {
      m->status = classify(w, rc, at_last_error(), &rep->dying);
      snprintf(m->message, sizeof m->message, "%s", at_last_error());
      return;
    }
    n += round;
    memcpy(sorted, t, n * sizeof *t);
    qsort(sorted, n, sizeof *sorted, num_cmp_double);
    double med = quantile(sorted, n, 0.5);
    if (n >= MIN_REPS && med > 0 &&
        (quantile(sorted, n, 0.75) - quantile(sorted, n, 0.25)) / med <= SPREAD_OK)
      break;
    if (at_now_s() - t0 >= budget && n >= 3)
      break;
  }
  memcpy(sorted, t, n * sizeof *t);
  qsort(sorted, n, sizeof *sorted, num_cmp_double);
  m->status = DB_TRIAL_OK;
  m->median_us = quantile(sorted, n, 0.5);
  m->min_us = sorted[0];
  m->max_us = sorted[n - 1];
  m->spread = m->median_us > 0 ? (m->max_us - m->min_us) / m->median_us : 0;
  m->reps = (int64_t)n;
  m->flush_bytes = between ? w->flush_bytes : 0;
}

static int worker_setup(struct wstate *w, struct meas_device_id *id, char *why,
                        size_t why_len)
{
  const struct meas_worker_cfg *cfg = w->cfg;
  int rc;
  w->mb = cfg->mb;
  if (strcmp(w->mb->name, "host") == 0)
    meas_host_set_jobs(cfg->jobs);
  if ((rc = w->mb->open(cfg->device_index, &w->ctx)) != AT_OK)
    goto fail;
  if (w->mb->pci_bus_id && w->mb->pci_bus_id(w->ctx, id->pci_bus_id,
                                             sizeof id->pci_bus_id) != AT_OK)
    id->pci_bus_id[0] = '\0'; /* not known: provenance says so, measuring goes on */
  if (!w->mb->describe ||
      w->mb->describe(w->ctx, id->name, sizeof id->name, id->arch, sizeof id->arch) != AT_OK)
    id->name[0] = id->arch[0] = '\0'; /* not known: the device is not checked against --device */
  if (cfg->op && (rc = cfg->op->setup(cfg->op_ctx, w->mb, w->ctx, &w->op_state)) != AT_OK)
    goto fail;
  w->flush_bytes = cfg->flush_bytes;
  if (w->flush_bytes > 0 &&
      w->mb->alloc(w->ctx, (size_t)w->flush_bytes, &w->flush) != AT_OK)
    w->flush_bytes = 0; /* no room for the flush buffer: time without, said in the docs */
  return AT_OK;
fail:
  snprintf(why, why_len, "%s", at_last_error()[0] ? at_last_error() : at_status_message(rc));
  return rc;
}

static void worker_main(const struct meas_worker_cfg *cfg, int in_fd, int out_fd)
{
  struct wstate w = {.cfg = cfg};
  struct hello h = {0};
  h.rc = worker_setup(&w, &h.id, h.message, sizeof h.message);
  if (write_all(out_fd, &h, sizeof h) != 0 || h.rc != AT_OK)
    _exit(h.rc == AT_OK ? 1 : 3);
  struct request req;
  struct reply rep;
  while (read_all(in_fd, &req, sizeof req, 0) == 0) {
    if (req.job >= cfg->njobs) {
      memset(&rep, 0, sizeof rep);
      rep.m.status = DB_TRIAL_LAUNCH_ERROR;
      snprintf(rep.m.message, sizeof rep.m.message, "no job %llu", (unsigned long long)req.job);
    } else {
      measure(&w, (size_t)req.job, &rep);
    }
    if (write_all(out_fd, &rep, sizeof rep) != 0 || rep.dying)
      _exit(0);
  }
  _exit(0);
}

/* ---- the parent's side ---- */

/* The parent's pipe ends of every live worker (invariant 6). */
#define MAX_PARENT_FDS 512
static pthread_mutex_t fds_mu = PTHREAD_MUTEX_INITIALIZER;
static int parent_fds[MAX_PARENT_FDS];
static size_t nparent_fds;

static void fds_forget(int fd)
{
  for (size_t i = 0; i < nparent_fds; i++)
    if (parent_fds[i] == fd) {
      parent_fds[i] = parent_fds[--nparent_fds];
      return;
    }
}

static void reap(struct meas_worker *w, int *status)
{
  pthread_mutex_lock(&fds_mu);
  if (w->to_fd >= 0) {
    fds_forget(w->to_fd);
    close(w->to_fd);
  }
  if (w->from_fd >= 0) {
    fds_forget(w->from_fd);
    close(w->from_fd);
  }
  pthread_mutex_unlock(&fds_mu);
  w->to_fd = w->from_fd = -1;
  int st = 0;
  if (w->pid > 0)
    while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
      ;
  w->pid = 0;
  if (status)
    *status = st;
}

static int spawn(struct meas_worker *w)
{
  int to[2], from[2];
  pthread_mutex_lock(&fds_mu);
  if (nparent_fds + 2 > MAX_PARENT_FDS) {
    pthread_mutex_unlock(&fds_mu);
    return at_error(AT_IO, "more than %d measurement workers at once", MAX_PARENT_FDS / 2);
  }
  if (pipe(to) != 0) {
    pthread_mutex_unlock(&fds_mu);
    return at_error(AT_IO, "cannot create a pipe for the worker: %s", strerror(errno));
  }
  if (pipe(from) != 0) {
    int e = errno;
    close(to[0]);
    close(to[1]);
    pthread_mutex_unlock(&fds_mu);
    return at_error(AT_IO, "cannot create a pipe for the worker: %s", strerror(e));
  }
  fflush(stdout);
  fflush(stderr);
  pid_t parent = getpid(), pid = fork();
  if (pid < 0) {
    int e = errno;
    close(to[0]);
    close(to[1]);
    close(from[0]);
    close(from[1]);
    pthread_mutex_unlock(&fds_mu);
    return at_error(AT_IO, "cannot start a worker process: %s", strerror(e));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
    signal(SIGPIPE, SIG_DFL);
    for (size_t i = 0; i < nparent_fds; i++) /* the siblings' ends (invariant 6) */
      close(parent_fds[i]);
    close(to[1]);
    close(from[0]);
    worker_main(&w->cfg, to[0], from[1]);
    _exit(0);
  }
  close(to[0]);
  close(from[1]);
  w->pid = pid;
  w->to_fd = to[1];
  w->from_fd = from[0];
  parent_fds[nparent_fds++] = w->to_fd;
  parent_fds[nparent_fds++] = w->from_fd;
  pthread_mutex_unlock(&fds_mu);
  struct hello h;
  if (read_all(w->from_fd, &h, sizeof h, at_now_s() + HELLO_WAIT_S) != 0) {
    int st;
    reap(w, &st);
    return at_error(AT_IO, "the measurement worker died while starting (%s %d)",
                    WIFSIGNALED(st) ? "signal" : "exit status",
                    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  }
  if (h.rc != AT_OK) {
    reap(w, NULL);
    h.message[sizeof h.message - 1] = '\0';
    return at_error(h.rc == AT_NOMEM || h.rc == AT_USAGE ? h.rc : AT_UNSUPPORTED, "%s",
                    h.message);
  }
  h.id.pci_bus_id[sizeof h.id.pci_bus_id - 1] = '\0';
  h.id.name[sizeof h.id.name - 1] = '\0';
  h.id.arch[sizeof h.id.arch - 1] = '\0';
  w->id = h.id;
  return AT_OK;
}

int meas_worker_start(const struct meas_worker_cfg *cfg, struct meas_worker **out)
{
  *out = NULL;
  if (!cfg || !cfg->mb || (cfg->njobs && !cfg->op))
    return at_error(AT_USAGE, "meas_worker_start: NULL argument");
  struct meas_worker *w = calloc(1, sizeof *w);
  if (!w)
    return at_error(AT_NOMEM, "out of memory");
  w->cfg = *cfg;
  w->to_fd = w->from_fd = -1;
  signal(SIGPIPE, SIG_IGN);
  int rc = spawn(w);
  if (rc != AT_OK) {
    free(w);
    return rc;
  }
  *out = w;
  return AT_OK;
}

static void describe_death(int st, char *out, size_t len)
{
  if (WIFSIGNALED(st))
    snprintf(out, len, "the worker died running the variant: signal %d (%s)", WTERMSIG(st),
             strsignal(WTERMSIG(st)));
  else
    snprintf(out, len, "the worker exited running the variant (status %d)",
             WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int meas_worker_run(struct meas_worker *w, size_t job, double timeout_s,
                    struct meas_result *m)
{
  int rc;
  memset(m, 0, sizeof *m);
  m->median_us = m->min_us = m->max_us = m->spread = NAN;
  struct request req = {.job = job};
  for (int attempt = 0;; attempt++) {
    if (w->pid == 0 && (rc = spawn(w)) != AT_OK)
      return rc;
    if (write_all(w->to_fd, &req, sizeof req) == 0)
      break;
    reap(w, NULL); /* died between jobs: a fresh one, once */
    if (attempt > 0)
      return at_error(AT_IO, "the measurement worker does not take requests");
  }
  struct reply rep;
  int r = read_all(w->from_fd, &rep, sizeof rep, at_now_s() + (timeout_s > 0 ? timeout_s : 60));
  if (r == -2) {
    kill(w->pid, SIGKILL);
    reap(w, NULL);
    w->restarts++;
    m->status = DB_TRIAL_TIMEOUT;
    snprintf(m->message, sizeof m->message,
             "no result within %.3g s: the worker was killed (watchdog)", timeout_s);
    return AT_OK;
  }
  if (r != 0) {
    int st;
    reap(w, &st);
    w->restarts++;
    m->status = DB_TRIAL_FAULT;
    describe_death(st, m->message, sizeof m->message);
    return AT_OK;
  }
  *m = rep.m;
  m->message[sizeof m->message - 1] = '\0';
  if (rep.dying) {
    reap(w, NULL);
    w->restarts++;
  }
  return AT_OK;
}

size_t meas_worker_restarts(const struct meas_worker *w)
{
  return w ? w->restarts : 0;
}

void meas_worker_stop(struct meas_worker *w)
{
  if (!w)
    return;
  reap(w, NULL);
  free(w);
}

int meas_device_probe(const struct meas_backend *mb, int index, struct meas_device_id *id,
                      char *why, size_t why_len)
{
  if (id)
    memset(id, 0, sizeof *id);
  /* a worker with no op and no jobs: it opens the device, says so, and is stopped */
  struct meas_worker_cfg wc = {.mb = mb, .device_index = index};
  struct meas_worker *w = NULL;
  int rc = meas_worker_start(&wc, &w);
  if (rc == AT_OK && id)
    *id = w->id;
  meas_worker_stop(w);
  if (rc != AT_OK)
    snprintf(why, why_len, "%s", at_last_error());
  return rc;
}
