/*
 * helpers.c - scratch folders and running the `autotune` binary for the tests.
 */
#include "tests/helpers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"

char *th_tmpdir(void)
{
  const char *base = getenv("TMPDIR");
  char tmpl[512];
  snprintf(tmpl, sizeof tmpl, "%s/autotune-test-XXXXXX", base && base[0] ? base : "/tmp");
  char *dir = mkdtemp(tmpl);
  if (!dir) {
    perror("mkdtemp");
    abort();
  }
  return strdup(dir);
}

const char *th_cache_dir(void)
{
  const char *d = getenv("AT_TEST_CACHE_DIR");
  return d && d[0] ? d : "";
}

void th_rmtree(const char *path)
{
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
  if (system(cmd) != 0)
    fprintf(stderr, "warning: could not remove %s\n", path);
}

char *th_path(const char *dir, const char *name)
{
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

char *th_read(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += got;
    if (cap - n < 2) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
  }
  fclose(f);
  buf[n] = '\0';
  if (len)
    *len = n;
  return buf;
}

int th_write(const char *path, const char *data, size_t len)
{
  FILE *f = fopen(path, "wb");
  if (!f)
    return -1;
  size_t w = fwrite(data, 1, len, f);
  return fclose(f) == 0 && w == len ? 0 : -1;
}

static void run_shell(struct th_result *r, const char *cmdline)
{
  char *dir = th_tmpdir();
  char *out = th_path(dir, "out"), *err = th_path(dir, "err");
  size_t n = strlen(cmdline) + strlen(out) + strlen(err) + 64;
  char *full = malloc(n);
  snprintf(full, n, "( %s ) </dev/null >'%s' 2>'%s'", cmdline, out, err);
  int st = system(full);
  if (st == -1)
    r->code = -1;
  else if (WIFEXITED(st))
    r->code = WEXITSTATUS(st);
  else
    r->code = 128 + WTERMSIG(st);
  r->out = th_read(out, NULL);
  r->err = th_read(err, NULL);
  if (!r->out)
    r->out = strdup("");
  if (!r->err)
    r->err = strdup("");
  th_rmtree(dir);
  free(dir);
  free(out);
  free(err);
  free(full);
}

void th_sh(struct th_result *r, const char *fmt, ...)
{
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  run_shell(r, cmd);
}

void th_run(struct th_result *r, const char *fmt, ...)
{
  char args[8000], cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  const char *bin = getenv("AT_TEST_BINARY"); /* run the tests against another build */
  snprintf(cmd, sizeof cmd, "'%s' %s", bin && bin[0] ? bin : AT_BINARY, args);
  run_shell(r, cmd);
}

void th_result_free(struct th_result *r)
{
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

int64_t th_count_trials(const char *path)
{
  struct db *db = NULL;
  struct db_stats st = {0};
  if (db_open(path, DB_READONLY, &db) != AT_OK)
    return 0;
  if (db_stats(db, &st) != AT_OK)
    st.trials = 0;
  db_close(db);
  return st.trials;
}
