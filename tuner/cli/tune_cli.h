/*
 * tune_cli.h - the options every tuning command (gemm, attention, tune) shares, one copy:
 * the device, search, budgets, timeouts, database, resume, jobs and output flags, their
 * checks, and the run of the engine with the report module. A command adds its op's
 * own options in front of TUNE_CLI_OPTS and builds its op (tuner/ops/op_iface.h).
 */
#ifndef AT_TUNER_CLI_TUNE_CLI_H
#define AT_TUNER_CLI_TUNE_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "tuner/cli/cli.h"
#include "tuner/engine/bundle.h"
#include "tuner/engine/tune.h"

struct tune_cli {
  struct tune_opts o;
  const char *strategy, *time_budget, *timeout, *variant_time, *gpu, *bundle_dir;
  const char *gpus, *shard;    /* --gpus LIST|all, --shard I/N */
  struct bundle bundle;        /* --bundle DIR, opened by tune_cli_check */
  char bundle_strategy[32];    /* the strategy of a bundle made for one run */
  bool making_bundle;          /* under `autotune bundle` (tune_cli_make_bundle) */
  int64_t seed, jobs, budget;
  bool budget_given, json;
  char strategy_help[128];     /* the strategies, from search.h's table */
  char **rest, **pos;          /* tune_cli_parse's: the arguments left, the positional */
  int npos;
};

/* The shared entries of an option table (dest: a struct tune_cli *). */
#define TUNE_CLI_OPTS(tc)                                                                    \
  {"device", CLI_STR, &(tc)->o.device, "D", "profile name (h100, mi300x, host) or arch"},    \
  {"emulate", CLI_STR, &(tc)->o.emulate, "D2", "host only: span and compile as for this GPU"}, \
  {"gpu", CLI_STR, &(tc)->gpu, "N", "the GPU to measure on, by ordinal (0); unused on host"}, \
  {"gpus", CLI_STR, &(tc)->gpus, "LIST", "measure on these GPUs at once (0,1,... or all)"},  \
  {"shard", CLI_STR, &(tc)->shard, "I/N", "measure part I of N (default: Slurm's array)"},   \
  {"strategy", CLI_STR, &(tc)->strategy, "S", (tc)->strategy_help},                         \
  {"budget", CLI_INT, CLI_INT_IN(&(tc)->budget, -1, INT64_MAX), "N",                          \
   "variants measured per template (-1: all)"},                                             \
  {"time-budget", CLI_STR, &(tc)->time_budget, "SEC", "wall seconds for all measurement"},   \
  {"where", CLI_STR, &(tc)->o.where, "K=V[|V],...",                                         \
   "only configs with these parameter values (in templates that have them)"},               \
  {"seed", CLI_INT, CLI_INT_IN(&(tc)->seed, 0, INT64_MAX), "N",                              \
   "seed of the random strategies (1)"},                                                    \
  {"db", CLI_STR, &(tc)->o.db_path, "FILE", "tuning database (default: see README)"},        \
  {"resume", CLI_FLAG, &(tc)->o.resume, NULL, "finish the unfinished run with these arguments"}, \
  {"jobs", CLI_INT, CLI_INT_IN(&(tc)->jobs, 1, 256), "N",                                    \
   "compile threads and emulator workers (the CPUs)"},                                      \
  {"timeout", CLI_STR, &(tc)->timeout, "SEC", "watchdog per variant (60)"},                   \
  {"variant-time", CLI_STR, &(tc)->variant_time, "SEC", "timing budget per variant"},        \
  {"no-cache", CLI_FLAG, &(tc)->o.no_cache, NULL, "neither read nor write the compile cache"}, \
  {"bundle", CLI_STR, &(tc)->bundle_dir, "DIR", "measure from a bundle ('autotune bundle')"}, \
  {"sanitize", CLI_FLAG, &(tc)->o.sanitize, NULL, "host variants with ASan and UBSan"},     \
  {"json", CLI_FLAG, &(tc)->json, NULL, "print one JSON object"}

/* Clear tc and set the defaults; dflt: the command's default strategy, with_model: its op
 * has a cost model (else the help leaves out the strategies that need one). */
void tune_cli_init(struct tune_cli *tc, enum search_strategy dflt, bool with_model);

/* Parse argv[0..argc) (argv[0]: the command's name) against opts, which hold
 * TUNE_CLI_OPTS(tc): every `--template NAME|PATH` goes to tc->o.templates first (it
 * repeats), the positional words to tc->pos[0..tc->npos). CLI_OK; -1 after --help (the
 * command exits 0); CLI_USAGE after a one-line error; CLI_FAILED out of memory. */
int tune_cli_parse(struct tune_cli *tc, int argc, char **argv, const struct cli_opt *opts,
                   const char *usage, const char *description);
/* Free what tune_cli_parse allocated. */
void tune_cli_release(struct tune_cli *tc);

/* Check the shared options and fill tc->o. CLI_OK, or CLI_USAGE after a one-line error. */
int tune_cli_check(struct tune_cli *tc);

/* Run the engine for op with the report module; OUT: *sum. CLI_OK when the run
 * finished, else the exit code of its status (after the one-line error). Under `autotune
 * bundle` (tune_cli_make_bundle), writes the bundle instead and says what it holds. */
int tune_cli_run(struct tune_cli *tc, const struct op_engine *op, struct tune_summary *sum);

/* `autotune bundle OP ... --out DIR`: the next tune_cli_run writes a bundle into DIR
 * (bundle_make) instead of tuning. */
void tune_cli_make_bundle(const char *dir);

#endif
