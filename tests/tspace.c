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
  struct gen_space_stats st;
  cr_assert_eq(gen_space_collect(sp->s, &sp->cfg, &sp->n, &st), AT_OK, "%s", at_last_error());
  sp->raw = st.raw;
  gen_space_stats_release(&st);
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

#define SEL_MAX 32 /* names in one selector */

/* sel parsed once: its names' indexes in a config and their values. */
struct sel {
  size_t n;
  int idx[SEL_MAX];
  int64_t v[SEL_MAX];
};

/* The pair of sel at *p ("NAME=VALUE", then ',' or the end): its name and value; *p moves
 * to the next pair (NULL after the last). */
static int64_t sel_pair(const char *sel, const char **p, char name[64])
{
  const char *eq = strchr(*p, '='), *end = strchr(*p, ',');
  cr_assert(eq && (!end || eq < end) && eq > *p && eq - *p < 64,
            "selector %s: want NAME=VALUE,...", sel);
  memcpy(name, *p, (size_t)(eq - *p));
  name[eq - *p] = '\0';
  char *rest;
  const int64_t v = strtoll(eq + 1, &rest, 10);
  cr_assert(rest > eq + 1 && rest == (end ? end : eq + strlen(eq)), "selector %s: %s's value",
            sel, name);
  *p = end ? end + 1 : NULL;
  return v;
}

static void sel_parse(const struct th_space *sp, const char *text, struct sel *out)
{
  out->n = 0;
  for (const char *p = text; p && *p;) {
    cr_assert_lt(out->n, (size_t)SEL_MAX, "selector %s: too many names", text);
    char name[64];
    out->v[out->n] = sel_pair(text, &p, name);
    const int idx = gen_space_param_index(sp->s, name);
    cr_assert_geq(idx, 0, "selector %s: no param %s", text, name);
    out->idx[out->n++] = idx;
  }
}

static bool sel_has(const struct th_space *sp, size_t i, const struct sel *q)
{
  const int64_t *cfg = sp->cfg + i * sp->np;
  for (size_t k = 0; k < q->n; k++)
    if (cfg[q->idx[k]] != q->v[k])
      return false;
  return true;
}

long th_space_find(const struct th_space *sp, const char *sel)
{
  struct sel q;
  sel_parse(sp, sel, &q);
  for (size_t i = 0; i < sp->n; i++)
    if (sel_has(sp, i, &q))
      return (long)i;
  return -1;
}

bool th_space_has(const struct th_space *sp, size_t i, const char *sel)
{
  struct sel q;
  sel_parse(sp, sel, &q);
  cr_assert_lt(i, sp->n);
  return sel_has(sp, i, &q);
}

size_t th_space_count(const struct th_space *sp, const char *sel)
{
  struct sel q;
  sel_parse(sp, sel, &q);
  size_t c = 0;
  for (size_t i = 0; i < sp->n; i++)
    c += sel_has(sp, i, &q);
  return c;
}

int64_t *th_space_configs(const struct th_space *sp, const char *const *sel, size_t n)
{
  int64_t *cfg = malloc((n ? n : 1) * sp->np * sizeof *cfg);
  cr_assert_not_null(cfg);
  for (size_t s = 0; s < n; s++) {
    const long at = th_space_find(sp, sel[s]);
    cr_assert_geq(at, 0, "%s is not in the space", sel[s]);
    memcpy(cfg + s * sp->np, sp->cfg + (size_t)at * sp->np, sp->np * sizeof *cfg);
  }
  return cfg;
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

size_t th_space_cover(const struct th_space *sp, const char *const *names, size_t nnames,
                      const char *where, size_t *which, size_t cap)
{
  enum { MAXV = 16 };
  size_t *nv = calloc(nnames ? nnames : 1, sizeof *nv);
  int64_t(*vals)[MAXV] = calloc(nnames ? nnames : 1, sizeof *vals);
  bool(*covered)[MAXV] = calloc(nnames ? nnames : 1, sizeof *covered);
  bool *ok = malloc(sp->n ? sp->n : 1);
  size_t *at = calloc(nnames ? nnames : 1, sizeof *at); /* each name's slot in a config */
  cr_assert(nv && vals && covered && ok && at);
  struct sel filter; /* `where`, parsed once */
  if (where)
    sel_parse(sp, where, &filter);
  for (size_t i = 0; i < sp->n; i++)
    ok[i] = !where || sel_has(sp, i, &filter);
  for (size_t p = 0; p < nnames; p++) {
    const int idx = gen_space_param_index(sp->s, names[p]);
    cr_assert_geq(idx, 0, "no param %s", names[p]);
    at[p] = (size_t)idx;
    nv[p] = th_space_values(sp, names[p], vals[p], MAXV);
  }
  size_t n = 0;
  while (n < cap) {
    size_t best = 0, gain_best = 0;
    for (size_t i = 0; i < sp->n; i++) {
      if (!ok[i])
        continue;
      size_t gain = 0;
      for (size_t p = 0; p < nnames; p++) {
        const int64_t v = sp->cfg[i * sp->np + at[p]];
        for (size_t q = 0; q < nv[p]; q++)
          gain += !covered[p][q] && vals[p][q] == v;
      }
      if (gain > gain_best)
        best = i, gain_best = gain;
    }
    if (gain_best == 0)
      break;
    which[n++] = best;
    for (size_t p = 0; p < nnames; p++) {
      const int64_t v = sp->cfg[best * sp->np + at[p]];
      for (size_t q = 0; q < nv[p]; q++)
        covered[p][q] |= vals[p][q] == v;
    }
  }
  free(nv), free(vals), free(covered), free(ok), free(at);
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

bool th_cfg_matches(const char *config, const char *sel)
{
  for (const char *p = sel; p && *p;) {
    char name[64];
    const int64_t v = sel_pair(sel, &p, name);
    if (th_cfg(config, name) != v)
      return false;
  }
  return true;
}
