/*
 * tune_where.c - `--where K=V[|V...],...`: only the configs whose parameters have the given
 * values, in every template that has those parameters (a template without one is not
 * constrained by it). What it is for: measuring around a known config (the tile fixed,
 * the pipeline parameters free) without a budget spent on the rest of the space, and
 * bundles for exactly that (the filter travels in the bundle's `covers`).
 *
 * Parsed once per run (tune_where_parse: bad text is bad input, exit 2, before the
 * database opens); applied to each template's valid configs of each problem before the
 * strategy sees them (tune_where_filter); a name that no template of the run has is bad
 * input too, said after the first problem's templates are spanned (tune_where_unmatched).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/status.h"
#include "generator/space.h"
#include "tuner/engine/tune_internal.h"

int tune_where_parse(const char *text, struct tune_where *w)
{
  memset(w, 0, sizeof *w);
  if (!text)
    return AT_OK;
  const char *p = text;
  if (!*p)
    return at_error(AT_USAGE, "bad --where '' (expected NAME=VALUE[|VALUE...][,NAME=...])");
  while (*p) {
    if (w->n >= TUNE_WHERE_MAX)
      return at_error(AT_USAGE, "bad --where '%.80s': more than %d parameters", text,
                      TUNE_WHERE_MAX);
    struct tune_where_term *t = &w->t[w->n];
    size_t len = 0;
    while (isalnum((unsigned char)p[len]) || p[len] == '_')
      len++;
    if (len == 0 || len >= sizeof t->name || isdigit((unsigned char)p[0]) || p[len] != '=')
      return at_error(AT_USAGE, "bad --where '%.80s' at '%.20s' (expected NAME=VALUE[|VALUE...]"
                      "[,NAME=...], NAME a template parameter)", text, p);
    memcpy(t->name, p, len);
    t->name[len] = '\0';
    for (size_t i = 0; i < w->n; i++)
      if (strcmp(w->t[i].name, t->name) == 0)
        return at_error(AT_USAGE, "bad --where '%.80s': %s given twice (list its values as "
                        "%s=A|B)", text, t->name, t->name);
    p += len + 1;
    for (;;) {
      char *end;
      long long v = strtoll(p, &end, 10);
      if (end == p || (*end && *end != '|' && *end != ','))
        return at_error(AT_USAGE, "bad --where '%.80s' at '%.20s' (expected an integer value "
                        "of %s)", text, p, t->name);
      if (t->nv >= TUNE_WHERE_MAX_VALUES)
        return at_error(AT_USAGE, "bad --where '%.80s': more than %d values of %s", text,
                        TUNE_WHERE_MAX_VALUES, t->name);
      t->v[t->nv++] = (int64_t)v;
      p = end;
      if (*p != '|')
        break;
      p++;
    }
    w->n++;
    if (*p == ',' && !p[1])
      return at_error(AT_USAGE, "bad --where '%.80s': a ',' with nothing after it", text);
    if (*p == ',')
      p++;
  }
  return AT_OK;
}

size_t tune_where_filter(struct tune_where *w, const struct gen_space *space, int64_t *configs,
                         size_t n)
{
  int idx[TUNE_WHERE_MAX];
  size_t nidx = 0;
  for (size_t i = 0; i < w->n; i++) {
    idx[i] = gen_space_param_index(space, w->t[i].name);
    if (idx[i] >= 0) {
      w->t[i].matched = true;
      nidx++;
    }
  }
  if (nidx == 0)
    return n;
  const size_t np = gen_space_param_count(space);
  size_t kept = 0;
  for (size_t c = 0; c < n; c++) {
    const int64_t *cfg = configs + c * np;
    bool ok = true;
    for (size_t i = 0; i < w->n && ok; i++) {
      if (idx[i] < 0)
        continue;
      bool any = false;
      for (size_t k = 0; k < w->t[i].nv && !any; k++)
        any = cfg[idx[i]] == w->t[i].v[k];
      ok = any;
    }
    if (!ok)
      continue;
    if (kept != c)
      memmove(configs + kept * np, cfg, np * sizeof *cfg);
    kept++;
  }
  return kept;
}

const char *tune_where_unmatched(const struct tune_where *w)
{
  for (size_t i = 0; i < w->n; i++)
    if (!w->t[i].matched)
      return w->t[i].name;
  return NULL;
}
