/*
 * build.h - the compile pipeline of a tuning run: the valid configs of a template's space
 * in, per variant its code object (by batch), resource usage, launch shape, occupancy and
 * verdict (ok, compile_error, pruned with a reason) out. It splits the configs into
 * batches of several variants per translation unit, compiles the batches on worker
 * threads with one compile backend (tuner/compile/compile.h), recompiles the variants of a failed
 * batch one by one so that one bad variant condemns no other, and keeps every compile in
 * a disk cache so that a second identical run compiles nothing. The design note and the
 * cache's invariants are at the top of build.c.
 */
#ifndef AT_TUNER_COMPILE_BUILD_H
#define AT_TUNER_COMPILE_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "generator/emit.h"
#include "tuner/compile/compile.h"
#include "tuner/device/occupancy.h"

struct tmpl;
struct gen_space;
struct dev_profile;

/* Variants per translation unit when the options say 0. */
#define BLD_DEFAULT_BATCH 16

/* Where the pipeline stands; passed to the progress callback. */
struct bld_progress {
  size_t variants_done, variants_total;   /* variants whose batch is compiled or cached */
  size_t batches_done, batches_total;     /* batches so far (single recompiles included) */
  size_t batches_cached;                  /* of batches_done, how many came from the cache */
  double elapsed_s;                       /* since bld_run started */
};

/* Called after each batch, from the worker thread that finished it, never two at once. */
typedef void (*bld_progress_fn)(void *ctx, const struct bld_progress *p);

struct bld_options {
  int jobs;                          /* worker threads; <= 0: the online CPUs */
  size_t batch;                      /* variants per TU; 0: BLD_DEFAULT_BATCH */
  const char *backend;               /* "nvrtc", "nvcc", "clang-hip", "host"; NULL: the
                                        first available one for the device's vendor */
  const char *cache_dir;             /* NULL: os_cache_dir(); "": no cache */
  const char *seed_cache_dir;        /* another cache under cache_dir (making a bundle:
                                        the user's): an entry cache_dir lacks is read
                                        from it and copied into cache_dir, and every
                                        compile is stored in both, so a bundle made again
                                        after a change compiles only what changed.
                                        NULL or "": none; ignored without cache_dir or
                                        with a bundle's toolchain */
  const char *const *include_dirs;   /* for the compiler (templates/common), NULL-ended */
  const char *const *flags;          /* extra compiler flags, NULL-ended, may be NULL */
  bld_progress_fn progress;          /* may be NULL */
  void *progress_ctx;
  const char *toolchain;             /* set: measure from a bundle (tuner/engine/bundle.h):
                                        the cache (cache_dir, required) is only read, the
                                        backend named by `backend` never runs and is not
                                        looked for, keys use this toolchain string (the
                                        bundle's), and a variant the cache lacks fails
                                        the call (AT_NOT_FOUND, naming it) */
  bool emulate;                      /* compile for the host device emulating `dev`: the
                                        space is `dev`'s, the backend cc_host, the arch
                                        "host:<dev->arch>" (its wave size, its matrix-core
                                        instructions); occupancy stays `dev`'s */
};

enum bld_verdict { BLD_OK = 0, BLD_COMPILE_ERROR = 1, BLD_PRUNED = 2 };

/* One variant, in the order the configs were given. */
struct bld_variant {
  char name[GEN_NAME_MAX];           /* at_<kernel>_<hex> */
  char *config_text;                 /* canonical "K=V,..." */
  size_t batch;                      /* index into bld_result.batches of the code object
                                        that holds it (its own single TU after a batch
                                        failed) */
  struct gen_launch launch;
  struct cc_kernel_res res;          /* all -1 when it did not compile */
  struct occ_result occ;             /* zeroed when it did not compile */
  enum bld_verdict verdict;
  char reason[192];                  /* pruned: "spills: ...", "occupancy 0: ..."; compile
                                        error: the log's first error line; ok: "" */
  char *log;                         /* compile_error: its own compile's log; else NULL */
};

/* The compile cache's alias of a variant (VARIANT_KEY.in in compile_dir, the cache's
 * compile/ folder): the key of the entry that holds it, into tu_key[65]; false when
 * there is no sound alias. For tools that look after the cache (autotune cache). */
bool bld_cache_alias(const char *compile_dir, const char *variant_key, char tu_key[65]);

/* One translation unit: a code object read from the cache that holds variants of this
 * result wherever they are (`cached`; `first` is the first of them), or one compiled
 * now: `count` variants in variant order (first and count then index the variants this
 * call compiled), unless `single` (then the one variant `first`, recompiled alone after
 * its batch failed). A variant's `batch` says which one holds it. */
struct bld_batch {
  size_t first, count;
  bool single;
  bool cached;                       /* came from the disk cache */
  enum cc_status status;             /* CC_OK or CC_COMPILE_ERROR */
  unsigned char *code;               /* the code object (CC_OK), for a measurement backend */
  size_t code_size;
  struct cc_kernel_res *kernels;     /* per kernel in the code object */
  size_t nkernels;
  char *log;                         /* the compiler's output */
  char key[65];                      /* cache key, 64 hex */
};

struct bld_stats {
  size_t variants, ok, pruned, compile_errors;
  size_t batches;                    /* every TU: first-pass batches and single recompiles */
  size_t compiled;                   /* TUs actually compiled this run */
  size_t cache_hits;                 /* TUs read from the cache */
  size_t cache_rejected;             /* entries found but refused (short, corrupt) */
  size_t cache_writes_failed;        /* entries that could not be stored (not an error) */
  double wall_s;
};

struct bld_result {
  const char *backend;               /* the backend's name (static) */
  char *toolchain;                   /* "nvrtc 13.0", "clang 19.1.7" */
  const char *arch;                  /* the device's arch (static) */
  struct bld_variant *variants;
  size_t nvariants;
  struct bld_batch *batches;
  size_t nbatches;
  struct bld_stats stats;
};

/* Compile the n variants configs[i * P .. i * P + P) (P = gen_space_param_count(s), one
 * value per t->params entry as s enumerates them) of template `t` for `dev` and the
 * problem `dims` (t->ndims values; NULL: defaults), element type `dtype` (for a template
 * with a `dtype` pragma), with space `s` built by tmpl_space(t, dev, dims).
 * OUT: *out, zeroed on entry, filled on AT_OK (bld_result_release it in any case).
 * Returns AT_OK when every batch was compiled or read from the cache, whatever the
 * verdicts; AT_USAGE (NULL argument, n == 0, unknown backend name, a backend of another
 * target than the device's, a config gen_emit_tu refuses); AT_UNSUPPORTED (no backend
 * available: its reason; the host device without the host backend); AT_NOMEM; or the
 * status of a backend that could not run at all (AT_NOT_FOUND, AT_IO, ...), with
 * at_last_error() saying why. Thread-safe against other calls. */
int bld_run(const struct tmpl *t, const struct gen_space *s, const struct dev_profile *dev,
            const int64_t *dims, const char *dtype, const int64_t *configs, size_t n,
            const struct bld_options *opt, struct bld_result *out);

/* Release what a result holds (not the struct); a zeroed or released one is accepted. */
void bld_result_release(struct bld_result *r);

/* Move src's variants and batches to the end of dst (batch indices renumbered), add its
 * stats, take its toolchain if dst has none; src is released. For a caller that compiles
 * a space in chunks (bld_run per chunk) and keeps one result. AT_OK, AT_NOMEM (dst
 * unchanged, src released). */
int bld_result_append(struct bld_result *dst, struct bld_result *src);

/* The backend bld_run would use for `dev` with override `name` (NULL: pick by vendor).
 * OUT: *b. AT_OK; AT_USAGE (unknown name, or a backend for another target);
 * AT_UNSUPPORTED (none available, with the reason). */
int bld_backend(const struct dev_profile *dev, const char *name, bool emulate,
                const struct cc_backend **b);

const char *bld_verdict_name(enum bld_verdict v); /* "ok", "compile_error", "pruned" */

#endif
