/*
 * cli.h - the command line's shared parts: the command table (one cmd_<name>.c per
 * command, git-style), a small option-table parser, and error reporting. Only code in
 * this layer decides to exit; exit codes are CLI_OK 0, CLI_FAILED 1 (the run failed),
 * CLI_USAGE 2 (bad usage or input), CLI_INTERRUPTED 130 (stopped by SIGINT or SIGTERM,
 * the shell's 128 + SIGINT).
 */
#ifndef AT_TUNER_CLI_CLI_H
#define AT_TUNER_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2, CLI_INTERRUPTED = 130 };

struct cli_cmd {
  const char *name;
  int (*fn)(int argc, char **argv); /* argv[0] is the command's name */
  const char *summary;              /* one line for `autotune --help` */
};

/* The command table, NULL-name terminated; the order is the order of --help. */
extern const struct cli_cmd cli_commands[];

enum cli_opt_kind { CLI_STR, CLI_INT, CLI_FLAG };

struct cli_opt {
  const char *name;        /* long name without dashes, "db" for --db */
  enum cli_opt_kind kind;
  void *dest;              /* const char **, struct cli_int * (CLI_INT_IN), bool * */
  const char *arg;         /* placeholder in help, "FILE" */
  const char *help;
};

/* Where a CLI_INT option goes and the values it accepts (cli_int's range). */
struct cli_int {
  int64_t *dest;
  int64_t min, max;
};
/* A CLI_INT option's dest, in an option table: CLI_INT_IN(&jobs, 1, 256). */
#define CLI_INT_IN(dest, min, max) (&(struct cli_int){(dest), (min), (max)})

/*
 * Parse argv[1..argc) against `opts` (terminated by a NULL name). Accepts `--name VALUE`,
 * `--name=VALUE` and `--help`; an option given twice is an error (never the last one
 * silently), a CLI_INT value goes through cli_int with the option's range. Non-option
 * words are returned in order through positional (which must hold argc entries);
 * OUT: *npos. Returns CLI_OK, CLI_USAGE after
 * printing a one-line error, or -1 after printing help to stdout (the caller exits 0).
 */
int cli_parse(int argc, char **argv, const struct cli_opt *opts, const char *usage,
              const char *description, char **positional, int *npos);

/* Take every `--name VALUE` / `--name=VALUE` before a `--` out of argv (a repeatable
 * option such as --dim), compacting argv and *argc; the values go to vals[0..*n) (at most max). Returns
 * CLI_OK, or CLI_USAGE after printing a one-line error (a missing value, too many). */
int cli_take_repeated(int *argc, char **argv, const char *name, char **vals, size_t max,
                      size_t *n);
/*
 * The number parsers every option goes through, so that no value is clamped, wrapped or
 * half-read in silence: the whole text must be the number (no sign-less junk, no
 * trailing characters, no leading blank), within [min, max]; a double must be finite.
 * `what` names the option in the message ("--jobs", "--dim N"). OUT: *out (set only on
 * success). CLI_OK, or CLI_USAGE after one line: "bad --jobs '0' (expected an integer
 * from 1 to 256)".
 */
int cli_int(const char *what, const char *text, int64_t min, int64_t max, int64_t *out);
int cli_double(const char *what, const char *text, double min, double max, double *out);
/* A repeated `--opt KEY=VALUE` option (--dim, --arg): each KEY=VALUE with KEY not empty
 * and given once. CLI_OK, or CLI_USAGE after one line. */
int cli_keys_once(const char *opt, const char *const *args, size_t n);
/* The values of a repeated `--opt KEY=V` option (--dim): each must be KEY=V with KEY not
 * empty and given once, V as cli_int's with [min, max]. OUT: vals[0..n). CLI_OK, or
 * CLI_USAGE after one line. */
int cli_key_ints(const char *opt, const char *const *args, size_t n, int64_t min, int64_t max,
                 int64_t *vals);
/* Print a command's help: usage line, description, options. While a describe hook is
 * set (cli_set_describe), the hook gets the usage and the option table instead and
 * nothing is printed. */
void cli_help(FILE *out, const char *usage, const char *description,
              const struct cli_opt *opts);
/* How `autotune completion` reads each command's own option table: set a hook (NULL:
 * none), run the command with --help, and the table comes to the hook, valid during the
 * call only. */
typedef void (*cli_describe_fn)(void *ctx, const char *usage, const struct cli_opt *opts);
void cli_set_describe(cli_describe_fn fn, void *ctx);

/* The environment variables autotune reads (NULL-name terminated): `autotune --help`
 * and README.md list them all (tests/test_report.c checks). */
struct cli_env {
  const char *name;
  const char *help;
};
extern const struct cli_env cli_env_vars[];

/* Print "autotune: <message>" built from fmt to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print "autotune: <at_last_error() or the status message>" and map a library status
 * to an exit code: input errors to CLI_USAGE, AT_INTERRUPTED to CLI_INTERRUPTED, the rest
 * (a corrupt database, a full disk, an I/O error) to CLI_FAILED. */
int cli_fail(int status);
/* Flush standard output: CLI_OK, or CLI_FAILED after printing why when a write to it
 * failed (a full disk, a closed pipe, /dev/full). main() calls it after every command,
 * so that output a user did not get never exits 0. */
int cli_flush_stdout(void);

/* The default database: $AUTOTUNE_DB, else $XDG_DATA_HOME/autotune/tuning.db, else
 * ~/.local/share/autotune/tuning.db. The folder is created when `create` is true.
 * Returns a static buffer, or NULL with a message printed. */
const char *cli_default_db(bool create);

/* True when stdout is a terminal (progress lines are shown only then). */
bool cli_stdout_is_tty(void);

/* The global -q/--quiet and -v/--verbose, given anywhere before a `--`: main() takes them
 * out of argv (compacting argv and *argc) before it finds the command, so that every
 * command accepts them. Several -v add up; -q and -v together are an error. CLI_OK, or
 * CLI_USAGE after one line. */
int cli_take_verbosity(int *argc, char **argv);
/* -1 with -q (errors alone: no progress line, no warning, no "wrote FILE"), 0 by
 * default, 1 or more with -v (a tuning command prints a line on stderr per variant
 * measured, on a terminal or not). */
int cli_verbosity(void);

#endif
