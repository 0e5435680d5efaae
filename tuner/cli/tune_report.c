/*
 * tune_report.c - the report module of the tuning engine (struct tune_report, tune.h):
 * the progress line on a terminal, one-line warnings, and the outcome of each problem:
 * the table of the best config per template with its time, TFLOP/s, share of the
 * device's peak (none on the host: its timings are CPU timings of the emulation) and
 * speed-ups over the template's default config and the op's baseline; the model's
 * ranking when the device is not here (labelled as predictions); or all of it as one
 * JSON object. The same for every op; `autotune tune` adds its reference's line.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/tune_report.h"
#include "tuner/engine/tune_internal.h"

#define MODEL_SHOW 10

/* ---- output ---- */

static double peak_of(const struct tuner *tu)
{
  return tu->dev->vendor == DEV_HOST ? 0 : tu->prob.peak_tflops;
}

/* "m=4096 n=4096 k=4096" */
static void print_dims(const struct db_problem *k)
{
  for (int i = 0; i < k->ndims; i++)
    printf("%s%s=%" PRId64, i ? " " : "", k->dim_names[i], k->dims[i]);
}

static const struct tpl *baseline_of(const struct tuner *tu)
{
  for (size_t i = 0; i < tu->ntpls; i++)
    if (tu->tpls[i].baseline && !tu->tpls[i].skip[0] && tu->tpls[i].best != SIZE_MAX)
      return &tu->tpls[i];
  return NULL;
}

static double best_us(const struct tpl *p)
{
  return p->best != SIZE_MAX ? p->res[p->best].median_us : NAN;
}

static void print_text(const struct tuner *tu)
{
  double peak = peak_of(tu), flops = tu->prob.flops;
  const struct tpl *base = baseline_of(tu), *overall = NULL;
  const struct db_problem *k = &tu->prob.key;
  printf("%s %s%s%s ", k->op, k->dtype, k->layout[0] ? " " : "", k->layout);
  print_dims(k);
  printf(" on %s%s%s (%s)\n", tu->dev->name, tu->o->emulate ? " emulating " : "",
         tu->o->emulate ? tu->space_dev->name : "",
         tu->dev->vendor == DEV_HOST ? "host CPU, emulated: no peak" : tu->dev->description);
  printf("%-14s %7s %6s %7s %6s %9s %7s %12s %9s %7s %8s %8s\n", "template", "valid", "ok",
         "pruned", "c.err", "measured", "failed", "time (us)", "TFLOP/s", "% peak",
         "vs dflt", "vs base");
  for (size_t i = 0; i < tu->ntpls; i++) {
    const struct tpl *p = &tu->tpls[i];
    if (p->skip[0] || !p->t)
      continue;
    double t = best_us(p);
    char ts[24] = "-", tf[24] = "-", pk[16] = "-", vd[16] = "-", vn[16] = "-";
    if (isfinite(t)) {
      snprintf(ts, sizeof ts, "%.1f", t);
      if (flops > 0)
        snprintf(tf, sizeof tf, "%.4g", flops / (t * 1e-6) / 1e12);
      if (peak > 0 && flops > 0)
        snprintf(pk, sizeof pk, "%.1f", 100.0 * flops / (t * 1e-6) / 1e12 / peak);
      if (p->def != SIZE_MAX && p->have[p->def] && p->res[p->def].status == DB_TRIAL_OK)
        snprintf(vd, sizeof vd, "%.2fx", p->res[p->def].median_us / t);
      if (base)
        snprintf(vn, sizeof vn, "%.2fx", best_us(base) / t);
      if (!overall || t < best_us(overall))
        overall = p;
    }
    printf("%-14s %7zu %6zu %7zu %6zu %9zu %7zu %12s %9s %7s %8s %8s\n", p->t->kernel,
           p->nvalid, p->nok, p->by_status[DB_TRIAL_PRUNED],
           p->by_status[DB_TRIAL_COMPILE_ERROR], p->measured, p->failed, ts, tf, pk,
           p->baseline ? "-" : vd, vn);
    if (p->br.nvariants < p->nvalid)
      printf("  compiled %zu configs (%s) of %zu valid\n", p->br.nvariants,
             p->lazy ? "as the search asked" : "the strategy's picks and the default",
             p->nvalid);
    if (p->best != SIZE_MAX)
      printf("  best    %s\n", p->br.variants[p->best].config_text);
    if (!p->baseline && p->def != SIZE_MAX)
      printf("  default %s (%s)\n", p->br.variants[p->def].config_text,
             tu->op->reference_config ? "the reference config" : "the middle valid config");
    if (p->failed) {
      printf("  failed ");
      for (int st = DB_TRIAL_VERIFY_FAILED; st <= DB_TRIAL_TIMEOUT; st++)
        if (p->by_status[st])
          printf(" %zu %s", p->by_status[st], db_trial_status_name(st));
      printf("\n");
    }
  }
  if (overall) {
    double t = best_us(overall);
    printf("best: %s %s: %.1f us", overall->t->kernel,
           overall->br.variants[overall->best].config_text, t);
    if (flops > 0)
      printf(", %.4g TFLOP/s", flops / (t * 1e-6) / 1e12);
    if (peak > 0 && flops > 0)
      printf(", %.1f%% of %s's %.0f TFLOP/s peak", 100.0 * flops / (t * 1e-6) / 1e12 / peak,
             tu->dev->name, peak);
    else if (tu->dev->vendor == DEV_HOST)
      printf(" (host CPU, emulated: no peak)");
    if (base)
      printf(", %.2fx over %s", best_us(base) / t, base->t->kernel);
    printf("\n");
  } else {
    printf("best: none (no variant measured ok)\n");
  }
}

static void print_model_ranking(const struct tuner *tu)
{
  for (size_t i = 0; i < tu->ntpls; i++) {
    const struct tpl *p = &tu->tpls[i];
    if (p->skip[0] || p->nok == 0 || p->baseline)
      continue;
    size_t *order = malloc(p->nok * sizeof *order);
    if (!order)
      return;
    for (size_t j = 0; j < p->nok; j++)
      order[j] = j;
    for (size_t a = 1; a < p->nok; a++) /* insertion sort: stable, by predicted time */
      for (size_t b = a; b > 0 && p->model[order[b]] < p->model[order[b - 1]]; b--) {
        size_t t = order[b];
        order[b] = order[b - 1];
        order[b - 1] = t;
      }
    printf("%s: the model's ranking (predictions, not measurements; not recorded):\n",
           p->t->kernel);
    for (size_t j = 0; j < p->nok && j < MODEL_SHOW; j++)
      printf("  %2zu. %10.1f us predicted  %s\n", j + 1, p->model[order[j]],
             p->br.variants[p->ok[order[j]]].config_text);
    free(order);
  }
}

static void json_kv(const char *key)
{
  printf(",\"%s\":", key);
}

static void json_measure(const struct tuner *tu, const struct tpl *p, size_t bv)
{
  if (bv == SIZE_MAX || !p->have[bv]) {
    printf("null");
    return;
  }
  const struct meas_result *m = &p->res[bv];
  double flops = tu->prob.flops, peak = peak_of(tu);
  printf("{\"config\":");
  json_write_str(stdout, p->br.variants[bv].config_text);
  printf(",\"name\":");
  json_write_str(stdout, p->br.variants[bv].name);
  printf(",\"status\":\"%s\"", db_trial_status_name(m->status));
  json_kv("time_us");
  json_write_double(stdout, m->median_us);
  json_kv("min_us");
  json_write_double(stdout, m->min_us);
  json_kv("max_us");
  json_write_double(stdout, m->max_us);
  json_kv("spread");
  json_write_double(stdout, m->spread);
  json_kv("reps");
  json_write_int(stdout, m->reps);
  json_kv("flush_bytes");
  json_write_int(stdout, m->flush_bytes);
  double tf = m->status == DB_TRIAL_OK && flops > 0 ? flops / (m->median_us * 1e-6) / 1e12
                                                   : NAN;
  json_kv("tflops");
  json_write_double(stdout, tf);
  json_kv("gbps");
  json_write_double(stdout, m->status == DB_TRIAL_OK && tu->prob.bytes > 0
                                ? tu->prob.bytes / (m->median_us * 1e-6) / 1e9 : NAN);
  json_kv("pct_peak");
  json_write_double(stdout, peak > 0 ? 100.0 * tf / peak : NAN);
  printf("}");
}

static void print_json_problem(const struct tuner *tu)
{
  const struct tpl *base = baseline_of(tu), *overall = NULL;
  const struct db_problem *k = &tu->prob.key;
  printf("%s{", tu->cur ? "," : "");
  for (int i = 0; i < k->ndims; i++)
    printf("\"%s\":%" PRId64 ",", k->dim_names[i], k->dims[i]);
  printf("\"dtype\":\"%s\",\"layout\":\"%s\",\"flops\":", k->dtype, k->layout);
  json_write_double(stdout, tu->prob.flops > 0 ? tu->prob.flops : NAN);
  printf(",\"templates\":[");
  bool first = true;
  for (size_t i = 0; i < tu->ntpls; i++) {
    const struct tpl *p = &tu->tpls[i];
    char name[PATH_MAX];
    printf("%s{\"template\":", first ? "" : ",");
    first = false;
    json_write_str(stdout, p->t ? p->t->kernel : tune_base_name(p->path, name, sizeof name));
    printf(",\"path\":");
    json_write_str(stdout, p->path);
    printf(",\"baseline\":%s,\"skipped\":", p->baseline ? "true" : "false");
    json_write_str(stdout, p->skip[0] ? p->skip : NULL);
    if (p->skip[0] || !p->t) {
      printf("}");
      continue;
    }
    printf(",\"hash\":\"%s\",\"valid\":%zu,\"compiled\":%zu,\"ok\":%zu,\"measured\":%zu,"
           "\"failed\":%zu,\"by_status\":{", p->t->hash, p->nvalid, p->br.nvariants, p->nok,
           p->measured, p->failed);
    for (int st = 0; st < DB_TRIAL_STATUS_COUNT; st++)
      printf("%s\"%s\":%zu", st ? "," : "", db_trial_status_name(st), p->by_status[st]);
    printf("},\"best\":");
    json_measure(tu, p, p->best);
    printf(",\"default\":");
    json_measure(tu, p, p->baseline ? SIZE_MAX : p->def);
    double t = best_us(p);
    json_kv("speedup_default");
    json_write_double(stdout, !p->baseline && p->def != SIZE_MAX && p->have[p->def] &&
                                      p->res[p->def].status == DB_TRIAL_OK
                                  ? p->res[p->def].median_us / t : NAN);
    json_kv("speedup_baseline");
    json_write_double(stdout, base ? best_us(base) / t : NAN);
    printf(",\"search\":{\"evaluations\":%zu,\"unbuilt\":%zu,\"end\":\"%s\"}",
           p->sr.evaluations, p->sr.unbuilt, p->sr.end == SEARCH_END_EXHAUSTED ? "exhausted"
           : p->sr.end == SEARCH_END_BUDGET  ? "budget"
           : p->sr.end == SEARCH_END_TIME    ? "time" : "stopped");
    if (!tu->mb && tu->o->strategy == SEARCH_MODEL && !p->baseline) {
      printf(",\"model_ranking\":[");
      /* the predictions, best first (not measurements) */
      bool *used = calloc(p->nok + 1, sizeof *used);
      for (size_t r = 0; used && r < p->nok && r < MODEL_SHOW; r++) {
        size_t bi = SIZE_MAX;
        for (size_t j = 0; j < p->nok; j++)
          if (!used[j] && (bi == SIZE_MAX || p->model[j] < p->model[bi]))
            bi = j;
        used[bi] = true;
        printf("%s{\"config\":", r ? "," : "");
        json_write_str(stdout, p->br.variants[p->ok[bi]].config_text);
        printf(",\"predicted_us\":");
        json_write_double(stdout, p->model[bi]);
        printf("}");
      }
      free(used);
      printf("]");
    }
    printf("}");
    if (isfinite(t) && (!overall || t < best_us(overall)))
      overall = p;
  }
  printf("],\"best\":");
  if (overall) {
    printf("{\"template\":");
    json_write_str(stdout, overall->t->kernel);
    printf(",\"result\":");
    json_measure(tu, overall, overall->best);
    printf("}");
  } else {
    printf("null");
  }
  printf("}");
}

/* ---- the engine's callbacks ---- */

static void fmt_eta(double s, char *out, size_t len)
{
  if (!(s >= 0) || s > 359999)
    snprintf(out, len, "-");
  else
    snprintf(out, len, "%d:%02d", (int)s / 60, (int)s % 60);
}

static void r_warn(void *ctx, const char *message)
{
  (void)ctx;
  if (cli_verbosity() >= 0) /* -q: errors only */
    cli_error("%s", message);
}

/* -v: a line on stderr each time a variant's measurement ends, terminal or not, so that
 * a log keeps the run's course. */
static void progress_line(struct tune_printer *pr, const struct tuner *tu)
{
  size_t done = tu->timed + tu->failed;
  if (done == pr->lines_at)
    return;
  pr->lines_at = done;
  fprintf(stderr, "autotune: %s: measured %zu (%zu ok, %zu failed) of %zu planned; best ",
          tu->op->name, done, tu->timed, tu->failed, tu->planned);
  if (isfinite(tu->best_us))
    fprintf(stderr, "%.4g us\n", tu->best_us);
  else
    fputs("-\n", stderr);
}

static void r_progress(void *ctx, const struct tuner *tu)
{
  struct tune_printer *pr = ctx;
  if (cli_verbosity() > 0)
    progress_line(pr, tu);
  if (!pr->progress)
    return;
  char best[64] = "-", eta[16] = "-";
  if (isfinite(tu->best_us)) {
    if (tu->prob.flops > 0)
      snprintf(best, sizeof best, "%.1f us (%.3g TFLOP/s)", tu->best_us,
               tu->prob.flops / (tu->best_us * 1e-6) / 1e12);
    else
      snprintf(best, sizeof best, "%.1f us", tu->best_us);
  }
  double per = tu->fresh ? tu->meas_spent / (double)tu->fresh : 0;
  size_t left = tu->planned > tu->evals ? tu->planned - tu->evals : 0;
  if (tu->fresh) /* no estimate before the first measurement */
    fmt_eta(per * (double)left, eta, sizeof eta);
  printf("\r[%s] compiled %zu/%zu \xc2\xb7 verified %zu \xc2\xb7 timed %zu \xc2\xb7 failed "
         "%zu \xc2\xb7 best %s \xc2\xb7 ETA %s\033[K",
         tu->op->name, tu->compiled, tu->compile_total, tu->verified, tu->timed, tu->failed,
         best, eta);
  fflush(stdout);
  pr->shown = true;
}

static void r_progress_clear(void *ctx, const struct tuner *tu)
{
  struct tune_printer *pr = ctx;
  (void)tu;
  if (pr->shown) {
    printf("\r\033[K");
    fflush(stdout);
    pr->shown = false;
  }
}

static void r_start(void *ctx, const struct tuner *tu)
{
  struct tune_printer *pr = ctx;
  const struct tune_opts *o = tu->o;
  if (!pr->json)
    return;
  printf("{\"op\":\"%s\",\"device\":\"%s\",\"emulate\":%s%s%s,\"arch\":\"%s\",\"dtype\":",
         tu->op->name, tu->dev->name, o->emulate ? "\"" : "",
         o->emulate ? tu->space_dev->name : "null", o->emulate ? "\"" : "", tu->arch);
  json_write_str(stdout, tu->dtype);
  printf(",\"strategy\":\"%s\",\"seed\":%" PRIu64 ",\"budget\":%" PRId64 ",\"problems\":[",
         search_strategy_name(o->strategy), o->seed, tu->budget);
  pr->json_open = true;
}

/* `autotune tune`'s line: the reference config and its outcome. */
static void print_reference(const struct tuner *tu)
{
  for (size_t i = 0; i < tu->ntpls; i++) {
    const struct tpl *p = &tu->tpls[i];
    if (p->skip[0] || !p->t || p->baseline)
      continue;
    if (!tpl_default_is_mid(p) || !p->have[p->def]) {
      printf("  reference %s: not run (it did not compile)\n",
             tu->op->reference_config ? tu->op->reference_config : "(the middle config)");
      continue;
    }
    const struct meas_result *m = &p->res[p->def];
    printf("  reference %s", p->br.variants[p->def].config_text);
    if (m->status == DB_TRIAL_OK)
      printf(": %.4g us\n", m->median_us);
    else
      printf(": %s (%s)\n", db_trial_status_name(m->status), m->message);
  }
}

static void r_problem(void *ctx, const struct tuner *tu)
{
  struct tune_printer *pr = ctx;
  r_progress_clear(ctx, tu);
  if (pr->json) {
    print_json_problem(tu);
    return;
  }
  if (tu->cur)
    printf("\n");
  if (tu->mb) {
    print_text(tu);
    if (tu->op->checks_against_reference)
      print_reference(tu);
    return;
  }
  if (tu->o->strategy == SEARCH_MODEL)
    print_model_ranking(tu);
  size_t nv = 0, npruned = 0, ce = 0;
  for (size_t i = 0; i < tu->ntpls; i++) {
    nv += tu->tpls[i].br.nvariants;
    npruned += tu->tpls[i].by_status[DB_TRIAL_PRUNED];
    ce += tu->tpls[i].by_status[DB_TRIAL_COMPILE_ERROR];
  }
  printf("%s on %s: %zu variants compiled for %s, %zu pruned, %zu compile errors; %s\n",
         tu->op->name, tu->dev->name, nv, tu->dev->arch, npruned, ce, tu->no_meas);
}

static void r_end(void *ctx, const struct tuner *tu)
{
  struct tune_printer *pr = ctx;
  if (pr->json) {
    printf("],\"measured_here\":%s,\"no_measurement\":", tu->mb ? "true" : "false");
    json_write_str(stdout, tu->mb ? NULL : tu->no_meas);
    printf(",\"run\":\"%s\",\"resumed\":%s,\"db\":", tu->run_uuid, tu->resumed ? "true" : "false");
    json_write_str(stdout, tu->db_path);
    printf(",\"trials_recorded\":%zu,\"trials_resumed\":%zu,\"worker_restarts\":%zu,"
           "\"gpus\":[", tu->trials_recorded, tu->trials_resumed, tu->restarts);
    for (size_t i = 0; i < tu->nworkers; i++) { /* docs/cluster.md */
      printf("%s{\"ordinal\":%d,\"uuid\":", i ? "," : "", tu->gpu_ord[i]);
      json_write_str(stdout, tu->gpu_uuid[i][0] ? tu->gpu_uuid[i] : NULL);
      printf(",\"retired\":%s}", tu->retired[i] ? "true" : "false");
    }
    printf("],\"shard\":");
    if (tu->o->nshards > 1)
      printf("\"%d/%d\"", tu->o->shard, tu->o->nshards);
    else
      printf("null");
    printf(",\"wall_s\":");
    json_write_double(stdout, tu->wall_s);
    printf("}\n");
    pr->json_open = false;
  } else {
    char eta[16];
    fmt_eta(tu->wall_s, eta, sizeof eta);
    char where[64] = "";
    size_t retired = 0;
    for (size_t i = 0; i < tu->nworkers; i++)
      retired += tu->retired[i];
    if (tu->o->nshards > 1)
      snprintf(where, sizeof where, " (shard %d/%d)", tu->o->shard, tu->o->nshards);
    if (tu->nworkers > 1)
      snprintf(where + strlen(where), sizeof where - strlen(where), " on %zu GPUs%s",
               tu->nworkers, retired ? ", some retired" : "");
    printf("run %s%s%s in %s: %zu trials recorded%s, %s\n", tu->run_uuid,
           tu->resumed ? " (resumed)" : "", where, tu->db_path, tu->trials_recorded,
           tu->trials_resumed ? " (the rest recalled from the resumed run)" : "", eta);
  }
  fflush(stdout);
}

static const struct tune_report printer_report = {
    /* .warn = */ r_warn,
    /* .progress = */ r_progress,
    /* .progress_clear = */ r_progress_clear,
    /* .start = */ r_start,
    /* .problem = */ r_problem,
    /* .end = */ r_end,
};

/* Making a bundle: the warnings and the progress line, no tables. */
static const struct tune_report bundle_report = {
    /* .warn = */ r_warn,
    /* .progress = */ r_progress,
    /* .progress_clear = */ r_progress_clear,
    NULL, NULL, NULL,
};

void tune_printer_init(struct tune_printer *pr, struct tune_opts *o, bool json,
                       bool bundle)
{
  memset(pr, 0, sizeof *pr);
  pr->json = json;
  pr->progress = !json && cli_stdout_is_tty() && cli_verbosity() >= 0;
  o->report = bundle ? &bundle_report : &printer_report;
  o->report_ctx = pr;
}

void tune_report_bundle(const struct bundle *b, bool json)
{
  if (json) {
    printf("{\"bundle\":");
    json_write_str(stdout, b->dir);
    printf(",\"id\":");
    json_write_str(stdout, b->id);
    printf(",\"device\":");
    json_write_str(stdout, b->device);
    printf(",\"backend\":");
    json_write_str(stdout, b->backend);
    printf(",\"toolchain\":");
    json_write_str(stdout, b->toolchain);
    printf(",\"variants\":%" PRId64 ",\"ok\":%" PRId64 ",\"files\":%" PRId64
           ",\"bytes\":%" PRId64 "}\n", b->variants, b->ok, b->files, b->bytes);
  } else {
    printf("bundle %s (id %s): %s for %s, %s (%s); %" PRId64 " variants compiled, %" PRId64
           " ok; %" PRId64 " files, %.1f MiB\n", b->dir, b->id, b->op, b->device,
           b->backend, b->toolchain, b->variants, b->ok, b->files,
           (double)b->bytes / (1024.0 * 1024.0));
  }
  fflush(stdout);
}

void tune_printer_finish(struct tune_printer *pr)
{
  if (pr->shown)
    printf("\r\033[K");
  pr->shown = false;
  if (pr->json_open) /* the run failed after it started: close the object */
    printf("]}\n");
  pr->json_open = false;
  fflush(stdout);
}
