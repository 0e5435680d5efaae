/*
 * cmd_report.c - `autotune report`: one self-contained HTML file (inline SVG, no script,
 * nothing loaded from anywhere) about a tuning run, or about every run of a device (and
 * op) in a database. It owns choosing the trials, the figures drawn from them and the
 * page's wording; the HTML and SVG writing is tuner/report/'s. Per problem (op, dtype,
 * layout, shape, device): the winner and why (its speed-up over its template's default
 * config and over the op's baseline, the parameters that moved the time most), the
 * tuning curve (best so far against evaluations and against wall time, one line per
 * run), each template's times with its failures by status, each parameter's effect on
 * the winning template, and a roofline (achieved TFLOP/s against arithmetic intensity
 * under the device's compute and memory roofs; none on the host). Then the runs'
 * provenance. Everything comes from the database through db_each_run/db_each_trial.
 *
 * The default config is not a column of the database: it is the first trial the run
 * measured of each template, since the engine measures the default before the search
 * (tuner/engine/tune.c, search_tpl). A resumed run may not have measured it first; the
 * page then calls the default "first measured".
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/device.h"
#include "base/os.h"
#include "base/status.h"
#include "db/db.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "tuner/ops/gemm_tune.h"
#include "tuner/report/html.h"
#include "tuner/report/svg.h"

#define REPORT_MAX_RUNS 16      /* --run given at most this often */
#define REPORT_MIN_PREFIX 6     /* characters of a run uuid that may stand for it */
#define REPORT_WHY_PARAMS 3     /* parameters named in a winner's "why" */
#define REPORT_MAX_CATS 48      /* values of one parameter drawn */
#define REPORT_MAX_KEYS 32      /* parameters of one config */
#define PLOT_W 600              /* a chart in a two-column row */
#define PLOT_H 330
#define PARAM_W 396             /* a parameter's chart, three to a row */
#define PARAM_H 260

static const char usage[] =
    "autotune report [--run UUID ...] [--device D [--op OP]] [--db FILE] --out FILE.html";
static const char description[] =
    "Write one self-contained HTML file (inline SVG charts, no script, nothing fetched)\n"
    "about tuning runs of a database: per problem the winner and why (speed-up over its\n"
    "template's default config and over the op's baseline, the parameters that mattered),\n"
    "the tuning curve (best so far against evaluations and wall time, a line per run), each\n"
    "template's times and failures by status, each parameter's effect, a roofline under the\n"
    "device's compute and memory roofs (not on the host: CPU timings of the emulation), and\n"
    "the runs' provenance. --run UUID (or a unique prefix of 6+ characters; repeatable)\n"
    "picks runs; --device D picks every run that measured on D (the name as recorded:\n"
    "host, host:mi300x, h100), --op narrows to one op; with neither, the latest run.\n"
    "The file is replaced atomically. Exit 0 when written, 1 when it failed, 2 on bad input.";

/* ---- the data: runs and trials copied out of the database ---- */

struct rrun {
  char uuid[DB_UUID_LEN + 1];
  char *started_at, *ended_at, *strategy, *args, *host, *cpu, *os, *toolchain, *driver,
      *runtime, *gpu_name, *version;
  double t0;       /* started_at, seconds since the epoch */
  bool selected;
  bool has_trials;
  int color;       /* its line in the tuning curves */
};

struct rtrial {
  size_t run;
  char *device, *op, *dtype, *kernel, *config, *problem, *message;
  enum db_trial_status status;
  double us, tflops, gbps, occupancy, at;
  int64_t registers, spills, shared;
};

/* The trials of one problem on one device. */
struct rproblem {
  char *key;         /* "gemm f32 NN m=64,n=64,k=64 on host" */
  const struct rtrial *first;
  size_t *idx, n;
  char **kernels;    /* in order of first appearance: each one's colour */
  size_t nkernels;
};

struct report {
  struct rrun *runs;
  size_t nruns, runs_cap;
  struct rtrial *trials;
  size_t ntrials, trials_cap;
  struct rproblem *probs;
  size_t nprobs;
  const char *device, *op; /* the --device and --op filters */
  const char *dbpath;
};

static char *dup_or_null(const char *s)
{
  return s ? strdup(s) : NULL;
}

static double iso_seconds(const char *s)
{
  struct tm tm = {0};
  if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec) != 6)
    return NAN;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return (double)timegm(&tm);
}

static int take_run(void *ctx, const struct db_run *r)
{
  struct report *rep = ctx;
  int rc = os_grow(&rep->runs, &rep->runs_cap, rep->nruns + 1, sizeof *rep->runs, 16);
  if (rc)
    return rc;
  struct rrun *o = &rep->runs[rep->nruns++];
  memset(o, 0, sizeof *o);
  memcpy(o->uuid, r->uuid, sizeof o->uuid);
  o->started_at = dup_or_null(r->started_at);
  o->ended_at = dup_or_null(r->ended_at);
  o->strategy = dup_or_null(r->strategy);
  o->args = dup_or_null(r->args);
  o->host = dup_or_null(r->host);
  o->cpu = dup_or_null(r->cpu);
  o->os = dup_or_null(r->os);
  o->toolchain = dup_or_null(r->toolchain);
  o->driver = dup_or_null(r->driver);
  o->runtime = dup_or_null(r->runtime);
  o->gpu_name = dup_or_null(r->gpu_name);
  o->version = dup_or_null(r->autotune_version);
  o->t0 = iso_seconds(r->started_at);
  return AT_OK;
}

static size_t run_index(const struct report *rep, const char *uuid)
{
  /* trials come in insertion order, so their run is nearly always the latest one */
  for (size_t i = rep->nruns; i-- > 0;)
    if (strcmp(rep->runs[i].uuid, uuid) == 0)
      return i;
  return SIZE_MAX;
}

static int take_trial(void *ctx, const struct db_trial *t)
{
  struct report *rep = ctx;
  size_t run = run_index(rep, t->run_uuid);
  if (run == SIZE_MAX)
    return AT_OK;
  rep->runs[run].has_trials = true;
  if (rep->device && strcmp(t->device, rep->device) != 0)
    return AT_OK;
  if (rep->op && strcmp(t->problem.op, rep->op) != 0)
    return AT_OK;
  int rc = os_grow(&rep->trials, &rep->trials_cap, rep->ntrials + 1, sizeof *rep->trials, 256);
  if (rc)
    return rc;
  char *dims = db_problem_dims_text(&t->problem);
  struct rtrial *o = &rep->trials[rep->ntrials++];
  memset(o, 0, sizeof *o);
  o->run = run;
  o->device = strdup(t->device);
  o->op = strdup(t->problem.op);
  o->dtype = strdup(t->problem.dtype);
  o->kernel = strdup(t->kernel);
  o->config = strdup(t->config);
  o->message = dup_or_null(t->message);
  o->problem = os_strdupf("%s %s%s%s %s on %s", t->problem.op, t->problem.dtype,
                          t->problem.layout[0] ? " " : "", t->problem.layout,
                          dims ? dims : "", t->device);
  free(dims);
  o->status = t->status;
  o->us = t->time_median_us;
  o->tflops = t->tflops;
  o->gbps = t->gbps;
  o->occupancy = t->occupancy;
  o->registers = t->registers;
  o->spills = t->spills;
  o->shared = t->shared_bytes;
  o->at = iso_seconds(t->created_at);
  if (!o->device || !o->op || !o->dtype || !o->kernel || !o->config || !o->problem)
    return at_error(AT_NOMEM, "out of memory");
  return AT_OK;
}

static void report_release(struct report *rep)
{
  for (size_t i = 0; i < rep->nruns; i++) {
    struct rrun *r = &rep->runs[i];
    char *s[] = {r->started_at, r->ended_at, r->strategy, r->args, r->host, r->cpu,
                 r->os, r->toolchain, r->driver, r->runtime, r->gpu_name, r->version};
    for (size_t j = 0; j < sizeof s / sizeof s[0]; j++)
      free(s[j]);
  }
  for (size_t i = 0; i < rep->ntrials; i++) {
    struct rtrial *t = &rep->trials[i];
    char *s[] = {t->device, t->op, t->dtype, t->kernel, t->config, t->problem, t->message};
    for (size_t j = 0; j < sizeof s / sizeof s[0]; j++)
      free(s[j]);
  }
  for (size_t i = 0; i < rep->nprobs; i++) {
    free(rep->probs[i].idx);
    free(rep->probs[i].kernels);
  }
  free(rep->runs);
  free(rep->trials);
  free(rep->probs);
}

static bool measured(const struct rtrial *t)
{
  return t->status != DB_TRIAL_COMPILE_ERROR && t->status != DB_TRIAL_PRUNED;
}

static bool ok(const struct rtrial *t)
{
  return t->status == DB_TRIAL_OK && isfinite(t->us) && t->us > 0;
}

/* Group the selected runs' trials by problem, in order of first appearance. */
static int group(struct report *rep)
{
  if (!(rep->probs = calloc(rep->ntrials + 1, sizeof *rep->probs)))
    return at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < rep->ntrials; i++) {
    struct rtrial *t = &rep->trials[i];
    if (!rep->runs[t->run].selected)
      continue;
    struct rproblem *p = NULL;
    for (size_t j = 0; j < rep->nprobs && !p; j++)
      if (strcmp(rep->probs[j].key, t->problem) == 0)
        p = &rep->probs[j];
    if (!p) {
      p = &rep->probs[rep->nprobs++];
      p->key = t->problem;
      p->first = t;
      if (!(p->idx = malloc(rep->ntrials * sizeof *p->idx)) ||
          !(p->kernels = malloc(rep->ntrials * sizeof *p->kernels)))
        return at_error(AT_NOMEM, "out of memory");
    }
    p->idx[p->n++] = i;
    size_t k = 0;
    while (k < p->nkernels && strcmp(p->kernels[k], t->kernel) != 0)
      k++;
    if (k == p->nkernels)
      p->kernels[p->nkernels++] = t->kernel;
  }
  return AT_OK;
}

static int kernel_color(const struct rproblem *p, const char *kernel)
{
  for (size_t k = 0; k < p->nkernels; k++)
    if (strcmp(p->kernels[k], kernel) == 0)
      return (int)k;
  return 0;
}

/* ---- figures ---- */

static const char *baseline_of(const char *op, char *out, size_t len)
{
  out[0] = '\0';
  if (strcmp(op, "gemm") == 0) {
    struct op_engine e;
    struct gemm_tune_args a = {0};
    if (gemm_tune_op_init(&e, &a) == AT_OK) {
      snprintf(out, len, "%s", e.baseline ? e.baseline : "");
      gemm_tune_op_release(&e);
    }
  }
  return out;
}

/* The best ok trial of the problem: of `kernel` when not NULL, of any template but
 * `other_than` when that is not NULL (best_of(rep, p, NULL, baseline): the tuned template
 * whose parameters explain the result, the winner unless the baseline won). NULL: none. */
static const struct rtrial *best_of(const struct report *rep, const struct rproblem *p,
                                    const char *kernel, const char *other_than)
{
  const struct rtrial *best = NULL;
  for (size_t i = 0; i < p->n; i++) {
    const struct rtrial *t = &rep->trials[p->idx[i]];
    if (ok(t) && (!kernel || strcmp(t->kernel, kernel) == 0) &&
        (!other_than || strcmp(t->kernel, other_than) != 0) && (!best || t->us < best->us))
      best = t;
  }
  return best;
}

/* The default config of `kernel` in `run`: its first measured trial (see the top). */
static const struct rtrial *default_of(const struct report *rep, const struct rproblem *p,
                                       const char *kernel, size_t run)
{
  for (size_t i = 0; i < p->n; i++) {
    const struct rtrial *t = &rep->trials[p->idx[i]];
    if (t->run == run && measured(t) && strcmp(t->kernel, kernel) == 0)
      return t;
  }
  return NULL;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
  if (n == 0)
    return NAN;
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The value of `key` in a canonical config "A=1,B=2" into out; false when absent. */
static bool config_value(const char *config, const char *key, char *out, size_t len)
{
  size_t kl = strlen(key);
  for (const char *s = config; s && *s;) {
    const char *end = strchr(s, ',');
    size_t n = end ? (size_t)(end - s) : strlen(s);
    if (n > kl && strncmp(s, key, kl) == 0 && s[kl] == '=') {
      snprintf(out, len, "%.*s", (int)(n - kl - 1), s + kl + 1);
      return true;
    }
    s = end ? end + 1 : NULL;
  }
  return false;
}

/* A deterministic spread of points across a category's slot: -0.3 .. 0.3. */
static double jitter(size_t i)
{
  double g = (double)i * 0.6180339887;
  return (g - floor(g) - 0.5) * 0.6;
}

static void fmt_us(char *out, size_t len, double us)
{
  if (!isfinite(us))
    snprintf(out, len, "-");
  else if (us >= 100)
    snprintf(out, len, "%.0f us", us);
  else
    snprintf(out, len, "%.3g us", us);
}

/* One parameter's effect on a template: the median time at each of its values. */
struct effect {
  char key[64];
  char vals[REPORT_MAX_CATS][32];
  size_t nvals;
  double med[REPORT_MAX_CATS];
  size_t count[REPORT_MAX_CATS];
  double ratio;          /* slowest value's median / fastest's (values with 2+ trials
                            when there are two such: one trial is no median) */
  size_t fast, slow;     /* the values of those medians */
};

static int cmp_val(const void *a, const void *b)
{
  const char *x = a, *y = b;
  char *ex, *ey;
  double dx = strtod(x, &ex), dy = strtod(y, &ey);
  if (!*ex && !*ey && ex != x && ey != y)
    return (dx > dy) - (dx < dy);
  return strcmp(x, y);
}

/* The effect of `key` over the ok trials of `kernel` on the problem. */
static void effect_of(const struct report *rep, const struct rproblem *p, const char *kernel,
                      const char *key, struct effect *e)
{
  memset(e, 0, sizeof *e);
  snprintf(e->key, sizeof e->key, "%.63s", key);
  for (size_t i = 0; i < p->n; i++) {
    const struct rtrial *t = &rep->trials[p->idx[i]];
    char v[32];
    if (!ok(t) || strcmp(t->kernel, kernel) != 0 || !config_value(t->config, key, v, sizeof v))
      continue;
    size_t j = 0;
    while (j < e->nvals && strcmp(e->vals[j], v) != 0)
      j++;
    if (j == e->nvals && e->nvals < REPORT_MAX_CATS)
      snprintf(e->vals[e->nvals++], sizeof e->vals[0], "%s", v);
  }
  qsort(e->vals, e->nvals, sizeof e->vals[0], cmp_val);
  double *ts = malloc((p->n + 1) * sizeof *ts);
  e->ratio = 1;
  for (size_t j = 0; ts && j < e->nvals; j++) {
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
      const struct rtrial *t = &rep->trials[p->idx[i]];
      char v[32];
      if (ok(t) && strcmp(t->kernel, kernel) == 0 &&
          config_value(t->config, key, v, sizeof v) && strcmp(v, e->vals[j]) == 0)
        ts[n++] = t->us;
    }
    e->med[j] = median(ts, n);
    e->count[j] = n;
  }
  size_t multi = 0;
  for (size_t j = 0; j < e->nvals; j++)
    multi += e->count[j] > 1;
  size_t need = multi >= 2 ? 2 : 1;
  bool any = false;
  for (size_t j = 0; j < e->nvals; j++) {
    if (e->count[j] < need)
      continue;
    if (!any || e->med[j] < e->med[e->fast])
      e->fast = j;
    if (!any || e->med[j] > e->med[e->slow])
      e->slow = j;
    any = true;
  }
  if (e->nvals > 1 && any)
    e->ratio = e->med[e->slow] / e->med[e->fast];
  free(ts);
}

/* The parameters of a config, in its order. Returns how many (at most cap). */
static size_t config_keys(const char *config, char keys[][64], size_t cap)
{
  size_t n = 0;
  for (const char *s = config; s && *s && n < cap;) {
    const char *eq = strchr(s, '='), *end = strchr(s, ',');
    if (!eq || (end && eq > end))
      break;
    snprintf(keys[n++], 64, "%.*s", (int)(eq - s), s);
    s = end ? end + 1 : NULL;
  }
  return n;
}

static int cmp_effect(const void *a, const void *b)
{
  double x = ((const struct effect *)a)->ratio, y = ((const struct effect *)b)->ratio;
  return (x < y) - (x > y);
}

/* ---- the page ---- */

static void curve_charts(FILE *f, const struct report *rep, const struct rproblem *p,
                         size_t pi, const char *baseline)
{
  double *xs = malloc((p->n + 1) * sizeof *xs), *ws = malloc((p->n + 1) * sizeof *ws),
         *ys = malloc((p->n + 1) * sizeof *ys);
  if (!xs || !ws || !ys)
    goto out;
  for (int pass = 0; pass < 2; pass++) {
    struct svg_plot pl = {.width = PLOT_W, .height = PLOT_H, .legend_low_left = true};
    char id[32];
    snprintf(id, sizeof id, "curve-%s-%zu", pass ? "time" : "evals", pi);
    pl.id = id;
    pl.title = pass ? "Best so far against wall time" : "Best so far against evaluations";
    svg_axis_init(&pl.x, pass ? "seconds since the run started" : "evaluations (variants measured)",
                  SVG_LINEAR);
    svg_axis_init(&pl.y, "best median time so far (us, log)", SVG_LOG);
    svg_axis_include(&pl.x, 0);
    for (size_t r = 0; r < rep->nruns; r++) {
      size_t n = 0;
      double best = NAN;
      for (size_t i = 0; i < p->n; i++) {
        const struct rtrial *t = &rep->trials[p->idx[i]];
        if (t->run != r || !measured(t) || strcmp(t->kernel, baseline) == 0)
          continue;
        n++;
        svg_axis_include(&pl.x, pass ? t->at - rep->runs[r].t0 : (double)n);
        if (ok(t) && !(t->us >= best)) { /* the curves' values alone: best so far */
          best = t->us;
          svg_axis_include(&pl.y, best);
        }
      }
    }
    svg_plot_begin(&pl, f);
    for (size_t r = 0; r < rep->nruns; r++) {
      size_t n = 0;
      double best = NAN;
      for (size_t i = 0; i < p->n; i++) {
        const struct rtrial *t = &rep->trials[p->idx[i]];
        if (t->run != r || !measured(t) || strcmp(t->kernel, baseline) == 0)
          continue;
        if (ok(t) && !(t->us >= best))
          best = t->us;
        xs[n] = (double)(n + 1);
        ws[n] = t->at - rep->runs[r].t0;
        ys[n++] = best;
      }
      if (n == 0)
        continue;
      char label[96];
      snprintf(label, sizeof label, "run %.8s (%s): %zu eval%s", rep->runs[r].uuid,
               rep->runs[r].strategy ? rep->runs[r].strategy : "?", n, n == 1 ? "" : "s");
      svg_line(&pl, n, pass ? ws : xs, ys, rep->runs[r].color, true, label);
      char tip[160];
      snprintf(tip, sizeof tip, "run %.8s: best %.4g us after %zu evaluations",
               rep->runs[r].uuid, ys[n - 1], n);
      svg_point(&pl, pass ? ws[n - 1] : xs[n - 1], ys[n - 1], rep->runs[r].color, 4, tip);
    }
    svg_plot_end(&pl);
  }
out:
  free(xs);
  free(ws);
  free(ys);
}

static void templates_chart(FILE *f, const struct report *rep, const struct rproblem *p,
                            size_t pi)
{
  struct svg_plot pl = {.width = PLOT_W, .height = PLOT_H};
  char id[32];
  snprintf(id, sizeof id, "templates-%zu", pi);
  pl.id = id;
  pl.title = "Each template's measured times (failures below the names)";
  svg_axis_init(&pl.x, "template", SVG_CATEGORY);
  pl.x.cats = (const char *const *)p->kernels;
  pl.x.ncats = p->nkernels;
  svg_axis_init(&pl.y, "median time (us, log)", SVG_LOG);
  for (size_t i = 0; i < p->n; i++)
    if (ok(&rep->trials[p->idx[i]]))
      svg_axis_include(&pl.y, rep->trials[p->idx[i]].us);
  pl.height += 14;
  svg_plot_begin(&pl, f);
  double *ts = malloc((p->n + 1) * sizeof *ts);
  for (size_t k = 0; ts && k < p->nkernels; k++) {
    size_t n = 0, failed = 0;
    for (size_t i = 0; i < p->n; i++) {
      const struct rtrial *t = &rep->trials[p->idx[i]];
      if (strcmp(t->kernel, p->kernels[k]) != 0)
        continue;
      if (ok(t)) {
        char tip[512];
        snprintf(tip, sizeof tip, "%s %s: %.4g us", t->kernel, t->config, t->us);
        svg_point(&pl, (double)k + jitter(n), t->us, (int)k, 3, tip);
        ts[n++] = t->us;
      } else if (measured(t)) {
        failed++;
      }
    }
    double m = median(ts, n);
    if (n)
      svg_segment(&pl, k - 0.38, m, k + 0.38, m, "#333", false, "median");
    char s[96];
    snprintf(s, sizeof s, "%zu ok%s", n, failed ? "," : "");
    svg_label(&pl, (double)k, pl.y.min, "middle", 28, "#333", s);
    if (failed) {
      snprintf(s, sizeof s, "%zu failed", failed);
      svg_label(&pl, (double)k, pl.y.min, "middle", 40, "#a33", s);
    }
  }
  free(ts);
  svg_plot_end(&pl);
}

static double peak_for(const struct dev_profile *d, const char *dtype)
{
  if (strcmp(dtype, "f16") == 0)
    return d->peak_tflops_f16;
  if (strcmp(dtype, "bf16") == 0)
    return d->peak_tflops_bf16;
  if (strcmp(dtype, "f8") == 0)
    return d->peak_tflops_f8;
  return d->peak_tflops_f32;
}

/* The device's profile when its timings are a GPU's (NULL on the host). */
static const struct dev_profile *gpu_profile(const char *device)
{
  if (strncmp(device, "host", 4) == 0)
    return NULL;
  const struct dev_profile *d = dev_find(device);
  at_error_clear();
  return d && d->vendor != DEV_HOST && d->mem_bandwidth_gbs > 0 ? d : NULL;
}

static void roofline_chart(FILE *f, const struct report *rep, const struct rproblem *p,
                           size_t pi)
{
  const struct dev_profile *d = gpu_profile(p->first->device);
  double peak = d ? peak_for(d, p->first->dtype) : 0, bw = d ? d->mem_bandwidth_gbs : 0;
  struct svg_plot pl = {.width = PLOT_W, .height = PLOT_H};
  char id[32];
  snprintf(id, sizeof id, "roofline-%zu", pi);
  pl.id = id;
  pl.title = d ? "Roofline: achieved TFLOP/s against arithmetic intensity"
               : "Achieved TFLOP/s against arithmetic intensity (host: no roofs)";
  svg_axis_init(&pl.x, "arithmetic intensity (FLOP/byte, log)", SVG_LOG);
  svg_axis_init(&pl.y, "TFLOP/s (log)", SVG_LOG);
  for (size_t i = 0; i < p->n; i++) {
    const struct rtrial *t = &rep->trials[p->idx[i]];
    if (ok(t) && t->tflops > 0 && t->gbps > 0) {
      svg_axis_include(&pl.x, 1e3 * t->tflops / t->gbps);
      svg_axis_include(&pl.y, t->tflops);
    }
  }
  if (!isnan(pl.x.min)) { /* a decade either side: where the shape sits on the axis */
    double lo = pl.x.min / 10, hi = pl.x.max * 10;
    svg_axis_include(&pl.x, lo);
    svg_axis_include(&pl.x, hi);
  }
  if (peak > 0 && bw > 0) {
    svg_axis_include(&pl.y, peak * 1.3);
    svg_axis_include(&pl.y, peak / 10); /* the memory roof at the left edge */
    svg_axis_include(&pl.x, peak * 1e3 / bw / 10); /* the ridge in view, with both roofs */
    svg_axis_include(&pl.x, peak * 1e3 / bw * 10);
  }
  svg_plot_begin(&pl, f);
  if (peak > 0 && bw > 0) {
    double ridge = peak * 1e3 / bw, x0 = pl.x.min, x1 = pl.x.max;
    double y0 = bw * x0 / 1e3;
    char s[96];
    svg_segment(&pl, x0, y0, ridge, peak, "#555", true, "roof");
    svg_segment(&pl, ridge, peak, x1, peak, "#555", true, "roof");
    snprintf(s, sizeof s, "%s peak %.0f TFLOP/s", p->first->dtype, peak);
    svg_label(&pl, x1, peak, "end", -5, "#555", s);
    snprintf(s, sizeof s, "memory %.0f GB/s", bw);
    svg_label(&pl, ridge, peak, "end", 14, "#555", s);
  }
  size_t placed = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct rtrial *t = &rep->trials[p->idx[i]];
    if (!ok(t) || !(t->tflops > 0) || !(t->gbps > 0))
      continue;
    placed++;
    char tip[512];
    snprintf(tip, sizeof tip, "%s %s: %.4g TFLOP/s, %.4g GB/s", t->kernel, t->config,
             t->tflops, t->gbps);
    svg_point(&pl, 1e3 * t->tflops / t->gbps, t->tflops, kernel_color(p, t->kernel), 3, tip);
  }
  if (!placed)
    svg_label(&pl, sqrt(pl.x.min * pl.x.max), sqrt(pl.y.min * pl.y.max), "middle", 0, "#a33",
              "no ok trial recorded both TFLOP/s and GB/s");
  for (size_t k = 0; k < p->nkernels; k++)
    svg_legend(&pl, svg_color((int)k), p->kernels[k]);
  svg_plot_end(&pl);
}

static void param_charts(FILE *f, const struct report *rep, const struct rproblem *p,
                         size_t pi, const struct rtrial *best, const struct effect *eff,
                         size_t neff)
{
  fputs("<div class=\"grid\">\n", f);
  for (size_t e = 0; e < neff; e++) {
    const struct effect *ef = &eff[e];
    struct svg_plot pl = {.width = PARAM_W, .height = PARAM_H};
    char id[96], title[160], xl[128];
    const char *cats[REPORT_MAX_CATS];
    for (size_t j = 0; j < ef->nvals; j++)
      cats[j] = ef->vals[j];
    snprintf(id, sizeof id, "param-%zu-%.63s", pi, ef->key);
    snprintf(title, sizeof title, "%.63s: %.2fx from slowest to fastest", ef->key,
             ef->ratio);
    snprintf(xl, sizeof xl, "%.63s (shaded, black dot: the best config's)", ef->key);
    pl.id = id;
    pl.title = title;
    svg_axis_init(&pl.x, xl, SVG_CATEGORY);
    pl.x.cats = cats;
    pl.x.ncats = ef->nvals;
    svg_axis_init(&pl.y, "median time (us, log)", SVG_LOG);
    for (size_t i = 0; i < p->n; i++) {
      const struct rtrial *t = &rep->trials[p->idx[i]];
      if (ok(t) && strcmp(t->kernel, best->kernel) == 0)
        svg_axis_include(&pl.y, t->us);
    }
    svg_plot_begin(&pl, f);
    char wv[32] = "";
    config_value(best->config, ef->key, wv, sizeof wv);
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
      const struct rtrial *t = &rep->trials[p->idx[i]];
      char v[32];
      if (!ok(t) || strcmp(t->kernel, best->kernel) != 0 ||
          !config_value(t->config, ef->key, v, sizeof v))
        continue;
      for (size_t j = 0; j < ef->nvals; j++)
        if (strcmp(ef->vals[j], v) == 0) {
          char tip[512];
          snprintf(tip, sizeof tip, "%s: %.4g us", t->config, t->us);
          svg_point(&pl, (double)j + jitter(n++), t->us, t == best ? 7 : 0, t == best ? 5 : 3,
                    tip);
        }
    }
    for (size_t j = 0; j < ef->nvals; j++) {
      svg_segment(&pl, j - 0.38, ef->med[j], j + 0.38, ef->med[j], "#333", false, "median");
      if (strcmp(ef->vals[j], wv) == 0)
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                   "fill=\"#009e73\" fill-opacity=\"0.08\"/>\n",
                svg_px(&pl, j - 0.5), pl.top, svg_px(&pl, j + 0.5) - svg_px(&pl, j - 0.5),
                pl.bottom - pl.top);
    }
    svg_plot_end(&pl);
  }
  fputs("</div>\n", f);
}

static void td_num(FILE *f, const char *fmt, double v)
{
  fputs("<td class=\"n\">", f);
  if (isfinite(v))
    html_escapef(f, fmt, v);
  else
    fputs("-", f);
  fputs("</td>", f);
}

static void template_table(FILE *f, const struct report *rep, const struct rproblem *p,
                           const struct rtrial *win, const struct rtrial *base,
                           const char *baseline)
{
  fputs("<table><tr><th>template</th><th>measured</th><th>ok</th>", f);
  for (int s = DB_TRIAL_COMPILE_ERROR; s < DB_TRIAL_STATUS_COUNT; s++) {
    char name[32]; /* "compile error": a header that may wrap */
    snprintf(name, sizeof name, "%s", db_trial_status_name(s));
    for (char *c = name; *c; c++)
      *c = *c == '_' ? ' ' : *c;
    fprintf(f, "<th>%s</th>", name);
  }
  fputs("<th>best</th><th>TFLOP/s</th><th>vs default</th><th>vs baseline</th>"
        "<th>regs</th><th>shared B</th><th>occupancy</th></tr>\n", f);
  for (size_t k = 0; k < p->nkernels; k++) {
    size_t by[DB_TRIAL_STATUS_COUNT] = {0}, nmeas = 0;
    for (size_t i = 0; i < p->n; i++) {
      const struct rtrial *t = &rep->trials[p->idx[i]];
      if (strcmp(t->kernel, p->kernels[k]) == 0) {
        by[t->status]++;
        nmeas += measured(t);
      }
    }
    const struct rtrial *b = best_of(rep, p, p->kernels[k], NULL);
    const struct rtrial *d = b ? default_of(rep, p, b->kernel, b->run) : NULL;
    fprintf(f, "<tr%s><td style=\"white-space:nowrap\"><span style=\"color:%s\">&#9632;</span> ",
            b && b == win ? " style=\"font-weight:600\"" : "", svg_color((int)k));
    html_escape(f, p->kernels[k]);
    fprintf(f, "</td><td class=\"n\">%zu</td><td class=\"n\">%zu</td>", nmeas,
            by[DB_TRIAL_OK]);
    for (int s = DB_TRIAL_COMPILE_ERROR; s < DB_TRIAL_STATUS_COUNT; s++)
      fprintf(f, "<td class=\"n%s\">%zu</td>", by[s] && s != DB_TRIAL_PRUNED ? " bad" : "",
              by[s]);
    td_num(f, "%.4g us", b ? b->us : NAN);
    td_num(f, "%.4g", b ? b->tflops : NAN);
    bool is_base = strcmp(p->kernels[k], baseline) == 0;
    td_num(f, "%.2fx", b && d && ok(d) && !is_base ? d->us / b->us : NAN);
    td_num(f, "%.2fx", b && base && !is_base ? base->us / b->us : NAN);
    td_num(f, "%.0f", b && b->registers >= 0 ? (double)b->registers : NAN);
    td_num(f, "%.0f", b && b->shared >= 0 ? (double)b->shared : NAN);
    td_num(f, "%.2f", b ? b->occupancy : NAN);
    fputs("</tr>\n", f);
    if (b) {
      fprintf(f, "<tr><td></td><td colspan=\"%d\" class=\"note\">best <code>",
              DB_TRIAL_STATUS_COUNT + 8);
      html_escape(f, b->config);
      fputs("</code></td></tr>\n", f);
    }
  }
  fputs("</table>\n", f);
}

/* The winner's headline and why. */
static void winner_box(FILE *f, const struct report *rep, const struct rproblem *p,
                       const struct rtrial *win, const struct rtrial *base,
                       const struct rtrial *tuned, const char *baseline,
                       const struct effect *eff, size_t neff)
{
  fputs("<div class=\"win\">", f);
  if (!win) {
    fputs("<b class=\"t\">No winner</b>: no variant of this problem measured ok.</div>\n", f);
    return;
  }
  char ts[32];
  fmt_us(ts, sizeof ts, win->us);
  fputs("<b class=\"t\">Winner: ", f);
  html_escape(f, win->kernel);
  fprintf(f, ", %s</b>", ts);
  const struct dev_profile *d = gpu_profile(win->device);
  double peak = d ? peak_for(d, win->dtype) : 0;
  if (isfinite(win->tflops) && win->tflops > 0) {
    html_escapef(f, " (%.4g TFLOP/s", win->tflops);
    if (peak > 0)
      html_escapef(f, ", %.1f%% of %s's %.0f TFLOP/s %s peak", 100 * win->tflops / peak,
                   d->name, peak, win->dtype);
    fputs(")", f);
  }
  fputs("<br><code>", f);
  html_escape(f, win->config);
  fputs("</code><ul class=\"why\">", f);
  size_t at = 0, of = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct rtrial *t = &rep->trials[p->idx[i]];
    if (t->run == win->run && measured(t) && strcmp(t->kernel, baseline) != 0) {
      of++;
      if (t == win)
        at = of;
    }
  }
  fputs("<li>", f);
  const struct rrun *wr = &rep->runs[win->run];
  html_escapef(f, "found by run %.8s (%s) at its evaluation %zu of %zu", wr->uuid,
               wr->strategy ? wr->strategy : "?", at, of);
  fputs("</li>", f);
  const struct rtrial *def = default_of(rep, p, win->kernel, win->run);
  if (def && def == win)
    fputs("<li>the winner is its template's default config</li>", f);
  else if (def && ok(def)) {
    char ds[32];
    fmt_us(ds, sizeof ds, def->us);
    fputs("<li>", f);
    html_escapef(f, "%.2fx faster than the template's default config (%s, ", def->us / win->us,
                 ds);
    fputs("<code>", f);
    html_escape(f, def->config);
    fputs("</code>)</li>", f);
  } else if (def) {
    html_escapef(f, "<li>the template's default config did not measure ok (%s)</li>",
                 db_trial_status_name(def->status));
  }
  if (base && base != win) {
    char bs[32];
    fmt_us(bs, sizeof bs, base->us);
    fputs("<li>", f);
    html_escapef(f, "%.2fx faster than the baseline %s (%s)", base->us / win->us, base->kernel,
                 bs);
    fputs("</li>", f);
  }
  if (tuned && tuned != win) {
    char ts2[32];
    fmt_us(ts2, sizeof ts2, tuned->us);
    fputs("<li class=\"bad\">", f);
    html_escapef(f, "the baseline beat every tuned variant: the best tuned is %s at %s "
                    "(%.2fx slower)", tuned->kernel, ts2, tuned->us / win->us);
    fputs("</li>", f);
  }
  for (size_t e = 0; tuned && e < neff && e < REPORT_WHY_PARAMS; e++) {
    const struct effect *ef = &eff[e];
    if (ef->ratio < 1.05)
      break;
    char v[32] = "", fs[32], ss[32];
    config_value(tuned->config, ef->key, v, sizeof v);
    fmt_us(fs, sizeof fs, ef->med[ef->fast]);
    fmt_us(ss, sizeof ss, ef->med[ef->slow]);
    fputs("<li>", f);
    html_escapef(f, "%s moved the time %.2fx: median %s at %s=%s, %s at %s=%s; the %s "
                    "has %s=%s", ef->key, ef->ratio, fs, ef->key, ef->vals[ef->fast], ss,
                 ef->key, ef->vals[ef->slow], tuned == win ? "winner" : "best tuned",
                 ef->key, v);
    fputs("</li>", f);
  }
  if (win->registers >= 0 || win->occupancy >= 0) {
    fputs("<li>", f);
    html_escapef(f, "resources: %" PRId64 " registers, %" PRId64 " bytes of shared memory, "
                    "occupancy %.2f", win->registers, win->shared, win->occupancy);
    fputs("</li>", f);
  }
  fputs("</ul></div>\n", f);
}

static void problem_section(FILE *f, const struct report *rep, const struct rproblem *p,
                            size_t pi)
{
  char basename[128];
  baseline_of(p->first->op, basename, sizeof basename);
  const struct rtrial *win = best_of(rep, p, NULL, NULL);
  const struct rtrial *base = basename[0] ? best_of(rep, p, basename, NULL) : NULL;
  const struct rtrial *tuned = best_of(rep, p, NULL, basename);
  struct effect eff[REPORT_MAX_KEYS];
  size_t neff = 0;
  if (tuned) {
    char keys[REPORT_MAX_KEYS][64];
    size_t nk = config_keys(tuned->config, keys, REPORT_MAX_KEYS);
    for (size_t k = 0; k < nk; k++) {
      effect_of(rep, p, tuned->kernel, keys[k], &eff[neff]);
      if (eff[neff].nvals > 1)
        neff++;
    }
    qsort(eff, neff, sizeof eff[0], cmp_effect);
  }
  fprintf(f, "<h2 id=\"p%zu\">", pi);
  html_escape(f, p->key);
  fputs("</h2>\n", f);
  winner_box(f, rep, p, win, base, tuned, basename, eff, neff);
  fputs("<div class=\"grid\">\n", f);
  curve_charts(f, rep, p, pi, basename);
  templates_chart(f, rep, p, pi);
  roofline_chart(f, rep, p, pi);
  fputs("</div>\n", f);
  if (strncmp(p->first->device, "host", 4) == 0)
    fputs("<p class=\"note\">Host timings are CPU timings of the SIMT emulation of each "
          "variant's own source: they rank variants for the emulator, not for a GPU.</p>\n",
          f);
  fputs("<h3>Templates</h3>\n", f);
  template_table(f, rep, p, win, base, basename);
  if (neff) {
    fputs("<h3>Each parameter's effect on ", f);
    html_escape(f, tuned->kernel);
    fputs(" (every ok trial; a bar marks each value's median)</h3>\n", f);
    param_charts(f, rep, p, pi, tuned, eff, neff);
  }
}

static void provenance(FILE *f, const struct report *rep)
{
  fputs("<h2 id=\"provenance\">Provenance</h2>\n<table><tr><th>run</th><th>strategy</th>"
        "<th>started</th><th>ended</th><th>host</th><th>CPU</th><th>OS</th>"
        "<th>GPU</th><th>driver / runtime</th><th>toolchain</th><th>autotune</th></tr>\n", f);
  for (size_t r = 0; r < rep->nruns; r++) {
    const struct rrun *u = &rep->runs[r];
    if (!u->selected)
      continue;
    const char *cells[] = {u->uuid, u->strategy, u->started_at,
                           u->ended_at ? u->ended_at : "unfinished", u->host, u->cpu, u->os,
                           u->gpu_name};
    fputs("<tr>", f);
    for (size_t c = 0; c < sizeof cells / sizeof cells[0]; c++) {
      fputs(c == 0 ? "<td><code>" : "<td>", f);
      if (c == 0)
        fprintf(f, "<span style=\"color:%s\">&#9632;</span> ", svg_color(u->color));
      html_escape(f, cells[c] ? cells[c] : "-");
      fputs(c == 0 ? "</code></td>" : "</td>", f);
    }
    fputs("<td>", f);
    html_escapef(f, "%s%s%s", u->driver ? u->driver : "-", u->runtime ? " / " : "",
                 u->runtime ? u->runtime : "");
    fputs("</td><td>", f);
    html_escape(f, u->toolchain ? u->toolchain : "-");
    fputs("</td><td>", f);
    html_escape(f, u->version ? u->version : "-");
    fputs("</td></tr>\n<tr><td></td><td colspan=\"10\"><code>", f);
    html_escape(f, u->args ? u->args : "");
    fputs("</code></td></tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void summary(FILE *f, const struct report *rep)
{
  fputs("<table><tr><th>problem</th><th>winner</th><th>time</th><th>TFLOP/s</th>"
        "<th>vs default</th><th>vs baseline</th><th>config</th></tr>\n", f);
  for (size_t pi = 0; pi < rep->nprobs; pi++) {
    const struct rproblem *p = &rep->probs[pi];
    char basename[128];
    baseline_of(p->first->op, basename, sizeof basename);
    const struct rtrial *w = best_of(rep, p, NULL, NULL);
    const struct rtrial *b = basename[0] ? best_of(rep, p, basename, NULL) : NULL;
    const struct rtrial *d = w ? default_of(rep, p, w->kernel, w->run) : NULL;
    fprintf(f, "<tr><td><a href=\"#p%zu\">", pi);
    html_escape(f, p->key);
    fputs("</a></td><td>", f);
    html_escape(f, w ? w->kernel : "none measured ok");
    fputs("</td>", f);
    td_num(f, "%.4g us", w ? w->us : NAN);
    td_num(f, "%.4g", w ? w->tflops : NAN);
    td_num(f, "%.2fx", w && d && ok(d) ? d->us / w->us : NAN);
    td_num(f, "%.2fx", w && b && b != w ? b->us / w->us : NAN);
    fputs("<td><code>", f);
    html_escape(f, w ? w->config : "");
    fputs("</code></td></tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void write_page(FILE *f, const struct report *rep)
{
  size_t nsel = 0, ntr = 0;
  for (size_t r = 0; r < rep->nruns; r++)
    nsel += rep->runs[r].selected;
  for (size_t pi = 0; pi < rep->nprobs; pi++)
    ntr += rep->probs[pi].n;
  char title[256];
  snprintf(title, sizeof title, "autotune report: %s%s", rep->nprobs ? rep->probs[0].key : "",
           rep->nprobs > 1 ? " and more" : "");
  html_begin(f, title);
  fputs("<h1>", f);
  html_escape(f, title);
  fputs("</h1>\n<p class=\"sub\">", f);
  char now[32];
  db_now(now);
  html_escapef(f, "%zu run%s, %zu trial%s, %zu problem%s from %s; written %s by autotune %s",
               nsel, nsel == 1 ? "" : "s", ntr, ntr == 1 ? "" : "s", rep->nprobs,
               rep->nprobs == 1 ? "" : "s", rep->dbpath, now, at_version());
  fputs(" &middot; <a href=\"#provenance\">provenance</a></p>\n", f);
  summary(f, rep);
  for (size_t pi = 0; pi < rep->nprobs; pi++)
    problem_section(f, rep, &rep->probs[pi], pi);
  provenance(f, rep);
  html_end(f);
}

/* Mark the runs --run names (uuid or unique prefix). CLI_OK or CLI_USAGE. */
static int select_runs(struct report *rep, char **ids, size_t nids)
{
  for (size_t i = 0; i < nids; i++) {
    size_t len = strlen(ids[i]), found = SIZE_MAX, hits = 0;
    if (len < REPORT_MIN_PREFIX || len > DB_UUID_LEN) {
      cli_error("bad --run '%.40s' (expected a run's uuid or its first %d+ hex characters)",
                ids[i], REPORT_MIN_PREFIX);
      return CLI_USAGE;
    }
    for (size_t r = 0; r < rep->nruns; r++)
      if (strncmp(rep->runs[r].uuid, ids[i], len) == 0) {
        found = r;
        hits++;
      }
    if (hits != 1) {
      cli_error("%s run '%.40s' in '%.200s'%s", hits ? "more than one" : "no", ids[i],
                rep->dbpath, hits ? " (give more of its uuid)" : "; try 'autotune db export'");
      return CLI_USAGE;
    }
    rep->runs[found].selected = true;
  }
  return CLI_OK;
}

int cmd_report(int argc, char **argv)
{
  const char *dbpath = NULL, *out = NULL, *run_in_help = NULL;
  struct report rep = {0};
  const struct cli_opt opts[] = {
      /* taken out of argv first (cli_take_repeated): here for --help */
      {"run", CLI_STR, &run_in_help, "UUID", "a run by uuid or unique prefix (repeatable)"},
      {"device", CLI_STR, &rep.device, "D", "every run that measured on D (as recorded)"},
      {"op", CLI_STR, &rep.op, "OP", "only this op's problems (gemm, attention, a kernel)"},
      {"db", CLI_STR, &dbpath, "FILE", "tuning database (default: $AUTOTUNE_DB or XDG data)"},
      {"out", CLI_STR, &out, "FILE.html", "the report to write (replaced atomically)"},
      {NULL, 0, NULL, NULL, NULL},
  };
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  char **args = calloc((size_t)argc + 1, sizeof *args);
  char *ids[REPORT_MAX_RUNS];
  size_t nids = 0;
  int nargs = argc, npos = 0, code = CLI_USAGE, rc;
  struct db *db = NULL;
  struct os_out o = {0};
  if (!pos || !args) {
    code = CLI_FAILED;
    goto done;
  }
  memcpy(args, argv, sizeof *args * (size_t)argc);
  rc = cli_take_repeated(&nargs, args, "run", ids, REPORT_MAX_RUNS, &nids);
  if (rc == CLI_OK)
    rc = cli_parse(nargs, args, opts, usage, description, pos, &npos);
  if (rc != CLI_OK) {
    code = rc < 0 ? CLI_OK : rc;
    goto done;
  }
  if (npos) {
    cli_error("report takes no positional argument ('%.60s'); try 'autotune report --help'",
              pos[0]);
    goto done;
  }
  if (!out) {
    cli_error("report needs --out FILE.html; try 'autotune report --help'");
    goto done;
  }
  if (nids && (rep.device || rep.op)) {
    cli_error("give --run, or --device (and --op), not both");
    goto done;
  }
  if (rep.op && !rep.device) {
    cli_error("--op narrows --device; give --device D too");
    goto done;
  }
  if (!dbpath && !(dbpath = cli_default_db(false)))
    goto done;
  rep.dbpath = dbpath;
  if ((rc = db_open(dbpath, DB_READONLY, &db)) != AT_OK ||
      (rc = db_each_run(db, take_run, &rep)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (select_runs(&rep, ids, nids) != CLI_OK)
    goto done;
  if ((rc = db_each_trial(db, take_trial, &rep)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (rep.device) {
    for (size_t i = 0; i < rep.ntrials; i++)
      rep.runs[rep.trials[i].run].selected = true;
    if (rep.ntrials == 0) {
      cli_error("no trials of device '%.60s'%s%.60s in '%.200s' (expected a device as "
                "recorded: host, host:mi300x, h100)", rep.device, rep.op ? " and op " : "",
                rep.op ? rep.op : "", dbpath);
      goto done;
    }
  } else if (!nids) {
    for (size_t r = rep.nruns; r-- > 0;)
      if (rep.runs[r].has_trials) {
        rep.runs[r].selected = true;
        break;
      }
  }
  int color = 0;
  for (size_t r = 0; r < rep.nruns; r++)
    if (rep.runs[r].selected)
      rep.runs[r].color = color++;
  if ((rc = group(&rep)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (rep.nprobs == 0) {
    cli_error("nothing to report: %s in '%.200s' has no trials", nids ? "the run" :
              "the database", dbpath);
    goto done;
  }
  if ((rc = os_out_open(&o, out)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  write_page(o.f, &rep);
  if ((rc = os_out_commit(&o)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (cli_verbosity() >= 0)
    fprintf(stderr, "autotune: wrote %s (%zu problem%s)\n", out, rep.nprobs,
            rep.nprobs == 1 ? "" : "s");
  code = CLI_OK;
done:
  os_out_abort(&o);
  db_close(db);
  report_release(&rep);
  free(pos);
  free(args);
  return code;
}
