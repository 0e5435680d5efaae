/*
 * cmd_db.c - `autotune db`: the commands that look after a tuning database as a whole,
 * init, stats, check, merge, export and import, each with its own option table. The
 * work is done by db/ (db.h); this file resolves the database path, opens it read-only
 * for the commands that only read (a missing file is an error there, never created),
 * prints results for people or, with --json, for programs, and maps failures to exit
 * codes through cli_fail.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "base/os.h"
#include "base/json.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "base/status.h"
#include "tuner/search/simulate.h"

struct db_sub {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
};

static const char db_help_text[] =
    "Every command takes --db FILE; without it the database is $AUTOTUNE_DB, else\n"
    "$XDG_DATA_HOME/autotune/tuning.db, else ~/.local/share/autotune/tuning.db.";

/* Resolve `path` (NULL: the default) and open it. Returns CLI_OK or an exit code after
 * printing the error. OUT: *out. */
static int open_db(const char *path, int flags, struct db **out)
{
  *out = NULL;
  if (!path && !(path = cli_default_db(flags & DB_CREATE)))
    return CLI_USAGE;
  int rc = db_open(path, flags, out);
  return rc == AT_OK ? CLI_OK : cli_fail(rc);
}

/* Parse a subcommand's options; returns CLI_OK, an exit code, or -1 after --help. */
static int parse(int argc, char **argv, const struct cli_opt *opts, const char *usage,
                 const char *description, char **pos, int *npos, int min_pos, int max_pos)
{
  int rc = cli_parse(argc, argv, opts, usage, description, pos, npos);
  if (rc != CLI_OK)
    return rc;
  if (*npos > max_pos) {
    cli_error("unexpected argument '%.60s'; try 'autotune %s --help'", pos[max_pos],
              argv[0]);
    return CLI_USAGE;
  }
  if (*npos < min_pos) {
    cli_error("missing argument (usage: %s); try 'autotune %s --help'", usage, argv[0]);
    return CLI_USAGE;
  }
  return CLI_OK;
}

#define PARSE_OR_RETURN(...)              \
  do {                                    \
    int prc_ = parse(__VA_ARGS__);        \
    if (prc_ != CLI_OK)                   \
      return prc_ < 0 ? CLI_OK : prc_;    \
  } while (0)

static void print_counts(FILE *out, const char *source, const struct db_merge_stats *s,
                         bool json)
{
  if (json) {
    fputs("{\"source\":", out);
    json_write_str(out, source);
    fputs(",\"runs_added\":", out);
    json_write_int(out, s->runs_added);
    fputs(",\"runs_present\":", out);
    json_write_int(out, s->runs_present);
    fputs(",\"trials_added\":", out);
    json_write_int(out, s->trials_added);
    fputs(",\"trials_present\":", out);
    json_write_int(out, s->trials_present);
    fputs("}", out);
    return;
  }
  fprintf(out, "%s: runs %lld added, %lld present; trials %lld added, %lld present\n",
          source, (long long)s->runs_added, (long long)s->runs_present,
          (long long)s->trials_added, (long long)s->trials_present);
}

static int db_init(int argc, char **argv)
{
  const char *path = NULL;
  bool json = false;
  const struct cli_opt opts[] = {
      {"db", CLI_STR, &path, "FILE", "the database to create or migrate"},
      {"json", CLI_FLAG, &json, NULL, "print the result as JSON"},
      {NULL, CLI_FLAG, NULL, NULL, NULL},
  };
  char *pos[argc > 0 ? argc : 1];
  int npos;
  struct db *db;
  PARSE_OR_RETURN(argc, argv, opts, "autotune db init [--db FILE] [--json]",
                  "Create the database, or migrate an older one to the current schema,\n"
                  "and print its path and schema version.", pos, &npos, 0, 0);
  int rc = open_db(path, DB_CREATE, &db);
  if (rc != CLI_OK)
    return rc;
  if (json) {
    fputs("{\"path\":", stdout);
    json_write_str(stdout, db_path(db));
    printf(",\"schema\":%d}\n", db_schema_version(db));
  } else {
    printf("%s: schema version %d\n", db_path(db), db_schema_version(db));
  }
  db_close(db);
  return CLI_OK;
}

static int db_stats_cmd(int argc, char **argv)
{
  const char *path = NULL;
  bool json = false;
  const struct cli_opt opts[] = {
      {"db", CLI_STR, &path, "FILE", "the database to count"},
      {"json", CLI_FLAG, &json, NULL, "print the counts as one JSON object"},
      {NULL, CLI_FLAG, NULL, NULL, NULL},
  };
  char *pos[argc > 0 ? argc : 1];
  int npos;
  struct db *db;
  struct db_stats s;
  PARSE_OR_RETURN(argc, argv, opts, "autotune db stats [--db FILE] [--json]",
                  "Count the runs, trials (by status), winners, devices, kernels, problems\n"
                  "and configs of a database.", pos, &npos, 0, 0);
  int rc = open_db(path, DB_READONLY, &db);
  if (rc != CLI_OK)
    return rc;
  int st = db_stats(db, &s);
  if (st != AT_OK) {
    rc = cli_fail(st);
    goto done;
  }
  const struct {
    const char *name;
    int64_t value;
  } rows[] = {{"runs", s.runs},       {"trials", s.trials},     {"winners", s.winners},
              {"devices", s.devices}, {"kernels", s.kernels},   {"problems", s.problems},
              {"configs", s.configs}};
  if (json) {
    fputs("{\"path\":", stdout);
    json_write_str(stdout, db_path(db));
    printf(",\"schema\":%d", s.schema_version);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
      printf(",\"%s\":%lld", rows[i].name, (long long)rows[i].value);
    fputs(",\"by_status\":{", stdout);
    for (int i = 0; i < DB_TRIAL_STATUS_COUNT; i++)
      printf("%s\"%s\":%lld", i ? "," : "", db_trial_status_name(i),
             (long long)s.by_status[i]);
    fputs("}}\n", stdout);
  } else {
    printf("%-15s %s (schema %d)\n", "database", db_path(db), s.schema_version);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
      printf("%-15s %lld\n", rows[i].name, (long long)rows[i].value);
      if (strcmp(rows[i].name, "trials") == 0)
        for (int k = 0; k < DB_TRIAL_STATUS_COUNT; k++)
          if (s.by_status[k])
            printf("  %-13s %lld\n", db_trial_status_name(k), (long long)s.by_status[k]);
    }
  }
done:
  db_close(db);
  return rc;
}

static int db_check_cmd(int argc, char **argv)
{
  const char *path = NULL;
  bool json = false;
  const struct cli_opt opts[] = {
      {"db", CLI_STR, &path, "FILE", "the database to check"},
      {"json", CLI_FLAG, &json, NULL, "print the result as JSON"},
      {NULL, CLI_FLAG, NULL, NULL, NULL},
  };
  char *pos[argc > 0 ? argc : 1];
  int npos;
  struct db *db;
  int64_t problems = 0;
  char msg[512] = "";
  PARSE_OR_RETURN(argc, argv, opts, "autotune db check [--db FILE] [--json]",
                  "Check a database: SQLite's integrity and foreign keys, the winners (and\n"
                  "their times) against a recomputation from the trials, one trial per\n"
                  "config in a run, and that every config parses. Exits 0 when healthy, 1\n"
                  "with the first problem printed when not (a damaged file too).",
                  pos, &npos, 0, 0);
  int rc = open_db(path, DB_READONLY, &db);
  if (rc != CLI_OK)
    return rc;
  int st = db_check(db, &problems, msg, sizeof msg);
  if (st != AT_OK) {
    rc = cli_fail(st);
    goto done;
  }
  rc = problems ? CLI_FAILED : CLI_OK;
  if (json) {
    fputs("{\"path\":", stdout);
    json_write_str(stdout, db_path(db));
    printf(",\"healthy\":%s,\"problems\":%lld,\"first\":", problems ? "false" : "true",
           (long long)problems);
    json_write_str(stdout, problems ? msg : NULL);
    fputs("}\n", stdout);
  } else if (problems == 0) {
    printf("%s: healthy\n", db_path(db));
  } else {
    cli_error("'%.200s' has %lld problem%s; the first: %s", db_path(db),
              (long long)problems, problems == 1 ? "" : "s", msg);
  }
done:
  db_close(db);
  return rc;
}

static int db_merge_cmd(int argc, char **argv)
{
  bool json = false;
  const struct cli_opt opts[] = {
      {"json", CLI_FLAG, &json, NULL, "print the counts as a JSON array"},
      {NULL, CLI_FLAG, NULL, NULL, NULL},
  };
  char *pos[argc > 0 ? argc : 1];
  int npos;
  struct db *db;
  PARSE_OR_RETURN(argc, argv, opts, "autotune db merge DEST SRC...",
                  "Put every run and trial of each SRC database into DEST (created if\n"
                  "missing), one transaction per source. Records already there are left\n"
                  "alone, so merging twice adds nothing. Stops at the first source that\n"
                  "fails; the sources before it stay merged. The destination is always\n"
                  "named: a merge never writes into the default database by surprise.",
                  pos, &npos, 2, argc);
  int rc = open_db(pos[0], DB_CREATE, &db);
  if (rc != CLI_OK)
    return rc;
  if (json)
    fputc('[', stdout);
  for (int i = 1; i < npos && rc == CLI_OK; i++) {
    struct db_merge_stats s;
    int st = db_merge(db, pos[i], &s);
    if (st != AT_OK) {
      fflush(stdout);
      rc = cli_fail(st);
      break;
    }
    if (json && i > 1)
      fputc(',', stdout);
    print_counts(stdout, pos[i], &s, json);
  }
  if (json)
    fputs("]\n", stdout);
  db_close(db);
  return rc;
}

static bool same_file(const char *a, const char *b)
{
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

static int db_export_cmd(int argc, char **argv)
{
  const char *path = NULL, *out_path = NULL;
  bool csv = false;
  const struct cli_opt opts[] = {
      {"db", CLI_STR, &path, "FILE", "the database to export"},
      {"out", CLI_STR, &out_path, "FILE", "write to FILE instead of standard output ('-')"},
      {"csv", CLI_FLAG, &csv, NULL, "every trial as a CSV row instead (not importable)"},
      {NULL, CLI_FLAG, NULL, NULL, NULL},
  };
  char *pos[argc > 0 ? argc : 1];
  int npos;
  struct db *db = NULL;
  struct os_out file = {NULL, NULL, NULL};
  bool to_file;
  PARSE_OR_RETURN(argc, argv, opts, "autotune db export [--db FILE] [--out FILE|-] [--csv]",
                  "Write every run and trial as JSON lines: a header line, the runs, then\n"
                  "the trials, in the order they were recorded. 'autotune db import' reads\n"
                  "it back exactly. --out FILE is replaced only when the export is whole\n"
                  "(written beside it, then renamed); a link is written through to its\n"
                  "target; a device node or FIFO is refused ('-' is standard output).\n"
                  "--csv: every trial as a CSV row (RFC 4180) with its run's strategy, for a\n"
                  "spreadsheet; 'db import' reads only the JSON lines.",
                  pos, &npos, 0, 0);
  to_file = out_path && strcmp(out_path, "-") != 0;
  int rc = open_db(path, DB_READONLY, &db);
  if (rc != CLI_OK)
    return rc;
  if (to_file && same_file(out_path, db_path(db))) {
    rc = cli_fail(at_error(AT_USAGE, "refusing to export '%.200s' over itself", out_path));
    goto done;
  }
  int st = to_file ? os_out_open(&file, out_path) : AT_OK;
  if (st == AT_OK)
    st = (csv ? db_export_csv : db_export_jsonl)(db, to_file ? file.f : stdout);
  if (to_file && file.f)
    st = st == AT_OK ? os_out_commit(&file) : (os_out_abort(&file), st);
  if (st != AT_OK)
    rc = cli_fail(st);
done:
  db_close(db);
  return rc;
}

/* A copy of `from` in an unlinked temporary file, at its start; NULL (errno) when it
 * cannot be made. */
static FILE *copy_input(FILE *from)
{
  FILE *t = tmpfile();
  char buf[1 << 16];
  size_t n;
  while (t && (n = fread(buf, 1, sizeof buf, from)) > 0)
    if (fwrite(buf, 1, n, t) != n) {
      fclose(t);
      return NULL;
    }
  if (t && (ferror(from) || fflush(t) != 0)) {
    fclose(t);
    return NULL;
  }
  if (t)
    rewind(t);
  return t;
}

static int db_import_cmd(int argc, char **argv)
{
  const char *path = NULL;
  bool json = false;
  const struct cli_opt opts[] = {
      {"db", CLI_STR, &path, "FILE", "the database to import into (created if missing)"},
      {"json", CLI_FLAG, &json, NULL, "print the counts as JSON"},
      {NULL, CLI_FLAG, NULL, NULL, NULL},
  };
  char *pos[argc > 0 ? argc : 1];
  int npos;
  struct db *db = NULL;
  FILE *in = stdin;
  PARSE_OR_RETURN(argc, argv, opts, "autotune db import [--db FILE] FILE|-",
                  "Read JSON lines written by 'autotune db export' ('-': standard input).\n"
                  "Every line is checked first: a bad line is reported with its number and\n"
                  "nothing is added. Then 1000 records are written per transaction, so\n"
                  "tuners on the same database wait seconds, not the whole import; one\n"
                  "stopped while writing keeps whole chunks, and running it again adds\n"
                  "exactly the rest. Records already there are left alone. A Kernel Tuner\n"
                  "cache file (JSON, gzip or not) is imported as one run, a trial per config\n"
                  "(docs/search.md says how its names map), in one transaction.",
                  pos, &npos, 1, 1);
  bool from_stdin = strcmp(pos[0], "-") == 0;
  const char *name = from_stdin ? "stdin" : pos[0];
  if (!from_stdin && sim_is_kt_cache(pos[0])) {
    /* a Kernel Tuner cache: read and checked whole before the database is opened */
    struct sim_space *sp = NULL;
    int st = sim_space_from_kt(pos[0], &sp);
    if (st == AT_OK)
      st = sim_kt_check(sp);
    int rc = st == AT_OK ? open_db(path, DB_CREATE, &db) : cli_fail(st);
    if (rc == CLI_OK) {
      struct db_merge_stats s;
      if ((st = sim_kt_import(db, sp, &s)) != AT_OK)
        rc = cli_fail(st);
      else {
        print_counts(stdout, name, &s, json);
        if (json)
          fputc('\n', stdout);
      }
    }
    sim_space_free(sp);
    db_close(db);
    return rc;
  }
  if (!from_stdin && !(in = fopen(pos[0], "r")))
    return cli_fail(at_error(AT_IO, "cannot read '%.200s': %s", pos[0], strerror(errno)));
  /* A database that does not exist yet is created only for an input that checks out
   * (db_import_jsonl with no database: pass 1 alone); standard input is kept in an
   * unlinked temporary file (tmpfile) to be read twice. */
  const char *target = path ? path : cli_default_db(false); /* created by open_db */
  int rc = target ? CLI_OK : CLI_USAGE;
  if (rc == CLI_OK && access(target, F_OK) != 0) {
    int st = AT_OK;
    if (from_stdin && !(in = copy_input(stdin)))
      st = at_error(AT_IO, "cannot keep standard input: %s", strerror(errno));
    if (st == AT_OK && (st = db_import_jsonl(NULL, in, name, NULL)) == AT_OK)
      rewind(in);
    if (st != AT_OK)
      rc = cli_fail(st);
  }
  if (rc == CLI_OK)
    rc = open_db(path, DB_CREATE, &db);
  if (rc == CLI_OK) {
    struct db_merge_stats s;
    int st = db_import_jsonl(db, in, name, &s);
    if (st != AT_OK) {
      rc = cli_fail(st);
    } else {
      print_counts(stdout, name, &s, json);
      if (json)
        fputc('\n', stdout);
    }
  }
  if (in && in != stdin)
    fclose(in);
  db_close(db);
  return rc;
}

static const struct db_sub subs[] = {
    {"init", db_init, "create the database, or migrate it to the current schema"},
    {"stats", db_stats_cmd, "count runs, trials by status, winners, devices, kernels"},
    {"check", db_check_cmd, "check integrity and the winners; exit 1 if unhealthy"},
    {"merge", db_merge_cmd, "merge other databases into this one (idempotent)"},
    {"export", db_export_cmd, "write every run and trial as JSON lines"},
    {"import", db_import_cmd, "read JSON lines from 'db export' or a Kernel Tuner cache (checked)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
  fputs("usage: autotune db <command> [options]\n"
        "       autotune db <command> --help\n\n", out);
  fprintf(out, "%s\n\ncommands:\n", db_help_text);
  for (const struct db_sub *s = subs; s->name; s++)
    fprintf(out, "  %-8s %s\n", s->name, s->summary);
}

int cmd_db(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return CLI_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
    usage(stdout);
    return CLI_OK;
  }
  for (const struct db_sub *s = subs; s->name; s++) {
    if (strcmp(s->name, name) != 0)
      continue;
    /* The subcommand sees itself as "db NAME", so that hints read 'autotune db NAME'. */
    char self[32];
    snprintf(self, sizeof self, "db %s", s->name);
    argv[1] = self;
    at_error_clear();
    return s->fn(argc - 1, argv + 1);
  }
  cli_error("unknown db command '%.60s' (expected init, stats, check, merge, export or "
            "import)", name);
  return CLI_USAGE;
}
