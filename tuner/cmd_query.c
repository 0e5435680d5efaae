/*
 * cmd_query.c - `autotune query OP --device D --m M --n N --k K`: the best tuned
 * configuration for a problem, exact or nearest, through the same db_query_best that
 * the C API and tuned headers use. Says which rung of the chain answered.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/db.h"
#include "db/json.h"
#include "tuner/cli.h"
#include "tuner/commands.h"
#include "tuner/device.h"
#include "tuner/op.h"
#include "tuner/status.h"

static const char usage[] =
    "autotune query OP --device D --m M --n N --k K [--dtype T] [--layout L] [--db FILE] "
    "[--json]";
static const char description[] =
    "Print the best tuned configuration for a problem: the exact shape on the device if it\n"
    "was tuned, else the nearest tuned shape (distance in log space, docs/database.md),\n"
    "else a winner of another device of the same arch, then of the same vendor. OP is gemm.\n"
    "Exit 0 when found, 1 when nothing matches, 2 on bad input.";

static void print_dims(FILE *out, const struct op_desc *op, const int64_t *dims, bool json)
{
  if (json)
    fputc('{', out);
  for (int i = 0; i < op->ndims; i++) {
    if (json)
      fprintf(out, "%s\"%s\":%lld", i ? "," : "", op->dim_names[i], (long long)dims[i]);
    else
      fprintf(out, "%s%s=%lld", i ? "," : "", op->dim_names[i], (long long)dims[i]);
  }
  if (json)
    fputc('}', out);
}

static void print_json(const struct op_desc *op, const struct db_problem *p,
                       const struct db_match *m)
{
  printf("{\"match\":\"%s\",\"device\":", at_match_name(m->match));
  json_write_str(stdout, m->device);
  printf(",\"op\":\"%s\",\"dtype\":", op->name);
  json_write_str(stdout, p->dtype);
  printf(",\"layout\":");
  json_write_str(stdout, p->layout);
  printf(",\"kernel\":");
  json_write_str(stdout, m->kernel);
  printf(",\"config\":");
  json_write_str(stdout, m->config);
  printf(",\"dims\":");
  print_dims(stdout, op, m->dims, true);
  printf(",\"asked\":");
  print_dims(stdout, op, p->dims, true);
  printf(",\"distance\":%.17g,\"time_median_us\":%.17g", m->distance, m->time_median_us);
  if (isnan(m->tflops))
    printf(",\"tflops\":null");
  else
    printf(",\"tflops\":%.17g", m->tflops);
  printf(",\"trial\":\"%s\"}\n", m->trial_uuid);
}

static void print_human(const struct op_desc *op, const struct db_problem *p,
                        const struct db_match *m)
{
  static const char *const what[] = {"exact match", "nearest tuned shape",
                                     "same-arch device", "same-vendor device"};
  printf("%s on %s: %s %s %s ", what[m->match], m->device, op->name, p->dtype, p->layout);
  print_dims(stdout, op, m->dims, false);
  if (m->match != AT_MATCH_EXACT) {
    printf(" (asked ");
    print_dims(stdout, op, p->dims, false);
    printf(", distance %.3g)", m->distance);
  }
  printf("\n  kernel  %s\n  config  %s\n  time    %.4g us", m->kernel, m->config,
         m->time_median_us);
  if (!isnan(m->tflops))
    printf(" (%.4g TFLOP/s)", m->tflops);
  printf("\n");
}

int cmd_query(int argc, char **argv)
{
  const char *device = NULL, *dtype = NULL, *layout = NULL, *dbpath = NULL;
  int64_t dims[3] = {0, 0, 0};
  bool json = false;
  const struct cli_opt opts[] = {
      {"device", CLI_STR, &device, "D", "profile name (mi300x, h100, host) or arch (gfx942)"},
      {"m", CLI_INT, &dims[0], "M", "rows of C"},
      {"n", CLI_INT, &dims[1], "N", "columns of C"},
      {"k", CLI_INT, &dims[2], "K", "the reduction dimension"},
      {"dtype", CLI_STR, &dtype, "T", "f16 (default), bf16 or f32"},
      {"layout", CLI_STR, &layout, "L", "NN (default), NT, TN or TT"},
      {"db", CLI_STR, &dbpath, "FILE", "tuning database (default: $AUTOTUNE_DB or XDG data)"},
      {"json", CLI_FLAG, &json, NULL, "print one JSON object"},
      {NULL, 0, NULL, NULL, NULL},
  };
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  int npos = 0, code = CLI_USAGE;
  struct db *db = NULL;
  struct db_match m = {0};
  if (!pos)
    return CLI_FAILED;
  int rc = cli_parse(argc, argv, opts, usage, description, pos, &npos);
  if (rc != CLI_OK) {
    code = rc < 0 ? CLI_OK : rc;
    goto done;
  }
  if (npos != 1) {
    cli_error("query needs one op (%s); try 'autotune query --help'", op_names());
    goto done;
  }
  const struct op_desc *op = op_find(pos[0]);
  if (!op) {
    code = cli_fail(AT_USAGE);
    goto done;
  }
  if (!device) {
    cli_error("query needs --device (a profile name such as mi300x, or an arch such as "
              "gfx942)");
    goto done;
  }
  const struct dev_profile *prof = dev_find(device);
  if (!prof) {
    code = cli_fail(AT_USAGE);
    goto done;
  }
  dtype = dtype ? dtype : op->default_dtype;
  layout = layout ? layout : op->default_layout;
  if ((rc = op_check(op, dtype, layout)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  struct db_problem p = {.op = op->name, .dtype = dtype, .layout = layout, .ndims = op->ndims};
  for (int i = 0; i < op->ndims; i++) {
    p.dim_names[i] = op->dim_names[i];
    p.dims[i] = dims[i];
    if (dims[i] < 1) {
      cli_error("bad shape: --%s is %s (expected an integer of at least 1)",
                op->dim_names[i], dims[i] == 0 ? "missing or 0" : "negative");
      goto done;
    }
  }
  if (!dbpath && !(dbpath = cli_default_db(false))) {
    code = CLI_USAGE;
    goto done;
  }
  if ((rc = db_open(dbpath, DB_READONLY, &db)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  /* An arch asked for by name ("gfx942") stands for every device of that arch. */
  bool by_arch = strcasecmp(device, prof->name) != 0;
  struct db_query q = {.device = by_arch ? NULL : prof->name,
                       .arch = prof->arch,
                       .vendor = dev_vendor_name(prof->vendor),
                       .problem = &p};
  rc = db_query_best(db, &q, &m);
  if (rc != AT_OK) {
    code = rc == AT_NOT_FOUND ? (cli_fail(rc), CLI_FAILED) : cli_fail(rc);
    goto done;
  }
  if (json)
    print_json(op, &p, &m);
  else
    print_human(op, &p, &m);
  code = CLI_OK;
done:
  db_match_release(&m);
  db_close(db);
  free(pos);
  return code;
}
