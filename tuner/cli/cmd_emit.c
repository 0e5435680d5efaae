/*
 * cmd_emit.c - `autotune emit-header OP --device D --out FILE.h`: the winners of an op on
 * one device, from the tuning database, as a header a program compiles in (kernels mode:
 * the templates instantiated and a dispatch per dtype and layout; params mode: plain C
 * tables). Reads the database only. The header's text is generator/header.c's; this file
 * finds the winners (db_each_best, the order and choice `autotune query` uses), loads
 * each winning template from the template folders, checks it is the one that was tuned
 * (content hash) and turns each config text back into values.
 *
 * The output is written to a temporary file beside it and renamed, so a failed or
 * interrupted run never leaves a half header, and an existing header is replaced only by
 * a complete one. The same database gives byte-identical output: nothing in it depends on
 * the time, the machine or an absolute path.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"
#include "generator/header.h"
#include "generator/template.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "base/device.h"
#include "base/os.h"
#include "tuner/ops/op.h"
#include "tuner/ops/op_attn.h"
#include "base/status.h"
#include "tuner/engine/template_dirs.h"

static const char usage[] =
    "autotune emit-header OP --device D --out FILE.h [--db FILE] [--mode kernels|params] "
    "[--dtype T[,T...]] [--layout L[,L...]] [--kernel NAME[,NAME...]] [--m M --n N --k K] "
    "[--json]";
static const char description[] =
    "Write the tuned winners of OP (gemm, attention, or a template tuned with `autotune\n"
    "tune`: params only) on device D as a header for a program's build.\n"
    "kernels (default): C++ for nvcc, clang/hipcc -x hip or a host compiler; it includes\n"
    "the installed templates, instantiates each winning config and defines per dtype and\n"
    "layout at_tuned_gemm_<dtype>_<layout>(A, B, C, M, N, K, lda, ldb, ldc, alpha, beta,\n"
    "stream) or at_tuned_attention_<dtype>_<layout>(Q, K, V, O, LSE, BT, B, H, HKV, SQ, SK,\n"
    "scale, stream), which runs the config tuned for that shape, else for the nearest tuned\n"
    "shape (the distance of `autotune query`; attention's over b, h, sq, sk, hkv), a\n"
    "_choice() function saying which, and for kernels that need a workspace\n"
    "_workspace_size() and a _ws() launcher taking the caller's zeroed memory. params:\n"
    "plain C, no GPU header: a table of winners per dtype and layout, a _select() function\n"
    "and #defines for one shape (--m/--n/--k, else a family's only shape).\n"
    "D is a profile (h100, mi300x, host) or an emulated device as recorded (host:mi300x).\n"
    "--kernel keeps the winners of those templates only (per shape the best of them), e.g.\n"
    "to leave out the naive baseline; without it the choice is always `autotune query`'s.\n"
    "The same database gives the same bytes. docs/headers.md. Exit 0 when written, 1 when\n"
    "the database has no winners for D (or a template changed since tuning), 2 on bad input.";

/* A row of db_each_best, copied. */
struct row {
  char *dtype, *layout, *kernel, *hash, *config, *created, *dim_names;
  int64_t dims[AT_MAX_DIMS];
  double time_us;
};

struct rows {
  struct row *r;
  size_t n, cap;
  char **dtypes, **layouts, **kernels; /* filters (NULL-terminated), NULL: all */
  int64_t last_problem;                 /* the problem of the last row taken */
};

static int in_list(char **list, const char *s)
{
  if (!list)
    return 1;
  for (; *list; list++)
    if (strcmp(*list, s) == 0)
      return 1;
  return 0;
}

static int take_row(void *ctx, const struct db_best *b)
{
  struct rows *rs = ctx;
  /* Winners come best first per problem: take the first one the filters allow. */
  if (!in_list(rs->dtypes, b->dtype) || !in_list(rs->layouts, b->layout) ||
      !in_list(rs->kernels, b->kernel) || (rs->n && b->problem_id == rs->last_problem))
    return AT_OK;
  rs->last_problem = b->problem_id;
  int rc = os_grow(&rs->r, &rs->cap, rs->n + 1, sizeof *rs->r, 16);
  if (rc != AT_OK)
    return rc;
  struct row *r = &rs->r[rs->n];
  memset(r, 0, sizeof *r);
  r->dtype = strdup(b->dtype);
  r->layout = strdup(b->layout ? b->layout : "");
  r->kernel = strdup(b->kernel);
  r->hash = strdup(b->kernel_hash ? b->kernel_hash : "");
  r->config = strdup(b->config);
  r->created = strdup(b->created_at ? b->created_at : "");
  r->dim_names = strdup(b->dim_names ? b->dim_names : "");
  memcpy(r->dims, b->dims, sizeof r->dims);
  r->time_us = b->time_median_us;
  rs->n++;
  if (!r->dtype || !r->layout || !r->kernel || !r->hash || !r->config || !r->created ||
      !r->dim_names)
    return at_error(AT_NOMEM, "out of memory reading winners");
  return AT_OK;
}

static void rows_free(struct rows *rs)
{
  for (size_t i = 0; i < rs->n; i++) {
    struct row *r = &rs->r[i];
    free(r->dtype), free(r->layout), free(r->kernel), free(r->hash), free(r->config);
    free(r->created), free(r->dim_names);
  }
  free(rs->r);
}

/* "a,b,c" -> a NULL-terminated list (malloc'd; the strings point into `copy`). */
static char **split_list(char *copy)
{
  size_t n = 1;
  for (char *c = copy; *c; c++)
    n += *c == ',';
  char **list = calloc(n + 1, sizeof *list);
  if (!list)
    return NULL;
  size_t i = 0;
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save))
    list[i++] = tok;
  return list;
}

/* A loaded winning template. */
struct tpl {
  char *kernel;
  char include[PATH_MAX];
  struct tmpl *t;
  int bare; /* params mode: only the kernel name and the config's keys (bare_tmpl) */
};

/* Params mode needs no template file, only each config's keys and values: a tmpl that
 * holds the kernel name and, as params, the keys of `config` ("K=V,..."), in order. So
 * a params header works for a template that is not installed (a user's own). */
static int bare_tmpl(const char *kernel, const char *config, struct tmpl **out)
{
  struct tmpl *t = calloc(1, sizeof *t);
  size_t n = 1;
  for (const char *c = config; *c; c++)
    n += *c == ',';
  if (!t || !(t->params = calloc(n, sizeof *t->params)) || !(t->kernel = strdup(kernel))) {
    if (t)
      free(t->params), free(t);
    return at_error(AT_NOMEM, "out of memory");
  }
  for (const char *p = config; *p;) {
    size_t len = strcspn(p, "=,");
    if (p[len] != '=')
      break;
    t->params[t->nparams].name = strndup(p, len);
    t->params[t->nparams].tparam = -1;
    t->nparams++;
    p += len + strcspn(p + len, ",");
    if (*p == ',')
      p++;
  }
  *out = t;
  return AT_OK;
}

static void bare_free(struct tmpl *t)
{
  if (!t)
    return;
  for (size_t i = 0; i < t->nparams; i++)
    free(t->params[i].name);
  free(t->params);
  free(t->kernel);
  free(t);
}


/* Find <dir>/<op>/<kernel>.h in the template folders and load it. */
static int load_tpl(const char *op, const char *kernel, struct tpl *out)
{
  char path[PATH_MAX], common[PATH_MAX], searched[PATH_MAX];
  if (!template_find(op, kernel, path, common, searched))
    return at_error(AT_NOT_FOUND, "the winning template '%.60s' is not installed (no "
                    "%.40s/%.60s.h under %.200s)", kernel, op, kernel, searched);
  snprintf(out->include, sizeof out->include, "%.40s/%.60s.h", op, kernel);
  const char *incs[] = {common, NULL};
  int rc = tmpl_open(path, incs, NULL, &out->t);
  if (rc == AT_OK && strcmp(out->t->kernel, kernel) != 0) {
    rc = at_error(AT_USAGE, "template '%.200s' defines kernel '%.60s', not '%.60s'", path,
                  out->t->kernel, kernel);
    tmpl_free(out->t);
    out->t = NULL;
  }
  return rc;
}

static const char *base_name(const char *path)
{
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* The same file (inode), whatever the spelling or links: the database is never the
 * header's --out. */
static bool same_file(const char *a, const char *b)
{
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

int cmd_emit_header(int argc, char **argv)
{
  const char *device = NULL, *dbpath = NULL, *mode = "kernels", *dtype = NULL, *layout = NULL,
             *outpath = NULL, *kernel = NULL;
  int64_t dims[3] = {0, 0, 0};
  bool json = false;
  const struct cli_opt opts[] = {
      {"device", CLI_STR, &device, "D", "profile (h100, mi300x, host) or emulated (host:mi300x)"},
      {"out", CLI_STR, &outpath, "FILE", "the header to write"},
      {"db", CLI_STR, &dbpath, "FILE", "tuning database (default: $AUTOTUNE_DB or XDG data)"},
      {"mode", CLI_STR, &mode, "M", "kernels (default) or params"},
      {"dtype", CLI_STR, &dtype, "T", "only these dtypes (f16,bf16,f32; default: all tuned)"},
      {"layout", CLI_STR, &layout, "L", "only these layouts (NN,NT,TN,TT; default: all tuned)"},
      {"kernel", CLI_STR, &kernel, "NAME", "only winners of these templates (gemm_mma,...)"},
      {"m", CLI_INT, CLI_INT_IN(&dims[0], 1, INT64_MAX),
         "M", "params mode: the shape of the #defines"},
      {"n", CLI_INT, CLI_INT_IN(&dims[1], 1, INT64_MAX), "N", "(with --m and --k)"},
      {"k", CLI_INT, CLI_INT_IN(&dims[2], 1, INT64_MAX), "K", "(with --m and --n)"},
      {"json", CLI_FLAG, &json, NULL, "print one JSON object"},
      {NULL, 0, NULL, NULL, NULL},
  };
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  char *dcopy = NULL, *lcopy = NULL, *kcopy = NULL, *text = NULL;
  struct rows rs = {0};
  struct tpl tpls[32];
  size_t ntpls = 0;
  struct hdr_variant *vars = NULL;
  int64_t *values = NULL;
  struct hdr_family *fams = NULL;
  struct hdr_entry *ents = NULL;
  struct db *db = NULL;
  int code = CLI_USAGE, rc;
  memset(tpls, 0, sizeof tpls);
  if (!pos)
    return CLI_FAILED;
  int npos = 0;
  rc = cli_parse(argc, argv, opts, usage, description, pos, &npos);
  if (rc != CLI_OK) {
    code = rc < 0 ? CLI_OK : rc;
    goto done;
  }
  if (npos != 1) {
    cli_error("emit-header needs one op (%s); try 'autotune emit-header --help'", op_names());
    goto done;
  }
  /* gemm, or the op of a template tuned with `autotune tune` (its kernel name): its dims
   * are those the database recorded. */
  const struct op_desc *op = op_find(pos[0]);
  struct op_desc custom = {.name = pos[0]};
  char custom_dims[256];
  /* attention: its dims b, h, sq, sk, hkv (hkv = h where the key has none: MHA) */
  const bool attention = op && strcmp(op->name, "attention") == 0;
  if (!op || (strcmp(op->name, "gemm") != 0 && !attention))
    op = &custom;
  if (!device) {
    cli_error("emit-header needs --device (a profile such as h100, or host:mi300x for an "
              "emulated run)");
    goto done;
  }
  if (!outpath || !outpath[0]) {
    cli_error("emit-header needs --out FILE.h (the header to write)");
    goto done;
  }
  enum hdr_mode hmode;
  if (strcmp(mode, "kernels") == 0)
    hmode = HDR_KERNELS;
  else if (strcmp(mode, "params") == 0)
    hmode = HDR_PARAMS;
  else {
    cli_error("bad --mode '%.40s' (expected kernels or params)", mode);
    goto done;
  }
  /* The device as recorded: "host:<profile>" for an emulated run. */
  char recorded[96];
  const struct dev_profile *space_dev;
  if (strncmp(device, "host:", 5) == 0) {
    const struct dev_profile *e = dev_find(device + 5);
    if (!e) {
      code = cli_fail(AT_USAGE);
      goto done;
    }
    snprintf(recorded, sizeof recorded, "host:%s", e->name);
    space_dev = e;
  } else {
    const struct dev_profile *p = dev_find(device);
    if (!p) {
      code = cli_fail(AT_USAGE);
      goto done;
    }
    snprintf(recorded, sizeof recorded, "%s", p->name);
    space_dev = p;
  }
  if (op == &custom && hmode == HDR_KERNELS) {
    cli_error("kernels mode writes gemm and attention launchers only: the winners of "
              "'%.60s' take --mode params", op->name);
    goto done;
  }
  if (dtype) {
    if (!(dcopy = strdup(dtype)) || !(rs.dtypes = split_list(dcopy))) {
      code = CLI_FAILED;
      goto done;
    }
    for (char **d = rs.dtypes; *d && op != &custom; d++) /* attention: any layout will do */
      if ((rc = op_check(op, *d, attention ? "hd1" : op->default_layout)) != AT_OK) {
        code = cli_fail(rc);
        goto done;
      }
  }
  if (layout) {
    if (!(lcopy = strdup(layout)) || !(rs.layouts = split_list(lcopy))) {
      code = CLI_FAILED;
      goto done;
    }
    for (char **l = rs.layouts; *l && op != &custom; l++)
      if ((rc = op_check(op, op->default_dtype, *l)) != AT_OK) {
        code = cli_fail(rc);
        goto done;
      }
  }
  if (kernel && (!(kcopy = strdup(kernel)) || !(rs.kernels = split_list(kcopy)))) {
    code = CLI_FAILED;
    goto done;
  }
  int ngiven = (dims[0] != 0) + (dims[1] != 0) + (dims[2] != 0);
  if (ngiven && (ngiven != 3 || dims[0] < 1 || dims[1] < 1 || dims[2] < 1)) {
    cli_error("bad shape: --m, --n and --k go together, each an integer of at least 1");
    goto done;
  }
  if (!dbpath && !(dbpath = cli_default_db(false)))
    goto done;
  if ((rc = db_open(dbpath, DB_READONLY, &db)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (same_file(outpath, dbpath)) {
    cli_error("refusing to write the header over the database '%.200s' (--out names it)",
              dbpath);
    goto done;
  }
  if ((rc = db_each_winner(db, recorded, op->name, take_row, &rs)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (rs.n == 0) {
    cli_error("no tuned %s%s%s%s%s winners%s%s for device '%s' in '%s' (tune first: autotune "
              "%s --device %s ...)", op->name, dtype ? " " : "", dtype ? dtype : "",
              layout ? " " : "", layout ? layout : "", kernel ? " of " : "",
              kernel ? kernel : "", recorded, dbpath, op->name, device);
    code = CLI_FAILED;
    goto done;
  }
  if (op == &custom) {
    /* The dims of a template's own op, as recorded; one set of names per header. */
    snprintf(custom_dims, sizeof custom_dims, "%s", rs.r[0].dim_names);
    for (char *save = NULL, *d = strtok_r(custom_dims, ",", &save); d && custom.ndims < AT_MAX_DIMS;
         d = strtok_r(NULL, ",", &save))
      custom.dim_names[custom.ndims++] = d;
    for (size_t i = 1; i < rs.n; i++)
      if (strcmp(rs.r[i].dim_names, rs.r[0].dim_names) != 0) {
        cli_error("the winners of '%.60s' on %s have dims %s and %s: one header takes one set",
                  op->name, recorded, rs.r[0].dim_names, rs.r[i].dim_names);
        code = CLI_FAILED;
        goto done;
      }
    if (ngiven) {
      cli_error("--m/--n/--k are gemm's dims; '%.60s' has %s", op->name, rs.r[0].dim_names);
      goto done;
    }
  }
  if (attention) {
    for (size_t i = 0; i < rs.n; i++) {
      struct row *r = &rs.r[i];
      if (strcmp(r->dim_names, "b,h,sq,sk") == 0)
        r->dims[4] = r->dims[1];
      else if (strcmp(r->dim_names, "b,h,sq,sk,hkv") != 0) {
        cli_error("an attention winner on %s has dims %s (expected b,h,sq,sk[,hkv])", recorded,
                  r->dim_names);
        code = CLI_FAILED;
        goto done;
      }
    }
    if (ngiven) {
      cli_error("--m/--n/--k are gemm's dims; attention has b, h, sq, sk, hkv");
      goto done;
    }
  }
  /* Templates, variants, families. */
  vars = calloc(rs.n, sizeof *vars);
  values = calloc(rs.n * 64, sizeof *values);
  fams = calloc(rs.n, sizeof *fams);
  ents = calloc(rs.n, sizeof *ents);
  if (!vars || !values || !fams || !ents) {
    code = cli_fail(at_error(AT_NOMEM, "out of memory"));
    goto done;
  }
  size_t nvars = 0, nfams = 0;
  const char *newest = "";
  for (size_t i = 0; i < rs.n; i++) {
    struct row *r = &rs.r[i];
    if (strcmp(r->created, newest) > 0)
      newest = r->created;
    size_t ti = 0;
    while (ti < ntpls && strcmp(tpls[ti].kernel, r->kernel) != 0)
      ti++;
    if (ti == ntpls) {
      if (ntpls == sizeof tpls / sizeof *tpls) {
        code = cli_fail(at_error(AT_UNSUPPORTED, "more than %zu winning templates",
                                 sizeof tpls / sizeof *tpls));
        goto done;
      }
      tpls[ntpls].kernel = r->kernel;
      tpls[ntpls].bare = hmode == HDR_PARAMS;
      rc = hmode == HDR_PARAMS ? bare_tmpl(r->kernel, r->config, &tpls[ntpls].t)
                               : load_tpl(op->name, r->kernel, &tpls[ntpls]);
      if (rc != AT_OK) {
        cli_fail(rc);
        code = CLI_FAILED;
        goto done;
      }
      ntpls++;
    }
    const struct tmpl *t = tpls[ti].t;
    if (hmode == HDR_KERNELS && r->hash[0] && !tmpl_hash_matches(t, r->hash)) {
      cli_error("template %s changed since it was tuned (hash %s in '%s', %s installed): "
                "re-tune, or emit with the templates that were tuned", t->kernel, r->hash,
                dbpath, t->hash);
      code = CLI_FAILED;
      goto done;
    }
    if (t->nparams > 64) {
      code = cli_fail(at_error(AT_UNSUPPORTED, "template %s has over 64 params", t->kernel));
      goto done;
    }
    size_t vi = 0;
    while (vi < nvars && !(vars[vi].t == t && strcmp(vars[vi].dtype, r->dtype) == 0 &&
                           strcmp(vars[vi].config, r->config) == 0))
      vi++;
    if (vi == nvars) {
      int64_t *v = values + 64 * nvars;
      if ((rc = tmpl_config_values(t, r->config, v)) != AT_OK) {
        cli_fail(rc);
        code = CLI_FAILED;
        goto done;
      }
      vars[nvars++] = (struct hdr_variant){.t = t, .dtype = r->dtype, .config = r->config,
                                           .values = v, .include = tpls[ti].include};
    }
    if (!nfams || strcmp(fams[nfams - 1].dtype, r->dtype) != 0 ||
        strcmp(fams[nfams - 1].layout, r->layout) != 0)
    {
      fams[nfams++] = (struct hdr_family){.dtype = r->dtype, .layout = r->layout,
                                          .entries = ents + i, .n = 0};
      int64_t hd = 0;
      unsigned fl = 0;
      if (attention && attn_parse_layout(r->layout, &hd, &fl) == AT_OK) {
        /* what the family's layout compiles in, for the launch expressions */
        struct hdr_family *f = &fams[nfams - 1];
        static const char *const names[] = {"D", "CAUSAL", "DECODE", "PAGED", "LSE"};
        const int64_t vals[] = {hd, !!(fl & ATTN_L_CAUSAL), !!(fl & ATTN_L_DECODE),
                                !!(fl & ATTN_L_PAGED), !!(fl & ATTN_L_LSE)};
        for (int k = 0; k < 5; k++) {
          f->fixed_names[k] = names[k];
          f->fixed_values[k] = vals[k];
        }
        f->nfixed = 5;
      }
    }
    struct hdr_entry *e = &ents[i];
    memcpy(e->dims, r->dims, sizeof(int64_t) * (size_t)op->ndims);
    e->time_us = r->time_us;
    e->variant = vi;
    fams[nfams - 1].n++;
  }
  char command[1024];
  int cn = snprintf(command, sizeof command, "autotune emit-header %s --device %s --db %s "
                    "--mode %s", op->name, device, base_name(dbpath), mode);
  if (dtype && cn < (int)sizeof command)
    cn += snprintf(command + cn, sizeof command - (size_t)cn, " --dtype %s", dtype);
  if (layout && cn < (int)sizeof command)
    cn += snprintf(command + cn, sizeof command - (size_t)cn, " --layout %s", layout);
  if (kernel && cn < (int)sizeof command)
    cn += snprintf(command + cn, sizeof command - (size_t)cn, " --kernel %s", kernel);
  if (ngiven && cn < (int)sizeof command)
    cn += snprintf(command + cn, sizeof command - (size_t)cn,
                   " --m %" PRId64 " --n %" PRId64 " --k %" PRId64, dims[0], dims[1], dims[2]);
  if (cn < (int)sizeof command)
    snprintf(command + cn, sizeof command - (size_t)cn, " --out %s", base_name(outpath));
  struct hdr_spec spec = {
      .mode = hmode,
      .op = op->name,
      .ndims = op->ndims,
      .device = recorded,
      .space_dev = space_dev,
      .db_name = base_name(dbpath),
      .newest = newest,
      .version = at_version(),
      .file_name = base_name(outpath),
      .command = command,
      .families = fams,
      .nfamilies = nfams,
      .variants = vars,
      .nvariants = nvars,
      .single = ngiven ? dims : NULL,
  };
  for (int i = 0; i < op->ndims; i++)
    spec.dim_names[i] = op->dim_names[i];
  if ((rc = hdr_emit(&spec, &text)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if ((rc = os_write_atomic(outpath, text, strlen(text))) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (json) {
    printf("{\"out\":\"%s\",\"mode\":\"%s\",\"device\":\"%s\",\"shapes\":%zu,\"configs\":%zu,"
           "\"families\":[", base_name(outpath), mode, recorded, rs.n, nvars);
    for (size_t f = 0; f < nfams; f++)
      printf("%s{\"dtype\":\"%s\",\"layout\":\"%s\",\"shapes\":%zu}", f ? "," : "",
             fams[f].dtype, fams[f].layout, fams[f].n);
    printf("]}\n");
  } else {
    printf("wrote %s: %s mode, device %s, %zu tuned shape%s, %zu config%s (", outpath, mode,
           recorded, rs.n, rs.n == 1 ? "" : "s", nvars, nvars == 1 ? "" : "s");
    for (size_t f = 0; f < nfams; f++)
      printf("%s%s%s%s", f ? ", " : "", fams[f].dtype, fams[f].layout[0] ? " " : "",
             fams[f].layout);
    printf(")\n");
  }
  code = CLI_OK;
done:
  free(text);
  for (size_t i = 0; i < ntpls; i++)
    if (tpls[i].bare)
      bare_free(tpls[i].t);
    else
      tmpl_free(tpls[i].t);
  free(vars), free(values), free(fams), free(ents);
  rows_free(&rs);
  free(rs.dtypes), free(rs.layouts), free(rs.kernels), free(dcopy), free(lcopy), free(kcopy);
  db_close(db);
  free(pos);
  return code;
}
