/*
 * template_coords.c - a template's configs as search coordinates (template.h,
 * tmpl_search_coords): the position of each free parameter's value in its value list,
 * what the search strategies (tuner/search/search.h) move along. Used by `autotune gemm` and
 * `autotune tune`.
 */
#include <stdlib.h>

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
