/*
 * tune.c - the one tuning engine (tune.h), for every op: templates and problems in,
 * every outcome a trial in the tuning database, a struct tuner for the report out. Which
 * templates, and loading them, is tune_templates.c; the run and its trials in the
 * database (canonical arguments, resume, recording) tune_record.c.
 *
 * Design note.
 *
 * Order of work, per problem: load the templates (one that fails to load or has no
 * valid variant on the device is reported in one line and skipped); bind the op's
 * problem; span every template's space on the device (the emulated one with --emulate)
 * and choose what to compile; compile it in chunks (bld_run: cached, batched, parallel),
 * committing each chunk's compile_error and pruned variants; make the op's inputs and
 * fork one measurement worker per GPU of --gpus (tuner/measure/worker.c; deal.c), each
 * holding the problem's data and every code object; measure the op's baseline template
 * in full (gemm: gemm_naive), then per template its default config and then the variants
 * the strategy picks (search.h), each committed to the database the moment it is
 * measured. With several workers, the baseline and an order-known strategy's picks are
 * dealt to them in parallel (deal_known); with --shard, only this shard's (shard.c).
 *
 * Compile on demand. Where the strategy's picks are known before measuring (its
 * properties in search.h: exhaustive, random, model) and a budget leaves some of the
 * space out, only those picks and the default config are compiled, on every device.
 * Where they are not (anneal, genetic), with a budget on a device measured here, the
 * template is lazy: the default's neighbourhood is compiled first, and each config the
 * search asks for is compiled with its nearest uncompiled neighbours when it asks
 * (compile_near), the worker restarted with the new jobs. A device that is absent is
 * said to be before anything is compiled.
 *
 * The default config of a template is the op's reference config when it has one (a
 * user's template: --reference), else the valid config in the middle of the enumeration
 * order (index n / 2 of the valid configs; the nearest that compiled when that one did
 * not): a fixed, documented choice that needs no annotation in the template and is
 * neither the smallest nor the largest tile. Speed-ups are time(default) / time(best)
 * and time(baseline) / time(best).
 *
 * Budget: --budget N measures at most N variants per template through the strategy
 * (the default config and the baseline are measured besides); on the host device the
 * default is TUNE_HOST_DEFAULT_BUDGET with the model strategy (the emulator is slow),
 * on a GPU every valid variant. --time-budget bounds the wall time of all measurement.
 *
 * Resume. runs.args holds the canonical argument string (tune_canonical_args). With
 * --resume the latest run with the same string and no ended_at is continued under its
 * own uuid; every trial it already holds for (kernel, problem, config) answers for that
 * variant instead of a new measurement (and is not recorded again), so the strategies,
 * being deterministic for a seed, walk the same path and nothing is measured twice. A
 * run is ended (ended_at set) only when every problem and template was done. A run has
 * one owner, the process executing it (run_prov.c): --resume claims the run first and
 * refuses one whose owner is alive, so no two processes ever measure into one run.
 *
 * Invariants.
 *   1. Every variant that was compiled gets exactly one trial per run: compile_error and
 *      pruned at build time, the rest when (and only if) measured.
 *   2. A trial is committed before the next variant is measured (autocommit, WAL): a
 *      SIGKILL loses at most the variant being measured.
 *   3. The parent process never opens a GPU runtime (tuner/measure/worker.c, invariant 4).
 *   4. Predictions of the model are never recorded as trials.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "generator/space.h"
#include "generator/template.h"
#include "base/device.h"
#include "base/interrupt.h"
#include "base/os.h"
#include "base/status.h"
#include "tuner/compile/build.h"
#include "tuner/device/detect.h"
#include "tuner/engine/bundle.h"
#include "tuner/engine/tune.h"
#include "tuner/engine/tune_internal.h"
#include "db/netfs.h"

/* The timing budget per variant (docs/measure.md, step 5): the emulator is slower and
 * noisier than a GPU's events. */
#define VARIANT_TIME_HOST_S 0.3
#define VARIANT_TIME_GPU_S 0.2
/* The cache flush: 2 x the last-level cache; this LLC when the device says none, and
 * at most this much memset on the host (its L3 figure may be a whole socket's). */
#define FLUSH_UNKNOWN_LLC ((int64_t)32 << 20)
#define FLUSH_HOST_MAX ((int64_t)256 << 20)
/* Compile in chunks of this many batches per compile thread, committing each chunk's
 * verdicts as trials: an interrupted compile keeps what it finished (and the disk cache
 * keeps the code objects), while each chunk still keeps every thread busy. */
#define COMPILE_CHUNK_BATCHES 8
/* Compile on demand: variants compiled at once per compile thread, one TU each. */
#define LAZY_PER_THREAD 2

/* ---- what the engine has to say ---- */

void tune_warn(const struct tuner *tu, const char *fmt, ...)
{
  const struct tune_report *r = tu->o->report;
  if (!r || !r->warn)
    return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (r->progress_clear)
    r->progress_clear(tu->o->report_ctx, tu);
  r->warn(tu->o->report_ctx, msg);
}

static void progress(struct tuner *tu)
{
  const struct tune_report *r = tu->o->report;
  if (r && r->progress)
    r->progress(tu->o->report_ctx, tu);
}

static void progress_clear(struct tuner *tu)
{
  const struct tune_report *r = tu->o->report;
  if (r && r->progress_clear)
    r->progress_clear(tu->o->report_ctx, tu);
}

/* ---- progress ---- */

static void build_progress(void *ctx, const struct bld_progress *bp)
{
  struct tuner *tu = ctx;
  size_t save = tu->compiled;
  tu->compiled = save + bp->variants_done;
  progress(tu);
  tu->compiled = save;
}

/* ---- the model ---- */

/* The op's predicted time of a config; INFINITY where the op has none. */
static double model_time(const struct tuner *tu, const struct tpl *p, const int64_t *cfg,
                         const struct gen_launch *launch, const struct occ_result *occ)
{
  if (!tu->op->model)
    return INFINITY;
  return tu->op->model(tu->op, tu->cur, p->t, cfg, launch, occ, tu->space_dev,
                       tu->dev->vendor == DEV_HOST);
}

/* ---- one template on one problem ---- */

static void tpl_release_problem(struct tpl *p)
{
  gen_space_free(p->space);
  p->space = NULL;
  free(p->configs);
  p->configs = NULL;
  bld_result_release(&p->br);
  free(p->ok);
  free(p->res);
  free(p->have);
  free(p->model);
  free(p->job_of);
  free(p->vof);
  free(p->cfg_of);
  free(p->coords);
  free(p->pool);
  free(p->order);
  p->pool = NULL;
  p->order = NULL;
  p->norder = p->next = p->quota = 0;
  p->ok = NULL;
  p->res = NULL;
  p->have = NULL;
  p->model = NULL;
  p->job_of = p->vof = p->cfg_of = NULL;
  p->coords = NULL;
  p->lazy = false;
  p->nok = p->nconfigs = p->nvalid = 0;
  p->measured = p->failed = 0;
  memset(p->by_status, 0, sizeof p->by_status);
  p->def = p->best = p->foreign = SIZE_MAX;
  memset(&p->sr, 0, sizeof p->sr);
}

struct order_ctx {
  size_t *picked;
  size_t n;
};

static int order_cb(void *ctx, size_t point, double *cost)
{
  struct order_ctx *o = ctx;
  o->picked[o->n++] = point;
  *cost = 1.0;
  return AT_OK;
}

/*
 * Compile only what will be measured, where that is known before measuring: on the host
 * device (the emulator's model needs no compiled resources), with a budget and a
 * strategy whose order does not depend on the costs it sees (exhaustive, random, model),
 * the configs are the strategy's first `budget` picks over the whole valid set, plus the
 * default (middle) config; search_run with a recording evaluator gives exactly that
 * order. The whole order and the valid configs are kept (p->pool, p->order): a pick that
 * does not compile is replaced by the next ones (refill). Annealing and the genetic
 * search depend on what they measure, so they compile every valid config (cached on disk
 * for the next run). The valid configs' count stays in nvalid.
 */
static int preselect(struct tuner *tu, struct tpl *p)
{
  enum search_strategy st = tu->o->strategy;
  if (tu->budget <= 0 || p->baseline ||
      (size_t)tu->budget + 1 >= p->nconfigs ||
      !search_strategy_info(st)->order_known)
    return AT_OK;
  /* the search's points: every valid config but the default, measured besides */
  size_t n = p->nconfigs, nd = 0, *others = malloc(n * sizeof *others), nothers = 0;
  int32_t *coords = NULL;
  double *model = malloc(n * sizeof *model);
  size_t *picked = malloc((n + 1) * sizeof *picked);
  int64_t *keep = NULL;
  bool *sel = NULL;
  int rc = AT_OK;
  if (!others || !model || !picked) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    if (i != p->mid)
      others[nothers++] = i;
  if ((rc = tmpl_search_coords(p->t, p->configs, others, nothers, &coords, &nd)) != AT_OK)
    goto out;
  struct gen_bind bind = {.dev = tu->space_dev, .dims = p->dims, .dtype = tu->dtype};
  for (size_t i = 0; i < nothers; i++) {
    const int64_t *cfg = p->configs + others[i] * p->np;
    struct gen_launch l;
    model[i] = gen_emit_launch(p->t, &bind, cfg, &l) == AT_OK
                   ? model_time(tu, p, cfg, &l, NULL) : INFINITY;
  }
  /* the whole order (no budget): its first `budget` now, the rest for refills */
  struct search_space sp = {.npoints = nothers, .ndims = nd, .coords = coords, .model = model};
  struct search_opts so = {.strategy = st, .seed = tu->o->seed};
  struct order_ctx oc = {.picked = picked};
  struct search_result sr;
  if ((rc = search_run(&sp, &so, order_cb, &oc, &sr)) != AT_OK)
    goto out;
  for (size_t i = 0; i < oc.n; i++)
    picked[i] = others[picked[i]];
  size_t take = oc.n < (size_t)tu->budget ? oc.n : (size_t)tu->budget;
  /* keep the enumeration order, so the default is still found (see compile_tpl) */
  sel = calloc(n, sizeof *sel);
  if (!sel || !(keep = malloc((take + 1) * p->np * sizeof *keep))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < take; i++)
    sel[picked[i]] = true;
  sel[p->mid] = true;
  size_t k = 0, mid = 0;
  for (size_t i = 0; i < n; i++)
    if (sel[i]) {
      if (i == p->mid)
        mid = k;
      memcpy(keep + k++ * p->np, p->configs + i * p->np, p->np * sizeof *keep);
    }
  p->pool = p->configs;
  p->order = picked;
  p->norder = oc.n;
  p->next = take;
  picked = NULL;
  p->configs = keep;
  p->nconfigs = k;
  p->mid = mid;
  keep = NULL;
out:
  free(others);
  free(coords);
  free(model);
  free(picked);
  free(keep);
  free(sel);
  return rc;
}

/* The op's reference config (canonical text) among p's valid configs: p->mid. AT_USAGE
 * when it is not one of them. */
static int find_reference(const struct tuner *tu, struct tpl *p)
{
  for (size_t i = 0; i < p->nconfigs; i++) {
    char *text = NULL;
    int rc = gen_space_config_text(p->space, p->configs + i * p->np, &text);
    if (rc != AT_OK)
      return rc;
    bool same = strcmp(text, tu->op->reference_config) == 0;
    free(text);
    if (same) {
      p->mid = i;
      return AT_OK;
    }
  }
  return at_error(AT_USAGE, "--reference '%.100s' is not a valid config of %s here (give every "
                  "param and derived value, as `autotune generate --out` names them)",
                  tu->op->reference_config, p->t->kernel);
}

/* Drop p's configs whose launch shape fails for this problem (a grid that divides by
 * zero, a thread extent below 1): each is rejected alone, as a config whose constraint
 * fails to evaluate (docs/templates.md), and the run goes on with the others. One
 * warning per template says how many and why the first went. */
static void drop_bad_launches(struct tuner *tu, struct tpl *p)
{
  struct gen_bind bind = {.dev = tu->space_dev, .dims = p->dims, .dtype = tu->dtype};
  size_t kept = 0, dropped = 0;
  char first[600] = "";
  for (size_t i = 0; i < p->nconfigs; i++) {
    const int64_t *cfg = p->configs + i * p->np;
    struct gen_launch l;
    if (gen_emit_launch(p->t, &bind, cfg, &l) == AT_OK) {
      if (kept != i)
        memmove(p->configs + kept * p->np, cfg, p->np * sizeof *cfg);
      kept++;
    } else if (dropped++ == 0) {
      char why[400], *text = NULL;
      snprintf(why, sizeof why, "%s", at_last_error());
      gen_space_config_text(p->space, cfg, &text);
      snprintf(first, sizeof first, "%s: %s", text ? text : "?", why);
      free(text);
    }
  }
  if (dropped == 0)
    return;
  p->nconfigs = kept;
  at_error_clear();
  tune_warn(tu, "template %s: %zu config%s rejected: %s launch shape fails (%s%s)", p->t->kernel,
       dropped, dropped == 1 ? "" : "s", dropped == 1 ? "its" : "their", first,
       dropped == 1 ? "" : ", the first");
}

/* Span one template's space for the problem and choose what to compile. A template that
 * cannot be built here is reported and skipped (p->skip); only bad input (the op's
 * reference config is not valid), database and memory failures are returned. */
static int span_tpl(struct tuner *tu, struct tpl *p)
{
  int rc;
  char name[PATH_MAX];
  tune_base_name(p->path, name, sizeof name);
  p->foreign = SIZE_MAX;
  bool by_config = p->baseline || search_strategy_info(tu->o->strategy)->order_known;
  if (!by_config && !tune_owns(tu, p->t->kernel, NULL)) {
    /* another shard searches this template on this problem: said once, at the start */
    snprintf(p->skip, sizeof p->skip, "shard %d/%d: another shard's", tu->o->shard,
             tu->o->nshards);
    return AT_OK;
  }
  tu->op->tmpl_dims(tu->op, tu->cur, p->t, p->dims);
  if ((rc = tmpl_space(p->t, tu->space_dev, p->dims, &p->space)) != AT_OK ||
      (rc = gen_space_collect(p->space, &p->configs, &p->nconfigs, NULL)) != AT_OK) {
    if (rc == AT_NOMEM)
      return rc;
    snprintf(p->skip, sizeof p->skip, "%s", at_last_error());
    goto skipped;
  }
  p->np = gen_space_param_count(p->space);
  drop_bad_launches(tu, p);
  const bool had_some = p->nconfigs > 0; /* none left then: --where took them all */
  if (!p->baseline) /* the baseline stays whole: the speed-ups are over it */
    p->nconfigs = tune_where_filter(&tu->where, p->space, p->configs, p->nconfigs);
  p->mid = p->nconfigs / 2;
  if (p->nconfigs == 0) {
    snprintf(p->skip, sizeof p->skip, "no valid variant on %s for %s%s%s",
             tu->space_dev->name, tu->prob.text, had_some ? " with --where " : "",
             had_some ? tu->o->where : "");
    goto skipped;
  }
  if (tu->op->reference_config && !p->baseline &&
      (rc = find_reference(tu, p)) != AT_OK)
    return rc;
  p->nvalid = p->nconfigs;
  if ((rc = preselect(tu, p)) != AT_OK)
    return rc;
  if (by_config && tu->o->nshards > 1 && (rc = tune_shard_configs(tu, p)) != AT_OK)
    return rc;
  /* the refill's target: the budget, or this shard's share of it (its picks; the middle
   * config, kept in every shard, is the default and no pick) */
  p->quota = tu->o->nshards > 1 && p->order ? p->nconfigs - 1 : (size_t)tu->budget;
  /* a strategy that chooses as it measures, with a budget, on a device measured here:
   * compile what it asks for as it asks (compile_near) */
  p->lazy = tu->mb && tu->budget > 0 && !p->baseline &&
            (size_t)tu->budget + 1 < p->nconfigs &&
            !search_strategy_info(tu->o->strategy)->order_known;
  tu->compile_total += p->lazy ? (size_t)tu->budget + 1 : p->nconfigs;
  return AT_OK;
skipped:
  tune_warn(tu, "skipping template %s: %s", name, p->skip);
  return AT_OK;
}

static int record_verdicts(struct tuner *tu, struct tpl *p, size_t from, size_t to);
static int compile_first(struct tuner *tu, struct tpl *p);

/* Compile what span_tpl chose and record the static verdicts (compile_error, pruned) as
 * trials. A template that cannot be compiled here is reported and skipped. */
/* A template that cannot be compiled here (the compiler itself failed): one line, and
 * the run goes on without it. */
static int skip_compile(struct tuner *tu, struct tpl *p)
{
  char name[PATH_MAX];
  snprintf(p->skip, sizeof p->skip, "cannot compile: %s", at_last_error());
  tune_warn(tu, "skipping template %s: %s", tune_base_name(p->path, name, sizeof name), p->skip);
  return AT_OK;
}

/* The compile options of a run; incs: {p->common, NULL}, kept by the caller, and
 * cache[PATH_MAX]. */
static struct bld_options build_options(struct tuner *tu, const char *const *incs,
                                        char *cache)
{
  const struct bundle *b = tu->o->bundle;
  return (struct bld_options){.jobs = tu->o->jobs, .include_dirs = incs,
                              .cache_dir = tune_cache_root(tu->o, cache),
                              .seed_cache_dir = tu->seed_cache,
                              .backend = b ? b->backend : NULL,
                              .toolchain = b ? b->toolchain : NULL,
                              .flags = tu->o->sanitize ? cc_sanitize_flags : NULL,
                              .emulate = tu->o->emulate != NULL,
                              .progress = tu->o->report && tu->o->report->progress
                                              ? build_progress : NULL,
                              .progress_ctx = tu};
}

/* Add a chunk's compile result to p's (its counts and toolchain to the run's). */
static int take_part(struct tuner *tu, struct tpl *p, struct bld_result *part)
{
  tu->variants += part->stats.variants;
  tu->variants_ok += part->stats.ok;
  snprintf(tu->backend, sizeof tu->backend, "%s", part->backend ? part->backend : "");
  snprintf(tu->toolchain, sizeof tu->toolchain, "%s", part->toolchain ? part->toolchain : "");
  return bld_result_append(&p->br, part);
}

static size_t compile_threads(const struct tuner *tu)
{
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return (size_t)(tu->o->jobs > 0 ? tu->o->jobs : cpus > 0 ? cpus : 1);
}

/* Grow p's per-variant arrays from p->nconfigs to n (the new entries: not compiled, not
 * measured, no job). */
static int grow_tpl(struct tpl *p, size_t n)
{
  size_t o = p->nconfigs;
  int64_t *configs = realloc(p->configs, n * p->np * sizeof *configs);
  if (configs)
    p->configs = configs;
  size_t *ok = configs ? realloc(p->ok, n * sizeof *ok) : NULL;
  if (ok)
    p->ok = ok;
  struct meas_result *res = ok ? realloc(p->res, n * sizeof *res) : NULL;
  if (res)
    p->res = res;
  bool *have = res ? realloc(p->have, n * sizeof *have) : NULL;
  if (have)
    p->have = have;
  size_t *job_of = have ? realloc(p->job_of, n * sizeof *job_of) : NULL;
  if (job_of)
    p->job_of = job_of;
  double *model = job_of ? realloc(p->model, n * sizeof *model) : NULL;
  if (!model)
    return at_error(AT_NOMEM, "out of memory");
  p->model = model;
  memset(p->res + o, 0, (n - o) * sizeof *p->res);
  memset(p->have + o, 0, (n - o) * sizeof *p->have);
  for (size_t i = o; i < n; i++)
    p->job_of[i] = SIZE_MAX;
  return AT_OK;
}

/* The default config: the middle of the valid ones, else the compiled one nearest it in
 * p's list (a refill's configs come after the preselection's); none while none compiled. */
static void find_default(struct tpl *p)
{
  size_t n = p->nconfigs, mid = p->mid;
  for (size_t d = 0; d <= n && p->def == SIZE_MAX; d++) {
    if (mid + d < n && p->br.variants[mid + d].verdict == BLD_OK)
      p->def = mid + d;
    else if (d <= mid && p->br.variants[mid - d].verdict == BLD_OK)
      p->def = mid - d;
  }
}

/* Copy up to k of the strategy's next picks (from p->next on) after p's configs, those
 * this shard owns (all of them unsharded); *taken: how many, *used: how far p->next
 * goes past them. */
static int next_picks(struct tuner *tu, struct tpl *p, size_t k, size_t *taken, size_t *used)
{
  size_t n = p->nconfigs, got = 0, i = p->next;
  int rc = grow_tpl(p, n + k);
  for (; rc == AT_OK && got < k && i < p->norder; i++) {
    const int64_t *cfg = p->pool + p->order[i] * p->np;
    bool mine = true;
    if (tu->o->nshards > 1 && (rc = tune_owns_config(tu, p, cfg, &mine)) != AT_OK)
      break;
    if (!mine)
      continue;
    memcpy(p->configs + (n + got++) * p->np, cfg, p->np * sizeof *p->configs);
  }
  *taken = got, *used = i - p->next;
  return rc;
}

/*
 * A preselection whose picks did not all compile (compile_error, pruned): the budget is
 * what is measured, so the strategy's next picks in its order (p->order) take their
 * places, compiled in rounds of as many as are missing, until the budget's worth of
 * search points compiled or the order is spent. The same on every machine (the order is
 * the strategy's, the verdicts the compiler's), so a bundle made here holds what a run
 * from it asks for. With --shard each shard makes up its own share (p->quota) from the
 * next picks it owns: no shard can know which of another's failed, so the union is the
 * budget's worth drawn from the same order, not always the unsharded run's refills
 * (docs/cluster.md).
 */
static int refill(struct tuner *tu, struct tpl *p)
{
  if (!p->order)
    return AT_OK;
  const char *incs[] = {p->common, NULL};
  char cache[PATH_MAX];
  struct bld_options bo = build_options(tu, incs, cache);
  while (p->next < p->norder) {
    size_t points = p->nok - (p->def != SIZE_MAX), n = p->nconfigs;
    if (points >= p->quota)
      break;
    size_t k, used;
    int rc = next_picks(tu, p, p->quota - points, &k, &used);
    if (rc != AT_OK)
      return rc;
    if (k == 0) { /* the rest of the order is other shards' */
      p->next += used;
      break;
    }
    struct bld_result part;
    rc = bld_run(p->t, p->space, tu->space_dev, p->dims, tu->dtype, p->configs + n * p->np, k,
                 &bo, &part);
    if (rc == AT_OK)
      rc = take_part(tu, p, &part);
    else
      bld_result_release(&part);
    if (rc == AT_NOMEM || rc == AT_INTERRUPTED)
      return rc;
    if (rc != AT_OK) { /* e.g. a bundle made before refills: measure what compiled */
      tune_warn(tu, "template %s: %zu of the budget's picks did not compile, and the next "
                "ones cannot be compiled here (%s)", p->t->kernel, p->quota - points,
                at_last_error());
      at_error_clear();
      return AT_OK;
    }
    p->nconfigs = n + k;
    p->next += used;
    tu->compiled += k;
    tu->compile_total += k;
    if ((rc = record_verdicts(tu, p, n, n + k)) != AT_OK)
      return rc;
    find_default(p); /* where the default and every pick so far failed: the first that
                        compiled is the default, and the budget's picks still follow */
  }
  return AT_OK;
}

static int compile_tpl(struct tuner *tu, struct tpl *p)
{
  int rc;
  size_t n = p->nconfigs;
  p->ok = calloc(n, sizeof *p->ok);
  p->res = calloc(n, sizeof *p->res);
  p->have = calloc(n, sizeof *p->have);
  p->job_of = malloc(n * sizeof *p->job_of);
  p->model = calloc(n, sizeof *p->model);
  if (!p->ok || !p->res || !p->have || !p->job_of || !p->model)
    return at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    p->job_of[i] = SIZE_MAX;
  if (p->lazy)
    return compile_first(tu, p);
  const char *incs[] = {p->common, NULL};
  char cache[PATH_MAX];
  struct bld_options bo = build_options(tu, incs, cache);
  size_t chunk = COMPILE_CHUNK_BATCHES * BLD_DEFAULT_BATCH * compile_threads(tu);
  for (size_t at = 0; at < n; at += chunk) {
    size_t cn = n - at < chunk ? n - at : chunk;
    struct bld_result part;
    rc = bld_run(p->t, p->space, tu->space_dev, p->dims, tu->dtype, p->configs + at * p->np,
                 cn, &bo, &part);
    if (rc == AT_OK)
      rc = take_part(tu, p, &part);
    else
      bld_result_release(&part);
    if (rc != AT_OK)
      return rc == AT_NOMEM || rc == AT_INTERRUPTED ? rc : skip_compile(tu, p);
    tu->compiled += cn;
    if ((rc = record_verdicts(tu, p, at, at + cn)) != AT_OK)
      return rc;
  }
  find_default(p);
  return refill(tu, p);
}

/* Commit the build verdicts of p's variants [from, to) as trials (compile_error, pruned;
 * one transaction), and note the ok ones as search points. */
static int record_verdicts(struct tuner *tu, struct tpl *p, size_t from, size_t to)
{
  int rc;
  if ((rc = tune_put_run(tu, p->br.toolchain)) != AT_OK)
    return rc;
  if ((rc = db_begin(tu->db)) != AT_OK)
    return rc;
  for (size_t i = from; i < to && rc == AT_OK; i++) {
    const struct bld_variant *v = &p->br.variants[i];
    if (v->verdict == BLD_OK) {
      size_t c = p->cfg_of ? p->cfg_of[i] : i;
      p->model[p->nok] = model_time(tu, p, p->configs + c * p->np, &v->launch, &v->occ);
      p->ok[p->nok++] = i;
      continue;
    }
    struct meas_result m = {.status = v->verdict == BLD_PRUNED ? DB_TRIAL_PRUNED
                                                                     : DB_TRIAL_COMPILE_ERROR,
                                 .median_us = NAN};
    snprintf(m.message, sizeof m.message, "%s", v->reason);
    p->res[i] = m;
    p->have[i] = true;
    p->by_status[m.status]++;
    char key[2048];
    tune_known_key(key, sizeof key, p->t->kernel, tu->prob.text, v->config_text);
    if (tune_known_find(tu, key)) {
      tu->trials_resumed++;
      continue;
    }
    if ((p->cfg_of ? p->cfg_of[i] : i) == p->foreign)
      continue; /* another shard's to record */
    rc = tune_record(tu, p, i, &m, -1, -1, SIZE_MAX);
  }
  if (rc == AT_OK)
    rc = db_commit(tu->db);
  else
    db_rollback(tu->db);
  /* a chunk with no failed variant records nothing, yet the owner is alive */
  return rc == AT_OK ? tune_prov_heartbeat(tu) : rc;
}

/* ---- compile on demand ---- */

/* The worker's job for variant v of batch b. */
static struct meas_job job_of(const struct bld_batch *b, const struct bld_variant *v)
{
  struct meas_job j = {.code = b->code, .code_size = b->code_size, .launch = v->launch};
  snprintf(j.name, sizeof j.name, "%s", v->name);
  return j;
}

struct near {
  size_t config;
  int64_t dist;
};

static int by_dist(const void *a, const void *b)
{
  const struct near *x = a, *y = b;
  if (x->dist != y->dist)
    return x->dist < y->dist ? -1 : 1;
  return (x->config > y->config) - (x->config < y->config);
}

/* Restart the worker with the jobs table as it is now (a forked worker has its own copy
 * of the table it was started with). */
static int restart_worker(struct tuner *tu)
{
  if (tune_worker_live(tu) == SIZE_MAX || !tu->workers[tune_worker_live(tu)])
    return AT_OK;
  tune_workers_stop(tu);
  tu->wcfg.jobs_table = tu->jobs;
  tu->wcfg.njobs = tu->njobs;
  return tune_workers_start(tu);
}

/*
 * Compile config c of a lazy template and the configs nearest it that are not compiled
 * yet (L1 distance over the search coordinates: where annealing and the genetic search
 * look next), LAZY_PER_THREAD a compile thread; commit their verdicts, give the ok ones
 * jobs and restart the worker with them.
 */
static int compile_near(struct tuner *tu, struct tpl *p, size_t c)
{
  size_t n = p->nconfigs, want = LAZY_PER_THREAD * compile_threads(tu), k = 0;
  struct near *cand = malloc(n * sizeof *cand);
  int64_t *cfgs = malloc(want * p->np * sizeof *cfgs);
  int rc = AT_OK;
  if (!cand || !cfgs) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  size_t nc = 0;
  for (size_t i = 0; i < n; i++) {
    if (p->vof[i] != SIZE_MAX)
      continue;
    int64_t d = 0;
    for (size_t j = 0; j < p->ndims; j++)
      d += llabs((int64_t)p->coords[i * p->ndims + j] - p->coords[c * p->ndims + j]);
    cand[nc++] = (struct near){i, d};
  }
  qsort(cand, nc, sizeof *cand, by_dist); /* c itself first: distance 0, and unique */
  for (k = 0; k < nc && k < want; k++)
    memcpy(cfgs + k * p->np, p->configs + cand[k].config * p->np, p->np * sizeof *cfgs);
  if (k == 0)
    goto out;
  const char *incs[] = {p->common, NULL};
  char cache[PATH_MAX];
  struct bld_options bo = build_options(tu, incs, cache);
  bo.batch = LAZY_PER_THREAD; /* one TU a thread */
  struct bld_result part;
  if ((rc = bld_run(p->t, p->space, tu->space_dev, p->dims, tu->dtype, cfgs, k, &bo, &part)) ==
      AT_OK)
    rc = take_part(tu, p, &part);
  else
    bld_result_release(&part);
  if (rc != AT_OK)
    goto out;
  size_t from = p->br.nvariants - k, nok = p->nok;
  for (size_t i = 0; i < k; i++) {
    p->vof[cand[i].config] = from + i;
    p->cfg_of[from + i] = cand[i].config;
  }
  tu->compiled += k;
  if (tu->compiled > tu->compile_total)
    tu->compile_total = tu->compiled;
  if ((rc = record_verdicts(tu, p, from, from + k)) != AT_OK)
    goto out;
  if (p->nok > nok) {
    struct meas_job *j = realloc(tu->jobs, (tu->njobs + p->nok - nok) * sizeof *j);
    if (!j) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto out;
    }
    tu->jobs = j;
    for (size_t i = nok; i < p->nok; i++) {
      const struct bld_variant *v = &p->br.variants[p->ok[i]];
      const struct bld_batch *b = &p->br.batches[v->batch];
      p->job_of[p->ok[i]] = tu->njobs;
      tu->jobs[tu->njobs++] = job_of(b, v);
    }
    rc = restart_worker(tu);
  }
out:
  free(cand);
  free(cfgs);
  return rc;
}

/* A lazy template before its search: the coordinates of every config, and the default's
 * neighbourhood compiled; the default is the middle config, else the nearest that
 * compiled. */
static int compile_first(struct tuner *tu, struct tpl *p)
{
  size_t n = p->nconfigs;
  p->vof = malloc(n * sizeof *p->vof);
  p->cfg_of = malloc(n * sizeof *p->cfg_of);
  if (!p->vof || !p->cfg_of)
    return at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    p->vof[i] = p->cfg_of[i] = SIZE_MAX;
  int rc = tmpl_search_coords(p->t, p->configs, NULL, n, &p->coords, &p->ndims);
  if (rc == AT_OK)
    rc = compile_near(tu, p, p->mid);
  if (rc != AT_OK)
    return rc == AT_NOMEM || rc == AT_INTERRUPTED || rc == AT_USAGE ? rc : skip_compile(tu, p);
  size_t best = SIZE_MAX;
  for (size_t bv = 0; bv < p->br.nvariants; bv++) {
    size_t d = (size_t)llabs((long long)p->cfg_of[bv] - (long long)p->mid);
    if (p->br.variants[bv].verdict == BLD_OK &&
        (best == SIZE_MAX || d < (size_t)llabs((long long)p->cfg_of[best] - (long long)p->mid)))
      best = bv;
  }
  p->def = best;
  return AT_OK;
}

/* Whether bld variant bv of p is another shard's (--shard). */
static bool is_foreign(const struct tpl *p, size_t bv)
{
  return p->foreign != SIZE_MAX && (p->cfg_of ? p->cfg_of[bv] : bv) == p->foreign;
}

int tune_measure_on(struct tuner *tu, struct tpl *p, size_t bv, size_t job, size_t w,
                    bool locked, bool *lost)
{
  *lost = false;
  if (p->have[bv])
    return AT_OK;
  if (w >= tu->nworkers || !tu->workers[w])
    return at_error(AT_IO, "no GPU is left to measure on: every one was retired");
  /* the reference of an op that checks against it runs again for its outputs */
  bool ref = job == tu->ref_job, foreign = is_foreign(p, bv);
  if (foreign && !ref)
    return AT_OK; /* another shard measures it */
  struct meas_result m;
  char key[2048];
  tune_known_key(key, sizeof key, p->t->kernel, tu->prob.text, p->br.variants[bv].config_text);
  const struct meas_result *k = tune_known_find(tu, key);
  bool rerun = k && ref;
  int rc;
  if (k && !rerun) {
    m = *k;
    tu->trials_resumed++;
  } else {
    if (intr_requested())
      return AT_INTERRUPTED;
    double t0 = at_now_s();
    int64_t sm_clock = -1, throttled = -1;
    /* the clocks sampled around a measurement are the one GPU's (run_prov.c) */
    bool prov = tu->nworkers == 1;
    if (prov)
      tune_prov_before(tu);
    if (tune_fault_lose_gpu(tu, w)) {
      *lost = true;
      return at_error(AT_IO, "GPU %d lost (fault injected: %s)", tu->gpu_ord[w],
                      TUNE_FAULT_LOSE_GPU_ENV);
    }
    if (locked)
      pthread_mutex_unlock(&tu->mu);
    rc = meas_worker_run(tu->workers[w], job, tu->timeout_s, &m);
    if (locked)
      pthread_mutex_lock(&tu->mu);
    if (rc != AT_OK) {
      *lost = true;
      return rc;
    }
    if (prov)
      tune_prov_after(tu, &sm_clock, &throttled);
    if (intr_requested() && m.status != DB_TRIAL_OK)
      return AT_INTERRUPTED; /* maybe the signal's doing: measured again on --resume */
    tu->meas_spent += at_now_s() - t0;
    tu->fresh++;
    if (rerun || foreign)
      tu->trials_resumed += rerun;
    else if ((rc = tune_record(tu, p, bv, &m, sm_clock, throttled, w)) != AT_OK)
      return rc;
  }
  p->res[bv] = m;
  p->have[bv] = true;
  p->measured++;
  p->by_status[m.status]++;
  if (m.status == DB_TRIAL_OK) {
    tu->measured_ok++;
    tu->verified++;
    tu->timed++;
    if (p->best == SIZE_MAX || m.median_us < p->res[p->best].median_us)
      p->best = bv;
    if (!(m.median_us >= tu->best_us))
      tu->best_us = m.median_us;
  } else {
    p->failed++;
    tu->failed++;
  }
  progress(tu);
  return AT_OK;
}

/* Measure (or recall) bld variant bv of p on the first live worker; a worker whose GPU
 * is lost is retired and the next one measures it. */
static int measure(struct tuner *tu, struct tpl *p, size_t bv, size_t job)
{
  for (;;) {
    size_t w = tune_worker_live(tu);
    bool lost;
    int rc = tune_measure_on(tu, p, bv, job, w, false, &lost);
    if (!lost)
      return rc;
    tune_worker_retire(tu, w, at_last_error());
    if (tune_worker_live(tu) == SIZE_MAX)
      return rc; /* the last GPU: the run cannot go on */
  }
}

struct eval_ctx {
  struct tuner *tu;
  struct tpl *p;
  const size_t *pts;    /* search point -> config index */
  bool dealt;           /* deal_known measured the points: the search only reads them */
  int rc;
};

static int eval_cb(void *ctx, size_t point, double *cost)
{
  struct eval_ctx *e = ctx;
  struct tpl *p = e->p;
  size_t c = e->pts[point], bv = c;
  int rc;
  /* after deal_known: what was not dealt was not measured (time, interrupt) */
  if (e->dealt && !p->have[bv] && p->br.variants[bv].verdict == BLD_OK)
    return SEARCH_STOP;
  if (p->lazy) {
    if (p->vof[c] == SIZE_MAX && (rc = compile_near(e->tu, p, c)) != AT_OK)
      return e->rc = rc;
    bv = p->vof[c];
  }
  if (p->br.variants[bv].verdict != BLD_OK)
    return SEARCH_UNBUILT; /* nothing to measure: the budget goes to the next point */
  bool had = p->have[bv];
  if ((rc = measure(e->tu, p, bv, p->job_of[bv])) != AT_OK)
    return e->rc = rc;
  if (!had)
    e->tu->evals++;
  *cost = p->res[bv].status == DB_TRIAL_OK ? p->res[bv].median_us : INFINITY;
  return AT_OK;
}

/*
 * Several workers, a strategy whose picks are known before any cost is seen: take its
 * picks in order (a search whose evaluator only records, as preselect does), deal them
 * to the workers in parallel (deal.c), and let the search proper run after it over the
 * measured costs (eval_cb recalls them), so that its result, evaluations and budget are
 * those of a search on one worker: the same trials, measured sooner.
 */
static int deal_known(struct tuner *tu, struct tpl *p, const struct search_space *sp,
                      const struct search_opts *so, size_t def, struct eval_ctx *e)
{
  size_t *picked = malloc((sp->npoints + 1) * sizeof *picked);
  if (!picked)
    return at_error(AT_NOMEM, "out of memory");
  struct order_ctx oc = {.picked = picked};
  struct search_opts o = *so;
  o.time_budget_s = 0; /* the dealing keeps the time budget */
  struct search_result sr;
  int rc = search_run(sp, &o, order_cb, &oc, &sr);
  /* the default, when given, goes first (measured besides the budget, as alone) */
  size_t n = 0, from = def != SIZE_MAX && !p->have[def];
  if (rc == AT_OK) {
    memmove(picked + from, picked, oc.n * sizeof *picked);
    for (size_t i = 0; i < oc.n; i++) {
      size_t bv = e->pts[picked[from + i]];
      if (p->br.variants[bv].verdict == BLD_OK && !p->have[bv])
        picked[from + n++] = bv;
    }
    if (from)
      picked[0] = def;
    rc = tune_deal(tu, p, picked, from + n, true);
    for (size_t i = from; i < from + n; i++) /* eval_cb counts only what it measures */
      tu->evals += p->have[picked[i]];
    e->dealt = true;
  }
  free(picked);
  return rc;
}

/* The search's points: the compiled ok variants but the default (measured first), or for
 * a lazy template every config but the default's. OUT: *pts (config indices), *npts,
 * *model (NULL when there is none). */
static int search_points(const struct tuner *tu, const struct tpl *p, size_t **pts,
                         size_t *npts, double **model)
{
  size_t n = p->lazy ? p->nconfigs : p->nok, def_cfg = p->def == SIZE_MAX ? SIZE_MAX
                                                      : p->lazy ? p->cfg_of[p->def] : p->def;
  *npts = 0;
  *pts = malloc((n ? n : 1) * sizeof **pts);
  *model = p->lazy && !tu->op->model ? NULL : malloc((n ? n : 1) * sizeof **model);
  if (!*pts || (!*model && !(p->lazy && !tu->op->model)))
    return at_error(AT_NOMEM, "out of memory");
  struct gen_bind bind = {.dev = tu->space_dev, .dims = p->dims, .dtype = tu->dtype};
  for (size_t j = 0; j < n; j++) {
    size_t c = p->lazy ? j : p->ok[j];
    if (c == def_cfg)
      continue;
    if (*model && !p->lazy) {
      (*model)[*npts] = p->model[j];
    } else if (*model) { /* not compiled yet: the model without the resources */
      struct gen_launch l;
      const int64_t *cfg = p->configs + c * p->np;
      (*model)[*npts] = gen_emit_launch(p->t, &bind, cfg, &l) == AT_OK
                            ? model_time(tu, p, cfg, &l, NULL) : INFINITY;
    }
    (*pts)[(*npts)++] = c;
  }
  return AT_OK;
}

/* What each point compiled to, the bo strategy's surrogate features (search.h):
 * registers, shared memory, occupancy, threads per block and waves (blocks over the
 * blocks resident per CU); NAN where unknown. NULL for a lazy template (nothing is
 * compiled before the search) or on no memory (bo then goes without). */
#define TUNE_NFEATURES 5
static double *search_features(const struct tpl *p, const size_t *pts, size_t npts)
{
  double *f = p->lazy ? NULL : malloc((npts ? npts : 1) * TUNE_NFEATURES * sizeof *f);
  for (size_t i = 0; f && i < npts; i++) {
    const struct bld_variant *v = &p->br.variants[pts[i]];
    const struct gen_launch *l = &v->launch;
    double blocks = (double)l->grid[0] * (double)l->grid[1] * (double)l->grid[2];
    double *row = f + i * TUNE_NFEATURES;
    row[0] = v->res.registers >= 0 ? v->res.registers : NAN;
    row[1] = v->res.shared_bytes >= 0 ? (double)(v->res.shared_bytes + l->shared) : NAN;
    row[2] = v->occ.blocks_per_cu > 0 ? v->occ.occupancy : NAN;
    row[3] = (double)l->threads[0] * (double)l->threads[1] * (double)l->threads[2];
    row[4] = v->occ.blocks_per_cu > 0 ? blocks / v->occ.blocks_per_cu : NAN;
  }
  return f;
}

static int search_tpl(struct tuner *tu, struct tpl *p)
{
  int rc;
  if (p->baseline)
    return AT_OK;
  if (tu->op->checks_against_reference && !tpl_default_is_mid(p)) {
    tu->reference_failed = true; /* the reference did not compile: nothing to check by */
    return AT_OK;
  }
  if (p->nok == 0 && !p->lazy)
    return AT_OK;
  /* the default first, alone, unless several workers deal it with the picks; an op
   * whose variants are checked against it needs its outputs before any other */
  bool dealing = tu->nworkers > 1 && !p->lazy &&
                 search_strategy_info(tu->o->strategy)->order_known;
  bool def_first = !dealing || tu->op->checks_against_reference;
  if (def_first && p->def != SIZE_MAX &&
      (rc = measure(tu, p, p->def, p->job_of[p->def])) != AT_OK)
    return rc;
  /* an op whose variants are checked against the reference: nothing without it */
  if (tu->op->checks_against_reference &&
      (!tpl_default_is_mid(p) || p->res[p->def].status != DB_TRIAL_OK)) {
    tu->reference_failed = true;
    return AT_OK;
  }
  double left = 0;
  if (tu->o->time_budget_s > 0) {
    left = tu->o->time_budget_s - (at_now_s() - tu->meas_t0);
    if (left <= 0)
      return def_first || p->def == SIZE_MAX ? AT_OK
                                             : measure(tu, p, p->def, p->job_of[p->def]);
  }
  int32_t *coords = NULL;
  size_t nd = 0, npts = 0, *pts = NULL;
  double *model = NULL;
  rc = search_points(tu, p, &pts, &npts, &model);
  if (rc == AT_OK && npts)
    rc = tmpl_search_coords(p->t, p->configs, pts, npts, &coords, &nd);
  double *feat = rc == AT_OK && tu->o->strategy == SEARCH_BO ? search_features(p, pts, npts)
                                                             : NULL;
  double *warm = NULL;
  char note[300];
  if (rc == AT_OK && tu->o->strategy == SEARCH_BO &&
      (rc = tune_warm_prior(tu, p, pts, npts, &warm, note, sizeof note)) == AT_OK && warm) {
    free(model); /* a measured prior beats the model's (docs/search.md, warm start) */
    model = warm;
    tune_warn(tu, "%s: %s", p->t->kernel, note);
  }
  if (rc == AT_OK && npts) {
    struct search_space sp = {.npoints = npts, .ndims = nd, .coords = coords, .model = model,
                              .nfeatures = feat ? TUNE_NFEATURES : 0, .features = feat};
    struct search_opts so = {.strategy = tu->o->strategy, .seed = tu->o->seed,
                             .budget = tu->budget > 0 ? (size_t)tu->budget : 0,
                             .time_budget_s = left};
    struct eval_ctx e = {.tu = tu, .p = p, .pts = pts};
    if (dealing)
      rc = deal_known(tu, p, &sp, &so, def_first ? SIZE_MAX : p->def, &e);
    if (rc == AT_OK)
      rc = search_run(&sp, &so, eval_cb, &e, &p->sr);
    if (rc == AT_OK)
      rc = e.rc;
  }
  /* the default is measured whatever the search did (no points, the time budget) */
  if (rc == AT_OK && !def_first && p->def != SIZE_MAX)
    rc = measure(tu, p, p->def, p->job_of[p->def]);
  free(coords);
  free(pts);
  free(model);
  free(feat);
  return rc;
}

/* ---- one problem ---- */

static int64_t flush_bytes(const struct tuner *tu)
{
  const struct dev_profile *d = tu->dev;
  int64_t llc = d->llc_bytes > 0 ? d->llc_bytes : d->l2_bytes;
  if (d->vendor == DEV_HOST) {
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    llc = l3 > 0 ? l3 : FLUSH_UNKNOWN_LLC;
  }
  int64_t b = 2 * (llc > 0 ? llc : FLUSH_UNKNOWN_LLC);
  /* the host's L3 figure may be a whole socket's: no more than 256 MiB of memset */
  return d->vendor == DEV_HOST && b > FLUSH_HOST_MAX ? FLUSH_HOST_MAX : b;
}

/* Bind the op's problem tu->cur: its key and the text resume keys use. */
static int bind_problem(struct tuner *tu)
{
  int rc = tu->op->bind(tu->op, tu->cur, tu->space_dev, &tu->prob);
  if (rc != AT_OK)
    return rc;
  tu->bound = true;
  char *dims = db_problem_dims_text(&tu->prob.key);
  if (!dims)
    return at_error(AT_NOMEM, "out of memory");
  snprintf(tu->prob.text, sizeof tu->prob.text, "%s %s %s", tu->prob.key.dtype,
           tu->prob.key.layout, dims);
  free(dims);
  return AT_OK;
}

static void unbind_problem(struct tuner *tu)
{
  if (tu->bound)
    tu->op->unbind(tu->op, &tu->prob);
  memset(&tu->prob, 0, sizeof tu->prob);
  tu->bound = false;
}

static int run_problem(struct tuner *tu)
{
  int rc = AT_OK;
  if ((rc = bind_problem(tu)) != AT_OK)
    return rc;
  /* span every template first, so that progress counts all of them */
  tu->compile_total = tu->compiled = 0;
  for (size_t i = 0; i < tu->ntpls && rc == AT_OK; i++)
    if (!tu->tpls[i].skip[0])
      rc = span_tpl(tu, &tu->tpls[i]);
  const char *stray = tu->where.n ? tune_where_unmatched(&tu->where) : NULL;
  if (rc == AT_OK && stray)
    return at_error(AT_USAGE, "bad --where: no template of this run has a parameter '%s'",
                    stray);
  for (size_t i = 0; i < tu->ntpls && rc == AT_OK; i++)
    if (!tu->tpls[i].skip[0])
      rc = compile_tpl(tu, &tu->tpls[i]);
  tu->compile_total = tu->compiled;
  if (rc != AT_OK)
    return rc;
  if (!tu->run_put && (rc = tune_put_run(tu, NULL)) != AT_OK)
    return rc;
  if (!tu->mb)
    return AT_OK;

  /* the jobs table, then one worker for the problem */
  size_t njobs = 0;
  bool lazy = false; /* a lazy template may have nothing compiled ok yet, and search */
  for (size_t i = 0; i < tu->ntpls; i++)
    if (!tu->tpls[i].skip[0]) {
      njobs += tu->tpls[i].nok;
      lazy |= tu->tpls[i].lazy;
    }
  free(tu->jobs);
  if (!(tu->jobs = calloc(njobs + 1, sizeof *tu->jobs)))
    return at_error(AT_NOMEM, "out of memory");
  tu->njobs = 0;
  tu->planned = tu->evals = 0;
  tu->ref_job = SIZE_MAX;
  for (size_t i = 0; i < tu->ntpls; i++) {
    struct tpl *p = &tu->tpls[i];
    if (p->skip[0])
      continue;
    for (size_t j = 0; j < p->nok; j++) {
      const struct bld_variant *v = &p->br.variants[p->ok[j]];
      const struct bld_batch *b = &p->br.batches[v->batch];
      if (tu->op->checks_against_reference && !p->baseline && p->ok[j] == p->def &&
          tpl_default_is_mid(p))
        tu->ref_job = tu->njobs;
      p->job_of[p->ok[j]] = tu->njobs;
      tu->jobs[tu->njobs++] = job_of(b, v);
    }
    size_t want = p->baseline ? p->nok : tu->budget > 0 && (size_t)tu->budget < p->nok
                                             ? (size_t)tu->budget : p->nok;
    tu->planned += want;
  }
  if (njobs == 0 && !lazy)
    return AT_OK;
  if ((rc = tu->op->inputs(tu->op, &tu->prob)) != AT_OK)
    return rc;
  tu->wcfg = (struct meas_worker_cfg){.mb = tu->mb, .jobs = tu->o->jobs, .op = tu->prob.mop,
                                      .op_ctx = tu->prob.mop_ctx, .jobs_table = tu->jobs,
                                      .njobs = tu->njobs, .ref_job = tu->ref_job,
                                      .flush_bytes = flush_bytes(tu),
                                      .variant_time_s = tu->variant_time_s};
  if ((rc = tune_workers_start(tu)) != AT_OK)
    return rc;
  if (!tu->meas_t0)
    tu->meas_t0 = at_now_s();
  for (size_t i = 0; i < tu->ntpls && rc == AT_OK; i++) {
    struct tpl *p = &tu->tpls[i];
    if (p->skip[0] || !p->baseline)
      continue;
    size_t had = p->measured;
    rc = tune_deal(tu, p, p->ok, p->nok, false); /* in full, in parallel */
    tu->evals += p->measured - had;
  }
  for (size_t i = 0; i < tu->ntpls && rc == AT_OK; i++)
    if (!tu->tpls[i].skip[0])
      rc = search_tpl(tu, &tu->tpls[i]);
  tune_workers_stop(tu);
  progress_clear(tu);
  return rc;
}

/* ---- the run ---- */

static void release(struct tuner *tu)
{
  tune_workers_stop(tu);
  tune_prov_release(tu);
  unbind_problem(tu);
  for (size_t i = 0; i < tu->ntpls; i++) {
    tpl_release_problem(&tu->tpls[i]);
    tmpl_free(tu->tpls[i].t);
  }
  for (size_t i = 0; i < tu->nknown; i++)
    free(tu->known_keys[i]);
  free(tu->known_keys);
  free(tu->known);
  free(tu->jobs);
  db_close(tu->db);
}

/* Whether the GPU opens here: one that is not is said before anything is compiled, and
 * the run compiles and prunes only; an ordinal the runtime does not have is bad input,
 * and so is a GPU that is not the --device profile (an H100 measured as h200 would file
 * its times under h200: dev_present_is). The parent never opens a GPU runtime itself
 * (worker.h): a short-lived worker asks. */
static int probe_gpu(struct tuner *tu)
{
  char why[300];
  int rc = meas_device_probe(tu->mb, tu->gpu_ord[0], &tu->dev_id, why, sizeof why);
  if (rc == AT_USAGE || rc == AT_NOMEM)
    return at_error(rc, "%s", why);
  if (rc != AT_OK) {
    snprintf(tu->no_meas, sizeof tu->no_meas, "no %s opens here (%.300s): compiled and pruned "
             "for %s only, no measurement is possible here", tu->dev->name, why, tu->dev->arch);
    tu->mb = NULL;
    tune_warn(tu, "%s", tu->no_meas);
    return AT_OK;
  }
  return tune_gpu_is_profile(tu, "", tu->gpu_ord[0], &tu->dev_id);
}

/* --device given as an arch (sm_90, gfx942) names the GPU of that arch here, as its own
 * profile: an H200 is tuned as h200, not as sm_90's first profile h100 (which probe_gpu
 * would refuse). Without a GPU that opens, the arch's first profile, as before. */
static void device_of_arch(struct tuner *tu)
{
  const struct tune_opts *o = tu->o;
  const struct meas_backend *mb = tu->dev->vendor == DEV_NVIDIA ? &meas_cuda : &meas_hip;
  struct meas_device_id id;
  char why[300];
  int ord = o->ngpus ? o->gpus[0] : o->gpu;
  if (meas_device_probe(mb, ord, &id, why, sizeof why) != AT_OK || !id.arch[0])
    return;
  const struct dev_profile *p = dev_present_for_arch(tu->dev, id.name, id.arch);
  if (p != tu->dev)
    tune_warn(tu, "--device %.40s: GPU %d here is '%.100s', tuned as its profile %s", o->device,
              ord, id.name, p->name);
  tu->dev = p;
}

static int setup(struct tuner *tu)
{
  const struct tune_opts *o = tu->o;
  int rc;
  tu->op = o->op;
  if (!o->device)
    return at_error(AT_USAGE, "%s needs --device (a profile name such as h100 or host, or an "
                    "arch such as gfx942); try 'autotune devices'", tu->op->name);
  if (!(tu->dev = dev_find(o->device)))
    return AT_USAGE;
  if (strcasecmp(o->device, tu->dev->name) != 0 && tu->dev->vendor != DEV_HOST && !o->emulate &&
      !o->bundle_out && o->gpu >= 0)
    device_of_arch(tu);
  tu->space_dev = tu->dev;
  if (o->emulate) {
    if (tu->dev->vendor != DEV_HOST)
      return at_error(AT_USAGE, "--emulate needs --device host (the emulator stands in for "
                      "the GPU), not '%.40s'", o->device);
    const struct dev_profile *e = dev_find(o->emulate);
    if (!e)
      return AT_USAGE;
    if (e->vendor == DEV_HOST)
      return at_error(AT_USAGE, "--emulate takes a GPU profile or arch (mi300x, h100, gfx942, "
                      "sm_90), not '%.40s'", o->emulate);
    tu->space_dev = e;
    snprintf(tu->dev_name, sizeof tu->dev_name, "host:%s", e->name);
    snprintf(tu->arch, sizeof tu->arch, "host:%s", e->arch);
  } else {
    snprintf(tu->dev_name, sizeof tu->dev_name, "%s", tu->dev->name);
    snprintf(tu->arch, sizeof tu->arch, "%s", tu->dev->arch);
  }
  if ((rc = tu->op->prepare(tu->op, tu->space_dev)) != AT_OK)
    return rc;
  tu->dtype = tu->op->dtype(tu->op);
  if (tu->op->nproblems(tu->op) == 0)
    return at_error(AT_USAGE, "%s: no problem to tune", tu->op->name);
  if (o->strategy == SEARCH_MODEL && !tu->op->model)
    return at_error(AT_USAGE, "--strategy model needs a cost model of the op: %s has none "
                    "(random, exhaustive, anneal, genetic or bo)", tu->op->name);
  if (o->budget < -1)
    return at_error(AT_USAGE, "bad --budget %" PRId64 " (a count of variants, at least 1)",
                    o->budget);
  if (o->time_budget_s < 0 || o->timeout_s < 0 || o->variant_time_s < 0)
    return at_error(AT_USAGE, "bad time: --time-budget, --timeout and --variant-time are "
                    "seconds >= 0");
  int wrc = tune_where_parse(o->where, &tu->where);
  if (wrc != AT_OK)
    return wrc;
  bool host = tu->dev->vendor == DEV_HOST;
  if (o->sanitize && !host)
    return at_error(AT_USAGE, "--sanitize builds host variants: use it with --device host");
  if (o->sanitize && !meas_host_has_asan())
    return at_error(AT_USAGE, "--sanitize: the variants' AddressSanitizer needs its runtime in "
                    "autotune: run it with LD_PRELOAD=$(g++ -print-file-name=libasan.so) or "
                    "build it with -DCMAKE_BUILD_TYPE=Sanitize");
  tu->budget = o->budget == -1 ? 0 : o->budget ? o->budget : host ? TUNE_HOST_DEFAULT_BUDGET : 0;
  tu->timeout_s = o->timeout_s > 0 ? o->timeout_s : TUNE_DEFAULT_TIMEOUT_S;
  tu->variant_time_s = o->variant_time_s > 0 ? o->variant_time_s
                       : host ? VARIANT_TIME_HOST_S : VARIANT_TIME_GPU_S;
  tu->best_us = INFINITY;

  if (o->gpu < 0)
    return at_error(AT_USAGE, "bad --gpu %d (a GPU ordinal: 0, 1, ...)", o->gpu);
  if (o->ngpus > TUNE_MAX_GPUS)
    return at_error(AT_USAGE, "--gpus names %zu GPUs; at most %d", o->ngpus, TUNE_MAX_GPUS);
  if (o->nshards > 1 && (o->shard < 0 || o->shard >= o->nshards))
    return at_error(AT_USAGE, "bad --shard %d/%d (I/N with 0 <= I < N)", o->shard, o->nshards);

  if (!o->db_path)
    return at_error(AT_USAGE, "no database given");
  snprintf(tu->db_path, sizeof tu->db_path, "%s", o->db_path);
  /* SQLite's WAL must not live on a network filesystem (db/netfs.h): refused, not risked */
  char fs[32];
  if (db_netfs_check(tu->db_path, fs, sizeof fs))
    return at_error(AT_USAGE, "database '%.200s' is on a network filesystem (%s), where "
                    "SQLite's write-ahead log is not safe: write it on a local disk (each "
                    "shard its own, then 'autotune db merge'; docs/cluster.md)", tu->db_path, fs);
  if ((rc = tune_collect_templates(tu)) != AT_OK)
    return rc;
  if (o->bundle && (strcmp(o->bundle->op, tu->op->name) != 0 ||
                    strcmp(o->bundle->device, tu->dev_name) != 0))
    return at_error(AT_USAGE, "--bundle %.200s was made for %s on %s, not %s on %s",
                    o->bundle->dir, o->bundle->op, o->bundle->device, tu->op->name,
                    tu->dev_name);
  if (o->bundle_out && (rc = tune_stage_templates(tu)) != AT_OK)
    return rc;
  if (o->bundle_out && !o->no_cache) /* a bundle made again compiles only what changed */
    os_cache_dir(tu->seed_cache, sizeof tu->seed_cache);
  /* A database that exists is opened now (a bad one is said before anything is
   * compiled; --resume reads it); a new one is created by the first record (put_run):
   * bad input, found up to the first problem's span, never creates or changes one. */
  if (access(tu->db_path, F_OK) == 0) {
    if ((rc = tune_open_db(tu)) != AT_OK)
      return rc;
  } else {
    /* where it will be created must be writable now, not after the compile */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", tu->db_path);
    char *slash = strrchr(dir, '/');
    if (slash)
      *(slash == dir ? slash + 1 : slash) = '\0';
    if (access(slash ? dir : ".", W_OK | X_OK) != 0)
      return at_error(AT_IO, "cannot create database '%.200s': %s", tu->db_path,
                      strerror(errno));
  }
  /* where to measure: the host's emulator, or the GPU if one opens; none when making a
   * bundle */
  tu->mb = host ? &meas_host : tu->dev->vendor == DEV_NVIDIA ? &meas_cuda : &meas_hip;
  if (o->bundle_out) {
    snprintf(tu->no_meas, sizeof tu->no_meas, "making a bundle: compiled only");
    tu->mb = NULL;
  } else if ((rc = tune_workers_plan(tu)) != AT_OK) {
    return rc;
  } else if (!host && (rc = probe_gpu(tu)) != AT_OK) {
    return rc;
  }
  return AT_OK;
}

int tune_run(const struct tune_opts *o, struct tune_summary *sum)
{
  if (sum)
    memset(sum, 0, sizeof *sum);
  struct tuner *tu = calloc(1, sizeof *tu);
  if (!tu)
    return at_error(AT_NOMEM, "out of memory");
  tu->o = o;
  tu->t0 = at_now_s();
  pthread_mutex_init(&tu->mu, NULL);
  const struct tune_report *r = o->report;
  int rc = setup(tu);
  if (rc != AT_OK)
    goto out;
  char why[400];
  tune_prov_init(tu, why, sizeof why);
  if (why[0])
    tune_warn(tu, "%s", why);
  if (tu->nworkers == 1 && !tu->gpu_uuid[0][0]) /* one GPU: its management library's */
    snprintf(tu->gpu_uuid[0], sizeof tu->gpu_uuid[0], "%s", tu->prov.info.uuid);
  tune_load_templates(tu);
  size_t usable = 0;
  for (size_t i = 0; i < tu->ntpls; i++)
    usable += !tu->tpls[i].skip[0] && !tu->tpls[i].baseline;
  if (usable == 0) {
    rc = at_error(o->ntemplates ? AT_USAGE : AT_UNSUPPORTED, "no %s template loads for %s",
                  tu->op->name, tu->dev->name);
    goto out;
  }
  if ((rc = tune_open_run(tu)) != AT_OK || tu->ended_before)
    goto out;
  if (r && r->start)
    r->start(o->report_ctx, tu);
  size_t nprob = tu->op->nproblems(tu->op);
  for (tu->cur = 0; tu->cur < nprob; tu->cur++) {
    for (size_t i = 0; i < tu->ntpls; i++)
      if (!tu->tpls[i].load_failed)
        tu->tpls[i].skip[0] = '\0'; /* a template skipped for one problem may fit the next */
    if ((rc = run_problem(tu)) != AT_OK) {
      progress_clear(tu);
      if (rc == AT_INTERRUPTED)
        rc = intr_error(tu->trials_recorded);
      goto out;
    }
    if (r && r->problem)
      r->problem(o->report_ctx, tu);
    if (tu->cur + 1 < nprob) {
      for (size_t i = 0; i < tu->ntpls; i++)
        tpl_release_problem(&tu->tpls[i]);
      unbind_problem(tu);
    }
  }
  tu->cur = nprob - 1;
  struct db_clocks end;
  tune_prov_end(tu, &end);
  if (tu->run_put && (rc = db_end_run(tu->db, tu->run_uuid, &end)) != AT_OK)
    goto out;
  tu->wall_s = at_now_s() - tu->t0;
  if (r && r->end)
    r->end(o->report_ctx, tu);
out:
  if (sum) {
    sum->measured_ok = tu->measured_ok;
    sum->measured_here = tu->mb != NULL;
    sum->variants = tu->variants;
    sum->variants_ok = tu->variants_ok;
    snprintf(sum->device, sizeof sum->device, "%s", tu->dev_name);
    snprintf(sum->arch, sizeof sum->arch, "%s", tu->arch);
    snprintf(sum->backend, sizeof sum->backend, "%s", tu->backend);
    snprintf(sum->toolchain, sizeof sum->toolchain, "%s", tu->toolchain);
    sum->reference_failed = tu->reference_failed;
    snprintf(sum->run_uuid, sizeof sum->run_uuid, "%s", tu->run_uuid);
    sum->ended_before = tu->ended_before;
  }
  release(tu);
  pthread_mutex_destroy(&tu->mu);
  free(tu);
  return rc;
}
