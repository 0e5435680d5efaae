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
/* s as a C string literal: in double quotes, with backslashes and quotes escaped and
 * control characters (a newline) as octal escapes. */
void sb_put_quoted(struct sbuf *b, const char *s);
/* s inside a // or block comment: a control character (a newline would end the comment
 * and put the rest into the code), a backslash (which continues a // comment onto the
 * next line) and the '/' of a star-slash become '?'. For text from outside: paths,
 * command lines, the database. */
void sb_put_comment(struct sbuf *b, const char *s);
/* Whether s is non-empty and only letters, digits and "_.:+-=,": the text of a name,
 * dtype, layout, device or canonical config that may become part of an identifier, a
 * string or a comment in generated code. */
int sb_is_name(const char *s);

#endif
