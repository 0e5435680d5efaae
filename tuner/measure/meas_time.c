/*
 * meas_time.c - the timing loop the GPU backends share (meas.h, meas_time_events): the
 * launch's set-up once, then per repetition the caller's `between` outside the timed
 * region, a start event, the launch, a stop event, a wait for it and the elapsed time
 * between the two. Each backend supplies only its runtime's calls for the events.
 */
#include "tuner/measure/meas.h"
#include "base/status.h"

int meas_time_events(struct meas_ctx *c, const struct meas_event_timer *t,
                     const struct meas_launch *l, int reps,
                     int (*between)(struct meas_ctx *, void *), void *arg, double *us)
{
  int rc;
  if (t->prepare && (rc = t->prepare(c, l)) != AT_OK)
    return rc;
  for (int i = 0; i < reps; i++) {
    if (between && (rc = between(c, arg)) != AT_OK)
      return rc;
    float ms = 0;
    if ((rc = t->start(c)) != AT_OK || (rc = t->launch(c, l)) != AT_OK ||
        (rc = t->stop_and_wait(c)) != AT_OK || (rc = t->elapsed_ms(c, &ms)) != AT_OK)
      return rc;
    us[i] = ms * 1000.0;
  }
  return AT_OK;
}
