/* sbuf.c - the emitters' growing string (sbuf.h). */
#include "generator/sbuf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/os.h"
#include "base/status.h"

void sb_put(struct sbuf *b, const char *s, size_t n)
{
  if (b->oom)
    return;
  if (os_grow(&b->p, &b->cap, b->n + n + 1, 1, 4096) != AT_OK) {
    b->oom = 1;
    return;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void sb_puts(struct sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = 1;
    return;
  }
  if ((size_t)n < sizeof small) {
    sb_put(b, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = 1;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  sb_put(b, big, (size_t)n);
  free(big);
}

void sb_put_quoted(struct sbuf *b, const char *s)
{
  sb_put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c < 0x20 || c == 0x7f) {
      sb_printf(b, "\\%03o", c);
      continue;
    }
    if (c == '"' || c == '\\')
      sb_put(b, "\\", 1);
    sb_put(b, s, 1);
  }
  sb_put(b, "\"", 1);
}

void sb_put_comment(struct sbuf *b, const char *s)
{
  char prev = 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char out = c < 0x20 || c == 0x7f || c == '\\' || (c == '/' && prev == '*') ? '?' : *s;
    sb_put(b, &out, 1);
    prev = out;
  }
}

int sb_is_name(const char *s)
{
  if (!s || !*s)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("_.:+-=,", *s))
      return 0;
  return 1;
}
