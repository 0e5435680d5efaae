/*
 * json.c - the strict one-line JSON reader and the writers declared in json.h. The
 * reader is a recursive descent over a byte range with a depth limit; each string is
 * measured first so that its decoded bytes take one exact allocation (decoding never
 * lengthens a string). The writers are what export and the command line print with.
 */
#include "base/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "autotune/autotune.h"

struct parser {
  const char *s;
  size_t n, pos;
  int depth;
  int rc;          /* AT_PARSE or AT_NOMEM once failed */
  char *err;
  size_t err_len;
};

static int fail(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t at, const char *fmt, ...)
{
  if (p->rc)
    return p->rc;
  p->rc = AT_PARSE;
  if (p->err_len) {
    int k = snprintf(p->err, p->err_len, "column %zu: ", at + 1);
    if (k >= 0 && (size_t)k < p->err_len) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(p->err + k, p->err_len - (size_t)k, fmt, ap);
      va_end(ap);
    }
  }
  return p->rc;
}

static int nomem(struct parser *p)
{
  if (!p->rc) {
    p->rc = AT_NOMEM;
    if (p->err_len)
      snprintf(p->err, p->err_len, "out of memory");
  }
  return p->rc;
}

/* The character at `at` quoted for a message: 'x' or the byte as \xNN. */
static const char *show(const struct parser *p, size_t at, char buf[8])
{
  if (at >= p->n)
    return "end of the line";
  unsigned char c = (unsigned char)p->s[at];
  if (c >= 0x20 && c < 0x7f)
    snprintf(buf, 8, "'%c'", c);
  else
    snprintf(buf, 8, "'\\x%02x'", c);
  return buf;
}

static void skip_ws(struct parser *p)
{
  while (p->pos < p->n) {
    char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      break;
    p->pos++;
  }
}

static int parse_value(struct parser *p, struct json *v);

static int hex4(struct parser *p, size_t at, unsigned *out)
{
  unsigned v = 0;
  for (size_t i = 0; i < 4; i++) {
    char c = at + i < p->n ? p->s[at + i] : '\0';
    unsigned d;
    if (c >= '0' && c <= '9')
      d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = (unsigned)(c - 'A' + 10);
    else
      return fail(p, at - 2, "\\u must be followed by 4 hex digits");
    v = v * 16 + d;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xc0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xe0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  o[0] = (char)(0xf0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  o[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* One \uXXXX escape (two for a surrogate pair) starting at the backslash. */
static int unicode_escape(struct parser *p, unsigned *cp)
{
  size_t at = p->pos;
  unsigned hi;
  if (hex4(p, at + 2, &hi))
    return p->rc;
  p->pos = at + 6;
  if (hi >= 0xdc00 && hi <= 0xdfff)
    return fail(p, at, "unpaired surrogate \\u%04X", hi);
  if (hi >= 0xd800 && hi <= 0xdbff) {
    unsigned lo;
    if (p->pos + 1 >= p->n || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
      return fail(p, at, "unpaired surrogate \\u%04X", hi);
    if (hex4(p, p->pos + 2, &lo))
      return p->rc;
    if (lo < 0xdc00 || lo > 0xdfff)
      return fail(p, at, "unpaired surrogate \\u%04X", hi);
    p->pos += 6;
    *cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    return 0;
  }
  if (hi == 0)
    return fail(p, at, "\\u0000 is not allowed (strings are C strings)");
  *cp = hi;
  return 0;
}

/* A string starting at the opening quote. OUT: *out malloc'd, *len its bytes. */
static int parse_string(struct parser *p, char **out, size_t *len)
{
  size_t start = p->pos++;
  size_t end = p->pos;
  while (end < p->n && p->s[end] != '"')
    end += p->s[end] == '\\' ? 2 : 1;
  if (end >= p->n)
    return fail(p, start, "string is not closed");
  char *buf = malloc(end - start);
  if (!buf)
    return nomem(p);
  size_t k = 0;
  while (p->pos < end) {
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c < 0x20) {
      fail(p, p->pos, "control character \\x%02x in a string (write it as \\u%04x)", c, c);
      break;
    }
    if (c != '\\') {
      buf[k++] = (char)c;
      p->pos++;
      continue;
    }
    char e = p->s[p->pos + 1];
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *hit = e ? strchr(from, e) : NULL;
    if (hit) {
      buf[k++] = to[hit - from];
      p->pos += 2;
    } else if (e == 'u') {
      unsigned cp = 0;
      if (unicode_escape(p, &cp))
        break;
      k += put_utf8(buf + k, cp);
    } else {
      if (e > 0x20 && e < 0x7f)
        fail(p, p->pos, "invalid escape '\\%c'", e);
      else
        fail(p, p->pos, "invalid escape: '\\' before byte \\x%02x", (unsigned char)e);
      break;
    }
  }
  if (p->rc) {
    free(buf);
    return p->rc;
  }
  buf[k] = '\0';
  p->pos = end + 1;
  *out = buf;
  *len = k;
  return 0;
}

static size_t digits(const struct parser *p, size_t at)
{
  size_t i = at;
  while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
    i++;
  return i - at;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(struct parser *p, struct json *v)
{
  size_t start = p->pos, i = p->pos;
  bool integral = true;
  if (i < p->n && p->s[i] == '-')
    i++;
  size_t d = digits(p, i);
  if (d == 0)
    return fail(p, start, "invalid number");
  if (d > 1 && p->s[i] == '0')
    return fail(p, start, "number with a leading zero");
  i += d;
  if (i < p->n && p->s[i] == '.') {
    integral = false;
    d = digits(p, ++i);
    if (d == 0)
      return fail(p, start, "invalid number: digits must follow '.'");
    i += d;
  }
  if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
    integral = false;
    i++;
    if (i < p->n && (p->s[i] == '+' || p->s[i] == '-'))
      i++;
    d = digits(p, i);
    if (d == 0)
      return fail(p, start, "invalid number: digits must follow the exponent");
    i += d;
  }
  char text[400];
  if (i - start >= sizeof text)
    return fail(p, start, "number is too long");
  memcpy(text, p->s + start, i - start);
  text[i - start] = '\0';
  v->type = JSON_NUMBER;
  v->number = strtod(text, NULL);
  if (!isfinite(v->number))
    return fail(p, start, "number %.40s is out of range", text);
  if (integral) {
    errno = 0;
    long long ll = strtoll(text, NULL, 10);
    if (errno == 0) {
      v->is_int = true;
      v->integer = ll;
    }
  }
  p->pos = i;
  return 0;
}

static int parse_literal(struct parser *p, struct json *v)
{
  static const struct {
    const char *word;
    enum json_type type;
    bool boolean;
  } lits[] = {{"true", JSON_BOOL, true}, {"false", JSON_BOOL, false}, {"null", JSON_NULL, 0}};
  for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
    size_t len = strlen(lits[i].word);
    if (p->n - p->pos >= len && memcmp(p->s + p->pos, lits[i].word, len) == 0) {
      v->type = lits[i].type;
      v->boolean = lits[i].boolean;
      p->pos += len;
      return 0;
    }
  }
  char sb[8];
  return fail(p, p->pos, "unexpected %s, expected a value", show(p, p->pos, sb));
}

/* Append a zeroed member to an array or object. OUT: *slot. */
static int grow(struct parser *p, struct json *v, size_t *cap, struct json **slot)
{
  if (v->len == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    struct json *items = realloc(v->items, ncap * sizeof *items);
    if (!items)
      return nomem(p);
    v->items = items;
    if (v->type == JSON_OBJECT) {
      char **keys = realloc(v->keys, ncap * sizeof *keys);
      if (!keys)
        return nomem(p);
      v->keys = keys;
    }
    *cap = ncap;
  }
  *slot = &v->items[v->len];
  memset(*slot, 0, sizeof **slot);
  return 0;
}

/* An array or an object, starting at its bracket. Members counted in v->len are always
 * complete enough for json_free, whatever fails. */
static int parse_container(struct parser *p, struct json *v)
{
  bool object = p->s[p->pos] == '{';
  char close = object ? '}' : ']';
  size_t cap = 0;
  v->type = object ? JSON_OBJECT : JSON_ARRAY;
  if (++p->depth > JSON_MAX_DEPTH)
    return fail(p, p->pos, "nested deeper than %d levels", JSON_MAX_DEPTH);
  p->pos++;
  skip_ws(p);
  if (p->pos < p->n && p->s[p->pos] == close) {
    p->pos++;
    p->depth--;
    return 0;
  }
  for (;;) {
    struct json *slot = NULL;
    char sb[8];
    char *key = NULL;
    skip_ws(p);
    if (object) {
      size_t at = p->pos, klen;
      if (p->pos >= p->n || p->s[p->pos] != '"')
        return fail(p, p->pos, "unexpected %s, expected a key in quotes", show(p, p->pos, sb));
      if (parse_string(p, &key, &klen))
        return p->rc;
      for (size_t i = 0; i < v->len; i++)
        if (strcmp(v->keys[i], key) == 0) {
          fail(p, at, "duplicate key '%.60s'", key);
          free(key);
          return p->rc;
        }
      skip_ws(p);
      if (p->pos >= p->n || p->s[p->pos] != ':') {
        free(key);
        return fail(p, p->pos, "unexpected %s, expected ':'", show(p, p->pos, sb));
      }
      p->pos++;
    }
    if (grow(p, v, &cap, &slot)) {
      free(key);
      return p->rc;
    }
    if (object)
      v->keys[v->len] = key;
    v->len++;
    if (parse_value(p, slot))
      return p->rc;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->pos < p->n && p->s[p->pos] == close) {
      p->pos++;
      p->depth--;
      return 0;
    }
    return fail(p, p->pos, "unexpected %s, expected ',' or '%c'", show(p, p->pos, sb),
                close);
  }
}

static int parse_value(struct parser *p, struct json *v)
{
  skip_ws(p);
  if (p->pos >= p->n)
    return fail(p, p->pos, "unexpected end of the line, expected a value");
  char c = p->s[p->pos];
  if (c == '{' || c == '[')
    return parse_container(p, v);
  if (c == '"') {
    v->type = JSON_STRING;
    return parse_string(p, &v->string, &v->len);
  }
  if (c == '-' || (c >= '0' && c <= '9'))
    return parse_number(p, v);
  return parse_literal(p, v);
}

static void release(struct json *v)
{
  if (v->type == JSON_STRING)
    free(v->string);
  if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
    for (size_t i = 0; i < v->len; i++) {
      release(&v->items[i]);
      if (v->keys)
        free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
  }
}

void json_free(struct json *v)
{
  if (!v)
    return;
  release(v);
  free(v);
}

int json_parse(const char *text, size_t len, struct json **out, char *err, size_t err_len)
{
  struct parser p = {.s = text, .n = len, .err = err, .err_len = err_len};
  *out = NULL;
  if (err_len)
    err[0] = '\0';
  struct json *v = calloc(1, sizeof *v);
  if (!v)
    return nomem(&p);
  if (parse_value(&p, v) == 0) {
    skip_ws(&p);
    if (p.pos < p.n) {
      char sb[8];
      fail(&p, p.pos, "unexpected %s after the value", show(&p, p.pos, sb));
    }
  }
  if (p.rc) {
    json_free(v);
    return p.rc;
  }
  *out = v;
  return AT_OK;
}

const struct json *json_get(const struct json *v, const char *key)
{
  if (!v || v->type != JSON_OBJECT)
    return NULL;
  for (size_t i = 0; i < v->len; i++)
    if (strcmp(v->keys[i], key) == 0)
      return &v->items[i];
  return NULL;
}

void json_write_str(FILE *out, const char *s)
{
  if (!s) {
    fputs("null", out);
    return;
  }
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    switch (*c) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\b': fputs("\\b", out); break;
    case '\f': fputs("\\f", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    default:
      if (*c < 0x20)
        fprintf(out, "\\u%04x", *c);
      else
        fputc(*c, out);
    }
  }
  fputc('"', out);
}

void json_write_double(FILE *out, double v)
{
  if (!isfinite(v)) {
    fputs("null", out);
    return;
  }
  /* %.17g always reads back exactly; the shorter forms keep 0.1 readable as "0.1". */
  char buf[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (prec == 17 || strtod(buf, NULL) == v)
      break;
  }
  fputs(buf, out);
}

void json_write_int(FILE *out, int64_t v)
{
  fprintf(out, "%lld", (long long)v);
}
