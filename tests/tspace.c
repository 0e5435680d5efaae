/*
 * tspace.c - the test helper of tspace.h.
 */
#include "tests/tspace.h"

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "generator/space.h"
#include "base/device.h"
#include "base/status.h"

void th_space_open(struct th_space *sp, const char *path, const char *dev, const int64_t *dims,
                   size_t ndims)
{
  static const char *const incs[] = {AT_SOURCE_DIR "/templates/common", NULL};
  memset(sp, 0, sizeof *sp);
  cr_assert_eq(tmpl_load(path, incs, &sp->t), AT_OK, "%s", at_last_error());
  cr_assert_eq(sp->t->ndims, ndims, "%s has %zu dims, not %zu", path, sp->t->ndims, ndims);
  memcpy(sp->dims, dims, ndims * sizeof *dims);
  const struct dev_profile *d = dev_find(dev);
  cr_assert_not_null(d, "%s", at_last_error());
  sp->dev = d;
  cr_assert_eq(tmpl_space(sp->t, d, sp->dims, &sp->s), AT_OK, "%s", at_last_error());
  sp->np = gen_space_param_count(sp->s);
  cr_assert_eq(gen_space_collect(sp->s, &sp->cfg, &sp->n, NULL), AT_OK, "%s", at_last_error());
}

void th_space_close(struct th_space *sp)
{
  free(sp->cfg);
  gen_space_free(sp->s);
  tmpl_free(sp->t);
  memset(sp, 0, sizeof *sp);
}

int64_t th_space_get(const struct th_space *sp, size_t i, const char *name)
{
  int idx = gen_space_param_index(sp->s, name);
  cr_assert_geq(idx, 0, "no param %s", name);
  cr_assert_lt(i, sp->n);
  return sp->cfg[i * sp->np + (size_t)idx];
}

size_t th_space_values(const struct th_space *sp, const char *name, int64_t *seen, size_t cap)
{
  size_t n = 0;
  for (size_t i = 0; i < sp->n; i++) {
    int64_t v = th_space_get(sp, i, name);
    bool known = false;
    for (size_t q = 0; q < n; q++)
      known |= seen[q] == v;
    if (!known && n < cap)
      seen[n++] = v;
  }
  return n;
}

int64_t th_cfg(const char *config, const char *name)
{
  size_t n = strlen(name);
  for (const char *p = config; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
    if (strncmp(p, name, n) == 0 && p[n] == '=')
      return strtoll(p + n + 1, NULL, 10);
  return -1;
}
