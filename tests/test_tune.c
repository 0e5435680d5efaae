/*
 * test_tune.c - `autotune gemm` as a user meets it, on the host device with tiny shapes:
 * trials recorded and the winner found by `autotune query`; fault injection (a planted
 * out-of-bounds write, an infinite loop, a wrong answer, a compile error: exactly those
 * statuses, the rest ok, the run finished); a tuner SIGKILLed mid-run that `--resume`
 * finishes without losing or duplicating a trial; JSON output; quiet when piped; a GPU
 * that is not here compiled and pruned only; bad input exiting 2 with one line, creating
 * and changing no database; a write past a host buffer a fault (red zones), and
 * --sanitize; a template's workspace (`#pragma autotune workspace`) passed zeroed and a
 * variant that leaves it dirty failed. Test templates: tests/data/templates/tune_*.h and
 * ws_splitk.h.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "base/json.h"
#include "base/proc.h"
#include "tests/helpers.h"
#include "tuner/measure/meas.h"

#define DATA AT_SOURCE_DIR "/tests/data/templates/"
#define SMALL DATA "tune_small.h"
#define FAULTS DATA "tune_faults.h"

static char *dir, *cache;

static void setup(void)
{
  dir = th_tmpdir();
  cache = th_path(dir, "cache");
}

static void teardown(void)
{
  th_rmtree(dir);
  free(cache);
}

TestSuite(tune, .init = setup, .fini = teardown);

/* Run `autotune gemm ARGS` with the test's cache folder. */
static void gemm(struct th_result *r, const char *args)
{
  th_sh(r, "AUTOTUNE_CACHE_DIR='%s' '%s' gemm %s", cache, AT_BINARY, args);
}

struct tally {
  const char *kernel;
  int n, by_status[DB_TRIAL_STATUS_COUNT];
  char configs[64][128];
  char messages[64][160];
  int statuses[64];
};

static int tally_cb(void *ctx, const struct db_trial *t)
{
  struct tally *y = ctx;
  if (y->kernel && strcmp(t->kernel, y->kernel) != 0)
    return 0;
  if (y->n < 64) {
    snprintf(y->configs[y->n], sizeof y->configs[0], "%s", t->config);
    snprintf(y->messages[y->n], sizeof y->messages[0], "%s", t->message ? t->message : "");
    y->statuses[y->n] = t->status;
  }
  y->n++;
  y->by_status[t->status]++;
  return 0;
}

static void tally(const char *db_path, const char *kernel, struct tally *y)
{
  struct db *db = NULL;
  memset(y, 0, sizeof *y);
  y->kernel = kernel;
  cr_assert_eq(db_open(db_path, DB_READONLY, &db), AT_OK, "%s", at_last_error());
  cr_assert_eq(db_each_trial(db, tally_cb, y), AT_OK);
  db_close(db);
}

static int status_of(const struct tally *y, const char *needle)
{
  for (int i = 0; i < y->n && i < 64; i++)
    if (strstr(y->configs[i], needle))
      return y->statuses[i];
  return -1;
}

Test(tune, records_trials_and_query_finds_the_winner)
{
  char *db = th_path(dir, "t.db"), args[1024];
  struct th_result r;
  snprintf(args, sizeof args, "--device host --m 64 --n 64 --k 64 --template '%s' --db '%s' "
           "--strategy exhaustive --variant-time 0.05", SMALL, db);
  gemm(&r, args);
  cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.out, "tune_small") && strstr(r.out, "best:"), "%s", r.out);
  cr_assert(strstr(r.out, "host CPU, emulated: no peak"), "%s", r.out);
  cr_assert_null(strchr(r.out, '\r'), "a progress line when piped: %s", r.out);
  th_result_free(&r);
  struct tally y;
  tally(db, "tune_small", &y);
  cr_assert_eq(y.n, 6, "tune_small trials: %d", y.n);
  cr_assert_eq(y.by_status[DB_TRIAL_OK], 6);
  tally(db, "gemm_naive", &y);
  cr_assert_eq(y.n, 1, "the baseline is measured once: %d", y.n);
  th_run(&r, "query gemm --device host --dtype f32 --m 64 --n 64 --k 64 --db '%s'", db);
  cr_assert_eq(r.code, 0, "query: exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.out, "exact match on host"), "%s", r.out);
  th_result_free(&r);
  free(db);
}

Test(tune, planted_faults_get_their_statuses_and_the_run_goes_on)
{
  char *db = th_path(dir, "f.db"), args[1024];
  struct th_result r;
  snprintf(args, sizeof args, "--device host --m 16 --n 16 --k 16 --template '%s' --db '%s' "
           "--strategy exhaustive --timeout 2 --variant-time 0.05 --json", FAULTS, db);
  gemm(&r, args);
  cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
  struct json *j = NULL;
  char err[128];
  cr_assert_eq(json_parse(r.out, strlen(r.out), &j, err, sizeof err), AT_OK, "%s: %.400s",
               err, r.out);
  const struct json *rs = json_get(j, "worker_restarts");
  cr_assert(rs && rs->integer == 2, "the fault and the timeout replace the worker: %.2000s",
            r.out);
  json_free(j);
  th_result_free(&r);
  struct tally y;
  tally(db, "tune_faults", &y);
  cr_assert_eq(y.n, 6, "one trial per variant: %d", y.n);
  cr_assert_eq(status_of(&y, "PLANT=0"), DB_TRIAL_OK);
  cr_assert_eq(status_of(&y, "PLANT=1"), DB_TRIAL_OK);
  cr_assert_eq(status_of(&y, "PLANT=2"), DB_TRIAL_FAULT);
  cr_assert_eq(status_of(&y, "PLANT=3"), DB_TRIAL_TIMEOUT);
  cr_assert_eq(status_of(&y, "PLANT=4"), DB_TRIAL_VERIFY_FAILED);
  cr_assert_eq(status_of(&y, "PLANT=5"), DB_TRIAL_COMPILE_ERROR);
  free(db);
}

/* `#pragma autotune workspace`: a split-K template whose blocks meet in the workspace
 * runs through the worker and is right (the zeroed workspace passed last, its counters
 * left zero for the next launch); the variant that leaves a counter set fails the check
 * although its C is right. */
Test(tune, a_workspace_is_zero_at_launch_and_must_be_left_zero)
{
  char *db = th_path(dir, "w.db"), args[1024];
  struct th_result r;
  snprintf(args, sizeof args, "--device host --dtype f32 --m 20 --n 12 --k 40 --template "
           "'%s' --db '%s' --strategy exhaustive --variant-time 0.05", DATA "ws_splitk.h", db);
  gemm(&r, args);
  cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
  th_result_free(&r);
  struct tally y;
  tally(db, "ws_splitk", &y);
  cr_assert_eq(y.n, 4, "one trial per variant: %d", y.n);
  cr_assert_eq(status_of(&y, "DIRTY=0,SPLIT=2"), DB_TRIAL_OK);
  cr_assert_eq(status_of(&y, "DIRTY=0,SPLIT=3"), DB_TRIAL_OK);
  cr_assert_eq(status_of(&y, "DIRTY=1,SPLIT=2"), DB_TRIAL_VERIFY_FAILED);
  cr_assert_eq(status_of(&y, "DIRTY=1,SPLIT=3"), DB_TRIAL_VERIFY_FAILED);
  for (int i = 0; i < y.n; i++)
    if (strstr(y.configs[i], "DIRTY=1"))
      cr_assert(strstr(y.messages[i], "workspace not left zero (first non-zero byte at "),
                "%s: %s", y.configs[i], y.messages[i]);
  free(db);
}

struct uuids {
  int n;
  char uuid[64][DB_UUID_LEN + 1];
  char run[64][DB_UUID_LEN + 1];
};

static int uuid_cb(void *ctx, const struct db_trial *t)
{
  struct uuids *u = ctx;
  if (u->n < 64) {
    snprintf(u->uuid[u->n], sizeof u->uuid[0], "%s", t->uuid);
    snprintf(u->run[u->n], sizeof u->run[0], "%s", t->run_uuid);
  }
  u->n++;
  return 0;
}

static void read_uuids(const char *path, struct uuids *u)
{
  struct db *db = NULL;
  memset(u, 0, sizeof *u);
  cr_assert_eq(db_open(path, DB_READONLY, &db), AT_OK, "%s", at_last_error());
  cr_assert_eq(db_each_trial(db, uuid_cb, u), AT_OK);
  db_close(db);
}

/* Start `gemm` on the small template into db (exhaustive, 6 variants and the baseline,
 * slow enough to catch mid-run) and return once `want` trials are committed (or 30 s
 * passed). OUT: *n, the trials then. */
static pid_t start_small_run(const char *db, int64_t want, int64_t *n)
{
  const char *argv[] = {AT_BINARY, "gemm", "--device", "host", "--m", "48", "--n", "48",
                        "--k", "48", "--template", SMALL, "--db", db, "--strategy",
                        "exhaustive", "--variant-time", "0.4", "--jobs", "1", NULL};
  setenv("AUTOTUNE_CACHE_DIR", cache, 1);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execv(AT_BINARY, (char **)argv);
    _exit(127);
  }
  *n = 0;
  for (int i = 0; i < 1200 && *n < want; i++) {
    struct timespec ts = {0, 25 * 1000 * 1000};
    nanosleep(&ts, NULL);
    *n = th_count_trials(db);
  }
  return pid;
}

Test(tune, sigkill_mid_run_then_resume_loses_and_duplicates_nothing, .timeout = 120)
{
  char *db = th_path(dir, "k.db");
  int64_t n = 0;
  pid_t pid = start_small_run(db, 2, &n); /* killed well before the seventh trial */
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  cr_assert(WIFSIGNALED(st), "the tuner finished before it could be killed");
  struct uuids before, after;
  read_uuids(db, &before);
  cr_assert(before.n >= 2 && before.n < 7, "trials at the kill: %d", before.n);

  struct th_result r;
  th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' '%s' gemm --device host --m 48 --n 48 --k 48 "
        "--template '%s' --db '%s' --strategy exhaustive --variant-time 0.4 --jobs 1 --resume "
        "--json", cache, AT_BINARY, SMALL, db);
  cr_assert_eq(r.code, 0, "resume: exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.out, "\"resumed\":true"), "%s", r.out);
  th_result_free(&r);
  read_uuids(db, &after);
  cr_assert_eq(after.n, 7, "6 variants and the baseline, once each: %d", after.n);
  for (int i = 0; i < before.n; i++) {
    bool kept = false;
    for (int q = 0; q < after.n; q++)
      kept |= strcmp(before.uuid[i], after.uuid[q]) == 0;
    cr_assert(kept, "trial %s was lost", before.uuid[i]);
  }
  for (int i = 1; i < after.n; i++)
    cr_assert_str_eq(after.run[i], after.run[0], "the resumed run is the same run");
  struct tally y;
  tally(db, NULL, &y);
  for (int i = 0; i < y.n; i++)
    for (int q = i + 1; q < y.n; q++)
      cr_assert_str_neq(y.configs[i], y.configs[q], "config %s measured twice", y.configs[i]);
  struct db *h = NULL;
  int64_t problems = -1;
  char msg[256] = "";
  cr_assert_eq(db_open(db, DB_READONLY, &h), AT_OK);
  cr_assert_eq(db_check(h, &problems, msg, sizeof msg), AT_OK);
  db_close(h);
  cr_assert_eq(problems, 0, "integrity: %s", msg);
  free(db);
}

static int owner_cb(void *ctx, const struct db_run *r)
{
  *(int64_t *)ctx = r->owner.pid;
  return 0;
}

static int64_t owner_pid(const char *path)
{
  struct db *db = NULL;
  int64_t pid = -2;
  cr_assert_eq(db_open(path, DB_READONLY, &db), AT_OK, "%s", at_last_error());
  cr_assert_eq(db_each_run(db, owner_cb, &pid), AT_OK);
  db_close(db);
  return pid;
}

/* Stop `pid` (SIGSTOP) at a moment it holds no write lock on the database at path, so
 * that what another process sees is the owner's, not a lock's, doing. */
static void stop_unlocked(pid_t pid, const char *path)
{
  for (int i = 0; i < 500; i++) {
    kill(pid, SIGSTOP);
    sqlite3 *h = NULL;
    bool free_now = sqlite3_open(path, &h) == SQLITE_OK &&
                    sqlite3_exec(h, "BEGIN IMMEDIATE; ROLLBACK", NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(h);
    if (free_now)
      return;
    kill(pid, SIGCONT);
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  cr_assert_fail("the tuner never let go of the database");
}

Test(tune, resume_refuses_a_run_whose_owner_lives_and_adopts_it_once_dead, .timeout = 120)
{
  char *db = th_path(dir, "o.db");
  int64_t n = 0;
  pid_t pid = start_small_run(db, 1, &n);
  cr_assert_geq(n, 1, "the tuner never recorded a trial");
  stop_unlocked(pid, db); /* alive, but silent: the case of a slow or stuck owner */
  int64_t before = th_count_trials(db);
  cr_assert_eq(owner_pid(db), pid, "the run's owner is the process that started it");

  struct th_result r;
  char resume[1024];
  snprintf(resume, sizeof resume, "AUTOTUNE_CACHE_DIR='%s' '%s' gemm --device host --m 48 "
           "--n 48 --k 48 --template '%s' --db '%s' --strategy exhaustive --variant-time 0.4 "
           "--jobs 1 --resume --json", cache, AT_BINARY, SMALL, db);
  th_sh(&r, "%s", resume);
  cr_assert_eq(r.code, 2, "a live owner's run: exit %d: %s", r.code, r.err);
  char want[64];
  snprintf(want, sizeof want, "pid %d on ", (int)pid);
  cr_assert(strncmp(r.err, "autotune: cannot resume run ", 28) == 0 && strstr(r.err, want) &&
                strstr(r.err, "still executes it"), "%s", r.err);
  cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "not one line: %s", r.err);
  th_result_free(&r);
  cr_assert_eq(th_count_trials(db), before, "a refused resume records nothing");
  cr_assert_eq(owner_pid(db), pid, "a refused resume leaves the owner");

  kill(pid, SIGKILL);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFSIGNALED(st), "the tuner finished before it could be killed");
  th_sh(&r, "%s", resume);
  cr_assert_eq(r.code, 0, "the owner is dead: exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.out, "\"resumed\":true"), "%s", r.out);
  th_result_free(&r);
  int64_t now = owner_pid(db);
  cr_assert(now > 0 && now != pid, "the resume took the run over: owner %lld", (long long)now);
  struct uuids after;
  read_uuids(db, &after);
  cr_assert_eq(after.n, 7, "6 variants and the baseline, once each: %d", after.n);
  for (int i = 1; i < after.n; i++)
    cr_assert_str_eq(after.run[i], after.run[0], "the resumed run is the same run");
  struct tally y;
  tally(db, NULL, &y);
  for (int i = 0; i < y.n; i++)
    for (int q = i + 1; q < y.n; q++)
      cr_assert_str_neq(y.configs[i], y.configs[q], "config %s has two trials in the run",
                        y.configs[i]);
  free(db);
}

Test(tune, a_gpu_that_is_not_here_is_compiled_and_pruned_only)
{
  char *db = th_path(dir, "g.db"), args[1024];
  struct th_result r;
  snprintf(args, sizeof args, "--device mi300x --dtype f16 --m 64 --n 64 --k 64 --template "
           "'%s' --db '%s' --strategy model", SMALL, db);
  gemm(&r, args);
  if (r.code != 0 && strstr(r.err, "cannot compile"))
    cr_skip_test("no gfx942 compiler here: %s", r.err);
  cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
  int lines = 0;
  for (const char *p = r.out; (p = strstr(p, "no measurement is possible here")); p++)
    lines++;
  cr_assert_eq(lines, 1, "%s", r.out);
  cr_assert(strstr(r.out, "predictions, not measurements"), "%s", r.out);
  th_result_free(&r);
  struct tally y;
  tally(db, NULL, &y);
  cr_assert_eq(y.by_status[DB_TRIAL_OK], 0, "nothing measured, nothing recorded as ok");
  free(db);
}

Test(tune, emulate_spans_the_gpu_space_and_runs_on_the_host)
{
  char *db = th_path(dir, "e.db"), args[1024];
  struct th_result r;
  snprintf(args, sizeof args, "--device host --emulate mi300x --dtype f16 --m 32 --n 32 --k "
           "32 --template '%s' --db '%s' --budget 2 --variant-time 0.05 --json", SMALL, db);
  gemm(&r, args);
  cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.out, "\"arch\":\"host:gfx942\""), "%s", r.out);
  th_result_free(&r);
  struct tally y;
  tally(db, "tune_small", &y);
  /* mi300x has waves of 64: BX x 4 threads must be whole waves, so BX=8 goes */
  cr_assert_eq(status_of(&y, "BX=8,"), -1, "BX=8 is not in the mi300x space");
  cr_assert(y.n >= 2 && y.by_status[DB_TRIAL_OK] == y.n, "trials %d", y.n);
  free(db);
}

Test(tune, bad_input_exits_2_with_one_line)
{
  char *db = th_path(dir, "b.db");
  const char *cases[] = {
      "--device nosuch --m 8 --n 8 --k 8",
      "--device host --m 0 --n 8 --k 8",
      "--device host --m 8 --n 8",
      "--device host --m 8 --n 8 --k 8 --layout XY",
      "--device host --m 8 --n 8 --k 8 --dtype f64",
      "--device host --m 8 --n 8 --k 8 --strategy magic",
      "--device host --m 8 --n 8 --k 8 --template nosuch_template",
      "--device h100 --emulate mi300x --m 8 --n 8 --k 8",
      "--device host --m 8 --n 8 --k 8 --db /proc/nonexistent/dir/x.db",
      "--device host --m 8 --n 8 --k 8 --where BM",
      "--device host --m 8 --n 8 --k 8 --where BM=x",
      "--device host --m 8 --n 8 --k 8 --where BM=64,BM=32",
      "--device host --m 8 --n 8 --k 8 --where NO_SUCH_PARAM=1",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct th_result r;
    char args[512];
    snprintf(args, sizeof args, "%s%s%s", cases[i], strstr(cases[i], "--db") ? "" : " --db ",
             strstr(cases[i], "--db") ? "" : db);
    gemm(&r, args);
    cr_assert_eq(r.code, 2, "'%s': exit %d: %s", cases[i], r.code, r.err);
    cr_assert(strncmp(r.err, "autotune: ", 10) == 0, "'%s': %s", cases[i], r.err);
    cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "'%s': not one line: %s",
              cases[i], r.err);
    th_result_free(&r);
  }
  free(db);
}

/* --where: only configs with the named values, in the templates that have the names; the
 * run's arguments say so (a run without it is another run for --resume). */
Test(tune, where_keeps_only_the_named_values)
{
  char *db = th_path(dir, "where.db");
  struct th_result r;
  char args[512];
  snprintf(args, sizeof args, "--device host --m 40 --n 40 --k 24 --template gemm_simt "
           "--where 'BM=32|64,THREADS=128' --strategy random --budget 4 --db '%s'", db);
  gemm(&r, args);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  th_sh(&r, "sqlite3 '%s' \"SELECT c.text FROM trials t JOIN configs c ON c.id = t.config_id "
            "JOIN kernels k ON k.id = t.kernel_id WHERE k.template = 'gemm_simt'\"", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  int n = 0;
  for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n"), n++) {
    cr_assert(strstr(line, "THREADS=128,") || strstr(line, ",THREADS=128"), "%s", line);
    cr_assert(strncmp(line, "BM=32,", 6) == 0 || strncmp(line, "BM=64,", 6) == 0 ||
                  strstr(line, ",BM=32,") || strstr(line, ",BM=64,"), "%s", line);
  }
  cr_assert_geq(n, 4, "%d gemm_simt trials", n);
  th_result_free(&r);
  th_sh(&r, "sqlite3 '%s' 'SELECT args FROM runs'", db);
  cr_assert(strstr(r.out, " --where BM=32|64,THREADS=128"), "%s", r.out);
  th_result_free(&r);
  free(db);
}

struct prov_seen {
  int runs;
  char driver[64], cpu[256], os[256], owner_host[256];
  bool gpu_null, clocks_null, ended;
  int64_t owner_pid, owner_start;
};

static int prov_cb(void *ctx, const struct db_run *r)
{
  struct prov_seen *p = ctx;
  p->runs++;
  snprintf(p->driver, sizeof p->driver, "%s", r->driver ? r->driver : "(null)");
  snprintf(p->cpu, sizeof p->cpu, "%s", r->cpu ? r->cpu : "(null)");
  snprintf(p->os, sizeof p->os, "%s", r->os ? r->os : "(null)");
  snprintf(p->owner_host, sizeof p->owner_host, "%s", r->owner.host ? r->owner.host : "");
  p->gpu_null = !r->runtime && !r->gpu_name && !r->gpu_uuid && r->gpu_index == -1;
  p->clocks_null = r->start_clocks.sm_mhz == -1 && r->start_clocks.mem_mhz == -1 &&
                   isnan(r->start_clocks.power_limit_w) && r->end_clocks.sm_mhz == -1 &&
                   isnan(r->end_clocks.power_limit_w);
  p->ended = r->ended_at != NULL && r->owner.heartbeat_at != NULL;
  p->owner_pid = r->owner.pid;
  p->owner_start = r->owner.start;
  return 0;
}

static int trial_clock_cb(void *ctx, const struct db_trial *t)
{
  int *known = ctx;
  *known += t->sm_clock_mhz != -1 || t->throttled != -1;
  return 0;
}

Test(tune, a_host_run_records_honest_provenance)
{
  char *db = th_path(dir, "p.db"), args[1024];
  struct th_result r;
  snprintf(args, sizeof args, "--device host --m 16 --n 16 --k 16 --template '%s' --db '%s' "
           "--strategy exhaustive --variant-time 0.02", SMALL, db);
  gemm(&r, args);
  cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
  th_result_free(&r);
  struct prov_seen p;
  memset(&p, 0, sizeof p);
  struct db *h = NULL;
  cr_assert_eq(db_open(db, DB_READONLY, &h), AT_OK, "%s", at_last_error());
  cr_assert_eq(db_each_run(h, prov_cb, &p), AT_OK);
  int known = 0;
  cr_assert_eq(db_each_trial(h, trial_clock_cb, &known), AT_OK);
  db_close(h);
  cr_assert_eq(p.runs, 1);
  cr_assert_str_eq(p.driver, "host", "the emulator's figures have no GPU driver behind them");
  char cpu[256], os[256], host[256] = "";
  proc_cpu_model(cpu, sizeof cpu);
  proc_os_release(os, sizeof os);
  gethostname(host, sizeof host - 1);
  cr_assert(cpu[0] && os[0], "this test needs /proc/cpuinfo and uname");
  cr_assert_str_eq(p.cpu, cpu);
  cr_assert_str_eq(p.os, os);
  struct utsname u;
  cr_assert_eq(uname(&u), 0);
  cr_assert(strstr(p.os, u.release), "the kernel release: %s", p.os);
  cr_assert(p.gpu_null, "a host run names no GPU, runtime or GPU ordinal");
  cr_assert(p.clocks_null, "a host run has no GPU clocks or power limit");
  cr_assert_eq(known, 0, "no trial of a host run claims to know the SM clock");
  cr_assert(p.ended, "ended, with a heartbeat");
  cr_assert_str_eq(p.owner_host, host);
  cr_assert(p.owner_pid > 0 && p.owner_pid != getpid(), "owner pid %lld", (long long)p.owner_pid);
  cr_assert_gt(p.owner_start, 0);
  free(db);
}

Test(tune, a_bad_gpu_ordinal_exits_2_and_creates_no_database)
{
  char *db = th_path(dir, "gpu.db");
  const char *commands[] = {
      "gemm --device host --m 8 --n 8 --k 8",
      "attention --device host --seqlen 8 --head-dim 8",
      "tune '" SMALL "' --device host --dim m=8 --dim n=8 --dim k=8",
  };
  const char *bad[] = {"-1", "x", "1.5", "''"};
  for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      struct th_result r;
      th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' '%s' %s --gpu %s --db '%s'", cache, AT_BINARY,
            commands[c], bad[i], db);
      cr_assert_eq(r.code, 2, "%s --gpu %s: exit %d: %s", commands[c], bad[i], r.code, r.err);
      cr_assert(strncmp(r.err, "autotune: bad --gpu ", 20) == 0, "%s: %s", commands[c], r.err);
      cr_assert(strchr(r.err, '\n') == r.err + strlen(r.err) - 1, "not one line: %s", r.err);
      cr_assert_eq(access(db, F_OK), -1, "--gpu %s created the database", bad[i]);
      th_result_free(&r);
    }
  free(db);
}

/* The database's export (malloc'd), to compare before and after. */
static char *export_of(const char *db)
{
  struct th_result r;
  th_sh(&r, "'%s' db export --db '%s'", AT_BINARY, db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char *out = r.out;
  r.out = NULL;
  th_result_free(&r);
  return out;
}

/* Issue 15, item 11: bad input neither creates a database nor changes one. Before, an
 * operand too large for the host data recorded an unfinished run, and a template that
 * does not load (or a --reference that is not a config) created an empty database. */
Test(tune, bad_input_creates_and_changes_no_database, .timeout = 300)
{
  char *fresh = th_path(dir, "fresh.db"), *kept = th_path(dir, "kept.db");
  struct th_result r;
  char args[1024];
  snprintf(args, sizeof args, "--device host --m 8 --n 8 --k 8 --template %s --budget 1 "
           "--db '%s'", SMALL, kept);
  gemm(&r, args);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *before = export_of(kept);
  static const struct {
    const char *cmd, *args, *says;
  } cases[] = {
      {"gemm", "--device host --m 2147483647 --n 64 --k 64", "operands too large"},
      {"gemm", "--device host --m 8 --n 8 --k 8 --template nosuch", "unknown gemm template"},
      {"gemm", "--device host --m 8 --n 8 --k 8 --template " DATA "bad_verb.h",
       "no gemm template loads"},
      {"tune", "'" AT_SOURCE_DIR "/templates/example/scale.h' --device host --dim N=64 "
               "--arg y=N --arg x=N --arg alpha=1 --arg beta=1 --reference BLOCK=3",
       "not a valid config"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (int existing = 0; existing < 2; existing++) {
      const char *db = existing ? kept : fresh;
      th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' '%s' %s %s --db '%s'", cache, AT_BINARY, cases[i].cmd,
            cases[i].args, db);
      cr_assert_eq(r.code, 2, "'%s': exit %d: %s", cases[i].args, r.code, r.err);
      cr_assert(strstr(r.err, cases[i].says), "'%s': %s", cases[i].args, r.err);
      th_result_free(&r);
      cr_assert_eq(access(fresh, F_OK), -1, "'%s' created %s", cases[i].args, fresh);
      char *after = export_of(kept);
      cr_assert_str_eq(after, before, "'%s' changed the database", cases[i].args);
      free(after);
    }
  free(before);
  free(fresh);
  free(kept);
}

/* Issue 15, item 14: a variant writing 3 elements past C on the host device came out ok
 * (and, were it faster, the best). The host backend's red zones make it a fault whose
 * message names the buffer and the byte offsets, and the winner is the correct one. */
Test(tune, a_write_past_a_host_buffer_is_a_fault, .timeout = 300)
{
  char *db = th_path(dir, "oob.db");
  struct th_result r;
  char args[1024];
  snprintf(args, sizeof args, "--device host --dtype f32 --m 16 --n 16 --k 8 --template "
           "%soob_write.h --budget -1 --db '%s' --json", DATA, db);
  gemm(&r, args);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"best\":{\"config\":\"A_T=0,B_T=0,PLANT=0\""), "%s", r.out);
  th_result_free(&r);
  struct tally y;
  tally(db, "oob_write", &y);
  cr_assert_eq(y.n, 2);
  int bad = status_of(&y, "PLANT=1");
  cr_assert_eq(bad, DB_TRIAL_FAULT, "PLANT=1 is %d", bad);
  cr_assert_eq(status_of(&y, "PLANT=0"), DB_TRIAL_OK);
  th_sh(&r, "'%s' db export --db '%s' | grep -o 'out-of-bounds write[^\"]*'", AT_BINARY, db);
  cr_assert(strncmp(r.out, "out-of-bounds write: kernel 'at_oob_write_", 42) == 0, "%s", r.out);
  cr_assert(strstr(r.out, "' wrote past the end of C (argument 3, 1024 bytes), at byte offsets "
                          "1024..1035 (host red zone)\n"), "%s", r.out);
  th_result_free(&r);
  free(db);
}

/* --sanitize on gemm as on generate (one list of flags, cc_sanitize_flags): host only;
 * refused, saying how, when autotune lacks the ASan runtime the variants need; with it
 * (LD_PRELOAD of GCC's libasan here, or a Sanitize build), the planted write is a fault
 * and the correct variant still ok. */
Test(tune, sanitize_builds_host_variants_as_generate_does, .timeout = 300)
{
  char *db = th_path(dir, "san.db");
  struct th_result r;
  th_sh(&r, "'%s' gemm --device h100 --m 16 --n 16 --k 8 --sanitize --db '%s'", AT_BINARY, db);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert(strstr(r.err, "--sanitize builds host variants: use it with --device host"), "%s",
            r.err);
  th_result_free(&r);
  char args[1024];
  snprintf(args, sizeof args, "gemm --device host --dtype f32 --m 16 --n 16 --k 8 --template "
           "%soob_write.h --budget -1 --sanitize --no-cache --db '%s'", DATA, db);
  const char *preload = "";
  if (!meas_host_has_asan()) {
    th_sh(&r, "'%s' %s", AT_BINARY, args);
    cr_assert_eq(r.code, 2, "%s", r.err);
    cr_assert(strstr(r.err, "needs its runtime in autotune: run it with LD_PRELOAD="), "%s",
              r.err);
    th_result_free(&r);
    cr_assert_eq(access(db, F_OK), -1);
    preload = "LD_PRELOAD=$(g++ -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0";
  }
  th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' %s '%s' %s", cache, preload, AT_BINARY, args);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  struct tally y;
  tally(db, "oob_write", &y);
  cr_assert_eq(status_of(&y, "PLANT=0"), DB_TRIAL_OK);
  cr_assert_eq(status_of(&y, "PLANT=1"), DB_TRIAL_FAULT);
  free(db);
}

/* One record of a trial's protocol fields. */
struct proto {
  int n, ok, min_reps;
  bool spread_missing;
};

static int proto_cb(void *ctx, const struct db_trial *t)
{
  struct proto *p = ctx;
  p->n++;
  if (t->status != DB_TRIAL_OK)
    return 0;
  p->ok++;
  if (p->min_reps == 0 || t->repetitions < p->min_reps)
    p->min_reps = (int)t->repetitions;
  p->spread_missing |= !(t->time_spread >= 0) || !(t->time_min_us <= t->time_median_us) ||
                       !(t->time_median_us <= t->time_max_us);
  return 0;
}

/* The JSON's smallest "reps" and "flush_bytes" over every measurement shown. */
static void json_protocol(const char *out, long *min_reps, long *min_flush, int *seen)
{
  *min_reps = *min_flush = -1;
  *seen = 0;
  for (const char *s = strstr(out, "\"reps\":"); s; s = strstr(s + 1, "\"reps\":")) {
    long reps = strtol(s + 7, NULL, 10);
    const char *f = strstr(s, "\"flush_bytes\":");
    cr_assert_not_null(f, "a measurement without flush_bytes: %s", s);
    long flush = strtol(f + 14, NULL, 10);
    if (reps == 0) /* a failed or absent default */
      continue;
    (*seen)++;
    if (*min_reps < 0 || reps < *min_reps)
      *min_reps = reps;
    if (*min_flush < 0 || flush < *min_flush)
      *min_flush = flush;
  }
}

/* gemm, attention and a user's template go through one engine: every ok trial has the
 * protocol's adaptive repetitions (at least 5, where attention and tune once took a
 * fixed 3 on the host), its spread and min/median/max, and was timed with the cache
 * flushed between repetitions. */
Test(tune, every_op_is_measured_by_the_one_protocol, .timeout = 300)
{
  static const char *const cmds[] = {
      "gemm --device host --m 24 --n 20 --k 16 --template '" SMALL "' --budget 2",
      "attention --device host --seqlen 16 --head-dim 16 --budget 2",
      "attention --device host --seqlen 16 --head-dim 16 --causal --budget 2",
      "tune '" AT_SOURCE_DIR "/templates/example/scale.h' --device host --dim N=4096 "
      "--arg y=N --arg x=N --arg alpha=2 --arg beta=1 --budget 2",
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    char *db = th_path(dir, "proto.db");
    unlink(db);
    struct th_result r;
    th_sh(&r, "AUTOTUNE_CACHE_DIR='%s' '%s' %s --variant-time 0.05 --db '%s' --json", cache,
          AT_BINARY, cmds[i], db);
    cr_assert_eq(r.code, 0, "%s: %s", cmds[i], r.err);
    long min_reps, min_flush;
    int seen;
    json_protocol(r.out, &min_reps, &min_flush, &seen);
    cr_assert_geq(seen, 2, "%s: %s", cmds[i], r.out);
    cr_assert_geq(min_reps, 5, "%s: %ld repetitions", cmds[i], min_reps);
    cr_assert_gt(min_flush, 0, "%s: timed without a cache flush", cmds[i]);
    th_result_free(&r);
    struct proto p = {0};
    struct db *h = NULL;
    cr_assert_eq(db_open(db, DB_READONLY, &h), AT_OK, "%s", at_last_error());
    cr_assert_eq(db_each_trial(h, proto_cb, &p), AT_OK);
    db_close(h);
    cr_assert_geq(p.ok, 2, "%s: %d ok trials of %d", cmds[i], p.ok, p.n);
    cr_assert_geq(p.min_reps, 5, "%s: a trial of %d repetitions", cmds[i], p.min_reps);
    cr_assert(!p.spread_missing, "%s: a trial without its spread or min/max", cmds[i]);
    free(db);
  }
}

/* Compile on demand: with a budget and a strategy whose picks are known before measuring,
 * a GPU run compiles those picks and the default (here: for an h100 that is not on this
 * machine, which is said first), never the whole space. */
Test(tune, a_budget_compiles_only_what_the_search_will_measure, .timeout = 300)
{
  char *db = th_path(dir, "b.db"), args[1024];
  struct th_result r;
  snprintf(args, sizeof args, "--device h100 --dtype f16 --m 256 --n 256 --k 256 --template "
           "gemm_simt --budget 3 --db '%s' --json", db);
  gemm(&r, args);
  if (r.code != 0 && strstr(r.err, "cannot compile"))
    cr_skip_test("no sm_90 compiler here: %s", r.err);
  cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
  cr_assert(strncmp(r.err, "autotune: no h100 opens here", 28) == 0, "%s", r.err);
  const char *t = strstr(r.out, "\"template\":\"gemm_simt\"");
  cr_assert_not_null(t, "%s", r.out);
  long valid = -1, compiled = -1;
  const char *v = strstr(t, "\"valid\":"), *c = strstr(t, "\"compiled\":");
  cr_assert(v && c, "%s", t);
  valid = strtol(v + 8, NULL, 10);
  compiled = strtol(c + 11, NULL, 10);
  cr_assert_gt(valid, 100, "%s", t);
  cr_assert_eq(compiled, 4, "the 3 picks and the default, not %ld of %ld", compiled, valid);
  th_result_free(&r);
  free(db);
}

/* The budget is what is measured: a pick that does not compile is replaced by the
 * strategy's next, whether its picks are known before measuring (compiled in rounds:
 * tune.c's refill) or chosen as it measures (search.h's SEARCH_UNBUILT). refill.h's
 * PICK 1, 4, 7 and 10 are compile errors; PICK 6 is the default. */
Test(tune, a_pick_that_does_not_compile_is_replaced_by_the_next, .timeout = 300)
{
  static const char *const strategies[] = {"exhaustive", "random", "model", "anneal",
                                           "genetic", "bo"};
  for (size_t i = 0; i < sizeof strategies / sizeof *strategies; i++) {
    char *db = th_path(dir, strategies[i]), args[1024];
    struct th_result r;
    snprintf(args, sizeof args, "--device host --m 16 --n 16 --k 16 --template '%s' "
             "--strategy %s --budget 4 --seed 3 --jobs 1 --variant-time 0.05 --db '%s' --json",
             DATA "refill.h", strategies[i], db);
    gemm(&r, args);
    cr_assert_eq(r.code, 0, "%s: exit %d: %s", strategies[i], r.code, r.err);
    const char *t = strstr(r.out, "\"template\":\"refill\"");
    cr_assert_not_null(t, "%s", r.out);
    int valid = -1, compiled = -1, ok = -1, measured = -1;
    const char *v = strstr(t, "\"valid\":");
    cr_assert_eq(sscanf(v, "\"valid\":%d,\"compiled\":%d,\"ok\":%d,\"measured\":%d", &valid,
                        &compiled, &ok, &measured), 4, "%s", v);
    cr_assert_eq(measured, 5, "%s: the default and 4 picks: %s", strategies[i], v);
    th_result_free(&r);
    struct tally y;
    tally(db, "refill", &y);
    cr_assert_eq(y.by_status[DB_TRIAL_OK], 5, "%s: %d ok trials", strategies[i],
                 y.by_status[DB_TRIAL_OK]);
    cr_assert_gt(y.by_status[DB_TRIAL_COMPILE_ERROR], 0, "%s: no pick failed", strategies[i]);
    cr_assert_eq(y.n, y.by_status[DB_TRIAL_OK] + y.by_status[DB_TRIAL_COMPILE_ERROR]);
    if (i < 3) /* known picks: compiled no more than the budget needed */
      cr_assert_eq(compiled, y.n, "%s: compiled %d for %d trials", strategies[i], compiled,
                   y.n);
    if (i == 0) { /* exhaustive: 0, 1, 2, 3; 1 fails: 4; it fails: 5 */
      static const char *const want[] = {"PICK=0", "PICK=2", "PICK=3", "PICK=5", "PICK=6"};
      for (size_t k = 0; k < 5; k++)
        cr_assert_eq(status_of(&y, want[k]), DB_TRIAL_OK, "%s", want[k]);
      cr_assert_eq(status_of(&y, "PICK=4"), DB_TRIAL_COMPILE_ERROR);
      cr_assert_eq(y.n, 7);
    }
    free(db);
  }
}

/* With --shard each shard makes up its own share of the budget: a pick of its own that
 * does not compile is replaced by the next of the order that it owns, so the shards
 * together measure the default and the budget's 4 picks, each config once (refill.h's
 * PICK 1 and 4 fail among the exhaustive order's first picks). */
Test(tune, shards_replace_their_own_picks_that_do_not_compile, .timeout = 300)
{
  for (int nshards = 2; nshards <= 3; nshards++) {
    char seen[16][128];
    int nseen = 0, errors = 0;
    for (int s = 0; s < nshards; s++) {
      char name[32], args[1024];
      snprintf(name, sizeof name, "refill_shard_%d_%d", s, nshards);
      char *db = th_path(dir, name);
      struct th_result r;
      snprintf(args, sizeof args, "--device host --m 16 --n 16 --k 16 --template '%s' "
               "--strategy exhaustive --budget 4 --jobs 1 --variant-time 0.05 --shard %d/%d "
               "--db '%s' --json", DATA "refill.h", s, nshards, db);
      gemm(&r, args);
      cr_assert_eq(r.code, 0, "shard %d/%d: exit %d: %s", s, nshards, r.code, r.err);
      th_result_free(&r);
      struct tally y;
      tally(db, "refill", &y);
      errors += y.by_status[DB_TRIAL_COMPILE_ERROR];
      for (int i = 0; i < y.n; i++) {
        if (y.statuses[i] != DB_TRIAL_OK)
          continue;
        for (int q = 0; q < nseen; q++)
          cr_assert_str_neq(seen[q], y.configs[i], "%d shards: %s measured twice", nshards,
                            seen[q]);
        cr_assert_lt(nseen, 16);
        snprintf(seen[nseen++], sizeof seen[0], "%s", y.configs[i]);
      }
      free(db);
    }
    cr_assert_gt(errors, 0, "%d shards: no pick failed to compile", nshards);
    cr_assert_eq(nseen, 5, "%d shards: %d configs measured, not the default and 4 picks",
                 nshards, nseen);
  }
}

/* Where the default (the middle config) and the budget's first picks all fail, the refill
 * still finds a default, the first config that compiles, and the budget's picks after it:
 * at M = 17 refill.h's PICK 0 to 8 fail, PICK 6 is the middle. */
Test(tune, a_default_that_does_not_compile_is_found_among_the_refills, .timeout = 120)
{
  char *db = th_path(dir, "refill_mid"), args[1024];
  struct th_result r;
  snprintf(args, sizeof args, "--device host --m 17 --n 16 --k 16 --template '%s' "
           "--strategy exhaustive --budget 2 --jobs 1 --variant-time 0.05 --db '%s' --json",
           DATA "refill.h", db);
  gemm(&r, args);
  cr_assert_eq(r.code, 0, "exit %d: %s", r.code, r.err);
  const char *t = strstr(r.out, "\"template\":\"refill\"");
  cr_assert_not_null(t, "%s", r.out);
  const char *d = strstr(t, "\"default\":{\"config\":\"A_T=0,B_T=0,MID=1,PICK=9\"");
  cr_assert_not_null(d, "no default PICK=9: %s", t);
  int valid = -1, compiled = -1, ok = -1, measured = -1;
  const char *v = strstr(t, "\"valid\":");
  cr_assert_eq(sscanf(v, "\"valid\":%d,\"compiled\":%d,\"ok\":%d,\"measured\":%d", &valid,
                      &compiled, &ok, &measured), 4, "%s", v);
  cr_assert_eq(measured, 3, "the default and 2 picks: %s", v);
  cr_assert_eq(compiled, 12, "%s", v);
  th_result_free(&r);
  struct tally y;
  tally(db, "refill", &y);
  cr_assert_eq(y.n, 12);
  for (int k = 0; k <= 11; k++) {
    char want[64];
    snprintf(want, sizeof want, "A_T=0,B_T=0,MID=1,PICK=%d", k);
    int i = 0;
    while (i < y.n && strcmp(y.configs[i], want) != 0)
      i++;
    cr_assert_lt(i, y.n, "no trial of %s", want);
    cr_assert_eq(y.statuses[i], k > 8 ? DB_TRIAL_OK : DB_TRIAL_COMPILE_ERROR, "%s", want);
  }
  free(db);
}

/* Annealing and the genetic search choose as they measure: with a budget, what they ask
 * for is compiled when they ask (with a neighbour per compile thread), at most twice what
 * is measured, never the whole space. */
Test(tune, a_search_that_chooses_as_it_measures_compiles_as_it_asks, .timeout = 300)
{
  static const char *const strategies[] = {"anneal", "genetic"};
  for (size_t i = 0; i < 2; i++) {
    char *db = th_path(dir, strategies[i]), args[1024];
    struct th_result r;
    snprintf(args, sizeof args, "--device host --m 32 --n 32 --k 32 --template gemm_simt "
             "--strategy %s --budget 3 --jobs 1 --variant-time 0.05 --db '%s' --json",
             strategies[i], db);
    gemm(&r, args);
    cr_assert_eq(r.code, 0, "%s: exit %d: %s", strategies[i], r.code, r.err);
    const char *t = strstr(r.out, "\"template\":\"gemm_simt\"");
    cr_assert_not_null(t, "%s", r.out);
    const char *v = strstr(t, "\"valid\":");
    int valid = -1, compiled = -1, ok = -1, measured = -1;
    cr_assert_eq(sscanf(v, "\"valid\":%d,\"compiled\":%d,\"ok\":%d,\"measured\":%d", &valid,
                        &compiled, &ok, &measured), 4, "%s", v);
    cr_assert_eq(measured, 4, "%s: the default and 3 picks: %s", strategies[i], v);
    cr_assert(compiled >= measured && compiled <= 2 * measured,
              "%s: compiled %d of %d valid for %d measured", strategies[i], compiled, valid,
              measured);
    th_result_free(&r);
    struct tally y;
    tally(db, "gemm_simt", &y);
    cr_assert_eq(y.by_status[DB_TRIAL_OK], 4, "%s: %d ok trials", strategies[i],
                 y.by_status[DB_TRIAL_OK]);
    free(db);
  }
}
