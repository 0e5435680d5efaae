/*
 * csv.c - `autotune db export --csv`: every trial as one CSV row (base/csv.h quoting),
 * with its run's strategy, for a spreadsheet or pandas. One-way: `db import` reads the
 * JSON lines of a plain export, which keep the runs' provenance; a CSV row keeps only
 * what a table of trials shows. The columns are csv_columns below, in that order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv.h"
#include "base/os.h"
#include "base/status.h"
#include "db/internal.h"

static const char csv_columns[] =
    "trial,run,strategy,created_at,device,arch,vendor,kernel,op,dtype,layout,dims,config,"
    "status,time_median_us,time_min_us,time_max_us,time_spread,repetitions,tflops,gbps,"
    "registers,spills,shared_bytes,occupancy,sm_clock_mhz,throttled,gpu_ordinal,gpu_uuid,message";

/* The runs' uuids and strategies, to name each trial's strategy. */
struct csv_ctx {
  FILE *out;
  char (*uuid)[DB_UUID_LEN + 1];
  char **strategy;
  size_t n, cap;
};

static int take_run(void *ctx, const struct db_run *r)
{
  struct csv_ctx *c = ctx;
  /* two arrays of one capacity: it grows when both have */
  size_t cu = c->cap, cs = c->cap;
  int rc = os_grow(&c->uuid, &cu, c->n + 1, sizeof *c->uuid, 64);
  if (rc != AT_OK || (rc = os_grow(&c->strategy, &cs, c->n + 1, sizeof *c->strategy, 64)))
    return rc;
  c->cap = cu;
  memcpy(c->uuid[c->n], r->uuid, sizeof c->uuid[0]);
  c->strategy[c->n] = r->strategy ? strdup(r->strategy) : NULL;
  c->n++;
  return AT_OK;
}

static int write_trial(void *ctx, const struct db_trial *t)
{
  struct csv_ctx *c = ctx;
  FILE *f = c->out;
  const char *strategy = NULL;
  for (size_t i = c->n; i-- > 0 && !strategy;) /* trials follow their run: look back */
    if (strcmp(c->uuid[i], t->run_uuid) == 0)
      strategy = c->strategy[i] ? c->strategy[i] : "";
  char *dims = db_problem_dims_text(&t->problem);
  if (!dims)
    return at_error(AT_NOMEM, "out of memory");
  csv_str(f, t->uuid, 1);
  csv_str(f, t->run_uuid, 0);
  csv_str(f, strategy, 0);
  csv_str(f, t->created_at, 0);
  csv_str(f, t->device, 0);
  csv_str(f, t->arch, 0);
  csv_str(f, t->vendor, 0);
  csv_str(f, t->kernel, 0);
  csv_str(f, t->problem.op, 0);
  csv_str(f, t->problem.dtype, 0);
  csv_str(f, t->problem.layout, 0);
  csv_str(f, dims, 0);
  csv_str(f, t->config, 0);
  csv_str(f, db_trial_status_name(t->status), 0);
  csv_double(f, t->time_median_us, 0);
  csv_double(f, t->time_min_us, 0);
  csv_double(f, t->time_max_us, 0);
  csv_double(f, t->time_spread, 0);
  csv_int(f, t->repetitions, 0, 0);
  csv_double(f, t->tflops, 0);
  csv_double(f, t->gbps, 0);
  csv_int(f, t->registers, 0, 0);
  csv_int(f, t->spills, 0, 0);
  csv_int(f, t->shared_bytes, 0, 0);
  csv_double(f, t->occupancy, 0);
  csv_int(f, t->sm_clock_mhz, 0, 0);
  csv_int(f, t->throttled, 0, 0);
  csv_int(f, t->gpu_ordinal, 0, 0);
  csv_str(f, t->gpu_uuid, 0);
  csv_str(f, t->message, 0);
  fputs("\r\n", f);
  free(dims);
  return ferror(f) ? AT_IO : AT_OK;
}

int db_export_csv(struct db *db, FILE *out)
{
  struct csv_ctx c = {.out = out};
  fprintf(out, "%s\r\n", csv_columns);
  int rc = ferror(out) ? AT_IO : AT_OK;
  bool own = false; /* one snapshot: every trial's run is among the runs read */
  if (rc == AT_OK && (rc = db_read_begin(db, &own)) == AT_OK) {
    rc = db_each_run(db, take_run, &c);
    if (rc == AT_OK)
      rc = db_each_trial(db, write_trial, &c);
    db_read_end(db, own);
  }
  for (size_t i = 0; i < c.n; i++)
    free(c.strategy[i]);
  free(c.strategy);
  free(c.uuid);
  if (rc == AT_OK && fflush(out) != 0)
    rc = AT_IO;
  if (rc == AT_IO)
    return at_error(AT_DISK, "cannot write the CSV export of '%.200s': %s", db_path(db),
                    strerror(errno ? errno : EIO));
  return rc;
}
