/*
 * tspace.h - test helper: a template's valid configs on a device for one problem, all of
 * them in memory (the template loaded with templates/common on the include path, its
 * space spanned by tmpl_space and collected). Every failure is an assertion.
 */
#ifndef AT_TESTS_TSPACE_H
#define AT_TESTS_TSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "generator/template.h"

struct dev_profile;

struct th_space {
  const struct dev_profile *dev;
  struct tmpl *t;
  struct gen_space *s;
  int64_t *cfg;                 /* n configs of np values (params and derived, file order) */
  size_t n, np;
  int64_t dims[TMPL_MAX_DIMS];  /* the problem, in the template's problem order */
};

/* Open the space of the template at `path` on device `dev` (a profile name) for the
 * problem dims[0..ndims) (ndims must be the template's dim count). */
void th_space_open(struct th_space *sp, const char *path, const char *dev, const int64_t *dims,
                   size_t ndims);
void th_space_close(struct th_space *sp);
/* The value of param (or derived value) `name` in config i. */
int64_t th_space_get(const struct th_space *sp, size_t i, const char *name);
/* The distinct values of `name` over sp's configs, in first-seen order: the first cap of
 * them in seen[]; returns how many were stored (at most cap). */
size_t th_space_values(const struct th_space *sp, const char *name, int64_t *seen, size_t cap);
/* The value of `name` in a config's canonical text ("BM=64,BN=128,..."), -1 if absent: for
 * the sample filters of bench/bench_gemm_sweep's gsw_run. */
int64_t th_cfg(const char *config, const char *name);

#endif
