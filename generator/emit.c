/*
 * emit.c - variant source for a loaded template: stable variant names, launch shapes
 * evaluated from the template's threads/grid/shared expressions, and the translation unit
 * that holds the template once and an extern "C" __global__ wrapper per variant.
 *
 * Why the template's text is inlined rather than #included by path: the TU is then
 * exactly the bytes the content hash covers (so a name always denotes one source), it
 * can be compiled on another machine or replayed from the database, and only at_common.h
 * must be found on the include path. A #line before the text keeps compiler messages
 * pointing at the template file and its own line numbers.
 */
#include "generator/emit.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/expr.h"
#include "generator/sbuf.h"
#include "generator/space.h"
#include "generator/template.h"
#include "base/device.h"
#include "base/hash.h"
#include "base/status.h"

/* ---- names ------------------------------------------------------------------------ */

const char *gen_dtype_ctype(const char *dtype)
{
  if (!dtype)
    return NULL;
  if (strcmp(dtype, "f16") == 0)
    return "at_half";
  if (strcmp(dtype, "bf16") == 0)
    return "at_bfloat16";
  if (strcmp(dtype, "f32") == 0)
    return "float";
  return NULL;
}

void gen_variant_name(const struct tmpl *t, const char *dtype, const char *config_text,
                      char out[GEN_NAME_MAX])
{
  struct hash_sha256 h;
  char hex[HASH_SHA256_HEX];
  hash_sha256_init(&h);
  hash_sha256_add(&h, t->hash, strlen(t->hash) + 1);
  if (t->dtype)
    hash_sha256_add(&h, dtype ? dtype : "", strlen(dtype ? dtype : "") + 1);
  if (config_text)
    hash_sha256_str(&h, config_text);
  hash_sha256_hex(&h, hex);
  snprintf(out, GEN_NAME_MAX, "at_%.40s_%.16s", t->kernel, hex);
}

int gen_emit_name(const struct tmpl *t, const struct gen_space *s, const char *dtype,
                  const int64_t *config, char out[GEN_NAME_MAX])
{
  char *text = NULL;
  if (out)
    out[0] = '\0';
  if (!t || !s || !config || !out)
    return at_error(AT_USAGE, "gen_emit_name: NULL argument");
  int rc = gen_space_config_text(s, config, &text);
  if (rc)
    return rc;
  gen_variant_name(t, dtype, text, out);
  free(text);
  return AT_OK;
}

/* ---- launch shapes ---------------------------------------------------------------- */

/* boxDim[i] <= 256 (cuTensorMapEncodeTiled; at_tma.h's AT_TMA_MAX_BOX). */
#define TMAP_MAX_BOX 256

static int eval_one(const struct gen_expr *e, const int64_t *slots, const char *what,
                    const char *text, int64_t min, int64_t *v)
{
  int rc = gen_expr_eval(e, slots, NULL, v);
  if (rc)
    return at_error(AT_USAGE, "%s '%.80s': %s", what, text, at_last_error());
  if (*v < min)
    return at_error(AT_USAGE, "%s '%.80s' is %" PRId64 " (at least %" PRId64 ")", what, text,
                    *v, min);
  return AT_OK;
}

int gen_emit_launch(const struct tmpl *t, const struct gen_bind *b, const int64_t *config,
                    struct gen_launch *out)
{
  static const char *const tnames[3] = {"threads x", "threads y", "threads z"};
  static const char *const gnames[3] = {"grid x", "grid y", "grid z"};
  int rc = AT_OK;
  if (out)
    memset(out, 0, sizeof *out);
  if (!t || !b || !b->dev || (!config && t->nparams) || !out)
    return at_error(AT_USAGE, "gen_emit_launch: NULL argument");
  int64_t *slots = malloc(tmpl_slot_count(t) * sizeof *slots);
  if (!slots)
    return at_error(AT_NOMEM, "out of memory evaluating a launch shape");
  tmpl_slots(t, b->dev, b->dims, config, slots);
  for (int i = 0; i < 3 && !rc; i++)
    rc = eval_one(t->threads[i], slots, tnames[i], t->threads_text[i], 1, &out->threads[i]);
  for (int i = 0; i < 3 && !rc; i++)
    rc = eval_one(t->grid[i], slots, gnames[i], t->grid_text[i], 1, &out->grid[i]);
  if (!rc)
    rc = tmpl_cluster_eval(t, slots, out->cluster);
  for (int i = 0; i < 3 && !rc; i++)
    if (out->grid[i] % out->cluster[i] != 0)
      rc = at_error(AT_USAGE, "grid %c '%.80s' is %" PRId64 ", not a multiple of the cluster's "
                    "%" PRId64 " (round the grid up in the template)", "xyz"[i],
                    t->grid_text[i], out->grid[i], out->cluster[i]);
  if (!rc)
    rc = eval_one(t->shared, slots, "shared", t->shared_text, 0, &out->shared);
  if (!rc && t->workspace) {
    out->has_workspace = 1;
    rc = eval_one(t->workspace, slots, "workspace", t->workspace_text, 0, &out->workspace);
  }
  for (size_t i = 0; i < t->ntmaps && !rc; i++) {
    const struct tmpl_tmap *m = &t->tmaps[i];
    struct gen_tmap *g = &out->tmaps[i];
    char what[64];
    snprintf(what, sizeof what, "tensormap %.32s box", m->param);
    for (int k = 0; k < 2 && !rc; k++)
      if (!(rc = eval_one(m->e[k], slots, what, m->text[k], 1, &g->box[k])) &&
          g->box[k] > TMAP_MAX_BOX)
        rc = at_error(AT_USAGE, "%s '%.80s' is %" PRId64 " (at most %d)", what, m->text[k],
                      g->box[k], TMAP_MAX_BOX);
    snprintf(what, sizeof what, "tensormap %.32s swizzle", m->param);
    if (!rc && !(rc = eval_one(m->e[2], slots, what, m->text[2], 0, &g->swizzle)) &&
        g->swizzle != 0 && g->swizzle != 32 && g->swizzle != 64 && g->swizzle != 128)
      rc = at_error(AT_USAGE, "%s '%.80s' is %" PRId64 " (0, 32, 64 or 128)", what,
                    m->text[2], g->swizzle);
    snprintf(g->param, sizeof g->param, "%s", m->param);
    out->ntmaps++;
  }
  free(slots);
  if (rc)
    memset(out, 0, sizeof *out);
  return rc;
}

/* ---- the translation unit --------------------------------------------------------------- */

static const char *target_name(enum cc_target target)
{
  switch (target) {
  case CC_CUDA: return "cuda";
  case CC_HIP: return "hip";
  case CC_HOST: return "host";
  }
  return "unknown";
}

static int is_ident_char(char c, int first)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

/* A parameter type with the dtype parameter's name replaced by its C++ type. */
static void put_type(struct sbuf *b, const char *type, const char *tname, const char *ctype)
{
  const char *c = type;
  while (*c) {
    if (is_ident_char(*c, 1)) {
      const char *s = c;
      while (is_ident_char(*c, 0))
        c++;
      size_t n = (size_t)(c - s);
      if (tname && strlen(tname) == n && memcmp(s, tname, n) == 0)
        sb_put(b, ctype, strlen(ctype));
      else
        sb_put(b, s, n);
    } else {
      sb_put(b, c, 1);
      c++;
    }
  }
}

static void put_value(struct sbuf *b, const struct tmpl_tparam *tp, int64_t v)
{
  if (tp->is_bool)
    sb_printf(b, "%s", v ? "true" : "false");
  else if (v == INT64_MIN)
    sb_printf(b, "(-9223372036854775807LL - 1)");
  else
    sb_printf(b, "%" PRId64 "%s", v, tp->is_unsigned ? "u" : "");
}

/* The template's text, each line of its autotune pragmas commented out (a continuation
 * backslash dropped, so no comment runs on); returns the lines put. */
static size_t put_template(struct sbuf *b, const struct tmpl *t)
{
  size_t line = 1, next = 0, lines = 0;
  int in_pragma = 0;
  const char *p = t->text, *end = t->text + t->text_len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl + 1 : end;
    while (next < t->npragma_lines && (size_t)t->pragma_lines[next] < line)
      next++;
    if (next < t->npragma_lines && (size_t)t->pragma_lines[next] == line)
      in_pragma = 1;
    if (in_pragma) {
      const char *e = nl ? nl : end;
      if (e > p && e[-1] == '\r')
        e--;
      in_pragma = e > p && e[-1] == '\\';
      sb_put(b, "// ", 3);
      sb_put(b, p, (size_t)(e - p) - (in_pragma ? 1 : 0));
      sb_put(b, "\n", 1);
    } else {
      sb_put(b, p, (size_t)(stop - p));
      if (!nl)
        sb_put(b, "\n", 1);
    }
    lines++;
    line++;
    p = stop;
  }
  return lines;
}

static int check_space(const struct tmpl *t, const struct gen_space *s)
{
  int ok = gen_space_param_count(s) == t->nparams;
  for (size_t i = 0; ok && i < t->nparams; i++)
    ok = strcmp(gen_space_param_name(s, i), t->params[i].name) == 0;
  if (!ok)
    return at_error(AT_USAGE, "the space was not built from template '%.200s' (tmpl_space)",
                    t->path);
  return AT_OK;
}

static size_t count_lines(const struct sbuf *b)
{
  size_t n = 0;
  for (size_t i = 0; i < b->n; i++)
    n += b->p[i] == '\n';
  return n;
}

/* `decl NAME(<kernel parameters>) { ::KERNEL<template arguments>(<names>); }`, the
 * template arguments from `config` (t->params order). */
static void put_wrapper(struct sbuf *b, const struct tmpl *t, const char *ctype,
                        const int64_t *config, const char *decl, const char *name)
{
  sb_printf(b, "%s %s(", decl, name);
  for (size_t i = 0; i < t->nfparams; i++) {
    const char *type = t->fparams[i].type;
    size_t tl = strlen(type);
    sb_put(b, i ? ", " : "", i ? 2 : 0);
    /* a tensor map: by value, __grid_constant__, on CUDA (at_tma.h) */
    if (i >= t->nfparams - t->ntmaps) {
      sb_printf(b, "AT_TMAP_KERNEL_PARAM %s", t->fparams[i].name);
      continue;
    }
    put_type(b, type, t->dtype, ctype);
    if (!(tl && (type[tl - 1] == '*' || type[tl - 1] == '&')))
      sb_put(b, " ", 1);
    sb_printf(b, "%s", t->fparams[i].name);
  }
  sb_printf(b, ")\n{\n  ::%s<", t->kernel_qualified);
  for (size_t i = 0; i < t->ntparams; i++) {
    const struct tmpl_tparam *tp = &t->tparams[i];
    sb_put(b, i ? ", " : "", i ? 2 : 0);
    if (tp->kind == TMPL_TYPE) {
      sb_printf(b, "%s", ctype);
      continue;
    }
    int64_t v = 0;
    for (size_t k = 0; k < t->nparams; k++)
      if (strcmp(t->params[k].name, tp->name) == 0)
        v = config[k];
    put_value(b, tp, v);
  }
  sb_put(b, ">(", 2);
  for (size_t i = 0; i < t->nfparams; i++)
    sb_printf(b, "%s%s", i ? ", " : "", t->fparams[i].name);
  sb_put(b, ");\n}\n", 5);
}

int gen_emit_wrapper(const struct tmpl *t, const char *dtype, const int64_t *config,
                     const char *decl, const char *name, char **out)
{
  struct sbuf b = {0};
  const char *ctype = "float";
  if (out)
    *out = NULL;
  if (!t || (!config && t->nparams) || !decl || !name || !out)
    return at_error(AT_USAGE, "gen_emit_wrapper: NULL argument");
  if (t->dtype && !(ctype = gen_dtype_ctype(dtype)))
    return at_error(AT_USAGE, "template '%.200s' has a dtype: expected f16, bf16 or f32, "
                    "found '%.20s'", t->path, dtype ? dtype : "(none)");
  put_wrapper(&b, t, ctype, config, decl, name);
  if (b.oom) {
    free(b.p);
    return at_error(AT_NOMEM, "out of memory emitting a wrapper");
  }
  *out = b.p;
  return AT_OK;
}

/* One variant's wrapper. */
static int put_variant(struct sbuf *b, const struct tmpl *t, const struct gen_space *s,
                       const struct gen_bind *bind, const char *ctype, const int64_t *config,
                       char name[GEN_NAME_MAX])
{
  struct gen_launch launch;
  char *text = NULL;
  int rc = gen_emit_launch(t, bind, config, &launch);
  if (rc)
    return rc;
  int64_t threads;
  if (__builtin_mul_overflow(launch.threads[0], launch.threads[1], &threads) ||
      __builtin_mul_overflow(threads, launch.threads[2], &threads) || threads > INT_MAX)
    return at_error(AT_USAGE, "threads %" PRId64 " x %" PRId64 " x %" PRId64 " is too large",
                    launch.threads[0], launch.threads[1], launch.threads[2]);
  int64_t min_blocks = 0; /* a `min_blocks` pragma: __launch_bounds__'s second argument */
  if (t->min_blocks) {
    int64_t *slots = malloc(tmpl_slot_count(t) * sizeof *slots);
    if (!slots)
      return at_error(AT_NOMEM, "out of memory");
    tmpl_slots(t, bind->dev, bind->dims, config, slots);
    rc = tmpl_min_blocks_eval(t, slots, &min_blocks);
    free(slots);
    if (rc)
      return rc;
  }
  if ((rc = gen_space_config_text(s, config, &text)))
    return rc;
  gen_variant_name(t, bind->dtype, text, name);
  sb_printf(b, "\n// %s\n", text);
  char decl[160];
  int n = min_blocks ? snprintf(decl, sizeof decl, "extern \"C\" __global__ void "
                                "AT_LAUNCH_BOUNDS_MIN_(%" PRId64 ", %" PRId64 ")", threads,
                                min_blocks)
                     : snprintf(decl, sizeof decl, "extern \"C\" __global__ void "
                                "__launch_bounds__(%" PRId64 ")", threads);
  if (launch.cluster[0] * launch.cluster[1] * launch.cluster[2] > 1)
    snprintf(decl + n, sizeof decl - (size_t)n, " AT_CLUSTER_DIMS_(%" PRId64 ", %" PRId64
             ", %" PRId64 ")", launch.cluster[0], launch.cluster[1], launch.cluster[2]);
  put_wrapper(b, t, ctype, config, decl, name);
  free(text);
  return AT_OK;
}

int gen_emit_tu(const struct tmpl *t, enum cc_target target, const struct gen_space *s,
                const struct gen_bind *bind, const int64_t *const *configs, size_t n,
                char **out)
{
  struct sbuf b = {0};
  char (*names)[GEN_NAME_MAX] = NULL;
  char real[PATH_MAX];
  const char *ctype = "float";
  int rc = AT_OK;
  if (out)
    *out = NULL;
  if (!t || !s || !bind || !bind->dev || (n && !configs) || !out)
    return at_error(AT_USAGE, "gen_emit_tu: NULL argument");
  if ((rc = check_space(t, s)))
    return rc;
  if (t->dtype && !(ctype = gen_dtype_ctype(bind->dtype)))
    return at_error(AT_USAGE, "template '%.200s' has a dtype: expected f16, bf16 or f32, "
                    "found '%.20s'", t->path, bind->dtype ? bind->dtype : "(none)");
  names = calloc(n ? n : 1, sizeof *names);
  if (!names)
    return at_error(AT_NOMEM, "out of memory emitting variants");

  sb_printf(&b, "// Generated by autotune: %zu variant%s of kernel '%s' from ", n,
            n == 1 ? "" : "s", t->kernel);
  sb_put_comment(&b, t->path); /* a file name may hold a newline: never code */
  sb_puts(&b, "\n");
  sb_printf(&b, "// template hash %s, target %s, device %s", t->hash, target_name(target),
            bind->dev->name);
  if (t->dtype)
    sb_printf(&b, ", dtype %s (%s = %s)", bind->dtype, t->dtype, ctype);
  for (size_t i = 0; i < t->ndims; i++)
    sb_printf(&b, "%s%s=%" PRId64, i ? ", " : ", dims ", t->dims[i],
              bind->dims ? bind->dims[i] : (int64_t)TMPL_DEFAULT_DIM);
  if (t->ndims && !bind->dims)
    sb_printf(&b, " (defaults: no problem given)");
  sb_printf(&b, "\n// Do not edit: regenerate from the template.\n#line 1 ");
  sb_put_quoted(&b, realpath(t->path, real) ? real : t->path);
  sb_put(&b, "\n", 1);
  put_template(&b, t);
  if (t->cluster_text[0] && (strcmp(t->cluster_text[0], "1") || strcmp(t->cluster_text[1], "1") ||
                             strcmp(t->cluster_text[2], "1")))
    sb_puts(&b, "#ifndef AT_CLUSTER_DIMS_ // a `cluster` pragma: __cluster_dims__ on CUDA; the\n"
            "#if defined(AT_CUDA)    // host emulator takes the shape from the launch\n"
            "#define AT_CLUSTER_DIMS_(x, y, z) __cluster_dims__(x, y, z)\n"
            "#else\n#define AT_CLUSTER_DIMS_(x, y, z)\n#endif\n#endif\n");
  if (t->min_blocks_text)
    sb_puts(&b, "#ifndef AT_LAUNCH_BOUNDS_MIN_ // a `min_blocks` pragma: blocks per SM, CUDA's\n"
            "#if defined(AT_CUDA)         // second __launch_bounds__ argument; HIP reads that\n"
            "#define AT_LAUNCH_BOUNDS_MIN_(t, m) __launch_bounds__(t, m) // as waves per EU:\n"
            "#else                        // left off there\n"
            "#define AT_LAUNCH_BOUNDS_MIN_(t, m) __launch_bounds__(t)\n#endif\n#endif\n");
  sb_printf(&b, "#line %zu \"<autotune variants of %s>\"\n", count_lines(&b) + 2, t->kernel);

  for (size_t i = 0; i < n && !rc; i++) {
    rc = put_variant(&b, t, s, bind, ctype, configs[i], names[i]);
    for (size_t j = 0; j < i && !rc; j++)
      if (strcmp(names[i], names[j]) == 0)
        rc = at_error(AT_USAGE, "configs %zu and %zu are the same variant %s", j, i,
                      names[i]);
  }
  if (!rc && b.oom)
    rc = at_error(AT_NOMEM, "out of memory emitting variants");
  free(names);
  if (rc) {
    free(b.p);
    return rc;
  }
  *out = b.p;
  return AT_OK;
}
