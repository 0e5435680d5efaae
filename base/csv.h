/*
 * csv.h - writing CSV (RFC 4180): a field is quoted when it holds a comma, a quote, a
 * carriage return or a newline, and a quote inside is doubled; a missing value is an
 * empty field. Used by `autotune query --csv` and `autotune db export --csv`.
 */
#ifndef AT_BASE_CSV_H
#define AT_BASE_CSV_H

#include <stdint.h>
#include <stdio.h>

/* A text field (NULL: empty), preceded by a comma unless first. */
void csv_str(FILE *f, const char *s, int first);
/* A number with full precision; NAN or infinity: empty. */
void csv_double(FILE *f, double v, int first);
/* An integer; below `missing_below` (-1 marks "not known" in the database): empty. */
void csv_int(FILE *f, int64_t v, int64_t missing_below, int first);

#endif
