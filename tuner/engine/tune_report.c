/*
 * tune_report.c - printing the outcome of one `autotune gemm` problem: the table of the
 * best config per template with its time, TFLOP/s, share of the device's peak (none on
 * the host: its timings are CPU timings of the emulation) and speed-ups over the
 * template's default config and the naive baseline; the model's ranking when the device
 * is not here (labelled as predictions); or all of it as one JSON object.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "tuner/engine/tune_internal.h"

/* ---- output ---- */

static double peak_of(const struct tuner *tu)
{
  const struct dev_profile *d = tu->dev;
  if (d->vendor == DEV_HOST)
    return 0;
  return tu->gdt == GEMM_F16 ? d->peak_tflops_f16
         : tu->gdt == GEMM_BF16 ? d->peak_tflops_bf16 : d->peak_tflops_f32;
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

void tune_print_text(struct tuner *tu)
{
  const struct problem *s = &tu->shapes[tu->cur];
  double peak = peak_of(tu), flops = gemm_flops(&tu->gp);
  const struct tpl *base = baseline_of(tu), *overall = NULL;
  printf("gemm %s %s m=%" PRId64 " n=%" PRId64 " k=%" PRId64 " on %s%s%s (%s)\n", tu->dtype,
         tu->layout, s->m, s->n, s->k, tu->dev->name, tu->o->emulate ? " emulating " : "",
         tu->o->emulate ? tu->space_dev->name : "",
         tu->dev->vendor == DEV_HOST ? "host CPU, emulated: no peak" : tu->dev->description);
  printf("%-14s %7s %6s %7s %6s %9s %7s %12s %9s %7s %8s %8s\n", "template", "valid", "ok",
         "pruned", "c.err", "measured", "failed", "time (us)", "TFLOP/s", "% peak",
         "vs dflt", "vs naive");
  for (size_t i = 0; i < tu->ntpls; i++) {
    const struct tpl *p = &tu->tpls[i];
    if (p->skip[0] || !p->t)
      continue;
    double t = best_us(p);
    char ts[24] = "-", tf[24] = "-", pk[16] = "-", vd[16] = "-", vn[16] = "-";
    if (isfinite(t)) {
      snprintf(ts, sizeof ts, "%.1f", t);
      snprintf(tf, sizeof tf, "%.4g", flops / (t * 1e-6) / 1e12);
      if (peak > 0)
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
    if (p->nconfigs < p->nvalid)
      printf("  compiled the strategy's %zu picks (and the default) of %zu valid configs\n",
             p->nconfigs, p->nvalid);
    if (p->best != SIZE_MAX)
      printf("  best    %s\n", p->br.variants[p->best].config_text);
    if (!p->baseline && p->def != SIZE_MAX)
      printf("  default %s (the middle valid config)\n", p->br.variants[p->def].config_text);
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
    printf("best: %s %s: %.1f us, %.4g TFLOP/s", overall->t->kernel,
           overall->br.variants[overall->best].config_text, t, flops / (t * 1e-6) / 1e12);
    if (peak > 0)
      printf(", %.1f%% of %s's %.0f TFLOP/s peak", 100.0 * flops / (t * 1e-6) / 1e12 / peak,
             tu->dev->name, peak);
    else
      printf(" (host CPU, emulated: no peak)");
    if (base)
      printf(", %.2fx over %s", best_us(base) / t, base->t->kernel);
    printf("\n");
  } else {
    printf("best: none (no variant measured ok)\n");
  }
}

void tune_print_model_ranking(struct tuner *tu)
{
  for (size_t i = 0; i < tu->ntpls; i++) {
    struct tpl *p = &tu->tpls[i];
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
  const struct tune_measurement *m = &p->res[bv];
  double flops = gemm_flops(&tu->gp), peak = peak_of(tu);
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
  double tf = m->status == DB_TRIAL_OK ? flops / (m->median_us * 1e-6) / 1e12 : NAN;
  json_kv("tflops");
  json_write_double(stdout, tf);
  json_kv("gbps");
  json_write_double(stdout, m->status == DB_TRIAL_OK
                                ? gemm_bytes(&tu->gp) / (m->median_us * 1e-6) / 1e9 : NAN);
  json_kv("pct_peak");
  json_write_double(stdout, peak > 0 ? 100.0 * tf / peak : NAN);
  printf("}");
}

void tune_print_json_problem(struct tuner *tu)
{
  const struct problem *s = &tu->shapes[tu->cur];
  const struct tpl *base = baseline_of(tu), *overall = NULL;
  printf("%s{\"m\":%" PRId64 ",\"n\":%" PRId64 ",\"k\":%" PRId64 ",\"flops\":", tu->cur ? "," : "",
         s->m, s->n, s->k);
  json_write_double(stdout, gemm_flops(&tu->gp));
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
    printf(",\"hash\":\"%s\",\"valid\":%zu,\"ok\":%zu,\"measured\":%zu,\"failed\":%zu,"
           "\"by_status\":{", p->t->hash, p->nvalid, p->nok, p->measured, p->failed);
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
    printf(",\"search\":{\"evaluations\":%zu,\"end\":\"%s\"}", p->sr.evaluations,
           p->sr.end == SEARCH_END_EXHAUSTED ? "exhausted"
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
