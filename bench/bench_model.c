/*
 * bench_model.c - how well the GEMM cost model (the model strategy's ranking,
 * tuner/ops/op_gemm_tune.c) orders configs that were measured on a GPU: for every
 * (problem, template) of a `db export` file with at least three `ok` trials, the model's
 * predicted time of each measured config (from the template of this source tree, the
 * trial's problem, its recorded registers and shared memory, and the device profile of
 * the trial's device), then
 *   - Spearman's rank correlation between predicted and measured times,
 *   - regret@1: the measured time of the config the model ranks first over the best
 *     measured (1.00: the model would have found the best of these),
 *   - regret@3: the same for the best of the model's first three.
 * The summary is the mean correlation and the geometric means of the regrets. The
 * configs were chosen by an earlier model (a biased sample): this says how well the
 * model orders what was measured, not how good its picks from the whole space are.
 *
 *   bench_model TRIALS.jsonl[.gz] [-v]     (-v: every trial's measured and predicted us)
 *
 * The baseline is the trials' own measurements; nothing is measured here. A template
 * changed since the run is scored as it is now: a param the config predates takes its
 * first value, the one a new param is given to keep the old kernel (gemm_tma's PINGPONG
 * 0), and a derived one its expression (MATRIX_CORES); the count of such trials is
 * printed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/device.h"
#include "base/json.h"
#include "base/status.h"
#include "generator/emit.h"
#include "generator/expr.h"
#include "generator/template.h"
#include "tuner/device/occupancy.h"
#include "tuner/engine/template_dirs.h"
#include "tuner/ops/gemm_tune.h"

#define MAX_TRIALS 20000

struct row {
  char key[256]; /* device, problem, template */
  double measured, predicted;
};

static char *slurp(const char *path, size_t *len)
{
  gzFile f = gzopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 20, n = 0;
  char *buf = malloc(cap + 1);
  int got;
  while (buf && (got = gzread(f, buf + n, (unsigned)(cap - n))) > 0) {
    n += (size_t)got;
    if (n == cap) {
      char *b = realloc(buf, 2 * cap + 1);
      if (!b) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = b, cap *= 2;
    }
  }
  gzclose(f);
  if (buf)
    buf[n] = 0;
  *len = n;
  return buf;
}

static const char *str(const struct json *o, const char *k)
{
  const struct json *v = json_get(o, k);
  return v && v->type == JSON_STRING ? v->string : NULL;
}

static double num(const struct json *o, const char *k)
{
  const struct json *v = json_get(o, k);
  return v && v->type == JSON_NUMBER ? v->number : NAN;
}

/* The templates loaded so far, one per kernel name (freed at the end). */
#define MAX_TEMPLATES 16
static struct tmpl *loaded[MAX_TEMPLATES];
static size_t nloaded;

/* The gemm template named `kernel` from this source tree; NULL when there is none. */
static const struct tmpl *template_of(const char *kernel)
{
  for (size_t i = 0; i < nloaded; i++)
    if (strcmp(loaded[i]->kernel, kernel) == 0)
      return loaded[i];
  char path[PATH_MAX], common[PATH_MAX];
  struct tmpl *t = NULL;
  const char *inc[] = {common, NULL};
  if (nloaded == MAX_TEMPLATES || !template_find("gemm", kernel, path, common, NULL) ||
      tmpl_load(path, inc, &t) != AT_OK)
    return NULL;
  return loaded[nloaded++] = t;
}

static size_t predated; /* trials whose config lacks a param of today's template */

/* a name's slot in the template's expression layout, every param visible */
static int slot_of(void *ctx, const char *name)
{
  const struct tmpl *t = ctx;
  return tmpl_slot_of(t, t->nparams, name);
}

/* The config's values (one per param, derived included) on `dev` for dims `dims`. A param
 * the text does not name (added to the template after the run) takes its first value, a
 * derived one its expression over the values before it in file order (as the space
 * derives it); such a trial is counted in `predated`. */
static int config_values(const struct tmpl *t, const char *config, int64_t *cfg,
                         const struct dev_profile *dev, const int64_t *dims)
{
  if (tmpl_config_values(t, config, cfg) == AT_OK)
    return AT_OK;
  int64_t *slots = calloc(tmpl_slot_count(t), sizeof *slots);
  if (!slots)
    return AT_NOMEM;
  int rc = AT_OK;
  for (size_t i = 0; i < t->nparams && rc == AT_OK; i++) {
    const struct tmpl_param *q = &t->params[i];
    if (tmpl_config_value(config, q->name, &cfg[i]))
      continue;
    if (!q->expr) {
      if (q->nvalues == 0)
        rc = AT_USAGE;
      else
        cfg[i] = q->values[0];
      continue;
    }
    struct gen_expr *e = NULL;
    tmpl_slots(t, dev, dims, cfg, slots); /* cfg[0..i) is known; what follows is unread */
    if ((rc = gen_expr_parse(q->expr, &e)) == AT_OK &&
        (rc = gen_expr_bind(e, slot_of, (void *)t)) == AT_OK)
      rc = gen_expr_eval(e, slots, NULL, &cfg[i]);
    gen_expr_free(e);
  }
  free(slots);
  predated += rc == AT_OK;
  return rc;
}

/* the model's time of one trial; NAN when it cannot be computed here */
static double predict(const struct json *tr, const struct dev_profile *dev)
{
  const char *kernel = str(tr, "kernel"), *config = str(tr, "config");
  const struct json *dims = json_get(tr, "dims");
  const char *layout = str(tr, "layout"), *dtype = str(tr, "dtype");
  if (!kernel || !config || !dims || !layout || !dtype)
    return NAN;
  const struct tmpl *t = template_of(kernel);
  if (!t)
    return NAN;
  double out = NAN;
  int64_t *cfg = calloc(t->nparams ? t->nparams : 1, sizeof *cfg);
  struct gemm_tune_args a = {.dtype = dtype, .layout = layout, .m = (int64_t)num(dims, "m"),
                             .n = (int64_t)num(dims, "n"), .k = (int64_t)num(dims, "k")};
  struct op_engine op;
  if (!cfg || gemm_tune_op_init(&op, &a) != AT_OK)
    goto done;
  int64_t d[TMPL_MAX_DIMS];
  bool ready = op.prepare(&op, dev) == AT_OK;
  if (ready)
    op.tmpl_dims(&op, 0, t, d);
  if (ready && config_values(t, config, cfg, dev, d) == AT_OK) {
    struct gen_bind b = {.dev = dev, .dims = d, .dtype = op.dtype(&op)};
    struct gen_launch l;
    if (gen_emit_launch(t, &b, cfg, &l) == AT_OK) {
      struct occ_input in = {.threads = (int)(l.threads[0] * l.threads[1] * l.threads[2]),
                             .registers = (int)num(tr, "registers"),
                             .shared_bytes = (int64_t)num(tr, "shared_bytes")};
      struct occ_result occ;
      occ_compute(dev, &in, &occ);
      out = op.model(&op, 0, t, cfg, &l, &occ, dev, false);
    }
  }
  gemm_tune_op_release(&op);
done:
  free(cfg);
  return out;
}

static int by_key_measured(const void *a, const void *b)
{
  const struct row *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->measured > y->measured) - (x->measured < y->measured);
}

/* ranks (1-based, ties averaged) of v[0..n) into r */
static void ranks(const double *v, size_t n, double *r)
{
  for (size_t i = 0; i < n; i++) {
    double less = 0, same = 0;
    for (size_t j = 0; j < n; j++)
      less += v[j] < v[i], same += v[j] == v[i];
    r[i] = less + (same + 1) / 2;
  }
}

int main(int argc, char **argv)
{
  if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "-v") != 0)) {
    fprintf(stderr, "usage: bench_model TRIALS.jsonl[.gz] [-v]\n");
    return 2;
  }
  bool verbose = argc == 3;
  size_t len = 0;
  char *text = slurp(argv[1], &len);
  if (!text) {
    fprintf(stderr, "bench_model: cannot read %s\n", argv[1]);
    return 2;
  }
  struct row *rows = calloc(MAX_TRIALS, sizeof *rows);
  if (!rows) {
    free(text);
    return 1;
  }
  size_t nrows = 0, skipped = 0;
  for (char *line = text; line && *line && nrows < MAX_TRIALS;) {
    char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    struct json *j = NULL;
    char err[100];
    if (n && json_parse(line, n, &j, err, sizeof err) == AT_OK) {
      const char *type = str(j, "type"), *status = str(j, "status"), *op = str(j, "op");
      const char *device = str(j, "device");
      const struct dev_profile *dev = device ? dev_find(device) : NULL;
      if (type && strcmp(type, "trial") == 0 && status && strcmp(status, "ok") == 0 && op &&
          strcmp(op, "gemm") == 0 && dev && dev->vendor != DEV_HOST) {
        double p = predict(j, dev);
        const struct json *d = json_get(j, "dims");
        if (isfinite(p)) {
          struct row *r = &rows[nrows++];
          snprintf(r->key, sizeof r->key, "%s %s %s %gx%gx%g %s", device, str(j, "dtype"),
                   str(j, "layout"), num(d, "m"), num(d, "n"), num(d, "k"), str(j, "kernel"));
          r->measured = num(j, "time_median_us");
          r->predicted = p;
          if (verbose)
            printf("%s %s measured %.1f predicted %.1f\n", r->key, str(j, "config"),
                   r->measured, r->predicted);
        } else {
          skipped++;
        }
      }
    }
    json_free(j);
    line = end ? end + 1 : NULL;
  }
  qsort(rows, nrows, sizeof *rows, by_key_measured);
  printf("%-44s %3s %7s %9s %9s\n", "problem template (measured on its device)", "n",
         "rho", "regret@1", "regret@3");
  double rho_sum = 0, lr1 = 0, lr3 = 0;
  int groups = 0;
  for (size_t i = 0; i < nrows;) {
    size_t j = i;
    while (j < nrows && strcmp(rows[j].key, rows[i].key) == 0)
      j++;
    size_t n = j - i;
    if (n >= 3) {
      double m[64], p[64], rm[64], rp[64];
      n = n > 64 ? 64 : n;
      for (size_t k = 0; k < n; k++)
        m[k] = rows[i + k].measured, p[k] = rows[i + k].predicted;
      ranks(m, n, rm);
      ranks(p, n, rp);
      double mr = (n + 1) / 2.0, sxy = 0, sxx = 0, syy = 0;
      for (size_t k = 0; k < n; k++) {
        sxy += (rm[k] - mr) * (rp[k] - mr), sxx += (rm[k] - mr) * (rm[k] - mr);
        syy += (rp[k] - mr) * (rp[k] - mr);
      }
      double rho = sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0;
      /* the model's first and first three (ties: the slower measured, pessimistic) */
      double best3 = INFINITY;
      size_t order[64];
      for (size_t k = 0; k < n; k++)
        order[k] = k;
      for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++)
          if (p[order[b]] < p[order[a]] ||
              (p[order[b]] == p[order[a]] && m[order[b]] > m[order[a]])) {
            size_t tmp = order[a];
            order[a] = order[b], order[b] = tmp;
          }
      double top1 = m[order[0]];
      for (size_t k = 0; k < 3 && k < n; k++)
        best3 = fmin(best3, m[order[k]]);
      double r1 = top1 / m[0], r3 = best3 / m[0]; /* rows sorted: m[0] is the best */
      printf("%-44s %3zu %7.2f %9.2f %9.2f\n", rows[i].key, n, rho, r1, r3);
      rho_sum += rho, lr1 += log(r1), lr3 += log(r3), groups++;
    }
    i = j;
  }
  if (groups)
    printf("\n%d groups: mean rho %.2f, geomean regret@1 %.2f, regret@3 %.2f (%zu trials, "
           "%zu not predictable here)\n",
           groups, rho_sum / groups, exp(lr1 / groups), exp(lr3 / groups), nrows, skipped);
  if (predated)
    printf("%zu trials' configs predate a param of today's template: given its first value "
           "(a derived one, its derivation)\n",
           predated);
  for (size_t i = 0; i < nloaded; i++)
    tmpl_free(loaded[i]);
  free(rows);
  free(text);
  return groups ? 0 : 1;
}
