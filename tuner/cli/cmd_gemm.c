/*
 * cmd_gemm.c - `autotune gemm --device D --m M --n N --k K ...`: the command line of the
 * tuner (tuner/engine/tune.h does the work). Parses and checks the options, turns --template
 * (repeatable) into a list, and maps the tuner's status to an exit code: 0 the run
 * finished (whatever its trials' statuses, and when no measurement is possible here),
 * 1 it failed, 2 bad input, 130 stopped by SIGINT or SIGTERM (what was recorded stays).
 */
#include <stdlib.h>
#include <string.h>

#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "base/interrupt.h"
#include "base/status.h"
#include "tuner/engine/tune.h"

static const char usage[] =
    "autotune gemm --device D [--emulate D2] [--dtype f16|bf16|f32] [--layout NN|NT|TN|TT] "
    "--m M --n N --k K [--shapes FILE] [--template NAME|PATH ...] "
    "[--strategy exhaustive|random|model|anneal|genetic] [--budget N|--time-budget SEC] "
    "[--seed N] [--db FILE] [--resume] [--jobs N] [--timeout SEC] [--variant-time SEC] "
    "[--no-cache] [--json]";
static const char description[] =
    "Tune a GEMM for a device: compile every valid variant of each template (default: every\n"
    "templates/gemm/*.h that loads for the device), verify the variants the strategy picks\n"
    "against a reference and time them (docs/measure.md), and record every outcome as a\n"
    "trial in the tuning database, committed as it finishes. On a terminal a progress line,\n"
    "then per template the best config, its time, TFLOP/s, % of the device's peak, and the\n"
    "speed-up over the template's default config (the middle valid config) and over the\n"
    "naive baseline (templates/gemm/gemm_naive.h), measured in the same run.\n"
    "--device host runs the variants on the SIMT emulator; with --emulate mi300x (h100,\n"
    "gfx942, sm_90, ...) it spans and compiles exactly that GPU's variants. A GPU that is not\n"
    "on this machine: everything is compiled and pruned for its arch, nothing is measured.\n"
    "--budget N: variants measured per template (host default 24, GPUs all; -1: all).\n"
    "--resume: continue the latest unfinished run with the same arguments, measuring only\n"
    "what it lacks. --timeout: seconds one variant may take before it is killed (60).\n"
    "Exit 0 when the run finished, 1 when it failed, 2 on bad input.";

int cmd_gemm(int argc, char **argv)
{
  struct tune_opts o = {0};
  const char *strategy = NULL, *dummy = NULL, *time_budget = NULL, *timeout = NULL,
             *variant_time = NULL;
  int64_t seed = 1, jobs = 0, budget = 0;
  const struct cli_opt opts[] = {
      {"device", CLI_STR, &o.device, "D", "profile name (h100, mi300x, host) or arch"},
      {"emulate", CLI_STR, &o.emulate, "D2", "host only: span and compile as for this GPU"},
      {"dtype", CLI_STR, &o.dtype, "T", "f16, bf16 or f32 (host: f32, GPUs: f16)"},
      {"layout", CLI_STR, &o.layout, "L", "NN, NT, TN or TT (A then B; T: transposed)"},
      {"m", CLI_INT, &o.m, "M", "rows of C"},
      {"n", CLI_INT, &o.n, "N", "columns of C"},
      {"k", CLI_INT, &o.k, "K", "the reduction dim"},
      {"shapes", CLI_STR, &o.shapes_file, "FILE", "one shape per line: M N K"},
      {"template", CLI_STR, &dummy, "NAME|PATH", "a gemm template (repeatable)"},
      {"strategy", CLI_STR, &strategy, "S",
       "exhaustive, random, model (default), anneal or genetic"},
      {"budget", CLI_INT, &budget, "N", "variants measured per template"},
      {"time-budget", CLI_STR, &time_budget, "SEC", "wall seconds for all measurement"},
      {"seed", CLI_INT, &seed, "N", "seed of the random strategies (1)"},
      {"db", CLI_STR, &o.db_path, "FILE", "tuning database (default: see README)"},
      {"resume", CLI_FLAG, &o.resume, NULL, "finish the unfinished run with these arguments"},
      {"jobs", CLI_INT, &jobs, "N", "compile threads and emulator workers (the CPUs)"},
      {"timeout", CLI_STR, &timeout, "SEC", "watchdog per variant (60)"},
      {"variant-time", CLI_STR, &variant_time, "SEC", "timing budget per variant"},
      {"no-cache", CLI_FLAG, &o.no_cache, NULL, "neither read nor write the compile cache"},
      {"json", CLI_FLAG, &o.json, NULL, "print one JSON object"},
      {NULL, 0, NULL, NULL, NULL},
  };
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  int npos = 0, nrest = 0, code = CLI_USAGE, rc;
  if (!pos || !rest) {
    code = CLI_FAILED;
    goto done;
  }
  /* --template repeats, which the option table cannot hold: take them out first */
  for (int i = 0; i < argc; i++) {
    const char *val = NULL;
    if (i > 0 && strcmp(argv[i], "--template") == 0) {
      if (i + 1 >= argc) {
        cli_error("option '--template' expects NAME or PATH");
        goto done;
      }
      val = argv[++i];
    } else if (i > 0 && strncmp(argv[i], "--template=", 11) == 0) {
      val = argv[i] + 11;
    } else {
      rest[nrest++] = argv[i];
      continue;
    }
    if (o.ntemplates >= TUNE_MAX_TEMPLATES) {
      cli_error("more than %d --template options", TUNE_MAX_TEMPLATES);
      goto done;
    }
    o.templates[o.ntemplates++] = val;
  }
  rc = cli_parse(nrest, rest, opts, usage, description, pos, &npos);
  if (rc != CLI_OK) {
    code = rc < 0 ? CLI_OK : rc;
    goto done;
  }
  if (npos != 0) {
    cli_error("unexpected argument '%.60s'; try 'autotune gemm --help'", pos[0]);
    goto done;
  }
  o.strategy = SEARCH_MODEL;
  if (strategy && search_strategy_parse(strategy, &o.strategy) != AT_OK) {
    code = cli_fail(AT_USAGE);
    goto done;
  }
  struct {
    const char *text, *name;
    double *dest;
  } secs[] = {{time_budget, "--time-budget", &o.time_budget_s},
              {timeout, "--timeout", &o.timeout_s},
              {variant_time, "--variant-time", &o.variant_time_s}};
  for (size_t i = 0; i < sizeof secs / sizeof secs[0]; i++) {
    if (!secs[i].text)
      continue;
    char *end;
    double v = strtod(secs[i].text, &end);
    if (end == secs[i].text || *end || !(v > 0) || v > 1e7) {
      cli_error("bad %s '%.40s' (expected seconds, more than 0)", secs[i].name, secs[i].text);
      goto done;
    }
    *secs[i].dest = v;
  }
  bool budget_given = false;
  for (int i = 1; i < nrest; i++)
    budget_given |= strcmp(rest[i], "--budget") == 0 || strncmp(rest[i], "--budget=", 9) == 0;
  if (budget < -1 || (budget_given && budget == 0)) {
    cli_error("bad --budget %lld (a count of variants, at least 1; -1: all)",
              (long long)budget);
    goto done;
  }
  if (o.time_budget_s > 0 && budget > 0) {
    cli_error("give --budget or --time-budget, not both");
    goto done;
  }
  if (jobs < 0 || jobs > 256 || seed < 0) {
    cli_error("bad --jobs or --seed (1..256 threads; a seed >= 0)");
    goto done;
  }
  o.budget = budget;
  o.seed = (uint64_t)seed;
  o.jobs = (int)jobs;
  o.progress = !o.json && cli_stdout_is_tty();
  at_error_clear();
  intr_install();
  rc = tune_run(&o);
  code = rc == AT_OK ? CLI_OK : cli_fail(rc);
done:
  free(pos);
  free(rest);
  return code;
}
