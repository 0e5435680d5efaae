/*
 * num.c - the numeric helpers (num.h).
 */
#include "base/num.h"

#include <math.h>

int num_cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  if (isnan(x) || isnan(y))
    return isnan(x) - isnan(y);
  return (x > y) - (x < y);
}

uint64_t num_xorshift64s(uint64_t *s)
{
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

/* A linear map of 64-bit vectors over GF(2): col[j] is the image of bit j. */
struct gf2_map {
  uint64_t col[64];
};

static uint64_t gf2_apply(const struct gf2_map *m, uint64_t v)
{
  uint64_t r = 0;
  for (int j = 0; v; j++, v >>= 1)
    if (v & 1)
      r ^= m->col[j];
  return r;
}

/* out = a after b (out may not alias either) */
static void gf2_compose(const struct gf2_map *a, const struct gf2_map *b, struct gf2_map *out)
{
  for (int j = 0; j < 64; j++)
    out->col[j] = gf2_apply(a, b->col[j]);
}

uint64_t num_xorshift64s_jump(uint64_t s, uint64_t n)
{
  struct gf2_map step, tmp;
  for (int j = 0; j < 64; j++) {
    uint64_t x = 1ULL << j;
    num_xorshift64s(&x); /* the state's update; the returned product is not state */
    step.col[j] = x;
  }
  for (; n; n >>= 1) {
    if (n & 1)
      s = gf2_apply(&step, s);
    gf2_compose(&step, &step, &tmp);
    step = tmp;
  }
  return s;
}
