/*
 * cmd_model.c - `autotune model NAME --device D ...`: tune every GEMM and attention
 * problem a model runs in decode and prefill (tuner/model/model.h derives them, with
 * their shares), each through the one engine (tune_run) with its share of the time
 * budget, largest first; then one tuned header for them all (the params-mode headers of
 * `autotune emit-header` for gemm and attention, in one file) and a summary: per problem
 * its share and best vs default time, and for the model the per-token decode latency and
 * prefill throughput those times add up to, tuned against untuned. --resume resumes the
 * unfinished problem and recalls the ones whose runs ended (tune_opts.resume_ended).
 * Exit 0 when every run finished, 1 when one failed, 2 on bad input, 130 interrupted.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/interrupt.h"
#include "base/json.h"
#include "base/os.h"
#include "base/status.h"
#include "db/db.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/cli/tune_cli.h"
#include "tuner/cli/tune_report.h"
#include "tuner/model/model.h"
#include "tuner/ops/attn_tune.h"
#include "tuner/ops/gemm_tune.h"

/* Kernels one problem's run may measure (templates of an op). */
#define KERNELS_MAX 16
/* The largest decode batch or prefill length, and KV length, a list may give (the ops
 * check each problem's own limits besides). */
#define MAX_TOKENS (1 << 20)
#define MAX_KV_LEN (1 << 24)

static const char usage[] =
    "autotune model NAME|CONFIG.json --device D [--emulate D2] [--gpu N] [--batch B[,B...]] "
    "[--prefill S[,S...]] [--kv-len L[,L...]] [--step-tokens Q] [--tp N] "
    "[--dtype f16|bf16|f32] [--shapes FILE] [--out FILE.h] [--plan] [--strategy S] "
    "[--budget N|--time-budget SEC] [--seed N] [--db FILE] [--resume] [--jobs N] "
    "[--timeout SEC] [--variant-time SEC] [--no-cache] [--json]";
static const char description[] =
    "Tune what a model runs: from a preset (models/*.json: llama-3.1-8b, llama-3.1-70b,\n"
    "llama-3.2-1b, llama-3.2-3b, mistral-7b, qwen2.5-7b, qwen2.5-14b, qwen2.5-32b,\n"
    "gemma-2-9b) or a Hugging Face config.json, derive every GEMM (fused QKV, output\n"
    "projection, fused gate/up, down, lm_head) and attention problem (decode at each\n"
    "--batch over each --kv-len, each sequence adding --step-tokens tokens a step: 1, or\n"
    "up to 16 for speculative decoding's verification; prefill causal at each --prefill\n"
    "length), sharded by --tp, deduplicated, ordered by their share of the model's time\n"
    "(roofline FLOPs and bytes on the device's profile x calls per step). Each is tuned by\n"
    "the engine of `autotune gemm` into the database, --time-budget split by share,\n"
    "largest first.\n"
    "--shapes adds a captured workload's GEMMs (M N K lines, TunableOp CSV, hipblaslt-bench\n"
    "or rocblas-bench lines; skipped lines are listed). Then --out (default\n"
    "tuned-NAME.h): one params-mode header of the gemm and attention winners on the device,\n"
    "and a summary: per problem its share and best vs default time; per scenario the\n"
    "decode latency per token (per step with --step-tokens) and prefill tokens/s, tuned vs\n"
    "untuned defaults. --plan prints the problems and shares only. docs/models.md. Exit 0\n"
    "when every run finished, 1 when one failed, 2 on bad input, 130 when interrupted.";

/* A comma list of integers in [1, max] into v[MODEL_MAX_LIST]. */
static int parse_list(const char *opt, const char *text, int64_t max, int64_t *v, size_t *n)
{
  *n = 0;
  char buf[256];
  if (strlen(text) >= sizeof buf || !*text) {
    cli_error("bad %s '%.40s' (expected integers separated by commas)", opt, text);
    return CLI_USAGE;
  }
  snprintf(buf, sizeof buf, "%s", text);
  char *save = NULL;
  for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
    if (*n >= MODEL_MAX_LIST) {
      cli_error("%s: more than %d values", opt, MODEL_MAX_LIST);
      return CLI_USAGE;
    }
    if (cli_int(opt, s, 1, max, &v[*n]) != CLI_OK)
      return CLI_USAGE;
    (*n)++;
  }
  return CLI_OK;
}

/* What the runs came to, per problem, read back from the database. */
struct outcome {
  char run[DB_UUID_LEN + 1];
  bool ended_before;
  double best_us, default_us;
  char best_kernel[64];
  char *best_config;
  const char *baseline;     /* the op's baseline kernel, or NULL */
  char kernels[KERNELS_MAX][64]; /* kernels whose first measured trial was seen */
  size_t nkernels;
};

struct collect {
  struct outcome *out;
  size_t n;
};

static int collect_cb(void *ctx, const struct db_trial *t)
{
  struct collect *c = ctx;
  for (size_t i = 0; i < c->n; i++) {
    struct outcome *o = &c->out[i];
    if (!o->run[0] || strcmp(o->run, t->run_uuid) != 0)
      continue;
    if (t->status == DB_TRIAL_PRUNED || t->status == DB_TRIAL_COMPILE_ERROR)
      return 0; /* static verdicts come first; they are no measurement */
    if (t->status == DB_TRIAL_OK && (!isfinite(o->best_us) || t->time_median_us < o->best_us)) {
      o->best_us = t->time_median_us;
      snprintf(o->best_kernel, sizeof o->best_kernel, "%s", t->kernel);
      free(o->best_config);
      o->best_config = strdup(t->config ? t->config : "");
    }
    /* the engine measures each template's default config first (tune.c): a kernel's
     * first measured trial of the run is its default */
    if (o->baseline && strcmp(t->kernel, o->baseline) == 0)
      return 0;
    for (size_t k = 0; k < o->nkernels; k++)
      if (strcmp(o->kernels[k], t->kernel) == 0)
        return 0;
    if (o->nkernels < KERNELS_MAX)
      snprintf(o->kernels[o->nkernels++], sizeof o->kernels[0], "%s", t->kernel);
    if (t->status == DB_TRIAL_OK && (!isfinite(o->default_us) || t->time_median_us < o->default_us))
      o->default_us = t->time_median_us;
    return 0;
  }
  return 0;
}

/* Run `autotune emit-header OP` in params mode into tmp, its stdout silenced (this
 * command prints its own summary). CLI_OK or its exit code. */
static int emit_one(const char *op, const char *device, const char *db, const char *tmp)
{
  char *argv[] = {"emit-header", (char *)op, "--device", (char *)device, "--db", (char *)db,
                  "--mode", "params", "--out", (char *)tmp, NULL};
  fflush(stdout);
  int saved = dup(STDOUT_FILENO), null = open("/dev/null", O_WRONLY);
  if (saved >= 0 && null >= 0)
    dup2(null, STDOUT_FILENO);
  int code = cmd_emit_header(10, argv);
  fflush(stdout);
  if (saved >= 0) {
    dup2(saved, STDOUT_FILENO);
    close(saved);
  }
  if (null >= 0)
    close(null);
  return code;
}

static int count_cb(void *ctx, const struct db_best *b)
{
  (void)b;
  ++*(size_t *)ctx;
  return 0;
}

/* One header of both ops' winners on `device`, written whole or not at all; an op
 * without winners (nothing measured ok) is left out. OUT: which[len]: the ops written
 * ("gemm and attention"), "" for none (then nothing is written). */
static int write_header(const char *out, const char *device, const char *dbpath, char *which,
                        size_t which_len)
{
  static const char *const ops[] = {"gemm", "attention"};
  size_t nwin[2] = {0, 0};
  struct db *db = NULL;
  which[0] = '\0';
  if (!at_is_file(dbpath)) /* nothing was recorded (no device here, no variant) */
    return CLI_OK;
  int rc = db_open(dbpath, DB_READONLY, &db);
  for (size_t i = 0; i < 2 && rc == AT_OK; i++)
    rc = db_each_winner(db, device, ops[i], count_cb, &nwin[i]);
  db_close(db);
  if (rc != AT_OK)
    return cli_fail(rc);
  char *dir = NULL;
  if (os_mkdtemp("model-header", &dir) != AT_OK)
    return cli_fail(AT_IO);
  size_t cap = 0, len = 0;
  char *all = NULL;
  int code = CLI_OK;
  for (size_t i = 0; i < 2 && code == CLI_OK; i++) {
    if (!nwin[i])
      continue;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/%s.h", dir, ops[i]);
    if ((code = emit_one(ops[i], device, dbpath, tmp)) != CLI_OK)
      break; /* emit-header said why */
    unsigned char *data = NULL;
    size_t size = 0;
    if (os_read_file(tmp, &data, &size) != AT_OK) {
      code = cli_fail(AT_IO);
      break;
    }
    char *v = len + size + 2 > cap ? realloc(all, cap = (len + size + 2) * 2) : all;
    if (!v) {
      free(data);
      code = cli_fail(AT_NOMEM);
      break;
    }
    all = v;
    if (len)
      all[len++] = '\n';
    memcpy(all + len, data, size);
    len += size;
    free(data);
    size_t used = strlen(which);
    snprintf(which + used, which_len - used, "%s%s", used ? " and " : "", ops[i]);
  }
  if (code == CLI_OK && which[0] && os_write_atomic(out, all, len) != AT_OK)
    code = cli_fail(AT_IO);
  if (code != CLI_OK)
    which[0] = '\0';
  free(all);
  os_rmdir(dir);
  free(dir);
  return code;
}

/* The header's path: its folder must be writable and it must not be the database. CLI_OK
 * or CLI_USAGE after one line. */
static int check_out(const char *out, const char *dbpath)
{
  char dir[PATH_MAX];
  const char *slash = strrchr(out, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) + (slash == out) : 1,
           slash ? out : ".");
  if (access(dir, W_OK) != 0) {
    cli_error("cannot write --out '%.200s': %s", out, strerror(errno));
    return CLI_USAGE;
  }
  struct stat a, b;
  char *ao = os_abspath(out), *ad = os_abspath(dbpath);
  bool same = (ao && ad && strcmp(ao, ad) == 0) ||
              (stat(out, &a) == 0 && stat(dbpath, &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino);
  free(ao), free(ad);
  if (same) {
    cli_error("refusing to write the header over the database '%.200s' (--out names it)",
              dbpath);
    return CLI_USAGE;
  }
  return CLI_OK;
}

static void fmt_us(double us, char *out, size_t len)
{
  if (isfinite(us))
    snprintf(out, len, "%.1f", us);
  else
    snprintf(out, len, "-");
}

static void print_plan(const struct model_cfg *c, const struct model_plan *pl,
                       const struct dev_profile *dev)
{
  printf("%s (%s): %lld layers, hidden %lld, intermediate %lld, %lld heads, %lld KV heads, "
         "head dim %lld, vocab %lld\n", c->name, c->source[0] ? c->source : "config.json",
         (long long)c->layers, (long long)c->hidden, (long long)c->intermediate,
         (long long)c->heads, (long long)c->kv_heads, (long long)c->head_dim,
         (long long)c->vocab);
  printf("%zu problems, shares by roofline on %s:\n", pl->n, dev->name);
  for (size_t i = 0; i < pl->n; i++) {
    char t[200];
    model_problem_text(&pl->p[i], t, sizeof t);
    printf("  %5.1f%%  %s\n", 100.0 * pl->p[i].share, t);
  }
}

static void print_summary(const struct model_plan *pl, const struct outcome *oc,
                          const char *device, bool host)
{
  printf("%-8s %-52s %12s %12s %8s %s\n", "share", "problem", "best (us)", "default (us)",
         "speedup", "best config");
  for (size_t i = 0; i < pl->n; i++) {
    char t[200], b[32], d[32], s[16] = "-";
    model_problem_text(&pl->p[i], t, sizeof t);
    fmt_us(oc[i].best_us, b, sizeof b);
    fmt_us(oc[i].default_us, d, sizeof d);
    if (isfinite(oc[i].best_us) && isfinite(oc[i].default_us))
      snprintf(s, sizeof s, "%.2fx", oc[i].default_us / oc[i].best_us);
    printf("%6.1f%%  %-52s %12s %12s %8s %s%s%s%s\n", 100.0 * pl->p[i].share, t, b, d, s,
           oc[i].best_kernel, oc[i].best_config ? " " : "",
           oc[i].best_config ? oc[i].best_config : "", oc[i].ended_before ? " (recalled)" : "");
  }
  printf("estimate on %s%s:\n", device,
         host ? " (host CPU times of the emulation, not the GPU's)" : "");
  double *best = malloc(pl->n * sizeof *best), *dflt = malloc(pl->n * sizeof *dflt);
  if (!best || !dflt) {
    free(best), free(dflt);
    return;
  }
  for (size_t i = 0; i < pl->n; i++)
    best[i] = oc[i].best_us, dflt[i] = oc[i].default_us;
  for (size_t s = 0; s < pl->nsc; s++) {
    const struct model_scenario *sc = &pl->sc[s];
    double tt = model_scenario_us(pl, s, best), tu = model_scenario_us(pl, s, dflt);
    /* each side alone: n/a where a problem the scenario calls has no time measured ok */
    char ts[48] = "n/a", us[48] = "n/a", ratio[24] = "";
    if (sc->prefill) {
      if (isfinite(tt))
        snprintf(ts, sizeof ts, "%.4g tokens/s", (double)sc->tokens / (tt * 1e-6));
      if (isfinite(tu))
        snprintf(us, sizeof us, "%.4g tokens/s", (double)sc->tokens / (tu * 1e-6));
    } else { /* a step of Q > 1 tokens (speculative) is a step: how many are kept varies */
      const char *per = sc->queries > 1 ? "step" : "token";
      if (isfinite(tt))
        snprintf(ts, sizeof ts, "%.4g ms per %s", tt * 1e-3, per);
      if (isfinite(tu))
        snprintf(us, sizeof us, "%.4g ms per %s", tu * 1e-3, per);
    }
    if (isfinite(tt) && isfinite(tu))
      snprintf(ratio, sizeof ratio, " (%.2fx)", tu / tt);
    if (sc->prefill)
      printf("  prefill %lld tokens: %s tuned, %s untuned%s\n", (long long)sc->tokens, ts, us,
             ratio);
    else if (sc->queries > 1)
      printf("  decode batch %lld, KV %lld, %lld tokens a step: %s tuned, %s untuned%s\n",
             (long long)sc->batch, (long long)sc->kv, (long long)sc->queries, ts, us, ratio);
    else
      printf("  decode batch %lld, KV %lld: %s tuned, %s untuned%s\n", (long long)sc->batch,
             (long long)sc->kv, ts, us, ratio);
  }
  free(best), free(dflt);
}

static void print_json(const struct model_cfg *c, const struct model_plan *pl,
                       const struct outcome *oc, const char *device, const char *header,
                       const struct shape_list *sl)
{
  printf("{\"model\":");
  json_write_str(stdout, c->name);
  printf(",\"source\":");
  json_write_str(stdout, c->source[0] ? c->source : NULL);
  printf(",\"device\":");
  json_write_str(stdout, device);
  printf(",\"header\":");
  json_write_str(stdout, header);
  printf(",\"problems\":[");
  for (size_t i = 0; i < pl->n; i++) {
    char t[200];
    model_problem_text(&pl->p[i], t, sizeof t);
    printf("%s{\"problem\":", i ? "," : "");
    json_write_str(stdout, t);
    printf(",\"share\":");
    json_write_double(stdout, pl->p[i].share);
    printf(",\"best_us\":");
    json_write_double(stdout, oc ? oc[i].best_us : NAN);
    printf(",\"default_us\":");
    json_write_double(stdout, oc ? oc[i].default_us : NAN);
    printf(",\"kernel\":");
    json_write_str(stdout, oc && oc[i].best_kernel[0] ? oc[i].best_kernel : NULL);
    printf(",\"config\":");
    json_write_str(stdout, oc ? oc[i].best_config : NULL);
    printf(",\"run\":");
    json_write_str(stdout, oc && oc[i].run[0] ? oc[i].run : NULL);
    printf("}");
  }
  printf("],\"scenarios\":[");
  double *best = calloc(pl->n + 1, sizeof *best), *dflt = calloc(pl->n + 1, sizeof *dflt);
  for (size_t i = 0; best && dflt && i < pl->n; i++)
    best[i] = oc ? oc[i].best_us : NAN, dflt[i] = oc ? oc[i].default_us : NAN;
  for (size_t s = 0; best && dflt && s < pl->nsc; s++) {
    const struct model_scenario *sc = &pl->sc[s];
    printf("%s{\"kind\":\"%s\",\"batch\":%lld,\"kv\":%lld,\"tokens\":%lld,\"queries\":%lld,"
           "\"tuned_us\":", s ? "," : "", sc->prefill ? "prefill" : "decode",
           (long long)sc->batch, (long long)sc->kv, (long long)sc->tokens,
           (long long)sc->queries);
    json_write_double(stdout, model_scenario_us(pl, s, best));
    printf(",\"untuned_us\":");
    json_write_double(stdout, model_scenario_us(pl, s, dflt));
    printf("}");
  }
  free(best), free(dflt);
  printf("],\"skipped\":[");
  for (size_t i = 0; sl && i < sl->nskips; i++) {
    printf("%s{\"line\":%d,\"why\":", i ? "," : "", sl->skips[i].line);
    json_write_str(stdout, sl->skips[i].why);
    printf("}");
  }
  /* what the key does not hold (say_captured's notes) */
  printf("],\"captured_batched\":%zu,\"captured_padded_ld\":%zu}\n", sl ? sl->batched : 0,
         sl ? sl->with_ld : 0);
}

/* Say what a captured workload gave and left out (stderr: the summary stays clean). */
static void say_captured(const char *path, const struct shape_list *sl)
{
  fprintf(stderr, "autotune: %s: %zu distinct GEMMs, %zu lines skipped\n", path, sl->n,
          sl->nskips);
  for (size_t i = 0; i < sl->nskips; i++)
    fprintf(stderr, "autotune: %s:%d: skipped: %s\n", path, sl->skips[i].line,
            sl->skips[i].why);
  if (sl->batched)
    fprintf(stderr, "autotune: %s: %zu batched GEMMs: each tuned as one problem of its "
            "shape (the key has no batch dim), its share counting every batch member\n",
            path, sl->batched);
  if (sl->with_ld)
    fprintf(stderr, "autotune: %s: %zu GEMMs with padded leading dims: tuned packed (the "
            "key has no lda/ldb/ldc)\n", path, sl->with_ld);
}

int cmd_model(int argc, char **argv)
{
  struct tune_cli tc;
  tune_cli_init(&tc, SEARCH_MODEL, true);
  const char *batch = "1,16,64", *prefill = "2048", *kvlen = NULL, *dtype = NULL;
  const char *shapes = NULL, *out = NULL;
  int64_t tp = 1, step_tokens = 1;
  bool plan_only = false;
  const struct cli_opt opts[] = {
      {"batch", CLI_STR, &batch, "B,..", "decode batch sizes (1,16,64); 'none': no decode"},
      {"prefill", CLI_STR, &prefill, "S,..", "prefill lengths (2048); 'none': no prefill"},
      {"kv-len", CLI_STR, &kvlen, "L,..", "decode KV lengths (default: the prefill lengths)"},
      {"step-tokens", CLI_INT, CLI_INT_IN(&step_tokens, 1, 16), "Q",
       "tokens a sequence adds a decode step: 1, or 2-16 (speculative decoding) (1)"},
      {"tp", CLI_INT, CLI_INT_IN(&tp, 1, 1024), "N", "tensor-parallel degree: shard shapes (1)"},
      {"dtype", CLI_STR, &dtype, "T", "f16, bf16 or f32 (host: f32, GPUs: f16)"},
      {"shapes", CLI_STR, &shapes, "FILE", "add a captured workload's GEMMs"},
      {"out", CLI_STR, &out, "FILE.h", "the tuned header (tuned-NAME.h)"},
      {"plan", CLI_FLAG, &plan_only, NULL, "print the problems and shares; tune nothing"},
      TUNE_CLI_OPTS(&tc),
      {NULL, 0, NULL, NULL, NULL},
  };
  struct model_cfg cfg;
  struct model_plan pl = {0};
  struct shape_list sl = {0};
  struct outcome *oc = NULL;
  struct db *db = NULL;
  char outbuf[PATH_MAX], dir[PATH_MAX];
  int code = tune_cli_parse(&tc, argc, argv, opts, usage, description);
  if (code != CLI_OK) {
    code = code < 0 ? CLI_OK : code;
    goto done;
  }
  code = CLI_USAGE;
  if (tc.npos != 1) {
    cli_error("model needs one NAME or CONFIG.json%s%.60s; try 'autotune model --help'",
              tc.npos > 1 ? ", not also " : "", tc.npos > 1 ? tc.pos[1] : "");
    goto done;
  }
  if (tc.o.ntemplates || tc.bundle_dir || tc.o.sanitize) {
    cli_error("model tunes each op's default templates on this machine (no --template, "
              "--bundle or --sanitize)");
    goto done;
  }
  if ((code = tune_cli_check(&tc)) != CLI_OK)
    goto done;
  code = CLI_USAGE;
  if (!tc.o.device) {
    cli_error("model needs --device (host, or a GPU profile such as mi300x)");
    goto done;
  }
  const struct dev_profile *space = dev_find(tc.o.emulate ? tc.o.emulate : tc.o.device);
  if (!space) {
    code = cli_fail(AT_USAGE);
    goto done;
  }
  if (dtype && strcmp(dtype, "f32") && strcmp(dtype, "f16") && strcmp(dtype, "bf16")) {
    cli_error("bad --dtype '%.20s' (expected f16, bf16 or f32)", dtype);
    goto done;
  }
  if (!dtype)
    dtype = space->vendor == DEV_HOST ? "f32" : "f16";
  struct model_opts mo = {.tp = tp, .step_tokens = step_tokens, .dtype = dtype, .dev = space};
  if ((strcmp(batch, "none") && parse_list("--batch", batch, MAX_TOKENS, mo.batches,
                                           &mo.nbatches) != CLI_OK) ||
      (strcmp(prefill, "none") && parse_list("--prefill", prefill, MAX_TOKENS, mo.prefills,
                                             &mo.nprefills) != CLI_OK))
    goto done;
  if (kvlen) {
    if (parse_list("--kv-len", kvlen, MAX_KV_LEN, mo.kv_lens, &mo.nkv) != CLI_OK)
      goto done;
  } else {
    memcpy(mo.kv_lens, mo.prefills, sizeof mo.kv_lens);
    mo.nkv = mo.nprefills;
    if (!mo.nkv)
      mo.kv_lens[mo.nkv++] = 2048;
  }
  int rc;
  if ((rc = model_cfg_load(tc.pos[0], model_presets_dir(dir, sizeof dir), &cfg)) != AT_OK ||
      (rc = model_plan_make(&cfg, &mo, &pl)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (shapes) {
    if ((rc = shapes_read(shapes, &sl)) != AT_OK ||
        (rc = model_plan_add_captured(&pl, &sl, dtype)) != AT_OK) {
      code = cli_fail(rc);
      goto done;
    }
    say_captured(shapes, &sl);
  }
  model_plan_finish(&pl, space);
  if (tc.o.time_budget_s > 0)
    model_plan_split(&pl, tc.o.time_budget_s);
  if (plan_only) {
    if (tc.json)
      print_json(&cfg, &pl, NULL, space->name, NULL, shapes ? &sl : NULL);
    else
      print_plan(&cfg, &pl, space);
    code = CLI_OK;
    goto done;
  }
  if (!out) {
    snprintf(outbuf, sizeof outbuf, "tuned-%s.h", cfg.name);
    out = outbuf;
  }
  if (!(oc = calloc(pl.n, sizeof *oc))) {
    code = cli_fail(AT_NOMEM);
    goto done;
  }
  if (!tc.o.db_path && !(tc.o.db_path = cli_default_db(true))) {
    code = CLI_FAILED;
    goto done;
  }
  if ((code = check_out(out, tc.o.db_path)) != CLI_OK) /* before hours of tuning */
    goto done;
  if (!tc.json)
    print_plan(&cfg, &pl, space);
  struct tune_printer pr;
  tune_printer_init(&pr, &tc.o, false, true); /* warnings and the progress line only */
  pr.progress = pr.progress && !tc.json;
  tc.o.resume_ended = tc.o.resume;
  intr_install();
  char device[80] = "";
  code = CLI_OK;
  for (size_t i = 0; i < pl.n && code == CLI_OK; i++) {
    struct model_problem *p = &pl.p[i];
    struct op_engine op = {0};
    struct gemm_tune_args ga = {.dtype = p->dtype, .layout = p->layout, .m = p->m,
                                .n = p->n, .k = p->k};
    oc[i].best_us = oc[i].default_us = NAN;
    rc = p->kind == MODEL_GEMM ? gemm_tune_op_init(&op, &ga) : attn_tune_op_init(&op, &p->attn);
    if (rc != AT_OK) {
      code = cli_fail(rc);
      break;
    }
    oc[i].baseline = op.baseline;
    if (tc.o.time_budget_s > 0)
      tc.o.time_budget_s = p->budget_s;
    if (!tc.strategy) /* each op's own default: attention's model is unmeasured (random) */
      tc.o.strategy = p->kind == MODEL_GEMM ? SEARCH_MODEL : SEARCH_RANDOM;
    tc.o.op = &op;
    if (pr.progress) {
      char t[200];
      model_problem_text(p, t, sizeof t);
      printf("[%zu/%zu] %s\n", i + 1, pl.n, t);
    }
    struct tune_summary sum;
    at_error_clear();
    rc = tune_run(&tc.o, &sum);
    tune_printer_finish(&pr);
    snprintf(oc[i].run, sizeof oc[i].run, "%s", sum.run_uuid);
    oc[i].ended_before = sum.ended_before;
    if (sum.device[0])
      snprintf(device, sizeof device, "%s", sum.device);
    if (p->kind == MODEL_GEMM)
      gemm_tune_op_release(&op);
    else
      attn_tune_op_release(&op);
    if (rc != AT_OK)
      code = cli_fail(rc);
  }
  if (tc.o.resume) {
    size_t recalled = 0;
    for (size_t i = 0; i < pl.n; i++)
      recalled += oc[i].ended_before;
    cli_error("--resume: %zu of %zu problems recalled (their runs had ended)%s", recalled,
              pl.n, recalled < pl.n ? ", the rest resumed or tuned anew" : "");
  }
  /* what every run came to, from the database: the summary of what was recorded */
  if (device[0] && (rc = db_open(tc.o.db_path, DB_READONLY, &db)) == AT_OK) {
    struct collect cc = {oc, pl.n};
    rc = db_each_trial(db, collect_cb, &cc);
    db_close(db);
    db = NULL;
  }
  if (code != CLI_OK)
    goto done;
  if (rc != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  char which[64];
  if ((code = write_header(out, device, tc.o.db_path, which, sizeof which)) != CLI_OK)
    goto done;
  if (tc.json) {
    print_json(&cfg, &pl, oc, device, which[0] ? out : NULL, shapes ? &sl : NULL);
  } else {
    print_summary(&pl, oc, device, space->vendor == DEV_HOST || tc.o.emulate);
    if (which[0])
      printf("wrote %s: the %s winners on %s (params mode, docs/headers.md)\n", out, which,
             device);
    else
      printf("no header: nothing was measured ok on %s\n", device);
  }
done:
  if (oc)
    for (size_t i = 0; i < pl.n; i++)
      free(oc[i].best_config);
  free(oc);
  shapes_release(&sl);
  model_plan_release(&pl);
  tune_cli_release(&tc);
  return code;
}
