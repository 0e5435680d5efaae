/*
 * cmd_bundle.c - `autotune bundle OP ... --out DIR`: write what a GPU node without
 * compilers or libclang needs to tune OP (gemm, attention, tune) for a device and a list
 * of problems (tuner/engine/bundle.h). The op's own command parses everything but
 * --out, so a bundle takes exactly the options a run takes.
 */
#include <stdio.h>
#include <string.h>

#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/cli/tune_cli.h"

static const char usage[] =
    "autotune bundle gemm|attention|tune [that command's options] --out DIR";
static const char description[] =
    "Write a bundle: the templates (and the headers they include), their parsed form, and\n"
    "the compiled code object, resources and verdict of every valid variant of every\n"
    "problem the options name, for the device (--device D, or --device host --emulate D2),\n"
    "with a manifest (DIR/bundle.json: op, device, compile backend and toolchain, identity,\n"
    "size). Then, on a GPU node with the driver alone (no compiler, no LLVM):\n"
    "  autotune gemm --bundle DIR [--device D] --m M --n N --k K ...\n"
    "measures from it and records the trials a direct run records, the bundle's identity in\n"
    "the run's arguments. DIR must not exist; it appears whole or not at all. Every valid\n"
    "variant is compiled, so any --strategy and --budget can measure from the bundle.\n"
    "Exit 0 when the bundle was written, 1 when it failed, 2 on bad input.";

int cmd_bundle(int argc, char **argv)
{
  static const struct {
    const char *name;
    int (*run)(int, char **);
  } ops[] = {{"gemm", cmd_gemm}, {"attention", cmd_attention}, {"tune", cmd_tune}};
  static const struct cli_opt none[] = {{NULL, 0, NULL, NULL, NULL}};
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    if (argc >= 2) {
      cli_help(stdout, usage, description, none);
      return CLI_OK;
    }
    cli_error("bundle needs an op: gemm, attention or tune; try 'autotune bundle --help'");
    return CLI_USAGE;
  }
  size_t k = 0;
  while (k < sizeof ops / sizeof *ops && strcmp(ops[k].name, argv[1]) != 0)
    k++;
  if (k == sizeof ops / sizeof *ops) {
    cli_error("bundle: unknown op '%.60s' (gemm, attention or tune)", argv[1]);
    return CLI_USAGE;
  }
  /* take --out DIR; the rest is the op's */
  const char *out = NULL;
  int n = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--out") == 0 && i + 1 < argc && !out) {
      out = argv[++i];
      continue;
    }
    if (strncmp(argv[i], "--out=", 6) == 0 && !out) {
      out = argv[i] + 6;
      continue;
    }
    if (strcmp(argv[i], "--out") == 0) {
      cli_error("option '--out' expects a folder (once)");
      return CLI_USAGE;
    }
    argv[n++] = argv[i];
  }
  if (!out || !*out) {
    cli_error("bundle needs --out DIR (a folder that does not exist yet)");
    return CLI_USAGE;
  }
  tune_cli_make_bundle(out);
  return ops[k].run(n - 1, argv + 1);
}
