/*
 * tune.c - `autotune gemm` end to end (tune.h): templates and problems in, every outcome
 * a trial in the tuning database, the best configs in a table (or one JSON object) out.
 *
 * Design note.
 *
 * Order of work, per problem: load the templates (one that fails to load or has no
 * valid variant on the device is reported in one line and skipped); span each space on
 * the device (the emulated one with --emulate) and compile every valid variant
 * (bld_run: cached, batched, parallel); record every compile_error and pruned variant;
 * fork one measurement worker (tune_worker.c) holding the problem's data and every code
 * object; measure the baseline (templates/gemm/gemm_naive.h, one config), then per
 * template its default config and then the variants the strategy picks (search.h), each
 * committed to the database the moment it is measured.
 *
 * The default config of a template is the valid config in the middle of the enumeration
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
 * run is ended (ended_at set) only when every problem and template was done.
 *
 * Invariants.
 *   1. Every variant that was compiled gets exactly one trial per run: compile_error and
 *      pruned at build time, the rest when (and only if) measured.
 *   2. A trial is committed before the next variant is measured (autocommit, WAL): a
 *      SIGKILL loses at most the variant being measured.
 *   3. The parent process never opens a GPU runtime (tune_worker.c, invariant 4).
 *   4. Predictions of the model are never recorded as trials.
 */
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "tuner/cli/cli.h"
#include "base/device.h"
#include "base/interrupt.h"
#include "base/os.h"
#include "base/status.h"
#include "tuner/engine/template_dirs.h"
#include "tuner/engine/tune.h"


/* ---- templates ---- */

#include "tuner/engine/tune_internal.h"





/* A --template argument to a path: a path as given, else <tree>/gemm/NAME.h. */
static int resolve_template(const char *arg, char *out)
{
  size_t len = strlen(arg);
  if (strchr(arg, '/') || (len > 2 && strcmp(arg + len - 2, ".h") == 0)) {
    if (!at_is_file(arg))
      return at_error(AT_USAGE, "no template file '%.200s'", arg);
    if (!realpath(arg, out))
      snprintf(out, PATH_MAX, "%s", arg);
    return AT_OK;
  }
  char searched[PATH_MAX];
  if (template_find("gemm", arg, out, NULL, searched))
    return AT_OK;
  return at_error(AT_USAGE, "unknown template '%.60s' (no %.60s.h under %.200s/gemm); try "
                  "'autotune gemm --help'", arg, arg, searched);
}

static int add_tpl(struct tuner *tu, const char *path, bool baseline)
{
  for (size_t i = 0; i < tu->ntpls; i++)
    if (strcmp(tu->tpls[i].path, path) == 0)
      return AT_OK;
  if (tu->ntpls >= TUNE_MAX_TEMPLATES + 1)
    return at_error(AT_USAGE, "more than %d templates", TUNE_MAX_TEMPLATES);
  struct tpl *p = &tu->tpls[tu->ntpls++];
  memset(p, 0, sizeof *p);
  snprintf(p->path, sizeof p->path, "%s", path);
  p->baseline = baseline;
  p->def = p->best = SIZE_MAX;
  return AT_OK;
}

const char *tune_base_name(const char *path, char *out, size_t len)
{
  const char *s = strrchr(path, '/');
  snprintf(out, len, "%s", s ? s + 1 : path);
  char *dot = strrchr(out, '.');
  if (dot)
    *dot = '\0';
  return out;
}

/* The templates to tune and the baseline. */
static int collect_templates(struct tuner *tu)
{
  const struct tune_opts *o = tu->o;
  char path[PATH_MAX], name[PATH_MAX];
  int rc;
  if (o->ntemplates) {
    for (size_t i = 0; i < o->ntemplates; i++) {
      if ((rc = resolve_template(o->templates[i], path)) != AT_OK ||
          (rc = add_tpl(tu, path, false)) != AT_OK)
        return rc;
    }
  } else {
    char dirs[TEMPLATE_DIRS_MAX][PATH_MAX], pat[PATH_MAX + 16];
    size_t nd = template_dirs(dirs);
    glob_t g;
    for (size_t i = 0; i < nd; i++) {
      snprintf(pat, sizeof pat, "%.4000s/gemm/*.h", dirs[i]);
      if (glob(pat, 0, NULL, &g) != 0)
        continue;
      for (size_t j = 0; j < g.gl_pathc; j++)
        if (strcmp(tune_base_name(g.gl_pathv[j], name, sizeof name), NAIVE) != 0 &&
            (rc = add_tpl(tu, g.gl_pathv[j], false)) != AT_OK) {
          globfree(&g);
          return rc;
        }
      globfree(&g);
      break; /* the first tree that has gemm templates */
    }
    if (tu->ntpls == 0)
      return at_error(AT_UNSUPPORTED, "no gemm templates found (templates/gemm/*.h under "
                      "%s)", dirs[nd - 1]);
  }
  if (resolve_template(NAIVE, path) == AT_OK) {
    bool there = false;
    for (size_t i = 0; i < tu->ntpls; i++)
      if (strcmp(tu->tpls[i].path, path) == 0)
        there = tu->tpls[i].baseline = true;
    if (!there)
      add_tpl(tu, path, true);
  }
  at_error_clear();
  return AT_OK;
}

/* Whether a template of the default set (no --template given) is for this device and
 * dtype: gemm_mma on NVIDIA sm_80 and later with f16/bf16 (mma.sync has no f32 shape),
 * gemm_mfma on AMD CDNA, every other template (gemm_simt) everywhere. The space cannot
 * say these (the constraint language has no dtype), so the default set does; a template
 * named with --template is always tried. "" when it applies, else why not. */
static const char *not_for(const struct tuner *tu, const char *name)
{
  return gemm_template_not_for(name, tu->space_dev, tu->gdt == GEMM_F32);
}

/* Load every template; a failure is one line on stderr and the template is skipped. */
static void load_templates(struct tuner *tu)
{
  for (size_t i = 0; i < tu->ntpls; i++) {
    struct tpl *p = &tu->tpls[i];
    char nm[PATH_MAX];
    const char *why = tu->o->ntemplates ? "" : not_for(tu, tune_base_name(p->path, nm, sizeof nm));
    if (why[0]) {
      snprintf(p->skip, sizeof p->skip, "%s", why);
      p->load_failed = true; /* silently: not this device's template */
      continue;
    }
    template_common_dir(p->path, p->common);
    const char *incs[] = {p->common, NULL};
    int rc = tmpl_load(p->path, incs, &p->t);
    if (rc != AT_OK) {
      const char *e = at_last_error();
      snprintf(p->skip, sizeof p->skip, "%.*s", (int)strcspn(e, "\n"), e);
    } else {
      static const char *const need[] = {"M", "N", "K"};
      for (size_t d = 0; d < 3 && !p->skip[0]; d++) {
        bool found = false;
        for (size_t j = 0; j < p->t->ndims; j++)
          found |= strcasecmp(p->t->dims[j], need[d]) == 0;
        if (!found)
          snprintf(p->skip, sizeof p->skip, "its problem has no dim %s (the gemm contract: "
                   "problem M, N, K, TA, TB)", need[d]);
      }
    }
    if (p->skip[0]) {
      char name[PATH_MAX];
      p->load_failed = true;
      cli_error("skipping template %s: %s", tune_base_name(p->path, name, sizeof name), p->skip);
    }
  }
}

/* ---- shapes ---- */

static int parse_shape_line(const char *line, int64_t v[3])
{
  char buf[256];
  snprintf(buf, sizeof buf, "%s", line);
  for (char *c = buf; *c; c++)
    if (*c == ',' || *c == 'x' || *c == 'X' || *c == '\t')
      *c = ' ';
  char *end;
  const char *p = buf;
  for (int i = 0; i < 3; i++) {
    errno = 0;
    long long x = strtoll(p, &end, 10);
    if (end == p || errno)
      return -1;
    v[i] = x;
    p = end;
  }
  while (*p == ' ' || *p == '\r' || *p == '\n')
    p++;
  return *p ? -1 : 0;
}

static int check_dim(const char *what, int64_t v)
{
  if (v < 1 || v > INT32_MAX)
    return at_error(AT_USAGE, "bad shape: %s is %" PRId64 " (expected 1..%d)", what, v,
                    INT32_MAX);
  return AT_OK;
}

static int collect_shapes(struct tuner *tu)
{
  const struct tune_opts *o = tu->o;
  int rc;
  if (o->shapes_file) {
    if (o->m || o->n || o->k)
      return at_error(AT_USAGE, "give --m/--n/--k or --shapes, not both");
    FILE *f = fopen(o->shapes_file, "r");
    if (!f)
      return at_error(AT_USAGE, "cannot read shapes file '%.200s': %s", o->shapes_file,
                      strerror(errno));
    char line[256];
    int lineno = 0;
    rc = AT_OK;
    while (rc == AT_OK && fgets(line, sizeof line, f)) {
      lineno++;
      char *s = line;
      while (*s == ' ' || *s == '\t')
        s++;
      if (*s == '#' || *s == '\n' || *s == '\0' || *s == '\r')
        continue;
      int64_t v[3];
      if (parse_shape_line(s, v) != 0) {
        rc = at_error(AT_USAGE, "%.200s:%d: bad shape (expected M N K, M,N,K or MxNxK)",
                      o->shapes_file, lineno);
        break;
      }
      for (int i = 0; i < 3 && rc == AT_OK; i++)
        rc = check_dim(i == 0 ? "m" : i == 1 ? "n" : "k", v[i]);
      if (rc == AT_OK && tu->nshapes >= TUNE_MAX_SHAPES)
        rc = at_error(AT_USAGE, "%.200s: more than %d shapes", o->shapes_file,
                      TUNE_MAX_SHAPES);
      if (rc == AT_OK)
        tu->shapes[tu->nshapes++] = (struct problem){v[0], v[1], v[2]};
    }
    fclose(f);
    if (rc == AT_OK && tu->nshapes == 0)
      rc = at_error(AT_USAGE, "no shapes in '%.200s'", o->shapes_file);
    return rc;
  }
  if (!o->m || !o->n || !o->k)
    return at_error(AT_USAGE, "gemm needs --m, --n and --k (or --shapes FILE); try "
                    "'autotune gemm --help'");
  if ((rc = check_dim("--m", o->m)) || (rc = check_dim("--n", o->n)) ||
      (rc = check_dim("--k", o->k)))
    return rc;
  tu->shapes[tu->nshapes++] = (struct problem){o->m, o->n, o->k};
  return AT_OK;
}

/* ---- canonical arguments and resume ---- */

static void canonical(const struct tuner *tu, char *out, size_t len)
{
  const char *paths[TUNE_MAX_TEMPLATES + 1];
  size_t n = 0;
  for (size_t i = 0; i < tu->ntpls; i++)
    paths[n++] = tu->tpls[i].path;
  tune_canonical_args(tu->o, paths, n, out, len);
  /* the shapes (from a file, their values) and the resolved defaults */
  size_t used = strlen(out);
  used += (size_t)snprintf(out + used, used < len ? len - used : 0,
                           " --device %s --dtype %s --layout %s --shapes ",
                           tu->dev->name, tu->dtype, tu->layout);
  for (size_t i = 0; i < tu->nshapes && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%" PRId64 "x%" PRId64 "x%" PRId64,
                             i ? ";" : "", tu->shapes[i].m, tu->shapes[i].n, tu->shapes[i].k);
  if (used < len)
    snprintf(out + used, len - used, " --budget %" PRId64 " --timeout %g --variant-time %g",
             tu->budget, tu->timeout_s, tu->variant_time_s);
}

void tune_canonical_args(const struct tune_opts *o, const char *const *template_paths,
                         size_t ntemplates, char *out, size_t len)
{
  size_t used = (size_t)snprintf(out, len, "gemm");
  if (o->emulate && used < len)
    used += (size_t)snprintf(out + used, len - used, " --emulate %s", o->emulate);
  if (used < len)
    used += (size_t)snprintf(out + used, len - used, " --template ");
  for (size_t i = 0; i < ntemplates && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", template_paths[i]);
  if (used < len)
    snprintf(out + used, len - used, " --strategy %s --time-budget %g --seed %" PRIu64,
             search_strategy_name(o->strategy), o->time_budget_s, o->seed);
}

struct find_run {
  const char *args;
  char uuid[DB_UUID_LEN + 1];
};

static int find_run_cb(void *ctx, const struct db_run *r)
{
  struct find_run *f = ctx;
  if (!r->ended_at && r->args && strcmp(r->args, f->args) == 0)
    snprintf(f->uuid, sizeof f->uuid, "%s", r->uuid); /* the latest wins */
  return 0;
}

static int known_add(struct tuner *tu, const char *key, const struct tune_measurement *m)
{
  if (tu->nknown == tu->capknown) {
    size_t cap = tu->capknown ? tu->capknown * 2 : 64;
    char **k = realloc(tu->known_keys, cap * sizeof *k);
    if (!k)
      return at_error(AT_NOMEM, "out of memory");
    tu->known_keys = k;
    struct tune_measurement *v = realloc(tu->known, cap * sizeof *v);
    if (!v)
      return at_error(AT_NOMEM, "out of memory");
    tu->known = v;
    tu->capknown = cap;
  }
  if (!(tu->known_keys[tu->nknown] = strdup(key)))
    return at_error(AT_NOMEM, "out of memory");
  tu->known[tu->nknown++] = *m;
  return AT_OK;
}

static void known_key(char *out, size_t len, const char *kernel, const char *dims,
                      const char *config)
{
  snprintf(out, len, "%s|%s|%s", kernel, dims, config);
}

static int load_known_cb(void *ctx, const struct db_trial *t)
{
  struct tuner *tu = ctx;
  if (strcmp(t->run_uuid, tu->run_uuid) != 0)
    return 0;
  char *dims = db_problem_dims_text(&t->problem), key[2048];
  if (!dims)
    return at_error(AT_NOMEM, "out of memory");
  char pd[160];
  snprintf(pd, sizeof pd, "%s %s %s", t->problem.dtype, t->problem.layout, dims);
  free(dims);
  known_key(key, sizeof key, t->kernel, pd, t->config);
  struct tune_measurement m = {.status = t->status, .median_us = t->time_median_us,
                               .min_us = t->time_min_us, .max_us = t->time_max_us,
                               .spread = t->time_spread, .reps = t->repetitions};
  snprintf(m.message, sizeof m.message, "%s", t->message ? t->message : "");
  return known_add(tu, key, &m);
}

static const struct tune_measurement *known_find(const struct tuner *tu, const char *key)
{
  for (size_t i = 0; i < tu->nknown; i++)
    if (strcmp(tu->known_keys[i], key) == 0)
      return &tu->known[i];
  return NULL;
}

static int open_run(struct tuner *tu)
{
  int rc;
  canonical(tu, tu->args, sizeof tu->args);
  if (tu->o->resume) {
    struct find_run f = {.args = tu->args};
    if ((rc = db_each_run(tu->db, find_run_cb, &f)) != AT_OK)
      return rc;
    if (f.uuid[0]) {
      snprintf(tu->run_uuid, sizeof tu->run_uuid, "%s", f.uuid);
      tu->resumed = tu->run_put = true;
      if ((rc = db_each_trial(tu->db, load_known_cb, tu)) != AT_OK)
        return rc;
    } else if (!tu->o->json) {
      cli_error("nothing to resume: no unfinished run with these arguments in %s; starting "
                "a new run", tu->db_path);
    }
  }
  if (!tu->run_uuid[0])
    db_uuid(tu->run_uuid);
  return AT_OK;
}

/* Put the run record once, before its first trial. */
static int put_run(struct tuner *tu, const char *toolchain)
{
  if (tu->run_put)
    return AT_OK;
  char host[256] = "", now[32];
  gethostname(host, sizeof host - 1);
  db_now(now);
  struct db_run r = {.host = host, .started_at = now, .toolchain = toolchain,
                     .autotune_version = at_version(),
                     .strategy = search_strategy_name(tu->o->strategy), .args = tu->args};
  snprintf(r.uuid, sizeof r.uuid, "%s", tu->run_uuid);
  int rc = db_put_run(tu->db, &r, NULL);
  if (rc == AT_OK)
    tu->run_put = true;
  return rc;
}

/* ---- recording ---- */

static void fill_problem(const struct tuner *tu, struct db_problem *p)
{
  const struct problem *s = &tu->shapes[tu->cur];
  *p = (struct db_problem){.op = "gemm", .dtype = tu->dtype, .layout = tu->layout,
                           .ndims = 3, .dim_names = {"m", "n", "k"},
                           .dims = {s->m, s->n, s->k}};
}

static int record(struct tuner *tu, const struct tpl *p, size_t bv,
                  const struct tune_measurement *m)
{
  const struct bld_variant *v = &p->br.variants[bv];
  struct db_trial t;
  db_trial_init(&t);
  db_uuid(t.uuid);
  snprintf(t.run_uuid, sizeof t.run_uuid, "%s", tu->run_uuid);
  t.device = tu->dev_name;
  t.arch = tu->arch;
  t.vendor = tu->o->emulate ? "host" : dev_vendor_name(tu->dev->vendor);
  t.kernel = p->t->kernel;
  t.kernel_hash = p->t->hash;
  fill_problem(tu, &t.problem);
  t.config = v->config_text;
  t.status = m->status;
  if (m->status == DB_TRIAL_OK) {
    t.time_median_us = m->median_us;
    t.time_min_us = m->min_us;
    t.time_max_us = m->max_us;
    t.time_spread = m->spread;
    t.repetitions = m->reps;
    t.tflops = gemm_flops(&tu->gp) / (m->median_us * 1e-6) / 1e12;
    t.gbps = gemm_bytes(&tu->gp) / (m->median_us * 1e-6) / 1e9;
  }
  t.registers = v->res.registers;
  t.spills = v->res.spill_bytes >= 0 ? v->res.spill_bytes
             : v->res.vgpr_spills >= 0 ? (int64_t)v->res.vgpr_spills +
                                             (v->res.sgpr_spills > 0 ? v->res.sgpr_spills : 0)
                                       : -1;
  t.shared_bytes = v->res.shared_bytes >= 0 ? v->res.shared_bytes + v->launch.shared : -1;
  t.occupancy = v->verdict == BLD_COMPILE_ERROR || tu->dev->vendor == DEV_HOST
                    ? NAN : v->occ.occupancy;
  t.message = m->message[0] ? m->message : NULL;
  int rc = db_put_trial(tu->db, &t, NULL);
  if (rc == AT_OK)
    tu->trials_recorded++;
  return rc;
}

/* ---- progress ---- */

static void fmt_eta(double s, char *out, size_t len)
{
  if (!(s >= 0) || s > 359999)
    snprintf(out, len, "-");
  else
    snprintf(out, len, "%d:%02d", (int)s / 60, (int)s % 60);
}

static void progress(struct tuner *tu)
{
  if (!tu->o->progress)
    return;
  char best[64] = "-", eta[16];
  if (isfinite(tu->best_us))
    snprintf(best, sizeof best, "%.1f us (%.3g TFLOP/s)", tu->best_us,
             gemm_flops(&tu->gp) / (tu->best_us * 1e-6) / 1e12);
  double per = tu->fresh ? tu->meas_spent / (double)tu->fresh : 0;
  size_t left = tu->planned > tu->evals ? tu->planned - tu->evals : 0;
  fmt_eta(per * (double)left, eta, sizeof eta);
  printf("\r[gemm] compiled %zu/%zu \xc2\xb7 verified %zu \xc2\xb7 timed %zu \xc2\xb7 failed "
         "%zu \xc2\xb7 best %s \xc2\xb7 ETA %s\033[K",
         tu->compiled, tu->compile_total, tu->verified, tu->timed, tu->failed, best, eta);
  fflush(stdout);
  tu->progress_shown = true;
}

static void progress_clear(struct tuner *tu)
{
  if (tu->progress_shown) {
    printf("\r\033[K");
    fflush(stdout);
    tu->progress_shown = false;
  }
}

static void build_progress(void *ctx, const struct bld_progress *bp)
{
  struct tuner *tu = ctx;
  size_t save = tu->compiled;
  tu->compiled = save + bp->variants_done;
  progress(tu);
  tu->compiled = save;
}

/* ---- the model ---- */

static int64_t param_value(const struct tpl *p, const int64_t *cfg, const char *const *names)
{
  for (size_t i = 0; names[i]; i++)
    for (size_t j = 0; j < p->t->nparams; j++)
      if (strcmp(p->t->params[j].name, names[i]) == 0)
        return cfg[j];
  return 0;
}

/*
 * Predicted time (us) of a variant: the GEMM's padded work over an attainable rate.
 * Tile (BM x BN x BK, or the grid's share of C) gives the tile efficiency (useful / padded
 * work) and the arithmetic intensity (2 BM BN BK flops per (BM + BN) BK elements loaded);
 * the roofline gives min(peak, AI x bandwidth); the grid over CUs x resident blocks gives
 * the wave quantization; occupancy below 25% hides latency less. On the host (no peak) a
 * nominal CPU rate and a per-GPU-thread-per-k-step emulation cost stand in: the ranking,
 * not the absolute number, is what the model strategy uses.
 */
static double model_time(const struct tuner *tu, const struct tpl *p, const int64_t *cfg,
                         const struct gen_launch *launch, const struct occ_result *occ)
{
  static const char *const bm_n[] = {"BM", "BLOCK_M", "TILE_M", "MT", NULL};
  static const char *const bn_n[] = {"BN", "BLOCK_N", "TILE_N", "NT", NULL};
  static const char *const bk_n[] = {"BK", "BLOCK_K", "TILE_K", "KT", NULL};
  const struct problem *s = &tu->shapes[tu->cur];
  const struct dev_profile *d = tu->space_dev;
  double blocks = (double)(launch->grid[0] * launch->grid[1] * launch->grid[2]);
  double threads = (double)(launch->threads[0] * launch->threads[1] * launch->threads[2]);
  double bm = (double)param_value(p, cfg, bm_n), bn = (double)param_value(p, cfg, bn_n);
  double bk = (double)param_value(p, cfg, bk_n);
  if (bm <= 0 || bn <= 0)
    bm = bn = sqrt((double)s->m * (double)s->n / (blocks > 0 ? blocks : 1));
  if (bk <= 0)
    bk = 8;
  double pm = ceil((double)s->m / bm) * bm, pn = ceil((double)s->n / bn) * bn;
  double flops = 2.0 * pm * pn * (double)s->k;
  double esz = (double)gemm_dtype_size(tu->gdt);
  double ai = 2.0 * bm * bn * bk / ((bm + bn) * bk * esz);
  bool host = tu->dev->vendor == DEV_HOST;
  double peak = tu->gdt == GEMM_F16 ? d->peak_tflops_f16
                : tu->gdt == GEMM_BF16 ? d->peak_tflops_bf16 : d->peak_tflops_f32;
  double bw = d->mem_bandwidth_gbs * 1e9;
  if (host || peak <= 0 || bw <= 0) {
    peak = 1e-3 * (d->compute_units > 0 ? d->compute_units : 1); /* 1 GFLOP/s a core */
    bw = peak * 1e12 / 8.0;
  }
  double rate = fmin(peak * 1e12, ai * bw);
  int cus = d->compute_units > 0 ? d->compute_units : 1;
  int per_cu = host || !occ ? 1 : occ->blocks_per_cu > 0 ? occ->blocks_per_cu : 1;
  double slots = (double)cus * per_cu, waves = ceil(blocks / slots);
  double weff = blocks > 0 ? blocks / (waves * slots) : 1;
  double o = host || !occ ? 1 : occ->occupancy;
  double lat = 0.5 + 0.5 * fmin(1.0, o / 0.25);
  double t = flops / (rate * weff * lat) * 1e6;
  if (host) /* fiber switches: every GPU thread, every k-step */
    t += blocks * threads * ceil((double)s->k / bk) * 0.05 / cus;
  return t;
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
  p->ok = NULL;
  p->res = NULL;
  p->have = NULL;
  p->model = NULL;
  p->nok = p->nconfigs = p->nvalid = 0;
  p->measured = p->failed = 0;
  memset(p->by_status, 0, sizeof p->by_status);
  p->def = p->best = SIZE_MAX;
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
 * order. Annealing and the genetic search depend on what they measure, so they compile
 * every valid config (cached on disk for the next run). The valid configs' count stays
 * in nvalid.
 */
static int preselect(struct tuner *tu, struct tpl *p)
{
  enum search_strategy st = tu->o->strategy;
  if (!tu->mb || tu->dev->vendor != DEV_HOST || tu->budget <= 0 || p->baseline ||
      (size_t)tu->budget >= p->nconfigs ||
      !(st == SEARCH_EXHAUSTIVE || st == SEARCH_RANDOM || st == SEARCH_MODEL))
    return AT_OK;
  size_t n = p->nconfigs, nd = 0;
  int32_t *coords = NULL;
  int rc = tmpl_search_coords(p->t, p->configs, NULL, n, &coords, &nd);
  if (rc != AT_OK)
    return rc;
  double *model = malloc(n * sizeof *model);
  size_t *picked = malloc((n + 1) * sizeof *picked);
  int64_t *keep = NULL;
  if (!coords || !model || !picked) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  struct gen_bind bind = {.dev = tu->space_dev, .dims = p->dims, .dtype = tu->dtype};
  for (size_t i = 0; i < n; i++) {
    const int64_t *cfg = p->configs + i * p->np;
    struct gen_launch l;
    model[i] = gen_emit_launch(p->t, &bind, cfg, &l) == AT_OK
                   ? model_time(tu, p, cfg, &l, NULL) : INFINITY;
  }
  struct search_space sp = {.npoints = n, .ndims = nd, .coords = coords, .model = model};
  struct search_opts so = {.strategy = st, .seed = tu->o->seed, .budget = (size_t)tu->budget};
  struct order_ctx oc = {.picked = picked};
  struct search_result sr;
  if ((rc = search_run(&sp, &so, order_cb, &oc, &sr)) != AT_OK)
    goto out;
  bool has_mid = false;
  for (size_t i = 0; i < oc.n; i++)
    has_mid |= picked[i] == n / 2;
  if (!has_mid)
    picked[oc.n++] = n / 2;
  /* keep the enumeration order, so the default is still the middle one (see build_tpl) */
  bool *sel = calloc(n, sizeof *sel);
  if (!sel || !(keep = malloc(oc.n * p->np * sizeof *keep))) {
    free(sel);
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < oc.n; i++)
    sel[picked[i]] = true;
  size_t k = 0, mid = 0;
  for (size_t i = 0; i < n; i++)
    if (sel[i]) {
      if (i == n / 2)
        mid = k;
      memcpy(keep + k++ * p->np, p->configs + i * p->np, p->np * sizeof *keep);
    }
  free(sel);
  free(p->configs);
  p->configs = keep;
  p->nconfigs = k;
  p->mid = mid;
  keep = NULL;
out:
  free(coords);
  free(model);
  free(picked);
  free(keep);
  return rc;
}

/* Span, compile and record the static verdicts of one template. A template that cannot
 * be built here is reported and skipped (p->skip); only database and memory failures
 * are returned. */
static int build_tpl(struct tuner *tu, struct tpl *p)
{
  const struct problem *s = &tu->shapes[tu->cur];
  int rc;
  char name[PATH_MAX];
  tune_base_name(p->path, name, sizeof name);
  for (size_t i = 0; i < p->t->ndims; i++) {
    const char *d = p->t->dims[i];
    p->dims[i] = !strcasecmp(d, "M") ? s->m : !strcasecmp(d, "N") ? s->n
                 : !strcasecmp(d, "K") ? s->k : !strcasecmp(d, "TA") ? tu->ta
                 : !strcasecmp(d, "TB") ? tu->tb : 1;
  }
  if ((rc = tmpl_space(p->t, tu->space_dev, p->dims, &p->space)) != AT_OK ||
      (rc = gen_space_collect(p->space, &p->configs, &p->nconfigs, NULL)) != AT_OK) {
    if (rc == AT_NOMEM)
      return rc;
    snprintf(p->skip, sizeof p->skip, "%s", at_last_error());
    goto skipped;
  }
  p->mid = p->nconfigs / 2;
  p->np = gen_space_param_count(p->space);
  if (p->nconfigs == 0) {
    snprintf(p->skip, sizeof p->skip, "no valid variant on %s for %s %s", tu->space_dev->name,
             tu->dtype, tu->layout);
    goto skipped;
  }
  p->nvalid = p->nconfigs;
  if ((rc = preselect(tu, p)) != AT_OK)
    return rc;
  tu->compile_total = tu->compiled + p->nconfigs;
  const char *incs[] = {p->common, NULL};
  struct bld_options bo = {.jobs = tu->o->jobs, .include_dirs = incs,
                           .cache_dir = tu->o->no_cache ? "" : NULL,
                           .emulate = tu->o->emulate != NULL,
                           .progress = tu->o->progress ? build_progress : NULL,
                           .progress_ctx = tu};
  rc = bld_run(p->t, p->space, tu->space_dev, p->dims, tu->dtype, p->configs, p->nconfigs,
               &bo, &p->br);
  if (rc != AT_OK) {
    if (rc == AT_NOMEM || rc == AT_INTERRUPTED)
      return rc;
    snprintf(p->skip, sizeof p->skip, "cannot compile: %s", at_last_error());
    goto skipped;
  }
  tu->compiled += p->nconfigs;
  size_t n = p->br.nvariants;
  p->ok = calloc(n, sizeof *p->ok);
  p->res = calloc(n, sizeof *p->res);
  p->have = calloc(n, sizeof *p->have);
  if (!p->ok || !p->res || !p->have)
    return at_error(AT_NOMEM, "out of memory");
  if ((rc = put_run(tu, p->br.toolchain)) != AT_OK)
    return rc;
  if ((rc = db_begin(tu->db)) != AT_OK)
    return rc;
  for (size_t i = 0; i < n && rc == AT_OK; i++) {
    const struct bld_variant *v = &p->br.variants[i];
    if (v->verdict == BLD_OK) {
      p->ok[p->nok++] = i;
      continue;
    }
    struct tune_measurement m = {.status = v->verdict == BLD_PRUNED ? DB_TRIAL_PRUNED
                                                                     : DB_TRIAL_COMPILE_ERROR,
                                 .median_us = NAN};
    snprintf(m.message, sizeof m.message, "%s", v->reason);
    p->res[i] = m;
    p->have[i] = true;
    p->by_status[m.status]++;
    char key[2048];
    known_key(key, sizeof key, p->t->kernel, tu->dims_text, v->config_text);
    if (known_find(tu, key)) {
      tu->trials_resumed++;
      continue;
    }
    rc = record(tu, p, i, &m);
  }
  if (rc == AT_OK)
    rc = db_commit(tu->db);
  else
    db_rollback(tu->db);
  if (rc != AT_OK)
    return rc;
  /* the default config: the middle of the valid ones, else the nearest that compiled */
  for (size_t d = 0; d <= n && p->def == SIZE_MAX; d++) {
    size_t mid = p->mid;
    if (mid + d < n && p->br.variants[mid + d].verdict == BLD_OK)
      p->def = mid + d;
    else if (d <= mid && p->br.variants[mid - d].verdict == BLD_OK)
      p->def = mid - d;
  }
  if (!(p->model = calloc(p->nok ? p->nok : 1, sizeof *p->model)))
    return at_error(AT_NOMEM, "out of memory");
  for (size_t i = 0; i < p->nok; i++)
    p->model[i] = model_time(tu, p, p->configs + p->ok[i] * p->np,
                             &p->br.variants[p->ok[i]].launch, &p->br.variants[p->ok[i]].occ);
  return AT_OK;
skipped:
  progress_clear(tu);
  cli_error("skipping template %s: %s", name, p->skip);
  return AT_OK;
}

/* Measure (or recall) bld variant bv of p. */
static int measure(struct tuner *tu, struct tpl *p, size_t bv, size_t job)
{
  if (p->have[bv])
    return AT_OK;
  struct tune_measurement m;
  char key[2048];
  known_key(key, sizeof key, p->t->kernel, tu->dims_text, p->br.variants[bv].config_text);
  const struct tune_measurement *k = known_find(tu, key);
  int rc;
  if (k) {
    m = *k;
    tu->trials_resumed++;
  } else {
    if (intr_requested())
      return AT_INTERRUPTED;
    double t0 = at_now_s();
    if ((rc = tune_worker_run(tu->worker, job, tu->timeout_s, &m)) != AT_OK)
      return rc;
    if (intr_requested() && m.status != DB_TRIAL_OK)
      return AT_INTERRUPTED; /* maybe the signal's doing: measured again on --resume */
    tu->meas_spent += at_now_s() - t0;
    tu->fresh++;
    if ((rc = record(tu, p, bv, &m)) != AT_OK)
      return rc;
  }
  p->res[bv] = m;
  p->have[bv] = true;
  p->measured++;
  p->by_status[m.status]++;
  if (m.status == DB_TRIAL_OK) {
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

struct eval_ctx {
  struct tuner *tu;
  struct tpl *p;
  int rc;
};

static int eval_cb(void *ctx, size_t point, double *cost)
{
  struct eval_ctx *e = ctx;
  struct tpl *p = e->p;
  size_t bv = p->ok[point];
  bool had = p->have[bv];
  int rc = measure(e->tu, p, bv, p->job0 + point);
  if (rc != AT_OK)
    return e->rc = rc;
  if (!had)
    e->tu->evals++;
  *cost = p->res[bv].status == DB_TRIAL_OK ? p->res[bv].median_us : INFINITY;
  return AT_OK;
}

static int search_tpl(struct tuner *tu, struct tpl *p)
{
  int rc;
  if (p->baseline || p->nok == 0)
    return AT_OK;
  if (p->def != SIZE_MAX) {
    size_t point = 0;
    while (p->ok[point] != p->def)
      point++;
    if ((rc = measure(tu, p, p->def, p->job0 + point)) != AT_OK)
      return rc;
  }
  double left = 0;
  if (tu->o->time_budget_s > 0) {
    left = tu->o->time_budget_s - (at_now_s() - tu->meas_t0);
    if (left <= 0)
      return AT_OK;
  }
  int32_t *coords = NULL;
  size_t nd = 0;
  if ((rc = tmpl_search_coords(p->t, p->configs, p->ok, p->nok, &coords, &nd)) != AT_OK)
    return rc;
  struct search_space sp = {.npoints = p->nok, .ndims = nd, .coords = coords,
                            .model = p->model};
  struct search_opts so = {.strategy = tu->o->strategy, .seed = tu->o->seed,
                           .budget = tu->budget > 0 ? (size_t)tu->budget : 0,
                           .time_budget_s = left};
  struct eval_ctx e = {.tu = tu, .p = p};
  rc = search_run(&sp, &so, eval_cb, &e, &p->sr);
  free(coords);
  return rc != AT_OK ? rc : e.rc;
}

/* ---- one problem ---- */

static int64_t flush_bytes(const struct tuner *tu)
{
  const struct dev_profile *d = tu->dev;
  int64_t llc = d->llc_bytes > 0 ? d->llc_bytes : d->l2_bytes;
  if (d->vendor == DEV_HOST) {
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    llc = l3 > 0 ? l3 : 32 << 20;
  }
  int64_t b = 2 * (llc > 0 ? llc : 32 << 20);
  /* the host's L3 figure may be a whole socket's: no more than 256 MiB of memset */
  return d->vendor == DEV_HOST && b > (256 << 20) ? 256 << 20 : b;
}

static int run_problem(struct tuner *tu)
{
  const struct problem *s = &tu->shapes[tu->cur];
  int rc = AT_OK;
  tu->gp = (struct gemm_problem){.dtype = tu->gdt, .ta = tu->ta, .tb = tu->tb, .m = s->m,
                                 .n = s->n, .k = s->k, .alpha = 1.0f, .beta = 0.0f};
  gemm_problem_resolve(&tu->gp);
  snprintf(tu->dims_text, sizeof tu->dims_text, "%s %s m=%" PRId64 ",n=%" PRId64 ",k=%" PRId64,
           tu->dtype, tu->layout, s->m, s->n, s->k);
  tu->compile_total = tu->compiled = 0;
  for (size_t i = 0; i < tu->ntpls && rc == AT_OK; i++)
    if (!tu->tpls[i].skip[0])
      rc = build_tpl(tu, &tu->tpls[i]);
  tu->compile_total = tu->compiled;
  if (rc != AT_OK)
    return rc;
  if (!tu->run_put && (rc = put_run(tu, NULL)) != AT_OK)
    return rc;
  if (!tu->mb)
    return AT_OK;

  /* the jobs table, then one worker for the problem */
  size_t njobs = 0;
  for (size_t i = 0; i < tu->ntpls; i++)
    if (!tu->tpls[i].skip[0])
      njobs += tu->tpls[i].nok;
  free(tu->jobs);
  if (!(tu->jobs = calloc(njobs + 1, sizeof *tu->jobs)))
    return at_error(AT_NOMEM, "out of memory");
  tu->njobs = 0;
  tu->planned = tu->evals = 0;
  for (size_t i = 0; i < tu->ntpls; i++) {
    struct tpl *p = &tu->tpls[i];
    if (p->skip[0])
      continue;
    p->job0 = tu->njobs;
    for (size_t j = 0; j < p->nok; j++) {
      const struct bld_variant *v = &p->br.variants[p->ok[j]];
      const struct bld_batch *b = &p->br.batches[v->batch];
      tu->jobs[tu->njobs++] = (struct tune_job){.code = b->code, .code_size = b->code_size,
                                                .name = v->name, .launch = v->launch};
    }
    size_t want = p->baseline ? p->nok : tu->budget > 0 && (size_t)tu->budget < p->nok
                                             ? (size_t)tu->budget : p->nok;
    tu->planned += want;
  }
  if (njobs == 0)
    return AT_OK;
  gemm_data_release(&tu->data);
  if ((rc = gemm_data_init(&tu->data, &tu->gp, 1)) != AT_OK)
    return rc;
  struct tune_worker_cfg wc = {.mb = tu->mb, .jobs = tu->o->jobs, .data = &tu->data,
                               .jobs_table = tu->jobs, .njobs = tu->njobs,
                               .flush_bytes = flush_bytes(tu),
                               .variant_time_s = tu->variant_time_s};
  if ((rc = tune_worker_start(&wc, &tu->worker)) != AT_OK)
    return rc;
  if (!tu->meas_t0)
    tu->meas_t0 = at_now_s();
  for (size_t i = 0; i < tu->ntpls && rc == AT_OK; i++) {
    struct tpl *p = &tu->tpls[i];
    if (p->skip[0] || !p->baseline)
      continue;
    for (size_t j = 0; j < p->nok && rc == AT_OK; j++)
      if ((rc = measure(tu, p, p->ok[j], p->job0 + j)) == AT_OK)
        tu->evals++;
  }
  for (size_t i = 0; i < tu->ntpls && rc == AT_OK; i++)
    if (!tu->tpls[i].skip[0])
      rc = search_tpl(tu, &tu->tpls[i]);
  tu->restarts += tune_worker_restarts(tu->worker);
  tune_worker_stop(tu->worker);
  tu->worker = NULL;
  progress_clear(tu);
  return rc;
}

/* ---- the run ---- */

static void release(struct tuner *tu)
{
  tune_worker_stop(tu->worker);
  gemm_data_release(&tu->data);
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

static int setup(struct tuner *tu)
{
  const struct tune_opts *o = tu->o;
  int rc;
  if (!o->device)
    return at_error(AT_USAGE, "gemm needs --device (a profile name such as h100 or host, or an "
                    "arch such as gfx942); try 'autotune devices'");
  if (!(tu->dev = dev_find(o->device)))
    return AT_USAGE;
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
  tu->dtype = o->dtype ? o->dtype : tu->space_dev->vendor == DEV_HOST ? "f32" : "f16";
  if ((rc = gemm_parse_dtype(tu->dtype, &tu->gdt)) != AT_OK)
    return rc;
  tu->dtype = gemm_dtype_name(tu->gdt);
  tu->layout = o->layout ? o->layout : "NN";
  if ((rc = gemm_parse_layout(tu->layout, &tu->ta, &tu->tb)) != AT_OK)
    return rc;
  tu->layout = tu->ta ? tu->tb ? "TT" : "TN" : tu->tb ? "NT" : "NN";
  if ((rc = collect_shapes(tu)) != AT_OK)
    return rc;
  if (o->budget < -1)
    return at_error(AT_USAGE, "bad --budget %" PRId64 " (a count of variants, at least 1)",
                    o->budget);
  if (o->time_budget_s < 0 || o->timeout_s < 0 || o->variant_time_s < 0)
    return at_error(AT_USAGE, "bad time: --time-budget, --timeout and --variant-time are "
                    "seconds >= 0");
  bool host = tu->dev->vendor == DEV_HOST;
  tu->budget = o->budget == -1 ? 0 : o->budget ? o->budget : host ? TUNE_HOST_DEFAULT_BUDGET : 0;
  tu->timeout_s = o->timeout_s > 0 ? o->timeout_s : TUNE_DEFAULT_TIMEOUT_S;
  tu->variant_time_s = o->variant_time_s > 0 ? o->variant_time_s : host ? 0.3 : 0.2;
  tu->best_us = INFINITY;

  const char *path = o->db_path ? o->db_path : cli_default_db(true);
  if (!path)
    return at_error(AT_IO, "no database: give --db FILE (no HOME to put the default in)");
  snprintf(tu->db_path, sizeof tu->db_path, "%s", path);
  if ((rc = db_open(tu->db_path, DB_CREATE, &tu->db)) != AT_OK)
    return rc;
  if ((rc = collect_templates(tu)) != AT_OK)
    return rc;

  /* where to measure */
  if (host) {
    tu->mb = &meas_host;
  } else {
    /* if one opens: gpu_present() */
    tu->mb = tu->dev->vendor == DEV_NVIDIA ? &meas_cuda : &meas_hip;
  }
  return AT_OK;
}

/* Whether a GPU opens here through tu->mb, asked of a short-lived child so that this
 * process never holds a GPU context (tune_worker.c, invariant 4). */
static bool gpu_present(struct tuner *tu)
{
  /* the worker itself probes: start one with an empty job table on a 1x1x1 problem */
  struct gemm_problem p = {.dtype = GEMM_F32, .m = 1, .n = 1, .k = 1, .alpha = 1};
  struct gemm_data d;
  if (gemm_data_init(&d, &p, 1) != AT_OK)
    return false;
  struct tune_worker_cfg wc = {.mb = tu->mb, .data = &d};
  struct tune_worker *w = NULL;
  int rc = tune_worker_start(&wc, &w);
  tune_worker_stop(w);
  gemm_data_release(&d);
  if (rc != AT_OK)
    snprintf(tu->no_meas, sizeof tu->no_meas, "no %s opens here (%.300s): compiled and pruned "
             "for %s only, no measurement is possible here", tu->dev->name, at_last_error(),
             tu->dev->arch);
  return rc == AT_OK;
}

int tune_run(const struct tune_opts *o)
{
  struct tuner *tu = calloc(1, sizeof *tu);
  if (!tu)
    return at_error(AT_NOMEM, "out of memory");
  tu->o = o;
  tu->t0 = at_now_s();
  int rc = setup(tu);
  if (rc != AT_OK)
    goto out;
  if (tu->mb && tu->mb != &meas_host && !gpu_present(tu))
    tu->mb = NULL;
  load_templates(tu);
  size_t usable = 0;
  for (size_t i = 0; i < tu->ntpls; i++)
    usable += !tu->tpls[i].skip[0] && !tu->tpls[i].baseline;
  if (usable == 0) {
    rc = at_error(o->ntemplates ? AT_USAGE : AT_UNSUPPORTED, "no gemm template loads for %s",
                  tu->dev->name);
    goto out;
  }
  if ((rc = open_run(tu)) != AT_OK)
    goto out;
  if (o->json)
    printf("{\"device\":\"%s\",\"emulate\":%s%s%s,\"arch\":\"%s\",\"dtype\":\"%s\",\"layout\":"
           "\"%s\",\"strategy\":\"%s\",\"seed\":%" PRIu64 ",\"budget\":%" PRId64 ",\"problems\":[",
           tu->dev->name, o->emulate ? "\"" : "", o->emulate ? tu->space_dev->name : "null",
           o->emulate ? "\"" : "", tu->arch, tu->dtype, tu->layout,
           search_strategy_name(o->strategy), o->seed, tu->budget);
  for (tu->cur = 0; tu->cur < tu->nshapes; tu->cur++) {
    for (size_t i = 0; i < tu->ntpls; i++)
      if (!tu->tpls[i].load_failed)
        tu->tpls[i].skip[0] = '\0'; /* a template skipped for one shape may fit the next */
    if ((rc = run_problem(tu)) != AT_OK) {
      progress_clear(tu);
      if (rc == AT_INTERRUPTED)
        rc = intr_error(tu->trials_recorded);
      if (o->json)
        printf("]}\n");
      goto out;
    }
    if (o->json) {
      tune_print_json_problem(tu);
    } else {
      if (tu->cur)
        printf("\n");
      if (tu->mb)
        tune_print_text(tu);
      else if (o->strategy == SEARCH_MODEL)
        tune_print_model_ranking(tu);
    }
    if (!tu->mb && !o->json) {
      size_t nv = 0, pr = 0, ce = 0;
      for (size_t i = 0; i < tu->ntpls; i++) {
        nv += tu->tpls[i].nconfigs;
        pr += tu->tpls[i].by_status[DB_TRIAL_PRUNED];
        ce += tu->tpls[i].by_status[DB_TRIAL_COMPILE_ERROR];
      }
      printf("gemm on %s: %zu variants compiled for %s, %zu pruned, %zu compile errors; %s\n",
             tu->dev->name, nv, tu->dev->arch, pr, ce, tu->no_meas);
    }
    for (size_t i = 0; i < tu->ntpls; i++)
      if (tu->cur + 1 < tu->nshapes)
        tpl_release_problem(&tu->tpls[i]);
  }
  tu->cur = tu->nshapes - 1;
  if ((rc = db_end_run(tu->db, tu->run_uuid)) != AT_OK)
    goto out;
  double wall = at_now_s() - tu->t0;
  if (o->json) {
    printf("],\"measured_here\":%s,\"no_measurement\":", tu->mb ? "true" : "false");
    json_write_str(stdout, tu->mb ? NULL : tu->no_meas);
    printf(",\"run\":\"%s\",\"resumed\":%s,\"db\":", tu->run_uuid, tu->resumed ? "true" : "false");
    json_write_str(stdout, tu->db_path);
    printf(",\"trials_recorded\":%zu,\"trials_resumed\":%zu,\"worker_restarts\":%zu,"
           "\"wall_s\":", tu->trials_recorded, tu->trials_resumed, tu->restarts);
    json_write_double(stdout, wall);
    printf("}\n");
  } else {
    char eta[16];
    fmt_eta(wall, eta, sizeof eta);
    printf("run %s%s in %s: %zu trials recorded%s, %s\n", tu->run_uuid,
           tu->resumed ? " (resumed)" : "", tu->db_path, tu->trials_recorded,
           tu->trials_resumed ? " (the rest recalled from the resumed run)" : "", eta);
  }
  fflush(stdout);
out:
  release(tu);
  free(tu);
  return rc;
}
