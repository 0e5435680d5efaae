/*
 * cmd_query.c - `autotune query OP --device D --m M --n N --k K`: the best tuned
 * configuration for a problem, exact or nearest, through the same db_query_best that
 * the C API and tuned headers use. Says which rung of the chain answered.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/csv.h"
#include "db/db.h"
#include "base/json.h"
#include "tuner/cli/cli.h"
#include "tuner/cli/commands.h"
#include "base/device.h"
#include "tuner/ops/op.h"
#include "tuner/ops/op_attn.h"
#include "base/status.h"

static const char usage[] =
    "autotune query OP --device D (--m M --n N --k K [--lda/--ldb/--ldc LD] [--batch B] | "
    "--dim NAME=V ...) [--dtype T] [--layout L] [--db FILE] [--json|--csv]";
static const char description[] =
    "Print the best tuned configuration for a problem: the exact shape on the device if it\n"
    "was tuned, else the nearest tuned shape (distance in log space, docs/database.md),\n"
    "else a winner of another device of the same arch, then of the same vendor. OP is gemm\n"
    "(--m, --n, --k), attention (--dim b= h= sq= sk= [hkv=], --layout\n"
    "hd<D>[_causal][_decode][_paged][_lse]; hkv, the KV heads, default h), or the\n"
    "kernel name of a template tuned with `autotune tune`: give each of its dims with\n"
    "--dim NAME=V (names and default dtype as recorded). A gemm call with padded leading\n"
    "dims or a batch count gets only winners measured so (docs/database.md); a nearest\n"
    "shape answers only within distance 2 (AT_NEAREST_MAX_DISTANCE).\n"
    "--csv: a header line and one row (RFC 4180), the fields of --json.\n"
    "Exit 0 when found, 1 when nothing matches, 2 on bad input.";

/* "m=64,n=64,k=64" of dims, named as the problem's key names them (gemm's may add lda,
 * ldb, ldc, batch), into out[len] */
static void dims_text(const struct db_problem *p, const int64_t *dims, char *out, size_t len)
{
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < p->ndims && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%s=%lld", i ? "," : "",
                             p->dim_names[i], (long long)dims[i]);
}

/* the same dims as a JSON object, or as dims_text */
static void print_dims(FILE *out, const struct db_problem *p, const int64_t *dims, bool json)
{
  if (!json) {
    char text[512];
    dims_text(p, dims, text, sizeof text);
    fputs(text, out);
    return;
  }
  fputc('{', out);
  for (int i = 0; i < p->ndims; i++)
    fprintf(out, "%s\"%s\":%lld", i ? "," : "", p->dim_names[i], (long long)dims[i]);
  fputc('}', out);
}

static void print_json(const struct op_desc *op, const struct db_problem *p,
                       const struct db_match *m)
{
  printf("{\"match\":\"%s\",\"device\":", at_match_name(m->match));
  json_write_str(stdout, m->device);
  printf(",\"op\":\"%s\",\"dtype\":", op->name);
  json_write_str(stdout, p->dtype);
  printf(",\"layout\":");
  json_write_str(stdout, p->layout);
  printf(",\"kernel\":");
  json_write_str(stdout, m->kernel);
  printf(",\"config\":");
  json_write_str(stdout, m->config);
  printf(",\"dims\":");
  print_dims(stdout, p, m->dims, true);
  printf(",\"asked\":");
  print_dims(stdout, p, p->dims, true);
  printf(",\"distance\":%.17g,\"time_median_us\":%.17g", m->distance, m->time_median_us);
  if (isnan(m->tflops))
    printf(",\"tflops\":null");
  else
    printf(",\"tflops\":%.17g", m->tflops);
  printf(",\"trial\":\"%s\"}\n", m->trial_uuid);
}

static void print_csv(const struct op_desc *op, const struct db_problem *p,
                      const struct db_match *m)
{
  char dims[512], asked[512];
  dims_text(p, m->dims, dims, sizeof dims);
  dims_text(p, p->dims, asked, sizeof asked);
  fputs("match,device,op,dtype,layout,kernel,config,dims,asked,distance,time_median_us,"
        "tflops,trial\r\n", stdout);
  csv_str(stdout, at_match_name(m->match), 1);
  csv_str(stdout, m->device, 0);
  csv_str(stdout, op->name, 0);
  csv_str(stdout, p->dtype, 0);
  csv_str(stdout, p->layout, 0);
  csv_str(stdout, m->kernel, 0);
  csv_str(stdout, m->config, 0);
  csv_str(stdout, dims, 0);
  csv_str(stdout, asked, 0);
  csv_double(stdout, m->distance, 0);
  csv_double(stdout, m->time_median_us, 0);
  csv_double(stdout, m->tflops, 0);
  csv_str(stdout, m->trial_uuid, 0);
  fputs("\r\n", stdout);
}

static void print_human(const struct op_desc *op, const struct db_problem *p,
                        const struct db_match *m)
{
  static const char *const what[] = {"exact match", "nearest tuned shape",
                                     "same-arch device", "same-vendor device"};
  printf("%s on %s: %s %s %s%s", what[m->match], m->device, op->name, p->dtype, p->layout,
         p->layout && p->layout[0] ? " " : "");
  print_dims(stdout, p, m->dims, false);
  if (m->match != AT_MATCH_EXACT) {
    printf(" (asked ");
    print_dims(stdout, p, p->dims, false);
    printf(", distance %.3g)", m->distance);
  }
  printf("\n  kernel  %s\n  config  %s\n  time    %.4g us", m->kernel, m->config,
         m->time_median_us);
  if (!isnan(m->tflops))
    printf(" (%.4g TFLOP/s)", m->tflops);
  printf("\n");
}

int cmd_query(int argc, char **argv)
{
  const char *device = NULL, *dtype = NULL, *layout = NULL, *dbpath = NULL;
  int64_t dims[AT_MAX_DIMS] = {0}, lds[4] = {0}; /* lda, ldb, ldc, batch: 0 default */
  bool json = false, csv = false;
  const struct cli_opt opts[] = {
      {"device", CLI_STR, &device, "D", "profile name (mi300x, h100, host) or arch (gfx942)"},
      {"m", CLI_INT, CLI_INT_IN(&dims[0], 1, INT64_MAX), "M", "rows of C"},
      {"n", CLI_INT, CLI_INT_IN(&dims[1], 1, INT64_MAX), "N", "columns of C"},
      {"k", CLI_INT, CLI_INT_IN(&dims[2], 1, INT64_MAX), "K", "the reduction dimension"},
      {"lda", CLI_INT, CLI_INT_IN(&lds[0], 1, INT64_MAX), "LD", "A's leading dim (default packed)"},
      {"ldb", CLI_INT, CLI_INT_IN(&lds[1], 1, INT64_MAX), "LD", "B's leading dim (default packed)"},
      {"ldc", CLI_INT, CLI_INT_IN(&lds[2], 1, INT64_MAX), "LD", "C's leading dim (default packed)"},
      {"batch", CLI_INT, CLI_INT_IN(&lds[3], 1, INT64_MAX), "B", "products in the call (default 1)"},
      {"dtype", CLI_STR, &dtype, "T", "f16 (default), bf16 or f32"},
      {"layout", CLI_STR, &layout, "L", "NN (default), NT, TN or TT"},
      {"db", CLI_STR, &dbpath, "FILE", "tuning database (default: $AUTOTUNE_DB or XDG data)"},
      {"json", CLI_FLAG, &json, NULL, "print one JSON object"},
      {"csv", CLI_FLAG, &csv, NULL, "print a CSV header and one row"},
      {NULL, 0, NULL, NULL, NULL},
  };
  char **pos = calloc((size_t)argc + 1, sizeof *pos);
  char **args = calloc((size_t)argc + 1, sizeof *args);
  char *dim_args[AT_MAX_DIMS + 1];
  size_t ndim_args = 0;
  int nargs = argc, npos = 0, code = CLI_USAGE;
  struct db *db = NULL;
  struct db_match m = {0};
  struct op_desc custom = {0};
  char custom_names[256], custom_dtype[32];
  if (!pos || !args) {
    free(pos);
    free(args);
    return CLI_FAILED;
  }
  memcpy(args, argv, sizeof *args * (size_t)argc);
  int rc = cli_take_repeated(&nargs, args, "dim", dim_args, AT_MAX_DIMS + 1, &ndim_args);
  if (rc == CLI_OK)
    rc = cli_parse(nargs, args, opts, usage, description, pos, &npos);
  if (rc != CLI_OK) {
    code = rc < 0 ? CLI_OK : rc;
    goto done;
  }
  if (json && csv) {
    cli_error("give --json or --csv, not both");
    goto done;
  }
  if (npos != 1) {
    cli_error("query needs one op (%s); try 'autotune query --help'", op_names());
    goto done;
  }
  /* each --dim's value, before anything is opened */
  int64_t vals[AT_MAX_DIMS + 1];
  if (cli_key_ints("dim", (const char *const *)dim_args, ndim_args, 1, INT64_MAX, vals) !=
      CLI_OK)
    goto done;
  const struct op_desc *op = op_find(pos[0]);
  if (!op && !dbpath && !(dbpath = cli_default_db(false)))
    goto done;
  if (!op) {
    /* An op only the database knows: its dims and dtype as recorded. */
    if ((rc = db_open(dbpath, DB_READONLY, &db)) != AT_OK ||
        (rc = db_op_names(db, pos[0], custom_names, sizeof custom_names, custom_dtype,
                          sizeof custom_dtype)) != AT_OK) {
      code = rc == AT_NOT_FOUND ? (cli_fail(rc), CLI_USAGE) : cli_fail(rc);
      goto done;
    }
    custom.name = pos[0];
    custom.default_dtype = custom_dtype;
    custom.default_layout = "";
    for (char *save = NULL, *d = strtok_r(custom_names, ",", &save);
         d && custom.ndims < AT_MAX_DIMS; d = strtok_r(NULL, ",", &save))
      custom.dim_names[custom.ndims++] = d;
    op = &custom;
  }
  /* gemm takes --m, --n, --k; every other op (attention, a template's) --dim NAME=V */
  const bool by_dim = strcmp(op->name, "gemm") != 0;
  if (!by_dim && ndim_args) {
    cli_error("--dim is for ops other than gemm; gemm takes --m, --n, --k");
    goto done;
  }
  if (by_dim && (dims[0] || dims[1] || dims[2] || lds[0] || lds[1] || lds[2] || lds[3])) {
    cli_error("--m, --n, --k, --lda, --ldb, --ldc and --batch are gemm's; %s takes --dim "
              "NAME=V for each of its dims", op->name);
    goto done;
  }
  if (by_dim) {
    for (size_t j = 0; j < ndim_args; j++) {
      const char *eq = strchr(dim_args[j], '=');
      int at = -1;
      for (int i = 0; i < op->ndims; i++)
        if (strlen(op->dim_names[i]) == (size_t)(eq - dim_args[j]) &&
            strncmp(op->dim_names[i], dim_args[j], (size_t)(eq - dim_args[j])) == 0)
          at = i;
      if (at < 0) {
        cli_error("bad --dim '%.60s' (expected NAME=V with NAME one of %s's dims)",
                  dim_args[j], op->name);
        goto done;
      }
      dims[at] = vals[j];
    }
  }
  if (!device) {
    cli_error("query needs --device (a profile name such as mi300x, or an arch such as "
              "gfx942)");
    goto done;
  }
  const struct dev_profile *prof = dev_find(device);
  if (!prof) {
    code = cli_fail(AT_USAGE);
    goto done;
  }
  dtype = dtype ? dtype : op->default_dtype;
  layout = layout ? layout : op->default_layout;
  if (op != &custom && (rc = op_check(op, dtype, layout)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  const bool attention = op != &custom && strcmp(op->name, "attention") == 0;
  if (attention && !dims[4]) /* hkv: MHA unless given */
    dims[4] = dims[1];
  struct db_problem p = {.op = op->name, .dtype = dtype, .layout = layout, .ndims = op->ndims};
  for (int i = 0; i < op->ndims; i++) {
    p.dim_names[i] = op->dim_names[i];
    p.dims[i] = dims[i];
    if (dims[i] < 1) {
      cli_error("bad shape: %s%s%s is %s (expected an integer of at least 1)",
                by_dim ? "--dim " : "--", op->dim_names[i], by_dim ? "=V" : "",
                dims[i] == 0 ? "missing or 0" : "negative");
      goto done;
    }
  }
  /* attention's key as the tuner records it (attn_problem_key: hkv only for GQA) */
  char attn_layout_buf[64];
  if (attention) {
    int64_t d = 0;
    unsigned f = 0;
    attn_parse_layout(layout, &d, &f); /* op_check read it */
    struct attn_problem ap = {.batch = dims[0], .heads = dims[1], .sq = dims[2], .sk = dims[3],
                              .hkv = dims[4], .d = d, .causal = !!(f & ATTN_L_CAUSAL),
                              .decode = !!(f & ATTN_L_DECODE), .paged = !!(f & ATTN_L_PAGED),
                              .lse = !!(f & ATTN_L_LSE)};
    gemm_parse_dtype(dtype, &ap.dtype);
    if (dims[1] % dims[4] != 0 || dims[4] > dims[1]) {
      cli_error("bad --dim hkv=%" PRId64 " (expected a divisor of h=%" PRId64 ")", dims[4],
                dims[1]);
      goto done;
    }
    attn_problem_key(&ap, &p, attn_layout_buf, sizeof attn_layout_buf);
  }
  /* gemm's key: its leading dims and batch where not the default (db_problem_gemm) */
  if (!by_dim && (rc = db_problem_gemm(&p, dtype, layout, dims[0], dims[1], dims[2], lds[0],
                                       lds[1], lds[2], lds[3])) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  if (!dbpath && !(dbpath = cli_default_db(false))) {
    code = CLI_USAGE;
    goto done;
  }
  if (!db && (rc = db_open(dbpath, DB_READONLY, &db)) != AT_OK) {
    code = cli_fail(rc);
    goto done;
  }
  /* An arch asked for by name ("gfx942") stands for every device of that arch. */
  bool by_arch = strcasecmp(device, prof->name) != 0;
  struct db_query q = {.device = by_arch ? NULL : prof->name,
                       .arch = prof->arch,
                       .vendor = dev_vendor_name(prof->vendor),
                       .problem = &p};
  rc = db_query_best(db, &q, &m);
  if (rc != AT_OK) {
    code = rc == AT_NOT_FOUND ? (cli_fail(rc), CLI_FAILED) : cli_fail(rc);
    goto done;
  }
  if (json)
    print_json(op, &p, &m);
  else if (csv)
    print_csv(op, &p, &m);
  else
    print_human(op, &p, &m);
  code = CLI_OK;
done:
  db_match_release(&m);
  db_close(db);
  free(pos);
  free(args);
  return code;
}
