/*
 * test_tune_any.c - `autotune tune`, the tuner for any annotated template: a template
 * whose variants go wrong on purpose (tests/data/templates/bumpy.h) gets one trial per
 * variant with the right status and message each (ok, verify_failed naming the element,
 * fault for a SIGSEGV and for barrier divergence, timeout for a hang) and the run goes
 * on; a real template (templates/example/scale.h) is tuned, its winner is the fastest
 * checked variant and comes out of a params header; bad input gets one line and exit 2;
 * a run killed mid-way is finished by --resume under the same run, each config once; a
 * template's workspace parameter needs no --arg and a variant that leaves it dirty fails;
 * a template's tensor map is built over the matrix --arg tmap_X names.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "autotune/autotune.h"
#include "db/db.h"
#include "tests/helpers.h"
#include "base/status.h"

#define BUMPY AT_SOURCE_DIR "/tests/data/templates/bumpy.h"
#define SCALE AT_SOURCE_DIR "/templates/example/scale.h"

struct seen {
  char status[5][32];
  char message[5][256];
  int n;
};

static int collect(void *ctx, const struct db_trial *t)
{
  struct seen *s = ctx;
  const char *m = strstr(t->config, "MODE=");
  cr_assert_not_null(m, "%s", t->config);
  int mode = m[5] - '0';
  cr_assert(mode >= 0 && mode < 5);
  snprintf(s->status[mode], sizeof s->status[mode], "%s", db_trial_status_name(t->status));
  snprintf(s->message[mode], sizeof s->message[mode], "%s", t->message ? t->message : "");
  cr_assert_str_eq(t->problem.op, "bumpy");
  cr_assert_str_eq(t->device, "host");
  s->n++;
  return AT_OK;
}

Test(tune_any, every_outcome_is_a_trial, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *db = th_path(dir, "t.db");
  struct th_result r;
  th_run(&r, "tune '" BUMPY "' --device host --dim N=1000 --arg y=N --arg x=N "
             "--reference BLOCK=64,MODE=0 --budget -1 --timeout 2 --db '%s' --json", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"by_status\":{\"ok\":1,\"compile_error\":0,\"verify_failed\":1,"
                          "\"launch_error\":0,\"fault\":2,\"timeout\":1,\"pruned\":0}"),
            "%s", r.out);
  th_result_free(&r);
  struct db *h = NULL;
  cr_assert_eq(db_open(db, DB_READONLY, &h), AT_OK);
  struct seen s = {0};
  cr_assert_eq(db_each_trial(h, collect, &s), AT_OK);
  db_close(h);
  cr_assert_eq(s.n, 5);
  cr_assert_str_eq(s.status[0], "ok");
  cr_assert_str_eq(s.status[1], "verify_failed");
  cr_assert_str_eq(s.message[1], "1 wrong elements; y[999] is 1.75, the reference config gives 0.75");
  cr_assert_str_eq(s.status[2], "fault");
  /* SIGSEGV; under AddressSanitizer its handler reports the SEGV and aborts (SIGABRT) */
  cr_assert(strstr(s.message[2], "signal 11") || strstr(s.message[2], "signal 6"),
            "%s", s.message[2]);
  cr_assert_str_eq(s.status[3], "timeout");
  cr_assert_str_eq(s.status[4], "fault");
  cr_assert(strstr(s.message[4], "barrier"), "%s", s.message[4]);
  free(db);
  th_rmtree(dir);
}

Test(tune_any, winner_comes_out_of_a_params_header, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *db = th_path(dir, "t.db");
  char *hdr = th_path(dir, "tuned_scale.h");
  struct th_result r;
  th_run(&r, "tune '" SCALE "' --device host --dim N=20000 --arg y=N --arg x=N --arg alpha=2 "
             "--arg beta=-1 --budget 6 --db '%s' --json", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"verify_failed\":0"), "%s", r.out);
  char best[256];
  const char *b = strstr(r.out, "\"best\":{\"config\":\"");
  cr_assert_not_null(b, "%s", r.out);
  cr_assert_eq(sscanf(b, "\"best\":{\"config\":\"%255[^\"]\"", best), 1);
  th_result_free(&r);
  th_run(&r, "emit-header scale --device host --db '%s' --mode params --out '%s'", db, hdr);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  const char *src = "#include <stdio.h>\n#include \"tuned_scale.h\"\n"
                    "int main(void) {\n"
                    "  at_tuned_scale_params p = at_tuned_scale_f32_select(30000);\n"
                    "  printf(\"%s %d %lld\\n\", p.config, p.exact, p.dims[0]);\n"
                    "  return AT_TUNED_SCALE_F32_BLOCK != p.BLOCK;\n}\n";
  char *c = th_path(dir, "main.c"), *exe = th_path(dir, "main");
  cr_assert_eq(th_write(c, src, strlen(src)), 0);
  th_sh(&r, "cc -std=c99 -Wall -Werror -pedantic '%s' -I'%s' -o '%s' -lm && '%s'", c, dir, exe, exe);
  cr_assert_eq(r.code, 0, "%s%s", r.out, r.err);
  char want[600];
  snprintf(want, sizeof want, "%s 0 20000\n", best);
  cr_assert_str_eq(r.out, want);
  th_result_free(&r);
  /* autotune query knows the op from the database: the same answer */
  th_run(&r, "query scale --device host --dim N=30000 --db '%s' --json", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  snprintf(want, sizeof want, "\"match\":\"nearest\",\"device\":\"host\",\"op\":\"scale\","
           "\"dtype\":\"f32\",\"layout\":\"\",\"kernel\":\"scale\",\"config\":\"%s\","
           "\"dims\":{\"N\":20000},\"asked\":{\"N\":30000}", best);
  cr_assert_not_null(strstr(r.out, want), "%s\nwanted %s", r.out, want);
  th_result_free(&r);
  /* and so does the C API, with the op and dims as recorded */
  at_db *h = NULL;
  cr_assert_eq(at_db_open(db, &h), AT_OK, "%s", at_last_error());
  at_problem p = {.op = "scale", .dtype = "f32", .layout = "", .ndims = 1,
                  .dim_names = {"N"}, .dims = {30000}};
  at_config *cfg = NULL;
  cr_assert_eq(at_best_config(h, "host", &p, &cfg), AT_OK, "%s", at_last_error());
  cr_assert_str_eq(at_config_text(cfg), best);
  cr_assert_eq(at_config_match(cfg), AT_MATCH_NEAREST);
  cr_assert_eq(at_config_dim(cfg, 0), 20000);
  at_config_free(cfg);
  at_db_close(h);
  th_run(&r, "query scale --device host --dim M=3 --db '%s'", db);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert_not_null(strstr(r.err, "bad --dim 'M=3'"), "%s", r.err);
  th_result_free(&r);
  free(c), free(exe), free(hdr), free(db);
  th_rmtree(dir);
}

static void expect(int code, const char *needle, const char *args, const char *db)
{
  struct th_result r;
  th_run(&r, "tune %s --db '%s'", args, db);
  cr_assert_eq(r.code, code, "exit %d (wanted %d) for %s: %s", r.code, code, args, r.err);
  cr_assert_not_null(strstr(r.err, needle), "stderr lacks '%s': %s", needle, r.err);
  cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "not one line: %s", r.err);
  th_result_free(&r);
}

Test(tune_any, bad_input, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *db = th_path(dir, "t.db");
  expect(2, "needs --dim N=V", "'" SCALE "' --device host --arg y=N --arg x=N", db);
  expect(2, "bad --dim 'M=5'", "'" SCALE "' --device host --dim N=5 --dim M=5", db);
  expect(2, "buffer y needs its element count",
         "'" SCALE "' --device host --dim N=64 --arg x=N --arg alpha=1 --arg beta=1", db);
  expect(2, "parameter alpha needs a value", "'" SCALE "' --device host --dim N=64 --arg y=N "
         "--arg x=N", db);
  expect(2, "bad --arg 'z=3'", "'" SCALE "' --device host --dim N=64 --arg z=3", db);
  expect(2, "bad --arg y=N*", "'" SCALE "' --device host --dim N=64 --arg y=N* --arg x=N "
         "--arg alpha=1 --arg beta=1", db);
  expect(2, "not a valid config", "'" SCALE "' --device host --dim N=64 --arg y=N --arg x=N "
         "--arg alpha=1 --arg beta=1 --reference BLOCK=3", db);
  expect(2, "nowhere", "'" SCALE "' --device nowhere --dim N=64", db);
  expect(2, "No such file", "'/no/such/file.h' --device host --dim N=64", db);
  expect(1, "no mi300x opens here", "'" SCALE "' --device mi300x --dim N=64 --arg y=N --arg x=N "
         "--arg alpha=1 --arg beta=1", db);
  free(db);
  th_rmtree(dir);
}

/* Issue 15, item 9: a config whose launch expression fails (a grid that divides by zero)
 * is rejected alone, with a clear reason, and the run goes on with the others. Before,
 * the whole template was skipped ("cannot compile: grid x ...: grid x ...: <garbled>"). */
Test(tune_any, a_config_whose_launch_fails_is_rejected_alone, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *db = th_path(dir, "t.db");
  struct th_result r;
  th_run(&r, "tune '" AT_SOURCE_DIR "/tests/data/templates/launch_divzero.h' --device host "
             "--dim N=200 --arg y=N --arg x=N --budget -1 --db '%s' --json", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"by_status\":{\"ok\":2,"), "%s", r.out);
  cr_assert(strstr(r.err, "launch_divzero: 1 config rejected: its launch shape fails "
                          "(B=32: grid x 'cdiv(N, B - 32)': division by zero"), "%s", r.err);
  cr_assert_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1, "one line: %s", r.err);
  th_result_free(&r);
  cr_assert_eq(th_count_trials(db), 2);
  free(db);
  th_rmtree(dir);
}

#define TRANSPOSE AT_SOURCE_DIR "/examples/own_kernel/transpose.h"
#define TRANSPOSE_ARGS "--device host --dim R=96 --dim C=80 --arg out=R*C --arg in=R*C"

/* The configs a run recorded, sorted, one per line (malloc'd). */
static char *recorded_configs(const char *db)
{
  struct th_result r;
  th_sh(&r, "'%s' db export --db '%s' | grep -o '\"config\":\"[^\"]*\"' | sort", AT_BINARY, db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char *out = r.out;
  r.out = NULL;
  th_result_free(&r);
  return out;
}

Test(tune_any, strategies_pick_and_compile_as_documented, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *a = th_path(dir, "a.db"), *b = th_path(dir, "b.db"), *e = th_path(dir, "e.db");
  struct th_result r;
  /* genetic: compiled as the search asks (fewer than the 32 valid), budget + the
   * reference run, same seed same picks */
  th_run(&r, "tune '" TRANSPOSE "' " TRANSPOSE_ARGS " --strategy genetic --budget 6 --seed 7 "
             "--db '%s' --json", a);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_not_null(strstr(r.out, "\"strategy\":\"genetic\","), "%s", r.out);
  int compiled = -1, ok = -1, measured = -1;
  const char *v = strstr(r.out, "\"valid\":32,\"compiled\":");
  cr_assert_not_null(v, "%s", r.out);
  cr_assert_eq(sscanf(v, "\"valid\":32,\"compiled\":%d,\"ok\":%d,\"measured\":%d", &compiled,
                      &ok, &measured), 3, "%s", v);
  cr_assert_eq(measured, 7, "%s", v);
  cr_assert(compiled >= measured && compiled < 32, "compiled %d of 32 for 7 measured", compiled);
  th_result_free(&r);
  th_run(&r, "tune '" TRANSPOSE "' " TRANSPOSE_ARGS " --strategy genetic --budget 6 --seed 7 "
             "--db '%s' --json", b);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  char *ca = recorded_configs(a), *cb = recorded_configs(b);
  cr_assert_str_eq(ca, cb, "the same seed picked different variants");
  /* exhaustive with a budget: only its picks (the first 3 besides the reference) are
   * compiled */
  th_run(&r, "tune '" TRANSPOSE "' " TRANSPOSE_ARGS " --strategy exhaustive --budget 3 "
             "--db '%s' --json", e);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_not_null(strstr(r.out, "\"strategy\":\"exhaustive\","), "%s", r.out);
  cr_assert_not_null(strstr(r.out, "\"valid\":32,\"compiled\":4,\"ok\":4,\"measured\":4,"),
                     "%s", r.out);
  th_result_free(&r);
  th_run(&r, "tune '" TRANSPOSE "' " TRANSPOSE_ARGS " --strategy model --db '%s'", e);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert_not_null(strstr(r.err, "needs a cost model"), "%s", r.err);
  th_result_free(&r);
  free(ca), free(cb), free(a), free(b), free(e);
  th_rmtree(dir);
}

/* ---- --resume --------------------------------------------------------------------- */

struct run_trials {
  int n;
  char config[16][64];
  char run[16][DB_UUID_LEN + 1];
  char uuid[16][DB_UUID_LEN + 1];
};

static int run_trials_cb(void *ctx, const struct db_trial *t)
{
  struct run_trials *u = ctx;
  if (u->n < 16) {
    snprintf(u->config[u->n], sizeof u->config[0], "%s", t->config);
    snprintf(u->run[u->n], sizeof u->run[0], "%s", t->run_uuid);
    snprintf(u->uuid[u->n], sizeof u->uuid[0], "%s", t->uuid);
  }
  u->n++;
  return 0;
}

static void read_trials(const char *path, struct run_trials *u)
{
  struct db *h = NULL;
  memset(u, 0, sizeof *u);
  if (db_open(path, DB_READONLY, &h) != AT_OK)
    return;
  db_each_trial(h, run_trials_cb, u);
  db_close(h);
}

/* bumpy in exhaustive order: the reference (MODE 0), MODE 1 (verify_failed) and 2
 * (fault) are recorded within a second; MODE 3 then hangs for --timeout 3. The tuner is
 * SIGKILLed there, and --resume finishes the same run: 5 trials, each config once, the
 * killed run's trials kept, the reference run again but not recorded twice. */
Test(tune_any, resume_finishes_a_killed_run, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *db = th_path(dir, "r.db");
#define BUMPY_ARGS "--device host --dim N=1000 --arg y=N --arg x=N --reference BLOCK=64,MODE=0 " \
                   "--budget -1 --strategy exhaustive --timeout 3 --jobs 1"
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "exec '%s' tune '%s' " BUMPY_ARGS " --db '%s' >/dev/null 2>&1",
           AT_BINARY, BUMPY, db);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  struct run_trials before, after;
  memset(&before, 0, sizeof before);
  for (int i = 0; i < 2400 && before.n < 3; i++) {
    struct timespec ts = {0, 25 * 1000 * 1000};
    nanosleep(&ts, NULL);
    read_trials(db, &before);
  }
  kill(pid, SIGKILL);
  int st;
  waitpid(pid, &st, 0);
  cr_assert(WIFSIGNALED(st), "the tuner finished before it could be killed");
  read_trials(db, &before);
  cr_assert(before.n >= 3 && before.n < 5, "trials at the kill: %d", before.n);

  /* other arguments (a seed) are another run: nothing to resume */
  struct th_result r;
  char *other = th_path(dir, "other.db");
  th_run(&r, "tune '" BUMPY "' " BUMPY_ARGS " --seed 9 --db '%s' --resume", other);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.err, "nothing to resume"), "%s", r.err);
  th_result_free(&r);
  free(other);

  th_run(&r, "tune '" BUMPY "' " BUMPY_ARGS " --db '%s' --resume --json", db);
  cr_assert_eq(r.code, 0, "resume: exit %d: %s", r.code, r.err);
  cr_assert(strstr(r.out, "\"resumed\":true"), "%s", r.out);
  char want[64];
  snprintf(want, sizeof want, "\"trials_resumed\":%d", before.n);
  cr_assert(strstr(r.out, want), "the killed run's %d trials recalled: %s", before.n, r.out);
  cr_assert(strstr(r.out, "\"by_status\":{\"ok\":1,\"compile_error\":0,\"verify_failed\":1,"
                          "\"launch_error\":0,\"fault\":2,\"timeout\":1,\"pruned\":0}"),
            "%s", r.out);
  th_result_free(&r);
  read_trials(db, &after);
  cr_assert_eq(after.n, 5, "each of the 5 configs once: %d trials", after.n);
  for (int i = 0; i < after.n; i++) {
    cr_assert_str_eq(after.run[i], after.run[0], "the resumed run is the same run");
    for (int q = i + 1; q < after.n; q++)
      cr_assert_str_neq(after.config[i], after.config[q], "%s recorded twice", after.config[i]);
  }
  for (int i = 0; i < before.n; i++) {
    bool kept = false;
    for (int q = 0; q < after.n; q++)
      kept |= strcmp(before.uuid[i], after.uuid[q]) == 0;
    cr_assert(kept, "trial %s of the killed run was lost", before.uuid[i]);
  }
  /* the run is finished now: resuming again finds nothing */
  th_run(&r, "tune '" BUMPY "' " BUMPY_ARGS " --db '%s' --resume", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.err, "nothing to resume"), "%s", r.err);
  th_result_free(&r);
#undef BUMPY_ARGS
  free(db);
  th_rmtree(dir);
}

/* `#pragma autotune workspace` under `autotune tune`: the workspace parameter takes no
 * --arg (the runner passes its zeroed memory), the split-K variants that clear it are
 * right, the ones that leave a counter set fail with the workspace named. (TA = TB = 2:
 * dims are at least 1, and ws_splitk reads 1 as transposed.) */
Test(tune_any, a_workspace_needs_no_arg_and_must_be_left_zero, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *db = th_path(dir, "w.db");
  struct th_result r;
  th_run(&r, "tune '" AT_SOURCE_DIR "/tests/data/templates/ws_splitk.h' --device host --dtype "
             "f32 --dim M=20 --dim N=12 --dim K=40 --dim TA=2 --dim TB=2 --arg A=M*K "
             "--arg B=K*N --arg C=M*N --arg lda=K --arg ldb=N --arg ldc=N --arg alpha=1 "
             "--arg beta=0 --reference A_T=0,B_T=0,DIRTY=0,SPLIT=3 --budget -1 "
             "--variant-time 0.05 --db '%s' --json", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"by_status\":{\"ok\":2,\"compile_error\":0,\"verify_failed\":2,"),
            "%s", r.out);
  th_result_free(&r);
  th_sh(&r, "sqlite3 '%s' \"SELECT count(*) FROM trials WHERE message LIKE '%%workspace not "
            "left zero (first non-zero byte at 960)%%'\"", db);
  cr_assert_str_eq(r.out, "2\n", "%s", r.err);
  th_result_free(&r);
  free(db);
  th_rmtree(dir);
  free(dir);
}

/* Tensor maps under `autotune tune` (docs/tma.md): a user's TMA template gets its map
 * built from --arg tmap_X=ROWS,COLS and each variant's box; the variants that read X
 * through the map match the trusted plain-load reference (so the map views the right
 * matrix), the one that arrives without expect_tx fails; a missing or oversized matrix is
 * bad input. */
#define TMA_COPY "'" AT_SOURCE_DIR "/tests/data/templates/tma_copy.h' --device host --emulate " \
                 "h100 --dim R=13 --dim C=20 --arg X=R*C --arg Y=R*C "
Test(tune_any, a_tensor_map_is_built_from_its_matrix_arg, .timeout = 300)
{
  char *dir = th_tmpdir();
  char *db = th_path(dir, "m.db");
  struct th_result r;
  th_run(&r, "tune " TMA_COPY "--arg tmap_X=R,C --reference BR=4,LOAD=0 --budget -1 "
             "--variant-time 0.05 --db '%s' --json", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "\"by_status\":{\"ok\":4,\"compile_error\":0,\"verify_failed\":2,"),
            "%s", r.out);
  th_result_free(&r);
  th_sh(&r, "sqlite3 '%s' \"SELECT group_concat(text, ' ') FROM (SELECT c.text FROM trials t "
            "JOIN configs c ON c.id = t.config_id WHERE t.status = 'ok' ORDER BY c.text)\"", db);
  cr_assert_str_eq(r.out, "BR=4,LOAD=0 BR=4,LOAD=1 BR=8,LOAD=0 BR=8,LOAD=1\n", "%s", r.err);
  th_result_free(&r);
  expect(2, "tensor map tmap_X needs the matrix it views in X: --arg tmap_X=ROWS,COLS[,LD]",
         TMA_COPY, db);
  expect(2, "do not fit buffer X (260 elements", TMA_COPY "--arg tmap_X=R,C,C+1", db);
  expect(2, "expected ROWS,COLS or ROWS,COLS,LD", TMA_COPY "--arg tmap_X=R", db);
  free(db);
  th_rmtree(dir);
  free(dir);
}
