/*
 * sbuf.h - a growing NUL-terminated string for the code emitters (emit.c, header.c).
 * Out of memory is sticky: after the first failed growth every put is ignored and `oom`
 * stays set, so an emitter checks once at the end.
 */
#ifndef AT_GENERATOR_SBUF_H
#define AT_GENERATOR_SBUF_H

#include <stddef.h>

struct sbuf {
  char *p;      /* the text, NUL-terminated; NULL while empty */
  size_t n, cap;
  int oom;
};

void sb_put(struct sbuf *b, const char *s, size_t n);
void sb_puts(struct sbuf *b, const char *s);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a C string literal: in double quotes, with backslashes and quotes escaped. */
void sb_put_quoted(struct sbuf *b, const char *s);

#endif
