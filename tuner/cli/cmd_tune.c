/*
 * cmd_tune.c - `autotune tune TEMPLATE.h --device D --dim NAME=V ...`: tune any
 * annotated template, not only the gemm and attention ops: a user's template as an op
 * (tuner/ops/any_tune.h: arguments from the kernel's signature, every variant checked
 * against the reference config's outputs) run by the one tuning engine
 * (tuner/engine/tune.h): the same isolation, measurement protocol, search, resume and
 * records as `autotune gemm`. Trials are recorded under op = the template's kernel
 * name. docs/tune.md is the user's side.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "generator/template.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/cli/tune_cli.h"
#include "tuner/engine/template_dirs.h"
#include "tuner/ops/any_tune.h"

#define MAX_CLI 32

static const char usage[] =
    "autotune tune TEMPLATE.h --device D --dim NAME=V [--dim ...] [--arg NAME=EXPR ...] "
    "[--dtype T] [--reference CONFIG] [--rtol X] [--atol X] [--emulate D2] "
    "[--gpu N|--gpus LIST] [--shard I/N] "
    "[--bundle DIR] [--strategy S] [--budget N|--time-budget SEC] [--seed N] [--db FILE] "
    "[--resume] [--jobs N] [--timeout SEC] [--variant-time SEC] [--no-cache] [--sanitize] "
    "[--json]";
static const char description[] =
    "Tune any annotated template (docs/templates.md) for one problem: compile its valid\n"
    "variants, run the reference config and then those the search strategy picks\n"
    "(--strategy, --budget; -1: all), check each against the reference's output, time\n"
    "it by the protocol of docs/measure.md (the engine of `autotune gemm`), and record\n"
    "every outcome in the tuning database with op = the template's kernel name. Kernel\n"
    "arguments come from its signature: a pointer is a buffer of --arg NAME=COUNT\n"
    "elements (const: input; else output, checked); an int named like a problem dim is\n"
    "that dim; other scalars are --arg NAME=VALUE. COUNT and VALUE may use the dims\n"
    "(--arg x=N*2). --device host runs on the SIMT emulator; a GPU present here through\n"
    "its runtime (CUDA driver or HIP). Winners feed `autotune emit-header OP --mode params`. docs/tune.md.\n"
    "--resume: finish the latest unfinished run with the same arguments, measuring only\n"
    "what it has not recorded (the reference runs again for its outputs, unrecorded).\n"
    "Exit 0 when the run finished, 1 when it failed (the reference config failed, or the\n"
    "device is not here), 2 on bad input.";

int cmd_tune(int argc, char **argv)
{
  struct tune_cli tc;
  tune_cli_init(&tc, SEARCH_RANDOM, false);
  const char *dtype = NULL, *reference = NULL, *rtol_s = NULL, *atol_s = NULL;
  char *dim_args[MAX_CLI], *arg_args[MAX_CLI];
  size_t ndim_args = 0, narg_args = 0;
  const struct cli_opt opts[] = {
      {"dim", CLI_STR, NULL, "NAME=V", "a problem dim of the template (repeat for each)"},
      {"arg", CLI_STR, NULL, "NAME=EXPR", "buffer length or scalar value of a kernel parameter"},
      {"dtype", CLI_STR, &dtype, "T", "f16, bf16 or f32 for a template with a dtype pragma"},
      {"reference", CLI_STR, &reference, "CONFIG", "the trusted config (default: the middle one)"},
      {"rtol", CLI_STR, &rtol_s, "X", "relative tolerance of float outputs (1e-5; f16/bf16 1e-2)"},
      {"atol", CLI_STR, &atol_s, "X", "absolute tolerance of float outputs (1e-6)"},
      TUNE_CLI_OPTS(&tc),
      {NULL, 0, NULL, NULL, NULL},
  };
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  int nrest = argc, code = CLI_USAGE, rc;
  struct tmpl *t = NULL;
  struct op_engine op = {0};
  struct tune_summary sum;
  if (!rest) {
    code = CLI_FAILED;
    goto done;
  }
  memcpy(rest, argv, sizeof *rest * (size_t)argc);
  /* --dim and --arg repeat: taken out before the table parser sees the rest */
  if (cli_take_repeated(&nrest, rest, "dim", dim_args, MAX_CLI, &ndim_args) != CLI_OK ||
      cli_take_repeated(&nrest, rest, "arg", arg_args, MAX_CLI, &narg_args) != CLI_OK)
    goto done;
  code = tune_cli_parse(&tc, nrest, rest, opts, usage, description);
  if (code != CLI_OK) {
    code = code < 0 ? CLI_OK : code;
    goto done;
  }
  code = CLI_USAGE;
  if (tc.npos != 1 || tc.o.ntemplates) {
    cli_error("tune needs one template file; try 'autotune tune --help'");
    goto done;
  }
  double rtol = -1, atol = -1;
  int64_t dim_vals[MAX_CLI];
  if ((rtol_s && cli_double("--rtol", rtol_s, 0, DBL_MAX, &rtol) != CLI_OK) ||
      (atol_s && cli_double("--atol", atol_s, 0, DBL_MAX, &atol) != CLI_OK) ||
      cli_key_ints("dim", (const char *const *)dim_args, ndim_args, 0, INT32_MAX, dim_vals) !=
          CLI_OK ||
      cli_keys_once("arg", (const char *const *)arg_args, narg_args) != CLI_OK)
    goto done;
  if (dtype && strcmp(dtype, "f32") && strcmp(dtype, "f16") && strcmp(dtype, "bf16")) {
    cli_error("bad --dtype '%.20s' (expected f16, bf16 or f32)", dtype);
    goto done;
  }
  if ((code = tune_cli_check(&tc)) != CLI_OK)
    goto done;
  code = CLI_USAGE;
  if (!tc.o.device) {
    cli_error("tune needs --device (host, or a GPU profile such as h100)");
    goto done;
  }
  /* The template (a bundle's copy from a bundle): its signature gives the kernel's
   * arguments. */
  char common[PATH_MAX], path[PATH_MAX], cache[PATH_MAX];
  if (tc.o.bundle && bundle_template(tc.o.bundle, NULL, tc.pos[0], path) != AT_OK) {
    code = cli_fail(AT_USAGE);
    goto done;
  }
  if (!tc.o.bundle)
    snprintf(path, sizeof path, "%s", tc.pos[0]);
  template_common_dir(path, common);
  const char *incs[] = {common, NULL};
  if ((rc = tmpl_open(path, incs, tune_cache_root(&tc.o, cache), &t)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (dtype && !t->dtype) {
    cli_error("template %s has no dtype pragma: --dtype does not apply", t->kernel);
    code = CLI_USAGE;
    goto done;
  }
  struct any_tune_args aa = {.t = t, .dims = (const char *const *)dim_args, .ndims = ndim_args,
                             .args = (const char *const *)arg_args, .nargs = narg_args,
                             .dtype = dtype, .reference = reference, .rtol = rtol,
                             .atol = atol};
  if ((rc = any_tune_op_init(&op, &aa)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  tc.o.templates[tc.o.ntemplates++] = t->path;
  code = tune_cli_run(&tc, &op, &sum);
  if (code != CLI_OK)
    goto done;
  if (tc.making_bundle) {
    code = CLI_OK;
  } else if (!sum.measured_here) {
    code = CLI_FAILED; /* the warning said why: no such device here */
  } else if (sum.reference_failed) {
    cli_error("the reference config failed: nothing else could be checked; give a working "
              "one with --reference");
    code = CLI_FAILED;
  }
done:
  any_tune_op_release(&op);
  tmpl_free(t);
  tune_cli_release(&tc);
  free(rest);
  return code;
}
