/*
 * test_cli.c - the command line as a user meets it: the command table, `autotune
 * --help` and README.md list the same commands; every command has --help; --version;
 * exit codes 0/1/2; one-line errors with the `autotune: ` prefix.
 */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/helpers.h"
#include "autotune/autotune.h"
#include "tuner/cli/cli.h"

/* Commands named in README.md's command table: rows "| `autotune NAME ...` |". */
static int readme_commands(char names[][32], int cap)
{
  char *readme = th_read(AT_SOURCE_DIR "/README.md", NULL);
  cr_assert_not_null(readme, "README.md is missing");
  int n = 0;
  for (char *line = strtok(readme, "\n"); line; line = strtok(NULL, "\n")) {
    const char *p = strstr(line, "| `autotune ");
    if (p != line)
      continue;
    p += strlen("| `autotune ");
    size_t len = strcspn(p, " `");
    cr_assert_lt(n, cap);
    snprintf(names[n++], 32, "%.*s", (int)len, p);
  }
  free(readme);
  return n;
}

Test(cli, table_help_and_readme_list_the_same_commands)
{
  char readme[32][32];
  int nreadme = readme_commands(readme, 32);
  struct th_result r;
  th_run(&r, "--help");
  cr_assert_eq(r.code, 0);
  int ntable = 0;
  for (const struct cli_cmd *c = cli_commands; c->name; c++, ntable++) {
    char want[64];
    snprintf(want, sizeof want, "\n  %s ", c->name);
    cr_assert(strstr(r.out, want), "--help lacks '%s':\n%s", c->name, r.out);
    bool in_readme = false;
    for (int i = 0; i < nreadme; i++)
      in_readme |= strcmp(readme[i], c->name) == 0;
    cr_assert(in_readme, "README.md's command table lacks '%s'", c->name);
  }
  cr_assert_eq(nreadme, ntable, "README lists %d commands, the table %d", nreadme, ntable);
  /* --help's command list (up to the blank line before the global options) holds
   * nothing beyond the table. */
  int nhelp = 0;
  const char *list = strstr(r.out, "commands:\n"), *end = list ? strstr(list, "\n\n") : NULL;
  for (const char *p = list; p && (p = strstr(p, "\n  ")) && (!end || p < end); p++)
    nhelp++;
  cr_assert_eq(nhelp, ntable, "%s", r.out);
  th_result_free(&r);
}

Test(cli, every_command_has_help_that_exits_0)
{
  for (const struct cli_cmd *c = cli_commands; c->name; c++) {
    struct th_result r;
    th_run(&r, "%s --help", c->name);
    cr_assert_eq(r.code, 0, "%s --help: %s", c->name, r.err);
    cr_assert(strstr(r.out, "usage: autotune "), "%s --help: %s", c->name, r.out);
    th_result_free(&r);
  }
}

Test(cli, version_prints_the_library_version)
{
  struct th_result r;
  th_run(&r, "--version");
  cr_assert_eq(r.code, 0);
  char want[64];
  snprintf(want, sizeof want, "autotune %s\n", at_version());
  cr_assert_str_eq(r.out, want);
  th_result_free(&r);
}

Test(cli, unknown_command_and_no_command_exit_2)
{
  struct th_result r;
  th_run(&r, "frobnicate");
  cr_assert_eq(r.code, 2);
  cr_assert_str_eq(r.err, "autotune: unknown command 'frobnicate'; try 'autotune --help'\n");
  th_result_free(&r);
  th_run(&r, "%s", "");
  cr_assert_eq(r.code, 2);
  cr_assert(strstr(r.err, "usage: autotune <command>"), "%s", r.err);
  th_result_free(&r);
}

Test(cli, option_parser_forms)
{
  const char *s = NULL;
  int64_t n = 0;
  bool f = false;
  const struct cli_opt opts[] = {{"db", CLI_STR, &s, "FILE", "db"},
                                 {"m", CLI_INT, CLI_INT_IN(&n, -5, 100), "M", "m"},
                                 {"json", CLI_FLAG, &f, NULL, "json"},
                                 {NULL, 0, NULL, NULL, NULL}};
  char *argv[] = {"x", "pos1", "--db=a.db", "--m", "42", "--json", "--", "--notopt", NULL};
  char *pos[8];
  int npos = 0;
  cr_assert_eq(cli_parse(8, argv, opts, "u", "d", pos, &npos), CLI_OK);
  cr_assert_str_eq(s, "a.db");
  cr_assert_eq(n, 42);
  cr_assert(f);
  cr_assert_eq(npos, 2);
  cr_assert_str_eq(pos[0], "pos1");
  cr_assert_str_eq(pos[1], "--notopt");
  char *bad[] = {"x", "--m", NULL};
  cr_assert_eq(cli_parse(2, bad, opts, "u", "d", pos, &npos), CLI_USAGE);
  char *flagval[] = {"x", "--json=1", NULL};
  cr_assert_eq(cli_parse(2, flagval, opts, "u", "d", pos, &npos), CLI_USAGE);
  /* issue 15: never the last of two, never a value outside the option's range */
  char *twice[] = {"x", "--m", "1", "--m=2", NULL};
  cr_assert_eq(cli_parse(4, twice, opts, "u", "d", pos, &npos), CLI_USAGE);
  char *out[] = {"x", "--m", "101", NULL};
  cr_assert_eq(cli_parse(3, out, opts, "u", "d", pos, &npos), CLI_USAGE);
  char *low[] = {"x", "--m=-5", NULL};
  cr_assert_eq(cli_parse(2, low, opts, "u", "d", pos, &npos), CLI_OK);
  cr_assert_eq(n, -5);
}

/* The shared number parsers (issue 15): the whole text, in range, finite. */
Test(cli, number_parsers_take_the_whole_text_in_range)
{
  int64_t v = 7;
  double d = 7;
  cr_assert_eq(cli_int("--x", "42", 1, 64, &v), CLI_OK);
  cr_assert_eq(v, 42);
  const char *bad_ints[] = {"", " 4", "4 ", "0x10", "4.0", "65", "0", "99999999999999999999",
                            "-99999999999999999999", "1e3"};
  for (size_t i = 0; i < sizeof bad_ints / sizeof *bad_ints; i++) {
    cr_assert_eq(cli_int("--x", bad_ints[i], 1, 64, &v), CLI_USAGE, "'%s'", bad_ints[i]);
    cr_assert_eq(v, 42, "'%s' changed the value", bad_ints[i]);
  }
  cr_assert_eq(cli_int("--x", "9223372036854775807", 1, INT64_MAX, &v), CLI_OK);
  cr_assert_eq(v, INT64_MAX);
  cr_assert_eq(cli_double("--rtol", "1e-3", 0, 1, &d), CLI_OK);
  cr_assert_float_eq(d, 1e-3, 1e-12);
  const char *bad_dbls[] = {"", "1e999", "-1e999", "inf", "nan", "0.1abc", " 0.1", "2", "-0.5"};
  for (size_t i = 0; i < sizeof bad_dbls / sizeof *bad_dbls; i++)
    cr_assert_eq(cli_double("--rtol", bad_dbls[i], 0, 1, &d), CLI_USAGE, "'%s'", bad_dbls[i]);
  cr_assert_float_eq(d, 1e-3, 1e-12);
  const char *dims[] = {"N=4", "M=8", "N=4"};
  int64_t vals[3];
  cr_assert_eq(cli_key_ints("dim", dims, 2, 1, 100, vals), CLI_OK);
  cr_assert(vals[0] == 4 && vals[1] == 8);
  cr_assert_eq(cli_key_ints("dim", dims, 3, 1, 100, vals), CLI_USAGE);
  const char *nokey[] = {"=4"};
  cr_assert_eq(cli_key_ints("dim", nokey, 1, 1, 100, vals), CLI_USAGE);
}

/* Every clamp of issue 15, item 12, through the real binary: exit 2, one line naming the
 * option and what it expects, and no database created. */
Test(cli, bad_numbers_exit_2_and_touch_no_database, .timeout = 120)
{
  char *dir = th_tmpdir();
  char *db = th_path(dir, "t.db");
  static const char scale[] = AT_SOURCE_DIR "/templates/example/scale.h";
  static const struct {
    const char *args, *says;
  } cases[] = {
      {"gemm --device host --m 0 --n 8 --k 8", "bad --m '0' (expected an integer from 1 to "
                                               "2147483647)"},
      {"gemm --device host --m 8 --n 8 --k 8 --m 16", "option '--m' is given twice"},
      {"gemm --device host --m 8 --n 8 --k 8 --jobs 0", "bad --jobs '0' (expected an integer "
                                                       "from 1 to 256)"},
      {"gemm --device host --m 8 --n 8 --k 8 --jobs 257", "bad --jobs '257'"},
      {"gemm --device host --m 8 --n 8 --k 8 --timeout 1e999", "bad --timeout '1e999'"},
      {"gemm --device host --m 8 --n 8 --k 8 --reps 0", "unknown option '--reps'"},
      {"tune %s --device host --dim N=64 --arg y=N --arg x=N --arg alpha=1 --arg beta=1 "
       "--rtol 1e999", "bad --rtol '1e999' (expected a finite number of at least 0)"},
      {"tune %s --device host --dim N=64 --arg y=N --arg x=N --arg alpha=1 --arg beta=1 "
       "--rtol 0.1abc", "bad --rtol '0.1abc'"},
      {"tune %s --device host --dim N=64 --arg y=N --arg x=N --arg alpha=1 --arg beta=1 "
       "--jobs 257", "bad --jobs '257'"},
      {"tune %s --device host --dim N=64 --arg y=N --arg x=N --arg alpha=1 --arg beta=1 "
       "--dim N=128", "--dim N is given twice"},
      {"tune %s --device host --dim N=99999999999999999999 --arg y=N --arg x=N --arg alpha=1 "
       "--arg beta=1", "bad --dim N '99999999999999999999'"},
      {"attention --device host --seqlen 8 --head-dim 64 --seqlen 16", "'--seqlen' is given "
                                                                        "twice"},
      {"tune %s --device host --dim N=64 --arg y=N --arg x=N --arg alpha=1 --arg beta=1 "
       "--arg x=2*N", "--arg x is given twice ('x=N' and 'x=2*N')"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char args[1024];
    snprintf(args, sizeof args, cases[i].args, scale);
    struct th_result r;
    th_run(&r, "%s --db '%s'", args, db);
    cr_assert_eq(r.code, 2, "'%s' exited %d: %s", args, r.code, r.err);
    cr_assert(strstr(r.err, cases[i].says), "'%s': %s lacks '%s'", args, r.err, cases[i].says);
    cr_assert(strncmp(r.err, "autotune: ", 10) == 0, "%s", r.err);
    cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
    cr_assert_eq(access(db, F_OK), -1, "'%s' created %s", args, db);
    th_result_free(&r);
  }
  free(db);
  th_rmtree(dir);
  free(dir);
}

/* The bad inputs of the foundation, each through the real binary: exit 2, one line
 * starting "autotune: " that names the input, and nothing in an existing file lost. */
static void expect_usage_error(const char *args, const char *needle)
{
  struct th_result r;
  th_run(&r, "%s", args);
  cr_assert_eq(r.code, 2, "'%s' exited %d: %s", args, r.code, r.err);
  cr_assert(strncmp(r.err, "autotune: ", 10) == 0, "%s", r.err);
  cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
  cr_assert(strstr(r.err, needle), "'%s': %s lacks '%s'", args, r.err, needle);
  th_result_free(&r);
}

Test(cli, unknown_device_bad_shape_unwritable_path)
{
  char *dir = th_tmpdir();
  char args[1024];
  snprintf(args, sizeof args, "query gemm --device mi999 --m 1 --n 1 --k 1 --db '%s/x.db'",
           dir);
  expect_usage_error(args, "unknown device 'mi999'");
  snprintf(args, sizeof args, "query gemm --device h100 --m 64 --n 0 --k 1 --db '%s/x.db'",
           dir);
  expect_usage_error(args, "bad --n '0'");
  expect_usage_error("db init --db /nonexistent-dir/tuning.db", "/nonexistent-dir/tuning.db");
  snprintf(args, sizeof args, "db init --db '%s'", dir);
  expect_usage_error(args, "is a directory");
  th_rmtree(dir);
  free(dir);
}

Test(cli, database_from_the_future_and_corrupt_database)
{
  char *dir = th_tmpdir();
  char *path = th_path(dir, "t.db");
  struct th_result r;
  th_run(&r, "db import --db '%s' '%s/examples/data/example.jsonl'", path, AT_SOURCE_DIR);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  sqlite3 *h = NULL;
  cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(h, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);
  char args[1024];
  snprintf(args, sizeof args, "db stats --db '%s'", path);
  expect_usage_error(args, "newer than this autotune");
  snprintf(args, sizeof args, "db import --db '%s' '%s/examples/data/example.jsonl'", path,
           AT_SOURCE_DIR);
  expect_usage_error(args, "newer than this autotune");
  /* Nothing was lost or changed: the trials are all still there. */
  cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  cr_assert_eq(sqlite3_prepare_v2(h, "SELECT count(*) FROM trials", -1, &st, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_eq(sqlite3_column_int(st, 0), 8);
  sqlite3_finalize(st);
  sqlite3_close(h);
  /* A file whose header is damaged. */
  char *bad = th_path(dir, "bad.db");
  static const char junk[] = "SQLite format 3\0this is not a database page at all......";
  th_write(bad, junk, sizeof junk - 1);
  snprintf(args, sizeof args, "db stats --db '%s'", bad);
  expect_usage_error(args, bad);
  snprintf(args, sizeof args, "query gemm --device h100 --m 1 --n 1 --k 1 --db '%s'", bad);
  expect_usage_error(args, bad);
  th_rmtree(dir);
  free(bad);
  free(path);
  free(dir);
}
