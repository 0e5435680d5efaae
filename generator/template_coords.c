/*
 * template_coords.c - a template's configs as search coordinates (template.h,
 * tmpl_search_coords): the position of each free parameter's value in its value list,
 * what the search strategies (tuner/search/search.h) move along. Used by `autotune gemm` and
 * `autotune tune`. And a recorded config's text read back into values
 * (tmpl_config_values).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "generator/template.h"
#include "base/status.h"

int tmpl_search_coords(const struct tmpl *t, const int64_t *configs, const size_t *which,
                       size_t n, int32_t **out, size_t *ndims)
{
  if (!t || (n && !configs) || !out || !ndims)
    return at_error(AT_USAGE, "tmpl_search_coords: NULL argument");
  *out = NULL;
  *ndims = 0;
  size_t nd = 0;
  for (size_t j = 0; j < t->nparams; j++)
    nd += !t->params[j].expr && t->params[j].nvalues > 1;
  size_t *dims = malloc((nd + 1) * sizeof *dims);
  int32_t *c = malloc((n * nd + 1) * sizeof *c);
  if (!dims || !c) {
    free(dims);
    free(c);
    return at_error(AT_NOMEM, "out of memory");
  }
  nd = 0;
  for (size_t j = 0; j < t->nparams; j++)
    if (!t->params[j].expr && t->params[j].nvalues > 1)
      dims[nd++] = j;
  for (size_t i = 0; i < n; i++) {
    const int64_t *cfg = configs + (which ? which[i] : i) * t->nparams;
    for (size_t d = 0; d < nd; d++) {
      const struct tmpl_param *tp = &t->params[dims[d]];
      int32_t pos = 0;
      for (size_t q = 0; q < tp->nvalues; q++)
        if (tp->values[q] == cfg[dims[d]])
          pos = (int32_t)q;
      c[i * nd + d] = pos;
    }
  }
  free(dims);
  *out = c;
  *ndims = nd;
  return AT_OK;
}

bool tmpl_config_value(const char *text, const char *name, int64_t *v)
{
  size_t len = strlen(name);
  for (const char *p = text; p && *p; p = strchr(p, ','), p = p ? p + 1 : NULL)
    if (strncmp(p, name, len) == 0 && p[len] == '=') {
      char *end = NULL;
      errno = 0;
      long long x = strtoll(p + len + 1, &end, 10);
      if (errno || end == p + len + 1 || (*end && *end != ','))
        return false;
      *v = x;
      return true;
    }
  return false;
}

int tmpl_config_values(const struct tmpl *t, const char *text, int64_t *values)
{
  if (!t || !text || (t->nparams && !values))
    return at_error(AT_USAGE, "tmpl_config_values: NULL argument");
  for (size_t i = 0; i < t->nparams; i++)
    if (!tmpl_config_value(text, t->params[i].name, &values[i]))
      return at_error(AT_USAGE, "config '%.200s' has no value for %.40s of template %.60s "
                      "(the template changed since tuning)", text, t->params[i].name,
                      t->kernel);
  return AT_OK;
}
