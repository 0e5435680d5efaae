/*
 * test_signals.c - stopping the real `autotune gemm` with SIGKILL, SIGINT or SIGTERM
 * while it compiles and while it measures (base/interrupt.h). Each run gets its own
 * session (setsid), TMPDIR, empty compile cache and database; after the signal nothing
 * of the session may be left running (compilers, their children, the measurement
 * worker, the temp folder's guardian), TMPDIR must be empty, and a caught signal must
 * end the run with exit status 130, one line saying how many trials were recorded, and
 * those trials in the database.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "tests/helpers.h"

enum phase { COMPILING, MEASURING };

static void sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Live (not zombie) processes of session `sid`; with `in` (a folder), only compiles:
 * processes other than autotune's own working in a folder under `in`. Names the first
 * in what. */
static int session_procs(pid_t sid, const char *in, char *what, size_t len)
{
  int n = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    char path[300], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (!f)
      continue;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (!open || !close)
      continue;
    char state;
    int ppid, pgrp, session;
    if (sscanf(close + 2, "%c %d %d %d", &state, &ppid, &pgrp, &session) != 4)
      continue;
    *close = '\0';
    const char *comm = open + 1;
    if (session != sid || state == 'Z')
      continue;
    if (in) {
      char cwd[4096];
      snprintf(path, sizeof path, "/proc/%s/cwd", e->d_name);
      ssize_t l = readlink(path, cwd, sizeof cwd - 1);
      cwd[l > 0 ? l : 0] = '\0';
      if (atoi(e->d_name) == sid || strncmp(comm, "autotune", 8) == 0 ||
          strncmp(cwd, in, strlen(in)) != 0)
        continue;
    }
    if (n++ == 0 && what)
      snprintf(what, len, "pid %s (%s)", e->d_name, comm);
  }
  if (d)
    closedir(d);
  return n;
}

/* Entries in folder `path` (. and .. aside); names the first in what. */
static int entries(const char *path, char *what, size_t len)
{
  int n = 0;
  DIR *d = opendir(path);
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && n++ == 0)
      snprintf(what, len, "%s", e->d_name);
  if (d)
    closedir(d);
  return n;
}

/* Run the tuner in a session of its own, send `sig` in `phase`, and check what it left. */
static void stop_run(int sig, enum phase phase)
{
  char *dir = th_tmpdir();
  char *tmp = th_path(dir, "tmp"), *cache = th_path(dir, "cache");
  char *db = th_path(dir, "t.db"), *err = th_path(dir, "err");
  cr_assert_eq(mkdir(tmp, 0700), 0);
  cr_assert_eq(mkdir(cache, 0700), 0);
  /* orphans of the tuner come to this process, which reaps them below */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  const char *argv[] = {AT_BINARY, "gemm", "--device", "host", "--m", "64", "--n", "64",
                        "--k", "64", "--db", db, "--jobs", "1", "--variant-time", "0.05",
                        NULL};
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    setsid();
    setenv("TMPDIR", tmp, 1);
    setenv("AUTOTUNE_CACHE_DIR", cache, 1);
    if (!freopen("/dev/null", "w", stdout) || !freopen(err, "w", stderr))
      _exit(126);
    execv(AT_BINARY, (char **)argv);
    _exit(127);
  }
  /* wait for the phase: a compiler running in its folder, or the first trial committed */
  int64_t before = 0;
  bool there = false;
  for (int i = 0; i < 6000 && !there; i++) {
    if (waitpid(pid, NULL, WNOHANG) == pid)
      cr_assert_fail("the tuner ended before the signal");
    if (phase == COMPILING)
      there = session_procs(pid, tmp, NULL, 0) > 0;
    else
      there = (before = th_count_trials(db)) > 0;
    if (!there)
      sleep_ms(10);
  }
  cr_assert(there, "the tuner never got to %s", phase == COMPILING ? "compiling" : "measuring");
  kill(pid, sig);
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);

  /* every descendant dies with it (PDEATHSIG, the guardian) and is reaped here */
  char what[512] = "";
  int left = 0;
  for (int i = 0; i < 500; i++) {
    while (waitpid(-1, NULL, WNOHANG) > 0)
      ;
    if ((left = session_procs(pid, NULL, what, sizeof what)) == 0)
      break;
    sleep_ms(10);
  }
  cr_assert_eq(left, 0, "%d processes of the tuner's session outlived it, e.g. %s", left, what);
  cr_assert_eq(entries(tmp, what, sizeof what), 0, "left in TMPDIR: %s", what);

  int64_t after = th_count_trials(db);
  cr_assert_geq(after, before, "trials committed before the signal were lost");
  if (sig == SIGKILL) {
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
  } else {
    char *text = th_read(err, NULL);
    char want[256];
    snprintf(want, sizeof want, "autotune: interrupted: %lld trials recorded; --resume "
             "continues\n", (long long)after);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "status %#x; stderr: %s", st,
              text ? text : "");
    cr_assert(text && strstr(text, want), "want '%s' in stderr: %s", want, text ? text : "");
    if (phase == MEASURING)
      cr_assert_geq(after, 1);
    free(text);
  }
  th_rmtree(dir);
  free(tmp);
  free(cache);
  free(db);
  free(err);
}

Test(signals, sigkill_while_compiling_leaves_no_process_or_temp_folder, .timeout = 60)
{
  stop_run(SIGKILL, COMPILING);
}

Test(signals, sigint_while_compiling_exits_130_and_cleans_up, .timeout = 60)
{
  stop_run(SIGINT, COMPILING);
}

Test(signals, sigterm_while_compiling_exits_130_and_cleans_up, .timeout = 60)
{
  stop_run(SIGTERM, COMPILING);
}

Test(signals, sigkill_while_measuring_leaves_no_process_or_temp_folder, .timeout = 60)
{
  stop_run(SIGKILL, MEASURING);
}

Test(signals, sigint_while_measuring_keeps_the_trials_and_exits_130, .timeout = 60)
{
  stop_run(SIGINT, MEASURING);
}

Test(signals, sigterm_while_measuring_keeps_the_trials_and_exits_130, .timeout = 60)
{
  stop_run(SIGTERM, MEASURING);
}
