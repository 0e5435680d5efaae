/*
 * test_jsonl.c - export and import of JSON lines (db/jsonl.c) and the `autotune db
 * export` / `db import` commands: the round trip is byte-identical, import is
 * idempotent and all-or-nothing, bad lines are reported with their number, missing
 * values travel as null, and unknown fields are ignored.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "tests/helpers.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define DB_SCHEMA_TEXT STR(DB_SCHEMA_VERSION)
#define MSG_UNICODE "error: expected ';' — “quoted” \"x\" \\ back\n\ttab 😀 é"

static void uuid_of(char *out, unsigned n)
{
  snprintf(out, DB_UUID_LEN + 1, "%032x", n);
}

static struct db *open_new(const char *dir, const char *name)
{
  char *path = th_path(dir, name);
  struct db *db = NULL;
  int rc = db_open(path, DB_CREATE, &db);
  cr_assert_eq(rc, AT_OK, "cannot create %s: %s", path, at_last_error());
  free(path);
  return db;
}

static void put_run(struct db *db, unsigned n, bool full)
{
  struct db_run r;
  db_run_init(&r);
  uuid_of(r.uuid, n);
  r.host = "node-1";
  if (full) {
    r.started_at = "2026-11-26T20:30:00Z";
    r.ended_at = "2026-11-26T21:00:00Z";
    r.toolchain = "nvrtc 13.0; clang 19.1.7 — ünïcode";
    r.driver = "cuda 13.0 (580.159)";
    r.autotune_version = "0.1.0";
    r.strategy = "exhaustive";
    r.args = "autotune gemm --m \"4096\" --note 'a\\b'";
    r.runtime = "cuda 13.0";
    r.gpu_index = 1;
    r.gpu_name = "NVIDIA H100 80GB HBM3";
    r.gpu_uuid = "GPU-5d7c1a2b-0000-1111-2222-333344445555";
    r.cpu = "AMD EPYC 9654 96-Core Processor";
    r.os = "Linux 6.8.0-45-generic";
    r.start_clocks = (struct db_clocks){1980, 2619, 700.0};
    r.end_clocks = (struct db_clocks){1755, 2619, 687.5};
    r.owner = (struct db_owner){"node-1", "0b5a4f9e-1111-2222-3333-444455556666", 4242,
                                123456789, "2026-11-26T20:59:30Z"};
  }
  cr_assert_eq(db_put_run(db, &r, NULL), AT_OK, "%s", at_last_error());
}

/* A trial of status s on a gemm (3 dims) or, with attention, a 4-dim problem. */
static void put_trial(struct db *db, unsigned n, unsigned run, enum db_trial_status s,
                      bool attention)
{
  struct db_trial t;
  db_trial_init(&t);
  uuid_of(t.uuid, n);
  uuid_of(t.run_uuid, run);
  if (attention) {
    t.device = "h100", t.arch = "sm_90", t.vendor = "nvidia";
    t.kernel = "attn_fa2", t.kernel_hash = "beef01";
    t.problem = (struct db_problem){.op = "attention", .dtype = "bf16", .layout = "",
                                    .ndims = 4, .dim_names = {"b", "h", "s", "d"},
                                    .dims = {4, 32, 4096 + n, 128}};
    t.config = "BLOCK_N=64,BLOCK_M=128";
  } else {
    t.device = "mi300x", t.arch = "gfx942", t.vendor = "amd";
    t.kernel = "gemm_mfma", t.kernel_hash = "abc123";
    t.problem = (struct db_problem){.op = "gemm", .dtype = "f16", .layout = "NN",
                                    .ndims = 3, .dim_names = {"m", "n", "k"},
                                    .dims = {4096, 4096 + n, 4096}};
    t.config = "BM=128,BN=64,BK=32";
  }
  t.status = s;
  if (s == DB_TRIAL_OK) {
    t.time_median_us = 12.5 + n, t.time_min_us = 0.1, t.time_max_us = 1e-300;
    t.time_spread = 1.0 / 3, t.repetitions = 100, t.tflops = 1e300, t.gbps = 0;
    t.registers = 128, t.spills = 0, t.shared_bytes = 65536, t.occupancy = 0.1;
    t.created_at = "2026-11-26T20:31:00Z";
    t.sm_clock_mhz = 1755, t.throttled = n == 200;
    t.gpu_ordinal = n == 200 ? 3 : -1;
    t.gpu_uuid = n == 200 ? "GPU-5f3b6c2e-0d1a-4e7f-9a2b-3c4d5e6f7a8b" : NULL;
  } else {
    t.message = n % 2 ? MSG_UNICODE : NULL;
    t.registers = s == DB_TRIAL_PRUNED ? 300 : -1;
  }
  cr_assert_eq(db_put_trial(db, &t, NULL), AT_OK, "%s", at_last_error());
}

/* Three runs (one with only a host), every status, 3- and 4-dim problems. */
static void fill(struct db *db)
{
  put_run(db, 1, true);
  put_run(db, 2, false);
  put_run(db, 3, true);
  for (int s = 0; s < DB_TRIAL_STATUS_COUNT; s++)
    put_trial(db, 100 + (unsigned)s, 1 + (unsigned)s % 2, (enum db_trial_status)s, false);
  put_trial(db, 200, 3, DB_TRIAL_OK, true);
  put_trial(db, 201, 3, DB_TRIAL_FAULT, true);
}

#define FILL_RUNS 3
#define FILL_TRIALS (DB_TRIAL_STATUS_COUNT + 2)

static char *export_text(struct db *db)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  int rc = db_export_jsonl(db, f);
  fclose(f);
  cr_assert_eq(rc, AT_OK, "%s", at_last_error());
  return buf;
}

static int import_text(struct db *db, const char *text, struct db_merge_stats *st)
{
  FILE *f = fmemopen((void *)text, strlen(text), "r");
  cr_assert_not_null(f);
  int rc = db_import_jsonl(db, f, "trials.jsonl", st);
  fclose(f);
  return rc;
}

/* text with the first `from` replaced by `to`, malloc'd. */
static char *replace(const char *text, const char *from, const char *to)
{
  const char *at = strstr(text, from);
  cr_assert_not_null(at, "'%s' is not in the export", from);
  size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
  char *out = malloc(n);
  snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
  return out;
}

static int64_t count_trials(struct db *db)
{
  struct db_stats s;
  cr_assert_eq(db_stats(db, &s), AT_OK, "%s", at_last_error());
  return s.trials;
}

static int line_of(const char *text, const char *needle)
{
  const char *at = strstr(text, needle);
  cr_assert_not_null(at);
  int line = 1;
  for (const char *p = text; p < at; p++)
    line += *p == '\n';
  return line;
}

Test(jsonl, round_trip_is_byte_identical)
{
  char *dir = th_tmpdir();
  struct db *a = open_new(dir, "a.db"), *b = open_new(dir, "b.db");
  fill(a);
  char *ta = export_text(a);
  struct db_merge_stats st;
  cr_assert_eq(import_text(b, ta, &st), AT_OK, "%s", at_last_error());
  cr_assert_eq(st.runs_added, FILL_RUNS);
  cr_assert_eq(st.trials_added, FILL_TRIALS);
  cr_assert_eq(st.runs_present + st.trials_present, 0);
  char *tb = export_text(b);
  cr_assert_str_eq(tb, ta);
  free(ta);
  free(tb);
  db_close(a);
  db_close(b);
  th_rmtree(dir);
  free(dir);
}

Test(jsonl, format_is_one_object_per_line)
{
  char *dir = th_tmpdir();
  struct db *a = open_new(dir, "a.db");
  fill(a);
  char *t = export_text(a);
  char header[64];
  snprintf(header, sizeof header, "{\"autotune_jsonl\":1,\"schema\":%d}\n", DB_SCHEMA_VERSION);
  cr_assert(strncmp(t, header, strlen(header)) == 0, "header: %.60s", t);
  int lines = 0;
  for (const char *p = t; *p; p++)
    lines += *p == '\n';
  cr_assert_eq(lines, 1 + FILL_RUNS + FILL_TRIALS);
  cr_assert_eq(line_of(t, "{\"type\":\"run\",\"uuid\":\"00000000000000000000000000000001\""),
               2);
  cr_assert_eq(line_of(t, "{\"type\":\"trial\",\"uuid\":\"00000000000000000000000000000064\""),
               2 + FILL_RUNS, "runs come first, then trials in insertion order");
  /* Dims in the op's order, not sorted. */
  cr_assert_not_null(strstr(t, "\"dims\":{\"b\":4,\"h\":32,\"s\":4296,\"d\":128}"));
  cr_assert_not_null(strstr(t, "\"dims\":{\"m\":4096,\"n\":4196,\"k\":4096}"));
  cr_assert_not_null(strstr(t, "\"time_min_us\":0.1,\"time_max_us\":1e-300"));
  cr_assert_not_null(strstr(t, "\"tflops\":1e+300,\"gbps\":0,"));
  cr_assert_not_null(strstr(t, "\"host\":\"node-1\",\"started_at\":null,\"ended_at\":null"));
  cr_assert_not_null(strstr(t, "\"time_median_us\":null,\"time_min_us\":null"));
  cr_assert_not_null(strstr(t, "\"repetitions\":null,\"tflops\":null,\"gbps\":null,"
                               "\"registers\":null"));
  cr_assert_not_null(strstr(t, "\"status\":\"compile_error\""));
  cr_assert_not_null(strstr(t, "\"layout\":\"\""));
  cr_assert_not_null(strstr(t, "\"message\":\"error: expected ';' — “quoted” \\\"x\\\" "
                               "\\\\ back\\n\\ttab 😀 é\""));
  cr_assert_null(strstr(t, "nan"));
  cr_assert_null(strstr(t, "inf"));
  /* schema 3's provenance and owner travel with their run and trial */
  cr_assert_not_null(strstr(t, "\"runtime\":\"cuda 13.0\",\"gpu_index\":1,"
                               "\"gpu_name\":\"NVIDIA H100 80GB HBM3\",\"gpu_uuid\":\"GPU-"));
  cr_assert_not_null(strstr(t, "\"sm_clock_start_mhz\":1980,\"mem_clock_start_mhz\":2619,"
                               "\"power_limit_start_w\":700,\"sm_clock_end_mhz\":1755"));
  cr_assert_not_null(strstr(t, "\"owner_host\":\"node-1\",\"owner_boot\":\"0b5a4f9e"));
  cr_assert_not_null(strstr(t, "\"owner_pid\":4242,\"owner_start\":123456789,"
                               "\"heartbeat_at\":\"2026-11-26T20:59:30Z\"}"));
  cr_assert_not_null(strstr(t, "\"sm_clock_mhz\":1755,\"throttled\":1,"));
  cr_assert_not_null(strstr(t, "\"sm_clock_mhz\":1755,\"throttled\":0,"));
  cr_assert_not_null(strstr(t, "\"sm_clock_mhz\":null,\"throttled\":null,"));
  /* schema 4: the GPU that measured a trial travels with it */
  cr_assert_not_null(strstr(t, "\"throttled\":1,\"gpu_ordinal\":3,\"gpu_uuid\":"
                               "\"GPU-5f3b6c2e-0d1a-4e7f-9a2b-3c4d5e6f7a8b\"}"));
  cr_assert_not_null(strstr(t, "\"throttled\":0,\"gpu_ordinal\":null,\"gpu_uuid\":null}"));
  cr_assert_not_null(strstr(t, "\"gpu_index\":null,"));
  free(t);
  db_close(a);
  th_rmtree(dir);
  free(dir);
}

static int check_missing_trial(void *ctx, const struct db_trial *t)
{
  int *seen = ctx;
  char u101[DB_UUID_LEN + 1], u102[DB_UUID_LEN + 1];
  uuid_of(u101, 101);
  uuid_of(u102, 102);
  if (strcmp(t->uuid, u101) == 0) {
    cr_assert_eq(t->status, DB_TRIAL_COMPILE_ERROR);
    cr_assert(isnan(t->time_median_us) && isnan(t->time_min_us) && isnan(t->tflops));
    cr_assert(isnan(t->occupancy) && isnan(t->gbps) && isnan(t->time_spread));
    cr_assert_eq(t->repetitions, -1);
    cr_assert_eq(t->registers, -1);
    cr_assert(t->sm_clock_mhz == -1 && t->throttled == -1);
    cr_assert(t->gpu_ordinal == -1 && !t->gpu_uuid);
    cr_assert_eq(t->shared_bytes, -1);
    cr_assert_str_eq(t->message, MSG_UNICODE);
    cr_assert_not_null(t->created_at, "the database dates a trial put without a date");
    (*seen)++;
  }
  if (strcmp(t->uuid, u102) == 0) {
    cr_assert_null(t->message);
    (*seen)++;
  }
  return 0;
}

static int check_missing_run(void *ctx, const struct db_run *r)
{
  int *seen = ctx;
  if (strcmp(r->uuid, "00000000000000000000000000000002") == 0) {
    cr_assert_str_eq(r->host, "node-1");
    cr_assert(!r->started_at && !r->ended_at && !r->toolchain && !r->driver);
    cr_assert(!r->autotune_version && !r->strategy && !r->args);
    cr_assert(!r->runtime && !r->gpu_name && !r->gpu_uuid && !r->cpu && !r->os);
    cr_assert(r->gpu_index == -1 && r->start_clocks.sm_mhz == -1 && r->owner.pid == -1);
    cr_assert(isnan(r->end_clocks.power_limit_w) && !r->owner.host && !r->owner.heartbeat_at);
    (*seen)++;
  }
  return 0;
}

Test(jsonl, null_reads_back_as_missing)
{
  char *dir = th_tmpdir();
  struct db *a = open_new(dir, "a.db");
  fill(a);
  char *t = export_text(a);
  struct db *b = open_new(dir, "b.db");
  cr_assert_eq(import_text(b, t, NULL), AT_OK, "%s", at_last_error());
  int seen = 0;
  cr_assert_eq(db_each_trial(b, check_missing_trial, &seen), 0);
  cr_assert_eq(db_each_run(b, check_missing_run, &seen), 0);
  cr_assert_eq(seen, 3);
  free(t);
  db_close(a);
  db_close(b);
  th_rmtree(dir);
  free(dir);
}

Test(jsonl, import_twice_adds_nothing)
{
  char *dir = th_tmpdir();
  struct db *a = open_new(dir, "a.db"), *b = open_new(dir, "b.db");
  fill(a);
  char *ta = export_text(a);
  struct db_merge_stats st;
  cr_assert_eq(import_text(b, ta, &st), AT_OK, "%s", at_last_error());
  cr_assert_eq(import_text(b, ta, &st), AT_OK, "%s", at_last_error());
  cr_assert_eq(st.runs_added, 0);
  cr_assert_eq(st.trials_added, 0);
  cr_assert_eq(st.runs_present, FILL_RUNS);
  cr_assert_eq(st.trials_present, FILL_TRIALS);
  cr_assert_eq(count_trials(b), FILL_TRIALS);
  /* Importing into the source itself adds nothing either. */
  cr_assert_eq(import_text(a, ta, &st), AT_OK, "%s", at_last_error());
  cr_assert_eq(st.trials_added + st.runs_added, 0);
  char *tb = export_text(b);
  cr_assert_str_eq(tb, ta);
  free(ta);
  free(tb);
  db_close(a);
  db_close(b);
  th_rmtree(dir);
  free(dir);
}

/* Import `bad` into a database that holds one run and one trial; expect AT_PARSE with
 * exactly `want` as the message, and the database unchanged. */
static void import_fails(const char *bad, const char *want)
{
  char *dir = th_tmpdir();
  struct db *b = open_new(dir, "b.db");
  put_run(b, 77, false);
  put_trial(b, 78, 77, DB_TRIAL_OK, false);
  char *before = export_text(b);
  struct db_merge_stats st = {9, 9, 9, 9};
  int rc = import_text(b, bad, &st);
  cr_assert_eq(rc, AT_PARSE, "import of a bad file gave %s (%s)", at_status_name(rc),
               at_last_error());
  cr_assert_str_eq(at_last_error(), want);
  cr_assert_eq(st.runs_added + st.trials_added + st.runs_present + st.trials_present, 0);
  char *after = export_text(b);
  cr_assert_str_eq(after, before, "a failed import must add nothing");
  free(before);
  free(after);
  db_close(b);
  th_rmtree(dir);
  free(dir);
}

/* An export of fill() with `from` replaced by `to`; OUT: the line it is on. */
static char *bad_export(const char *from, const char *to, int *line)
{
  char *dir = th_tmpdir();
  struct db *a = open_new(dir, "a.db");
  fill(a);
  char *t = export_text(a);
  db_close(a);
  th_rmtree(dir);
  free(dir);
  *line = line_of(t, from);
  char *bad = replace(t, from, to);
  free(t);
  return bad;
}

Test(jsonl, unknown_status_names_the_line_and_adds_nothing)
{
  int line;
  char *bad = bad_export("\"status\":\"verify_failed\"", "\"status\":\"great\"", &line);
  char want[256];
  snprintf(want, sizeof want, "trials.jsonl:%d: unknown status 'great' (expected ok, "
           "compile_error, verify_failed, launch_error, fault, timeout or pruned)", line);
  cr_assert_gt(line, 2 + FILL_RUNS, "the bad line is a late one: earlier lines were put");
  import_fails(bad, want);
  free(bad);
}

Test(jsonl, missing_required_field_is_named)
{
  static const char *const fields[] = {"kernel", "device", "op", "dims", "config",
                                       "status", "uuid", "run"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    char from[64], to[64], want[128];
    int line;
    snprintf(from, sizeof from, ",\"%s\":", fields[i]);
    snprintf(to, sizeof to, ",\"x_%s\":", fields[i]);
    /* The first trial line (runs have a uuid too: take the trial's). */
    char *bad = bad_export(strcmp(fields[i], "uuid") == 0 ? "\"trial\",\"uuid\":" : from,
                           strcmp(fields[i], "uuid") == 0 ? "\"trial\",\"x_uuid\":" : to,
                           &line);
    snprintf(want, sizeof want, "trials.jsonl:%d: missing field '%s'", line, fields[i]);
    import_fails(bad, want);
    free(bad);
  }
  int line;
  char *bad = bad_export("\"kernel\":\"gemm_mfma\"", "\"kernel\":null", &line);
  import_fails(bad, "trials.jsonl:5: missing field 'kernel'");
  free(bad);
  bad = bad_export("{\"type\":\"trial\",", "{", &line);
  import_fails(bad, "trials.jsonl:5: missing field 'type'");
  free(bad);
}

Test(jsonl, wrong_types_and_bad_json_are_reported)
{
  static const struct {
    const char *from, *to, *want;
  } cases[] = {
      {"\"registers\":128", "\"registers\":1.5",
       "field 'registers' must be a non-negative integer or null"},
      {"\"registers\":128", "\"registers\":-3",
       "field 'registers' must be a non-negative integer or null"},
      {"\"time_min_us\":0.1", "\"time_min_us\":\"0.1\"", "field 'time_min_us' must be a "
                                                           "number or null"},
      {"\"device\":\"mi300x\"", "\"device\":7", "field 'device' must be a string"},
      {"\"type\":\"trial\"", "\"type\":\"winner\"",
       "unknown record type 'winner' (expected run or trial)"},
      {"\"uuid\":\"00000000000000000000000000000064\"", "\"uuid\":\"xyz\"",
       "field 'uuid' must be 32 hex digits in quotes"},
      {"\"dims\":{\"m\":4096,", "\"dims\":{\"m\":\"4096\",", "dim 'm' must be an integer"},
      {"\"dims\":{\"m\":4096,\"n\":4196,\"k\":4096}", "\"dims\":[4096]",
       "field 'dims' must be an object of 1 to 8 named integers, like {\"m\":4096}"},
      {"\"status\":\"compile_error\"", "\"status\":\"compile_error\",}",
       "column 380: unexpected '}', expected a key in quotes"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int line;
    char *bad = bad_export(cases[i].from, cases[i].to, &line);
    char want[256];
    if (strncmp(cases[i].want, "column", 6) == 0) {
      /* The column depends on the line: compute it. */
      const char *l = bad;
      for (int k = 1; k < line; k++)
        l = strchr(l, '\n') + 1;
      const char *at = strstr(l, ",}");
      snprintf(want, sizeof want, "trials.jsonl:%d: column %d: unexpected '}', expected a "
               "key in quotes", line, (int)(at - l) + 2);
    } else {
      snprintf(want, sizeof want, "trials.jsonl:%d: %s", line, cases[i].want);
    }
    import_fails(bad, want);
    free(bad);
  }
}

Test(jsonl, header_is_required)
{
  import_fails("{\"type\":\"run\",\"uuid\":\"00000000000000000000000000000001\"}\n",
               "trials.jsonl:1: not an autotune export: the first line must be the header "
               "{\"autotune_jsonl\":1,\"schema\":" DB_SCHEMA_TEXT "}");
  import_fails("{\"autotune_jsonl\":2,\"schema\":1}\n",
               "trials.jsonl:1: unsupported export format 2 (this autotune reads format 1)");
  import_fails("[1]\n", "trials.jsonl:1: expected an object {...} on each line");
  import_fails("", "trials.jsonl: empty, expected an export of 'autotune db export'");
  import_fails("{\"autotune_jsonl\":1}\n\n", "trials.jsonl:2: column 2: unexpected end of "
                                             "the line, expected a value");
}

Test(jsonl, trial_of_an_unknown_run_is_a_parse_error)
{
  int line;
  char *bad = bad_export("\"run\":\"00000000000000000000000000000001\"",
                         "\"run\":\"000000000000000000000000000000ff\"", &line);
  char *dir = th_tmpdir();
  struct db *b = open_new(dir, "b.db");
  cr_assert_eq(import_text(b, bad, NULL), AT_PARSE);
  char prefix[64];
  snprintf(prefix, sizeof prefix, "trials.jsonl:%d: ", line);
  cr_assert(strncmp(at_last_error(), prefix, strlen(prefix)) == 0, "%s", at_last_error());
  cr_assert_not_null(strstr(at_last_error(), "000000000000000000000000000000ff"), "%s",
                     at_last_error());
  cr_assert_eq(count_trials(b), 0);
  free(bad);
  db_close(b);
  th_rmtree(dir);
  free(dir);
}

Test(jsonl, unknown_fields_are_ignored)
{
  int line;
  char *text = bad_export("{\"type\":\"trial\",",
                          "{\"future\":{\"x\":[1,2.5,null,\"\\u00e9\"]},\"type\":\"trial\",",
                          &line);
  char *with_header = replace(text, "\"schema\":" DB_SCHEMA_TEXT "}",
                              "\"schema\":" DB_SCHEMA_TEXT ",\"by\":\"v9\"}");
  char *dir = th_tmpdir();
  struct db *b = open_new(dir, "b.db");
  struct db_merge_stats st;
  cr_assert_eq(import_text(b, with_header, &st), AT_OK, "%s", at_last_error());
  cr_assert_eq(st.trials_added, FILL_TRIALS);
  free(text);
  free(with_header);
  db_close(b);
  th_rmtree(dir);
  free(dir);
}

/* ---- the command line ---- */

/* A database file filled by fill(); returns its path. */
static char *filled_db(const char *dir, const char *name)
{
  struct db *db = open_new(dir, name);
  fill(db);
  db_close(db);
  return th_path(dir, name);
}

Test(jsonl_cli, export_pipe_import_round_trip)
{
  char *dir = th_tmpdir();
  char *a = filled_db(dir, "a.db"), *b = th_path(dir, "b.db");
  char *ja = th_path(dir, "a.jsonl"), *jb = th_path(dir, "b.jsonl");
  struct th_result r;
  th_sh(&r, "'%s' db export --db '%s' | '%s' db import --db '%s' -", AT_BINARY, a,
        AT_BINARY, b);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char want[256];
  snprintf(want, sizeof want, "stdin: runs %d added, 0 present; trials %d added, 0 present\n",
           FILL_RUNS, FILL_TRIALS);
  cr_assert_str_eq(r.out, want);
  th_result_free(&r);
  th_run(&r, "db export --db '%s' --out '%s'", a, ja);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_str_empty(r.out);
  th_result_free(&r);
  th_run(&r, "db export --db '%s' --out -", b);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_write(jb, r.out, strlen(r.out));
  th_result_free(&r);
  th_run(&r, "db export --db '%s' --out '%s'", a, a);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert_not_null(strstr(r.err, "over itself"), "%s", r.err);
  th_result_free(&r);
  char *ta = th_read(ja, NULL), *tb = th_read(jb, NULL);
  cr_assert_str_eq(tb, ta, "export | import | export must be byte-identical");
  /* The same file again, by name, with --json: nothing added. */
  th_run(&r, "db import --json --db '%s' '%s'", b, ja);
  cr_assert_eq(r.code, 0, "%s", r.err);
  snprintf(want, sizeof want, "{\"source\":\"%s\",\"runs_added\":0,\"runs_present\":%d,"
           "\"trials_added\":0,\"trials_present\":%d}\n", ja, FILL_RUNS, FILL_TRIALS);
  cr_assert_str_eq(r.out, want);
  th_result_free(&r);
  free(ta);
  free(tb);
  free(a);
  free(b);
  free(ja);
  free(jb);
  th_rmtree(dir);
  free(dir);
}

Test(jsonl_cli, failed_import_keeps_the_database_intact)
{
  char *dir = th_tmpdir();
  char *a = filled_db(dir, "a.db"), *b = filled_db(dir, "b.db");
  struct th_result r;
  /* Trials of a.db that b.db lacks, then a bad line: b.db must stay as it was. */
  struct db *db;
  cr_assert_eq(db_open(a, 0, &db), AT_OK);
  put_trial(db, 300, 1, DB_TRIAL_OK, false);
  put_trial(db, 301, 1, DB_TRIAL_TIMEOUT, true);
  char *text = export_text(db);
  db_close(db);
  /* The bad line comes last: a copy of the last trial with an unknown status. */
  size_t n = strlen(text);
  const char *last = text + n - 1;
  while (last > text && last[-1] != '\n')
    last--;
  char *copy = replace(last, "\"status\":\"timeout\"", "\"status\":\"great\"");
  char *bad = malloc(n + strlen(copy) + 1);
  snprintf(bad, n + strlen(copy) + 1, "%s%s", text, copy);
  free(copy);
  int line = 1;
  for (const char *p = bad; *p; p++)
    line += *p == '\n';
  line -= 1;
  char *file = th_path(dir, "trials.jsonl");
  th_write(file, bad, strlen(bad));
  th_run(&r, "db export --db '%s'", b);
  char *before = strdup(r.out);
  th_result_free(&r);

  th_run(&r, "db import --db '%s' '%s'", b, file);
  cr_assert_eq(r.code, 2, "%s", r.err);
  char want[1024];
  snprintf(want, sizeof want, "autotune: %s:%d: unknown status 'great' (expected ok, "
           "compile_error, verify_failed, launch_error, fault, timeout or pruned)\n", file,
           line);
  cr_assert_str_eq(r.err, want);
  cr_assert_str_empty(r.out);
  th_result_free(&r);
  th_run(&r, "db export --db '%s'", b);
  cr_assert_str_eq(r.out, before, "the failed import changed the database");
  th_result_free(&r);

  /* Into a database that does not exist yet, by name and through a pipe: the same one
   * line, exit 2, and no database created (nor its -wal, -shm). */
  char *fresh = th_path(dir, "fresh.db");
  th_run(&r, "db import --db '%s' '%s'", fresh, file);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert_str_eq(r.err, want);
  th_result_free(&r);
  th_sh(&r, "cat '%s' | '%s' db import --db '%s' -", file, AT_BINARY, fresh);
  cr_assert_eq(r.code, 2, "%s", r.err);
  cr_assert_not_null(strstr(r.err, "stdin:"), "%s", r.err);
  th_result_free(&r);
  th_sh(&r, "ls '%s'", dir);
  cr_assert_null(strstr(r.out, "fresh.db"), "a failed import created a database: %s", r.out);
  th_result_free(&r);
  /* and a good input still creates it, through the same pipe */
  th_sh(&r, "'%s' db export --db '%s' | '%s' db import --db '%s' -", AT_BINARY, b, AT_BINARY,
        fresh);
  cr_assert_eq(r.code, 0, "%s", r.err);
  th_result_free(&r);
  cr_assert_eq(access(fresh, F_OK), 0, "a good import through a pipe created no database");
  free(fresh);

  th_run(&r, "db import --db '%s' '%s/none.jsonl'", b, dir);
  cr_assert_eq(r.code, 2);
  cr_assert_not_null(strstr(r.err, "none.jsonl"), "%s", r.err);
  th_result_free(&r);
  free(before);
  free(bad);
  free(text);
  free(file);
  free(a);
  free(b);
  th_rmtree(dir);
  free(dir);
}

static int hash_cb(void *ctx, const struct db_trial *t)
{
  snprintf(ctx, 64, "%s", t->kernel_hash);
  return 0;
}

/* An export written under schema 1 (FNV-1a template hashes) imports with its hashes
 * tagged as the migration to schema 2 tags stored ones, so `emit-header` still knows
 * them for what they are; an export of the current schema imports as it is. */
Test(jsonl, a_schema_1_export_imports_with_its_hashes_tagged)
{
  char *dir = th_tmpdir();
  struct db *a = open_new(dir, "a.db");
  put_run(a, 1, false);
  put_trial(a, 2, 1, DB_TRIAL_OK, false);
  char *text = export_text(a);
  db_close(a);
  char *old = replace(text, "\"schema\":" DB_SCHEMA_TEXT "}", "\"schema\":1}");
  static const struct {
    const char *db, *want;
    bool old;
  } cases[] = {{"b.db", "fnv1a64:abc123", true}, {"c.db", "abc123", false}};
  for (size_t i = 0; i < 2; i++) {
    struct db *b = open_new(dir, cases[i].db);
    struct db_merge_stats st;
    cr_assert_eq(import_text(b, cases[i].old ? old : text, &st), AT_OK, "%s", at_last_error());
    cr_assert_eq(st.trials_added, 1);
    char hash[64] = "";
    cr_assert_eq(db_each_trial(b, hash_cb, hash), 0);
    cr_assert_str_eq(hash, cases[i].want);
    db_close(b);
  }
  free(old);
  free(text);
  th_rmtree(dir);
  free(dir);
}
