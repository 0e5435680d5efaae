/*
 * test_report.c - what a user reads and types around a run: `autotune report` (a real
 * host run's page opened in headless Chromium: every chart in the browser's DOM, a
 * screenshot, no console message; the winner's speed-ups from a planted database; bad
 * input), CSV from `query` and `db export`, the global -q/-v, the bash and zsh
 * completion generated from the command table, the environment variables the code reads
 * in --help and README.md, and the man page built from --help.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "db/db.h"
#include "tests/fixture.h"
#include "tests/helpers.h"
#include "tuner/cli/cli.h"

#define CHROMIUM_TIMEOUT_S 60
#define SHOT_WIDTH 1280

static int count(const char *hay, const char *needle)
{
  int n = 0;
  for (const char *p = hay; p && (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* The text of the element that opens with `<svg ... id="ID"` up to its </svg>. */
static char *svg_by_id(const char *html, const char *id)
{
  char want[128];
  snprintf(want, sizeof want, "id=\"%s\"", id);
  const char *at = strstr(html, want);
  cr_assert_not_null(at, "no chart with %s", want);
  const char *end = strstr(at, "</svg>");
  cr_assert_not_null(end);
  return strndup(at, (size_t)(end - at));
}

/* Split one CSV record (RFC 4180 quoting) into fields[cap]; returns how many. */
static int csv_split(const char *line, char fields[][512], int cap)
{
  int n = 0;
  const char *p = line;
  for (;;) {
    cr_assert(n < cap, "too many fields: %s", line);
    size_t k = 0;
    if (*p == '"') {
      for (p++; *p && !(*p == '"' && p[1] != '"'); p++) {
        if (*p == '"')
          p++;
        fields[n][k++] = *p;
      }
      cr_assert_eq(*p, '"', "unterminated quote: %s", line);
      p++;
    } else {
      while (*p && *p != ',' && *p != '\r' && *p != '\n')
        fields[n][k++] = *p++;
    }
    fields[n++][k] = '\0';
    if (*p != ',')
      return n;
    p++;
  }
}

/* ---- the report of a real host run, in a real browser ---- */

Test(report, host_runs_open_in_chromium_with_every_chart_and_no_console_message,
     .timeout = 240)
{
  char *dir = th_tmpdir(), *db = th_path(dir, "t.db"), *html = th_path(dir, "r.html");
  char *png = th_path(dir, "shot.png"), *profile = th_path(dir, "chromium");
  struct th_result r;
  /* two runs, two strategies, one shape: the tuning curve has two lines; -v and -q */
  th_run(&r, "-v gemm --device host --m 32 --n 32 --k 32 --budget 6 --template gemm_simt "
             "--strategy model --db '%s'", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_geq(count(r.err, "autotune: gemm: measured "), 6, "-v printed no line per "
                "variant:\n%s", r.err);
  th_result_free(&r);
  th_run(&r, "gemm --device host --m 32 --n 32 --k 32 --budget 6 --template gemm_simt "
             "--strategy random --db '%s' -q", db);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_str_eq(r.err, "", "-q printed:\n%s", r.err);
  th_result_free(&r);

  th_run(&r, "report --device host --db '%s' --out '%s'", db, html);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.err, "wrote "), "%s", r.err);
  th_result_free(&r);
  char *page = th_read(html, NULL);
  cr_assert_not_null(page);
  cr_assert(strstr(page, "Winner: gemm_"), "no winner on the page");
  cr_assert_eq(count(page, "<script"), 0, "a report has no script");
  cr_assert_eq(count(page, "http://") + count(page, "https://"),
               count(page, "xmlns=\"http://www.w3.org/2000/svg\""), "a report loads nothing");

  char chromium[4096];
  if (!os_which("chromium", chromium, sizeof chromium)) {
    th_rmtree(dir);
    cr_skip_test("chromium is not installed (scripts/setup.sh installs it): the page was "
                 "checked as text only");
  }
  /* the DOM as the browser built it: every chart parsed as SVG, with its marks */
  th_sh(&r, "timeout %d '%s' --headless --no-sandbox --disable-gpu --user-data-dir='%s' "
            "--dump-dom 'file://%s'", CHROMIUM_TIMEOUT_S, chromium, profile, html);
  cr_assert_eq(r.code, 0, "chromium --dump-dom: %s", r.err);
  const char *dom = r.out;
  cr_assert_geq(count(dom, "<svg class=\"plot\""), 5, "%.2000s", dom);
  cr_assert_eq(count(dom, "<svg "), count(dom, "</svg>"));
  char *evals = svg_by_id(dom, "curve-evals-0"), *wall = svg_by_id(dom, "curve-time-0");
  cr_assert_eq(count(evals, "<polyline class=\"series\""), 2, "a line per run: %s", evals);
  cr_assert_eq(count(wall, "<polyline class=\"series\""), 2, "%s", wall);
  char *tpl = svg_by_id(dom, "templates-0"), *roof = svg_by_id(dom, "roofline-0");
  cr_assert_geq(count(tpl, "<circle class=\"pt\""), 12, "every ok trial a point: %s", tpl);
  cr_assert_geq(count(roof, "<circle class=\"pt\""), 12, "%s", roof);
  cr_assert_geq(count(dom, "id=\"param-0-"), 2, "no parameter charts");
  th_result_free(&r);

  /* a screenshot, and nothing on the console (the page has no script: any console
   * message is an error, a blocked load or a violated policy) */
  th_sh(&r, "timeout %d '%s' --headless --no-sandbox --disable-gpu --user-data-dir='%s' "
            "--enable-logging=stderr --v=0 --hide-scrollbars --window-size=%d,2000 "
            "--screenshot='%s' 'file://%s'", CHROMIUM_TIMEOUT_S, chromium, profile,
        SHOT_WIDTH, png, html);
  cr_assert_eq(r.code, 0, "chromium --screenshot: %s", r.err);
  cr_assert_null(strstr(r.err, ":CONSOLE"), "the console said:\n%s", strstr(r.err, ":CONSOLE"));
  size_t len = 0;
  unsigned char *img = (unsigned char *)th_read(png, &len);
  cr_assert(img && len > 24 && memcmp(img, "\x89PNG\r\n\x1a\n", 8) == 0, "no PNG");
  unsigned w = (unsigned)img[16] << 24 | img[17] << 16 | img[18] << 8 | img[19];
  cr_assert_eq(w, SHOT_WIDTH, "screenshot %u pixels wide", w);
  th_result_free(&r);
  free(img);
  free(evals);
  free(wall);
  free(tpl);
  free(roof);
  free(page);
  th_rmtree(dir);
}

/* ---- the figures of a planted database ---- */

static char *dir, *path;

/* h100, gemm f16 NN 4096^3: gemm_mma's default (its first trial) 400 us, its best 200 us,
 * one fault; the baseline gemm_naive 1000 us. */
static void setup(void)
{
  dir = th_tmpdir();
  path = th_path(dir, "tuning.db");
  struct db *db = fx_open(path);
  char run[DB_UUID_LEN + 1];
  fx_run(db, run);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_naive", 4096, 4096, 4096, "TILE=16",
          1000.0);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 4096, 4096, 4096,
          "BK=32,BM=128,BN=128", 400.0);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 4096, 4096, 4096,
          "BK=32,BM=128,BN=256", 200.0);
  fx_gemm(db, run, "h100", "sm_90", "nvidia", "gemm_mma", 4096, 4096, 4096,
          "BK=32,BM=64,BN=128", 300.0);
  fx_gemm_failed(db, run, "h100", "gemm_mma", 4096, 4096, 4096, "BK=64,BM=256,BN=256",
                 DB_TRIAL_FAULT);
  db_close(db);
}

static void teardown(void)
{
  th_rmtree(dir);
  free(dir);
  free(path);
}

Test(report, winner_speedups_failures_and_roofs, .init = setup, .fini = teardown)
{
  char *html = th_path(dir, "r.html");
  struct th_result r;
  th_run(&r, "report --db '%s' --out '%s'", path, html);
  cr_assert_eq(r.code, 0, "%s", r.err);
  char *page = th_read(html, NULL);
  cr_assert_not_null(page);
  cr_assert(strstr(page, "Winner: gemm_mma, 200 us"), "%s", page);
  cr_assert(strstr(page, "2.00x faster than the template&#39;s default config (400 us"),
            "the default is the template's first measured trial");
  cr_assert(strstr(page, "5.00x faster than the baseline gemm_naive (1000 us)"), "%s", page);
  /* the fault is counted in gemm_mma's row: measured 4, ok 3, fault 1 */
  cr_assert(strstr(page, "gemm_mma</td><td class=\"n\">4</td><td class=\"n\">3</td>"),
            "%s", page);
  cr_assert(strstr(page, "<td class=\"n bad\">1</td>"), "no fault counted");
  /* h100 has roofs: a memory slope and an f16 compute roof */
  char *roof = svg_by_id(page, "roofline-0");
  cr_assert_eq(count(roof, "class=\"roof\""), 2, "%s", roof);
  cr_assert(strstr(roof, "f16 peak "), "%s", roof);
  /* BN moved the time 1.5x (300 us at 128 against 200 us at 256): named as a why */
  cr_assert(strstr(page, "the winner has BN=256"), "%s", page);
  free(roof);
  free(page);
  th_result_free(&r);
  free(html);
}

Test(report, bad_input_exits_2_and_leaves_the_output_alone, .init = setup,
     .fini = teardown)
{
  char *html = th_path(dir, "r.html");
  cr_assert_eq(th_write(html, "keep", 4), 0);
  struct th_result r;
  th_run(&r, "report --db '%s' --run ffffffff --out '%s'", path, html);
  cr_assert_eq(r.code, 2);
  cr_assert(strncmp(r.err, "autotune: no run 'ffffffff' in '", 32) == 0, "%s", r.err);
  cr_assert_eq(count(r.err, "\n"), 1, "%s", r.err);
  th_result_free(&r);
  th_run(&r, "report --db '%s' --device h200 --out '%s'", path, html);
  cr_assert_eq(r.code, 2);
  cr_assert(strstr(r.err, "no trials of device 'h200'"), "%s", r.err);
  th_result_free(&r);
  th_run(&r, "report --db '%s/missing.db' --out '%s'", dir, html);
  cr_assert_eq(r.code, 2, "%s", r.err);
  th_result_free(&r);
  th_run(&r, "report --db '%s'", path);
  cr_assert_eq(r.code, 2);
  cr_assert_str_eq(r.err, "autotune: report needs --out FILE.html; try 'autotune report "
                          "--help'\n");
  th_result_free(&r);
  th_run(&r, "report --db '%s' --run abc --out '%s'", path, html);
  cr_assert_eq(r.code, 2);
  th_result_free(&r);
  char *kept = th_read(html, NULL);
  cr_assert_str_eq(kept, "keep", "a failed report clobbered its output");
  free(kept);
  free(html);
}

/* ---- CSV ---- */

Test(csv, query_and_db_export_write_rfc4180_rows, .init = setup, .fini = teardown)
{
  struct th_result r;
  static char head[64][512], row[64][512];
  th_run(&r, "query gemm --device h100 --m 4096 --n 4096 --k 4096 --db '%s' --csv", path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  const char *second = strstr(r.out, "\r\n");
  cr_assert_not_null(second, "%s", r.out);
  int nh = csv_split(r.out, head, 64), nr = csv_split(second + 2, row, 64);
  cr_assert_eq(nh, nr, "%s", r.out);
  cr_assert_str_eq(head[6], "config");
  cr_assert_str_eq(row[6], "BK=32,BM=128,BN=256", "the config's commas are quoted");
  cr_assert_str_eq(row[0], "exact");
  th_result_free(&r);
  th_run(&r, "query gemm --device h100 --m 64 --n 64 --k 64 --db '%s' --csv --json", path);
  cr_assert_eq(r.code, 2);
  th_result_free(&r);

  th_run(&r, "db export --csv --db '%s'", path);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_eq(count(r.out, "\r\n"), 6, "a header and five trials:\n%s", r.out);
  nh = csv_split(r.out, head, 64);
  int faults = 0;
  for (const char *l = strstr(r.out, "\r\n") + 2; *l; l = strstr(l, "\r\n") + 2) {
    nr = csv_split(l, row, 64);
    cr_assert_eq(nr, nh, "%s", l);
    cr_assert_str_eq(row[2], "exhaustive", "the run's strategy");
    cr_assert_str_eq(row[11], "m=4096,n=4096,k=4096");
    faults += strcmp(row[13], "fault") == 0;
    if (strcmp(row[13], "fault") == 0)
      cr_assert_str_eq(row[14], "", "a missing time is an empty field");
  }
  cr_assert_eq(faults, 1);
  th_result_free(&r);
}

/* ---- -q / -v ---- */

Test(verbosity, quiet_and_verbose_are_global_and_exclusive, .init = setup, .fini = teardown)
{
  char *html = th_path(dir, "r.html");
  struct th_result r;
  th_run(&r, "-q report --db '%s' --out '%s'", path, html);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_str_eq(r.err, "");
  th_result_free(&r);
  th_run(&r, "report --quiet --db '%s' --out '%s'", path, html);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert_str_eq(r.err, "");
  th_result_free(&r);
  th_run(&r, "-q -v devices");
  cr_assert_eq(r.code, 2);
  cr_assert_str_eq(r.err, "autotune: -q and -v contradict each other; give one\n");
  th_result_free(&r);
  /* after -- a -q is an argument, not the option */
  th_run(&r, "report --db '%s' --out '%s' -- -q", path, html);
  cr_assert_eq(r.code, 2, "%s", r.err);
  th_result_free(&r);
  free(html);
}

/* ---- completion ---- */

/* What the bash completion offers for the words of a command line (the last one being
 * completed). */
static char *complete(const char *line)
{
  struct th_result r;
  th_sh(&r, "bash -c 'source <(\"$0\" completion bash) && COMP_WORDS=(%s) && "
            "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _autotune && echo \"${COMPREPLY[*]}\"' "
            "'%s'", line, AT_BINARY);
  cr_assert_eq(r.code, 0, "%s: %s", line, r.err);
  char *out = strdup(r.out);
  th_result_free(&r);
  out[strcspn(out, "\n")] = '\0';
  return out;
}

Test(completion, bash_completes_commands_options_subcommands_and_devices)
{
  static const struct {
    const char *line, *want;
  } cases[] = {
      {"autotune rep", "report"},
      {"autotune -q que", "query"},
      {"autotune report --o", "--op --out"},
      {"autotune db ex", "export"},
      {"autotune db export --c", "--csv"},
      {"autotune query --cs", "--csv"},
      {"autotune gemm --device h1", "h100"},
      {"autotune gemm --str", "--strategy"},
      {"autotune gemm --device h100 --m 64 --str", "--strategy"},
      {"autotune completion --h", "--help"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = complete(cases[i].line);
    cr_expect_str_eq(got, cases[i].want, "'%s' completed to '%s'", cases[i].line, got);
    free(got);
  }
  /* every command of the table completes */
  for (const struct cli_cmd *c = cli_commands; c->name; c++) {
    char line[64];
    snprintf(line, sizeof line, "autotune %s", c->name);
    char *got = complete(line);
    cr_expect(strstr(got, c->name) == got, "'%s' completed to '%s'", line, got);
    free(got);
  }
}

Test(completion, zsh_script_parses_and_names_every_command)
{
  struct th_result r;
  th_run(&r, "completion zsh");
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strncmp(r.out, "#compdef autotune\n", 18) == 0);
  for (const struct cli_cmd *c = cli_commands; c->name; c++) {
    char want[64];
    snprintf(want, sizeof want, "\n    '%s')", c->name);
    cr_expect(strstr(r.out, want), "no case for %s", c->name);
  }
  cr_assert(strstr(r.out, "'--out[the report to write (replaced atomically)]:FILE.html:_files'"));
  th_result_free(&r);
  th_run(&r, "completion fish");
  cr_assert_eq(r.code, 2);
  cr_assert_str_eq(r.err, "autotune: completion needs a shell: bash or zsh (got 'fish')\n");
  th_result_free(&r);
  char zsh[4096];
  if (!os_which("zsh", zsh, sizeof zsh))
    cr_skip_test("zsh is not installed (scripts/setup.sh installs it): not parsed by zsh");
  th_sh(&r, "'%s' completion zsh | '%s' -n", AT_BINARY, zsh);
  cr_assert_eq(r.code, 0, "zsh -n: %s", r.err);
  th_result_free(&r);
}

/* ---- environment variables, man page ---- */

Test(env, every_getenv_is_in_the_table_help_and_readme)
{
  struct th_result r;
  th_sh(&r, "cd '%s' && grep -rhoE 'getenv\\(\"[A-Z_0-9]+\"\\)|\"[A-Z_]+_PATH\", ' base db "
            "generator tuner | grep -oE '[A-Z][A-Z_0-9]+' | sort -u", AT_SOURCE_DIR);
  cr_assert_eq(r.code, 0, "%s", r.err);
  struct th_result help;
  th_run(&help, "--help");
  char *readme = th_read(AT_SOURCE_DIR "/README.md", NULL);
  cr_assert_not_null(readme);
  int n = 0;
  for (char *save = NULL, *v = strtok_r(r.out, "\n", &save); v; v = strtok_r(NULL, "\n", &save)) {
    if (!strcmp(v, "TMPDIR") || !strcmp(v, "PATH") || !strcmp(v, "HOME"))
      continue; /* the system's own */
    bool in_table = false;
    for (const struct cli_env *e = cli_env_vars; e->name; e++)
      in_table |= strcmp(e->name, v) == 0;
    cr_expect(in_table, "%s is read by the code but not in cli_env_vars (env_vars.c)", v);
    n++;
  }
  cr_assert_geq(n, 4, "found only %d variables: %s", n, r.out);
  for (const struct cli_env *e = cli_env_vars; e->name; e++) {
    char want[64];
    snprintf(want, sizeof want, "\n  %s ", e->name);
    cr_expect(strstr(help.out, want), "--help lacks %s", e->name);
    snprintf(want, sizeof want, "`%s`", e->name);
    cr_expect(strstr(readme, want), "README.md lacks %s", e->name);
  }
  free(readme);
  th_result_free(&help);
  th_result_free(&r);
}

Test(env, man_page_is_built_from_help)
{
#ifdef AT_MAN_PAGE
  char *man = th_read(AT_MAN_PAGE, NULL);
  cr_assert_not_null(man, "the build made no %s", AT_MAN_PAGE);
  for (const struct cli_cmd *c = cli_commands; c->name; c++) {
    char want[64];
    snprintf(want, sizeof want, ".SS \"autotune %s\"", c->name);
    cr_expect(strstr(man, want), "the man page lacks %s", c->name);
  }
  cr_expect(strstr(man, "AUTOTUNE_COMPILE_TIMEOUT"), "no environment in the man page");
  free(man);
#else
  cr_skip_test("help2man was not found when the build was configured: no man page built");
#endif
}
