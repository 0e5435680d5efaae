/*
 * emit.h - turning configs of a loaded template into variant source: each variant's
 * stable name, its launch shape, and one translation unit holding many variants, each an
 * extern "C" __global__ wrapper that instantiates the template's __device__ function
 * template with the config's values. What a variant is named is a contract with the
 * tuning database: the same template bytes (and included at_common.h bytes), dtype and
 * config always give the same name, on any machine; any change to them gives another.
 */
#ifndef AT_GENERATOR_EMIT_H
#define AT_GENERATOR_EMIT_H

#include <stddef.h>
#include <stdint.h>

#include "generator/target.h"

struct tmpl;
struct gen_space;
struct dev_profile;

/* A variant name's buffer size: "at_<kernel>_<16 hex>" and its NUL. */
#define GEN_NAME_MAX 64

/* What a template's expressions are evaluated against: the device and problem its space
 * was built for (tmpl_space with the same dev and dims). */
struct gen_bind {
  const struct dev_profile *dev;
  const int64_t *dims;   /* t->ndims values in `problem` order; NULL: TMPL_DEFAULT_DIM each */
  const char *dtype;     /* "f16", "bf16" or "f32": the problem's element type; needed only
                            when the template has a `dtype` pragma, ignored otherwise */
};

/* Tensor maps one launch carries (TMPL_MAX_TMAPS) and the longest operand name kept. */
#define GEN_MAX_TMAPS 4
#define GEN_TMAP_NAME_MAX 32

/* One tensor map a variant takes (a `tensormap` pragma, evaluated): the kernel's pointer
 * parameter it covers, its box in elements (inner = contiguous first) and its swizzle in
 * bytes (0, 32, 64, 128). The runner builds it (meas_backend.tmap_encode) and passes it
 * after the op's arguments, kind 'm'. */
struct gen_tmap {
  char param[GEN_TMAP_NAME_MAX];
  int64_t box[2];
  int64_t swizzle;
};

/* A variant's launch shape, and the tensor maps its launch needs. Plain data: it travels
 * in the measurement worker's fixed-size records. */
struct gen_launch {
  int64_t threads[3];    /* block shape x, y, z (missing axes 1) */
  int64_t grid[3];       /* blocks x, y, z */
  int64_t cluster[3];    /* CTAs per cluster x, y, z (a `cluster` pragma; 1 without one):
                            grid[i] is a multiple of cluster[i] */
  int64_t shared;        /* dynamic shared memory bytes */
  int64_t workspace;     /* `workspace` bytes: zeroed global memory passed as the kernel's
                            last argument, which it must leave zero (docs/templates.md) */
  int has_workspace;     /* 1 when the template declares `workspace` (even if 0 bytes here):
                            the kernel then takes one more argument, the last (void *WS) */
  int ntmaps;            /* tmaps[0..ntmaps), in the kernel's parameter order */
  struct gen_tmap tmaps[GEN_MAX_TMAPS];
};

/* The C++ type a dtype binds to: "f16" -> "at_half", "bf16" -> "at_bfloat16",
 * "f32" -> "float"; NULL if unknown. */
const char *gen_dtype_ctype(const char *dtype);

/* The variant name "at_<kernel>_<16 hex>": the hex is SHA-256's first 16 digits over the template's
 * content hash, the dtype (only for a template with a `dtype` pragma) and the canonical
 * config text (gen_space_config_text: "BLOCK=256,ITEMS=2048,..."). Never fails;
 * out[GEN_NAME_MAX] receives the name. */
void gen_variant_name(const struct tmpl *t, const char *dtype, const char *config_text,
                      char out[GEN_NAME_MAX]);

/* The same from a config: the canonical text of `config` in `s` (a space tmpl_space built
 * from `t`), then gen_variant_name. OUT: out[GEN_NAME_MAX] ("" on failure).
 * AT_OK; AT_NOMEM; AT_USAGE (NULL argument). */
int gen_emit_name(const struct tmpl *t, const struct gen_space *s, const char *dtype,
                  const int64_t *config, char out[GEN_NAME_MAX]);

/* The launch shape of the variant for `config` (one value per t->params entry, derived
 * included, as tmpl_space's space enumerates them) on b->dev for b->dims, from the
 * template's threads, grid, shared and workspace expressions. OUT: *out (zeroed on entry).
 * AT_OK; AT_USAGE when an expression fails to evaluate ("grid x 'cdiv(N, ITEMS)':
 * division by zero ..."), when a thread or grid extent is below 1 or shared or workspace
 * is below 0,
 * or for a NULL argument. */
int gen_emit_launch(const struct tmpl *t, const struct gen_bind *b, const int64_t *config,
                    struct gen_launch *out);

/* One translation unit holding the n variants configs[0..n-1] (each as for
 * gen_emit_launch) of template `t`, whose space `s` was built by tmpl_space(t, b->dev,
 * b->dims). The TU inlines the template's text once, after a #line naming the template
 * file so compiler messages point into it (its `#pragma autotune` lines turned into
 * comments, line numbers kept), so it is self-contained apart from at_common.h (compile
 * with -I templates/common). Then, per variant, a comment with its config and
 *   extern "C" __global__ void __launch_bounds__(THREADS) NAME(<kernel parameters>)
 *   { ::KERNEL<template arguments>(<parameter names>); }
 * THREADS being threads x*y*z. `target` only labels the TU: the same source serves CUDA,
 * HIP and host, at_common.h adapting to each.
 * OUT: *out, the source (malloc'd, NUL-terminated), NULL on failure.
 * AT_OK; AT_NOMEM; AT_USAGE: a NULL argument, a space not built from `t`, a missing or
 * unknown dtype for a template that has one, two configs with the same name, or a
 * config whose launch shape fails (gen_emit_launch's message). */
int gen_emit_tu(const struct tmpl *t, enum cc_target target, const struct gen_space *s,
                const struct gen_bind *b, const int64_t *const *configs, size_t n,
                char **out);

/* One variant's kernel as gen_emit_tu writes it, with `decl` in place of
 *   extern "C" __global__ void __launch_bounds__(THREADS)
 * (e.g. "static __global__ void __launch_bounds__(256)") and `name` as its name:
 *   DECL NAME(<kernel parameters>) { ::KERNEL<template arguments>(<parameter names>); }
 * config holds one value per t->params entry (derived included). The tuned-header
 * emitter instantiates winners this way from an #included template.
 * OUT: *out (malloc'd). AT_OK; AT_NOMEM; AT_USAGE (NULL argument, unknown dtype). */
int gen_emit_wrapper(const struct tmpl *t, const char *dtype, const int64_t *config,
                     const char *decl, const char *name, char **out);

#endif
