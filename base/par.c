/*
 * par.c - a loop split over the CPUs (par.h).
 */
#include "base/par.h"

#include <pthread.h>
#include <unistd.h>

#include "base/status.h"

struct part {
  int (*fn)(void *ctx, size_t from, size_t to);
  void *ctx;
  size_t from, to;
  int rc;
};

static void *run_part(void *arg)
{
  struct part *p = arg;
  p->rc = p->fn(p->ctx, p->from, p->to);
  return NULL;
}

int par_for(size_t n, bool big, int (*fn)(void *ctx, size_t from, size_t to), void *ctx)
{
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  size_t nt = !big || cpus < 2 ? 1 : cpus > PAR_MAX_THREADS ? PAR_MAX_THREADS : (size_t)cpus;
  if (nt > n)
    nt = n ? n : 1;
  struct part parts[PAR_MAX_THREADS];
  pthread_t th[PAR_MAX_THREADS];
  bool started[PAR_MAX_THREADS] = {false};
  for (size_t t = 0; t < nt; t++) {
    parts[t] = (struct part){fn, ctx, n * t / nt, n * (t + 1) / nt, AT_OK};
    started[t] = t > 0 && pthread_create(&th[t], NULL, run_part, &parts[t]) == 0;
  }
  for (size_t t = 0; t < nt; t++)
    if (!started[t])
      run_part(&parts[t]);
  int rc = AT_OK;
  for (size_t t = 0; t < nt; t++) {
    if (started[t])
      pthread_join(th[t], NULL);
    if (parts[t].rc != AT_OK)
      rc = parts[t].rc;
  }
  return rc;
}
