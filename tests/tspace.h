/*
 * tspace.h - test helper: a template's valid configs on a device for one problem, all of
 * them in memory (the template loaded with templates/common on the include path, its
 * space spanned by tmpl_space and collected). Every failure is an assertion.
 */
#ifndef AT_TESTS_TSPACE_H
#define AT_TESTS_TSPACE_H

#include <stdbool.h>
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
  uint64_t raw;                 /* configs enumerated before the requires */
  int64_t dims[TMPL_MAX_DIMS];  /* the problem, in the template's problem order */
};

/* Open the space of the template at `path` on device `dev` (a profile name) for the
 * problem dims[0..ndims) (ndims must be the template's dim count). */
void th_space_open(struct th_space *sp, const char *path, const char *dev, const int64_t *dims,
                   size_t ndims);
void th_space_close(struct th_space *sp);
/* The value of param (or derived value) `name` in config i. */
int64_t th_space_get(const struct th_space *sp, size_t i, const char *name);
/* A config by some of its params: `sel` is "NAME=VALUE,NAME=VALUE,..." (a name that is
 * no param of sp's template is an assertion failure). The first config of sp that has
 * every value of sel, -1 if none; whether config i has them; how many configs have them. */
long th_space_find(const struct th_space *sp, const char *sel);
bool th_space_has(const struct th_space *sp, size_t i, const char *sel);
size_t th_space_count(const struct th_space *sp, const char *sel);
/* The configs of sel[0..n), each one that sp must have, as one flat malloc'd array of n x
 * sp->np values (bld_run's `configs`). */
int64_t *th_space_configs(const struct th_space *sp, const char *const *sel, size_t n);
/* The distinct values of `name` over sp's configs, in first-seen order: the first cap of
 * them in seen[]; returns how many were stored (at most cap). */
size_t th_space_values(const struct th_space *sp, const char *name, int64_t *seen, size_t cap);
/* A small sample with every value of every param in names[0..nnames): again and again
 * the config (among those that have every value of `where`, a selector as th_space_find's;
 * NULL: all) that brings the most (param, value) pairs not yet covered, the first of
 * equals, until none is left or cap are taken. OUT: which[] (config indices); returns how
 * many. */
size_t th_space_cover(const struct th_space *sp, const char *const *names, size_t nnames,
                      const char *where, size_t *which, size_t cap);
/* The value of `name` in a config's canonical text ("BM=64,BN=128,..."), -1 if absent: for
 * the sample filters of bench/bench_gemm_sweep's gsw_run. */
int64_t th_cfg(const char *config, const char *name);
/* Does the canonical text `config` have every NAME=VALUE of sel (as th_space_find)? */
bool th_cfg_matches(const char *config, const char *sel);

#endif
