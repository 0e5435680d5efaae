/*
 * main.c - the `autotune` command: dispatches to the command table in commands.c.
 * `autotune --help` lists the commands, `autotune --version` prints the version, and
 * `autotune <cmd> --help` each command's options.
 */
#include <stdio.h>
#include <string.h>

#include "autotune/autotune.h"
#include "tuner/cli/cli.h"

static void usage(FILE *out)
{
  fputs("usage: autotune <command> [options] [-q|-v]\n"
        "       autotune --version\n"
        "       autotune <command> --help\n\ncommands:\n", out);
  for (const struct cli_cmd *c = cli_commands; c->name; c++)
    fprintf(out, "  %-12s %s\n", c->name, c->summary);
  fputs("\nglobal options (anywhere on the line):\n"
        "  -q, --quiet    errors only: no progress line, warning or note\n"
        "  -v, --verbose  a line on stderr per variant measured, even when piped\n"
        "\nenvironment:\n", out);
  for (const struct cli_env *e = cli_env_vars; e->name; e++)
    fprintf(out, "  %-24s %s\n", e->name, e->help);
}

int main(int argc, char **argv)
{
  if (cli_take_verbosity(&argc, argv) != CLI_OK)
    return CLI_USAGE;
  if (argc < 2) {
    usage(stderr);
    return CLI_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
    usage(stdout);
    return CLI_OK;
  }
  if (strcmp(name, "--version") == 0) {
    printf("autotune %s\n", at_version());
    return CLI_OK;
  }
  for (const struct cli_cmd *c = cli_commands; c->name; c++)
    if (strcmp(c->name, name) == 0) {
      int rc = c->fn(argc - 1, argv + 1);
      /* What was printed must have been written: a failed write of stdout is exit 1. */
      return rc == CLI_OK ? cli_flush_stdout() : rc;
    }
  cli_error("unknown command '%.60s'; try 'autotune --help'", name);
  return CLI_USAGE;
}
