/*
 * fuzz_options.c - libFuzzer target for the option parser (tuner/cli/cli.c,
 * tune_cli.c): the input is a command line, one word a line, given to `autotune gemm`'s
 * option table (the shared tuning options with the op's own, --template and a
 * repeatable --dim taken out first) and its checks, then every word to the number
 * parsers. Checks: the parser answers CLI_OK, CLI_USAGE or -1 (help); positional words
 * fit; an accepted integer is in its option's range; an accepted double is finite and
 * in range. What the parser prints goes to /dev/null.
 * Built outside CMake; fuzz/README.md has the command.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/cli/cli.h"
#include "tuner/cli/tune_cli.h"

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void must(int cond, const char *what)
{
  if (!cond) {
    fprintf(stderr, "fuzz_options: broken invariant: %s\n", what);
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc;
  (void)argv;
  /* libFuzzer keeps its own copy of stderr; the parser's messages and help go nowhere */
  FILE *null = fopen("/dev/null", "w");
  if (null)
    stderr = stdout = null;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 4096)
    return 0;
  char *text = malloc(size + 1);
  char *argv[MAX_WORDS + 1];
  int argc = 0;
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  argv[argc++] = "gemm";
  for (char *w = text, *end = text + size; w <= end && argc < MAX_WORDS;) {
    char *nl = memchr(w, '\n', (size_t)(end - w));
    if (nl)
      *nl = '\0';
    argv[argc++] = w;
    if (!nl)
      break;
    w = nl + 1;
  }
  argv[argc] = NULL;

  char *words[MAX_WORDS + 1];
  memcpy(words, argv, sizeof argv);
  int nwords = argc;
  char *dims[8];
  size_t ndims = 0;
  int rc = cli_take_repeated(&nwords, words, "dim", dims, 8, &ndims);
  must(rc == CLI_OK || rc == CLI_USAGE, "take_repeated status");
  must(nwords <= argc && ndims <= 8, "take_repeated counts");
  if (rc == CLI_OK) {
    int64_t vals[8];
    rc = cli_key_ints("dim", (const char *const *)dims, ndims, 1, INT32_MAX, vals);
    must(rc == CLI_OK || rc == CLI_USAGE, "key_ints status");
    for (size_t i = 0; rc == CLI_OK && i < ndims; i++)
      must(vals[i] >= 1 && vals[i] <= INT32_MAX, "a --dim in range");
  }

  struct tune_cli tc;
  int64_t m = 0, n = 0, k = 0;
  const char *dtype = NULL;
  tune_cli_init(&tc, SEARCH_MODEL, true);
  const struct cli_opt opts[] = {
      {"dtype", CLI_STR, &dtype, "T", "dtype"},
      {"m", CLI_INT, CLI_INT_IN(&m, 1, INT32_MAX), "M", "rows"},
      {"n", CLI_INT, CLI_INT_IN(&n, 1, INT32_MAX), "N", "columns"},
      {"k", CLI_INT, CLI_INT_IN(&k, 1, INT32_MAX), "K", "reduction"},
      {"template", CLI_STR, NULL, "NAME|PATH", "a template"},
      TUNE_CLI_OPTS(&tc),
      {NULL, 0, NULL, NULL, NULL},
  };
  rc = tune_cli_parse(&tc, nwords, words, opts, "u", "d");
  must(rc == CLI_OK || rc == CLI_USAGE || rc == -1, "parse status");
  if (rc == CLI_OK) {
    must(tc.npos >= 0 && tc.npos < nwords, "positional count");
    must(m >= 0 && m <= INT32_MAX && n >= 0 && k >= 0, "--m/--n/--k in range");
    must(tc.jobs >= 0 && tc.jobs <= 256 && tc.seed >= 0 && tc.budget >= -1, "shared ints");
    rc = tune_cli_check(&tc);
    must(rc == CLI_OK || rc == CLI_USAGE, "check status");
    if (rc == CLI_OK) {
      const struct tune_opts *o = &tc.o;
      must(isfinite(o->time_budget_s) && o->time_budget_s >= 0 && o->timeout_s >= 0 &&
           o->variant_time_s >= 0 && isfinite(o->timeout_s) && isfinite(o->variant_time_s),
           "seconds finite");
    }
  }
  tune_cli_release(&tc);

  for (int i = 1; i < argc; i++) {
    int64_t v = 0;
    double d = 0;
    if (cli_int("--x", argv[i], -1000, 1000, &v) == CLI_OK)
      must(v >= -1000 && v <= 1000, "cli_int range");
    if (cli_double("--x", argv[i], 0, 1e9, &d) == CLI_OK)
      must(isfinite(d) && d >= 0 && d <= 1e9, "cli_double range");
  }
  free(text);
  return 0;
}
