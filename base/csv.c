/*
 * csv.c - CSV fields (csv.h), quoted only where RFC 4180 asks for it.
 */
#include "base/csv.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void csv_str(FILE *f, const char *s, int first)
{
  if (!first)
    fputc(',', f);
  if (!s)
    return;
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

void csv_double(FILE *f, double v, int first)
{
  if (!first)
    fputc(',', f);
  if (isfinite(v))
    fprintf(f, "%.17g", v);
}

void csv_int(FILE *f, int64_t v, int64_t missing_below, int first)
{
  if (!first)
    fputc(',', f);
  if (v >= missing_below)
    fprintf(f, "%" PRId64, v);
}
