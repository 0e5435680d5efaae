/*
 * tune_cli.c - the options every tuning command shares (tune_cli.h).
 */
#include "tuner/cli/tune_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/device.h"
#include "base/interrupt.h"
#include "base/status.h"
#include "tuner/cli/tune_report.h"

static const char *make_bundle_dir; /* tune_cli_make_bundle's */

void tune_cli_make_bundle(const char *dir)
{
  make_bundle_dir = dir;
}

void tune_cli_init(struct tune_cli *tc, enum search_strategy dflt, bool with_model)
{
  memset(tc, 0, sizeof *tc);
  tc->seed = 1;
  tc->making_bundle = make_bundle_dir != NULL;
  tc->o.strategy = dflt;
  size_t n = search_strategy_list(with_model, tc->strategy_help, sizeof tc->strategy_help);
  if (n < sizeof tc->strategy_help)
    snprintf(tc->strategy_help + n, sizeof tc->strategy_help - n, " (default %s)",
             search_strategy_name(dflt));
}

/* Take every `--template NAME|PATH` out of argv[1..*argc) into tc->o.templates (and note
 * whether --budget was given). CLI_OK, or CLI_USAGE after a one-line error. */
static int take_templates(struct tune_cli *tc, int *argc, char **argv)
{
  int n = 1;
  for (int i = 1; i < *argc; i++) {
    const char *val = NULL;
    if (strcmp(argv[i], "--template") == 0) {
      if (i + 1 >= *argc) {
        cli_error("option '--template' expects NAME or PATH");
        return CLI_USAGE;
      }
      val = argv[++i];
    } else if (strncmp(argv[i], "--template=", 11) == 0) {
      val = argv[i] + 11;
    } else {
      tc->budget_given |= strcmp(argv[i], "--budget") == 0 ||
                          strncmp(argv[i], "--budget=", 9) == 0;
      argv[n++] = argv[i];
      continue;
    }
    if (tc->o.ntemplates >= TUNE_MAX_TEMPLATES) {
      cli_error("more than %d --template options", TUNE_MAX_TEMPLATES);
      return CLI_USAGE;
    }
    tc->o.templates[tc->o.ntemplates++] = val;
  }
  *argc = n;
  return CLI_OK;
}

int tune_cli_parse(struct tune_cli *tc, int argc, char **argv, const struct cli_opt *opts,
                   const char *usage, const char *description)
{
  tc->pos = calloc((size_t)argc + 1, sizeof *tc->pos);
  tc->rest = calloc((size_t)argc + 1, sizeof *tc->rest);
  if (!tc->pos || !tc->rest)
    return CLI_FAILED;
  memcpy(tc->rest, argv, (size_t)argc * sizeof *tc->rest);
  int nrest = argc, code = take_templates(tc, &nrest, tc->rest);
  if (code != CLI_OK)
    return code;
  return cli_parse(nrest, tc->rest, opts, usage, description, tc->pos, &tc->npos);
}

void tune_cli_release(struct tune_cli *tc)
{
  free(tc->pos);
  free(tc->rest);
  tc->pos = tc->rest = NULL;
}

/* --gpus LIST|all into o->gpus. CLI_OK or CLI_USAGE after a one-line error. */
static int parse_gpus(struct tune_cli *tc)
{
  struct tune_opts *o = &tc->o;
  if (tc->gpu) {
    cli_error("give --gpu or --gpus, not both");
    return CLI_USAGE;
  }
  if (strcmp(tc->gpus, "all") == 0) {
    o->all_gpus = true;
    return CLI_OK;
  }
  const char *at = tc->gpus;
  for (;;) {
    char *end;
    long v = strtol(at, &end, 10);
    if (end == at || (*end && *end != ',') || v < 0 || v > 4095 ||
        o->ngpus >= TUNE_MAX_GPUS) {
      cli_error("bad --gpus '%.60s' (expected GPU ordinals such as 0,1,3 (at most %d), or "
                "all); try 'autotune devices'", tc->gpus, TUNE_MAX_GPUS);
      return CLI_USAGE;
    }
    for (size_t i = 0; i < o->ngpus; i++)
      if (o->gpus[i] == (int)v) {
        cli_error("bad --gpus '%.60s': GPU %ld is named twice", tc->gpus, v);
        return CLI_USAGE;
      }
    o->gpus[o->ngpus++] = (int)v;
    if (!*end)
      return CLI_OK;
    at = end + 1;
  }
}

/* "I/N" with 0 <= I < N into *i, *n; false when it is not one. */
static bool shard_text(const char *text, long *i, long *n)
{
  char *end;
  *i = strtol(text, &end, 10);
  if (end == text || *end != '/')
    return false;
  const char *d = end + 1;
  *n = strtol(d, &end, 10);
  return end != d && !*end && *n >= 1 && *n <= 1000000 && *i >= 0 && *i < *n;
}

/* An environment variable as a count >= 0; -1 when unset or not one. */
static long env_count(const char *name)
{
  const char *v = getenv(name);
  char *end;
  if (!v || !*v)
    return -1;
  long x = strtol(v, &end, 10);
  return *end || x < 0 ? -1 : x;
}

/* --shard I/N, else a Slurm job array's variables (SLURM_ARRAY_TASK_ID, _COUNT, _MIN,
 * _STEP: the task's place among the array's tasks). CLI_OK or CLI_USAGE. */
static int parse_shard(struct tune_cli *tc)
{
  struct tune_opts *o = &tc->o;
  long i, n;
  if (tc->making_bundle) { /* a bundle holds every shard's variants: no Slurm here either */
    if (tc->shard) {
      cli_error("--shard splits what is measured; 'autotune bundle' compiles for every "
                "shard (give --shard when measuring from the bundle)");
      return CLI_USAGE;
    }
    return CLI_OK;
  }
  if (tc->shard) {
    if (!shard_text(tc->shard, &i, &n)) {
      cli_error("bad --shard '%.40s' (expected I/N with 0 <= I < N, such as 0/4)", tc->shard);
      return CLI_USAGE;
    }
  } else {
    long id = env_count("SLURM_ARRAY_TASK_ID"), count = env_count("SLURM_ARRAY_TASK_COUNT");
    if (id < 0 || count < 0)
      return CLI_OK; /* not a task of a Slurm array: all the work */
    long min = env_count("SLURM_ARRAY_TASK_MIN"), step = env_count("SLURM_ARRAY_TASK_STEP");
    min = min < 0 ? 0 : min;
    step = step < 1 ? 1 : step;
    i = (id - min) / step;
    n = count;
    if (id < min || (id - min) % step || i >= n) {
      cli_error("Slurm's SLURM_ARRAY_TASK_ID=%ld is not one of the array's %ld tasks (from "
                "%ld by %ld): give --shard I/N", id, count, min, step);
      return CLI_USAGE;
    }
  }
  o->shard = (int)i;
  o->nshards = (int)n;
  return CLI_OK;
}

int tune_cli_check(struct tune_cli *tc)
{
  struct tune_opts *o = &tc->o;
  if (o->device && !dev_find(o->device)) /* before the op's own checks: the first thing */
    return cli_fail(AT_USAGE);
  if (tc->bundle_dir) {
    if (make_bundle_dir) {
      cli_error("--bundle measures from a bundle; 'autotune bundle' makes one");
      return CLI_USAGE;
    }
    if (bundle_open(tc->bundle_dir, &tc->bundle) != AT_OK)
      return cli_fail(AT_USAGE);
    o->bundle = &tc->bundle;
    /* a bundle of one run's variants: that run's strategy and budget by default */
    long long n = 0;
    unsigned long long seed = 0;
    if (sscanf(tc->bundle.covers, "--strategy %31s --budget %lld --seed %llu",
               tc->bundle_strategy, &n, &seed) == 3) {
      if (!tc->strategy)
        tc->strategy = tc->bundle_strategy;
      if (!tc->budget_given) {
        tc->budget = n;
        tc->budget_given = true;
      }
    }
    /* and its --where: the bundle holds only those configs */
    const char *w = strstr(tc->bundle.covers, " --where ");
    if (w && !o->where)
      o->where = w + strlen(" --where ");
    if (!o->device && tc->bundle.emulate[0]) { /* the bundle's device by default */
      o->device = "host";
      o->emulate = tc->bundle.emulate;
    } else if (!o->device) {
      o->device = tc->bundle.device;
    }
  }
  if (tc->strategy && search_strategy_parse(tc->strategy, &o->strategy) != AT_OK)
    return cli_fail(AT_USAGE);
  if (tc->gpu) {
    char *end;
    long v = strtol(tc->gpu, &end, 10);
    if (end == tc->gpu || *end || v < 0 || v > 4095) {
      cli_error("bad --gpu '%.40s' (expected a GPU ordinal: 0, 1, ...); try 'autotune "
                "devices'", tc->gpu);
      return CLI_USAGE;
    }
    o->gpu = (int)v;
  }
  if (tc->gpus && parse_gpus(tc) != CLI_OK)
    return CLI_USAGE;
  if (parse_shard(tc) != CLI_OK)
    return CLI_USAGE;
  struct {
    const char *text, *name;
    double *dest;
  } secs[] = {{tc->time_budget, "--time-budget", &o->time_budget_s},
              {tc->timeout, "--timeout", &o->timeout_s},
              {tc->variant_time, "--variant-time", &o->variant_time_s}};
  for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
    if (!secs[i].text)
      continue;
    if (cli_double(secs[i].name, secs[i].text, 1e-3, 1e7, secs[i].dest) != CLI_OK)
      return CLI_USAGE;
  }
  if (tc->budget < -1 || (tc->budget_given && tc->budget == 0)) {
    cli_error("bad --budget %lld (a count of variants, at least 1; -1: all)",
              (long long)tc->budget);
    return CLI_USAGE;
  }
  if (o->time_budget_s > 0 && tc->budget > 0) {
    cli_error("give --budget or --time-budget, not both");
    return CLI_USAGE;
  }
  o->budget = tc->budget;
  o->seed = (uint64_t)tc->seed;
  o->jobs = (int)tc->jobs;
  return CLI_OK;
}

int tune_cli_run(struct tune_cli *tc, const struct op_engine *op, struct tune_summary *sum)
{
  struct tune_opts *o = &tc->o;
  o->op = op;
  if (!o->db_path && !(o->db_path = cli_default_db(true)))
    return CLI_FAILED;
  struct tune_printer pr;
  tune_printer_init(&pr, o, tc->json, make_bundle_dir != NULL);
  at_error_clear();
  intr_install(); /* SIGINT/SIGTERM: stop at the next check, keep what was recorded */
  int rc;
  if (make_bundle_dir) {
    struct bundle b;
    if ((rc = bundle_make(o, make_bundle_dir, &b)) == AT_OK) {
      tune_printer_finish(&pr);
      tune_report_bundle(&b, tc->json);
      return CLI_OK;
    }
  } else {
    rc = tune_run(o, sum);
  }
  tune_printer_finish(&pr);
  return rc == AT_OK ? CLI_OK : cli_fail(rc);
}
