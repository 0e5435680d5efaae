/*
 * header.h - the text of a tuned header (`autotune emit-header`, docs/headers.md): the
 * winners of one op on one device, either as kernels (the installed templates
 * #included and instantiated, a dispatch per dtype and layout that picks the config
 * for a shape and launches it on CUDA, HIP or the host runtime) or as parameters (plain
 * C: a table of winners and a select function). The dispatch is db_query_best's
 * device tier written out: exact shape, else the nearest tuned shape by the same
 * log-space distance, ties to the faster winner and then to the earlier problem.
 *
 * The caller (tuner/cli/cmd_emit.c) reads the database and loads the templates; this file
 * only writes text, and writes the same bytes for the same spec.
 */
#ifndef AT_GENERATOR_HEADER_H
#define AT_GENERATOR_HEADER_H

#include <stddef.h>
#include <stdint.h>

struct tmpl;
struct dev_profile;

#define HDR_MAX_DIMS 8

/* One distinct (template, dtype, config) among the winners. */
struct hdr_variant {
  const struct tmpl *t;
  const char *dtype;          /* "f32", "f16", "bf16" */
  const char *config;         /* canonical "K=V,..." text */
  const int64_t *values;      /* one per t->params entry, derived included */
  const char *include;        /* the #include path under the templates root: "gemm/gemm_simt.h" */
};

/* A tuned shape: its dims (op order), the winner's median time, its variant. */
struct hdr_entry {
  int64_t dims[HDR_MAX_DIMS];
  double time_us;
  size_t variant;             /* index into spec->variants */
};

#define HDR_MAX_FIXED 8

/* The shapes of one dtype and layout, in problem id order (the tie order). */
struct hdr_family {
  const char *dtype, *layout;
  const struct hdr_entry *entries;
  size_t n;
  /* Template problem dims the family's layout fixes, as literals in the launch
   * expressions (attention: D, CAUSAL, DECODE, PAGED, LSE from "hd128_causal_paged"; gemm
   * has none here: TA and TB come from its layout). */
  int nfixed;
  const char *fixed_names[HDR_MAX_FIXED];
  int64_t fixed_values[HDR_MAX_FIXED];
};

enum hdr_mode { HDR_KERNELS, HDR_PARAMS };

struct hdr_spec {
  enum hdr_mode mode;
  const char *op;                           /* "gemm" (kernels mode: gemm or attention) */
  int ndims;
  const char *dim_names[HDR_MAX_DIMS];      /* the op's dims: "m", "n", "k" */
  const char *device;                       /* as recorded: "host", "h100", "host:mi300x" */
  const struct dev_profile *space_dev;      /* whose constants the templates' expressions use */
  const char *db_name;                      /* the database file's base name */
  const char *newest;                       /* created_at of the newest winning trial used */
  const char *version;                      /* autotune's */
  const char *file_name;                    /* the header's base name (include guard) */
  const char *command;                      /* the command line that regenerates it */
  const struct hdr_family *families;
  size_t nfamilies;
  const struct hdr_variant *variants;
  size_t nvariants;
  const int64_t *single;                    /* params mode: the shape for the #defines, or NULL */
};

/* The header's text. OUT: *out (malloc'd). AT_OK; AT_NOMEM; AT_USAGE: kernels mode for
 * an op other than gemm and attention (whose dims must be b, h, sq, sk, hkv), a template
 * whose problem dim the launcher cannot bind, or a launch expression naming something the
 * header cannot bind (message names it).
 * Kernels mode, per family: a `_choice` function, `_workspace_size` (bytes of zeroed
 * global memory the chosen variant needs: `#pragma autotune workspace`, 0 for most), a
 * `_ws` launcher taking that workspace (the caller's, all zero, left all zero by the
 * kernel) and the plain launcher, which is `_ws` with none (AT_TUNED_EINVAL_ when the
 * chosen variant needs one). */
int hdr_emit(const struct hdr_spec *s, char **out);

#endif
