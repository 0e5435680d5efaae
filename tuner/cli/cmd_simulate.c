/*
 * cmd_simulate.c - `autotune simulate [CACHE ...] [--db FILE]`: replay fully measured
 * spaces through the search strategies (tuner/search/simulate.h) and print, per space
 * and strategy, the mean and median fraction of the optimum reached after 10 to 400
 * evaluations and the evaluations needed for 0.95 and 0.98 of it. The spaces are a
 * database's exhaustive runs and Kernel Tuner cache files (JSON, gzip or not) as they are.
 * With --warm-from CACHE, bo is replayed a second time warm-started from that recorded
 * space (sim_warm_prior: the same template on another shape), the row "bo+warm".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/status.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/search/simulate.h"

#define SIM_DEFAULT_SEEDS 20
#define SIM_MAX_SEEDS 10000
#define SIM_MAX_BUDGET 100000

static const char usage[] =
    "autotune simulate [CACHE.json[.gz] ...] [--db FILE] [--device D] [--kernel K] "
    "[--strategy S[,S...]] [--seeds N] [--budget N] [--warm-from CACHE] [--json]";
static const char description[] =
    "Replay fully measured spaces through the search strategies, as if tuning again, for\n"
    "seeds 1..N, and print per space and strategy the mean / median fraction of the\n"
    "optimum (optimum / best time found so far) after 10, 25, 50, 100, 200 and 400\n"
    "evaluations and the median evaluations needed to reach 0.95 and 0.98 of it (with\n"
    "how many seeds reached it). Spaces: each CACHE, a Kernel Tuner cache file as Kernel\n"
    "Tuner writes it (gzip or not; failed configs are failed evaluations), and every\n"
    "exhaustive run in the database (--db, or the default one when no CACHE is given),\n"
    "one space per device, kernel and problem. With --warm-from CACHE (a recorded space\n"
    "of the same template on another shape), bo is replayed again with the times CACHE\n"
    "recorded for the same configs as its prior (a warm start): the row bo+warm.\n"
    "Nothing is measured or written.\n"
    "Exit 0, 1 when there is no space to replay, 2 on bad input.";

static int parse_strategies(const char *text, bool *on)
{
  for (int i = 0; i < SEARCH_STRATEGY_COUNT; i++)
    on[i] = !text && !search_strategy_info((enum search_strategy)i)->needs_model;
  if (!text)
    return AT_OK;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", text);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    enum search_strategy s;
    int rc = search_strategy_parse(tok, &s);
    if (rc != AT_OK)
      return rc;
    if (search_strategy_info(s)->needs_model)
      return at_error(AT_USAGE, "--strategy %s needs a cost model, and a recorded space "
                      "has none", tok);
    on[s] = true;
  }
  return AT_OK;
}

static void print_head(const struct sim_space *s, size_t failed, double opt, bool json)
{
  if (json) {
    printf("{\"source\":");
    json_write_str(stdout, s->source);
    printf(",\"device\":");
    json_write_str(stdout, s->device);
    printf(",\"kernel\":");
    json_write_str(stdout, s->kernel);
    printf(",\"problem\":");
    json_write_str(stdout, s->problem);
    printf(",\"configs\":%zu,\"failed\":%zu,\"objective\":", s->n, failed);
    json_write_str(stdout, s->objective);
    printf(",\"optimum\":");
    json_write_double(stdout, opt);
    printf(",\"strategies\":[");
    return;
  }
  static const size_t checks[SIM_NCHECK] = SIM_CHECKPOINTS;
  printf("%s: %s on %s, %s: %zu configs (%zu failed), %zu parameters, optimum %.6g %s\n",
         s->source, s->kernel, s->device, s->problem, s->n, failed, s->ndims, opt,
         s->objective);
  printf("%-11s", "mean/median");
  for (int c = 0; c < SIM_NCHECK; c++)
    printf(" %11zu", checks[c]);
  printf("  %14s %14s\n", "evals to 0.95", "to 0.98");
}

static void print_stats(const struct sim_stats *st, bool first, bool warm, bool json)
{
  static const double targets[SIM_NTARGET] = SIM_TARGETS;
  if (json) {
    static const size_t checks[SIM_NCHECK] = SIM_CHECKPOINTS;
    printf("%s{\"strategy\":\"%s\",\"warm\":%s,\"seeds\":%zu,\"checkpoints\":[",
           first ? "" : ",", search_strategy_name(st->strategy), warm ? "true" : "false",
           st->seeds);
    for (int c = 0; c < SIM_NCHECK; c++)
      printf("%s%zu", c ? "," : "", checks[c]);
    printf("],\"mean\":[");
    for (int c = 0; c < SIM_NCHECK; c++) {
      printf("%s", c ? "," : "");
      json_write_double(stdout, st->mean[c]);
    }
    printf("],\"median\":[");
    for (int c = 0; c < SIM_NCHECK; c++) {
      printf("%s", c ? "," : "");
      json_write_double(stdout, st->median[c]);
    }
    printf("],\"evals_to\":[");
    for (int t = 0; t < SIM_NTARGET; t++) {
      printf("%s{\"fraction\":", t ? "," : "");
      json_write_double(stdout, targets[t]);
      printf(",\"median\":");
      json_write_double(stdout, st->to_median[t]); /* null when not reached by half */
      printf(",\"reached\":%zu}", st->reached[t]);
    }
    printf("],\"seconds\":");
    json_write_double(stdout, st->seconds);
    printf("}");
    return;
  }
  char name[32];
  snprintf(name, sizeof name, "%s%s", search_strategy_name(st->strategy), warm ? "+warm" : "");
  printf("%-11s", name);
  for (int c = 0; c < SIM_NCHECK; c++)
    printf(" %5.3f/%5.3f", st->mean[c], st->median[c]);
  for (int t = 0; t < SIM_NTARGET; t++) {
    char v[32];
    if (isfinite(st->to_median[t]))
      snprintf(v, sizeof v, "%.0f (%zu/%zu)", st->to_median[t], st->reached[t], st->seeds);
    else
      snprintf(v, sizeof v, "- (%zu/%zu)", st->reached[t], st->seeds);
    printf(" %14s", v);
  }
  printf("\n");
}

int cmd_simulate(int argc, char **argv)
{
  const char *db = NULL, *device = NULL, *kernel = NULL, *strat = NULL, *warm_path = NULL;
  int64_t seeds = SIM_DEFAULT_SEEDS, budget = 400;
  bool json = false, on[SEARCH_STRATEGY_COUNT];
  const struct cli_opt opts[] = {
      {"db", CLI_STR, &db, "FILE", "replay the database's exhaustive runs"},
      {"device", CLI_STR, &device, "D", "only the database's spaces of this device"},
      {"kernel", CLI_STR, &kernel, "K", "only the database's spaces of this kernel"},
      {"strategy", CLI_STR, &strat, "S[,S...]", "strategies to replay (default: all but model)"},
      {"seeds", CLI_INT, CLI_INT_IN(&seeds, 1, SIM_MAX_SEEDS), "N", "seeds 1..N (20)"},
      {"budget", CLI_INT, CLI_INT_IN(&budget, 1, SIM_MAX_BUDGET), "N",
       "evaluations per search (400)"},
      {"warm-from", CLI_STR, &warm_path, "CACHE",
       "also replay bo warm-started from this recorded space (same template)"},
      {"json", CLI_FLAG, &json, NULL, "print one JSON object"},
      {NULL, CLI_FLAG, NULL, NULL, NULL},
  };
  char *pos[argc > 0 ? argc : 1];
  int npos = 0;
  int rc = cli_parse(argc, argv, opts, usage, description, pos, &npos);
  if (rc != CLI_OK)
    return rc < 0 ? CLI_OK : rc;
  if ((rc = parse_strategies(strat, on)) != AT_OK)
    return cli_fail(rc);
  if ((device || kernel) && !db && npos > 0)
    return cli_fail(at_error(AT_USAGE, "--device and --kernel choose among a database's "
                             "spaces: give --db FILE"));

  /* every space first: bad input is reported before any replay */
  struct sim_space **spaces = NULL, **fromdb = NULL, *warm = NULL;
  double **priors = NULL;
  size_t nspaces = 0, ndb = 0;
  if (!(spaces = calloc((size_t)npos + 1, sizeof *spaces)))
    return cli_fail(at_error(AT_NOMEM, "out of memory"));
  for (int i = 0; i < npos && rc == AT_OK; i++)
    if ((rc = sim_space_from_kt(pos[i], &spaces[nspaces])) == AT_OK)
      nspaces++;
  if (rc == AT_OK && (db || npos == 0)) {
    const char *path = db ? db : cli_default_db(false);
    if (!path)
      rc = AT_USAGE;
    else
      rc = sim_spaces_from_db(path, device, kernel, &fromdb, &ndb);
  }
  if (rc == AT_OK && warm_path && (rc = sim_space_from_kt(warm_path, &warm)) == AT_OK &&
      !(priors = calloc(nspaces + ndb + 1, sizeof *priors)))
    rc = at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; warm && rc == AT_OK && i < nspaces + ndb; i++) {
    size_t matched;
    rc = sim_warm_prior(warm, i < nspaces ? spaces[i] : fromdb[i - nspaces], &priors[i],
                        &matched);
  }
  if (rc != AT_OK) {
    rc = cli_fail(rc);
    goto out;
  }
  if (nspaces + ndb == 0) {
    cli_error("no space to replay: the database has no exhaustive run%s%s%s%s (record one "
              "with --strategy exhaustive --budget -1)", device ? " on " : "",
              device ? device : "", kernel ? " of " : "", kernel ? kernel : "");
    rc = CLI_FAILED;
    goto out;
  }

  bool tty = cli_stdout_is_tty() && !json;
  if (json)
  {
    printf("{\"seeds\":%lld,\"budget\":%lld,\"warm_from\":", (long long)seeds,
           (long long)budget);
    json_write_str(stdout, warm ? warm->source : NULL);
    printf(",\"spaces\":[");
  }
  for (size_t i = 0; i < nspaces + ndb && rc == CLI_OK; i++) {
    const struct sim_space *s = i < nspaces ? spaces[i] : fromdb[i - nspaces];
    size_t failed = 0;
    double opt = INFINITY;
    for (size_t p = 0; p < s->n; p++) {
      failed += !isfinite(s->cost[p]);
      opt = fmin(opt, s->cost[p]);
    }
    if (json && i)
      printf(",");
    print_head(s, failed, opt, json);
    bool first = true;
    /* each strategy, then bo warm-started (index SEARCH_STRATEGY_COUNT) */
    for (int k = 0; k <= SEARCH_STRATEGY_COUNT && rc == CLI_OK; k++) {
      bool warm_row = k == SEARCH_STRATEGY_COUNT;
      if (warm_row ? !warm || !on[SEARCH_BO] : !on[k])
        continue;
      enum search_strategy strategy = warm_row ? SEARCH_BO : (enum search_strategy)k;
      if (tty) {
        fprintf(stderr, "simulate: %s%s, %lld seeds...\r", search_strategy_name(strategy),
                warm_row ? "+warm" : "", (long long)seeds);
        fflush(stderr);
      }
      struct sim_stats st;
      int src = sim_run_prior(s, strategy, (size_t)seeds, (size_t)budget,
                              warm_row ? priors[i] : NULL, &st);
      if (tty)
        fprintf(stderr, "%-60s\r", "");
      if (src != AT_OK) {
        rc = cli_fail(src);
        break;
      }
      print_stats(&st, first, warm_row, json);
      first = false;
    }
    if (json)
      printf("]}");
    else
      printf("\n");
  }
  if (json && rc == CLI_OK)
    printf("]}\n");
out:
  for (size_t i = 0; i < nspaces; i++)
    sim_space_free(spaces[i]);
  for (size_t i = 0; i < ndb; i++)
    sim_space_free(fromdb[i]);
  for (size_t i = 0; priors && i < nspaces + ndb; i++)
    free(priors[i]);
  free(priors);
  if (warm)
    sim_space_free(warm);
  free(spaces);
  free(fromdb);
  return rc;
}
