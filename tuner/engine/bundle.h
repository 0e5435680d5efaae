/*
 * bundle.h - what a GPU node without compilers needs to tune an op for a device and a
 * list of problems: the templates (and the common headers they include), their parse
 * cache entries, and the compiled code object, resources and verdict of every valid
 * variant of every problem, with a manifest (bundle.json) naming the op, the device,
 * the compile backend and its toolchain string. `autotune bundle OP ... --out DIR`
 * writes one (bundle_make); `autotune OP --bundle DIR ...` measures from it
 * (tune_opts.bundle): no libclang, no compiler, and the trials recorded exactly as a
 * direct run records them, the bundle's identity in the run's arguments.
 *
 * Layout of DIR: bundle.json; templates/<op folder>/NAME.h, templates/user/NAME.h (a
 * user's template, `tune`), templates/common/; cache/parse/ and cache/compile/ (the
 * caches' own formats, template_cache.c and build.c, so the bundle is a warm cache that
 * moves). The identity is the first 16 hex digits of a SHA-256 over every file's path
 * and bytes, in path order, the manifest's identity line left out.
 */
#ifndef AT_TUNER_ENGINE_BUNDLE_H
#define AT_TUNER_ENGINE_BUNDLE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

struct tune_opts;

#define BUNDLE_FORMAT 1

struct bundle {
  char dir[PATH_MAX];           /* absolute */
  char id[17];
  char op[32], device[80], emulate[64], arch[48];
  char backend[32], toolchain[160];
  char covers[320];             /* "all": every valid variant; else the one run it holds:
                                   "--strategy S --budget N --seed X"; either followed by
                                   " --where W" when made with --where */
  int64_t variants, ok, files, bytes;
};

/* Read DIR/bundle.json. OUT: *b. AT_OK; AT_USAGE (no bundle there, another format, a
 * manifest that does not parse, or files that no longer hash to its identity), with a
 * one-line reason. */
int bundle_open(const char *dir, struct bundle *b);

/* Write a bundle for what `o` would tune (its op, device, problems, templates) into the
 * folder `out`, which must not exist: built in a sibling temporary folder and renamed
 * into place when whole, so a failure leaves nothing at `out`. Every valid variant of
 * every problem is compiled, unless o names a budget and a strategy whose picks are known
 * before measuring (exhaustive, random, model: search.h's order_known): then exactly what
 * that run measures (its picks and each template's default), for a small bundle that
 * serves that run alone. Nothing is measured and o->db_path is not touched. OUT: *b, the manifest. AT_OK; AT_USAGE (bad
 * input, `out` exists); AT_UNSUPPORTED (no compiler for the device); AT_IO; AT_NOMEM;
 * AT_INTERRUPTED. */
int bundle_make(const struct tune_opts *o, const char *out, struct bundle *b);

/* The bundle's copy of template `arg` (a name, or a path: its file name) of an op whose
 * templates live in `folder` (NULL: a user's template, templates/user/). OUT: out.
 * AT_OK; AT_USAGE when the bundle has no such template. */
int bundle_template(const struct bundle *b, const char *folder, const char *arg,
                    char out[PATH_MAX]);

/* For the engine making a bundle: copy the template at `path` into
 * <staging>/templates/<folder or "user">/ and, once, the folder `common` ("" none) into
 * <staging>/templates/common/. OUT: out, the copy's path. AT_OK; AT_IO; AT_NOMEM. */
int bundle_stage_template(const char *staging, const char *folder, const char *path,
                          const char *common, char out[PATH_MAX]);

#endif
