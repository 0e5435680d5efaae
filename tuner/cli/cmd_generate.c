/*
 * cmd_generate.c - `autotune generate <op|template.h> --device D ...`: find and load a
 * kernel template, span its space for a device and a problem, and then, as asked, print
 * the pruning statistics (--stats), write the variant sources and an index (--out), and
 * compile every valid variant through the build pipeline (tuner/compile/build.h) into a table of
 * resource usage, occupancy and verdicts (--compile). An op name is looked up as
 * <dir>/<op>.h or <dir>/<any>/<op>.h in the template folders: $AUTOTUNE_TEMPLATES, the
 * installed tree's <prefix>/share/autotune/templates (found from the binary's own path),
 * then the source tree's templates/ (AT_TEMPLATES_DIR). The compiler's include folder is
 * the `common` folder of that template tree.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "generator/emit.h"
#include "generator/space.h"
#include "generator/template.h"
#include "tuner/compile/build.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "base/device.h"
#include "tuner/ops/op.h"
#include "tuner/ops/op_gemm.h"
#include "base/os.h"
#include "base/status.h"
#include "tuner/engine/template_dirs.h"

static const char usage[] =
    "autotune generate <op|template.h> --device D [--m M --n N --k K | --dim NAME=VALUE ...] "
    "[--dtype T] [--out DIR] [--stats] [--compile] [--jobs N] [--batch N] [--backend NAME] "
    "[--no-cache] [--emulate D2] [--sanitize] [--json]";
static const char description[] =
    "Span a kernel template's search space for a device and a problem and list its valid\n"
    "variants. The argument is a template name found in the template folders\n"
    "($AUTOTUNE_TEMPLATES, the installed share/autotune/templates, the source tree), a\n"
    "template's path, or an op (gemm): then every template of the op that is for the\n"
    "device, one after the other (layout NN unless --dim TA=/TB= say otherwise; --json:\n"
    "one object per template and line). Dims not given take 4096. --stats: raw and valid sizes and what each constraint\n"
    "removed. --out: one source file per batch (.cu, .hip, .cpp) and variants.tsv.\n"
    "--compile: compile every variant (cached in $AUTOTUNE_CACHE_DIR, else\n"
    "$XDG_CACHE_HOME/autotune, else ~/.cache/autotune) and print registers, spills,\n"
    "shared memory, occupancy and a verdict (ok, pruned, compile_error) per variant.\n"
    "--device host --emulate D2: the space exactly as for D2 (mi300x, h100, gfx942, ...),\n"
    "compiled for the host device emulating it (its wave size, its MFMA or mma.sync);\n"
    "--sanitize builds those host variants with AddressSanitizer and UBSan.\n"
    "Exit 0 on success, 1 when compiling could not run, 2 on bad input.";


/* ---- finding the template ---- */


/* The template folders, in search order; each entry a buffer of PATH_MAX. */
static int cmp_str(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* <dir>/<op>.h, else the first <dir>/<sub>/<op>.h in name order. */
static bool find_in(const char *dir, const char *op, char *out, size_t len)
{
  if (snprintf(out, len, "%s/%s.h", dir, op) < (int)len && at_is_file(out))
    return true;
  DIR *d = opendir(dir);
  if (!d)
    return false;
  char *names[256];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < sizeof names / sizeof names[0])
    if (e->d_name[0] != '.' && (names[n] = strdup(e->d_name)) != NULL)
      n++;
  closedir(d);
  qsort(names, n, sizeof names[0], cmp_str);
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    if (!found && snprintf(out, len, "%s/%s/%s.h", dir, names[i], op) < (int)len &&
        at_is_file(out))
      found = true;
    free(names[i]);
  }
  return found;
}

static bool has_common(const char *dir, char *common, size_t len)
{
  char probe[PATH_MAX + 32];
  snprintf(probe, sizeof probe, "%s/at_common.h", dir);
  if (!at_is_file(probe))
    return false;
  snprintf(common, len, "%s", dir);
  return true;
}

/* The template file for `arg` and the include folder to go with it. Returns CLI_OK or
 * CLI_USAGE after a message. */
static int resolve(const char *arg, char *path, char *common)
{
  char dirs[TEMPLATE_DIRS_MAX][PATH_MAX], cand[PATH_MAX + 16];
  size_t nd = template_dirs(dirs);
  size_t alen = strlen(arg);
  common[0] = '\0';
  if (strchr(arg, '/') || (alen > 2 && strcmp(arg + alen - 2, ".h") == 0)) {
    if (alen >= PATH_MAX) {
      cli_error("template path too long");
      return CLI_USAGE;
    }
    snprintf(path, PATH_MAX, "%s", arg);
    /* the `common` folder next to the template tree, else the installed one */
    char dir[PATH_MAX];
    const char *slash = strrchr(arg, '/');
    if (slash)
      snprintf(dir, sizeof dir, "%.*s", slash == arg ? 1 : (int)(slash - arg), arg);
    else
      snprintf(dir, sizeof dir, ".");
    snprintf(cand, sizeof cand, "%s/../common", dir);
    if (has_common(cand, common, PATH_MAX))
      return CLI_OK;
    snprintf(cand, sizeof cand, "%s/common", dir);
    if (has_common(cand, common, PATH_MAX))
      return CLI_OK;
    for (size_t i = 0; i < nd; i++) {
      snprintf(cand, sizeof cand, "%.4000s/common", dirs[i]);
      if (has_common(cand, common, PATH_MAX))
        return CLI_OK;
    }
    return CLI_OK; /* none: the template may include nothing */
  }
  for (const char *p = arg; *p; p++)
    if (!(*p == '_' || *p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
          (*p >= 'A' && *p <= 'Z'))) {
      cli_error("unknown op or template '%.60s' (an op name or a path ending in .h); try "
                "'autotune generate --help'", arg);
      return CLI_USAGE;
    }
  for (size_t i = 0; i < nd; i++)
    if (find_in(dirs[i], arg, path, PATH_MAX)) {
      snprintf(cand, sizeof cand, "%.4000s/common", dirs[i]);
      has_common(cand, common, PATH_MAX);
      return CLI_OK;
    }
  cli_error("unknown op or template '%.60s' (no %.60s.h under %.200s); try 'autotune "
            "generate --help'", arg, arg, dirs[nd - 1]);
  return CLI_USAGE;
}

/* ---- dims ---- */

/* Parse "NAME=VALUE" into dims for t. Returns CLI_OK or CLI_USAGE after a message. */
static int set_dim(const struct tmpl *t, const char *name, size_t nlen, int64_t value,
                   const char *how, int64_t *dims, bool *given)
{
  for (size_t i = 0; i < t->ndims; i++)
    if (strlen(t->dims[i]) == nlen && strncasecmp(t->dims[i], name, nlen) == 0) {
      /* 0 is a legal value for flag-like dims (gemm's TA/TB: 0 is the 'N' layout) */
      if (value < 0) {
        cli_error("bad dim %s: %lld (expected an integer of at least 0)", how,
                  (long long)value);
        return CLI_USAGE;
      }
      dims[i] = value;
      *given = true;
      return CLI_OK;
    }
  char list[256] = "";
  for (size_t i = 0, used = 0; i < t->ndims && used < sizeof list; i++)
    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                             t->dims[i]);
  cli_error("bad dim %s: template '%s' has no dim '%.*s' (its dims: %s)", how, t->kernel,
            (int)(nlen > 40 ? 40 : nlen), name, t->ndims ? list : "none");
  return CLI_USAGE;
}

static int parse_dim(const struct tmpl *t, const char *arg, int64_t *dims, bool *given)
{
  const char *eq = strchr(arg, '=');
  char how[96];
  snprintf(how, sizeof how, "'%.60s'", arg);
  if (!eq || eq == arg) {
    cli_error("bad --dim %s (expected NAME=VALUE, e.g. N=4096)", how);
    return CLI_USAGE;
  }
  char what[64];
  int64_t v;
  snprintf(what, sizeof what, "--dim %.*s", (int)(eq - arg > 40 ? 40 : eq - arg), arg);
  if (cli_int(what, eq + 1, 0, INT64_MAX, &v) != CLI_OK)
    return CLI_USAGE;
  return set_dim(t, arg, (size_t)(eq - arg), v, how, dims, given);
}

/* ---- enumeration ---- */

struct configs {
  int64_t *v;
  size_t n, np;
};


/* ---- output ---- */

struct gen_cmd {
  const char *device_arg, *dtype, *outdir, *backend, *emulate_arg;
  bool emulate, sanitize;
  int64_t jobs, batch, mnk[3];
  bool stats, compile, no_cache, json;
  const struct dev_profile *dev;
  struct tmpl *t;
  struct gen_space *space;
  struct gen_space_stats st;
  struct configs cfg;
  int64_t dims[TMPL_MAX_DIMS];
  bool dims_given;
  char common[PATH_MAX];
};

static const char *target_ext(enum dev_vendor v)
{
  return v == DEV_NVIDIA ? "cu" : v == DEV_AMD ? "hip" : "cpp";
}

static enum cc_target vendor_target(enum dev_vendor v)
{
  return v == DEV_NVIDIA ? CC_CUDA : v == DEV_AMD ? CC_HIP : CC_HOST;
}

static size_t batch_size(const struct gen_cmd *g)
{
  return g->batch > 0 ? (size_t)g->batch : BLD_DEFAULT_BATCH;
}

/* --out: one TU per batch and variants.tsv. OUT: *nfiles. */
static int write_out(const struct gen_cmd *g, size_t *nfiles)
{
  int rc = AT_OK;
  size_t np = gen_space_param_count(g->space), per = batch_size(g);
  struct gen_bind bind = {.dev = g->dev, .dims = g->dims_given ? g->dims : NULL,
                          .dtype = g->dtype};
  const int64_t **ptrs = calloc(per, sizeof *ptrs);
  char *src = NULL, *text = NULL, file[64], *path = NULL;
  struct os_out out = {NULL, NULL, NULL};
  FILE *tsv = NULL;
  *nfiles = 0;
  if (!ptrs) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  if ((rc = os_mkdir_p(g->outdir)) != AT_OK)
    goto out;
  if (!(path = os_strdupf("%s/variants.tsv", g->outdir))) {
    rc = at_error(AT_NOMEM, "out of memory");
    goto out;
  }
  if ((rc = os_out_open(&out, path)) != AT_OK)
    goto out;
  tsv = out.f;
  fprintf(tsv, "name\tconfig\tfile\n");
  for (size_t first = 0; first < g->cfg.n; first += per) {
    size_t count = g->cfg.n - first < per ? g->cfg.n - first : per;
    for (size_t i = 0; i < count; i++)
      ptrs[i] = g->cfg.v + (first + i) * np;
    enum dev_vendor v = g->emulate ? DEV_HOST : g->dev->vendor;
    snprintf(file, sizeof file, "batch_%04zu.%s", first / per, target_ext(v));
    if ((rc = gen_emit_tu(g->t, vendor_target(v), g->space, &bind, ptrs, count,
                          &src)) != AT_OK)
      goto out;
    free(path);
    if (!(path = os_strdupf("%s/%s", g->outdir, file))) {
      rc = at_error(AT_NOMEM, "out of memory");
      goto out;
    }
    if ((rc = os_write_atomic(path, src, strlen(src))) != AT_OK)
      goto out;
    free(src);
    src = NULL;
    (*nfiles)++;
    for (size_t i = 0; i < count; i++) {
      char name[GEN_NAME_MAX];
      if ((rc = gen_space_config_text(g->space, ptrs[i], &text)) != AT_OK)
        goto out;
      gen_variant_name(g->t, g->dtype, text, name);
      fprintf(tsv, "%s\t%s\t%s\n", name, text, file);
      free(text);
      text = NULL;
    }
  }
  if (rc == AT_OK)
    rc = os_out_commit(&out); /* variants.tsv last: it names only files written whole */
out:
  os_out_abort(&out);
  free(ptrs);
  free(src);
  free(text);
  free(path);
  return rc;
}

static void print_stats_text(const struct gen_cmd *g)
{
  const struct gen_space_stats *s = &g->st;
  printf("%s on %s: %" PRIu64 " raw configs, %" PRIu64 " valid\n", g->t->kernel,
         g->dev->name, s->raw, s->valid);
  printf("  %-32s %12s %12s %8s\n", "constraint", "removed", "checked", "errors");
  for (size_t i = 0; i < s->nreqs; i++)
    printf("  %-32s %12" PRIu64 " %12" PRIu64 " %8" PRIu64 "\n", s->reqs[i].name,
           s->reqs[i].removed_raw, s->reqs[i].checked, s->reqs[i].errors);
  if (s->derived_removed_raw)
    printf("  %-32s %12" PRIu64 "\n", "(derived values failing)", s->derived_removed_raw);
}

static void print_stats_json(const struct gen_cmd *g)
{
  const struct gen_space_stats *s = &g->st;
  printf(",\"constraints\":[");
  for (size_t i = 0; i < s->nreqs; i++) {
    printf("%s{\"name\":", i ? "," : "");
    json_write_str(stdout, s->reqs[i].name);
    printf(",\"removed\":%" PRIu64 ",\"checked\":%" PRIu64 ",\"errors\":%" PRIu64 "}",
           s->reqs[i].removed_raw, s->reqs[i].checked, s->reqs[i].errors);
  }
  printf("],\"derived_removed\":%" PRIu64, s->derived_removed_raw);
}

/* Registers as the vendor counts them: "32" (NVIDIA), "12/0/16" VGPR/AGPR/SGPR (AMD). */
static void fmt_regs(const struct gen_cmd *g, const struct cc_kernel_res *k, char *out,
                     size_t len)
{
  if (k->registers < 0)
    snprintf(out, len, "-");
  else if (g->dev->vendor == DEV_AMD)
    snprintf(out, len, "%d/%d/%d", k->registers, k->agprs > 0 ? k->agprs : 0,
             k->sgprs > 0 ? k->sgprs : 0);
  else
    snprintf(out, len, "%d", k->registers);
}

static void fmt_spills(const struct cc_kernel_res *k, char *out, size_t len)
{
  if (k->spill_bytes >= 0)
    snprintf(out, len, "%" PRId64, k->spill_bytes);
  else if (k->vgpr_spills >= 0 || k->sgpr_spills >= 0)
    snprintf(out, len, "%d", (k->vgpr_spills > 0 ? k->vgpr_spills : 0) +
                                 (k->sgpr_spills > 0 ? k->sgpr_spills : 0));
  else
    snprintf(out, len, "-");
}

static void print_compile_text(const struct gen_cmd *g, const struct bld_result *r)
{
  size_t cw = 6;
  for (size_t i = 0; i < r->nvariants; i++)
    if (strlen(r->variants[i].config_text) > cw)
      cw = strlen(r->variants[i].config_text);
  printf("%-28s %-*s %12s %6s %8s %5s %9s %-9s %s\n", "name", (int)cw, "config",
         g->dev->vendor == DEV_AMD ? "vgpr/agpr/sgpr" : "registers", "spills",
         g->dev->vendor == DEV_AMD ? "lds" : "shared", "occ%", "blocks/cu", "limit",
         "status");
  for (size_t i = 0; i < r->nvariants; i++) {
    const struct bld_variant *v = &r->variants[i];
    char regs[48], spills[32], shared[32] = "-", occ[16] = "-", blocks[16] = "-";
    fmt_regs(g, &v->res, regs, sizeof regs);
    fmt_spills(&v->res, spills, sizeof spills);
    if (v->res.shared_bytes >= 0)
      snprintf(shared, sizeof shared, "%" PRId64, v->res.shared_bytes + v->launch.shared);
    if (v->verdict != BLD_COMPILE_ERROR) {
      snprintf(occ, sizeof occ, "%.0f", v->occ.occupancy * 100.0);
      snprintf(blocks, sizeof blocks, "%d", v->occ.blocks_per_cu);
    }
    printf("%-28s %-*s %12s %6s %8s %5s %9s %-9s %s%s%s%s\n", v->name, (int)cw,
           v->config_text, regs, spills, shared, occ, blocks,
           v->verdict == BLD_COMPILE_ERROR ? "-" : occ_limit_name(v->occ.limit),
           bld_verdict_name(v->verdict), v->reason[0] ? " (" : "", v->reason,
           v->reason[0] ? ")" : "");
  }
  const struct bld_stats *s = &r->stats;
  char target[48];
  printf("%zu variants in %zu batches (%s, %s, for %s): %zu compiled, %zu cache hits; %zu ok, "
         "%zu pruned, %zu compile errors; %.2f s, %.1f variants/s\n",
         s->variants, s->batches, r->backend, r->toolchain,
         g->emulate ? "the host" : tmpl_compile_arch(g->t, g->dev->arch, target, sizeof target),
         s->compiled, s->cache_hits,
         s->ok, s->pruned, s->compile_errors, s->wall_s,
         s->wall_s > 0 ? (double)s->variants / s->wall_s : 0.0);
}

static void json_kv_int(const char *key, int64_t v)
{
  printf(",\"%s\":", key);
  json_write_int(stdout, v);
}

static void print_variants_json(const struct gen_cmd *g, const struct bld_result *r)
{
  size_t np = gen_space_param_count(g->space), per = batch_size(g);
  printf(",\"variants\":[");
  for (size_t i = 0; i < g->cfg.n; i++) {
    char name[GEN_NAME_MAX], *text = NULL;
    const struct bld_variant *v = r ? &r->variants[i] : NULL;
    if (!v && gen_space_config_text(g->space, g->cfg.v + i * np, &text) != AT_OK)
      continue;
    if (!v)
      gen_variant_name(g->t, g->dtype, text, name);
    printf("%s{\"name\":", i ? "," : "");
    json_write_str(stdout, v ? v->name : name);
    printf(",\"config\":");
    json_write_str(stdout, v ? v->config_text : text);
    free(text);
    json_kv_int("batch", (int64_t)(v ? v->batch : i / per));
    if (!v) {
      printf("}");
      continue;
    }
    printf(",\"status\":\"%s\",\"reason\":", bld_verdict_name(v->verdict));
    json_write_str(stdout, v->reason[0] ? v->reason : NULL);
    json_kv_int("registers", v->res.registers);
    json_kv_int("agprs", v->res.agprs);
    json_kv_int("sgprs", v->res.sgprs);
    json_kv_int("spill_bytes", v->res.spill_bytes);
    json_kv_int("vgpr_spills", v->res.vgpr_spills);
    json_kv_int("sgpr_spills", v->res.sgpr_spills);
    json_kv_int("shared_bytes", v->res.shared_bytes);
    json_kv_int("local_bytes", v->res.local_bytes);
    json_kv_int("dynamic_shared", v->launch.shared);
    printf(",\"threads\":[%" PRId64 ",%" PRId64 ",%" PRId64 "],\"grid\":[%" PRId64
           ",%" PRId64 ",%" PRId64 "]", v->launch.threads[0], v->launch.threads[1],
           v->launch.threads[2], v->launch.grid[0], v->launch.grid[1], v->launch.grid[2]);
    json_kv_int("blocks_per_cu", v->occ.blocks_per_cu);
    printf(",\"occupancy\":");
    json_write_double(stdout, v->occ.occupancy);
    printf(",\"limit\":\"%s\"", occ_limit_name(v->occ.limit));
    printf(",\"log\":");
    json_write_str(stdout, v->log);
    printf("}");
  }
  printf("]");
}

static void print_summary_json(const struct bld_result *r)
{
  const struct bld_stats *s = &r->stats;
  printf(",\"summary\":{\"backend\":");
  json_write_str(stdout, r->backend);
  printf(",\"toolchain\":");
  json_write_str(stdout, r->toolchain);
  json_kv_int("variants", (int64_t)s->variants);
  json_kv_int("batches", (int64_t)s->batches);
  json_kv_int("compiled", (int64_t)s->compiled);
  json_kv_int("cache_hits", (int64_t)s->cache_hits);
  json_kv_int("cache_rejected", (int64_t)s->cache_rejected);
  json_kv_int("ok", (int64_t)s->ok);
  json_kv_int("pruned", (int64_t)s->pruned);
  json_kv_int("compile_errors", (int64_t)s->compile_errors);
  printf(",\"wall_s\":");
  json_write_double(stdout, s->wall_s);
  printf(",\"variants_per_s\":");
  json_write_double(stdout, s->wall_s > 0 ? (double)s->variants / s->wall_s : 0.0);
  printf("}");
}

/* Progress on a terminal: "\r[compile] 48/96 variants, 3 batches cached, ETA 4 s". */
static void progress(void *ctx, const struct bld_progress *p)
{
  (void)ctx;
  double frac = p->variants_total ? (double)p->variants_done / p->variants_total : 1.0;
  double eta = frac > 0 ? p->elapsed_s * (1.0 - frac) / frac : 0.0;
  printf("\r[compile] %zu/%zu variants, %zu batches cached, ETA %.0f s\033[K",
         p->variants_done, p->variants_total, p->batches_cached, eta);
  fflush(stdout);
}

/* Everything after the arguments are understood. Returns an exit code. */
static int run(struct gen_cmd *g)
{
  int rc, code = CLI_FAILED;
  struct bld_result r = {0};
  size_t nfiles = 0;
  const int64_t *dims = g->dims_given ? g->dims : NULL;
  if ((rc = tmpl_space(g->t, g->dev, dims, &g->space)) != AT_OK ||
      (rc = gen_space_collect(g->space, &g->cfg.v, &g->cfg.n, &g->st)) != AT_OK) {
    code = cli_fail(rc);
    goto out;
  }
  g->cfg.np = gen_space_param_count(g->space);
  if (g->outdir && (rc = write_out(g, &nfiles)) != AT_OK) {
    code = cli_fail(rc);
    goto out;
  }
  if (g->compile) {
    if (g->cfg.n == 0) {
      cli_error("no valid variants to compile for %s on %s", g->t->kernel, g->dev->name);
      goto out;
    }
    const char *incs[] = {g->common, NULL};
    struct bld_options o = {.jobs = (int)g->jobs, .batch = batch_size(g),
                            .backend = g->backend, .cache_dir = g->no_cache ? "" : NULL,
                            .include_dirs = g->common[0] ? incs : NULL,
                            .flags = g->sanitize ? cc_sanitize_flags : NULL, .emulate = g->emulate};
    bool tty = !g->json && cli_stdout_is_tty();
    if (tty)
      o.progress = progress;
    rc = bld_run(g->t, g->space, g->dev, dims, g->dtype, g->cfg.v, g->cfg.n, &o, &r);
    if (tty) {
      printf("\r\033[K");
      fflush(stdout);
    }
    if (rc != AT_OK) {
      code = cli_fail(rc == AT_USAGE || rc == AT_PARSE ? rc : AT_UNSUPPORTED);
      goto out;
    }
  }
  if (g->json) {
    printf("{\"template\":");
    json_write_str(stdout, g->t->path);
    printf(",\"kernel\":");
    json_write_str(stdout, g->t->kernel);
    printf(",\"hash\":\"%s\",\"device\":", g->t->hash);
    json_write_str(stdout, g->dev->name);
    char target[48];
    printf(",\"arch\":");
    json_write_str(stdout, g->dev->arch);
    printf(",\"target\":"); /* what --compile builds for: sm_90a for an arch_specific template */
    json_write_str(stdout, tmpl_compile_arch(g->t, g->dev->arch, target, sizeof target));
    printf(",\"dtype\":");
    json_write_str(stdout, g->t->dtype ? g->dtype : NULL);
    printf(",\"dims\":{");
    for (size_t i = 0; i < g->t->ndims; i++) {
      printf("%s", i ? "," : "");
      json_write_str(stdout, g->t->dims[i]);
      printf(":%" PRId64, g->dims[i]);
    }
    printf("},\"raw\":%" PRIu64 ",\"valid\":%" PRIu64, g->st.raw, g->st.valid);
    if (g->stats)
      print_stats_json(g);
    if (g->outdir) {
      printf(",\"out\":{\"dir\":");
      json_write_str(stdout, g->outdir);
      printf(",\"files\":%zu}", nfiles);
    }
    if (!g->stats || g->compile || g->outdir)
      print_variants_json(g, g->compile ? &r : NULL);
    if (g->compile)
      print_summary_json(&r);
    printf("}\n");
  } else {
    if (g->stats)
      print_stats_text(g);
    if (g->outdir)
      printf("wrote %zu variants in %zu files and variants.tsv to %s\n", g->cfg.n, nfiles,
             g->outdir);
    if (g->compile)
      print_compile_text(g, &r);
    else if (!g->stats && !g->outdir) {
      size_t np = gen_space_param_count(g->space);
      for (size_t i = 0; i < g->cfg.n; i++) {
        char name[GEN_NAME_MAX], *text = NULL;
        if (gen_space_config_text(g->space, g->cfg.v + i * np, &text) != AT_OK) {
          code = cli_fail(AT_NOMEM);
          goto out;
        }
        gen_variant_name(g->t, g->dtype, text, name);
        printf("%s  %s\n", name, text);
        free(text);
      }
      printf("%" PRIu64 " valid of %" PRIu64 " raw configs of %s on %s\n", g->st.valid,
             g->st.raw, g->t->kernel, g->dev->name);
    }
  }
  code = fflush(stdout) == 0 ? CLI_OK : CLI_FAILED;
out:
  bld_result_release(&r);
  return code;
}

/* One template: load it, bind the dims (--m/--n/--k, --dim; `nn`: TA and TB default to 0,
 * the NN layout), span, write, compile as asked. g's per-template state is released
 * after, so the caller may go on with another. */
static int generate_one(struct gen_cmd *g, const char *path, const char **dim_args, int ndim,
                        bool nn)
{
  const char *incs[] = {g->common, NULL};
  int rc, code = CLI_USAGE;
  const char *dtype_arg = g->dtype;
  if ((rc = tmpl_open(path, g->common[0] ? incs : NULL, g->no_cache ? "" : NULL,
                      &g->t)) != AT_OK) {
    code = cli_fail(rc);
    goto out;
  }
  if (!g->dtype)
    g->dtype = g->t->dtype ? "f16" : "f32";
  g->dims_given = false;
  for (size_t i = 0; i < TMPL_MAX_DIMS; i++)
    g->dims[i] = TMPL_DEFAULT_DIM;
  for (size_t i = 0; nn && i < g->t->ndims; i++)
    if (strcasecmp(g->t->dims[i], "TA") == 0 || strcasecmp(g->t->dims[i], "TB") == 0)
      g->dims[i] = 0, g->dims_given = true;
  static const char *const mnk_names[] = {"M", "N", "K"};
  for (int i = 0; i < 3; i++) {
    char how[48];
    snprintf(how, sizeof how, "--%c %lld", "mnk"[i], (long long)g->mnk[i]);
    if (g->mnk[i] != 0 &&
        set_dim(g->t, mnk_names[i], 1, g->mnk[i], how, g->dims, &g->dims_given) != CLI_OK)
      goto out;
  }
  int64_t *vals = malloc(((size_t)ndim + 1) * sizeof *vals); /* a dim given twice: refused */
  int dup = vals ? cli_key_ints("dim", dim_args, (size_t)ndim, 0, INT64_MAX, vals) : CLI_FAILED;
  free(vals);
  if (dup != CLI_OK) {
    code = dup;
    goto out;
  }
  for (int i = 0; i < ndim; i++)
    if (parse_dim(g->t, dim_args[i], g->dims, &g->dims_given) != CLI_OK)
      goto out;
  code = run(g);
out:
  gen_space_stats_release(&g->st);
  gen_space_free(g->space);
  tmpl_free(g->t);
  free(g->cfg.v);
  g->space = NULL;
  g->t = NULL;
  memset(&g->st, 0, sizeof g->st);
  memset(&g->cfg, 0, sizeof g->cfg);
  g->dtype = dtype_arg;
  return code;
}

/* An op ("gemm"): every template of templates/<op>/ that is for the device, in name order,
 * NN unless --dim says otherwise. Human output gets a heading per template; --json one
 * object per template, one per line. */
static int generate_op(struct gen_cmd *g, const char *op, const char **dim_args, int ndim)
{
  char dirs[TEMPLATE_DIRS_MAX][PATH_MAX], folder[PATH_MAX + 64];
  size_t nd = template_dirs(dirs), which = nd;
  for (size_t i = 0; i < nd && which == nd; i++) {
    struct stat st;
    snprintf(folder, sizeof folder, "%.4000s/%.40s", dirs[i], op);
    if (stat(folder, &st) == 0 && S_ISDIR(st.st_mode))
      which = i;
  }
  if (which == nd) {
    cli_error("no templates for op '%.40s' (no %.40s/ under %.200s)", op, op, dirs[nd - 1]);
    return CLI_FAILED;
  }
  snprintf(g->common, sizeof g->common, "%.4000s/common", dirs[which]);
  DIR *d = opendir(folder);
  char *names[256];
  size_t n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL && n < sizeof names / sizeof names[0]) {
    size_t len = strlen(e->d_name);
    if (len > 2 && strcmp(e->d_name + len - 2, ".h") == 0 && (names[n] = strdup(e->d_name)))
      n++;
  }
  if (d)
    closedir(d);
  qsort(names, n, sizeof names[0], cmp_str);
  int code = CLI_OK, done = 0;
  bool f32 = g->dtype && strcmp(g->dtype, "f32") == 0;
  for (size_t i = 0; i < n; i++) {
    char kernel[128], path[PATH_MAX + 200];
    snprintf(kernel, sizeof kernel, "%.*s", (int)(strlen(names[i]) - 2), names[i]);
    const char *why = strcmp(op, "gemm") == 0 ? gemm_template_not_for(kernel, g->dev, f32) : "";
    if (!g->json)
      printf("%s== %s%s%s\n", i ? "\n" : "", kernel, why[0] ? ": skipped, " : "", why);
    fflush(stdout);
    if (why[0])
      continue;
    snprintf(path, sizeof path, "%s/%s", folder, names[i]);
    int c = generate_one(g, path, dim_args, ndim, true);
    if (c != CLI_OK && code == CLI_OK)
      code = c;
    done++;
  }
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  if (!done) {
    cli_error("no template of op '%.40s' is for %s", op, g->dev->name);
    return CLI_FAILED;
  }
  return code;
}

int cmd_generate(int argc, char **argv)
{
  struct gen_cmd g = {0};
  const char *dim_dummy = NULL;
  const struct cli_opt opts[] = {
      {"device", CLI_STR, &g.device_arg, "D", "profile name (mi300x, h100, host) or arch"},
      {"m", CLI_INT, CLI_INT_IN(&g.mnk[0], 1, INT64_MAX),
         "M", "the dim named M (case-insensitively)"},
      {"n", CLI_INT, CLI_INT_IN(&g.mnk[1], 1, INT64_MAX), "N", "the dim named N"},
      {"k", CLI_INT, CLI_INT_IN(&g.mnk[2], 1, INT64_MAX), "K", "the dim named K"},
      {"dim", CLI_STR, &dim_dummy, "NAME=VALUE", "any dim of the template (repeatable)"},
      {"dtype", CLI_STR, &g.dtype, "T", "f16, bf16 or f32 (templates with a dtype; f16)"},
      {"out", CLI_STR, &g.outdir, "DIR", "write the variant sources and variants.tsv"},
      {"stats", CLI_FLAG, &g.stats, NULL, "raw and valid sizes, removals per constraint"},
      {"compile", CLI_FLAG, &g.compile, NULL, "compile every variant: resources, verdicts"},
      {"jobs", CLI_INT, CLI_INT_IN(&g.jobs, 1, 256), "N", "compile threads (default: the CPUs)"},
      {"batch", CLI_INT, CLI_INT_IN(&g.batch, 1, 100000),
         "N", "variants per translation unit (default 16)"},
      {"backend", CLI_STR, &g.backend, "NAME", "nvrtc, nvcc, clang-hip or host"},
      {"no-cache", CLI_FLAG, &g.no_cache, NULL, "neither read nor write the compile cache"},
      {"emulate", CLI_STR, &g.emulate_arg, "D2", "with --device host: emulate this GPU"},
      {"sanitize", CLI_FLAG, &g.sanitize, NULL, "host variants with ASan and UBSan"},
      {"json", CLI_FLAG, &g.json, NULL, "print one JSON object"},
      {NULL, 0, NULL, NULL, NULL},
  };
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  const char **dim_args = calloc((size_t)argc + 1, sizeof *dim_args);
  int npos = 0, nrest = argc, code = CLI_USAGE, rc;
  size_t ndim = 0;
  if (!pos || !rest || !dim_args) {
    code = CLI_FAILED;
    goto done;
  }
  /* --dim repeats, which the option table cannot hold: take them out first */
  memcpy(rest, argv, sizeof *rest * (size_t)argc);
  if (cli_take_repeated(&nrest, rest, "dim", (char **)dim_args, (size_t)argc, &ndim) != CLI_OK)
    goto done;
  rc = cli_parse(nrest, rest, opts, usage, description, pos, &npos);
  if (rc != CLI_OK) {
    code = rc < 0 ? CLI_OK : rc;
    goto done;
  }
  if (npos != 1) {
    cli_error("generate needs one op or template path; try 'autotune generate --help'");
    goto done;
  }
  if (!g.device_arg) {
    cli_error("generate needs --device (a profile name such as h100, or an arch such as "
              "gfx942); try 'autotune devices'");
    goto done;
  }
  if (!(g.dev = dev_find(g.device_arg))) {
    code = cli_fail(AT_USAGE);
    goto done;
  }
  if (g.emulate_arg) {
    if (g.dev->vendor != DEV_HOST) {
      cli_error("--emulate runs on the host device: use --device host --emulate %.40s",
                g.emulate_arg);
      goto done;
    }
    if (!(g.dev = dev_find(g.emulate_arg))) {
      code = cli_fail(AT_USAGE);
      goto done;
    }
    g.emulate = g.dev->vendor != DEV_HOST;
  }
  if (g.sanitize && !g.emulate && g.dev->vendor != DEV_HOST) {
    cli_error("--sanitize builds host variants: use it with --device host");
    goto done;
  }
  if (g.dtype && !gen_dtype_ctype(g.dtype)) {
    cli_error("unknown dtype '%.20s' (f16, bf16 or f32)", g.dtype);
    goto done;
  }
  if (op_find(pos[0])) {
    code = generate_op(&g, pos[0], dim_args, ndim);
    goto done;
  }
  char path[PATH_MAX];
  if ((code = resolve(pos[0], path, g.common)) != CLI_OK)
    goto done;
  code = generate_one(&g, path, dim_args, ndim, false);
done:
  gen_space_stats_release(&g.st);
  gen_space_free(g.space);
  tmpl_free(g.t);
  free(g.cfg.v);
  free(pos);
  free(rest);
  free(dim_args);
  return code;
}
