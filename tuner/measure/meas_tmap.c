/*
 * meas_tmap.c - the tensor maps of TMA templates (templates/common/at_tma.h) on the host
 * side of a launch: the checks every backend applies first (cuTensorMapEncodeTiled's
 * documented requirements, at_tmap_check), the arguments meas_cuda passes to the driver,
 * and the dispatch to a backend's tmap_encode. The encodings themselves live with their
 * backends (meas_host.c, meas_gpu.c).
 */
#include <stdint.h>
#include <string.h>

#define AT_EMU_ONLY 1
#include "templates/common/at_tma.h"

#include "tuner/measure/meas.h"
#include "base/status.h"

/* CUtensorMapDataType (cuda.h): UINT8 0, UINT16 1, UINT32 2, UINT64 4; the element's bits
 * are moved as they are, so f16 and bf16 travel as UINT16 (out-of-bounds fill 0). */
enum { CU_TMAP_UINT8 = 0, CU_TMAP_UINT16 = 1, CU_TMAP_UINT32 = 2, CU_TMAP_UINT64 = 4 };
/* CUtensorMapL2promotion: L2_128B */
#define CU_TMAP_L2_128B 2

static const char *check(const struct meas_tmap *t)
{
  if (t->rows < 1 || t->cols < 1 || t->ld < t->cols)
    return "tensor map: the matrix has no rows or columns, or ld < columns";
  const unsigned long long dims[2] = {(unsigned long long)t->cols,
                                      (unsigned long long)t->rows};
  return at_tmap_check((unsigned long long)t->base, t->elem_bytes, dims,
                       (unsigned long long)t->ld * t->elem_bytes, t->box, t->swizzle);
}

int meas_cu_tmap_args(const struct meas_tmap *t, struct meas_cu_tmap_args *a)
{
  if (a)
    memset(a, 0, sizeof *a);
  if (!t || !a)
    return at_error(AT_USAGE, "meas_cu_tmap_args: NULL argument");
  const char *why = check(t);
  if (why)
    return at_error(AT_USAGE, "%s", why);
  a->dtype = t->elem_bytes == 1   ? CU_TMAP_UINT8
             : t->elem_bytes == 2 ? CU_TMAP_UINT16
             : t->elem_bytes == 4 ? CU_TMAP_UINT32
                                  : CU_TMAP_UINT64;
  a->rank = 2;
  a->dims[0] = (unsigned long long)t->cols;
  a->dims[1] = (unsigned long long)t->rows;
  a->strides[0] = (unsigned long long)t->ld * t->elem_bytes;
  a->box[0] = t->box[0], a->box[1] = t->box[1];
  a->elem_strides[0] = a->elem_strides[1] = 1;
  a->interleave = 0;
  a->swizzle = at_tmap_swizzle_enum(t->swizzle);
  a->l2_promotion = CU_TMAP_L2_128B;
  a->oob_fill = 0;
  return AT_OK;
}

int meas_tmap_encode(const struct meas_backend *mb, struct meas_ctx *ctx,
                     const struct meas_tmap *t, void *map)
{
  if (!mb || !ctx || !t || !map)
    return at_error(AT_USAGE, "meas_tmap_encode: NULL argument");
  if (!mb->tmap_encode)
    return at_error(AT_UNSUPPORTED, "the %s backend has no tensor maps (TMA templates run "
                    "on cuda and host only)", mb->name);
  const char *why = check(t);
  if (why)
    return at_error(AT_USAGE, "%s", why);
  return mb->tmap_encode(ctx, t, map);
}
