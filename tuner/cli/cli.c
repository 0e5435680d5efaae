/*
 * cli.c - option parsing, help and error printing shared by every cmd_*.c. The parser
 * is table-driven so that --help and the accepted options cannot disagree.
 */
#include "tuner/cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/os.h"
#include "base/status.h"

void cli_error(const char *fmt, ...)
{
  va_list ap;
  fputs("autotune: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int cli_flush_stdout(void)
{
  if (fflush(stdout) == 0 && !ferror(stdout))
    return CLI_OK;
  cli_error("cannot write standard output: %s", strerror(errno ? errno : EIO));
  return CLI_FAILED;
}

int cli_fail(int status)
{
  const char *msg = at_last_error();
  cli_error("%s", msg[0] ? msg : at_status_message(status));
  switch (status) {
  case AT_USAGE:
  case AT_IO:
  case AT_NOT_A_DB:
  case AT_DB_FUTURE:
  case AT_DB_READONLY:
  case AT_PARSE:
    return CLI_USAGE;
  case AT_INTERRUPTED:
    return CLI_INTERRUPTED;
  default:
    return CLI_FAILED;
  }
}

static cli_describe_fn describe;
static void *describe_ctx;

void cli_set_describe(cli_describe_fn fn, void *ctx)
{
  describe = fn;
  describe_ctx = ctx;
}

void cli_help(FILE *out, const char *usage, const char *description,
              const struct cli_opt *opts)
{
  if (describe) {
    describe(describe_ctx, usage, opts);
    return;
  }
  fprintf(out, "usage: %s\n", usage);
  if (description && description[0])
    fprintf(out, "\n%s\n", description);
  if (opts && opts[0].name) {
    fputs("\noptions:\n", out);
    for (const struct cli_opt *o = opts; o->name; o++) {
      char left[64];
      if (o->kind == CLI_FLAG)
        snprintf(left, sizeof left, "--%s", o->name);
      else
        snprintf(left, sizeof left, "--%s %s", o->name, o->arg ? o->arg : "VALUE");
      fprintf(out, "  %-22s %s\n", left, o->help);
    }
  }
  fprintf(out, "  %-22s %s\n", "--help", "show this help");
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, const char *name,
                                      size_t len)
{
  for (const struct cli_opt *o = opts; o && o->name; o++)
    if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
      return o;
  return NULL;
}

int cli_int(const char *what, const char *text, int64_t min, int64_t max, int64_t *out)
{
  char *end = NULL;
  errno = 0;
  long long v = text[0] && !isspace((unsigned char)text[0]) ? strtoll(text, &end, 10) : 0;
  if (!end || errno || end == text || *end || v < min || v > max) {
    if (max == INT64_MAX)
      cli_error("bad %s '%.40s' (expected an integer of at least %" PRId64 ")", what, text,
                min);
    else
      cli_error("bad %s '%.40s' (expected an integer from %" PRId64 " to %" PRId64 ")", what,
                text, min, max);
    return CLI_USAGE;
  }
  *out = v;
  return CLI_OK;
}

int cli_double(const char *what, const char *text, double min, double max, double *out)
{
  char *end = NULL;
  errno = 0;
  double v = text[0] && !isspace((unsigned char)text[0]) ? strtod(text, &end) : 0;
  if (!end || errno || end == text || *end || !isfinite(v) || v < min || v > max) {
    if (max == DBL_MAX)
      cli_error("bad %s '%.40s' (expected a finite number of at least %g)", what, text, min);
    else
      cli_error("bad %s '%.40s' (expected a number from %g to %g)", what, text, min, max);
    return CLI_USAGE;
  }
  *out = v;
  return CLI_OK;
}

int cli_keys_once(const char *opt, const char *const *args, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(args[i], '=');
    if (!eq || eq == args[i]) {
      cli_error("bad --%s '%.60s' (expected NAME=VALUE, e.g. N=4096)", opt, args[i]);
      return CLI_USAGE;
    }
    int klen = (int)(eq - args[i]);
    for (size_t j = 0; j < i; j++)
      if (strncmp(args[j], args[i], (size_t)klen + 1) == 0) {
        cli_error("--%s %.*s is given twice ('%.60s' and '%.60s'); give each once", opt,
                  klen > 40 ? 40 : klen, args[i], args[j], args[i]);
        return CLI_USAGE;
      }
  }
  return CLI_OK;
}

int cli_key_ints(const char *opt, const char *const *args, size_t n, int64_t min, int64_t max,
                 int64_t *vals)
{
  if (cli_keys_once(opt, args, n) != CLI_OK)
    return CLI_USAGE;
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(args[i], '=');
    int klen = (int)(eq - args[i]);
    char what[64];
    snprintf(what, sizeof what, "--%s %.*s", opt, klen > 40 ? 40 : klen, args[i]);
    if (cli_int(what, eq + 1, min, max, &vals[i]) != CLI_OK)
      return CLI_USAGE;
  }
  return CLI_OK;
}

static int set_value(const struct cli_opt *o, const char *value)
{
  if (o->kind == CLI_STR) {
    *(const char **)o->dest = value;
    return CLI_OK;
  }
  const struct cli_int *ci = o->dest;
  char what[64];
  snprintf(what, sizeof what, "--%s", o->name);
  return cli_int(what, value, ci->min, ci->max, ci->dest);
}

int cli_parse(int argc, char **argv, const struct cli_opt *opts, const char *usage,
              const char *description, char **positional, int *npos)
{
  *npos = 0;
  bool only_positional = false;
  uint64_t seen[4] = {0}; /* a bit per option of the table: given once already */
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_positional || a[0] != '-' || a[1] == '\0') {
      positional[(*npos)++] = argv[i];
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_positional = true;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      cli_help(stdout, usage, description, opts);
      return -1;
    }
    if (a[1] != '-') {
      cli_error("unknown option '%.60s' (options are long, like '--db'); try 'autotune %s "
                "--help'", a, argv[0]);
      return CLI_USAGE;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct cli_opt *o = find_opt(opts, name, len);
    if (!o) {
      cli_error("unknown option '%.60s'; try 'autotune %s --help'", a, argv[0]);
      return CLI_USAGE;
    }
    size_t at = (size_t)(o - opts);
    if (at < 256 && (seen[at / 64] >> (at % 64) & 1)) {
      cli_error("option '--%s' is given twice; give it once", o->name);
      return CLI_USAGE;
    }
    if (at < 256)
      seen[at / 64] |= (uint64_t)1 << (at % 64);
    if (o->kind == CLI_FLAG) {
      if (eq) {
        cli_error("option '--%s' takes no value", o->name);
        return CLI_USAGE;
      }
      *(bool *)o->dest = true;
      continue;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (!value) {
      if (i + 1 >= argc) {
        cli_error("option '--%s' expects %s", o->name, o->arg ? o->arg : "a value");
        return CLI_USAGE;
      }
      value = argv[++i];
    }
    int rc = set_value(o, value);
    if (rc != CLI_OK)
      return rc;
  }
  return CLI_OK;
}

const char *cli_default_db(bool create)
{
  static char path[4096];
  const char *env = getenv("AUTOTUNE_DB");
  if (env && env[0])
    return env;
  char dir[4000];
  const char *xdg = getenv("XDG_DATA_HOME");
  const char *home = getenv("HOME");
  if (xdg && xdg[0] == '/')
    snprintf(dir, sizeof dir, "%s/autotune", xdg);
  else if (home && home[0])
    snprintf(dir, sizeof dir, "%s/.local/share/autotune", home);
  else {
    cli_error("no default database: set HOME, XDG_DATA_HOME or AUTOTUNE_DB, or pass --db");
    return NULL;
  }
  if (create && os_mkdir_p(dir) != AT_OK) {
    cli_error("cannot create '%.200s': %s (pass --db FILE)", dir, strerror(errno));
    return NULL;
  }
  snprintf(path, sizeof path, "%s/tuning.db", dir);
  return path;
}

bool cli_stdout_is_tty(void)
{
  return isatty(STDOUT_FILENO);
}

int cli_take_repeated(int *argc, char **argv, const char *name, char **vals, size_t max,
                      size_t *n)
{
  size_t len = strlen(name);
  int w = 0;
  *n = 0;
  for (int i = 0; i < *argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    if (i > 0 && strcmp(a, "--") == 0) { /* the rest is not options */
      while (i < *argc)
        argv[w++] = argv[i++];
      break;
    }
    int is = strncmp(a, "--", 2) == 0 && strncmp(a + 2, name, len) == 0;
    if (is && a[2 + len] == '\0') {
      if (i + 1 >= *argc) {
        cli_error("option '--%s' expects a value", name);
        return CLI_USAGE;
      }
      val = argv[++i];
    } else if (is && a[2 + len] == '=') {
      val = a + 3 + len;
    } else {
      argv[w++] = argv[i];
      continue;
    }
    if (*n >= max) {
      cli_error("--%s is given more than %zu times", name, max);
      return CLI_USAGE;
    }
    vals[(*n)++] = (char *)val;
  }
  *argc = w;
  return CLI_OK;
}

static int verbosity;

int cli_verbosity(void)
{
  return verbosity;
}

int cli_take_verbosity(int *argc, char **argv)
{
  int w = 0, quiet = 0, verbose = 0;
  for (int i = 0; i < *argc; i++) {
    const char *a = argv[i];
    if (i > 0 && strcmp(a, "--") == 0) { /* the rest is not options */
      while (i < *argc)
        argv[w++] = argv[i++];
      break;
    }
    if (i > 0 && (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0))
      quiet++;
    else if (i > 0 && (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0))
      verbose++;
    else if (i > 0 && a[0] == '-' && a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1))
      verbose += (int)strlen(a + 1); /* -vv */
    else
      argv[w++] = argv[i];
  }
  *argc = w;
  argv[w] = NULL;
  if (quiet && verbose) {
    cli_error("-q and -v contradict each other; give one");
    return CLI_USAGE;
  }
  verbosity = quiet ? -1 : verbose;
  return CLI_OK;
}
