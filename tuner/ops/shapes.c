/*
 * shapes.c - workload shape files (shapes.h): plain "M N K" lines and the GEMMs PyTorch
 * TunableOp, hipBLASLt and rocBLAS record, mapped from column-major BLAS to our row-major
 * key. The formats, as their public documentation gives them:
 *   TunableOp (pytorch.org/docs/stable/cuda.tunable.html): CSV rows "OpSignature,
 *     ParamSignature[,solution,time_ms]", e.g. "GemmTunableOp_Half_NT,nt_4096_1024_512"
 *     (transA transB _ m _ n _ k, optionally "_ld_LDA_LDB_LDC" and, for
 *     GemmStridedBatchedTunableOp, "_B_BATCH"); "Validator,..." rows are the header.
 *   hipBLASLt (HIPBLASLT_LOG_MASK bench lines): "hipblaslt-bench ... -m M -n N -k K
 *     --lda A --ldb B --ldc C --stride_a S ... --transA T --transB N --batch_count B
 *     --a_type f16_r --b_type f16_r ...".
 *   rocBLAS (ROCBLAS_LAYER=2 bench lines): "rocblas-bench -f gemm[_ex|_strided_batched
 *     [_ex]] -r f16_r | --a_type f16_r --transposeA N --transposeB T -m M -n N -k K
 *     --lda A ... --batch_count B".
 */
#include "tuner/ops/shapes.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"

#define LINE_MAX_BYTES 4096
#define MAX_TOKENS 128

const char *shapes_source_name(enum shape_source s)
{
  switch (s) {
  case SHAPES_TUNABLEOP: return "tunableop";
  case SHAPES_HIPBLASLT: return "hipblaslt";
  case SHAPES_ROCBLAS: return "rocblas";
  default: return "plain";
  }
}

static void rec_init(struct shape_rec *r, enum shape_source src, int line)
{
  memset(r, 0, sizeof *r);
  r->ta = r->tb = -1;
  r->lda = r->ldb = r->ldc = -1;
  r->stride_a = r->stride_b = r->stride_c = -1;
  r->batch = 1;
  r->src = src;
  r->line = line;
  r->count = 1;
}

/* Whole-text integer, at least 0. */
static bool parse_i64(const char *s, int64_t *out)
{
  if (!s || !*s)
    return false;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end || errno || v < 0)
    return false;
  *out = v;
  return true;
}

/* A BLAS dtype name (hipBLASLt/rocBLAS "f16_r", rocBLAS's short "h"/"s", TunableOp's
 * c10 names) to ours; NULL with why when it is not tuned here. */
static const char *map_dtype(const char *t, char *why, size_t why_len)
{
  static const struct {
    const char *theirs, *ours;
  } map[] = {
      {"f16_r", "f16"}, {"h", "f16"},    {"Half", "f16"},      {"half", "f16"},
      {"bf16_r", "bf16"}, {"BFloat16", "bf16"}, {"f32_r", "f32"}, {"s", "f32"},
      {"float", "f32"}, {"Float", "f32"},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(t, map[i].theirs) == 0)
      return map[i].ours;
  snprintf(why, why_len, "dtype '%.40s' is not tuned here (f16, bf16, f32 only)", t);
  return NULL;
}

/* 'N' -> 0, 'T'/'C' -> 1 (C: conjugate, the same as T for real types); -1 otherwise. */
static int trans_of(const char *s)
{
  if (!s || !s[0] || s[1])
    return -1;
  return s[0] == 'N' || s[0] == 'n' ? 0 : strchr("TtCc", s[0]) ? 1 : -1;
}

/* The BLAS call (column-major) as ours: swap the operands. */
static void from_blas(struct shape_rec *r, int64_t m, int64_t n, int64_t k, int ta, int tb)
{
  r->m = n;
  r->n = m;
  r->k = k;
  r->ta = tb;
  r->tb = ta;
}

/* "GemmTunableOp_Half_NT,nt_4096_1024_512[_ld_..][_B_..][,sol,ms]". 1: a record, 0: a
 * skip (why), -1: not this format. */
static int parse_tunableop(char *line, struct shape_rec *r, char *why, size_t why_len)
{
  if (strncmp(line, "Validator,", 10) == 0) {
    snprintf(why, why_len, "TunableOp validator line");
    return 0;
  }
  char *comma = strchr(line, ',');
  if (!comma || (strncmp(line, "Gemm", 4) != 0 && strncmp(line, "ScaledGemm", 10) != 0))
    return -1;
  *comma = '\0';
  char *op = line, *params = comma + 1;
  char *c2 = strchr(params, ',');
  if (c2)
    *c2 = '\0';
  if (strncmp(op, "ScaledGemm", 10) == 0) {
    snprintf(why, why_len, "%.60s: scaled (f8) GEMMs are not tuned here", op);
    return 0;
  }
  bool strided = strncmp(op, "GemmStridedBatchedTunableOp_", 28) == 0;
  bool plain = strncmp(op, "GemmTunableOp_", 14) == 0;
  if (!strided && !plain) {
    snprintf(why, why_len, "%.60s: not a GEMM TunableOp this reader knows", op);
    return 0;
  }
  /* the dtype sits between the prefix and the last '_' (the layout) */
  char *dt = op + (strided ? 28 : 14), *us = strrchr(dt, '_');
  if (!us || us == dt) {
    snprintf(why, why_len, "%.60s: no dtype and layout in the op signature", op);
    return 0;
  }
  *us = '\0';
  const char *ours = map_dtype(dt, why, why_len);
  if (!ours)
    return 0;
  snprintf(r->dtype, sizeof r->dtype, "%s", ours);
  char *tok[MAX_TOKENS];
  int nt = 0;
  char *save = NULL;
  for (char *s = strtok_r(params, "_", &save); s && nt < MAX_TOKENS; s = strtok_r(NULL, "_", &save))
    tok[nt++] = s;
  int64_t m, n, k;
  if (nt < 4 || strlen(tok[0]) != 2 || !parse_i64(tok[1], &m) || !parse_i64(tok[2], &n) ||
      !parse_i64(tok[3], &k)) {
    snprintf(why, why_len, "parameters '%.60s' are not <ta><tb>_M_N_K", params);
    return 0;
  }
  char ta[2] = {tok[0][0], 0}, tb[2] = {tok[0][1], 0};
  int a = trans_of(ta), b = trans_of(tb);
  if (a < 0 || b < 0) {
    snprintf(why, why_len, "transposes '%.4s' are not N/T", tok[0]);
    return 0;
  }
  for (int i = 4; i < nt; i++) {
    if (strcmp(tok[i], "ld") == 0 && i + 3 < nt && parse_i64(tok[i + 1], &r->lda) &&
        parse_i64(tok[i + 2], &r->ldb) && parse_i64(tok[i + 3], &r->ldc)) {
      i += 3;
    } else if (strcmp(tok[i], "B") == 0 && i + 1 < nt && parse_i64(tok[i + 1], &r->batch)) {
      i += 1;
    } else {
      snprintf(why, why_len, "unknown parameter field '%.30s'", tok[i]);
      return 0;
    }
  }
  from_blas(r, m, n, k, a, b);
  return 1;
}

/* The value after option `name` among tok[0..nt), or NULL. */
static const char *opt_of(char **tok, int nt, const char *name)
{
  for (int i = 0; i + 1 < nt; i++)
    if (strcmp(tok[i], name) == 0)
      return tok[i + 1];
  return NULL;
}

/* hipblaslt-bench and rocblas-bench lines. Same return as parse_tunableop. */
static int parse_bench(char *line, struct shape_rec *r, char *why, size_t why_len)
{
  bool lt = strstr(line, "hipblaslt-bench") != NULL;
  if (!lt && !strstr(line, "rocblas-bench"))
    return -1;
  r->src = lt ? SHAPES_HIPBLASLT : SHAPES_ROCBLAS;
  char *tok[MAX_TOKENS];
  int nt = 0;
  char *save = NULL;
  for (char *s = strtok_r(line, " \t\r\n", &save); s && nt < MAX_TOKENS;
       s = strtok_r(NULL, " \t\r\n", &save))
    tok[nt++] = s;
  if (!lt) {
    const char *f = opt_of(tok, nt, "-f");
    if (!f || strncmp(f, "gemm", 4) != 0) {
      snprintf(why, why_len, "rocblas-bench -f %.40s is not a GEMM", f ? f : "(none)");
      return 0;
    }
    if (strstr(f, "batched") && !strstr(f, "strided")) {
      snprintf(why, why_len, "rocblas-bench -f %.40s: pointer-array batches are not tuned "
               "here", f);
      return 0;
    }
  }
  const char *ta = opt_of(tok, nt, lt ? "--transA" : "--transposeA");
  const char *tb = opt_of(tok, nt, lt ? "--transB" : "--transposeB");
  const char *at = opt_of(tok, nt, "--a_type");
  const char *bt = opt_of(tok, nt, "--b_type");
  if (!at)
    at = opt_of(tok, nt, "-r");
  if (!at)
    at = opt_of(tok, nt, "--precision");
  int64_t m, n, k;
  if (!parse_i64(opt_of(tok, nt, "-m"), &m) || !parse_i64(opt_of(tok, nt, "-n"), &n) ||
      !parse_i64(opt_of(tok, nt, "-k"), &k)) {
    snprintf(why, why_len, "no -m, -n and -k");
    return 0;
  }
  int a = ta ? trans_of(ta) : 0, b = tb ? trans_of(tb) : 0; /* the benches' default: N */
  if (a < 0 || b < 0) {
    snprintf(why, why_len, "transposes '%.4s' '%.4s' are not N/T/C", ta, tb ? tb : "");
    return 0;
  }
  if (!at) {
    snprintf(why, why_len, "no data type (--a_type or -r)");
    return 0;
  }
  if (bt && strcmp(at, bt) != 0) {
    snprintf(why, why_len, "mixed input types %.20s x %.20s are not tuned here", at, bt);
    return 0;
  }
  const char *ours = map_dtype(at, why, why_len);
  if (!ours)
    return 0;
  snprintf(r->dtype, sizeof r->dtype, "%s", ours);
  struct {
    const char *name;
    int64_t *dest;
  } opt[] = {{"--lda", &r->lda}, {"--ldb", &r->ldb}, {"--ldc", &r->ldc},
             {"--stride_a", &r->stride_a}, {"--stride_b", &r->stride_b},
             {"--stride_c", &r->stride_c}, {"--batch_count", &r->batch},
             {"--batch", &r->batch}};
  for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++) {
    const char *v = opt_of(tok, nt, opt[i].name);
    if (v && !parse_i64(v, opt[i].dest)) {
      snprintf(why, why_len, "bad %s '%.20s'", opt[i].name, v);
      return 0;
    }
  }
  if (r->batch < 1) {
    snprintf(why, why_len, "batch count %" PRId64 " (expected at least 1)", r->batch);
    return 0;
  }
  from_blas(r, m, n, k, a, b);
  return 1;
}

/* "M N K", "M,N,K", "MxNxK". 1 a record, -1 not a shape. */
static int parse_plain(const char *line, struct shape_rec *r)
{
  char buf[256];
  size_t len = strlen(line);
  if (len >= sizeof buf)
    return -1;
  memcpy(buf, line, len + 1);
  for (char *c = buf; *c; c++)
    if (*c == ',' || *c == 'x' || *c == 'X' || *c == '\t')
      *c = ' ';
  const char *p = buf;
  int64_t v[3];
  for (int i = 0; i < 3; i++) {
    char *end;
    errno = 0;
    long long x = strtoll(p, &end, 10);
    if (end == p || errno)
      return -1;
    v[i] = x;
    p = end;
  }
  while (*p == ' ' || *p == '\r' || *p == '\n')
    p++;
  if (*p)
    return -1;
  r->m = v[0], r->n = v[1], r->k = v[2];
  return 1;
}

static bool same_gemm(const struct shape_rec *a, const struct shape_rec *b)
{
  return a->m == b->m && a->n == b->n && a->k == b->k && a->ta == b->ta && a->tb == b->tb &&
         strcmp(a->dtype, b->dtype) == 0;
}

static int add_skip(struct shape_list *l, int line, const char *why)
{
  struct shape_skip *s = realloc(l->skips, (l->nskips + 1) * sizeof *s);
  if (!s)
    return at_error(AT_NOMEM, "out of memory");
  l->skips = s;
  s[l->nskips].line = line;
  snprintf(s[l->nskips].why, sizeof s[l->nskips].why, "%s", why);
  l->nskips++;
  return AT_OK;
}

static int add_rec(struct shape_list *l, const struct shape_rec *r, const char *path)
{
  const int64_t d[3] = {r->m, r->n, r->k};
  for (int i = 0; i < 3; i++)
    if (d[i] < 1 || d[i] > INT32_MAX)
      return at_error(AT_USAGE, "%.200s:%d: bad shape: %c is %" PRId64 " (expected 1..%d)",
                      path, r->line, "mnk"[i], d[i], INT32_MAX);
  for (size_t i = 0; i < l->n; i++)
    if (same_gemm(&l->recs[i], r)) {
      l->recs[i].count++;
      return AT_OK;
    }
  if (l->n >= SHAPES_MAX)
    return at_error(AT_USAGE, "%.200s: more than %d distinct shapes", path, SHAPES_MAX);
  struct shape_rec *v = realloc(l->recs, (l->n + 1) * sizeof *v);
  if (!v)
    return at_error(AT_NOMEM, "out of memory");
  l->recs = v;
  v[l->n++] = *r;
  if (r->batch > 1)
    l->batched++;
  /* packed column-major leading dims: A is m x k (k x m when transposed), B k x n */
  int64_t m = r->n, n = r->m; /* back to BLAS's names */
  int64_t plda = r->tb ? r->k : m, pldb = r->ta ? n : r->k;
  if ((r->lda > 0 && r->lda != plda) || (r->ldb > 0 && r->ldb != pldb) ||
      (r->ldc > 0 && r->ldc != m))
    l->with_ld++;
  return AT_OK;
}

int shapes_read(const char *path, struct shape_list *out)
{
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "r");
  if (!f)
    return at_error(AT_USAGE, "cannot read shapes file '%.200s': %s", path, strerror(errno));
  char line[LINE_MAX_BYTES], why[160];
  int lineno = 0, rc = AT_OK, first_bad = 0;
  size_t captured = 0;
  while (rc == AT_OK && fgets(line, sizeof line, f)) {
    lineno++;
    char *s = line;
    while (*s == ' ' || *s == '\t')
      s++;
    s[strcspn(s, "\r\n")] = '\0';
    if (*s == '#' || *s == '\0')
      continue;
    struct shape_rec r;
    rec_init(&r, SHAPES_TUNABLEOP, lineno);
    why[0] = '\0';
    int got = parse_tunableop(s, &r, why, sizeof why);
    if (got < 0) {
      rec_init(&r, SHAPES_HIPBLASLT, lineno);
      got = parse_bench(s, &r, why, sizeof why);
    }
    if (got >= 0)
      captured++;
    if (got < 0) {
      rec_init(&r, SHAPES_PLAIN, lineno);
      got = parse_plain(s, &r);
      if (got < 0) {
        first_bad = first_bad ? first_bad : lineno;
        rc = add_skip(out, lineno, "not a shape (M N K) nor a TunableOp, hipblaslt-bench or "
                      "rocblas-bench GEMM line");
        continue;
      }
    }
    rc = got == 0 ? add_skip(out, lineno, why) : add_rec(out, &r, path);
  }
  fclose(f);
  if (rc == AT_OK && first_bad && captured == 0)
    rc = at_error(AT_USAGE, "%.200s:%d: bad shape (expected M N K, M,N,K or MxNxK, or a "
                  "TunableOp, hipblaslt-bench or rocblas-bench line)", path, first_bad);
  if (rc == AT_OK && out->n == 0)
    rc = at_error(AT_USAGE, "no shapes in '%.200s'%s", path,
                  out->nskips ? " (every line was skipped)" : "");
  if (rc != AT_OK)
    shapes_release(out);
  return rc;
}

void shapes_release(struct shape_list *l)
{
  if (!l)
    return;
  free(l->recs);
  free(l->skips);
  memset(l, 0, sizeof *l);
}
