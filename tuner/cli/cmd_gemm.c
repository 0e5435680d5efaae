/*
 * cmd_gemm.c - `autotune gemm --device D --m M --n N --k K ...`: the gemm op
 * (tuner/ops/gemm_tune.h) run by the tuning engine (tuner/engine/tune.h). An option
 * table and a call; the exit code: 0 the run finished (whatever its trials' statuses,
 * and when no measurement is possible here), 1 it failed, 2 bad input.
 */
#include <stdlib.h>
#include <string.h>

#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/cli/tune_cli.h"
#include "tuner/ops/gemm_tune.h"
#include "base/status.h"

static const char usage[] =
    "autotune gemm --device D [--emulate D2] [--gpu N|--gpus LIST] [--shard I/N] "
    "[--bundle DIR] [--dtype f16|bf16|f32] "
    "[--layout NN|NT|TN|TT] --m M --n N --k K [--shapes FILE] [--template NAME|PATH ...] "
    "[--strategy exhaustive|random|model|anneal|genetic|bo] [--budget N|--time-budget SEC] "
    "[--seed N] [--db FILE] [--resume] [--jobs N] [--timeout SEC] [--variant-time SEC] "
    "[--no-cache] [--sanitize] [--json]";
static const char description[] =
    "Tune a GEMM for a device: compile the variants of each template (default: every\n"
    "templates/gemm/*.h that loads for the device) that the strategy will measure (all valid\n"
    "ones without a budget), verify the variants it picks against a reference and time them\n"
    "(docs/measure.md: the protocol of every tuning command), and record every outcome as a\n"
    "trial in the tuning database, committed as it finishes. On a terminal a progress line,\n"
    "then per template the best config, its time, TFLOP/s, % of the device's peak, and the\n"
    "speed-up over the template's default config (the middle valid config) and over the\n"
    "naive baseline (templates/gemm/gemm_naive.h), measured in the same run.\n"
    "--device host runs the variants on the SIMT emulator; with --emulate mi300x (h100,\n"
    "gfx942, sm_90, ...) it spans and compiles exactly that GPU's variants. A GPU that is not\n"
    "on this machine is said first; its variants are compiled and pruned, none measured.\n"
    "--budget N: variants measured per template besides its default (host default 24, GPUs\n"
    "all; -1: all). Ctrl-C or SIGTERM: what was recorded stays; exit 130.\n"
    "--bundle DIR: measure from a bundle ('autotune bundle gemm ...' on a machine with the\n"
    "compilers): its templates and compiled variants; no compiler, no libclang needed.\n"
    "--resume: continue the latest unfinished run with the same arguments, measuring only\n"
    "what it lacks. --timeout: seconds one variant may take before it is killed (60).\n"
    "Exit 0 when the run finished, 1 when it failed, 2 on bad input.";

int cmd_gemm(int argc, char **argv)
{
  struct tune_cli tc;
  struct gemm_tune_args ga = {0};
  tune_cli_init(&tc, SEARCH_MODEL, true);
  const struct cli_opt opts[] = {
      {"dtype", CLI_STR, &ga.dtype, "T", "f16, bf16 or f32 (host: f32, GPUs: f16)"},
      {"layout", CLI_STR, &ga.layout, "L", "NN, NT, TN or TT (A then B; T: transposed)"},
      {"m", CLI_INT, CLI_INT_IN(&ga.m, 1, INT32_MAX), "M", "rows of C"},
      {"n", CLI_INT, CLI_INT_IN(&ga.n, 1, INT32_MAX), "N", "columns of C"},
      {"k", CLI_INT, CLI_INT_IN(&ga.k, 1, INT32_MAX), "K", "the reduction dim"},
      {"shapes", CLI_STR, &ga.shapes_file, "FILE", "M N K per line, or TunableOp/hipblaslt-bench/rocblas-bench lines"},
      {"template", CLI_STR, NULL, "NAME|PATH", "a gemm template (repeatable)"},
      TUNE_CLI_OPTS(&tc),
      {NULL, 0, NULL, NULL, NULL},
  };
  struct op_engine op = {0};
  int code = tune_cli_parse(&tc, argc, argv, opts, usage, description);
  if (code != CLI_OK) {
    code = code < 0 ? CLI_OK : code;
    goto done;
  }
  code = CLI_USAGE;
  if (tc.npos != 0) {
    cli_error("unexpected argument '%.60s'; try 'autotune gemm --help'", tc.pos[0]);
    goto done;
  }
  if ((code = tune_cli_check(&tc)) != CLI_OK)
    goto done;
  if (gemm_tune_op_init(&op, &ga) != AT_OK) {
    code = cli_fail(AT_NOMEM);
    goto done;
  }
  code = tune_cli_run(&tc, &op, NULL);
done:
  gemm_tune_op_release(&op);
  tune_cli_release(&tc);
  return code;
}
