/*
 * template_cluster.c - the `cluster` pragma of a template (docs/templates.md): CTAs per
 * thread block cluster in x, y, z, expressions over the params evaluated per variant like
 * `threads`. Its syntax is `threads`'s, read in template.c (pragma_xyz, load_xyz); here the
 * evaluation and its limits, shared by gen_emit_launch and the tuned header. Also the
 * other launch attribute of the kernel's declaration, `min_blocks` (one expression): the
 * blocks an SM must hold, CUDA's second __launch_bounds__ argument (emit.c, header.c).
 */
#include <inttypes.h>

#include "base/status.h"
#include "generator/expr.h"
#include "generator/template.h"

int tmpl_cluster_eval(const struct tmpl *t, const int64_t *slots, int64_t out[3])
{
  static const char axis[] = "xyz";
  int64_t ctas = 1;
  for (int i = 0; i < 3; i++) {
    out[i] = 1;
    if (!t->cluster[i])
      continue;
    if (gen_expr_eval(t->cluster[i], slots, NULL, &out[i]))
      return at_error(AT_USAGE, "cluster %c '%.80s': %s", axis[i], t->cluster_text[i],
                      at_last_error());
    if (out[i] < 1 || out[i] > TMPL_MAX_CLUSTER)
      return at_error(AT_USAGE, "cluster %c '%.80s' is %" PRId64 " (1 .. %d)", axis[i],
                      t->cluster_text[i], out[i], TMPL_MAX_CLUSTER);
    ctas *= out[i];
  }
  if (ctas > TMPL_MAX_CLUSTER)
    return at_error(AT_USAGE, "cluster %" PRId64 " x %" PRId64 " x %" PRId64 ": more than %d "
                    "CTAs", out[0], out[1], out[2], TMPL_MAX_CLUSTER);
  return AT_OK;
}

int tmpl_min_blocks_eval(const struct tmpl *t, const int64_t *slots, int64_t *out)
{
  *out = 0;
  if (!t->min_blocks)
    return AT_OK;
  if (gen_expr_eval(t->min_blocks, slots, NULL, out))
    return at_error(AT_USAGE, "min_blocks '%.80s': %s", t->min_blocks_text, at_last_error());
  if (*out < 0 || *out > TMPL_MAX_MIN_BLOCKS)
    return at_error(AT_USAGE, "min_blocks '%.80s' is %" PRId64 " (0 .. %d; 0: none)",
                    t->min_blocks_text, *out, TMPL_MAX_MIN_BLOCKS);
  return AT_OK;
}
