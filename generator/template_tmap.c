/*
 * template_tmap.c - the `tensormap` pragmas of a loaded template (template.h, struct
 * tmpl_tmap; docs/templates.md): checked against the kernel's signature once libclang has
 * read it, and freed. The pragma's syntax is read with the others in template.c, its
 * expressions bound there like `shared`'s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/expr.h"
#include "generator/template.h"

int tmpl_tmaps_check(const struct tmpl *t, int *line, char *msg, size_t len)
{
  if (t->ntmaps > t->nfparams) {
    *line = t->tmaps[0].line;
    snprintf(msg, len, "tensormap: kernel '%s' has fewer parameters than tensor maps",
             t->kernel);
    return 1;
  }
  size_t first = t->nfparams - t->ntmaps;
  for (size_t i = 0; i < t->ntmaps; i++) {
    const struct tmpl_tmap *m = &t->tmaps[i];
    const struct tmpl_fparam *p = NULL;
    *line = m->line;
    for (size_t k = 0; k < first; k++)
      if (strcmp(t->fparams[k].name, m->param) == 0)
        p = &t->fparams[k];
    size_t tl = p ? strlen(p->type) : 0;
    if (!p || tl == 0 || p->type[tl - 1] != '*') {
      snprintf(msg, len, "tensormap '%.64s': kernel '%s' has no pointer parameter of that "
               "name before its tensor maps", m->param, t->kernel);
      return 1;
    }
    const struct tmpl_fparam *q = &t->fparams[first + i];
    char want[96];
    snprintf(want, sizeof want, "tmap_%.64s", m->param);
    if (strcmp(q->name, want) != 0 || strcmp(q->type, "const at_tensormap &") != 0) {
      snprintf(msg, len, "tensormap '%.64s': parameter %zu of kernel '%s' must be 'const "
               "at_tensormap &%s' (the maps end the parameters, in pragma order); found "
               "'%.64s %.64s'", m->param, first + i + 1, t->kernel, want, q->type, q->name);
      return 1;
    }
  }
  return 0;
}

void tmpl_tmaps_free(struct tmpl *t)
{
  for (size_t i = 0; i < t->ntmaps; i++) {
    free(t->tmaps[i].param);
    for (int k = 0; k < 3; k++) {
      free(t->tmaps[i].text[k]);
      gen_expr_free(t->tmaps[i].e[k]);
    }
  }
  t->ntmaps = 0;
}
