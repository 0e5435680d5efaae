/*
 * gemm_sweep.h - the correctness sweep of a GEMM template: every valid variant of its
 * space for one device (or a deterministic sample, or those a filter keeps), compiled
 * for the host device and run on the SIMT emulator for every shape x layout x dtype,
 * each result checked against the f64 reference (op_gemm.h). It is what the template
 * tests run on a reduced space and what bench/gemm_sweep runs on the full one. A device
 * other than host is emulated: its space is enumerated exactly as for that device
 * (tmpl_space with its profile) and the variants are compiled by the host backend for
 * "host:<arch>" (its wave size, its matrix-core instructions). In compile-only mode the
 * variants are compiled for the device itself (NVRTC, clang-hip) and nothing runs.
 *
 * Which variants. Per layout, the configs valid on the device for the default problem
 * (every dim 4096, TA/TB the layout's), then those valid only for one of the shapes
 * (a space with shape-dependent constraints), each config once. Every variant runs on
 * every shape: the GEMM contract says any M, N, K >= 1, not only the shapes the
 * variant would be chosen for. The launch shape is evaluated per shape.
 */
#ifndef AT_TUNER_OPS_GEMM_SWEEP_H
#define AT_TUNER_OPS_GEMM_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tuner/ops/op_gemm.h"

struct dev_profile;

/* One problem shape. pad > 0 adds pad to the smallest lda, ldb and ldc; beta0: beta = 0
 * with C poisoned by NaN (else beta = -0.5); alpha is 1.5. */
struct gsw_shape {
  int64_t m, n, k;
  int64_t pad;
  bool beta0;
};

/* The standard shapes: 1x1x1, 7x13x29 (beta 0), 64x64x64, 127x129x65, 1x256x512,
 * 300x8x40, 48x40x24 (padded by 4: rows stay 16-byte aligned). */
extern const struct gsw_shape gsw_default_shapes[];
/* The same awkwardness for templates whose operands need 16-byte aligned rows (TMA:
 * templates/gemm/gemm_tma.h): every dim a multiple of 8, none a multiple of the tiles
 * but 64, 8x8x8 and 8 x 256 x 520 (decode-like), 72x136x200 (beta 0), 200x264x72,
 * 264x8x40, 48x40x24 padded by 8. */
extern const struct gsw_shape gsw_aligned_shapes[];
extern const size_t gsw_aligned_nshapes;
extern const size_t gsw_default_nshapes;
/* The decode shapes (gemm_skinny): M = 1, 7 (beta 0), 16 (padded by 4), 64 against odd
 * N and K, and M = 300, past the space's M <= 64, since any M must still be right. */
extern const struct gsw_shape gsw_decode_shapes[];
extern const size_t gsw_decode_nshapes;

/* Keep a variant? config is its canonical text ("BK=8,BM=64,..."). Nonzero: keep. */
typedef int (*gsw_filter_fn)(void *ctx, const char *config);

struct gsw_options {
  const struct dev_profile *dev;      /* the device whose space is swept; required */
  const struct gsw_shape *shapes;     /* NULL: the default shapes */
  size_t nshapes;
  const char *const *layouts;         /* NULL-terminated "NN".."TT"; NULL: all four */
  const enum gemm_dtype *dtypes;      /* NULL: those of f32, f16, bf16 the template
                                         takes on dev (gemm_mma: no f32) */
  size_t ndtypes;
  size_t sample;                      /* 0: every variant; else this many per layout:
                                         the first and the last config and the rest
                                         picked by a seeded shuffle, in space order */
  uint64_t seed;                      /* for the sample */
  gsw_filter_fn filter;               /* NULL: keep all (applied before sampling) */
  void *filter_ctx;
  bool compile_only;                  /* compile for dev itself, run nothing */
  int jobs;                           /* compile threads and emulator workers (through
                                         meas_host_set_jobs); <= 0: the CPUs */
  size_t batch;                       /* variants per TU; 0: the build default */
  const char *cache_dir;              /* NULL: the default compile cache; "": none */
  FILE *log;                          /* NULL: quiet; else progress and failures */
};

struct gsw_result {
  size_t layouts, dtypes, shapes;     /* what was swept */
  size_t variants;                    /* configs swept, summed over layouts */
  size_t variants_per_layout;         /* the largest per-layout count */
  size_t compiled;                    /* variant objects built (variants x dtypes) */
  size_t compile_errors;              /* each also a failure */
  size_t spills;                      /* compile-only: variants with spills */
  size_t serialized;                  /* compile-only: variants whose wgmma ptxas
                                         serialized (its "serialized" warning names the
                                         variant's function) */
  size_t occ_zero;                    /* compile-only: variants with occupancy 0 */
  size_t occ_hist[5];                 /* compile-only: occupancy in [0,.25) .. [.75,1], 1 */
  int regs_min, regs_max;             /* compile-only: registers per thread (NVIDIA) or
                                         architectural VGPRs (AMD) over the variants; 0
                                         when none was read */
  size_t runs;                        /* kernel launches checked */
  size_t failures;                    /* runs with a wrong result or an error, plus
                                         compile errors */
  char first_failure[1024];           /* "" or "at_gemm_simt_... (BK=8,...) f16 NN
                                         7x13x29 beta 0: C[3][4] = ..." */
  double compile_s, run_s;
};

/* Sweep the template at `path` (loaded with templates/common on the include path) as
 * the options say. OUT: *out (zeroed on entry). Returns AT_OK when the sweep ran,
 * whatever its failures (see out->failures); AT_USAGE (bad options, a template without
 * M, N, K dims or a dtype); the status of loading the template, building the spaces or
 * compiling (a backend that cannot run: AT_UNSUPPORTED with why); AT_NOMEM. */
int gsw_run(const char *path, const struct gsw_options *opt, struct gsw_result *out);

/* The summary line: "1552 variants x 7 shapes x 4 layouts x 3 dtypes = 130368 runs,
 * failures 0" into buf. */
void gsw_summary(const struct gsw_result *r, char *buf, size_t len);

#endif
